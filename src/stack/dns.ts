/**
 * The DNS side of a {@link Stack}'s construction: the {@link DnsResolver}
 * over the stack's UDP with its hosts table, and the {@link DnsTcpTransport}
 * that asks a truncated answer again over the stack's own TCP (RFC 7766 §5),
 * and {@link LearnedDnsServers}, the server list the network gives a stack
 * that was configured with no `dns` option.
 *
 * @module
 */

import {
  DnsResolver,
  type DnsServer,
  type DnsTcpTransport,
  parseDnsServer,
} from "../dns/resolver.ts";
import type { Ipv6Address } from "../wire/ipv6_address.ts";
import { DNS_PORT } from "../wire/dns.ts";
import { HostsTable } from "../dns/hosts.ts";
import type { UdpLayer } from "../udp/udp_layer.ts";
import type { TcpLayer } from "../tcp/tcp_layer.ts";
import type { StackOptions } from "./options.ts";

/**
 * The stub resolver of a stack.
 *
 * @param options the stack's options (`dns`, `dnsTimeoutMs`, `dnsAttempts`, `dnsCache`, `hosts`)
 * @param udp the stack's UDP engine
 * @param tcp the stack's TCP engine, for answers too long for UDP
 * @returns the resolver
 * @throws {TypeError} on an invalid server or hosts entry
 */
export function buildResolver(options: StackOptions, udp: UdpLayer, tcp: TcpLayer): DnsResolver {
  const hosts = new HostsTable();
  for (const [name, addresses] of Object.entries(options.hosts ?? {})) {
    for (const a of addresses) hosts.add(name, a);
  }
  return new DnsResolver(udp, {
    servers: options.dns ?? [],
    timeoutMs: options.dnsTimeoutMs,
    attempts: options.dnsAttempts,
    cache: options.dnsCache,
    hosts,
    // RFC 7766 §5: a truncated answer is asked again over our own TCP.
    tcp: tcpTransport(tcp),
  });
}

/** The resolver's TCP connections as engine connections of the stack's TCP layer. */
function tcpTransport(tcp: TcpLayer): DnsTcpTransport {
  return {
    connect: (nowMs, addr, port, events, addr6) => {
      const tcpEvents = {
        onEstablished: () => events.onEstablished(),
        onReadable: () => events.onReadable(),
        onWritable: () => events.onWritable(),
        onClosed: (_conn: unknown, error: { message: string } | null) => events.onClosed(error),
      };
      return addr6 != null
        ? tcp.connect6(nowMs, addr6, port, { events: tcpEvents })
        : tcp.connect(nowMs, addr, port, { events: tcpEvents });
    },
  };
}

/**
 * The DNS servers a stack learns when its `dns` option is absent: those of
 * the DHCPv4 lease (RFC 2132 §3.8) first, then the recursive DNS servers of
 * router advertisements (RFC 8106 §6). An explicit `dns` option wins over
 * both: the stack then never builds this. The resolver's list is replaced
 * only when the merged list changes (a replacement cancels lookups in flight
 * when the count changes).
 *
 * @example
 * ```ts ignore
 * const learned = new LearnedDnsServers(stack.resolver);
 * ipv6.onDnsServersChanged = (servers) => learned.setRouterAdvertised(servers);
 * ```
 */
export class LearnedDnsServers {
  readonly #resolver: Pick<DnsResolver, "setServers" | "servers">;
  #dhcp: DnsServer[] = [];
  #rdnss: DnsServer[] = [];

  /**
   * Feeds `resolver`.
   *
   * @param resolver the stack's resolver
   */
  constructor(resolver: Pick<DnsResolver, "setServers" | "servers">) {
    this.#resolver = resolver;
  }

  /** The DHCPv4 leases' servers last given to {@link setServers}. */
  get servers(): readonly DnsServer[] {
    return this.#dhcp;
  }

  /**
   * The DHCPv4 lease's servers (the `StackDhcp` calls this as it would the resolver).
   *
   * @param servers `"192.0.2.1"` strings or parsed servers
   * @throws {TypeError} on an invalid server
   */
  setServers(servers: readonly (string | DnsServer)[]): void {
    this.#dhcp = servers.map(parseDnsServer);
    this.#apply();
  }

  /**
   * The servers router advertisements name now (RDNSS, port 53).
   *
   * @param servers IPv6 addresses, in the order learned
   */
  setRouterAdvertised(servers: readonly Ipv6Address[]): void {
    this.#rdnss = servers.map((addr6) => ({ addr: 0, port: DNS_PORT, addr6 }));
    this.#apply();
  }

  #apply(): void {
    const next = [...this.#dhcp, ...this.#rdnss];
    const current = this.#resolver.servers;
    if (next.length === current.length && next.every((s, i) => sameServer(s, current[i]))) return;
    this.#resolver.setServers(next);
  }
}

function sameServer(a: DnsServer, b: DnsServer): boolean {
  if (a.port !== b.port || a.addr !== b.addr) return false;
  if (a.addr6 == null || b.addr6 == null) return a.addr6 == null && b.addr6 == null;
  return a.addr6.equals(b.addr6);
}
