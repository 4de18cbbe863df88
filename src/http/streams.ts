/**
 * Bridges between `node:stream` readables and Web `ReadableStream`s, with
 * back-pressure (the node side is paused while the web side's queue is
 * full) and a caller-chosen mapping of errors.
 *
 * @module
 */

import type { Readable } from "node:stream";

/** Web stream queue size before the node side is paused, bytes. */
export const WEB_STREAM_HIGH_WATER_BYTES = 64 * 1024;

/**
 * A `ReadableStream` of the bytes a node readable yields. Pausing follows the
 * web side's demand; cancelling destroys the node side.
 *
 * @param source a node readable (an `IncomingMessage`)
 * @param mapError turns a node-side error (or a premature close, `null`) into the error the web
 *   stream fails with
 * @param isComplete says whether an `"close"` without `"end"` is still a complete body
 * @param deferEnd close the web stream a turn after `"end"` (see the comment at its use)
 * @returns the web stream
 *
 * @example
 * ```ts
 * import { Readable } from "node:stream";
 * import { nodeToWebStream } from "./streams.ts";
 * const web = nodeToWebStream(Readable.from([new Uint8Array([1, 2])]), (e) => new TypeError(String(e)));
 * const got = await new Response(web).arrayBuffer();
 * console.assert(got.byteLength === 2);
 * ```
 */
export function nodeToWebStream(
  source: Readable,
  mapError: (e: unknown) => unknown,
  isComplete: () => boolean = () => false,
  deferEnd = false,
): ReadableStream<Uint8Array> {
  let done = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      source.on("data", (chunk: Uint8Array | string) => {
        if (done) return;
        const bytes = typeof chunk === "string"
          ? new TextEncoder().encode(chunk)
          : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        controller.enqueue(bytes);
        if ((controller.desiredSize ?? 0) <= 0) source.pause();
      });
      source.once("end", () => {
        if (done) return;
        done = true;
        // The end is reported a turn later: node:http hands a kept-alive connection back to
        // its pool right after "end" (process.nextTick), and a caller that sends its next
        // request as soon as the body is read should find it there.
        if (deferEnd) setImmediate(() => controller.close());
        else controller.close();
      });
      source.on("error", (e) => {
        if (done) return;
        done = true;
        controller.error(mapError(e));
      });
      source.once("close", () => {
        if (done) return;
        done = true;
        if (isComplete()) controller.close();
        else controller.error(mapError(null));
      });
      source.pause();
    },
    pull() {
      if (!done) source.resume();
    },
    cancel() {
      done = true;
      // A body already received whole is dropped, and its connection stays usable (kept alive);
      // one still arriving can only be stopped by closing the connection.
      if (isComplete()) source.resume();
      else source.destroy();
    },
  }, { highWaterMark: WEB_STREAM_HIGH_WATER_BYTES, size: (c) => c.byteLength });
}
