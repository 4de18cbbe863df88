/**
 * {@link BufferPool}: one slab cut into fixed-size slots, each wrapped once
 * in a {@link PacketBuffer}. Allocation and release are O(1) through a stack
 * of free slot numbers kept in an `Int32Array`; nothing is allocated after
 * construction. The slab is a region of the process-wide packet arena
 * (src/buffer/arena.ts), so copying between a slot and a ring or a
 * MemoryLink queue allocates nothing; the region returns to the arena when
 * the pool (and every buffer of it) is garbage-collected.
 *
 * A pool may hold back a few slots as a reserve (`reserved`): ordinary
 * {@link BufferPool.alloc} leaves them free and only
 * {@link BufferPool.allocReserved} takes them, so the owner's control
 * traffic (ARP) still finds a slot when ordinary users ran the pool dry.
 *
 * @module
 */

import { packetBytes } from "./arena.ts";
import { PacketBuffer } from "./packet_buffer.ts";

/** Default slot size in bytes: a 1514-byte Ethernet frame plus headroom. */
export const DEFAULT_SLOT_SIZE = 2048;
/** Default number of slots in a pool. */
export const DEFAULT_SLOT_COUNT = 1024;

const SLOT_FREE = 0;
const SLOT_IN_USE = 1;

/** Options for {@link BufferPool}. */
export interface BufferPoolOptions {
  /** Bytes per slot (positive integer). Default {@link DEFAULT_SLOT_SIZE}. */
  slotSize?: number;
  /** Number of slots (positive integer). Default {@link DEFAULT_SLOT_COUNT}. */
  slots?: number;
  /** Headroom used by {@link BufferPool.alloc} when none is given. Default 0. */
  defaultHeadroom?: number;
  /**
   * Slots only {@link BufferPool.allocReserved} may take (integer in
   * `[0, slots)`). Default 0.
   */
  reserved?: number;
}

/**
 * A fixed set of packet buffers carved out of one slab.
 *
 * `alloc()` returns `null` when every slot is in use (and counts it in
 * {@link failedAllocations}); it never throws. `free()` throws an `Error` on a
 * double free or on a buffer that did not come from this pool: both are
 * programming bugs that would otherwise corrupt packets silently.
 *
 * @example
 * ```ts
 * import { BufferPool } from "./buffer_pool.ts";
 * const pool = new BufferPool({ slotSize: 256, slots: 2 });
 * const a = pool.alloc(64)!;
 * const b = pool.alloc()!;
 * console.assert(pool.alloc() === null && pool.failedAllocations === 1);
 * console.assert(a.head === 64 && pool.inUse === 2);
 * pool.free(a);
 * pool.free(b);
 * console.assert(pool.inUse === 0 && pool.highWater === 2);
 * ```
 */
export class BufferPool {
  /** Bytes per slot. */
  readonly slotSize: number;
  /** Number of slots. */
  readonly capacity: number;
  /** Headroom {@link alloc} uses when called without an argument. */
  readonly defaultHeadroom: number;
  /** Slots {@link alloc} leaves free for {@link allocReserved}. */
  readonly reserved: number;
  /**
   * The ArrayBuffer all slots are views of: the packet arena's buffer (or a
   * private one when the arena is full). Slot `i` is its bytes
   * `[slabBytes.byteOffset + i*slotSize, +slotSize)`.
   */
  readonly slab: ArrayBufferLike;
  /** View of all slots together (`slotSize * capacity` bytes); keeps the arena region alive. */
  readonly slabBytes: Uint8Array;

  readonly #buffers: PacketBuffer[];
  readonly #state: Uint8Array;
  readonly #freeStack: Int32Array;
  #freeTop: number;
  #highWater = 0;
  #failed = 0;
  #allocations = 0;
  #reserveRefusals = 0;
  #reservedAllocations = 0;

  /**
   * Creates the slab and one {@link PacketBuffer} per slot.
   *
   * @param opts slot size, slot count and default headroom
   * @throws RangeError when a size is not a positive integer or the default
   *   headroom is outside `[0, slotSize]`
   *
   * @example
   * ```ts
   * import { BufferPool } from "./buffer_pool.ts";
   * const pool = new BufferPool();
   * console.assert(pool.slotSize === 2048 && pool.capacity === 1024);
   * ```
   */
  constructor(opts: BufferPoolOptions = {}) {
    const slotSize = opts.slotSize ?? DEFAULT_SLOT_SIZE;
    const slots = opts.slots ?? DEFAULT_SLOT_COUNT;
    const headroom = opts.defaultHeadroom ?? 0;
    const reserved = opts.reserved ?? 0;
    if (!Number.isInteger(slotSize) || slotSize <= 0) {
      throw new RangeError(`BufferPool slotSize must be a positive integer, got ${slotSize}`);
    }
    if (!Number.isInteger(slots) || slots <= 0) {
      throw new RangeError(`BufferPool slots must be a positive integer, got ${slots}`);
    }
    if (!Number.isInteger(headroom) || headroom < 0 || headroom > slotSize) {
      throw new RangeError(
        `BufferPool defaultHeadroom must be in [0, ${slotSize}], got ${headroom}`,
      );
    }
    if (!Number.isInteger(reserved) || reserved < 0 || reserved >= slots) {
      throw new RangeError(`BufferPool reserved must be in [0, ${slots}), got ${reserved}`);
    }
    this.slotSize = slotSize;
    this.capacity = slots;
    this.reserved = reserved;
    this.defaultHeadroom = headroom;
    const bytes = slotSize * slots;
    this.slabBytes = packetBytes(bytes);
    this.slab = this.slabBytes.buffer;
    const base = this.slabBytes.byteOffset;
    this.#buffers = new Array(slots);
    this.#state = new Uint8Array(slots);
    this.#freeStack = new Int32Array(slots);
    for (let i = 0; i < slots; i++) {
      this.#buffers[i] = new PacketBuffer(
        new Uint8Array(this.slab, base + i * slotSize, slotSize),
        i,
        this,
      );
      // Top of the stack is the end: slot 0 is handed out first.
      this.#freeStack[i] = slots - 1 - i;
    }
    this.#freeTop = slots;
  }

  /**
   * Takes a free slot. O(1), no allocation.
   *
   * @param headroom bytes left free in front (`head = tail = headroom`),
   *   clamped to `[0, slotSize]`; default {@link defaultHeadroom}
   * @returns an empty buffer, or `null` when the pool is exhausted or only
   *   its {@link reserved} slots are left (counted in {@link failedAllocations},
   *   the latter also in {@link reserveRefusals})
   *
   * @example
   * ```ts
   * import { BufferPool } from "./buffer_pool.ts";
   * const pool = new BufferPool({ slotSize: 128, slots: 1 });
   * const buf = pool.alloc(40);
   * console.assert(buf !== null && buf.head === 40 && buf.length === 0);
   * ```
   */
  alloc(headroom: number = this.defaultHeadroom): PacketBuffer | null {
    if (this.#freeTop <= this.reserved) {
      this.#failed++;
      if (this.#freeTop > 0) this.#reserveRefusals++;
      return null;
    }
    return this.#take(headroom);
  }

  /**
   * Takes a free slot, from the {@link reserved} ones when no other is left
   * (for the owner's control traffic). O(1), no allocation.
   *
   * @param headroom as for {@link alloc}
   * @returns an empty buffer, or `null` when every slot is in use (counted in
   *   {@link failedAllocations})
   *
   * @example
   * ```ts
   * import { BufferPool } from "./buffer_pool.ts";
   * const pool = new BufferPool({ slotSize: 128, slots: 2, reserved: 1 });
   * console.assert(pool.alloc() !== null && pool.alloc() === null);
   * console.assert(pool.allocReserved() !== null && pool.reservedAllocations === 1);
   * ```
   */
  allocReserved(headroom: number = this.defaultHeadroom): PacketBuffer | null {
    if (this.#freeTop === 0) {
      this.#failed++;
      return null;
    }
    if (this.#freeTop <= this.reserved) this.#reservedAllocations++;
    return this.#take(headroom);
  }

  #take(headroom: number): PacketBuffer {
    const slot = this.#freeStack[--this.#freeTop];
    this.#state[slot] = SLOT_IN_USE;
    this.#allocations++;
    const inUse = this.capacity - this.#freeTop;
    if (inUse > this.#highWater) this.#highWater = inUse;
    const buf = this.#buffers[slot];
    buf.reset(headroom);
    return buf;
  }

  /**
   * Returns a buffer to the pool. O(1). The buffer must not be used afterwards.
   *
   * @param buf a buffer obtained from this pool's {@link alloc}
   * @throws Error when `buf` was not allocated from this pool or is already free
   *
   * @example
   * ```ts
   * import { BufferPool } from "./buffer_pool.ts";
   * const pool = new BufferPool({ slotSize: 64, slots: 4 });
   * const buf = pool.alloc()!;
   * pool.free(buf);
   * let threw = false;
   * try { pool.free(buf); } catch { threw = true; }
   * console.assert(threw && pool.inUse === 0);
   * ```
   */
  free(buf: PacketBuffer): void {
    const slot = buf.slot;
    if (buf.owner !== this || this.#buffers[slot] !== buf) {
      throw new Error("BufferPool.free: buffer does not belong to this pool");
    }
    if (this.#state[slot] !== SLOT_IN_USE) {
      throw new Error(`BufferPool.free: double free of slot ${slot}`);
    }
    this.#state[slot] = SLOT_FREE;
    this.#freeStack[this.#freeTop++] = slot;
  }

  /**
   * Whether `buf` is one of this pool's buffers and currently allocated.
   *
   * @param buf any packet buffer
   * @returns true when {@link free} would accept it
   *
   * @example
   * ```ts
   * import { BufferPool } from "./buffer_pool.ts";
   * const pool = new BufferPool({ slotSize: 64, slots: 1 });
   * const buf = pool.alloc()!;
   * console.assert(pool.owns(buf));
   * pool.free(buf);
   * console.assert(!pool.owns(buf));
   * ```
   */
  owns(buf: PacketBuffer): boolean {
    return buf.owner === this && this.#buffers[buf.slot] === buf &&
      this.#state[buf.slot] === SLOT_IN_USE;
  }

  /**
   * Slots currently allocated.
   *
   * @returns the number of buffers handed out and not yet freed
   *
   * @example
   * ```ts
   * import { BufferPool } from "./buffer_pool.ts";
   * const pool = new BufferPool({ slotSize: 64, slots: 4 });
   * pool.alloc();
   * console.assert(pool.inUse === 1 && pool.available === 3);
   * ```
   */
  get inUse(): number {
    return this.capacity - this.#freeTop;
  }

  /**
   * Slots currently free.
   *
   * @returns `capacity - inUse`
   *
   * @example
   * ```ts
   * import { BufferPool } from "./buffer_pool.ts";
   * console.assert(new BufferPool({ slotSize: 64, slots: 4 }).available === 4);
   * ```
   */
  get available(): number {
    return this.#freeTop;
  }

  /**
   * The largest {@link inUse} value ever reached.
   *
   * @returns the high-water mark in slots
   *
   * @example
   * ```ts
   * import { BufferPool } from "./buffer_pool.ts";
   * const pool = new BufferPool({ slotSize: 64, slots: 4 });
   * pool.free(pool.alloc()!);
   * console.assert(pool.highWater === 1 && pool.inUse === 0);
   * ```
   */
  get highWater(): number {
    return this.#highWater;
  }

  /**
   * How many {@link alloc} calls returned `null` because the pool was empty.
   *
   * @returns the failure count
   *
   * @example
   * ```ts
   * import { BufferPool } from "./buffer_pool.ts";
   * const pool = new BufferPool({ slotSize: 64, slots: 1 });
   * pool.alloc();
   * pool.alloc();
   * console.assert(pool.failedAllocations === 1);
   * ```
   */
  get failedAllocations(): number {
    return this.#failed;
  }

  /**
   * How many {@link alloc} calls returned `null` although slots were free:
   * only the {@link reserved} ones were left.
   *
   * @returns the refusal count
   *
   * @example
   * ```ts
   * import { BufferPool } from "./buffer_pool.ts";
   * const pool = new BufferPool({ slotSize: 64, slots: 2, reserved: 1 });
   * pool.alloc();
   * pool.alloc();
   * console.assert(pool.reserveRefusals === 1 && pool.available === 1);
   * ```
   */
  get reserveRefusals(): number {
    return this.#reserveRefusals;
  }

  /**
   * How many {@link allocReserved} calls took one of the {@link reserved} slots.
   *
   * @returns the count
   *
   * @example
   * ```ts
   * import { BufferPool } from "./buffer_pool.ts";
   * const pool = new BufferPool({ slotSize: 64, slots: 2, reserved: 1 });
   * pool.allocReserved();
   * pool.allocReserved();
   * console.assert(pool.reservedAllocations === 1);
   * ```
   */
  get reservedAllocations(): number {
    return this.#reservedAllocations;
  }

  /**
   * How many {@link alloc} calls succeeded since construction.
   *
   * @returns the successful allocation count
   *
   * @example
   * ```ts
   * import { BufferPool } from "./buffer_pool.ts";
   * const pool = new BufferPool({ slotSize: 64, slots: 1 });
   * pool.free(pool.alloc()!);
   * pool.alloc();
   * console.assert(pool.allocations === 2);
   * ```
   */
  get allocations(): number {
    return this.#allocations;
  }
}
