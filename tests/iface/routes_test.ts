import assert from "node:assert/strict";
import { NO_ROUTE, RouteTable } from "../../src/iface/routes.ts";
import { parseIpv4 } from "../../src/wire/address.ts";

const ip = (s: string) => parseIpv4(s)!;

Deno.test("RouteTable picks the longest matching prefix", () => {
  const t = new RouteTable();
  t.add("0.0.0.0/0", "192.0.2.1");
  t.add("192.0.2.0/24");
  t.add("198.51.100.0/24", "192.0.2.254");
  t.add("198.51.100.128/25", "192.0.2.253");
  t.add("198.51.100.77/32", "192.0.2.252");
  assert.equal(t.nextHop(ip("192.0.2.99")), ip("192.0.2.99"));
  assert.equal(t.nextHop(ip("198.51.100.5")), ip("192.0.2.254"));
  assert.equal(t.nextHop(ip("198.51.100.200")), ip("192.0.2.253"));
  assert.equal(t.nextHop(ip("198.51.100.77")), ip("192.0.2.252"));
  assert.equal(t.nextHop(ip("203.0.113.1")), ip("192.0.2.1"));
  assert.ok(t.isOnLink(ip("192.0.2.3")));
  assert.ok(!t.isOnLink(ip("203.0.113.1")));
});

Deno.test("RouteTable returns NO_ROUTE without a matching route", () => {
  const t = new RouteTable();
  t.add("192.0.2.0/24");
  assert.equal(t.lookup(ip("203.0.113.1")), NO_ROUTE);
  assert.equal(t.nextHop(ip("203.0.113.1")), NO_ROUTE);
});

Deno.test("RouteTable replaces and removes routes and clears host bits", () => {
  const t = new RouteTable();
  t.add("198.51.100.9/24", "192.0.2.1");
  t.add("198.51.100.0/24", "192.0.2.2");
  assert.equal(t.size, 1);
  assert.equal(t.list()[0].destination.toString(), "198.51.100.0/24");
  assert.equal(t.nextHop(ip("198.51.100.1")), ip("192.0.2.2"));
  assert.ok(t.remove("198.51.100.0/24"));
  assert.ok(!t.remove("198.51.100.0/24"));
  assert.equal(t.nextHop(ip("198.51.100.1")), NO_ROUTE);
});

Deno.test("RouteTable order does not depend on insertion order", () => {
  const a = new RouteTable();
  a.add("198.51.100.128/25", "192.0.2.3");
  a.add("198.51.100.0/24", "192.0.2.2");
  a.add("0.0.0.0/0", "192.0.2.1");
  assert.deepEqual(a.list().map((r) => r.destination.prefixLength), [25, 24, 0]);
  assert.equal(a.nextHop(ip("198.51.100.129")), ip("192.0.2.3"));
  assert.match(a.toString(), /198\.51\.100\.128\/25 via 192\.0\.2\.3/);
});

Deno.test("RouteTable rejects malformed destinations and gateways with TypeError", () => {
  const t = new RouteTable();
  assert.throws(() => t.add("198.51.100.0/33"), TypeError);
  assert.throws(() => t.add("banana"), TypeError);
  assert.throws(() => t.add("198.51.100.0/24", "1.2.3"), TypeError);
  assert.throws(() => t.add("198.51.100.0/24", "255.255.255.255"), TypeError);
});

Deno.test("RouteTable longest-prefix match across the int32 sign boundary", () => {
  // 127.x is positive as int32, 128.x and 192.x are negative: matching must not
  // depend on the sign, and 128.0.0.0/1 must not swallow 127.x.
  const t = new RouteTable();
  t.add("10.0.0.0/8");
  t.add("0.0.0.0/1", "10.0.0.1");
  t.add("127.0.0.0/8", "10.0.0.2");
  t.add("128.0.0.0/1", "10.0.0.3");
  t.add("192.0.0.0/2", "10.0.0.4");
  t.add("192.0.2.0/24", "10.0.0.5");
  t.add("203.0.113.128/25", "10.0.0.6");
  t.add("224.0.0.0/4", "10.0.0.7");
  assert.equal(t.nextHop(ip("127.255.255.255")), ip("10.0.0.2"));
  assert.equal(t.nextHop(ip("126.0.0.1")), ip("10.0.0.1"));
  assert.equal(t.nextHop(ip("128.0.0.0")), ip("10.0.0.3"));
  assert.equal(t.nextHop(ip("191.255.255.255")), ip("10.0.0.3"));
  assert.equal(t.nextHop(ip("192.0.2.77")), ip("10.0.0.5"));
  assert.equal(t.nextHop(ip("198.51.100.1")), ip("10.0.0.4"));
  assert.equal(t.nextHop(ip("203.0.113.200")), ip("10.0.0.6"));
  assert.equal(t.nextHop(ip("203.0.113.100")), ip("10.0.0.4"));
  assert.equal(t.nextHop(ip("224.0.0.251")), ip("10.0.0.7"));
  assert.equal(t.nextHop(ip("10.9.9.9")), ip("10.9.9.9"));
  // The unsigned form of a destination finds the same route and yields the int32 next hop.
  assert.equal(t.nextHop(0xcb0071c8), ip("10.0.0.6"));
  assert.equal(t.nextHop(0xc000024d), ip("10.0.0.5"));
  // Networks are listed (and replaced, removed) in the int32 form.
  const listed = t.list().map((r) => `${r.destination} ${r.gateway}`);
  assert.ok(listed.includes("128.0.0.0/1 10.0.0.3"), listed.join());
  assert.ok(listed.includes("192.0.2.0/24 10.0.0.5"), listed.join());
  t.add("128.0.0.0/1", "10.0.0.9");
  assert.equal(t.nextHop(ip("128.0.0.1")), ip("10.0.0.9"));
  assert.ok(t.remove("192.0.2.0/24"));
  assert.equal(t.nextHop(ip("192.0.2.77")), ip("10.0.0.4"));
});

Deno.test("RouteTable on-link next hops are int32 even for unsigned input", () => {
  const t = new RouteTable();
  t.add("203.0.113.0/24");
  t.add("0.0.0.0/0", 0xcb007101); // gateway given in the unsigned form
  assert.equal(t.nextHop(0xcb007163), 0xcb007163 | 0);
  assert.equal(t.nextHop(ip("198.51.100.1")), 0xcb007101 | 0);
  assert.equal(t.list()[1].gateway!.value, ip("203.0.113.1"));
  assert.throws(() => t.add("198.51.100.0/24", -1), TypeError, "255.255.255.255 as int32");
  assert.throws(() => t.add("198.51.100.0/24", 0xffffffff), TypeError);
});

Deno.test("RouteTable isGateway knows every route's gateway, in either number form", () => {
  const t = new RouteTable();
  t.add("203.0.113.0/24");
  t.add("0.0.0.0/0", "203.0.113.1");
  t.add("198.51.100.0/24", 0xcb007102); // unsigned form of 203.0.113.2
  assert.ok(t.isGateway(parseIpv4("203.0.113.1")!));
  assert.ok(t.isGateway(0xcb007102));
  assert.ok(t.isGateway(0xcb007102 | 0));
  assert.ok(!t.isGateway(parseIpv4("203.0.113.3")!));
  assert.ok(!t.isGateway(0), "an on-link route has no gateway");
  t.remove("0.0.0.0/0");
  assert.ok(!t.isGateway(parseIpv4("203.0.113.1")!));
});
