import assert from "node:assert/strict";
import { normalizeDnsName, recordTypeCode } from "../../src/dns/name.ts";

Deno.test("normalizeDnsName folds ASCII case only and strips the root dot", () => {
  assert.equal(normalizeDnsName("WWW.Example.TEST."), "www.example.test");
  assert.equal(normalizeDnsName("."), ".");
  assert.equal(normalizeDnsName("ÄB.test"), "Äb.test", "non-ASCII is left alone (RFC 4343 §3)");
});

Deno.test("recordTypeCode maps A and AAAA", () => {
  assert.equal(recordTypeCode("A"), 1);
  assert.equal(recordTypeCode("AAAA"), 28);
});
