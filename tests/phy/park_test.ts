// The Parker's busy poll gives the CPU back when the thread is descheduled mid-spin (as Linux's
// napi_busy_loop ends on need_resched()): it parks in poll() instead and pauses busy-polling.
import assert from "node:assert/strict";
import {
  BUSY_POLL_PREEMPTED_GAP_MS,
  Parker,
  type ParkStats,
  parkTimespec,
} from "../../src/phy/park.ts";
import { EFD_CLOEXEC, EFD_NONBLOCK, libc } from "../../src/phy/libc.ts";

/** Busy-polls this long after activity: longer than any wait below, so only a preemption ends it. */
const BUSY_POLL_MS = 60_000;
const WAIT_MS = 50;
/** Ready checks of the first spin (spinMicros 0: one round of 16) before busy-polling begins. */
const FIRST_SPIN_CHECKS = 16;

Deno.test("Parker behaviour: a preemption in the middle of a busy-poll spin parks instead of spinning on", async () => {
  const c = libc();
  // Two eventfds nobody writes: the "device" never becomes readable, the wake fd stays quiet.
  const fd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  const wakeFd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  assert.ok(fd >= 0 && wakeFd >= 0);
  try {
    let checks = 0;
    let stallAt = -1;
    const host = {
      closed: false,
      ready(): boolean {
        if (++checks === stallAt) {
          // What a descheduled thread sees: the clock jumps between two reads of one spin.
          const until = performance.now() + 3 * BUSY_POLL_PREEMPTED_GAP_MS;
          while (performance.now() < until) { /* held off the CPU */ }
        }
        return false;
      },
    };
    const stats: ParkStats = { parks: 0, busyPollYields: 0, busyPollPreemptions: 0 };
    const parker = new Parker(host, () => {}, fd, wakeFd, 0, BUSY_POLL_MS, stats);
    parker.received(); // traffic just now: the busy-poll window is open
    stallAt = FIRST_SPIN_CHECKS + 4; // inside the first busy-poll spin
    await parker.wait(WAIT_MS);
    assert.ok(stats.busyPollPreemptions >= 1, "the preemption was seen");
    assert.equal(stats.parks, 1, "parked in poll() instead of spinning to the deadline");
    assert.ok(checks >= stallAt);
  } finally {
    c.close(fd);
    c.close(wakeFd);
  }
});

Deno.test("parkTimespec behaviour: a park's timeout keeps its fraction of a millisecond", () => {
  // poll() took Math.ceil(ms): a timer due in 0.25 ms parked for 1 ms, one in 2.1 ms for 3 ms.
  assert.deepEqual([...parkTimespec(0.25)], [0n, 250_000n]);
  assert.deepEqual([...parkTimespec(2.1)], [0n, 2_100_000n]);
  assert.deepEqual([...parkTimespec(1500.5)], [1n, 500_500_000n]);
  assert.deepEqual([...parkTimespec(0)], [0n, 0n]);
  assert.deepEqual([...parkTimespec(-1)], [0n, 0n]);
});

Deno.test("Parker behaviour: a sub-millisecond wait parks in ppoll() and ends on the timeout or a frame", async () => {
  const c = libc();
  const fd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  const wakeFd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  assert.ok(fd >= 0 && wakeFd >= 0);
  try {
    let readable = false;
    const host = { closed: false, ready: () => readable };
    const stats: ParkStats = { parks: 0, busyPollYields: 0, busyPollPreemptions: 0 };
    const parker = new Parker(host, () => {}, fd, wakeFd, 0, 0, stats);
    await parker.wait(0.3); // nothing arrives: the timeout ends it
    assert.equal(stats.parks, 1);
    assert.equal(parker.parked, 0);
    // A "frame": the device fd becomes readable while parked with a long timeout.
    const waiting = parker.wait(60_000);
    assert.equal(parker.parked, 1);
    readable = true;
    c.write(fd, new Uint8Array(new BigUint64Array([1n]).buffer), 8n);
    await waiting;
    assert.equal(stats.parks, 2);
    assert.equal(parker.parked, 0);
  } finally {
    c.close(fd);
    c.close(wakeFd);
  }
});
