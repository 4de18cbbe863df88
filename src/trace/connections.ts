/**
 * Decoding captured frames for pictures: every frame becomes a
 * {@link DecodedFrame} (ARP, ICMP, UDP, TCP, other), and TCP segments are
 * grouped into connections ({@link TcpConnectionTrace}) with sequence and
 * acknowledgement numbers made relative to each side's initial sequence
 * number, windows scaled as negotiated, and marks for retransmissions, lost
 * segments, gaps in the capture and duplicate ACKs.
 *
 * This is an offline analysis tool (it runs after a capture, or on a
 * tcpdump file): it allocates freely and never throws on hostile frames —
 * a frame it cannot decode becomes a `"malformed"` or `"other"` frame. Frames
 * cut short by a small snaplen still give their headers: lengths are taken
 * from the IPv4 total length, not from the captured bytes.
 *
 * @module
 */

import { EthernetFrame, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from "../wire/ethernet.ts";
import { Ipv6Address, ipv6HashAt } from "../wire/ipv6_address.ts";
import { Ipv4Packet } from "../wire/ipv4.ts";
import { ARP_REPLY, ARP_REQUEST, ArpPacket } from "../wire/arp.ts";
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_HEADER_LEN,
  ICMP_TIME_EXCEEDED,
} from "../wire/icmp.ts";
import {
  newTcpRepr,
  TCP_ACK,
  TCP_CWR,
  TCP_ECE,
  TCP_FIN,
  TCP_HEADER_LEN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
  TcpPacket,
  TcpRepr,
} from "../wire/tcp.ts";
import { isWireError } from "../wire/error.ts";
import { formatIpv4 } from "../wire/address.ts";
import { LINKTYPE_ETHERNET, PcapReader } from "../wire/pcap.ts";
import { SentRanges } from "./sent_ranges.ts";
import { IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP } from "../wire/ipv4.ts";
import {
  IP_PROTO_DSTOPTS,
  IP_PROTO_FRAGMENT,
  IP_PROTO_HOPOPTS,
  IP_PROTO_ICMPV6,
  IP_PROTO_NONE,
  IP_PROTO_ROUTING,
  IPV6_DST_OFFSET,
  IPV6_HEADER_LEN,
  IPV6_NEXT_HEADER_OFFSET,
  IPV6_SRC_OFFSET,
  IPV6_VERSION,
} from "../wire/ipv6.ts";
import { UDP_HEADER_LEN } from "../wire/udp.ts";

/** Well-known DNS port (RFC 1035 §4.2). */
const DNS_PORT = 53;
/** 2^32, the TCP sequence space (RFC 9293 §3.4). */
const SEQ_SPACE = 0x1_0000_0000;
/** Half the sequence space: the largest forward distance (RFC 1982 style comparison). */
const SEQ_HALF = 0x8000_0000;
/** Gaps remembered per direction (older ones are forgotten). */
const MAX_HOLES = 64;
/** Broadcast MAC address. */
const BROADCAST_MAC = 0xffff_ffff_ffff;

/**
 * Why a capture cannot be traced.
 *
 * @example
 * ```ts
 * import { TraceError } from "./connections.ts";
 * console.assert(new TraceError("link type 113").name === "TraceError");
 * ```
 */
export class TraceError extends Error {
  /**
   * Creates the error.
   *
   * @param message what is wrong with the input
   */
  constructor(message: string) {
    super(message);
    this.name = "TraceError";
  }
}

/** What a frame carries. */
export type FrameKind =
  | "arp"
  | "icmp"
  | "icmpv6"
  | "tcp"
  | "udp"
  | "ipv4"
  | "ipv6"
  | "other"
  | "malformed";

/** TCP header fields of a decoded segment (absolute numbers, as on the wire). */
export interface TcpFields {
  /** Source port. */
  srcPort: number;
  /** Destination port. */
  dstPort: number;
  /** Sequence number (unsigned 32-bit). */
  seq: number;
  /** Acknowledgement number (unsigned 32-bit). */
  ack: number;
  /** TCP_* flag bits. */
  flags: number;
  /** Raw 16-bit window field. */
  window: number;
  /** Payload bytes (from the IPv4 total length, so right even when the capture was cut). */
  payloadLength: number;
  /** MSS option, 0 when absent. */
  mss: number;
  /** Window scale option, -1 when absent. */
  windowScale: number;
  /** SACK-permitted option present. */
  sackPermitted: boolean;
  /** Timestamps option present. */
  hasTimestamp: boolean;
  /** TSval (unsigned 32-bit). */
  tsVal: number;
  /** TSecr (unsigned 32-bit). */
  tsEcr: number;
  /** SACK blocks, flat `[left0, right0, ...]` (absolute, unsigned 32-bit). */
  sack: number[];
}

/** One captured frame, decoded for display. */
export interface DecodedFrame {
  /** 1-based frame number in the capture. */
  index: number;
  /** Capture time, ms since the Unix epoch. */
  timeMs: number;
  /** Frame length on the wire. */
  length: number;
  /** What it carries. */
  kind: FrameKind;
  /** Ethernet source MAC (48-bit number), 0 when unknown. */
  srcMac: number;
  /** Ethernet destination MAC. */
  dstMac: number;
  /** IPv4 source (ARP: sender address) as a signed 32-bit integer (see `formatIpv4`), 0 when none. */
  src: number;
  /** IPv4 destination (ARP: target address), int32, 0 when none. */
  dst: number;
  /**
   * The IP header's ECN field (RFC 3168 §5): 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE (IPv4 TOS
   * or IPv6 traffic class, low two bits); 0 for a frame without IP.
   */
  ecn: number;
  /** Protocol-level one-line description without addresses, e.g. `"ARP who-has 192.0.2.1"`. */
  summary: string;
  /** TCP fields when `kind === "tcp"`. */
  tcp: TcpFields | null;
  /** UDP ports when `kind === "udp"`. */
  udp: { srcPort: number; dstPort: number; payloadLength: number } | null;
  /**
   * IPv6 source as text (RFC 5952) for a frame carried over IPv6; `src` then
   * holds an int32 hash of the address (for matching), not an IPv4 address.
   */
  src6?: string;
  /** IPv6 destination as text (see {@link src6}). */
  dst6?: string;
}

/** One side of a connection. */
export interface TraceEndpoint {
  /** IPv4 address (int32, as the decoded frames carry it; format with `formatIpv4`). */
  address: number;
  /** The IPv6 address as text over IPv6 (`address` is then the frames' hash of it). */
  address6?: string;
  /** Port. */
  port: number;
}

/** A TCP segment of a connection, with relative numbers and analysis marks. */
export interface TraceSegment {
  /** 1-based frame number in the capture. */
  frame: number;
  /** Capture time, ms since the Unix epoch. */
  timeMs: number;
  /** Sent by the client (the side that sent the first SYN). */
  fromClient: boolean;
  /** TCP_* flag bits. */
  flags: number;
  /** Sequence number relative to the sender's initial sequence number. */
  seq: number;
  /** Acknowledgement number relative to the receiver's initial sequence number (0 without ACK). */
  ack: number;
  /** Payload bytes. */
  len: number;
  /** Advertised window in bytes, scaled as negotiated (RFC 7323 §2.3). */
  window: number;
  /** Raw 16-bit window field. */
  rawWindow: number;
  /** Options as text, e.g. `"mss 1460,sackOK,TS,ws 7"`; "" when none worth showing. */
  options: string;
  /** SACK blocks relative to the receiver's ISN, flat `[left, right, ...]`. */
  sack: number[];
  /** Carries sequence space the sender had already sent (RFC 9293 §3.8.1 retransmission). */
  retransmission: boolean;
  /** A retransmission of data the receiver had already acknowledged (no loss happened). */
  spurious: boolean;
  /** Sent and later retransmitted before being acknowledged: presumed lost. */
  lost: boolean;
  /** Bytes of sequence space skipped before this segment (sent but missing from the capture). */
  gapBefore: number;
  /** Fills sequence space that an earlier gap left open (a retransmission or a reordered segment). */
  fillsGap: boolean;
  /** 1, 2, 3... for the n-th duplicate ACK in a row (RFC 5681 §2), 0 otherwise. */
  dupAck: number;
  /** The IP header's ECN field as captured (RFC 3168 §5: 3 is CE). */
  ecn: number;
}

/** One TCP connection found in a capture. */
export interface TcpConnectionTrace {
  /** 1-based number in order of appearance (SYN order). */
  id: number;
  /** The side that sent the SYN (or, without one, the side with the higher port). */
  client: TraceEndpoint;
  /** The other side. */
  server: TraceEndpoint;
  /** Whether the client's SYN is in the capture. */
  sawSyn: boolean;
  /** Capture time of the first segment, ms since the Unix epoch. */
  startMs: number;
  /** Segments in capture order. */
  segments: TraceSegment[];
  /** Payload bytes sent by the client (counting each byte once). */
  clientBytes: number;
  /** Payload bytes sent by the server. */
  serverBytes: number;
  /** Whether both FINs or an RST were seen. */
  closed: boolean;
}

/** The result of {@link analyzeCapture}. */
export interface CaptureAnalysis {
  /** Every frame, in capture order. */
  frames: DecodedFrame[];
  /** TCP connections, in SYN order. */
  connections: TcpConnectionTrace[];
  /** Frame number → the connection and segment index it belongs to. */
  segmentOfFrame: Map<number, { connection: number; segment: number }>;
}

/** A captured frame as the pcap reader and the live recorder give it. */
export interface CapturedFrame {
  /** Capture time, ms since the Unix epoch. */
  timestampMs: number;
  /** The captured bytes. */
  data: Uint8Array;
  /** Length on the wire (defaults to `data.length`). */
  originalLength?: number;
}

const SHARED_ETH = new EthernetFrame(new Uint8Array(0));
const SHARED_IP = new Ipv4Packet(new Uint8Array(0));
const SHARED_TCP = new TcpPacket(new Uint8Array(0));
const SHARED_ARP = new ArpPacket(new Uint8Array(0));
const SHARED_REPR = newTcpRepr();

/**
 * Formats a MAC address as `aa:bb:cc:dd:ee:ff`.
 *
 * @param mac 48-bit number
 * @returns the text form
 *
 * @example
 * ```ts
 * import { formatMac } from "./connections.ts";
 * console.assert(formatMac(0x020000000001) === "02:00:00:00:00:01");
 * ```
 */
export function formatMac(mac: number): string {
  const parts: string[] = [];
  for (let shift = 40; shift >= 0; shift -= 8) {
    parts.push((Math.floor(mac / 2 ** shift) & 0xff).toString(16).padStart(2, "0"));
  }
  return parts.join(":");
}

/**
 * Flag bits as text, textbook style: `"SYN"`, `"SYN,ACK"`, `"PSH,ACK"`, `"FIN,ACK"`.
 *
 * @param flags TCP_* bits
 * @returns names joined by commas, `"none"` for no flag
 *
 * @example
 * ```ts
 * import { formatTcpFlags } from "./connections.ts";
 * console.assert(formatTcpFlags(0x12) === "SYN,ACK");
 * ```
 */
export function formatTcpFlags(flags: number): string {
  const names: string[] = [];
  if (flags & TCP_SYN) names.push("SYN");
  if (flags & TCP_FIN) names.push("FIN");
  if (flags & TCP_RST) names.push("RST");
  if (flags & TCP_PSH) names.push("PSH");
  if (flags & TCP_URG) names.push("URG");
  if (flags & TCP_ECE) names.push("ECE");
  if (flags & TCP_CWR) names.push("CWR");
  if (flags & TCP_ACK) names.push("ACK");
  return names.length === 0 ? "none" : names.join(",");
}

function malformed(base: DecodedFrame, why: string): DecodedFrame {
  base.kind = "malformed";
  base.summary = `malformed: ${why}`;
  return base;
}

/**
 * Decodes one captured Ethernet frame for display. Never throws: frames it
 * cannot read come back with `kind` `"malformed"` or `"other"`.
 *
 * @param data the captured bytes (may be shorter than the frame on the wire)
 * @param timestampMs capture time, ms since the Unix epoch
 * @param index 1-based frame number
 * @param originalLength length on the wire (default `data.length`)
 * @returns the decoded frame
 *
 * @example
 * ```ts
 * import { decodeFrame } from "./connections.ts";
 * const f = decodeFrame(new Uint8Array(10), 0, 1);
 * console.assert(f.kind === "malformed");
 * ```
 */
export function decodeFrame(
  data: Uint8Array,
  timestampMs: number,
  index: number,
  originalLength: number = data.length,
): DecodedFrame {
  const base: DecodedFrame = {
    index,
    timeMs: timestampMs,
    length: originalLength,
    kind: "other",
    srcMac: 0,
    dstMac: 0,
    src: 0,
    dst: 0,
    ecn: 0,
    summary: "",
    tcp: null,
    udp: null,
  };
  const eth = SHARED_ETH.reset(data, 0, data.length);
  const ethError = eth.check();
  if (ethError !== null) return malformed(base, `Ethernet: ${ethError.message}`);
  base.srcMac = eth.source;
  base.dstMac = eth.destination;
  const type = eth.etherType;
  const off = eth.payloadOffset;
  const avail = data.length - off;
  if (type === ETHERTYPE_ARP) return decodeArp(base, data, off, avail);
  if (type === ETHERTYPE_IPV6) return decodeIpv6(base, data, off, avail);
  if (type !== ETHERTYPE_IPV4) {
    base.summary = `ethertype 0x${type.toString(16).padStart(4, "0")}`;
    return base;
  }
  const ip = SHARED_IP.reset(data, off, avail);
  const ipError = ip.checkHeader();
  if (ipError !== null) return malformed(base, `IPv4: ${ipError.message}`);
  base.kind = "ipv4";
  base.src = ip.source;
  base.dst = ip.destination;
  base.ecn = ip.ecn;
  const hl = ip.headerLength;
  const total = ip.totalLength;
  if (total < hl) return malformed(base, `IPv4 total length ${total} < header length ${hl}`);
  const payloadLength = total - hl; // from the header: right even when the capture was cut
  const payloadOffset = off + hl;
  const capturedPayload = Math.max(0, Math.min(payloadLength, data.length - payloadOffset));
  if (ip.moreFragments || ip.fragmentOffset !== 0) {
    base.summary = `IPv4 fragment proto ${ip.protocol} offset ${ip.fragmentOffset} ` +
      `len ${payloadLength}${ip.moreFragments ? " +MF" : ""}`;
    return base;
  }
  switch (ip.protocol) {
    case IP_PROTO_TCP:
      return decodeTcp(base, data, payloadOffset, capturedPayload, payloadLength);
    case IP_PROTO_UDP:
      return decodeUdp(base, data, payloadOffset, capturedPayload, payloadLength);
    case IP_PROTO_ICMP:
      return decodeIcmp(base, data, payloadOffset, capturedPayload, payloadLength);
    default:
      base.summary = `IPv4 proto ${ip.protocol} len ${payloadLength}`;
      return base;
  }
}

/** The two ECN bits of the IP header (RFC 3168 §5). */
const ECN_FIELD_MASK = 0b11;
/** Their shift within the second byte of an IPv6 header (RFC 8200 §3 traffic class). */
const IPV6_ECN_SHIFT = 4;

/** At most this many extension headers are walked for display. */
const MAX_EXTENSION_HEADERS = 8;

/** RFC 8200 §3 header, §4 extension headers (walked for display), then TCP/UDP/ICMPv6. */
function decodeIpv6(base: DecodedFrame, data: Uint8Array, off: number, avail: number) {
  if (avail < IPV6_HEADER_LEN) return malformed(base, `IPv6: ${avail} bytes < header`);
  if ((data[off] >>> 4) !== IPV6_VERSION) {
    return malformed(base, `IPv6: version ${data[off] >>> 4}`);
  }
  base.kind = "ipv6";
  // RFC 8200 §3: the traffic class's two low bits (RFC 3168 §5) are bits 5..4 of byte 1.
  base.ecn = (data[off + 1] >>> IPV6_ECN_SHIFT) & ECN_FIELD_MASK;
  base.src = ipv6HashAt(data, off + IPV6_SRC_OFFSET);
  base.dst = ipv6HashAt(data, off + IPV6_DST_OFFSET);
  base.src6 = Ipv6Address.fromBytes(data, off + IPV6_SRC_OFFSET).toString();
  base.dst6 = Ipv6Address.fromBytes(data, off + IPV6_DST_OFFSET).toString();
  const payloadLength = (data[off + 4] << 8) | data[off + 5];
  let next = data[off + IPV6_NEXT_HEADER_OFFSET];
  let at = off + IPV6_HEADER_LEN;
  const end = off + IPV6_HEADER_LEN + payloadLength; // from the header: right when cut
  for (let n = 0; n < MAX_EXTENSION_HEADERS; n++) {
    if (next === IP_PROTO_FRAGMENT) {
      if (at + 8 > data.length) return malformed(base, "IPv6: fragment header cut");
      const fragOffset = ((data[at + 2] << 8) | data[at + 3]) >>> 3;
      const more = (data[at + 3] & 1) !== 0;
      if (fragOffset !== 0 || more) {
        base.summary = `IPv6 fragment proto ${data[at]} offset ${fragOffset * 8} ` +
          `len ${end - at - 8}${more ? " +M" : ""}`;
        return base;
      }
      next = data[at];
      at += 8;
    } else if (
      next === IP_PROTO_HOPOPTS || next === IP_PROTO_ROUTING || next === IP_PROTO_DSTOPTS
    ) {
      if (at + 2 > data.length) return malformed(base, "IPv6: extension header cut");
      const len = (data[at + 1] + 1) * 8;
      next = data[at];
      at += len;
    } else {
      break;
    }
  }
  if (at > end) return malformed(base, "IPv6: extension headers beyond the payload length");
  const length = end - at;
  const captured = Math.max(0, Math.min(length, data.length - at));
  switch (next) {
    case IP_PROTO_TCP:
      return decodeTcp(base, data, at, captured, length);
    case IP_PROTO_UDP:
      return decodeUdp(base, data, at, captured, length);
    case IP_PROTO_ICMPV6:
      return decodeIcmpv6(base, data, at, captured, length);
    case IP_PROTO_NONE:
      base.summary = "IPv6 no next header";
      return base;
    default:
      base.summary = `IPv6 next header ${next} len ${length}`;
      return base;
  }
}

/** ICMPv6 message names (RFC 4443 §2.1, RFC 4861 §4, RFC 3810 §5). */
const ICMPV6_NAMES: Readonly<Record<number, string>> = {
  1: "destination unreachable",
  2: "packet too big",
  3: "time exceeded",
  4: "parameter problem",
  128: "echo request",
  129: "echo reply",
  133: "router solicitation",
  134: "router advertisement",
  135: "neighbor solicitation",
  136: "neighbor advertisement",
  137: "redirect",
  143: "MLDv2 report",
};

function decodeIcmpv6(
  base: DecodedFrame,
  data: Uint8Array,
  off: number,
  captured: number,
  length: number,
): DecodedFrame {
  if (captured < 4 || length < 4) return malformed(base, `ICMPv6: ${length} bytes < header`);
  base.kind = "icmpv6";
  const type = data[off];
  const code = data[off + 1];
  const name = ICMPV6_NAMES[type] ?? `type ${type}`;
  if ((type === 128 || type === 129) && captured >= 8) {
    const id = (data[off + 4] << 8) | data[off + 5];
    const seq = (data[off + 6] << 8) | data[off + 7];
    base.summary = `ICMPv6 ${name} id=${id} seq=${seq} len=${length - 8}`;
  } else if ((type === 135 || type === 136) && captured >= 24) {
    base.summary = `ICMPv6 ${name} ${Ipv6Address.fromBytes(data, off + 8)}`;
  } else if (type === 2 && captured >= 8) {
    const mtu = ((data[off + 4] << 24) | (data[off + 5] << 16) | (data[off + 6] << 8) |
      data[off + 7]) >>> 0;
    base.summary = `ICMPv6 ${name} mtu ${mtu}`;
  } else {
    base.summary = `ICMPv6 ${name}${code !== 0 ? ` code ${code}` : ""}`;
  }
  return base;
}

function decodeArp(base: DecodedFrame, data: Uint8Array, off: number, avail: number) {
  const arp = SHARED_ARP.reset(data, off, avail);
  const err = arp.check();
  if (err !== null) return malformed(base, `ARP: ${err.message}`);
  base.kind = "arp";
  base.src = arp.senderIp;
  base.dst = arp.targetIp;
  const op = arp.operation;
  // RFC 826: a request asks for the target's hardware address; the reply carries it.
  if (op === ARP_REQUEST) {
    base.summary = arp.senderIp === arp.targetIp
      ? `ARP announce ${formatIpv4(arp.senderIp)}`
      : `ARP who-has ${formatIpv4(arp.targetIp)} tell ${formatIpv4(arp.senderIp)}`;
  } else if (op === ARP_REPLY) {
    base.summary = `ARP ${formatIpv4(arp.senderIp)} is-at ${formatMac(arp.senderMac)}`;
  } else {
    base.summary = `ARP operation ${op}`;
  }
  return base;
}

function decodeUdp(
  base: DecodedFrame,
  data: Uint8Array,
  off: number,
  captured: number,
  length: number,
): DecodedFrame {
  if (captured < UDP_HEADER_LEN || length < UDP_HEADER_LEN) {
    return malformed(base, `UDP: ${length} bytes < header`);
  }
  const srcPort = (data[off] << 8) | data[off + 1];
  const dstPort = (data[off + 2] << 8) | data[off + 3];
  const payloadLength = length - UDP_HEADER_LEN;
  base.kind = "udp";
  base.udp = { srcPort, dstPort, payloadLength };
  const dns = srcPort === DNS_PORT || dstPort === DNS_PORT ? " DNS" : "";
  base.summary = `UDP${dns} ${srcPort} → ${dstPort} len=${payloadLength}`;
  return base;
}

function decodeIcmp(
  base: DecodedFrame,
  data: Uint8Array,
  off: number,
  captured: number,
  length: number,
): DecodedFrame {
  if (captured < ICMP_HEADER_LEN || length < ICMP_HEADER_LEN) {
    return malformed(base, `ICMP: ${length} bytes < header`);
  }
  base.kind = "icmp";
  const type = data[off];
  const code = data[off + 1];
  const id = (data[off + 4] << 8) | data[off + 5];
  const seq = (data[off + 6] << 8) | data[off + 7];
  const dataLen = length - ICMP_HEADER_LEN;
  // RFC 792: echo carries identifier and sequence number; errors quote the datagram.
  if (type === ICMP_ECHO_REQUEST) {
    base.summary = `ICMP echo request id=${id} seq=${seq} len=${dataLen}`;
  } else if (type === ICMP_ECHO_REPLY) {
    base.summary = `ICMP echo reply id=${id} seq=${seq} len=${dataLen}`;
  } else if (type === ICMP_DEST_UNREACHABLE) {
    base.summary = `ICMP destination unreachable code ${code}`;
  } else if (type === ICMP_TIME_EXCEEDED) base.summary = `ICMP time exceeded code ${code}`;
  else base.summary = `ICMP type ${type} code ${code}`;
  return base;
}

function decodeTcp(
  base: DecodedFrame,
  data: Uint8Array,
  off: number,
  captured: number,
  length: number,
): DecodedFrame {
  if (captured < TCP_HEADER_LEN || length < TCP_HEADER_LEN) {
    return malformed(base, `TCP: ${Math.min(captured, length)} bytes < 20-byte header`);
  }
  const dataOffsetBytes = (data[off + 12] >> 4) * 4;
  if (dataOffsetBytes < TCP_HEADER_LEN || dataOffsetBytes > length) {
    return malformed(base, `TCP: data offset ${dataOffsetBytes} bytes`);
  }
  if (dataOffsetBytes > captured) {
    return malformed(base, "TCP: options cut by the capture's snaplen");
  }
  // Parse the header alone: payload length comes from the IPv4 header (the capture may be cut).
  const packet = SHARED_TCP.reset(data, off, dataOffsetBytes);
  const r = TcpRepr.parse(packet, base.src, base.dst, SHARED_REPR, { verifyChecksum: false });
  if (isWireError(r)) return malformed(base, `TCP: ${r.message}`);
  base.kind = "tcp";
  // The parser yields the engine's signed 32-bit form; people read these numbers unsigned
  // (tcpdump, Wireshark), and -1 stays free as "none" for the trackers below.
  const sack: number[] = [];
  for (let i = 0; i < r.sackCount; i++) {
    sack.push(r.sackBlocks[2 * i] >>> 0, r.sackBlocks[2 * i + 1] >>> 0);
  }
  const fields: TcpFields = {
    srcPort: r.srcPort,
    dstPort: r.dstPort,
    seq: r.seq >>> 0,
    ack: r.ack >>> 0,
    flags: r.flags,
    window: r.window,
    payloadLength: length - dataOffsetBytes,
    mss: r.mss,
    windowScale: r.windowScale,
    sackPermitted: r.sackPermitted,
    hasTimestamp: r.hasTimestamp,
    tsVal: r.tsVal >>> 0,
    tsEcr: r.tsEcr >>> 0,
    sack,
  };
  base.tcp = fields;
  base.summary = `TCP ${fields.srcPort} → ${fields.dstPort} ${formatTcpFlags(fields.flags)} ` +
    `seq=${fields.seq}${fields.flags & TCP_ACK ? ` ack=${fields.ack}` : ""} ` +
    `win=${fields.window} len=${fields.payloadLength}`;
  return base;
}

/**
 * One line per frame, tcpdump style: time, addresses, what it is.
 *
 * @param frame a decoded frame
 * @param originMs time origin (ms since the Unix epoch) for the relative time column
 * @returns the line
 *
 * @example
 * ```ts
 * import { decodeFrame, describeFrame } from "./connections.ts";
 * const line = describeFrame(decodeFrame(new Uint8Array(10), 5, 1), 0);
 * console.assert(line.includes("5.000ms") && line.includes("malformed"));
 * ```
 */
export function describeFrame(frame: DecodedFrame, originMs: number): string {
  const t = `${(frame.timeMs - originMs).toFixed(3)}ms`.padStart(12);
  let who: string;
  if (frame.src6 !== undefined && frame.kind !== "other" && frame.kind !== "malformed") {
    // IPv6: `[addr]:port` as in URLs (RFC 3986 §3.2.2), bare addresses otherwise.
    const ports = frame.tcp ?? frame.udp;
    who = ports !== null
      ? `[${frame.src6}]:${ports.srcPort} > [${frame.dst6}]:${ports.dstPort}`
      : `${frame.src6} > ${frame.dst6}`;
  } else if (frame.kind === "tcp" && frame.tcp !== null) {
    who = `${formatIpv4(frame.src)}:${frame.tcp.srcPort} > ${
      formatIpv4(frame.dst)
    }:${frame.tcp.dstPort}`;
  } else if (frame.kind === "udp" && frame.udp !== null) {
    who = `${formatIpv4(frame.src)}:${frame.udp.srcPort} > ${
      formatIpv4(frame.dst)
    }:${frame.udp.dstPort}`;
  } else if (frame.kind === "arp" || frame.kind === "other" || frame.kind === "malformed") {
    who = `${formatMac(frame.srcMac)} > ${
      frame.dstMac === BROADCAST_MAC ? "broadcast" : formatMac(frame.dstMac)
    }`;
  } else {
    who = `${formatIpv4(frame.src)} > ${formatIpv4(frame.dst)}`;
  }
  return `${t}  ${who}  ${frame.summary}`;
}

// ---------------------------------------------------------------------------
// Connection tracking

/** Per-direction analysis state. */
interface Direction {
  base: number; // ISN (or first seen sequence number) — relative 0
  baseKnown: boolean;
  windowScale: number; // the shift this side announced in its SYN, -1 = none
  maxEnd: number; // highest relative sequence end sent so far (SYN and FIN count)
  sentAny: boolean;
  holes: Array<[number, number]>;
  highestAck: number; // highest relative ack this side sent (in the peer's space)
  ackedAny: boolean;
  lastAck: number;
  lastWindow: number;
  dupAcks: number;
  finSeen: boolean;
  bytes: number;
  /** Which segment last carried each sent range, for the "lost" and "fills gap" marks. */
  sent: SentRanges;
}

function newDirection(): Direction {
  return {
    base: 0,
    baseKnown: false,
    windowScale: -1,
    maxEnd: 0,
    sentAny: false,
    holes: [],
    highestAck: 0,
    ackedAny: false,
    lastAck: 0,
    lastWindow: -1,
    dupAcks: 0,
    finSeen: false,
    bytes: 0,
    sent: new SentRanges(),
  };
}

interface Tracker {
  trace: TcpConnectionTrace;
  client: Direction;
  server: Direction;
  scaling: boolean;
  clientIsn: number;
}

/** Relative sequence number: forward distance from `base` modulo 2^32 (RFC 9293 §3.4). */
function rel(seq: number, base: number): number {
  return ((seq - base) % SEQ_SPACE + SEQ_SPACE) % SEQ_SPACE;
}

function optionsText(t: TcpFields): string {
  const parts: string[] = [];
  if (t.mss !== 0) parts.push(`mss ${t.mss}`);
  if (t.sackPermitted) parts.push("sackOK");
  if (t.hasTimestamp && (t.flags & TCP_SYN) !== 0) parts.push("TS");
  if (t.windowScale >= 0) parts.push(`ws ${t.windowScale}`);
  return parts.join(",");
}

function endpointKey(a: number, ap: number, b: number, bp: number): string {
  const x = `${a}:${ap}`;
  const y = `${b}:${bp}`;
  return x < y ? `${x}-${y}` : `${y}-${x}`;
}

/**
 * Decodes every frame and follows every TCP connection (4-tuple, in SYN
 * order; a new SYN on a closed 4-tuple starts a new connection).
 *
 * Marks (RFC 9293 §3.8.1 retransmission, RFC 5681 §2 duplicate ACKs):
 * - `retransmission`: the segment carries sequence space its sender already sent;
 *   `spurious` when the peer had already acknowledged it;
 * - `lost`: an earlier transmission of that range, not acknowledged before the retransmission;
 * - `gapBefore`: sequence space skipped (sent, but not seen at the capture point);
 *   `fillsGap`: a later segment that fills such a gap.
 *
 * @param frames captured frames in capture order
 * @returns frames, connections and the frame → segment map
 *
 * @example
 * ```ts
 * import { analyzeCapture } from "./connections.ts";
 * const a = analyzeCapture([{ timestampMs: 0, data: new Uint8Array(60) }]);
 * console.assert(a.frames.length === 1 && a.connections.length === 0);
 * ```
 */
export function analyzeCapture(frames: Iterable<CapturedFrame>): CaptureAnalysis {
  const decoded: DecodedFrame[] = [];
  const connections: TcpConnectionTrace[] = [];
  const segmentOfFrame = new Map<number, { connection: number; segment: number }>();
  const open = new Map<string, Tracker>();
  let index = 0;
  for (const f of frames) {
    index++;
    const frame = decodeFrame(f.data, f.timestampMs, index, f.originalLength ?? f.data.length);
    decoded.push(frame);
    if (frame.kind !== "tcp" || frame.tcp === null) continue;
    const t = frame.tcp;
    const key = endpointKey(frame.src, t.srcPort, frame.dst, t.dstPort);
    let tracker = open.get(key);
    const isSyn = (t.flags & TCP_SYN) !== 0 && (t.flags & TCP_ACK) === 0;
    if (
      tracker !== undefined && isSyn && t.seq !== tracker.clientIsn &&
      (tracker.trace.closed || !tracker.trace.sawSyn)
    ) {
      tracker = undefined; // a new incarnation of the 4-tuple (RFC 9293 §3.4: new ISN)
    }
    if (tracker === undefined) {
      tracker = startConnection(frame, t, connections.length + 1);
      connections.push(tracker.trace);
      open.set(key, tracker);
    }
    const segment = addSegment(tracker, frame, t);
    segmentOfFrame.set(frame.index, { connection: tracker.trace.id, segment });
  }
  return { frames: decoded, connections, segmentOfFrame };
}

function startConnection(frame: DecodedFrame, t: TcpFields, id: number): Tracker {
  const syn = (t.flags & TCP_SYN) !== 0;
  const ack = (t.flags & TCP_ACK) !== 0;
  let senderIsClient: boolean;
  if (syn && !ack) senderIsClient = true;
  else if (syn && ack) senderIsClient = false;
  else senderIsClient = t.srcPort > t.dstPort; // mid-stream: the ephemeral port is the client's
  const sender: TraceEndpoint = { address: frame.src, port: t.srcPort };
  const receiver: TraceEndpoint = { address: frame.dst, port: t.dstPort };
  if (frame.src6 !== undefined) {
    sender.address6 = frame.src6;
    receiver.address6 = frame.dst6;
  }
  return {
    trace: {
      id,
      client: senderIsClient ? sender : receiver,
      server: senderIsClient ? receiver : sender,
      sawSyn: syn && !ack,
      startMs: frame.timeMs,
      segments: [],
      clientBytes: 0,
      serverBytes: 0,
      closed: false,
    },
    client: newDirection(),
    server: newDirection(),
    scaling: false,
    clientIsn: syn && !ack ? t.seq : -1,
  };
}

function addSegment(tr: Tracker, frame: DecodedFrame, t: TcpFields): number {
  const trace = tr.trace;
  const fromClient = frame.src === trace.client.address && t.srcPort === trace.client.port;
  const me = fromClient ? tr.client : tr.server;
  const peer = fromClient ? tr.server : tr.client;
  const syn = (t.flags & TCP_SYN) !== 0;
  const fin = (t.flags & TCP_FIN) !== 0;
  const rst = (t.flags & TCP_RST) !== 0;
  const hasAck = (t.flags & TCP_ACK) !== 0;

  if (syn) {
    // RFC 9293 §3.4: the SYN carries the ISN; relative numbers count from it.
    me.base = t.seq;
    me.baseKnown = true;
    me.windowScale = t.windowScale;
    if (fromClient) tr.clientIsn = t.seq;
    // RFC 7323 §2.2: scaling is on only when both SYNs carried the option.
    tr.scaling = tr.client.windowScale >= 0 && tr.server.windowScale >= 0;
  } else if (!me.baseKnown) {
    me.base = t.seq;
    me.baseKnown = true;
  }
  if (hasAck && !peer.baseKnown) {
    // Mid-stream capture: the first ACK names the peer's next byte.
    peer.base = t.ack;
    peer.baseKnown = true;
  }
  const seq = rel(t.seq, me.base);
  const ack = hasAck ? rel(t.ack, peer.base) : 0;
  const seqLen = t.payloadLength + (syn ? 1 : 0) + (fin ? 1 : 0);
  const end = seq + seqLen;
  // RFC 7323 §2.3: the window in a SYN is never scaled.
  const window = !syn && tr.scaling && me.windowScale > 0
    ? t.window * 2 ** me.windowScale
    : t.window;
  const sack: number[] = [];
  for (let i = 0; i < t.sack.length; i++) sack.push(rel(t.sack[i], peer.base));

  const segment: TraceSegment = {
    frame: frame.index,
    timeMs: frame.timeMs,
    fromClient,
    flags: t.flags,
    seq,
    ack,
    len: t.payloadLength,
    window,
    rawWindow: t.window,
    options: optionsText(t),
    sack,
    retransmission: false,
    spurious: false,
    lost: false,
    gapBefore: 0,
    fillsGap: false,
    dupAck: 0,
    ecn: frame.ecn,
  };
  const segIndex = trace.segments.length;

  if (seqLen > 0 && !rst) {
    // The latest earlier segment that carried any of [seq, end), -1 if none; now this one.
    const previous = me.sent.paint(seq, end, segIndex);
    if (me.sentAny && seqLess(seq, me.maxEnd)) {
      // Starts in sequence space already sent.
      const inHole = me.holes.findIndex(([s, e]) => !seqLess(seq, s) && !seqLess(e, end));
      if (inHole >= 0 && previous < 0) {
        segment.fillsGap = true;
        me.bytes += t.payloadLength; // first time these bytes are seen
        closeHole(me, seq, end);
      } else {
        segment.retransmission = true;
        // RFC 9293 §3.8.1: data already acknowledged by the peer was resent needlessly.
        if (peer.ackedAny && !seqLess(peer.highestAck, end)) segment.spurious = true;
        // The latest earlier transmission overlapping the resent range is presumed lost.
        else if (previous >= 0) trace.segments[previous].lost = true;
        closeHole(me, seq, end);
      }
    } else if (me.sentAny && seqLess(me.maxEnd, seq)) {
      segment.gapBefore = seq - me.maxEnd;
      if (me.holes.length >= MAX_HOLES) me.holes.shift();
      me.holes.push([me.maxEnd, seq]);
    }
    if (!me.sentAny || seqLess(me.maxEnd, end)) {
      const fresh = me.sentAny ? Math.max(0, end - Math.max(seq, me.maxEnd)) : seqLen;
      me.bytes += Math.max(0, fresh - (syn ? 1 : 0) - (fin ? 1 : 0));
      me.maxEnd = end;
    }
    me.sentAny = true;
  } else if (!me.sentAny && !rst) {
    me.maxEnd = seq;
    me.sentAny = true;
  }

  if (hasAck && !rst) {
    // RFC 5681 §2: a duplicate ACK carries no data, no SYN/FIN, the same ack and
    // window, while the peer has data outstanding.
    const outstanding = peer.sentAny && seqLess(ack, peer.maxEnd);
    if (
      seqLen === 0 && me.ackedAny && ack === me.lastAck && t.window === me.lastWindow &&
      outstanding
    ) {
      me.dupAcks++;
      segment.dupAck = me.dupAcks;
    } else {
      me.dupAcks = 0;
    }
    if (!me.ackedAny || seqLess(me.highestAck, ack)) me.highestAck = ack;
    me.ackedAny = true;
    me.lastAck = ack;
    me.lastWindow = t.window;
  }
  if (fin) me.finSeen = true;
  if (rst || (tr.client.finSeen && tr.server.finSeen)) trace.closed = true;
  trace.clientBytes = tr.client.bytes;
  trace.serverBytes = tr.server.bytes;
  trace.segments.push(segment);
  return segIndex;
}

/** a < b in relative sequence space (relative numbers stay below 2^32). */
function seqLess(a: number, b: number): boolean {
  const d = (b - a + SEQ_SPACE) % SEQ_SPACE;
  return d !== 0 && d < SEQ_HALF;
}

function closeHole(me: Direction, start: number, end: number): void {
  const next: Array<[number, number]> = [];
  for (const [s, e] of me.holes) {
    if (!seqLess(start, e) || !seqLess(s, end)) {
      next.push([s, e]);
      continue;
    }
    if (seqLess(s, start)) next.push([s, start]);
    if (seqLess(end, e)) next.push([end, e]);
  }
  me.holes = next;
}

/**
 * Analyzes a pcap file held in memory (LINKTYPE_ETHERNET only).
 *
 * @param bytes the whole file
 * @returns the analysis
 * @throws {TraceError} for another link type
 * @throws {import("../wire/pcap.ts").PcapError} for a malformed file
 *
 * @example
 * ```ts
 * import { analyzePcap } from "./connections.ts";
 * import { PcapWriter } from "../wire/pcap.ts";
 * const w = new PcapWriter();
 * w.writeFrame(new Uint8Array(60), 0, 60, 0);
 * console.assert(analyzePcap(w.toBytes()).frames.length === 1);
 * ```
 */
export function analyzePcap(bytes: Uint8Array): CaptureAnalysis {
  const reader = new PcapReader(bytes);
  if (reader.linkType !== LINKTYPE_ETHERNET) {
    throw new TraceError(
      `link type ${reader.linkType} is not supported (only Ethernet, LINKTYPE_ETHERNET = 1; ` +
        "capture with `tcpdump -i <ethernet interface>`, not `-i any`)",
    );
  }
  return analyzeCapture(reader);
}

/**
 * A short name for an endpoint: `192.0.2.2:41000`.
 *
 * @param e the endpoint
 * @returns address and port
 *
 * @example
 * ```ts
 * import { formatEndpoint } from "./connections.ts";
 * console.assert(formatEndpoint({ address: 0xc0000202, port: 80 }) === "192.0.2.2:80");
 * ```
 */
export function formatEndpoint(e: TraceEndpoint): string {
  if (e.address6 !== undefined) return `[${e.address6}]:${e.port}`;
  return `${formatIpv4(e.address)}:${e.port}`;
}
