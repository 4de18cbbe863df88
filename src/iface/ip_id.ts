/**
 * IPv4 identification values (RFC 791 §3.2, RFC 6864) chosen as RFC 7739
 * §5.3 recommends and Linux does (`ip_idents_reserve`, net/ipv4/route.c): a
 * table of {@link IP_ID_BUCKETS} counters indexed by a keyed hash
 * (SipHash-2-4, src/wire/siphash.ts) of (source, destination, protocol). A
 * host that sees our identifications learns nothing about the datagrams we
 * send to others (no idle scan through us, RFC 7739 §3.2), and cannot guess
 * the identification of our datagrams to a third party (no fragment
 * injection into them, §3.1). Like Linux, a counter that was not used in the
 * current millisecond first jumps by a random amount below the milliseconds
 * since its last use, so its owner cannot count how many datagrams shared
 * the bucket meanwhile; a busy flow still counts up by one per datagram,
 * keeping identifications unique for as long as RFC 6864 §4.2 needs them.
 *
 * Everything derives from a 16-byte secret: with a fixed secret the values
 * are reproducible (tests, simulations). Allocation-free: int32 arithmetic on
 * typed arrays, one SipHash per new (source, destination, protocol) in a row
 * and one per idle bucket's first use in a millisecond.
 *
 * @module
 */

import { sipHash24Int32, SIPHASH_KEY_BYTES } from "../wire/siphash.ts";

/** Counters in the table (Linux IP_IDENTS_SZ, 2048; a power of two). */
export const IP_ID_BUCKETS = 2048;
/** Selects a bucket from a hash. */
const BUCKET_MASK = IP_ID_BUCKETS - 1;
/** Identification is 16 bits (RFC 791 §3.1). */
const ID_MASK = 0xffff;
/** Tags the message that derives a bucket's first value, apart from perturbation messages. */
const INITIAL_VALUE_TAG = 0x4000_0000;
/** Stands in for a clock that went backwards or wrapped (int32 ms): any jump is fine then. */
const LONG_IDLE_MS = 0x7fff_ffff;

/** Options of an {@link IpIdGenerator}. */
export interface IpIdOptions {
  /** 16-byte key of the bucket hash and the perturbation (default: random). */
  secret?: Uint8Array;
  /** First value of every bucket (default: derived from the secret, per bucket). */
  initial?: number;
}

function writeBe32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = v >>> 16;
  b[i + 2] = v >>> 8;
  b[i + 3] = v;
}

/**
 * Hands out IPv4 identifications from hashed, randomly perturbed counters.
 * See the module documentation.
 *
 * @example
 * ```ts
 * import { IpIdGenerator } from "./ip_id.ts";
 * const ids = new IpIdGenerator({ secret: new Uint8Array(16) });
 * const a = ids.next(0, 0xc0000202 | 0, 0xc0000201 | 0, 17);
 * // The same flow in the same millisecond counts up by one.
 * console.assert(ids.next(0, 0xc0000202 | 0, 0xc0000201 | 0, 17) === ((a + 1) & 0xffff));
 * ```
 */
export class IpIdGenerator {
  readonly #secret: Uint8Array;
  /** Next identification per bucket (0..65535). */
  readonly #ids = new Int32Array(IP_ID_BUCKETS);
  /** Millisecond (int32) of each bucket's last use. */
  readonly #stamps = new Int32Array(IP_ID_BUCKETS);
  /** 1 once a bucket has been used. */
  readonly #used = new Uint8Array(IP_ID_BUCKETS);
  /** First value of every bucket, or -1 to derive one per bucket from the secret. */
  readonly #initial: number;
  /** Message buffer for the hash (made once). */
  readonly #message = new Uint8Array(16);
  #cachedSrc = 0;
  #cachedDst = 0;
  #cachedProtocol = -1;
  #cachedBucket = 0;

  /**
   * Creates the table.
   *
   * @param options secret and initial value
   * @throws {TypeError} when the secret is not 16 bytes
   */
  constructor(options: IpIdOptions = {}) {
    const secret = options.secret ?? crypto.getRandomValues(new Uint8Array(SIPHASH_KEY_BYTES));
    if (!(secret instanceof Uint8Array) || secret.length !== SIPHASH_KEY_BYTES) {
      throw new TypeError(`IPv4 identification secret must be ${SIPHASH_KEY_BYTES} bytes`);
    }
    this.#secret = secret.slice();
    this.#initial = options.initial === undefined ? -1 : options.initial & ID_MASK;
  }

  /**
   * The bucket of a (source, destination, protocol): RFC 7739 §5.3's
   * `F(src, dst, protocol, secret)`, the key of Linux `__ip_select_ident`.
   *
   * @param src source address (int32 or unsigned: only the bits count)
   * @param dst destination address
   * @param protocol IP protocol number
   * @returns 0 .. {@link IP_ID_BUCKETS} − 1
   */
  bucketOf(src: number, dst: number, protocol: number): number {
    if (src === this.#cachedSrc && dst === this.#cachedDst && protocol === this.#cachedProtocol) {
      return this.#cachedBucket;
    }
    const m = this.#message;
    writeBe32(m, 0, dst);
    writeBe32(m, 4, src);
    writeBe32(m, 8, protocol);
    const bucket = sipHash24Int32(this.#secret, m, 0, 12) & BUCKET_MASK;
    this.#cachedSrc = src;
    this.#cachedDst = dst;
    this.#cachedProtocol = protocol;
    this.#cachedBucket = bucket;
    return bucket;
  }

  /**
   * Reserves `count` consecutive identifications for datagrams from `src`
   * to `dst` (more than one for a TCP super-segment the link splits, each
   * segment taking the next).
   *
   * @param nowMs current time (ms; only whole milliseconds count)
   * @param src source address (int32 or unsigned)
   * @param dst destination address (int32 or unsigned)
   * @param protocol IP protocol number
   * @param count identifications to reserve (≥ 1)
   * @returns the first identification, 0..65535
   */
  next(nowMs: number, src: number, dst: number, protocol: number, count = 1): number {
    const bucket = this.bucketOf(src, dst, protocol);
    const now = Math.floor(nowMs) | 0;
    let id: number;
    if (this.#used[bucket] === 0) {
      this.#used[bucket] = 1;
      id = this.#initial >= 0 ? this.#initial : this.#hash(INITIAL_VALUE_TAG | bucket, 0, 0, 0);
    } else {
      id = this.#ids[bucket];
      const last = this.#stamps[bucket];
      let idle = (now - last) | 0;
      if (idle !== 0) {
        // Linux ip_idents_reserve: a bucket unused in this tick first moves on by a random
        // amount below the ticks since its last use (a bucket idle for 65 s: anywhere).
        if (idle < 0) idle = LONG_IDLE_MS;
        id += ((this.#hash(bucket, last, now, id) >>> 1) % idle) | 0;
      }
    }
    id &= ID_MASK;
    this.#stamps[bucket] = now;
    this.#ids[bucket] = (id + count) & ID_MASK;
    return id;
  }

  /** Keyed hash of four words (int32), as int32. */
  #hash(a: number, b: number, c: number, d: number): number {
    const m = this.#message;
    writeBe32(m, 0, a);
    writeBe32(m, 4, b);
    writeBe32(m, 8, c);
    writeBe32(m, 12, d);
    return sipHash24Int32(this.#secret, m, 0, 16);
  }
}
