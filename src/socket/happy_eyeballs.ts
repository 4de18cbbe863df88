/**
 * Happy Eyeballs version 2 (RFC 8305) for `stack.connect({ hostname })`
 * when the stack has both families: AAAA and A queries go out together
 * (AAAA first, §3); a positive AAAA answer starts connecting at once, an A
 * answer that comes first waits the Resolution Delay (50 ms, §3) for the
 * AAAA one; addresses are tried alternating families starting with IPv6
 * (§4, "First Address Family Count" 1); a new attempt starts every
 * Connection Attempt Delay (250 ms, §5) or as soon as one fails; the first
 * connection established wins and the others are closed (§5). Answers that
 * arrive after connecting started join the list (§3: "added to the list of
 * candidate addresses").
 *
 * All waiting is on the stack's clock (`host.sleep`), so a `ManualClock`
 * drives it deterministically.
 *
 * @module
 */

/** RFC 8305 §3: how long an A answer waits for the AAAA one (ms). */
export const RESOLUTION_DELAY_MS = 50;
/** RFC 8305 §5: time between the starts of successive connection attempts (ms). */
export const CONNECTION_ATTEMPT_DELAY_MS = 250;

/** A connection attempt as Happy Eyeballs drives it (a `TcpConn` fits). */
export interface EyeballsConn {
  /** Settles when the handshake completed, rejects when it failed. */
  established(): Promise<void>;
  /** Closes (aborts an unfinished attempt). */
  close(): void;
}

/** A cancellable wait on the stack's clock. */
export interface EyeballsTimer {
  /** Resolves when the time came (never when cancelled). */
  readonly promise: Promise<void>;
  /** Stops the wait. */
  cancel(): void;
}

/** What {@link happyEyeballs} needs from the stack. */
export interface HappyEyeballsHost<C extends EyeballsConn> {
  /** A DNS lookup (`resolveDns`): addresses as text. */
  resolve(name: string, type: "A" | "AAAA"): Promise<string[]>;
  /** The stack's time (ms). */
  nowMs(): number;
  /** Waits until `deadlineMs` on the stack's clock. */
  sleep(deadlineMs: number): EyeballsTimer;
  /** Starts a connection to an address literal; throws when it cannot start. */
  attempt(address: string): C;
}

/**
 * Connects to `name` by RFC 8305 (see the module docs).
 *
 * @param host the stack side
 * @param name the host name
 * @param families which families the stack has
 * @returns the first established connection
 * @throws the last attempt's error when every address failed, or the DNS error when
 *   the name has no address of a family the stack has
 *
 * @example
 * ```ts
 * import { happyEyeballs } from "./happy_eyeballs.ts";
 * const tried: string[] = [];
 * const conn = await happyEyeballs({
 *   resolve: (_n, type) => Promise.resolve(type === "AAAA" ? ["2001:db8::1"] : ["192.0.2.1"]),
 *   nowMs: () => 0,
 *   sleep: () => ({ promise: new Promise(() => {}), cancel() {} }),
 *   attempt: (a) => (tried.push(a), { established: () => Promise.resolve(), close() {} }),
 * }, "example.test", { ipv4: true, ipv6: true });
 * console.assert(conn !== null && tried[0] === "2001:db8::1");
 * ```
 */
export function happyEyeballs<C extends EyeballsConn>(
  host: HappyEyeballsHost<C>,
  name: string,
  families: { ipv4: boolean; ipv6: boolean },
): Promise<C> {
  return new Promise<C>((resolve, reject) => {
    const v6: string[] = [];
    const v4: string[] = [];
    let aaaaDone = !families.ipv6;
    let aDone = !families.ipv4;
    let dnsError: unknown = null;
    let lastError: unknown = null;
    let started = false;
    let settled = false;
    let waitingForAddress = false;
    let preferV6 = true;
    let attemptTimer: EyeballsTimer | null = null;
    let resolutionTimer: EyeballsTimer | null = null;
    let resolutionDelayOver = false;
    const live = new Set<C>();

    const cleanup = (): void => {
      attemptTimer?.cancel();
      resolutionTimer?.cancel();
      attemptTimer = null;
      resolutionTimer = null;
    };
    const fail = (error: unknown): void => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(error);
    };
    /** §4: alternate families, IPv6 first. */
    const nextAddress = (): string | null => {
      if (preferV6 && v6.length > 0) {
        preferV6 = false;
        return v6.shift()!;
      }
      if (v4.length > 0) {
        preferV6 = true;
        return v4.shift()!;
      }
      return v6.shift() ?? null;
    };
    const checkExhausted = (): void => {
      if (settled || live.size > 0 || v6.length + v4.length > 0 || !aaaaDone || !aDone) return;
      fail(lastError ?? dnsError ?? new Error(`${name}: no address to connect to`));
    };
    const startNext = (): void => {
      if (settled) return;
      attemptTimer?.cancel();
      attemptTimer = null;
      const address = nextAddress();
      if (address === null) {
        waitingForAddress = true;
        checkExhausted();
        return;
      }
      waitingForAddress = false;
      let conn: C;
      try {
        conn = host.attempt(address);
      } catch (e) {
        lastError = e;
        startNext();
        return;
      }
      live.add(conn);
      conn.established().then(
        () => {
          live.delete(conn);
          if (settled) {
            conn.close();
            return;
          }
          settled = true;
          cleanup();
          for (const other of live) other.close();
          live.clear();
          resolve(conn);
        },
        (e) => {
          live.delete(conn);
          conn.close();
          lastError = e;
          // §5: a failed attempt does not wait for the delay: the next one starts now.
          if (!settled) startNext();
        },
      );
      const timer = host.sleep(host.nowMs() + CONNECTION_ATTEMPT_DELAY_MS);
      attemptTimer = timer;
      timer.promise.then(() => {
        if (attemptTimer === timer) startNext();
      });
    };
    const onAnswer = (): void => {
      if (settled) return;
      if (!started) {
        // §3: a positive AAAA answer starts at once; a positive A answer waits for AAAA
        // (or the Resolution Delay).
        const go = v6.length > 0 || (v4.length > 0 && (aaaaDone || resolutionDelayOver));
        if (go) {
          started = true;
          resolutionTimer?.cancel();
          resolutionTimer = null;
          startNext();
        } else if (v4.length > 0 && resolutionTimer === null) {
          const timer = host.sleep(host.nowMs() + RESOLUTION_DELAY_MS);
          resolutionTimer = timer;
          timer.promise.then(() => {
            resolutionDelayOver = true;
            onAnswer();
          });
        } else {
          checkExhausted();
        }
        return;
      }
      if (waitingForAddress) startNext();
      else checkExhausted();
    };
    if (families.ipv6) {
      host.resolve(name, "AAAA").then(
        (list) => {
          v6.push(...list.filter((a) => a.includes(":")));
          aaaaDone = true;
          onAnswer();
        },
        (e) => {
          dnsError = e;
          aaaaDone = true;
          onAnswer();
        },
      );
    }
    if (families.ipv4) {
      host.resolve(name, "A").then(
        (list) => {
          v4.push(...list.filter((a) => !a.includes(":")));
          aDone = true;
          onAnswer();
        },
        (e) => {
          dnsError ??= e;
          aDone = true;
          onAnswer();
        },
      );
    }
  });
}
