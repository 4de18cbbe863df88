/**
 * The textbook's socket view — `socket()`, `bind()`, `listen()`,
 * `accept()`, `connect()`, `write()`, `read()`, `shutdown()`, `close()` on
 * small integer descriptors — as a thin facade over the same {@link TcpConn}
 * and {@link TcpListener} objects the promise API hands out. Failures are
 * {@link SocketError}s carrying the errno the POSIX call would set.
 *
 * Reachable as `stack.sockets`.
 *
 * @module
 */

import { linger2FinTimeoutMs, linger2Seconds } from "../tcp/config.ts";
import type { TcpConfig } from "../tcp/config.ts";
import type { TcpConnection, TcpInfo } from "../tcp/connection.ts";
import { TcpError } from "../tcp/errors.ts";
import { DEFAULT_BACKLOG } from "../tcp/tcp_layer.ts";
import type { TcpConn, TcpWriteOptions } from "./tcp_conn.ts";
import type { TcpListener } from "./tcp_listener.ts";
import { checkPort } from "./addr.ts";

/** errno names a {@link SocketError} can carry (POSIX meanings). */
export type SocketErrno =
  | "EBADF"
  | "EINVAL"
  | "ENOTCONN"
  | "EISCONN"
  | "EALREADY"
  | "EADDRINUSE"
  | "ECONNREFUSED"
  | "ECONNRESET"
  | "ETIMEDOUT"
  | "EPIPE"
  | "EHOSTUNREACH"
  | "ENOBUFS";

/** How {@link SocketDescriptors.shutdown} stops a connection (POSIX SHUT_RD/SHUT_WR/SHUT_RDWR). */
export type ShutdownHow = "read" | "write" | "both";

/**
 * A failed descriptor call, with the errno the POSIX call would set.
 *
 * @example
 * ```ts
 * import { SocketError } from "./descriptors.ts";
 * const e = new SocketError("EBADF", "read: bad descriptor 9");
 * console.assert(e.errno === "EBADF" && e.name === "SocketError");
 * ```
 */
export class SocketError extends Error {
  /**
   * Creates the error.
   *
   * @param errno the errno name
   * @param message details
   * @param options `cause`: the underlying error (e.g. a `TcpError`)
   */
  constructor(readonly errno: SocketErrno, message: string, options?: ErrorOptions) {
    super(`${errno}: ${message}`, options);
    this.name = "SocketError";
  }
}

/** What the facade needs from the stack (`Stack.connect` / `Stack.listen`). */
export interface SocketDescriptorHost {
  /** Active open; resolves once established. `configure` runs before the SYN is sent. */
  connect(
    opts: {
      hostname: string;
      port: number;
      localPort?: number;
      configure?: (conn: TcpConnection) => void;
    },
  ): Promise<TcpConn>;
  /** Passive open. */
  listen(opts: { port: number; hostname?: string; backlog?: number }): TcpListener;
  /** The TCP layer, whose configuration gives option defaults (`Stack.tcp`). */
  readonly tcp?: { readonly config: Readonly<TcpConfig> };
}

/** Lowest descriptor handed out (0–2 are stdin/stdout/stderr in the textbook's world). */
export const FIRST_SOCKET_FD = 3;
/** Default `listen()` backlog (Linux SOMAXCONN): the TCP layer's {@link DEFAULT_BACKLOG}. */
export const DEFAULT_SOCKET_BACKLOG: number = DEFAULT_BACKLOG;

type DescriptorState = "fresh" | "connecting" | "connected" | "listening";

interface Descriptor {
  state: DescriptorState;
  bindPort: number;
  bindHost: string | undefined;
  conn: TcpConn | null;
  listener: TcpListener | null;
  /** Options set with setsockopt, applied to the connection(s) when they exist. */
  opts: Map<SocketOptionName, number>;
}

/**
 * Socket options {@link SocketDescriptors.setsockopt} models, with POSIX/Linux units:
 * booleans as 0/1, keep-alive times in seconds, TCP_MAXSEG in bytes, IP_TTL 1..255,
 * IP_TOS the TOS byte (its ECN bits are TCP's, RFC 3168 §5). TCP_KEEPINIT (FreeBSD) bounds
 * the handshake, seconds. TCP_LINGER2 (Linux) is how long a closed connection waits in
 * FIN-WAIT-2 for the peer's FIN, seconds (at most 120; 0: the default; negative: not at all).
 * TCP_CORK (Linux) holds a partial segment of small writes until a full one forms; 0 sends
 * it at once (as does setting TCP_NODELAY); with nothing in flight it still leaves about an
 * RTO (at least 200 ms) later. IPV6_UNICAST_HOPS and IPV6_TCLASS (RFC 3493 §5.1, RFC 3542
 * §6.5) are the IPv6 names of the same two fields — hop limit and traffic class — and read
 * and write what IP_TTL and IP_TOS do: a connection has one family, so one value of each.
 */
export type SocketOptionName =
  | "TCP_NODELAY"
  | "TCP_CORK"
  | "SO_KEEPALIVE"
  | "TCP_KEEPIDLE"
  | "TCP_KEEPINTVL"
  | "TCP_KEEPCNT"
  | "TCP_KEEPINIT"
  | "TCP_LINGER2"
  | "TCP_MAXSEG"
  | "IP_TTL"
  | "IP_TOS"
  | "IPV6_UNICAST_HOPS"
  | "IPV6_TCLASS";

const SOCKET_OPTION_NAMES: ReadonlySet<string> = new Set<SocketOptionName>([
  "TCP_NODELAY",
  "TCP_CORK",
  "SO_KEEPALIVE",
  "TCP_KEEPIDLE",
  "TCP_KEEPINTVL",
  "TCP_KEEPCNT",
  "TCP_KEEPINIT",
  "TCP_LINGER2",
  "TCP_MAXSEG",
  "IP_TTL",
  "IP_TOS",
]);
/** IPv6 option names and the IPv4 option holding the same header field. */
const IPV6_OPTION_ALIASES: Readonly<Partial<Record<SocketOptionName, SocketOptionName>>> = {
  IPV6_UNICAST_HOPS: "IP_TTL",
  IPV6_TCLASS: "IP_TOS",
};
const MS_PER_SECOND = 1000;
/** IPv4 default TTL (Linux ip_default_ttl): what IP_TTL reads when not set. */
const DEFAULT_IP_TTL = 64;
/** Linux TCP_MSS_DEFAULT: what TCP_MAXSEG reads before a connection has an MSS. */
const TCP_MSS_DEFAULT = 536;
/** Largest TTL (RFC 791: 8 bits). */
const MAX_TTL = 255;

/**
 * Applies a descriptor's options to its engine connection (before the SYN or at once).
 * `pushOptions` false leaves out TCP_NODELAY and TCP_CORK: setting either pushes held data
 * (Linux), so setsockopt applies them only when they are the option set.
 */
function applyOptions(
  c: TcpConnection,
  opts: ReadonlyMap<SocketOptionName, number>,
  pushOptions = true,
): void {
  const ttl = opts.get("IP_TTL");
  const tos = opts.get("IP_TOS");
  if (ttl !== undefined || tos !== undefined) c.setIpOptions(ttl ?? 0, tos ?? 0);
  const mss = opts.get("TCP_MAXSEG");
  if (mss !== undefined && mss > 0) c.setMaxSegment(mss);
  const sec = (k: SocketOptionName) => {
    const v = opts.get(k);
    return v === undefined ? undefined : v * MS_PER_SECOND;
  };
  c.setKeepAliveTimers({
    idleMs: sec("TCP_KEEPIDLE"),
    intervalMs: sec("TCP_KEEPINTVL"),
    probes: opts.get("TCP_KEEPCNT"),
    initMs: sec("TCP_KEEPINIT"),
  });
  const linger2 = opts.get("TCP_LINGER2");
  if (linger2 !== undefined) c.setFinTimeout(linger2FinTimeoutMs(linger2));
  const nodelay = opts.get("TCP_NODELAY");
  if (nodelay !== undefined && pushOptions) c.setNoDelay(nodelay !== 0);
  const cork = opts.get("TCP_CORK");
  if (cork !== undefined && pushOptions) c.setCork(cork !== 0);
  const keepalive = opts.get("SO_KEEPALIVE");
  if (keepalive !== undefined) c.setKeepAlive(keepalive !== 0);
}

function errnoOf(e: unknown): SocketErrno | null {
  if (e instanceof TcpError) return e.code;
  if (e instanceof Deno.errors.BadResource) return "EBADF";
  if (e instanceof Error) {
    if (e.name === "StackClosedError") return "EBADF";
    if (e.name === "DnsError") return "EHOSTUNREACH";
    if (e instanceof TypeError) return "EINVAL";
  }
  return null;
}

function wrap(what: string, e: unknown): unknown {
  if (e instanceof SocketError) return e;
  const errno = errnoOf(e);
  if (errno === null) return e;
  return new SocketError(errno, `${what}: ${e instanceof Error ? e.message : String(e)}`, {
    cause: e,
  });
}

/**
 * Descriptor table of one stack.
 *
 * @example A client and a server, textbook style
 * ```ts
 * import { Stack } from "../stack.ts";
 * import { MemoryLink } from "../phy/memory_link.ts";
 * const [da, db] = MemoryLink.pair();
 * const a = new Stack({ device: da, ipv4: "192.0.2.2/24" });
 * const b = new Stack({ device: db, ipv4: "192.0.2.1/24" });
 * await a.start();
 * await b.start();
 * const srv = b.sockets;
 * const lfd = srv.socket();
 * srv.bind(lfd, { port: 80 });
 * srv.listen(lfd, 8);
 * const accepting = srv.accept(lfd);
 *
 * const cli = a.sockets;
 * const fd = cli.socket();
 * await cli.connect(fd, "192.0.2.1", 80);
 * await cli.write(fd, new TextEncoder().encode("GET /"));
 * await cli.shutdown(fd, "write");
 *
 * const cfd = await accepting;
 * const buf = new Uint8Array(64);
 * const n = await srv.read(cfd, buf);
 * console.assert(new TextDecoder().decode(buf.subarray(0, n)) === "GET /");
 * console.assert(await srv.read(cfd, buf) === 0); // end of file
 * srv.close(cfd);
 * srv.close(lfd);
 * cli.close(fd);
 * await a.close();
 * await b.close();
 * ```
 */
export class SocketDescriptors {
  readonly #host: SocketDescriptorHost;
  readonly #table = new Map<number, Descriptor>();

  /**
   * Creates an empty table (the stack makes one: `stack.sockets`).
   *
   * @param host the stack
   */
  constructor(host: SocketDescriptorHost) {
    this.#host = host;
  }

  /** Open descriptors. */
  get size(): number {
    return this.#table.size;
  }

  #get(fd: number, what: string): Descriptor {
    const d = Number.isInteger(fd) ? this.#table.get(fd) : undefined;
    if (d === undefined) throw new SocketError("EBADF", `${what}: bad descriptor ${fd}`);
    return d;
  }

  #connected(fd: number, what: string): TcpConn {
    const d = this.#get(fd, what);
    if (d.state !== "connected" || d.conn === null) {
      throw new SocketError("ENOTCONN", `${what}: descriptor ${fd} is not connected`);
    }
    return d.conn;
  }

  #allocate(d: Descriptor): number {
    let fd = FIRST_SOCKET_FD;
    while (this.#table.has(fd)) fd++; // POSIX: the lowest free descriptor
    this.#table.set(fd, d);
    return fd;
  }

  /**
   * Creates a TCP (stream) socket.
   *
   * @returns the new descriptor (the lowest free one, ≥ 3)
   */
  socket(): number {
    return this.#allocate({
      state: "fresh",
      bindPort: 0,
      bindHost: undefined,
      conn: null,
      listener: null,
      opts: new Map(),
    });
  }

  /**
   * Sets a socket option (POSIX `setsockopt`). Set before `connect`/`listen`, an option
   * shapes the SYN (TCP_MAXSEG, IP_TTL, IP_TOS) and the handshake (TCP_KEEPINIT); on a
   * listening socket it passes to every connection it accepts (as Linux and FreeBSD
   * inherit them); on a connection it applies at once.
   *
   * @param fd descriptor
   * @param option the option (an IPv6 name reads or sets its IPv4 twin)
   * @param value its value (see {@link SocketOptionName} for units)
   * @throws {SocketError} EBADF, EINVAL (unknown option or value out of range)
   *
   * @example
   * ```ts
   * import { SocketDescriptors } from "./descriptors.ts";
   * const s = new SocketDescriptors({ connect: () => Promise.reject(), listen: () => { throw 0; } });
   * const fd = s.socket();
   * s.setsockopt(fd, "TCP_KEEPIDLE", 30);
   * console.assert(s.getsockopt(fd, "TCP_KEEPIDLE") === 30);
   * console.assert(s.getsockopt(fd, "IP_TTL") === 64); // the default
   * ```
   */
  setsockopt(fd: number, option: SocketOptionName, value: number): void {
    const d = this.#get(fd, "setsockopt");
    const name = IPV6_OPTION_ALIASES[option] ?? option;
    if (!SOCKET_OPTION_NAMES.has(name)) {
      throw new SocketError("EINVAL", `setsockopt: unknown option ${String(name)}`);
    }
    // TCP_LINGER2 alone takes a negative value (Linux: no FIN-WAIT-2 wait at all).
    if (!Number.isInteger(value) || (value < 0 && name !== "TCP_LINGER2")) {
      throw new SocketError("EINVAL", `setsockopt: ${name} needs a non-negative integer`);
    }
    const positive = name === "TCP_KEEPIDLE" || name === "TCP_KEEPINTVL" ||
      name === "TCP_KEEPCNT" || name === "IP_TTL";
    if (
      (positive && value === 0) || (name === "IP_TTL" && value > MAX_TTL) ||
      (name === "IP_TOS" && value > 0xff)
    ) {
      throw new SocketError("EINVAL", `setsockopt: ${name} ${value} is out of range`);
    }
    d.opts.set(name, value);
    const conn = d.conn;
    if (conn === null) return;
    // TCP_NODELAY and TCP_CORK push what the cork holds (Linux do_tcp_setsockopt).
    if (name === "TCP_NODELAY") conn.setNoDelay(value !== 0);
    else if (name === "TCP_CORK") conn.setCork(value !== 0);
    else applyOptions(conn.connection, d.opts, false);
  }

  /**
   * Reads a socket option (POSIX `getsockopt`): what was set, else the stack's default;
   * TCP_MAXSEG reads the sending MSS once connected.
   *
   * @param fd descriptor
   * @param option the option (an IPv6 name reads its IPv4 twin)
   * @returns its value
   * @throws {SocketError} EBADF, EINVAL (unknown option)
   */
  getsockopt(fd: number, option: SocketOptionName): number {
    const d = this.#get(fd, "getsockopt");
    const name = IPV6_OPTION_ALIASES[option] ?? option;
    if (!SOCKET_OPTION_NAMES.has(name)) {
      throw new SocketError("EINVAL", `getsockopt: unknown option ${String(name)}`);
    }
    const info = d.conn?.connection.info();
    if (name === "TCP_MAXSEG" && info !== undefined) return info.sndMss;
    const set = d.opts.get(name);
    if (name === "TCP_LINGER2") {
      const ms = set === undefined ? info?.finTimeoutMs ?? null : linger2FinTimeoutMs(set);
      return linger2Seconds(ms, this.#host.tcp?.config.timeWaitMs ?? 0);
    }
    if (set !== undefined) return set;
    const cfg = this.#host.tcp?.config;
    const seconds = (ms: number | undefined) => Math.floor((ms ?? 0) / MS_PER_SECOND);
    switch (name) {
      case "IP_TTL":
        return info !== undefined && info.ipTtl > 0
          ? info.ipTtl
          : cfg !== undefined && cfg.ipTtl > 0
          ? cfg.ipTtl
          : DEFAULT_IP_TTL;
      case "IP_TOS":
        return info?.ipTos ?? cfg?.ipTos ?? 0;
      case "TCP_MAXSEG":
        return TCP_MSS_DEFAULT;
      case "TCP_KEEPIDLE":
        return seconds(info?.keepAliveIdleMs ?? cfg?.keepAliveIdleMs);
      case "TCP_KEEPINTVL":
        return seconds(info?.keepAliveIntervalMs ?? cfg?.keepAliveIntervalMs);
      case "TCP_KEEPCNT":
        return info?.keepAliveProbes ?? cfg?.keepAliveProbes ?? 0;
      case "TCP_KEEPINIT":
        return seconds(info?.keepAliveInitMs ?? cfg?.keepAliveInitMs);
      case "TCP_NODELAY":
        return info === undefined ? (cfg?.noDelay ? 1 : 0) : 0;
      default:
        return 0;
    }
  }

  /**
   * TCP_INFO of a connected descriptor (the engine's `info()`: state, RTT, windows, MSS,
   * options and ECN in use, keep-alive timers).
   *
   * @param fd connected descriptor
   * @returns the snapshot
   * @throws {SocketError} EBADF, ENOTCONN
   */
  tcpInfo(fd: number): TcpInfo {
    return this.#connected(fd, "getsockopt").connection.info();
  }

  /**
   * Gives the socket a local port (and address) for a later `listen` or `connect`.
   *
   * @param fd descriptor
   * @param addr `port` (0 = chosen later) and `hostname` (ours or `"0.0.0.0"`)
   * @throws {SocketError} EBADF, EINVAL (already bound/connected, bad port), EADDRINUSE
   */
  bind(fd: number, addr: { port: number; hostname?: string }): void {
    const d = this.#get(fd, "bind");
    if (d.state !== "fresh" || d.bindPort !== 0) {
      throw new SocketError("EINVAL", `bind: descriptor ${fd} is already bound`);
    }
    let port: number;
    try {
      port = checkPort(addr.port, "port");
    } catch (e) {
      throw wrap("bind", e);
    }
    if (port !== 0) {
      for (const other of this.#table.values()) {
        if (other !== d && other.bindPort === port) {
          throw new SocketError("EADDRINUSE", `bind: port ${port} is bound by another socket`);
        }
      }
    }
    d.bindPort = port;
    d.bindHost = addr.hostname;
  }

  /**
   * Starts listening (an unbound socket gets an ephemeral port).
   *
   * @param fd descriptor
   * @param backlog limit of the SYN and accept queues (default 128)
   * @throws {SocketError} EBADF, EINVAL (connected), EADDRINUSE
   */
  listen(fd: number, backlog: number = DEFAULT_SOCKET_BACKLOG): void {
    const d = this.#get(fd, "listen");
    if (d.state === "listening") return;
    if (d.state !== "fresh") {
      throw new SocketError("EINVAL", `listen: descriptor ${fd} is connected`);
    }
    try {
      d.listener = this.#host.listen({ port: d.bindPort, hostname: d.bindHost, backlog });
    } catch (e) {
      throw wrap("listen", e);
    }
    d.listener.engine.configure = (c) => applyOptions(c, d.opts);
    d.bindPort = d.listener.addr.port;
    d.state = "listening";
  }

  /**
   * Waits for a connection on a listening socket.
   *
   * @param fd listening descriptor
   * @returns a new descriptor for the connection
   * @throws {SocketError} EBADF (also when closed meanwhile), EINVAL (not listening)
   */
  async accept(fd: number): Promise<number> {
    const d = this.#get(fd, "accept");
    if (d.state !== "listening" || d.listener === null) {
      throw new SocketError("EINVAL", `accept: descriptor ${fd} is not listening`);
    }
    let conn: TcpConn;
    try {
      conn = await d.listener.accept();
    } catch (e) {
      throw wrap("accept", e);
    }
    return this.#allocate({
      state: "connected",
      bindPort: conn.localAddr.port,
      bindHost: undefined,
      conn,
      listener: null,
      opts: new Map(d.opts), // inherited from the listening socket
    });
  }

  /**
   * Connects (three-way handshake); `host` may be a name (DNS).
   *
   * @param fd descriptor
   * @param host dotted quad or name
   * @param port destination port
   * @throws {SocketError} EBADF, EISCONN, EALREADY, EINVAL (listening), ECONNREFUSED,
   *   ETIMEDOUT, EHOSTUNREACH, EADDRINUSE
   */
  async connect(fd: number, host: string, port: number): Promise<void> {
    const d = this.#get(fd, "connect");
    if (d.state === "connected") throw new SocketError("EISCONN", `connect: ${fd} is connected`);
    if (d.state === "connecting") throw new SocketError("EALREADY", `connect: ${fd} in progress`);
    if (d.state === "listening") throw new SocketError("EINVAL", `connect: ${fd} is listening`);
    d.state = "connecting";
    let conn: TcpConn;
    try {
      conn = await this.#host.connect({
        hostname: host,
        port,
        localPort: d.bindPort === 0 ? undefined : d.bindPort,
        configure: d.opts.size === 0 ? undefined : (c) => applyOptions(c, d.opts),
      });
    } catch (e) {
      if (this.#table.get(fd) === d) d.state = "fresh";
      throw wrap("connect", e);
    }
    if (this.#table.get(fd) !== d) {
      // Closed while connecting.
      conn.close();
      throw new SocketError("EBADF", `connect: descriptor ${fd} was closed`);
    }
    d.conn = conn;
    d.bindPort = conn.localAddr.port;
    d.state = "connected";
  }

  /**
   * Writes all of `bytes` (waits for send-buffer room), as `send(2)`; `flags.more` is
   * MSG_MORE (the partial segment at the end is held: see {@link TcpConn.write}).
   *
   * @param fd connected descriptor
   * @param bytes data
   * @param flags `send(2)` flags: `more` (MSG_MORE)
   * @returns bytes written (`bytes.length`)
   * @throws {SocketError} EBADF, ENOTCONN, EPIPE (after shutdown), ECONNRESET, ETIMEDOUT
   */
  async write(fd: number, bytes: Uint8Array, flags?: TcpWriteOptions): Promise<number> {
    const conn = this.#connected(fd, "write");
    try {
      return await conn.write(bytes, flags);
    } catch (e) {
      throw wrap("write", e);
    }
  }

  /**
   * Reads what has arrived, waiting for at least one byte.
   *
   * @param fd connected descriptor
   * @param buf destination
   * @returns bytes read; 0 at end of file (the peer's FIN) or for an empty `buf`
   * @throws {SocketError} EBADF, ENOTCONN, ECONNRESET, ETIMEDOUT
   */
  async read(fd: number, buf: Uint8Array): Promise<number> {
    const conn = this.#connected(fd, "read");
    try {
      return (await conn.read(buf)) ?? 0;
    } catch (e) {
      throw wrap("read", e);
    }
  }

  /**
   * Shuts down one or both directions: "write" sends a FIN after the queued
   * data (half-close), "read" makes further reads return 0.
   *
   * @param fd connected descriptor
   * @param how "read", "write" or "both"
   * @throws {SocketError} EBADF, ENOTCONN, EINVAL (bad `how`)
   */
  async shutdown(fd: number, how: ShutdownHow): Promise<void> {
    const conn = this.#connected(fd, "shutdown");
    if (how !== "read" && how !== "write" && how !== "both") {
      throw new SocketError("EINVAL", `shutdown: how must be "read", "write" or "both"`);
    }
    try {
      if (how !== "write") conn.shutdownRead();
      if (how !== "read") await conn.closeWrite();
    } catch (e) {
      throw wrap("shutdown", e);
    }
  }

  /**
   * Closes a descriptor: a connection sends its FIN (or RST with unread
   * data), a listener stops. Pending calls on it fail with EBADF.
   *
   * @param fd descriptor
   * @throws {SocketError} EBADF
   */
  close(fd: number): void {
    const d = this.#get(fd, "close");
    this.#table.delete(fd);
    d.conn?.close();
    d.listener?.close();
  }

  /**
   * The promise-API object behind a descriptor (for `info()`, streams...).
   *
   * @param fd descriptor
   * @returns the conn, the listener, or null for a socket that is neither yet
   * @throws {SocketError} EBADF
   */
  object(fd: number): TcpConn | TcpListener | null {
    const d = this.#get(fd, "object");
    return d.conn ?? d.listener;
  }
}
