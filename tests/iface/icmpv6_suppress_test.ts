/**
 * RFC 4443 §2.4 (e): the packets an ICMPv6 error must never be about, one
 * test per rule, through whole frames into a host (the link-layer
 * destination reaches the IPv6 layer from the Ethernet header).
 */
import assert from "node:assert/strict";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import {
  fragment,
  fromPeer,
  icmpv6,
  ipv6Packet,
  MAC_PEER,
  ME,
  PEER,
  peerFrame,
  v6Frame,
  V6Host,
} from "./_ipv6_helpers.ts";

/** ff02::1's MAC (RFC 2464 §7): every host accepts it. */
const ALL_NODES_MAC = 0x3333_0000_0001;
const BROADCAST_MAC = 0xffff_ffff_ffff;
/** An unassigned Next Header: Parameter Problem code 1 when allowed. */
const UNKNOWN_NH = 253;

function hostWithPeer(): V6Host {
  const h = new V6Host().up();
  h.ipv6.neighbours.learn(h.t, PEER, MAC_PEER);
  return h;
}

/** A packet with an unknown Next Header from `src` to `dst`. */
function unknownHeader(src = PEER, dst = ME): Uint8Array {
  return ipv6Packet({ src, dst, nextHeader: UNKNOWN_NH, payload: new Uint8Array(16) });
}

/** Destination Options with one unknown option of `type`, then No Next Header. */
function unknownOption(type: number, dst = ME): Uint8Array {
  const p = new Uint8Array(16);
  p[0] = 59;
  p[2] = type;
  p[3] = 4;
  return ipv6Packet({ src: PEER, dst, nextHeader: 60, payload: p });
}

Deno.test("Icmpv6Layer behaviour: no error about a packet that came as a link-layer multicast (RFC 4443 §2.4 (e.4))", () => {
  const h = hostWithPeer();
  // To our unicast address, but in a frame to the all-nodes MAC.
  h.rx(v6Frame(ALL_NODES_MAC, MAC_PEER, unknownHeader()));
  assert.equal(h.outData().length, 0);
  assert.equal(h.ipv6.stats.rxParameterProblem, 1, "the packet was still dropped");
  const s = h.ipv6.icmp.stats;
  assert.equal(s.txErrors, 0);
  assert.equal(s.txErrorsSuppressed, 1);
  assert.equal(s.txErrorsSuppressedLinkMulticast, 1);
  // The same packet in a unicast frame is answered.
  h.rx(peerFrame(unknownHeader()));
  const out = h.outData();
  assert.equal(out.length, 1);
  assert.equal(out[0].icmpType, 4);
});

Deno.test("Icmpv6Layer behaviour: no error about a packet that came as a link-layer broadcast (RFC 4443 §2.4 (e.5))", () => {
  const h = hostWithPeer();
  h.rx(v6Frame(BROADCAST_MAC, MAC_PEER, unknownHeader()));
  assert.equal(h.outData().length, 0);
  assert.equal(h.ipv6.icmp.stats.txErrorsSuppressedLinkMulticast, 1);
  // A UDP datagram to a closed port in a broadcast frame: no port unreachable either.
  const udpLayer = h.iface.ipv6!;
  udpLayer.registerProtocol(17, {
    onPacket6(now) {
      udpLayer.portUnreachableCurrent(now);
    },
  });
  h.rx(
    v6Frame(
      BROADCAST_MAC,
      MAC_PEER,
      ipv6Packet({ src: PEER, dst: ME, nextHeader: 17, payload: new Uint8Array(8) }),
    ),
  );
  assert.equal(h.outData().length, 0);
  assert.equal(h.ipv6.icmp.stats.txErrorsSuppressedLinkMulticast, 2);
  h.rx(
    fromPeer(17, new Uint8Array(8)),
  );
  const [e] = h.outData();
  assert.equal(e.icmpType, 1, "a unicast frame gets Destination Unreachable");
  assert.equal(e.icmp[1], 4);
});

Deno.test("Icmpv6Layer behaviour: a link-layer multicast keeps (e.3)'s exception: Parameter Problem code 2 for option action 10 only", () => {
  const h = hostWithPeer();
  // Action 10 (0x80): reported even when the packet came multicast.
  h.rx(v6Frame(ALL_NODES_MAC, MAC_PEER, unknownOption(0x80 | 0x1e)));
  const out = h.outData();
  assert.equal(out.length, 1);
  assert.equal(out[0].icmpType, 4);
  assert.equal(out[0].icmp[1], 2);
  // Action 11 (0xc0) to our unicast address, but in a multicast frame: not reported.
  h.advance(2000);
  h.rx(v6Frame(ALL_NODES_MAC, MAC_PEER, unknownOption(0xc0 | 0x1e)));
  assert.equal(h.outData().length, 0);
  assert.equal(h.ipv6.icmp.stats.txErrorsSuppressedLinkMulticast, 1);
  // …and in a unicast frame it is.
  h.rx(peerFrame(unknownOption(0xc0 | 0x1e)));
  assert.equal(h.outData().length, 1);
});

Deno.test("Icmpv6Layer behaviour: a reassembly timeout sends no Time Exceeded when the first fragment came link-layer multicast", () => {
  const h = hostWithPeer();
  const msg = icmpv6(PEER, ME, 128, 0, 0x0009_0001, new Uint8Array(100));
  h.rx(v6Frame(ALL_NODES_MAC, MAC_PEER, fragment(PEER, ME, 58, 0, true, 1, msg.subarray(0, 64))));
  // A second packet whose first fragment came unicast: its timeout is reported.
  h.rx(peerFrame(fragment(PEER, ME, 58, 0, true, 2, msg.subarray(0, 64))));
  h.advance(59_000);
  h.resolve(PEER, MAC_PEER); // the neighbour answered meanwhile: an error leaves at once
  h.advance(2_000);
  const out = h.outData();
  assert.equal(out.length, 1);
  assert.equal(out[0].icmpType, 3);
  assert.equal(h.ipv6.reassembler.stats.timeouts, 2);
  assert.equal(h.ipv6.icmp.stats.txErrorsSuppressedLinkMulticast, 1);
});

Deno.test("Icmpv6Layer behaviour: a packet reassembled from link-layer multicast fragments gets no port unreachable", () => {
  const h = hostWithPeer();
  h.ipv6.registerProtocol(17, {
    onPacket6(now) {
      h.ipv6.portUnreachableCurrent(now);
    },
  });
  const udp = new Uint8Array(80);
  h.rx(v6Frame(ALL_NODES_MAC, MAC_PEER, fragment(PEER, ME, 17, 0, true, 5, udp.subarray(0, 48))));
  h.rx(peerFrame(fragment(PEER, ME, 17, 48, false, 5, udp.subarray(48))));
  assert.equal(h.ipv6.stats.rxReassembled, 1);
  assert.equal(h.outData().length, 0);
  assert.equal(h.ipv6.icmp.stats.txErrorsSuppressedLinkMulticast, 1);
});

Deno.test("Icmpv6Layer behaviour: no error about a packet from a Subnet-Router or reserved subnet anycast address of ours (RFC 4443 §2.4 (e.6))", () => {
  const h = hostWithPeer();
  const before = h.ipv6.icmp.stats.txErrorsSuppressed;
  // 2001:db8:1::/64 is our prefix: its Subnet-Router anycast address (RFC 4291 §2.6.1)…
  const subnetRouter = Ipv6Address.parse("2001:db8:1::");
  h.ipv6.neighbours.learn(h.t, subnetRouter, MAC_PEER);
  h.rx(peerFrame(unknownHeader(subnetRouter)));
  // …and the Mobile IPv6 home agents anycast, ID 126 (RFC 2526 §3).
  const homeAgents = Ipv6Address.parse("2001:db8:1::fdff:ffff:ffff:fffe");
  h.ipv6.neighbours.learn(h.t, homeAgents, MAC_PEER);
  h.rx(peerFrame(unknownHeader(homeAgents)));
  assert.equal(h.outData().length, 0);
  assert.equal(h.ipv6.icmp.stats.txErrorsSuppressed - before, 2);
  // Another prefix's all-zero identifier is not known to be anycast: answered.
  const other = Ipv6Address.parse("2001:db8:1:0:1::");
  h.ipv6.neighbours.learn(h.t, other, MAC_PEER);
  h.rx(peerFrame(unknownHeader(other)));
  assert.equal(h.outData().length, 1);
});

Deno.test("Icmpv6Layer behaviour: no error about a packet from the unspecified address or about a redirect (RFC 4443 §2.4 (e.6), (e.2))", () => {
  const h = hostWithPeer();
  h.rx(peerFrame(unknownHeader(Ipv6Address.UNSPECIFIED)));
  // A redirect inside a packet with an unknown option of action 10 (reported unless (e.2)).
  const redirect = icmpv6(PEER, ME, 137, 0, 0, new Uint8Array(32));
  const opts = new Uint8Array(8 + redirect.length);
  opts[0] = 58;
  opts[2] = 0x80 | 0x1e;
  opts[3] = 4;
  opts.set(redirect, 8);
  h.rx(
    fromPeer(60, opts),
  );
  assert.equal(h.outData().length, 0);
  assert.equal(h.ipv6.icmp.stats.txErrorsSuppressed, 2);
  assert.equal(h.ipv6.icmp.stats.txErrorsSuppressedLinkMulticast, 0);
});
