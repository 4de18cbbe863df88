import assert from "node:assert/strict";
import { TcpState } from "../../src/tcp/connection.ts";
import { AddrInUse, NotConnected } from "../../src/tcp/errors.ts";
import { EPHEMERAL_PORT_FIRST, EPHEMERAL_PORT_LAST } from "../../src/tcp/tcp_layer.ts";
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_RST, TCP_SYN } from "../../src/wire/tcp.ts";
import { bytesOf, Host, LOCAL, REMOTE, segment } from "./harness.ts";

const IRS = 7000;

Deno.test("TcpLayer answers segments to a closed port with RST (RFC 9293 §3.10.7.1)", () => {
  const h = new Host();
  h.feed({ flags: TCP_SYN, seq: 100, dstPort: 81 });
  let [rst] = h.take();
  assert.equal(rst.flags, TCP_RST | TCP_ACK);
  assert.equal(rst.seq, 0);
  assert.equal(rst.ack, 101);
  assert.equal(rst.srcPort, 81);
  h.feed({ flags: TCP_ACK, seq: 100, ack: 5555, dstPort: 81, data: bytesOf(10) });
  [rst] = h.take();
  assert.equal(rst.flags, TCP_RST);
  assert.equal(rst.seq, 5555);
  h.feed({ flags: TCP_RST, seq: 100, dstPort: 81 });
  assert.equal(h.take().length, 0);
  assert.equal(h.tcp.stats.resetsSent, 2);
});

Deno.test("TcpLayer drops segments with a bad checksum", () => {
  const h = new Host();
  const b = segment({ flags: TCP_SYN, seq: 1, dstPort: 81 });
  b[b.length - 1] ^= 0x40;
  b[16] ^= 0x01; // checksum byte
  h.tcp.onPacket(0, REMOTE, LOCAL, b, 0, b.length);
  assert.equal(h.take().length, 0);
  assert.equal(h.tcp.stats.malformed, 1);
  // Truncated header: also dropped, never thrown.
  h.tcp.onPacket(0, REMOTE, LOCAL, b, 0, 7);
  assert.equal(h.tcp.stats.malformed, 2);
});

Deno.test("TcpLayer skips the checksum only when the device verified it (RX offload)", () => {
  const h = new Host();
  const b = segment({ flags: TCP_SYN, seq: 1, dstPort: 81 });
  b[16] ^= 0x01; // bad checksum
  h.tcp.onPacket(0, REMOTE, LOCAL, b, 0, b.length, false);
  assert.equal(h.tcp.stats.malformed, 1);
  assert.equal(h.take().length, 0);
  // Validated by the device: the segment is processed (a SYN to a closed port: RST).
  h.tcp.onPacket(0, REMOTE, LOCAL, b, 0, b.length, true);
  assert.equal(h.tcp.stats.malformed, 1);
  const [rst] = h.take();
  assert.equal(rst.flags, TCP_RST | TCP_ACK);
  // Header checks still apply: a truncated header is dropped even when "verified".
  h.tcp.onPacket(0, REMOTE, LOCAL, b, 0, 7, true);
  assert.equal(h.tcp.stats.malformed, 2);
});

Deno.test("TcpLayer passive open negotiates options and queues the connection for accept", () => {
  const h = new Host();
  const l = h.tcp.listen(80, 4);
  assert.equal(l.state, TcpState.LISTEN);
  let acceptable = 0;
  l.events = { onAcceptable: () => acceptable++ };
  h.feed({
    flags: TCP_SYN,
    seq: IRS,
    mss: 1400,
    windowScale: 7,
    sackPermitted: true,
    tsVal: 55,
    window: 64240,
  });
  const [synAck] = h.take();
  assert.equal(synAck.flags, TCP_SYN | TCP_ACK);
  assert.equal(synAck.ack, IRS + 1);
  assert.equal(synAck.mss, 1460);
  assert.equal(synAck.windowScale, 7); // RFC 7323 §2.3: for receiveBufferMaxBytes (4 MiB)
  assert.ok(synAck.sackPermitted && synAck.hasTimestamp && synAck.tsEcr === 55);
  assert.equal(l.synQueueLength, 1);
  // A retransmitted SYN gets the SYN-ACK again.
  h.feed({ flags: TCP_SYN, seq: IRS, mss: 1400, windowScale: 7, sackPermitted: true, tsVal: 56 });
  const [again] = h.take();
  assert.equal(again.flags, TCP_SYN | TCP_ACK);
  assert.equal(again.seq, synAck.seq);
  h.advance(10);
  h.feed({
    flags: TCP_ACK,
    seq: IRS + 1,
    ack: synAck.seq + 1,
    tsVal: 60,
    tsEcr: synAck.tsVal,
    window: 100,
  });
  assert.equal(acceptable, 1);
  assert.equal(l.synQueueLength, 0);
  const c = l.accept();
  assert.ok(c !== null);
  assert.equal(c.state, TcpState.ESTABLISHED);
  const info = c.info();
  assert.equal(info.sndWnd, 100 << 7);
  assert.equal(info.sndMss, 1400 - 12);
  assert.equal(info.srttMs, 10);
  assert.equal(l.accept(), null);
  // Data from the peer reaches the accepted connection.
  h.feed({ flags: TCP_ACK, seq: IRS + 1, ack: synAck.seq + 1, tsVal: 61, data: bytesOf(20) });
  assert.equal(c.readableLength, 20);
});

Deno.test("TcpLayer drops an embryonic connection on RST and after SYN-ACK retries", () => {
  const h = new Host({ synAckRetries: 2 });
  const l = h.tcp.listen(80, 4);
  h.feed({ flags: TCP_SYN, seq: IRS, srcPort: 6000 });
  const [synAck] = h.take();
  h.feed({ flags: TCP_RST, seq: IRS + 1, srcPort: 6000 });
  assert.equal(h.tcp.connectionCount, 0);
  assert.equal(l.synQueueLength, 0);
  assert.ok(synAck);
  h.feed({ flags: TCP_SYN, seq: IRS, srcPort: 6001 });
  h.take();
  h.advance(1000);
  h.advance(2000);
  assert.equal(h.take().length, 2); // two SYN-ACK retransmissions
  h.advance(4000);
  assert.equal(h.tcp.connectionCount, 0);
  assert.equal(l.synQueueLength, 0);
  assert.equal(h.wheel.size, 0);
});

Deno.test("TcpLayer answers with SYN cookies when the SYN queue is full", () => {
  const h = new Host();
  const l = h.tcp.listen(80, 1);
  h.feed({ flags: TCP_SYN, seq: IRS, srcPort: 6000, mss: 1460 });
  h.take();
  assert.equal(l.synQueueLength, 1);
  // Queue full: a stateless SYN-ACK with a cookie; no options beyond MSS.
  h.feed({
    flags: TCP_SYN,
    seq: 9000,
    srcPort: 6001,
    mss: 1400,
    windowScale: 5,
    sackPermitted: true,
  });
  const [cookie] = h.take();
  assert.equal(cookie.flags, TCP_SYN | TCP_ACK);
  assert.equal(cookie.ack, 9001);
  assert.equal(cookie.mss, 1300); // largest table entry <= 1400
  assert.equal(cookie.windowScale, -1);
  assert.ok(!cookie.sackPermitted && !cookie.hasTimestamp);
  assert.equal(h.tcp.connectionCount, 1, "no state kept for the cookie");
  // A forged ACK is dropped (while cookies are in use it may be a late segment of a cookie
  // handshake whose first ACK was lost; the peer will retransmit from ISN+1).
  h.feed({ flags: TCP_ACK, seq: 9001, ack: cookie.seq + 2, srcPort: 6001 });
  assert.equal(h.take().length, 0);
  assert.equal(h.tcp.stats.synCookiesFailed, 1);
  // The real ACK (with data) establishes the connection.
  h.advance(5000);
  h.feed({ flags: TCP_ACK, seq: 9001, ack: cookie.seq + 1, srcPort: 6001, data: bytesOf(5) });
  assert.equal(h.tcp.stats.synCookiesAccepted, 1);
  const c = l.accept();
  assert.ok(c !== null && c.remotePort === 6001);
  assert.equal(c.state, TcpState.ESTABLISHED);
  assert.equal(c.info().sndMss, 1300);
  assert.equal(c.readableLength, 5);
  // The first data of a connection is ACKed at once (quick ACK); the rest are SYN-ACK
  // retransmissions of the embryonic connection from port 6000.
  const acks = h.take().filter((r) => r.dstPort === 6001);
  assert.deepEqual(acks.map((r) => [r.flags, r.ack]), [[TCP_ACK, 9006]]);
  // An old cookie (two counter periods later) is no longer valid.
  h.feed({ flags: TCP_SYN, seq: 12000, srcPort: 6002 });
  const [c2] = h.take();
  h.advance(200_000);
  h.take(); // SYN-ACK retransmissions of the embryonic connection
  h.feed({ flags: TCP_ACK, seq: 12001, ack: c2.seq + 1, srcPort: 6002 });
  assert.equal(h.take()[0].flags, TCP_RST); // cookies no longer in use: RFC 9293 LISTEN + ACK → RST
  assert.equal(h.tcp.stats.synCookiesFailed, 1, "outside the window it is not even checked");
  assert.equal(h.tcp.stats.synCookiesUnexpected, 1);
});

Deno.test("SYN cookies keep window scaling and SACK in the timestamp when the SYN has one", () => {
  const h = new Host();
  const l = h.tcp.listen(80, 1);
  h.feed({
    flags: TCP_SYN,
    seq: IRS,
    srcPort: 6000,
    windowScale: 7,
    sackPermitted: true,
    tsVal: 1,
  });
  const [normal] = h.take();
  h.advance(1234); // TSval's low bits must not be the clock's
  h.feed({
    flags: TCP_SYN,
    seq: 9000,
    srcPort: 6001,
    mss: 1400,
    windowScale: 5,
    sackPermitted: true,
    tsVal: 1000,
  });
  // (The embryonic connection from port 6000 retransmits its SYN-ACK meanwhile.)
  const [cookie] = h.take().filter((r) => r.dstPort === 6001);
  assert.equal(h.tcp.stats.synCookiesSent, 1);
  assert.equal(cookie.windowScale, normal.windowScale, "our shift, as a normal SYN-ACK has it");
  assert.ok(cookie.sackPermitted && cookie.hasTimestamp);
  assert.equal(cookie.tsEcr, 1000);
  // Linux's layout: the peer's shift in bits 0-3, SACK in bit 4.
  assert.equal(cookie.tsVal & 0x3f, 5 | 0x10);
  h.advance(20);
  h.feed({
    flags: TCP_ACK,
    seq: 9001,
    ack: cookie.seq + 1,
    srcPort: 6001,
    window: 100,
    tsVal: 1020,
    tsEcr: cookie.tsVal,
    data: bytesOf(5),
  });
  assert.equal(h.tcp.stats.synCookiesAccepted, 1);
  const c = l.accept();
  assert.ok(c !== null && c.remotePort === 6001);
  const info = c.info();
  assert.deepEqual([info.windowScaling, info.sack, info.timestamps], [true, true, true]);
  assert.equal(info.sndWnd, 100 << 5);
  assert.equal(info.sndMss, 1300 - 12, "the cookie's MSS less the timestamp option");
  assert.equal(c.readableLength, 5);
  const [ack] = h.take().filter((r) => r.dstPort === 6001);
  assert.ok(ack.hasTimestamp && ack.tsEcr === 1020, "timestamps run on the new connection");
  assert.ok(((ack.tsVal - cookie.tsVal) | 0) >= 0, "its clock is the cookie's, never behind it");

  // A SYN with timestamps but neither scaling nor SACK: the bits say so, and nothing is agreed.
  h.feed({ flags: TCP_SYN, seq: 3000, srcPort: 6002, tsVal: 50 });
  const [plain] = h.take().filter((r) => r.dstPort === 6002);
  assert.equal(plain.windowScale, -1);
  assert.ok(!plain.sackPermitted && plain.hasTimestamp);
  assert.equal(plain.tsVal & 0x3f, 0x0f);
  h.feed({
    flags: TCP_ACK,
    seq: 3001,
    ack: plain.seq + 1,
    srcPort: 6002,
    tsVal: 51,
    tsEcr: plain.tsVal,
  });
  const c2 = l.accept();
  assert.ok(c2 !== null);
  assert.deepEqual(
    [c2.info().windowScaling, c2.info().sack, c2.info().timestamps],
    [false, false, true],
  );
});

Deno.test("SYN cookies keep ECN agreement in the timestamp: an ECN-setup SYN gets an ECN connection (RFC 3168 §6.1.1)", () => {
  const h = new Host();
  const l = h.tcp.listen(80, 1);
  h.feed({ flags: TCP_SYN, seq: IRS, srcPort: 6000, tsVal: 1 });
  h.take(); // the queue is full from here on
  /** A cookie handshake from `port`; returns the cookie SYN-ACK and the connection. */
  const handshake = (port: number, synFlags: number, timestamps: boolean) => {
    h.feed({ flags: synFlags, seq: 9000, srcPort: port, tsVal: timestamps ? 1000 : undefined });
    const [cookie] = h.take().filter((r) => r.dstPort === port);
    h.feed({
      flags: TCP_ACK,
      seq: 9001,
      ack: cookie.seq + 1,
      srcPort: port,
      tsVal: timestamps ? 1001 : undefined,
      tsEcr: timestamps ? cookie.tsVal : undefined,
    });
    const c = l.accept();
    assert.ok(c !== null && c.remotePort === port);
    return { cookie, c };
  };
  const setup = TCP_SYN | TCP_ECE | TCP_CWR;
  // An ECN-setup SYN: an ECN-setup SYN-ACK (ECE, not CWR), bit 5 of its TSval, ECN in use.
  const asked = handshake(6001, setup, true);
  assert.equal(asked.cookie.flags, TCP_SYN | TCP_ACK | TCP_ECE);
  assert.equal(asked.cookie.tsVal & 0x20, 0x20);
  assert.equal(asked.c.info().ecn, true);
  assert.equal(h.tcp.stats.ecnNegotiated, 1);
  // A SYN that does not ask: no ECE, no bit, no ECN.
  const plain = handshake(6002, TCP_SYN, true);
  assert.equal(plain.cookie.flags, TCP_SYN | TCP_ACK);
  assert.equal(plain.cookie.tsVal & 0x20, 0);
  assert.equal(plain.c.info().ecn, false);
  // Without timestamps the cookie has no room for it (Linux clears ecn_ok): not agreed.
  const bare = handshake(6003, setup, false);
  assert.equal(bare.cookie.flags, TCP_SYN | TCP_ACK);
  assert.equal(bare.c.info().ecn, false);
  assert.equal(h.tcp.stats.synCookiesAccepted, 3);
  // ECN off on this layer: an ECN-setup SYN is answered without ECE.
  const off = new Host({ ecn: "off" });
  off.tcp.listen(80, 1);
  off.feed({ flags: TCP_SYN, seq: IRS, srcPort: 6000, tsVal: 1 });
  off.take();
  off.feed({ flags: setup, seq: 9000, srcPort: 6001, tsVal: 1000 });
  const [noEcn] = off.take().filter((r) => r.dstPort === 6001);
  assert.equal(noEcn.flags, TCP_SYN | TCP_ACK);
  assert.equal(noEcn.tsVal & 0x20, 0);
});

Deno.test("A cookie ACK whose echoed options this stack does not do is refused", () => {
  const h = new Host({ sack: false });
  h.tcp.listen(80, 1);
  h.feed({ flags: TCP_SYN, seq: IRS, srcPort: 6000, tsVal: 1 });
  h.take();
  h.feed({ flags: TCP_SYN, seq: 9000, srcPort: 6001, sackPermitted: true, tsVal: 1000 });
  const [cookie] = h.take();
  assert.ok(!cookie.sackPermitted, "SACK off: not offered");
  // An ACK that claims SACK was offered (bit 4 set in the echo) cannot be ours.
  h.feed({
    flags: TCP_ACK,
    seq: 9001,
    ack: cookie.seq + 1,
    srcPort: 6001,
    tsVal: 1001,
    tsEcr: cookie.tsVal | 0x10,
  });
  assert.equal(h.tcp.stats.synCookiesAccepted, 0);
  assert.equal(h.tcp.stats.synCookiesFailed, 1);
  // The true echo is accepted.
  h.feed({
    flags: TCP_ACK,
    seq: 9001,
    ack: cookie.seq + 1,
    srcPort: 6001,
    tsVal: 1001,
    tsEcr: cookie.tsVal,
  });
  assert.equal(h.tcp.stats.synCookiesAccepted, 1);
});

Deno.test("TcpLayer drops SYNs while the accept queue is full, or without cookies", () => {
  const h = new Host({ synCookies: false });
  const l = h.tcp.listen(80, 1);
  h.feed({ flags: TCP_SYN, seq: IRS, srcPort: 6000 });
  const [sa] = h.take();
  h.feed({ flags: TCP_SYN, seq: IRS, srcPort: 6001 }); // SYN queue full, no cookies
  assert.equal(h.take().length, 0);
  h.feed({ flags: TCP_ACK, seq: IRS + 1, ack: sa.seq + 1, srcPort: 6000 });
  assert.equal(l.acceptQueueLength, 1);
  h.feed({ flags: TCP_SYN, seq: IRS, srcPort: 6002 }); // accept queue full
  assert.equal(h.take().length, 0);
  assert.equal(h.tcp.stats.listenOverflows, 2);
  // Closing the listener resets the connection nobody accepted.
  l.close();
  assert.equal(l.state, TcpState.CLOSED);
  assert.equal(h.take()[0].flags & TCP_RST, TCP_RST);
  assert.equal(h.tcp.connectionCount, 0);
  assert.equal(h.tcp.listenerCount, 0);
});

Deno.test("TcpLayer allocates distinct ephemeral ports and reports address errors", () => {
  const h = new Host();
  const ports = new Set<number>();
  for (let i = 0; i < 50; i++) {
    const c = h.tcp.connect(0, REMOTE, 80);
    assert.ok(c.localPort >= EPHEMERAL_PORT_FIRST && c.localPort <= EPHEMERAL_PORT_LAST);
    ports.add(c.localPort);
  }
  assert.equal(ports.size, 50);
  const first = [...ports][0];
  assert.throws(() => h.tcp.connect(0, REMOTE, 80, { localPort: first }), AddrInUse);
  h.tcp.listen(8080);
  assert.throws(() => h.tcp.listen(8080), AddrInUse);
  h.ip.src = 0;
  assert.throws(() => h.tcp.connect(0, REMOTE, 80), NotConnected);
  h.tcp.abortAll();
  assert.equal(h.tcp.connectionCount, 0);
  assert.equal(h.wheel.size, 0);
});

Deno.test("TcpLayer lets a new SYN reuse a 4-tuple in TIME-WAIT", () => {
  const h = new Host();
  const l = h.tcp.listen(80, 4);
  h.feed({ flags: TCP_SYN, seq: IRS });
  const [sa] = h.take();
  h.feed({ flags: TCP_ACK, seq: IRS + 1, ack: sa.seq + 1 });
  const c = l.accept()!;
  c.closeWrite();
  h.take();
  h.feed({ flags: TCP_FIN | TCP_ACK, seq: IRS + 1, ack: sa.seq + 2 });
  h.take();
  assert.equal(c.state, TcpState.TIME_WAIT);
  // An old duplicate SYN (below RCV.NXT) does not reopen it.
  h.feed({ flags: TCP_SYN, seq: IRS - 5 });
  assert.equal(c.state, TcpState.TIME_WAIT);
  h.take();
  h.feed({ flags: TCP_SYN, seq: IRS + 100000 });
  assert.equal(c.state, TcpState.CLOSED);
  const [sa2] = h.take();
  assert.equal(sa2.flags, TCP_SYN | TCP_ACK);
  assert.equal(sa2.ack, IRS + 100001);
  assert.equal(h.tcp.connectionCount, 1);
});

Deno.test("TcpLayer passive open: the handshake ACK may carry data and FIN", () => {
  const h = new Host({ timestamps: false });
  const l = h.tcp.listen(80, 4);
  h.feed({ flags: TCP_SYN, seq: IRS, mss: 1460 });
  const [sa] = h.take();
  const data = bytesOf(100);
  h.feed({ flags: TCP_ACK | TCP_FIN, seq: IRS + 1, ack: sa.seq + 1, data });
  const [ack] = h.take();
  assert.equal(ack.flags, TCP_ACK);
  assert.equal(ack.ack, IRS + 102);
  const c = l.accept()!;
  assert.equal(c.state, TcpState.CLOSE_WAIT);
  const buf = new Uint8Array(100);
  assert.equal(c.read(buf, 0, 100), 100);
  assert.deepEqual(buf, data);
  assert.ok(c.eof);
  c.close();
  const [fin] = h.take();
  assert.equal(fin.flags, TCP_FIN | TCP_ACK);
  h.feed({ flags: TCP_ACK, seq: IRS + 102, ack: sa.seq + 2 });
  assert.equal(c.state, TcpState.CLOSED);
  assert.equal(h.tcp.connectionCount, 0);
  assert.equal(h.wheel.size, 0);
  assert.equal(h.ip.pool.inUse, 0);
});

Deno.test("TcpLayer SYN cookies round-trip with the sign bit set and a peer ISN at 2^32 - 1", () => {
  // Counter 17 (of 64 s periods) puts 17 & 0x1f = 0b10001 in the cookie's top five bits: the
  // cookie is negative as int32 (the engine's form of a sequence number).
  const COOKIE_PERIOD_MS = 64_000;
  const h = new Host({}, 17 * COOKIE_PERIOD_MS + 1234);
  const l = h.tcp.listen(80, 1);
  h.feed({ flags: TCP_SYN, seq: IRS, srcPort: 6000 });
  h.take();
  const peerIsn = 0xffffffff; // its ISN + 1 wraps to 0
  h.feed({ flags: TCP_SYN, seq: peerIsn, srcPort: 6001, mss: 1460 });
  const [cookie] = h.take();
  assert.equal(cookie.flags, TCP_SYN | TCP_ACK);
  assert.ok(cookie.seq < 0, `cookie ${cookie.seq >>> 0} has its top bit set`);
  assert.equal(cookie.seq >>> 27, 17, "counter bits");
  assert.equal(cookie.ack, 0, "SEG.SEQ + 1 wraps");
  assert.equal(h.tcp.stats.synCookiesSent, 1);
  // The completing ACK, with the cookie + 1 given in the unsigned form: accepted.
  h.advance(1000);
  h.feed({ flags: TCP_ACK, seq: 0, ack: (cookie.seq >>> 0) + 1, srcPort: 6001, data: bytesOf(7) });
  assert.equal(h.tcp.stats.synCookiesAccepted, 1);
  const c = l.accept();
  assert.ok(c !== null && c.remotePort === 6001);
  assert.equal(c.state, TcpState.ESTABLISHED);
  assert.equal(c.iss, cookie.seq, "ISS = the cookie, int32");
  assert.equal(c.info().iss, cookie.seq >>> 0, "TcpInfo shows it unsigned");
  assert.equal(c.info().irs, peerIsn);
  assert.equal(c.info().rcvNxt, 7);
  assert.equal(c.info().sndMss, 1460);
  assert.equal(c.readableLength, 7);
  const [ack] = h.take().filter((r) => r.dstPort === 6001);
  assert.equal(ack.seq, (cookie.seq + 1) | 0);
  assert.equal(ack.ack, 7);
  // A cookie with one bit of its hash flipped is refused.
  h.feed({ flags: TCP_SYN, seq: 0x80000000, srcPort: 6002 });
  const [cookie2] = h.take().filter((r) => r.dstPort === 6002);
  assert.ok(cookie2.seq < 0);
  h.feed({ flags: TCP_ACK, seq: 0x80000001, ack: (cookie2.seq ^ 0x10) + 1, srcPort: 6002 });
  assert.equal(h.tcp.stats.synCookiesFailed, 1);
  h.feed({ flags: TCP_ACK, seq: 0x80000001, ack: cookie2.seq + 1, srcPort: 6002 });
  assert.equal(h.tcp.stats.synCookiesAccepted, 2);
  const c2 = l.accept();
  assert.ok(c2 !== null && c2.remotePort === 6002);
  assert.equal(c2.iss, cookie2.seq);
  assert.equal(c2.info().irs, 0x80000000);
});
