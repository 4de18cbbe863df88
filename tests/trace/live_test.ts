import assert from "node:assert/strict";
import { LiveCapture } from "../../src/trace/live.ts";
import { analyzePcap } from "../../src/trace/connections.ts";
import { handshake } from "./_frames.ts";

Deno.test("LiveCapture copies frames, calls back, and saves them as pcap", () => {
  const seen: number[] = [];
  const live = new LiveCapture({ onFrame: (_f, i) => void seen.push(i) });
  for (const f of handshake()) {
    const buf = new Uint8Array(f.data.length + 4);
    buf.set(f.data, 2);
    live.writeFrame(buf, 2, f.data.length, f.timestampMs);
    buf.fill(0); // the device reuses its buffer
  }
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(live.analyze().connections[0].segments.length, 3);
  const again = analyzePcap(live.toPcap());
  assert.equal(again.connections[0].segments.length, 3);
  assert.equal(again.connections[0].segments[1].ack, 1);
  live.clear();
  assert.equal(live.frameCount, 0);
});

Deno.test("LiveCapture drops frames beyond its byte bound and counts them", () => {
  const live = new LiveCapture({ maxBytes: 100 });
  live.writeFrame(new Uint8Array(60), 0, 60, 0);
  live.writeFrame(new Uint8Array(60), 0, 60, 1);
  assert.equal(live.frameCount, 1);
  assert.equal(live.dropped, 1);
});
