import assert from "node:assert/strict";
import { DatagramQueue } from "../../src/udp/datagram_queue.ts";
import { bytesOf } from "../seeded_random.ts";

Deno.test("DatagramQueue keeps FIFO order with sources", () => {
  const q = new DatagramQueue(64, 4);
  assert.ok(q.push(bytesOf(5, 1), 0, 5, 1, 10));
  assert.ok(q.push(bytesOf(3, 2), 0, 3, 2, 20));
  assert.equal(q.count, 2);
  assert.equal(q.usedBytes, 8);
  const out = new Uint8Array(16);
  assert.equal(q.frontAddr, 1);
  assert.equal(q.frontPort, 10);
  assert.equal(q.shift(out, 0), 5);
  assert.deepEqual(out.subarray(0, 5), bytesOf(5, 1));
  assert.equal(q.frontAddr, 2);
  assert.equal(q.frontPort, 20);
  assert.equal(q.shift(out, 0), 3);
  assert.deepEqual(out.subarray(0, 3), bytesOf(3, 2));
  assert.equal(q.shift(out, 0), -1);
  assert.equal(q.frontLength, -1);
});

Deno.test("DatagramQueue refuses datagrams beyond its count or byte bound", () => {
  const q = new DatagramQueue(10, 2);
  assert.ok(q.push(bytesOf(4, 0), 0, 4, 0, 0));
  assert.ok(q.push(bytesOf(4, 0), 0, 4, 0, 0));
  assert.ok(!q.push(bytesOf(1, 0), 0, 1, 0, 0), "count bound");
  q.shift(new Uint8Array(4), 0);
  assert.ok(!q.push(bytesOf(7, 0), 0, 7, 0, 0), "byte bound: 6 free");
  assert.ok(q.push(bytesOf(6, 0), 0, 6, 0, 0));
  assert.equal(q.usedBytes, 10);
});

Deno.test("DatagramQueue stores empty datagrams", () => {
  const q = new DatagramQueue(0, 2);
  assert.ok(q.push(new Uint8Array(0), 0, 0, 7, 8));
  assert.equal(q.frontLength, 0);
  assert.equal(q.shift(new Uint8Array(0), 0), 0);
  assert.equal(q.count, 0);
});

Deno.test("DatagramQueue truncates into a short buffer and drops the rest", () => {
  const q = new DatagramQueue(32, 4);
  q.push(bytesOf(10, 3), 0, 10, 0, 0);
  q.push(bytesOf(2, 4), 0, 2, 0, 0);
  const out = new Uint8Array(4);
  assert.equal(q.shift(out, 0), 4);
  assert.deepEqual(out, bytesOf(10, 3).subarray(0, 4));
  assert.equal(q.frontLength, 2);
  assert.equal(q.shift(out, 0), 2);
  assert.deepEqual(out.subarray(0, 2), bytesOf(2, 4));
});

Deno.test("DatagramQueue wraps around and matches a model over random operations", () => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const q = new DatagramQueue(200, 7);
  const model: { data: Uint8Array; addr: number; port: number }[] = [];
  let used = 0;
  for (let step = 0; step < 20_000; step++) {
    if (rand(2) === 0) {
      const len = rand(150); // large enough to wrap often, small datagrams too
      const data = bytesOf(len, step);
      const src = new Uint8Array(len + 6);
      src.set(data, 3);
      const ok = q.push(src, 3, len, step >>> 0, step & 0xffff);
      const expectOk = model.length < 7 && used + len <= 200;
      assert.equal(ok, expectOk, `push at step ${step}`);
      if (ok) {
        model.push({ data, addr: step >>> 0, port: step & 0xffff });
        used += len;
      }
    } else {
      const out = new Uint8Array(160);
      const front = model.shift();
      if (front === undefined) {
        assert.equal(q.shift(out, 0), -1);
        continue;
      }
      assert.equal(q.frontAddr, front.addr);
      assert.equal(q.frontPort, front.port);
      assert.equal(q.frontLength, front.data.length);
      assert.equal(q.shift(out, 5), front.data.length);
      assert.deepEqual(out.subarray(5, 5 + front.data.length), front.data, `step ${step}`);
      used -= front.data.length;
    }
    assert.equal(q.count, model.length);
    assert.equal(q.usedBytes, used);
  }
});

Deno.test("DatagramQueue rejects invalid capacities", () => {
  assert.throws(() => new DatagramQueue(-1, 1), RangeError);
  assert.throws(() => new DatagramQueue(10, 0), RangeError);
});

Deno.test("DatagramQueue keeps source addresses in the int32 form", () => {
  const q = new DatagramQueue(64, 8);
  const one = new Uint8Array([1]);
  // 203.0.113.7, 255.255.255.255, 128.0.0.0, 127.0.0.1 — given int32 or unsigned.
  for (const addr of [0xcb007107 | 0, 0xffffffff, 0x80000000, 0x7f000001, -1]) {
    assert.ok(q.push(one, 0, 1, addr, 9));
  }
  const got: number[] = [];
  while (q.count > 0) {
    got.push(q.frontAddr);
    q.shift(new Uint8Array(1), 0);
  }
  assert.deepEqual(got, [0xcb007107 | 0, -1, -0x80000000, 0x7f000001, -1]);
});
