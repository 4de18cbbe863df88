/**
 * TCP_CORK and MSG_MORE (Linux semantics, src/tcp/connection_send.ts) against a Linux
 * receiver: with the cork on, a run of small writes reaches the kernel as full-MSS segments
 * and the partial rest is held; uncorking (TCP_CORK off, or a write without MSG_MORE) sends
 * that rest at once. TCP_NODELAY is on, so without the cork each small write would be a
 * segment of its own: what coalesces them here is the cork.
 */
import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import type { TcpConn } from "../../src/socket/tcp_conn.ts";
import { tsharkFieldRows } from "../wire/_tshark.ts";
import { pattern, until } from "./_helpers.ts";
import {
  kernelSinkCommand,
  sha256Hex,
  sinkResult,
  waitPeerTcpPort,
  withTcpLab,
} from "./_tcp_lab_helpers.ts";

const PREFIX = "rscork";
const PORT = 5022;
/** Size of each small write. */
const WRITE_BYTES = 100;
/** Small writes under TCP_CORK. */
const CORK_WRITES = 100;
/** Small writes with MSG_MORE; one more write without it ends the run. */
const MORE_WRITES = 99;
/**
 * Floor of the retransmission timeout: corked data with nothing in flight leaves on its
 * own after max(RTO, 200 ms) (the cork probe, as on Linux). The test inspects the held
 * rest while nothing is in flight, so the probe must not fire meanwhile.
 */
const MIN_RTO_MS = 5000;
/** TCP sequence numbers are 32-bit. */
const SEQ_MOD = 2 ** 32;

/** Bytes sent but not acknowledged (SND.NXT − SND.UNA). */
function inFlight(conn: TcpConn): number {
  const i = conn.info();
  return (i.sndNxt - i.sndUna + SEQ_MOD) % SEQ_MOD;
}

labTest(
  "TCP_CORK and MSG_MORE with a Linux receiver: small writes leave as full-MSS segments, uncork sends the rest",
  async () => {
    await withTcpLab(PREFIX, {
      stack: { tcp: { noDelay: true, minRtoMs: MIN_RTO_MS } },
      capturePackets: 1000,
    }, async ({ lab, stack, checkCapture, capturePath }) => {
      const total = (CORK_WRITES + MORE_WRITES + 1) * WRITE_BYTES;
      const data = pattern(total, 22);
      const sink = lab.spawnInPeer(kernelSinkCommand(PORT));
      await waitPeerTcpPort(lab, PORT);
      const conn = await stack.connect({ hostname: lab.peerAddress, port: PORT });
      const mss = conn.info().sndMss;
      let at = 0;

      // TCP_CORK: full segments leave as they fill, the partial rest stays.
      conn.setCork(true);
      for (let i = 0; i < CORK_WRITES; i++, at += WRITE_BYTES) {
        await conn.write(data.subarray(at, at + WRITE_BYTES));
      }
      const corkFull = Math.floor(at / mss);
      const corkRest = at - corkFull * mss;
      await until(() => conn.info().bytesOut === corkFull * mss, "the full corked segments acked");
      assert.equal(inFlight(conn), 0, "nothing in flight: the rest is held");
      assert.equal(conn.info().sendQueued, corkRest, "the partial rest waits in the send buffer");
      conn.setCork(false);
      assert.equal(inFlight(conn), corkRest, "uncorking sent the rest at once");
      await until(() => conn.info().bytesOut === at, "the rest acked");

      // MSG_MORE on each write. No await until the write without it: no ACK is processed in
      // between. (An ACK arriving while a MSG_MORE rest waits lets it go under Nagle's rules,
      // as on Linux, whose later pushes use the socket's TCP_NODELAY setting, not the write's
      // flag.)
      const moreStart = at;
      const moreWrites: Promise<number>[] = [];
      for (let i = 0; i < MORE_WRITES; i++, at += WRITE_BYTES) {
        moreWrites.push(conn.write(data.subarray(at, at + WRITE_BYTES), { more: true }));
      }
      const moreFull = Math.floor((at - moreStart) / mss);
      const moreRest = at - moreStart - moreFull * mss;
      assert.equal(inFlight(conn), moreFull * mss, "the full MSG_MORE segments left");
      assert.equal(conn.info().sendQueued, at - moreStart, "the rest waits in the send buffer");
      // A write without MSG_MORE ends the run: the rest and this write leave together.
      const last = conn.write(data.subarray(at, at + WRITE_BYTES));
      at += WRITE_BYTES;
      const lastBytes = moreRest + WRITE_BYTES;
      assert.equal(
        inFlight(conn),
        moreFull * mss + lastBytes,
        "the write without MSG_MORE sent the rest at once",
      );
      assert.deepEqual(
        await Promise.all([...moreWrites, last]),
        new Array(MORE_WRITES + 1).fill(WRITE_BYTES),
        "every write resolved with its length",
      );
      await until(() => conn.info().bytesOut === total, "everything acked");

      await conn.closeWrite();
      const got = sinkResult(await sink.finished());
      assert.equal(got.bytes, total, "the kernel received every byte");
      assert.equal(got.sha256, await sha256Hex(data), "intact");
      conn.close();

      await checkCapture(10);
      const lens = (await tsharkFieldRows(capturePath, ["tcp.len"], {
        filter: `ip.src == ${lab.stackAddress} && tcp.len > 0`,
      })).map(([l]) => Number(l));
      const expected = [
        ...new Array(corkFull).fill(mss),
        corkRest,
        ...new Array(moreFull).fill(mss),
        lastBytes,
      ];
      assert.deepEqual(lens, expected, "segments on the wire: full MSS, then each rest once");
    });
  },
  { commands: ["python3", "tcpdump", "tshark"] },
);
