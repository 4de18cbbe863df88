/**
 * IPv4 fragment reassembly (RFC 791 §3.2, RFC 815, hardened as RFC 5722
 * does for IPv6): fragments are collected per (source, destination,
 * protocol, identification) into one buffer per datagram; a datagram whose
 * fragments overlap is discarded whole (and later fragments of it too);
 * exact duplicates are ignored; a datagram not complete within 30 s is
 * dropped. Every structure is bounded: bytes per datagram (65,535), fragments
 * per datagram, concurrent datagrams and total bytes.
 *
 * A synchronous state machine driven by `nowMs`; the slow path, so it
 * allocates one growing `Uint8Array` per datagram (bounded by the total).
 * The ranges, bounds and eviction are the {@link FragmentTable} it shares
 * with IPv6 reassembly; the IPv4 header rules are here.
 *
 * @module
 */

import {
  IPV4_FRAGMENT_UNIT,
  IPV4_HEADER_LEN,
  IPV4_MAX_HEADER_LEN,
  IPV4_MAX_PACKET_LEN,
  Ipv4Packet,
} from "../wire/ipv4.ts";
import {
  FragmentEntry,
  type FragmentStats,
  FragmentTable,
  type FragmentTableBounds,
  positiveReassemblyOption,
} from "./fragment_table.ts";

/** RFC 1122 §3.3.2 leaves it to the implementation; Linux `ipfrag_time` is 30 s. */
export const DEFAULT_REASSEMBLY_TIMEOUT_MS = 30_000;
/** Default maximum datagrams being reassembled at once. */
export const DEFAULT_MAX_REASSEMBLIES = 16;
/** Default bound on the bytes held by all reassembly buffers together (4 MiB). */
export const DEFAULT_MAX_REASSEMBLY_BYTES = 4 * 1024 * 1024;
/** Default maximum fragments per datagram (65,535 bytes at MTU 576 need 120). */
export const DEFAULT_MAX_FRAGMENTS = 128;
/** Largest IPv4 datagram (RFC 791 §3.1: 16-bit total length). */
export const MAX_DATAGRAM_BYTES = IPV4_MAX_PACKET_LEN;
/** Data starts here in a reassembly buffer so any header (≤ 60 bytes) fits in front. */
const DATA_START = IPV4_MAX_HEADER_LEN;

/** Tunables of a {@link Reassembler}. */
export interface ReassemblyOptions {
  /** Time a datagram may take to complete (ms); default 30 000. */
  timeoutMs?: number;
  /** Concurrent datagrams; the oldest is evicted for a new one; default 16. */
  maxDatagrams?: number;
  /** Bytes held by all buffers; default 4 MiB. */
  maxTotalBytes?: number;
  /** Fragments accepted per datagram; default 128. */
  maxFragments?: number;
}

/**
 * Counters of a {@link Reassembler}: those of every reassembler
 * ({@link FragmentStats}; `tooLong`: the first fragment's header plus all
 * data would exceed 65,535 bytes), and `badLength`.
 */
export interface ReassemblyStats extends FragmentStats {
  /** Fragments dropped: not a multiple of 8 bytes while MF is set (RFC 791 §3.2), or empty. */
  badLength: number;
}

/** Called when a datagram times out after its first fragment arrived (RFC 1122 §3.3.2). */
export type ReassemblyTimeoutListener = (
  nowMs: number,
  bytes: Uint8Array,
  headerOffset: number,
  length: number,
) => void;

class Datagram extends FragmentEntry {
  /** Header length of the first fragment, 0 until it arrives. */
  headerLength = 0;
  /** Largest fragment received (header + data, bytes). */
  largest = 0;
  constructor(
    readonly src: number,
    readonly dst: number,
    readonly protocol: number,
    readonly id: number,
    createdMs: number,
  ) {
    super(createdMs);
  }
}

/**
 * Reassembles IPv4 fragments. See the module documentation.
 *
 * @example
 * ```ts
 * import { Reassembler } from "./reassembly.ts";
 * import { internetChecksum } from "../wire/checksum.ts";
 * function fragment(offset: number, more: boolean, data: number[]): Uint8Array {
 *   const b = new Uint8Array(20 + data.length);
 *   b.set([0x45, 0, 0, 20 + data.length, 0, 7, (more ? 0x20 : 0) | (offset >> 11), (offset >> 3) & 0xff,
 *     64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
 *   b.set(data, 20);
 *   const ck = internetChecksum(b, 0, 20); b[10] = ck >> 8; b[11] = ck & 0xff;
 *   return b;
 * }
 * const r = new Reassembler();
 * const second = fragment(8, false, [9, 10]);
 * console.assert(r.input(0, second, 0, 20, second.length) === null);
 * const first = fragment(0, true, [1, 2, 3, 4, 5, 6, 7, 8]);
 * const whole = r.input(1, first, 0, 20, first.length)!;
 * console.assert(whole !== null && r.length === 30 && whole[r.headerOffset + 29] === 10);
 * ```
 */
export class Reassembler {
  /** Counters. */
  readonly stats: ReassemblyStats = {
    fragments: 0,
    reassembled: 0,
    duplicates: 0,
    overlaps: 0,
    badLength: 0,
    tooLong: 0,
    inconsistent: 0,
    tooManyFragments: 0,
    timeouts: 0,
    evicted: 0,
    discardedLate: 0,
  };
  /** After {@link input} returned a buffer: where the rebuilt IPv4 header starts. */
  headerOffset = 0;
  /** After {@link input} returned a buffer: the datagram's total length (header + data). */
  length = 0;
  /**
   * After {@link input} returned a buffer: its largest fragment's total length
   * (Linux `frag_max_size`; a router that defragments cuts no larger fragments).
   */
  largestFragment = 0;
  /** Optional listener for timeouts of datagrams whose first fragment arrived. */
  onTimeout: ReassemblyTimeoutListener | null = null;

  /** The datagrams, their ranges and bounds. */
  readonly #table: FragmentTable<Datagram>;
  /** Reads fragment headers and rewrites the completed one (made once, re-pointed). */
  readonly #header = new Ipv4Packet(new Uint8Array(0));

  /**
   * Creates an empty reassembler.
   *
   * @param options bounds and timeout (see {@link ReassemblyOptions})
   * @throws {TypeError} on a non-positive option
   */
  constructor(options: ReassemblyOptions = {}) {
    this.#table = new FragmentTable(
      this.stats,
      reassemblyBounds(options, {
        timeoutMs: DEFAULT_REASSEMBLY_TIMEOUT_MS,
        dataStart: DATA_START,
        maxData: MAX_DATAGRAM_BYTES,
      }),
    );
  }

  /** Datagrams in progress (including discarded ones remembered until their timeout). */
  get pending(): number {
    return this.#table.entries.length;
  }

  /** Bytes held by reassembly buffers. */
  get totalBytes(): number {
    return this.#table.totalBytes;
  }

  /**
   * Adds one fragment whose IPv4 header (already validated: version, IHL,
   * total length, checksum) starts at `headerOffset`.
   *
   * @param nowMs current time
   * @param bytes buffer holding the fragment
   * @param headerOffset start of its IPv4 header
   * @param headerLength IHL × 4
   * @param totalLength the header's total length (header + fragment data)
   * @returns the completed datagram's buffer (header at {@link headerOffset},
   *   {@link length} bytes, total length, flags and checksum rewritten), or
   *   null while incomplete or when the fragment was dropped. The buffer is
   *   the caller's to keep; the reassembler forgets it.
   */
  input(
    nowMs: number,
    bytes: Uint8Array,
    headerOffset: number,
    headerLength: number,
    totalLength: number,
  ): Uint8Array | null {
    this.stats.fragments++;
    const header = this.#header.reset(bytes, headerOffset, totalLength);
    const src = header.source;
    const dst = header.destination;
    const protocol = header.protocol;
    const id = header.identification;
    const start = header.fragmentOffset;
    const dataLength = totalLength - headerLength;
    const end = start + dataLength;
    const more = header.moreFragments;

    let d = this.#find(src, dst, protocol, id);
    if (d !== undefined && d.dead) {
      this.stats.discardedLate++;
      return null;
    }
    // RFC 791 §3.2: all fragments but the last carry a multiple of 8 data bytes.
    if (dataLength <= 0 || (more && dataLength % IPV4_FRAGMENT_UNIT !== 0)) {
      this.stats.badLength++;
      return null;
    }
    const table = this.#table;
    d ??= table.admit(new Datagram(src, dst, protocol, id, nowMs));
    // RFC 791 §3.1/§3.2: the datagram is the first fragment's header plus all the data, and
    // its total length is 16 bits. Checked on every fragment, as Linux ip_frag_reasm does
    // ("Oversized IP packet") at the end: with the first fragment's header once it is known,
    // else with the smallest header it can have.
    const firstHeader = d.headerLength > 0
      ? d.headerLength
      : start === 0
      ? headerLength
      : IPV4_HEADER_LEN;
    const ranges = d.ranges;
    const highest = ranges.length > 0 ? Math.max(end, ranges[ranges.length - 1]) : end;
    if (firstHeader + highest > MAX_DATAGRAM_BYTES) {
      this.stats.tooLong++;
      table.kill(d);
      return null;
    }
    // RFC 5722 §4 (applied to IPv4, as Linux does): the shared range rules.
    if (!table.place(d, start, more, bytes, headerOffset + headerLength, dataLength)) return null;
    if (totalLength > d.largest) d.largest = totalLength;
    if (start === 0) {
      // RFC 791 §3.2: the first fragment's header becomes the datagram's header.
      d.headerLength = headerLength;
      d.buffer.set(bytes.subarray(headerOffset, headerOffset + headerLength), 0);
    }
    if (!table.isComplete(d) || d.headerLength === 0) return null;
    return this.#complete(d);
  }

  /**
   * Drops datagrams older than the timeout.
   *
   * @param nowMs current time
   */
  poll(nowMs: number): void {
    this.#table.expire(nowMs, (d) => {
      // RFC 1122 §3.3.2: report only when the first fragment is here.
      if (d.headerLength > 0 && this.onTimeout !== null) {
        const quoted = Math.min(d.headerLength + IPV4_FRAGMENT_UNIT, d.ranges[1] + d.headerLength);
        d.buffer.copyWithin(DATA_START - d.headerLength, 0, d.headerLength);
        this.onTimeout(nowMs, d.buffer, DATA_START - d.headerLength, quoted);
      }
    });
  }

  /**
   * When the reassembler next needs {@link Reassembler.poll} (a datagram timing out).
   *
   * @returns when {@link Reassembler.poll} next has work, or Infinity
   */
  nextDeadline(): number {
    return this.#table.nextDeadline();
  }

  /** Forgets everything. */
  clear(): void {
    this.#table.clear();
  }

  #find(src: number, dst: number, protocol: number, id: number): Datagram | undefined {
    for (const d of this.#table.entries) {
      if (d.id === id && d.src === src && d.dst === dst && d.protocol === protocol) return d;
    }
    return undefined;
  }

  #complete(d: Datagram): Uint8Array {
    const buffer = d.buffer;
    const hl = d.headerLength;
    const headerOffset = DATA_START - hl;
    buffer.copyWithin(headerOffset, 0, hl);
    const total = hl + d.totalData;
    const header = this.#header.reset(buffer, headerOffset, total);
    header.totalLength = total;
    // Clear MF and the offset; keep DF and the reserved bit as the first fragment had them.
    header.moreFragments = false;
    header.fragmentOffset = 0;
    header.fillChecksum();
    this.#table.finish(d);
    this.headerOffset = headerOffset;
    this.length = total;
    this.largestFragment = d.largest;
    return buffer;
  }
}

/**
 * The table bounds of a reassembler: its options over the shared defaults.
 *
 * @param options the reassembler's options
 * @param family the family's timeout default, data start and data maximum
 * @returns the bounds
 * @throws {TypeError} on a non-positive option
 */
export function reassemblyBounds(
  options: ReassemblyOptions,
  family: { timeoutMs: number; dataStart: number; maxData: number },
): FragmentTableBounds {
  return {
    timeoutMs: positiveReassemblyOption(options.timeoutMs, family.timeoutMs, "timeoutMs"),
    maxPackets: positiveReassemblyOption(
      options.maxDatagrams,
      DEFAULT_MAX_REASSEMBLIES,
      "maxDatagrams",
    ),
    maxTotalBytes: positiveReassemblyOption(
      options.maxTotalBytes,
      DEFAULT_MAX_REASSEMBLY_BYTES,
      "maxTotalBytes",
    ),
    maxFragments: positiveReassemblyOption(
      options.maxFragments,
      DEFAULT_MAX_FRAGMENTS,
      "maxFragments",
    ),
    dataStart: family.dataStart,
    maxData: family.maxData,
  };
}
