/**
 * The declarations of {@link Stack}'s public surface and their validation: the
 * constructor's options ({@link StackOptions}, {@link StackInterfaceOptions}),
 * the counters {@link Stack.stats} returns, the address records of
 * {@link Stack.addresses}, the options of `connect`/`listen`/`close`, the
 * {@link StackService} contract, the check of the `interfaces` form and the
 * parsing of IPv6 literals given as host names. src/stack.ts re-exports every
 * type declared here.
 *
 * @module
 */

import type { Ipv4Cidr } from "../wire/address.ts";
import { type Ipv6Address, parseIpv6 } from "../wire/ipv6_address.ts";
import type { Device, DeviceStats } from "../phy/device.ts";
import type { Clock } from "../time/clock.ts";
import type { LinkStats } from "../iface/interface.ts";
import type { ArpCacheOptions, ArpStats } from "../iface/arp_cache.ts";
import type { StaticRouteOptions } from "../iface/config.ts";
import type { IcmpOptions, IcmpStats } from "../iface/icmp.ts";
import type { PingReply, PingSummary } from "../iface/ping.ts";
import type { Ipv4Stats } from "../iface/ipv4.ts";
import type { ReassemblyOptions } from "../iface/reassembly.ts";
import type { Ipv6LayerOptions, Ipv6Stats, NdpSectionStats } from "../iface/ipv6.ts";
import type { Icmpv6Stats } from "../iface/icmpv6.ts";
import type { RouterStats } from "../iface/router.ts";
import type { PacketHooks } from "../iface/hooks.ts";
import type { NatOptions } from "../iface/nat.ts";
import type { UdpLayerStats } from "../udp/udp_layer.ts";
import type { DnsResolverStats, DnsServer } from "../dns/resolver.ts";
import type { DnsCacheOptions } from "../dns/cache.ts";
import type { StackDhcpOptions } from "../dhcp/stack_dhcp.ts";
import type { DhcpState, DhcpStats } from "../dhcp/client.ts";
import type { TcpConfig, TcpStats } from "../tcp/config.ts";
import type { TcpConnection } from "../tcp/connection.ts";

/** One interface of a stack with several (`StackOptions.interfaces`). */
export interface StackInterfaceOptions {
  /** The link device. The stack closes it. */
  device: Device;
  /**
   * Its address and prefix, e.g. `"198.51.100.1/24"`, or `"dhcp"`: a DHCPv4
   * client of its own leases the address, a default route through the
   * lease's router (with this interface's {@link metric}) and DNS servers.
   */
  ipv4: string | Ipv4Cidr;
  /** With `ipv4: "dhcp"`: this interface's client tunables and `timeoutMs` of `start()`. */
  dhcp?: StackDhcpOptions;
  /**
   * IPv6 on this interface: static addresses (`"2001:db8:a::1/64"`; their
   * prefixes are the router's connected IPv6 routes) and/or `"slaac"`. The
   * link-local address is always configured. `ipv6Options` apply to every
   * interface.
   */
  ipv6?: string | readonly string[];
  /** A default gateway on this interface's network. */
  gateway?: string | null;
  /** IPv4 MTU (default the device's). */
  mtu?: number;
  /** Our MAC on it (default the device's). */
  mac?: string | number;
  /** Static routes through this interface (gateways on its network). */
  routes?: StaticRouteOptions[];
  /** Masquerade what is forwarded out of this interface (stateful NAT, src/iface/nat.ts). */
  masquerade?: boolean;
  /** Metric of this interface's routes; the lower wins between equal prefixes (default 0). */
  metric?: number;
}

/** Options of {@link Stack}. */
export interface StackOptions {
  /**
   * The link device (AfPacketDevice, MemoryLink end, middleware...). The
   * stack closes it. Give either `device` and `ipv4`, or {@link interfaces}.
   */
  device?: Device;
  /**
   * Our IPv4 address and prefix, e.g. `"192.0.2.2/24"`, or `"dhcp"`: a DHCPv4
   * client (RFC 2131) leases one (with router, DNS, MTU) and `start()`
   * resolves once it is bound (see {@link StackOptions.dhcp}). Optional when
   * `ipv6` is given (IPv6 only).
   */
  ipv4?: string | Ipv4Cidr;
  /**
   * Several interfaces instead of `device`/`ipv4`/`gateway`/`mtu`/`mac`: one
   * routing table across them (longest prefix, then metric), per-interface
   * counters (`stats().interfaces`), and with {@link forwarding} a router
   * between them (src/iface/router.ts). `stack.iface` is the first.
   */
  interfaces?: StackInterfaceOptions[];
  /** With {@link interfaces}: forward datagrams between them (RFC 1812). Default false. */
  forwarding?: boolean;
  /** With {@link interfaces}: packet hooks (prerouting, input, forward, output, postrouting). */
  hooks?: PacketHooks;
  /** With {@link interfaces}: NAT table bound, port range and timeouts for `masquerade`. */
  nat?: NatOptions;
  /** With `ipv4: "dhcp"`: the client's tunables (random source, timers) and `timeoutMs` of `start()`. */
  dhcp?: StackDhcpOptions;
  /**
   * IPv6 (issue 18): a static address with prefix (`"2001:db8::2/64"`),
   * `"slaac"` (addresses from router advertisements), or a list of both.
   * The link-local address is always configured; every address goes through
   * duplicate address detection (see {@link Stack.addresses}).
   */
  ipv6?: string | readonly string[];
  /** IPv6 tunables: neighbour cache, NDP bounds, DAD, RFC 7217 secret, PMTU cache, randomness. */
  ipv6Options?: Omit<Ipv6LayerOptions, "mac" | "mtu" | "addresses" | "slaac">;
  /** Default gateway (on-link), e.g. `"192.0.2.1"`. */
  gateway?: string | null;
  /** DNS servers, `"192.0.2.1"` or `"192.0.2.1:5353"`. */
  dns?: readonly (string | DnsServer)[];
  /** DNS: wait per attempt (ms, default 2000). */
  dnsTimeoutMs?: number;
  /** DNS: rounds over the server list (default 3). */
  dnsAttempts?: number;
  /** DNS cache bounds. */
  dnsCache?: DnsCacheOptions;
  /** Static names: `{ "router.test": ["192.0.2.1"] }`. */
  hosts?: Record<string, string[]>;
  /** IPv4 MTU (default the device's). */
  mtu?: number;
  /** Extra static routes. */
  routes?: StaticRouteOptions[];
  /** Our MAC (default the device's). */
  mac?: string | number;
  /** TTL of datagrams we originate (default 64). */
  ttl?: number;
  /** ARP tunables (entry lifetime, retries, queue bounds). */
  arp?: ArpCacheOptions;
  /** Fragment reassembly bounds and timeout. */
  reassembly?: ReassemblyOptions;
  /** ICMP error rate limit. */
  icmp?: IcmpOptions;
  /** UDP receive queue bounds per socket. */
  udp?: { queueBytes?: number; queueDatagrams?: number };
  /** TCP engine tunables (buffers, RTO bounds, retries, TIME-WAIT, Nagle, congestion...). */
  tcp?: Partial<TcpConfig>;
  /**
   * The RFC 6528 secret for initial sequence numbers (16 bytes; default one random
   * secret per process). Simulations fix it so a run replays byte for byte.
   */
  tcpSecret?: Uint8Array;
  /**
   * Key of the hashed IPv4 identification counters (16 bytes, RFC 7739 §5.3; default
   * random per stack). Simulations fix it to replay IPv4 headers too.
   */
  ipIdSecret?: Uint8Array;
  /** Randomness for TCP ephemeral port choice (default: shared per process, RFC 6056). */
  tcpRandom?: () => number;
  /** Time source (default `SystemClock`). Giving one turns the event loop off unless `eventLoop`. */
  clock?: Clock;
  /** Run the event loop on `start()` (default: true without `clock`, false with it). */
  eventLoop?: boolean;
  /** Frames per receive batch (default 64). */
  rxBudget?: number;
  /**
   * Received transport checksums: `"auto"` (default) trusts the device's
   * per-frame checksum state (receive offload, a memory link) and skips
   * verification where it vouches; `"always"` verifies every segment.
   */
  verifyChecksums?: "always" | "auto";
  /**
   * Use the device's transmit offloads: true (default: partial checksums and
   * TCP segmentation), `"checksum"` (partial checksums only) or false.
   */
  txOffloads?: boolean | "checksum";
  /** Where the first handler exception is reported (default `console.error`). */
  onError?: (error: unknown) => void;
}

/** The result of {@link Stack.ping}, like ping(8)'s output. */
export interface PingResult {
  /** The host as given. */
  host: string;
  /** The address pinged (dotted quad). */
  address: string;
  /** Data bytes per request. */
  size: number;
  /** In-time replies, in arrival order. */
  replies: PingReply[];
  /** Transmitted/received/loss and min/avg/max/mdev RTT. */
  summary: PingSummary;
}

/** Counters of the event loop. */
export interface LoopStats {
  /** Loop iterations (including {@link Stack.poll} calls). */
  iterations: number;
  /** Frames taken from the device. */
  rxFrames: number;
  /** Times the loop parked waiting for the device or a deadline. */
  parks: number;
  /** Wake-ups by {@link Stack.kick}. */
  kicks: number;
  /** Exceptions thrown by handlers (caught; the frame/timer is dropped). */
  handlerErrors: number;
  /** The device was closed under the running loop, which then closed the stack. */
  deviceClosed: boolean;
}

/** Everything {@link Stack.stats} reports. */
export interface StackStats {
  /** Device counters (a snapshot). */
  device: DeviceStats;
  /** Ethernet level. */
  link: LinkStats;
  /** ARP cache. */
  arp: ArpStats;
  /** IPv4 in/out, fragments. */
  ipv4: Ipv4Stats;
  /** ICMP. */
  icmp: IcmpStats;
  /** IPv6 in/out, fragments (present when IPv6 is configured). */
  ipv6?: Ipv6Stats;
  /** ICMPv6 (present when IPv6 is configured). */
  icmpv6?: Icmpv6Stats;
  /** Neighbour discovery, neighbour cache, addresses, PMTU, reassembly (present with IPv6). */
  ndp?: NdpSectionStats;
  /** UDP. */
  udp: UdpLayerStats;
  /** TCP. */
  tcp: TcpStats;
  /** DNS resolver. */
  dns: DnsResolverStats;
  /** Event loop. */
  loop: LoopStats;
  /** The interface's packet pool (a snapshot). */
  pool: PoolStats;
  /** The DHCP client (with `ipv4: "dhcp"`), else absent. */
  dhcp?: DhcpStats;
  /** With several interfaces: each interface's counters, in order (the top-level ones are the first's). */
  interfaces?: StackInterfaceStats[];
  /** With several interfaces: forwarding, hook and NAT counters. */
  router?: RouterStats;
}

/** One interface's counters in {@link StackStats.interfaces}. */
export interface StackInterfaceStats {
  /** Device name. */
  name: string;
  /** Its address, dotted quad. */
  address: string;
  /** Device counters. */
  device: DeviceStats;
  /** Ethernet level. */
  link: LinkStats;
  /** ARP. */
  arp: ArpStats;
  /** IPv4. */
  ipv4: Ipv4Stats;
  /** ICMP. */
  icmp: IcmpStats;
  /** Its DHCP client (with `ipv4: "dhcp"`), else absent. */
  dhcp?: DhcpStats;
}

/** A snapshot of the interface's packet pool: how full it is, and its reserve for control traffic. */
export interface PoolStats {
  /** Slots in all. */
  capacity: number;
  /** Slots handed out now. */
  inUse: number;
  /** Slots free now. */
  available: number;
  /** Slots only the stack's own control traffic (ARP) may take. */
  reserved: number;
}

/** One address of the stack, as {@link Stack.addresses} lists it. */
export interface StackAddress {
  /** Address family. */
  family: "ipv4" | "ipv6";
  /** The address: dotted quad, or RFC 5952 text. */
  address: string;
  /** Prefix length. */
  prefixLength: number;
  /**
   * RFC 4862 vocabulary: `"tentative"` while being checked (IPv6 duplicate
   * address detection, a DHCP lease during its RFC 5227 probe), `"preferred"`
   * in use, `"deprecated"` (preferred lifetime over), `"duplicate"` (another
   * node holds it).
   */
  state: "tentative" | "preferred" | "deprecated" | "duplicate";
  /** How it was configured: `"static"`, `"dhcp"`, `"link-local"`, `"slaac"`. */
  origin: string;
  /** Seconds of valid lifetime left (Infinity for static addresses). */
  validLifetimeS: number;
  /** Seconds of preferred lifetime left. */
  preferredLifetimeS: number;
  /** For a DHCP lease: its client state and times (stack clock, ms). */
  dhcp?: StackDhcpLeaseInfo;
}

/** The DHCP side of a {@link StackAddress}. */
export interface StackDhcpLeaseInfo {
  /** Client state: `"probing"`, `"bound"`, `"renewing"`, `"rebinding"`. */
  state: DhcpState;
  /** The server that granted it. */
  server: string;
  /** Router (option 3), or null. */
  router: string | null;
  /** DNS servers (option 6). */
  dns: string[];
  /** MTU (option 26), or null. */
  mtu: number | null;
  /** Lease time in seconds (Infinity: infinite). */
  leaseTimeS: number;
  /** When it was obtained. */
  obtainedMs: number;
  /** T1. */
  renewAtMs: number;
  /** T2. */
  rebindAtMs: number;
  /** Expiry. */
  expiresAtMs: number;
}

/** Options of {@link Stack.connect}, like `Deno.ConnectOptions`. */
export interface StackConnectOptions {
  /** Dotted quad or a name (resolved with the stack's DNS resolver, first A record). */
  hostname: string;
  /** Destination port 1..65535. */
  port: number;
  /** Only `"tcp"`. */
  transport?: "tcp";
  /** Turn Nagle's algorithm off at once (RFC 896). */
  noDelay?: boolean;
  /** Local port (default: an ephemeral port, RFC 6335 §6). */
  localPort?: number;
  /**
   * Called with the engine connection before its SYN is sent: socket options that shape
   * the SYN (TCP_MAXSEG, IP_TTL, IP_TOS, TCP_KEEPINIT; the descriptor facade's setsockopt).
   */
  configure?: (conn: TcpConnection) => void;
}

/** Options of {@link Stack.listen}, like `Deno.TcpListenOptions`. */
export interface StackListenOptions {
  /** Local port; 0 picks a free ephemeral port. */
  port: number;
  /** Our address or `"0.0.0.0"` (default: any). */
  hostname?: string;
  /** Limit of the SYN queue and of the accept queue (default 128, Linux's SOMAXCONN). */
  backlog?: number;
  /** Only `"tcp"`. */
  transport?: "tcp";
}

/**
 * Something attached to the stack's loop (e.g. the TCP layer's socket side):
 * polled each iteration, asked for its next deadline, closed with the stack.
 */
export interface StackService {
  /** Runs due work. */
  poll?(nowMs: number): void;
  /** Earliest time `poll` has work (Infinity = none). Timers on {@link Stack.wheel} need not be reported. */
  nextDeadline?(): number;
  /** Releases everything; called by {@link Stack.close} before the device closes. */
  close?(): void;
}

/** Options of {@link Stack.close}. */
export interface StackCloseOptions {
  /**
   * Let connections the application already closed finish their FIN
   * exchange for up to this many milliseconds before the stack stops
   * (default 0: reset them at once).
   */
  lingerMs?: number;
}

/** @deprecated The same as {@link StackAddress}. */
export type StackAddressInfo = StackAddress;

/** The interfaces form excludes the single-device options it replaces. */
export function checkInterfacesOptions(options: StackOptions): void {
  const list = options.interfaces;
  if (!Array.isArray(list) || list.length === 0) {
    throw new TypeError(`"interfaces" must be a non-empty array of { device, ipv4 }`);
  }
  for (const k of ["device", "ipv4", "ipv6", "gateway", "mtu", "mac", "dhcp"] as const) {
    if (options[k] !== undefined && options[k] !== null) {
      throw new TypeError(`"${k}" belongs inside each of "interfaces" (give one or the other)`);
    }
  }
  list.forEach((o, n) => {
    if (o === null || typeof o !== "object" || o.device === undefined || o.ipv4 === undefined) {
      throw new TypeError(`interfaces[${n}] must be an object with "device" and "ipv4"`);
    }
    if (o.dhcp !== undefined && o.ipv4 !== "dhcp") {
      throw new TypeError(`interfaces[${n}]: "dhcp" options need ipv4: "dhcp"`);
    }
  });
}

/** An IPv6 literal, bare or in brackets (`[2001:db8::1]`), or null. */
export function parseIpv6Literal(host: string): Ipv6Address | null {
  if (!host.includes(":")) return null;
  const text = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return parseIpv6(text);
}
