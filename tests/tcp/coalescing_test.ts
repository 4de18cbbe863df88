// Receive coalescing (TcpLayer.beginReceiveBatch, as Linux GRO's tcp_gro_receive): runs of
// in-order segments of one connection in one receive batch go through TCP input once. Each
// scenario is fed twice, segment by segment (no batch) and as one batch, and the outcomes
// compared: the same bytes for the reader, the same final ACK and window, fewer ACKs.
import assert from "node:assert/strict";
import type { TcpConfig } from "../../src/tcp/config.ts";
import { type TcpConnection, TcpState } from "../../src/tcp/connection.ts";
import { TCP_ACK, TCP_FIN, TCP_PSH, type TcpRepr } from "../../src/wire/tcp.ts";
import {
  Host,
  IRS,
  ISS,
  LOCAL,
  LPORT,
  REMOTE,
  RPORT,
  segment as segmentBytes,
  type SegmentFields,
} from "./harness.ts";

const SIZE = 1000;

/** One segment the scripted peer sends: payload bytes `[from, from + len)` of its stream. */
interface Seg {
  from: number;
  len: number;
  flags?: number;
  tsVal?: number;
  window?: number;
}

/** The peer's stream: byte i is (i * 7 + 3) & 0xff. */
function streamBytes(from: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = ((from + i) * 7 + 3) & 0xff;
  return b;
}

interface Outcome {
  acks: TcpRepr[];
  readable: number;
  data: Uint8Array;
  state: TcpState;
  runs: number;
  coalesced: number;
  conn: TcpConnection;
}

/**
 * Establishes a connection (timestamps when `ts`), feeds `segs` — in one receive batch when
 * `batch` — and returns what the host sent and what the reader got.
 */
function run(
  segs: Seg[],
  batch: boolean,
  config: Partial<TcpConfig> = {},
  ts = false,
  after?: (h: Host, conn: TcpConnection) => void,
): Outcome {
  const host = new Host({ timestamps: ts, ...config });
  const { conn, syn } = host.openActive((syn) => ({
    mss: 1460,
    sackPermitted: true,
    ...(ts ? { tsVal: 100, tsEcr: syn.tsVal } : {}),
  }));
  // (The handshake makes nothing readable: counting from here counts the same.)
  let readable = 0;
  conn.events = { onReadable: () => readable++ };
  host.take(); // the handshake's ACK
  assert.equal(conn.state, TcpState.ESTABLISHED);
  const feed = (s: Seg) => {
    const f: SegmentFields = {
      srcPort: RPORT,
      dstPort: LPORT,
      flags: s.flags ?? TCP_ACK,
      seq: IRS + 1 + s.from,
      ack: ISS + 1,
      window: s.window ?? 65535,
      data: streamBytes(s.from, s.len),
    };
    if (ts) {
      f.tsVal = s.tsVal ?? 200;
      f.tsEcr = syn.tsVal;
    }
    host.feed(f);
  };
  if (batch) host.tcp.beginReceiveBatch();
  for (const s of segs) feed(s);
  if (batch) host.tcp.endReceiveBatch(host.clock.now());
  after?.(host, conn);
  const acks = host.take();
  const data = new Uint8Array(conn.readableLength);
  conn.read(data, 0, data.length);
  return {
    acks,
    readable,
    data,
    state: conn.state,
    runs: host.tcp.stats.rxCoalescedRuns,
    coalesced: host.tcp.stats.rxCoalescedSegments,
    conn,
  };
}

/** Segments of SIZE bytes for stream bytes [from, from + count * SIZE). */
function inOrder(from: number, count: number, extra: Partial<Seg> = {}): Seg[] {
  return Array.from({ length: count }, (_, i) => ({ from: from + i * SIZE, len: SIZE, ...extra }));
}

/** Our MSS in these tests (the receiver-side SWS step, RFC 9293 §3.8.6.2.2). */
const OUR_MSS = 1460;

/**
 * The windows of the coalesced run are sound: the right edge (ACK + window) never moves left
 * (RFC 9293 §3.8.6.2.2), and the last one is within one SWS step of the edge the same
 * segments advertise one by one (the edge moves only in steps of at least one MSS, so the
 * ACK history decides where it stands inside one step).
 */
function assertWindowSound(batched: Outcome, plain: Outcome): void {
  let edge = -Infinity;
  for (const a of batched.acks) {
    const right = (a.ack >>> 0) + a.window;
    assert.ok(right >= edge, `the right edge moved left: ${right} < ${edge}`);
    edge = right;
  }
  const p = plain.acks[plain.acks.length - 1];
  const b = batched.acks[batched.acks.length - 1];
  assert.equal(b.ack, p.ack, "the same final ACK number");
  assert.ok(Math.abs(b.ack + b.window - (p.ack + p.window)) < OUR_MSS, "the same window");
}

/** The ACK number and window of the last segment sent. */
function lastAck(o: Outcome): { ack: number; window: number } {
  const a = o.acks[o.acks.length - 1];
  return { ack: a.ack, window: a.window };
}

Deno.test("TcpLayer.beginReceiveBatch behaviour: a batch of N in-order segments gets one ACK, the same data and window", () => {
  const segs = inOrder(0, 8);
  const plain = run(segs, false);
  const batched = run(segs, true);
  // Quick-ACK mode (the connection's first data): one ACK per segment without coalescing.
  assert.equal(plain.acks.length, 8);
  assert.equal(batched.acks.length, 1, "one ACK for the run");
  assert.equal(batched.acks[0].ack, (IRS + 1 + 8 * SIZE) | 0);
  assert.deepEqual(lastAck(batched), lastAck(plain), "the same ACK number and window");
  assert.deepEqual(batched.data, streamBytes(0, 8 * SIZE));
  assert.deepEqual(batched.data, plain.data);
  assert.equal(plain.readable, 8);
  assert.equal(batched.readable, 1, "one wake-up of the reader");
  assert.equal(batched.runs, 1);
  assert.equal(batched.coalesced, 7);
  assert.equal(plain.coalesced, 0, "no coalescing outside a receive batch");
});

Deno.test("TcpLayer.beginReceiveBatch behaviour: delayed ACKs — a run of full-sized segments is acknowledged once (RFC 5681 §4.2 as with GRO)", () => {
  // Leave quick-ACK mode first (16 one-byte segments), then a batch of 10 full segments.
  const warm: Seg[] = Array.from({ length: 16 }, (_, i) => ({ from: i, len: 1 }));
  const segs = inOrder(16, 10);
  const cfg = { ackBatching: false };
  const feedBatch = (batch: boolean) =>
    run(warm, false, cfg, false, (h) => {
      h.take();
      if (batch) h.tcp.beginReceiveBatch();
      for (const s of segs) {
        h.feed({
          srcPort: RPORT,
          dstPort: LPORT,
          flags: TCP_ACK,
          seq: IRS + 1 + s.from,
          ack: ISS + 1,
          data: streamBytes(s.from, s.len),
        });
      }
      if (batch) h.tcp.endReceiveBatch(h.clock.now());
    });
  const plain = feedBatch(false);
  const batched = feedBatch(true);
  assert.equal(plain.acks.length, 5, "every second full-sized segment");
  assert.equal(batched.acks.length, 1);
  assert.deepEqual(lastAck(batched), lastAck(plain));
  assert.deepEqual(batched.data, streamBytes(0, 16 + 10 * SIZE));
});

Deno.test("TcpLayer.beginReceiveBatch behaviour: a gap ends the run; out-of-order segments are ACKed at once as before", () => {
  const segs = [...inOrder(0, 2), ...inOrder(3 * SIZE, 2), { from: 2 * SIZE, len: SIZE }];
  const plain = run(segs, false, { ackBatching: false });
  const batched = run(segs, true, { ackBatching: false });
  // Run [0, 2); 3 and 4 out of order, each ACKed at once with SACK; 2 fills the gap: ACK.
  assert.equal(batched.acks.length, 4);
  assert.equal(batched.acks[0].ack, (IRS + 1 + 2 * SIZE) | 0);
  assert.equal(batched.acks[1].ack, (IRS + 1 + 2 * SIZE) | 0, "duplicate ACK for the gap");
  assert.equal(batched.acks[2].ack, (IRS + 1 + 2 * SIZE) | 0);
  assert.equal(batched.acks[3].ack, (IRS + 1 + 5 * SIZE) | 0);
  assert.deepEqual(lastAck(batched), lastAck(plain));
  assert.deepEqual(batched.data, streamBytes(0, 5 * SIZE));
  assert.equal(batched.runs, 1);
  assert.equal(batched.coalesced, 1);
});

Deno.test("TcpLayer.beginReceiveBatch behaviour: a PSH is taken and ends the run; a FIN ends it and is processed in full", () => {
  const segs = [
    ...inOrder(0, 2),
    { from: 2 * SIZE, len: SIZE, flags: TCP_ACK | TCP_PSH },
    ...inOrder(3 * SIZE, 2),
    { from: 5 * SIZE, len: SIZE, flags: TCP_ACK | TCP_FIN },
  ];
  const plain = run(segs, false);
  const batched = run(segs, true);
  // Run [0, 3) (PSH last), run [3, 5), then the FIN segment: three ACKs.
  assert.equal(batched.acks.length, 3);
  assert.equal(batched.acks[0].ack, (IRS + 1 + 3 * SIZE) | 0);
  assert.equal(batched.acks[1].ack, (IRS + 1 + 5 * SIZE) | 0);
  assert.equal(batched.acks[2].ack, (IRS + 1 + 6 * SIZE + 1) | 0, "the FIN is acknowledged");
  assert.equal(batched.state, TcpState.CLOSE_WAIT);
  assert.equal(plain.state, TcpState.CLOSE_WAIT);
  assertWindowSound(batched, plain);
  assert.deepEqual(batched.data, streamBytes(0, 6 * SIZE));
  assert.equal(batched.runs, 2);
  assert.equal(batched.coalesced, 3);
});

Deno.test("TcpLayer.beginReceiveBatch behaviour: a changed TSval or window ends the run", () => {
  const segs = [
    ...inOrder(0, 2, { tsVal: 200 }),
    ...inOrder(2 * SIZE, 2, { tsVal: 201 }),
    ...inOrder(4 * SIZE, 2, { tsVal: 201, window: 60000 }),
  ];
  const plain = run(segs, false, {}, true);
  const batched = run(segs, true, {}, true);
  assert.equal(batched.acks.length, 3, "three runs, one ACK each (quick-ACK mode)");
  assert.deepEqual(
    batched.acks.map((a) => a.ack),
    [2, 4, 6].map((n) => (IRS + 1 + n * SIZE) | 0),
  );
  assert.equal(batched.acks[2].tsEcr, 201, "TS.Recent from the runs (RFC 7323 §4.3)");
  assert.deepEqual(lastAck(batched), lastAck(plain));
  assert.equal(batched.conn.info().sndWnd, plain.conn.info().sndWnd, "the peer's window taken");
  assert.deepEqual(batched.data, streamBytes(0, 6 * SIZE));
  assert.equal(batched.runs, 3);
});

Deno.test("TcpLayer.beginReceiveBatch behaviour: a retransmission ends the run and is D-SACKed as before", () => {
  const segs = [...inOrder(0, 3), { from: SIZE, len: SIZE }, ...inOrder(3 * SIZE, 2)];
  const plain = run(segs, false, { ackBatching: false });
  const batched = run(segs, true, { ackBatching: false });
  // Run [0, 3); the duplicate: an immediate ACK with a D-SACK block; run [3, 5).
  assert.equal(batched.acks.length, 3);
  assert.equal(batched.acks[1].ack, (IRS + 1 + 3 * SIZE) | 0);
  assert.deepEqual(
    batched.acks[1].sackBlocks.slice(0, 2),
    [(IRS + 1 + SIZE) | 0, (IRS + 1 + 2 * SIZE) | 0],
    "RFC 2883 D-SACK block",
  );
  assertWindowSound(batched, plain);
  assert.deepEqual(batched.data, streamBytes(0, 5 * SIZE));
  assert.equal(batched.runs, 2);
  assert.equal(batched.coalesced, 3);
});

Deno.test("TcpLayer.beginReceiveBatch behaviour: a segment longer than the run's first starts a new run; a shorter one ends it", () => {
  const segs = [
    { from: 0, len: 500 },
    { from: 500, len: SIZE }, // longer than the first: a new run
    { from: 1500, len: SIZE },
    { from: 2500, len: 10 }, // shorter: taken, ends the run
    { from: 2510, len: SIZE }, // a run of its own (one segment)
  ];
  const plain = run(segs, false);
  const batched = run(segs, true);
  assert.equal(batched.acks.length, 3);
  assert.deepEqual(batched.acks.map((a) => a.ack), [500, 2510, 3510].map((n) => (IRS + 1 + n) | 0));
  assertWindowSound(batched, plain);
  assert.deepEqual(batched.data, streamBytes(0, 3510));
  assert.equal(batched.runs, 1);
  assert.equal(batched.coalesced, 2);
});

Deno.test("TcpLayer.beginReceiveBatch behaviour: a corrupt segment ends the run, is counted and dropped", () => {
  const host = new Host({ timestamps: false, ackBatching: false });
  const { conn } = host.openActive({ mss: 1460 });
  host.take();
  const seg = (from: number, corrupt = false) => {
    const f: SegmentFields = {
      srcPort: RPORT,
      dstPort: LPORT,
      flags: TCP_ACK,
      seq: IRS + 1 + from,
      ack: ISS + 1,
      window: 65535,
      data: streamBytes(from, SIZE),
    };
    const b = segmentBytes(f);
    if (corrupt) b[b.length - 7] ^= 0x10; // a payload bit flipped in transit
    return b;
  };
  host.tcp.beginReceiveBatch();
  for (
    const [from, corrupt] of [[0, false], [SIZE, false], [2 * SIZE, true], [2 * SIZE, false], [
      3 * SIZE,
      false,
    ]]
  ) {
    const b = seg(from as number, corrupt as boolean);
    host.tcp.onPacket(host.clock.now(), REMOTE, LOCAL, b, 0, b.length);
  }
  host.tcp.endReceiveBatch(host.clock.now());
  assert.equal(host.tcp.stats.malformed, 1, "the corrupt copy is counted");
  assert.equal(
    host.tcp.stats.rxCoalescedRuns,
    2,
    "it ended the first run; its good copy began the next",
  );
  const data = new Uint8Array(conn.readableLength);
  conn.read(data, 0, data.length);
  assert.deepEqual(data, streamBytes(0, 4 * SIZE), "its bytes never reached the reader");
});
