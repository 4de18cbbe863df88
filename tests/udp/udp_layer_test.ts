import assert from "node:assert/strict";
import {
  EPHEMERAL_PORT_MAX,
  EPHEMERAL_PORT_MIN,
  IP_PROTOCOL_UDP,
  UDP_MAX_PAYLOAD,
  UdpError,
  UdpLayer,
} from "../../src/udp/udp_layer.ts";
import type { UdpIpSender } from "../../src/udp/udp_layer.ts";
import type { PacketBufferLike } from "../../src/iface/types.ts";
import { HEADROOM, TestBuffer } from "./_packet_buffer.ts";
import { internetChecksum, onesComplementSum, pseudoHeaderSum } from "../../src/wire/checksum.ts";

const A = 0xc0000201 | 0; // 192.0.2.1
const B = 0xc0000202 | 0; // 192.0.2.2

interface Sent {
  dst: number;
  protocol: number;
  bytes: Uint8Array;
}

/** An IpSender that records what is sent and can forward it to a peer UdpLayer. */
class TestSender implements UdpIpSender {
  sent: Sent[] = [];
  released = 0;
  dropped = 0;
  poolLeft = Infinity;
  sendResult = true;
  peer: UdpLayer | null = null;
  slotSize = 2048;
  large = false;
  constructor(readonly addr: number) {}
  allocate(): TestBuffer | null {
    if (this.poolLeft <= 0) return null;
    this.poolLeft--;
    return new TestBuffer(this.slotSize);
  }
  allocateLarge?(payloadBytes: number): TestBuffer | null {
    return this.large ? new TestBuffer(HEADROOM + payloadBytes) : null;
  }
  release(buf: PacketBufferLike): void {
    (buf as TestBuffer).freed = true;
    this.released++;
  }
  send(buf: PacketBufferLike, dst: number, protocol: number): boolean {
    if (!this.sendResult) {
      this.dropped++;
      return false;
    }
    const bytes = buf.bytes.slice(buf.head, buf.tail);
    this.sent.push({ dst, protocol, bytes });
    this.peer?.onPacket(0, this.addr, dst, bytes, 0, bytes.length);
    return true;
  }
  sourceAddressFor(dst: number): number {
    return dst === (0xcb007101 | 0) ? 0 : this.addr; // 203.0.113.1 has no route
  }
  mtuFor(): number {
    return 1500;
  }
}

/** Two UDP layers joined back to back: A ⇄ B. */
function pair(opts: ConstructorParameters<typeof UdpLayer>[1] = {}) {
  const sa = new TestSender(A);
  const sb = new TestSender(B);
  const a = new UdpLayer(sa, opts);
  const b = new UdpLayer(sb, opts);
  sa.peer = b;
  sb.peer = a;
  return { a, b, sa, sb };
}

/** Builds a UDP datagram with a correct checksum (or `checksum` when given). */
function datagram(
  src: number,
  dst: number,
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
  checksum?: number,
): Uint8Array {
  const d = new Uint8Array(8 + payload.length);
  const v = new DataView(d.buffer);
  v.setUint16(0, srcPort);
  v.setUint16(2, dstPort);
  v.setUint16(4, d.length);
  d.set(payload, 8);
  let ck = internetChecksum(d, 0, d.length, pseudoHeaderSum(src, dst, 17, d.length));
  if (ck === 0) ck = 0xffff;
  v.setUint16(6, checksum ?? ck);
  return d;
}

function seq(n: number): () => number {
  let i = 0;
  return () => (i++ * 0.37 + n) % 1;
}

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("UdpLayer demultiplexes by destination port", () => {
  const { a, b } = pair();
  const e1 = b.bind(1001);
  const e2 = b.bind(1002);
  const s = a.bind(5000);
  assert.equal(s.send(0, text("one"), B, 1001), 3);
  assert.equal(s.send(0, text("two"), B, 1002), 3);
  assert.equal(s.send(0, text("three"), B, 1002), 5);
  assert.equal(e1.queued, 1);
  assert.equal(e2.queued, 2);
  const r1 = e1.tryReceive()!;
  assert.deepEqual([new TextDecoder().decode(r1.data), r1.srcAddr, r1.srcPort], ["one", A, 5000]);
  assert.equal(new TextDecoder().decode(e2.tryReceive()!.data), "two");
  assert.equal(new TextDecoder().decode(e2.tryReceive()!.data), "three");
  assert.equal(e2.tryReceive(), null);
  assert.equal(b.stats.rxDatagrams, 3);
  assert.equal(b.stats.rxBytes, 11);
  assert.equal(e2.stats.rxDatagrams, 2);
  assert.equal(s.stats.txDatagrams, 3);
});

Deno.test("UdpLayer send path produces exact bytes with a valid checksum", () => {
  const { a, sa } = pair();
  const ep = a.bind(40000);
  assert.equal(ep.send(0, text("hello"), B, 53), 5);
  assert.equal(sa.sent.length, 1);
  const { dst, protocol, bytes } = sa.sent[0];
  assert.equal(dst, B);
  assert.equal(protocol, IP_PROTOCOL_UDP);
  assert.deepEqual(bytes, datagram(A, B, 40000, 53, text("hello")));
  // Independent check: the sum over pseudo-header + datagram verifies to 0.
  assert.equal(internetChecksum(bytes, 0, bytes.length, pseudoHeaderSum(A, B, 17, 13)), 0);
  assert.deepEqual([...bytes.subarray(0, 6)], [0x9c, 0x40, 0, 53, 0, 13]);
});

Deno.test("UdpLayer sends a computed zero checksum as 0xffff", () => {
  // Find a 2-byte payload that makes the checksum compute to 0 (sum 0xffff).
  const probe = datagram(A, B, 40000, 53, new Uint8Array(2), 0);
  const rest = onesComplementSum(probe, 0, probe.length, pseudoHeaderSum(A, B, 17, 10));
  const need = 0xffff - rest; // rest + need = 0xffff: the checksum ~0xffff computes to 0
  const payload = new Uint8Array([need >>> 8, need & 0xff]);
  const { a, sa } = pair();
  a.bind(40000).send(0, payload, B, 53);
  const out = sa.sent[0].bytes;
  assert.equal((out[6] << 8) | out[7], 0xffff);
  // And the receiver accepts it.
  const { b } = pair();
  const ep = b.bind(53);
  assert.equal(b.onPacket(0, A, B, out, 0, out.length), true);
  assert.deepEqual(ep.tryReceive()!.data, payload);
});

Deno.test("UdpLayer drops a bad checksum and accepts a zero (absent) checksum", () => {
  const { b } = pair();
  const ep = b.bind(7);
  const good = datagram(A, B, 9, 7, text("abc"));
  const bad = good.slice();
  bad[8] ^= 0x01;
  assert.equal(b.onPacket(0, A, B, bad, 0, bad.length), false);
  assert.equal(b.stats.rxBadChecksum, 1);
  assert.equal(ep.queued, 0);
  const none = datagram(A, B, 9, 7, text("abc"), 0);
  assert.equal(b.onPacket(0, A, B, none, 0, none.length), true);
  assert.equal(b.onPacket(0, A, B, good, 0, good.length), true);
  // A checksum computed for other addresses fails the pseudo-header check.
  const spoofed = datagram(A, 0xc0000203 | 0, 9, 7, text("abc"));
  assert.equal(b.onPacket(0, A, B, spoofed, 0, spoofed.length), false);
  assert.equal(b.stats.rxBadChecksum, 2);
  assert.equal(ep.queued, 2);
});

Deno.test("UdpLayer checks the UDP length field against the IP payload", () => {
  const { b } = pair();
  const ep = b.bind(7);
  const d = datagram(A, B, 9, 7, text("abcd"));
  // Shorter than the header.
  assert.equal(b.onPacket(0, A, B, d, 0, 7), false);
  assert.equal(b.stats.rxTruncated, 1);
  // Length field larger than what arrived.
  assert.equal(b.onPacket(0, A, B, d, 0, 11), false);
  // Length field < 8.
  const tiny = d.slice();
  tiny[5] = 4;
  assert.equal(b.onPacket(0, A, B, tiny, 0, tiny.length), false);
  assert.equal(b.stats.rxBadLength, 2);
  // Trailing padding after the datagram is ignored (RFC 768 length rules).
  const padded = new Uint8Array(d.length + 6);
  padded.set(d, 3);
  assert.equal(b.onPacket(0, A, B, padded, 3, d.length + 3), true);
  assert.deepEqual(ep.tryReceive()!.data, text("abcd"));
  // Offsets that lie about the buffer are rejected, not read.
  assert.equal(b.onPacket(0, A, B, d, 8, 100), false);
});

Deno.test("UdpLayer bounds each receive queue and counts drops", () => {
  const { a, b } = pair();
  const ep = b.bind(7, { queueDatagrams: 2, queueBytes: 100 });
  const s = a.bind(9);
  for (let i = 0; i < 5; i++) s.send(0, text(`m${i}`), B, 7);
  assert.equal(ep.queued, 2);
  assert.equal(ep.stats.rxDropped, 3);
  assert.equal(b.stats.rxQueueDrops, 3);
  assert.equal(new TextDecoder().decode(ep.tryReceive()!.data), "m0");
  // Byte bound: 100 bytes of storage, one 2-byte datagram queued.
  assert.equal(s.send(0, new Uint8Array(99), B, 7), 99);
  assert.equal(ep.queued, 1, "99 > 98 free bytes: dropped");
  assert.equal(s.send(0, new Uint8Array(98), B, 7), 98);
  assert.equal(ep.queued, 2);
  assert.equal(ep.stats.rxDropped, 4);
});

Deno.test("UdpLayer binds port 0 to a random free ephemeral port", () => {
  const { a } = pair({ random: () => 0.5 });
  const first = a.bind(0);
  const start = EPHEMERAL_PORT_MIN +
    Math.floor(0.5 * (EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN + 1));
  assert.equal(first.localPort, start);
  // Same random start: the in-use port is skipped.
  assert.equal(a.bind(0).localPort, start + 1);
  const { a: a2 } = pair({ random: () => 0.9999999 });
  assert.equal(a2.bind(0).localPort, EPHEMERAL_PORT_MAX);
  assert.equal(a2.bind(0).localPort, EPHEMERAL_PORT_MIN, "wraps to the bottom of the range");
  // Default (crypto) randomness stays in range and differs across binds.
  const { a: a3 } = pair();
  const ports = new Set<number>();
  for (let i = 0; i < 20; i++) {
    const p = a3.bind(0).localPort;
    assert.ok(p >= EPHEMERAL_PORT_MIN && p <= EPHEMERAL_PORT_MAX);
    ports.add(p);
  }
  assert.equal(ports.size, 20);
});

Deno.test("UdpLayer reports exhaustion of the ephemeral range", () => {
  const { a } = pair({ random: seq(0.1), queueBytes: 0, queueDatagrams: 1 });
  for (let i = 0; i < EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN + 1; i++) a.bind(0);
  assert.throws(
    () => a.bind(0),
    (e: unknown) => e instanceof UdpError && e.code === "NoEphemeralPort",
  );
  assert.ok(a.bind(1000).localPort === 1000, "fixed ports still bind");
});

Deno.test("UdpLayer refuses a port in use and frees it on close", () => {
  const { a } = pair();
  const ep = a.bind(53);
  assert.throws(
    () => a.bind(53),
    (e: unknown) => e instanceof UdpError && e.code === "AddressInUse",
  );
  assert.ok(a.isBound(53));
  ep.close();
  ep.close();
  assert.ok(!a.isBound(53));
  assert.equal(a.bind(53).localPort, 53);
  assert.ok(ep.send(0, text("x"), B, 1) instanceof UdpError);
  assert.throws(
    () => a.bind(65536),
    (e: unknown) => e instanceof UdpError && e.code === "InvalidPort",
  );
  assert.throws(() => a.bind(-1), UdpError);
  assert.throws(() => a.bind(1.5), UdpError);
});

Deno.test("UdpLayer asks ICMP for port unreachable on a closed port, not for broadcasts", () => {
  const calls: unknown[][] = [];
  const { a, b } = pair();
  b.unreachable = {
    portUnreachable: (...args) => calls.push(args),
  };
  a.bind(4000).send(5, text("knock"), B, 999);
  assert.equal(calls.length, 1);
  const [nowMs, src, dst, bytes, offset, length] = calls[0] as [
    number,
    number,
    number,
    Uint8Array,
    number,
    number,
  ];
  assert.deepEqual([nowMs, src, dst, offset, length], [0, A, B, 0, 13]);
  assert.equal((bytes[0] << 8) | bytes[1], 4000);
  assert.equal(b.stats.rxNoPort, 1);
  // RFC 1122 §3.2.2: never about broadcast or multicast datagrams.
  // Addresses as the IPv4 layer hands them over: int32 (255.255.255.255 is -1).
  const bc = datagram(A, -1, 4000, 999, text("x"));
  b.onPacket(0, A, -1, bc, 0, bc.length);
  const mc = datagram(A, 0xe0000001 | 0, 4000, 999, text("x"));
  b.onPacket(0, A, 0xe0000001 | 0, mc, 0, mc.length);
  assert.equal(calls.length, 1);
  assert.equal(b.stats.rxNoPort, 3);
});

/** An ICMP quote of a datagram A:srcPort → dst:dstPort (IPv4 header with IHL words). */
function quote(srcPort: number, dst: number, dstPort: number, ihlWords = 5): Uint8Array {
  const ihl = ihlWords * 4;
  const q = new Uint8Array(ihl + 8);
  const v = new DataView(q.buffer);
  q[0] = 0x40 | ihlWords;
  v.setUint16(2, ihl + 8 + 1); // total length: the datagram carried one byte
  q[9] = 17;
  v.setUint32(12, A);
  v.setUint32(16, dst);
  v.setUint16(ihl, srcPort);
  v.setUint16(ihl + 2, dstPort);
  v.setUint16(ihl + 4, 8 + 1); // UDP length
  return q;
}

Deno.test("UdpLayer reports ICMP port unreachable to the connected endpoint whose 4-tuple it quotes", () => {
  const { a } = pair();
  const sender = a.bind(50000);
  const other = a.bind(50001);
  assert.equal(sender.connect(B, 53), null);
  assert.ok(sender.connected);
  assert.deepEqual([sender.remoteAddr, sender.remotePort, sender.localAddr], [B, 53, A]);
  let wakeups = 0;
  sender.onReadable = () => wakeups++;
  const q = quote(50000, B, 53, 6);
  a.onIcmpError(0, 3, 3, 0, q, 0, q.length);
  assert.equal(wakeups, 1);
  assert.ok(sender.readable);
  const err = sender.pendingError!;
  assert.ok(err instanceof UdpError);
  assert.equal(err.code, "PortUnreachable");
  assert.match(err.message, /connection refused.*192\.0\.2\.2:53/);
  assert.equal(err.remoteAddr, B);
  assert.equal(err.remotePort, 53);
  assert.equal(other.pendingError, null);
  // Reported once, by the next send, which does not go out.
  assert.equal(sender.send(0, text("x"), B, 53), err);
  assert.equal(sender.pendingError, null);
  assert.equal(sender.send(0, text("x"), B, 53), 1);
  assert.equal(a.stats.icmpErrors, 1);
  assert.equal(sender.stats.icmpErrors, 1);
});

Deno.test("UdpLayer ignores ICMP errors about an unconnected endpoint (Linux without IP_RECVERR)", () => {
  // The attack: one forged (or stale) port unreachable quoting a server's port used to end its
  // receive loop. Now the server never sees it.
  const { a } = pair();
  const server = a.bind(7);
  let wakeups = 0;
  server.onReadable = () => wakeups++;
  const q = quote(7, B, 40_000);
  for (const code of [0, 1, 3, 13]) a.onIcmpError(0, 3, code, 0, q, 0, q.length);
  assert.equal(server.pendingError, null);
  assert.equal(wakeups, 0);
  assert.equal(a.stats.icmpUnconnected, 4);
  assert.equal(a.stats.icmpErrors, 0);
  assert.equal(server.send(0, text("x"), B, 40_000), 1, "sends are not failed either");
});

Deno.test("UdpLayer delivers an ICMP error only when the quote's full 4-tuple matches", () => {
  const { a } = pair();
  const ep = a.bind(50000);
  assert.equal(ep.connect(B, 53), null);
  const wrongPeer = quote(50000, 0xc0000209 | 0, 53);
  const wrongPort = quote(50000, B, 54);
  const wrongSource = quote(50000, B, 53);
  new DataView(wrongSource.buffer).setUint32(12, 0xc0000209); // not our address towards B
  for (const q of [wrongPeer, wrongPort, wrongSource]) a.onIcmpError(0, 3, 3, 0, q, 0, q.length);
  assert.equal(ep.pendingError, null);
  assert.equal(a.stats.icmpUnmatched, 3);
  const right = quote(50000, B, 53);
  a.onIcmpError(0, 3, 3, 0, right, 0, right.length);
  assert.equal(ep.takeError()?.code, "PortUnreachable");
  // After disconnect the endpoint is unconnected again: errors are ignored.
  ep.disconnect();
  assert.ok(!ep.connected);
  a.onIcmpError(0, 3, 3, 0, right, 0, right.length);
  assert.equal(ep.pendingError, null);
  assert.equal(a.stats.icmpUnconnected, 1);
});

Deno.test("UdpLayer maps ICMP codes and counts malformed quotes", () => {
  const { a } = pair();
  const ep = a.bind(50000);
  ep.connect(B, 53);
  const q = quote(50000, B, 53);
  a.onIcmpError(0, 3, 1, 0, q, 0, q.length);
  const host = ep.takeError()!;
  assert.equal(host.code, "HostUnreachable");
  assert.match(host.message, /host unreachable/);
  a.onIcmpError(0, 3, 0, 0, q, 0, q.length);
  assert.equal(ep.takeError()!.code, "NetworkUnreachable");
  a.onIcmpError(0, 3, 4, 1400, q, 0, q.length); // fragmentation needed: IP's business
  a.onIcmpError(0, 11, 0, 0, q, 0, q.length); // time exceeded: soft
  assert.equal(ep.pendingError, null);
  assert.equal(a.stats.icmpIgnored, 2);
  const unbound = quote(50002, B, 53);
  a.onIcmpError(0, 3, 3, 0, unbound, 0, unbound.length);
  assert.equal(a.stats.icmpUnmatched, 1);
  const tcp = quote(50000, B, 53);
  tcp[9] = 6;
  const badIhl = quote(50000, B, 53);
  badIhl[0] = 0x44;
  const notV4 = quote(50000, B, 53);
  notV4[0] = 0x65;
  const fragment = quote(50000, B, 53);
  fragment[7] = 1; // fragment offset 8: no UDP header inside
  const shortTotal = quote(50000, B, 53);
  shortTotal[3] = 27; // total length shorter than IPv4 + UDP headers
  const shortUdp = quote(50000, B, 53);
  shortUdp[25] = 7; // UDP length < 8
  for (const bad of [tcp, badIhl, notV4, fragment, shortTotal, shortUdp]) {
    a.onIcmpError(0, 3, 3, 0, bad, 0, bad.length);
  }
  a.onIcmpError(0, 3, 3, 0, q, 0, 27); // too short for IPv4 + 8
  a.onIcmpError(0, 3, 3, 0, q, 10, 28); // past the buffer
  assert.equal(a.stats.icmpBadQuote, 8);
  assert.equal(ep.pendingError, null);
});

Deno.test("UdpEndpoint.connect receives only from the peer and answers others as a closed port", () => {
  const { b } = pair();
  const reported: number[] = [];
  b.unreachable = { portUnreachable: (_now, src) => reported.push(src) };
  const ep = b.bind(40_000);
  assert.equal(ep.connect(A, 53), null);
  const fromPeer = datagram(A, B, 53, 40_000, text("answer"));
  const wrongPort = datagram(A, B, 54, 40_000, text("spoof"));
  const wrongHost = datagram(0xc0000209 | 0, B, 53, 40_000, text("spoof"));
  const toBroadcast = datagram(A, -1, 53, 40_000, text("spoof"));
  assert.ok(!b.onPacket(0, A, B, wrongPort, 0, wrongPort.length));
  assert.ok(!b.onPacket(0, 0xc0000209 | 0, B, wrongHost, 0, wrongHost.length));
  assert.ok(!b.onPacket(0, A, -1, toBroadcast, 0, toBroadcast.length));
  assert.ok(b.onPacket(0, A, B, fromPeer, 0, fromPeer.length));
  assert.equal(ep.queued, 1);
  assert.equal(new TextDecoder().decode(ep.tryReceive()!.data), "answer");
  assert.equal(b.stats.rxWrongPeer, 3);
  assert.equal(ep.stats.rxWrongPeer, 3);
  // Linux: for anyone but the peer the port is closed, so a prober cannot tell it is in use;
  // never about a broadcast (RFC 1122 §3.2.2).
  assert.deepEqual(reported, [A, 0xc0000209 | 0]);
  // Sends go to the peer only (FreeBSD: EISCONN).
  const elsewhere = ep.send(0, text("x"), A, 5353);
  assert.ok(elsewhere instanceof UdpError && elsewhere.code === "IsConnected");
  assert.equal(ep.stats.txErrors, 1);
  assert.equal(ep.send(0, text("x"), A, 53), 1);
  // Invalid peers are refused and leave the endpoint as it was.
  assert.equal(ep.connect(A, 0)?.code, "InvalidPort");
  assert.equal(ep.connect(0, 53)?.code, "InvalidAddress");
  assert.equal(ep.connect(0xcb007101 | 0, 53)?.code, "NoRoute");
  assert.deepEqual([ep.remoteAddr, ep.remotePort], [A, 53]);
  ep.close();
  assert.ok(!ep.connected);
  assert.equal(ep.connect(A, 53)?.code, "Closed");
});

Deno.test("UdpEndpoint send rejects oversized datagrams and reports send-path failures", () => {
  const { a, sa } = pair();
  const ep = a.bind(9);
  const tooBig = ep.send(0, new Uint8Array(UDP_MAX_PAYLOAD + 1), B, 7);
  assert.ok(tooBig instanceof UdpError && tooBig.code === "MessageTooLong");
  assert.match(tooBig.message, /65508 bytes exceeds .* 65507/);
  // Larger than a pool slot and no large buffers offered: rejected, slot given back.
  const noLarge = ep.send(0, new Uint8Array(3000), B, 7);
  assert.ok(noLarge instanceof UdpError && noLarge.code === "MessageTooLong");
  assert.equal(sa.released, 1);
  // With large buffers the maximum datagram goes out whole (IPv4 fragments it).
  sa.large = true;
  const max = new Uint8Array(UDP_MAX_PAYLOAD).map((_, i) => i);
  assert.equal(ep.send(0, max, B, 7), UDP_MAX_PAYLOAD);
  const out = sa.sent.at(-1)!.bytes;
  assert.equal(out.length, 65_515);
  assert.deepEqual(out.subarray(8), max);
  assert.equal(internetChecksum(out, 0, out.length, pseudoHeaderSum(A, B, 17, 65_515)), 0);
  assert.equal(sa.released, 2);
  const noRoute = ep.send(0, text("x"), 0xcb007101, 7);
  assert.ok(noRoute instanceof UdpError && noRoute.code === "NoRoute");
  assert.ok((ep.send(0, text("x"), B, 0) as UdpError).code === "InvalidPort");
  assert.ok((ep.send(0, text("x"), 0, 7) as UdpError).code === "InvalidAddress");
  sa.poolLeft = 0;
  assert.equal((ep.send(0, text("x"), B, 7) as UdpError).code, "NoBuffers");
  sa.poolLeft = Infinity;
  sa.sendResult = false;
  assert.equal((ep.send(0, text("x"), B, 7) as UdpError).code, "SendFailed");
  assert.equal(ep.stats.txErrors, 7);
  assert.equal(a.stats.txErrors, 7);
});

Deno.test("UdpLayer delivers the maximum datagram and an empty one", () => {
  const { a, b, sa } = pair();
  sa.large = true;
  const ep = b.bind(7);
  const s = a.bind(9);
  const max = new Uint8Array(UDP_MAX_PAYLOAD).fill(0xab);
  assert.equal(s.send(0, max, B, 7), UDP_MAX_PAYLOAD);
  assert.equal(s.send(0, new Uint8Array(0), B, 7), 0);
  assert.deepEqual(ep.tryReceive()!.data, max);
  const empty = ep.tryReceive()!;
  assert.equal(empty.data.length, 0);
  assert.equal(empty.srcPort, 9);
});

Deno.test("UdpEndpoint receiveInto copies without allocating and records the sender", () => {
  const { a, b } = pair();
  const ep = b.bind(7);
  let readable = 0;
  ep.onReadable = () => readable++;
  a.bind(1234).send(0, text("abcdef"), B, 7);
  assert.equal(readable, 1);
  const dst = new Uint8Array(4);
  assert.equal(ep.receiveInto(dst, 1), 3);
  assert.equal(new TextDecoder().decode(dst.subarray(1)), "abc");
  assert.deepEqual([ep.lastSrcAddr, ep.lastSrcPort, ep.lastLength], [A, 1234, 6]);
  assert.equal(ep.receiveInto(dst), -1);
});

Deno.test("UdpLayer never throws on random input", () => {
  let seed = 0x5eed;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  console.log(`UdpLayer fuzz seed 0x5eed`);
  const { b } = pair();
  b.unreachable = { portUnreachable: () => {} };
  for (let p = 0; p < 64; p++) b.bind(p + 1, { queueBytes: 4096, queueDatagrams: 4 });
  const buf = new Uint8Array(128);
  for (let i = 0; i < 20_000; i++) {
    for (let k = 0; k < buf.length; k++) buf[k] = rand(256);
    buf[2] = 0;
    if (rand(2) === 0) buf[6] = buf[7] = 0;
    const off = rand(140) - 6;
    const len = rand(140);
    b.onPacket(0, A, B, buf, off, len);
    b.onIcmpError(0, 3, rand(16), 0, buf, off, len);
  }
  assert.ok(b.stats.rxTruncated + b.stats.rxBadLength + b.stats.rxBadChecksum > 0);
});
