import assert from "node:assert/strict";
import { PacketBuffer } from "../../src/buffer/packet_buffer.ts";

Deno.test("PacketBuffer prepends headers into headroom on transmit", () => {
  const buf = new PacketBuffer(new Uint8Array(100));
  buf.reset(54);
  const payload = buf.append(4);
  assert.equal(payload, 54);
  buf.bytes.set([0xde, 0xad, 0xbe, 0xef], payload);
  assert.equal(buf.prepend(20), 34); // TCP
  assert.equal(buf.prepend(20), 14); // IPv4
  assert.equal(buf.prepend(14), 0); // Ethernet
  assert.equal(buf.length, 58);
  assert.equal(buf.headroom, 0);
  assert.equal(buf.prepend(1), -1);
  assert.equal(buf.head, 0, "a failed prepend changes nothing");
});

Deno.test("PacketBuffer consumes headers on receive", () => {
  const buf = new PacketBuffer(new Uint8Array(100));
  buf.reset(0);
  assert.equal(buf.append(60), 0);
  buf.consume(14);
  buf.consume(20);
  assert.equal(buf.head, 34);
  assert.equal(buf.length, 26);
  buf.consume(-3);
  assert.equal(buf.head, 34, "negative consume is ignored");
  buf.consume(1000);
  assert.equal(buf.length, 0);
  assert.equal(buf.head, buf.tail);
});

Deno.test("PacketBuffer push then pull restores the original view", () => {
  const buf = new PacketBuffer(new Uint8Array(64));
  buf.reset(32);
  buf.append(10);
  const before = [buf.head, buf.tail];
  for (const n of [8, 20, 4]) assert.notEqual(buf.prepend(n), -1);
  for (const n of [4, 20, 8]) buf.consume(n);
  assert.deepEqual([buf.head, buf.tail], before);
});

Deno.test("PacketBuffer append refuses to overrun the slot", () => {
  const buf = new PacketBuffer(new Uint8Array(16));
  buf.reset(4);
  assert.equal(buf.tailroom, 12);
  assert.equal(buf.append(13), -1);
  assert.equal(buf.append(12), 4);
  assert.equal(buf.append(1), -1);
  assert.equal(buf.append(0), 16);
  assert.equal(buf.append(-1), -1);
  assert.equal(buf.append(0.5), -1);
  assert.equal(buf.prepend(-1), -1);
  assert.equal(buf.prepend(1.5), -1);
  assert.equal(buf.length, 12);
});

Deno.test("PacketBuffer reset clamps the headroom", () => {
  const buf = new PacketBuffer(new Uint8Array(16));
  buf.reset(-5);
  assert.deepEqual([buf.head, buf.tail], [0, 0]);
  buf.reset(99);
  assert.deepEqual([buf.head, buf.tail], [16, 16]);
});

Deno.test("PacketBuffer truncate only shortens", () => {
  const buf = new PacketBuffer(new Uint8Array(64));
  buf.reset(14);
  buf.append(46);
  buf.truncate(28);
  assert.equal(buf.length, 28);
  assert.equal(buf.tail, 42);
  buf.truncate(40);
  assert.equal(buf.length, 28);
  buf.truncate(-1);
  assert.equal(buf.length, 28);
  buf.truncate(0);
  assert.equal(buf.length, 0);
});
