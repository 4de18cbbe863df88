/**
 * The system-call emulation packetdrill scripts talk to: a descriptor table
 * of sockets over one {@link TcpLayer}, with Linux-like results and errnos
 * (blocking and non-blocking modes, `SO_ERROR`, shutdown halves).
 *
 * A call either completes (`done`), would block (`blocked`: the runner
 * retries it as virtual time passes and packets arrive), or is outside what
 * rawstack models (`unsupported`: the script is not applicable).
 *
 * @module
 */

import { linger2FinTimeoutMs, linger2Seconds } from "../../tcp/config.ts";
import type { Ipv6Address } from "../../wire/ipv6_address.ts";
import { type TcpConnection, TcpState } from "../../tcp/connection.ts";
import type { TcpLayer, TcpListener } from "../../tcp/tcp_layer.ts";
import type { Expr } from "./script.ts";

/** Port a bound/listening socket uses (packetdrill's default). */
export const SCRIPT_LOCAL_PORT = 8080;
/** Port of the remote server a script connects to (packetdrill's default). */
export const SCRIPT_REMOTE_SERVER_PORT = 8080;
/** Port the scripted remote client connects from. */
export const SCRIPT_REMOTE_CLIENT_PORT = 47_321;
/** First descriptor handed out (0-2 are stdio). */
const FIRST_FD = 3;
/** Largest read/write size emulated, bytes. */
const MAX_IO_BYTES = 1 << 22;

/** Linux errno numbers, for SO_ERROR values and `[ECONNREFUSED]` arguments. */
export const ERRNO: Readonly<Record<string, number>> = {
  EPERM: 1,
  EBADF: 9,
  EAGAIN: 11,
  EWOULDBLOCK: 11,
  EFAULT: 14,
  EINVAL: 22,
  EPIPE: 32,
  ENOTSOCK: 88,
  ENOPROTOOPT: 92,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  ECONNRESET: 104,
  EISCONN: 106,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
};

const O_RDWR = 0x2;
const O_NONBLOCK = 0x800;
const SHUT_RD = 0;
const SHUT_WR = 1;
const SHUT_RDWR = 2;

/** Identifier values used in arguments. Socket-option names map to themselves (strings). */
const CONSTANTS: Readonly<Record<string, number>> = {
  AF_INET: 2,
  PF_INET: 2,
  SOCK_STREAM: 1,
  IPPROTO_TCP: 6,
  SOL_TCP: 6,
  SOL_SOCKET: 1,
  IPPROTO_IP: 0,
  IPPROTO_IPV6: 41,
  O_RDWR,
  O_RDONLY: 0,
  O_WRONLY: 1,
  O_NONBLOCK,
  F_GETFL: 3,
  F_SETFL: 4,
  SHUT_RD,
  SHUT_WR,
  SHUT_RDWR,
  MSG_DONTWAIT: 0x40,
  MSG_PEEK: 0x2,
  MSG_WAITALL: 0x100,
  SIOCINQ: 0x541b,
  FIONREAD: 0x541b,
  SIOCOUTQ: 0x5411,
  TIOCOUTQ: 0x5411,
  MSG_MORE: 0x8000,
  MSG_EOR: 0x80,
  // RFC 2474 class selectors / RFC 791 precedence as FreeBSD's <netinet/ip.h> names them.
  IPTOS_DSCP_CS0: 0x00,
  IPTOS_DSCP_CS1: 0x20,
  IPTOS_DSCP_CS2: 0x40,
  IPTOS_DSCP_CS3: 0x60,
  IPTOS_DSCP_CS4: 0x80,
  IPTOS_DSCP_CS5: 0xa0,
  IPTOS_DSCP_CS6: 0xc0,
  IPTOS_DSCP_CS7: 0xe0,
  IPTOS_LOWDELAY: 0x10,
  IPTOS_THROUGHPUT: 0x08,
  IPTOS_RELIABILITY: 0x04,
  ...ERRNO,
};

/** Socket options kept per socket and applied to its connection (IP and keep-alive). */
const CONNECTION_OPTIONS = new Set([
  "IP_TTL",
  "IP_TOS",
  "IPV6_UNICAST_HOPS",
  "IPV6_TCLASS",
  "TCP_MAXSEG",
  "TCP_KEEPIDLE",
  "TCP_KEEPINTVL",
  "TCP_KEEPCNT",
  "TCP_KEEPINIT",
  "TCP_LINGER2",
]);

/** Largest TTL (RFC 791: 8 bits). */
const MAX_TTL = 255;
const MS_PER_SECOND = 1000;

/** Socket options rawstack models. */
const SUPPORTED_OPTIONS = new Set([
  "SO_REUSEADDR",
  "SO_REUSEPORT",
  "SO_ERROR",
  "SO_RCVBUF",
  "SO_SNDBUF",
  "SO_KEEPALIVE",
  "TCP_NODELAY",
  "TCP_CORK",
  ...CONNECTION_OPTIONS,
]);

/** Why a socket option is not applicable, by name. */
const OPTION_REASONS: Readonly<Record<string, string>> = {
  TCP_DEFER_ACCEPT: "TCP_DEFER_ACCEPT is a Linux-only socket option",
  TCP_NOOPT: "TCP_NOOPT is a FreeBSD-only socket option",
  TCP_FASTOPEN: "TCP Fast Open (RFC 7413) is not implemented",
  TCP_FASTOPEN_CONNECT: "TCP Fast Open (RFC 7413) is not implemented",
  TCP_MD5SIG: "TCP MD5 signatures (RFC 2385) are not implemented",
  TCP_CONGESTION: "TCP_CONGESTION selects Linux congestion modules",
  TCP_INFO: "TCP_INFO layout is Linux-specific",
  TCP_RACK_PACE_MAX_SEG: "TCP_RACK_PACE_* select FreeBSD's RACK stack pacing",
  TCP_RACK_PACE_RATE_SS: "TCP_RACK_PACE_* select FreeBSD's RACK stack pacing",
  TCP_RACK_PACE_ALWAYS: "TCP_RACK_PACE_* select FreeBSD's RACK stack pacing",
  IP_MTU_DISCOVER: "IP_MTU_DISCOVER (Linux PMTU discovery modes) is not modelled",
  TCP_USER_TIMEOUT: "TCP_USER_TIMEOUT (RFC 5482) is not implemented",
  SO_LINGER: "SO_LINGER is not modelled",
};

/** Names of system calls the table emulates. */
export const SUPPORTED_SYSCALLS: ReadonlySet<string> = new Set([
  "socket",
  "bind",
  "listen",
  "accept",
  "connect",
  "read",
  "write",
  "send",
  "sendmsg",
  "recv",
  "shutdown",
  "close",
  "setsockopt",
  "getsockopt",
  "fcntl",
  "ioctl",
  "getsockname",
  "getpeername",
]);

/** Outcome of one call. */
export type SyscallOutcome =
  | {
    kind: "done";
    /** Return value. */
    result: number;
    /** errno name when result is -1. */
    errno?: string;
    /** A value returned through a pointer argument that differs from the script's. */
    valueMismatch?: { expected: string; got: string };
  }
  | { kind: "blocked" }
  | { kind: "unsupported"; reason: string };

interface Sock {
  fd: number;
  nonblocking: boolean;
  bound: boolean;
  listener: TcpListener | null;
  conn: TcpConnection | null;
  shutRd: boolean;
  shutWr: boolean;
  errorReported: boolean;
  /** connect() reported success. */
  connected: boolean;
  /** Socket options set by the script (value as given). */
  opts: Map<string, number>;
  /** Bytes a blocking write has already queued. */
  written: number;
}

/** Options of {@link SocketTable}. */
export interface SocketTableOptions {
  /** The engine. */
  tcp: TcpLayer;
  /** Current time in ms (the runner's virtual clock). */
  nowMs: () => number;
  /** The scripted remote host (u32). */
  remoteAddr: number;
  /** The remote end of a `--ip_version=ipv6` script (connect goes over IPv6), else absent. */
  remoteAddr6?: Ipv6Address;
  /** Portable mode: socket buffer sizes are accepted without comparing values. */
  portable: boolean;
}

/**
 * Evaluates an argument to a number: integers, constants, `A | B`, and
 * single-element lists such as `[1]`.
 *
 * @param e the expression
 * @returns the value, a string for an unknown identifier, or null
 *
 * @example
 * ```ts
 * import { evalArg } from "./syscalls.ts";
 * console.assert(evalArg({ type: "or", terms: [{ type: "ident", name: "O_RDWR" },
 *   { type: "ident", name: "O_NONBLOCK" }] }) === 0x802);
 * console.assert(evalArg({ type: "list", items: [{ type: "number", value: 4 }] }) === 4);
 * ```
 */
export function evalArg(e: Expr | undefined): number | string | null {
  if (e === undefined) return null;
  switch (e.type) {
    case "number":
      return e.value;
    case "ident":
      return CONSTANTS[e.name] ?? e.name;
    case "or": {
      let v = 0;
      for (const t of e.terms) {
        const x = evalArg(t);
        if (typeof x !== "number") return null;
        v |= x;
      }
      return v;
    }
    case "list":
      return e.items.length === 1 ? evalArg(e.items[0]) : null;
    default:
      return null;
  }
}

/**
 * Why a system call line cannot be emulated (before running), or null.
 *
 * @param name call name
 * @param args its arguments
 * @returns a one-line reason, or null when supported
 *
 * @example
 * ```ts
 * import { unsupportedReason } from "./syscalls.ts";
 * console.assert(unsupportedReason("setsockopt", [{ type: "number", value: 3 },
 *   { type: "ident", name: "SOL_TCP" }, { type: "ident", name: "TCP_DEFER_ACCEPT" }]) !== null);
 * console.assert(unsupportedReason("close", [{ type: "number", value: 3 }]) === null);
 * ```
 */
export function unsupportedReason(name: string, args: readonly Expr[]): string | null {
  if (!SUPPORTED_SYSCALLS.has(name)) return `system call ${name}() is not emulated`;
  if (name === "send" || name === "sendmsg") {
    const flags = evalArg(args[name === "send" ? 3 : 2]);
    if (typeof flags === "number" && (flags & CONSTANTS.MSG_EOR) !== 0) {
      return "MSG_EOR (Linux: no coalescing across the record end) is not modelled";
    }
  }
  if (name === "setsockopt" || name === "getsockopt") {
    const opt = args[2];
    const optName = opt?.type === "ident" ? opt.name : null;
    if (optName === null) return `${name} with a numeric option is not emulated`;
    if (!SUPPORTED_OPTIONS.has(optName)) {
      return OPTION_REASONS[optName] ?? `socket option ${optName} is not modelled`;
    }
  }
  if (name === "ioctl") {
    const req = args[1];
    const r = req?.type === "ident" ? req.name : "";
    if (!["SIOCINQ", "FIONREAD", "SIOCOUTQ", "TIOCOUTQ"].includes(r)) {
      return `ioctl ${r || "request"} is not emulated`;
    }
  }
  return null;
}

/** RFC 9293 state name → packetdrill `tcpi_state` constants (Linux and FreeBSD spellings). */
const TCPI_NAMES: Readonly<Record<string, readonly string[]>> = {
  "CLOSED": ["TCPI_CLOSED", "TCPI_CLOSE"],
  "LISTEN": ["TCPI_LISTEN"],
  "SYN-SENT": ["TCPI_SYN_SENT"],
  "SYN-RECEIVED": ["TCPI_SYN_RECV", "TCPI_SYN_RECEIVED"],
  "ESTABLISHED": ["TCPI_ESTABLISHED"],
  "FIN-WAIT-1": ["TCPI_FIN_WAIT1", "TCPI_FIN_WAIT_1"],
  "FIN-WAIT-2": ["TCPI_FIN_WAIT2", "TCPI_FIN_WAIT_2"],
  "CLOSE-WAIT": ["TCPI_CLOSE_WAIT"],
  "CLOSING": ["TCPI_CLOSING"],
  "LAST-ACK": ["TCPI_LAST_ACK"],
  "TIME-WAIT": ["TCPI_TIME_WAIT"],
};

/**
 * Whether a `tcpi_state` constant names an RFC 9293 state.
 *
 * @param rfcState e.g. `FIN-WAIT-1`
 * @param tcpi e.g. `TCPI_FIN_WAIT1`
 * @returns true when they are the same state
 *
 * @example
 * ```ts
 * import { tcpiMatches } from "./syscalls.ts";
 * console.assert(tcpiMatches("SYN-RECEIVED", "TCPI_SYN_RECV"));
 * console.assert(!tcpiMatches("CLOSED", "TCPI_LISTEN"));
 * ```
 */
export function tcpiMatches(rfcState: string, tcpi: string): boolean {
  return (TCPI_NAMES[rfcState] ?? []).includes(tcpi);
}

/**
 * A descriptor table of emulated sockets over one TCP layer.
 *
 * @example
 * ```ts
 * import { SocketTable } from "./syscalls.ts";
 * import { TcpLayer } from "../../tcp/tcp_layer.ts";
 * import { ManualClock } from "../../time/clock.ts";
 * import { TimerWheel } from "../../time/timer_wheel.ts";
 * const clock = new ManualClock();
 * const ip = { allocate: () => null, send: () => true, sourceAddressFor: () => 1, mtuFor: () => 1500 };
 * const tcp = new TcpLayer({ ip, wheel: new TimerWheel(), clock });
 * const table = new SocketTable({ tcp, nowMs: () => clock.now(), remoteAddr: 2, portable: false });
 * const r = table.call("socket", [{ type: "ellipsis" }, { type: "ident", name: "SOCK_STREAM" },
 *   { type: "ident", name: "IPPROTO_TCP" }]);
 * console.assert(r.kind === "done" && r.result === 3);
 * ```
 */
export class SocketTable {
  readonly #tcp: TcpLayer;
  readonly #nowMs: () => number;
  readonly #remoteAddr: number;
  readonly #remoteAddr6: Ipv6Address | null;
  readonly #portable: boolean;
  readonly #socks = new Map<number, Sock>();
  #zeros = new Uint8Array(0);
  /** Descriptor of the last call that named one (target of `tcpi_state` asserts). */
  lastFd: number = -1;
  /** Local port of the connection the script talks to (set by connect). */
  localPort: number = SCRIPT_LOCAL_PORT;
  /** Remote port of that connection. */
  remotePort: number = SCRIPT_REMOTE_CLIENT_PORT;
  /**
   * The descriptor the next socket() or accept() should return (the script's number;
   * packetdrill maps script descriptors to live ones), or -1 for the lowest free one.
   */
  nextFd: number = -1;
  /** The TCP connection last made by connect or accept. */
  lastConnection: TcpConnection | null = null;

  /**
   * Makes an empty table.
   *
   * @param opts engine, clock, remote address, mode
   */
  constructor(opts: SocketTableOptions) {
    this.#tcp = opts.tcp;
    this.#nowMs = opts.nowMs;
    this.#remoteAddr = opts.remoteAddr;
    this.#remoteAddr6 = opts.remoteAddr6 ?? null;
    this.#portable = opts.portable;
  }

  /**
   * The RFC 9293 state of a descriptor's socket (`CLOSED` for a fresh or
   * unknown one, `LISTEN` for a listener).
   *
   * @param fd descriptor
   * @returns state name
   */
  stateOf(fd: number): string {
    const s = this.#socks.get(fd);
    if (s === undefined) return "CLOSED";
    if (s.listener !== null) return s.listener.closed ? "CLOSED" : "LISTEN";
    if (s.conn !== null) return s.conn.stateName;
    return "CLOSED";
  }

  /**
   * The TCP connection of a descriptor, or null.
   *
   * @param fd descriptor
   * @returns its connection
   */
  connectionOf(fd: number): TcpConnection | null {
    return this.#socks.get(fd)?.conn ?? null;
  }

  /**
   * Runs (or retries) one system call.
   *
   * @param name call name
   * @param args arguments as written
   * @returns done, blocked, or unsupported
   */
  call(name: string, args: readonly Expr[]): SyscallOutcome {
    const why = unsupportedReason(name, args);
    if (why !== null) return { kind: "unsupported", reason: why };
    if (name === "socket") return this.#socket();
    const fdArg = evalArg(args[0]);
    if (typeof fdArg !== "number") {
      return { kind: "unsupported", reason: "descriptor is not a number" };
    }
    this.lastFd = fdArg;
    const s = this.#socks.get(fdArg);
    if (s === undefined) return err("EBADF");
    switch (name) {
      case "bind":
        s.bound = true;
        if (s.conn === null && s.listener === null) this.#recordBound(s);
        return ok(0);
      case "listen":
        return this.#listen(s, args);
      case "accept":
        return this.#accept(s);
      case "connect":
        return this.#connect(s);
      case "read":
      case "recv":
        return this.#read(s, args);
      case "write":
        return this.#write(s, args, false);
      case "send":
        return this.#write(s, args, hasFlag(args[3], CONSTANTS.MSG_MORE));
      case "sendmsg":
        return this.#write(
          s,
          [args[0], args[1], { type: "number", value: iovBytes(args[1]) }],
          hasFlag(args[2], CONSTANTS.MSG_MORE),
        );
      case "shutdown":
        return this.#shutdown(s, args);
      case "close":
        return this.#close(s);
      case "setsockopt":
        return this.#setsockopt(s, args);
      case "getsockopt":
        return this.#getsockopt(s, args);
      case "fcntl":
        return this.#fcntl(s, args);
      case "ioctl":
        return this.#ioctl(s, args);
      default: // getsockname, getpeername
        return ok(0);
    }
  }

  /** The lowest free descriptor, or {@link nextFd} when the script names a free one. */
  #newFd(): number {
    const want = this.nextFd;
    this.nextFd = -1;
    if (want >= FIRST_FD && !this.#socks.has(want)) return want;
    let fd = FIRST_FD;
    while (this.#socks.has(fd)) fd++;
    return fd;
  }

  #socket(): SyscallOutcome {
    const fd = this.#newFd();
    this.#socks.set(fd, newSock(fd));
    this.lastFd = fd;
    return ok(fd);
  }

  #listen(s: Sock, args: readonly Expr[]): SyscallOutcome {
    const backlog = evalArg(args[1]);
    if (s.conn !== null) return err("EINVAL");
    if (s.listener !== null) return ok(0);
    if (s.bound) this.#tcp.unbindPort(SCRIPT_LOCAL_PORT);
    try {
      s.listener = this.#tcp.listen(
        SCRIPT_LOCAL_PORT,
        typeof backlog === "number" && backlog > 0 ? backlog : undefined,
      );
    } catch {
      return err("EADDRINUSE");
    }
    s.listener.configure = (c) => applyConnectionOptions(c, s.opts);
    this.localPort = SCRIPT_LOCAL_PORT;
    this.remotePort = SCRIPT_REMOTE_CLIENT_PORT;
    return ok(0);
  }

  #accept(s: Sock): SyscallOutcome {
    if (s.listener === null) return err("EINVAL");
    const conn = s.listener.accept();
    if (conn === null) return s.nonblocking ? err("EAGAIN") : { kind: "blocked" };
    const fd = this.#newFd();
    const child = newSock(fd);
    child.conn = conn;
    for (const [k, v] of s.opts) if (CONNECTION_OPTIONS.has(k)) child.opts.set(k, v);
    // Linux: accepted sockets inherit TCP_NODELAY from the listener; O_NONBLOCK is not inherited.
    if (s.opts.get("TCP_NODELAY")) {
      child.opts.set("TCP_NODELAY", 1);
      conn.setNoDelay(true);
    }
    // Linux: tp->nonagle (TCP_CORK too) is copied to the accepted socket.
    if (s.opts.get("TCP_CORK")) {
      child.opts.set("TCP_CORK", 1);
      conn.setCork(true);
    }
    this.#socks.set(fd, child);
    this.lastConnection = conn;
    this.lastFd = fd;
    return ok(fd);
  }

  #connect(s: Sock): SyscallOutcome {
    if (s.listener !== null) return err("EINVAL");
    const c = s.conn;
    if (c === null) {
      if (s.bound) this.#tcp.unbindPort(SCRIPT_LOCAL_PORT);
      let conn: TcpConnection;
      try {
        const connectOptions = {
          localPort: s.bound ? SCRIPT_LOCAL_PORT : undefined,
          configure: (c: TcpConnection) => applyConnectionOptions(c, s.opts),
        };
        conn = this.#remoteAddr6 !== null
          ? this.#tcp.connect6(
            this.#nowMs(),
            this.#remoteAddr6,
            SCRIPT_REMOTE_SERVER_PORT,
            connectOptions,
          )
          : this.#tcp.connect(
            this.#nowMs(),
            this.#remoteAddr,
            SCRIPT_REMOTE_SERVER_PORT,
            connectOptions,
          );
      } catch {
        return err("EADDRINUSE");
      }
      s.conn = conn;
      this.lastConnection = conn;
      this.localPort = conn.localPort;
      this.remotePort = SCRIPT_REMOTE_SERVER_PORT;
      if (s.opts.get("TCP_NODELAY")) conn.setNoDelay(true);
      if (s.opts.get("TCP_CORK")) conn.setCork(true);
      if (s.opts.get("SO_KEEPALIVE")) conn.setKeepAlive(true);
      if (s.nonblocking) return err("EINPROGRESS");
      return this.#connectDone(s, conn) ?? { kind: "blocked" };
    }
    // Linux: a later connect() reports the outcome once (0 or the error), then EISCONN.
    if (s.connected) return err("EISCONN");
    const done = this.#connectDone(s, c);
    if (done !== null) return done;
    return s.nonblocking ? err("EALREADY") : { kind: "blocked" };
  }

  /** Whether a connection attempt finished: 0, -1 errno, or null (still connecting). */
  #connectDone(s: Sock, c: TcpConnection): SyscallOutcome | null {
    const e = c.error;
    if (e !== null) {
      s.errorReported = true;
      return err(e.code === "EADDRINUSE" ? "ECONNREFUSED" : e.code);
    }
    if (c.state >= TcpState.ESTABLISHED || c.finReceived) {
      s.connected = true;
      return ok(0);
    }
    if (c.released) return err("ECONNREFUSED");
    return null;
  }

  /** A pending error reported once (SO_ERROR semantics), or null. */
  #takeError(s: Sock): string | null {
    const c = s.conn;
    if (c === null || c.error === null || s.errorReported) return null;
    s.errorReported = true;
    return c.error.code;
  }

  #read(s: Sock, args: readonly Expr[]): SyscallOutcome {
    const c = s.conn;
    if (c === null) return err("ENOTCONN");
    const want = evalArg(args[2]);
    if (typeof want !== "number" || want < 0) return { kind: "unsupported", reason: "read size" };
    const flags = evalArg(args[3]);
    const dontWait = typeof flags === "number" && (flags & CONSTANTS.MSG_DONTWAIT) !== 0;
    if (c.readableLength > 0) {
      const n = Math.min(want, c.readableLength, MAX_IO_BYTES);
      const buf = this.#scratch(n);
      return ok(c.read(buf, 0, n));
    }
    const e = this.#takeError(s);
    if (e !== null) return err(e);
    if (c.finReceived || s.shutRd || c.state === TcpState.CLOSED) return ok(0);
    if (c.state < TcpState.ESTABLISHED && s.nonblocking) return err("EAGAIN");
    return s.nonblocking || dontWait ? err("EAGAIN") : { kind: "blocked" };
  }

  /** write/send/sendmsg; `more` is MSG_MORE (Linux: this write is corked). */
  #write(s: Sock, args: readonly Expr[], more: boolean): SyscallOutcome {
    const c = s.conn;
    if (c === null) return err(s.shutWr ? "EPIPE" : "ENOTCONN");
    const want = evalArg(args[2]);
    if (typeof want !== "number" || want < 0 || want > MAX_IO_BYTES) {
      return { kind: "unsupported", reason: "write size" };
    }
    const e = this.#takeError(s);
    if (e !== null) return err(e);
    if (s.shutWr) return err("EPIPE");
    if (c.state === TcpState.SYN_SENT || c.state === TcpState.SYN_RECEIVED) {
      return s.nonblocking ? err("EAGAIN") : { kind: "blocked" };
    }
    const buf = this.#scratch(want);
    const n = c.write(buf, 0, want - s.written, more);
    if (n < 0) return err("EPIPE");
    s.written += n;
    if (s.written >= want || s.nonblocking) {
      const total = s.written;
      s.written = 0;
      return total > 0 || want === 0 ? ok(total) : err("EAGAIN");
    }
    return { kind: "blocked" };
  }

  #shutdown(s: Sock, args: readonly Expr[]): SyscallOutcome {
    const how = evalArg(args[1]);
    const c = s.conn;
    if (c === null || c.state < TcpState.SYN_RECEIVED && c.state !== TcpState.SYN_SENT) {
      return err("ENOTCONN");
    }
    if (how === SHUT_RD || how === SHUT_RDWR) s.shutRd = true;
    if (how === SHUT_WR || how === SHUT_RDWR) {
      s.shutWr = true;
      c.closeWrite();
    }
    if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return err("EINVAL");
    return ok(0);
  }

  #close(s: Sock): SyscallOutcome {
    this.#socks.delete(s.fd);
    if (s.bound && s.conn === null && s.listener === null) this.#tcp.unbindPort(SCRIPT_LOCAL_PORT);
    if (s.listener !== null) s.listener.close();
    if (s.conn !== null) s.conn.close();
    return ok(0);
  }

  #setsockopt(s: Sock, args: readonly Expr[]): SyscallOutcome {
    const name = (args[2] as { name: string }).name;
    const v = evalArg(args[3]);
    if (typeof v !== "number") return { kind: "unsupported", reason: `${name} value` };
    if (name === "IP_TTL" && (v < -1 || v > MAX_TTL || v === 0)) return err("EINVAL");
    // RFC 3493 §5.1 / RFC 3542 §6.5: -1 selects the default; Linux do_ipv6_setsockopt
    // refuses anything else outside 0..255 with EINVAL.
    if ((name === "IPV6_UNICAST_HOPS" || name === "IPV6_TCLASS") && (v < -1 || v > MAX_TTL)) {
      return err("EINVAL");
    }
    if (name === "TCP_MAXSEG" && v < 0) return err("EINVAL");
    if (
      (name === "TCP_KEEPIDLE" || name === "TCP_KEEPINTVL" || name === "TCP_KEEPCNT") && v < 1
    ) return err("EINVAL");
    if (name === "TCP_KEEPINIT" && v < 0) return err("EINVAL");
    s.opts.set(name, v);
    if (name === "TCP_NODELAY" && s.conn !== null) s.conn.setNoDelay(v !== 0);
    if (name === "TCP_CORK" && s.conn !== null) s.conn.setCork(v !== 0);
    if (name === "SO_KEEPALIVE" && s.conn !== null) s.conn.setKeepAlive(v !== 0);
    if (CONNECTION_OPTIONS.has(name) && s.conn !== null) applyConnectionOptions(s.conn, s.opts);
    if (s.bound && s.conn === null && s.listener === null) this.#recordBound(s);
    return ok(0);
  }

  /** Tells the layer about a bound, non-listening socket's IP options (FreeBSD's RST). */
  #recordBound(s: Sock): void {
    const { ttl, tos } = ipOptionsOf(s.opts);
    this.#tcp.bindPort(SCRIPT_LOCAL_PORT, {
      ttl: ttl !== undefined && ttl > 0 ? ttl : undefined,
      tos,
    });
  }

  #getsockopt(s: Sock, args: readonly Expr[]): SyscallOutcome {
    const name = (args[2] as { name: string }).name;
    const cfg = this.#tcp.config;
    let value: number;
    let compare = true;
    switch (name) {
      case "SO_ERROR": {
        const e = this.#takeError(s);
        value = e === null ? 0 : ERRNO[e] ?? ERRNO.EINVAL;
        break;
      }
      case "SO_RCVBUF":
        value = s.opts.get(name) ?? cfg.receiveBufferBytes;
        compare = !this.#portable;
        break;
      case "SO_SNDBUF":
        value = s.opts.get(name) ?? cfg.sendBufferBytes;
        compare = !this.#portable;
        break;
      case "IP_TTL": {
        const ttl = s.opts.get(name) ?? -1;
        value = ttl > 0 ? ttl : DEFAULT_IP_TTL;
        break;
      }
      case "IP_TOS":
        value = s.opts.get(name) ?? cfg.ipTos;
        break;
      case "IPV6_UNICAST_HOPS": {
        const hops = s.opts.get(name) ?? -1;
        value = hops >= 0 ? hops : DEFAULT_IP_TTL;
        break;
      }
      case "IPV6_TCLASS": {
        const tclass = s.opts.get(name) ?? -1;
        value = tclass >= 0 ? tclass : cfg.ipTos;
        break;
      }
      case "TCP_KEEPIDLE":
        value = s.opts.get(name) ?? Math.floor(cfg.keepAliveIdleMs / MS_PER_SECOND);
        break;
      case "TCP_KEEPINTVL":
        value = s.opts.get(name) ?? Math.floor(cfg.keepAliveIntervalMs / MS_PER_SECOND);
        break;
      case "TCP_KEEPCNT":
        value = s.opts.get(name) ?? cfg.keepAliveProbes;
        break;
      case "TCP_KEEPINIT":
        value = s.opts.get(name) ?? Math.floor(cfg.keepAliveInitMs / MS_PER_SECOND);
        break;
      case "TCP_LINGER2": {
        const set = s.opts.get(name);
        value = linger2Seconds(set === undefined ? null : linger2FinTimeoutMs(set), cfg.timeWaitMs);
        break;
      }
      case "TCP_MAXSEG": {
        // Linux do_tcp_getsockopt: the current send MSS once connected, else user_mss or
        // TCP_MSS_DEFAULT (536).
        const c = s.conn;
        if (c !== null && c.state >= TcpState.ESTABLISHED) value = c.info().sndMss;
        else value = s.opts.get(name) ?? LINUX_TCP_MSS_DEFAULT;
        break;
      }
      default:
        value = s.opts.get(name) ?? (name === "TCP_NODELAY" && cfg.noDelay ? 1 : 0);
    }
    const expected = evalArg(args[3]);
    if (compare && typeof expected === "number" && expected !== value) {
      return {
        kind: "done",
        result: 0,
        valueMismatch: { expected: `[${expected}]`, got: `[${value}]` },
      };
    }
    return ok(0);
  }

  #fcntl(s: Sock, args: readonly Expr[]): SyscallOutcome {
    const cmd = evalArg(args[1]);
    if (cmd === CONSTANTS.F_GETFL) return ok(O_RDWR | (s.nonblocking ? O_NONBLOCK : 0));
    if (cmd === CONSTANTS.F_SETFL) {
      const flags = evalArg(args[2]);
      if (typeof flags !== "number") return { kind: "unsupported", reason: "fcntl flags" };
      s.nonblocking = (flags & O_NONBLOCK) !== 0;
      return ok(0);
    }
    return { kind: "unsupported", reason: "fcntl command" };
  }

  #ioctl(s: Sock, args: readonly Expr[]): SyscallOutcome {
    const req = evalArg(args[1]);
    const c = s.conn;
    if (c === null) return err("EINVAL");
    const value = req === CONSTANTS.SIOCINQ ? c.readableLength : c.sendQueued;
    const expected = evalArg(args[2]);
    if (typeof expected === "number" && expected !== value) {
      return {
        kind: "done",
        result: 0,
        valueMismatch: { expected: `[${expected}]`, got: `[${value}]` },
      };
    }
    return ok(0);
  }

  #scratch(n: number): Uint8Array {
    if (this.#zeros.length < n) this.#zeros = new Uint8Array(n);
    return this.#zeros;
  }
}

function newSock(fd: number): Sock {
  return {
    fd,
    nonblocking: false,
    bound: false,
    listener: null,
    conn: null,
    shutRd: false,
    shutWr: false,
    errorReported: false,
    connected: false,
    opts: new Map(),
    written: 0,
  };
}

function ok(result: number): SyscallOutcome {
  return { kind: "done", result };
}

function err(errno: string): SyscallOutcome {
  return { kind: "done", result: -1, errno };
}

/** Linux TCP_MSS_DEFAULT: TCP_MAXSEG before a connection has an MSS. */
const LINUX_TCP_MSS_DEFAULT = 536;
/** IPv4 default TTL (Linux ip_default_ttl, FreeBSD net.inet.ip.ttl). */
const DEFAULT_IP_TTL = 64;

/**
 * Total bytes of a `sendmsg` message's `msg_iov`: `{msg_iov(1)=[{..., 40}], ...}`.
 *
 * @param msg the struct argument
 * @returns the sum of the iovec lengths (0 when none is written)
 */
function iovBytes(msg: Expr | undefined): number {
  if (msg?.type !== "struct") return 0;
  const iov = msg.fields.find((f) => f.name === "msg_iov")?.value;
  if (iov?.type !== "list") return 0;
  let total = 0;
  for (const v of iov.items) {
    if (v.type !== "struct") continue;
    const len = v.fields.find((f) => f.name === "iov_len")?.value ?? v.fields[1]?.value;
    const n = evalArg(len);
    if (typeof n === "number" && n > 0) total += n;
  }
  return total;
}

/**
 * A socket's TTL and TOS as set. An IPv6 socket's IPV6_UNICAST_HOPS and IPV6_TCLASS (RFC 3493
 * §5.1, RFC 3542 §6.5) are the IPv6 names of the same hop limit and traffic class; -1 is "the
 * default".
 *
 * @param opts the socket's options
 * @returns TTL (≤ 0 or undefined: default) and TOS (undefined: not set)
 */
function ipOptionsOf(opts: ReadonlyMap<string, number>): { ttl?: number; tos?: number } {
  const hops = opts.get("IPV6_UNICAST_HOPS");
  const tclass = opts.get("IPV6_TCLASS");
  return {
    ttl: hops !== undefined && hops >= 0 ? hops : opts.get("IP_TTL"),
    tos: tclass !== undefined && tclass >= 0 ? tclass : opts.get("IP_TOS"),
  };
}

/** Applies a socket's IP, MSS and keep-alive options to its connection. */
/** Whether a flags argument (a number or an expression of them) has `flag`. */
function hasFlag(arg: Expr | undefined, flag: number): boolean {
  if (arg === undefined) return false;
  const v = evalArg(arg);
  return typeof v === "number" && (v & flag) !== 0;
}

function applyConnectionOptions(c: TcpConnection, opts: ReadonlyMap<string, number>): void {
  const { ttl, tos } = ipOptionsOf(opts);
  if (ttl !== undefined || tos !== undefined) {
    c.setIpOptions(ttl !== undefined && ttl > 0 ? ttl : 0, tos ?? 0);
  }
  const mss = opts.get("TCP_MAXSEG");
  if (mss !== undefined && mss > 0) c.setMaxSegment(mss);
  const sec = (k: string) => {
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
}
