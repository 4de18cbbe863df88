import assert from "node:assert/strict";
import { PingEngine } from "../../src/iface/ping.ts";

Deno.test("PingEngine computes ping(8) statistics", () => {
  const p = new PingEngine({ count: 4, intervalMs: 1000, timeoutMs: 500 });
  assert.equal(p.nextSendMs(), -Infinity);
  assert.equal(p.send(0), 0);
  assert.equal(p.nextSendMs(), 1000);
  assert.deepEqual(p.onReply(10, 0, 56), { sequence: 0, rttMs: 10, bytes: 56 });
  assert.equal(p.onReply(11, 0, 56), null, "duplicate");
  p.send(1000);
  p.onReply(1030, 1, 56);
  p.send(2000);
  p.onTimeout(2499);
  assert.equal(p.nextDeadline(), 2500);
  p.onTimeout(2500);
  assert.equal(p.onReply(2600, 2, 56), null, "late reply does not count");
  p.send(3000);
  assert.ok(!p.done);
  p.onReply(3020, 3, 56);
  assert.ok(p.done);
  const s = p.summary();
  assert.equal(s.transmitted, 4);
  assert.equal(s.received, 3);
  assert.equal(s.duplicates, 1);
  assert.equal(s.lossPercent, 25);
  assert.equal(s.minMs, 10);
  assert.equal(s.maxMs, 30);
  assert.equal(s.avgMs, 20);
  assert.ok(Math.abs(s.mdevMs - Math.sqrt(200 / 3)) < 1e-9);
  assert.equal(p.nextSendMs(), Infinity);
});

Deno.test("PingEngine counts errors and validates options", () => {
  const p = new PingEngine({ count: 1 });
  p.send(0);
  p.onError(0);
  assert.ok(p.done);
  const s = p.summary();
  assert.deepEqual([s.received, s.errors, s.lossPercent], [0, 1, 100]);
  assert.ok(Number.isNaN(s.avgMs));
  assert.throws(() => new PingEngine({ count: 0 }), TypeError);
  assert.throws(() => new PingEngine({ size: 65508 }), TypeError);
});
