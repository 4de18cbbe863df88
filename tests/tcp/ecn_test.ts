// ECN for TCP (RFC 3168 §6.1) between two engines on a wire that can mark CE.
import assert from "node:assert/strict";
import { BufferPool } from "../../src/buffer/buffer_pool.ts";
import type { PacketBuffer } from "../../src/buffer/packet_buffer.ts";
import type { IpSendOptions, PacketBufferLike } from "../../src/iface/types.ts";
import type { TcpConfig } from "../../src/tcp/config.ts";
import type { TcpConnection } from "../../src/tcp/connection.ts";
import { ECN_CE, ECN_ECT0, ECN_MASK, isEcnSetupSyn } from "../../src/tcp/ecn.ts";
import { TcpLayer } from "../../src/tcp/tcp_layer.ts";
import { ManualClock } from "../../src/time/clock.ts";
import { TimerWheel } from "../../src/time/timer_wheel.ts";
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_SYN, type TcpRepr } from "../../src/wire/tcp.ts";
import { parse } from "./harness.ts";

const A = 0xc0000201 | 0;
const B = 0xc0000202 | 0;
const PORT = 80;
const MSS_DATA = 1000;

interface Datagram {
  src: number;
  dst: number;
  bytes: Uint8Array;
  tos: number;
}

/** Two layers on a wire that records each datagram's TOS byte and can set CE on one. */
class EcnWire {
  readonly clock = new ManualClock(0);
  readonly wheelA = new TimerWheel(0);
  readonly wheelB = new TimerWheel(0);
  readonly pool = new BufferPool({ slotSize: 2048, slots: 512 });
  readonly a: TcpLayer;
  readonly b: TcpLayer;
  readonly log: (Datagram & { seg: TcpRepr })[] = [];
  readonly queue: Datagram[] = [];
  /** Marks CE on datagrams this returns true for (a router's AQM). */
  markCe: (d: Datagram & { seg: TcpRepr }) => boolean = () => false;

  constructor(configA: Partial<TcpConfig>, configB: Partial<TcpConfig>) {
    const ip = (src: number) => ({
      allocate: (): PacketBufferLike | null => this.pool.alloc(34),
      send: (buf: PacketBufferLike, dst: number, _p: number, opts?: IpSendOptions): boolean => {
        const bytes = buf.bytes.slice(buf.head, buf.tail);
        this.pool.free(buf as PacketBuffer);
        const d = { src, dst, bytes, tos: opts?.tos ?? 0 };
        const entry = { ...d, seg: parse(bytes, src, dst) };
        if ((d.tos & ECN_MASK) !== 0 && this.markCe(entry)) d.tos |= ECN_CE;
        this.log.push({ ...entry, tos: d.tos });
        this.queue.push(d);
        return true;
      },
      sourceAddressFor: () => src,
      mtuFor: () => MSS_DATA + 40,
    });
    const layer = (src: number, wheel: TimerWheel, config: Partial<TcpConfig>) =>
      new TcpLayer({
        ip: ip(src),
        wheel,
        clock: this.clock,
        config,
        secret: new Uint8Array(16).fill(src & 0xff),
        random: () => 0.5,
      });
    this.a = layer(A, this.wheelA, configA);
    this.b = layer(B, this.wheelB, configB);
  }

  /** Delivers everything queued (and what that provokes), then lets `ms` pass. */
  run(ms = 0): void {
    for (let guard = 0; guard < 10_000; guard++) {
      const d = this.queue.shift();
      if (d === undefined) break;
      const to = d.dst === B ? this.b : this.a;
      to.onPacket(this.clock.now(), d.src, d.dst, d.bytes, 0, d.bytes.length, false, false, d.tos);
    }
    if (ms > 0) {
      const t = this.clock.now() + ms;
      this.clock.set(t);
      this.wheelA.advance(t);
      this.wheelB.advance(t);
      this.run();
    }
  }

  /** A connection a → b, established. */
  connect(): { ca: TcpConnection; cb: TcpConnection } {
    const l = this.b.listen(PORT);
    const ca = this.a.connect(this.clock.now(), B, PORT);
    this.run(1);
    const cb = l.accept();
    assert.ok(cb !== null, "accepted");
    return { ca, cb };
  }

  from(src: number): (Datagram & { seg: TcpRepr })[] {
    return this.log.filter((d) => d.src === src);
  }
}

function send(c: TcpConnection, n: number): void {
  assert.equal(c.write(new Uint8Array(n), 0, n), n);
}

function drain(c: TcpConnection): void {
  const buf = new Uint8Array(1 << 16);
  while (c.readableLength > 0) c.read(buf, 0, buf.length);
}

Deno.test("ECN is negotiated when the active side asks and the passive side accepts", () => {
  const w = new EcnWire({ ecn: "on" }, {}); // b: the default, "passive" (Linux tcp_ecn=2)
  const { ca, cb } = w.connect();
  const syn = w.from(A)[0];
  const synAck = w.from(B)[0];
  // RFC 3168 §6.1.1: ECN-setup SYN (ECE+CWR), ECN-setup SYN-ACK (ECE, not CWR), neither ECT.
  assert.ok(isEcnSetupSyn(syn.seg.flags));
  assert.equal(
    synAck.seg.flags & (TCP_SYN | TCP_ACK | TCP_ECE | TCP_CWR),
    TCP_SYN | TCP_ACK | TCP_ECE,
  );
  assert.equal(syn.tos & ECN_MASK, 0);
  assert.equal(synAck.tos & ECN_MASK, 0);
  assert.ok(ca.info().ecn && cb.info().ecn);
  assert.equal(w.a.stats.ecnNegotiated + w.b.stats.ecnNegotiated, 2);
  // §6.1.2: new data is ECT(0); pure ACKs are not ECT (§6.1.4 applies to them).
  send(ca, 3 * MSS_DATA);
  w.run(100);
  const data = w.from(A).filter((d) => d.seg.payloadLength > 0);
  const acks = w.from(B).filter((d) => d.seg.payloadLength === 0 && (d.seg.flags & TCP_SYN) === 0);
  assert.equal(data.reduce((n, d) => n + d.seg.payloadLength, 0), 3 * MSS_DATA);
  assert.ok(data.every((d) => (d.tos & ECN_MASK) === ECN_ECT0));
  assert.ok(acks.length > 0 && acks.every((d) => (d.tos & ECN_MASK) === 0));
});

Deno.test("ECN stays off when the peer does not agree, or only sends ECE on its SYN", () => {
  const off = new EcnWire({ ecn: "on" }, { ecn: "off" });
  const { ca } = off.connect();
  assert.equal(off.from(B)[0].seg.flags & (TCP_ECE | TCP_CWR), 0);
  assert.equal(ca.info().ecn, false);
  send(ca, MSS_DATA);
  off.run(100);
  assert.ok(off.from(A).filter((d) => d.seg.payloadLength > 0).every((d) => d.tos === 0));
  // Default on both sides: nobody asks (Linux tcp_ecn=2 on an active open).
  const quiet = new EcnWire({}, {});
  const q = quiet.connect();
  assert.equal(quiet.from(A)[0].seg.flags & (TCP_ECE | TCP_CWR), 0);
  assert.equal(q.ca.info().ecn, false);
});

Deno.test("A CE mark is echoed with ECE until CWR, and the sender reduces once per window", () => {
  const w = new EcnWire({ ecn: "on" }, {});
  const { ca, cb } = w.connect();
  // Grow a window first.
  send(ca, 20 * MSS_DATA);
  w.run(100);
  drain(cb);
  const cwndBefore = ca.info().cwnd;
  // The router marks CE on the first two data segments of the next flight.
  let marks = 2;
  w.markCe = (d) => d.src === A && d.seg.payloadLength > 0 && marks-- > 0;
  const logStart = w.log.length;
  send(ca, 10 * MSS_DATA);
  w.run(100);
  drain(cb);
  const later = w.log.slice(logStart);
  assert.equal(cb.info().ecnCeReceived, 2);
  // §6.1.3: the receiver set ECE on its ACKs...
  const eceAcks = later.filter((d) => d.src === B && (d.seg.flags & TCP_ECE) !== 0);
  assert.ok(eceAcks.length >= 1);
  // ...the sender halved the window once for both marks (§6.1.2: once per window)...
  assert.equal(ca.info().ecnReductions, 1);
  assert.ok(ca.info().ssthresh < cwndBefore, `${ca.info().ssthresh} < ${cwndBefore}`);
  assert.equal(w.a.stats.ecnReductions, 1);
  // ...and the next new data carries CWR, after which ECE stops.
  send(ca, MSS_DATA);
  w.run(100);
  const cwrAt = w.log.findIndex((d) =>
    d.src === A && (d.seg.flags & (TCP_CWR | TCP_SYN)) === TCP_CWR
  );
  assert.ok(cwrAt >= 0, "CWR sent");
  assert.equal(ca.info().ecnCwrSent, 1);
  const afterCwr = w.log.slice(cwrAt + 1).filter((d) => d.src === B);
  assert.ok(afterCwr.length > 0);
  assert.ok(afterCwr.every((d) => (d.seg.flags & TCP_ECE) === 0));
  assert.equal(cb.info().ecnEchoing, false);
});

Deno.test("Retransmissions are not ECT (RFC 3168 §6.1.5)", () => {
  const w = new EcnWire({ ecn: "on" }, {});
  const { ca } = w.connect();
  send(ca, MSS_DATA);
  w.queue.length = 0; // lost
  w.run(5000); // the RTO retransmits it
  const copies = w.from(A).filter((d) => d.seg.payloadLength > 0);
  const first = copies[0].seg.seq;
  const again = copies.filter((d) => d.seg.seq === first);
  assert.ok(again.length >= 2, "retransmitted");
  assert.equal(again[0].tos & ECN_MASK, ECN_ECT0);
  assert.ok(again.slice(1).every((d) => (d.tos & ECN_MASK) === 0));
});
