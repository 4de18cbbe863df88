/**
 * UDP with transmit checksum offload (PACKET_VNET_HDR) against the Linux
 * kernel: rawstack leaves the checksum partial (the pseudo-header sum, like
 * Linux's CHECKSUM_PARTIAL) and the kernel completes it or, over veth, trusts
 * it. Frames are batched (sendmmsg) with their virtio_net_hdr. The kernel
 * socket must get every datagram byte-exact, and count no checksum error.
 */
import assert from "node:assert/strict";
import { Lab, labTest, procNetCounters, run } from "../../src/testing/lab.ts";
import { Stack } from "../../src/stack.ts";
import { assertCaptureClean } from "../wire/_tshark.ts";
import { pattern, waitPeerUdpPort } from "./_helpers.ts";

const PREFIX = "rsstudpo";
const PORT = 6000;
const SOCAT_BUFFER = "65535";
/** One frame, a full frame, and one that must be fragmented (the IP layer completes it). */
const SIZES = [1, 1472, 4000];
/** Datagrams sent in one burst (one event-loop turn: they leave in sendmmsg batches). */
const BURST = 100;

async function peerUdpCounter(lab: Lab, name: string): Promise<number> {
  const snmp = (await lab.runInPeer(["cat", "/proc/net/snmp"])).stdout;
  return Number(procNetCounters(snmp, "Udp").get(name));
}

async function exchange(kernelCompletes: boolean): Promise<void> {
  const lab = await Lab.create({ prefix: PREFIX });
  const dir = await Deno.makeTempDir({ prefix: `${PREFIX}-` });
  let stack: Stack | null = null;
  try {
    if (kernelCompletes) {
      // No checksum offload on our veth end: the kernel fills in each checksum before the wire.
      await lab.runIn(lab.stackNetns, ["ethtool", "-K", lab.stackIf, "tx", "off"]);
    }
    const pcap = `${dir}/peer.pcap`;
    const capture = await lab.capture(pcap);
    const device = await lab.openDevice({ vnetHeader: true, rxMaxFrameBytes: 1514 });
    assert.equal(device.txBatching, true);
    stack = new Stack({ device, ipv4: `${lab.stackAddress}/${lab.prefixLength}` });
    await stack.start();
    assert.equal(stack.iface.txOffloads.checksum, true);
    const echo = lab.spawnInPeer(["socat", "-b", SOCAT_BUFFER, `UDP-LISTEN:${PORT}`, "PIPE"]);
    await waitPeerUdpPort(lab, PORT);
    const conn = stack.listenDatagram({ port: 40000 });
    const to = { hostname: lab.peerAddress, port: PORT };
    for (const size of SIZES) {
      const out = pattern(size, size);
      assert.equal(await conn.send(out, to), size);
      const [back] = await conn.receive();
      assert.deepEqual(back, out, `${size}-byte datagram echoed intact`);
    }
    // A burst in one turn: staged, sent with sendmmsg, each completed by the kernel.
    const sink = lab.spawnInPeer(["socat", "-u", `UDP-RECV:${PORT + 1}`, "OPEN:/dev/null"]);
    await waitPeerUdpPort(lab, PORT + 1);
    const before = await peerUdpCounter(lab, "InDatagrams");
    for (let i = 0; i < BURST; i++) {
      await conn.send(pattern(100, i), { hostname: lab.peerAddress, port: PORT + 1 });
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await peerUdpCounter(lab, "InDatagrams") - before, BURST);
    assert.equal(await peerUdpCounter(lab, "InCsumErrors"), 0);
    assert.ok(stack.iface.stats.txOffloaded >= BURST, `offloaded ${stack.iface.stats.txOffloaded}`);
    assert.equal(device.stats.txDropped, 0);
    await echo.kill();
    await sink.kill();
    await new Promise((r) => setTimeout(r, 100));
    await capture.kill();
    if (kernelCompletes) {
      await assertCaptureClean(pcap, 2 * SIZES.length + BURST);
    } else {
      // Over veth the partial checksum crosses as it is (the peer kernel trusts
      // CHECKSUM_PARTIAL), so rawstack's UDP checksums are not checked; the rest is.
      const bad = await run([
        "tshark",
        "-r",
        pcap,
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
        "-Y",
        `_ws.malformed || ip.checksum.status == 0 || ` +
        `(udp.checksum.status == 0 && ip.src != ${lab.stackAddress})`,
      ], { check: false });
      assert.equal(bad.code, 0, bad.stderr);
      assert.equal(bad.stdout.trim(), "", `bad packets in the peer's capture:\n${bad.stdout}`);
    }
  } finally {
    if (stack !== null) await stack.close();
    await lab.destroy();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

labTest(
  "UDP with checksum offload: the kernel completes rawstack's partial checksums, byte-exact, clean",
  () => exchange(true),
  { commands: ["socat", "tcpdump", "tshark", "ethtool"] },
);

labTest(
  "UDP with checksum offload over veth: the kernel trusts the partial checksums, byte-exact",
  () => exchange(false),
  { commands: ["socat", "tcpdump", "tshark"] },
);
