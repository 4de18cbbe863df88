// Regression tests for issue #16 (hostile input) in the TCP layer: SYN cookies only after a
// recent overflow, no answers to broadcast/multicast, bounded connections and TIME-WAIT.
import assert from "node:assert/strict";
import { MEMORY_MAC_B, MemoryLink } from "../../src/phy/memory_link.ts";
import { Stack } from "../../src/stack.ts";
import { TcpState } from "../../src/tcp/connection.ts";
import { HostUnreachable, TooManyConnections } from "../../src/tcp/errors.ts";
import { makeSynCookie, SYN_COOKIE_VALID_MS } from "../../src/tcp/syn_cookies.ts";
import { ManualClock } from "../../src/time/clock.ts";
import { parseIpv4, readIpv4 } from "../../src/wire/address.ts";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "../../src/wire/tcp.ts";
import { ethFrame, ipv4Packet } from "../iface/_helpers.ts";
import { bytesOf, Host, LOCAL, REMOTE, segment } from "./harness.ts";

/** The secret every {@link Host} is made with. */
const HOST_SECRET = new Uint8Array(16).fill(7);
/** Index of MSS 1460 in the cookie table. */
const MSS_1460_INDEX = 3;

Deno.test("TcpLayer checks SYN cookies only within the window after it sent one", () => {
  const h = new Host({}, 1_000_000);
  const l = h.tcp.listen(80, 1);
  // A blind attacker's lucky guess of the 24-bit MAC: the cookie a SYN from this forged
  // 4-tuple would have got. No SYN queue ever overflowed, so it must not be checked.
  const cookieFor = (port: number, irs: number) =>
    makeSynCookie(HOST_SECRET, h.clock.now(), LOCAL, 80, REMOTE, port, irs, MSS_1460_INDEX);
  h.feed({
    flags: TCP_ACK,
    seq: 501,
    ack: cookieFor(6001, 500) + 1,
    srcPort: 6001,
    data: bytesOf(5),
  });
  assert.equal(l.accept(), null, "no connection from a guessed cookie");
  assert.equal(h.tcp.connectionCount, 0);
  let [rst] = h.take();
  assert.equal(rst.flags, TCP_RST, "a stray ACK to a listener: RST (RFC 9293 §3.10.7.2)");
  assert.equal(h.tcp.stats.synCookiesAccepted, 0);
  assert.equal(h.tcp.stats.synCookiesUnexpected, 1);

  // Under SYN pressure cookies work: the queue of one fills, the next SYN gets a cookie.
  h.feed({ flags: TCP_SYN, seq: 7000, srcPort: 6000 });
  h.take();
  h.feed({ flags: TCP_SYN, seq: 9000, srcPort: 6002, mss: 1460 });
  const [cookie] = h.take();
  assert.equal(cookie.flags, TCP_SYN | TCP_ACK);
  assert.equal(h.tcp.stats.synCookiesSent, 1);
  h.advance(1000);
  h.feed({ flags: TCP_ACK, seq: 9001, ack: cookie.seq + 1, srcPort: 6002, data: bytesOf(3) });
  const c = l.accept();
  assert.ok(c !== null && c.remotePort === 6002 && c.readableLength === 3);
  assert.equal(h.tcp.stats.synCookiesAccepted, 1);

  // Once no cookie was sent for a cookie's lifetime, a valid one is refused again.
  h.advance(SYN_COOKIE_VALID_MS);
  h.take(); // SYN-ACK retransmissions of the embryonic connection from port 6000
  h.feed({ flags: TCP_ACK, seq: 901, ack: cookieFor(6003, 900) + 1, srcPort: 6003 });
  [rst] = h.take();
  assert.equal(rst.flags, TCP_RST);
  assert.equal(l.accept(), null);
  assert.equal(h.tcp.stats.synCookiesAccepted, 1);
  assert.equal(h.tcp.stats.synCookiesUnexpected, 2);
  assert.equal(c.state, TcpState.ESTABLISHED, "the cookie connection is unharmed");
});

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
const BROADCAST_MAC = 0xffff_ffff_ffff;
const ALL_HOSTS_MAC = 0x01_00_5e_00_00_01;
const IP_PROTO_TCP = 6;

Deno.test("Stack answers no TCP segment sent to a broadcast or multicast address", async () => {
  const clock = new ManualClock(1000);
  const [victimDevice, attacker] = MemoryLink.pair();
  const victim = new Stack({ device: victimDevice, ipv4: "192.0.2.1/24", clock });
  const settle = () => {
    for (let i = 0; i < 100; i++) if (victim.poll() === 0) return;
  };
  const attackerIp = parseIpv4("192.0.2.66")!;
  /** Frames the victim sent that answer the attacker: IPv4, or ARP asking for its address. */
  const answers = () => {
    let n = 0;
    attacker.receive({
      onFrame(bytes, offset) {
        const type = (bytes[offset + 12] << 8) | bytes[offset + 13];
        if (type === ETHERTYPE_IPV4) n++;
        if (type === ETHERTYPE_ARP && readIpv4(bytes, offset + 14 + 24) === attackerIp) n++;
      },
    }, 256);
    return n;
  };
  const inject = (dst: number, dstMac: number, flags: number, port: number) => {
    const seg = segment(
      { flags, seq: 1000, ack: 5000, srcPort: 5555, dstPort: port },
      attackerIp,
      dst,
    );
    const ip = ipv4Packet({ src: attackerIp, dst, protocol: IP_PROTO_TCP, payload: seg });
    const frame = ethFrame(dstMac, MEMORY_MAC_B, ETHERTYPE_IPV4, ip);
    attacker.transmit(frame, 0, frame.length);
  };
  try {
    await victim.start();
    victim.listen({ port: 80 });
    settle();
    answers(); // the victim's own announcements
    const targets: [string, number][] = [
      ["192.0.2.255", BROADCAST_MAC], // the subnet's directed broadcast (RFC 919)
      ["255.255.255.255", BROADCAST_MAC], // the limited broadcast
      ["224.0.0.1", ALL_HOSTS_MAC], // the all-hosts group every host is in
    ];
    for (const [addr, mac] of targets) {
      const dst = parseIpv4(addr)!;
      inject(dst, mac, TCP_SYN, 80); // listener: no SYN-ACK, no half-open connection
      inject(dst, mac, TCP_SYN, 81); // closed port: no RST
      inject(dst, mac, TCP_ACK, 80); // stray ACK to a listener: no RST
      inject(dst, mac, TCP_ACK, 81); // closed port: no RST
    }
    settle();
    clock.advance(5000); // a SYN-ACK would be retransmitted by now
    settle();
    assert.equal(answers(), 0, "nothing answers a broadcast or multicast segment");
    const tcp = victim.stats().tcp;
    assert.equal(victim.tcp.connectionCount, 0, "no half-open connection");
    assert.equal(tcp.broadcastDrops, 12);
    assert.equal(tcp.segmentsOut, 0);
    assert.equal(tcp.resetsSent, 0);
    // The same SYN to the victim's own address is answered (the injection itself works).
    inject(parseIpv4("192.0.2.1")!, 0x02_00_00_00_00_01, TCP_SYN, 80);
    settle();
    assert.equal(victim.tcp.connectionCount, 1);
    assert.ok(answers() > 0);
  } finally {
    await victim.close();
  }
});

Deno.test("TcpLayer discards segments from or to addresses that name no single host", () => {
  const h = new Host();
  const l = h.tcp.listen(80, 4);
  for (const src of [0, -1, 0xe0000001 | 0, 0xefffffff | 0]) {
    const b = segment({ flags: TCP_SYN, seq: 1 }, src, LOCAL);
    h.tcp.onPacket(0, src, LOCAL, b, 0, b.length);
    const a = segment({ flags: TCP_ACK, seq: 1, ack: 9, dstPort: 81 }, src, LOCAL);
    h.tcp.onPacket(0, src, LOCAL, a, 0, a.length);
  }
  assert.equal(h.tcp.stats.badSourceDrops, 8);
  // The IPv4 layer's word decides for the directed broadcast, which TCP cannot recognise.
  const b = segment({ flags: TCP_SYN, seq: 1 }, REMOTE, LOCAL);
  h.tcp.onPacket(0, REMOTE, LOCAL, b, 0, b.length, false, true);
  assert.equal(h.tcp.stats.broadcastDrops, 1);
  assert.equal(h.take().length, 0, "no SYN-ACK, no RST");
  assert.equal(l.synQueueLength, 0);
  assert.equal(h.tcp.connectionCount, 0);
  // RFC 9293 §3.9.1.1 (MUST-46): no active open toward a broadcast or multicast address.
  assert.throws(() => h.tcp.connect(0, -1, 80), HostUnreachable);
  assert.throws(() => h.tcp.connect(0, 0xe0000001, 80), HostUnreachable);
  assert.equal(h.take().length, 0);
});

Deno.test("TcpLayer refuses new connections beyond maxConnections", () => {
  const h = new Host({ maxConnections: 3 });
  const l = h.tcp.listen(80, 1);
  h.feed({ flags: TCP_SYN, seq: 100, srcPort: 6000 }); // embryonic: 1
  const [sa] = h.take();
  h.feed({ flags: TCP_SYN, seq: 200, srcPort: 6001, mss: 1460 }); // SYN queue full: a cookie
  const [cookie] = h.take();
  assert.equal(h.tcp.stats.synCookiesSent, 1);
  const client = h.tcp.connect(0, REMOTE, 443); // 2
  h.feed({ flags: TCP_SYN, seq: 300, srcPort: 6002 }); // a cookie, no state
  h.take();
  const client2 = h.tcp.connect(0, REMOTE, 443); // 3: the limit
  h.take();
  assert.equal(h.tcp.connectionCount, 3);
  // A SYN beyond the limit: no SYN-ACK, no cookie, no state.
  h.feed({ flags: TCP_SYN, seq: 400, srcPort: 6003 });
  assert.equal(h.take().length, 0);
  assert.equal(h.tcp.stats.synCookiesSent, 2);
  // A valid cookie ACK beyond it: dropped, not reset (the peer retransmits).
  h.feed({ flags: TCP_ACK, seq: 201, ack: cookie.seq + 1, srcPort: 6001 });
  assert.equal(h.take().length, 0);
  assert.equal(h.tcp.stats.synCookiesAccepted, 0);
  // An active open beyond it throws.
  assert.throws(() => h.tcp.connect(0, REMOTE, 443), TooManyConnections);
  assert.equal(h.tcp.stats.connectionLimitDrops, 3);
  assert.equal(h.tcp.connectionCount, 3);
  // One closes: there is room again, and the retransmitted cookie ACK completes.
  client.abort();
  h.feed({ flags: TCP_ACK, seq: 201, ack: cookie.seq + 1, srcPort: 6001 });
  assert.equal(h.tcp.stats.synCookiesAccepted, 1);
  assert.equal(l.accept()?.remotePort, 6001);
  assert.throws(() => h.tcp.connect(0, REMOTE, 443), TooManyConnections);
  client2.abort();
  h.feed({ flags: TCP_ACK, seq: 101, ack: sa.seq + 1, srcPort: 6000 }); // no new TCB: allowed
  assert.equal(h.tcp.connectionCount, 2);
  assert.equal(h.tcp.connect(0, REMOTE, 443).stateName, "SYN-SENT");
  assert.equal(h.tcp.stats.connectionLimitDrops, 4);
});

Deno.test("TcpLayer holds at most maxTimeWait connections in TIME-WAIT", () => {
  const h = new Host({ maxTimeWait: 1 });
  const l = h.tcp.listen(80, 4);
  /** A passive connection from `port` that we close first; the peer answers with data + FIN. */
  const closeFirst = (port: number) => {
    h.feed({ flags: TCP_SYN, seq: 1000, srcPort: port });
    const [sa] = h.take();
    h.feed({ flags: TCP_ACK, seq: 1001, ack: sa.seq + 1, srcPort: port });
    const c = l.accept()!;
    c.closeWrite();
    h.take(); // our FIN
    h.feed({
      flags: TCP_FIN | TCP_ACK,
      seq: 1001,
      ack: sa.seq + 2,
      srcPort: port,
      data: bytesOf(3),
    });
    return c;
  };
  const first = closeFirst(6000);
  assert.equal(first.state, TcpState.TIME_WAIT);
  assert.equal(h.take()[0].ack, 1005, "the FIN is acknowledged");
  // The cap is reached: the next one skips TIME-WAIT, after acknowledging the FIN.
  const second = closeFirst(6001);
  const [ack] = h.take();
  assert.deepEqual([ack.flags, ack.ack, ack.dstPort], [TCP_ACK, 1005, 6001]);
  assert.equal(second.state, TcpState.CLOSED);
  assert.equal(second.error, null, "a normal close, not a failure");
  assert.equal(second.readableLength, 3, "unread data stays readable");
  assert.equal(h.tcp.connectionCount, 1);
  assert.equal(h.tcp.stats.timeWaitOverflows, 1);
  assert.equal(h.tcp.timeWaitCount, 1);
  // When the first one's 2 MSL end, there is room again.
  h.advance(60_000);
  assert.equal(h.tcp.connectionCount, 0);
  assert.equal(h.tcp.timeWaitCount, 0);
  closeFirst(6002);
  h.take();
  assert.equal(h.tcp.timeWaitCount, 1);
  assert.equal(h.tcp.stats.timeWaitOverflows, 1);
});
