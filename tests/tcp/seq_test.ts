import assert from "node:assert/strict";
import {
  seqAdd,
  seqGe,
  seqGt,
  seqInWindow,
  seqLe,
  seqLt,
  seqMax,
  seqMin,
  seqSub,
} from "../../src/tcp/seq.ts";

Deno.test("seqLt compares across the 2^32 wrap", () => {
  assert.ok(seqLt(0xffffff00, 0x10));
  assert.ok(!seqLt(0x10, 0xffffff00));
  assert.ok(!seqLt(5, 5));
  assert.ok(seqLe(5, 5) && seqGe(5, 5));
  assert.ok(seqGt(0, 0xffffffff) && !seqGt(0xffffffff, 0));
});

Deno.test("seqAdd and seqSub wrap modulo 2^32", () => {
  assert.equal(seqAdd(0xffffffff, 1), 0);
  assert.equal(seqAdd(0, -1), 0xffffffff);
  assert.equal(seqSub(3, 0xfffffffe), 5);
  assert.equal(seqSub(0xfffffffe, 3), -5);
  for (let i = 0; i < 1000; i++) {
    const a = (Math.random() * 2 ** 32) >>> 0;
    const d = Math.floor(Math.random() * 2 ** 30);
    assert.equal(seqSub(seqAdd(a, d), a), d);
    assert.ok(seqLt(a, seqAdd(a, d + 1)));
  }
});

Deno.test("seqInWindow handles wrap and empty windows", () => {
  assert.ok(seqInWindow(0, 0xfffffff0, 0x20));
  assert.ok(seqInWindow(0xfffffff0, 0xfffffff0, 1));
  assert.ok(!seqInWindow(0x10, 0xfffffff0, 0x20));
  assert.ok(!seqInWindow(7, 7, 0));
  assert.equal(seqMax(0xfffffff0, 2), 2);
  assert.equal(seqMin(0xfffffff0, 2), 0xfffffff0);
});
