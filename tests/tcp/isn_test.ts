import assert from "node:assert/strict";
import {
  hashFourTuple,
  initialSequenceNumber,
  randomSecret,
  sipHash24,
  sipHashHigh,
} from "../../src/tcp/isn.ts";

// Reference vectors from the SipHash paper / reference implementation (vectors.h), key 00..0f,
// messages 00, 00 01, ... : the 64-bit outputs as little-endian byte strings.
const VECTORS: [number, string][] = [
  [0, "310e0edd47db6f72"],
  [1, "fd67dc93c539f874"],
  [7, "37d1018bf50002ab"],
  [8, "6224939a79f5f593"],
  [15, "e545be4961ca29a1"],
  [63, "724506eb4c328a95"],
];

function leHex(lo: number, hi: number): string {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, lo, true);
  new DataView(b.buffer).setUint32(4, hi, true);
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

Deno.test("sipHash24 matches the reference vectors", () => {
  const key = Uint8Array.from({ length: 16 }, (_, i) => i);
  const msg = Uint8Array.from({ length: 64 }, (_, i) => i);
  for (const [len, hex] of VECTORS) {
    const lo = sipHash24(key, msg, 0, len);
    assert.equal(leHex(lo, sipHashHigh()), hex, `length ${len}`);
  }
});

Deno.test("initialSequenceNumber advances with a 4 µs clock and depends on the tuple and secret", () => {
  const s = new Uint8Array(16).fill(1);
  const a0 = initialSequenceNumber(s, 1000, 1, 80, 2, 40000);
  const a1 = initialSequenceNumber(s, 1004, 1, 80, 2, 40000);
  assert.equal((a1 - a0) >>> 0, 1000); // 4 ms = 1000 ticks
  const other = initialSequenceNumber(s, 1000, 1, 80, 2, 40001);
  assert.notEqual(other, a0);
  const s2 = new Uint8Array(16).fill(2);
  assert.notEqual(initialSequenceNumber(s2, 1000, 1, 80, 2, 40000), a0);
  assert.equal(randomSecret().length, 16);
  assert.equal(hashFourTuple(s, 1, 2, 3, 4, 5), hashFourTuple(s, 1, 2, 3, 4, 5));
});

Deno.test("initialSequenceNumber wraps after 2^32 ticks", () => {
  const s = new Uint8Array(16);
  const period = 2 ** 32 / 250; // ms
  const a = initialSequenceNumber(s, 10, 1, 1, 2, 2);
  const b = initialSequenceNumber(s, 10 + period, 1, 1, 2, 2);
  assert.equal(a, b);
});
