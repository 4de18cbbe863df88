/**
 * rawstack — a TCP/IP protocol stack in TypeScript for Deno, running in user
 * space over a Linux AF_PACKET raw socket reached through Deno's FFI.
 *
 * This module only re-exports; see ARCHITECTURE.md for the layers.
 *
 * @example
 * ```ts
 * import { Ipv4Cidr } from "./mod.ts";
 * console.assert(Ipv4Cidr.parse("192.0.2.2/24").contains(0xc0000201));
 * ```
 *
 * @module
 */

// The stack and its sockets.
export * from "./src/stack.ts";
export * from "./src/socket/udp_conn.ts";
export * from "./src/socket/addr.ts";
export * from "./src/socket/tcp_conn.ts";
export * from "./src/socket/tcp_listener.ts";
export * from "./src/socket/descriptors.ts";
export * from "./src/http/node_socket.ts";
export * from "./src/http/fetch.ts";
export * from "./src/http/serve.ts";

// The TCP engine.
export * from "./src/tcp/errors.ts";
export { DEFAULT_TCP_CONFIG, type TcpConfig, type TcpStats } from "./src/tcp/config.ts";
export type { LossDetection } from "./src/tcp/config.ts";
export type { BoundIpOptions } from "./src/tcp/control_segment.ts";
export type { CongestionAlgorithm, CubicRenoFriendly } from "./src/tcp/congestion.ts";
export {
  type CaState,
  type CookieOptions,
  TCP_STATE_NAMES,
  type TcpConnection,
  type TcpConnectionEvents,
  type TcpConnectionOwner,
  type TcpInfo,
  TcpState,
} from "./src/tcp/connection.ts";
export {
  type TcpConnectOptions,
  type TcpFamily,
  TcpLayer,
  type TcpLayerOptions,
  type TcpListener as TcpEngineListener,
  type TcpListenerEvents,
  type TcpListenFamilyOptions,
} from "./src/tcp/tcp_layer.ts";
export type { Tcp6Sender } from "./src/tcp/tcp6.ts";

// Buffers.
export {
  BufferPool,
  type BufferPoolOptions,
  DEFAULT_SLOT_COUNT,
  DEFAULT_SLOT_SIZE,
} from "./src/buffer/buffer_pool.ts";
export { PacketBuffer } from "./src/buffer/packet_buffer.ts";
export {
  ByteRing,
  ByteRingStoragePool,
  COPY_LOOP_MAX_BYTES,
  copyBytes,
} from "./src/buffer/byte_ring.ts";
export { processSecret } from "./src/tcp/isn.ts";
export { Arena, packetArena } from "./src/buffer/arena.ts";
export { RangeSet } from "./src/buffer/range_set.ts";

// Time.
export { type Clock, ManualClock, SystemClock } from "./src/time/clock.ts";
export {
  Timer,
  type TimerTarget,
  TimerWheel,
  type TimerWheelStats,
} from "./src/time/timer_wheel.ts";

// Wire: addresses, checksums, typed parse failures.
export * from "./src/wire/error.ts";
export * from "./src/wire/address.ts";
export * from "./src/wire/checksum.ts";
export * from "./src/wire/view.ts";
export * from "./src/wire/ethernet.ts";
export * from "./src/wire/arp.ts";
export * from "./src/wire/ipv4.ts";
export * from "./src/wire/icmp.ts";
export * from "./src/wire/udp.ts";
export * from "./src/wire/pcap.ts";
export * from "./src/wire/tcp.ts";
export * from "./src/wire/ipv6_address.ts";
export * from "./src/wire/ipv6.ts";
export * from "./src/wire/icmpv6.ts";
export * from "./src/wire/ndp.ts";
export * from "./src/wire/mld.ts";
export * from "./src/wire/dhcp.ts";

// Devices: the driver interface and its implementations.
export * from "./src/phy/device.ts";
export {
  AfPacketDevice,
  type AfPacketMode,
  type AfPacketOptions,
  type AfPacketRingPlacement,
  type AfPacketStats,
  BUSY_POLL_CHUNK_MICROS,
  RING_IN_ARENA_DEFAULT,
  RING_IN_ARENA_ENV,
  TX_THREAD_BATCHES,
} from "./src/phy/af_packet.ts";
export * from "./src/phy/memory_link.ts";
export * from "./src/phy/fault_injector.ts";
export * from "./src/phy/capture.ts";
export * from "./src/phy/forwarding_device.ts";
export * from "./src/phy/gro.ts";
export {
  DEFAULT_TUN_SPIN_MICROS,
  type ResolvedTunTapOptions,
  resolveTunTapOptions,
  TapDevice,
  TunDevice,
  TunTapDevice,
  tunTapError,
  type TunTapKind,
  type TunTapOptions,
  type TunTapStats,
} from "./src/phy/tun_tap.ts";

// Network layer.
export type {
  BufferPoolLike,
  IpProtocolHandler,
  IpSender,
  IpSendOptions,
  IpTxOffloads,
  PacketBufferLike,
} from "./src/iface/types.ts";
export type { InterfaceConfig, InterfaceConfigOptions } from "./src/iface/config.ts";
export { ArpCache, type ArpCacheHost, type ArpEntryState } from "./src/iface/arp_cache.ts";
export {
  completePartialChecksum,
  type Ipv4ErrorReporter,
  Ipv4Layer,
  type Ipv4LayerOptions,
  type Ipv4LinkOutput,
  LOCAL_QUEUE_DEFAULT_LENGTH,
} from "./src/iface/ipv4.ts";
export { type EchoListener, IcmpLayer } from "./src/iface/icmp.ts";
export {
  ICMP_RATE_ALLOWED,
  ICMP_RATE_LIMITED_GLOBAL,
  ICMP_RATE_LIMITED_PEER,
  IcmpRateLimiter,
  type IcmpRateLimitOptions,
  type IcmpRateVerdict,
} from "./src/iface/icmp_rate_limit.ts";
export { PingEngine } from "./src/iface/ping.ts";
export {
  Reassembler,
  type ReassemblyStats,
  type ReassemblyTimeoutListener,
} from "./src/iface/reassembly.ts";
export { type RouteEntry, RouteTable } from "./src/iface/routes.ts";
export type {
  UdpBindOptions,
  UdpDatagram,
  UdpEndpointStats,
  UdpFamily,
  UdpIpSender,
  UdpIpv6Sender,
  UdpUnreachableReporter,
} from "./src/udp/udp_layer.ts";
export { DnsCache, type DnsCacheEntry } from "./src/dns/cache.ts";
export { NetworkInterface, type NetworkInterfaceOptions } from "./src/iface/interface.ts";
export {
  type PingOptions,
  type PingReply,
  PingSession,
  type PingSummary,
} from "./src/iface/ping.ts";
export { type ArpEntryInfo } from "./src/iface/arp_cache.ts";
// IPv6 network layer (issue 18).
export type { Ipv6ProtocolHandler, Ipv6Sender, Ipv6SendOptions } from "./src/iface/types.ts";
export * from "./src/iface/ipv6.ts";
export * from "./src/iface/icmpv6.ts";
export * from "./src/iface/ndp.ts";
export * from "./src/iface/neighbour_cache.ts";
export * from "./src/iface/ipv6_addresses.ts";
export * from "./src/iface/ipv6_reassembly.ts";
export * from "./src/iface/pmtu_cache.ts";
export * from "./src/iface/pending_queue.ts";

// UDP and DNS.
export {
  UDP_MAX_PAYLOAD,
  UdpEndpoint,
  UdpError,
  type UdpErrorCode,
  UdpLayer,
} from "./src/udp/udp_layer.ts";
export { DnsError, type DnsErrorCode } from "./src/dns/dns_error.ts";
export {
  DnsLookup,
  DnsResolver,
  type DnsResolverOptions,
  type DnsServer,
  type DnsStream,
  type DnsStreamEvents,
  type DnsTcpTransport,
} from "./src/dns/resolver.ts";
export { HostsTable } from "./src/dns/hosts.ts";
export { type DnsRecordType } from "./src/dns/name.ts";
export * from "./src/wire/dns.ts";

// Types referenced by the Stack's options and statistics.
export type { ArpCacheOptions, ArpStats } from "./src/iface/arp_cache.ts";
export type { StaticRouteOptions } from "./src/iface/config.ts";
export type { IcmpOptions, IcmpStats } from "./src/iface/icmp.ts";
export type { Ipv4RouterPort, Ipv4Stats } from "./src/iface/ipv4.ts";
export type { ReassemblyOptions } from "./src/iface/reassembly.ts";
export type { FragmentStats } from "./src/iface/fragment_table.ts";
export { IcmpHeaderView } from "./src/wire/icmp_header.ts";
export type { LinkStats } from "./src/iface/interface.ts";
export type { UdpLayerStats } from "./src/udp/udp_layer.ts";
export type { DnsResolverStats } from "./src/dns/resolver.ts";
export type { DnsCacheOptions } from "./src/dns/cache.ts";

// Pictures of what happened on the wire.
export * from "./src/trace/connections.ts";
export * from "./src/trace/ladder.ts";
export * from "./src/trace/ladder_svg.ts";
export * from "./src/trace/plot_svg.ts";
export * from "./src/trace/live.ts";

// The lab: namespaces and veth pairs with the Linux kernel as peer (root).
export {
  type CaptureOptions,
  CaptureProcess,
  type CommandResult,
  createUserTap,
  deleteUserTap,
  isRoot,
  Lab,
  type LabCaptureOptions,
  type LabOptions,
  LabProcess,
  labUnavailableReason,
  startCapture,
  type UserTapOptions,
} from "./src/testing/lab.ts";
export { makeTestPki, type TestPki } from "./src/testing/pki.ts";

// DHCPv4 client (ipv4: "dhcp").
export {
  describeLease,
  DhcpClient,
  type DhcpClientHost,
  type DhcpClientOptions,
  type DhcpLease,
  type DhcpState,
  type DhcpStats,
  maskPrefixLength,
} from "./src/dhcp/client.ts";
export {
  DEFAULT_DHCP_TIMEOUT_MS,
  DhcpTimeoutError,
  StackDhcp,
  type StackDhcpOptions,
  StackDhcpPort,
} from "./src/dhcp/stack_dhcp.ts";

// Several interfaces, forwarding, packet hooks and NAT (new Stack({ interfaces, forwarding })).
export {
  Router,
  type RouterInterfaceOptions,
  type RouterOptions,
  type RouterRouteInfo,
  type RouterRouteOptions,
  type RouterStats,
} from "./src/iface/router.ts";
export {
  HOOK_NAMES,
  type HookCounters,
  type HookName,
  HookPacket,
  type HookStats,
  HookTable,
  type HookVerdict,
  IP_PROTOCOL_ICMP,
  IP_PROTOCOL_TCP,
  IP_PROTOCOL_UDP,
  IPV4_DESTINATION_OFFSET,
  IPV4_SOURCE_OFFSET,
  type PacketHook,
  type PacketHooks,
  setIpv4Address,
} from "./src/iface/hooks.ts";
export {
  DEFAULT_NAT_TIMEOUTS,
  Nat,
  type NatEntryInfo,
  type NatOptions,
  type NatStats,
  type NatTimeouts,
} from "./src/iface/nat.ts";
export type { ForwardStats } from "./src/iface/forward.ts";
export {
  type Forward6Stats,
  Ipv6Router,
  ROUTER6_MAX_ROUTES,
  type RouterRoute6Info,
  type RouterRoute6Options,
} from "./src/iface/router6.ts";
export { DeviceGroup, type GroupFrameSink } from "./src/phy/device_group.ts";
export {
  ROUTER_LAB_A_ADDRESS,
  ROUTER_LAB_A_ADDRESS6,
  ROUTER_LAB_B_ADDRESS,
  ROUTER_LAB_B_ADDRESS6,
  ROUTER_LAB_PREFIX6,
  ROUTER_LAB_RA_ADDRESS,
  ROUTER_LAB_RA_ADDRESS6,
  ROUTER_LAB_RB_ADDRESS,
  ROUTER_LAB_RB_ADDRESS6,
  RouterLab,
  type RouterLabOptions,
} from "./src/testing/router_lab.ts";
