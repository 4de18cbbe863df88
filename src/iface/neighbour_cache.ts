/**
 * The IPv6 neighbour cache with Neighbor Unreachability Detection (RFC 4861
 * §7.3): entries are INCOMPLETE (multicast solicitations sent, packets
 * queued), REACHABLE (confirmed within ReachableTime), STALE (not confirmed
 * lately; still used), DELAY (used while STALE: wait 5 s for an upper-layer
 * confirmation), PROBE (unicast solicitations every RetransTimer, then the
 * entry is deleted). The timers come from router advertisements
 * ({@link NeighbourCache.setTimers}) with the §10 defaults.
 *
 * Bounded exactly like the hardened ARP cache (issue 16), sharing its
 * {@link PendingQueues}: packets waiting for resolution per neighbour in
 * packets and bytes and all together; entries are created by our own
 * resolutions and, as STALE, by a solicitation, router advertisement or
 * redirect carrying a link-layer address (RFC 4861 §7.2.3, §6.3.4, §8.3); an
 * unsolicited advertisement creates nothing (§7.2.5: "no entry exists, the
 * advertisement SHOULD be silently discarded"); a confirmed entry's link-layer
 * address does not change within the lock time (Linux `locktime`) unless a
 * solicited advertisement answers our own INCOMPLETE probe; when full, an
 * entry made by a solicitation may only evict another such entry we never
 * used, our own resolutions evict those, then INCOMPLETE ones, then entries
 * idle for 5 s; a router in the default router list is never evicted.
 *
 * Addresses are keyed by the four words of an `Ipv6Address` (hash chains, no
 * strings). A synchronous state machine: time comes in as `nowMs`.
 *
 * @module
 */

import { MacAddress } from "../wire/address.ts";
import { isGroupMac } from "../wire/ethernet.ts";
import type { Ipv6Words } from "../wire/checksum.ts";
import { Ipv6Address, ipv6Hash } from "../wire/ipv6_address.ts";
import {
  chooseVictim,
  DEFAULT_PENDING_BYTES_PER_NEIGHBOUR,
  DEFAULT_PENDING_PER_NEIGHBOUR,
  DEFAULT_PENDING_TOTAL,
  PendingQueue,
  PendingQueues,
  type PendingQueueStats,
} from "./pending_queue.ts";
import type { PacketBufferLike } from "./types.ts";

/** RFC 4861 §10: MAX_MULTICAST_SOLICIT. */
export const MAX_MULTICAST_SOLICIT = 3;
/** RFC 4861 §10: MAX_UNICAST_SOLICIT. */
export const MAX_UNICAST_SOLICIT = 3;
/** RFC 4861 §10: REACHABLE_TIME (ms). */
export const REACHABLE_TIME_MS = 30_000;
/** RFC 4861 §10: RETRANS_TIMER (ms). */
export const RETRANS_TIMER_MS = 1_000;
/** RFC 4861 §10: DELAY_FIRST_PROBE_TIME (ms). */
export const DELAY_FIRST_PROBE_TIME_MS = 5_000;
/** RFC 4861 §10: MIN_RANDOM_FACTOR. */
export const MIN_RANDOM_FACTOR = 0.5;
/** RFC 4861 §10: MAX_RANDOM_FACTOR. */
export const MAX_RANDOM_FACTOR = 1.5;
/** A STALE entry unused this long is removed (Linux `gc_stale_time`, 60 s). */
export const STALE_GC_MS = 60_000;
/** Default maximum entries. */
export const DEFAULT_NEIGHBOUR_ENTRIES = 256;
/** Default lock time (ms), as the ARP cache's (Linux `locktime`). */
export const DEFAULT_NEIGHBOUR_LOCK_TIME_MS = 1_000;

/** NUD state (RFC 4861 §7.3.2), as listed. */
export type NudState = "incomplete" | "reachable" | "stale" | "delay" | "probe";

const INCOMPLETE = 0;
const REACHABLE = 1;
const STALE = 2;
const DELAY = 3;
const PROBE = 4;
const STATE_NAMES: readonly NudState[] = ["incomplete", "reachable", "stale", "delay", "probe"];

/** Tunables of a {@link NeighbourCache}. */
export interface NeighbourCacheOptions {
  /** Maximum entries; default 256. */
  maxEntries?: number;
  /** Packets queued per neighbour while resolving; default 64. */
  maxQueuedPerNeighbour?: number;
  /** Bytes queued per neighbour while resolving; default 98,304. */
  maxQueuedBytesPerNeighbour?: number;
  /** Packets queued for all neighbours together; default 256 (the interface: a quarter of its pool). */
  maxQueuedTotal?: number;
  /** Lock time (ms); default 1 000, 0 = none. */
  lockTimeMs?: number;
  /** Randomness in [0, 1) for ReachableTime (default Math.random; simulations seed it). */
  random?: () => number;
  /** BaseReachableTime (ms) until a router advertisement gives one; default 30,000 (§10). */
  reachableTimeMs?: number;
}

/** What the cache needs from the IPv6 layer. */
export interface NeighbourCacheHost {
  /**
   * Send a Neighbor Solicitation for `target`: to its solicited-node group
   * when `unicastMac` < 0 (address resolution), else unicast to the
   * neighbour at `unicastMac` (NUD probe, §7.3.3).
   */
  sendSolicitation(target: Ipv6Address, unicastMac: number): void;
  /** A queued IPv6 packet can go to `mac`: prepend Ethernet, transmit, free. */
  transmitResolved(buf: PacketBufferLike, mac: number): void;
  /** Resolution of `target` failed; `buf` was waiting (freed by the cache after the call). */
  resolutionFailed(nowMs: number, target: Ipv6Address, buf: PacketBufferLike): void;
  /** Return a buffer to its pool. */
  free(buf: PacketBufferLike): void;
  /** Optional: `addr` is never evicted (a default router). Asked only when full. */
  isProtected?(addr: Ipv6Address): boolean;
  /** Optional: a neighbour's IsRouter flag went from true to false (§7.2.5): drop it as a router. */
  routerLost?(addr: Ipv6Address): void;
}

/** Counters of a {@link NeighbourCache}. */
export interface NeighbourStats extends PendingQueueStats {
  /** Multicast solicitations sent to resolve (INCOMPLETE). */
  solicitationsSent: number;
  /** Unicast probes sent (PROBE). */
  probesSent: number;
  /** Resolutions that failed after MAX_MULTICAST_SOLICIT (packets reported unreachable). */
  resolutionFailures: number;
  /** Entries deleted after MAX_UNICAST_SOLICIT unanswered probes. */
  probeFailures: number;
  /** Entries created or updated from NDP messages. */
  learned: number;
  /** Entries confirmed REACHABLE (solicited advertisement or upper layer). */
  confirmed: number;
  /** Unsolicited advertisements for a neighbour without an entry: ignored (§7.2.5). */
  unsolicitedIgnored: number;
  /** A different link-layer address within the lock time: ignored. */
  updatesLocked: number;
  /** STALE entries removed by garbage collection. */
  staleCollected: number;
  /** Entries evicted because the cache was full. */
  evicted: number;
  /** Entries not created because nothing could be evicted. */
  tableFull: number;
  /** Packets dropped because resolution failed or the entry was evicted. */
  queuedDropped: number;
  /** Advertisements with an invalid link-layer address (group or zero): ignored. */
  badLinkLayer: number;
}

/** One entry as listed by {@link NeighbourCache.list}. */
export interface NeighbourInfo {
  /** Address family (always "ipv6" here; ARP entries are listed by the ARP cache). */
  family: "ipv6";
  /** The neighbour's address (RFC 5952 text). */
  ip: string;
  /** Its MAC, null while incomplete. */
  mac: string | null;
  /** NUD state. */
  state: NudState;
  /** The neighbour said it is a router. */
  isRouter: boolean;
  /** Milliseconds since the entry was created or last confirmed. */
  ageMs: number;
  /** Packets waiting for resolution. */
  queued: number;
}

class Entry extends PendingQueue {
  next: Entry | null = null;
  mac = -1;
  state = INCOMPLETE;
  isRouter = false;
  /** Created or last confirmed/updated by NDP. */
  updatedMs = 0;
  lastUsedMs = 0;
  /** REACHABLE: until; DELAY: probe time; INCOMPLETE/PROBE: next retransmission. */
  timerMs = 0;
  solicitations = 0;
  /** Created by a solicitation/RA, not used by us since. */
  unsolicited = false;
  constructor(readonly address: Ipv6Address, readonly hash: number) {
    super();
  }
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`neighbour option "${name}" must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * The neighbour cache. See the module documentation.
 *
 * @example
 * ```ts
 * import { NeighbourCache } from "./neighbour_cache.ts";
 * import { Ipv6Address } from "../wire/ipv6_address.ts";
 * const solicited: string[] = [];
 * const cache = new NeighbourCache({
 *   sendSolicitation: (t) => solicited.push(t.toString()),
 *   transmitResolved: () => {}, resolutionFailed: () => {}, free: () => {},
 * }, { random: () => 0.5 });
 * const router = Ipv6Address.parse("fe80::1");
 * cache.send(0, router, { length: 60 } as never);
 * console.assert(solicited[0] === "fe80::1" && cache.list(0)[0].state === "incomplete");
 * cache.advertisement(1, router, 0x020000000001, true, true, true);
 * console.assert(cache.lookup(1, router) === 0x020000000001 && cache.list(1)[0].state === "reachable");
 * ```
 */
export class NeighbourCache {
  /** Counters. */
  readonly stats: NeighbourStats = {
    queueOverflows: 0,
    pendingDroppedBytes: 0,
    pendingDroppedGlobal: 0,
    pendingPackets: 0,
    pendingBytes: 0,
    solicitationsSent: 0,
    probesSent: 0,
    resolutionFailures: 0,
    probeFailures: 0,
    learned: 0,
    confirmed: 0,
    unsolicitedIgnored: 0,
    updatesLocked: 0,
    staleCollected: 0,
    evicted: 0,
    tableFull: 0,
    queuedDropped: 0,
    badLinkLayer: 0,
  };
  readonly #host: NeighbourCacheHost;
  readonly #table = new Map<number, Entry>();
  #size = 0;
  readonly #pending: PendingQueues;
  readonly #maxEntries: number;
  readonly #lockTimeMs: number;
  readonly #random: () => number;
  #baseReachableMs = REACHABLE_TIME_MS;
  #reachableMs: number;
  #retransMs = RETRANS_TIMER_MS;
  #deadline = Infinity;

  /**
   * Creates an empty neighbour cache.
   *
   * @param host transmit/free callbacks of the IPv6 layer
   * @param options bounds and randomness
   * @throws {TypeError} on a non-positive bound
   */
  constructor(host: NeighbourCacheHost, options: NeighbourCacheOptions = {}) {
    this.#host = host;
    this.#maxEntries = positiveInt(options.maxEntries, DEFAULT_NEIGHBOUR_ENTRIES, "maxEntries");
    this.#pending = new PendingQueues(this.stats, {
      perNeighbour: positiveInt(
        options.maxQueuedPerNeighbour,
        DEFAULT_PENDING_PER_NEIGHBOUR,
        "maxQueuedPerNeighbour",
      ),
      bytesPerNeighbour: positiveInt(
        options.maxQueuedBytesPerNeighbour,
        DEFAULT_PENDING_BYTES_PER_NEIGHBOUR,
        "maxQueuedBytesPerNeighbour",
      ),
      total: positiveInt(options.maxQueuedTotal, DEFAULT_PENDING_TOTAL, "maxQueuedTotal"),
    }, (buf) => host.free(buf));
    const lock = options.lockTimeMs ?? DEFAULT_NEIGHBOUR_LOCK_TIME_MS;
    if (!Number.isInteger(lock) || lock < 0) {
      throw new TypeError(`neighbour option "lockTimeMs" must be a non-negative integer`);
    }
    this.#lockTimeMs = lock;
    this.#random = options.random ?? Math.random;
    this.#baseReachableMs = positiveInt(
      options.reachableTimeMs,
      REACHABLE_TIME_MS,
      "reachableTimeMs",
    );
    this.#reachableMs = this.#randomReachable();
  }

  /** Entries now. */
  get size(): number {
    return this.#size;
  }

  /** The current ReachableTime (ms, randomized, §6.3.2). */
  get reachableTimeMs(): number {
    return this.#reachableMs;
  }

  /** The current RetransTimer (ms). */
  get retransTimerMs(): number {
    return this.#retransMs;
  }

  /**
   * Adopts a router advertisement's timers (RFC 4861 §6.3.4): a non-zero
   * Reachable Time that differs from the base re-randomizes ReachableTime;
   * a non-zero Retrans Timer replaces RetransTimer. Bounded to sane values
   * (Reachable ≤ 1 h, Retrans 100 ms..60 s, as Linux clamps them).
   *
   * @param reachableMs the RA's Reachable Time (0 = unspecified)
   * @param retransMs the RA's Retrans Timer (0 = unspecified)
   */
  setTimers(reachableMs: number, retransMs: number): void {
    if (reachableMs > 0) {
      const base = Math.min(reachableMs, 3_600_000);
      if (base !== this.#baseReachableMs) {
        this.#baseReachableMs = base;
        this.#reachableMs = this.#randomReachable();
      }
    }
    if (retransMs > 0) this.#retransMs = Math.min(Math.max(retransMs, 100), 60_000);
  }

  /**
   * The MAC to send to `addr` now, or -1 (unknown or INCOMPLETE: use {@link send}).
   * A STALE entry moves to DELAY (§7.3.3: the first packet sent to it).
   *
   * @param nowMs current time
   * @param addr the neighbour
   * @returns the MAC or -1
   */
  lookup(nowMs: number, addr: Ipv6Words): number {
    const e = this.#find(addr);
    if (e === null || e.state === INCOMPLETE) return -1;
    this.#use(nowMs, e);
    return e.mac;
  }

  /**
   * Sends `buf` (an IPv6 packet without link header) to `addr`: at once when
   * its link-layer address is known, else queued while solicitations go out
   * (§7.2.2). Takes ownership.
   *
   * @param nowMs current time
   * @param addr the next hop
   * @param buf the packet
   * @returns false when dropped because the cache is full of entries it may not evict
   */
  send(nowMs: number, addr: Ipv6Address, buf: PacketBufferLike): boolean {
    let e = this.#find(addr);
    if (e !== null && e.state !== INCOMPLETE) {
      this.#use(nowMs, e);
      this.#host.transmitResolved(buf, e.mac);
      return true;
    }
    if (e === null) {
      e = this.#insert(nowMs, addr, false);
      if (e === null) {
        this.#host.free(buf);
        return false;
      }
      e.state = INCOMPLETE;
      this.#solicit(nowMs, e);
    }
    e.lastUsedMs = nowMs;
    this.#pending.enqueue(e, buf, this.#entries());
    return true;
  }

  /**
   * A solicitation, router advertisement or redirect from `addr` carried its
   * link-layer address (RFC 4861 §7.2.3, §6.3.4, §8.3): create the entry as
   * STALE, or set STALE when the address changed; an INCOMPLETE entry gets
   * it and sends what waited.
   *
   * @param nowMs current time
   * @param addr the sender (not unspecified)
   * @param mac its link-layer address option
   * @param isRouter the message says the sender is a router (RA, redirect)
   */
  learn(nowMs: number, addr: Ipv6Address, mac: number, isRouter = false): void {
    if (mac === 0 || isGroupMac(mac)) {
      this.stats.badLinkLayer++;
      return;
    }
    let e = this.#find(addr);
    if (e === null) {
      e = this.#insert(nowMs, addr, true);
      if (e === null) return;
      this.#set(nowMs, e, mac, STALE);
    } else if (e.state === INCOMPLETE) {
      this.#set(nowMs, e, mac, STALE);
    } else if (e.mac !== mac) {
      if (nowMs - e.updatedMs < this.#lockTimeMs) {
        this.stats.updatesLocked++;
        return;
      }
      this.#set(nowMs, e, mac, STALE);
    }
    if (isRouter) e.isRouter = true;
  }

  /**
   * A Neighbor Advertisement for `target` (RFC 4861 §7.2.5).
   *
   * @param nowMs current time
   * @param target the advertised address
   * @param mac its Target Link-Layer Address option, or -1
   * @param solicited S flag
   * @param override O flag
   * @param router R flag
   */
  advertisement(
    nowMs: number,
    target: Ipv6Address,
    mac: number,
    solicited: boolean,
    override: boolean,
    router: boolean,
  ): void {
    if (mac >= 0 && (mac === 0 || isGroupMac(mac))) {
      this.stats.badLinkLayer++;
      return;
    }
    const e = this.#find(target);
    if (e === null) {
      this.stats.unsolicitedIgnored++;
      return;
    }
    if (e.state === INCOMPLETE) {
      // §7.2.5: without a link-layer address the advertisement is of no use.
      if (mac < 0) return;
      this.#set(nowMs, e, mac, solicited ? REACHABLE : STALE);
      if (solicited) this.stats.confirmed++;
      e.isRouter = router;
      return;
    }
    const different = mac >= 0 && mac !== e.mac;
    if (!override && different) {
      // §7.2.5: O clear and a different address: REACHABLE becomes STALE, nothing else.
      if (e.state === REACHABLE && nowMs < e.timerMs) e.state = STALE;
      return;
    }
    if (different && nowMs - e.updatedMs < this.#lockTimeMs) {
      this.stats.updatesLocked++;
      return;
    }
    if (different) e.mac = mac;
    if (solicited) {
      this.#set(nowMs, e, e.mac, REACHABLE);
      this.stats.confirmed++;
    } else if (different) {
      this.#set(nowMs, e, e.mac, STALE);
    }
    if (e.isRouter && !router) {
      e.isRouter = false;
      this.#host.routerLost?.(e.address);
    } else {
      e.isRouter = router;
    }
  }

  /**
   * Upper-layer reachability confirmation (§7.3.1: e.g. new TCP data acknowledged).
   *
   * @param nowMs current time
   * @param addr the neighbour
   */
  confirm(nowMs: number, addr: Ipv6Words): void {
    const e = this.#find(addr);
    if (e === null || e.state === INCOMPLETE) return;
    this.#set(nowMs, e, e.mac, REACHABLE);
    this.stats.confirmed++;
  }

  /**
   * Removes an entry (its packets are reported unreachable).
   *
   * @param nowMs current time
   * @param addr the neighbour
   */
  remove(nowMs: number, addr: Ipv6Words): void {
    const e = this.#find(addr);
    if (e !== null) {
      this.#unlink(e);
      this.#fail(nowMs, e);
    }
  }

  /**
   * Whether the neighbour is known as a router (IsRouter, §7.3.1).
   *
   * @param addr the neighbour
   * @returns the flag
   */
  isRouter(addr: Ipv6Words): boolean {
    return this.#find(addr)?.isRouter ?? false;
  }

  /**
   * The NUD state of `addr` (REACHABLE past its time reads as stale), or null.
   *
   * @param nowMs current time
   * @param addr the neighbour
   * @returns the state or null without an entry
   */
  stateOf(nowMs: number, addr: Ipv6Words): NudState | null {
    const e = this.#find(addr);
    if (e === null) return null;
    return STATE_NAMES[e.state === REACHABLE && nowMs >= e.timerMs ? STALE : e.state];
  }

  /**
   * Runs due work (§7.3.3): INCOMPLETE retransmissions and failures, REACHABLE
   * ageing to STALE, DELAY to PROBE, PROBE retransmissions and deletion, STALE
   * garbage collection.
   *
   * @param nowMs current time
   */
  poll(nowMs: number): void {
    if (nowMs < this.#deadline) return;
    let next = Infinity;
    for (const e of this.#entries()) {
      switch (e.state) {
        case INCOMPLETE:
          if (nowMs >= e.timerMs) {
            if (e.solicitations >= MAX_MULTICAST_SOLICIT) {
              this.#unlink(e);
              this.stats.resolutionFailures++;
              this.#fail(nowMs, e);
              continue;
            }
            this.#solicit(nowMs, e);
          }
          break;
        case REACHABLE:
          if (nowMs >= e.timerMs) {
            e.state = STALE;
            e.timerMs = Math.max(e.lastUsedMs, e.updatedMs) + STALE_GC_MS;
          }
          break;
        case DELAY:
          if (nowMs >= e.timerMs) {
            e.state = PROBE;
            e.solicitations = 0;
            this.#probe(nowMs, e);
          }
          break;
        case PROBE:
          if (nowMs >= e.timerMs) {
            if (e.solicitations >= MAX_UNICAST_SOLICIT) {
              this.#unlink(e);
              this.stats.probeFailures++;
              if (e.isRouter) this.#host.routerLost?.(e.address);
              continue;
            }
            this.#probe(nowMs, e);
          }
          break;
        default: // STALE
          if (nowMs >= Math.max(e.lastUsedMs, e.updatedMs) + STALE_GC_MS && !e.isRouter) {
            this.#unlink(e);
            this.stats.staleCollected++;
            continue;
          }
          e.timerMs = Math.max(e.lastUsedMs, e.updatedMs) + STALE_GC_MS;
      }
      if (e.state !== STALE || !e.isRouter) next = Math.min(next, e.timerMs);
    }
    this.#deadline = next;
  }

  /**
   * When {@link poll} next has work.
   *
   * @returns the earliest timer, or Infinity
   */
  nextDeadline(): number {
    return this.#deadline;
  }

  /**
   * Lists the entries (allocates).
   *
   * @param nowMs current time
   * @returns one record per neighbour
   */
  list(nowMs: number): NeighbourInfo[] {
    const out: NeighbourInfo[] = [];
    for (const e of this.#entries()) {
      out.push({
        family: "ipv6",
        ip: e.address.toString(),
        mac: e.state === INCOMPLETE ? null : new MacAddress(e.mac).toString(),
        state: this.stateOf(nowMs, e.address)!,
        isRouter: e.isRouter,
        ageMs: nowMs - e.updatedMs,
        queued: e.queue.length,
      });
    }
    return out;
  }

  /** Removes every entry, freeing queued packets without notifying anyone. */
  clear(): void {
    for (const e of this.#entries()) {
      const queue = this.#pending.take(e);
      this.stats.queuedDropped += queue.length;
      for (const buf of queue) this.#host.free(buf);
    }
    this.#table.clear();
    this.#size = 0;
    this.#deadline = Infinity;
  }

  /** Every entry (a generator: slow paths only). */
  *#entries(): Generator<Entry> {
    for (const head of this.#table.values()) {
      for (let e: Entry | null = head; e !== null;) {
        const next: Entry | null = e.next; // e may be unlinked by the consumer
        yield e;
        e = next;
      }
    }
  }

  #find(addr: Ipv6Words): Entry | null {
    const w0 = addr.w0 | 0, w1 = addr.w1 | 0, w2 = addr.w2 | 0, w3 = addr.w3 | 0;
    for (let e = this.#table.get(ipv6Hash(w0, w1, w2, w3)) ?? null; e !== null; e = e.next) {
      const a = e.address;
      if (a.w3 === w3 && a.w2 === w2 && a.w1 === w1 && a.w0 === w0) return e;
    }
    return null;
  }

  #insert(nowMs: number, addr: Ipv6Address, unsolicited: boolean): Entry | null {
    if (this.#size >= this.#maxEntries && !this.#evict(nowMs, unsolicited)) {
      this.stats.tableFull++;
      return null;
    }
    const h = addr.hash();
    const e = new Entry(addr, h);
    e.updatedMs = nowMs;
    e.lastUsedMs = nowMs;
    e.unsolicited = unsolicited;
    e.next = this.#table.get(h) ?? null;
    this.#table.set(h, e);
    this.#size++;
    return e;
  }

  #unlink(target: Entry): void {
    const h = target.hash;
    let prev: Entry | null = null;
    for (let e = this.#table.get(h) ?? null; e !== null; prev = e, e = e.next) {
      if (e !== target) continue;
      if (prev !== null) prev.next = e.next;
      else if (e.next !== null) this.#table.set(h, e.next);
      else this.#table.delete(h);
      this.#size--;
      return;
    }
  }

  /** The ARP cache's rule ({@link chooseVictim}): unsolicited, incomplete, idle ≥ 5 s; never a router. */
  #evict(nowMs: number, forUnsolicited: boolean): boolean {
    const host = this.#host;
    const victim = chooseVictim(
      nowMs,
      this.#entries(),
      forUnsolicited,
      (e) => e.state !== INCOMPLETE,
      (e) => host.isProtected?.(e.address) === true,
    );
    if (victim === undefined) return false;
    this.#unlink(victim);
    this.stats.evicted++;
    this.#fail(nowMs, victim);
    return true;
  }

  /** §7.3.3: using an entry; STALE (or REACHABLE past its time) moves to DELAY. */
  #use(nowMs: number, e: Entry): void {
    e.lastUsedMs = nowMs;
    e.unsolicited = false;
    if (e.state === STALE || (e.state === REACHABLE && nowMs >= e.timerMs)) {
      e.state = DELAY;
      e.timerMs = nowMs + DELAY_FIRST_PROBE_TIME_MS;
      if (e.timerMs < this.#deadline) this.#deadline = e.timerMs;
    }
  }

  #set(nowMs: number, e: Entry, mac: number, state: number): void {
    e.mac = mac;
    e.state = state;
    e.updatedMs = nowMs;
    e.solicitations = 0;
    e.timerMs = state === REACHABLE ? nowMs + this.#reachableMs : nowMs + STALE_GC_MS;
    if (e.timerMs < this.#deadline) this.#deadline = e.timerMs;
    this.stats.learned++;
    if (e.queue.length > 0) {
      // §7.2.5: "any packets queued for the neighbor awaiting address resolution MUST be sent".
      const queue = this.#pending.take(e);
      for (let i = 0; i < queue.length; i++) this.#host.transmitResolved(queue[i], mac);
    }
  }

  #solicit(nowMs: number, e: Entry): void {
    e.solicitations++;
    e.timerMs = nowMs + this.#retransMs;
    if (e.timerMs < this.#deadline) this.#deadline = e.timerMs;
    this.stats.solicitationsSent++;
    this.#host.sendSolicitation(e.address, -1);
  }

  #probe(nowMs: number, e: Entry): void {
    e.solicitations++;
    e.timerMs = nowMs + this.#retransMs;
    if (e.timerMs < this.#deadline) this.#deadline = e.timerMs;
    this.stats.probesSent++;
    this.#host.sendSolicitation(e.address, e.mac);
  }

  #fail(nowMs: number, e: Entry): void {
    if (e.queue.length === 0) return;
    const queue = this.#pending.take(e);
    for (let i = 0; i < queue.length; i++) {
      const buf = queue[i];
      this.stats.queuedDropped++;
      try {
        this.#host.resolutionFailed(nowMs, e.address, buf);
      } finally {
        this.#host.free(buf);
      }
    }
  }

  #randomReachable(): number {
    // §6.3.2: uniformly between MIN_RANDOM_FACTOR and MAX_RANDOM_FACTOR times the base.
    const f = MIN_RANDOM_FACTOR + (MAX_RANDOM_FACTOR - MIN_RANDOM_FACTOR) * this.#random();
    return Math.max(1, Math.round(this.#baseReachableMs * f));
  }
}
