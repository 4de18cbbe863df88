import assert from "node:assert/strict";
import { RttEstimator } from "../../src/tcp/rto.ts";

Deno.test("RttEstimator follows RFC 6298 §2 on the first and later samples", () => {
  const e = new RttEstimator({ minRtoMs: 1 });
  assert.equal(e.rtoMs, 1000);
  e.sample(400);
  assert.equal(e.srttMs, 400);
  assert.equal(e.rttvarMs, 200);
  assert.equal(e.rtoMs, 1200);
  e.sample(200);
  // RTTVAR = 3/4*200 + 1/4*|400-200| = 200; SRTT = 7/8*400 + 1/8*200 = 375
  assert.equal(e.rttvarMs, 200);
  assert.equal(e.srttMs, 375);
  assert.equal(e.rtoMs, 375 + 800);
});

Deno.test("RttEstimator clamps to the minimum and maximum RTO", () => {
  const e = new RttEstimator({ minRtoMs: 200, maxRtoMs: 5000 });
  e.sample(1);
  assert.equal(e.rtoMs, 200);
  for (let i = 0; i < 10; i++) e.backoff();
  assert.equal(e.rtoMs, 5000);
  e.sample(1); // a new sample clears the backoff
  assert.equal(e.rtoMs, 200);
});

Deno.test("RttEstimator backoff doubles and resetBackoff restores", () => {
  const e = new RttEstimator();
  e.backoff();
  e.backoff();
  assert.equal(e.rtoMs, 4000);
  e.resetBackoff();
  assert.equal(e.rtoMs, 1000);
  e.sample(-5); // ignored
  assert.equal(e.samples, 0);
});

Deno.test("RttEstimator keeps the connection's smallest sample (tcpi_min_rtt), 0 included", () => {
  const e = new RttEstimator();
  assert.equal(e.minRttMs, Infinity);
  e.sample(12);
  e.sample(3.5);
  e.sample(40);
  assert.equal(e.minRttMs, 3.5);
  e.sample(-1); // ignored
  assert.equal(e.minRttMs, 3.5);
  e.sample(0);
  assert.equal(e.minRttMs, 0);
});

Deno.test("RttEstimator with minRtoOnVariance floors the variance term as Linux does: SRTT + max(K·RTTVAR, min)", () => {
  const rfc = new RttEstimator({ minRtoMs: 200 });
  const linux = new RttEstimator({ minRtoMs: 200, minRtoOnVariance: true });
  for (const e of [rfc, linux]) e.sample(10); // SRTT 10, RTTVAR 5
  assert.equal(rfc.rtoMs, 200); // max(10 + 20, 200)
  assert.equal(linux.rtoMs, 210); // 10 + max(20, 200)
  // A variance above the floor: both give SRTT + 4·RTTVAR.
  const wide = new RttEstimator({ minRtoMs: 200, minRtoOnVariance: true });
  wide.sample(120); // SRTT 120, RTTVAR 60
  assert.equal(wide.rtoMs, 360);
});
