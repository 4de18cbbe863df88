/**
 * What the transmit-GSO lab tests (tcp_offload_lab_test.ts over IPv4,
 * tcp6_offload_lab_test.ts over IPv6) share: one bulk transfer rawstack → socat in the
 * kernel peer through super-frames, byte-exact, the peer's capture checked by tshark and the
 * largest data segment on its wire told apart (the kernel cut the super-frames, or they
 * crossed the veth whole).
 *
 * @module
 */
import assert from "node:assert/strict";
import { Lab, type LabOptions, run } from "../../src/testing/lab.ts";
import { tsharkFieldRows } from "../wire/_tshark.ts";
import type { Stack } from "../../src/stack.ts";
import type { AfPacketDevice, AfPacketOptions } from "../../src/phy/af_packet.ts";
import { fileSha256, sha256Hex, waitPeerTcpPort, writeAllChunked } from "./_tcp_lab_helpers.ts";

/** How tshark reads the peer's capture. */
export interface PeerCaptureCheck {
  /** `ip` or `ipv6`: the tshark field prefix of the addresses. */
  family: "ip" | "ipv6";
  /** rawstack's address (its data segments are measured). */
  ours: string;
  /** Sources whose TCP checksums are not checked (still partial on the captured side). */
  exempt: string[];
}

/**
 * tshark over the peer's capture: nothing malformed, no bad IPv4 header checksum (IPv4), no
 * bad TCP checksum — except a 0xFFFF one (the kernel's software checksum writes a computed 0
 * as 0xFFFF, CSUM_MANGLED_0) and those from `exempt` sources.
 *
 * @param path the capture
 * @param check the family, our address and the exempt sources
 * @returns the TCP payload lengths rawstack sent
 */
export async function assertPeerCaptureClean(
  path: string,
  check: PeerCaptureCheck,
): Promise<number[]> {
  const ipv4 = check.family === "ip";
  const decode = [
    "-d",
    "tcp.port==1-65535,data",
    ...(ipv4 ? ["-o", "ip.check_checksum:TRUE"] : []),
  ];
  const exempt = check.exempt.map((a) => ` && ${check.family}.src != ${a}`).join("");
  const bad = await run([
    "tshark",
    "-r",
    path,
    ...decode,
    "-o",
    "tcp.check_checksum:TRUE",
    "-Y",
    `_ws.malformed || ${ipv4 ? "ip.checksum.status == 0 || " : ""}` +
    `(tcp.checksum.status == 0 && !tcp.checksum.ffff${exempt})`,
  ], { check: false });
  assert.equal(bad.code, 0, `tshark failed: ${bad.stderr}`);
  assert.equal(bad.stdout.trim(), "", `bad packets in the peer's capture:\n${bad.stdout}`);
  const ours = await tsharkFieldRows(path, ["tcp.len"], {
    args: decode,
    filter: `${check.family}.src == ${check.ours} && tcp.len > 0`,
  });
  const lengths = ours.map(([len]) => Number(len));
  assert.ok(lengths.length > 100, `data segments captured: ${lengths.length}`);
  return lengths;
}

/** One GSO bulk transfer to the kernel peer. */
export interface GsoSendCase {
  /** The lab's options (prefix, family, peer offloads). */
  lab: LabOptions;
  /** Our veth end's TSO and checksum offload off: the kernel cuts each super-frame. */
  kernelSegments: boolean;
  /** The AfPacketDevice's options. */
  deviceOptions: AfPacketOptions;
  /** Checks the device and starts the stack over it. */
  stack(lab: Lab, device: AfPacketDevice): Promise<Stack>;
  /** The peer's socat listening address. */
  listen: string;
  /** Where rawstack connects. */
  hostname: string;
  port: number;
  /** The bytes sent. */
  data: Uint8Array;
  /** Checks the counters after the transfer. */
  counters(device: AfPacketDevice, stack: Stack): void;
  /** How the peer's capture is checked. */
  capture(lab: Lab): PeerCaptureCheck;
  /** The TCP payload of an ordinary full segment. */
  segmentData: number;
}

/**
 * rawstack → socat in the kernel peer: `data` through super-frames, byte-exact by SHA-256,
 * the peer's capture clean; the largest data segment there is one MSS when the kernel cut
 * the super-frames (`kernelSegments`), larger when they crossed the veth whole.
 *
 * @param c the case
 */
export async function gsoSendToPeer(c: GsoSendCase): Promise<void> {
  const lab = await Lab.create(c.lab);
  const dir = await Deno.makeTempDir({ prefix: `${c.lab.prefix}-` });
  let stack: Stack | null = null;
  try {
    if (c.kernelSegments) {
      // No TSO/checksum offload on our veth end: the kernel cuts each super-frame and fills
      // in every checksum before the wire (validate_xmit_skb), so the peer sees 1514 B frames.
      await lab.runIn(lab.stackNetns, ["ethtool", "-K", lab.stackIf, "tx", "off", "tso", "off"]);
    }
    const pcap = `${dir}/peer.pcap`;
    const capture = await lab.capture(pcap);
    const device = await lab.openDevice(c.deviceOptions);
    assert.ok(device.vnetHeader, "PACKET_VNET_HDR is on");
    assert.ok(device.capabilities.gso && device.capabilities.checksumOffloadTx);
    stack = await c.stack(lab, device);
    const file = `${dir}/up.bin`;
    const sink = lab.spawnInPeer(["socat", "-u", c.listen, `CREATE:${file}`]);
    await waitPeerTcpPort(lab, c.port);
    const conn = await stack.connect({ hostname: c.hostname, port: c.port });
    await writeAllChunked(conn, c.data);
    await conn.closeWrite();
    assert.equal(await conn.read(new Uint8Array(1)), null); // the kernel's FIN
    conn.close();
    assert.equal((await sink.finished()).code, 0);
    assert.equal(await fileSha256(file), await sha256Hex(c.data));
    c.counters(device, stack);
    assert.equal(stack.stats().tcp.malformed, 0);
    await new Promise((r) => setTimeout(r, 100));
    await capture.kill();
    const lengths = await assertPeerCaptureClean(pcap, c.capture(lab));
    const largest = Math.max(...lengths);
    if (c.kernelSegments) {
      assert.equal(largest, c.segmentData, "the kernel cut the super-frames into MSS segments");
    } else {
      assert.ok(largest > c.segmentData, "super-frames crossed the veth whole (TSO)");
    }
  } finally {
    if (stack !== null) await stack.close();
    await lab.destroy();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
