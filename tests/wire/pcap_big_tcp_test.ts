/**
 * Captures of Linux BIG TCP super-frames (issue 18): PcapWriter keeps a frame above 64 KiB
 * whole under its default snaplen (262144, tcpdump's), and tshark reads it as Linux writes
 * it — an IPv6 jumbogram (Payload Length 0, Hop-by-Hop Jumbo Payload option, RFC 2675) and an
 * IPv4 datagram with Total Length 0 — with the TCP checksum over the 32-bit length valid.
 */
import assert from "node:assert/strict";
import { PcapReader, PcapWriter } from "../../src/wire/pcap.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";
import { tsharkDecodeFile, tsharkTest } from "./_tshark.ts";

const SEGMENT_DATA_BYTES = 131_072;
const TCP_HEADER_BYTES = 20;

/** A TCP header (ACK|PSH) + data, checksum over `pseudo` (address bytes) and the 32-bit length. */
function tcpSegment(pseudo: Uint8Array): Uint8Array {
  const seg = new Uint8Array(TCP_HEADER_BYTES + SEGMENT_DATA_BYTES);
  const v = new DataView(seg.buffer);
  v.setUint16(0, 40000);
  v.setUint16(2, 5001);
  v.setUint32(4, 1000);
  v.setUint32(8, 1);
  seg[12] = 5 << 4;
  seg[13] = 0x18;
  v.setUint16(14, 65535);
  for (let i = TCP_HEADER_BYTES; i < seg.length; i++) seg[i] = i & 0xff;
  // RFC 8200 §8.1 (32-bit Upper-Layer Packet Length); IPv4 BIG TCP sums its length the same.
  const ph = new Uint8Array(pseudo.length + 8);
  ph.set(pseudo);
  new DataView(ph.buffer).setUint32(pseudo.length, seg.length);
  ph[ph.length - 1] = 6;
  let sum = 0;
  for (const part of [ph, seg]) {
    for (let i = 0; i < part.length; i += 2) sum += (part[i] << 8) | (part[i + 1] ?? 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  v.setUint16(16, ~sum & 0xffff);
  return seg;
}

function ethernet(type: number, packet: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + packet.length);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, type >> 8, type & 0xff]);
  f.set(packet, 14);
  return f;
}

function ipv6Jumbogram(): Uint8Array {
  const addrs = new Uint8Array(32);
  addrs.set([0x20, 0x01, 0x0d, 0xb8, 0, 1], 0);
  addrs[15] = 1;
  addrs.set([0x20, 0x01, 0x0d, 0xb8, 0, 1], 16);
  addrs[31] = 2;
  const seg = tcpSegment(addrs);
  const p = new Uint8Array(48 + seg.length);
  p[0] = 0x60;
  p[6] = 0; // Hop-by-Hop; Payload Length stays 0
  p[7] = 64;
  p.set(addrs, 8);
  p.set([6, 0, 0xc2, 4], 40);
  new DataView(p.buffer).setUint32(44, 8 + seg.length);
  p.set(seg, 48);
  return ethernet(0x86dd, p);
}

function ipv4BigTcp(): Uint8Array {
  const addrs = new Uint8Array([192, 0, 2, 1, 192, 0, 2, 2]);
  const seg = tcpSegment(addrs);
  const p = new Uint8Array(20 + seg.length);
  p.set([0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6]); // Total Length 0, DF
  p.set(addrs, 12);
  const ck = internetChecksum(p, 0, 20);
  p[10] = ck >> 8;
  p[11] = ck & 0xff;
  p.set(seg, 20);
  return ethernet(0x0800, p);
}

tsharkTest(
  "PcapWriter behaviour: BIG TCP super-frames above 64 KiB are captured whole and tshark reads them",
  async () => {
    const path = await Deno.makeTempFile({ prefix: "rawstack-bigtcp-", suffix: ".pcap" });
    try {
      const frames = [ipv6Jumbogram(), ipv4BigTcp()];
      const w = await PcapWriter.create(path);
      frames.forEach((f, i) => w.writeFrame(f, 0, f.length, 1_700_000_000_000 + i));
      w.close();
      const records = [...(await PcapReader.open(path))];
      assert.deepEqual(records.map((r) => r.data.length), frames.map((f) => f.length));
      assert.deepEqual(records.map((r) => r.originalLength), frames.map((f) => f.length));
      const decoded = await tsharkDecodeFile(path, { what: "BIG TCP frames" });
      if (decoded === null) return;
      const [six, four] = decoded;
      assert.equal(six.num("frame.len"), frames[0].length);
      assert.equal(six.num("ipv6.plen"), 0);
      assert.equal(six.num("tcp.len"), SEGMENT_DATA_BYTES);
      assert.equal(six.malformed, false);
      assert.equal(six.badChecksum, false);
      assert.equal(four.num("frame.len"), frames[1].length);
      // Wireshark takes Total Length 0 as "from the frame" (TSO / BIG TCP captures).
      assert.equal(four.num("ip.len"), frames[1].length - 14);
      assert.equal(four.num("tcp.len"), SEGMENT_DATA_BYTES);
      assert.equal(four.malformed, false);
      assert.equal(four.badChecksum, false);
    } finally {
      await Deno.remove(path);
    }
  },
);
