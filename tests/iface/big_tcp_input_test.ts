/**
 * The IP layers' reading of Linux BIG TCP super-frames (IPv6 Payload Length 0 as an RFC
 * 2675 jumbogram, IPv4 Total Length 0): only for frames the device marks as GSO
 * (`rxInfo.gsoSize > 0`, through `receiveDeviceFrame`); any other frame keeps the old
 * meaning of a 0 length.
 */
import assert from "node:assert/strict";
import { NetworkInterface } from "../../src/iface/interface.ts";
import { GSO_NONE, GSO_TCPV4, GSO_TCPV6, RX_CHECKSUM_PARTIAL } from "../../src/phy/device.ts";
import type { RxFrameInfo } from "../../src/phy/device.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";
import { parseIpv4 } from "../../src/wire/address.ts";
import {
  fromPeer,
  ipv6Packet,
  MAC_ME,
  MAC_PEER,
  ME,
  PEER,
  peerFrame,
  V6Host,
} from "./_ipv6_helpers.ts";
import { ethFrame, ipv4Packet, MAC_B, RecordingDevice } from "./_helpers.ts";

const TCP = 6;
const SEGMENT_BYTES = 100_000;

/** What the device says of the frame being delivered. */
function rxInfo(gsoType: number, gsoSize: number): RxFrameInfo {
  return {
    checksum: RX_CHECKSUM_PARTIAL,
    gsoType,
    gsoSize,
    headerLength: 0,
    csumStart: 0,
    csumOffset: 0,
  };
}

/** A TCP jumbogram with the Hop-by-Hop Jumbo Payload option; `jumbo` its length field. */
function jumboPacket(jumbo = 8 + SEGMENT_BYTES): Uint8Array {
  const hbh = new Uint8Array(8 + SEGMENT_BYTES);
  hbh[0] = TCP;
  hbh[2] = 0xc2;
  hbh[3] = 4;
  new DataView(hbh.buffer).setUint32(4, jumbo);
  hbh[8] = 0x5a;
  return ipv6Packet({ src: PEER, dst: ME, nextHeader: 0, payload: hbh, payloadLength: 0 });
}

function v6HostWithTcp(): { h: V6Host; got: string[] } {
  const h = new V6Host().up();
  h.ipv6.neighbours.learn(h.t, PEER, MAC_PEER);
  const got: string[] = [];
  h.ipv6.registerProtocol(TCP, {
    onPacket6(_now, _src, _dst, bytes, offset, length) {
      got.push(`${length} ${bytes[offset]}`);
    },
  });
  return { h, got };
}

function deviceFrame(h: V6Host, frame: Uint8Array, info: RxFrameInfo): void {
  Object.assign(h.dev, { rxInfo: info });
  h.iface.receiveDeviceFrame(h.t, frame, 0, frame.length);
}

Deno.test("Ipv6Layer behaviour: a GSO super-frame's jumbogram reaches TCP with the Jumbo Payload Length (RFC 2675)", () => {
  const { h, got } = v6HostWithTcp();
  deviceFrame(h, peerFrame(jumboPacket()), rxInfo(GSO_TCPV6, 1428));
  assert.deepEqual(got, [`${SEGMENT_BYTES} ${0x5a}`]);
  assert.equal(h.ipv6.stats.rxJumbograms, 1);
  assert.equal(h.ipv6.rxSuperFrame, false, "cleared after the frame");
});

Deno.test("Ipv6Layer behaviour: Payload Length 0 in a frame not marked GSO keeps its old meaning (no jumbogram)", () => {
  const { h, got } = v6HostWithTcp();
  // Not a super-frame: through receiveFrame, and through the device with gso_size 0.
  h.rx(peerFrame(jumboPacket()));
  deviceFrame(h, peerFrame(jumboPacket()), rxInfo(GSO_NONE, 0));
  // TCP right after the header with Payload Length 0: an empty segment, as before.
  const bare = ipv6Packet({
    src: PEER,
    dst: ME,
    nextHeader: TCP,
    payload: new Uint8Array(SEGMENT_BYTES),
    payloadLength: 0,
  });
  h.rx(peerFrame(bare));
  assert.deepEqual(got, ["0 0"]);
  assert.equal(h.ipv6.stats.rxJumbograms, 0);
  assert.equal(h.ipv6.stats.rxBadJumbograms, 0);
});

Deno.test("Ipv6Layer behaviour: a malformed jumbogram in a super-frame is dropped, counted and answered with Parameter Problem code 0 (RFC 2675 §3)", () => {
  const { h, got } = v6HostWithTcp();
  h.out();
  deviceFrame(h, peerFrame(jumboPacket(1000)), rxInfo(GSO_TCPV6, 1428));
  assert.deepEqual(got, []);
  assert.equal(h.ipv6.stats.rxBadJumbograms, 1);
  assert.equal(h.ipv6.stats.rxParameterProblem, 1);
  const [e] = h.out();
  assert.equal(e.icmpType, 4);
  assert.equal(e.icmp[1], 0);
  // Pointer: the Jumbo Payload Length's high octet.
  assert.equal(new DataView(e.icmp.buffer, e.icmp.byteOffset).getUint32(4), 44);
});

Deno.test("Ipv4Layer behaviour: Total Length 0 in a GSO super-frame above 64 KiB is the frame's length (Linux BIG TCP); elsewhere still bad", () => {
  const dev = new RecordingDevice(MAC_ME);
  const iface = new NetworkInterface(dev, { ipv4: "192.0.2.10/24" });
  const got: number[] = [];
  iface.ipv4.registerProtocol(TCP, {
    onPacket(_now, _src, _dst, _bytes, _offset, length) {
      got.push(length);
    },
  });
  const p = ipv4Packet({
    src: parseIpv4("192.0.2.11")!,
    dst: parseIpv4("192.0.2.10")!,
    protocol: TCP,
    payload: new Uint8Array(SEGMENT_BYTES),
    df: true,
  });
  p[2] = 0;
  p[3] = 0;
  p[10] = 0;
  p[11] = 0;
  const ck = internetChecksum(p, 0, 20);
  p[10] = ck >> 8;
  p[11] = ck & 0xff;
  const frame = ethFrame(MAC_ME, MAC_B, 0x0800, p);
  iface.receiveFrame(0, frame, 0, frame.length);
  Object.assign(dev, { rxInfo: rxInfo(GSO_NONE, 0) });
  iface.receiveDeviceFrame(0, frame, 0, frame.length);
  assert.deepEqual(got, []);
  assert.equal(iface.ipv4.stats.rxBadTotalLength, 2);
  Object.assign(dev, { rxInfo: rxInfo(GSO_TCPV4, 1448) });
  iface.receiveDeviceFrame(0, frame, 0, frame.length);
  assert.deepEqual(got, [SEGMENT_BYTES]);
  assert.equal(iface.ipv4.stats.rxBigTcp, 1);
  assert.equal(iface.ipv4.rxSuperFrame, false, "cleared after the frame");
});

Deno.test("Ipv6Layer behaviour: a Jumbo Payload option in a packet whose Payload Length is not 0 gets Parameter Problem code 0 at the option (RFC 2675 §3)", () => {
  // [Jumbo Payload Length, Opt Data Len, the pointer RFC 2675 §3 / Linux ipv6_hop_jumbo give]
  const cases: [number, number, number][] = [
    [8 + SEGMENT_BYTES, 4, 42], // a valid option, Payload Length ≠ 0: the Option Type
    [1000, 4, 44], // Jumbo Payload Length < 65,536: its high octet
    [8 + SEGMENT_BYTES, 2, 43], // malformed: the Opt Data Len
  ];
  for (const [jumbo, optLen, pointer] of cases) {
    const { h, got } = v6HostWithTcp();
    h.out();
    const hbh = new Uint8Array(8 + 20);
    hbh[0] = TCP;
    hbh[2] = 0xc2;
    hbh[3] = optLen;
    if (optLen === 4) new DataView(hbh.buffer).setUint32(4, jumbo);
    else hbh[6] = 1; // a 2-byte option, then PadN of 0 bytes to the header's end
    // An ordinary frame (not GSO), Payload Length 28.
    h.rx(
      fromPeer(0, hbh),
    );
    assert.deepEqual(got, [], `jumbo ${jumbo} len ${optLen}`);
    assert.equal(h.ipv6.stats.rxParameterProblem, 1);
    const [e] = h.out();
    assert.equal(e.icmpType, 4);
    assert.equal(e.icmp[1], 0, `code 0 (header field), jumbo ${jumbo} len ${optLen}`);
    assert.equal(new DataView(e.icmp.buffer, e.icmp.byteOffset).getUint32(4), pointer);
  }
});
