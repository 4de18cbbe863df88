/**
 * `ForwardingDevice` owns device middleware's pass-through: every member of
 * {@link Device}, required and optional, forwarded to the wrapped device in
 * one place. `CaptureDevice`, `FaultInjector` and the tests' probes extend
 * it and override only what they observe or change, so a member added to
 * `Device` is forwarded here once instead of in every wrapper (it was
 * forgotten twice: `txBatching`, `txPending`). tests/phy/forwarding_device_test.ts
 * fails, at compile time and at run time, until a new member is forwarded.
 *
 * A wrapper that watches or alters transmitted frames overrides both
 * `transmit` and `transmitOffload` (offloaded frames leave through the
 * latter), as `CaptureDevice` does.
 *
 * @module
 */

import type { Device, DeviceCapabilities, DeviceStats, FrameSink, RxFrameInfo } from "./device.ts";

/**
 * A {@link Device} that passes every call through to `inner`: the base of
 * device middleware (see the module documentation).
 *
 * @example
 * ```ts
 * import { ForwardingDevice } from "./forwarding_device.ts";
 * import { MemoryLink } from "./memory_link.ts";
 * class Counting extends ForwardingDevice {
 *   sent = 0;
 *   override transmit(bytes: Uint8Array, offset: number, length: number): boolean {
 *     this.sent++;
 *     return super.transmit(bytes, offset, length);
 *   }
 * }
 * const [a, b] = MemoryLink.pair();
 * const dev = new Counting(a);
 * dev.transmit(new Uint8Array(60), 0, 60);
 * console.assert(dev.sent === 1 && b.stats.queued === 1 && dev.stats.txFrames === 1);
 * dev.close(); b.close();
 * ```
 */
export class ForwardingDevice<D extends Device = Device> implements Device {
  /** The wrapped device. */
  readonly inner: D;

  /**
   * Creates an instance.
   *
   * @param inner the device every call goes to
   */
  constructor(inner: D) {
    this.inner = inner;
  }

  /** The wrapped device's static facts (MTU, MAC, offloads). */
  get capabilities(): DeviceCapabilities {
    return this.inner.capabilities;
  }

  /** The wrapped device's counters. */
  get stats(): DeviceStats {
    return this.inner.stats;
  }

  /** The wrapped device's offload metadata of the frame being delivered (undefined: none). */
  get rxInfo(): RxFrameInfo | undefined {
    return this.inner.rxInfo;
  }

  /** Whether the wrapped device is closed. */
  get closed(): boolean {
    return this.inner.closed === true;
  }

  /** Whether the wrapped device gathers frames until `flush()`. */
  get txBatching(): boolean {
    return this.inner.txBatching === true;
  }

  /** Frames the wrapped device holds for its next `flush()` (undefined: it does not say). */
  get txPending(): number | undefined {
    return this.inner.txPending;
  }

  /** How soon the wrapped device wants `flush()` again to retry refused frames (undefined: it does not say). */
  get txRetryDelayMs(): number | undefined {
    return this.inner.txRetryDelayMs;
  }

  /**
   * Delivers up to `budget` ready frames of the wrapped device to `sink`.
   *
   * @param sink where frames go
   * @param budget most frames to deliver
   * @returns frames delivered
   */
  receive(sink: FrameSink, budget: number): number {
    return this.inner.receive(sink, budget);
  }

  /**
   * Sends one frame through the wrapped device.
   *
   * @param bytes frame buffer
   * @param offset start of the Ethernet header
   * @param length frame length
   * @returns false when dropped (counted by the wrapped device)
   */
  transmit(bytes: Uint8Array, offset: number, length: number): boolean {
    return this.inner.transmit(bytes, offset, length);
  }

  /**
   * Sends one frame with checksum/segmentation offload through the wrapped
   * device (see `Device.transmitOffload`).
   *
   * @param bytes frame buffer
   * @param offset start of the Ethernet header
   * @param length frame length
   * @param csumStart frame offset of the layer-4 header
   * @param csumOffset checksum field offset within it
   * @param gsoSize data bytes per segment, 0 = none
   * @returns false when dropped, or when the wrapped device has no offloads
   */
  transmitOffload(
    bytes: Uint8Array,
    offset: number,
    length: number,
    csumStart: number,
    csumOffset: number,
    gsoSize: number,
  ): boolean {
    const inner = this.inner;
    if (inner.transmitOffload === undefined) return false;
    return inner.transmitOffload(bytes, offset, length, csumStart, csumOffset, gsoSize);
  }

  /** Whether the wrapped device completes partial checksums on receive (absent: it has no such switch). */
  get completeRxChecksums(): boolean | undefined {
    return this.inner.completeRxChecksums;
  }
  set completeRxChecksums(on: boolean | undefined) {
    if (on !== undefined && "completeRxChecksums" in this.inner) {
      this.inner.completeRxChecksums = on;
    }
  }

  /** Frames transmitted from now on may be altered: tells the wrapped device. */
  distrustTransmit(): void {
    this.inner.distrustTransmit?.();
  }

  /** Ends a transmit batch of the wrapped device. */
  flush(): void {
    this.inner.flush();
  }

  /**
   * Resolves when the wrapped device has a frame ready, after `timeoutMs`, or on close.
   *
   * @param timeoutMs longest wait in ms
   * @returns the wrapped device's wait
   */
  wait(timeoutMs: number): Promise<void> {
    return this.inner.wait(timeoutMs);
  }

  /** Closes the wrapped device; pending waits resolve. Idempotent. */
  close(): void {
    this.inner.close();
  }
}
