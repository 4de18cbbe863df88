/**
 * The snapshots {@link Stack} reports: {@link stackStats} copies every layer's
 * counters into a {@link StackStats}, {@link stackAddresses} lists the
 * addresses of both families with their state, origin and lifetimes (a DHCP
 * lease with its client state and times).
 *
 * @module
 */

import type { Stack } from "../stack.ts";
import { formatIpv4 } from "../wire/address.ts";
import type { StackAddress, StackStats } from "./options.ts";
import type { StackDhcp } from "../dhcp/stack_dhcp.ts";

/**
 * A snapshot of every layer's counters (see {@link Stack.stats}).
 *
 * @param stack the stack
 * @returns the counters (copies)
 */
export function stackStats(stack: Stack): StackStats {
  const iface = stack.iface;
  const pool = iface.pool;
  const router = stack.router;
  return {
    device: { ...stack.device.stats },
    link: { ...iface.stats },
    arp: { ...iface.arp.stats },
    ipv4: { ...iface.ipv4.stats },
    icmp: { ...iface.icmp.stats },
    ...(iface.ipv6 === null ? {} : {
      ipv6: { ...iface.ipv6.stats },
      icmpv6: { ...iface.ipv6.icmp.stats },
      ndp: iface.ipv6.ndpStats(),
    }),
    udp: { ...stack.udp.stats },
    dns: { ...stack.resolver.stats },
    tcp: { ...stack.tcp.stats },
    loop: { ...stack.loopStats },
    pool: {
      capacity: pool.capacity ?? 0,
      inUse: pool.inUse,
      available: pool.available ?? 0,
      reserved: pool.reserved ?? 0,
    },
    ...(stack.dhcp === null ? {} : { dhcp: { ...stack.dhcp.stats } }),
    ...(router === null ? {} : {
      interfaces: stack.interfaces.map((i, n) => {
        const dhcp = stack.dhcpClients[n] ?? null;
        return {
          name: i.device.capabilities.name,
          address: formatIpv4(i.config.address),
          device: { ...i.device.stats },
          link: { ...i.stats },
          arp: { ...i.arp.stats },
          ipv4: { ...i.ipv4.stats },
          icmp: { ...i.icmp.stats },
          ...(dhcp === null ? {} : { dhcp: { ...dhcp.stats } }),
        };
      }),
      router: router.stats,
    }),
  };
}

/**
 * Every address of both families, IPv4 first (see {@link Stack.addresses}).
 *
 * @param stack the stack
 * @returns one record per address
 */
export function stackAddresses(stack: Stack): StackAddress[] {
  const out: StackAddress[] = [];
  stack.interfaces.forEach((iface, n) => {
    const dhcp = stack.dhcpClients[n] ?? null;
    if (dhcp !== null) out.push(...leaseAddress(stack, dhcp));
    else if (iface.config.address !== 0) {
      const c = iface.config;
      out.push({
        family: "ipv4",
        address: formatIpv4(c.address),
        prefixLength: c.prefixLength,
        state: "preferred",
        origin: "static",
        validLifetimeS: Infinity,
        preferredLifetimeS: Infinity,
      });
    }
  });
  // Every interface's IPv6 addresses, in interface order.
  for (const i of stack.interfaces) if (i.ipv6 !== null) out.push(...i.ipv6.addressList());
  return out;
}

/** A DHCP client's leased address, or none while it has no lease. */
function leaseAddress(stack: Stack, dhcp: StackDhcp): StackAddress[] {
  const lease = dhcp.lease;
  if (lease === null) return [];
  const probing = dhcp.state === "probing";
  const leftS = Math.max(0, (lease.expiresAtMs - stack.clock.now()) / 1000);
  return [{
    family: "ipv4",
    address: formatIpv4(lease.address),
    prefixLength: lease.prefixLength,
    state: probing ? "tentative" : "preferred",
    origin: "dhcp",
    validLifetimeS: leftS,
    preferredLifetimeS: leftS,
    dhcp: {
      state: dhcp.state,
      server: formatIpv4(lease.server),
      router: lease.router === 0 ? null : formatIpv4(lease.router),
      dns: lease.dnsServers.map(formatIpv4),
      mtu: lease.mtu === 0 ? null : lease.mtu,
      leaseTimeS: lease.leaseTimeS,
      obtainedMs: lease.obtainedMs,
      renewAtMs: lease.renewAtMs,
      rebindAtMs: lease.rebindAtMs,
      expiresAtMs: lease.expiresAtMs,
    },
  }];
}
