/**
 * {@link DeviceGroup}: several devices as one for an event loop that drives
 * them together (a stack with several interfaces). `receive` takes frames
 * from each member in turn and tells the sink which member they come from
 * ({@link GroupFrameSink.selectMember}); `wait` resolves when any member has
 * a frame (one wait per member outstanding at a time); `flush` and `close`
 * reach every member.
 *
 * @module
 */

import type { Device, DeviceCapabilities, DeviceStats, FrameSink, RxFrameInfo } from "./device.ts";

/** A sink that learns which member the next frames come from. */
export interface GroupFrameSink extends FrameSink {
  /** Called before frames of member `index` are delivered. */
  selectMember?(index: number): void;
}

/**
 * Several devices behind the {@link Device} interface (see the module documentation).
 *
 * @example
 * ```ts
 * import { DeviceGroup } from "./device_group.ts";
 * import { MemoryLink } from "./memory_link.ts";
 * const [a, peerA] = MemoryLink.pair();
 * const [b, peerB] = MemoryLink.pair();
 * const group = new DeviceGroup([a, b]);
 * peerB.transmit(new Uint8Array(60), 0, 60);
 * const seen: number[] = [];
 * let member = -1;
 * group.receive({ selectMember: (i) => member = i, onFrame: () => seen.push(member) }, 8);
 * console.assert(seen.length === 1 && seen[0] === 1);
 * group.close(); peerA.close(); peerB.close();
 * ```
 */
export class DeviceGroup implements Device {
  /** The members, in order. */
  readonly members: readonly Device[];
  readonly #waits: (Promise<void> | null)[];
  readonly #waitUntil: number[];
  #current = 0;

  /**
   * Groups devices.
   *
   * @param members at least one device
   * @throws {TypeError} without members
   */
  constructor(members: Device[]) {
    if (!Array.isArray(members) || members.length === 0) {
      throw new TypeError("a device group needs at least one device");
    }
    this.members = members.slice();
    this.#waits = members.map(() => null);
    this.#waitUntil = members.map(() => 0);
  }

  /** The first member's capabilities. */
  get capabilities(): DeviceCapabilities {
    return this.members[0].capabilities;
  }

  /** Offload metadata of the frame being delivered (from its member). */
  get rxInfo(): RxFrameInfo | undefined {
    return this.members[this.#current].rxInfo;
  }

  /** Every member gathers frames until flushed. */
  get txBatching(): boolean {
    return this.members.every((m) => m.txBatching === true);
  }

  /** Frames the members hold for the next flush. */
  get txPending(): number {
    let n = 0;
    for (const m of this.members) n += m.txPending ?? 0;
    return n;
  }

  /** The soonest a member wants `flush()` again to retry refused frames (Infinity: none). */
  get txRetryDelayMs(): number {
    let ms = Infinity;
    for (const m of this.members) ms = Math.min(ms, m.txRetryDelayMs ?? Infinity);
    return ms;
  }

  /** Whether any member was closed. */
  get closed(): boolean {
    return this.members.some((m) => m.closed === true);
  }

  /** The members' counters, summed (a new object per read). */
  get stats(): DeviceStats {
    const s: DeviceStats = {
      rxFrames: 0,
      rxBytes: 0,
      txFrames: 0,
      txBytes: 0,
      rxDropped: 0,
      txDropped: 0,
    };
    for (const m of this.members) {
      s.rxFrames += m.stats.rxFrames;
      s.rxBytes += m.stats.rxBytes;
      s.txFrames += m.stats.txFrames;
      s.txBytes += m.stats.txBytes;
      s.rxDropped += m.stats.rxDropped;
      s.txDropped += m.stats.txDropped;
    }
    return s;
  }

  /**
   * Takes up to `budget` frames from each member in turn (each member its
   * own budget, so a busy link cannot starve the others: a router's data
   * one way and the acknowledgements the other way both move).
   *
   * @param sink receives the frames; `selectMember` says whose they are
   * @param budget most frames per member
   * @returns frames delivered
   */
  receive(sink: GroupFrameSink, budget: number): number {
    let n = 0;
    const members = this.members;
    for (let i = 0; i < members.length; i++) {
      this.#current = i;
      sink.selectMember?.(i);
      n += members[i].receive(sink, budget);
    }
    this.#current = 0;
    sink.selectMember?.(0);
    return n;
  }

  /**
   * Transmits on the first member (interfaces transmit on their own device).
   *
   * @param bytes buffer
   * @param offset frame start
   * @param length frame length
   * @returns false when dropped
   */
  transmit(bytes: Uint8Array, offset: number, length: number): boolean {
    return this.members[0].transmit(bytes, offset, length);
  }

  /** Flushes every member. */
  flush(): void {
    for (const m of this.members) m.flush();
  }

  /**
   * Resolves when any member has a frame, after `timeoutMs`, or on close.
   *
   * @param timeoutMs longest wait
   */
  wait(timeoutMs: number): Promise<void> {
    const now = performance.now();
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve();
      };
      let timer: ReturnType<typeof setTimeout> | undefined;
      let reused = false;
      this.members.forEach((m, i) => {
        let w = this.#waits[i];
        if (w === null) {
          this.#waitUntil[i] = now + timeoutMs;
          const p: Promise<void> = m.wait(timeoutMs).then(
            () => {
              if (this.#waits[i] === p) this.#waits[i] = null;
            },
            () => {
              if (this.#waits[i] === p) this.#waits[i] = null;
            },
          );
          this.#waits[i] = p;
          w = p;
        } else if (this.#waitUntil[i] > now + timeoutMs) {
          reused = true;
        }
        w.then(finish);
      });
      // A member's earlier wait may end after our timeout: a timer covers the gap.
      if (reused) timer = setTimeout(finish, timeoutMs);
    });
  }

  /** Closes every member. */
  close(): void {
    for (const m of this.members) m.close();
  }
}
