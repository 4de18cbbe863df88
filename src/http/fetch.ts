/**
 * `fetch` over a rawstack stack: WHATWG Fetch semantics (a `Request` in, a
 * `Response` out, redirects, streamed bodies, `AbortSignal`) for `http:` and
 * `https:` URLs. `http:` runs on rawstack's own HTTP/1.1 client
 * ({@link H1Client}, src/http/h1_client.ts) straight over TCP; `https:` on
 * the HTTP/1.1 of `node:http` and the TLS of `node:tls` over rawstack TCP
 * through {@link createNodeConnection}. Connections are kept alive and reused
 * per origin by an {@link StackHttpClient} (one per stack by default, or
 * `init.client`, as `Deno.createHttpClient`).
 *
 * Errors are `TypeError`s with the underlying error as `cause`, as in Deno
 * and browsers; an aborted request rejects with the signal's reason.
 *
 * @module
 */

import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import tls from "node:tls";
import type { Duplex } from "node:stream";
import { createNodeConnection } from "./node_socket.ts";
import { nodeToWebStream } from "./streams.ts";
import { H1Client, type H1ClientHost, type H1Response } from "./h1_client.ts";

/** Options of {@link StackHttpClient}, after `Deno.CreateHttpClientOptions`. */
export interface HttpClientOptions {
  /** PEM certificates trusted as roots, instead of the runtime's root store. */
  caCerts?: string[];
  /** Client certificate chain (PEM) for TLS client authentication, with {@link key}. */
  cert?: string;
  /** Private key (PEM) of {@link cert}. */
  key?: string;
  /** Idle connections kept per origin (default 16). */
  poolMaxIdlePerHost?: number;
  /** An idle pooled connection is closed after this long, ms (default 90,000, hyper's); false = never. */
  poolIdleTimeout?: number | false;
  /** Accept any server certificate (curl `--insecure`; Deno's `--unsafely-ignore-certificate-errors`). */
  unsafelyIgnoreCertificateErrors?: boolean;
}

/** Default idle connections kept per origin. */
export const HTTP_POOL_MAX_IDLE_PER_HOST = 16;
/** Default idle time before a pooled connection is closed, ms (hyper's pool default). */
export const HTTP_POOL_IDLE_TIMEOUT_MS = 90_000;
/** Redirects followed at most (WHATWG Fetch §4.4 HTTP-redirect fetch, step 5). */
export const FETCH_MAX_REDIRECTS = 20;
/** User-Agent sent when the request has none. */
export const FETCH_USER_AGENT = "rawstack/0.1";

/** `RequestInit` plus the client to send it with (as Deno's `init.client`). */
export interface StackRequestInit extends RequestInit {
  /** The client (pool, trusted CAs); default: the stack's own. */
  client?: StackHttpClient;
}

/**
 * A connection pool and TLS policy for {@link stackFetch}, like the
 * `Deno.HttpClient` of `Deno.createHttpClient`: connections to one origin are
 * kept alive and reused; `caCerts` replace the trusted roots.
 *
 * @example
 * ```ts
 * import { MemoryLink, Stack } from "../../mod.ts";
 * const [d] = MemoryLink.pair();
 * const stack = new Stack({ device: d, ipv4: "192.0.2.2/24" });
 * const client = stack.createHttpClient({ caCerts: [] });
 * console.assert(client.idleConnections() === 0);
 * client.close();
 * await stack.close();
 * ```
 */
export class StackHttpClient implements Disposable {
  readonly #http: http.Agent;
  readonly #https: https.Agent;
  readonly #h1: H1Client;
  #closed = false;

  /**
   * Makes a client over a stack.
   *
   * @param stack where connections are opened (`Stack`)
   * @param options trusted CAs, client certificate, pool limits
   */
  constructor(stack: H1ClientHost, options: HttpClientOptions = {}) {
    const idle = options.poolIdleTimeout === false
      ? 0
      : options.poolIdleTimeout ?? HTTP_POOL_IDLE_TIMEOUT_MS;
    const maxIdle = options.poolMaxIdlePerHost ?? HTTP_POOL_MAX_IDLE_PER_HOST;
    this.#h1 = new H1Client(stack, maxIdle, idle);
    const common = {
      keepAlive: true,
      maxFreeSockets: maxIdle,
      timeout: idle > 0 ? idle : undefined,
      scheduling: "lifo" as const,
    };
    const connect = (o: { host?: string | null; port?: number | string | null }) =>
      createNodeConnection(stack, { host: o.host ?? "", port: Number(o.port), noDelay: true });
    this.#http = new http.Agent(common);
    // node:http's Agent opens its sockets through createConnection: over rawstack here.
    (this.#http as unknown as { createConnection: unknown }).createConnection = connect;
    this.#https = new https.Agent({
      ...common,
      ca: options.caCerts,
      cert: options.cert,
      key: options.key,
      rejectUnauthorized: options.unsafelyIgnoreCertificateErrors !== true,
    });
    (this.#https as unknown as { createConnection: unknown }).createConnection = (
      o: tls.ConnectionOptions & { host?: string; port?: number },
    ) => tls.connect({ ...o, socket: connect(o) as unknown as Duplex });
  }

  /** @internal The agent for a scheme. */
  agentFor(protocol: string): http.Agent {
    if (this.#closed) throw new TypeError("the HTTP client is closed");
    return protocol === "https:" ? this.#https : this.#http;
  }

  /** @internal The plain-HTTP/1.1 client. */
  get h1(): H1Client {
    return this.#h1;
  }

  /** Idle pooled connections now (all origins). */
  idleConnections(): number {
    let n = this.#h1.idleConnections;
    for (const a of [this.#http, this.#https]) {
      for (const list of Object.values(a.freeSockets)) n += list?.length ?? 0;
    }
    return n;
  }

  /** Closes every pooled connection; requests already running finish. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#h1.close();
    this.#http.destroy();
    this.#https.destroy();
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** WHATWG Fetch §2.2.6: statuses whose response has no body. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
/** WHATWG Fetch §2.2.6: redirect statuses. */
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

function networkError(url: string, cause: unknown): TypeError {
  const what = cause instanceof Error ? cause.message : String(cause);
  return new TypeError(`error sending request for url (${url}): ${what}`, { cause });
}

function bodyError(url: string, cause: unknown): TypeError {
  const what = cause === null
    ? "the connection closed before the body was complete"
    : cause instanceof Error
    ? cause.message
    : String(cause);
  return new TypeError(`error reading a body from connection (${url}): ${what}`, {
    cause: cause ?? undefined,
  });
}

/** The body of a request as it is sent: bytes (replayable on a redirect) or a stream. */
type OutgoingBody = Uint8Array | ReadableStream<Uint8Array> | null;

async function outgoingBody(request: Request, init?: RequestInit): Promise<OutgoingBody> {
  if (request.body === null) return null;
  const source = init?.body ?? null;
  // A stream (from init, or the body of a Request given as input) is sent as it comes, chunked;
  // anything else has a known length and is kept, so that a 307/308 redirect can send it again.
  if (source === null || source instanceof ReadableStream) return request.body;
  return new Uint8Array(await request.arrayBuffer());
}

interface Hop {
  url: URL;
  method: string;
  /** The request's fields; null for none (a plain GET). */
  headers: Headers | null;
  body: OutgoingBody;
}

/** Sends one request and resolves with the response head; the body streams. */
function sendOnce(
  client: StackHttpClient,
  hop: Hop,
  signal: AbortSignal | null,
): Promise<{ res: http.IncomingMessage; req: http.ClientRequest }> {
  const { url, method, headers, body } = hop;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    let agent: http.Agent;
    try {
      agent = client.agentFor(url.protocol);
    } catch (e) {
      return reject(networkError(url.href, e));
    }
    const fields: Record<string, string | string[]> = {};
    for (const [name, value] of headers ?? []) {
      if (name === "set-cookie") continue;
      fields[name] = value;
    }
    fields["user-agent"] ??= FETCH_USER_AGENT;
    fields["accept"] ??= "*/*";
    if (body instanceof Uint8Array) fields["content-length"] = String(body.length);
    const mod = url.protocol === "https:" ? https : http;
    const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    let req: http.ClientRequest;
    try {
      req = mod.request({
        agent,
        protocol: url.protocol,
        host: hostname,
        port: url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port),
        method,
        path: url.pathname + url.search,
        headers: fields,
        // SNI names the host (RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted").
        servername: isIP(hostname) === 0 ? hostname : undefined,
      });
    } catch (e) {
      return reject(networkError(url.href, e));
    }
    let settled = false;
    const onAbort = () => req.destroy(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    req.once("response", (res) => {
      settled = true;
      resolve({ res, req });
    });
    req.on("error", (e) => {
      signal?.removeEventListener("abort", onAbort);
      if (settled) return;
      settled = true;
      reject(signal?.aborted ? signal.reason : networkError(url.href, e));
    });
    req.once("close", () => signal?.removeEventListener("abort", onAbort));
    if (body === null) req.end();
    else if (body instanceof Uint8Array) req.end(body);
    else void pipeBody(body, req);
  });
}

/** Streams a request body with back-pressure (chunked transfer coding). */
async function pipeBody(body: ReadableStream<Uint8Array>, req: http.ClientRequest): Promise<void> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (req.destroyed) return;
      if (!req.write(value)) {
        await new Promise<void>((resolve) => {
          const go = () => {
            req.off("drain", go);
            req.off("close", go);
            resolve();
          };
          req.once("drain", go);
          req.once("close", go);
        });
      }
    }
    req.end();
  } catch (e) {
    req.destroy(e instanceof Error ? e : new Error(String(e)));
  } finally {
    reader.releaseLock();
  }
}

/**
 * WHATWG Fetch over a stack: see the module doc. Follows up to
 * {@link FETCH_MAX_REDIRECTS} redirects (`redirect: "follow"`), returns the
 * redirect response with `"manual"` and fails with `"error"`.
 *
 * @param client the connection pool and TLS policy
 * @param input a URL or a `Request`
 * @param init as `fetch`'s (`signal`, `redirect`, `method`, `headers`, `body`)
 * @returns the response; its body streams from the connection
 * @throws {TypeError} network errors (refused, reset, TLS failure, malformed response), with the
 *   cause; the signal's reason when aborted
 */
export async function stackFetch(
  client: StackHttpClient,
  input: string | URL | Request,
  init?: StackRequestInit,
): Promise<Response> {
  let hop: Hop;
  let signal: AbortSignal | null;
  let redirect: RequestRedirect;
  let method: string;
  const simple = simpleRequest(input, init);
  if (simple !== null) {
    // A plain GET: what `new Request` would make of it, without making it.
    hop = { url: simple, method: "GET", headers: null, body: null };
    signal = init?.signal ?? null;
    redirect = init?.redirect ?? "follow";
    method = "GET";
  } else {
    if (init?.client !== undefined) {
      // Deno's Request takes `client` too, but only a Deno.HttpClient.
      const { client: _client, ...rest } = init;
      init = rest;
    }
    let request: Request;
    try {
      request = new Request(input, init);
    } catch (e) {
      throw e instanceof TypeError ? e : new TypeError(String(e), { cause: e });
    }
    signal = init?.signal ?? (input instanceof Request ? input.signal : null);
    redirect = request.redirect;
    method = request.method;
    // The Request stays ours, so its headers are used as they are (redirectHop copies).
    hop = {
      url: new URL(request.url),
      method,
      headers: request.headers,
      body: await outgoingBody(request, init),
    };
  }
  const url = hop.url;
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`scheme '${url.protocol.slice(0, -1)}' not supported`);
  }
  for (let redirects = 0;; redirects++) {
    const answer = hop.url.protocol === "http:"
      ? await sendH1(client, hop, signal)
      : await sendNode(client, hop, signal);
    const { status, location } = answer;
    if (REDIRECT_STATUSES.has(status) && location !== null && redirect !== "manual") {
      // Drain the body first, so the connection is back in the pool for the next hop.
      await answer.drain();
      if (redirect === "error") {
        throw new TypeError(`redirect to ${location} refused: redirect mode is "error"`);
      }
      if (redirects >= FETCH_MAX_REDIRECTS) throw new TypeError("too many redirects");
      let next: URL;
      try {
        next = new URL(location, hop.url);
      } catch (e) {
        throw new TypeError(`bad redirect location "${location}"`, { cause: e });
      }
      if (next.protocol !== "http:" && next.protocol !== "https:") {
        throw new TypeError(`redirect to a non-HTTP URL: ${next.href}`);
      }
      hop = redirectHop(hop, status, next);
      continue;
    }
    return answer.response(hop.url, redirects > 0, signal, method);
  }
}

/** A response head of either path: status, Location, and how to go on. */
interface Answer {
  status: number;
  /** The Location field (null: none). */
  location: string | null;
  /** Reads the body to its end (a redirect's), keeping the connection when possible. */
  drain(): Promise<void>;
  /** The WHATWG response, its body streaming from the connection. */
  response(url: URL, redirected: boolean, signal: AbortSignal | null, method: string): Response;
}

/** One hop over rawstack's own HTTP/1.1 client (`http:`). */
async function sendH1(
  client: StackHttpClient,
  hop: Hop,
  signal: AbortSignal | null,
): Promise<Answer> {
  const { url } = hop;
  if (signal?.aborted) throw signal.reason;
  if (client.closed) throw networkError(url.href, new TypeError("the HTTP client is closed"));
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  let r: H1Response;
  try {
    r = await client.h1.request({
      hostname,
      port: url.port === "" ? 80 : Number(url.port),
      authority: url.host,
      method: hop.method,
      target: url.pathname + url.search,
      headers: hop.headers,
      body: hop.body,
      userAgent: FETCH_USER_AGENT,
    }, signal);
  } catch (e) {
    throw signal?.aborted ? signal.reason : networkError(url.href, e);
  }
  return {
    status: r.head.status,
    location: r.head.location,
    drain: () => r.drain(),
    response: (url, redirected, signal, method) => h1Response(r, url, redirected, signal, method),
  };
}

/** One hop over `node:http`/`node:https` (the `https:` path). */
async function sendNode(
  client: StackHttpClient,
  hop: Hop,
  signal: AbortSignal | null,
): Promise<Answer> {
  const { res, req } = await sendOnce(client, hop, signal);
  return {
    status: res.statusCode ?? 0,
    location: res.headers.location ?? null,
    drain: async () => {
      await new Promise<void>((resolve) => {
        res.once("end", resolve);
        res.once("close", resolve);
        res.resume();
      });
      // node:http hands the connection back to its pool a tick after "end".
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
    },
    response: (url, redirected, signal, method) =>
      makeResponse(res, req, url, redirected, signal, method),
  };
}

/** Own keys of a `RequestInit` that a plain GET may have (see {@link simpleRequest}). */
const SIMPLE_INIT_KEYS = new Set(["client", "signal", "redirect"]);
const REDIRECT_MODES = new Set(["follow", "error", "manual"]);

/**
 * The URL of a request that is a plain GET — `input` an absolute URL string or a `URL`, `init`
 * absent or a plain object with no more than `client`, `signal` (an `AbortSignal`) and a valid
 * `redirect` — for which `new Request` would only parse the URL; null for anything else
 * (which goes through `new Request` and its checks).
 */
function simpleRequest(input: string | URL | Request, init?: StackRequestInit): URL | null {
  if (typeof input !== "string" && !(input instanceof URL)) return null;
  if (init !== undefined) {
    if (init === null || Object.getPrototypeOf(init) !== Object.prototype) return null;
    for (const key of Object.keys(init)) if (!SIMPLE_INIT_KEYS.has(key)) return null;
    const { signal, redirect } = init;
    if (signal !== undefined && signal !== null && !(signal instanceof AbortSignal)) return null;
    if (redirect !== undefined && !REDIRECT_MODES.has(redirect)) return null;
  }
  try {
    return new URL(input);
  } catch {
    return null; // relative (against --location) or invalid: new Request says which
  }
}

/** WHATWG Fetch §4.4 HTTP-redirect fetch, steps 11–13. */
function redirectHop(hop: Hop, status: number, next: URL): Hop {
  let { method, body } = hop;
  const headers = new Headers(hop.headers ?? undefined);
  if (body instanceof ReadableStream && status !== 303) {
    // Step 11: a body whose source is a stream cannot be sent again.
    throw new TypeError("cannot follow a redirect with a streamed request body");
  }
  if (
    ((status === 301 || status === 302) && method === "POST") ||
    (status === 303 && method !== "GET" && method !== "HEAD")
  ) {
    method = "GET";
    body = null;
    for (
      const h of [
        "content-encoding",
        "content-language",
        "content-location",
        "content-type",
        "content-length",
      ]
    ) {
      headers.delete(h);
    }
  }
  if (next.origin !== hop.url.origin) {
    // Step 13: credentials are not carried to another origin.
    headers.delete("authorization");
    headers.delete("cookie");
    headers.delete("proxy-authorization");
  }
  headers.delete("host");
  return { url: next, method, headers, body };
}

/** The WHATWG response of an {@link H1Response}: the whole body as bytes, or a stream. */
function h1Response(
  r: H1Response,
  url: URL,
  redirected: boolean,
  signal: AbortSignal | null,
  method: string,
): Response {
  const status = r.head.status;
  let body: BodyInit | null = null;
  if (NULL_BODY_STATUSES.has(status) || method === "HEAD") void r.drain();
  else if (r.whole !== null && signal === null) body = r.whole as Uint8Array<ArrayBuffer>;
  else body = h1BodyStream(r, url, signal);
  const response = finishResponse(
    body,
    status,
    r.head.reason,
    null,
    url,
    redirected,
    () => r.abort(),
  );
  // Appended one by one: cheaper than a HeadersInit in the ResponseInit, which Deno converts
  // as a sequence of pairs. A body given as bytes adds no field of its own.
  const headers = response.headers;
  for (const [name, value] of r.head.headers) {
    try {
      headers.append(name, value);
    } catch {
      // A field Headers refuses: left out, as browsers do.
    }
  }
  return response;
}

/**
 * The body of an {@link H1Response} as a `ReadableStream`, pulled from the connection as the
 * reader asks; an abort of `signal` errors it with the reason and resets the connection.
 */
function h1BodyStream(
  r: H1Response,
  url: URL,
  signal: AbortSignal | null,
): ReadableStream<Uint8Array> {
  let ended = false;
  let onAbort: (() => void) | null = null;
  const end = () => {
    ended = true;
    if (onAbort !== null) signal!.removeEventListener("abort", onAbort);
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (signal === null) return;
      onAbort = () => {
        r.abort(signal.reason);
        if (!ended) {
          end();
          controller.error(signal.reason);
        }
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    },
    async pull(controller) {
      if (r.whole !== null) {
        const whole = r.whole;
        r.whole = null;
        controller.enqueue(whole);
        return;
      }
      let data: Uint8Array | null;
      try {
        data = await r.next();
      } catch (e) {
        if (ended) return;
        end();
        controller.error(signal?.aborted ? signal.reason : bodyError(url.href, e));
        return;
      }
      if (ended) return;
      if (data === null) {
        end();
        controller.close();
      } else controller.enqueue(data);
    },
    cancel() {
      end();
      r.abort();
    },
  });
}

function makeResponse(
  res: http.IncomingMessage,
  req: http.ClientRequest,
  url: URL,
  redirected: boolean,
  signal: AbortSignal | null,
  method: string,
): Response {
  const status = res.statusCode ?? 0;
  const headers = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i], raw[i + 1]);
    } catch {
      // A field value Headers refuses (a control character): left out, as browsers do.
    }
  }
  const nullBody = NULL_BODY_STATUSES.has(status) || method === "HEAD";
  let body: ReadableStream<Uint8Array> | null = null;
  if (nullBody) res.resume();
  else {
    body = nodeToWebStream(
      res,
      (e) => signal?.aborted ? signal.reason : bodyError(url.href, e),
      () => res.complete,
      true,
    );
    if (signal !== null) {
      const onAbort = () => {
        res.destroy(signal.reason);
        req.destroy(signal.reason);
      };
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener("abort", onAbort, { once: true });
        res.once("close", () => signal.removeEventListener("abort", onAbort));
      }
    }
  }
  return finishResponse(
    body,
    status,
    res.statusMessage ?? "",
    headers,
    url,
    redirected,
    () => res.destroy(),
  );
}

/** `new Response` with a status outside 200–599 kept, and `url`/`redirected` set. */
function finishResponse(
  body: BodyInit | null,
  status: number,
  statusText: string,
  headers: Headers | null,
  url: URL,
  redirected: boolean,
  dispose: () => void,
): Response {
  let response: Response;
  try {
    response = new Response(
      body,
      headers === null
        ? { status: status < 200 || status > 599 ? 200 : status, statusText }
        : { status: status < 200 || status > 599 ? 200 : status, statusText, headers },
    );
    if (status < 200 || status > 599) Object.defineProperty(response, "status", { value: status });
  } catch (e) {
    dispose();
    throw new TypeError(`invalid response from ${url.href}`, { cause: e });
  }
  // Fetch §6.4 (Response class, url getter): serialized with the fragment excluded.
  const href = url.href;
  const hash = href.indexOf("#");
  Object.defineProperty(response, "url", { value: hash < 0 ? href : href.slice(0, hash) });
  if (redirected) Object.defineProperty(response, "redirected", { value: true });
  return response;
}
