// The receiver's SACK blocks (RFC 2018 §4): the most recent out-of-order segments and the
// option built from them and the reassembly ranges.
import assert from "node:assert/strict";
import { RangeSet } from "../../src/buffer/range_set.ts";
import {
  fillSackBlocks,
  SACK_BLOCKS_WITH_TS,
  SACK_BLOCKS_WITHOUT_TS,
  SackBlocks,
  sackOptionBytes,
} from "../../src/tcp/sack_blocks.ts";
import { newTcpRepr } from "../../src/wire/tcp.ts";

const RCV_NXT = 10_000;

function recentList(s: SackBlocks): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.count; i++) out.push(s.at(i));
  return out;
}

function blocks(ooo: RangeSet, recent: SackBlocks | null, max: number): number[] {
  const r = newTcpRepr();
  r.sackCount = 7; // overwritten
  fillSackBlocks(r, ooo, recent, RCV_NXT, max);
  return r.sackBlocks.slice(0, 2 * r.sackCount);
}

Deno.test("SackBlocks.note keeps the newest segment first, without repeats, at most four", () => {
  const s = new SackBlocks();
  for (const seq of [11_000, 13_000, 15_000]) s.note(seq);
  assert.deepEqual(recentList(s), [15_000, 13_000, 11_000]);
  // A segment noted again moves to the front.
  s.note(11_000);
  assert.deepEqual(recentList(s), [11_000, 15_000, 13_000]);
  s.note(17_000);
  s.note(19_000);
  assert.deepEqual(recentList(s), [19_000, 17_000, 11_000, 15_000]);
});

Deno.test("SackBlocks.prune forgets segments that RCV.NXT has passed", () => {
  const s = new SackBlocks();
  for (const seq of [11_000, 13_000, 15_000]) s.note(seq);
  s.prune(13_000);
  assert.deepEqual(recentList(s), [15_000]);
  // RCV.NXT just before the wrap (2^32 - 5 as int32) is behind them, modulo 2^32.
  s.prune(-5);
  assert.deepEqual(recentList(s), [15_000]);
});

Deno.test("fillSackBlocks puts the block of the newest segment first, then the others in order", () => {
  const ooo = new RangeSet(8);
  ooo.add(1000, 2000); // 11000..12000
  ooo.add(3000, 4000); // 13000..14000
  ooo.add(5000, 6000); // 15000..16000
  const recent = new SackBlocks();
  recent.note(11_000);
  recent.note(13_500); // inside the second range
  assert.deepEqual(blocks(ooo, recent, SACK_BLOCKS_WITHOUT_TS), [
    13_000,
    14_000,
    11_000,
    12_000,
    15_000,
    16_000,
  ]);
  // Without recent segments: in order; capped at three blocks beside timestamps.
  ooo.add(7000, 8000);
  assert.deepEqual(blocks(ooo, null, SACK_BLOCKS_WITH_TS), [
    11_000,
    12_000,
    13_000,
    14_000,
    15_000,
    16_000,
  ]);
  assert.equal(blocks(ooo, recent, SACK_BLOCKS_WITHOUT_TS).length, 2 * SACK_BLOCKS_WITHOUT_TS);
});

Deno.test("sackOptionBytes is NOP NOP kind length plus eight bytes a block", () => {
  assert.equal(sackOptionBytes(1), 12);
  assert.equal(sackOptionBytes(3), 28);
  assert.equal(sackOptionBytes(4), 36);
});
