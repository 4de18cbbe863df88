/**
 * {@link PendingPings}: the ping sessions {@link Stack.ping} waits on, settled
 * by the event loop after each iteration into {@link PingResult}s, and failed
 * with {@link StackClosedError} when the stack closes.
 *
 * @module
 */

import { formatIpv4 } from "../wire/address.ts";
import type { NetworkInterface } from "../iface/interface.ts";
import type { Ping6Session } from "../iface/icmpv6.ts";
import type { PingResult } from "./options.ts";
import { StackClosedError } from "./errors.ts";

/** An ICMP (IPv4) or ICMPv6 echo session of an interface. */
export type StackPingSession = ReturnType<NetworkInterface["ping"]> | Ping6Session;

interface PendingPing {
  host: string;
  session: StackPingSession;
  resolve: (r: PingResult) => void;
  reject: (e: unknown) => void;
}

/** The ping sessions awaited by the application, until done or the stack closes. */
export class PendingPings {
  readonly #pings = new Set<PendingPing>();

  /**
   * Waits for a session to finish (settled now if it already has).
   *
   * @param host the host as the application gave it
   * @param session the running session
   * @returns its replies and summary, like ping(8)'s output
   */
  wait(host: string, session: StackPingSession): Promise<PingResult> {
    return new Promise<PingResult>((resolve, reject) => {
      this.#pings.add({ host, session, resolve, reject });
      this.settle();
    });
  }

  /** Resolves every session that is done (cheap when none is pending: the loop calls it each iteration). */
  settle(): void {
    if (this.#pings.size === 0) return;
    for (const p of this.#pings) {
      if (!p.session.done) continue;
      this.#pings.delete(p);
      const engine = p.session.engine;
      const dst = p.session.dst;
      p.resolve({
        host: p.host,
        address: typeof dst === "number" ? formatIpv4(dst) : dst.toString(),
        size: engine.size,
        replies: engine.replies.slice(),
        summary: engine.summary(),
      });
    }
  }

  /** Closes every pending session and rejects its waiter with {@link StackClosedError}. */
  closeAll(): void {
    for (const p of [...this.#pings]) {
      this.#pings.delete(p);
      p.session.close();
      p.reject(new StackClosedError(`ping ${p.host}`));
    }
  }
}
