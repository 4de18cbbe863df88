// Transmit offloads over IPv6 (issue 18): TCP and UDP send partial checksums over the RFC 8200
// §8.1 pseudo-header behind the 40-byte header (csum_start 14 + 40), TCP super-segments
// (GSO_TCPV6 in the driver, see tests/phy/vnet_tx_test.ts), and the software fallback when the
// neighbour is not resolved.
import assert from "node:assert/strict";
import {
  bulkAToB,
  OFFLOAD_MAX_FRAME,
  offloadLinkPair,
  OffloadTestDevice,
  pattern,
} from "./_offload_helpers.ts";
import { Stack, type StackOptions } from "../../src/stack.ts";
import { completePartialChecksum, ipv6PseudoHeaderSumAt } from "../../src/wire/checksum.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";

const A6 = "2001:db8:1::2";
const B6 = "2001:db8:1::1";
const ETH = 14;
const IPV6 = 40;
const ETHERTYPE_IPV6 = 0x86dd;
const TCP_CHECKSUM_OFFSET = 16;
const UDP_CHECKSUM_OFFSET = 6;
const IP_PROTO_TCP = 6;
const IP_PROTO_UDP = 17;
/** MSS over IPv6 at MTU 1500 (1500 − 60) less 12 bytes of timestamps. */
const GSO_SIZE6 = 1500 - 60 - 12;

const FAST_IPV6: Partial<StackOptions> = {
  ipv6Options: {
    addressOptions: { dadTransmits: 0, maxDadDelayMs: 0 },
    ndp: { routerSolicitations: 0 },
  },
};

/**
 * A device with checksum and segmentation offload over a memory link whose
 * frames may be 64 KiB (as tests/iface/offload_test.ts's, for IPv6 frames):
 * checks where the stack says the checksum is, that the field holds the IPv6
 * pseudo-header sum of the whole (super-)segment, completes it and forwards.
 */
class Offload6Device extends OffloadTestDevice {
  readonly requests: { csumStart: number; csumOffset: number; gsoSize: number; proto: number }[] =
    [];
  largestFrame = 0;
  badPseudoHeader = 0;
  override transmitOffload(
    bytes: Uint8Array,
    offset: number,
    length: number,
    csumStart: number,
    csumOffset: number,
    gsoSize: number,
  ): boolean {
    assert.equal((bytes[offset + 12] << 8) | bytes[offset + 13], ETHERTYPE_IPV6);
    const ip = offset + ETH;
    const proto = bytes[ip + 6];
    this.requests.push({ csumStart, csumOffset, gsoSize, proto });
    this.largestFrame = Math.max(this.largestFrame, length);
    const payloadLength = (bytes[ip + 4] << 8) | bytes[ip + 5];
    assert.equal(payloadLength, length - ETH - IPV6, "payload length covers the whole segment");
    // The field holds the folded pseudo-header sum (RFC 8200 §8.1, the segment's length).
    const l4 = offset + csumStart;
    const field = (bytes[l4 + csumOffset] << 8) | bytes[l4 + csumOffset + 1];
    const expected = ipv6PseudoHeaderSumAt(bytes, ip + 8, ip + 24, proto, payloadLength);
    if (field !== expected) this.badPseudoHeader++;
    completePartialChecksum(bytes, l4, length - csumStart, csumOffset);
    const pseudo = ipv6PseudoHeaderSumAt(bytes, ip + 8, ip + 24, proto, payloadLength);
    if (internetChecksum(bytes, l4, payloadLength, pseudo) !== 0) this.badPseudoHeader++;
    return this.inner.transmit(bytes, offset, length);
  }
}

/** The payloads of these tests. */
const PATTERN_SEED = 54321;

/** IPv6-only stacks (not started): A on the offload device, B verifying every checksum. */
function offload6Stacks(): { dev: Offload6Device; a: Stack; b: Stack } {
  const [ma, mb] = offloadLinkPair();
  const dev = new Offload6Device(ma);
  const a = new Stack({ device: dev, ipv6: `${A6}/64`, ...FAST_IPV6 });
  const b = new Stack({
    device: mb,
    ipv6: `${B6}/64`,
    mtu: 1500,
    verifyChecksums: "always",
    ...FAST_IPV6,
  });
  return { dev, a, b };
}

/** rawstack A (offload device) sends `data` over IPv6 to B (verifies every checksum). */
async function bulk6(
  data: Uint8Array,
  midway: (a: Stack) => void = () => {},
): Promise<{ got: Uint8Array; dev: Offload6Device; a: Stack; b: Stack }> {
  const { dev, a, b } = offload6Stacks();
  const got = await bulkAToB(a, b, B6, data, midway);
  return { got, dev, a, b };
}

Deno.test("Tcp6Path behaviour: TCP over IPv6 sends super-segments with a partial checksum at 14 + 40, byte-exact", async () => {
  const data = pattern(3 << 20, PATTERN_SEED);
  const { got, dev, a, b } = await bulk6(data);
  assert.equal(got.length, data.length);
  assert.deepEqual(got, data);
  const tcp = dev.requests.filter((r) => r.proto === IP_PROTO_TCP);
  assert.ok(tcp.length > 10);
  for (const r of tcp) {
    assert.equal(r.csumStart, ETH + IPV6);
    assert.equal(r.csumOffset, TCP_CHECKSUM_OFFSET);
  }
  const superFrames = tcp.filter((r) => r.gsoSize > 0);
  assert.ok(superFrames.length > 10, `super-segments sent: ${superFrames.length}`);
  assert.deepEqual([...new Set(superFrames.map((r) => r.gsoSize))], [GSO_SIZE6]);
  assert.ok(dev.largestFrame > 60_000 && dev.largestFrame <= OFFLOAD_MAX_FRAME);
  assert.equal(dev.badPseudoHeader, 0);
  assert.equal(b.stats().tcp.malformed, 0);
  assert.ok(a.iface.stats.txOffloaded >= tcp.length);
  assert.equal(a.iface.txOffloads6.gsoMaxBytes, a.iface.txOffloads.gsoMaxBytes - 20);
});

Deno.test("Ipv6Layer behaviour: TCP super-segments are cut in software while the neighbour is not resolved", async () => {
  const data = pattern(1 << 20, PATTERN_SEED);
  const { got, a, b } = await bulk6(data, (s) => s.iface.ipv6!.neighbours.clear());
  assert.deepEqual(got, data);
  const ipv6 = a.iface.ipv6!.stats;
  assert.ok(ipv6.txOffloadSoftware > 0, "software fallback used");
  assert.equal(b.stats().tcp.malformed, 0);
});

Deno.test("UdpLayer behaviour: UDP over IPv6 leaves its checksum to the device (csum_start 54, offset 6)", async () => {
  const { dev, a, b } = offload6Stacks();
  await a.start();
  await b.start();
  try {
    const rx = b.listenDatagram({ port: 5353, transport: "udp" });
    const tx = a.listenDatagram({ port: 5000, transport: "udp" });
    const sent: Uint8Array[] = [
      new Uint8Array(0),
      pattern(100, PATTERN_SEED),
      pattern(1400, PATTERN_SEED),
      pattern(4000, PATTERN_SEED),
    ];
    const got: Uint8Array[] = [];
    for (const d of sent) {
      await tx.send(d, { hostname: B6, port: 5353 });
      const [m] = await rx.receive();
      got.push(m);
    }
    assert.deepEqual(got, sent);
    const udp = dev.requests.filter((r) => r.proto === IP_PROTO_UDP);
    // The first waits for neighbour resolution and the 4000-byte one is fragmented: their
    // checksums are done in software; the other two leave offloaded.
    assert.equal(udp.length, 2);
    for (const r of udp) {
      assert.equal(r.csumStart, ETH + IPV6);
      assert.equal(r.csumOffset, UDP_CHECKSUM_OFFSET);
      assert.equal(r.gsoSize, 0);
    }
    assert.equal(dev.badPseudoHeader, 0);
    assert.equal(a.iface.ipv6!.stats.txOffloadSoftware, 2);
    tx.close();
    rx.close();
  } finally {
    await a.close();
    await b.close();
  }
});
