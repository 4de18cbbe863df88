/**
 * The two fast paths of {@link ./h1_server.ts} that read Deno's internal
 * slots of `Request` and `Response`, as `Deno.serve` does from inside the
 * runtime, each checked against known objects when the module loads (on a
 * Deno whose slots differ they stay off): a response whose body is a string
 * or bytes is written from its header list and body without a `Headers`, a
 * stream or reads ({@link staticResponse}), and the parsed request fields go
 * into the `Request`'s header list without WebIDL conversion
 * ({@link makeRequest}). Over a MemoryLink (client and server in one process,
 * 50 keep-alive connections) they took CPU per request from 40–41 µs to
 * 29–34 µs.
 *
 * @module
 */

/** Longest string body whose UTF-8 bytes are kept for reuse by the next response. */
const UTF8_REUSE_MAX_CHARS = 16 * 1024;

/** A Response's fields and its whole body when Deno holds the body as a string or bytes. */
export interface StaticResponse {
  /** The fields as `Headers` iterates them: lowercase names, sorted, repeats joined but set-cookie. */
  fields: [string, string][];
  /** The body's bytes, or null for none. */
  body: Uint8Array | null;
  /** Deno's holder of the body (marked consumed once sent), or null. */
  holder: { consumed: boolean } | null;
}

/** Deno's internal slots of a `Response` (ext/fetch/23_response.js), or null when not found. */
interface ResponseSlots {
  inner: symbol;
  lazyBody: symbol;
  lazyType: symbol;
}

function findSlots(): ResponseSlots | null {
  const r = new Response("");
  const bySym = new Map<string, symbol>();
  for (const s of Object.getOwnPropertySymbols(r)) {
    if (s.description !== undefined) bySym.set(s.description, s);
  }
  const inner = bySym.get("response");
  const lazyBody = bySym.get("lazy static body");
  const lazyType = bySym.get("lazy static content type");
  if (inner === undefined || lazyBody === undefined || lazyType === undefined) return null;
  return { inner, lazyBody, lazyType };
}

/**
 * Deno.serve reads a Response's body without a stream when it is a string or bytes
 * (ext/http/00_serve.ts, its "fast body"); from outside Deno this reads the same internal
 * slots. They are checked against known responses once ({@link checkSlots}): on a Deno whose
 * slots differ, every response takes the general path (`response.headers`, `response.body`).
 */
let slots: ResponseSlots | null = null;
const TEXT_PLAIN = "text/plain;charset=UTF-8";
const UTF8 = new TextEncoder();

/**
 * The fields and whole body of `response` when its body is a string or bytes not yet read (and
 * not a stream), else null (the general path). Each field is as `response.headers` would
 * iterate it (Fetch "sort and combine"), so the bytes written are the general path's.
 */
export function staticResponse(response: Response): StaticResponse | null {
  const sl = slots;
  if (sl === null) return null;
  // deno-lint-ignore no-explicit-any
  const r = response as any;
  const inner = r[sl.inner];
  if (inner === undefined || inner === null || !Array.isArray(inner.headerList)) return null;
  const lazy = r[sl.lazyBody];
  if (lazy !== null && lazy !== undefined) {
    // `new Response(string)` / `Response.json()` without init: no field yet but the type.
    if (typeof lazy !== "string" || inner.body !== null || inner.headerList.length !== 0) {
      return null;
    }
    const type = r[sl.lazyType];
    if (type !== null && typeof type !== "string") return null;
    return { fields: [["content-type", type ?? TEXT_PLAIN]], body: utf8(lazy), holder: null };
  }
  let body: Uint8Array | null = null;
  let holder: { consumed: boolean } | null = null;
  if (inner.body !== null) {
    const s = inner.body.streamOrStatic;
    if (
      s === null || typeof s !== "object" || s instanceof ReadableStream || s.consumed !== false
    ) {
      return null;
    }
    const b = s.body;
    if (typeof b === "string") body = utf8(b);
    else if (b instanceof Uint8Array) body = b;
    else return null;
    holder = s;
  }
  return { fields: sortAndCombine(inner.headerList), body, holder };
}

/** Fetch "sort and combine" (what iterating `Headers` yields): lowercase, sorted, joined by ", ". */
function sortAndCombine(list: [string, string][]): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of list) out.push([name.toLowerCase(), value]);
  if (out.length > 1) out.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  const combined: [string, string][] = [];
  for (const f of out) {
    const last = combined.length > 0 ? combined[combined.length - 1] : null;
    if (last !== null && last[0] === f[0] && f[0] !== "set-cookie") last[1] += `, ${f[1]}`;
    else combined.push([f[0], f[1]]);
  }
  return combined;
}

/** The last string body encoded, and its bytes (handlers often answer the same constant). */
let lastText = "";
let lastBytes: Uint8Array = new Uint8Array(0);

/**
 * UTF-8 bytes of `s` (an ASCII loop for short text, else `TextEncoder`). The bytes are only
 * read (copied into the response), so the last result is reused for the same text.
 */
function utf8(s: string): Uint8Array {
  if (s === lastText) return lastBytes;
  const bytes = encodeUtf8(s);
  if (s.length <= UTF8_REUSE_MAX_CHARS) {
    lastText = s;
    lastBytes = bytes;
  }
  return bytes;
}

function encodeUtf8(s: string): Uint8Array {
  if (s.length > 256) return UTF8.encode(s);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return UTF8.encode(s);
    out[i] = c;
  }
  return out;
}

/** Whether {@link staticResponse} reads known responses as their public API shows them. */
function checkSlots(): boolean {
  const cases: [Response, [string, string][], string | null][] = [
    [new Response("ab"), [["content-type", TEXT_PLAIN]], "ab"],
    [Response.json({ a: 1 }), [["content-type", "application/json"]], '{"a":1}'],
    [
      new Response("é", { headers: [["X-B", "1"], ["x-a", "2"], ["X-B", "3"]] }),
      [["content-type", TEXT_PLAIN], ["x-a", "2"], ["x-b", "1, 3"]],
      "é",
    ],
    [new Response(new Uint8Array([104, 105])), [], "hi"],
    [new Response(null, { status: 204 }), [], null],
  ];
  for (const [response, fields, text] of cases) {
    const got = staticResponse(response);
    if (got === null || JSON.stringify(got.fields) !== JSON.stringify(fields)) return false;
    if ((got.body === null ? null : new TextDecoder().decode(got.body)) !== text) return false;
  }
  return staticResponse(new Response(new ReadableStream())) === null;
}

try {
  slots = findSlots();
  if (slots !== null && !checkSlots()) slots = null;
} catch {
  slots = null;
}

const foundSlots = slots;

/** Whether responses with a string or bytes body skip the stream (Deno's slots were found). */
export const STATIC_RESPONSE_FAST_PATH: boolean = foundSlots !== null;

/**
 * Turns the {@link staticResponse} fast path off (every response then takes the general path)
 * or back on; for tests that compare the two.
 */
export function setStaticResponseFastPath(on: boolean): void {
  slots = on ? foundSlots : null;
}

/**
 * A request's abort signal, made only when the handler asks for it: an AbortController per
 * request passed as `Request`'s `signal` made Deno's dependent-signal bookkeeping grow the heap
 * by ~150 bytes a request (29 MiB over the 200,000-request test), and most handlers never look.
 */
export class LazySignal {
  #controller: AbortController | null = null;
  #aborted = false;

  /** The signal (aborted already if the connection closed before it was asked for). */
  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(closedReason());
    }
    return this.#controller.signal;
  }

  /** The connection closed before the response was sent. */
  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#controller?.abort(closedReason());
  }
}

function closedReason(): DOMException {
  return new DOMException("connection closed", "AbortError");
}

/** A `Request` whose `signal` is a {@link LazySignal}'s (aborted when the client went away). */
class ServeRequest extends Request {
  readonly #lazy: LazySignal;

  constructor(lazy: LazySignal, input: string, init: RequestInit | undefined) {
    super(input, init);
    this.#lazy = lazy;
  }

  /** Aborted when the connection closes before the response was sent (as `Deno.serve`'s). */
  override get signal(): AbortSignal {
    return this.#lazy.signal;
  }
}

/**
 * Deno's slot of a `Request`'s inner request (ext/fetch/23_request.js), whose `headerList` the
 * parsed fields go into directly (see {@link makeRequest}); null when not found or not as
 * expected ({@link checkRequestSlot}).
 */
let requestSlot: symbol | null = null;

/**
 * The handler's `Request`. With {@link requestSlot}, the fields go straight into Deno's header
 * list instead of through `RequestInit.headers` (WebIDL conversion and a validation per field:
 * ~1.2 µs of a kept-alive request's ~18). Equivalent because h1_parse.ts admits only what
 * `Headers` admits: token names and values without NUL, CR or LF, trimmed of SP and HTAB
 * (RFC 9110 §5.5; Fetch "normalize").
 */
export function makeRequest(
  lazy: LazySignal,
  url: string,
  method: string,
  fields: [string, string][],
  body: ReadableStream<Uint8Array> | null,
): Request {
  const slot = requestSlot;
  if (slot === null) {
    return new ServeRequest(lazy, url, {
      method,
      headers: fields,
      body,
      // @ts-ignore: `duplex` is needed for a streamed body (Fetch), missing in some typings
      duplex: "half",
    });
  }
  const request = method === "GET" && body === null
    ? new ServeRequest(lazy, url, undefined)
    // @ts-ignore: `duplex` is needed for a streamed body (Fetch), missing in some typings
    : new ServeRequest(lazy, url, { method, body, duplex: "half" });
  // deno-lint-ignore no-explicit-any
  const list = (request as any)[slot].headerList as [string, string][];
  for (let i = 0; i < fields.length; i++) list.push(fields[i]);
  return request;
}

/** Whether fields pushed into the slot's list are what `headers` and `clone()` show. */
function checkRequestSlot(): boolean {
  const fields: [string, string][] = [["Host", "x"], ["X-B", "1"], ["x-a", "2"], ["x-b", "3"]];
  const want = JSON.stringify([["host", "x"], ["x-a", "2"], ["x-b", "1, 3"]]);
  const get = makeRequest(new LazySignal(), "http://x/", "GET", fields.slice(), null);
  const post = makeRequest(new LazySignal(), "http://x/", "POST", fields.slice(), null);
  return JSON.stringify([...get.headers]) === want && JSON.stringify([...post.headers]) === want &&
    JSON.stringify([...get.clone().headers]) === want && post.method === "POST" &&
    get.headers.get("X-B") === "1, 3";
}

try {
  requestSlot = Object.getOwnPropertySymbols(new Request("http://x/"))
    .find((s) => s.description === "request") ?? null;
  if (requestSlot !== null && !checkRequestSlot()) requestSlot = null;
} catch {
  requestSlot = null;
}

const foundRequestSlot = requestSlot;

/** Whether parsed fields go straight into Deno's request header list (see {@link makeRequest}). */
export const REQUEST_FIELDS_FAST_PATH: boolean = foundRequestSlot !== null;

/** Turns the {@link makeRequest} fast path off or back on; for tests that compare the two. */
export function setRequestFieldsFastPath(on: boolean): void {
  requestSlot = on ? foundRequestSlot : null;
}
