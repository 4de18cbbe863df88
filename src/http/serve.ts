/**
 * `serve` over a rawstack stack, shaped like `Deno.serve`: a handler from
 * `Request` to `Response`, streamed bodies both ways, keep-alive, and TLS
 * with `cert`/`key`. Plain HTTP/1.1 is rawstack's own server straight on the
 * connection's bytes (h1_server.ts, with the strict parser of h1_parse.ts:
 * `node:http` over a `node:stream` Duplex cost twice the CPU per request);
 * HTTPS is `node:http` over `node:tls`, on rawstack connections handed over by
 * {@link serveNodeListener}.
 *
 * Hostile clients are expected, as in nginx: a request-header timeout from a
 * connection's start or a kept-alive request's first byte (nginx
 * `client_header_timeout`, Go `ReadHeaderTimeout`), an idle timeout between
 * kept-alive requests (`keepalive_timeout`), a bounded header section (431
 * beyond it, Node's `maxHeaderSize`), requests per connection
 * (`keepalive_requests`) and a connection cap (`worker_connections`) are on by
 * default; a timeout closes the connection.
 *
 * @module
 */

import http from "node:http";
import tls from "node:tls";
import type { Duplex } from "node:stream";
import type { TcpListener } from "../socket/tcp_listener.ts";
import type { NetAddr } from "../socket/addr.ts";
import {
  NODE_LISTENER_MAX_CONNECTIONS,
  type NodeListenerHandle,
  type RawstackSocket,
  serveNodeListener,
} from "./node_socket.ts";
import { nodeToWebStream } from "./streams.ts";
import { SystemClock } from "../time/clock.ts";
import { type H1Config, H1Server, type H1Stats } from "./h1_server.ts";
import { H1_MAX_HEADER_COUNT, H1_MAX_REQUEST_LINE_BYTES } from "./h1_parse.ts";

/**
 * Default time a client has to send a whole request header section, ms (nginx
 * `client_header_timeout` is 60 s, a LAN client needs far less).
 */
export const SERVE_HEADER_TIMEOUT_MS = 10_000;
/** Default wait for the next request on a kept-alive connection, ms (Node's `keepAliveTimeout` 5 s). */
export const SERVE_IDLE_TIMEOUT_MS = 15_000;
/** Default largest request header section, bytes (Node's `--max-http-header-size`). */
export const SERVE_MAX_HEADER_BYTES = 16 * 1024;
/** Default requests on one connection before it is closed (nginx `keepalive_requests`). */
export const SERVE_MAX_REQUESTS_PER_CONNECTION = 1000;
/**
 * Default wait for the client to take the next part of a response, ms (nginx
 * `send_timeout` is 60 s: the time between two successive writes, not the whole response).
 */
export const SERVE_SEND_TIMEOUT_MS = 30_000;
/** Longest request line reported to `onResponse`, characters. */
const MAX_REPORTED_REQUEST_LINE = 1024;

/** One response as {@link StackServeOptions.onResponse} reports it (e.g. for an access log). */
export interface StackServed {
  /** The client's address. */
  remoteAddr: NetAddr;
  /** Method and request target as received, or null for a request the parser refused. */
  request: { method: string; target: string } | null;
  /**
   * The refused request's first line (up to 1,024 characters), or null. Raw peer bytes:
   * escape them before printing.
   */
  requestLine: string | null;
  /** Status sent. */
  status: number;
}
/** Default port, as `Deno.serve`'s. */
export const SERVE_DEFAULT_PORT = 8000;

/** Timer functions the server arms its timeouts with; tests pass a manual one. */
export interface ServeTimers {
  /** Calls `fn` once after `ms` milliseconds; returns a handle for {@link clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer (a fired or cleared handle is ignored). */
  clearTimeout(handle: unknown): void;
  /**
   * The clock of {@link setTimeout}, ms. Optional: with it, plain HTTP keeps one timer per
   * connection and moves its deadline per request (a timer armed and cancelled per request cost
   * ~20 % of a kept-alive request's CPU); without it each wait arms a timer of its own.
   */
  now?(): number;
}

const SYSTEM_TIMERS: ServeTimers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms) as unknown as number;
    Deno.unrefTimer(t);
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as number),
  now: () => performance.now(),
};

/** What the handler gets besides the request, as `Deno.ServeHandlerInfo`. */
export interface StackServeHandlerInfo {
  /** The client's address. */
  remoteAddr: NetAddr;
  /** Settles when the response was sent (or the connection failed). */
  completed: Promise<void>;
}

/** A `Deno.serve`-shaped handler. */
export type StackServeHandler = (
  request: Request,
  info: StackServeHandlerInfo,
) => Response | Promise<Response>;

/** Options of {@link stackServe}, after `Deno.ServeTcpOptions` & `Deno.TlsCertifiedKeyPem`. */
export interface StackServeOptions {
  /** Port (default {@link SERVE_DEFAULT_PORT}; 0 picks a free one). */
  port?: number;
  /** Our address or `"0.0.0.0"` (default any). */
  hostname?: string;
  /** PEM certificate chain: serve HTTPS (with {@link key}). */
  cert?: string;
  /** PEM private key of {@link cert}. */
  key?: string;
  /** Shuts the server down when aborted. */
  signal?: AbortSignal;
  /** Called once listening (default: nothing is printed, unlike Deno). */
  onListen?: (addr: NetAddr) => void;
  /** Builds the response for a handler that threw (default: 500). */
  onError?: (error: unknown) => Response | Promise<Response>;
  /** The handler, when not passed as the second argument. */
  handler?: StackServeHandler;
  /** Time for a whole request header section, ms (default {@link SERVE_HEADER_TIMEOUT_MS}); 0 = none. */
  headerTimeoutMs?: number;
  /** Wait for the next request on a kept-alive connection, ms (default {@link SERVE_IDLE_TIMEOUT_MS}). */
  idleTimeoutMs?: number;
  /** Largest request header section, bytes (default {@link SERVE_MAX_HEADER_BYTES}); more gets 431. */
  maxHeaderBytes?: number;
  /** Requests per connection (default {@link SERVE_MAX_REQUESTS_PER_CONNECTION}); 1 = no keep-alive. */
  maxRequestsPerConnection?: number;
  /** Longest request line, bytes (default 8 KiB); more gets 414 (plain HTTP; TLS: the header limit). */
  maxRequestLineBytes?: number;
  /** Most request header fields (default 100); more gets 431 (plain HTTP; TLS: node:http's 2,000). */
  maxHeaderCount?: number;
  /** Open connections at most (default 256); more are closed as soon as they are accepted. */
  maxConnections?: number;
  /**
   * Wait for the client to take each part of a response, ms (default {@link SERVE_SEND_TIMEOUT_MS});
   * then the connection is closed.
   */
  sendTimeoutMs?: number;
  /** Called after each response, including the 400/431 of refused requests. */
  onResponse?: (served: StackServed) => void;
  /** Timer functions (tests). */
  timers?: ServeTimers;
}

/**
 * Counters of a {@link StackHttpServer}: one set for both paths, the plain-HTTP server of
 * h1_server.ts and the node:http one for HTTPS.
 */
export type StackServeStats = H1Stats;

/** A running server, like `Deno.HttpServer`. */
export interface StackHttpServer extends AsyncDisposable {
  /** Settles once the server has shut down and every connection is closed. */
  readonly finished: Promise<void>;
  /** Where it listens. */
  readonly addr: NetAddr;
  /**
   * Stops accepting, closes idle connections, lets requests in progress
   * finish, then closes their connections.
   *
   * @returns settles with {@link finished}
   */
  shutdown(): Promise<void>;
  /** A snapshot of the counters. */
  stats(): StackServeStats;
  /** Like `Deno.HttpServer.ref` (the stack's loop keeps the process alive anyway). */
  ref(): void;
  /** Like `Deno.HttpServer.unref`. */
  unref(): void;
}

/** What {@link stackServe} needs of a stack (`Stack` fits). */
export interface ServeHost {
  /** Listens (`stack.listen`). */
  listen(opts: { port: number; hostname?: string }): TcpListener;
  /** The stack's clock (`Stack.clock`). */
  readonly clock?: unknown;
  /** The time the stack last read from its clock (`Stack.recentMs`). */
  readonly recentMs?: number;
}

/** Per-connection timeout state. */
interface ConnState {
  timer: unknown;
  requests: number;
  busy: number;
}

/**
 * Serves HTTP (HTTPS with `cert`/`key`) on a stack: see the module doc.
 *
 * @param host the stack
 * @param options port, TLS, limits and timeouts, `signal`, `onListen`, `onError`
 * @param handler Request → Response (or `options.handler`)
 * @returns the server: `finished`, `shutdown()`, `addr`, `stats()`
 * @throws {TypeError} without a handler, or with only one of `cert`/`key`
 */
export function stackServe(
  host: ServeHost,
  options: StackServeOptions,
  handler?: StackServeHandler,
): StackHttpServer {
  const handle = handler ?? options.handler;
  if (typeof handle !== "function") throw new TypeError("serve needs a handler");
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new TypeError("serve needs both cert and key for TLS");
  }
  const tlsOn = options.cert !== undefined;
  const timers = options.timers ?? SYSTEM_TIMERS;
  const headerTimeoutMs = options.headerTimeoutMs ?? SERVE_HEADER_TIMEOUT_MS;
  const idleTimeoutMs = options.idleTimeoutMs ?? SERVE_IDLE_TIMEOUT_MS;
  const maxRequests = options.maxRequestsPerConnection ?? SERVE_MAX_REQUESTS_PER_CONNECTION;
  const stats: StackServeStats = {
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
  const sendTimeoutMs = options.sendTimeoutMs ?? SERVE_SEND_TIMEOUT_MS;
  const onResponse = options.onResponse;
  const remoteOf = (socket: { remoteAddress?: string; remotePort?: number }): NetAddr => ({
    transport: "tcp",
    hostname: socket.remoteAddress ?? "0.0.0.0",
    port: socket.remotePort ?? 0,
  });
  const listener = host.listen({
    port: options.port ?? SERVE_DEFAULT_PORT,
    hostname: options.hostname,
  });
  const addr = listener.addr;
  if (!tlsOn) {
    return serveHttp1(listener, options, {
      handler: handle,
      onError: options.onError,
      onResponse,
      timers,
      // The system timers read performance.now(), as the stack's SystemClock: its last
      // reading (taken on every receive batch and every read or write) starts the deadlines.
      recentMs: timers === SYSTEM_TIMERS && host.clock instanceof SystemClock &&
          host.recentMs !== undefined
        ? () => host.recentMs!
        : undefined,
      headerTimeoutMs,
      idleTimeoutMs,
      sendTimeoutMs,
      maxRequests,
      maxConnections: options.maxConnections ?? NODE_LISTENER_MAX_CONNECTIONS,
      limits: {
        maxHeadBytes: options.maxHeaderBytes ?? SERVE_MAX_HEADER_BYTES,
        maxRequestLineBytes: options.maxRequestLineBytes ?? H1_MAX_REQUEST_LINE_BYTES,
        maxHeaderCount: options.maxHeaderCount ?? H1_MAX_HEADER_COUNT,
      },
      addr,
    });
  }
  const scheme = tlsOn ? "https" : "http";
  const states = new WeakMap<object, ConnState>();
  const tracked = new Set<RawstackSocket>();
  let shuttingDown = false;

  const serverOptions = {
    maxHeaderSize: options.maxHeaderBytes ?? SERVE_MAX_HEADER_BYTES,
    // Our own timers below enforce these; node:http's are turned off so they do not race them.
    keepAliveTimeout: 0,
    headersTimeout: 0,
    requestTimeout: 0,
  };
  // One node:http server; with TLS each connection is first wrapped in a server-side
  // node:tls socket (what https.Server does), so the HTTP layer sees the decrypted stream and
  // every timeout below also covers the handshake.
  const server = http.createServer(serverOptions);
  const secureContext = tlsOn
    ? tls.createSecureContext({ cert: options.cert, key: options.key })
    : null;
  /** The rawstack socket under the socket node:http sees (itself without TLS). */
  const rawOfSocket = new WeakMap<object, RawstackSocket>();
  const stateOf = (socket: object): ConnState | undefined => states.get(socket);

  const arm = (socket: RawstackSocket, kind: "header" | "idle") => {
    const st = states.get(socket);
    if (st === undefined) return;
    timers.clearTimeout(st.timer);
    st.timer = null;
    const ms = kind === "header" ? headerTimeoutMs : idleTimeoutMs;
    if (!(ms > 0) || !Number.isFinite(ms)) return;
    const readAtArm = socket.bytesRead;
    st.timer = timers.setTimeout(() => {
      st.timer = null;
      if (st.busy > 0 || socket.destroyed) return;
      if (kind === "idle" && socket.bytesRead !== readAtArm) {
        // A next request has begun: from its first byte, the header timeout runs.
        arm(socket, "header");
        return;
      }
      if (kind === "header") stats.headerTimeouts++;
      else stats.idleTimeouts++;
      socket.destroy();
    }, ms);
  };

  const track = (socket: RawstackSocket) => {
    states.set(socket, { timer: null, requests: 0, busy: 0 });
    tracked.add(socket);
    arm(socket, "header");
    socket.once("close", () => {
      const st = states.get(socket);
      if (st !== undefined) timers.clearTimeout(st.timer);
      states.delete(socket);
      tracked.delete(socket);
      maybeFinished();
    });
  };

  const rawOf = (req: http.IncomingMessage): RawstackSocket =>
    rawOfSocket.get(req.socket) ?? (req.socket as unknown as RawstackSocket);

  server.on("clientError", (err: Error & { code?: string; rawPacket?: Uint8Array }, socket) => {
    stats.badRequests++;
    if (socket.writable && !socket.destroyed) {
      const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
      const status = tooLarge ? 431 : 400;
      const reason = tooLarge ? "Request Header Fields Too Large" : "Bad Request";
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      if (onResponse !== undefined) {
        const raw = err.rawPacket;
        const text = raw === undefined
          ? ""
          : new TextDecoder("latin1").decode(raw.subarray(0, 4096));
        const line = text.split("\r\n")[0].slice(0, MAX_REPORTED_REQUEST_LINE);
        onResponse({
          remoteAddr: remoteOf(rawOfSocket.get(socket) ?? socket as unknown as RawstackSocket),
          request: null,
          requestLine: raw === undefined ? null : line,
          status,
        });
      }
    } else socket.destroy();
  });

  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const raw = rawOf(req);
    const st = stateOf(raw);
    if (st !== undefined) {
      timers.clearTimeout(st.timer);
      st.timer = null;
      st.busy++;
      st.requests++;
      if (st.requests >= maxRequests || shuttingDown) res.shouldKeepAlive = false;
    }
    let completeResolve!: () => void;
    const completed = new Promise<void>((r) => completeResolve = r);
    res.once("close", () => {
      completeResolve();
      if (st === undefined) return;
      st.busy--;
      if (st.busy === 0 && !raw.destroyed) {
        if (shuttingDown) raw.destroySoon();
        else arm(raw, "idle");
      }
    });
    void respond(req, res, completed).catch(() => res.destroy());
  });

  const respond = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    completed: Promise<void>,
  ): Promise<void> => {
    const hostHeader = req.headers.host ?? `${addr.hostname}:${addr.port}`;
    let url: string;
    try {
      url = new URL(req.url ?? "/", `${scheme}://${hostHeader}`).href;
    } catch {
      stats.badRequests++;
      res.writeHead(400, { "content-length": "0", connection: "close" }).end();
      return;
    }
    const headers = new Headers();
    const rawHeaders = req.rawHeaders;
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      try {
        headers.append(rawHeaders[i], rawHeaders[i + 1]);
      } catch {
        // A value Headers refuses: left out.
      }
    }
    const controller = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) {
        controller.abort(new DOMException("connection closed", "AbortError"));
      }
    };
    res.once("close", onClose);
    const method = req.method ?? "GET";
    const hasBody = method !== "GET" && method !== "HEAD";
    const request = new Request(url, {
      method,
      headers,
      body: hasBody
        ? nodeToWebStream(
          req,
          (e) => new TypeError("request body failed", { cause: e ?? undefined }),
          () => req.complete,
        )
        : null,
      signal: controller.signal,
      // @ts-ignore: `duplex` is needed for a streamed body (Fetch), missing in some typings
      duplex: "half",
    });
    const socket = rawOf(req);
    const remoteAddr = remoteOf(socket);
    let response: Response;
    try {
      response = await handle(request, { remoteAddr, completed });
      if (!(response instanceof Response)) {
        throw new TypeError("the handler did not return a Response");
      }
    } catch (e) {
      stats.handlerErrors++;
      try {
        response = options.onError !== undefined
          ? await options.onError(e)
          : new Response("Internal Server Error", { status: 500 });
      } catch {
        response = new Response("Internal Server Error", { status: 500 });
      }
    }
    if (res.destroyed) {
      await response.body?.cancel();
      return;
    }
    const wait = (event: "drain" | "finish") =>
      waitSent(res, event, socket, sendTimeoutMs, timers, () => stats.sendTimeouts++);
    await writeResponse(res, response, wait);
    if (!res.writableFinished && !res.destroyed) await wait("finish");
    stats.requests++;
    onResponse?.({
      remoteAddr,
      request: { method, target: req.url ?? "/" },
      requestLine: null,
      status: response.status,
    });
    if (hasBody && !req.complete) req.resume(); // unread request body: drained, not left queued
  };

  // See serveNodeListener: node:http keeps connections alive only while its server "listens".
  Object.defineProperty(server, "listening", { configurable: true, get: () => !shuttingDown });
  const handOver = {
    emit: (_event: "connection", raw: RawstackSocket): boolean => {
      track(raw);
      if (secureContext === null) {
        rawOfSocket.set(raw, raw);
        return server.emit("connection", raw);
      }
      const secure = new tls.TLSSocket(raw as unknown as Duplex, {
        isServer: true,
        secureContext,
        ALPNProtocols: ["http/1.1"],
      });
      rawOfSocket.set(secure, raw);
      // A failed handshake ends the connection; node:http's own error handling starts after it.
      secure.on("error", () => raw.destroy());
      secure.once("close", () => raw.destroy());
      return server.emit("connection", secure);
    },
  };
  const listenerHandle: NodeListenerHandle = serveNodeListener(listener, handOver, {
    maxConnections: options.maxConnections ?? NODE_LISTENER_MAX_CONNECTIONS,
  });

  let finishedResolve!: () => void;
  const finished = new Promise<void>((r) => finishedResolve = r);
  let listenerDone = false;
  const maybeFinished = () => {
    if (shuttingDown && listenerDone && tracked.size === 0) finishedResolve();
  };
  void listenerHandle.finished.then(() => {
    listenerDone = true;
    maybeFinished();
  });
  const shutdown = async () => {
    if (!shuttingDown) {
      shuttingDown = true;
      listenerHandle.close();
      // Connections without a request in progress go now; busy ones once their response is sent.
      for (const socket of tracked) {
        if ((states.get(socket)?.busy ?? 0) === 0) socket.destroy();
      }
      maybeFinished();
    }
    await finished;
  };
  if (options.signal !== undefined) {
    if (options.signal.aborted) void shutdown();
    else options.signal.addEventListener("abort", () => void shutdown(), { once: true });
  }
  options.onListen?.(addr);
  return {
    finished,
    addr,
    shutdown,
    stats: () => {
      const l = listenerHandle.stats();
      return { ...stats, accepted: l.accepted, refused: l.refused, active: l.active };
    },
    ref: () => listener.ref(),
    unref: () => listener.unref(),
    [Symbol.asyncDispose]: shutdown,
  };
}

/** Plain HTTP: rawstack's own HTTP/1.1 server (h1_server.ts) as a {@link StackHttpServer}. */
function serveHttp1(
  listener: TcpListener,
  options: StackServeOptions,
  cfg: H1Config,
): StackHttpServer {
  const server = new H1Server(listener, cfg);
  const shutdown = () => server.shutdown();
  if (options.signal !== undefined) {
    if (options.signal.aborted) void shutdown();
    else options.signal.addEventListener("abort", () => void shutdown(), { once: true });
  }
  options.onListen?.(cfg.addr);
  return {
    finished: server.finished,
    addr: cfg.addr,
    shutdown,
    stats: () => ({ ...server.stats }),
    ref: () => listener.ref(),
    unref: () => listener.unref(),
    [Symbol.asyncDispose]: shutdown,
  };
}

/**
 * Writes a `Response` on a node `ServerResponse`: the status and headers, then
 * the body with back-pressure — with `Content-Length` when the body turns out
 * to be one chunk (`new Response("text")`), chunked otherwise.
 */
async function writeResponse(
  res: http.ServerResponse,
  response: Response,
  wait: (event: "drain" | "finish") => Promise<void>,
): Promise<void> {
  const headers: [string, string][] = [];
  for (const [name, value] of response.headers) headers.push([name, value]);
  const body = response.body;
  if (body === null) {
    // No body: say so (Content-Length: 0, as Deno.serve), unless the status has none at all.
    const s = response.status;
    const bodiless = s < 200 || s === 204 || s === 304;
    if (!bodiless && !response.headers.has("content-length")) headers.push(["content-length", "0"]);
    res.writeHead(response.status, response.statusText || undefined, headers.flat());
    res.end();
    return;
  }
  const reader = body.getReader();
  try {
    const first = await reader.read();
    if (first.done) {
      if (!response.headers.has("content-length")) headers.push(["content-length", "0"]);
      res.writeHead(response.status, response.statusText || undefined, headers.flat());
      res.end();
      return;
    }
    const second = await reader.read();
    if (second.done) {
      if (!response.headers.has("content-length")) {
        headers.push(["content-length", String(first.value.byteLength)]);
      }
      res.writeHead(response.status, response.statusText || undefined, headers.flat());
      res.end(first.value);
      return;
    }
    res.writeHead(response.status, response.statusText || undefined, headers.flat());
    let chunk: ReadableStreamReadResult<Uint8Array> = first;
    let next: ReadableStreamReadResult<Uint8Array> | null = second;
    while (!chunk.done) {
      if (res.destroyed) {
        await reader.cancel();
        return;
      }
      if (!res.write(chunk.value)) await wait("drain");
      chunk = next ?? await reader.read();
      next = null;
    }
    res.end();
  } catch (e) {
    res.destroy(e instanceof Error ? e : new Error(String(e)));
    await reader.cancel().catch(() => {});
  }
  // The reader is not released: the body is consumed (or cancelled) and nothing else may read
  // it, and releaseLock() costs more than the rest of a small response.
}

/**
 * Waits for `event` ("drain" or "finish") of a response; the send timeout runs meanwhile and
 * starts over whenever the connection took bytes (nginx `send_timeout`: the time between two
 * successive writes). When it expires the connection is closed.
 */
function waitSent(
  res: http.ServerResponse,
  event: "drain" | "finish",
  raw: RawstackSocket,
  sendTimeoutMs: number,
  timers: ServeTimers,
  onSendTimeout: () => void,
): Promise<void> {
  return new Promise((resolve) => {
    let timer: unknown = null;
    let mark = raw.bytesWritten;
    const arm = () => {
      if (!(sendTimeoutMs > 0) || !Number.isFinite(sendTimeoutMs)) return;
      timer = timers.setTimeout(() => {
        timer = null;
        if (raw.bytesWritten !== mark) {
          mark = raw.bytesWritten;
          arm();
          return;
        }
        onSendTimeout();
        raw.destroy();
        done();
      }, sendTimeoutMs);
    };
    const done = () => {
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
      res.off(event, done);
      res.off("close", done);
      resolve();
    };
    res.once(event, done);
    res.once("close", done);
    arm();
  });
}
