// Scripted engine tests: segments are fed at chosen times on a manual clock and every
// segment the engine emits is parsed back and checked.
import assert from "node:assert/strict";
import type { TcpConfig } from "../../src/tcp/config.ts";
import { type TcpConnection, TcpState } from "../../src/tcp/connection.ts";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpRepr } from "../../src/wire/tcp.ts";
import { bytesOf, Host, REMOTE, type SegmentFields } from "./harness.ts";

const LPORT = 40000;
const RPORT = 80;
const ISS = 1000;
const IRS = 5000;

function flagsOf(r: TcpRepr): string {
  return ["F", "S", "R", "P", "A"].filter((_, i) => r.flags & (1 << i)).join("");
}

function expectSeg(
  r: TcpRepr | undefined,
  want: { flags?: number; seq?: number; ack?: number; len?: number; window?: number },
): void {
  assert.ok(r !== undefined, "expected a segment");
  if (want.flags !== undefined) {
    assert.equal(flagsOf(r), flagsOf({ flags: want.flags } as TcpRepr), "flags");
  }
  // Parsed sequence numbers are int32 (seq.ts): compare in that form.
  if (want.seq !== undefined) assert.equal(r.seq, want.seq | 0, "seq");
  if (want.ack !== undefined) assert.equal(r.ack, want.ack | 0, "ack");
  if (want.len !== undefined) assert.equal(r.payloadLength, want.len, "payload length");
  if (want.window !== undefined) assert.equal(r.window, want.window, "window");
}

/** A host with an actively opened connection toward a scripted peer. */
class Active {
  readonly host: Host;
  readonly conn: TcpConnection;
  readonly log: string[] = [];
  iss: number;
  irs: number;

  constructor(config: Partial<TcpConfig> = {}, iss = ISS, irs = IRS) {
    this.host = new Host({ timestamps: false, ...config });
    this.iss = iss;
    this.irs = irs;
    this.conn = this.host.tcp.connect(0, REMOTE, RPORT, { localPort: LPORT, iss });
    this.conn.events = {
      onEstablished: () => this.log.push("established"),
      onReadable: () => this.log.push("readable"),
      onWritable: () => this.log.push("writable"),
      onClosed: (_c, e) => this.log.push(`closed:${e ? e.code : "ok"}`),
    };
  }

  feed(f: Omit<SegmentFields, "srcPort" | "dstPort">): void {
    this.host.feed({ srcPort: RPORT, dstPort: LPORT, ...f });
  }

  /** Completes the handshake; the peer offers the given SYN-ACK options. */
  establish(synAck: Partial<SegmentFields> = {}, rttMs = 0): void {
    const [syn] = this.host.take();
    expectSeg(syn, { flags: TCP_SYN, seq: this.iss });
    this.host.advance(rttMs);
    this.feed({
      flags: TCP_SYN | TCP_ACK,
      seq: this.irs,
      ack: this.iss + 1,
      window: 65535,
      mss: 1460,
      ...synAck,
    });
    const [ack] = this.host.take();
    expectSeg(ack, { flags: TCP_ACK, seq: this.iss + 1, ack: this.irs + 1, len: 0 });
    assert.equal(this.conn.state, TcpState.ESTABLISHED);
  }

  /** seq of our byte `i` (0-based) of data. */
  s(i: number): number {
    return (this.iss + 1 + i) | 0;
  }
  /** seq of the peer's byte `i`. */
  r(i: number): number {
    return (this.irs + 1 + i) | 0;
  }

  take(): TcpRepr[] {
    return this.host.take();
  }

  read(): Uint8Array {
    const out = new Uint8Array(this.conn.readableLength);
    this.conn.read(out, 0, out.length);
    return out;
  }
}

// ---------------------------------------------------------------- handshake

Deno.test("TcpConnection active open sends SYN with options and completes on SYN-ACK", () => {
  const a = new Active({ timestamps: true });
  const [syn] = a.take();
  expectSeg(syn, { flags: TCP_SYN, seq: ISS, ack: 0, len: 0 });
  assert.equal(syn.mss, 1460);
  // RFC 7323 §2.3: the shift covers the largest buffer autotuning may grow to (4 MiB: 7).
  assert.equal(syn.windowScale, 7);
  assert.ok(syn.sackPermitted);
  assert.ok(syn.hasTimestamp && syn.tsEcr === 0);
  assert.equal(a.conn.state, TcpState.SYN_SENT);
  a.host.advance(30);
  a.feed({
    flags: TCP_SYN | TCP_ACK,
    seq: IRS,
    ack: ISS + 1,
    mss: 1400,
    windowScale: 3,
    sackPermitted: true,
    tsVal: 777,
    tsEcr: syn.tsVal,
  });
  const [ack] = a.take();
  expectSeg(ack, { flags: TCP_ACK, seq: ISS + 1, ack: IRS + 1 });
  assert.ok(ack.hasTimestamp && ack.tsEcr === 777);
  assert.equal(a.conn.state, TcpState.ESTABLISHED);
  assert.deepEqual(a.log, ["established", "writable"]);
  const info = a.conn.info();
  assert.equal(info.sndMss, 1400 - 12); // timestamps take 12 bytes of every segment
  assert.ok(info.windowScaling && info.timestamps && info.sack);
  assert.equal(info.srttMs, 30); // RFC 7323 RTT from TSecr
  assert.equal(info.cwnd, 10 * 1388); // RFC 6928
});

Deno.test("TcpConnection uses 536 MSS and no options when the SYN-ACK has none", () => {
  const a = new Active();
  a.take();
  a.feed({ flags: TCP_SYN | TCP_ACK, seq: IRS, ack: ISS + 1, window: 1000 });
  const [ack] = a.take();
  expectSeg(ack, { flags: TCP_ACK, window: 65535 }); // no scaling: window field = min(buffer, 65535)
  const info = a.conn.info();
  assert.equal(info.sndMss, 536);
  assert.equal(info.sndWnd, 1000);
  assert.ok(!info.windowScaling && !info.sack && !info.timestamps);
});

Deno.test("TcpConnection retransmits SYN with exponential backoff and times out", () => {
  const a = new Active({ synRetries: 3 });
  expectSeg(a.take()[0], { flags: TCP_SYN, seq: ISS });
  const gaps = [1000, 2000, 4000];
  for (const gap of gaps) {
    a.host.advance(gap - 1);
    assert.equal(a.take().length, 0);
    a.host.advance(1);
    expectSeg(a.take()[0], { flags: TCP_SYN, seq: ISS });
  }
  a.host.advance(8000);
  assert.equal(a.take().length, 0);
  assert.equal(a.conn.state, TcpState.CLOSED);
  assert.equal(a.conn.error?.code, "ETIMEDOUT");
  assert.deepEqual(a.log, ["readable", "writable", "closed:ETIMEDOUT"]); // wake readers and writers
  assert.equal(a.host.tcp.connectionCount, 0);
  assert.equal(a.host.wheel.size, 0);
});

Deno.test("TcpConnection in SYN-SENT: RST with acceptable ACK refuses, bad ACK gets RST", () => {
  const a = new Active();
  a.take();
  // An ACK for something we never sent: <SEQ=SEG.ACK><CTL=RST>, stay in SYN-SENT.
  a.feed({ flags: TCP_SYN | TCP_ACK, seq: IRS, ack: ISS + 50 });
  expectSeg(a.take()[0], { flags: TCP_RST, seq: ISS + 50 });
  assert.equal(a.conn.state, TcpState.SYN_SENT);
  // RST without ACK: ignored.
  a.feed({ flags: TCP_RST, seq: IRS });
  assert.equal(a.conn.state, TcpState.SYN_SENT);
  a.feed({ flags: TCP_RST | TCP_ACK, seq: 0, ack: ISS + 1 });
  assert.equal(a.conn.state, TcpState.CLOSED);
  assert.equal(a.conn.error?.code, "ECONNREFUSED");
  assert.equal(a.take().length, 0);
});

Deno.test("TcpConnection simultaneous open goes SYN-SENT → SYN-RECEIVED → ESTABLISHED", () => {
  const a = new Active();
  a.take();
  a.feed({ flags: TCP_SYN, seq: IRS, mss: 1460 });
  const [synAck] = a.take();
  expectSeg(synAck, { flags: TCP_SYN | TCP_ACK, seq: ISS, ack: IRS + 1 });
  assert.equal(a.conn.state, TcpState.SYN_RECEIVED);
  // A plain ACK of our SYN also completes it (§3.10.7.4 fifth, SYN-RECEIVED).
  a.feed({ flags: TCP_ACK, seq: IRS + 1, ack: ISS + 1 });
  assert.equal(a.conn.state, TcpState.ESTABLISHED);
  assert.ok(a.log.includes("established"));
});

Deno.test("TcpConnection simultaneous open completes on the peer's SYN-ACK (RFC 9293 Figure 8)", () => {
  const a = new Active();
  a.take();
  const synOpts = { window: 65535, mss: 1460, windowScale: 7 };
  a.feed({ flags: TCP_SYN, seq: IRS, ...synOpts });
  expectSeg(a.take()[0], { flags: TCP_SYN | TCP_ACK, seq: ISS, ack: IRS + 1 });
  // A SYN-ACK that does not acknowledge our SYN changes nothing: it is answered with an ACK.
  a.feed({ flags: TCP_SYN | TCP_ACK, seq: IRS, ack: ISS, ...synOpts });
  expectSeg(a.take()[0], { flags: TCP_ACK, seq: ISS + 1, ack: IRS + 1, len: 0 });
  assert.equal(a.conn.state, TcpState.SYN_RECEIVED);
  // Figure 8 step 6: <SEQ=IRS><ACK=ISS+1><CTL=SYN,ACK> moves SYN-RECEIVED to ESTABLISHED.
  a.feed({ flags: TCP_SYN | TCP_ACK, seq: IRS, ack: ISS + 1, ...synOpts });
  assert.equal(a.conn.state, TcpState.ESTABLISHED);
  expectSeg(a.take()[0], { flags: TCP_ACK, seq: ISS + 1, ack: IRS + 1, len: 0 });
  assert.deepEqual(a.log, ["established", "writable"]);
  // RFC 7323 §2.2: the window of a SYN is never scaled.
  assert.equal(a.conn.info().sndWnd, 65535);
  a.conn.write(bytesOf(10), 0, 10);
  expectSeg(a.take()[0], { flags: TCP_ACK | TCP_PSH, seq: ISS + 1, ack: IRS + 1, len: 10 });
});

// ---------------------------------------------------------------- sending

Deno.test("TcpConnection cuts writes into MSS segments with PSH on the last one", () => {
  const a = new Active();
  a.establish();
  const data = bytesOf(3000);
  assert.equal(a.conn.write(data, 0, 3000), 3000);
  const segs = a.take();
  assert.equal(segs.length, 3);
  expectSeg(segs[0], { flags: TCP_ACK, seq: a.s(0), len: 1460 });
  expectSeg(segs[1], { flags: TCP_ACK, seq: a.s(1460), len: 1460 });
  expectSeg(segs[2], { flags: TCP_ACK | TCP_PSH, seq: a.s(2920), len: 80 });
  assert.deepEqual(
    segs[2].payload.slice(segs[2].payloadOffset, segs[2].payloadOffset + 80),
    data.slice(2920),
  );
});

Deno.test("TcpConnection congestion window limits the first flight to the RFC 6928 window", () => {
  const a = new Active();
  a.establish();
  a.conn.write(bytesOf(30000), 0, 30000);
  const segs = a.take();
  assert.equal(segs.length, 10);
  // Slow start counts both segments the ACK covers (Linux tcp_slow_start): +2 MSS, and the
  // two segments acknowledged leave the flight.
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(2920) });
  assert.equal(a.take().length, 4);
});

Deno.test("TcpConnection Nagle holds small segments while data is unacknowledged", () => {
  const a = new Active();
  a.establish();
  const d = bytesOf(30);
  a.conn.write(d, 0, 10);
  expectSeg(a.take()[0], { seq: a.s(0), len: 10, flags: TCP_ACK | TCP_PSH });
  a.conn.write(d, 10, 10);
  a.conn.write(d, 20, 5);
  assert.equal(a.take().length, 0, "Nagle must hold the small segment");
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(10) });
  expectSeg(a.take()[0], { seq: a.s(10), len: 15 });
  a.conn.setNoDelay(true);
  a.conn.write(d, 25, 5);
  expectSeg(a.take()[0], { seq: a.s(25), len: 5 });
});

// ---------------------------------------------------------------- corking (Linux TCP_CORK, MSG_MORE)

Deno.test("TcpConnection TCP_CORK holds partial segments and uncorking sends them at once with PSH", () => {
  const a = new Active();
  a.establish();
  a.conn.setCork(true);
  const d = bytesOf(80);
  a.conn.write(d, 0, 40);
  a.conn.write(d, 40, 40);
  assert.equal(a.take().length, 0, "corked: nothing in flight, still held");
  a.conn.setCork(false);
  const segs = a.take();
  assert.equal(segs.length, 1);
  expectSeg(segs[0], { seq: a.s(0), len: 80, flags: TCP_ACK | TCP_PSH });
});

Deno.test("TcpConnection TCP_CORK sends full segments and a later write completing one frees the rest", () => {
  const a = new Active();
  a.establish();
  a.conn.setCork(true);
  const d = bytesOf(4380);
  a.conn.write(d, 0, 3100);
  // 2 × 1460 go; the 180-byte tail waits for more.
  assert.deepEqual(a.take().map((r) => r.payloadLength), [1460, 1460]);
  a.conn.write(d, 3100, 1280);
  const [full] = a.take();
  expectSeg(full, { seq: a.s(2920), len: 1460 });
});

Deno.test("TcpConnection TCP_NODELAY set while corked pushes what is held once; the cork stays", () => {
  const a = new Active();
  a.establish();
  a.conn.setCork(true);
  const d = bytesOf(120);
  a.conn.write(d, 0, 40);
  a.conn.write(d, 40, 40);
  assert.equal(a.take().length, 0);
  a.conn.setNoDelay(true);
  expectSeg(a.take()[0], { seq: a.s(0), len: 80, flags: TCP_ACK | TCP_PSH });
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(80) });
  // Linux skb_entail clears TCP_NAGLE_PUSH: the next write is corked again.
  a.conn.write(d, 80, 40);
  assert.equal(a.take().length, 0, "still corked after the one push");
  a.conn.setCork(false);
  expectSeg(a.take()[0], { seq: a.s(80), len: 40 });
});

Deno.test("TcpConnection MSG_MORE corks a write despite TCP_NODELAY; a plain write sends it all", () => {
  const a = new Active({ noDelay: true });
  a.establish();
  const d = bytesOf(40);
  assert.equal(a.conn.write(d, 0, 20, true), 20);
  assert.equal(a.take().length, 0, "MSG_MORE holds the partial segment");
  a.conn.write(d, 20, 20);
  const segs = a.take();
  assert.equal(segs.length, 1);
  expectSeg(segs[0], { seq: a.s(0), len: 40, flags: TCP_ACK | TCP_PSH });
});

Deno.test("TcpConnection data held by MSG_MORE leaves on the next ACK without PSH", () => {
  const a = new Active({ noDelay: true });
  a.establish();
  const d = bytesOf(30);
  a.conn.write(d, 0, 10);
  expectSeg(a.take()[0], { seq: a.s(0), len: 10, flags: TCP_ACK | TCP_PSH });
  a.conn.write(d, 10, 20, true);
  assert.equal(a.take().length, 0);
  // Linux: the ACK pushes with tp->nonagle (MSG_MORE corked only its own call), and no write
  // without MSG_MORE marked a push point.
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(10) });
  expectSeg(a.take()[0], { seq: a.s(10), len: 20, flags: TCP_ACK });
});

Deno.test("TcpConnection corked data with nothing in flight leaves at the probe timer (the cork's ceiling)", () => {
  const a = new Active({ minRtoMs: 1000 }); // probe interval = RTO = 1 s
  a.establish();
  a.conn.setCork(true);
  a.conn.write(bytesOf(40), 0, 40);
  a.host.advance(999);
  assert.equal(a.take().length, 0);
  a.host.advance(1);
  const segs = a.take();
  assert.equal(segs.length, 1);
  expectSeg(segs[0], { seq: a.s(0), len: 40, flags: TCP_ACK | TCP_PSH });
  assert.equal(a.conn.state, TcpState.ESTABLISHED);
});

Deno.test("TcpConnection a corked tail still leaves at the probe timer once the ACK empties the flight", () => {
  const a = new Active({ minRtoMs: 1000 });
  a.establish();
  a.conn.setCork(true);
  a.conn.write(bytesOf(1500), 0, 1500);
  assert.deepEqual(a.take().map((r) => r.payloadLength), [1460]);
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(1460) });
  assert.equal(a.take().length, 0, "the 40-byte tail stays corked");
  a.host.advance(1000);
  expectSeg(a.take()[0], { seq: a.s(1460), len: 40, flags: TCP_ACK | TCP_PSH });
});

Deno.test("TcpConnection the FIN is never corked: closing sends held data with it", () => {
  const a = new Active();
  a.establish();
  a.conn.setCork(true);
  a.conn.write(bytesOf(40), 0, 40, true);
  assert.equal(a.take().length, 0);
  a.conn.closeWrite();
  const [seg] = a.take();
  expectSeg(seg, { seq: a.s(0), len: 40 });
  assert.ok(seg.flags & TCP_FIN, "FIN with the held data");
});

Deno.test("TcpConnection respects the peer's window and probes a zero window", () => {
  const a = new Active({ minRtoMs: 1000 }); // persist interval = RTO = 1 s
  a.establish({ window: 2000 });
  a.conn.write(bytesOf(5000), 0, 5000);
  const segs = a.take();
  // RFC 9293 §3.8.6.2.1 sender SWS: 540 bytes < half the max window, wait while data is in flight.
  assert.deepEqual(segs.map((s) => s.payloadLength), [1460]);
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(1460), window: 540 });
  assert.deepEqual(a.take().map((s) => s.payloadLength), [540]); // nothing in flight: send it
  // All acknowledged, window closed.
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(2000), window: 0 });
  assert.equal(a.take().length, 0);
  // RFC 9293 §3.8.6.1: persist timer → a one-byte probe beyond the window.
  a.host.advance(1000);
  const [probe] = a.take();
  expectSeg(probe, { seq: a.s(2000), len: 1 });
  // Still zero: the probe is repeated with backoff (1 s, then 2 s).
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(2000), window: 0 });
  a.host.advance(1999);
  assert.equal(a.take().length, 0);
  a.host.advance(1);
  expectSeg(a.take()[0], { seq: a.s(2000), len: 1 });
  // Window opens: data resumes from SND.NXT.
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(2000), window: 3000 });
  const resumed = a.take();
  assert.equal(resumed[0].seq, a.s(2000));
  assert.equal(resumed.reduce((n, s) => n + s.payloadLength, 0), 3000);
  assert.equal(a.conn.state, TcpState.ESTABLISHED);
});

Deno.test("TcpConnection accepts an ACK for a zero-window probe byte", () => {
  const a = new Active({ minRtoMs: 1000 });
  a.establish({ window: 0 });
  a.conn.write(bytesOf(100), 0, 100);
  assert.equal(a.take().length, 0);
  a.host.advance(1000);
  expectSeg(a.take()[0], { seq: a.s(0), len: 1 });
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(1), window: 1000 });
  const [rest] = a.take();
  expectSeg(rest, { seq: a.s(1), len: 99 });
});

// ---------------------------------------------------------------- retransmission

Deno.test("TcpConnection retransmits on RTO with backoff, samples RTT, and times out", () => {
  const a = new Active({ dataRetries: 2, minRtoMs: 200 });
  a.establish({}, 100); // SYN RTT 100 ms → SRTT 100, RTTVAR 50, RTO 300
  assert.equal(a.conn.info().rtoMs, 300);
  a.conn.write(bytesOf(100), 0, 100);
  expectSeg(a.take()[0], { seq: a.s(0), len: 100 });
  a.host.advance(299);
  assert.equal(a.take().length, 0);
  a.host.advance(1);
  expectSeg(a.take()[0], { seq: a.s(0), len: 100 });
  assert.equal(a.conn.info().rtoMs, 600);
  assert.equal(a.conn.info().cwnd, 1460); // RFC 5681: loss window
  a.host.advance(600);
  expectSeg(a.take()[0], { seq: a.s(0), len: 100 });
  a.host.advance(1200);
  assert.equal(a.conn.state, TcpState.CLOSED);
  assert.equal(a.conn.error?.code, "ETIMEDOUT");
  assert.equal(a.host.tcp.connectionCount, 0);
  assert.equal(a.host.wheel.size, 0);
});

Deno.test("TcpConnection Karn's rule: no RTT sample from a retransmitted segment", () => {
  const a = new Active({ minRtoMs: 200 });
  a.establish({}, 100);
  a.conn.write(bytesOf(10), 0, 10);
  a.take();
  a.host.advance(300);
  a.take(); // retransmission
  a.host.advance(5000 - 300); // would be a 5 s sample
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(10) });
  assert.equal(a.conn.info().srttMs, 100);
  assert.equal(a.conn.info().rtoMs, 300); // backoff cleared by the new ACK
});

Deno.test("TcpConnection NewReno fast retransmit and partial ACKs (no SACK)", () => {
  const a = new Active({ congestion: "newreno" });
  a.establish();
  a.conn.write(bytesOf(1460 * 6), 0, 1460 * 6);
  assert.equal(a.take().length, 6);
  // Segments 0 and 2 are lost. Three duplicate ACKs for segment 0.
  for (let i = 0; i < 2; i++) {
    a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(0) });
    assert.equal(a.take().length, 0);
  }
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(0) });
  expectSeg(a.take()[0], { seq: a.s(0), len: 1460 }); // fast retransmit
  assert.equal(a.conn.info().ssthresh, 4380); // flight 8760 / 2
  // Partial ACK up to segment 2: RFC 6582 retransmits segment 2 at once.
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(2920) });
  const [seg2] = a.take();
  expectSeg(seg2, { seq: a.s(2920), len: 1460 });
  // Full ACK ends recovery.
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(8760) });
  assert.ok(a.conn.info().retransmits >= 2);
  assert.equal(a.conn.info().cwnd, 1460 * 2); // min(ssthresh, max(flight, mss) + mss) with nothing in flight
});

Deno.test("TcpConnection SACK recovery retransmits only the holes (RFC 6675)", () => {
  const a = new Active({ congestion: "newreno", lossDetection: "rfc6675" });
  a.establish({ sackPermitted: true });
  const mss = 1460;
  a.conn.write(bytesOf(mss * 8), 0, mss * 8);
  assert.equal(a.take().length, 8);
  // Segments 1 and 4 lost; the peer SACKs 2-3 and then 5-7.
  const ackAt = a.s(mss);
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: ackAt, sack: [a.s(2 * mss), a.s(3 * mss)] });
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: ackAt, sack: [a.s(2 * mss), a.s(4 * mss)] });
  a.feed({
    flags: TCP_ACK,
    seq: a.r(0),
    ack: ackAt,
    sack: [a.s(5 * mss), a.s(6 * mss), a.s(2 * mss), a.s(4 * mss)],
  });
  const first = a.take();
  assert.ok(first.length >= 1);
  expectSeg(first[0], { seq: a.s(mss), len: mss });
  a.feed({
    flags: TCP_ACK,
    seq: a.r(0),
    ack: ackAt,
    sack: [a.s(5 * mss), a.s(8 * mss), a.s(2 * mss), a.s(4 * mss)],
  });
  const later = [...first.slice(1), ...a.take()];
  const retransmitted = later.filter((s) => (s.seq - a.s(0)) >>> 0 < 8 * mss).map((s) =>
    (s.seq - a.s(0)) / mss
  );
  assert.deepEqual(retransmitted, [4], "only the hole at segment 4 is resent");
});

// ---------------------------------------------------------------- receiving

/** Feeds `count` in-order segments of `size` bytes from peer byte `from`; each must be ACKed at once. */
function expectQuickAcks(a: Active, from: number, count: number, size: number): number {
  for (let i = 0; i < count; i++, from += size) {
    a.feed({ flags: TCP_ACK, seq: a.r(from), ack: a.s(0), data: bytesOf(size) });
    const segs = a.take();
    assert.equal(segs.length, 1, `quick ACK ${i + 1} of ${count}`);
    expectSeg(segs[0], { flags: TCP_ACK, ack: a.r(from + size), len: 0 });
  }
  return from;
}

Deno.test("TcpConnection quick-ACKs the first data segments of a connection, then delays ACKs", () => {
  const a = new Active();
  a.establish();
  // Linux tcp_incr_quickack: min(16, rcv_wnd / (2 * rcv_mss)) = min(16, 262144 / 1072).
  const next = expectQuickAcks(a, 0, 16, 100);
  a.feed({ flags: TCP_ACK, seq: a.r(next), ack: a.s(0), data: bytesOf(100) });
  assert.equal(a.take().length, 0, "the budget is spent: the 17th ACK is delayed");
  a.host.advance(40);
  expectSeg(a.take()[0], { flags: TCP_ACK, ack: a.r(next + 100) });
});

Deno.test("TcpConnection sizes the quick-ACK budget by the receive window", () => {
  const a = new Active({ receiveBufferBytes: 4096, windowScaling: false });
  a.establish();
  // 4096 / (2 * 536) = 3 quick ACKs.
  const next = expectQuickAcks(a, 0, 3, 10);
  a.feed({ flags: TCP_ACK, seq: a.r(next), ack: a.s(0), data: bytesOf(10) });
  assert.equal(a.take().length, 0);
});

Deno.test("TcpConnection quick-ACKs again after an idle period longer than the RTO", () => {
  const a = new Active();
  a.establish({}, 50);
  let next = expectQuickAcks(a, 0, 16, 100);
  a.feed({ flags: TCP_ACK, seq: a.r(next), ack: a.s(0), data: bytesOf(100) });
  next += 100;
  a.host.advance(40);
  expectSeg(a.take()[0], { flags: TCP_ACK, ack: a.r(next) });
  // Linux tcp_event_data_recv: a gap longer than the RTO restarts quick-ACK mode.
  const rtoMs = a.conn.info().rtoMs;
  a.host.advance(rtoMs - 40);
  a.feed({ flags: TCP_ACK, seq: a.r(next), ack: a.s(0), data: bytesOf(100) });
  next += 100;
  assert.equal(a.take().length, 0, "a gap of exactly the RTO is not idle");
  a.host.advance(40);
  expectSeg(a.take()[0], { flags: TCP_ACK, ack: a.r(next) });
  a.host.advance(rtoMs + 1);
  expectQuickAcks(a, next, 16, 100);
});

Deno.test("TcpConnection delays ACKs up to 40 ms and ACKs every second full segment", () => {
  const a = new Active({ ackBatching: false });
  a.establish();
  let next = expectQuickAcks(a, 0, 16, 100); // connection start: quick ACKs
  a.feed({ flags: TCP_ACK, seq: a.r(next), ack: a.s(0), data: bytesOf(100) });
  next += 100;
  assert.equal(a.take().length, 0);
  a.host.advance(39);
  assert.equal(a.take().length, 0);
  a.host.advance(1);
  expectSeg(a.take()[0], { flags: TCP_ACK, ack: a.r(next) });
  a.feed({ flags: TCP_ACK, seq: a.r(next), ack: a.s(0), data: bytesOf(536) });
  assert.equal(a.take().length, 0);
  a.feed({ flags: TCP_ACK, seq: a.r(next + 536), ack: a.s(0), data: bytesOf(536) });
  expectSeg(a.take()[0], { flags: TCP_ACK, ack: a.r(next + 1072) });
  assert.equal(a.host.wheel.size, 0, "delayed-ACK timer cancelled");
});

Deno.test("TcpConnection with ackBatching ACKs a batch of full segments once, when the wheel advances", () => {
  const a = new Active({ ackBatching: true, receiveBufferBytes: 64 * 1024 });
  a.establish();
  let next = expectQuickAcks(a, 0, 16, 100); // connection start: quick ACKs are never batched
  // A "receive batch": four full segments fed without the wheel advancing.
  for (let i = 0; i < 4; i++, next += 536) {
    a.feed({ flags: TCP_ACK, seq: a.r(next), ack: a.s(0), data: bytesOf(536) });
  }
  assert.equal(a.take().length, 0, "no ACK inside the batch");
  assert.equal(a.host.wheel.nextDeadline(), 0, "the ACK is due now");
  a.host.advance(0); // end of the batch: the stack advances the wheel
  let segs = a.take();
  assert.equal(segs.length, 1, "one ACK for the batch");
  expectSeg(segs[0], { flags: TCP_ACK, ack: a.r(next), len: 0 });
  // A quarter of the advertised window unacknowledged forces the ACK at once.
  const quarter = 16 * 1024;
  let fed = 0;
  while (fed < quarter) {
    a.feed({ flags: TCP_ACK, seq: a.r(next), ack: a.s(0), data: bytesOf(536) });
    next += 536;
    fed += 536;
    segs = a.take();
    if (segs.length > 0) break;
  }
  assert.equal(segs.length, 1, "an ACK before the batch ends");
  assert.ok(fed >= quarter - 1072 && fed <= quarter, `ACK after ${fed} bytes`);
  expectSeg(segs[0], { flags: TCP_ACK, ack: a.r(next) });
  // A sub-MSS segment still waits for the delayed-ACK timer (40 ms), not the batch end.
  a.feed({ flags: TCP_ACK, seq: a.r(next), ack: a.s(0), data: bytesOf(100) });
  a.host.advance(0);
  assert.equal(a.take().length, 0);
  a.host.advance(40);
  assert.equal(a.take().length, 1);
});

Deno.test("TcpConnection ACKs out-of-order data at once with SACK blocks, newest first", () => {
  const a = new Active();
  a.establish({ sackPermitted: true });
  const data = bytesOf(400);
  const seg = (from: number, to: number) =>
    a.feed({ flags: TCP_ACK, seq: a.r(from), ack: a.s(0), data: data.slice(from, to) });
  seg(100, 200);
  let [ack] = a.take();
  expectSeg(ack, { ack: a.r(0) });
  assert.deepEqual(ack.sackBlocks.slice(0, 2 * ack.sackCount), [a.r(100), a.r(200)]);
  seg(300, 400);
  [ack] = a.take();
  assert.deepEqual(ack.sackBlocks.slice(0, 2 * ack.sackCount), [
    a.r(300),
    a.r(400),
    a.r(100),
    a.r(200),
  ]);
  assert.equal(a.conn.readableLength, 0);
  seg(0, 100); // fills the first hole: immediate ACK
  [ack] = a.take();
  expectSeg(ack, { ack: a.r(200) });
  assert.deepEqual(ack.sackBlocks.slice(0, 2 * ack.sackCount), [a.r(300), a.r(400)]);
  seg(200, 300);
  [ack] = a.take();
  expectSeg(ack, { ack: a.r(400) });
  assert.equal(ack.sackCount, 0);
  assert.deepEqual(a.read(), data);
});

Deno.test("TcpConnection advertises free space, closes the window, and updates it on read", () => {
  const a = new Active({ receiveBufferBytes: 4096, windowScaling: false });
  a.establish();
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(0), data: bytesOf(2048) });
  a.feed({ flags: TCP_ACK, seq: a.r(2048), ack: a.s(0), data: bytesOf(2048) });
  // 4096 / (2 * 1460): one quick ACK at connection start, then the delayed ACK.
  expectSeg(a.take()[0], { ack: a.r(2048), window: 2048 });
  a.host.advance(40);
  const [ack] = a.take();
  expectSeg(ack, { ack: a.r(4096), window: 0 });
  // Beyond the window: dropped and re-ACKed.
  a.feed({ flags: TCP_ACK, seq: a.r(4096), ack: a.s(0), data: bytesOf(10) });
  expectSeg(a.take()[0], { ack: a.r(4096), window: 0 });
  // Reading a little does not reopen a silly window (RFC 9293 §3.8.6.2.2).
  const buf = new Uint8Array(4096);
  a.conn.read(buf, 0, 100);
  assert.equal(a.take().length, 0);
  a.conn.read(buf, 0, 2000);
  const [update] = a.take();
  expectSeg(update, { ack: a.r(4096), window: 2100 });
});

Deno.test("TcpConnection read sends no window update when the advertised edge cannot move", () => {
  // A 256 KiB buffer behind an unscaled 16-bit window: reading frees buffer space, but the
  // window field is already at its 65535 cap and the edge moves by less than an MSS.
  const a = new Active({ windowScaling: false });
  a.establish();
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(0), data: bytesOf(100) });
  a.host.advance(40);
  expectSeg(a.take()[0], { flags: TCP_ACK, ack: a.r(100), window: 65435 });
  assert.equal(a.read().length, 100);
  // An ACK with an unchanged window would be a duplicate ACK for the peer (RFC 5681 §2).
  assert.deepEqual(a.take().map((r) => `${flagsOf(r)} ack ${r.ack} win ${r.window}`), []);
});

Deno.test("TcpConnection PAWS drops a segment with an old timestamp (RFC 7323 §5)", () => {
  const a = new Active({ timestamps: true });
  a.take();
  a.feed({ flags: TCP_SYN | TCP_ACK, seq: IRS, ack: ISS + 1, tsVal: 1000, tsEcr: 0 });
  a.take();
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(0), tsVal: 1005, data: bytesOf(10) });
  a.host.advance(40);
  const [ack] = a.take();
  assert.equal(ack.tsEcr, 1005);
  a.feed({ flags: TCP_ACK, seq: a.r(10), ack: a.s(0), tsVal: 990, data: bytesOf(10) });
  const [dup] = a.take();
  expectSeg(dup, { ack: a.r(10) });
  assert.equal(a.conn.readableLength, 10);
  assert.equal(a.host.tcp.stats.pawsDrops, 1);
});

Deno.test("TcpConnection PAWS and the echo work across the timestamp 2^31 and 2^32 boundaries", () => {
  for (const start of [0x7ffffff0, 0xfffffff0]) {
    const a = new Active({ timestamps: true }, 0x7fffff00, 0xfffffff0);
    const [syn] = a.take();
    a.feed({
      flags: TCP_SYN | TCP_ACK,
      seq: a.irs,
      ack: a.iss + 1,
      tsVal: start,
      tsEcr: syn.tsVal,
    });
    a.take();
    // The peer's clock crosses the boundary: newer timestamps, not PAWS-old ones.
    const later = start + 0x20;
    a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(0), tsVal: later, data: bytesOf(10) });
    a.host.advance(40);
    const [ack] = a.take();
    assert.equal(ack.tsEcr >>> 0, later % 2 ** 32, `echo of ${later}`);
    assert.equal(ack.tsEcr, later | 0, "TSecr parses as int32");
    assert.equal(a.host.tcp.stats.pawsDrops, 0);
    // One from before the crossing is old (RFC 7323 §5.3 R1): dropped, and a duplicate ACK.
    a.feed({ flags: TCP_ACK, seq: a.r(10), ack: a.s(0), tsVal: start + 1, data: bytesOf(10) });
    const [dup] = a.take();
    expectSeg(dup, { ack: a.r(10) });
    assert.equal(a.conn.readableLength, 10);
    assert.equal(a.host.tcp.stats.pawsDrops, 1);
    // Our own RTT samples come from TSecr echoes of our int32 clock.
    a.conn.write(bytesOf(100), 0, 100);
    const [data] = a.take();
    a.host.advance(25);
    a.feed({ flags: TCP_ACK, seq: a.r(10), ack: a.s(100), tsVal: later + 1, tsEcr: data.tsVal });
    // The handshake's echo read 0 ticks, sampled as one tick (1 ms, Linux tcp_rtt_tsopt_us);
    // this 25 ms sample: SRTT = 7/8 · 1 + 1/8 · 25 (RFC 6298 §2.3).
    assert.equal(a.conn.info().srttMs, 7 / 8 + 25 / 8);
  }
});

Deno.test("TcpConnection TcpInfo shows sequence numbers unsigned; ICMP quotes above 2^31 act", () => {
  const a = new Active({}, 0xfffffe00, 0x80000000);
  a.establish({ windowScale: 0 });
  const info = a.conn.info();
  assert.equal(info.iss, 0xfffffe00);
  assert.equal(info.irs, 0x80000000);
  assert.equal(info.sndUna, 0xfffffe01);
  assert.equal(info.sndNxt, 0xfffffe01);
  assert.equal(info.rcvNxt, 0x80000001);
  assert.equal(a.conn.iss, 0xfffffe00 | 0, "the engine's own getter stays int32");
  assert.equal(a.conn.sequenceState.iss, 0xfffffe00);
  a.conn.write(bytesOf(1460), 0, 1460);
  a.take();
  // RFC 1191 §6.2 frag-needed quoting our first data byte's sequence number (0xfffffe01).
  a.host.tcp.onIcmpError(0, 3, 4, 1000, icmpQuote(a, a.s(0)), 0, 28);
  assert.deepEqual(a.take().map((s) => s.payloadLength), [960, 500]);
  const after = a.conn.info();
  assert.equal(after.sndNxt, (0xfffffe01 + 1460) % 2 ** 32, "SND.NXT wrapped past 2^32");
  assert.equal(after.sndMss, 960);
});

// ---------------------------------------------------------------- closing

Deno.test("TcpConnection active close: FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT → CLOSED", () => {
  const a = new Active({ timeWaitMs: 60000 });
  a.establish();
  a.conn.closeWrite();
  expectSeg(a.take()[0], { flags: TCP_FIN | TCP_ACK, seq: a.s(0), ack: a.r(0) });
  assert.equal(a.conn.state, TcpState.FIN_WAIT_1);
  assert.equal(a.conn.write(new Uint8Array(1), 0, 1), -1);
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(1) });
  assert.equal(a.conn.state, TcpState.FIN_WAIT_2);
  // Half-close: data still flows toward us.
  a.feed({ flags: TCP_ACK | TCP_PSH, seq: a.r(0), ack: a.s(1), data: bytesOf(5) });
  expectSeg(a.take()[0], { flags: TCP_ACK, seq: a.s(1), ack: a.r(5) }); // quick ACK
  a.feed({ flags: TCP_FIN | TCP_ACK, seq: a.r(5), ack: a.s(1) });
  expectSeg(a.take()[0], { flags: TCP_ACK, seq: a.s(1), ack: a.r(6) });
  assert.equal(a.conn.state, TcpState.TIME_WAIT);
  assert.ok(a.log.includes("closed:ok"));
  assert.equal(a.read().length, 5);
  assert.ok(a.conn.eof);
  // A retransmitted FIN is ACKed and restarts the 2 MSL timer.
  a.host.advance(30000);
  a.feed({ flags: TCP_FIN | TCP_ACK, seq: a.r(5), ack: a.s(1) });
  expectSeg(a.take()[0], { flags: TCP_ACK, ack: a.r(6) });
  a.host.advance(59999);
  assert.equal(a.conn.state, TcpState.TIME_WAIT);
  a.host.advance(1);
  assert.equal(a.conn.state, TcpState.CLOSED);
  assert.equal(a.host.tcp.connectionCount, 0);
  assert.equal(a.host.wheel.size, 0);
});

Deno.test("TcpConnection passive close: CLOSE-WAIT → LAST-ACK → CLOSED", () => {
  const a = new Active();
  a.establish();
  a.feed({ flags: TCP_FIN | TCP_ACK, seq: a.r(0), ack: a.s(0) });
  expectSeg(a.take()[0], { flags: TCP_ACK, ack: a.r(1) });
  assert.equal(a.conn.state, TcpState.CLOSE_WAIT);
  assert.ok(a.conn.eof);
  a.conn.write(bytesOf(10), 0, 10); // still allowed in CLOSE-WAIT
  expectSeg(a.take()[0], { seq: a.s(0), len: 10 });
  a.conn.close();
  expectSeg(a.take()[0], { flags: TCP_FIN | TCP_ACK, seq: a.s(10) });
  assert.equal(a.conn.state, TcpState.LAST_ACK);
  a.feed({ flags: TCP_ACK, seq: a.r(1), ack: a.s(11) });
  assert.equal(a.conn.state, TcpState.CLOSED);
  assert.equal(a.host.tcp.connectionCount, 0);
  assert.equal(a.host.wheel.size, 0);
});

Deno.test("TcpConnection simultaneous close goes through CLOSING to TIME-WAIT", () => {
  const a = new Active();
  a.establish();
  a.conn.closeWrite();
  a.take();
  a.feed({ flags: TCP_FIN | TCP_ACK, seq: a.r(0), ack: a.s(0) }); // crosses our FIN
  expectSeg(a.take()[0], { flags: TCP_ACK, ack: a.r(1) });
  assert.equal(a.conn.state, TcpState.CLOSING);
  a.feed({ flags: TCP_ACK, seq: a.r(1), ack: a.s(1) });
  assert.equal(a.conn.state, TcpState.TIME_WAIT);
});

Deno.test("TcpConnection sends a bare FIN even when the congestion window is full", () => {
  const a = new Active();
  a.establish();
  a.conn.write(bytesOf(14600), 0, 14600);
  assert.equal(a.take().length, 10, "the RFC 6928 initial window is full");
  a.conn.closeWrite();
  // Linux tcp_cwnd_test: the final FIN carries no data and is not held back by cwnd.
  expectSeg(a.take()[0], { flags: TCP_ACK | TCP_FIN, seq: a.s(14600), len: 0 });
  assert.equal(a.conn.state, TcpState.FIN_WAIT_1);
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(14601) });
  assert.equal(a.conn.state, TcpState.FIN_WAIT_2);
  assert.equal(a.take().length, 0);
});

Deno.test("TcpConnection FIN retransmission and FIN out of order", () => {
  const a = new Active();
  a.establish();
  // Peer FIN arrives before the data that precedes it: held until the gap fills.
  a.feed({ flags: TCP_FIN | TCP_ACK, seq: a.r(10), ack: a.s(0), data: bytesOf(5) });
  a.take();
  assert.equal(a.conn.state, TcpState.ESTABLISHED);
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(0), data: bytesOf(10) });
  expectSeg(a.take()[0], { ack: a.r(16) });
  assert.equal(a.conn.state, TcpState.CLOSE_WAIT);
  a.conn.closeWrite();
  expectSeg(a.take()[0], { flags: TCP_FIN | TCP_ACK, seq: a.s(0) });
  a.host.advance(1000);
  expectSeg(a.take()[0], { flags: TCP_FIN | TCP_ACK, seq: a.s(0) });
});

Deno.test("TcpConnection close with unread data sends RST (RFC 9293 §3.6)", () => {
  const a = new Active();
  a.establish();
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(0), data: bytesOf(10) });
  a.conn.close();
  expectSeg(a.take().at(-1), { flags: TCP_RST | TCP_ACK, seq: a.s(0) });
  assert.equal(a.conn.state, TcpState.CLOSED);
  assert.equal(a.host.tcp.connectionCount, 0);
});

Deno.test("TcpConnection data arriving after close() is answered with RST", () => {
  const a = new Active();
  a.establish();
  a.conn.close();
  expectSeg(a.take()[0], { flags: TCP_FIN | TCP_ACK });
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(1), data: bytesOf(10) });
  expectSeg(a.take()[0], { flags: TCP_RST | TCP_ACK, seq: a.s(1) });
  assert.equal(a.conn.state, TcpState.CLOSED);
});

// ---------------------------------------------------------------- RST, SYN, RFC 5961

Deno.test("TcpConnection accepts RST only at RCV.NXT; in-window RST gets a challenge ACK", () => {
  const a = new Active();
  a.establish();
  a.feed({ flags: TCP_RST, seq: a.r(100) });
  expectSeg(a.take()[0], { flags: TCP_ACK, seq: a.s(0), ack: a.r(0) });
  assert.equal(a.conn.state, TcpState.ESTABLISHED);
  a.feed({ flags: TCP_RST, seq: a.r(1 << 20) }); // out of window: silently dropped
  assert.equal(a.take().length, 0);
  a.feed({ flags: TCP_RST, seq: a.r(0) });
  assert.equal(a.conn.state, TcpState.CLOSED);
  assert.equal(a.conn.error?.code, "ECONNRESET");
  assert.ok(a.log.includes("closed:ECONNRESET"));
});

Deno.test("TcpConnection answers a SYN in ESTABLISHED with a rate-limited challenge ACK", () => {
  const a = new Active({ challengeAckLimitPerSecond: 2 });
  a.establish();
  for (let i = 0; i < 4; i++) a.feed({ flags: TCP_SYN, seq: a.r(7) });
  const acks = a.take();
  assert.equal(acks.length, 2);
  expectSeg(acks[0], { flags: TCP_ACK, ack: a.r(0) });
  a.host.advance(1000);
  a.feed({ flags: TCP_SYN, seq: a.r(7) });
  assert.equal(a.take().length, 1);
  assert.equal(a.conn.state, TcpState.ESTABLISHED);
});

Deno.test("TcpConnection abort sends RST and releases everything", () => {
  const a = new Active();
  a.establish();
  a.conn.write(bytesOf(100), 0, 100);
  a.take();
  a.conn.abort();
  expectSeg(a.take()[0], { flags: TCP_RST | TCP_ACK, seq: a.s(100) });
  assert.equal(a.host.tcp.connectionCount, 0);
  assert.equal(a.host.wheel.size, 0);
  assert.equal(a.host.ip.pool.inUse, 0);
});

// ---------------------------------------------------------------- keep-alive, ICMP, wrap

Deno.test("TcpConnection keep-alive probes an idle peer and times out", () => {
  const a = new Active({ keepAliveIntervalMs: 1000, keepAliveProbes: 2 });
  a.establish();
  a.conn.setKeepAlive(true, 5000);
  a.host.advance(4999);
  assert.equal(a.take().length, 0);
  a.host.advance(1);
  expectSeg(a.take()[0], { flags: TCP_ACK, seq: a.s(-1), len: 0 });
  // An answer resets the idle clock.
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(0) });
  a.host.advance(4999);
  assert.equal(a.take().length, 0);
  a.host.advance(1);
  assert.equal(a.take().length, 1);
  a.host.advance(1000);
  assert.equal(a.take().length, 1);
  a.host.advance(1000);
  assert.equal(a.conn.state, TcpState.CLOSED);
  assert.equal(a.conn.error?.code, "ETIMEDOUT");
});

function icmpQuote(a: Active, seq: number): Uint8Array {
  const q = new Uint8Array(28);
  q[0] = 0x45;
  q[9] = 6;
  new DataView(q.buffer).setUint32(12, a.conn.localAddr);
  new DataView(q.buffer).setUint32(16, a.conn.remoteAddr);
  new DataView(q.buffer).setUint16(20, LPORT);
  new DataView(q.buffer).setUint16(22, RPORT);
  new DataView(q.buffer).setUint32(24, seq);
  return q;
}

Deno.test("TcpConnection fails connect on ICMP port unreachable and lowers MSS on frag-needed", () => {
  const a = new Active();
  a.take();
  a.host.tcp.onIcmpError(0, 3, 3, 0, icmpQuote(a, ISS), 0, 28);
  assert.equal(a.conn.error?.code, "ECONNREFUSED");

  const b = new Active();
  b.establish();
  b.conn.write(bytesOf(1460), 0, 1460);
  b.take();
  // A forged error quoting a sequence number not in flight is ignored (RFC 5927 §4.1).
  b.host.tcp.onIcmpError(0, 3, 4, 1000, icmpQuote(b, ISS + 100000), 0, 28);
  assert.equal(b.take().length, 0);
  b.host.tcp.onIcmpError(0, 3, 4, 1000, icmpQuote(b, b.s(0)), 0, 28);
  const segs = b.take();
  assert.deepEqual(segs.map((s) => s.payloadLength), [960, 500]);
  assert.equal(b.conn.info().sndMss, 960);
});

Deno.test("TcpConnection transfers data both ways across the 2^32 sequence wrap", () => {
  const a = new Active({ receiveBufferBytes: 65536 }, 0xfffffe00, 0xffffff00);
  a.establish({ windowScale: 0 });
  const out = bytesOf(4000, 3);
  a.conn.write(out, 0, out.length);
  let sent = new Uint8Array(0);
  for (const s of a.take()) {
    sent = new Uint8Array([
      ...sent,
      ...s.payload.slice(s.payloadOffset, s.payloadOffset + s.payloadLength),
    ]);
  }
  assert.deepEqual(sent, out);
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(4000) });
  assert.equal(a.conn.sendQueued, 0);
  assert.ok(a.conn.sequenceState.sndUna < 0x1000, "SND.UNA wrapped");
  const inbound = bytesOf(3000, 4);
  a.feed({ flags: TCP_ACK, seq: a.r(1000), ack: a.s(4000), data: inbound.slice(1000) });
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(4000), data: inbound.slice(0, 1000) });
  assert.deepEqual(a.read(), inbound);
  a.take();
  a.conn.closeWrite();
  expectSeg(a.take()[0], { flags: TCP_FIN | TCP_ACK, seq: a.s(4000), ack: a.r(3000) });
});

Deno.test("TcpConnection FIN-WAIT-1 goes straight to TIME-WAIT on a FIN that ACKs our FIN", () => {
  const a = new Active();
  a.establish();
  a.conn.closeWrite();
  a.take();
  a.feed({ flags: TCP_FIN | TCP_ACK, seq: a.r(0), ack: a.s(1) });
  expectSeg(a.take()[0], { flags: TCP_ACK, seq: a.s(1), ack: a.r(1) });
  assert.equal(a.conn.state, TcpState.TIME_WAIT);
});

Deno.test("TcpConnection queues data and FIN written in SYN-SENT until ESTABLISHED", () => {
  const a = new Active();
  assert.equal(a.conn.write(bytesOf(10), 0, 10), 10);
  a.conn.closeWrite();
  assert.equal(a.conn.state, TcpState.SYN_SENT);
  const [syn] = a.take();
  expectSeg(syn, { flags: TCP_SYN, len: 0 });
  a.feed({ flags: TCP_SYN | TCP_ACK, seq: IRS, ack: ISS + 1, mss: 1460 });
  assert.equal(a.conn.state, TcpState.FIN_WAIT_1);
  const [data] = a.take();
  expectSeg(data, { flags: TCP_FIN | TCP_PSH | TCP_ACK, seq: a.s(0), ack: a.r(0), len: 10 });
});

Deno.test("TcpConnection challenges an ACK far below SND.UNA (RFC 5961 §5.2) and ignores unsent ACKs", () => {
  const a = new Active();
  a.establish({ window: 1000 });
  a.conn.write(bytesOf(500), 0, 500);
  a.take();
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(500), window: 1000 }); // MAX.SND.WND stays 1000
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(-5000), data: bytesOf(10) });
  expectSeg(a.take()[0], { flags: TCP_ACK, ack: a.r(0) }); // challenge ACK; the data was dropped
  assert.equal(a.conn.readableLength, 0);
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(9000), data: bytesOf(10) });
  expectSeg(a.take()[0], { flags: TCP_ACK, ack: a.r(0) }); // acks unsent data: ACK and drop
  assert.equal(a.conn.readableLength, 0);
  assert.equal(a.host.tcp.stats.challengeAcks, 1);
});

Deno.test("TcpConnection orphaned FIN-WAIT-2 gives up after the FIN timeout", () => {
  const a = new Active({ timeWaitMs: 10000 });
  a.establish();
  a.conn.close();
  a.take();
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(1) });
  assert.equal(a.conn.state, TcpState.FIN_WAIT_2);
  a.host.advance(10000);
  assert.equal(a.conn.state, TcpState.CLOSED);
  assert.equal(a.host.tcp.connectionCount, 0);
});

Deno.test("TcpConnection with TCP_LINGER2 waits its own FIN-WAIT-2 time, at least 3.5 RTO (Linux tcp_fin_time)", () => {
  const a = new Active({ timeWaitMs: 60_000 });
  a.establish();
  const rtoMs = a.conn.info().rtoMs;
  a.conn.setFinTimeout(rtoMs); // below the floor: 3.5 RTO applies
  assert.equal(a.conn.info().finTimeoutMs, rtoMs);
  a.conn.close();
  a.take();
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(1) });
  assert.equal(a.conn.state, TcpState.FIN_WAIT_2);
  a.host.advance(3 * rtoMs);
  assert.equal(a.conn.state, TcpState.FIN_WAIT_2, "not before 3.5 RTO");
  a.host.advance(rtoMs);
  assert.equal(a.conn.state, TcpState.CLOSED, "long before the default 60 s");
  assert.equal(a.host.tcp.connectionCount, 0);
});

Deno.test("TcpConnection with a negative TCP_LINGER2 does not wait in FIN-WAIT-2: close() resets, an orphan is reset when its FIN is acked", () => {
  // close() in FIN-WAIT-2 (the application half-closed earlier): RST at once.
  const a = new Active({ timeWaitMs: 60_000 });
  a.establish();
  a.conn.setFinTimeout(-1);
  a.conn.closeWrite();
  a.take();
  a.feed({ flags: TCP_ACK, seq: a.r(0), ack: a.s(1) });
  assert.equal(a.conn.state, TcpState.FIN_WAIT_2);
  a.conn.close();
  const [rst] = a.take();
  assert.equal(rst.flags & TCP_RST, TCP_RST);
  assert.equal(a.conn.state, TcpState.CLOSED);
  // An orphan whose FIN is acknowledged: gone, and the ACK is answered with a reset (Linux
  // tcp_rcv_state_process returns 1 and tcp_v4_do_rcv resets), <SEQ=SEG.ACK>.
  const b = new Active({ timeWaitMs: 60_000 });
  b.establish();
  b.conn.setFinTimeout(-1);
  b.conn.close();
  b.take();
  b.feed({ flags: TCP_ACK, seq: b.r(0), ack: b.s(1) });
  assert.equal(b.conn.state, TcpState.CLOSED);
  const answer = b.take();
  assert.equal(answer.length, 1);
  assert.equal(answer[0].flags & TCP_RST, TCP_RST);
  assert.equal(answer[0].seq, b.s(1));
  assert.equal(b.host.tcp.connectionCount, 0);
  assert.throws(() => b.conn.setFinTimeout(NaN), RangeError);
});

Deno.test("TcpConnection uses CUBIC by default and NewReno on request", () => {
  const a = new Active();
  a.establish();
  assert.equal(a.conn.info().congestion, "cubic");
  const b = new Active({ congestion: "newreno" });
  b.establish();
  assert.equal(b.conn.info().congestion, "newreno");
  // Slow start doubles per RTT: ACK each of the 10 initial segments.
  b.conn.write(bytesOf(100000), 0, 100000);
  assert.equal(b.take().length, 10);
  for (let i = 1; i <= 10; i++) b.feed({ flags: TCP_ACK, seq: b.r(0), ack: b.s(i * 1460) });
  assert.equal(b.conn.info().cwnd, 20 * 1460);
  assert.equal(b.take().length, 20);
});
