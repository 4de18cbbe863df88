/**
 * The IPv6 layer's transmit offloads (issue 18): whether a packet with an
 * offload request (partial checksum, TCP super-segment) can leave to the device
 * as it is ({@link offloadMac6}), and what the device would have done when it
 * cannot — the TCP super-segment cut into segments with complete checksums
 * ({@link segmentTcp6InSoftware}, as Linux's tcp_gso_segment), one segment at a
 * time by {@link writeTcp6Segment} (also Router6's cutting of GRO super-frames).
 *
 * @module
 */

import { completePartialChecksum, ipv6PseudoHeaderSum } from "../wire/checksum.ts";
import {
  TCP_CHECKSUM_OFFSET,
  TCP_CWR,
  TCP_DATA_OFFSET_BYTE,
  TCP_FIN,
  TCP_FLAGS_OFFSET,
  TCP_PSH,
  TCP_SEQ_OFFSET,
} from "../wire/tcp.ts";
import { IPV6_HEADER_LEN } from "../wire/ipv6.ts";
import type { Ipv6Address } from "../wire/ipv6_address.ts";
import { readI32, write32 } from "../wire/view.ts";
import { IP_PROTO_TCP } from "../wire/ipv4.ts";
import type { Ipv6Layer } from "./ipv6.ts";
import type { Ipv6SendOptions, PacketBufferLike } from "./types.ts";

/**
 * One segment of a TCP super-segment over IPv6, as Linux's tcp_gso_segment cuts it: writes
 * at `out[at]` the TCP header of the super-segment at `from[l4]` (`headerLength` bytes)
 * followed by its data bytes `[off, off + n)`, with the sequence number advanced by `off`,
 * FIN/PSH only on the last segment and CWR only on the first, and the checksum computed in
 * full over the RFC 8200 §8.1 pseudo-header of `src` → `dst`.
 *
 * @param out the segment's buffer
 * @param at where its TCP header goes
 * @param from the super-segment's bytes
 * @param l4 offset of its TCP header in `from`
 * @param headerLength its TCP header length
 * @param dataLength its data length
 * @param off this segment's data offset in it
 * @param n this segment's data length
 * @param seq the super-segment's sequence number
 * @param flags the super-segment's TCP flags
 * @param src IPv6 source
 * @param dst IPv6 destination
 */
export function writeTcp6Segment(
  out: Uint8Array,
  at: number,
  from: Uint8Array,
  l4: number,
  headerLength: number,
  dataLength: number,
  off: number,
  n: number,
  seq: number,
  flags: number,
  src: Ipv6Address,
  dst: Ipv6Address,
): void {
  out.set(from.subarray(l4, l4 + headerLength), at);
  const data = l4 + headerLength + off;
  out.set(from.subarray(data, data + n), at + headerLength);
  write32(out, at + TCP_SEQ_OFFSET, (seq + off) | 0);
  let f = flags;
  if (off + n < dataLength) f &= ~(TCP_FIN | TCP_PSH);
  if (off > 0) f &= ~TCP_CWR;
  out[at + TCP_FLAGS_OFFSET] = f;
  const ph = ipv6PseudoHeaderSum(src, dst, IP_PROTO_TCP, headerLength + n);
  out[at + TCP_CHECKSUM_OFFSET] = ph >>> 8;
  out[at + TCP_CHECKSUM_OFFSET + 1] = ph & 0xff;
  completePartialChecksum(out, at, headerLength + n, TCP_CHECKSUM_OFFSET);
}

/**
 * The MAC a packet with an offload request can leave to right now, or -1
 * (then the request is done in software): the link offloads, the
 * destination is a unicast address not ours, the packet (or, with GSO,
 * each segment: TCP sizes them by the path MTU) fits the path MTU and the
 * next hop is resolved — as the IPv4 path offloads only to a resolved
 * unicast neighbour.
 *
 * @param layer the sending interface's IPv6 layer
 * @param nowMs current time
 * @param pointToPoint the link has no link-layer addresses (every packet to MAC 0)
 * @param dst destination
 * @param payload the packet's payload bytes
 * @param gsoSize data bytes per segment of a super-segment (0: none)
 * @returns the MAC, or -1
 */
export function offloadMac6(
  layer: Ipv6Layer,
  nowMs: number,
  pointToPoint: boolean,
  dst: Ipv6Address,
  payload: number,
  gsoSize: number,
): number {
  const offloads = layer.txOffloads;
  // Behind a router the packet goes through its output hooks and next hop: done in software.
  if (!offloads.checksum || dst.isMulticast() || layer.router !== null) return -1;
  if (gsoSize > 0 && payload > offloads.gsoMaxBytes) return -1;
  if (layer.addresses.isUsable(dst)) return -1;
  if (gsoSize === 0 && IPV6_HEADER_LEN + payload > layer.pmtu.pathMtu(nowMs, dst)) return -1;
  if (pointToPoint) return 0;
  const hop = layer.ndp.nextHop(nowMs, dst);
  return hop === null ? -1 : layer.neighbours.lookup(nowMs, hop);
}

/**
 * What the device would do with a TCP super-segment, in software (as the
 * IPv4 path, and as Linux tcp_gso_segment): cuts the payload into segments
 * of `gsoSize` data bytes in pool buffers, each with the TCP header, its
 * sequence number, FIN/PSH only on the last and CWR only on the first, and
 * a complete checksum over the RFC 8200 §8.1 pseudo-header; sends each the
 * ordinary way (`layer.sendFrom`, behind neighbour resolution too). Releases `buf`.
 *
 * @param layer the sending IPv6 layer
 * @param src source
 * @param buf the super-segment (TCP header + data; ownership taken)
 * @param dst destination
 * @param protocol Next Header (TCP)
 * @param gsoSize data bytes per segment
 * @param segOpts the segments' send options (hop limit, traffic class, dontFragment set)
 * @returns false when a segment could not be made or sent
 */
export function segmentTcp6InSoftware(
  layer: Ipv6Layer,
  src: Ipv6Address,
  buf: PacketBufferLike,
  dst: Ipv6Address,
  protocol: number,
  gsoSize: number,
  segOpts: Ipv6SendOptions,
): boolean {
  const b = buf.bytes;
  const l4 = buf.head;
  const headerLength = (b[l4 + TCP_DATA_OFFSET_BYTE] >>> 4) << 2;
  const dataLength = buf.length - headerLength;
  const seq = readI32(b, l4 + TCP_SEQ_OFFSET);
  const flags = b[l4 + TCP_FLAGS_OFFSET];
  let ok = true;
  for (let off = 0; off < dataLength; off += gsoSize) {
    const n = Math.min(gsoSize, dataLength - off);
    const seg = layer.allocate();
    const at = seg === null ? -1 : seg.append(headerLength + n);
    if (seg === null || at < 0) {
      if (seg !== null) layer.release(seg);
      ok = false;
      break;
    }
    writeTcp6Segment(
      seg.bytes,
      at,
      b,
      l4,
      headerLength,
      dataLength,
      off,
      n,
      seq,
      flags,
      src,
      dst,
    );
    if (!layer.sendFrom(src, seg, dst, protocol, segOpts)) ok = false;
  }
  layer.release(buf);
  return ok;
}
