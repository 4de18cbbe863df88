/**
 * Compares a segment the stack sent with the script's expectation, in
 * packetdrill terms (relative sequence numbers, option lists), in strict or
 * portable mode; and checks event timing against the tolerance.
 *
 * @module
 */

import {
  FLAG_ACK,
  FLAG_PSH,
  formatFlags,
  formatOptions,
  type PacketSpec,
  type TcpOptionSpec,
} from "./script.ts";
import {
  TCP_OPT_EOL,
  TCP_OPT_MSS,
  TCP_OPT_NOP,
  TCP_OPT_SACK,
  TCP_OPT_SACK_PERMITTED,
  TCP_OPT_TIMESTAMP,
  TCP_OPT_WINDOW_SCALE,
  TCP_SACK_BLOCK_LEN,
} from "../../wire/tcp.ts";

/** Option lengths the matcher accepts (RFC 9293 §3.2, RFC 7323, RFC 2018). */
const OPT_MSS_LEN = 4;
const OPT_WSCALE_LEN = 3;
const OPT_SACK_PERMITTED_LEN = 2;
const OPT_TIMESTAMP_LEN = 10;
const OPT_SACK_HEADER_LEN = 2;

/** A segment the stack sent, already made relative to the ISNs. */
export interface ObservedSegment {
  /** Flag bits (FLAG_*). */
  flags: number;
  /** Sequence number relative to our ISN. */
  seq: number;
  /** Acknowledgement number relative to the peer's ISN. */
  ack: number;
  /** Raw window field. */
  window: number;
  /** Urgent pointer. */
  urgent: number;
  /** Payload bytes. */
  length: number;
  /** Options in wire order (SACK blocks already relative). */
  options: TcpOptionSpec[];
}

/** How to compare. */
export interface MatchOptions {
  /**
   * Portable mode: flags, relative seq/ack, lengths and the *set* of option
   * kinds (plus SACK blocks); window values, option order, padding and
   * option values chosen by the operating system are not compared.
   */
  portable: boolean;
}

/** The first difference found. */
export interface Mismatch {
  /** Which field differs (`flags`, `seq`, `ack`, `length`, `win`, `options`, `time`). */
  field: string;
  /** Expected value, as packetdrill would write it. */
  expected: string;
  /** Observed value. */
  got: string;
}

/**
 * Decodes the options area of a TCP header into packetdrill option specs,
 * in wire order. Never throws; a malformed option ends the list with an
 * `unknown` entry.
 *
 * @param bytes buffer
 * @param start first option byte
 * @param end one past the last option byte (header end)
 * @returns the options
 *
 * @example
 * ```ts
 * import { decodeTcpOptions } from "./matcher.ts";
 * const o = decodeTcpOptions(new Uint8Array([2, 4, 5, 180, 1, 3, 3, 7]), 0, 8);
 * console.assert(o.map((x) => x.kind).join() === "mss,nop,wscale" && o[0].value === 1460);
 * ```
 */
export function decodeTcpOptions(bytes: Uint8Array, start: number, end: number): TcpOptionSpec[] {
  const out: TcpOptionSpec[] = [];
  let i = start;
  const limit = Math.min(end, bytes.length);
  while (i < limit) {
    const kind = bytes[i];
    if (kind === TCP_OPT_EOL) {
      out.push({ kind: "eol", text: "eol" });
      i++;
      continue;
    }
    if (kind === TCP_OPT_NOP) {
      out.push({ kind: "nop", text: "nop" });
      i++;
      continue;
    }
    if (i + 1 >= limit) {
      out.push({ kind: "unknown", text: `option ${kind} truncated` });
      break;
    }
    const len = bytes[i + 1];
    if (len < 2 || i + len > limit) {
      out.push({ kind: "unknown", text: `option ${kind} bad length ${len}` });
      break;
    }
    const u16 = (k: number) => (bytes[k] << 8) | bytes[k + 1];
    const u32 = (k: number) =>
      ((bytes[k] << 24) | (bytes[k + 1] << 16) | (bytes[k + 2] << 8) | bytes[k + 3]) >>> 0;
    if (kind === TCP_OPT_MSS && len === OPT_MSS_LEN) {
      out.push({ kind: "mss", value: u16(i + 2), text: "mss" });
    } else if (kind === TCP_OPT_WINDOW_SCALE && len === OPT_WSCALE_LEN) {
      out.push({ kind: "wscale", value: bytes[i + 2], text: "wscale" });
    } else if (kind === TCP_OPT_SACK_PERMITTED && len === OPT_SACK_PERMITTED_LEN) {
      out.push({ kind: "sackOK", text: "sackOK" });
    } else if (kind === TCP_OPT_TIMESTAMP && len === OPT_TIMESTAMP_LEN) {
      out.push({ kind: "TS", val: u32(i + 2), ecr: u32(i + 6), text: "TS" });
    } else if (kind === TCP_OPT_SACK && (len - OPT_SACK_HEADER_LEN) % TCP_SACK_BLOCK_LEN === 0) {
      const blocks: [number, number][] = [];
      for (let k = i + 2; k < i + len; k += TCP_SACK_BLOCK_LEN) blocks.push([u32(k), u32(k + 4)]);
      out.push({ kind: "sack", blocks, text: "sack" });
    } else {
      out.push({ kind: "unknown", text: `option ${kind} len ${len}` });
    }
    i += len;
  }
  return out;
}

/**
 * Formats an observed segment as an outbound packetdrill line.
 *
 * @param s the segment
 * @returns e.g. `> S. 0:0(0) ack 1 win 65535 <mss 1460>`
 *
 * @example
 * ```ts
 * import { formatObserved } from "./matcher.ts";
 * const line = formatObserved({ flags: 0x10, seq: 1, ack: 1, window: 257, urgent: 0, length: 0,
 *   options: [] });
 * console.assert(line === "> . 1:1(0) ack 1 win 257");
 * ```
 */
export function formatObserved(s: ObservedSegment): string {
  let line = `> ${formatFlags(s.flags)} ${s.seq}:${(s.seq + s.length) >>> 0}(${s.length})`;
  if (s.flags & FLAG_ACK) line += ` ack ${s.ack}`;
  line += ` win ${s.window}`;
  if (s.options.length > 0) line += ` ${formatOptions(s.options)}`;
  return line;
}

function optionKey(o: TcpOptionSpec, portable: boolean): string {
  switch (o.kind) {
    case "sack":
      return `sack ${(o.blocks ?? []).map(([l, r]) => `${l}:${r}`).join(" ")}`;
    case "mss":
    case "wscale":
      return portable ? o.kind : `${o.kind} ${o.value}`;
    case "TS":
      // TS val is the sender's clock: packetdrill does not compare it without
      // --tcp_ts_tick_usecs. The echo is compared in strict mode.
      return portable ? "TS" : `TS ecr ${o.ecr}`;
    default:
      return o.kind === "unknown" ? o.text : o.kind;
  }
}

function compareOptions(
  expected: readonly TcpOptionSpec[],
  got: readonly TcpOptionSpec[],
  portable: boolean,
): boolean {
  if (portable) {
    const set = (l: readonly TcpOptionSpec[]) =>
      l.filter((o) => o.kind !== "nop" && o.kind !== "eol").map((o) => optionKey(o, true)).sort()
        .join("|");
    return set(expected) === set(got);
  }
  if (expected.length !== got.length) return false;
  for (let i = 0; i < expected.length; i++) {
    if (optionKey(expected[i], false) !== optionKey(got[i], false)) return false;
  }
  return true;
}

/**
 * Compares an outbound packet expectation with what the stack sent.
 *
 * @param expected the script's packet (direction `outbound`)
 * @param got the segment sent, relative to the ISNs
 * @param opts strict or portable
 * @returns null when it matches, else the first difference
 *
 * @example
 * ```ts
 * import { matchPacket } from "./matcher.ts";
 * import { parseScript } from "./parser.ts";
 * const r = parseScript("0 > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 7>");
 * if (!r.ok || r.script.events[0].kind !== "packet") throw new Error("parse");
 * const want = r.script.events[0].packet;
 * const got = { flags: 0x12, seq: 0, ack: 1, window: 29200, urgent: 0, length: 0,
 *   options: [{ kind: "wscale" as const, value: 7, text: "" }, { kind: "mss" as const, value: 1460, text: "" }] };
 * console.assert(matchPacket(want, got, { portable: true }) === null);
 * console.assert(matchPacket(want, got, { portable: false })?.field === "win");
 * ```
 */
export function matchPacket(
  expected: PacketSpec,
  got: ObservedSegment,
  opts: MatchOptions,
): Mismatch | null {
  // Portable mode: PSH on a data segment is the sending stack's choice (RFC 9293 §3.9.1.2,
  // RFC 1122 §4.2.2.2: "PSH is not a record marker"); Linux places it by its skb and TSO
  // layout, FreeBSD on the segment that empties the send buffer, rawstack on the last
  // segment of a write. ECN bits are compared only when the script asks for ECN.
  const ignore = opts.portable && (expected.length > 0 || got.length > 0) ? FLAG_PSH : 0;
  if ((expected.flags & ~ignore) !== (got.flags & ~ignore)) {
    return { field: "flags", expected: expected.flagText, got: formatFlags(got.flags) };
  }
  if ((expected.start >>> 0) !== (got.seq >>> 0)) {
    return { field: "seq", expected: String(expected.start), got: String(got.seq) };
  }
  if (expected.length !== got.length) {
    return { field: "length", expected: String(expected.length), got: String(got.length) };
  }
  if ((expected.flags & FLAG_ACK) !== 0 && expected.ack !== undefined) {
    if ((expected.ack >>> 0) !== (got.ack >>> 0)) {
      return { field: "ack", expected: String(expected.ack), got: String(got.ack) };
    }
  }
  if (!opts.portable && expected.window !== undefined && expected.window !== got.window) {
    return { field: "win", expected: String(expected.window), got: String(got.window) };
  }
  if (expected.urgent !== undefined && expected.urgent !== got.urgent) {
    return { field: "urg", expected: String(expected.urgent), got: String(got.urgent) };
  }
  if (expected.options !== "any") {
    const want = expected.options ?? [];
    if (!compareOptions(want, got.options, opts.portable)) {
      return {
        field: "options",
        expected: want.length === 0 ? "<none>" : formatOptions(want),
        got: got.options.length === 0 ? "<none>" : formatOptions(got.options),
      };
    }
  }
  return null;
}

/**
 * Checks that something happened within `[lowUsecs - tol, highUsecs + tol]`.
 *
 * @param actualUsecs when it happened
 * @param lowUsecs earliest scripted time
 * @param highUsecs latest scripted time (same as low for a point in time)
 * @param toleranceUsecs allowed slack either side
 * @returns null when on time, else a `time` mismatch (seconds)
 *
 * @example
 * ```ts
 * import { checkTime } from "./matcher.ts";
 * console.assert(checkTime(103_000, 100_000, 100_000, 4_000) === null);
 * console.assert(checkTime(105_000, 100_000, 100_000, 4_000)?.field === "time");
 * ```
 */
export function checkTime(
  actualUsecs: number,
  lowUsecs: number,
  highUsecs: number,
  toleranceUsecs: number,
): Mismatch | null {
  if (actualUsecs >= lowUsecs - toleranceUsecs && actualUsecs <= highUsecs + toleranceUsecs) {
    return null;
  }
  const sec = (u: number) => (u / 1e6).toFixed(6);
  const window = lowUsecs === highUsecs ? sec(lowUsecs) : `${sec(lowUsecs)}~${sec(highUsecs)}`;
  return {
    field: "time",
    expected: `${window} ±${sec(toleranceUsecs)}s`,
    got: `${sec(actualUsecs)}s`,
  };
}
