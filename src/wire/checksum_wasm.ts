/**
 * A hand-written WebAssembly SIMD routine for the Internet checksum
 * (RFC 1071), assembled here byte by byte: no toolchain, no download.
 *
 * The module imports its memory as `("env", "memory")`, so one compiled
 * module can be instantiated over any `WebAssembly.Memory` and sums bytes
 * where they already are (no copy). It exports one function:
 *
 *   `sum(offset: i32, length: i32) -> i32`
 *
 * which returns the one's-complement sum of the `length` bytes at linear
 * address `offset`, read as big-endian 16-bit words with an odd last byte
 * padded with zero, FOLDED to 0..0xffff and NOT complemented (the same
 * contract as `onesComplementSum` in ./checksum.ts with `initial = 0`).
 * The result is 0 only when every byte is zero.
 *
 * How it sums (RFC 1071 §2(B), byte-order independence): 16-byte `v128`
 * loads are taken as eight LITTLE-endian 16-bit lanes and widened in pairs
 * with `i32x4.extadd_pairwise_i16x8_u` into four 32-bit lanes; two such
 * accumulators take 64 bytes per loop turn. Every 256 KiB block the 32-bit
 * lanes are widened into two 64-bit lanes (`i64x2.extend_*_i32x4_u`), so no
 * lane can overflow for any length. Leftover 16-byte vectors, 16-bit words
 * and an odd last byte (the low byte of a little-endian word = the high byte
 * of the zero-padded big-endian word) are added, the 64-bit total is folded
 * to 16 bits with end-around carry and its two bytes are swapped ONCE to give
 * the big-endian sum. Loads are unaligned (`align=0`); the pairing of bytes
 * is relative to `offset`, so any start address works. Address arithmetic
 * only uses `end - p` differences, so it is correct up to the 4 GiB limit.
 *
 * The equivalent WebAssembly text (WAT):
 *
 * ```wat
 * (module
 *   (import "env" "memory" (memory 0))
 *   (func (export "sum") (param $p i32) (param $n i32) (result i32)
 *     (local $end i32) (local $blockEnd i32)
 *     (local $a v128) (local $b v128) (local $wide v128) (local $s i64)
 *     (local.set $end (i32.add (local.get $p) (local.get $n)))
 *     ;; 1. 64 bytes per turn, in blocks of at most BLOCK_BYTES (256 KiB).
 *     (block $blocksDone
 *       (loop $blocks
 *         (br_if $blocksDone (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 64)))
 *         (local.set $blockEnd (i32.and (i32.sub (local.get $end) (local.get $p)) (i32.const -64)))
 *         (if (i32.gt_u (local.get $blockEnd) (i32.const 262144))
 *           (then (local.set $blockEnd (i32.const 262144))))
 *         (local.set $blockEnd (i32.add (local.get $p) (local.get $blockEnd)))
 *         (local.set $a (v128.const i64x2 0 0))
 *         (local.set $b (v128.const i64x2 0 0))
 *         (loop $turn
 *           (local.set $a (i32x4.add (local.get $a)
 *             (i32x4.extadd_pairwise_i16x8_u (v128.load offset=0 align=1 (local.get $p)))))
 *           (local.set $b (i32x4.add (local.get $b)
 *             (i32x4.extadd_pairwise_i16x8_u (v128.load offset=16 align=1 (local.get $p)))))
 *           (local.set $a (i32x4.add (local.get $a)
 *             (i32x4.extadd_pairwise_i16x8_u (v128.load offset=32 align=1 (local.get $p)))))
 *           (local.set $b (i32x4.add (local.get $b)
 *             (i32x4.extadd_pairwise_i16x8_u (v128.load offset=48 align=1 (local.get $p)))))
 *           (local.set $p (i32.add (local.get $p) (i32.const 64)))
 *           (br_if $turn (i32.ne (local.get $p) (local.get $blockEnd))))
 *         (local.set $wide (i64x2.add (local.get $wide) (i64x2.extend_low_i32x4_u (local.get $a))))
 *         (local.set $wide (i64x2.add (local.get $wide) (i64x2.extend_high_i32x4_u (local.get $a))))
 *         (local.set $wide (i64x2.add (local.get $wide) (i64x2.extend_low_i32x4_u (local.get $b))))
 *         (local.set $wide (i64x2.add (local.get $wide) (i64x2.extend_high_i32x4_u (local.get $b))))
 *         (br $blocks)))
 *     ;; 2. Up to three more 16-byte vectors.
 *     (local.set $a (v128.const i64x2 0 0))
 *     (block $vectorsDone
 *       (loop $vectors
 *         (br_if $vectorsDone (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 16)))
 *         (local.set $a (i32x4.add (local.get $a)
 *           (i32x4.extadd_pairwise_i16x8_u (v128.load align=1 (local.get $p)))))
 *         (local.set $p (i32.add (local.get $p) (i32.const 16)))
 *         (br $vectors)))
 *     (local.set $wide (i64x2.add (local.get $wide) (i64x2.extend_low_i32x4_u (local.get $a))))
 *     (local.set $wide (i64x2.add (local.get $wide) (i64x2.extend_high_i32x4_u (local.get $a))))
 *     ;; 3. Up to seven little-endian 16-bit words, then an odd last byte.
 *     (block $wordsDone
 *       (loop $words
 *         (br_if $wordsDone (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 2)))
 *         (local.set $s (i64.add (local.get $s) (i64.load16_u align=1 (local.get $p))))
 *         (local.set $p (i32.add (local.get $p) (i32.const 2)))
 *         (br $words)))
 *     (if (i32.ne (local.get $p) (local.get $end))
 *       (then (local.set $s (i64.add (local.get $s) (i64.load8_u (local.get $p))))))
 *     ;; 4. Horizontal add, fold with end-around carry, swap the two bytes once.
 *     (local.set $s (i64.add (local.get $s) (i64x2.extract_lane 0 (local.get $wide))))
 *     (local.set $s (i64.add (local.get $s) (i64x2.extract_lane 1 (local.get $wide))))
 *     (block $folded
 *       (loop $fold
 *         (br_if $folded (i64.le_u (local.get $s) (i64.const 0xffff)))
 *         (local.set $s (i64.add (i64.and (local.get $s) (i64.const 0xffff))
 *                                (i64.shr_u (local.get $s) (i64.const 16))))
 *         (br $fold)))
 *     (i32.or (i32.shl (i32.and (i32.wrap_i64 (local.get $s)) (i32.const 0xff)) (i32.const 8))
 *             (i32.shr_u (i32.wrap_i64 (local.get $s)) (i32.const 8)))))
 * ```
 *
 * @module
 */

/** Bytes summed into the 32-bit lanes before they are widened to 64 bits.
 * Each lane gains at most 2 × 2 × 0xffff per 64-byte turn, so 4096 turns stay
 * below 2^31 (2^32 would be the limit). */
const BLOCK_BYTES = 1 << 18;

// --- A tiny assembler: binary encodings from the WebAssembly core spec §5. ---

/** Unsigned LEB128 (spec §5.2.2). */
function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 (spec §5.2.2), for i32/i64 constants that fit in 32 bits. */
function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** A name or byte vector: length prefix then contents (spec §5.2.4). */
function vec(bytes: number[]): number[] {
  return [...uleb(bytes.length), ...bytes];
}

function name(text: string): number[] {
  return vec([...new TextEncoder().encode(text)]);
}

function section(id: number, contents: number[]): number[] {
  return [id, ...vec(contents)];
}

// Value types, block type.
const I32 = 0x7f;
const I64 = 0x7e;
const V128 = 0x7b;
const VOID = 0x40;

// Control and variable instructions.
const block = [0x02, VOID];
const loop = [0x03, VOID];
const if_ = [0x04, VOID];
const end = [0x0b];
const br = (depth: number) => [0x0c, ...uleb(depth)];
const brIf = (depth: number) => [0x0d, ...uleb(depth)];
const get = (local: number) => [0x20, ...uleb(local)];
const set = (local: number) => [0x21, ...uleb(local)];

// Numeric instructions (spec §5.4.7). Memory immediates: align exponent, offset.
const i64Load8U = [0x31, 0, 0];
const i64Load16U = [0x33, 0, 0];
const i32Const = (v: number) => [0x41, ...sleb(v)];
const i64Const = (v: number) => [0x42, ...sleb(v)];
const i32Ne = [0x47];
const i32LtU = [0x49];
const i32GtU = [0x4b];
const i64LeU = [0x58];
const i32Add = [0x6a];
const i32Sub = [0x6b];
const i32And = [0x71];
const i32Or = [0x72];
const i32Shl = [0x74];
const i32ShrU = [0x76];
const i64Add = [0x7c];
const i64And = [0x83];
const i64ShrU = [0x88];
const i32WrapI64 = [0xa7];

// SIMD instructions (spec §5.4.8): prefix 0xfd, then a LEB128 opcode.
const simd = (op: number) => [0xfd, ...uleb(op)];
const v128Load = (offset: number) => [...simd(0x00), 0, ...uleb(offset)];
const v128Zero = [...simd(0x0c), ...new Array<number>(16).fill(0)];
const i64x2ExtractLane = (lane: number) => [...simd(0x1d), lane];
const i32x4ExtaddPairwiseI16x8U = simd(0x7f);
const i32x4Add = simd(0xae);
const i64x2ExtendLowI32x4U = simd(0xc9);
const i64x2ExtendHighI32x4U = simd(0xca);
const i64x2Add = simd(0xce);

// Locals: the two parameters first, then the declared ones.
const P = 0;
const N = 1;
const END = 2;
const BLOCK_END = 3;
const A = 4;
const B = 5;
const WIDE = 6;
const S = 7;

/** `acc = acc + extadd_pairwise_u(v128.load offset=k (p))` */
function addVector(acc: number, offset: number): number[] {
  return [
    ...get(acc),
    ...get(P),
    ...v128Load(offset),
    ...i32x4ExtaddPairwiseI16x8U,
    ...i32x4Add,
    ...set(acc),
  ];
}

/** `wide = wide + extend_low_u(acc) + extend_high_u(acc)` */
function widen(acc: number): number[] {
  return [
    ...get(WIDE),
    ...get(acc),
    ...i64x2ExtendLowI32x4U,
    ...i64x2Add,
    ...set(WIDE),
    ...get(WIDE),
    ...get(acc),
    ...i64x2ExtendHighI32x4U,
    ...i64x2Add,
    ...set(WIDE),
  ];
}

/** `end - p` on the stack. */
const remaining = [...get(END), ...get(P), ...i32Sub];
/** `p = p + k` */
const advance = (k: number) => [...get(P), ...i32Const(k), ...i32Add, ...set(P)];

// deno-fmt-ignore
const sumBody: number[] = [
  ...get(P), ...get(N), ...i32Add, ...set(END),
  // 1. 64 bytes per turn in blocks of at most BLOCK_BYTES.
  ...block, ...loop,
    ...remaining, ...i32Const(64), ...i32LtU, ...brIf(1),
    ...remaining, ...i32Const(-64), ...i32And, ...set(BLOCK_END),
    ...get(BLOCK_END), ...i32Const(BLOCK_BYTES), ...i32GtU,
    ...if_, ...i32Const(BLOCK_BYTES), ...set(BLOCK_END), ...end,
    ...get(P), ...get(BLOCK_END), ...i32Add, ...set(BLOCK_END),
    ...v128Zero, ...set(A),
    ...v128Zero, ...set(B),
    ...loop,
      ...addVector(A, 0), ...addVector(B, 16), ...addVector(A, 32), ...addVector(B, 48),
      ...advance(64),
      ...get(P), ...get(BLOCK_END), ...i32Ne, ...brIf(0),
    ...end,
    ...widen(A), ...widen(B),
    ...br(0),
  ...end, ...end,
  // 2. Up to three more 16-byte vectors.
  ...v128Zero, ...set(A),
  ...block, ...loop,
    ...remaining, ...i32Const(16), ...i32LtU, ...brIf(1),
    ...addVector(A, 0), ...advance(16),
    ...br(0),
  ...end, ...end,
  ...widen(A),
  // 3. Little-endian 16-bit words, then an odd last byte.
  ...block, ...loop,
    ...remaining, ...i32Const(2), ...i32LtU, ...brIf(1),
    ...get(S), ...get(P), ...i64Load16U, ...i64Add, ...set(S),
    ...advance(2),
    ...br(0),
  ...end, ...end,
  ...get(P), ...get(END), ...i32Ne,
  ...if_, ...get(S), ...get(P), ...i64Load8U, ...i64Add, ...set(S), ...end,
  // 4. Horizontal add, fold (end-around carry), swap the bytes once.
  ...get(S), ...get(WIDE), ...i64x2ExtractLane(0), ...i64Add, ...set(S),
  ...get(S), ...get(WIDE), ...i64x2ExtractLane(1), ...i64Add, ...set(S),
  ...block, ...loop,
    ...get(S), ...i64Const(0xffff), ...i64LeU, ...brIf(1),
    ...get(S), ...i64Const(0xffff), ...i64And,
    ...get(S), ...i64Const(16), ...i64ShrU, ...i64Add, ...set(S),
    ...br(0),
  ...end, ...end,
  ...get(S), ...i32WrapI64, ...i32Const(0xff), ...i32And, ...i32Const(8), ...i32Shl,
  ...get(S), ...i32WrapI64, ...i32Const(8), ...i32ShrU, ...i32Or,
  ...end,
];

// deno-fmt-ignore
const moduleBytes: number[] = [
  0x00, 0x61, 0x73, 0x6d, // "\0asm"
  0x01, 0x00, 0x00, 0x00, // version 1
  // type section: one signature, (i32, i32) -> i32
  ...section(1, [...uleb(1), 0x60, ...vec([I32, I32]), ...vec([I32])]),
  // import section: ("env", "memory") memory with minimum 0 pages, no maximum
  ...section(2, [...uleb(1), ...name("env"), ...name("memory"), 0x02, 0x00, 0x00]),
  // function section: function 0 has type 0
  ...section(3, [...uleb(1), ...uleb(0)]),
  // export section: "sum" is function 0
  ...section(7, [...uleb(1), ...name("sum"), 0x00, 0]),
  // code section: one body = local declarations + instructions
  ...section(10, [...uleb(1), ...vec([
    ...uleb(3), ...uleb(2), I32, ...uleb(3), V128, ...uleb(1), I64,
    ...sumBody,
  ])]),
];

/**
 * The binary WebAssembly module described in this file's documentation
 * (one export, `sum(offset, length) -> i32`, importing `env.memory`).
 *
 * @example
 * ```ts
 * import { CHECKSUM_WASM_BYTES } from "./checksum_wasm.ts";
 * console.assert(CHECKSUM_WASM_BYTES[0] === 0x00 && CHECKSUM_WASM_BYTES[1] === 0x61); // "\0a"
 * ```
 */
export const CHECKSUM_WASM_BYTES: Uint8Array<ArrayBuffer> = new Uint8Array(moduleBytes);

/** The signature of the exported WebAssembly routine. */
export type ChecksumSum = (offset: number, length: number) => number;

let compiled: WebAssembly.Module | null = null;

/**
 * Whether this runtime can run the checksum module, i.e. has WebAssembly with
 * the fixed-width SIMD extension (`WebAssembly.validate` of the module).
 * Checked on every call (it costs a few microseconds), so it is never cached
 * stale.
 *
 * @returns true when {@link instantiateChecksumSum} can succeed
 *
 * @example
 * ```ts
 * import { checksumWasmSupported } from "./checksum_wasm.ts";
 * console.assert(typeof checksumWasmSupported() === "boolean");
 * ```
 */
export function checksumWasmSupported(): boolean {
  return typeof WebAssembly === "object" && WebAssembly.validate(CHECKSUM_WASM_BYTES);
}

/**
 * Instantiates the checksum module over `memory` (synchronously; the module
 * is compiled once per process) and returns its `sum(offset, length)`: the
 * RFC 1071 one's-complement sum of `length` bytes at linear address `offset`
 * as big-endian 16-bit words (odd last byte padded with zero), folded to
 * 0..0xffff, not complemented. The range must lie inside the memory (else the
 * call throws a `WebAssembly.RuntimeError`); the memory may grow later.
 *
 * @param memory the linear memory the routine reads
 * @returns the sum function, or null when WebAssembly SIMD is unavailable
 *
 * @example
 * ```ts
 * import { instantiateChecksumSum } from "./checksum_wasm.ts";
 * const memory = new WebAssembly.Memory({ initial: 1 });
 * const sum = instantiateChecksumSum(memory);
 * if (sum !== null) {
 *   // RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
 *   new Uint8Array(memory.buffer).set([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7], 100);
 *   console.assert(sum(100, 8) === 0xddf2);
 * }
 * ```
 */
export function instantiateChecksumSum(memory: WebAssembly.Memory): ChecksumSum | null {
  if (!checksumWasmSupported()) return null;
  compiled ??= new WebAssembly.Module(CHECKSUM_WASM_BYTES);
  const instance = new WebAssembly.Instance(compiled, { env: { memory } });
  return instance.exports.sum as ChecksumSum;
}

// --- copySum: the same sum, fused with a copy (issue 22) ---------------------------------

// Instructions copySum adds: stores (spec §5.4.6/§5.4.8).
const i64Store8 = [0x3c, 0, 0];
const i64Store16 = [0x3d, 0, 0];
const v128Store = (offset: number) => [...simd(0x0b), 0, ...uleb(offset)];

// copySum's locals: three parameters, then the declared ones.
const C_DST = 0;
const C_P = 1; // source cursor
const C_N = 2;
const C_END = 3;
const C_BLOCK_END = 4;
const C_DELTA = 5; // dst - src: a destination address is `p + delta`
const C_A = 6;
const C_B = 7;
const C_WIDE = 8;
const C_V = 9;
const C_S = 10;
const C_T = 11;

/** `v = load(p + k); store(p + delta + k, v); acc += extadd_pairwise_u(v)` */
function copyAddVector(acc: number, offset: number): number[] {
  return [
    ...get(C_P),
    ...v128Load(offset),
    ...set(C_V),
    ...get(C_P),
    ...get(C_DELTA),
    ...i32Add,
    ...get(C_V),
    ...v128Store(offset),
    ...get(acc),
    ...get(C_V),
    ...i32x4ExtaddPairwiseI16x8U,
    ...i32x4Add,
    ...set(acc),
  ]; // prettier-ignore
}

function copyWiden(acc: number): number[] {
  return [
    ...get(C_WIDE),
    ...get(acc),
    ...i64x2ExtendLowI32x4U,
    ...i64x2Add,
    ...set(C_WIDE),
    ...get(C_WIDE),
    ...get(acc),
    ...i64x2ExtendHighI32x4U,
    ...i64x2Add,
    ...set(C_WIDE),
  ]; // prettier-ignore
}

const cRemaining = [...get(C_END), ...get(C_P), ...i32Sub];
const cAdvance = (k: number) => [...get(C_P), ...i32Const(k), ...i32Add, ...set(C_P)];

// deno-fmt-ignore
const copySumBody: number[] = [
  ...get(C_P), ...get(C_N), ...i32Add, ...set(C_END),
  ...get(C_DST), ...get(C_P), ...i32Sub, ...set(C_DELTA),
  // 1. 64 bytes per turn in blocks of at most BLOCK_BYTES.
  ...block, ...loop,
    ...cRemaining, ...i32Const(64), ...i32LtU, ...brIf(1),
    ...cRemaining, ...i32Const(-64), ...i32And, ...set(C_BLOCK_END),
    ...get(C_BLOCK_END), ...i32Const(BLOCK_BYTES), ...i32GtU,
    ...if_, ...i32Const(BLOCK_BYTES), ...set(C_BLOCK_END), ...end,
    ...get(C_P), ...get(C_BLOCK_END), ...i32Add, ...set(C_BLOCK_END),
    ...v128Zero, ...set(C_A),
    ...v128Zero, ...set(C_B),
    ...loop,
      ...copyAddVector(C_A, 0), ...copyAddVector(C_B, 16),
      ...copyAddVector(C_A, 32), ...copyAddVector(C_B, 48),
      ...cAdvance(64),
      ...get(C_P), ...get(C_BLOCK_END), ...i32Ne, ...brIf(0),
    ...end,
    ...copyWiden(C_A), ...copyWiden(C_B),
    ...br(0),
  ...end, ...end,
  // 2. Up to three more 16-byte vectors.
  ...v128Zero, ...set(C_A),
  ...block, ...loop,
    ...cRemaining, ...i32Const(16), ...i32LtU, ...brIf(1),
    ...copyAddVector(C_A, 0), ...cAdvance(16),
    ...br(0),
  ...end, ...end,
  ...copyWiden(C_A),
  // 3. Little-endian 16-bit words, then an odd last byte, each copied too.
  ...block, ...loop,
    ...cRemaining, ...i32Const(2), ...i32LtU, ...brIf(1),
    ...get(C_P), ...i64Load16U, ...set(C_T),
    ...get(C_P), ...get(C_DELTA), ...i32Add, ...get(C_T), ...i64Store16,
    ...get(C_S), ...get(C_T), ...i64Add, ...set(C_S),
    ...cAdvance(2),
    ...br(0),
  ...end, ...end,
  ...get(C_P), ...get(C_END), ...i32Ne,
  ...if_,
    ...get(C_P), ...i64Load8U, ...set(C_T),
    ...get(C_P), ...get(C_DELTA), ...i32Add, ...get(C_T), ...i64Store8,
    ...get(C_S), ...get(C_T), ...i64Add, ...set(C_S),
  ...end,
  // 4. Horizontal add, fold (end-around carry), swap the bytes once.
  ...get(C_S), ...get(C_WIDE), ...i64x2ExtractLane(0), ...i64Add, ...set(C_S),
  ...get(C_S), ...get(C_WIDE), ...i64x2ExtractLane(1), ...i64Add, ...set(C_S),
  ...block, ...loop,
    ...get(C_S), ...i64Const(0xffff), ...i64LeU, ...brIf(1),
    ...get(C_S), ...i64Const(0xffff), ...i64And,
    ...get(C_S), ...i64Const(16), ...i64ShrU, ...i64Add, ...set(C_S),
    ...br(0),
  ...end, ...end,
  ...get(C_S), ...i32WrapI64, ...i32Const(0xff), ...i32And, ...i32Const(8), ...i32Shl,
  ...get(C_S), ...i32WrapI64, ...i32Const(8), ...i32ShrU, ...i32Or,
  ...end,
];

// deno-fmt-ignore
const copySumModuleBytes: number[] = [
  0x00, 0x61, 0x73, 0x6d, // "\0asm"
  0x01, 0x00, 0x00, 0x00, // version 1
  // type section: (i32, i32, i32) -> i32
  ...section(1, [...uleb(1), 0x60, ...vec([I32, I32, I32]), ...vec([I32])]),
  ...section(2, [...uleb(1), ...name("env"), ...name("memory"), 0x02, 0x00, 0x00]),
  ...section(3, [...uleb(1), ...uleb(0)]),
  ...section(7, [...uleb(1), ...name("copySum"), 0x00, 0]),
  // locals: 3 × i32 (end, blockEnd, delta), 4 × v128 (a, b, wide, v), 2 × i64 (s, t)
  ...section(10, [...uleb(1), ...vec([
    ...uleb(3), ...uleb(3), I32, ...uleb(4), V128, ...uleb(2), I64,
    ...copySumBody,
  ])]),
];

/**
 * A second module, `copySum(dst, src, length) -> i32`: copies `length` bytes
 * from linear address `src` to `dst` (the ranges must not overlap) and returns
 * their sum exactly as `sum(src, length)` would — one pass over the data
 * instead of a `memory.copy` and a `sum` (issue 22: the payload copied from a
 * TCP send ring into a frame is checksummed on the way). Same loop as `sum`,
 * each 16-byte vector also stored with `v128.store`, the tail words and byte
 * with `i64.store16`/`i64.store8`.
 */
export const COPY_SUM_WASM_BYTES: Uint8Array<ArrayBuffer> = new Uint8Array(copySumModuleBytes);

/** The signature of the copy-and-sum routine: `(dst, src, length) => sum`. */
export type ChecksumCopySum = (dst: number, src: number, length: number) => number;

let compiledCopySum: WebAssembly.Module | null = null;

/**
 * Instantiates the copy-and-sum module over `memory` (see
 * {@link COPY_SUM_WASM_BYTES}).
 *
 * @param memory the linear memory the routine reads and writes
 * @returns `copySum(dst, src, length)`, or null without WebAssembly SIMD
 *
 * @example
 * ```ts
 * import { instantiateCopySum } from "./checksum_wasm.ts";
 * const memory = new WebAssembly.Memory({ initial: 1 });
 * const copySum = instantiateCopySum(memory);
 * if (copySum !== null) {
 *   const m = new Uint8Array(memory.buffer);
 *   m.set([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7], 100);
 *   console.assert(copySum(200, 100, 8) === 0xddf2 && m[207] === 0xf7);
 * }
 * ```
 */
export function instantiateCopySum(memory: WebAssembly.Memory): ChecksumCopySum | null {
  if (typeof WebAssembly !== "object" || !WebAssembly.validate(COPY_SUM_WASM_BYTES)) return null;
  compiledCopySum ??= new WebAssembly.Module(COPY_SUM_WASM_BYTES);
  const instance = new WebAssembly.Instance(compiledCopySum, { env: { memory } });
  return instance.exports.copySum as ChecksumCopySum;
}
