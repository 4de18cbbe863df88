// TcpConfig.sendDeferral (Linux tcp_tso_should_defer, default on): while the congestion window is the
// limit and an ACK opens only a little of it, new data waits for more of the window so that it
// goes as one larger super-segment; never when what waits is the last data queued.
import assert from "node:assert/strict";
import { BufferPool } from "../../src/buffer/buffer_pool.ts";
import type { PacketBuffer } from "../../src/buffer/packet_buffer.ts";
import type { IpSendOptions, IpTxOffloads, PacketBufferLike } from "../../src/iface/types.ts";
import type { TcpConfig } from "../../src/tcp/config.ts";
import type { TcpConnection } from "../../src/tcp/connection.ts";
import { TCP_ACK } from "../../src/wire/tcp.ts";
import { bytesOf, CaptureIp, HEADROOM, Host, IRS, ISS, LOCAL, LPORT, RPORT } from "./harness.ts";

const MSS = 1460;
/** Bytes of one super-segment buffer (TCP header and data, as a GSO link takes). */
const SUPER_SEGMENT_BYTES = 65_536;

/** A capture whose link cuts super-segments (TSO/GSO): TCP sends them with gsoSize = MSS. */
class GsoCaptureIp extends CaptureIp {
  readonly txOffloads: IpTxOffloads = { checksum: false, gsoMaxBytes: SUPER_SEGMENT_BYTES };
  readonly superPool = new BufferPool({ slotSize: SUPER_SEGMENT_BYTES + 128, slots: 16 });

  constructor() {
    super(LOCAL);
  }

  allocateSegment(): PacketBufferLike | null {
    return this.superPool.alloc(HEADROOM);
  }

  override send(
    buf: PacketBufferLike,
    dst: number,
    _protocol: number,
    _opts?: IpSendOptions,
  ): boolean {
    const bytes = buf.bytes.slice(buf.head, buf.tail);
    const pool = buf.bytes.length > 4096 ? this.superPool : this.pool;
    pool.free(buf as PacketBuffer);
    this.sent.push({ src: this.src, dst, bytes });
    return true;
  }
}

/** A bulk sender toward a scripted peer over a GSO link (no timestamps: MSS-sized data). */
class Sender {
  readonly host: Host;
  readonly conn: TcpConnection;

  constructor(config: Partial<TcpConfig>) {
    this.host = new Host({ timestamps: false, ...config }, 0, LOCAL, new GsoCaptureIp());
    this.conn = this.host.openActive({ mss: MSS, windowScale: 7 }, 1).conn;
    this.host.take();
  }

  /** A cumulative ACK of our first `acked` bytes, a wide window. */
  ack(acked: number): void {
    this.host.feed({
      srcPort: RPORT,
      dstPort: LPORT,
      flags: TCP_ACK,
      seq: IRS + 1,
      ack: (ISS + 1 + acked) | 0,
      window: 4096,
    });
  }

  /** Data bytes of each segment (super-segments whole) sent since the last call. */
  sent(): number[] {
    return this.host.take().filter((r) => r.payloadLength > 0).map((r) => r.payloadLength);
  }

  write(bytes: number): void {
    assert.equal(this.conn.write(bytesOf(bytes), 0, bytes), bytes);
  }
}

Deno.test("TcpConnection by default waits for a third of cwnd to open before sending a cwnd-limited burst (Linux tcp_tso_should_defer)", () => {
  const s = new Sender({});
  s.write(40 * MSS);
  assert.deepEqual(s.sent(), [10 * MSS]); // the initial window, one super-segment
  // One segment acknowledged: cwnd 11, 2 segments open of 30 waiting: less than a third.
  s.ack(MSS);
  assert.deepEqual(s.sent(), []);
  // Two more: cwnd 13 segments, 6 open: one super-segment of 6.
  s.ack(3 * MSS);
  assert.deepEqual(s.sent(), [6 * MSS]);
});

Deno.test("TcpConnection without sendDeferral sends what each ACK opens at once", () => {
  const s = new Sender({ sendDeferral: false });
  s.write(40 * MSS);
  assert.deepEqual(s.sent(), [10 * MSS]);
  s.ack(MSS);
  assert.deepEqual(s.sent(), [2 * MSS]);
  s.ack(3 * MSS);
  assert.deepEqual(s.sent(), [4 * MSS]);
});

Deno.test("TcpConnection with sendDeferral does not hold the last data queued", () => {
  // All that is queued fits in what is open: it goes at once (a reply's tail is not held).
  const last = new Sender({ sendDeferral: true });
  last.write(12 * MSS);
  assert.deepEqual(last.sent(), [10 * MSS]);
  last.ack(MSS);
  assert.deepEqual(last.sent(), [2 * MSS]);
});

Deno.test("TcpConnection corked on a GSO link sends whole segments as one super-segment and holds only the tail", () => {
  const s = new Sender({});
  s.conn.setCork(true);
  s.write(3 * MSS + 100);
  assert.deepEqual(s.sent(), [3 * MSS]);
  s.conn.setCork(false);
  assert.deepEqual(s.sent(), [100]);
});

Deno.test("TcpConnection corked tail behind a deferred burst leaves once the window allows and the cork lifts", () => {
  const s = new Sender({});
  s.conn.setCork(true);
  s.write(40 * MSS + 100);
  assert.deepEqual(s.sent(), [10 * MSS]);
  // Deferral and cork together: the ACKs release whole segments; nothing stalls.
  s.ack(10 * MSS);
  const burst = s.sent();
  assert.ok(burst.length > 0 && burst.every((n) => n % MSS === 0), `${burst}`);
  let acked = 10 * MSS;
  for (let rounds = 0; rounds < 10 && acked < 40 * MSS; rounds++) {
    acked += burst.reduce((a, b) => a + b, 0);
    s.ack(acked);
    burst.splice(0, burst.length, ...s.sent());
  }
  assert.equal(acked, 40 * MSS, "every whole segment went");
  s.conn.setCork(false);
  assert.deepEqual(s.sent(), [100]);
});
