/**
 * The typed failure of a DNS lookup.
 *
 * @module
 */

/**
 * Why a lookup failed.
 *
 * - `NXDOMAIN` — the name does not exist (RFC 1035 §4.1.1 RCODE 3)
 * - `SERVFAIL` — every server failed (RCODE 2, or another error RCODE, or a CNAME chain too long)
 * - `TIMEOUT` — no server answered within the configured attempts
 * - `MALFORMED` — answers could not be parsed (or were truncated with no TCP to ask again)
 * - `REFUSED` — the servers refused the query (RCODE 5)
 * - `UNREACHABLE` — no server could be reached (ICMP unreachable, no route, none configured)
 * - `BADNAME` — the name cannot be queried (empty label, label > 63, name > 255 octets)
 * - `CANCELLED` — the resolver was closed while the lookup was pending
 */
export type DnsErrorCode =
  | "NXDOMAIN"
  | "SERVFAIL"
  | "TIMEOUT"
  | "MALFORMED"
  | "REFUSED"
  | "UNREACHABLE"
  | "BADNAME"
  | "CANCELLED";

/**
 * A failed lookup: the code, the name and type asked for, and details.
 *
 * @example
 * ```ts
 * import { DnsError } from "./dns_error.ts";
 * const e = new DnsError("NXDOMAIN", "nope.test", "A", "name does not exist");
 * console.assert(e instanceof Error && e.code === "NXDOMAIN");
 * console.assert(e.message === "NXDOMAIN: nope.test A: name does not exist");
 * ```
 */
export class DnsError extends Error {
  /**
   * Creates the error.
   *
   * @param code why the lookup failed
   * @param hostname the name looked up
   * @param recordType `"A"` or `"AAAA"`
   * @param detail human-readable details
   */
  constructor(
    readonly code: DnsErrorCode,
    readonly hostname: string,
    readonly recordType: string,
    detail: string,
  ) {
    super(`${code}: ${hostname} ${recordType}: ${detail}`);
    this.name = "DnsError";
  }
}
