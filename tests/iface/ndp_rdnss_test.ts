/**
 * Router advertisement M/O flags (RFC 4861 §4.2) and the DNS options of
 * RFC 8106 in a host: the DNS Server List with lifetimes and its bound,
 * search lists counted and ignored.
 */
import assert from "node:assert/strict";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import { NDP_INFINITE_LIFETIME, type NdpRepr } from "../../src/wire/ndp.ts";
import { MAC_ROUTER, ndpFrame, ROUTER_LL, routerAdvertisement, V6Host } from "./_ipv6_helpers.ts";

const ALL_NODES_MAC = 0x3333_0000_0001;

function ra(
  rdnss: NdpRepr["rdnss"],
  extra: Partial<NdpRepr> = {},
  from = ROUTER_LL,
): Uint8Array {
  const m = { ...routerAdvertisement({}), rdnss, ...extra };
  return ndpFrame(m, from, Ipv6Address.ALL_NODES, MAC_ROUTER, ALL_NODES_MAC);
}

const addr = (s: string) => Ipv6Address.parse(s);

/** A host that records every DNS server list the layer reports. */
function host(ndp: { maxDnsServers?: number } = {}) {
  const h = new V6Host([], {}, { ndp }).up();
  const reports: string[][] = [];
  h.ipv6.onDnsServersChanged = (servers) => reports.push(servers.map(String));
  return { h, reports };
}

Deno.test("NeighbourDiscovery behaviour: each router keeps the M and O flags of its last RA (RFC 4861 §4.2)", () => {
  const { h } = host();
  h.rx(ra([], { managed: true, other: false }));
  const other = addr("fe80::2");
  h.rx(ra([], { managed: false, other: true }, other));
  assert.deepEqual(
    h.ipv6.routerList().map((r) => [r.address, r.managed, r.other]),
    [["fe80::1", true, false], ["fe80::2", false, true]],
  );
  // The next RA of the first router clears M and sets O.
  h.rx(ra([], { managed: false, other: true }));
  assert.deepEqual(h.ipv6.routerList()[0], {
    address: "fe80::1",
    lifetimeS: 1800,
    managed: false,
    other: true,
  });
});

Deno.test("NeighbourDiscovery behaviour: RDNSS servers are learned, refreshed, expire with their lifetime and leave with lifetime 0 (RFC 8106 §6.2)", () => {
  const { h, reports } = host();
  h.rx(ra([{ lifetime: 60, servers: [addr("2001:db8::53"), addr("2001:db8::54")] }]));
  assert.deepEqual(reports, [["2001:db8::53", "2001:db8::54"]]);
  assert.deepEqual(h.ipv6.dnsServerList(), [
    { address: "2001:db8::53", lifetimeS: 60 },
    { address: "2001:db8::54", lifetimeS: 60 },
  ]);
  // 40 s later a refresh of ::53 only: no new report (the set did not change).
  h.advance(40_000);
  h.rx(ra([{ lifetime: 60, servers: [addr("2001:db8::53")] }]));
  assert.equal(reports.length, 1);
  // ::54 expires at 60 s, ::53 lives until 100 s.
  h.advance(25_000);
  assert.deepEqual(reports[1], ["2001:db8::53"]);
  assert.equal(h.ipv6.ndp.stats.rdnssExpired, 1);
  // Lifetime 0 removes it at once.
  h.rx(ra([{ lifetime: 0, servers: [addr("2001:db8::53")] }]));
  assert.deepEqual(reports[2], []);
  assert.deepEqual(h.ipv6.dnsServerList(), []);
  // Infinity stays; multicast, unspecified and loopback addresses are never servers.
  h.rx(ra([{
    lifetime: NDP_INFINITE_LIFETIME,
    servers: [addr("ff02::1"), addr("::"), addr("::1"), addr("2001:db8::55")],
  }]));
  assert.deepEqual(h.ipv6.dnsServerList(), [{ address: "2001:db8::55", lifetimeS: Infinity }]);
  assert.equal(h.ipv6.ndp.stats.rdnssInvalid, 3);
  h.advance(600_000); // ten minutes of polls never expire an infinite lifetime
  assert.equal(h.ipv6.dnsServerList().length, 1);
  assert.equal(h.ipv6.ndp.stats.rdnssLearned, 3);
});

Deno.test("NeighbourDiscovery behaviour: the DNS server list is bounded; a full list drops the server expiring first (RFC 8106 §6.2 (d))", () => {
  const { h, reports } = host();
  h.rx(ra([{ lifetime: 300, servers: [addr("2001:db8::1"), addr("2001:db8::2")] }]));
  h.rx(ra([{ lifetime: 100, servers: [addr("2001:db8::3")] }]));
  assert.equal(h.ipv6.dnsServerList().length, 3);
  // A fourth server: ::3 expires first and makes room.
  h.rx(ra([{ lifetime: 200, servers: [addr("2001:db8::4")] }]));
  assert.deepEqual(
    h.ipv6.dnsServerList().map((s) => s.address),
    ["2001:db8::1", "2001:db8::2", "2001:db8::4"],
  );
  assert.deepEqual(reports.at(-1), ["2001:db8::1", "2001:db8::2", "2001:db8::4"]);
  assert.equal(h.ipv6.ndp.stats.rdnssReplaced, 1);
  // A flood of RAs naming 200 more servers: the list stays at 3, the longest-lived kept.
  for (let i = 0; i < 100; i++) {
    const servers = [
      new Ipv6Address(0x2001_0db8, 9, 0, 2 * i),
      new Ipv6Address(0x2001_0db8, 9, 0, 2 * i + 1),
    ];
    h.rx(ra([{ lifetime: 1000 + i, servers }]));
  }
  const list = h.ipv6.dnsServerList();
  assert.equal(list.length, 3);
  assert.ok(list.some((s) => s.address === "2001:db8:0:9::c6"));
  assert.ok(list.some((s) => s.address === "2001:db8:0:9::c7"));
  assert.ok(list.every((s) => s.lifetimeS >= 1098), JSON.stringify(list));
  assert.equal(h.ipv6.ndp.stats.rdnssReplaced, 201);
  assert.ok(reports.every((r) => r.length <= 3));
  // maxDnsServers 0: RDNSS is ignored.
  const off = host({ maxDnsServers: 0 });
  off.h.rx(ra([{ lifetime: 300, servers: [addr("2001:db8::1")] }]));
  assert.deepEqual(off.h.ipv6.dnsServerList(), []);
  assert.deepEqual(off.reports, []);
});

Deno.test("NeighbourDiscovery behaviour: DNS search list options are counted and ignored (the resolver has no search list)", () => {
  const { h, reports } = host();
  h.rx(
    ra([], {
      dnssl: [{ lifetime: 600, domains: ["example.test"] }, { lifetime: 600, domains: ["b.test"] }],
    }),
  );
  assert.equal(h.ipv6.ndp.stats.dnsslIgnored, 2);
  assert.deepEqual(reports, []);
  assert.equal(h.ipv6.ndpStats().dnsslIgnored, 2);
});
