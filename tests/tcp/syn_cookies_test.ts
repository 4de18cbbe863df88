import assert from "node:assert/strict";
import {
  checkSynCookie,
  COOKIE_TS_OPTION_MASK,
  cookieTsVal,
  decodeCookieTimestamp,
  makeSynCookie,
  SYN_COOKIE_MSS_TABLE,
  SYN_COOKIE_PERIOD_MS,
  SYN_COOKIE_VALID_MS,
  synCookieMssIndex,
  synCookieWindowOpen,
  validateSynCookieAck,
} from "../../src/tcp/syn_cookies.ts";
import { DEFAULT_TCP_CONFIG } from "../../src/tcp/config.ts";
import { NO_COOKIE_OPTIONS } from "../../src/tcp/connection.ts";
import { newTcpRepr, TCP_ACK } from "../../src/wire/tcp.ts";

const SECRET = new Uint8Array(16).fill(7);
const LOCAL = 0xc0000201 | 0;
const REMOTE = 0xc0000202 | 0;

function ack(seq: number, ackNo: number, ts?: { val: number; ecr: number }) {
  const r = newTcpRepr();
  r.srcPort = 5000;
  r.dstPort = 80;
  r.flags = TCP_ACK;
  r.seq = seq | 0;
  r.ack = ackNo | 0;
  if (ts !== undefined) {
    r.hasTimestamp = true;
    r.tsVal = ts.val;
    r.tsEcr = ts.ecr;
  }
  return r;
}

Deno.test("synCookieMssIndex behaviour", () => {
  assert.equal(synCookieMssIndex(100), 0, "below the table: its smallest entry");
  assert.equal(synCookieMssIndex(536), 0);
  assert.equal(synCookieMssIndex(1400), 1);
  assert.equal(synCookieMssIndex(1460), 3);
  assert.equal(synCookieMssIndex(9000), SYN_COOKIE_MSS_TABLE.length - 1);
});

Deno.test("makeSynCookie behaviour", () => {
  const now = 17 * SYN_COOKIE_PERIOD_MS + 500;
  const iss = makeSynCookie(SECRET, now, LOCAL, 80, REMOTE, 5000, 1234, 3);
  assert.equal(iss >>> 27, 17, "counter in the top 5 bits");
  assert.equal((iss >>> 24) & 7, 3, "MSS index below");
  assert.ok(iss < 0, "int32 like every sequence number (counter 17 sets the top bit)");
  // Deterministic for a secret, different for another secret, peer ISN or 4-tuple.
  assert.equal(makeSynCookie(SECRET, now, LOCAL, 80, REMOTE, 5000, 1234, 3), iss);
  const other = new Uint8Array(16).fill(8);
  assert.notEqual(makeSynCookie(other, now, LOCAL, 80, REMOTE, 5000, 1234, 3), iss);
  assert.notEqual(makeSynCookie(SECRET, now, LOCAL, 80, REMOTE, 5000, 1235, 3), iss);
  assert.notEqual(makeSynCookie(SECRET, now, LOCAL, 80, REMOTE, 5001, 1234, 3), iss);
});

Deno.test("checkSynCookie behaviour", () => {
  const sent = 40 * SYN_COOKIE_PERIOD_MS + 63_000;
  const iss = makeSynCookie(SECRET, sent, LOCAL, 80, REMOTE, 5000, 99, 2);
  const check = (nowMs: number, cookie = iss, irs = 99, port = 5000) =>
    checkSynCookie(SECRET, nowMs, LOCAL, 80, REMOTE, port, cookie, irs);
  assert.equal(check(sent), 1440);
  assert.equal(check(sent + SYN_COOKIE_PERIOD_MS), 1440, "the previous counter is accepted");
  assert.equal(check(sent + 2 * SYN_COOKIE_PERIOD_MS), 0, "two counters later: expired");
  assert.equal(check(sent, iss ^ 1), 0, "one hash bit flipped");
  assert.equal(check(sent, iss, 100), 0, "another peer ISN");
  assert.equal(check(sent, iss, 99, 5001), 0, "another 4-tuple");
  // An MSS index beyond the table is refused before hashing.
  assert.equal(check(sent, (iss & ~(7 << 24)) | (7 << 24)), 0);
});

Deno.test("cookieTsVal behaviour", () => {
  // Linux's layout: the peer's shift in bits 0-3 (15: none), SACK in bit 4; never ahead.
  for (const clock of [0x1000, 0x1003f, 0x10000, -5, 0x7fffffff]) {
    for (const [shift, sack, bits] of [[7, true, 7 | 0x10], [-1, false, 0x0f], [20, false, 14]]) {
      const v = cookieTsVal(clock, shift as number, sack as boolean);
      assert.equal(v & COOKIE_TS_OPTION_MASK, bits);
      const behind = (clock - v) | 0;
      assert.ok(behind >= 0 && behind <= 2 * COOKIE_TS_OPTION_MASK + 1, `${clock}: ${v}`);
    }
  }
});

Deno.test("decodeCookieTimestamp behaviour", () => {
  const cfg = DEFAULT_TCP_CONFIG;
  assert.equal(decodeCookieTimestamp(ack(1, 1), cfg), NO_COOKIE_OPTIONS);
  const echo = cookieTsVal(5000, 5, true);
  assert.deepEqual(decodeCookieTimestamp(ack(1, 1, { val: 77, ecr: echo }), cfg), {
    sndWScale: 5,
    sackOk: true,
    tsVal: 77,
    ecnOk: false,
  });
  const plain = cookieTsVal(5000, -1, false);
  assert.deepEqual(decodeCookieTimestamp(ack(1, 1, { val: 78, ecr: plain }), cfg), {
    sndWScale: -1,
    sackOk: false,
    tsVal: 78,
    ecnOk: false,
  });
  // Echoes asking for what we do not offer cannot be ours.
  const seg = ack(1, 1, { val: 1, ecr: echo });
  assert.equal(decodeCookieTimestamp(seg, { ...cfg, sack: false }), null);
  assert.equal(decodeCookieTimestamp(seg, { ...cfg, windowScaling: false }), null);
  assert.equal(decodeCookieTimestamp(seg, { ...cfg, timestamps: false }), null);
});

Deno.test("cookieTsVal and decodeCookieTimestamp carry ECN agreement in bit 5 (Linux TS_OPT_ECN)", () => {
  const cfg = DEFAULT_TCP_CONFIG;
  for (const clock of [0x1000, 0x1003f, -5]) {
    const v = cookieTsVal(clock, 7, true, true);
    assert.equal(v & COOKIE_TS_OPTION_MASK, 7 | 0x10 | 0x20);
    assert.ok(((clock - v) | 0) >= 0, "never ahead of the clock");
  }
  const agreed = ack(1, 1, { val: 9, ecr: cookieTsVal(5000, -1, false, true) });
  assert.deepEqual(decodeCookieTimestamp(agreed, cfg), {
    sndWScale: -1,
    sackOk: false,
    tsVal: 9,
    ecnOk: true,
  });
  // ECN turned off since the cookie was sent (Linux cookie_ecn_ok: tcp_ecn 0): the connection
  // opens without ECN; the cookie stays valid.
  assert.equal(decodeCookieTimestamp(agreed, { ...cfg, ecn: "off" })?.ecnOk, false);
  const notAsked = ack(1, 1, { val: 9, ecr: cookieTsVal(5000, -1, false, false) });
  assert.equal(decodeCookieTimestamp(notAsked, cfg)?.ecnOk, false);
});

Deno.test("validateSynCookieAck behaviour", () => {
  const cfg = DEFAULT_TCP_CONFIG;
  const now = 3 * SYN_COOKIE_PERIOD_MS;
  const irs = 0xffffffff | 0; // ISN + 1 wraps to 0
  const iss = makeSynCookie(SECRET, now, LOCAL, 80, REMOTE, 5000, irs, 3);
  const v = (seg: ReturnType<typeof ack>) =>
    validateSynCookieAck(SECRET, cfg, now + 10, LOCAL, 80, REMOTE, 5000, seg);
  assert.deepEqual(v(ack(0, iss + 1)), { mss: 1460, options: NO_COOKIE_OPTIONS });
  assert.equal(v(ack(0, iss + 2)), null);
  assert.equal(v(ack(1, iss + 1)), null);
  const echo = cookieTsVal(1234, 9, false);
  assert.deepEqual(v(ack(0, iss + 1, { val: 5, ecr: echo })), {
    mss: 1460,
    options: { sndWScale: 9, sackOk: false, tsVal: 5, ecnOk: false },
  });
  // A valid cookie whose echo claims SACK while this layer has SACK off: refused.
  const claimsSack = ack(0, iss + 1, { val: 5, ecr: echo | 0x10 });
  const noSack = { ...cfg, sack: false };
  assert.equal(
    validateSynCookieAck(SECRET, noSack, now, LOCAL, 80, REMOTE, 5000, claimsSack),
    null,
  );
});

Deno.test("synCookieWindowOpen behaviour", () => {
  assert.ok(!synCookieWindowOpen(-Infinity, 0), "a listener that never sent a cookie");
  assert.ok(!synCookieWindowOpen(-Infinity, 1e12));
  assert.ok(synCookieWindowOpen(5000, 5000));
  assert.ok(synCookieWindowOpen(5000, 5000 + SYN_COOKIE_VALID_MS - 1));
  assert.ok(!synCookieWindowOpen(5000, 5000 + SYN_COOKIE_VALID_MS));
  // The window covers the whole life of the last cookie sent (this counter and the next).
  assert.ok(SYN_COOKIE_VALID_MS >= 2 * SYN_COOKIE_PERIOD_MS);
});
