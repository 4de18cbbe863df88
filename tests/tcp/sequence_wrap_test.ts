// Sequence numbers at the two boundaries of their int32 form (seq.ts): 2^31 (where the int32
// form turns negative) and 2^32 (where the sequence space wraps to 0). Two TcpLayers joined by
// a link that drops chosen segments move data both ways across both boundaries with SACK,
// fast retransmit and a retransmission timeout.
import assert from "node:assert/strict";
import type { TcpStats } from "../../src/tcp/config.ts";
import type { TcpConnection } from "../../src/tcp/connection.ts";
import { TcpState } from "../../src/tcp/connection.ts";
import { hashFourTuple, initialSequenceNumber, ISN_TICKS_PER_MS } from "../../src/tcp/isn.ts";
import { seqSub } from "../../src/tcp/seq.ts";
import { TCP_SYN, type TcpRepr } from "../../src/wire/tcp.ts";
import { bytesOf, LayerPair, parse } from "./harness.ts";

const ADDR_A = 0xcb007101 | 0; // 203.0.113.1 (int32)
const ADDR_B = 0xcb007102 | 0; // 203.0.113.2
const CLIENT_PORT = 50123;
const SERVER_PORT = 443;
const TWO_31 = 2 ** 31;
const TWO_32 = 2 ** 32;
const LINK_DELAY_MS = 5;
const BYTES_EACH_WAY = 120_000;
/** Data bytes before the boundary at which each side's ISN is placed. */
const ISN_BEFORE_BOUNDARY = 5000;

/** Both layers on one clock; a FIFO link with fixed delay and a drop rule. */
class Net extends LayerPair {
  /** Every segment sent, parsed (with who sent it), dropped or not. */
  readonly sent: { fromA: boolean; seg: TcpRepr; dropped: boolean }[] = [];
  drop: (fromA: boolean, seg: TcpRepr) => boolean = () => false;

  constructor(startMs: number, readonly secretB: Uint8Array) {
    super({
      addrA: ADDR_A,
      addrB: ADDR_B,
      startMs,
      config: { sack: true, timestamps: true, windowScaling: true },
      secretA: new Uint8Array(16).fill(3),
      secretB,
      linkDelayMs: LINK_DELAY_MS,
      poolSlots: 1024,
    });
  }

  override onSend(src: number, dst: number, bytes: Uint8Array): boolean {
    const fromA = src === ADDR_A;
    const seg = parse(bytes, src, dst);
    const dropped = this.drop(fromA, seg);
    this.sent.push({ fromA, seg, dropped });
    return !dropped;
  }

  /** Runs until nothing is in flight and no timer is due within `limitMs`. */
  run(step: () => void, limitMs = 120_000): void {
    this.runUntil(this.clock.now() + limitMs, 1_000_000, step);
  }
}

/**
 * A virtual start time at which B's RFC 6528 ISN for the test 4-tuple, chosen when the SYN
 * arrives one link delay later, is `target`: ISN = M + F with M = 250 ticks per ms, so M
 * must be `target - F` mod 2^32 (half a tick in, away from rounding).
 */
function startTimeForServerIsn(secretB: Uint8Array, target: number): number {
  const f = hashFourTuple(secretB, ADDR_B, SERVER_PORT, ADDR_A, CLIENT_PORT, 0);
  const ticks = ((target - f) % TWO_32 + TWO_32) % TWO_32;
  return (ticks + 0.5) / ISN_TICKS_PER_MS - LINK_DELAY_MS;
}

interface Endpoint {
  conn: TcpConnection | null;
  out: Uint8Array;
  written: number;
  received: Uint8Array;
  got: number;
}

function endpoint(out: Uint8Array, expectIn: number): Endpoint {
  return { conn: null, out, written: 0, received: new Uint8Array(expectIn), got: 0 };
}

function pump(e: Endpoint): void {
  const c = e.conn;
  if (c === null) return;
  for (;;) {
    const n = c.read(e.received, e.got, e.received.length - e.got);
    if (n <= 0) break;
    e.got += n;
  }
  while (e.written < e.out.length) {
    const n = c.write(e.out, e.written, e.out.length - e.written);
    if (n <= 0) break;
    e.written += n;
  }
}

/** Runs one transfer; the client's ISS and the server's ISN are placed as asked. */
function transfer(clientIss: number, serverIsnTarget: number) {
  const secretB = new Uint8Array(16).fill(0xa5);
  const startMs = startTimeForServerIsn(secretB, serverIsnTarget);
  const serverIsn = initialSequenceNumber(
    secretB,
    startMs + LINK_DELAY_MS,
    ADDR_B,
    SERVER_PORT,
    ADDR_A,
    CLIENT_PORT,
  );
  const net = new Net(startMs, secretB);
  const up = bytesOf(BYTES_EACH_WAY, 21);
  const down = bytesOf(BYTES_EACH_WAY, 22);
  const client = endpoint(up, down.length);
  const server = endpoint(down, up.length);

  // Loss, in each direction: the first transmission of the 2nd data segment, of the one that
  // ends just before the boundary (so the next SACK block straddles it) and of the second
  // after the one that crosses it, and of the 40th; then also the first retransmission of
  // the 40th, which only a retransmission timeout repairs.
  const dataIndex = [0, 0];
  const firstSent = [new Set<number>(), new Set<number>()];
  const crossedAt = [-1, -1];
  const fortieth = [NaN, NaN];
  const fortiethResent = [false, false];
  net.drop = (fromA, seg) => {
    const side = fromA ? 0 : 1;
    if (seg.payloadLength === 0) return false;
    if (firstSent[side].has(seg.seq)) {
      if (seg.seq !== fortieth[side] || fortiethResent[side]) return false;
      fortiethResent[side] = true;
      return true;
    }
    firstSent[side].add(seg.seq);
    const i = ++dataIndex[side];
    const len = seg.payloadLength;
    const dataOffset = seqSub(seg.seq, fromA ? clientIss : serverIsn) - 1;
    const end = dataOffset + len;
    if (dataOffset <= ISN_BEFORE_BOUNDARY && end > ISN_BEFORE_BOUNDARY) crossedAt[side] = i;
    const beforeCrossing = end <= ISN_BEFORE_BOUNDARY && end + len > ISN_BEFORE_BOUNDARY;
    if (i === 40) fortieth[side] = seg.seq;
    return i === 2 || i === 40 || beforeCrossing ||
      (crossedAt[side] > 0 && i - crossedAt[side] === 2);
  };

  const listener = net.b.listen(SERVER_PORT);
  listener.events = {
    onAcceptable: (l) => {
      const c = l.accept()!;
      server.conn = c;
      c.events = { onReadable: () => pump(server), onWritable: () => pump(server) };
      pump(server);
    },
  };
  const c = net.a.connect(net.clock.now(), ADDR_B, SERVER_PORT, {
    localPort: CLIENT_PORT,
    iss: clientIss,
  });
  client.conn = c;
  c.events = {
    onEstablished: () => pump(client),
    onReadable: () => pump(client),
    onWritable: () => pump(client),
  };
  net.run(() => {
    pump(client);
    pump(server);
  });
  return { net, client, server, serverIsn };
}

function checkTransfer(clientIss: number, serverIsnTarget: number): void {
  const { net, client, server, serverIsn } = transfer(clientIss, serverIsnTarget);
  const what = `client ISS ${clientIss >>> 0}, server ISN ${serverIsn >>> 0}`;
  // The ISNs really sit just below their boundaries.
  assert.equal(serverIsn | 0, serverIsn, "ISN is int32");
  assert.ok(Math.abs(seqSub(serverIsn, serverIsnTarget)) <= 1, `${what}: server ISN placed`);
  const syns = net.sent.filter((s) => (s.seg.flags & TCP_SYN) !== 0);
  assert.equal(syns[0].seg.seq, clientIss | 0, what);
  assert.equal(syns[1].seg.seq, serverIsn, what);

  // Byte-exact delivery both ways.
  assert.equal(client.got, BYTES_EACH_WAY, `${what}: client received everything`);
  assert.equal(server.got, BYTES_EACH_WAY, `${what}: server received everything`);
  assert.deepEqual(server.received, client.out, `${what}: upload intact`);
  assert.deepEqual(client.received, server.out, `${what}: download intact`);
  const a = client.conn!;
  const b = server.conn!;
  assert.equal(a.state, TcpState.ESTABLISHED);
  assert.equal(b.state, TcpState.ESTABLISHED);
  assert.equal(a.sendQueued, 0);
  assert.equal(b.sendQueued, 0);

  // Losses were repaired by SACK-driven fast retransmit, and the lost retransmission by a
  // timeout — or, with RACK-TLP, by RACK itself (RFC 8985 §6.2: a retransmission is lost
  // when segments sent after it are delivered) or a tail loss probe (§7).
  assert.ok(net.a.stats.retransmits >= 5 && net.b.stats.retransmits >= 5, what);
  const repaired = (st: TcpStats) => st.timeouts + st.tlpProbes > 0 || st.rackLosses >= 4;
  assert.ok(
    repaired(net.a.stats) && repaired(net.b.stats),
    `${what}: lost retransmission repaired`,
  );
  // SACK blocks were sent in both directions with edges on both sides of each boundary.
  for (const fromA of [true, false]) {
    const edges = net.sent.filter((s) => s.fromA === fromA && s.seg.sackCount > 0)
      .flatMap((s) => s.seg.sackBlocks.slice(0, 2 * s.seg.sackCount));
    assert.ok(edges.length > 0, `${what}: SACK blocks from ${fromA ? "A" : "B"}`);
    assert.ok(edges.every((e) => (e | 0) === e), "SACK edges parse as int32");
    assert.ok(edges.some((e) => e < 0), `${what}: SACK edges in the upper half`);
    assert.ok(edges.some((e) => e >= 0), `${what}: SACK edges in the lower half`);
    // A block whose edges lie on both sides of the boundary (the peer's ISN + 1 + 5000).
    const peerBoundary = ((fromA ? serverIsn : clientIss) + 1 + ISN_BEFORE_BOUNDARY) | 0;
    const blocks = net.sent.filter((s) => s.fromA === fromA)
      .flatMap((s) =>
        Array.from({ length: s.seg.sackCount }, (_, k) => s.seg.sackBlocks.slice(2 * k, 2 * k + 2))
      );
    assert.ok(
      blocks.some(([l, r]) =>
        seqSub(l, peerBoundary) < 0 && seqSub(r, peerBoundary) > 0 && (l < 0) !== (r < 0)
      ),
      `${what}: a SACK block straddles the boundary`,
    );
  }
  // Every segment's numbers parse as int32; the sent sequence numbers cover both halves.
  for (const fromA of [true, false]) {
    const seqs = net.sent.filter((s) => s.fromA === fromA).map((s) => s.seg.seq);
    assert.ok(seqs.every((x) => (x | 0) === x));
    assert.ok(seqs.some((x) => x < 0) && seqs.some((x) => x >= 0), what);
  }
  const tsVals = net.sent.map((s) => s.seg.tsVal);
  assert.ok(tsVals.every((x) => (x | 0) === x), "timestamps parse as int32");

  // What people see is unsigned: TcpInfo and sequenceState.
  const ia = a.info();
  const ib = b.info();
  assert.equal(ia.iss, clientIss >>> 0);
  assert.equal(ia.irs, serverIsn >>> 0);
  assert.equal(ib.iss, serverIsn >>> 0);
  assert.equal(ib.irs, clientIss >>> 0);
  assert.equal(ia.sndUna, (clientIss + 1 + BYTES_EACH_WAY) % TWO_32);
  assert.equal(ia.sndNxt, ia.sndUna);
  assert.equal(ia.rcvNxt, ((serverIsn >>> 0) + 1 + BYTES_EACH_WAY) % TWO_32);
  assert.equal(ib.rcvNxt, ia.sndUna);
  assert.equal(ib.sndUna, ia.rcvNxt);
  for (const v of [ia.iss, ia.irs, ia.sndUna, ia.sndNxt, ia.rcvNxt, ib.iss, ib.rcvNxt]) {
    assert.ok(Number.isInteger(v) && v >= 0 && v < TWO_32, `${v} is unsigned 32-bit`);
  }
  assert.deepEqual(a.sequenceState.rcvNxt, ia.rcvNxt);
  // The engine's own getters stay int32.
  assert.equal(a.iss, clientIss | 0);
  assert.equal(a.rcvNxt, ia.rcvNxt | 0);

  // Both close cleanly from there.
  a.close();
  b.close();
  net.run(() => {});
  assert.equal(a.state, TcpState.CLOSED);
  assert.equal(b.state, TcpState.CLOSED);
  assert.equal(net.a.connectionCount + net.b.connectionCount, 0);
}

Deno.test("TcpConnection moves data across 2^31 (client) and 2^32 (server) with SACK and RTO", () => {
  checkTransfer(TWO_31 - ISN_BEFORE_BOUNDARY - 1, TWO_32 - ISN_BEFORE_BOUNDARY - 1);
});

Deno.test("TcpConnection moves data across 2^32 (client) and 2^31 (server) with SACK and RTO", () => {
  // The client's ISS in int32 form this time (either form is accepted).
  checkTransfer((TWO_32 - ISN_BEFORE_BOUNDARY - 1) | 0, TWO_31 - ISN_BEFORE_BOUNDARY - 1);
});
