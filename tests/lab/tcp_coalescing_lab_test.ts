/**
 * Kernel → rawstack bulk TCP with receive coalescing (TcpLayer.beginReceiveBatch, issue 22):
 * a kernel socat sends a file, rawstack reads it to the end; byte-exact by SHA-256, and the
 * TCP counters show in-order runs that went through TCP input once. Like for like (the
 * peer's offloads off: 1514-byte frames on the wire), and with GSO super-frames received
 * through PACKET_VNET_HDR (the peer's TSO on, 128 KiB ring slots).
 */
import assert from "node:assert/strict";
import { Lab, labTest } from "../../src/testing/lab.ts";
import { Stack } from "../../src/stack.ts";
import type { AfPacketOptions } from "../../src/phy/af_packet.ts";
import { bulkData, socatTransfer } from "./_tcp_lab_helpers.ts";

const PREFIX = "rsgro";
const COMMANDS = ["socat", "ss"];
const BULK_BYTES = 48 << 20;
const PORT = 5003;

/** One kernel → rawstack transfer; returns the TCP and device counters. */
async function download(peerOffloads: boolean, device: AfPacketOptions, seed: number) {
  const lab = await Lab.create({ prefix: PREFIX, peerOffloads });
  const dir = await Deno.makeTempDir({ prefix: `${PREFIX}-` });
  let stack: Stack | null = null;
  try {
    const dev = await lab.openDevice(device);
    stack = new Stack({
      device: dev,
      ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
      gateway: lab.peerAddress,
    });
    await stack.start();
    // socatTransfer asserts the length and the SHA-256 of what arrived.
    const { conn } = await socatTransfer(lab, stack, {
      direction: "down",
      data: bulkData(BULK_BYTES, seed),
      port: PORT,
      dir,
    });
    conn.close();
    return { tcp: stack.stats().tcp, device: dev.stats };
  } finally {
    if (stack !== null) await stack.close();
    await lab.destroy();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

labTest(
  "TcpLayer receive coalescing: kernel → rawstack bulk, 1514-byte frames, byte-exact, runs coalesced",
  async () => {
    // kernelGro off: the interface's GRO would coalesce the frames before rawstack sees them.
    const { tcp } = await download(false, { kernelGro: false }, 21);
    assert.equal(tcp.malformed, 0);
    // Frames come from the ring in batches: in-order runs went through TCP input once.
    assert.ok(tcp.rxCoalescedRuns > 0, `coalesced runs: ${tcp.rxCoalescedRuns}`);
    assert.ok(
      tcp.rxCoalescedSegments > tcp.rxCoalescedRuns,
      `segments appended: ${tcp.rxCoalescedSegments} over ${tcp.rxCoalescedRuns} runs`,
    );
    assert.ok(tcp.rxCoalescedSegments < tcp.segmentsIn);
  },
  { commands: COMMANDS },
);

labTest(
  "TcpLayer receive coalescing: kernel → rawstack bulk as GSO super-frames (PACKET_VNET_HDR), byte-exact",
  async () => {
    const { tcp, device } = await download(true, { vnetHeader: true }, 22);
    assert.equal(tcp.malformed, 0);
    assert.ok(device.rxSuperFrames > 0, `super-frames received: ${device.rxSuperFrames}`);
    // Each super-frame is one segment to TCP; equal-sized ones in a batch join one run.
    assert.ok(tcp.segmentsIn < (BULK_BYTES / 1448) / 2, `segments in: ${tcp.segmentsIn}`);
  },
  { commands: COMMANDS },
);
