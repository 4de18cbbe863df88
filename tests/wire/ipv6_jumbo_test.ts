import assert from "node:assert/strict";
import {
  ICMPV6_PARAM_HEADER_FIELD,
  ICMPV6_PARAM_OPTION,
  IPV6_JUMBO_HOPOPTS_LEN,
  IPV6_OPT_JUMBO,
  Ipv6Packet,
  newIpv6Jumbogram,
  readIpv6Jumbogram,
  walkIpv6Chain,
} from "../../src/wire/ipv6.ts";
import { isWireError } from "../../src/wire/error.ts";

const TCP = 6;
const UDP = 17;
const FRAGMENT = 44;
const HOPOPTS = 0;

/**
 * An IPv6 packet with Payload Length 0 as Linux BIG TCP writes it: with the 8-octet
 * Hop-by-Hop header holding the Jumbo Payload option (`jumbo` = its length field), or
 * without it (`hbh: false`), `upper` bytes of upper layer after the headers.
 */
function jumbogram(
  upper: number,
  o: {
    hbh?: boolean;
    jumbo?: number;
    optType?: number;
    optLen?: number;
    inner?: number;
    extLen?: number;
  } = {},
): Uint8Array {
  const hbh = o.hbh ?? true;
  const p = new Uint8Array(40 + (hbh ? IPV6_JUMBO_HOPOPTS_LEN : 0) + upper);
  p[0] = 0x60;
  p[6] = hbh ? HOPOPTS : (o.inner ?? TCP);
  p[7] = 64;
  if (hbh) {
    p[40] = o.inner ?? TCP;
    p[41] = o.extLen ?? 0;
    p[42] = o.optType ?? IPV6_OPT_JUMBO;
    p[43] = o.optLen ?? 4;
    new DataView(p.buffer).setUint32(44, o.jumbo ?? IPV6_JUMBO_HOPOPTS_LEN + upper);
  }
  return p;
}

Deno.test("readIpv6Jumbogram behaviour: the Hop-by-Hop Jumbo Payload option gives the TCP segment after it (RFC 2675 §2)", () => {
  const p = jumbogram(100_000);
  const j = readIpv6Jumbogram(p, 0, p.length, newIpv6Jumbogram());
  assert.equal(j.verdict, "deliver");
  assert.equal(j.protocol, TCP);
  assert.equal(j.upperOffset, 48);
  assert.equal(j.upperLength, 100_000);
  // Link padding after the packet: the option's length decides, not the frame's.
  const padded = new Uint8Array(p.length + 6);
  padded.set(p);
  const k = readIpv6Jumbogram(padded, 0, padded.length, newIpv6Jumbogram());
  assert.equal(k.verdict, "deliver");
  assert.equal(k.upperLength, 100_000);
});

Deno.test("readIpv6Jumbogram behaviour: without a Hop-by-Hop header, TCP above 64 KiB takes the frame's length; below it is discarded", () => {
  const p = jumbogram(70_000, { hbh: false });
  const j = readIpv6Jumbogram(p, 0, p.length, newIpv6Jumbogram());
  assert.equal(j.verdict, "deliver");
  assert.equal(j.upperOffset, 40);
  assert.equal(j.upperLength, 70_000);
  const small = jumbogram(1000, { hbh: false });
  assert.equal(readIpv6Jumbogram(small, 0, small.length, newIpv6Jumbogram()).verdict, "discard");
  const udp = jumbogram(70_000, { hbh: false, inner: UDP });
  assert.equal(readIpv6Jumbogram(udp, 0, udp.length, newIpv6Jumbogram()).verdict, "discard");
});

Deno.test("readIpv6Jumbogram behaviour: RFC 2675 §3's errors are Parameter Problems pointing at the faulty octet", () => {
  const cases: [string, Uint8Array, number][] = [
    // Payload Length 0, a Hop-by-Hop header, no Jumbo Payload option: Payload Length's high octet.
    ["no jumbo option", jumbogram(70_000, { optType: 1 }), 4],
    // Jumbo Payload Length below 65,536: its high octet.
    ["short jumbo length", jumbogram(1000), 44],
    // A Fragment header with the option: the Fragment header.
    ["fragment header", jumbogram(70_000, { inner: FRAGMENT }), 48],
    // Opt Data Len other than 4: that octet.
    ["option length 3", jumbogram(70_000, { optLen: 3 }), 43],
  ];
  for (const [name, p, pointer] of cases) {
    const j = readIpv6Jumbogram(p, 0, p.length, newIpv6Jumbogram());
    assert.equal(j.verdict, "parameter-problem", name);
    assert.equal(j.pointer, pointer, name);
  }
});

Deno.test("readIpv6Jumbogram behaviour: a truncated jumbogram, more options, another upper layer or a short header are discarded", () => {
  const whole = jumbogram(70_000);
  const cases: [string, Uint8Array, number][] = [
    ["truncated", whole, whole.length - 1],
    ["more options", jumbogram(70_000, { extLen: 1 }), -1],
    ["UDP inside", jumbogram(70_000, { inner: UDP }), -1],
    ["header cut", whole, 44],
  ];
  for (const [name, p, length] of cases) {
    const n = length < 0 ? p.length : length;
    assert.equal(readIpv6Jumbogram(p, 0, n, newIpv6Jumbogram()).verdict, "discard", name);
  }
});

/** `p` (from {@link jumbogram}) with Payload Length `n` (≠ 0: not a jumbogram) and Next Header `first`. */
function withPayloadLength(p: Uint8Array, n: number, first = HOPOPTS): Uint8Array {
  p[4] = n >>> 8;
  p[5] = n & 0xff;
  p[6] = first;
  return p;
}

Deno.test("walkIpv6Chain behaviour: a Jumbo Payload option with a Payload Length not 0 is RFC 2675 §3's Parameter Problem code 0", () => {
  const optionLength2 = withPayloadLength(jumbogram(100, { optLen: 2 }), 108);
  optionLength2.set([1, 0], 46); // PadN to the header's end
  const cases: [string, Uint8Array, number][] = [
    // A valid option: "Payload Length ≠ 0 and Jumbo Payload option present", at its Option Type.
    ["valid option", withPayloadLength(jumbogram(100, { jumbo: 70_000 }), 108), 42],
    // Jumbo Payload Length below 65,536: its high octet (checked first, as Linux).
    ["short jumbo length", withPayloadLength(jumbogram(100, { jumbo: 108 }), 108), 44],
    // Opt Data Len other than 4: malformed, that octet.
    ["option length 2", optionLength2, 43],
  ];
  for (const [name, p, pointer] of cases) {
    const c = walkIpv6Chain(new Ipv6Packet(p));
    if (isWireError(c)) throw new Error(`${name}: ${c}`);
    assert.equal(c.verdict, "parameter-problem", name);
    assert.equal(c.icmpCode, ICMPV6_PARAM_HEADER_FIELD, name);
    assert.equal(c.pointer, pointer, name);
    assert.equal(c.icmpAllowed, true, name);
  }
  // In a Destination Options header it stays an unrecognised option (action 11: code 2).
  const dst = withPayloadLength(jumbogram(100, { jumbo: 70_000 }), 108, 60);
  const d = walkIpv6Chain(new Ipv6Packet(dst));
  if (isWireError(d)) throw new Error(String(d));
  assert.equal(d.verdict, "parameter-problem");
  assert.equal(d.icmpCode, ICMPV6_PARAM_OPTION);
  assert.equal(d.pointer, 42);
});
