/**
 * Ephemeral port selection of a TCP layer: RFC 6335 §6's dynamic range and RFC 6056 §3.3.3
 * (Algorithm 3) with the TIME-WAIT takeover of Linux `__inet_hash_connect`. Owns the
 * `next_ephemeral` counter (one per layer, or one per process); which ports are taken is
 * the layer's table, asked through {@link EphemeralPortTable}.
 *
 * @module
 */

import type { TcpConnection } from "./connection.ts";
import { AddrInUse } from "./errors.ts";
import { hashFourTuple } from "./isn.ts";
import type { Tcp6Path } from "./tcp6.ts";
import { EPHEMERAL_PORT_FIRST, EPHEMERAL_PORT_LAST } from "../wire/port.ts";

/** RFC 6335 §6: the dynamic (ephemeral) port range (src/wire/port.ts). */
export { EPHEMERAL_PORT_FIRST, EPHEMERAL_PORT_LAST };

const EPHEMERAL_PORT_COUNT = EPHEMERAL_PORT_LAST - EPHEMERAL_PORT_FIRST + 1;
/** Extra word mixed into the RFC 6056 port offset hash (keeps it apart from ISNs and cookies). */
const PORT_OFFSET_HASH_EXTRA = 0x706f7274;
/**
 * RFC 6056 §3.3.3 `next_ephemeral` shared by the layers of this process that were not given
 * their own random source: a new stack continues where the last one stopped, so it does not
 * pick a 4-tuple that an earlier stack of the process used moments ago. -1: not yet seeded.
 */
let processNextEphemeral = -1;

/** What port selection asks of the layer's tables. */
export interface EphemeralPortTable {
  /** Whether `port` has a listener. */
  isListening(port: number): boolean;
  /**
   * The connection holding this 4-tuple, if any: over IPv4 with these addresses when `six`
   * is null, else over IPv6 with `six`'s addresses.
   */
  holder(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
    six: Tcp6Path | null,
  ): TcpConnection | undefined;
}

/**
 * The ephemeral ports of one layer.
 *
 * @example
 * ```ts
 * import { EPHEMERAL_PORT_FIRST, EphemeralPorts } from "./ephemeral_port.ts";
 * const ports = new EphemeralPorts(new Uint8Array(16), () => 0.5);
 * const table = { isListening: () => false, holder: () => undefined };
 * console.assert(ports.pick(0, 1, 2, 80, null, table) >= EPHEMERAL_PORT_FIRST);
 * ```
 */
export class EphemeralPorts {
  /** This layer's RFC 6056 next_ephemeral, or -1 to use the process-wide counter. */
  #nextEphemeral: number;
  readonly #secret: Uint8Array;

  /**
   * @param secret the layer's 16-byte secret (keys the port offset)
   * @param random seeds a counter of this layer's own; by default the process-wide one
   */
  constructor(secret: Uint8Array, random?: () => number) {
    this.#secret = secret;
    this.#nextEphemeral = random === undefined ? -1 : Math.floor(random() * EPHEMERAL_PORT_COUNT);
  }

  /**
   * RFC 6056 §3.3.3 (Algorithm 3, simple hash-based port selection): port = min +
   * (next_ephemeral + F(local address, remote address, remote port, secret)) mod count, with
   * next_ephemeral advancing on every try. Toward one destination, successive connections
   * walk the whole range before a port comes back, so a 4-tuple is not freshly reused; the
   * offset differs per destination, so ports stay unpredictable to others.
   *
   * A port whose 4-tuple is held by a TIME-WAIT connection is taken over if it may be (Linux
   * tcp_twsk_unique with tcp_tw_reuse, RFC 6191: timestamps in use and at least a second in
   * TIME-WAIT, so PAWS tells old duplicates apart).
   *
   * @param nowMs current time
   * @param localAddr local address (over IPv6 its tag)
   * @param remoteAddr remote address (over IPv6 its tag)
   * @param remotePort remote port
   * @param six over IPv6 a path holding both addresses, else null
   * @param table the layer's listeners and connections
   * @returns the port
   * @throws AddrInUse when no port is free
   */
  pick(
    nowMs: number,
    localAddr: number,
    remoteAddr: number,
    remotePort: number,
    six: Tcp6Path | null,
    table: EphemeralPortTable,
  ): number {
    const offset = hashFourTuple(
      this.#secret,
      localAddr,
      0,
      remoteAddr,
      remotePort,
      PORT_OFFSET_HASH_EXTRA,
    );
    const shared = this.#nextEphemeral < 0;
    if (shared && processNextEphemeral < 0) {
      processNextEphemeral = Math.floor(Math.random() * EPHEMERAL_PORT_COUNT);
    }
    let next = shared ? processNextEphemeral : this.#nextEphemeral;
    let port = -1;
    for (let i = 0; i < EPHEMERAL_PORT_COUNT; i++) {
      const candidate = EPHEMERAL_PORT_FIRST + ((next + offset) % EPHEMERAL_PORT_COUNT);
      next = (next + 1) % EPHEMERAL_PORT_COUNT;
      if (table.isListening(candidate)) continue;
      const holder = table.holder(localAddr, candidate, remoteAddr, remotePort, six);
      if (holder === undefined) {
        port = candidate;
        break;
      }
      if (holder.timeWaitReusable(nowMs)) {
        // As Linux __inet_hash_connect: the first port that is free or reusable wins, so a
        // range full of TIME-WAIT connections (a fast client) does not cost a full scan.
        // The old incarnation goes; the new one's ISN comes from the same monotonic clock.
        holder.abort();
        port = candidate;
        break;
      }
    }
    if (shared) processNextEphemeral = next;
    else this.#nextEphemeral = next;
    if (port >= 0) return port;
    throw new AddrInUse("no free ephemeral port");
  }
}
