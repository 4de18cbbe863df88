/**
 * Issue 18's last gap, against the Linux kernel: TCP over IPv6 with PACKET_VNET_HDR — rawstack
 * hands the kernel 64 KB super-segments (GSO_TCPV6, partial checksum over the RFC 8200 §8.1
 * pseudo-header) and receives the kernel's IPv6 super-frames; byte-exact by SHA-256, the kernel
 * peer's capture checked by tshark. And issue 19's GSO_ECN: a super-segment that carries CWR is
 * accepted by the kernel with the flag and counted.
 */
import assert from "node:assert/strict";
import { Lab, LAB_PEER_ADDRESS6, LAB_STACK_ADDRESS6, labTest } from "../../src/testing/lab.ts";
import { tsharkFieldRows } from "../wire/_tshark.ts";
import { Stack } from "../../src/stack.ts";
import type { AfPacketDevice, AfPacketOptions } from "../../src/phy/af_packet.ts";
import {
  bulkData,
  fileSha256,
  readToEnd,
  sha256Hex,
  waitPeerTcpPort,
  writeAllChunked,
} from "./_tcp_lab_helpers.ts";
import { gsoSendToPeer } from "./_gso_lab_helpers.ts";

const PREFIX = "rsg6";
const COMMANDS = ["socat", "ss", "tcpdump", "tshark", "ethtool"];
/** The size: at least 16 MiB. */
const BULK_BYTES = 16 << 20;
const PORT = 5061;
/** Largest TCP payload of an ordinary IPv6 segment here (MSS 1500 − 60 − 12 bytes of timestamps). */
const SEGMENT_DATA6 = 1428;
const FAST_IPV6 = {
  addressOptions: { dadTransmits: 0, maxDadDelayMs: 0 },
  ndp: { routerSolicitations: 0 },
};

async function ipv6Stack(device: AfPacketDevice): Promise<Stack> {
  const stack = new Stack({
    device,
    ipv6: `${LAB_STACK_ADDRESS6}/64`,
    ipv6Options: FAST_IPV6,
  });
  await stack.start();
  return stack;
}

/** rawstack → socat TCP6-LISTEN in the peer, BULK_BYTES, checked end to end. */
function send6(kernelSegments: boolean, deviceOptions: AfPacketOptions = {}): Promise<void> {
  return gsoSendToPeer({
    lab: { prefix: PREFIX, ipv6: true, peerOffloads: !kernelSegments },
    kernelSegments,
    deviceOptions,
    stack: async (_lab, device) => {
      const stack = await ipv6Stack(device);
      assert.ok(stack.iface.txOffloads6.gsoMaxBytes > 60_000, "GSO over IPv6 offered");
      return stack;
    },
    listen: `TCP6-LISTEN:${PORT},reuseaddr,ipv6only=1`,
    hostname: LAB_PEER_ADDRESS6,
    port: PORT,
    data: bulkData(BULK_BYTES, kernelSegments ? 21 : 22),
    counters: (device, stack) => {
      const stats = device.stats;
      assert.ok(stats.txSuperFrames6 > 50, `IPv6 GSO frames sent: ${stats.txSuperFrames6}`);
      assert.equal(stats.txSuperFrames6, stats.txSuperFrames, "every super-frame was IPv6");
      assert.ok(stack.iface.stats.txOffloaded >= stats.txSuperFrames6);
    },
    // With offloads on, rawstack's super-frames crossed the veth whole (TSO on: still
    // CHECKSUM_PARTIAL, which the peer kernel trusts) and the peer's own segments are
    // captured on their sending side, checksum still partial.
    capture: () => ({
      family: "ipv6",
      ours: LAB_STACK_ADDRESS6,
      exempt: kernelSegments ? [] : [LAB_STACK_ADDRESS6, LAB_PEER_ADDRESS6],
    }),
    segmentData: SEGMENT_DATA6,
  });
}

labTest(
  "TCP GSO over IPv6 to Linux, default device options: the kernel cuts GSO_TCPV6 super-frames, byte-exact, clean",
  () => send6(true),
  { commands: COMMANDS },
);

labTest(
  "TCP GSO over IPv6 to Linux with veth TSO on: IPv6 super-frames cross whole, byte-exact, clean",
  () => send6(false, { vnetHeader: true }),
  { commands: COMMANDS },
);

labTest(
  "TCP over IPv6 from Linux with offloads on: the kernel's IPv6 super-frames arrive whole and are taken, byte-exact",
  async () => {
    const lab = await Lab.create({ prefix: PREFIX, ipv6: true, peerOffloads: true });
    const dir = await Deno.makeTempDir({ prefix: `${PREFIX}-` });
    let stack: Stack | null = null;
    try {
      // 128 KiB ring slots: the kernel's GRO/TSO super-frames fit whole.
      const device = await lab.openDevice({ vnetHeader: true });
      stack = await ipv6Stack(device);
      const data = bulkData(BULK_BYTES, 23);
      const file = `${dir}/down.bin`;
      await Deno.writeFile(file, data);
      const listener = stack.listen({ port: PORT });
      const sender = lab.spawnInPeer([
        "socat",
        "-u",
        `OPEN:${file}`,
        `TCP6:[${LAB_STACK_ADDRESS6}]:${PORT}`,
      ]);
      const conn = await listener.accept();
      const got = await readToEnd(conn);
      assert.equal((await sender.finished()).code, 0);
      conn.close();
      listener.close();
      assert.equal(await sha256Hex(got), await sha256Hex(data));
      const stats = device.stats;
      assert.ok(stats.rxSuperFrames > 10, `super-frames received: ${stats.rxSuperFrames}`);
      // The kernel's own segments carry CHECKSUM_PARTIAL (NEEDS_CSUM): trusted, not dropped.
      assert.ok(stats.rxChecksumPartial > 0);
      const tcp = stack.stats().tcp;
      assert.equal(tcp.malformed, 0);
    } finally {
      if (stack !== null) await stack.close();
      await lab.destroy();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
  { commands: ["socat"] },
);

labTest(
  "ECN with TCP GSO: super-segments that carry CWR go out with GSO_ECN and the kernel takes them",
  async () => {
    const lab = await Lab.create({ prefix: PREFIX });
    const dir = await Deno.makeTempDir({ prefix: `${PREFIX}-` });
    let stack: Stack | null = null;
    try {
      await lab.runInPeer(["sysctl", "-q", "-w", "net.ipv4.tcp_ecn=1"]);
      // CE on one in 50 of rawstack's ECT(0) packets before the kernel's TCP sees them (as
      // tests/lab/tcp_ecn_lab_test.ts): the kernel echoes ECE, rawstack answers with CWR.
      const rules = `table ip ${PREFIX} {
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    ip saddr ${lab.stackAddress} ip ecn ect0 numgen random mod 50 0 ip ecn set ce
  }
}
`;
      const nft = `${dir}/ce.nft`;
      await Deno.writeTextFile(nft, rules);
      await lab.runInPeer(["nft", "-f", nft]);
      const pcap = `${dir}/peer.pcap`;
      // Our veth end cuts the super-frames in software: CWR only on the first segment.
      await lab.runIn(lab.stackNetns, ["ethtool", "-K", lab.stackIf, "tx", "off", "tso", "off"]);
      const capture = await lab.capture(pcap);
      const device = await lab.openDevice();
      stack = new Stack({
        device,
        ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
        tcp: { ecn: "on" },
      });
      await stack.start();
      const file = `${dir}/up.bin`;
      const sink = lab.spawnInPeer([
        "socat",
        "-u",
        `TCP-LISTEN:${PORT},reuseaddr`,
        `CREATE:${file}`,
      ]);
      await waitPeerTcpPort(lab, PORT);
      const data = bulkData(BULK_BYTES, 24);
      const conn = await stack.connect({ hostname: lab.peerAddress, port: PORT });
      assert.equal(conn.info().ecn, true, "ECN negotiated");
      await writeAllChunked(conn, data);
      await conn.closeWrite();
      assert.equal(await conn.read(new Uint8Array(1)), null);
      const info = conn.info();
      conn.close();
      assert.equal((await sink.finished()).code, 0);
      assert.equal(await fileSha256(file), await sha256Hex(data));
      assert.ok(info.ecnCwrSent >= 1, `CWR sent ${info.ecnCwrSent}`);
      const stats = device.stats;
      assert.ok(stats.txSuperFramesEcn >= 1, `GSO_ECN super-frames: ${stats.txSuperFramesEcn}`);
      assert.ok(stats.txSuperFramesEcn <= info.ecnCwrSent);
      await new Promise((r) => setTimeout(r, 100));
      await capture.kill();
      // On the wire: CWR at most once per CWR rawstack sent (never copied into every segment).
      const cwr = await tsharkFieldRows(pcap, ["frame.number"], {
        filter: `ip.src == ${lab.stackAddress} && (tcp.flags & 0x080) && tcp.flags.syn == 0`,
      });
      assert.ok(cwr.length >= 1, "CWR on the wire");
      assert.ok(
        cwr.length <= info.ecnCwrSent,
        `${cwr.length} CWR segments, ${info.ecnCwrSent} sent`,
      );
    } finally {
      if (stack !== null) await stack.close();
      await lab.destroy();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
  { commands: ["socat", "nft", "ethtool", "tcpdump", "tshark"] },
);
