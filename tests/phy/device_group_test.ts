import assert from "node:assert/strict";
import { DeviceGroup } from "../../src/phy/device_group.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";

const FRAME = new Uint8Array(60).fill(0xff, 0, 6);

Deno.test("DeviceGroup gives each member its own budget, so a busy member starves no other", () => {
  const [a, peerA] = MemoryLink.pair();
  const [b, peerB] = MemoryLink.pair();
  const group = new DeviceGroup([a, b]);
  for (let i = 0; i < 100; i++) peerA.transmit(FRAME, 0, 60);
  peerB.transmit(FRAME, 0, 60);
  const seen = [0, 0];
  let member = -1;
  const n = group.receive({ selectMember: (i) => member = i, onFrame: () => seen[member]++ }, 64);
  assert.equal(n, 65);
  assert.deepEqual(seen, [64, 1]);
  group.close();
  peerA.close();
  peerB.close();
});

Deno.test("DeviceGroup wait resolves when any member has a frame, and flush and close reach all", async () => {
  const [a, peerA] = MemoryLink.pair();
  const [b, peerB] = MemoryLink.pair();
  const group = new DeviceGroup([a, b]);
  // A wait far longer than the test: it must end because member 1 got a frame.
  const waiting = group.wait(600_000).then(() => "frame");
  peerB.transmit(FRAME, 0, 60);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<string>((r) => timer = setTimeout(() => r("still waiting"), 10_000));
  assert.equal(await Promise.race([waiting, guard]), "frame");
  clearTimeout(timer);
  assert.equal(group.receive({ onFrame: () => {} }, 8), 1);
  assert.equal(group.stats.rxFrames, 1);
  group.close();
  assert.equal(a.closed, true);
  assert.equal(b.closed, true);
  assert.equal(group.closed, true);
  peerA.close();
  peerB.close();
});
