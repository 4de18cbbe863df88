import assert from "node:assert/strict";
import { NetworkInterface } from "../../src/iface/interface.ts";
import { maxFragmentData, writeIpv4Header } from "../../src/iface/ipv4.ts";
import type { IpProtocolHandler } from "../../src/iface/types.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";
import { parseIpv4 } from "../../src/wire/address.ts";
import {
  ethFrame,
  GW,
  IP_A,
  IP_B,
  ipv4Packet,
  MAC_A,
  MAC_B,
  parseEth,
  parseIpv4Packet,
  pattern,
  RecordingDevice,
} from "./_helpers.ts";

function setup(mtu = 1500) {
  const dev = new RecordingDevice(MAC_A, 1500);
  const iface = new NetworkInterface(dev, {
    ipv4: "192.0.2.10/24",
    gateway: "192.0.2.1",
    mtu,
    initialIdentification: 100,
  });
  iface.arp.learn(0, IP_B, MAC_B);
  iface.arp.learn(0, GW, 0x020000000001);
  const got: { src: number; dst: number; data: Uint8Array }[] = [];
  const udp: IpProtocolHandler = {
    onPacket(_now, src, dst, bytes, offset, length) {
      got.push({ src, dst, data: bytes.slice(offset, offset + length) });
    },
  };
  iface.registerProtocol(17, udp);
  const rx = (p: Uint8Array) => {
    const f = ethFrame(MAC_A, MAC_B, 0x0800, p);
    iface.receiveFrame(1, f, 0, f.length);
  };
  return { dev, iface, got, rx };
}

function udpTo(dst: number, payload = pattern(12)) {
  return ipv4Packet({ src: IP_B, dst, protocol: 17, payload });
}

Deno.test("Ipv4Layer delivers datagrams for us and broadcasts to the protocol handler", () => {
  const { iface, got, rx } = setup();
  rx(udpTo(IP_A));
  rx(udpTo(0xffffffff));
  rx(udpTo(parseIpv4("192.0.2.255")!));
  assert.equal(got.length, 3);
  assert.deepEqual(got[0], { src: IP_B, dst: IP_A, data: pattern(12) });
  assert.equal(iface.ipv4.stats.rxDelivered, 3);
});

Deno.test("Ipv4Layer ignores link padding after the total length", () => {
  const { got, rx } = setup();
  const p = udpTo(IP_A, pattern(4));
  const padded = new Uint8Array(46);
  padded.set(p);
  rx(padded);
  assert.deepEqual(got[0].data, pattern(4));
});

Deno.test("Ipv4Layer counts each input rejection", () => {
  const { iface, got, rx } = setup();
  const s = iface.ipv4.stats;
  rx(udpTo(IP_A).subarray(0, 19));
  assert.equal(s.rxTruncated, 1);

  const v6 = udpTo(IP_A);
  v6[0] = 0x65;
  rx(v6);
  assert.equal(s.rxBadVersion, 1);

  const ihl4 = udpTo(IP_A);
  ihl4[0] = 0x44;
  rx(ihl4);
  assert.equal(s.rxBadHeaderLength, 1);

  const ihlTooLong = udpTo(IP_A, pattern(0));
  ihlTooLong[0] = 0x46; // 24-byte header in a 20-byte packet
  rx(ihlTooLong);
  assert.equal(s.rxTruncated, 2);

  const totalShort = udpTo(IP_A);
  totalShort[2] = 0;
  totalShort[3] = 19;
  rx(totalShort);
  assert.equal(s.rxBadTotalLength, 1);

  const totalLong = udpTo(IP_A);
  totalLong[3] += 1;
  rx(totalLong);
  assert.equal(s.rxTruncated, 3);

  const badSum = udpTo(IP_A);
  badSum[10] ^= 0xff;
  rx(badSum);
  assert.equal(s.rxBadChecksum, 1);

  rx(ipv4Packet({ src: IP_B, dst: IP_A, protocol: 17, ttl: 0, payload: pattern(8) }));
  assert.equal(s.rxTtlZero, 1);

  rx(ipv4Packet({ src: 0xffffffff, dst: IP_A, protocol: 17, payload: pattern(8) }));
  rx(ipv4Packet({ src: parseIpv4("224.0.0.9")!, dst: IP_A, protocol: 17, payload: pattern(8) }));
  assert.equal(s.rxBadSource, 2);

  rx(udpTo(parseIpv4("192.0.2.99")!));
  rx(udpTo(parseIpv4("224.0.0.9")!));
  assert.equal(s.rxNotForUs, 2);

  assert.equal(got.length, 0);
  assert.equal(s.rxDelivered, 0);
});

Deno.test("Ipv4Layer accepts headers with options and hands up the payload", () => {
  const { got, rx } = setup();
  rx(
    ipv4Packet({
      src: IP_B,
      dst: IP_A,
      protocol: 17,
      options: new Uint8Array([1, 1, 1, 0]),
      payload: pattern(9),
    }),
  );
  assert.deepEqual(got[0].data, pattern(9));
});

Deno.test("Ipv4Layer answers an unknown protocol with ICMP protocol unreachable", () => {
  const { iface, dev, rx } = setup();
  const p = ipv4Packet({ src: IP_B, dst: IP_A, protocol: 99, payload: pattern(30) });
  rx(p);
  assert.equal(iface.ipv4.stats.rxUnknownProtocol, 1);
  const [frame] = dev.take();
  const ip = parseIpv4Packet(parseEth(frame).payload);
  assert.equal(ip.protocol, 1);
  assert.equal(ip.dst, IP_B);
  assert.deepEqual([ip.payload[0], ip.payload[1]], [3, 2]);
  assert.equal(internetChecksum(ip.payload, 0, ip.payload.length), 0);
  assert.deepEqual(ip.payload.subarray(8), p, "the whole small datagram is quoted");
  // Not for a broadcast datagram (RFC 1122 §3.2.2).
  rx(ipv4Packet({ src: IP_B, dst: 0xffffffff, protocol: 99, payload: pattern(30) }));
  assert.equal(dev.take().length, 0);
});

Deno.test("Ipv4Layer output writes a correct header with incrementing identification", () => {
  const { iface, dev } = setup();
  for (let i = 0; i < 2; i++) {
    const buf = iface.allocate()!;
    const at = buf.append(10);
    buf.bytes.set(pattern(10), at);
    assert.ok(
      iface.send(buf, IP_B, 17, { ttl: i === 0 ? undefined : 5, dontFragment: i === 1, tos: 0x10 }),
    );
  }
  const frames = dev.take();
  assert.equal(frames.length, 2);
  const e = parseEth(frames[0]);
  assert.equal(e.dst, MAC_B);
  assert.equal(e.src, MAC_A);
  assert.equal(e.type, 0x0800);
  assert.equal(frames[0].length, 60, "padded to the Ethernet minimum");
  const a = parseIpv4Packet(e.payload);
  const b = parseIpv4Packet(parseEth(frames[1]).payload);
  assert.deepEqual(
    [a.totalLength, a.id, a.ttl, a.df, a.mf, a.protocol, a.src, a.dst, a.checksumOk],
    [30, 100, 64, false, false, 17, IP_A, IP_B, true],
  );
  assert.deepEqual(a.payload, pattern(10));
  assert.deepEqual([b.id, b.ttl, b.df], [101, 5, true]);
  assert.equal(parseEth(frames[0]).payload[1], 0x10);
  assert.equal(iface.pool.inUse, 0);
});

Deno.test("Ipv4Layer routes off-link destinations through the gateway's MAC", () => {
  const { iface, dev } = setup();
  const buf = iface.allocate()!;
  buf.append(8);
  iface.send(buf, parseIpv4("203.0.113.5")!, 17);
  const [f] = dev.take();
  assert.equal(parseEth(f).dst, 0x020000000001);
  assert.equal(parseIpv4Packet(parseEth(f).payload).dst, parseIpv4("203.0.113.5"));
});

Deno.test("Ipv4Layer drops datagrams without a route", () => {
  const dev = new RecordingDevice();
  const iface = new NetworkInterface(dev, { ipv4: "192.0.2.10/24" });
  const buf = iface.allocate()!;
  buf.append(8);
  assert.ok(!iface.send(buf, parseIpv4("203.0.113.5")!, 17));
  assert.equal(iface.ipv4.stats.txNoRoute, 1);
  assert.equal(iface.sourceAddressFor(parseIpv4("203.0.113.5")!), 0);
  assert.equal(iface.sourceAddressFor(IP_B), IP_A);
  assert.equal(iface.pool.inUse, 0);
});

function sendPayload(iface: NetworkInterface, n: number, df = false): boolean {
  const buf = n + 80 > iface.pool.slotSize ? iface.allocateLarge(n)! : iface.allocate()!;
  const at = buf.append(n);
  buf.bytes.set(pattern(n), at);
  return iface.send(buf, IP_B, 17, { dontFragment: df });
}

Deno.test("Ipv4Layer fragments around the MTU boundary", () => {
  const { iface, dev } = setup(576);
  // 556 = 576 - 20 fits exactly: one unfragmented datagram.
  assert.ok(sendPayload(iface, 556));
  let frames = dev.take();
  assert.equal(frames.length, 1);
  assert.equal(parseIpv4Packet(parseEth(frames[0]).payload).totalLength, 576);
  // 557 needs two fragments: 552 (multiple of 8) + 5.
  assert.ok(sendPayload(iface, 557));
  frames = dev.take();
  const parts = frames.map((f) => parseIpv4Packet(parseEth(f).payload));
  assert.deepEqual(parts.map((p) => [p.fragmentOffset, p.payload.length, p.mf]), [[0, 552, true], [
    552,
    5,
    false,
  ]]);
  assert.ok(parts.every((p) => p.checksumOk && p.id === parts[0].id && p.totalLength <= 576));
  const joined = new Uint8Array(557);
  for (const p of parts) joined.set(p.payload, p.fragmentOffset);
  assert.deepEqual(joined, pattern(557));
  assert.equal(iface.ipv4.stats.txFragments, 2);
  assert.equal(iface.pool.inUse, 0);
});

Deno.test("Ipv4Layer fragments a large buffer into MTU-sized pool buffers", () => {
  const { iface, dev } = setup();
  assert.ok(sendPayload(iface, 4000));
  const parts = dev.take().map((f) => parseIpv4Packet(parseEth(f).payload));
  assert.deepEqual(parts.map((p) => p.totalLength), [1500, 1500, 1060]);
  assert.deepEqual(parts.map((p) => p.fragmentOffset), [0, 1480, 2960]);
  assert.equal(iface.pool.inUse, 0);
  assert.equal(maxFragmentData(1500), 1480);
});

Deno.test("Ipv4Layer does not send an oversized datagram with DF set", () => {
  const { iface, dev } = setup(576);
  assert.ok(!sendPayload(iface, 557, true));
  assert.equal(dev.take().length, 0);
  assert.equal(iface.ipv4.stats.txNeedsFragmentation, 1);
  assert.equal(iface.pool.inUse, 0);
  assert.ok(sendPayload(iface, 556, true));
  assert.equal(dev.take().length, 1);
});

Deno.test("Ipv4Layer reassembles received fragments before delivery", () => {
  const { got, rx, iface } = setup();
  const data = pattern(3000);
  const mk = (start: number, end: number) =>
    ipv4Packet({
      src: IP_B,
      dst: IP_A,
      protocol: 17,
      id: 9,
      mf: end < 3000,
      fragmentOffset: start,
      payload: data.subarray(start, end),
    });
  rx(mk(1480, 2960));
  rx(mk(2960, 3000));
  assert.equal(got.length, 0);
  rx(mk(0, 1480));
  assert.equal(got.length, 1);
  assert.deepEqual(got[0].data, data);
  assert.equal(iface.ipv4.stats.rxReassembled, 1);
});

Deno.test("writeIpv4Header produces a valid checksum", () => {
  const b = new Uint8Array(24);
  writeIpv4Header(b, 4, 0, 40, 0xbeef, 0x2000 | 3, 1, 6, IP_A, IP_B);
  const f = parseIpv4Packet(b.subarray(4));
  assert.ok(f.checksumOk);
  assert.deepEqual([f.id, f.mf, f.fragmentOffset, f.ttl, f.protocol], [0xbeef, true, 24, 1, 6]);
});

Deno.test("Ipv4Layer drops and counts a reassembled datagram over 65,535 bytes", () => {
  // The first fragment has a 60-byte header, the others 20 bytes; 65,515 data bytes make a
  // 65,575-byte datagram, whose Total Length would wrap (Linux ip_frag_reasm: oversized).
  const dataBytes = 65_515;
  const data = pattern(dataBytes);
  for (const firstLast of [false, true]) {
    const { got, rx, iface } = setup();
    const mk = (start: number, end: number, options?: Uint8Array) =>
      ipv4Packet({
        src: IP_B,
        dst: IP_A,
        protocol: 17,
        id: 77,
        mf: end < dataBytes,
        fragmentOffset: start,
        payload: data.subarray(start, end),
        options,
      });
    const first = mk(0, 1480, new Uint8Array(40).fill(1));
    const rest: Uint8Array[] = [];
    for (let s = 1480; s < dataBytes; s += 1480) rest.push(mk(s, Math.min(s + 1480, dataBytes)));
    const order = firstLast ? [...rest, first] : [first, ...rest];
    for (const p of order) rx(p);
    assert.equal(
      got.length,
      0,
      `nothing delivered (first fragment ${firstLast ? "last" : "first"})`,
    );
    assert.equal(iface.ipv4.stats.rxReassembled, 0);
    assert.equal(iface.ipv4.stats.rxReassemblyTooLong, 1);
  }
});

Deno.test("Ipv4Layer identifications toward one host reveal nothing about datagrams to others", () => {
  // RFC 7739 §3.2 idle scan: a host reads our identification, we send to third parties,
  // it reads again. One global counter shows how many datagrams went elsewhere; hashed
  // per-(src, dst, protocol) counters (RFC 7739 §5.3, Linux ip_idents) show none.
  const dev = new RecordingDevice(MAC_A, 1500);
  const iface = new NetworkInterface(dev, {
    ipv4: "192.0.2.10/24",
    gateway: "192.0.2.1",
    identificationSecret: new Uint8Array(16).fill(7),
  });
  iface.arp.learn(0, IP_B, MAC_B);
  iface.arp.learn(0, GW, 0x020000000001);
  const sendTo = (dst: number): number => {
    const buf = iface.allocate()!;
    buf.append(8);
    assert.ok(iface.send(buf, dst, 17));
    const frames = dev.take();
    return parseIpv4Packet(parseEth(frames[frames.length - 1]).payload).id;
  };
  const probe0 = sendTo(IP_B);
  const others: number[] = [];
  for (let i = 1; i <= 50; i++) others.push(sendTo(parseIpv4(`198.51.100.${i}`)!));
  const probe1 = sendTo(IP_B);
  assert.equal(probe1, (probe0 + 1) & 0xffff, "the 50 datagrams to others left no trace");
  // Nor can the identification toward one host be predicted from another's.
  let sequential = 0;
  for (let i = 1; i < others.length; i++) {
    if (others[i] === ((others[i - 1] + 1) & 0xffff)) sequential++;
  }
  assert.ok(sequential < 5, `${sequential} of 49 identifications followed the previous one`);
});
