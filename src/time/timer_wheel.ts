/**
 * {@link TimerWheel}: a hierarchical hashed timing wheel (Varghese & Lauck,
 * "Hashed and Hierarchical Timing Wheels", 1987) with 1 ms resolution that
 * drives every protocol timer (TCP retransmission, delayed ACK, persist,
 * keep-alive, TIME-WAIT; ARP expiry; ...).
 *
 * Layout: {@link WHEEL_LEVELS} levels of {@link WHEEL_SLOTS_PER_LEVEL} slots.
 * Level `k` slots are `256^k` ms wide, so the wheel spans 2^32 ms (≈49.7
 * days) ahead; a later deadline waits in an overflow list and enters the
 * wheel when it comes within range. Each slot is an intrusive doubly-linked list
 * threaded through the {@link Timer} objects themselves, so schedule and
 * cancel are O(1) and allocate nothing. A 256-bit occupancy bitmap per level
 * lets {@link TimerWheel.advance} jump straight to the next occupied slot: a
 * jump of hours costs a few bitmap scans, not a loop per millisecond, and
 * 100,000 idle timers cost nothing per tick. A timer moves down at most
 * `WHEEL_LEVELS - 1` times in its life (cascading).
 *
 * @module
 */

/** Number of wheel levels. */
export const WHEEL_LEVELS = 4;
/** Slots per level (a power of two). */
export const WHEEL_SLOTS_PER_LEVEL = 256;
const SLOT_BITS = 8;
const SLOT_MASK = WHEEL_SLOTS_PER_LEVEL - 1;
const WORDS_PER_LEVEL = WHEEL_SLOTS_PER_LEVEL >>> 5;
const WORD_MASK = WORDS_PER_LEVEL - 1;
const WHEEL_LISTS = WHEEL_LEVELS * WHEEL_SLOTS_PER_LEVEL;
/** Width in ms of one slot at each level: 1, 256, 65536, 16777216. */
const LEVEL_SPAN_MS: readonly number[] = Array.from(
  { length: WHEEL_LEVELS },
  (_, k) => 2 ** (SLOT_BITS * k),
);
/** List of timers whose deadline was already reached when scheduled. */
const DUE_LIST = WHEEL_LISTS;
/** List of due timers being fired by the current advance(). */
const FIRING_LIST = WHEEL_LISTS + 1;
/** Timers beyond the wheel's horizon (more than 255 top-level slots ahead). */
const OVERFLOW_LIST = WHEEL_LISTS + 2;
const LIST_COUNT = WHEEL_LISTS + 3;
const TOP_LEVEL = WHEEL_LEVELS - 1;
const NOT_ARMED = -1;

/** Receives timer expiries. One object (e.g. a TCP connection) may own several timers. */
export interface TimerTarget {
  /**
   * Called once when a timer of this target expires. The timer is already
   * disarmed and may be rescheduled from inside the call.
   *
   * @param kind the `kind` the {@link Timer} was made with (which timer fired)
   * @param nowMs the time passed to {@link TimerWheel.advance} — the current
   *   time, which may be later than the timer's deadline
   */
  onTimer(kind: number, nowMs: number): void;
}

/**
 * A reusable timer: made once per (target, kind) — e.g. per connection and
 * timer type — and rescheduled forever without allocation.
 *
 * @example
 * ```ts
 * import { Timer, TimerWheel } from "./timer_wheel.ts";
 * const RTO = 1;
 * const fired: number[] = [];
 * const timer = new Timer({ onTimer: (kind, now) => fired.push(kind, now) }, RTO);
 * const wheel = new TimerWheel();
 * wheel.schedule(timer, 200);
 * console.assert(timer.armed && timer.deadline === 200);
 * wheel.advance(250);
 * console.assert(!timer.armed && fired.join() === "1,250");
 * ```
 */
export class Timer {
  /** Whom to notify. */
  readonly target: TimerTarget;
  /** Passed to {@link TimerTarget.onTimer} to tell the target's timers apart. */
  readonly kind: number;
  /** Internal (wheel bookkeeping): deadline of the current or last arming. */
  _deadline: number = Infinity;
  /** Internal: the deadline rounded up to a whole millisecond. */
  _tick: number = 0;
  /** Internal: index of the wheel list holding the timer, -1 when disarmed. */
  _list: number = NOT_ARMED;
  /** Internal: next timer in the same list. */
  _next: Timer | null = null;
  /** Internal: previous timer in the same list. */
  _prev: Timer | null = null;
  /** Internal: the wheel the timer is armed in. */
  _wheel: TimerWheel | null = null;

  /**
   * Makes a disarmed timer.
   *
   * @param target notified on expiry
   * @param kind a small number identifying this timer to its target
   *
   * @example
   * ```ts
   * import { Timer } from "./timer_wheel.ts";
   * const timer = new Timer({ onTimer() {} }, 3);
   * console.assert(timer.kind === 3 && !timer.armed);
   * ```
   */
  constructor(target: TimerTarget, kind: number) {
    this.target = target;
    this.kind = kind;
  }

  /**
   * Deadline (ms) of the current arming, or of the last one once fired or
   * cancelled; `Infinity` if never scheduled.
   *
   * @returns the deadline in milliseconds
   *
   * @example
   * ```ts
   * import { Timer, TimerWheel } from "./timer_wheel.ts";
   * const timer = new Timer({ onTimer() {} }, 0);
   * new TimerWheel().schedule(timer, 12.5);
   * console.assert(timer.deadline === 12.5);
   * ```
   */
  get deadline(): number {
    return this._deadline;
  }

  /**
   * Whether the timer is scheduled and has not fired or been cancelled.
   *
   * @returns true while armed
   *
   * @example
   * ```ts
   * import { Timer, TimerWheel } from "./timer_wheel.ts";
   * const wheel = new TimerWheel();
   * const timer = new Timer({ onTimer() {} }, 0);
   * wheel.schedule(timer, 5);
   * wheel.cancel(timer);
   * console.assert(!timer.armed);
   * ```
   */
  get armed(): boolean {
    return this._list !== NOT_ARMED;
  }
}

/** Work counters of a {@link TimerWheel}, for tests and benchmarks. */
export interface TimerWheelStats {
  /** Timers fired. */
  fired: number;
  /** Timers moved from a coarse level to a finer one. */
  cascaded: number;
  /** Milliseconds at which advance() found work (a slot to fire or cascade). */
  eventTicks: number;
  /** Timers visited to recompute a slot's earliest deadline for nextDeadline(). */
  slotScans: number;
}

/** Count of trailing zero bits of a non-zero 32-bit word. */
function ctz32(word: number): number {
  return 31 - Math.clz32(word & -word);
}

/**
 * Distance (0..255) from slot `from` to the first occupied slot of one level,
 * searching circularly; -1 when the level is empty.
 */
function findOccupied(bitmap: Int32Array, base: number, from: number): number {
  const w = from >>> 5;
  const b = from & 31;
  let word = bitmap[base + w] & (-1 << b);
  if (word !== 0) return (w << 5) + ctz32(word) - from;
  for (let i = 1; i < WORDS_PER_LEVEL; i++) {
    const ww = (w + i) & WORD_MASK;
    word = bitmap[base + ww];
    if (word !== 0) return ((ww << 5) + ctz32(word) - from) & SLOT_MASK;
  }
  if (b !== 0) {
    word = bitmap[base + w] & ((1 << b) - 1);
    if (word !== 0) return ((w << 5) + ctz32(word) - from) & SLOT_MASK;
  }
  return -1;
}

/**
 * Hierarchical hashed timing wheel, 1 ms resolution.
 *
 * - {@link schedule} / {@link cancel}: O(1), no allocation. Deadlines may be
 *   fractional; a timer fires at the first millisecond tick `>= deadline`
 *   (never early).
 * - {@link advance}: fires every timer whose deadline is `<= nowMs`, in
 *   deadline order (timers due in the same millisecond fire in an
 *   unspecified but deterministic order). A timer scheduled with a deadline
 *   that has already passed — including from inside a callback — fires on the
 *   *next* `advance()` call, so a timer that re-arms itself in the past cannot
 *   loop forever.
 * - {@link nextDeadline}: the earliest millisecond at which `advance()` will
 *   fire something; cached, and otherwise computed from the occupancy
 *   bitmaps without walking the timers.
 *
 * @example
 * ```ts
 * import { Timer, TimerWheel } from "./timer_wheel.ts";
 * const order: number[] = [];
 * const target = { onTimer: (kind: number) => order.push(kind) };
 * const wheel = new TimerWheel();
 * const a = new Timer(target, 1);
 * const b = new Timer(target, 2);
 * wheel.schedule(a, 3_600_000);   // in an hour
 * wheel.schedule(b, 40);
 * console.assert(wheel.nextDeadline() === 40);
 * console.assert(wheel.advance(7_200_000) === 2);   // a two-hour jump
 * console.assert(order.join() === "2,1" && wheel.size === 0);
 * ```
 */
export class TimerWheel {
  /** Work counters (monotonic). */
  readonly stats: TimerWheelStats = { fired: 0, cascaded: 0, eventTicks: 0, slotScans: 0 };

  #current: number; // every tick <= #current has been processed
  readonly #heads: (Timer | null)[] = new Array(LIST_COUNT).fill(null);
  readonly #tails: (Timer | null)[] = new Array(LIST_COUNT).fill(null);
  readonly #listMin = new Float64Array(LIST_COUNT); // earliest tick per list...
  readonly #listMinStale = new Uint8Array(LIST_COUNT); // ...unless a removal made it stale
  readonly #bitmap = new Int32Array(WHEEL_LEVELS * WORDS_PER_LEVEL);
  #size = 0;
  #nextCache = Infinity;
  #nextValid = true;
  #advancing = false;
  #firingSlot = NOT_ARMED;

  /**
   * Makes an empty wheel whose time starts at `startMs`.
   *
   * @param startMs the initial time (rounded down to a millisecond)
   * @throws RangeError when `startMs` is not finite
   *
   * @example
   * ```ts
   * import { TimerWheel } from "./timer_wheel.ts";
   * const wheel = new TimerWheel(1000.7);
   * console.assert(wheel.now === 1000 && wheel.nextDeadline() === Infinity);
   * ```
   */
  constructor(startMs = 0) {
    if (!Number.isFinite(startMs)) {
      throw new RangeError(`TimerWheel start must be finite, got ${startMs}`);
    }
    this.#current = Math.floor(startMs);
  }

  /**
   * The wheel's time: the last millisecond processed by {@link advance}.
   *
   * @returns milliseconds (an integer)
   *
   * @example
   * ```ts
   * import { TimerWheel } from "./timer_wheel.ts";
   * const wheel = new TimerWheel();
   * wheel.advance(99.9);
   * console.assert(wheel.now === 99);
   * ```
   */
  get now(): number {
    return this.#current;
  }

  /**
   * Number of armed timers.
   *
   * @returns the count
   *
   * @example
   * ```ts
   * import { Timer, TimerWheel } from "./timer_wheel.ts";
   * const wheel = new TimerWheel();
   * wheel.schedule(new Timer({ onTimer() {} }, 0), 10);
   * console.assert(wheel.size === 1);
   * ```
   */
  get size(): number {
    return this.#size;
  }

  /**
   * Arms `timer` for `deadlineMs`, first disarming it if it was armed (here
   * or in another wheel). O(1), no allocation. `Infinity` just disarms it.
   *
   * @param timer the timer
   * @param deadlineMs absolute time in milliseconds; one already passed
   *   fires on the next {@link advance} (kept sorted among other overdue
   *   timers: O(1) when overdue deadlines are scheduled in non-decreasing
   *   order, e.g. `0` for "as soon as possible")
   * @throws RangeError when `deadlineMs` is NaN or `-Infinity` (a bug)
   *
   * @example
   * ```ts
   * import { Timer, TimerWheel } from "./timer_wheel.ts";
   * const wheel = new TimerWheel();
   * const timer = new Timer({ onTimer() {} }, 0);
   * wheel.schedule(timer, 500);
   * wheel.schedule(timer, 200);       // re-arming moves it
   * console.assert(wheel.size === 1 && wheel.nextDeadline() === 200);
   * ```
   */
  schedule(timer: Timer, deadlineMs: number): void {
    if (deadlineMs !== deadlineMs || deadlineMs === -Infinity) {
      throw new RangeError(`TimerWheel.schedule: invalid deadline ${deadlineMs}`);
    }
    if (deadlineMs === Infinity) {
      this.cancel(timer);
      timer._deadline = Infinity;
      return;
    }
    if (timer._list !== NOT_ARMED) {
      if (timer._wheel === this) this.#remove(timer);
      else timer._wheel!.cancel(timer);
    }
    const tick = Math.ceil(deadlineMs);
    timer._deadline = deadlineMs;
    timer._tick = tick;
    timer._wheel = this;
    this.#place(timer);
    this.#size++;
    if (this.#nextValid && tick < this.#nextCache) this.#nextCache = tick;
  }

  /**
   * Disarms `timer`. O(1). Does nothing if it is not armed.
   *
   * @param timer the timer
   * @throws Error when the timer is armed in a different wheel (a bug)
   *
   * @example
   * ```ts
   * import { Timer, TimerWheel } from "./timer_wheel.ts";
   * const wheel = new TimerWheel();
   * const timer = new Timer({ onTimer() { throw new Error("must not fire"); } }, 0);
   * wheel.schedule(timer, 5);
   * wheel.cancel(timer);
   * wheel.cancel(timer);
   * console.assert(wheel.advance(10) === 0);
   * ```
   */
  cancel(timer: Timer): void {
    if (timer._list === NOT_ARMED) return;
    if (timer._wheel !== this) {
      throw new Error("TimerWheel.cancel: the timer is armed in another wheel");
    }
    this.#remove(timer);
  }

  /**
   * Disarms every timer (e.g. when the stack closes). O(number of timers).
   *
   * @example
   * ```ts
   * import { Timer, TimerWheel } from "./timer_wheel.ts";
   * const wheel = new TimerWheel();
   * const timer = new Timer({ onTimer() {} }, 0);
   * wheel.schedule(timer, 5);
   * wheel.clear();
   * console.assert(wheel.size === 0 && !timer.armed);
   * ```
   */
  clear(): void {
    for (let list = 0; list < LIST_COUNT; list++) {
      let t = this.#heads[list];
      while (t !== null) {
        const next: Timer | null = t._next;
        this.#remove(t);
        t = next;
      }
    }
  }

  /**
   * Moves the wheel's time to `nowMs` and fires every timer whose deadline is
   * `<= nowMs`, in deadline order. Work is proportional to the number of
   * timers fired or cascaded plus a few bitmap scans per occupied slot
   * reached — independent of the length of the jump and of idle timers.
   *
   * Callbacks may schedule and cancel timers (including the one firing).
   * If a callback throws, the exception propagates; timers not yet fired
   * stay armed and fire on the next call.
   *
   * @param nowMs the current time (ms); a time before {@link now} moves
   *   nothing but still fires timers that were scheduled in the past
   * @returns how many timers fired
   * @throws RangeError when `nowMs` is not finite; Error when called from
   *   inside a timer callback
   *
   * @example
   * ```ts
   * import { Timer, TimerWheel } from "./timer_wheel.ts";
   * const wheel = new TimerWheel();
   * let count = 0;
   * const timer = new Timer({
   *   onTimer: (_kind, now) => {
   *     if (++count < 3) wheel.schedule(timer, now + 100);   // periodic
   *   },
   * }, 0);
   * wheel.schedule(timer, 100);
   * wheel.advance(100);
   * wheel.advance(200);
   * wheel.advance(300);
   * console.assert(count === 3 && !timer.armed);
   * ```
   */
  advance(nowMs: number): number {
    if (!Number.isFinite(nowMs)) {
      throw new RangeError(`TimerWheel.advance: invalid time ${nowMs}`);
    }
    if (this.#advancing) throw new Error("TimerWheel.advance is not reentrant");
    let target = Math.floor(nowMs);
    if (target < this.#current) target = this.#current;
    const heads = this.#heads;
    const stats = this.stats;
    let fired = 0;
    this.#advancing = true;
    try {
      // Timers scheduled in the past since the last call. Move them aside so
      // that ones re-armed in the past by these callbacks wait for next time.
      if (heads[DUE_LIST] !== null) {
        this.#moveList(DUE_LIST, FIRING_LIST);
        let timer: Timer | null;
        while ((timer = heads[FIRING_LIST]) !== null) {
          this.#remove(timer);
          fired++;
          timer.target.onTimer(timer.kind, nowMs);
        }
      }
      for (;;) {
        const tick = this.#nextEventTick();
        if (tick > target) break;
        this.#current = tick;
        stats.eventTicks++;
        if (this.#overflowEntryTick() === tick) this.#drainOverflow();
        // Cascade every coarse slot whose block starts now, coarsest first.
        for (let k = WHEEL_LEVELS - 1; k >= 1; k--) {
          const span = LEVEL_SPAN_MS[k];
          if (tick % span !== 0) continue;
          const list = (k << SLOT_BITS) + ((tick / span) & SLOT_MASK);
          if (heads[list] !== null) this.#cascade(list);
        }
        const slot = tick & SLOT_MASK;
        this.#firingSlot = slot;
        let timer: Timer | null;
        while ((timer = heads[slot]) !== null) {
          this.#remove(timer);
          fired++;
          timer.target.onTimer(timer.kind, nowMs);
        }
        this.#firingSlot = NOT_ARMED;
      }
      this.#current = target;
    } finally {
      // Only non-empty after a callback threw: keep the rest due.
      this.#requeueDue(FIRING_LIST);
      if (this.#firingSlot !== NOT_ARMED) this.#requeueDue(this.#firingSlot);
      this.#firingSlot = NOT_ARMED;
      this.#advancing = false;
      stats.fired += fired;
    }
    return fired;
  }

  /**
   * The earliest time at which {@link advance} will fire a timer: the
   * smallest armed deadline rounded up to a whole millisecond (so it may be
   * earlier than {@link now} for a timer scheduled in the past), or
   * `Infinity` when nothing is armed. Cached: scheduling keeps the cache
   * exact, and only removing the earliest timer (cancel or fire) invalidates
   * it. A recomputation scans the occupancy bitmaps (a few dozen words) and,
   * only when a coarse slot's earliest timer was removed and that slot could
   * hold the answer, walks that one slot.
   *
   * @returns milliseconds, or Infinity
   *
   * @example
   * ```ts
   * import { Timer, TimerWheel } from "./timer_wheel.ts";
   * const wheel = new TimerWheel();
   * const a = new Timer({ onTimer() {} }, 0);
   * const b = new Timer({ onTimer() {} }, 1);
   * wheel.schedule(a, 70_000);
   * wheel.schedule(b, 90_000.2);
   * console.assert(wheel.nextDeadline() === 70_000);
   * wheel.cancel(a);
   * console.assert(wheel.nextDeadline() === 90_001);
   * ```
   */
  nextDeadline(): number {
    if (this.#size === 0) return Infinity;
    if (!this.#nextValid) {
      this.#nextCache = this.#computeNextDeadline();
      this.#nextValid = true;
    }
    return this.#nextCache;
  }

  #computeNextDeadline(): number {
    const heads = this.#heads;
    let best = Infinity;
    // DUE and FIRING are sorted by deadline: their heads are their minima.
    const due = heads[DUE_LIST];
    if (due !== null) best = due._tick;
    const firing = heads[FIRING_LIST];
    if (firing !== null && firing._tick < best) best = firing._tick;
    const cur = this.#current;
    // Level 0 slots hold exactly one tick each; start at the current slot,
    // which is only occupied while advance() is firing it.
    const d0 = findOccupied(this.#bitmap, 0, cur & SLOT_MASK);
    if (d0 >= 0 && cur + d0 < best) best = cur + d0;
    for (let k = 1; k < WHEEL_LEVELS; k++) {
      const span = LEVEL_SPAN_MS[k];
      const block = Math.floor(cur / span) + 1;
      const d = findOccupied(this.#bitmap, k * WORDS_PER_LEVEL, block & SLOT_MASK);
      if (d < 0) continue;
      // Every timer in that slot is due at or after the slot's block start,
      // and every later slot of this level holds later timers only.
      if ((block + d) * span >= best) continue;
      const list = (k << SLOT_BITS) + ((block + d) & SLOT_MASK);
      if (this.#listMinStale[list] !== 0) this.#rescanMin(list);
      if (this.#listMin[list] < best) best = this.#listMin[list];
    }
    if (this.#heads[OVERFLOW_LIST] !== null) {
      if (this.#listMinStale[OVERFLOW_LIST] !== 0) this.#rescanMin(OVERFLOW_LIST);
      if (this.#listMin[OVERFLOW_LIST] < best) best = this.#listMin[OVERFLOW_LIST];
    }
    return best;
  }

  /** The next tick after #current at which a level-0 slot fires or a coarse slot cascades. */
  #nextEventTick(): number {
    const cur = this.#current;
    const bitmap = this.#bitmap;
    let best = Infinity;
    const d0 = findOccupied(bitmap, 0, (cur + 1) & SLOT_MASK);
    if (d0 >= 0) best = cur + 1 + d0;
    for (let k = 1; k < WHEEL_LEVELS; k++) {
      const span = LEVEL_SPAN_MS[k];
      const block = Math.floor(cur / span) + 1;
      const d = findOccupied(bitmap, k * WORDS_PER_LEVEL, block & SLOT_MASK);
      if (d >= 0) {
        const at = (block + d) * span;
        if (at < best) best = at;
      }
    }
    const entry = this.#overflowEntryTick();
    return entry < best ? entry : best;
  }

  /** Puts an unlinked timer into the list its tick belongs to, relative to #current. */
  #place(timer: Timer): void {
    const tick = timer._tick;
    const cur = this.#current;
    if (tick <= cur) {
      this.#insertDue(timer);
      return;
    }
    if (tick - cur < WHEEL_SLOTS_PER_LEVEL) {
      this.#append(tick & SLOT_MASK, timer);
      return;
    }
    for (let k = 1; k < WHEEL_LEVELS; k++) {
      const span = LEVEL_SPAN_MS[k];
      const block = Math.floor(tick / span);
      if (block - Math.floor(cur / span) < WHEEL_SLOTS_PER_LEVEL) {
        this.#append((k << SLOT_BITS) + (block & SLOT_MASK), timer);
        return;
      }
    }
    // Beyond the wheel's horizon: wait in the overflow list until the
    // top-level block of the earliest one comes within range.
    this.#append(OVERFLOW_LIST, timer);
  }

  /** When the earliest overflow timer can enter the top level; Infinity if none. */
  #overflowEntryTick(): number {
    if (this.#heads[OVERFLOW_LIST] === null) return Infinity;
    if (this.#listMinStale[OVERFLOW_LIST] !== 0) this.#rescanMin(OVERFLOW_LIST);
    const span = LEVEL_SPAN_MS[TOP_LEVEL];
    return (Math.floor(this.#listMin[OVERFLOW_LIST] / span) - SLOT_MASK) * span;
  }

  /** Moves every overflow timer now within range into the wheel. */
  #drainOverflow(): void {
    let timer = this.#heads[OVERFLOW_LIST];
    this.#detachAll(OVERFLOW_LIST);
    while (timer !== null) {
      const next: Timer | null = timer._next;
      timer._next = null;
      timer._prev = null;
      timer._list = NOT_ARMED;
      this.#place(timer);
      this.stats.cascaded++;
      timer = next;
    }
  }

  /** Re-places every timer of a coarse slot whose block starts at #current. */
  #cascade(list: number): void {
    const cur = this.#current;
    let timer = this.#heads[list];
    this.#detachAll(list);
    while (timer !== null) {
      const next: Timer | null = timer._next;
      timer._next = null;
      timer._prev = null;
      timer._list = NOT_ARMED;
      // Due exactly now: into the level-0 slot that fires right after.
      if (timer._tick === cur) this.#append(cur & SLOT_MASK, timer);
      else this.#place(timer);
      this.stats.cascaded++;
      timer = next;
    }
  }

  #append(list: number, timer: Timer): void {
    const tail = this.#tails[list];
    timer._list = list;
    timer._next = null;
    timer._prev = tail;
    if (tail === null) {
      this.#heads[list] = timer;
      this.#listMin[list] = timer._tick;
      this.#listMinStale[list] = 0;
      if (list < WHEEL_LISTS) this.#bitmap[list >>> 5] |= 1 << (list & 31);
    } else {
      tail._next = timer;
      if (timer._tick < this.#listMin[list]) this.#listMin[list] = timer._tick;
    }
    this.#tails[list] = timer;
  }

  /** Inserts into DUE_LIST keeping it sorted by deadline (stable; O(1) when appending). */
  #insertDue(timer: Timer): void {
    let after = this.#tails[DUE_LIST];
    while (after !== null && after._deadline > timer._deadline) after = after._prev;
    if (after === this.#tails[DUE_LIST]) {
      this.#append(DUE_LIST, timer);
      return;
    }
    const before = after === null ? this.#heads[DUE_LIST]! : after._next!;
    timer._list = DUE_LIST;
    timer._prev = after;
    timer._next = before;
    before._prev = timer;
    if (after === null) this.#heads[DUE_LIST] = timer;
    else after._next = timer;
    if (timer._tick < this.#listMin[DUE_LIST]) this.#listMin[DUE_LIST] = timer._tick;
  }

  /** Unlinks an armed timer of this wheel and disarms it. */
  #remove(timer: Timer): void {
    const list = timer._list;
    const prev = timer._prev;
    const next: Timer | null = timer._next;
    if (prev === null) this.#heads[list] = next;
    else prev._next = next;
    if (next === null) this.#tails[list] = prev;
    else next._prev = prev;
    timer._prev = null;
    timer._next = null;
    timer._list = NOT_ARMED;
    timer._wheel = null;
    this.#size--;
    if (this.#heads[list] === null) {
      this.#listMinStale[list] = 0;
      if (list < WHEEL_LISTS) this.#bitmap[list >>> 5] &= ~(1 << (list & 31));
    } else if (timer._tick === this.#listMin[list]) {
      this.#listMinStale[list] = 1;
    }
    if (this.#nextValid && timer._tick === this.#nextCache) this.#nextValid = false;
  }

  #detachAll(list: number): void {
    this.#heads[list] = null;
    this.#tails[list] = null;
    this.#listMinStale[list] = 0;
    if (list < WHEEL_LISTS) this.#bitmap[list >>> 5] &= ~(1 << (list & 31));
  }

  /** Moves a whole list (kept in order) to an empty list. */
  #moveList(from: number, to: number): void {
    let timer = this.#heads[from];
    this.#heads[to] = timer;
    this.#tails[to] = this.#tails[from];
    this.#listMin[to] = this.#listMin[from];
    this.#listMinStale[to] = this.#listMinStale[from];
    this.#detachAll(from);
    while (timer !== null) {
      timer._list = to;
      timer = timer._next;
    }
  }

  /** Moves every timer of `list` into DUE_LIST (after a callback threw). */
  #requeueDue(list: number): void {
    let timer = this.#heads[list];
    if (timer === null) return;
    this.#detachAll(list);
    while (timer !== null) {
      const next: Timer | null = timer._next;
      timer._next = null;
      timer._prev = null;
      this.#insertDue(timer);
      timer = next;
    }
  }

  #rescanMin(list: number): void {
    let min = Infinity;
    let scanned = 0;
    for (let t = this.#heads[list]; t !== null; t = t._next) {
      if (t._tick < min) min = t._tick;
      scanned++;
    }
    this.#listMin[list] = min;
    this.#listMinStale[list] = 0;
    this.stats.slotScans += scanned;
  }
}
