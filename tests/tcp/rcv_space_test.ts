// Receive-buffer autotuning (src/tcp/rcv_space.ts, Linux tcp_rcv_space_adjust): a scripted
// peer sends in slow start, as much as our advertised window allows, and the test plays the
// application reading fast or slowly.
import assert from "node:assert/strict";
import type { TcpConfig } from "../../src/tcp/config.ts";
import { DEFAULT_RECEIVE_BUFFER_MAX_BYTES } from "../../src/tcp/config.ts";
import type { TcpConnection } from "../../src/tcp/connection.ts";
import { seqAdd, seqSub } from "../../src/tcp/seq.ts";
import { TCP_ACK, type TcpRepr } from "../../src/wire/tcp.ts";
import { ReceiveSpace } from "../../src/tcp/rcv_space.ts";
import { Host, IRS, ISS, LPORT, REMOTE, RPORT } from "./harness.ts";

const PEER_MSS = 1460;
/** The engine's default initial receive buffer. */
const INITIAL_BUFFER_BYTES = 256 * 1024;
/** Segments the peer sends in its first round (RFC 6928). */
const INITIAL_ROUND_SEGMENTS = 10;
/** Most bytes a receive batch gathers before an ACK (connection_receive.ts MAX_BATCH_ACK_BYTES). */
const ACK_SPACING_BYTES = 64 * 1024;
/** Milliseconds between the peer's rounds (its RTT). */
const ROUND_MS = 2;

/** A scripted bulk sender facing one rawstack receiver. */
class Transfer {
  readonly host: Host;
  readonly conn: TcpConnection;
  readonly timestamps: boolean;
  /** Our latest ACK as the peer saw it. */
  ack = 0;
  windowBytes = 0;
  tsVal = 0;
  /** Every right edge we advertised, in order. */
  readonly rightEdges: number[] = [];
  /** Next peer sequence number to send. */
  sndNxt = IRS + 1;
  #wscale = 0;
  #peerTs = 100;
  readonly #sink = new Uint8Array(1 << 20);

  constructor(config: Partial<TcpConfig>) {
    this.host = new Host(config);
    this.timestamps = config.timestamps ?? true;
    const { conn, syn } = this.host.openActive((syn) => ({
      mss: PEER_MSS,
      windowScale: 7,
      sackPermitted: true,
      ...(this.timestamps ? { tsVal: this.#peerTs, tsEcr: syn.tsVal } : {}),
    }), ROUND_MS);
    this.conn = conn;
    this.#wscale = syn.windowScale;
    this.#collect();
  }

  #feed(f: Parameters<Host["feed"]>[0]): void {
    this.host.feed({ srcPort: RPORT, dstPort: LPORT, ...f });
  }

  #collect(): void {
    for (const r of this.host.take() as TcpRepr[]) {
      if ((r.flags & TCP_ACK) === 0) continue;
      this.ack = r.ack | 0;
      this.windowBytes = r.window * 2 ** this.#wscale;
      this.tsVal = r.tsVal;
      this.rightEdges.push(seqAdd(this.ack, this.windowBytes));
    }
  }

  /**
   * One round: the peer sends up to `segments` full segments, no further than our window
   * allows; the application then reads up to `readBytes`; our ACKs go out and come back.
   */
  round(segments: number, readBytes: number): void {
    this.sendNow(segments);
    let left = readBytes;
    while (left > 0) {
      const n = this.conn.read(this.#sink, 0, Math.min(left, this.#sink.length));
      if (n === 0) break;
      left -= n;
    }
    this.host.advance(ROUND_MS / 2);
    this.#collect();
    this.host.advance(ROUND_MS / 2);
  }

  /** The peer sends up to `segments` full segments at once, within our window. */
  sendNow(segments: number): void {
    const payload = PEER_MSS - (this.timestamps ? 12 : 0);
    const data = new Uint8Array(payload);
    const edge = seqAdd(this.ack, this.windowBytes);
    this.#peerTs++;
    for (let i = 0; i < segments; i++) {
      const room = seqSub(edge, this.sndNxt);
      if (room < payload) break;
      this.#feed({
        flags: TCP_ACK,
        seq: this.sndNxt,
        ack: ISS + 1,
        window: 65535,
        data,
        ...(this.timestamps ? { tsVal: this.#peerTs, tsEcr: this.tsVal } : {}),
      });
      this.sndNxt = seqAdd(this.sndNxt, payload);
    }
  }

  /** Slow start: the peer doubles what it sends each round (RFC 5681 §3.1). */
  slowStart(rounds: number, readBytes: number): void {
    let segments = INITIAL_ROUND_SEGMENTS;
    for (let i = 0; i < rounds; i++) {
      this.round(segments, readBytes);
      segments *= 2;
    }
  }
}

/** Reads everything there is. */
const READ_ALL = Number.MAX_SAFE_INTEGER;

Deno.test("autotuning: the receive buffer grows while the application reads fast", () => {
  const t = new Transfer({});
  assert.equal(t.conn.info().receiveBufferBytes, INITIAL_BUFFER_BYTES);
  t.slowStart(10, READ_ALL);
  const info = t.conn.info();
  assert.ok(info.rcvRttMs > 0, "a receiver RTT from the echoed timestamps");
  assert.ok(
    info.receiveBufferBytes > INITIAL_BUFFER_BYTES,
    `buffer ${info.receiveBufferBytes} grew`,
  );
  assert.ok(info.receiveBufferBytes <= DEFAULT_RECEIVE_BUFFER_MAX_BYTES);
  // The window we advertise follows the buffer beyond the initial size.
  assert.ok(Math.max(...t.rightEdges.map((e, i) => seqSub(e, t.rightEdges[0]) - i)) > 0);
  assert.ok(t.windowBytes > INITIAL_BUFFER_BYTES, `window ${t.windowBytes}`);
});

Deno.test("autotuning: without timestamps the window-edge RTT drives the growth", () => {
  const t = new Transfer({ timestamps: false });
  t.slowStart(12, READ_ALL);
  const info = t.conn.info();
  assert.ok(info.rcvRttMs > 0, "a receiver RTT from data beyond an advertised edge");
  assert.ok(info.receiveBufferBytes > INITIAL_BUFFER_BYTES);
});

Deno.test("autotuning: the buffer stays when the application reads slowly", () => {
  const t = new Transfer({});
  // Less per round than the ten segments the first measure assumes.
  t.slowStart(10, 4 * 1024);
  assert.equal(t.conn.info().receiveBufferBytes, INITIAL_BUFFER_BYTES);
  assert.ok(t.windowBytes < INITIAL_BUFFER_BYTES, "the unread data closes the window");
});

Deno.test("autotuning: the buffer grows no further than receiveBufferMaxBytes", () => {
  const maxBytes = 1024 * 1024;
  const t = new Transfer({ receiveBufferMaxBytes: maxBytes });
  t.slowStart(14, READ_ALL);
  for (let i = 0; i < 10; i++) t.round(4096, READ_ALL);
  assert.equal(t.conn.info().receiveBufferBytes, maxBytes);
  assert.ok(t.windowBytes <= maxBytes, `window ${t.windowBytes}`);
});

Deno.test("autotuning: the layer's growth budget caps every connection's growth and comes back when it ends", () => {
  const budget = INITIAL_BUFFER_BYTES; // room for one doubling of one connection
  const t = new Transfer({ receiveBufferGrowthTotalBytes: budget });
  t.slowStart(14, READ_ALL);
  for (let i = 0; i < 10; i++) t.round(4096, READ_ALL);
  const stats = t.host.tcp.stats;
  assert.equal(t.conn.info().receiveBufferBytes, INITIAL_BUFFER_BYTES + budget);
  assert.equal(stats.rcvBufferGrownBytes, budget);
  assert.ok(stats.rcvBufferGrowthRefused > 0, "a larger growth was asked for and cut short");
  t.conn.abort();
  assert.equal(stats.rcvBufferGrownBytes, 0, "the growth went back to the budget");
});

Deno.test("autotuning: the advertised right edge never moves left while the buffer grows", () => {
  const t = new Transfer({});
  t.slowStart(10, READ_ALL);
  // RFC 7323 §2.4: a scaled field rounds the window down to whole 2^shift units, so the edge
  // an ACK shows may sit up to one unit left of an earlier one (the receiver honours the
  // larger, RCV.NXT + RCV.WND tracked unrounded); a retraction of a whole unit would be a
  // shrunk window (RFC 9293 §3.8.6).
  const unit = 2 ** 7;
  let maxEdge = t.rightEdges[0];
  for (let i = 1; i < t.rightEdges.length; i++) {
    const back = seqSub(maxEdge, t.rightEdges[i]);
    assert.ok(back < unit, `edge ${i} retracted by ${back} (RFC 9293 §3.8.6)`);
    if (back < 0) maxEdge = t.rightEdges[i];
  }
  assert.ok(seqSub(maxEdge, t.rightEdges[0]) > INITIAL_BUFFER_BYTES, "the edge moved on");
});

Deno.test("autotuning off (receiveBufferMaxBytes 0): the buffer and window scale stay", () => {
  const t = new Transfer({ receiveBufferMaxBytes: 0 });
  t.slowStart(10, READ_ALL);
  assert.equal(t.conn.info().receiveBufferBytes, INITIAL_BUFFER_BYTES);
  assert.ok(t.windowBytes <= INITIAL_BUFFER_BYTES);
});

Deno.test("autotuning: our SYN's window scale covers the largest buffer (RFC 7323 §2.3)", () => {
  const on = new Host({});
  on.tcp.connect(0, REMOTE, RPORT, { localPort: LPORT, iss: ISS });
  assert.equal(on.take()[0].windowScale, 7); // 4 MiB = 65535 × 2^7 rounded up
  const off = new Host({ receiveBufferMaxBytes: 0 });
  off.tcp.connect(0, REMOTE, RPORT, { localPort: LPORT, iss: ISS });
  assert.equal(off.take()[0].windowScale, 3); // 256 KiB
});

Deno.test("autotuning: an established connection that receives nothing keeps no buffer", () => {
  const t = new Transfer({});
  for (let i = 0; i < 5; i++) t.host.advance(ROUND_MS);
  assert.equal(t.conn.bufferBytes, 0);
  assert.equal(t.conn.info().receiveBufferBytes, INITIAL_BUFFER_BYTES);
  assert.equal(t.conn.info().rcvRttMs, 0);
});

Deno.test("ReceiveSpace: one timestamp sample per echoed TSval; a larger one is smoothed in only with an empty queue", () => {
  const s = new ReceiveSpace(14480, 0);
  s.sampleTimestampRtt(500, 8, true);
  assert.equal(s.rttMs, 8);
  s.sampleTimestampRtt(500, 2, true); // the same TSecr again: the sender's pace, not an RTT
  assert.equal(s.rttMs, 8);
  s.sampleTimestampRtt(501, 16, false); // larger, data still unread: not taken
  assert.equal(s.rttMs, 8);
  s.sampleTimestampRtt(502, 16, true); // larger, queue empty: 1/8 of the way
  assert.equal(s.rttMs, 9);
  s.sampleTimestampRtt(503, 0, true); // 0 ticks counts as 1 ms, and a smaller one is taken
  assert.equal(s.rttMs, 1);
});

Deno.test("ReceiveSpace: the window-edge RTT needs data beyond the edge and only ever lowers the estimate", () => {
  const s = new ReceiveSpace(14480, 0);
  s.sampleWindowRtt(0, 1000, 5000); // starts a sample: data beyond 5000 ends it
  s.sampleWindowRtt(3, 5000, 9000); // not beyond the edge yet
  assert.equal(s.rttMs, 0);
  s.sampleWindowRtt(4, 5001, 9001);
  assert.equal(s.rttMs, 4);
  s.sampleWindowRtt(20, 9002, 13000); // larger: window-dependent samples never raise it
  assert.equal(s.rttMs, 4);
});

Deno.test("ReceiveSpace: growth is asked for once per RTT, and only when reading grew", () => {
  const mss = 1448;
  const s = new ReceiveSpace(10 * mss, 0);
  s.sampleTimestampRtt(1, 2, true);
  assert.equal(s.onRead(1, 100_000, mss), 0); // within the first RTT
  const want = s.onRead(2, 0, mss); // 100 kB in the RTT: 2 × 100 kB + 16 MSS + growth
  const window = 2 * 100_000 + 16 * mss;
  assert.equal(want, window + 2 * Math.floor(window * (100_000 - 10 * mss) / (10 * mss)));
  assert.equal(s.spaceBytes, 100_000);
  assert.equal(s.onRead(4, 50_000, mss), 0); // less than the last RTT: nothing asked
  assert.equal(s.spaceBytes, 100_000);
});

Deno.test("autotuning: a grown window still gets an ACK every 64 KiB of a receive batch", () => {
  const t = new Transfer({});
  t.slowStart(10, READ_ALL);
  assert.ok(t.windowBytes >= 4 * ACK_SPACING_BYTES, `window ${t.windowBytes}`);
  t.host.take();
  // One batch: 100 segments arrive at the same instant, no timer runs in between.
  const payload = PEER_MSS - 12;
  const before = t.sndNxt;
  t.sendNow(100);
  const acks = t.host.take().filter((r) => (r.flags & TCP_ACK) !== 0 && r.payloadLength === 0);
  const batchBytes = seqSub(t.sndNxt, before);
  assert.equal(batchBytes, 100 * payload);
  assert.ok(
    acks.length >= Math.floor(batchBytes / ACK_SPACING_BYTES),
    `${acks.length} ACKs for ${batchBytes} bytes`,
  );
});
