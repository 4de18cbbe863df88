/**
 * `stack.serve`'s plain-HTTP server: HTTP/1.1 (RFC 9112) straight on a
 * rawstack {@link TcpConn}'s bytes — one read buffer per connection, the head
 * parsed in place by {@link ./h1_parse.ts}, the response head and a small
 * body sent in one write — with `Request`/`Response` semantics as
 * `Deno.serve` has them. It replaced `node:http` over a `node:stream` Duplex
 * on the plain path, measured over a MemoryLink (client, both stacks and the
 * server in one process, keep-alive, 20,000 requests, A/B in one run): 109–123
 * µs of CPU per request before, 54–66 µs after; `node:http`, node streams and
 * the rest of Deno's node compatibility layer were 29 % of the CPU profile and
 * the garbage collector 17 % (now 5 %, 13 %). The TLS path still uses
 * `node:http` over `node:tls` (serve.ts).
 *
 * Two fast paths read Deno's internal slots of `Request` and `Response`
 * (deno_slots.ts): a string or bytes response body is written without a
 * stream, and the parsed fields go straight into the `Request`'s header list.
 *
 * Per connection: requests are read and answered one after another, so
 * pipelined requests are answered in order (RFC 9112 §9.3.2) and the bytes of
 * a next request wait in the buffer while a handler runs. A request body is
 * a stream read from the same buffer and connection only when the handler
 * asks (`100 Continue` is sent on the first read, RFC 9110 §10.1.1); what the
 * handler left unread is drained (up to {@link H1_DRAIN_LIMIT_BYTES}) before
 * the next request, or the connection is closed. A response body of one
 * chunk gets a `Content-Length`; a streamed one is chunked (RFC 9112 §7.1),
 * or close-delimited for an HTTP/1.0 client (§6.3 item 8).
 *
 * Closing with unread input uses a lingering close (half-close, then read
 * and discard for at most {@link H1_LINGER_MS}), as Apache and nginx do, so
 * that a RST does not destroy the response before the client read it
 * (RFC 9112 §9.6).
 *
 * @module
 */

import { STATUS_CODES } from "node:http";
import type { TcpConn } from "../socket/tcp_conn.ts";
import type { TcpListener } from "../socket/tcp_listener.ts";
import type { NetAddr } from "../socket/addr.ts";
import {
  checkPartialHead,
  ChunkedDecoder,
  findHeadEnd,
  HeadError,
  type HeadLimits,
  parseRequestHead,
  type RequestHead,
} from "./h1_parse.ts";
import { LazySignal, makeRequest, type StaticResponse, staticResponse } from "./deno_slots.ts";
import { encodeAscii, HeadCache, headOf, httpDate } from "./h1_head.ts";

/** Most unread request-body bytes drained after a response to keep the connection (nginx discards). */
export const H1_DRAIN_LIMIT_BYTES = 256 * 1024;
/** Longest lingering close, ms (nginx `lingering_timeout` is 5 s). */
export const H1_LINGER_MS = 2000;
/** Most bytes read and discarded by a lingering close. */
const LINGER_BYTES = 256 * 1024;
/** Smallest read buffer of a connection, bytes. */
const MIN_BUFFER_BYTES = 16 * 1024;
/** Free read buffers kept for the next connections. */
const BUFFER_POOL_SIZE = 64;
/** Bytes read straight into a request-body chunk at most. */
const BODY_CHUNK_BYTES = 64 * 1024;
/** Largest response body sent in the same write as its head, bytes. */
const COALESCE_BODY_BYTES = 16 * 1024;
/** Initial size of the server's scratch buffer for a head and a small body. */
const SCRATCH_BYTES = 4 * 1024;
/** Largest the scratch buffer grows (a head and a coalesced body), bytes. */
const SCRATCH_MAX_BYTES = COALESCE_BODY_BYTES + 16 * 1024;
/** Longest request line reported to `onResponse`, characters. */
const MAX_REPORTED_REQUEST_LINE = 1024;

/** Timer functions (serve.ts's `ServeTimers`). */
export interface H1Timers {
  /** Calls `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer. */
  clearTimeout(handle: unknown): void;
  /** The clock of `setTimeout`, ms (optional: with it, timeouts move deadlines, see `#arm`). */
  now?(): number;
}

/** Counters of a served listener (serve.ts's `StackServeStats`, for HTTP and HTTPS alike). */
export interface H1Stats {
  /** Connections handed to the HTTP server. */
  accepted: number;
  /** Connections closed at once because `maxConnections` were open. */
  refused: number;
  /** Connections open now. */
  active: number;
  /** Responses sent. */
  requests: number;
  /** Connections closed because the request head did not arrive in time. */
  headerTimeouts: number;
  /** Kept-alive connections closed for want of a next request. */
  idleTimeouts: number;
  /** Malformed requests (answered 400/414/431/501/505/417 by the parser, or dropped). */
  badRequests: number;
  /** Handlers that threw (answered by `onError` or 500). */
  handlerErrors: number;
  /** Connections closed because the client took no response data in time. */
  sendTimeouts: number;
}

/** What {@link H1Server} reports per response (serve.ts's `StackServed`). */
export interface H1Served {
  /** The client. */
  remoteAddr: NetAddr;
  /** Method and target, or null for a refused request. */
  request: { method: string; target: string } | null;
  /** A refused request's first line (raw bytes as latin1), or null. */
  requestLine: string | null;
  /** Status sent. */
  status: number;
}

/** Configuration of an {@link H1Server}. */
export interface H1Config {
  /** The handler (`Deno.serve`'s). */
  handler: (
    request: Request,
    info: { remoteAddr: NetAddr; completed: Promise<void> },
  ) => Response | Promise<Response>;
  /** Builds the response for a handler that threw. */
  onError?: (error: unknown) => Response | Promise<Response>;
  /** Called after each response. */
  onResponse?: (served: H1Served) => void;
  /** Timers. */
  timers: H1Timers;
  /**
   * A recent reading of `timers.now()` (the stack's last clock read, in this event-loop turn):
   * header and idle deadlines start from it instead of a clock read per request; whether one
   * expired is still checked with `timers.now()`. A reading a little old only makes a deadline
   * that much earlier, never later.
   */
  recentMs?: () => number;
  /** Time for a request head, ms (0 = none). */
  headerTimeoutMs: number;
  /** Wait for the next request, ms (0 = none). */
  idleTimeoutMs: number;
  /** Wait for the client to take response bytes, ms (0 = none). */
  sendTimeoutMs: number;
  /** Requests per connection. */
  maxRequests: number;
  /** Open connections at most. */
  maxConnections: number;
  /** Head limits. */
  limits: HeadLimits;
  /** Where the server listens (the URL's host when a request has no Host). */
  addr: NetAddr;
}

const bufferPool: Uint8Array[] = [];

/**
 * The plain-HTTP server of {@link ../http/serve.ts}: accepts from a listener and
 * runs an {@link H1Connection} per connection.
 */
export class H1Server {
  readonly #cfg: H1Config;
  readonly #listener: TcpListener;
  readonly #conns = new Set<H1Connection>();
  readonly stats: H1Stats = {
    accepted: 0,
    refused: 0,
    active: 0,
    requests: 0,
    headerTimeouts: 0,
    idleTimeouts: 0,
    badRequests: 0,
    handlerErrors: 0,
    sendTimeouts: 0,
  };
  #shuttingDown = false;
  #acceptDone = false;
  #finishedResolve!: () => void;
  /** Settles once shut down, with every connection closed. */
  readonly finished: Promise<void> = new Promise((r) => this.#finishedResolve = r);
  readonly bufferBytes: number;
  /** The last whole-body response head (see {@link HeadCache}). */
  readonly headCache: HeadCache = new HeadCache();
  /**
   * Where a head and a small body are put together before one synchronous `tryWrite` copies
   * them into the send ring (a fresh array per response cost an off-heap allocation each).
   */
  scratch: Uint8Array = new Uint8Array(SCRATCH_BYTES);

  /**
   * Starts accepting.
   *
   * @param listener the rawstack listener
   * @param cfg handler, limits, timeouts
   */
  constructor(listener: TcpListener, cfg: H1Config) {
    this.#listener = listener;
    this.#cfg = cfg;
    this.bufferBytes = Math.max(MIN_BUFFER_BYTES, cfg.limits.maxHeadBytes);
    void this.#accept();
  }

  /** The configuration. */
  get cfg(): H1Config {
    return this.#cfg;
  }

  /** Whether {@link shutdown} was called. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        if (this.#conns.size >= this.#cfg.maxConnections) {
          this.stats.refused++;
          conn.close();
          continue;
        }
        this.stats.accepted++;
        try {
          conn.setNoDelay(true); // http.Server's noDelay default
        } catch {
          // Closed already: the connection's first read says so.
        }
        const c = new H1Connection(this, conn);
        this.#conns.add(c);
        this.stats.active = this.#conns.size;
        void c.run();
      }
    } catch {
      // The listener closed (with the stack).
    }
    this.#acceptDone = true;
    this.#maybeFinished();
  }

  /** A read buffer (pooled). */
  takeBuffer(): Uint8Array {
    return bufferPool.pop() ?? new Uint8Array(this.bufferBytes);
  }

  /** Gives a read buffer back. */
  returnBuffer(buf: Uint8Array): void {
    if (buf.length === this.bufferBytes && bufferPool.length < BUFFER_POOL_SIZE) {
      bufferPool.push(buf);
    }
  }

  /** A connection ended. */
  closed(c: H1Connection): void {
    this.#conns.delete(c);
    this.stats.active = this.#conns.size;
    this.#maybeFinished();
  }

  #maybeFinished(): void {
    if (this.#shuttingDown && this.#acceptDone && this.#conns.size === 0) this.#finishedResolve();
  }

  /** Stops accepting, closes idle connections; busy ones close after their response. */
  shutdown(): Promise<void> {
    if (!this.#shuttingDown) {
      this.#shuttingDown = true;
      this.#listener.close();
      for (const c of this.#conns) c.closeIfIdle();
      this.#maybeFinished();
    }
    return this.finished;
  }
}

/** A request body read from the connection's buffer (and the connection) on demand. */
class BodySource {
  readonly #c: H1Connection;
  #remaining: number;
  readonly #decoder: ChunkedDecoder | null;
  #continueNeeded: boolean;
  #busy: Promise<unknown> | null = null;
  /** All of the body was read. */
  done = false;
  /** Set when the body was malformed (chunked) or cut short: the connection must close. */
  failed: string | null = null;
  /** Whether the handler read anything (or the 100 Continue went out). */
  started = false;

  constructor(c: H1Connection, head: RequestHead) {
    this.#c = c;
    this.#remaining = head.chunked ? -1 : head.contentLength;
    this.#decoder = head.chunked ? new ChunkedDecoder(c.server.cfg.limits.maxHeadBytes) : null;
    this.#continueNeeded = head.expectContinue;
  }

  /** The next piece of the body (a copy), or null at its end; serialised. */
  read(): Promise<Uint8Array | null> {
    const run = (this.#busy ?? Promise.resolve()).then(() => this.#read());
    this.#busy = run.catch(() => {});
    return run;
  }

  /** Reads and discards the rest, at most `limit` bytes. @returns whether the body ended */
  async drain(limit: number): Promise<boolean> {
    if (this.#busy !== null) await this.#busy;
    let n = 0;
    while (!this.done && this.failed === null) {
      if (!this.started && this.#continueNeeded) return false; // the client waits for us
      if (this.#remaining > limit - n) return false;
      const chunk = await this.#read().catch(() => null);
      if (chunk === null) break;
      n += chunk.length;
      if (n > limit) return false;
    }
    return this.done && this.failed === null;
  }

  async #read(): Promise<Uint8Array | null> {
    if (this.done) return null;
    if (this.failed !== null) throw new TypeError(`request body: ${this.failed}`);
    this.started = true;
    const c = this.#c;
    if (this.#continueNeeded) {
      this.#continueNeeded = false;
      await c.send(CONTINUE);
    }
    for (;;) {
      if (this.#remaining === 0) {
        this.done = true;
        return null;
      }
      if (c.start < c.end) {
        const buf = c.buf;
        if (this.#decoder === null) {
          const n = Math.min(this.#remaining, c.end - c.start);
          const chunk = buf.slice(c.start, c.start + n);
          c.start += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.done = true;
          return chunk;
        }
        const d = this.#decoder;
        const next = d.decode(buf, c.start, c.end);
        if (next < 0) {
          this.failed = d.error!;
          throw new TypeError(`request body: ${d.error}`);
        }
        const chunk = d.dataEnd > d.dataStart ? buf.slice(d.dataStart, d.dataEnd) : null;
        c.start = next;
        if (d.done) this.done = true;
        if (chunk !== null) return chunk;
        if (this.done) return null;
        continue;
      }
      // Nothing buffered: a Content-Length body is read straight into its chunk.
      c.start = c.end = 0;
      if (this.#decoder === null && this.#remaining >= BODY_CHUNK_BYTES / 4) {
        const chunk = new Uint8Array(Math.min(this.#remaining, BODY_CHUNK_BYTES));
        const n = await c.readInto(chunk);
        if (n === null) return this.#cut();
        this.#remaining -= n;
        if (this.#remaining === 0) this.done = true;
        return chunk.subarray(0, n);
      }
      const n = await c.readInto(c.buf);
      if (n === null) return this.#cut();
      c.end = n;
    }
  }

  #cut(): never {
    this.failed = "the connection ended before the body";
    throw new TypeError(`request body: ${this.failed}`);
  }
}

const EMPTY = new Uint8Array(0);
const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");
const CHUNK_END = new TextEncoder().encode("\r\n");
const LAST_CHUNK = new TextEncoder().encode("0\r\n\r\n");

/**
 * What the handler gets besides the request (`Deno.ServeHandlerInfo`). A class, not an object
 * literal with a getter: no closures per request. `completed` is made only when the handler
 * looks at it (most never do), settled already if the exchange ended before.
 */
class ServeInfo {
  /** The client. */
  readonly remoteAddr: NetAddr;
  #completed: Promise<void> | null = null;
  #resolve: (() => void) | null = null;
  #settled = false;

  constructor(remoteAddr: NetAddr) {
    this.remoteAddr = remoteAddr;
  }

  /** Settles when the response was sent (or the connection failed). */
  get completed(): Promise<void> {
    if (this.#completed === null) {
      this.#completed = this.#settled
        ? Promise.resolve()
        : new Promise<void>((resolve) => this.#resolve = resolve);
    }
    return this.#completed;
  }

  /** The exchange ended. */
  settle(): void {
    this.#settled = true;
    this.#resolve?.();
    this.#resolve = null;
  }
}

/** One connection of an {@link H1Server}. */
class H1Connection {
  readonly server: H1Server;
  readonly conn: TcpConn;
  buf: Uint8Array;
  /** Unconsumed bytes are `buf[start..end)`. */
  start = 0;
  end = 0;
  #timer: unknown = null;
  /** When the pending timer fires (clock mode). */
  #timerDue = 0;
  /** The wait the timer guards, and its deadline (clock mode). */
  #waitKind: "header" | "idle" | null = null;
  #deadline = 0;
  #requests = 0;
  #busy = false;
  #dead = false;
  #remote: NetAddr;
  #signal: LazySignal | null = null;
  #watch: Promise<void> | null = null;
  #watchStop = false;
  #watching = false;
  /** The client's FIN (or reset) arrived. */
  #peerEnded = false;
  #reported = false;
  /** The handler's info of the request being answered. */
  #info: ServeInfo | null = null;

  constructor(server: H1Server, conn: TcpConn) {
    this.server = server;
    this.conn = conn;
    this.buf = server.takeBuffer();
    this.#remote = conn.remoteAddr;
  }

  /** Serves requests until the connection ends. */
  async run(): Promise<void> {
    try {
      for (;;) {
        const head = await this.#readHead();
        if (head === null) break;
        if (head instanceof HeadError) {
          await this.#refuse(head);
          break;
        }
        if (!await this.#exchange(head)) break;
      }
    } catch {
      // A failed connection (reset, closed by a timeout): nothing more to do.
    } finally {
      this.#finish();
    }
  }

  /** Closes the connection now if it waits for a request, or its client left (shutdown). */
  closeIfIdle(): void {
    if (!this.#busy || this.#peerEnded) this.#kill();
  }

  /**
   * While a handler runs, the connection is read on (into the buffer's free space, so pipelined
   * requests wait there and an unread buffer pushes back through the window) to see the client
   * go away, as `Deno.serve` does: then the request's signal is aborted; a reset also closes
   * the connection.
   */
  #startWatch(): void {
    if (this.#watch !== null || this.#dead || this.#peerEnded) return;
    this.#watchStop = false;
    this.#watching = true;
    const watch = this.#watchLoop();
    // The loop may have ended before its first await (a full buffer): then there is no watch.
    if (this.#watching) this.#watch = watch;
  }

  async #watchLoop(): Promise<void> {
    try {
      if (this.start === this.end) this.start = this.end = 0;
      while (!this.#dead && this.end < this.buf.length) {
        const n = await this.readInto(this.#free());
        if (n === null) {
          this.#peerEnded = true;
          this.#signal?.abort();
          if (this.conn.error !== null || this.conn.closed) this.#kill();
          return;
        }
        this.end += n;
        if (this.#watchStop) return;
      }
    } finally {
      this.#watching = false;
      this.#watch = null;
    }
  }

  /** The buffer's free space after `end` (the buffer itself when empty: no view per read). */
  #free(): Uint8Array {
    return this.end === 0 ? this.buf : this.buf.subarray(this.end);
  }

  /** Reads into `p`; null at the end of the stream or when the connection failed. */
  async readInto(p: Uint8Array): Promise<number | null> {
    if (this.#dead) return null;
    try {
      return await this.conn.read(p);
    } catch {
      return null;
    }
  }

  /**
   * Sends `p` whole. The send timeout runs only while the send ring is full, and starts over
   * whenever it took bytes (nginx `send_timeout`).
   *
   * @returns false when the connection failed or timed out
   */
  async send(p: Uint8Array): Promise<boolean> {
    if (this.#dead) return false;
    const conn = this.conn;
    const ms = this.server.cfg.sendTimeoutMs;
    try {
      if (!(ms > 0) || p.length <= conn.connection.writableLength) {
        await conn.write(p);
        return !this.#dead;
      }
      let off = 0;
      while (off < p.length) {
        const room = Math.max(1, conn.connection.writableLength);
        const piece = p.subarray(off, Math.min(p.length, off + room));
        const timers = this.server.cfg.timers;
        const t = timers.setTimeout(() => {
          this.server.stats.sendTimeouts++;
          this.#kill();
        }, ms);
        try {
          await conn.write(piece);
        } finally {
          timers.clearTimeout(t);
        }
        if (this.#dead) return false;
        off += piece.length;
      }
      return true;
    } catch {
      this.#dead = true;
      return false;
    }
  }

  /**
   * Sends `p[0..n)` without a promise when the send ring takes it all now; else the rest as
   * {@link send} does (copied first: `p` may be the server's scratch buffer).
   *
   * @returns false when the connection failed or timed out (a promise only if it had to wait)
   */
  #sendNow(p: Uint8Array, n: number): boolean | Promise<boolean> {
    if (this.#dead) return false;
    let off: number;
    try {
      off = this.conn.tryWrite(n === p.length ? p : p.subarray(0, n));
    } catch {
      this.#dead = true;
      return false;
    }
    if (off === n) return !this.#dead;
    return this.send(p.slice(off, n));
  }

  /**
   * Starts the header or idle wait. With a clock (`timers.now`) the connection keeps one timer
   * and moves a deadline: a timer still pending that fires no later than the new deadline is
   * kept, and on expiry it re-arms itself for what is left (nginx and Go check deadlines the same
   * way). Arming a timer per request cost ~20 % of a kept-alive request's CPU. Without a clock
   * (tests' manual timers) each wait arms and cancels its own timer.
   */
  #arm(kind: "header" | "idle"): void {
    const cfg = this.server.cfg;
    const timers = cfg.timers;
    const ms = kind === "header" ? cfg.headerTimeoutMs : cfg.idleTimeoutMs;
    const on = ms > 0 && Number.isFinite(ms);
    if (timers.now === undefined) {
      this.#disarm();
      if (!on) return;
      this.#waitKind = kind;
      this.#timer = timers.setTimeout(() => {
        this.#timer = null;
        this.#expired();
      }, ms);
      return;
    }
    if (!on) {
      this.#waitKind = null;
      return;
    }
    const deadline = (cfg.recentMs !== undefined ? cfg.recentMs() : timers.now()) + ms;
    this.#waitKind = kind;
    this.#deadline = deadline;
    if (this.#timer !== null) {
      if (this.#timerDue <= deadline) return;
      timers.clearTimeout(this.#timer);
    }
    this.#schedule(ms, deadline);
  }

  #schedule(ms: number, due: number): void {
    this.#timerDue = due;
    this.#timer = this.server.cfg.timers.setTimeout(() => {
      this.#timer = null;
      const timers = this.server.cfg.timers;
      if (this.#waitKind === null || this.#dead) return;
      if (timers.now !== undefined) {
        const left = this.#deadline - timers.now();
        if (left > 0) {
          this.#schedule(left, this.#deadline);
          return;
        }
      }
      this.#expired();
    }, ms);
  }

  #expired(): void {
    if (this.#waitKind === "header") this.server.stats.headerTimeouts++;
    else if (this.#waitKind === "idle") this.server.stats.idleTimeouts++;
    else return;
    this.#waitKind = null;
    this.#kill();
  }

  /** Ends the wait; with a clock the timer stays for the next wait (see {@link #arm}). */
  #disarm(): void {
    this.#waitKind = null;
    if (this.server.cfg.timers.now === undefined) this.#clearTimer();
  }

  #clearTimer(): void {
    if (this.#timer !== null) {
      this.server.cfg.timers.clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  /** Closes at once (timeouts, shutdown): pending reads and writes end. */
  #kill(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#waitKind = null;
    this.#clearTimer();
    this.#signal?.abort();
    this.conn.close();
    this.#reportClosed();
  }

  /** The next request head: null when the connection ended first. */
  async #readHead(): Promise<RequestHead | HeadError | null> {
    const limits = this.server.cfg.limits;
    this.#watchStop = true; // a watch still reading hands over with its next bytes
    let idle = this.#requests > 0 && this.start === this.end;
    this.#arm(idle ? "idle" : "header");
    if (this.#watch === null && this.start === this.end) this.start = this.end = 0;
    let scanned = this.start;
    for (;;) {
      if (this.start < this.end) {
        if (idle) {
          // The next request began: from its first byte, the header timeout runs.
          idle = false;
          this.#arm("header");
        }
        const found = findHeadEnd(this.buf, this.start, scanned, this.end);
        if (found instanceof HeadError) return found;
        if (found >= 0) {
          this.#disarm();
          return parseRequestHead(this.buf, this.start, found, limits);
        }
        const partial = checkPartialHead(this.buf, this.start, this.end, limits);
        if (partial !== null) return partial;
        scanned = this.end;
      }
      if (this.#watch !== null) {
        await this.#watch;
        continue;
      }
      if ((this.server.shuttingDown || this.#peerEnded) && this.start === this.end) return null;
      if (this.#peerEnded) return new HeadError(400, "incomplete request head");
      if (this.end === this.buf.length) {
        // Room for the rest of the head: move it to the front.
        this.buf.copyWithin(0, this.start, this.end);
        scanned -= this.start;
        this.end -= this.start;
        this.start = 0;
      }
      const n = await this.readInto(this.#free());
      if (n === null) return null;
      this.end += n;
    }
  }

  /** Answers a refused request head and ends the connection. */
  async #refuse(err: HeadError): Promise<void> {
    const server = this.server;
    server.stats.badRequests++;
    const reason = STATUS_CODES[err.status] ?? "Bad Request";
    await this.send(
      encodeAscii(
        `HTTP/1.1 ${err.status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
      ),
    );
    const onResponse = server.cfg.onResponse;
    if (onResponse !== undefined) {
      let lineEnd = this.buf.indexOf(13, this.start);
      if (lineEnd === -1 || lineEnd > this.end) lineEnd = this.end;
      const n = Math.min(lineEnd - this.start, MAX_REPORTED_REQUEST_LINE);
      let line = "";
      for (let i = 0; i < n; i++) line += String.fromCharCode(this.buf[this.start + i]);
      onResponse({
        remoteAddr: this.#remote,
        request: null,
        requestLine: line,
        status: err.status,
      });
    }
  }

  /** One request and its response. @returns whether the connection stays open */
  async #exchange(head: RequestHead): Promise<boolean> {
    const server = this.server;
    const cfg = server.cfg;
    this.#busy = true;
    this.#requests++;
    this.start += head.headBytes;
    let keep = head.keepAlive && this.#requests < cfg.maxRequests && !server.shuttingDown;

    const url = requestUrl(head, cfg.addr);
    if (url === null) {
      this.start -= head.headBytes;
      await this.#refuse(new HeadError(400, "bad request target"));
      return false;
    }
    const framed = head.chunked || head.contentLength > 0;
    const source = framed ? new BodySource(this, head) : null;
    const method = head.method;
    const exposeBody = source !== null && method !== "GET" && method !== "HEAD";
    const signal = this.#signal = new LazySignal();
    let request: Request;
    try {
      request = makeRequest(
        signal,
        url,
        method,
        head.headers,
        exposeBody ? bodyStream(source!) : null,
      );
    } catch {
      // A method or field value the Fetch API refuses (e.g. CONNECT, TRACE).
      this.start -= head.headBytes;
      await this.#refuse(new HeadError(400, "request refused by the Fetch API"));
      return false;
    }
    const info = this.#info = new ServeInfo(this.#remote);

    let response: Response;
    try {
      const made = cfg.handler(request, info);
      if (made instanceof Promise) {
        // An async handler: watch the connection meanwhile (a synchronous one cannot see it).
        if (source === null) this.#startWatch();
        response = await made;
      } else response = made;
      if (!(response instanceof Response)) {
        throw new TypeError("the handler did not return a Response");
      }
    } catch (e) {
      server.stats.handlerErrors++;
      try {
        response = cfg.onError !== undefined
          ? await cfg.onError(e)
          : new Response("Internal Server Error", { status: 500 });
      } catch {
        response = new Response("Internal Server Error", { status: 500 });
      }
    }
    if (source !== null && source.failed !== null && !this.#dead) {
      // A malformed request body: the request is refused whatever the handler made of it.
      await response.body?.cancel().catch(() => {});
      server.stats.badRequests++;
      const reply = "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
      await this.send(encodeAscii(reply));
      this.#done(false);
      return false;
    }
    if (source !== null && !source.started && head.expectContinue) keep = false;
    if (this.#dead) {
      await response.body?.cancel().catch(() => {});
      this.#done(false);
      return false;
    }
    const written = this.#writeResponse(head, response, keep);
    keep = typeof written === "boolean" ? written : await written;
    if (keep && source !== null && !source.done) {
      this.#arm("header");
      keep = await source.drain(H1_DRAIN_LIMIT_BYTES);
      this.#disarm();
      if (source.failed !== null) server.stats.badRequests++;
    }
    const ok = !this.#dead;
    if (ok) {
      server.stats.requests++;
      cfg.onResponse?.({
        remoteAddr: this.#remote,
        request: { method, target: head.target },
        requestLine: null,
        status: response.status,
      });
    }
    this.#done(ok);
    return keep && ok && !server.shuttingDown;
  }

  /** The exchange ended: the request's signal and `completed`. */
  #done(sent: boolean): void {
    if (!sent) this.#signal?.abort();
    this.#signal = null;
    this.#info?.settle();
    this.#info = null;
    this.#busy = false;
  }

  /**
   * Sends a response: head, then the body with `content-length` when it is one chunk,
   * chunked when streamed (close-delimited for HTTP/1.0).
   *
   * @returns whether the connection may stay open
   */
  #writeResponse(
    head: RequestHead,
    response: Response,
    keep: boolean,
  ): boolean | Promise<boolean> {
    const status = response.status;
    const noBody = status < 200 || status === 204 || status === 304 || head.method === "HEAD";
    const fixed = staticResponse(response);
    const cacheable = fixed !== null && fixed.body !== null && !noBody &&
      fixed.body.length > 0 && fixed.body.length <= COALESCE_BODY_BYTES;
    if (cacheable) {
      const cache = this.server.headCache;
      const cached = cache.get(status, response.statusText, fixed.fields, fixed.body!.length, keep);
      if (cached !== null) {
        // The same inputs as the cached head: its `content-length` is the body's, and a
        // `connection: close` among the fields made it a closing head (keep false) then too.
        if (fixed.holder !== null) fixed.holder.consumed = true;
        return this.#sendHeadBytes(cached, cache.keepOut, fixed.body!);
      }
    }
    return this.#writeBuilt(head, response, keep, fixed, cacheable);
  }

  /** {@link #writeResponse} when no cached head fits: builds the head from the response. */
  async #writeBuilt(
    head: RequestHead,
    response: Response,
    keep: boolean,
    fixed: StaticResponse | null,
    cacheable: boolean,
  ): Promise<boolean> {
    const keepIn = keep;
    const status = response.status;
    const bodiless = status < 200 || status === 204 || status === 304;
    const noBody = bodiless || head.method === "HEAD";
    const cache = this.server.headCache;
    const fields: Iterable<[string, string]> = fixed?.fields ?? response.headers;
    let text = `HTTP/1.1 ${status} ${response.statusText || STATUS_CODES[status] || ""}\r\n`;
    let length = -1;
    let hasDate = false;
    for (const [name, value] of fields) {
      switch (name) {
        case "content-length":
          length = Number(value);
          if (!Number.isSafeInteger(length) || length < 0) length = -1;
          continue;
        case "transfer-encoding":
        case "keep-alive":
          continue; // framing is ours
        case "connection":
          if (/(^|,)\s*close\s*(,|$)/i.test(value)) keep = false;
          continue;
        case "date":
          hasDate = true;
      }
      text += `${name}: ${value}\r\n`;
    }
    if (!hasDate) text += `date: ${httpDate()}\r\n`;
    if (fixed !== null) {
      // A body known whole (a string or bytes): no stream, no reads (see `staticResponse`).
      const bytes = fixed.body;
      if (bytes === null || noBody || length === -1 || length === bytes.length) {
        // Used as `response.text()` leaves it: a second use fails as in the general path.
        if (fixed.holder !== null) fixed.holder.consumed = true;
      }
      if (bytes === null || noBody) {
        if (length >= 0 && (head.method === "HEAD" || status === 304)) {
          text += `content-length: ${length}\r\n`;
        } else if (!bodiless && head.method !== "HEAD") text += "content-length: 0\r\n";
        return await this.#sendHead(text, keep, head, null);
      }
      const n = bytes.length;
      if (n === 0) {
        text += "content-length: 0\r\n";
        return await this.#sendHead(text, keep, head, null);
      }
      if (length === -1 || length === n) {
        text += `content-length: ${n}\r\n`;
        if (!cacheable) return await this.#sendHead(text, keep, head, bytes);
        const headBytes = headOf(text, keep);
        cache.set(status, response.statusText, fixed.fields, n, keepIn, keep, headBytes);
        return await this.#sendHeadBytes(headBytes, keep, bytes);
      }
      // A Content-Length that does not match the body: the general path handles it.
    }
    const body = response.body;

    if (body === null || noBody) {
      if (body !== null) await body.cancel().catch(() => {});
      if (length >= 0 && (head.method === "HEAD" || status === 304)) {
        text += `content-length: ${length}\r\n`;
      } else if (!bodiless && head.method !== "HEAD") text += "content-length: 0\r\n";
      return await this.#sendHead(text, keep, head, null);
    }

    const reader = body.getReader();
    try {
      const first = await reader.read();
      if (first.done) {
        text += "content-length: 0\r\n";
        return await this.#sendHead(text, keep, head, null);
      }
      const second = await reader.read();
      if (second.done && (length === -1 || length === first.value.length)) {
        text += `content-length: ${first.value.length}\r\n`;
        return await this.#sendHead(text, keep, head, first.value);
      }
      // Streamed: the handler's Content-Length, else chunked (close-delimited for HTTP/1.0).
      let mode: "length" | "chunked" | "close";
      if (length >= 0) {
        mode = "length";
        text += `content-length: ${length}\r\n`;
      } else if (head.minor === 1) {
        mode = "chunked";
        text += "transfer-encoding: chunked\r\n";
      } else {
        mode = "close";
        keep = false;
      }
      keep = await this.#sendHead(text, keep, head, null);
      let sent = 0;
      let chunk: ReadableStreamReadResult<Uint8Array> = first;
      let next: ReadableStreamReadResult<Uint8Array> | null = second;
      while (!chunk.done) {
        let bytes = chunk.value;
        if (mode === "length" && sent + bytes.length > length) {
          bytes = bytes.subarray(0, length - sent); // more than announced: cut, then close
          keep = false;
        }
        if (bytes.length > 0) {
          const ok = mode === "chunked"
            ? await this.send(encodeAscii(`${bytes.length.toString(16)}\r\n`)) &&
              await this.send(bytes) && await this.send(CHUNK_END)
            : await this.send(bytes);
          if (!ok) {
            await reader.cancel().catch(() => {});
            return false;
          }
          sent += bytes.length;
        }
        if (!keep && mode === "length" && sent === length) {
          await reader.cancel().catch(() => {});
          break;
        }
        chunk = next ?? await reader.read();
        next = null;
      }
      if (mode === "chunked") {
        if (!await this.send(LAST_CHUNK)) return false;
      } else if (mode === "length" && sent < length) {
        keep = false; // fewer bytes than announced: only closing tells the client
        this.#kill();
      }
      return keep;
    } catch {
      // The body stream failed: the response cannot be completed.
      await reader.cancel().catch(() => {});
      this.#kill();
      return false;
    }
  }

  /** Sends the head (with `connection` as `keep` says) and a one-chunk body. */
  async #sendHead(
    text: string,
    keep: boolean,
    head: RequestHead,
    body: Uint8Array | null,
  ): Promise<boolean> {
    const headBytes = headOf(text, keep);
    if (body === null || head.method === "HEAD") {
      return await this.send(headBytes) && keep;
    }
    return await this.#sendHeadBytes(headBytes, keep, body);
  }

  /**
   * Sends a whole head and a body: in one write when the body is small, without a promise when
   * the send ring takes it at once.
   *
   * @returns whether the connection may stay open
   */
  #sendHeadBytes(
    headBytes: Uint8Array,
    keep: boolean,
    body: Uint8Array,
  ): boolean | Promise<boolean> {
    if (body.length > COALESCE_BODY_BYTES) return this.#sendApart(headBytes, keep, body);
    const n = headBytes.length + body.length;
    const server = this.server;
    // The scratch grows for a small body's head, not for a handler's outsized fields.
    if (server.scratch.length < n && n <= SCRATCH_MAX_BYTES) server.scratch = new Uint8Array(n);
    const out = server.scratch.length >= n ? server.scratch : new Uint8Array(n);
    out.set(headBytes);
    out.set(body, headBytes.length);
    const sent = this.#sendNow(out, n);
    if (sent === true) return keep;
    if (sent === false) return false;
    return sent.then((ok) => ok && keep);
  }

  async #sendApart(headBytes: Uint8Array, keep: boolean, body: Uint8Array): Promise<boolean> {
    return await this.send(headBytes) && await this.send(body) && keep;
  }

  #finish(): void {
    this.#disarm();
    this.#clearTimer();
    this.#done(false);
    if (!this.#dead && !this.conn.closed) {
      const unread = this.start < this.end || this.conn.connection.readableLength > 0;
      if (unread && !this.#peerEnded && this.#watch === null) {
        void this.#linger();
        return;
      }
      this.#dead = true;
      this.conn.close();
    }
    this.#release();
  }

  /** Lingering close: FIN, then read and discard until the client's FIN or {@link H1_LINGER_MS}. */
  async #linger(): Promise<void> {
    const timers = this.server.cfg.timers;
    const t = timers.setTimeout(() => this.#kill(), H1_LINGER_MS);
    try {
      await this.conn.closeWrite();
      let n = 0;
      while (n < LINGER_BYTES) {
        const got = await this.readInto(this.buf);
        if (got === null) break;
        n += got;
      }
    } catch {
      // Failed: closed below.
    } finally {
      timers.clearTimeout(t);
      this.#dead = true;
      this.conn.close();
      this.#release();
    }
  }

  /** The server forgets the connection (once). */
  #reportClosed(): void {
    if (this.#reported) return;
    this.#reported = true;
    this.server.closed(this);
  }

  #release(): void {
    // A read still pending (the watch of a connection closed under it) may yet write into the
    // buffer: then it is not reused.
    const buf = this.buf;
    if (buf.length > 0) {
      if (this.#watch === null) this.server.returnBuffer(buf);
      else void this.#watch.then(() => this.server.returnBuffer(buf)); // the closed conn's read ends
    }
    this.buf = EMPTY;
    this.#reportClosed();
  }
}

/** The request's URL (RFC 9112 §3.3): origin-form on the Host, or absolute-form; else null. */
function requestUrl(head: RequestHead, addr: NetAddr): string | null {
  const t = head.target;
  const host = head.host ?? `${addr.hostname}:${addr.port}`;
  if (t.charCodeAt(0) === 0x2f) return `http://${host}${t}`;
  if (/^https?:\/\//i.test(t)) {
    try {
      return new URL(t).href;
    } catch {
      return null;
    }
  }
  if (t === "*" && head.method === "OPTIONS") return `http://${host}/`;
  return null;
}

/** The request body as a stream pulled from `source` only as the handler reads. */
function bodyStream(source: BodySource): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      try {
        const chunk = await source.read();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      } catch (e) {
        controller.error(e);
      }
    },
  }, { highWaterMark: 0 });
}
