// Segment sizes against the MTU when options vary from segment to segment. Found by
// tests/sim/stack_simulation_test.ts: data segments that also carried SACK blocks were cut to
// the MSS computed for a header with timestamps only, so they exceeded the MTU and IPv4
// fragmented them (with DF set on a real path they would be black-holed).
import assert from "node:assert/strict";
import { TCP_ACK, TCP_SYN } from "../../src/wire/tcp.ts";
import { Host, LOCAL, REMOTE } from "./harness.ts";

const MTU = 1500;
const IPV4_HEADER_LEN = 20;
const PEER_ISS = 5000;

function established(config: { timestamps: boolean; sack: boolean }) {
  const h = new Host({ ...config, delayedAckMs: 40 });
  const listener = h.tcp.listen(80);
  const ts = config.timestamps ? { tsVal: 100, tsEcr: 0 } : {};
  h.feed({ seq: PEER_ISS, flags: TCP_SYN, mss: MTU - 40, sackPermitted: config.sack, ...ts });
  const synAck = h.take()[0];
  const iss = synAck.seq;
  h.feed({
    seq: PEER_ISS + 1,
    ack: iss + 1,
    flags: TCP_ACK,
    ...(config.timestamps ? { tsVal: 101, tsEcr: synAck.tsVal } : {}),
  });
  const conn = listener.accept();
  assert.ok(conn !== null);
  return { h, conn, iss, tsEcr: synAck.tsVal };
}

for (const timestamps of [false, true]) {
  Deno.test(
    `TcpConnection data segments with SACK blocks fit the MTU (timestamps ${timestamps})`,
    () => {
      const { h, conn, iss, tsEcr } = established({ timestamps, sack: true });
      // Out-of-order data from the peer: our ACKs (and data segments) carry SACK blocks.
      for (let i = 0; i < 3; i++) {
        h.feed({
          seq: PEER_ISS + 1 + 100 + i * 200,
          ack: iss + 1,
          flags: TCP_ACK,
          data: new Uint8Array(100),
          ...(timestamps ? { tsVal: 102, tsEcr } : {}),
        });
      }
      h.take();
      const data = new Uint8Array(20_000);
      assert.equal(conn.write(data, 0, data.length), data.length);
      const segs = h.ip.sent.splice(0);
      assert.ok(segs.length > 0);
      let withSack = 0;
      for (const s of segs) {
        assert.equal(s.src, LOCAL);
        assert.equal(s.dst, REMOTE);
        const dataOffset = (s.bytes[12] >> 4) * 4;
        if (dataOffset > 20 + (timestamps ? 12 : 0)) withSack++;
        assert.ok(
          IPV4_HEADER_LEN + s.bytes.length <= MTU,
          `a ${s.bytes.length}-byte segment (header ${dataOffset}) exceeds the ${MTU}-byte MTU`,
        );
      }
      assert.ok(withSack > 0, "the data segments carried SACK blocks");
    },
  );
}
