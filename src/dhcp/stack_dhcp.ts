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
  readonly #resolver: Pick<DnsResolver, "setServers">;
  readonly #setDns: boolean;
  readonly #endpoint: UdpEndpoint;
  readonly #timeoutMs: number;
  readonly #rx = new Uint8Array(MAX_DHCP_MESSAGE);
  readonly #udpHeader = newUdpRepr();
  #startDeadline = Infinity;
  #waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  #closed = false;

  /**
   * Binds port 68 and hooks ARP; the client starts with {@link start}.
   *
   * @param iface the stack's interface (no address yet)
   * @param udp the stack's UDP layer (port 68 is bound here)
   * @param resolver the stack's resolver (given the lease's DNS servers when `setDns`)
   * @param setDns whether lease DNS servers replace the resolver's (no `dns` option)
   * @param options client tunables and the start timeout
   */
  constructor(
    iface: NetworkInterface,
    udp: UdpLayer,
    resolver: Pick<DnsResolver, "setServers">,
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
    this.#endpoint = udp.bind(DHCP_CLIENT_PORT);
    iface.onArp = (now, mac, senderIp, targetIp) =>
      this.client.arpSeen(now, mac, senderIp, targetIp);
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
    const ep = this.#endpoint;
    ep.takeError(); // ICMP errors about our broadcasts mean nothing to the client
    while (ep.queued > 0) {
      const n = ep.receiveInto(this.#rx, 0);
      if (n < 0) break;
      // RFC 2131 §4.1: replies come from the server port.
      if (ep.lastSrcPort !== DHCP_SERVER_PORT) {
        this.client.stats.rxNotReply++;
        continue;
      }
      this.client.input(nowMs, this.#rx, 0, Math.min(n, this.#rx.length));
    }
    this.client.poll(nowMs);
    if (nowMs >= this.#startDeadline && !this.client.configured) {
      this.#startDeadline = Infinity;
      this.#settle(new DhcpTimeoutError(this.#timeoutMs));
    }
  }

  /** StackService: the earliest of the client's timer and the start timeout. */
  nextDeadline(): number {
    if (this.#endpoint.queued > 0) return 0;
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
    this.#endpoint.close();
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
    return iface.ipv4.sendFrom(src, b, dst, IP_PROTO_UDP);
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
    }
    // The DHCPRELEASE at close is unicast to the server (RFC 2131 §4.4.6): know its MAC early.
    if (((lease.server ^ lease.address) & this.#iface.config.mask) === 0) {
      this.#iface.arp.resolve(nowMs, lease.server);
    }
    if (this.#setDns && lease.dnsServers.length > 0) {
      this.#resolver.setServers(lease.dnsServers.map(formatIpv4));
    }
    this.#startDeadline = Infinity;
    this.#settle(null);
  }

  /** The address comes off the interface. */
  unbound(nowMs: number): void {
    this.#iface.advance(nowMs);
    this.#iface.configureIpv4(null, 0);
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
