/**
 * {@link Arena}: the process-wide packet memory. Every BufferPool slab,
 * ByteRing storage and MemoryLink queue is a view carved out of ONE
 * `WebAssembly.Memory`, so a copy between any two of them is a
 * `copyWithin` on one full-length view ({@link arenaCopy}) — no `subarray`,
 * no allocation — and checksums over them can run in WebAssembly in place
 * (`attachChecksumMemory`, src/wire/checksum.ts).
 *
 * Allocation is a bump pointer plus free lists per size class (sizes are
 * rounded up to 64 bytes and to a quarter power of two, so a class wastes at
 * most 25 %); a freed region is reused by the next request of its class. A
 * region comes back by {@link Arena.freeView}, or automatically when its view
 * is garbage-collected (a `FinalizationRegistry`). The arena never exceeds
 * its `maxBytes`; a request beyond it returns `null` (counted), and callers
 * fall back to an ordinary `Uint8Array` (correct, only slower to copy).
 *
 * Layout: by default the memory starts at {@link DEFAULT_ARENA_INITIAL_BYTES}
 * and grows on demand (`memory.grow`) up to `maxBytes`, exposed as ONE
 * resizable ArrayBuffer (`memory.toResizableBuffer()`): views made before a
 * growth stay valid and keep their addresses (V8 reserves a WebAssembly
 * memory's whole range up front). `{ resizable: false }` makes a fixed
 * memory of `maxBytes` instead, which never grows (only touched pages cost
 * RAM). The process-wide {@link packetArena} is fixed: `copyWithin` of 1460
 * bytes measured 69 ns over a fixed buffer against 132 ns over a resizable
 * WebAssembly buffer (Deno 2.9.6), and two in-process stacks over MemoryLink
 * with checksums computed went from ≈4.3 to ≈5.7 Gbit/s. The checksum module
 * recognises arena bytes by the identity of `memory.buffer` (the fixed
 * buffer, never detached because the memory never grows).
 *
 * @module
 */

import { attachChecksumMemory } from "../wire/checksum.ts";

/** WebAssembly page size in bytes. */
export const ARENA_PAGE_BYTES = 65536;
/** Every region starts at a multiple of this (a cache line). */
export const ARENA_ALIGN_BYTES = 64;
/**
 * Default bound of the process-wide arena (256 MiB): a stack's pool (2 MiB),
 * two 7 MiB MemoryLink queues and the rings of a few hundred busy
 * connections (512 KiB each) fit. Regions are reused through free lists, so
 * the memory grows only to the high-water mark of what is live at once.
 */
export const DEFAULT_ARENA_MAX_BYTES = 256 * 1024 * 1024;
/** Initial size of a `{ resizable: true }` arena (4 MiB). */
export const DEFAULT_ARENA_INITIAL_BYTES = 4 * 1024 * 1024;
/** Largest arena WebAssembly allows (65536 pages = 4 GiB) minus one page. */
const MAX_MEMORY_PAGES = 65535;

/** Options of {@link Arena}. */
export interface ArenaOptions {
  /** Upper bound in bytes (rounded up to whole 64 KiB pages). Default {@link DEFAULT_ARENA_MAX_BYTES}. */
  maxBytes?: number;
  /** Start small and grow a resizable buffer on demand (default true; false: fixed, full size). */
  resizable?: boolean;
  /** Initial size of a resizable arena. Default {@link DEFAULT_ARENA_INITIAL_BYTES}. */
  initialBytes?: number;
}

/** `WebAssembly.Memory.prototype.toResizableBuffer` (in this V8, not yet in TypeScript's lib). */
interface ResizableMemory {
  toResizableBuffer(): ArrayBuffer;
}

/**
 * Size class of a request: rounded up to {@link ARENA_ALIGN_BYTES} and to
 * `k/4 · 2^e` for the smallest power of two `2^(e+1)` not below it.
 *
 * @param size requested bytes, a positive integer
 * @returns the region size handed out
 *
 * @example
 * ```ts
 * import { arenaClassSize } from "./arena.ts";
 * console.assert(arenaClassSize(1) === 64 && arenaClassSize(2048) === 2048);
 * console.assert(arenaClassSize(1514 * 4096) === 7 * 1024 * 1024);
 * ```
 */
export function arenaClassSize(size: number): number {
  if (size <= ARENA_ALIGN_BYTES) return ARENA_ALIGN_BYTES;
  // 2^(bits-1) < size <= 2^bits; steps of a quarter of 2^(bits-1).
  const bits = 32 - Math.clz32(size - 1);
  let step = 2 ** (bits - 3);
  if (step < ARENA_ALIGN_BYTES) step = ARENA_ALIGN_BYTES;
  return Math.ceil(size / step) * step;
}

/**
 * A bounded packet memory with a size-class allocator. Use the process-wide
 * one from {@link packetArena}; separate arenas are for tests.
 *
 * @example
 * ```ts
 * import { Arena } from "./arena.ts";
 * const arena = new Arena({ maxBytes: 1 << 20 });
 * const a = arena.allocView(1000)!;
 * const b = arena.allocView(1000)!;
 * a.fill(7);
 * arena.bytes.copyWithin(b.byteOffset, a.byteOffset, a.byteOffset + 1000);
 * console.assert(b[999] === 7 && arena.contains(b));
 * arena.freeView(a);
 * console.assert(arena.allocView(1000)!.byteOffset === a.byteOffset); // reused
 * ```
 */
export class Arena {
  /** The WebAssembly memory behind the arena (null in the no-WebAssembly fallback). */
  readonly memory: WebAssembly.Memory | null;
  /** The one ArrayBuffer every arena view is made over. */
  readonly buffer: ArrayBuffer;
  /** A view of the whole buffer (length-tracking when resizable): target of `copyWithin`. */
  readonly bytes: Uint8Array;
  /** Bound in bytes. */
  readonly maxBytes: number;
  /** Whether the buffer is resizable (grows on demand). */
  readonly resizable: boolean;

  #top = 0;
  #used = 0;
  #failed = 0;
  #free = new Map<number, number[]>();
  #live = new Map<number, number>();
  #registry: FinalizationRegistry<number>;

  /**
   * Creates the memory (see the module documentation for the two layouts).
   *
   * @param opts bound, layout, initial size
   * @throws RangeError when `maxBytes` is not positive or above 4 GiB − 64 KiB
   *
   * @example
   * ```ts
   * import { Arena } from "./arena.ts";
   * const arena = new Arena({ maxBytes: 1 << 20 });
   * console.assert(arena.maxBytes === 1 << 20 && arena.usedBytes === 0);
   * ```
   */
  constructor(opts: ArenaOptions = {}) {
    const pages = Math.ceil((opts.maxBytes ?? DEFAULT_ARENA_MAX_BYTES) / ARENA_PAGE_BYTES);
    if (!(pages >= 1 && pages <= MAX_MEMORY_PAGES)) {
      throw new RangeError(`Arena maxBytes must be in (0, ${MAX_MEMORY_PAGES} pages]`);
    }
    this.maxBytes = pages * ARENA_PAGE_BYTES;
    this.resizable = opts.resizable !== false;
    const initialPages = this.resizable
      ? Math.min(
        pages,
        Math.max(
          1,
          Math.ceil((opts.initialBytes ?? DEFAULT_ARENA_INITIAL_BYTES) / ARENA_PAGE_BYTES),
        ),
      )
      : pages;
    let memory: WebAssembly.Memory | null = null;
    let buffer: ArrayBuffer;
    try {
      memory = new WebAssembly.Memory({ initial: initialPages, maximum: pages });
      buffer = this.resizable
        ? (memory as unknown as ResizableMemory).toResizableBuffer()
        : memory.buffer as ArrayBuffer;
    } catch {
      // No WebAssembly (or no toResizableBuffer): an ordinary buffer of the same shape.
      memory = null;
      buffer = this.resizable
        ? new ArrayBuffer(initialPages * ARENA_PAGE_BYTES, { maxByteLength: this.maxBytes })
        : new ArrayBuffer(this.maxBytes);
    }
    this.memory = memory;
    this.buffer = buffer;
    this.bytes = new Uint8Array(buffer);
    this.#registry = new FinalizationRegistry((offset: number) => this.#release(offset));
  }

  /**
   * Bytes the buffer currently spans (= {@link maxBytes} unless resizable).
   *
   * @returns the buffer's byte length
   *
   * @example
   * ```ts
   * import { Arena } from "./arena.ts";
   * console.assert(new Arena({ maxBytes: 1 << 20 }).sizeBytes === 1 << 20);
   * ```
   */
  get sizeBytes(): number {
    return this.buffer.byteLength;
  }

  /**
   * Bytes in regions handed out and not yet returned (class sizes).
   *
   * @returns the live byte count
   *
   * @example
   * ```ts
   * import { Arena } from "./arena.ts";
   * const arena = new Arena({ maxBytes: 1 << 20 });
   * arena.allocView(100);
   * console.assert(arena.usedBytes === 128);
   * ```
   */
  get usedBytes(): number {
    return this.#used;
  }

  /**
   * The bump pointer: bytes ever carved (the touched high-water mark).
   *
   * @returns the end of the highest region ever handed out
   *
   * @example
   * ```ts
   * import { Arena } from "./arena.ts";
   * const arena = new Arena({ maxBytes: 1 << 20 });
   * arena.freeView(arena.allocView(64)!);
   * console.assert(arena.highWaterBytes === 64 && arena.usedBytes === 0);
   * ```
   */
  get highWaterBytes(): number {
    return this.#top;
  }

  /**
   * Requests that did not fit under {@link maxBytes}.
   *
   * @returns the failure count
   *
   * @example
   * ```ts
   * import { Arena } from "./arena.ts";
   * const arena = new Arena({ maxBytes: 65536 });
   * console.assert(arena.allocView(1 << 20) === null && arena.failedAllocations === 1);
   * ```
   */
  get failedAllocations(): number {
    return this.#failed;
  }

  /**
   * Carves a region and returns a view of exactly `size` bytes over it.
   * The contents are unspecified (a reused region keeps old bytes). The
   * region returns to the arena on {@link freeView} or when the view is
   * garbage-collected — keep the view (not only subarrays of it) alive while
   * the memory is used.
   *
   * @param size bytes, a positive integer
   * @returns the view, or null when the arena is full (counted) or `size` is invalid
   *
   * @example
   * ```ts
   * import { Arena } from "./arena.ts";
   * const arena = new Arena({ maxBytes: 1 << 20 });
   * const v = arena.allocView(1500)!;
   * console.assert(v.length === 1500 && v.buffer === arena.buffer && v.byteOffset % 64 === 0);
   * ```
   */
  allocView(size: number): Uint8Array | null {
    if (!Number.isInteger(size) || size <= 0) return null;
    const cls = arenaClassSize(size);
    let offset = -1;
    const list = this.#free.get(cls);
    if (list !== undefined && list.length > 0) {
      offset = list.pop()!;
    } else {
      const end = this.#top + cls;
      if (end > this.maxBytes || !this.#ensure(end)) {
        this.#failed++;
        return null;
      }
      offset = this.#top;
      this.#top = end;
    }
    this.#live.set(offset, cls);
    this.#used += cls;
    const view = new Uint8Array(this.buffer, offset, size);
    this.#registry.register(view, offset, view);
    return view;
  }

  /**
   * Returns a view's region for reuse now. The view (and any view of the
   * region) must not be used afterwards.
   *
   * @param view a view returned by {@link allocView} and not yet freed
   * @throws Error when `view` is not a live view of this arena (a bug)
   *
   * @example
   * ```ts
   * import { Arena } from "./arena.ts";
   * const arena = new Arena({ maxBytes: 1 << 20 });
   * const v = arena.allocView(10)!;
   * arena.freeView(v);
   * let threw = false;
   * try { arena.freeView(v); } catch { threw = true; }
   * console.assert(threw && arena.usedBytes === 0);
   * ```
   */
  freeView(view: Uint8Array): void {
    if (view.buffer !== this.buffer || !this.#live.has(view.byteOffset)) {
      throw new Error("Arena.freeView: not a live view of this arena");
    }
    this.#registry.unregister(view);
    this.#release(view.byteOffset);
  }

  /**
   * Whether `view` lies in this arena's buffer.
   *
   * @param view any byte array
   * @returns true when {@link arenaCopy} can copy to or from it without allocating
   *
   * @example
   * ```ts
   * import { Arena } from "./arena.ts";
   * const arena = new Arena({ maxBytes: 1 << 20 });
   * console.assert(!arena.contains(new Uint8Array(4)) && arena.contains(arena.allocView(4)!));
   * ```
   */
  contains(view: Uint8Array): boolean {
    return view.buffer === this.buffer;
  }

  #release(offset: number): void {
    const cls = this.#live.get(offset);
    if (cls === undefined) return;
    this.#live.delete(offset);
    this.#used -= cls;
    let list = this.#free.get(cls);
    if (list === undefined) {
      list = [];
      this.#free.set(cls, list);
    }
    list.push(offset);
  }

  /** Makes the buffer span at least `end` bytes (grows a resizable arena). */
  #ensure(end: number): boolean {
    const size = this.buffer.byteLength;
    if (end <= size) return true;
    if (!this.resizable) return false;
    // Grow at least by doubling, so growth is rare.
    const want = Math.min(this.maxBytes, Math.max(end, size * 2));
    const pages = Math.ceil((want - size) / ARENA_PAGE_BYTES);
    try {
      if (this.memory !== null) this.memory.grow(pages);
      else this.buffer.resize(size + pages * ARENA_PAGE_BYTES);
    } catch {
      return false;
    }
    return true;
  }
}

let shared: Arena | null = null;

/**
 * The process-wide packet arena, created on first use (fixed,
 * {@link DEFAULT_ARENA_MAX_BYTES}; see the module documentation), and attached to the checksum module with
 * `attachChecksumMemory` so sums over its bytes run in WebAssembly.
 *
 * @returns the shared arena
 *
 * @example
 * ```ts
 * import { packetArena } from "./arena.ts";
 * console.assert(packetArena() === packetArena());
 * ```
 */
export function packetArena(): Arena {
  if (shared === null) {
    shared = new Arena({ resizable: false });
    // Checksums over arena bytes then run in WebAssembly SIMD, in place (S2 contract).
    if (shared.memory !== null) attachChecksumMemory(shared.memory);
    arenaBuffer = shared.buffer;
    arenaBytes = shared.bytes;
  }
  return shared;
}

/**
 * `size` bytes of packet memory: a region of the shared {@link packetArena},
 * or an ordinary array when the arena is full (correct, only slower to copy).
 *
 * @param size bytes wanted
 * @returns a view of exactly `size` bytes
 *
 * @example
 * ```ts
 * import { packetArena, packetBytes } from "./arena.ts";
 * const b = packetBytes(100);
 * console.assert(b.length === 100 && packetArena().contains(b));
 * ```
 */
export function packetBytes(size: number): Uint8Array {
  return packetArena().allocView(size) ?? new Uint8Array(size);
}

/**
 * Gives memory from {@link packetBytes} back: an arena region returns to the
 * arena at once; an ordinary array is left to the garbage collector.
 *
 * @param bytes a view from {@link packetBytes}, not used afterwards
 *
 * @example
 * ```ts
 * import { packetArena, packetBytes, releasePacketBytes } from "./arena.ts";
 * const used = packetArena().usedBytes;
 * releasePacketBytes(packetBytes(4096));
 * console.assert(packetArena().usedBytes === used);
 * ```
 */
export function releasePacketBytes(bytes: Uint8Array): void {
  const arena = packetArena();
  if (arena.contains(bytes)) arena.freeView(bytes);
}

/** Identity of the shared arena's buffer (null until created): checked per copy. */
let arenaBuffer: ArrayBufferLike | null = null;
/** Full view of the shared arena's buffer. */
let arenaBytes: Uint8Array = new Uint8Array(0);

/**
 * Copies `length` bytes from `src[srcOffset..]` to `dst[dstOffset..]` when
 * both live in the shared {@link packetArena} — one `copyWithin` on the
 * arena's full view, nothing allocated (overlap-safe).
 *
 * @param src source view
 * @param srcOffset first source index
 * @param dst destination view
 * @param dstOffset first destination index
 * @param length bytes; the caller guarantees both ranges are in bounds
 * @returns false (and nothing copied) when either view is outside the arena
 *
 * @example
 * ```ts
 * import { arenaCopy, packetArena } from "./arena.ts";
 * const a = packetArena().allocView(8)!.fill(5);
 * const b = packetArena().allocView(8)!.fill(0);
 * console.assert(arenaCopy(a, 0, b, 4, 4) && b.join() === "0,0,0,0,5,5,5,5");
 * console.assert(!arenaCopy(new Uint8Array(8), 0, b, 0, 8));
 * ```
 */
export function arenaCopy(
  src: Uint8Array,
  srcOffset: number,
  dst: Uint8Array,
  dstOffset: number,
  length: number,
): boolean {
  const buffer = arenaBuffer;
  if (buffer === null || src.buffer !== buffer || dst.buffer !== buffer) return false;
  const from = src.byteOffset + srcOffset;
  arenaBytes.copyWithin(dst.byteOffset + dstOffset, from, from + length);
  return true;
}
