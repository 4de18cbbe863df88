/**
 * One bound UDP port, {@link UdpEndpoint}: its bounded receive queue (a
 * {@link DatagramQueue}), the connected peer (`connect`/`connect6`, Linux
 * `ip4_datagram_connect`) and the filter it implies on input, the pending
 * ICMP error, and the send methods that check it before handing the datagram
 * to the owning {@link UdpLayer}. Also its counters and the received datagram
 * shape.
 *
 * @module
 */

import { formatIpv4 } from "../wire/address.ts";
import type { Ipv6Address } from "../wire/ipv6_address.ts";
import type { DatagramQueue } from "./datagram_queue.ts";
import { checkDestination, checkDestination6, UdpError, type UdpFamily } from "./udp_error.ts";
// Type only (erased at run time): the endpoint calls back into its layer.
import type { UdpLayer } from "./udp_layer.ts";

/** Counters of one endpoint. */
export interface UdpEndpointStats {
  /** Datagrams queued. */
  rxDatagrams: number;
  /** Payload bytes queued. */
  rxBytes: number;
  /** Dropped: this endpoint's queue was full. */
  rxDropped: number;
  /** Datagrams sent. */
  txDatagrams: number;
  /** Payload bytes sent. */
  txBytes: number;
  /** Sends that failed (returned a UdpError). */
  txErrors: number;
  /** ICMP errors recorded on this endpoint. */
  icmpErrors: number;
  /** Dropped: datagrams from another address or port than the connected peer. */
  rxWrongPeer: number;
}

/** One received datagram as returned by {@link UdpEndpoint.tryReceive}. */
export interface UdpDatagram {
  /** A fresh copy of the payload. */
  data: Uint8Array;
  /** Sender IPv4 address (int32, see src/wire/address.ts; format with `formatIpv4`). */
  srcAddr: number;
  /** Sender port. */
  srcPort: number;
  /** Sender IPv6 address when the datagram came over IPv6 (`srcAddr` is then 0), else null. */
  srcAddr6?: Ipv6Address | null;
}

/**
 * A bound UDP port: a receive queue plus a send method. Made by
 * {@link UdpLayer.bind}; released with {@link UdpEndpoint.close}.
 *
 * @example
 * ```ts
 * import { UdpLayer } from "./udp_layer.ts";
 * const udp = new UdpLayer({
 *   allocate: () => null, send: () => false, sourceAddressFor: () => 0, mtuFor: () => 1500,
 * });
 * const ep = udp.bind(5353);
 * console.assert(ep.localPort === 5353 && ep.tryReceive() === null);
 * ep.close();
 * console.assert(ep.closed);
 * ```
 */
export class UdpEndpoint {
  /** The bound local port. */
  readonly localPort: number;
  /** Called (synchronously, during packet input) after a datagram is queued or an error is set. */
  onReadable: ((endpoint: UdpEndpoint) => void) | null = null;
  /** Counters. */
  readonly stats: UdpEndpointStats = {
    rxDatagrams: 0,
    rxBytes: 0,
    rxDropped: 0,
    txDatagrams: 0,
    txBytes: 0,
    txErrors: 0,
    icmpErrors: 0,
    rxWrongPeer: 0,
  };
  /** Source address of the datagram last returned by {@link receiveInto}. */
  lastSrcAddr = 0;
  /** Source port of the datagram last returned by {@link receiveInto}. */
  lastSrcPort = 0;
  /** Full payload length of the datagram last returned by {@link receiveInto}. */
  lastLength = 0;
  /** IPv6 source of the datagram last returned by {@link receiveInto} (null: it came over IPv4). */
  lastSrcAddr6: Ipv6Address | null = null;
  /** Families this endpoint receives. */
  readonly family: UdpFamily;
  /**
   * The IPv4 address bound (`bind(2)` to one address), int32; 0 = any of ours.
   * A bound endpoint receives only datagrams to it and sends from it, whichever
   * interface they use (RFC 1122 §3.3.4.2).
   */
  readonly boundAddr: number;
  #layer: UdpLayer;
  #queue: DatagramQueue;
  #pendingError: UdpError | null = null;
  #closed = false;
  /** The connected peer (int32 address, port) and our address towards it; all 0 = unconnected. */
  #remoteAddr = 0;
  #remotePort = 0;
  #localAddr = 0;
  /** The connected IPv6 peer and our address towards it; null = not connected over IPv6. */
  #remote6: Ipv6Address | null = null;
  #local6: Ipv6Address | null = null;

  /**
   * Made by {@link UdpLayer.bind}; not meant to be called directly.
   *
   * @param layer the owning layer
   * @param port the bound port
   * @param queue the receive queue
   * @param family the families received (default both)
   * @param boundAddr the IPv4 address bound (int32; 0 = any of ours)
   */
  constructor(
    layer: UdpLayer,
    port: number,
    queue: DatagramQueue,
    family: UdpFamily = "any",
    boundAddr = 0,
  ) {
    this.#layer = layer;
    this.localPort = port;
    this.#queue = queue;
    this.family = family;
    this.boundAddr = boundAddr | 0;
  }

  /** The connected IPv6 peer, or null (unconnected or connected over IPv4). */
  get remoteAddr6(): Ipv6Address | null {
    return this.#remote6;
  }

  /** Our IPv6 address towards the connected IPv6 peer, or null. */
  get localAddr6(): Ipv6Address | null {
    return this.#local6;
  }

  /**
   * {@link connect} to an IPv6 peer (Linux `ip6_datagram_connect`): source
   * chosen by RFC 6724, then only that 4-tuple is received and ICMPv6 errors
   * about it are reported.
   *
   * @param addr the peer's IPv6 address
   * @param port the peer's port 1..65535
   * @returns null, or the {@link UdpError} (`InvalidPort`, `InvalidAddress`, `NoRoute`, `Closed`)
   */
  connect6(addr: Ipv6Address, port: number): UdpError | null {
    if (this.#closed) return new UdpError("Closed", `port ${this.localPort} is closed`);
    const invalid = checkDestination6(addr, port, this.family);
    if (invalid !== null) return invalid;
    const local = this.#layer.sender6?.sourceAddressFor6(addr) ?? null;
    if (local === null) return new UdpError("NoRoute", `no route to ${addr}`, 0, port);
    this.#remoteAddr = 0;
    this.#localAddr = 0;
    this.#remote6 = addr;
    this.#local6 = local;
    this.#remotePort = port;
    this.#pendingError = null;
    return null;
  }

  /**
   * Whether a datagram from `src:srcPort` to `dst` over IPv6 belongs here.
   *
   * @param src source address
   * @param srcPort source port
   * @param dst destination address
   * @returns true when it may be delivered
   */
  accepts6(src: Ipv6Address, srcPort: number, dst: Ipv6Address): boolean {
    if (this.family === "ipv4") return false;
    if (this.#remotePort === 0) return true;
    const r = this.#remote6;
    return r !== null && srcPort === this.#remotePort && r.equals(src) && this.#local6!.equals(dst);
  }

  /**
   * {@link send} over IPv6.
   *
   * @param nowMs current time (ms)
   * @param data the payload (≤ 65,527 bytes)
   * @param dst destination
   * @param dstPort destination port 1..65535
   * @returns bytes of payload sent, or a {@link UdpError}
   */
  send6(nowMs: number, data: Uint8Array, dst: Ipv6Address, dstPort: number): number | UdpError {
    if (this.#closed) return new UdpError("Closed", `port ${this.localPort} is closed`);
    const pending = this.takeError();
    if (pending !== null) return pending;
    if (
      this.#remotePort !== 0 &&
      (this.#remote6 === null || !this.#remote6.equals(dst) || dstPort !== this.#remotePort)
    ) {
      this.stats.txErrors++;
      return new UdpError("IsConnected", `port ${this.localPort} is connected`, 0, dstPort);
    }
    return this.#layer.sendFrom6(nowMs, this, data, dst, dstPort);
  }

  /** True after {@link close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True after {@link connect} (until {@link disconnect}). */
  get connected(): boolean {
    return this.#remotePort !== 0;
  }

  /** The connected peer's IPv4 address (int32), or 0 when unconnected. */
  get remoteAddr(): number {
    return this.#remoteAddr;
  }

  /** The connected peer's port, or 0 when unconnected. */
  get remotePort(): number {
    return this.#remotePort;
  }

  /** Our IPv4 address towards the connected peer (int32), or 0 when unconnected. */
  get localAddr(): number {
    return this.#localAddr;
  }

  /**
   * Connects the endpoint to one peer, as `connect(2)` on a UDP socket does
   * (Linux `ip4_datagram_connect`): the route fixes our source address, and
   * from then on only datagrams from `addr:port` to that address are received
   * (others are dropped, counted in `rxWrongPeer` and answered like a closed
   * port), sends must go to the peer, and ICMP errors about datagrams to the
   * peer are reported. Connecting again changes the peer; an error pending
   * about the previous peer is dropped.
   *
   * @param addr the peer's IPv4 address: int32 (see src/wire/address.ts) or its unsigned form
   * @param port the peer's port 1..65535
   * @returns null, or the {@link UdpError} (`InvalidPort`, `InvalidAddress`, `NoRoute`, `Closed`)
   */
  connect(addr: number, port: number): UdpError | null {
    if (this.#closed) return new UdpError("Closed", `port ${this.localPort} is closed`);
    const invalid = checkDestination(addr, port);
    if (invalid !== null) return invalid;
    if (this.family === "ipv6") {
      return new UdpError("InvalidAddress", `port ${this.localPort} is bound to IPv6 only`);
    }
    addr |= 0;
    const local = this.#layer.sender.sourceAddressFor(addr);
    if (local === 0) return new UdpError("NoRoute", `no route to ${formatIpv4(addr)}`, addr, port);
    this.#remoteAddr = addr;
    this.#remotePort = port;
    this.#localAddr = this.boundAddr !== 0 ? this.boundAddr : local;
    this.#remote6 = null;
    this.#local6 = null;
    this.#pendingError = null;
    return null;
  }

  /** Dissolves the association made by {@link connect} (`connect(2)` with `AF_UNSPEC`). */
  disconnect(): void {
    this.#remoteAddr = 0;
    this.#remotePort = 0;
    this.#localAddr = 0;
    this.#remote6 = null;
    this.#local6 = null;
    this.#pendingError = null;
  }

  /**
   * Whether a datagram from `src:srcPort` to `dst` belongs to this endpoint:
   * always when unconnected, else only for the connected 4-tuple.
   *
   * @param src the datagram's source address (int32)
   * @param srcPort its source port
   * @param dst its destination address (int32)
   * @returns true when it may be delivered
   */
  accepts(src: number, srcPort: number, dst: number): boolean {
    if (this.family === "ipv6") return false;
    return this.#remotePort === 0 ||
      (this.#remote6 === null && src === this.#remoteAddr && srcPort === this.#remotePort &&
        dst === this.#localAddr);
  }

  /** Datagrams waiting in the receive queue. */
  get queued(): number {
    return this.#queue.count;
  }

  /** The error (from ICMP) that the next receive or send will report, if any. */
  get pendingError(): UdpError | null {
    return this.#pendingError;
  }

  /** True when a datagram or an error is waiting. */
  get readable(): boolean {
    return this.#queue.count > 0 || this.#pendingError !== null;
  }

  /**
   * Returns and clears the pending error.
   *
   * @returns the error, or null
   */
  takeError(): UdpError | null {
    const e = this.#pendingError;
    this.#pendingError = null;
    return e;
  }

  /**
   * Sends one datagram (RFC 768): allocates a packet buffer from the IP layer,
   * writes the UDP header, copies the payload, fills the checksum and hands it
   * to IPv4, which fragments when it exceeds the MTU. A pending ICMP error is
   * reported (and cleared) instead of sending. A connected endpoint sends
   * only to its peer: another destination is refused with `IsConnected`, as
   * FreeBSD's `sendto(2)` on a connected UDP socket does (`EISCONN`).
   *
   * @param nowMs current time (ms)
   * @param data the payload (≤ 65,507 bytes)
   * @param dstAddr destination IPv4 address: int32 (see src/wire/address.ts) or its unsigned form
   * @param dstPort destination port 1..65535
   * @returns bytes of payload sent, or a {@link UdpError}
   */
  send(nowMs: number, data: Uint8Array, dstAddr: number, dstPort: number): number | UdpError {
    if (this.#closed) return new UdpError("Closed", `port ${this.localPort} is closed`);
    const pending = this.takeError();
    if (pending !== null) return pending;
    if (
      this.#remotePort !== 0 &&
      (this.#remote6 !== null || (dstAddr | 0) !== this.#remoteAddr || dstPort !== this.#remotePort)
    ) {
      this.stats.txErrors++;
      return new UdpError(
        "IsConnected",
        `port ${this.localPort} is connected to ${
          formatIpv4(this.#remoteAddr)
        }:${this.#remotePort}`,
        dstAddr | 0,
        dstPort,
      );
    }
    return this.#layer.sendFrom(nowMs, this, data, dstAddr, dstPort);
  }

  /**
   * Dequeues the oldest datagram into a new array. Check {@link takeError}
   * first to learn about ICMP errors.
   *
   * @returns the datagram, or null when none is queued
   */
  tryReceive(): UdpDatagram | null {
    const length = this.#queue.frontLength;
    if (length < 0) return null;
    const srcAddr = this.#queue.frontAddr;
    const srcPort = this.#queue.frontPort;
    const srcAddr6 = this.#queue.frontAddr6;
    const data = new Uint8Array(length);
    this.#queue.shift(data, 0);
    return { data, srcAddr, srcPort, srcAddr6 };
  }

  /**
   * Dequeues the oldest datagram into `dst` without allocating; a datagram
   * longer than the room is truncated (its full length is in {@link lastLength}).
   * The sender is left in {@link lastSrcAddr} / {@link lastSrcPort}.
   *
   * @param dst destination buffer
   * @param dstOffset where to write
   * @returns bytes copied, or -1 when nothing is queued
   */
  receiveInto(dst: Uint8Array, dstOffset = 0): number {
    const length = this.#queue.frontLength;
    if (length < 0) return -1;
    this.lastSrcAddr = this.#queue.frontAddr;
    this.lastSrcPort = this.#queue.frontPort;
    this.lastSrcAddr6 = this.#queue.frontAddr6;
    this.lastLength = length;
    return this.#queue.shift(dst, dstOffset);
  }

  /** Frees the port and drops queued datagrams. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.clear();
    this.disconnect();
    this.onReadable = null;
    this.#layer.release(this);
  }

  /**
   * Queues a received datagram (called by the layer on input).
   *
   * @param bytes buffer holding the payload
   * @param offset payload start
   * @param length payload length
   * @param src sender address
   * @param srcPort sender port
   * @param src6 the IPv6 sender of a datagram that came over IPv6 (`src` 0)
   * @returns false when the queue was full (dropped and counted)
   */
  deliver(
    bytes: Uint8Array,
    offset: number,
    length: number,
    src: number,
    srcPort: number,
    src6: Ipv6Address | null = null,
  ): boolean {
    if (!this.#queue.push(bytes, offset, length, src, srcPort, src6)) {
      this.stats.rxDropped++;
      return false;
    }
    this.stats.rxDatagrams++;
    this.stats.rxBytes += length;
    const hook = this.onReadable;
    if (hook !== null) hook(this);
    return true;
  }

  /**
   * Records an error from ICMP (called by the layer).
   *
   * @param error the error the next receive or send reports
   */
  setError(error: UdpError): void {
    this.stats.icmpErrors++;
    this.#pendingError = error;
    const hook = this.onReadable;
    if (hook !== null) hook(this);
  }
}
