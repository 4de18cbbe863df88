/**
 * The HTTP/1.1 client of {@link ../http/fetch.ts} for `http:` URLs, straight on
 * rawstack's {@link TcpConn} (no `node:http` layer): a keep-alive pool per
 * origin, the request head written in one piece, response heads parsed by the
 * strict {@link parseResponseHead} (RFC 9112 §4, §5), bodies framed per RFC 9112
 * §6.3 (Content-Length, chunked through {@link ChunkedDecoder}, or until close).
 *
 * Per request it keeps to what a response needs: a body that arrived whole
 * with its head becomes one `Uint8Array` (the `Response` still has a
 * `ReadableStream` body); a longer one is pulled from the connection as the
 * reader asks. A connection goes back to the pool as soon as its response's
 * last byte is parsed, before the application reads the body. An idle pooled
 * connection keeps one read outstanding, so a server closing it (or sending
 * bytes nobody asked for) removes it at once, as Node's agent does; a request
 * that finds its reused connection closed before any response byte is sent
 * again on a new one when it is idempotent (RFC 9110 §9.2.2), as hyper and
 * undici do.
 *
 * @module
 */

import type { TcpConn } from "../socket/tcp_conn.ts";
import {
  ChunkedDecoder,
  findHeadEnd,
  HeadError,
  parseResponseHead,
  type ResponseHead,
} from "./h1_parse.ts";
import type { NodeConnectHost } from "./node_socket.ts";

/** A service on the stack's loop (the shape of `StackService`): the idle-timeout sweep. */
export interface H1ClientService {
  /** Runs due work. */
  poll(nowMs: number): void;
  /** Earliest time `poll` has work (Infinity = none). */
  nextDeadline(): number;
  /** The stack closes. */
  close(): void;
}

/** What the HTTP client needs of a stack: connections, and optionally its loop for idle timeouts. */
export interface H1ClientHost extends NodeConnectHost {
  /** Attaches a service to the stack's loop (`Stack.attach`): the idle-timeout sweep. */
  attach?(service: H1ClientService): () => void;
  /** The stack's clock, ms (`Stack.nowMs`). */
  nowMs?(): number;
}

/** First size of a connection's read buffer, bytes (grows for a large head). */
export const H1_CLIENT_READ_BYTES = 16 * 1024;
/** Largest response head, bytes (Node's `--max-http-header-size` default is 16 KiB; Go's 1 MiB). */
export const H1_CLIENT_MAX_HEAD_BYTES = 64 * 1024;
/** Most response header fields (Node's `maxHeadersCount` is 2,000). */
export const H1_CLIENT_MAX_HEADER_COUNT = 500;
/** Largest chunked trailer section, bytes (discarded, RFC 9112 §7.1.2). */
export const H1_CLIENT_MAX_TRAILER_BYTES = 16 * 1024;
/** Most interim (1xx) responses skipped before the final one. */
export const H1_CLIENT_MAX_INTERIM = 16;
/**
 * Largest body read and dropped to keep a connection after a redirect; a longer one closes
 * the connection instead (Chromium drains at most 64 KiB for the same purpose).
 */
export const H1_CLIENT_DRAIN_BYTES = 64 * 1024;
/** Bytes per chunk handed to a response body stream at most. */
export const H1_CLIENT_BODY_CHUNK_BYTES = 64 * 1024;

/** Longest request head whose bytes {@link H1Client} keeps for the next identical request. */
const LAST_HEAD_MAX_BYTES = 1024;
/** RFC 9110 §9.2.2: idempotent methods, which may be sent again on a new connection. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);
const encoder = new TextEncoder();
const CRLF = encoder.encode("\r\n");
const LAST_CHUNK = encoder.encode("0\r\n\r\n");

/** The request a {@link H1Client} sends. */
export interface H1Request {
  /** Host name or address literal (no brackets) to connect to. */
  hostname: string;
  /** Port to connect to. */
  port: number;
  /** The Host field's value (RFC 9110 §7.2): host, and the port when not the default. */
  authority: string;
  /** Method, as normalised by `Request`. */
  method: string;
  /** origin-form request target (RFC 9112 §3.2.1): path and query. */
  target: string;
  /** Request fields (from `Headers`: lower-case names, values checked); null for none. */
  headers: Headers | null;
  /** Body: bytes (Content-Length), a stream (chunked) or none. */
  body: Uint8Array | ReadableStream<Uint8Array> | null;
  /** Default User-Agent when the request has none. */
  userAgent: string;
}

/** Why a request failed before a response: the cause, and whether it may be sent again. */
class ExchangeFailure {
  constructor(readonly cause: unknown, readonly retryable: boolean) {}
}

/** One pooled connection with its read buffer. */
class H1Conn {
  readonly conn: TcpConn;
  readonly key: string;
  buf: Uint8Array = new Uint8Array(H1_CLIENT_READ_BYTES);
  /** Unconsumed bytes are `buf[start..end)`. */
  start = 0;
  end = 0;
  /** Whether it sits in the pool. */
  idle = false;
  /** Whether it was used for a request before (a stale keep-alive candidate). */
  reused = false;
  /** When it went idle, on the host's clock. */
  idleSinceMs = 0;
  #reading: Promise<number | null> | null = null;

  constructor(conn: TcpConn, key: string) {
    this.conn = conn;
    this.key = key;
  }

  /** Whether a read is outstanding (the buffer must not move under it). */
  get reading(): boolean {
    return this.#reading !== null;
  }

  /**
   * Reads more bytes behind `end` (joining an outstanding read), making room first.
   *
   * @returns bytes read, or null at end of stream
   */
  fill(): Promise<number | null> {
    return this.#reading ??= this.#read();
  }

  async #read(): Promise<number | null> {
    try {
      if (this.start === this.end) this.start = this.end = 0;
      if (this.end === this.buf.length) {
        if (this.start > 0) {
          this.buf.copyWithin(0, this.start, this.end);
          this.end -= this.start;
          this.start = 0;
        } else {
          const bigger = new Uint8Array(this.buf.length * 2);
          bigger.set(this.buf);
          this.buf = bigger;
        }
      }
      const n = await this.conn.read(this.buf.subarray(this.end));
      if (n !== null) this.end += n;
      return n;
    } finally {
      this.#reading = null;
    }
  }
}

/** How a response body is framed (RFC 9112 §6.3). */
const enum Framing {
  None,
  Length,
  Chunked,
  UntilClose,
}

/**
 * A response whose head was read: the status and fields, and its body, read
 * through {@link next} (or already whole in {@link whole}).
 */
export class H1Response {
  readonly head: ResponseHead;
  /** The whole body when it came with the head (then the connection is released already). */
  whole: Uint8Array | null = null;
  readonly #client: H1Client;
  readonly #c: H1Conn;
  #framing: Framing;
  #left: number;
  #decoder: ChunkedDecoder | null = null;
  #done = false;
  #keep: boolean;
  #failed = false;

  constructor(client: H1Client, c: H1Conn, head: ResponseHead, noBody: boolean, keep: boolean) {
    this.#client = client;
    this.#c = c;
    this.head = head;
    this.#keep = keep && !head.close;
    this.#framing = noBody
      ? Framing.None
      : head.chunked
      ? Framing.Chunked
      : head.untilClose
      ? Framing.UntilClose
      : Framing.Length;
    this.#left = head.contentLength;
    if (this.#framing === Framing.Length && this.#left === 0) this.#framing = Framing.None;
    if (this.#framing === Framing.None) this.#finish();
    else if (this.#framing === Framing.Length && c.end - c.start >= this.#left) {
      // The fast path: the body came with the head.
      this.whole = c.buf.slice(c.start, c.start + this.#left);
      c.start += this.#left;
      this.#left = 0;
      this.#finish();
    } else if (this.#framing === Framing.Chunked) {
      this.#decoder = new ChunkedDecoder(H1_CLIENT_MAX_TRAILER_BYTES);
    }
  }

  /** Whether the body was read to its end (the connection is released). */
  get done(): boolean {
    return this.#done;
  }

  /** The connection reached the end of this response: back to the pool, or closed. */
  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#framing === Framing.UntilClose || !this.#keep) this.#c.conn.close();
    else this.#client.release(this.#c);
  }

  /**
   * The next run of body bytes (a copy the caller owns).
   *
   * @returns bytes, or null at the end of the body
   * @throws the read error, or `null` when the connection closed before the body was complete
   */
  async next(): Promise<Uint8Array | null> {
    const c = this.#c;
    for (;;) {
      if (this.#done) return null;
      if (this.#failed) throw null;
      const avail = c.end - c.start;
      if (avail > 0) {
        if (this.#framing === Framing.Chunked) {
          const d = this.#decoder!;
          const at = d.decode(c.buf, c.start, c.end);
          if (at < 0) {
            this.abort();
            throw new Error(`malformed chunked body: ${d.error}`);
          }
          c.start = at;
          const data = d.dataEnd > d.dataStart ? c.buf.slice(d.dataStart, d.dataEnd) : null;
          if (d.done) this.#finish();
          if (data !== null) return data;
          if (d.done) return null;
          continue;
        }
        const n = Math.min(
          avail,
          this.#framing === Framing.Length ? this.#left : avail,
          H1_CLIENT_BODY_CHUNK_BYTES,
        );
        const data = c.buf.slice(c.start, c.start + n);
        c.start += n;
        if (this.#framing === Framing.Length) {
          this.#left -= n;
          if (this.#left === 0) this.#finish();
        }
        return data;
      }
      let n: number | null;
      try {
        n = await c.fill();
      } catch (e) {
        this.abort();
        throw e;
      }
      if (n === null) {
        if (this.#framing === Framing.UntilClose) {
          this.#finish();
          return null;
        }
        this.abort();
        throw null;
      }
    }
  }

  /**
   * Reads and drops the rest of the body (at most {@link H1_CLIENT_DRAIN_BYTES}; beyond, the
   * connection is closed), so that the connection can carry the next request.
   */
  async drain(): Promise<void> {
    let dropped = 0;
    while (!this.#done) {
      if (dropped > H1_CLIENT_DRAIN_BYTES) {
        this.abort();
        return;
      }
      const data = await this.next().catch(() => null);
      if (data === null) return;
      dropped += data.length;
    }
  }

  /** Stops reading: the connection is closed (reset if bytes are unread). Idempotent. */
  abort(reason?: unknown): void {
    if (this.#done || this.#failed) return;
    this.#failed = true;
    this.#client.discard(this.#c, reason);
  }
}

/**
 * The plain-HTTP/1.1 side of {@link ../http/fetch.ts}'s `StackHttpClient`:
 * idle connections per origin (`host:port`), last in first out, at most
 * `maxIdlePerHost` each, closed after `idleTimeoutMs` idle.
 */
export class H1Client {
  readonly #host: H1ClientHost;
  readonly #pool = new Map<string, H1Conn[]>();
  readonly #maxIdlePerHost: number;
  readonly #idleTimeoutMs: number;
  #idleCount = 0;
  #closed = false;
  #detach: (() => void) | null = null;
  /** Earliest idle expiry on the host's clock (Infinity: none armed). */
  #nextExpiryMs = Infinity;
  #lastHeadText = "";
  #lastHead: Uint8Array = new Uint8Array(0);

  /**
   * @param host where connections are opened
   * @param maxIdlePerHost idle connections kept per origin
   * @param idleTimeoutMs idle time before a pooled connection is closed, ms (0: never)
   */
  constructor(host: H1ClientHost, maxIdlePerHost: number, idleTimeoutMs: number) {
    this.#host = host;
    this.#maxIdlePerHost = maxIdlePerHost;
    this.#idleTimeoutMs = idleTimeoutMs;
  }

  /** Idle pooled connections now. */
  get idleConnections(): number {
    return this.#idleCount;
  }

  /** Closes every idle connection; connections in use close when their response ends. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const list of this.#pool.values()) {
      for (const c of list) {
        c.idle = false;
        c.conn.close();
      }
    }
    this.#pool.clear();
    this.#idleCount = 0;
    this.#detach?.();
    this.#detach = null;
  }

  /** @internal A connection at the end of a response that allows another: pooled or closed. */
  release(c: H1Conn): void {
    const conn = c.conn;
    if (
      this.#closed || conn.closed || conn.error !== null || conn.connection.finReceived ||
      c.start !== c.end
    ) {
      // Bytes beyond the response (RFC 9112 §9.3: a server must not send them unasked) or a
      // connection on its way out: not reusable.
      conn.close();
      return;
    }
    let list = this.#pool.get(c.key);
    if (list === undefined) this.#pool.set(c.key, list = []);
    if (list.length >= this.#maxIdlePerHost) {
      conn.close();
      return;
    }
    c.idle = true;
    c.reused = true;
    list.push(c);
    this.#idleCount++;
    if (this.#idleTimeoutMs > 0 && this.#host.nowMs !== undefined) {
      c.idleSinceMs = this.#host.nowMs();
      this.#armSweep(c.idleSinceMs + this.#idleTimeoutMs);
    }
    // One read stays outstanding while idle: a FIN, a reset or unasked bytes retire it at once.
    if (!c.reading) c.fill().then((n) => this.#idleRead(c, n), () => this.#idleRead(c, null));
  }

  /** @internal A connection that must not be reused: reset when bytes are unread, else closed. */
  discard(c: H1Conn, reason?: unknown): void {
    this.#unpool(c);
    if (reason instanceof Error) c.conn.abort(reason);
    else if (c.start !== c.end || c.conn.connection.readableLength > 0) c.conn.abort();
    else c.conn.close();
  }

  #idleRead(c: H1Conn, _n: number | null): void {
    // Taken for a request meanwhile: that request reads what came.
    if (!c.idle) return;
    this.#unpool(c);
    c.conn.close();
  }

  #unpool(c: H1Conn): void {
    if (!c.idle) return;
    c.idle = false;
    const list = this.#pool.get(c.key);
    const i = list?.indexOf(c) ?? -1;
    if (i >= 0) {
      list!.splice(i, 1);
      this.#idleCount--;
      if (list!.length === 0) this.#pool.delete(c.key);
    }
  }

  #armSweep(expiryMs: number): void {
    if (expiryMs < this.#nextExpiryMs) this.#nextExpiryMs = expiryMs;
    if (this.#detach !== null || this.#host.attach === undefined) return;
    this.#detach = this.#host.attach({
      poll: (now) => {
        if (now >= this.#nextExpiryMs) this.#sweep(now);
      },
      nextDeadline: () => this.#nextExpiryMs,
      close: () => this.close(),
    });
  }

  /** Closes the connections idle for the timeout; re-arms for the next. */
  #sweep(now: number): void {
    let next = Infinity;
    for (const list of [...this.#pool.values()]) {
      for (const c of [...list]) {
        const expiry = c.idleSinceMs + this.#idleTimeoutMs;
        if (expiry <= now) {
          this.#unpool(c);
          c.conn.close();
        } else if (expiry < next) next = expiry;
      }
    }
    this.#nextExpiryMs = next;
  }

  /**
   * The bytes of a request head; the last one's are kept and given again for the same text
   * (a loop of identical requests encodes its head once; `TcpConn.write` copies, so the bytes
   * are never written to after).
   */
  #headBytes(text: string): Uint8Array {
    if (text === this.#lastHeadText) return this.#lastHead;
    const bytes = latin1Bytes(text);
    if (text.length <= LAST_HEAD_MAX_BYTES) {
      this.#lastHeadText = text;
      this.#lastHead = bytes;
    }
    return bytes;
  }

  /** An idle connection to `key`, the most recently used first. */
  #take(key: string): H1Conn | null {
    const list = this.#pool.get(key);
    if (list === undefined) return null;
    for (;;) {
      const c = list.pop();
      if (c === undefined) {
        this.#pool.delete(key);
        return null;
      }
      this.#idleCount--;
      c.idle = false;
      const conn = c.conn;
      if (!conn.closed && conn.error === null && !conn.connection.finReceived) return c;
      conn.close();
    }
  }

  /**
   * Sends a request and reads the response head.
   *
   * @param req the request
   * @param signal aborts it: the connection is reset and the promise rejects with the reason
   * @returns the response; read its body with {@link H1Response.next}
   * @throws the cause of a network error (refused, reset, malformed response: an `Error`), or
   *   the signal's reason
   */
  async request(req: H1Request, signal: AbortSignal | null): Promise<H1Response> {
    if (this.#closed) throw new TypeError("the HTTP client is closed");
    const key = `${req.hostname}:${req.port}`;
    const replayable = !(req.body instanceof ReadableStream) && IDEMPOTENT.has(req.method);
    const head = this.#headBytes(serializeHead(req));
    for (;;) {
      const pooled = this.#take(key);
      const c = pooled ?? await this.#connect(req, key, signal);
      try {
        return await this.#exchange(c, req, head, signal);
      } catch (e) {
        if (e instanceof ExchangeFailure) {
          if (e.retryable && pooled !== null && replayable && !signal?.aborted) continue;
          throw e.cause;
        }
        throw e;
      }
    }
  }

  async #connect(req: H1Request, key: string, signal: AbortSignal | null): Promise<H1Conn> {
    const connecting = this.#host.connect({
      hostname: req.hostname,
      port: req.port,
      noDelay: true,
    });
    if (signal === null) return new H1Conn(await connecting, key);
    if (signal.aborted) throw signal.reason;
    let onAbort: (() => void) | null = null;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return new H1Conn(await Promise.race([connecting, aborted]), key);
    } catch (e) {
      // Aborted while connecting: the connection, if it comes, is not wanted.
      connecting.then((conn) => conn.abort(), () => {});
      throw e;
    } finally {
      signal.removeEventListener("abort", onAbort!);
    }
  }

  async #exchange(
    c: H1Conn,
    req: H1Request,
    head: Uint8Array,
    signal: AbortSignal | null,
  ): Promise<H1Response> {
    const conn = c.conn;
    let onAbort: (() => void) | null = null;
    if (signal !== null) {
      if (signal.aborted) {
        this.discard(c, signal.reason);
        throw signal.reason;
      }
      onAbort = () => this.discard(c, signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    }
    let bodySent = true;
    try {
      const body = req.body;
      if (body === null) await conn.write(head);
      else if (body instanceof Uint8Array) {
        if (body.length <= H1_CLIENT_READ_BYTES) {
          const one = new Uint8Array(head.length + body.length);
          one.set(head);
          one.set(body, head.length);
          await conn.write(one);
        } else {
          await conn.write(head);
          await conn.write(body);
        }
      } else {
        bodySent = false;
        await conn.write(head);
        void sendChunked(conn, body).then((ok) => {
          bodySent = ok;
          if (!ok) this.discard(c);
        });
      }
    } catch (e) {
      if (onAbort !== null) signal!.removeEventListener("abort", onAbort);
      this.discard(c);
      throw signal?.aborted ? signal.reason : new ExchangeFailure(e, true);
    }
    let got = false;
    try {
      for (let interim = 0;; interim++) {
        let scanned = c.start;
        let headEnd: number | HeadError;
        for (;;) {
          headEnd = findHeadEnd(c.buf, c.start, scanned, c.end);
          if (headEnd !== -1) break;
          scanned = c.end;
          if (c.end - c.start >= H1_CLIENT_MAX_HEAD_BYTES) {
            headEnd = new HeadError(502, "response head too large");
            break;
          }
          let n: number | null;
          try {
            n = await c.fill();
          } catch (e) {
            throw signal?.aborted ? signal.reason : new ExchangeFailure(e, !got);
          }
          if (n === null) {
            throw new ExchangeFailure(
              new Error("the connection closed before a response"),
              !got,
            );
          }
          got = true;
        }
        if (headEnd instanceof HeadError) throw malformed(headEnd);
        const parsed = parseResponseHead(c.buf, c.start, headEnd, H1_CLIENT_MAX_HEADER_COUNT);
        if (parsed instanceof HeadError) throw malformed(parsed);
        c.start = headEnd;
        const status = parsed.status;
        if (status >= 100 && status < 200) {
          // RFC 9110 §15.2: interim responses are skipped (101 only answers an Upgrade we
          // never send).
          if (status === 101 || interim >= H1_CLIENT_MAX_INTERIM) {
            throw malformed(new HeadError(502, `unexpected ${status} response`));
          }
          continue;
        }
        // RFC 9112 §6.3 item 1: no body after HEAD, 204 and 304 (and 1xx, above).
        const noBody = req.method === "HEAD" || status === 204 || status === 304;
        // From here on an abort is the body's business (H1Response.abort with the reason).
        if (onAbort !== null) signal!.removeEventListener("abort", onAbort);
        return new H1Response(this, c, parsed, noBody, bodySent);
      }
    } catch (e) {
      if (onAbort !== null) signal!.removeEventListener("abort", onAbort);
      this.discard(c, signal?.aborted ? signal.reason : undefined);
      if (signal?.aborted) throw signal.reason;
      throw e;
    }
  }
}

function malformed(e: HeadError): ExchangeFailure {
  return new ExchangeFailure(new Error(`malformed HTTP response: ${e.reason}`), false);
}

/**
 * The request head (RFC 9112 §3, §5): request line, Host, the request's fields, defaults for
 * User-Agent and Accept, and the framing of the body (Content-Length, or chunked for a
 * stream; RFC 9110 §8.6: `Content-Length: 0` for a POST or PUT without a body, as Fetch
 * §4.5 step 9 says).
 *
 * @returns the head as a byte string (field values are latin1, as `Headers` keeps them)
 */
export function serializeHead(req: H1Request): string {
  let s = `${req.method} ${req.target} HTTP/1.1\r\n`;
  let host = false;
  let ua = false;
  let accept = false;
  for (const [name, value] of req.headers ?? []) {
    switch (name) {
      case "host":
        host = true;
        break;
      case "user-agent":
        ua = true;
        break;
      case "accept":
        accept = true;
        break;
      case "content-length":
      case "transfer-encoding":
      case "set-cookie":
        continue; // the framing is ours; set-cookie is a response field
    }
    s += `${name}: ${value}\r\n`;
  }
  if (!host) s = s + `host: ${req.authority}\r\n`;
  if (!ua) s += `user-agent: ${req.userAgent}\r\n`;
  if (!accept) s += "accept: */*\r\n";
  const body = req.body;
  if (body instanceof Uint8Array) s += `content-length: ${body.length}\r\n`;
  else if (body !== null) s += "transfer-encoding: chunked\r\n";
  else if (req.method === "POST" || req.method === "PUT") s += "content-length: 0\r\n";
  return s + "\r\n";
}

/** The bytes of a byte string (every code unit ≤ 0xFF, as `Headers` values are). */
function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  const { read, written } = encoder.encodeInto(s, out);
  if (read === s.length && written === s.length) return out; // ASCII: UTF-8 is latin1
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Sends a stream as a chunked body (RFC 9112 §7.1), one chunk per stream chunk, waiting for
 * send-ring room (back-pressure).
 *
 * @returns whether the whole body and the last chunk were written
 */
async function sendChunked(conn: TcpConn, body: ReadableStream<Uint8Array>): Promise<boolean> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.length === 0) continue;
      await conn.write(encoder.encode(`${value.length.toString(16)}\r\n`));
      await conn.write(value);
      await conn.write(CRLF);
    }
    await conn.write(LAST_CHUNK);
    return true;
  } catch {
    await reader.cancel().catch(() => {});
    return false;
  } finally {
    reader.releaseLock();
  }
}
