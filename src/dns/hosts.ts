/**
 * A static hosts table (name → addresses), consulted before DNS, in the
 * spirit of `/etc/hosts` (RFC 952 host table; the format of hosts(5)).
 *
 * @module
 */

import { canonicalIpLiteral } from "./ip_literal.ts";
import { type DnsRecordType, normalizeDnsName } from "./name.ts";

interface HostEntry {
  v4: string[];
  v6: string[];
}

/**
 * Static name → address mappings. Names match case-insensitively; a name
 * may map to several IPv4 and IPv6 addresses.
 *
 * @example
 * ```ts
 * import { HostsTable } from "./hosts.ts";
 * const hosts = HostsTable.parse("192.0.2.10 gw.test gw  # the router\n2001:db8::1 gw.test");
 * console.assert(hosts.lookup("GW", "A")![0] === "192.0.2.10");
 * console.assert(hosts.lookup("gw.test", "AAAA")![0] === "2001:db8::1");
 * console.assert(hosts.lookup("other.test", "A") === null);
 * ```
 */
export class HostsTable {
  #entries = new Map<string, HostEntry>();

  /**
   * Parses hosts(5) text: `address name [aliases...]` per line, `#` starts a
   * comment. Lines whose address is not a numeric literal are skipped.
   *
   * @param text the file contents
   * @returns a new table
   */
  static parse(text: string): HostsTable {
    const table = new HostsTable();
    for (const rawLine of text.split("\n")) {
      const line = rawLine.replace(/#.*/, "").trim();
      if (line === "") continue;
      const [address, ...names] = line.split(/\s+/);
      if (canonicalIpLiteral(address) === null) continue;
      for (const name of names) table.add(name, address);
    }
    return table;
  }

  /** Number of names in the table. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Adds an address for a name (duplicates are ignored).
   *
   * @param name the host name
   * @param address an IPv4 or IPv6 literal
   * @throws {TypeError} when `address` is not a numeric literal or `name` is empty
   */
  add(name: string, address: string): void {
    const canonical = canonicalIpLiteral(address);
    if (canonical === null) throw new TypeError(`not an IP address: ${JSON.stringify(address)}`);
    const key = normalizeDnsName(name);
    if (key === "" || key === ".") throw new TypeError("host name must not be empty");
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { v4: [], v6: [] };
      this.#entries.set(key, entry);
    }
    const list = canonical.includes(":") ? entry.v6 : entry.v4;
    if (!list.includes(canonical)) list.push(canonical);
  }

  /**
   * Removes a name.
   *
   * @param name the host name
   * @returns true when it was present
   */
  delete(name: string): boolean {
    return this.#entries.delete(normalizeDnsName(name));
  }

  /**
   * The addresses of one family for a name.
   *
   * @param name the host name
   * @param type `"A"` (IPv4) or `"AAAA"` (IPv6)
   * @returns a copy of the addresses, or null when the table has none of that family
   */
  lookup(name: string, type: DnsRecordType): string[] | null {
    const entry = this.#entries.get(normalizeDnsName(name));
    if (entry === undefined) return null;
    const list = type === "A" ? entry.v4 : entry.v6;
    return list.length === 0 ? null : list.slice();
  }
}
