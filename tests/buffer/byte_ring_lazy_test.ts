import assert from "node:assert/strict";
import { ByteRing, ByteRingStoragePool } from "../../src/buffer/byte_ring.ts";

Deno.test("ByteRing with lazy storage allocates on the first write only", () => {
  const ring = new ByteRing(16, { lazy: true });
  assert.equal(ring.allocated, false);
  assert.equal(ring.free, 16);
  const out = new Uint8Array(4);
  assert.equal(ring.read(out, 0, 4), 0);
  assert.equal(ring.peek(0, out, 0, 4), 0);
  assert.equal(ring.discard(3), 0);
  assert.equal(ring.allocated, false, "reads and discards of an empty ring attach nothing");
  assert.equal(ring.write(new Uint8Array([1, 2, 3]), 0, 3), 3);
  assert.equal(ring.allocated, true);
  assert.equal(ring.read(out, 0, 4), 3);
  assert.deepEqual([...out.subarray(0, 3)], [1, 2, 3]);
});

Deno.test("ByteRing.release gives storage back only when empty and keeps working after", () => {
  const pool = new ByteRingStoragePool();
  const ring = new ByteRing(8, { lazy: true, pool });
  ring.write(new Uint8Array([1, 2, 3, 4, 5, 6]), 0, 6);
  ring.discard(5); // start moves to 5: the next data wraps
  assert.equal(ring.release(), false, "one byte is still readable");
  ring.discard(1);
  assert.equal(ring.release(), true);
  assert.equal(ring.allocated, false);
  assert.equal(pool.retainedBytes, 8);
  assert.equal(ring.release(), false, "nothing left to release");
  // Reused storage holds old bytes; the ring never shows them.
  ring.write(new Uint8Array([7, 8, 9]), 0, 3);
  assert.equal(pool.retainedBytes, 0, "taken back from the pool");
  const out = new Uint8Array(8);
  assert.equal(ring.read(out, 0, 8), 3);
  assert.deepEqual([...out.subarray(0, 3)], [7, 8, 9]);
});

Deno.test("ByteRing lazy storage accepts out-of-order writeAt and commit", () => {
  const ring = new ByteRing(8, { lazy: true });
  assert.equal(ring.writeAt(3, new Uint8Array([4, 5]), 0, 2), 2);
  assert.equal(ring.allocated, true);
  assert.equal(ring.length, 0);
  ring.writeAt(0, new Uint8Array([1, 2, 3]), 0, 3);
  ring.commit(5);
  const out = new Uint8Array(5);
  ring.read(out, 0, 5);
  assert.deepEqual([...out], [1, 2, 3, 4, 5]);
  const fresh = new ByteRing(4, { lazy: true });
  fresh.commit(2); // committing bytes nobody wrote still needs storage behind them
  assert.equal(fresh.allocated, true);
  assert.equal(fresh.bytes.length, 4);
});

Deno.test("ByteRingStoragePool reuses by capacity and respects its bound", () => {
  const pool = new ByteRingStoragePool({ maxRetainedBytes: 24 });
  const a = pool.take(16);
  const b = pool.take(8);
  assert.equal(a.length, 16);
  assert.ok(pool.give(a));
  assert.ok(pool.give(b));
  assert.equal(pool.retainedBytes, 24);
  assert.equal(pool.give(new Uint8Array(8)), false, "over the bound: dropped");
  assert.equal(pool.take(8), b);
  assert.equal(pool.take(16), a);
  assert.notEqual(pool.take(16), a);
  assert.equal(pool.retainedBytes, 0);
  assert.equal(pool.give(new Uint8Array(0)), false);
});

Deno.test("ByteRingStoragePool drops smaller sizes to keep a larger one, never the reverse", () => {
  const pool = new ByteRingStoragePool({ maxRetainedBytes: 32 });
  const small = [pool.take(8), pool.take(8)];
  const medium = pool.take(16);
  for (const b of [...small, medium]) assert.ok(pool.give(b));
  assert.equal(pool.retainedBytes, 32);
  // A grown ring's storage (24 bytes) displaces the sizes first kept, smaller than it.
  const large = new Uint8Array(24);
  assert.ok(pool.give(large));
  assert.equal(pool.retainedBytes, 24); // the 8s first, then the 16
  assert.equal(pool.take(24), large);
  // Smaller storage never displaces larger.
  assert.ok(pool.give(new Uint8Array(24)));
  assert.equal(pool.give(new Uint8Array(16)), false);
});
