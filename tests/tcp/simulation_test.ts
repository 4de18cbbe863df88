// Deterministic simulation: two TcpLayers joined by a lossy, duplicating, reordering,
// corrupting, delaying link under a virtual clock. Every seed must deliver byte-exact data
// both ways, end in the expected states, and leak no timer, buffer or table entry.
// Replay one seed with: RAWSTACK_SEED=123 deno test -A tests/tcp/simulation_test.ts
// (add RAWSTACK_TRACE=1 to print every segment).
import assert from "node:assert/strict";
import { BufferPool } from "../../src/buffer/buffer_pool.ts";
import type { PacketBuffer } from "../../src/buffer/packet_buffer.ts";
import type { IpSender, PacketBufferLike } from "../../src/iface/types.ts";
import { ManualClock } from "../../src/time/clock.ts";
import { TimerWheel } from "../../src/time/timer_wheel.ts";
import type { TcpConfig } from "../../src/tcp/config.ts";
import { type TcpConnection, TcpState } from "../../src/tcp/connection.ts";
import { TcpLayer } from "../../src/tcp/tcp_layer.ts";
import { bytesOf, HEADROOM, parse, rng } from "./harness.ts";

const ADDR_A = 0xc6336401 | 0; // 198.51.100.1 (int32)
const ADDR_B = 0xc6336402 | 0; // 198.51.100.2
const SERVER_PORT = 8080;
/** Seeds per run; RAWSTACK_SIM_SEEDS=N runs more (15,000 pass; about 8 ms each). */
const SEEDS = Number(Deno.env.get("RAWSTACK_SIM_SEEDS") ?? 500);
/** Virtual time after which a seed is declared stuck. */
const VIRTUAL_LIMIT_MS = 3_600_000;
const MAX_EVENTS = 2_000_000;

type CloseOrder = "client-first" | "server-first" | "simultaneous" | "server-abort";
const ORDERS: CloseOrder[] = ["client-first", "server-first", "simultaneous", "server-abort"];

interface Faults {
  loss: number;
  duplicate: number;
  reorder: number;
  corrupt: number;
  delayMs: number;
  jitterMs: number;
}

interface InFlight {
  at: number;
  order: number;
  to: "A" | "B";
  src: number;
  dst: number;
  bytes: Uint8Array;
}

class Link implements IpSender {
  readonly pool = new BufferPool({ slotSize: 2048, slots: 2048 });
  constructor(
    readonly sim: Sim,
    readonly self: "A" | "B",
    readonly addr: number,
    readonly mtu: number,
  ) {}
  allocate(): PacketBufferLike | null {
    return this.pool.alloc(HEADROOM);
  }
  send(buf: PacketBufferLike, dst: number, _protocol: number): boolean {
    const bytes = buf.bytes.slice(buf.head, buf.tail);
    this.pool.free(buf as PacketBuffer);
    this.sim.transmit(this.self === "A" ? "B" : "A", this.addr, dst, bytes);
    return true;
  }
  sourceAddressFor(_dst: number): number {
    return this.addr;
  }
  mtuFor(_dst: number): number {
    return this.mtu;
  }
}

class Sim {
  now = 0;
  order = 0;
  queue: InFlight[] = [];
  readonly rand: () => number;
  constructor(seed: number, readonly faults: Faults) {
    this.rand = rng(seed * 7919 + 1);
  }
  trace = false;
  /** Sees every emitted segment before the link's faults (see sim_trace_hashes.ts). */
  observe: SegmentObserver | null = null;
  transmit(to: "A" | "B", src: number, dst: number, bytes: Uint8Array): void {
    this.observe?.(this.now, to, bytes);
    const f = this.faults;
    const lost = this.rand() < f.loss;
    if (this.trace) {
      const r = parse(bytes, src, dst);
      const fl = ["F", "S", "R", "P", "A"].filter((_, i) => r.flags & (1 << i)).join("");
      const sack = r.sackCount > 0
        ? ` sack=${r.sackBlocks.slice(0, 2 * r.sackCount).join(",")}`
        : "";
      console.log(
        `[${this.now.toFixed(1)}] ${
          to === "B" ? "A->B" : "B->A"
        } ${r.srcPort}>${r.dstPort} ${fl} seq=${r.seq} ack=${r.ack} ` +
          `len=${r.payloadLength} win=${r.window}${sack}${lost ? " LOST" : ""}`,
      );
    }
    if (lost) return;
    const copies = this.rand() < f.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let b = bytes;
      if (this.rand() < f.corrupt) {
        b = bytes.slice();
        const bit = Math.floor(this.rand() * b.length * 8);
        b[bit >>> 3] ^= 1 << (bit & 7);
      }
      let delay = f.delayMs;
      if (this.rand() < f.reorder) delay += this.rand() * f.jitterMs;
      this.push({ at: this.now + delay, order: this.order++, to, src, dst, bytes: b });
    }
  }
  push(p: InFlight): void {
    // Keep the queue sorted by (at, order): insertion from the back.
    const q = this.queue;
    let i = q.length;
    while (i > 0 && (q[i - 1].at > p.at || (q[i - 1].at === p.at && q[i - 1].order > p.order))) {
      i--;
    }
    q.splice(i, 0, p);
  }
}

interface Side {
  name: string;
  isClient: boolean;
  conn: TcpConnection | null;
  out: Uint8Array;
  written: number;
  received: Uint8Array;
  got: number;
  eof: boolean;
  closedState: string | null;
  error: string | null;
  wroteFin: boolean;
  closed: boolean;
  readChunk: number;
  writeChunk: number;
}

function newSide(name: string, out: Uint8Array, expectIn: number, r: () => number): Side {
  return {
    name,
    isClient: name.startsWith("client"),
    conn: null,
    out,
    written: 0,
    received: new Uint8Array(expectIn),
    got: 0,
    eof: false,
    closedState: null,
    error: null,
    wroteFin: false,
    closed: false,
    readChunk: 1 + Math.floor(r() * 20000),
    writeChunk: 1 + Math.floor(r() * 30000),
  };
}

function size(r: () => number): number {
  const k = r();
  if (k < 0.1) return 0;
  if (k < 0.2) return 1 + Math.floor(r() * 100);
  return Math.floor(Math.exp(r() * Math.log(400_000)));
}

/** Called with every segment a layer emits: virtual time, direction, the IPv4 payload. */
export type SegmentObserver = (nowMs: number, to: "A" | "B", bytes: Uint8Array) => void;

export interface SeedResult {
  ok: boolean;
  message: string;
  events: number;
  virtualMs: number;
  /** Both layers' counters and every side's end (JSON): the final state of the run. */
  finalState: string;
  /** Segments both layers appended to coalesced runs (TcpStats.rxCoalescedSegments). */
  coalescedSegments: number;
}

export function runSeed(
  seed: number,
  verbose = false,
  observe: SegmentObserver | null = null,
): SeedResult {
  const r = rng(seed);
  const lossy = r();
  const faults: Faults = {
    loss: lossy * 0.2,
    duplicate: r() * 0.05,
    reorder: r() * 0.2,
    corrupt: r() * 0.02,
    delayMs: 1 + Math.floor(r() * 50),
    jitterMs: r() * 60,
  };
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const cfg = (): Partial<TcpConfig> => ({
    sack: r() < 0.7,
    timestamps: r() < 0.7,
    windowScaling: r() < 0.7,
    congestion: r() < 0.5 ? "cubic" : "newreno",
    sendBufferBytes: pick([4096, 16384, 65536, 262144]),
    receiveBufferBytes: pick([4096, 16384, 65536, 262144]),
    noDelay: r() < 0.3,
    synRetries: 12,
    synAckRetries: 12,
    dataRetries: 20,
    // Odd seeds detect loss with RACK-TLP (RFC 8985, the default), even ones with RFC 6675.
    lossDetection: seed % 2 === 0 ? "rfc6675" : "rack-tlp",
  });
  const cfgA = cfg();
  const cfgB = cfg();
  const order = pick(ORDERS);
  // A quarter of the seeds run several connections at once through a small backlog, so the
  // SYN queue overflows into SYN cookies.
  const connCount = r() < 0.25 ? 2 + Math.floor(r() * 7) : 1;
  const backlog = connCount > 1 ? 1 + Math.floor(r() * 3) : 4;
  const pairs: { client: Side; server: Side; aToB: Uint8Array; bToA: Uint8Array }[] = [];
  for (let i = 0; i < connCount; i++) {
    // With several connections the client always sends a byte: a SYN-cookie handshake whose
    // final ACK is lost is only completed by the client's next segment (RFC 4987 §3.6).
    const aToB = bytesOf(Math.max(connCount > 1 ? 1 : 0, size(r)), seed * 64 + 2 * i + 1);
    const bToA = bytesOf(size(r), seed * 64 + 2 * i + 2);
    const client = newSide(`client${i}`, aToB, bToA.length, r);
    const server = newSide(`server${i}`, bToA, aToB.length, r);
    pairs.push({ client, server, aToB, bToA });
  }
  const mtuA = r() < 0.2 ? 576 : 1500;
  const mtuB = r() < 0.2 ? 576 : 1500;
  const describe = `seed=${seed} order=${order} conns=${connCount} backlog=${backlog} ` +
    `sizes=${pairs.map((p) => `${p.aToB.length}/${p.bToA.length}`).join(",")} ` +
    `faults=${JSON.stringify(faults)} A=${JSON.stringify(cfgA)} B=${JSON.stringify(cfgB)}`;

  const sim = new Sim(seed, faults);
  sim.trace = verbose && Deno.env.get("RAWSTACK_TRACE") === "1";
  sim.observe = observe;
  const clockA = new ManualClock(0), clockB = new ManualClock(0);
  const wheelA = new TimerWheel(0), wheelB = new TimerWheel(0);
  const linkA = new Link(sim, "A", ADDR_A, mtuA);
  const linkB = new Link(sim, "B", ADDR_B, mtuB);
  const secretA = new Uint8Array(16).fill(seed & 0xff);
  const secretB = new Uint8Array(16).fill((seed >> 8) & 0xff ^ 0x5a);
  const tcpA = new TcpLayer({
    ip: linkA,
    wheel: wheelA,
    clock: clockA,
    config: cfgA,
    secret: secretA,
    random: rng(seed + 11),
  });
  const tcpB = new TcpLayer({
    ip: linkB,
    wheel: wheelB,
    clock: clockB,
    config: cfgB,
    secret: secretB,
    random: rng(seed + 12),
  });
  const failures: string[] = [];
  const log = (m: string) => {
    if (verbose) console.log(`[${sim.now.toFixed(1)}] ${m}`);
  };

  const pump = (s: Side) => {
    const c = s.conn;
    if (c === null || s.closed) return;
    // Read everything available.
    for (;;) {
      const want = Math.min(s.readChunk, s.received.length - s.got);
      if (want <= 0) {
        if (c.readableLength > 0) {
          failures.push(`${s.name} received more than expected`);
          const sink = new Uint8Array(c.readableLength);
          c.read(sink, 0, sink.length);
        }
        break;
      }
      const n = c.read(s.received, s.got, want);
      if (n <= 0) break;
      s.got += n;
    }
    if (c.eof && !s.eof) {
      s.eof = true;
      log(`${s.name} EOF after ${s.got}`);
    }
    // Write what fits.
    while (s.written < s.out.length) {
      const n = c.write(s.out, s.written, Math.min(s.writeChunk, s.out.length - s.written));
      if (n <= 0) break;
      s.written += n;
    }
    const doneWriting = s.written === s.out.length;
    if (!doneWriting || c.state === 0) return;
    const isClient = s.isClient;
    switch (order) {
      case "client-first":
        if (isClient && !s.wroteFin) {
          s.wroteFin = true;
          c.closeWrite();
        } else if (!isClient && s.eof && !s.wroteFin) {
          s.wroteFin = true;
          c.closeWrite();
        }
        break;
      case "server-first":
        if (!isClient && !s.wroteFin) {
          s.wroteFin = true;
          c.closeWrite();
        } else if (isClient && s.eof && !s.wroteFin) {
          s.wroteFin = true;
          c.closeWrite();
        }
        break;
      case "simultaneous":
        if (!s.wroteFin) {
          s.wroteFin = true;
          c.closeWrite();
        }
        break;
      case "server-abort":
        if (isClient && !s.wroteFin) {
          s.wroteFin = true;
          c.closeWrite();
        } else if (!isClient && s.eof && c.sendQueued === 0 && !s.closed) {
          s.closed = true;
          log("server aborts");
          c.abort();
          return;
        }
        break;
    }
    // Full close once both directions are finished.
    if (s.wroteFin && s.eof && s.got === s.received.length && !s.closed) {
      s.closed = true;
      c.close();
    }
    if (
      isClient && order === "server-abort" && s.got === s.received.length && s.wroteFin &&
      !s.closed && c.state >= TcpState.ESTABLISHED
    ) {
      // The server will reset us; a full close makes sure we do not wait forever if the RST is lost.
      s.closed = true;
      c.close();
    }
  };

  const attach = (s: Side, c: TcpConnection) => {
    s.conn = c;
    c.events = {
      onEstablished: () => pump(s),
      onReadable: () => pump(s),
      onWritable: () => pump(s),
      onClosed: (conn, err) => {
        s.closedState ??= conn.stateName;
        if (err) s.error ??= err.code;
        log(`${s.name} closed in ${conn.stateName} ${err ? err.code : ""}`);
        pump(s);
      },
    };
  };

  const byPort = new Map<number, Side>();
  const listener = tcpB.listen(SERVER_PORT, backlog);
  listener.events = {
    onAcceptable: (l) => {
      for (let c = l.accept(); c !== null; c = l.accept()) {
        const server = byPort.get(c.remotePort);
        if (server === undefined) {
          failures.push(`unexpected connection from port ${c.remotePort}`);
          continue;
        }
        if (server.conn !== null) {
          // A late duplicate of a SYN-cookie ACK can recreate a connection that is already
          // finished (RFC 4987 §3.6: cookies cannot tell): tolerated, and refused with RST.
          if (server.closedState === null && !server.closed) {
            failures.push(`second connection from port ${c.remotePort} while the first is open`);
          }
          c.abort();
          continue;
        }
        attach(server, c);
        pump(server);
      }
    },
  };
  for (const pair of pairs) {
    const conn = tcpA.connect(0, ADDR_B, SERVER_PORT);
    byPort.set(conn.localPort, pair.server);
    attach(pair.client, conn);
    pump(pair.client);
  }

  const coalesce = seed % 3 !== 2;
  let events = 0;
  while (events < MAX_EVENTS) {
    const next = Math.min(
      sim.queue.length > 0 ? sim.queue[0].at : Infinity,
      wheelA.nextDeadline(),
      wheelB.nextDeadline(),
    );
    if (next === Infinity) break;
    if (next > VIRTUAL_LIMIT_MS) {
      failures.push(`still busy after ${VIRTUAL_LIMIT_MS} ms virtual`);
      break;
    }
    if (next > sim.now) sim.now = next;
    clockA.set(sim.now);
    clockB.set(sim.now);
    events += wheelA.advance(sim.now);
    events += wheelB.advance(sim.now);
    // What arrives at one instant is one receive batch (as a device's ring hands it over):
    // receive coalescing (TcpLayer.beginReceiveBatch) runs on two seeds in three, with both
    // loss detections (lossDetection alternates by seed parity).
    if (coalesce) {
      tcpA.beginReceiveBatch();
      tcpB.beginReceiveBatch();
    }
    while (sim.queue.length > 0 && sim.queue[0].at <= sim.now) {
      const p = sim.queue.shift()!;
      events++;
      const tcp = p.to === "A" ? tcpA : tcpB;
      tcp.onPacket(sim.now, p.src, p.dst, p.bytes, 0, p.bytes.length);
    }
    if (coalesce) {
      tcpA.endReceiveBatch(sim.now);
      tcpB.endReceiveBatch(sim.now);
    }
    // The abort order waits for "everything acknowledged", which raises no event of its own.
    if (order === "server-abort") { for (const pair of pairs) pump(pair.server); }
    if (sim.trace && events % 50 === 0) {
      for (const s of pairs.flatMap((p) => [p.client, p.server])) {
        if (s.conn) log(`${s.name} ${JSON.stringify(s.conn.info())}`);
      }
    }
  }
  listener.close();

  // Byte-exact delivery.
  const check = (s: Side, expected: Uint8Array) => {
    if (s.got !== expected.length) {
      failures.push(`${s.name} got ${s.got}/${expected.length} bytes`);
    } else if (hash(s.received) !== hash(expected)) failures.push(`${s.name} data differs`);
  };
  for (const { client, server, aToB, bToA } of pairs) {
    check(server, aToB);
    check(client, bToA);
    // Expected end states.
    if (client.closedState === null) failures.push(`${client.name} never closed`);
    if (server.closedState === null) failures.push(`${server.name} never closed`);
    if (order === "server-abort") {
      // The server may also see a reset: if its last ACK was lost and its retransmissions
      // outlast the client's orphaned FIN-WAIT-2 timeout, the client no longer exists.
      if (server.error !== null && server.error !== "ECONNRESET") {
        failures.push(`${server.name} error ${server.error}`);
      }
      if (client.error !== null && client.error !== "ECONNRESET") {
        failures.push(`${client.name} error ${client.error}`);
      }
    } else {
      if (client.error !== null) failures.push(`${client.name} error ${client.error}`);
      if (server.error !== null) failures.push(`${server.name} error ${server.error}`);
      const first = order === "client-first" ? client : order === "server-first" ? server : null;
      if (first !== null && first.closedState !== "TIME-WAIT") {
        failures.push(`${first.name} (closed first) ended in ${first.closedState}, not TIME-WAIT`);
      }
      if (
        order === "simultaneous" && client.closedState !== "TIME-WAIT" &&
        server.closedState !== "TIME-WAIT"
      ) {
        failures.push(`${client.name}: simultaneous close: nobody went through TIME-WAIT`);
      }
    }
    if (client.conn?.hasArmedTimers || server.conn?.hasArmedTimers) {
      failures.push(`${client.name}: connection timers armed`);
    }
  }
  // No leaks.
  if (tcpA.connectionCount !== 0) failures.push(`A leaks ${tcpA.connectionCount} connections`);
  if (tcpB.connectionCount !== 0) failures.push(`B leaks ${tcpB.connectionCount} connections`);
  if (wheelA.size !== 0 || wheelB.size !== 0) {
    failures.push(`timers left armed: A=${wheelA.size} B=${wheelB.size}`);
  }
  if (linkA.pool.inUse !== 0 || linkB.pool.inUse !== 0) failures.push("packet buffers leaked");
  const finalState = JSON.stringify({
    a: tcpA.stats,
    b: tcpB.stats,
    sides: pairs.flatMap((p) => [p.client, p.server]).map((s) => ({
      name: s.name,
      got: s.got,
      eof: s.eof,
      closedState: s.closedState,
      error: s.error,
      info: s.conn?.info() ?? null,
    })),
  });
  return {
    ok: failures.length === 0,
    message: failures.length === 0 ? describe : `${describe}\n  ${failures.join("\n  ")}`,
    events,
    virtualMs: sim.now,
    finalState,
    coalescedSegments: tcpA.stats.rxCoalescedSegments + tcpB.stats.rxCoalescedSegments,
  };
}

function hash(b: Uint8Array): number {
  // FNV-1a, 32-bit.
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h >>> 0;
}

Deno.test("TcpLayer simulation delivers byte-exact data under faults for 500 seeds", () => {
  const only = Deno.env.get("RAWSTACK_SEED");
  if (only !== undefined) {
    const res = runSeed(Number(only), true);
    console.log(res.message);
    assert.ok(res.ok, `seed ${only} failed`);
    return;
  }
  const failed: string[] = [];
  // Receive coalescing ran under faults with both loss detections (seeds 1 mod 3 are rack-tlp
  // or rfc6675 by parity).
  const coalesced = { "rack-tlp": 0, rfc6675: 0 };
  for (let seed = 1; seed <= SEEDS; seed++) {
    const res = runSeed(seed);
    coalesced[seed % 2 === 0 ? "rfc6675" : "rack-tlp"] += res.coalescedSegments;
    if (!res.ok) {
      failed.push(res.message);
      if (failed.length >= 5) break;
    }
  }
  if (failed.length === 0 && SEEDS >= 6) {
    assert.ok(coalesced["rack-tlp"] > 0 && coalesced.rfc6675 > 0, JSON.stringify(coalesced));
  }
  if (failed.length > 0) {
    console.error(
      `${failed.length} seed(s) failed; replay with RAWSTACK_SEED=<seed>\n` + failed.join("\n"),
    );
  }
  assert.equal(failed.length, 0);
});

Deno.test("TcpLayer simulation replays a seed identically", () => {
  const a = runSeed(42);
  const b = runSeed(42);
  assert.equal(a.events, b.events);
  assert.equal(a.virtualMs, b.virtualMs);
  assert.equal(a.message, b.message);
});
