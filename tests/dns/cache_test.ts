import assert from "node:assert/strict";
import { DnsCache } from "../../src/dns/cache.ts";

Deno.test("DnsCache expires entries at their TTL", () => {
  const c = new DnsCache();
  c.putPositive(1000, "host.test", "A", ["192.0.2.1"], 10);
  assert.deepEqual(c.get(10_999, "HOST.test.", "A")?.addresses, ["192.0.2.1"]);
  assert.equal(c.get(10_999, "host.test", "AAAA"), null, "types are separate");
  assert.equal(c.get(11_000, "host.test", "A"), null);
  assert.equal(c.size, 0, "an expired entry is removed when touched");
});

Deno.test("DnsCache clamps TTLs and skips zero TTLs", () => {
  const c = new DnsCache({ maxTtlSec: 5, maxNegativeTtlSec: 2 });
  c.putPositive(0, "a.test", "A", ["192.0.2.1"], 1_000_000);
  assert.equal(c.get(0, "a.test", "A")!.expiresMs, 5000);
  c.putNegative(0, "n.test", "A", "NODATA", 3600);
  assert.equal(c.get(0, "n.test", "A")!.expiresMs, 2000);
  c.putPositive(0, "z.test", "A", ["192.0.2.1"], 0);
  assert.equal(c.get(0, "z.test", "A"), null);
});

Deno.test("DnsCache applies NXDOMAIN to every type and NODATA to one", () => {
  const c = new DnsCache();
  c.putNegative(0, "gone.test", "AAAA", "NXDOMAIN", 60);
  assert.equal(c.get(0, "gone.test", "A")!.negative, "NXDOMAIN");
  assert.equal(c.get(0, "gone.test", "AAAA")!.negative, "NXDOMAIN");
  c.putPositive(0, "gone.test", "A", ["192.0.2.9"], 60);
  assert.equal(c.get(0, "gone.test", "A")!.negative, null, "a positive answer replaces it");
  assert.equal(c.get(0, "gone.test", "AAAA"), null);
  c.putNegative(0, "v4only.test", "AAAA", "NODATA", 60);
  assert.equal(c.get(0, "v4only.test", "AAAA")!.negative, "NODATA");
  assert.equal(c.get(0, "v4only.test", "A"), null);
});

Deno.test("DnsCache evicts the least recently used entry when full", () => {
  const c = new DnsCache({ maxEntries: 3 });
  for (const n of ["a", "b", "c"]) c.putPositive(0, `${n}.test`, "A", ["192.0.2.1"], 60);
  c.get(0, "a.test", "A"); // a is now the most recently used
  c.putPositive(0, "d.test", "A", ["192.0.2.1"], 60);
  assert.equal(c.size, 3);
  assert.equal(c.get(0, "b.test", "A"), null);
  assert.notEqual(c.get(0, "a.test", "A"), null);
  assert.notEqual(c.get(0, "d.test", "A"), null);
  const off = new DnsCache({ maxEntries: 0 });
  off.putPositive(0, "a.test", "A", ["192.0.2.1"], 60);
  assert.equal(off.size, 0);
});

Deno.test("DnsCache returns copies that callers cannot corrupt", () => {
  const c = new DnsCache();
  const list = ["192.0.2.1"];
  c.putPositive(0, "a.test", "A", list, 60);
  list.push("192.0.2.2");
  assert.deepEqual(c.get(0, "a.test", "A")!.addresses, ["192.0.2.1"]);
});
