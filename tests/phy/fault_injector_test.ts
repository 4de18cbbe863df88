import assert from "node:assert/strict";
import { type FrameSink } from "../../src/phy/device.ts";
import { FaultInjector, type FaultSpec, SeededRandom } from "../../src/phy/fault_injector.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";

const FRAME_BYTES = 100;
const MANY = 20_000;

class Collect implements FrameSink {
  tags: number[] = [];
  payloads: number[][] = [];
  keep = false;
  onFrame(bytes: Uint8Array, offset: number, length: number): void {
    this.tags.push(bytes[offset + 14] | (bytes[offset + 15] << 8));
    if (this.keep) this.payloads.push(Array.from(bytes.subarray(offset, offset + length)));
  }
}

function frame(tag: number): Uint8Array {
  const f = new Uint8Array(FRAME_BYTES);
  f.fill(0xff, 0, 6);
  f[14] = tag & 0xff;
  f[15] = tag >> 8;
  return f;
}

/** Sends `count` tagged frames through a TX-faulty injector and returns what arrived. */
function sendThrough(tx: FaultSpec, seed: number, count: number, queueFrames = 4096) {
  let now = 0;
  const [a, b] = MemoryLink.pair({ queueFrames: 1 << 16 });
  const inj = new FaultInjector(a, { seed, now: () => now, tx, queueFrames });
  const f = new Uint8Array(FRAME_BYTES);
  for (let i = 0; i < count; i++) {
    f[14] = i & 0xff;
    f[15] = (i >> 8) & 0xff;
    inj.transmit(f, 0, FRAME_BYTES);
    now += 1;
  }
  now += 1e12;
  inj.flush();
  const got = new Collect();
  while (b.receive(got, 1024) > 0) { /* drain */ }
  const faults = inj.txFaults;
  inj.close();
  b.close();
  return { tags: got.tags, faults };
}

function near(actual: number, expected: number, tolerance: number, what: string) {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: ${actual} not within ${tolerance} of ${expected}`,
  );
}

Deno.test("SeededRandom is deterministic and roughly uniform", () => {
  const a = new SeededRandom(7);
  const b = new SeededRandom(7);
  const c = new SeededRandom(8);
  const sa = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(sa, Array.from({ length: 5 }, () => b.next()));
  assert.notDeepEqual(sa, Array.from({ length: 5 }, () => c.next()));
  const buckets = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) buckets[a.int(10)]++;
  for (const n of buckets) near(n, 10_000, 500, "bucket");
});

Deno.test("FaultInjector drop rate matches the configured probability", () => {
  const { tags, faults } = sendThrough({ drop: 0.2 }, 1, MANY);
  near(faults.dropped, MANY * 0.2, MANY * 0.02, "dropped");
  assert.equal(tags.length, MANY - faults.dropped);
  assert.equal(faults.frames, MANY);
  // Order is kept when only dropping.
  for (let i = 1; i < tags.length; i++) assert.ok(tags[i] !== tags[i - 1]);
});

Deno.test("FaultInjector duplicate rate matches and copies follow the original", () => {
  const { tags, faults } = sendThrough({ duplicate: 0.1 }, 2, MANY);
  near(faults.duplicated, MANY * 0.1, MANY * 0.015, "duplicated");
  assert.equal(tags.length, MANY + faults.duplicated);
  let pairs = 0;
  for (let i = 1; i < tags.length; i++) if (tags[i] === tags[i - 1]) pairs++;
  assert.equal(pairs, faults.duplicated);
});

Deno.test("FaultInjector corrupt flips exactly one bit after the Ethernet header", () => {
  let now = 0;
  const [a, b] = MemoryLink.pair({ queueFrames: 4096 });
  const inj = new FaultInjector(a, { seed: 3, now: () => now, tx: { corrupt: 0.3 } });
  const original = frame(0);
  original.fill(0x5a, 16);
  const got = new Collect();
  got.keep = true;
  for (let i = 0; i < 2000; i++) {
    inj.transmit(original, 0, FRAME_BYTES);
    b.receive(got, 10);
    now++;
  }
  let changed = 0;
  for (const p of got.payloads) {
    let bits = 0;
    for (let i = 0; i < FRAME_BYTES; i++) {
      const x = p[i] ^ original[i];
      if (x !== 0) assert.ok(i >= 14, "header must stay intact");
      for (let v = x; v; v &= v - 1) bits++;
    }
    assert.ok(bits <= 1);
    changed += bits;
  }
  assert.equal(changed, inj.txFaults.corrupted);
  near(changed, 600, 80, "corrupted");
  inj.close();
  b.close();
});

Deno.test("FaultInjector with the same seed gives the same result", () => {
  const spec: FaultSpec = { drop: 0.1, duplicate: 0.05, reorder: 0.05, jitterMs: 3 };
  const first = sendThrough(spec, 1234, 3000);
  const second = sendThrough(spec, 1234, 3000);
  const other = sendThrough(spec, 4321, 3000);
  assert.deepEqual(first.tags, second.tags);
  assert.deepEqual(first.faults, second.faults);
  assert.notDeepEqual(first.tags, other.tags);
});

Deno.test("FaultInjector reorder swaps a frame with its successor", () => {
  const { tags, faults } = sendThrough({ reorder: 0.1 }, 5, MANY);
  near(faults.reordered, MANY * 0.1, MANY * 0.015, "reordered");
  assert.equal(tags.length, MANY);
  let inversions = 0;
  for (let i = 1; i < tags.length; i++) {
    const prev = tags[i - 1], cur = tags[i];
    if (((cur - prev) & 0xffff) > 0x8000) inversions++;
  }
  assert.equal(inversions, faults.reordered);
});

Deno.test("FaultInjector releases a held frame after reorderHoldMs without a successor", () => {
  let now = 0;
  const [a, b] = MemoryLink.pair();
  const inj = new FaultInjector(a, {
    seed: 1,
    now: () => now,
    tx: { reorder: 1, reorderHoldMs: 4 },
  });
  inj.transmit(frame(1), 0, FRAME_BYTES);
  assert.equal(b.stats.queued, 0);
  assert.equal(inj.nextEventAt(), 4);
  now = 3.9;
  inj.flush();
  assert.equal(b.stats.queued, 0);
  now = 4;
  inj.flush();
  assert.equal(b.stats.queued, 1);
  inj.close();
  b.close();
});

Deno.test("FaultInjector delays by the manual clock, RX direction", () => {
  let now = 100;
  const [a, b] = MemoryLink.pair();
  const inj = new FaultInjector(b, { seed: 9, now: () => now, rx: { delayMs: 10 } });
  const got = new Collect();
  a.transmit(frame(1), 0, FRAME_BYTES);
  assert.equal(inj.receive(got, 10), 0); // taken in at 100
  now = 102;
  a.transmit(frame(2), 0, FRAME_BYTES);
  assert.equal(inj.receive(got, 10), 0); // taken in at 102
  assert.equal(inj.nextEventAt(), 110);
  now = 109.99;
  assert.equal(inj.receive(got, 10), 0);
  now = 110;
  assert.equal(inj.receive(got, 10), 1);
  now = 112;
  assert.equal(inj.receive(got, 10), 1);
  assert.deepEqual(got.tags, [1, 2]);
  assert.equal(inj.rxFaults.delayed, 2);
  assert.equal(inj.stats.rxFrames, 2);
  a.close();
  inj.close();
});

Deno.test("FaultInjector jitter spreads delays within [delay, delay + jitter)", () => {
  let now = 0;
  const [a, b] = MemoryLink.pair({ queueFrames: 2048 });
  const inj = new FaultInjector(a, { seed: 11, now: () => now, tx: { delayMs: 5, jitterMs: 10 } });
  for (let i = 0; i < 1000; i++) inj.transmit(frame(i), 0, FRAME_BYTES);
  now = 4.999;
  inj.flush();
  assert.equal(b.stats.queued, 0);
  now = 10;
  inj.flush();
  near(b.stats.queued, 500, 80, "released by half the jitter");
  now = 15;
  inj.flush();
  assert.equal(b.stats.queued, 1000);
  inj.close();
  b.close();
});

Deno.test("FaultInjector rate limit serialises frames at the configured rate", () => {
  let now = 0;
  const [a, b] = MemoryLink.pair({ queueFrames: 2048 });
  // 100-byte frames at 800 kbit/s: one frame per millisecond.
  const inj = new FaultInjector(a, { seed: 1, now: () => now, tx: { rateBitsPerSecond: 800_000 } });
  for (let i = 0; i < 100; i++) inj.transmit(frame(i), 0, FRAME_BYTES);
  assert.equal(b.stats.queued, 0);
  for (const t of [1, 10, 50.5, 100]) {
    now = t;
    inj.flush();
    assert.equal(b.stats.queued, Math.floor(t));
  }
  inj.close();
  b.close();
});

Deno.test("FaultInjector queue overflow drops and counts", () => {
  const { tags, faults } = sendThrough({ delayMs: 1e9 }, 1, 100, 16);
  assert.equal(faults.overflowed, 84);
  assert.equal(tags.length, 16);
});

Deno.test("FaultInjector passes frames through untouched without faults", () => {
  const [a, b] = MemoryLink.pair();
  const inj = new FaultInjector(b, { seed: 1 });
  a.transmit(frame(7), 0, FRAME_BYTES);
  const got = new Collect();
  assert.equal(inj.receive(got, 10), 1);
  assert.deepEqual(got.tags, [7]);
  assert.ok(inj.transmit(frame(8), 0, FRAME_BYTES));
  assert.equal(a.stats.queued, 1);
  assert.equal(inj.capabilities, b.capabilities);
  a.close();
  inj.close();
});

Deno.test("FaultInjector wait resolves when a delayed frame becomes due", async () => {
  const [a, b] = MemoryLink.pair();
  const inj = new FaultInjector(b, { seed: 1, rx: { delayMs: 5 } });
  a.transmit(frame(1), 0, FRAME_BYTES);
  const got = new Collect();
  assert.equal(inj.receive(got, 10), 0);
  const start = performance.now();
  while (got.tags.length === 0 && performance.now() - start < 2000) {
    await inj.wait(1000);
    inj.receive(got, 10);
  }
  assert.deepEqual(got.tags, [1]);
  a.close();
  inj.close();
});

Deno.test("FaultInjector rejects probabilities outside 0..1", () => {
  const [a, b] = MemoryLink.pair();
  assert.throws(() => new FaultInjector(a, { seed: 1, rx: { drop: 1.5 } }), RangeError);
  assert.throws(() => new FaultInjector(a, { seed: 1, tx: { delayMs: -1 } }), RangeError);
  a.close();
  b.close();
});

Deno.test("FaultInjector ce marks ECN-capable IPv4 and IPv6 packets CE, keeping the IPv4 checksum right (RFC 3168 §5)", () => {
  /** An Ethernet frame with an IPv4 header (TOS `tos`, valid checksum) or an IPv6 header. */
  const ipFrame = (v6: boolean, ecn: number): Uint8Array => {
    const f = new Uint8Array(FRAME_BYTES);
    f[12] = v6 ? 0x86 : 0x08;
    f[13] = v6 ? 0xdd : 0x00;
    if (v6) {
      f[14] = 0x6b; // version 6, the traffic class's high nibble 0xb
      f[15] = (ecn << 4) | 0x05;
    } else {
      f.set([0x45, 0xb8 | ecn, 0, 86, 0x12, 0x34, 0x40, 0, 64, 6], 14);
      f.set([192, 0, 2, 1, 192, 0, 2, 2], 26);
      const sum = internetChecksum(f.subarray(14, 34), 0, 20);
      f[24] = sum >>> 8;
      f[25] = sum & 0xff;
    }
    return f;
  };
  const [a, b] = MemoryLink.pair();
  const inj = new FaultInjector(a, { seed: 3, now: () => 0, tx: { ce: 1 } });
  for (const v6 of [false, true]) {
    for (const ecn of [0, 1, 2, 3]) assert.ok(inj.transmit(ipFrame(v6, ecn), 0, FRAME_BYTES));
  }
  const got = new Collect();
  got.keep = true;
  while (b.receive(got, 64) > 0) { /* drain */ }
  assert.equal(got.payloads.length, 8);
  const ecnOf = (p: number[], v6: boolean) => v6 ? (p[15] >> 4) & 3 : p[15] & 3;
  // Not-ECT stays Not-ECT; ECT(1), ECT(0) become CE; CE stays CE. DSCP bits are kept.
  assert.deepEqual(got.payloads.slice(0, 4).map((p) => ecnOf(p, false)), [0, 3, 3, 3]);
  assert.deepEqual(got.payloads.slice(4).map((p) => ecnOf(p, true)), [0, 3, 3, 3]);
  for (const p of got.payloads.slice(0, 4)) {
    assert.equal(p[15] & 0xfc, 0xb8);
    assert.equal(internetChecksum(Uint8Array.from(p.slice(14, 34)), 0, 20), 0, "IPv4 checksum");
  }
  for (const p of got.payloads.slice(4)) assert.equal(p[14], 0x6b);
  assert.equal(inj.txFaults.ceMarked, 4);
  inj.close();
  b.close();
});
