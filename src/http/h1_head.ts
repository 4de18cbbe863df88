/**
 * Response heads of {@link ./h1_server.ts}: the `date` field's text (renewed once a second), the
 * head's bytes with its `connection` field, and {@link HeadCache}, the last whole-body head
 * reused while its inputs match.
 *
 * @module
 */

/** A cached IMF-fixdate for the `date` field (RFC 9110 §6.6.1), renewed once a second. */
let dateSecond = -1;
let dateText = "";

/** The `date` field's text for now (IMF-fixdate), made once a second. */
export function httpDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateText = new Date(s * 1000).toUTCString();
  }
  return dateText;
}

/**
 * Writes the latin1 string `s` into `out` at `at` (header text is octets, RFC 9110 §5.5;
 * `Headers` holds ByteStrings).
 */
function putLatin1(out: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) out[at++] = s.charCodeAt(i);
  return at;
}

/**
 * The head of the last response with a whole body (a string or bytes) and what it was made of.
 * Handlers mostly answer alike, so the next such response with the same status, fields, body
 * length and keep-alive within the same second (the `date` field) reuses the bytes instead of
 * building and encoding the text again, as hyper (`Deno.serve`) caches its date line.
 */
export class HeadCache {
  #status = 0;
  #statusText = "";
  #fields: [string, string][] = [];
  #bodyLength = -1;
  #keep = false;
  #keepOut = false;
  #second = -1;
  /** The whole head (status line, fields, `connection`, the empty line); empty when unset. */
  #bytes: Uint8Array = new Uint8Array(0);

  /** The cached head for these inputs (built within the current date second), or null. */
  get(
    status: number,
    statusText: string,
    fields: [string, string][],
    bodyLength: number,
    keep: boolean,
  ): Uint8Array | null {
    if (
      this.#bytes.length === 0 || status !== this.#status || bodyLength !== this.#bodyLength ||
      keep !== this.#keep || statusText !== this.#statusText ||
      fields.length !== this.#fields.length
    ) return null;
    const cached = this.#fields;
    for (let i = 0; i < fields.length; i++) {
      if (fields[i][0] !== cached[i][0] || fields[i][1] !== cached[i][1]) return null;
    }
    httpDate();
    return dateSecond === this.#second ? this.#bytes : null;
  }

  /** Whether the cached head keeps the connection (false when its fields said `close`). */
  get keepOut(): boolean {
    return this.#keepOut;
  }

  /**
   * Remembers `bytes` as the head for these inputs (the date of {@link httpDate}'s second).
   *
   * @param keep whether the connection could stay open before the fields were read
   * @param keepOut whether the head says keep-alive
   */
  set(
    status: number,
    statusText: string,
    fields: [string, string][],
    bodyLength: number,
    keep: boolean,
    keepOut: boolean,
    bytes: Uint8Array,
  ): void {
    this.#keepOut = keepOut;
    this.#status = status;
    this.#statusText = statusText;
    this.#fields = fields;
    this.#bodyLength = bodyLength;
    this.#keep = keep;
    this.#second = dateSecond;
    this.#bytes = bytes;
  }
}

/**
 * A response head's bytes: `text` (status line and fields) with the `connection` field, said both
 * ways as node:http does (RFC 9112 §9.3 makes keep-alive HTTP/1.1's default, but HTTP/1.0
 * clients and the CLI's access tests look for it), and the empty line.
 */
export function headOf(text: string, keep: boolean): Uint8Array {
  return encodeAscii(
    text + (keep ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n"),
  );
}

export function encodeAscii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  putLatin1(out, 0, s);
  return out;
}
