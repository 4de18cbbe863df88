/**
 * A bounded receive queue of datagrams for one UDP endpoint.
 *
 * Payload bytes live in one byte ring allocated when the queue is made (a
 * datagram may wrap around its end); a parallel metadata ring records each
 * datagram's length, source address and source port. Enqueueing copies the
 * payload out of the frame (the frame goes back to the pool right after) and
 * allocates nothing; a datagram that does not fit — too many datagrams or too
 * few free bytes — is refused and counted by the caller.
 *
 * @module
 */

import type { Ipv6Address } from "../wire/ipv6_address.ts";

/** Default payload storage per endpoint (bytes); a 65,507-byte datagram fits. */
export const DEFAULT_QUEUE_BYTES = 256 * 1024;
/** Default maximum number of queued datagrams per endpoint. */
export const DEFAULT_QUEUE_DATAGRAMS = 64;

/** Below this many bytes a plain loop beats `subarray` + `set` (and allocates nothing). */
const COPY_LOOP_MAX_BYTES = 128;

function copyBytes(
  src: Uint8Array,
  srcOffset: number,
  dst: Uint8Array,
  dstOffset: number,
  length: number,
): void {
  if (length <= COPY_LOOP_MAX_BYTES) {
    for (let i = 0; i < length; i++) dst[dstOffset + i] = src[srcOffset + i];
  } else {
    dst.set(src.subarray(srcOffset, srcOffset + length), dstOffset);
  }
}

/**
 * A fixed-capacity FIFO of datagrams (payload + source address and port).
 *
 * @example
 * ```ts
 * import { DatagramQueue } from "./datagram_queue.ts";
 * const q = new DatagramQueue(16, 4);
 * const frame = new Uint8Array([9, 9, 1, 2, 3, 9]);
 * console.assert(q.push(frame, 2, 3, 0xc0000201 | 0, 53)); // 192.0.2.1, int32
 * const out = new Uint8Array(8);
 * console.assert(q.frontLength === 3 && q.frontAddr === (0xc0000201 | 0) && q.frontPort === 53);
 * console.assert(q.shift(out, 0) === 3 && out[0] === 1 && out[2] === 3);
 * console.assert(q.count === 0);
 * ```
 */
export class DatagramQueue {
  /** Payload storage capacity in bytes. */
  readonly capacityBytes: number;
  /** Maximum number of datagrams held at once. */
  readonly capacityDatagrams: number;
  #bytes: Uint8Array;
  #lengths: Uint32Array;
  #addrs: Int32Array;
  #ports: Uint16Array;
  /** Source of each datagram that came over IPv6 (null for IPv4; issue 18). */
  #addrs6: (Ipv6Address | null)[];
  #readByte = 0;
  #usedBytes = 0;
  #first = 0;
  #count = 0;

  /**
   * Allocates the storage.
   *
   * @param capacityBytes payload storage (bytes), ≥ 0
   * @param capacityDatagrams maximum number of datagrams, ≥ 1
   * @throws {RangeError} on a negative or fractional capacity
   */
  constructor(capacityBytes: number, capacityDatagrams: number) {
    if (!Number.isInteger(capacityBytes) || capacityBytes < 0) {
      throw new RangeError(`capacityBytes must be an integer ≥ 0, got ${capacityBytes}`);
    }
    if (!Number.isInteger(capacityDatagrams) || capacityDatagrams < 1) {
      throw new RangeError(`capacityDatagrams must be an integer ≥ 1, got ${capacityDatagrams}`);
    }
    this.capacityBytes = capacityBytes;
    this.capacityDatagrams = capacityDatagrams;
    this.#bytes = new Uint8Array(capacityBytes);
    this.#lengths = new Uint32Array(capacityDatagrams);
    this.#addrs = new Int32Array(capacityDatagrams);
    this.#ports = new Uint16Array(capacityDatagrams);
    this.#addrs6 = new Array<Ipv6Address | null>(capacityDatagrams).fill(null);
  }

  /** Number of queued datagrams. */
  get count(): number {
    return this.#count;
  }

  /** Payload bytes queued. */
  get usedBytes(): number {
    return this.#usedBytes;
  }

  /** Payload length of the oldest datagram, or -1 when empty. */
  get frontLength(): number {
    return this.#count === 0 ? -1 : this.#lengths[this.#first];
  }

  /** Source address of the oldest datagram, int32 (0 when empty). */
  get frontAddr(): number {
    return this.#count === 0 ? 0 : this.#addrs[this.#first];
  }

  /** IPv6 source of the oldest datagram, or null (IPv4, or empty). */
  get frontAddr6(): Ipv6Address | null {
    return this.#count === 0 ? null : this.#addrs6[this.#first];
  }

  /** Source port of the oldest datagram (0 when empty). */
  get frontPort(): number {
    return this.#count === 0 ? 0 : this.#ports[this.#first];
  }

  /**
   * Copies a datagram's payload in, if it fits.
   *
   * @param src bytes holding the payload
   * @param offset payload start in `src`
   * @param length payload length (0 allowed)
   * @param addr source IPv4 address (int32; the unsigned form is stored as int32)
   * @param port source port
   * @param addr6 the IPv6 source of a datagram that came over IPv6 (`addr` is then 0)
   * @returns false (nothing stored) when the datagram count or the byte capacity is exhausted
   */
  push(
    src: Uint8Array,
    offset: number,
    length: number,
    addr: number,
    port: number,
    addr6: Ipv6Address | null = null,
  ): boolean {
    if (this.#count === this.capacityDatagrams) return false;
    if (length > this.capacityBytes - this.#usedBytes) return false;
    const cap = this.capacityBytes;
    if (length > 0) {
      let write = this.#readByte + this.#usedBytes;
      if (write >= cap) write -= cap;
      const first = Math.min(length, cap - write);
      copyBytes(src, offset, this.#bytes, write, first);
      if (first < length) copyBytes(src, offset + first, this.#bytes, 0, length - first);
      this.#usedBytes += length;
    }
    let slot = this.#first + this.#count;
    if (slot >= this.capacityDatagrams) slot -= this.capacityDatagrams;
    this.#lengths[slot] = length;
    this.#addrs[slot] = addr;
    this.#ports[slot] = port;
    this.#addrs6[slot] = addr6;
    this.#count++;
    return true;
  }

  /**
   * Removes the oldest datagram, copying up to `dst.length - dstOffset` bytes
   * of it into `dst` (the rest of a longer datagram is discarded, as with
   * `recvfrom` into a short buffer). Read {@link frontAddr} / {@link frontPort}
   * / {@link frontLength} first if you need them.
   *
   * @param dst destination buffer
   * @param dstOffset where to copy to
   * @returns bytes copied, or -1 when the queue is empty
   */
  shift(dst: Uint8Array, dstOffset: number): number {
    if (this.#count === 0) return -1;
    const length = this.#lengths[this.#first];
    const n = Math.max(0, Math.min(length, dst.length - dstOffset));
    const cap = this.capacityBytes;
    const read = this.#readByte;
    const first = Math.min(n, cap - read);
    copyBytes(this.#bytes, read, dst, dstOffset, first);
    if (first < n) copyBytes(this.#bytes, 0, dst, dstOffset + first, n - first);
    this.#drop(length);
    return n;
  }

  /** Empties the queue. */
  clear(): void {
    this.#readByte = 0;
    this.#usedBytes = 0;
    this.#first = 0;
    this.#count = 0;
  }

  #drop(length: number): void {
    this.#usedBytes -= length;
    this.#readByte = this.#usedBytes === 0 ? 0 : (this.#readByte + length) % this.capacityBytes;
    this.#first = this.#first + 1 === this.capacityDatagrams ? 0 : this.#first + 1;
    this.#count--;
  }
}
