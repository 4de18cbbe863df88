import assert from "node:assert/strict";
import { BufferPool, DEFAULT_SLOT_COUNT, DEFAULT_SLOT_SIZE } from "../../src/buffer/buffer_pool.ts";
import { PacketBuffer } from "../../src/buffer/packet_buffer.ts";
import { packetArena } from "../../src/buffer/arena.ts";

Deno.test("BufferPool uses the documented defaults", () => {
  const pool = new BufferPool();
  assert.equal(pool.slotSize, DEFAULT_SLOT_SIZE);
  assert.equal(pool.capacity, DEFAULT_SLOT_COUNT);
  assert.equal(pool.slabBytes.length, DEFAULT_SLOT_SIZE * DEFAULT_SLOT_COUNT);
  assert.equal(pool.inUse, 0);
  assert.equal(pool.available, DEFAULT_SLOT_COUNT);
});

Deno.test("BufferPool rejects invalid options", () => {
  assert.throws(() => new BufferPool({ slotSize: 0 }), RangeError);
  assert.throws(() => new BufferPool({ slots: -1 }), RangeError);
  assert.throws(() => new BufferPool({ slotSize: 1.5 }), RangeError);
  assert.throws(() => new BufferPool({ slotSize: 64, defaultHeadroom: 65 }), RangeError);
});

Deno.test("BufferPool returns null when exhausted and counts failures", () => {
  const pool = new BufferPool({ slotSize: 64, slots: 3 });
  const bufs = [pool.alloc(), pool.alloc(), pool.alloc()];
  assert.ok(bufs.every((b) => b !== null));
  assert.equal(new Set(bufs.map((b) => b!.slot)).size, 3);
  assert.equal(pool.alloc(), null);
  assert.equal(pool.alloc(), null);
  assert.equal(pool.failedAllocations, 2);
  assert.equal(pool.inUse, 3);
  assert.equal(pool.available, 0);
  pool.free(bufs[1]!);
  const again = pool.alloc();
  assert.equal(again, bufs[1], "the freed slot is reused");
  assert.equal(pool.allocations, 4);
});

Deno.test("BufferPool tracks inUse and highWater", () => {
  const pool = new BufferPool({ slotSize: 32, slots: 8 });
  const held: PacketBuffer[] = [];
  for (let i = 0; i < 5; i++) held.push(pool.alloc()!);
  assert.equal(pool.highWater, 5);
  for (const b of held.splice(0, 4)) pool.free(b);
  assert.equal(pool.inUse, 1);
  assert.equal(pool.highWater, 5);
  for (let i = 0; i < 3; i++) held.push(pool.alloc()!);
  assert.equal(pool.inUse, 4);
  assert.equal(pool.highWater, 5);
});

Deno.test("BufferPool slots are disjoint views of one slab", () => {
  const pool = new BufferPool({ slotSize: 16, slots: 4 });
  const bufs = [0, 1, 2, 3].map(() => pool.alloc()!);
  for (const [i, b] of bufs.entries()) {
    assert.equal(b.bytes.buffer, pool.slab);
    assert.equal(b.bytes.length, 16);
    b.bytes.fill(i + 1);
  }
  const all = pool.slabBytes;
  for (const b of bufs) {
    const base = b.slot * 16;
    for (let k = 0; k < 16; k++) assert.equal(all[base + k], b.bytes[0]);
    assert.equal(b.bytes.byteOffset, pool.slabBytes.byteOffset + base);
  }
});

Deno.test("BufferPool alloc resets head and tail with the headroom", () => {
  const pool = new BufferPool({ slotSize: 128, slots: 1, defaultHeadroom: 10 });
  const a = pool.alloc()!;
  assert.equal(a.head, 10);
  a.append(50);
  pool.free(a);
  const b = pool.alloc(64)!;
  assert.equal(b, a);
  assert.equal(b.head, 64);
  assert.equal(b.length, 0);
  pool.free(b);
  const c = pool.alloc(1000)!;
  assert.equal(c.head, 128, "headroom is clamped to the slot");
});

Deno.test("BufferPool detects double free", () => {
  const pool = new BufferPool({ slotSize: 32, slots: 2 });
  const a = pool.alloc()!;
  pool.free(a);
  assert.throws(() => pool.free(a), /double free/);
  assert.equal(pool.inUse, 0);
  // The free list was not corrupted: still exactly two distinct slots.
  const x = pool.alloc()!;
  const y = pool.alloc()!;
  assert.notEqual(x, y);
  assert.equal(pool.alloc(), null);
});

Deno.test("BufferPool detects foreign buffers", () => {
  const pool = new BufferPool({ slotSize: 32, slots: 2 });
  const other = new BufferPool({ slotSize: 32, slots: 2 });
  const theirs = other.alloc()!;
  assert.throws(() => pool.free(theirs), /does not belong/);
  assert.throws(() => pool.free(new PacketBuffer(new Uint8Array(32))), /does not belong/);
  // A forged buffer claiming this pool as owner and a valid slot number.
  assert.throws(() => pool.free(new PacketBuffer(new Uint8Array(32), 0, pool)), /does not belong/);
  assert.equal(other.owns(theirs), true);
  assert.equal(pool.owns(theirs), false);
});

Deno.test("BufferPool survives a random alloc/free workload", () => {
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 0x1_0000_0000;
  };
  const pool = new BufferPool({ slotSize: 64, slots: 16 });
  const held: PacketBuffer[] = [];
  let failures = 0;
  let maxHeld = 0;
  for (let i = 0; i < 5000; i++) {
    if (rand() < 0.55) {
      const b = pool.alloc();
      if (b === null) {
        assert.equal(held.length, 16);
        failures++;
      } else {
        assert.ok(!held.includes(b), "a held buffer was handed out twice");
        held.push(b);
      }
    } else if (held.length > 0) {
      const k = Math.floor(rand() * held.length);
      pool.free(held[k]);
      held.splice(k, 1);
    }
    maxHeld = Math.max(maxHeld, held.length);
    assert.equal(pool.inUse, held.length);
  }
  assert.equal(pool.failedAllocations, failures);
  assert.equal(pool.highWater, maxHeld);
});

Deno.test("BufferPool carves its slab from the packet arena", () => {
  const arena = packetArena();
  const pool = new BufferPool({ slotSize: 256, slots: 8 });
  assert.equal(pool.slab, arena.buffer);
  assert.ok(arena.contains(pool.alloc()!.bytes));
});

Deno.test("BufferPool keeps its reserved slots for allocReserved and counts both sides", () => {
  const pool = new BufferPool({ slotSize: 64, slots: 4, reserved: 2 });
  assert.equal(pool.reserved, 2);
  const a = pool.alloc()!;
  const b = pool.alloc()!;
  assert.ok(a !== null && b !== null);
  assert.equal(pool.alloc(), null, "the last two slots are reserved");
  assert.equal(pool.reserveRefusals, 1);
  assert.equal(pool.failedAllocations, 1);
  const c = pool.allocReserved()!;
  const d = pool.allocReserved()!;
  assert.ok(c !== null && d !== null);
  assert.equal(pool.reservedAllocations, 2);
  assert.equal(pool.allocReserved(), null, "exhausted");
  assert.equal(pool.alloc(), null);
  assert.equal(pool.reserveRefusals, 1, "nothing was left to refuse");
  assert.equal(pool.failedAllocations, 3);
  pool.free(a);
  assert.equal(pool.alloc(), null, "one free slot is still the reserve");
  assert.ok(pool.allocReserved() !== null);
  for (const x of [b, c, d]) pool.free(x);
  assert.throws(() => new BufferPool({ slots: 4, reserved: 4 }), RangeError);
  assert.throws(() => new BufferPool({ slots: 4, reserved: -1 }), RangeError);
});

Deno.test("BufferPool allocReserved takes ordinary slots first", () => {
  const pool = new BufferPool({ slotSize: 64, slots: 4, reserved: 1 });
  pool.allocReserved();
  pool.allocReserved();
  assert.equal(pool.reservedAllocations, 0);
  assert.equal(pool.available, 2);
});
