/**
 * The link-layer device abstraction every driver implements (DESIGN.md rule 3):
 * batch receive into a {@link FrameSink}, per-frame transmit ended by
 * `flush()`, capabilities (MTU, MAC, headroom, offloads), a readiness `wait()`
 * that never blocks the event loop, and counters.
 *
 * Drivers: `AfPacketDevice` (af_packet.ts), `MemoryLink` / `MemoryHub`
 * (memory_link.ts); middleware: `FaultInjector` (fault_injector.ts),
 * `CaptureDevice` (capture.ts), both built on `ForwardingDevice`
 * (forwarding_device.ts), which forwards every member of {@link Device}.
 *
 * @module
 */

import { ETHERNET_HEADER_LEN } from "../wire/ethernet.ts";

/** Length of an Ethernet II header (destination, source, EtherType): src/wire's {@link ETHERNET_HEADER_LEN}. */
export const ETHERNET_HEADER_BYTES: typeof ETHERNET_HEADER_LEN = ETHERNET_HEADER_LEN;

/** Default Ethernet MTU (payload bytes after the 14-byte header). */
export const DEFAULT_MTU = 1500;

/** What a device can do and what it is. Addresses are plain numbers (MAC = 48-bit value). */
export interface DeviceCapabilities {
  /** Interface name, e.g. `"veth0"` or `"mem0"`. */
  name: string;
  /** Largest Ethernet payload in bytes (a frame may be `mtu + 14` bytes long). */
  mtu: number;
  /** Hardware address as a 48-bit number (see `readMac` in src/wire/address.ts). */
  mac: number;
  /** Bytes a transmitter should keep free in front of the Ethernet header (0 = none needed). */
  headroom: number;
  /** Received frames arrive with checksums already verified. */
  checksumOffloadRx: boolean;
  /** The device fills transmit checksums itself. */
  checksumOffloadTx: boolean;
  /** The device accepts super-frames larger than the MTU and segments them. */
  gso: boolean;
  /**
   * Largest frame (Ethernet header included) the device transmits; with
   * `gso` up to 14 + 65535 bytes. Absent: `mtu + 14`.
   */
  maxSegmentBytes?: number;
  /**
   * What a frame is: `"ethernet"` (absent: the default) or `"ip"`, a bare
   * IPv4 or IPv6 packet with no link header and no link addresses (a TUN device);
   * `mtu` is then the largest IP packet, `mac` is 0, and the interface above
   * sends no ARP and resolves no next hop.
   */
  link?: "ethernet" | "ip";
}

/** {@link RxFrameInfo.checksum}: nothing known, verify the checksums in software. */
export const RX_CHECKSUM_UNKNOWN = 0;
/**
 * {@link RxFrameInfo.checksum}: the layer-4 checksum is known to be correct
 * (virtio_net_hdr DATA_VALID or TP_STATUS_CSUM_VALID: verified by a NIC or
 * the kernel; or completed in place by the driver).
 */
export const RX_CHECKSUM_VALID = 1;
/**
 * {@link RxFrameInfo.checksum}: the frame was sent by a stack on this machine
 * with checksum offload (Linux CHECKSUM_PARTIAL; virtio_net_hdr NEEDS_CSUM or
 * TP_STATUS_CSUMNOTREADY). The data is intact (it never crossed a wire); the
 * checksum field at `csumStart + csumOffset` holds only the folded
 * pseudo-header sum. Do not verify it: accept the segment.
 */
export const RX_CHECKSUM_PARTIAL = 2;

/** virtio_net_hdr gso_type: not a super-frame. */
export const GSO_NONE = 0;
/** virtio_net_hdr gso_type: TCP over IPv4 super-frame (TSO/GSO). */
export const GSO_TCPV4 = 1;
/** virtio_net_hdr gso_type: UDP fragmentation offload (legacy). */
export const GSO_UDP = 3;
/** virtio_net_hdr gso_type: TCP over IPv6 super-frame. */
export const GSO_TCPV6 = 4;
/** virtio_net_hdr gso_type: UDP segmentation (UDP_SEGMENT). */
export const GSO_UDP_L4 = 5;
/** virtio_net_hdr gso_type flag: the TCP super-frame carries ECN CWR. */
export const GSO_ECN = 0x80;

/**
 * Offload metadata of the frame being delivered to {@link FrameSink.onFrame}
 * (read it during the call: the driver rewrites the same object for every
 * frame). Offered by drivers that know it (`AfPacketDevice`, `MemoryDevice`;
 * see {@link Device.rxInfo}); `CaptureDevice` and `FaultInjector` forward it
 * (the injector reports {@link RX_CHECKSUM_UNKNOWN} when it may corrupt frames).
 */
export interface RxFrameInfo {
  /** {@link RX_CHECKSUM_UNKNOWN}, {@link RX_CHECKSUM_VALID} or {@link RX_CHECKSUM_PARTIAL}. */
  checksum: number;
  /** PARTIAL: frame offset where checksumming starts (the layer-4 header); else 0. */
  csumStart: number;
  /** PARTIAL: offset of the checksum field from `csumStart` (TCP 16, UDP 6); else 0. */
  csumOffset: number;
  /** `GSO_*` type of a super-frame (low 7 bits; {@link GSO_ECN} may be or-ed in), 0 = ordinary. */
  gsoType: number;
  /** Super-frame: the MSS its sender segments it into (0 = ordinary frame). */
  gsoSize: number;
  /** Super-frame: length of the headers (Ethernet + IP + TCP) as reported; may be 0. */
  headerLength: number;
}

/**
 * Returns a fresh {@link RxFrameInfo} (nothing known).
 *
 * @returns checksum unknown, no GSO
 *
 * @example
 * ```ts
 * import { newRxFrameInfo, RX_CHECKSUM_UNKNOWN } from "./device.ts";
 * console.assert(newRxFrameInfo().checksum === RX_CHECKSUM_UNKNOWN);
 * ```
 */
export function newRxFrameInfo(): RxFrameInfo {
  return { checksum: 0, csumStart: 0, csumOffset: 0, gsoType: 0, gsoSize: 0, headerLength: 0 };
}

/** Receives frames from {@link Device.receive}. */
export interface FrameSink {
  /**
   * Called once per frame. The bytes are valid only during the call (they may
   * live in a kernel ring that is handed back right after): copy what you keep.
   */
  onFrame(bytes: Uint8Array, offset: number, length: number): void;
}

/** Counters every device keeps. Drivers may add their own fields. */
export interface DeviceStats {
  /** Frames delivered to a sink. */
  rxFrames: number;
  /** Bytes delivered to a sink. */
  rxBytes: number;
  /** Frames accepted by transmit. */
  txFrames: number;
  /** Bytes accepted by transmit. */
  txBytes: number;
  /** Frames lost on the way in (queue full, ring overrun, bad frame). */
  rxDropped: number;
  /** Frames refused on the way out (too large, queue full, send error). */
  txDropped: number;
}

/** A network device: see the module documentation. */
export interface Device {
  /** Static facts about the device. */
  readonly capabilities: DeviceCapabilities;
  /** Delivers up to `budget` ready frames to `sink`; returns how many. Never blocks, never throws on bad input. */
  receive(sink: FrameSink, budget: number): number;
  /** Sends one frame. The caller may reuse `bytes` on return. `false` = dropped (counted). */
  transmit(bytes: Uint8Array, offset: number, length: number): boolean;
  /** Ends a transmit batch. */
  flush(): void;
  /** Resolves when a frame is ready, after `timeoutMs`, or on close. Never blocks the event loop. */
  wait(timeoutMs: number): Promise<void>;
  /** Releases everything; pending `wait()`s resolve. Idempotent. */
  close(): void;
  /**
   * Optional: true once {@link close} ran (middleware reports the device it
   * wraps). A stack whose device was closed under it closes itself instead
   * of polling a device whose `wait()` returns at once.
   */
  readonly closed?: boolean;
  /**
   * Optional: true when `transmit` gathers frames that leave at `flush()`
   * (or when the device's batch fills), like `AfPacketDevice` with `txBatch`.
   * A stack then lets several application sends of one event-loop turn
   * share a flush; other devices are flushed after every send.
   */
  readonly txBatching?: boolean;
  /** Optional, with {@link txBatching}: frames waiting for the next `flush()`. */
  readonly txPending?: number;
  /**
   * Optional, with {@link txBatching}: how soon (ms) `flush()` should run
   * again because frames the interface refused for now (a full queue) wait in
   * the device to be retried; Infinity (or absent) when none wait. A stack's
   * loop parks no longer than this.
   */
  readonly txRetryDelayMs?: number;
  /** Live counters. */
  readonly stats: DeviceStats;
  /**
   * Optional: offload metadata of the frame currently being delivered to a
   * sink (valid only inside `onFrame`). Absent = nothing known (verify).
   */
  readonly rxInfo?: RxFrameInfo;
  /**
   * Optional (devices with `checksumOffloadTx`/`gso`): sends one frame whose
   * layer-4 checksum field holds the folded pseudo-header sum, for the device
   * to complete (`csumStart` = frame offset of the layer-4 header, `csumOffset`
   * = field offset in it, TCP 16, UDP 6); with `gsoSize > 0` an IPv4 TCP
   * super-frame of up to `maxSegmentBytes` to cut into segments of `gsoSize`
   * data bytes. See `AfPacketDevice.transmitOffload`.
   */
  transmitOffload?(
    bytes: Uint8Array,
    offset: number,
    length: number,
    csumStart: number,
    csumOffset: number,
    gsoSize: number,
  ): boolean;
  /**
   * Optional: frames handed to `transmit` from now on may have been altered
   * on their way (middleware that corrupts them, e.g. `FaultInjector` with
   * `tx.corrupt`): a device that vouches for its frames' integrity
   * (`MemoryDevice` reports {@link RX_CHECKSUM_VALID} to its peer) stops
   * doing so. Middleware forwards the call to the device it wraps.
   */
  distrustTransmit?(): void;
  /**
   * Optional: whether the driver fills in the partial (CHECKSUM_PARTIAL)
   * checksums of received frames before delivering them (`AfPacketDevice`,
   * `MemoryDevice`). A consumer that accepts partial checksums as they are,
   * as Linux does for local senders (a `Stack` whose interface trusts the
   * device's checksum flags), turns it off. Absent on drivers that never see
   * partial checksums.
   */
  completeRxChecksums?: boolean;
}

/**
 * Whether the frame being delivered by `device` needs no layer-4 checksum
 * verification: its {@link Device.rxInfo} says {@link RX_CHECKSUM_VALID}, or
 * {@link RX_CHECKSUM_PARTIAL} (sent by a local stack with checksum offload —
 * Linux treats CHECKSUM_PARTIAL like CHECKSUM_UNNECESSARY on receive).
 *
 * @param info the device's `rxInfo` (undefined = nothing known)
 * @returns true when the transport may skip its checksum check
 *
 * @example
 * ```ts
 * import { newRxFrameInfo, rxChecksumTrusted, RX_CHECKSUM_VALID } from "./device.ts";
 * const info = newRxFrameInfo();
 * console.assert(!rxChecksumTrusted(info) && !rxChecksumTrusted(undefined));
 * info.checksum = RX_CHECKSUM_VALID;
 * console.assert(rxChecksumTrusted(info));
 * ```
 */
export function rxChecksumTrusted(info: RxFrameInfo | undefined): boolean {
  if (info === undefined) return false;
  const c = info.checksum;
  return c === RX_CHECKSUM_VALID || c === RX_CHECKSUM_PARTIAL;
}

/**
 * Returns a fresh zeroed {@link DeviceStats}.
 *
 * @returns all counters 0
 *
 * @example
 * ```ts
 * import { newDeviceStats } from "./device.ts";
 * console.assert(newDeviceStats().rxFrames === 0);
 * ```
 */
export function newDeviceStats(): DeviceStats {
  return { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxDropped: 0, txDropped: 0 };
}

/** Why a device operation failed. */
export type DeviceErrorCode =
  | "no-ffi-permission"
  | "permission-denied"
  | "no-such-device"
  | "busy"
  | "interface-down"
  | "frame-too-large"
  | "closed"
  | "system";

/**
 * A device failure with a machine-readable `code` and a message that tells the
 * user what to do (e.g. "run with --allow-ffi").
 *
 * @example
 * ```ts
 * import { DeviceError, isDeviceError } from "./device.ts";
 * const e = new DeviceError("no-such-device", "no interface named nope0");
 * console.assert(e.code === "no-such-device" && isDeviceError(e) && e instanceof Error);
 * ```
 */
export class DeviceError extends Error {
  /** The failure class. */
  readonly code: DeviceErrorCode;
  /** The errno that caused it, when it came from a system call. */
  readonly errno: number;

  /**
   * Creates an instance.
   *
   * @param code the failure class
   * @param message what happened and what to do about it
   * @param options `errno` of the failing call, `cause`
   */
  constructor(
    code: DeviceErrorCode,
    message: string,
    options: { errno?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DeviceError";
    this.code = code;
    this.errno = options.errno ?? 0;
  }
}

/**
 * Narrows an unknown value to {@link DeviceError}, optionally of one code.
 *
 * @param value anything caught
 * @param code when given, also require this code
 * @returns whether `value` is such a DeviceError
 *
 * @example
 * ```ts
 * import { DeviceError, isDeviceError } from "./device.ts";
 * console.assert(isDeviceError(new DeviceError("closed", "x"), "closed"));
 * console.assert(!isDeviceError(new Error("x")));
 * ```
 */
export function isDeviceError(value: unknown, code?: DeviceErrorCode): value is DeviceError {
  return value instanceof DeviceError && (code === undefined || value.code === code);
}
