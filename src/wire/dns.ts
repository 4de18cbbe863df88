/**
 * DNS messages (RFC 1035 §4): header, questions and resource records, with
 * name compression (§4.1.4) on parse and, optionally, on emit.
 *
 * DNS is not on the packet hot path, so messages parse into plain objects.
 * The parser never throws: hostile input (pointer loops, forward pointers,
 * over-long names and labels, records running past the message) yields a
 * {@link WireError} naming the defect. The encoders are an API boundary and
 * throw `TypeError` for invalid names and `RangeError` when the output
 * buffer is too small.
 *
 * @module
 */

import { WireError } from "./error.ts";
import { isIpv4Number } from "./address.ts";

/** Record type A: IPv4 address (RFC 1035 §3.2.2). */
export const DNS_TYPE_A = 1;
/** Record type NS: authoritative name server. */
export const DNS_TYPE_NS = 2;
/** Record type CNAME: canonical name. */
export const DNS_TYPE_CNAME = 5;
/** Record type SOA: start of authority. */
export const DNS_TYPE_SOA = 6;
/** Record type PTR: domain name pointer. */
export const DNS_TYPE_PTR = 12;
/** Record type MX: mail exchange. */
export const DNS_TYPE_MX = 15;
/** Record type TXT: text strings. */
export const DNS_TYPE_TXT = 16;
/** Record type AAAA: IPv6 address (RFC 3596 §2.1). */
export const DNS_TYPE_AAAA = 28;
/** Record type SRV (RFC 2782). */
export const DNS_TYPE_SRV = 33;
/** Pseudo-record type OPT (EDNS(0), RFC 6891 §6.1.2). */
export const DNS_TYPE_OPT = 41;
/** Query type ANY (RFC 1035 §3.2.3). */
export const DNS_TYPE_ANY = 255;
/** Class IN: the Internet (RFC 1035 §3.2.4). */
export const DNS_CLASS_IN = 1;

/** Opcode QUERY (RFC 1035 §4.1.1). */
export const DNS_OPCODE_QUERY = 0;
/** RCODE: no error (RFC 1035 §4.1.1). */
export const DNS_RCODE_NOERROR = 0;
/** RCODE: format error. */
export const DNS_RCODE_FORMERR = 1;
/** RCODE: server failure. */
export const DNS_RCODE_SERVFAIL = 2;
/** RCODE: name error, the name does not exist. */
export const DNS_RCODE_NXDOMAIN = 3;
/** RCODE: not implemented. */
export const DNS_RCODE_NOTIMP = 4;
/** RCODE: refused. */
export const DNS_RCODE_REFUSED = 5;

/** Length of the fixed DNS header (RFC 1035 §4.1.1). */
export const DNS_HEADER_LEN = 12;
/** Longest name on the wire, in octets including length octets (RFC 1035 §2.3.4). */
export const DNS_MAX_NAME_LEN = 255;
/** Longest label, in octets (RFC 1035 §2.3.4). */
export const DNS_MAX_LABEL_LEN = 63;
/** Most compression pointers followed while reading one name. */
export const DNS_MAX_POINTERS = 64;
/** Largest DNS message (the 16-bit TCP length prefix bounds it). */
export const DNS_MAX_MESSAGE_LEN = 65535;
/** Standard UDP port of DNS servers. */
export const DNS_PORT = 53;

const QUESTION_FIXED_LEN = 4; // type, class
const RECORD_FIXED_LEN = 10; // type, class, ttl, rdlength
const POINTER_MASK = 0xc0;
const POINTER_LIMIT = 0x4000; // pointers carry 14 bits of offset
const IPV4_LEN = 4;
const IPV6_LEN = 16;
const PROTOCOL = "dns";

/** One question (RFC 1035 §4.1.2). */
export interface DnsQuestion {
  /** Domain name in presentation form without trailing dot; the root is `"."`. */
  name: string;
  /** QTYPE, e.g. {@link DNS_TYPE_A}. */
  type: number;
  /** QCLASS, normally {@link DNS_CLASS_IN}. */
  class: number;
}

/**
 * One resource record (RFC 1035 §4.1.3). Which data field is set depends
 * on the type: `address` (A), `address6` (AAAA), `target` (CNAME, NS, PTR),
 * `rdata` (anything else, raw bytes). For emission only that field is read.
 */
export interface DnsRecord {
  /** Owner name (presentation form, root `"."`). */
  name: string;
  /** TYPE, e.g. {@link DNS_TYPE_A}. */
  type: number;
  /** CLASS (for OPT: the requester's UDP payload size). */
  class: number;
  /** TTL in seconds, unsigned 32-bit (for OPT: extended RCODE and flags). */
  ttl: number;
  /**
   * A: the IPv4 address as a signed 32-bit integer, the numeric form used
   * throughout rawstack (see src/wire/address.ts); emit accepts either form.
   */
  address?: number;
  /** AAAA: the 16 address bytes. */
  address6?: Uint8Array;
  /** CNAME, NS, PTR: the name the record points to. */
  target?: string;
  /** Other types: the RDATA bytes (a copy when parsed). */
  rdata?: Uint8Array;
  /** Parsed records: where the RDATA starts in the parsed buffer. */
  rdataOffset?: number;
  /** Parsed records: RDATA length in bytes. */
  rdataLength?: number;
}

/** A DNS message (RFC 1035 §4.1). Section counts are the array lengths. */
export interface DnsMessage {
  /** Query identifier. */
  id: number;
  /** true for a response. */
  qr: boolean;
  /** Kind of query, {@link DNS_OPCODE_QUERY} for a standard query. */
  opcode: number;
  /** Authoritative answer. */
  aa: boolean;
  /** Truncated. */
  tc: boolean;
  /** Recursion desired. */
  rd: boolean;
  /** Recursion available. */
  ra: boolean;
  /** Authentic data (RFC 4035 §3.2.3). */
  ad: boolean;
  /** Checking disabled (RFC 4035 §3.2.2). */
  cd: boolean;
  /** Response code, e.g. {@link DNS_RCODE_NXDOMAIN}. */
  rcode: number;
  /** Question section. */
  questions: DnsQuestion[];
  /** Answer section. */
  answers: DnsRecord[];
  /** Authority section. */
  authorities: DnsRecord[];
  /** Additional section. */
  additionals: DnsRecord[];
}

/** Options of {@link DnsMessage.emit}. */
export interface DnsEmitOptions {
  /** Compress names with pointers to earlier names (RFC 1035 §4.1.4); default true. */
  compress?: boolean;
}

/** A query for {@link encodeDnsQuery}. */
export interface DnsQuery {
  /** Query identifier, 0..65535. */
  id: number;
  /** The name to look up, e.g. `"host.test"` (a trailing dot is allowed). */
  name: string;
  /** QTYPE, e.g. {@link DNS_TYPE_A}. */
  type: number;
  /** Ask the server to recurse (RD bit); default true. */
  recursionDesired?: boolean;
  /** QCLASS; default {@link DNS_CLASS_IN}. */
  class?: number;
}

// ---------------------------------------------------------------------------
// Name decoding

/** Position right after the name read by the last successful readName(). */
let nameEnd = 0;

const BACKSLASH = 0x5c;
const DOT = 0x2e;
const PRINTABLE_MIN = 0x21;
const PRINTABLE_MAX = 0x7e;

function appendLabel(parts: string[], b: Uint8Array, start: number, len: number): void {
  let s = "";
  for (let k = start; k < start + len; k++) {
    const c = b[k];
    if (c === DOT || c === BACKSLASH) s += "\\" + String.fromCharCode(c);
    else if (c >= PRINTABLE_MIN && c <= PRINTABLE_MAX) s += String.fromCharCode(c);
    else s += "\\" + String(c).padStart(3, "0"); // RFC 1035 §5.1 \DDD
  }
  parts.push(s);
}

/**
 * Reads a possibly compressed name starting at `pos` in a message occupying
 * b[msgStart, msgEnd). Sets `nameEnd` on success.
 *
 * Loop protection: a pointer must point strictly before the start of the run
 * of labels that contains it (so positions strictly decrease and a cycle is
 * impossible), and at most DNS_MAX_POINTERS pointers are followed.
 */
function readName(
  b: Uint8Array,
  msgStart: number,
  msgEnd: number,
  pos: number,
): string | WireError {
  const parts: string[] = [];
  let wireLength = 1; // the root's zero octet
  let pointers = 0;
  let runStart = pos;
  let end = -1;
  let i = pos;
  for (;;) {
    if (i >= msgEnd) return new WireError(PROTOCOL, "truncated", "name runs past the message");
    const len = b[i];
    const kind = len & POINTER_MASK;
    if (kind === POINTER_MASK) {
      // RFC 1035 §4.1.4: a two-octet pointer to an earlier name.
      if (i + 1 >= msgEnd) return new WireError(PROTOCOL, "truncated", "pointer cut short");
      const target = msgStart + (((len & 0x3f) << 8) | b[i + 1]);
      if (end < 0) end = i + 2;
      if (target >= msgEnd) {
        return new WireError(
          PROTOCOL,
          "bad-pointer",
          `pointer to ${target - msgStart} past the end`,
        );
      }
      if (target >= runStart) {
        return new WireError(
          PROTOCOL,
          "pointer-loop",
          `pointer at ${i - msgStart} to ${target - msgStart} does not point backwards`,
        );
      }
      if (++pointers > DNS_MAX_POINTERS) {
        return new WireError(PROTOCOL, "pointer-loop", `more than ${DNS_MAX_POINTERS} pointers`);
      }
      runStart = target;
      i = target;
      continue;
    }
    if (kind !== 0) {
      // A length octet 64..191: as a length it exceeds 63 (RFC 1035 §2.3.4);
      // as a label type (01, 10) it is reserved or the deprecated extended
      // label (RFC 1035 §4.1.4, RFC 6891 §5). Either way not acceptable.
      return new WireError(
        PROTOCOL,
        "label-too-long",
        `length octet ${len}: label longer than 63 octets or reserved label type`,
      );
    }
    if (len === 0) {
      if (end < 0) end = i + 1;
      break;
    }
    wireLength += len + 1;
    if (wireLength > DNS_MAX_NAME_LEN) {
      return new WireError(
        PROTOCOL,
        "name-too-long",
        `name longer than ${DNS_MAX_NAME_LEN} octets`,
      );
    }
    if (i + 1 + len > msgEnd) {
      return new WireError(PROTOCOL, "truncated", "label runs past the message");
    }
    appendLabel(parts, b, i + 1, len);
    i += 1 + len;
  }
  nameEnd = end;
  return parts.length === 0 ? "." : parts.join(".");
}

// ---------------------------------------------------------------------------
// Parsing

function read16(b: Uint8Array, i: number): number {
  return (b[i] << 8) | b[i + 1];
}

function read32(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

/** Where the section parser stopped (module scratch to avoid result objects). */
let sectionEnd = 0;

function parseRecords(
  b: Uint8Array,
  msgStart: number,
  msgEnd: number,
  pos: number,
  count: number,
  out: DnsRecord[],
): WireError | null {
  let i = pos;
  for (let n = 0; n < count; n++) {
    const name = readName(b, msgStart, msgEnd, i);
    if (typeof name !== "string") return name;
    i = nameEnd;
    if (i + RECORD_FIXED_LEN > msgEnd) {
      return new WireError(PROTOCOL, "truncated", `record ${n} header runs past the message`);
    }
    const type = read16(b, i);
    const cls = read16(b, i + 2);
    const ttl = read32(b, i + 4);
    const rdLength = read16(b, i + 8);
    const rdStart = i + RECORD_FIXED_LEN;
    const rdEnd = rdStart + rdLength;
    if (rdEnd > msgEnd) {
      return new WireError(
        PROTOCOL,
        "truncated",
        `RDATA of ${rdLength} bytes runs past the message`,
      );
    }
    const record: DnsRecord = {
      name,
      type,
      class: cls,
      ttl,
      rdataOffset: rdStart,
      rdataLength: rdLength,
    };
    if (type === DNS_TYPE_A && cls === DNS_CLASS_IN) {
      // RFC 1035 §3.4.1: a 32-bit address.
      if (rdLength !== IPV4_LEN) {
        return new WireError(PROTOCOL, "bad-length", `A record RDATA ${rdLength} != 4`);
      }
      record.address = read32(b, rdStart) | 0;
    } else if (type === DNS_TYPE_AAAA && cls === DNS_CLASS_IN) {
      // RFC 3596 §2.2: a 128-bit address.
      if (rdLength !== IPV6_LEN) {
        return new WireError(PROTOCOL, "bad-length", `AAAA record RDATA ${rdLength} != 16`);
      }
      record.address6 = b.slice(rdStart, rdEnd);
    } else if (type === DNS_TYPE_CNAME || type === DNS_TYPE_NS || type === DNS_TYPE_PTR) {
      // RFC 1035 §3.3.1, §3.3.11, §3.3.12: a (compressible) domain name.
      const target = readName(b, msgStart, rdEnd, rdStart);
      if (typeof target !== "string") return target;
      if (nameEnd !== rdEnd) {
        return new WireError(PROTOCOL, "bad-length", `name in RDATA ends before RDATA does`);
      }
      record.target = target;
    } else {
      record.rdata = b.slice(rdStart, rdEnd);
    }
    out.push(record);
    i = rdEnd;
  }
  sectionEnd = i;
  return null;
}

// ---------------------------------------------------------------------------
// Name encoding

/**
 * Splits a presentation-form name into wire labels (RFC 1035 §5.1 escapes
 * `\X` and `\DDD` are understood). Throws TypeError when invalid.
 */
function nameToLabels(name: string): Uint8Array[] {
  if (typeof name !== "string") {
    throw new TypeError(`DNS name must be a string, got ${typeof name}`);
  }
  if (name === "." || name === "") return [];
  const labels: Uint8Array[] = [];
  let current: number[] = [];
  let wireLength = 1;
  const finish = () => {
    if (current.length === 0) throw new TypeError(`invalid DNS name "${name}": empty label`);
    if (current.length > DNS_MAX_LABEL_LEN) {
      throw new TypeError(`invalid DNS name "${name}": label longer than 63 octets`);
    }
    wireLength += current.length + 1;
    labels.push(Uint8Array.from(current));
    current = [];
  };
  for (let k = 0; k < name.length; k++) {
    const c = name.charCodeAt(k);
    if (c === DOT) {
      finish();
      continue;
    }
    if (c === BACKSLASH) {
      const d = name.slice(k + 1, k + 4);
      if (/^[0-9]{3}$/.test(d)) {
        const v = Number(d);
        if (v > 255) throw new TypeError(`invalid DNS name "${name}": escape \\${d} > 255`);
        current.push(v);
        k += 3;
      } else if (k + 1 < name.length && name.charCodeAt(k + 1) <= PRINTABLE_MAX) {
        current.push(name.charCodeAt(k + 1));
        k += 1;
      } else {
        throw new TypeError(`invalid DNS name "${name}": dangling or bad escape`);
      }
      continue;
    }
    if (c < PRINTABLE_MIN || c > PRINTABLE_MAX) {
      throw new TypeError(
        `invalid DNS name "${name}": character U+${c.toString(16).padStart(4, "0")} ` +
          `(use \\DDD escapes; internationalized names must be punycode)`,
      );
    }
    current.push(c);
  }
  if (current.length > 0) finish(); // a trailing dot ends the name without an empty label
  if (wireLength > DNS_MAX_NAME_LEN) {
    throw new TypeError(`invalid DNS name "${name}": longer than ${DNS_MAX_NAME_LEN} octets`);
  }
  return labels;
}

/** Writes names and tracks suffixes for compression. */
class NameWriter {
  readonly #suffixes = new Map<string, number>();
  constructor(
    readonly bytes: Uint8Array,
    readonly msgStart: number,
    readonly compress: boolean,
  ) {}

  ensure(pos: number, n: number): void {
    if (pos + n > this.bytes.length || pos + n - this.msgStart > DNS_MAX_MESSAGE_LEN) {
      throw new RangeError(`DNS message does not fit: need ${pos + n - this.msgStart} bytes`);
    }
  }

  /** Writes `name` at pos, returns the position after it. */
  write(name: string, pos: number): number {
    const labels = nameToLabels(name);
    const b = this.bytes;
    let i = pos;
    for (let k = 0; k < labels.length; k++) {
      const key = this.compress ? suffixKey(labels, k) : "";
      if (this.compress) {
        const at = this.#suffixes.get(key);
        if (at !== undefined) {
          // RFC 1035 §4.1.4: replace the rest of the name with a pointer.
          this.ensure(i, 2);
          b[i] = POINTER_MASK | (at >>> 8);
          b[i + 1] = at & 0xff;
          return i + 2;
        }
        const rel = i - this.msgStart;
        if (rel < POINTER_LIMIT) this.#suffixes.set(key, rel);
      }
      const label = labels[k];
      this.ensure(i, 1 + label.length);
      b[i] = label.length;
      b.set(label, i + 1);
      i += 1 + label.length;
    }
    this.ensure(i, 1);
    b[i] = 0;
    return i + 1;
  }
}

/** Exact (case-preserving) key of labels[from..]: lossless compression. */
function suffixKey(labels: Uint8Array[], from: number): string {
  let key = "";
  for (let k = from; k < labels.length; k++) key += labels[k].join(",") + "/";
  return key;
}

function write16(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 8;
  b[i + 1] = v;
}

function write32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = v >>> 16;
  b[i + 2] = v >>> 8;
  b[i + 3] = v;
}

function checkU16(what: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new TypeError(`DNS ${what} must be an integer 0..65535, got ${v}`);
  }
  return v;
}

function writeHeader(msg: DnsMessage, b: Uint8Array, o: number): void {
  write16(b, o, checkU16("id", msg.id));
  // RFC 1035 §4.1.1 (+ RFC 4035 §3.2 for AD/CD).
  b[o + 2] = (msg.qr ? 0x80 : 0) | ((msg.opcode & 0xf) << 3) | (msg.aa ? 0x04 : 0) |
    (msg.tc ? 0x02 : 0) | (msg.rd ? 0x01 : 0);
  b[o + 3] = (msg.ra ? 0x80 : 0) | (msg.ad ? 0x20 : 0) | (msg.cd ? 0x10 : 0) | (msg.rcode & 0xf);
  write16(b, o + 4, checkU16("question count", msg.questions.length));
  write16(b, o + 6, checkU16("answer count", msg.answers.length));
  write16(b, o + 8, checkU16("authority count", msg.authorities.length));
  write16(b, o + 10, checkU16("additional count", msg.additionals.length));
}

function writeRecord(w: NameWriter, r: DnsRecord, pos: number): number {
  const b = w.bytes;
  let i = w.write(r.name, pos);
  w.ensure(i, RECORD_FIXED_LEN);
  write16(b, i, checkU16("record type", r.type));
  write16(b, i + 2, checkU16("record class", r.class));
  if (!Number.isInteger(r.ttl) || r.ttl < 0 || r.ttl > 0xffffffff) {
    throw new TypeError(`DNS TTL must be an unsigned 32-bit integer, got ${r.ttl}`);
  }
  write32(b, i + 4, r.ttl);
  const lengthAt = i + 8;
  i += RECORD_FIXED_LEN;
  const rdStart = i;
  if (r.type === DNS_TYPE_A && r.class === DNS_CLASS_IN) {
    const a = r.address;
    if (!isIpv4Number(a)) {
      throw new TypeError(`A record needs address as a 32-bit integer, got ${a}`);
    }
    w.ensure(i, IPV4_LEN);
    write32(b, i, a);
    i += IPV4_LEN;
  } else if (r.type === DNS_TYPE_AAAA && r.class === DNS_CLASS_IN) {
    const a = r.address6;
    if (!(a instanceof Uint8Array) || a.length !== IPV6_LEN) {
      throw new TypeError("AAAA record needs address6 as 16 bytes");
    }
    w.ensure(i, IPV6_LEN);
    b.set(a, i);
    i += IPV6_LEN;
  } else if (r.type === DNS_TYPE_CNAME || r.type === DNS_TYPE_NS || r.type === DNS_TYPE_PTR) {
    if (typeof r.target !== "string") {
      throw new TypeError(`record type ${r.type} needs a target name`);
    }
    i = w.write(r.target, i);
  } else {
    const d = r.rdata ?? new Uint8Array(0);
    if (!(d instanceof Uint8Array)) throw new TypeError(`record type ${r.type} needs rdata bytes`);
    w.ensure(i, d.length);
    b.set(d, i);
    i += d.length;
  }
  write16(b, lengthAt, checkU16("RDATA length", i - rdStart));
  return i;
}

function writeQuestion(w: NameWriter, q: DnsQuestion, pos: number): number {
  const i = w.write(q.name, pos);
  w.ensure(i, QUESTION_FIXED_LEN);
  write16(w.bytes, i, checkU16("question type", q.type));
  write16(w.bytes, i + 2, checkU16("question class", q.class));
  return i + QUESTION_FIXED_LEN;
}

// ---------------------------------------------------------------------------
// Public API

/**
 * A message with the given id and every flag clear and every section empty,
 * convenient to fill in before {@link DnsMessage.emit}.
 *
 * @param id the query identifier
 * @returns a new message
 *
 * @example
 * ```ts
 * import { newDnsMessage } from "./dns.ts";
 * const m = newDnsMessage(7);
 * console.assert(m.id === 7 && m.questions.length === 0 && !m.qr);
 * ```
 */
export function newDnsMessage(id = 0): DnsMessage {
  return {
    id,
    qr: false,
    opcode: DNS_OPCODE_QUERY,
    aa: false,
    tc: false,
    rd: false,
    ra: false,
    ad: false,
    cd: false,
    rcode: DNS_RCODE_NOERROR,
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
  };
}

/** The shape of {@link DnsMessage}: parse and emit DNS messages (RFC 1035). */
export interface DnsMessageCodec {
  /**
   * Parses a DNS message occupying `bytes[offset, offset + length)`.
   * Compression pointers are relative to `offset`. Bytes after the last
   * record are ignored. Never throws.
   *
   * @param bytes the buffer
   * @param offset where the message starts (e.g. the UDP payload offset)
   * @param length the message length
   * @returns the message, or the defect
   *
   * @example
   * ```ts
   * import { DNS_TYPE_A, DnsMessage, encodeDnsQuery } from "./dns.ts";
   * import { isWireError } from "./error.ts";
   * const b = new Uint8Array(512);
   * const n = encodeDnsQuery({ id: 1, name: "host.test", type: DNS_TYPE_A }, b, 0);
   * const m = DnsMessage.parse(b, 0, n);
   * console.assert(!isWireError(m) && m.questions[0].name === "host.test" && m.rd);
   * ```
   */
  parse(
    bytes: Uint8Array,
    offset?: number,
    length?: number,
  ): DnsMessage | WireError;

  /**
   * Writes a whole message at `offset`; section counts come from the array
   * lengths. With compression (the default) every name suffix already
   * written within the first 16 KiB is replaced by a pointer, matching
   * case exactly so that parse(emit(m)) returns m.
   *
   * @param msg the message
   * @param bytes the output buffer
   * @param offset where the message starts (pointers are relative to it)
   * @param opts `compress: false` writes every name in full
   * @returns the message length
   * @throws {TypeError} on an invalid name or field
   * @throws {RangeError} when the buffer is too small
   *
   * @example
   * ```ts
   * import { DNS_CLASS_IN, DNS_TYPE_A, DnsMessage, newDnsMessage } from "./dns.ts";
   * const m = newDnsMessage(9);
   * m.qr = true;
   * m.questions.push({ name: "host.test", type: DNS_TYPE_A, class: DNS_CLASS_IN });
   * m.answers.push({ name: "host.test", type: DNS_TYPE_A, class: DNS_CLASS_IN, ttl: 60, address: 0xc0000201 });
   * const b = new Uint8Array(512);
   * const n = DnsMessage.emit(m, b, 0);
   * console.assert(n === 12 + 15 + 2 + 10 + 4); // answer name is a 2-byte pointer
   * ```
   */
  emit(msg: DnsMessage, bytes: Uint8Array, offset?: number, opts?: DnsEmitOptions): number;

  /**
   * Emits into a new, exactly sized array (convenience for tests and servers).
   *
   * @param msg the message
   * @param opts as for {@link DnsMessage.emit}
   * @returns the encoded message
   * @throws {TypeError} on an invalid name or field
   *
   * @example
   * ```ts
   * import { DnsMessage, newDnsMessage } from "./dns.ts";
   * console.assert(DnsMessage.toBytes(newDnsMessage(1)).length === 12);
   * ```
   */
  toBytes(msg: DnsMessage, opts?: DnsEmitOptions): Uint8Array;
}

/** Parse and emit DNS messages. */
export const DnsMessage: DnsMessageCodec = {
  parse(
    bytes: Uint8Array,
    offset = 0,
    length: number = bytes.length - offset,
  ): DnsMessage | WireError {
    if (offset < 0 || length < 0 || offset + length > bytes.length) {
      return new WireError(PROTOCOL, "truncated", "message extends past the buffer");
    }
    if (length < DNS_HEADER_LEN) {
      return new WireError(PROTOCOL, "truncated", `${length} bytes < ${DNS_HEADER_LEN}`);
    }
    const b = bytes;
    const o = offset;
    const end = offset + length;
    const msg = newDnsMessage(read16(b, o));
    const f1 = b[o + 2];
    const f2 = b[o + 3];
    msg.qr = (f1 & 0x80) !== 0;
    msg.opcode = (f1 >>> 3) & 0xf;
    msg.aa = (f1 & 0x04) !== 0;
    msg.tc = (f1 & 0x02) !== 0;
    msg.rd = (f1 & 0x01) !== 0;
    msg.ra = (f2 & 0x80) !== 0;
    msg.ad = (f2 & 0x20) !== 0;
    msg.cd = (f2 & 0x10) !== 0;
    msg.rcode = f2 & 0xf;
    const qdCount = read16(b, o + 4);
    const anCount = read16(b, o + 6);
    const nsCount = read16(b, o + 8);
    const arCount = read16(b, o + 10);
    let i = o + DNS_HEADER_LEN;
    for (let n = 0; n < qdCount; n++) {
      const name = readName(b, o, end, i);
      if (typeof name !== "string") return name;
      i = nameEnd;
      if (i + QUESTION_FIXED_LEN > end) {
        return new WireError(PROTOCOL, "truncated", `question ${n} runs past the message`);
      }
      msg.questions.push({ name, type: read16(b, i), class: read16(b, i + 2) });
      i += QUESTION_FIXED_LEN;
    }
    let e = parseRecords(b, o, end, i, anCount, msg.answers);
    if (e !== null) return e;
    e = parseRecords(b, o, end, sectionEnd, nsCount, msg.authorities);
    if (e !== null) return e;
    e = parseRecords(b, o, end, sectionEnd, arCount, msg.additionals);
    if (e !== null) return e;
    return msg;
  },

  emit(msg: DnsMessage, bytes: Uint8Array, offset = 0, opts?: DnsEmitOptions): number {
    const w = new NameWriter(bytes, offset, opts?.compress !== false);
    w.ensure(offset, DNS_HEADER_LEN);
    writeHeader(msg, bytes, offset);
    let i = offset + DNS_HEADER_LEN;
    for (const q of msg.questions) i = writeQuestion(w, q, i);
    for (const r of msg.answers) i = writeRecord(w, r, i);
    for (const r of msg.authorities) i = writeRecord(w, r, i);
    for (const r of msg.additionals) i = writeRecord(w, r, i);
    return i - offset;
  },

  toBytes(msg: DnsMessage, opts?: DnsEmitOptions): Uint8Array {
    const scratch = new Uint8Array(DNS_MAX_MESSAGE_LEN);
    return scratch.slice(0, DnsMessage.emit(msg, scratch, 0, opts));
  },
};

/**
 * Encodes a standard query (RFC 1035 §4.1.1: QUERY opcode, one question)
 * at `offset`.
 *
 * @param query id, name, type, and optionally recursionDesired (default true) and class
 * @param bytes the output buffer
 * @param offset where the message starts
 * @returns the message length
 * @throws {TypeError} when the name is invalid (empty label, label > 63 octets,
 *   name > 255 octets, non-ASCII) or id/type is out of range
 * @throws {RangeError} when the buffer is too small
 *
 * @example
 * ```ts
 * import { DNS_TYPE_AAAA, encodeDnsQuery } from "./dns.ts";
 * const b = new Uint8Array(64);
 * const n = encodeDnsQuery({ id: 0x1234, name: "example.test.", type: DNS_TYPE_AAAA }, b, 0);
 * console.assert(n === 12 + 14 + 4 && b[0] === 0x12 && b[2] === 0x01);
 * ```
 */
export function encodeDnsQuery(query: DnsQuery, bytes: Uint8Array, offset = 0): number {
  const msg = newDnsMessage(query.id);
  msg.rd = query.recursionDesired !== false;
  msg.questions.push({ name: query.name, type: query.type, class: query.class ?? DNS_CLASS_IN });
  return DnsMessage.emit(msg, bytes, offset);
}

/**
 * Checks a name for use in a query without encoding it.
 *
 * @param name presentation-form name
 * @returns null when valid, else the reason
 *
 * @example
 * ```ts
 * import { validateDnsName } from "./dns.ts";
 * console.assert(validateDnsName("host.test") === null);
 * console.assert(validateDnsName("a..b") !== null);
 * ```
 */
export function validateDnsName(name: string): string | null {
  try {
    nameToLabels(name);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * Formats 16 IPv6 address bytes per RFC 5952 §4 (lower case, longest run
 * of two or more zero groups shortened to `::`).
 *
 * @param bytes the buffer
 * @param offset where the 16 bytes start
 * @returns e.g. `"2001:db8::1"`
 *
 * @example
 * ```ts
 * import { formatIpv6 } from "./dns.ts";
 * const a = new Uint8Array(16);
 * a[0] = 0x20; a[1] = 0x01; a[2] = 0x0d; a[3] = 0xb8; a[15] = 1;
 * console.assert(formatIpv6(a) === "2001:db8::1");
 * ```
 */
export function formatIpv6(bytes: Uint8Array, offset = 0): string {
  const groups: number[] = [];
  for (let k = 0; k < 8; k++) groups.push(read16(bytes, offset + 2 * k));
  let bestStart = -1;
  let bestLen = 1; // RFC 5952 §4.2.2: a single zero group is not shortened
  for (let k = 0; k < 8;) {
    if (groups[k] !== 0) {
      k++;
      continue;
    }
    let j = k;
    while (j < 8 && groups[j] === 0) j++;
    if (j - k > bestLen) {
      bestStart = k;
      bestLen = j - k;
    }
    k = j;
  }
  const hex = (from: number, to: number) =>
    groups.slice(from, to).map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}
