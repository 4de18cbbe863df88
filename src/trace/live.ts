/**
 * {@link LiveCapture}: a capture writer kept in memory, for drawing the
 * ladder of what a running stack just did. Give it to `CaptureDevice` (it has
 * the `FrameWriter` shape), run some traffic, then call
 * {@link LiveCapture.analyze} and draw with `tcpLadder`/`hostLadder`.
 * An optional callback sees each frame as it passes (the CLI's `--verbose`
 * prints one line per frame from it). {@link LiveCapture.toPcap} saves the
 * same frames as a pcap file for Wireshark or `rawstack trace`.
 *
 * Frames are copied (the device reuses its buffers) and kept up to a bound;
 * later frames are counted in `dropped`.
 *
 * @module
 */

import { analyzeCapture, type CaptureAnalysis, type CapturedFrame } from "./connections.ts";
import { PcapWriter } from "../wire/pcap.ts";

/** Default bound on the bytes a {@link LiveCapture} keeps. */
export const LIVE_CAPTURE_MAX_BYTES = 64 * 1024 * 1024;

/** Options of {@link LiveCapture}. */
export interface LiveCaptureOptions {
  /** Keep at most this many frame bytes (default 64 MiB); later frames are dropped. */
  maxBytes?: number;
  /** Called for every frame as it is captured (bytes valid only during the call). */
  onFrame?: (frame: CapturedFrame, index: number) => void;
}

/**
 * An in-memory capture: a `FrameWriter` for `CaptureDevice`.
 *
 * @example
 * ```ts
 * import { LiveCapture } from "./live.ts";
 * import { CaptureDevice } from "../phy/capture.ts";
 * import { MemoryLink } from "../phy/memory_link.ts";
 * import { Stack } from "../stack.ts";
 * import { hostLadder, renderLadderText } from "./ladder.ts";
 * const [da, db] = MemoryLink.pair();
 * const live = new LiveCapture();
 * const a = new Stack({ device: new CaptureDevice(da, live), ipv4: "192.0.2.2/24" });
 * const b = new Stack({ device: db, ipv4: "192.0.2.1/24" });
 * await a.start();
 * await b.start();
 * await a.ping("192.0.2.1", { count: 1 });
 * await a.close();
 * await b.close();
 * const text = renderLadderText(hostLadder(live.analyze(), 0xc0000202, 0xc0000201));
 * console.assert(text.includes("ARP who-has 192.0.2.1") && text.includes("echo reply"));
 * ```
 */
export class LiveCapture {
  /** Frames not kept because the byte bound was reached. */
  dropped = 0;
  readonly #frames: CapturedFrame[] = [];
  readonly #maxBytes: number;
  readonly #onFrame: ((frame: CapturedFrame, index: number) => void) | null;
  #bytes = 0;

  /**
   * Creates an empty capture.
   *
   * @param opts byte bound, per-frame callback
   */
  constructor(opts: LiveCaptureOptions = {}) {
    this.#maxBytes = opts.maxBytes ?? LIVE_CAPTURE_MAX_BYTES;
    this.#onFrame = opts.onFrame ?? null;
  }

  /**
   * Records one frame (the `FrameWriter` method `CaptureDevice` calls).
   *
   * @param bytes buffer holding the frame
   * @param offset where it starts
   * @param length its length
   * @param timestampMs capture time, ms since the Unix epoch
   */
  writeFrame(bytes: Uint8Array, offset: number, length: number, timestampMs: number): void {
    if (this.#bytes + length > this.#maxBytes) {
      this.dropped++;
      return;
    }
    const frame: CapturedFrame = { timestampMs, data: bytes.slice(offset, offset + length) };
    this.#frames.push(frame);
    this.#bytes += length;
    if (this.#onFrame !== null) this.#onFrame(frame, this.#frames.length);
  }

  /** Frames kept so far. */
  get frameCount(): number {
    return this.#frames.length;
  }

  /**
   * The frames kept so far, in capture order.
   *
   * @returns a copy of the list (the frames themselves are shared)
   */
  frames(): CapturedFrame[] {
    return this.#frames.slice();
  }

  /** Forgets every frame (e.g. after the setup, before the part worth drawing). */
  clear(): void {
    this.#frames.length = 0;
    this.#bytes = 0;
  }

  /**
   * Decodes the frames and follows the TCP connections.
   *
   * @returns the analysis, as for a pcap file
   */
  analyze(): CaptureAnalysis {
    return analyzeCapture(this.#frames);
  }

  /**
   * The frames as a pcap file (microsecond timestamps, Ethernet).
   *
   * @returns the file's bytes
   */
  toPcap(): Uint8Array {
    const w = new PcapWriter();
    for (const f of this.#frames) w.writeFrame(f.data, 0, f.data.length, f.timestampMs);
    return w.toBytes();
  }
}
