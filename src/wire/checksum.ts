/**
 * The Internet checksum (RFC 1071), the TCP/UDP pseudo-headers of IPv4
 * (RFC 9293 §3.1, RFC 768) and IPv6 (RFC 8200 §8.1) and incremental update
 * (RFC 1624).
 *
 * Two summing paths give identical results for every input:
 *
 * - JavaScript: 32-bit words read through a `Uint32Array` that is made once
 *   per underlying `ArrayBuffer` and cached (length-tracking for resizable
 *   buffers, so it stays valid when they grow), so a 1500-byte frame costs
 *   ~375 additions instead of 1500 byte reads. RFC 1071 §2(B): the
 *   one's-complement sum is byte-order independent, so little-endian words
 *   are summed and the folded result swapped once.
 * - WebAssembly SIMD (./checksum_wasm.ts): after {@link attachChecksumMemory},
 *   bytes that live in the attached `WebAssembly.Memory` (identity check:
 *   `bytes.buffer` is that memory's resizable buffer) and are at least
 *   {@link WASM_CHECKSUM_MIN_BYTES} long are summed in place, 16 bytes per
 *   vector load.
 *
 * @module
 */

import {
  type ChecksumCopySum,
  instantiateChecksumSum,
  instantiateCopySum,
} from "./checksum_wasm.ts";

/** Below this many bytes the byte-pair loop is as fast as the word loop. */
const WORD_PATH_MIN_BYTES = 64;
/** Words per chunk whose 16-bit halves can be summed in int32 without overflow (2^31 / 2^16). */
const WORDS_PER_CHUNK = 1 << 14;

/**
 * Sums at least this long run in WebAssembly when the bytes are in the
 * attached memory. Measured with `deno run -A bench/wire_bench.ts`, which
 * prints the JS/WebAssembly crossover: WebAssembly is ahead from 4–28 bytes
 * when the view is the one summed just before (one-entry view cache hit)
 * and from 16–48 bytes when it is not (`bytes.buffer` and `byteOffset` are
 * read again, ~25–35 ns); 32 bytes sits between, so 20-byte IPv4 and 8-byte
 * UDP headers stay in JS and every payload goes to WebAssembly.
 *
 * @example
 * ```ts
 * import { WASM_CHECKSUM_MIN_BYTES } from "./checksum.ts";
 * console.assert(WASM_CHECKSUM_MIN_BYTES > 0);
 * ```
 */
export const WASM_CHECKSUM_MIN_BYTES = 32;

/** Largest signed 32-bit integer: below it a sum folds with bit operations. */
const INT32_MAX = 0x7fffffff;

const wordViews = new WeakMap<ArrayBufferLike, Uint32Array>();

/** Stands in for the words of an empty or detached buffer (reads give undefined, summed as 0). */
const NO_WORDS = new Uint32Array(0);

function wordsOf(buffer: ArrayBufferLike): Uint32Array {
  let words = wordViews.get(buffer);
  if (words === undefined) {
    // A detached buffer (a WebAssembly memory grew) cannot take a new view.
    if (buffer.byteLength === 0) return NO_WORDS;
    // A resizable buffer gets a length-tracking view (no length argument),
    // which still covers every byte after the buffer grows.
    words = (buffer as ArrayBuffer).resizable
      ? new Uint32Array(buffer)
      : new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    wordViews.set(buffer, words);
  }
  return words;
}

/** Placeholder until a memory is attached; never called (no view maps into it). */
function noWasmSum(_offset: number, _length: number): number {
  return 0;
}

/** The WebAssembly `sum(offset, length)` over the attached memory. */
let wasmSum: (offset: number, length: number) => number = noWasmSum;
/** The attached memory, to pick up its new buffer after a fixed-length one was detached by grow. */
let wasmMemory: WebAssembly.Memory | null = null;
/** The attached memory's ArrayBuffer: the one identity compared with `bytes.buffer`. */
let wasmBuffer: ArrayBufferLike | null = null;
/**
 * One-entry cache of the last view checked: `bytes.buffer` and, over a
 * resizable buffer, `bytes.byteOffset` are not inlined by V8 (about 23 ns
 * and 13 ns a call here), while re-checking the same view is a compare.
 * A view's buffer never changes and a WebAssembly memory never shrinks, so
 * the cached answer stays right (a detached view has length 0 and fails the
 * bounds check). Holds one view alive until the next different one.
 */
let lastView: Uint8Array | null = null;
/** Linear address of `lastView[0]` in the attached memory, or -1 when it is elsewhere. */
let lastBase = -1;

/**
 * Lets every checksum function of this module sum bytes that live in
 * `memory` with a WebAssembly SIMD routine (no copy). Returns false (and
 * changes nothing) when this runtime has no WebAssembly SIMD. Only one
 * memory is attached at a time; a later call replaces the earlier one.
 * Safe to call when `memory` later grows.
 *
 * The identity compared per call is `memory.buffer` as it is when attached:
 * the resizable buffer if the owner already called
 * `memory.toResizableBuffer()` (it stays the same object across grows), else
 * the fixed-length buffer (after a grow detaches it, the new `memory.buffer`
 * is picked up on the next sum). This function never calls
 * `toResizableBuffer()` itself: on a memory whose fixed-length buffer is in
 * use that would detach every existing view of it.
 *
 * @param memory the packet memory
 * @returns true when sums over `memory` now run in WebAssembly
 *
 * @example
 * ```ts
 * import { attachChecksumMemory, onesComplementSum } from "./checksum.ts";
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 16 });
 * const attached = attachChecksumMemory(memory);
 * const bytes = new Uint8Array(memory.buffer, 4096, 1500).fill(0xff);
 * console.assert(onesComplementSum(bytes, 0, 1500) === 0xffff, String(attached));
 * ```
 */
export function attachChecksumMemory(memory: WebAssembly.Memory): boolean {
  const sum = instantiateChecksumSum(memory);
  if (sum === null) return false;
  wasmSum = sum;
  wasmCopySum = instantiateCopySum(memory);
  lastCopySource = null;
  lastCopyDestination = null;
  wasmMemory = memory;
  wasmBuffer = memory.buffer;
  lastView = null;
  lastBase = -1;
  return true;
}

/** The copy-and-sum routine over the attached memory (./checksum_wasm.ts), null when none. */
let wasmCopySum: ChecksumCopySum | null = null;
/** The last source and destination views {@link copyWithSum} found, with their bases. */
let lastCopySource: Uint8Array | null = null;
let lastCopySourceBase = -1;
let lastCopyDestination: Uint8Array | null = null;
let lastCopyDestinationBase = -1;

/** Linear address of `bytes[0]` in the attached memory, or -1 (no cache: see wasmBaseOf). */
function wasmBaseOfUncached(bytes: Uint8Array): number {
  const buffer = bytes.buffer;
  if (buffer !== wasmBuffer && wasmMemory !== null && wasmBuffer!.byteLength === 0) {
    wasmBuffer = wasmMemory.buffer; // a fixed-length buffer was detached by memory.grow
  }
  return buffer === wasmBuffer ? bytes.byteOffset : -1;
}

/**
 * Copies `length` bytes from `src[srcOffset..]` to `dst[dstOffset..]` and
 * returns their one's-complement sum (as {@link onesComplementSum} with
 * `initial = 0`: big-endian words paired from `srcOffset`, folded, not
 * complemented) in one WebAssembly pass, when both views live in the
 * attached memory (issue 22: a TCP payload checksummed while it is copied
 * from the send ring into its frame). Returns -1, having copied nothing, when
 * that path is not available (no attached memory, a view outside it, a range
 * outside a view, fewer than {@link WASM_CHECKSUM_MIN_BYTES} bytes): the
 * caller copies and sums on its own. The ranges must not overlap.
 *
 * @param src source view
 * @param srcOffset first source index
 * @param dst destination view
 * @param dstOffset first destination index
 * @param length bytes
 * @returns the folded sum 0..0xffff, or -1 when nothing was done
 *
 * @example
 * ```ts
 * import { attachChecksumMemory, copyWithSum, onesComplementSum } from "./checksum.ts";
 * const memory = new WebAssembly.Memory({ initial: 1 });
 * if (attachChecksumMemory(memory)) {
 *   const a = new Uint8Array(memory.buffer, 0, 1000).fill(7);
 *   const b = new Uint8Array(memory.buffer, 2000, 1000);
 *   console.assert(copyWithSum(a, 0, b, 0, 1000) === onesComplementSum(a, 0, 1000) && b[999] === 7);
 * }
 * ```
 */
export function copyWithSum(
  src: Uint8Array,
  srcOffset: number,
  dst: Uint8Array,
  dstOffset: number,
  length: number,
): number {
  const copySum = wasmCopySum;
  if (copySum === null || length < WASM_CHECKSUM_MIN_BYTES) return -1;
  if (src !== lastCopySource) {
    lastCopySourceBase = wasmBaseOfUncached(src);
    lastCopySource = src;
  }
  if (dst !== lastCopyDestination) {
    lastCopyDestinationBase = wasmBaseOfUncached(dst);
    lastCopyDestination = dst;
  }
  const from = lastCopySourceBase;
  const to = lastCopyDestinationBase;
  if (
    from < 0 || to < 0 || !(srcOffset >= 0) || !(dstOffset >= 0) ||
    length > src.length - srcOffset || length > dst.length - dstOffset
  ) return -1;
  return copySum(to + dstOffset, from + srcOffset, length);
}

/** Linear address of `bytes[0]` in the attached memory, or -1 when `bytes` is elsewhere. */
function wasmBaseOf(bytes: Uint8Array): number {
  if (bytes === lastView) return lastBase;
  const buffer = bytes.buffer;
  if (buffer !== wasmBuffer && wasmMemory !== null && wasmBuffer!.byteLength === 0) {
    wasmBuffer = wasmMemory.buffer; // a fixed-length buffer was detached by memory.grow
  }
  lastView = bytes;
  lastBase = buffer === wasmBuffer ? bytes.byteOffset : -1;
  return lastBase;
}

/**
 * Whether {@link onesComplementSum} would sum `length` bytes of `bytes` in
 * WebAssembly (they live in the attached memory and the length is at least
 * {@link WASM_CHECKSUM_MIN_BYTES}); for diagnostics and benchmarks.
 *
 * @param bytes the data
 * @param length how many bytes would be summed
 * @returns true for the WebAssembly path, false for the JavaScript path
 *
 * @example
 * ```ts
 * import { checksumUsesWasm } from "./checksum.ts";
 * console.assert(checksumUsesWasm(new Uint8Array(1500), 1500) === false); // not in the memory
 * ```
 */
export function checksumUsesWasm(bytes: Uint8Array, length: number): boolean {
  return wasmBuffer !== null && length >= WASM_CHECKSUM_MIN_BYTES && wasmBaseOf(bytes) >= 0;
}

/**
 * Folds a non-negative accumulator (< 2^53) into 16 bits of one's-complement sum.
 *
 * @param sum an accumulator of 16-bit words
 * @returns the folded sum, 0..0xffff
 *
 * @example
 * ```ts
 * import { foldSum } from "./checksum.ts";
 * console.assert(foldSum(0x1ffff) === 0x0001);
 * ```
 */
export function foldSum(sum: number): number {
  if (sum <= INT32_MAX) {
    // The usual case (a few thousand words at most): two folds of a small integer.
    const s = (sum & 0xffff) + (sum >>> 16);
    return (s & 0xffff) + (s >>> 16);
  }
  // Split rather than shift: `sum` may exceed 32 bits.
  let s = (sum % 0x10000) + Math.floor(sum / 0x10000);
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
}

function swap16(x: number): number {
  return ((x & 0xff) << 8) | (x >>> 8);
}

/** Big-endian 16-bit word sum of bytes[start, end), the last odd byte padded with zero. */
function sumBytePairs(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  let i = start;
  const end16 = start + ((end - start) & ~15);
  while (i < end16) {
    sum += ((bytes[i] << 8) | bytes[i + 1]) + ((bytes[i + 2] << 8) | bytes[i + 3]) +
      ((bytes[i + 4] << 8) | bytes[i + 5]) + ((bytes[i + 6] << 8) | bytes[i + 7]) +
      ((bytes[i + 8] << 8) | bytes[i + 9]) + ((bytes[i + 10] << 8) | bytes[i + 11]) +
      ((bytes[i + 12] << 8) | bytes[i + 13]) + ((bytes[i + 14] << 8) | bytes[i + 15]);
    i += 16;
  }
  while (i + 1 < end) {
    sum += (bytes[i] << 8) | bytes[i + 1];
    i += 2;
  }
  if (i < end) sum += bytes[i] << 8;
  return sum;
}

/** Sum of the 16-bit halves of words[first, last), at most WORDS_PER_CHUNK words. */
function sumWordHalves(words: Uint32Array, first: number, last: number): number {
  let lo = 0;
  let hi = 0;
  for (let w = first; w < last; w++) {
    const v = words[w];
    lo = (lo + (v & 0xffff)) | 0;
    hi = (hi + (v >>> 16)) | 0;
  }
  // Fold here so the result stays a small integer (V8 Smi) for the caller.
  return (lo & 0xffff) + (lo >>> 16) + (hi & 0xffff) + (hi >>> 16);
}

/**
 * The RFC 1071 one's-complement sum of `length` bytes at `offset`, added to
 * `initial` (for example a pseudo-header sum), not complemented. Runs in
 * WebAssembly SIMD when `bytes` lives in the memory given to
 * {@link attachChecksumMemory} and `length` ≥ {@link WASM_CHECKSUM_MIN_BYTES};
 * the result is the same either way.
 *
 * @param bytes the data
 * @param offset where the data starts in `bytes`
 * @param length how many bytes to sum (may be odd)
 * @param initial a partial sum to add (0..0xffff or any accumulator)
 * @returns the folded sum, 0..0xffff
 *
 * @example
 * ```ts
 * import { onesComplementSum } from "./checksum.ts";
 * // RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
 * const data = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
 * console.assert(onesComplementSum(data, 0, data.length) === 0xddf2);
 * ```
 */
export function onesComplementSum(
  bytes: Uint8Array,
  offset: number,
  length: number,
  initial = 0,
): number {
  if (length >= WASM_CHECKSUM_MIN_BYTES && wasmBuffer !== null) {
    const base = wasmBaseOf(bytes);
    if (base >= 0 && offset >= 0 && length <= bytes.length - offset) {
      // In the attached memory and inside the view: sum in place in
      // WebAssembly. Its folded sum keeps the residue mod 0xffff and is 0
      // only for all-zero data, so this equals the JS result for every input.
      return foldSum(initial + wasmSum(base + offset, length));
    }
  }
  const start = offset;
  const end = offset + length;
  if (length < WORD_PATH_MIN_BYTES) return foldSum(initial + sumBytePairs(bytes, start, end));
  const absStart = bytes.byteOffset + start;
  const lead = (4 - (absStart & 3)) & 3;
  let sum = initial + sumBytePairs(bytes, start, start + lead);
  const words = wordsOf(bytes.buffer);
  const firstWord = (absStart + lead) >>> 2;
  const wordCount = (length - lead) >>> 2;
  let wordSum = 0;
  for (
    let chunk = firstWord, last = firstWord + wordCount;
    chunk < last;
    chunk += WORDS_PER_CHUNK
  ) {
    wordSum += sumWordHalves(words, chunk, Math.min(last, chunk + WORDS_PER_CHUNK));
  }
  // Little-endian words give the byte-swapped sum (RFC 1071 §2(B)); a word
  // region that starts at an odd data position is swapped once more.
  let wordPart = foldSum(wordSum);
  if ((lead & 1) === 0) wordPart = swap16(wordPart);
  sum += wordPart;
  const tailStart = start + lead + (wordCount << 2);
  let tail = foldSum(sumBytePairs(bytes, tailStart, end));
  if (((tailStart - start) & 1) === 1) tail = swap16(tail);
  return foldSum(sum + tail);
}

/**
 * The Internet checksum of `length` bytes at `offset`: the one's complement
 * of their one's-complement sum (RFC 1071). A region that already contains a
 * correct checksum field yields 0.
 *
 * @param bytes the data
 * @param offset where the data starts
 * @param length how many bytes (odd is fine)
 * @param initial a partial sum to include, e.g. from {@link pseudoHeaderSum}
 * @returns the 16-bit checksum to store in the header
 *
 * @example
 * ```ts
 * import { internetChecksum } from "./checksum.ts";
 * // An IPv4 header with its checksum field zeroed.
 * const h = new Uint8Array([0x45,0,0,0x73,0,0,0x40,0,0x40,0x11,0,0,0xc0,0xa8,0,1,0xc0,0xa8,0,0xc7]);
 * console.assert(internetChecksum(h, 0, 20) === 0xb861);
 * ```
 */
export function internetChecksum(
  bytes: Uint8Array,
  offset: number,
  length: number,
  initial = 0,
): number {
  return ~onesComplementSum(bytes, offset, length, initial) & 0xffff;
}

/**
 * The one's-complement sum of the IPv4 pseudo-header used by TCP and UDP
 * (RFC 9293 §3.1, RFC 768): source, destination, zero, protocol, length.
 *
 * @param src source address as an unsigned 32-bit number
 * @param dst destination address as an unsigned 32-bit number
 * @param protocol IP protocol number (6 for TCP, 17 for UDP)
 * @param length the TCP or UDP length (header plus data) in bytes
 * @returns a partial sum to pass as `initial`
 *
 * @example
 * ```ts
 * import { pseudoHeaderSum } from "./checksum.ts";
 * console.assert(pseudoHeaderSum(0xc0000201, 0xc0000202, 17, 8) === 0x841d);
 * ```
 */
export function pseudoHeaderSum(
  src: number,
  dst: number,
  protocol: number,
  length: number,
): number {
  return foldSum(
    (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length,
  );
}

/** An IPv6 address as four 32-bit words, most significant first (`Ipv6Address` has this shape). */
export interface Ipv6Words {
  /** Bytes 0–3. */
  readonly w0: number;
  /** Bytes 4–7. */
  readonly w1: number;
  /** Bytes 8–11. */
  readonly w2: number;
  /** Bytes 12–15. */
  readonly w3: number;
}

/** The sum of the two 16-bit halves of a 32-bit word (int32 or unsigned). */
function halves(w: number): number {
  return (w >>> 16) + (w & 0xffff);
}

/**
 * The one's-complement sum of the two addresses of an IPv6 pseudo-header
 * (RFC 8200 §8.1): the part that is fixed for a connection, so TCP and UDP
 * can compute it once per flow and complete it per packet with
 * {@link ipv6PseudoHeaderSumFrom} (the `ipv6AddressSum` option of the TCP
 * and UDP codecs).
 *
 * @param src source address words (e.g. an `Ipv6Address`)
 * @param dst destination address words (the final one when a Routing header is present)
 * @returns the folded sum, 0..0xffff
 *
 * @example
 * ```ts
 * import { ipv6AddressSum } from "./checksum.ts";
 * const a = { w0: 0x20010db8, w1: 0, w2: 0, w3: 1 };
 * const b = { w0: 0x20010db8, w1: 0, w2: 0, w3: 2 };
 * console.assert(ipv6AddressSum(a, b) === 0x5b75);
 * ```
 */
export function ipv6AddressSum(src: Ipv6Words, dst: Ipv6Words): number {
  return foldSum(
    halves(src.w0) + halves(src.w1) + halves(src.w2) + halves(src.w3) + halves(dst.w0) +
      halves(dst.w1) + halves(dst.w2) + halves(dst.w3),
  );
}

/**
 * {@link ipv6AddressSum} of two addresses in a buffer (usually the IPv6
 * header of the packet itself: source at +8, destination at +24), so the
 * receive path needs no address objects.
 *
 * @param bytes the buffer
 * @param srcOffset where the 16-byte source address starts
 * @param dstOffset where the 16-byte destination address starts
 * @returns the folded sum, 0..0xffff
 *
 * @example
 * ```ts
 * import { ipv6AddressSumAt } from "./checksum.ts";
 * const b = new Uint8Array(32);
 * b.set([0x20, 0x01, 0x0d, 0xb8], 0); b[15] = 1;
 * b.set([0x20, 0x01, 0x0d, 0xb8], 16); b[31] = 2;
 * console.assert(ipv6AddressSumAt(b, 0, 16) === 0x5b75);
 * ```
 */
export function ipv6AddressSumAt(bytes: Uint8Array, srcOffset: number, dstOffset: number): number {
  return foldSum(
    sumBytePairs(bytes, srcOffset, srcOffset + 16) + sumBytePairs(bytes, dstOffset, dstOffset + 16),
  );
}

/**
 * Completes an IPv6 pseudo-header sum (RFC 8200 §8.1) from its address
 * sum: adds the 32-bit upper-layer length and the Next Header value.
 *
 * @param addressSum from {@link ipv6AddressSum} or {@link ipv6AddressSumAt}
 * @param nextHeader upper-layer protocol (6 TCP, 17 UDP, 58 ICMPv6)
 * @param length upper-layer header plus data, in bytes
 * @returns a partial sum to pass as `initial`
 *
 * @example
 * ```ts
 * import { ipv6PseudoHeaderSumFrom } from "./checksum.ts";
 * console.assert(ipv6PseudoHeaderSumFrom(0x5b75, 58, 8) === 0x5bb7);
 * ```
 */
export function ipv6PseudoHeaderSumFrom(
  addressSum: number,
  nextHeader: number,
  length: number,
): number {
  return foldSum(addressSum + halves(length) + nextHeader);
}

/**
 * The one's-complement sum of the IPv6 pseudo-header (RFC 8200 §8.1) that
 * TCP, UDP and ICMPv6 (RFC 4443 §2.3) checksums cover: source address,
 * destination address (the final one when a Routing header is present),
 * the 32-bit upper-layer packet length, three zero bytes and the Next
 * Header value of the upper-layer protocol.
 *
 * @param src source address words (e.g. an `Ipv6Address`)
 * @param dst destination address words
 * @param nextHeader upper-layer protocol (6 TCP, 17 UDP, 58 ICMPv6)
 * @param length upper-layer header plus data, in bytes
 * @returns a partial sum to pass as `initial`
 *
 * @example
 * ```ts
 * import { ipv6PseudoHeaderSum } from "./checksum.ts";
 * const src = { w0: 0x20010db8, w1: 0, w2: 0, w3: 1 };
 * const dst = { w0: 0x20010db8, w1: 0, w2: 0, w3: 2 };
 * console.assert(ipv6PseudoHeaderSum(src, dst, 58, 8) === 0x5bb7);
 * ```
 */
export function ipv6PseudoHeaderSum(
  src: Ipv6Words,
  dst: Ipv6Words,
  nextHeader: number,
  length: number,
): number {
  return ipv6PseudoHeaderSumFrom(ipv6AddressSum(src, dst), nextHeader, length);
}

/**
 * {@link ipv6PseudoHeaderSum} with the two addresses read from a buffer.
 *
 * @param bytes the buffer
 * @param srcOffset where the 16-byte source address starts
 * @param dstOffset where the 16-byte destination address starts
 * @param nextHeader upper-layer protocol
 * @param length upper-layer header plus data, in bytes
 * @returns a partial sum to pass as `initial`
 *
 * @example
 * ```ts
 * import { ipv6PseudoHeaderSumAt } from "./checksum.ts";
 * const b = new Uint8Array(32);
 * b.set([0x20, 0x01, 0x0d, 0xb8], 0); b[15] = 1;
 * b.set([0x20, 0x01, 0x0d, 0xb8], 16); b[31] = 2;
 * console.assert(ipv6PseudoHeaderSumAt(b, 0, 16, 58, 8) === 0x5bb7);
 * ```
 */
export function ipv6PseudoHeaderSumAt(
  bytes: Uint8Array,
  srcOffset: number,
  dstOffset: number,
  nextHeader: number,
  length: number,
): number {
  return ipv6PseudoHeaderSumFrom(ipv6AddressSumAt(bytes, srcOffset, dstOffset), nextHeader, length);
}

/**
 * The pseudo-header sum a TCP or UDP codec uses: the IPv6 one when
 * `ipv6AddressSum` is given (≥ 0), else the IPv4 one from `src`/`dst`.
 *
 * @param src IPv4 source address (ignored for IPv6)
 * @param dst IPv4 destination address (ignored for IPv6)
 * @param protocol 6 or 17
 * @param length transport header plus data
 * @param ipv6AddressSum {@link ipv6AddressSum} of the IPv6 addresses, or undefined/-1 for IPv4
 * @returns a partial sum to pass as `initial`
 *
 * @example
 * ```ts
 * import { pseudoHeaderSum, transportPseudoHeaderSum } from "./checksum.ts";
 * console.assert(transportPseudoHeaderSum(1, 2, 17, 8) === pseudoHeaderSum(1, 2, 17, 8));
 * console.assert(transportPseudoHeaderSum(0, 0, 58, 8, 0x5b75) === 0x5bb7);
 * ```
 */
export function transportPseudoHeaderSum(
  src: number,
  dst: number,
  protocol: number,
  length: number,
  ipv6AddressSum?: number,
): number {
  return ipv6AddressSum !== undefined && ipv6AddressSum >= 0
    ? ipv6PseudoHeaderSumFrom(ipv6AddressSum, protocol, length)
    : pseudoHeaderSum(src, dst, protocol, length);
}

/**
 * Incrementally updates a checksum after one 16-bit word of the covered data
 * changed, per RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')`.
 *
 * @param checksum the checksum currently stored in the header
 * @param oldWord the 16-bit word before the change
 * @param newWord the 16-bit word after the change
 * @returns the checksum to store now
 *
 * @example
 * ```ts
 * import { updateChecksum16 } from "./checksum.ts";
 * // RFC 1624 §4: old checksum 0xdd2f, a word changes 0x5555 → 0x3285.
 * console.assert(updateChecksum16(0xdd2f, 0x5555, 0x3285) === 0x0000);
 * ```
 */
export function updateChecksum16(checksum: number, oldWord: number, newWord: number): number {
  return ~foldSum((~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;
}

/**
 * Incrementally updates a checksum after a 32-bit field (an address, a
 * sequence number) changed: two applications of RFC 1624 eqn. 3.
 *
 * @param checksum the checksum currently stored
 * @param oldValue the unsigned 32-bit value before the change
 * @param newValue the unsigned 32-bit value after the change
 * @returns the checksum to store now
 *
 * @example
 * ```ts
 * import { updateChecksum32 } from "./checksum.ts";
 * console.assert(updateChecksum32(0x1234, 7, 7) === 0x1234);
 * ```
 */
export function updateChecksum32(checksum: number, oldValue: number, newValue: number): number {
  return ~foldSum(
    (~checksum & 0xffff) + (~(oldValue >>> 16) & 0xffff) + (~oldValue & 0xffff) +
      (newValue >>> 16) + (newValue & 0xffff),
  ) & 0xffff;
}

/**
 * Offset of UDP's checksum field in its header (RFC 768): the one transport
 * whose computed checksum 0 is sent as 0xffff (0 means "no checksum").
 */
export const UDP_CHECKSUM_OFFSET = 6;

/** Bytes of an Internet checksum field (RFC 1071). */
export const CHECKSUM_FIELD_BYTES = 2;

/**
 * Completes a partial transport checksum in software (what a device does
 * with checksum offload, Linux CHECKSUM_PARTIAL): the field holds the folded
 * pseudo-header sum, so the complement of the one's complement sum of the
 * whole transport segment is the checksum (RFC 1071). A UDP field
 * ({@link UDP_CHECKSUM_OFFSET}) gets 0xffff for a computed 0 (RFC 768).
 * Does nothing when the field or the segment does not fit `bytes`.
 *
 * @param bytes buffer
 * @param offset start of the transport header
 * @param length transport header + data
 * @param fieldOffset checksum field offset in the transport header (TCP 16, UDP 6)
 *
 * @example
 * ```ts
 * import { completePartialChecksum, foldSum, pseudoHeaderSum } from "./checksum.ts";
 * import { TcpPacket } from "./tcp.ts";
 * const b = new Uint8Array(20);
 * b[12] = 0x50; // data offset 5
 * const ph = foldSum(pseudoHeaderSum(0xc0000201, 0xc0000202, 6, 20));
 * b[16] = ph >>> 8; b[17] = ph & 0xff;
 * completePartialChecksum(b, 0, 20, 16);
 * console.assert(new TcpPacket(b).verifyChecksum(0xc0000201, 0xc0000202));
 * ```
 */
export function completePartialChecksum(
  bytes: Uint8Array,
  offset: number,
  length: number,
  fieldOffset: number,
): void {
  if (fieldOffset + 2 > length || offset < 0 || offset + length > bytes.length) return;
  let ck = ~onesComplementSum(bytes, offset, length) & 0xffff;
  if (ck === 0 && fieldOffset === UDP_CHECKSUM_OFFSET) ck = 0xffff;
  bytes[offset + fieldOffset] = ck >>> 8;
  bytes[offset + fieldOffset + 1] = ck & 0xff;
}
