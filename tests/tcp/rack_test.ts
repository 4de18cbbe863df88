// RACK-TLP (RFC 8985), PRR (RFC 6937), D-SACK (RFC 2883) and its undo (RFC 3708), F-RTO
// (RFC 5682) and Eifel (RFC 3522): the pieces on their own, from the RFCs' examples, then a
// connection against a scripted peer under a manual clock.
import assert from "node:assert/strict";
import { Prr } from "../../src/tcp/prr.ts";
import {
  Rack,
  SEG_LOST,
  SEG_RETRANSMITTED,
  SEG_SACKED,
  SegmentLog,
  SegmentLogPool,
} from "../../src/tcp/rack.ts";
import type { TcpConfig } from "../../src/tcp/config.ts";
import type { TcpConnection } from "../../src/tcp/connection.ts";
import { TCP_ACK, type TcpRepr } from "../../src/wire/tcp.ts";
import { bytesOf, Host, IRS, ISS, LPORT, RPORT, type SegmentFields } from "./harness.ts";

const MSS = 1460;

// ---------------------------------------------------------------- the segment log

Deno.test("SegmentLog records segments, retransmissions and cumulative ACKs in a fixed ring", () => {
  const log = new SegmentLog(64);
  log.sent(1000, 4000, 1000, 5);
  log.sent(4000, 4500, 1000, 6);
  assert.equal(log.count, 4);
  assert.deepEqual([log.start(3), log.end(3), log.xmitMs(3)], [4000, 4500, 6]);
  assert.equal(log.find(2500), 1);
  assert.equal(log.find(4500), -1);
  assert.equal(log.firstEndingAfter(2000), 1);
  // Send order breaks a tie of transmit times: a retransmission is sent after all of them.
  log.setFlags(0, SEG_LOST);
  log.retransmitted(1000, 1000, 6);
  assert.equal(log.flags(0), SEG_RETRANSMITTED);
  assert.ok(Rack.sentAfter(log.xmitMs(0), log.order(0), log.xmitMs(3), log.order(3)));
  // A retransmission of part of a segment leaves the rest in the record.
  log.retransmitted(2000, 400, 7);
  assert.deepEqual([log.start(1), log.end(1), log.flags(1)], [2400, 3000, 0]);
  log.ackTo(2700);
  assert.deepEqual([log.count, log.start(0)], [3, 2700]);
  // Bounded: a full log grows its newest slot instead of taking more memory.
  const small = new SegmentLog(1);
  for (let i = 0; i < 100; i++) small.sent(i * 10, i * 10 + 10, 10, i);
  assert.equal(small.count, 64);
  assert.equal(small.end(63), 1000);
});

// ---------------------------------------------------------------- RACK

Deno.test("Rack marks a segment lost once a later one is delivered and it is older than RACK.rtt + reo_wnd (RFC 8985 §3.2)", () => {
  // RFC 8985 §3.2's example: P1 and P2 sent, P2 SACKed after one RTT; with a reordering
  // window of a quarter min_RTT P1 is lost only when that window has passed too.
  const log = new SegmentLog(64);
  log.sent(0, 1000, 1000, 0); // P1 at t=0
  log.sent(1000, 2000, 1000, 10); // P2 at t=10
  const rack = new Rack();
  rack.delivered(log, 1, 110, false); // P2 SACKed at t=110: RACK.rtt = 100
  assert.equal(log.flags(1), SEG_SACKED);
  assert.deepEqual([rack.rttMs, rack.xmitMs, rack.minRttMs], [100, 10, 100]);
  const reoWnd = rack.reoWndMs(false, 100);
  assert.equal(reoWnd, 25); // min_RTT / 4
  // P1 was sent at 0: lost at 0 + 100 + 25 = 125; at 110 the reordering timer is 15 ms.
  assert.equal(rack.detectLoss(log, 110, reoWnd), 15);
  assert.equal(log.flags(0) & SEG_LOST, 0);
  assert.equal(rack.detectLoss(log, 125, reoWnd), 0);
  assert.equal(log.flags(0) & SEG_LOST, SEG_LOST);
  assert.equal(rack.lostMarked, 1);
});

Deno.test("Rack sees reordering, and D-SACKs widen its window for 16 recoveries (RFC 8985 §6.2 steps 3-4)", () => {
  const log = new SegmentLog(64);
  for (let i = 0; i < 4; i++) log.sent(i * 1000, i * 1000 + 1000, 1000, i);
  const rack = new Rack();
  for (let i = 1; i < 4; i++) rack.delivered(log, i, 100, false);
  // Three segments SACKed and no reordering seen: no window (RFC 8985 §6.2 step 4).
  assert.equal(rack.reoWndMs(false, 100), 0);
  // The first segment arrives late, never retransmitted: reordering.
  rack.delivered(log, 0, 101, true);
  assert.ok(rack.reorderingSeen);
  assert.equal(rack.reoWndMs(true, 100), 97 / 4);
  // A D-SACK: the multiplier grows once per round trip.
  rack.onDsack(0, 4000);
  rack.onDsack(1000, 4000);
  assert.equal(rack.reoWndMult, 2);
  assert.equal(rack.reoWndMs(true, 100), 97 / 2);
  assert.equal(rack.reoWndMs(true, 30), 30); // never above SRTT
  rack.onDsack(4000, 8000); // the round ended
  assert.equal(rack.reoWndMult, 3);
  for (let i = 0; i < 15; i++) rack.onRecoveryExit();
  assert.equal(rack.reoWndMult, 3);
  rack.onRecoveryExit();
  assert.equal(rack.reoWndMult, 1);
});

Deno.test("Rack skips a retransmission acknowledged sooner than min_RTT (RFC 8985 §6.2 step 2)", () => {
  const log = new SegmentLog(64);
  log.sent(0, 1000, 1000, 0);
  log.sent(1000, 2000, 1000, 0);
  const rack = new Rack();
  rack.delivered(log, 1, 50, false); // min_RTT 50
  log.retransmitted(0, 1000, 60);
  rack.delivered(log, 0, 70, true); // 10 ms after the retransmission: the original's ACK
  assert.deepEqual([rack.xmitMs, rack.rttMs], [0, 50]);
});

Deno.test("Rack keeps min_RTT above 0 when a sample measures 0, as Linux's tcp_update_rtt_min (RFC 8985 §6.2 step 2)", () => {
  // Issue 19's lab: an ACK handled in the receive batch that sent the segment shares the
  // batch's time and measures 0. With min_RTT 0, step 2's ambiguity test (rtt < min_RTT)
  // never holds and the reordering window (min_RTT / 4) is 0.
  const log = new SegmentLog(64);
  log.sent(0, 1000, 1000, 10);
  log.sent(1000, 2000, 1000, 10);
  log.sent(2000, 3000, 1000, 10);
  const rack = new Rack();
  rack.delivered(log, 2, 10, false); // SACKed at its send time: RTT 0
  assert.equal(rack.minRttMs, 1); // one jiffy at HZ=1000 (Rack's ZERO_RTT_AS_MS)
  assert.equal(rack.reoWndMs(false, 5), 0.25);
  // Segment 0 was retransmitted at 10.2 ms; the original's ACK comes 0.1 ms later: ambiguous,
  // skipped — RACK.xmit_ts stays at the segment that measured 0, whose lone RTT it keeps.
  log.retransmitted(0, 1000, 10.2);
  rack.delivered(log, 0, 10.3, true);
  assert.deepEqual([rack.xmitMs, rack.rttMs], [10, 0]);
  // A positive sample sets it as before.
  log.sent(3000, 4000, 1000, 11);
  rack.delivered(log, 3, 11.05, false);
  assert.ok(Math.abs(rack.minRttMs - 0.05) < 1e-9);
});

Deno.test("Rack.probeTimeoutMs is 2*SRTT, plus WCDelAckT for one segment (RFC 8985 §7.2)", () => {
  assert.equal(Rack.probeTimeoutMs(30, false), 62); // + Linux's TCP_TIMEOUT_MIN
  assert.equal(Rack.probeTimeoutMs(30, true), 260);
  assert.equal(Rack.probeTimeoutMs(0, false), 1000);
  assert.equal(Rack.probeTimeoutMs(0.25, false), 2.5);
  assert.equal(Rack.probeTimeoutMs(0, false, true), 2); // measured 0: a fast path
});

// ---------------------------------------------------------------- PRR

Deno.test("Prr reduces to ssthresh in proportion to what is delivered (RFC 6937 §3.1 example)", () => {
  // RFC 6937 §3.1: 20 segments in flight, one lost, ssthresh 10: PRR sends one segment for
  // every two delivered, starting with the fast retransmit, and ends with 10 in flight.
  const prr = new Prr();
  prr.start(20 * MSS);
  const sent: number[] = [];
  let pipe = 19 * MSS;
  for (let ack = 0; ack < 19; ack++) {
    pipe -= MSS;
    prr.onAck(MSS, pipe, 10 * MSS, MSS, false); // duplicate ACKs: never "safe"
    let n = 0;
    while (prr.allowance >= MSS) {
      prr.onSent(MSS);
      pipe += MSS;
      n++;
    }
    sent.push(n);
  }
  // One per two ACKs while the pipe is above ssthresh; once it reaches ssthresh the
  // slow-start reduction bound keeps it there (one out per one delivered).
  assert.deepEqual(sent, [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1]);
  // RFC 6937 §3.1: ten segments in all (ceil(19 * 10 / 20)), ten left in flight.
  assert.equal(sent.reduce((a, b) => a + b), 10);
  assert.equal(pipe, 10 * MSS);
});

Deno.test("Prr's reduction bounds grow the pipe back towards ssthresh (RFC 6937 §3.1, PRR-SSRB and PRR-CRB)", () => {
  // Heavy loss took the pipe below ssthresh: each safe ACK may send what it delivered plus
  // one segment, never more than ssthresh - pipe.
  const prr = new Prr();
  prr.start(20 * MSS);
  prr.onAck(MSS, 4 * MSS, 10 * MSS, MSS);
  assert.equal(prr.allowance, 2 * MSS);
  prr.onSent(2 * MSS);
  prr.onAck(MSS, 5 * MSS, 10 * MSS, MSS);
  assert.equal(prr.allowance, 2 * MSS);
  prr.onSent(2 * MSS);
  prr.onAck(3 * MSS, 9 * MSS, 10 * MSS, MSS);
  assert.equal(prr.allowance, MSS); // ssthresh - pipe
  // An ACK that does not advance SND.UNA (or shows a new loss): the conservative bound,
  // no more than was delivered (RFC 6937bis, Linux tcp_cwnd_reduction).
  prr.onSent(MSS);
  prr.onAck(MSS, 4 * MSS, 10 * MSS, MSS, false);
  assert.equal(prr.allowance, MSS);
});

// ---------------------------------------------------------------- a connection

/** A connection toward a scripted peer (active open, handshake RTT `rttMs`). */
class Peer {
  readonly host: Host;
  readonly conn: TcpConnection;

  constructor(config: Partial<TcpConfig> = {}, rttMs = 10, synAck: Partial<SegmentFields> = {}) {
    this.host = new Host({ timestamps: false, ...config });
    this.conn = this.host.openActive(
      { mss: MSS, sackPermitted: true, windowScale: 7, ...synAck },
      rttMs,
    ).conn;
    this.host.take();
  }

  feed(f: Omit<SegmentFields, "srcPort" | "dstPort">): void {
    this.host.feed({ srcPort: RPORT, dstPort: LPORT, ...f });
  }

  /** An ACK from the peer (cumulative to our byte `acked`, SACK blocks as our byte ranges). */
  ack(acked: number, sack: number[] = [], extra: Partial<SegmentFields> = {}): void {
    this.feed({
      flags: TCP_ACK,
      seq: this.r(0),
      ack: this.s(acked),
      window: 2048,
      sack: sack.length > 0 ? sack.map((b) => this.s(b)) : undefined,
      ...extra,
    });
  }

  s(i: number): number {
    return (ISS + 1 + i) | 0;
  }

  r(i: number): number {
    return (IRS + 1 + i) | 0;
  }

  take(): TcpRepr[] {
    return this.host.take();
  }

  /** Our byte offsets of the data segments sent since the last call. */
  sentOffsets(): number[] {
    return this.take().filter((r) => r.payloadLength > 0).map((r) => (r.seq - this.s(0)) | 0);
  }

  write(bytes: number): void {
    assert.equal(this.conn.write(bytesOf(bytes), 0, bytes), bytes);
  }
}

Deno.test("TcpConnection: a tail loss is repaired by the probe after 2*SRTT, not by the RTO (RFC 8985 §7)", () => {
  const p = new Peer({}, 10);
  p.write(4 * MSS);
  assert.deepEqual(p.sentOffsets(), [0, MSS, 2 * MSS, 3 * MSS]);
  // The first two arrive; the last two are lost.
  p.host.advance(10);
  p.ack(2 * MSS);
  assert.deepEqual(p.sentOffsets(), []);
  // PTO = 2 * SRTT + 2 ms = 22 ms after the ACK; nothing before it.
  p.host.advance(21);
  assert.deepEqual(p.sentOffsets(), []);
  p.host.advance(1);
  // No new data: the probe is the last segment again.
  assert.deepEqual(p.sentOffsets(), [3 * MSS]);
  assert.equal(p.conn.info().tlpProbes, 1);
  // The probe arrives: its SACK shows the third segment lost; RACK retransmits it at once.
  p.host.advance(10);
  p.ack(2 * MSS, [3 * MSS, 4 * MSS]);
  assert.deepEqual(p.sentOffsets(), [2 * MSS]);
  p.host.advance(10);
  p.ack(4 * MSS);
  const info = p.conn.info();
  assert.equal(p.host.tcp.stats.timeouts, 0);
  assert.equal(info.lossRecovery, "rack-tlp");
  assert.equal(info.recoveries, 1);
  assert.equal(info.rackLosses, 1);
  assert.equal(p.host.tcp.stats.tlpProbes, 1);
});

Deno.test("TcpConnection: the probe sends new data when the peer's window allows it (RFC 8985 §7.3)", () => {
  const p = new Peer({}, 10);
  p.write(12 * MSS); // the initial window sends ten
  assert.equal(p.sentOffsets().length, 10);
  p.host.advance(22);
  assert.deepEqual(p.sentOffsets(), [10 * MSS]);
  assert.equal(p.conn.info().tlpProbes, 1);
  // One probe per episode: the RTO comes next.
  p.host.advance(100);
  assert.deepEqual(p.sentOffsets(), []);
});

Deno.test("TcpConnection: RACK waits a reordering window before retransmitting, and learns reordering (RFC 8985 §6.2)", () => {
  const p = new Peer({}, 40);
  p.write(4 * MSS);
  p.sentOffsets();
  // The second segment is SACKed after one RTT (40 ms): the first is lost only 10 ms
  // (min_RTT / 4) later.
  p.host.advance(40);
  p.ack(0, [MSS, 2 * MSS]);
  assert.deepEqual(p.sentOffsets(), []);
  p.host.advance(9);
  assert.deepEqual(p.sentOffsets(), []);
  p.host.advance(1);
  assert.deepEqual(p.sentOffsets(), [0]);
  assert.equal(p.host.tcp.stats.rackLosses, 1);

  // Reordering instead: the late first segment arrives within the window.
  const q = new Peer({}, 40);
  q.write(4 * MSS);
  q.sentOffsets();
  q.host.advance(40);
  q.ack(0, [MSS, 2 * MSS]);
  q.host.advance(5);
  q.ack(2 * MSS);
  q.host.advance(20);
  assert.deepEqual(q.sentOffsets(), []);
  assert.equal(q.conn.info().reorderingSeen, true);
  assert.equal(q.conn.info().rackLosses, 0);
});

Deno.test("TcpConnection sends a D-SACK for a duplicate segment, in order or not (RFC 2883 §4)", () => {
  const p = new Peer({}, 10);
  const data = bytesOf(100);
  p.feed({ flags: TCP_ACK, seq: p.r(0), ack: p.s(0), data });
  p.take();
  // The same segment again: the ACK reports it in a D-SACK block below the ACK.
  p.feed({ flags: TCP_ACK, seq: p.r(0), ack: p.s(0), data });
  let [ack] = p.take();
  assert.equal(ack.ack, p.r(100));
  assert.deepEqual(ack.sackBlocks.slice(0, 2 * ack.sackCount), [p.r(0), p.r(100)]);
  // The next ACK no longer carries it.
  p.feed({ flags: TCP_ACK, seq: p.r(100), ack: p.s(0), data });
  [ack] = p.take().filter((r) => r.ack === p.r(200));
  assert.equal(ack?.sackCount ?? 0, 0);
  // Out of order, twice: the D-SACK block first, then the block that holds it.
  p.feed({ flags: TCP_ACK, seq: p.r(300), ack: p.s(0), data });
  p.take();
  p.feed({ flags: TCP_ACK, seq: p.r(300), ack: p.s(0), data });
  [ack] = p.take();
  assert.deepEqual(ack.sackBlocks.slice(0, 2 * ack.sackCount), [
    p.r(300),
    p.r(400),
    p.r(300),
    p.r(400),
  ]);
  assert.equal(p.conn.info().dsacksSent, 2);
  assert.equal(p.host.tcp.stats.dsacksSent, 2);
});

Deno.test("TcpConnection undoes a window reduction when D-SACKs show every retransmission was a duplicate (RFC 3708)", () => {
  const p = new Peer({ congestion: "newreno" }, 10);
  p.write(8 * MSS);
  p.sentOffsets();
  const cwndBefore = p.conn.info().cwnd;
  // Segments 2-4 SACKed, the first delayed: RACK deems it lost (three SACKed, no reordering
  // seen: no window).
  p.host.advance(10);
  p.ack(0, [MSS, 4 * MSS]);
  assert.deepEqual(p.sentOffsets(), [0]);
  assert.ok(p.conn.info().cwnd < cwndBefore);
  // The original arrives after all, then the retransmission: the peer D-SACKs it.
  p.host.advance(1);
  p.ack(8 * MSS);
  p.ack(8 * MSS, [0, MSS]);
  const info = p.conn.info();
  assert.equal(info.dsacksReceived, 1);
  assert.equal(info.undos, 1);
  assert.ok(info.cwnd >= cwndBefore, `cwnd ${info.cwnd} restored to ${cwndBefore}`);
  assert.equal(p.host.tcp.stats.undos, 1);
});

Deno.test("TcpConnection undoes a reduction whose full ACK echoes a timestamp older than the retransmission (RFC 3522)", () => {
  const p = new Peer({ congestion: "newreno", timestamps: true }, 10, { tsVal: 1, tsEcr: 0 });
  const mss = p.conn.info().sndMss; // less the timestamp option
  p.write(8 * mss);
  const originals = p.take().filter((r) => r.payloadLength > 0);
  const cwndBefore = p.conn.info().cwnd;
  p.host.advance(10);
  p.ack(0, [mss, 4 * mss], { tsVal: 2, tsEcr: originals[1].tsVal });
  const [rtx] = p.take();
  assert.equal(rtx.seq, p.s(0));
  assert.ok(rtx.tsVal !== originals[0].tsVal);
  // The full ACK echoes the original's TSval: the original was delivered.
  p.host.advance(1);
  p.ack(8 * mss, [], { tsVal: 3, tsEcr: originals[0].tsVal });
  assert.equal(p.conn.info().undos, 1);
  assert.ok(p.conn.info().cwnd >= cwndBefore);
});

Deno.test("TcpConnection measures a sub-millisecond RTT from send times, not the timestamp echo's milliseconds (Linux seq_rtt_us)", () => {
  // A 0.25 ms path (a lab or a LAN): the timestamp clock ticks in whole milliseconds, so
  // TSecr-based samples read 0 and SRTT decays towards 0; the segment log's send times say
  // 0.25 ms, as Linux's skb timestamps in microseconds do.
  const rttMs = 0.25;
  const p = new Peer({ timestamps: true }, rttMs, { tsVal: 1, tsEcr: 0 });
  const mss = p.conn.info().sndMss;
  let acked = 0;
  for (let round = 0; round < 4; round++) {
    p.write(2 * mss);
    const sent = p.take().filter((r) => r.payloadLength > 0);
    assert.equal(sent.length, 2);
    p.host.advance(rttMs);
    acked += 2 * mss;
    p.ack(acked, [], { tsVal: 2 + round, tsEcr: sent[0].tsVal });
  }
  assert.equal(p.conn.info().srttMs, rttMs);
});

Deno.test("TcpConnection probes a tail loss after 2*SRTT when the measured SRTT is 0, not the initial 1 s PTO (RFC 8985 §7.2)", () => {
  // A path faster than the clock's resolution measures 0 ms: SRTT is available, and 0.
  const p = new Peer({}, 0);
  assert.equal(p.conn.info().srttMs, 0);
  p.write(4 * MSS);
  assert.equal(p.sentOffsets().length, 4);
  // The tail is lost: nothing comes back. PTO = 2*0 + 2 ms (Linux's TCP_TIMEOUT_MIN).
  p.host.advance(3);
  assert.deepEqual(p.sentOffsets(), [3 * MSS]);
  assert.equal(p.conn.info().tlpProbes, 1);
});

Deno.test("TcpConnection takes an RTT sample from an ACK that only SACKs new segments (RFC 8985 §6.2, Linux sack_rtt_us)", () => {
  const p = new Peer({}, 10); // the handshake: SRTT 10 ms, RTTVAR 5 ms
  p.write(4 * MSS);
  assert.equal(p.sentOffsets().length, 4);
  assert.equal(p.conn.info().srttMs, 10);
  // The first segment is held up; 30 ms after the send an ACK SACKs the second only.
  p.host.advance(30);
  p.ack(0, [MSS, 2 * MSS]);
  // RFC 6298 §2.3 with R' = 30: SRTT = 7/8 * 10 + 1/8 * 30, RTTVAR = 3/4 * 5 + 1/4 * 20.
  assert.equal(p.conn.info().srttMs, 12.5);
  assert.equal(p.conn.info().rttvarMs, 8.75);
  // Karn (RFC 6298 §3): a SACK of a retransmitted segment gives none. The first segment is
  // resent (RACK, then the RTO); the peer SACKs it (its cumulative ACK lost) later.
  p.host.advance(1000);
  assert.ok(p.sentOffsets().includes(0));
  assert.ok(p.host.tcp.stats.timeouts > 0);
  const srtt = p.conn.info().srttMs;
  p.host.advance(5);
  // The timeout forgot the SACK of the second segment (RFC 6675 §5.1): SACKed again, it is
  // no sample either (it was delivered long before).
  p.ack(0, [0, 2 * MSS]);
  assert.equal(p.conn.info().srttMs, srtt);
});

Deno.test("TcpConnection: a probe timeout beyond the RTO is clamped to it, and the probe goes instead of the timeout (RFC 8985 §7.2)", () => {
  // SRTT 10 ms, one segment in flight: PTO = 2*SRTT + WCDelAckT = 220 ms, but the RTO
  // (SRTT + 4*RTTVAR, at least 200 ms) expires at 200 ms: TLP_calc_PTO sends the probe then.
  const p = new Peer({}, 10);
  p.write(MSS);
  assert.deepEqual(p.sentOffsets(), [0]);
  const cwnd = p.conn.info().cwnd;
  assert.equal(p.conn.info().rtoMs, 200);
  p.host.advance(199);
  assert.deepEqual(p.sentOffsets(), []);
  p.host.advance(1);
  assert.deepEqual(p.sentOffsets(), [0]);
  assert.equal(p.conn.info().tlpProbes, 1);
  assert.equal(p.host.tcp.stats.timeouts, 0);
  assert.equal(p.conn.info().timeouts, 0);
  // A probe, not a timeout: the window did not collapse to one segment.
  assert.equal(p.conn.info().cwnd, cwnd);
  // The probe re-armed the RTO (§7.3): it fires if the probe is lost too.
  p.host.advance(200);
  assert.deepEqual(p.sentOffsets(), [0]);
  assert.equal(p.host.tcp.stats.timeouts, 1);
  // TcpInfo counts the connection's own timeouts (the bench's loss rows log them).
  assert.equal(p.conn.info().timeouts, 1);
});

Deno.test("TcpConnection grows cwnd by what an ACK newly delivers, not by SACKed bytes it covers again (Linux acked_sacked)", () => {
  for (const lossDetection of ["rack-tlp", "rfc6675"] as const) {
    const p = new Peer({ lossDetection }, 10);
    p.write(10 * MSS);
    assert.equal(p.sentOffsets().length, 10);
    const cwnd0 = p.conn.info().cwnd;
    p.host.advance(10);
    // Segments 1 and 2 are SACKed (reordering), then the cumulative ACK covers 0..2: it
    // delivers one segment; slow start grows cwnd by one, not three.
    p.ack(0, [MSS, 3 * MSS]);
    p.ack(3 * MSS);
    assert.equal(p.conn.info().cwnd, cwnd0 + MSS, lossDetection);
    // A SACK of part of a segment delivers nothing (Linux tags whole segments).
    p.ack(3 * MSS, [9 * MSS + 100, 10 * MSS]);
    p.ack(4 * MSS, [9 * MSS + 100, 10 * MSS]);
    if (lossDetection === "rack-tlp") {
      assert.equal(p.conn.info().cwnd, cwnd0 + 2 * MSS, lossDetection);
    }
  }
});

Deno.test("TcpConnection: F-RTO sends new data after a timeout and detects it spurious (RFC 5682 §2, §3)", () => {
  // RFC 6675 here: no tail loss probe fires before the timeout.
  const p = new Peer({ lossDetection: "rfc6675", congestion: "newreno" }, 10);
  p.write(14 * MSS);
  assert.equal(p.sentOffsets().length, 10);
  const cwndBefore = p.conn.info().cwnd;
  p.host.advance(200); // RTO (minimum 200 ms)
  assert.deepEqual(p.sentOffsets(), [0]);
  assert.equal(p.host.tcp.stats.timeouts, 1);
  // Step 2b: the ACK advances: two new segments instead of retransmissions.
  p.host.advance(5);
  p.ack(2 * MSS);
  assert.deepEqual(p.sentOffsets(), [10 * MSS, 11 * MSS]);
  // Step 3b: the next ACK acknowledges data never retransmitted: spurious; undo.
  p.host.advance(5);
  p.ack(4 * MSS);
  const info = p.conn.info();
  assert.equal(info.spuriousRtos, 1);
  assert.equal(info.undos, 1);
  assert.ok(info.cwnd >= cwndBefore);
  // No go-back-N: what follows is new data only.
  assert.ok(p.sentOffsets().every((o) => o >= 12 * MSS));
});

Deno.test("TcpConnection: F-RTO falls back to retransmitting when the second ACK is a duplicate (RFC 5682 §2 step 3a)", () => {
  const p = new Peer({ lossDetection: "rfc6675", congestion: "newreno" }, 10);
  p.write(14 * MSS);
  p.sentOffsets();
  p.host.advance(200);
  assert.deepEqual(p.sentOffsets(), [0]);
  p.host.advance(5);
  p.ack(2 * MSS);
  assert.deepEqual(p.sentOffsets(), [10 * MSS, 11 * MSS]);
  p.host.advance(5);
  p.ack(2 * MSS);
  assert.deepEqual(p.sentOffsets()[0], 2 * MSS);
  assert.equal(p.conn.info().spuriousRtos, 0);
  assert.equal(p.conn.info().undos, 0);
});

Deno.test("TcpConnection: an ACK that advances SND.UNA is not a duplicate ACK (RFC 5681 §2)", () => {
  // NewReno without SACK: fast retransmit needs three duplicates of the ACK before them.
  const p = new Peer({ sack: false }, 10, { sackPermitted: false });
  p.write(8 * MSS);
  p.sentOffsets();
  p.ack(MSS); // the window changes here (the SYN-ACK's was unscaled)
  p.ack(2 * MSS); // advances, same window
  assert.deepEqual(p.sentOffsets(), []);
  p.ack(2 * MSS);
  p.ack(2 * MSS);
  // Two duplicates: limited transmit (RFC 3042) only — no data to send, no retransmission.
  assert.deepEqual(p.sentOffsets(), []);
  p.ack(2 * MSS);
  assert.deepEqual(p.sentOffsets(), [2 * MSS]);
  assert.equal(p.conn.info().recoveries, 1);
});

Deno.test("TcpConnection: the first two duplicate ACKs each send a new segment (RFC 3042 Limited Transmit)", () => {
  const p = new Peer({ sack: false }, 10, { sackPermitted: false });
  p.write(14 * MSS);
  assert.equal(p.sentOffsets().length, 10); // the initial window
  p.ack(0, [], { window: 2000 }); // a window update, not a duplicate
  p.ack(0, [], { window: 2000 });
  assert.deepEqual(p.sentOffsets(), [10 * MSS]);
  p.ack(0, [], { window: 2000 });
  assert.deepEqual(p.sentOffsets(), [11 * MSS]);
  // The third: fast retransmit.
  p.ack(0, [], { window: 2000 });
  assert.deepEqual(p.sentOffsets(), [0]);
});

Deno.test("TcpConnection: SACK-enhanced F-RTO declares a timeout spurious from a SACK of data never retransmitted (RFC 5682 §4)", () => {
  const p = new Peer({ lossDetection: "rfc6675", congestion: "newreno" }, 10);
  p.write(14 * MSS);
  p.sentOffsets();
  p.host.advance(200);
  assert.deepEqual(p.sentOffsets(), [0]);
  p.host.advance(5);
  p.ack(2 * MSS);
  assert.deepEqual(p.sentOffsets(), [10 * MSS, 11 * MSS]);
  // The hole at 2 MSS stays, but segment 4 (sent once, before the timeout) is SACKed.
  p.host.advance(5);
  p.ack(2 * MSS, [3 * MSS, 4 * MSS]);
  assert.equal(p.conn.info().spuriousRtos, 1);
  // A SACK of the new data alone (above RecoveryPoint) would not have shown it.
  const q = new Peer({ lossDetection: "rfc6675", congestion: "newreno" }, 10);
  q.write(14 * MSS);
  q.sentOffsets();
  q.host.advance(200);
  q.sentOffsets();
  q.host.advance(5);
  q.ack(2 * MSS);
  q.sentOffsets();
  q.host.advance(5);
  q.ack(2 * MSS, [10 * MSS, 11 * MSS]);
  assert.equal(q.conn.info().spuriousRtos, 0);
  assert.deepEqual(q.sentOffsets()[0], 2 * MSS); // go-back-N resumes
});

Deno.test("TcpConnection: an ACK whose newest SACK block comes first is not reordering (RFC 8985 §6.2, ascending order)", () => {
  const p = new Peer({}, 10);
  p.write(10 * MSS);
  assert.equal(p.sentOffsets().length, 10);
  // Segments 0 and 4 are lost. The first ACK SACKs segments 1-2; the next (a compressed SACK,
  // as Linux's receiver sends) newly SACKs segment 3 in its second block, after the newest
  // block, 5-6 (RFC 2018 §4: the most recent first).
  p.host.advance(10);
  p.ack(0, [MSS, 3 * MSS]);
  p.sentOffsets();
  p.ack(0, [5 * MSS, 7 * MSS, MSS, 4 * MSS]);
  // Segment 3 was sent before 5 and 6 and arrived before them: no reordering. Five segments
  // SACKed, no reordering seen: no reordering window (§6.2 step 4), both holes are lost now.
  const info = p.conn.info();
  assert.equal(info.reorderingSeen, false);
  assert.equal(info.rackLosses, 2);
  assert.deepEqual(p.sentOffsets().slice(0, 2), [0, 4 * MSS]);
});

/**
 * Four segments sent, the first two ACKed 10 ms later; the ACK of the last two is late, so the
 * tail loss probe resends the last segment. Returns the peer and the cwnd before the probe.
 */
function probedTail(): { p: Peer; cwndBefore: number } {
  const p = new Peer({}, 10);
  p.write(4 * MSS);
  p.sentOffsets();
  p.host.advance(10);
  p.ack(2 * MSS);
  const cwndBefore = p.conn.info().cwnd;
  p.host.advance(22);
  assert.deepEqual(p.sentOffsets(), [3 * MSS]);
  return { p, cwndBefore };
}

Deno.test("TcpConnection: a probe whose original arrived ends its episode without a reduction (RFC 8985 §7.4.2)", () => {
  // The ACK of the last two is late: the probe resends the last segment.
  const { p, cwndBefore } = probedTail();
  // The originals' ACK reaches TLP.end_seq exactly: it may be theirs, not the probe's.
  p.host.advance(1);
  p.ack(4 * MSS);
  assert.equal(p.conn.info().cwnd, cwndBefore);
  // The probe arrives as a duplicate: the peer D-SACKs it. No loss: no reduction.
  p.ack(4 * MSS, [3 * MSS, 4 * MSS]);
  assert.equal(p.conn.info().cwnd, cwndBefore);
  assert.equal(p.host.tcp.stats.tlpRecoveries, 0);

  // Without D-SACK the peer's pure duplicate ACK says the same.
  const { p: q, cwndBefore: qCwnd } = probedTail();
  q.ack(4 * MSS);
  q.ack(4 * MSS);
  q.write(MSS);
  q.sentOffsets();
  q.ack(5 * MSS);
  assert.equal(q.conn.info().cwnd >= qCwnd, true);
  assert.equal(q.host.tcp.stats.tlpRecoveries, 0);

  // The probe repaired a loss: the ACK beyond TLP.end_seq brings the one reduction.
  // (The last segment is lost; the third arrived, its ACK delayed.)
  const { p: r, cwndBefore: rCwnd } = probedTail();
  r.ack(4 * MSS);
  r.write(MSS);
  r.sentOffsets();
  r.ack(5 * MSS);
  assert.ok(r.conn.info().cwnd < rCwnd);
  assert.equal(r.host.tcp.stats.tlpRecoveries, 1);
});

Deno.test("TcpConnection: the D-SACK of a probe's retransmission does not undo a recovery for a real loss (Linux tcp_init_undo)", () => {
  const p = new Peer({}, 10);
  p.write(4 * MSS);
  p.sentOffsets();
  const cwndBefore = p.conn.info().cwnd;
  // Nothing comes back: the probe resends segment 4.
  p.host.advance(22);
  assert.deepEqual(p.sentOffsets(), [3 * MSS]);
  // The originals of segments 2-4 are SACKed: the first is lost (RACK), recovery resends it.
  p.host.advance(10);
  p.ack(0, [MSS, 4 * MSS]);
  assert.deepEqual(p.sentOffsets(), [0]);
  assert.ok(p.conn.info().cwnd < cwndBefore);
  // The probe's copy of segment 4 is reported duplicate. That was the probe, not the
  // recovery's retransmission: the loss was real, the reduction stays.
  p.ack(0, [3 * MSS, 4 * MSS, MSS, 4 * MSS]);
  p.host.advance(10);
  p.ack(4 * MSS);
  assert.equal(p.conn.info().undos, 0);
  assert.ok(p.conn.info().cwnd < cwndBefore);
});

Deno.test("TcpConnection: a segment lost in a recovery's last round and held by PRR is resent when the recovery ends, not after the RTO (Linux tcp_time_to_recover)", () => {
  // NewReno's halving keeps PRR's share small (ssthresh 5 of a flight of 10).
  const p = new Peer({ congestion: "newreno" }, 10);
  p.write(40 * MSS);
  assert.equal(p.sentOffsets().length, 10);
  p.host.advance(10);
  // Segment 0 is lost: recovery (recover = 10 MSS); PRR sends the retransmission and
  // segment 10, then segment 11.
  p.ack(0, [MSS, 4 * MSS]);
  assert.deepEqual(p.sentOffsets(), [0, 10 * MSS]);
  p.host.advance(2);
  p.ack(0, [MSS, 6 * MSS]);
  assert.deepEqual(p.sentOffsets(), [11 * MSS]);
  // Segment 11 arrives: everything sent before it and not SACKed is lost (RACK), segment 10
  // (above `recover`) and the retransmission of 0 among them. PRR lets three go, oldest
  // first: 0, 6 and 7; 8, 9 and 10 wait.
  p.host.advance(2);
  p.ack(0, [MSS, 6 * MSS, 11 * MSS, 12 * MSS]);
  assert.deepEqual(p.sentOffsets(), [0, 6 * MSS, 7 * MSS]);
  // The ACK of `recover` ends the recovery with segment 10 still marked lost and not resent:
  // a new recovery resends it now.
  p.host.advance(2);
  p.ack(10 * MSS, [11 * MSS, 12 * MSS]);
  assert.equal(p.sentOffsets()[0], 10 * MSS);
  assert.equal(p.conn.info().recoveries, 2);
  assert.equal(p.host.tcp.stats.timeouts, 0);
});

Deno.test("TcpConnection: before recovery, SACKed segments leave the pipe and new data takes their place (RFC 6675 §5 step 3)", () => {
  for (const lossDetection of ["rack-tlp", "rfc6675"] as const) {
    const p = new Peer({ lossDetection }, 10);
    p.write(20 * MSS);
    assert.equal(p.sentOffsets().length, 10);
    p.host.advance(10);
    // One duplicate ACK SACKs two segments (a receiver's compressed SACK): the pipe is
    // cwnd - 2 segments, so two new segments go, not Limited Transmit's one.
    p.ack(0, [MSS, 3 * MSS]);
    assert.deepEqual(p.sentOffsets(), [10 * MSS, 11 * MSS], lossDetection);
    assert.equal(p.conn.info().recoveries, 0);
    // An ACK that advances SND.UNA by four segments (cwnd 14 segments: slow start counts
    // all four, as Linux's tcp_slow_start) and SACKs two segments above a new hole: eight in
    // flight, two SACKed, the pipe is six: eight new segments.
    p.ack(4 * MSS, [5 * MSS, 7 * MSS]);
    assert.deepEqual(
      p.sentOffsets(),
      [12, 13, 14, 15, 16, 17, 18, 19].map((n) => n * MSS),
      lossDetection,
    );
    assert.equal(p.conn.info().recoveries, 0);
  }
});

Deno.test("Prr's conservative bound sends what was delivered and not yet sent, not only this ACK's share (RFC 6937 §3 PRR-CRB)", () => {
  // Ten in flight, ssthresh 7. The first ACK delivers four segments with the pipe still above
  // ssthresh: three may go, one did (the fast retransmit; nothing else was ready).
  const prr = new Prr();
  prr.start(10 * MSS);
  prr.onAck(4 * MSS, 8 * MSS, 7 * MSS, MSS, false);
  assert.equal(prr.allowance, 3 * MSS);
  prr.onSent(MSS);
  // The next ACK delivers one and marks more lost (unsafe): the pipe fell to two. The bound
  // is prr_delivered - prr_out = 4 segments, within ssthresh - pipe = 5.
  prr.onAck(MSS, 2 * MSS, 7 * MSS, MSS, false);
  assert.equal(prr.allowance, 4 * MSS);
  // A safe ACK adds one segment (PRR-SSRB).
  prr.onSent(4 * MSS);
  prr.onAck(MSS, 5 * MSS, 7 * MSS, MSS, true);
  assert.equal(prr.allowance, 2 * MSS);
});

Deno.test("Prr's reduction bound counts a short segment delivered as a segment (Linux tcp_cwnd_reduction, in packets)", () => {
  const prr = new Prr();
  prr.start(10 * MSS);
  prr.onAck(4 * MSS, 8 * MSS, 7 * MSS, MSS, false);
  assert.equal(prr.allowance, 3 * MSS);
  prr.onSent(3 * MSS);
  // A short segment (1000 bytes) is delivered with the pipe at two: five segments delivered,
  // three sent: two may go, not one and 1000 bytes that no segment fits in.
  prr.onAck(1000, 2 * MSS, 7 * MSS, MSS, false);
  assert.equal(prr.allowance, 2 * MSS);
});

Deno.test("TcpConnection: a retransmission lost in recovery with nothing sent after it is repaired by the RTO, not a probe (RFC 8985 §7.2, Linux tcp_schedule_loss_probe)", () => {
  // Issue 19's loss rows: a two-segment flight, the first lost, the second SACKed; RACK marks
  // the first lost and recovery retransmits it. That retransmission is lost too and no later
  // segment is in flight to be delivered after it (RACK's lost-retransmission detection,
  // RFC 8985 §6.2, needs one): a tail loss probe is not allowed during recovery (§7.2 "not in
  // fast recovery"; Linux tcp_schedule_loss_probe: only in TCP_CA_Open/CWR), so the RTO
  // repairs it — as the kernel sender beside rawstack does.
  const p = new Peer({}, 10);
  p.write(2 * MSS);
  assert.deepEqual(p.sentOffsets(), [0, MSS]);
  p.host.advance(10);
  p.ack(0, [MSS, 2 * MSS]);
  // RACK's reordering window (min_RTT / 4) passes: the fast retransmission.
  p.host.advance(3);
  assert.deepEqual(p.sentOffsets(), [0]);
  assert.equal(p.conn.info().recoveries, 1);
  // It is lost. Nothing goes until the RTO, and then the segment again.
  let waitedMs = 0;
  let sent: number[] = [];
  while (sent.length === 0 && waitedMs < 1000) {
    p.host.advance(1);
    waitedMs++;
    sent = p.sentOffsets();
  }
  assert.deepEqual(sent, [0]);
  // The RTO armed by the first transmission (RFC 6298 (5.1); 200 ms minimum), far beyond a
  // PTO of 2·SRTT + 2 ms = 22 ms.
  assert.ok(waitedMs > 100, `resent after ${waitedMs} ms`);
  assert.equal(p.host.tcp.stats.tlpProbes, 0);
  assert.equal(p.conn.info().timeouts, 1);
  // The retransmission arrives: everything is acknowledged.
  p.host.advance(10);
  p.ack(2 * MSS);
  assert.equal(p.conn.info().timeouts, 1);
});

Deno.test("TcpInfo.caState follows Linux's tcp_ca_state: open, disorder on a SACK, recovery, open again, loss after a timeout", () => {
  const p = new Peer({}, 10);
  assert.equal(p.conn.info().caState, "open");
  p.write(10 * MSS);
  assert.equal(p.sentOffsets().length, 10);
  p.host.advance(1);
  // The first segment is missing; one SACK is reordering until RACK says otherwise.
  p.ack(0, [MSS, 2 * MSS]);
  assert.equal(p.conn.info().caState, "disorder");
  // Three segments SACKed past it and a reordering window later: lost, fast recovery.
  p.ack(0, [MSS, 4 * MSS]);
  p.host.advance(20);
  assert.equal(p.conn.info().caState, "recovery");
  assert.ok(p.sentOffsets().includes(0), "the hole was retransmitted");
  // Everything acknowledged: recovery ends.
  p.ack(10 * MSS);
  assert.equal(p.conn.info().caState, "open");
  // Nothing comes back for new data: the probe, then the timeout.
  p.write(2 * MSS);
  for (let i = 0; i < 20 && p.conn.info().timeouts === 0; i++) p.host.advance(100);
  assert.equal(p.conn.info().tlpProbes, 1);
  assert.equal(p.conn.info().timeouts, 1);
  assert.equal(p.conn.info().caState, "loss");
  // Loss lasts until what was outstanding at the timeout is acknowledged.
  p.ack(11 * MSS);
  assert.equal(p.conn.info().caState, "loss");
  p.ack(12 * MSS);
  assert.equal(p.conn.info().caState, "open");
});

Deno.test("TcpConnection counts a timestamp-echo RTT of 0 ticks as one tick, never 0 (Linux tcp_rtt_tsopt_us)", () => {
  // A 0.25 ms path: the handshake's sample comes from send times. The segment is then
  // retransmitted (the RTO): Karn's rule leaves only the echo, whose whole-millisecond clock
  // reads 0 — a real RTT is never 0, and Linux takes one tick.
  const p = new Peer({ timestamps: true }, 0.25, { tsVal: 1, tsEcr: 0 });
  assert.equal(p.conn.info().minRttMs, 0.25);
  p.write(p.conn.info().sndMss);
  assert.equal(p.take().length, 1);
  for (let i = 0; i < 30 && p.conn.info().timeouts === 0; i++) p.host.advance(100);
  assert.equal(p.conn.info().timeouts, 1);
  // The probe's copy, then the timeout's: the ACK echoes the last.
  const rtx = p.take().filter((r) => r.payloadLength > 0).at(-1);
  assert.ok(rtx !== undefined, "the segment was retransmitted");
  p.ack(p.conn.info().sndMss, [], { tsVal: 2, tsEcr: rtx.tsVal });
  assert.equal(p.conn.info().minRttMs, 0.25, "no sample of 0");
  assert.ok(p.conn.info().srttMs > 0.25, `srtt ${p.conn.info().srttMs} took the one-tick sample`);
});

Deno.test("TcpInfo counts SACKed and lost segments as Linux's sacked_out and lost_out: a retransmitted loss counts until acknowledged", () => {
  // Google's sack-shift-sacked-2-6-8-3-9-nofack.pkt: segments 2, 6 and 8 SACKed.
  const p = new Peer({}, 10);
  p.write(10 * MSS);
  assert.equal(p.sentOffsets().length, 10);
  p.host.advance(1);
  p.ack(0, [2 * MSS, 3 * MSS]);
  assert.equal(p.conn.info().sackedSegments, 1);
  assert.equal(p.conn.info().lostSegments, 0);
  p.ack(0, [2 * MSS, 3 * MSS, 6 * MSS, 7 * MSS]);
  p.ack(0, [2 * MSS, 3 * MSS, 6 * MSS, 7 * MSS, 8 * MSS, 9 * MSS]);
  // Three SACKed, no reordering seen: RACK's window is 0 and everything sent before the
  // last one SACKed is lost — 0, 1, 3, 4, 5 and 7.
  let info = p.conn.info();
  assert.equal(info.caState, "recovery");
  assert.equal(info.sackedSegments, 3);
  assert.equal(info.lostSegments, 6);
  assert.ok(p.sentOffsets().includes(0), "the first hole was retransmitted");
  assert.equal(p.conn.info().retransOutSegments, 1);
  // Segment 3 SACKed: no longer lost; segment 0, retransmitted, still is.
  p.ack(0, [2 * MSS, 4 * MSS, 6 * MSS, 7 * MSS, 8 * MSS, 9 * MSS]);
  info = p.conn.info();
  assert.equal(info.sackedSegments, 4);
  assert.equal(info.lostSegments, 5);
  // Segment 0 acknowledged.
  p.ack(MSS, [2 * MSS, 4 * MSS, 6 * MSS, 7 * MSS, 8 * MSS, 9 * MSS]);
  assert.equal(p.conn.info().lostSegments, 4);
  p.ack(10 * MSS);
  info = p.conn.info();
  assert.equal(info.sackedSegments, 0);
  assert.equal(info.lostSegments, 0);
  assert.equal(info.retransOutSegments, 0);
  assert.ok(info.retransmits > 0, "retransmits counts every retransmission ever");
});

Deno.test("TcpInfo.reordering follows Linux's tp->reordering: 3, raised by data SACKed below the highest SACK, kept after recovery", () => {
  const p = new Peer({}, 10);
  assert.equal(p.conn.info().reordering, 3);
  p.write(10 * MSS);
  p.take();
  p.host.advance(1);
  p.ack(0, [2 * MSS, 3 * MSS]);
  p.ack(0, [2 * MSS, 3 * MSS, 6 * MSS, 7 * MSS]);
  p.ack(0, [2 * MSS, 3 * MSS, 6 * MSS, 7 * MSS, 8 * MSS, 9 * MSS]);
  // Each SACK above the last: no reordering.
  assert.equal(p.conn.info().reordering, 3);
  // Segment 3, never retransmitted, SACKed below the fack 9·MSS: 6 segments of reordering.
  p.ack(0, [2 * MSS, 4 * MSS, 6 * MSS, 7 * MSS, 8 * MSS, 9 * MSS]);
  assert.equal(p.conn.info().reordering, 6);
  // Segment 7 SACKed: 9 - 7 = 2 segments, less than 6: unchanged.
  p.ack(0, [2 * MSS, 4 * MSS, 6 * MSS, 9 * MSS]);
  assert.equal(p.conn.info().reordering, 6);
  p.take();
  p.ack(10 * MSS);
  assert.equal(p.conn.info().caState, "open");
  assert.equal(p.conn.info().reordering, 6);
});

Deno.test("TcpInfo.lostSegments counts every outstanding segment after a timeout (Linux tcp_timeout_mark_lost)", () => {
  const p = new Peer({}, 10);
  p.write(3 * MSS);
  assert.equal(p.sentOffsets().length, 3);
  for (let i = 0; i < 40 && p.conn.info().timeouts === 0; i++) p.host.advance(50);
  assert.equal(p.conn.info().timeouts, 1);
  assert.equal(p.conn.info().lostSegments, 3);
  p.ack(3 * MSS);
  assert.equal(p.conn.info().lostSegments, 0);
});

Deno.test("Rack.checkReordering raises the degree to the distance below the fack, at most 300 segments; a timeout outside recovery lowers it (Linux tcp_check_sack_reordering, tcp_enter_loss)", () => {
  const rack = new Rack();
  assert.equal(rack.reordering, 3);
  rack.sackedSegments = 1;
  rack.highestSackEnd = 8000;
  rack.checkReordering(3000, 0, 1000);
  assert.equal(rack.reordering, 5);
  rack.checkReordering(5000, 0, 1000); // 3 segments: not more than 5
  assert.equal(rack.reordering, 5);
  rack.checkReordering(8000, 0, 1000); // at the fack: none
  assert.equal(rack.reordering, 5);
  rack.checkReordering(2500, 0, 1000); // 5.5 segments, rounded up
  assert.equal(rack.reordering, 6);
  rack.highestSackEnd = 1_000_000;
  rack.checkReordering(0, 0, 1000);
  assert.equal(rack.reordering, 300);
  // Nothing SACKed: the fack is SND.UNA.
  const fresh = new Rack();
  fresh.checkReordering(0, 5000, 1000);
  assert.equal(fresh.reordering, 5);
  rack.sackedSegments = 3;
  rack.onTimeout(false);
  assert.equal(rack.reordering, 300);
  rack.onTimeout(true);
  assert.equal(rack.reordering, 3);
});

Deno.test("TcpInfo under RFC 6675 without RACK: SACKed segments, and the unSACKed data below IsLost's boundary as lost (RFC 6675 §4)", () => {
  const p = new Peer({ lossDetection: "rfc6675" }, 10);
  p.write(6 * MSS);
  assert.equal(p.sentOffsets().length, 6);
  p.host.advance(1);
  p.ack(0, [2 * MSS, 3 * MSS]);
  let info = p.conn.info();
  assert.equal(info.sackedSegments, 1);
  assert.equal(info.lostSegments, 0);
  // Three segments SACKed above 0 and 1: both lost (DupThresh = 3).
  p.ack(0, [2 * MSS, 3 * MSS, 4 * MSS, 6 * MSS]);
  info = p.conn.info();
  assert.equal(info.sackedSegments, 3);
  assert.equal(info.lostSegments, 2);
  assert.equal(info.reordering, 3);
  p.ack(6 * MSS);
  info = p.conn.info();
  assert.equal(info.sackedSegments, 0);
  assert.equal(info.lostSegments, 0);
  assert.equal(info.retransOutSegments, 0);
});

Deno.test("SegmentLogPool reuses a finished connection's log, empty, within its byte bound", () => {
  const pool = new SegmentLogPool(2 * new SegmentLog(100).bytes);
  const a = pool.take(100);
  a.sent(1000, 5000, 1000, 1);
  a.setFlags(0, SEG_SACKED);
  pool.give(a);
  assert.equal(pool.retainedBytes, a.bytes);
  // The same capacity comes back, forgotten: no segment, flags written afresh on send.
  const b = pool.take(100);
  assert.equal(b, a);
  assert.equal(pool.retainedBytes, 0);
  assert.equal(b.count, 0);
  b.sent(7000, 8000, 1000, 2);
  assert.deepEqual([b.count, b.start(0), b.end(0), b.flags(0), b.xmitMs(0)], [1, 7000, 8000, 0, 2]);
  // Another capacity is a new log; past the bound a given log is let go.
  const c = pool.take(4000);
  assert.notEqual(c, a);
  pool.give(b);
  pool.give(new SegmentLog(100));
  pool.give(new SegmentLog(100));
  assert.equal(pool.retainedBytes, 2 * b.bytes);
});
