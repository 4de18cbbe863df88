import assert from "node:assert/strict";
import { Ipv6Address, Ipv6Cidr } from "../../src/wire/ipv6_address.ts";
import { stableAddress } from "../../src/iface/ipv6_addresses.ts";
import {
  blankNa,
  icmpv6,
  ipv6Packet,
  MAC_PEER,
  MAC_ROUTER,
  ME,
  ndpFrame,
  PEER,
  PEER_LL,
  ROUTER_LL,
  routerAdvertisement,
  SECRET,
  v6Frame,
  V6Host,
} from "./_ipv6_helpers.ts";

const MY_MAC = 0x02_00_00_00_00_0a;
const ALL_NODES_MAC = 0x3333_0000_0001;

function ns(target: Ipv6Address, sll = -1, nonce = -1) {
  const m = blankNa();
  m.type = 135;
  m.target = target;
  m.sourceLinkLayer = sll;
  m.nonce = nonce;
  return m;
}

Deno.test("Ipv6AddressTable behaviour: DAD joins the solicited-node group, solicits from :: and then prefers the address", () => {
  const h = new V6Host();
  h.iface.start(0);
  const first = h.out();
  // MLDv2 reports (hop limit 1, to ff02::16) for the solicited-node groups, before any DAD.
  const reports = first.filter((o) => o.icmpType === 143);
  assert.ok(reports.length >= 2);
  assert.ok(
    reports.every((r) => r.hopLimit === 1 && r.dst.toString() === "ff02::16" && r.nextHeader === 0),
  );
  assert.deepEqual(h.iface.ipv6!.addressList().map((a) => a.state), ["tentative", "tentative"]);
  h.advance(100);
  let sent = h.out();
  const dad = sent.filter((o) => o.icmpType === 135);
  assert.equal(dad.length, 2);
  for (const d of dad) {
    assert.ok(d.src.isUnspecified());
    assert.equal(d.hopLimit, 255);
    assert.ok(d.dst.isSolicitedNodeMulticast());
    assert.equal(d.icmp.length, 24 + 8, "target + nonce option, no source link-layer option");
  }
  h.advance(1000);
  sent = sent.concat(h.out());
  // RFC 3810 §6.1: the state change is reported again within 1 s, both groups in one report.
  const again = sent.filter((o) => o.icmpType === 143);
  assert.equal(again.length, 1);
  assert.equal((again[0].icmp[6] << 8) | again[0].icmp[7], 2);
  assert.deepEqual(h.ipv6.addressList().map((a) => a.state), ["preferred", "preferred"]);
  // Unsolicited advertisements announce the new addresses (RFC 4861 §7.2.6).
  assert.equal(
    sent.filter((o) => o.icmpType === 136 && o.dst.equals(Ipv6Address.ALL_NODES)).length,
    2,
  );
});

Deno.test("Ipv6AddressTable behaviour: isUsable follows the table — tentative no, preferred yes, and a peer asked about before becomes ours", () => {
  const h = new V6Host().up();
  const table = h.ipv6.addresses;
  const x = Ipv6Address.parse("2001:db8:1::77");
  assert.equal(table.isUsable(ME), true);
  assert.equal(table.isUsable(x), false);
  assert.equal(table.isUsable(x), false);
  // The same object asked about again after it became an address of ours: tentative (DAD
  // running) is not usable, preferred is.
  table.addStatic(h.t, Ipv6Cidr.parse("2001:db8:1::77/64"));
  assert.equal(table.isUsable(x), false);
  h.advance(1500);
  assert.equal(table.find(x)?.state, "preferred");
  assert.equal(table.isUsable(x), true);
});

Deno.test("Ipv6AddressTable behaviour: a node already holding our static address makes it duplicate (RFC 4862 §5.4.4)", () => {
  const h = new V6Host();
  h.iface.start(0);
  h.advance(100);
  h.out();
  const na = { ...blankNa(), target: ME, targetLinkLayer: MAC_PEER, override: true };
  h.rx(ndpFrame(na, ME, Ipv6Address.ALL_NODES, MAC_PEER, ALL_NODES_MAC));
  h.advance(2000);
  const mine = h.ipv6.addressList().find((a) => a.address === ME.toString())!;
  assert.equal(mine.state, "duplicate");
  assert.equal(h.ipv6.addresses.stats.duplicates, 1);
  // Never used: no source, not ours for input.
  assert.ok(!h.ipv6.sourceAddressFor6(PEER)?.equals(ME));
});

Deno.test("Ipv6AddressTable behaviour: another node's DAD for our tentative link-local makes it duplicate; RFC 7217 makes the next", () => {
  const h = new V6Host();
  h.iface.start(0);
  const ll = h.ipv6.addresses.entries[0].address;
  h.rx(
    ndpFrame(
      ns(ll, -1, 0x123456),
      Ipv6Address.UNSPECIFIED,
      ll.solicitedNode(),
      MAC_PEER,
      ll.solicitedNode().multicastMac(),
    ),
  );
  const list = h.ipv6.addressList();
  assert.equal(list[0].state, "duplicate");
  const again = h.ipv6.addresses.entries.find((e) =>
    e.origin === "link-local" && e.state === "tentative"
  )!;
  assert.ok(again.address.isLinkLocal() && !again.address.equals(ll));
  assert.ok(
    again.address.equals(
      stableAddress(SECRET, new Ipv6Address(0xfe80_0000 | 0, 0, 0, 0), MY_MAC, 1),
    ),
  );
  // Our own solicitation looped back (same nonce, RFC 7527) is not a duplicate.
  h.rx(
    ndpFrame(
      ns(again.address, -1, again.nonce),
      Ipv6Address.UNSPECIFIED,
      again.address.solicitedNode(),
      MAC_PEER,
      again.address.solicitedNode().multicastMac(),
    ),
  );
  assert.equal(again.state, "tentative");
  assert.equal(h.ipv6.addresses.stats.dadLoopedBack, 1);
  h.advance(1500);
  assert.equal(again.state, "preferred");
});

Deno.test("NeighbourDiscovery behaviour: answers a solicitation with a solicited, override advertisement and learns the sender as STALE", () => {
  const h = new V6Host().up();
  h.rx(
    ndpFrame(
      ns(ME, MAC_PEER),
      PEER,
      ME.solicitedNode(),
      MAC_PEER,
      ME.solicitedNode().multicastMac(),
    ),
  );
  const [na] = h.out();
  assert.equal(na.icmpType, 136);
  assert.equal(na.dstMac, MAC_PEER);
  assert.ok(na.dst.equals(PEER) && na.src.equals(ME));
  assert.equal(na.icmp[4] & 0xe0, 0x60, "S and O set, R clear");
  assert.equal(na.hopLimit, 255);
  assert.deepEqual(h.ipv6.neighbourList().map((n) => n.state), ["stale"]);
  // Defends a preferred address against another node's DAD: NA to all nodes.
  h.rx(
    ndpFrame(
      ns(ME, -1, 5),
      Ipv6Address.UNSPECIFIED,
      ME.solicitedNode(),
      MAC_PEER,
      ME.solicitedNode().multicastMac(),
    ),
  );
  const [defend] = h.out();
  assert.ok(defend.dst.equals(Ipv6Address.ALL_NODES));
  assert.equal(defend.icmp[4] & 0x40, 0, "S clear");
});

Deno.test("NeighbourDiscovery behaviour: bogus NDP is dropped and counted (hop limit, fragments, multicast target, RA from a global source)", () => {
  const h = new V6Host().up();
  const before = h.ipv6.neighbours.size;
  h.rx(
    ndpFrame(
      ns(ME, MAC_PEER),
      PEER,
      ME.solicitedNode(),
      MAC_PEER,
      ME.solicitedNode().multicastMac(),
      254,
    ),
  );
  assert.equal(h.ipv6.ndp.stats.rxBadHopLimit, 1);
  // An NS inside an atomic fragment (RFC 6980 §5).
  const nsBytes = ndpFrame(ns(ME, MAC_PEER), PEER, ME, MAC_PEER, MY_MAC).subarray(14 + 40);
  const frag = new Uint8Array(8 + nsBytes.length);
  frag[0] = 58; // offset 0, M clear: an atomic fragment
  frag.set(nsBytes, 8);
  h.rx(
    v6Frame(
      MY_MAC,
      MAC_PEER,
      ipv6Packet({ src: PEER, dst: ME, nextHeader: 44, payload: frag, hopLimit: 255 }),
    ),
  );
  assert.equal(h.ipv6.ndp.stats.rxFragmented, 1);
  // A multicast target.
  h.rx(ndpFrame(ns(Ipv6Address.parse("ff02::1"), MAC_PEER), PEER, ME, MAC_PEER, MY_MAC));
  // An RA from a global address.
  h.rx(
    ndpFrame(
      routerAdvertisement({ prefix: "2001:db8:5::" }),
      PEER,
      Ipv6Address.ALL_NODES,
      MAC_ROUTER,
      ALL_NODES_MAC,
    ),
  );
  // A bad checksum.
  const bad = ndpFrame(ns(ME, MAC_PEER), PEER, ME, MAC_PEER, MY_MAC);
  bad[14 + 40 + 2] ^= 0xff;
  h.rx(bad);
  assert.equal(h.ipv6.ndp.stats.rxInvalid, 3);
  assert.equal(h.out().length, 0);
  assert.equal(h.ipv6.neighbours.size, before);
  assert.equal(h.ipv6.ndp.routers(h.t).length, 0);
});

Deno.test("NeighbourDiscovery behaviour: SLAAC forms a stable address from an RA prefix and follows its lifetimes (RFC 4862 §5.5.3)", () => {
  const h = new V6Host([]).up();
  h.rx(
    ndpFrame(
      routerAdvertisement({ prefix: "2001:db8:7::", validS: 3 * 3600, preferredS: 1800 }),
      ROUTER_LL,
      Ipv6Address.ALL_NODES,
      MAC_ROUTER,
      ALL_NODES_MAC,
    ),
  );
  const expected = stableAddress(SECRET, Ipv6Address.parse("2001:db8:7::"), MY_MAC, 0);
  let slaac = h.ipv6.addressList().find((a) => a.origin === "slaac")!;
  assert.equal(slaac.address, expected.toString());
  assert.equal(slaac.state, "tentative");
  h.advance(1500);
  slaac = h.ipv6.addressList().find((a) => a.origin === "slaac")!;
  assert.equal(slaac.state, "preferred");
  assert.equal(slaac.prefixLength, 64);
  // The same prefix on another interface (MAC) gives an unrelated identifier.
  assert.ok(
    !stableAddress(SECRET, Ipv6Address.parse("2001:db8:7::"), MAC_PEER, 0).equals(expected),
  );
  // Two-hour rule: a valid lifetime of 60 s does not cut 3 h down below 2 h.
  h.rx(
    ndpFrame(
      routerAdvertisement({ prefix: "2001:db8:7::", validS: 60, preferredS: 30 }),
      ROUTER_LL,
      Ipv6Address.ALL_NODES,
      MAC_ROUTER,
      ALL_NODES_MAC,
    ),
  );
  slaac = h.ipv6.addressList().find((a) => a.origin === "slaac")!;
  assert.equal(slaac.validLifetimeS, 7200);
  assert.equal(h.ipv6.addresses.stats.twoHourRule, 1);
  h.advance(31_000);
  assert.equal(h.ipv6.addressList().find((a) => a.origin === "slaac")!.state, "deprecated");
  h.advance(7200_000);
  assert.equal(h.ipv6.addressList().find((a) => a.origin === "slaac"), undefined);
  assert.equal(h.ipv6.addresses.stats.expired, 1);
});

Deno.test("NeighbourDiscovery behaviour: the RA's router, MTU, hop limit and on-link prefix drive output", () => {
  const h = new V6Host([]).up();
  h.rx(
    ndpFrame(
      routerAdvertisement({ prefix: "2001:db8:7::", mtu: 1400, curHopLimit: 50 }),
      ROUTER_LL,
      Ipv6Address.ALL_NODES,
      MAC_ROUTER,
      ALL_NODES_MAC,
    ),
  );
  h.advance(1500);
  h.out();
  assert.equal(h.ipv6.ndp.linkMtu, 1400);
  assert.equal(h.ipv6.pathMtu(Ipv6Address.parse("2001:db8:99::1")), 1400);
  assert.deepEqual(h.ipv6.ndp.routers(h.t).map((r) => r.address), ["fe80::1"]);
  // Off-link: to the router's MAC (learned from the RA's source link-layer option), hop limit 50.
  const far = Ipv6Address.parse("2001:db8:99::1");
  h.ipv6.ping(h.t, far, { count: 1 });
  const [req] = h.out();
  assert.equal(req.dstMac, MAC_ROUTER);
  assert.equal(req.hopLimit, 50);
  assert.ok(req.dst.equals(far));
  // On-link (the prefix's L flag): resolved directly.
  h.ipv6.ping(h.t, Ipv6Address.parse("2001:db8:7::5"), { count: 1 });
  const [sol] = h.out();
  assert.equal(sol.icmpType, 135);
  // A too-small MTU option is ignored; router lifetime 0 removes the router.
  h.rx(
    ndpFrame(
      routerAdvertisement({ lifetimeS: 0, mtu: 1000 }),
      ROUTER_LL,
      Ipv6Address.ALL_NODES,
      MAC_ROUTER,
      ALL_NODES_MAC,
    ),
  );
  assert.equal(h.ipv6.ndp.stats.raBadMtu, 1);
  assert.equal(h.ipv6.ndp.linkMtu, 1400);
  assert.equal(h.ipv6.ndp.routers(h.t).length, 0);
});

Deno.test("NeighbourDiscovery behaviour: an RA flood is bounded (routers, prefixes, addresses) and keeps the first router", () => {
  const h = new V6Host([]).up();
  for (let i = 1; i <= 300; i++) {
    const src = new Ipv6Address(0xfe80_0000 | 0, 0, 0, i);
    const ra = routerAdvertisement({
      prefix: `2001:db8:${i.toString(16)}::`,
      sourceMac: 0x02_00_00_01_00_00 + i,
    });
    h.rx(ndpFrame(ra, src, Ipv6Address.ALL_NODES, 0x02_00_00_01_00_00 + i, ALL_NODES_MAC));
  }
  const s = h.ipv6.ndpStats();
  assert.equal(h.ipv6.ndp.routers(h.t).length, 8);
  assert.equal(h.ipv6.ndp.prefixes(h.t).length, 16);
  assert.ok(h.ipv6.addressList().length <= 16);
  assert.equal(s.routersFull, 292);
  assert.equal(s.prefixesFull, 284);
  assert.ok(s.addresses.tableFull > 0);
  assert.ok(h.ipv6.neighbours.size <= 256);
  assert.equal(h.ipv6.ndp.routers(h.t)[0].address, "fe80::1");
});

Deno.test("NeighbourCache behaviour: NUD ages REACHABLE → STALE → DELAY → PROBE, then deletes after 3 unanswered probes", () => {
  const h = new V6Host().up();
  h.ipv6.ping(h.t, PEER, { count: 1, timeoutMs: 100 });
  h.resolve(PEER, MAC_PEER);
  h.out();
  assert.equal(h.ipv6.neighbours.stateOf(h.t, PEER), "reachable");
  h.advance(45_000); // beyond ReachableTime (30 s × at most 1.5)
  assert.equal(h.ipv6.neighbours.stateOf(h.t, PEER), "stale");
  h.ipv6.ping(h.t, PEER, { count: 1, timeoutMs: 100 });
  assert.equal(h.ipv6.neighbours.stateOf(h.t, PEER), "delay");
  h.out();
  h.advance(5_000);
  assert.equal(h.ipv6.neighbours.stateOf(h.t, PEER), "probe");
  h.advance(3_000);
  const probes = h.out().filter((o) => o.icmpType === 135);
  assert.equal(probes.length, 3);
  assert.ok(probes.every((p) => p.dstMac === MAC_PEER && p.dst.equals(PEER)), "unicast probes");
  assert.equal(h.ipv6.neighbours.stateOf(h.t, PEER), null);
  assert.equal(h.ipv6.neighbours.stats.probeFailures, 1);
});

Deno.test("NeighbourCache behaviour: a solicited advertisement during PROBE makes the entry REACHABLE again", () => {
  const h = new V6Host().up();
  h.ipv6.ping(h.t, PEER, { count: 1, timeoutMs: 100 });
  h.resolve(PEER, MAC_PEER);
  h.advance(45_000);
  h.ipv6.ping(h.t, PEER, { count: 1, timeoutMs: 100 });
  h.advance(5_500);
  assert.equal(h.ipv6.neighbours.stateOf(h.t, PEER), "probe");
  h.resolve(PEER, MAC_PEER);
  assert.equal(h.ipv6.neighbours.stateOf(h.t, PEER), "reachable");
});

Deno.test("NeighbourCache behaviour: unsolicited advertisements create nothing; a solicitation flood never evicts the router", () => {
  const h = new V6Host().up();
  h.rx(
    ndpFrame(routerAdvertisement({}), ROUTER_LL, Ipv6Address.ALL_NODES, MAC_ROUTER, ALL_NODES_MAC),
  );
  h.rx(
    ndpFrame(
      { ...blankNa(), target: PEER_LL, targetLinkLayer: MAC_PEER, override: true },
      PEER_LL,
      Ipv6Address.ALL_NODES,
      MAC_PEER,
      ALL_NODES_MAC,
    ),
  );
  assert.equal(h.ipv6.neighbours.stats.unsolicitedIgnored, 1);
  for (let i = 0; i < 2000; i++) {
    const src = new Ipv6Address(0x2001_0db8 | 0, 0x0001_0000, 0, 0x1000 + i);
    h.rx(
      ndpFrame(
        ns(ME, 0x02_00_00_02_00_00 + i),
        src,
        ME.solicitedNode(),
        0x02_00_00_02_00_00 + i,
        ME.solicitedNode().multicastMac(),
      ),
    );
  }
  assert.ok(h.ipv6.neighbours.size <= 256);
  assert.ok(h.ipv6.neighbours.stateOf(h.t, ROUTER_LL) !== null, "the router survives");
  assert.ok(h.ipv6.neighbours.stats.tableFull > 0 || h.ipv6.neighbours.stats.evicted > 0);
});

Deno.test("NeighbourCache behaviour: packets waiting for resolution are bounded per neighbour and in total (shared PendingQueues)", () => {
  const h = new V6Host(undefined, {}, {
    neighbours: { maxQueuedPerNeighbour: 4, maxQueuedTotal: 6 },
  }).up();
  for (let i = 0; i < 10; i++) {
    const buf = h.ipv6.allocate()!;
    buf.append(100);
    h.ipv6.send6(buf, PEER, 17);
  }
  for (let i = 0; i < 10; i++) {
    const buf = h.ipv6.allocate()!;
    buf.append(100);
    h.ipv6.send6(buf, Ipv6Address.parse("2001:db8:1::77"), 17);
  }
  const s = h.ipv6.neighbours.stats;
  assert.equal(s.pendingPackets, 6);
  // The first neighbour: 10 into 4 places; the second: 2 places left in the total, so
  // each later packet replaces its own oldest (RFC 1122 §2.3.2.2: keep the latest).
  assert.equal(s.queueOverflows, 6);
  assert.equal(s.pendingDroppedGlobal, 8);
  h.resolve(PEER, MAC_PEER);
  const sent = h.outData().filter((o) => o.nextHeader === 17);
  assert.ok(sent.length >= 1 && sent.every((o) => o.dstMac === MAC_PEER));
});

Deno.test("NeighbourDiscovery behaviour: a redirect from the first-hop router sends the destination to its target", () => {
  const h = new V6Host([]).up();
  h.rx(
    ndpFrame(
      routerAdvertisement({ prefix: "2001:db8:7::" }),
      ROUTER_LL,
      Ipv6Address.ALL_NODES,
      MAC_ROUTER,
      ALL_NODES_MAC,
    ),
  );
  h.advance(1500);
  const far = Ipv6Address.parse("2001:db8:99::1");
  const r = blankNa();
  r.type = 137;
  r.target = PEER_LL;
  r.destination = far;
  r.targetLinkLayer = MAC_PEER;
  const me = h.ipv6.sourceAddressFor6(far)!;
  // From someone else: ignored.
  h.rx(ndpFrame(r, PEER_LL, me, MAC_PEER, MY_MAC));
  assert.equal(h.ipv6.ndp.stats.rxRedirectsIgnored, 1);
  h.rx(ndpFrame(r, ROUTER_LL, me, MAC_ROUTER, MY_MAC));
  assert.equal(h.ipv6.ndp.stats.rxRedirects, 1);
  h.out();
  h.ipv6.ping(h.t, far, { count: 1 });
  const [req] = h.out();
  assert.equal(req.dstMac, MAC_PEER);
});

Deno.test("NeighbourDiscovery behaviour: nextHop's on-link answers follow a redirect and new static addresses", () => {
  const h = new V6Host().up();
  const ndp = h.ipv6.ndp;
  // Link-local and in a static address's prefix: on-link, the same answer each time.
  assert.equal(ndp.nextHop(h.t, PEER), PEER);
  assert.equal(ndp.nextHop(h.t, PEER_LL), PEER_LL);
  assert.equal(ndp.nextHop(h.t, PEER_LL), PEER_LL);
  // A redirect from the destination's first hop (itself) names another target (RFC 4861 §8.1).
  const other = Ipv6Address.parse("fe80::c");
  const r = blankNa();
  r.type = 137;
  r.target = other;
  r.destination = PEER_LL;
  r.targetLinkLayer = MAC_PEER + 1;
  h.rx(ndpFrame(r, PEER_LL, h.ipv6.sourceAddressFor6(PEER_LL)!, MAC_PEER, MY_MAC));
  assert.equal(ndp.stats.rxRedirects, 1);
  assert.equal(String(ndp.nextHop(h.t, PEER_LL)), String(other));
  // Without a router an off-link destination has no next hop, until a static address
  // puts it on-link (the address table's version changes).
  const bare = new V6Host([]).up();
  const dst = Ipv6Address.parse("2001:db8:5::1");
  assert.equal(bare.ipv6.ndp.nextHop(bare.t, dst), null);
  const before = bare.ipv6.addresses.version;
  bare.ipv6.addresses.addStatic(bare.t, Ipv6Cidr.parse("2001:db8:5::2/64"));
  assert.notEqual(bare.ipv6.addresses.version, before);
  assert.equal(bare.ipv6.ndp.nextHop(bare.t, dst), dst);
});

Deno.test("NeighbourDiscovery behaviour: an MLD general query is answered with our groups", () => {
  const h = new V6Host().up();
  const q = new Uint8Array(20); // MLDv2 query body after the 4-byte word: group + flags…
  const query = icmpv6(ROUTER_LL, Ipv6Address.ALL_NODES, 130, 0, 1000 << 16, q);
  const hbh = new Uint8Array([58, 0, 5, 2, 0, 0, 1, 0]);
  const payload = new Uint8Array(8 + query.length);
  payload.set(hbh);
  payload.set(query, 8);
  h.rx(
    v6Frame(
      ALL_NODES_MAC,
      MAC_ROUTER,
      ipv6Packet({
        src: ROUTER_LL,
        dst: Ipv6Address.ALL_NODES,
        nextHeader: 0,
        payload,
        hopLimit: 1,
      }),
    ),
  );
  const reports = h.out().filter((o) => o.icmpType === 143);
  assert.equal(reports.length, 1);
  assert.equal((reports[0].icmp[6] << 8) | reports[0].icmp[7], 2, "two solicited-node groups");
});
