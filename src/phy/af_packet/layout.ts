/**
 * The kernel ABI the AF_PACKET driver reads and writes, as named sizes and
 * offsets (x86-64 Linux): `struct sockaddr_ll`, `struct ifreq`, `struct
 * pollfd`, `struct tpacket_req3`, `struct tpacket_stats`, the ring headers
 * (`tpacket2_hdr`, `tpacket3_hdr`, `tpacket_block_desc`), `struct msghdr` /
 * `mmsghdr` / `iovec` and `struct virtio_net_hdr`; the ring slot geometry;
 * and the small helpers that write these layouts. The Ethernet, IPv4 and TCP
 * header offsets the driver peeks at come from `src/wire`. Nothing here calls
 * the kernel.
 *
 * @module
 */

import { GSO_ECN, GSO_NONE, GSO_TCPV4, GSO_TCPV6 } from "../device.ts";
import { POLLIN } from "../libc.ts";
import { TCP_CWR, TCP_FLAGS_OFFSET } from "../../wire/tcp.ts";

// ---------------------------------------------------------------- struct sockaddr_ll
/** sizeof(struct sockaddr_ll) (linux/if_packet.h). */
export const SOCKADDR_LL_BYTES = 20;
/** `sll_family` (u16). */
export const SLL_FAMILY_OFFSET = 0;
/** `sll_protocol` (u16, network byte order). */
export const SLL_PROTOCOL_OFFSET = 2;
/** `sll_ifindex` (i32). */
export const SLL_IFINDEX_OFFSET = 4;
/** `sll_pkttype` (u8): PACKET_HOST, PACKET_OUTGOING... */
export const SLL_PKTTYPE_OFFSET = 10;

// ---------------------------------------------------------------- struct ifreq
/** sizeof(struct ifreq). */
export const IFREQ_BYTES = 40;
/** IFNAMSIZ: interface name buffer, NUL included (names are 1..15 characters). */
export const IFNAMSIZ = 16;
/** The `ifr_ifru` union (ifindex, flags, MTU, hwaddr) follows the name. */
export const IFR_DATA_OFFSET = 16;
/** `ifr_hwaddr.sa_data` after its `sa_family` (u16). */
export const IFR_HWADDR_DATA_OFFSET = IFR_DATA_OFFSET + 2;
/** ARPHRD_ETHER: `ifr_hwaddr.sa_family` of an Ethernet interface. */
export const ARPHRD_ETHER = 1;
/** ETH_ALEN: bytes of a MAC address. */
export const MAC_BYTES = 6;
/** sizeof(int): a socket option's value. */
export const INT_BYTES = 4;

// ---------------------------------------------------------------- struct pollfd
/** sizeof(struct pollfd) { int fd; short events; short revents; }. */
export const POLLFD_BYTES = 8;
/** `events` (i16). */
export const POLLFD_EVENTS_OFFSET = 4;
/** The eventfd's 8-byte counter, written to wake a parked poll(). */
export const EVENTFD_VALUE_BYTES = 8;

// ---------------------------------------------------------------- PACKET_RX_RING
/** sizeof(struct tpacket_req) (V2: block size, block count, frame size, frame count). */
export const TPACKET_REQ_BYTES = 16;
/** sizeof(struct tpacket_req3) (V3 adds retire timeout, private size, feature flags). */
export const TPACKET_REQ3_BYTES = 28;
/** TPACKET_ALIGNMENT: ring headers and frame data start on this boundary. */
export const TPACKET_ALIGNMENT = 16;
/**
 * Room the kernel keeps for the MAC header in a ring frame: it places the
 * network header at TPACKET_ALIGN(header + max(mac length, 16)) (tpacket_rcv).
 */
export const TPACKET_MIN_MAC_ROOM = 16;
/** Smallest ring frame slot, in bytes (a page half; the slot size is a power of two). */
export const MIN_RING_FRAME_BYTES = 2048;
/** TPACKET_V3 block size: frames are packed into 1 MiB blocks retired by timeout. */
export const V3_BLOCK_BYTES = 1 << 20;
/** TPACKET_V2 block size (frames never span blocks; blocks are contiguous). */
export const V2_BLOCK_BYTES = 1 << 16;
/** A V3 ring needs two blocks: the kernel fills one while the reader holds the other. */
export const V3_MIN_BLOCKS = 2;
/** Extra room in a ring slot / receive buffer for a VLAN tag and slack. */
export const RX_SLACK_BYTES = 64;

// ---------------------------------------------------------------- struct tpacket_stats
/** sizeof(struct tpacket_stats_v3) { tp_packets, tp_drops, tp_freeze_q_cnt } (u32 each). */
export const TPACKET_STATS_BYTES = 12;
/** `tp_packets` as a u32 index. */
export const TP_PACKETS_WORD = 0;
/** `tp_drops` as a u32 index. */
export const TP_DROPS_WORD = 1;

// ---------------------------------------------------------------- ring headers
// struct tpacket_block_desc (V3): version, offset_to_priv, then tpacket_hdr_v1.
/** `block_status` (u32). */
export const V3_BLOCK_STATUS = 8;
/** `num_pkts` (u32). */
export const V3_BLOCK_NUM_PKTS = 12;
/** `offset_to_first_pkt` (u32). */
export const V3_BLOCK_FIRST_PKT = 16;
// struct tpacket3_hdr
/** `tp_next_offset` (u32). */
export const V3_NEXT_OFFSET = 0;
/** `tp_snaplen` (u32). */
export const V3_SNAPLEN = 12;
/** `tp_len` (u32). */
export const V3_LEN = 16;
/** `tp_status` (u32). */
export const V3_STATUS = 20;
/** `tp_mac` (u16): offset of the Ethernet header from the frame header. */
export const V3_MAC = 24;
/** sizeof(struct tpacket3_hdr); the sockaddr_ll follows it. */
export const V3_HDR_BYTES = 48;
// struct tpacket2_hdr
/** `tp_status` (u32). */
export const V2_STATUS = 0;
/** `tp_len` (u32). */
export const V2_LEN = 4;
/** `tp_snaplen` (u32). */
export const V2_SNAPLEN = 8;
/** `tp_mac` (u16). */
export const V2_MAC = 12;
/** sizeof(struct tpacket2_hdr); the sockaddr_ll follows it. */
export const V2_HDR_BYTES = 32;

// ---------------------------------------------------------------- struct virtio_net_hdr
/** sizeof(struct virtio_net_hdr) (include/uapi/linux/virtio_net.h). */
export const VNET_HDR_BYTES = 10;
/** `flags` (u8). */
export const VNET_FLAGS = 0;
/** `gso_type` (u8). */
export const VNET_GSO_TYPE = 1;
/** `hdr_len` (le16). */
export const VNET_HDR_LEN = 2;
/** `gso_size` (le16). */
export const VNET_GSO_SIZE = 4;
/** `csum_start` (le16). */
export const VNET_CSUM_START = 6;
/** `csum_offset` (le16). */
export const VNET_CSUM_OFFSET = 8;
/** virtio_net_hdr flags: the checksum at csum_start + csum_offset must be completed. */
export const VNET_F_NEEDS_CSUM = 1;
/** virtio_net_hdr flags: the checksum was verified. */
export const VNET_F_DATA_VALID = 2;
/** Largest `gso_size` (a le16 field). */
export const MAX_GSO_SIZE = 0xffff;

// ---------------------------------------------------------------- struct msghdr, mmsghdr, iovec
/** `msg_iov` (pointer) in struct msghdr. */
export const MSG_IOV = 16;
/** `msg_iovlen` (size_t) in struct msghdr. */
export const MSG_IOVLEN = 24;
/** sizeof(struct msghdr). */
export const MSG_HDR_BYTES = 56;
/** struct mmsghdr: a msghdr, then `unsigned int msg_len` and padding. */
export const MMSG_HDR_BYTES = 64;
/** sizeof(struct iovec) { void *iov_base; size_t iov_len; }. */
export const IOVEC_BYTES = 16;
/** `iov_len` in struct iovec. */
export const IOV_LEN_OFFSET = 8;

/** 2^32: splits a 64-bit address (below 2^53) into two 32-bit words. */
export const TWO_POW_32 = 0x1_0000_0000;

/** Writes a 64-bit value (a number below 2^53) little-endian as two 32-bit words at byte `at`. */
export function writeU64(words: Uint32Array, at: number, value: number): void {
  words[at >>> 2] = value % TWO_POW_32;
  words[(at >>> 2) + 1] = Math.floor(value / TWO_POW_32);
}

/**
 * Writes a `struct virtio_net_hdr` { u8 flags; u8 gso_type; le16 hdr_len, gso_size,
 * csum_start, csum_offset } at `at`: NEEDS_CSUM when `csumStart > 0`; `gsoType`
 * (a `GSO_*` value, see {@link tcpGsoType}) when `gsoSize > 0`, else GSO_NONE.
 */
export function writeVnetHeader(
  b: Uint8Array,
  at: number,
  csumStart: number,
  csumOffset: number,
  gsoType: number,
  gsoSize: number,
  headerLength: number,
): void {
  b[at + VNET_FLAGS] = csumStart > 0 ? VNET_F_NEEDS_CSUM : 0;
  b[at + VNET_GSO_TYPE] = gsoSize > 0 ? gsoType : GSO_NONE;
  writeLe16(b, at + VNET_HDR_LEN, headerLength);
  writeLe16(b, at + VNET_GSO_SIZE, gsoSize);
  writeLe16(b, at + VNET_CSUM_START, csumStart);
  writeLe16(b, at + VNET_CSUM_OFFSET, csumOffset);
}

/** The IP version nibble of an IPv6 header (RFC 8200 §3). */
const IPV6_VERSION = 6;

/**
 * The `gso_type` of a TCP super-frame whose IP header starts at `ip` and TCP
 * header at `tcp`: GSO_TCPV6 for IPv6 (version nibble 6), else GSO_TCPV4;
 * with {@link GSO_ECN} or-ed in when the TCP header carries CWR. Linux marks a
 * TSO skb that carries CWR SKB_GSO_TCP_ECN (tcp_ecn_send, tcp_gro_complete):
 * a device without NETIF_F_TSO_ECN then segments it in software, which sets
 * CWR on the first segment only (tcp_gso_segment; RFC 3168 §6.1.2: CWR once
 * per window), instead of a TSO engine copying it into every segment.
 *
 * @param b frame buffer
 * @param ip offset of the IP header
 * @param tcp offset of the TCP header
 * @returns GSO_TCPV4 or GSO_TCPV6, maybe | GSO_ECN
 */
export function tcpGsoType(b: Uint8Array, ip: number, tcp: number): number {
  const type = (b[ip] >>> 4) === IPV6_VERSION ? GSO_TCPV6 : GSO_TCPV4;
  return (b[tcp + TCP_FLAGS_OFFSET] & TCP_CWR) !== 0 ? type | GSO_ECN : type;
}

/** Reads a little-endian u16 (virtio 1.0 fields are little-endian; vio_le() on x86-64). */
export function readLe16(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8);
}

function writeLe16(b: Uint8Array, at: number, value: number): void {
  b[at] = value & 0xff;
  b[at + 1] = value >>> 8;
}

/**
 * Builds a `struct pollfd` array waiting for POLLIN on each of `fds`.
 *
 * @returns the array's bytes, as poll() takes them
 */
export function pollSet(...fds: number[]): Uint8Array {
  const bytes = new Uint8Array(fds.length * POLLFD_BYTES);
  const view = new DataView(bytes.buffer);
  fds.forEach((fd, i) => {
    view.setInt32(i * POLLFD_BYTES, fd, true);
    view.setInt16(i * POLLFD_BYTES + POLLFD_EVENTS_OFFSET, POLLIN, true);
  });
  return bytes;
}

/** `value` rounded up to a multiple of `to`. */
export function align(value: number, to: number): number {
  return Math.ceil(value / to) * to;
}

/** The smallest power of two ≥ `value`. */
export function nextPowerOfTwo(value: number): number {
  let p = 1;
  while (p < value) p *= 2;
  return p;
}
