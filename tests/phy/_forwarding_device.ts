/**
 * {@link ForwardingDevice}: the test wrappers' common base. It forwards every
 * `Device` call to `inner`; a wrapper extends it and overrides only what it
 * observes or changes (a recorder overrides `transmit`, a probe `receive`).
 *
 * @module
 */

import type {
  Device,
  DeviceCapabilities,
  DeviceStats,
  FrameSink,
  RxFrameInfo,
} from "../../src/phy/device.ts";

/** A `Device` that passes every call through to `inner`. */
export class ForwardingDevice<D extends Device = Device> implements Device {
  constructor(readonly inner: D) {}
  get capabilities(): DeviceCapabilities {
    return this.inner.capabilities;
  }
  get stats(): DeviceStats {
    return this.inner.stats;
  }
  get rxInfo(): RxFrameInfo | undefined {
    return this.inner.rxInfo;
  }
  receive(sink: FrameSink, budget: number): number {
    return this.inner.receive(sink, budget);
  }
  transmit(bytes: Uint8Array, offset: number, length: number): boolean {
    return this.inner.transmit(bytes, offset, length);
  }
  flush(): void {
    this.inner.flush();
  }
  wait(timeoutMs: number): Promise<void> {
    return this.inner.wait(timeoutMs);
  }
  /** Whether the wrapped device is closed. */
  get closed(): boolean {
    return this.inner.closed === true;
  }

  close(): void {
    this.inner.close();
  }
}
