/**
 * {@link UdpConn}: the promise-based datagram socket over a UDP endpoint of
 * the engine (src/udp/), shaped like `Deno.DatagramConn`: `send(data, addr)`,
 * `receive(buf?)`, async iteration, `close()`, `addr`.
 *
 * Sends run synchronously into the engine and leave on the wire before the
 * promise settles. Receives wait for the endpoint's `onReadable` hook, which
 * the stack's event loop fires when a datagram (or an ICMP error) arrives.
 * `connect({ hostname, port })` ties the socket to one peer, as `connect(2)`
 * does: `send(data)` may then omit the address, `receive()` yields only the
 * peer's datagrams, and an ICMP destination unreachable about a datagram sent
 * to the peer (RFC 1122 §4.1.3.3) is reported as a {@link UdpError} by the
 * next `receive()` or `send()` (`PortUnreachable` is ECONNREFUSED). An
 * unconnected socket, like Linux's without `IP_RECVERR`, never sees ICMP
 * errors: a server's receive loop cannot be ended by one.
 *
 * @module
 */

import { UdpError } from "../udp/udp_layer.ts";
import type { UdpEndpoint } from "../udp/udp_layer.ts";
import { checkPort, type NetAddr, netAddr } from "./addr.ts";
import { parseIpv4 } from "../wire/address.ts";
import { type Ipv6Address, parseIpv6 } from "../wire/ipv6_address.ts";

/** What a {@link UdpConn} needs from the stack that made it. */
export interface UdpConnHost {
  /**
   * The time (ms) the stack last read from its clock, without reading it
   * again: a UDP send keeps no timers, and the network layer reads the clock
   * itself when it has to start an ARP resolution.
   */
  readonly recentMs: number;
  /** Resolves a host name to an IPv4 address (int32, src/wire/address.ts); rejects with a `DnsError`. */
  resolveHostname(hostname: string): Promise<number>;
  /** Called after the engine transmitted: flush the device, wake the loop for new deadlines. */
  afterSend(): void;
  /** Our IPv4 address (int32), for {@link UdpConn.addr}. */
  readonly localAddress: number;
  /** Called once when the conn closes. */
  connClosed(conn: UdpConn): void;
}

interface Waiter {
  buf: Uint8Array | undefined;
  resolve: (value: [Uint8Array, NetAddr]) => void;
  reject: (error: unknown) => void;
}

/**
 * A bound UDP socket. Made by `stack.listenDatagram({ port })`.
 *
 * @example
 * ```ts
 * import { UdpConn, type UdpConnHost } from "./udp_conn.ts";
 * import { UdpLayer } from "../udp/udp_layer.ts";
 * // A loopback "network": everything sent comes back to the sender's port.
 * const ip = {
 *   allocate: () => null, send: () => false,
 *   sourceAddressFor: () => 0xc0000202 | 0, mtuFor: () => 1500,
 * };
 * const layer = new UdpLayer(ip);
 * const host: UdpConnHost = {
 *   recentMs: 0, resolveHostname: () => Promise.reject(new Error("no DNS")),
 *   afterSend: () => {}, localAddress: 0xc0000202 | 0, connClosed: () => {},
 * };
 * const conn = new UdpConn(host, layer.bind(5000));
 * console.assert(conn.addr.port === 5000 && conn.addr.hostname === "192.0.2.2");
 * // Simulate an arriving datagram (UDP header + 3 bytes, no checksum).
 * const dgram = new Uint8Array([0x13, 0x88, 0x13, 0x88, 0, 11, 0, 0, 1, 2, 3]);
 * layer.onPacket(0, 0xc0000201 | 0, 0xc0000202 | 0, dgram, 0, dgram.length); // int32 addresses
 * const [data, from] = await conn.receive();
 * console.assert(data.length === 3 && from.hostname === "192.0.2.1" && from.port === 5000);
 * conn.close();
 * ```
 */
export class UdpConn implements AsyncIterable<[Uint8Array, NetAddr]> {
  /** The local address (our IPv4 address and the bound port). */
  readonly addr: NetAddr;
  readonly #host: UdpConnHost;
  readonly #endpoint: UdpEndpoint;
  #waiters: Waiter[] = [];
  #closed = false;
  /** The last dotted-quad destination parsed by {@link send}, and its value (a one-entry cache). */
  #lastHostname: string | null = null;
  #lastAddress = 0;
  /** The last IPv6 literal parsed by {@link send} (null: the cached one is IPv4). */
  #lastAddress6: Ipv6Address | null = null;
  /** The connected peer as given to {@link connect} (numeric), or null. */
  #remote: NetAddr | null = null;

  /**
   * Wraps a bound endpoint.
   *
   * @param host the stack side (time, DNS, loop wake-up)
   * @param endpoint the bound engine endpoint; the conn owns it from now on
   * @param hostname the local address shown in {@link addr} (default our IPv4 address;
   *   e.g. `"::"` for a socket of an IPv6-only stack)
   */
  constructor(host: UdpConnHost, endpoint: UdpEndpoint, hostname?: string) {
    this.#host = host;
    this.#endpoint = endpoint;
    this.addr = hostname === undefined
      ? netAddr("udp", host.localAddress, endpoint.localPort)
      : { transport: "udp", hostname, port: endpoint.localPort };
    endpoint.onReadable = () => this.#drain();
  }

  /** The engine endpoint (counters: `endpoint.stats`). */
  get endpoint(): UdpEndpoint {
    return this.#endpoint;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The peer given to {@link connect} (as a dotted quad), or null when unconnected. */
  get remoteAddr(): NetAddr | null {
    return this.#remote;
  }

  /**
   * Ties the socket to one peer (`connect(2)` on a UDP socket; Linux
   * `ip4_datagram_connect`). Afterwards `send(data)` needs no address (one
   * given must be the peer's, else `IsConnected`), `receive()` yields only
   * datagrams from the peer (others are dropped, counted in
   * `endpoint.stats.rxWrongPeer` and answered as a closed port), and an ICMP
   * error about a datagram to the peer rejects the next `receive()` or
   * `send()` (`PortUnreachable` is the ECONNREFUSED of a refused port).
   * Connecting again changes the peer. A dotted quad is applied before this
   * returns; a host name is resolved with DNS first.
   *
   * @param addr the peer; `hostname` may be a dotted quad or a name
   * @returns settles once connected
   * @throws {UdpError} `NoRoute`, `InvalidAddress`, `Closed`
   * @throws {DnsError} when the host name does not resolve
   * @throws {TypeError} on an invalid port
   *
   * @example
   * ```ts
   * import { MemoryLink, Stack } from "../../mod.ts";
   * const [da, db] = MemoryLink.pair();
   * const a = new Stack({ device: da, ipv4: "192.0.2.2/24" });
   * const b = new Stack({ device: db, ipv4: "192.0.2.1/24" });
   * await a.start();
   * await b.start();
   * const server = b.listenDatagram({ port: 53 });
   * const u = a.listenDatagram({ port: 0 });
   * await u.connect({ hostname: "192.0.2.1", port: 53 });
   * await u.send(new Uint8Array([1, 2, 3]));
   * const [, from] = await server.receive();
   * console.assert(from.port === u.addr.port && u.remoteAddr?.port === 53);
   * await a.close();
   * await b.close();
   * ```
   */
  connect(addr: { hostname: string; port: number }): Promise<void> {
    try {
      if (this.#closed) throw new UdpError("Closed", `port ${this.addr.port} is closed`);
      const port = checkPort(addr.port, "destination port", false);
      const dst6 = ipv6Literal(addr.hostname);
      if (dst6 !== null) {
        const error = this.#endpoint.connect6(dst6, port);
        if (error !== null) throw error;
        this.#remote = { transport: "udp", hostname: dst6.toString(), port };
        return Promise.resolve();
      }
      const dst = parseIpv4(addr.hostname);
      if (dst === null) return this.#connectResolving(addr.hostname, port);
      this.#connectTo(dst, port);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async #connectResolving(hostname: string, port: number): Promise<void> {
    const dst = await this.#host.resolveHostname(hostname);
    if (this.#closed) throw new UdpError("Closed", `port ${this.addr.port} is closed`);
    this.#connectTo(dst, port);
  }

  #connectTo(dst: number, port: number): void {
    const error = this.#endpoint.connect(dst, port);
    if (error !== null) throw error;
    this.#remote = netAddr("udp", dst, port);
  }

  /** Dissolves the association made by {@link connect}: the socket receives from anyone again. */
  disconnect(): void {
    this.#endpoint.disconnect();
    this.#remote = null;
  }

  /**
   * Sends one datagram.
   *
   * @param data payload, 0..65,507 bytes (larger datagrams are fragmented by IPv4)
   * @param addr destination; `hostname` may be a dotted quad or a name (resolved with DNS).
   *   Optional after {@link connect}: the peer; one given must be the peer.
   * @returns the number of payload bytes sent
   * @throws {UdpError} `PortUnreachable`/`HostUnreachable`/... when an earlier datagram to the
   *   connected peer drew an ICMP error, `MessageTooLong`, `NoRoute`, `NoBuffers`, `Closed`,
   *   `NotConnected` (no address and no peer), `IsConnected` (an address other than the peer)
   * @throws {DnsError} when the host name does not resolve
   * @throws {TypeError} on an invalid port
   */
  send(data: Uint8Array, addr?: { hostname: string; port: number }): Promise<number> {
    // Not an async function: a send to a dotted quad settles without a second promise or a
    // suspended frame, which is most of its cost at a million datagrams a second.
    try {
      if (this.#closed) throw new UdpError("Closed", `port ${this.addr.port} is closed`);
      if (addr === undefined) {
        const ep = this.#endpoint;
        if (!ep.connected) {
          throw new UdpError("NotConnected", `port ${this.addr.port} has no peer: give an address`);
        }
        const peer6 = ep.remoteAddr6;
        if (peer6 !== null) return Promise.resolve(this.#sendTo6(data, peer6, ep.remotePort));
        return Promise.resolve(this.#sendTo(data, ep.remoteAddr, ep.remotePort));
      }
      const port = checkPort(addr.port, "destination port", false);
      const hostname = addr.hostname;
      let dst: number | null;
      if (hostname === this.#lastHostname) {
        const cached6 = this.#lastAddress6;
        if (cached6 !== null) return Promise.resolve(this.#sendTo6(data, cached6, port));
        dst = this.#lastAddress;
      } else {
        dst = parseIpv4(hostname);
        if (dst === null) {
          const dst6 = ipv6Literal(hostname);
          if (dst6 === null) return this.#sendResolving(data, hostname, port);
          this.#lastHostname = hostname;
          this.#lastAddress6 = dst6;
          return Promise.resolve(this.#sendTo6(data, dst6, port));
        }
        this.#lastHostname = hostname;
        this.#lastAddress = dst;
        this.#lastAddress6 = null;
      }
      return Promise.resolve(this.#sendTo(data, dst, port));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** {@link send} to a host name: resolves it first (DNS, hosts table). */
  async #sendResolving(data: Uint8Array, hostname: string, port: number): Promise<number> {
    const dst = await this.#host.resolveHostname(hostname);
    if (this.#closed) throw new UdpError("Closed", `port ${this.addr.port} is closed`);
    return this.#sendTo(data, dst, port);
  }

  #sendTo(data: Uint8Array, dst: number, port: number): number {
    const result = this.#endpoint.send(this.#host.recentMs, data, dst, port);
    this.#host.afterSend();
    if (typeof result !== "number") throw result;
    return result;
  }

  #sendTo6(data: Uint8Array, dst: Ipv6Address, port: number): number {
    const result = this.#endpoint.send6(this.#host.recentMs, data, dst, port);
    this.#host.afterSend();
    if (typeof result !== "number") throw result;
    return result;
  }

  /**
   * Waits for the next datagram (from the peer only, once connected).
   *
   * @param buf where to copy the payload (truncated to its length); default a new array
   * @returns the payload (a view of `buf` when given) and the sender's address
   * @throws {UdpError} on a connected socket, an ICMP error about a datagram sent to the peer
   *   (`PortUnreachable`: connection refused); `Closed`
   */
  receive(buf?: Uint8Array): Promise<[Uint8Array, NetAddr]> {
    if (this.#closed) {
      return Promise.reject(new UdpError("Closed", `port ${this.addr.port} is closed`));
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ buf, resolve, reject });
      this.#drain();
    });
  }

  /** Closes the socket: pending receives reject with `UdpError("Closed")`. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#endpoint.close();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(new UdpError("Closed", `port ${this.addr.port} is closed`));
    this.#host.connClosed(this);
  }

  /** Datagrams until the socket is closed (then the iteration ends). */
  async *[Symbol.asyncIterator](): AsyncIterableIterator<[Uint8Array, NetAddr]> {
    while (!this.#closed) {
      try {
        yield await this.receive();
      } catch (e) {
        if (this.#closed && e instanceof UdpError && e.code === "Closed") return;
        throw e;
      }
    }
  }

  /** Hands queued datagrams and errors to waiting receivers. */
  #drain(): void {
    while (this.#waiters.length > 0) {
      const error = this.#endpoint.takeError();
      if (error !== null) {
        this.#waiters.shift()!.reject(error);
        continue;
      }
      const w = this.#waiters[0];
      let data: Uint8Array;
      let srcAddr: number;
      let srcPort: number;
      let src6: Ipv6Address | null;
      if (w.buf !== undefined) {
        const n = this.#endpoint.receiveInto(w.buf, 0);
        if (n < 0) return;
        data = w.buf.subarray(0, n);
        srcAddr = this.#endpoint.lastSrcAddr;
        srcPort = this.#endpoint.lastSrcPort;
        src6 = this.#endpoint.lastSrcAddr6;
      } else {
        const d = this.#endpoint.tryReceive();
        if (d === null) return;
        data = d.data;
        srcAddr = d.srcAddr;
        srcPort = d.srcPort;
        src6 = d.srcAddr6 ?? null;
      }
      this.#waiters.shift();
      w.resolve([
        data,
        src6 === null
          ? netAddr("udp", srcAddr, srcPort)
          : { transport: "udp", hostname: src6.toString(), port: srcPort },
      ]);
    }
  }
}

/** An IPv6 literal, bare or in brackets (`[2001:db8::1]`), or null (issue 18). */
export function ipv6Literal(host: string): Ipv6Address | null {
  if (!host.includes(":")) return null;
  const text = host.charCodeAt(0) === 0x5b && host.endsWith("]") ? host.slice(1, -1) : host;
  return parseIpv6(text);
}
