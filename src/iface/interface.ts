/**
 * {@link NetworkInterface}: one IPv4 host on one Ethernet {@link Device} (or an
 * IP-only one, `capabilities.link === "ip"`: a TUN device, no Ethernet, no ARP) —
 * Ethernet demultiplexing and filtering, the ARP cache, IPv4 input/output
 * with fragmentation and reassembly, ICMP and ping sessions. A synchronous
 * state machine: frames and time come in as arguments; the stack calls
 * {@link NetworkInterface.poll} at {@link NetworkInterface.nextDeadline}.
 *
 * @module
 */

import { formatIpv4, parseIpv4, readMac } from "../wire/address.ts";
import { readI32 } from "../wire/view.ts";
import { ARP_PACKET_LEN, ARP_REQUEST } from "../wire/arp.ts";
import {
  ETHERNET_HEADER_LEN,
  ETHERNET_MIN_FRAME_LEN,
  EthernetFrame,
  EthernetRepr,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_MIN,
  ETHERTYPE_QINQ,
  ETHERTYPE_VLAN,
  isGroupMac,
  MAC_BROADCAST,
  newEthernetRepr,
  VLAN_NONE,
  VLAN_TAG_LEN,
} from "../wire/ethernet.ts";
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_MIN_QUOTED_DATA_LEN,
  ICMP_TIME_EXCEEDED,
  ICMP_TIME_EXCEEDED_REASSEMBLY,
  ICMP_UNREACH_HOST,
} from "../wire/icmp.ts";
import { IP_PROTO_ICMP, IPV4_HEADER_LEN, IPV4_MAX_PACKET_LEN, Ipv4Packet } from "../wire/ipv4.ts";
import { IPV6_HEADER_LEN, IPV6_VERSION } from "../wire/ipv6.ts";
import { TCP_DATA_OFFSET_BYTE } from "../wire/tcp.ts";
import { BufferPool, DEFAULT_SLOT_COUNT } from "../buffer/buffer_pool.ts";
import { type Device, type FrameSink, rxChecksumTrusted } from "../phy/device.ts";
import { ArpCache, type ArpCacheHost, type ArpCacheOptions, writeArpPacket } from "./arp_cache.ts";
import {
  type InterfaceConfig,
  type InterfaceConfigOptions,
  resolveInterfaceConfig,
} from "./config.ts";
import { IcmpLayer, type IcmpOptions } from "./icmp.ts";
import { type PingOptions, PingSession } from "./ping.ts";
import {
  completePartialChecksum,
  Ipv4Layer,
  type Ipv4LinkOutput,
  LIMITED_BROADCAST,
  writeTcp4Segment,
} from "./ipv4.ts";
import type { ReassemblyOptions } from "./reassembly.ts";
import { Ipv6Layer, type Ipv6LayerOptions, type Ipv6Link } from "./ipv6.ts";
import { type Clock, TAGGED_TIME_SEED } from "../time/clock.ts";
import type {
  BufferPoolLike,
  IpProtocolHandler,
  IpSender,
  IpSendOptions,
  IpTxOffloads,
  PacketBufferLike,
} from "./types.ts";

/** Shift of the version nibble in an IP header's first byte. */
const IP_VERSION_SHIFT = 4;
/** IP version of IPv4 (RFC 791 §3.1). */
const IPV4_VERSION = 4;
/** The MAC an IP-only link's config carries (never on a wire): locally administered, unicast. */
const IP_LINK_UNUSED_MAC = 0x02_00_00_00_00_01;
/** Smallest Ethernet frame without FCS (RFC 894: data padded to 46 bytes). */
export const ETH_MIN_FRAME: typeof ETHERNET_MIN_FRAME_LEN = ETHERNET_MIN_FRAME_LEN;
/** IPv4 multicast MAC prefix 01:00:5e (RFC 1112 §6.4). */
const IPV4_MULTICAST_MAC_BASE = 0x01005e000000;
/** Low 23 bits of a group address go into the MAC (RFC 1112 §6.4). */
const IPV4_MULTICAST_MAC_MASK = 0x7fffff;
/** 01:00:5e:00:00:01, the all-hosts group's MAC. */
const ALL_HOSTS_MAC = IPV4_MULTICAST_MAC_BASE + 1;
/**
 * Share of the buffer pool that packets waiting for ARP may hold, all
 * neighbours together (the ARP cache's `maxQueuedTotal` default): spoofed
 * senders that never answer ARP cannot take the buffers replies to resolved
 * neighbours need (issue 16; Linux bounds each neighbour by unres_qlen_bytes).
 */
export const ARP_PENDING_POOL_SHARE = 1 / 4;
/**
 * Share of the default buffer pool reserved for the interface's own ARP
 * requests and replies (`BufferPool` `reserved`, taken with `allocReserved`).
 */
export const CONTROL_RESERVE_POOL_SHARE = 1 / 32;
/** No transmit offloads. */
const NO_TX_OFFLOADS: IpTxOffloads = Object.freeze({ checksum: false, gsoMaxBytes: 0 });

/** Options of a {@link NetworkInterface}. */
export interface NetworkInterfaceOptions extends Omit<InterfaceConfigOptions, "mac" | "mtu"> {
  /** Our MAC; default the device's. */
  mac?: InterfaceConfigOptions["mac"];
  /** IPv4 MTU; default and maximum the device's MTU. */
  mtu?: number;
  /**
   * Buffer pool; default a new pool of 1024 slots of 2048 bytes, 1/32 of
   * them reserved for ARP ({@link CONTROL_RESERVE_POOL_SHARE}).
   */
  pool?: BufferPoolLike;
  /** ARP cache tunables. */
  arp?: ArpCacheOptions;
  /** Reassembly bounds and timeout. */
  reassembly?: ReassemblyOptions;
  /** ICMP error rate limit. */
  icmp?: IcmpOptions;
  /** First IPv4 identification of every hashed counter (default: derived from the secret). */
  initialIdentification?: number;
  /** Key of the hashed IPv4 identification counters (16 bytes, RFC 7739 §5.3; default random). */
  identificationSecret?: Uint8Array;
  /** Bound of the queue of datagrams to our own address (default 256). */
  localQueueLength?: number;
  /** Called when ARP resolution of a next hop fails (after the transports were told). */
  onHostUnreachable?: (nowMs: number, ip: number) => void;
  /**
   * Transport checksums of received frames: `"auto"` (default) skips them
   * when the device vouches for the frame (`rxChecksumTrusted(device.rxInfo)`:
   * hardware/kernel verified, a local sender's partial checksum, a memory
   * link); `"always"` verifies every one in software.
   */
  verifyChecksums?: "always" | "auto";
  /**
   * Use the device's transmit offloads (`transmitOffload`: partial checksums,
   * TCP segmentation) when it has them: true (default), `"checksum"`
   * (partial checksums only, no TCP segmentation offload) or false.
   */
  txOffloads?: boolean | "checksum";
  /**
   * Where a send that must start an ARP resolution reads the current time.
   * Sends to a resolved neighbour use the time last given to the interface
   * ({@link NetworkInterface.advance}, a received frame, a poll), so a
   * caller that sends without reading its clock (UDP) pays for no clock read;
   * an entry is still expired on time by {@link NetworkInterface.poll}.
   * Absent: that last time is used for resolutions too.
   */
  clock?: Clock;
  /**
   * IPv6 (issue 18): static addresses, SLAAC and tunables of the
   * {@link Ipv6Layer}; absent or null: no IPv6 (frames of type 0x86dd dropped).
   * MAC and MTU come from the interface.
   */
  ipv6?: Omit<Ipv6LayerOptions, "mac" | "mtu"> | null;
}

/** Link-level counters of a {@link NetworkInterface}; each drop reason has its own. */
export interface LinkStats {
  /** Frames received. */
  rxFrames: number;
  /** Dropped: shorter than an Ethernet header. */
  rxTooShort: number;
  /** Dropped: unicast to another MAC. */
  rxOtherHost: number;
  /** Dropped: multicast group we are not in. */
  rxMulticastFiltered: number;
  /** Dropped: source MAC multicast or our own. */
  rxBadSource: number;
  /** Dropped: VLAN-tagged, not our VLAN. */
  rxVlanDropped: number;
  /** Dropped: EtherType neither IPv4 nor ARP (on an IP link: not an IPv4 packet). */
  rxUnknownEthertype: number;
  /** Frames transmitted. */
  txFrames: number;
  /** Dropped: pool empty when building a frame. */
  txNoBuffer: number;
  /** Dropped: no headroom for the link header. */
  txNoHeadroom: number;
  /** Dropped: the device refused the frame. */
  txDeviceDropped: number;
  /** Frames sent with a partial checksum or as a super-segment through `transmitOffload`. */
  txOffloaded: number;
  /** Offload requests done in software (next hop not resolved yet, broadcast). */
  txOffloadSoftware: number;
  /** Queued packets dropped because ARP failed. */
  hostUnreachable: number;
  /** ARP frames sent in a buffer from the pool's control reserve (ordinary buffers were gone). */
  txControlReserve: number;
  /** Dropped: IPv4 or ARP while the interface has no IPv4 address (IPv6 only). */
  rxIpv4Disabled: number;
}

function newLinkStats(): LinkStats {
  return {
    rxFrames: 0,
    rxTooShort: 0,
    rxOtherHost: 0,
    rxMulticastFiltered: 0,
    rxBadSource: 0,
    rxVlanDropped: 0,
    rxUnknownEthertype: 0,
    txFrames: 0,
    txNoBuffer: 0,
    txNoHeadroom: 0,
    txDeviceDropped: 0,
    txOffloaded: 0,
    txOffloadSoftware: 0,
    hostUnreachable: 0,
    txControlReserve: 0,
    rxIpv4Disabled: 0,
  };
}

/**
 * One IPv4 host interface on a {@link Device}.
 *
 * Drive it with `receiveFrame(now, ...)` (or `device.receive(iface, n)` after
 * {@link advance}), `poll(now)` at `nextDeadline()`, and `device.flush()`
 * after a batch.
 *
 * @example
 * ```ts
 * import { NetworkInterface } from "./interface.ts";
 * import { MemoryLink } from "../phy/memory_link.ts";
 * const [da, db] = MemoryLink.pair();
 * const a = new NetworkInterface(da, { ipv4: "192.0.2.1/24" });
 * const b = new NetworkInterface(db, { ipv4: "192.0.2.2/24" });
 * a.start(0); b.start(0);
 * const ping = a.ping(0, "192.0.2.2", { count: 1 });
 * for (let t = 0; t < 10 && !ping.done; t++) {
 *   db.receive(b.at(t), 64); da.receive(a.at(t), 64); a.poll(t); b.poll(t);
 * }
 * console.assert(ping.engine.summary().received === 1);
 * a.close(); b.close(); da.close(); db.close();
 * ```
 */
export class NetworkInterface
  implements IpSender, FrameSink, ArpCacheHost, Ipv4LinkOutput, Ipv6Link {
  /** Validated configuration. */
  readonly config: InterfaceConfig;
  /** The device. */
  readonly device: Device;
  /** The buffer pool. */
  readonly pool: BufferPoolLike;
  /** The ARP cache. */
  readonly arp: ArpCache;
  /** The IPv4 layer (also the {@link IpSender}). */
  readonly ipv4: Ipv4Layer;
  /** ICMP. */
  readonly icmp: IcmpLayer;
  /** IPv6 (with ICMPv6, neighbour discovery, addresses), or null when not configured. */
  readonly ipv6: Ipv6Layer | null;
  /** False when configured without an IPv4 address (IPv6 only): IPv4 and ARP are dropped. */
  readonly ipv4Enabled: boolean;
  /** Link counters. */
  readonly stats: LinkStats = newLinkStats();
  /** Bytes in front of the IPv4 header: device headroom + Ethernet (+ VLAN tag). */
  readonly linkHeadroom: number;
  /** Called when ARP resolution fails. */
  onHostUnreachable: ((nowMs: number, ip: number) => void) | null;
  /**
   * Called with every well-formed ARP packet received, before the cache sees
   * it (the DHCP client's RFC 5227 conflict detection while it probes).
   */
  onArp: ((nowMs: number, senderMac: number, senderIp: number, targetIp: number) => void) | null =
    null;
  /** Transmit offloads transports may use (see {@link IpSender.txOffloads}). */
  readonly txOffloads: IpTxOffloads;
  /** Transmit offloads for IPv6 packets (see {@link Ipv6Link.txOffloads6}). */
  readonly txOffloads6: IpTxOffloads;
  /** Whether received transport checksums the device vouched for are skipped. */
  readonly trustDeviceChecksums: boolean;

  /** Time of the frame or poll being handled (tagged: see TAGGED_TIME_SEED). */
  #nowMs: number = TAGGED_TIME_SEED;
  readonly #linkHeaderLength: number;
  /** The device carries bare IP packets (`capabilities.link === "ip"`, a TUN device): no Ethernet, no ARP. */
  readonly #ipLink: boolean;
  /** Reads received frames (made once, re-pointed per frame). */
  readonly #rxFrame = new EthernetFrame(new Uint8Array(0));
  /** The Ethernet header every transmitted frame gets (destination and type set per frame). */
  readonly #txHeader: EthernetRepr = newEthernetRepr();
  /** Reads the IPv4 header of a packet whose resolution failed. */
  readonly #failedPacket = new Ipv4Packet(new Uint8Array(0));
  readonly #sessions = new Set<PingSession>();
  #nextPingId: number;
  #closed = false;
  readonly #clock: Clock | null;
  /** Static routes given at construction (kept across {@link configureIpv4}). */
  readonly #staticRoutes: NetworkInterfaceOptions["routes"];

  /**
   * Creates the interface; call {@link NetworkInterface.start} before use.
   *
   * @param device the link device
   * @param options address, gateway, routes, MTU, tunables
   * @throws {TypeError} on invalid configuration (e.g. MTU above the device's)
   */
  constructor(device: Device, options: NetworkInterfaceOptions) {
    this.#nowMs = 0;
    if (options === null || typeof options !== "object") {
      throw new TypeError("NetworkInterface options must be an object with at least ipv4");
    }
    const caps = device.capabilities;
    const mtu = options.mtu ?? caps.mtu;
    if (typeof mtu === "number" && mtu > caps.mtu) {
      throw new TypeError(`interface MTU ${mtu} exceeds the device ${caps.name}'s MTU ${caps.mtu}`);
    }
    // An IP link has no link addresses; the config still wants a unicast MAC, never sent.
    const mac = options.mac ??
      (caps.link === "ip" && caps.mac === 0 ? IP_LINK_UNUSED_MAC : caps.mac);
    this.config = resolveInterfaceConfig({ ...options, mac, mtu });
    this.device = device;
    this.pool = options.pool ?? new BufferPool({
      reserved: Math.floor(DEFAULT_SLOT_COUNT * CONTROL_RESERVE_POOL_SHARE),
    });
    this.#ipLink = caps.link === "ip";
    if (this.#ipLink && this.config.vlanId !== 0) {
      throw new TypeError(`device ${caps.name} carries bare IP packets: it cannot take a VLAN tag`);
    }
    this.#linkHeaderLength = this.#ipLink
      ? 0
      : ETHERNET_HEADER_LEN + (this.config.vlanId !== 0 ? VLAN_TAG_LEN : 0);
    this.#txHeader.source = this.config.mac;
    this.#txHeader.vlanId = this.config.vlanId !== 0 ? this.config.vlanId : VLAN_NONE;
    this.linkHeadroom = caps.headroom + this.#linkHeaderLength;
    if (this.linkHeadroom + ETH_MIN_FRAME > this.pool.slotSize) {
      throw new TypeError(`buffer pool slots of ${this.pool.slotSize} bytes are too small`);
    }
    this.onHostUnreachable = options.onHostUnreachable ?? null;
    this.#staticRoutes = options.routes;
    this.#clock = options.clock ?? null;
    const capacity = this.pool.capacity ?? DEFAULT_SLOT_COUNT;
    this.arp = new ArpCache(this.config.address, this.config.mac, this, {
      ...options.arp,
      maxQueuedTotal: options.arp?.maxQueuedTotal ??
        Math.max(1, Math.floor(capacity * ARP_PENDING_POOL_SHARE)),
    });
    this.ipv4 = new Ipv4Layer(this.config, this.pool, this, {
      reassembly: options.reassembly,
      initialIdentification: options.initialIdentification,
      identificationSecret: options.identificationSecret,
      localQueueLength: options.localQueueLength,
    });
    this.icmp = new IcmpLayer(this.ipv4, () => this.config.address, options.icmp);
    this.ipv4.errorReporter = this.icmp;
    this.ipv4.registerProtocol(IP_PROTO_ICMP, this.icmp);
    this.ipv4.reassembler.onTimeout = (now, bytes, off, len) => {
      // RFC 792 / RFC 1122 §3.3.2: time exceeded, code 1 (fragment reassembly time exceeded).
      this.icmp.sendError(now, ICMP_TIME_EXCEEDED, ICMP_TIME_EXCEEDED_REASSEMBLY, bytes, off, len);
    };
    // IPv4 runs when it was asked for: an address, or none yet (null: a DHCP client before its
    // lease). Absent: an IPv6-only interface, which drops IPv4 and ARP.
    this.ipv4Enabled = options.ipv4 !== undefined;
    this.ipv6 = options.ipv6 === undefined || options.ipv6 === null
      ? null
      : new Ipv6Layer(this, this.pool, {
        ...options.ipv6,
        mac: this.config.mac,
        mtu: this.config.mtu,
        pointToPoint: this.#ipLink,
      });
    this.#nextPingId = crypto.getRandomValues(new Uint16Array(1))[0];
    const verify = options.verifyChecksums ?? "auto";
    if (verify !== "auto" && verify !== "always") {
      throw new TypeError(`verifyChecksums must be "auto" or "always", got ${String(verify)}`);
    }
    this.trustDeviceChecksums = verify === "auto";
    const txMode = options.txOffloads ?? true;
    const offload = txMode !== false && typeof device.transmitOffload === "function";
    const maxFrame = caps.maxSegmentBytes ?? caps.mtu + this.#linkHeaderLength;
    const gsoMax = offload && caps.gso && txMode === true
      ? Math.min(
        IPV4_MAX_PACKET_LEN - IPV4_HEADER_LEN,
        maxFrame - this.#linkHeaderLength - IPV4_HEADER_LEN,
      )
      : 0;
    this.txOffloads = offload && (caps.checksumOffloadTx || gsoMax > 0)
      ? Object.freeze({
        checksum: true,
        gsoMaxBytes: gsoMax > this.config.mtu - IPV4_HEADER_LEN ? gsoMax : 0,
      })
      : NO_TX_OFFLOADS;
    // IPv6: the same device offloads behind a 40-byte header (GSO_TCPV6; the payload length,
    // like IPv4's total length, stays within 65,535 bytes).
    const gsoMax6 = gsoMax - (IPV6_HEADER_LEN - IPV4_HEADER_LEN);
    this.txOffloads6 = this.txOffloads === NO_TX_OFFLOADS ? NO_TX_OFFLOADS : Object.freeze({
      checksum: true,
      gsoMaxBytes: gsoMax6 > this.config.mtu - IPV6_HEADER_LEN ? gsoMax6 : 0,
    });
  }

  /** The time last given to any entry point (ms). */
  get nowMs(): number {
    return this.#nowMs;
  }

  /**
   * Sets the current time for {@link onFrame} and {@link send}, which take no time argument.
   *
   * @param nowMs current time
   * @returns this, so `device.receive(iface.at(now), budget)` reads well
   */
  at(nowMs: number): this {
    this.#nowMs = nowMs;
    return this;
  }

  /**
   * Same as {@link at}, without the return value.
   *
   * @param nowMs current time
   */
  advance(nowMs: number): void {
    this.#nowMs = nowMs;
  }

  /**
   * Starts the interface: sends a gratuitous ARP (RFC 5227 §3).
   *
   * @param nowMs current time
   */
  start(nowMs: number): void {
    this.#nowMs = nowMs;
    if (this.ipv4Enabled && !this.#ipLink) this.arp.announce();
    this.ipv6?.start(nowMs);
  }

  /**
   * Puts a new address on the interface, or takes it off (`null`): the
   * connected route, the gateway, the MTU (at most the device's) and the ARP
   * cache's own address change together; static routes given at
   * construction stay. A new address is announced (RFC 5227 §2.3).
   *
   * @param cidr e.g. `"192.0.2.50/24"`, or null for none
   * @param gateway the default gateway (on-link), or 0 for none
   * @param mtu IPv4 MTU, or 0 to keep the configured one
   * @throws {TypeError} on an invalid address or gateway
   */
  configureIpv4(cidr: string | null, gateway: number, mtu = 0): void {
    const c = this.config;
    const next = resolveInterfaceConfig({
      mac: c.mac,
      ipv4: cidr,
      gateway: cidr === null || gateway === 0 ? null : formatIpv4(gateway),
      mtu: mtu > 0 ? Math.min(mtu, this.device.capabilities.mtu) : c.mtu,
      ttl: c.ttl,
      vlanId: c.vlanId === 0 ? null : c.vlanId,
      routes: cidr === null ? undefined : this.#staticRoutes,
    });
    Object.assign(c, next);
    this.arp.setAddress(c.address, c.mac);
    if (c.address !== 0 && !this.#ipLink) this.arp.announce();
  }

  /**
   * Sends an ARP probe for `ip` (RFC 5227 §2.1.1: sender IP 0, target MAC 0).
   *
   * @param ip the address being checked
   */
  sendArpProbe(ip: number): void {
    this.transmitArp(ARP_REQUEST, MAC_BROADCAST, 0, ip, 0);
  }

  /** Frees queued packets, reassembly buffers, ping sessions. Idempotent; does not close the device. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.arp.clear();
    this.ipv4.reassembler.clear();
    this.ipv4.discardLocal();
    this.ipv6?.close();
    for (const s of this.#sessions) s.close();
    this.#sessions.clear();
  }

  /**
   * Registers a transport for an IP protocol number.
   *
   * @param protocol e.g. 17 for UDP
   * @param handler the transport
   */
  registerProtocol(protocol: number, handler: IpProtocolHandler): void {
    this.ipv4.registerProtocol(protocol, handler);
  }

  // ---- IpSender (delegates to IPv4) ----

  /**
   * A pool buffer with headroom for the IPv4 and link headers.
   *
   * @returns the buffer, or null when the pool is empty (counted)
   */
  allocate(): PacketBufferLike | null {
    return this.ipv4.allocate();
  }

  /**
   * A buffer for a transport datagram larger than a pool slot (see {@link Ipv4Layer.allocateLarge}).
   *
   * @param payloadBytes transport bytes to hold
   * @returns the buffer or null
   */
  allocateLarge(payloadBytes: number): PacketBufferLike | null {
    return this.ipv4.allocateLarge(payloadBytes);
  }

  /**
   * A buffer for one TCP super-segment of up to `txOffloads.gsoMaxBytes`
   * transport bytes (see {@link Ipv4Layer.allocateSegmentBuffer}).
   *
   * @returns the buffer, or null without GSO or when none is free
   */
  allocateSegment(): PacketBufferLike | null {
    const max = this.txOffloads.gsoMaxBytes;
    return max > 0 ? this.ipv4.allocateSegmentBuffer(max) : null;
  }

  /**
   * Returns an unsent buffer.
   *
   * @param buf from {@link allocate}, {@link allocateSegment} or {@link allocateLarge}
   */
  release(buf: PacketBufferLike): void {
    this.ipv4.release(buf);
  }

  /**
   * Sends `buf[head, tail)` as the payload of an IPv4 datagram (see
   * {@link Ipv4Layer.send}). Takes ownership of `buf`.
   *
   * @param buf transport header + data
   * @param dst destination address
   * @param protocol IP protocol number
   * @param opts ttl, dontFragment, tos
   * @returns false when dropped (counted)
   */
  send(buf: PacketBufferLike, dst: number, protocol: number, opts?: IpSendOptions): boolean {
    return this.ipv4.send(buf, dst, protocol, opts);
  }

  /**
   * Our source address toward `dst`.
   *
   * @param dst destination address
   * @returns our address, or 0 when there is no route
   */
  sourceAddressFor(dst: number): number {
    return this.ipv4.sourceAddressFor(dst);
  }

  /**
   * The IPv4 MTU toward `dst` (TCP MSS = MTU − 40).
   *
   * @param dst destination address
   * @returns the MTU in bytes
   */
  mtuFor(dst: number): number {
    return this.ipv4.mtuFor(dst);
  }

  /**
   * UDP's closed-port hook: ICMP port unreachable (rate limited).
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
    src: number,
    dst: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
  ): void {
    this.ipv4.portUnreachable(nowMs, src, dst, bytes, offset, length);
  }

  // ---- ping ----

  /**
   * Starts pinging `host`; the session is polled by {@link poll} until done.
   *
   * @param nowMs current time (the first request is sent at once)
   * @param host destination, dotted quad or number
   * @param options count, size, intervalMs, timeoutMs
   * @returns the session (`done`, `engine.summary()`, `engine.replies`)
   * @throws {TypeError} on a bad host or options
   */
  ping(nowMs: number, host: string | number, options: PingOptions = {}): PingSession {
    const dst = typeof host === "number" ? host : parseHost(host);
    let id = this.#nextPingId;
    for (let i = 0; i < 0x10000 && this.icmp.hasEchoListener(id); i++) id = (id + 1) & 0xffff;
    this.#nextPingId = (id + 1) & 0xffff;
    const session = new PingSession(this.icmp, dst, id, options);
    this.#sessions.add(session);
    this.#nowMs = nowMs;
    session.poll(nowMs);
    return session;
  }

  // ---- time ----

  /**
   * Runs due work: local delivery (datagrams to our own address), ARP
   * retries and expiry, reassembly timeouts, ping sessions.
   *
   * @param nowMs current time
   */
  poll(nowMs: number): void {
    this.#nowMs = nowMs;
    this.arp.poll(nowMs);
    this.ipv4.poll(nowMs);
    this.ipv6?.poll(nowMs);
    // A for-of allocates an iterator: skip it in the common case of no ping session.
    if (this.#sessions.size === 0) return;
    for (const s of this.#sessions) {
      if (nowMs >= s.nextDeadline()) s.poll(nowMs);
      if (s.done) this.#sessions.delete(s);
    }
  }

  /**
   * When the interface next needs {@link NetworkInterface.poll}.
   *
   * @returns the earliest time {@link NetworkInterface.poll} has work, or Infinity
   */
  nextDeadline(): number {
    let t = Math.min(this.arp.nextDeadline(), this.ipv4.nextDeadline());
    if (this.ipv6 !== null) t = Math.min(t, this.ipv6.nextDeadline());
    if (this.#sessions.size === 0) return t;
    for (const s of this.#sessions) t = Math.min(t, s.nextDeadline());
    return t;
  }

  // ---- receive ----

  /** FrameSink: a received frame, at the time set by {@link at}/{@link poll}. */
  onFrame(bytes: Uint8Array, offset: number, length: number): void {
    this.receiveDeviceFrame(this.#nowMs, bytes, offset, length);
  }

  /**
   * {@link receiveFrame} for the frame the device is delivering right now:
   * takes its checksum state from `device.rxInfo` (see `verifyChecksums`).
   * Call only from inside the device's `onFrame`.
   *
   * @param nowMs current time
   * @param bytes buffer
   * @param offset start of the Ethernet header
   * @param length frame length (without FCS)
   */
  receiveDeviceFrame(nowMs: number, bytes: Uint8Array, offset: number, length: number): void {
    const info = this.device.rxInfo;
    const verified = this.trustDeviceChecksums && rxChecksumTrusted(info);
    if (info === undefined || info.gsoSize === 0) {
      this.receiveFrame(nowMs, bytes, offset, length, verified);
      return;
    }
    // A GSO/GRO super-frame: the IP layers may read its length from the frame when the
    // header's cannot hold it (Linux BIG TCP: IPv4 Total Length 0, IPv6 jumbogram).
    const ipv6 = this.ipv6;
    this.ipv4.rxSuperFrame = true;
    if (ipv6 !== null) ipv6.rxSuperFrame = true;
    try {
      this.receiveFrame(nowMs, bytes, offset, length, verified);
    } finally {
      this.ipv4.rxSuperFrame = false;
      if (ipv6 !== null) ipv6.rxSuperFrame = false;
    }
  }

  /**
   * Processes one received Ethernet frame. Never throws on bad input; every
   * drop is counted in {@link stats} or the layer's counters.
   *
   * @param nowMs current time
   * @param bytes buffer
   * @param offset start of the Ethernet header
   * @param length frame length (without FCS)
   * @param checksumVerified the transport checksum is known good (receive
   *   offload); default false: transports verify it
   */
  receiveFrame(
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    checksumVerified = false,
  ): void {
    this.#nowMs = nowMs;
    const stats = this.stats;
    stats.rxFrames++;
    if (this.#ipLink) {
      // A TUN device hands over bare IP packets: the version nibble says which.
      const version = length > 0 ? bytes[offset] >>> IP_VERSION_SHIFT : 0;
      if (version === IPV4_VERSION) {
        this.ipv4.input(nowMs, bytes, offset, length, checksumVerified);
      } else if (version === IPV6_VERSION && this.ipv6 !== null) {
        this.ipv6.input(nowMs, bytes, offset, length, checksumVerified);
      } else {
        stats.rxUnknownEthertype++;
      }
      return;
    }
    if (length < ETHERNET_HEADER_LEN) {
      stats.rxTooShort++;
      return;
    }
    // Counted drops, no WireError: the view is only read within the lengths tested here.
    const frame = this.#rxFrame.reset(bytes, offset, length);
    const dstMac = frame.destination;
    if (dstMac !== this.config.mac && dstMac !== MAC_BROADCAST) {
      if (!isGroupMac(dstMac)) {
        stats.rxOtherHost++;
        return;
      }
      // IPv6 groups (33:33 + low 32 bits, RFC 2464 §7) we listen to.
      if (dstMac !== ALL_HOSTS_MAC && (this.ipv6 === null || !this.ipv6.ndp.acceptsMac(dstMac))) {
        stats.rxMulticastFiltered++;
        return;
      }
    }
    const srcMac = frame.source;
    if (isGroupMac(srcMac) || srcMac === this.config.mac) {
      stats.rxBadSource++;
      return;
    }
    let type = frame.outerEtherType;
    let header = ETHERNET_HEADER_LEN;
    if (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ) {
      // IEEE 802.1Q: accept only our VLAN, and only a single tag.
      const vid = type === ETHERTYPE_VLAN && length >= ETHERNET_HEADER_LEN + VLAN_TAG_LEN
        ? frame.vlanId
        : VLAN_NONE;
      if (type === ETHERTYPE_QINQ || this.config.vlanId === 0 || vid !== this.config.vlanId) {
        stats.rxVlanDropped++;
        return;
      }
      header = frame.headerLength;
      type = frame.etherType;
    } else if (this.config.vlanId !== 0 && type >= ETHERTYPE_MIN) {
      // Configured for a VLAN: untagged frames belong to another segment.
      stats.rxVlanDropped++;
      return;
    }
    if (type === ETHERTYPE_IPV4 || type === ETHERTYPE_ARP) {
      if (!this.ipv4Enabled) {
        stats.rxIpv4Disabled++;
      } else if (type === ETHERTYPE_IPV4) {
        this.ipv4.input(nowMs, bytes, offset + header, length - header, checksumVerified);
      } else {
        const at = offset + header;
        if (this.onArp !== null && length - header >= ARP_PACKET_LEN) {
          // RFC 826 layout for Ethernet/IPv4: sender MAC at 8, sender IP at 14, target IP at 24.
          this.onArp(
            nowMs,
            readMac(bytes, at + 8),
            readI32(bytes, at + 14),
            readI32(bytes, at + 24),
          );
        }
        this.arp.input(nowMs, bytes, at, length - header);
      }
    } else if (type === ETHERTYPE_IPV6 && this.ipv6 !== null) {
      // RFC 4443 §2.4 (e.4), (e.5): the IPv6 layer must know a link-layer multicast or
      // broadcast destination; past the checks above, anything but our MAC is one.
      this.ipv6.input(
        nowMs,
        bytes,
        offset + header,
        length - header,
        checksumVerified,
        dstMac !== this.config.mac,
      );
    } else {
      stats.rxUnknownEthertype++;
    }
  }

  // ---- Ipv4LinkOutput ----

  /**
   * Sends an IPv4 packet to a neighbour: broadcast and multicast MACs
   * directly, unicast through ARP resolution. Takes ownership of `buf`.
   *
   * @param buf the packet, starting with its IPv4 header
   * @param nextHop the neighbour's address (or a broadcast address)
   * @param partialChecksumOffset transport checksum left partial (see
   *   `IpSendOptions`); 0 = complete
   * @param gsoSize TCP super-segment: data bytes per segment; 0 = none
   * @returns false when dropped (counted)
   */
  sendToNeighbour(
    buf: PacketBufferLike,
    nextHop: number,
    partialChecksumOffset = 0,
    gsoSize = 0,
  ): boolean {
    if (this.#ipLink) {
      // A point-to-point IP link: every next hop is the other end, nothing to resolve.
      if (partialChecksumOffset > 0 && !this.txOffloads.checksum) {
        return this.#offloadInSoftware(buf, nextHop, partialChecksumOffset, gsoSize);
      }
      return this.#transmit(buf, 0, ETHERTYPE_IPV4, partialChecksumOffset, gsoSize);
    }
    if (partialChecksumOffset > 0) {
      // The device completes/segments only frames leaving now: a resolved unicast neighbour.
      const mac = this.txOffloads.checksum && (nextHop >>> 28) !== 0xe &&
          nextHop !== LIMITED_BROADCAST
        ? this.arp.lookup(this.#nowMs, nextHop)
        : -1;
      if (mac >= 0) return this.#transmit(buf, mac, ETHERTYPE_IPV4, partialChecksumOffset, gsoSize);
      return this.#offloadInSoftware(buf, nextHop, partialChecksumOffset, gsoSize);
    }
    const c = this.config;
    if (
      nextHop === LIMITED_BROADCAST ||
      (c.directedBroadcast !== 0 && nextHop === c.directedBroadcast)
    ) {
      return this.#transmit(buf, MAC_BROADCAST, ETHERTYPE_IPV4);
    }
    if ((nextHop >>> 28) === 0xe) {
      // RFC 1112 §6.4: 01:00:5e + the low 23 bits of the group.
      return this.#transmit(
        buf,
        IPV4_MULTICAST_MAC_BASE + (nextHop & IPV4_MULTICAST_MAC_MASK),
        ETHERTYPE_IPV4,
      );
    }
    // A resolved neighbour needs no fresher time than the last one given (expiry is the
    // poll's job); a resolution starts retry timers, so it reads the clock when there is one.
    const mac = this.arp.lookup(this.#nowMs, nextHop);
    if (mac >= 0) return this.#transmit(buf, mac, ETHERTYPE_IPV4);
    if (this.#clock !== null) {
      const now = this.#clock.now();
      if (now > this.#nowMs) this.#nowMs = now;
    }
    return this.arp.send(this.#nowMs, nextHop, buf);
  }

  // ---- Ipv6Link ----

  /**
   * Transmits an IPv6 packet (IPv6 header at `buf.head`) to `mac`. Takes ownership.
   *
   * @param buf the packet
   * @param mac the destination MAC (a neighbour or a 33:33 group)
   * @returns false when dropped (counted)
   */
  transmitIpv6(
    buf: PacketBufferLike,
    mac: number,
    partialChecksumOffset = 0,
    gsoSize = 0,
  ): boolean {
    if (partialChecksumOffset > 0 && !this.txOffloads6.checksum) {
      // The IPv6 layer asks only when txOffloads6 allows it: complete the checksum here.
      const l4 = buf.head + IPV6_HEADER_LEN;
      completePartialChecksum(buf.bytes, l4, buf.length - IPV6_HEADER_LEN, partialChecksumOffset);
      return this.#transmit(buf, mac, ETHERTYPE_IPV6);
    }
    return this.#transmit(
      buf,
      mac,
      ETHERTYPE_IPV6,
      partialChecksumOffset,
      gsoSize,
      IPV6_HEADER_LEN,
    );
  }

  /**
   * A buffer for one TCP super-segment over IPv6 of up to
   * `txOffloads6.gsoMaxBytes` transport bytes (headroom for the link and the
   * 40-byte header; the IPv4 segment buffers, which have room for both).
   *
   * @returns the buffer, or null without GSO or when none is free
   */
  allocateSegment6(): PacketBufferLike | null {
    const max = this.txOffloads6.gsoMaxBytes;
    return max > 0
      ? this.ipv4.allocateSegmentBuffer(max, this.linkHeadroom + IPV6_HEADER_LEN)
      : null;
  }

  /**
   * Returns a pool buffer (the IPv6 layer's own large buffers never reach here).
   *
   * @param buf the buffer
   */
  releaseBuffer(buf: PacketBufferLike): void {
    this.ipv4.release(buf);
  }

  // ---- ArpCacheHost ----

  /**
   * Builds and transmits an ARP packet from our MAC (counted when the pool is empty).
   *
   * @param op ARP_REQUEST or ARP_REPLY
   * @param ethDst Ethernet destination (broadcast for requests)
   * @param targetMac target hardware address (0 in requests)
   * @param targetIp target protocol address
   * @param senderIp sender protocol address
   */
  transmitArp(
    op: number,
    ethDst: number,
    targetMac: number,
    targetIp: number,
    senderIp: number,
  ): void {
    if (this.#ipLink) return; // no ARP on an IP link
    // ARP is the interface's own control traffic: it may use the pool's reserve.
    const pool = this.pool;
    const buf = pool.allocReserved !== undefined
      ? pool.allocReserved(this.linkHeadroom)
      : pool.alloc(this.linkHeadroom);
    if (buf === null) {
      this.stats.txNoBuffer++;
      return;
    }
    if (pool.available !== undefined && pool.available < (pool.reserved ?? 0)) {
      this.stats.txControlReserve++;
    }
    const at = buf.append(ARP_PACKET_LEN);
    writeArpPacket(buf.bytes, at, op, this.config.mac, senderIp, targetMac, targetIp);
    this.#transmit(buf, ethDst, ETHERTYPE_ARP);
  }

  /**
   * Transmits a queued IPv4 packet whose next hop ARP has resolved.
   *
   * @param buf the packet (ownership taken)
   * @param mac the neighbour's MAC
   */
  transmitResolved(buf: PacketBufferLike, mac: number): void {
    this.#transmit(buf, mac, ETHERTYPE_IPV4);
  }

  /**
   * A queued packet whose next hop did not answer ARP: tells its transport
   * as if ICMP host unreachable had arrived, then {@link onHostUnreachable}.
   *
   * @param nowMs current time
   * @param ip the unresolved neighbour
   * @param buf the packet (freed by the caller)
   */
  resolutionFailed(nowMs: number, ip: number, buf: PacketBufferLike): void {
    this.stats.hostUnreachable++;
    const bytes = buf.bytes;
    const head = buf.head;
    if (buf.length >= IPV4_HEADER_LEN) {
      const packet = this.#failedPacket.reset(bytes, head, buf.length);
      const hl = packet.headerLength;
      const own = this.icmp.ownsAddress;
      if (this.ipv4.router !== null && own !== null && !own(packet.source)) {
        // A datagram a router forwarded: host unreachable goes to its source (RFC 1812
        // §5.2.7.1, as Linux's ipv4_link_failure), not to our own transports.
        this.icmp.sendTransitError(
          nowMs,
          ICMP_DEST_UNREACHABLE,
          ICMP_UNREACH_HOST,
          0,
          bytes,
          head,
          buf.length,
        );
        this.onHostUnreachable?.(nowMs, ip);
        return;
      }
      const handler = this.ipv4.handlerFor(packet.protocol);
      // Tell the sender as if an ICMP host unreachable had arrived (RFC 1122 §3.3.1.4, §3.2.2.1).
      handler?.onIcmpError?.(
        nowMs,
        ICMP_DEST_UNREACHABLE,
        ICMP_UNREACH_HOST,
        0,
        bytes,
        head,
        Math.min(buf.length, hl + ICMP_MIN_QUOTED_DATA_LEN),
      );
    }
    this.onHostUnreachable?.(nowMs, ip);
  }

  /**
   * Returns a buffer to its pool.
   *
   * @param buf the buffer
   */
  free(buf: PacketBufferLike): void {
    this.ipv4.release(buf);
  }

  /**
   * ArpCacheHost: a gateway of one of our routes is never evicted from the ARP cache.
   *
   * @param ip a neighbour
   * @returns true for a gateway
   */
  isProtected(ip: number): boolean {
    return this.config.routes.isGateway(ip);
  }

  /**
   * What the device would do with an offload request, in software: completes
   * the partial checksum, or cuts a TCP super-segment (IPv4 header at
   * `buf.head`, no options) into MSS-sized packets in pool buffers — each
   * with its total length, identification + i, sequence number, FIN/PSH only
   * on the last and CWR only on the first (as Linux tcp_gso_segment), and
   * fresh checksums — then sends them the ordinary way (e.g. behind ARP).
   */
  #offloadInSoftware(
    buf: PacketBufferLike,
    nextHop: number,
    partialOffset: number,
    gsoSize: number,
  ): boolean {
    this.stats.txOffloadSoftware++;
    const b = buf.bytes;
    const ip = buf.head;
    const l4 = ip + IPV4_HEADER_LEN;
    const l4Length = buf.length - IPV4_HEADER_LEN;
    const headerLength = (b[l4 + TCP_DATA_OFFSET_BYTE] >>> 4) << 2;
    const dataLength = l4Length - headerLength;
    if (gsoSize <= 0 || dataLength <= gsoSize) {
      completePartialChecksum(b, l4, l4Length, partialOffset);
      return this.sendToNeighbour(buf, nextHop);
    }
    const headers = IPV4_HEADER_LEN + headerLength;
    let ok = true;
    for (let off = 0, i = 0; off < dataLength; off += gsoSize, i++) {
      const n = Math.min(gsoSize, dataLength - off);
      const seg = this.pool.alloc(this.linkHeadroom);
      const at = seg === null ? -1 : seg.append(headers + n);
      if (seg === null || at < 0) {
        if (seg !== null) this.pool.free(seg);
        this.stats.txNoBuffer++;
        ok = false;
        break;
      }
      writeTcp4Segment(seg.bytes, at, b, ip, IPV4_HEADER_LEN, headers, dataLength, off, n, i);
      if (!this.sendToNeighbour(seg, nextHop)) ok = false;
    }
    this.ipv4.release(buf);
    return ok;
  }

  /**
   * Prepends the Ethernet header, pads to 60 bytes, transmits (through
   * `transmitOffload` when `partialOffset > 0`), frees.
   */
  #transmit(
    buf: PacketBufferLike,
    dstMac: number,
    ethertype: number,
    partialOffset = 0,
    gsoSize = 0,
    ipHeaderLength = IPV4_HEADER_LEN,
  ): boolean {
    const b = buf.bytes;
    if (!this.#ipLink) {
      const at = buf.prepend(this.#linkHeaderLength);
      if (at < 0) {
        this.stats.txNoHeadroom++;
        this.ipv4.release(buf);
        return false;
      }
      const header = this.#txHeader;
      header.destination = dstMac;
      header.etherType = ethertype;
      EthernetRepr.emit(header, b, at);
      // RFC 894: pad short frames to the Ethernet minimum with zeros.
      const short = ETH_MIN_FRAME - buf.length;
      if (short > 0) {
        const pad = buf.append(short);
        if (pad >= 0) b.fill(0, pad, pad + short);
      }
    }
    let ok: boolean;
    if (partialOffset > 0) {
      const l4 = this.#linkHeaderLength + ipHeaderLength;
      ok = this.device.transmitOffload!(b, buf.head, buf.length, l4, partialOffset, gsoSize);
      if (ok) this.stats.txOffloaded++;
    } else {
      ok = this.device.transmit(b, buf.head, buf.length);
    }
    this.ipv4.release(buf);
    if (ok) this.stats.txFrames++;
    else this.stats.txDeviceDropped++;
    return ok;
  }
}

function parseHost(host: string): number {
  const value = parseIpv4(host);
  if (value === null) {
    throw new TypeError(`ping host must be an IPv4 address like "192.0.2.1", got "${host}"`);
  }
  return value;
}
