/**
 * The bounded queues of packets waiting for link-layer resolution, shared by
 * the ARP cache (IPv4) and the neighbour cache (IPv6): per neighbour in
 * packets and in bytes (Linux `unres_qlen`, `unres_qlen_bytes`), all
 * neighbours together by a global bound (a share of the buffer pool), so
 * spoofed neighbours that never answer cannot take every transmit buffer
 * (issue 16). At a bound the oldest packet goes (RFC 1122 §2.3.2.2 "SHOULD
 * save at least one (the latest) packet"; RFC 4861 §7.2.2 "SHOULD replace
 * the oldest entries"). One instance per cache; the entries own their
 * {@link PendingQueue}.
 *
 * @module
 */

import type { PacketBufferLike } from "./types.ts";

/** Default packets queued per unresolved neighbour (one 65,507-byte datagram fragmented at MTU 1500). */
export const DEFAULT_PENDING_PER_NEIGHBOUR = 64;
/** Default bytes queued per unresolved neighbour (see `DEFAULT_ARP_MAX_QUEUED_BYTES`). */
export const DEFAULT_PENDING_BYTES_PER_NEIGHBOUR = 96 * 1024;
/** Default packets queued for all neighbours together. */
export const DEFAULT_PENDING_TOTAL = 256;

/** The packets one neighbour has waiting; embed it in (or extend it by) the cache entry. */
export class PendingQueue {
  /** Waiting packets, oldest first. */
  queue: PacketBufferLike[] = [];
  /** Sum of their lengths. */
  queuedBytes = 0;
}

/** The counters a {@link PendingQueues} keeps (fields of the owning cache's stats). */
export interface PendingQueueStats {
  /** Queued packets dropped (the oldest first) because the neighbour's queue was full. */
  queueOverflows: number;
  /** Queued packets dropped (the oldest first) because the neighbour's queued bytes were at their bound. */
  pendingDroppedBytes: number;
  /** Queued packets dropped because all neighbours' queues together were at their bound. */
  pendingDroppedGlobal: number;
  /** Gauge: packets waiting for resolution now (all neighbours). */
  pendingPackets: number;
  /** Gauge: bytes of the packets waiting for resolution now. */
  pendingBytes: number;
}

/** Bounds of a {@link PendingQueues}. */
export interface PendingQueueBounds {
  /** Packets per neighbour (≥ 1). */
  perNeighbour: number;
  /** Bytes per neighbour (≥ 1; a single larger packet is still queued, alone). */
  bytesPerNeighbour: number;
  /** Packets of all neighbours together (≥ 1). */
  total: number;
}

/**
 * Enqueue/drop/take with the bounds of {@link PendingQueueBounds}, counting in
 * the owner's stats.
 *
 * @example
 * ```ts
 * import { PendingQueue, PendingQueues } from "./pending_queue.ts";
 * const stats = { queueOverflows: 0, pendingDroppedBytes: 0, pendingDroppedGlobal: 0,
 *   pendingPackets: 0, pendingBytes: 0 };
 * const freed: unknown[] = [];
 * const q = new PendingQueues(stats, { perNeighbour: 1, bytesPerNeighbour: 100, total: 8 },
 *   (b) => freed.push(b));
 * const n = new PendingQueue();
 * const buf = (length: number) => ({ length }) as never;
 * q.enqueue(n, buf(10), []);
 * q.enqueue(n, buf(20), []);
 * console.assert(stats.queueOverflows === 1 && freed.length === 1 && n.queuedBytes === 20);
 * ```
 */
export class PendingQueues {
  readonly #stats: PendingQueueStats;
  readonly #bounds: PendingQueueBounds;
  readonly #free: (buf: PacketBufferLike) => void;

  /**
   * Creates the bookkeeping of one cache.
   *
   * @param stats the owner's counters (updated in place)
   * @param bounds the bounds
   * @param free returns a dropped buffer to its pool
   */
  constructor(
    stats: PendingQueueStats,
    bounds: PendingQueueBounds,
    free: (buf: PacketBufferLike) => void,
  ) {
    this.#stats = stats;
    this.#bounds = bounds;
    this.#free = free;
  }

  /**
   * Queues `buf` behind `e`'s resolution within the bounds: Linux
   * __neigh_event_send drops the oldest until the packet fits the neighbour's
   * packet and byte bounds (a single packet larger than the byte bound is
   * still queued, alone); at the global bound the neighbour's own oldest
   * goes, or, for a neighbour with an empty queue, the oldest of the longest
   * queue among `all`, so every neighbour keeps its latest packet.
   *
   * @param e the neighbour's queue
   * @param buf the packet (ownership taken)
   * @param all every neighbour's queue (scanned only at the global bound)
   */
  enqueue(e: PendingQueue, buf: PacketBufferLike, all: Iterable<PendingQueue>): void {
    const stats = this.#stats;
    const bounds = this.#bounds;
    const length = buf.length;
    while (e.queue.length >= bounds.perNeighbour) {
      stats.queueOverflows++;
      this.dropOldest(e);
    }
    while (e.queue.length > 0 && e.queuedBytes + length > bounds.bytesPerNeighbour) {
      stats.pendingDroppedBytes++;
      this.dropOldest(e);
    }
    if (stats.pendingPackets >= bounds.total) {
      const victim = e.queue.length > 0 ? e : longestQueue(all);
      if (victim !== undefined) {
        stats.pendingDroppedGlobal++;
        this.dropOldest(victim);
      }
    }
    e.queue.push(buf);
    e.queuedBytes += length;
    stats.pendingPackets++;
    stats.pendingBytes += length;
  }

  /**
   * Frees `e`'s oldest packet (the queue must not be empty).
   *
   * @param e the neighbour's queue
   */
  dropOldest(e: PendingQueue): void {
    const buf = e.queue.shift()!;
    const length = buf.length;
    e.queuedBytes -= length;
    this.#stats.pendingPackets--;
    this.#stats.pendingBytes -= length;
    this.#free(buf);
  }

  /**
   * Takes `e`'s queued packets out of the books; the caller sends or frees them.
   *
   * @param e the neighbour's queue
   * @returns the packets, oldest first
   */
  take(e: PendingQueue): PacketBufferLike[] {
    const queue = e.queue;
    this.#stats.pendingPackets -= queue.length;
    this.#stats.pendingBytes -= e.queuedBytes;
    e.queue = [];
    e.queuedBytes = 0;
    return queue;
  }
}

/** The queue with the most packets (full scan: only at the global bound). */
function longestQueue(all: Iterable<PendingQueue>): PendingQueue | undefined {
  let longest: PendingQueue | undefined;
  for (const e of all) {
    if (e.queue.length > 0 && (longest === undefined || e.queue.length > longest.queue.length)) {
      longest = e;
    }
  }
  return longest;
}

/**
 * An entry used or confirmed within this time (ms) is not evicted for a new
 * one (Linux `neigh_forced_gc` keeps entries updated in the last 5 s).
 */
export const EVICT_IDLE_MS = 5_000;

/** What the eviction rule reads of a neighbour entry (ARP or IPv6). */
export interface EvictionFacts {
  /** Created by the neighbour's own packet to us (a request, a solicitation) and not used by us since. */
  readonly unsolicited: boolean;
  /** Created or last confirmed. */
  readonly updatedMs: number;
  /** Last used by us. */
  readonly lastUsedMs: number;
}

/** Eviction classes, best victim first. */
const EVICT_UNSOLICITED = 0;
const EVICT_INCOMPLETE = 1;
const EVICT_IDLE = 2;
const EVICT_NONE = 3;

/**
 * The entry a full neighbour table evicts for a new one, or undefined: for an
 * unsolicited newcomer only another unsolicited entry may go; for our own
 * resolution: unsolicited entries, then incomplete ones, then resolved ones
 * idle for {@link EVICT_IDLE_MS} (Linux neigh_forced_gc) — the oldest of the
 * first class found, never a protected one (a gateway, a default router).
 * A full scan: call it only when the table is full. Shared by the ARP cache
 * and the IPv6 neighbour cache.
 *
 * @param nowMs current time
 * @param entries every entry
 * @param forUnsolicited the newcomer is unsolicited
 * @param isResolved whether an entry has its link-layer address
 * @param isProtected whether an entry must stay
 * @returns the victim, or undefined when nothing may go
 *
 * @example
 * ```ts
 * import { chooseVictim } from "./pending_queue.ts";
 * const a = { unsolicited: false, updatedMs: 0, lastUsedMs: 0, resolved: true };
 * const b = { unsolicited: true, updatedMs: 9000, lastUsedMs: 9000, resolved: true };
 * console.assert(chooseVictim(10_000, [a, b], false, (e) => e.resolved, () => false) === b);
 * console.assert(chooseVictim(10_000, [a], true, (e) => e.resolved, () => false) === undefined);
 * ```
 */
export function chooseVictim<E extends EvictionFacts>(
  nowMs: number,
  entries: Iterable<E>,
  forUnsolicited: boolean,
  isResolved: (e: E) => boolean,
  isProtected: (e: E) => boolean,
): E | undefined {
  let victim: E | undefined;
  let victimClass = EVICT_NONE;
  let victimAge = -1;
  for (const e of entries) {
    let cls: number;
    let lastMs: number;
    if (e.unsolicited) {
      cls = EVICT_UNSOLICITED;
      lastMs = e.updatedMs;
    } else if (forUnsolicited) {
      continue;
    } else if (!isResolved(e)) {
      cls = EVICT_INCOMPLETE;
      lastMs = e.lastUsedMs;
    } else {
      lastMs = e.lastUsedMs > e.updatedMs ? e.lastUsedMs : e.updatedMs;
      if (nowMs - lastMs < EVICT_IDLE_MS) continue;
      cls = EVICT_IDLE;
    }
    const age = nowMs - lastMs;
    if (cls > victimClass || (cls === victimClass && age <= victimAge)) continue;
    if (isProtected(e)) continue;
    victim = e;
    victimClass = cls;
    victimAge = age;
  }
  return victim;
}
