import assert from "node:assert/strict";
import { type FrameSink } from "../../src/phy/device.ts";
import { MEMORY_MAC_A, MEMORY_MAC_B, MemoryHub, MemoryLink } from "../../src/phy/memory_link.ts";
import { writeMac } from "../../src/wire/address.ts";

class Collect implements FrameSink {
  frames: number[][] = [];
  onFrame(bytes: Uint8Array, offset: number, length: number): void {
    this.frames.push(Array.from(bytes.subarray(offset, offset + length)));
  }
}

function frame(dst: number, src: number, tag: number, length = 60): Uint8Array {
  const f = new Uint8Array(length);
  writeMac(f, 0, dst);
  writeMac(f, 6, src);
  f[12] = 0x08;
  f[14] = tag;
  return f;
}

Deno.test("MemoryLink.pair delivers frames both ways, in order, copied", () => {
  const [a, b] = MemoryLink.pair();
  assert.equal(a.capabilities.mac, MEMORY_MAC_A);
  assert.equal(b.capabilities.mac, MEMORY_MAC_B);
  assert.equal(a.capabilities.mtu, 1500);
  const buf = new Uint8Array(200);
  buf.set(frame(MEMORY_MAC_B, MEMORY_MAC_A, 1), 10);
  assert.ok(a.transmit(buf, 10, 60));
  buf[24] = 99; // the sender may reuse its buffer at once
  assert.ok(a.transmit(frame(MEMORY_MAC_B, MEMORY_MAC_A, 2), 0, 60));
  assert.ok(b.transmit(frame(MEMORY_MAC_A, MEMORY_MAC_B, 3, 100), 0, 100));
  const sb = new Collect();
  assert.equal(b.receive(sb, 10), 2);
  assert.deepEqual(sb.frames.map((f) => f[14]), [1, 2]);
  assert.equal(sb.frames[0].length, 60);
  const sa = new Collect();
  assert.equal(a.receive(sa, 10), 1);
  assert.equal(sa.frames[0].length, 100);
  assert.equal(a.stats.txFrames, 2);
  assert.equal(a.stats.txBytes, 120);
  assert.equal(b.stats.rxFrames, 2);
  assert.equal(b.stats.rxBytes, 120);
  a.close();
  b.close();
});

Deno.test("MemoryLink receive honours the budget", () => {
  const [a, b] = MemoryLink.pair();
  for (let i = 0; i < 5; i++) a.transmit(frame(MEMORY_MAC_B, MEMORY_MAC_A, i), 0, 60);
  const s = new Collect();
  assert.equal(b.receive(s, 3), 3);
  assert.equal(b.stats.queued, 2);
  assert.equal(b.receive(s, 3), 2);
  assert.deepEqual(s.frames.map((f) => f[14]), [0, 1, 2, 3, 4]);
  a.close();
  b.close();
});

Deno.test("MemoryLink bounded queue drops and counts at the receiver", () => {
  const [a, b] = MemoryLink.pair({ queueFrames: 4 });
  for (let i = 0; i < 10; i++) assert.ok(a.transmit(frame(MEMORY_MAC_B, MEMORY_MAC_A, i), 0, 60));
  assert.equal(b.stats.queued, 4);
  assert.equal(b.stats.rxDropped, 6);
  const s = new Collect();
  assert.equal(b.receive(s, 100), 4);
  assert.deepEqual(s.frames.map((f) => f[14]), [0, 1, 2, 3]);
  // The ring wraps correctly after draining.
  for (let i = 10; i < 13; i++) a.transmit(frame(MEMORY_MAC_B, MEMORY_MAC_A, i), 0, 60);
  s.frames = [];
  b.receive(s, 100);
  assert.deepEqual(s.frames.map((f) => f[14]), [10, 11, 12]);
  a.close();
  b.close();
});

Deno.test("MemoryLink transmit refuses frames over MTU + 14 and after close", () => {
  const [a, b] = MemoryLink.pair({ mtu: 100 });
  assert.ok(a.transmit(new Uint8Array(114), 0, 114));
  assert.equal(a.transmit(new Uint8Array(115), 0, 115), false);
  assert.equal(a.transmit(new Uint8Array(60), 10, 60), false); // out of bounds
  assert.equal(a.stats.txDropped, 2);
  a.close();
  assert.equal(a.transmit(new Uint8Array(60), 0, 60), false);
  assert.equal(a.stats.txDropped, 3);
  b.close();
});

Deno.test("MemoryLink wait resolves at once when frames are queued", async () => {
  const [a, b] = MemoryLink.pair();
  a.transmit(frame(MEMORY_MAC_B, MEMORY_MAC_A, 1), 0, 60);
  let resolved = false;
  const p = b.wait(Infinity).then(() => resolved = true);
  await Promise.resolve();
  await Promise.resolve();
  assert.ok(resolved);
  await p;
  a.close();
  b.close();
});

Deno.test("MemoryLink wait resolves when the peer transmits, and on close", async () => {
  const [a, b] = MemoryLink.pair();
  let woke = false;
  const p = b.wait(Infinity).then(() => woke = true);
  await Promise.resolve();
  assert.equal(woke, false);
  a.transmit(frame(MEMORY_MAC_B, MEMORY_MAC_A, 1), 0, 60);
  await p;
  assert.ok(woke);
  // A finite timeout leaves no timer behind when the wait is resolved by close().
  const q = a.wait(60_000);
  a.close();
  await q;
  b.close();
});

Deno.test("MemoryLink wait times out", async () => {
  const [a, b] = MemoryLink.pair();
  await b.wait(5);
  assert.equal(b.stats.queued, 0);
  await b.wait(0);
  a.close();
  b.close();
});

Deno.test("MemoryHub floods broadcast and unknown, switches learned MACs", () => {
  const hub = new MemoryHub();
  const [a, b, c] = [hub.attach(), hub.attach(), hub.attach()];
  const macs = [a, b, c].map((d) => d.capabilities.mac);
  assert.equal(new Set(macs).size, 3);
  // Broadcast from a: b and c get it; a learns nothing from itself.
  a.transmit(frame(0xffff_ffff_ffff, macs[0], 1), 0, 60);
  assert.equal(b.stats.queued, 1);
  assert.equal(c.stats.queued, 1);
  assert.equal(a.stats.queued, 0);
  // b → a: a is now known (learned from a's broadcast), so only a gets it.
  b.transmit(frame(macs[0], macs[1], 2), 0, 60);
  assert.equal(a.stats.queued, 1);
  assert.equal(c.stats.queued, 1);
  assert.equal(hub.switched, 1);
  // a → c: c never sent anything, so unknown: flooded to b and c.
  a.transmit(frame(macs[2], macs[0], 3), 0, 60);
  assert.equal(b.stats.queued, 2);
  assert.equal(c.stats.queued, 2);
  assert.equal(hub.flooded, 2);
  // Multicast is flooded too.
  c.transmit(frame(0x01_00_5e_00_00_01, macs[2], 4), 0, 60);
  assert.equal(a.stats.queued, 2);
  assert.equal(b.stats.queued, 3);
  // c is learned now: a → c is switched.
  a.transmit(frame(macs[2], macs[0], 5), 0, 60);
  assert.equal(c.stats.queued, 3);
  assert.equal(b.stats.queued, 3);
  const s = new Collect();
  c.receive(s, 10);
  assert.deepEqual(s.frames.map((f) => f[14]), [1, 3, 5]);
  hub.close();
  assert.equal(hub.size, 0);
});

Deno.test("MemoryHub forgets a closed port", () => {
  const hub = new MemoryHub();
  const [a, b, c] = [hub.attach(), hub.attach(), hub.attach()];
  b.transmit(frame(0xffff_ffff_ffff, b.capabilities.mac, 1), 0, 60);
  b.close();
  assert.equal(hub.size, 2);
  a.transmit(frame(b.capabilities.mac, a.capabilities.mac, 2), 0, 60);
  assert.equal(c.stats.queued, 2); // flooded again: b's MAC was forgotten
  hub.close();
});

Deno.test("MemoryHub's bounded MAC table forgets the oldest learned source, a moved one is newest", () => {
  const maxMacs = 100;
  const hub = new MemoryHub({ maxMacs });
  const [a, b, c] = [hub.attach(), hub.attach(), hub.attach()];
  const spoofed = (i: number) => 0x02_00_00_00_10_00 + i;
  // b sends from maxMacs different sources: the table is full of b's (past its first slots).
  for (let i = 0; i < maxMacs; i++) b.transmit(frame(0xffff_ffff_ffff, spoofed(i), 1), 0, 60);
  // Source 0 moves to c: it is now the newest entry, on c.
  c.transmit(frame(0xffff_ffff_ffff, spoofed(0), 2), 0, 60);
  // One more source evicts the oldest, which is source 1 (source 0 was re-learned after it).
  b.transmit(frame(0xffff_ffff_ffff, spoofed(maxMacs), 3), 0, 60);
  // a probes from a group source address, which is never learned, so the table stays as it is.
  const probe = 0x03_00_00_00_00_01;
  const before = { switched: hub.switched, flooded: hub.flooded };
  a.transmit(frame(spoofed(0), probe, 4), 0, 60); // switched to c
  a.transmit(frame(spoofed(2), probe, 5), 0, 60); // switched to b
  a.transmit(frame(spoofed(1), probe, 6), 0, 60); // forgotten: flooded
  assert.equal(hub.switched - before.switched, 2);
  assert.equal(hub.flooded - before.flooded, 1);
  const s = new Collect();
  c.receive(s, 1000);
  assert.deepEqual(s.frames.slice(-2).map((f) => f[14]), [4, 6]);
  // Closing b forgets its sources; c's stays.
  b.close();
  a.transmit(frame(spoofed(2), probe, 7), 0, 60); // flooded (to c)
  a.transmit(frame(spoofed(0), probe, 8), 0, 60); // still switched to c
  const t = new Collect();
  c.receive(t, 1000);
  assert.deepEqual(t.frames.map((f) => f[14]), [7, 8]);
  hub.close();
});
