// TxBatch without a network: libc's sendmmsg is replaced by a script of results (frames taken,
// or an errno to refuse with), and the frames it takes are recorded by their first byte, read
// through the mmsghdr → iovec → frame pointers the batch wrote.
import assert from "node:assert/strict";
import type { AfPacketStats } from "../../../src/phy/af_packet.ts";
import {
  SEND_AT_ONCE,
  STAGE_DROPPED,
  STAGED,
  TxBatch,
} from "../../../src/phy/af_packet/tx_batch.ts";
import { EAGAIN, EMSGSIZE, ENETDOWN, ENOBUFS, libc } from "../../../src/phy/libc.ts";
import { MMSG_HDR_BYTES, MSG_IOV } from "../../../src/phy/af_packet/layout.ts";
import { packetBytes, releasePacketBytes } from "../../../src/buffer/arena.ts";
import { newDeviceStats } from "../../../src/phy/device.ts";

const BATCH = 4;
const FRAME_BYTES = 60;
const MAX_FRAME = 1514;

/** One sendmmsg() result: frames the kernel takes (capped by vlen), or an errno it refuses with. */
type Step = { take: number } | { errno: number };

type SendMmsg = (fd: number, msgvec: bigint, vlen: number, flags: number) => number;

function setErrno(value: number): void {
  const p = libc().__errno_location();
  assert.ok(p !== null);
  new Int32Array(Deno.UnsafePointerView.getArrayBuffer(p, Int32Array.BYTES_PER_ELEMENT))[0] = value;
}

/** The first byte of message `k` of the vector at `msgvec`. */
function marker(msgvec: bigint, k: number): number {
  const msg = Deno.UnsafePointer.create(msgvec + BigInt(k * MMSG_HDR_BYTES))!;
  const iov = new Deno.UnsafePointerView(msg).getBigUint64(MSG_IOV);
  const base = new Deno.UnsafePointerView(Deno.UnsafePointer.create(iov)!).getBigUint64(0);
  return new Deno.UnsafePointerView(Deno.UnsafePointer.create(base)!).getUint8(0);
}

/** Runs `fn` with a scripted sendmmsg; returns the markers of the frames "sent", in order. */
function withScriptedSendmmsg(
  script: Step[],
  fn: (batch: TxBatch, stats: AfPacketStats, frame: (m: number) => Uint8Array) => void,
): number[] {
  const c = libc() as unknown as { sendmmsg: SendMmsg };
  const real = c.sendmmsg;
  const sent: number[] = [];
  const frames: Uint8Array[] = [];
  c.sendmmsg = (_fd, msgvec, vlen) => {
    const step = script.shift() ?? { take: vlen };
    if ("errno" in step) {
      setErrno(step.errno);
      return -1;
    }
    const n = Math.min(step.take, vlen);
    for (let k = 0; k < n; k++) sent.push(marker(msgvec, k));
    return n;
  };
  const stats = {
    ...newDeviceStats(),
    txErrors: 0,
    txLastErrno: 0,
    txDeferred: 0,
    txQueueFullDrops: 0,
  } as unknown as AfPacketStats;
  const batch = TxBatch.create(-1, BATCH, 1, false, MAX_FRAME, stats);
  assert.ok(batch !== null, "the packet arena stages frames");
  try {
    fn(batch, stats, (m) => {
      const f = packetBytes(FRAME_BYTES);
      f[0] = m;
      frames.push(f);
      return f;
    });
  } finally {
    c.sendmmsg = real;
    batch.release();
    for (const f of frames) releasePacketBytes(f);
  }
  return sent;
}

function stage(batch: TxBatch, f: Uint8Array): number {
  return batch.stage(f, 0, f.length, 0, 0);
}

Deno.test("TxBatch behaviour: frames refused with EAGAIN stay staged and leave first, in order, at the next flush", () => {
  const sent = withScriptedSendmmsg(
    [{ take: 2 }, { errno: EAGAIN }, { errno: EAGAIN }, { take: BATCH }],
    (batch, stats, frame) => {
      for (let m = 0; m < 3; m++) assert.equal(stage(batch, frame(m)), STAGED);
      assert.equal(batch.refused, false, "staged, not refused");
      batch.flush(); // takes 0 and 1, refuses 2
      assert.equal(batch.pending, 1, "the refused frame waits");
      assert.equal(batch.refused, true);
      assert.equal(stats.txDeferred, 1);
      assert.equal(stats.txDropped, 0);
      assert.equal(stats.txErrors, 0);
      assert.equal(stats.txLastErrno, EAGAIN);
      // A frame outside the packet arena is sent at once: while 2 waits (refused again) it
      // would overtake it, so it is dropped and counted instead.
      const outside = new Uint8Array(FRAME_BYTES);
      assert.equal(batch.stage(outside, 0, outside.length, 0, 0), STAGE_DROPPED);
      assert.equal(stats.txQueueFullDrops, 1);
      assert.equal(stats.txDropped, 1);
      assert.equal(stats.txDeferred, 2);
      for (let m = 3; m < 5; m++) assert.equal(stage(batch, frame(m)), STAGED);
      batch.flush();
      assert.equal(batch.pending, 0);
      assert.equal(stats.txFrames, 5);
      assert.equal(stats.txBytes, 5 * FRAME_BYTES);
      assert.equal(stats.txDropped, 1, "only the frame that would have overtaken");
      assert.equal(batch.refused, false);
      assert.equal(batch.stage(outside, 0, outside.length, 0, 0), SEND_AT_ONCE);
    },
  );
  assert.deepEqual(sent, [0, 1, 2, 3, 4]);
});

Deno.test("TxBatch behaviour: refused frames at the end of the slots and new ones wrapped after them leave in order", () => {
  const sent = withScriptedSendmmsg(
    [{ take: 2 }, { errno: ENOBUFS }],
    (batch, stats, frame) => {
      // The 4th frame fills the batch: 0 and 1 leave, 2 and 3 (the last slots) are refused.
      for (let m = 0; m < 4; m++) assert.equal(stage(batch, frame(m)), STAGED);
      assert.equal(batch.pending, 2);
      // 4 and 5 go to the first slots; the batch is full again: two sendmmsg() pieces.
      for (let m = 4; m < 6; m++) assert.equal(stage(batch, frame(m)), STAGED);
      assert.equal(batch.pending, 0);
      assert.equal(stats.txFrames, 6);
      assert.equal(stats.txDeferred, 2);
      assert.equal(stats.txDropped, 0);
    },
  );
  assert.deepEqual(sent, [0, 1, 2, 3, 4, 5]);
});

Deno.test("TxBatch behaviour: with refused frames in every slot a new frame is dropped and counted, and they leave later", () => {
  const sent = withScriptedSendmmsg(
    [{ errno: ENOBUFS }, { errno: ENOBUFS }],
    (batch, stats, frame) => {
      for (let m = 0; m < BATCH; m++) assert.equal(stage(batch, frame(m)), STAGED);
      assert.equal(batch.pending, BATCH, "all refused, all kept");
      // Full of refused frames: retried once more (refused), so this one cannot be kept.
      assert.equal(stage(batch, frame(9)), STAGE_DROPPED);
      assert.equal(stats.txQueueFullDrops, 1);
      assert.equal(stats.txDropped, 1);
      batch.flush(); // the queue drained: all four leave
      assert.equal(batch.pending, 0);
      assert.equal(stats.txFrames, BATCH);
      assert.equal(stats.txDropped, 1);
    },
  );
  assert.deepEqual(sent, [0, 1, 2, 3]);
});

Deno.test("TxBatch behaviour: other send errors still drop the run and count it", () => {
  for (const err of [ENETDOWN, EMSGSIZE]) {
    const sent = withScriptedSendmmsg([{ take: 1 }, { errno: err }], (batch, stats, frame) => {
      for (let m = 0; m < 3; m++) assert.equal(stage(batch, frame(m)), STAGED);
      batch.flush();
      assert.equal(batch.pending, 0, "nothing kept");
      assert.equal(stats.txFrames, 1);
      assert.equal(stats.txDropped, 2);
      assert.equal(stats.txErrors, 1);
      assert.equal(stats.txLastErrno, err);
      assert.equal(stats.txDeferred, 0);
    });
    assert.deepEqual(sent, [0]);
  }
});

Deno.test("TxBatch behaviour: refused frames still waiting at close are dropped and counted", () => {
  withScriptedSendmmsg([{ errno: EAGAIN }, { errno: EAGAIN }], (batch, stats, frame) => {
    for (let m = 0; m < 2; m++) assert.equal(stage(batch, frame(m)), STAGED);
    batch.flush();
    assert.equal(batch.pending, 2);
    batch.close();
    assert.equal(batch.pending, 0);
    assert.equal(stats.txDropped, 2);
  });
});
