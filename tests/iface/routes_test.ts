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
