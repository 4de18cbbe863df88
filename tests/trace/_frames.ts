/**
 * Builds synthetic Ethernet/IPv4/TCP frames (real checksums) for trace tests,
 * and a tiny capture list from them.
 */
import { EthernetRepr, ETHERTYPE_IPV4, newEthernetRepr } from "../../src/wire/ethernet.ts";
import { IP_PROTO_TCP, Ipv4Repr, newIpv4Repr } from "../../src/wire/ipv4.ts";
import { newTcpRepr, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, TcpRepr } from "../../src/wire/tcp.ts";
import type { CapturedFrame } from "../../src/trace/connections.ts";

export const CLIENT_IP = 0xc0000202 | 0; // 192.0.2.2 (int32, as readIpv4 gives it)
export const SERVER_IP = 0xc0000201 | 0; // 192.0.2.1
export const CLIENT_PORT = 40000;
export const SERVER_PORT = 80;
export const CLIENT_ISN = 1000;
export const SERVER_ISN = 0xfffffff0; // wraps: relative numbers must cross 2^32
export { TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN };

export interface SegmentSpec {
  t: number; // ms
  fromClient: boolean;
  flags: number;
  seq: number; // relative
  ack?: number; // relative
  len?: number;
  window?: number;
  mss?: number;
  windowScale?: number;
  /** SACK blocks, relative to the receiver's ISN, flat [left, right, ...]. */
  sack?: number[];
  /** The IPv4 TOS byte (its low two bits are the ECN field, RFC 3168 §5). */
  tos?: number;
}

/** One TCP frame between the client and the server. */
export function tcpFrame(s: SegmentSpec): CapturedFrame {
  const len = s.len ?? 0;
  const tcp = newTcpRepr();
  tcp.srcPort = s.fromClient ? CLIENT_PORT : SERVER_PORT;
  tcp.dstPort = s.fromClient ? SERVER_PORT : CLIENT_PORT;
  tcp.seq = ((s.fromClient ? CLIENT_ISN : SERVER_ISN) + s.seq) >>> 0;
  tcp.ack = s.ack === undefined ? 0 : ((s.fromClient ? SERVER_ISN : CLIENT_ISN) + s.ack) >>> 0;
  tcp.flags = s.flags;
  tcp.window = s.window ?? 1000;
  tcp.mss = s.mss ?? 0;
  tcp.windowScale = s.windowScale ?? -1;
  if (s.sack !== undefined) {
    const base = s.fromClient ? SERVER_ISN : CLIENT_ISN;
    tcp.sackCount = s.sack.length / 2;
    for (let i = 0; i < s.sack.length; i++) tcp.sackBlocks[i] = (base + s.sack[i]) | 0;
  }
  tcp.payload = new Uint8Array(len).fill(0x61);
  tcp.payloadOffset = 0;
  tcp.payloadLength = len;
  const tcpLen = TcpRepr.headerLength(tcp) + len;
  const bytes = new Uint8Array(14 + 20 + tcpLen);
  const eth = newEthernetRepr();
  eth.source = s.fromClient ? 0x020000000001 : 0x020000000002;
  eth.destination = s.fromClient ? 0x020000000002 : 0x020000000001;
  eth.etherType = ETHERTYPE_IPV4;
  EthernetRepr.emit(eth, bytes, 0);
  const src = s.fromClient ? CLIENT_IP : SERVER_IP;
  const dst = s.fromClient ? SERVER_IP : CLIENT_IP;
  Ipv4Repr.emit(
    {
      ...newIpv4Repr(),
      source: src,
      destination: dst,
      protocol: IP_PROTO_TCP,
      payloadLength: tcpLen,
      tos: s.tos ?? 0,
    },
    bytes,
    14,
  );
  TcpRepr.emit(tcp, bytes, 34, src, dst);
  return { timestampMs: 1_700_000_000_000 + s.t, data: bytes };
}

/** The three-way handshake at t = 0, 1, 2 ms with window scale 2 both ways. */
export function handshake(): CapturedFrame[] {
  return [
    tcpFrame({
      t: 0,
      fromClient: true,
      flags: TCP_SYN,
      seq: 0,
      mss: 1460,
      windowScale: 2,
      window: 65535,
    }),
    tcpFrame({
      t: 1,
      fromClient: false,
      flags: TCP_SYN | TCP_ACK,
      seq: 0,
      ack: 1,
      mss: 1460,
      windowScale: 2,
      window: 65535,
    }),
    tcpFrame({ t: 2, fromClient: true, flags: TCP_ACK, seq: 1, ack: 1 }),
  ];
}
