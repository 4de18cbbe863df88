import assert from "node:assert/strict";
import {
  fillUdpChecksum,
  newUdpRepr,
  UDP_HEADER_LEN,
  UdpPacket,
  UdpRepr,
} from "../../src/wire/udp.ts";
import { IP_PROTO_UDP, IPV4_HEADER_LEN, Ipv4Packet } from "../../src/wire/ipv4.ts";
import { EthernetFrame, ETHERTYPE_IPV4 } from "../../src/wire/ethernet.ts";
import { isWireError, type WireError } from "../../src/wire/error.ts";
import { internetChecksum, pseudoHeaderSum } from "../../src/wire/checksum.ts";
import {
  assertTsharkClean,
  readTestdata,
  testdataPath,
  tsharkDecode,
  tsharkDecodeFile,
  type TsharkFrame,
  tsharkTest,
} from "./_tshark.ts";
import { ETH_LEN, ipv4Frame } from "./_ipv4_frames.ts";

const FILES = ["kernel_arp_icmp_udp.pcap", "kernel_dns.pcap"];
const IP_A = 0xc0000201 | 0;
const IP_B = 0xc0000202 | 0;

function parseOk(packet: UdpPacket, src: number, dst: number, out?: UdpRepr): UdpRepr {
  const repr = UdpRepr.parse(packet, src, dst, out);
  if (isWireError(repr)) throw new Error(`unexpected ${repr}`);
  return repr;
}

function parseErr(packet: UdpPacket, src = IP_A, dst = IP_B): WireError {
  const repr = UdpRepr.parse(packet, src, dst);
  assert.ok(isWireError(repr), "expected a WireError");
  return repr;
}

interface KernelUdp {
  index: number;
  frame: Uint8Array;
  ip: Ipv4Packet;
}

function kernelUdpFrames(file: string): KernelUdp[] {
  const out: KernelUdp[] = [];
  readTestdata(file).forEach((rec, index) => {
    if (new EthernetFrame(rec.data).etherType !== ETHERTYPE_IPV4) return;
    const ip = new Ipv4Packet(rec.data, ETH_LEN);
    if (ip.check() !== null || ip.protocol !== IP_PROTO_UDP || ip.isFragment) return;
    out.push({ index, frame: rec.data, ip });
  });
  return out;
}

/** Ethernet + IPv4 + UDP(ports, payload) built with our encoders. */
function udpFrame(
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
  opts: { checksum?: boolean } = {},
): Uint8Array {
  const udpLen = UDP_HEADER_LEN + payload.length;
  const frame = ipv4Frame({ source: IP_A, destination: IP_B, protocol: IP_PROTO_UDP }, udpLen);
  const at = ETH_LEN + IPV4_HEADER_LEN;
  frame.set(payload, at + UDP_HEADER_LEN);
  const n = UdpRepr.emit(
    { ...newUdpRepr(), srcPort, dstPort, payloadLength: payload.length },
    frame,
    at,
    IP_A,
    IP_B,
    opts,
  );
  assert.equal(n, UDP_HEADER_LEN);
  return frame;
}

Deno.test("UdpRepr parse → emit reproduces every kernel datagram byte for byte", () => {
  const view = new UdpPacket(new Uint8Array(0));
  const repr = newUdpRepr();
  let count = 0;
  for (const file of FILES) {
    for (const { frame, ip } of kernelUdpFrames(file)) {
      parseOk(
        view.reset(frame, ip.payloadOffset, ip.payloadLength),
        ip.source,
        ip.destination,
        repr,
      );
      assert.equal(repr.checksumAbsent, false);
      const out = frame.slice();
      out.fill(0, ip.payloadOffset, ip.payloadOffset + UDP_HEADER_LEN);
      UdpRepr.emit(repr, out, ip.payloadOffset, ip.source, ip.destination);
      assert.deepEqual(out, frame);
      count++;
    }
  }
  assert.equal(count, 2 + 10);
});

tsharkTest("UdpRepr fields equal tshark's decode of the kernel captures", async () => {
  for (const file of FILES) {
    const decoded: TsharkFrame[] | null = await tsharkDecodeFile(testdataPath(file));
    if (decoded === null) return;
    for (const { index, frame, ip } of kernelUdpFrames(file)) {
      const packet = new UdpPacket(frame, ip.payloadOffset, ip.payloadLength);
      const repr = parseOk(packet, ip.source, ip.destination);
      const t: TsharkFrame = decoded[index];
      assert.equal(t.field("udp.checksum.status"), "1");
      assert.equal(repr.srcPort, t.num("udp.srcport"));
      assert.equal(repr.dstPort, t.num("udp.dstport"));
      assert.equal(repr.payloadLength + UDP_HEADER_LEN, t.num("udp.length"));
      assert.equal(packet.checksum, Number(t.field("udp.checksum")));
    }
  }
  const first = kernelUdpFrames(FILES[0])[0];
  const text = new TextDecoder().decode(
    first.frame.subarray(
      first.ip.payloadOffset + UDP_HEADER_LEN,
      first.ip.payloadOffset + first.ip.payloadLength,
    ),
  );
  assert.equal(text, "hello rawstack over udp\n");
});

/** Payload whose datagram checksums to exactly 0 (so it must be sent as 0xffff). */
function zeroChecksumPayload(): Uint8Array {
  const payload = new Uint8Array(4);
  const probe = udpFrame(40000, 9999, payload);
  const at = ETH_LEN + IPV4_HEADER_LEN;
  probe[at + 6] = 0;
  probe[at + 7] = 0;
  const ck = internetChecksum(probe, at, 12, pseudoHeaderSum(IP_A, IP_B, IP_PROTO_UDP, 12));
  // Adding the checksum value as a data word makes the one's-complement sum 0xffff → checksum 0.
  payload[0] = ck >>> 8;
  payload[1] = ck & 0xff;
  return payload;
}

Deno.test("UdpRepr emits datagrams tshark accepts, including a computed-zero checksum sent as 0xffff", async () => {
  const zeroPayload = zeroChecksumPayload();
  const frames = [
    udpFrame(40000, 9999, new TextEncoder().encode("hello rawstack over udp\n")),
    udpFrame(1, 65535, new Uint8Array(0)),
    udpFrame(5000, 5001, new Uint8Array(1473).map((_, i) => i)), // odd length
    udpFrame(40000, 9999, zeroPayload),
    udpFrame(40000, 9999, new TextEncoder().encode("no checksum"), { checksum: false }),
  ];
  const at = ETH_LEN + IPV4_HEADER_LEN;
  const zeroView = new UdpPacket(frames[3], at, frames[3].length - at);
  assert.equal(zeroView.checksum, 0xffff, "RFC 768: computed 0 is transmitted as all ones");
  assert.ok(zeroView.verifyChecksum(IP_A, IP_B));
  const none = parseOk(new UdpPacket(frames[4], at, frames[4].length - at), IP_A, IP_B);
  assert.equal(none.checksumAbsent, true);

  const parsed = frames.map((f) => parseOk(new UdpPacket(f, at, f.length - at), IP_A, IP_B));
  const decoded = await assertTsharkClean(frames, { what: "emitted UDP" });
  if (decoded === null) return;
  decoded.forEach((t, i) => {
    assert.equal(t.num("udp.srcport"), parsed[i].srcPort);
    assert.equal(t.num("udp.dstport"), parsed[i].dstPort);
    assert.equal(t.num("udp.length"), parsed[i].payloadLength + UDP_HEADER_LEN);
    assert.equal(t.field("udp.checksum.status"), i === 4 ? "3" : "1"); // 3 = not present
  });
  assert.equal(decoded[3].field("udp.checksum"), "0xffff");
});

tsharkTest("assertTsharkClean fails on a datagram with a bad checksum", async () => {
  const frame = udpFrame(40000, 9999, new TextEncoder().encode("corrupt me"));
  frame[frame.length - 1] ^= 0x20;
  const decoded = await tsharkDecode([frame]);
  if (decoded === null) return;
  assert.equal(decoded[0].badChecksum, true);
  await assert.rejects(() => assertTsharkClean([frame]), /Bad checksum/);
});

function validDatagram(payload = 4): Uint8Array {
  const bytes = new Uint8Array(UDP_HEADER_LEN + payload).fill(0x33);
  UdpRepr.emit(
    { ...newUdpRepr(), srcPort: 40000, dstPort: 9999, payloadLength: payload },
    bytes,
    0,
    IP_A,
    IP_B,
  );
  return bytes;
}

Deno.test("UdpPacket rejects datagrams shorter than 8 bytes", () => {
  const bytes = validDatagram();
  for (let len = 0; len < UDP_HEADER_LEN; len++) {
    const e = parseErr(new UdpPacket(bytes, 0, len));
    assert.equal(e.kind, "truncated");
    assert.equal(e.protocol, "udp");
  }
  assert.equal(parseErr(new UdpPacket(bytes, 1, bytes.length)).kind, "bad-length");
});

Deno.test("UdpPacket rejects a length field < 8", () => {
  for (let len = 0; len < UDP_HEADER_LEN; len++) {
    const bytes = validDatagram();
    new UdpPacket(bytes).udpLength = len;
    const e = parseErr(new UdpPacket(bytes));
    assert.equal(e.kind, "bad-length");
    assert.match(e.message, new RegExp(`length field ${len} < 8`));
  }
});

Deno.test("UdpPacket rejects a length field beyond the buffer", () => {
  const bytes = validDatagram(4);
  new UdpPacket(bytes).udpLength = 13;
  const e = parseErr(new UdpPacket(bytes));
  assert.equal(e.kind, "bad-length");
  assert.match(e.message, /13 > 12/);
});

Deno.test("UdpRepr rejects a bad checksum unless told not to verify", () => {
  const bytes = validDatagram();
  bytes[9] ^= 1;
  assert.equal(parseErr(new UdpPacket(bytes)).kind, "bad-checksum");
  assert.ok(
    !isWireError(
      UdpRepr.parse(new UdpPacket(bytes), IP_A, IP_B, undefined, { verifyChecksum: false }),
    ),
  );
  // The pseudo-header is covered: the right bytes from another address fail.
  assert.equal(parseErr(new UdpPacket(validDatagram()), IP_A, 0xc0000203).kind, "bad-checksum");
});

Deno.test("UdpRepr accepts a zero checksum as 'none' (RFC 768)", () => {
  const bytes = validDatagram();
  new UdpPacket(bytes).checksum = 0;
  bytes[9] ^= 1; // unverifiable change
  const repr = parseOk(new UdpPacket(bytes), IP_A, IP_B);
  assert.equal(repr.checksumAbsent, true);
});

Deno.test("UdpPacket uses the length field, not the bytes available, for the payload", () => {
  const bytes = new Uint8Array(30);
  bytes.set(validDatagram(4));
  bytes.fill(0xee, 12);
  const repr = parseOk(new UdpPacket(bytes), IP_A, IP_B);
  assert.equal(repr.payloadLength, 4);
  assert.equal(repr.payloadOffset, 8);
});

Deno.test("fillUdpChecksum works at an odd offset and odd length", () => {
  const buf = new Uint8Array(1 + UDP_HEADER_LEN + 5);
  const view = new UdpPacket(buf, 1, UDP_HEADER_LEN + 5);
  view.sourcePort = 1234;
  view.destinationPort = 4321;
  view.udpLength = 13;
  buf.set([1, 2, 3, 4, 5], 9);
  fillUdpChecksum(buf, 1, 13, IP_B, IP_A);
  assert.ok(view.verifyChecksum(IP_B, IP_A));
  assert.notEqual(view.checksum, 0);
  const copy = new Uint8Array(13);
  copy.set(buf.subarray(1));
  assert.equal(new UdpPacket(copy).checksum, view.checksum);
  assert.ok(new UdpPacket(copy).verifyChecksum(IP_B, IP_A));
});
