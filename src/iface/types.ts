/**
 * The contracts between the network layer and its neighbours: what
 * transports use ({@link IpSender}, {@link IpProtocolHandler}) and the
 * buffer shapes the layer relies on ({@link PacketBufferLike},
 * {@link BufferPoolLike}, structurally satisfied by `PacketBuffer` and
 * `BufferPool` from `src/buffer/`), plus the header layouts (RFC field
 * offsets) the layer reads and writes in place.
 *
 * @module
 */

/** A packet buffer: data lives in `bytes[head, tail)` with headroom before `head`. */
export interface PacketBufferLike {
  /** The whole slot. */
  readonly bytes: Uint8Array;
  /** First data byte. */
  head: number;
  /** One past the last data byte. */
  tail: number;
  /** `tail - head`. */
  readonly length: number;
  /** Positions an empty buffer with `headroom` free bytes in front. */
  reset(headroom: number): void;
  /** Grows the data `n` bytes to the front; returns the new head, or -1 without room. */
  prepend(n: number): number;
  /** Grows the data `n` bytes at the end; returns the old tail, or -1 without room. */
  append(n: number): number;
  /** Strips `n` bytes from the front. */
  consume(n: number): void;
}

/** A pool of {@link PacketBufferLike}s. */
export interface BufferPoolLike {
  /** Size of each buffer's slot in bytes. */
  readonly slotSize: number;
  /** Buffers currently allocated. */
  readonly inUse: number;
  /** A buffer with `headroom` free bytes in front, or null when exhausted. */
  alloc(headroom?: number): PacketBufferLike | null;
  /** Returns a buffer to the pool. */
  free(buf: PacketBufferLike): void;
}

/** Per-datagram output options of {@link IpSender.send}. */
export interface IpSendOptions {
  /** Time to live; default the interface's TTL (64). */
  ttl?: number;
  /** Set the Don't Fragment flag (RFC 791 §3.1); oversized datagrams are then dropped. */
  dontFragment?: boolean;
  /** Type of service / DSCP+ECN byte; default 0. */
  tos?: number;
}

/** What transports (UDP, TCP, ICMP) use to send IPv4 datagrams. */
export interface IpSender {
  /** A buffer whose head leaves room for the Ethernet and IPv4 headers, or null when the pool is empty. */
  allocate(): PacketBufferLike | null;
  /**
   * Sends the transport payload in `buf[head, tail)` to `dst`. Takes ownership
   * of `buf` (it is freed, now or after ARP resolution). Routes, fragments when
   * needed, queues behind ARP resolution.
   *
   * @returns false when the datagram was dropped (counted)
   */
  send(buf: PacketBufferLike, dst: number, protocol: number, opts?: IpSendOptions): boolean;
  /** Our source address toward `dst`, or 0 when there is no route. */
  sourceAddressFor(dst: number): number;
  /** The IPv4 MTU toward `dst` (TCP MSS = mtu − 40). */
  mtuFor(dst: number): number;
}

/** A transport protocol registered with the interface for one IP protocol number. */
export interface IpProtocolHandler {
  /** A datagram for this protocol arrived; the bytes are valid only during the call. */
  onPacket(
    nowMs: number,
    src: number,
    dst: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
  ): void;
  /**
   * An ICMP error concerning a datagram this protocol sent (RFC 1122 §3.2.2.1):
   * `quoted` holds the original IPv4 header and at least 8 bytes after it.
   * Also called with type 3 code 1 (host unreachable) when ARP resolution of
   * the next hop failed for a datagram we queued.
   */
  onIcmpError?(
    nowMs: number,
    type: number,
    code: number,
    nextHopMtu: number,
    quoted: Uint8Array,
    quotedOffset: number,
    quotedLength: number,
  ): void;
}

// ---- Ethernet II (IEEE 802.3 §3.2, RFC 894) ------------------------------------------------------

/** Ethernet header length. */
export const ETH_HEADER_LEN = 14;
/** 802.1Q tag length. */
export const VLAN_TAG_LEN = 4;
/** Offset of the destination MAC. */
export const ETH_DST = 0;
/** Offset of the source MAC. */
export const ETH_SRC = 6;
/** Offset of the EtherType. */
export const ETH_TYPE = 12;
/** EtherType IPv4. */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType ARP. */
export const ETHERTYPE_ARP = 0x0806;
/** EtherType 802.1Q VLAN tag. */
export const ETHERTYPE_VLAN = 0x8100;
/** EtherType 802.1ad service tag (QinQ). */
export const ETHERTYPE_QINQ = 0x88a8;
/** ff:ff:ff:ff:ff:ff as a number. */
export const MAC_BROADCAST = 0xffff_ffff_ffff;

// ---- ARP (RFC 826) -------------------------------------------------------------------------------

/** ARP packet length for Ethernet/IPv4. */
export const ARP_LEN = 28;
/** Offset of the hardware type. */
export const ARP_HTYPE = 0;
/** Offset of the protocol type. */
export const ARP_PTYPE = 2;
/** Offset of the hardware address length. */
export const ARP_HLEN = 4;
/** Offset of the protocol address length. */
export const ARP_PLEN = 5;
/** Offset of the opcode. */
export const ARP_OPER = 6;
/** Offset of the sender hardware address. */
export const ARP_SHA = 8;
/** Offset of the sender protocol address. */
export const ARP_SPA = 14;
/** Offset of the target hardware address. */
export const ARP_THA = 18;
/** Offset of the target protocol address. */
export const ARP_TPA = 24;
/** Hardware type Ethernet. */
export const ARP_HTYPE_ETHERNET = 1;
/** Opcode request. */
export const ARP_OP_REQUEST = 1;
/** Opcode reply. */
export const ARP_OP_REPLY = 2;

// ---- IPv4 (RFC 791 §3.1) -------------------------------------------------------------------------

/** Minimum IPv4 header length. */
export const IPV4_HEADER_LEN = 20;
/** Maximum IPv4 header length (IHL 15). */
export const IPV4_MAX_HEADER_LEN = 60;
/** Offset of version/IHL. */
export const IP_VER_IHL = 0;
/** Offset of TOS. */
export const IP_TOS = 1;
/** Offset of total length. */
export const IP_TOTAL_LEN = 2;
/** Offset of identification. */
export const IP_ID = 4;
/** Offset of flags/fragment offset. */
export const IP_FRAG = 6;
/** Offset of TTL. */
export const IP_TTL = 8;
/** Offset of protocol. */
export const IP_PROTO = 9;
/** Offset of the header checksum. */
export const IP_CHECKSUM = 10;
/** Offset of the source address. */
export const IP_SRC = 12;
/** Offset of the destination address. */
export const IP_DST = 16;
/** Don't Fragment flag in the flags/offset word. */
export const IP_FLAG_DF = 0x4000;
/** More Fragments flag. */
export const IP_FLAG_MF = 0x2000;
/** Fragment offset mask (units of 8 bytes). */
export const IP_FRAG_OFFSET_MASK = 0x1fff;
/** Reserved (evil) bit; RFC 791 says it must be zero. */
export const IP_FLAG_RESERVED = 0x8000;
/** Protocol ICMP. */
export const IP_PROTO_ICMP = 1;
/** Protocol TCP. */
export const IP_PROTO_TCP = 6;
/** Protocol UDP. */
export const IP_PROTO_UDP = 17;

// ---- ICMP (RFC 792) ------------------------------------------------------------------------------

/** ICMP header length (type, code, checksum, 4 bytes rest-of-header). */
export const ICMP_HEADER_LEN = 8;
/** Echo reply. */
export const ICMP_ECHO_REPLY = 0;
/** Destination unreachable. */
export const ICMP_DEST_UNREACHABLE = 3;
/** Source quench (deprecated, RFC 6633). */
export const ICMP_SOURCE_QUENCH = 4;
/** Redirect. */
export const ICMP_REDIRECT = 5;
/** Echo request. */
export const ICMP_ECHO_REQUEST = 8;
/** Time exceeded. */
export const ICMP_TIME_EXCEEDED = 11;
/** Parameter problem. */
export const ICMP_PARAMETER_PROBLEM = 12;
/** Destination unreachable code: network unreachable. */
export const ICMP_CODE_NET_UNREACHABLE = 0;
/** Destination unreachable code: host unreachable. */
export const ICMP_CODE_HOST_UNREACHABLE = 1;
/** Destination unreachable code: protocol unreachable. */
export const ICMP_CODE_PROTOCOL_UNREACHABLE = 2;
/** Destination unreachable code: port unreachable. */
export const ICMP_CODE_PORT_UNREACHABLE = 3;
/** Destination unreachable code: fragmentation needed and DF set (RFC 1191). */
export const ICMP_CODE_FRAG_NEEDED = 4;
