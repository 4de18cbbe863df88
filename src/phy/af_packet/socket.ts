/**
 * Socket and ring setup of the AF_PACKET driver, and their teardown: the
 * packet socket (created in another network namespace when asked), what the
 * interface is (index, up, MTU, Ethernet MAC), the socket options, the
 * PACKET_RX_RING request and its mapping — over a page region of the packet
 * arena, or an ordinary mapping when the arena cannot give one —, bind(),
 * the wake-up eventfd; giving all of it back; and the kernel's
 * PACKET_STATISTICS counters. Everything here runs at open, close or stats
 * time, never per frame.
 *
 * @module
 */

import { DeviceError, ETHERNET_HEADER_BYTES } from "../device.ts";
import {
  acquireKernelGro,
  getGro,
  type KernelGroHold,
  kernelGroKey,
  type KernelGroResult,
  releaseKernelGro,
} from "./ethtool.ts";
import { type Arena, ARENA_MAP_PAGE_BYTES, packetArena } from "../../buffer/arena.ts";
import { IPV4_MAX_PACKET_LEN } from "../../wire/ipv4.ts";
import type {
  AfPacketMode,
  AfPacketOptions,
  AfPacketRingPlacement,
  AfPacketStats,
} from "../af_packet.ts";
import {
  AF_PACKET,
  CLONE_NEWNET,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  ENODEV,
  errno,
  ETH_P_ALL,
  htons,
  IFF_UP,
  libc,
  MAP_ANONYMOUS,
  MAP_FAILED_ADDRESS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  O_CLOEXEC,
  O_RDONLY,
  PACKET_IGNORE_OUTGOING,
  PACKET_QDISC_BYPASS,
  PACKET_RX_RING,
  PACKET_STATISTICS,
  PACKET_VERSION,
  PACKET_VNET_HDR,
  PROT_READ,
  PROT_WRITE,
  SIOCGIFFLAGS,
  SIOCGIFHWADDR,
  SIOCGIFINDEX,
  SIOCGIFMTU,
  SO_RCVBUF,
  SO_SNDBUF,
  SOCK_CLOEXEC,
  SOCK_RAW,
  SOL_PACKET,
  SOL_SOCKET,
  systemError,
  TPACKET_V2,
  TPACKET_V3,
} from "../libc.ts";
import {
  align,
  ARPHRD_ETHER,
  IFNAMSIZ,
  IFR_DATA_OFFSET,
  IFR_HWADDR_DATA_OFFSET,
  IFREQ_BYTES,
  INT_BYTES,
  MAC_BYTES,
  MIN_RING_FRAME_BYTES,
  nextPowerOfTwo,
  RX_SLACK_BYTES,
  SLL_FAMILY_OFFSET,
  SLL_IFINDEX_OFFSET,
  SLL_PROTOCOL_OFFSET,
  SOCKADDR_LL_BYTES,
  TP_DROPS_WORD,
  TP_PACKETS_WORD,
  TPACKET_ALIGNMENT,
  TPACKET_MIN_MAC_ROOM,
  TPACKET_REQ3_BYTES,
  TPACKET_REQ_BYTES,
  TPACKET_STATS_BYTES,
  V2_BLOCK_BYTES,
  V3_BLOCK_BYTES,
  V3_HDR_BYTES,
  V3_MIN_BLOCKS,
  VNET_HDR_BYTES,
} from "./layout.ts";

/**
 * Default of `AfPacketOptions.ringInArena`: on, because it measured faster
 * (lab-receive (a): +10 % Gbit/s, −10 % CPU per frame; see af_packet.ts).
 */
export const RING_IN_ARENA_DEFAULT = true;
/**
 * Environment variable (`on` / `off`) that overrides
 * {@link RING_IN_ARENA_DEFAULT} when `ringInArena` is not given and env
 * access to it is already granted (for benchmarks that cannot pass options).
 */
export const RING_IN_ARENA_ENV = "RAWSTACK_RING_ARENA";

/** Largest frame with a virtio_net_hdr: Ethernet header + a 64 KiB IPv4 datagram. */
export const MAX_GSO_FRAME_BYTES = ETHERNET_HEADER_BYTES + IPV4_MAX_PACKET_LEN;
/**
 * Largest received frame `rxMaxFrameBytes` may ask for: Ethernet header + a
 * Linux BIG TCP super-frame of GRO_MAX_SIZE (8 × 65535 bytes,
 * include/linux/netdevice.h): a sender with `gso_max_size` /
 * `gso_ipv4_max_size` above 64 KiB hands such TSO frames over a veth whole.
 */
export const MAX_BIG_TCP_FRAME_BYTES = ETHERNET_HEADER_BYTES + 8 * 65535;
/**
 * Ring bytes the default `frameCount` of a super-frame ring stays within
 * (256 slots of 128 KiB): slots for BIG TCP frames (`rxMaxFrameBytes` above
 * {@link MAX_GSO_FRAME_BYTES}) are fewer by default, not more memory.
 */
const VNET_DEFAULT_RING_BYTES = 32 << 20;
/** Default ring capacity in frames. */
const DEFAULT_FRAME_COUNT = 4096;
/**
 * Default ring capacity in frames with super-frame slots (`vnetHeader: true`,
 * `kernelGro` on or GRO found on): each slot 128 KiB, so 32 MiB of ring per
 * device; `frameCount` sets it (≥ {@link MIN_FRAME_COUNT}: 8 MiB).
 */
const VNET_DEFAULT_FRAME_COUNT = 256;
/** Smallest ring capacity in frames. */
const MIN_FRAME_COUNT = 64;
/** Default TPACKET_V3 block retire timeout. */
const DEFAULT_BLOCK_TIMEOUT_MS = 1;
/** Default SO_SNDBUF / SO_RCVBUF (the kernel caps it at *mem_max). */
const DEFAULT_SOCKET_BUFFER_BYTES = 4 << 20;

/**
 * The RX ring as mapped: its bytes (the arena's own buffer, or an ordinary
 * mapping viewed through `Deno.UnsafePointerView.getArrayBuffer`) and its
 * geometry.
 */
export interface RingMapping {
  /** `"arena"` or `"mmap"`. */
  readonly placement: Exclude<AfPacketRingPlacement, "none">;
  /** The buffer the ring's bytes live in. */
  readonly buffer: ArrayBufferLike;
  /** Offset of the ring in `buffer`. */
  readonly offset: number;
  /** Ring length in bytes (a whole number of pages). */
  readonly length: number;
  /** V2: frame size; V3: block size. */
  readonly slotBytes: number;
  /** V2: frame count; V3: block count. */
  readonly slotCount: number;
  /** Arena placement: the arena and the page region the ring is mapped over. */
  readonly arena: Arena | null;
  readonly region: Uint8Array | null;
  /** Ordinary mapping: its address and the ArrayBuffer viewing it. */
  readonly pointer: Deno.PointerValue;
  readonly mapped: ArrayBuffer | null;
}

/** An open, bound packet socket and what was learnt and set up while opening it. */
export interface PacketSocket {
  readonly fd: number;
  /** Written by `close()` to wake a parked poll(). */
  readonly eventFd: number;
  readonly ifindex: number;
  readonly mtu: number;
  /** The interface's MAC as a 48-bit number. */
  readonly mac: number;
  /** PACKET_VNET_HDR is on. */
  readonly vnetHeader: boolean;
  /** Why PACKET_VNET_HDR is off although on by default (null when on, or turned off by the caller). */
  readonly vnetFallbackReason: string | null;
  /** The interface's GRO is on for this socket's receive (option `kernelGro`). */
  readonly kernelGro: boolean;
  /**
   * This device's hold on the interface's GRO (kernelGro on), released at
   * close: GRO goes back off when the last rawstack device of the process
   * that held it closes and one of them had turned it on (ethtool.ts).
   */
  readonly kernelGroHold: KernelGroHold | null;
  /**
   * `kernelGro: false` with PACKET_VNET_HDR, and the interface's GRO found on
   * (another device's or the admin's): the ring slots take super-frames.
   */
  readonly kernelGroFoundOn: boolean;
  /** Why GRO is not on although on by default (null when on, or turned off by the caller). */
  readonly kernelGroFallbackReason: string | null;
  /** The interface name (for the GRO restore at close). */
  readonly ifname: string;
  /** Ring modes: the mapped RX ring; socket mode: null. */
  readonly ring: RingMapping | null;
  /** Why the ring is not in the arena although asked to be (null otherwise). */
  readonly arenaFallbackReason: string | null;
}

const encoder = new TextEncoder();

function cString(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length * 3 + 1);
  encoder.encodeInto(text, bytes);
  return bytes;
}

function addressOf(pointer: Deno.PointerValue): bigint {
  return pointer === null ? 0n : BigInt(Deno.UnsafePointer.value(pointer));
}

/**
 * Opens and binds a packet socket on `ifname` with the options of
 * `AfPacketDevice.open` (mode already checked). On failure everything made
 * so far is given back before the error is thrown.
 *
 * @throws {DeviceError} `no-ffi-permission`, `permission-denied`, `no-such-device`,
 *   `interface-down`, `system`
 */
export function openPacketSocket(
  ifname: string,
  mode: AfPacketMode,
  opts: AfPacketOptions,
): PacketSocket {
  const c = libc();
  if (ifname.length === 0 || ifname.length >= IFNAMSIZ) {
    throw new DeviceError(
      "no-such-device",
      `"${ifname}" is not a valid interface name (1..${IFNAMSIZ - 1} characters)`,
    );
  }
  // Protocol 0: receive nothing until bind() (so no other interface's frames enter the ring).
  const fd = createSocket(opts.netns, ifname);
  let eventFd = -1;
  let ring: RingMapping | null = null;
  let gro: KernelGroFor | null = null;
  try {
    const ifr = new Uint8Array(IFREQ_BYTES);
    const ifrView = new DataView(ifr.buffer);
    const ioctl = (request: number, what: string) => {
      ifr.fill(0);
      encoder.encodeInto(ifname, ifr.subarray(0, IFNAMSIZ - 1));
      if (c.ioctl(fd, BigInt(request), ifr) < 0) throw systemError(what, errno(), ifname);
    };
    ioctl(SIOCGIFINDEX, "ioctl(SIOCGIFINDEX)");
    const ifindex = ifrView.getInt32(IFR_DATA_OFFSET, true);
    ioctl(SIOCGIFFLAGS, "ioctl(SIOCGIFFLAGS)");
    if ((ifrView.getUint16(IFR_DATA_OFFSET, true) & IFF_UP) === 0) {
      throw new DeviceError(
        "interface-down",
        `interface "${ifname}" is down: bring it up with \`ip link set ${ifname} up\``,
      );
    }
    ioctl(SIOCGIFMTU, "ioctl(SIOCGIFMTU)");
    const mtu = ifrView.getInt32(IFR_DATA_OFFSET, true);
    ioctl(SIOCGIFHWADDR, "ioctl(SIOCGIFHWADDR)");
    const hwType = ifrView.getUint16(IFR_DATA_OFFSET, true);
    if (hwType !== ARPHRD_ETHER) {
      throw new DeviceError(
        "system",
        `interface "${ifname}" is not Ethernet (ARPHRD ${hwType}); rawstack needs an Ethernet link`,
      );
    }
    let mac = 0;
    for (let i = 0; i < MAC_BYTES; i++) mac = mac * 256 + ifr[IFR_HWADDR_DATA_OFFSET + i];

    const intOption = new Int32Array(1);
    const setInt = (level: number, name: number, value: number, what: string, must: boolean) => {
      intOption[0] = value;
      const r = c.setsockopt(fd, level, name, new Uint8Array(intOption.buffer), INT_BYTES);
      if (r < 0 && must) throw systemError(`setsockopt(${what})`, errno(), ifname);
      return r >= 0;
    };
    // Best effort: old kernels lack it; sll_pkttype filtering stays as the second line.
    setInt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING", false);
    // PACKET_VNET_HDR before the ring exists (the kernel refuses it afterwards with EBUSY).
    // Asked for explicitly, a refusal is an error; by default it is a fallback, said in
    // `vnetFallbackReason` (issue 22: the default is the fast choice where the kernel allows it).
    let vnet = false;
    let vnetFallbackReason: string | null = null;
    if (opts.vnetHeader === true) {
      vnet = setInt(SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR", true);
    } else if (opts.vnetHeader === undefined) {
      vnet = setInt(SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR", false);
      if (!vnet) vnetFallbackReason = `setsockopt(PACKET_VNET_HDR) refused: errno ${errno()}`;
    }
    if (opts.qdiscBypass ?? !vnet) {
      setInt(SOL_PACKET, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS", false);
    }
    const bufferBytes = opts.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER_BYTES;
    setInt(SOL_SOCKET, SO_SNDBUF, bufferBytes, "SO_SNDBUF", false);
    setInt(SOL_SOCKET, SO_RCVBUF, bufferBytes, "SO_RCVBUF", false);
    gro = kernelGroFor(fd, ifname, ifindex, mode, vnet, opts);
    let arenaFallbackReason: string | null = null;
    if (mode !== "socket") {
      const v3 = mode === "ring-v3";
      setInt(SOL_PACKET, PACKET_VERSION, v3 ? TPACKET_V3 : TPACKET_V2, "PACKET_VERSION", true);
      const setup = setUpRing(fd, ifname, v3, mtu, vnet, gro.on || gro.foundOn, opts);
      ring = setup.ring;
      arenaFallbackReason = setup.arenaFallbackReason;
    }

    const sll = new Uint8Array(SOCKADDR_LL_BYTES);
    const sllView = new DataView(sll.buffer);
    sllView.setUint16(SLL_FAMILY_OFFSET, AF_PACKET, true);
    sllView.setUint16(SLL_PROTOCOL_OFFSET, htons(ETH_P_ALL), true);
    sllView.setInt32(SLL_IFINDEX_OFFSET, ifindex, true);
    if (c.bind(fd, sll, SOCKADDR_LL_BYTES) < 0) throw systemError("bind", errno(), ifname);

    eventFd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (eventFd < 0) throw systemError("eventfd", errno(), ifname);
    return {
      kernelGro: gro.on,
      kernelGroHold: gro.hold,
      kernelGroFoundOn: gro.foundOn,
      kernelGroFallbackReason: gro.fallbackReason,
      ifname,
      fd,
      eventFd,
      ifindex,
      mtu,
      mac,
      vnetHeader: vnet,
      vnetFallbackReason,
      ring,
      arenaFallbackReason,
    };
  } catch (e) {
    if (ring !== null) releaseRing(ring);
    if (eventFd >= 0) c.close(eventFd);
    if (gro?.hold) releaseKernelGro(fd, ifname, gro.hold);
    c.close(fd);
    throw e;
  }
}

/** Receive-offloaded super-frames fill a ring slot of this many bytes (MAX_GSO_FRAME_BYTES). */
const GRO_FRAME_BYTES = MAX_GSO_FRAME_BYTES;

/** What {@link kernelGroFor} decided. */
interface KernelGroFor extends KernelGroResult {
  /** The hold to release at close (GRO on for this device), else null. */
  readonly hold: KernelGroHold | null;
  /** `kernelGro: false`, PACKET_VNET_HDR on, and the interface's GRO found on. */
  readonly foundOn: boolean;
}

/**
 * Option `kernelGro` (default on with PACKET_VNET_HDR): turns the interface's
 * GRO on so the socket receives the kernel's coalesced super-frames, shared
 * with this process's other devices on the interface
 * ({@link acquireKernelGro}). Not with plain frames (no gso_size / checksum
 * state to say what a super-frame is), nor when the caller's
 * `rxMaxFrameBytes` keeps ring slots too small for them (they would be
 * truncated): both said in the fallback reason. With `kernelGro: false` the
 * interface's GRO is only read: found on (turned on by another device or the
 * admin), a PACKET_VNET_HDR ring still gets super-frame slots.
 */
function kernelGroFor(
  fd: number,
  ifname: string,
  ifindex: number,
  mode: AfPacketMode,
  vnet: boolean,
  opts: AfPacketOptions,
): KernelGroFor {
  const off = { on: false, restoreOff: false, hold: null, foundOn: false };
  if (opts.kernelGro === false) {
    return { ...off, fallbackReason: null, foundOn: vnet && getGro(fd, ifname) === true };
  }
  if (!vnet) {
    return {
      ...off,
      fallbackReason: "no PACKET_VNET_HDR: super-frames would arrive without their GSO metadata",
    };
  }
  if (
    mode !== "socket" && opts.rxMaxFrameBytes !== undefined &&
    opts.rxMaxFrameBytes < GRO_FRAME_BYTES
  ) {
    return {
      ...off,
      fallbackReason: `rxMaxFrameBytes ${opts.rxMaxFrameBytes} is too small for ` +
        `${GRO_FRAME_BYTES}-byte super-frames`,
    };
  }
  const { result, hold } = acquireKernelGro(fd, ifname, kernelGroKey(opts.netns, ifindex));
  return { ...result, hold, foundOn: false };
}

/**
 * Closes the socket and the eventfd of `socket` (its ring must already be
 * released, see {@link releaseRing}), first letting go of its hold on the
 * interface's GRO. Never throws.
 *
 * @returns false when GRO should have been turned off again and was not
 *   (refused; an interface that is gone took its GRO setting with it and
 *   counts as restored)
 */
export function closePacketSocket(socket: PacketSocket): boolean {
  const c = libc();
  let restored = true;
  if (socket.kernelGroHold !== null) {
    const r = releaseKernelGro(socket.fd, socket.ifname, socket.kernelGroHold);
    restored = r === 0 || r === -ENODEV;
  }
  c.close(socket.eventFd);
  c.close(socket.fd);
  return restored;
}

/**
 * Sizes the ring slots for the largest frame, asks for PACKET_RX_RING and
 * maps it (in the arena when asked and possible).
 */
function setUpRing(
  fd: number,
  ifname: string,
  v3: boolean,
  mtu: number,
  vnet: boolean,
  kernelGro: boolean,
  opts: AfPacketOptions,
): { ring: RingMapping; arenaFallbackReason: string | null } {
  const c = libc();
  // Slots for received super-frames only when the caller asked for the header itself: by
  // default (vnetHeader on without being asked) the ring is the one without the header, 4096
  // MTU-sized slots (8 MiB) rather than 256 of 128 KiB (32 MiB), dense for bursts of small
  // frames. Bulk TCP receive measured the same with either ring (issue 22, within noise).
  // With the interface's GRO on (option `kernelGro`, issue 22) the kernel hands over
  // coalesced super-frames: slots for them too.
  const superFrames = vnet && (opts.vnetHeader === true || kernelGro);
  const rxMax = ringFrameBytes(vnet, mtu, superFrames, opts.rxMaxFrameBytes);
  const largestFrame = vnet ? VNET_HDR_BYTES + rxMax : mtu + ETHERNET_HEADER_BYTES;
  // A slot holds the frame header and its sockaddr_ll, aligned, the MAC header room, the frame.
  const frameBytes = nextPowerOfTwo(
    Math.max(
      MIN_RING_FRAME_BYTES,
      align(V3_HDR_BYTES + SOCKADDR_LL_BYTES, TPACKET_ALIGNMENT) + TPACKET_MIN_MAC_ROOM +
        largestFrame + RX_SLACK_BYTES,
    ),
  );
  const frameCount = Math.max(
    MIN_FRAME_COUNT,
    opts.frameCount ??
      (vnet && rxMax > mtu + ETHERNET_HEADER_BYTES
        ? Math.min(VNET_DEFAULT_FRAME_COUNT, Math.floor(VNET_DEFAULT_RING_BYTES / frameBytes))
        : DEFAULT_FRAME_COUNT),
  );
  const blockBytes = Math.max(frameBytes, v3 ? V3_BLOCK_BYTES : V2_BLOCK_BYTES);
  const framesPerBlock = blockBytes / frameBytes;
  const blockCount = Math.max(v3 ? V3_MIN_BLOCKS : 1, Math.ceil(frameCount / framesPerBlock));
  // struct tpacket_req3 (V2 reads only the first four fields of it).
  const req = new Uint32Array([
    blockBytes,
    blockCount,
    frameBytes,
    blockCount * framesPerBlock,
    v3 ? Math.max(1, Math.round(opts.blockTimeoutMs ?? DEFAULT_BLOCK_TIMEOUT_MS)) : 0,
    0, // tp_sizeof_priv
    0, // tp_feature_req_word
  ]);
  const reqBytes = new Uint8Array(req.buffer, 0, v3 ? TPACKET_REQ3_BYTES : TPACKET_REQ_BYTES);
  if (c.setsockopt(fd, SOL_PACKET, PACKET_RX_RING, reqBytes, reqBytes.length) < 0) {
    throw systemError("setsockopt(PACKET_RX_RING)", errno(), ifname);
  }
  const length = blockBytes * blockCount;
  const slotBytes = v3 ? blockBytes : frameBytes;
  const slotCount = v3 ? blockCount : blockCount * framesPerBlock;
  let arenaFallbackReason: string | null = null;
  if (opts.ringInArena ?? ringInArenaDefault()) {
    const arena = opts.ringArena ?? packetArena();
    const region = mapRingInArena(fd, arena, length);
    if (typeof region !== "string") {
      const ring: RingMapping = {
        placement: "arena",
        buffer: arena.buffer,
        offset: region.byteOffset,
        length,
        slotBytes,
        slotCount,
        arena,
        region,
        pointer: null,
        mapped: null,
      };
      return { ring, arenaFallbackReason };
    }
    arenaFallbackReason = region;
  }
  const pointer = c.mmap(null, BigInt(length), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
  if (pointer === null || addressOf(pointer) === MAP_FAILED_ADDRESS) {
    throw systemError("mmap(PACKET_RX_RING)", errno(), ifname);
  }
  const mapped = Deno.UnsafePointerView.getArrayBuffer(pointer, length);
  const ring: RingMapping = {
    placement: "mmap",
    buffer: mapped,
    offset: 0,
    length,
    slotBytes,
    slotCount,
    arena: null,
    region: null,
    pointer,
    mapped,
  };
  return { ring, arenaFallbackReason };
}

/**
 * The largest received frame the ring (or the socket mode's buffer) holds:
 * `rxMaxFrameBytes` when given (at least MTU + 14; with the vnet header up to
 * {@link MAX_BIG_TCP_FRAME_BYTES}, without it up to {@link MAX_GSO_FRAME_BYTES}),
 * else 14 + 65535 for a super-frame ring, else MTU + 14.
 */
export function ringFrameBytes(
  vnet: boolean,
  mtu: number,
  superFrames: boolean,
  rxMaxFrameBytes: number | undefined,
): number {
  return Math.min(
    vnet ? MAX_BIG_TCP_FRAME_BYTES : MAX_GSO_FRAME_BYTES,
    Math.max(
      mtu + ETHERNET_HEADER_BYTES,
      rxMaxFrameBytes ?? (superFrames ? MAX_GSO_FRAME_BYTES : 0),
    ),
  );
}

/**
 * Gives the ring's memory back: an ordinary mapping is detached (a stale
 * view then reads undefined instead of faulting) and unmapped; an arena
 * region gets private zero pages back and returns to the arena. Views over
 * an arena ring cannot be detached (they share the arena's buffer): drop
 * them first.
 *
 * @returns false when the kernel refused to put pages back over the arena
 *   region (it then stays out of the arena for good)
 */
export function releaseRing(ring: RingMapping): boolean {
  if (ring.region !== null && ring.arena !== null) {
    return returnArenaRegion(ring.arena, ring.region);
  }
  if (ring.pointer !== null) {
    ring.mapped?.transfer(0);
    libc().munmap(ring.pointer, BigInt(ring.length));
  }
  return true;
}

function createSocket(netns: string | undefined, ifname: string): number {
  const c = libc();
  if (netns === undefined) {
    const fd = c.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) throw systemError("socket(AF_PACKET)", errno(), ifname);
    return fd;
  }
  const self = c.open(cString("/proc/thread-self/ns/net"), O_RDONLY | O_CLOEXEC);
  if (self < 0) throw systemError("open(/proc/thread-self/ns/net)", errno(), ifname);
  const target = c.open(cString(`/run/netns/${netns}`), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    const code = errno();
    c.close(self);
    throw new DeviceError(
      "no-such-device",
      `network namespace "${netns}" not found (/run/netns/${netns}, errno ${code})`,
      { errno: code },
    );
  }
  try {
    if (c.setns(target, CLONE_NEWNET) < 0) {
      throw systemError(`setns(${netns})`, errno(), ifname);
    }
    const fd = c.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    const code = errno();
    if (c.setns(self, CLONE_NEWNET) < 0) {
      // Cannot happen for a namespace we were in; continuing would act in the wrong namespace.
      throw new Error(`rawstack: could not return to the original network namespace`);
    }
    if (fd < 0) throw systemError("socket(AF_PACKET)", code, ifname);
    return fd;
  } finally {
    c.close(target);
    c.close(self);
  }
}

/** `ringInArena` when not given: {@link RING_IN_ARENA_ENV} if readable, else the default. */
function ringInArenaDefault(): boolean {
  try {
    const query = { name: "env", variable: RING_IN_ARENA_ENV } as const;
    if (Deno.permissions.querySync(query).state === "granted") {
      const value = Deno.env.get(RING_IN_ARENA_ENV);
      if (value === "on") return true;
      if (value === "off") return false;
    }
  } catch {
    // No permission API or no access: the default.
  }
  return RING_IN_ARENA_DEFAULT;
}

/**
 * Maps the packet socket's RX ring (already set up with PACKET_RX_RING,
 * `ringLength` bytes, a whole number of pages) over a page region of
 * `arena`: `mmap(base + offset, MAP_SHARED | MAP_FIXED, fd, 0)`. Returns the
 * region's view, or the reason it could not (the region is then back in the
 * arena, its pages restored).
 */
function mapRingInArena(fd: number, arena: Arena, ringLength: number): Uint8Array | string {
  if (arena.memory === null) return "the arena has no WebAssembly memory";
  const base = arena.baseAddress;
  if (base === null) return "the arena's address is unknown (needs --allow-ffi)";
  if (base % BigInt(ARENA_MAP_PAGE_BYTES) !== 0n) return "the arena is not page-aligned";
  const region = arena.allocPageView(ringLength);
  if (region === null) return `the arena has no free ${ringLength}-byte page region`;
  const address = base + BigInt(region.byteOffset);
  const mapped = addressOf(
    libc().mmap(
      Deno.UnsafePointer.create(address),
      BigInt(ringLength),
      PROT_READ | PROT_WRITE,
      MAP_SHARED | MAP_FIXED,
      fd,
      0n,
    ),
  );
  if (mapped === address) return region;
  const code = mapped === MAP_FAILED_ADDRESS ? errno() : 0;
  // A failed MAP_FIXED may already have removed the old pages: put anonymous ones back.
  if (mapped !== MAP_FAILED_ADDRESS && mapped !== 0n) {
    libc().munmap(Deno.UnsafePointer.create(mapped), BigInt(ringLength));
  }
  returnArenaRegion(arena, region);
  return `mmap(MAP_FIXED) into the arena failed (errno ${code})`;
}

/**
 * Gives an arena region the ring was (or was about to be) mapped over back to
 * the arena: first maps private zero-filled pages over it (never munmap
 * inside V8's memory: the arena would then fault), then frees it. Returns
 * false when the kernel refused; the region then stays out of the arena for
 * good.
 */
function returnArenaRegion(arena: Arena, region: Uint8Array): boolean {
  if (!restoreArenaPages(arena, region)) return false;
  arena.freeView(region);
  return true;
}

function restoreArenaPages(arena: Arena, region: Uint8Array): boolean {
  const base = arena.baseAddress;
  if (base === null) return false;
  const address = base + BigInt(region.byteOffset);
  const length = align(region.length, ARENA_MAP_PAGE_BYTES);
  const mapped = addressOf(
    libc().mmap(
      Deno.UnsafePointer.create(address),
      BigInt(length),
      PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
      -1,
      0n,
    ),
  );
  return mapped === address;
}

/**
 * The kernel's PACKET_STATISTICS of one socket. Reading them resets the
 * kernel's counters, so {@link refresh} adds them to the device's.
 */
export class KernelStats {
  readonly #fd: number;
  readonly #words = new Uint32Array(TPACKET_STATS_BYTES >>> 2);
  readonly #bytes = new Uint8Array(this.#words.buffer);
  readonly #length = new Uint32Array(1);
  readonly #lengthBytes = new Uint8Array(this.#length.buffer);

  /** @param fd the packet socket */
  constructor(fd: number) {
    this.#fd = fd;
  }

  /** Adds the frames seen and dropped since the last call to `stats` (drops count in rxDropped). */
  refresh(stats: AfPacketStats): void {
    this.#length[0] = TPACKET_STATS_BYTES;
    const r = libc().getsockopt(
      this.#fd,
      SOL_PACKET,
      PACKET_STATISTICS,
      this.#bytes,
      this.#lengthBytes,
    );
    if (r === 0) {
      stats.kernelFrames += this.#words[TP_PACKETS_WORD];
      stats.ringDrops += this.#words[TP_DROPS_WORD];
      stats.rxDropped += this.#words[TP_DROPS_WORD];
    }
  }
}
