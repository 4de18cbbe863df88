import assert from "node:assert/strict";
import { IP_ID_BUCKETS, IpIdGenerator } from "../../src/iface/ip_id.ts";

const SRC = 0xc0000202 | 0;
const dst = (i: number) => (0xc6336400 + i) | 0; // 198.51.100.i
const secret = (b: number) => new Uint8Array(16).fill(b);

Deno.test("IpIdGenerator counts up by one per datagram of a flow within a millisecond", () => {
  const g = new IpIdGenerator({ secret: secret(1) });
  const first = g.next(5, SRC, dst(1), 17);
  for (let i = 1; i < 100; i++) assert.equal(g.next(5.9, SRC, dst(1), 17), (first + i) & 0xffff);
  // A super-segment reserves one identification per segment.
  const s = g.next(5, SRC, dst(1), 6);
  assert.equal(g.next(5, SRC, dst(1), 6, 4), (s + 1) & 0xffff);
  assert.equal(g.next(5, SRC, dst(1), 6), (s + 5) & 0xffff);
});

Deno.test("IpIdGenerator is reproducible under a secret and differs between secrets", () => {
  const run = (key: Uint8Array) => {
    const g = new IpIdGenerator({ secret: key });
    const out: number[] = [];
    for (let i = 0; i < 200; i++) out.push(g.next(i * 37, SRC, dst(i % 13), i % 2 ? 6 : 17));
    return out;
  };
  assert.deepEqual(run(secret(3)), run(secret(3)));
  assert.notDeepEqual(run(secret(3)), run(secret(4)));
  for (const id of run(secret(3))) assert.ok(Number.isInteger(id) && id >= 0 && id <= 0xffff);
});

Deno.test("IpIdGenerator keys buckets by source, destination and protocol", () => {
  const g = new IpIdGenerator({ secret: secret(5) });
  const buckets = new Set<number>();
  for (let i = 0; i < 256; i++) {
    const b = g.bucketOf(SRC, dst(i), 17);
    assert.ok(b >= 0 && b < IP_ID_BUCKETS);
    assert.equal(g.bucketOf(SRC, dst(i), 17), b);
    buckets.add(b);
  }
  // 256 destinations into 2048 buckets: a keyed hash spreads them (a few collide).
  assert.ok(buckets.size > 230, `${buckets.size} buckets`);
  assert.notEqual(g.bucketOf(SRC, dst(1), 17), g.bucketOf(SRC, dst(1), 6));
  assert.notEqual(g.bucketOf(SRC, dst(1), 17), g.bucketOf(SRC + 1, dst(1), 17));
  // The first identifications of different flows are unrelated.
  const firsts = new Set<number>();
  for (let i = 0; i < 64; i++) firsts.add(g.next(0, SRC, dst(i), 17));
  assert.ok(firsts.size > 60);
});

Deno.test("IpIdGenerator perturbs a counter idle since an earlier millisecond, below the idle time", () => {
  // Linux ip_idents_reserve: an observer cannot count what others sent through the bucket.
  const g = new IpIdGenerator({ secret: secret(9) });
  let now = 0;
  let last = g.next(now, SRC, dst(1), 17);
  const jumps = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const idle = 1 + (i % 50);
    now += idle;
    const id = g.next(now, SRC, dst(1), 17);
    const jump = (id - last - 1) & 0xffff;
    assert.ok(jump < idle, `jump ${jump} after ${idle} ms`);
    jumps.add(jump);
    last = id;
  }
  assert.ok(jumps.size > 20, `${jumps.size} distinct jumps`);
  // Long idle: anywhere in the 16-bit space; a clock that went backwards too.
  const a = g.next(now, SRC, dst(2), 17);
  const b = g.next(now + 600_000, SRC, dst(2), 17);
  const c = g.next(now, SRC, dst(2), 17);
  for (const v of [a, b, c]) assert.ok(v >= 0 && v <= 0xffff);
});

Deno.test("IpIdGenerator starts every bucket at initial when given, and checks its secret", () => {
  const g = new IpIdGenerator({ secret: secret(1), initial: 100 });
  assert.equal(g.next(0, SRC, dst(1), 17), 100);
  assert.equal(g.next(0, SRC, dst(2), 17), 100);
  assert.equal(g.next(0, SRC, dst(1), 17), 101);
  assert.throws(() => new IpIdGenerator({ secret: new Uint8Array(8) }), TypeError);
  // Without a secret: a random one, still valid identifications.
  const r = new IpIdGenerator();
  const id = r.next(0, SRC, dst(1), 17);
  assert.ok(id >= 0 && id <= 0xffff);
});
