import assert from "node:assert/strict";
import { SentRanges } from "../../src/trace/sent_ranges.ts";
import { mulberry32 } from "../seeded_random.ts";

const SEQ_SPACE = 2 ** 32;

/** a < b modulo 2^32 (RFC 1982 style), as the trace compares sequence numbers. */
function seqLess(a: number, b: number): boolean {
  const d = (b - a + SEQ_SPACE) % SEQ_SPACE;
  return d !== 0 && d < 2 ** 31;
}

/** The plain definition: scan every earlier range, latest first, compared modulo 2^32. */
class Naive {
  sent: { start: number; end: number; segment: number }[] = [];
  paint(start: number, end: number, segment: number): number {
    let latest = -1;
    for (let i = this.sent.length - 1; i >= 0; i--) {
      const s = this.sent[i];
      if (seqLess(s.start, end) && seqLess(start, s.end)) {
        latest = s.segment;
        break;
      }
    }
    this.sent.push({ start, end, segment });
    return latest;
  }
}

Deno.test("SentRanges reports the latest overlapping earlier range, as a full scan would", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const rnd = mulberry32(seed);
    const fast = new SentRanges();
    const naive = new Naive();
    // Ranges near 0 or near 2^32 (some running past it), short and long, often reused.
    const origin = seed % 3 === 0 ? SEQ_SPACE - 3000 : 0;
    for (let i = 0; i < 300; i++) {
      const start = (origin + Math.floor(rnd() * 6000)) % SEQ_SPACE;
      const end = start + 1 + Math.floor(rnd() * (rnd() < 0.8 ? 200 : 2000));
      assert.equal(fast.paint(start, end, i), naive.paint(start, end, i), `seed ${seed}, #${i}`);
    }
  }
});

Deno.test("SentRanges splits pieces it partly covers", () => {
  const r = new SentRanges();
  assert.equal(r.paint(0, 1000, 0), -1);
  assert.equal(r.paint(400, 600, 1), 0); // inside: [0,400) and [600,1000) stay 0
  assert.equal(r.paint(0, 100, 2), 0);
  assert.equal(r.paint(450, 550, 3), 1);
  assert.equal(r.paint(700, 800, 4), 0);
  assert.equal(r.paint(350, 450, 5), 1); // [350,400) is 0's, [400,450) is 1's: the latest is 1
  assert.equal(r.paint(1000, 1100, 6), -1); // touching is not overlapping
  assert.equal(r.paint(SEQ_SPACE - 10, SEQ_SPACE + 10, 7), 2); // wraps onto [0, 10)
  assert.equal(r.paint(SEQ_SPACE - 5, SEQ_SPACE - 4, 8), 7);
});
