/**
 * A bounded DNS answer cache keyed by (name, type), with TTL expiry
 * (RFC 1035 §3.2.1, RFC 2181 §8) and negative caching of NXDOMAIN and
 * NODATA answers (RFC 2308 §5). Least recently used entries are evicted
 * when the cache is full.
 *
 * @module
 */

import { type DnsRecordType, normalizeDnsName } from "./name.ts";

/** Default maximum number of cached entries. */
export const DEFAULT_CACHE_ENTRIES = 256;
/** Default cap on a positive TTL: one day. */
export const DEFAULT_MAX_TTL_SEC = 86_400;
/** Default cap on a negative TTL: three hours (RFC 2308 §5: "one to three hours"). */
export const DEFAULT_MAX_NEGATIVE_TTL_SEC = 10_800;
const MS_PER_SEC = 1000;
/** Key suffix of a name-wide NXDOMAIN entry (RFC 2308 §5: NXDOMAIN holds for every type). */
const ANY_TYPE = "*";

/** What the cache knows about a (name, type). */
export interface DnsCacheEntry {
  /** The addresses (empty for a negative entry). */
  readonly addresses: readonly string[];
  /** null for a positive entry; otherwise why the answer is empty. */
  readonly negative: null | "NXDOMAIN" | "NODATA";
  /** When the entry stops being valid (ms, the caller's clock). */
  readonly expiresMs: number;
}

/** Options of {@link DnsCache}. */
export interface DnsCacheOptions {
  /** Maximum number of entries (≥ 1; default 256). 0 disables caching. */
  maxEntries?: number;
  /** Positive TTLs above this are clamped (seconds, default 86400). */
  maxTtlSec?: number;
  /** Negative TTLs above this are clamped (seconds, default 10800). */
  maxNegativeTtlSec?: number;
}

/**
 * The resolver's cache.
 *
 * @example
 * ```ts
 * import { DnsCache } from "./cache.ts";
 * const cache = new DnsCache();
 * cache.putPositive(0, "Host.Test", "A", ["192.0.2.1"], 60);
 * console.assert(cache.get(59_999, "host.test", "A")!.addresses[0] === "192.0.2.1");
 * console.assert(cache.get(60_000, "host.test", "A") === null); // expired
 * cache.putNegative(0, "gone.test", "A", "NXDOMAIN", 30);
 * console.assert(cache.get(1, "gone.test", "AAAA")!.negative === "NXDOMAIN");
 * ```
 */
export class DnsCache {
  /** Maximum number of entries. */
  readonly maxEntries: number;
  #maxTtlSec: number;
  #maxNegativeTtlSec: number;
  #entries = new Map<string, DnsCacheEntry>();

  /**
   * Creates an empty cache.
   *
   * @param opts bounds
   */
  constructor(opts: DnsCacheOptions = {}) {
    this.maxEntries = Math.max(0, Math.floor(opts.maxEntries ?? DEFAULT_CACHE_ENTRIES));
    this.#maxTtlSec = opts.maxTtlSec ?? DEFAULT_MAX_TTL_SEC;
    this.#maxNegativeTtlSec = opts.maxNegativeTtlSec ?? DEFAULT_MAX_NEGATIVE_TTL_SEC;
  }

  /** Number of entries (expired ones included until touched). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * A valid entry for (name, type), or a name-wide NXDOMAIN entry. Expired
   * entries are removed.
   *
   * @param nowMs current time (ms)
   * @param name the name (any case, trailing dot optional)
   * @param type the record type
   * @returns the entry, or null on a miss
   */
  get(nowMs: number, name: string, type: DnsRecordType): DnsCacheEntry | null {
    const key = normalizeDnsName(name);
    return this.#touch(nowMs, `${key} ${type}`) ?? this.#touch(nowMs, `${key} ${ANY_TYPE}`);
  }

  /**
   * Caches addresses for `ttlSec` seconds (clamped to the maximum; 0 = not cached).
   *
   * @param nowMs current time (ms)
   * @param name the name asked for
   * @param type the record type
   * @param addresses the addresses
   * @param ttlSec time to live (seconds)
   */
  putPositive(
    nowMs: number,
    name: string,
    type: DnsRecordType,
    addresses: readonly string[],
    ttlSec: number,
  ): void {
    const ttl = Math.min(ttlSec, this.#maxTtlSec);
    const key = normalizeDnsName(name);
    this.#entries.delete(`${key} ${ANY_TYPE}`); // the name exists after all
    this.#put(`${key} ${type}`, {
      addresses: addresses.slice(),
      negative: null,
      expiresMs: nowMs + ttl * MS_PER_SEC,
    }, ttl);
  }

  /**
   * Caches a negative answer (RFC 2308 §5) for `ttlSec` seconds, clamped.
   * NXDOMAIN applies to every type of the name; NODATA only to `type`.
   *
   * @param nowMs current time (ms)
   * @param name the name asked for
   * @param type the record type asked for
   * @param kind NXDOMAIN or NODATA
   * @param ttlSec time to live (seconds), from the SOA record of the answer
   */
  putNegative(
    nowMs: number,
    name: string,
    type: DnsRecordType,
    kind: "NXDOMAIN" | "NODATA",
    ttlSec: number,
  ): void {
    const ttl = Math.min(ttlSec, this.#maxNegativeTtlSec);
    const key = normalizeDnsName(name);
    const entry = { addresses: [], negative: kind, expiresMs: nowMs + ttl * MS_PER_SEC };
    this.#put(kind === "NXDOMAIN" ? `${key} ${ANY_TYPE}` : `${key} ${type}`, entry, ttl);
  }

  /** Drops every entry. */
  clear(): void {
    this.#entries.clear();
  }

  #touch(nowMs: number, key: string): DnsCacheEntry | null {
    const entry = this.#entries.get(key);
    if (entry === undefined) return null;
    this.#entries.delete(key);
    if (nowMs >= entry.expiresMs) return null;
    this.#entries.set(key, entry); // most recently used goes last
    return entry;
  }

  #put(key: string, entry: DnsCacheEntry, ttlSec: number): void {
    this.#entries.delete(key);
    if (!(ttlSec > 0) || this.maxEntries === 0) return;
    while (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    this.#entries.set(key, entry);
  }
}
