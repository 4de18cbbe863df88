/**
 * A small, strict HTTP/1.1 request-head parser and chunked-body decoder
 * (RFC 9112) for {@link ../http/h1_server.ts}, working on the bytes of a
 * connection's read buffer. Anything the grammar does not allow is refused
 * with the status a server sends for it, never guessed at:
 *
 * - the request line is `method SP request-target SP HTTP-version CRLF`
 *   (§3) with single spaces, a token method, a target of visible ASCII only
 *   and at most `maxRequestLineBytes` (414 beyond, as nginx);
 * - lines end in CRLF; a bare LF or CR is refused (§2.2 allows either, the
 *   strict choice closes request-smuggling gaps);
 * - field lines are `token ":" OWS value OWS` (§5.1: no whitespace before
 *   the colon), values without control characters (RFC 9110 §5.5); obs-fold
 *   (a line starting with SP/HTAB) is refused with 400 (§5.2);
 * - at most `maxHeaderCount` fields and `maxHeadBytes` in all (431, RFC 6585 §5);
 * - `Content-Length` with `Transfer-Encoding` is refused (§6.3 item 3),
 *   differing or non-decimal `Content-Length`s are refused (§6.3 item 5), a
 *   transfer coding other than one `chunked` is 501 (§6.1), and `chunked`
 *   that is not the final coding is 400 (§6.3 item 4); `Transfer-Encoding`
 *   in an HTTP/1.0 request is refused (§6.1);
 * - HTTP/1.1 needs exactly one `Host` (§3.2, RFC 9110 §7.2), whose value is an
 *   authority (RFC 3986 §3.2) and nothing else.
 *
 * @module
 */

/** Limits of {@link parseRequestHead}. */
export interface HeadLimits {
  /** Largest head (request line, fields and the empty line), bytes; 431 beyond. */
  maxHeadBytes: number;
  /** Longest request line, bytes (without CRLF); 414 beyond. */
  maxRequestLineBytes: number;
  /** Most header fields; 431 beyond. */
  maxHeaderCount: number;
}

/** Default longest request line, bytes (nginx `large_client_header_buffers` is 8 KiB). */
export const H1_MAX_REQUEST_LINE_BYTES = 8 * 1024;
/** Default most header fields (Node's `maxHeadersCount` is 2,000; Go and nginx bound by size). */
export const H1_MAX_HEADER_COUNT = 100;
/** Longest leading run of empty lines skipped before a request line (RFC 9112 §2.2), bytes. */
const MAX_LEADING_EMPTY_BYTES = 16;
/** Most hex digits of a chunk size (Number.MAX_SAFE_INTEGER needs 14). */
const MAX_CHUNK_SIZE_DIGITS = 14;
/** Longest chunk extension, bytes (Node limits them to 16 KiB since CVE-2024-22019). */
export const H1_MAX_CHUNK_EXTENSION_BYTES = 4 * 1024;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;

/** A request the parser refused: the status to answer with and why. */
export class HeadError {
  /**
   * @param status 400, 414, 431, 501 or 505
   * @param reason a short explanation (for logs and tests)
   */
  constructor(readonly status: number, readonly reason: string) {}
}

/** A parsed request head. */
export interface RequestHead {
  /** The method, case as sent (RFC 9110 §9.1: case-sensitive). */
  method: string;
  /** The request target as sent. */
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1 (and later 1.x, answered as 1.1, RFC 9112 §2.3). */
  minor: number;
  /** Field names and values as received (values without surrounding whitespace). */
  headers: [string, string][];
  /** The Host field's value (null when absent: only allowed in HTTP/1.0). */
  host: string | null;
  /** The body's length from Content-Length, or -1 (none, or chunked). */
  contentLength: number;
  /** Whether the body is chunked. */
  chunked: boolean;
  /** Whether the client allows the connection to stay open after this request (RFC 9112 §9.3). */
  keepAlive: boolean;
  /** Whether the client sent `Expect: 100-continue` (RFC 9110 §10.1.1). */
  expectContinue: boolean;
  /** Bytes of the head, the final empty line included. */
  headBytes: number;
}

/**
 * token characters (RFC 9110 §5.6.2): `!#$%&'*+-.^_`|~`, digits, letters. Indexed by byte.
 */
const TCHAR = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (const ch of "!#$%&'*+-.^_`|~") t[ch.charCodeAt(0)] = 1;
  return t;
})();

/** Field-value bytes (RFC 9110 §5.5): VCHAR, obs-text, SP and HTAB. Indexed by byte. */
const VALUE_CHAR = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x20; c <= 0x7e; c++) t[c] = 1;
  for (let c = 0x80; c <= 0xff; c++) t[c] = 1;
  t[HTAB] = 1;
  return t;
})();

/**
 * Authority characters of a Host value (RFC 3986 §3.2: unreserved, pct-encoded,
 * sub-delims, ":" and the IP-literal brackets). Indexed by byte.
 */
const AUTHORITY_CHAR = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (const ch of "-._~%!$&'()*+,;=:[]") t[ch.charCodeAt(0)] = 1;
  return t;
})();

/**
 * A field seen again: RFC 9110 §5.3 lets a recipient combine the lines of a list-based field into
 * one value, in order, separated by commas.
 *
 * @param prev the value so far, or null for the first line
 * @param value this line's value
 * @returns the combined value
 */
function joinFieldValues(prev: string | null, value: string): string {
  return prev === null ? value : `${prev}, ${value}`;
}

/**
 * The transfer codings of a Transfer-Encoding value (RFC 9112 §6.1), lower-cased, in order,
 * empty list elements skipped (RFC 9110 §5.6.1).
 *
 * @param value the combined field value
 * @returns the codings
 */
function transferCodings(value: string): string[] {
  return value.split(",").map((c) => c.trim().toLowerCase()).filter((c) => c !== "");
}

/**
 * One field line, RFC 9112 §5 (`field-name ":" OWS field-value OWS`, no obs-fold, §5.2), from
 * `p` to the CRLF at `crlf`: appended to `headers` as [name, value], or refused.
 *
 * @param buf the head's bytes
 * @param p the line's first byte
 * @param crlf the line's CR
 * @param headers the fields so far (the line is appended)
 * @param maxCount the most fields a head may carry
 * @param status the status of a malformed line (400 for a request, 502 for a response)
 * @param tooManyStatus the status when there are more than `maxCount` fields
 * @returns null, or why the line is refused
 */
function readFieldLine(
  buf: Uint8Array,
  p: number,
  crlf: number,
  headers: [string, string][],
  maxCount: number,
  status: number,
  tooManyStatus: number,
): HeadError | null {
  const c0 = buf[p];
  if (c0 === SP || c0 === HTAB) return new HeadError(status, "obs-fold");
  if (headers.length >= maxCount) return new HeadError(tooManyStatus, "too many header fields");
  let n = p;
  while (n < crlf && TCHAR[buf[n]] === 1) n++;
  if (n === p || buf[n] !== COLON) return new HeadError(status, "bad field name");
  let vs = n + 1;
  let ve = crlf;
  while (vs < ve && (buf[vs] === SP || buf[vs] === HTAB)) vs++;
  while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
  for (let k = vs; k < ve; k++) {
    if (VALUE_CHAR[buf[k]] !== 1) return new HeadError(status, "bad field value");
  }
  headers.push([latin1(buf, p, n), latin1(buf, vs, ve)]);
  return null;
}

/**
 * A latin1 string of `buf[start..end)` (HTTP field bytes are octets, RFC 9110 §5.5;
 * `TextDecoder("latin1")` is windows-1252 in WHATWG encoding and maps 0x80–0x9F elsewhere).
 */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= 64) {
    let s = "";
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]);
    return s;
  }
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(
      null,
      buf.subarray(i, Math.min(end, i + 4096)) as unknown as number[],
    );
  }
  return s;
}

/**
 * Finds the end of a request head in `buf[from..end)`.
 *
 * @param buf the read buffer
 * @param start where the head starts
 * @param from where to go on looking (a previous call's `scanned`), ≥ start
 * @param end end of the bytes read
 * @returns the index just past the head's empty line; -1 when incomplete; or a
 *   {@link HeadError} for a bare LF (RFC 9112 §2.2, strict)
 */
export function findHeadEnd(
  buf: Uint8Array,
  start: number,
  from: number,
  end: number,
): number | HeadError {
  let i = from > start ? from - 1 : start;
  for (;;) {
    const lf = buf.indexOf(LF, i);
    if (lf === -1 || lf >= end) return -1;
    if (lf === start || buf[lf - 1] !== CR) return new HeadError(400, "bare LF");
    // CRLF CRLF, not counting empty lines before the request line (skipped by the parser).
    if (lf - 3 >= start && buf[lf - 2] === LF && buf[lf - 3] === CR) {
      let k = start;
      while (k + 1 < end && buf[k] === CR && buf[k + 1] === LF) k += 2;
      if (k < lf - 1) return lf + 1;
    }
    i = lf + 1;
  }
}

/**
 * Checks what is read of a head that is not complete yet against the limits: a request line
 * longer than allowed (414), or a head that cannot fit (431).
 *
 * @returns the error, or null while the head may still become acceptable
 */
export function checkPartialHead(
  buf: Uint8Array,
  start: number,
  end: number,
  limits: HeadLimits,
): HeadError | null {
  let k = start;
  while (k + 1 < end && buf[k] === CR && buf[k + 1] === LF) k += 2;
  if (k - start > MAX_LEADING_EMPTY_BYTES) return new HeadError(400, "too many empty lines");
  const lf = buf.indexOf(LF, k);
  const lineEnd = lf === -1 || lf >= end ? end : lf - 1;
  if (lineEnd - k > limits.maxRequestLineBytes) return new HeadError(414, "request line too long");
  if (end - start >= limits.maxHeadBytes) return new HeadError(431, "header section too large");
  return null;
}

/**
 * Parses a complete request head `buf[start..headEnd)` (found by {@link findHeadEnd}).
 *
 * @returns the head, or the {@link HeadError} to answer with
 */
export function parseRequestHead(
  buf: Uint8Array,
  start: number,
  headEnd: number,
  limits: HeadLimits,
): RequestHead | HeadError {
  if (headEnd - start > limits.maxHeadBytes) return new HeadError(431, "header section too large");
  let p = start;
  // RFC 9112 §2.2: at least one empty line before the request line SHOULD be ignored.
  while (buf[p] === CR && buf[p + 1] === LF) p += 2;
  if (p - start > MAX_LEADING_EMPTY_BYTES) return new HeadError(400, "too many empty lines");
  const lineEnd = buf.indexOf(LF, p) - 1; // at the CR (findHeadEnd checked every LF has one)
  if (lineEnd - p > limits.maxRequestLineBytes) return new HeadError(414, "request line too long");

  // method SP
  let q = p;
  while (q < lineEnd && TCHAR[buf[q]] === 1) q++;
  if (q === p || buf[q] !== SP) return new HeadError(400, "bad method");
  const method = latin1(buf, p, q);
  // request-target SP: visible ASCII only (RFC 3986 characters; no CTL, SP or octets ≥ 0x80)
  const t0 = ++q;
  while (q < lineEnd && buf[q] > 0x20 && buf[q] < 0x7f) q++;
  if (q === t0 || buf[q] !== SP) return new HeadError(400, "bad request target");
  const target = latin1(buf, t0, q);
  // HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3)
  const v = q + 1;
  if (
    lineEnd - v !== 8 || buf[v] !== 0x48 || buf[v + 1] !== 0x54 || buf[v + 2] !== 0x54 ||
    buf[v + 3] !== 0x50 || buf[v + 4] !== 0x2f || !isDigit(buf[v + 5]) || buf[v + 6] !== 0x2e ||
    !isDigit(buf[v + 7])
  ) {
    return new HeadError(400, "bad HTTP version");
  }
  if (buf[v + 5] !== 0x31) return new HeadError(505, "HTTP version not supported");
  const minor = buf[v + 7] === 0x30 ? 0 : 1;

  const headers: [string, string][] = [];
  let host: string | null = null;
  let hosts = 0;
  let contentLength = -1;
  let transferEncoding: string | null = null;
  let connection: string | null = null;
  let expect: string | null = null;
  p = lineEnd + 2;
  for (;;) {
    const crlf = buf.indexOf(LF, p) - 1;
    if (crlf === p) {
      p += 2;
      break; // the empty line
    }
    const bad = readFieldLine(buf, p, crlf, headers, limits.maxHeaderCount, 400, 431);
    if (bad !== null) return bad;
    const [name, value] = headers[headers.length - 1];
    p = crlf + 2;
    // The fields that frame the message (checked by their length first: most fields are none).
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === "host") {
          hosts++;
          host = value;
        }
        break;
      case 6:
        if (name.toLowerCase() === "expect") {
          expect = joinFieldValues(expect, value);
        }
        break;
      case 10:
        if (name.toLowerCase() === "connection") {
          connection = joinFieldValues(connection, value);
        }
        break;
      case 14:
        if (name.toLowerCase() === "content-length") {
          const cl = parseContentLength(value);
          if (cl < 0) return new HeadError(400, "bad Content-Length");
          if (contentLength !== -1 && contentLength !== cl) {
            return new HeadError(400, "conflicting Content-Length");
          }
          contentLength = cl;
        }
        break;
      case 17:
        if (name.toLowerCase() === "transfer-encoding") {
          transferEncoding = joinFieldValues(transferEncoding, value);
        }
        break;
    }
  }

  let chunked = false;
  if (transferEncoding !== null) {
    // RFC 9112 §6.1: a server MUST NOT accept Transfer-Encoding in HTTP/1.0 without closing;
    // §6.3 item 3: with Content-Length as well it is a smuggling attempt. Both are refused.
    if (minor === 0) return new HeadError(400, "Transfer-Encoding in HTTP/1.0");
    if (contentLength !== -1) return new HeadError(400, "Content-Length with Transfer-Encoding");
    const codings = transferCodings(transferEncoding);
    if (codings.length === 0) return new HeadError(400, "empty Transfer-Encoding");
    if (codings[codings.length - 1] !== "chunked") {
      // §6.3 item 4: chunked not final → 400; an unknown coding alone → 501 (§6.1).
      return codings.includes("chunked")
        ? new HeadError(400, "chunked is not the final transfer coding")
        : new HeadError(501, "transfer coding not implemented");
    }
    if (codings.length > 1) {
      return codings.filter((c) => c === "chunked").length > 1
        ? new HeadError(400, "chunked applied twice")
        : new HeadError(501, "transfer coding not implemented");
    }
    chunked = true;
  }
  if (hosts > 1) return new HeadError(400, "more than one Host");
  if (minor === 1 && hosts === 0) return new HeadError(400, "no Host");
  if (host !== null) {
    for (let k = 0; k < host.length; k++) {
      if (AUTHORITY_CHAR[host.charCodeAt(k)] !== 1) return new HeadError(400, "bad Host");
    }
  }
  let keepAlive = minor === 1;
  if (connection !== null) {
    for (const opt of connection.split(",")) {
      const o = opt.trim().toLowerCase();
      if (o === "close") {
        keepAlive = false;
        break;
      }
      if (o === "keep-alive") keepAlive = true; // HTTP/1.0 keep-alive (RFC 7230 §A.1.2)
    }
  }
  let expectContinue = false;
  if (expect !== null) {
    // RFC 9110 §10.1.1: 100-continue is the only expectation; others get 417.
    if (expect.trim().toLowerCase() !== "100-continue") {
      return new HeadError(417, "unsupported expectation");
    }
    expectContinue = minor === 1;
  }
  return {
    method,
    target,
    minor,
    headers,
    host,
    contentLength: chunked ? -1 : contentLength,
    chunked,
    keepAlive,
    expectContinue,
    headBytes: p - start,
  };
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * A Content-Length value: `1*DIGIT`, or a list of identical ones (RFC 9110 §8.6 allows a
 * recipient to take "42, 42" as 42).
 *
 * @returns the length, or -1 when invalid
 */
function parseContentLength(value: string): number {
  let result = -1;
  for (const part of value.split(",")) {
    const s = part.trim();
    if (s.length === 0 || s.length > 15) return -1; // > 15 digits is past 2^53
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return -1;
      n = n * 10 + (c - 0x30);
    }
    if (result !== -1 && result !== n) return -1;
    result = n;
  }
  return result;
}

/** States of {@link ChunkedDecoder}. */
const enum ChunkState {
  Size,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  Trailer,
  TrailerLf,
  Done,
}

/**
 * Decodes a chunked body (RFC 9112 §7.1) in place: {@link decode} is called with the
 * buffered bytes and says how many it consumed and which of them are body data.
 * Chunk extensions are skipped (bounded by {@link H1_MAX_CHUNK_EXTENSION_BYTES} per chunk),
 * trailer fields are discarded (bounded by `maxTrailerBytes`, RFC 9112 §7.1.2 lets a
 * recipient discard them).
 */
export class ChunkedDecoder {
  #state = ChunkState.Size;
  #size = 0;
  #digits = 0;
  #ext = 0;
  #trailer = 0;
  #lineLen = 0;
  #maxTrailer: number;
  /** Set by {@link decode} when the body is malformed (the connection must be closed). */
  error: string | null = null;
  /** Start of the data found by the last {@link decode} call. */
  dataStart = 0;
  /** End of the data found by the last {@link decode} call (= dataStart when none). */
  dataEnd = 0;

  /** @param maxTrailerBytes largest trailer section, bytes */
  constructor(maxTrailerBytes: number) {
    this.#maxTrailer = maxTrailerBytes;
  }

  /** Whether the last chunk and the trailer section were read. */
  get done(): boolean {
    return this.#state === ChunkState.Done;
  }

  /**
   * Consumes bytes of `buf[start..end)` up to the end of the first data run (or the end of the
   * body, or of the input). The data run is `buf[dataStart..dataEnd)`.
   *
   * @returns the index of the first byte not consumed; on a malformed body {@link error} is set
   */
  decode(buf: Uint8Array, start: number, end: number): number {
    let i = start;
    this.dataStart = this.dataEnd = start;
    while (i < end) {
      const c = buf[i];
      switch (this.#state) {
        case ChunkState.Size: {
          const d = hexValue(c);
          if (d >= 0) {
            if (++this.#digits > MAX_CHUNK_SIZE_DIGITS) return this.#fail("chunk size too long");
            this.#size = this.#size * 16 + d;
            i++;
            break;
          }
          if (this.#digits === 0) return this.#fail("bad chunk size");
          if (c === CR) this.#state = ChunkState.SizeLf;
          else if (c === 0x3b || c === SP || c === HTAB) this.#state = ChunkState.Ext;
          else return this.#fail("bad chunk size");
          i++;
          break;
        }
        case ChunkState.Ext:
          if (c === CR) this.#state = ChunkState.SizeLf;
          else if (c < 0x20 && c !== HTAB || c === 0x7f) return this.#fail("bad chunk extension");
          else if (++this.#ext > H1_MAX_CHUNK_EXTENSION_BYTES) {
            return this.#fail("chunk extension too long");
          }
          i++;
          break;
        case ChunkState.SizeLf:
          if (c !== LF) return this.#fail("bad chunk line end");
          i++;
          this.#digits = 0;
          this.#ext = 0;
          if (this.#size === 0) {
            this.#state = ChunkState.Trailer;
            this.#lineLen = 0;
          } else this.#state = ChunkState.Data;
          break;
        case ChunkState.Data: {
          const n = Math.min(this.#size, end - i);
          this.dataStart = i;
          this.dataEnd = i + n;
          this.#size -= n;
          if (this.#size === 0) this.#state = ChunkState.DataCr;
          return i + n;
        }
        case ChunkState.DataCr:
          if (c !== CR) return this.#fail("chunk data longer than its size");
          this.#state = ChunkState.DataLf;
          i++;
          break;
        case ChunkState.DataLf:
          if (c !== LF) return this.#fail("bad chunk data end");
          this.#state = ChunkState.Size;
          i++;
          break;
        case ChunkState.Trailer:
          if (++this.#trailer > this.#maxTrailer) return this.#fail("trailer section too large");
          if (c === CR) this.#state = ChunkState.TrailerLf;
          else if (c === LF || (c < 0x20 && c !== HTAB) || c === 0x7f) {
            return this.#fail("bad trailer field");
          } else this.#lineLen++;
          i++;
          break;
        case ChunkState.TrailerLf:
          if (c !== LF) return this.#fail("bad trailer line end");
          i++;
          if (this.#lineLen === 0) {
            this.#state = ChunkState.Done;
            return i;
          }
          this.#lineLen = 0;
          this.#state = ChunkState.Trailer;
          break;
        case ChunkState.Done:
          return i;
      }
    }
    return i;
  }

  #fail(reason: string): number {
    this.error = reason;
    return -1;
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** A parsed response head (RFC 9112 §4 status line and §5 fields), for the client side. */
export interface ResponseHead {
  /** 0 for HTTP/1.0, 1 for HTTP/1.1 (and later 1.x). */
  minor: number;
  /** The three-digit status code (RFC 9110 §15). */
  status: number;
  /** The reason phrase as sent (possibly empty). */
  reason: string;
  /** Field names and values as received (values without surrounding whitespace). */
  headers: [string, string][];
  /** The body's length from Content-Length, or -1 (none, chunked, or read until close). */
  contentLength: number;
  /** Whether the body is chunked (RFC 9112 §6.3 item 4). */
  chunked: boolean;
  /**
   * Whether the body lasts until the server closes (RFC 9112 §6.3 items 4 and 8: a transfer
   * coding without final `chunked`, or no framing field at all) — unless the request or the
   * status says there is no body (item 1), which only the client knows.
   */
  untilClose: boolean;
  /**
   * Whether the connection cannot carry another request after this response: `Connection:
   * close`, HTTP/1.0, or framing the RFC says to close after (§6.1, §6.3 item 3).
   */
  close: boolean;
  /** The Location field's value (null when absent or sent more than once). */
  location: string | null;
  /** Bytes of the head, the final empty line included. */
  headBytes: number;
}

/**
 * Parses a complete response head `buf[start..headEnd)` (found by {@link findHeadEnd}),
 * strictly as {@link parseRequestHead} does: single-space status line `HTTP-version SP
 * 3DIGIT SP reason` (RFC 9112 §4; a missing reason, with or without its SP, is taken as
 * empty, as llhttp and Go do), `token ":" OWS value OWS` fields without obs-fold or control
 * characters, at most `maxHeaderCount` fields. The framing follows RFC 9112 §6.3: a
 * `Transfer-Encoding` whose final coding is `chunked` wins over `Content-Length` (and the
 * connection is closed after), any other coding reads until close, differing or malformed
 * `Content-Length`s are an unrecoverable error (item 5).
 *
 * @returns the head, or a {@link HeadError} (its status is 502, the gateway's answer)
 */
export function parseResponseHead(
  buf: Uint8Array,
  start: number,
  headEnd: number,
  maxHeaderCount: number,
): ResponseHead | HeadError {
  let p = start;
  while (buf[p] === CR && buf[p + 1] === LF) p += 2;
  if (p - start > MAX_LEADING_EMPTY_BYTES) return new HeadError(502, "too many empty lines");
  const lineEnd = buf.indexOf(LF, p) - 1;
  // HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3)
  if (
    lineEnd - p < 12 || buf[p] !== 0x48 || buf[p + 1] !== 0x54 || buf[p + 2] !== 0x54 ||
    buf[p + 3] !== 0x50 || buf[p + 4] !== 0x2f || buf[p + 5] !== 0x31 || buf[p + 6] !== 0x2e ||
    !isDigit(buf[p + 7]) || buf[p + 8] !== SP
  ) {
    return new HeadError(502, "bad status line");
  }
  const minor = buf[p + 7] === 0x30 ? 0 : 1;
  const s = p + 9;
  if (!isDigit(buf[s]) || !isDigit(buf[s + 1]) || !isDigit(buf[s + 2])) {
    return new HeadError(502, "bad status code");
  }
  const status = (buf[s] - 0x30) * 100 + (buf[s + 1] - 0x30) * 10 + (buf[s + 2] - 0x30);
  let reason = "";
  if (s + 3 < lineEnd) {
    if (buf[s + 3] !== SP) return new HeadError(502, "bad status code");
    for (let k = s + 4; k < lineEnd; k++) {
      if (VALUE_CHAR[buf[k]] !== 1) return new HeadError(502, "bad reason phrase");
    }
    reason = latin1(buf, s + 4, lineEnd);
  }

  const headers: [string, string][] = [];
  let contentLength = -1;
  let badLength = false;
  let transferEncoding: string | null = null;
  let connection: string | null = null;
  let location: string | null = null;
  let locations = 0;
  p = lineEnd + 2;
  for (;;) {
    const crlf = buf.indexOf(LF, p) - 1;
    if (crlf === p) {
      p += 2;
      break;
    }
    const bad = readFieldLine(buf, p, crlf, headers, maxHeaderCount, 502, 502);
    if (bad !== null) return bad;
    const [name, value] = headers[headers.length - 1];
    p = crlf + 2;
    switch (name.length) {
      case 8:
        if (name.toLowerCase() === "location") {
          locations++;
          location = value;
        }
        break;
      case 10:
        if (name.toLowerCase() === "connection") {
          connection = joinFieldValues(connection, value);
        }
        break;
      case 14:
        if (name.toLowerCase() === "content-length") {
          const cl = parseContentLength(value);
          if (cl < 0 || (contentLength !== -1 && contentLength !== cl)) badLength = true;
          contentLength = cl;
        }
        break;
      case 17:
        if (name.toLowerCase() === "transfer-encoding") {
          transferEncoding = joinFieldValues(transferEncoding, value);
        }
        break;
    }
  }

  if (p !== headEnd) return new HeadError(502, "bad head end");
  let close = minor === 0;
  if (connection !== null) {
    for (const opt of connection.split(",")) {
      if (opt.trim().toLowerCase() === "close") close = true;
    }
  }
  let chunked = false;
  let untilClose = false;
  if (transferEncoding !== null) {
    const codings = transferCodings(transferEncoding);
    // §6.3 item 3: Transfer-Encoding overrides Content-Length; the sender may be smuggling, so
    // the connection is not reused. §6.1: in HTTP/1.0 the framing is faulty, close after.
    if (contentLength !== -1 || badLength || minor === 0) close = true;
    contentLength = -1;
    if (codings.length > 0 && codings[codings.length - 1] === "chunked") {
      if (codings.filter((c) => c === "chunked").length > 1) {
        return new HeadError(502, "chunked applied twice");
      }
      chunked = true;
    } else untilClose = true; // §6.3 item 4
  } else if (badLength) {
    return new HeadError(502, "bad or conflicting Content-Length"); // §6.3 item 5
  } else if (contentLength === -1) untilClose = true; // §6.3 item 8
  return {
    minor,
    status,
    reason,
    headers,
    contentLength,
    chunked,
    untilClose,
    close,
    location: locations === 1 ? location : null,
    headBytes: p - start,
  };
}
