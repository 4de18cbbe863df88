// TxBatch with its transmit thread, without a network or root: the worker's socket is one end
// of an AF_UNIX datagram socket pair with a small send buffer, so the kernel refuses its
// sendmmsg() with EAGAIN whenever the test has not read the other end for a while — a full
// queue, as a veth peer's backlog gives ENOBUFS. Every message the worker sends arrives whole
// (virtio_net_hdr + frame) at the other end, in the order sent.
import assert from "node:assert/strict";
import type { AfPacketStats } from "../../../src/phy/af_packet.ts";
import { STAGE_DROPPED, STAGED, TxBatch } from "../../../src/phy/af_packet/tx_batch.ts";
import { VNET_HDR_BYTES } from "../../../src/phy/af_packet/layout.ts";
import { GSO_TCPV4 } from "../../../src/phy/device.ts";
import { packetBytes, releasePacketBytes } from "../../../src/buffer/arena.ts";
import { newDeviceStats } from "../../../src/phy/device.ts";
import { mulberry32 } from "../../seeded_random.ts";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const MSG_DONTWAIT = 0x40;
/** Asked send buffer (the kernel doubles it): room for a few super-frames or ≈80 frames. */
const SNDBUF_BYTES = 100_000;
const BATCH = 4;
const BATCHES = 8;
const SUPER_SLOTS = 4;
const MAX_FRAME = 1514;
/** Largest super-frame: Ethernet header + the largest IPv4 packet. */
const MAX_SUPER_FRAME = 14 + 65535;
/** A frame's layout: Ethernet, IPv4 (20), TCP (20), then the 16-bit sequence marker. */
const ETHERTYPE_IPV4 = 0x0800;
const IPV4_AT = 14;
const TCP_AT = IPV4_AT + 20;
const SEQ_AT = TCP_AT + 20;
const MIN_FRAME = SEQ_AT + 6;
const TCP_CHECKSUM_OFFSET = 16;
const MSS = 1448;
/** virtio_net_hdr fields. */
const VNET_GSO_TYPE = 1;
const VNET_HDR_LEN = 2;
const VNET_GSO_SIZE = 4;
const VNET_CSUM_START = 6;
/** Bounded waits for the worker (iterations of a 1 ms sleep); a failure, not a time assertion. */
const MAX_WAIT_ROUNDS = 3000;

const ffi = Deno.dlopen("libc.so.6", {
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
});

function newStats(): AfPacketStats {
  return {
    ...newDeviceStats(),
    txErrors: 0,
    txLastErrno: 0,
    txDeferred: 0,
    txQueueFullDrops: 0,
    txSuperFrames: 0,
    txSuperFrames6: 0,
    txSuperFramesEcn: 0,
    txThreadSubmissions: 0,
    txThreadWaits: 0,
  } as unknown as AfPacketStats;
}

/** One message read at the socket pair's far end. */
interface Arrival {
  seq: number;
  length: number;
  gsoType: number;
  gsoSize: number;
  headerLength: number;
  csumStart: number;
  intact: boolean;
}

/** A socket pair: the worker sends on `fd`; {@link read} takes what reached the other end. */
class Pair {
  readonly fd: number;
  readonly #peer: number;
  readonly #buf = new Uint8Array(VNET_HDR_BYTES + MAX_SUPER_FRAME);
  readonly arrivals: Arrival[] = [];

  constructor() {
    const fds = new Int32Array(2);
    assert.equal(ffi.symbols.socketpair(AF_UNIX, SOCK_DGRAM, 0, fds), 0);
    this.fd = fds[0];
    this.#peer = fds[1];
    const size = new Int32Array([SNDBUF_BYTES]);
    assert.equal(ffi.symbols.setsockopt(this.fd, SOL_SOCKET, SO_SNDBUF, size, 4), 0);
  }

  /** Reads every message waiting at the far end. */
  read(): void {
    const b = this.#buf;
    for (;;) {
      const n = Number(ffi.symbols.recv(this.#peer, b, BigInt(b.length), MSG_DONTWAIT));
      if (n < 0) return;
      const f = VNET_HDR_BYTES;
      const seq = (b[f + SEQ_AT] << 8) | b[f + SEQ_AT + 1];
      let intact = true;
      for (let i = SEQ_AT + 2; i < n - f; i++) {
        if (b[f + i] !== ((seq + i) & 0xff)) {
          intact = false;
          break;
        }
      }
      this.arrivals.push({
        seq,
        length: n - f,
        gsoType: b[VNET_GSO_TYPE],
        gsoSize: b[VNET_GSO_SIZE] | (b[VNET_GSO_SIZE + 1] << 8),
        headerLength: b[VNET_HDR_LEN] | (b[VNET_HDR_LEN + 1] << 8),
        csumStart: b[VNET_CSUM_START] | (b[VNET_CSUM_START + 1] << 8),
        intact,
      });
    }
  }

  /** Reads until `count` messages arrived (bounded). */
  async readUntil(count: number): Promise<void> {
    for (let i = 0; i < MAX_WAIT_ROUNDS && this.arrivals.length < count; i++) {
      this.read();
      if (this.arrivals.length < count) await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** The far end's descriptor (for a reader on another thread). */
  get peerFd(): number {
    return this.#peer;
  }

  close(): void {
    ffi.symbols.close(this.fd);
    ffi.symbols.close(this.#peer);
  }
}

/**
 * A reader on its own thread: `start(delayMs, forMs)` makes it wait `delayMs`, then read and
 * discard every message at `fd` for `forMs`; resolves with how many it read. It runs while the
 * test's own thread is blocked (in `TxBatch.close()`).
 */
async function threadedDrainer(
  fd: number,
): Promise<(delayMs: number, forMs: number) => Promise<number>> {
  const source = `
self.onmessage = (e) => {
  const { fd, delayMs, forMs } = e.data;
  const lib = Deno.dlopen("libc.so.6", {
    recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  });
  const buf = new Uint8Array(${VNET_HDR_BYTES + MAX_SUPER_FRAME});
  const t0 = performance.now();
  while (performance.now() - t0 < delayMs) { /* wait */ }
  let n = 0;
  while (performance.now() - t0 < delayMs + forMs) {
    if (Number(lib.symbols.recv(fd, buf, BigInt(buf.length), ${MSG_DONTWAIT})) >= 0) n++;
  }
  lib.close();
  self.postMessage(n);
};
self.postMessage("ready");`;
  const url = URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
  const worker = new Worker(url, { type: "module" });
  await new Promise<void>((resolve) => {
    worker.onmessage = () => resolve();
  });
  return (delayMs, forMs) =>
    new Promise<number>((resolve) => {
      worker.onmessage = (e) => {
        worker.terminate();
        URL.revokeObjectURL(url);
        resolve(e.data as number);
      };
      worker.postMessage({ fd, delayMs, forMs });
    });
}

/** Writes an IPv4/TCP frame of `length` bytes carrying `seq` and a pattern after it. */
function writeFrame(into: Uint8Array, length: number, seq: number): void {
  into.fill(0, 0, SEQ_AT);
  into[12] = ETHERTYPE_IPV4 >> 8;
  into[13] = ETHERTYPE_IPV4 & 0xff;
  into[IPV4_AT] = 0x45; // version 4, 5 words
  into[TCP_AT + 12] = 0x50; // data offset: 5 words
  into[SEQ_AT] = seq >> 8;
  into[SEQ_AT + 1] = seq & 0xff;
  for (let i = SEQ_AT + 2; i < length; i++) into[i] = (seq + i) & 0xff;
}

/** What the test handed to the batch, and what it answered. */
interface Sent {
  seq: number;
  length: number;
  superFrame: boolean;
  result: number;
}

async function withThreadedBatch(
  fn: (
    batch: TxBatch,
    stats: AfPacketStats,
    pair: Pair,
    frame: Uint8Array,
  ) => Promise<void> | void,
  superSlots = SUPER_SLOTS,
): Promise<void> {
  const pair = new Pair();
  const stats = newStats();
  const batch = TxBatch.create(pair.fd, BATCH, BATCHES, true, MAX_FRAME, stats, superSlots);
  assert.ok(batch !== null, "the packet arena stages frames");
  const frame = packetBytes(MAX_SUPER_FRAME);
  try {
    await batch.startThread();
    assert.equal(batch.threaded, true, batch.threadFallbackReason ?? "");
    await fn(batch, stats, pair, frame);
  } finally {
    batch.close();
    batch.release();
    releasePacketBytes(frame);
    pair.close();
  }
}

/** Stages frame `seq`: a super-frame (GSO, MSS-sized segments) or an ordinary frame. */
function send(batch: TxBatch, frame: Uint8Array, s: Omit<Sent, "result">): Sent {
  writeFrame(frame, s.length, s.seq);
  const result = s.superFrame
    ? batch.stageSuper(frame, 0, s.length, TCP_AT, TCP_CHECKSUM_OFFSET, MSS)
    : batch.stage(frame, 0, s.length, TCP_AT, TCP_CHECKSUM_OFFSET);
  return { ...s, result };
}

/**
 * The frames the batch took (STAGED) arrived, each once, intact, in the order staged, and
 * with the virtio_net_hdr of its kind; every frame it refused was counted as a drop.
 */
function assertDelivered(sent: Sent[], pair: Pair, stats: AfPacketStats): void {
  const staged = sent.filter((s) => s.result === STAGED);
  const dropped = sent.length - staged.length;
  assert.ok(sent.every((s) => s.result === STAGED || s.result === STAGE_DROPPED));
  assert.deepEqual(
    pair.arrivals.map((a) => a.seq),
    staged.map((s) => s.seq),
    "every staged frame arrived once, in order",
  );
  for (let k = 0; k < staged.length; k++) {
    const a = pair.arrivals[k];
    const s = staged[k];
    assert.equal(a.length, s.length, `frame ${s.seq}: length`);
    assert.ok(a.intact, `frame ${s.seq}: bytes as written`);
    assert.equal(a.csumStart, TCP_AT, `frame ${s.seq}: checksum request`);
    assert.equal(a.gsoType, s.superFrame ? GSO_TCPV4 : 0, `frame ${s.seq}: gso_type`);
    assert.equal(a.gsoSize, s.superFrame ? MSS : 0, `frame ${s.seq}: gso_size`);
    assert.equal(a.headerLength, s.superFrame ? SEQ_AT : 0, `frame ${s.seq}: hdr_len`);
  }
  assert.equal(stats.txFrames, staged.length);
  assert.equal(stats.txBytes, staged.reduce((n, s) => n + s.length, 0));
  assert.equal(stats.txQueueFullDrops, dropped);
  assert.equal(stats.txDropped, dropped);
  assert.equal(stats.txErrors, 0);
}

Deno.test("TxBatch behaviour: a transmit thread keeps the runs the kernel refuses and sends them later, in order, none lost", async () => {
  // Ordinary frames only (the API every version has): the far end is read every 250 frames,
  // more bytes than its send buffer holds, so the worker's sendmmsg() is refused (EAGAIN) in
  // between and must hold on to its runs.
  const frames = 2000;
  const readEvery = 250;
  const minLength = 1000;
  await withThreadedBatch(async (batch, stats, pair, frame) => {
    const random = mulberry32(19);
    const sent: Sent[] = [];
    for (let seq = 0; seq < frames; seq++) {
      const length = minLength + Math.floor(random() * (MAX_FRAME - minLength));
      sent.push(send(batch, frame, { seq, length, superFrame: false }));
      if (random() < 0.1) batch.flush();
      if (seq % readEvery === readEvery - 1) pair.read();
    }
    batch.flush();
    await pair.readUntil(sent.filter((s) => s.result === STAGED).length);
    batch.close();
    pair.read();
    assertDelivered(sent, pair, stats);
    assert.ok(stats.txDeferred > 0, "the kernel refused runs now and then");
  });
});

Deno.test("TxBatch behaviour: GSO super-frames go through the transmit thread with their virtio_net_hdr, in order with staged frames, refused ones retried", async () => {
  // The far end is read every 5 frames, except in a burst of largest super-frames every 50
  // (more than its send buffer holds): the worker is refused then and must retry.
  const ops = 600;
  const readEvery = 5;
  const burstEvery = 50;
  const burst = 6;
  await withThreadedBatch(async (batch, stats, pair, frame) => {
    assert.equal(batch.threadedSuperFrames, true);
    const random = mulberry32(26);
    const sent: Sent[] = [];
    let supers = 0;
    for (let seq = 0; seq < ops; seq++) {
      const inBurst = seq % burstEvery < burst;
      const superFrame = inBurst || random() < 0.3;
      const length = inBurst
        ? MAX_SUPER_FRAME
        : superFrame
        ? MAX_FRAME + Math.floor(random() * (MAX_SUPER_FRAME - MAX_FRAME + 1))
        : MIN_FRAME + Math.floor(random() * (MAX_FRAME - MIN_FRAME));
      const s = send(batch, frame, { seq, length, superFrame });
      sent.push(s);
      if (superFrame && s.result === STAGED) supers++;
      if (random() < 0.2) batch.flush();
      if (!inBurst && seq % readEvery === readEvery - 1) pair.read();
    }
    batch.flush();
    await pair.readUntil(sent.filter((s) => s.result === STAGED).length);
    batch.close();
    pair.read();
    assert.ok(supers > 0);
    assert.equal(stats.txSuperFrames, supers);
    assert.ok(stats.txDeferred > 0, "the kernel refused runs now and then");
    assertDelivered(sent, pair, stats);
    assert.ok(pair.arrivals.length > ops / 2, "most frames were staged, not dropped");
  });
});

Deno.test("TxBatch behaviour: while the transmit thread holds refused frames in every slot new frames are dropped and counted, not waited for, and close gives up the held ones", async () => {
  // The far end is not read until the end: the send buffer fills, the worker keeps being
  // refused, and the staging areas (ordinary and super-frame) are the bound.
  const ops = 200;
  await withThreadedBatch((batch, stats, pair, frame) => {
    const sent: Sent[] = [];
    for (let seq = 0; seq < ops; seq++) {
      const superFrame = seq % 2 === 1;
      const length = superFrame ? MAX_SUPER_FRAME : MAX_FRAME;
      sent.push(send(batch, frame, { seq, length, superFrame }));
    }
    batch.flush();
    const staged = sent.filter((s) => s.result === STAGED);
    assert.ok(sent.some((s) => s.superFrame && s.result === STAGE_DROPPED));
    assert.ok(sent.some((s) => !s.superFrame && s.result === STAGE_DROPPED));
    const dropsBeforeClose = stats.txDropped;
    batch.close(); // held frames are tried once more, then dropped and counted
    pair.read();
    const arrived = pair.arrivals.map((a) => a.seq);
    assert.deepEqual(arrived, staged.slice(0, arrived.length).map((s) => s.seq), "in order");
    assert.equal(stats.txFrames, arrived.length);
    assert.equal(
      stats.txDropped - dropsBeforeClose,
      staged.length - arrived.length,
      "what the thread held at close is counted as dropped",
    );
    assert.equal(arrived.length + stats.txDropped, ops, "every frame left or was counted");
    // Bounded: what was taken and did not leave is what the slots held.
    assert.ok(staged.length - arrived.length <= BATCH * BATCHES + SUPER_SLOTS);
    assert.equal(stats.txErrors, 0);
  });
});

Deno.test("TxBatch behaviour: close gives the runs the kernel refused a short grace, so a queue that drains meanwhile loses nothing", async () => {
  // The far end is not read while frames are staged: the worker is refused and holds them. A
  // reader on another thread starts draining 5 ms after close() begins (the test's thread is
  // blocked in it): within TX_THREAD_CLOSE_GRACE_MS the held runs leave instead of being dropped.
  // Largest super-frames between ordinary frames: more than the send buffer holds.
  const ops = 12;
  await withThreadedBatch(async (batch, stats, pair, frame) => {
    const sent: Sent[] = [];
    for (let seq = 0; seq < ops; seq++) {
      const superFrame = seq % 2 === 1;
      const length = superFrame ? MAX_SUPER_FRAME : MAX_FRAME;
      sent.push(send(batch, frame, { seq, length, superFrame }));
    }
    batch.flush();
    const staged = sent.filter((s) => s.result === STAGED).length;
    for (let i = 0; i < MAX_WAIT_ROUNDS && stats.txDeferred === 0; i++) {
      await new Promise((r) => setTimeout(r, 1));
      batch.collectThread();
    }
    assert.ok(stats.txDeferred > 0, "the kernel refused the worker's runs");
    const dropsBeforeClose = stats.txDropped;
    const drain = await threadedDrainer(pair.peerFd);
    const drained = drain(5, 200);
    batch.close();
    const read = await drained;
    assert.equal(stats.txDropped, dropsBeforeClose, "nothing held at close was dropped");
    assert.equal(stats.txFrames, staged);
    assert.equal(read, staged);
  });
});
