/**
 * Typed TCP errors surfaced to applications. Each carries a `code` named
 * after the POSIX errno the kernel would report.
 *
 * @module
 */

/** Error codes a {@link TcpError} can carry. */
export type TcpErrorCode =
  | "ECONNREFUSED"
  | "ECONNRESET"
  | "ETIMEDOUT"
  | "EADDRINUSE"
  | "ENOTCONN"
  | "EPIPE"
  | "EHOSTUNREACH"
  | "ENOBUFS";

/**
 * Base class of every TCP error.
 *
 * @example
 * ```ts
 * import { ConnectionReset, TcpError } from "./errors.ts";
 * const e = new ConnectionReset();
 * console.assert(e instanceof TcpError && e.code === "ECONNRESET");
 * ```
 */
export class TcpError extends Error {
  /**
   * Makes an error with an errno-like code.
   *
   * @param code the errno-like code
   * @param message human-readable details
   */
  constructor(readonly code: TcpErrorCode, message: string) {
    super(message);
    this.name = "TcpError";
  }
}

/**
 * The peer answered the SYN with RST, or ICMP said the port is unreachable.
 *
 * @example
 * ```ts
 * import { ConnectionRefused } from "./errors.ts";
 * console.assert(new ConnectionRefused().code === "ECONNREFUSED");
 * ```
 */
export class ConnectionRefused extends TcpError {
  /**
   * Makes the error.
   *
   * @param message details
   */
  constructor(message = "connection refused") {
    super("ECONNREFUSED", message);
    this.name = "ConnectionRefused";
  }
}

/**
 * The peer reset an established connection.
 *
 * @example
 * ```ts
 * import { ConnectionReset } from "./errors.ts";
 * console.assert(new ConnectionReset().name === "ConnectionReset");
 * ```
 */
export class ConnectionReset extends TcpError {
  /**
   * Makes the error.
   *
   * @param message details
   */
  constructor(message = "connection reset by peer") {
    super("ECONNRESET", message);
    this.name = "ConnectionReset";
  }
}

/**
 * Retransmissions (SYN, data or keep-alive probes) ran out.
 *
 * @example
 * ```ts
 * import { TimedOut } from "./errors.ts";
 * console.assert(new TimedOut().code === "ETIMEDOUT");
 * ```
 */
export class TimedOut extends TcpError {
  /**
   * Makes the error.
   *
   * @param message details
   */
  constructor(message = "timed out") {
    super("ETIMEDOUT", message);
    this.name = "TimedOut";
  }
}

/**
 * The local port (or 4-tuple) is already taken.
 *
 * @example
 * ```ts
 * import { AddrInUse } from "./errors.ts";
 * console.assert(new AddrInUse().code === "EADDRINUSE");
 * ```
 */
export class AddrInUse extends TcpError {
  /**
   * Makes the error.
   *
   * @param message details
   */
  constructor(message = "address in use") {
    super("EADDRINUSE", message);
    this.name = "AddrInUse";
  }
}

/**
 * The operation needs a connected socket (or there is no route to the peer).
 *
 * @example
 * ```ts
 * import { NotConnected } from "./errors.ts";
 * console.assert(new NotConnected().code === "ENOTCONN");
 * ```
 */
export class NotConnected extends TcpError {
  /**
   * Makes the error.
   *
   * @param message details
   */
  constructor(message = "not connected") {
    super("ENOTCONN", message);
    this.name = "NotConnected";
  }
}

/**
 * Writing after the send side was shut down or the connection died.
 *
 * @example
 * ```ts
 * import { BrokenPipe } from "./errors.ts";
 * console.assert(new BrokenPipe().code === "EPIPE");
 * ```
 */
export class BrokenPipe extends TcpError {
  /**
   * Makes the error.
   *
   * @param message details
   */
  constructor(message = "broken pipe") {
    super("EPIPE", message);
    this.name = "BrokenPipe";
  }
}

/**
 * ICMP destination unreachable (other than port/protocol) during connect.
 *
 * @example
 * ```ts
 * import { HostUnreachable } from "./errors.ts";
 * console.assert(new HostUnreachable().code === "EHOSTUNREACH");
 * ```
 */
export class HostUnreachable extends TcpError {
  /**
   * Makes the error.
   *
   * @param message details
   */
  constructor(message = "host unreachable") {
    super("EHOSTUNREACH", message);
    this.name = "HostUnreachable";
  }
}

/**
 * The layer holds as many connections as it may (`TcpConfig.maxConnections`): no new one is
 * made until one closes (Linux reports ENOBUFS when it cannot allocate a socket).
 *
 * @example
 * ```ts
 * import { TooManyConnections } from "./errors.ts";
 * console.assert(new TooManyConnections().code === "ENOBUFS");
 * ```
 */
export class TooManyConnections extends TcpError {
  /**
   * Makes the error.
   *
   * @param message details
   */
  constructor(message = "too many connections") {
    super("ENOBUFS", message);
    this.name = "TooManyConnections";
  }
}
