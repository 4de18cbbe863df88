import assert from "node:assert/strict";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import type { Ipv6ProtocolHandler } from "../../src/iface/types.ts";
import {
  fragment,
  fromPeer,
  icmpv6,
  ipv6Packet,
  MAC_PEER,
  ME,
  parseV6,
  PEER,
  peerFrame,
  upperChecksum,
  v6Frame,
  V6Host,
} from "./_ipv6_helpers.ts";

function echoRequest(id: number, seq: number, data: Uint8Array, src = PEER, dst = ME) {
  return icmpv6(src, dst, 128, 0, (id << 16) | seq, data);
}

/** A host that knows PEER at MAC_PEER, so replies leave at once. */
function hostWithPeer(): V6Host {
  const h = new V6Host().up();
  h.ipv6.neighbours.learn(h.t, PEER, MAC_PEER);
  return h;
}

Deno.test("Ipv6Layer behaviour: answers an echo request with the same identifier, sequence and data", () => {
  const h = hostWithPeer();
  const data = new Uint8Array(56).map((_, i) => i);
  h.rx(
    fromPeer(58, echoRequest(7, 3, data)),
  );
  const out = h.out();
  assert.equal(out.length, 1);
  const r = out[0];
  assert.equal(r.icmpType, 129);
  assert.ok(r.src.equals(ME) && r.dst.equals(PEER));
  assert.equal(r.dstMac, MAC_PEER);
  assert.equal((r.icmp[4] << 8) | r.icmp[5], 7);
  assert.equal((r.icmp[6] << 8) | r.icmp[7], 3);
  assert.deepEqual(r.icmp.subarray(8), data);
  assert.equal(upperChecksum(r.src, r.dst, 58, r.icmp), 0, "checksum verifies");
});

Deno.test("Ipv6Layer behaviour: drops bad version, bad length, multicast source, other destinations; counts each", () => {
  const h = hostWithPeer();
  const good = ipv6Packet({
    src: PEER,
    dst: ME,
    nextHeader: 58,
    payload: echoRequest(1, 1, new Uint8Array(8)),
  });
  const v4 = good.slice();
  v4[0] = 0x40;
  h.rx(peerFrame(v4));
  const long = good.slice();
  long[5] = 200;
  h.rx(peerFrame(long));
  h.rx(
    peerFrame(ipv6Packet({
      src: Ipv6Address.parse("ff02::1"),
      dst: ME,
      nextHeader: 58,
      payload: echoRequest(1, 1, new Uint8Array(8), Ipv6Address.parse("ff02::1")),
    })),
  );
  h.rx(
    peerFrame(ipv6Packet({
      src: PEER,
      dst: Ipv6Address.parse("2001:db8:1::99"),
      nextHeader: 58,
      payload: echoRequest(1, 1, new Uint8Array(8)),
    })),
  );
  h.rx(peerFrame(good.subarray(0, 30)));
  h.rx(
    peerFrame(ipv6Packet({
      src: Ipv6Address.LOOPBACK,
      dst: ME,
      nextHeader: 58,
      payload: echoRequest(1, 1, new Uint8Array(8), Ipv6Address.LOOPBACK),
    })),
  );
  const s = h.ipv6.stats;
  assert.equal(s.rxBadVersion, 1);
  assert.equal(s.rxBadLength, 1);
  assert.equal(s.rxBadSource, 2);
  assert.equal(s.rxNotForUs, 1);
  assert.equal(s.rxTooShort, 1);
  assert.equal(h.out().length, 0);
});

Deno.test("Ipv6Layer behaviour: an unknown Next Header gets Parameter Problem code 1 pointing at it (RFC 8200 §4)", () => {
  const h = hostWithPeer();
  h.rx(
    fromPeer(253, new Uint8Array(16)),
  );
  const [e] = h.out();
  assert.equal(e.icmpType, 4);
  assert.equal(e.icmp[1], 1);
  assert.equal(new DataView(e.icmp.buffer, e.icmp.byteOffset).getUint32(4), 6);
  assert.equal(h.ipv6.stats.rxParameterProblem, 1);
});

Deno.test("Ipv6Layer behaviour: unknown option actions — 10 answers even a group, 11 not a group, 01 discards silently", () => {
  const h = hostWithPeer();
  const dstOpts = (type: number) => {
    const p = new Uint8Array(8 + 8);
    p[0] = 59; // No Next Header after it
    p[1] = 0;
    p[2] = type;
    p[3] = 4; // 4 bytes of option data: header fills 8
    return p;
  };
  const group = Ipv6Address.ALL_NODES;
  // action 10 (0x80) to ff02::1: Parameter Problem code 2 still sent (RFC 8200 §4.2).
  h.rx(
    v6Frame(
      0x3333_0000_0001,
      MAC_PEER,
      ipv6Packet({ src: PEER, dst: group, nextHeader: 60, payload: dstOpts(0x80 | 0x1e) }),
    ),
  );
  const out = h.out();
  assert.equal(out.length, 1);
  assert.equal(out[0].icmpType, 4);
  assert.equal(out[0].icmp[1], 2);
  assert.equal(new DataView(out[0].icmp.buffer, out[0].icmp.byteOffset).getUint32(4), 42);
  // action 11 (0xc0) to the group: no error.
  h.advance(2000);
  h.rx(
    v6Frame(
      0x3333_0000_0001,
      MAC_PEER,
      ipv6Packet({ src: PEER, dst: group, nextHeader: 60, payload: dstOpts(0xc0 | 0x1e) }),
    ),
  );
  assert.equal(h.out().length, 0);
  // action 01 (0x40): silently discarded.
  h.rx(
    fromPeer(60, dstOpts(0x40 | 0x1e)),
  );
  assert.equal(h.out().length, 0);
  assert.equal(h.ipv6.stats.rxDiscarded, 1);
});

Deno.test("Ipv6Layer behaviour: a routing header type 0 with segments left gets Parameter Problem code 0 at its type (RFC 5095)", () => {
  const h = hostWithPeer();
  const rh = new Uint8Array(8 + 16 + 8);
  rh.set(echoRequest(1, 1, new Uint8Array(0)), 24);
  rh[0] = 58;
  rh[1] = 2; // 24 bytes
  rh[2] = 0; // type 0
  rh[3] = 1; // segments left
  h.rx(fromPeer(43, rh));
  const [e] = h.out();
  assert.equal(e.icmpType, 4);
  assert.equal(e.icmp[1], 0);
  assert.equal(new DataView(e.icmp.buffer, e.icmp.byteOffset).getUint32(4), 42);
});

Deno.test("Ipv6Layer behaviour: truncated extension chains are counted, never thrown", () => {
  const h = hostWithPeer();
  for (const nh of [0, 43, 44, 60]) {
    const payload = new Uint8Array([58, 5]); // a 2-byte header claiming 48 bytes
    h.rx(fromPeer(nh, payload));
  }
  assert.equal(h.ipv6.stats.rxBadHeader, 4);
  assert.equal(h.out().length, 0);
});

Deno.test("Ipv6Layer behaviour: errors are rate limited per destination (burst 6) and never answer errors", () => {
  const h = hostWithPeer();
  for (let i = 0; i < 20; i++) {
    h.rx(
      fromPeer(253, new Uint8Array(8)),
    );
  }
  assert.equal(h.out().length, 6);
  assert.equal(h.ipv6.icmp.stats.txRateLimitedPerDestination, 14);
  // 1 s later one more is allowed.
  h.advance(1000);
  h.rx(
    fromPeer(253, new Uint8Array(8)),
  );
  assert.equal(h.out().length, 1);
  // An ICMPv6 error in a packet with an unknown option: no error about an error (RFC 4443 §2.4 (e.1)).
  h.advance(10_000);
  const inner = icmpv6(PEER, ME, 1, 4, 0, new Uint8Array(48));
  const opts = new Uint8Array(8 + inner.length);
  opts[0] = 58;
  opts[2] = 0x80 | 0x1e;
  opts[3] = 4;
  opts.set(inner, 8);
  h.rx(
    fromPeer(60, opts),
  );
  assert.equal(h.outData().length, 0);
  assert.ok(h.ipv6.icmp.stats.txErrorsSuppressed >= 1);
});

Deno.test("Ipv6Layer behaviour: reassembles fragments in any order and answers the echo", () => {
  const h = hostWithPeer();
  const data = new Uint8Array(2000).map((_, i) => i * 7);
  const msg = echoRequest(9, 1, data);
  const a = msg.subarray(0, 1232);
  const b = msg.subarray(1232);
  h.rx(peerFrame(fragment(PEER, ME, 58, 1232, false, 0x1234, b)));
  assert.equal(h.out().length, 0);
  h.rx(peerFrame(fragment(PEER, ME, 58, 0, true, 0x1234, a)));
  const out = h.out();
  assert.equal(h.ipv6.reassembler.stats.reassembled, 1);
  // The reply (2,008 bytes of ICMPv6) goes out in two fragments with one identification.
  assert.equal(out.length, 2);
  assert.ok(out.every((o) => o.nextHeader === 44));
  const id0 = new DataView(out[0].payload.buffer, out[0].payload.byteOffset).getUint32(4);
  const id1 = new DataView(out[1].payload.buffer, out[1].payload.byteOffset).getUint32(4);
  assert.equal(id0, id1);
  const whole = new Uint8Array(2008);
  for (const o of out) {
    const off = ((o.payload[2] << 8) | o.payload[3]) & 0xfff8;
    whole.set(o.payload.subarray(8), off);
  }
  assert.equal(whole[0], 129);
  assert.deepEqual(whole.subarray(8), data);
  assert.equal(upperChecksum(ME, PEER, 58, whole), 0);
});

Deno.test("Ipv6Layer behaviour: overlapping fragments drop the whole packet, later fragments too (RFC 5722)", () => {
  const h = hostWithPeer();
  const msg = echoRequest(9, 1, new Uint8Array(100));
  h.rx(peerFrame(fragment(PEER, ME, 58, 0, true, 5, msg.subarray(0, 64))));
  h.rx(peerFrame(fragment(PEER, ME, 58, 56, true, 5, msg.subarray(56, 80))));
  h.rx(peerFrame(fragment(PEER, ME, 58, 80, false, 5, msg.subarray(80))));
  const r = h.ipv6.reassembler.stats;
  assert.equal(r.overlaps, 1);
  assert.equal(r.discardedLate, 1);
  assert.equal(r.reassembled, 0);
  assert.equal(h.out().length, 0);
});

Deno.test("Ipv6Layer behaviour: an atomic fragment is processed alone (RFC 6946)", () => {
  const h = hostWithPeer();
  h.rx(
    peerFrame(fragment(PEER, ME, 58, 0, false, 77, echoRequest(1, 1, new Uint8Array(8)))),
  );
  const out = h.out();
  assert.equal(out.length, 1);
  assert.equal(out[0].icmpType, 129);
  assert.equal(h.ipv6.reassembler.pending, 0);
});

Deno.test("Ipv6Layer behaviour: a first fragment without the upper-layer header gets Parameter Problem code 3 (RFC 7112)", () => {
  const h = hostWithPeer();
  // Destination options (8 bytes) then TCP, but the first fragment ends before the TCP header.
  const data = new Uint8Array(16);
  data[0] = 6; // dst opts → TCP
  data[1] = 0;
  h.ipv6.registerProtocol(6, { onPacket6() {} });
  h.rx(peerFrame(fragment(PEER, ME, 60, 0, true, 8, data)));
  const [e] = h.out();
  assert.equal(e.icmpType, 4);
  assert.equal(e.icmp[1], 3);
});

Deno.test("Ipv6Layer behaviour: reassembly timeout sends Time Exceeded code 1 only with the first fragment", () => {
  const h = hostWithPeer();
  const msg = echoRequest(9, 1, new Uint8Array(100));
  h.rx(peerFrame(fragment(PEER, ME, 58, 0, true, 1, msg.subarray(0, 64))));
  h.rx(peerFrame(fragment(PEER, ME, 58, 64, true, 2, msg.subarray(64, 96))));
  h.advance(59_000);
  assert.equal(h.outData().length, 0);
  h.resolve(PEER, MAC_PEER); // the neighbour answered meanwhile: the error leaves at once
  h.advance(1_000);
  const out = h.outData();
  assert.equal(out.length, 1);
  assert.equal(out[0].icmpType, 3);
  assert.equal(out[0].icmp[1], 1);
  assert.equal(h.ipv6.reassembler.stats.timeouts, 2);
});

Deno.test("Ipv6Layer behaviour: a fragment flood stays within the reassembly bounds", () => {
  const h = hostWithPeer();
  for (let i = 0; i < 1000; i++) {
    h.rx(
      peerFrame(fragment(PEER, ME, 58, 8 * (i % 100) + 8, true, i, new Uint8Array(1024))),
    );
  }
  assert.ok(h.ipv6.reassembler.pending <= 16);
  assert.ok(h.ipv6.reassembler.totalBytes <= 4 * 1024 * 1024);
  assert.ok(h.ipv6.reassembler.stats.evicted > 0);
});

Deno.test("Ipv6Layer behaviour: Packet Too Big lowers the path MTU (never below 1280) and later sends fragment to it", () => {
  const h = hostWithPeer();
  const big = new Uint8Array(1400);
  // A PTB quoting a packet we sent to PEER with MTU 1000: clamped to 1280.
  const quoted = ipv6Packet({ src: ME, dst: PEER, nextHeader: 17, payload: new Uint8Array(1200) });
  h.rx(
    fromPeer(58, icmpv6(PEER, ME, 2, 0, 1000, quoted.subarray(0, 1232))),
  );
  assert.equal(h.ipv6.pathMtu(PEER), 1280);
  assert.equal(h.ipv6.pmtu.stats.clampedToMinimum, 1);
  // An echo request of 1,400 bytes now comes back as fragments of at most 1,280 bytes.
  h.rx(
    fromPeer(58, echoRequest(3, 3, big)),
  );
  const out = h.out();
  assert.equal(out.length, 2);
  assert.ok(out.every((o) => o.packet.length <= 1280 && o.nextHeader === 44));
  // Ten minutes later the estimate ages back to the link MTU (RFC 8201 §4).
  h.advance(600_000);
  assert.equal(h.ipv6.pathMtu(PEER), 1500);
});

Deno.test("Ipv6Layer behaviour: Packet Too Big reaches the transport that sent the quoted packet", () => {
  const h = hostWithPeer();
  const seen: number[] = [];
  const udp: Ipv6ProtocolHandler = {
    onPacket6() {},
    onIcmpv6Error(_now, type, _code, parameter) {
      seen.push(type, parameter);
    },
  };
  h.ipv6.registerProtocol(17, udp);
  const quoted = ipv6Packet({ src: ME, dst: PEER, nextHeader: 17, payload: new Uint8Array(1400) });
  h.rx(
    fromPeer(58, icmpv6(PEER, ME, 2, 0, 1300, quoted.subarray(0, 1232))),
  );
  assert.deepEqual(seen, [2, 1300]);
  assert.equal(h.ipv6.pathMtu(PEER), 1300);
});

Deno.test("Ipv6Layer behaviour: delivers to a registered transport with the pseudo-header inputs; closed port unreachable", () => {
  const h = hostWithPeer();
  const got: string[] = [];
  h.ipv6.registerProtocol(17, {
    onPacket6(_now, src, dst, bytes, offset, length, _v, toMulticast) {
      got.push(`${src} ${dst} ${length} ${toMulticast}`);
      h.ipv6.portUnreachable(0, bytes, offset - 40, length + 40);
    },
  });
  const udp = new Uint8Array(12);
  h.rx(fromPeer(17, udp));
  assert.deepEqual(got, ["2001:db8:1::1 2001:db8:1::2 12 false"]);
  const [e] = h.out();
  assert.equal(e.icmpType, 1);
  assert.equal(e.icmp[1], 4);
});

Deno.test("Ipv6Layer behaviour: TCP and UDP right after the fixed header reach their transport as the chain walk would deliver them", () => {
  const h = hostWithPeer();
  const got: string[] = [];
  h.ipv6.registerProtocol(6, {
    onPacket6(_now, src, dst, bytes, offset, length) {
      got.push(`tcp ${src} ${dst} ${length} ${bytes[offset]}`);
    },
  });
  const segment = new Uint8Array(20).fill(0x5a);
  const tcp = ipv6Packet({ src: PEER, dst: ME, nextHeader: 6, payload: segment });
  // Directly after the header, with link padding after the packet: the payload length decides.
  const padded = new Uint8Array(tcp.length + 6);
  padded.set(tcp);
  h.rx(peerFrame(padded));
  // Behind a Destination Options header (PadN): the same segment through the walk.
  const withOpts = new Uint8Array(8 + segment.length);
  withOpts[0] = 6;
  withOpts[2] = 1; // PadN
  withOpts[3] = 4;
  withOpts.set(segment, 8);
  h.rx(
    fromPeer(60, withOpts),
  );
  assert.deepEqual(got, [
    "tcp 2001:db8:1::1 2001:db8:1::2 20 90",
    "tcp 2001:db8:1::1 2001:db8:1::2 20 90",
  ]);
  assert.equal(h.ipv6.stats.rxDelivered, 2);
  // UDP with no transport registered: still the walk's Parameter Problem code 1 at Next Header.
  h.rx(
    fromPeer(17, segment),
  );
  const [e] = h.out();
  assert.equal(e.icmpType, 4);
  assert.equal(e.icmp[1], 1);
  assert.equal(new DataView(e.icmp.buffer, e.icmp.byteOffset).getUint32(4), 6);
  // A Hop-by-Hop option of action 10 in front of TCP: the walk still answers it (code 2).
  const hbh = new Uint8Array(8 + segment.length);
  hbh[0] = 6;
  hbh[2] = 0x80 | 0x1e;
  hbh[3] = 4;
  hbh.set(segment, 8);
  h.advance(2000);
  h.rx(fromPeer(0, hbh));
  const [p] = h.out();
  assert.equal(p.icmpType, 4);
  assert.equal(p.icmp[1], 2);
  assert.equal(got.length, 2);
  assert.equal(h.ipv6.stats.rxParameterProblem, 2);
});

Deno.test("Ipv6Layer behaviour: packets to our own address are delivered locally on the next poll", () => {
  const h = new V6Host().up();
  const got: number[] = [];
  h.ipv6.registerProtocol(17, { onPacket6: (_n, _s, _d, _b, _o, len) => got.push(len) });
  const buf = h.ipv6.allocate()!;
  buf.append(20);
  assert.ok(h.ipv6.send6(buf, ME, 17));
  assert.deepEqual(got, []);
  h.iface.poll(h.t);
  assert.deepEqual(got, [20]);
  assert.equal(h.out().length, 0);
});

Deno.test("Ipv6Layer behaviour: off-link destinations without a router are unreachable (RFC 5942 §4)", () => {
  const h = new V6Host().up();
  const buf = h.ipv6.allocate()!;
  buf.append(20);
  assert.equal(h.ipv6.send6(buf, Ipv6Address.parse("2001:db8:99::1"), 17), false);
  assert.equal(h.ipv6.stats.txNoRoute, 1);
});

Deno.test("Ipv6Layer behaviour: an unresolved neighbour gets 3 multicast solicitations, then the ping hears address unreachable", () => {
  const h = new V6Host().up();
  const ping = h.ipv6.ping(h.t, PEER, { count: 1, timeoutMs: 10_000 });
  let out = h.out();
  assert.equal(out.length, 1);
  assert.equal(out[0].icmpType, 135);
  assert.ok(out[0].dst.equals(PEER.solicitedNode()));
  assert.equal(out[0].hopLimit, 255);
  h.advance(3000);
  out = h.out();
  assert.equal(out.filter((o) => o.icmpType === 135).length, 2);
  assert.ok(ping.done);
  assert.equal(ping.engine.summary().errors, 1);
  assert.equal(h.ipv6.neighbours.stats.resolutionFailures, 1);
});

Deno.test("Ipv6Layer behaviour: an IPv6-only interface drops IPv4 and ARP and sends no gratuitous ARP", () => {
  const h = new V6Host();
  h.iface.start(0);
  const frames = h.dev.take();
  assert.ok(frames.every((f) => ((f[12] << 8) | f[13]) === 0x86dd));
  h.rx(
    new Uint8Array(60).fill(0).map((
      _,
      i,
    ) => (i === 12 ? 8 : i === 13 ? 6 : i < 6 ? 0xff : i < 12 ? 2 : 0)),
  );
  assert.equal(h.iface.stats.rxIpv4Disabled, 1);
  assert.equal(h.iface.config.address, 0);
});

Deno.test("Ipv6Layer behaviour: transmitted packets parse (tshark would see the checksums right)", () => {
  const h = hostWithPeer();
  h.rx(
    fromPeer(58, echoRequest(1, 2, new Uint8Array(3))),
  );
  const [r] = h.out();
  assert.equal(upperChecksum(r.src, r.dst, 58, r.icmp), 0);
  assert.equal(parseV6(h.dev.frames[0] ?? new Uint8Array(14)), null);
});

Deno.test("Ipv6Layer behaviour: a fragment reaching past 65,535 bytes gets Parameter Problem at its offset field (RFC 8200 §4.5)", () => {
  const h = hostWithPeer();
  h.rx(peerFrame(fragment(PEER, ME, 58, 65528, false, 3, new Uint8Array(16))));
  const [e] = h.outData();
  assert.equal(e.icmpType, 4);
  assert.equal(e.icmp[1], 0);
  assert.equal(new DataView(e.icmp.buffer, e.icmp.byteOffset).getUint32(4), 42);
  assert.equal(h.ipv6.reassembler.pending, 0);
});

Deno.test("PmtuCache behaviour: a Packet Too Big flood for many destinations stays within its bound; larger MTUs are ignored", () => {
  const h = hostWithPeer();
  for (let i = 0; i < 1000; i++) {
    const dst = new Ipv6Address(0x2001_0db8 | 0, 0x0009_0000, 0, i + 1);
    const quoted = ipv6Packet({ src: ME, dst, nextHeader: 17, payload: new Uint8Array(8) });
    h.rx(
      fromPeer(58, icmpv6(PEER, ME, 2, 0, 1300, quoted)),
    );
  }
  assert.equal(h.ipv6.pmtu.size, 256);
  assert.equal(h.ipv6.pmtu.stats.evicted, 744);
  const quoted = ipv6Packet({ src: ME, dst: PEER, nextHeader: 17, payload: new Uint8Array(8) });
  h.rx(
    fromPeer(58, icmpv6(PEER, ME, 2, 0, 9000, quoted)),
  );
  assert.equal(h.ipv6.pathMtu(PEER), 1500, "never above the link MTU");
  assert.ok(h.ipv6.pmtu.stats.ignored >= 1);
});
