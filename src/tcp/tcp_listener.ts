/**
 * The engine's listener (RFC 9293 §3.10.7.2, LISTEN): {@link TcpListener} with its accept
 * queue and SYN-queue count, the families it accepts and its callbacks. What a listener
 * does with a segment (SYN queue, SYN cookies, RSTs) is the layer's business
 * (tcp_layer.ts); the listener only reaches back through {@link TcpListenerOwner}.
 *
 * @module
 */

import type { Ipv6Address } from "../wire/ipv6_address.ts";
import { type TcpConnection, TcpState } from "./connection.ts";

/** What a listener needs of the layer that made it (`TcpLayer`, tcp_layer.ts). */
export interface TcpListenerOwner {
  /** Forget `listener` and drop its embryonic connections. @internal */
  _removeListener(listener: TcpListener): void;
}

/** Which families a listener accepts: a wildcard one both (Linux `IPV6_V6ONLY` off). */
export type TcpFamily = "any" | "ipv4" | "ipv6";

/** Options of a listener over IPv6 (`TcpLayer.listen`). */
export interface TcpListenFamilyOptions {
  /** Families accepted (default "any"). */
  family?: TcpFamily;
  /** Accept IPv6 connections to this address only (default any of ours). */
  localAddr6?: Ipv6Address | null;
}

/** Callbacks from a listener. */
export interface TcpListenerEvents {
  /** A connection is waiting in the accept queue. */
  onAcceptable?(listener: TcpListener): void;
}

/**
 * A passive endpoint in LISTEN (RFC 9293 §3.10.7.2) with a SYN queue and an
 * accept queue, both bounded by the backlog.
 *
 * @example
 * ```ts
 * import { TcpListener } from "./tcp_listener.ts";
 * console.assert(typeof TcpListener === "function");
 * ```
 */
export class TcpListener {
  /** Local port. */
  readonly port: number;
  /** Local address (0 = any), int32. */
  readonly localAddr: number;
  /** Limit of each queue. */
  readonly backlog: number;
  /** Callbacks. */
  events: TcpListenerEvents | null = null;
  /**
   * Called with every connection this listener makes before its SYN-ACK is sent: the
   * socket options a listening socket passes on (IP_TTL, IP_TOS, TCP_MAXSEG, keep-alive).
   */
  configure: ((conn: TcpConnection) => void) | null = null;
  /** Connections in SYN-RECEIVED. */
  synQueueLength = 0;
  /** When this listener last answered with a SYN cookie. */
  lastCookieMs: number = -Infinity;
  /** Families accepted (issue 18). */
  family: TcpFamily = "any";
  /** The IPv6 address accepted on, or null for any. */
  localAddr6: Ipv6Address | null = null;
  readonly #acceptQueue: TcpConnection[] = [];
  #closed = false;
  readonly #owner: TcpListenerOwner;

  /**
   * Made by `TcpLayer.listen`.
   *
   * @param owner the layer
   * @param port local port
   * @param localAddr local address (0 = any)
   * @param backlog queue limit
   */
  constructor(owner: TcpListenerOwner, port: number, localAddr: number, backlog: number) {
    this.#owner = owner;
    this.port = port;
    this.localAddr = localAddr;
    this.backlog = backlog;
  }

  /** LISTEN (RFC 9293 §3.3.2) while open, CLOSED after {@link close}. */
  get state(): TcpState {
    return this.#closed ? TcpState.CLOSED : TcpState.LISTEN;
  }

  /** Connections waiting to be accepted. */
  get acceptQueueLength(): number {
    return this.#acceptQueue.length;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Takes the oldest established connection from the accept queue.
   *
   * @returns a connection, or null when none is waiting
   */
  accept(): TcpConnection | null {
    return this.#acceptQueue.shift() ?? null;
  }

  /**
   * Stops listening; connections not yet accepted are reset.
   *
   * @returns nothing
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#owner._removeListener(this);
    const pending = this.#acceptQueue.splice(0);
    for (const c of pending) c.abort();
  }

  /** @internal */
  _enqueue(conn: TcpConnection): boolean {
    if (this.#closed || this.#acceptQueue.length >= this.backlog) return false;
    this.#acceptQueue.push(conn);
    this.events?.onAcceptable?.(this);
    return true;
  }

  /** @internal the accept queue is full */
  _acceptQueueFull(): boolean {
    return this.#acceptQueue.length >= this.backlog;
  }
}
