/**
 * Name and record-type helpers shared by the resolver, its cache and the
 * hosts table.
 *
 * @module
 */

import { DNS_TYPE_A, DNS_TYPE_AAAA } from "../wire/dns.ts";

/** The record types a lookup can ask for. */
export type DnsRecordType = "A" | "AAAA";

/**
 * The canonical form of a name for comparison and as a cache key: ASCII
 * lower case (RFC 4343 §3: DNS names compare case-insensitively) without the
 * trailing root dot.
 *
 * @param name e.g. `"Host.Test."`
 * @returns e.g. `"host.test"`
 *
 * @example
 * ```ts
 * import { normalizeDnsName } from "./name.ts";
 * console.assert(normalizeDnsName("Host.TEST.") === "host.test");
 * ```
 */
export function normalizeDnsName(name: string): string {
  // Only A–Z fold (RFC 4343 §3); toLowerCase would also fold non-ASCII.
  const lower = name.replace(/[A-Z]+/g, (s) => s.toLowerCase());
  return lower.length > 1 && lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/**
 * The QTYPE number of a record type (RFC 1035 §3.2.2, RFC 3596 §2.1).
 *
 * @param type `"A"` or `"AAAA"`
 * @returns 1 or 28
 *
 * @example
 * ```ts
 * import { recordTypeCode } from "./name.ts";
 * console.assert(recordTypeCode("AAAA") === 28);
 * ```
 */
export function recordTypeCode(type: DnsRecordType): number {
  return type === "A" ? DNS_TYPE_A : DNS_TYPE_AAAA;
}
