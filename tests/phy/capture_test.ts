import assert from "node:assert/strict";
import { CaptureDevice, type FrameWriter } from "../../src/phy/capture.ts";
import { FaultInjector } from "../../src/phy/fault_injector.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import { ForwardingDevice } from "./_forwarding_device.ts";
import { foldSum, onesComplementSum, pseudoHeaderSum } from "../../src/wire/checksum.ts";

class Recorder implements FrameWriter {
  frames: { bytes: number[]; t: number }[] = [];
  failNext = false;
  writeFrame(bytes: Uint8Array, offset: number, length: number, timestampMs: number): void {
    if (this.failNext) {
      this.failNext = false;
      throw new Error("disk full");
    }
    this.frames.push({
      bytes: Array.from(bytes.subarray(offset, offset + length)),
      t: timestampMs,
    });
  }
}

function frame(tag: number, length = 60): Uint8Array {
  const f = new Uint8Array(length);
  f[14] = tag;
  return f;
}

Deno.test("CaptureDevice records frames in and out with timestamps, in order", () => {
  let now = 1_700_000_000_000;
  const rec = new Recorder();
  const [a, b] = MemoryLink.pair();
  const cap = new CaptureDevice(a, rec, { now: () => now });
  const buf = new Uint8Array(100);
  buf.set(frame(1), 20);
  assert.ok(cap.transmit(buf, 20, 60));
  now += 1.5;
  b.transmit(frame(2, 64), 0, 64);
  const got: number[] = [];
  assert.equal(cap.receive({ onFrame: (x, o) => void got.push(x[o + 14]) }, 10), 1);
  assert.deepEqual(got, [2]);
  assert.equal(rec.frames.length, 2);
  assert.deepEqual(rec.frames.map((f) => [f.bytes[14], f.bytes.length, f.t]), [
    [1, 60, 1_700_000_000_000],
    [2, 64, 1_700_000_000_001.5],
  ]);
  assert.equal(cap.captured, 2);
  assert.equal(cap.stats, a.stats);
  cap.close();
  b.close();
});

Deno.test("CaptureDevice does not record refused transmits", () => {
  const rec = new Recorder();
  const [a, b] = MemoryLink.pair({ mtu: 100 });
  const cap = new CaptureDevice(a, rec);
  assert.equal(cap.transmit(new Uint8Array(200), 0, 200), false);
  assert.equal(rec.frames.length, 0);
  cap.close();
  b.close();
});

Deno.test("CaptureDevice direction filter records only one way", () => {
  const rec = new Recorder();
  const [a, b] = MemoryLink.pair();
  const cap = new CaptureDevice(a, rec, { direction: "in" });
  cap.transmit(frame(1), 0, 60);
  b.transmit(frame(2), 0, 60);
  cap.receive({ onFrame() {} }, 10);
  assert.deepEqual(rec.frames.map((f) => f.bytes[14]), [2]);
  cap.close();
  b.close();
});

Deno.test("CaptureDevice survives a failing writer and still passes frames", () => {
  const rec = new Recorder();
  const [a, b] = MemoryLink.pair();
  const cap = new CaptureDevice(a, rec);
  rec.failNext = true;
  assert.ok(cap.transmit(frame(1), 0, 60));
  assert.equal(b.stats.queued, 1);
  assert.equal(cap.writeErrors, 1);
  assert.equal(cap.captured, 0);
  cap.close();
  b.close();
});

Deno.test("CaptureDevice stacks with FaultInjector as middleware", () => {
  const now = 0;
  const rec = new Recorder();
  const [a, b] = MemoryLink.pair();
  const dev = new CaptureDevice(
    new FaultInjector(a, { seed: 1, now: () => now, tx: { drop: 1 } }),
    rec,
    {
      now: () => now,
    },
  );
  // Recorded as sent by us, lost on the wire afterwards.
  assert.ok(dev.transmit(frame(1), 0, 60));
  assert.equal(rec.frames.length, 1);
  assert.equal(b.stats.queued, 0);
  dev.close();
  b.close();
});

Deno.test("CaptureDevice reports whether the device it wraps batches transmits", () => {
  const rec = new Recorder();
  const [a, b] = MemoryLink.pair();
  const plain = new CaptureDevice(a, rec);
  assert.equal(plain.txBatching, false, "a MemoryLink delivers at transmit");
  class Batching extends ForwardingDevice {
    override get txBatching(): boolean {
      return true;
    }
    override get txPending(): number {
      return 3;
    }
  }
  const batching = new CaptureDevice(new Batching(a), rec);
  assert.equal(batching.txBatching, true);
  assert.equal(batching.txPending, 3);
  a.close();
  b.close();
});

Deno.test("CaptureDevice records an offloaded frame with its checksum filled in, the sent bytes untouched", () => {
  const [a, b] = MemoryLink.pair({ checksumOffload: true });
  const rec = new Recorder();
  const cap = new CaptureDevice(a, rec);
  // Ethernet + IPv4 (20) + UDP (8) + 4 data bytes; the UDP checksum field holds the folded
  // pseudo-header sum, as a stack leaves it for the device (CHECKSUM_PARTIAL).
  const src = 0xc0000202 | 0;
  const dst = 0xc0000201 | 0;
  const frame = new Uint8Array(14 + 20 + 12);
  frame[12] = 0x08; // IPv4
  frame[14] = 0x45;
  frame[14 + 9] = 17;
  new DataView(frame.buffer).setInt32(14 + 12, src);
  new DataView(frame.buffer).setInt32(14 + 16, dst);
  const udp = 14 + 20;
  frame[udp + 5] = 12; // length
  frame.set([1, 2, 3, 4], udp + 8);
  const partial = foldSum(pseudoHeaderSum(src, dst, 17, 12));
  frame[udp + 6] = partial >>> 8;
  frame[udp + 7] = partial & 0xff;
  const sent = frame.slice();
  assert.ok(cap.transmitOffload(frame, 0, frame.length, udp, 6, 0));
  assert.deepEqual(frame, sent, "the frame handed to the device is not changed");
  const recorded = Uint8Array.from(rec.frames[0].bytes);
  assert.notDeepEqual(recorded.subarray(udp + 6, udp + 8), sent.subarray(udp + 6, udp + 8));
  // The recorded checksum verifies: the one's-complement sum over pseudo-header + UDP is 0xffff.
  assert.equal(onesComplementSum(recorded, udp, 12, pseudoHeaderSum(src, dst, 17, 12)), 0xffff);
  cap.close();
  b.close();
});
