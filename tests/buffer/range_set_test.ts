import assert from "node:assert/strict";
import { RangeSet } from "../../src/buffer/range_set.ts";
import { mulberry32 as prng } from "../seeded_random.ts";

function ranges(set: RangeSet): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < set.count; i++) out.push([set.start(i), set.end(i)]);
  return out;
}

/** Runs of `true` in a boolean model, as [start, end) pairs. */
function modelRanges(bits: boolean[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < bits.length; i++) {
    if (bits[i] && (i === 0 || !bits[i - 1])) out.push([i, i]);
    if (bits[i]) out[out.length - 1][1] = i + 1;
  }
  return out;
}

Deno.test("RangeSet merges overlapping, adjacent and duplicate ranges", () => {
  const set = new RangeSet(8);
  assert.ok(set.add(10, 20));
  assert.ok(set.add(10, 20)); // duplicate
  assert.deepEqual(ranges(set), [[10, 20]]);
  assert.ok(set.add(20, 25)); // adjacent right
  assert.ok(set.add(5, 10)); // adjacent left
  assert.deepEqual(ranges(set), [[5, 25]]);
  assert.ok(set.add(30, 40));
  assert.ok(set.add(50, 60));
  assert.ok(set.add(22, 55)); // overlaps three
  assert.deepEqual(ranges(set), [[5, 60]]);
  assert.ok(set.add(7, 9)); // contained
  assert.deepEqual(ranges(set), [[5, 60]]);
  assert.ok(set.add(0, 100)); // contains
  assert.deepEqual(ranges(set), [[0, 100]]);
});

Deno.test("RangeSet add ignores empty ranges and rejects invalid ones", () => {
  const set = new RangeSet(2);
  assert.ok(set.add(5, 5));
  assert.ok(set.add(9, 3));
  assert.ok(set.isEmpty());
  assert.equal(set.add(-1, 4), false);
  assert.equal(set.add(NaN, 4), false);
  assert.equal(set.add(0, Infinity), false);
  assert.ok(set.isEmpty());
  assert.throws(() => new RangeSet(0), RangeError);
});

Deno.test("RangeSet refuses a range beyond the bound unless it merges", () => {
  const set = new RangeSet(2);
  assert.ok(set.add(0, 2));
  assert.ok(set.add(10, 12));
  assert.equal(set.add(5, 6), false);
  assert.equal(set.add(20, 21), false);
  assert.deepEqual(ranges(set), [[0, 2], [10, 12]]);
  assert.ok(set.add(2, 4), "adjacent ranges still merge at the bound");
  assert.ok(set.add(8, 10));
  assert.ok(set.add(3, 9), "a bridge reduces the count");
  assert.deepEqual(ranges(set), [[0, 12]]);
});

Deno.test("RangeSet frontLength and shift deliver in-order data", () => {
  const set = new RangeSet(4);
  set.add(1460, 2920);
  assert.equal(set.frontLength(), 0);
  set.add(0, 1460);
  assert.equal(set.frontLength(), 2920);
  set.add(4000, 5000);
  set.shift(set.frontLength());
  assert.deepEqual(ranges(set), [[1080, 2080]]);
  set.add(100, 200);
  set.shift(150); // straddles [100, 200)
  assert.deepEqual(ranges(set), [[0, 50], [930, 1930]]);
  set.shift(0);
  set.shift(-5);
  assert.deepEqual(ranges(set), [[0, 50], [930, 1930]]);
  set.shift(10_000);
  assert.ok(set.isEmpty());
});

Deno.test("RangeSet overlaps and covers", () => {
  const set = new RangeSet(4);
  set.add(10, 20);
  set.add(30, 40);
  assert.equal(set.overlaps(0, 10), false);
  assert.equal(set.overlaps(20, 30), false);
  assert.equal(set.overlaps(19, 21), true);
  assert.equal(set.overlaps(0, 100), true);
  assert.equal(set.overlaps(15, 15), false);
  assert.equal(set.covers(10, 20), true);
  assert.equal(set.covers(10, 31), false);
  assert.equal(set.covers(25, 25), true);
  assert.ok(Number.isNaN(set.start(2)));
});

Deno.test("RangeSet matches a boolean-array model under random operations", () => {
  const SPACE = 200;
  for (const bound of [1, 2, 3, 8, 64]) {
    const seed = 4242 + bound;
    const rand = prng(seed);
    const set = new RangeSet(bound);
    let bits: boolean[] = new Array(SPACE).fill(false);
    for (let step = 0; step < 5000; step++) {
      const ctx = `bound=${bound} seed=${seed} step=${step}`;
      const op = rand();
      const a = Math.floor(rand() * SPACE);
      const b = Math.min(SPACE, a + Math.floor(rand() * 30));
      if (op < 0.6) {
        const next = bits.slice();
        for (let i = a; i < b; i++) next[i] = true;
        const fits = modelRanges(next).length <= bound;
        const ok = set.add(a, b);
        // add may also succeed when the new count is within the bound: the
        // only failure is a new, separate range when the set is full.
        assert.equal(ok, fits || b <= a, ctx);
        if (ok) bits = next;
      } else if (op < 0.75) {
        let any = false;
        let all = true;
        for (let i = a; i < b; i++) {
          any ||= bits[i];
          all &&= bits[i];
        }
        assert.equal(set.overlaps(a, b), any, ctx);
        assert.equal(set.covers(a, b), all, ctx);
      } else if (op < 0.85) {
        const n = Math.floor(rand() * 20);
        set.shift(n);
        bits = bits.slice(n).concat(new Array(n).fill(false));
      } else if (op < 0.87) {
        set.clear();
        bits.fill(false);
      } else {
        const front = bits.indexOf(false) === -1 ? SPACE : bits.indexOf(false);
        assert.equal(set.frontLength(), front, ctx);
      }
      assert.deepEqual(ranges(set), modelRanges(bits), ctx);
    }
  }
});
