/**
 * Time sources. Everything below `src/socket/` takes time as an argument; the
 * stack's event loop reads a {@link Clock} once per iteration (and again within a
 * receive batch after a timed TCP send, see `LoopSink`) and passes the value down. Tests use {@link ManualClock} so runs are deterministic.
 *
 * @module
 */

/** A monotonic millisecond time source. */
export interface Clock {
  /**
   * Current time in milliseconds since an arbitrary origin; never decreases.
   * May be fractional.
   */
  now(): number;
}

/**
 * A clock that moves only when told to — for tests and the deterministic
 * simulator.
 *
 * @example
 * ```ts
 * import { ManualClock } from "./clock.ts";
 * const clock = new ManualClock(1000);
 * clock.advance(250);
 * console.assert(clock.now() === 1250);
 * clock.set(2000);
 * console.assert(clock.now() === 2000);
 * ```
 */
export class ManualClock implements Clock {
  #nowMs: number;

  /**
   * Starts the clock at `startMs`.
   *
   * @param startMs initial time in milliseconds (finite)
   * @throws RangeError when `startMs` is not finite
   *
   * @example
   * ```ts
   * import { ManualClock } from "./clock.ts";
   * console.assert(new ManualClock().now() === 0);
   * ```
   */
  constructor(startMs = 0) {
    if (!Number.isFinite(startMs)) {
      throw new RangeError(`ManualClock start must be finite, got ${startMs}`);
    }
    this.#nowMs = startMs;
  }

  /**
   * The current manual time.
   *
   * @returns milliseconds
   *
   * @example
   * ```ts
   * import { ManualClock } from "./clock.ts";
   * console.assert(new ManualClock(5).now() === 5);
   * ```
   */
  now(): number {
    return this.#nowMs;
  }

  /**
   * Moves the clock forward.
   *
   * @param ms milliseconds to add, finite and `>= 0`
   * @returns the new time
   * @throws RangeError when `ms` is negative or not finite (the clock is monotonic)
   *
   * @example
   * ```ts
   * import { ManualClock } from "./clock.ts";
   * const clock = new ManualClock();
   * console.assert(clock.advance(40) === 40);
   * ```
   */
  advance(ms: number): number {
    if (!(ms >= 0) || !Number.isFinite(ms)) {
      throw new RangeError(`ManualClock.advance needs a finite ms >= 0, got ${ms}`);
    }
    this.#nowMs += ms;
    return this.#nowMs;
  }

  /**
   * Sets the clock to `ms`, which must not be earlier than now.
   *
   * @param ms the new time in milliseconds
   * @throws RangeError when `ms` is earlier than the current time or not finite
   *
   * @example
   * ```ts
   * import { ManualClock } from "./clock.ts";
   * const clock = new ManualClock(10);
   * clock.set(10);
   * let threw = false;
   * try { clock.set(9); } catch { threw = true; }
   * console.assert(threw && clock.now() === 10);
   * ```
   */
  set(ms: number): void {
    if (!(ms >= this.#nowMs) || !Number.isFinite(ms)) {
      throw new RangeError(`ManualClock.set(${ms}) would move time back from ${this.#nowMs}`);
    }
    this.#nowMs = ms;
  }
}

/**
 * The real monotonic clock, `performance.now()` (milliseconds since the
 * process started, fractional). Needs no permission.
 *
 * @example
 * ```ts
 * import { SystemClock } from "./clock.ts";
 * const clock = new SystemClock();
 * const a = clock.now();
 * console.assert(clock.now() >= a);
 * ```
 */
export class SystemClock implements Clock {
  /**
   * The current time.
   *
   * @returns `performance.now()` in milliseconds
   *
   * @example
   * ```ts
   * import { SystemClock } from "./clock.ts";
   * console.assert(new SystemClock().now() >= 0);
   * ```
   */
  now(): number {
    return performance.now();
  }
}

/**
 * Seeds a field that caches the current time and is passed on to other
 * functions, so that V8 stores the time as it came (a tagged pointer to the
 * caller's heap number) instead of unboxing it:
 *
 * ```ts ignore
 * #nowMs: number = TAGGED_TIME_SEED; // then, in the constructor: this.#nowMs = 0;
 * ```
 *
 * Why: a field whose first value is a number gets V8's "double"
 * representation; each later read of a fractional time from it that is
 * passed to a call V8 did not inline allocates a fresh 16-byte heap number
 * (measured: ≈20 B per segment per such field on the bulk TCP path,
 * `bench/tcp_bench.ts --alloc-sites`). A field whose first value is not a
 * number has the "tagged" representation, which holds the boxed time as is.
 * The constructor must overwrite the seed before the field is read.
 */
export const TAGGED_TIME_SEED: number = null as unknown as number;

/**
 * Resolves on the next `setImmediate` turn of the event loop: a macrotask
 * yield that lets timers and I/O callbacks run. It costs ≈5 µs in Deno 2.9,
 * where `setTimeout(0)` costs ≈1–2 ms.
 *
 * @returns a promise settled on the next turn
 *
 * @example
 * ```ts
 * import { yieldToEventLoop } from "./clock.ts";
 * let ran = false;
 * setTimeout(() => ran = true, 0);
 * while (!ran) await yieldToEventLoop();
 * console.assert(ran);
 * ```
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}
