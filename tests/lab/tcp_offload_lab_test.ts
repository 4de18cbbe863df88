/**
 * rawstack → Linux bulk TCP with PACKET_VNET_HDR: 64 KB super-segments with a
 * partial checksum (GSO TCPv4) that the kernel segments, and the peer's
 * receive-offloaded frames trusted by checksum state. Byte-exact by SHA-256;
 * the kernel peer's capture checked by tshark.
 */
import assert from "node:assert/strict";
import { Lab, labTest, run } from "../../src/testing/lab.ts";
import { tsharkFieldRows } from "../wire/_tshark.ts";
import { Stack } from "../../src/stack.ts";
import type { AfPacketOptions } from "../../src/phy/af_packet.ts";
import { libc, PACKET_VNET_HDR } from "../../src/phy/libc.ts";
import {
  bulkData,
  fileSha256,
  sha256Hex,
  waitPeerTcpPort,
  writeAllChunked,
} from "./_tcp_lab_helpers.ts";

const PREFIX = "rspo";
const COMMANDS = ["socat", "ss", "tcpdump", "tshark", "ethtool"];
const BULK_BYTES = 24 << 20;
const PORT = 5001;
/** Largest TCP payload of an ordinary segment here (MSS 1460 − 12 bytes of timestamps). */
const SEGMENT_DATA = 1448;

/**
 * tshark over the peer's capture: nothing malformed, no bad IPv4 checksum,
 * no bad TCP checksum — except a 0xFFFF one (the kernel's software checksum
 * writes a computed 0 as 0xFFFF, CSUM_MANGLED_0; here it fills in rawstack's
 * checksums too) and, with peer offloads on, the peer's own segments (captured
 * on their sending side, checksum still partial). With `ourPartial`, rawstack's
 * super-frames crossed the veth whole with their partial checksum (the peer
 * kernel trusts CHECKSUM_PARTIAL): its TCP checksums are not checked.
 */
async function assertPeerCaptureClean(
  lab: Lab,
  path: string,
  peerOffloads: boolean,
  ourPartial: boolean,
) {
  const base = [
    "tshark",
    "-r",
    path,
    "-d",
    "tcp.port==1-65535,data",
    "-o",
    "ip.check_checksum:TRUE",
  ];
  const tcpCheck = ["-o", "tcp.check_checksum:TRUE"];
  const exempt = (peerOffloads ? ` && ip.src != ${lab.peerAddress}` : "") +
    (ourPartial ? ` && ip.src != ${lab.stackAddress}` : "");
  const bad = await run([
    ...base,
    ...tcpCheck,
    "-Y",
    `_ws.malformed || ip.checksum.status == 0 || ` +
    `(tcp.checksum.status == 0 && !tcp.checksum.ffff${exempt})`,
  ], { check: false });
  assert.equal(bad.code, 0, `tshark failed: ${bad.stderr}`);
  assert.equal(bad.stdout.trim(), "", `bad packets in the peer's capture:\n${bad.stdout}`);
  const ours = await tsharkFieldRows(path, ["tcp.len"], {
    args: base.slice(3),
    filter: `ip.src == ${lab.stackAddress} && tcp.len > 0`,
  });
  const lengths = ours.map(([len]) => Number(len));
  assert.ok(lengths.length > 100, `data segments captured: ${lengths.length}`);
  return lengths;
}

/** One bulk transfer rawstack → socat in the peer; returns the device and iface counters. */
async function bulk(
  peerOffloads: boolean,
  kernelSegments: boolean,
  deviceOptions: AfPacketOptions = { vnetHeader: true },
): Promise<void> {
  const lab = await Lab.create({ prefix: PREFIX, peerOffloads });
  const dir = await Deno.makeTempDir({ prefix: `${PREFIX}-` });
  let stack: Stack | null = null;
  try {
    if (kernelSegments) {
      // No TSO/checksum offload on our veth end: the kernel cuts each super-frame and fills
      // in every checksum before the wire (validate_xmit_skb), so the peer sees 1514 B frames.
      await lab.runIn(lab.stackNetns, ["ethtool", "-K", lab.stackIf, "tx", "off", "tso", "off"]);
    }
    const pcap = `${dir}/peer.pcap`;
    const capture = await lab.capture(pcap);
    const device = await lab.openDevice(deviceOptions);
    assert.ok(device.vnetHeader, "PACKET_VNET_HDR is on");
    assert.equal(device.vnetFallbackReason, null);
    assert.equal(device.stats.vnetFallbacks, 0);
    assert.ok(device.capabilities.gso && device.capabilities.checksumOffloadTx);
    stack = new Stack({
      device,
      ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
      gateway: lab.peerAddress,
    });
    await stack.start();
    const file = `${dir}/up.bin`;
    const sink = lab.spawnInPeer(["socat", "-u", `TCP-LISTEN:${PORT},reuseaddr`, `CREATE:${file}`]);
    await waitPeerTcpPort(lab, PORT);
    const data = bulkData(BULK_BYTES, peerOffloads ? 11 : 12);
    const conn = await stack.connect({ hostname: lab.peerAddress, port: PORT });
    await writeAllChunked(conn, data);
    await conn.closeWrite();
    assert.equal(await conn.read(new Uint8Array(1)), null); // the kernel's FIN
    conn.close();
    assert.equal((await sink.finished()).code, 0);
    assert.equal(await fileSha256(file), await sha256Hex(data));
    const superFrames = device.stats.txSuperFrames;
    assert.ok(superFrames > 50, `super-frames sent: ${superFrames}`);
    assert.ok(stack.iface.stats.txOffloaded >= superFrames);
    assert.equal(stack.stats().tcp.malformed, 0);
    await new Promise((r) => setTimeout(r, 100));
    await capture.kill();
    const lengths = await assertPeerCaptureClean(lab, pcap, peerOffloads, !kernelSegments);
    const largest = Math.max(...lengths);
    if (kernelSegments) {
      assert.equal(largest, SEGMENT_DATA, "the kernel cut the super-frames into MSS segments");
    } else {
      assert.ok(largest > SEGMENT_DATA, "super-frames crossed the veth whole (TSO)");
    }
  } finally {
    if (stack !== null) await stack.close();
    await lab.destroy();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

labTest(
  "TCP GSO to Linux, peer offloads off: the kernel segments 64 KB super-frames, byte-exact, clean",
  () => bulk(false, true),
  { commands: COMMANDS },
);

labTest(
  "TCP GSO to Linux, peer offloads on: the kernel segments 64 KB super-frames, byte-exact, clean",
  () => bulk(true, true),
  { commands: COMMANDS },
);

labTest(
  "TCP GSO to Linux with veth TSO on: super-frames cross whole, byte-exact, clean",
  () => bulk(true, false),
  { commands: COMMANDS },
);

labTest(
  "TCP GSO to Linux with the device's default options: 1514-byte frames on the peer's wire, byte-exact",
  // Issue 22: the default is the fast choice — PACKET_VNET_HDR on, 64 KB super-frames the
  // kernel cuts in software (our veth end's TSO off), one system call per 64 KB.
  () => bulk(false, true, {}),
  { commands: COMMANDS },
);

labTest(
  "AfPacketDevice with default options: vnetHeader on, super-frame slots for the kernel's GRO (MTU-sized without it); false turns it off",
  async () => {
    const lab = await Lab.create({ prefix: PREFIX });
    try {
      const dev = await lab.openDevice();
      assert.equal(dev.vnetHeader, true);
      assert.equal(dev.vnetFallbackReason, null);
      assert.equal(dev.stats.vnetFallbacks, 0);
      assert.equal(dev.capabilities.maxSegmentBytes, 14 + 65535); // transmit: 64 KB super-frames
      // Receive: the interface's GRO is on (kernelGro): slots for its super-frames.
      assert.equal(dev.stats.kernelGro, 1);
      assert.equal(dev.stats.ringSlotBytes, 128 * 1024);
      dev.close();
      // Without the kernel's GRO: slots for ordinary frames (as without the header).
      const noGro = await lab.openDevice({ kernelGro: false });
      assert.equal(noGro.stats.ringSlotBytes, 2048);
      noGro.close();
      const superSlots = await lab.openDevice({ vnetHeader: true });
      assert.equal(superSlots.stats.ringSlotBytes, 128 * 1024);
      superSlots.close();
      const plain = await lab.openDevice({ vnetHeader: false });
      assert.equal(plain.vnetHeader, false);
      assert.equal(plain.vnetFallbackReason, null);
      assert.equal(plain.capabilities.gso, false);
      assert.equal(plain.stats.ringSlotBytes, 2048);
      plain.close();
    } finally {
      await lab.destroy();
    }
  },
);

labTest(
  "AfPacketDevice falls back to plain frames where the kernel refuses PACKET_VNET_HDR, and says so",
  async () => {
    const lab = await Lab.create({ prefix: PREFIX });
    // The kernel here accepts the option on every interface: make its setsockopt refuse it
    // (EINVAL is what a kernel without it, or a socket that is not SOCK_RAW, answers).
    const c = libc() as unknown as { setsockopt: (...a: unknown[]) => number };
    const setsockopt = c.setsockopt;
    let stack: Stack | null = null;
    try {
      c.setsockopt = (fd, level, name, value, length) =>
        name === PACKET_VNET_HDR ? -1 : setsockopt(fd, level, name, value, length);
      // Asked for explicitly, a refusal is an error.
      await assert.rejects(lab.openDevice({ vnetHeader: true }), /PACKET_VNET_HDR/);
      const device = await lab.openDevice();
      c.setsockopt = setsockopt;
      assert.equal(device.vnetHeader, false);
      assert.match(device.vnetFallbackReason ?? "", /PACKET_VNET_HDR/);
      assert.equal(device.stats.vnetFallbacks, 1);
      assert.equal(device.capabilities.gso, false);
      assert.equal(device.capabilities.checksumOffloadTx, false);
      // And the device works without: the kernel answers a ping through it.
      stack = new Stack({ device, ipv4: `${lab.stackAddress}/${lab.prefixLength}` });
      await stack.start();
      const r = await stack.ping(lab.peerAddress, { count: 2, intervalMs: 20 });
      assert.equal(r.replies.length, 2);
    } finally {
      c.setsockopt = setsockopt;
      if (stack !== null) await stack.close();
      await lab.destroy();
    }
  },
);
