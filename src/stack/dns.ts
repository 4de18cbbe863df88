/**
 * The DNS side of a {@link Stack}'s construction: the {@link DnsResolver}
 * over the stack's UDP with its hosts table, and the {@link DnsTcpTransport}
 * that asks a truncated answer again over the stack's own TCP (RFC 7766 §5).
 *
 * @module
 */

import { DnsResolver, type DnsTcpTransport } from "../dns/resolver.ts";
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
