/**
 * Interface configuration: MAC, IPv4 address and prefix, MTU, default
 * gateway and static routes, validated once into plain numbers for the hot
 * path. Bad configuration throws a `TypeError` that says what to fix.
 *
 * @module
 */

import { formatIpv4, Ipv4Address, Ipv4Cidr, MacAddress } from "../wire/address.ts";
import { RouteTable } from "./routes.ts";

/** Ethernet MTU used when none is given. */
export const DEFAULT_MTU = 1500;
/** RFC 791 §3.1: every internet module must be able to forward a 68-octet datagram. */
export const MIN_IPV4_MTU = 68;
/** Largest IPv4 datagram (16-bit total length, RFC 791 §3.1). */
export const MAX_IPV4_DATAGRAM = 65535;
/** Default TTL for datagrams we originate (Linux `ip_default_ttl`, RFC 1700 recommends 64). */
export const DEFAULT_TTL = 64;
/** Largest 802.1Q VLAN identifier (0 and 4095 are reserved, IEEE 802.1Q §9.6). */
export const MAX_VLAN_ID = 4094;

/** A static route as given by the user. */
export interface StaticRouteOptions {
  /** Destination network, e.g. `"198.51.100.0/24"`. */
  destination: Ipv4Cidr | string;
  /** Next-hop router on our link; omit for an on-link route. */
  gateway?: Ipv4Address | string | null;
}

/** User-facing interface configuration. */
export interface InterfaceConfigOptions {
  /** Our Ethernet address (unicast). Usually the device's MAC. */
  mac: MacAddress | string | number;
  /**
   * Our IPv4 address with prefix, e.g. `"192.0.2.2/24"`; null or absent: no
   * address (a DHCP client before its lease, or an IPv6-only interface):
   * address 0, no routes, only the limited broadcast reaches us.
   */
  ipv4?: Ipv4Cidr | string | null;
  /** IPv4 MTU in bytes (68..65535); default 1500. */
  mtu?: number;
  /** Default gateway; must lie inside `ipv4`'s network. */
  gateway?: Ipv4Address | string | null;
  /** Extra static routes; their gateways must be on-link. */
  routes?: StaticRouteOptions[];
  /** TTL of datagrams we originate, 1..255; default 64. */
  ttl?: number;
  /** Accept and send frames tagged with this 802.1Q VLAN id (1..4094); default untagged only. */
  vlanId?: number | null;
}

/**
 * Validated configuration, addresses as numbers: signed 32-bit integers
 * (`x | 0`, see src/wire/address.ts; format with `formatIpv4`).
 */
export interface InterfaceConfig {
  /** Our MAC as a 48-bit number. */
  mac: number;
  /** Our IPv4 address. */
  address: number;
  /** Prefix length 0..32. */
  prefixLength: number;
  /** Netmask. */
  mask: number;
  /** Network address (host bits clear). */
  network: number;
  /** Directed broadcast address (RFC 919 / RFC 922), or 0 for /31 and /32 which have none. */
  directedBroadcast: number;
  /** IPv4 MTU. */
  mtu: number;
  /** Default gateway, or 0 when none. */
  gateway: number;
  /** TTL for originated datagrams. */
  ttl: number;
  /** VLAN id to accept/send, or 0 for untagged only. */
  vlanId: number;
  /** Routes: the connected network, the default route and the static routes. */
  routes: RouteTable;
}

function toMac(value: unknown): number {
  let mac: MacAddress;
  if (value instanceof MacAddress) mac = value;
  else if (typeof value === "string") mac = MacAddress.parse(value);
  else if (typeof value === "number" && Number.isInteger(value) && value >= 0) {
    if (value > 0xffff_ffff_ffff) throw new TypeError(`interface MAC ${value} exceeds 48 bits`);
    mac = new MacAddress(value);
  } else {
    throw new TypeError(
      `interface "mac" must be a MacAddress, "02:00:00:00:00:01" string or number`,
    );
  }
  if (!mac.isUnicast()) {
    throw new TypeError(`interface MAC ${mac} must be a unicast address (not multicast, not zero)`);
  }
  return mac.value;
}

function toCidr(value: unknown): Ipv4Cidr {
  if (value instanceof Ipv4Cidr) return value;
  if (typeof value === "string") return Ipv4Cidr.parse(value);
  throw new TypeError(`interface "ipv4" must be an Ipv4Cidr or a string like "192.0.2.2/24"`);
}

function toAddress(value: unknown, what: string): number {
  if (value instanceof Ipv4Address) return value.value;
  if (typeof value === "string") return Ipv4Address.parse(value).value;
  if (typeof value === "number") return new Ipv4Address(value).value;
  throw new TypeError(`${what} must be an Ipv4Address or a string like "192.0.2.1"`);
}

function toIntegerIn(value: unknown, min: number, max: number, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`${what} must be an integer ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

function isUsableHost(address: number): boolean {
  const first = address >>> 24;
  // RFC 1122 §3.2.1.3: 0/8, 127/8, class D/E and the limited broadcast are not host addresses.
  return first !== 0 && first !== 127 && first < 224;
}

/**
 * Validates user configuration into {@link InterfaceConfig}.
 *
 * @param options the configuration
 * @returns the validated configuration with a route table holding the
 *   connected route, the default route (when a gateway is given) and the
 *   static routes
 * @throws {TypeError} naming the bad field and what is expected
 *
 * @example
 * ```ts
 * import { resolveInterfaceConfig } from "./config.ts";
 * import { parseIpv4 } from "../wire/address.ts";
 * const c = resolveInterfaceConfig({
 *   mac: "02:00:00:00:00:02", ipv4: "192.0.2.2/24", gateway: "192.0.2.1",
 * });
 * console.assert(c.mtu === 1500 && c.directedBroadcast === parseIpv4("192.0.2.255"));
 * console.assert(c.routes.nextHop(parseIpv4("203.0.113.9")!) === parseIpv4("192.0.2.1"));
 * let threw = false;
 * try { resolveInterfaceConfig({ mac: "02:00:00:00:00:02", ipv4: "192.0.2.2/24", gateway: "198.51.100.1" }); }
 * catch (e) { threw = e instanceof TypeError; }
 * console.assert(threw);
 * ```
 */
export function resolveInterfaceConfig(options: InterfaceConfigOptions): InterfaceConfig {
  if (options === null || typeof options !== "object") {
    throw new TypeError("interface configuration must be an object with at least mac and ipv4");
  }
  const mac = toMac(options.mac);
  if (options.ipv4 === undefined || options.ipv4 === null) return unconfigured(mac, options);
  const cidr = toCidr(options.ipv4);
  const address = cidr.address.value;
  if (!isUsableHost(address)) {
    throw new TypeError(`interface address ${cidr.address} is not a usable unicast host address`);
  }
  const mask = cidr.mask;
  const network = address & mask;
  let directedBroadcast = 0;
  if (cidr.prefixLength <= 30) {
    directedBroadcast = address | ~mask;
    // RFC 1122 §3.2.1.3: host part all zeros or all ones is not a host address.
    if (address === network || address === directedBroadcast) {
      throw new TypeError(
        `interface address ${cidr} is the network or broadcast address of its prefix`,
      );
    }
  }
  const mtu = options.mtu === undefined
    ? DEFAULT_MTU
    : toIntegerIn(options.mtu, MIN_IPV4_MTU, MAX_IPV4_DATAGRAM, `interface "mtu"`);
  const ttl = options.ttl === undefined ? DEFAULT_TTL : toIntegerIn(options.ttl, 1, 255, `"ttl"`);
  const vlanId = options.vlanId === undefined || options.vlanId === null
    ? 0
    : toIntegerIn(options.vlanId, 1, MAX_VLAN_ID, `"vlanId"`);

  const onLink = (gw: number) => ((gw ^ address) & mask) === 0;
  const routes = new RouteTable();
  routes.add(new Ipv4Cidr(new Ipv4Address(network), cidr.prefixLength));
  let gateway = 0;
  if (options.gateway !== undefined && options.gateway !== null) {
    gateway = toAddress(options.gateway, `interface "gateway"`);
    if (!onLink(gateway) || gateway === address || gateway === directedBroadcast) {
      throw new TypeError(
        `gateway ${formatIpv4(gateway)} must be another host inside ${
          formatIpv4(network)
        }/${cidr.prefixLength}`,
      );
    }
    routes.add("0.0.0.0/0", gateway);
  }
  if (options.routes !== undefined) {
    if (!Array.isArray(options.routes)) throw new TypeError(`"routes" must be an array`);
    for (const route of options.routes) {
      if (route === null || typeof route !== "object") {
        throw new TypeError(`each route must be { destination, gateway? }`);
      }
      const dest = toCidr(route.destination);
      if (route.gateway === undefined || route.gateway === null) {
        routes.add(dest);
        continue;
      }
      const gw = toAddress(route.gateway, `gateway of route ${dest}`);
      if (!onLink(gw)) {
        throw new TypeError(
          `gateway ${formatIpv4(gw)} of route ${dest} is not on-link (outside ${cidr})`,
        );
      }
      routes.add(dest, gw);
    }
  }
  return {
    mac,
    address,
    prefixLength: cidr.prefixLength,
    mask,
    network,
    directedBroadcast,
    mtu,
    gateway,
    ttl,
    vlanId,
    routes,
  };
}

/** The configuration of an interface without an IPv4 address (see `InterfaceConfigOptions.ipv4`). */
function unconfigured(mac: number, options: InterfaceConfigOptions): InterfaceConfig {
  if (options.gateway !== undefined && options.gateway !== null) {
    throw new TypeError("a gateway needs an address (ipv4) to be on-link with");
  }
  if (options.routes !== undefined && options.routes.length > 0) {
    throw new TypeError("static routes need an address (ipv4) for their gateways to be on-link");
  }
  return {
    mac,
    address: 0,
    prefixLength: 0,
    mask: 0,
    network: 0,
    directedBroadcast: 0,
    mtu: options.mtu === undefined
      ? DEFAULT_MTU
      : toIntegerIn(options.mtu, MIN_IPV4_MTU, MAX_IPV4_DATAGRAM, `interface "mtu"`),
    gateway: 0,
    ttl: options.ttl === undefined ? DEFAULT_TTL : toIntegerIn(options.ttl, 1, 255, `"ttl"`),
    vlanId: options.vlanId === undefined || options.vlanId === null
      ? 0
      : toIntegerIn(options.vlanId, 1, MAX_VLAN_ID, `"vlanId"`),
    routes: new RouteTable(),
  };
}
