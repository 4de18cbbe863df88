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
 * Page regions ({@link Arena.allocPageView}) are for memory another party
 * maps in place: AF_PACKET maps its PACKET_RX_RING over one with
 * `mmap(MAP_FIXED)` at {@link Arena.baseAddress} + offset, so received frames
 * are arena bytes (src/phy/af_packet.ts). They start and end on
 * {@link ARENA_MAP_PAGE_BYTES} boundaries, are reused by exact size, and go
 * back ONLY through {@link Arena.freeView} (never on garbage collection: the
 * kernel may still write into them until its owner restores the pages).
 *
 * @module
 */

import { attachChecksumMemory } from "../wire/checksum.ts";
import { instantiateMemoryCopy, type MemoryCopy } from "./arena_wasm.ts";

/** WebAssembly page size in bytes. */
export const ARENA_PAGE_BYTES = 65536;
/** Every region starts at a multiple of this (a cache line). */
export const ARENA_ALIGN_BYTES = 64;
/**
 * Granularity of {@link Arena.allocPageView} regions: the host's memory page
 * (x86-64 / arm64 Linux with 4 KiB pages), the unit `mmap(MAP_FIXED)` works in.
 */
export const ARENA_MAP_PAGE_BYTES = 4096;
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
  /** Live page regions: offset → page-rounded size (not in #live, not GC-released). */
  #pageLive = new Map<number, number>();
  /** Free page regions by exact page-rounded size. */
  #pageFree = new Map<number, number[]>();
  #registry: FinalizationRegistry<number>;
  #baseAddress: bigint | null | undefined = undefined;

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
    const offset = view.byteOffset;
    if (view.buffer === this.buffer) {
      const pageSize = this.#pageLive.get(offset);
      if (pageSize !== undefined) {
        this.#pageLive.delete(offset);
        this.#used -= pageSize;
        pushFree(this.#pageFree, pageSize, offset);
        return;
      }
    }
    if (view.buffer !== this.buffer || !this.#live.has(offset)) {
      throw new Error("Arena.freeView: not a live view of this arena");
    }
    this.#registry.unregister(view);
    this.#release(offset);
  }

  /**
   * Carves a region that starts on an {@link ARENA_MAP_PAGE_BYTES} boundary
   * (also of the linear address, see {@link baseAddress}) and spans whole
   * pages, for memory mapped in place with `mmap(MAP_FIXED)`. A freed page
   * region is reused by the next request of the same page-rounded size; the
   * alignment gap before a new one goes to the ordinary free lists. The
   * region returns ONLY through {@link freeView} — never when the view is
   * garbage-collected — so whoever maps over it must first put ordinary
   * anonymous pages back.
   *
   * @param size bytes, a positive integer (rounded up to whole pages)
   * @returns a view of exactly `size` bytes, or null when the arena is full (counted) or `size` is invalid
   *
   * @example
   * ```ts
   * import { Arena, ARENA_MAP_PAGE_BYTES } from "./arena.ts";
   * const arena = new Arena({ maxBytes: 1 << 20, resizable: false });
   * arena.allocView(100);
   * const ring = arena.allocPageView(3 * ARENA_MAP_PAGE_BYTES)!;
   * console.assert(ring.byteOffset % ARENA_MAP_PAGE_BYTES === 0);
   * arena.freeView(ring);
   * console.assert(arena.allocPageView(3 * ARENA_MAP_PAGE_BYTES)!.byteOffset === ring.byteOffset);
   * ```
   */
  allocPageView(size: number): Uint8Array | null {
    if (!Number.isInteger(size) || size <= 0) return null;
    const pageSize = Math.ceil(size / ARENA_MAP_PAGE_BYTES) * ARENA_MAP_PAGE_BYTES;
    let offset = -1;
    const list = this.#pageFree.get(pageSize);
    if (list !== undefined && list.length > 0) {
      offset = list.pop()!;
    } else {
      const start = Math.ceil(this.#top / ARENA_MAP_PAGE_BYTES) * ARENA_MAP_PAGE_BYTES;
      const end = start + pageSize;
      if (end > this.maxBytes || !this.#ensure(end)) {
        this.#failed++;
        return null;
      }
      this.#donateGap(this.#top, start);
      offset = start;
      this.#top = end;
    }
    this.#pageLive.set(offset, pageSize);
    this.#used += pageSize;
    return new Uint8Array(this.buffer, offset, size);
  }

  /**
   * Linear address of the arena's byte 0 (the WebAssembly memory's base,
   * stable for the process's life: V8 reserves a memory's whole range up
   * front and this arena never moves it), for mapping memory in place over a
   * {@link allocPageView} region. Needs `--allow-ffi` (`Deno.UnsafePointer.of`).
   *
   * @returns the address, or null without a WebAssembly memory or without FFI permission
   *
   * @example
   * ```ts
   * import { Arena } from "./arena.ts";
   * const arena = new Arena({ maxBytes: 1 << 20, resizable: false });
   * const address = arena.baseAddress; // null unless run with --allow-ffi
   * console.assert(address === null || address % 4096n === 0n);
   * ```
   */
  get baseAddress(): bigint | null {
    if (this.#baseAddress !== undefined) return this.#baseAddress;
    let address: bigint | null = null;
    if (this.memory !== null) {
      try {
        if (Deno.permissions.querySync({ name: "ffi" }).state === "granted") {
          address = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.bytes)));
          if (address === 0n) address = null;
        }
      } catch {
        address = null;
      }
    }
    this.#baseAddress = address;
    return address;
  }

  /** Puts `[from, to)` (a multiple of 64 bytes) on the ordinary free lists, largest classes first. */
  #donateGap(from: number, to: number): void {
    let at = from;
    while (to - at >= ARENA_ALIGN_BYTES) {
      // The largest size class that fits (every multiple of 64 up to 512 is one).
      let cls = to - at;
      while (arenaClassSize(cls) !== cls) cls -= ARENA_ALIGN_BYTES;
      pushFree(this.#free, cls, at);
      at += cls;
    }
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
    pushFree(this.#free, cls, offset);
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

/** Adds `offset` to the free list of `size` in `lists`, making the list on first use. */
function pushFree(lists: Map<number, number[]>, size: number, offset: number): void {
  const list = lists.get(size);
  if (list === undefined) lists.set(size, [offset]);
  else list.push(offset);
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
    if (shared.memory !== null) arenaMemoryCopy = instantiateMemoryCopy(shared.memory);
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
/** The last source and destination views {@link arenaCopy} found in the arena. */
let lastSource: Uint8Array | null = null;
let lastDestination: Uint8Array | null = null;
/** `memory.copy` over the shared arena's memory (./arena_wasm.ts), null = use `copyWithin`. */
let arenaMemoryCopy: MemoryCopy | null = null;

/**
 * Copies `length` bytes from `src[srcOffset..]` to `dst[dstOffset..]` when
 * both live in the shared {@link packetArena} — one WebAssembly
 * `memory.copy` (./arena_wasm.ts; ≈35 ns for 1514 bytes against ≈65 ns for
 * `copyWithin` on the arena's full view, the fallback), nothing allocated,
 * overlap-safe.
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
  // A view's `buffer` getter is a builtin call (≈13 ns here): remember the last source and
  // destination checked (a ring or a staging area is usually one of them).
  if (src !== lastSource) {
    if (arenaBuffer === null || src.buffer !== arenaBuffer) return false;
    lastSource = src;
  }
  if (dst !== lastDestination) {
    if (arenaBuffer === null || dst.buffer !== arenaBuffer) return false;
    lastDestination = dst;
  }
  const from = src.byteOffset + srcOffset;
  // Linear addresses are byte offsets: the arena's buffer starts at address 0 of its memory.
  if (arenaMemoryCopy !== null) arenaMemoryCopy(dst.byteOffset + dstOffset, from, length);
  else arenaBytes.copyWithin(dst.byteOffset + dstOffset, from, from + length);
  return true;
}
