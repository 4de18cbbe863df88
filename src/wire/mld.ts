/**
 * Multicast Listener Discovery version 2 (RFC 3810): the report a host
 * sends for the groups it joins (§5.2) — {@link MldReportRepr} with its
 * multicast address records, read in place by {@link MldRecordReader} —
 * and the query it answers (§5.1, MLDv1 queries of RFC 2710 §3 included),
 * {@link MldQueryRepr}.
 *
 * ```
 *  report | 143 | 0 | checksum | reserved | Nr of records |
 *  record | type | aux len | Nr of sources | multicast address (16) |
 *         | sources (16 each) | auxiliary data (aux len × 4)          |
 *  query  | 130 | 0 | checksum | max resp code | reserved |
 *         | multicast address (16) | Resv S QRV | QQIC | Nr of sources | sources |
 * ```
 *
 * A report travels from a link-local source (or the unspecified address
 * during DAD, RFC 3810 §5.2.13) to ff02::16 with hop limit 1 behind a
 * Hop-by-Hop Router Alert (`emitHopByHopRouterAlert` in ipv6.ts).
 *
 * @module
 */

import { ipv6PseudoHeaderSum, type Ipv6Words } from "./checksum.ts";
import { WireError } from "./error.ts";
import {
  checkIcmpv6Checksum,
  ICMPV6_MLD_QUERY,
  ICMPV6_MLDV2_REPORT,
  type Icmpv6Packet,
} from "./icmpv6.ts";
import { IP_PROTO_ICMPV6 } from "./ipv6.ts";
import { IPV6_ADDRESS_LEN, Ipv6Address } from "./ipv6_address.ts";
import { type ChecksumParseOptions, read16, storeChecksum, write16 } from "./view.ts";

/** Record type: current state, INCLUDE mode (RFC 3810 §5.2.12). */
export const MLD_MODE_IS_INCLUDE = 1;
/** Record type: current state, EXCLUDE mode. */
export const MLD_MODE_IS_EXCLUDE = 2;
/** Record type: filter mode change to INCLUDE (with no sources: leave). */
export const MLD_CHANGE_TO_INCLUDE = 3;
/** Record type: filter mode change to EXCLUDE (with no sources: join). */
export const MLD_CHANGE_TO_EXCLUDE = 4;
/** Record type: allow new sources. */
export const MLD_ALLOW_NEW_SOURCES = 5;
/** Record type: block old sources. */
export const MLD_BLOCK_OLD_SOURCES = 6;
/** Hop limit of every MLD message (RFC 3810 §5). */
export const MLD_HOP_LIMIT = 1;
/** Length of an MLDv1 query (RFC 2710 §3). */
export const MLDV1_QUERY_LEN = 24;
/** Length of an MLDv2 query without sources (RFC 3810 §5.1). */
export const MLDV2_QUERY_LEN = 28;

const PROTOCOL = "mld";
const REPORT_HEADER_LEN = 8;
const RECORD_HEADER_LEN = 20;
const AUX_UNIT = 4;
const OFFSET_RECORD_COUNT = 6;
const OFFSET_MAX_RESPONSE = 4;
const OFFSET_GROUP = 8;
const OFFSET_FLAGS = 24;
const OFFSET_QQIC = 25;
const OFFSET_SOURCE_COUNT = 26;
const S_FLAG = 0x08;
const QRV_MASK = 0x07;
/** Max Resp Code ≥ 32768 is a floating-point value (RFC 3810 §5.1.3). */
const MAX_RESP_FLOAT = 0x8000;
/** QQIC ≥ 128 is a floating-point value (RFC 3810 §5.1.9). */
const QQIC_FLOAT = 0x80;

/** One multicast address record (RFC 3810 §5.2.4). */
export interface MldRecord {
  /** MLD_* record type. */
  type: number;
  /** The multicast address. */
  group: Ipv6Address;
  /** Source addresses (empty for a plain join or leave). */
  sources: Ipv6Address[];
}

/** An MLDv2 report (RFC 3810 §5.2). */
export interface MldReportRepr {
  /** The records, in order. */
  records: MldRecord[];
}

/**
 * Walks the records of a checked MLDv2 report in place, allocating nothing.
 *
 * @example
 * ```ts
 * import { MLD_CHANGE_TO_EXCLUDE, MldRecordReader, MldReportRepr } from "./mld.ts";
 * import { Icmpv6Packet } from "./icmpv6.ts";
 * import { Ipv6Address } from "./ipv6_address.ts";
 * const group = Ipv6Address.parse("ff02::1:ff00:2");
 * const report = { records: [{ type: MLD_CHANGE_TO_EXCLUDE, group, sources: [] }] };
 * const b = new Uint8Array(MldReportRepr.bufferLength(report));
 * MldReportRepr.emit(report, b, 0, Ipv6Address.UNSPECIFIED, Ipv6Address.ALL_MLDV2_ROUTERS);
 * const r = new MldRecordReader().reset(new Icmpv6Packet(b));
 * console.assert(r.next() && r.type === MLD_CHANGE_TO_EXCLUDE && group.equalsAt(b, r.groupOffset));
 * console.assert(!r.next() && r.error === null);
 * ```
 */
export class MldRecordReader {
  /** The buffer. */
  bytes: Uint8Array = new Uint8Array(0);
  /** Where the current record starts (absolute). */
  offset = 0;
  /** Why iteration stopped early, or null. */
  error: WireError | null = null;
  #next = 0;
  #end = 0;
  #left = 0;

  /**
   * Points the reader at a report's records.
   *
   * @param packet the report (checked here: at least 8 bytes inside its buffer)
   * @returns this reader
   */
  reset(packet: Icmpv6Packet): this {
    this.bytes = packet.bytes;
    this.#next = packet.offset + REPORT_HEADER_LEN;
    this.#end = packet.offset + packet.length;
    const err = packet.check();
    this.#left = err === null ? read16(packet.bytes, packet.offset + OFFSET_RECORD_COUNT) : 0;
    this.error = err;
    return this;
  }

  /**
   * Moves to the next record, checking that it fits.
   *
   * @returns true when positioned on a record
   */
  next(): boolean {
    if (this.error !== null || this.#left === 0) return false;
    const at = this.#next;
    if (at + RECORD_HEADER_LEN > this.#end) {
      this.error = new WireError(PROTOCOL, "truncated", `record ${at} overruns the report`);
      return false;
    }
    const length = RECORD_HEADER_LEN + read16(this.bytes, at + 2) * IPV6_ADDRESS_LEN +
      this.bytes[at + 1] * AUX_UNIT;
    if (at + length > this.#end) {
      this.error = new WireError(
        PROTOCOL,
        "truncated",
        `record of ${length} bytes overruns the report by ${at + length - this.#end}`,
      );
      return false;
    }
    this.offset = at;
    this.#next = at + length;
    this.#left--;
    return true;
  }

  /** The record type. */
  get type(): number {
    return this.bytes[this.offset];
  }

  /** Number of sources. */
  get sourceCount(): number {
    return read16(this.bytes, this.offset + 2);
  }

  /** Where the multicast address starts (absolute). */
  get groupOffset(): number {
    return this.offset + 4;
  }

  /**
   * Where source `index` starts (absolute).
   *
   * @param index 0 .. sourceCount − 1
   * @returns the offset of its 16 bytes
   */
  sourceOffset(index: number): number {
    return this.offset + RECORD_HEADER_LEN + index * IPV6_ADDRESS_LEN;
  }

  /** True after the last record when the report held no bytes beyond its records. */
  get exhausted(): boolean {
    return this.#left === 0;
  }
}

/** Options of the MLD parsers: `verifyChecksum` (default true). */
export type MldParseOptions = ChecksumParseOptions;

/** The shape of {@link MldReportRepr}: parse and emit MLDv2 reports (RFC 3810 §5.2). */
export interface MldReportCodec {
  /**
   * Checks a report (type 143, length, checksum, every record inside) and
   * reads its records (allocates; use {@link MldRecordReader} on a hot path).
   *
   * @param packet the ICMPv6 view
   * @param src IPv6 source address
   * @param dst IPv6 destination address
   * @param opts `verifyChecksum: false` to skip the checksum
   * @returns the report, or the defect
   */
  parse(
    packet: Icmpv6Packet,
    src: Ipv6Words,
    dst: Ipv6Words,
    opts?: MldParseOptions,
  ): MldReportRepr | WireError;

  /**
   * The report length `emit` writes.
   *
   * @param repr the report
   * @returns bytes
   */
  bufferLength(repr: MldReportRepr): number;

  /**
   * Writes the report (no auxiliary data) and its checksum.
   *
   * @param repr the report
   * @param bytes the buffer
   * @param offset where the report starts
   * @param src IPv6 source address (pseudo-header)
   * @param dst IPv6 destination address (pseudo-header; ff02::16)
   * @returns bytes written
   */
  emit(
    repr: MldReportRepr,
    bytes: Uint8Array,
    offset: number,
    src: Ipv6Words,
    dst: Ipv6Words,
  ): number;
}

const recordReader = new MldRecordReader();

/**
 * Parse and emit MLDv2 reports.
 *
 * @example
 * ```ts
 * import { MLD_CHANGE_TO_EXCLUDE, MldReportRepr } from "./mld.ts";
 * import { Icmpv6Packet } from "./icmpv6.ts";
 * import { isWireError } from "./error.ts";
 * import { Ipv6Address } from "./ipv6_address.ts";
 * const me = Ipv6Address.parse("fe80::2");
 * const report = { records: [{ type: MLD_CHANGE_TO_EXCLUDE, group: me.solicitedNode(), sources: [] }] };
 * const bytes = new Uint8Array(MldReportRepr.bufferLength(report));
 * MldReportRepr.emit(report, bytes, 0, me, Ipv6Address.ALL_MLDV2_ROUTERS);
 * const back = MldReportRepr.parse(new Icmpv6Packet(bytes), me, Ipv6Address.ALL_MLDV2_ROUTERS);
 * if (isWireError(back)) throw new Error(String(back));
 * console.assert(back.records[0].group.toString() === "ff02::1:ff00:2");
 * ```
 */
export const MldReportRepr: MldReportCodec = {
  parse(
    packet: Icmpv6Packet,
    src: Ipv6Words,
    dst: Ipv6Words,
    opts?: MldParseOptions,
  ): MldReportRepr | WireError {
    const err = packet.check();
    if (err !== null) return err;
    if (packet.type !== ICMPV6_MLDV2_REPORT) {
      return new WireError(PROTOCOL, "unsupported", `ICMPv6 type ${packet.type} is not a report`);
    }
    if (opts?.verifyChecksum !== false) {
      const bad = checkIcmpv6Checksum(packet, src, dst, PROTOCOL);
      if (bad !== null) return bad;
    }
    const records: MldRecord[] = [];
    const r = recordReader.reset(packet);
    while (r.next()) {
      const sources: Ipv6Address[] = [];
      for (let k = 0; k < r.sourceCount; k++) {
        sources.push(Ipv6Address.fromBytes(r.bytes, r.sourceOffset(k)));
      }
      records.push({
        type: r.type,
        group: Ipv6Address.fromBytes(r.bytes, r.groupOffset),
        sources,
      });
    }
    return r.error ?? { records };
  },

  bufferLength(repr: MldReportRepr): number {
    let n = REPORT_HEADER_LEN;
    for (const rec of repr.records) n += RECORD_HEADER_LEN + rec.sources.length * IPV6_ADDRESS_LEN;
    return n;
  },

  emit(
    repr: MldReportRepr,
    bytes: Uint8Array,
    offset: number,
    src: Ipv6Words,
    dst: Ipv6Words,
  ): number {
    bytes[offset] = ICMPV6_MLDV2_REPORT;
    bytes[offset + 1] = 0;
    write16(bytes, offset + 4, 0);
    write16(bytes, offset + OFFSET_RECORD_COUNT, repr.records.length);
    let at = offset + REPORT_HEADER_LEN;
    for (const rec of repr.records) {
      bytes[at] = rec.type;
      bytes[at + 1] = 0; // Aux Data Len: none (RFC 3810 §5.2.6)
      write16(bytes, at + 2, rec.sources.length);
      rec.group.writeTo(bytes, at + 4);
      at += RECORD_HEADER_LEN;
      for (const s of rec.sources) {
        s.writeTo(bytes, at);
        at += IPV6_ADDRESS_LEN;
      }
    }
    const total = at - offset;
    storeChecksum(
      bytes,
      offset,
      total,
      offset + 2,
      ipv6PseudoHeaderSum(src, dst, IP_PROTO_ICMPV6, total),
    );
    return total;
  },
};

/** A multicast listener query (RFC 3810 §5.1; an MLDv1 query, RFC 2710 §3, has `version` 1). */
export interface MldQueryRepr {
  /** 1 for a 24-byte MLDv1 query, 2 for an MLDv2 query (RFC 3810 §8.1). */
  version: number;
  /** Maximum response delay in milliseconds, decoded from Max Resp Code (§5.1.3). */
  maxResponseDelayMs: number;
  /** The group queried; unspecified for a general query (§5.1.5). */
  group: Ipv6Address;
  /** S: suppress router-side processing (§5.1.7). */
  suppress: boolean;
  /** QRV: querier's robustness variable (§5.1.8). */
  robustness: number;
  /** Querier's query interval in seconds, decoded from QQIC (§5.1.9). */
  queryIntervalS: number;
  /** Sources of a group-and-source-specific query. */
  sources: Ipv6Address[];
}

/**
 * Decodes an MLDv2 Max Resp Code into milliseconds (RFC 3810 §5.1.3).
 *
 * @param code the 16-bit field
 * @returns the maximum response delay in milliseconds
 *
 * @example
 * ```ts
 * import { mldMaxResponseDelayMs } from "./mld.ts";
 * console.assert(mldMaxResponseDelayMs(10000) === 10000);
 * console.assert(mldMaxResponseDelayMs(0x8000) === 0x1000 << 3);
 * ```
 */
export function mldMaxResponseDelayMs(code: number): number {
  if (code < MAX_RESP_FLOAT) return code;
  const exp = (code >>> 12) & 0x7;
  const mant = code & 0x0fff;
  return (mant | 0x1000) * 2 ** (exp + 3);
}

/**
 * Decodes a QQIC field into seconds (RFC 3810 §5.1.9).
 *
 * @param code the 8-bit field
 * @returns the querier's query interval in seconds
 *
 * @example
 * ```ts
 * import { mldQueryIntervalS } from "./mld.ts";
 * console.assert(mldQueryIntervalS(125) === 125 && mldQueryIntervalS(0x80) === 0x10 << 3);
 * ```
 */
export function mldQueryIntervalS(code: number): number {
  if (code < QQIC_FLOAT) return code;
  const exp = (code >>> 4) & 0x7;
  const mant = code & 0x0f;
  return (mant | 0x10) << (exp + 3);
}

/** The shape of {@link MldQueryRepr}: parse and emit multicast listener queries. */
export interface MldQueryCodec {
  /**
   * Checks a query (type 130; 24 bytes is MLDv1, ≥ 28 MLDv2 with its
   * sources inside; other lengths are invalid, RFC 3810 §8.1) and reads it.
   *
   * @param packet the ICMPv6 view
   * @param src IPv6 source address
   * @param dst IPv6 destination address
   * @param opts `verifyChecksum: false` to skip the checksum
   * @returns the query, or the defect
   */
  parse(
    packet: Icmpv6Packet,
    src: Ipv6Words,
    dst: Ipv6Words,
    opts?: MldParseOptions,
  ): MldQueryRepr | WireError;

  /**
   * Writes an MLDv2 query (Max Resp Code and QQIC from the raw delay and
   * interval, which must be below 32768 ms and 128 s) and its checksum.
   *
   * @param repr the query (`version` 1 writes the 24-byte MLDv1 form)
   * @param bytes the buffer
   * @param offset where it starts
   * @param src IPv6 source address (pseudo-header)
   * @param dst IPv6 destination address (pseudo-header)
   * @returns bytes written
   */
  emit(
    repr: MldQueryRepr,
    bytes: Uint8Array,
    offset: number,
    src: Ipv6Words,
    dst: Ipv6Words,
  ): number;
}

/**
 * Parse and emit multicast listener queries.
 *
 * @example
 * ```ts
 * import { MldQueryRepr } from "./mld.ts";
 * import { Icmpv6Packet } from "./icmpv6.ts";
 * import { isWireError } from "./error.ts";
 * import { Ipv6Address } from "./ipv6_address.ts";
 * const router = Ipv6Address.parse("fe80::1");
 * const q = { version: 2, maxResponseDelayMs: 10000, group: Ipv6Address.UNSPECIFIED, suppress: false,
 *   robustness: 2, queryIntervalS: 125, sources: [] };
 * const b = new Uint8Array(28);
 * MldQueryRepr.emit(q, b, 0, router, Ipv6Address.ALL_NODES);
 * const back = MldQueryRepr.parse(new Icmpv6Packet(b), router, Ipv6Address.ALL_NODES);
 * if (isWireError(back)) throw new Error(String(back));
 * console.assert(back.version === 2 && back.maxResponseDelayMs === 10000 && back.robustness === 2);
 * ```
 */
export const MldQueryRepr: MldQueryCodec = {
  parse(
    packet: Icmpv6Packet,
    src: Ipv6Words,
    dst: Ipv6Words,
    opts?: MldParseOptions,
  ): MldQueryRepr | WireError {
    const err = packet.check();
    if (err !== null) return err;
    if (packet.type !== ICMPV6_MLD_QUERY) {
      return new WireError(PROTOCOL, "unsupported", `ICMPv6 type ${packet.type} is not a query`);
    }
    const n = packet.length;
    if (n !== MLDV1_QUERY_LEN && n < MLDV2_QUERY_LEN) {
      return new WireError(PROTOCOL, "bad-length", `query of ${n} bytes: neither 24 nor ≥ 28`);
    }
    if (opts?.verifyChecksum !== false) {
      const bad = checkIcmpv6Checksum(packet, src, dst, PROTOCOL);
      if (bad !== null) return bad;
    }
    const bytes = packet.bytes;
    const base = packet.offset;
    const code = read16(bytes, base + OFFSET_MAX_RESPONSE);
    const group = Ipv6Address.fromBytes(bytes, base + OFFSET_GROUP);
    if (n === MLDV1_QUERY_LEN) {
      // RFC 2710 §3.4: Maximum Response Delay in milliseconds, no flags or sources.
      return {
        version: 1,
        maxResponseDelayMs: code,
        group,
        suppress: false,
        robustness: 0,
        queryIntervalS: 0,
        sources: [],
      };
    }
    const count = read16(bytes, base + OFFSET_SOURCE_COUNT);
    if (MLDV2_QUERY_LEN + count * IPV6_ADDRESS_LEN > n) {
      return new WireError(
        PROTOCOL,
        "truncated",
        `${count} sources do not fit a ${n}-byte query`,
      );
    }
    const sources: Ipv6Address[] = [];
    for (let k = 0; k < count; k++) {
      sources.push(Ipv6Address.fromBytes(bytes, base + MLDV2_QUERY_LEN + k * IPV6_ADDRESS_LEN));
    }
    return {
      version: 2,
      maxResponseDelayMs: mldMaxResponseDelayMs(code),
      group,
      suppress: (bytes[base + OFFSET_FLAGS] & S_FLAG) !== 0,
      robustness: bytes[base + OFFSET_FLAGS] & QRV_MASK,
      queryIntervalS: mldQueryIntervalS(bytes[base + OFFSET_QQIC]),
      sources,
    };
  },

  emit(
    repr: MldQueryRepr,
    bytes: Uint8Array,
    offset: number,
    src: Ipv6Words,
    dst: Ipv6Words,
  ): number {
    const v1 = repr.version === 1;
    const total = v1 ? MLDV1_QUERY_LEN : MLDV2_QUERY_LEN + repr.sources.length * IPV6_ADDRESS_LEN;
    bytes[offset] = ICMPV6_MLD_QUERY;
    bytes[offset + 1] = 0;
    write16(bytes, offset + OFFSET_MAX_RESPONSE, Math.min(repr.maxResponseDelayMs, 0x7fff));
    write16(bytes, offset + 6, 0);
    repr.group.writeTo(bytes, offset + OFFSET_GROUP);
    if (!v1) {
      bytes[offset + OFFSET_FLAGS] = (repr.suppress ? S_FLAG : 0) | (repr.robustness & QRV_MASK);
      bytes[offset + OFFSET_QQIC] = Math.min(repr.queryIntervalS, QQIC_FLOAT - 1);
      write16(bytes, offset + OFFSET_SOURCE_COUNT, repr.sources.length);
      let at = offset + MLDV2_QUERY_LEN;
      for (const s of repr.sources) {
        s.writeTo(bytes, at);
        at += IPV6_ADDRESS_LEN;
      }
    }
    storeChecksum(
      bytes,
      offset,
      total,
      offset + 2,
      ipv6PseudoHeaderSum(src, dst, IP_PROTO_ICMPV6, total),
    );
    return total;
  },
};
