/**
 * Test helper: a minimal packet buffer over its own slot, shaped like src/buffer's
 * PacketBuffer, for tests that drive a UdpLayer without a buffer pool.
 *
 * @module
 */

import type { PacketBufferLike } from "../../src/iface/types.ts";

/** Headroom of a fresh {@link TestBuffer}: Ethernet + IPv4 headers. */
export const HEADROOM = 34;

/** A packet buffer over its own `size` bytes; `freed` is the test's to set on release. */
export class TestBuffer implements PacketBufferLike {
  readonly bytes: Uint8Array;
  head = HEADROOM;
  tail = HEADROOM;
  freed = false;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }
  get length(): number {
    return this.tail - this.head;
  }
  reset(headroom: number): void {
    this.head = this.tail = headroom;
  }
  prepend(n: number): number {
    if (n > this.head) return -1;
    this.head -= n;
    return this.head;
  }
  append(n: number): number {
    if (this.tail + n > this.bytes.length) return -1;
    const t = this.tail;
    this.tail += n;
    return t;
  }
  consume(n: number): void {
    this.head += n;
  }
}
