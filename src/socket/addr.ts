/**
 * Deno-like network address types for the socket API: a {@link NetAddr} is
 * `{ transport, hostname, port }` exactly as `Deno.NetAddr`, so code written
 * against Deno's sockets reads the same against rawstack's. Helpers convert
 * between these objects and the numeric addresses the engines use. Numeric
 * IPv4 addresses are signed 32-bit integers so V8 keeps them as small
 * integers (192.0.2.1 is `0xc0000201 | 0`); format with `formatIpv4`.
 * Host names and {@link NetAddr} strings are unchanged.
 *
 * @module
 */

import { formatIpv4 } from "../wire/address.ts";

/** The transport of a {@link NetAddr}. */
export type Transport = "tcp" | "udp";

/** A transport address, shaped like `Deno.NetAddr`. */
export interface NetAddr {
  /** `"tcp"` or `"udp"`. */
  transport: Transport;
  /** Dotted-quad IPv4 address (or, where the API accepts it, a host name). */
  hostname: string;
  /** Port 0..65535. */
  port: number;
}

import { PORT_MAX } from "../wire/port.ts";

/** Largest port number (src/wire/port.ts). */
export { PORT_MAX };

/**
 * Builds a {@link NetAddr} from a numeric IPv4 address.
 *
 * @param transport `"tcp"` or `"udp"`
 * @param address IPv4 address as a signed 32-bit integer (the unsigned form works too)
 * @param port port number
 * @returns a new address object
 *
 * @example
 * ```ts
 * import { netAddr } from "./addr.ts";
 * const a = netAddr("udp", 0xc0000201 | 0, 53);
 * console.assert(a.hostname === "192.0.2.1" && a.port === 53 && a.transport === "udp");
 * console.assert(netAddr("udp", 0xc0000201, 53).hostname === "192.0.2.1");
 * ```
 */
export function netAddr(transport: Transport, address: number, port: number): NetAddr {
  return { transport, hostname: formatIpv4(address), port };
}

/**
 * Formats an address as `host:port`.
 *
 * @param addr the address
 * @returns e.g. `"192.0.2.1:53"`
 *
 * @example
 * ```ts
 * import { formatNetAddr } from "./addr.ts";
 * console.assert(formatNetAddr({ transport: "udp", hostname: "192.0.2.1", port: 53 }) === "192.0.2.1:53");
 * ```
 */
export function formatNetAddr(
  addr: { transport?: Transport; hostname: string; port: number },
): string {
  return `${addr.hostname}:${addr.port}`;
}

/**
 * Validates a port number.
 *
 * @param port the value to check
 * @param what what the port is, for the error message
 * @param allowZero accept 0 (e.g. "pick an ephemeral port"); default true
 * @returns the port
 * @throws {TypeError} when it is not an integer 0..65535 (1..65535 without `allowZero`)
 *
 * @example
 * ```ts
 * import { checkPort } from "./addr.ts";
 * console.assert(checkPort(53, "port") === 53);
 * let threw = false;
 * try { checkPort(70000, "port"); } catch { threw = true; }
 * console.assert(threw);
 * ```
 */
export function checkPort(port: unknown, what: string, allowZero = true): number {
  const min = allowZero ? 0 : 1;
  if (typeof port !== "number" || !Number.isInteger(port) || port < min || port > PORT_MAX) {
    throw new TypeError(`${what} must be an integer ${min}..${PORT_MAX}, got ${String(port)}`);
  }
  return port;
}
