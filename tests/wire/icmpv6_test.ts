import assert from "node:assert/strict";
import {
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_ERROR_MAX_QUOTE,
  ICMPV6_HEADER_LEN,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_PARAMETER_PROBLEM,
  ICMPV6_TIME_EXCEEDED,
  ICMPV6_TIME_EXCEEDED_HOP_LIMIT,
  ICMPV6_UNREACH_PORT,
  Icmpv6Packet,
  icmpv6QuoteLength,
  Icmpv6Repr,
  isIcmpv6Error,
  newIcmpv6Repr,
} from "../../src/wire/icmpv6.ts";
import {
  IP_PROTO_ICMPV6,
  IPV6_HEADER_LEN,
  IPV6_MIN_MTU,
  Ipv6Repr,
  newIpv6Chain,
  newIpv6Repr,
  walkIpv6Chain,
} from "../../src/wire/ipv6.ts";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import { isWireError, type WireError } from "../../src/wire/error.ts";
import { IP_PROTO_UDP } from "../../src/wire/ipv4.ts";
import { ipv6PseudoHeaderSum } from "../../src/wire/checksum.ts";
import { ETH, IPV6_CAPTURE, ipv6Frame, kernelIpv6Frames } from "./_ipv6_frames.ts";
import { assertTsharkClean, testdataPath, tsharkDecodeFile, type TsharkFrame } from "./_tshark.ts";

const A = Ipv6Address.parse("2001:db8::1");
const B = Ipv6Address.parse("2001:db8::2");

interface KernelIcmpv6 {
  /** 0-based index of the frame tshark attaches the ICMPv6 decode to. */
  index: number;
  message: Uint8Array;
  src: Ipv6Address;
  dst: Ipv6Address;
}

/** The echo and error messages of the capture (not NDP/MLD), fragmented ones reassembled. */
function kernelMessages(): KernelIcmpv6[] {
  const out: KernelIcmpv6[] = [];
  const parts = new Map<number, Uint8Array[]>();
  const chain = newIpv6Chain();
  for (const { index, frame, ip, src, dst } of kernelIpv6Frames()) {
    const c = walkIpv6Chain(ip, chain);
    if (isWireError(c) || c.protocol !== IP_PROTO_ICMPV6) continue;
    const data = frame.subarray(c.upperOffset, c.upperOffset + c.upperLength);
    if (c.verdict === "reassemble") {
      const list = parts.get(c.fragmentId) ?? [];
      list.push(data);
      parts.set(c.fragmentId, list);
      if (c.moreFragments) continue;
      const total = list.reduce((n, p) => n + p.length, 0);
      const message = new Uint8Array(total);
      let at = 0;
      for (const p of list) {
        message.set(p, at);
        at += p.length;
      }
      out.push({ index, message, src, dst });
      continue;
    }
    if (c.verdict !== "deliver") continue;
    if (data[0] >= 130 && data[0] <= 143) continue; // MLD and NDP: their own codecs
    out.push({ index, message: data, src, dst });
  }
  return out;
}

function parseOk(p: Icmpv6Packet, src = A, dst = B): Icmpv6Repr {
  const r = Icmpv6Repr.parse(p, src, dst);
  if (isWireError(r)) throw new Error(`unexpected ${r}`);
  return r;
}

function parseErr(p: Icmpv6Packet, opts?: { verifyChecksum?: boolean }): WireError {
  const r = Icmpv6Repr.parse(p, A, B, undefined, opts);
  assert.ok(isWireError(r), "expected a WireError");
  return r;
}

Deno.test("Icmpv6Repr parse → emit reproduces every kernel echo and error message byte for byte", () => {
  const messages = kernelMessages();
  assert.deepEqual(
    messages.map((m) => m.message[0]),
    [128, 129, 128, 129, 1, 128, 3, 128, 2, 4, 4],
  );
  const view = new Icmpv6Packet(new Uint8Array(0));
  const repr = newIcmpv6Repr();
  for (const { index, message, src, dst } of messages) {
    const r = Icmpv6Repr.parse(view.reset(message, 0, message.length), src, dst, repr);
    if (isWireError(r)) throw new Error(`frame ${index + 1}: ${r}`);
    assert.equal(r.data, message, "data aliases the message (zero-copy)");
    const out = new Uint8Array(message.length);
    assert.equal(Icmpv6Repr.emit(r, out, 0, src, dst), message.length);
    assert.deepEqual(out, message, `frame ${index + 1}`);
  }
  assert.equal(messages[2].message.length, 4008, "the reassembled 4,000-byte echo");
  const ptb = parseOk(new Icmpv6Packet(messages[8].message), messages[8].src, messages[8].dst);
  assert.equal(ptb.mtu, 1280);
  // RFC 4443 §2.4 (c): the router quoted as much as fits in 1280 bytes.
  assert.equal(IPV6_HEADER_LEN + ICMPV6_HEADER_LEN + ptb.dataLength, IPV6_MIN_MTU);
  const pp = parseOk(new Icmpv6Packet(messages[9].message), messages[9].src, messages[9].dst);
  assert.equal(pp.pointer, 6);
});

Deno.test("Icmpv6Repr fields equal tshark's decode of the kernel capture", async () => {
  const decoded = await tsharkDecodeFile(testdataPath(IPV6_CAPTURE));
  if (decoded === null) return;
  for (const { index, message, src, dst } of kernelMessages()) {
    const r = parseOk(new Icmpv6Packet(message), src, dst);
    const t: TsharkFrame = decoded[index];
    assert.equal(t.field("icmpv6.checksum.status"), "1", `frame ${index + 1}`);
    assert.equal(r.type, t.num("icmpv6.type"));
    assert.equal(r.code, t.num("icmpv6.code"));
    assert.equal(new Icmpv6Packet(message).checksum, Number(t.field("icmpv6.checksum")));
    if (!isIcmpv6Error(r.type)) {
      assert.equal(r.identifier, t.num("icmpv6.echo.identifier"));
      assert.equal(r.sequence, t.num("icmpv6.echo.sequence_number"));
    } else {
      // The quoted packet: tshark lists its IPv6 header as the second "ipv6".
      const q = Ipv6Address.fromBytes(r.data, r.dataOffset + 8);
      assert.equal(q.toString(), t.field("ipv6.src", 1));
      const mtu = t.field("icmpv6.mtu");
      assert.equal(r.mtu, mtu === undefined ? 0 : Number(mtu));
      const pointer = t.field("icmpv6.pointer");
      assert.equal(r.pointer, pointer === undefined ? 0 : Number(pointer));
    }
  }
});

/** An IPv6 + UDP packet A→B with `n` payload bytes: what an error quotes. */
function udpPacket(n: number): Uint8Array {
  const p = new Uint8Array(IPV6_HEADER_LEN + 8 + n);
  Ipv6Repr.emit(
    {
      ...newIpv6Repr(),
      source: A,
      destination: B,
      nextHeader: IP_PROTO_UDP,
      payloadLength: 8 + n,
    },
    p,
    0,
  );
  p.set([0x9c, 0x41, 0x27, 0x0e, (8 + n) >>> 8, (8 + n) & 0xff], IPV6_HEADER_LEN);
  for (let i = 0; i < n; i++) p[IPV6_HEADER_LEN + 8 + i] = 0x41 + (i % 26);
  // UDP checksum (RFC 8200 §8.1) so the quote itself is well formed.
  const len = 8 + n;
  let sum = ipv6PseudoHeaderSum(A, B, IP_PROTO_UDP, len);
  for (let i = 0; i < len; i += 2) {
    sum += (p[IPV6_HEADER_LEN + i] << 8) | (p[IPV6_HEADER_LEN + i + 1] ?? 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const ck = ~sum & 0xffff || 0xffff;
  p[IPV6_HEADER_LEN + 6] = ck >>> 8;
  p[IPV6_HEADER_LEN + 7] = ck & 0xff;
  return p;
}

function icmpv6Frame(src: Ipv6Address, dst: Ipv6Address, repr: Icmpv6Repr): Uint8Array {
  const n = Icmpv6Repr.bufferLength(repr);
  return ipv6Frame({
    src,
    dst,
    nextHeader: IP_PROTO_ICMPV6,
    payloadLength: n,
    fill: (b, at) => assert.equal(Icmpv6Repr.emit(repr, b, at, src, dst), n),
  });
}

Deno.test("Icmpv6Repr emits echo and every error type in a form tshark accepts", async () => {
  const ping = new TextEncoder().encode("rawstack ping6 payload");
  const quoted = udpPacket(19);
  const big = udpPacket(2000);
  const bigQuote = icmpv6QuoteLength(big.length);
  assert.equal(bigQuote, ICMPV6_ERROR_MAX_QUOTE);
  const router = Ipv6Address.parse("2001:db8::ff");
  const reprs: Icmpv6Repr[] = [
    { ...newIcmpv6Repr(), identifier: 0x4d98, sequence: 1, data: ping, dataLength: ping.length },
    {
      ...newIcmpv6Repr(),
      type: ICMPV6_ECHO_REPLY,
      identifier: 0x4d98,
      sequence: 65535,
      data: ping,
      dataLength: ping.length,
    },
    {
      ...newIcmpv6Repr(),
      type: ICMPV6_DEST_UNREACHABLE,
      code: ICMPV6_UNREACH_PORT,
      data: quoted,
      dataLength: quoted.length,
    },
    {
      ...newIcmpv6Repr(),
      type: ICMPV6_PACKET_TOO_BIG,
      mtu: 1280,
      data: big,
      dataLength: bigQuote,
    },
    {
      ...newIcmpv6Repr(),
      type: ICMPV6_TIME_EXCEEDED,
      code: ICMPV6_TIME_EXCEEDED_HOP_LIMIT,
      data: quoted,
      dataLength: quoted.length,
    },
    {
      ...newIcmpv6Repr(),
      type: ICMPV6_PARAMETER_PROBLEM,
      code: 1,
      pointer: 6,
      data: quoted,
      dataLength: quoted.length,
    },
  ];
  const frames = reprs.map((r, i) => i < 2 ? icmpv6Frame(A, B, r) : icmpv6Frame(router, A, r));
  frames.forEach((f, i) => {
    const src = i < 2 ? A : router;
    const dst = i < 2 ? B : A;
    const p = parseOk(new Icmpv6Packet(f, ETH + IPV6_HEADER_LEN), src, dst);
    assert.equal(p.type, reprs[i].type);
    assert.equal(p.code, reprs[i].code);
    assert.equal(p.mtu, reprs[i].mtu);
    assert.equal(p.pointer, reprs[i].pointer);
    assert.deepEqual(
      p.data.subarray(p.dataOffset, p.dataOffset + p.dataLength),
      reprs[i].data.subarray(0, reprs[i].dataLength),
    );
  });
  assert.equal(frames[3].length, ETH + IPV6_MIN_MTU, "a full-size error is exactly 1280 bytes");
  const decoded = await assertTsharkClean(frames, { what: "emitted ICMPv6" });
  if (decoded === null) return;
  decoded.forEach((t, i) => {
    assert.equal(t.field("icmpv6.checksum.status"), "1");
    assert.equal(t.num("icmpv6.type"), reprs[i].type);
    assert.equal(t.num("icmpv6.code"), reprs[i].code);
  });
  assert.equal(decoded[0].num("icmpv6.echo.identifier"), 0x4d98);
  assert.equal(decoded[1].num("icmpv6.echo.sequence_number"), 65535);
  assert.equal(decoded[2].num("udp.dstport"), 9998);
  assert.equal(decoded[2].field("ipv6.src", 1), "2001:db8::1");
  assert.equal(decoded[3].num("icmpv6.mtu"), 1280);
  assert.equal(decoded[5].num("icmpv6.pointer"), 6);
});

function echo(dataLength = 4): Uint8Array {
  const b = new Uint8Array(ICMPV6_HEADER_LEN + dataLength);
  const data = new Uint8Array(dataLength).fill(0x5a);
  Icmpv6Repr.emit({ ...newIcmpv6Repr(), identifier: 1, data, dataLength }, b, 0, A, B);
  return b;
}

function error(type: number, quote: Uint8Array): Uint8Array {
  const b = new Uint8Array(ICMPV6_HEADER_LEN + quote.length);
  Icmpv6Repr.emit(
    { ...newIcmpv6Repr(), type, data: quote, dataLength: quote.length },
    b,
    0,
    A,
    B,
  );
  return b;
}

Deno.test("Icmpv6Repr rejects short messages and checksums that do not cover the pseudo-header", () => {
  const b = echo();
  for (let len = 0; len < ICMPV6_HEADER_LEN; len++) {
    assert.equal(parseErr(new Icmpv6Packet(b, 0, len)).kind, "truncated");
  }
  assert.equal(parseErr(new Icmpv6Packet(b, 2, b.length)).kind, "bad-length");
  b[b.length - 1] ^= 1;
  assert.equal(parseErr(new Icmpv6Packet(b)).kind, "bad-checksum");
  assert.ok(
    !isWireError(Icmpv6Repr.parse(new Icmpv6Packet(b), A, B, undefined, {
      verifyChecksum: false,
    })),
  );
  // The right message from other addresses: the pseudo-header makes it wrong (RFC 4443 §2.3).
  const good = echo();
  assert.ok(new Icmpv6Packet(good).verifyChecksum(A, B));
  assert.ok(!new Icmpv6Packet(good).verifyChecksum(B, A.solicitedNode()));
  assert.ok(isWireError(Icmpv6Repr.parse(new Icmpv6Packet(good), A, Ipv6Address.ALL_NODES)));
  assert.ok(!new Icmpv6Packet(good, 0, 3).verifyChecksum(A, B));
});

Deno.test("Icmpv6Repr rejects errors without a quoted IPv6 header, and other types", () => {
  assert.equal(
    parseErr(new Icmpv6Packet(error(ICMPV6_DEST_UNREACHABLE, udpPacket(0).subarray(0, 39)))).kind,
    "truncated",
  );
  const v4 = udpPacket(4);
  v4[0] = 0x45;
  assert.equal(parseErr(new Icmpv6Packet(error(ICMPV6_TIME_EXCEEDED, v4))).kind, "bad-version");
  assert.ok(
    !isWireError(Icmpv6Repr.parse(
      new Icmpv6Packet(error(ICMPV6_DEST_UNREACHABLE, udpPacket(0).subarray(0, 40))),
      A,
      B,
    )),
  );
  for (const type of [0, 5, 127, 130, 133, 135, 143, 200, 255]) {
    const b = echo();
    const v = new Icmpv6Packet(b);
    v.type = type;
    v.fillChecksum(A, B);
    assert.equal(parseErr(v).kind, "unsupported", `type ${type}`);
  }
  assert.ok(isIcmpv6Error(ICMPV6_PARAMETER_PROBLEM) && !isIcmpv6Error(ICMPV6_ECHO_REQUEST));
});

Deno.test("Icmpv6Repr.emit zeroes the unused word of errors and copies overlapping data", () => {
  const b = new Uint8Array(ICMPV6_HEADER_LEN + 48).fill(0xff);
  const quote = udpPacket(0);
  Icmpv6Repr.emit(
    { ...newIcmpv6Repr(), type: ICMPV6_DEST_UNREACHABLE, data: quote, dataLength: 48, mtu: 9 },
    b,
    0,
    A,
    B,
  );
  assert.deepEqual([...b.subarray(4, 8)], [0, 0, 0, 0]);
  const buf = new Uint8Array(64);
  for (let i = 0; i < 20; i++) buf[4 + i] = i + 1;
  const repr = { ...newIcmpv6Repr(), data: buf, dataOffset: 4, dataLength: 20 };
  assert.equal(Icmpv6Repr.emit(repr, buf, 0, A, B), 28);
  assert.deepEqual([...buf.subarray(8, 28)], Array.from({ length: 20 }, (_, i) => i + 1));
  assert.ok(new Icmpv6Packet(buf, 0, 28).verifyChecksum(A, B));
});
