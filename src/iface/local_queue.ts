/**
 * The bounded ring of datagrams an IP layer sends to one of its own addresses, waiting for the
 * layer's `poll` to hand them to its input (loopback inside the interface, as Linux's `lo`):
 * shared by the IPv4 and IPv6 layers. A full ring refuses (the caller counts the drop).
 *
 * ```ts
 * import { LocalDeliveryQueue } from "./local_queue.ts";
 * const q = new LocalDeliveryQueue(2);
 * console.assert(q.length === 0 && !q.full);
 * ```
 *
 * @module
 */
import type { PacketBufferLike } from "./types.ts";

/** A fixed-size FIFO of packet buffers (no allocation after construction). */
export class LocalDeliveryQueue {
  readonly #slots: (PacketBufferLike | null)[];
  #head = 0;
  #count = 0;

  /**
   * @param capacity most datagrams waiting at once (0: every push is refused)
   */
  constructor(capacity: number) {
    this.#slots = new Array(capacity).fill(null);
  }

  /** Datagrams waiting. */
  get length(): number {
    return this.#count;
  }

  /** Whether {@link push} would have no room. */
  get full(): boolean {
    return this.#count >= this.#slots.length;
  }

  /**
   * Appends a datagram (the caller checked {@link full}).
   *
   * @param buf the datagram, header written (ownership taken)
   */
  push(buf: PacketBufferLike): void {
    const slots = this.#slots;
    slots[(this.#head + this.#count) % slots.length] = buf;
    this.#count++;
  }

  /**
   * Takes the oldest datagram (the caller checked {@link length} > 0).
   *
   * @returns the datagram (ownership passed to the caller)
   */
  shift(): PacketBufferLike {
    const slots = this.#slots;
    const buf = slots[this.#head]!;
    slots[this.#head] = null;
    this.#head = (this.#head + 1) % slots.length;
    this.#count--;
    return buf;
  }

  /**
   * Frees every waiting datagram (the layer closes).
   *
   * @param release gives a buffer back to its pool
   * @returns how many were discarded
   */
  clear(release: (buf: PacketBufferLike) => void): number {
    const n = this.#count;
    while (this.#count > 0) release(this.shift());
    return n;
  }
}
