/**
 * {@link StackDhcp}: how a `Stack` with `ipv4: "dhcp"` runs its
 * {@link DhcpClient}. A `StackService` on the stack's loop: it owns UDP port
 * 68 (replies are read from that endpoint each iteration), sends the
 * client's messages as UDP from port 68 straight through the IPv4 layer
 * (`sendFrom`, so the source may be 0.0.0.0 before a lease, RFC 2131 §4.1),
 * passes ARP packets to the client for RFC 5227 conflict detection, puts the
 * lease on the interface (address, router, MTU) and its DNS servers on the
 * resolver, resolves `start()` once bound, and releases the lease on close.
 * All timers run on the stack's clock.
 *
 * With several interfaces (`interfaces: [{ ipv4: "dhcp" }, ...]`) each such
 * interface has its own {@link StackDhcp}: its client, lease, address and
 * routes (the lease's default route carries the interface's metric). They
 * share port 68 through one {@link StackDhcpPort}, which hands each reply to
 * the client whose hardware address it carries (`chaddr`, RFC 2131 §4.3.1),
 * and whose DNS servers — every bound lease's, in interface order — go on
 * the resolver. Messages leave by the client's own interface, as a socket
 * bound to the device would send them (Linux dhclient's SO_BINDTODEVICE).
 *
 * @module
 */

import { formatIpv4 } from "../wire/address.ts";
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT } from "../wire/dhcp.ts";
import { newUdpRepr, UDP_HEADER_LEN, UdpRepr } from "../wire/udp.ts";
import { IP_PROTO_UDP } from "../wire/ipv4.ts";
import type { NetworkInterface } from "../iface/interface.ts";
import type { UdpEndpoint, UdpLayer } from "../udp/udp_layer.ts";
import type { DnsResolver } from "../dns/resolver.ts";
import {
  DhcpClient,
  type DhcpClientHost,
  type DhcpClientOptions,
  type DhcpLease,
  type DhcpState,
  type DhcpStats,
} from "./client.ts";

/** `StackOptions.dhcp`: the client's tunables and how long `start()` waits. */
export interface StackDhcpOptions extends Omit<DhcpClientOptions, "mac"> {
  /** `start()` rejects when no lease is bound within this many ms (stack clock; default 30 s). */
  timeoutMs?: number;
}

/** The default of {@link StackDhcpOptions.timeoutMs}. */
export const DEFAULT_DHCP_TIMEOUT_MS = 30_000;
/** Largest DHCP message read from the endpoint (RFC 2131 §2 allows more with option 57). */
const MAX_DHCP_MESSAGE = 1500;
/** Offset of `chaddr` in a DHCP message (RFC 2131 §2, figure 1). */
const CHADDR_OFFSET = 28;
/** Bytes of an Ethernet `chaddr`. */
const MAC_BYTES = 6;

/**
 * Port 68 of a stack, shared by its DHCP clients (one per interface with
 * `ipv4: "dhcp"`): reads the replies and hands each to the client whose
 * MAC is the reply's `chaddr` (to the first client when none is: it counts
 * the stranger), and gathers the DNS servers of every bound lease.
 */
export class StackDhcpPort {
  readonly #endpoint: UdpEndpoint;
  readonly #clients: StackDhcp[] = [];
  readonly #rx = new Uint8Array(MAX_DHCP_MESSAGE);
  #closed = false;

  /**
   * Binds UDP port 68.
   *
   * @param udp the stack's UDP layer
   * @throws {UdpError} when port 68 is taken
   */
  constructor(udp: UdpLayer) {
    this.#endpoint = udp.bind(DHCP_CLIENT_PORT);
  }

  /** Replies waiting. */
  get queued(): number {
    return this.#endpoint.queued;
  }

  /**
   * @internal A client joins (from its constructor).
   *
   * @param client the client
   */
  add(client: StackDhcp): void {
    this.#clients.push(client);
  }

  /**
   * @internal A client leaves (it closed); the port closes with the last.
   *
   * @param client the client
   */
  remove(client: StackDhcp): void {
    const i = this.#clients.indexOf(client);
    if (i >= 0) this.#clients.splice(i, 1);
    if (this.#clients.length === 0 && !this.#closed) {
      this.#closed = true;
      this.#endpoint.close();
    }
  }

  /**
   * Hands every queued reply to its client.
   *
   * @param nowMs current time
   */
  drain(nowMs: number): void {
    const ep = this.#endpoint;
    const rx = this.#rx;
    ep.takeError(); // ICMP errors about our broadcasts mean nothing to the clients
    while (ep.queued > 0) {
      const n = ep.receiveInto(rx, 0);
      if (n < 0) break;
      const client = this.#clientFor(rx, Math.min(n, rx.length));
      if (client === null) continue;
      // RFC 2131 §4.1: replies come from the server port.
      if (ep.lastSrcPort !== DHCP_SERVER_PORT) {
        client.client.stats.rxNotReply++;
        continue;
      }
      client.client.input(nowMs, rx, 0, Math.min(n, rx.length));
    }
  }

  /**
   * The DNS servers of every bound lease, in interface order, each once.
   *
   * @returns addresses (int32)
   */
  dnsServers(): number[] {
    const out: number[] = [];
    for (const c of this.#clients) {
      const lease = c.client.configured ? c.lease : null;
      if (lease === null) continue;
      for (const d of lease.dnsServers) if (!out.includes(d)) out.push(d);
    }
    return out;
  }

  /** The client whose MAC is the message's `chaddr`, else the first; null without clients. */
  #clientFor(bytes: Uint8Array, length: number): StackDhcp | null {
    const clients = this.#clients;
    if (clients.length <= 1 || length < CHADDR_OFFSET + MAC_BYTES) return clients[0] ?? null;
    let mac = 0;
    for (let i = 0; i < MAC_BYTES; i++) mac = mac * 256 + bytes[CHADDR_OFFSET + i];
    for (const c of clients) if (c.mac === mac) return c;
    return clients[0];
  }
}

/** Raised by `Stack.start()` when DHCP found no lease in time. */
export class DhcpTimeoutError extends Error {
  /**
   * Creates the error.
   *
   * @param ms the timeout
   */
  constructor(ms: number) {
    super(
      `DHCP: no lease within ${ms} ms (is a DHCP server on the link? see stack.stats().dhcp)`,
    );
    this.name = "DhcpTimeoutError";
  }
}

/** The DHCP side of a stack (see the module documentation). */
export class StackDhcp implements DhcpClientHost {
  /** The client. */
  readonly client: DhcpClient;
  readonly #iface: NetworkInterface;
  readonly #resolver: Pick<DnsResolver, "setServers" | "servers">;
  readonly #setDns: boolean;
  readonly #port: StackDhcpPort;
  readonly #timeoutMs: number;
  readonly #udpHeader = newUdpRepr();
  /**
   * Called after the lease's address and routes went on the interface or came
   * off it (a router rebuilds its table from the interfaces'); null: none.
   */
  onConfigured: (() => void) | null = null;
  #startDeadline = Infinity;
  #waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  #closed = false;

  /**
   * Binds port 68 and hooks ARP; the client starts with {@link start}.
   *
   * @param iface the stack's interface (no address yet)
   * @param udp the stack's UDP layer (port 68 is bound here), or the port the
   *   stack's DHCP clients share
   * @param resolver the stack's resolver (given the lease's DNS servers when `setDns`)
   * @param setDns whether lease DNS servers replace the resolver's (no `dns` option)
   * @param options client tunables and the start timeout
   */
  constructor(
    iface: NetworkInterface,
    udp: UdpLayer | StackDhcpPort,
    resolver: Pick<DnsResolver, "setServers" | "servers">,
    setDns: boolean,
    options: StackDhcpOptions = {},
  ) {
    this.#iface = iface;
    this.#resolver = resolver;
    this.#setDns = setDns;
    const timeout = options.timeoutMs ?? DEFAULT_DHCP_TIMEOUT_MS;
    if (typeof timeout !== "number" || !(timeout > 0)) {
      throw new TypeError(`dhcp.timeoutMs must be a number > 0, got ${String(timeout)}`);
    }
    this.#timeoutMs = timeout;
    this.client = new DhcpClient(this, {
      ...options,
      mac: iface.config.mac,
      maxMessageSize: options.maxMessageSize ?? Math.min(MAX_DHCP_MESSAGE, iface.config.mtu) - 28,
    });
    this.#port = udp instanceof StackDhcpPort ? udp : new StackDhcpPort(udp);
    this.#port.add(this);
    iface.onArp = (now, mac, senderIp, targetIp) =>
      this.client.arpSeen(now, mac, senderIp, targetIp);
  }

  /** The MAC of the client's interface (its `chaddr`). */
  get mac(): number {
    return this.#iface.config.mac;
  }

  /** The interface the client configures. */
  get iface(): NetworkInterface {
    return this.#iface;
  }

  /** The client's state. */
  get state(): DhcpState {
    return this.client.state;
  }

  /** The client's counters. */
  get stats(): DhcpStats {
    return this.client.stats;
  }

  /** The lease, or null. */
  get lease(): DhcpLease | null {
    return this.client.lease;
  }

  /**
   * Starts the client; resolves once a lease is bound.
   *
   * @param nowMs current time
   * @returns settles when bound (or rejects with {@link DhcpTimeoutError} / on close)
   */
  start(nowMs: number): Promise<void> {
    if (this.client.configured) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#startDeadline === Infinity) this.#startDeadline = nowMs + this.#timeoutMs;
    this.client.start(nowMs);
    return p;
  }

  /** StackService: replies in, timers. */
  poll(nowMs: number): void {
    this.#port.drain(nowMs);
    this.client.poll(nowMs);
    if (nowMs >= this.#startDeadline && !this.client.configured) {
      this.#startDeadline = Infinity;
      this.#settle(new DhcpTimeoutError(this.#timeoutMs));
    }
  }

  /** StackService: the earliest of the client's timer and the start timeout. */
  nextDeadline(): number {
    if (this.#port.queued > 0) return 0;
    return Math.min(this.client.nextDeadline(), this.#startDeadline);
  }

  /**
   * Releases the lease (DHCPRELEASE) and port 68; pending `start()`s reject.
   *
   * @param nowMs current time
   */
  close(nowMs: number): void {
    if (this.#closed) return;
    this.#closed = true;
    this.client.release(nowMs);
    this.#iface.device.flush();
    this.#port.remove(this);
    this.#iface.onArp = null;
    this.#settle(new Error("DHCP: the stack closed before a lease was bound"));
  }

  // ---- DhcpClientHost ----

  /** Sends the message as UDP 68 → 67 from `src` (0.0.0.0 before a lease). */
  sendMessage(nowMs: number, bytes: Uint8Array, length: number, src: number, dst: number): boolean {
    const iface = this.#iface;
    iface.advance(nowMs);
    const b = iface.allocate();
    if (b === null) return false;
    const at = b.append(UDP_HEADER_LEN + length);
    if (at < 0) {
      iface.release(b);
      return false;
    }
    b.bytes.set(bytes.subarray(0, length), at + UDP_HEADER_LEN);
    const h = this.#udpHeader;
    h.srcPort = DHCP_CLIENT_PORT;
    h.dstPort = DHCP_SERVER_PORT;
    h.payloadLength = length;
    UdpRepr.emit(h, b.bytes, at, src, dst);
    // Out of this client's interface, by its own routes (a renewal unicast to the server too).
    return iface.ipv4.sendRouted(src, b, dst, IP_PROTO_UDP);
  }

  /** RFC 5227 §2.1.1 probe. */
  sendArpProbe(nowMs: number, ip: number): void {
    this.#iface.advance(nowMs);
    this.#iface.sendArpProbe(ip);
  }

  /** The lease goes on the interface; `start()` resolves. */
  bound(nowMs: number, lease: DhcpLease): void {
    this.#iface.advance(nowMs);
    const c = this.#iface.config;
    const cidr = `${formatIpv4(lease.address)}/${lease.prefixLength}`;
    const mtu = lease.mtu > 0 ? lease.mtu : 0;
    if (c.address !== lease.address || c.gateway !== lease.router || (mtu > 0 && c.mtu !== mtu)) {
      this.#iface.configureIpv4(cidr, lease.router, mtu);
      this.onConfigured?.();
    }
    // The DHCPRELEASE at close is unicast to the server (RFC 2131 §4.4.6): know its MAC early.
    if (((lease.server ^ lease.address) & this.#iface.config.mask) === 0) {
      this.#iface.arp.resolve(nowMs, lease.server);
    }
    this.#updateDns();
    this.#startDeadline = Infinity;
    this.#settle(null);
  }

  /** The address comes off the interface. */
  unbound(nowMs: number): void {
    this.#iface.advance(nowMs);
    this.#iface.configureIpv4(null, 0);
    this.onConfigured?.();
    this.#updateDns();
  }

  /** The resolver gets the DNS servers of every bound lease (kept when none has any). */
  #updateDns(): void {
    if (!this.#setDns) return;
    const servers = this.#port.dnsServers();
    if (servers.length === 0) return;
    const now = this.#resolver.servers;
    if (
      now.length === servers.length && now.every((d, i) => d.addr === servers[i] && d.port === 53)
    ) return;
    this.#resolver.setServers(servers.map(formatIpv4));
  }

  #settle(error: unknown): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (error === null) w.resolve();
      else w.reject(error);
    }
  }
}
