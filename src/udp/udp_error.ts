/**
 * UDP's typed failures: the {@link UdpErrorCode}s, the {@link UdpError} that
 * endpoints return (or throw from `bind`), the {@link UdpFamily} an endpoint
 * receives, and the destination checks shared by the endpoint and the layer.
 *
 * @module
 */

import { isIpv4Number } from "../wire/address.ts";
import type { Ipv6Address } from "../wire/ipv6_address.ts";

import { PORT_MAX } from "../wire/port.ts";

/** Largest port number (src/wire/port.ts). */
export { PORT_MAX };

/** Which families an endpoint receives: a wildcard one both (Linux `IPV6_V6ONLY` off). */
export type UdpFamily = "ipv4" | "ipv6" | "any";

/** What went wrong on a UDP endpoint. */
export type UdpErrorCode =
  | "PortUnreachable"
  | "HostUnreachable"
  | "NetworkUnreachable"
  | "MessageTooLong"
  | "InvalidAddress"
  | "InvalidPort"
  | "AddressInUse"
  | "NoEphemeralPort"
  | "NoRoute"
  | "NoBuffers"
  | "SendFailed"
  | "NotConnected"
  | "IsConnected"
  | "Closed";

/**
 * A typed UDP failure. Errors that come from the network (ICMP) carry the
 * remote address and port of the datagram that caused them.
 *
 * @example
 * ```ts
 * import { UdpError } from "./udp_error.ts";
 * const e = new UdpError("PortUnreachable", "no listener", 0xc0000201 | 0, 9);
 * console.assert(e instanceof Error && e.code === "PortUnreachable" && e.remotePort === 9);
 * ```
 */
export class UdpError extends Error {
  /**
   * Creates the error.
   *
   * @param code what went wrong
   * @param message details
   * @param remoteAddr the remote IPv4 address concerned, int32 (0 if none)
   * @param remotePort the remote port concerned (0 if none)
   */
  constructor(
    readonly code: UdpErrorCode,
    message: string,
    readonly remoteAddr = 0,
    readonly remotePort = 0,
  ) {
    super(`${code}: ${message}`);
    this.name = "UdpError";
  }
}

/** Checks a destination (address as int32 or unsigned, port): the error, or null when valid. */
export function checkDestination(addr: number, port: number): UdpError | null {
  if (!Number.isInteger(port) || port < 1 || port > PORT_MAX) {
    return new UdpError("InvalidPort", `destination port ${port} is not 1..65535`);
  }
  if (!isIpv4Number(addr) || addr === 0) {
    return new UdpError("InvalidAddress", `destination address ${addr} is invalid`);
  }
  return null;
}

/** Checks an IPv6 destination for an endpoint of `family`: the error, or null when valid. */
export function checkDestination6(
  addr: Ipv6Address,
  port: number,
  family: UdpFamily,
): UdpError | null {
  if (!Number.isInteger(port) || port < 1 || port > PORT_MAX) {
    return new UdpError("InvalidPort", `destination port ${port} is not 1..65535`);
  }
  if (family === "ipv4") {
    return new UdpError("InvalidAddress", `this endpoint is bound to IPv4 only, not ${addr}`);
  }
  if (addr.isUnspecified() || addr.isIpv4Mapped()) {
    return new UdpError("InvalidAddress", `destination address ${addr} is invalid`);
  }
  return null;
}
