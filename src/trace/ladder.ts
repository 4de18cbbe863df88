/**
 * Ladder diagrams (time-sequence diagrams) as the textbooks draw them: two
 * vertical lines, one per host, and one arrow per packet from the sender's
 * line to the receiver's, time running down. A {@link LadderDiagram} is built
 * from a traced TCP connection ({@link tcpLadder}) or from all traffic
 * between two hosts, ARP and ICMP included ({@link hostLadder}), and drawn as
 * fixed-width text ({@link renderLadderText}) or SVG (`ladder_svg.ts`).
 *
 * @module
 */

import { formatIpv4 } from "../wire/address.ts";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "../wire/tcp.ts";
import {
  type CaptureAnalysis,
  formatEndpoint,
  formatTcpFlags,
  type TcpConnectionTrace,
  type TraceSegment,
} from "./connections.ts";

/** A mark drawn beside an arrow. */
export type LadderMark =
  | "retransmission"
  | "spurious"
  | "lost"
  | "fills-gap"
  | "dup-ack"
  | "reset";

/** One line of a ladder: an arrow, or a note across both lines. */
export interface LadderRow {
  /** `"arrow"` for a packet, `"note"` for commentary (e.g. bytes missing from the capture). */
  kind: "arrow" | "note";
  /** Time since the diagram's origin, ms. */
  timeMs: number;
  /** Sent by the left host. */
  fromLeft: boolean;
  /** Text on the arrow, e.g. `"SYN seq=0 win=64240 <mss 1460>"`. */
  label: string;
  /** Marks: retransmission, lost, ... */
  marks: LadderMark[];
  /** 1-based capture frame number (0 for notes). */
  frame: number;
}

/** Something to draw: two hosts and the rows between them. */
export interface LadderDiagram {
  /** Title, e.g. `"TCP connection 1"`. */
  title: string;
  /** Left host name (the client). */
  left: string;
  /** Right host name (the server). */
  right: string;
  /** Rows in time order. */
  rows: LadderRow[];
}

/** Options of {@link tcpLadder}. */
export interface TcpLadderOptions {
  /** Time origin, ms since the Unix epoch (default the connection's first segment). */
  originMs?: number;
  /** Show TCP options on SYNs (default true). */
  options?: boolean;
}

/**
 * The label of one segment: flags, relative seq/ack, length, window, options.
 *
 * @param s the segment
 * @param withOptions include `<mss ...>` options
 * @returns e.g. `"PSH,ACK seq=1 ack=1 len=87 win=64512"`
 *
 * @example
 * ```ts
 * import { segmentLabel } from "./ladder.ts";
 * const label = segmentLabel({
 *   frame: 1, timeMs: 0, fromClient: true, flags: 0x02, seq: 0, ack: 0, len: 0, window: 64240,
 *   rawWindow: 64240, options: "mss 1460", sack: [], retransmission: false, spurious: false,
 *   lost: false, gapBefore: 0, fillsGap: false, dupAck: 0, ecn: 0,
 * });
 * console.assert(label === "SYN seq=0 win=64240 <mss 1460>");
 * ```
 */
export function segmentLabel(s: TraceSegment, withOptions = true): string {
  let text = `${formatTcpFlags(s.flags)} seq=${s.seq}`;
  if (s.flags & TCP_ACK) text += ` ack=${s.ack}`;
  if (s.len > 0) text += ` len=${s.len}`;
  text += ` win=${s.window}`;
  if (withOptions && s.options !== "") text += ` <${s.options}>`;
  if (s.sack.length > 0) {
    const blocks: string[] = [];
    for (let i = 0; i + 1 < s.sack.length; i += 2) blocks.push(`${s.sack[i]}-${s.sack[i + 1]}`);
    text += ` <sack ${blocks.join(",")}>`;
  }
  return text;
}

function segmentMarks(s: TraceSegment): LadderMark[] {
  const marks: LadderMark[] = [];
  if (s.retransmission) marks.push(s.spurious ? "spurious" : "retransmission");
  if (s.lost) marks.push("lost");
  if (s.fillsGap) marks.push("fills-gap");
  if (s.dupAck > 0) marks.push("dup-ack");
  if (s.flags & TCP_RST) marks.push("reset");
  return marks;
}

function gapNote(s: TraceSegment, originMs: number): LadderRow {
  return {
    kind: "note",
    timeMs: s.timeMs - originMs,
    fromLeft: s.fromClient,
    label: `${s.gapBefore} bytes from the ${
      s.fromClient ? "client" : "server"
    } are missing here (lost before the capture point)`,
    marks: [],
    frame: 0,
  };
}

/**
 * The ladder of one TCP connection: client on the left, server on the right.
 *
 * @param conn a connection from `analyzeCapture`
 * @param opts time origin, options on SYNs
 * @returns the diagram
 *
 * @example
 * ```ts
 * import { tcpLadder } from "./ladder.ts";
 * const d = tcpLadder({
 *   id: 1, client: { address: 0xc0000202, port: 40000 }, server: { address: 0xc0000201, port: 80 },
 *   sawSyn: true, startMs: 0, segments: [], clientBytes: 0, serverBytes: 0, closed: false,
 * });
 * console.assert(d.left === "192.0.2.2:40000" && d.rows.length === 0);
 * ```
 */
export function tcpLadder(conn: TcpConnectionTrace, opts: TcpLadderOptions = {}): LadderDiagram {
  const origin = opts.originMs ?? conn.startMs;
  const rows: LadderRow[] = [];
  for (const s of conn.segments) {
    if (s.gapBefore > 0) rows.push(gapNote(s, origin));
    rows.push({
      kind: "arrow",
      timeMs: s.timeMs - origin,
      fromLeft: s.fromClient,
      label: segmentLabel(s, opts.options ?? true),
      marks: segmentMarks(s),
      frame: s.frame,
    });
  }
  return {
    title: `TCP connection ${conn.id}: ${formatEndpoint(conn.client)} → ${
      formatEndpoint(conn.server)
    }`,
    left: formatEndpoint(conn.client),
    right: formatEndpoint(conn.server),
    rows,
  };
}

/** Options of {@link hostLadder}. */
export interface HostLadderOptions {
  /** Time origin, ms since the Unix epoch (default the first frame drawn). */
  originMs?: number;
  /** Left host name (default its address). */
  leftName?: string;
  /** Right host name (default its address). */
  rightName?: string;
}

/**
 * Every packet between two hosts — ARP, ICMP, UDP and TCP (with each
 * connection's relative numbers) — as one ladder. ARP requests are broadcast;
 * they are drawn toward the host that owns the address asked for.
 *
 * @param analysis the result of `analyzeCapture`
 * @param left the left host's IPv4 address (int32 as `readIpv4` gives it, or the unsigned
 *   form: both are accepted), usually the client
 * @param right the right host's IPv4 address (int32 or unsigned)
 * @param opts origin and names
 * @returns the diagram
 *
 * @example
 * ```ts
 * import { analyzeCapture } from "./connections.ts";
 * import { hostLadder } from "./ladder.ts";
 * const d = hostLadder(analyzeCapture([]), 0xc0000202, 0xc0000201);
 * console.assert(d.left === "192.0.2.2" && d.rows.length === 0);
 * ```
 */
export function hostLadder(
  analysis: CaptureAnalysis,
  left: number,
  right: number,
  opts: HostLadderOptions = {},
): LadderDiagram {
  // Decoded frames carry int32 addresses (see address.ts): compare in that form.
  left |= 0;
  right |= 0;
  const rows: LadderRow[] = [];
  const between = (a: number, b: number) =>
    (a === left && b === right) || (a === right && b === left);
  const drawn = analysis.frames.filter((f) =>
    (f.kind === "arp" || f.kind === "icmp" || f.kind === "udp" || f.kind === "tcp" ||
      f.kind === "ipv4") && between(f.src, f.dst)
  );
  const origin = opts.originMs ?? (drawn.length > 0 ? drawn[0].timeMs : 0);
  const connIds = new Set<number>();
  for (const f of drawn) {
    const at = analysis.segmentOfFrame.get(f.index);
    if (at !== undefined) connIds.add(at.connection);
  }
  const manyConnections = connIds.size > 1;
  for (const f of drawn) {
    const fromLeft = f.src === left;
    const at = analysis.segmentOfFrame.get(f.index);
    if (f.kind === "tcp" && at !== undefined) {
      const conn = analysis.connections[at.connection - 1];
      const s = conn.segments[at.segment];
      if (s.gapBefore > 0) rows.push(gapNote(s, origin));
      const sender = s.fromClient ? conn.client : conn.server;
      const receiver = s.fromClient ? conn.server : conn.client;
      const ports = `${sender.port} → ${receiver.port}`;
      rows.push({
        kind: "arrow",
        timeMs: f.timeMs - origin,
        fromLeft,
        label: `${manyConnections ? `#${conn.id} ` : ""}${ports} ${segmentLabel(s)}`,
        marks: segmentMarks(s),
        frame: f.index,
      });
    } else {
      rows.push({
        kind: "arrow",
        timeMs: f.timeMs - origin,
        fromLeft,
        label: f.summary,
        marks: [],
        frame: f.index,
      });
    }
  }
  return {
    title: `${opts.leftName ?? formatIpv4(left)} ⇄ ${opts.rightName ?? formatIpv4(right)}`,
    left: opts.leftName ?? formatIpv4(left),
    right: opts.rightName ?? formatIpv4(right),
    rows,
  };
}

/** Options of {@link renderLadderText}. */
export interface LadderTextOptions {
  /** Longest arrow label before it is cut with "…" (default 72 columns). */
  maxLabel?: number;
  /** Show the frame number column (default false). */
  frameNumbers?: boolean;
}

/** Default width cap of arrow labels in the text ladder, columns. */
export const LADDER_TEXT_MAX_LABEL = 72;
const TIME_COLUMN = 12;
const MIN_SPAN = 30;
const ARROW_PAD = 4;

function markText(marks: LadderMark[]): string {
  if (marks.length === 0) return "";
  return "  " + marks.map((m) => m.toUpperCase()).join(" ");
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + "…";
}

/**
 * Draws a ladder as fixed-width text for a terminal:
 *
 * ```text
 *        time  192.0.2.1:41000                                192.0.2.2:8080
 *     0.000ms  |---- SYN seq=0 win=64240 <mss 1460,sackOK> ---->|
 *     0.038ms  |<--- SYN,ACK seq=0 ack=1 win=65160 ... ---------|
 * ```
 *
 * Lost segments end in `X` before reaching the other line; marks
 * (RETRANSMISSION, LOST, DUP-ACK, ...) follow the right line.
 *
 * @param d the diagram
 * @param opts label cap, frame numbers
 * @returns the text, lines joined by "\n", ending with a newline
 *
 * @example
 * ```ts
 * import { renderLadderText } from "./ladder.ts";
 * const text = renderLadderText({
 *   title: "t", left: "a", right: "b",
 *   rows: [{ kind: "arrow", timeMs: 0, fromLeft: true, label: "SYN", marks: [], frame: 1 }],
 * });
 * console.assert(text.includes("0.000ms") && text.includes("SYN") && text.includes("->|"));
 * ```
 */
export function renderLadderText(d: LadderDiagram, opts: LadderTextOptions = {}): string {
  const maxLabel = opts.maxLabel ?? LADDER_TEXT_MAX_LABEL;
  let longest = 0;
  for (const r of d.rows) {
    if (r.kind === "arrow") longest = Math.max(longest, cut(r.label, maxLabel).length);
  }
  const span = Math.max(MIN_SPAN, longest + 2 * ARROW_PAD + 4, d.left.length + 2);
  const lines: string[] = [];
  const frameCol = opts.frameNumbers ? 6 : 0;
  lines.push(d.title);
  const header = " ".repeat(frameCol) + "time".padStart(TIME_COLUMN) + "  " +
    d.left.padEnd(span) + d.right;
  lines.push(header);
  for (const r of d.rows) {
    const time = `${r.timeMs.toFixed(3)}ms`.padStart(TIME_COLUMN);
    const frame = opts.frameNumbers ? (r.frame > 0 ? `#${r.frame}` : "").padEnd(frameCol) : "";
    if (r.kind === "note") {
      const text = ` ~ ${r.label} ~ `;
      lines.push(`${frame}${time}  |${text.padEnd(span - 1, " ")}|`);
      continue;
    }
    lines.push(`${frame}${time}  ${arrowText(r, span, maxLabel)}${markText(r.marks)}`);
  }
  return lines.join("\n") + "\n";
}

function arrowText(r: LadderRow, span: number, maxLabel: number): string {
  const inner = span - 1; // characters between the two bars
  const label = ` ${cut(r.label, maxLabel)} `;
  const lost = r.marks.includes("lost");
  const dashes = inner - label.length - 1; // minus the arrow head
  const before = Math.max(2, Math.floor(dashes / 2));
  const after = Math.max(2, dashes - before);
  let body: string;
  if (r.fromLeft) {
    body = "-".repeat(before) + label + "-".repeat(after) + ">";
    if (lost) body = body.slice(0, body.length - 1 - ARROW_PAD) + "X" + " ".repeat(ARROW_PAD);
    return `|${body.padEnd(inner, " ")}|`;
  }
  body = "<" + "-".repeat(before) + label + "-".repeat(after);
  if (lost) body = " ".repeat(ARROW_PAD) + "X" + body.slice(ARROW_PAD + 1);
  return `|${body.padEnd(inner, " ")}|`;
}

/**
 * Which rows of a TCP connection are the textbook's steps: handshake,
 * data, FIN exchange. Handy to narrate a ladder.
 *
 * @param s a segment
 * @returns `"handshake"`, `"data"`, `"ack"`, `"close"` or `"reset"`
 *
 * @example
 * ```ts
 * import { segmentRole } from "./ladder.ts";
 * console.assert(segmentRole({ flags: 0x02, len: 0 }) === "handshake");
 * ```
 */
export function segmentRole(s: Pick<TraceSegment, "flags" | "len">): string {
  if (s.flags & TCP_RST) return "reset";
  if (s.flags & TCP_SYN) return "handshake";
  if (s.flags & TCP_FIN) return "close";
  if (s.len > 0) return "data";
  return "ack";
}
