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
import type { AfPacketDevice } from "../../src/phy/af_packet.ts";
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

/** Runs a kernel → rawstack transfer of `bytes` over `dev` (SHA-256 checked) and closes the stack. */
async function receiveOver(
  lab: Lab,
  dev: AfPacketDevice,
  bytes: number,
  port: number,
  seed: number,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: `${PREFIX}-` });
  const stack = new Stack({
    device: dev,
    ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
    gateway: lab.peerAddress,
  });
  try {
    await stack.start();
    // socatTransfer asserts the length and the SHA-256 of what arrived.
    const { conn } = await socatTransfer(lab, stack, {
      direction: "down",
      data: bulkData(bytes, seed),
      port,
      dir,
    });
    conn.close();
    assert.equal(stack.stats().tcp.malformed, 0);
  } finally {
    await stack.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

labTest(
  "AfPacketDevice kernelGro behaviour: two devices on one veth share GRO; it goes off when the last closes",
  async () => {
    const lab = await Lab.create({ prefix: PREFIX });
    const open: AfPacketDevice[] = [];
    try {
      assert.equal(await groOf(lab), false, "veth starts with GRO off");
      const first = await lab.openDevice();
      open.push(first);
      const second = await lab.openDevice();
      open.push(second);
      assert.equal(first.stats.kernelGro, 1);
      assert.equal(second.stats.kernelGro, 1);
      first.close();
      assert.equal(await groOf(lab), true, "the second device still holds GRO on");
      assert.equal(first.stats.kernelGroRestoreFailures, 0);
      // Memory per device with kernelGro: 256 slots of 128 KiB.
      assert.equal(second.stats.ringSlotBytes, 128 * 1024);
      assert.equal(second.stats.ringBytes, 32 << 20);
      await receiveOver(lab, second, 8 << 20, PORT + 1, 43);
      assert.equal(second.stats.rxTruncated, 0);
      assert.ok(second.stats.rxSuperFrames > 0, `super-frames: ${second.stats.rxSuperFrames}`);
      assert.equal(second.stats.kernelGro, 0, "the stack closed the device");
      assert.equal(second.stats.kernelGroRestoreFailures, 0);
      assert.equal(await groOf(lab), false, "GRO back off after the last device");

      // GRO on before any device (the admin's): no device turns it off, whichever closes last.
      await lab.runIn(lab.stackNetns, ["ethtool", "-K", lab.stackIf, "gro", "on"], {
        check: true,
      });
      const a = await lab.openDevice();
      open.push(a);
      const b = await lab.openDevice({ frameCount: 64 });
      open.push(b);
      assert.equal(b.stats.ringBytes, 8 << 20, "frameCount 64: the smallest super-frame ring");
      b.close();
      assert.equal(await groOf(lab), true);
      a.close();
      assert.equal(await groOf(lab), true, "the admin's GRO stays on");
    } finally {
      for (const dev of open) dev.close();
      await lab.destroy();
    }
  },
  { commands: COMMANDS },
);

labTest(
  "AfPacketDevice kernelGro behaviour: a kernelGro false device on an interface another device turned GRO on receives super-frames whole",
  async () => {
    const lab = await Lab.create({ prefix: PREFIX });
    const open: AfPacketDevice[] = [];
    try {
      const holder = await lab.openDevice();
      open.push(holder);
      assert.equal(await groOf(lab), true);
      const other = await lab.openDevice({ kernelGro: false });
      open.push(other);
      assert.equal(other.stats.kernelGro, 0);
      assert.equal(other.kernelGroFallbackReason, null);
      assert.equal(other.stats.ringSlotBytes, 128 * 1024, "GRO found on: super-frame slots");
      await receiveOver(lab, other, 8 << 20, PORT + 2, 47);
      assert.equal(other.stats.rxTruncated, 0);
      assert.ok(other.stats.rxSuperFrames > 0, `super-frames: ${other.stats.rxSuperFrames}`);
      assert.equal(await groOf(lab), true, "a kernelGro false device leaves GRO alone");
      holder.close();
      assert.equal(await groOf(lab), false, "the holder restores it");
    } finally {
      for (const dev of open) dev.close();
      await lab.destroy();
    }
  },
  { commands: COMMANDS },
);
