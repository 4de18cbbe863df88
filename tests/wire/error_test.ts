import assert from "node:assert/strict";
import { isWireError, WireError } from "../../src/wire/error.ts";

Deno.test("WireError carries protocol, kind and message", () => {
  const e = new WireError("tcp", "bad-data-offset", "data offset 4 < 5");
  assert.equal(e.protocol, "tcp");
  assert.equal(e.kind, "bad-data-offset");
  assert.equal(e.message, "data offset 4 < 5");
  assert.equal(e.toString(), "tcp: bad-data-offset: data offset 4 < 5");
  assert.equal(`${e}`, "tcp: bad-data-offset: data offset 4 < 5");
});

Deno.test("WireError is a value, not an exception class", () => {
  const e = new WireError("dns", "pointer-loop", "x");
  assert.ok(!(e instanceof Error));
});

Deno.test("isWireError distinguishes failures from reprs and other values", () => {
  assert.equal(isWireError(new WireError("udp", "truncated", "3 < 8")), true);
  for (
    const v of [null, undefined, 0, "udp: truncated", {}, { kind: "truncated" }, new Error("x")]
  ) {
    assert.equal(isWireError(v), false, String(v));
  }
});
