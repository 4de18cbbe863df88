/**
 * Time plots of one TCP connection, as self-contained SVG: bytes in flight,
 * the congestion window and the round-trip time of the sending side.
 *
 * - Bytes in flight: highest sequence number sent minus highest
 *   acknowledgement received, after every segment (as seen at the capture point).
 * - Congestion window: taken from live `conn.info().cwnd` samples when given,
 *   otherwise estimated as the peak bytes in flight over the last smoothed RTT
 *   (a capture does not contain the sender's cwnd).
 * - RTT: from matching data to the first ACK covering it, skipping
 *   retransmitted sequence space (Karn's rule, RFC 6298 §3); the smoothing
 *   for the estimate's window uses RFC 6298 §2 (alpha = 1/8).
 * - Loss-recovery marks, as read from the capture: a tail loss probe (RFC 8985 §7: after
 *   about 2·SRTT with no segment either way while data is outstanding, the sender sends new
 *   data or the highest segment again — not the first unacknowledged one, which a
 *   timeout would resend), a D-SACK (RFC 2883 §4: an ACK whose first SACK block lies below
 *   its cumulative ACK or inside its second block) and an undo (RFC 3708: every
 *   retransmission of an episode was reported duplicate by D-SACKs, so a sender that
 *   undoes, as Linux and rawstack do, restored its window there).
 * - ECN marks (RFC 3168 §6.1): a data segment of the sender that arrived CE-marked (as
 *   captured: capture downstream of the marking router, or at the receiver), the first
 *   ECE of each run of ACKs echoing it, the sender's CWR, and the window reduction an
 *   ECE causes: once per window of data (§6.1.2), at the first ECE ACK that covers data
 *   sent after the previous reduction while data is in flight and no loss is being
 *   repaired (as rawstack's ecn.ts and Linux's tcp_enter_cwr decide).
 *
 * @module
 */

import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_SYN } from "../wire/tcp.ts";
import { formatEndpoint, type TcpConnectionTrace } from "./connections.ts";
import { escapeXml } from "./ladder_svg.ts";

/** A point of a series: time since the connection's first segment (ms) and a value. */
export interface SeriesPoint {
  /** Time since the connection's first segment, ms. */
  timeMs: number;
  /** Bytes or milliseconds. */
  value: number;
}

/** A live congestion-window sample, e.g. from `conn.info().cwnd`. */
export interface CwndSample {
  /** Sample time, ms since the Unix epoch (the same clock as the capture). */
  timestampMs: number;
  /** Congestion window in bytes. */
  cwnd: number;
}

/** Options of {@link connectionSeries} and {@link renderPlotSvg}. */
export interface SeriesOptions {
  /** Which side's sending to plot; `"auto"` (default) picks the side that sent more payload. */
  direction?: "auto" | "client" | "server";
  /** Live cwnd samples of the chosen sender (replace the estimate). */
  cwnd?: CwndSample[];
}

/** A loss-recovery or ECN event seen in the capture (see the module notes). */
export interface RecoveryEvent {
  /** Time since the connection's first segment, ms. */
  timeMs: number;
  /**
   * Tail loss probe, D-SACK, undo of a spurious reduction; CE mark on the sender's data,
   * ECE echoed by the receiver (first of a run), CWR sent, window reduction on ECE.
   */
  kind: "tlp" | "dsack" | "undo" | "ce" | "ece" | "cwr" | "ecn-reduction";
  /** 1-based frame number in the capture. */
  frame: number;
}

/** The series of {@link connectionSeries}. */
export interface ConnectionSeries {
  /** The side whose sending is plotted. */
  sender: "client" | "server";
  /** Bytes in flight. */
  flight: SeriesPoint[];
  /** Congestion window (live or estimated). */
  cwnd: SeriesPoint[];
  /** Where the cwnd series comes from. */
  cwndSource: "live" | "estimate";
  /** RTT samples, ms. */
  rtt: SeriesPoint[];
  /** Tail loss probes, D-SACKs, undos and ECN events, in time order. */
  events: RecoveryEvent[];
}

/** RFC 6298 §2.3: SRTT <- (1 - alpha) * SRTT + alpha * R'. */
const RTT_ALPHA = 1 / 8;
/** A silence of at least this many SRTTs before a probe-like segment marks a TLP (PTO = 2·SRTT). */
const TLP_SILENCE_SRTTS = 1.5;
/** The ECN field's CE codepoint (RFC 3168 §5). */
const ECN_CE = 0b11;
const SEQ_SPACE = 0x1_0000_0000;
const SEQ_HALF = 0x8000_0000;

function seqLess(a: number, b: number): boolean {
  const d = (b - a + SEQ_SPACE) % SEQ_SPACE;
  return d !== 0 && d < SEQ_HALF;
}

function forward(from: number, to: number): number {
  return (to - from + SEQ_SPACE) % SEQ_SPACE;
}

/**
 * Computes flight, cwnd and RTT series for one connection.
 *
 * @param conn a connection from `analyzeCapture`
 * @param opts direction, live cwnd samples
 * @returns the series (times relative to the connection's first segment)
 *
 * @example
 * ```ts
 * import { connectionSeries } from "./plot_svg.ts";
 * const s = connectionSeries({
 *   id: 1, client: { address: 1, port: 2 }, server: { address: 3, port: 4 }, sawSyn: false,
 *   startMs: 0, segments: [], clientBytes: 0, serverBytes: 0, closed: false,
 * });
 * console.assert(s.flight.length === 0 && s.cwndSource === "estimate");
 * ```
 */
export function connectionSeries(
  conn: TcpConnectionTrace,
  opts: SeriesOptions = {},
): ConnectionSeries {
  const direction = opts.direction ?? "auto";
  const sender: "client" | "server" = direction === "auto"
    ? (conn.serverBytes > conn.clientBytes ? "server" : "client")
    : direction;
  const fromSender = sender === "client";
  const flight: SeriesPoint[] = [];
  const rtt: SeriesPoint[] = [];
  let maxEnd = 0;
  let sent = false;
  let highAck = 0;
  let acked = false;
  const pending: Array<{ start: number; end: number; t: number }> = [];
  // Retransmitted ranges not yet acknowledged: an ACK reaching into one is ambiguous.
  const resent: Array<{ start: number; end: number }> = [];
  const events: RecoveryEvent[] = [];
  // Retransmissions of the current loss episode, and whether a D-SACK reported each.
  let episode: Array<{ start: number; end: number; dsacked: boolean }> = [];
  let srtt = 0;
  let lastT = -Infinity;
  // RFC 3168 §6.1.2: no second reduction until data sent after the last one is ACKed.
  let ecnRecover = 0;
  // The receiver is echoing ECE (a run ends at an ACK without it, or at the sender's CWR).
  let eceRun = false;
  for (const s of conn.segments) {
    const t = s.timeMs - conn.startMs;
    const silence = t - lastT;
    lastT = t;
    if (s.fromClient === fromSender) {
      if (s.ecn === ECN_CE) events.push({ timeMs: t, kind: "ce", frame: s.frame });
      if ((s.flags & (TCP_CWR | TCP_SYN)) === TCP_CWR) {
        events.push({ timeMs: t, kind: "cwr", frame: s.frame });
        eceRun = false;
      }
      const seqLen = s.len + (s.flags & TCP_SYN ? 1 : 0) + (s.flags & TCP_FIN ? 1 : 0);
      if (seqLen === 0) continue;
      const end = (s.seq + seqLen) % SEQ_SPACE;
      const outstanding = sent && acked && seqLess(highAck, maxEnd);
      // RFC 8985 §7.3: after a silence of about 2·SRTT, new data or the highest segment again.
      const probeLike = (!s.retransmission && s.seq === maxEnd) ||
        (s.retransmission && end === maxEnd && s.seq !== highAck);
      if (outstanding && srtt > 0 && silence >= TLP_SILENCE_SRTTS * srtt && probeLike) {
        events.push({ timeMs: t, kind: "tlp", frame: s.frame });
      }
      if (s.retransmission) {
        if (episode.every((r) => !seqLess(highAck, r.end))) episode = [];
        episode.push({ start: s.seq, end, dsacked: false });
      }
      if (s.retransmission || s.fillsGap) {
        // Karn's rule (RFC 6298 §3): no RTT sample from retransmitted sequence space.
        for (let i = pending.length - 1; i >= 0; i--) {
          const p = pending[i];
          if (seqLess(p.start, end) && seqLess(s.seq, p.end)) pending.splice(i, 1);
        }
        resent.push({ start: s.seq, end });
      } else {
        pending.push({ start: s.seq, end, t });
      }
      if (!sent || seqLess(maxEnd, end)) maxEnd = end;
      if (!sent && !acked) highAck = s.seq;
      sent = true;
      flight.push({ timeMs: t, value: forward(highAck, maxEnd) });
    } else if (s.flags & TCP_ACK) {
      if ((s.flags & (TCP_ECE | TCP_SYN)) === TCP_ECE) {
        if (!eceRun) events.push({ timeMs: t, kind: "ece", frame: s.frame });
        eceRun = true;
        // §6.1.2: the ECE of an ACK covering data sent after the last reduction, with data
        // in flight and no retransmission outstanding (loss recovery reduced already).
        if (
          sent && acked && seqLess(ecnRecover, s.ack) && !seqLess(s.ack, highAck) &&
          seqLess(highAck, maxEnd) && resent.length === 0
        ) {
          events.push({ timeMs: t, kind: "ecn-reduction", frame: s.frame });
          ecnRecover = maxEnd;
        }
      } else if ((s.flags & TCP_SYN) === 0) {
        eceRun = false;
      }
      if (s.sack.length >= 2 && isDsack(s.sack, s.ack)) {
        events.push({ timeMs: t, kind: "dsack", frame: s.frame });
        const left = s.sack[0];
        const right = s.sack[1];
        let reported = false;
        for (const r of episode) {
          if (!r.dsacked && !seqLess(r.start, left) && !seqLess(right, r.end)) {
            r.dsacked = reported = true;
          }
        }
        // RFC 3708 §3: every retransmission of the episode arrived twice: spurious.
        if (reported && episode.every((r) => r.dsacked)) {
          events.push({ timeMs: t, kind: "undo", frame: s.frame });
          episode = [];
        }
      }
      if (acked && !seqLess(highAck, s.ack)) continue;
      if (sent && seqLess(maxEnd, s.ack)) continue; // acknowledges something never seen sent
      // Karn: this ACK is ambiguous when it newly covers retransmitted bytes.
      const ambiguous = resent.some((r) =>
        seqLess(r.start, s.ack) && (!acked || seqLess(highAck, r.end))
      );
      for (let i = resent.length - 1; i >= 0; i--) {
        if (!seqLess(s.ack, resent[i].end)) resent.splice(i, 1);
      }
      highAck = s.ack;
      acked = true;
      let sample = -1;
      while (pending.length > 0 && !seqLess(s.ack, pending[0].end)) {
        sample = t - pending[0].t; // the latest segment fully covered by this ACK
        pending.shift();
      }
      if (sample >= 0 && !ambiguous) {
        rtt.push({ timeMs: t, value: sample });
        srtt = srtt === 0 ? sample : (1 - RTT_ALPHA) * srtt + RTT_ALPHA * sample;
      }
      if (sent) flight.push({ timeMs: t, value: forward(highAck, maxEnd) });
    }
  }
  if (opts.cwnd !== undefined && opts.cwnd.length > 0) {
    return {
      sender,
      flight,
      rtt,
      events,
      cwndSource: "live",
      cwnd: opts.cwnd.map((c) => ({ timeMs: c.timestampMs - conn.startMs, value: c.cwnd })),
    };
  }
  return {
    sender,
    flight,
    rtt,
    events,
    cwndSource: "estimate",
    cwnd: estimateCwnd(flight, rtt),
  };
}

/** RFC 2883 §4: the first block lies below the cumulative ACK, or inside the second block. */
function isDsack(sack: number[], ack: number): boolean {
  if (!seqLess(ack, sack[1])) return true;
  return sack.length >= 4 && !seqLess(sack[0], sack[2]) && !seqLess(sack[3], sack[1]);
}

/** Peak bytes in flight over the last smoothed RTT, after every flight point. */
function estimateCwnd(flight: SeriesPoint[], rtt: SeriesPoint[]): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  let srtt = 0;
  let r = 0;
  let left = 0;
  const deque: number[] = []; // indices into flight with decreasing values
  for (let i = 0; i < flight.length; i++) {
    const t = flight[i].timeMs;
    while (r < rtt.length && rtt[r].timeMs <= t) {
      srtt = srtt === 0 ? rtt[r].value : (1 - RTT_ALPHA) * srtt + RTT_ALPHA * rtt[r].value;
      r++;
    }
    while (deque.length > 0 && flight[deque[deque.length - 1]].value <= flight[i].value) {
      deque.pop();
    }
    deque.push(i);
    if (srtt > 0) {
      while (left < i && flight[left].timeMs < t - srtt) left++;
      while (deque.length > 0 && deque[0] < left) deque.shift();
    }
    out.push({ timeMs: t, value: flight[deque[0]].value });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Drawing

/** Width of the plot picture, px. */
export const PLOT_SVG_WIDTH = 960;
const PANEL_HEIGHT = 230;
const MARGIN_LEFT = 90;
const MARGIN_RIGHT = 30;
const TITLE_PX = 50;
const PANEL_GAP = 60;
const TICKS = 5;
const COLOR_FLIGHT = "#1f4e9c";
const COLOR_CWND = "#ef6c00";
const COLOR_RTT = "#c62828";
/** Colours and labels of the loss-recovery marks. */
const EVENT_STYLE: Record<RecoveryEvent["kind"], { color: string; label: string }> = {
  tlp: { color: "#6a1b9a", label: "TLP" },
  dsack: { color: "#2e7d32", label: "D-SACK" },
  undo: { color: "#00838f", label: "undo" },
  ce: { color: "#d81b60", label: "CE" },
  ece: { color: "#f9a825", label: "ECE" },
  cwr: { color: "#5d4037", label: "CWR" },
  "ecn-reduction": { color: "#b71c1c", label: "ECN cwnd cut" },
};
const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';

function n(x: number): string {
  return String(Math.round(x * 10) / 10);
}

/** A "nice" axis maximum and step (1, 2 or 5 times a power of ten). */
function niceAxis(max: number): { max: number; step: number } {
  if (!(max > 0)) return { max: 1, step: 1 / TICKS };
  const raw = max / TICKS;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const f = raw / pow;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow;
  return { max: Math.ceil(max / step) * step, step };
}

function tickLabel(v: number, step: number): string {
  const decimals = step >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(step)));
  return v.toFixed(decimals);
}

interface Panel {
  top: number;
  title: string;
  unit: string;
  yMax: number;
  /** Loss-recovery marks drawn as vertical lines. */
  events?: RecoveryEvent[];
  series: Array<
    {
      points: SeriesPoint[];
      color: string;
      name: string;
      dashed?: boolean;
      dots?: boolean;
      step?: boolean;
    }
  >;
}

/**
 * Draws the flight/cwnd and RTT plots of one connection as a standalone SVG.
 *
 * @param conn a connection from `analyzeCapture`
 * @param opts direction, live cwnd samples
 * @returns the SVG text
 *
 * @example
 * ```ts
 * import { renderPlotSvg } from "./plot_svg.ts";
 * const svg = renderPlotSvg({
 *   id: 1, client: { address: 1, port: 2 }, server: { address: 3, port: 4 }, sawSyn: false,
 *   startMs: 0, segments: [], clientBytes: 0, serverBytes: 0, closed: false,
 * });
 * console.assert(svg.startsWith("<svg") && svg.includes("no data"));
 * ```
 */
export function renderPlotSvg(conn: TcpConnectionTrace, opts: SeriesOptions = {}): string {
  const s = connectionSeries(conn, opts);
  const all = [...s.flight, ...s.cwnd, ...s.rtt];
  const tMax = niceAxis(all.reduce((m, p) => Math.max(m, p.timeMs), 0));
  const bytesMax = niceAxis([...s.flight, ...s.cwnd].reduce((m, p) => Math.max(m, p.value), 0));
  const rttMax = niceAxis(s.rtt.reduce((m, p) => Math.max(m, p.value), 0));
  const height = TITLE_PX + 2 * PANEL_HEIGHT + 2 * PANEL_GAP;
  const senderEnd = s.sender === "client" ? conn.client : conn.server;
  const title = `TCP connection ${conn.id}: ${formatEndpoint(conn.client)} → ${
    formatEndpoint(conn.server)
  } — sending side ${formatEndpoint(senderEnd)} (${s.sender})`;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${PLOT_SVG_WIDTH}" height="${height}" ` +
      `viewBox="0 0 ${PLOT_SVG_WIDTH} ${height}" ${FONT} font-size="12">`,
  );
  out.push(`<title>${escapeXml(title)}</title>`);
  out.push(`<rect x="0" y="0" width="${PLOT_SVG_WIDTH}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text x="${
      PLOT_SVG_WIDTH / 2
    }" y="24" text-anchor="middle" font-size="14" font-weight="bold">` +
      `${escapeXml(title)}</text>`,
  );
  const panels: Panel[] = [
    {
      top: TITLE_PX,
      title: "bytes in flight and congestion window",
      unit: "bytes",
      yMax: bytesMax.max,
      events: s.events,
      series: [
        { points: s.flight, color: COLOR_FLIGHT, name: "bytes in flight", step: true },
        {
          points: s.cwnd,
          color: COLOR_CWND,
          name: s.cwndSource === "live"
            ? "cwnd (live, conn.info())"
            : "cwnd estimate (peak flight per RTT)",
          dashed: true,
          step: true,
        },
      ],
    },
    {
      top: TITLE_PX + PANEL_HEIGHT + PANEL_GAP,
      title: "round-trip time (data → ACK, Karn's rule)",
      unit: "ms",
      yMax: rttMax.max,
      series: [{ points: s.rtt, color: COLOR_RTT, name: "RTT sample", dots: true }],
    },
  ];
  const axes = [bytesMax, rttMax];
  for (let i = 0; i < panels.length; i++) out.push(renderPanel(panels[i], axes[i].step, tMax));
  out.push("</svg>");
  return out.join("\n") + "\n";
}

function renderPanel(p: Panel, yStep: number, t: { max: number; step: number }): string {
  const x0 = MARGIN_LEFT;
  const x1 = PLOT_SVG_WIDTH - MARGIN_RIGHT;
  const y0 = p.top + PANEL_HEIGHT;
  const y1 = p.top + 34;
  const sx = (v: number) => x0 + (v / t.max) * (x1 - x0);
  const sy = (v: number) => y0 - (v / p.yMax) * (y0 - y1);
  const out: string[] = [];
  out.push(`<g class="panel">`);
  out.push(`<text x="${x0}" y="${p.top + 2}" font-weight="bold">${escapeXml(p.title)}</text>`);
  // Grid and ticks.
  for (let v = 0; v <= p.yMax + yStep / 2; v += yStep) {
    out.push(
      `<line x1="${x0}" y1="${n(sy(v))}" x2="${x1}" y2="${n(sy(v))}" stroke="#e0e0e0"/>` +
        `<text x="${x0 - 6}" y="${n(sy(v) + 4)}" text-anchor="end" fill="#555555">${
          tickLabel(v, yStep)
        }</text>`,
    );
  }
  for (let v = 0; v <= t.max + t.step / 2; v += t.step) {
    out.push(
      `<line x1="${n(sx(v))}" y1="${y0}" x2="${n(sx(v))}" y2="${y0 + 5}" stroke="#333333"/>` +
        `<text x="${n(sx(v))}" y="${y0 + 18}" text-anchor="middle" fill="#555555">${
          tickLabel(v, t.step)
        }</text>`,
    );
  }
  out.push(
    `<line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y0}" stroke="#333333"/>` +
      `<line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y1}" stroke="#333333"/>`,
  );
  out.push(`<text x="${x1}" y="${y0 + 34}" text-anchor="end" fill="#555555">time (ms)</text>`);
  out.push(
    `<text x="16" y="${n((y0 + y1) / 2)}" fill="#555555" transform="rotate(-90 16 ${
      n((y0 + y1) / 2)
    })" text-anchor="middle">${escapeXml(p.unit)}</text>`,
  );
  let legendX = x0 + 10;
  let anyPoints = false;
  for (const s of p.series) {
    if (s.points.length === 0) continue;
    anyPoints = true;
    if (s.dots) {
      for (const pt of s.points) {
        out.push(
          `<circle cx="${n(sx(pt.timeMs))}" cy="${n(sy(pt.value))}" r="3" fill="${s.color}"/>`,
        );
      }
    } else {
      const coords: string[] = [];
      let prev: SeriesPoint | null = null;
      for (const pt of s.points) {
        if (s.step && prev !== null) coords.push(`${n(sx(pt.timeMs))},${n(sy(prev.value))}`);
        coords.push(`${n(sx(pt.timeMs))},${n(sy(pt.value))}`);
        prev = pt;
      }
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="1.8"${
          s.dashed ? ` stroke-dasharray="6 4"` : ""
        } points="${coords.join(" ")}"/>`,
      );
    }
    out.push(
      `<rect x="${legendX}" y="${y1 - 18}" width="14" height="4" fill="${s.color}"/>` +
        `<text x="${legendX + 20}" y="${y1 - 12}" fill="${s.color}">${escapeXml(s.name)}</text>`,
    );
    legendX += 40 + s.name.length * 7;
  }
  const events = p.events ?? [];
  const kinds = new Set<RecoveryEvent["kind"]>();
  for (const e of events) {
    const style = EVENT_STYLE[e.kind];
    kinds.add(e.kind);
    const x = n(sx(e.timeMs));
    out.push(
      `<line class="event-${e.kind}" x1="${x}" y1="${y0}" x2="${x}" y2="${y1}" ` +
        `stroke="${style.color}" stroke-dasharray="2 3"><title>${style.label} (frame ${e.frame}, ${
          n(e.timeMs)
        } ms)</title></line>` +
        `<text x="${x}" y="${y1 + 10}" text-anchor="middle" font-size="10" fill="${style.color}">` +
        `${style.label}</text>`,
    );
  }
  for (const kind of kinds) {
    const style = EVENT_STYLE[kind];
    out.push(
      `<rect x="${legendX}" y="${y1 - 20}" width="2" height="8" fill="${style.color}"/>` +
        `<text x="${legendX + 8}" y="${y1 - 12}" fill="${style.color}">${style.label}</text>`,
    );
    legendX += 30 + style.label.length * 7;
  }
  if (!anyPoints) {
    out.push(
      `<text x="${(x0 + x1) / 2}" y="${(y0 + y1) / 2}" text-anchor="middle" fill="#999999">` +
        `no data segments in this direction</text>`,
    );
  }
  out.push("</g>");
  return out.join("\n");
}
