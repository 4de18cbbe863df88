/**
 * IPv6 fragment reassembly (RFC 8200 §4.5), hardened: fragments are
 * collected per (source, destination, identification) into one buffer per
 * packet; a packet whose fragments overlap is discarded whole, and its later
 * fragments too (RFC 5722 §4); exact duplicates are ignored (Linux
 * IPFRAG_DUP); the first fragment must carry the whole header chain (RFC
 * 7112 §5 — the chain walker refuses it otherwise); a packet that would
 * exceed 65,535 payload bytes is dropped (§4.5); one not complete 60 s
 * after its first fragment arrived is dropped, with an ICMPv6 Time Exceeded
 * code 1 when the first fragment (offset 0) arrived (§4.5). Atomic
 * fragments never get here (RFC 6946 §4: the walker delivers them alone).
 *
 * Bounded like the IPv4 `Reassembler`, with the same {@link FragmentTable}
 * (ranges, duplicates, overlaps, eviction): bytes per packet, fragments per
 * packet, concurrent packets and total bytes; the slow path allocates one
 * growing `Uint8Array` per packet, bounded by the total.
 *
 * @module
 */

import { readI32 } from "../wire/view.ts";
import { ICMPV6_ERROR_MAX_QUOTE } from "../wire/icmpv6.ts";
import { reassemblyBounds, type ReassemblyOptions } from "./reassembly.ts";
import { FragmentEntry, type FragmentStats, FragmentTable } from "./fragment_table.ts";
import {
  IPV6_DST_OFFSET,
  IPV6_FRAGMENT_HEADER_LEN,
  IPV6_HEADER_LEN,
  IPV6_MAX_PAYLOAD_LEN,
  IPV6_PAYLOAD_LENGTH_OFFSET,
  IPV6_SRC_OFFSET,
} from "../wire/ipv6.ts";

/** RFC 8200 §4.5: "within 60 seconds of the reception of the first-arriving fragment". */
export const IPV6_REASSEMBLY_TIMEOUT_MS = 60_000;
/** The largest unfragmentable part kept in front of the data: 40 + extension headers. */
const MAX_UNFRAGMENTABLE = 1024;
const EMPTY = new Uint8Array(0);

/**
 * Counters of an {@link Ipv6Reassembler}: those of every reassembler
 * ({@link FragmentStats}); `tooLong` counts packets beyond 65,535 payload
 * bytes, `inconsistent` also an unfragmentable part beyond the room kept for
 * it, `timeouts` the 60 s timeout.
 */
export type Ipv6ReassemblyStats = FragmentStats;

/**
 * Called when a packet times out after its first fragment arrived: the first
 * fragment as received, and whether it came in a link-layer multicast or
 * broadcast frame (RFC 4443 §2.4 (e.4), (e.5)).
 */
export type Ipv6ReassemblyTimeoutListener = (
  nowMs: number,
  bytes: Uint8Array,
  offset: number,
  length: number,
  linkMulticast: boolean,
) => void;

class Packet extends FragmentEntry {
  /** Unfragmentable part length (40 + extension headers before the Fragment header), 0 until the first fragment. */
  unfragmentable = 0;
  /** The first fragment as received (≤ the ICMPv6 quote), for Time Exceeded. */
  first: Uint8Array = EMPTY;
  /** The first fragment came in a link-layer multicast or broadcast frame. */
  firstLinkMulticast = false;
  constructor(
    readonly s0: number,
    readonly s1: number,
    readonly s2: number,
    readonly s3: number,
    readonly d0: number,
    readonly d1: number,
    readonly d2: number,
    readonly d3: number,
    readonly id: number,
    createdMs: number,
  ) {
    super(createdMs);
  }

  /** The buffer and the kept first fragment go together. */
  override dropBuffer(): number {
    this.first = EMPTY;
    return super.dropBuffer();
  }
}

/**
 * Reassembles IPv6 fragments. See the module documentation.
 *
 * @example
 * ```ts
 * import { Ipv6Reassembler } from "./ipv6_reassembly.ts";
 * console.assert(new Ipv6Reassembler().pending === 0); // see tests/iface/ipv6_reassembly_test.ts
 * ```
 */
export class Ipv6Reassembler {
  /** Counters. */
  readonly stats: Ipv6ReassemblyStats = {
    fragments: 0,
    reassembled: 0,
    duplicates: 0,
    overlaps: 0,
    tooLong: 0,
    inconsistent: 0,
    tooManyFragments: 0,
    timeouts: 0,
    evicted: 0,
    discardedLate: 0,
  };
  /** After {@link input} returned a buffer: where the rebuilt IPv6 header starts. */
  headerOffset = 0;
  /** After {@link input} returned a buffer: the packet's length (40 + payload). */
  length = 0;
  /** After {@link input} returned a buffer: its first fragment came in a link-layer multicast frame. */
  linkMulticast = false;
  /** Listener for timeouts of packets whose first fragment arrived. */
  onTimeout: Ipv6ReassemblyTimeoutListener | null = null;

  /** The packets, their ranges and bounds. */
  readonly #table: FragmentTable<Packet>;

  /**
   * Creates an empty reassembler.
   *
   * @param options bounds and timeout (timeout default 60 s)
   * @throws {TypeError} on a non-positive option
   */
  constructor(options: ReassemblyOptions = {}) {
    this.#table = new FragmentTable(
      this.stats,
      reassemblyBounds(options, {
        timeoutMs: IPV6_REASSEMBLY_TIMEOUT_MS,
        dataStart: MAX_UNFRAGMENTABLE,
        maxData: IPV6_MAX_PAYLOAD_LEN,
      }),
    );
  }

  /** Packets in progress (including discarded ones remembered until their timeout). */
  get pending(): number {
    return this.#table.entries.length;
  }

  /** Bytes held by reassembly buffers. */
  get totalBytes(): number {
    return this.#table.totalBytes;
  }

  /**
   * Adds one fragment (the chain walker said "reassemble": its §4.5 length
   * checks passed and, for a first fragment, the chain is complete).
   *
   * @param nowMs current time
   * @param bytes buffer holding the packet
   * @param base start of its IPv6 header
   * @param fragmentHeaderPointer offset from `base` of the Fragment header
   * @param fragmentNextHeaderPointer offset from `base` of the Next Header field naming it
   * @param fragmentOffset the fragment's offset in bytes
   * @param more the M flag
   * @param id the identification
   * @param nextHeader the Fragment header's Next Header
   * @param linkMulticast the fragment came in a link-layer multicast or broadcast frame
   * @returns the reassembled packet's buffer (header at {@link headerOffset},
   *   {@link length} bytes, Fragment header removed, payload length and the
   *   Next Header before it rewritten), or null while incomplete or dropped.
   *   The buffer is the caller's; the reassembler forgets it.
   */
  input(
    nowMs: number,
    bytes: Uint8Array,
    base: number,
    fragmentHeaderPointer: number,
    fragmentNextHeaderPointer: number,
    fragmentOffset: number,
    more: boolean,
    id: number,
    nextHeader: number,
    linkMulticast = false,
  ): Uint8Array | null {
    this.stats.fragments++;
    const end = base + IPV6_HEADER_LEN + ((bytes[base + IPV6_PAYLOAD_LENGTH_OFFSET] << 8) |
      bytes[base + IPV6_PAYLOAD_LENGTH_OFFSET + 1]);
    const dataAt = base + fragmentHeaderPointer + IPV6_FRAGMENT_HEADER_LEN;
    const dataLength = end - dataAt;
    const start = fragmentOffset;
    const stop = start + dataLength;
    let d = this.#find(bytes, base, id);
    if (d !== undefined && d.dead) {
      this.stats.discardedLate++;
      return null;
    }
    const table = this.#table;
    d ??= this.#create(nowMs, bytes, base, id);
    if (fragmentHeaderPointer - IPV6_HEADER_LEN + stop > IPV6_MAX_PAYLOAD_LEN) {
      this.stats.tooLong++;
      table.kill(d);
      return null;
    }
    if (fragmentHeaderPointer > MAX_UNFRAGMENTABLE) {
      this.stats.inconsistent++;
      table.kill(d);
      return null;
    }
    // RFC 5722 §4 / RFC 8200 §4.5: the shared range rules (overlaps discard the packet).
    if (!table.place(d, start, more, bytes, dataAt, dataLength)) return null;
    if (start === 0) {
      // RFC 8200 §4.5: the unfragmentable part comes from the offset-0 fragment, with the
      // Next Header before the Fragment header set to the Fragment header's Next Header.
      const unfrag = fragmentHeaderPointer;
      d.unfragmentable = unfrag;
      d.buffer.set(bytes.subarray(base, base + unfrag), MAX_UNFRAGMENTABLE - unfrag);
      d.buffer[MAX_UNFRAGMENTABLE - unfrag + fragmentNextHeaderPointer] = nextHeader;
      d.first = bytes.slice(base, base + Math.min(end - base, ICMPV6_ERROR_MAX_QUOTE));
      d.firstLinkMulticast = linkMulticast;
    }
    if (!table.isComplete(d) || d.unfragmentable === 0) return null;
    return this.#complete(d);
  }

  /**
   * Drops packets older than the timeout.
   *
   * @param nowMs current time
   */
  poll(nowMs: number): void {
    this.#table.expire(nowMs, (d) => {
      // RFC 8200 §4.5: Time Exceeded code 1 only when the first fragment arrived.
      if (d.first.length > 0 && this.onTimeout !== null) {
        this.onTimeout(nowMs, d.first, 0, d.first.length, d.firstLinkMulticast);
      }
    });
  }

  /**
   * When {@link poll} next has work.
   *
   * @returns a packet's timeout, or Infinity
   */
  nextDeadline(): number {
    return this.#table.nextDeadline();
  }

  /** Forgets everything. */
  clear(): void {
    this.#table.clear();
  }

  #find(bytes: Uint8Array, base: number, id: number): Packet | undefined {
    const s = base + IPV6_SRC_OFFSET;
    const t = base + IPV6_DST_OFFSET;
    for (const d of this.#table.entries) {
      if (
        d.id === id && d.s3 === readI32(bytes, s + 12) && d.d3 === readI32(bytes, t + 12) &&
        d.s0 === readI32(bytes, s) && d.s1 === readI32(bytes, s + 4) &&
        d.s2 === readI32(bytes, s + 8) && d.d0 === readI32(bytes, t) &&
        d.d1 === readI32(bytes, t + 4) && d.d2 === readI32(bytes, t + 8)
      ) return d;
    }
    return undefined;
  }

  #create(nowMs: number, bytes: Uint8Array, base: number, id: number): Packet {
    const s = base + IPV6_SRC_OFFSET;
    const t = base + IPV6_DST_OFFSET;
    const d = new Packet(
      readI32(bytes, s),
      readI32(bytes, s + 4),
      readI32(bytes, s + 8),
      readI32(bytes, s + 12),
      readI32(bytes, t),
      readI32(bytes, t + 4),
      readI32(bytes, t + 8),
      readI32(bytes, t + 12),
      id,
      nowMs,
    );
    return this.#table.admit(d);
  }

  #complete(d: Packet): Uint8Array {
    const buffer = d.buffer;
    const headerOffset = MAX_UNFRAGMENTABLE - d.unfragmentable;
    const payload = d.unfragmentable - IPV6_HEADER_LEN + d.totalData;
    buffer[headerOffset + IPV6_PAYLOAD_LENGTH_OFFSET] = payload >>> 8;
    buffer[headerOffset + IPV6_PAYLOAD_LENGTH_OFFSET + 1] = payload & 0xff;
    this.#table.finish(d);
    this.headerOffset = headerOffset;
    this.length = IPV6_HEADER_LEN + payload;
    this.linkMulticast = d.firstLinkMulticast;
    return buffer;
  }
}
