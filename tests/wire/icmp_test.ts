import assert from "node:assert/strict";
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_HEADER_LEN,
  ICMP_TIME_EXCEEDED,
  ICMP_TIME_EXCEEDED_TTL,
  ICMP_UNREACH_FRAG_NEEDED,
  ICMP_UNREACH_PORT,
  IcmpPacket,
  IcmpRepr,
  newIcmpRepr,
} from "../../src/wire/icmp.ts";
import {
  IP_PROTO_ICMP,
  IP_PROTO_UDP,
  IPV4_HEADER_LEN,
  Ipv4Packet,
  Ipv4Repr,
  newIpv4Repr,
} from "../../src/wire/ipv4.ts";
import { EthernetFrame, ETHERTYPE_IPV4 } from "../../src/wire/ethernet.ts";
import { isWireError, type WireError } from "../../src/wire/error.ts";
import { formatIpv4, readIpv4 } from "../../src/wire/address.ts";
import { UdpRepr } from "../../src/wire/udp.ts";
import {
  assertTsharkClean,
  readTestdata,
  testdataPath,
  tsharkDecodeFile,
  type TsharkFrame,
  tsharkTest,
} from "./_tshark.ts";
import { ETH_LEN, ipv4Frame } from "./_ipv4_frames.ts";

const FILE = "kernel_arp_icmp_udp.pcap";
const IP_A = 0xc0000201 | 0;
const IP_B = 0xc0000202 | 0;
const IP_C = 0xc6336401 | 0; // 198.51.100.1

function parseOk(packet: IcmpPacket, out?: IcmpRepr): IcmpRepr {
  const repr = IcmpRepr.parse(packet, out);
  if (isWireError(repr)) throw new Error(`unexpected ${repr}`);
  return repr;
}

function parseErr(packet: IcmpPacket, opts?: { verifyChecksum?: boolean }): WireError {
  const repr = IcmpRepr.parse(packet, undefined, opts);
  assert.ok(isWireError(repr), "expected a WireError");
  return repr;
}

interface KernelIcmp {
  /** 0-based index of the frame tshark attaches the ICMP decode to. */
  index: number;
  /** The whole ICMP message (reassembled when it was fragmented). */
  message: Uint8Array;
  fragmented: boolean;
}

/** ICMP messages in the kernel capture; fragmented ones are reassembled here. */
function kernelIcmpMessages(): KernelIcmp[] {
  const out: KernelIcmp[] = [];
  const pending = new Map<number, Array<{ offset: number; data: Uint8Array }>>();
  const ip = new Ipv4Packet(new Uint8Array(0));
  readTestdata(FILE).forEach((rec, index) => {
    if (new EthernetFrame(rec.data).etherType !== ETHERTYPE_IPV4) return;
    ip.reset(rec.data, ETH_LEN, rec.data.length - ETH_LEN);
    assert.equal(ip.check(), null);
    if (ip.protocol !== IP_PROTO_ICMP) return;
    const payload = rec.data.subarray(ip.payloadOffset, ip.payloadOffset + ip.payloadLength);
    if (!ip.isFragment) {
      out.push({ index, message: payload, fragmented: false });
      return;
    }
    const parts = pending.get(ip.identification) ?? [];
    parts.push({ offset: ip.fragmentOffset, data: payload });
    pending.set(ip.identification, parts);
    if (!ip.moreFragments) {
      const total = ip.fragmentOffset + payload.length;
      const message = new Uint8Array(total);
      for (const part of parts) message.set(part.data, part.offset);
      out.push({ index, message, fragmented: true });
    }
  });
  return out;
}

Deno.test("IcmpRepr parse → emit reproduces every kernel ICMP message byte for byte", () => {
  const messages = kernelIcmpMessages();
  // echo ×2, reassembled echo ×2, port unreachable, echo ttl=1, time exceeded, echo DF, frag needed
  assert.equal(messages.length, 9);
  const types = messages.map((m) => m.message[0]);
  assert.deepEqual(types, [8, 0, 8, 0, 3, 8, 11, 8, 3]);
  const view = new IcmpPacket(new Uint8Array(0));
  const repr = newIcmpRepr();
  for (const { message } of messages) {
    parseOk(view.reset(message, 0, message.length), repr);
    assert.equal(repr.data, message, "data aliases the message (zero-copy)");
    const out = new Uint8Array(message.length);
    assert.equal(IcmpRepr.emit(repr, out, 0), message.length);
    assert.deepEqual(out, message);
  }
  const fragNeeded = parseOk(new IcmpPacket(messages[8].message));
  assert.equal(fragNeeded.code, ICMP_UNREACH_FRAG_NEEDED);
  assert.equal(fragNeeded.nextHopMtu, 1000);
  const big = parseOk(new IcmpPacket(messages[2].message));
  assert.equal(big.dataLength, 4000);
});

tsharkTest("IcmpRepr fields equal tshark's decode of the kernel capture", async () => {
  const decoded = await tsharkDecodeFile(testdataPath(FILE));
  if (decoded === null) return;
  for (const { index, message } of kernelIcmpMessages()) {
    const repr = parseOk(new IcmpPacket(message));
    const t: TsharkFrame = decoded[index];
    assert.equal(t.field("icmp.checksum.status"), "1", `frame ${index + 1}`);
    assert.equal(repr.type, t.num("icmp.type"));
    assert.equal(repr.code, t.num("icmp.code"));
    assert.equal(new IcmpPacket(message).checksum, Number(t.field("icmp.checksum")));
    if (repr.type === ICMP_ECHO_REQUEST || repr.type === ICMP_ECHO_REPLY) {
      assert.equal(repr.identifier, t.num("icmp.ident"));
      assert.equal(repr.sequence, t.num("icmp.seq"));
    } else {
      // The quoted datagram: tshark lists its IPv4 header as the second "ip".
      const quoted = repr.dataOffset;
      assert.equal(formatIpv4(readIpv4(repr.data, quoted + 12)), t.field("ip.src", 1));
      assert.equal(formatIpv4(readIpv4(repr.data, quoted + 16)), t.field("ip.dst", 1));
      assert.equal(repr.data[quoted + 9], t.num("ip.proto", 1));
      const mtu = t.field("icmp.mtu");
      assert.equal(repr.nextHopMtu, mtu === undefined ? 0 : Number(mtu));
    }
  }
});

/** Ethernet + IPv4 + ICMP(repr); returns the frame. */
function icmpFrame(src: number, dst: number, repr: IcmpRepr): Uint8Array {
  const icmpLen = IcmpRepr.bufferLength(repr);
  const frame = ipv4Frame({ source: src, destination: dst, protocol: IP_PROTO_ICMP }, icmpLen);
  assert.equal(IcmpRepr.emit(repr, frame, ETH_LEN + IPV4_HEADER_LEN), icmpLen);
  return frame;
}

/** An IPv4+UDP datagram A→B with `n` payload bytes, the thing an ICMP error quotes. */
function udpDatagram(n: number): Uint8Array {
  const d = new Uint8Array(IPV4_HEADER_LEN + 8 + n);
  for (let i = 0; i < n; i++) d[IPV4_HEADER_LEN + 8 + i] = 0x41 + (i % 26);
  UdpRepr.emit(
    { srcPort: 40001, dstPort: 9998, payloadLength: n, payloadOffset: 0, checksumAbsent: false },
    d,
    IPV4_HEADER_LEN,
    IP_A,
    IP_B,
  );
  Ipv4Repr.emit(
    {
      ...newIpv4Repr(),
      source: IP_A,
      destination: IP_B,
      protocol: IP_PROTO_UDP,
      dontFragment: true,
      payloadLength: 8 + n,
    },
    d,
    0,
  );
  return d;
}

Deno.test("IcmpRepr emits echo, unreachable, frag-needed and time-exceeded messages tshark accepts", async () => {
  const ping = new TextEncoder().encode("rawstack ping payload");
  const quoted = udpDatagram(19);
  const bigQuote = udpDatagram(1200).subarray(0, 548); // quotes are truncated
  const reprs: IcmpRepr[] = [
    {
      ...newIcmpRepr(),
      type: ICMP_ECHO_REQUEST,
      identifier: 0x4d98,
      sequence: 1,
      data: ping,
      dataLength: ping.length,
    },
    {
      ...newIcmpRepr(),
      type: ICMP_ECHO_REPLY,
      identifier: 0x4d98,
      sequence: 65535,
      data: ping,
      dataLength: ping.length,
    },
    {
      ...newIcmpRepr(),
      type: ICMP_DEST_UNREACHABLE,
      code: ICMP_UNREACH_PORT,
      data: quoted,
      dataLength: quoted.length,
    },
    {
      ...newIcmpRepr(),
      type: ICMP_DEST_UNREACHABLE,
      code: ICMP_UNREACH_FRAG_NEEDED,
      nextHopMtu: 1280,
      data: bigQuote,
      dataLength: bigQuote.length,
    },
    {
      ...newIcmpRepr(),
      type: ICMP_TIME_EXCEEDED,
      code: ICMP_TIME_EXCEEDED_TTL,
      data: quoted,
      dataOffset: 0,
      dataLength: IPV4_HEADER_LEN + 8,
    },
  ];
  const frames = reprs.map((r, i) => icmpFrame(i < 2 ? IP_A : IP_C, i < 2 ? IP_B : IP_A, r));
  const parsed = frames.map((f) => {
    const ip = new Ipv4Packet(f, ETH_LEN);
    return parseOk(new IcmpPacket(f, ip.payloadOffset, ip.payloadLength));
  });
  parsed.forEach((p, i) => {
    assert.equal(p.type, reprs[i].type);
    assert.equal(p.code, reprs[i].code);
    assert.equal(p.identifier, reprs[i].identifier);
    assert.equal(p.sequence, reprs[i].sequence);
    assert.equal(p.nextHopMtu, reprs[i].nextHopMtu);
    assert.deepEqual(
      p.data.subarray(p.dataOffset, p.dataOffset + p.dataLength),
      reprs[i].data.subarray(reprs[i].dataOffset, reprs[i].dataOffset + reprs[i].dataLength),
    );
  });
  const decoded = await assertTsharkClean(frames, { what: "emitted ICMP" });
  if (decoded === null) return;
  decoded.forEach((t, i) => {
    assert.equal(t.field("icmp.checksum.status"), "1");
    assert.equal(t.num("icmp.type"), reprs[i].type);
    assert.equal(t.num("icmp.code"), reprs[i].code);
  });
  assert.equal(decoded[0].num("icmp.ident"), 0x4d98);
  assert.equal(decoded[1].num("icmp.seq"), 65535);
  assert.equal(decoded[2].num("udp.dstport"), 9998);
  assert.equal(decoded[2].field("ip.src", 1), "192.0.2.1");
  assert.equal(decoded[3].num("icmp.mtu"), 1280);
  assert.equal(decoded[4].num("udp.srcport"), 40001);
});

Deno.test("IcmpRepr.emit copies data that overlaps the destination in the same buffer", () => {
  const buf = new Uint8Array(64);
  for (let i = 0; i < 20; i++) buf[4 + i] = i + 1;
  // Data at buf[4..24) must end up at buf[8..28) after an 8-byte header at 0: overlapping move.
  const repr = { ...newIcmpRepr(), data: buf.subarray(2), dataOffset: 2, dataLength: 20 };
  assert.equal(IcmpRepr.emit(repr, buf, 0), 28);
  assert.deepEqual([...buf.subarray(8, 28)], Array.from({ length: 20 }, (_, i) => i + 1));
  assert.ok(new IcmpPacket(buf, 0, 28).verifyChecksum());
  // Data already in place is left alone.
  const inPlace = { ...newIcmpRepr(), data: buf, dataOffset: 8, dataLength: 20 };
  assert.equal(IcmpRepr.emit(inPlace, buf, 0), 28);
  assert.equal(buf[8], 1);
});

function echoMessage(dataLength = 4): Uint8Array {
  const bytes = new Uint8Array(ICMP_HEADER_LEN + dataLength);
  const data = new Uint8Array(dataLength).fill(0x5a);
  IcmpRepr.emit({ ...newIcmpRepr(), identifier: 1, sequence: 2, data, dataLength }, bytes, 0);
  return bytes;
}

function errorMessage(quote: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(ICMP_HEADER_LEN + quote.length);
  IcmpRepr.emit(
    {
      ...newIcmpRepr(),
      type: ICMP_DEST_UNREACHABLE,
      code: ICMP_UNREACH_PORT,
      data: quote,
      dataLength: quote.length,
    },
    bytes,
    0,
  );
  return bytes;
}

Deno.test("IcmpPacket rejects messages shorter than 8 bytes", () => {
  const bytes = echoMessage();
  for (let len = 0; len < ICMP_HEADER_LEN; len++) {
    const e = parseErr(new IcmpPacket(bytes, 0, len));
    assert.equal(e.kind, "truncated");
    assert.equal(e.protocol, "icmp");
  }
  assert.equal(parseErr(new IcmpPacket(bytes, 2, bytes.length)).kind, "bad-length");
});

Deno.test("IcmpRepr rejects a bad checksum unless told not to verify", () => {
  const bytes = echoMessage();
  bytes[bytes.length - 1] ^= 0xff; // corrupt the data: the checksum covers it
  assert.equal(parseErr(new IcmpPacket(bytes)).kind, "bad-checksum");
  assert.ok(
    !isWireError(IcmpRepr.parse(new IcmpPacket(bytes), undefined, { verifyChecksum: false })),
  );
  // A checksum computed over fewer bytes (length lie) does not verify either.
  const shorter = echoMessage(6);
  assert.equal(parseErr(new IcmpPacket(shorter, 0, shorter.length - 2)).kind, "bad-checksum");
});

Deno.test("IcmpRepr rejects an error whose quote is shorter than an IPv4 header + 8 bytes", () => {
  const quote = udpDatagram(0).subarray(0, 27);
  const e = parseErr(new IcmpPacket(errorMessage(quote)));
  assert.equal(e.kind, "truncated");
  assert.ok(!isWireError(IcmpRepr.parse(new IcmpPacket(errorMessage(udpDatagram(0))))));
});

Deno.test("IcmpRepr rejects an error quoting a non-IPv4 or lying header", () => {
  const v6 = udpDatagram(4);
  v6[0] = 0x65;
  assert.equal(parseErr(new IcmpPacket(errorMessage(v6))).kind, "bad-version");
  const ihl4 = udpDatagram(4);
  ihl4[0] = 0x44;
  assert.equal(parseErr(new IcmpPacket(errorMessage(ihl4))).kind, "bad-header-length");
  const ihl15 = udpDatagram(4); // 32-byte quote claiming a 60-byte header
  ihl15[0] = 0x4f;
  assert.equal(parseErr(new IcmpPacket(errorMessage(ihl15))).kind, "bad-header-length");
});

Deno.test("IcmpRepr reports unsupported types", () => {
  for (const type of [5, 12, 13, 255]) {
    const bytes = echoMessage();
    new IcmpPacket(bytes).type = type;
    new IcmpPacket(bytes).fillChecksum();
    assert.equal(parseErr(new IcmpPacket(bytes)).kind, "unsupported");
  }
});

Deno.test("IcmpRepr reads the next-hop MTU only for fragmentation needed", () => {
  const bytes = errorMessage(udpDatagram(4));
  const view = new IcmpPacket(bytes);
  view.nextHopMtu = 1400;
  view.fillChecksum();
  assert.equal(parseOk(view).nextHopMtu, 0); // code 3: port unreachable
  view.code = ICMP_UNREACH_FRAG_NEEDED;
  view.fillChecksum();
  assert.equal(parseOk(view).nextHopMtu, 1400);
  assert.equal(view.restOfHeader, 1400);
});
