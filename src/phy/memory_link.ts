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
 * A memory copy cannot corrupt a frame, so received frames are reported with
 * {@link RX_CHECKSUM_VALID} in {@link MemoryDevice.rxInfo} (like Linux
 * loopback's CHECKSUM_UNNECESSARY) and the stack skips layer-4 checksum
 * verification — unless the sender was told to `distrustTransmit()` (a
 * `FaultInjector` corrupting its transmitted frames does that), or the link
 * was made with `rxChecksumValid: false`.
 *
 * With `checksumOffload: true` a pair also offers transmit checksum offload
 * (`transmitOffload` without segmentation, like a veth's `tx-checksumming`):
 * the frame crosses with its partial checksum and arrives as
 * {@link RX_CHECKSUM_PARTIAL} — completed in place before delivery unless
 * the receiver turns `completeRxChecksums` off (a Stack that trusts device
 * checksums does).
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
  newRxFrameInfo,
  RX_CHECKSUM_PARTIAL,
  RX_CHECKSUM_UNKNOWN,
  RX_CHECKSUM_VALID,
  type RxFrameInfo,
} from "./device.ts";
import { completePartialChecksum } from "../wire/checksum.ts";
import { readMac } from "../wire/address.ts";
import { ETHERNET_DST_OFFSET, ETHERNET_SRC_OFFSET } from "../wire/ethernet.ts";
import { packetBytes, releasePacketBytes } from "../buffer/arena.ts";
import { copyBytes } from "../buffer/byte_ring.ts";

/** Default receive queue bound, in frames. */
export const MEMORY_QUEUE_FRAMES = 256;
/** First MAC of a {@link MemoryLink.pair} (locally administered, unicast). */
export const MEMORY_MAC_A = 0x02_00_00_00_00_01;
/** Second MAC of a {@link MemoryLink.pair}. */
export const MEMORY_MAC_B = 0x02_00_00_00_00_02;
/** Base of MACs handed out by {@link MemoryHub.attach} (port n gets base + n + 1). */
export const MEMORY_HUB_MAC_BASE = 0x02_00_00_00_01_00;

const BROADCAST_GROUP_BIT = 0x01;
/** The queue of a closed device (its arena region was returned). */
const EMPTY_SLAB = new Uint8Array(0);

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
  /** Report received frames as checksum-valid (see the module documentation); default true. */
  rxChecksumValid?: boolean;
  /** Offer transmit checksum offload on both ends (see the module documentation); default false. */
  checksumOffload?: boolean;
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
  /**
   * Checksum state of the frame being delivered: {@link RX_CHECKSUM_VALID}
   * when its sender vouched for it (see the module documentation), else
   * {@link RX_CHECKSUM_UNKNOWN}.
   */
  readonly rxInfo: RxFrameInfo = newRxFrameInfo();
  /** Whether frames this device transmits reach the peer marked intact. */
  intactTransmit = true;
  /**
   * Fill in received partial checksums in place before delivery (then
   * reported {@link RX_CHECKSUM_VALID}); default true.
   */
  completeRxChecksums = true;
  /** The frame being sent by `transmitOffload`: csumStart (0 = complete checksum). Read by the link. */
  txCsumStart = 0;
  /** The frame being sent by `transmitOffload`: csumOffset. Read by the link. */
  txCsumOffset = 0;
  /** Per slot: csumStart of a partial checksum (0 = complete). */
  #csumStart: Uint16Array;
  /** Per slot: csumOffset of a partial checksum. */
  #csumOffset: Uint8Array;

  #slab: Uint8Array;
  #lengths: Int32Array;
  /** Per slot: 1 when the frame's sender vouched for its integrity. */
  #intact: Uint8Array;
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
    // Queue slots live in the packet arena: a frame from a pool slot is copied in with one
    // memory.copy (arenaCopy; no allocation), and checksums over them can run in WebAssembly.
    this.#slab = packetBytes(this.#slotBytes * this.#capacity);
    this.#lengths = new Int32Array(this.#capacity);
    this.#intact = new Uint8Array(this.#capacity);
    this.#csumStart = new Uint16Array(this.#capacity);
    this.#csumOffset = new Uint8Array(this.#capacity);
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
   * @param intact the sender vouches that the frame is unaltered (reported as
   *   {@link RX_CHECKSUM_VALID} on receive); default false
   * @param csumStart a partial layer-4 checksum starts here (frame offset; 0 = complete)
   * @param csumOffset its field's offset from csumStart (TCP 16, UDP 6)
   * @returns false when dropped (closed, too large, queue full; counted in rxDropped)
   */
  enqueue(
    bytes: Uint8Array,
    offset: number,
    length: number,
    intact = false,
    csumStart = 0,
    csumOffset = 0,
  ): boolean {
    const stats = this.stats;
    if (this.#closed || length > this.#slotBytes || stats.queued === this.#capacity) {
      stats.rxDropped++;
      return false;
    }
    let slot = this.#head + stats.queued;
    if (slot >= this.#capacity) slot -= this.#capacity;
    // Arena to arena (a pool slot into a queue slot): one arenaCopy (a WebAssembly memory.copy), nothing allocated.
    copyBytes(bytes, offset, this.#slab, slot * this.#slotBytes, length);
    this.#lengths[slot] = length;
    this.#intact[slot] = intact ? 1 : 0;
    this.#csumStart[slot] = csumStart;
    this.#csumOffset[slot] = csumOffset;
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
      const info = this.rxInfo;
      const start = this.#csumStart[slot];
      if (start === 0) {
        info.checksum = this.#intact[slot] === 1 ? RX_CHECKSUM_VALID : RX_CHECKSUM_UNKNOWN;
        info.csumStart = 0;
        info.csumOffset = 0;
      } else if (this.completeRxChecksums) {
        completePartialChecksum(
          this.#slab,
          slot * this.#slotBytes + start,
          length - start,
          this.#csumOffset[slot],
        );
        info.checksum = RX_CHECKSUM_VALID;
        info.csumStart = 0;
        info.csumOffset = 0;
      } else {
        info.checksum = RX_CHECKSUM_PARTIAL;
        info.csumStart = start;
        info.csumOffset = this.#csumOffset[slot];
      }
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

  /**
   * Sends one frame whose layer-4 checksum is partial (needs `checksumOffload`
   * on the link; no segmentation: `gsoSize` must be 0). See
   * `Device.transmitOffload`.
   *
   * @param bytes frame buffer
   * @param offset start of the Ethernet header
   * @param length frame length
   * @param csumStart frame offset of the layer-4 header
   * @param csumOffset checksum field offset within it
   * @param gsoSize must be 0
   * @returns false when dropped (counted): no offload, bad offsets, segmentation asked
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
      !this.capabilities.checksumOffloadTx || gsoSize !== 0 || !(csumStart >= 1) ||
      csumStart > 0xffff || !(csumOffset >= 0) || csumOffset > 0xff ||
      csumStart + csumOffset + 2 > length
    ) {
      this.stats.txDropped++;
      return false;
    }
    this.txCsumStart = csumStart;
    this.txCsumOffset = csumOffset;
    try {
      return this.transmit(bytes, offset, length);
    } finally {
      this.txCsumStart = 0;
      this.txCsumOffset = 0;
    }
  }

  /** Ends a transmit batch. */
  flush(): void {
    // Frames are delivered by transmit itself.
  }

  /** Frames transmitted from now on reach the peer as {@link RX_CHECKSUM_UNKNOWN} (verify them). */
  distrustTransmit(): void {
    this.intactTransmit = false;
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
    releasePacketBytes(this.#slab);
    this.#slab = EMPTY_SLAB;
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
    const trust = opts.rxChecksumValid ?? true;
    let b: MemoryDevice | null = null;
    const a = new MemoryDevice(
      "mem0",
      opts.macA ?? MEMORY_MAC_A,
      mtu,
      queue,
      (from, bytes, offset, length) =>
        b!.enqueue(
          bytes,
          offset,
          length,
          trust && from.intactTransmit,
          from.txCsumStart,
          from.txCsumOffset,
        ),
    );
    b = new MemoryDevice(
      "mem1",
      opts.macB ?? MEMORY_MAC_B,
      mtu,
      queue,
      (from, bytes, offset, length) =>
        a.enqueue(
          bytes,
          offset,
          length,
          trust && from.intactTransmit,
          from.txCsumStart,
          from.txCsumOffset,
        ),
    );
    if (opts.checksumOffload === true) {
      for (const d of [a, b]) {
        (d.capabilities as { checksumOffloadTx: boolean }).checksumOffloadTx = true;
      }
    }
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

/** MAC table slots allocated at first; the table doubles up to its bound as sources come. */
const MAC_SLOTS_INITIAL = 64;
/** End of the table's age list (no slot). */
const NO_SLOT = -1;

/**
 * The hub's MAC learning table (IEEE 802.1D filtering database), bounded: a learned or moved
 * source becomes the newest entry; when full, the oldest is forgotten. An index Map from MAC to
 * slot, and per slot the MAC, its port and its neighbours in the age list, so learning a source
 * evicts the oldest in constant time (a Map kept in insertion order and evicted through
 * `keys().next()` allocated an iterator that scanned the deleted entries at the table's front:
 * ~0.5 µs per frame from random source MACs).
 */
class MacTable {
  readonly #slots = new Map<number, number>();
  readonly #max: number;
  #mac = new Float64Array(0);
  #port: (MemoryDevice | null)[] = [];
  #older = new Int32Array(0);
  #newer = new Int32Array(0);
  #oldest = NO_SLOT;
  #newest = NO_SLOT;

  constructor(max: number) {
    // At least one entry (a bound of 0 kept the last learned source before too).
    this.#max = Math.max(1, Math.floor(max));
  }

  /** The port `mac` was learned on, or undefined. */
  get(mac: number): MemoryDevice | undefined {
    const slot = this.#slots.get(mac);
    return slot === undefined ? undefined : this.#port[slot]!;
  }

  /** Learns (or moves) `mac` on `port` as the newest entry, forgetting the oldest when full. */
  learn(mac: number, port: MemoryDevice): void {
    let slot = this.#slots.get(mac);
    if (slot !== undefined) {
      this.#unlink(slot);
    } else {
      const used = this.#slots.size;
      if (used >= this.#max) {
        slot = this.#oldest;
        this.#unlink(slot);
        this.#slots.delete(this.#mac[slot]);
      } else {
        if (used === this.#mac.length) this.#grow(used);
        slot = used;
      }
      this.#mac[slot] = mac;
      this.#slots.set(mac, slot);
    }
    this.#port[slot] = port;
    this.#append(slot);
  }

  /** Forgets every MAC learned on `port` (it was detached). */
  removePort(port: MemoryDevice): void {
    // Rebuilt from the survivors, oldest first, so slots stay dense (0 … size − 1).
    const kept: [number, MemoryDevice][] = [];
    for (let s = this.#oldest; s !== NO_SLOT; s = this.#newer[s]) {
      if (this.#port[s] !== port) kept.push([this.#mac[s], this.#port[s]!]);
    }
    this.#slots.clear();
    this.#port.fill(null);
    this.#oldest = this.#newest = NO_SLOT;
    for (const [mac, p] of kept) this.learn(mac, p);
  }

  #append(slot: number): void {
    this.#older[slot] = this.#newest;
    this.#newer[slot] = NO_SLOT;
    if (this.#newest === NO_SLOT) this.#oldest = slot;
    else this.#newer[this.#newest] = slot;
    this.#newest = slot;
  }

  #unlink(slot: number): void {
    const older = this.#older[slot];
    const newer = this.#newer[slot];
    if (older === NO_SLOT) this.#oldest = newer;
    else this.#newer[older] = newer;
    if (newer === NO_SLOT) this.#newest = older;
    else this.#older[newer] = older;
  }

  /** Doubles the slot arrays (up to the bound); `used` slots are kept. */
  #grow(used: number): void {
    const size = Math.min(Math.max(MAC_SLOTS_INITIAL, used * 2), this.#max);
    const mac = new Float64Array(size);
    mac.set(this.#mac);
    this.#mac = mac;
    const older = new Int32Array(size);
    older.set(this.#older);
    this.#older = older;
    const newer = new Int32Array(size);
    newer.set(this.#newer);
    this.#newer = newer;
    while (this.#port.length < size) this.#port.push(null);
  }
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
  #macs: MacTable;
  #mtu: number;
  #queue: number;
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
    this.#macs = new MacTable(opts.maxMacs ?? 1024);
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
    this.#macs.removePort(dev);
  }

  #forward(from: MemoryDevice, bytes: Uint8Array, offset: number, length: number): void {
    // Learn the source (IEEE 802.1D transparent bridging), unicast sources only.
    if ((bytes[offset + ETHERNET_SRC_OFFSET] & BROADCAST_GROUP_BIT) === 0) {
      const src = readMac(bytes, offset + ETHERNET_SRC_OFFSET);
      if (this.#macs.get(src) !== from) this.#macs.learn(src, from);
    }
    if ((bytes[offset + ETHERNET_DST_OFFSET] & BROADCAST_GROUP_BIT) === 0) {
      const dst = readMac(bytes, offset + ETHERNET_DST_OFFSET);
      const port = this.#macs.get(dst);
      if (port !== undefined) {
        if (port !== from) {
          this.switched++;
          port.enqueue(bytes, offset, length, from.intactTransmit);
        }
        return;
      }
    }
    this.flooded++;
    const ports = this.#ports;
    for (let i = 0; i < ports.length; i++) {
      if (ports[i] !== from) ports[i].enqueue(bytes, offset, length, from.intactTransmit);
    }
  }

  /** Closes every attached device. */
  close(): void {
    for (const p of [...this.#ports]) p.close();
  }
}
