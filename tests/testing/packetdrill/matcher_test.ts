import assert from "node:assert/strict";
import {
  checkTime,
  decodeTcpOptions,
  matchPacket,
  type ObservedSegment,
} from "../../../src/testing/packetdrill/matcher.ts";
import { parseScript } from "../../../src/testing/packetdrill/parser.ts";
import type { PacketSpec, TcpOptionSpec } from "../../../src/testing/packetdrill/script.ts";

function spec(line: string): PacketSpec {
  const r = parseScript(`0 ${line}`);
  if (!r.ok || r.script.events[0].kind !== "packet") throw new Error("bad spec");
  return r.script.events[0].packet;
}

const opt = (kind: TcpOptionSpec["kind"], extra: Partial<TcpOptionSpec> = {}): TcpOptionSpec => ({
  kind,
  text: kind,
  ...extra,
});

function synAck(): ObservedSegment {
  return {
    flags: 0x12,
    seq: 0,
    ack: 1,
    window: 65535,
    urgent: 0,
    length: 0,
    options: [opt("mss", { value: 1460 }), opt("nop"), opt("wscale", { value: 7 })],
  };
}

const WANT = "> S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 7>";
const STRICT = { portable: false };
const PORTABLE = { portable: true };

Deno.test("matchPacket accepts an exact match in both modes", () => {
  assert.equal(matchPacket(spec(WANT), synAck(), STRICT), null);
  assert.equal(matchPacket(spec(WANT), synAck(), PORTABLE), null);
});

Deno.test("matchPacket rejects a wrong flag", () => {
  const got = { ...synAck(), flags: 0x02 };
  const m = matchPacket(spec(WANT), got, PORTABLE);
  assert.deepEqual(m, { field: "flags", expected: "S.", got: "S" });
  const fin = { ...synAck(), flags: 0x19, seq: 1 };
  assert.equal(matchPacket(spec("> F. 1:1(0) ack 1"), fin, PORTABLE)?.field, "flags");
});

Deno.test("matchPacket rejects a sequence number off by one", () => {
  const m = matchPacket(
    spec("> . 1:1(0) ack 1"),
    { ...synAck(), flags: 0x10, seq: 2, options: [] },
    PORTABLE,
  );
  assert.deepEqual(m, { field: "seq", expected: "1", got: "2" });
});

Deno.test("matchPacket rejects an acknowledgement off by one", () => {
  const m = matchPacket(spec("> . 1:1(0) ack 1"), {
    ...synAck(),
    flags: 0x10,
    seq: 1,
    ack: 2,
    options: [],
  }, PORTABLE);
  assert.equal(m?.field, "ack");
});

Deno.test("matchPacket ignores the ack field without the ACK flag", () => {
  const rst = { ...synAck(), flags: 0x04, seq: 1, ack: 0, window: 0, options: [] };
  assert.equal(matchPacket(spec("> R 1:1(0) ack 0 win 0"), { ...rst, ack: 12345 }, STRICT), null);
});

Deno.test("matchPacket rejects a wrong payload length", () => {
  const got = { ...synAck(), flags: 0x18, seq: 1, length: 999, options: [] };
  assert.equal(matchPacket(spec("> P. 1:1001(1000) ack 1"), got, PORTABLE)?.field, "length");
});

Deno.test("matchPacket rejects a missing option", () => {
  const got = { ...synAck(), options: [opt("mss", { value: 1460 })] };
  assert.equal(matchPacket(spec(WANT), got, STRICT)?.field, "options");
  assert.equal(matchPacket(spec(WANT), got, PORTABLE)?.field, "options");
});

Deno.test("matchPacket rejects options where none are written", () => {
  const got = {
    ...synAck(),
    flags: 0x10,
    seq: 1,
    options: [opt("nop"), opt("nop"), opt("sack", { blocks: [[5, 9]] })],
  };
  assert.equal(matchPacket(spec("> . 1:1(0) ack 1"), got, PORTABLE)?.field, "options");
  assert.equal(matchPacket(spec("> . 1:1(0) ack 1 <...>"), got, STRICT), null);
});

Deno.test("matchPacket compares windows and option order only in strict mode", () => {
  const reordered = {
    ...synAck(),
    window: 29200,
    options: [opt("wscale", { value: 7 }), opt("nop"), opt("mss", { value: 1460 })],
  };
  assert.equal(matchPacket(spec(WANT), reordered, PORTABLE), null);
  assert.equal(matchPacket(spec(WANT), reordered, STRICT)?.field, "win");
  assert.equal(matchPacket(spec(WANT), { ...reordered, window: 65535 }, STRICT)?.field, "options");
});

Deno.test("matchPacket compares option values in strict mode and SACK blocks in both", () => {
  const other = {
    ...synAck(),
    options: [opt("mss", { value: 1400 }), opt("nop"), opt("wscale", { value: 7 })],
  };
  assert.equal(matchPacket(spec(WANT), other, STRICT)?.field, "options");
  assert.equal(matchPacket(spec(WANT), other, PORTABLE), null);
  const ack = (blocks: [number, number][]) => ({
    ...synAck(),
    flags: 0x10,
    seq: 1,
    options: [opt("nop"), opt("nop"), opt("sack", { blocks })],
  });
  const want = spec("> . 1:1(0) ack 1 <nop,nop,sack 1001:2001>");
  assert.equal(matchPacket(want, ack([[1001, 2001]]), PORTABLE), null);
  assert.equal(matchPacket(want, ack([[1001, 2002]]), PORTABLE)?.field, "options");
});

Deno.test("matchPacket ignores TS val but compares TS ecr in strict mode", () => {
  const want = spec("> . 1:1(0) ack 1 <nop,nop,TS val 100 ecr 700>");
  const got = (val: number, ecr: number) => ({
    ...synAck(),
    flags: 0x10,
    seq: 1,
    options: [opt("nop"), opt("nop"), opt("TS", { val, ecr })],
  });
  assert.equal(matchPacket(want, got(987654, 700), STRICT), null);
  assert.equal(matchPacket(want, got(100, 701), STRICT)?.field, "options");
  assert.equal(matchPacket(want, got(100, 701), PORTABLE), null);
});

Deno.test("checkTime accepts the tolerance and rejects timing outside it", () => {
  assert.equal(checkTime(100_000, 100_000, 100_000, 4000), null);
  assert.equal(checkTime(96_000, 100_000, 100_000, 4000), null);
  assert.equal(checkTime(104_000, 100_000, 100_000, 4000), null);
  assert.equal(checkTime(104_001, 100_000, 100_000, 4000)?.field, "time");
  assert.equal(checkTime(95_999, 100_000, 100_000, 4000)?.field, "time");
  assert.equal(checkTime(350_000, 300_000, 400_000, 0), null);
  assert.equal(checkTime(450_000, 300_000, 400_000, 0)?.field, "time");
});

Deno.test("decodeTcpOptions decodes every option and survives garbage", () => {
  const b = new Uint8Array([
    2,
    4,
    5,
    180,
    4,
    2,
    8,
    10,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    2,
    1,
    3,
    3,
    7,
    5,
    10,
    0,
    0,
    0,
    10,
    0,
    0,
    0,
    20,
    0,
  ]);
  const o = decodeTcpOptions(b, 0, b.length);
  assert.deepEqual(o.map((x) => x.kind), ["mss", "sackOK", "TS", "nop", "wscale", "sack", "eol"]);
  assert.deepEqual(o[5].blocks, [[10, 20]]);
  assert.deepEqual([o[2].val, o[2].ecr], [1, 2]);
  const bad = decodeTcpOptions(new Uint8Array([2, 40, 0]), 0, 3);
  assert.equal(bad[bad.length - 1].kind, "unknown");
  assert.equal(decodeTcpOptions(new Uint8Array([2]), 0, 1)[0].kind, "unknown");
  assert.equal(decodeTcpOptions(new Uint8Array([9, 0]), 0, 2)[0].kind, "unknown");
});
