/**
 * The ARP cache (RFC 826) for one Ethernet interface: answers requests for
 * our address, learns neighbours with the RFC 826 merge rule, resolves on
 * demand with retries while a bounded queue of packets waits per neighbour,
 * expires entries, evicts when full and announces our address with a
 * gratuitous ARP (RFC 5227 §3).
 *
 * Hostile neighbours (issue 16) are expected:
 * - Packets waiting for resolution are bounded per neighbour in packets and
 *   in bytes (Linux `unres_qlen`, `unres_qlen_bytes`), dropping the oldest,
 *   and all of them together by {@link ArpCacheOptions.maxQueuedTotal} (the
 *   interface sets it to a share of its buffer pool), so spoofed senders that
 *   never answer ARP cannot take every transmit buffer.
 * - Entries are created only for a request addressed to us (RFC 826) and for
 *   our own resolutions; an unsolicited reply updates an existing entry and
 *   creates none (Linux `arp_accept = 0`). An entry's MAC does not change
 *   within {@link ArpCacheOptions.lockTimeMs} of its last confirmation
 *   (Linux `locktime`, 1 s; unlike Linux a gratuitous ARP does not override it).
 * - When the cache is full, an entry created by a request to us may only
 *   evict another such entry that we never used; our own resolutions evict,
 *   in this order, those, then incomplete entries, then entries idle for
 *   5 s (Linux `neigh_forced_gc`); a gateway ({@link ArpCacheHost.isProtected})
 *   is never evicted. Nothing evictable: the new entry is not made (counted).
 *
 * A synchronous state machine: time comes in as `nowMs`; the owner calls
 * {@link ArpCache.poll} at or after {@link ArpCache.nextDeadline}.
 *
 * @module
 */

import { formatIpv4, MacAddress } from "../wire/address.ts";
import {
  ARP_HLEN_ETHERNET,
  ARP_HTYPE_ETHERNET,
  ARP_PACKET_LEN,
  ARP_PLEN_IPV4,
  ARP_PTYPE_IPV4,
  ARP_REPLY,
  ARP_REQUEST,
  ArpPacket,
  ArpRepr,
  newArpRepr,
} from "../wire/arp.ts";
import { isGroupMac, MAC_BROADCAST } from "../wire/ethernet.ts";
import type { PacketBufferLike } from "./types.ts";
import { chooseVictim, EVICT_IDLE_MS, PendingQueue, PendingQueues } from "./pending_queue.ts";

/** Default lifetime of a learned entry (ms). */
export const DEFAULT_ARP_ENTRY_TTL_MS = 60_000;
/** Default interval between ARP requests for one neighbour (ms). */
export const DEFAULT_ARP_RETRY_INTERVAL_MS = 1_000;
/** Default number of requests before giving up. */
export const DEFAULT_ARP_MAX_REQUESTS = 3;
/** Default maximum number of entries (resolved and pending). */
export const DEFAULT_ARP_MAX_ENTRIES = 256;
/**
 * Default packets queued per unresolved neighbour. Large enough for one
 * 65,507-byte UDP datagram fragmented at MTU 1500 (45 fragments).
 */
export const DEFAULT_ARP_MAX_QUEUED = 64;
/**
 * Default bytes (IPv4 packet lengths) queued per unresolved neighbour: the
 * fragments of one 65,507-byte UDP datagram at MTU 1500 (66,415 bytes) with
 * room to spare. Linux's `unres_qlen_bytes` (212,992) counts each packet's
 * truesize, about 2.3 KB for a full frame, so it also holds about 90 frames.
 */
export const DEFAULT_ARP_MAX_QUEUED_BYTES = 96 * 1024;
/**
 * Default bound on packets waiting for resolution, all neighbours together
 * (a quarter of a default 1,024-slot pool; the interface derives it from its
 * own pool).
 */
export const DEFAULT_ARP_MAX_QUEUED_TOTAL = 256;
/** Default lock time (ms): a confirmed entry's MAC is not changed again sooner (Linux `locktime`). */
export const DEFAULT_ARP_LOCK_TIME_MS = 1_000;
/**
 * An entry used or confirmed within this time (ms) is not evicted for a new
 * one (Linux `neigh_forced_gc` keeps entries updated in the last 5 s).
 */
export const ARP_EVICT_IDLE_MS: number = EVICT_IDLE_MS;

/** Tunables of an {@link ArpCache}. */
export interface ArpCacheOptions {
  /** Lifetime of a resolved entry after it was last confirmed (ms); default 60 000. */
  entryTtlMs?: number;
  /** Interval between requests while resolving (ms); default 1 000. */
  retryIntervalMs?: number;
  /** Requests sent before resolution fails; default 3. */
  maxRequests?: number;
  /** Maximum entries; the least recently used is evicted; default 256. */
  maxEntries?: number;
  /** Packets queued per neighbour while resolving; default 64. */
  maxQueuedPerNeighbour?: number;
  /** Bytes (IPv4 packet lengths) queued per neighbour while resolving; default 98,304. */
  maxQueuedBytesPerNeighbour?: number;
  /**
   * Packets queued for all neighbours together; default 256 (a
   * `NetworkInterface` defaults it to a quarter of its buffer pool).
   */
  maxQueuedTotal?: number;
  /** Lock time (ms) after a confirmation during which another MAC is ignored; default 1 000, 0 = none. */
  lockTimeMs?: number;
}

/** What the cache needs from the interface it serves. */
export interface ArpCacheHost {
  /**
   * Transmit an ARP packet from our MAC/IP.
   *
   * @param op ARP_REQUEST or ARP_REPLY
   * @param ethDst Ethernet destination MAC
   * @param targetMac target hardware address field
   * @param targetIp target protocol address field
   * @param senderIp sender protocol address field (ours; 0 never used here)
   */
  transmitArp(
    op: number,
    ethDst: number,
    targetMac: number,
    targetIp: number,
    senderIp: number,
  ): void;
  /** A queued IPv4 packet can now go to `mac`: prepend Ethernet, transmit, free. */
  transmitResolved(buf: PacketBufferLike, mac: number): void;
  /** Resolution of `ip` failed; `buf` is a packet that was waiting (still owned by the cache; freed after the call). */
  resolutionFailed(nowMs: number, ip: number, buf: PacketBufferLike): void;
  /** Return a buffer to its pool. */
  free(buf: PacketBufferLike): void;
  /** Optional: `ip` is never evicted to make room (a gateway). Asked only when the cache is full. */
  isProtected?(ip: number): boolean;
}

/** State of a cache entry, for listings. */
export type ArpEntryState = "incomplete" | "reachable";

/** One entry as listed by {@link ArpCache.list}. */
export interface ArpEntryInfo {
  /** The neighbour's IPv4 address, dotted quad. */
  ip: string;
  /** Its MAC (`null` while incomplete). */
  mac: string | null;
  /** Resolution state. */
  state: ArpEntryState;
  /** Milliseconds since the entry was created or last confirmed. */
  ageMs: number;
  /** Packets waiting for the answer. */
  queued: number;
}

/** Counters of an {@link ArpCache}. */
export interface ArpStats {
  /** ARP packets received (any validity). */
  rxPackets: number;
  /** Dropped: shorter than 28 bytes. */
  rxTruncated: number;
  /** Dropped: not Ethernet/IPv4 (htype, ptype, hlen, plen). */
  rxUnsupported: number;
  /** Dropped: opcode neither request nor reply. */
  rxBadOpcode: number;
  /** Dropped: sender MAC is multicast/broadcast/zero or our own. */
  rxBadSender: number;
  /** Another host claims our IP address (RFC 5227 §2.4). */
  addressConflicts: number;
  /** Requests for our address answered. */
  repliesSent: number;
  /** Requests we sent to resolve neighbours (including retries). */
  requestsSent: number;
  /** Gratuitous announcements sent. */
  announcementsSent: number;
  /** Entries created or updated from received packets. */
  learned: number;
  /** Resolutions that failed after all retries. */
  resolutionFailures: number;
  /** Entries that expired. */
  expired: number;
  /** Entries evicted because the cache was full. */
  evicted: number;
  /** Queued packets dropped (the oldest first) because the neighbour's queue was full. */
  queueOverflows: number;
  /** Packets dropped because resolution failed or the entry was evicted. */
  queuedDropped: number;
  /** Queued packets dropped (the oldest first) because the neighbour's queued bytes were at their bound. */
  pendingDroppedBytes: number;
  /** Queued packets dropped because all neighbours' queues together were at `maxQueuedTotal`. */
  pendingDroppedGlobal: number;
  /** Gauge: packets waiting for resolution now (all neighbours). */
  pendingPackets: number;
  /** Gauge: bytes of the packets waiting for resolution now. */
  pendingBytes: number;
  /** Replies addressed to us from a sender not in the cache (we did not ask): no entry made. */
  unsolicitedIgnored: number;
  /** Packets for another target from a sender not in the cache: nothing learned (RFC 826). */
  rxOtherTarget: number;
  /** A different MAC for an entry confirmed within the lock time: ignored. */
  updatesLocked: number;
  /** Entries not created because nothing could be evicted (the packet, if any, dropped). */
  tableFull: number;
}

class Entry extends PendingQueue {
  mac = 0;
  resolved = false;
  /** Created or last confirmed by an ARP packet. */
  updatedMs = 0;
  lastUsedMs = 0;
  requests = 0;
  nextRetryMs = 0;
  /** Created by a request addressed to us and not used by us since (Linux: STALE, never used). */
  unsolicited = false;
  constructor(readonly ip: number) {
    super();
  }
}

function nonNegativeInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) {
    throw new TypeError(`ARP option "${name}" must be a non-negative integer, got ${value}`);
  }
  return value;
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`ARP option "${name}" must be a positive integer, got ${value}`);
  }
  return value;
}

/** True for a MAC that may appear as an ARP sender: unicast and not zero. */
function isUnicastMac(mac: number): boolean {
  return mac !== 0 && !isGroupMac(mac);
}

/**
 * The ARP cache. See the module documentation.
 *
 * @example
 * ```ts
 * import { ArpCache, type ArpCacheHost } from "./arp_cache.ts";
 * import { ARP_REQUEST } from "../wire/arp.ts";
 * const sent: number[] = [];
 * const host: ArpCacheHost = {
 *   transmitArp: (op, _d, _tm, targetIp) => { if (op === ARP_REQUEST) sent.push(targetIp); },
 *   transmitResolved: () => {}, resolutionFailed: () => {}, free: () => {},
 * };
 * const arp = new ArpCache(0xc0000202, 0x020000000002, host);
 * console.assert(arp.lookup(0, 0xc0000201) === -1);
 * arp.learn(0, 0xc0000201, 0x020000000001);
 * console.assert(arp.lookup(0, 0xc0000201) === 0x020000000001);
 * arp.poll(60_000);                       // default lifetime 60 s
 * console.assert(arp.lookup(60_000, 0xc0000201) === -1);
 * ```
 */
export class ArpCache {
  /** Counters. */
  readonly stats: ArpStats = {
    rxPackets: 0,
    rxTruncated: 0,
    rxUnsupported: 0,
    rxBadOpcode: 0,
    rxBadSender: 0,
    addressConflicts: 0,
    repliesSent: 0,
    requestsSent: 0,
    announcementsSent: 0,
    learned: 0,
    resolutionFailures: 0,
    expired: 0,
    evicted: 0,
    queueOverflows: 0,
    queuedDropped: 0,
    pendingDroppedBytes: 0,
    pendingDroppedGlobal: 0,
    pendingPackets: 0,
    pendingBytes: 0,
    unsolicitedIgnored: 0,
    rxOtherTarget: 0,
    updatesLocked: 0,
    tableFull: 0,
  };
  readonly #entries = new Map<number, Entry>();
  /** Reads received packets (made once, re-pointed per packet). */
  readonly #rxView = new ArpPacket(new Uint8Array(0));
  readonly #host: ArpCacheHost;
  readonly #ttlMs: number;
  readonly #retryMs: number;
  readonly #maxRequests: number;
  readonly #maxEntries: number;
  /** The bounded queues of packets waiting for resolution (shared with the IPv6 neighbour cache). */
  readonly #pending: PendingQueues;
  readonly #lockTimeMs: number;
  #ip: number;
  #mac: number;
  /** Earliest time anything may be due; may be early, never late. */
  #deadline = Infinity;

  /**
   * Creates an empty cache for one interface.
   *
   * @param ip our IPv4 address
   * @param mac our MAC address
   * @param host transmit/free callbacks of the owning interface
   * @param options tunables (see {@link ArpCacheOptions})
   * @throws {TypeError} on a non-positive option
   */
  constructor(ip: number, mac: number, host: ArpCacheHost, options: ArpCacheOptions = {}) {
    this.#ip = ip;
    this.#mac = mac;
    this.#host = host;
    this.#ttlMs = positiveInt(options.entryTtlMs, DEFAULT_ARP_ENTRY_TTL_MS, "entryTtlMs");
    this.#retryMs = positiveInt(
      options.retryIntervalMs,
      DEFAULT_ARP_RETRY_INTERVAL_MS,
      "retryIntervalMs",
    );
    this.#maxRequests = positiveInt(options.maxRequests, DEFAULT_ARP_MAX_REQUESTS, "maxRequests");
    this.#maxEntries = positiveInt(options.maxEntries, DEFAULT_ARP_MAX_ENTRIES, "maxEntries");
    this.#pending = new PendingQueues(this.stats, {
      perNeighbour: positiveInt(
        options.maxQueuedPerNeighbour,
        DEFAULT_ARP_MAX_QUEUED,
        "maxQueuedPerNeighbour",
      ),
      bytesPerNeighbour: positiveInt(
        options.maxQueuedBytesPerNeighbour,
        DEFAULT_ARP_MAX_QUEUED_BYTES,
        "maxQueuedBytesPerNeighbour",
      ),
      total: positiveInt(options.maxQueuedTotal, DEFAULT_ARP_MAX_QUEUED_TOTAL, "maxQueuedTotal"),
    }, (buf) => host.free(buf));
    this.#lockTimeMs = nonNegativeInt(options.lockTimeMs, DEFAULT_ARP_LOCK_TIME_MS, "lockTimeMs");
  }

  /** Number of entries (resolved and pending). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The MAC of `ip` if resolved and not expired; marks the entry used (LRU).
   *
   * @param nowMs current time
   * @param ip neighbour address
   * @returns the MAC, or -1 when unknown
   */
  lookup(nowMs: number, ip: number): number {
    const e = this.#entries.get(ip);
    if (e === undefined || !e.resolved || nowMs - e.updatedMs >= this.#ttlMs) return -1;
    e.lastUsedMs = nowMs;
    e.unsolicited = false;
    return e.mac;
  }

  /**
   * Sends `buf` (an IPv4 packet without Ethernet header) to neighbour `ip`:
   * at once when resolved, else queued while ARP requests go out. Queues are
   * bounded per neighbour in packets and bytes and all together (see
   * {@link ArpCacheOptions}); at a bound the oldest packet is dropped to make
   * room (RFC 1122 §2.3.2.2, counted). Takes ownership of `buf`.
   *
   * @param nowMs current time
   * @param ip next-hop address
   * @param buf the packet
   * @returns true: the packet was sent or queued; false: dropped because the
   *   cache is full of entries it may not evict (counted in `tableFull`)
   */
  send(nowMs: number, ip: number, buf: PacketBufferLike): boolean {
    let e = this.#entries.get(ip);
    if (e !== undefined && e.resolved) {
      if (nowMs - e.updatedMs < this.#ttlMs) {
        e.lastUsedMs = nowMs;
        e.unsolicited = false;
        this.#host.transmitResolved(buf, e.mac);
        return true;
      }
      // Expired but not yet polled away: resolve again.
      this.#entries.delete(ip);
      this.stats.expired++;
      e = undefined;
    }
    if (e === undefined) {
      e = this.#insert(nowMs, ip, false);
      if (e === undefined) {
        this.#host.free(buf);
        return false;
      }
      this.#request(nowMs, e);
    }
    e.lastUsedMs = nowMs;
    this.#enqueue(e, buf);
    return true;
  }

  /**
   * Starts resolving `ip` without a packet to send (nothing happens when it
   * is resolved or being resolved), so a later send finds it: the DHCP
   * client primes its server this way, whose DHCPRELEASE must leave at once
   * when the stack closes.
   *
   * @param nowMs current time
   * @param ip neighbour address
   */
  resolve(nowMs: number, ip: number): void {
    if (this.#ip === 0 || ip === 0 || this.#entries.has(ip)) return;
    const e = this.#insert(nowMs, ip, false);
    if (e !== undefined) this.#request(nowMs, e);
  }

  /**
   * Processes an ARP packet (the bytes after the Ethernet header).
   *
   * RFC 826 "Packet Reception": if the sender is in the table, update it
   * (merge); if we are the target, add it when not merged, and answer a
   * request. Never throws; defects are counted.
   *
   * @param nowMs current time
   * @param bytes buffer holding the packet
   * @param offset start of the ARP packet
   * @param length bytes available
   */
  input(nowMs: number, bytes: Uint8Array, offset: number, length: number): void {
    this.stats.rxPackets++;
    if (length < ARP_PACKET_LEN) {
      this.stats.rxTruncated++;
      return;
    }
    // Counted drops, no WireError: the view is only read after the length test above.
    const p = this.#rxView.reset(bytes, offset, length);
    // RFC 826: hardware type, protocol type and lengths must be ones we speak.
    if (
      p.hardwareType !== ARP_HTYPE_ETHERNET || p.protocolType !== ARP_PTYPE_IPV4 ||
      p.hardwareLength !== ARP_HLEN_ETHERNET || p.protocolLength !== ARP_PLEN_IPV4
    ) {
      this.stats.rxUnsupported++;
      return;
    }
    const op = p.operation;
    if (op !== ARP_REQUEST && op !== ARP_REPLY) {
      this.stats.rxBadOpcode++;
      return;
    }
    const sha = p.senderMac;
    const spa = p.senderIp;
    const tpa = p.targetIp;
    if (!isUnicastMac(sha) || sha === this.#mac) {
      this.stats.rxBadSender++;
      return;
    }
    if (this.#ip === 0) {
      // No address yet (a DHCP client before its lease): answer nothing, learn nothing.
      this.stats.rxOtherTarget++;
      return;
    }
    if (spa === this.#ip) {
      // RFC 5227 §2.4: someone else uses our address; do not learn it.
      this.stats.addressConflicts++;
      if (op === ARP_REQUEST && tpa === this.#ip) this.#reply(sha, spa);
      return;
    }
    // RFC 826: merge — update an existing entry for the sender.
    let merged = false;
    if (spa !== 0) {
      const e = this.#entries.get(spa);
      if (e !== undefined) {
        this.#update(nowMs, e, sha);
        merged = true;
      }
    }
    if (tpa !== this.#ip) {
      if (!merged) this.stats.rxOtherTarget++;
      return;
    }
    // RFC 826: "?Am I the target protocol address? Yes: if merge_flag is false, add" — for a
    // request only: a reply we did not ask for (no entry to merge) creates nothing (Linux
    // arp_accept = 0), so a flood of forged replies cannot fill the cache.
    // RFC 5227 §2.1.1: a probe has sender IP 0 — answer it, learn nothing.
    if (!merged && spa !== 0) {
      if (op === ARP_REQUEST) this.#learnUnsolicited(nowMs, spa, sha);
      else this.stats.unsolicitedIgnored++;
    }
    if (op === ARP_REQUEST) this.#reply(sha, spa);
  }

  /**
   * Records `ip` at `mac` (creating or confirming an entry, as a static
   * configuration would) and sends packets waiting for it. Not subject to
   * the lock time; evicts like a resolution of our own.
   *
   * @param nowMs current time
   * @param ip neighbour address
   * @param mac its MAC
   * @returns false when the cache is full of entries it may not evict (counted in `tableFull`)
   */
  learn(nowMs: number, ip: number, mac: number): boolean {
    let e = this.#entries.get(ip);
    if (e === undefined) {
      e = this.#insert(nowMs, ip, false);
      if (e === undefined) return false;
    }
    e.unsolicited = false;
    this.#confirm(nowMs, e, mac);
    return true;
  }

  /**
   * Sends a gratuitous ARP announcement for our address (RFC 5227 §3: an ARP
   * request with sender and target IP both ours, broadcast), so neighbours
   * update stale entries. Call when the interface starts.
   */
  announce(): void {
    if (this.#ip === 0) return; // nothing to announce before an address
    this.stats.announcementsSent++;
    this.#host.transmitArp(ARP_REQUEST, MAC_BROADCAST, 0, this.#ip, this.#ip);
  }

  /**
   * Runs due work: retries, failed resolutions, expiry.
   *
   * @param nowMs current time
   */
  poll(nowMs: number): void {
    if (nowMs < this.#deadline) return;
    let next = Infinity;
    for (const e of this.#entries.values()) {
      if (e.resolved) {
        const expiresMs = e.updatedMs + this.#ttlMs;
        if (nowMs >= expiresMs) {
          this.#entries.delete(e.ip);
          this.stats.expired++;
          continue;
        }
        if (expiresMs < next) next = expiresMs;
        continue;
      }
      if (nowMs >= e.nextRetryMs) {
        if (e.requests >= this.#maxRequests) {
          this.#entries.delete(e.ip);
          this.stats.resolutionFailures++;
          this.#fail(nowMs, e);
          continue;
        }
        this.#request(nowMs, e);
      }
      if (e.nextRetryMs < next) next = e.nextRetryMs;
    }
    this.#deadline = next;
  }

  /**
   * When the cache next needs {@link ArpCache.poll} (a retry or an expiry).
   *
   * @returns the earliest time {@link ArpCache.poll} has work, or Infinity
   */
  nextDeadline(): number {
    return this.#deadline;
  }

  /**
   * Lists the entries for a CLI (allocates).
   *
   * @param nowMs current time (for ages)
   * @returns one record per entry
   */
  list(nowMs: number): ArpEntryInfo[] {
    const out: ArpEntryInfo[] = [];
    for (const e of this.#entries.values()) {
      out.push({
        ip: formatIpv4(e.ip),
        mac: e.resolved ? new MacAddress(e.mac).toString() : null,
        state: e.resolved ? "reachable" : "incomplete",
        ageMs: nowMs - e.updatedMs,
        queued: e.queue.length,
      });
    }
    return out;
  }

  /**
   * Removes every entry, freeing queued packets without notifying anyone
   * (for interface shutdown).
   */
  clear(): void {
    for (const e of this.#entries.values()) {
      for (const buf of e.queue) this.#host.free(buf);
      this.stats.queuedDropped += e.queue.length;
      this.#takeQueue(e);
    }
    this.#entries.clear();
    this.#deadline = Infinity;
  }

  /**
   * Changes our own address (and forgets every entry).
   *
   * @param ip new IPv4 address
   * @param mac new MAC
   */
  setAddress(ip: number, mac: number): void {
    this.clear();
    this.#ip = ip;
    this.#mac = mac;
  }

  /**
   * A new entry for `ip`, evicting one when full (see the module
   * documentation); undefined when nothing may be evicted (counted).
   */
  #insert(nowMs: number, ip: number, unsolicited: boolean): Entry | undefined {
    if (this.#entries.size >= this.#maxEntries && !this.#evict(nowMs, unsolicited)) {
      this.stats.tableFull++;
      return undefined;
    }
    const e = new Entry(ip);
    e.updatedMs = nowMs;
    e.lastUsedMs = nowMs;
    e.unsolicited = unsolicited;
    this.#entries.set(ip, e);
    return e;
  }

  /** RFC 826: a request addressed to us from a sender not in the cache — add it. */
  #learnUnsolicited(nowMs: number, ip: number, mac: number): void {
    const e = this.#insert(nowMs, ip, true);
    if (e !== undefined) this.#confirm(nowMs, e, mac);
  }

  /**
   * Evicts one entry to make room. For an unsolicited entry only another
   * unsolicited one may go; for our own: unsolicited, then incomplete, then
   * idle for {@link ARP_EVICT_IDLE_MS} (Linux neigh_forced_gc), the oldest of
   * the first class found; never a protected one (a gateway). Full scan: runs
   * only when the cache is full.
   */
  #evict(nowMs: number, forUnsolicited: boolean): boolean {
    const host = this.#host;
    const victim = chooseVictim(
      nowMs,
      this.#entries.values(),
      forUnsolicited,
      (e) => e.resolved,
      (e) => host.isProtected?.(e.ip) === true,
    );
    if (victim === undefined) return false;
    this.#entries.delete(victim.ip);
    this.stats.evicted++;
    this.#fail(nowMs, victim);
    return true;
  }

  /**
   * RFC 826 merge of a known sender's MAC, unless the entry is resolved to
   * another MAC and was confirmed less than the lock time ago (Linux arp_process:
   * "If several different ARP replies follows back-to-back, use the FIRST one").
   */
  #update(nowMs: number, e: Entry, mac: number): void {
    if (e.resolved && mac !== e.mac && nowMs - e.updatedMs < this.#lockTimeMs) {
      this.stats.updatesLocked++;
      return;
    }
    this.#confirm(nowMs, e, mac);
  }

  /** Queues `buf` behind `e`'s resolution within the bounds (see {@link PendingQueues.enqueue}). */
  #enqueue(e: Entry, buf: PacketBufferLike): void {
    this.#pending.enqueue(e, buf, this.#entries.values());
  }

  /** Takes `e`'s queued packets out of the books; the caller sends or frees them. */
  #takeQueue(e: Entry): PacketBufferLike[] {
    return this.#pending.take(e);
  }

  #confirm(nowMs: number, e: Entry, mac: number): void {
    e.mac = mac;
    e.resolved = true;
    e.updatedMs = nowMs;
    e.requests = 0;
    this.stats.learned++;
    const expiresMs = nowMs + this.#ttlMs;
    if (expiresMs < this.#deadline) this.#deadline = expiresMs;
    if (e.queue.length > 0) {
      // Send what waited, in order, as soon as the answer arrives.
      const queue = this.#takeQueue(e);
      for (let i = 0; i < queue.length; i++) this.#host.transmitResolved(queue[i], mac);
    }
  }

  #request(nowMs: number, e: Entry): void {
    e.requests++;
    e.nextRetryMs = nowMs + this.#retryMs;
    if (e.nextRetryMs < this.#deadline) this.#deadline = e.nextRetryMs;
    this.stats.requestsSent++;
    // RFC 826: request broadcast, target hardware address unknown (zero).
    this.#host.transmitArp(ARP_REQUEST, MAC_BROADCAST, 0, e.ip, this.#ip);
  }

  #reply(targetMac: number, targetIp: number): void {
    this.stats.repliesSent++;
    // RFC 826: swap sender and target, put our addresses in the sender fields, unicast back.
    this.#host.transmitArp(ARP_REPLY, targetMac, targetMac, targetIp, this.#ip);
  }

  #fail(nowMs: number, e: Entry): void {
    if (e.queue.length === 0) return;
    const queue = this.#takeQueue(e);
    for (let i = 0; i < queue.length; i++) {
      const buf = queue[i];
      this.stats.queuedDropped++;
      try {
        this.#host.resolutionFailed(nowMs, e.ip, buf);
      } finally {
        this.#host.free(buf);
      }
    }
  }
}

/**
 * Writes a 28-byte Ethernet/IPv4 ARP packet (RFC 826).
 *
 * @param bytes destination buffer
 * @param offset where the ARP packet starts
 * @param op ARP_REQUEST or ARP_REPLY
 * @param senderMac sender hardware address
 * @param senderIp sender protocol address
 * @param targetMac target hardware address (0 in requests)
 * @param targetIp target protocol address
 * @returns bytes written (28)
 *
 * @example
 * ```ts
 * import { writeArpPacket } from "./arp_cache.ts";
 * const b = new Uint8Array(28);
 * console.assert(writeArpPacket(b, 0, 1, 0x020000000001, 0xc0000201, 0, 0xc0000202) === 28);
 * console.assert(b[7] === 1 && b[27] === 2);
 * ```
 */
export function writeArpPacket(
  bytes: Uint8Array,
  offset: number,
  op: number,
  senderMac: number,
  senderIp: number,
  targetMac: number,
  targetIp: number,
): number {
  const repr = txRepr;
  repr.operation = op;
  repr.senderMac = senderMac;
  repr.senderIp = senderIp;
  repr.targetMac = targetMac;
  repr.targetIp = targetIp;
  return ArpRepr.emit(repr, bytes, offset);
}

/** The repr {@link writeArpPacket} fills and emits (module-wide; emitting is synchronous). */
const txRepr = newArpRepr();
