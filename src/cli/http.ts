/**
 * A small HTTP/1.1 client and server (RFC 9110 semantics, RFC 9112 message
 * syntax) over any `Deno.Conn`-like byte stream — rawstack's `TcpConn` or
 * Deno's own. The client sends one `GET` with `Connection: close` and reads
 * a body delimited by `Content-Length`, chunked transfer coding or the end of
 * the connection; the server answers one request per connection.
 *
 * Peers are untrusted: header sections are bounded, every length is checked,
 * and malformed input gives an {@link HttpError}, never a hang or a crash.
 *
 * @module
 */

/** The byte stream the client and server use (`TcpConn` and `Deno.Conn` fit). */
export interface ByteStream {
  /** Reads into `p`; null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes (a prefix of) `p`. */
  write(p: Uint8Array): Promise<number>;
  /** Closes the whole connection. */
  close(): void;
}

/** Largest header section accepted (request or response), bytes. */
export const HTTP_MAX_HEADER_BYTES = 64 * 1024;
/** Largest chunk-size line accepted, bytes. */
const MAX_CHUNK_LINE = 1024;
const READ_CHUNK_BYTES = 64 * 1024;
const CRLF = "\r\n";

/**
 * A malformed or unexpected HTTP message.
 *
 * @example
 * ```ts
 * import { HttpError } from "./http.ts";
 * console.assert(new HttpError("bad").name === "HttpError");
 * ```
 */
export class HttpError extends Error {
  /**
   * Creates the error.
   *
   * @param message what was wrong
   */
  constructor(message: string) {
    super(message);
    this.name = "HttpError";
  }
}

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/**
 * Timer functions the client and server arm their timeouts with; tests pass
 * a manual implementation that fires when told.
 */
export interface HttpTimers {
  /** Calls `fn` once after `ms` milliseconds; returns a handle for {@link clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer set by {@link setTimeout} (a fired or cleared handle is ignored). */
  clearTimeout(handle: unknown): void;
}

/** The runtime's own `setTimeout` / `clearTimeout`. */
export const SYSTEM_TIMERS: HttpTimers = Object.freeze({
  setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms),
  clearTimeout: (handle: unknown): void => clearTimeout(handle as number),
});

/** Which timeout ended a connection. */
export type HttpTimeoutKind = "header" | "idle" | "send" | "read";

/**
 * A timeout ended the exchange: the connection was closed.
 *
 * @example
 * ```ts
 * import { HttpError, HttpTimeoutError } from "./http.ts";
 * const e = new HttpTimeoutError("read", 30000);
 * console.assert(e instanceof HttpError && e.kind === "read" && e.message.includes("30000 ms"));
 * ```
 */
export class HttpTimeoutError extends HttpError {
  /** Which timeout fired. */
  readonly kind: HttpTimeoutKind;
  /** Its length, ms. */
  readonly ms: number;

  /**
   * Creates the error.
   *
   * @param kind which timeout fired
   * @param ms its length in milliseconds
   * @param hint appended in parentheses (e.g. the option that sets it)
   */
  constructor(kind: HttpTimeoutKind, ms: number, hint?: string) {
    super(
      (kind === "read"
        ? `timed out: no data from the server for ${ms} ms`
        : kind === "send"
        ? `timed out: the peer took no data for ${ms} ms`
        : kind === "idle"
        ? `timed out: no new request for ${ms} ms`
        : `timed out: no complete request header within ${ms} ms`) +
        (hint === undefined ? "" : ` (${hint})`),
    );
    this.name = "HttpTimeoutError";
    this.kind = kind;
    this.ms = ms;
  }
}

/**
 * One armed timeout per connection (like Go's `SetDeadline`): when it fires
 * the connection is closed, which settles the pending read or write with an
 * error; {@link rethrow} turns that error into an {@link HttpTimeoutError}.
 * The stream's `close()` must settle pending calls (`TcpConn` and `Deno.Conn` do).
 */
class Watchdog {
  #conn: ByteStream;
  #timers: HttpTimers;
  #handle: unknown = null;
  #expired: HttpTimeoutError | null = null;

  constructor(conn: ByteStream, timers: HttpTimers) {
    this.#conn = conn;
    this.#timers = timers;
  }

  get expired(): HttpTimeoutError | null {
    return this.#expired;
  }

  /** Arms `kind` for `ms` (replacing the armed one); 0 or Infinity = no timeout. */
  arm(kind: HttpTimeoutKind, ms: number): void {
    this.disarm();
    if (this.#expired !== null) throw this.#expired;
    if (!(ms > 0) || !Number.isFinite(ms)) return;
    this.#handle = this.#timers.setTimeout(() => {
      this.#handle = null;
      this.#expired = new HttpTimeoutError(kind, ms);
      this.#conn.close();
    }, ms);
  }

  disarm(): void {
    if (this.#handle === null) return;
    this.#timers.clearTimeout(this.#handle);
    this.#handle = null;
  }

  /** The timeout error when one fired, else `e` itself. */
  rethrow(e: unknown): never {
    throw this.#expired ?? e;
  }
}

/** A stream whose every read (and write) must make progress within `ms` (wget's read timeout). */
function timedStream(
  conn: ByteStream,
  watchdog: Watchdog,
  kind: HttpTimeoutKind,
  ms: number,
): ByteStream {
  return {
    async read(p) {
      watchdog.arm(kind, ms);
      try {
        return await conn.read(p);
      } catch (e) {
        return watchdog.rethrow(e);
      } finally {
        watchdog.disarm();
      }
    },
    async write(p) {
      watchdog.arm(kind, ms);
      try {
        return await conn.write(p);
      } catch (e) {
        return watchdog.rethrow(e);
      } finally {
        watchdog.disarm();
      }
    },
    close: () => conn.close(),
  };
}

async function writeAll(conn: ByteStream, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const n = await conn.write(done === 0 ? bytes : bytes.subarray(done));
    if (n <= 0) throw new HttpError("the connection accepted no bytes");
    done += n;
  }
}

/** Buffered reader over a byte stream: header lines first, then raw body bytes. */
class Reader {
  #conn: ByteStream;
  #buf: Uint8Array;
  #maxBytes: number;
  #start = 0;
  #end = 0;
  #eof = false;

  /**
   * @param conn the stream
   * @param initialBytes first buffer size
   * @param maxBytes the buffer never grows past this (a header section must fit)
   */
  constructor(conn: ByteStream, initialBytes: number, maxBytes: number) {
    this.#conn = conn;
    this.#buf = new Uint8Array(Math.min(initialBytes, maxBytes));
    this.#maxBytes = maxBytes;
  }

  get buffered(): number {
    return this.#end - this.#start;
  }

  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    if (this.#start > 0 && this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else {
        const size = Math.min(this.#buf.length * 2, this.#maxBytes);
        if (size <= this.#buf.length) throw new HttpError("reader buffer full");
        const grown = new Uint8Array(size);
        grown.set(this.#buf.subarray(0, this.#end));
        this.#buf = grown;
      }
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#end += n;
    return true;
  }

  /** Waits until at least one byte is buffered; false at end of stream. */
  async waitData(): Promise<boolean> {
    while (this.#end === this.#start) {
      if (!(await this.#fill())) return false;
    }
    return true;
  }

  /**
   * Reads up to and including the blank line; returns the text before it.
   *
   * @param limit longest header section accepted, bytes (without the final CRLFCRLF)
   */
  async readHead(limit: number): Promise<string | null> {
    let scanned = 0; // bytes after #start already searched (offsets survive #fill moving data)
    for (;;) {
      const b = this.#buf;
      for (let i = this.#start + Math.max(0, scanned - 3); i + 3 < this.#end; i++) {
        if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) {
          if (i - this.#start > limit) break;
          const head = latin1.decode(b.subarray(this.#start, i));
          this.#start = i + 4;
          return head;
        }
      }
      scanned = this.#end - this.#start;
      if (scanned >= limit + 4) throw new HttpError(`header section longer than ${limit} bytes`);
      if (!(await this.#fill())) {
        if (this.#end === this.#start) return null;
        throw new HttpError("connection closed in the middle of the header section");
      }
    }
  }

  /** Reads one CRLF-terminated line (chunk sizes). */
  async readLine(limit: number): Promise<string> {
    for (;;) {
      for (let i = this.#start; i + 1 < this.#end; i++) {
        if (this.#buf[i] === 13 && this.#buf[i + 1] === 10) {
          const line = latin1.decode(this.#buf.subarray(this.#start, i));
          this.#start = i + 2;
          return line;
        }
      }
      if (this.#end - this.#start > limit) throw new HttpError("line too long");
      if (!(await this.#fill())) throw new HttpError("connection closed in the middle of a line");
    }
  }

  /** Up to `max` body bytes (a view valid until the next call), or null at end of stream. */
  async readSome(max: number): Promise<Uint8Array | null> {
    if (this.#start === this.#end && !(await this.#fill())) return null;
    const n = Math.min(max, this.#end - this.#start);
    const out = this.#buf.subarray(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }
}

function parseHeaders(lines: string[]): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    // RFC 9112 §5.1: no whitespace between the field name and the colon.
    if (colon <= 0 || /\s/.test(line.slice(0, colon))) {
      throw new HttpError(`malformed header line "${line.slice(0, 60)}"`);
    }
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prior = headers.get(name);
    headers.set(name, prior === undefined ? value : `${prior}, ${value}`);
  }
  return headers;
}

/** A response as {@link httpGet} reports it. */
export interface HttpResponseHead {
  /** Status code, e.g. 200. */
  status: number;
  /** Reason phrase. */
  reason: string;
  /** Header fields, lowercase names. */
  headers: Map<string, string>;
  /** Body length from Content-Length, or null when unknown (chunked / until close). */
  contentLength: number | null;
}

/** Options of {@link httpGet}. */
export interface HttpGetOptions {
  /** Called once with the status line and headers. */
  onHead?: (head: HttpResponseHead) => void;
  /** Called with each body chunk (a view valid only during the call); awaited. */
  onBody: (chunk: Uint8Array) => void | Promise<void>;
  /** Extra request header fields. */
  headers?: Record<string, string>;
  /**
   * Longest wait for any byte from the server (and for the server to take the
   * request), ms; then the connection is closed and an {@link HttpTimeoutError}
   * thrown. Like wget's `--read-timeout`. Default {@link HTTP_READ_TIMEOUT_MS};
   * 0 = wait forever.
   */
  readTimeoutMs?: number;
  /** Timer functions (default {@link SYSTEM_TIMERS}). */
  timers?: HttpTimers;
}

/** Default read timeout of {@link httpGet}, ms (wget waits 900 s; a LAN answers far sooner). */
export const HTTP_READ_TIMEOUT_MS = 30_000;

/**
 * Sends `GET url` on an open connection and streams the response body.
 *
 * @param raw a connection to the URL's host and port
 * @param url the URL (only its path, query and host are used)
 * @param opts body sink, head callback, extra headers, read timeout
 * @returns the response head and the number of body bytes
 * @throws {HttpError} on a malformed response or a body cut short
 * @throws {HttpTimeoutError} when the server sent nothing for `readTimeoutMs` (the
 *   connection is closed)
 *
 * @example
 * ```ts
 * import { httpGet } from "./http.ts";
 * const response = new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
 * let sent = "";
 * let at = 0;
 * const conn = {
 *   read: (p: Uint8Array) => {
 *     if (at >= response.length) return Promise.resolve(null);
 *     const n = Math.min(p.length, response.length - at);
 *     p.set(response.subarray(at, at + n));
 *     at += n;
 *     return Promise.resolve(n);
 *   },
 *   write: (p: Uint8Array) => { sent += new TextDecoder().decode(p); return Promise.resolve(p.length); },
 *   close: () => {},
 * };
 * let body = "";
 * const r = await httpGet(conn, new URL("http://h.test/x"), { onBody: (c) => { body += new TextDecoder().decode(c); } });
 * console.assert(r.head.status === 200 && body === "hi" && sent.startsWith("GET /x HTTP/1.1\r\n"));
 * ```
 */
export async function httpGet(
  raw: ByteStream,
  url: URL,
  opts: HttpGetOptions,
): Promise<{ head: HttpResponseHead; bodyBytes: number }> {
  const readTimeoutMs = opts.readTimeoutMs ?? HTTP_READ_TIMEOUT_MS;
  const conn = readTimeoutMs > 0
    ? timedStream(raw, new Watchdog(raw, opts.timers ?? SYSTEM_TIMERS), "read", readTimeoutMs)
    : raw;
  const fields: Record<string, string> = {
    Host: url.host,
    "User-Agent": "rawstack/0.1",
    Accept: "*/*",
    Connection: "close",
    ...opts.headers,
  };
  let request = `GET ${url.pathname}${url.search} HTTP/1.1${CRLF}`;
  for (const [k, v] of Object.entries(fields)) request += `${k}: ${v}${CRLF}`;
  await writeAll(conn, encoder.encode(request + CRLF));

  const reader = new Reader(conn, READ_CHUNK_BYTES, 2 * HTTP_MAX_HEADER_BYTES);
  const headText = await reader.readHead(HTTP_MAX_HEADER_BYTES);
  if (headText === null) throw new HttpError("the server closed the connection without a response");
  const lines = headText.split(CRLF);
  // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (m === null) throw new HttpError(`malformed status line "${lines[0].slice(0, 60)}"`);
  const headers = parseHeaders(lines.slice(1));
  const chunked = (headers.get("transfer-encoding") ?? "").toLowerCase().split(",").map((s) =>
    s.trim()
  ).includes("chunked");
  let contentLength: number | null = null;
  const cl = headers.get("content-length");
  if (cl !== undefined && !chunked) {
    // RFC 9110 §8.6: 1*DIGIT; a list of equal values is tolerated.
    const values = new Set(cl.split(",").map((s) => s.trim()));
    const only = [...values][0];
    if (values.size !== 1 || !/^\d{1,15}$/.test(only)) {
      throw new HttpError(`invalid Content-Length "${cl}"`);
    }
    contentLength = Number(only);
  }
  const status = Number(m[1]);
  const head: HttpResponseHead = { status, reason: m[2] ?? "", headers, contentLength };
  opts.onHead?.(head);
  let bodyBytes = 0;
  // RFC 9112 §6.3: 1xx, 204 and 304 responses have no body.
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
    return { head, bodyBytes };
  }
  if (chunked) {
    // RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF; last-chunk has size 0.
    for (;;) {
      const line = await reader.readLine(MAX_CHUNK_LINE);
      const sizeText = line.split(";")[0].trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(sizeText)) {
        throw new HttpError(`bad chunk size "${sizeText}"`);
      }
      let size = parseInt(sizeText, 16);
      if (size === 0) break;
      while (size > 0) {
        const chunk = await reader.readSome(size);
        if (chunk === null) throw new HttpError("connection closed inside a chunk");
        size -= chunk.length;
        bodyBytes += chunk.length;
        await opts.onBody(chunk);
      }
      if ((await reader.readLine(MAX_CHUNK_LINE)) !== "") {
        throw new HttpError("chunk not followed by CRLF");
      }
    }
    // Trailer section (ignored) up to the final blank line.
    while ((await reader.readLine(HTTP_MAX_HEADER_BYTES)) !== "");
    return { head, bodyBytes };
  }
  for (;;) {
    const want = contentLength === null ? READ_CHUNK_BYTES : contentLength - bodyBytes;
    if (want === 0) break;
    const chunk = await reader.readSome(Math.min(want, READ_CHUNK_BYTES));
    if (chunk === null) {
      if (contentLength !== null) {
        throw new HttpError(`body cut short: ${bodyBytes} of ${contentLength} bytes`);
      }
      break;
    }
    bodyBytes += chunk.length;
    await opts.onBody(chunk);
  }
  return { head, bodyBytes };
}

/** A request as {@link serveHttpConnection} hands it to the handler. */
export interface HttpRequest {
  /** Method, e.g. "GET". */
  method: string;
  /** Request target, e.g. "/index.html?x=1". */
  target: string;
  /** Header fields, lowercase names. */
  headers: Map<string, string>;
}

/**
 * A body read piece by piece while it is sent (a file), never held whole.
 * `Deno.FsFile` has `read` and `close`; {@link openFileBody} wraps one.
 */
export interface HttpBodySource {
  /** Exact length in bytes (sent as Content-Length). */
  readonly size: number;
  /** Reads the next bytes into `p`; null at the end. */
  read(p: Uint8Array): Promise<number | null>;
  /** Releases the source; called exactly once, also when nothing was read (HEAD, errors). */
  close(): void;
}

/** What a handler answers. */
export interface HttpReply {
  /** Status code. */
  status: number;
  /** Content-Type (default text/plain). */
  contentType?: string;
  /** The body: bytes, or a source streamed in chunks of {@link HTTP_STREAM_CHUNK_BYTES}. */
  body: Uint8Array | HttpBodySource;
}

/** Reason phrases of the statuses the server uses (RFC 9110 §15). */
export const HTTP_REASONS: Readonly<Record<number, string>> = Object.freeze({
  200: "OK",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
});

/**
 * Default time a client has to send a whole request header section, from
 * the connection's start or the first byte of a later request, ms (nginx
 * `client_header_timeout`, Go `ReadHeaderTimeout`; nginx waits 60 s, a LAN
 * client needs far less).
 */
export const HTTP_HEADER_TIMEOUT_MS = 10_000;
/**
 * Default wait for the next request on a kept-alive connection, ms (nginx
 * `keepalive_timeout` is 75 s, Node's `keepAliveTimeout` 5 s).
 */
export const HTTP_IDLE_TIMEOUT_MS = 15_000;
/**
 * Default wait for the peer to take the next chunk of a response, ms (nginx
 * `send_timeout` is 60 s: the time between two successive writes, not the
 * whole response).
 */
export const HTTP_SEND_TIMEOUT_MS = 30_000;
/** Default largest request header section, bytes (Node's `--max-http-header-size`). */
export const HTTP_SERVER_MAX_HEADER_BYTES = 16 * 1024;
/** Default requests served on one connection before it is closed (nginx `keepalive_requests`). */
export const HTTP_MAX_REQUESTS_PER_CONNECTION = 1000;
/** Default cap on open connections of {@link serveHttpListener} (nginx `worker_connections` 512). */
export const HTTP_MAX_CONNECTIONS = 256;
/** Size of the chunks a {@link HttpBodySource} is read and sent in, bytes. */
export const HTTP_STREAM_CHUNK_BYTES = 64 * 1024;
/** First size of a server connection's header buffer (grows up to the header limit), bytes. */
const SERVER_HEAD_BUFFER_BYTES = 2048;
/** Bodies up to this size go out in one write with the header, bytes. */
const COALESCE_BODY_BYTES = 16 * 1024;
/** Longest request line reported for the access log, characters. */
const MAX_LOGGED_REQUEST_LINE = 1024;

/** Limits of {@link serveHttpConnection}; each has a default. 0 turns a timeout off. */
export interface HttpServeOptions {
  /** Time for a whole request header section, ms (default {@link HTTP_HEADER_TIMEOUT_MS}). */
  headerTimeoutMs?: number;
  /** Wait for the next request on a kept-alive connection, ms (default {@link HTTP_IDLE_TIMEOUT_MS}). */
  idleTimeoutMs?: number;
  /** Wait for the peer to take each response chunk, ms (default {@link HTTP_SEND_TIMEOUT_MS}). */
  sendTimeoutMs?: number;
  /** Largest request header section, bytes (default {@link HTTP_SERVER_MAX_HEADER_BYTES}); more gets 431. */
  maxHeaderBytes?: number;
  /** Requests per connection (default {@link HTTP_MAX_REQUESTS_PER_CONNECTION}); 1 = no keep-alive. */
  maxRequestsPerConnection?: number;
  /** Timer functions (default {@link SYSTEM_TIMERS}). */
  timers?: HttpTimers;
}

/** One response as the server reports it. */
export interface HttpServed {
  /** The parsed request, or null when it was malformed. */
  request: HttpRequest | null;
  /**
   * The request line as received (truncated to 1,024 characters), or null
   * when none was read. Raw peer bytes: escape them ({@link escapeLogText}) before printing.
   */
  requestLine: string | null;
  /** Status sent. */
  status: number;
}

/** What {@link serveHttpConnection} did on one connection. */
export interface HttpConnectionResult extends HttpServed {
  /** Responses sent (the fields of {@link HttpServed} describe the last; status 0 when none). */
  requests: number;
  /** The timeout that closed the connection, or null. */
  timeout: HttpTimeoutKind | null;
}

function parseRequestHead(
  text: string,
): { request: HttpRequest | null; requestLine: string; version: number } {
  const lines = text.split(CRLF);
  const requestLine = lines[0].slice(0, MAX_LOGGED_REQUEST_LINE);
  // RFC 9112 §3: request-line = method SP request-target SP HTTP-version; the
  // target is URI characters only (RFC 9112 §3.2, RFC 3986 §2): no controls, no spaces.
  const m = /^([A-Z]{1,16}) ([\x21-\x7e]{1,8000}) HTTP\/1\.([01])$/.exec(lines[0]);
  if (m === null) return { request: null, requestLine, version: 0 };
  let headers: Map<string, string>;
  try {
    headers = parseHeaders(lines.slice(1));
  } catch {
    return { request: null, requestLine, version: 0 };
  }
  return { request: { method: m[1], target: m[2], headers }, requestLine, version: Number(m[3]) };
}

/** RFC 9112 §9.3: whether the connection may carry another request after this one. */
function wantsPersistence(req: HttpRequest, minorVersion: number): boolean {
  const tokens = (req.headers.get("connection") ?? "").toLowerCase().split(",").map((t) =>
    t.trim()
  );
  if (tokens.includes("close")) return false;
  // A request body we do not read would be taken for the next request: close instead.
  if (req.headers.has("transfer-encoding")) return false;
  const cl = req.headers.get("content-length");
  if (cl !== undefined && cl.trim() !== "0") return false;
  return minorVersion === 1 || tokens.includes("keep-alive");
}

/**
 * Serves requests on a connection until the client closes it, asks for
 * `Connection: close`, sends a malformed request, or a timeout fires: reads
 * each request head (bounded by `maxHeaderBytes` and `headerTimeoutMs`), calls
 * `handler`, writes the response with `Content-Length` (a streamed body in
 * chunks, each within `sendTimeoutMs`), and waits up to `idleTimeoutMs` for
 * the next request (RFC 9112 §9.3 persistence). Bad requests get 400 (431 for
 * an oversized head) without calling the handler. Closes the connection at
 * the end; a timeout is reported in the result, other connection errors
 * (reset, closed under it) reject.
 *
 * @param conn an accepted connection
 * @param handler builds the reply (HEAD requests get the GET reply without body)
 * @param options limits and timeouts, and `onResponse` called after each response
 * @returns what happened: responses sent, the last request and status, the timeout that fired
 *
 * @example
 * ```ts
 * import { serveHttpConnection } from "./http.ts";
 * const request = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
 * let given = false;
 * let out = "";
 * const conn = {
 *   read: (p: Uint8Array) => {
 *     if (given) return Promise.resolve(null);
 *     given = true;
 *     p.set(request);
 *     return Promise.resolve(request.length);
 *   },
 *   write: (p: Uint8Array) => { out += new TextDecoder().decode(p); return Promise.resolve(p.length); },
 *   close: () => {},
 * };
 * const r = await serveHttpConnection(conn, () => ({ status: 200, body: new TextEncoder().encode("ok") }));
 * console.assert(r.status === 200 && out.startsWith("HTTP/1.1 200 OK") && out.endsWith("\r\n\r\nok"));
 * ```
 */
export async function serveHttpConnection(
  conn: ByteStream,
  handler: (req: HttpRequest) => HttpReply | Promise<HttpReply>,
  options: HttpServeOptions & { onResponse?: (served: HttpServed) => void } = {},
): Promise<HttpConnectionResult> {
  const headerTimeoutMs = options.headerTimeoutMs ?? HTTP_HEADER_TIMEOUT_MS;
  const idleTimeoutMs = options.idleTimeoutMs ?? HTTP_IDLE_TIMEOUT_MS;
  const sendTimeoutMs = options.sendTimeoutMs ?? HTTP_SEND_TIMEOUT_MS;
  const maxHeaderBytes = options.maxHeaderBytes ?? HTTP_SERVER_MAX_HEADER_BYTES;
  const maxRequests = options.maxRequestsPerConnection ?? HTTP_MAX_REQUESTS_PER_CONNECTION;
  const watchdog = new Watchdog(conn, options.timers ?? SYSTEM_TIMERS);
  const reader = new Reader(conn, SERVER_HEAD_BUFFER_BYTES, maxHeaderBytes + 4);
  const result: HttpConnectionResult = {
    request: null,
    requestLine: null,
    status: 0,
    requests: 0,
    timeout: null,
  };
  const done = (served: HttpServed) => {
    result.request = served.request;
    result.requestLine = served.requestLine;
    result.status = served.status;
    result.requests++;
    options.onResponse?.(served);
  };
  try {
    for (;;) {
      if (result.requests > 0 && reader.buffered === 0) {
        // Keep-alive: the idle timeout runs until the next request's first byte.
        watchdog.arm("idle", idleTimeoutMs);
        if (!(await reader.waitData())) break;
      }
      watchdog.arm("header", headerTimeoutMs);
      let text: string | null;
      try {
        text = await reader.readHead(maxHeaderBytes);
      } catch (e) {
        if (watchdog.expired !== null || !(e instanceof HttpError)) throw e;
        watchdog.disarm();
        const tooLarge = e.message.startsWith("header section longer");
        const status = tooLarge ? 431 : 400;
        await respond(
          conn,
          watchdog,
          sendTimeoutMs,
          {
            status,
            body: encoder.encode(`${e.message}\n`),
          },
          false,
          false,
        );
        done({ request: null, requestLine: null, status });
        break;
      }
      watchdog.disarm();
      if (text === null) break;
      const { request, requestLine, version } = parseRequestHead(text);
      let reply: HttpReply;
      let keepAlive = false;
      if (request === null) {
        reply = { status: 400, body: encoder.encode("malformed request\n") };
      } else if (request.method !== "GET" && request.method !== "HEAD") {
        reply = { status: 405, body: encoder.encode("only GET and HEAD\n") };
      } else {
        keepAlive = result.requests + 1 < maxRequests && wantsPersistence(request, version);
        try {
          reply = await handler(request);
        } catch {
          reply = { status: 500, body: encoder.encode("internal error\n") };
        }
      }
      await respond(
        conn,
        watchdog,
        sendTimeoutMs,
        reply,
        request?.method === "HEAD",
        keepAlive,
      );
      done({ request, requestLine, status: reply.status });
      if (!keepAlive) break;
    }
  } catch (e) {
    if (watchdog.expired === null) throw e;
    result.timeout = watchdog.expired.kind;
  } finally {
    watchdog.disarm();
    conn.close();
  }
  return result;
}

async function respond(
  conn: ByteStream,
  watchdog: Watchdog,
  sendTimeoutMs: number,
  reply: HttpReply,
  head: boolean,
  keepAlive: boolean,
): Promise<void> {
  const body = reply.body;
  const source = body instanceof Uint8Array ? null : body;
  try {
    const size = source === null ? (body as Uint8Array).length : source.size;
    const reason = HTTP_REASONS[reply.status] ?? "Status";
    const text = `HTTP/1.1 ${reply.status} ${reason}${CRLF}` +
      `Content-Type: ${reply.contentType ?? "text/plain; charset=utf-8"}${CRLF}` +
      `Content-Length: ${size}${CRLF}` +
      `Server: rawstack/0.1${CRLF}Connection: ${keepAlive ? "keep-alive" : "close"}${CRLF}${CRLF}`;
    const headBytes = encoder.encode(text);
    const send = async (bytes: Uint8Array) => {
      watchdog.arm("send", sendTimeoutMs);
      try {
        await writeAll(conn, bytes);
      } catch (e) {
        watchdog.rethrow(e);
      } finally {
        watchdog.disarm();
      }
    };
    if (head || size === 0) return await send(headBytes);
    if (source === null) {
      const bytes = body as Uint8Array;
      if (bytes.length > COALESCE_BODY_BYTES) {
        await send(headBytes);
        return await send(bytes);
      }
      const all = new Uint8Array(headBytes.length + bytes.length);
      all.set(headBytes);
      all.set(bytes, headBytes.length);
      return await send(all);
    }
    await send(headBytes);
    const chunk = new Uint8Array(Math.min(size, HTTP_STREAM_CHUNK_BYTES));
    let left = size;
    while (left > 0) {
      const n = await source.read(chunk.subarray(0, Math.min(left, chunk.length)));
      // Content-Length is promised: a source that ends early cuts the connection.
      if (n === null) throw new HttpError(`body source ended ${left} bytes short`);
      left -= n;
      await send(chunk.subarray(0, n));
    }
  } finally {
    source?.close();
  }
}

/** Counters of {@link serveHttpListener}. */
export interface HttpServerStats {
  /** Connections accepted and served. */
  accepted: number;
  /** Connections closed at once because `maxConnections` were open. */
  refused: number;
  /** Connections open now. */
  active: number;
  /** Responses sent. */
  requests: number;
  /** Responses 400 and 431 (malformed or oversized request heads). */
  badRequests: number;
  /** Connections closed because the request head did not arrive in time. */
  headerTimeouts: number;
  /** Kept-alive connections closed for want of a next request. */
  idleTimeouts: number;
  /** Connections closed because the peer took no response data in time. */
  sendTimeouts: number;
  /** Connections that ended with another error (reset, closed under us). */
  errors: number;
}

/** Options of {@link serveHttpListener}: the per-connection limits plus a connection cap. */
export interface HttpListenOptions<C extends ByteStream> extends HttpServeOptions {
  /**
   * Open connections at most (default {@link HTTP_MAX_CONNECTIONS}); one more
   * is closed as soon as it is accepted and counted in `refused`.
   */
  maxConnections?: number;
  /** Called after each response (e.g. to log it). */
  onResponse?: (conn: C, served: HttpServed) => void;
}

/** A running server (see {@link serveHttpListener}). */
export interface HttpServer {
  /** Stops accepting and closes every open connection. */
  close(): void;
  /** A snapshot of the counters. */
  stats(): HttpServerStats;
}

/**
 * Serves HTTP on every connection a listener yields ({@link serveHttpConnection}
 * each), with at most `maxConnections` open at once: the ones beyond are
 * closed at once and counted, so a crowd of slow clients cannot hold more
 * than the cap (and, per connection, the header buffer limit), and each of
 * them is gone after the header timeout.
 *
 * @param listener accepted connections (`stack.listen()`, `Deno.listen()`)
 * @param handler builds replies
 * @param options limits, timeouts, `onResponse`
 * @returns the server: `close()`, `stats()`
 *
 * @example
 * ```ts
 * import { serveHttpListener } from "./http.ts";
 * const listener = {
 *   close() {},
 *   async *[Symbol.asyncIterator]() {},
 * };
 * const server = serveHttpListener(listener, () => ({ status: 200, body: new Uint8Array() }));
 * console.assert(server.stats().active === 0);
 * server.close();
 * ```
 */
export function serveHttpListener<C extends ByteStream>(
  listener: AsyncIterable<C> & { close(): void },
  handler: (req: HttpRequest) => HttpReply | Promise<HttpReply>,
  options: HttpListenOptions<C> = {},
): HttpServer {
  const maxConnections = options.maxConnections ?? HTTP_MAX_CONNECTIONS;
  const open = new Set<C>();
  const stats: HttpServerStats = {
    accepted: 0,
    refused: 0,
    active: 0,
    requests: 0,
    badRequests: 0,
    headerTimeouts: 0,
    idleTimeouts: 0,
    sendTimeouts: 0,
    errors: 0,
  };
  const { onResponse } = options;
  const serve = async (conn: C) => {
    try {
      const r = await serveHttpConnection(conn, handler, {
        ...options,
        onResponse: (served) => {
          stats.requests++;
          if (served.status === 400 || served.status === 431) stats.badRequests++;
          onResponse?.(conn, served);
        },
      });
      if (r.timeout === "header") stats.headerTimeouts++;
      else if (r.timeout === "idle") stats.idleTimeouts++;
      else if (r.timeout === "send" || r.timeout === "read") stats.sendTimeouts++;
    } catch {
      stats.errors++;
      conn.close();
    } finally {
      open.delete(conn);
      stats.active = open.size;
    }
  };
  (async () => {
    for await (const conn of listener) {
      if (open.size >= maxConnections) {
        stats.refused++;
        conn.close();
        continue;
      }
      stats.accepted++;
      open.add(conn);
      stats.active = open.size;
      void serve(conn);
    }
  })().catch(() => {
    // the listener closed (with the stack)
  });
  return {
    close() {
      listener.close();
      for (const conn of open) conn.close();
    },
    stats: () => ({ ...stats }),
  };
}

/**
 * Escapes text from the network for a log line, as nginx does for its
 * access log: `"`, `\` and every character below 0x20 or from 0x7f up
 * become `\xHH` (`\uHHHH` beyond 0xff), so a request cannot move the
 * terminal's cursor, change its title or fake log lines.
 *
 * @param text untrusted text
 * @returns printable ASCII
 *
 * @example
 * ```ts
 * import { escapeLogText } from "./http.ts";
 * console.assert(escapeLogText('GET /\x1b[2J"') === "GET /\\x1B[2J\\x22");
 * ```
 */
export function escapeLogText(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).toUpperCase().padStart(2, "0")}`
      : `\\u${code.toString(16).toUpperCase().padStart(4, "0")}`;
  });
}

/**
 * One access-log line: `ADDR "METHOD TARGET" STATUS`, or the raw request
 * line (escaped) for a malformed request, `"-"` when there was none.
 *
 * @param remote the client's address, formatted
 * @param served the response as the server reported it
 * @returns the line, printable ASCII only
 *
 * @example
 * ```ts
 * import { formatAccessLog } from "./http.ts";
 * const line = formatAccessLog("192.0.2.2:5000", { request: null, requestLine: "\x1b]0;x\x07", status: 400 });
 * console.assert(line === '192.0.2.2:5000 "\\x1B]0;x\\x07" 400');
 * ```
 */
export function formatAccessLog(remote: string, served: HttpServed): string {
  const what = served.request !== null
    ? `${served.request.method} ${served.request.target}`
    : served.requestLine ?? "-";
  return `${escapeLogText(remote)} "${escapeLogText(what)}" ${served.status}`;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  css: "text/css",
  js: "text/javascript",
  json: "application/json",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  pcap: "application/vnd.tcpdump.pcap",
});

/** {@link confinePath}'s answer: the real path inside the root, or the status to send. */
export type ConfinedPath =
  | { ok: true; path: string; urlPath: string }
  | { ok: false; status: 400 | 403 | 404; reason: string };

function fsFailure(e: unknown): ConfinedPath {
  if (
    e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory ||
    e instanceof Deno.errors.FilesystemLoop
  ) {
    return { ok: false, status: 404, reason: "not found" };
  }
  if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable) {
    return { ok: false, status: 403, reason: "forbidden" };
  }
  throw e;
}

async function resolveWithin(
  realRoot: string,
  segments: readonly string[],
  urlPath: string,
): Promise<ConfinedPath> {
  const candidate = segments.length === 0
    ? realRoot
    : `${realRoot.replace(/\/$/, "")}/${segments.join("/")}`;
  let real: string;
  try {
    real = await Deno.realPath(candidate);
  } catch (e) {
    return fsFailure(e);
  }
  const prefix = realRoot.endsWith("/") ? realRoot : `${realRoot}/`;
  // A symlink (or a symlinked directory on the way) that leads out of the
  // root is treated as absent, like nginx `disable_symlinks` / Apache without
  // FollowSymLinks would refuse it; 404 tells nothing about the outside.
  if (real !== realRoot && !real.startsWith(prefix)) {
    return { ok: false, status: 404, reason: "not found" };
  }
  return { ok: true, path: real, urlPath };
}

/**
 * Maps a request target to a file under `root`, or says why not: the path
 * is percent-decoded (bad encoding → 400), `..` segments and NUL are refused
 * (403), and the result is resolved with `realPath` — every symlink
 * followed — and must still lie under the root's real path (else 404, as for
 * a missing file). The check and the later open are two steps, so someone
 * who can write inside the root could still swap a path between them; the
 * peer on the network cannot.
 *
 * Permissions: `--allow-read` for `root`.
 *
 * @param root the served directory
 * @param target the request target (`/a/b.txt?x=1`; the query is ignored)
 * @returns `{ ok: true, path }` with the real path, or `{ ok: false, status, reason }`
 *
 * @example
 * ```ts
 * import { confinePath } from "./http.ts";
 * const up = await confinePath("/tmp", "/../etc/passwd");
 * const bad = await confinePath("/tmp", "/%zz");
 * console.assert(!up.ok && up.status === 403 && !bad.ok && bad.status === 400);
 * ```
 */
export async function confinePath(root: string, target: string): Promise<ConfinedPath> {
  let urlPath: string;
  try {
    urlPath = decodeURIComponent(target.split("?")[0]);
  } catch {
    return { ok: false, status: 400, reason: "bad percent-encoding" };
  }
  const segments = urlPath.split("/").filter((seg) => seg !== "" && seg !== ".");
  if (!urlPath.startsWith("/") || segments.includes("..") || urlPath.includes("\0")) {
    return { ok: false, status: 403, reason: "forbidden" };
  }
  let realRoot: string;
  try {
    realRoot = await Deno.realPath(root);
  } catch (e) {
    return fsFailure(e);
  }
  return await resolveWithin(realRoot, segments, urlPath);
}

/**
 * Opens a regular file as a streamed {@link HttpBodySource} (size from the
 * open file, so it matches what is read).
 *
 * Permissions: `--allow-read` for `path`.
 *
 * @param path the file
 * @returns the source, or null when `path` is not a regular file
 * @throws Deno.errors.NotFound and the like when it cannot be opened
 *
 * @example
 * ```ts
 * import { openFileBody } from "./http.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a`, "hello");
 * const body = await openFileBody(`${dir}/a`);
 * console.assert(body !== null && body.size === 5);
 * body?.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openFileBody(path: string): Promise<HttpBodySource | null> {
  // Checked before opening: opening a FIFO would wait for a writer.
  if (!(await Deno.stat(path)).isFile) return null;
  const file = await Deno.open(path, { read: true });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    file.close();
  };
  try {
    const info = await file.stat();
    if (!info.isFile) {
      close();
      return null;
    }
    return { size: info.size, read: (p) => file.read(p), close };
  } catch (e) {
    close();
    throw e;
  }
}

/**
 * A handler serving files under a directory: `/` maps to `index.html` or a
 * listing, paths are confined to the directory ({@link confinePath}: `..`
 * gives 403, a symlink out of it 404), files are streamed in chunks, missing
 * files and anything but regular files and directories give 404.
 *
 * Permissions: `--allow-read` for `root`.
 *
 * @param root the directory
 * @returns the handler for {@link serveHttpConnection}
 *
 * @example
 * ```ts
 * import { directoryHandler } from "./http.ts";
 * const handle = directoryHandler("/srv/www");
 * const up = await handle({ method: "GET", target: "/../etc/passwd", headers: new Map() });
 * const bad = await handle({ method: "GET", target: "/%zz", headers: new Map() });
 * console.assert(up.status === 403 && bad.status === 400);
 * ```
 */
export function directoryHandler(root: string): (req: HttpRequest) => Promise<HttpReply> {
  const notFound = (): HttpReply => ({ status: 404, body: encoder.encode("not found\n") });
  const serveFile = async (path: string): Promise<HttpReply | null> => {
    const body = await openFileBody(path);
    if (body === null) return null;
    const ext = path.split("/").pop()?.split(".").pop()?.toLowerCase() ?? "";
    return { status: 200, contentType: CONTENT_TYPES[ext] ?? "application/octet-stream", body };
  };
  return async (req) => {
    const found = await confinePath(root, req.target);
    if (!found.ok) return { status: found.status, body: encoder.encode(`${found.reason}\n`) };
    try {
      const info = await Deno.stat(found.path);
      if (!info.isDirectory) return (await serveFile(found.path)) ?? notFound();
      const realRoot = await Deno.realPath(root);
      const segments = found.urlPath.split("/").filter((s) => s !== "" && s !== ".");
      const index = await resolveWithin(realRoot, [...segments, "index.html"], found.urlPath);
      if (index.ok) {
        const reply = await serveFile(index.path);
        if (reply !== null) return { ...reply, contentType: CONTENT_TYPES.html };
      }
      const names: string[] = [];
      for await (const e of Deno.readDir(found.path)) {
        names.push(e.isDirectory ? `${e.name}/` : e.name);
      }
      names.sort();
      const path = found.urlPath;
      const prefix = path.endsWith("/") ? path : `${path}/`;
      const items = names.map((n) =>
        `<li><a href="${escapeHtml(prefix + n)}">${escapeHtml(n)}</a></li>`
      );
      const html = `<!doctype html><title>${escapeHtml(path)}</title><h1>${
        escapeHtml(path)
      }</h1><ul>${items.join("")}</ul>\n`;
      return { status: 200, contentType: CONTENT_TYPES.html, body: encoder.encode(html) };
    } catch (e) {
      const failed = fsFailure(e);
      return failed.ok
        ? notFound()
        : { status: failed.status, body: encoder.encode(`${failed.reason}\n`) };
    }
  };
}

function escapeHtml(s: string): string {
  return s.replace(
    /[<>&"]/g,
    (c) => c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === "&" ? "&amp;" : "&quot;",
  );
}
