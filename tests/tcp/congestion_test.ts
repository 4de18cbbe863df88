import assert from "node:assert/strict";
import {
  createCongestionControl,
  Cubic,
  initialWindow,
  NewReno,
} from "../../src/tcp/congestion.ts";

Deno.test("initialWindow follows RFC 6928", () => {
  assert.equal(initialWindow(1460), 14600);
  assert.equal(initialWindow(1448), 14480);
  assert.equal(initialWindow(536), 5360);
  assert.equal(initialWindow(8960), 17920);
});

Deno.test("NewReno slow start, congestion avoidance, loss and timeout", () => {
  const cc = new NewReno(1000);
  assert.equal(cc.cwnd, 10000);
  cc.onAck(0, 5000, 10000, 10); // slow start: +min(N, SMSS)
  assert.equal(cc.cwnd, 11000);
  cc.onCongestionEvent(0, 11000);
  assert.equal(cc.ssthresh, 5500);
  assert.equal(cc.cwnd, 5500);
  // Congestion avoidance: +1 MSS per cwnd acknowledged.
  for (let i = 0; i < 5; i++) cc.onAck(0, 1000, 5500, 10);
  assert.equal(cc.cwnd, 5500);
  cc.onAck(0, 1000, 5500, 10);
  assert.equal(cc.cwnd, 6500);
  cc.onRecoveryExit(0, 2000);
  assert.equal(cc.cwnd, 3000); // min(ssthresh, max(flight, mss) + mss)
  cc.onTimeout(0, 8000);
  assert.equal(cc.cwnd, 1000);
  assert.equal(cc.ssthresh, 4000);
  cc.onCongestionEvent(0, 1000);
  assert.equal(cc.ssthresh, 2000); // never below 2 MSS
});

Deno.test("Cubic reduces by beta 0.7 and grows back along the cubic curve", () => {
  const cc = new Cubic(1000);
  for (let i = 0; i < 90; i++) cc.onAck(0, 1000, 0, 10); // slow start to 100 segments
  assert.equal(cc.cwnd, 100000);
  cc.onCongestionEvent(0, 100000);
  assert.equal(cc.cwnd, 70000);
  assert.equal(cc.ssthresh, 70000);
  // K = cbrt(100 * 0.3 / 0.4) ≈ 4.2 s: before K the window stays below W_max, after K it exceeds it.
  let t = 0;
  while (t < 3000) {
    cc.onAck(t, 1000, cc.cwnd, 10);
    t += 10;
  }
  assert.ok(cc.cwnd > 70000 && cc.cwnd < 100000, `cwnd ${cc.cwnd} at 3 s`);
  while (t < 8000) {
    cc.onAck(t, 1000, cc.cwnd, 10);
    t += 10;
  }
  assert.ok(cc.cwnd > 100000, `cwnd ${cc.cwnd} at 8 s`);
  cc.onTimeout(t, cc.cwnd);
  assert.equal(cc.cwnd, 1000);
});

Deno.test("Cubic fast convergence lowers W_max when losses come before regaining it", () => {
  const cc = new Cubic(1000);
  for (let i = 0; i < 90; i++) cc.onAck(0, 1000, 0, 10);
  cc.onCongestionEvent(0, 0); // W_max = 100
  cc.onCongestionEvent(0, 0); // cwnd 70 < W_last_max: W_max = 70 * 1.7 / 2 = 59.5
  assert.equal(cc.cwnd, 49000);
  // Growth resumes from the lower plateau: K ≈ cbrt((59.5 - 49) / 0.4) ≈ 3 s.
  let t = 0;
  while (t < 3000) {
    cc.onAck(t, 1000, cc.cwnd, 0);
    t += 10;
  }
  assert.ok(cc.cwnd >= 59000 && cc.cwnd < 70000, `cwnd ${cc.cwnd}`);
  assert.equal(createCongestionControl("cubic", 1460).name, "cubic");
});

Deno.test("Cubic slow start counts every segment a stretch ACK acknowledges", () => {
  // Linux tcp_slow_start: a receiver that ACKs every other segment (or a GRO receiver that
  // ACKs many at once) doubles cwnd per round trip as one ACK per segment would.
  const cc = new Cubic(1000);
  for (let i = 0; i < 5; i++) cc.onAck(0, 2000, cc.cwnd, 0);
  assert.equal(cc.cwnd, 20000);
  // Up to ssthresh only; the rest goes to congestion avoidance (cubictcp_cong_avoid).
  cc.onTimeout(0, cc.cwnd); // ssthresh = 0.7 * 20000, cwnd = 1 segment
  assert.equal(cc.ssthresh, 14000);
  cc.onAck(0, 20000, cc.cwnd, 0);
  assert.ok(cc.cwnd > 14000 && cc.cwnd < 15000, `cwnd ${cc.cwnd}`);
});

Deno.test("Cubic Reno-friendly region grows at Reno's rate once W_est reaches cwnd_prior", () => {
  // RFC 9438 §4.3: alpha_cubic = 3(1 - beta)/(1 + beta) ≈ 0.53 segments per round trip until
  // W_est reaches the cwnd before the last reduction (cwnd_prior), then 1 (AIMD(1, 0.5)).
  // No time passes (a short-RTT path where the cubic curve stays flat): W_est drives cwnd.
  const mss = 1000;
  const cc = new Cubic(mss, true, false, "rfc9438");
  for (let i = 0; i < 90; i++) cc.onAck(0, mss, 0, 0); // slow start to 100 segments
  cc.onCongestionEvent(0, cc.cwnd); // cwnd_prior 100, cwnd 70
  const round = () => {
    const segments = Math.floor(cc.cwnd / mss);
    for (let i = 0; i < segments; i++) cc.onAck(0, mss, cc.cwnd, 0);
  };
  let rounds = 0;
  while (cc.cwnd < 100 * mss) {
    round();
    rounds++;
  }
  // From 70 to 100 segments at ≈0.53 per round.
  assert.ok(rounds >= 50 && rounds <= 60, `${rounds} rounds to regain cwnd_prior`);
  const before = cc.cwnd;
  for (let i = 0; i < 10; i++) round();
  const grown = (cc.cwnd - before) / mss;
  assert.ok(grown >= 9 && grown <= 11, `grew ${grown} segments in 10 rounds beyond cwnd_prior`);
});

/**
 * Random loss on a 0.1 ms path: a loss every `lossEvery` segments delivered, one ACK per
 * segment, every ACK within the loss's jiffy. Returns cwnd (segments) averaged over the ACKs.
 */
function meanCwndUnderLoss(cc: Cubic, mss: number, lossEvery: number, losses: number): number {
  const rttMs = 0.1;
  let nowMs = 1000;
  let sum = 0;
  let n = 0;
  for (let l = 0; l < losses; l++) {
    cc.onCongestionEvent(nowMs, cc.cwnd);
    cc.onRecoveryExit(nowMs, cc.cwnd);
    for (let i = 0; i < lossEvery; i++) {
      // One window per RTT: the ACKs of a window spread over it.
      nowMs += rttMs / Math.max(1, Math.floor(cc.cwnd / mss));
      cc.onAckSample(0, 0, rttMs);
      cc.onAck(nowMs, mss, cc.cwnd, rttMs);
      sum += cc.cwnd / mss;
      n++;
    }
  }
  return sum / n;
}

Deno.test("Cubic linuxGrowth grows a segment per window between frequent losses, as Linux", () => {
  const mss = 1000;
  // Linux bictcp_update at the epoch's first ACK: W_max 20, cwnd 14 (717/1024 of 20), t one
  // jiffy (delay_min rounds up): the curve's truncated delta (5) puts the target at 15, one
  // segment above cwnd, so cnt = cwnd / 1 = 14: +1 segment per 14 delivered.
  const cc = new Cubic(mss, false, true);
  for (let i = 0; i < 10; i++) cc.onAck(0, mss, 0, 0); // slow start to 20 segments
  assert.equal(cc.cwnd, 20 * mss);
  cc.onAckSample(0, 0, 0.1);
  cc.onCongestionEvent(1000, cc.cwnd);
  assert.equal(cc.ssthresh, 14 * mss); // max(20 * 717 >> 10, 2) segments
  cc.onRecoveryExit(1000, cc.cwnd);
  for (let i = 0; i < 14; i++) cc.onAck(1000.5, mss, cc.cwnd, 0.1);
  assert.equal(cc.cwnd, 15 * mss);
  // Same jiffy: cnt is not recomputed (still 14), another 14 segments grow one more.
  for (let i = 0; i < 14; i++) cc.onAck(1001, mss, cc.cwnd, 0.1);
  assert.equal(cc.cwnd, 16 * mss);
});

Deno.test("Cubic linuxGrowth holds a larger mean window than RFC 9438 under frequent loss", () => {
  // A loss every 100 segments (1 % random loss): RFC 9438's Reno-friendly region grows
  // ≈0.53 segments per window, Linux's cnt ≈ 1 (AIMD(1, 0.7)); the mean windows differ by
  // about sqrt(1 / 0.53).
  const mss = 1000;
  const warm = (cc: Cubic) => {
    for (let i = 0; i < 10; i++) cc.onAck(0, mss, 0, 0);
  };
  const rfc = new Cubic(mss, false, false, "rfc9438");
  const linux = new Cubic(mss, false, true);
  warm(rfc);
  warm(linux);
  const r = meanCwndUnderLoss(rfc, mss, 100, 200);
  const l = meanCwndUnderLoss(linux, mss, 100, 200);
  assert.ok(l > 1.2 * r, `linux mean ${l.toFixed(1)} against RFC 9438's ${r.toFixed(1)} segments`);
  assert.ok(l < 30, `linux mean ${l.toFixed(1)} segments`);
});

Deno.test("Cubic aimd1 (the default) grows W_est a segment per window from the reduction on", () => {
  // Linux's effective AIMD(1, 0.7) on a short-RTT path: from 70 back to 100 segments in about
  // 30 windows, where RFC 9438's alpha_cubic (0.53) takes 50–60 (the test above).
  const mss = 1000;
  const cc = new Cubic(mss);
  assert.equal(cc.renoFriendly, "aimd1");
  for (let i = 0; i < 90; i++) cc.onAck(0, mss, 0, 0); // slow start to 100 segments
  cc.onCongestionEvent(0, cc.cwnd); // cwnd_prior 100, cwnd 70
  let rounds = 0;
  while (cc.cwnd < 100 * mss) {
    const segments = Math.floor(cc.cwnd / mss);
    for (let i = 0; i < segments; i++) cc.onAck(0, mss, cc.cwnd, 0);
    rounds++;
  }
  assert.ok(rounds >= 27 && rounds <= 33, `${rounds} rounds to regain cwnd_prior`);
});

Deno.test("Cubic aimd1 holds a larger mean window than RFC 9438 under frequent loss", () => {
  // A loss every 100 segments: AIMD(1, 0.7) against AIMD(0.53, 0.7), mean windows about
  // sqrt(1 / 0.53) ≈ 1.37 apart (Mathis: W ∝ sqrt(alpha (1 + beta) / (2 (1 - beta) p))).
  const mss = 1000;
  const rfc = new Cubic(mss, false, false, "rfc9438");
  const aimd1 = new Cubic(mss, false);
  for (const cc of [rfc, aimd1]) for (let i = 0; i < 10; i++) cc.onAck(0, mss, 0, 0);
  const r = meanCwndUnderLoss(rfc, mss, 100, 200);
  const a = meanCwndUnderLoss(aimd1, mss, 100, 200);
  assert.ok(a > 1.2 * r, `aimd1 mean ${a.toFixed(1)} against RFC 9438's ${r.toFixed(1)} segments`);
  assert.ok(a < 1.6 * r, `aimd1 mean ${a.toFixed(1)} against RFC 9438's ${r.toFixed(1)} segments`);
});

Deno.test("createCongestionControl and TcpConfig select Linux's CUBIC growth", () => {
  const cc = createCongestionControl("cubic", 1448, true, true);
  assert.ok(cc instanceof Cubic && cc.linuxGrowth);
  const rfc = createCongestionControl("cubic", 1448);
  assert.ok(rfc instanceof Cubic && !rfc.linuxGrowth && rfc.renoFriendly === "aimd1");
  const strict = createCongestionControl("cubic", 1448, true, false, "rfc9438");
  assert.ok(strict instanceof Cubic && strict.renoFriendly === "rfc9438");
});
