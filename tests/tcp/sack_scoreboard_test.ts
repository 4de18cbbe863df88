// The sender's SACK scoreboard (RFC 6675 §4) on its own: recording blocks, IsLost as a
// boundary, SetPipe and NextSeg rule 1, with a 1000-byte MSS over a ten-segment flight.
import assert from "node:assert/strict";
import { DUP_THRESH, SackScoreboard } from "../../src/tcp/sack_scoreboard.ts";
import { seqAdd } from "../../src/tcp/seq.ts";

const MSS = 1000;
/** Sequence number of send-queue offset 0 (SND.UNA when nothing but data is in flight). */
const DATA_SEQ = 1000;
/** Ten segments sent. */
const SND_MAX = DATA_SEQ + 10 * MSS;
const MAX_RANGES = 8;

/** A scoreboard holding SACKed segments given by index (segment i is [i*MSS, (i+1)*MSS)). */
function withSegments(...segments: number[]): SackScoreboard {
  const sb = new SackScoreboard(MAX_RANGES);
  for (const i of segments) {
    sb.update([DATA_SEQ + i * MSS, DATA_SEQ + (i + 1) * MSS], 1, DATA_SEQ, SND_MAX);
  }
  return sb;
}

function ranges(sb: SackScoreboard): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < sb.count; i++) out.push([sb.start(i), sb.end(i)]);
  return out;
}

Deno.test("SackScoreboard.update records blocks as send-queue offsets and reports new bytes", () => {
  const sb = new SackScoreboard(MAX_RANGES);
  assert.equal(sb.update([3000, 4000], 1, DATA_SEQ, SND_MAX), true);
  assert.deepEqual(ranges(sb), [[2000, 3000]]);
  // The same block again (a later duplicate ACK repeats it): nothing new.
  assert.equal(sb.update([3000, 4000], 1, DATA_SEQ, SND_MAX), false);
  // Two blocks in one ACK; one of them extends a known range.
  assert.equal(sb.update([6000, 7000, 3500, 5000], 2, DATA_SEQ, SND_MAX), true);
  assert.deepEqual(ranges(sb), [[2000, 4000], [5000, 6000]]);
  assert.equal(sb.sackedBytes(), 3000);
});

Deno.test("SackScoreboard.update ignores D-SACK blocks below SND.UNA and clips blocks beyond SND.MAX", () => {
  const sb = new SackScoreboard(MAX_RANGES);
  // RFC 2883 D-SACK: a block wholly below the send queue reports a duplicate, not a hole.
  assert.equal(sb.update([500, 1000], 1, DATA_SEQ, SND_MAX), false);
  assert.equal(sb.count, 0);
  // A block reaching past what was sent is cut at SND.MAX.
  assert.equal(sb.update([10_500, 12_000], 1, DATA_SEQ, SND_MAX), true);
  assert.deepEqual(ranges(sb), [[9500, 10_000]]);
  // Wholly beyond SND.MAX: nothing.
  assert.equal(sb.update([11_000, 12_000], 1, DATA_SEQ, SND_MAX), false);
  assert.equal(sb.count, 1);
});

Deno.test("SackScoreboard.update works across the sequence-number wrap", () => {
  const dataSeq = -500; // 2^32 - 500 as the engine holds it (int32)
  const sb = new SackScoreboard(MAX_RANGES);
  const sndMax = seqAdd(dataSeq, 10 * MSS);
  assert.equal(sb.update([seqAdd(dataSeq, 1000), seqAdd(dataSeq, 2000)], 1, dataSeq, sndMax), true);
  assert.deepEqual(ranges(sb), [[1000, 2000]]);
});

Deno.test("SackScoreboard is bounded: a block needing a range beyond the limit is not recorded", () => {
  const sb = new SackScoreboard(2);
  assert.equal(sb.update([2000, 3000, 4000, 5000], 2, DATA_SEQ, SND_MAX), true);
  assert.equal(sb.update([6000, 7000], 1, DATA_SEQ, SND_MAX), false);
  assert.deepEqual(ranges(sb), [[1000, 2000], [3000, 4000]]);
});

Deno.test("SackScoreboard.lostBoundary is RFC 6675 IsLost: DupThresh SACKed segments or more than (DupThresh-1)*MSS bytes above", () => {
  assert.equal(DUP_THRESH, 3);
  // Two SACKed segments above the hole: not lost yet.
  assert.equal(withSegments(2, 4).lostBoundary(MSS), 0);
  // Three discontiguous SACKed segments: everything below the lowest is lost.
  assert.equal(withSegments(2, 4, 6).lostBoundary(MSS), 2000);
  // Two ranges, but 2500 bytes SACKed (> 2 * MSS): lost.
  const sb = new SackScoreboard(MAX_RANGES);
  sb.update([3000, 4000, 5000, 6500], 2, DATA_SEQ, SND_MAX);
  assert.equal(sb.lostBoundary(MSS), 2000);
  // Four ranges: the boundary is the start of the third from the top.
  assert.equal(withSegments(2, 4, 6, 8).lostBoundary(MSS), 4000);
  assert.equal(new SackScoreboard(MAX_RANGES).lostBoundary(MSS), 0);
});

Deno.test("SackScoreboard.unsackedBelow counts the holes under an offset", () => {
  const sb = withSegments(2, 4, 6);
  assert.equal(sb.unsackedBelow(5500), 3500); // 0..2000, 3000..4000, 5000..5500
  assert.equal(sb.unsackedBelow(2000), 2000);
  assert.equal(sb.unsackedBelow(0), 0);
  assert.equal(sb.unsackedBelow(-10), 0);
});

Deno.test("SackScoreboard.pipe is RFC 6675 SetPipe: flight less SACKed and lost, plus what was retransmitted", () => {
  const sb = withSegments(2, 4, 6);
  const flight = 10 * MSS;
  // 3000 SACKed, 0..2000 lost, nothing retransmitted.
  assert.equal(sb.pipe(flight, 0, MSS), 5000);
  // The first lost segment was retransmitted (HighRxt at offset 1000): it is in the pipe again.
  assert.equal(sb.pipe(flight, 1000, MSS), 6000);
  // HighRxt below the send queue counts as nothing retransmitted.
  assert.equal(sb.pipe(flight, -3000, MSS), 5000);
  // Retransmissions beyond the lost boundary add nothing lost back.
  assert.equal(sb.pipe(flight, 9000, MSS), 7000);
});

Deno.test("SackScoreboard.nextLostHole is NextSeg rule 1: the first lost unSACKed hole at or above HighRxt", () => {
  const sb = withSegments(2, 4, 6, 8); // lost boundary 4000: holes 0..2000 and 3000..4000
  assert.equal(sb.nextLostHole(0, MSS), 0);
  assert.equal(sb.holeEnd, 2000);
  assert.equal(sb.nextLostHole(1000, MSS), 1000);
  assert.equal(sb.holeEnd, 2000);
  // HighRxt inside a SACKed range: the next hole begins above it.
  assert.equal(sb.nextLostHole(2000, MSS), 3000);
  assert.equal(sb.holeEnd, 4000);
  // Everything lost was retransmitted: the hole 5000..6000 is not deemed lost.
  assert.equal(sb.nextLostHole(4000, MSS), -1);
  assert.equal(withSegments(2, 4).nextLostHole(0, MSS), -1);
});

Deno.test("SackScoreboard.shift follows the send queue as it is acknowledged; clear forgets all", () => {
  const sb = withSegments(2, 4);
  sb.shift(2000);
  assert.deepEqual(ranges(sb), [[0, 1000], [2000, 3000]]);
  sb.shift(1500);
  assert.deepEqual(ranges(sb), [[500, 1500]]);
  sb.clear();
  assert.equal(sb.count, 0);
  assert.equal(sb.sackedBytes(), 0);
});
