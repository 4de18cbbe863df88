/**
 * The ping application (ping(8) over RFC 792 echo): {@link PingEngine}, the
 * network-free bookkeeping of one run (sequence numbers, round-trip times,
 * timeouts, duplicates, the ping(8) summary), and {@link PingSession}, a run
 * bound to an {@link IcmpLayer} that sends the echo requests and receives the
 * replies as its {@link EchoListener}. The ICMP protocol itself (echo replies,
 * error generation and delivery) stays in `icmp.ts`.
 *
 * @module
 */

import type { EchoListener, IcmpLayer } from "./icmp.ts";

/** Options of a ping run (like ping(8) `-c`, `-s`, `-i`, `-W`). */
export interface PingOptions {
  /** Echo requests to send; default 4. */
  count?: number;
  /** Data bytes per request; default 56 (ping(8)). */
  size?: number;
  /** Interval between requests (ms); default 1000. */
  intervalMs?: number;
  /** Time to wait for each reply (ms); default 1000. */
  timeoutMs?: number;
}

/** One reply. */
export interface PingReply {
  /** Sequence number. */
  sequence: number;
  /** Round-trip time (ms). */
  rttMs: number;
  /** Data bytes in the reply. */
  bytes: number;
}

/** A ping(8)-style summary. */
export interface PingSummary {
  /** Requests sent. */
  transmitted: number;
  /** Distinct replies received in time. */
  received: number;
  /** Duplicate replies. */
  duplicates: number;
  /** Errors received (host unreachable, ...). */
  errors: number;
  /** 100 × (transmitted − received) / transmitted. */
  lossPercent: number;
  /** Smallest RTT (ms), NaN without replies. */
  minMs: number;
  /** Mean RTT (ms). */
  avgMs: number;
  /** Largest RTT (ms). */
  maxMs: number;
  /** Standard deviation of the RTTs, as ping(8)'s mdev (ms). */
  mdevMs: number;
}

/** Default ping options (ping(8) defaults, with a 1 s per-reply timeout). */
export const DEFAULT_PING_COUNT = 4;
/** Default ping data size (ping(8) `-s 56`). */
export const DEFAULT_PING_SIZE = 56;
/** Default interval between requests. */
export const DEFAULT_PING_INTERVAL_MS = 1000;
/** Default time to wait for a reply. */
export const DEFAULT_PING_TIMEOUT_MS = 1000;
/** Largest echo data: 65,535 − 20 (IPv4) − 8 (ICMP). */
export const MAX_PING_SIZE = 65507;

/**
 * Ping bookkeeping, independent of any network: call {@link send} for each
 * request, {@link onReply} for each reply, {@link onTimeout} as time passes.
 *
 * @example
 * ```ts
 * import { PingEngine } from "./ping.ts";
 * const p = new PingEngine({ count: 2, timeoutMs: 100 });
 * const s0 = p.send(0);
 * p.onReply(10, s0, 56);
 * const s1 = p.send(1000);
 * p.onTimeout(1200);
 * const sum = p.summary();
 * console.assert(p.done && sum.transmitted === 2 && sum.received === 1 && sum.lossPercent === 50);
 * console.assert(sum.minMs === 10 && s1 === 1);
 * ```
 */
export class PingEngine {
  /** Replies in arrival order. */
  readonly replies: PingReply[] = [];
  /** Echo requests to send. */
  readonly count: number;
  /** Data bytes per request. */
  readonly size: number;
  /** Time between requests (ms). */
  readonly intervalMs: number;
  /** How long to wait for each reply (ms). */
  readonly timeoutMs: number;
  #sentAt: number[] = [];
  /** Per sequence: 0 outstanding, 1 answered, 2 timed out, 3 error. */
  #state: number[] = [];
  #duplicates = 0;
  #errors = 0;
  #lastSendMs = -Infinity;

  /**
   * Creates the bookkeeping for one ping run.
   *
   * @param options count, size, interval and timeout
   * @throws {TypeError} on out-of-range options
   */
  constructor(options: PingOptions = {}) {
    this.count = checkInt(options.count ?? DEFAULT_PING_COUNT, 1, 0xffff, "count");
    this.size = checkInt(options.size ?? DEFAULT_PING_SIZE, 0, MAX_PING_SIZE, "size");
    this.intervalMs = checkInt(
      options.intervalMs ?? DEFAULT_PING_INTERVAL_MS,
      0,
      3_600_000,
      "intervalMs",
    );
    this.timeoutMs = checkInt(
      options.timeoutMs ?? DEFAULT_PING_TIMEOUT_MS,
      1,
      3_600_000,
      "timeoutMs",
    );
  }

  /** Requests sent so far. */
  get transmitted(): number {
    return this.#sentAt.length;
  }

  /** True when every request is sent and answered, failed or timed out. */
  get done(): boolean {
    if (this.#sentAt.length < this.count) return false;
    for (const s of this.#state) if (s === 0) return false;
    return true;
  }

  /**
   * When the next echo request should go out.
   *
   * @returns when the next request is due (Infinity when all are sent)
   */
  nextSendMs(): number {
    if (this.#sentAt.length >= this.count) return Infinity;
    return this.#sentAt.length === 0 ? -Infinity : this.#lastSendMs + this.intervalMs;
  }

  /**
   * When the engine next has work.
   *
   * @returns the earliest time something happens (next send or next timeout), or Infinity
   */
  nextDeadline(): number {
    let t = this.nextSendMs();
    for (let i = 0; i < this.#state.length; i++) {
      if (this.#state[i] === 0) t = Math.min(t, this.#sentAt[i] + this.timeoutMs);
    }
    return t;
  }

  /**
   * Records a request sent now.
   *
   * @param nowMs current time
   * @returns its sequence number (0, 1, ...)
   */
  send(nowMs: number): number {
    const seq = this.#sentAt.length;
    this.#sentAt.push(nowMs);
    this.#state.push(0);
    this.#lastSendMs = nowMs;
    return seq;
  }

  /**
   * Records a reply.
   *
   * @param nowMs current time
   * @param sequence its sequence number (16-bit)
   * @param bytes data bytes in the reply
   * @returns the reply, or null for a duplicate, late or unknown one
   */
  onReply(nowMs: number, sequence: number, bytes: number): PingReply | null {
    if (sequence < 0 || sequence >= this.#sentAt.length) return null;
    const state = this.#state[sequence];
    if (state === 1) {
      this.#duplicates++;
      return null;
    }
    if (state !== 0) return null;
    const rttMs = nowMs - this.#sentAt[sequence];
    if (rttMs > this.timeoutMs) {
      this.#state[sequence] = 2;
      return null;
    }
    this.#state[sequence] = 1;
    const reply = { sequence, rttMs, bytes };
    this.replies.push(reply);
    return reply;
  }

  /**
   * Records an error for a request (e.g. host unreachable).
   *
   * @param sequence the request's sequence number
   */
  onError(sequence: number): void {
    if (sequence < 0 || sequence >= this.#state.length || this.#state[sequence] !== 0) return;
    this.#state[sequence] = 3;
    this.#errors++;
  }

  /**
   * Marks requests older than the timeout as lost.
   *
   * @param nowMs current time
   */
  onTimeout(nowMs: number): void {
    for (let i = 0; i < this.#state.length; i++) {
      if (this.#state[i] === 0 && nowMs - this.#sentAt[i] >= this.timeoutMs) this.#state[i] = 2;
    }
  }

  /**
   * Sums up the run like ping(8) does at its end.
   *
   * @returns the ping(8) summary so far
   */
  summary(): PingSummary {
    const n = this.replies.length;
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    let sumSq = 0;
    for (const r of this.replies) {
      min = Math.min(min, r.rttMs);
      max = Math.max(max, r.rttMs);
      sum += r.rttMs;
      sumSq += r.rttMs * r.rttMs;
    }
    const tx = this.#sentAt.length;
    const avg = n === 0 ? NaN : sum / n;
    return {
      transmitted: tx,
      received: n,
      duplicates: this.#duplicates,
      errors: this.#errors,
      lossPercent: tx === 0 ? 0 : (100 * (tx - n)) / tx,
      minMs: n === 0 ? NaN : min,
      avgMs: avg,
      maxMs: n === 0 ? NaN : max,
      // ping(8): mdev = sqrt(mean(rtt²) − mean(rtt)²).
      mdevMs: n === 0 ? NaN : Math.sqrt(Math.max(0, sumSq / n - avg * avg)),
    };
  }
}

function checkInt(value: number, min: number, max: number, name: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`ping option "${name}" must be an integer ${min}..${max}, got ${value}`);
  }
  return value;
}

/**
 * A ping run bound to an {@link IcmpLayer}: {@link poll} sends due requests
 * and expires old ones; replies arrive through the layer. The async wrapper
 * (`stack.ping`) polls it from the event loop until {@link done}.
 *
 * @example
 * ```ts
 * import { PingSession } from "./ping.ts";
 * console.assert(typeof PingSession === "function"); // see tests/iface/interface_test.ts
 * ```
 */
export class PingSession implements EchoListener {
  /** The bookkeeping. */
  readonly engine: PingEngine;
  /** The destination. */
  readonly dst: number;
  /** The echo identifier. */
  readonly identifier: number;
  /** Called for each in-time reply (optional). */
  onReply: ((reply: PingReply) => void) | null = null;
  readonly #icmp: IcmpLayer;
  #closed = false;

  /**
   * Creates a session and registers it for replies to `identifier`.
   *
   * @param icmp the ICMP layer
   * @param dst destination
   * @param identifier echo identifier (unique among live sessions)
   * @param options ping options
   */
  constructor(icmp: IcmpLayer, dst: number, identifier: number, options: PingOptions = {}) {
    this.engine = new PingEngine(options);
    this.#icmp = icmp;
    this.dst = dst;
    this.identifier = identifier & 0xffff;
    icmp.setEchoListener(this.identifier, this);
  }

  /** True when all requests are sent and answered or expired. */
  get done(): boolean {
    return this.engine.done;
  }

  /**
   * Sends due requests and expires old ones. Call at {@link nextDeadline}.
   *
   * @param nowMs current time
   */
  poll(nowMs: number): void {
    if (this.#closed) return;
    this.engine.onTimeout(nowMs);
    if (nowMs >= this.engine.nextSendMs()) {
      const seq = this.engine.send(nowMs);
      this.#icmp.sendEchoRequest(this.dst, this.identifier, seq & 0xffff, this.engine.size);
    }
    if (this.engine.done) this.close();
  }

  /**
   * When the session next needs {@link PingSession.poll}.
   *
   * @returns when {@link PingSession.poll} next has work
   */
  nextDeadline(): number {
    return this.#closed ? Infinity : this.engine.nextDeadline();
  }

  /** Stops listening for replies. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#icmp.setEchoListener(this.identifier, null);
  }

  /**
   * Records an echo reply from the destination (replies from elsewhere are ignored).
   *
   * @param nowMs arrival time
   * @param src the replying host
   * @param sequence echo sequence number
   * @param dataLength data bytes in the reply
   */
  onEchoReply(nowMs: number, src: number, sequence: number, dataLength: number): void {
    if (src !== this.dst) return;
    const reply = this.engine.onReply(nowMs, sequence, dataLength);
    if (reply !== null) this.onReply?.(reply);
    if (this.engine.done) this.close();
  }

  /**
   * Records an ICMP error about one of the requests (it counts as lost).
   *
   * @param _nowMs arrival time
   * @param _type ICMP type
   * @param _code ICMP code
   * @param sequence sequence number of the request concerned
   */
  onEchoError(_nowMs: number, _type: number, _code: number, sequence: number): void {
    this.engine.onError(sequence);
    if (this.engine.done) this.close();
  }
}
