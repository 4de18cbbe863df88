/**
 * The IPv6 path MTU cache (RFC 8201): per destination, the smallest MTU a
 * Packet Too Big reported, never below the IPv6 minimum of 1,280 bytes
 * (RFC 8201 §4: "a node MUST NOT reduce its estimate of the Path MTU below
 * the IPv6 minimum link MTU"), never above the link MTU, and aged back to
 * the link MTU after 10 minutes (§4: "the recommended setting for this timer
 * is twice its minimum value (10 minutes)"; Linux `mtu_expires` 600 s).
 * Bounded: at most {@link PmtuOptions.maxEntries} destinations, the least
 * recently updated evicted. Keys are the four address words.
 *
 * @module
 */

import { IPV6_MIN_MTU } from "../wire/ipv6.ts";
import type { Ipv6Words } from "../wire/checksum.ts";
import { formatIpv6Words, ipv6Hash } from "../wire/ipv6_address.ts";

/** RFC 8201 §4: age a reduced PMTU back after 10 minutes. */
export const PMTU_AGING_MS = 10 * 60 * 1000;
/** Default destinations tracked. */
export const DEFAULT_PMTU_ENTRIES = 256;

/** Options of a {@link PmtuCache}. */
export interface PmtuOptions {
  /** Destinations tracked; default 256. */
  maxEntries?: number;
  /** Time a reduced estimate lasts (ms); default 600,000. */
  agingMs?: number;
}

/** Counters of a {@link PmtuCache}. */
export interface PmtuStats {
  /** Estimates lowered by a Packet Too Big. */
  updates: number;
  /** Packet Too Big with an MTU below 1,280 (raised to 1,280, RFC 8201 §4). */
  clampedToMinimum: number;
  /** Packet Too Big that would raise or keep the estimate: ignored (RFC 8201 §4). */
  ignored: number;
  /** Estimates aged back to the link MTU. */
  expired: number;
  /** Entries evicted because the cache was full. */
  evicted: number;
}

/** One cached estimate, for listings. */
export interface PmtuEntryInfo {
  /** The destination. */
  destination: string;
  /** The path MTU. */
  mtu: number;
  /** Milliseconds until it ages back. */
  expiresInMs: number;
}

class Entry {
  next: Entry | null = null;
  constructor(
    readonly w0: number,
    readonly w1: number,
    readonly w2: number,
    readonly w3: number,
    public mtu: number,
    public expiresMs: number,
  ) {}
}

/**
 * Per-destination path MTU estimates.
 *
 * @example
 * ```ts
 * import { PmtuCache } from "./pmtu_cache.ts";
 * import { Ipv6Address } from "../wire/ipv6_address.ts";
 * const c = new PmtuCache(1500);
 * const d = Ipv6Address.parse("2001:db8:2::1");
 * c.update(0, d, 1000);                        // raised to the minimum
 * console.assert(c.pathMtu(0, d) === 1280);
 * console.assert(c.pathMtu(600_000, d) === 1500); // aged back
 * ```
 */
export class PmtuCache {
  /** Counters. */
  readonly stats: PmtuStats = {
    updates: 0,
    clampedToMinimum: 0,
    ignored: 0,
    expired: 0,
    evicted: 0,
  };
  /** Hash → chain of entries. */
  readonly #table = new Map<number, Entry>();
  #size = 0;
  #linkMtu: number;
  readonly #max: number;
  readonly #agingMs: number;

  /**
   * Creates an empty cache.
   *
   * @param linkMtu the interface's IPv6 MTU (≥ 1280)
   * @param options bounds and aging
   */
  constructor(linkMtu: number, options: PmtuOptions = {}) {
    this.#linkMtu = Math.max(IPV6_MIN_MTU, linkMtu);
    this.#max = options.maxEntries ?? DEFAULT_PMTU_ENTRIES;
    this.#agingMs = options.agingMs ?? PMTU_AGING_MS;
  }

  /** Destinations with a reduced estimate. */
  get size(): number {
    return this.#size;
  }

  /** The link MTU, the estimate for every destination without an entry. */
  get linkMtu(): number {
    return this.#linkMtu;
  }

  /**
   * Changes the link MTU (a router advertisement's MTU option); estimates above it are lowered.
   *
   * @param mtu the new link MTU (raised to 1,280)
   */
  setLinkMtu(mtu: number): void {
    this.#linkMtu = Math.max(IPV6_MIN_MTU, mtu);
    for (const head of this.#table.values()) {
      for (let e: Entry | null = head; e !== null; e = e.next) {
        if (e.mtu > this.#linkMtu) e.mtu = this.#linkMtu;
      }
    }
  }

  /**
   * The path MTU toward `dst` (the link MTU without a live estimate).
   *
   * @param nowMs current time
   * @param dst destination address words
   * @returns the MTU in bytes, ≥ 1280
   */
  pathMtu(nowMs: number, dst: Ipv6Words): number {
    const e = this.#find(dst);
    if (e === null) return this.#linkMtu;
    if (nowMs >= e.expiresMs) {
      this.#remove(e);
      this.stats.expired++;
      return this.#linkMtu;
    }
    return e.mtu;
  }

  /**
   * A Packet Too Big reported `mtu` toward `dst` (RFC 8201 §4): lowers the
   * estimate (never below 1,280); a larger value is ignored.
   *
   * @param nowMs current time
   * @param dst the destination of the packet that was too big
   * @param mtu the MTU field of the Packet Too Big
   * @returns the new estimate
   */
  update(nowMs: number, dst: Ipv6Words, mtu: number): number {
    let value = mtu;
    if (value < IPV6_MIN_MTU) {
      this.stats.clampedToMinimum++;
      value = IPV6_MIN_MTU;
    }
    const current = this.pathMtu(nowMs, dst);
    if (value >= current) {
      this.stats.ignored++;
      return current;
    }
    this.stats.updates++;
    let e = this.#find(dst);
    if (e === null) {
      if (this.#size >= this.#max) this.#evictOldest();
      e = new Entry(dst.w0 | 0, dst.w1 | 0, dst.w2 | 0, dst.w3 | 0, value, 0);
      const h = ipv6Hash(e.w0, e.w1, e.w2, e.w3);
      e.next = this.#table.get(h) ?? null;
      this.#table.set(h, e);
      this.#size++;
    }
    e.mtu = value;
    e.expiresMs = nowMs + this.#agingMs;
    return value;
  }

  /**
   * Lists the estimates (allocates).
   *
   * @param nowMs current time
   * @returns one record per destination
   */
  list(nowMs: number): PmtuEntryInfo[] {
    const out: PmtuEntryInfo[] = [];
    for (const head of this.#table.values()) {
      for (let e: Entry | null = head; e !== null; e = e.next) {
        out.push({
          destination: formatIpv6Words(e.w0, e.w1, e.w2, e.w3),
          mtu: e.mtu,
          expiresInMs: e.expiresMs - nowMs,
        });
      }
    }
    return out;
  }

  #find(dst: Ipv6Words): Entry | null {
    const w0 = dst.w0 | 0, w1 = dst.w1 | 0, w2 = dst.w2 | 0, w3 = dst.w3 | 0;
    for (let e = this.#table.get(ipv6Hash(w0, w1, w2, w3)) ?? null; e !== null; e = e.next) {
      if (e.w0 === w0 && e.w1 === w1 && e.w2 === w2 && e.w3 === w3) return e;
    }
    return null;
  }

  #remove(target: Entry): void {
    const h = ipv6Hash(target.w0, target.w1, target.w2, target.w3);
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

  /** Evicts the estimate that expires first (full scan: only when full). */
  #evictOldest(): void {
    let oldest: Entry | null = null;
    for (const head of this.#table.values()) {
      for (let e: Entry | null = head; e !== null; e = e.next) {
        if (oldest === null || e.expiresMs < oldest.expiresMs) oldest = e;
      }
    }
    if (oldest !== null) {
      this.#remove(oldest);
      this.stats.evicted++;
    }
  }
}
