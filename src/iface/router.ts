/**
 * {@link Router}: several {@link NetworkInterface}s as one host — one routing
 * table across them (longest prefix, then the lowest metric), the
 * {@link IpSender} the transports use (it picks the egress interface per
 * destination), forwarding between the interfaces (RFC 1812, with
 * `forwarding: true`), packet hooks at the five points of `hooks.ts`, and
 * masquerading NAT (`nat.ts`) on interfaces marked `masquerade`.
 *
 * The router plugs into each interface's IPv4 layer through
 * {@link Ipv4RouterPort} (`Ipv4Layer.router`): received datagrams that
 * passed the header checks come to {@link Router} for the prerouting hooks,
 * reverse NAT and the local-or-forward decision; datagrams the host
 * originates are routed here and pass the output and postrouting hooks. A
 * single-device stack has no router and pays nothing for it.
 *
 * Forwarding (`forward.ts` holds the per-datagram rules): a datagram is
 * rewritten in place in the receive buffer (TTL and checksum, NAT) and,
 * when the next hop's MAC is known and both links carry plain Ethernet,
 * transmitted from there on the egress device with its Ethernet header
 * rewritten — zero copies (every `Device.transmit` is done with the bytes on
 * return, so a receive ring slot may be handed to another device). It is
 * copied once into a pool buffer when it must wait for ARP, when the link
 * headers differ (VLAN, a TUN link) or when it must be fragmented.
 *
 * Offloads (the ingress device's `rxInfo`) pass through as Linux forwards an
 * skb: a partial (NEEDS_CSUM) checksum leaves for the egress device to
 * complete, and a TCPv4 super-frame (GSO metadata from a sender's TSO, GRO,
 * or `GroDevice`) leaves whole with its segmentation request — checked
 * against the egress MTU by gso_size + headers (`skb_gso_validate_network_len`)
 * — or is cut here when the egress device cannot take it
 * (`router_superframe.ts` holds the offload state and the cutting; `forward.ts`
 * the fragmentation).
 *
 * @module
 */

import { formatIpv4, Ipv4Address, Ipv4Cidr } from "../wire/address.ts";
import { readI32 } from "../wire/view.ts";
import { PacketBuffer } from "../buffer/packet_buffer.ts";
import { BufferPool, DEFAULT_SLOT_COUNT } from "../buffer/buffer_pool.ts";
import { type Device, RX_CHECKSUM_PARTIAL } from "../phy/device.ts";
import { DeviceGroup } from "../phy/device_group.ts";
import { CONTROL_RESERVE_POOL_SHARE, type NetworkInterface } from "./interface.ts";
import {
  ALL_HOSTS_GROUP,
  type Ipv4RouterPort,
  LIMITED_BROADCAST,
  ROUTER_CONSUMED,
  ROUTER_CONTINUE,
  ROUTER_LOCAL,
} from "./ipv4.ts";
import {
  type HookName,
  type HookStats,
  HookTable,
  type PacketHook,
  type PacketHooks,
} from "./hooks.ts";
import { Nat, NAT_DROP, type NatEntryInfo, type NatOptions, type NatStats } from "./nat.ts";
import {
  copyForwarded,
  countInPlace,
  countLinkSend,
  decrementTtl,
  FORWARD_ICMP_DEST_UNREACHABLE,
  FORWARD_ICMP_FRAG_NEEDED,
  FORWARD_ICMP_NET_UNREACHABLE,
  FORWARD_ICMP_TIME_EXCEEDED,
  FORWARD_ICMP_TTL_EXCEEDED,
  type ForwardStats,
  fragmentForwarded,
  martianReason,
  newForwardStats,
  plainEthernetLinks,
  readdressFrame,
} from "./forward.ts";
import { ForwardOffloads } from "./router_superframe.ts";
import type { BufferPoolLike, IpSendOptions, PacketBufferLike } from "./types.ts";
import { Reassembler, type ReassemblyOptions, type ReassemblyStats } from "./reassembly.ts";
import { type Forward6Stats, Ipv6Router, type RouterRoute6Options } from "./router6.ts";
import { ETHERNET_HEADER_LEN, ETHERNET_MIN_FRAME_LEN } from "../wire/ethernet.ts";
import { ICMP_UNREACH_PORT } from "../wire/icmp.ts";
import {
  IPV4_DST_OFFSET,
  IPV4_FLAG_DF,
  IPV4_FLAGS_FRAGMENT_OFFSET,
  IPV4_HEADER_LEN,
  IPV4_TTL_OFFSET,
} from "../wire/ipv4.ts";

export type { ForwardStats } from "./forward.ts";

/** MF and the high bits of the fragment offset in the flags byte: a fragment has one set. */
const FRAGMENT_HIGH_BITS = 0x3f;
/** "No route" from {@link Router.lookup}. */
export const ROUTER_NO_ROUTE = -1;
/** Largest number of routes in a router's table. */
export const ROUTER_MAX_ROUTES = 1024;

/** Per-interface router settings. */
export interface RouterInterfaceOptions {
  /** Masquerade datagrams forwarded out of this interface (stateful NAT, `nat.ts`). */
  masquerade?: boolean;
  /** Metric of this interface's routes (connected, default, static); lower wins a tie. Default 0. */
  metric?: number;
}

/** A route of the router's table given by the user. */
export interface RouterRouteOptions {
  /** Destination network, e.g. `"203.0.113.0/24"` or `"0.0.0.0/0"`. */
  destination: string;
  /** Next hop (on one interface's network); omit for on-link. */
  gateway?: string | null;
  /** Index of the interface (default: the one whose network holds the gateway). */
  interface?: number;
  /** Lower wins between routes of the same prefix (default 0). */
  metric?: number;
}

/** Options of a {@link Router}. */
export interface RouterOptions {
  /** Forward datagrams not addressed to us between the interfaces (RFC 1812). Default false. */
  forwarding?: boolean;
  /** Packet hooks per point (see `hooks.ts`). */
  hooks?: PacketHooks;
  /** NAT table bounds, port range, timeouts. */
  nat?: NatOptions;
  /** Routes beyond those of the interfaces. */
  routes?: RouterRouteOptions[];
  /** IPv6 routes beyond the connected prefixes of the interfaces' static addresses. */
  routes6?: RouterRoute6Options[];
  /**
   * Bounds of the defragmentation before NAT (see {@link Router.defrag});
   * default those of an interface's reassembly.
   */
  reassembly?: ReassemblyOptions;
}

/** One route of a router's table, as {@link Router.routes} lists it. */
export interface RouterRouteInfo {
  /** Destination network. */
  destination: string;
  /** Next hop, or null on-link. */
  gateway: string | null;
  /** Interface index. */
  interface: number;
  /** Metric. */
  metric: number;
}

/** Counters of a router. */
export interface RouterStats {
  /** Forwarding. */
  forward: ForwardStats;
  /** Hooks per point. */
  hooks: HookStats;
  /** NAT (all masquerading interfaces). */
  nat: NatStats;
  /** Defragmentation before NAT (zero without a masquerading interface). */
  defrag: ReassemblyStats;
  /** IPv6 forwarding (with an interface that has IPv6). */
  forward6?: Forward6Stats;
}

/**
 * The buffer pool the interfaces of a router share (a datagram may leave on
 * any of them): the default pool of an interface, its control reserve too.
 *
 * @returns a new pool
 */
export function sharedInterfacePool(): BufferPool {
  return new BufferPool({ reserved: Math.floor(DEFAULT_SLOT_COUNT * CONTROL_RESERVE_POOL_SHARE) });
}

/**
 * The devices of several interfaces as one for the stack's loop.
 *
 * @param devices one per interface, in order
 * @returns a {@link DeviceGroup}
 */
export function groupDevices(devices: Device[]): Device {
  return new DeviceGroup(devices);
}

/** One interface as the router sees it (its index is its position). */
class RouterPort implements Ipv4RouterPort {
  readonly #router: Router;
  readonly #index: number;
  constructor(router: Router, index: number) {
    this.#router = router;
    this.#index = index;
  }
  receive(nowMs: number, bytes: Uint8Array, offset: number, length: number, total: number): number {
    return this.#router.receive(this.#index, nowMs, bytes, offset, length, total);
  }
  output(src: number, buf: PacketBufferLike, dst: number, protocol: number, opts?: IpSendOptions) {
    return this.#router.output(this.#index, src, buf, dst, protocol, opts);
  }
  localOut(buf: PacketBufferLike): boolean {
    return this.#router.localOut(this.#index, buf);
  }
  sourceAddressFor(dst: number): number {
    return this.#router.sourceAddressFor(dst);
  }
}

/**
 * Several interfaces, one routing table, forwarding, hooks and NAT (see the
 * module documentation). The stack builds one for `new Stack({ interfaces })`.
 *
 * @example
 * ```ts
 * import { Router } from "./router.ts";
 * import { NetworkInterface } from "./interface.ts";
 * import { MemoryLink } from "../phy/memory_link.ts";
 * import { BufferPool } from "../buffer/buffer_pool.ts";
 * const pool = new BufferPool({ slots: 64 });
 * const [a] = MemoryLink.pair();
 * const [b] = MemoryLink.pair();
 * const inside = new NetworkInterface(a, { ipv4: "198.51.100.1/24", pool });
 * const outside = new NetworkInterface(b, { ipv4: "203.0.113.1/24", gateway: "203.0.113.254", pool });
 * const router = new Router([inside, outside], [{}, { masquerade: true }], { forwarding: true });
 * console.assert(router.interfaceFor(0x08080808) === outside);
 * console.assert(router.sourceAddressFor(0xc6336409 | 0) === inside.config.address);
 * ```
 */
export class Router {
  /** The interfaces, in the order given; index = position. */
  readonly interfaces: readonly NetworkInterface[];
  /** Hooks and their counters. */
  readonly hooks: HookTable = new HookTable();
  /** The NAT engine (used by interfaces with `masquerade`). */
  readonly nat: Nat;
  /** Forwarding counters. */
  readonly forwardStats: ForwardStats = newForwardStats();
  /** Whether datagrams for others are forwarded. */
  forwarding: boolean;
  /**
   * With a masquerading interface, fragments are reassembled here, before the
   * prerouting hooks and NAT, as Linux's nf_defrag_ipv4 does for conntrack:
   * NAT needs the transport header every fragment but the first lacks. A
   * forwarded one is cut again on output, no larger than its largest fragment
   * (Linux `frag_max_size`). Bounded like an interface's reassembly.
   */
  readonly defrag: Reassembler;
  /** The IPv6 side (table, output, forwarding, `router6.ts`) when an interface has IPv6, else null. */
  readonly ipv6: Ipv6Router | null;
  /** Whether {@link defrag} is used: some interface masquerades. */
  readonly #defragActive: boolean;

  readonly #masquerade: boolean[];
  readonly #metrics: number[];
  readonly #extraRoutes: RouterRouteOptions[];
  // The table: parallel arrays sorted by prefix length (longest first), then metric.
  #networks = new Int32Array(0);
  #masks = new Int32Array(0);
  #prefixes = new Int32Array(0);
  #gateways = new Int32Array(0);
  #ifaces = new Int32Array(0);
  #routeMetrics = new Int32Array(0);
  /** The pool every interface shares. */
  readonly #pool: BufferPoolLike;
  /** Headroom for every link: the largest of the interfaces'. */
  readonly #headroom: number;
  /** Large buffers handed out by {@link allocateLarge}. */
  readonly #large = new WeakSet<PacketBufferLike>();
  /** Whether interface i carries plain Ethernet (no VLAN tag, not an IP link): in-place forwarding. */
  readonly #plainEthernet: boolean[];
  /** Offload metadata, super-frames to cut (router_superframe.ts). */
  readonly #offload: ForwardOffloads;

  /**
   * Creates the router over interfaces that share one buffer pool.
   *
   * @param interfaces the interfaces (at least one), all with the same `pool`
   * @param perInterface settings per interface (same order)
   * @param options forwarding, hooks, NAT, extra routes
   * @throws {TypeError} on no interface, interfaces with different pools, a bad route
   */
  constructor(
    interfaces: NetworkInterface[],
    perInterface: RouterInterfaceOptions[] = [],
    options: RouterOptions = {},
  ) {
    if (!Array.isArray(interfaces) || interfaces.length === 0) {
      throw new TypeError("a router needs at least one interface");
    }
    this.interfaces = interfaces.slice();
    this.#pool = interfaces[0].pool;
    for (const i of interfaces) {
      if (i.pool !== this.#pool) {
        throw new TypeError("the interfaces of a router must share one buffer pool");
      }
    }
    this.#headroom = Math.max(...interfaces.map((i) => i.linkHeadroom)) + IPV4_HEADER_LEN;
    this.#masquerade = interfaces.map((_, n) => perInterface[n]?.masquerade === true);
    this.#metrics = interfaces.map((_, n) => {
      const m = perInterface[n]?.metric ?? 0;
      if (!Number.isInteger(m) || m < 0) {
        throw new TypeError(`interface ${n}: metric must be an integer ≥ 0, got ${m}`);
      }
      return m;
    });
    this.#plainEthernet = plainEthernetLinks(interfaces);
    this.#offload = new ForwardOffloads(this.interfaces, this.#pool, this.forwardStats);
    this.forwarding = options.forwarding === true;
    this.hooks.addAll(options.hooks);
    this.nat = new Nat(options.nat);
    this.defrag = new Reassembler(options.reassembly);
    this.#defragActive = this.#masquerade.includes(true);
    this.nat.localIcmpIdInUse = (outside, id) => this.interfaces[outside].icmp.hasEchoListener(id);
    this.#extraRoutes = options.routes ?? [];
    this.rebuildRoutes();
    this.ipv6 = interfaces.some((i) => i.ipv6 !== null)
      ? new Ipv6Router(
        this.interfaces,
        this.hooks,
        () => this.forwarding,
        this.#metrics,
        options.routes6,
      )
      : null;
    interfaces.forEach((iface, n) => {
      iface.ipv4.router = new RouterPort(this, n);
      iface.icmp.ownsAddress = (a) => this.#ownerOf(a) >= 0;
    });
  }

  /**
   * Rebuilds the table from the interfaces' current routes (after an address
   * change, e.g. a DHCP lease) and the extra routes.
   *
   * @param strict throw on an extra route whose gateway is on no interface's
   *   network (default); false: leave it out until one is (a lease came or went)
   * @throws {TypeError} when strict, on such a route
   */
  rebuildRoutes(strict = true): void {
    const rows: {
      net: number;
      mask: number;
      prefix: number;
      gw: number;
      iface: number;
      metric: number;
    }[] = [];
    this.interfaces.forEach((iface, n) => {
      for (const r of iface.config.routes.list()) {
        rows.push({
          net: r.destination.address.value,
          mask: r.destination.mask,
          prefix: r.destination.prefixLength,
          gw: r.gateway === null ? 0 : r.gateway.value,
          iface: n,
          metric: this.#metrics[n],
        });
      }
    });
    for (const r of this.#extraRoutes) {
      const cidr = Ipv4Cidr.parse(r.destination);
      const gw = r.gateway === undefined || r.gateway === null
        ? 0
        : Ipv4Address.parse(r.gateway).value;
      let iface = r.interface ?? -1;
      if (iface < 0) {
        iface = this.interfaces.findIndex((i) =>
          i.config.address !== 0 && ((gw ^ i.config.address) & i.config.mask) === 0
        );
      }
      if (iface < 0 || iface >= this.interfaces.length || (gw === 0 && r.interface === undefined)) {
        if (!strict) continue;
        throw new TypeError(
          `route ${r.destination}: name its interface, or a gateway on one interface's network`,
        );
      }
      rows.push({
        net: cidr.address.value & cidr.mask,
        mask: cidr.mask,
        prefix: cidr.prefixLength,
        gw,
        iface,
        metric: r.metric ?? 0,
      });
    }
    if (rows.length > ROUTER_MAX_ROUTES) {
      throw new TypeError(`a router holds at most ${ROUTER_MAX_ROUTES} routes`);
    }
    // RFC 1812 §5.2.4.3: longest match first; among equals the lowest metric (stable: the
    // interface given first wins a full tie).
    rows.sort((a, b) => b.prefix - a.prefix || a.metric - b.metric);
    this.#networks = Int32Array.from(rows, (r) => r.net);
    this.#masks = Int32Array.from(rows, (r) => r.mask);
    this.#prefixes = Int32Array.from(rows, (r) => r.prefix);
    this.#gateways = Int32Array.from(rows, (r) => r.gw);
    this.#ifaces = Int32Array.from(rows, (r) => r.iface);
    this.#routeMetrics = Int32Array.from(rows, (r) => r.metric);
  }

  /**
   * Longest-prefix match, then lowest metric.
   *
   * @param dst destination (int32 or unsigned)
   * @returns the route's row, or {@link ROUTER_NO_ROUTE}
   */
  lookup(dst: number): number {
    const nets = this.#networks;
    const masks = this.#masks;
    for (let i = 0; i < nets.length; i++) {
      if ((dst & masks[i]) === nets[i]) return i;
    }
    return ROUTER_NO_ROUTE;
  }

  /**
   * The interface a datagram to `dst` leaves on.
   *
   * @param dst destination
   * @returns the interface, or null without a route
   */
  interfaceFor(dst: number): NetworkInterface | null {
    const r = this.lookup(dst);
    return r === ROUTER_NO_ROUTE ? null : this.interfaces[this.#ifaces[r]];
  }

  /**
   * The table.
   *
   * @returns the routes, best first (allocates)
   */
  routes(): RouterRouteInfo[] {
    const out: RouterRouteInfo[] = [];
    for (let i = 0; i < this.#networks.length; i++) {
      out.push({
        destination: `${formatIpv4(this.#networks[i])}/${this.#prefixes[i]}`,
        gateway: this.#gateways[i] === 0 ? null : formatIpv4(this.#gateways[i]),
        interface: this.#ifaces[i],
        metric: this.#routeMetrics[i],
      });
    }
    return out;
  }

  /**
   * Adds a hook (see `hooks.ts`).
   *
   * @param name the point
   * @param hook the function
   * @returns a function that removes it
   */
  addHook(name: HookName, hook: PacketHook): () => void {
    return this.hooks.add(name, hook);
  }

  /** A snapshot of the counters. */
  get stats(): RouterStats {
    const h = this.hooks.stats;
    return {
      forward: { ...this.forwardStats },
      hooks: {
        prerouting: { ...h.prerouting },
        input: { ...h.input },
        forward: { ...h.forward },
        output: { ...h.output },
        postrouting: { ...h.postrouting },
      },
      nat: { ...this.nat.stats },
      defrag: { ...this.defrag.stats },
      ...(this.ipv6 === null ? {} : { forward6: { ...this.ipv6.stats } }),
    };
  }

  /**
   * The NAT table.
   *
   * @returns one record per tracked connection
   */
  natTable(): NatEntryInfo[] {
    return this.nat.list();
  }

  // ---- IpSender for the transports ----

  /**
   * A pool buffer with headroom for IPv4 and any interface's link header.
   *
   * @returns the buffer, or null when the pool is empty (counted on the first interface)
   */
  allocate(): PacketBufferLike | null {
    const buf = this.#pool.alloc(this.#headroom);
    if (buf === null) this.interfaces[0].ipv4.stats.txNoBuffer++;
    return buf;
  }

  /**
   * A standalone buffer for a datagram larger than a pool slot (fragmented on send).
   *
   * @param payloadBytes transport bytes
   * @returns the buffer, or null beyond IPv4's 65,535 bytes
   */
  allocateLarge(payloadBytes: number): PacketBufferLike | null {
    if (payloadBytes + IPV4_HEADER_LEN > 0xffff) return null;
    const buf = new PacketBuffer(new Uint8Array(this.#headroom + payloadBytes));
    buf.reset(this.#headroom);
    this.#large.add(buf);
    return buf;
  }

  /**
   * Returns an unsent buffer.
   *
   * @param buf from {@link allocate} or {@link allocateLarge}
   */
  release(buf: PacketBufferLike): void {
    if (this.#large.has(buf)) this.#large.delete(buf);
    else this.#pool.free(buf);
  }

  /**
   * Sends a transport payload from `opts.source` — the connection's or bound
   * socket's address, which may be another interface's than the egress one
   * (RFC 1122 §3.3.4.2, the weak host model) — else from the egress
   * interface's address.
   *
   * @param buf transport header + data (ownership taken)
   * @param dst destination
   * @param protocol IP protocol number
   * @param opts ttl, dontFragment, tos, source
   * @returns false when dropped (counted)
   */
  send(buf: PacketBufferLike, dst: number, protocol: number, opts?: IpSendOptions): boolean {
    const source = opts?.source ?? 0;
    return this.output(
      0,
      source !== 0 ? source : this.sourceAddressFor(dst),
      buf,
      dst,
      protocol,
      opts,
    );
  }

  /**
   * Our address toward `dst`: the egress interface's.
   *
   * @param dst destination
   * @returns the address, or 0 without a route
   */
  sourceAddressFor(dst: number): number {
    dst |= 0;
    const own = this.#ownerOf(dst);
    if (own >= 0) return this.interfaces[own].config.address;
    if (dst === LIMITED_BROADCAST) return this.interfaces[0].config.address;
    const r = this.lookup(dst);
    return r === ROUTER_NO_ROUTE ? 0 : this.interfaces[this.#ifaces[r]].config.address;
  }

  /**
   * The MTU toward `dst`: the egress interface's.
   *
   * @param dst destination
   * @returns MTU in bytes
   */
  mtuFor(dst: number): number {
    const r = this.lookup(dst);
    return this.interfaces[r === ROUTER_NO_ROUTE ? 0 : this.#ifaces[r]].config.mtu;
  }

  /**
   * UDP's closed-port hook: the interface delivering the datagram answers.
   *
   * @param nowMs current time
   * @param src datagram source
   * @param dst datagram destination
   * @param bytes the bytes UDP got
   * @param offset the offset UDP got
   * @param length the length UDP got
   */
  portUnreachable(
    nowMs: number,
    _src: number,
    _dst: number,
    bytes: Uint8Array,
    offset: number,
    _length: number,
  ): void {
    for (const i of this.interfaces) {
      if (
        i.ipv4.reportCurrent(
          nowMs,
          FORWARD_ICMP_DEST_UNREACHABLE,
          ICMP_UNREACH_PORT,
          bytes,
          offset,
        )
      ) return;
    }
  }

  /**
   * Expires NAT connections.
   *
   * @param nowMs current time
   */
  poll(nowMs: number): void {
    this.nat.poll(nowMs);
    // No ICMP on a defragmentation timeout: Linux skips it for conntrack's defrag users.
    if (this.#defragActive) this.defrag.poll(nowMs);
  }

  /**
   * When {@link poll} next has work.
   *
   * @returns ms, or Infinity
   */
  nextDeadline(): number {
    return Math.min(this.nat.nextDeadline(), this.defrag.nextDeadline());
  }

  // ---- the ports' work ----

  /**
   * @internal {@link Ipv4RouterPort.receive} of interface `n`.
   *
   * @returns a ROUTER_* verdict
   */
  receive(
    n: number,
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    total: number,
  ): number {
    if (
      this.#defragActive &&
      ((bytes[offset + IPV4_FLAGS_FRAGMENT_OFFSET] & FRAGMENT_HIGH_BITS) |
          bytes[offset + IPV4_FLAGS_FRAGMENT_OFFSET + 1]) !== 0
    ) {
      return this.#defragment(n, nowMs, bytes, offset, total);
    }
    return this.#route(n, nowMs, bytes, offset, length, total, 0);
  }

  /**
   * Defragmentation before NAT (see {@link defrag}): holds the fragment; with
   * the last one, routes the whole datagram and, when it is for this host,
   * hands it to the ingress interface's IPv4 layer.
   */
  #defragment(n: number, nowMs: number, bytes: Uint8Array, offset: number, total: number): number {
    const r = this.defrag;
    const whole = r.input(nowMs, bytes, offset, (bytes[offset] & 0x0f) << 2, total);
    if (whole === null) return ROUTER_CONSUMED; // held, or dropped and counted
    const at = r.headerOffset;
    const length = r.length;
    const verdict = this.#route(n, nowMs, whole, at, length, length, r.largestFragment);
    if (verdict !== ROUTER_CONSUMED) {
      this.interfaces[n].ipv4.deliverDefragmented(
        nowMs,
        whole,
        at,
        length,
        verdict === ROUTER_LOCAL,
      );
    }
    return ROUTER_CONSUMED;
  }

  /**
   * Prerouting hooks, reverse NAT, then local delivery or forwarding of a
   * whole datagram (or, without NAT, of a fragment); `fragmentSize` is the
   * largest fragment of a defragmented datagram, else 0.
   */
  #route(
    n: number,
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    total: number,
    fragmentSize: number,
  ): number {
    const hooks = this.hooks;
    const ingress = this.interfaces[n];
    // A local sender's checksum offload: the transport field is the pseudo-header sum only
    // (not in a defragmented datagram: the received frame was its last fragment).
    const partial = fragmentSize === 0 &&
      ingress.device.rxInfo?.checksum === RX_CHECKSUM_PARTIAL;
    if (!hooks.run("prerouting", bytes, offset, total, n, -1, partial)) return ROUTER_CONSUMED;
    let dst = readI32(bytes, offset + IPV4_DST_OFFSET);
    if (this.#masquerade[n] && dst === ingress.config.address && dst !== 0) {
      const v = this.nat.inbound(nowMs, bytes, offset, total, n, partial);
      if (v === NAT_DROP) return ROUTER_CONSUMED;
      dst = readI32(bytes, offset + IPV4_DST_OFFSET);
    }
    if (this.#isLocal(n, dst)) {
      return hooks.run("input", bytes, offset, total, n, -1, partial)
        ? ROUTER_LOCAL
        : ROUTER_CONSUMED;
    }
    if (!this.forwarding) return ROUTER_CONTINUE;
    this.#forward(n, nowMs, bytes, offset, length, total, fragmentSize);
    return ROUTER_CONSUMED;
  }

  /**
   * @internal {@link Ipv4RouterPort.output}: routes a datagram we originate.
   *
   * @returns false when dropped (counted)
   */
  output(
    n: number,
    src: number,
    buf: PacketBufferLike,
    dst: number,
    protocol: number,
    opts?: IpSendOptions,
  ): boolean {
    dst |= 0;
    const own = this.#ownerOf(dst);
    let egress: NetworkInterface;
    let nextHop: number | undefined;
    if (own >= 0) {
      egress = this.interfaces[own]; // local delivery on the owning interface
    } else if (dst === LIMITED_BROADCAST) {
      egress = this.interfaces[n]; // RFC 919 §7: the asking interface's own link
    } else {
      const r = this.lookup(dst);
      if (r === ROUTER_NO_ROUTE) {
        const layer = this.interfaces[n].ipv4;
        layer.stats.txNoRoute++;
        this.release(buf);
        return false;
      }
      egress = this.interfaces[this.#ifaces[r]];
      const gw = this.#gateways[r];
      nextHop = gw === 0 ? dst : gw;
    }
    if (this.#large.has(buf)) {
      // A large buffer goes to the egress layer's own kind, which it knows how to free.
      const big = egress.ipv4.allocateLarge(buf.length);
      if (big === null) {
        this.#large.delete(buf);
        return false;
      }
      big.bytes.set(buf.bytes.subarray(buf.head, buf.tail), big.append(buf.length));
      this.#large.delete(buf);
      buf = big;
    }
    return egress.ipv4.sendRouted(src, buf, dst, protocol, opts, nextHop);
  }

  /**
   * @internal {@link Ipv4RouterPort.localOut}: output and postrouting hooks
   * for a datagram we originate leaving on interface `n`.
   *
   * @returns false when a hook dropped it
   */
  localOut(n: number, buf: PacketBufferLike): boolean {
    const hooks = this.hooks;
    return hooks.run("output", buf.bytes, buf.head, buf.length, -1, n) &&
      hooks.run("postrouting", buf.bytes, buf.head, buf.length, -1, n);
  }

  /** Whether `dst` is for this host when it arrives on interface `n` (weak host model, RFC 1122 §3.3.4.2). */
  #isLocal(n: number, dst: number): boolean {
    if (dst === LIMITED_BROADCAST || dst === ALL_HOSTS_GROUP) return true;
    const c = this.interfaces[n].config;
    if (c.directedBroadcast !== 0 && dst === c.directedBroadcast) return true;
    return this.#ownerOf(dst) >= 0;
  }

  /** The interface whose address is `dst`, or -1. */
  #ownerOf(dst: number): number {
    if (dst === 0) return -1;
    const ifs = this.interfaces;
    for (let i = 0; i < ifs.length; i++) if (ifs[i].config.address === dst) return i;
    return -1;
  }

  /**
   * RFC 1812 §5.2–5.3: forwards a datagram that arrived on interface `n`;
   * `fragmentSize` > 0: it was defragmented here, from fragments of at most
   * that size.
   */
  #forward(
    n: number,
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    total: number,
    fragmentSize = 0,
  ): void {
    const stats = this.forwardStats;
    const ingress = this.interfaces[n];
    // RFC 1812 §5.3.7, §4.2.2.11; RFC 3927 §7: martians, broadcasts, link-local stay here.
    const martian = martianReason(bytes, offset, this.interfaces);
    if (martian !== 0) {
      stats.dropped++;
      if (martian === 1) stats.martianSource++;
      else if (martian === 2) stats.martianDestination++;
      else if (martian === 3) stats.linkLocal++;
      else if (martian === 4) stats.broadcast++;
      else stats.multicast++;
      return;
    }
    // RFC 1812 §5.3.1: a datagram whose TTL would reach 0 is discarded with time exceeded.
    if (bytes[offset + IPV4_TTL_OFFSET] <= 1) {
      stats.ttlExceeded++;
      stats.dropped++;
      ingress.icmp.sendTransitError(
        nowMs,
        FORWARD_ICMP_TIME_EXCEEDED,
        FORWARD_ICMP_TTL_EXCEEDED,
        0,
        bytes,
        offset,
        total,
      );
      return;
    }
    const dst = readI32(bytes, offset + IPV4_DST_OFFSET);
    const r = this.lookup(dst);
    if (r === ROUTER_NO_ROUTE) {
      // RFC 1812 §5.2.7.1: destination unreachable, network unreachable.
      stats.noRoute++;
      stats.dropped++;
      ingress.icmp.sendTransitError(
        nowMs,
        FORWARD_ICMP_DEST_UNREACHABLE,
        FORWARD_ICMP_NET_UNREACHABLE,
        0,
        bytes,
        offset,
        total,
      );
      return;
    }
    const e = this.#ifaces[r];
    const egress = this.interfaces[e];
    const gw = this.#gateways[r];
    const nextHop = gw === 0 ? dst : gw;
    const linkMtu = egress.config.mtu;
    // A defragmented datagram is judged by its largest fragment and cut again no larger (Linux
    // ip_forward's and ip_do_fragment's frag_max_size): defragmenting stays invisible.
    const mtu = fragmentSize > 0 && fragmentSize < linkMtu ? fragmentSize : linkMtu;
    const flags = (bytes[offset + IPV4_FLAGS_FRAGMENT_OFFSET] << 8) |
      bytes[offset + IPV4_FLAGS_FRAGMENT_OFFSET + 1];
    const offloads = this.#offload;
    if (!offloads.read(n, bytes, offset, total, fragmentSize)) return;
    const gsoSize = offloads.gsoSize;
    // Linux skb_gso_validate_network_len: a super-frame fits when each of its segments does.
    const size = gsoSize > 0
      ? offloads.segmentHeaders + gsoSize
      : fragmentSize > 0
      ? fragmentSize
      : total;
    if (size > linkMtu && (flags & IPV4_FLAG_DF) !== 0) {
      // RFC 1812 §5.2.7.1 / RFC 1191 §4: fragmentation needed, with the next hop's MTU.
      stats.fragNeeded++;
      stats.dropped++;
      ingress.icmp.sendTransitError(
        nowMs,
        FORWARD_ICMP_DEST_UNREACHABLE,
        FORWARD_ICMP_FRAG_NEEDED,
        linkMtu,
        bytes,
        offset,
        total,
      );
      return;
    }
    if (e === n) stats.sameInterface++;
    decrementTtl(bytes, offset);
    const hooks = this.hooks;
    const partial = offloads.csumField !== 0;
    if (!hooks.run("forward", bytes, offset, total, n, e, partial)) {
      stats.dropped++;
      return;
    }
    if (
      this.#masquerade[e] &&
      !this.nat.outbound(nowMs, bytes, offset, total, e, egress.config.address, partial)
    ) {
      stats.natDropped++;
      stats.dropped++;
      return;
    }
    if (!hooks.run("postrouting", bytes, offset, total, n, e, partial)) {
      stats.dropped++;
      return;
    }
    const hl = (bytes[offset] & 0x0f) << 2;
    const csumField = offloads.csumField;
    if (offloads.mustSegment(e, size, linkMtu, total)) {
      // The egress device cannot take the super-frame (or its segments need fragments).
      offloads.segment(egress, bytes, offset, total, hl, gsoSize, nextHop);
      return;
    }
    if (gsoSize === 0 && total > mtu) {
      if (csumField !== 0) offloads.complete(bytes, offset, hl, total, csumField);
      fragmentForwarded(this.#pool, stats, egress, bytes, offset, total, flags, nextHop, mtu);
      return;
    }
    // A partial checksum goes on as one (the device completes it) when the egress device can.
    const offload = csumField !== 0 && offloads.checksumOffload(e);
    if (csumField !== 0 && !offload) offloads.complete(bytes, offset, hl, total, csumField);
    if (this.#plainEthernet[e] && this.#plainEthernet[n]) {
      const frame = Math.max(ETHERNET_HEADER_LEN + total, ETHERNET_MIN_FRAME_LEN);
      // In place only behind the received Ethernet header (not a defragmented datagram's buffer).
      const mac = frame <= ETHERNET_HEADER_LEN + length && offset >= ETHERNET_HEADER_LEN &&
          fragmentSize === 0
        ? egress.arp.lookup(egress.nowMs, nextHop)
        : -1;
      if (mac >= 0) {
        // Zero copy: the Ethernet header in front of the datagram gets the new addresses.
        const at = readdressFrame(bytes, offset, mac, egress);
        this.#sendInPlace(egress, bytes, at, frame, ETHERNET_HEADER_LEN + hl, offload, gsoSize);
        return;
      }
    } else if (egress.device.capabilities.link === "ip") {
      // An IP link takes the datagram as it is: no header to write.
      this.#sendInPlace(egress, bytes, offset, total, hl, offload, gsoSize);
      return;
    }
    if (gsoSize > 0) {
      // A super-frame does not fit a pool buffer: its segments wait for ARP instead.
      offloads.segment(egress, bytes, offset, total, hl, gsoSize, nextHop);
      return;
    }
    if (offload) offloads.complete(bytes, offset, hl, total, csumField);
    // One copy: the datagram waits for ARP or needs another link header.
    const buf = copyForwarded(this.#pool, stats, egress.linkHeadroom, bytes, offset, total);
    if (buf !== null) countLinkSend(stats, egress.sendToNeighbour(buf, nextHop));
  }

  /**
   * Transmits a forwarded frame from where it lies (the receive buffer):
   * plainly, or with its partial checksum (`offload`) and, for a super-frame
   * (`gsoSize > 0`), its segmentation request for the device (Linux forwards
   * a GSO skb whole and lets the egress device or its GSO segment it).
   */
  #sendInPlace(
    egress: NetworkInterface,
    bytes: Uint8Array,
    at: number,
    frame: number,
    csumStart: number,
    offload: boolean,
    gsoSize: number,
  ): void {
    const ok = offload
      ? egress.device.transmitOffload!(
        bytes,
        at,
        frame,
        csumStart,
        this.#offload.csumField,
        gsoSize,
      )
      : egress.device.transmit(bytes, at, frame);
    const stats = this.forwardStats;
    if (countInPlace(egress, stats, ok)) {
      if (offload) stats.checksumOffloaded++;
      if (gsoSize > 0) stats.superFrames++;
    }
  }
}
