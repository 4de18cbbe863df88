/**
 * Test helpers for the router: a raw host on a memory link that answers ARP
 * and records the IPv4 packets it receives, packet builders with their own
 * checksum code (independent of the code under test), and a three-node
 * topology A — router — B on a ManualClock.
 *
 * @module
 */

import type { FrameSink } from "../../src/phy/device.ts";
import { type MemoryDevice, MemoryLink } from "../../src/phy/memory_link.ts";
import { ManualClock } from "../../src/time/clock.ts";
import { Stack, type StackOptions } from "../../src/stack.ts";
import { parseIpv4, readMac, writeMac } from "../../src/wire/address.ts";

export const A_MAC = 0x02_00_00_00_0a_01;
export const R0_MAC = 0x02_00_00_00_0a_fe;
export const R1_MAC = 0x02_00_00_00_0b_fe;
export const B_MAC = 0x02_00_00_00_0b_01;
export const A_IP = parseIpv4("198.51.100.2")!;
export const R0_IP = parseIpv4("198.51.100.1")!;
export const R1_IP = parseIpv4("203.0.113.1")!;
export const B_IP = parseIpv4("203.0.113.2")!;

/** One's complement sum of 16-bit words (RFC 1071), written here independently. */
export function sum16(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  let s = initial;
  for (let i = start; i < end; i += 2) {
    s += (bytes[i] << 8) | (i + 1 < end ? bytes[i + 1] : 0);
  }
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

function put32(b: Uint8Array, at: number, v: number): void {
  put16(b, at, (v >>> 16) & 0xffff);
  put16(b, at + 2, v & 0xffff);
}

/** Reads a 16-bit big-endian field. */
export function get16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

/** Reads a 32-bit address as int32. */
export function get32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) | 0;
}

/** Options of {@link ipv4Packet}. */
export interface PacketSpec {
  src: number;
  dst: number;
  protocol: number;
  payload: Uint8Array;
  ttl?: number;
  df?: boolean;
  mf?: boolean;
  fragmentOffset?: number;
  id?: number;
  options?: Uint8Array;
}

/** Builds an IPv4 datagram with a correct header checksum. */
export function ipv4Packet(spec: PacketSpec): Uint8Array {
  const opts = spec.options ?? new Uint8Array(0);
  const hl = 20 + opts.length;
  const b = new Uint8Array(hl + spec.payload.length);
  b[0] = 0x40 | (hl >>> 2);
  put16(b, 2, b.length);
  put16(b, 4, spec.id ?? 0x1234);
  put16(
    b,
    6,
    (spec.df ? 0x4000 : 0) | (spec.mf ? 0x2000 : 0) | ((spec.fragmentOffset ?? 0) >>> 3),
  );
  b[8] = spec.ttl ?? 64;
  b[9] = spec.protocol;
  put32(b, 12, spec.src);
  put32(b, 16, spec.dst);
  b.set(opts, 20);
  put16(b, 10, ~sum16(b, 0, hl) & 0xffff);
  b.set(spec.payload, hl);
  return b;
}

function pseudo(src: number, dst: number, protocol: number, length: number): number {
  return sum16(
    new Uint8Array([
      (src >>> 24) & 0xff,
      (src >>> 16) & 0xff,
      (src >>> 8) & 0xff,
      src & 0xff,
      (dst >>> 24) & 0xff,
      (dst >>> 16) & 0xff,
      (dst >>> 8) & 0xff,
      dst & 0xff,
      0,
      protocol,
      length >>> 8,
      length & 0xff,
    ]),
    0,
    12,
  );
}

/** A UDP datagram (header + data) with its checksum. */
export function udp(src: number, dst: number, sport: number, dport: number, data: Uint8Array) {
  const b = new Uint8Array(8 + data.length);
  put16(b, 0, sport);
  put16(b, 2, dport);
  put16(b, 4, b.length);
  b.set(data, 8);
  const ck = ~sum16(b, 0, b.length, pseudo(src, dst, 17, b.length)) & 0xffff;
  put16(b, 6, ck === 0 ? 0xffff : ck);
  return b;
}

/** A TCP segment (20-byte header + data) with its checksum. */
export function tcp(
  src: number,
  dst: number,
  sport: number,
  dport: number,
  flags: number,
  data = new Uint8Array(0),
  seq = 1000,
) {
  const b = new Uint8Array(20 + data.length);
  put16(b, 0, sport);
  put16(b, 2, dport);
  put32(b, 4, seq);
  put32(b, 8, 0);
  b[12] = 5 << 4;
  b[13] = flags;
  put16(b, 14, 65535);
  b.set(data, 20);
  put16(b, 16, ~sum16(b, 0, b.length, pseudo(src, dst, 6, b.length)) & 0xffff);
  return b;
}

/** An ICMP echo request (8) or reply (0). */
export function icmpEcho(type: number, id: number, seq: number, data = new Uint8Array(8)) {
  const b = new Uint8Array(8 + data.length);
  b[0] = type;
  put16(b, 4, id);
  put16(b, 6, seq);
  b.set(data, 8);
  put16(b, 2, ~sum16(b, 0, b.length) & 0xffff);
  return b;
}

/** An ICMP error (type, code) quoting `quote`, with `word2` in the second half of the unused word. */
export function icmpError(type: number, code: number, quote: Uint8Array, word2 = 0) {
  const b = new Uint8Array(8 + quote.length);
  b[0] = type;
  b[1] = code;
  put16(b, 6, word2);
  b.set(quote, 8);
  put16(b, 2, ~sum16(b, 0, b.length) & 0xffff);
  return b;
}

/** Whether the IPv4 header checksum of `p` is right. */
export function ipChecksumOk(p: Uint8Array): boolean {
  return sum16(p, 0, (p[0] & 15) << 2) === 0xffff;
}

/** Whether the transport checksum (TCP, UDP, ICMP) of a whole datagram `p` is right. */
export function l4ChecksumOk(p: Uint8Array): boolean {
  const hl = (p[0] & 15) << 2;
  const proto = p[9];
  const len = get16(p, 2) - hl;
  if (proto === 1) return sum16(p, hl, hl + len) === 0xffff;
  if (proto === 17 && get16(p, hl + 6) === 0) return true;
  return sum16(p, hl, hl + len, pseudo(get32(p, 12), get32(p, 16), proto, len)) === 0xffff;
}

/** A host written by hand on one end of a memory link: answers ARP, records IPv4. */
export class RawHost implements FrameSink {
  readonly received: Uint8Array[] = [];
  constructor(readonly dev: MemoryDevice, readonly mac: number, readonly ip: number) {}

  onFrame(bytes: Uint8Array, offset: number, _length: number): void {
    const type = get16(bytes, offset + 12);
    const dstMac = readMac(bytes, offset);
    if (dstMac !== this.mac && dstMac !== 0xffff_ffff_ffff) return;
    if (type === 0x0806) {
      const op = get16(bytes, offset + 14 + 6);
      const target = get32(bytes, offset + 14 + 24);
      if (op === 1 && target === this.ip) {
        const senderMac = readMac(bytes, offset + 14 + 8);
        const senderIp = get32(bytes, offset + 14 + 14);
        const f = new Uint8Array(60);
        writeMac(f, 0, senderMac);
        writeMac(f, 6, this.mac);
        put16(f, 12, 0x0806);
        put16(f, 14, 1);
        put16(f, 16, 0x0800);
        f[18] = 6;
        f[19] = 4;
        put16(f, 20, 2);
        writeMac(f, 22, this.mac);
        put32(f, 28, this.ip);
        writeMac(f, 32, senderMac);
        put32(f, 38, senderIp);
        this.dev.transmit(f, 0, 60);
      }
      return;
    }
    if (type !== 0x0800) return;
    const total = get16(bytes, offset + 14 + 2);
    this.received.push(bytes.slice(offset + 14, offset + 14 + total));
  }

  /** Receives what is queued. */
  pump(): number {
    return this.dev.receive(this, 256);
  }

  /** Sends an IPv4 datagram to `dstMac`. */
  send(packet: Uint8Array, dstMac: number): void {
    const f = new Uint8Array(Math.max(60, 14 + packet.length));
    writeMac(f, 0, dstMac);
    writeMac(f, 6, this.mac);
    put16(f, 12, 0x0800);
    f.set(packet, 14);
    this.dev.transmit(f, 0, f.length);
  }

  /** Removes and returns what was received. */
  take(): Uint8Array[] {
    return this.received.splice(0);
  }
}

/** Options of {@link topology}. */
export interface TopologyOptions {
  /** MTU of B's link (default 1500). */
  mtuB?: number;
  /** Masquerade out of the router's B side. */
  masquerade?: boolean;
  /** Extra stack options for the router. */
  router?: Partial<StackOptions>;
}

/** A — router — B: raw hosts on both sides of a rawstack router. */
export async function topology(opts: TopologyOptions = {}) {
  const clock = new ManualClock(1000);
  const [r0, a0] = MemoryLink.pair({ macA: R0_MAC, macB: A_MAC });
  const [r1, b1] = MemoryLink.pair({ macA: R1_MAC, macB: B_MAC, mtu: opts.mtuB ?? 1500 });
  const router = new Stack({
    interfaces: [
      { device: r0, ipv4: "198.51.100.1/24" },
      { device: r1, ipv4: "203.0.113.1/24", masquerade: opts.masquerade },
    ],
    forwarding: true,
    clock,
    ...opts.router,
  });
  await router.start();
  const a = new RawHost(a0, A_MAC, A_IP);
  const b = new RawHost(b1, B_MAC, B_IP);
  const settle = () => {
    for (let i = 0; i < 100; i++) {
      if (router.poll() + a.pump() + b.pump() === 0) return;
    }
  };
  settle();
  a.take();
  b.take();
  const close = async () => {
    await router.close();
    a0.close();
    b1.close();
  };
  return { clock, router, a, b, settle, close };
}
