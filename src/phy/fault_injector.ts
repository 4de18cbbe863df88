/**
 * `FaultInjector`: device middleware that loses, duplicates, reorders,
 * corrupts, delays and rate-limits frames, each configurable per direction,
 * deterministically from a seed (smoltcp's `FaultInjector`, netem's knobs).
 *
 * Time comes only from the `now` function (default `performance.now`): delays
 * and the rate limiter never start timers, so a simulation driving a manual
 * clock gets the same result for the same seed every time. Frames are copied
 * into a bounded per-direction queue (one slab allocated up front) and leave
 * it in release-time order whenever the device is used (`receive`,
 * `transmit`, `flush`, `wait`).
 *
 * Semantics per frame, in this order: `drop` (lost), `corrupt` (one random bit
 * flipped after the 14-byte Ethernet header, so the frame still reaches its
 * destination and checksums must catch it), `duplicate` (a second copy right
 * behind it), `reorder` (held back and released right after the next frame, or
 * after `reorderHoldMs`), then `rateBitsPerSecond` (serialisation at that
 * rate behind earlier frames) plus `delayMs` + uniform `jitterMs`.
 *
 * Offload metadata: {@link FaultInjector.rxInfo} forwards the wrapped
 * device's checksum state per frame (kept with queued frames), except that a
 * frame the injector corrupted is reported {@link RX_CHECKSUM_UNKNOWN} so the
 * stack verifies it. With `tx.corrupt > 0` the wrapped device is told to
 * `distrustTransmit()` (a `MemoryDevice` then stops vouching for its frames
 * to its peer). The injector offers no transmit offloads (its capabilities
 * report `checksumOffloadTx` and `gso` false; `transmitOffload` refuses and
 * counts). Members it leaves alone (`closed`, `txBatching`, `txPending`,
 * `distrustTransmit`, `close`) are forwarded by its base, {@link ForwardingDevice}.
 *
 * @module
 */

import {
  type Device,
  type DeviceCapabilities,
  type DeviceStats,
  ETHERNET_HEADER_BYTES,
  type FrameSink,
  newDeviceStats,
  newRxFrameInfo,
  RX_CHECKSUM_UNKNOWN,
  type RxFrameInfo,
} from "./device.ts";
import { ForwardingDevice } from "./forwarding_device.ts";
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_OFFSET } from "../wire/ethernet.ts";
import { IPV4_CHECKSUM_OFFSET, IPV4_TOS_OFFSET, IPV4_VERSION } from "../wire/ipv4.ts";
import { IPV6_VERSION } from "../wire/ipv6.ts";

/** The two ECN bits (RFC 3168 §5): 00 Not-ECT, 01/10 ECT, 11 CE. */
const ECN_FIELD = 0b11;
const ECN_NOT_ECT = 0;
/** The ECN bits' shift within the second byte of an IPv6 header. */
const IPV6_ECN_SHIFT = 4;
/** Bytes of the IPv6 header up to the end of the traffic class. */
const IPV6_TRAFFIC_CLASS_END = 2;

/** What to do to frames in one direction. Probabilities are 0..1. */
export interface FaultSpec {
  /** Probability a frame is lost. */
  drop?: number;
  /** Probability a frame is delivered twice. */
  duplicate?: number;
  /** Probability a frame is held back behind the next one. */
  reorder?: number;
  /** Probability one bit of the frame (after the Ethernet header) is flipped. */
  corrupt?: number;
  /**
   * Probability an ECN-capable IP packet (ECT(0) or ECT(1) in its IPv4 TOS byte or IPv6
   * traffic class) is marked CE instead, as an AQM router marks rather than drops (RFC 3168
   * §5; netem's `ecn`). Not-ECT and non-IP frames are left alone; the IPv4 header checksum
   * is updated (RFC 1624).
   */
  ce?: number;
  /** Fixed one-way delay in ms. */
  delayMs?: number;
  /** Extra delay, uniform in [0, jitterMs) ms (may reorder frames, like netem). */
  jitterMs?: number;
  /** Link rate in bits per second (0/absent = unlimited). */
  rateBitsPerSecond?: number;
  /** Longest a reordered frame waits for a successor, in ms; default 10. */
  reorderHoldMs?: number;
}

/** Options of {@link FaultInjector}. */
export interface FaultInjectorOptions {
  /** PRNG seed (any 32-bit integer). */
  seed: number;
  /** Clock in ms; default `performance.now`. */
  now?: () => number;
  /** Faults applied to received frames. */
  rx?: FaultSpec;
  /** Faults applied to transmitted frames. */
  tx?: FaultSpec;
  /** Queue bound per direction, in frames; default 1024 (overflow drops and counts). */
  queueFrames?: number;
}

/** What the injector did in one direction. */
export interface FaultCounters {
  /** Frames that entered this direction. */
  frames: number;
  /** Frames lost on purpose. */
  dropped: number;
  /** Extra copies made. */
  duplicated: number;
  /** Frames held back behind a successor. */
  reordered: number;
  /** Frames with a flipped bit. */
  corrupted: number;
  /** ECN-capable packets marked CE. */
  ceMarked: number;
  /** Frames released later than they arrived (delay, jitter or rate). */
  delayed: number;
  /** Frames lost because the queue was full. */
  overflowed: number;
  /** Frames released to their destination. */
  released: number;
}

function newFaultCounters(): FaultCounters {
  return {
    frames: 0,
    dropped: 0,
    duplicated: 0,
    reordered: 0,
    corrupted: 0,
    ceMarked: 0,
    delayed: 0,
    overflowed: 0,
    released: 0,
  };
}

/**
 * RFC 3168 §5: sets CE on an ECN-capable IPv4 or IPv6 packet with probability `p` (a draw
 * is taken only for ECT packets). The IPv4 header checksum is updated incrementally
 * (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')), over the 16-bit word holding the TOS byte.
 */
function markCe(
  frame: Uint8Array,
  at: number,
  length: number,
  r: SeededRandom,
  p: number,
): boolean {
  if (length < ETHERNET_HEADER_BYTES + IPV6_TRAFFIC_CLASS_END) return false;
  const etherType = (frame[at + ETHERTYPE_OFFSET] << 8) | frame[at + ETHERTYPE_OFFSET + 1];
  const ip = at + ETHERNET_HEADER_BYTES;
  if (etherType === ETHERTYPE_IPV4 && frame[ip] >> 4 === IPV4_VERSION) {
    const tos = frame[ip + IPV4_TOS_OFFSET];
    if ((tos & ECN_FIELD) === ECN_NOT_ECT || (tos & ECN_FIELD) === ECN_FIELD) return false;
    if (!(r.next() < p)) return false;
    const oldWord = (frame[ip] << 8) | tos;
    const newWord = oldWord | ECN_FIELD;
    frame[ip + IPV4_TOS_OFFSET] = tos | ECN_FIELD;
    const c = ip + IPV4_CHECKSUM_OFFSET;
    let sum = (~((frame[c] << 8) | frame[c + 1]) & 0xffff) + (~oldWord & 0xffff) + newWord;
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = (sum & 0xffff) + (sum >>> 16);
    const hc = ~sum & 0xffff;
    frame[c] = hc >>> 8;
    frame[c + 1] = hc & 0xff;
    return true;
  }
  if (etherType === ETHERTYPE_IPV6 && frame[ip] >> 4 === IPV6_VERSION) {
    // RFC 8200 §3: the traffic class spans the low nibble of byte 0 and the high nibble of
    // byte 1; its two low bits (the ECN field) are bits 5..4 of byte 1.
    const ecn = (frame[ip + 1] >> IPV6_ECN_SHIFT) & ECN_FIELD;
    if (ecn === ECN_NOT_ECT || ecn === ECN_FIELD) return false;
    if (!(r.next() < p)) return false;
    frame[ip + 1] |= ECN_FIELD << IPV6_ECN_SHIFT;
    return true;
  }
  return false;
}

/**
 * A small, fast, seeded PRNG (mulberry32): deterministic across runs and
 * platforms, uniform enough for fault injection and simulations.
 *
 * @example
 * ```ts
 * import { SeededRandom } from "./fault_injector.ts";
 * const a = new SeededRandom(42), b = new SeededRandom(42);
 * console.assert(a.next() === b.next());
 * const x = a.next();
 * console.assert(x >= 0 && x < 1);
 * console.assert(a.int(10) < 10);
 * ```
 */
export class SeededRandom {
  #state: number;

  /**
   * Creates an instance.
   *
   * @param seed any number; its low 32 bits are used
   */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /**
   * Draws the next number.
   *
   * @returns the next value, uniform in [0, 1)
   */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /**
   * Draws an integer below `n`.
   *
   * @param n exclusive upper bound (> 0)
   * @returns an integer uniform in [0, n)
   */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

const DEFAULT_QUEUE_FRAMES = 1024;
const DEFAULT_REORDER_HOLD_MS = 10;
const MS_PER_SECOND = 1000;
const BITS_PER_BYTE = 8;
const NONE = -1;
/** Offload fields kept per queued frame: checksum state, csumStart, csumOffset. */
const CSUM_FIELDS = 3;

/** One direction: the decisions, the queue and the counters. */
class Lane {
  readonly counters = newFaultCounters();
  readonly random: SeededRandom;
  readonly spec: FaultSpec;
  readonly active: boolean;
  readonly slab: Uint8Array;
  readonly slotBytes: number;
  readonly capacity: number;
  readonly lengths: Int32Array;
  readonly releaseAt: Float64Array;
  readonly free: Int32Array;
  freeCount: number;
  readonly order: Int32Array; // circular, sorted by releaseAt (stable)
  /** Per slot: checksum state, csumStart, csumOffset of the frame (see RxFrameInfo). */
  readonly csum: Uint16Array;
  head = 0;
  count = 0;
  held = NONE;
  heldSince = 0;
  linkFreeAt = 0;

  constructor(spec: FaultSpec | undefined, seed: number, maxFrame: number, capacity: number) {
    this.spec = spec ?? {};
    const s = this.spec;
    for (const key of ["drop", "duplicate", "reorder", "corrupt", "ce"] as const) {
      const p = s[key];
      if (p !== undefined && !(p >= 0 && p <= 1)) {
        throw new RangeError(`fault probability ${key}=${p} is not in 0..1`);
      }
    }
    for (const key of ["delayMs", "jitterMs", "rateBitsPerSecond", "reorderHoldMs"] as const) {
      const v = s[key];
      if (v !== undefined && !(v >= 0)) throw new RangeError(`fault ${key}=${v} must be ≥ 0`);
    }
    this.active = (s.drop ?? 0) > 0 || (s.duplicate ?? 0) > 0 || (s.reorder ?? 0) > 0 ||
      (s.corrupt ?? 0) > 0 || (s.ce ?? 0) > 0 || (s.delayMs ?? 0) > 0 || (s.jitterMs ?? 0) > 0 ||
      (s.rateBitsPerSecond ?? 0) > 0;
    this.random = new SeededRandom(seed);
    this.slotBytes = maxFrame;
    this.capacity = this.active ? capacity : 0;
    this.slab = new Uint8Array(this.slotBytes * this.capacity);
    this.lengths = new Int32Array(this.capacity);
    this.releaseAt = new Float64Array(this.capacity);
    this.free = new Int32Array(this.capacity);
    for (let i = 0; i < this.capacity; i++) this.free[i] = this.capacity - 1 - i;
    this.freeCount = this.capacity;
    this.order = new Int32Array(this.capacity);
    this.csum = new Uint16Array(this.capacity * CSUM_FIELDS);
  }

  /**
   * Takes a frame through the faults into the queue; `info` is its offload
   * metadata (kept per slot; undefined = unknown).
   */
  admit(
    bytes: Uint8Array,
    offset: number,
    length: number,
    now: number,
    info?: RxFrameInfo,
  ): void {
    const s = this.spec;
    const c = this.counters;
    const r = this.random;
    c.frames++;
    if ((s.drop ?? 0) > 0 && r.next() < s.drop!) {
      c.dropped++;
      return;
    }
    const slot = this.#copy(bytes, offset, length);
    if (slot === NONE) return;
    const cs = this.csum;
    const k = slot * CSUM_FIELDS;
    cs[k] = info === undefined ? RX_CHECKSUM_UNKNOWN : info.checksum;
    cs[k + 1] = info === undefined ? 0 : info.csumStart;
    cs[k + 2] = info === undefined ? 0 : info.csumOffset;
    if ((s.corrupt ?? 0) > 0 && r.next() < s.corrupt! && length > ETHERNET_HEADER_BYTES) {
      const at = ETHERNET_HEADER_BYTES + r.int(length - ETHERNET_HEADER_BYTES);
      this.slab[slot * this.slotBytes + at] ^= 1 << r.int(BITS_PER_BYTE);
      c.corrupted++;
      // The receiver must find the damage: nothing is known about this frame's checksum.
      cs[k] = RX_CHECKSUM_UNKNOWN;
    }
    if ((s.ce ?? 0) > 0 && markCe(this.slab, slot * this.slotBytes, length, r, s.ce!)) {
      c.ceMarked++;
    }
    let copy = NONE;
    if ((s.duplicate ?? 0) > 0 && r.next() < s.duplicate!) {
      copy = this.#copy(this.slab, slot * this.slotBytes, length);
      if (copy !== NONE) {
        c.duplicated++;
        cs.copyWithin(copy * CSUM_FIELDS, k, k + CSUM_FIELDS);
      }
    }
    const reorder = (s.reorder ?? 0) > 0 && r.next() < s.reorder!;
    const t = this.#departure(length, now);
    if (reorder && this.held === NONE) {
      c.reordered++;
      this.held = slot;
      this.releaseAt[slot] = t;
      this.heldSince = now;
    } else {
      this.#insert(slot, t);
      this.#releaseHeldAfter(t);
    }
    if (copy !== NONE) this.#insert(copy, this.#departure(length, now));
  }

  #departure(length: number, now: number): number {
    const s = this.spec;
    let t = now;
    const rate = s.rateBitsPerSecond ?? 0;
    if (rate > 0) {
      const start = this.linkFreeAt > now ? this.linkFreeAt : now;
      this.linkFreeAt = start + (length * BITS_PER_BYTE * MS_PER_SECOND) / rate;
      t = this.linkFreeAt;
    }
    t += s.delayMs ?? 0;
    if ((s.jitterMs ?? 0) > 0) t += this.random.next() * s.jitterMs!;
    if (t > now) this.counters.delayed++;
    return t;
  }

  #releaseHeldAfter(t: number): void {
    if (this.held === NONE) return;
    const slot = this.held;
    this.held = NONE;
    this.#insert(slot, this.releaseAt[slot] > t ? this.releaseAt[slot] : t);
  }

  /** Releases a held frame that waited too long for a successor. */
  expireHeld(now: number): void {
    if (this.held !== NONE) {
      const hold = this.spec.reorderHoldMs ?? DEFAULT_REORDER_HOLD_MS;
      if (now - this.heldSince >= hold) this.#releaseHeldAfter(now);
    }
  }

  #copy(bytes: Uint8Array, offset: number, length: number): number {
    if (this.freeCount === 0 || length > this.slotBytes) {
      this.counters.overflowed++;
      return NONE;
    }
    const slot = this.free[--this.freeCount];
    this.slab.set(bytes.subarray(offset, offset + length), slot * this.slotBytes);
    this.lengths[slot] = length;
    return slot;
  }

  #insert(slot: number, t: number): void {
    this.releaseAt[slot] = t;
    const cap = this.capacity;
    let pos = this.count;
    // Stable insertion from the tail: usually O(1), as release times mostly grow.
    while (pos > 0) {
      const prev = this.order[(this.head + pos - 1) % cap];
      if (this.releaseAt[prev] <= t) break;
      this.order[(this.head + pos) % cap] = prev;
      pos--;
    }
    this.order[(this.head + pos) % cap] = slot;
    this.count++;
  }

  /** Slot of the first frame due at `now`, or NONE. */
  peekDue(now: number): number {
    if (this.count === 0) return NONE;
    const slot = this.order[this.head];
    return this.releaseAt[slot] <= now ? slot : NONE;
  }

  /** Removes the head of the queue and frees its slot. */
  pop(): void {
    const slot = this.order[this.head];
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    this.count--;
    this.free[this.freeCount++] = slot;
    this.counters.released++;
  }

  /** Earliest time something happens in this lane (Infinity when idle). */
  nextEvent(): number {
    let t = this.count > 0 ? this.releaseAt[this.order[this.head]] : Infinity;
    if (this.held !== NONE) {
      const h = this.heldSince + (this.spec.reorderHoldMs ?? DEFAULT_REORDER_HOLD_MS);
      if (h < t) t = h;
    }
    return t;
  }
}

/**
 * Wraps any {@link Device} and applies seeded faults; see the module documentation.
 *
 * @example
 * ```ts
 * import { FaultInjector } from "./fault_injector.ts";
 * import { MemoryLink } from "./memory_link.ts";
 * let now = 0;
 * const [a, b] = MemoryLink.pair();
 * const lossy = new FaultInjector(a, { seed: 1, now: () => now, tx: { delayMs: 5 } });
 * lossy.transmit(new Uint8Array(60), 0, 60);
 * console.assert(b.stats.queued === 0); // still in flight
 * now = 5;
 * lossy.flush();
 * console.assert(b.stats.queued === 1);
 * lossy.close(); b.close();
 * ```
 */
export class FaultInjector extends ForwardingDevice {
  #now: () => number;
  #rx: Lane;
  #tx: Lane;
  #stats: DeviceStats = newDeviceStats();
  #sink: FrameSink | null = null;
  #intake: FrameSink;
  readonly #capabilities: DeviceCapabilities;
  readonly #rxInfo: RxFrameInfo = newRxFrameInfo();

  /**
   * Creates an instance.
   *
   * @param inner the device to wrap
   * @param opts seed, clock, per-direction faults, queue bound
   */
  constructor(inner: Device, opts: FaultInjectorOptions) {
    super(inner);
    this.#now = opts.now ?? (() => performance.now());
    const maxFrame = inner.capabilities.mtu + ETHERNET_HEADER_BYTES;
    const queue = opts.queueFrames ?? DEFAULT_QUEUE_FRAMES;
    const seed = opts.seed >>> 0;
    // Independent streams per direction: RX traffic does not change TX decisions.
    this.#rx = new Lane(opts.rx, seed ^ 0x5bd1e995, maxFrame, queue);
    this.#tx = new Lane(opts.tx, seed ^ 0x1b873593, maxFrame, queue);
    const rx = this.#rx;
    this.#intake = {
      onFrame: (bytes: Uint8Array, offset: number, length: number): void => {
        if (rx.active) {
          rx.admit(bytes, offset, length, this.#now(), this.inner.rxInfo);
        } else {
          this.#forwardInfo();
          this.#deliver(bytes, offset, length);
        }
      },
    };
    // Transmitted frames go through transmit() only (no offload requests).
    const caps = inner.capabilities;
    this.#capabilities = caps.checksumOffloadTx || caps.gso
      ? { ...caps, checksumOffloadTx: false, gso: false, maxSegmentBytes: maxFrame }
      : caps;
    if ((opts.tx?.corrupt ?? 0) > 0) inner.distrustTransmit?.();
  }

  /** Static facts about the device (the wrapped device's, without transmit offloads). */
  override get capabilities(): DeviceCapabilities {
    return this.#capabilities;
  }

  /**
   * Not passed on: frames the injector corrupts must arrive with complete
   * checksums so that the stack's verification catches the corruption.
   */
  override get completeRxChecksums(): boolean | undefined {
    return undefined;
  }
  override set completeRxChecksums(_on: boolean | undefined) {}

  /**
   * Offload metadata of the frame being delivered: the wrapped device's,
   * {@link RX_CHECKSUM_UNKNOWN} for a frame this injector corrupted.
   */
  override get rxInfo(): RxFrameInfo {
    return this.#rxInfo;
  }

  /** Forwards the wrapped device's rxInfo about the frame it is delivering right now. */
  #forwardInfo(): void {
    const from = this.inner.rxInfo;
    const to = this.#rxInfo;
    if (from === undefined) {
      to.checksum = RX_CHECKSUM_UNKNOWN;
      to.csumStart = 0;
      to.csumOffset = 0;
      to.gsoType = 0;
      to.gsoSize = 0;
      to.headerLength = 0;
      return;
    }
    to.checksum = from.checksum;
    to.csumStart = from.csumStart;
    to.csumOffset = from.csumOffset;
    to.gsoType = from.gsoType;
    to.gsoSize = from.gsoSize;
    to.headerLength = from.headerLength;
  }

  /** What reached the user (rx) and what the user handed in (tx). */
  override get stats(): DeviceStats {
    return this.#stats;
  }

  /** What the injector did to received frames. */
  get rxFaults(): FaultCounters {
    return this.#rx.counters;
  }

  /** What the injector did to transmitted frames. */
  get txFaults(): FaultCounters {
    return this.#tx.counters;
  }

  #deliver(bytes: Uint8Array, offset: number, length: number): void {
    this.#stats.rxFrames++;
    this.#stats.rxBytes += length;
    this.#sink!.onFrame(bytes, offset, length);
  }

  /** Delivers up to `budget` ready frames to `sink`; returns how many. */
  override receive(sink: FrameSink, budget: number): number {
    this.#pumpTx();
    const rx = this.#rx;
    if (!rx.active) {
      this.#sink = sink;
      const n = this.inner.receive(this.#intake, budget);
      this.#sink = null;
      return n;
    }
    // Pull what the inner device has (bounded by free queue space), then deliver what is due.
    if (rx.freeCount > 0) this.inner.receive(this.#intake, rx.freeCount);
    const now = this.#now();
    rx.expireHeld(now);
    this.#sink = sink;
    let count = 0;
    while (count < budget) {
      const slot = rx.peekDue(now);
      if (slot < 0) break;
      count++;
      const info = this.#rxInfo;
      const k = slot * CSUM_FIELDS;
      info.checksum = rx.csum[k];
      info.csumStart = rx.csum[k + 1];
      info.csumOffset = rx.csum[k + 2];
      // Queued frames fit one MTU-sized slot: never super-frames.
      info.gsoType = 0;
      info.gsoSize = 0;
      info.headerLength = 0;
      try {
        this.#deliver(rx.slab, slot * rx.slotBytes, rx.lengths[slot]);
      } finally {
        rx.pop();
      }
    }
    this.#sink = null;
    return count;
  }

  /** Sends one frame; `false` when it was dropped (counted). */
  override transmit(bytes: Uint8Array, offset: number, length: number): boolean {
    const tx = this.#tx;
    if (!tx.active) {
      const ok = this.inner.transmit(bytes, offset, length);
      if (ok) {
        this.#stats.txFrames++;
        this.#stats.txBytes += length;
      } else {
        this.#stats.txDropped++;
      }
      return ok;
    }
    if (
      !(offset >= 0) || !(length > 0) || offset + length > bytes.length || length > tx.slotBytes
    ) {
      this.#stats.txDropped++;
      return false;
    }
    this.#stats.txFrames++;
    this.#stats.txBytes += length;
    const now = this.#now();
    tx.admit(bytes, offset, length, now);
    this.#pumpTx();
    return true;
  }

  #pumpTx(): void {
    const tx = this.#tx;
    if (!tx.active) return;
    const now = this.#now();
    tx.expireHeld(now);
    for (let slot = tx.peekDue(now); slot >= 0; slot = tx.peekDue(now)) {
      this.inner.transmit(tx.slab, slot * tx.slotBytes, tx.lengths[slot]);
      tx.pop();
    }
  }

  /**
   * Refuses: the injector offers no transmit offloads (its capabilities say
   * so), since a frame it queues or corrupts leaves through `transmit`.
   * Counted in `txDropped`.
   *
   * @returns false
   */
  override transmitOffload(): boolean {
    this.#stats.txDropped++;
    return false;
  }

  /** Ends a transmit batch. */
  override flush(): void {
    this.#pumpTx();
    this.inner.flush();
  }

  /**
   * The time (per `now`) of the next queued event, Infinity when nothing is queued.
   *
   * @returns ms on the injector's clock
   */
  nextEventAt(): number {
    const a = this.#rx.nextEvent();
    const b = this.#tx.nextEvent();
    return a < b ? a : b;
  }

  /** Resolves when a frame is ready, after `timeoutMs`, or on close; never blocks. */
  override async wait(timeoutMs: number): Promise<void> {
    this.flush();
    const rx = this.#rx;
    if (rx.active && rx.freeCount > 0) {
      this.#sink = null;
      // Move ready frames into the queue so the inner device does not look ready forever.
      this.inner.receive(this.#intake, rx.freeCount);
    }
    const now = this.#now();
    if (rx.peekDue(now) >= 0) return;
    const until = this.nextEventAt() - now;
    await this.inner.wait(until < timeoutMs ? Math.max(0, until) : timeoutMs);
    this.#pumpTx();
  }
}
