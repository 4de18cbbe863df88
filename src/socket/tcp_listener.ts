/**
 * {@link TcpListener}: a listening TCP socket shaped like `Deno.Listener`
 * over the engine's listener (SYN queue, accept queue, SYN cookies):
 * `accept()`, `for await (const conn of listener)`, `close()`, `addr`.
 *
 * @module
 */

import type { TcpConnection } from "../tcp/connection.ts";
import type { TcpListener as EngineListener } from "../tcp/tcp_layer.ts";
import type { NetAddr } from "./addr.ts";
import type { TcpConn } from "./tcp_conn.ts";

/** What a {@link TcpListener} needs from the stack that made it. */
export interface TcpListenerHost {
  /** Wraps an accepted engine connection into a conn the stack tracks. */
  adoptTcpConnection(conn: TcpConnection): TcpConn;
  /** Called after the engine may have transmitted (RSTs of unaccepted connections on close). */
  afterSend(): void;
  /** Called once when the listener closes. */
  tcpListenerClosed?(listener: TcpListener): void;
}

/**
 * A TCP listener. Made by `stack.listen({ port })`.
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
 * const listener = b.listen({ port: 7 });
 * console.assert(listener.addr.port === 7 && listener.addr.hostname === "0.0.0.0");
 * const served = (async () => {
 *   for await (const conn of listener) {
 *     await conn.readable.pipeTo(conn.writable); // echo until the client's FIN
 *   }
 * })();
 * const c = await a.connect({ hostname: "192.0.2.1", port: 7 });
 * await c.write(new TextEncoder().encode("ping"));
 * await c.closeWrite();
 * const text = await new Response(c.readable).text();
 * console.assert(text === "ping");
 * listener.close(); // ends the for-await loop
 * await served;
 * await a.close();
 * await b.close();
 * ```
 */
export class TcpListener implements AsyncIterable<TcpConn>, Disposable {
  /** The local address: `{ transport: "tcp", hostname, port }` (`0.0.0.0` = any). */
  readonly addr: NetAddr;
  readonly #host: TcpListenerHost;
  readonly #engine: EngineListener;
  #waiters: (() => void)[] = [];
  #closed = false;
  #failure: Error | null = null;
  #referenced = true;

  /**
   * Wraps an engine listener; it owns it from now on.
   *
   * @param host the stack side
   * @param engine the engine listener
   * @param addr the address to report
   */
  constructor(host: TcpListenerHost, engine: EngineListener, addr: NetAddr) {
    this.#host = host;
    this.#engine = engine;
    this.addr = addr;
    engine.events = { onAcceptable: () => this.#wake() };
  }

  /** The engine listener (queue lengths, backlog). */
  get engine(): EngineListener {
    return this.#engine;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether {@link unref} was not called. */
  get referenced(): boolean {
    return this.#referenced;
  }

  #wake(): void {
    const ws = this.#waiters.splice(0);
    for (const w of ws) w();
  }

  /**
   * Waits for the next connection that completed its handshake.
   *
   * @returns the connection
   * @throws {Deno.errors.BadResource} when the listener is (or gets) closed
   */
  async accept(): Promise<TcpConn> {
    for (;;) {
      if (this.#failure !== null) throw this.#failure;
      if (this.#closed) throw new Deno.errors.BadResource("accept: the listener is closed");
      const c = this.#engine.accept();
      if (c !== null) return this.#host.adoptTcpConnection(c);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /**
   * Stops listening: pending `accept()`s reject, connections not yet
   * accepted are reset, and a `for await` loop over the listener ends. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#engine.events = null;
    this.#engine.close();
    this.#host.afterSend();
    this.#wake();
    this.#host.tcpListenerClosed?.(this);
  }

  /**
   * @internal The stack is closing: fail pending and later accepts with `error`.
   *
   * @param error the rejection
   */
  fail(error: Error): void {
    if (this.#failure !== null) return;
    this.#failure = error;
    this.close();
  }

  /** Like `Deno.Listener.ref`: recorded only; the stack's loop keeps the process alive. */
  ref(): void {
    this.#referenced = true;
  }

  /** Like `Deno.Listener.unref`; see {@link ref}. */
  unref(): void {
    this.#referenced = false;
  }

  /**
   * Accepts connections until the listener is closed.
   *
   * @returns an async iterator of accepted conns
   */
  async *[Symbol.asyncIterator](): AsyncIterator<TcpConn> {
    for (;;) {
      let conn: TcpConn;
      try {
        conn = await this.accept();
      } catch (e) {
        if (this.#closed && this.#failure === null) return;
        throw e;
      }
      yield conn;
    }
  }

  /** Closes the listener (`using listener = stack.listen(...)`). */
  [Symbol.dispose](): void {
    this.close();
  }
}
