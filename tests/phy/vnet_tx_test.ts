// The virtio_net_hdr the AF_PACKET driver writes in front of an offloaded frame (issue 18, #19):
// NEEDS_CSUM with csum_start/csum_offset as the stack gives them, gso_type by the IP version
// (GSO_TCPV4 / GSO_TCPV6) with GSO_ECN when the super-segment carries CWR, hdr_len = headers
// up to the end of the TCP header, gso_size = the MSS. libc's sendmsg is replaced by a recorder.
import assert from "node:assert/strict";
import { GSO_ECN, GSO_NONE, GSO_TCPV4, GSO_TCPV6, newDeviceStats } from "../../src/phy/device.ts";
import { libc } from "../../src/phy/libc.ts";
import { Transmitter } from "../../src/phy/af_packet/transmit.ts";
import {
  IOVEC_BYTES,
  MSG_HDR_BYTES,
  readLe16,
  tcpGsoType,
  VNET_CSUM_OFFSET,
  VNET_CSUM_START,
  VNET_F_NEEDS_CSUM,
  VNET_FLAGS,
  VNET_GSO_SIZE,
  VNET_GSO_TYPE,
  VNET_HDR_LEN,
} from "../../src/phy/af_packet/layout.ts";
import type { AfPacketStats } from "../../src/phy/af_packet.ts";

const ETH = 14;
const VLAN = 4;
const IPV4 = 20;
const IPV6 = 40;
/** TCP header with timestamps: data offset 8 words. */
const TCP = 32;
const TCP_CHECKSUM_OFFSET = 16;
const TCP_CWR = 0x80;
const TCP_ACK = 0x10;
const MSS6 = 1428;
const MSS4 = 1448;
const DATA = 10 * 1428;
/** Where the driver's virtio_net_hdr sits in its sendmsg buffer: msghdr, 2 iovecs, header. */
const VNET_AT = MSG_HDR_BYTES + 2 * IOVEC_BYTES;

interface Header {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

/** A frame: Ethernet (optionally one 802.1Q tag), IPv4 or IPv6, TCP with `flags`, data. */
function frame(version: 4 | 6, flags: number, tagged = false): Uint8Array {
  const link = ETH + (tagged ? VLAN : 0);
  const ip = version === 6 ? IPV6 : IPV4;
  const b = new Uint8Array(link + ip + TCP + DATA);
  const type = version === 6 ? 0x86dd : 0x0800;
  if (tagged) {
    b[12] = 0x81, b[13] = 0x00, b[14] = 0, b[15] = 7;
    b[16] = type >>> 8, b[17] = type & 0xff;
  } else {
    b[12] = type >>> 8, b[13] = type & 0xff;
  }
  b[link] = version === 6 ? 0x60 : 0x45;
  b[link + (version === 6 ? 6 : 9)] = 6; // next header / protocol: TCP
  const tcp = link + ip;
  b[tcp + 12] = (TCP / 4) << 4;
  b[tcp + 13] = flags;
  return b;
}

/** Sends one frame through a Transmitter whose sendmsg records the header; returns it. */
function send(
  b: Uint8Array,
  csumStart: number,
  gsoSize: number,
): { header: Header; stats: AfPacketStats } {
  const c = libc() as unknown as { sendmsg: (fd: number, msg: Uint8Array, f: number) => number };
  const sendmsg = c.sendmsg;
  let header: Header | null = null;
  c.sendmsg = (_fd, msg) => {
    header = {
      flags: msg[VNET_AT + VNET_FLAGS],
      gsoType: msg[VNET_AT + VNET_GSO_TYPE],
      hdrLen: readLe16(msg, VNET_AT + VNET_HDR_LEN),
      gsoSize: readLe16(msg, VNET_AT + VNET_GSO_SIZE),
      csumStart: readLe16(msg, VNET_AT + VNET_CSUM_START),
      csumOffset: readLe16(msg, VNET_AT + VNET_CSUM_OFFSET),
    };
    return b.length;
  };
  try {
    const stats = { ...newDeviceStats(), txSuperFrames: 0, txSuperFrames6: 0, txSuperFramesEcn: 0 };
    const tx = new Transmitter(-1, true, stats as unknown as AfPacketStats);
    assert.ok(tx.sendVnet(b, 0, b.length, csumStart, TCP_CHECKSUM_OFFSET, gsoSize));
    assert.ok(header !== null, "sendmsg was called");
    return { header, stats: stats as unknown as AfPacketStats };
  } finally {
    c.sendmsg = sendmsg;
  }
}

Deno.test("Transmitter behaviour: an IPv6 TCP super-frame goes out as GSO_TCPV6 with csum_start 54 and hdr_len", () => {
  const start = ETH + IPV6;
  const { header, stats } = send(frame(6, TCP_ACK), start, MSS6);
  assert.deepEqual(header, {
    flags: VNET_F_NEEDS_CSUM,
    gsoType: GSO_TCPV6,
    hdrLen: start + TCP,
    gsoSize: MSS6,
    csumStart: start,
    csumOffset: TCP_CHECKSUM_OFFSET,
  });
  assert.equal(stats.txSuperFrames, 1);
  assert.equal(stats.txSuperFrames6, 1);
  assert.equal(stats.txSuperFramesEcn, 0);
});

Deno.test("Transmitter behaviour: an IPv4 TCP super-frame stays GSO_TCPV4 with csum_start 34", () => {
  const start = ETH + IPV4;
  const { header, stats } = send(frame(4, TCP_ACK), start, MSS4);
  assert.equal(header.gsoType, GSO_TCPV4);
  assert.equal(header.csumStart, start);
  assert.equal(header.hdrLen, start + TCP);
  assert.equal(header.gsoSize, MSS4);
  assert.equal(stats.txSuperFrames6, 0);
});

Deno.test("Transmitter behaviour: a super-frame that carries CWR is marked GSO_ECN (IPv4 and IPv6)", () => {
  const six = send(frame(6, TCP_ACK | TCP_CWR), ETH + IPV6, MSS6);
  assert.equal(six.header.gsoType, GSO_TCPV6 | GSO_ECN);
  assert.equal(six.stats.txSuperFramesEcn, 1);
  const four = send(frame(4, TCP_ACK | TCP_CWR), ETH + IPV4, MSS4);
  assert.equal(four.header.gsoType, GSO_TCPV4 | GSO_ECN);
  assert.equal(four.stats.txSuperFramesEcn, 1);
});

Deno.test("Transmitter behaviour: an 802.1Q-tagged IPv6 super-frame is GSO_TCPV6, hdr_len past the tag", () => {
  const start = ETH + VLAN + IPV6;
  const { header } = send(frame(6, TCP_ACK, true), start, MSS6);
  assert.equal(header.gsoType, GSO_TCPV6);
  assert.equal(header.csumStart, start);
  assert.equal(header.hdrLen, start + TCP);
});

Deno.test("Transmitter behaviour: a checksum-only IPv6 frame has gso NONE and no hdr_len", () => {
  const b = frame(6, TCP_ACK | TCP_CWR).subarray(0, ETH + IPV6 + TCP + 100);
  const { header, stats } = send(b, ETH + IPV6, 0);
  assert.deepEqual(header, {
    flags: VNET_F_NEEDS_CSUM,
    gsoType: GSO_NONE,
    hdrLen: 0,
    gsoSize: 0,
    csumStart: ETH + IPV6,
    csumOffset: TCP_CHECKSUM_OFFSET,
  });
  assert.equal(stats.txSuperFrames, 0);
});

Deno.test("tcpGsoType behaviour: the IP version nibble picks TCPV4/TCPV6, CWR adds ECN", () => {
  const b = new Uint8Array(60);
  b[0] = 0x60;
  assert.equal(tcpGsoType(b, 0, 40), GSO_TCPV6);
  b[40 + 13] = TCP_CWR;
  assert.equal(tcpGsoType(b, 0, 40), GSO_TCPV6 | GSO_ECN);
  b[0] = 0x45;
  assert.equal(tcpGsoType(b, 0, 40), GSO_TCPV4 | GSO_ECN);
  b[40 + 13] = TCP_ACK;
  assert.equal(tcpGsoType(b, 0, 40), GSO_TCPV4);
});
