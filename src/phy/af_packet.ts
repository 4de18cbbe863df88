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
 *   ≈107 µs; costs a core while traffic flows). A spin descheduled by the
 *   kernel (another task wants the CPU) parks instead and pauses busy-polling
 *   for a while (`busyPollPreemptions`, src/phy/park.ts).
 * - `vnetHeader` (on by default where the kernel accepts it): PACKET_VNET_HDR.
 *   Received frames publish checksum and GSO metadata in
 *   {@link AfPacketDevice.rxInfo} (super-frames up to 64 KiB when the ring
 *   slots are sized for them); {@link AfPacketDevice.transmitOffload} sends
 *   64 KiB TCP segments for the kernel to segment and checksum — one system
 *   call per 64 KiB even where the interface has no TSO (veth with TSO off,
 *   NICs without it): the kernel's software GSO cuts them.
 * - `kernelGro` (on by default with `vnetHeader`): the interface's GRO is
 *   turned on at open and restored at close — shared by the process's
 *   devices on the interface, restored when the last of them closes —, so
 *   the kernel coalesces received TCP segments into super-frames before
 *   rawstack sees them (issue 22). Its ring: 256 slots of 128 KiB, 32 MiB
 *   per device (`frameCount`, `stats.ringBytes`).
 * - `netns`: the socket of an AF_PACKET device belongs to the network
 *   namespace of the thread that creates it; with this option `open()`
 *   briefly `setns()`es the JavaScript thread into the named namespace
 *   (`/run/netns/<name>`, as made by `ip netns add`), creates the socket, and
 *   switches back. All later calls act in the socket's namespace.
 *
 * Permissions: `--allow-ffi`, and root or
 * CAP_NET_RAW (CAP_SYS_ADMIN too for `netns`).
 *
 * Modules (src/phy/af_packet/): `socket.ts` opens the socket and sets up and
 * gives back the ring; `receive.ts` reads the ring (V2, V3) or the socket
 * and fills {@link AfPacketDevice.rxInfo}; `transmit.ts` sends single
 * frames and counts send results; `tx_batch.ts` stages frames for
 * `sendmmsg()` and hands batches to the transmit thread (tx_thread.ts);
 * `../park.ts` (shared with the TAP/TUN driver) is `wait()`; `layout.ts` names the kernel structures' sizes and
 * offsets. This file is the device that ties them together, and its options.
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
  newDeviceStats,
  newRxFrameInfo,
  type RxFrameInfo,
} from "./device.ts";
import {
  closePacketSocket,
  KernelStats,
  MAX_GSO_FRAME_BYTES,
  openPacketSocket,
  type PacketSocket,
  releaseRing,
  ringFrameBytes,
} from "./af_packet/socket.ts";
import {
  type Receiver,
  RingV2Receiver,
  RingV3Receiver,
  RxFrameMeta,
  SocketReceiver,
} from "./af_packet/receive.ts";
import { Transmitter } from "./af_packet/transmit.ts";
import {
  STAGE_DROPPED,
  STAGED,
  TX_RETRY_MS,
  TX_THREAD_SUPER_SLOTS,
  TxBatch,
} from "./af_packet/tx_batch.ts";
import type { Arena } from "../buffer/arena.ts";
import { Parker } from "./park.ts";
import { MAX_GSO_SIZE, pollSet } from "./af_packet/layout.ts";
import { CHECKSUM_FIELD_BYTES } from "../wire/checksum.ts";

export {
  MAX_BIG_TCP_FRAME_BYTES,
  RING_IN_ARENA_DEFAULT,
  RING_IN_ARENA_ENV,
} from "./af_packet/socket.ts";
export { BUSY_POLL_CHUNK_MICROS } from "./park.ts";
export { TX_THREAD_SUPER_SLOTS } from "./af_packet/tx_batch.ts";

/** How the device receives frames. */
export type AfPacketMode = "ring-v3" | "ring-v2" | "socket";

/**
 * Where the RX ring lives: `"arena"` (mapped over a page region of the
 * packet arena, see {@link AfPacketOptions.ringInArena}), `"mmap"` (an
 * ordinary mapping of its own) or `"none"` (socket mode).
 */
export type AfPacketRingPlacement = "arena" | "mmap" | "none";

/** Options of {@link AfPacketDevice.open}. */
export interface AfPacketOptions {
  /** Receive path; default `"ring-v2"` (latency); `"ring-v3"` for throughput. */
  mode?: AfPacketMode;
  /** TPACKET_V3 block retire timeout in ms (latency bound at low rates); default 1. */
  blockTimeoutMs?: number;
  /**
   * Ring capacity in frames (≥ 64; larger than the kernel will map fails
   * `open()` with a `system` error). Default 4096 MTU-sized slots (2 KiB:
   * 8 MiB of ring per device), or 256 super-frame slots of 128 KiB — 32 MiB
   * per device — when the slots take super-frames (`vnetHeader: true`,
   * `kernelGro` on, or the interface's GRO found on). With `kernelGro`,
   * `frameCount: 64` is the smallest ring, 8 MiB (about 4 MiB of TCP data in
   * flight as 64 KiB super-frames); the memory is in `stats.ringBytes`.
   */
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
   * Set PACKET_QDISC_BYPASS on transmit; default true without
   * `vnetHeader`, false with it (the default): the bypass path (dev_direct_xmit) drops a GSO super-frame
   * the interface cannot take whole (TSO off) instead of segmenting it
   * (send() fails with ENOBUFS); through the qdisc the kernel segments it.
   */
  qdiscBypass?: boolean;
  /** Network namespace (name under /run/netns) the interface lives in; default: the current one. */
  netns?: string;
  /** Socket send/receive buffer sizes in bytes; default 4 MiB (capped by the kernel's *mem_max). */
  socketBufferBytes?: number;
  /**
   * PACKET_VNET_HDR: every frame carries a `virtio_net_hdr`. On receive the
   * device strips it and publishes its checksum and GSO metadata in
   * {@link AfPacketDevice.rxInfo}; on transmit {@link AfPacketDevice.transmitOffload}
   * hands the kernel up to 64 KiB TCP segments to segment (GSO TCPv4) and
   * checksums to fill in. Capabilities then report checksumOffloadRx/Tx and gso.
   *
   * Default (absent): on where the kernel accepts it — any interface, veth
   * ends and NICs without hardware TSO too, since the kernel segments in
   * software with one system call per 64 KiB — and off with the reason in
   * {@link AfPacketDevice.vnetFallbackReason} and `stats.vnetFallbacks` where
   * it refuses; ring slots stay MTU-sized unless `kernelGro` turns the
   * interface's GRO on (or `rxMaxFrameBytes` asks for more). `true`: a refusal is an error, and the
   * ring takes super-frames up to 14 + 65535 bytes (128 KiB slots; the default
   * `frameCount` drops to 256) unless `rxMaxFrameBytes` says otherwise.
   * `false`: plain frames.
   */
  vnetHeader?: boolean;
  /**
   * Let the kernel do GRO for us (issue 22; default on with PACKET_VNET_HDR):
   * at open the interface's generic receive offload is turned on
   * (`ioctl(SIOCETHTOOL, ETHTOOL_SGRO)`, as `ethtool -K <if> gro on`) unless
   * it already is, and turned off again at close if it was off. The kernel
   * then coalesces in-order TCP segments into super-frames of up to 64 KiB
   * before the packet socket sees them (on veth GRO is off by default, and
   * turning it on enables veth's NAPI): one TCP input and one ACK per
   * super-frame instead of per 1514-byte frame, as a kernel receiver with GRO
   * on. The ring slots then take super-frames (as with `vnetHeader: true`).
   * Where it cannot be on — no PACKET_VNET_HDR, `rxMaxFrameBytes` too small,
   * the ioctl refused (no CAP_NET_ADMIN, a driver without GRO) — the reason is
   * in {@link AfPacketDevice.kernelGroFallbackReason} and
   * `stats.kernelGroFallbacks`. `false`: the interface's GRO is left as it
   * is (only read: found on, the slots of a `vnetHeader` ring still take
   * super-frames).
   *
   * Several devices of this process on one interface (same network namespace
   * and ifindex) share it: GRO goes back off only when the last of them that
   * held it closes, and only if one of them turned it on (never when the
   * admin or another program had it on). A device opened with `kernelGro:
   * false`, or without PACKET_VNET_HDR, before another device turns GRO on
   * keeps MTU-sized ring slots: super-frames then arrive truncated and are counted
   * in `rxTruncated` and dropped (without the header they would lack their
   * GSO metadata anyway); open such devices after, or give `rxMaxFrameBytes:
   * 65549` with the header. Other processes are not coordinated with.
   * A refused restore at close is counted in `stats.kernelGroRestoreFailures`.
   */
  kernelGro?: boolean;
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
   * (default MTU + 14 when the header is on by default and `kernelGro` is
   * off or refused; 14 + 65535, for receive-offloaded super-frames, with
   * `vnetHeader: true` or the interface's GRO on). Below 14 + 65535 it keeps
   * `kernelGro` from turning GRO on. A peer that
   * sends no super-frames (TSO/GSO off) needs only MTU + 14: slots of 2 KiB
   * instead of 128 KiB keep the ring dense (fewer pages touched per frame).
   * Larger frames are truncated and counted (`rxTruncated`) and dropped.
   *
   * Up to {@link MAX_BIG_TCP_FRAME_BYTES} (14 + 8 × 65535) with the vnet
   * header, for a Linux BIG TCP sender on the link (its `gso_max_size` /
   * `gso_ipv4_max_size` above 64 KiB: its TSO frames reach the packet socket
   * whole; measured on 6.18 over veth, IPv6 with the RFC 2675 Hop-by-Hop
   * Jumbo Payload option, IPv4 with Total Length 0; the IP layers take them
   * as such only from frames the header marks GSO). Such a sender's frames
   * larger than the slots are truncated, dropped and sent again just as
   * large: the connection stalls, so size this to the sender's
   * `gso_max_size` + 14. (A receiving interface's `gro_max_size` above 64 KiB
   * made no GRO frame above 64 KiB on veth with 6.18, so `kernelGro` does not
   * raise it.) The default `frameCount` then keeps the ring within 32 MiB
   * (e.g. 128 slots of 256 KiB for frames up to ≈ 255 KiB).
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
   * in batches of 32 against ≈1.0–1.3 µs with one `send()` each. Frames
   * the kernel refuses at flush time because a queue is full (EAGAIN,
   * ENOBUFS) stay staged and go first at the next flush (`txDeferred`;
   * {@link AfPacketDevice.txRetryDelayMs} asks the loop to come back soon);
   * a new frame finding the staging area full of them is dropped
   * (`txQueueFullDrops`). Any other refusal is counted in `txDropped`.
   */
  txBatch?: number;
  /**
   * Hand transmit batches to a transmit thread (a `Worker` calling
   * `sendmmsg()`, see `tx_thread.ts`) so the kernel's per-frame work runs on
   * another core while this thread builds the next batch (default false).
   * Needs `txBatch` > 1 and the packet arena; the staging area grows to
   * {@link TX_THREAD_BATCHES} batches, and with `vnetHeader` GSO
   * super-frames go to the thread too, in order with the staged frames:
   * copied with their `virtio_net_hdr` into `TX_THREAD_SUPER_SLOTS` (16)
   * slots of their own (≈1 MiB of the arena), so the kernel's segmentation
   * and, on veth, the peer's receive path run on the thread's core. A
   * partial batch flushed while the thread has nothing in hand is sent from
   * this thread (no hand-off latency for request/response). Transmit
   * counters then include the thread's frames when `stats` is read. When the
   * thread cannot start the device sends from this thread and says why in
   * {@link AfPacketDevice.txThreadFallbackReason}. The thread keeps a run
   * the kernel refuses with EAGAIN/ENOBUFS and tries it again every
   * {@link TX_RETRY_MS} before anything after it (`txDeferred`); while it
   * holds one and every slot a new frame needs is in its hands, that frame
   * is dropped (`txQueueFullDrops`) rather than waited for; `close()` gives
   * what it still holds refused a grace of `TX_THREAD_CLOSE_GRACE_MS` (20 ms)
   * of retries, then drops it (counted).
   *
   * Measured on veth (2 vCPUs): a loop of 1472-byte `UdpConn.send()` rose
   * from ≈0.65 to ≈0.9–1.0 of a bare one-`send()`-per-frame loop; bulk TCP
   * without GSO to a kernel receiver fell (≈3.4 against ≈4.0 Gbit/s): the
   * thread then shares a core with the kernel's receive path and the
   * receiving application. Bulk TCP with GSO through a router with 1–2 %
   * random loss (bench/loss_ab.ts, 4 runs of 5, median ratios to the
   * kernel's CUBIC sender beside it, default → txThread): 2 %: 0.58→0.73,
   * 0.61→0.82, 0.57→0.77, 0.66→0.35; 1 %: 0.46→0.25, 0.48→0.66,
   * 0.39→0.48, 0.50→0.22; lossless: 0.90→0.96, 0.91→0.82, 0.90→0.98,
   * 0.97→0.48. CPU per GB delivered ≈0.7–1.0→1.5–1.8 s lossless,
   * ≈1.3–2.4→2.5–6 s under loss. Not
   * the default: it is bimodal — samples fall to ≈0.5–2 Gbit/s far more often
   * than the default's (whole runs of them, lossless too). In those the process uses less than a core (the
   * stack's thread ≈50 %, the worker ≈30 %) and parks 4–6× as often: under
   * loss the window is small and the flow ACK-clocked, and each round now
   * waits for two wake-ups (the worker's futex, then the stack's `poll()`)
   * where a synchronous `sendmsg()` on veth returns with the far end's ACK
   * already in the ring. A longer worker spin (1 ms) or `busyPollMs` did not
   * remove them. In the fast samples the stack's thread is at ≈100 % of a
   * core and the worker at ≈55 %. Costs a Worker (its own V8 isolate) per device.
   */
  txThread?: boolean;
  /**
   * With `txThread` and `vnetHeader`: GSO super-frame slots the transmit
   * thread carries (default {@link TX_THREAD_SUPER_SLOTS}; each ≈64 KiB of the
   * packet arena). They bound how far the stack runs ahead of the kernel's
   * work — the in-host queue a TCP flow's round trip sees, as Linux's TCP
   * Small Queues bounds it. 0: super-frames leave from this thread (after
   * everything the thread holds).
   */
  txThreadSuperSlots?: number;
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
  /**
   * send() failures that dropped frames (ENETDOWN, EMSGSIZE…; EAGAIN and
   * ENOBUFS too for a frame sent on its own, not staged; counted in txDropped too).
   */
  txErrors: number;
  /** errno of the last send() failure, or of the last refusal that deferred frames. */
  txLastErrno: number;
  /**
   * Staged frames the kernel refused for now (EAGAIN: the socket's send
   * buffer is full; ENOBUFS: a qdisc or the veth peer's backlog is full),
   * kept in order for a retry at the next flush instead of dropped; a frame
   * refused twice counts twice. Not counted in txErrors or txDropped.
   */
  txDeferred: number;
  /**
   * Frames dropped because refused frames wait in the staging area: it was
   * full of them, or the frame could not be staged (outside the packet
   * arena, a GSO super-frame) and would have overtaken them. The transmit
   * side's back-pressure point (counted in txDropped too).
   */
  txQueueFullDrops: number;
  /** wait() calls that parked in poll(). */
  parks: number;
  /** Event-loop yields (`setImmediate`) made while busy-polling. */
  busyPollYields: number;
  /** Busy-polls cut short by a preemption (see `ParkStats.busyPollPreemptions`). */
  busyPollPreemptions: number;
  /** Frames that arrived with a CHECKSUM_PARTIAL (not yet filled in) layer-4 checksum. */
  rxChecksumPartial: number;
  /** Frames whose checksum the kernel marked verified (DATA_VALID / TP_STATUS_CSUM_VALID). */
  rxChecksumValid: number;
  /** Partial checksums the driver filled in (see `completeRxChecksums`). */
  rxChecksumsCompleted: number;
  /** Received super-frames (gso_size > 0, vnetHeader only). */
  rxSuperFrames: number;
  /**
   * Of {@link rxSuperFrames}: longer than 14 + 65535 bytes — Linux BIG TCP
   * frames (IPv4 Total Length 0, IPv6 jumbograms) a ring sized by
   * `rxMaxFrameBytes` took whole.
   */
  rxBigSuperFrames: number;
  /** Frames sent with a GSO request (`transmitOffload` with gsoSize > 0). */
  txSuperFrames: number;
  /** Of {@link txSuperFrames}: TCP over IPv6 (gso_type GSO_TCPV6). */
  txSuperFrames6: number;
  /** Of {@link txSuperFrames}: carrying CWR, sent with GSO_ECN (RFC 3168 §6.1.2). */
  txSuperFramesEcn: number;
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
  /**
   * 1 when PACKET_VNET_HDR, on by default, was refused by the kernel and the
   * device runs without offloads (see {@link AfPacketDevice.vnetFallbackReason}).
   */
  vnetFallbacks: number;
  /**
   * 1 while the interface's GRO is on for this device's receive (option
   * `kernelGro`: turned on at open, or found on); 0 otherwise.
   */
  kernelGro: number;
  /**
   * 1 when `kernelGro`, on by default, could not turn the interface's GRO on
   * (see {@link AfPacketDevice.kernelGroFallbackReason}).
   */
  kernelGroFallbacks: number;
  /**
   * 1 when close() should have turned the interface's GRO off again (this
   * device was the last of the process holding it on, and one of them had
   * turned it on) and the kernel refused; GRO then stays on.
   */
  kernelGroRestoreFailures: number;
  /** Ring modes: bytes per ring slot (TPACKET_V2 frame, TPACKET_V3 block); 0 in socket mode. */
  ringSlotBytes: number;
  /** Ring modes: bytes of the whole RX ring (slot bytes × slots); 0 in socket mode. */
  ringBytes: number;
}
/** Default {@link AfPacketOptions.spinMicros}. */
const DEFAULT_SPIN_MICROS = 50;

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
  /** Where the RX ring lives (see {@link AfPacketOptions.ringInArena}). */
  ringPlacement: AfPacketRingPlacement = "none";
  /** Why the ring is not in the arena although asked to be (null when it is, or was not asked). */
  ringArenaFallbackReason: string | null = null;
  /**
   * Why the device runs without PACKET_VNET_HDR although it is on by default
   * (null when on, or when the caller passed `vnetHeader: false`).
   */
  readonly vnetFallbackReason: string | null;
  /**
   * Why the interface's GRO is not on although option `kernelGro` is on by
   * default (null when on, or when the caller passed `kernelGro: false`).
   */
  readonly kernelGroFallbackReason: string | null;

  #stats: AfPacketStats = {
    ...newDeviceStats(),
    ringDrops: 0,
    kernelFrames: 0,
    rxOutgoingFiltered: 0,
    rxTruncated: 0,
    txTooLarge: 0,
    txErrors: 0,
    txLastErrno: 0,
    txDeferred: 0,
    txQueueFullDrops: 0,
    parks: 0,
    busyPollYields: 0,
    busyPollPreemptions: 0,
    rxChecksumPartial: 0,
    rxChecksumValid: 0,
    rxChecksumsCompleted: 0,
    rxSuperFrames: 0,
    rxBigSuperFrames: 0,
    txSuperFrames: 0,
    txSuperFrames6: 0,
    txSuperFramesEcn: 0,
    ringInArena: 0,
    ringArenaFallbacks: 0,
    ringArenaRestoreFailures: 0,
    txThreadSubmissions: 0,
    txThreadWaits: 0,
    vnetFallbacks: 0,
    kernelGro: 0,
    kernelGroFallbacks: 0,
    kernelGroRestoreFailures: 0,
    ringSlotBytes: 0,
    ringBytes: 0,
  };
  readonly #socket: PacketSocket;
  readonly #kernelStats: KernelStats;
  readonly #maxFrame: number;
  readonly #rxMeta: RxFrameMeta;
  readonly #rx: Receiver;
  readonly #tx: Transmitter;
  /** Batched transmit (option `txBatch`); null when off, and once released. */
  #txBatch: TxBatch | null = null;
  /** Why there is no transmit thread, when that is not the batch's to say. */
  #txThreadFallbackReason: string | null = null;
  readonly #park: Parker;
  #closed = false;
  #released = false;
  #receiving = false;

  private constructor(
    ifname: string,
    socket: PacketSocket,
    mode: AfPacketMode,
    opts: AfPacketOptions,
  ) {
    const vnet = socket.vnetHeader;
    const stats = this.#stats;
    this.#socket = socket;
    this.vnetHeader = vnet;
    this.mode = mode;
    this.ifindex = socket.ifindex;
    this.capabilities = {
      name: ifname,
      mtu: socket.mtu,
      mac: socket.mac,
      headroom: 0,
      checksumOffloadRx: vnet,
      checksumOffloadTx: vnet,
      gso: vnet,
      maxSegmentBytes: vnet ? MAX_GSO_FRAME_BYTES : socket.mtu + ETHERNET_HEADER_BYTES,
    };
    this.#maxFrame = socket.mtu + ETHERNET_HEADER_BYTES;
    this.#kernelStats = new KernelStats(socket.fd);
    this.#rxMeta = new RxFrameMeta(this.rxInfo, vnet, opts.completeRxChecksums ?? true, stats);
    const ring = socket.ring;
    if (ring === null) {
      this.#rx = new SocketReceiver(
        socket.fd,
        vnet,
        pollSet(socket.fd),
        this.#rxMeta,
        stats,
        ringFrameBytes(vnet, socket.mtu, true, opts.rxMaxFrameBytes),
      );
    } else {
      this.#rx = mode === "ring-v3"
        ? new RingV3Receiver(ring, this.#rxMeta, stats, this.#kernelStats)
        : new RingV2Receiver(ring, this.#rxMeta, stats, this.#kernelStats);
      this.ringPlacement = ring.placement;
      stats.ringSlotBytes = ring.slotBytes;
      stats.ringBytes = ring.length;
      stats.ringInArena = ring.placement === "arena" ? 1 : 0;
    }
    this.ringArenaFallbackReason = socket.arenaFallbackReason;
    this.vnetFallbackReason = socket.vnetFallbackReason;
    stats.vnetFallbacks = socket.vnetFallbackReason === null ? 0 : 1;
    this.kernelGroFallbackReason = socket.kernelGroFallbackReason;
    stats.kernelGro = socket.kernelGro ? 1 : 0;
    stats.kernelGroFallbacks = socket.kernelGroFallbackReason === null ? 0 : 1;
    stats.ringArenaFallbacks = socket.arenaFallbackReason === null ? 0 : 1;
    this.#tx = new Transmitter(socket.fd, vnet, stats);
    this.#park = new Parker(
      this,
      () => {
        if (this.#closed) this.#release();
      },
      socket.fd,
      socket.eventFd,
      Math.max(0, opts.spinMicros ?? DEFAULT_SPIN_MICROS),
      Math.max(0, opts.busyPollMs ?? 0),
      stats,
    );
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
    const mode = opts.mode ?? "ring-v2";
    if (mode !== "ring-v3" && mode !== "ring-v2" && mode !== "socket") {
      throw new DeviceError("system", `unknown AF_PACKET mode "${mode}"`);
    }
    const socket = openPacketSocket(ifname, mode, opts);
    let dev: AfPacketDevice | null = null;
    try {
      dev = new AfPacketDevice(ifname, socket, mode, opts);
      const txBatch = opts.txBatch ?? DEFAULT_TX_BATCH;
      if (!Number.isInteger(txBatch) || txBatch < 0 || txBatch > MAX_TX_BATCH) {
        throw new DeviceError(
          "system",
          `txBatch must be an integer 0..${MAX_TX_BATCH}, got ${txBatch}`,
        );
      }
      const txThread = opts.txThread ?? false;
      const superSlots = opts.txThreadSuperSlots ?? TX_THREAD_SUPER_SLOTS;
      if (!Number.isInteger(superSlots) || superSlots < 0 || superSlots > MAX_TX_BATCH) {
        throw new DeviceError(
          "system",
          `txThreadSuperSlots must be an integer 0..${MAX_TX_BATCH}, got ${superSlots}`,
        );
      }
      if (txBatch > 1) {
        dev.#txBatch = TxBatch.create(
          socket.fd,
          txBatch,
          txThread ? TX_THREAD_BATCHES : 1,
          socket.vnetHeader,
          dev.#maxFrame,
          dev.#stats,
          txThread ? superSlots : 0,
        );
      }
      if (txThread) {
        if (dev.#txBatch === null) {
          dev.#txThreadFallbackReason = "no transmit batching (txBatch < 2 or no packet arena)";
        } else {
          await dev.#txBatch.startThread();
        }
      }
      return dev;
    } catch (e) {
      if (dev !== null) dev.#txBatch?.release();
      if (socket.ring !== null) releaseRing(socket.ring);
      closePacketSocket(socket);
      throw e;
    }
  }

  /** Counters; ring drop counters are refreshed from the kernel on each read. */
  get stats(): AfPacketStats {
    this.#refreshKernelStats();
    this.#txBatch?.collectThread();
    return this.#stats;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Fill in partial checksums in place before delivery (option
   * `completeRxChecksums`; a consumer that reads {@link rxInfo} turns it off).
   */
  get completeRxChecksums(): boolean {
    return this.#rxMeta.complete;
  }

  set completeRxChecksums(value: boolean) {
    this.#rxMeta.complete = value;
  }

  /** Why there is no transmit thread although `txThread` asked for one (null otherwise). */
  get txThreadFallbackReason(): string | null {
    return this.#txBatch?.threadFallbackReason ?? this.#txThreadFallbackReason;
  }

  #refreshKernelStats(): void {
    if (!this.#closed) this.#kernelStats.refresh(this.#stats);
  }

  /** Delivers up to `budget` ready frames to `sink`; returns how many. */
  receive(sink: FrameSink, budget: number): number {
    if (this.#closed) return 0;
    this.#receiving = true;
    try {
      const n = this.#rx.receive(sink, budget);
      if (n > 0) this.#park.received();
      return n;
    } finally {
      this.#receiving = false;
      if (this.#closed) this.#release();
    }
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
    if (length > this.#maxFrame) return this.#tooLarge();
    if (this.vnetHeader) return this.#sendVnet(bytes, offset, length, 0, 0, 0);
    const batch = this.#txBatch;
    if (batch !== null) {
      const staged = batch.stage(bytes, offset, length, 0, 0);
      if (staged === STAGE_DROPPED) return false;
      if (staged === STAGED) {
        this.#park.txActivity = true;
        return true;
      }
    }
    if (!this.#tx.send(bytes, offset, length)) return false;
    this.#park.txActivity = true;
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
    if (
      !this.vnetHeader || this.#closed || !(offset >= 0) || !(length > 0) ||
      offset + length > bytes.length || !(csumStart >= 0) || !(csumOffset >= 0) ||
      !(gsoSize >= 0) || gsoSize > MAX_GSO_SIZE ||
      csumStart + csumOffset + CHECKSUM_FIELD_BYTES > length
    ) {
      this.#stats.txDropped++;
      return false;
    }
    return this.#sendVnet(bytes, offset, length, csumStart, csumOffset, gsoSize);
  }

  /** A frame behind a virtio_net_hdr: staged when it can be, else sent at once. */
  #sendVnet(
    bytes: Uint8Array,
    offset: number,
    length: number,
    csumStart: number,
    csumOffset: number,
    gsoSize: number,
  ): boolean {
    if (length > (gsoSize > 0 ? MAX_GSO_FRAME_BYTES : this.#maxFrame)) return this.#tooLarge();
    const batch = this.#txBatch;
    if (batch !== null) {
      if (gsoSize === 0) {
        const staged = batch.stage(bytes, offset, length, csumStart, csumOffset);
        if (staged === STAGE_DROPPED) return false;
        if (staged === STAGED) {
          this.#park.txActivity = true;
          return true;
        }
      } else {
        // To the transmit thread after everything staged, or sent from here after it.
        const staged = batch.stageSuper(bytes, offset, length, csumStart, csumOffset, gsoSize);
        if (staged === STAGE_DROPPED) return false;
        if (staged === STAGED) {
          this.#park.txActivity = true;
          return true;
        }
      }
    }
    if (!this.#tx.sendVnet(bytes, offset, length, csumStart, csumOffset, gsoSize)) return false;
    this.#park.txActivity = true;
    return true;
  }

  /** Counts a frame refused for its size. */
  #tooLarge(): false {
    this.#stats.txTooLarge++;
    this.#stats.txDropped++;
    return false;
  }

  /** Ends a transmit batch: the staged frames go to the kernel (or to the transmit thread). */
  flush(): void {
    this.#txBatch?.flush();
  }

  /** Whether transmit batching is on (option `txBatch`, and the packet arena could stage frames). */
  get txBatching(): boolean {
    return this.#txBatch !== null;
  }

  /**
   * Frames staged for the next `sendmmsg()` (right after {@link flush}: the
   * frames the kernel refused for now, waiting for a retry).
   */
  get txPending(): number {
    return this.#txBatch === null ? 0 : this.#txBatch.pending;
  }

  /**
   * How soon (ms) the device wants {@link flush} called again: {@link TX_RETRY_MS}
   * while frames the kernel refused because a queue was full wait to be retried,
   * else Infinity. A stack's loop parks no longer than this.
   */
  get txRetryDelayMs(): number {
    const batch = this.#txBatch;
    return batch === null || !batch.refused ? Infinity : TX_RETRY_MS;
  }

  /** Whether a transmit thread sends the full batches (option `txThread`). */
  get txThreaded(): boolean {
    return this.#txBatch !== null && this.#txBatch.threaded;
  }

  /** Whether a frame is ready right now (no system call in ring modes). */
  ready(): boolean {
    if (this.#closed) return false;
    return this.#rx.ready();
  }

  /** Resolves when a frame is ready, after `timeoutMs`, or on close; never blocks. */
  async wait(timeoutMs: number): Promise<void> {
    this.#txBatch?.flush(); // nothing staged waits out a park
    if (this.#closed || this.ready()) return;
    // Refused frames wait: come back in time to retry them.
    await this.#park.wait(Math.min(timeoutMs, this.txRetryDelayMs));
  }

  /** Releases everything; pending waits resolve. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#txBatch?.close();
    this.#refreshKernelStats();
    this.#closed = true;
    this.#rx.closed = true;
    // Wake parked poll()s; the fds and the ring are released once none is in flight.
    this.#park.wake();
    this.#release();
  }

  #release(): void {
    if (this.#released || this.#receiving || this.#park.parked > 0) return;
    this.#released = true;
    const ring = this.#socket.ring;
    if (ring !== null) {
      // Views over an arena ring cannot be detached (they share the arena's buffer): drop them
      // before zero pages go back over the region.
      this.#rx.detach();
      if (!releaseRing(ring)) this.#stats.ringArenaRestoreFailures++;
    }
    const batch = this.#txBatch;
    if (batch !== null) {
      batch.release();
      this.#txThreadFallbackReason = batch.threadFallbackReason;
      this.#txBatch = null;
    }
    if (!closePacketSocket(this.#socket)) this.#stats.kernelGroRestoreFailures++;
    this.#stats.kernelGro = 0;
  }
}
