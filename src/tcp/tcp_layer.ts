/**
 * The TCP layer: an {@link IpProtocolHandler} that verifies and parses
 * segments, demultiplexes them by 4-tuple to {@link TcpConnection}s, runs
 * listeners (SYN queue, accept queue, SYN cookies from syn_cookies.ts),
 * answers segments for nobody with RST (RFC 9293 §3.10.7.1) but never those
 * to a broadcast or multicast address, bounds the connections and TIME-WAIT
 * entries it holds, allocates ephemeral ports and routes ICMP errors to the
 * connection they concern. Parts with state of their own are in their own
 * modules: the listener (tcp_listener.ts), the IPv6 table and ICMPv6 errors
 * (tcp6_table.ts), port selection (ephemeral_port.ts), segments for no
 * connection (control_segment.ts), the rate limits (rate_limit.ts) and receive
 * coalescing (tcp_coalesce.ts).
 *
 * @module
 */

import { ByteRingStoragePool, DEFAULT_RING_POOL_RETAINED_BYTES } from "../buffer/byte_ring.ts";
import type { IpProtocolHandler, IpSender, Ipv6ProtocolHandler } from "../iface/types.ts";
import { ipv6AddressSum } from "../wire/checksum.ts";
import type { Ipv6Address } from "../wire/ipv6_address.ts";
import { Tcp6Path, type Tcp6Sender } from "./tcp6.ts";
import type { Clock } from "../time/clock.ts";
import type { TimerWheel } from "../time/timer_wheel.ts";
import { formatIpv4, IPV4_LIMITED_BROADCAST, readIpv4 } from "../wire/address.ts";
import { isWireError } from "../wire/error.ts";
import { read16, readI32 } from "../wire/view.ts";
import {
  newTcpRepr,
  TCP_ACK,
  TCP_DST_PORT_OFFSET,
  TCP_FIN,
  TCP_RST,
  TCP_SEQ_OFFSET,
  TCP_SRC_PORT_OFFSET,
  TCP_SYN,
  TcpPacket,
  TcpRepr,
} from "../wire/tcp.ts";
import { newTcpStats, resolveTcpConfig, type TcpConfig, type TcpStats } from "./config.ts";
import {
  receiveBufferLimit,
  TcpConnection,
  type TcpConnectionEvents,
  type TcpConnectionOwner,
  type TcpContext,
  TcpState,
} from "./connection.ts";
import { ECN_CE, ECN_MASK } from "./ecn.ts";
import { AddrInUse, HostUnreachable, NotConnected, TooManyConnections } from "./errors.ts";
import { processSecret } from "./isn.ts";
import { WindowRateLimit } from "./rate_limit.ts";
import { EphemeralPorts, type EphemeralPortTable } from "./ephemeral_port.ts";
import { TcpListener, type TcpListenFamilyOptions } from "./tcp_listener.ts";
import { Tcp6Table } from "./tcp6_table.ts";
import { type BoundIpOptions, TcpControlSegments } from "./control_segment.ts";
import { TcpReceiveCoalescer } from "./tcp_coalesce.ts";
import { seqAdd, seqGt } from "./seq.ts";
import { type SynCookieAck, synCookieWindowOpen, validateSynCookieAck } from "./syn_cookies.ts";
import { SegmentLogPool } from "./rack.ts";
import {
  IP_PROTO_TCP,
  IPV4_DST_OFFSET,
  IPV4_HEADER_LEN,
  IPV4_IHL_MASK,
  IPV4_PROTOCOL_OFFSET,
  IPV4_SRC_OFFSET,
} from "../wire/ipv4.ts";
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_MIN_QUOTED_DATA_LEN,
  ICMP_TIME_EXCEEDED,
} from "../wire/icmp.ts";

export { EPHEMERAL_PORT_FIRST, EPHEMERAL_PORT_LAST } from "./ephemeral_port.ts";
export {
  type TcpFamily,
  TcpListener,
  type TcpListenerEvents,
  type TcpListenFamilyOptions,
} from "./tcp_listener.ts";

/** Default listen backlog (Linux SOMAXCONN). */
export const DEFAULT_BACKLOG = 128;
const PORT_SPACE = 0x10000;
/** The top four bits of a class D (multicast, 224.0.0.0/4) address (RFC 1112 §4). */
const MULTICAST_TOP_BITS = 0xe;

/** The limited broadcast or a multicast group; `addr` is int32. */
function isBroadcastOrMulticast(addr: number): boolean {
  return addr === IPV4_LIMITED_BROADCAST || (addr >>> 28) === MULTICAST_TOP_BITS;
}

/** Parse options for a segment whose checksum the device validated (made once). */
const SKIP_CHECKSUM = Object.freeze({ verifyChecksum: false });

/** Options of {@link TcpLayer}. */
export interface TcpLayerOptions {
  /** The network layer. */
  ip: IpSender;
  /** The timer wheel driving every connection timer. */
  wheel: TimerWheel;
  /** Time for application-side calls. */
  clock: Clock;
  /** Tunables. */
  config?: Partial<TcpConfig>;
  /**
   * 16-byte secret for ISNs, timestamps offsets, SYN cookies and port offsets (default: the
   * process-wide secret, {@link processSecret}; RFC 6528 §3 wants one per host).
   */
  secret?: Uint8Array;
  /**
   * Random source in [0, 1) that seeds this layer's own RFC 6056 port counter (tests). By
   * default the layers of a process share one counter seeded with Math.random.
   */
  random?: () => number;
}

/** Options of {@link TcpLayer.connect}. */
export interface TcpConnectOptions {
  /** Local port (default: an ephemeral port). */
  localPort?: number;
  /** Local address (default: the route's source address). */
  localAddr?: number;
  /** Callbacks, installed before the SYN is sent. */
  events?: TcpConnectionEvents;
  /** Local IPv6 address of {@link TcpLayer.connect6} (default RFC 6724 selection). */
  localAddr6?: Ipv6Address;
  /** Override the ISS (tests); either form, held as a signed 32-bit integer. */
  iss?: number;
  /**
   * Called with the new connection before its SYN is sent: apply socket options that shape
   * the SYN (TCP_MAXSEG, IP_TTL, IP_TOS, TCP_KEEPINIT).
   */
  configure?: (conn: TcpConnection) => void;
}

/**
 * Spare ring storage a layer keeps: at least DEFAULT_RING_POOL_RETAINED_BYTES, and room for
 * one connection's largest receive ring (autotuning, {@link TcpConfig.receiveBufferMaxBytes})
 * beside a send ring and an initial receive ring, so a busy connection whose grown ring
 * drains and refills reuses its storage instead of allocating it again each time.
 */
function ringPoolRetainedBytes(cfg: TcpConfig): number {
  return Math.max(
    DEFAULT_RING_POOL_RETAINED_BYTES,
    receiveBufferLimit(cfg) + cfg.sendBufferBytes + cfg.receiveBufferBytes,
  );
}

/**
 * The TCP protocol handler of one stack.
 *
 * @example Two layers joined by an in-memory "network"
 * ```ts
 * import { TcpLayer } from "./tcp_layer.ts";
 * import { BufferPool } from "../buffer/buffer_pool.ts";
 * import type { PacketBuffer } from "../buffer/packet_buffer.ts";
 * import { ManualClock } from "../time/clock.ts";
 * import { TimerWheel } from "../time/timer_wheel.ts";
 *
 * const clock = new ManualClock();
 * const wire: { to: TcpLayer; src: number; dst: number; bytes: Uint8Array }[] = [];
 * const pool = new BufferPool({ slots: 64 });
 * function host(addr: number, peer: () => TcpLayer) {
 *   const ip = {
 *     allocate: () => pool.alloc(34),
 *     send(buf: PacketBuffer, dst: number) {
 *       wire.push({ to: peer(), src: addr, dst, bytes: buf.bytes.slice(buf.head, buf.tail) });
 *       pool.free(buf);
 *       return true;
 *     },
 *     sourceAddressFor: () => addr,
 *     mtuFor: () => 1500,
 *   };
 *   return new TcpLayer({ ip, wheel: new TimerWheel(), clock });
 * }
 * const a: TcpLayer = host(0xc0000201, () => b);
 * const b: TcpLayer = host(0xc0000202, () => a);
 * const listener = b.listen(80);
 * const client = a.connect(clock.now(), 0xc0000202, 80);
 * client.write(new TextEncoder().encode("hello"), 0, 5);
 * while (wire.length > 0) {
 *   const p = wire.shift()!;
 *   p.to.onPacket(clock.now(), p.src, p.dst, p.bytes, 0, p.bytes.length);
 * }
 * const server = listener.accept()!;
 * const got = new Uint8Array(5);
 * server.read(got, 0, 5);
 * console.assert(new TextDecoder().decode(got) === "hello");
 * console.assert(client.stateName === "ESTABLISHED");
 * ```
 */
export class TcpLayer implements IpProtocolHandler, Ipv6ProtocolHandler, TcpConnectionOwner {
  /** Counters. */
  readonly stats: TcpStats = newTcpStats();
  /** Effective configuration. */
  readonly config: TcpConfig;
  readonly #ctx: TcpContext;
  readonly #ip: IpSender;
  /** RFC 6056 port selection. */
  readonly #ports: EphemeralPorts;
  /** The tables as port selection sees them (made once). */
  readonly #portTable: EphemeralPortTable;
  readonly #secret: Uint8Array;
  /** remoteAddr*65536+remotePort → (localAddr*65536+localPort → connection). */
  /**
   * remoteAddr*65536+remotePort → the one connection with that peer end (the common case
   * for a server: no inner map per connection), or a map localAddr*65536+localPort → connection.
   */
  readonly #conns = new Map<number, TcpConnection | Map<number, TcpConnection>>();
  readonly #listeners = new Map<number, TcpListener>();
  #connectionCount = 0;
  /** RSTs to segments for no connection (`#resetAllowed`). */
  readonly #resetLimit = new WindowRateLimit();
  /** Challenge ACKs over every connection ({@link challengeAckAllowed}). */
  readonly #challengeLimit = new WindowRateLimit();
  /** Ports of bound, non-listening sockets and their IP options ({@link bindPort}). */
  readonly #bound = new Map<number, BoundIpOptions>();
  /** Connections in TIME-WAIT, at most `config.maxTimeWait` (Linux tcp_max_tw_buckets). */
  readonly #timeWait = new Set<TcpConnection>();
  /** Receive coalescing (tcp_coalesce.ts; see beginReceiveBatch). */
  readonly #coalesce = new TcpReceiveCoalescer(this.stats);
  /** The connection found by the last successful lookup (see #lookup). */
  #lastConn: TcpConnection | null = null;
  readonly #packet = new TcpPacket(new Uint8Array(0), 0, 0);
  readonly #rx: TcpRepr = newTcpRepr();
  /** RSTs and cookie SYN-ACKs (control_segment.ts). */
  readonly #control: TcpControlSegments;
  // ---- IPv6 (issue 18): a table of its own, keyed by the peer's address hash and both ports ----
  #ip6: Tcp6Sender | null = null;
  /** The IPv6 connections (tcp6_table.ts). */
  readonly #six: Tcp6Table;
  /** Scratch path of segments that belong to no connection (RST, cookie SYN-ACK). */
  #ctl6: Tcp6Path | null = null;
  readonly #parse6 = { verifyChecksum: true, ipv6AddressSum: 0 };

  /**
   * Makes the TCP layer of one host.
   *
   * @param opts network layer, wheel, clock, config
   */
  constructor(opts: TcpLayerOptions) {
    this.config = resolveTcpConfig(opts.config);
    this.#ip = opts.ip;
    this.#secret = opts.secret ?? processSecret();
    this.#ports = new EphemeralPorts(this.#secret, opts.random);
    this.#portTable = {
      isListening: (port) => this.#listeners.has(port),
      holder: (localAddr, localPort, remoteAddr, remotePort, six) =>
        six === null
          ? this.#lookup(localAddr, localPort, remoteAddr, remotePort)
          : this.#six.lookup(six.local6!, localPort, six.remote6!, remotePort)?.conn as
            | TcpConnection
            | undefined,
    };
    this.#ctx = {
      ip: opts.ip,
      wheel: opts.wheel,
      clock: opts.clock,
      config: this.config,
      secret: this.#secret,
      stats: this.stats,
      rxEcn: 0,
      owner: this,
      scratch: newTcpRepr(),
      ringPool: new ByteRingStoragePool({ maxRetainedBytes: ringPoolRetainedBytes(this.config) }),
      segLogPool: new SegmentLogPool(),
    };
    this.#six = new Tcp6Table(this.#ctx, this.#secret);
    this.#control = new TcpControlSegments(this.stats, this.config, this.#secret);
  }

  /** Connections in the demux table (including TIME-WAIT ones). */
  get connectionCount(): number {
    return this.#connectionCount;
  }

  /** Connections in TIME-WAIT (at most `config.maxTimeWait`). */
  get timeWaitCount(): number {
    return this.#timeWait.size;
  }

  /** Listening ports. */
  get listenerCount(): number {
    return this.#listeners.size;
  }

  /**
   * Every connection in the demux table (diagnostics; allocates).
   *
   * @returns the connections
   */
  connections(): TcpConnection[] {
    const out: TcpConnection[] = [];
    for (const v of this.#conns.values()) {
      if (v instanceof TcpConnection) out.push(v);
      else for (const c of v.values()) out.push(c);
    }
    for (const c of this.#six.connections()) out.push(c);
    return out;
  }

  // ------------------------------------------------------------------ table

  #lookup(localAddr: number, localPort: number, remoteAddr: number, remotePort: number) {
    // One-entry cache: a bulk flow hits the same connection segment after segment, and the
    // two Map lookups below (keys beyond 2^31 are heap numbers) cost more than the compare.
    const hit = this.#lastConn;
    if (
      hit !== null && hit.remotePort === remotePort && hit.localPort === localPort &&
      hit.remoteAddr === remoteAddr && hit.localAddr === localAddr
    ) return hit;
    const v = this.#conns.get(remoteAddr * PORT_SPACE + remotePort);
    if (v === undefined) return undefined;
    let conn: TcpConnection | undefined;
    if (v instanceof TcpConnection) {
      if (v.localPort !== localPort || v.localAddr !== localAddr) return undefined;
      conn = v;
    } else {
      conn = v.get(localAddr * PORT_SPACE + localPort);
      if (conn === undefined) return undefined;
    }
    this.#lastConn = conn;
    return conn;
  }

  #insert(conn: TcpConnection): void {
    const outerKey = conn.remoteAddr * PORT_SPACE + conn.remotePort;
    const v = this.#conns.get(outerKey);
    if (v === undefined) {
      this.#conns.set(outerKey, conn);
    } else {
      let inner: Map<number, TcpConnection>;
      if (v instanceof TcpConnection) {
        // A second connection with this peer end: switch to an inner map.
        inner = new Map();
        inner.set(v.localAddr * PORT_SPACE + v.localPort, v);
        this.#conns.set(outerKey, inner);
      } else {
        inner = v;
      }
      inner.set(conn.localAddr * PORT_SPACE + conn.localPort, conn);
    }
    this.#lastConn = null;
    this.#connectionCount++;
  }

  #remove(conn: TcpConnection): void {
    const outerKey = conn.remoteAddr * PORT_SPACE + conn.remotePort;
    const v = this.#conns.get(outerKey);
    if (v === undefined) return;
    if (v instanceof TcpConnection) {
      if (v !== conn) return;
      this.#conns.delete(outerKey);
    } else {
      const key = conn.localAddr * PORT_SPACE + conn.localPort;
      if (v.get(key) !== conn) return;
      v.delete(key);
      if (v.size === 0) this.#conns.delete(outerKey);
    }
    if (this.#lastConn === conn) this.#lastConn = null;
    this.#connectionCount--;
  }

  /** No new connection may be made: `maxConnections` are held outside TIME-WAIT. */
  #atConnectionLimit(): boolean {
    return this.#connectionCount - this.#timeWait.size >= this.config.maxConnections;
  }

  /**
   * `conn` is in TIME-WAIT after an input (the only way in). Beyond `maxTimeWait` it goes to
   * CLOSED at once, as Linux tcp_time_wait does past tcp_max_tw_buckets (TCPTIMEWAITOVERFLOW):
   * the ACK of the peer's FIN is already sent, only the 2 MSL guard is given up.
   */
  #noteTimeWait(conn: TcpConnection): void {
    if (this.#timeWait.has(conn)) return;
    if (this.#timeWait.size >= this.config.maxTimeWait) {
      this.stats.timeWaitOverflows++;
      conn.skipTimeWait();
      return;
    }
    this.#timeWait.add(conn);
  }

  // ------------------------------------------------------------------ owner callbacks

  /**
   * A passive connection completed its handshake: move it to the accept queue.
   *
   * @param conn the connection
   * @returns nothing
   */
  onConnectionEstablished(conn: TcpConnection): void {
    const listener = conn.listener;
    if (listener === null) return;
    if (conn.inSynQueue) {
      conn.inSynQueue = false;
      listener.synQueueLength--;
    }
    if (!listener._enqueue(conn)) {
      this.stats.listenOverflows++;
      conn.abort();
    }
  }

  /**
   * A connection entered CLOSED: forget it.
   *
   * @param conn the connection
   * @returns nothing
   */
  onConnectionReleased(conn: TcpConnection): void {
    const listener = conn.listener;
    if (listener !== null && conn.inSynQueue) {
      conn.inSynQueue = false;
      listener.synQueueLength--;
    }
    if (this.#timeWait.size !== 0) this.#timeWait.delete(conn);
    if (this.#six.size === 0 || !this.#six.remove(conn)) this.#remove(conn);
    else this.#connectionCount--;
  }

  /** @internal */
  _removeListener(listener: TcpListener): void {
    if (this.#listeners.get(listener.port) === listener) this.#listeners.delete(listener.port);
    // Embryonic connections of this listener are dropped with it.
    for (const c of this.connections()) {
      if (c.listener === listener && c.state === TcpState.SYN_RECEIVED) c.abort();
    }
  }

  // ------------------------------------------------------------------ API

  /**
   * Active open: allocate a port, send SYN.
   *
   * @param nowMs current time
   * @param remoteAddr peer address: int32 as the stack holds addresses, or the unsigned form
   * @param remotePort peer port
   * @param opts local port/address, callbacks
   * @returns the connection in SYN-SENT
   * @throws NotConnected when there is no route; AddrInUse when no port is free;
   *   TooManyConnections at `config.maxConnections`;
   *   HostUnreachable for the limited broadcast or a multicast address (RFC 9293 §3.9.1.1)
   */
  connect(
    nowMs: number,
    remoteAddr: number,
    remotePort: number,
    opts: TcpConnectOptions = {},
  ): TcpConnection {
    // Addresses are int32 inside the stack (address.ts); the unsigned form is accepted here.
    remoteAddr |= 0;
    if (isBroadcastOrMulticast(remoteAddr)) {
      // RFC 9293 §3.9.1.1 (MUST-46): an OPEN to a broadcast or multicast address is an error
      // (Linux tcp_v4_connect: ENETUNREACH).
      throw new HostUnreachable(`${formatIpv4(remoteAddr)} is a broadcast or multicast address`);
    }
    const localAddr = (opts.localAddr ?? this.#ip.sourceAddressFor(remoteAddr)) | 0;
    if (localAddr === 0) throw new NotConnected("no route to host");
    if (this.#atConnectionLimit()) {
      this.stats.connectionLimitDrops++;
      throw new TooManyConnections(`${this.config.maxConnections} connections open`);
    }
    let port = opts.localPort ?? 0;
    if (port !== 0) {
      if (this.#lookup(localAddr, port, remoteAddr, remotePort) !== undefined) {
        throw new AddrInUse(`port ${port} in use`);
      }
    } else {
      port = this.#ports.pick(nowMs, localAddr, remoteAddr, remotePort, null, this.#portTable);
    }
    const conn = new TcpConnection(this.#ctx, localAddr, port, remoteAddr, remotePort);
    if (opts.events) conn.events = opts.events;
    this.#insert(conn);
    opts.configure?.(conn);
    conn.openActive(nowMs, opts.iss);
    return conn;
  }

  /**
   * Passive open (RFC 9293 §3.10.1 with passive flag).
   *
   * @param port local port
   * @param backlog limit of the SYN queue and of the accept queue (default 128)
   * @param localAddr local address to accept on (0 = any; int32 or the unsigned form)
   * @param family families accepted and the IPv6 address (default both, any address)
   * @returns the listener
   * @throws AddrInUse when the port already has a listener
   */
  listen(
    port: number,
    backlog: number = DEFAULT_BACKLOG,
    localAddr = 0,
    family: TcpListenFamilyOptions = {},
  ): TcpListener {
    if (this.#listeners.has(port)) throw new AddrInUse(`port ${port} is already listening`);
    const listener = new TcpListener(this, port, localAddr | 0, Math.max(1, backlog));
    listener.family = family.family ?? "any";
    listener.localAddr6 = family.localAddr6 ?? null;
    this.#listeners.set(port, listener);
    return listener;
  }

  /**
   * Records a socket bound to `port` that does not listen: a descriptor facade's `bind()`
   * before `listen()`. Nothing changes unless {@link TcpConfig.resetFromBoundSocket} is on;
   * then the RST answering a segment for that port carries `ipOptions` (FreeBSD). At most one
   * entry a port (65,536 in all); calling again replaces the options.
   *
   * @param port the bound port
   * @param ipOptions the socket's TTL/hop limit and TOS/traffic class
   */
  bindPort(port: number, ipOptions: BoundIpOptions): void {
    this.#bound.set(port & 0xffff, { ttl: ipOptions.ttl, tos: ipOptions.tos });
  }

  /**
   * Forgets {@link bindPort}'s record: the socket listens, connects or is closed.
   *
   * @param port the bound port
   */
  unbindPort(port: number): void {
    this.#bound.delete(port & 0xffff);
  }

  /**
   * Resets every connection and closes every listener (stack shutdown).
   *
   * @returns nothing
   */
  abortAll(): void {
    for (const l of [...this.#listeners.values()]) l.close();
    for (const c of this.connections()) c.abort();
  }

  // ------------------------------------------------------------------ input

  /**
   * A TCP segment arrived (RFC 9293 §3.10.7). Verifies the checksum, then
   * demultiplexes.
   *
   * @param nowMs current time
   * @param src IPv4 source
   * @param dst IPv4 destination
   * @param bytes buffer (valid during the call only)
   * @param offset segment start
   * @param length segment length
   * @param checksumVerified true when the device already validated the TCP checksum
   *   (receive checksum offload: a virtio_net_hdr DATA_VALID flag, TP_STATUS_CSUM_VALID, or
   *   a link that cannot corrupt frames); the segment is then not summed again
   * @param toBroadcast the IPv4 layer says `dst` is a broadcast or multicast address (the
   *   directed broadcast of its subnet is known only there); the segment is then discarded
   * @param ipTos the datagram's TOS byte, whose ECN field (RFC 3168 §5) TCP reads
   * @returns nothing
   */
  onPacket(
    nowMs: number,
    src: number,
    dst: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    checksumVerified = false,
    toBroadcast = false,
    ipTos = 0,
  ): void {
    // int32 addresses (what the IPv4 layer passes; a no-op then), so demux compares one form.
    src |= 0;
    dst |= 0;
    this.stats.segmentsIn++;
    const coalesce = this.#coalesce;
    if (coalesce.open) {
      if (
        !toBroadcast &&
        coalesce.append(nowMs, src, dst, bytes, offset, length, checksumVerified, ipTos)
      ) return;
      coalesce.endRun(nowMs);
    }
    this.#ctx.rxEcn = ipTos & ECN_MASK;
    if (toBroadcast || isBroadcastOrMulticast(dst)) {
      // RFC 1122 §4.2.3.10, RFC 9293 §3.9.2.3 (MUST-57): a SYN to a broadcast or multicast
      // address is silently discarded; and no RST answers one (RFC 1122 §4.2.3.10, as Linux
      // tcp_v4_send_reset: only for RTN_LOCAL). No connection has such a local address, so
      // like Linux (tcp_v4_rcv drops what is not PACKET_HOST) every such segment goes.
      this.stats.broadcastDrops++;
      return;
    }
    if (src === 0 || isBroadcastOrMulticast(src)) {
      // RFC 1122 §3.2.1.3 / §4.2.3.10: a source that names no single host is discarded (the
      // IPv4 layer already does; TcpLayer also serves other senders, e.g. packetdrill).
      this.stats.badSourceDrops++;
      return;
    }
    const seg = TcpRepr.parse(
      this.#packet.reset(bytes, offset, length),
      src,
      dst,
      this.#rx,
      checksumVerified ? SKIP_CHECKSUM : undefined,
    );
    if (isWireError(seg)) {
      this.stats.malformed++;
      return;
    }
    const conn = this.#lookup(dst, seg.dstPort, src, seg.srcPort);
    if (conn !== undefined) {
      const listener = conn.listener;
      if (
        conn.state === TcpState.SYN_RECEIVED && listener !== null && this.config.synCookies &&
        (seg.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_ACK &&
        seg.ack !== seqAdd(conn.iss, 1) &&
        synCookieWindowOpen(listener.lastCookieMs, nowMs)
      ) {
        // The peer may have completed a SYN-cookie handshake while a duplicate of its SYN
        // created this embryonic connection. A valid cookie wins (as Linux's listener check);
        // otherwise the ACK is dropped rather than answered with RST, which would reset the
        // peer's cookie connection. Its next segment from ISN+1 will carry the proof.
        if (this.#validateCookie(nowMs, dst, src, seg) === null) return;
        conn.abort();
      } else if (
        conn.state === TcpState.TIME_WAIT &&
        (seg.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN &&
        seqGt(seg.seq, conn.rcvNxt) && this.#listeners.has(seg.dstPort)
      ) {
        // RFC 9293 §3.10.7.4 (TIME-WAIT) / RFC 6191: a new SYN above the old sequence space
        // may reopen the 4-tuple: drop the TIME-WAIT connection, hand the SYN to the listener.
        conn.abort();
      } else {
        if (
          coalesce.batching && seg.flags === TCP_ACK && seg.payloadLength > 0 &&
          seg.sackCount === 0 && (ipTos & ECN_MASK) !== ECN_CE
        ) {
          coalesce.start(nowMs, conn, seg, bytes, offset, src, dst, null, null, ipTos);
          return;
        }
        conn.onSegment(nowMs, seg);
        if (conn.state === TcpState.TIME_WAIT) this.#noteTimeWait(conn);
        return;
      }
    }
    const listener = this.#listeners.get(seg.dstPort);
    if (
      listener !== undefined && (listener.localAddr === 0 || listener.localAddr === dst) &&
      listener.family !== "ipv6"
    ) {
      this.#listenInput(nowMs, listener, src, dst, seg, null);
      return;
    }
    this.#closedInput(nowMs, src, dst, seg, this.#ip);
  }

  /**
   * Opens a receive batch: receive coalescing, as Linux's GRO (`tcp_gro_receive`) does for a
   * NAPI poll, holds runs of in-order segments of one connection open until
   * {@link endReceiveBatch} (the event loop brackets each `device.receive` batch with them).
   * What joins a run and what ends it: {@link TcpReceiveCoalescer.beginBatch}
   * (tcp_coalesce.ts). Counted in `rxCoalescedRuns` and `rxCoalescedSegments`.
   */
  beginReceiveBatch(): void {
    this.#coalesce.beginBatch();
  }

  /**
   * Ends the receive batch begun with {@link beginReceiveBatch}: the open run, if any, ends.
   *
   * @param nowMs current time
   */
  endReceiveBatch(nowMs: number): void {
    this.#coalesce.endBatch(nowMs);
  }

  /**
   * Whether an RST to a segment for no connection may go out now: a token bucket of
   * `resetLimitPerSecond` refilled each second, as Linux bounds them with the ICMP rate
   * limit and FreeBSD with badport_bandlim (`net.inet.icmp.icmplim`) — an answer to
   * unsolicited segments must not amplify a flood. Refused ones count in `resetsLimited`.
   */
  #resetAllowed(nowMs: number): boolean {
    if (this.#resetLimit.allow(nowMs, this.config.resetLimitPerSecond)) return true;
    this.stats.resetsLimited++;
    return false;
  }

  /**
   * RFC 5961 §7 and Linux `tcp_challenge_ack_limit`: whether the layer-wide challenge-ACK
   * budget (`challengeAckGlobalLimitPerSecond` per second, over every connection) allows one
   * more. Each connection has its own limit as well.
   *
   * @param nowMs current time
   * @returns true when one may be sent (and it is counted)
   */
  challengeAckAllowed(nowMs: number): boolean {
    return this.#challengeLimit.allow(nowMs, this.config.challengeAckGlobalLimitPerSecond);
  }

  /** RFC 9293 §3.10.7.1: CLOSED — answer anything but RST with RST (through `ip`). */
  #closedInput(nowMs: number, src: number, dst: number, seg: TcpRepr, ip: IpSender): void {
    const flags = seg.flags;
    if ((flags & TCP_RST) !== 0) return;
    if (!this.#resetAllowed(nowMs)) return;
    const bound = this.config.resetFromBoundSocket && this.#bound.size > 0
      ? this.#bound.get(seg.dstPort) ?? null
      : null;
    if ((flags & TCP_ACK) !== 0) {
      // <SEQ=SEG.ACK><CTL=RST>
      this.#control.send(
        ip,
        dst,
        src,
        seg.dstPort,
        seg.srcPort,
        seg.ack,
        0,
        TCP_RST,
        0,
        0,
        null,
        bound,
      );
    } else {
      // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
      const segLen = seg.payloadLength + ((flags & TCP_SYN) ? 1 : 0) + ((flags & TCP_FIN) ? 1 : 0);
      this.#control.send(
        ip,
        dst,
        src,
        seg.dstPort,
        seg.srcPort,
        0,
        seqAdd(seg.seq, segLen),
        TCP_RST | TCP_ACK,
        0,
        0,
        null,
        bound,
      );
    }
  }

  /**
   * RFC 9293 §3.10.7.2: LISTEN. Over IPv6 `src`/`dst` are tags and `ctl6` the
   * scratch path pointed at the segment's addresses (null over IPv4).
   */
  #listenInput(
    nowMs: number,
    listener: TcpListener,
    src: number,
    dst: number,
    seg: TcpRepr,
    ctl6: Tcp6Path | null,
  ): void {
    const ip: IpSender = ctl6 ?? this.#ip;
    const flags = seg.flags;
    // First, check for an RST: ignore it.
    if ((flags & TCP_RST) !== 0) return;
    // Second, check for an ACK: a SYN cookie (RFC 4987 §3.6) or a reset.
    if ((flags & TCP_ACK) !== 0) {
      if ((flags & TCP_SYN) === 0 && this.config.synCookies) {
        if (!synCookieWindowOpen(listener.lastCookieMs, nowMs)) {
          // Linux tcp_synq_no_recent_overflow: this listener sent no cookie within a cookie's
          // lifetime, so the ACK cannot complete one and is not checked — else a blind guess
          // of the 24-bit MAC would open a connection (and deliver its data) from a forged
          // address at any time. A stray ACK: RST below.
          this.stats.synCookiesUnexpected++;
        } else {
          const cookie = this.#validateCookie(nowMs, dst, src, seg);
          if (cookie === null) {
            // While cookies are in use, an ACK that does not validate may belong to a cookie
            // handshake whose first segment (seq = ISN+1, the only one that can carry the
            // cookie's proof) was lost: drop it and let the peer retransmit from there,
            // instead of resetting the connection as Linux does.
            this.stats.synCookiesFailed++;
            return;
          }
          if (this.#atConnectionLimit()) {
            // Dropped, not reset: the peer retransmits while its cookie is still valid.
            this.stats.connectionLimitDrops++;
            return;
          }
          if (!listener._acceptQueueFull()) {
            this.stats.synCookiesAccepted++;
            const conn = this.#makeConn(dst, seg.dstPort, src, seg.srcPort, ctl6);
            conn.listener = listener;
            listener.configure?.(conn);
            conn.openFromCookie(
              nowMs,
              seqAdd(seg.ack, -1),
              seqAdd(seg.seq, -1),
              cookie.mss,
              seg.window,
              cookie.options,
            );
            if (!conn.released) conn.onSegment(nowMs, seg);
            return;
          }
        }
      }
      if (this.#resetAllowed(nowMs)) {
        this.#control.send(ip, dst, src, seg.dstPort, seg.srcPort, seg.ack, 0, TCP_RST, 0, 0, null);
      }
      return;
    }
    // Third, check for a SYN.
    if ((flags & TCP_SYN) === 0) return;
    if (listener._acceptQueueFull()) {
      // Linux drops SYNs while the accept queue is full; the client retries.
      this.stats.listenOverflows++;
      return;
    }
    if (this.#atConnectionLimit()) {
      // Like a SYN Linux cannot allocate a request for: dropped, the client retries.
      this.stats.connectionLimitDrops++;
      return;
    }
    if (listener.synQueueLength >= listener.backlog) {
      if (this.config.synCookies) {
        listener.lastCookieMs = nowMs;
        this.#control.sendCookie(nowMs, src, dst, seg, ip);
      } else this.stats.listenOverflows++;
      return;
    }
    const conn = this.#makeConn(dst, seg.dstPort, src, seg.srcPort, ctl6);
    conn.listener = listener;
    conn.inSynQueue = true;
    listener.synQueueLength++;
    listener.configure?.(conn);
    conn.openPassive(nowMs, seg);
  }

  /**
   * A new connection in the demux table: over IPv4 (`ctl6` null) with these
   * addresses, over IPv6 on a path of its own to `ctl6`'s addresses.
   */
  #makeConn(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
    ctl6: Tcp6Path | null,
  ): TcpConnection {
    if (ctl6 === null) {
      const conn = new TcpConnection(this.#ctx, localAddr, localPort, remoteAddr, remotePort);
      this.#insert(conn);
      return conn;
    }
    return this.#makeConn6(ctl6.local6!, localPort, ctl6.remote6!, remotePort);
  }

  // ------------------------------------------------------------------ SYN cookies

  /** A cookie ACK's MSS and options (syn_cookies.ts), or null when it is not valid. */
  #validateCookie(nowMs: number, dst: number, src: number, seg: TcpRepr): SynCookieAck | null {
    return validateSynCookieAck(
      this.#secret,
      this.config,
      nowMs,
      dst,
      seg.dstPort,
      src,
      seg.srcPort,
      seg,
    );
  }

  // ------------------------------------------------------------------ IPv6 (issue 18)

  /**
   * Enables TCP over IPv6: register the layer with the IPv6 layer for Next
   * Header 6 as well (the stack does both).
   *
   * @param ip6 the IPv6 layer
   */
  attachIpv6(ip6: Tcp6Sender): void {
    this.#ip6 = ip6;
    this.#ctl6 = new Tcp6Path(ip6, this.#secret);
  }

  /** Connections over IPv6 in the demux table. */
  get connectionCount6(): number {
    return this.#six.size;
  }

  /** A new IPv6 connection in the demux table. */
  #makeConn6(
    local6: Ipv6Address,
    localPort: number,
    remote6: Ipv6Address,
    remotePort: number,
  ): TcpConnection {
    const conn = this.#six.make(this.#ip6!, local6, localPort, remote6, remotePort);
    this.#connectionCount++;
    return conn;
  }

  /**
   * Active open over IPv6 (as {@link connect}): our source by RFC 6724, an
   * RFC 6056 port keyed by the tags of both addresses, MSS = path MTU − 60.
   *
   * @param nowMs current time
   * @param remote6 the peer
   * @param remotePort its port
   * @param opts local port/IPv6 address, callbacks, ISS
   * @returns the connection in SYN-SENT
   * @throws NotConnected without IPv6 or a source address; HostUnreachable for a
   *   multicast or unspecified address (RFC 9293 §3.9.1.1); AddrInUse; TooManyConnections
   */
  connect6(
    nowMs: number,
    remote6: Ipv6Address,
    remotePort: number,
    opts: TcpConnectOptions = {},
  ): TcpConnection {
    const ip6 = this.#ip6;
    if (ip6 === null) throw new NotConnected("IPv6 is not configured");
    if (remote6.isMulticast() || remote6.isUnspecified()) {
      throw new HostUnreachable(`${remote6} is a multicast or unspecified address`);
    }
    const local6 = opts.localAddr6 ?? ip6.sourceAddressFor6(remote6);
    if (local6 === null) throw new NotConnected(`no IPv6 source address toward ${remote6}`);
    if (this.#atConnectionLimit()) {
      this.stats.connectionLimitDrops++;
      throw new TooManyConnections(`${this.config.maxConnections} connections open`);
    }
    let port = opts.localPort ?? 0;
    if (port !== 0) {
      if (this.#six.lookup(local6, port, remote6, remotePort) !== undefined) {
        throw new AddrInUse(`port ${port} in use`);
      }
    } else {
      const probe = new Tcp6Path(ip6, this.#secret);
      probe.set(local6, remote6);
      port = this.#ports.pick(
        nowMs,
        probe.localTag,
        probe.remoteTag,
        remotePort,
        probe,
        this.#portTable,
      );
    }
    const conn = this.#makeConn6(local6, port, remote6, remotePort);
    if (opts.events) conn.events = opts.events;
    opts.configure?.(conn);
    conn.openActive(nowMs, opts.iss);
    return conn;
  }

  /**
   * A TCP segment over IPv6 (`Ipv6ProtocolHandler.onPacket6`): the RFC 8200
   * §8.1 pseudo-header checksum, demux on the IPv6 4-tuple, then the same
   * states as {@link onPacket} (listeners of family "any" or "ipv6", SYN
   * cookies over the tags, RST for closed ports). Never a reply to a
   * multicast destination (RFC 9293 §3.9.2.3).
   *
   * @param nowMs current time
   * @param src source (the layer's object, kept per flow)
   * @param dst destination
   * @param bytes buffer (valid during the call only)
   * @param offset segment start
   * @param length segment length
   * @param checksumVerified the device validated the checksum
   * @param toMulticast the destination was a multicast group
   */
  onPacket6(
    nowMs: number,
    src: Ipv6Address,
    dst: Ipv6Address,
    bytes: Uint8Array,
    offset: number,
    length: number,
    checksumVerified: boolean,
    toMulticast: boolean,
  ): void {
    this.stats.segmentsIn++;
    const coalesce = this.#coalesce;
    if (coalesce.open) {
      if (
        !toMulticast &&
        coalesce.append6(nowMs, src, dst, bytes, offset, length, checksumVerified)
      ) return;
      coalesce.endRun(nowMs);
    }
    // IPv6's traffic class does not reach TCP here: no ECN codepoint from an IPv4 segment before.
    this.#ctx.rxEcn = 0;
    if (toMulticast || dst.isMulticast()) {
      this.stats.broadcastDrops++;
      return;
    }
    if (src.isUnspecified() || src.isMulticast()) {
      this.stats.badSourceDrops++;
      return;
    }
    const parse = this.#parse6;
    parse.verifyChecksum = !checksumVerified;
    parse.ipv6AddressSum = ipv6AddressSum(src, dst);
    const seg = TcpRepr.parse(this.#packet.reset(bytes, offset, length), 0, 0, this.#rx, parse);
    if (isWireError(seg)) {
      this.stats.malformed++;
      return;
    }
    const path = this.#six.lookup(dst, seg.dstPort, src, seg.srcPort);
    if (path !== undefined) {
      const conn = path.conn as TcpConnection;
      const listener = conn.listener as TcpListener | null;
      if (
        conn.state === TcpState.SYN_RECEIVED && listener !== null && this.config.synCookies &&
        (seg.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_ACK &&
        seg.ack !== seqAdd(conn.iss, 1) &&
        synCookieWindowOpen(listener.lastCookieMs, nowMs)
      ) {
        // As onPacket: a valid cookie wins over a duplicate SYN's embryonic connection.
        if (this.#validateCookie(nowMs, path.localTag, path.remoteTag, seg) === null) return;
        conn.abort();
      } else if (
        conn.state === TcpState.TIME_WAIT &&
        (seg.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN &&
        seqGt(seg.seq, conn.rcvNxt) && this.#listeners.has(seg.dstPort)
      ) {
        conn.abort(); // RFC 9293 §3.10.7.4 / RFC 6191, as onPacket
      } else {
        if (
          coalesce.batching && checksumVerified && seg.flags === TCP_ACK && seg.payloadLength > 0 &&
          seg.sackCount === 0
        ) {
          // A run over IPv6, as onPacket's (segments the device vouched for only).
          coalesce.start(nowMs, conn, seg, bytes, offset, 0, 0, src, dst, 0);
          return;
        }
        conn.onSegment(nowMs, seg);
        if (conn.state === TcpState.TIME_WAIT) this.#noteTimeWait(conn);
        return;
      }
    }
    const ctl = this.#ctl6;
    if (ctl === null) return;
    ctl.set(dst, src);
    const listener = this.#listeners.get(seg.dstPort);
    if (
      listener !== undefined && listener.family !== "ipv4" &&
      (listener.localAddr6 === null || listener.localAddr6.equals(dst))
    ) {
      this.#listenInput(nowMs, listener, ctl.remoteTag, ctl.localTag, seg, ctl);
      return;
    }
    this.#closedInput(nowMs, ctl.remoteTag, ctl.localTag, seg, ctl);
  }

  /**
   * An ICMPv6 error quoting one of our segments (RFC 4443 §3; RFC 5927 §4.1:
   * the quoted sequence number must be in flight, checked by the connection).
   * Destination Unreachable acts as its IPv4 twin (hard in SYN-SENT, port
   * unreachable is "refused"); Packet Too Big lowers the MSS of the live
   * connection to the new path MTU − 60 and resends (RFC 8201 §4, §5.2).
   *
   * @param nowMs current time
   * @param type ICMPv6 type
   * @param code ICMPv6 code
   * @param parameter the MTU of a Packet Too Big
   * @param quoted buffer holding the invoking packet
   * @param quotedOffset where its IPv6 header starts
   * @param quotedLength quoted bytes
   */
  onIcmpv6Error(
    nowMs: number,
    type: number,
    code: number,
    parameter: number,
    quoted: Uint8Array,
    quotedOffset: number,
    quotedLength: number,
  ): void {
    this.#six.onIcmpv6Error(nowMs, type, code, parameter, quoted, quotedOffset, quotedLength);
  }

  // ------------------------------------------------------------------ ICMP

  /**
   * An ICMP error quoting one of our segments (RFC 1122 §3.2.2.1, RFC 5927).
   *
   * @param nowMs current time
   * @param type ICMP type
   * @param code ICMP code
   * @param nextHopMtu MTU for "fragmentation needed"
   * @param quoted original IPv4 header + at least 8 bytes of TCP
   * @param quotedOffset where the quoted IPv4 header starts
   * @param quotedLength quoted bytes
   * @returns nothing
   */
  onIcmpError(
    nowMs: number,
    type: number,
    code: number,
    nextHopMtu: number,
    quoted: Uint8Array,
    quotedOffset: number,
    quotedLength: number,
  ): void {
    // Destination unreachable, time exceeded (RFC 1122 §4.2.3.9); the connection decides.
    if (type !== ICMP_DEST_UNREACHABLE && type !== ICMP_TIME_EXCEEDED) return;
    if (quotedLength < IPV4_HEADER_LEN || quotedOffset + quotedLength > quoted.length) return;
    const ihl = (quoted[quotedOffset] & IPV4_IHL_MASK) * 4;
    if (ihl < IPV4_HEADER_LEN || quotedLength < ihl + ICMP_MIN_QUOTED_DATA_LEN) return;
    if (quoted[quotedOffset + IPV4_PROTOCOL_OFFSET] !== IP_PROTO_TCP) return;
    const localAddr = readIpv4(quoted, quotedOffset + IPV4_SRC_OFFSET);
    const remoteAddr = readIpv4(quoted, quotedOffset + IPV4_DST_OFFSET);
    const t = quotedOffset + ihl;
    const localPort = read16(quoted, t + TCP_SRC_PORT_OFFSET);
    const remotePort = read16(quoted, t + TCP_DST_PORT_OFFSET);
    const seq = readI32(quoted, t + TCP_SEQ_OFFSET); // the quoted sequence number, int32 like every other
    const conn = this.#lookup(localAddr, localPort, remoteAddr, remotePort);
    if (conn !== undefined) conn.onIcmpError(nowMs, type, code, nextHopMtu, seq);
  }
}
