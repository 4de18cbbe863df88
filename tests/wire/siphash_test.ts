import assert from "node:assert/strict";
import { sipHash24, sipHash24Int32, sipHashHigh } from "../../src/wire/siphash.ts";
import { mulberry32 } from "../seeded_random.ts";

Deno.test("sipHash24Int32 is sipHash24 as a signed 32-bit integer, high half alike", () => {
  const rnd = mulberry32(16);
  const key = Uint8Array.from({ length: 16 }, () => Math.floor(rnd() * 256));
  const msg = Uint8Array.from({ length: 40 }, () => Math.floor(rnd() * 256));
  for (let len = 0; len <= 40; len++) {
    const u = sipHash24(key, msg, 0, len);
    const hi = sipHashHigh();
    const i = sipHash24Int32(key, msg, 0, len);
    assert.equal(i, u | 0, `length ${len}`);
    assert.equal(i | 0, i, "int32");
    assert.equal(sipHashHigh(), hi);
    assert.ok(u >= 0 && hi >= 0, "the unsigned forms stay unsigned");
  }
  // SipHash paper, appendix A: key 00..0f, message 00..0e → a129ca6149be45e5.
  const k = Uint8Array.from({ length: 16 }, (_, i) => i);
  const m = Uint8Array.from({ length: 15 }, (_, i) => i);
  assert.equal(sipHash24Int32(k, m, 0, 15), 0x49be45e5);
  assert.equal(sipHashHigh(), 0xa129ca61);
});
