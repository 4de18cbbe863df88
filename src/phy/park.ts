/**
 * How a file-descriptor driver (`AfPacketDevice`, `TapDevice`, `TunDevice`)
 * waits for a frame without blocking the event loop: spin on its readiness
 * check (a ring slot, a nonblocking read) for `spinMicros`, then — with
 * `busyPollMs`, while traffic is recent — keep checking between
 * `setImmediate` yields, then park in `ppoll()` (with the exact, sub-millisecond
 * timeout: {@link parkTimespec}; `poll()` when there is none) bound as a
 * nonblocking FFI call over the device's fd and an eventfd that `close()`
 * writes to wake it.
 * Owns the activity clock (last frame in or out), the poll set and the count
 * of parked waits.
 *
 * @module
 */

import { yieldToEventLoop } from "../time/clock.ts";
import { libc, RUSAGE_BYTES, RUSAGE_NIVCSW_OFFSET, RUSAGE_THREAD } from "./libc.ts";
import { EVENTFD_VALUE_BYTES, pollSet } from "./af_packet/layout.ts";

/** The counters a {@link Parker} keeps in its device's stats. */
export interface ParkStats {
  /** Waits that parked in poll(). */
  parks: number;
  /** Busy-poll yields to the event loop. */
  busyPollYields: number;
  /**
   * Busy-polls cut short because the thread was descheduled in the middle of a spin (another
   * task wanted the CPU): busy-polling then pauses for {@link BUSY_POLL_BACKOFF_MS}.
   */
  busyPollPreemptions: number;
}

/**
 * While busy-polling, `wait()` re-checks the ring synchronously for this many
 * microseconds between two yields to the event loop. A `setImmediate` yield
 * costs ≈5 µs in Deno 2.9 and lets timers, FFI promises and other I/O run;
 * a resolved-promise microtask lets nothing run; `setTimeout(0)` costs ≈2 ms,
 * a MessageChannel message ≈9 µs, a zero-timeout nonblocking poll() ≈7 µs
 * (measured in Deno 2.9.6 on a 2-core VM).
 */
export const BUSY_POLL_CHUNK_MICROS = 200;

/**
 * Busy polling stops when the thread was preempted: Linux's busy poll stops when the scheduler
 * wants the CPU (`napi_busy_loop` ends on `need_resched()`); from user space the preemption
 * itself is what shows — the thread's involuntary context switches (`getrusage(RUSAGE_THREAD)`
 * `ru_nivcsw`, read once per {@link BUSY_POLL_CHUNK_MICROS} chunk) grew, or, within a chunk, a
 * gap this long (ms) between two clock reads that otherwise come about a microsecond apart.
 * Spinning on a shared, busy machine takes the CPU from the very peer (or kernel work) whose
 * frames we wait for.
 */
export const BUSY_POLL_PREEMPTED_GAP_MS = 1;
/** How long busy-polling pauses after a preemption (ms); parking in poll() meanwhile. */
export const BUSY_POLL_BACKOFF_MS = 100;

/** Ring checks between two clock reads while spinning or busy-polling. */
const READY_CHECKS_PER_CLOCK_READ = 16;
const MICROS_PER_MS = 1000;
/** poll() timeout meaning "no timeout". */
const POLL_FOREVER = -1;
const NANOS_PER_MS = 1_000_000;
const MS_PER_SECOND = 1000;
/** `struct timespec`: tv_sec and tv_nsec, two 64-bit words (x86-64, aarch64). */
const TIMESPEC_WORDS = 2;

/**
 * The `struct timespec` a park of `timeoutMs` hands to ppoll(): the exact timeout, rounded up
 * to a nanosecond. poll()'s whole-millisecond timeout rounded a timer due in 0.2 ms up to 1 ms
 * and one due in 2.1 ms up to 3 ms — at a sub-millisecond RTT a tail loss probe or RACK reorder
 * timer then fired up to a millisecond (several RTTs) late (issue 19).
 *
 * @param timeoutMs finite, ≥ 0
 * @returns [tv_sec, tv_nsec]
 */
export function parkTimespec(timeoutMs: number): BigInt64Array {
  const nanos = Math.ceil(Math.max(0, timeoutMs) * NANOS_PER_MS);
  const seconds = Math.floor(nanos / (MS_PER_SECOND * NANOS_PER_MS));
  const spec = new BigInt64Array(TIMESPEC_WORDS);
  spec[0] = BigInt(seconds);
  spec[1] = BigInt(nanos - seconds * MS_PER_SECOND * NANOS_PER_MS);
  return spec;
}
/** Entries of the poll set: the packet socket and the eventfd. */
const POLL_SET_FDS = 2n;

/** What the parker asks of its device. */
export interface ParkHost {
  /** Whether a frame is ready right now (cheap: read per spin). */
  ready(): boolean;
  /** Whether `close()` was called. */
  readonly closed: boolean;
}

/** Waits for a device's frames (see the module documentation). */
export class Parker {
  /** A frame was transmitted since `wait()` last looked (cheaper than a clock read per frame). */
  txActivity = false;
  readonly #host: ParkHost;
  readonly #onUnpark: () => void;
  readonly #stats: ParkStats;
  readonly #eventFd: number;
  readonly #pollFds: Uint8Array;
  readonly #eventValue = new Uint8Array(new BigUint64Array([1n]).buffer);
  readonly #spinMs: number;
  readonly #busyPollMs: number;
  /** performance.now() of the last receive() that delivered frames (or saw a transmit). */
  #lastActivityMs = -Infinity;
  /** performance.now() before which busy-polling is off (a preemption was seen). */
  #busyPollOffUntilMs = -Infinity;
  /** getrusage()'s struct rusage, and its ru_nivcsw's low word (32 bits are plenty: compared). */
  readonly #rusage = new Uint8Array(RUSAGE_BYTES);
  readonly #rusageWords = new Int32Array(this.#rusage.buffer);
  #parked = 0;

  /**
   * @param host the device: readiness and whether it is closed
   * @param onUnpark called after each park in poll() ends (the device may then release its fds)
   * @param fd the device's file descriptor (packet socket, tun fd)
   * @param eventFd written by {@link wake}
   * @param spinMicros how long `wait()` spins before anything else
   * @param busyPollMs busy-poll window after the last activity (0: off)
   * @param stats the device's counters (parks, busyPollYields)
   */
  constructor(
    host: ParkHost,
    onUnpark: () => void,
    fd: number,
    eventFd: number,
    spinMicros: number,
    busyPollMs: number,
    stats: ParkStats,
  ) {
    this.#host = host;
    this.#onUnpark = onUnpark;
    this.#eventFd = eventFd;
    this.#pollFds = pollSet(fd, eventFd);
    this.#spinMs = spinMicros / MICROS_PER_MS;
    this.#busyPollMs = busyPollMs;
    this.#stats = stats;
  }

  /** Waits parked in poll() right now (the device's fds must stay open until none is). */
  get parked(): number {
    return this.#parked;
  }

  /** Notes that frames were received (starts the busy-poll window). */
  received(): void {
    if (this.#busyPollMs > 0) this.#lastActivityMs = performance.now();
  }

  /** This thread's involuntary context switches so far (low 32 bits; 0 if getrusage fails). */
  #involuntarySwitches(): number {
    if (libc().getrusage(RUSAGE_THREAD, this.#rusage) !== 0) return 0;
    return this.#rusageWords[RUSAGE_NIVCSW_OFFSET >>> 2];
  }

  /** Wakes every parked poll() (the device is closing). */
  wake(): void {
    libc().write(this.#eventFd, this.#eventValue, BigInt(EVENTFD_VALUE_BYTES));
  }

  /**
   * Resolves when a frame is ready, after `timeoutMs`, or on close; never
   * blocks. The caller has checked that no frame is ready yet.
   *
   * @param timeoutMs longest wait
   */
  async wait(timeoutMs: number): Promise<void> {
    const host = this.#host;
    const start = performance.now();
    const deadline = start + Math.max(0, timeoutMs);
    const spinEnd = start + Math.min(this.#spinMs, Math.max(0, timeoutMs));
    // A clock read (an op call) costs more than a ring check: read it every few checks.
    do {
      for (let i = 0; i < READY_CHECKS_PER_CLOCK_READ; i++) if (host.ready()) return;
    } while (performance.now() < spinEnd);
    if (host.closed || !(timeoutMs > 0)) return;
    if (this.#busyPollMs > 0 && start >= this.#busyPollOffUntilMs) {
      if (this.txActivity) {
        this.txActivity = false;
        this.#lastActivityMs = start;
      }
      // Busy-poll: keep checking the ring while traffic is recent, yielding to
      // the event loop between short synchronous spins (BUSY_POLL_CHUNK_MICROS).
      const chunkMs = BUSY_POLL_CHUNK_MICROS / MICROS_PER_MS;
      let now = performance.now();
      let switches = this.#involuntarySwitches();
      busy: while (now < deadline && now - this.#lastActivityMs < this.#busyPollMs) {
        this.#stats.busyPollYields++;
        await yieldToEventLoop();
        if (host.closed) return;
        if (this.txActivity) {
          this.txActivity = false;
          this.#lastActivityMs = now;
        }
        let before = performance.now();
        const chunkEnd = before + chunkMs;
        do {
          // A clock read (an op call) costs more than a ring check: read it every few checks.
          for (let i = 0; i < READY_CHECKS_PER_CLOCK_READ; i++) if (host.ready()) return;
          now = performance.now();
          if (now - before > BUSY_POLL_PREEMPTED_GAP_MS) {
            // Descheduled mid-spin: the CPU is wanted elsewhere. Park instead, for a while.
            this.#stats.busyPollPreemptions++;
            this.#busyPollOffUntilMs = now + BUSY_POLL_BACKOFF_MS;
            break busy;
          }
          before = now;
        } while (now < chunkEnd);
        const s = this.#involuntarySwitches();
        if (s !== switches) {
          // Preempted in this chunk or its yield: the CPU is wanted elsewhere.
          this.#stats.busyPollPreemptions++;
          this.#busyPollOffUntilMs = now + BUSY_POLL_BACKOFF_MS;
          break;
        }
        switches = s;
      }
    }
    const remaining = deadline - performance.now();
    if (remaining <= 0) return;
    this.#parked++;
    this.#stats.parks++;
    try {
      if (remaining === Infinity) {
        await libc().pollNonblocking(this.#pollFds, POLL_SET_FDS, POLL_FOREVER);
      } else {
        // The exact timeout (parkTimespec); a fresh timespec per park: it must outlive the call.
        await libc().ppollNonblocking(this.#pollFds, POLL_SET_FDS, parkTimespec(remaining), null);
      }
    } finally {
      this.#parked--;
      this.#onUnpark();
    }
  }
}
