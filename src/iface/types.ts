/**
 * The contracts between the network layer and its neighbours: what
 * transports use ({@link IpSender}, {@link IpProtocolHandler}) and the
 * buffer shapes the layer relies on ({@link PacketBufferLike},
 * {@link BufferPoolLike}, structurally satisfied by `PacketBuffer` and
 * `BufferPool` from `src/buffer/`). Header layouts and protocol numbers
 * live in the codecs of `src/wire/`.
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
  /** The pool the buffer came from (its identity), when it tells: a cheap ownership test. */
  readonly owner?: object | null;
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
  /** Optional: number of buffers (the interface sizes its ARP queue bound from it). */
  readonly capacity?: number;
  /** Optional: buffers free now. */
  readonly available?: number;
  /** Optional: buffers only {@link allocReserved} may take (control traffic). */
  readonly reserved?: number;
  /** Optional: like {@link alloc}, but may take a {@link reserved} buffer. */
  allocReserved?(headroom?: number): PacketBufferLike | null;
}

/** Per-datagram output options of {@link IpSender.send}. */
export interface IpSendOptions {
  /** Time to live; default the interface's TTL (64). */
  ttl?: number;
  /** Set the Don't Fragment flag (RFC 791 §3.1); oversized datagrams are then dropped. */
  dontFragment?: boolean;
  /** Type of service / DSCP+ECN byte; default 0. */
  tos?: number;
  /**
   * Transmit checksum offload (only when {@link IpSender.txOffloads} has
   * `checksum`): offset of the transport checksum field from the transport
   * header (TCP 16, UDP 6); the field holds the folded, not complemented,
   * pseudo-header sum of the whole transport segment (Linux
   * CHECKSUM_PARTIAL) and the device — or the network layer, when it cannot
   * — completes it. 0/absent: the checksum is complete.
   */
  partialChecksumOffset?: number;
  /**
   * TCP segmentation offload (only with `partialChecksumOffset` and
   * {@link IpTxOffloads.gsoMaxBytes}): the payload is one TCP super-segment
   * the link cuts into segments of `gsoSize` data bytes (the MSS). 0/absent: none.
   */
  gsoSize?: number;
}

/** Transmit offloads of the link below an {@link IpSender}. */
export interface IpTxOffloads {
  /** The link completes transport checksums (send with `partialChecksumOffset`). */
  readonly checksum: boolean;
  /**
   * Largest transport segment (TCP header + data, bytes) one `gsoSize` send
   * may carry (buffers from {@link IpSender.allocateSegment}); 0 = no TCP
   * segmentation offload.
   */
  readonly gsoMaxBytes: number;
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
  /** Optional: the link's transmit offloads (absent = none); a stable object. */
  readonly txOffloads?: IpTxOffloads;
  /**
   * Optional (with `txOffloads.gsoMaxBytes > 0`): a buffer for a transport
   * segment of up to `gsoMaxBytes` bytes, headroom as {@link allocate}; null
   * when none is free (counted) — then send ordinary segments.
   */
  allocateSegment?(): PacketBufferLike | null;
}

/** A transport protocol registered with the interface for one IP protocol number. */
export interface IpProtocolHandler {
  /**
   * A datagram for this protocol arrived; the bytes are valid only during the
   * call. `checksumVerified` (optional, default false): the device already
   * vouched for the transport checksum (receive checksum offload, see
   * `rxChecksumTrusted` in src/phy/device.ts) — the handler may skip it.
   * `toBroadcast` (optional, default false): `dst` is a broadcast address — the
   * limited broadcast or the interface's directed broadcast — or a multicast
   * group, which a unicast-only transport such as TCP must not answer (RFC
   * 1122 §4.2.3.10). `ipTos` (optional, default 0): the datagram's TOS byte, whose ECN
   * field (RFC 3168 §5) TCP reads.
   */
  onPacket(
    nowMs: number,
    src: number,
    dst: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    checksumVerified?: boolean,
    toBroadcast?: boolean,
    ipTos?: number,
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
