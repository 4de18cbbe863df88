/**
 * In-memory devices for tests, simulations and demos without root:
 * {@link MemoryLink.pair} (a virtual cable between two hosts) and
 * {@link MemoryHub} (a learning switch for more hosts).
 *
 * Transmit copies the frame into the receiver's bounded queue (one slab of
 * fixed slots allocated up front; a full queue drops and counts in the
 * receiver's `rxDropped`). Delivery is synchronous and deterministic: a frame
 * is readable by the peer as soon as `transmit()` returns, and nothing is
 * scheduled with timers. A simulation with a manual clock can drive hosts by
 * calling `receive()` in a loop; `wait()` resolves at once when frames are
 * queued, otherwise when the peer transmits, the device closes, or (with a
 * finite positive timeout) a real timer fires — the only timer used, and it is
 * cleared as soon as the wait resolves.
 *
 * @module
 */

import {
  DEFAULT_MTU,
  type Device,
  type DeviceCapabilities,
  type DeviceStats,
  ETHERNET_HEADER_BYTES,
  type FrameSink,
  newDeviceStats,
} from "./device.ts";

/** Default receive queue bound, in frames. */
export const MEMORY_QUEUE_FRAMES = 256;
/** First MAC of a {@link MemoryLink.pair} (locally administered, unicast). */
export const MEMORY_MAC_A = 0x02_00_00_00_00_01;
/** Second MAC of a {@link MemoryLink.pair}. */
export const MEMORY_MAC_B = 0x02_00_00_00_00_02;
/** Base of MACs handed out by {@link MemoryHub.attach} (port n gets base + n + 1). */
export const MEMORY_HUB_MAC_BASE = 0x02_00_00_00_01_00;

const BROADCAST_GROUP_BIT = 0x01;

/** Counters of a memory device. */
export interface MemoryDeviceStats extends DeviceStats {
  /** Frames currently queued for receive. */
  queued: number;
}

/** Options of {@link MemoryLink.pair}. */
export interface MemoryLinkOptions {
  /** MTU of both ends; default 1500. */
  mtu?: number;
  /** MAC of the first device; default {@link MEMORY_MAC_A}. */
  macA?: number;
  /** MAC of the second device; default {@link MEMORY_MAC_B}. */
  macB?: number;
  /** Receive queue bound per device, in frames; default 256. */
  queueFrames?: number;
}

/**
 * One end of a memory link or one hub port. Create with
 * {@link MemoryLink.pair} or {@link MemoryHub.attach}.
 *
 * @example
 * ```ts
 * import { MemoryLink } from "./memory_link.ts";
 * const [a, b] = MemoryLink.pair();
 * a.transmit(new Uint8Array(60), 0, 60);
 * let got = 0;
 * b.receive({ onFrame: (_bytes, _off, len) => (got = len) }, 8);
 * console.assert(got === 60);
 * a.close();
 * b.close();
 * ```
 */
export class MemoryDevice implements Device {
  /** Static facts about the device (MTU, MAC, offloads). */
  readonly capabilities: DeviceCapabilities;
  /** Live counters. */
  readonly stats: MemoryDeviceStats = { ...newDeviceStats(), queued: 0 };

  #slab: Uint8Array;
  #lengths: Int32Array;
  #slotBytes: number;
  #capacity: number;
  #head = 0;
  #waiters: (() => void)[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined = undefined;
  #closed = false;
  #forward: (from: MemoryDevice, bytes: Uint8Array, offset: number, length: number) => void;
  #onClose: (dev: MemoryDevice) => void;

  /**
   * Creates an instance.
   *
   * @param name interface name
   * @param mac 48-bit MAC
   * @param mtu MTU in bytes
   * @param queueFrames receive queue bound
   * @param forward called by transmit to deliver a frame to the other side(s)
   * @param onClose called once on close
   */
  constructor(
    name: string,
    mac: number,
    mtu: number,
    queueFrames: number,
    forward: (from: MemoryDevice, bytes: Uint8Array, offset: number, length: number) => void,
    onClose: (dev: MemoryDevice) => void = () => {},
  ) {
    if (!(mtu >= 68 && mtu <= 65535)) throw new RangeError(`MTU ${mtu} out of range 68..65535`);
    if (!(queueFrames >= 1)) throw new RangeError(`queueFrames ${queueFrames} must be ≥ 1`);
    this.capabilities = {
      name,
      mtu,
      mac,
      headroom: 0,
      checksumOffloadRx: false,
      checksumOffloadTx: false,
      gso: false,
    };
    this.#slotBytes = mtu + ETHERNET_HEADER_BYTES;
    this.#capacity = Math.floor(queueFrames);
    this.#slab = new Uint8Array(this.#slotBytes * this.#capacity);
    this.#lengths = new Int32Array(this.#capacity);
    this.#forward = forward;
    this.#onClose = onClose;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Copies a frame into this device's receive queue (called by the link or hub).
   *
   * @param bytes source
   * @param offset start of the frame
   * @param length frame length (≤ MTU + 14)
   * @returns false when dropped (closed, too large, queue full; counted in rxDropped)
   */
  enqueue(bytes: Uint8Array, offset: number, length: number): boolean {
    const stats = this.stats;
    if (this.#closed || length > this.#slotBytes || stats.queued === this.#capacity) {
      stats.rxDropped++;
      return false;
    }
    let slot = this.#head + stats.queued;
    if (slot >= this.#capacity) slot -= this.#capacity;
    const dst = slot * this.#slotBytes;
    if (offset === 0 && length === bytes.length) {
      this.#slab.set(bytes, dst);
    } else {
      // One short-lived view per frame: cheaper than a byte loop for anything but tiny frames.
      this.#slab.set(bytes.subarray(offset, offset + length), dst);
    }
    this.#lengths[slot] = length;
    stats.queued++;
    if (this.#waiters.length > 0) this.#wake();
    return true;
  }

  /** Delivers up to `budget` ready frames to `sink`; returns how many. */
  receive(sink: FrameSink, budget: number): number {
    const stats = this.stats;
    let count = 0;
    while (count < budget && stats.queued > 0 && !this.#closed) {
      const slot = this.#head;
      const length = this.#lengths[slot];
      stats.rxFrames++;
      stats.rxBytes += length;
      count++;
      // The slot stays occupied during the call, so nothing overwrites it.
      sink.onFrame(this.#slab, slot * this.#slotBytes, length);
      this.#head = slot + 1 === this.#capacity ? 0 : slot + 1;
      stats.queued--;
    }
    return count;
  }

  /** Sends one frame; `false` when it was dropped (counted). */
  transmit(bytes: Uint8Array, offset: number, length: number): boolean {
    const stats = this.stats;
    if (
      this.#closed || !(offset >= 0) || !(length >= ETHERNET_HEADER_BYTES) ||
      offset + length > bytes.length || length > this.#slotBytes
    ) {
      stats.txDropped++;
      return false;
    }
    stats.txFrames++;
    stats.txBytes += length;
    this.#forward(this, bytes, offset, length);
    return true;
  }

  /** Ends a transmit batch. */
  flush(): void {
    // Frames are delivered by transmit itself.
  }

  /** Resolves when a frame is ready, after `timeoutMs`, or on close; never blocks. */
  wait(timeoutMs: number): Promise<void> {
    if (this.#closed || this.stats.queued > 0 || !(timeoutMs > 0)) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      if (this.#timer === undefined && timeoutMs !== Infinity) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#wake();
        }, timeoutMs);
      }
    });
  }

  #wake(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Releases everything; pending waits resolve. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.stats.queued = 0;
    this.#wake();
    this.#onClose(this);
  }
}

/**
 * A virtual Ethernet cable between two devices.
 *
 * @example
 * ```ts
 * import { MemoryLink } from "./memory_link.ts";
 * const [a, b] = MemoryLink.pair();
 * const frame = new Uint8Array(60);
 * console.assert(a.transmit(frame, 0, 60));
 * let got = 0;
 * b.receive({ onFrame(_bytes, _off, len) { got = len; } }, 8);
 * console.assert(got === 60);
 * a.close(); b.close();
 * ```
 */
export class MemoryLink {
  /**
   * Creates two devices wired together: everything one transmits the other receives.
   *
   * @param opts MTU, MACs, queue bound
   * @returns the two ends `[a, b]`
   */
  static pair(opts: MemoryLinkOptions = {}): [MemoryDevice, MemoryDevice] {
    const mtu = opts.mtu ?? DEFAULT_MTU;
    const queue = opts.queueFrames ?? MEMORY_QUEUE_FRAMES;
    let b: MemoryDevice | null = null;
    const a = new MemoryDevice(
      "mem0",
      opts.macA ?? MEMORY_MAC_A,
      mtu,
      queue,
      (_from, bytes, offset, length) => b!.enqueue(bytes, offset, length),
    );
    b = new MemoryDevice(
      "mem1",
      opts.macB ?? MEMORY_MAC_B,
      mtu,
      queue,
      (_from, bytes, offset, length) => a.enqueue(bytes, offset, length),
    );
    return [a, b];
  }
}

/** Options of {@link MemoryHub}. */
export interface MemoryHubOptions {
  /** MTU of every port; default 1500. */
  mtu?: number;
  /** Receive queue bound per port; default 256. */
  queueFrames?: number;
  /** Bound of the MAC learning table; default 1024 (oldest learned entry evicted). */
  maxMacs?: number;
}

/**
 * A learning Ethernet switch between any number of memory devices: frames to
 * broadcast, multicast or not-yet-seen MACs are flooded to every other port;
 * frames to a MAC learned from a source address go only to that port.
 *
 * @example
 * ```ts
 * import { MemoryHub } from "./memory_link.ts";
 * const hub = new MemoryHub();
 * const [a, b, c] = [hub.attach(), hub.attach(), hub.attach()];
 * const f = new Uint8Array(60).fill(0xff, 0, 6); // broadcast
 * a.transmit(f, 0, 60);
 * console.assert(b.stats.queued === 1 && c.stats.queued === 1 && a.stats.queued === 0);
 * hub.close();
 * ```
 */
export class MemoryHub {
  #ports: MemoryDevice[] = [];
  #macs = new Map<number, MemoryDevice>();
  #mtu: number;
  #queue: number;
  #maxMacs: number;
  /** Frames flooded to all other ports. */
  flooded = 0;
  /** Frames switched to exactly one learned port. */
  switched = 0;

  /**
   * Creates an instance.
   *
   * @param opts MTU, queue bound per port, MAC table bound
   */
  constructor(opts: MemoryHubOptions = {}) {
    this.#mtu = opts.mtu ?? DEFAULT_MTU;
    this.#queue = opts.queueFrames ?? MEMORY_QUEUE_FRAMES;
    this.#maxMacs = opts.maxMacs ?? 1024;
  }

  /** Number of attached (open) ports. */
  get size(): number {
    return this.#ports.length;
  }

  /**
   * Attaches a new device to the hub.
   *
   * @param opts `mac` (default: a fresh locally administered one), `name`
   * @returns the device
   */
  attach(opts: { mac?: number; name?: string } = {}): MemoryDevice {
    const n = this.#ports.length;
    const dev = new MemoryDevice(
      opts.name ?? `hub${n}`,
      opts.mac ?? MEMORY_HUB_MAC_BASE + n + 1,
      this.#mtu,
      this.#queue,
      (from, bytes, offset, length) => this.#forward(from, bytes, offset, length),
      (d) => this.#detach(d),
    );
    this.#ports.push(dev);
    return dev;
  }

  #detach(dev: MemoryDevice): void {
    const i = this.#ports.indexOf(dev);
    if (i >= 0) this.#ports.splice(i, 1);
    for (const [mac, port] of this.#macs) if (port === dev) this.#macs.delete(mac);
  }

  #forward(from: MemoryDevice, bytes: Uint8Array, offset: number, length: number): void {
    // Learn the source (IEEE 802.1D transparent bridging), unicast sources only.
    if ((bytes[offset + 6] & BROADCAST_GROUP_BIT) === 0) {
      const src = bytes[offset + 6] * 0x10000000000 + bytes[offset + 7] * 0x100000000 +
        ((bytes[offset + 8] << 24) >>> 0) + (bytes[offset + 9] << 16) +
        (bytes[offset + 10] << 8) + bytes[offset + 11];
      if (this.#macs.get(src) !== from) {
        this.#macs.delete(src);
        if (this.#macs.size >= this.#maxMacs) {
          this.#macs.delete(this.#macs.keys().next().value!);
        }
        this.#macs.set(src, from);
      }
    }
    if ((bytes[offset] & BROADCAST_GROUP_BIT) === 0) {
      const dst = bytes[offset] * 0x10000000000 + bytes[offset + 1] * 0x100000000 +
        ((bytes[offset + 2] << 24) >>> 0) + (bytes[offset + 3] << 16) +
        (bytes[offset + 4] << 8) + bytes[offset + 5];
      const port = this.#macs.get(dst);
      if (port !== undefined) {
        if (port !== from) {
          this.switched++;
          port.enqueue(bytes, offset, length);
        }
        return;
      }
    }
    this.flooded++;
    const ports = this.#ports;
    for (let i = 0; i < ports.length; i++) {
      if (ports[i] !== from) ports[i].enqueue(bytes, offset, length);
    }
  }

  /** Closes every attached device. */
  close(): void {
    for (const p of [...this.#ports]) p.close();
  }
}
