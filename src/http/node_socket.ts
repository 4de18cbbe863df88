/**
 * {@link RawstackSocket}: a `node:net.Socket`-compatible `Duplex` over a
 * rawstack {@link TcpConn}, so that the software people already have —
 * `node:http`, `node:https`, `node:tls` and whatever is built on them — runs
 * over rawstack's TCP unchanged. {@link createNodeConnection} is the
 * `net.createConnection` of a stack; {@link serveNodeListener} hands a
 * rawstack listener's connections to a `node:http`/`node:https`/`node:tls`
 * server (as Node's own `net.Server` does: the server's `"connection"` event).
 *
 * Back-pressure holds both ways: the socket reads from the connection's
 * receive ring only while the stream's buffer is below its high-water mark
 * (so an unread socket closes rawstack's advertised window), and a write's
 * callback runs once its bytes are in the send ring (so `write()` returns
 * false and `"drain"` follows the peer's pace).
 *
 * Close semantics follow the Berkeley socket the `net.Socket` wraps:
 * `end()` is a half-close (FIN after the queued data; reading goes on),
 * `destroy()` stops all I/O at once and closes the connection as `close(2)`
 * does (FIN, or RST when received data was left unread, RFC 9293 §3.6),
 * `destroy(error)` and `resetAndDestroy()` abort it with a RST (RFC 9293
 * §3.10.5 ABORT). `"close"` is emitted once with `hadError`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import type { TcpConn } from "../socket/tcp_conn.ts";
import type { TcpListener } from "../socket/tcp_listener.ts";

/** What {@link createNodeConnection} needs of a stack (`Stack` fits). */
export interface NodeConnectHost {
  /** Opens a TCP connection (`stack.connect`). */
  connect(opts: { hostname: string; port: number; noDelay?: boolean; localPort?: number }): Promise<
    TcpConn
  >;
}

/** Options of {@link createNodeConnection}, a subset of `net.connect`'s. */
export interface NodeConnectionOptions {
  /** Host name or dotted quad (default `"localhost"` is not resolvable here: give one). */
  host: string;
  /** Destination port. */
  port: number;
  /** Local port (default: ephemeral). */
  localPort?: number;
  /** Nagle off at once (`net.connect`'s `noDelay`; default false). */
  noDelay?: boolean;
  /** Keep-alive probes on at once (`keepAlive`), after `keepAliveInitialDelay` ms idle. */
  keepAlive?: boolean;
  /** Idle time before the first keep-alive probe, ms. */
  keepAliveInitialDelay?: number;
  /** Idle timeout, ms: `"timeout"` is emitted after this much inactivity (as `setTimeout`). */
  timeout?: number;
  /** Keep the writable side open after the peer's FIN (default false, like `net.Socket`). */
  allowHalfOpen?: boolean;
  /** Aborts the connection (RST) when the signal fires. */
  signal?: AbortSignal;
}

/** Options of the {@link RawstackSocket} constructor. */
export interface RawstackSocketOptions {
  /** Keep the writable side open after the peer's FIN (default false, like `net.Socket`). */
  allowHalfOpen?: boolean;
  /** The stream's high-water mark in each direction, bytes (default 64 KiB). */
  highWaterMark?: number;
}

/** Default high-water mark of a {@link RawstackSocket}, bytes (Node's for net.Socket is 64 KiB). */
export const NODE_SOCKET_HIGH_WATER_MARK = 64 * 1024;
/** Size of a socket's read buffer: bytes moved from the receive ring per read. */
const READ_CHUNK_BYTES = 64 * 1024;

/** The `code` Node's callers look for (`ECONNRESET`, ...) on any error, when it has one. */
function withCode(e: unknown): Error {
  if (e instanceof Error) return e;
  return new Error(String(e));
}

/**
 * A `node:net.Socket`-compatible `Duplex` over a rawstack {@link TcpConn}.
 * Made by {@link createNodeConnection} (client) or `new RawstackSocket(conn)`
 * for an accepted connection.
 *
 * @example
 * ```ts
 * import { MemoryLink, RawstackSocket, Stack, createNodeConnection } from "../../mod.ts";
 * const [da, db] = MemoryLink.pair();
 * const a = new Stack({ device: da, ipv4: "192.0.2.2/24" });
 * const b = new Stack({ device: db, ipv4: "192.0.2.1/24" });
 * await a.start();
 * await b.start();
 * const listener = b.listen({ port: 7 });
 * const client = createNodeConnection(a, { host: "192.0.2.1", port: 7 });
 * const server = new RawstackSocket(await listener.accept());
 * server.pipe(server); // echo
 * client.end("hello");
 * let got = "";
 * for await (const chunk of client) got += chunk;
 * console.assert(got === "hello");
 * listener.close();
 * await a.close();
 * await b.close();
 * ```
 */
export class RawstackSocket extends Duplex {
  #conn: TcpConn | null;
  #connecting: Promise<TcpConn> | null = null;
  #reading = false;
  #scratch: Uint8Array | null = null;
  #timeoutMs = 0;
  #timer: number | null = null; // Deno's timer id (node typings call it Timeout)
  #active = false;
  #noDelay: boolean | null = null;
  #keepAlive: [boolean, number | undefined] | null = null;
  #closeEmitted = false;
  /** Bytes received (`net.Socket.bytesRead`). */
  bytesRead = 0;
  /** Bytes accepted by the send ring (`net.Socket.bytesWritten`). */
  bytesWritten = 0;

  /**
   * Wraps a connection (established, or one still connecting).
   *
   * @param conn an established connection, or a promise of one (the socket is `connecting` until
   *   it settles; writes wait for it, a rejection destroys the socket with the error)
   * @param options half-open, high-water mark
   */
  constructor(conn: TcpConn | Promise<TcpConn>, options: RawstackSocketOptions = {}) {
    super({
      allowHalfOpen: options.allowHalfOpen ?? false,
      highWaterMark: options.highWaterMark ?? NODE_SOCKET_HIGH_WATER_MARK,
      emitClose: false,
      decodeStrings: true,
    });
    if (conn instanceof Promise) {
      this.#conn = null;
      this.#connecting = conn.then((c) => {
        this.#connecting = null;
        if (this.destroyed) {
          c.close();
          throw new Error("destroyed while connecting");
        }
        this.#conn = c;
        if (this.#noDelay !== null) c.setNoDelay(this.#noDelay);
        if (this.#keepAlive !== null) c.setKeepAlive(...this.#keepAlive);
        this.#touch();
        this.emit("connect");
        this.emit("ready");
        return c;
      }, (e) => {
        this.#connecting = null;
        if (!this.destroyed) this.destroy(withCode(e));
        throw e;
      });
      // Rejections are handled through destroy(); keep them from being reported twice.
      this.#connecting.catch(() => {});
    } else {
      this.#conn = conn;
    }
    // A net.Socket ends its writable side when the peer's FIN was read, unless half-open.
  }

  /** The rawstack connection (null while connecting). */
  get tcpConn(): TcpConn | null {
    return this.#conn;
  }

  /** Whether the handshake is still going on (`net.Socket.connecting`). */
  get connecting(): boolean {
    return this.#conn === null && this.#connecting !== null;
  }

  /** Same as {@link connecting} (`net.Socket.pending`). */
  get pending(): boolean {
    return this.#conn === null;
  }

  /** `"opening"`, `"open"`, `"readOnly"`, `"writeOnly"` or `"closed"` (`net.Socket.readyState`). */
  get readyState(): string {
    if (this.connecting) return "opening";
    if (this.destroyed || this.#conn === null) return "closed";
    if (this.readable && this.writable) return "open";
    if (this.readable) return "readOnly";
    if (this.writable) return "writeOnly";
    return "closed";
  }

  /** The peer's address (undefined until connected). */
  get remoteAddress(): string | undefined {
    return this.#conn?.remoteAddr.hostname;
  }

  /** The peer's port. */
  get remotePort(): number | undefined {
    return this.#conn?.remoteAddr.port;
  }

  /** `"IPv4"` once connected. */
  get remoteFamily(): string | undefined {
    return this.#conn === null ? undefined : "IPv4";
  }

  /** Our address. */
  get localAddress(): string | undefined {
    return this.#conn?.localAddr.hostname;
  }

  /** Our port. */
  get localPort(): number | undefined {
    return this.#conn?.localAddr.port;
  }

  /** `"IPv4"` once connected. */
  get localFamily(): string | undefined {
    return this.remoteFamily;
  }

  /** Bytes written but not yet in the send ring (`net.Socket.bufferSize`). */
  get bufferSize(): number {
    return this.writableLength;
  }

  /** Our end as `net.Socket.address()` reports it (empty object until connected). */
  address(): { address: string; family: string; port: number } | Record<string, never> {
    const c = this.#conn;
    if (c === null) return {};
    return { address: c.localAddr.hostname, family: "IPv4", port: c.localAddr.port };
  }

  /**
   * Nagle's algorithm off (`true`, the default argument) or on (RFC 896).
   *
   * @param noDelay true to send small writes at once
   * @returns this
   */
  setNoDelay(noDelay = true): this {
    if (this.#conn !== null) {
      if (!this.#conn.closed) this.#conn.setNoDelay(noDelay);
    } else this.#noDelay = noDelay;
    return this;
  }

  /**
   * Keep-alive probes on or off (RFC 9293 §3.8.4).
   *
   * @param enable on or off (default false, as in Node)
   * @param initialDelayMs idle time before the first probe; 0 or absent keeps the stack's default
   * @returns this
   */
  setKeepAlive(enable = false, initialDelayMs = 0): this {
    const idle = initialDelayMs > 0 ? initialDelayMs : undefined;
    if (this.#conn !== null) {
      if (!this.#conn.closed) this.#conn.setKeepAlive(enable, idle);
    } else this.#keepAlive = [enable, idle];
    return this;
  }

  /**
   * Emits `"timeout"` after `ms` without reads or writes (as `net.Socket.setTimeout`;
   * the socket is not closed: the listener decides). 0 turns it off.
   *
   * @param ms idle time, ms
   * @param callback added as a one-time `"timeout"` listener (removed when `ms` is 0)
   * @returns this
   */
  setTimeout(ms: number, callback?: () => void): this {
    const next = ms > 0 && Number.isFinite(ms) ? ms : 0;
    if (callback !== undefined) {
      if (next === 0) this.off("timeout", callback);
      else this.once("timeout", callback);
    }
    if (next === this.#timeoutMs && next > 0 && this.#timer !== null) {
      // The same timeout again (node:http's agent sets it on every reuse): a new period starts,
      // as after any activity, without a new timer (a timer per request was 4 % of fetch's CPU).
      this.#touch();
      return this;
    }
    this.#timeoutMs = next;
    this.#clearTimer();
    if (this.#timeoutMs > 0 && !this.destroyed) this.#armTimer(this.#timeoutMs);
    return this;
  }

  /** The timeout set by {@link setTimeout}, ms (undefined when off), as `net.Socket.timeout`. */
  get timeout(): number | undefined {
    return this.#timeoutMs === 0 ? undefined : this.#timeoutMs;
  }

  #armTimer(ms: number): void {
    this.#active = false;
    const t = setTimeout(() => {
      this.#timer = null;
      if (this.destroyed || this.#timeoutMs === 0) return;
      if (this.#active) {
        // There was activity during the period: a new period starts now (Node's unrefActive).
        this.#armTimer(this.#timeoutMs);
        return;
      }
      this.emit("timeout");
      if (this.#timeoutMs > 0 && !this.destroyed) this.#armTimer(this.#timeoutMs);
    }, ms) as unknown as number;
    Deno.unrefTimer(t);
    this.#timer = t;
  }

  #clearTimer(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  #touch(): void {
    this.#active = true;
  }

  /** Like `net.Socket.ref` (a rawstack connection never holds the process open by itself). */
  ref(): this {
    this.#conn?.ref();
    return this;
  }

  /** Like `net.Socket.unref`. */
  unref(): this {
    this.#conn?.unref();
    return this;
  }

  /**
   * Aborts the connection with a RST and destroys the socket (`net.Socket.resetAndDestroy`).
   *
   * @returns this
   */
  resetAndDestroy(): this {
    const err = new Error("the socket was reset") as Error & { code: string };
    err.code = "ERR_SOCKET_CLOSED";
    this.#abortConn(err);
    return this.destroy();
  }

  /**
   * Ends the writable side once the queued data is written, then destroys the
   * socket (`net.Socket.destroySoon`).
   */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once("finish", () => this.destroy());
  }

  #abortConn(err: Error): void {
    const c = this.#conn;
    if (c !== null && !c.closed) c.abort(err);
  }

  /** @internal `Readable._read`: starts moving bytes from the receive ring. */
  override _read(_size: number): void {
    if (this.#reading) return;
    this.#reading = true;
    void this.#pump();
  }

  async #pump(): Promise<void> {
    try {
      const conn = this.#conn ?? await this.#connecting!;
      for (;;) {
        if (this.destroyed) return;
        const waiting = conn.connection.readableLength;
        let buf: Uint8Array;
        if (waiting > 0) {
          // Data is there: read it straight into the chunk handed to the stream (one copy).
          buf = Buffer.allocUnsafe(Math.min(waiting, READ_CHUNK_BYTES));
        } else {
          buf = this.#scratch ??= new Uint8Array(READ_CHUNK_BYTES);
        }
        const n = await conn.read(buf);
        if (this.destroyed) return;
        if (n === null) {
          this.#scratch = null;
          this.push(null);
          return;
        }
        this.bytesRead += n;
        this.#touch();
        const chunk = buf === this.#scratch
          ? Buffer.from(buf.subarray(0, n))
          : Buffer.from(buf.buffer, buf.byteOffset, n);
        if (!this.push(chunk)) return;
      }
    } catch (e) {
      if (!this.destroyed) this.destroy(withCode(e));
    } finally {
      this.#reading = false;
    }
  }

  /** @internal `Writable._write`: copies a chunk into the send ring. */
  override _write(
    chunk: Uint8Array,
    _encoding: string,
    callback: (error?: Error | null) => void,
  ): void {
    const conn = this.#conn;
    if (conn === null) {
      this.#connecting!.then(
        (c) => this.#writeTo(c, chunk, callback),
        (e) => callback(withCode(e)),
      );
      return;
    }
    this.#writeTo(conn, chunk, callback);
  }

  #writeTo(conn: TcpConn, chunk: Uint8Array, callback: (error?: Error | null) => void): void {
    this.#touch();
    conn.write(chunk).then((n) => {
      this.bytesWritten += n;
      this.#touch();
      callback();
    }, (e) => callback(withCode(e)));
  }

  /** @internal `Writable._writev`: several chunks in one send-ring write. */
  override _writev(
    chunks: { chunk: Uint8Array; encoding: string }[],
    callback: (error?: Error | null) => void,
  ): void {
    // One buffer: the send ring takes it in one call and small pieces (an HTTP head and its
    // body) leave in one segment instead of one each.
    let total = 0;
    for (const c of chunks) total += c.chunk.length;
    const all = Buffer.allocUnsafe(total);
    let at = 0;
    for (const c of chunks) {
      all.set(c.chunk, at);
      at += c.chunk.length;
    }
    this._write(all, "buffer", callback);
  }

  /** @internal `Writable._final`: the half-close (FIN). */
  override _final(callback: (error?: Error | null) => void): void {
    const finish = (c: TcpConn) => {
      if (c.closed) return callback();
      c.closeWrite().then(() => callback(), (e) => callback(withCode(e)));
    };
    if (this.#conn !== null) finish(this.#conn);
    else this.#connecting!.then(finish, (e) => callback(withCode(e)));
  }

  /** @internal `Duplex._destroy`: closes (or with an error resets) the connection. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#clearTimer();
    this.#scratch = null;
    const c = this.#conn;
    if (c !== null) {
      if (error !== null) this.#abortConn(error);
      else c.close();
    }
    callback(error);
    if (!this.#closeEmitted) {
      this.#closeEmitted = true;
      const hadError = error !== null;
      queueMicrotask(() => this.emit("close", hadError));
    }
  }
}

/**
 * Opens a TCP connection over a rawstack stack and returns it as a
 * `node:net.Socket`-compatible `Duplex` at once, connecting in the
 * background (`net.createConnection`): pass it as `createConnection` to
 * `node:http`, as `socket` to `tls.connect`, or use it directly.
 *
 * @param stack the stack (`Stack`, or anything with its `connect`)
 * @param options `host`, `port`, and `net.connect`'s `localPort`, `noDelay`, `keepAlive`,
 *   `keepAliveInitialDelay`, `timeout`, `allowHalfOpen`, `signal`
 * @param connectListener added as a one-time `"connect"` listener
 * @returns the socket (`connecting` until the handshake completes; errors are `"error"` events)
 *
 * @example
 * ```ts
 * import http from "node:http";
 * import { MemoryLink, Stack, createNodeConnection, serveNodeListener } from "../../mod.ts";
 * const [da, db] = MemoryLink.pair();
 * const a = new Stack({ device: da, ipv4: "192.0.2.2/24" });
 * const b = new Stack({ device: db, ipv4: "192.0.2.1/24" });
 * await a.start();
 * await b.start();
 * const server = http.createServer((_req, res) => res.end("hi"));
 * const served = serveNodeListener(b.listen({ port: 80 }), server);
 * const body = await new Promise<string>((resolve) => {
 *   http.get({
 *     host: "192.0.2.1",
 *     path: "/",
 *     createConnection: (o) => createNodeConnection(a, { host: o.host!, port: Number(o.port) }),
 *   }, (res) => {
 *     let text = "";
 *     res.on("data", (c) => text += c);
 *     res.on("end", () => resolve(text));
 *   });
 * });
 * console.assert(body === "hi");
 * served.close();
 * await a.close();
 * await b.close();
 * ```
 */
export function createNodeConnection(
  stack: NodeConnectHost,
  options: NodeConnectionOptions,
  connectListener?: () => void,
): RawstackSocket {
  if (options === null || typeof options !== "object" || typeof options.host !== "string") {
    throw new TypeError('createNodeConnection needs options with a "host" string and a "port"');
  }
  const port = Number(options.port);
  const signal = options.signal;
  const pending = (async () => {
    signal?.throwIfAborted();
    return await stack.connect({
      hostname: options.host,
      port,
      noDelay: options.noDelay,
      localPort: options.localPort,
    });
  })();
  const socket = new RawstackSocket(pending, { allowHalfOpen: options.allowHalfOpen });
  if (options.noDelay === true) socket.setNoDelay(true);
  if (options.keepAlive === true) socket.setKeepAlive(true, options.keepAliveInitialDelay ?? 0);
  if (options.timeout !== undefined) socket.setTimeout(options.timeout);
  if (connectListener !== undefined) socket.once("connect", connectListener);
  if (signal !== undefined) {
    const onAbort = () => socket.destroy(withCode(signal.reason));
    if (signal.aborted) queueMicrotask(onAbort);
    else {
      signal.addEventListener("abort", onAbort, { once: true });
      socket.once("close", () => signal.removeEventListener("abort", onAbort));
    }
  }
  return socket;
}

/** What {@link serveNodeListener} hands connections to: a `node:net.Server` (http, https, tls). */
export interface NodeConnectionServer {
  /** `server.emit("connection", socket)` is how a `net.Server` announces an accepted socket. */
  emit(event: "connection", socket: RawstackSocket): boolean;
}

/** Options of {@link serveNodeListener}. */
export interface ServeNodeListenerOptions {
  /**
   * Open connections at most (default 256, see `HTTP_MAX_CONNECTIONS`); one more is closed as
   * soon as it is accepted and counted in `refused` (nginx `worker_connections`).
   */
  maxConnections?: number;
  /** Keep the writable side open after the peer's FIN (default false; node:http wants false). */
  allowHalfOpen?: boolean;
  /** Nagle off on every accepted connection (default true, as `http.Server`'s `noDelay`). */
  noDelay?: boolean;
}

/** Counters of {@link serveNodeListener}. */
export interface NodeListenerStats {
  /** Connections handed to the server. */
  accepted: number;
  /** Connections closed at once because `maxConnections` were open. */
  refused: number;
  /** Connections open now. */
  active: number;
}

/** A running {@link serveNodeListener}. */
export interface NodeListenerHandle {
  /** Stops accepting (closes the listener); open connections are left to the server. */
  close(): void;
  /** Destroys every open connection. */
  closeAllConnections(): void;
  /** A snapshot of the counters. */
  stats(): NodeListenerStats;
  /** Settles when the listener stopped yielding connections. */
  readonly finished: Promise<void>;
}

/** Default connection cap of {@link serveNodeListener} (nginx `worker_connections` is 512). */
export const NODE_LISTENER_MAX_CONNECTIONS = 256;

/**
 * Hands every connection a rawstack listener accepts to a `node:http`,
 * `node:https` or `node:tls` server as a {@link RawstackSocket} (the server's
 * `"connection"` event, as Node's `net.Server` announces sockets it accepted),
 * with at most `maxConnections` open at once.
 *
 * @param listener a rawstack listener (`stack.listen()`)
 * @param server the server (`http.createServer()`, `https.createServer()`, `tls.createServer()`)
 * @param options connection cap, half-open
 * @returns a handle: `close()`, `closeAllConnections()`, `stats()`, `finished`
 *
 * @example
 * ```ts
 * import tls from "node:tls";
 * import { MemoryLink, Stack, serveNodeListener } from "../../mod.ts";
 * const [da] = MemoryLink.pair();
 * const b = new Stack({ device: da, ipv4: "192.0.2.1/24" });
 * await b.start();
 * const handle = serveNodeListener(b.listen({ port: 443 }), tls.createServer({}));
 * console.assert(handle.stats().accepted === 0);
 * handle.close();
 * await b.close();
 * ```
 */
export function serveNodeListener(
  listener: TcpListener | (AsyncIterable<TcpConn> & { close(): void }),
  server: NodeConnectionServer,
  options: ServeNodeListenerOptions = {},
): NodeListenerHandle {
  const maxConnections = options.maxConnections ?? NODE_LISTENER_MAX_CONNECTIONS;
  const open = new Set<RawstackSocket>();
  const stats: NodeListenerStats = { accepted: 0, refused: 0, active: 0 };
  let listening = true;
  // `server.emit("connection", socket)` is Node's documented way to inject a connection, but
  // on Deno 2.9.6 node:http destroys a kept-alive socket after its response when the server is
  // not `listening` (it takes that for a server shutting down), and no public call sets
  // `listening` without binding a kernel socket. The server never called listen(), so it is
  // told it listens for as long as the rawstack listener does (tests/http/node_socket_test.ts
  // pins the Deno behaviour: when it changes, this override can go).
  Object.defineProperty(server, "listening", { configurable: true, get: () => listening });
  const finished = (async () => {
    try {
      for await (const conn of listener) {
        if (open.size >= maxConnections) {
          stats.refused++;
          conn.close();
          continue;
        }
        stats.accepted++;
        const socket = new RawstackSocket(conn, { allowHalfOpen: options.allowHalfOpen });
        if (options.noDelay !== false) socket.setNoDelay(true);
        open.add(socket);
        stats.active = open.size;
        socket.once("close", () => {
          open.delete(socket);
          stats.active = open.size;
        });
        server.emit("connection", socket);
      }
    } catch {
      // The listener closed (with the stack).
    }
    listening = false;
  })();
  return {
    close: () => {
      listening = false;
      listener.close();
    },
    closeAllConnections: () => {
      for (const s of open) s.destroy();
    },
    stats: () => ({ ...stats }),
    finished,
  };
}
