// Retransmissions carry only data that was sent before. Found by
// tests/sim/stack_simulation_test.ts: a fast retransmission at SND.UNA cut a full MSS from the
// send ring while less than that was outstanding, so it also carried bytes never sent (beyond
// SND.MAX, and beyond the peer's window). The peer acknowledged them, every such ACK was then
// dropped as "acknowledging something not yet sent" (RFC 9293 §3.10.7.4), and the two ends
// traded ACKs until the connection timed out.
import assert from "node:assert/strict";
import { TCP_ACK, TCP_SYN } from "../../src/wire/tcp.ts";
import { Host } from "./harness.ts";

const PEER_ISS = 9000;
const PEER_WINDOW = 1036;

Deno.test("TcpConnection fast retransmit sends nothing beyond SND.MAX", () => {
  const h = new Host({
    timestamps: false,
    sack: false,
    windowScaling: false,
    congestion: "newreno",
  });
  const listener = h.tcp.listen(80);
  h.feed({ seq: PEER_ISS, flags: TCP_SYN, mss: 1460, window: PEER_WINDOW });
  const iss = h.take()[0].seq;
  const ack = (n = 0) =>
    h.feed({ seq: PEER_ISS + 1, ack: iss + 1 + n, flags: TCP_ACK, window: PEER_WINDOW });
  ack();
  const conn = listener.accept()!;
  const data = new Uint8Array(3000).map((_, i) => i);
  assert.equal(conn.write(data, 0, data.length), data.length);
  const first = h.take().filter((s) => s.payloadLength > 0);
  // The peer's window lets exactly PEER_WINDOW bytes out.
  assert.deepEqual(first.map((s) => [s.seq - iss - 1, s.payloadLength]), [[0, PEER_WINDOW]]);
  // Three duplicate ACKs: fast retransmit of the segment at SND.UNA (RFC 5681 §3.2).
  for (let i = 0; i < 3; i++) ack();
  const again = h.take().filter((s) => s.payloadLength > 0);
  assert.ok(again.length > 0, "fast retransmit sent the first segment again");
  for (const s of again) {
    const end = s.seq - iss - 1 + s.payloadLength;
    assert.ok(
      end <= PEER_WINDOW,
      `a retransmission reaches byte ${end}, beyond the ${PEER_WINDOW} sent`,
    );
  }
  // Everything sent is acknowledged: the connection moves on (no ACK war).
  ack(PEER_WINDOW);
  assert.equal(conn.info().sendQueued, 3000 - PEER_WINDOW);
});
