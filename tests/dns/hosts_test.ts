import assert from "node:assert/strict";
import { HostsTable } from "../../src/dns/hosts.ts";

Deno.test("HostsTable parses hosts(5) text with aliases and comments", () => {
  const t = HostsTable.parse(
    "# comment\n192.0.2.1\tgw.test gw # router\n\n2001:db8::1 gw.test\nnot-an-ip bad.test\n192.0.2.1 gw\n",
  );
  assert.deepEqual(t.lookup("gw.test", "A"), ["192.0.2.1"]);
  assert.deepEqual(t.lookup("GW", "A"), ["192.0.2.1"], "case-insensitive, no duplicates");
  assert.deepEqual(t.lookup("gw.test.", "AAAA"), ["2001:db8::1"]);
  assert.equal(t.lookup("gw", "AAAA"), null);
  assert.equal(t.lookup("bad.test", "A"), null);
  assert.equal(t.size, 2);
});

Deno.test("HostsTable add and delete validate their input", () => {
  const t = new HostsTable();
  t.add("a.test", "192.0.2.5");
  t.add("a.test", "192.0.2.6");
  const got = t.lookup("a.test", "A")!;
  assert.deepEqual(got, ["192.0.2.5", "192.0.2.6"]);
  got.push("x");
  assert.equal(t.lookup("a.test", "A")!.length, 2, "lookup returns a copy");
  assert.throws(() => t.add("a.test", "192.0.2"), TypeError);
  assert.throws(() => t.add("", "192.0.2.1"), TypeError);
  assert.ok(t.delete("A.TEST"));
  assert.equal(t.lookup("a.test", "A"), null);
  assert.ok(!t.delete("a.test"));
});
