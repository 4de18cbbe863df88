/**
 * A transmit thread for {@link AfPacketDevice}: a Deno `Worker` that calls
 * `sendmmsg()` on batches the JavaScript thread staged, so the kernel's work
 * per frame (on veth it includes the peer's receive path, ≈0.85 µs a frame
 * here) runs on another core while the stack builds the next batch — the
 * way a NIC's DMA engine takes descriptors from a driver's TX ring.
 *
 * The two threads share, through `SharedArrayBuffer`s, the `mmsghdr` array
 * (its iovecs point into staging slots of the packet arena; native memory
 * is one address space, so the worker passes the same addresses to the
 * kernel), a single-producer single-consumer queue of submissions
 * (`[first message, count]`), two counters and the worker's results. No
 * message crosses the event loop per batch: the JavaScript thread publishes
 * a submission with `Atomics.store`, wakes the worker with `Atomics.notify`
 * only when it sleeps in `Atomics.wait`, and learns of completions by
 * reading the worker's counter. Order is kept: the worker sends
 * submissions in order, and the device sends on its own thread only when
 * nothing is submitted and unsent ({@link TxThread.idle}).
 *
 * A full queue is not a loss here either (as for runs sent from the
 * JavaScript thread, tx_batch.ts): when the kernel refuses a run with EAGAIN
 * or ENOBUFS, the worker keeps the frames it did not take, says so
 * ({@link TxThread.refused}, `deferred`), sleeps {@link TX_RETRY_MS} and
 * tries them again, before anything submitted after them. Their slots stay
 * in its hands meanwhile, so the staging area is the bound; the device then
 * drops new frames instead of waiting for room that a refusing queue does not
 * make (`txQueueFullDrops`) — after asking the worker for one retry at once,
 * as the JavaScript thread retries its own refused frames before it drops
 * a new one. After {@link TxThread.close} a refused run is
 * retried for {@link TX_THREAD_CLOSE_GRACE_MS} at most, then dropped (counted),
 * so closing never waits long on a full queue.
 *
 * The JavaScript thread waits for the worker only when every staging slot is
 * in its hands: it spins {@link TX_THREAD_SPIN_MICROS}, then sleeps in
 * `Atomics.wait` and the worker wakes it when it finishes a submission (or is
 * refused), so the wait leaves the core to the worker and the kernel's work
 * in its `sendmmsg()` calls.
 *
 * The worker's source is a string loaded from a `blob:` URL, so the thread
 * starts the same whether rawstack was imported from a file or a URL (no
 * module fetch at run time, no import permission).
 *
 * @module
 */

import { EAGAIN, ENOBUFS } from "./libc.ts";

/** Control words (Int32Array indexes). */
const SUBMITTED = 0;
const DONE = 1;
const STOP = 2;
/** 1 while the worker sleeps in `Atomics.wait` for the next submission. */
const SLEEPING = 3;
/** 1 once the device closes: a refused run is dropped instead of retried. */
const CLOSING = 4;
/** 1 while the worker holds a run the kernel refused (EAGAIN/ENOBUFS), retrying it. */
const REFUSED = 5;
/** 1 while the JavaScript thread sleeps in `Atomics.wait` for the worker to finish one. */
const WAITER = 6;
/** Refused `sendmmsg()` calls so far (the JavaScript thread asks for one retry, then drops). */
const REFUSALS = 7;
const CONTROL_WORDS = 8;

/** Result slots (Float64Array indexes), written by the worker only. */
const RESULT_FRAMES = 0;
const RESULT_BYTES = 1;
const RESULT_ERRORS = 2;
const RESULT_LAST_ERRNO = 3;
const RESULT_DROPPED = 4;
const RESULT_DEFERRED = 5;
const RESULT_SLOTS = 6;

/** Int32 words per queued submission: first message index, message count. */
const QUEUE_ENTRY_WORDS = 2;

/**
 * How long the worker keeps checking for the next submission before it
 * sleeps in `Atomics.wait` (a futex wake-up then costs the submitter a
 * system call). While the JavaScript thread keeps the staging area full the
 * worker never waits; between the bursts of a TCP flow a longer spin only
 * takes the core from the kernel's receive path and the receiving
 * application: bulk TCP to a kernel receiver measured 2.5 Gbit/s with 200 µs,
 * 3.4–3.5 with 0–20 µs; sending UDP did not change.
 */
export const TX_THREAD_SPIN_MICROS = 20;

/**
 * How soon (ms) a run the kernel refused is tried again, by the worker and
 * by a device holding refused frames on the JavaScript thread (tx_batch.ts).
 * ENOBUFS (a full qdisc or peer backlog) raises no readiness event — POLLOUT
 * stays set, the socket's buffer is not what is full — so the retry is
 * timed: a 32-frame batch of 1514-byte frames takes ≈0.4 ms to leave at
 * 1 Gbit/s, so by then part of the queue has drained.
 */
export const TX_RETRY_MS = 0.25;

/** What {@link TxThread.waitForRoom} saw: fewer submissions than asked are unsent. */
export const WAIT_ROOM = 0;
/** {@link TxThread.waitForRoom}: the worker holds a refused run (no room comes soon). */
export const WAIT_REFUSED = 1;
/** {@link TxThread.waitForRoom}: no progress for {@link TX_THREAD_STALL_MS}. */
export const WAIT_STALLED = 2;
/** A result of {@link TxThread.waitForRoom}. */
export type WaitResult = typeof WAIT_ROOM | typeof WAIT_REFUSED | typeof WAIT_STALLED;

/** How long {@link TxThread.start} waits for the worker to report ready. */
export const TX_THREAD_START_TIMEOUT_MS = 10_000;

/**
 * A wait for the worker longer than this means it is gone (it never blocks:
 * its `sendmmsg()` calls are MSG_DONTWAIT); the device stops using it.
 */
export const TX_THREAD_STALL_MS = 2_000;

/**
 * After {@link TxThread.close}, how long (ms) the worker keeps retrying a run the kernel
 * refuses before it drops it: a veth peer's backlog that is full for a moment (ksoftirqd late
 * on a loaded machine) drains within a few retries, so closing does not lose what was staged
 * just before; a queue that stays full still cannot hold the close up for long. Well below
 * {@link TX_THREAD_STALL_MS}.
 */
export const TX_THREAD_CLOSE_GRACE_MS = 20;

// The worker: plain JavaScript (a blob: URL is not type-checked or transpiled).
const WORKER_SOURCE = `
const SUBMITTED = ${SUBMITTED}, DONE = ${DONE}, STOP = ${STOP}, SLEEPING = ${SLEEPING};
const CLOSING = ${CLOSING}, REFUSED = ${REFUSED}, WAITER = ${WAITER}, REFUSALS = ${REFUSALS};
const RESULT_FRAMES = ${RESULT_FRAMES}, RESULT_BYTES = ${RESULT_BYTES};
const RESULT_ERRORS = ${RESULT_ERRORS}, RESULT_LAST_ERRNO = ${RESULT_LAST_ERRNO};
const RESULT_DROPPED = ${RESULT_DROPPED}, RESULT_DEFERRED = ${RESULT_DEFERRED};
const EAGAIN = ${EAGAIN}, ENOBUFS = ${ENOBUFS};
self.onmessage = (event) => {
  const { fd, control, queue, results, msgs, mmsgHdrBytes, msgLenOffset, flags, spinMicros,
    retryMs, closeGraceMs } = event.data;
  /** When a refused run is given up once closing (performance.now() ms; Infinity: not yet). */
  let closeDeadline = Infinity;
  const lib = Deno.dlopen("libc.so.6", {
    sendmmsg: { parameters: ["i32", "u64", "u32", "i32"], result: "i32" },
    __errno_location: { parameters: [], result: "pointer" },
  });
  const errnoView = new Deno.UnsafePointerView(lib.symbols.__errno_location());
  const c = new Int32Array(control);
  const q = new Int32Array(queue);
  const r = new Float64Array(results);
  const msgWords = new Uint32Array(msgs);
  const msgsAddress = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(new Uint8Array(msgs))));
  const depth = q.length / ${QUEUE_ENTRY_WORDS};
  const spinMs = spinMicros / 1000;
  // Wakes the JavaScript thread when it sleeps waiting for a slot (Dekker-style with its WAITER).
  const wakeWaiter = () => {
    if (Atomics.load(c, WAITER) !== 0) Atomics.notify(c, DONE, 1);
  };
  self.postMessage("ready");
  let done = 0;
  for (;;) {
    if (Atomics.load(c, SUBMITTED) === done) {
      const spinEnd = performance.now() + spinMs;
      let spins = 0;
      while (Atomics.load(c, SUBMITTED) === done && Atomics.load(c, STOP) === 0) {
        if ((++spins & 63) === 0 && performance.now() > spinEnd) {
          // Dekker-style: announce the sleep, then look again before sleeping.
          Atomics.store(c, SLEEPING, 1);
          if (Atomics.load(c, SUBMITTED) === done && Atomics.load(c, STOP) === 0) {
            Atomics.wait(c, SUBMITTED, done);
          }
          Atomics.store(c, SLEEPING, 0);
        }
      }
      if (Atomics.load(c, STOP) !== 0 && Atomics.load(c, SUBMITTED) === done) break;
    }
    const entry = (done % depth) * ${QUEUE_ENTRY_WORDS};
    const first = q[entry];
    const count = q[entry + 1];
    let sent = 0;
    while (sent < count) {
      const n = lib.symbols.sendmmsg(
        fd,
        BigInt(msgsAddress + (first + sent) * mmsgHdrBytes),
        count - sent,
        flags,
      );
      if (n > 0) {
        let bytes = 0;
        for (let k = first + sent; k < first + sent + n; k++) {
          bytes += msgWords[(k * mmsgHdrBytes + msgLenOffset) >>> 2];
        }
        r[RESULT_BYTES] += bytes;
        r[RESULT_FRAMES] += n;
        sent += n;
        continue;
      }
      const err = n < 0 ? errnoView.getInt32() : 0;
      r[RESULT_LAST_ERRNO] = err;
      if (err === EAGAIN || err === ENOBUFS) {
        // A full queue: keep the frames, in order, and try them again after retryMs (nothing
        // submitted after them goes first). Closing, they are retried for closeGraceMs at
        // most, then dropped (counted below).
        if (Atomics.load(c, CLOSING) !== 0) {
          if (closeDeadline === Infinity) closeDeadline = performance.now() + closeGraceMs;
          if (performance.now() >= closeDeadline) break;
          Atomics.wait(c, STOP, 0, retryMs);
          continue;
        }
        r[RESULT_DEFERRED] += count - sent;
        if (Atomics.load(c, REFUSED) === 0) Atomics.store(c, REFUSED, 1);
        Atomics.add(c, REFUSALS, 1);
        wakeWaiter();
        // Woken early by close(), or by a JavaScript thread that needs a slot now.
        Atomics.wait(c, REFUSED, 1, retryMs);
        continue;
      }
      r[RESULT_ERRORS]++;
      break;
    }
    r[RESULT_DROPPED] += count - sent;
    if (Atomics.load(c, REFUSED) !== 0) Atomics.store(c, REFUSED, 0);
    Atomics.store(c, DONE, ++done);
    wakeWaiter();
  }
  lib.close();
  self.close();
};
`;

/** What the worker did since the last {@link TxThread.takeResults}. */
export interface TxThreadResults {
  frames: number;
  bytes: number;
  errors: number;
  /**
   * errno of the worker's last failed or refused `sendmmsg()` (0 when none
   * failed or was refused since the last take).
   */
  lastErrno: number;
  dropped: number;
  /**
   * Frames the kernel refused for now (EAGAIN/ENOBUFS), kept and tried again
   * in order; a frame refused twice counts twice. Not in `errors` or `dropped`.
   */
  deferred: number;
}

/** Where the worker finds the batches: see {@link TxThread.start}. */
export interface TxThreadSetup {
  /** The packet socket. */
  fd: number;
  /** The `mmsghdr` array (with its iovecs) the device writes and the worker sends from. */
  msgs: SharedArrayBuffer;
  /** sizeof(struct mmsghdr). */
  mmsgHdrBytes: number;
  /** Offset of `msg_len` in a `struct mmsghdr`. */
  msgLenOffset: number;
  /** `sendmmsg()` flags. */
  flags: number;
  /** Submissions that may be queued at once. */
  depth: number;
}

/** The JavaScript thread's side of the transmit worker (see the module doc). */
export class TxThread {
  readonly #worker: Worker;
  readonly #control: Int32Array;
  readonly #queue: Int32Array;
  readonly #results: Float64Array;
  readonly #taken = new Float64Array(RESULT_SLOTS);
  readonly #depth: number;
  #submitted = 0;
  #stopped = false;

  private constructor(
    worker: Worker,
    control: Int32Array,
    queue: Int32Array,
    results: Float64Array,
  ) {
    this.#worker = worker;
    this.#control = control;
    this.#queue = queue;
    this.#results = results;
    this.#depth = queue.length / QUEUE_ENTRY_WORDS;
  }

  /**
   * Starts the worker and waits until it has loaded libc.
   *
   * @param setup the socket and the shared message array
   * @returns the running thread
   * @throws Error when the worker cannot start (no Worker support, no FFI
   *   permission in it) or does not report ready in {@link TX_THREAD_START_TIMEOUT_MS}
   */
  static async start(setup: TxThreadSetup): Promise<TxThread> {
    const control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
    const queue = new Int32Array(new SharedArrayBuffer(setup.depth * QUEUE_ENTRY_WORDS * 4));
    const results = new Float64Array(new SharedArrayBuffer(RESULT_SLOTS * 8));
    const url = URL.createObjectURL(
      new Blob([WORKER_SOURCE], { type: "application/javascript" }),
    );
    let worker: Worker;
    try {
      worker = new Worker(url, { type: "module", name: "rawstack-tx" });
    } finally {
      URL.revokeObjectURL(url);
    }
    const thread = new TxThread(worker, control, queue, results);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        worker.onmessage = () => resolve();
        worker.onerror = (e) => {
          e.preventDefault();
          reject(new Error(`transmit worker failed: ${e.message}`));
        };
        timer = setTimeout(
          () => reject(new Error(`transmit worker not ready in ${TX_THREAD_START_TIMEOUT_MS} ms`)),
          TX_THREAD_START_TIMEOUT_MS,
        );
        worker.postMessage({
          fd: setup.fd,
          control: control.buffer,
          queue: queue.buffer,
          results: results.buffer,
          msgs: setup.msgs,
          mmsgHdrBytes: setup.mmsgHdrBytes,
          msgLenOffset: setup.msgLenOffset,
          flags: setup.flags,
          spinMicros: TX_THREAD_SPIN_MICROS,
          retryMs: TX_RETRY_MS,
          closeGraceMs: TX_THREAD_CLOSE_GRACE_MS,
        });
      });
    } catch (e) {
      worker.terminate();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    worker.onmessage = null;
    return thread;
  }

  /** Submissions the worker has finished. */
  get done(): number {
    return Atomics.load(this.#control, DONE);
  }

  /** Submissions made so far. */
  get submitted(): number {
    return this.#submitted;
  }

  /** Whether every submission was sent (the device may then send on its own thread). */
  get idle(): boolean {
    return Atomics.load(this.#control, DONE) === this.#submitted;
  }

  /**
   * Queues `count` messages starting at message `first` of the shared array.
   * At most `depth` submissions may be unfinished (the device gives it one
   * entry per staging slot, so it cannot run out); the messages' slots must stay
   * untouched until {@link done} passes this submission's number
   * (`submitted` before the call).
   */
  submit(first: number, count: number): void {
    const entry = (this.#submitted % this.#depth) * QUEUE_ENTRY_WORDS;
    this.#queue[entry] = first;
    this.#queue[entry + 1] = count;
    Atomics.store(this.#control, SUBMITTED, ++this.#submitted);
    if (Atomics.load(this.#control, SLEEPING) !== 0) Atomics.notify(this.#control, SUBMITTED, 1);
  }

  /**
   * Whether the worker holds a run the kernel refused for now (EAGAIN/ENOBUFS)
   * and is waiting to try it again.
   */
  get refused(): boolean {
    return Atomics.load(this.#control, REFUSED) !== 0;
  }

  /**
   * Waits until fewer than `outstanding` submissions are unsent (1: all
   * sent). Returns false when the worker made no progress for
   * {@link TX_THREAD_STALL_MS} (a refused run it keeps retrying included).
   */
  waitBelow(outstanding: number): boolean {
    return this.#wait(outstanding, false) === WAIT_ROOM;
  }

  /**
   * Waits until fewer than `outstanding` submissions are unsent, unless the
   * worker holds a refused run: room then comes only as fast as the
   * kernel's queue drains, and the caller drops instead of waiting
   * (back-pressure as a full qdisc gives it).
   *
   * @returns {@link WAIT_ROOM}, {@link WAIT_REFUSED} or {@link WAIT_STALLED}
   */
  waitForRoom(outstanding: number): WaitResult {
    return this.#wait(outstanding, true);
  }

  /**
   * Spins {@link TX_THREAD_SPIN_MICROS}, then sleeps in `Atomics.wait` until
   * the worker finishes a submission (it wakes this thread: WAITER).
   */
  #wait(outstanding: number, stopWhenRefused: boolean): WaitResult {
    const c = this.#control;
    let done = Atomics.load(c, DONE);
    if (this.#submitted - done < outstanding) return WAIT_ROOM;
    let since = performance.now();
    const spinEnd = since + TX_THREAD_SPIN_MICROS / 1000;
    /** REFUSALS when the worker was asked for a retry at once; -1: not asked yet. */
    let retried = -1;
    for (;;) {
      const now = Atomics.load(c, DONE);
      if (this.#submitted - now < outstanding) return WAIT_ROOM;
      if (stopWhenRefused && Atomics.load(c, REFUSED) !== 0) {
        const refusals = Atomics.load(c, REFUSALS);
        if (retried === -1) {
          // One retry now (it may find the queue drained), then give up on room.
          retried = refusals;
          Atomics.notify(c, REFUSED, 1);
        } else if (refusals !== retried) {
          return WAIT_REFUSED;
        }
      }
      const t = performance.now();
      if (now !== done) {
        done = now;
        since = t;
      } else if (t - since > TX_THREAD_STALL_MS) {
        return WAIT_STALLED;
      }
      if (t > spinEnd) {
        // Dekker-style (as the worker's sleep): announce, look again, then sleep until the
        // worker finishes a submission or is refused (it wakes this thread after either).
        Atomics.store(c, WAITER, 1);
        if (
          Atomics.load(c, DONE) === now &&
          (retried === -1 || Atomics.load(c, REFUSALS) === retried)
        ) {
          Atomics.wait(c, DONE, now, TX_THREAD_STALL_MS - (t - since));
        }
        Atomics.store(c, WAITER, 0);
      }
    }
  }

  /** What the worker counted since the last call. */
  takeResults(): TxThreadResults {
    const r = this.#results;
    const t = this.#taken;
    const out: TxThreadResults = {
      frames: r[RESULT_FRAMES] - t[RESULT_FRAMES],
      bytes: r[RESULT_BYTES] - t[RESULT_BYTES],
      errors: r[RESULT_ERRORS] - t[RESULT_ERRORS],
      lastErrno: r[RESULT_ERRORS] !== t[RESULT_ERRORS] || r[RESULT_DEFERRED] !== t[RESULT_DEFERRED]
        ? r[RESULT_LAST_ERRNO]
        : 0,
      dropped: r[RESULT_DROPPED] - t[RESULT_DROPPED],
      deferred: r[RESULT_DEFERRED] - t[RESULT_DEFERRED],
    };
    t.set(r);
    return out;
  }

  /**
   * From now on a run the kernel refuses is retried for at most
   * {@link TX_THREAD_CLOSE_GRACE_MS}, then dropped (counted): what was
   * submitted leaves, or is given up, without waiting long on a full queue.
   * Wakes a worker sleeping before a retry. Idempotent.
   */
  close(): void {
    Atomics.store(this.#control, CLOSING, 1);
    Atomics.notify(this.#control, REFUSED, 1);
  }

  /**
   * Stops the worker; with `drain` (default) after it sent what was
   * submitted (unless it stalls; refused runs are then dropped, see
   * {@link close}). Idempotent.
   */
  stop(drain = true): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.close();
    if (drain) this.waitBelow(1);
    Atomics.store(this.#control, STOP, 1);
    Atomics.notify(this.#control, SUBMITTED, 1);
    this.#worker.terminate();
  }
}
