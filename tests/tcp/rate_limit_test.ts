// Rate limits on what TCP sends in answer to unsolicited or suspicious segments.
import assert from "node:assert/strict";
import { TCP_ACK, TCP_RST, TCP_SYN } from "../../src/wire/tcp.ts";
import { Host } from "./harness.ts";

Deno.test("TcpLayer rate-limits RSTs to segments for no connection", () => {
  const h = new Host({ resetLimitPerSecond: 5 });
  for (let i = 0; i < 20; i++) h.feed({ flags: TCP_ACK, seq: 1, ack: 1000 + i, dstPort: 9 });
  const rsts = h.take().filter((s) => (s.flags & TCP_RST) !== 0);
  assert.equal(rsts.length, 5);
  assert.equal(h.tcp.stats.resetsLimited, 15);
  assert.equal(h.tcp.stats.resetsSent, 5);
  // A second later the bucket is full again.
  h.advance(1000);
  h.feed({ flags: TCP_SYN, seq: 7, dstPort: 9 });
  assert.equal(h.take().filter((s) => (s.flags & TCP_RST) !== 0).length, 1);
  // 0 switches the limit off.
  const open = new Host({ resetLimitPerSecond: 0 });
  for (let i = 0; i < 50; i++) open.feed({ flags: TCP_ACK, seq: 1, ack: i, dstPort: 9 });
  assert.equal(open.take().length, 50);
});

Deno.test("TcpLayer limits challenge ACKs over all connections (RFC 5961 §7)", () => {
  const h = new Host({ challengeAckGlobalLimitPerSecond: 3, challengeAckLimitPerSecond: 100 });
  h.tcp.listen(80);
  const peers = [5001, 5002];
  for (const port of peers) {
    h.feed({ flags: TCP_SYN, srcPort: port, seq: 100, window: 65535 });
    const synAck = h.take()[0];
    h.feed({ flags: TCP_ACK, srcPort: port, seq: 101, ack: (synAck.seq + 1) >>> 0 });
  }
  h.take();
  // RSTs in window but not at RCV.NXT: each asks for a challenge ACK (RFC 5961 §3.2).
  for (let i = 0; i < 4; i++) {
    for (const port of peers) h.feed({ flags: TCP_RST, srcPort: port, seq: 200 + i });
  }
  const acks = h.take().filter((s) => s.flags === TCP_ACK);
  assert.equal(acks.length, 3);
  assert.equal(h.tcp.stats.challengeAcks, 3);
  assert.equal(h.tcp.stats.challengeAcksLimited, 5);
  h.advance(1000);
  h.feed({ flags: TCP_RST, srcPort: 5001, seq: 300 });
  assert.equal(h.take().filter((s) => s.flags === TCP_ACK).length, 1);
  assert.equal(h.tcp.connectionCount, 2); // none of the RSTs was accepted
});
