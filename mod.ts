/**
 * rawstack — a TCP/IP protocol stack in TypeScript for Deno, running in user
 * space over a Linux AF_PACKET raw socket reached through Deno's FFI.
 *
 * @example
 * ```ts
 * import { Ipv4Cidr } from "./mod.ts";
 * console.assert(Ipv4Cidr.parse("192.0.2.2/24").contains(0xc0000201));
 * ```
 *
 * @module
 */

export * from "./src/wire/error.ts";
export * from "./src/wire/address.ts";
export * from "./src/wire/checksum.ts";
