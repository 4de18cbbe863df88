import assert from "node:assert/strict";
import { GroDevice } from "../../src/phy/gro.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import { GSO_TCPV4, RX_CHECKSUM_VALID } from "../../src/phy/device.ts";
import {
  A_IP,
  B_IP,
  get16,
  get32,
  ipChecksumOk,
  ipv4Packet,
  sum16,
  tcp,
} from "../iface/_router_helpers.ts";

const MSS = 1448;
const ACK = 0x10;
const PSH = 0x08;

/** Ethernet frame around an IPv4 datagram. */
function frame(p: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + p.length);
  f[12] = 0x08;
  f.set(p, 14);
  return f;
}

/** Segment i of a flow A → B: MSS bytes of a pattern at seq 1000 + i·MSS. */
function segment(i: number, opts: { flags?: number; len?: number; ack?: number } = {}) {
  const len = opts.len ?? MSS;
  const data = new Uint8Array(len).map((_, k) => (i * 31 + k) & 0xff);
  const seg = tcp(A_IP, B_IP, 40000, 80, opts.flags ?? ACK, data, 1000 + i * MSS);
  if (opts.ack !== undefined) {
    seg[8] = opts.ack >>> 24;
    seg[11] = opts.ack & 0xff;
    seg[16] = 0;
    seg[17] = 0;
    // Re-checksum (the helper's builder is independent of the code under test).
    const ph = new Uint8Array(12);
    new DataView(ph.buffer).setInt32(0, A_IP);
    new DataView(ph.buffer).setInt32(4, B_IP);
    ph[9] = 6;
    new DataView(ph.buffer).setUint16(10, seg.length);
    const ck = ~sum16(seg, 0, seg.length, sum16(ph, 0, 12)) & 0xffff;
    seg[16] = ck >>> 8;
    seg[17] = ck & 0xff;
  }
  return frame(ipv4Packet({ src: A_IP, dst: B_IP, protocol: 6, payload: seg, df: true, id: i }));
}

interface Seen {
  bytes: Uint8Array;
  gsoSize: number;
  gsoType: number;
  checksum: number;
}

/** Sends `frames` into a GroDevice's link (checksums unknown: verified) and receives once. */
function run(frames: Uint8Array[]): { seen: Seen[]; gro: GroDevice } {
  const [a, b] = MemoryLink.pair({ rxChecksumValid: false });
  const gro = new GroDevice(a);
  for (const f of frames) b.transmit(f, 0, f.length);
  const seen: Seen[] = [];
  gro.receive({
    onFrame(bytes, offset, length) {
      const i = gro.rxInfo!;
      seen.push({
        bytes: bytes.slice(offset, offset + length),
        gsoSize: i.gsoSize,
        gsoType: i.gsoType,
        checksum: i.checksum,
      });
    },
  }, 64);
  gro.close();
  b.close();
  return { seen, gro };
}

Deno.test("GroDevice merges a flow's in-order segments into one super-frame with GSO metadata", () => {
  const frames = [0, 1, 2, 3].map((i) => segment(i, { flags: i === 3 ? ACK | PSH : ACK }));
  const { seen, gro } = run(frames);
  assert.equal(seen.length, 1);
  const s = seen[0];
  assert.equal(s.gsoSize, MSS);
  assert.equal(s.gsoType, GSO_TCPV4);
  assert.equal(s.checksum, RX_CHECKSUM_VALID);
  const ip = s.bytes.subarray(14);
  assert.equal(get16(ip, 2), 40 + 4 * MSS);
  assert.ok(ipChecksumOk(ip));
  assert.equal(get32(ip, 24), 1000); // the first segment's sequence number
  assert.equal(ip[33], ACK | PSH); // the last segment's PSH
  for (let i = 0; i < 4; i++) {
    assert.deepEqual(ip.subarray(40 + i * MSS, 40 + (i + 1) * MSS), frames[i].subarray(54));
  }
  assert.deepEqual(gro.groStats, {
    merged: 1,
    segmentsMerged: 4,
    checksumsVerified: 4,
    badChecksum: 0,
  });
});

Deno.test("GroDevice ends a merge at a gap, a different ACK, a short segment, and never merges a bad checksum", () => {
  const bad = segment(5);
  bad[bad.length - 1] ^= 0xff; // corrupt data: the TCP checksum no longer matches
  const frames = [
    segment(0),
    segment(1),
    segment(3), // gap: a new merge starts
    segment(4, { ack: 77 }), // another acknowledgement number: a new merge
    bad, // delivered as it came
    segment(6),
    segment(7, { len: 100 }), // short: joins and ends the merge
    segment(8),
  ];
  const { seen, gro } = run(frames);
  const summary = seen.map((s) => `${get16(s.bytes, 16)}/${s.gsoSize}`);
  assert.deepEqual(summary, [
    `${40 + 2 * MSS}/${MSS}`,
    `${40 + MSS}/0`,
    `${40 + MSS}/0`,
    `${40 + MSS}/0`,
    `${40 + MSS + 100}/${MSS}`,
    `${40 + MSS}/0`,
  ]);
  assert.deepEqual(seen[3].bytes, bad); // untouched
  assert.equal(gro.groStats.badChecksum, 1);
  assert.equal(gro.groStats.merged, 2);
});

Deno.test("GroDevice delivers what it does not merge unchanged and in order", () => {
  const syn = frame(ipv4Packet({
    src: A_IP,
    dst: B_IP,
    protocol: 6,
    payload: tcp(A_IP, B_IP, 40000, 80, 0x02),
  }));
  const udp = frame(ipv4Packet({ src: A_IP, dst: B_IP, protocol: 17, payload: new Uint8Array(8) }));
  const frames = [segment(0), syn, segment(1), segment(2), udp];
  const { seen } = run(frames);
  assert.equal(seen.length, 4);
  assert.deepEqual(seen[0].bytes, segment(0).subarray(0, seen[0].bytes.length));
  assert.equal(seen[0].gsoSize, 0);
  assert.deepEqual(seen[1].bytes.subarray(0, syn.length), syn);
  assert.equal(seen[2].gsoSize, MSS);
  assert.deepEqual(seen[3].bytes.subarray(0, udp.length), udp);
});
