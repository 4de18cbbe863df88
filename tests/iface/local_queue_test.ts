import assert from "node:assert/strict";
import { LocalDeliveryQueue } from "../../src/iface/local_queue.ts";
import type { PacketBufferLike } from "../../src/iface/types.ts";

/** Stand-ins: the queue only stores and returns the objects. */
const bufs = Array.from({ length: 5 }, (_, i) => ({ id: i }) as unknown as PacketBufferLike);

Deno.test("LocalDeliveryQueue behaviour: first in, first out across the ring's wrap, refuses when full, clear frees each once", () => {
  const q = new LocalDeliveryQueue(3);
  q.push(bufs[0]);
  q.push(bufs[1]);
  assert.equal(q.shift(), bufs[0]);
  q.push(bufs[2]);
  q.push(bufs[3]); // wraps to slot 0
  assert.equal(q.full, true);
  assert.equal(q.length, 3);
  assert.deepEqual([q.shift(), q.shift()], [bufs[1], bufs[2]]);
  q.push(bufs[4]);
  const freed: PacketBufferLike[] = [];
  assert.equal(q.clear((b) => freed.push(b)), 2);
  assert.deepEqual(freed, [bufs[3], bufs[4]]);
  assert.equal(q.length, 0);
  assert.equal(q.full, false);
});

Deno.test("LocalDeliveryQueue behaviour: a capacity of 0 is always full", () => {
  const q = new LocalDeliveryQueue(0);
  assert.equal(q.full, true);
  assert.equal(q.length, 0);
});
