import assert from "node:assert/strict";
import { Timer, type TimerTarget, TimerWheel } from "../../src/time/timer_wheel.ts";
import { mulberry32 as prng } from "../seeded_random.ts";

/** Records (kind, nowMs) of every expiry. */
class Recorder implements TimerTarget {
  fired: [number, number][] = [];
  onTimer(kind: number, nowMs: number): void {
    this.fired.push([kind, nowMs]);
  }
}

Deno.test("TimerWheel fires timers in deadline order across levels", () => {
  const rec = new Recorder();
  const wheel = new TimerWheel();
  const deadlines = [5, 300, 255, 256, 65_536, 65_535, 70_000, 16_777_216, 16_777_215, 1, 2 ** 33];
  const timers = deadlines.map((_, i) => new Timer(rec, i));
  deadlines.forEach((d, i) => wheel.schedule(timers[i], d));
  assert.equal(wheel.size, deadlines.length);
  assert.equal(wheel.advance(2 ** 34), deadlines.length);
  const sorted = deadlines.map((d, i) => [d, i]).sort((a, b) => a[0] - b[0]).map((x) => x[1]);
  assert.deepEqual(rec.fired.map((f) => f[0]), sorted);
  assert.ok(rec.fired.every((f) => f[1] === 2 ** 34), "callbacks get the advance time");
  assert.equal(wheel.size, 0);
  assert.equal(wheel.now, 2 ** 34);
});

Deno.test("TimerWheel fires nothing early and fractional deadlines round up", () => {
  const rec = new Recorder();
  const wheel = new TimerWheel();
  const t = new Timer(rec, 7);
  wheel.schedule(t, 10.2);
  assert.equal(wheel.nextDeadline(), 11);
  assert.equal(wheel.advance(10.9), 0);
  assert.ok(t.armed);
  assert.equal(wheel.advance(11), 1);
  assert.equal(t.deadline, 10.2);
  assert.ok(!t.armed);
});

Deno.test("TimerWheel fires deadlines in the past on the next advance", () => {
  const rec = new Recorder();
  const wheel = new TimerWheel(1000);
  const late = new Timer(rec, 1);
  const later = new Timer(rec, 2);
  wheel.schedule(later, 999);
  wheel.schedule(late, 10);
  assert.equal(wheel.nextDeadline(), 10);
  assert.equal(wheel.advance(500), 2, "time does not go back, but due timers fire");
  assert.deepEqual(rec.fired.map((f) => f[0]), [1, 2]);
  assert.equal(wheel.now, 1000);
});

Deno.test("TimerWheel cancel and reschedule are O(1) and exact", () => {
  const rec = new Recorder();
  const wheel = new TimerWheel();
  const a = new Timer(rec, 1);
  const b = new Timer(rec, 2);
  wheel.schedule(a, 100);
  wheel.schedule(b, 100);
  wheel.cancel(a);
  wheel.cancel(a);
  assert.equal(wheel.size, 1);
  wheel.schedule(b, 50_000);
  wheel.schedule(b, 20);
  assert.equal(wheel.size, 1);
  assert.equal(wheel.nextDeadline(), 20);
  assert.equal(wheel.advance(1_000_000), 1);
  assert.deepEqual(rec.fired, [[2, 1_000_000]]);
  wheel.schedule(a, 5);
  wheel.schedule(a, Infinity);
  assert.ok(!a.armed);
  assert.equal(wheel.nextDeadline(), Infinity);
  assert.throws(() => wheel.schedule(a, NaN), RangeError);
  assert.throws(() => wheel.advance(NaN), RangeError);
});

Deno.test("TimerWheel supports rescheduling from inside a callback", () => {
  const wheel = new TimerWheel();
  const times: number[] = [];
  const target: TimerTarget = {
    onTimer(_kind, nowMs) {
      times.push(wheel.now);
      // Periodic relative to the tick being processed: catches up in one advance.
      if (times.length < 5) wheel.schedule(timer, wheel.now + 300);
      assert.equal(nowMs, 10_000);
    },
  };
  const timer = new Timer(target, 0);
  wheel.schedule(timer, 100);
  assert.equal(wheel.advance(10_000), 5);
  assert.deepEqual(times, [100, 400, 700, 1000, 1300]);
});

Deno.test("TimerWheel defers a timer re-armed in the past from its callback", () => {
  const wheel = new TimerWheel();
  let count = 0;
  const timer: Timer = new Timer({
    onTimer() {
      count++;
      wheel.schedule(timer, 0); // always in the past: must not loop
    },
  }, 0);
  wheel.schedule(timer, 10);
  assert.equal(wheel.advance(20), 1);
  assert.equal(wheel.nextDeadline(), 0);
  assert.equal(wheel.advance(20), 1);
  assert.equal(wheel.advance(21), 1);
  assert.equal(count, 3);
});

Deno.test("TimerWheel callbacks can cancel timers due in the same millisecond", () => {
  const wheel = new TimerWheel();
  const fired: number[] = [];
  const timers: Timer[] = [];
  const target: TimerTarget = {
    onTimer(kind) {
      fired.push(kind);
      for (const t of timers) wheel.cancel(t);
    },
  };
  for (let i = 0; i < 5; i++) timers.push(new Timer(target, i));
  for (const t of timers) wheel.schedule(t, 70_000); // cascaded from level 1
  assert.equal(wheel.advance(80_000), 1);
  assert.equal(fired.length, 1);
  assert.equal(wheel.size, 0);
});

Deno.test("TimerWheel keeps unfired timers armed when a callback throws", () => {
  const wheel = new TimerWheel();
  const fired: number[] = [];
  let explode = true;
  const target: TimerTarget = {
    onTimer(kind) {
      fired.push(kind);
      if (explode && kind === 0) throw new Error("boom");
    },
  };
  const timers = [0, 1, 2].map((k) => new Timer(target, k));
  wheel.schedule(timers[0], 50);
  wheel.schedule(timers[1], 50);
  wheel.schedule(timers[2], 60);
  assert.throws(() => wheel.advance(100), /boom/);
  assert.deepEqual(fired, [0]);
  assert.equal(wheel.size, 2);
  assert.equal(wheel.nextDeadline(), 50);
  explode = false;
  assert.equal(wheel.advance(100), 2);
  assert.deepEqual(fired, [0, 1, 2]);
});

Deno.test("TimerWheel advance is not reentrant", () => {
  const wheel = new TimerWheel();
  let error: unknown = null;
  const timer = new Timer({
    onTimer() {
      try {
        wheel.advance(1000);
      } catch (e) {
        error = e;
      }
    },
  }, 0);
  wheel.schedule(timer, 1);
  wheel.advance(2);
  assert.ok(error instanceof Error && /reentrant/.test(error.message));
});

Deno.test("TimerWheel moves a timer between wheels and rejects a foreign cancel", () => {
  const rec = new Recorder();
  const w1 = new TimerWheel();
  const w2 = new TimerWheel();
  const t = new Timer(rec, 0);
  w1.schedule(t, 10);
  assert.throws(() => w2.cancel(t), /another wheel/);
  w2.schedule(t, 20);
  assert.equal(w1.size, 0);
  assert.equal(w2.size, 1);
  assert.equal(w1.advance(100), 0);
  assert.equal(w2.advance(100), 1);
});

Deno.test("TimerWheel clear disarms everything", () => {
  const rec = new Recorder();
  const wheel = new TimerWheel();
  const timers = Array.from({ length: 100 }, (_, i) => new Timer(rec, i));
  timers.forEach((t, i) => wheel.schedule(t, i * 1000 - 5000));
  wheel.clear();
  assert.equal(wheel.size, 0);
  assert.ok(timers.every((t) => !t.armed));
  assert.equal(wheel.nextDeadline(), Infinity);
  assert.equal(wheel.advance(1e9), 0);
});

Deno.test("TimerWheel nextDeadline is the earliest armed deadline", () => {
  const rng = prng(99);
  const rec = new Recorder();
  const wheel = new TimerWheel(12_345);
  const timers = Array.from({ length: 300 }, (_, i) => new Timer(rec, i));
  const deadlines = new Map<Timer, number>();
  for (let step = 0; step < 3000; step++) {
    const t = timers[Math.floor(rng() * timers.length)];
    if (rng() < 0.3) {
      wheel.cancel(t);
      deadlines.delete(t);
    } else {
      const scale = [300, 70_000, 20_000_000][Math.floor(rng() * 3)];
      const d = 12_345 + Math.floor(rng() * scale);
      wheel.schedule(t, d);
      deadlines.set(t, d);
    }
    const expected = deadlines.size === 0 ? Infinity : Math.min(...deadlines.values());
    assert.equal(wheel.nextDeadline(), expected, `step ${step}`);
  }
  // Walking the wheel by nextDeadline fires something every time.
  let last = -Infinity;
  while (wheel.size > 0) {
    const next = wheel.nextDeadline();
    assert.ok(next >= last);
    assert.ok(wheel.advance(next) >= 1);
    last = next;
  }
});

interface ModelTimer {
  deadline: number;
  tick: number;
  deferred: boolean;
}

/**
 * Drives a wheel and a simple model (a map checked by linear scans) with the
 * same random schedule/cancel/advance operations, including callbacks that
 * re-arm, arm and cancel other timers, deadlines in the past and huge jumps.
 */
function runModel(seed: number, steps: number): void {
  const rng = prng(seed);
  const N = 48;
  const model = new Map<number, ModelTimer>();
  let modelNow = Math.floor(rng() * 1e6);
  const wheel = new TimerWheel(modelNow);
  let advanceTarget = 0;
  let advanceStart = 0;
  let callbacks = 0;
  let ctx = "";

  const randomDeadline = (base: number): number => {
    const r = rng();
    let d: number;
    if (r < 0.1) d = base - Math.floor(rng() * 1000); // past
    else if (r < 0.5) d = base + Math.floor(rng() * 600);
    else if (r < 0.75) d = base + Math.floor(rng() * 200_000);
    else if (r < 0.9) d = base + Math.floor(rng() * 50_000_000);
    else if (r < 0.95) d = base + Math.floor(rng() * 2 ** 34); // beyond the horizon
    else d = base + rng() * 1000; // fractional
    return d;
  };
  const schedule = (id: number, d: number, inCallback: boolean, curTick: number) => {
    wheel.schedule(timers[id], d);
    const tick = Math.ceil(d);
    model.set(id, { deadline: d, tick, deferred: inCallback && tick <= curTick });
  };
  const cancel = (id: number) => {
    wheel.cancel(timers[id]);
    model.delete(id);
  };
  const minTick = (eligibleOnly: boolean): number => {
    let m = Infinity;
    for (const t of model.values()) if (!(eligibleOnly && t.deferred) && t.tick < m) m = t.tick;
    return m;
  };

  const target: TimerTarget = {
    onTimer(kind, nowMs) {
      callbacks++;
      const m = model.get(kind);
      assert.ok(m !== undefined, `${ctx}: timer ${kind} fired but not armed in the model`);
      assert.ok(!m.deferred, `${ctx}: deferred timer ${kind} fired in the same advance`);
      assert.equal(m.tick, minTick(true), `${ctx}: timer ${kind} fired out of order`);
      assert.ok(m.tick <= Math.max(advanceStart, advanceTarget), `${ctx}: ${kind} fired early`);
      assert.equal(nowMs, advanceTarget);
      assert.ok(!timers[kind].armed);
      model.delete(kind);
      const curTick = Math.max(advanceStart, m.tick);
      assert.equal(wheel.now, curTick, ctx);
      const r = rng();
      if (r < 0.3) schedule(kind, randomDeadline(curTick), true, curTick);
      else if (r < 0.4) schedule(kind, curTick + 1 + Math.floor(rng() * 5), true, curTick);
      if (rng() < 0.3) schedule(Math.floor(rng() * N), randomDeadline(curTick), true, curTick);
      if (rng() < 0.2) cancel(Math.floor(rng() * N));
    },
  };
  const timers = Array.from({ length: N }, (_, i) => new Timer(target, i));

  for (let step = 0; step < steps; step++) {
    ctx = `seed ${seed} step ${step}`;
    const r = rng();
    if (r < 0.45) {
      schedule(Math.floor(rng() * N), randomDeadline(modelNow), false, modelNow);
    } else if (r < 0.6) {
      cancel(Math.floor(rng() * N));
    } else {
      const jr = rng();
      let to: number;
      if (jr < 0.5) to = modelNow + Math.floor(rng() * 300);
      else if (jr < 0.7) to = modelNow + Math.floor(rng() * 100_000);
      else if (jr < 0.8) to = modelNow + Math.floor(rng() * 4 * 3_600_000); // hours
      else if (jr < 0.85) to = modelNow + Math.floor(rng() * 2 ** 35); // beyond the horizon
      else if (jr < 0.95) to = Math.min(wheel.nextDeadline(), modelNow + 1e7);
      else to = modelNow - 5 + rng() * 10; // possibly backwards, fractional
      for (const t of model.values()) t.deferred = false;
      advanceTarget = to;
      advanceStart = modelNow;
      callbacks = 0;
      const target = Math.max(modelNow, Math.floor(to));
      const n = wheel.advance(to);
      assert.equal(n, callbacks, ctx);
      modelNow = target;
      assert.equal(wheel.now, modelNow, ctx);
      for (const [id, t] of model) {
        assert.ok(
          t.deferred || t.tick > modelNow,
          `${ctx}: timer ${id} (tick ${t.tick}) not fired`,
        );
      }
    }
    assert.equal(wheel.size, model.size, ctx);
    for (let id = 0; id < N; id++) assert.equal(timers[id].armed, model.has(id), ctx);
    assert.equal(wheel.nextDeadline(), minTick(false), ctx);
  }
}

Deno.test("TimerWheel matches a sorted-list model under random operations", () => {
  for (let seed = 1; seed <= 40; seed++) runModel(seed, 1500);
});

Deno.test("TimerWheel holds 100k idle timers at no cost per tick", () => {
  const rec = new Recorder();
  const wheel = new TimerWheel();
  const rng = prng(7);
  const COUNT = 100_000;
  const timers: Timer[] = [];
  for (let i = 0; i < COUNT; i++) {
    const t = new Timer(rec, i);
    timers.push(t);
    // Keep-alive style deadlines: 2 to 3 hours out.
    wheel.schedule(t, 7_200_000 + Math.floor(rng() * 3_600_000));
  }
  const before = { ...wheel.stats };
  for (let now = 1; now <= 5000; now++) assert.equal(wheel.advance(now), 0);
  assert.equal(wheel.stats.eventTicks, before.eventTicks, "no slot visited while idle");
  assert.equal(wheel.stats.cascaded, before.cascaded);
  // nextDeadline is cached/bitmap-driven; a few lookups walk no timers.
  const expected = Math.min(...timers.map((t) => t.deadline));
  for (let i = 0; i < 100; i++) assert.equal(wheel.nextDeadline(), expected);
  assert.equal(wheel.stats.slotScans, 0);

  // Re-arming many timers (as traffic does) stays O(1) each and exact.
  for (let i = 0; i < COUNT; i += 2) wheel.schedule(timers[i], 5000 + 7_200_000 + i);
  let min = Infinity;
  for (const t of timers) min = Math.min(min, t.deadline);
  assert.equal(wheel.nextDeadline(), min);

  // One jump fires everything in order; every timer cascades at most 3 times.
  let last = -1;
  let ordered = true;
  const checker: TimerTarget = {
    onTimer(kind) {
      const d = timers[kind].deadline;
      if (d < last) ordered = false;
      last = d;
    },
  };
  const wheel2 = new TimerWheel();
  const timers2 = timers.map((_t, i) => new Timer(checker, i));
  timers2.forEach((t, i) => wheel2.schedule(t, timers[i].deadline));
  timers.forEach((t, i) => timers2[i].deadline === t.deadline || assert.fail());
  assert.equal(wheel2.advance(24 * 3_600_000), COUNT);
  assert.ok(ordered);
  assert.ok(wheel2.stats.cascaded <= 3 * COUNT);
  // Work is bounded by occupied slots (distinct deadlines plus coarse slots
  // covering them), not by the 86.4 M ms jumped.
  const distinct = new Set(timers.map((t) => t.deadline)).size;
  const coarse = Math.ceil(3_700_000 / 256) + Math.ceil(3_700_000 / 65_536) + 2;
  assert.ok(
    wheel2.stats.eventTicks <= distinct + coarse,
    `${wheel2.stats.eventTicks} event ticks for ${distinct} deadlines`,
  );
  assert.equal(wheel2.size, 0);
});

Deno.test("TimerWheel jumps far ahead without per-millisecond work", () => {
  const rec = new Recorder();
  const wheel = new TimerWheel();
  const t = new Timer(rec, 0);
  wheel.schedule(t, 30 * 86_400_000); // 30 days
  wheel.schedule(new Timer(rec, 1), 2 ** 40); // beyond the 2^32 ms horizon
  assert.equal(wheel.advance(29 * 86_400_000), 0);
  assert.equal(wheel.advance(31 * 86_400_000), 1);
  assert.equal(wheel.advance(2 ** 40 - 1), 0);
  assert.equal(wheel.nextDeadline(), 2 ** 40);
  assert.equal(wheel.advance(2 ** 40), 1);
  assert.deepEqual(rec.fired.map((f) => f[0]), [0, 1]);
  assert.ok(wheel.stats.eventTicks < 2000, `${wheel.stats.eventTicks} event ticks`);
});
