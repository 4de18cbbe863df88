/**
 * {@link TcpConn}: the promise-based TCP stream socket over a
 * {@link TcpConnection} of the engine (src/tcp/), shaped like `Deno.Conn`:
 * `read`, `write`, `readable`/`writable` Web Streams, `closeWrite`, `close`,
 * `localAddr`/`remoteAddr`, `setNoDelay`, `setCork`, `setKeepAlive`, `ref`/`unref`, plus
 * Linux's MSG_MORE (`write(p, { more: true })`), TCP_LINGER2 (`setFinTimeout`) and `info()`
 * (like Linux's TCP_INFO).
 *
 * The engine is synchronous: application calls run straight into it (data
 * is copied into the send ring and segments leave at once, as far as the
 * windows allow) and the stack is then told to flush the device and to
 * re-plan its wake-up (new timers). Waiting — for received data, for room in
 * the send ring, for the handshake — is done on the engine's callbacks
 * (`onReadable`, `onWritable`, `onEstablished`, `onClosed`), which the
 * stack's event loop fires while it processes segments and timers.
 *
 * Back-pressure is real in both directions: `write()` resolves only when
 * every byte was accepted into the send ring (so a slow peer slows the
 * writer), and bytes nobody reads stay in the receive ring, whose free space
 * is the window we advertise (RFC 9293 §3.8.6), so a slow reader slows the
 * peer.
 *
 * Errors are the typed errors of src/tcp/errors.ts (`ConnectionReset`,
 * `TimedOut`, `BrokenPipe`, ...). Using a conn after `close()` throws
 * `Deno.errors.BadResource`, as Deno does.
 *
 * @module
 */

import {
  type TcpConnection,
  type TcpConnectionEvents,
  type TcpInfo,
  TcpState,
} from "../tcp/connection.ts";
import { finTimeoutSetting, TCP_FIN_TIMEOUT_MAX_MS } from "../tcp/config.ts";
import { BrokenPipe, ConnectionRefused, type TcpError } from "../tcp/errors.ts";
import { type NetAddr, netAddr } from "./addr.ts";

/** Chunk size of `readable` when the consumer does not bring its own buffer (BYOB). */
export const TCP_READABLE_CHUNK_BYTES = 16 * 1024;

/** What a {@link TcpConn} needs from the stack that made it. */
export interface TcpConnHost {
  /** The current time (ms); also tells the network layer the time of the coming call. */
  nowMs(): number;
  /** Called after the engine may have transmitted: flush the device, wake the loop for new deadlines. */
  afterSend(): void;
  /** Called once when the application closed the conn. */
  tcpConnClosed?(conn: TcpConn): void;
}

/** TCP_INFO-like figures of a {@link TcpConn} (see `TcpInfo` of the engine). */
export type TcpConnInfo = TcpInfo;

/** Options of {@link TcpConn.write} and {@link TcpConn.tryWrite}: the `send(2)` flags that apply. */
export interface TcpWriteOptions {
  /**
   * MSG_MORE (Linux `send(2)`): more data follows at once, so the partial (< MSS) segment at
   * the end of this write is held instead of sent (whatever `setNoDelay` says); full
   * segments still go. See {@link TcpConn.write} for what releases the rest.
   */
  more?: boolean;
}

export { TCP_FIN_TIMEOUT_MAX_MS };

type Waiter = () => void;

/** Resolves every waiter (a resolver runs no code synchronously, so the list cannot grow meanwhile). */
function wakeAll(list: Waiter[] | null): void {
  if (list === null || list.length === 0) return;
  for (let i = 0; i < list.length; i++) list[i]();
  list.length = 0;
}

function closedError(what: string): Error {
  return new Deno.errors.BadResource(`${what}: the connection is closed`);
}

/**
 * A TCP connection. Made by `stack.connect()` or a listener's `accept()`.
 *
 * @example
 * ```ts
 * import { Stack } from "../stack.ts";
 * import { MemoryLink } from "../phy/memory_link.ts";
 * const [da, db] = MemoryLink.pair();
 * const a = new Stack({ device: da, ipv4: "192.0.2.2/24" });
 * const b = new Stack({ device: db, ipv4: "192.0.2.1/24" });
 * await a.start();
 * await b.start();
 * const listener = b.listen({ port: 80 });
 * const client = await a.connect({ hostname: "192.0.2.1", port: 80 });
 * const server = await listener.accept();
 * await client.write(new TextEncoder().encode("hello"));
 * const buf = new Uint8Array(16);
 * const n = await server.read(buf);
 * console.assert(new TextDecoder().decode(buf.subarray(0, n!)) === "hello");
 * console.assert(server.remoteAddr.hostname === "192.0.2.2" && client.remoteAddr.port === 80);
 * await client.closeWrite();
 * console.assert(await server.read(buf) === null); // the FIN: end of stream
 * server.close();
 * client.close();
 * listener.close();
 * await a.close();
 * await b.close();
 * ```
 */
export class TcpConn implements Disposable, TcpConnectionEvents {
  readonly #host: TcpConnHost;
  readonly #conn: TcpConnection;
  // Made on first use: an idle conn holds no waiter lists, addresses or promises.
  #localAddr: NetAddr | null = null;
  #remoteAddr: NetAddr | null = null;
  #readWaiters: Waiter[] | null = null;
  #writeWaiters: Waiter[] | null = null;
  /**
   * Write and closeWrite calls still busy with their bytes: while any is, later calls queue
   * behind {@link #writeTail} so bytes of concurrent writes never interleave; when none is,
   * a call runs synchronously into the send ring.
   */
  #pendingWrites = 0;
  #writeTail: Promise<unknown> | null = null;
  #closed = false;
  #failure: Error | null = null;
  #readShut = false;
  #writeShut = false;
  #readableEnded = false;
  #writableClosed = false;
  #readable: ReadableStream<Uint8Array> | null = null;
  #writable: WritableStream<Uint8Array> | null = null;
  #referenced = true;

  /**
   * Wraps an engine connection; the conn installs its callbacks on it and owns it from now on.
   *
   * @param host the stack side (time, device flush, loop wake-up)
   * @param conn the engine connection (connecting or established)
   */
  constructor(host: TcpConnHost, conn: TcpConnection) {
    this.#host = host;
    this.#conn = conn;
    conn.events = this;
  }

  /** Our end: `{ transport: "tcp", hostname, port }`. */
  get localAddr(): NetAddr {
    const c = this.#conn;
    return this.#localAddr ??= c.local6 !== null
      ? { transport: "tcp", hostname: c.local6.toString(), port: c.localPort }
      : netAddr("tcp", c.localAddr, c.localPort);
  }

  /** The peer's end. */
  get remoteAddr(): NetAddr {
    const c = this.#conn;
    return this.#remoteAddr ??= c.remote6 !== null
      ? { transport: "tcp", hostname: c.remote6.toString(), port: c.remotePort }
      : netAddr("tcp", c.remoteAddr, c.remotePort);
  }

  /** @internal Engine callback: the handshake completed. */
  onEstablished(): void {
    wakeAll(this.#readWaiters);
    wakeAll(this.#writeWaiters);
  }

  /** @internal Engine callback: data, end of stream or an error to read. */
  onReadable(): void {
    wakeAll(this.#readWaiters);
  }

  /** @internal Engine callback: send-ring space was freed. */
  onWritable(): void {
    wakeAll(this.#writeWaiters);
  }

  /** @internal Engine callback: the connection ended. */
  onClosed(): void {
    wakeAll(this.#readWaiters);
    wakeAll(this.#writeWaiters);
  }

  /** The engine connection (state, counters, sequence numbers). */
  get connection(): TcpConnection {
    return this.#conn;
  }

  /** Whether {@link close} was called (or the stack closed). */
  get closed(): boolean {
    return this.#closed;
  }

  /** The engine state's RFC 9293 name, e.g. `"ESTABLISHED"`. */
  get state(): string {
    return this.#conn.stateName;
  }

  /** Whether {@link unref} was not called (see {@link unref}). */
  get referenced(): boolean {
    return this.#referenced;
  }

  #waitRead(): Promise<void> {
    const list = this.#readWaiters ??= [];
    return new Promise<void>((resolve) => list.push(resolve));
  }

  #waitWrite(): Promise<void> {
    const list = this.#writeWaiters ??= [];
    return new Promise<void>((resolve) => list.push(resolve));
  }

  #check(what: string): void {
    if (this.#failure !== null) throw this.#failure;
    if (this.#closed) throw closedError(what);
  }

  /**
   * @internal Waits for the three-way handshake (used by `stack.connect`).
   *
   * @throws {ConnectionRefused} RST in answer to our SYN (RFC 9293 §3.10.7.3)
   * @throws {TimedOut} SYN retries ran out
   * @throws {HostUnreachable} ICMP destination unreachable
   */
  async established(): Promise<void> {
    for (;;) {
      this.#check("connect");
      const c = this.#conn;
      const s = c.state;
      if (s >= TcpState.ESTABLISHED) return;
      if (s === TcpState.CLOSED) throw c.error ?? new ConnectionRefused();
      await this.#waitWrite();
    }
  }

  /**
   * Reads received bytes into `p` (like `Deno.Conn.read`). Reading frees
   * receive-ring space; the engine sends a window update when it matters.
   *
   * @param p destination
   * @returns bytes read (≥ 1), 0 for an empty `p`, or null at end of stream (the peer's FIN
   *   after all data, or a connection that ended without error)
   * @throws {ConnectionReset} the peer reset the connection
   * @throws {TimedOut} retransmissions or keep-alive probes ran out
   * @throws {Deno.errors.BadResource} after {@link close}
   */
  async read(p: Uint8Array): Promise<number | null> {
    this.#check("read");
    if (p.length === 0) return 0;
    for (;;) {
      if (this.#readShut) return null;
      const c = this.#conn;
      if (c.readableLength > 0) {
        this.#host.nowMs();
        const n = c.read(p, 0, p.length);
        this.#host.afterSend();
        return n;
      }
      if (c.error !== null) throw c.error;
      if (c.finReceived || c.state === TcpState.CLOSED) return null;
      await this.#waitRead();
      this.#check("read");
    }
  }

  /**
   * Writes all of `p` (like `Deno.Conn.write`, but never a short count):
   * resolves once every byte was accepted into the send ring, waiting for
   * room as the peer acknowledges. Concurrent writes are queued in call order.
   *
   * With `{ more: true }` (Linux MSG_MORE) more data is coming: full segments leave as usual,
   * but the partial (< MSS) segment at the end of the write is held, without PSH, even with
   * `setNoDelay`, and the promise still resolves once the bytes are in the send ring. What
   * is held goes with the next write without `more` (a request's header written with it and
   * its body without: one segment, not two), {@link closeWrite}'s FIN, `setNoDelay(true)`,
   * `setCork(false)`, an ACK that lets it go under Nagle's rules (Linux's later pushes
   * follow the socket's TCP_NODELAY, not the write's flag: only {@link setCork} holds data
   * across ACKs), or, with nothing in flight, the probe about an RTO (at least 200 ms)
   * later, as on Linux.
   *
   * @example
   * ```ts
   * import { Stack } from "../stack.ts";
   * import { MemoryLink } from "../phy/memory_link.ts";
   * const [da, db] = MemoryLink.pair();
   * const a = new Stack({ device: da, ipv4: "192.0.2.2/24" });
   * const b = new Stack({ device: db, ipv4: "192.0.2.1/24" });
   * await a.start();
   * await b.start();
   * const listener = b.listen({ port: 80 });
   * const client = await a.connect({ hostname: "192.0.2.1", port: 80, noDelay: true });
   * const server = await listener.accept();
   * const enc = new TextEncoder();
   * // The header waits for the body: both leave in one segment.
   * const header = client.write(enc.encode("POST / HTTP/1.1\r\n\r\n"), { more: true });
   * console.assert(client.info().sndNxt === client.info().sndUna); // held: nothing sent yet
   * await client.write(enc.encode("body"));
   * console.assert(await header === 19);
   * const buf = new Uint8Array(64);
   * console.assert(await server.read(buf) === 23);
   * server.close();
   * client.close();
   * listener.close();
   * await a.close();
   * await b.close();
   * ```
   *
   * @param p the bytes (copied; `p` may be reused once the promise settles)
   * @param options `more`: MSG_MORE, hold the partial segment at the end
   * @returns `p.length`
   * @throws {BrokenPipe} after {@link closeWrite}, or when the connection ended
   * @throws {ConnectionReset} / {TimedOut} when the connection failed
   * @throws {Deno.errors.BadResource} after {@link close}
   */
  write(p: Uint8Array, options?: TcpWriteOptions): Promise<number> {
    const more = options?.more === true;
    if (this.#pendingWrites === 0) {
      // Nothing queued: straight into the send ring; a promise hop only if it is full.
      let off: number;
      try {
        off = this.#writeNow(p, 0, more);
      } catch (e) {
        return Promise.reject(e);
      }
      if (off === p.length) return Promise.resolve(p.length);
      return this.#queue(this.#writeRest(p, off, more));
    }
    return this.#queue(this.#writeTail!.then(() => this.#writeRest(p, 0, more)));
  }

  /**
   * Copies what the send ring takes of `p` right now, without a promise or a wait: the
   * synchronous half of {@link write}, for a server that answers from a reused buffer. Takes
   * nothing while earlier writes are still queued (their bytes go first).
   *
   * @param p the bytes (copied: `p` may be reused at once)
   * @param options `more`: MSG_MORE, hold the partial segment at the end (see {@link write})
   * @returns bytes taken (0 when the ring is full, writes are queued, or still connecting)
   * @throws {BrokenPipe} after {@link closeWrite}, or when the connection ended
   * @throws {ConnectionReset} / {TimedOut} when the connection failed
   * @throws {Deno.errors.BadResource} after {@link close}
   */
  tryWrite(p: Uint8Array, options?: TcpWriteOptions): number {
    if (this.#pendingWrites > 0) {
      this.#check("write");
      return 0;
    }
    return this.#writeNow(p, 0, options?.more === true);
  }

  /** Counts a queued write/closeWrite until it settles and makes it the new tail. */
  #queue<T>(run: Promise<T>): Promise<T> {
    this.#pendingWrites++;
    const settled = () => {
      this.#pendingWrites--;
    };
    this.#writeTail = run.then(settled, settled);
    return run;
  }

  /**
   * Copies what the send ring takes from `p[off..]` (nothing while connecting).
   *
   * @param more MSG_MORE: the engine holds the partial segment at the end
   * @returns the new offset
   */
  #writeNow(p: Uint8Array, off: number, more: boolean): number {
    this.#check("write");
    if (this.#writeShut) throw new BrokenPipe("write after closeWrite");
    const c = this.#conn;
    // Still connecting: the data waits for the handshake.
    if (off === p.length || (c.state < TcpState.ESTABLISHED && c.state !== TcpState.CLOSED)) {
      return off;
    }
    this.#host.nowMs();
    const n = c.write(p, off, p.length - off, more);
    if (n < 0) throw this.#deadError();
    if (n > 0) {
      off += n;
      this.#host.afterSend();
    }
    return off;
  }

  async #writeRest(p: Uint8Array, off: number, more: boolean): Promise<number> {
    for (;;) {
      off = this.#writeNow(p, off, more);
      if (off === p.length) return p.length;
      await this.#waitWrite();
    }
  }

  #deadError(): Error {
    return this.#conn.error ?? new BrokenPipe();
  }

  /**
   * Half-close (RFC 9293 §3.10.4): after the queued writes, a FIN is sent;
   * reading continues until the peer's FIN.
   *
   * @returns resolves once the FIN is queued behind every earlier write
   * @throws {Deno.errors.BadResource} after {@link close}
   */
  closeWrite(): Promise<void> {
    if (this.#pendingWrites === 0) {
      try {
        this.#closeWriteNow();
      } catch (e) {
        return Promise.reject(e);
      }
      return Promise.resolve();
    }
    return this.#queue(this.#writeTail!.then(() => this.#closeWriteNow()));
  }

  #closeWriteNow(): void {
    this.#check("closeWrite");
    if (this.#writeShut) return;
    this.#writeShut = true;
    this.#host.nowMs();
    this.#conn.closeWrite();
    this.#host.afterSend();
  }

  /**
   * @internal Stops the reading half locally (descriptor `shutdown(fd, "read")`,
   * `readable.cancel()`): reads return null from now on.
   */
  shutdownRead(): void {
    this.#readShut = true;
    wakeAll(this.#readWaiters);
  }

  /**
   * Closes the connection (RFC 9293 §3.10.4): queued data is still sent,
   * followed by a FIN, and the engine finishes the exchange in the
   * background (FIN-WAIT, TIME-WAIT). With received data left unread the
   * connection is reset instead (RFC 9293 §3.6). Pending reads and writes
   * reject with `Deno.errors.BadResource`. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#host.nowMs();
    this.#conn.close();
    this.#conn.events = null;
    this.#host.afterSend();
    wakeAll(this.#readWaiters);
    wakeAll(this.#writeWaiters);
    this.#host.tcpConnClosed?.(this);
  }

  /**
   * Aborts the connection (RFC 9293 §3.10.5 ABORT; a `close(2)` with `SO_LINGER` 0, Node's
   * `socket.resetAndDestroy()`): a RST is sent at once, queued data is discarded, and every
   * pending and later read or write rejects with `reason`. `Deno.Conn` has no such call; use
   * {@link close} for an orderly FIN. Idempotent; after {@link close} it still resets a
   * connection whose FIN exchange is in progress.
   *
   * @param reason what pending and later calls reject with (default `Deno.errors.ConnectionAborted`)
   */
  abort(reason?: Error): void {
    this.fail(reason ?? new Deno.errors.ConnectionAborted("the connection was aborted locally"));
  }

  /**
   * @internal The stack is closing: reset the connection and fail every pending and later call
   * (what {@link abort} does, with the stack's error).
   *
   * @param error what pending calls reject with
   */
  fail(error: Error): void {
    if (this.#failure !== null) return;
    this.#failure = error;
    const wasClosed = this.#closed;
    this.#closed = true;
    this.#conn.events = null;
    this.#conn.abort();
    wakeAll(this.#readWaiters);
    wakeAll(this.#writeWaiters);
    if (!wasClosed) this.#host.tcpConnClosed?.(this);
  }

  /**
   * Turns Nagle's algorithm off (`true`, the default argument) or on (RFC 896).
   *
   * @param noDelay true to send small writes at once
   */
  setNoDelay(noDelay = true): void {
    this.#host.nowMs();
    this.#conn.setNoDelay(noDelay);
    this.#host.afterSend();
  }

  /**
   * TCP_CORK (Linux): `true` (the default argument) holds a partial segment of small writes
   * until a full one forms; `false` sends what is held at once. Held data with nothing in
   * flight still leaves about an RTO (at least 200 ms) later, as on Linux.
   *
   * @param cork cork or uncork
   */
  setCork(cork = true): void {
    this.#host.nowMs();
    this.#conn.setCork(cork);
    this.#host.afterSend();
  }

  /**
   * TCP_LINGER2 (Linux): how long the connection, once {@link close}d, waits in FIN-WAIT-2
   * for the peer's FIN (RFC 9293 §3.5 sets no bound on FIN-WAIT-2; Linux tcp_fin_timeout
   * bounds the wait of a closed socket). A positive `ms` is that wait, never below 3.5 RTO (Linux
   * tcp_fin_time) and capped at {@link TCP_FIN_TIMEOUT_MAX_MS} (Linux TCP_FIN_TIMEOUT_MAX);
   * when it ends the connection is dropped, and the peer's later segments meet a RST.
   * `0` or no argument restores the stack's default (`TcpConfig.timeWaitMs`). A negative `ms`
   * waits not at all (Linux linger2 < 0): {@link close} in FIN-WAIT-2 sends a RST, and a
   * closed connection whose FIN is acknowledged answers that ACK with a RST and is dropped.
   * It only matters after {@link close}: a half-closed ({@link closeWrite}) conn still open
   * waits for the peer's FIN as long as it takes. Set it before {@link close}; like the other setters it does not
   * throw afterwards, and still applies then while our FIN is unacknowledged.
   * `conn.info().finTimeoutMs` reads it (null: the default, -1: none).
   *
   * @example
   * ```ts
   * import { Stack } from "../stack.ts";
   * import { MemoryLink } from "../phy/memory_link.ts";
   * const [da, db] = MemoryLink.pair();
   * const a = new Stack({ device: da, ipv4: "192.0.2.2/24" });
   * const b = new Stack({ device: db, ipv4: "192.0.2.1/24" });
   * await a.start();
   * await b.start();
   * const listener = b.listen({ port: 80 });
   * const client = await a.connect({ hostname: "192.0.2.1", port: 80 });
   * const server = await listener.accept();
   * client.setFinTimeout(5_000); // a peer that never closes holds us 5 s, not timeWaitMs
   * console.assert(client.info().finTimeoutMs === 5_000);
   * client.setFinTimeout(-1); // none: close() in FIN-WAIT-2 resets
   * console.assert(client.info().finTimeoutMs === -1);
   * client.setFinTimeout(); // the stack's default again
   * console.assert(client.info().finTimeoutMs === null);
   * server.close();
   * client.close();
   * listener.close();
   * await a.close();
   * await b.close();
   * ```
   *
   * @param ms the FIN-WAIT-2 wait in ms; negative: none; 0 or omitted: the stack's default
   * @throws {RangeError} `ms` is NaN or infinite
   */
  setFinTimeout(ms?: number): void {
    if (ms !== undefined && !Number.isFinite(ms)) {
      throw new RangeError(
        `setFinTimeout: the FIN-WAIT-2 timeout must be a finite number of ms, got ${ms}`,
      );
    }
    this.#conn.setFinTimeout(finTimeoutSetting(ms ?? 0));
  }

  /**
   * Turns keep-alive probes on (default argument) or off (RFC 9293 §3.8.4).
   *
   * @param keepAlive on or off
   * @param idleMs idle time before the first probe, ms (omitted or 0: unchanged — the
   *   stack's TCP config until set — as Node's `socket.setKeepAlive(enable, 0)`)
   * @throws {RangeError} `idleMs` is negative, NaN or infinite
   */
  setKeepAlive(keepAlive = true, idleMs?: number): void {
    if (idleMs !== undefined && !(Number.isFinite(idleMs) && idleMs >= 0)) {
      throw new RangeError(
        `setKeepAlive: the idle time must be a finite number of ms ≥ 0, got ${idleMs}`,
      );
    }
    this.#host.nowMs();
    this.#conn.setKeepAlive(keepAlive, idleMs);
    this.#host.afterSend();
  }

  /**
   * Like `Deno.Conn.ref`. Pending operations of a conn never keep the
   * process alive by themselves — the stack's event loop does, until
   * `stack.close()` — so this only records the flag ({@link referenced}).
   */
  ref(): void {
    this.#referenced = true;
  }

  /** Like `Deno.Conn.unref`; see {@link ref}. */
  unref(): void {
    this.#referenced = false;
  }

  /**
   * A TCP_INFO-like snapshot: state, srtt, rttvar, rto, cwnd, ssthresh,
   * windows, MSS, retransmissions, bytes in and out.
   *
   * @returns the current figures
   */
  info(): TcpConnInfo {
    return this.#conn.info();
  }

  /** The error that ended the connection (reset, timed out...), if any. */
  get error(): TcpError | null {
    return this.#conn.error;
  }

  /**
   * The receiving half as a byte stream with back-pressure: bytes are pulled
   * from the receive ring only as the consumer asks (so an unread stream
   * closes our advertised window). End of stream is the peer's FIN.
   * Cancelling it stops the reading half; once it ended and {@link writable}
   * was closed, the conn closes itself.
   */
  get readable(): ReadableStream<Uint8Array> {
    if (this.#readable === null) {
      this.#readable = new ReadableStream({
        type: "bytes",
        autoAllocateChunkSize: TCP_READABLE_CHUNK_BYTES,
        pull: async (controller) => {
          const req = controller.byobRequest!;
          const v = req.view!;
          const buf = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
          let n: number | null;
          try {
            n = await this.read(buf);
          } catch (e) {
            controller.error(e);
            return;
          }
          if (n === null) {
            controller.close();
            req.respond(0);
            this.#readableEnded = true;
            this.#maybeRelease();
          } else {
            req.respond(n);
          }
        },
        cancel: () => {
          this.shutdownRead();
          this.#readableEnded = true;
          this.#maybeRelease();
        },
      });
    }
    return this.#readable;
  }

  /**
   * The sending half as a stream: each chunk's `write` settles when the
   * chunk is in the send ring, so `pipeTo` runs at the connection's pace.
   * Closing it sends a FIN ({@link closeWrite}); aborting it closes the conn.
   */
  get writable(): WritableStream<Uint8Array> {
    if (this.#writable === null) {
      this.#writable = new WritableStream<Uint8Array>({
        write: async (chunk) => {
          await this.write(chunk);
        },
        close: async () => {
          await this.closeWrite();
          this.#writableClosed = true;
          this.#maybeRelease();
        },
        abort: () => {
          this.close();
        },
      });
    }
    return this.#writable;
  }

  #maybeRelease(): void {
    if (this.#readableEnded && this.#writableClosed) this.close();
  }

  /** Closes the conn (`using conn = await stack.connect(...)`). */
  [Symbol.dispose](): void {
    this.close();
  }
}
