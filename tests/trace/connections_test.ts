import assert from "node:assert/strict";
import {
  analyzeCapture,
  analyzePcap,
  decodeFrame,
  describeFrame,
  formatTcpFlags,
  TraceError,
} from "../../src/trace/connections.ts";
import { sentRangeSteps } from "../../src/trace/sent_ranges.ts";
import { PcapWriter } from "../../src/wire/pcap.ts";
import { handshake, SERVER_ISN, TCP_ACK, TCP_FIN, TCP_PSH, tcpFrame } from "./_frames.ts";

const KERNEL_TCP = new URL("../testdata/kernel_tcp.pcap", import.meta.url);

Deno.test("analyzePcap follows the kernel capture's two connections in SYN order", async () => {
  const a = analyzePcap(await Deno.readFile(KERNEL_TCP));
  assert.equal(a.frames.length, 15);
  assert.equal(a.connections.length, 2);
  const [c1, c2] = a.connections;
  assert.equal(c1.client.port, 41000);
  assert.equal(c1.server.port, 8080);
  assert.equal(c1.segments.length, 13);
  assert.equal(c1.clientBytes, 87);
  assert.equal(c1.serverBytes, 205);
  assert.ok(c1.closed && c1.sawSyn);
  // RFC 9293 §3.4: numbers relative to each side's ISN.
  const [syn, synAck, ack, request] = c1.segments;
  assert.deepEqual([syn.seq, syn.ack, synAck.seq, synAck.ack, ack.seq, ack.ack], [
    0,
    0,
    0,
    1,
    1,
    1,
  ]);
  assert.equal(request.len, 87);
  assert.equal(syn.options, "mss 1460,sackOK,TS,ws 10");
  // RFC 7323 §2.3: windows after the handshake are scaled by the sender's shift (10).
  assert.equal(ack.rawWindow, 63);
  assert.equal(ack.window, 63 * 1024);
  assert.equal(syn.window, 64240);
  assert.equal(c2.server.port, 8081);
  assert.ok(c2.closed);
  assert.ok(c1.segments.every((s) => !s.retransmission && !s.lost && s.gapBefore === 0));
  assert.deepEqual(a.segmentOfFrame.get(14), { connection: 2, segment: 0 });
});

Deno.test("analyzeCapture marks a lost segment, its retransmission and the duplicate ACKs", () => {
  const frames = [
    ...handshake(),
    tcpFrame({ t: 3, fromClient: true, flags: TCP_ACK, seq: 1, ack: 1, len: 1000 }),
    tcpFrame({ t: 4, fromClient: true, flags: TCP_ACK, seq: 1001, ack: 1, len: 1000 }),
    tcpFrame({ t: 5, fromClient: true, flags: TCP_ACK, seq: 2001, ack: 1, len: 1000 }),
    tcpFrame({ t: 6, fromClient: false, flags: TCP_ACK, seq: 1, ack: 1001 }),
    tcpFrame({ t: 7, fromClient: false, flags: TCP_ACK, seq: 1, ack: 1001 }),
    tcpFrame({ t: 8, fromClient: false, flags: TCP_ACK, seq: 1, ack: 1001 }),
    tcpFrame({ t: 9, fromClient: true, flags: TCP_ACK, seq: 1001, ack: 1, len: 1000 }),
    tcpFrame({ t: 10, fromClient: false, flags: TCP_ACK, seq: 1, ack: 3001 }),
  ];
  const [c] = analyzeCapture(frames).connections;
  const s = c.segments;
  assert.equal(s.length, 11);
  assert.ok(!s[3].lost && s[4].lost && !s[5].lost, "the second data segment was lost");
  assert.ok(s[9].retransmission && !s[9].spurious && s[9].seq === 1001);
  assert.deepEqual(s.map((x) => x.dupAck), [0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0]);
  assert.equal(s.filter((x) => x.retransmission).length, 1);
  assert.equal(c.clientBytes, 3000, "retransmitted bytes count once");
  assert.equal(s[6].window, 4000, "window 1000 scaled by 2^2");
});

Deno.test("analyzeCapture marks a gap and the segment that fills it (receiver-side capture)", () => {
  const frames = [
    ...handshake(),
    tcpFrame({ t: 3, fromClient: true, flags: TCP_ACK, seq: 1, ack: 1, len: 1000 }),
    tcpFrame({ t: 5, fromClient: true, flags: TCP_ACK, seq: 2001, ack: 1, len: 1000 }),
    tcpFrame({ t: 9, fromClient: true, flags: TCP_ACK, seq: 1001, ack: 1, len: 1000 }),
  ];
  const [c] = analyzeCapture(frames).connections;
  const [, , , d1, d3, d2] = c.segments;
  assert.equal(d1.gapBefore, 0);
  assert.equal(d3.gapBefore, 1000);
  assert.ok(d2.fillsGap && !d2.retransmission);
  assert.equal(c.clientBytes, 3000);
});

Deno.test("analyzeCapture marks a spurious retransmission of acknowledged data", () => {
  const frames = [
    ...handshake(),
    tcpFrame({ t: 3, fromClient: true, flags: TCP_ACK | TCP_PSH, seq: 1, ack: 1, len: 100 }),
    tcpFrame({ t: 4, fromClient: false, flags: TCP_ACK, seq: 1, ack: 101 }),
    tcpFrame({ t: 5, fromClient: true, flags: TCP_ACK | TCP_PSH, seq: 1, ack: 1, len: 100 }),
  ];
  const [c] = analyzeCapture(frames).connections;
  assert.ok(c.segments[5].retransmission && c.segments[5].spurious);
  assert.ok(!c.segments[3].lost, "an acknowledged segment was not lost");
});

Deno.test("analyzeCapture keeps relative numbers across the 2^32 wrap", () => {
  assert.ok(SERVER_ISN + 200 > 0xffffffff, "the server's data crosses 2^32");
  const frames = [
    ...handshake(),
    tcpFrame({ t: 3, fromClient: false, flags: TCP_ACK, seq: 1, ack: 1, len: 100 }),
    tcpFrame({ t: 4, fromClient: false, flags: TCP_ACK, seq: 101, ack: 1, len: 100 }),
    tcpFrame({ t: 5, fromClient: true, flags: TCP_ACK, seq: 1, ack: 201 }),
    tcpFrame({ t: 6, fromClient: true, flags: TCP_ACK | TCP_FIN, seq: 1, ack: 201 }),
    tcpFrame({ t: 7, fromClient: false, flags: TCP_ACK | TCP_FIN, seq: 201, ack: 2 }),
  ];
  const [c] = analyzeCapture(frames).connections;
  assert.deepEqual(c.segments.slice(3).map((s) => [s.seq, s.ack]), [[1, 1], [101, 1], [1, 201], [
    1,
    201,
  ], [201, 2]]);
  assert.ok(c.segments.every((s) => !s.retransmission && s.gapBefore === 0));
  assert.equal(c.serverBytes, 200);
  assert.ok(c.closed);
});

Deno.test("analyzeCapture starts a new connection when a closed 4-tuple sees a new SYN", () => {
  const again = handshake().map((f) => ({ ...f, timestampMs: f.timestampMs + 100 }));
  // Same ports, new ISN: shift the client's sequence numbers in the new SYN.
  const syn2 = tcpFrame({ t: 100, fromClient: true, flags: 0x02, seq: 5000, mss: 1460 });
  const frames = [
    ...handshake(),
    tcpFrame({ t: 3, fromClient: true, flags: TCP_ACK | TCP_FIN, seq: 1, ack: 1 }),
    tcpFrame({ t: 4, fromClient: false, flags: TCP_ACK | TCP_FIN, seq: 1, ack: 2 }),
    tcpFrame({ t: 5, fromClient: true, flags: TCP_ACK, seq: 2, ack: 2 }),
    syn2,
  ];
  assert.equal(again.length, 3);
  const a = analyzeCapture(frames);
  assert.equal(a.connections.length, 2);
  assert.equal(a.connections[1].segments[0].seq, 0);
});

Deno.test("decodeFrame takes the payload length from IPv4 when the capture was cut", () => {
  const full = tcpFrame({ t: 0, fromClient: true, flags: TCP_ACK, seq: 1, ack: 1, len: 500 }).data;
  const cut = full.slice(0, 14 + 20 + 20 + 10); // snaplen shorter than the frame
  const f = decodeFrame(cut, 0, 1, full.length);
  assert.equal(f.kind, "tcp");
  assert.equal(f.tcp?.payloadLength, 500);
  assert.equal(f.length, full.length);
});

Deno.test("decodeFrame never throws on hostile frames", () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const base = tcpFrame({ t: 0, fromClient: true, flags: TCP_ACK, seq: 1, ack: 1, len: 40 }).data;
  const frames = [];
  for (let i = 0; i < 2000; i++) {
    const len = Math.floor(rand() * base.length);
    const data = base.slice(0, len);
    for (let k = 0; k < 4; k++) {
      data[Math.floor(rand() * Math.max(1, len))] = Math.floor(rand() * 256);
    }
    const f = decodeFrame(data, i, i + 1);
    assert.ok(typeof f.summary === "string" && typeof describeFrame(f, 0) === "string");
    frames.push({ timestampMs: i, data });
  }
  assert.equal(analyzeCapture(frames).frames.length, 2000);
});

Deno.test("analyzePcap rejects a link type other than Ethernet", () => {
  const w = new PcapWriter({ linkType: 113 }); // LINKTYPE_LINUX_SLL
  w.writeFrame(new Uint8Array(20), 0, 20, 0);
  assert.throws(() => analyzePcap(w.toBytes()), TraceError);
});

Deno.test("formatTcpFlags names flags textbook style", () => {
  assert.equal(formatTcpFlags(0x02), "SYN");
  assert.equal(formatTcpFlags(0x11), "FIN,ACK");
  assert.equal(formatTcpFlags(0x14), "RST,ACK");
  assert.equal(formatTcpFlags(0), "none");
});

/**
 * A sender-side capture without ACKs: `n` segments, all `n` retransmitted (the capture missed
 * every ACK), then a jump leaving a hole of 2n segments, half of which arrive late to fill it.
 */
function retransmissionsAndFills(n: number) {
  const mss = 100;
  const frames = handshake();
  let t = 3;
  const data = (seq: number) =>
    frames.push(tcpFrame({ t: t++, fromClient: true, flags: TCP_ACK, seq, ack: 1, len: mss }));
  for (let i = 0; i < n; i++) data(1 + i * mss);
  for (let i = 0; i < n; i++) data(1 + i * mss);
  data(1 + 3 * n * mss);
  for (let i = 2 * n; i < 3 * n; i++) data(1 + i * mss);
  return frames;
}

Deno.test("analyzeCapture does n log n work on retransmissions and gap fills, not n²", () => {
  // Each retransmission or fill looked at every earlier segment: 40,000 segments took 12 s.
  // Counted work (tree nodes visited), not time: 4× the segments may cost ≈4.6× (n log n),
  // not 16× (n²).
  const work = (n: number) => {
    const before = sentRangeSteps();
    const [c] = analyzeCapture(retransmissionsAndFills(n)).connections;
    const s = c.segments;
    // The marks are still right.
    assert.equal(s.length, 3 + 3 * n + 1);
    for (let i = 0; i < n; i++) assert.ok(s[3 + i].lost && !s[3 + i].retransmission);
    for (let i = 0; i < n; i++) assert.ok(s[3 + n + i].retransmission && !s[3 + n + i].lost);
    assert.equal(s[3 + 2 * n].gapBefore, 2 * n * 100);
    for (let i = 0; i < n; i++) assert.ok(s[4 + 2 * n + i].fillsGap);
    assert.equal(c.clientBytes, 2 * n * 100 + 100, "resent bytes count once");
    return { steps: sentRangeSteps() - before, segments: s.length };
  };
  const small = work(1000);
  const large = work(4000);
  assert.ok(
    large.steps < 8 * small.steps,
    `work grew ${(large.steps / small.steps).toFixed(1)}× for 4× the segments`,
  );
  assert.ok(large.steps < 100 * large.segments, `${large.steps} steps`);
});
