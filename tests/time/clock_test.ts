import assert from "node:assert/strict";
import { type Clock, ManualClock, SystemClock } from "../../src/time/clock.ts";

Deno.test("ManualClock moves only when told", () => {
  const clock: ManualClock = new ManualClock(100);
  assert.equal(clock.now(), 100);
  assert.equal(clock.now(), 100);
  assert.equal(clock.advance(0.5), 100.5);
  clock.set(200);
  assert.equal(clock.now(), 200);
});

Deno.test("ManualClock refuses to go backwards", () => {
  const clock = new ManualClock(10);
  assert.throws(() => clock.set(9.99), RangeError);
  assert.throws(() => clock.advance(-1), RangeError);
  assert.throws(() => clock.advance(NaN), RangeError);
  assert.throws(() => clock.advance(Infinity), RangeError);
  assert.throws(() => clock.set(NaN), RangeError);
  assert.throws(() => new ManualClock(Infinity), RangeError);
  assert.equal(clock.now(), 10);
});

Deno.test("SystemClock is monotonic and in milliseconds", () => {
  const clock: Clock = new SystemClock();
  let last = clock.now();
  for (let i = 0; i < 1000; i++) {
    const t = clock.now();
    assert.ok(t >= last);
    last = t;
  }
  const a = clock.now();
  const until = Date.now() + 5;
  while (Date.now() < until) { /* spin 5 ms of wall time */ }
  // Milliseconds, not seconds: 5 ms of wall time moves it by more than 1.
  const elapsed = clock.now() - a;
  assert.ok(elapsed > 1, `elapsed ${elapsed}`);
});
