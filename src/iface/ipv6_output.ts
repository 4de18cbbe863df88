/**
 * What the IPv6 layer writes on output: the 40-byte header
 * ({@link writeIpv6Header}) and, for a packet larger than the path MTU, the
 * fragments (RFC 8200 §4.5, {@link fragmentIpv6}).
 *
 * @module
 */

import type { Ipv6Words } from "../wire/checksum.ts";
import {
  emitFragmentHeader,
  IP_PROTO_FRAGMENT,
  IPV6_DST_OFFSET,
  IPV6_FRAGMENT_HEADER_LEN,
  IPV6_FRAGMENT_UNIT,
  IPV6_HEADER_LEN,
  IPV6_HOP_LIMIT_OFFSET,
  IPV6_NEXT_HEADER_OFFSET,
  IPV6_PAYLOAD_LENGTH_OFFSET,
  IPV6_SRC_OFFSET,
} from "../wire/ipv6.ts";
import { write32 } from "../wire/view.ts";
import type { Ipv6Stats } from "./ipv6_types.ts";
import type { BufferPoolLike, PacketBufferLike } from "./types.ts";

/**
 * Writes a 40-byte IPv6 header (flow label 0).
 *
 * @param b buffer
 * @param at where the header goes
 * @param trafficClass DSCP << 2 | ECN
 * @param payloadLength bytes after the header
 * @param nextHeader Next Header
 * @param hopLimit Hop Limit
 * @param src source
 * @param dst destination
 */
export function writeIpv6Header(
  b: Uint8Array,
  at: number,
  trafficClass: number,
  payloadLength: number,
  nextHeader: number,
  hopLimit: number,
  src: Ipv6Words,
  dst: Ipv6Words,
): void {
  write32(b, at, (6 << 28) | ((trafficClass & 0xff) << 20));
  b[at + IPV6_PAYLOAD_LENGTH_OFFSET] = payloadLength >>> 8;
  b[at + IPV6_PAYLOAD_LENGTH_OFFSET + 1] = payloadLength & 0xff;
  b[at + IPV6_NEXT_HEADER_OFFSET] = nextHeader;
  b[at + IPV6_HOP_LIMIT_OFFSET] = hopLimit;
  write32(b, at + IPV6_SRC_OFFSET, src.w0);
  write32(b, at + IPV6_SRC_OFFSET + 4, src.w1);
  write32(b, at + IPV6_SRC_OFFSET + 8, src.w2);
  write32(b, at + IPV6_SRC_OFFSET + 12, src.w3);
  write32(b, at + IPV6_DST_OFFSET, dst.w0);
  write32(b, at + IPV6_DST_OFFSET + 4, dst.w1);
  write32(b, at + IPV6_DST_OFFSET + 8, dst.w2);
  write32(b, at + IPV6_DST_OFFSET + 12, dst.w3);
}

/**
 * RFC 8200 §4.5: cuts `buf`'s payload into fragments: the unfragmentable part
 * (our 40-byte header) in every one, then a Fragment header and a multiple of
 * 8 data bytes (the last one: the rest), each in a pool buffer handed to
 * `send`. Counts `txFragments`, and `txPackets` once; stops at the first
 * buffer it cannot get (counted). Does not release `buf`.
 *
 * @param pool the buffer pool
 * @param headroom room before the IPv6 header in a pool buffer (link + 40 bytes)
 * @param stats the layer's counters
 * @param buf the payload
 * @param src source
 * @param dst destination
 * @param protocol the payload's Next Header
 * @param hopLimit Hop Limit
 * @param tc traffic class
 * @param mtu the path MTU
 * @param id the packet's identification
 * @param send routes one fragment (ownership taken)
 * @param release returns a fragment not sent
 * @returns false when a fragment was not made or not sent
 */
export function fragmentIpv6(
  pool: BufferPoolLike,
  headroom: number,
  stats: Ipv6Stats,
  buf: PacketBufferLike,
  src: Ipv6Words,
  dst: Ipv6Words,
  protocol: number,
  hopLimit: number,
  tc: number,
  mtu: number,
  id: number,
  send: (frag: PacketBufferLike) => boolean,
  release: (frag: PacketBufferLike) => void,
): boolean {
  const room = headroom + IPV6_FRAGMENT_HEADER_LEN;
  const slotRoom = pool.slotSize - room;
  const maxData = Math.min(mtu - IPV6_HEADER_LEN - IPV6_FRAGMENT_HEADER_LEN, slotRoom) &
    ~(IPV6_FRAGMENT_UNIT - 1);
  const payload = buf.length;
  const from = buf.head;
  let ok = true;
  for (let off = 0; off < payload; off += maxData) {
    const chunk = Math.min(maxData, payload - off);
    const more = off + chunk < payload;
    const frag = pool.alloc(room);
    if (frag === null) {
      stats.txNoBuffer++;
      return false;
    }
    const at = frag.append(chunk);
    frag.bytes.set(buf.bytes.subarray(from + off, from + off + chunk), at);
    const fh = frag.prepend(IPV6_FRAGMENT_HEADER_LEN);
    const ip = frag.prepend(IPV6_HEADER_LEN);
    if (at < 0 || fh < 0 || ip < 0) {
      stats.txNoHeadroom++;
      release(frag);
      return false;
    }
    emitFragmentHeader(frag.bytes, fh, protocol, off, more, id);
    writeIpv6Header(
      frag.bytes,
      ip,
      tc,
      IPV6_FRAGMENT_HEADER_LEN + chunk,
      IP_PROTO_FRAGMENT,
      hopLimit,
      src,
      dst,
    );
    stats.txFragments++;
    if (!send(frag)) ok = false;
  }
  stats.txPackets++;
  return ok;
}
