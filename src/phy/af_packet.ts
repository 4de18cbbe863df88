/**
 * `AfPacketDevice`: drives a Linux network interface through an AF_PACKET raw
 * socket reached with Deno's FFI (bindings in libc.ts).
 *
 * Design (measured, see PLATFORM_NOTES.md):
 * - RX in three selectable modes: `"ring-v2"` (default; PACKET_MMAP TPACKET_V2
 *   per-frame slots: lowest latency), `"ring-v3"` (TPACKET_V3 block ring with
 *   a 1 ms block retire timeout: the throughput winner, but at low rates each
 *   frame waits for its block to retire) and `"socket"` (one `recvfrom()` per
 *   frame; for comparison and kernels without rings). Measured with
 *   bench/driver_bench.ts on a noisy 2-core machine: kernel ping through a
 *   ring responder ≈50 µs (V2) vs ≈400–700 µs (V3); lossless receive of
 *   60-byte frames ≈0.7 M/s (V3) vs ≈0.3–0.5 M/s (V2). Pick `"ring-v3"` for
 *   bulk receive.
 *   The ring is mapped once and read in place: frames are handed to the
 *   sink as offsets into that one live `Uint8Array`, never copied.
 * - Ring placement (`ringInArena`, default on): the ring is mapped with
 *   `mmap(MAP_SHARED | MAP_FIXED)` over a page-aligned region of the packet
 *   arena (src/buffer/arena.ts), so its frames ARE arena bytes: the TCP/UDP
 *   checksum over them runs in the WebAssembly SIMD routine and the payload
 *   copy into a connection's ByteRing is one `copyWithin`. `close()` maps
 *   private zero pages back over the region (never `munmap` inside V8's
 *   memory) before returning it. When the arena cannot give the region the
 *   ring gets an ordinary mapping, viewed with
 *   `Deno.UnsafePointerView.getArrayBuffer` ({@link AfPacketDevice.ringPlacement}
 *   `"mmap"`, `stats.ringArenaFallbacks`). Measured kernel → rawstack bulk
 *   TCP (`bench/harness.ts lab-receive a`, 6 alternating runs on a loaded
 *   2-core machine, kernel reference 7.7–8.4 Gbit/s): 3.55 Gbit/s median in
 *   the arena vs 3.24 with an ordinary mapping (+10 %), 2.88 vs 3.20 µs of
 *   CPU per received frame; checksum + copy fell from ≈18 % to ≈9.5 % of the
 *   profile.
 * - TX: one synchronous `send()` per frame (on veth as fast as a TX ring),
 *   PACKET_QDISC_BYPASS on by default. The frame's address is passed as a
 *   `u64` computed from the base address of its `Uint8Array` (looked up once
 *   per array and cached) plus the offset: no allocation of views per frame.
 * - Frames the local kernel sent are filtered twice: PACKET_IGNORE_OUTGOING
 *   and `sll_pkttype == PACKET_OUTGOING` in the ring / recvfrom address.
 * - `wait()`: returns at once when a frame is ready; otherwise spins for
 *   `spinMicros` re-checking the ring (or a zero-timeout `poll()`), then parks
 *   in `poll()` bound as a `nonblocking` FFI call, so the event loop never
 *   blocks. An eventfd in the poll set lets `close()` wake a parked wait.
 *   With `busyPollMs`, for that long after the last frame in or out it keeps
 *   checking the ring instead of parking, yielding with `setImmediate` every
 *   {@link BUSY_POLL_CHUNK_MICROS} (kernel ping answered p50 ≈27 µs instead of
 *   ≈107 µs; costs a core while traffic flows).
 * - `vnetHeader`: PACKET_VNET_HDR. Received frames publish checksum and GSO
 *   metadata in {@link AfPacketDevice.rxInfo} (super-frames up to 64 KiB);
 *   {@link AfPacketDevice.transmitOffload} sends 64 KiB TCP segments for the
 *   kernel to segment and checksum.
 * - `netns`: the socket of an AF_PACKET device belongs to the network
 *   namespace of the thread that creates it; with this option `open()`
 *   briefly `setns()`es the JavaScript thread into the named namespace
 *   (`/run/netns/<name>`, as made by `ip netns add`), creates the socket, and
 *   switches back. All later calls act in the socket's namespace.
 *
 * Permissions: `--allow-ffi`, and root or
 * CAP_NET_RAW (CAP_SYS_ADMIN too for `netns`).
 *
 * @module
 */

import {
  type Device,
  type DeviceCapabilities,
  DeviceError,
  type DeviceStats,
  ETHERNET_HEADER_BYTES,
  type FrameSink,
  GSO_NONE,
  GSO_TCPV4,
  newDeviceStats,
  newRxFrameInfo,
  RX_CHECKSUM_PARTIAL,
  RX_CHECKSUM_UNKNOWN,
  RX_CHECKSUM_VALID,
  type RxFrameInfo,
} from "./device.ts";
import { completePartialChecksum, UDP_CHECKSUM_OFFSET } from "../wire/checksum.ts";
import { yieldToEventLoop } from "../time/clock.ts";
import { TxThread } from "./tx_thread.ts";
import { type Arena, ARENA_MAP_PAGE_BYTES, arenaCopy, packetArena } from "../buffer/arena.ts";
import {
  AF_PACKET,
  CLONE_NEWNET,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
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
  MSG_DONTWAIT,
  MSG_TRUNC,
  O_CLOEXEC,
  O_RDONLY,
  PACKET_IGNORE_OUTGOING,
  PACKET_OUTGOING,
  PACKET_QDISC_BYPASS,
  PACKET_RX_RING,
  PACKET_STATISTICS,
  PACKET_VERSION,
  PACKET_VNET_HDR,
  POLLIN,
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
  TP_STATUS_CSUM_VALID,
  TP_STATUS_CSUMNOTREADY,
  TP_STATUS_KERNEL,
  TP_STATUS_LOSING,
  TP_STATUS_USER,
  TPACKET_V2,
  TPACKET_V3,
} from "./libc.ts";

/** How the device receives frames. */
export type AfPacketMode = "ring-v3" | "ring-v2" | "socket";

/**
 * Where the RX ring lives: `"arena"` (mapped over a page region of the
 * packet arena, see {@link AfPacketOptions.ringInArena}), `"mmap"` (an
 * ordinary mapping of its own) or `"none"` (socket mode).
 */
export type AfPacketRingPlacement = "arena" | "mmap" | "none";

/**
 * Default of {@link AfPacketOptions.ringInArena}: on, because it measured
 * faster (lab-receive (a): +10 % Gbit/s, −10 % CPU per frame; see the module
 * documentation).
 */
export const RING_IN_ARENA_DEFAULT = true;
/**
 * Environment variable (`on` / `off`) that overrides
 * {@link RING_IN_ARENA_DEFAULT} when `ringInArena` is not given and env
 * access to it is already granted (for benchmarks that cannot pass options).
 */
export const RING_IN_ARENA_ENV = "RAWSTACK_RING_ARENA";

/** Options of {@link AfPacketDevice.open}. */
export interface AfPacketOptions {
  /** Receive path; default `"ring-v2"` (latency); `"ring-v3"` for throughput. */
  mode?: AfPacketMode;
  /** TPACKET_V3 block retire timeout in ms (latency bound at low rates); default 1. */
  blockTimeoutMs?: number;
  /** Ring capacity in frames (≥ 64); default 4096. */
  frameCount?: number;
  /** Busy-wait this many microseconds in `wait()` before parking in poll(); default 50. */
  spinMicros?: number;
  /**
   * Busy-poll window in ms (default 0 = off): for this long after the last
   * frame received or transmitted, `wait()` keeps checking the ring instead of
   * parking in poll(), yielding to the event loop between checks with
   * `setImmediate` (≈5 µs, lets timers and I/O run; see {@link BUSY_POLL_CHUNK_MICROS}).
   * Trades one CPU core at 100 % while traffic flows for latency: a kernel
   * ping is answered in ≈10–20 µs instead of ≈50–150 µs (bench/network_bench.ts).
   */
  busyPollMs?: number;
  /**
   * Set PACKET_QDISC_BYPASS on transmit; default true, but false with
   * `vnetHeader`: the bypass path (dev_direct_xmit) drops a GSO super-frame
   * the interface cannot take whole (TSO off) instead of segmenting it
   * (send() fails with ENOBUFS); through the qdisc the kernel segments it.
   */
  qdiscBypass?: boolean;
  /** Network namespace (name under /run/netns) the interface lives in; default: the current one. */
  netns?: string;
  /** Socket send/receive buffer sizes in bytes; default 4 MiB (capped by the kernel's *mem_max). */
  socketBufferBytes?: number;
  /**
   * PACKET_VNET_HDR (default false): every frame carries a `virtio_net_hdr`.
   * On receive the device strips it and publishes its checksum and GSO
   * metadata in {@link AfPacketDevice.rxInfo}, and accepts receive-offloaded
   * super-frames up to 14 + 65535 bytes (ring slots grow to 128 KiB; the
   * default `frameCount` drops to 256); on transmit {@link AfPacketDevice.transmitOffload}
   * hands the kernel up to 64 KiB TCP segments to segment (GSO TCPv4) and
   * checksums to fill in. Capabilities then report checksumOffloadRx/Tx and gso.
   */
  vnetHeader?: boolean;
  /**
   * Fill in "checksum not ready" (CHECKSUM_PARTIAL) layer-4 checksums of
   * received frames in place before the sink sees them, and report them as
   * {@link RX_CHECKSUM_VALID} (default true), so a consumer that always
   * verifies still accepts locally offloaded traffic. A consumer that reads
   * {@link AfPacketDevice.rxInfo} turns this off (also at run time with
   * {@link AfPacketDevice.completeRxChecksums}) and skips verification instead.
   */
  completeRxChecksums?: boolean;
  /**
   * Ring modes with `vnetHeader`: largest received frame the ring slots hold
   * (default 14 + 65535, for receive-offloaded super-frames). A peer that
   * sends no super-frames (TSO/GSO off) needs only MTU + 14: slots of 2 KiB
   * instead of 128 KiB keep the ring dense (fewer pages touched per frame).
   * Larger frames are truncated and counted (`rxTruncated`).
   */
  rxMaxFrameBytes?: number;
  /**
   * Ring modes: map the PACKET_RX_RING over a page-aligned region of the
   * packet arena (`mmap(MAP_FIXED)` at the arena's own address), so received
   * frames ARE arena bytes: checksums over them run in the WebAssembly SIMD
   * routine and copies into connection rings are one `copyWithin`. When the
   * arena cannot give the region (full, no WebAssembly memory, mapping
   * refused) the ring gets an ordinary mapping instead, reported in
   * {@link AfPacketDevice.ringPlacement}, {@link AfPacketDevice.ringArenaFallbackReason}
   * and `stats.ringArenaFallbacks`. `false` forces the ordinary mapping.
   * Default {@link RING_IN_ARENA_DEFAULT} (env {@link RING_IN_ARENA_ENV} overrides).
   */
  ringInArena?: boolean;
  /** Arena to map the ring into (default: the process-wide `packetArena()`); for tests. */
  ringArena?: Arena;
  /**
   * Transmit batch in frames (default {@link DEFAULT_TX_BATCH}; 0 or 1 = one
   * `send()` per frame). A frame whose bytes live in the packet arena (every
   * pool slot) is copied into a staging area (with `vnetHeader`, after its
   * `virtio_net_hdr`) and sent with the others in one `sendmmsg()` at
   * `flush()`, when the batch is full, before any frame that cannot wait (a
   * frame outside the arena, a GSO super-frame), before `wait()` parks and on
   * `close()`. Measured here on veth: ≈0.8 µs a frame
   * in batches of 32 against ≈1.0–1.3 µs with one `send()` each. A frame
   * the kernel refuses at flush time is counted in `txDropped`.
   */
  txBatch?: number;
  /**
   * Hand full transmit batches to a transmit thread (a `Worker` calling
   * `sendmmsg()`, see `tx_thread.ts`) so the kernel's per-frame work runs on
   * another core while this thread builds the next batch (default false).
   * Needs `txBatch` > 1 and the packet arena; the staging area grows to
   * {@link TX_THREAD_BATCHES} batches. A partial batch flushed while the
   * thread has nothing in hand is sent from this thread (no hand-off
   * latency for request/response). Transmit counters then include the
   * thread's frames when `stats` is read. When the thread cannot start the
   * device sends from this thread and says why in
   * {@link AfPacketDevice.txThreadFallbackReason}.
   *
   * Measured on veth (2 vCPUs): a loop of 1472-byte `UdpConn.send()` rose
   * from ≈0.65 to ≈0.9–1.0 of a bare one-`send()`-per-frame loop; bulk TCP
   * without GSO to a kernel receiver fell (≈3.4 against ≈4.0 Gbit/s): the
   * thread then shares a core with the kernel's receive path and the
   * receiving application. Costs a Worker (its own V8 isolate) per device.
   */
  txThread?: boolean;
}

/** Staging capacity with {@link AfPacketOptions.txThread}, in batches. */
export const TX_THREAD_BATCHES = 8;

/** Default {@link AfPacketOptions.txBatch}. */
export const DEFAULT_TX_BATCH = 32;
/** Largest {@link AfPacketOptions.txBatch} (the kernel's UIO_MAXIOV bound on `sendmmsg` vlen). */
export const MAX_TX_BATCH = 1024;

/** Counters of {@link AfPacketDevice}: the {@link DeviceStats} plus driver details. */
export interface AfPacketStats extends DeviceStats {
  /** Frames the kernel dropped because the ring/socket was full (PACKET_STATISTICS tp_drops). */
  ringDrops: number;
  /** Frames seen by the kernel on this socket (PACKET_STATISTICS tp_packets, drops included). */
  kernelFrames: number;
  /** Frames skipped because this host sent them (sll_pkttype == PACKET_OUTGOING). */
  rxOutgoingFiltered: number;
  /** Frames truncated (longer than the ring slot / receive buffer), counted in rxDropped too. */
  rxTruncated: number;
  /** Transmits refused because the frame exceeded MTU + 14 bytes (counted in txDropped too). */
  txTooLarge: number;
  /** send() failures (EAGAIN, ENOBUFS, ENETDOWN...; counted in txDropped too). */
  txErrors: number;
  /** errno of the last send() failure. */
  txLastErrno: number;
  /** wait() calls that parked in poll(). */
  parks: number;
  /** Event-loop yields (`setImmediate`) made while busy-polling. */
  busyPollYields: number;
  /** Frames that arrived with a CHECKSUM_PARTIAL (not yet filled in) layer-4 checksum. */
  rxChecksumPartial: number;
  /** Frames whose checksum the kernel marked verified (DATA_VALID / TP_STATUS_CSUM_VALID). */
  rxChecksumValid: number;
  /** Partial checksums the driver filled in (see `completeRxChecksums`). */
  rxChecksumsCompleted: number;
  /** Received super-frames (gso_size > 0, vnetHeader only). */
  rxSuperFrames: number;
  /** Frames sent with a GSO request (`transmitOffload` with gsoSize > 0). */
  txSuperFrames: number;
  /** 1 when the RX ring is mapped inside the packet arena, else 0. */
  ringInArena: number;
  /** 1 when the arena was asked for the ring's region and could not give it (ordinary mapping used). */
  ringArenaFallbacks: number;
  /**
   * 1 when close() could not put anonymous pages back over the arena region
   * (the region then stays out of the arena for good rather than be reused).
   */
  ringArenaRestoreFailures: number;
  /** Runs of staged frames handed to the transmit thread (option `txThread`). */
  txThreadSubmissions: number;
  /** Times a frame waited for the transmit thread to free a staging slot (all slots in flight). */
  txThreadWaits: number;
}

/**
 * While busy-polling, `wait()` re-checks the ring synchronously for this many
 * microseconds between two yields to the event loop. A `setImmediate` yield
 * costs ≈5 µs in Deno 2.9 and lets timers, FFI promises and other I/O run;
 * a resolved-promise microtask lets nothing run; `setTimeout(0)` costs ≈2 ms,
 * a MessageChannel message ≈9 µs, a zero-timeout nonblocking poll() ≈7 µs
 * (measured in Deno 2.9.6 on a 2-core VM).
 */
export const BUSY_POLL_CHUNK_MICROS = 200;

/** Ring checks between two clock reads while busy-polling. */
const READY_CHECKS_PER_CLOCK_READ = 16;

const SOCKADDR_LL_BYTES = 20;
const SLL_PKTTYPE_OFFSET = 10;
const IFREQ_BYTES = 40;
const IFNAMSIZ = 16;
const IFR_DATA_OFFSET = 16;
const ARPHRD_ETHER = 1;
const POLLFD_BYTES = 8;
const TPACKET_ALIGNMENT = 16;
const DEFAULT_FRAME_COUNT = 4096;
const MIN_FRAME_COUNT = 64;
const DEFAULT_BLOCK_TIMEOUT_MS = 1;
const DEFAULT_SPIN_MICROS = 50;
const DEFAULT_SOCKET_BUFFER_BYTES = 4 << 20;
const V3_BLOCK_BYTES = 1 << 20;
const V2_BLOCK_BYTES = 1 << 16;
/** Extra room in a ring slot / receive buffer for a VLAN tag and slack. */
const RX_SLACK_BYTES = 64;
/** recvfrom buffer: any frame the socket could deliver (GRO is off on veth by default). */
const SOCKET_RX_BUFFER_BYTES = 65536;
/** sizeof(struct virtio_net_hdr) (include/uapi/linux/virtio_net.h). */
const VNET_HDR_BYTES = 10;
/** virtio_net_hdr flags: the checksum at csum_start + csum_offset must be completed. */
const VNET_F_NEEDS_CSUM = 1;
/** virtio_net_hdr flags: the checksum was verified. */
const VNET_F_DATA_VALID = 2;
/** Largest frame with a virtio_net_hdr: Ethernet header + a 64 KiB IPv4 datagram. */
const MAX_GSO_FRAME_BYTES = ETHERNET_HEADER_BYTES + 65535;
/** Default ring capacity in frames with vnetHeader (each slot 128 KiB: 32 MiB). */
const VNET_DEFAULT_FRAME_COUNT = 256;
const ETHERTYPE_IPV4 = 0x0800;
const IP_PROTOCOL_TCP = 6;
const IP_PROTOCOL_UDP = 17;
/** Offset of the checksum field in a TCP header (RFC 9293 §3.1). */
const TCP_CHECKSUM_OFFSET = 16;
// struct msghdr + 2 struct iovec + the TX virtio_net_hdr, in one off-heap buffer (x86-64).
const MSG_IOV = 16;
const MSG_IOVLEN = 24;
const MSG_HDR_BYTES = 56;
/** struct mmsghdr: a msghdr, then `unsigned int msg_len` and padding. */
const MMSG_HDR_BYTES = 64;
const IOVEC_BYTES = 16;
/** Staging slot stride: frames are at most MTU + 14 bytes; slots start on cache lines. */
const TX_STAGE_ALIGN = 64;
const MSG_IOV0 = MSG_HDR_BYTES;
const MSG_IOV1 = MSG_HDR_BYTES + 16;
const MSG_VNET = MSG_HDR_BYTES + 32;
const MSG_BUFFER_BYTES = 128;
const TWO_POW_32 = 0x1_0000_0000;

// struct tpacket_block_desc (V3): version, offset_to_priv, then tpacket_hdr_v1.
const V3_BLOCK_STATUS = 8;
const V3_BLOCK_NUM_PKTS = 12;
const V3_BLOCK_FIRST_PKT = 16;
// struct tpacket3_hdr
const V3_NEXT_OFFSET = 0;
const V3_SNAPLEN = 12;
const V3_LEN = 16;
const V3_STATUS = 20;
const V3_MAC = 24;
const V3_HDR_BYTES = 48;
// struct tpacket2_hdr
const V2_STATUS = 0;
const V2_LEN = 4;
const V2_SNAPLEN = 8;
const V2_MAC = 12;
const V2_HDR_BYTES = 32;

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

function addressOf(pointer: Deno.PointerValue): bigint {
  return pointer === null ? 0n : BigInt(Deno.UnsafePointer.value(pointer));
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
 * Writes a `struct virtio_net_hdr` { u8 flags; u8 gso_type; le16 hdr_len, gso_size,
 * csum_start, csum_offset } at `at`: NEEDS_CSUM when `csumStart > 0`, GSO TCPv4 when
 * `gsoSize > 0`.
 */
function writeVnetHeader(
  b: Uint8Array,
  at: number,
  csumStart: number,
  csumOffset: number,
  gsoSize: number,
  headerLength: number,
): void {
  b[at] = csumStart > 0 ? VNET_F_NEEDS_CSUM : 0;
  b[at + 1] = gsoSize > 0 ? GSO_TCPV4 : GSO_NONE;
  b[at + 2] = headerLength & 0xff;
  b[at + 3] = headerLength >>> 8;
  b[at + 4] = gsoSize & 0xff;
  b[at + 5] = gsoSize >>> 8;
  b[at + 6] = csumStart & 0xff;
  b[at + 7] = csumStart >>> 8;
  b[at + 8] = csumOffset & 0xff;
  b[at + 9] = csumOffset >>> 8;
}

/** Writes a 64-bit value (a number below 2^53) little-endian as two 32-bit words at byte `at`. */
function writeU64(words: Uint32Array, at: number, value: number): void {
  words[at >>> 2] = value % TWO_POW_32;
  words[(at >>> 2) + 1] = Math.floor(value / TWO_POW_32);
}

function align(value: number, to: number): number {
  return Math.ceil(value / to) * to;
}

function nextPowerOfTwo(value: number): number {
  let p = 1;
  while (p < value) p *= 2;
  return p;
}

const encoder = new TextEncoder();

function cString(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length * 3 + 1);
  encoder.encodeInto(text, bytes);
  return bytes;
}

/**
 * A network interface driven through AF_PACKET. See the module documentation.
 *
 * @example
 * ```ts ignore
 * import { AfPacketDevice } from "./af_packet.ts";
 * // root (or CAP_NET_RAW) and --allow-ffi
 * const dev = await AfPacketDevice.open("veth0", { mode: "ring-v2" });
 * const sink = { onFrame(b: Uint8Array, o: number, n: number) { console.log(n) } };
 * await dev.wait(1000);
 * dev.receive(sink, 64);
 * dev.close();
 * ```
 */
export class AfPacketDevice implements Device {
  /** Static facts about the device (MTU, MAC, offloads). */
  readonly capabilities: DeviceCapabilities;
  /** The receive path in use. */
  readonly mode: AfPacketMode;
  /** Kernel interface index. */
  readonly ifindex: number;
  /** Whether frames carry a virtio_net_hdr (option `vnetHeader`). */
  readonly vnetHeader: boolean;
  /**
   * Offload metadata of the frame being delivered (valid during `onFrame`):
   * checksum state from the virtio_net_hdr or the ring's TP_STATUS_CSUM_*
   * bits, and the GSO type/size of a super-frame. See {@link RxFrameInfo}.
   */
  readonly rxInfo: RxFrameInfo = newRxFrameInfo();
  /** Fill in partial checksums in place before delivery (option `completeRxChecksums`). */
  completeRxChecksums: boolean;

  #stats: AfPacketStats = {
    ...newDeviceStats(),
    ringDrops: 0,
    kernelFrames: 0,
    rxOutgoingFiltered: 0,
    rxTruncated: 0,
    txTooLarge: 0,
    txErrors: 0,
    txLastErrno: 0,
    parks: 0,
    busyPollYields: 0,
    rxChecksumPartial: 0,
    rxChecksumValid: 0,
    rxChecksumsCompleted: 0,
    rxSuperFrames: 0,
    txSuperFrames: 0,
    ringInArena: 0,
    ringArenaFallbacks: 0,
    ringArenaRestoreFailures: 0,
    txThreadSubmissions: 0,
    txThreadWaits: 0,
  };
  /** Where the RX ring lives (see {@link AfPacketOptions.ringInArena}). */
  ringPlacement: AfPacketRingPlacement = "none";
  /** Why the ring is not in the arena although asked to be (null when it is, or was not asked). */
  ringArenaFallbackReason: string | null = null;
  /** Why there is no transmit thread although `txThread` asked for one (null otherwise). */
  txThreadFallbackReason: string | null = null;
  #fd: number;
  #eventFd: number;
  #maxFrame: number;
  #spinMs: number;
  #busyPollMs: number;
  /** performance.now() of the last receive() that delivered frames (or saw a transmit). */
  #lastActivityMs = -Infinity;
  /** A frame was transmitted since wait() last looked (cheaper than a clock read per frame). */
  #txActivity = false;
  #closed = false;
  #released = false;
  #receiving = false;
  #parked = 0;

  // Ring state (ring modes).
  #ringPointer: Deno.PointerValue = null;
  #ringBytesLength = 0;
  #ringBuffer: ArrayBuffer | null = null;
  /** The arena and its page region the ring is mapped over (arena placement). */
  #ringArena: Arena | null = null;
  #ringRegion: Uint8Array | null = null;
  #ring8: Uint8Array = new Uint8Array(0);
  #ring16: Uint16Array = new Uint16Array(0);
  #ring32: Uint32Array = new Uint32Array(0);
  #slotBytes = 0; // V2 frame size or V3 block size
  #slotCount = 0; // V2 frame count or V3 block count
  #slot = 0;
  #v3Left = 0; // frames left in the current V3 block
  #v3Offset = 0; // offset of the next frame in the current V3 block

  // Socket mode.
  #rxBuffer: Uint8Array = new Uint8Array(0);
  #rxAddress = new Uint8Array(SOCKADDR_LL_BYTES);
  #rxAddressLength = new Uint32Array(1);
  #rxAddressLengthBytes = new Uint8Array(this.#rxAddressLength.buffer);

  // Polling.
  #pollFds = new Uint8Array(2 * POLLFD_BYTES);
  #pollOneFd = new Uint8Array(POLLFD_BYTES);
  #eventValue = new Uint8Array(new BigUint64Array([1n]).buffer);
  #statsBuffer = new Uint32Array(3);
  #statsBytes = new Uint8Array(this.#statsBuffer.buffer);
  #statsLength = new Uint32Array(1);
  #statsLengthBytes = new Uint8Array(this.#statsLength.buffer);

  // TX address cache.
  #lastTxBytes: Uint8Array | null = null;
  #lastTxBase = 0n;
  #txBases = new WeakMap<Uint8Array, bigint>();
  #lastTxBaseNumber = 0;
  /** The last plain transmit's offset in `#lastTxBytes`, its address and its length as BigInts. */
  #lastTxOffset = -1;
  #lastTxAddress = 0n;
  #lastTxLength = -1;
  #lastTxLengthBig = 0n;

  // Batched transmit (txBatch): frames staged in the arena, one mmsghdr + iovec per frame.
  #txBatch = 0;
  #txStage: Uint8Array | null = null;
  #txStride = 0;
  #txPending = 0;
  #txLengths = new Int32Array(0);
  /** mmsghdr array followed by the iovecs, as 32-bit words; its address as a number. */
  #txMsgs32: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  #txMsgsAddress = 0;
  #txIovWords = 0;
  /** Staging slots (txBatch, or TX_THREAD_BATCHES × txBatch with a transmit thread). */
  #txSlots = 0;
  /** Frames ever staged (the next frame's slot is `#txHead % #txSlots`). */
  #txHead = 0;
  /** `#txHead` of the first pending (staged, not yet flushed) frame. */
  #txRunStart = 0;
  /** The transmit thread, and the `#txHead` of each of its submissions' first frame. */
  #txThread: TxThread | null = null;
  #txSubmitStart = new Float64Array(0);
  /** The oldest `#txHead` whose slot may still be read by the transmit thread. */
  #txTail = 0;

  // vnetHeader transmit: msghdr, iovecs and the header, viewed as 32-bit words.
  #msg = new Uint8Array(0);
  #msg32 = new Uint32Array(0);

  private constructor(
    fd: number,
    eventFd: number,
    capabilities: DeviceCapabilities,
    ifindex: number,
    mode: AfPacketMode,
    spinMicros: number,
    busyPollMs: number,
    vnetHeader: boolean,
    completeRxChecksums: boolean,
  ) {
    this.vnetHeader = vnetHeader;
    this.completeRxChecksums = completeRxChecksums;
    if (vnetHeader) {
      this.#msg = new Uint8Array(new ArrayBuffer(MSG_BUFFER_BYTES));
      this.#msg32 = new Uint32Array(this.#msg.buffer);
      const base = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#msg)));
      writeU64(this.#msg32, MSG_IOV, base + MSG_IOV0);
      writeU64(this.#msg32, MSG_IOVLEN, 2);
      writeU64(this.#msg32, MSG_IOV0, base + MSG_VNET);
      writeU64(this.#msg32, MSG_IOV0 + 8, VNET_HDR_BYTES);
    }
    this.#fd = fd;
    this.#eventFd = eventFd;
    this.capabilities = capabilities;
    this.ifindex = ifindex;
    this.mode = mode;
    this.#maxFrame = capabilities.mtu + ETHERNET_HEADER_BYTES;
    this.#spinMs = spinMicros / 1000;
    this.#busyPollMs = busyPollMs;
    const fds = new DataView(this.#pollFds.buffer);
    fds.setInt32(0, fd, true);
    fds.setInt16(4, POLLIN, true);
    fds.setInt32(POLLFD_BYTES, eventFd, true);
    fds.setInt16(POLLFD_BYTES + 4, POLLIN, true);
    const one = new DataView(this.#pollOneFd.buffer);
    one.setInt32(0, fd, true);
    one.setInt16(4, POLLIN, true);
  }

  /**
   * Opens a network interface.
   *
   * Permissions: `--allow-ffi`; root or CAP_NET_RAW.
   *
   * @param ifname interface name, e.g. `"veth0"`
   * @param opts receive mode, ring size, spin time, namespace
   * @returns the open device
   * @throws {DeviceError} `no-ffi-permission`, `permission-denied`, `no-such-device`,
   *   `interface-down`, `system`
   */
  static async open(ifname: string, opts: AfPacketOptions = {}): Promise<AfPacketDevice> {
    const c = libc();
    const mode = opts.mode ?? "ring-v2";
    if (mode !== "ring-v3" && mode !== "ring-v2" && mode !== "socket") {
      throw new DeviceError("system", `unknown AF_PACKET mode "${mode}"`);
    }
    if (ifname.length === 0 || ifname.length >= IFNAMSIZ) {
      throw new DeviceError(
        "no-such-device",
        `"${ifname}" is not a valid interface name (1..15 characters)`,
      );
    }
    // Protocol 0: receive nothing until bind() (so no other interface's frames enter the ring).
    const fd = AfPacketDevice.#createSocket(opts.netns, ifname);
    let eventFd = -1;
    let ringPointer: Deno.PointerValue = null;
    let ringLength = 0;
    let ringArena: Arena | null = null;
    let ringRegion: Uint8Array | null = null;
    let arenaFallbackReason: string | null = null;
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
      for (let i = 0; i < 6; i++) mac = mac * 256 + ifr[IFR_DATA_OFFSET + 2 + i];

      const intOption = new Int32Array(1);
      const setInt = (level: number, name: number, value: number, what: string, must: boolean) => {
        intOption[0] = value;
        const r = c.setsockopt(fd, level, name, new Uint8Array(intOption.buffer), 4);
        if (r < 0 && must) throw systemError(`setsockopt(${what})`, errno(), ifname);
        return r >= 0;
      };
      // Best effort: old kernels lack it; sll_pkttype filtering stays as the second line.
      setInt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING", false);
      if (opts.qdiscBypass ?? !(opts.vnetHeader ?? false)) {
        setInt(SOL_PACKET, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS", false);
      }
      const bufferBytes = opts.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER_BYTES;
      setInt(SOL_SOCKET, SO_SNDBUF, bufferBytes, "SO_SNDBUF", false);
      setInt(SOL_SOCKET, SO_RCVBUF, bufferBytes, "SO_RCVBUF", false);

      const vnet = opts.vnetHeader ?? false;
      if (vnet) {
        // Before the ring exists (the kernel refuses it afterwards with EBUSY).
        setInt(SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR", true);
      }
      const frameCount = Math.max(
        MIN_FRAME_COUNT,
        opts.frameCount ?? (vnet ? VNET_DEFAULT_FRAME_COUNT : DEFAULT_FRAME_COUNT),
      );
      const rxMax = Math.min(
        MAX_GSO_FRAME_BYTES,
        Math.max(mtu + ETHERNET_HEADER_BYTES, opts.rxMaxFrameBytes ?? MAX_GSO_FRAME_BYTES),
      );
      const largestFrame = vnet ? VNET_HDR_BYTES + rxMax : mtu + ETHERNET_HEADER_BYTES;
      const frameBytes = nextPowerOfTwo(
        Math.max(
          2048,
          align(V3_HDR_BYTES + SOCKADDR_LL_BYTES, TPACKET_ALIGNMENT) + 16 + largestFrame +
            RX_SLACK_BYTES,
        ),
      );
      let slotBytes = 0;
      let slotCount = 0;
      if (mode !== "socket") {
        const v3 = mode === "ring-v3";
        setInt(SOL_PACKET, PACKET_VERSION, v3 ? TPACKET_V3 : TPACKET_V2, "PACKET_VERSION", true);
        const blockBytes = Math.max(frameBytes, v3 ? V3_BLOCK_BYTES : V2_BLOCK_BYTES);
        const framesPerBlock = blockBytes / frameBytes;
        const blockCount = Math.max(v3 ? 2 : 1, Math.ceil(frameCount / framesPerBlock));
        // struct tpacket_req3 (V2 reads only the first four fields of it).
        const req = new Uint32Array([
          blockBytes,
          blockCount,
          frameBytes,
          blockCount * framesPerBlock,
          v3 ? Math.max(1, Math.round(opts.blockTimeoutMs ?? DEFAULT_BLOCK_TIMEOUT_MS)) : 0,
          0,
          0,
        ]);
        const reqBytes = new Uint8Array(req.buffer, 0, v3 ? 28 : 16);
        if (c.setsockopt(fd, SOL_PACKET, PACKET_RX_RING, reqBytes, reqBytes.length) < 0) {
          throw systemError("setsockopt(PACKET_RX_RING)", errno(), ifname);
        }
        ringLength = blockBytes * blockCount;
        if (opts.ringInArena ?? ringInArenaDefault()) {
          ringArena = opts.ringArena ?? packetArena();
          const mapped = mapRingInArena(fd, ringArena, ringLength);
          if (typeof mapped === "string") {
            arenaFallbackReason = mapped;
            ringArena = null;
          } else {
            ringRegion = mapped;
          }
        }
        if (ringRegion === null) {
          ringPointer = c.mmap(
            null,
            BigInt(ringLength),
            PROT_READ | PROT_WRITE,
            MAP_SHARED,
            fd,
            0n,
          );
          if (ringPointer === null || addressOf(ringPointer) === MAP_FAILED_ADDRESS) {
            const code = errno();
            ringPointer = null;
            throw systemError("mmap(PACKET_RX_RING)", code, ifname);
          }
        }
        slotBytes = v3 ? blockBytes : frameBytes;
        slotCount = v3 ? blockCount : blockCount * framesPerBlock;
      }

      const sll = new Uint8Array(SOCKADDR_LL_BYTES);
      const sllView = new DataView(sll.buffer);
      sllView.setUint16(0, AF_PACKET, true);
      sllView.setUint16(2, htons(ETH_P_ALL), true);
      sllView.setInt32(4, ifindex, true);
      if (c.bind(fd, sll, SOCKADDR_LL_BYTES) < 0) throw systemError("bind", errno(), ifname);

      eventFd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (eventFd < 0) throw systemError("eventfd", errno(), ifname);

      const capabilities: DeviceCapabilities = {
        name: ifname,
        mtu,
        mac,
        headroom: 0,
        checksumOffloadRx: vnet,
        checksumOffloadTx: vnet,
        gso: vnet,
        maxSegmentBytes: vnet ? MAX_GSO_FRAME_BYTES : mtu + ETHERNET_HEADER_BYTES,
      };
      const dev = new AfPacketDevice(
        fd,
        eventFd,
        capabilities,
        ifindex,
        mode,
        Math.max(0, opts.spinMicros ?? DEFAULT_SPIN_MICROS),
        Math.max(0, opts.busyPollMs ?? 0),
        vnet,
        opts.completeRxChecksums ?? true,
      );
      const txBatch = opts.txBatch ?? DEFAULT_TX_BATCH;
      if (!Number.isInteger(txBatch) || txBatch < 0 || txBatch > MAX_TX_BATCH) {
        throw new DeviceError(
          "system",
          `txBatch must be an integer 0..${MAX_TX_BATCH}, got ${txBatch}`,
        );
      }
      const txThread = opts.txThread ?? false;
      if (txBatch > 1) dev.#setUpTxBatch(txBatch, txThread ? TX_THREAD_BATCHES : 1);
      dev.ringArenaFallbackReason = arenaFallbackReason;
      dev.#stats.ringArenaFallbacks = arenaFallbackReason === null ? 0 : 1;
      if (ringRegion !== null || ringPointer !== null) {
        let buffer: ArrayBufferLike;
        let offset = 0;
        if (ringRegion !== null && ringArena !== null) {
          // The ring's frames are arena bytes: views over the arena's own buffer.
          dev.ringPlacement = "arena";
          dev.#stats.ringInArena = 1;
          dev.#ringArena = ringArena;
          dev.#ringRegion = ringRegion;
          buffer = ringArena.buffer;
          offset = ringRegion.byteOffset;
        } else {
          dev.ringPlacement = "mmap";
          dev.#ringPointer = ringPointer;
          const mapped = Deno.UnsafePointerView.getArrayBuffer(ringPointer!, ringLength);
          dev.#ringBuffer = mapped;
          buffer = mapped;
        }
        dev.#ringBytesLength = ringLength;
        dev.#ring8 = new Uint8Array(buffer, offset, ringLength);
        dev.#ring16 = new Uint16Array(buffer, offset, ringLength >>> 1);
        dev.#ring32 = new Uint32Array(buffer, offset, ringLength >>> 2);
        dev.#slotBytes = slotBytes;
        dev.#slotCount = slotCount;
      } else {
        dev.#rxBuffer = new Uint8Array(
          vnet ? VNET_HDR_BYTES + MAX_GSO_FRAME_BYTES + RX_SLACK_BYTES : SOCKET_RX_BUFFER_BYTES,
        );
      }
      if (txThread) await dev.#startTxThread(txBatch);
      return dev;
    } catch (e) {
      if (ringRegion !== null && ringArena !== null) returnArenaRegion(ringArena, ringRegion);
      if (ringPointer !== null) c.munmap(ringPointer, BigInt(ringLength));
      if (eventFd >= 0) c.close(eventFd);
      c.close(fd);
      throw e;
    }
  }

  static #createSocket(netns: string | undefined, ifname: string): number {
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

  /** Counters; ring drop counters are refreshed from the kernel on each read. */
  get stats(): AfPacketStats {
    this.#refreshKernelStats();
    this.#collectTxThread();
    return this.#stats;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  #refreshKernelStats(): void {
    if (this.#closed) return;
    // Reading PACKET_STATISTICS resets the kernel's counters, so accumulate.
    this.#statsLength[0] = 12;
    const r = libc().getsockopt(
      this.#fd,
      SOL_PACKET,
      PACKET_STATISTICS,
      this.#statsBytes,
      this.#statsLengthBytes,
    );
    if (r === 0) {
      this.#stats.kernelFrames += this.#statsBuffer[0];
      this.#stats.ringDrops += this.#statsBuffer[1];
      this.#stats.rxDropped += this.#statsBuffer[1];
    }
  }

  /** Delivers up to `budget` ready frames to `sink`; returns how many. */
  receive(sink: FrameSink, budget: number): number {
    if (this.#closed) return 0;
    this.#receiving = true;
    try {
      const n = this.mode === "ring-v3"
        ? this.#receiveV3(sink, budget)
        : this.mode === "ring-v2"
        ? this.#receiveV2(sink, budget)
        : this.#receiveSocket(sink, budget);
      if (n > 0 && this.#busyPollMs > 0) this.#lastActivityMs = performance.now();
      return n;
    } finally {
      this.#receiving = false;
      if (this.#closed) this.#release();
    }
  }

  #receiveV3(sink: FrameSink, budget: number): number {
    const r8 = this.#ring8;
    const r16 = this.#ring16;
    const r32 = this.#ring32;
    const stats = this.#stats;
    let count = 0;
    while (count < budget && !this.#closed) {
      const block = this.#slot * this.#slotBytes;
      if (this.#v3Left === 0) {
        const status = r32[(block + V3_BLOCK_STATUS) >>> 2];
        if ((status & TP_STATUS_USER) === 0) break;
        if ((status & TP_STATUS_LOSING) !== 0) this.#refreshKernelStats();
        this.#v3Left = r32[(block + V3_BLOCK_NUM_PKTS) >>> 2];
        this.#v3Offset = block + r32[(block + V3_BLOCK_FIRST_PKT) >>> 2];
        if (this.#v3Left === 0) {
          this.#releaseV3Block(block);
          continue;
        }
      }
      const frame = this.#v3Offset;
      const snaplen = r32[(frame + V3_SNAPLEN) >>> 2];
      const len = r32[(frame + V3_LEN) >>> 2];
      const mac = frame + r16[(frame + V3_MAC) >>> 1];
      const pkttype = r8[frame + V3_HDR_BYTES + SLL_PKTTYPE_OFFSET];
      if (pkttype === PACKET_OUTGOING) {
        stats.rxOutgoingFiltered++;
      } else if (snaplen < len || mac + snaplen > block + this.#slotBytes) {
        stats.rxTruncated++;
        stats.rxDropped++;
      } else {
        stats.rxFrames++;
        stats.rxBytes += snaplen;
        count++;
        this.#frameInfo(r8, mac, snaplen, r32[(frame + V3_STATUS) >>> 2], mac - VNET_HDR_BYTES);
        sink.onFrame(r8, mac, snaplen);
        if (this.#closed) break;
      }
      this.#v3Offset = frame + r32[(frame + V3_NEXT_OFFSET) >>> 2];
      if (--this.#v3Left === 0) this.#releaseV3Block(block);
    }
    return count;
  }

  #releaseV3Block(block: number): void {
    this.#ring32[(block + V3_BLOCK_STATUS) >>> 2] = TP_STATUS_KERNEL;
    this.#slot = this.#slot + 1 === this.#slotCount ? 0 : this.#slot + 1;
  }

  #receiveV2(sink: FrameSink, budget: number): number {
    const r8 = this.#ring8;
    const r16 = this.#ring16;
    const r32 = this.#ring32;
    const stats = this.#stats;
    const slotBytes = this.#slotBytes;
    let count = 0;
    while (count < budget && !this.#closed) {
      const frame = this.#slot * slotBytes;
      const status = r32[(frame + V2_STATUS) >>> 2];
      if ((status & TP_STATUS_USER) === 0) break;
      if ((status & TP_STATUS_LOSING) !== 0) this.#refreshKernelStats();
      const len = r32[(frame + V2_LEN) >>> 2];
      const snaplen = r32[(frame + V2_SNAPLEN) >>> 2];
      const mac = frame + r16[(frame + V2_MAC) >>> 1];
      const pkttype = r8[frame + V2_HDR_BYTES + SLL_PKTTYPE_OFFSET];
      if (pkttype === PACKET_OUTGOING) {
        stats.rxOutgoingFiltered++;
      } else if (snaplen < len || mac + snaplen > frame + slotBytes) {
        stats.rxTruncated++;
        stats.rxDropped++;
      } else {
        stats.rxFrames++;
        stats.rxBytes += snaplen;
        count++;
        this.#frameInfo(r8, mac, snaplen, status, mac - VNET_HDR_BYTES);
        sink.onFrame(r8, mac, snaplen);
        if (this.#closed) break;
      }
      r32[(frame + V2_STATUS) >>> 2] = TP_STATUS_KERNEL;
      this.#slot = this.#slot + 1 === this.#slotCount ? 0 : this.#slot + 1;
    }
    return count;
  }

  #receiveSocket(sink: FrameSink, budget: number): number {
    const c = libc();
    const buffer = this.#rxBuffer;
    const capacity = BigInt(buffer.length);
    const stats = this.#stats;
    let count = 0;
    while (count < budget && !this.#closed) {
      this.#rxAddressLength[0] = SOCKADDR_LL_BYTES;
      const n = c.recvfrom(
        this.#fd,
        buffer,
        capacity,
        MSG_DONTWAIT | MSG_TRUNC,
        this.#rxAddress,
        this.#rxAddressLengthBytes,
      );
      // Any failure (EAGAIN; or a bogus errno during JIT warm-up) means "nothing now".
      if (n < 0) break;
      if (this.#rxAddress[SLL_PKTTYPE_OFFSET] === PACKET_OUTGOING) {
        stats.rxOutgoingFiltered++;
        continue;
      }
      if (n > buffer.length) {
        stats.rxTruncated++;
        stats.rxDropped++;
        continue;
      }
      const start = this.vnetHeader ? VNET_HDR_BYTES : 0;
      if (n <= start) {
        stats.rxDropped++;
        continue;
      }
      stats.rxFrames++;
      stats.rxBytes += n - start;
      count++;
      this.#frameInfo(buffer, start, n - start, 0, 0);
      sink.onFrame(buffer, start, n - start);
    }
    return count;
  }

  /**
   * Fills {@link rxInfo} for the frame at `bytes[mac, mac + length)` from its
   * virtio_net_hdr at `vnetAt` (vnetHeader) or from the ring `status` bits,
   * and completes a partial checksum when asked to.
   */
  #frameInfo(bytes: Uint8Array, mac: number, length: number, status: number, vnetAt: number) {
    const info = this.rxInfo;
    const stats = this.#stats;
    if (this.vnetHeader) {
      // struct virtio_net_hdr, little-endian fields (virtio 1.0 / vio_le() on x86-64).
      const flags = bytes[vnetAt];
      info.gsoType = bytes[vnetAt + 1];
      info.headerLength = bytes[vnetAt + 2] | (bytes[vnetAt + 3] << 8);
      info.gsoSize = bytes[vnetAt + 4] | (bytes[vnetAt + 5] << 8);
      if (info.gsoSize !== 0) stats.rxSuperFrames++;
      if ((flags & VNET_F_NEEDS_CSUM) !== 0) {
        info.checksum = RX_CHECKSUM_PARTIAL;
        info.csumStart = bytes[vnetAt + 6] | (bytes[vnetAt + 7] << 8);
        info.csumOffset = bytes[vnetAt + 8] | (bytes[vnetAt + 9] << 8);
      } else {
        info.checksum = (flags & VNET_F_DATA_VALID) !== 0 ? RX_CHECKSUM_VALID : RX_CHECKSUM_UNKNOWN;
        info.csumStart = 0;
        info.csumOffset = 0;
      }
    } else {
      info.gsoType = GSO_NONE;
      info.gsoSize = 0;
      info.headerLength = 0;
      info.csumStart = 0;
      info.csumOffset = 0;
      if ((status & TP_STATUS_CSUMNOTREADY) !== 0) {
        info.checksum = RX_CHECKSUM_PARTIAL;
        this.#locateLayer4Checksum(bytes, mac, length);
      } else {
        info.checksum = (status & TP_STATUS_CSUM_VALID) !== 0
          ? RX_CHECKSUM_VALID
          : RX_CHECKSUM_UNKNOWN;
      }
    }
    if (info.checksum === RX_CHECKSUM_VALID) {
      stats.rxChecksumValid++;
    } else if (info.checksum === RX_CHECKSUM_PARTIAL) {
      stats.rxChecksumPartial++;
      if (this.completeRxChecksums && this.#completeChecksum(bytes, mac, length)) {
        info.checksum = RX_CHECKSUM_VALID;
        stats.rxChecksumsCompleted++;
      }
    }
  }

  /** Without a vnet header: csum start/offset of an IPv4 TCP/UDP frame (else left 0). */
  #locateLayer4Checksum(bytes: Uint8Array, mac: number, length: number): void {
    const info = this.rxInfo;
    if (length < ETHERNET_HEADER_BYTES + 20) return;
    if (((bytes[mac + 12] << 8) | bytes[mac + 13]) !== ETHERTYPE_IPV4) return;
    const ihl = (bytes[mac + ETHERNET_HEADER_BYTES] & 0x0f) * 4;
    const protocol = bytes[mac + ETHERNET_HEADER_BYTES + 9];
    const offset = protocol === IP_PROTOCOL_TCP
      ? TCP_CHECKSUM_OFFSET
      : protocol === IP_PROTOCOL_UDP
      ? UDP_CHECKSUM_OFFSET
      : 0;
    if (offset === 0 || ihl < 20) return;
    info.csumStart = ETHERNET_HEADER_BYTES + ihl;
    info.csumOffset = offset;
  }

  /**
   * Completes a CHECKSUM_PARTIAL checksum in place: the field holds the folded
   * pseudo-header sum, so the one's complement of the sum from csumStart to
   * the end of the frame is the real checksum (RFC 1071; RFC 768 maps 0 to
   * 0xffff for UDP). Returns false when the offsets do not fit the frame.
   */
  #completeChecksum(bytes: Uint8Array, mac: number, length: number): boolean {
    const info = this.rxInfo;
    const start = info.csumStart;
    if (start < ETHERNET_HEADER_BYTES || start + info.csumOffset + 2 > length) return false;
    completePartialChecksum(bytes, mac + start, length - start, info.csumOffset);
    return true;
  }

  #txBase(bytes: Uint8Array): bigint {
    let base = this.#txBases.get(bytes);
    if (base === undefined) {
      // Touching .buffer moves a small on-heap typed array off-heap, so its address is stable.
      void bytes.buffer;
      base = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
      this.#txBases.set(bytes, base);
    }
    this.#lastTxBytes = bytes;
    this.#lastTxBase = base;
    this.#lastTxBaseNumber = Number(base);
    this.#lastTxOffset = -1;
    return base;
  }

  /** Sends one frame; `false` when it was dropped (counted). */
  transmit(bytes: Uint8Array, offset: number, length: number): boolean {
    const stats = this.#stats;
    if (
      this.#closed || !(offset >= 0) || !(length > 0) || offset + length > bytes.length
    ) {
      stats.txDropped++;
      return false;
    }
    if (length > this.#maxFrame) {
      stats.txTooLarge++;
      stats.txDropped++;
      return false;
    }
    if (this.vnetHeader) return this.#sendVnet(bytes, offset, length, 0, 0, 0);
    if (this.#txStage !== null && this.#stage(bytes, offset, length, 0, 0)) return true;
    // 64-bit FFI arguments are BigInts: reuse the last ones when a frame goes out from the same
    // place with the same length (a pool hands back the slot just freed), allocating none.
    if (bytes !== this.#lastTxBytes) this.#txBase(bytes);
    if (offset !== this.#lastTxOffset) {
      this.#lastTxOffset = offset;
      this.#lastTxAddress = this.#lastTxBase + BigInt(offset);
    }
    if (length !== this.#lastTxLength) {
      this.#lastTxLength = length;
      this.#lastTxLengthBig = BigInt(length);
    }
    const n = libc().sendAddress(
      this.#fd,
      this.#lastTxAddress,
      this.#lastTxLengthBig,
      MSG_DONTWAIT,
    );
    if (n < 0) {
      stats.txErrors++;
      stats.txLastErrno = errno();
      stats.txDropped++;
      return false;
    }
    stats.txFrames++;
    stats.txBytes += length;
    this.#txActivity = true;
    return true;
  }

  /**
   * Sends one frame with checksum and segmentation offload (needs
   * `vnetHeader: true`): a `virtio_net_hdr` asks the kernel to fill in the
   * layer-4 checksum (NEEDS_CSUM, like Linux CHECKSUM_PARTIAL) and, with
   * `gsoSize > 0`, to cut an IPv4 TCP super-frame of up to 14 + 65535 bytes
   * into segments of `gsoSize` payload bytes (GSO TCPv4; the kernel fixes
   * each segment's IPv4 total length, id and header checksum and the TCP
   * sequence number, flags and checksum). When the interface keeps TSO on,
   * the super-frame may instead travel whole to a local peer (veth) — the
   * receiving kernel handles it like a GRO packet.
   *
   * The caller lays out the frame as usual except for the layer-4 checksum
   * field, which must hold the folded, NOT complemented pseudo-header sum of
   * the whole (super-)segment: `pseudoHeaderSum(src, dst, 6, tcpLength)`.
   *
   * @param bytes frame buffer
   * @param offset start of the Ethernet header
   * @param length frame length (≤ 14 + 65535 with GSO, else ≤ MTU + 14)
   * @param csumStart frame offset of the layer-4 header (e.g. 14 + 20), 0 = no checksum request
   * @param csumOffset checksum field offset within it (TCP 16, UDP 6)
   * @param gsoSize TCP payload bytes per segment (the MSS), 0 = no segmentation
   * @returns false when dropped (counted): closed, no vnetHeader, too large, send() failed
   */
  transmitOffload(
    bytes: Uint8Array,
    offset: number,
    length: number,
    csumStart: number,
    csumOffset: number,
    gsoSize: number,
  ): boolean {
    const stats = this.#stats;
    if (
      !this.vnetHeader || this.#closed || !(offset >= 0) || !(length > 0) ||
      offset + length > bytes.length || !(csumStart >= 0) || !(csumOffset >= 0) ||
      !(gsoSize >= 0) || gsoSize > 0xffff || csumStart + csumOffset + 2 > length
    ) {
      stats.txDropped++;
      return false;
    }
    return this.#sendVnet(bytes, offset, length, csumStart, csumOffset, gsoSize);
  }

  #sendVnet(
    bytes: Uint8Array,
    offset: number,
    length: number,
    csumStart: number,
    csumOffset: number,
    gsoSize: number,
  ): boolean {
    const stats = this.#stats;
    if (length > (gsoSize > 0 ? MAX_GSO_FRAME_BYTES : this.#maxFrame)) {
      stats.txTooLarge++;
      stats.txDropped++;
      return false;
    }
    if (this.#txStage !== null) {
      if (gsoSize === 0) {
        if (this.#stage(bytes, offset, length, csumStart, csumOffset)) return true;
      } else {
        this.#drainTx(); // a super-frame does not fit a staging slot: it leaves after the staged
      }
    }
    if (bytes !== this.#lastTxBytes) this.#txBase(bytes);
    const address = this.#lastTxBaseNumber + offset;
    const m32 = this.#msg32;
    const m8 = this.#msg;
    m32[MSG_IOV1 >>> 2] = address % TWO_POW_32;
    m32[(MSG_IOV1 >>> 2) + 1] = Math.floor(address / TWO_POW_32);
    m32[(MSG_IOV1 + 8) >>> 2] = length;
    m32[(MSG_IOV1 + 12) >>> 2] = 0;
    // struct virtio_net_hdr { u8 flags; u8 gso_type; le16 hdr_len, gso_size, csum_start, csum_offset }
    let headerLength = 0;
    if (gsoSize > 0) {
      // TCP data offset (RFC 9293 §3.1): headers the kernel copies into every segment.
      headerLength = csumStart + ((bytes[offset + csumStart + 12] >>> 4) << 2);
      stats.txSuperFrames++;
    }
    writeVnetHeader(m8, MSG_VNET, csumStart, csumOffset, gsoSize, headerLength);
    const n = libc().sendmsg(this.#fd, m8, MSG_DONTWAIT);
    if (n < 0) {
      stats.txErrors++;
      stats.txLastErrno = errno();
      stats.txDropped++;
      return false;
    }
    stats.txFrames++;
    stats.txBytes += length;
    this.#txActivity = true;
    return true;
  }

  /** Ends a transmit batch: the staged frames go to the kernel (or to the transmit thread). */
  flush(): void {
    if (this.#txPending > 0) this.#flushBatch();
  }

  /** Whether transmit batching is on (option `txBatch`, and the packet arena could stage frames). */
  get txBatching(): boolean {
    return this.#txStage !== null;
  }

  /** Frames staged for the next `sendmmsg()` (0 right after {@link flush}). */
  get txPending(): number {
    return this.#txPending;
  }

  /** Whether a transmit thread sends the full batches (option `txThread`). */
  get txThreaded(): boolean {
    return this.#txThread !== null;
  }

  /**
   * Stages up to `batch` frames in the packet arena for one `sendmmsg()`:
   * an mmsghdr and an iovec per staging slot, written once; per frame only
   * the iovec length changes. `batches` > 1 (transmit thread) makes room for
   * that many batches in flight. Stays off when the arena has no address (no
   * WebAssembly memory) or no room.
   */
  #setUpTxBatch(batch: number, batches: number): void {
    const arena = packetArena();
    const base = arena.baseAddress;
    if (base === null) return;
    const slots = batch * batches;
    // With vnetHeader each slot starts with the frame's virtio_net_hdr, sent in the same iovec.
    const stride = align((this.vnetHeader ? VNET_HDR_BYTES : 0) + this.#maxFrame, TX_STAGE_ALIGN);
    const stage = arena.allocView(slots * stride);
    if (stage === null) return;
    // Shared with the transmit thread when there is one (the same memory, seen by both).
    const msgBytes = slots * (MMSG_HDR_BYTES + IOVEC_BYTES);
    const msgs = new Uint8Array(
      batches > 1 ? new SharedArrayBuffer(msgBytes) : new ArrayBuffer(msgBytes),
    );
    const words = new Uint32Array(msgs.buffer);
    const address = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(msgs)));
    const iovStart = slots * MMSG_HDR_BYTES;
    const stageAddress = Number(base) + stage.byteOffset;
    for (let i = 0; i < slots; i++) {
      const msg = i * MMSG_HDR_BYTES;
      const iov = iovStart + i * IOVEC_BYTES;
      writeU64(words, msg + MSG_IOV, address + iov);
      writeU64(words, msg + MSG_IOVLEN, 1);
      writeU64(words, iov, stageAddress + i * stride);
    }
    this.#txBatch = batch;
    this.#txSlots = slots;
    this.#txStage = stage;
    this.#txStride = stride;
    this.#txLengths = new Int32Array(slots);
    this.#txMsgs32 = words;
    this.#txMsgsAddress = address;
    this.#txIovWords = iovStart >>> 2;
  }

  /** Starts the transmit thread over the staging area (see {@link AfPacketOptions.txThread}). */
  async #startTxThread(batch: number): Promise<void> {
    if (this.#txStage === null || batch < 2) {
      this.txThreadFallbackReason = "no transmit batching (txBatch < 2 or no packet arena)";
      return;
    }
    try {
      const msgs = this.#txMsgs32.buffer;
      if (!(msgs instanceof SharedArrayBuffer)) throw new Error("staging messages are not shared");
      this.#txThread = await TxThread.start({
        fd: this.#fd,
        msgs,
        mmsgHdrBytes: MMSG_HDR_BYTES,
        msgLenOffset: MSG_HDR_BYTES,
        flags: MSG_DONTWAIT,
        depth: this.#txSlots,
      });
      this.#txSubmitStart = new Float64Array(this.#txSlots);
    } catch (e) {
      this.txThreadFallbackReason = e instanceof Error ? e.message : String(e);
    }
  }

  /** Adds what the transmit thread sent (or dropped) since the last call to the counters. */
  #collectTxThread(): void {
    if (this.#txThread === null) return;
    const r = this.#txThread.takeResults();
    const stats = this.#stats;
    stats.txFrames += r.frames;
    stats.txBytes += r.bytes;
    stats.txErrors += r.errors;
    if (r.errors > 0) stats.txLastErrno = r.lastErrno;
    stats.txDropped += r.dropped;
  }

  /**
   * Copies a frame into the next staging slot (after its `virtio_net_hdr`
   * with `vnetHeader`, asking for `csumStart`/`csumOffset` completion) and
   * sends the batch when it is full. A frame outside the packet arena is not
   * staged: every frame staged before it is sent first, and false tells the
   * caller to send it at once.
   */
  #stage(
    bytes: Uint8Array,
    offset: number,
    length: number,
    csumStart: number,
    csumOffset: number,
  ): boolean {
    const head = this.#txHead;
    // With a transmit thread the slot may still be in its hands: wait for it.
    if (head - this.#txTail >= this.#txSlots) this.#txMakeRoom();
    const i = head % this.#txSlots;
    const slot = i * this.#txStride;
    const header = this.vnetHeader ? VNET_HDR_BYTES : 0;
    if (!arenaCopy(bytes, offset, this.#txStage!, slot + header, length)) {
      this.#drainTx();
      return false;
    }
    if (header > 0) writeVnetHeader(this.#txStage!, slot, csumStart, csumOffset, 0, 0);
    this.#txLengths[i] = length;
    // The iovec's length (its high word stays 0: frames are far below 4 GiB).
    this.#txMsgs32[this.#txIovWords + i * (IOVEC_BYTES >>> 2) + 2] = header + length;
    this.#txActivity = true;
    this.#txHead = head + 1;
    // A run sent in one call is contiguous: it also ends at the last slot.
    if (++this.#txPending === this.#txBatch || i === this.#txSlots - 1) this.#flushBatch();
    return true;
  }

  /**
   * Sends the pending run: to the transmit thread when it is a full batch or
   * the thread still holds earlier frames (order), else with `sendmmsg()`
   * here (a partial batch with nothing in flight leaves without a hand-off).
   */
  #flushBatch(): void {
    const count = this.#txPending;
    const first = this.#txRunStart % this.#txSlots;
    this.#txPending = 0;
    const thread = this.#txThread;
    if (thread !== null && (count === this.#txBatch || !thread.idle)) {
      this.#txSubmitStart[thread.submitted % this.#txSlots] = this.#txRunStart;
      thread.submit(first, count);
      this.#stats.txThreadSubmissions++;
      this.#txRunStart = this.#txHead;
      return;
    }
    // Nothing is in flight once this call returns: the next run starts again at slot 0, so a
    // partial batch does not shorten the next full one at the end of the slots.
    this.#txHead = 0;
    this.#txRunStart = 0;
    this.#txTail = 0;
    const stats = this.#stats;
    const lengths = this.#txLengths;
    let sent = 0;
    while (sent < count) {
      const n = libc().sendmmsg(
        this.#fd,
        BigInt(this.#txMsgsAddress + (first + sent) * MMSG_HDR_BYTES),
        count - sent,
        MSG_DONTWAIT,
      );
      if (n <= 0) {
        stats.txErrors++;
        stats.txLastErrno = n < 0 ? errno() : 0;
        break;
      }
      for (let k = first + sent; k < first + sent + n; k++) stats.txBytes += lengths[k];
      stats.txFrames += n;
      sent += n;
    }
    stats.txDropped += count - sent;
  }

  /**
   * Moves `#txTail` past the slots the transmit thread has finished with,
   * waiting for it when the staging area is full.
   */
  #txMakeRoom(): void {
    // Only a transmit thread holds slots past a flush: without one every flush sends at once
    // and the next run starts at slot 0, so a run never spans all the slots.
    const thread = this.#txThread!;
    for (;;) {
      const done = this.#txRefreshTail(thread);
      if (this.#txHead - this.#txTail < this.#txSlots) return;
      this.#stats.txThreadWaits++;
      if (!thread.waitBelow(thread.submitted - done)) {
        this.#txThreadStalled();
        return;
      }
    }
  }

  /**
   * Sets `#txTail` to the first frame of the oldest submission the thread has
   * not finished (or past every submission); returns the submissions done.
   */
  #txRefreshTail(thread: TxThread): number {
    const done = thread.done;
    this.#txTail = done === thread.submitted
      ? this.#txRunStart
      : this.#txSubmitStart[done % this.#txSlots];
    return done;
  }

  /** Sends everything staged and waits until the transmit thread has sent all it holds. */
  #drainTx(): void {
    this.flush();
    const thread = this.#txThread;
    if (thread === null) return;
    if (!thread.waitBelow(1)) this.#txThreadStalled();
    this.#txTail = this.#txRunStart;
  }

  /**
   * The thread made no progress for TX_THREAD_STALL_MS: the frames of the
   * submissions it has not finished count as dropped; send from here.
   */
  #txThreadStalled(): void {
    const thread = this.#txThread!;
    this.#collectTxThread();
    this.#txRefreshTail(thread);
    this.#txThread = null;
    this.#stats.txDropped += this.#txRunStart - this.#txTail;
    this.#stats.txErrors++;
    this.txThreadFallbackReason = "the transmit thread stopped making progress";
    thread.stop(false);
    this.#txTail = this.#txRunStart;
  }

  /** Whether a frame is ready right now (no system call in ring modes). */
  ready(): boolean {
    if (this.#closed) return false;
    if (this.mode === "socket") {
      return libc().poll(this.#pollOneFd, 1n, 0) > 0;
    }
    if (this.mode === "ring-v3" && this.#v3Left > 0) return true;
    const status = this
      .#ring32[
        (this.#slot * this.#slotBytes +
          (this.mode === "ring-v3" ? V3_BLOCK_STATUS : V2_STATUS)) >>> 2
      ];
    return (status & TP_STATUS_USER) !== 0;
  }

  /** Resolves when a frame is ready, after `timeoutMs`, or on close; never blocks. */
  async wait(timeoutMs: number): Promise<void> {
    if (this.#txPending > 0) this.#flushBatch(); // nothing staged waits out a park
    if (this.#closed || this.ready()) return;
    const start = performance.now();
    const deadline = start + Math.max(0, timeoutMs);
    const spinEnd = start + Math.min(this.#spinMs, Math.max(0, timeoutMs));
    // A clock read (an op call) costs more than a ring check: read it every few checks.
    do {
      for (let i = 0; i < READY_CHECKS_PER_CLOCK_READ; i++) if (this.ready()) return;
    } while (performance.now() < spinEnd);
    if (this.#closed || !(timeoutMs > 0)) return;
    if (this.#busyPollMs > 0) {
      if (this.#txActivity) {
        this.#txActivity = false;
        this.#lastActivityMs = start;
      }
      // Busy-poll: keep checking the ring while traffic is recent, yielding to
      // the event loop between short synchronous spins (BUSY_POLL_CHUNK_MICROS).
      const chunkMs = BUSY_POLL_CHUNK_MICROS / 1000;
      let now = performance.now();
      while (now < deadline && now - this.#lastActivityMs < this.#busyPollMs) {
        this.#stats.busyPollYields++;
        await yieldToEventLoop();
        if (this.#closed) return;
        if (this.#txActivity) {
          this.#txActivity = false;
          this.#lastActivityMs = now;
        }
        const chunkEnd = performance.now() + chunkMs;
        do {
          // A clock read (an op call) costs more than a ring check: read it every few checks.
          for (let i = 0; i < READY_CHECKS_PER_CLOCK_READ; i++) if (this.ready()) return;
          now = performance.now();
        } while (now < chunkEnd);
      }
    }
    const remaining = deadline - performance.now();
    if (remaining <= 0) return;
    const pollTimeout = remaining === Infinity ? -1 : Math.min(0x7fffffff, Math.ceil(remaining));
    this.#parked++;
    this.#stats.parks++;
    try {
      await libc().pollNonblocking(this.#pollFds, 2n, pollTimeout);
    } finally {
      this.#parked--;
      if (this.#closed) this.#release();
    }
  }

  /** Releases everything; pending waits resolve. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#drainTx();
    if (this.#txThread !== null) {
      this.#txThread.stop(false);
      this.#collectTxThread();
      this.#txThread = null;
    }
    this.#refreshKernelStats();
    this.#closed = true;
    // Wake parked poll()s; the fds and the ring are released once none is in flight.
    libc().write(this.#eventFd, this.#eventValue, 8n);
    this.#release();
  }

  #release(): void {
    if (this.#released || this.#receiving || this.#parked > 0) return;
    this.#released = true;
    const c = libc();
    if (this.#ringRegion !== null && this.#ringArena !== null) {
      // Arena placement: the views cannot be detached (they share the arena's
      // buffer); drop them, then put zero pages back before the region is reused.
      this.#ring8 = new Uint8Array(0);
      this.#ring16 = new Uint16Array(0);
      this.#ring32 = new Uint32Array(0);
      if (!returnArenaRegion(this.#ringArena, this.#ringRegion)) {
        this.#stats.ringArenaRestoreFailures++;
      }
      this.#ringRegion = null;
      this.#ringArena = null;
    }
    if (this.#ringPointer !== null && this.#ringBuffer !== null) {
      // Detach the live view first: a stale Uint8Array then reads undefined instead of faulting.
      this.#ringBuffer.transfer(0);
      this.#ringBuffer = null;
      c.munmap(this.#ringPointer, BigInt(this.#ringBytesLength));
      this.#ringPointer = null;
    }
    if (this.#txStage !== null) {
      packetArena().freeView(this.#txStage);
      this.#txStage = null;
    }
    c.close(this.#eventFd);
    c.close(this.#fd);
  }
}
