/**
 * Timer wheel benchmarks with 100,000 armed timers: schedule/cancel cost,
 * re-arming (what every TCP ACK does to the retransmission timer), a 1 ms
 * advance with everything idle, and nextDeadline.
 *
 *   deno bench --allow-all bench/timer_bench.ts
 *
 * Results are printed, never asserted.
 */
import { Timer, type TimerTarget, TimerWheel } from "../src/time/timer_wheel.ts";

const TIMERS = 100_000;
const KEEPALIVE_MS = 7_200_000;
const RTO_MS = 200;

let fired = 0;
const target: TimerTarget = {
  onTimer() {
    fired++;
  },
};

function loadedWheel(): { wheel: TimerWheel; timers: Timer[] } {
  const wheel = new TimerWheel();
  const timers: Timer[] = [];
  let x = 12345;
  for (let i = 0; i < TIMERS; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const t = new Timer(target, i);
    wheel.schedule(t, KEEPALIVE_MS + (x % 3_600_000));
    timers.push(t);
  }
  return { wheel, timers };
}

const a = loadedWheel();
const probe = new Timer(target, -1);
let now = 0;

Deno.bench("schedule+cancel (100k armed)", { group: "timer" }, () => {
  a.wheel.schedule(probe, now + RTO_MS);
  a.wheel.cancel(probe);
});

let i = 0;
Deno.bench("re-arm an armed timer (100k armed)", { group: "timer" }, () => {
  const t = a.timers[i];
  a.wheel.schedule(t, now + KEEPALIVE_MS + (i & 1023));
  i = i + 1 === TIMERS ? 0 : i + 1;
});

Deno.bench("advance 1 ms, all idle (100k armed)", { group: "timer" }, () => {
  now++;
  a.wheel.advance(now);
});

Deno.bench("nextDeadline (100k armed, cached)", { group: "timer" }, () => {
  a.wheel.nextDeadline();
});

Deno.bench("re-arm + nextDeadline + advance 1 ms (event-loop iteration)", {
  group: "timer",
}, () => {
  a.wheel.schedule(probe, now + RTO_MS);
  a.wheel.nextDeadline();
  now++;
  a.wheel.advance(now);
});

Deno.bench("fire 100k timers spread over 1 h in one advance", {
  group: "fire",
  n: 5,
  warmup: 1,
}, (b) => {
  const { wheel } = loadedWheel();
  b.start();
  wheel.advance(KEEPALIVE_MS + 3_600_000);
  b.end();
  if (wheel.size !== 0) throw new Error("timers left");
});
