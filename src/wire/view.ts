/**
 * What every zero-copy view in `src/wire/` shares: the {@link WireView} base
 * (buffer, offset, length, `reset`, the bounds check), big-endian field
 * helpers ({@link read16}, {@link write16}, {@link read32}, {@link readI32}, {@link write32}),
 * storing a computed checksum ({@link storeChecksum}), the payload copy of the `emit` functions ({@link copyPayload}) and the
 * options of a parse that verifies a checksum ({@link ChecksumParseOptions}).
 *
 * Nothing here allocates on success: views are made once and re-pointed with
 * {@link WireView.reset}; the helpers read and write numbers in place.
 *
 * @module
 */

import { internetChecksum } from "./checksum.ts";
import { WireError } from "./error.ts";

/** Payloads up to this many bytes are copied with a loop instead of `subarray` + `set`. */
const LOOP_COPY_MAX_BYTES = 64;

/**
 * Reads a big-endian (network order) unsigned 16-bit field.
 *
 * @param bytes the buffer
 * @param at index of the high byte
 * @returns the value, 0..0xffff
 *
 * @example
 * ```ts
 * import { read16 } from "./view.ts";
 * console.assert(read16(new Uint8Array([0x08, 0x06]), 0) === 0x0806);
 * ```
 */
export function read16(bytes: Uint8Array, at: number): number {
  return (bytes[at] << 8) | bytes[at + 1];
}

/**
 * Writes a big-endian (network order) 16-bit field; higher bits are dropped.
 *
 * @param bytes the buffer
 * @param at index of the high byte
 * @param value the value (its low 16 bits are written)
 *
 * @example
 * ```ts
 * import { write16 } from "./view.ts";
 * const b = new Uint8Array(2);
 * write16(b, 0, 0x0800);
 * console.assert(b[0] === 0x08 && b[1] === 0x00);
 * ```
 */
export function write16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 8;
  bytes[at + 1] = value;
}

/**
 * Reads a big-endian (network order) unsigned 32-bit field.
 *
 * @param bytes the buffer
 * @param at index of the highest byte
 * @returns the value, 0..0xffffffff
 *
 * @example
 * ```ts
 * import { read32 } from "./view.ts";
 * console.assert(read32(new Uint8Array([0xc0, 0, 2, 1]), 0) === 0xc0000201);
 * ```
 */
export function read32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

/**
 * Reads a big-endian (network order) 32-bit field as a signed 32-bit
 * integer, -2^31..2^31-1: the same bits as {@link read32}, but a value V8
 * keeps as a small integer (an unsigned one ≥ 2^31 is a heap number each
 * time it crosses a call). TCP sequence and acknowledgment numbers, SACK
 * edges and timestamps are read this way; `x >>> 0` gives the unsigned value.
 *
 * @param bytes the buffer
 * @param at index of the highest byte
 * @returns the value as int32
 *
 * @example
 * ```ts
 * import { readI32 } from "./view.ts";
 * console.assert(readI32(new Uint8Array([0xff, 0xff, 0xff, 0xfe]), 0) === -2);
 * console.assert(readI32(new Uint8Array([0x80, 0, 0, 0]), 0) >>> 0 === 0x80000000);
 * console.assert(readI32(new Uint8Array([0, 0, 1, 0]), 0) === 256);
 * ```
 */
export function readI32(bytes: Uint8Array, at: number): number {
  return (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
}

/**
 * Writes a big-endian (network order) 32-bit field.
 *
 * @param bytes the buffer
 * @param at index of the highest byte
 * @param value the value, signed or unsigned (its low 32 bits are written)
 *
 * @example
 * ```ts
 * import { write32 } from "./view.ts";
 * const b = new Uint8Array(4);
 * write32(b, 0, 0xc0000201);
 * console.assert(b[0] === 0xc0 && b[3] === 0x01);
 * write32(b, 0, -1); // int32 form of 0xffffffff
 * console.assert(b[0] === 0xff && b[3] === 0xff);
 * ```
 */
export function write32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = value >>> 16;
  bytes[at + 2] = value >>> 8;
  bytes[at + 3] = value;
}

/**
 * Computes the Internet checksum (RFC 1071) of `bytes[offset, +length)` with
 * its 16-bit checksum field at `checksumAt` taken as zero, and stores it
 * there: the last step of every `emit` and `fill*Checksum` in `src/wire/`.
 *
 * @param bytes the buffer
 * @param offset first byte covered
 * @param length bytes covered (the field lies inside)
 * @param checksumAt index of the checksum field's high byte
 * @param initial a pseudo-header sum to start from (TCP, UDP); default 0
 * @returns the checksum stored
 *
 * @example
 * ```ts
 * import { storeChecksum } from "./view.ts";
 * import { internetChecksum } from "./checksum.ts";
 * const b = new Uint8Array([0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 17, 0xaa, 0xbb, 192, 0, 2, 1, 192, 0, 2, 2]);
 * storeChecksum(b, 0, 20, 10);
 * console.assert(internetChecksum(b, 0, 20) === 0);
 * ```
 */
export function storeChecksum(
  bytes: Uint8Array,
  offset: number,
  length: number,
  checksumAt: number,
  initial = 0,
): number {
  bytes[checksumAt] = 0;
  bytes[checksumAt + 1] = 0;
  const checksum = internetChecksum(bytes, offset, length, initial);
  write16(bytes, checksumAt, checksum);
  return checksum;
}

/**
 * Copies `n` bytes from `src[srcOffset, +n)` to `dst[dstOffset, +n)` the way
 * the `emit` functions place a payload behind a header: nothing to do when
 * the data already sit there; overlapping regions of one buffer are handled;
 * short copies use a loop so that no `subarray` is allocated.
 *
 * @param src where the data are
 * @param srcOffset first data byte in `src`
 * @param dst the buffer being emitted into
 * @param dstOffset where the data go in `dst`
 * @param n number of bytes
 *
 * @example
 * ```ts
 * import { copyPayload } from "./view.ts";
 * const b = new Uint8Array([1, 2, 3, 4, 0, 0]);
 * copyPayload(b, 0, b, 2, 4);                       // overlapping move to the right
 * console.assert(b.join() === "1,2,1,2,3,4");
 * ```
 */
export function copyPayload(
  src: Uint8Array,
  srcOffset: number,
  dst: Uint8Array,
  dstOffset: number,
  n: number,
): void {
  if (n <= 0 || (src === dst && srcOffset === dstOffset)) return;
  if (src === dst) {
    dst.copyWithin(dstOffset, srcOffset, srcOffset + n); // handles overlap
  } else if (n <= LOOP_COPY_MAX_BYTES) {
    // Copy direction chosen by absolute position so views sharing one
    // buffer may overlap; no subarray is created.
    if (src.byteOffset + srcOffset >= dst.byteOffset + dstOffset) {
      for (let k = 0; k < n; k++) dst[dstOffset + k] = src[srcOffset + k];
    } else {
      for (let k = n - 1; k >= 0; k--) dst[dstOffset + k] = src[srcOffset + k];
    }
  } else {
    dst.set(src.subarray(srcOffset, srcOffset + n), dstOffset); // TypedArray#set handles overlap
  }
}

/** Options of a `parse` that verifies a checksum (IPv4, ICMP, UDP, TCP). */
export interface ChecksumParseOptions {
  /** Verify the checksum (default true; false when the device validated it). */
  verifyChecksum?: boolean;
}

/**
 * The base of every zero-copy view in `src/wire/` (`EthernetFrame`,
 * `ArpPacket`, `Ipv4Packet`, `IcmpPacket`, `UdpPacket`, `TcpPacket`): a
 * window `[offset, offset + length)` over `bytes`, made once and re-pointed
 * per packet with {@link WireView.reset}. Subclasses validate with `check()`
 * and then read and write fields in place.
 *
 * @example
 * ```ts
 * import { read16, WireView } from "./view.ts";
 * import type { WireError } from "./error.ts";
 * class PortPair extends WireView {
 *   check(): WireError | null {
 *     return this.checkBounds("ports", "pair", 4);
 *   }
 *   get first(): number {
 *     return read16(this.bytes, this.offset);
 *   }
 * }
 * const view = new PortPair(new Uint8Array([0, 0, 0, 53, 0, 80]), 2);
 * console.assert(view.check() === null && view.first === 53);
 * console.assert(view.reset(new Uint8Array(3), 0, 3).check()?.kind === "truncated");
 * ```
 */
export abstract class WireView {
  /** The underlying buffer. */
  bytes: Uint8Array;
  /** Where the view starts in {@link WireView.bytes}. */
  offset: number;
  /** Bytes the view covers from `offset` (what arrived; the protocol's own length field may be shorter). */
  length: number;

  /**
   * Creates a view; call `check()` before reading fields.
   *
   * @param bytes the buffer
   * @param offset where the view starts
   * @param length bytes covered; defaults to the rest of the buffer
   */
  constructor(bytes: Uint8Array, offset = 0, length: number = bytes.length - offset) {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
  }

  /**
   * Re-points the view at other bytes (no allocation).
   *
   * @param bytes the buffer
   * @param offset where the view starts
   * @param length bytes covered
   * @returns this view
   */
  reset(bytes: Uint8Array, offset: number, length: number): this {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return this;
  }

  /**
   * Validates the view. After `null`, every accessor reads and writes in
   * bounds.
   *
   * @returns null when valid, otherwise the defect
   */
  abstract check(): WireError | null;

  /**
   * Whether `[offset, offset + length)` does not lie inside `bytes` (a
   * negative offset or length counts as outside).
   *
   * @returns true when the window reaches outside the buffer
   */
  protected outsideBuffer(): boolean {
    return this.offset < 0 || this.length < 0 || this.offset + this.length > this.bytes.length;
  }

  /**
   * The check every view starts with: the window lies inside the buffer
   * ("bad-length") and covers at least `minLength` bytes ("truncated").
   *
   * @param protocol the codec, e.g. `"udp"`
   * @param noun what the view holds, for the message (`"datagram"`)
   * @param minLength the fixed header length
   * @returns null when both hold, otherwise the defect
   */
  protected checkBounds(protocol: string, noun: string, minLength: number): WireError | null {
    if (this.outsideBuffer()) {
      return new WireError(protocol, "bad-length", `${noun} extends beyond its buffer`);
    }
    if (this.length < minLength) {
      return new WireError(
        protocol,
        "truncated",
        `${noun} of ${this.length} bytes < ${minLength}`,
      );
    }
    return null;
  }
}
