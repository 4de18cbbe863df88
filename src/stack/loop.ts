/**
 * The scheduling of {@link Stack}'s one event loop: {@link StackLoop} runs
 * iterations (the stack's `poll()`), yields when busy, parks until the earlier
 * of the next deadline and the device becoming readable with at most one
 * `device.wait()` outstanding, is woken by `kick()`, and defers the flushes of
 * a batching device to the end of a turn (`afterSend`). {@link LoopSink} is
 * the device's frame sink: frames to the interface, handler exceptions counted.
 * What an iteration runs (receive, timers, services) stays in src/stack.ts.
 *
 * @module
 */

import type { Device, FrameSink } from "../phy/device.ts";
import { type Clock, TAGGED_TIME_SEED, yieldToEventLoop } from "../time/clock.ts";
import type { NetworkInterface } from "../iface/interface.ts";
import type { LoopStats } from "./options.ts";

/** Frames taken from the device per loop iteration before timers run again. */
export const DEFAULT_RX_BUDGET = 64;
/** Busy iterations (budget exhausted) in a row before the loop yields to other macrotasks. */
const BUSY_ITERATIONS_BEFORE_YIELD = 32;
/**
 * Microtask turns the loop yields after a batch with input and before it parks, so that
 * application code woken by the input (a read resolving, the reply written) runs first.
 */
const POST_INPUT_MICROTASK_TURNS = 8;
/** Longest single park (ms) when nothing is scheduled: bounds a lost wake-up. */
const MAX_PARK_MS = 1000;

/** What the loop drives: the stack, seen from its scheduler. */
export interface LoopHost {
  /** The device the loop waits on and flushes. */
  readonly device: Device;
  /** The time source. */
  readonly clock: Clock;
  /** Whether the stack was closed (the loop then exits). */
  readonly closed: boolean;
  /** The loop's counters. */
  readonly loopStats: LoopStats;
  /** One iteration: receive a batch, run due timers, flush; returns frames received. */
  poll(): number;
  /** The earliest deadline of the stack's timed work (Infinity: none). */
  nextDeadline(): number;
  /** Closes the stack (the loop calls it when the device closed under it). */
  close(): Promise<void>;
  /** Counts an exception caught in the loop. */
  handlerError(error: unknown): void;
}

/** What the sink reads to know that a timed segment left since the clock was last read. */
export interface TimedSendCounter {
  /** Segments sent that occupy sequence space (data, SYN, FIN): each is timed for RTT. */
  readonly seqSegmentsOut: number;
}

/**
 * The device sink: hands frames to the interface and keeps handler exceptions in.
 *
 * Time per frame: one clock reading per batch ({@link begin}) serves every frame, except
 * that a frame following a timed TCP send reads the clock afresh. On veth the peer's ACK
 * of a segment can already be in the ring while the same batch continues (the kernel runs
 * the receiver inside our `sendmsg`); with one reading per batch that ACK would be handled
 * at the send's own timestamp and give an RTT sample of 0 (RFC 6298 §2 and RFC 8985 §6.2
 * then lose their meaning). Frames that follow only pure ACKs keep the batch's reading.
 */
export class LoopSink implements FrameSink {
  /** The loop's time for the frames being received (tagged: see TAGGED_TIME_SEED). */
  nowMs: number = TAGGED_TIME_SEED;
  #iface: NetworkInterface;
  readonly #host: Pick<LoopHost, "handlerError" | "clock">;
  readonly #interfaces: readonly NetworkInterface[];
  readonly #sends: TimedSendCounter;
  /** `seqSegmentsOut` when the clock was last read. */
  #sendsAtReading = 0;
  /**
   * Creates the sink.
   *
   * @param interfaces the stack's interfaces (the first receives unless a device group selects)
   * @param host where handler exceptions are counted, and the clock
   * @param sends the TCP layer's counter of timed segments sent
   */
  constructor(
    interfaces: readonly NetworkInterface[],
    host: Pick<LoopHost, "handlerError" | "clock">,
    sends: TimedSendCounter,
  ) {
    this.nowMs = 0;
    this.#iface = interfaces[0];
    this.#interfaces = interfaces;
    this.#host = host;
    this.#sends = sends;
  }
  /** A batch begins at `nowMs` (the loop's reading for this iteration). */
  begin(nowMs: number): void {
    this.nowMs = nowMs;
    this.#sendsAtReading = this.#sends.seqSegmentsOut;
  }
  /** The batch ended: the time after its last frame (read afresh if a timed segment left). */
  end(): number {
    this.#refresh();
    return this.nowMs;
  }
  /** Reads the clock again when a timed segment left since the last reading. */
  #refresh(): void {
    const sent = this.#sends.seqSegmentsOut;
    if (sent !== this.#sendsAtReading) {
      this.#sendsAtReading = sent;
      const now = this.#host.clock.now();
      // A clock never runs backwards here, but keep the loop's time monotonic regardless.
      if (now > this.nowMs) this.nowMs = now;
    }
  }
  /** With several interfaces (a DeviceGroup): the frames that follow are interface `i`'s. */
  selectMember(i: number): void {
    this.#iface = this.#interfaces[i];
  }
  /** Hands one frame to the selected interface. */
  onFrame(bytes: Uint8Array, offset: number, length: number): void {
    this.#refresh();
    try {
      this.#iface.receiveDeviceFrame(this.nowMs, bytes, offset, length);
    } catch (e) {
      this.#host.handlerError(e);
    }
  }
}

/** The event loop's scheduling: run, park, kick, and the turn of deferred flushes. */
export class StackLoop {
  readonly #host: LoopHost;
  readonly #device: Device;
  readonly #rxBudget: number;
  /** The loop runs and the device gathers frames until flushed (`txBatching`): defer flushes. */
  readonly #deferFlush: boolean;
  #running: Promise<void> | null = null;
  // Parking state.
  #parked = false;
  #parkedUntil = Infinity;
  /** Application sends since the last loop iteration or turn end (see {@link afterSend}). */
  #turnSends = 0;
  #turnEnd: ReturnType<typeof setImmediate> | undefined = undefined;
  #wake: (() => void) | null = null;
  #deviceWait: Promise<void> | null = null;
  #deviceWaitUntil = Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined = undefined;
  #dueSpins = 0;

  /**
   * Creates the scheduler (the loop starts with {@link start}).
   *
   * @param host the stack
   * @param rxBudget frames per receive batch
   * @param deferFlush whether the loop will run over a device that gathers frames
   */
  constructor(host: LoopHost, rxBudget: number, deferFlush: boolean) {
    this.#host = host;
    this.#device = host.device;
    this.#rxBudget = rxBudget;
    this.#deferFlush = deferFlush;
  }

  /** The running loop (settles when it exits), or null when it was never started. */
  get running(): Promise<void> | null {
    return this.#running;
  }

  /** The outstanding device wait, or null. */
  get deviceWait(): Promise<void> | null {
    return this.#deviceWait;
  }

  /** Starts the loop. */
  start(): void {
    this.#running = this.#run();
  }

  /** An iteration ran: the next application send leaves at once. */
  iterated(): void {
    this.#turnSends = 0;
  }

  /**
   * Wakes a parked loop when work is due earlier than it planned to wake (see
   * `Stack.kick`): a deadline, or a flush to retry frames the device refused
   * (`txRetryDelayMs`, e.g. a send that found the interface's queue full).
   */
  kick(): void {
    if (!this.#parked) return;
    const host = this.#host;
    const retryMs = this.#device.txRetryDelayMs;
    if (
      host.closed || host.nextDeadline() < this.#parkedUntil ||
      (retryMs !== undefined && retryMs !== Infinity &&
        host.clock.now() + retryMs < this.#parkedUntil)
    ) {
      host.loopStats.kicks++;
      this.wakeUp();
    }
  }

  /** After an application transmit: flush now or at the turn's end (see `Stack.afterSend`). */
  afterSend(): void {
    if (!this.#deferFlush) {
      this.#device.flush();
    } else if (!(this.#device.txPending === 0)) {
      // Only calls that queued frames count: a read() that sent no window update does not
      // make the reply written after it wait.
      if (this.#turnSends++ === 0) this.#device.flush();
      // A running loop flushes at its next iteration; a parked one needs the turn's end.
      if (this.#parked && this.#turnEnd === undefined) {
        this.#turnEnd = setImmediate(this.#endTurn);
      }
    }
    this.kick();
  }

  /** Ends a turn of application sends: flushes what a batching device still holds. */
  readonly #endTurn = (): void => {
    this.#turnEnd = undefined;
    this.#turnSends = 0;
    if (!this.#host.closed) this.#device.flush();
  };

  /** Cancels the park timer and a pending end of turn (the stack is closing). */
  stop(): void {
    this.#clearTimer();
    if (this.#turnEnd !== undefined) {
      clearImmediate(this.#turnEnd);
      this.#turnEnd = undefined;
    }
  }

  async #run(): Promise<void> {
    const host = this.#host;
    let busy = 0;
    while (!host.closed) {
      const frames = host.poll();
      if (host.closed) break;
      if (this.#device.closed === true) {
        // Closed under us (by its owner, a test's teardown): its wait() would return at once
        // forever, a microtask spin that starves every timer and I/O callback. Shut down as
        // if close() had been called; sockets see the stack closed.
        host.loopStats.deviceClosed = true;
        host.close().catch((e) => host.handlerError(e));
        return;
      }
      if (frames >= this.#rxBudget) {
        // More frames are probably ready: go again, but let other tasks run now and then.
        if (++busy >= BUSY_ITERATIONS_BEFORE_YIELD) {
          busy = 0;
          // A macrotask yield that lets timers and I/O run: `setImmediate` costs ≈5 µs in
          // Deno 2.9 where `setTimeout(0)` costs ≈1–2 ms (the ring fills meanwhile).
          await yieldToEventLoop();
        } else {
          await Promise.resolve();
        }
        continue;
      }
      busy = 0;
      if (frames > 0) {
        // Let the application react to what just arrived before parking: the device's
        // wait() may spin synchronously first (AfPacketDevice: spinMicros), and an echo
        // reply queued behind it in the microtask queue would wait out that spin. Each
        // `await` gives every promise chain the input woke one more step (a read()
        // resolving into the caller's next write() takes about three).
        for (let i = 0; i < POST_INPUT_MICROTASK_TURNS; i++) await null;
        if (host.closed) break;
      }
      await this.#park();
    }
  }

  /** Waits for the device, the next deadline or a kick, keeping one device wait outstanding. */
  async #park(): Promise<void> {
    const now = this.#host.clock.now();
    const deadline = this.#host.nextDeadline();
    // Frames the device refused for now (a full queue) are retried by the next iteration's flush.
    const retryMs = this.#device.txRetryDelayMs ?? Infinity;
    const timeoutMs = Math.max(0, Math.min(deadline - now, MAX_PARK_MS, retryMs));
    if (timeoutMs === 0) {
      // Work is due now. A deadline that stays in the past must not turn the
      // loop into a microtask spin that starves timers and I/O.
      if (++this.#dueSpins >= BUSY_ITERATIONS_BEFORE_YIELD) {
        this.#dueSpins = 0;
        await new Promise<void>((r) => setTimeout(r, 0));
      } else {
        await Promise.resolve();
      }
      return;
    }
    this.#dueSpins = 0;
    if (this.#deviceWait === null) {
      this.#deviceWaitUntil = now + timeoutMs;
      // The device wait outlives a park that a kick ends early; whichever park is current
      // when it settles is woken (no Promise.race per park: it allocates an array, an
      // iterator and a reaction per contender).
      const w = this.#device.wait(timeoutMs).then(
        () => {
          if (this.#deviceWait === w) this.#deviceWait = null;
          this.wakeUp();
        },
        (e) => {
          if (this.#deviceWait === w) this.#deviceWait = null;
          this.#host.handlerError(e);
          this.wakeUp();
        },
      );
      this.#deviceWait = w;
    }
    if (this.#deviceWait === null) return; // the wait settled synchronously (cannot, but stay safe)
    const wake = new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
    // A reused device wait may end later than our deadline: a timer covers the gap.
    if (this.#deviceWaitUntil > now + timeoutMs + 1) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.wakeUp();
      }, timeoutMs);
    }
    this.#parked = true;
    this.#parkedUntil = now + timeoutMs;
    this.#host.loopStats.parks++;
    try {
      await wake;
    } finally {
      this.#parked = false;
      this.#wake = null;
      this.#clearTimer();
    }
  }

  /** Ends the current park, if any. */
  wakeUp(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}
