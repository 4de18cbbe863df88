/**
 * `CaptureDevice`: device middleware that records every frame received and
 * every frame transmitted, with a timestamp, to a packet capture writer —
 * normally `PcapWriter` from src/wire/pcap.ts, so Wireshark/tshark can open
 * the file. Any object with the same `writeFrame(bytes, offset, length,
 * timestampMs)` method works (see {@link FrameWriter}).
 *
 * A failing writer never breaks the data path: its exceptions are counted in
 * `writeErrors` and the frame still goes through.
 *
 * Offloads pass through: `rxInfo` is the wrapped device's, and
 * `transmitOffload` records an ordinary frame as it will be on the wire, its
 * partial layer-4 checksum filled in on a copy (devices offload checksums by
 * default since issue 22, and a capture of "incorrect" checksums helps no
 * one), and a super-frame whole as handed over, its checksum still partial —
 * as tcpdump shows a sending Linux host.
 * Every member it does not observe is forwarded by its base,
 * {@link ForwardingDevice}.
 *
 * @module
 */

import type { Device, FrameSink } from "./device.ts";
import { ForwardingDevice } from "./forwarding_device.ts";
import { completePartialChecksum } from "../wire/checksum.ts";

/** What {@link CaptureDevice} needs of a capture writer (`PcapWriter` has this shape). */
export interface FrameWriter {
  /** Appends one frame captured at `timestampMs` (ms since the Unix epoch, may be fractional). */
  writeFrame(bytes: Uint8Array, offset: number, length: number, timestampMs: number): void;
}

/** Options of {@link CaptureDevice}. */
export interface CaptureOptions {
  /** Clock for timestamps, ms since the Unix epoch; default `Date.now` refined by `performance.now`. */
  now?: () => number;
  /** Which frames to record; default `"both"`. */
  direction?: "both" | "in" | "out";
}

function defaultClock(): () => number {
  const origin = Date.now() - performance.now();
  return () => origin + performance.now();
}

/**
 * Wraps a device and writes every frame in and out to a capture writer.
 * `close()` closes the wrapped device, not the writer.
 *
 * @example
 * ```ts
 * import { CaptureDevice, type FrameWriter } from "./capture.ts";
 * import { MemoryLink } from "./memory_link.ts";
 * const seen: number[] = [];
 * const writer: FrameWriter = { writeFrame: (_b, _o, len, _t) => void seen.push(len) };
 * const [a, b] = MemoryLink.pair();
 * const cap = new CaptureDevice(a, writer);
 * cap.transmit(new Uint8Array(60), 0, 60);
 * b.transmit(new Uint8Array(70), 0, 70);
 * cap.receive({ onFrame() {} }, 8);
 * console.assert(seen.join() === "60,70");
 * cap.close(); b.close();
 * ```
 */
export class CaptureDevice extends ForwardingDevice {
  /** Frames written to the capture. */
  captured = 0;
  /** Frames the writer failed to record (its exceptions are swallowed here). */
  writeErrors = 0;
  #writer: FrameWriter;
  #now: () => number;
  #in: boolean;
  #out: boolean;
  #sink: FrameSink | null = null;
  #intake: FrameSink;
  /** Where an offloaded frame's checksum is completed for the record (grown once as needed). */
  #scratch = new Uint8Array(0);

  /**
   * Creates an instance.
   *
   * @param inner the device to wrap
   * @param writer where frames go (e.g. a `PcapWriter`); the caller closes it
   * @param opts clock, direction filter
   */
  constructor(inner: Device, writer: FrameWriter, opts: CaptureOptions = {}) {
    super(inner);
    this.#writer = writer;
    this.#now = opts.now ?? defaultClock();
    const direction = opts.direction ?? "both";
    this.#in = direction !== "out";
    this.#out = direction !== "in";
    this.#intake = {
      onFrame: (bytes: Uint8Array, offset: number, length: number): void => {
        if (this.#in) this.#record(bytes, offset, length);
        this.#sink!.onFrame(bytes, offset, length);
      },
    };
  }

  #record(bytes: Uint8Array, offset: number, length: number): void {
    try {
      this.#writer.writeFrame(bytes, offset, length, this.#now());
      this.captured++;
    } catch {
      this.writeErrors++;
    }
  }

  /**
   * Not passed on: the wrapped driver keeps completing partial checksums, so
   * the capture holds frames whose checksums tshark can check.
   */
  override get completeRxChecksums(): boolean | undefined {
    return undefined;
  }
  override set completeRxChecksums(_on: boolean | undefined) {}

  /** Delivers up to `budget` ready frames to `sink`; returns how many. */
  override receive(sink: FrameSink, budget: number): number {
    this.#sink = sink;
    try {
      return this.inner.receive(this.#intake, budget);
    } finally {
      this.#sink = null;
    }
  }

  /** Sends one frame; `false` when it was dropped (counted). Frames the inner device refuses are not recorded (they never left). */
  override transmit(bytes: Uint8Array, offset: number, length: number): boolean {
    const ok = this.inner.transmit(bytes, offset, length);
    if (ok && this.#out) this.#record(bytes, offset, length);
    return ok;
  }

  /**
   * Sends one frame with checksum/segmentation offload through the wrapped
   * device (see `Device.transmitOffload`) and records it as handed over.
   *
   * @param bytes frame buffer
   * @param offset start of the Ethernet header
   * @param length frame length
   * @param csumStart frame offset of the layer-4 header
   * @param csumOffset checksum field offset within it
   * @param gsoSize data bytes per segment, 0 = none
   * @returns false when dropped, or when the wrapped device has no offloads
   */
  override transmitOffload(
    bytes: Uint8Array,
    offset: number,
    length: number,
    csumStart: number,
    csumOffset: number,
    gsoSize: number,
  ): boolean {
    const ok = super.transmitOffload(bytes, offset, length, csumStart, csumOffset, gsoSize);
    if (ok && this.#out) {
      if (gsoSize === 0 && csumStart > 0 && csumStart < length) {
        // The frame as the device will put it on the wire: checksum completed on a copy.
        if (this.#scratch.length < length) this.#scratch = new Uint8Array(length);
        const copy = this.#scratch;
        copy.set(bytes.subarray(offset, offset + length));
        completePartialChecksum(copy, csumStart, length - csumStart, csumOffset);
        this.#record(copy, 0, length);
      } else this.#record(bytes, offset, length);
    }
    return ok;
  }
}
