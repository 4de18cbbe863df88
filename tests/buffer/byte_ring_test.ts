import assert from "node:assert/strict";
import {
  ByteRing,
  ByteRingStoragePool,
  COPY_LOOP_MAX_BYTES,
  copyBytes,
} from "../../src/buffer/byte_ring.ts";
import { mulberry32 as prng } from "../seeded_random.ts";
import { packetArena } from "../../src/buffer/arena.ts";

Deno.test("copyBytes copies short, long, whole and overlapping ranges", () => {
  const src = new Uint8Array(300).map((_, i) => i & 0xff);
  for (const n of [0, 1, COPY_LOOP_MAX_BYTES, COPY_LOOP_MAX_BYTES + 1, 299]) {
    const dst = new Uint8Array(310);
    copyBytes(src, 1, dst, 7, n);
    for (let i = 0; i < 310; i++) {
      assert.equal(dst[i], i >= 7 && i < 7 + n ? (i - 6) & 0xff : 0, `n=${n} i=${i}`);
    }
  }
  const dst = new Uint8Array(300);
  copyBytes(src, 0, dst, 0, 300);
  assert.deepEqual(dst, src);
  const same = new Uint8Array([1, 2, 3, 4, 5, 6]);
  copyBytes(same, 0, same, 2, 4);
  assert.deepEqual([...same], [1, 2, 1, 2, 3, 4]);
});

Deno.test("ByteRing rejects invalid capacities", () => {
  assert.throws(() => new ByteRing(0), RangeError);
  assert.throws(() => new ByteRing(2.5), RangeError);
  assert.throws(() => new ByteRing(-8), RangeError);
});

Deno.test("ByteRing write and read wrap around", () => {
  const ring = new ByteRing(10);
  assert.equal(ring.write(Uint8Array.of(1, 2, 3, 4, 5, 6, 7), 0, 7), 7);
  const out = new Uint8Array(10);
  assert.equal(ring.read(out, 0, 5), 5);
  assert.equal(ring.write(Uint8Array.of(8, 9, 10, 11, 12, 13, 14, 15, 16), 0, 9), 8);
  assert.equal(ring.free, 0);
  assert.equal(ring.write(Uint8Array.of(99), 0, 1), 0);
  assert.equal(ring.contiguousAt(0), 5);
  assert.equal(ring.physicalIndex(5), 0);
  assert.equal(ring.contiguousAt(5), 5);
  assert.equal(ring.read(out, 0, 10), 10);
  assert.deepEqual([...out], [6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  assert.ok(ring.isEmpty());
});

Deno.test("ByteRing exposes contiguous regions for in-place copies", () => {
  const ring = new ByteRing(16);
  const data = new Uint8Array(16).map((_, i) => 100 + i);
  ring.write(data, 0, 12);
  ring.discard(10);
  ring.write(data, 12, 4);
  ring.write(data, 0, 8); // readable: 10..15 then 0..7, wraps at physical 16
  assert.equal(ring.length, 14);
  // Collect the readable bytes through physicalIndex/contiguousAt only.
  const seen: number[] = [];
  let off = 0;
  while (off < ring.length) {
    const run = ring.contiguousAt(off);
    assert.ok(run > 0);
    const at = ring.physicalIndex(off);
    for (let k = 0; k < run; k++) seen.push(ring.bytes[at + k]);
    off += run;
  }
  assert.deepEqual(seen, [110, 111, 112, 113, 114, 115, ...data.subarray(0, 8)]);
  assert.equal(ring.contiguousAt(ring.length), 0);
  assert.equal(ring.contiguousAt(-1), 0);
  assert.equal(ring.physicalIndex(16), -1);
  assert.equal(ring.physicalIndex(-1), -1);
  assert.equal(ring.freeContiguousAt(0), 2);
  assert.equal(ring.freeContiguousAt(2), 0);
});

Deno.test("ByteRing writeAt holds out-of-order data until commit", () => {
  const ring = new ByteRing(8);
  ring.write(Uint8Array.of(1, 2), 0, 2);
  assert.equal(ring.writeAt(3, Uint8Array.of(6, 7, 8, 9), 0, 4), 3, "clamped to free space");
  assert.equal(ring.length, 2);
  assert.equal(ring.writeAt(0, Uint8Array.of(3, 4, 5), 0, 3), 3);
  ring.commit(6);
  const out = new Uint8Array(8);
  assert.equal(ring.peek(0, out, 0, 8), 8);
  assert.deepEqual([...out], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(ring.writeAt(0, Uint8Array.of(1), 0, 1), 0);
  assert.throws(() => ring.commit(1), RangeError);
  assert.throws(() => ring.commit(-1), RangeError);
});

Deno.test("ByteRing peek does not consume and clamps", () => {
  const ring = new ByteRing(5);
  ring.write(Uint8Array.of(1, 2, 3, 4), 0, 4);
  const out = new Uint8Array(5);
  assert.equal(ring.peek(2, out, 1, 5), 2);
  assert.deepEqual([...out], [0, 3, 4, 0, 0]);
  assert.equal(ring.peek(4, out, 0, 1), 0);
  assert.equal(ring.peek(-1, out, 0, 1), 0);
  assert.equal(ring.length, 4);
  assert.equal(ring.discard(-2), 0);
  assert.equal(ring.discard(10), 4);
});

Deno.test("ByteRing matches an array model under random operations", () => {
  for (const capacity of [1, 7, 64, 1000, 1024]) {
    const seed = 0xbeef + capacity;
    const rand = prng(seed);
    const ring = new ByteRing(capacity);
    // Model: readable bytes, plus a sparse map of out-of-order bytes past the end.
    let model: number[] = [];
    let pending = new Map<number, number>(); // offset past readable end -> byte
    const src = new Uint8Array(capacity * 2 + 64);
    const dst = new Uint8Array(capacity * 2 + 64);
    let stamp = 0;
    const maxLen = Math.max(2, Math.min(capacity + 3, 1500));
    for (let step = 0; step < 4000; step++) {
      const ctx = `capacity=${capacity} seed=${seed} step=${step}`;
      const op = Math.floor(rand() * 7);
      const len = Math.floor(rand() * maxLen);
      const srcOff = Math.floor(rand() * 32);
      for (let k = 0; k < len; k++) src[srcOff + k] = (stamp++ * 7 + 3) & 0xff;
      const free = capacity - model.length;
      if (op === 0) {
        const n = ring.write(src, srcOff, len);
        assert.equal(n, Math.min(len, free), ctx);
        for (let k = 0; k < n; k++) model.push(src[srcOff + k]);
        // Data written in order overwrites the space that held pending bytes.
        const next = new Map<number, number>();
        for (const [o, b] of pending) if (o >= n) next.set(o - n, b);
        pending = next;
      } else if (op === 1) {
        const offset = Math.floor(rand() * (free + 2));
        const n = ring.writeAt(offset, src, srcOff, len);
        assert.equal(n, Math.max(0, Math.min(len, free - offset)), ctx);
        for (let k = 0; k < n; k++) pending.set(offset + k, src[srcOff + k]);
      } else if (op === 2) {
        // Commit the contiguous pending prefix.
        let n = 0;
        while (pending.has(n)) n++;
        n = Math.floor(rand() * (n + 1));
        ring.commit(n);
        for (let k = 0; k < n; k++) model.push(pending.get(k)!);
        const next = new Map<number, number>();
        for (const [o, b] of pending) if (o >= n) next.set(o - n, b);
        pending = next;
      } else if (op === 3) {
        const dstOff = Math.floor(rand() * 32);
        const n = ring.read(dst, dstOff, len);
        assert.equal(n, Math.min(len, model.length), ctx);
        assert.deepEqual([...dst.subarray(dstOff, dstOff + n)], model.slice(0, n), ctx);
        model = model.slice(n);
      } else if (op === 4) {
        const offset = Math.floor(rand() * (model.length + 2));
        const dstOff = Math.floor(rand() * 32);
        const n = ring.peek(offset, dst, dstOff, len);
        assert.equal(n, Math.max(0, Math.min(len, model.length - offset)), ctx);
        assert.deepEqual(
          [...dst.subarray(dstOff, dstOff + n)],
          model.slice(offset, offset + n),
          ctx,
        );
      } else if (op === 5) {
        const n = ring.discard(len);
        assert.equal(n, Math.min(len, model.length), ctx);
        model = model.slice(n);
      } else {
        // Walk the contiguous regions and compare with the model.
        let off = Math.floor(rand() * (model.length + 1));
        while (off < model.length) {
          const run = ring.contiguousAt(off);
          assert.ok(run > 0 && off + run <= model.length, ctx);
          const at = ring.physicalIndex(off);
          assert.ok(at + run <= capacity, ctx);
          for (let k = 0; k < run; k++) assert.equal(ring.bytes[at + k], model[off + k], ctx);
          off += run;
        }
        assert.equal(ring.contiguousAt(model.length), 0, ctx);
        // Free-space runs tile the free space exactly.
        let freeOff = 0;
        while (freeOff < free) {
          const run = ring.freeContiguousAt(freeOff);
          assert.ok(run > 0, ctx);
          const at = ring.physicalIndex(model.length + freeOff);
          assert.ok(at + run <= capacity, ctx);
          freeOff += run;
        }
        assert.equal(freeOff, free, ctx);
      }
      assert.equal(ring.length, model.length, ctx);
      assert.equal(ring.free, capacity - model.length, ctx);
    }
  }
});

Deno.test("ByteRing.peekSum copies like peek and sums the copied bytes across the wrap", () => {
  const rand = prng(0x22);
  const reference = (b: Uint8Array, off: number, n: number) => {
    let sum = 0;
    for (let k = 0; k < n; k++) {
      sum += (k & 1) === 0 ? b[off + k] << 8 : b[off + k];
      if (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    }
    return sum;
  };
  const capacity = 4096;
  const ring = new ByteRing(capacity);
  // In the packet arena (the WebAssembly path) and outside it (copy, then sum).
  const arenaDst = packetArena().allocView(capacity + 64)!;
  for (const dst of [arenaDst, new Uint8Array(capacity + 64)]) {
    for (let round = 0; round < 300; round++) {
      const data = new Uint8Array(1 + ((rand() * (capacity - 1)) | 0));
      for (let k = 0; k < data.length; k++) data[k] = (rand() * 256) | 0;
      ring.clear();
      // Move the start so that the data wraps at an odd or even point.
      const skip = (rand() * capacity) | 0;
      ring.write(new Uint8Array(skip), 0, skip);
      ring.discard(skip);
      ring.write(data, 0, data.length);
      const offset = (rand() * data.length) | 0;
      const want = data.length - offset + 5; // more than there is: copies what there is
      const at = (rand() * 32) | 0;
      const expected = new Uint8Array(dst.length);
      const got = ring.peek(offset, expected, at, want);
      const sum = ring.peekSum(offset, dst, at, want);
      assert.deepEqual(dst.subarray(at, at + got), expected.subarray(at, at + got));
      assert.equal(sum, reference(data, offset, got), `sum of ${got} bytes from ${offset}`);
    }
  }
  assert.equal(ring.peekSum(ring.length, arenaDst, 0, 10), 0);
});

Deno.test("ByteRing.grow keeps readable and out-of-order bytes at their offsets across the wrap", () => {
  const ring = new ByteRing(8);
  ring.write(new Uint8Array([1, 2, 3, 4, 5, 6]), 0, 6);
  ring.discard(5); // start at physical 5
  ring.write(new Uint8Array([7, 8, 9]), 0, 3); // readable 6,7,8,9 wraps
  ring.writeAt(2, new Uint8Array([20, 21]), 0, 2); // out of order at offsets 6..7
  assert.ok(ring.grow(16));
  assert.equal(ring.capacity, 16);
  assert.equal(ring.length, 4);
  assert.equal(ring.free, 12);
  ring.writeAt(0, new Uint8Array([10, 11]), 0, 2); // fills the gap
  ring.commit(4);
  const out = new Uint8Array(8);
  assert.equal(ring.read(out, 0, 8), 8);
  assert.deepEqual([...out], [6, 7, 8, 9, 10, 11, 20, 21]);
});

Deno.test("ByteRing.grow never shrinks, a lazy ring without storage only changes size, and the pool keeps only the grown size", () => {
  const pool = new ByteRingStoragePool();
  const ring = new ByteRing(64, { lazy: true, pool });
  assert.ok(!ring.grow(64) && !ring.grow(32));
  assert.ok(ring.grow(128));
  assert.ok(!ring.allocated);
  assert.equal(ring.free, 128);
  ring.write(new Uint8Array(100), 0, 100);
  assert.equal(ring.bytes.length, 128);
  // Grown with storage: the old array does not crowd the pool; the grown size goes there.
  assert.ok(ring.grow(256));
  assert.equal(pool.retainedBytes, 0);
  assert.equal(ring.length, 100);
  ring.discard(100);
  assert.ok(ring.release());
  assert.equal(pool.retainedBytes, 256);
});
