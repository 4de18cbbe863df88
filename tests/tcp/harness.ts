// Test helpers for the TCP engine: a capturing IpSender, segment builders and parsers.
import assert from "node:assert/strict";
import { BufferPool } from "../../src/buffer/buffer_pool.ts";
import type { PacketBuffer } from "../../src/buffer/packet_buffer.ts";
import type { IpSender, PacketBufferLike } from "../../src/iface/types.ts";
import { ManualClock } from "../../src/time/clock.ts";
import { TimerWheel } from "../../src/time/timer_wheel.ts";
import { isWireError } from "../../src/wire/error.ts";
import { newTcpRepr, TCP_ACK, TCP_SYN, TcpPacket, TcpRepr } from "../../src/wire/tcp.ts";
import type { TcpConfig } from "../../src/tcp/config.ts";
import type { TcpConnection } from "../../src/tcp/connection.ts";
import { TcpLayer } from "../../src/tcp/tcp_layer.ts";
import { bytesOf, mulberry32 } from "../seeded_random.ts";

export const LOCAL = 0xc0000201 | 0; // 192.0.2.1 (addresses are int32, see address.ts)
export const REMOTE = 0xc0000202 | 0; // 192.0.2.2
export const HEADROOM = 34;
/** Our port in {@link Host.openActive}. */
export const LPORT = 40000;
/** The scripted peer's port in {@link Host.openActive}. */
export const RPORT = 80;
/** Our initial send sequence number in {@link Host.openActive}. */
export const ISS = 1000;
/** The scripted peer's initial sequence number in {@link Host.openActive}. */
export const IRS = 5000;
/** The window of the peer's SYN-ACK in {@link Host.openActive} (a SYN's is never scaled). */
const SYN_ACK_WINDOW = 65535;

export interface Captured {
  src: number;
  dst: number;
  bytes: Uint8Array;
}

/** An IpSender that records every datagram (copied) and frees the buffer. */
export class CaptureIp implements IpSender {
  readonly pool: BufferPool;
  readonly sent: Captured[] = [];
  mtu = 1500;
  src: number;
  onSend: ((c: Captured) => void) | null = null;

  constructor(src = LOCAL, slots = 4096) {
    this.src = src;
    this.pool = new BufferPool({ slotSize: 2048, slots });
  }
  allocate(): PacketBufferLike | null {
    return this.pool.alloc(HEADROOM);
  }
  send(buf: PacketBufferLike, dst: number, _protocol: number): boolean {
    const bytes = buf.bytes.slice(buf.head, buf.tail);
    this.pool.free(buf as PacketBuffer);
    const c = { src: this.src, dst, bytes };
    if (this.onSend) this.onSend(c);
    else this.sent.push(c);
    return true;
  }
  sourceAddressFor(_dst: number): number {
    return this.src;
  }
  mtuFor(_dst: number): number {
    return this.mtu;
  }
  /** Takes and parses every captured segment. */
  take(): TcpRepr[] {
    const out = this.sent.splice(0).map((c) => parse(c.bytes, c.src, c.dst));
    return out;
  }
}

/** Parses a captured segment, failing loudly on a bad checksum. */
export function parse(bytes: Uint8Array, src: number, dst: number): TcpRepr {
  const r = TcpRepr.parse(new TcpPacket(bytes, 0, bytes.length), src, dst, newTcpRepr());
  if (isWireError(r)) throw new Error(`emitted segment does not parse: ${r}`);
  r.sackBlocks = r.sackBlocks.slice(); // detach for later inspection
  return r;
}

export interface SegmentFields {
  srcPort?: number;
  dstPort?: number;
  seq?: number;
  ack?: number;
  flags: number;
  window?: number;
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  sack?: number[];
  tsVal?: number;
  tsEcr?: number;
  data?: Uint8Array;
}

/** Encodes a segment (with checksum) from REMOTE to LOCAL by default. */
export function segment(f: SegmentFields, src = REMOTE, dst = LOCAL): Uint8Array {
  const r = newTcpRepr();
  r.srcPort = f.srcPort ?? 5000;
  r.dstPort = f.dstPort ?? 80;
  r.seq = (f.seq ?? 0) >>> 0;
  r.ack = (f.ack ?? 0) >>> 0;
  r.flags = f.flags;
  r.window = f.window ?? 65535;
  r.mss = f.mss ?? 0;
  r.windowScale = f.windowScale ?? -1;
  r.sackPermitted = f.sackPermitted ?? false;
  if (f.sack) {
    r.sackCount = f.sack.length / 2;
    for (let i = 0; i < f.sack.length; i++) r.sackBlocks[i] = f.sack[i] >>> 0;
  }
  if (f.tsVal !== undefined) {
    r.hasTimestamp = true;
    r.tsVal = f.tsVal >>> 0;
    r.tsEcr = (f.tsEcr ?? 0) >>> 0;
  }
  const data = f.data ?? new Uint8Array(0);
  r.payload = data;
  r.payloadOffset = 0;
  r.payloadLength = data.length;
  const out = new Uint8Array(60 + data.length);
  const n = TcpRepr.emit(r, out, 0, src, dst);
  return out.slice(0, n);
}

/** One scripted host: a layer, its wheel, clock and capture. */
export class Host {
  readonly clock: ManualClock;
  readonly wheel: TimerWheel;
  readonly ip: CaptureIp;
  readonly tcp: TcpLayer;

  constructor(
    config: Partial<TcpConfig> = {},
    startMs = 0,
    src = LOCAL,
    ip: CaptureIp = new CaptureIp(src),
  ) {
    this.clock = new ManualClock(startMs);
    this.wheel = new TimerWheel(startMs);
    this.ip = ip;
    this.tcp = new TcpLayer({
      ip: this.ip,
      wheel: this.wheel,
      clock: this.clock,
      config,
      secret: new Uint8Array(16).fill(7),
      random: () => 0.5,
    });
  }

  /** Feeds one segment from the scripted peer at the current time. */
  feed(f: SegmentFields): void {
    const b = segment(f);
    this.tcp.onPacket(this.clock.now(), REMOTE, LOCAL, b, 0, b.length);
  }

  /**
   * Active open toward the scripted peer (RFC 9293 §3.5): connects LPORT → REMOTE:RPORT with
   * ISS, takes our SYN, moves `rttMs` on and feeds the peer's SYN-ACK <SEQ=IRS><ACK=ISS+1>
   * (window 65535, then `synAck`'s fields, which may depend on our SYN). Our ACK of it stays in
   * the capture for the caller to take.
   */
  openActive(
    synAck: Partial<SegmentFields> | ((syn: TcpRepr) => Partial<SegmentFields>) = {},
    rttMs = 0,
  ): { conn: TcpConnection; syn: TcpRepr } {
    const conn = this.tcp.connect(this.clock.now(), REMOTE, RPORT, { localPort: LPORT, iss: ISS });
    const [syn] = this.take();
    assert.equal(syn.flags & TCP_SYN, TCP_SYN);
    this.advance(rttMs);
    this.feed({
      srcPort: RPORT,
      dstPort: LPORT,
      flags: TCP_SYN | TCP_ACK,
      seq: IRS,
      ack: ISS + 1,
      window: SYN_ACK_WINDOW,
      ...(typeof synAck === "function" ? synAck(syn) : synAck),
    });
    return { conn, syn };
  }

  /** Moves time forward, firing timers. */
  advance(ms: number): void {
    const target = this.clock.now() + ms;
    this.clock.set(target);
    this.wheel.advance(target);
  }

  take(): TcpRepr[] {
    return this.ip.take();
  }
}

/** Deterministic PRNG (mulberry32, shared by the tests). */
export const rng: (seed: number) => () => number = mulberry32;

export { bytesOf };

/** A segment on a {@link LayerPair}'s wire, due at `at`. */
export interface WireDatagram {
  at: number;
  src: number;
  dst: number;
  bytes: Uint8Array;
}

/** Options of {@link LayerPair}. */
export interface LayerPairOptions {
  /** Addresses of layers a and b. */
  addrA: number;
  addrB: number;
  /** Virtual start time (both wheels and the clock). */
  startMs?: number;
  config?: Partial<TcpConfig>;
  /** RFC 6528 secrets; without them the layers use the process secret and real randomness. */
  secretA?: Uint8Array;
  secretB?: Uint8Array;
  /** Delay every segment spends on the wire (`at` of each datagram). */
  linkDelayMs?: number;
  poolSlots?: number;
}

/**
 * Two TcpLayers on one manual clock, joined by an in-memory wire: every
 * segment sent is copied onto `wire` (unless {@link LayerPair.onSend} says
 * drop); subclasses decide when to deliver.
 */
export class LayerPair {
  readonly clock: ManualClock;
  readonly wheelA: TimerWheel;
  readonly wheelB: TimerWheel;
  readonly pool: BufferPool;
  readonly a: TcpLayer;
  readonly b: TcpLayer;
  readonly wire: WireDatagram[] = [];
  readonly addrA: number;
  readonly addrB: number;
  readonly #linkDelayMs: number;

  constructor(opts: LayerPairOptions) {
    const startMs = opts.startMs ?? 0;
    this.addrA = opts.addrA;
    this.addrB = opts.addrB;
    this.#linkDelayMs = opts.linkDelayMs ?? 0;
    this.clock = new ManualClock(startMs);
    this.wheelA = new TimerWheel(startMs);
    this.wheelB = new TimerWheel(startMs);
    this.pool = new BufferPool({ slotSize: 2048, slots: opts.poolSlots ?? 512 });
    const layer = (src: number, wheel: TimerWheel, secret: Uint8Array | undefined) =>
      new TcpLayer({
        ip: this.#ip(src),
        wheel,
        clock: this.clock,
        config: opts.config ?? {},
        ...(secret === undefined ? {} : { secret, random: () => 0.5 }),
      });
    this.a = layer(opts.addrA, this.wheelA, opts.secretA);
    this.b = layer(opts.addrB, this.wheelB, opts.secretB);
  }

  /** Called for every segment sent; return false to lose it. */
  onSend(_src: number, _dst: number, _bytes: Uint8Array): boolean {
    return true;
  }

  /**
   * Runs `step` (the test's senders), then moves the clock to the next event (the first datagram
   * on the wire, which is kept in time order, or a timer of either layer) and delivers what is
   * due; returns when nothing is due by `endMs`, throws after `maxRounds` rounds.
   */
  runUntil(endMs: number, maxRounds: number, step: () => void): void {
    for (let round = 0; round < maxRounds; round++) {
      step();
      const next = Math.min(
        this.wire.length > 0 ? this.wire[0].at : Infinity,
        this.wheelA.nextDeadline(),
        this.wheelB.nextDeadline(),
      );
      if (next === Infinity || next > endMs) return;
      const now = Math.max(this.clock.now(), next);
      this.clock.set(now);
      this.wheelA.advance(now);
      this.wheelB.advance(now);
      while (this.wire.length > 0 && this.wire[0].at <= now) {
        this.deliverOne(this.wire.shift()!, now);
      }
    }
    throw new Error("simulation did not settle");
  }

  /** Hands one datagram to the layer it is addressed to, at `nowMs`. */
  deliverOne(d: WireDatagram, nowMs: number): void {
    const to = d.dst === this.addrB ? this.b : this.a;
    to.onPacket(nowMs, d.src, d.dst, d.bytes, 0, d.bytes.length);
  }

  #ip(src: number): IpSender {
    const pool = this.pool;
    return {
      allocate: (): PacketBufferLike | null => pool.alloc(HEADROOM),
      send: (buf: PacketBufferLike, dst: number): boolean => {
        const bytes = buf.bytes.slice(buf.head, buf.tail);
        pool.free(buf as PacketBuffer);
        if (this.onSend(src, dst, bytes)) {
          this.wire.push({ at: this.clock.now() + this.#linkDelayMs, src, dst, bytes });
        }
        return true;
      },
      sourceAddressFor: () => src,
      mtuFor: () => 1500,
    };
  }
}
