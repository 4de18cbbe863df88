/**
 * {@link Stack}: the composition root of rawstack and its only event loop.
 *
 * A stack owns one {@link Device}, the {@link NetworkInterface} over it
 * (Ethernet, ARP, IPv4, ICMP), the {@link UdpLayer}, the {@link DnsResolver}
 * and a {@link TimerWheel} for transports that keep timers (TCP). Everything
 * below is a synchronous state machine; the loop feeds it frames and time:
 *
 * 1. receive a batch: `device.receive(sink, budget)` (each frame through the
 *    interface, inside a `try` so a bug in a handler is counted, not fatal);
 * 2. run due timers: `wheel.advance(now)`, `iface.poll(now)`, `resolver.poll(now)`
 *    and the `poll` of attached services;
 * 3. `device.flush()`;
 * 4. wait for the earlier of the next deadline and the device becoming
 *    readable — at most one `device.wait()` promise is outstanding; when an
 *    application call schedules an earlier deadline while the loop is parked,
 *    {@link Stack.kick} wakes it and the still-pending device wait is reused.
 *
 * Application calls (`send`, `ping`, `resolveDns`) run synchronously into the
 * engines, transmit at once and then kick the loop. With a `clock` option
 * (e.g. a `ManualClock`) the loop is off by default and tests drive the stack
 * with {@link Stack.poll}.
 *
 * @module
 */

import { type EyeballsTimer, happyEyeballs } from "./socket/happy_eyeballs.ts";
import { formatIpv4, parseIpv4 } from "./wire/address.ts";
import type { Device } from "./phy/device.ts";
import { type Clock, SystemClock } from "./time/clock.ts";
import { TimerWheel } from "./time/timer_wheel.ts";
import type { NetworkInterface } from "./iface/interface.ts";
import type { ArpEntryInfo } from "./iface/arp_cache.ts";
import type { PingOptions } from "./iface/ping.ts";
import type { IpProtocolHandler } from "./iface/types.ts";
import type { NeighbourInfo } from "./iface/neighbour_cache.ts";
import type { RouterInfo } from "./iface/ndp.ts";
import { IP_PROTOCOL_UDP, type UdpFamily, UdpLayer } from "./udp/udp_layer.ts";
import type { DnsResolver } from "./dns/resolver.ts";
import { DnsError } from "./dns/dns_error.ts";
import type { DnsRecordType } from "./dns/name.ts";
import { UdpConn, type UdpConnHost } from "./socket/udp_conn.ts";
import { checkPort, type NetAddr, netAddr } from "./socket/addr.ts";
import { type TcpConnection, TcpState } from "./tcp/connection.ts";
import { AddrInUse } from "./tcp/errors.ts";
import {
  EPHEMERAL_PORT_FIRST,
  EPHEMERAL_PORT_LAST,
  TcpLayer,
  type TcpListenFamilyOptions,
} from "./tcp/tcp_layer.ts";
import { TcpConn, type TcpConnHost } from "./socket/tcp_conn.ts";
import { TcpListener, type TcpListenerHost } from "./socket/tcp_listener.ts";
import { SocketDescriptors } from "./socket/descriptors.ts";
import type { StackDhcp } from "./dhcp/stack_dhcp.ts";
import { groupDevices, type Router } from "./iface/router.ts";
import {
  type HttpClientOptions,
  stackFetch,
  StackHttpClient,
  type StackRequestInit,
} from "./http/fetch.ts";
import {
  type StackHttpServer,
  stackServe,
  type StackServeHandler,
  type StackServeOptions,
} from "./http/serve.ts";
import {
  checkInterfacesOptions,
  type LoopStats,
  parseIpv6Literal,
  type PingResult,
  type StackAddress,
  type StackCloseOptions,
  type StackConnectOptions,
  type StackListenOptions,
  type StackOptions,
  type StackService,
  type StackStats,
} from "./stack/options.ts";
import { StackClosedError } from "./stack/errors.ts";
import { PendingPings } from "./stack/ping.ts";
import { stackAddresses, stackStats } from "./stack/stats.ts";
import { buildInterface, buildRouter } from "./stack/interfaces.ts";
import { buildResolver, LearnedDnsServers } from "./stack/dns.ts";
import { buildDhcp, dhcpService } from "./stack/dhcp.ts";
import { DEFAULT_RX_BUDGET, LoopSink, StackLoop } from "./stack/loop.ts";
import { IP_PROTO_TCP } from "./wire/ipv4.ts";

export type {
  LoopStats,
  PingResult,
  PoolStats,
  StackAddress,
  StackAddressInfo,
  StackCloseOptions,
  StackConnectOptions,
  StackDhcpLeaseInfo,
  StackInterfaceOptions,
  StackInterfaceStats,
  StackListenOptions,
  StackOptions,
  StackService,
  StackStats,
} from "./stack/options.ts";
export { StackClosedError } from "./stack/errors.ts";
export { DEFAULT_RX_BUDGET } from "./stack/loop.ts";

/** How long {@link Stack.close} lets a DHCPRELEASE wait for the server's MAC, ms. */
const DHCP_RELEASE_WAIT_MS = 1000;

/** How often {@link Stack.close} re-checks lingering connections, ms. */
const LINGER_POLL_MS = 5;

/**
 * One TCP/IP host on one device: ARP, IPv4, ICMP, UDP, DNS and TCP over the
 * device, driven by one event loop (see ARCHITECTURE.md).
 *
 * Permissions: none of its own; the device's (an `AfPacketDevice`
 * needs `--allow-ffi` and root or CAP_NET_RAW; a `MemoryLink` needs nothing).
 *
 * @example
 * ```ts
 * import { Stack } from "./stack.ts";
 * import { MemoryLink } from "./phy/memory_link.ts";
 * const [da, db] = MemoryLink.pair();
 * const a = new Stack({ device: da, ipv4: "192.0.2.2/24" });
 * const b = new Stack({ device: db, ipv4: "192.0.2.1/24" });
 * await a.start();
 * await b.start();
 * const server = b.listenDatagram({ port: 7 });
 * const client = a.listenDatagram({ port: 0 });
 * await client.send(new TextEncoder().encode("hi"), { hostname: "192.0.2.1", port: 7 });
 * const [data, from] = await server.receive();
 * console.assert(new TextDecoder().decode(data) === "hi" && from.hostname === "192.0.2.2");
 * const r = await a.ping("192.0.2.1", { count: 1 });
 * console.assert(r.summary.received === 1);
 * await a.close();
 * await b.close();
 * ```
 */
export class Stack implements UdpConnHost, TcpConnHost, TcpListenerHost {
  /** The network interface (also the `IpSender` transports use); with several, the first. */
  readonly iface: NetworkInterface;
  /** Every interface (one in the single-device form). */
  readonly interfaces: readonly NetworkInterface[];
  /** With `interfaces`: the router (routing table, forwarding, hooks, NAT); else null. */
  readonly router: Router | null;
  /** The timer wheel shared by transports (TCP timers). Advanced by the loop. */
  readonly wheel: TimerWheel;
  /** The UDP engine. */
  readonly udp: UdpLayer;
  /** The TCP engine (RFC 9293). */
  readonly tcp: TcpLayer;
  /** The DNS stub resolver. */
  readonly resolver: DnsResolver;
  /** The device. */
  readonly device: Device;
  /** The time source. */
  readonly clock: Clock;
  /** Loop counters. */
  readonly loopStats: LoopStats = {
    iterations: 0,
    rxFrames: 0,
    parks: 0,
    kicks: 0,
    handlerErrors: 0,
    deviceClosed: false,
  };

  readonly #sink: LoopSink;
  readonly #rxBudget: number;
  readonly #eventLoop: boolean;
  readonly #loop: StackLoop;
  readonly #onError: (error: unknown) => void;
  readonly #services = new Set<StackService>();
  readonly #conns = new Set<UdpConn>();
  readonly #tcpConns = new Set<TcpConn>();
  readonly #tcpListeners = new Set<TcpListener>();
  #sockets: SocketDescriptors | null = null;
  readonly #pings = new PendingPings();
  #httpClient: StackHttpClient | null = null;
  #started = false;
  #closed = false;
  #errorLogged = false;

  /**
   * Builds the interface, UDP, the resolver and the timer wheel over `options.device`.
   *
   * @param options device, address and tunables
   * @throws {TypeError} on invalid configuration (address, gateway, DNS server, MTU, hosts)
   */
  constructor(options: StackOptions) {
    if (
      options === null || typeof options !== "object" ||
      (options.device === undefined && options.interfaces === undefined)
    ) {
      throw new TypeError(
        'Stack options must be an object with "device" and "ipv4" (or "interfaces")',
      );
    }
    const multi = options.interfaces !== undefined;
    if (multi) checkInterfacesOptions(options);
    else if (options.ipv4 === undefined && options.ipv6 === undefined) {
      throw new TypeError('Stack options need "ipv4", "ipv6" or both');
    }
    this.device = multi
      ? (options.interfaces!.length === 1
        ? options.interfaces![0].device
        : groupDevices(options.interfaces!.map((i) => i.device)))
      : options.device!;
    this.clock = options.clock ?? new SystemClock();
    this.#eventLoop = options.eventLoop ?? options.clock === undefined;
    this.#rxBudget = options.rxBudget ?? DEFAULT_RX_BUDGET;
    if (!Number.isInteger(this.#rxBudget) || this.#rxBudget < 1) {
      throw new TypeError(`rxBudget must be an integer ≥ 1, got ${this.#rxBudget}`);
    }
    this.#loop = new StackLoop(
      this,
      this.#rxBudget,
      this.#eventLoop && this.device.txBatching === true,
    );
    this.#onError = options.onError ??
      ((e) => console.error("rawstack: a protocol handler threw (counted, loop continues):", e));
    const now = this.clock.now();
    this.wheel = new TimerWheel(now);
    const built = multi
      ? buildRouter(options, this.clock, now)
      : buildInterface(this.device, options, this.clock, now);
    const ip = built.ip;
    this.iface = built.interfaces[0];
    this.interfaces = built.interfaces;
    this.router = built.router;
    if (built.service !== null) this.#services.add(built.service);
    this.udp = new UdpLayer(ip, {
      unreachable: ip,
      queueBytes: options.udp?.queueBytes,
      queueDatagrams: options.udp?.queueDatagrams,
    });
    for (const i of this.interfaces) i.registerProtocol(IP_PROTOCOL_UDP, this.udp);
    if (this.iface.ipv6 !== null) {
      // Issue 18: UDP over IPv6 (one port table for both families).
      this.udp.sender6 = this.iface.ipv6;
      // With several interfaces each IPv6 layer delivers (the first's sends through the router).
      for (const i of this.interfaces) i.ipv6?.registerProtocol(IP_PROTOCOL_UDP, this.udp);
    }
    this.tcp = new TcpLayer({
      ip,
      wheel: this.wheel,
      clock: this.clock,
      config: options.tcp,
      secret: options.tcpSecret,
      random: options.tcpRandom,
    });
    this.registerTransport(IP_PROTO_TCP, this.tcp);
    if (this.iface.ipv6 !== null) {
      // Issue 18: TCP over IPv6 (listeners of family "any" accept both).
      this.tcp.attachIpv6(this.iface.ipv6);
      for (const i of this.interfaces) i.ipv6?.registerProtocol(IP_PROTO_TCP, this.tcp);
    }
    this.resolver = buildResolver(options, this.udp, this.tcp);
    this.resolver.onSchedule = () => this.kick();
    // No `dns` option: the DHCPv4 leases' servers, then those RAs name (RFC 8106); `dns` wins.
    const learned = options.dns === undefined ? new LearnedDnsServers(this.resolver) : null;
    if (learned !== null && this.iface.ipv6 !== null) {
      this.iface.ipv6.onDnsServersChanged = (servers) => learned.setRouterAdvertised(servers);
    }
    // ipv4: "dhcp" (on the one device, or on any of the interfaces): a client per interface.
    this.dhcpClients = buildDhcp(
      options,
      this.interfaces,
      this.router,
      this.udp,
      learned ?? this.resolver,
    );
    this.dhcp = this.dhcpClients.find((c) => c !== null) ?? null;
    for (const c of this.dhcpClients) {
      if (c !== null) this.#services.add(dhcpService(c, this.clock));
    }
    this.#sink = new LoopSink(this.interfaces, this, this.tcp.stats);
  }

  #isOurAddress(h: number | null): boolean {
    for (const i of this.interfaces) if (i.config.address === h) return true;
    return false;
  }

  /** Our IPv4 address (a signed 32-bit integer, see src/wire/address.ts; {@link address} is the dotted quad). */
  get localAddress(): number {
    return this.iface.config.address;
  }

  /** Our IPv4 address, dotted quad. */
  get address(): string {
    return formatIpv4(this.iface.config.address);
  }

  /** The DHCP client with `ipv4: "dhcp"` (with several interfaces, the first's), else null. */
  readonly dhcp: StackDhcp | null = null;
  /** Per interface (in order): its DHCP client with `ipv4: "dhcp"`, else null. */
  readonly dhcpClients: readonly (StackDhcp | null)[] = [];

  /**
   * Every address of both families (IPv4 first) with its prefix length, state,
   * origin and lifetimes. A DHCP lease carries its client state and times (none
   * is listed while the client has no lease); IPv6 addresses are "tentative"
   * during duplicate address detection and "duplicate" when another node holds
   * them (RFC 4862 §5.4).
   *
   * @returns one record per address
   */
  addresses(): StackAddress[] {
    return stackAddresses(this);
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The current time, also handed to the interface for the coming application call.
   *
   * @returns milliseconds from the stack's clock
   */
  nowMs(): number {
    const now = this.clock.now();
    this.iface.advance(now);
    return now;
  }

  /**
   * @internal UdpConnHost: the time last read from the clock (ms), without reading it again.
   *
   * @returns the interface's current time
   */
  get recentMs(): number {
    return this.iface.nowMs;
  }

  /**
   * Starts the interface (gratuitous ARP, RFC 5227 §3) and the event loop.
   *
   * @throws {StackClosedError} after {@link close}
   */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new StackClosedError("start"));
    if (this.#started) return Promise.resolve();
    this.#started = true;
    const now = this.nowMs();
    for (const i of this.interfaces) i.start(now);
    this.device.flush();
    if (this.#eventLoop) this.#loop.start();
    // ipv4: "dhcp": resolves once a lease is bound (DhcpTimeoutError after dhcp.timeoutMs).
    if (this.dhcp !== null) {
      // Several interfaces with DHCP: once every one is bound.
      const bound = Promise.all(
        this.dhcpClients.filter((c) => c !== null).map((c) => c!.start(now)),
      );
      this.kick();
      return bound.then(() => {});
    }
    return Promise.resolve();
  }

  /**
   * Stops the loop; closes sockets, pending pings and lookups, the resolver,
   * the interface (queued packets, reassembly), every timer and the device.
   * Connections still open are reset (RST to the peer). With `lingerMs`, the
   * loop first keeps running for up to that long while connections the
   * application already closed finish their FIN exchange (FIN-WAIT-1/2,
   * CLOSING, LAST-ACK), as the kernel does after a process's `close()`.
   * Resolves once the loop has exited and the device wait has settled.
   *
   * @param opts `lingerMs`: how long to let closing connections finish (default 0)
   */
  async close(opts: StackCloseOptions = {}): Promise<void> {
    if (this.#closed) {
      if (this.#loop.running !== null) await this.#loop.running;
      return;
    }
    const lingerMs = opts.lingerMs ?? 0;
    if (lingerMs > 0 && this.#loop.running !== null) await this.#linger(lingerMs);
    const leased = this.dhcpClients.filter((c) => c !== null && c.client.configured);
    if (leased.length > 0) {
      // RFC 2131 §4.4.6: give the leases back; a DHCPRELEASE may wait for the server's MAC.
      for (const c of leased) c!.close(this.clock.now());
      if (this.#loop.running !== null) await this.#waitForArp(DHCP_RELEASE_WAIT_MS);
    }
    this.#closed = true;
    this.#loop.wakeUp();
    if (this.#loop.running !== null) await this.#loop.running;
    this.#loop.stop();
    for (const c of [...this.#conns]) c.close();
    this.#closeTcp();
    this.#pings.closeAll();
    this.resolver.close();
    for (const s of this.#services) {
      try {
        s.close?.();
      } catch (e) {
        this.handlerError(e);
      }
    }
    this.#services.clear();
    this.iface.close();
    this.device.close();
    if (this.#loop.deviceWait !== null) await this.#loop.deviceWait;
  }

  /** Waits (loop running) until no packet waits for ARP, or `ms` passed. */
  async #waitForArp(ms: number): Promise<void> {
    const end = this.clock.now() + ms;
    const pending = () => this.interfaces.some((i) => i.arp.stats.pendingPackets > 0);
    while (!this.#closed && this.clock.now() < end && pending()) {
      await new Promise<void>((r) => setTimeout(r, LINGER_POLL_MS));
    }
  }

  /** Waits (loop running) until no connection is finishing its close, or `lingerMs` passed. */
  async #linger(lingerMs: number): Promise<void> {
    const end = this.clock.now() + lingerMs;
    while (!this.#closed && this.clock.now() < end && this.#closingConnections() > 0) {
      await new Promise<void>((r) => setTimeout(r, LINGER_POLL_MS));
    }
  }

  #closingConnections(): number {
    let n = 0;
    for (const c of this.tcp.connections()) {
      const s = c.state;
      if (
        s === TcpState.FIN_WAIT_1 || s === TcpState.FIN_WAIT_2 || s === TcpState.CLOSING ||
        s === TcpState.LAST_ACK
      ) n++;
    }
    return n;
  }

  /** Fails pending TCP calls, resets every connection (RSTs to peers), closes listeners. */
  #closeTcp(): void {
    try {
      this.nowMs();
      for (const l of [...this.#tcpListeners]) l.fail(new StackClosedError("accept"));
      for (const c of [...this.#tcpConns]) c.fail(new StackClosedError("TCP connection"));
      this.#tcpListeners.clear();
      this.#tcpConns.clear();
      this.tcp.abortAll();
      this.device.flush();
    } catch (e) {
      this.handlerError(e);
    }
  }

  // ---- for transports attached later ----

  /**
   * Registers a transport for an IP protocol number (e.g. TCP, 6).
   *
   * @param protocol IP protocol number
   * @param handler the transport; it sends through {@link iface} and keeps timers on {@link wheel}
   */
  registerTransport(protocol: number, handler: IpProtocolHandler): void {
    for (const i of this.interfaces) i.registerProtocol(protocol, handler);
  }

  /**
   * Attaches a service to the loop (polled, asked for deadlines, closed with the stack).
   *
   * @param service the service
   * @returns a function that detaches it
   */
  attach(service: StackService): () => void {
    this.#services.add(service);
    this.kick();
    return () => {
      this.#services.delete(service);
    };
  }

  /**
   * Wakes a parked loop when work is due earlier than it planned to wake
   * (call after an application call armed a timer). Cheap when nothing changed.
   */
  kick(): void {
    this.#loop.kick();
  }

  /**
   * @internal UdpConnHost/TcpConnHost: after an application transmit. With
   * a device that gathers frames until flushed (`AfPacketDevice.txBatching`)
   * and the event loop on, the first send since the loop's last iteration
   * that queued frames leaves at once (request/response pays no delay);
   * later ones — a loop of
   * `await conn.send()` never yields to the event loop — stay with the device,
   * which sends a full batch by itself; the rest leaves at the loop's next
   * iteration or, when the loop is parked, at the end of the turn (one
   * `setImmediate`). Any other device is flushed after every send.
   */
  afterSend(): void {
    this.#loop.afterSend();
  }

  /**
   * @internal TcpListenerHost: wraps an engine connection into a tracked {@link TcpConn}.
   *
   * @param conn the engine connection
   * @returns the conn
   */
  adoptTcpConnection(conn: TcpConnection): TcpConn {
    const c = new TcpConn(this, conn);
    this.#tcpConns.add(c);
    return c;
  }

  /** @internal TcpConnHost: a TCP conn was closed by the application. */
  tcpConnClosed(conn: TcpConn): void {
    this.#tcpConns.delete(conn);
  }

  /** @internal TcpListenerHost: a listener closed. */
  tcpListenerClosed(listener: TcpListener): void {
    this.#tcpListeners.delete(listener);
  }

  /** @internal UdpConnHost: a conn closed. */
  connClosed(conn: UdpConn): void {
    this.#conns.delete(conn);
  }

  /**
   * @internal Counts a handler exception; the first is reported through `onError`.
   *
   * @param error what was thrown
   */
  handlerError(error: unknown): void {
    this.loopStats.handlerErrors++;
    if (!this.#errorLogged) {
      this.#errorLogged = true;
      try {
        this.#onError(error);
      } catch {
        // a failing logger must not stop the loop either
      }
    }
  }

  // ---- the loop ----

  /**
   * One loop iteration without waiting: receive a batch, run due timers, flush.
   * Tests with a `ManualClock` call this instead of running the loop.
   *
   * @returns frames received
   */
  poll(): number {
    const start = this.clock.now();
    const stats = this.loopStats;
    stats.iterations++;
    this.#sink.begin(start);
    this.iface.advance(start);
    let frames = 0;
    // Receive coalescing (TcpLayer.beginReceiveBatch): runs of one connection's in-order
    // segments in this batch go through TCP input once; they end with the batch.
    this.tcp.beginReceiveBatch();
    try {
      frames = this.device.receive(this.#sink, this.#rxBudget);
    } catch (e) {
      this.handlerError(e);
    }
    // The batch's frames may have sent timed segments: what follows runs at a fresh reading.
    const now = this.#sink.end();
    try {
      this.tcp.endReceiveBatch(now);
    } catch (e) {
      this.handlerError(e);
    }
    stats.rxFrames += frames;
    try {
      this.wheel.advance(now);
    } catch (e) {
      this.handlerError(e);
    }
    try {
      this.iface.poll(now);
    } catch (e) {
      this.handlerError(e);
    }
    try {
      this.resolver.poll(now);
    } catch (e) {
      this.handlerError(e);
    }
    // A for-of over a Set allocates an iterator: skip it when no service is attached.
    if (this.#services.size !== 0) {
      for (const s of this.#services) {
        try {
          s.poll?.(now);
        } catch (e) {
          this.handlerError(e);
        }
      }
    }
    try {
      this.device.flush();
    } catch (e) {
      this.handlerError(e);
    }
    this.#loop.iterated(); // the next application send leaves at once
    this.#pings.settle();
    return frames;
  }

  /**
   * When the stack next has timed work (ARP, reassembly, pings, DNS, wheel timers, services).
   *
   * @returns the earliest deadline in ms, Infinity when none
   */
  nextDeadline(): number {
    let t = Math.min(
      this.wheel.nextDeadline(),
      this.iface.nextDeadline(),
      this.resolver.nextDeadline(),
    );
    if (this.#services.size === 0) return t;
    for (const s of this.#services) {
      if (s.nextDeadline !== undefined) t = Math.min(t, s.nextDeadline());
    }
    return t;
  }

  // ---- application API ----

  /**
   * Opens a UDP socket.
   *
   * @param opts `port` (0 = ephemeral, 49152–65535); `hostname`, if given, must be our address:
   *   the socket then receives only datagrams to it and sends from it
   * @returns the socket
   * @throws {UdpError} `AddressInUse`, `InvalidPort`, `NoEphemeralPort`
   * @throws {TypeError} on a hostname that is not ours
   * @throws {StackClosedError} after {@link close}
   */
  listenDatagram(opts: { port: number; hostname?: string; transport?: "udp" }): UdpConn {
    if (this.#closed) throw new StackClosedError("listenDatagram");
    const port = checkPort(opts.port, "port");
    let family: UdpFamily = "any";
    let localAddr = 0;
    let shown: string | undefined = this.iface.ipv4Enabled ? undefined : "::";
    if (opts.hostname !== undefined) {
      const v6 = parseIpv6Literal(opts.hostname);
      if (v6 !== null) {
        // "::" is the wildcard of both families (Linux IPV6_V6ONLY off); an address of ours
        // receives IPv6 only.
        if (!v6.isUnspecified()) {
          if ((this.iface.ipv6?.addresses.find(v6) ?? null) === null) {
            throw new TypeError(`hostname ${opts.hostname} is not an IPv6 address of this stack`);
          }
          family = "ipv6";
        }
        shown = v6.toString();
      } else {
        const h = parseIpv4(opts.hostname);
        if (h !== 0 && !this.#isOurAddress(h)) {
          throw new TypeError(
            `hostname ${opts.hostname} is not this stack's address (${this.address}); use it or "0.0.0.0"`,
          );
        }
        if (this.iface.ipv6 !== null && h !== 0) family = "ipv4";
        localAddr = h ?? 0;
        shown = undefined;
      }
    }
    // Bound to one address: receives only datagrams to it, sends from it (RFC 1122 §3.3.4.2).
    const conn = new UdpConn(this, this.udp.bind(port, { family, localAddr }), shown);
    this.#conns.add(conn);
    return conn;
  }

  /**
   * Opens a TCP connection, like `Deno.connect`: resolves the name, sends
   * the SYN and resolves once the three-way handshake completed
   * (RFC 9293 §3.5).
   *
   * @param opts `hostname` (dotted quad or a name), `port`, `noDelay`, `localPort`
   * @returns the established connection
   * @throws {ConnectionRefused} the peer answered with RST (or ICMP port unreachable)
   * @throws {TimedOut} the SYN retries ran out (`tcp.synRetries`)
   * @throws {HostUnreachable} ICMP destination unreachable
   * @throws {NotConnected} no route to the host
   * @throws {AddrInUse} the local port is taken / no ephemeral port is free
   * @throws {DnsError} the name does not resolve
   * @throws {TypeError} on an invalid port or transport
   * @throws {StackClosedError} after {@link close}
   */
  async connect(opts: StackConnectOptions): Promise<TcpConn> {
    if (this.#closed) throw new StackClosedError("connect");
    if (opts === null || typeof opts !== "object" || typeof opts.hostname !== "string") {
      throw new TypeError('connect options need a "hostname" string and a "port"');
    }
    if (opts.transport !== undefined && opts.transport !== "tcp") {
      throw new TypeError(`transport must be "tcp", got ${String(opts.transport)}`);
    }
    const port = checkPort(opts.port, "port", false);
    const localPort = opts.localPort === undefined ? 0 : checkPort(opts.localPort, "localPort");
    // The same local port and socket-option hook for every family and every attempt.
    const options = {
      localPort: localPort === 0 ? undefined : localPort,
      configure: opts.configure,
    };
    const v6 = parseIpv6Literal(opts.hostname);
    if (v6 !== null) {
      return await this.#connectEngine(
        this.tcp.connect6(this.nowMs(), v6, port, options),
        opts.noDelay,
      );
    }
    if (this.iface.ipv6 !== null && parseIpv4(opts.hostname) === null) {
      // A name on a stack with IPv6: Happy Eyeballs v2 (RFC 8305) over both families.
      const conn = await happyEyeballs<TcpConn>(
        {
          resolve: (name, type) => this.resolveDns(name, type),
          nowMs: () => this.nowMs(),
          sleep: (deadlineMs) => this.#sleepUntil(deadlineMs),
          attempt: (address) => {
            if (this.#closed) throw new StackClosedError("connect");
            const v6addr = parseIpv6Literal(address);
            const engine = v6addr !== null
              ? this.tcp.connect6(this.nowMs(), v6addr, port, options)
              : this.tcp.connect(this.nowMs(), parseIpv4(address)!, port, options);
            const c = this.adoptTcpConnection(engine);
            this.afterSend();
            return c;
          },
        },
        opts.hostname,
        { ipv4: this.iface.ipv4Enabled, ipv6: true },
      );
      if (opts.noDelay === true) conn.setNoDelay(true);
      return conn;
    }
    const dst = await this.resolveHostname(opts.hostname);
    if (this.#closed) throw new StackClosedError("connect");
    const engine = this.tcp.connect(this.nowMs(), dst, port, options);
    return await this.#connectEngine(engine, opts.noDelay);
  }

  /** A wait until `deadlineMs` on the stack's clock (a service polled by the loop). */
  #sleepUntil(deadlineMs: number): EyeballsTimer {
    let detach: (() => void) | null = null;
    const promise = new Promise<void>((resolve) => {
      detach = this.attach({
        poll: (now) => {
          if (now < deadlineMs) return;
          detach?.();
          resolve();
        },
        nextDeadline: () => deadlineMs,
      });
    });
    return { promise, cancel: () => detach?.() };
  }

  /** Adopts an engine connection in SYN-SENT and waits for the handshake. */
  async #connectEngine(engine: TcpConnection, noDelay: boolean | undefined): Promise<TcpConn> {
    const conn = this.adoptTcpConnection(engine);
    this.afterSend();
    try {
      await conn.established();
    } catch (e) {
      conn.close();
      throw e;
    }
    if (noDelay === true) conn.setNoDelay(true);
    return conn;
  }

  /**
   * Listens for TCP connections, like `Deno.listen`.
   *
   * @param opts `port` (0 = a free ephemeral port), `hostname` (ours or `"0.0.0.0"`), `backlog`
   * @returns the listener
   * @throws {AddrInUse} the port already has a listener
   * @throws {TypeError} on an invalid port/backlog or a hostname that is not ours
   * @throws {StackClosedError} after {@link close}
   */
  listen(opts: StackListenOptions): TcpListener {
    if (this.#closed) throw new StackClosedError("listen");
    if (opts === null || typeof opts !== "object") {
      throw new TypeError('listen options must be an object with a "port"');
    }
    if (opts.transport !== undefined && opts.transport !== "tcp") {
      throw new TypeError(`transport must be "tcp", got ${String(opts.transport)}`);
    }
    const port = checkPort(opts.port, "port");
    const backlog = opts.backlog;
    if (backlog !== undefined && (!Number.isInteger(backlog) || backlog < 1)) {
      throw new TypeError(`backlog must be an integer ≥ 1, got ${backlog}`);
    }
    let localAddr = 0;
    let family: TcpListenFamilyOptions = {};
    let shown: string | null = this.iface.ipv4Enabled ? null : "::";
    const v6 = opts.hostname === undefined ? null : parseIpv6Literal(opts.hostname);
    if (v6 !== null) {
      // "::" accepts both families (Linux IPV6_V6ONLY off); an address of ours IPv6 only.
      if (!v6.isUnspecified()) {
        if ((this.iface.ipv6?.addresses.find(v6) ?? null) === null) {
          throw new TypeError(`hostname ${opts.hostname} is not an IPv6 address of this stack`);
        }
        family = { family: "ipv6", localAddr6: v6 };
      }
      shown = v6.toString();
    } else if (opts.hostname !== undefined) {
      const h = parseIpv4(opts.hostname);
      if (h === null || (h !== 0 && !this.#isOurAddress(h))) {
        throw new TypeError(
          `hostname ${opts.hostname} is not this stack's address (${this.address}); use it or "0.0.0.0"`,
        );
      }
      localAddr = h;
      if (h !== 0 && this.iface.ipv6 !== null) family = { family: "ipv4" };
      shown = null;
    }
    const engine = port !== 0
      ? this.tcp.listen(port, backlog, localAddr, family)
      : this.#listenEphemeral(backlog, localAddr, family);
    const addr: NetAddr = shown === null
      ? netAddr("tcp", localAddr, engine.port)
      : { transport: "tcp", hostname: shown, port: engine.port };
    const listener = new TcpListener(this, engine, addr);
    this.#tcpListeners.add(listener);
    return listener;
  }

  /** RFC 6335 §6: a random start in the dynamic range, then the first port without a listener. */
  #listenEphemeral(
    backlog: number | undefined,
    localAddr: number,
    family: TcpListenFamilyOptions,
  ) {
    const count = EPHEMERAL_PORT_LAST - EPHEMERAL_PORT_FIRST + 1;
    const start = Math.floor(Math.random() * count);
    for (let i = 0; i < count; i++) {
      const port = EPHEMERAL_PORT_FIRST + (start + i) % count;
      try {
        return this.tcp.listen(port, backlog, localAddr, family);
      } catch (e) {
        if (!(e instanceof AddrInUse)) throw e;
      }
    }
    throw new AddrInUse("no free ephemeral port to listen on");
  }

  /**
   * The textbook descriptor view (socket, bind, listen, accept, connect,
   * read, write, shutdown, close) over this stack's TCP conns and listeners.
   */
  get sockets(): SocketDescriptors {
    if (this.#sockets === null) this.#sockets = new SocketDescriptors(this);
    return this.#sockets;
  }

  /**
   * A connection pool and TLS policy for {@link fetch} (`init.client`), like
   * `Deno.createHttpClient`: `caCerts` replace the trusted roots. Close it when done.
   *
   * @param options `caCerts`, `cert`/`key`, pool limits, `unsafelyIgnoreCertificateErrors`
   * @returns the client
   */
  createHttpClient(options: HttpClientOptions = {}): StackHttpClient {
    return new StackHttpClient(this, options);
  }

  /**
   * WHATWG `fetch` over this stack: `http:` and `https:` (TLS through
   * `node:tls`, SNI, certificate verification), redirects, streamed bodies,
   * keep-alive reuse per origin, `AbortSignal` (src/http/fetch.ts).
   *
   * @param input a URL or a `Request`
   * @param init as `fetch`'s, plus `client` from {@link createHttpClient}
   * @returns the response, its body streaming from the connection
   * @throws {TypeError} on a network error, with the cause (the signal's reason when aborted)
   */
  fetch(input: string | URL | Request, init?: StackRequestInit): Promise<Response> {
    if (this.#closed) return Promise.reject(new TypeError("fetch: the stack is closed"));
    let client = init?.client;
    if (client === undefined) {
      if (this.#httpClient === null) {
        const c = this.#httpClient = new StackHttpClient(this);
        this.attach({ close: () => c.close() });
      }
      client = this.#httpClient;
    }
    return stackFetch(client, input, init);
  }

  /**
   * Serves HTTP (HTTPS with `cert`/`key`) like `Deno.serve`, with header and
   * idle timeouts and a connection cap on by default (src/http/serve.ts).
   *
   * @param options port, hostname, TLS, limits, `signal`, `onListen`, `onError`
   * @param handler Request → Response (or `options.handler`)
   * @returns the server: `finished`, `shutdown()`, `addr`, `stats()`
   */
  serve(options: StackServeOptions, handler?: StackServeHandler): StackHttpServer {
    if (this.#closed) throw new StackClosedError("serve");
    return stackServe(this, options, handler);
  }

  /**
   * Pings a host (ICMP echo, RFC 792; ICMPv6 echo, RFC 4443 §4) like ping(8).
   *
   * @param host dotted quad, IPv6 literal (`"2001:db8:1::1"` or in brackets) or a
   *   name (resolved with DNS, first A record)
   * @param opts `count` (4), `size` data bytes (56), `intervalMs` (1000), `timeoutMs` per reply (1000)
   * @returns replies with RTTs and the summary; lost requests only show in the summary
   * @throws {DnsError} when the name does not resolve
   * @throws {TypeError} on invalid options
   * @throws {StackClosedError} when the stack closes first
   */
  async ping(host: string, opts: PingOptions = {}): Promise<PingResult> {
    if (this.#closed) throw new StackClosedError(`ping ${host}`);
    const v6 = parseIpv6Literal(host);
    if (v6 !== null) {
      if (this.iface.ipv6 === null) throw new TypeError(`ping ${host}: IPv6 is not configured`);
      // Several interfaces: the egress interface pings, so the reply comes back to it.
      const egress6 = this.router?.ipv6?.interfaceFor6(v6)?.ipv6 ?? this.iface.ipv6;
      const session6 = egress6.ping(this.nowMs(), v6, opts);
      this.device.flush();
      const result6 = this.#pings.wait(host, session6);
      this.kick();
      return await result6;
    }
    const dst = parseIpv4(host) ?? await this.resolveHostname(host);
    if (this.#closed) throw new StackClosedError(`ping ${host}`);
    const now = this.nowMs();
    // Several interfaces: the egress interface pings, so the reply comes back to it.
    const session = (this.router?.interfaceFor(dst) ?? this.iface).ping(now, dst, opts);
    this.device.flush();
    const result = this.#pings.wait(host, session);
    this.kick();
    return await result;
  }

  /**
   * Looks a name up: numeric literal, hosts table, cache, then the DNS servers
   * (over UDP; a truncated answer is asked again over TCP, RFC 7766 §5).
   *
   * @param name host name
   * @param type `"A"` (default) or `"AAAA"`
   * @returns addresses as text (empty when the name has no record of this type)
   * @throws {DnsError} NXDOMAIN, SERVFAIL, TIMEOUT, MALFORMED, REFUSED, UNREACHABLE, BADNAME, CANCELLED
   */
  resolveDns(name: string, type: DnsRecordType = "A"): Promise<string[]> {
    if (this.#closed) {
      return Promise.reject(new DnsError("CANCELLED", name, type, "the stack is closed"));
    }
    const lookup = this.resolver.resolve(this.nowMs(), name, type);
    this.device.flush();
    if (lookup.done) {
      return lookup.error !== null ? Promise.reject(lookup.error) : Promise.resolve(lookup.result!);
    }
    return new Promise((resolve, reject) => {
      lookup.onDone = (l) => {
        if (l.error !== null) reject(l.error);
        else resolve(l.result!);
      };
      this.kick();
    });
  }

  /**
   * Resolves a host name to one IPv4 address (the first A record).
   *
   * @param hostname name or dotted quad
   * @returns the address as a signed 32-bit integer (src/wire/address.ts)
   * @throws {DnsError} when it does not resolve or has no A record
   */
  async resolveHostname(hostname: string): Promise<number> {
    const literal = parseIpv4(hostname);
    if (literal !== null) return literal;
    const addresses = await this.resolveDns(hostname, "A");
    for (const a of addresses) {
      const v = parseIpv4(a);
      if (v !== null) return v;
    }
    throw new DnsError("NXDOMAIN", hostname, "A", "the name has no IPv4 address");
  }

  /**
   * The ARP cache, for a CLI or a test.
   *
   * @returns one record per neighbour
   */
  arpTable(): ArpEntryInfo[] {
    return this.iface.arp.list(this.clock.now());
  }

  /**
   * The IPv6 neighbour cache with NUD states (ARP entries: {@link arpTable}).
   *
   * @returns one record per neighbour
   */
  neighbours(): NeighbourInfo[] {
    return this.iface.ipv6?.neighbourList() ?? [];
  }

  /**
   * The IPv6 default routers with the M and O flags of their last router
   * advertisement (RFC 4861 §4.2; DHCPv6 is not implemented, the flags are
   * only reported).
   *
   * @returns one record per router
   */
  routers(): RouterInfo[] {
    return this.iface.ipv6?.routerList() ?? [];
  }

  /**
   * A snapshot of every layer's counters.
   *
   * @returns the counters (copies)
   */
  stats(): StackStats {
    return stackStats(this);
  }
}
