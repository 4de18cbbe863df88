/**
 * The IPv4 route table: longest-prefix match over a handful of routes
 * (RFC 1812 §5.2.4.3). A route either says the destination is on-link
 * (resolve it directly with ARP) or names a gateway to send through.
 *
 * Addresses travel as signed 32-bit integers (`x | 0`, see
 * src/wire/address.ts), so V8 keeps them as small integers; matching is
 * `(dst & mask) === network`, which needs no unsigned conversion.
 * {@link RouteTable.lookup} and {@link RouteTable.nextHop} do not allocate.
 * Methods taking a numeric address also accept its unsigned form.
 *
 * @module
 */

import { formatIpv4, IPV4_LIMITED_BROADCAST, Ipv4Address, Ipv4Cidr } from "../wire/address.ts";

/** Gateway value meaning "no gateway: the destination is on the link". */
export const ON_LINK = 0;
/**
 * {@link RouteTable.lookup} / {@link RouteTable.nextHop} result when no route
 * matches. It is also the int32 form of 255.255.255.255, which is never a
 * gateway and is never routed (RFC 919 §7: the limited broadcast stays on the
 * local link): callers handle the limited broadcast before asking for a route.
 */
export const NO_ROUTE = -1;
/** Upper bound on static routes, so a misconfiguration cannot grow the table without limit. */
export const MAX_ROUTES = 1024;

/** One route as listed by {@link RouteTable.list}. */
export interface RouteEntry {
  /** The destination network (host bits cleared). */
  destination: Ipv4Cidr;
  /** The next-hop router, or null for an on-link (connected) route. */
  gateway: Ipv4Address | null;
}

/**
 * A route table with longest-prefix-match lookup.
 *
 * Routes are kept sorted by prefix length, longest first, so the first match
 * of a linear scan is the longest prefix (tables here hold a few routes).
 *
 * @example
 * ```ts
 * import { RouteTable } from "./routes.ts";
 * import { parseIpv4 } from "../wire/address.ts";
 * const t = new RouteTable();
 * t.add("192.0.2.0/24");                      // connected, on-link
 * t.add("0.0.0.0/0", "192.0.2.1");            // default route
 * t.add("198.51.100.0/24", "192.0.2.254");
 * console.assert(t.nextHop(parseIpv4("192.0.2.9")!) === parseIpv4("192.0.2.9"));
 * console.assert(t.nextHop(parseIpv4("198.51.100.7")!) === parseIpv4("192.0.2.254"));
 * console.assert(t.nextHop(parseIpv4("203.0.113.5")!) === parseIpv4("192.0.2.1"));
 * console.assert(t.nextHop(0xcb007105) === parseIpv4("192.0.2.1")); // unsigned form accepted
 * ```
 */
export class RouteTable {
  #networks: number[] = [];
  #masks: number[] = [];
  #prefixes: number[] = [];
  #gateways: number[] = [];

  /** Number of routes. */
  get size(): number {
    return this.#networks.length;
  }

  /**
   * Adds (or replaces) the route to `destination`.
   *
   * @param destination a CIDR such as `"198.51.100.0/24"` (host bits are cleared)
   * @param gateway the next-hop router (a number may be int32 or unsigned); omit, null or 0
   *   for an on-link route
   * @throws {TypeError} on a malformed destination or gateway, or a gateway of 255.255.255.255
   * @throws {RangeError} when the table already holds {@link MAX_ROUTES} routes
   */
  add(
    destination: Ipv4Cidr | string,
    gateway: Ipv4Address | string | number | null = null,
  ): void {
    const cidr = typeof destination === "string" ? Ipv4Cidr.parse(destination) : destination;
    if (!(cidr instanceof Ipv4Cidr)) {
      throw new TypeError(`route destination must be an Ipv4Cidr or "a.b.c.d/n" string`);
    }
    const gw = gatewayValue(gateway);
    const mask = cidr.mask;
    const network = cidr.address.value & mask;
    const existing = this.#indexOf(network, cidr.prefixLength);
    if (existing >= 0) {
      this.#gateways[existing] = gw;
      return;
    }
    if (this.#networks.length >= MAX_ROUTES) {
      throw new RangeError(`route table is full (${MAX_ROUTES} routes)`);
    }
    let at = 0;
    while (at < this.#prefixes.length && this.#prefixes[at] >= cidr.prefixLength) at++;
    this.#networks.splice(at, 0, network);
    this.#masks.splice(at, 0, mask);
    this.#prefixes.splice(at, 0, cidr.prefixLength);
    this.#gateways.splice(at, 0, gw);
  }

  /**
   * Removes the route to exactly `destination`.
   *
   * @param destination the CIDR given to {@link add}
   * @returns true when a route was removed
   */
  remove(destination: Ipv4Cidr | string): boolean {
    const cidr = typeof destination === "string" ? Ipv4Cidr.parse(destination) : destination;
    const at = this.#indexOf(cidr.address.value & cidr.mask, cidr.prefixLength);
    if (at < 0) return false;
    this.#networks.splice(at, 1);
    this.#masks.splice(at, 1);
    this.#prefixes.splice(at, 1);
    this.#gateways.splice(at, 1);
    return true;
  }

  /**
   * Longest-prefix match (RFC 1812 §5.2.4.3).
   *
   * @param dst destination address (int32, or its unsigned form)
   * @returns the index of the matching route, or {@link NO_ROUTE}
   */
  lookup(dst: number): number {
    const networks = this.#networks;
    const masks = this.#masks;
    for (let i = 0; i < networks.length; i++) {
      // Both sides int32: `&` yields int32 and networks are stored as int32.
      if ((dst & masks[i]) === networks[i]) return i;
    }
    return NO_ROUTE;
  }

  /**
   * The address to resolve with ARP for `dst`: `dst` itself when the route is
   * on-link, else the route's gateway.
   *
   * @param dst destination address (int32, or its unsigned form); not the
   *   limited broadcast, which is never routed (see {@link NO_ROUTE})
   * @returns the next hop (int32), or {@link NO_ROUTE} when no route matches
   */
  nextHop(dst: number): number {
    const i = this.lookup(dst);
    if (i === NO_ROUTE) return NO_ROUTE;
    const gw = this.#gateways[i];
    return gw === ON_LINK ? dst | 0 : gw;
  }

  /**
   * Whether `dst` is reached directly rather than through a gateway.
   *
   * @param dst destination address
   * @returns true when the best route to `dst` is on-link (no gateway)
   */
  isOnLink(dst: number): boolean {
    const i = this.lookup(dst);
    return i !== NO_ROUTE && this.#gateways[i] === ON_LINK;
  }

  /**
   * Whether `ip` is the gateway of some route (the ARP cache never evicts one).
   *
   * @param ip an address (int32, or its unsigned form)
   * @returns true when a route goes through `ip`
   */
  isGateway(ip: number): boolean {
    const v = ip | 0;
    if (v === ON_LINK) return false;
    return this.#gateways.includes(v);
  }

  /**
   * The routes as objects.
   *
   * @returns the routes, longest prefix first (allocates; for CLIs and tests)
   */
  list(): RouteEntry[] {
    const out: RouteEntry[] = [];
    for (let i = 0; i < this.#networks.length; i++) {
      out.push({
        destination: new Ipv4Cidr(new Ipv4Address(this.#networks[i]), this.#prefixes[i]),
        gateway: this.#gateways[i] === ON_LINK ? null : new Ipv4Address(this.#gateways[i]),
      });
    }
    return out;
  }

  /**
   * Formats the table.
   *
   * @returns one `"net/len via gw"` or `"net/len on-link"` line per route
   */
  toString(): string {
    return this.list().map((r) =>
      `${r.destination} ${r.gateway === null ? "on-link" : `via ${r.gateway}`}`
    ).join("\n");
  }

  #indexOf(network: number, prefixLength: number): number {
    for (let i = 0; i < this.#networks.length; i++) {
      if (this.#networks[i] === network && this.#prefixes[i] === prefixLength) return i;
    }
    return -1;
  }
}

function gatewayValue(gateway: Ipv4Address | string | number | null): number {
  if (gateway === null || gateway === undefined) return ON_LINK;
  let value: number;
  if (typeof gateway === "string") value = Ipv4Address.parse(gateway).value;
  else if (typeof gateway === "number") value = new Ipv4Address(gateway).value;
  else if (gateway instanceof Ipv4Address) value = gateway.value;
  else throw new TypeError(`route gateway must be an Ipv4Address, "a.b.c.d" string or number`);
  if (value === IPV4_LIMITED_BROADCAST) {
    throw new TypeError(`route gateway cannot be the broadcast address ${formatIpv4(value)}`);
  }
  return value;
}
