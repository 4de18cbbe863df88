/**
 * The DHCP side of a {@link Stack}'s construction: one {@link StackDhcp} per
 * interface with `ipv4: "dhcp"` (the single-device form's one, or any of
 * `interfaces`), all on one shared port 68 ({@link StackDhcpPort}); with a
 * router, each lease's address and routes rebuild its table.
 *
 * @module
 */

import type { NetworkInterface } from "../iface/interface.ts";
import type { Router } from "../iface/router.ts";
import type { UdpLayer } from "../udp/udp_layer.ts";
import type { DnsResolver } from "../dns/resolver.ts";
import type { Clock } from "../time/clock.ts";
import { StackDhcp, type StackDhcpOptions, StackDhcpPort } from "../dhcp/stack_dhcp.ts";
import type { StackOptions, StackService } from "./options.ts";

/**
 * The DHCP clients of a stack, by interface.
 *
 * @param options the stack's options (`ipv4`/`dhcp`, or `interfaces[n].ipv4`/`.dhcp`, `dns`)
 * @param interfaces the stack's interfaces, in order
 * @param router the router over them, or null
 * @param udp the stack's UDP layer (port 68)
 * @param resolver the stack's resolver (given the leases' DNS servers without a `dns` option)
 * @returns one entry per interface: its client, or null
 * @throws {TypeError} on `dhcp` options without `ipv4: "dhcp"`
 */
export function buildDhcp(
  options: StackOptions,
  interfaces: readonly NetworkInterface[],
  router: Router | null,
  udp: UdpLayer,
  resolver: Pick<DnsResolver, "setServers" | "servers">,
): (StackDhcp | null)[] {
  const specs: (StackDhcpOptions | null)[] = options.interfaces !== undefined
    ? options.interfaces.map((o) => o.ipv4 === "dhcp" ? o.dhcp ?? {} : null)
    : [options.ipv4 === "dhcp" ? options.dhcp ?? {} : null];
  if (options.interfaces === undefined && options.ipv4 !== "dhcp" && options.dhcp !== undefined) {
    throw new TypeError('the "dhcp" option needs ipv4: "dhcp"');
  }
  if (specs.every((s) => s === null)) return specs.map(() => null);
  const port = new StackDhcpPort(udp);
  const setDns = options.dns === undefined;
  return specs.map((spec, n) => {
    if (spec === null) return null;
    const client = new StackDhcp(interfaces[n], port, resolver, setDns, spec);
    // The lease's connected and default routes go into the router's table.
    if (router !== null) client.onConfigured = () => router.rebuildRoutes(false);
    return client;
  });
}

/**
 * The loop service of one DHCP client.
 *
 * @param client the client
 * @param clock the stack's clock (for the release at close)
 * @returns the service
 */
export function dhcpService(client: StackDhcp, clock: Clock): StackService {
  return {
    poll: (now) => client.poll(now),
    nextDeadline: () => client.nextDeadline(),
    close: () => client.close(clock.now()),
  };
}
