import assert from "node:assert/strict";
import { DnsError } from "../../src/dns/dns_error.ts";

Deno.test("DnsError carries code, name and type", () => {
  const e = new DnsError("TIMEOUT", "host.test", "AAAA", "no answer");
  assert.ok(e instanceof Error);
  assert.equal(e.name, "DnsError");
  assert.equal(e.code, "TIMEOUT");
  assert.equal(e.hostname, "host.test");
  assert.equal(e.recordType, "AAAA");
  assert.equal(e.message, "TIMEOUT: host.test AAAA: no answer");
});
