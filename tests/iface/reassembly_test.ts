import assert from "node:assert/strict";
import { Reassembler } from "../../src/iface/reassembly.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";
import { IP_A, IP_B, ipv4Packet, parseIpv4Packet, pattern } from "./_helpers.ts";

const DATA = pattern(3000);

/** Fragment [start, end) of DATA as an IPv4 packet. */
function frag(start: number, end: number, opts: { id?: number; last?: boolean } = {}) {
  const last = opts.last ?? end === DATA.length;
  return ipv4Packet({
    src: IP_B,
    dst: IP_A,
    protocol: 17,
    id: opts.id ?? 42,
    mf: !last,
    fragmentOffset: start,
    payload: DATA.subarray(start, end),
  });
}

function feed(r: Reassembler, now: number, p: Uint8Array): Uint8Array | null {
  const whole = r.input(now, p, 0, 20, p.length);
  return whole === null ? null : whole.slice(r.headerOffset, r.headerOffset + r.length);
}

function assertWhole(p: Uint8Array | null) {
  assert.ok(p !== null);
  const f = parseIpv4Packet(p);
  assert.equal(f.totalLength, 20 + DATA.length);
  assert.ok(!f.mf);
  assert.equal(f.fragmentOffset, 0);
  assert.ok(f.checksumOk);
  assert.equal(internetChecksum(p, 0, 20), 0);
  assert.deepEqual(f.payload, DATA);
}

Deno.test("Reassembler rebuilds in-order fragments", () => {
  const r = new Reassembler();
  assert.equal(feed(r, 0, frag(0, 1480)), null);
  assert.equal(feed(r, 0, frag(1480, 2960)), null);
  assertWhole(feed(r, 0, frag(2960, 3000)));
  assert.equal(r.pending, 0);
  assert.equal(r.totalBytes, 0);
  assert.equal(r.stats.reassembled, 1);
});

Deno.test("Reassembler rebuilds out-of-order fragments", () => {
  const r = new Reassembler();
  assert.equal(feed(r, 0, frag(2960, 3000)), null);
  assert.equal(feed(r, 0, frag(1480, 2960)), null);
  assertWhole(feed(r, 0, frag(0, 1480)));
});

Deno.test("Reassembler ignores exact duplicates", () => {
  const r = new Reassembler();
  feed(r, 0, frag(0, 1480));
  feed(r, 0, frag(0, 1480));
  feed(r, 0, frag(1480, 2960));
  assertWhole(feed(r, 0, frag(2960, 3000)));
  assert.equal(r.stats.duplicates, 1);
});

Deno.test("Reassembler drops the whole datagram on overlap and later fragments too", () => {
  const r = new Reassembler();
  feed(r, 0, frag(0, 1480));
  assert.equal(feed(r, 0, frag(1472, 2960)), null); // overlaps by 8 bytes
  assert.equal(r.stats.overlaps, 1);
  assert.equal(feed(r, 0, frag(1480, 2960)), null);
  assert.equal(feed(r, 0, frag(2960, 3000)), null);
  assert.equal(r.stats.discardedLate, 2);
  assert.equal(r.stats.reassembled, 0);
  assert.equal(r.totalBytes, 0);
  // After the timeout the key is forgotten and the datagram can be sent again.
  r.poll(30_000);
  assert.equal(r.pending, 0);
  feed(r, 30_001, frag(0, 1480));
  feed(r, 30_001, frag(1480, 2960));
  assertWhole(feed(r, 30_001, frag(2960, 3000)));
});

Deno.test("Reassembler times out incomplete datagrams after 30 s and reports them", () => {
  const r = new Reassembler();
  const reported: number[] = [];
  r.onTimeout = (_now, bytes, off, len) => reported.push(len, bytes[off + 9]);
  feed(r, 0, frag(0, 1480));
  assert.equal(r.nextDeadline(), 30_000);
  r.poll(29_999);
  assert.equal(r.pending, 1);
  r.poll(30_000);
  assert.equal(r.pending, 0);
  assert.equal(r.stats.timeouts, 1);
  assert.deepEqual(reported, [28, 17]);
  assert.equal(feed(r, 30_001, frag(1480, 2960)), null);
  assert.equal(r.nextDeadline(), 60_001);
});

Deno.test("Reassembler does not report a timeout without the first fragment", () => {
  const r = new Reassembler();
  let reported = 0;
  r.onTimeout = () => reported++;
  feed(r, 0, frag(1480, 2960));
  r.poll(30_000);
  assert.equal(reported, 0);
  assert.equal(r.stats.timeouts, 1);
});

Deno.test("Reassembler rejects fragments that are not a multiple of 8 or empty", () => {
  const r = new Reassembler();
  assert.equal(feed(r, 0, frag(0, 1001)), null);
  assert.equal(feed(r, 0, frag(8, 8)), null);
  assert.equal(r.stats.badLength, 2);
});

Deno.test("Reassembler drops datagrams longer than 65535 bytes", () => {
  const r = new Reassembler();
  const p = ipv4Packet({
    src: IP_B,
    dst: IP_A,
    protocol: 17,
    fragmentOffset: 65528,
    payload: pattern(16),
  });
  assert.equal(r.input(0, p, 0, 20, p.length), null);
  assert.equal(r.stats.tooLong, 1);
});

Deno.test("Reassembler drops datagrams whose last fragment disagrees", () => {
  const r = new Reassembler();
  feed(r, 0, frag(1480, 2960, { last: true }));
  assert.equal(feed(r, 0, frag(2960, 3000)), null); // data beyond the end
  assert.equal(r.stats.inconsistent, 1);
});

Deno.test("Reassembler bounds concurrent datagrams by evicting the oldest", () => {
  const r = new Reassembler({ maxDatagrams: 2 });
  feed(r, 0, frag(0, 1480, { id: 1 }));
  feed(r, 1, frag(0, 1480, { id: 2 }));
  feed(r, 2, frag(0, 1480, { id: 3 }));
  assert.equal(r.pending, 2);
  assert.equal(r.stats.evicted, 1);
  // id 1 was evicted: its remaining fragments do not complete it.
  feed(r, 3, frag(1480, 2960, { id: 1 }));
  assert.equal(feed(r, 3, frag(2960, 3000, { id: 1 })), null);
});

Deno.test("Reassembler bounds total bytes and fragments per datagram", () => {
  const r = new Reassembler({ maxTotalBytes: 8192 });
  feed(r, 0, frag(0, 1480, { id: 1 }));
  feed(r, 0, frag(0, 1480, { id: 2 }));
  assert.ok(r.totalBytes <= 8192);
  const big = ipv4Packet({
    src: IP_B,
    dst: IP_A,
    protocol: 17,
    id: 3,
    mf: true,
    fragmentOffset: 16000,
    payload: pattern(8),
  });
  assert.equal(r.input(0, big, 0, 20, big.length), null);
  assert.ok(r.totalBytes <= 8192);
  assert.ok(r.stats.evicted >= 1);

  const few = new Reassembler({ maxFragments: 2 });
  feed(few, 0, frag(0, 8));
  feed(few, 0, frag(16, 24));
  assert.equal(feed(few, 0, frag(32, 40)), null);
  assert.equal(few.stats.tooManyFragments, 1);
});

Deno.test("Reassembler keys by source, destination, protocol and id", () => {
  const r = new Reassembler();
  feed(r, 0, frag(0, 1480, { id: 5 }));
  const other = ipv4Packet({
    src: IP_B,
    dst: IP_A,
    protocol: 6,
    id: 5,
    fragmentOffset: 1480,
    mf: true,
    payload: DATA.subarray(1480, 2960),
  });
  r.input(0, other, 0, 20, other.length);
  assert.equal(r.pending, 2);
});

/**
 * The fragments of one datagram whose first fragment has a 60-byte header (40 bytes of
 * options) and whose other fragments have 20-byte headers: 65,515 data bytes, so the rebuilt
 * datagram would be 60 + 65,515 = 65,575 bytes, although each fragment alone passes
 * "its header + its end ≤ 65,535".
 */
function oversizedFragments(id: number): { first: Uint8Array; rest: Uint8Array[] } {
  const dataBytes = 65_515;
  const step = 1480;
  const data = pattern(dataBytes);
  const mk = (start: number, end: number, options?: Uint8Array) =>
    ipv4Packet({
      src: IP_B,
      dst: IP_A,
      protocol: 17,
      id,
      mf: end < dataBytes,
      fragmentOffset: start,
      payload: data.subarray(start, end),
      options,
    });
  const first = mk(0, step, new Uint8Array(40).fill(1)); // 40 NOPs
  const rest: Uint8Array[] = [];
  for (let start = step; start < dataBytes; start += step) {
    rest.push(mk(start, Math.min(start + step, dataBytes)));
  }
  return { first, rest };
}

function feedAny(r: Reassembler, p: Uint8Array): Uint8Array | null {
  const hl = (p[0] & 0x0f) * 4;
  return r.input(0, p, 0, hl, p.length);
}

Deno.test("Reassembler drops a datagram over 65,535 bytes counted with the first fragment's header", () => {
  // Linux ip_frag_reasm: first fragment's header + all data > 65,535 is "oversized".
  // First fragment first: the last fragment reveals the excess.
  const early = new Reassembler({ maxFragments: 64 });
  const a = oversizedFragments(1);
  assert.ok(feedAny(early, a.first) === null);
  for (const p of a.rest) assert.ok(feedAny(early, p) === null, "never completed");
  assert.equal(early.stats.tooLong, 1);
  assert.equal(early.stats.reassembled, 0);
  assert.equal(early.totalBytes, 0, "the datagram's buffer is released");

  // First fragment last: it reveals the excess when it arrives.
  const late = new Reassembler({ maxFragments: 64 });
  const b = oversizedFragments(2);
  for (const p of b.rest) assert.ok(feedAny(late, p) === null);
  assert.equal(late.stats.tooLong, 0, "65,515 data bytes fit behind a 20-byte header");
  assert.ok(feedAny(late, b.first) === null, "never completed");
  assert.equal(late.stats.tooLong, 1);
  assert.equal(late.stats.reassembled, 0);
});

Deno.test("Reassembler clear releases every datagram's buffer", () => {
  const r = new Reassembler();
  for (let id = 1; id <= 3; id++) feed(r, 0, frag(0, 64, { id }));
  assert.equal(r.pending, 3);
  assert.ok(r.totalBytes > 0);
  r.clear();
  assert.equal(r.pending, 0);
  assert.equal(r.totalBytes, 0, "no buffer left counted");
});
