/**
 * {@link PacketBuffer}: one packet's bytes plus `head`/`tail` offsets, with
 * headroom in front so each layer prepends its header on transmit and strips
 * it on receive without copying (the gVisor / Linux `sk_buff` idea).
 *
 * A `PacketBuffer` is made once per pool slot by {@link BufferPool} and reused
 * for every packet that slot ever carries; its `bytes` view is never replaced,
 * so nothing is allocated per packet.
 *
 * @module
 */

/**
 * A packet's bytes `bytes[head, tail)` inside a fixed slot, with room to grow
 * at both ends.
 *
 * Transmit: `reset(headroom)`, `append(n)` the payload, then each layer below
 * `prepend(headerLength)` and writes its header at the returned offset.
 * Receive: the driver fills `bytes[0, n)` and sets `tail = n`; each layer reads
 * its header at `head` and calls `consume(headerLength)`.
 *
 * None of the methods allocate or throw: impossible requests return `-1`
 * (prepend, append) or are clamped (consume, trim, reset).
 *
 * @example
 * ```ts
 * import { PacketBuffer } from "./packet_buffer.ts";
 * const buf = new PacketBuffer(new Uint8Array(64));
 * buf.reset(20);                       // 20 bytes of headroom
 * const at = buf.append(3);            // payload goes at the old tail
 * buf.bytes.set([1, 2, 3], at);
 * const hdr = buf.prepend(4);          // a 4-byte header in front
 * console.assert(hdr === 16 && buf.length === 7);
 * buf.consume(4);                      // strip it again
 * console.assert(buf.head === 20 && buf.length === 3);
 * ```
 */
export class PacketBuffer {
  /** View of the whole slot; made once and never replaced. */
  readonly bytes: Uint8Array;
  /** Index in {@link bytes} of the first data byte. */
  head = 0;
  /** Index in {@link bytes} one past the last data byte. */
  tail = 0;
  /**
   * Slot number inside the owning pool, or -1 for a standalone buffer.
   * Used by {@link BufferPool.free} to detect foreign buffers.
   */
  readonly slot: number;
  /**
   * Opaque identity of the owning pool (`null` for a standalone buffer).
   * Only the pool compares it; never set it yourself.
   */
  readonly owner: object | null;

  /**
   * Wraps `bytes` (normally a slot view made by {@link BufferPool}); data is
   * initially empty with `head = tail = 0`.
   *
   * @param bytes the slot's bytes; the buffer's capacity is `bytes.length`
   * @param slot slot number in the owning pool, -1 when standalone
   * @param owner identity of the owning pool, `null` when standalone
   *
   * @example
   * ```ts
   * import { PacketBuffer } from "./packet_buffer.ts";
   * const buf = new PacketBuffer(new Uint8Array(128));
   * console.assert(buf.capacity === 128 && buf.length === 0 && buf.slot === -1);
   * ```
   */
  constructor(bytes: Uint8Array, slot = -1, owner: object | null = null) {
    this.bytes = bytes;
    this.slot = slot;
    this.owner = owner;
  }

  /**
   * Number of data bytes, `tail - head`.
   *
   * @returns the data length in bytes
   *
   * @example
   * ```ts
   * import { PacketBuffer } from "./packet_buffer.ts";
   * const buf = new PacketBuffer(new Uint8Array(16));
   * buf.append(5);
   * console.assert(buf.length === 5);
   * ```
   */
  get length(): number {
    return this.tail - this.head;
  }

  /**
   * Size of the slot in bytes (`bytes.length`).
   *
   * @returns the capacity in bytes
   *
   * @example
   * ```ts
   * import { PacketBuffer } from "./packet_buffer.ts";
   * console.assert(new PacketBuffer(new Uint8Array(16)).capacity === 16);
   * ```
   */
  get capacity(): number {
    return this.bytes.length;
  }

  /**
   * Free bytes in front of the data (equal to `head`).
   *
   * @returns bytes available to {@link prepend}
   *
   * @example
   * ```ts
   * import { PacketBuffer } from "./packet_buffer.ts";
   * const buf = new PacketBuffer(new Uint8Array(16));
   * buf.reset(6);
   * console.assert(buf.headroom === 6);
   * ```
   */
  get headroom(): number {
    return this.head;
  }

  /**
   * Free bytes after the data.
   *
   * @returns bytes available to {@link append}
   *
   * @example
   * ```ts
   * import { PacketBuffer } from "./packet_buffer.ts";
   * const buf = new PacketBuffer(new Uint8Array(16));
   * buf.reset(6);
   * console.assert(buf.tailroom === 10);
   * ```
   */
  get tailroom(): number {
    return this.bytes.length - this.tail;
  }

  /**
   * Empties the buffer leaving `headroom` bytes in front: `head = tail =
   * headroom`. A headroom outside `[0, capacity]` is clamped into it.
   *
   * @param headroom bytes to keep free in front for headers
   *
   * @example
   * ```ts
   * import { PacketBuffer } from "./packet_buffer.ts";
   * const buf = new PacketBuffer(new Uint8Array(16));
   * buf.reset(100);
   * console.assert(buf.head === 16 && buf.tail === 16);
   * ```
   */
  reset(headroom: number): void {
    let h = headroom | 0;
    if (h < 0) h = 0;
    else if (h > this.bytes.length) h = this.bytes.length;
    this.head = h;
    this.tail = h;
  }

  /**
   * Grows the data by `n` bytes at the front (for a header on transmit).
   *
   * @param n header length in bytes (a non-negative integer)
   * @returns the new `head`, where the header is written, or -1 (nothing
   *   changed) when `n` is invalid or exceeds the headroom
   *
   * @example
   * ```ts
   * import { PacketBuffer } from "./packet_buffer.ts";
   * const buf = new PacketBuffer(new Uint8Array(32));
   * buf.reset(14);
   * console.assert(buf.prepend(14) === 0);
   * console.assert(buf.prepend(1) === -1);
   * ```
   */
  prepend(n: number): number {
    if ((n | 0) !== n || n < 0 || n > this.head) return -1;
    this.head -= n;
    return this.head;
  }

  /**
   * Grows the data by `n` bytes at the end.
   *
   * @param n bytes to add (a non-negative integer)
   * @returns the old `tail`, where the new bytes are written, or -1 (nothing
   *   changed) when `n` is invalid or exceeds the tailroom
   *
   * @example
   * ```ts
   * import { PacketBuffer } from "./packet_buffer.ts";
   * const buf = new PacketBuffer(new Uint8Array(8));
   * console.assert(buf.append(6) === 0 && buf.append(2) === 6);
   * console.assert(buf.append(1) === -1 && buf.length === 8);
   * ```
   */
  append(n: number): number {
    if ((n | 0) !== n || n < 0 || n > this.bytes.length - this.tail) return -1;
    const at = this.tail;
    this.tail = at + n;
    return at;
  }

  /**
   * Strips `n` bytes from the front (a header on receive): `head += n`.
   * Clamped to the data length; a negative or non-integer `n` does nothing.
   *
   * @param n header length in bytes
   *
   * @example
   * ```ts
   * import { PacketBuffer } from "./packet_buffer.ts";
   * const buf = new PacketBuffer(new Uint8Array(64));
   * buf.append(60);
   * buf.consume(14);
   * console.assert(buf.head === 14 && buf.length === 46);
   * buf.consume(1000);
   * console.assert(buf.length === 0);
   * ```
   */
  consume(n: number): void {
    if ((n | 0) !== n || n < 0) return;
    const h = this.head + n;
    this.head = h > this.tail ? this.tail : h;
  }

  /**
   * Shortens the data to at most `length` bytes by moving `tail` (e.g. to cut
   * Ethernet padding once the IPv4 total length is known). Does nothing when
   * the data is already shorter or `length` is negative or not an integer.
   *
   * @param length the new maximum data length in bytes
   *
   * @example
   * ```ts
   * import { PacketBuffer } from "./packet_buffer.ts";
   * const buf = new PacketBuffer(new Uint8Array(64));
   * buf.append(60);
   * buf.truncate(42);
   * console.assert(buf.length === 42);
   * ```
   */
  truncate(length: number): void {
    if ((length | 0) !== length || length < 0) return;
    if (length < this.tail - this.head) this.tail = this.head + length;
  }
}
