/**
 * Numeric address literals: recognising `"192.0.2.1"` and `"2001:db8::1"`
 * so that a lookup of a literal returns it without asking DNS.
 *
 * @module
 */

import { formatIpv4, parseIpv4 } from "../wire/address.ts";
import { formatIpv6 } from "../wire/dns.ts";

const IPV6_BYTES = 16;
const IPV6_GROUPS = 8;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * Parses an IPv6 address in RFC 4291 §2.2 text form (hex groups, one `::`,
 * an optional trailing dotted IPv4 part).
 *
 * @param text e.g. `"2001:db8::1"` or `"::ffff:192.0.2.1"`
 * @returns the 16 address bytes, or null when `text` is not an IPv6 address
 *
 * @example
 * ```ts
 * import { parseIpv6 } from "./ip_literal.ts";
 * const a = parseIpv6("2001:db8::1")!;
 * console.assert(a[0] === 0x20 && a[1] === 0x01 && a[15] === 1);
 * console.assert(parseIpv6("2001:db8:::1") === null);
 * ```
 */
export function parseIpv6(text: string): Uint8Array | null {
  if (text.length === 0 || text.length > 45) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups: number[] = [];
  const tail: number[] = [];
  const parsePart = (part: string, out: number[], allowV4: boolean): boolean => {
    if (part === "") return true;
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (allowV4 && i === items.length - 1 && item.includes(".")) {
        const v4 = parseIpv4(item);
        if (v4 === null) return false;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (HEX_GROUP.test(item)) {
        out.push(parseInt(item, 16));
      } else {
        return false;
      }
    }
    return true;
  };
  if (halves.length === 1) {
    if (!parsePart(halves[0], groups, true) || groups.length !== IPV6_GROUPS) return null;
  } else {
    if (!parsePart(halves[0], groups, false) || !parsePart(halves[1], tail, true)) return null;
    // RFC 4291 §2.2 (2): "::" stands for one or more groups of zeros.
    if (groups.length + tail.length > IPV6_GROUPS - 1) return null;
    while (groups.length + tail.length < IPV6_GROUPS) groups.push(0);
    groups.push(...tail);
  }
  const bytes = new Uint8Array(IPV6_BYTES);
  for (let g = 0; g < IPV6_GROUPS; g++) {
    bytes[2 * g] = groups[g] >>> 8;
    bytes[2 * g + 1] = groups[g] & 0xff;
  }
  return bytes;
}

/**
 * Recognises a numeric IPv4 or IPv6 literal and returns its canonical text
 * (dotted quad; RFC 5952 for IPv6). An IPv6 literal may be in brackets.
 *
 * @param text a host name or an address
 * @returns the canonical address text, or null when `text` is not a literal
 *
 * @example
 * ```ts
 * import { canonicalIpLiteral } from "./ip_literal.ts";
 * console.assert(canonicalIpLiteral("192.0.2.1") === "192.0.2.1");
 * console.assert(canonicalIpLiteral("[2001:DB8:0:0::1]") === "2001:db8::1");
 * console.assert(canonicalIpLiteral("host.test") === null);
 * ```
 */
export function canonicalIpLiteral(text: string): string | null {
  const v4 = parseIpv4(text);
  if (v4 !== null) return formatIpv4(v4);
  const inner = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const v6 = parseIpv6(inner);
  return v6 === null ? null : formatIpv6(v6, 0);
}
