/**
 * {@link ByteRing}: a fixed-capacity circular byte queue for TCP send and
 * receive buffers, plus {@link copyBytes}, the copy routine it uses.
 *
 * Offsets given to the ring are *logical*: offset 0 is the oldest readable
 * byte. {@link ByteRing.physicalIndex} and {@link ByteRing.contiguousAt} map
 * them to `bytes` so a caller can checksum or copy a region in place (for
 * example straight from the send ring into a frame), splitting at most once
 * at the wrap point.
 *
 * @module
 */

import { arenaCopy, packetBytes, releasePacketBytes } from "./arena.ts";
import { copyWithSum, foldSum, onesComplementSum } from "../wire/checksum.ts";

/**
 * Copies up to this many bytes with a plain loop; longer copies use
 * `Uint8Array.prototype.set` over a `subarray`. Measured on Deno 2.9.6
 * (bench/buffer_bench.ts, group "copy"): a loop costs ≈1.7–2 ns/byte,
 * `set(subarray)` ≈80–120 ns flat (the subarray object is the only
 * allocation); the loop was 1.5× faster at 32 bytes and 1.4× slower at 64.
 */
export const COPY_LOOP_MAX_BYTES = 32;

/**
 * Copies `length` bytes from `src[srcOffset..]` to `dst[dstOffset..]`.
 * Correct for overlapping regions of the same array (uses `copyWithin`).
 *
 * Allocation: none when both arrays live in the packet arena
 * (src/buffer/arena.ts: every pool slot, ring storage and MemoryLink queue
 * does), for copies of at most {@link COPY_LOOP_MAX_BYTES} bytes, for
 * same-array copies, and for whole-`src` copies; otherwise (an application's
 * own array) one short-lived `subarray` view (≈30 ns).
 *
 * @param src source bytes
 * @param srcOffset first source index
 * @param dst destination bytes
 * @param dstOffset first destination index
 * @param length number of bytes; the caller guarantees both ranges are in bounds
 *
 * @example
 * ```ts
 * import { copyBytes } from "./byte_ring.ts";
 * const dst = new Uint8Array(4);
 * copyBytes(new Uint8Array([9, 8, 7]), 1, dst, 2, 2);
 * console.assert(dst.join() === "0,0,8,7");
 * ```
 */
export function copyBytes(
  src: Uint8Array,
  srcOffset: number,
  dst: Uint8Array,
  dstOffset: number,
  length: number,
): void {
  if (length <= 0) return;
  if (src === dst) {
    dst.copyWithin(dstOffset, srcOffset, srcOffset + length);
  } else if (arenaCopy(src, srcOffset, dst, dstOffset, length)) {
    // Both in the packet arena: one WebAssembly memory.copy (arenaCopy), nothing allocated.
  } else if (length <= COPY_LOOP_MAX_BYTES) {
    for (let i = 0; i < length; i++) dst[dstOffset + i] = src[srcOffset + i];
  } else if (srcOffset === 0 && length === src.length) {
    dst.set(src, dstOffset);
  } else {
    dst.set(src.subarray(srcOffset, srcOffset + length), dstOffset);
  }
}

/** Copies like {@link copyBytes} and returns the sum of the bytes copied (see `ByteRing.peekSum`). */
function copySum(
  src: Uint8Array,
  srcOffset: number,
  dst: Uint8Array,
  dstOffset: number,
  length: number,
): number {
  const sum = copyWithSum(src, srcOffset, dst, dstOffset, length);
  if (sum >= 0) return sum;
  copyBytes(src, srcOffset, dst, dstOffset, length);
  return onesComplementSum(dst, dstOffset, length);
}

/** Default bound on the bytes a {@link ByteRingStoragePool} keeps for reuse (4 MiB). */
export const DEFAULT_RING_POOL_RETAINED_BYTES = 4 * 1024 * 1024;

/** Storage of a ring that has none yet (lazy rings share it; never written). */
const NO_STORAGE = new Uint8Array(0);

/**
 * Spare ring storage, reused between rings of the same capacity: a lazily
 * backed {@link ByteRing} takes its storage from the pool on first use and
 * gives it back when {@link ByteRing.release} finds it empty, so idle TCP
 * connections hold no buffer and a busy one re-acquires storage with an
 * array pop instead of a fresh, zeroed allocation (≈1 µs plus ≈10 µs per
 * 256 KiB of zeroing in Deno). Bounded by total retained bytes; storage
 * beyond the bound is left to the garbage collector.
 *
 * @example
 * ```ts
 * import { ByteRing, ByteRingStoragePool } from "./byte_ring.ts";
 * const pool = new ByteRingStoragePool();
 * const ring = new ByteRing(1024, { lazy: true, pool });
 * console.assert(!ring.allocated);
 * ring.write(new Uint8Array([1]), 0, 1);
 * ring.discard(1);
 * console.assert(ring.release() && pool.retainedBytes === 1024);
 * ```
 */
export class ByteRingStoragePool {
  /** Most bytes kept for reuse. */
  readonly maxRetainedBytes: number;
  #free = new Map<number, Uint8Array[]>();
  #retained = 0;

  /**
   * Makes an empty pool.
   *
   * @param opts `maxRetainedBytes`: the bound on spare storage kept (default 4 MiB)
   *
   * @example
   * ```ts
   * import { ByteRingStoragePool } from "./byte_ring.ts";
   * console.assert(new ByteRingStoragePool({ maxRetainedBytes: 0 }).retainedBytes === 0);
   * ```
   */
  constructor(opts: { maxRetainedBytes?: number } = {}) {
    this.maxRetainedBytes = Math.max(0, opts.maxRetainedBytes ?? DEFAULT_RING_POOL_RETAINED_BYTES);
  }

  /**
   * Bytes of spare storage currently kept.
   *
   * @returns the sum of the capacities of the kept arrays
   *
   * @example
   * ```ts
   * import { ByteRingStoragePool } from "./byte_ring.ts";
   * const pool = new ByteRingStoragePool();
   * pool.give(pool.take(64));
   * console.assert(pool.retainedBytes === 64);
   * ```
   */
  get retainedBytes(): number {
    return this.#retained;
  }

  /**
   * Storage of exactly `capacity` bytes: a kept array, else a new one. Its
   * contents are unspecified (a ring never reads bytes it did not write).
   *
   * @param capacity bytes
   * @returns an array of `capacity` bytes
   *
   * @example
   * ```ts
   * import { ByteRingStoragePool } from "./byte_ring.ts";
   * const pool = new ByteRingStoragePool();
   * const a = pool.take(16);
   * pool.give(a);
   * console.assert(pool.take(16) === a && pool.take(16) !== a);
   * ```
   */
  take(capacity: number): Uint8Array {
    const list = this.#free.get(capacity);
    if (list !== undefined && list.length > 0) {
      this.#retained -= capacity;
      return list.pop()!;
    }
    return packetBytes(capacity);
  }

  /**
   * Keeps `bytes` for a later {@link take} when the bound allows, else drops it.
   *
   * @param bytes storage no longer used by anyone
   * @returns whether it was kept
   *
   * @example
   * ```ts
   * import { ByteRingStoragePool } from "./byte_ring.ts";
   * const pool = new ByteRingStoragePool({ maxRetainedBytes: 10 });
   * console.assert(pool.give(new Uint8Array(8)) && !pool.give(new Uint8Array(8)));
   * ```
   */
  give(bytes: Uint8Array): boolean {
    const n = bytes.length;
    if (n === 0) return false;
    if (this.#retained + n > this.maxRetainedBytes) this.#evictSmallerSizes(n);
    if (this.#retained + n > this.maxRetainedBytes) {
      // Not kept: an arena region goes back to the arena at once.
      releasePacketBytes(bytes);
      return false;
    }
    let list = this.#free.get(n);
    if (list === undefined) {
      list = [];
      this.#free.set(n, list);
    }
    list.push(bytes);
    this.#retained += n;
    return true;
  }

  /**
   * Makes room for storage of `n` bytes by dropping kept storage of smaller sizes, the size
   * first kept first: a ring that grew (TCP receive autotuning) leaves its smaller old size
   * behind, and the larger storage is the dearer one to make again.
   */
  #evictSmallerSizes(n: number): void {
    for (const [size, list] of this.#free) {
      if (size >= n) continue;
      while (list.length > 0 && this.#retained + n > this.maxRetainedBytes) {
        releasePacketBytes(list.pop()!);
        this.#retained -= size;
      }
      if (this.#retained + n <= this.maxRetainedBytes) return;
    }
  }
}

/** Options of {@link ByteRing}. */
export interface ByteRingOptions {
  /** Allocate the storage on first write instead of in the constructor (default false). */
  lazy?: boolean;
  /** Where lazy storage comes from and {@link ByteRing.release} returns it (default: none). */
  pool?: ByteRingStoragePool | null;
}

/**
 * Circular byte queue of fixed capacity (any positive integer; a power of two
 * is not required).
 *
 * Besides plain `write`/`read`, it supports out-of-order TCP data: `writeAt`
 * stores bytes in the free space at a distance past the readable end without
 * making them readable, and `commit` makes the in-order prefix readable once
 * the gap is filled (track which parts are present with a `RangeSet`).
 * `peek` copies at an offset without consuming (retransmission), `discard`
 * drops acknowledged bytes.
 *
 * Methods never throw on the data path: counts are clamped and the number of
 * bytes actually moved is returned. Only {@link commit} of more than
 * {@link free} throws, since that is a bookkeeping bug.
 *
 * With `{ lazy: true }` the storage is allocated (or taken from a
 * {@link ByteRingStoragePool}) on the first write, and {@link release}
 * gives it back while the ring is empty: an idle TCP connection then costs
 * no buffer memory.
 *
 * @example
 * ```ts
 * import { ByteRing } from "./byte_ring.ts";
 * const ring = new ByteRing(8);
 * ring.write(new Uint8Array([1, 2, 3, 4, 5, 6]), 0, 6);
 * ring.discard(5);
 * ring.write(new Uint8Array([7, 8, 9, 10]), 0, 4);   // wraps around
 * const out = new Uint8Array(5);
 * console.assert(ring.read(out, 0, 5) === 5 && out.join() === "6,7,8,9,10");
 * ```
 */
export class ByteRing {
  #capacity: number;
  #bytes: Uint8Array;
  #pool: ByteRingStoragePool | null;
  #start = 0; // physical index of readable offset 0
  #length = 0; // readable bytes

  /**
   * Allocates the storage once (or on first use with `lazy`).
   *
   * @param capacity size in bytes, a positive integer
   * @param opts `lazy` storage and the `pool` it comes from
   * @throws RangeError when `capacity` is not a positive integer
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * const ring = new ByteRing(1000);
   * console.assert(ring.capacity === 1000 && ring.free === 1000);
   * ```
   */
  constructor(capacity: number, opts: ByteRingOptions = {}) {
    if (!Number.isInteger(capacity) || capacity <= 0) {
      throw new RangeError(`ByteRing capacity must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
    this.#pool = opts.pool ?? null;
    this.#bytes = opts.lazy === true ? NO_STORAGE : packetBytes(capacity);
  }

  /**
   * Size of the ring in bytes (fixed, unless {@link grow}n).
   *
   * @returns the capacity
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * console.assert(new ByteRing(12).capacity === 12);
   * ```
   */
  get capacity(): number {
    return this.#capacity;
  }

  /**
   * Enlarges the ring to `capacity` bytes, keeping every byte it holds at the same logical
   * offset: the readable bytes and any uncommitted {@link writeAt} data. A lazy ring without
   * storage only changes its size; otherwise the bytes move once into new storage (from the
   * pool, if any) and the old storage goes back to the packet arena, not to the pool (TCP
   * receive-buffer autotuning, Linux tcp_rcv_space_adjust raising sk_rcvbuf). Never shrinks.
   *
   * @param capacity the new size in bytes, an integer
   * @returns whether the ring grew (false when `capacity` is not larger than now)
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * const ring = new ByteRing(4);
   * ring.write(new Uint8Array([1, 2, 3]), 0, 3);
   * ring.discard(2);
   * ring.write(new Uint8Array([4, 5, 6]), 0, 3); // wraps around
   * console.assert(ring.grow(8) && ring.free === 4 && !ring.grow(8));
   * const out = new Uint8Array(4);
   * console.assert(ring.read(out, 0, 4) === 4 && out.join() === "3,4,5,6");
   * ```
   */
  grow(capacity: number): boolean {
    const old = this.#capacity;
    if (!Number.isInteger(capacity) || capacity <= old) return false;
    this.#capacity = capacity;
    const from = this.#bytes;
    if (from === NO_STORAGE) return true;
    const pool = this.#pool;
    const to = pool !== null ? pool.take(capacity) : packetBytes(capacity);
    // Logical offsets [0, old) in order: from the start to the old end, then the wrapped part.
    const start = this.#start;
    copyBytes(from, start, to, 0, old - start);
    copyBytes(from, 0, to, old - start, start);
    this.#bytes = to;
    this.#start = 0;
    // Not back to the pool: a size a ring grew out of is seldom wanted again, and kept it
    // would fill the pool's bound and crowd out the grown size when the ring next drains.
    releasePacketBytes(from);
    return true;
  }

  /**
   * The ring's storage; index with {@link physicalIndex}. Reading it gives a
   * lazy ring its storage (a caller may write into the free space in place).
   *
   * @returns the storage array of {@link capacity} bytes
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * console.assert(new ByteRing(8, { lazy: true }).bytes.length === 8);
   * ```
   */
  get bytes(): Uint8Array {
    return this.#storage();
  }

  /**
   * Whether the ring holds storage now (always, unless lazy and unused or released).
   *
   * @returns true when storage is attached
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * console.assert(new ByteRing(8).allocated && !new ByteRing(8, { lazy: true }).allocated);
   * ```
   */
  get allocated(): boolean {
    return this.#bytes !== NO_STORAGE;
  }

  #storage(): Uint8Array {
    let b = this.#bytes;
    if (b === NO_STORAGE) {
      b = this.#pool !== null ? this.#pool.take(this.#capacity) : packetBytes(this.#capacity);
      this.#bytes = b;
    }
    return b;
  }

  /**
   * Gives the storage up (to the pool, if any) when nothing is readable; the
   * next write attaches storage again. Uncommitted {@link writeAt} data is
   * dropped with it: callers holding out-of-order data must not release.
   *
   * @returns whether storage was released
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * const ring = new ByteRing(8);
   * ring.write(new Uint8Array(2), 0, 2);
   * console.assert(!ring.release());   // not empty
   * ring.discard(2);
   * console.assert(ring.release() && !ring.allocated && ring.free === 8);
   * ```
   */
  release(): boolean {
    const b = this.#bytes;
    if (this.#length !== 0 || b === NO_STORAGE) return false;
    this.#bytes = NO_STORAGE;
    this.#start = 0;
    this.#pool?.give(b);
    return true;
  }

  /**
   * Readable bytes.
   *
   * @returns bytes available to {@link read}
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * const ring = new ByteRing(4);
   * ring.write(new Uint8Array(3), 0, 3);
   * console.assert(ring.length === 3);
   * ```
   */
  get length(): number {
    return this.#length;
  }

  /**
   * Free bytes (`capacity - length`), including space holding uncommitted
   * {@link writeAt} data.
   *
   * @returns bytes available to {@link write}
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * const ring = new ByteRing(4);
   * ring.write(new Uint8Array(3), 0, 3);
   * console.assert(ring.free === 1);
   * ```
   */
  get free(): number {
    return this.#capacity - this.#length;
  }

  /**
   * Whether nothing is readable.
   *
   * @returns `length === 0`
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * console.assert(new ByteRing(4).isEmpty());
   * ```
   */
  isEmpty(): boolean {
    return this.#length === 0;
  }

  /**
   * Appends up to `free` bytes from `src[srcOffset, srcOffset + length)`.
   *
   * @param src source bytes
   * @param srcOffset first source index
   * @param length bytes offered; must lie within `src`
   * @returns bytes written (0 when full or `length <= 0`)
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * const ring = new ByteRing(4);
   * console.assert(ring.write(new Uint8Array(6), 0, 6) === 4);
   * ```
   */
  write(src: Uint8Array, srcOffset: number, length: number): number {
    const n = this.writeAt(0, src, srcOffset, length);
    this.#length += n;
    return n;
  }

  /**
   * Stores bytes into the free space starting `offset` bytes past the
   * readable end, without making them readable (out-of-order TCP data).
   * Clamped so nothing is written beyond the free space.
   *
   * @param offset distance past the readable end, `0 <= offset`
   * @param src source bytes
   * @param srcOffset first source index
   * @param length bytes offered; must lie within `src`
   * @returns bytes stored (0 when `offset >= free`, `offset < 0` or `length <= 0`)
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * const ring = new ByteRing(8);
   * ring.writeAt(2, new Uint8Array([3, 4]), 0, 2);   // gap of 2 first
   * ring.writeAt(0, new Uint8Array([1, 2]), 0, 2);   // fill the gap
   * ring.commit(4);
   * const out = new Uint8Array(4);
   * ring.read(out, 0, 4);
   * console.assert(out.join() === "1,2,3,4");
   * ```
   */
  writeAt(offset: number, src: Uint8Array, srcOffset: number, length: number): number {
    const room = this.#capacity - this.#length - offset;
    if (offset < 0 || room <= 0 || length <= 0) return 0;
    const n = length < room ? length : room;
    const bytes = this.#bytes === NO_STORAGE ? this.#storage() : this.#bytes;
    let at = this.#start + this.#length + offset;
    if (at >= this.#capacity) at -= this.#capacity;
    const first = this.#capacity - at;
    if (n <= first) {
      copyBytes(src, srcOffset, bytes, at, n);
    } else {
      copyBytes(src, srcOffset, bytes, at, first);
      copyBytes(src, srcOffset + first, bytes, 0, n - first);
    }
    return n;
  }

  /**
   * Makes `n` bytes previously stored with {@link writeAt} (starting at
   * offset 0) readable.
   *
   * @param n bytes to commit, `0 <= n <= free`
   * @throws RangeError when `n` is negative or exceeds {@link free} (a bug)
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * const ring = new ByteRing(8);
   * ring.writeAt(0, new Uint8Array([1, 2, 3]), 0, 3);
   * console.assert(ring.length === 0);
   * ring.commit(3);
   * console.assert(ring.length === 3);
   * ```
   */
  commit(n: number): void {
    if (!(n >= 0 && n <= this.#capacity - this.#length) || (n | 0) !== n) {
      throw new RangeError(`ByteRing.commit(${n}) with ${this.#capacity - this.#length} free`);
    }
    if (n > 0 && this.#bytes === NO_STORAGE) this.#storage();
    this.#length += n;
  }

  /**
   * Copies up to `length` readable bytes into `dst` and consumes them.
   *
   * @param dst destination bytes
   * @param dstOffset first destination index
   * @param length bytes wanted; `dst` must have room for them
   * @returns bytes read
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * const ring = new ByteRing(8);
   * ring.write(new Uint8Array([1, 2, 3]), 0, 3);
   * const out = new Uint8Array(8);
   * console.assert(ring.read(out, 0, 8) === 3 && ring.length === 0);
   * ```
   */
  read(dst: Uint8Array, dstOffset: number, length: number): number {
    const n = this.peek(0, dst, dstOffset, length);
    this.discard(n);
    return n;
  }

  /**
   * Copies up to `length` readable bytes starting at readable offset `offset`
   * into `dst`, without consuming them (e.g. a retransmission).
   *
   * @param offset logical offset of the first byte, `0 <= offset`
   * @param dst destination bytes
   * @param dstOffset first destination index
   * @param length bytes wanted; `dst` must have room for them
   * @returns bytes copied (0 when `offset >= length` of the ring)
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * const ring = new ByteRing(8);
   * ring.write(new Uint8Array([1, 2, 3, 4]), 0, 4);
   * const out = new Uint8Array(2);
   * console.assert(ring.peek(1, out, 0, 2) === 2 && out.join() === "2,3");
   * console.assert(ring.length === 4);
   * ```
   */
  peek(offset: number, dst: Uint8Array, dstOffset: number, length: number): number {
    const avail = this.#length - offset;
    if (offset < 0 || avail <= 0 || length <= 0) return 0;
    const n = length < avail ? length : avail;
    let at = this.#start + offset;
    if (at >= this.#capacity) at -= this.#capacity;
    const first = this.#capacity - at;
    const bytes = this.#bytes;
    if (n <= first) {
      copyBytes(bytes, at, dst, dstOffset, n);
    } else {
      copyBytes(bytes, at, dst, dstOffset, first);
      copyBytes(bytes, 0, dst, dstOffset + first, n - first);
    }
    return n;
  }

  /**
   * {@link peek}, also returning the one's-complement sum of the bytes
   * copied (RFC 1071; big-endian words paired from the first byte copied,
   * folded, not complemented) — in one WebAssembly pass per region when the
   * ring and `dst` live in the packet memory the checksum routine is attached
   * to, else a copy and a sum (issue 22: a TCP segment's payload is
   * checksummed while it is copied into its frame).
   *
   * @param offset logical offset of the first byte
   * @param dst destination
   * @param dstOffset where in `dst`
   * @param length bytes wanted; fewer when the ring holds fewer past `offset`
   * @returns the folded sum of the bytes copied (0 when none)
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * const ring = new ByteRing(4);
   * ring.write(new Uint8Array([0, 0, 0, 1]), 0, 4);
   * ring.discard(3);
   * ring.write(new Uint8Array([2, 3]), 0, 2); // wraps: 1 | 2 3
   * const out = new Uint8Array(3);
   * console.assert(ring.peekSum(0, out, 0, 3) === 0x0203 + 0x0100 && out.join() === "1,2,3");
   * ```
   */
  peekSum(offset: number, dst: Uint8Array, dstOffset: number, length: number): number {
    const avail = this.#length - offset;
    if (offset < 0 || avail <= 0 || length <= 0) return 0;
    const n = length < avail ? length : avail;
    let at = this.#start + offset;
    if (at >= this.#capacity) at -= this.#capacity;
    const first = this.#capacity - at;
    if (n <= first) return copySum(this.#bytes, at, dst, dstOffset, n);
    const a = copySum(this.#bytes, at, dst, dstOffset, first);
    let b = copySum(this.#bytes, 0, dst, dstOffset + first, n - first);
    // The second region starts at an odd position of the data: its pairs are swapped.
    if ((first & 1) === 1) b = ((b & 0xff) << 8) | (b >>> 8);
    return foldSum(a + b);
  }

  /**
   * Drops up to `n` readable bytes from the front (acknowledged data).
   *
   * @param n bytes to drop
   * @returns bytes dropped, `min(max(n, 0), length)`
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * const ring = new ByteRing(8);
   * ring.write(new Uint8Array(5), 0, 5);
   * console.assert(ring.discard(3) === 3 && ring.discard(9) === 2);
   * ```
   */
  discard(n: number): number {
    if (!(n > 0)) return 0;
    const d = n < this.#length ? n : this.#length;
    let s = this.#start + d;
    if (s >= this.#capacity) s -= this.#capacity;
    this.#start = s;
    this.#length -= d;
    return d;
  }

  /**
   * Empties the ring (and forgets uncommitted {@link writeAt} data).
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * const ring = new ByteRing(8);
   * ring.write(new Uint8Array(5), 0, 5);
   * ring.clear();
   * console.assert(ring.length === 0 && ring.free === 8);
   * ```
   */
  clear(): void {
    this.#start = 0;
    this.#length = 0;
  }

  /**
   * Index in {@link bytes} of the byte at logical offset `offset` (readable
   * bytes are offsets `[0, length)`, free space follows at `[length,
   * capacity)`).
   *
   * @param offset logical offset, `0 <= offset < capacity`
   * @returns the physical index, or -1 when `offset` is out of that range
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * const ring = new ByteRing(8);
   * ring.write(new Uint8Array(6), 0, 6);
   * ring.discard(6);
   * console.assert(ring.physicalIndex(0) === 6 && ring.physicalIndex(3) === 1);
   * ```
   */
  physicalIndex(offset: number): number {
    if (!(offset >= 0 && offset < this.#capacity)) return -1;
    const at = this.#start + offset;
    return at >= this.#capacity ? at - this.#capacity : at;
  }

  /**
   * Readable bytes that are contiguous in {@link bytes} from logical offset
   * `offset`, i.e. up to the wrap point or the end of the data.
   *
   * @param offset logical offset of a readable byte
   * @returns the run length (0 when `offset` is not readable)
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * const ring = new ByteRing(8);
   * ring.write(new Uint8Array(6), 0, 6);
   * ring.discard(5);
   * ring.write(new Uint8Array(4), 0, 4);   // readable: physical 5..7, then 0..1
   * console.assert(ring.contiguousAt(0) === 3 && ring.contiguousAt(3) === 2);
   * ```
   */
  contiguousAt(offset: number): number {
    const avail = this.#length - offset;
    if (!(offset >= 0) || avail <= 0) return 0;
    let at = this.#start + offset;
    if (at >= this.#capacity) at -= this.#capacity;
    const first = this.#capacity - at;
    return avail < first ? avail : first;
  }

  /**
   * Free bytes that are contiguous in {@link bytes} starting `offset` bytes
   * past the readable end — where a caller may write in place before calling
   * {@link commit} (e.g. reading a datagram straight into the ring).
   *
   * @param offset distance past the readable end
   * @returns the run length (0 when `offset` is not within the free space);
   *   the run starts at `physicalIndex(length + offset)`
   *
   * @example
   * ```ts
   * import { ByteRing } from "./byte_ring.ts";
   * const ring = new ByteRing(8);
   * ring.write(new Uint8Array(3), 0, 3);
   * ring.discard(3);
   * const at = ring.physicalIndex(ring.length);
   * console.assert(at === 3 && ring.freeContiguousAt(0) === 5);
   * ```
   */
  freeContiguousAt(offset: number): number {
    const room = this.#capacity - this.#length - offset;
    if (!(offset >= 0) || room <= 0) return 0;
    let at = this.#start + this.#length + offset;
    if (at >= this.#capacity) at -= this.#capacity;
    const first = this.#capacity - at;
    return room < first ? room : first;
  }
}
