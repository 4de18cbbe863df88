import assert from "node:assert/strict";
import {
  seqAdd,
  seqFrom,
  seqGe,
  seqGt,
  seqInWindow,
  seqLe,
  seqLt,
  seqMax,
  seqMin,
  seqSub,
  seqUnsigned,
} from "../../src/tcp/seq.ts";
import { mulberry32 } from "../seeded_random.ts";

const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

function isInt32(x: number): boolean {
  return (x | 0) === x;
}

Deno.test("seqLt compares across the 2^32 wrap", () => {
  assert.ok(seqLt(0xffffff00, 0x10));
  assert.ok(!seqLt(0x10, 0xffffff00));
  assert.ok(!seqLt(5, 5));
  assert.ok(seqLe(5, 5) && seqGe(5, 5));
  assert.ok(seqGt(0, 0xffffffff) && !seqGt(0xffffffff, 0));
  // The same comparisons with int32 inputs (the engine's form).
  assert.ok(seqLt(-256, 0x10) && !seqLt(0x10, -256));
  assert.ok(seqGt(0, -1) && !seqGt(-1, 0));
});

Deno.test("seqLt compares across the 2^31 boundary in int32 form", () => {
  // 0x7fffffff precedes 0x80000000 (= INT32_MIN as int32): a plain `<` would say otherwise.
  assert.ok(seqLt(INT32_MAX, INT32_MIN));
  assert.ok(seqGt(INT32_MIN, INT32_MAX));
  assert.ok(seqLe(INT32_MAX - 5, INT32_MIN + 5));
  assert.ok(seqGe(INT32_MIN + 5, INT32_MAX - 5));
  assert.equal(seqSub(INT32_MIN, INT32_MAX), 1);
  assert.equal(seqSub(INT32_MAX, INT32_MIN), -1);
  assert.equal(seqMax(INT32_MAX, INT32_MIN), INT32_MIN);
  assert.equal(seqMin(INT32_MAX, INT32_MIN), INT32_MAX);
  // Mixed forms of the same number compare equal through the helpers.
  assert.equal(seqSub(0x80000000, INT32_MIN), 0);
  assert.ok(seqLe(0x80000000, INT32_MIN) && seqGe(0x80000000, INT32_MIN));
});

Deno.test("seqAdd returns int32 and wraps modulo 2^32", () => {
  assert.equal(seqAdd(0xffffffff, 1), 0);
  assert.equal(seqAdd(-1, 1), 0);
  assert.equal(seqAdd(0, -1), -1);
  assert.equal(seqAdd(INT32_MAX, 1), INT32_MIN);
  assert.equal(seqAdd(INT32_MIN, -1), INT32_MAX);
  assert.equal(seqAdd(0x80000000, 0), INT32_MIN, "unsigned input comes back as int32");
  assert.equal(seqSub(3, 0xfffffffe), 5);
  assert.equal(seqSub(3, -2), 5);
  assert.equal(seqSub(0xfffffffe, 3), -5);
  const rand = mulberry32(0x5e9);
  for (let i = 0; i < 2000; i++) {
    const u = Math.floor(rand() * 2 ** 32); // unsigned form
    const a = i % 2 === 0 ? u : u | 0; // either form in
    const d = Math.floor(rand() * 2 ** 30);
    const b = seqAdd(a, d);
    assert.ok(isInt32(b), `seqAdd(${a}, ${d}) = ${b} is int32`);
    assert.equal(b >>> 0, (u + d) % 2 ** 32);
    assert.equal(seqSub(b, a), d);
    assert.equal(seqSub(a, b), -d);
    assert.ok(seqLt(a, seqAdd(a, d + 1)));
    assert.ok(seqGt(seqAdd(a, d + 1), u | 0));
  }
});

Deno.test("seqFrom and seqUnsigned convert between the two forms", () => {
  assert.equal(seqFrom(0xffffffff), -1);
  assert.equal(seqFrom(0x80000000), INT32_MIN);
  assert.equal(seqFrom(42), 42);
  assert.equal(seqUnsigned(-1), 0xffffffff);
  assert.equal(seqUnsigned(INT32_MIN), 0x80000000);
  assert.equal(seqUnsigned(42), 42);
  for (const u of [0, 1, INT32_MAX, 0x80000000, 0xfffffffe, 0xffffffff]) {
    assert.equal(seqUnsigned(seqFrom(u)), u);
  }
});

Deno.test("seqInWindow handles wrap, the 2^31 boundary and empty windows", () => {
  assert.ok(seqInWindow(0, 0xfffffff0, 0x20));
  assert.ok(seqInWindow(0, -16, 0x20));
  assert.ok(seqInWindow(0xfffffff0, 0xfffffff0, 1));
  assert.ok(seqInWindow(-16, 0xfffffff0, 1), "mixed forms");
  assert.ok(!seqInWindow(0x10, 0xfffffff0, 0x20));
  assert.ok(!seqInWindow(-17, -16, 0x20));
  assert.ok(!seqInWindow(7, 7, 0));
  assert.ok(!seqInWindow(7, 7, -5));
  // A window straddling 2^31.
  assert.ok(seqInWindow(INT32_MIN, INT32_MAX - 10, 100));
  assert.ok(seqInWindow(INT32_MAX, INT32_MAX - 10, 100));
  assert.ok(!seqInWindow(INT32_MIN + 89, INT32_MAX - 10, 100));
  assert.ok(seqInWindow(INT32_MIN + 88, INT32_MAX - 10, 100));
  // The largest window, 2^31: everything from start up to start + 2^31 - 1.
  assert.ok(seqInWindow(seqAdd(5, INT32_MAX), 5, 2 ** 31));
  assert.ok(!seqInWindow(4, 5, 2 ** 31));
  assert.equal(seqMax(0xfffffff0, 2), 2);
  assert.equal(seqMin(0xfffffff0, 2), 0xfffffff0);
  assert.equal(seqMin(-16, 2), -16);
});
