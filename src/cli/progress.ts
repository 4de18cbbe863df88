/**
 * A download progress bar for a terminal: `[#########.........]  45%  1.2 MB / 2.6 MB  3.1 MB/s`,
 * redrawn in place (carriage return) at most a few times per second. Shown
 * only when the stream is a terminal: piped output gets nothing.
 *
 * @module
 */

/** Redraws per second at most. */
const REDRAWS_PER_SECOND = 10;
const MS_PER_SECOND = 1000;
const BAR_WIDTH = 30;
const KIB = 1024;
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/**
 * Bytes in human units: `"1.5 MiB"`.
 *
 * @param n bytes
 * @returns text
 *
 * @example
 * ```ts
 * import { formatBytes } from "./progress.ts";
 * console.assert(formatBytes(1536) === "1.5 KiB" && formatBytes(12) === "12 B");
 * ```
 */
export function formatBytes(n: number): string {
  let u = 0;
  let v = n;
  while (v >= KIB && u < UNITS.length - 1) {
    v /= KIB;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

/** Where the bar is drawn (`Deno.stderr` fits). */
export interface ProgressTarget {
  /** Writes synchronously. */
  writeSync(p: Uint8Array): number;
}

/**
 * A progress bar; give `enabled: false` (not a terminal) and it draws nothing.
 *
 * @example
 * ```ts
 * import { ProgressBar } from "./progress.ts";
 * let text = "";
 * const target = { writeSync: (p: Uint8Array) => { text += new TextDecoder().decode(p); return p.length; } };
 * const bar = new ProgressBar({ target, enabled: true, total: 100, now: () => 0 });
 * bar.update(50);
 * bar.finish();
 * console.assert(text.includes(" 50%") && text.endsWith("\n"));
 * ```
 */
export class ProgressBar {
  #target: ProgressTarget;
  #enabled: boolean;
  #total: number | null;
  #now: () => number;
  #start: number;
  #lastDraw = -Infinity;
  #done = 0;
  #drawn = false;
  #encoder = new TextEncoder();

  /**
   * Creates a bar.
   *
   * @param opts `target` (default stderr), `enabled` (default: the target is a terminal),
   *   `total` bytes when known, `now` clock in ms
   */
  constructor(
    opts: {
      target?: ProgressTarget;
      enabled?: boolean;
      total?: number | null;
      now?: () => number;
    } = {},
  ) {
    this.#target = opts.target ?? Deno.stderr;
    this.#enabled = opts.enabled ?? Deno.stderr.isTerminal();
    this.#total = opts.total ?? null;
    this.#now = opts.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /**
   * Sets the total once it is known (e.g. from Content-Length).
   *
   * @param total bytes, or null when unknown
   */
  setTotal(total: number | null): void {
    this.#total = total;
  }

  /**
   * Records progress and redraws if enough time passed.
   *
   * @param done bytes so far
   */
  update(done: number): void {
    this.#done = done;
    if (!this.#enabled) return;
    const now = this.#now();
    if (now - this.#lastDraw < MS_PER_SECOND / REDRAWS_PER_SECOND) return;
    this.#lastDraw = now;
    this.#draw(now);
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    if (!this.#enabled) return;
    this.#draw(this.#now());
    if (this.#drawn) this.#target.writeSync(this.#encoder.encode("\n"));
  }

  #draw(now: number): void {
    const elapsedS = Math.max((now - this.#start) / MS_PER_SECOND, 1e-3);
    const rate = `${formatBytes(Math.round(this.#done / elapsedS))}/s`;
    let line: string;
    if (this.#total !== null && this.#total > 0) {
      const frac = Math.min(1, this.#done / this.#total);
      const fill = Math.round(frac * BAR_WIDTH);
      line = `[${"#".repeat(fill)}${".".repeat(BAR_WIDTH - fill)}] ${
        String(Math.floor(frac * 100)).padStart(3)
      }%  ${formatBytes(this.#done)} / ${formatBytes(this.#total)}  ${rate}`;
    } else {
      line = `${formatBytes(this.#done)}  ${rate}`;
    }
    this.#target.writeSync(this.#encoder.encode(`\r${line}\x1b[K`));
    this.#drawn = true;
  }
}
