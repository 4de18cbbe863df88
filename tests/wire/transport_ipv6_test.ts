import assert from "node:assert/strict";
import {
  internetChecksum,
  ipv6AddressSum,
  ipv6AddressSumAt,
  onesComplementSum,
} from "../../src/wire/checksum.ts";
import { newUdpRepr, UdpPacket, UdpRepr } from "../../src/wire/udp.ts";
import { newTcpRepr, TCP_ACK, TCP_PSH, TCP_SYN, TcpPacket, TcpRepr } from "../../src/wire/tcp.ts";
import { IPV6_HEADER_LEN } from "../../src/wire/ipv6.ts";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import { IP_PROTO_TCP, IP_PROTO_UDP } from "../../src/wire/ipv4.ts";
import { isWireError } from "../../src/wire/error.ts";
import { ETH, ipv6Frame, kernelIpv6Frames } from "./_ipv6_frames.ts";
import { assertTsharkClean } from "./_tshark.ts";

const A = Ipv6Address.parse("2001:db8::1");
const B = Ipv6Address.parse("2001:db8::2");

/** The RFC 8200 §8.1 pseudo-header laid out in bytes, then the segment: its checksum is 0. */
function checksumOverPseudoHeader(
  src: Ipv6Address,
  dst: Ipv6Address,
  protocol: number,
  segment: Uint8Array,
): number {
  const b = new Uint8Array(40 + segment.length);
  src.writeTo(b, 0);
  dst.writeTo(b, 16);
  new DataView(b.buffer).setUint32(32, segment.length);
  b[39] = protocol;
  b.set(segment, 40);
  return internetChecksum(b, 0, b.length);
}

Deno.test("UdpRepr checks and reproduces the kernel's UDP-over-IPv6 checksum with ipv6AddressSum", () => {
  const { frame, ip } = kernelIpv6Frames()[23]; // UDP 40001 → 9998 from 2001:db8::1
  const at = ETH + IPV6_HEADER_LEN;
  const sum = ipv6AddressSumAt(frame, ip.sourceOffset, ip.destinationOffset);
  assert.equal(sum, ipv6AddressSum(A, B));
  const view = new UdpPacket(frame, at, frame.length - at);
  const r = UdpRepr.parse(view, 0, 0, newUdpRepr(), { ipv6AddressSum: sum });
  if (isWireError(r)) throw new Error(String(r));
  assert.equal(r.srcPort, 40001);
  assert.equal(r.dstPort, 9998);
  // Read as IPv4 (no address sum) the checksum does not verify.
  assert.ok(isWireError(UdpRepr.parse(view, 0, 0)));
  // Emitting the same header over the same payload gives the kernel's bytes.
  const copy = frame.slice(at, at + 8 + r.payloadLength);
  copy.fill(0, 0, 8);
  UdpRepr.emit(r, copy, 0, 0, 0, { ipv6AddressSum: sum });
  assert.deepEqual(copy.subarray(0, 8), frame.subarray(at, at + 8));
});

Deno.test("UdpRepr refuses a zero checksum over IPv6 and always sends one (RFC 8200 §8.1)", () => {
  const sum = ipv6AddressSum(A, B);
  const b = new Uint8Array(12);
  b.set([1, 2, 3, 4], 8);
  const repr = { ...newUdpRepr(), srcPort: 40000, dstPort: 53, payloadLength: 4 };
  UdpRepr.emit(repr, b, 0, 0, 0, { checksum: false, ipv6AddressSum: sum });
  assert.notEqual(new UdpPacket(b).checksum, 0, "checksum: false does not apply to IPv6");
  assert.equal(checksumOverPseudoHeader(A, B, IP_PROTO_UDP, b), 0);
  assert.ok(new UdpPacket(b).verifyChecksum(0, 0, sum));
  b[6] = b[7] = 0;
  const v4 = UdpRepr.parse(new UdpPacket(b), 0xc0000201, 0xc0000202);
  assert.ok(!isWireError(v4) && v4.checksumAbsent, "IPv4: zero means no checksum");
  assert.ok(!new UdpPacket(b).verifyChecksum(0, 0, sum));
  for (const verifyChecksum of [true, false]) {
    const e = UdpRepr.parse(new UdpPacket(b), 0, 0, undefined, {
      verifyChecksum,
      ipv6AddressSum: sum,
    });
    assert.ok(isWireError(e) && e.kind === "bad-checksum", `verifyChecksum ${verifyChecksum}`);
  }
});

Deno.test("TcpRepr emits and parses segments over IPv6 that tshark checksums as correct", async () => {
  const sum = ipv6AddressSum(A, B);
  const syn = newTcpRepr();
  syn.srcPort = 41000;
  syn.dstPort = 8080;
  syn.seq = 0x7a69d1a1;
  syn.flags = TCP_SYN;
  syn.window = 64800;
  syn.mss = 1440; // 1500 − 60 (RFC 8200 + TCP headers)
  syn.sackPermitted = true;
  syn.hasTimestamp = true;
  syn.tsVal = 12345;
  syn.windowScale = 7;
  const data = newTcpRepr();
  data.srcPort = 41000;
  data.dstPort = 8080;
  data.seq = 0x7a69d1a2;
  data.ack = 1;
  data.flags = TCP_ACK | TCP_PSH;
  data.window = 512;
  data.payload = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: [2001:db8::2]\r\n\r\n");
  data.payloadLength = data.payload.length;
  const frames = [syn, data].map((repr) => {
    const n = TcpRepr.headerLength(repr) + repr.payloadLength;
    return ipv6Frame({
      src: A,
      dst: B,
      nextHeader: IP_PROTO_TCP,
      payloadLength: n,
      fill: (f, at) => assert.equal(TcpRepr.emit(repr, f, at, 0, 0, sum), n),
    });
  });
  for (const f of frames) {
    const at = ETH + IPV6_HEADER_LEN;
    const segment = f.subarray(at);
    assert.equal(checksumOverPseudoHeader(A, B, IP_PROTO_TCP, segment), 0);
    const view = new TcpPacket(f, at, segment.length);
    assert.ok(view.verifyChecksum(0, 0, sum));
    assert.ok(!view.verifyChecksum(0, 0, ipv6AddressSum(A, Ipv6Address.parse("2001:db8::3"))));
    const back = TcpRepr.parse(view, 0, 0, undefined, { ipv6AddressSum: sum });
    if (isWireError(back)) throw new Error(String(back));
    assert.equal(back.srcPort, 41000);
    assert.ok(isWireError(TcpRepr.parse(view, 0xc0000201, 0xc0000202)), "not an IPv4 checksum");
    assert.equal(
      onesComplementSum(
        f,
        at,
        segment.length,
        ipv6AddressSum(A, B) + IP_PROTO_TCP + segment.length,
      ),
      0xffff,
    );
  }
  const decoded = await assertTsharkClean(frames, { what: "TCP over IPv6" });
  if (decoded === null) return;
  for (const t of decoded) assert.equal(t.field("tcp.checksum.status"), "1");
  assert.equal(decoded[0].num("tcp.options.mss_val"), 1440);
  assert.equal(decoded[1].num("tcp.len"), data.payloadLength);
});
