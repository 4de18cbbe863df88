import assert from "node:assert/strict";
import { analyzeCapture } from "../../src/trace/connections.ts";
import { connectionSeries, renderPlotSvg } from "../../src/trace/plot_svg.ts";
import { handshake, TCP_ACK, tcpFrame } from "./_frames.ts";
import { TCP_CWR, TCP_ECE } from "../../src/wire/tcp.ts";

function lossCapture() {
  return analyzeCapture([
    ...handshake(),
    tcpFrame({ t: 3, fromClient: true, flags: TCP_ACK, seq: 1, ack: 1, len: 1000 }),
    tcpFrame({ t: 4, fromClient: true, flags: TCP_ACK, seq: 1001, ack: 1, len: 1000 }),
    tcpFrame({ t: 5, fromClient: true, flags: TCP_ACK, seq: 2001, ack: 1, len: 1000 }),
    tcpFrame({ t: 6, fromClient: false, flags: TCP_ACK, seq: 1, ack: 1001 }),
    tcpFrame({ t: 7, fromClient: false, flags: TCP_ACK, seq: 1, ack: 1001 }),
    tcpFrame({ t: 9, fromClient: true, flags: TCP_ACK, seq: 1001, ack: 1, len: 1000 }),
    tcpFrame({ t: 10, fromClient: false, flags: TCP_ACK, seq: 1, ack: 3001 }),
  ]).connections[0];
}

Deno.test("connectionSeries tracks bytes in flight of the sending side", () => {
  const s = connectionSeries(lossCapture());
  assert.equal(s.sender, "client");
  assert.deepEqual(s.flight.map((p) => [p.timeMs, p.value]), [
    [0, 1], // SYN
    [1, 0], // SYN-ACK acknowledges it
    [3, 1000],
    [4, 2000],
    [5, 3000],
    [6, 2000],
    [9, 2000], // the retransmission adds nothing new
    [10, 0],
  ]);
});

Deno.test("connectionSeries takes RTT samples by Karn's rule", () => {
  const s = connectionSeries(lossCapture());
  // SYN→SYN-ACK 1 ms, data→ACK 1001 3 ms; ACK 3001 covers retransmitted bytes: no sample.
  assert.deepEqual(s.rtt.map((p) => [p.timeMs, p.value]), [[1, 1], [6, 3]]);
});

Deno.test("connectionSeries estimates cwnd as peak flight per RTT, or takes live samples", () => {
  const conn = lossCapture();
  const est = connectionSeries(conn);
  assert.equal(est.cwndSource, "estimate");
  assert.equal(est.cwnd.length, est.flight.length);
  assert.equal(Math.max(...est.cwnd.map((p) => p.value)), 3000);
  for (let i = 0; i < est.cwnd.length; i++) assert.ok(est.cwnd[i].value >= est.flight[i].value);
  const live = connectionSeries(conn, { cwnd: [{ timestampMs: conn.startMs + 5, cwnd: 14480 }] });
  assert.equal(live.cwndSource, "live");
  assert.deepEqual(live.cwnd, [{ timeMs: 5, value: 14480 }]);
});

Deno.test("renderPlotSvg draws the three series with axes", () => {
  const svg = renderPlotSvg(lossCapture());
  assert.ok(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"));
  assert.equal((svg.match(/<polyline/g) ?? []).length, 2, "flight and cwnd");
  assert.equal((svg.match(/<circle/g) ?? []).length, 2, "two RTT samples");
  assert.ok(svg.includes("time (ms)") && svg.includes("bytes in flight"));
  assert.ok(!/href=|<script/.test(svg));
});

/** Four segments, the last two lost; a tail loss probe at 2·SRTT; RACK repairs the third. */
function tailLossCapture() {
  const data = (t: number, seq: number) =>
    tcpFrame({ t, fromClient: true, flags: TCP_ACK, seq, ack: 1, len: 1000 });
  const ack = (t: number, n: number, sack?: number[]) =>
    tcpFrame({ t, fromClient: false, flags: TCP_ACK, seq: 1, ack: n, sack });
  return analyzeCapture([
    ...handshake(),
    data(3, 1),
    data(4, 1001),
    data(5, 2001),
    data(6, 3001),
    ack(7, 2001),
    data(15, 3001), // 8 ms of silence, then the highest segment again: a probe
    ack(18, 2001, [3001, 4001]),
    data(18, 2001),
    ack(21, 4001),
  ]).connections[0];
}

/** A segment retransmitted that was only late: the peer D-SACKs it, the sender may undo. */
function spuriousCapture() {
  const data = (t: number, seq: number) =>
    tcpFrame({ t, fromClient: true, flags: TCP_ACK, seq, ack: 1, len: 1000 });
  const ack = (t: number, n: number, sack?: number[]) =>
    tcpFrame({ t, fromClient: false, flags: TCP_ACK, seq: 1, ack: n, sack });
  return analyzeCapture([
    ...handshake(),
    data(3, 1),
    data(3, 1001),
    data(3, 2001),
    data(3, 3001),
    ack(6, 1, [1001, 4001]),
    data(6, 1),
    ack(7, 4001),
    ack(9, 4001, [1, 1001]),
  ]).connections[0];
}

Deno.test("connectionSeries marks a tail loss probe: the highest segment after 2·SRTT of silence (RFC 8985 §7)", () => {
  const s = connectionSeries(tailLossCapture());
  assert.deepEqual(s.events.map((e) => [e.kind, e.timeMs]), [["tlp", 15]]);
  // The repair of the third segment is not a probe (it starts at the cumulative ACK).
  assert.ok(!s.events.some((e) => e.timeMs === 18));
});

Deno.test("connectionSeries marks D-SACKs and the undo they allow (RFC 2883 §4, RFC 3708)", () => {
  const s = connectionSeries(spuriousCapture());
  assert.deepEqual(s.events.map((e) => [e.kind, e.timeMs]), [["dsack", 9], ["undo", 9]]);
  // A D-SACK inside the second block counts too.
  const inside = analyzeCapture([
    ...handshake(),
    tcpFrame({ t: 3, fromClient: true, flags: TCP_ACK, seq: 1, ack: 1, len: 1000 }),
    tcpFrame({ t: 3, fromClient: true, flags: TCP_ACK, seq: 1001, ack: 1, len: 1000 }),
    tcpFrame({ t: 3, fromClient: true, flags: TCP_ACK, seq: 2001, ack: 1, len: 1000 }),
    tcpFrame({ t: 5, fromClient: false, flags: TCP_ACK, seq: 1, ack: 1, sack: [1001, 2001] }),
    tcpFrame({
      t: 6,
      fromClient: false,
      flags: TCP_ACK,
      seq: 1,
      ack: 1,
      sack: [1001, 2001, 1001, 3001],
    }),
  ]).connections[0];
  assert.deepEqual(connectionSeries(inside).events.map((e) => e.kind), ["dsack"]);
});

Deno.test("renderPlotSvg draws the loss-recovery marks", () => {
  const svg = renderPlotSvg(tailLossCapture());
  assert.equal((svg.match(/class="event-tlp"/g) ?? []).length, 1);
  const spurious = renderPlotSvg(spuriousCapture());
  assert.ok(spurious.includes(`class="event-dsack"`) && spurious.includes(`class="event-undo"`));
  assert.ok(spurious.includes(">D-SACK</text>") && spurious.includes(">undo</text>"));
});

Deno.test("connectionSeries marks CE, the first ECE of a run, CWR and one ECN reduction per window (RFC 3168 §6.1)", () => {
  const ECT0 = 2;
  const CE = 3;
  const data = (t: number, seq: number, tos = ECT0, flags = TCP_ACK) =>
    tcpFrame({ t, fromClient: true, flags, seq, ack: 1, len: 1000, tos });
  const ack = (t: number, n: number, flags = TCP_ACK) =>
    tcpFrame({ t, fromClient: false, flags, seq: 1, ack: n });
  const conn = analyzeCapture([
    ...handshake(),
    data(3, 1),
    data(3, 1001, CE), // frame 5: marked
    data(3, 2001),
    ack(10, 1001), // frame 7
    ack(10, 2001, TCP_ACK | TCP_ECE), // frame 8: echo starts, the window is cut
    ack(10, 3001, TCP_ACK | TCP_ECE), // frame 9: same run, same window: no second cut
    data(11, 3001, ECT0, TCP_ACK | TCP_CWR), // frame 10: CWR
    ack(20, 4001), // frame 11: the echo stopped
    data(21, 4001, CE), // frame 12
    ack(30, 5001, TCP_ACK | TCP_ECE), // frame 13: a new run; data sent after the cut: cut
  ]).connections[0];
  const s = connectionSeries(conn);
  assert.deepEqual(s.events.map((e) => [e.kind, e.frame]), [
    ["ce", 5],
    ["ece", 8],
    ["ecn-reduction", 8],
    ["cwr", 10],
    ["ce", 12],
    ["ece", 13],
    ["ecn-reduction", 13],
  ]);
  const svg = renderPlotSvg(conn);
  assert.equal((svg.match(/class="event-ecn-reduction"/g) ?? []).length, 2);
  assert.ok(svg.includes(">CWR</text>") && svg.includes(">ECE</text>"));
});
