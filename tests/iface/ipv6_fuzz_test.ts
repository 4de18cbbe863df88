import assert from "node:assert/strict";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import { mulberry32 } from "../seeded_random.ts";
import {
  blankNa,
  fragment,
  fromPeer,
  icmpv6,
  ipv6Packet,
  MAC_ME,
  MAC_PEER,
  MAC_ROUTER,
  ME,
  ndpFrame,
  PEER,
  peerFrame,
  ROUTER_LL,
  routerAdvertisement,
  V6Host,
} from "./_ipv6_helpers.ts";

/** Valid frames of every kind the layer handles, to mutate. */
function templates(): Uint8Array[] {
  const ns = blankNa();
  ns.type = 135;
  ns.target = ME;
  ns.sourceLinkLayer = MAC_PEER;
  const na = { ...blankNa(), target: PEER, targetLinkLayer: MAC_PEER, solicited: true };
  const dstOpts = new Uint8Array(16);
  dstOpts[0] = 58;
  dstOpts.set(icmpv6(PEER, ME, 128, 0, 1, new Uint8Array(0)), 8);
  return [
    fromPeer(58, icmpv6(PEER, ME, 128, 0, 0x10001, new Uint8Array(40))),
    ndpFrame(ns, PEER, ME.solicitedNode(), MAC_PEER, ME.solicitedNode().multicastMac()),
    ndpFrame(na, PEER, ME, MAC_PEER, MAC_ME),
    ndpFrame(
      routerAdvertisement({ prefix: "2001:db8:7::", mtu: 1400 }),
      ROUTER_LL,
      Ipv6Address.ALL_NODES,
      MAC_ROUTER,
      0x3333_0000_0001,
    ),
    peerFrame(fragment(PEER, ME, 58, 0, true, 9, icmpv6(PEER, ME, 128, 0, 1, new Uint8Array(56)))),
    peerFrame(fragment(PEER, ME, 58, 64, false, 9, new Uint8Array(40))),
    fromPeer(60, dstOpts),
    fromPeer(
      58,
      icmpv6(
        PEER,
        ME,
        2,
        0,
        1280,
        ipv6Packet({ src: ME, dst: PEER, nextHeader: 17, payload: new Uint8Array(16) }),
      ),
    ),
  ];
}

Deno.test("Ipv6Layer behaviour: 20,000 mutated IPv6 frames never throw, stay bounded and leak no buffer", () => {
  const random = mulberry32(0x18);
  const h = new V6Host().up();
  h.ipv6.neighbours.learn(h.t, PEER, MAC_PEER);
  const base = templates();
  const poolInUse = h.iface.pool.inUse;
  for (let i = 0; i < 20_000; i++) {
    const t = base[Math.floor(random() * base.length)];
    const f = t.slice(0, Math.max(14, Math.floor(t.length * (random() < 0.2 ? random() : 1))));
    const flips = Math.floor(random() * 6);
    for (let k = 0; k < flips; k++) {
      // Mostly within the IPv6 header and the first headers after it.
      const at = 14 +
        Math.floor(random() * Math.min(f.length - 14, random() < 0.7 ? 80 : f.length));
      if (at < f.length) f[at] = Math.floor(random() * 256);
    }
    // Sometimes a fresh source, so per-source state is exercised.
    if (random() < 0.3 && f.length >= 14 + 40) f[14 + 23] = Math.floor(random() * 256);
    h.rx(f);
    if (i % 500 === 0) h.advance(1000);
  }
  const ipv6 = h.ipv6;
  assert.ok(ipv6.neighbours.size <= 256);
  assert.ok(ipv6.reassembler.pending <= 16);
  assert.ok(ipv6.addresses.entries.length <= 16);
  assert.ok(ipv6.ndp.routers(h.t).length <= 8);
  assert.ok(ipv6.ndp.prefixes(h.t).length <= 16);
  assert.ok(ipv6.stats.rxPackets > 15_000);
  h.dev.take();
  // Everything queued is released once the timers run out and the interface closes.
  h.advance(120_000);
  h.iface.close();
  assert.equal(h.iface.pool.inUse, poolInUse);
});
