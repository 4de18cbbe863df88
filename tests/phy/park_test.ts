// The Parker's busy poll gives the CPU back when the thread is descheduled mid-spin (as Linux's
// napi_busy_loop ends on need_resched()): it parks in poll() instead and pauses busy-polling.
import assert from "node:assert/strict";
import { BUSY_POLL_PREEMPTED_GAP_MS, Parker, type ParkStats } from "../../src/phy/park.ts";
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
