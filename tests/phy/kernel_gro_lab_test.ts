/**
 * Option `kernelGro` of AfPacketDevice (issue 22, "let the kernel do GRO for us"): opened
 * with default options on a veth, the device turns the interface's GRO on (read back with
 * `ethtool -k`), a kernel → rawstack transfer arrives byte-exact (SHA-256) as the kernel's
 * coalesced super-frames, and GRO is off again after close; `kernelGro: false` leaves it
 * as it was.
 */
import assert from "node:assert/strict";
import { Lab, labTest } from "../../src/testing/lab.ts";
import { Stack } from "../../src/stack.ts";
import { bulkData, socatTransfer } from "../lab/_tcp_lab_helpers.ts";

const PREFIX = "rskg";
const COMMANDS = ["socat", "ss"];
const BULK_BYTES = 32 << 20;
const PORT = 5007;

/** The interface's GRO as `ethtool -k` reports it. */
async function groOf(lab: Lab): Promise<boolean> {
  const r = await lab.runIn(lab.stackNetns, ["ethtool", "-k", lab.stackIf], { check: true });
  const line = r.stdout.split("\n").find((l) => l.startsWith("generic-receive-offload:"));
  assert.ok(line !== undefined, r.stdout);
  return /:\s*on/.test(line);
}

labTest(
  "AfPacketDevice kernelGro behaviour: defaults turn the veth's GRO on, super-frames arrive byte-exact, GRO restored at close",
  async () => {
    const lab = await Lab.create({ prefix: PREFIX });
    const dir = await Deno.makeTempDir({ prefix: `${PREFIX}-` });
    let stack: Stack | null = null;
    try {
      assert.equal(await groOf(lab), false, "veth starts with GRO off");
      const dev = await lab.openDevice();
      assert.equal(dev.vnetHeader, true);
      assert.equal(dev.kernelGroFallbackReason, null);
      assert.equal(dev.stats.kernelGro, 1);
      assert.equal(dev.stats.kernelGroFallbacks, 0);
      assert.equal(await groOf(lab), true, "the device turned GRO on");
      stack = new Stack({
        device: dev,
        ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
        gateway: lab.peerAddress,
      });
      await stack.start();
      // socatTransfer asserts the length and the SHA-256 of what arrived.
      const { conn } = await socatTransfer(lab, stack, {
        direction: "down",
        data: bulkData(BULK_BYTES, 41),
        port: PORT,
        dir,
      });
      conn.close();
      const tcp = stack.stats().tcp;
      const stats = dev.stats;
      assert.equal(tcp.malformed, 0);
      assert.equal(stats.rxTruncated, 0);
      assert.ok(stats.rxSuperFrames > 0, `super-frames received: ${stats.rxSuperFrames}`);
      // GRO validated every coalesced segment and left the super-frame CHECKSUM_PARTIAL
      // (tcp_gro_complete: pseudo-header sum in th->check → VIRTIO_NET_HDR_F_NEEDS_CSUM), which
      // the kernel treats as verified (skb_csum_unnecessary) and so does the Stack: trusted,
      // not summed again; a mis-verified one would have been dropped (malformed 0, SHA-256 ok).
      assert.ok(
        stats.rxChecksumPartial >= stats.rxSuperFrames,
        `checksum partial ${stats.rxChecksumPartial}, super-frames ${stats.rxSuperFrames}`,
      );
      // The peer sends 1514-byte frames (its offloads are off): the kernel coalesced them.
      assert.ok(
        tcp.segmentsIn < (BULK_BYTES / 1448) / 4,
        `segments in: ${tcp.segmentsIn}`,
      );
      await stack.close();
      stack = null;
      assert.equal(dev.stats.kernelGro, 0);
      assert.equal(await groOf(lab), false, "GRO restored after close");
    } finally {
      if (stack !== null) await stack.close();
      await lab.destroy();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
  { commands: COMMANDS },
);

labTest(
  "AfPacketDevice kernelGro behaviour: kernelGro false leaves the interface's GRO as it was",
  async () => {
    const lab = await Lab.create({ prefix: PREFIX });
    try {
      for (const before of [false, true]) {
        await lab.runIn(lab.stackNetns, [
          "ethtool",
          "-K",
          lab.stackIf,
          "gro",
          before ? "on" : "off",
        ], {
          check: true,
        });
        const dev = await lab.openDevice({ kernelGro: false, rxMaxFrameBytes: 65549 });
        try {
          assert.equal(dev.stats.kernelGro, 0);
          assert.equal(dev.kernelGroFallbackReason, null);
          assert.equal(await groOf(lab), before);
        } finally {
          dev.close();
        }
        assert.equal(await groOf(lab), before);
      }
      // GRO already on: the device uses it and leaves it on at close.
      const dev = await lab.openDevice();
      assert.equal(dev.stats.kernelGro, 1);
      dev.close();
      assert.equal(await groOf(lab), true);
    } finally {
      await lab.destroy();
    }
  },
  { commands: COMMANDS },
);

labTest(
  "AfPacketDevice kernelGro behaviour: ring slots too small for super-frames is a counted fallback",
  async () => {
    const lab = await Lab.create({ prefix: PREFIX });
    try {
      const dev = await lab.openDevice({ rxMaxFrameBytes: 1514 });
      try {
        assert.equal(dev.stats.kernelGro, 0);
        assert.equal(dev.stats.kernelGroFallbacks, 1);
        assert.match(dev.kernelGroFallbackReason ?? "", /rxMaxFrameBytes 1514/);
        assert.equal(await groOf(lab), false);
      } finally {
        dev.close();
      }
    } finally {
      await lab.destroy();
    }
  },
  { commands: COMMANDS },
);
