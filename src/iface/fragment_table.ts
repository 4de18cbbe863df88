/**
 * The bookkeeping IPv4 (`Reassembler`, src/iface/reassembly.ts) and IPv6
 * (`Ipv6Reassembler`, src/iface/ipv6_reassembly.ts) reassembly share: a
 * bounded list of packets in creation order, each with one growing buffer
 * and its received data as sorted `[start, end)` ranges (RFC 815's holes,
 * kept as what arrived). A fragment that overlaps another discards the
 * whole packet and, until its timeout, every later fragment of it (RFC 5722
 * §4, which Linux applies to IPv4 too); an exact duplicate is ignored
 * (Linux IPFRAG_DUP); the end is fixed by the last fragment and may not
 * move. Bounds: packets at once (the oldest is evicted for a new one),
 * fragments per packet, bytes per packet and bytes in total (the oldest
 * other packets are evicted to make room, else the new data is dropped).
 *
 * The family-specific parts — the key, the header rules, where the header
 * goes when the packet is rebuilt — stay with each reassembler.
 *
 * @module
 */

/** Shared placeholder for packets without a buffer. */
const EMPTY = new Uint8Array(0);
/** First allocation for a reassembly buffer; it doubles as data arrives. */
const INITIAL_BUFFER_BYTES = 4096;

/** The counters every reassembler keeps (its stats object has at least these). */
export interface FragmentStats {
  /** Fragments offered. */
  fragments: number;
  /** Packets completed and delivered. */
  reassembled: number;
  /** Exact duplicate fragments ignored. */
  duplicates: number;
  /** Packets dropped because fragments overlapped (RFC 5722 §4). */
  overlaps: number;
  /** Packets dropped: too long. */
  tooLong: number;
  /** Packets dropped: fragments disagree about the end. */
  inconsistent: number;
  /** Packets dropped: more fragments than allowed. */
  tooManyFragments: number;
  /** Packets dropped by the timeout. */
  timeouts: number;
  /** Packets evicted to respect the packet or byte bound. */
  evicted: number;
  /** Fragments of an already discarded packet dropped. */
  discardedLate: number;
}

/** The bounds of a {@link FragmentTable}. */
export interface FragmentTableBounds {
  /** Time a packet may take to complete (ms). */
  timeoutMs: number;
  /** Packets at once. */
  maxPackets: number;
  /** Bytes held by all buffers. */
  maxTotalBytes: number;
  /** Fragments per packet. */
  maxFragments: number;
  /** Where data offset 0 lies in a packet's buffer (room for the header in front). */
  dataStart: number;
  /** Most data bytes of one packet. */
  maxData: number;
}

/**
 * One packet being reassembled; a reassembler extends it with its key and
 * header state.
 */
export class FragmentEntry {
  /** The data from {@link FragmentTableBounds.dataStart} on, header room in front. */
  buffer: Uint8Array = EMPTY;
  /** Sorted flat [start0, end0, start1, end1, ...] data ranges received. */
  ranges: number[] = [];
  /** Data bytes received. */
  received = 0;
  /** Data length once the last fragment (MF/M = 0) arrived, else -1. */
  totalData = -1;
  /** Discarded: the key stays to drop later fragments (RFC 5722 §4), no buffer. */
  dead = false;

  /**
   * Creates an empty entry.
   *
   * @param createdMs when its first fragment arrived (the timeout runs from here)
   */
  constructor(readonly createdMs: number) {}

  /**
   * Lets go of the buffer (a subclass also drops what it keeps beside it).
   *
   * @returns the bytes freed
   */
  dropBuffer(): number {
    const n = this.buffer.length;
    this.buffer = EMPTY;
    return n;
  }
}

/**
 * Parses a positive integer option of a reassembler.
 *
 * @param value the option, or undefined
 * @param fallback the default
 * @param name its name, for the error
 * @returns the value
 * @throws {TypeError} when it is not a positive integer
 */
export function positiveReassemblyOption(
  value: number | undefined,
  fallback: number,
  name: string,
): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`reassembly option "${name}" must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * The packets being reassembled and their ranges. See the module documentation.
 *
 * @example
 * ```ts
 * import { FragmentEntry, FragmentTable } from "./fragment_table.ts";
 * const stats = { fragments: 0, reassembled: 0, duplicates: 0, overlaps: 0, tooLong: 0,
 *   inconsistent: 0, tooManyFragments: 0, timeouts: 0, evicted: 0, discardedLate: 0 };
 * const t = new FragmentTable<FragmentEntry>(stats, { timeoutMs: 1000, maxPackets: 4,
 *   maxTotalBytes: 1 << 20, maxFragments: 8, dataStart: 0, maxData: 65535 });
 * const d = t.admit(new FragmentEntry(0));
 * const data = new Uint8Array(16);
 * console.assert(t.place(d, 8, false, data, 8, 8) && !t.isComplete(d));
 * console.assert(t.place(d, 0, true, data, 0, 8) && t.isComplete(d));
 * ```
 */
export class FragmentTable<E extends FragmentEntry> {
  /** The counters (the reassembler's stats object). */
  readonly stats: FragmentStats;
  /** In creation order (oldest first); reassemblers search it by their key. */
  readonly entries: E[] = [];
  readonly #bounds: FragmentTableBounds;
  #totalBytes = 0;

  /**
   * Creates an empty table.
   *
   * @param stats where to count
   * @param bounds timeout and bounds
   */
  constructor(stats: FragmentStats, bounds: FragmentTableBounds) {
    this.stats = stats;
    this.#bounds = bounds;
  }

  /** Bytes held by reassembly buffers. */
  get totalBytes(): number {
    return this.#totalBytes;
  }

  /**
   * Adds a new packet, evicting the oldest one when the table is full.
   *
   * @param entry the new packet
   * @returns the entry
   */
  admit(entry: E): E {
    if (this.entries.length >= this.#bounds.maxPackets) {
      this.stats.evicted++;
      this.release(this.entries[0]);
    }
    this.entries.push(entry);
    return entry;
  }

  /**
   * Stores one fragment's data `[start, start + length)` of `d`: the end may
   * not move once the last fragment set it and nothing may pass it; an exact
   * duplicate is ignored; an overlap, too many fragments or no room kill the
   * packet. Counted in {@link stats}.
   *
   * @param d the packet
   * @param start the fragment's data offset
   * @param more more fragments follow (MF/M)
   * @param bytes buffer holding the fragment
   * @param dataAt where its data starts in `bytes`
   * @param length data bytes
   * @returns true when the data was stored
   */
  place(
    d: E,
    start: number,
    more: boolean,
    bytes: Uint8Array,
    dataAt: number,
    length: number,
  ): boolean {
    const stats = this.stats;
    const end = start + length;
    const ranges = d.ranges;
    if (
      (!more && d.totalData >= 0 && d.totalData !== end) ||
      (!more && ranges.length > 0 && ranges[ranges.length - 1] > end) ||
      (d.totalData >= 0 && end > d.totalData)
    ) {
      stats.inconsistent++;
      this.kill(d);
      return false;
    }
    let at = 0;
    while (at < ranges.length && ranges[at] < start) at += 2;
    // `at` is the first range starting at or after `start`.
    if (at < ranges.length && ranges[at] === start && ranges[at + 1] === end) {
      stats.duplicates++;
      return false;
    }
    if ((at >= 2 && ranges[at - 1] > start) || (at < ranges.length && ranges[at] < end)) {
      // RFC 5722 §4: overlapping fragments discard the whole packet.
      stats.overlaps++;
      this.kill(d);
      return false;
    }
    if (ranges.length / 2 >= this.#bounds.maxFragments) {
      stats.tooManyFragments++;
      this.kill(d);
      return false;
    }
    if (!this.#ensureCapacity(d, this.#bounds.dataStart + end)) {
      stats.evicted++;
      this.kill(d);
      return false;
    }
    ranges.splice(at, 0, start, end);
    d.received += length;
    d.buffer.set(bytes.subarray(dataAt, dataAt + length), this.#bounds.dataStart + start);
    if (!more) d.totalData = end;
    return true;
  }

  /**
   * Whether every data byte of `d` is here (its header may still be missing).
   *
   * @param d the packet
   * @returns true when the data is complete
   */
  isComplete(d: E): boolean {
    return d.totalData >= 0 && d.received === d.totalData;
  }

  /**
   * A completed packet leaves the table (its buffer is the caller's now).
   *
   * @param d the packet
   */
  finish(d: E): void {
    this.entries.splice(this.entries.indexOf(d), 1);
    this.#totalBytes -= d.dropBuffer();
    this.stats.reassembled++;
  }

  /**
   * Discards a packet but remembers its key until the timeout (RFC 5722 §4).
   *
   * @param d the packet
   */
  kill(d: E): void {
    this.#totalBytes -= d.dropBuffer();
    d.dead = true;
    d.ranges.length = 0;
  }

  /**
   * Forgets a packet.
   *
   * @param d the packet
   */
  release(d: E): void {
    this.#totalBytes -= d.dropBuffer();
    const i = this.entries.indexOf(d);
    if (i >= 0) this.entries.splice(i, 1);
  }

  /**
   * Drops the packets older than the timeout; `report` sees each one that
   * was not discarded before (counted as a timeout), buffer still attached.
   *
   * @param nowMs current time
   * @param report called for each live packet timing out
   */
  expire(nowMs: number, report: (d: E) => void): void {
    const list = this.entries;
    while (list.length > 0 && nowMs - list[0].createdMs >= this.#bounds.timeoutMs) {
      const d = list.shift()!;
      if (!d.dead) {
        this.stats.timeouts++;
        report(d);
      }
      this.#totalBytes -= d.dropBuffer();
    }
  }

  /**
   * When the oldest packet times out.
   *
   * @returns the time, or Infinity when the table is empty
   */
  nextDeadline(): number {
    return this.entries.length === 0
      ? Infinity
      : this.entries[0].createdMs + this.#bounds.timeoutMs;
  }

  /** Forgets everything. */
  clear(): void {
    for (const d of this.entries) this.#totalBytes -= d.dropBuffer();
    this.entries.length = 0;
  }

  /** Grows `d`'s buffer to `needed` bytes, evicting the oldest other packets for room. */
  #ensureCapacity(d: E, needed: number): boolean {
    if (d.buffer.length >= needed) return true;
    let size = Math.max(d.buffer.length, INITIAL_BUFFER_BYTES);
    while (size < needed) size *= 2;
    size = Math.min(size, this.#bounds.dataStart + this.#bounds.maxData);
    const growth = size - d.buffer.length;
    while (this.#totalBytes + growth > this.#bounds.maxTotalBytes) {
      const victim = this.entries.find((x) => x !== d && !x.dead && x.buffer.length > 0);
      if (victim === undefined) return false;
      this.stats.evicted++;
      this.kill(victim);
    }
    const buffer = new Uint8Array(size);
    buffer.set(d.buffer);
    this.#totalBytes += growth;
    d.buffer = buffer;
    return true;
  }
}
