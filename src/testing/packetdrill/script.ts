/**
 * The packetdrill script model: what {@link parseScript} produces and the
 * runner consumes. Times are in microseconds, as packetdrill counts them.
 *
 * @module
 */

/** How an event's time is written. */
export type TimeKind = "absolute" | "relative" | "any" | "range";

/**
 * An event's time as written: `0.1` (absolute), `+0.1` (relative to the
 * previous event), `*` (any time), `+0.3~+0.4` / `0.3~0.4` (a range), and the
 * blocking-call window `+0...0.2` (start, then the time the call returns).
 */
export interface EventTime {
  /** Which form. */
  kind: TimeKind;
  /** Start (or lower bound of a range), µs. 0 for `*`. */
  startUsecs: number;
  /** Upper bound of a range, µs. */
  rangeEndUsecs?: number;
  /** Whether the upper bound of a range was written with `+`. */
  rangeEndRelative?: boolean;
  /** End of a blocking call's window (`start...end`), µs, same base as the start. */
  blockingEndUsecs?: number;
}

/** One TCP option in a packet line's `<...>` list. */
export interface TcpOptionSpec {
  /** Option name. `fastopen`, `md5`, `unknown` make a script not applicable. */
  kind:
    | "mss"
    | "nop"
    | "eol"
    | "wscale"
    | "sackOK"
    | "sack"
    | "TS"
    | "fastopen"
    | "md5"
    | "unknown";
  /** mss / wscale value. */
  value?: number;
  /** SACK blocks `[left, right]`, relative sequence numbers. */
  blocks?: [number, number][];
  /** Timestamp value. */
  val?: number;
  /** Timestamp echo reply. */
  ecr?: number;
  /** The text as written. */
  text: string;
}

/** Flag bits as in `src/wire/tcp.ts`. */
export const FLAG_FIN = 0x01;
/** SYN. */
export const FLAG_SYN = 0x02;
/** RST. */
export const FLAG_RST = 0x04;
/** PSH. */
export const FLAG_PSH = 0x08;
/** ACK. */
export const FLAG_ACK = 0x10;
/** URG. */
export const FLAG_URG = 0x20;
/** ECE (packetdrill `E`). */
export const FLAG_ECE = 0x40;
/** CWR (packetdrill `W`). */
export const FLAG_CWR = 0x80;

/** A packet line: `< S. 0:0(0) ack 1 win 32792 <mss 1460,nop,wscale 7>`. */
export interface PacketSpec {
  /** `<` inbound (the script sends it) or `>` outbound (the stack must send it). */
  direction: "inbound" | "outbound";
  /** ECN tag such as `noecn`, `ect0`, `ect1`, `ce`, `ect01` (without brackets). */
  ecn?: string;
  /** Flags as written (`S.`, `F.`, `-`). */
  flagText: string;
  /** Flag bits (FLAG_*). */
  flags: number;
  /** Relative sequence number of the first byte. */
  start: number;
  /** Relative sequence number after the last byte. */
  end: number;
  /** Payload length in bytes. */
  length: number;
  /** Relative acknowledgement number, when written. */
  ack?: number;
  /** Window field, when written. */
  window?: number;
  /** Urgent pointer, when written. */
  urgent?: number;
  /** Options: a list, `"any"` for `<...>`, or null when none were written. */
  options: TcpOptionSpec[] | "any" | null;
  /**
   * NPLab IP header expectations written before the flags: `(ttl 4)`, `(tos 0x20)`,
   * and the IPv6 spellings `(hlim 4)`, `(class 0x20)` (same fields: hop limit, traffic class).
   */
  ip?: IpHeaderSpec;
  /** NPLab `0:0(0)!`: the sequence number is absolute, not relative to the ISN. */
  absoluteSeq?: boolean;
  /** NPLab `/udp(sport > dport)`: the segment rides in UDP (RFC 6951 encapsulation). */
  udpEncapsulated?: boolean;
}

/** IP header fields a packet line can state (NPLab `(ttl N, tos X)`). */
export interface IpHeaderSpec {
  /** IPv4 TTL / IPv6 hop limit. */
  ttl?: number;
  /** IPv4 TOS byte / IPv6 traffic class, ECN bits included. */
  tos?: number;
}

/**
 * An injected ICMP error (NPLab): `< icmp unreachable port_unreachable [0:0(0)]`,
 * `< icmp unreachable frag_needed mtu 1234 [0:0(0)]`, `< icmp time_exceeded
 * ttl_exceeded_in_transit [1:1(0)]`. The bracket quotes one of our segments by its
 * relative sequence range.
 */
export interface IcmpSpec {
  /** Type name as written (`unreachable`, `time_exceeded`, ...). */
  typeName: string;
  /** Code name as written (`port_unreachable`, ...), or "" when none. */
  codeName: string;
  /** ICMPv4 type (RFC 792), or -1 for an ICMPv6-only name. */
  type: number;
  /** ICMPv4 code, or -1 for an ICMPv6-only name. */
  code: number;
  /** `mtu N` (fragmentation needed / packet too big), else 0. */
  mtu: number;
  /** Quoted segment's relative sequence number. */
  seq: number;
  /** Quoted segment's length. */
  length: number;
}

/** An argument expression of a system call. */
export type Expr =
  | { type: "ellipsis" }
  | { type: "number"; value: number }
  | { type: "ident"; name: string }
  | { type: "string"; value: string }
  | { type: "list"; items: Expr[] }
  | { type: "struct"; fields: { name: string | null; value: Expr }[] }
  | { type: "or"; terms: Expr[] };

/** A system call line: `connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)`. */
export interface SyscallSpec {
  /** Call name. */
  name: string;
  /** Arguments. */
  args: Expr[];
  /** Expected return value (`...` matches anything). */
  result: number | "any";
  /** Expected errno name when the result is -1. */
  errno?: string;
  /** The parenthesized note after the result, if any. */
  note?: string;
}

/** Fields common to every event. */
export interface EventBase {
  /** 1-based line where the event starts. */
  line: number;
  /** When it happens. */
  time: EventTime;
  /** The statement text (comments removed). */
  text: string;
}

/** One script event. */
export type ScriptEvent =
  | EventBase & { kind: "packet"; packet: PacketSpec }
  | EventBase & { kind: "syscall"; call: SyscallSpec }
  | EventBase & { kind: "shell"; command: string }
  | EventBase & { kind: "icmp"; icmp: IcmpSpec }
  | EventBase & { kind: "code"; code: string; tcpiState: string | null };

/** A parsed script. */
export interface Script {
  /** Command-line options at the top (`--ip_version=ipv4` → `ip_version` → `ipv4`). */
  options: Map<string, string>;
  /** Events in script order. */
  events: ScriptEvent[];
}

/** A parse failure with the line it was found on. */
export interface ParseFailure {
  /** 1-based line. */
  line: number;
  /** What is wrong. */
  message: string;
}

/**
 * Formats flag bits the way packetdrill writes them (`S.`, `F.`, `P.`, `-`).
 *
 * @param flags FLAG_* bits
 * @returns the packetdrill spelling
 *
 * @example
 * ```ts
 * import { FLAG_ACK, FLAG_SYN, formatFlags } from "./script.ts";
 * console.assert(formatFlags(FLAG_SYN | FLAG_ACK) === "S.");
 * console.assert(formatFlags(0) === "-");
 * ```
 */
export function formatFlags(flags: number): string {
  let s = "";
  if (flags & FLAG_SYN) s += "S";
  if (flags & FLAG_FIN) s += "F";
  if (flags & FLAG_RST) s += "R";
  if (flags & FLAG_PSH) s += "P";
  if (flags & FLAG_URG) s += "U";
  if (flags & FLAG_ECE) s += "E";
  if (flags & FLAG_CWR) s += "W";
  if (flags & FLAG_ACK) s += ".";
  return s === "" ? "-" : s;
}

/**
 * Formats an option list the way packetdrill writes it.
 *
 * @param options the options
 * @returns e.g. `<mss 1460,nop,wscale 7>`
 *
 * @example
 * ```ts
 * import { formatOptions } from "./script.ts";
 * console.assert(formatOptions([{ kind: "mss", value: 1460, text: "" }, { kind: "nop", text: "" }]) ===
 *   "<mss 1460,nop>");
 * ```
 */
export function formatOptions(options: readonly TcpOptionSpec[]): string {
  return `<${options.map(formatOption).join(",")}>`;
}

function formatOption(o: TcpOptionSpec): string {
  switch (o.kind) {
    case "mss":
    case "wscale":
      return `${o.kind} ${o.value}`;
    case "sack":
      return `sack ${(o.blocks ?? []).map(([l, r]) => `${l}:${r}`).join(" ")}`;
    case "TS":
      return `TS val ${o.val} ecr ${o.ecr}`;
    case "nop":
    case "eol":
    case "sackOK":
      return o.kind;
    default:
      return o.text;
  }
}

