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
  #buf = new Uint8Array(READ_CHUNK_BYTES);
  #start = 0;
  #end = 0;
  #eof = false;

  constructor(conn: ByteStream) {
    this.#conn = conn;
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
        const grown = new Uint8Array(this.#buf.length * 2);
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

  /** Reads up to and including the blank line; returns the text before it. */
  async readHead(limit: number): Promise<string | null> {
    let scanned = 0; // bytes after #start already searched (offsets survive #fill moving data)
    for (;;) {
      const b = this.#buf;
      for (let i = this.#start + Math.max(0, scanned - 3); i + 3 < this.#end; i++) {
        if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) {
          const head = latin1.decode(b.subarray(this.#start, i));
          this.#start = i + 4;
          return head;
        }
      }
      scanned = this.#end - this.#start;
      if (scanned > limit) throw new HttpError(`header section longer than ${limit} bytes`);
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
}

/**
 * Sends `GET url` on an open connection and streams the response body.
 *
 * @param conn a connection to the URL's host and port
 * @param url the URL (only its path, query and host are used)
 * @param opts body sink, head callback, extra headers
 * @returns the response head and the number of body bytes
 * @throws {HttpError} on a malformed response or a body cut short
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
  conn: ByteStream,
  url: URL,
  opts: HttpGetOptions,
): Promise<{ head: HttpResponseHead; bodyBytes: number }> {
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

  const reader = new Reader(conn);
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

/** What a handler answers. */
export interface HttpReply {
  /** Status code. */
  status: number;
  /** Content-Type (default text/plain). */
  contentType?: string;
  /** The body. */
  body: Uint8Array;
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
 * Serves one request on a connection: reads the request head, calls
 * `handler`, writes the response with `Content-Length` and
 * `Connection: close`, then closes. Bad requests get 400 without calling the handler.
 *
 * @param conn an accepted connection
 * @param handler builds the reply (HEAD requests get the GET reply without body)
 * @returns the request served (null when the client sent nothing) and the status sent
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
): Promise<{ request: HttpRequest | null; status: number }> {
  let request: HttpRequest | null = null;
  let reply: HttpReply;
  let head = false;
  try {
    const reader = new Reader(conn);
    let text: string | null;
    try {
      text = await reader.readHead(HTTP_MAX_HEADER_BYTES);
    } catch (e) {
      const tooLarge = e instanceof HttpError && e.message.startsWith("header section longer");
      reply = { status: tooLarge ? 431 : 400, body: encoder.encode(`${(e as Error).message}\n`) };
      text = null;
      await respond(conn, reply, false);
      return { request: null, status: reply.status };
    }
    if (text === null) return { request: null, status: 0 };
    const lines = text.split(CRLF);
    // RFC 9112 §3: request-line = method SP request-target SP HTTP-version
    const m = /^([A-Z]{1,16}) (\S{1,8000}) HTTP\/1\.[01]$/.exec(lines[0]);
    let headers: Map<string, string> | null = null;
    try {
      headers = parseHeaders(lines.slice(1));
    } catch {
      headers = null;
    }
    if (m === null || headers === null) {
      reply = { status: 400, body: encoder.encode("malformed request\n") };
    } else {
      request = { method: m[1], target: m[2], headers };
      head = request.method === "HEAD";
      if (request.method !== "GET" && request.method !== "HEAD") {
        reply = { status: 405, body: encoder.encode("only GET and HEAD\n") };
      } else {
        try {
          reply = await handler(request);
        } catch {
          reply = { status: 500, body: encoder.encode("internal error\n") };
        }
      }
    }
    await respond(conn, reply, head);
    return { request, status: reply.status };
  } finally {
    conn.close();
  }
}

async function respond(conn: ByteStream, reply: HttpReply, head: boolean): Promise<void> {
  const reason = HTTP_REASONS[reply.status] ?? "Status";
  const text = `HTTP/1.1 ${reply.status} ${reason}${CRLF}` +
    `Content-Type: ${reply.contentType ?? "text/plain; charset=utf-8"}${CRLF}` +
    `Content-Length: ${reply.body.length}${CRLF}` +
    `Server: rawstack/0.1${CRLF}Connection: close${CRLF}${CRLF}`;
  const headBytes = encoder.encode(text);
  if (head || reply.body.length === 0) {
    await writeAll(conn, headBytes);
    return;
  }
  const all = new Uint8Array(headBytes.length + reply.body.length);
  all.set(headBytes);
  all.set(reply.body, headBytes.length);
  await writeAll(conn, all);
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

/**
 * A handler serving files under a directory: `/` maps to `index.html` or a
 * listing, `..` segments are refused (403), missing files give 404.
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
  const base = root.replace(/\/+$/, "") || "/";
  return async (req) => {
    let path: string;
    try {
      path = decodeURIComponent(req.target.split("?")[0]);
    } catch {
      return { status: 400, body: encoder.encode("bad percent-encoding\n") };
    }
    if (
      !path.startsWith("/") || path.split("/").some((seg) => seg === "..") || path.includes("\0")
    ) {
      return { status: 403, body: encoder.encode("forbidden\n") };
    }
    const file = `${base}${path}`;
    try {
      const info = await Deno.stat(file);
      if (info.isDirectory) {
        try {
          const body = await Deno.readFile(`${file.replace(/\/+$/, "")}/index.html`);
          return { status: 200, contentType: CONTENT_TYPES.html, body };
        } catch {
          const names: string[] = [];
          for await (const e of Deno.readDir(file)) {
            names.push(e.isDirectory ? `${e.name}/` : e.name);
          }
          names.sort();
          const prefix = path.endsWith("/") ? path : `${path}/`;
          const items = names.map((n) =>
            `<li><a href="${escapeHtml(prefix + n)}">${escapeHtml(n)}</a></li>`
          );
          const html = `<!doctype html><title>${escapeHtml(path)}</title><h1>${
            escapeHtml(path)
          }</h1><ul>${items.join("")}</ul>\n`;
          return { status: 200, contentType: CONTENT_TYPES.html, body: encoder.encode(html) };
        }
      }
      const body = await Deno.readFile(file);
      const ext = file.split(".").pop()?.toLowerCase() ?? "";
      return { status: 200, contentType: CONTENT_TYPES[ext] ?? "application/octet-stream", body };
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        return { status: 404, body: encoder.encode("not found\n") };
      }
      if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable) {
        return { status: 403, body: encoder.encode("forbidden\n") };
      }
      throw e;
    }
  };
}

function escapeHtml(s: string): string {
  return s.replace(
    /[<>&"]/g,
    (c) => c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === "&" ? "&amp;" : "&quot;",
  );
}
