/**
 * rawstack → Linux bulk TCP with PACKET_VNET_HDR: 64 KB super-segments with a
 * partial checksum (GSO TCPv4) that the kernel segments, and the peer's
 * receive-offloaded frames trusted by checksum state. Byte-exact by SHA-256;
 * the kernel peer's capture checked by tshark.
 */
import assert from "node:assert/strict";
import { Lab, LAB_PEER_ADDRESS, labTest } from "../../src/testing/lab.ts";
import { gsoSendToPeer } from "./_gso_lab_helpers.ts";
import { Stack } from "../../src/stack.ts";
import type { AfPacketOptions } from "../../src/phy/af_packet.ts";
import { libc, PACKET_VNET_HDR } from "../../src/phy/libc.ts";
import { bulkData } from "./_tcp_lab_helpers.ts";

const PREFIX = "rspo";
const COMMANDS = ["socat", "ss", "tcpdump", "tshark", "ethtool"];
const BULK_BYTES = 24 << 20;
const PORT = 5001;
/** Largest TCP payload of an ordinary segment here (MSS 1460 − 12 bytes of timestamps). */
const SEGMENT_DATA = 1448;

/** One bulk transfer rawstack → socat in the peer, through super-frames (_gso_lab_helpers.ts). */
function bulk(
  peerOffloads: boolean,
  kernelSegments: boolean,
  deviceOptions: AfPacketOptions = { vnetHeader: true },
): Promise<void> {
  return gsoSendToPeer({
    lab: { prefix: PREFIX, peerOffloads },
    kernelSegments,
    deviceOptions,
    stack: async (lab, device) => {
      assert.equal(device.vnetFallbackReason, null);
      assert.equal(device.stats.vnetFallbacks, 0);
      const stack = new Stack({
        device,
        ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
        gateway: lab.peerAddress,
      });
      await stack.start();
      return stack;
    },
    listen: `TCP-LISTEN:${PORT},reuseaddr`,
    hostname: LAB_PEER_ADDRESS,
    port: PORT,
    data: bulkData(BULK_BYTES, peerOffloads ? 11 : 12),
    counters: (device, stack) => {
      const superFrames = device.stats.txSuperFrames;
      assert.ok(superFrames > 50, `super-frames sent: ${superFrames}`);
      assert.ok(stack.iface.stats.txOffloaded >= superFrames);
    },
    // With peer offloads on, the peer's own segments are captured on their sending side,
    // checksum still partial; without the kernel cutting them, rawstack's super-frames
    // crossed the veth whole with their partial checksum (the peer kernel trusts
    // CHECKSUM_PARTIAL): their TCP checksums are not checked.
    capture: (lab) => ({
      family: "ip",
      ours: lab.stackAddress,
      exempt: [
        ...(peerOffloads ? [lab.peerAddress] : []),
        ...(!kernelSegments ? [lab.stackAddress] : []),
      ],
    }),
    segmentData: SEGMENT_DATA,
  });
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
