import assert from "node:assert/strict";
import {
  Arena,
  ARENA_ALIGN_BYTES,
  ARENA_MAP_PAGE_BYTES,
  ARENA_PAGE_BYTES,
  arenaClassSize,
  arenaCopy,
  packetArena,
} from "../../src/buffer/arena.ts";
import { instantiateMemoryCopy, MEMORY_COPY_WASM_BYTES } from "../../src/buffer/arena_wasm.ts";
import { ByteRing, ByteRingStoragePool, copyBytes } from "../../src/buffer/byte_ring.ts";

Deno.test("arenaClassSize rounds to 64 bytes and quarter powers of two", () => {
  assert.equal(arenaClassSize(1), 64);
  assert.equal(arenaClassSize(64), 64);
  assert.equal(arenaClassSize(65), 128);
  assert.equal(arenaClassSize(1514), 1536);
  assert.equal(arenaClassSize(2048), 2048);
  assert.equal(arenaClassSize(2049), 2560);
  assert.equal(arenaClassSize(256 * 1024), 256 * 1024);
  for (let n = 1; n < 100_000; n += 97) {
    const c = arenaClassSize(n);
    assert.ok(c >= n && c % ARENA_ALIGN_BYTES === 0, `class of ${n}`);
    assert.ok(n <= ARENA_ALIGN_BYTES || c <= n * 1.25 + ARENA_ALIGN_BYTES, `waste of ${n}`);
  }
});

Deno.test("Arena hands out disjoint aligned views and reuses freed regions", () => {
  const arena = new Arena({ maxBytes: 1 << 20 });
  const views = [100, 2000, 64, 5000, 100].map((n) => arena.allocView(n)!);
  views.forEach((v, i) => v.fill(i + 1));
  views.forEach((v, i) => {
    assert.equal(v.buffer, arena.buffer);
    assert.equal(v.byteOffset % ARENA_ALIGN_BYTES, 0);
    assert.ok(v.every((b) => b === i + 1), "no overlap");
  });
  const used = arena.usedBytes;
  const high = arena.highWaterBytes;
  arena.freeView(views[1]);
  assert.equal(arena.usedBytes, used - arenaClassSize(2000));
  const again = arena.allocView(1900)!; // same class as 2000
  assert.equal(again.byteOffset, views[1].byteOffset);
  assert.equal(arena.highWaterBytes, high);
  assert.throws(() => arena.freeView(views[1].subarray(1)), Error);
  assert.throws(() => arena.freeView(new Uint8Array(8)), Error);
});

Deno.test("Arena fixed layout spans maxBytes from the start", () => {
  const arena = new Arena({ maxBytes: 4 * ARENA_PAGE_BYTES, resizable: false });
  assert.equal(arena.sizeBytes, 4 * ARENA_PAGE_BYTES);
  assert.equal(arena.buffer.resizable, false);
  const v = arena.allocView(3 * ARENA_PAGE_BYTES)!;
  v.fill(1);
  assert.equal(arena.allocView(2 * ARENA_PAGE_BYTES), null);
});

Deno.test("Arena is bounded: a request beyond maxBytes returns null and is counted", () => {
  const arena = new Arena({ maxBytes: 2 * ARENA_PAGE_BYTES });
  const a = arena.allocView(ARENA_PAGE_BYTES)!;
  assert.ok(arena.allocView(ARENA_PAGE_BYTES) !== null);
  assert.equal(arena.allocView(64), null);
  assert.equal(arena.failedAllocations, 1);
  arena.freeView(a);
  assert.ok(arena.allocView(ARENA_PAGE_BYTES) !== null);
  assert.equal(arena.allocView(0), null);
  assert.throws(() => new Arena({ maxBytes: 0 }), RangeError);
});

Deno.test("Arena.allocPageView gives page-aligned regions, reused by size, gap not wasted", () => {
  const arena = new Arena({ maxBytes: 1 << 20, resizable: false });
  const small = arena.allocView(100)!; // bump pointer now at 128
  const page = arena.allocPageView(3 * ARENA_MAP_PAGE_BYTES + 1)!;
  assert.equal(page.length, 3 * ARENA_MAP_PAGE_BYTES + 1);
  assert.equal(page.byteOffset, ARENA_MAP_PAGE_BYTES);
  assert.equal(arena.usedBytes, 128 + 4 * ARENA_MAP_PAGE_BYTES);
  assert.equal(arena.highWaterBytes, 5 * ARENA_MAP_PAGE_BYTES);
  // The gap [128, 4096) went to the ordinary free lists as the largest classes that fit
  // (3584 + 384 bytes): requests of those classes fill it instead of new memory.
  assert.equal(arena.allocView(3584)!.byteOffset, 128);
  assert.equal(arena.allocView(384)!.byteOffset, 128 + 3584);
  assert.equal(arena.highWaterBytes, 5 * ARENA_MAP_PAGE_BYTES);
  // Freed and asked again with the same page-rounded size: the same region, no new memory.
  const high = arena.highWaterBytes;
  arena.freeView(page);
  assert.throws(() => arena.freeView(page), Error);
  const again = arena.allocPageView(4 * ARENA_MAP_PAGE_BYTES)!;
  assert.equal(again.byteOffset, page.byteOffset);
  assert.equal(arena.highWaterBytes, high);
  // Another size: a new region, also page-aligned; beyond maxBytes: null, counted.
  const other = arena.allocPageView(ARENA_MAP_PAGE_BYTES)!;
  assert.equal(other.byteOffset % ARENA_MAP_PAGE_BYTES, 0);
  assert.ok(other.byteOffset >= again.byteOffset + 4 * ARENA_MAP_PAGE_BYTES);
  const failed = arena.failedAllocations;
  assert.equal(arena.allocPageView(1 << 20), null);
  assert.equal(arena.failedAllocations, failed + 1);
  assert.equal(arena.allocPageView(0), null);
  assert.equal(arena.allocPageView(1.5), null);
  arena.freeView(small);
});

Deno.test("Arena.baseAddress is the address V8 uses for the arena's bytes", () => {
  const arena = packetArena();
  const address = arena.baseAddress;
  assert.ok(address !== null, "needs --allow-ffi");
  assert.equal(address % BigInt(ARENA_MAP_PAGE_BYTES), 0n);
  assert.equal(arena.baseAddress, address); // stable
  const region = arena.allocPageView(ARENA_MAP_PAGE_BYTES)!;
  region.fill(0);
  // Write through the raw address, read through the arena view: the same memory.
  const at = Deno.UnsafePointer.create(address + BigInt(region.byteOffset + 10))!;
  new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(at, 2)).set([0x5a, 0xc3]);
  assert.deepEqual([region[9], region[10], region[11], region[12]], [0, 0x5a, 0xc3, 0]);
  arena.freeView(region);
  // Every arena with a WebAssembly memory has its own page-aligned address.
  const own = new Arena({ maxBytes: 65536, resizable: false }).baseAddress;
  assert.ok(own !== null && own !== address && own % BigInt(ARENA_MAP_PAGE_BYTES) === 0n);
});

Deno.test("Arena grows on demand and views survive the growth", () => {
  const arena = new Arena({ maxBytes: 64 * ARENA_PAGE_BYTES, initialBytes: 1 });
  assert.ok(arena.resizable);
  assert.equal(arena.sizeBytes, ARENA_PAGE_BYTES);
  const a = arena.allocView(1000)!;
  a.fill(9);
  const b = arena.allocView(10 * ARENA_PAGE_BYTES)!;
  assert.ok(arena.sizeBytes >= 11 * ARENA_PAGE_BYTES);
  assert.equal(a.length, 1000);
  assert.equal(a[999], 9);
  arena.bytes.copyWithin(b.byteOffset, a.byteOffset, a.byteOffset + 1000);
  assert.equal(b[999], 9);
  assert.equal(arena.allocView(64 * ARENA_PAGE_BYTES), null);
});

Deno.test("packetArena is one fixed WebAssembly memory shared by the process", () => {
  const arena = packetArena();
  assert.equal(packetArena(), arena);
  assert.ok(arena.memory !== null && !arena.resizable);
  assert.equal(arena.sizeBytes, arena.maxBytes);
  assert.equal(arena.memory.buffer, arena.buffer);
});

Deno.test("arenaCopy copies between arena views and refuses others", () => {
  const arena = packetArena();
  const a = arena.allocView(3000)!;
  const b = arena.allocView(3000)!;
  for (let i = 0; i < 3000; i++) a[i] = i & 0xff;
  assert.ok(arenaCopy(a, 10, b, 20, 2000));
  for (let i = 0; i < 2000; i++) assert.equal(b[20 + i], (10 + i) & 0xff);
  assert.equal(arenaCopy(new Uint8Array(10), 0, b, 0, 10), false);
  assert.equal(arenaCopy(a, 0, new Uint8Array(10), 0, 10), false);
  // copyBytes takes the same path and gives the same result.
  b.fill(0);
  copyBytes(a, 5, b, 7, 1500);
  for (let i = 0; i < 1500; i++) assert.equal(b[7 + i], (5 + i) & 0xff);
  arena.freeView(a);
  arena.freeView(b);
});

Deno.test("arenaCopy overlaps like memmove in both directions and remembers no stale view", () => {
  const arena = packetArena();
  const a = arena.allocView(4096)!;
  const b = arena.allocView(4096)!;
  const fill = () => {
    for (let i = 0; i < 4096; i++) a[i] = (i * 7) & 0xff;
  };
  const expected = (from: number, to: number, n: number) => {
    const model = Array.from({ length: 4096 }, (_, i) => (i * 7) & 0xff);
    model.splice(to, n, ...model.slice(from, from + n));
    return model;
  };
  fill();
  assert.ok(arenaCopy(a, 100, a, 150, 1514)); // forwards over itself
  assert.deepEqual([...a], expected(100, 150, 1514));
  fill();
  assert.ok(arenaCopy(a, 150, a, 100, 1514)); // backwards over itself
  assert.deepEqual([...a], expected(150, 100, 1514));
  // The same source and destination again (remembered), then each swapped for a plain array:
  // refused every time, nothing written.
  assert.ok(arenaCopy(a, 0, b, 0, 64));
  b.fill(9);
  const plain = new Uint8Array(64).fill(1);
  assert.equal(arenaCopy(plain, 0, b, 0, 64), false);
  assert.equal(arenaCopy(a, 0, plain, 0, 64), false);
  assert.ok(b.every((x) => x === 9) && plain.every((x) => x === 1));
  assert.ok(arenaCopy(a, 0, b, 0, 0)); // zero bytes: nothing to do
  arena.freeView(a);
  arena.freeView(b);
});

Deno.test("the memory.copy module copies inside its memory and traps outside it", () => {
  assert.ok(WebAssembly.validate(MEMORY_COPY_WASM_BYTES));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
  const copy = instantiateMemoryCopy(memory);
  assert.ok(copy !== null);
  const bytes = new Uint8Array(memory.buffer);
  bytes.set([1, 2, 3, 4, 5], 10);
  copy(12, 10, 5); // overlapping, forwards
  assert.deepEqual([...bytes.subarray(10, 17)], [1, 2, 1, 2, 3, 4, 5]);
  assert.throws(() => copy(ARENA_PAGE_BYTES - 2, 0, 3), WebAssembly.RuntimeError);
  assert.throws(() => copy(0, ARENA_PAGE_BYTES, 1), WebAssembly.RuntimeError);
});

Deno.test("ByteRing storage comes from the packet arena and goes back to it", () => {
  const arena = packetArena();
  const ring = new ByteRing(4096);
  assert.ok(arena.contains(ring.bytes));
  const pool = new ByteRingStoragePool({ maxRetainedBytes: 0 });
  const lazy = new ByteRing(8192, { lazy: true, pool });
  lazy.write(new Uint8Array(10), 0, 10);
  assert.ok(arena.contains(lazy.bytes));
  const used = arena.usedBytes;
  lazy.discard(10);
  assert.ok(lazy.release());
  // Not retained (bound 0): the region went straight back to the arena.
  assert.equal(arena.usedBytes, used - 8192);
});

Deno.test("arena copies between a ring and a pool-sized view allocate nothing", () => {
  const arena = packetArena();
  const ring = new ByteRing(256 * 1024);
  const slot = arena.allocView(2048)!;
  const src = arena.allocView(64 * 1024)!;
  const rounds = 20_000;
  const run = () => {
    for (let i = 0; i < rounds; i++) {
      ring.write(src, 0, 1460);
      ring.peek(0, slot, 54, 1460);
      ring.discard(1460);
    }
  };
  run(); // warm up (compile)
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = Deno.memoryUsage().heapUsed;
  run();
  const grown = Deno.memoryUsage().heapUsed - before;
  // A subarray per copy would be ≥ 2 × 20,000 × 64 B = 2.5 MB; allow unrelated noise.
  assert.ok(grown < 256 * 1024, `heap grew ${grown} bytes over ${rounds} rounds`);
  assert.equal(slot[54], src[0]);
});
