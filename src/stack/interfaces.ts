/**
 * The link side of a {@link Stack}'s construction: the one
 * {@link NetworkInterface} of the single-device form (with its IPv6 layer:
 * static addresses, SLAAC), or, with `interfaces`, one interface per device
 * over a shared packet pool and the {@link Router} between them, with the
 * service that polls the interfaces after the first and the router.
 *
 * @module
 */

import type { Device } from "../phy/device.ts";
import type { Clock } from "../time/clock.ts";
import { NetworkInterface } from "../iface/interface.ts";
import type { IpSender } from "../iface/types.ts";
import { Router, type RouterRouteOptions, sharedInterfacePool } from "../iface/router.ts";
import type { RouterRoute6Options } from "../iface/router6.ts";
import type { NetworkInterfaceOptions } from "../iface/interface.ts";
import type { StackOptions, StackService } from "./options.ts";

/** What a transport sends through: the interface, or the router over several. */
export type StackIpSender = IpSender & { portUnreachable: NetworkInterface["portUnreachable"] };

/** The interfaces {@link buildInterface} or {@link buildRouter} made. */
export interface StackInterfaces {
  /** Every interface, in order. */
  interfaces: NetworkInterface[];
  /** With several interfaces the router, else null. */
  router: Router | null;
  /** Where transports send (the router, or the one interface). */
  ip: StackIpSender;
  /** With several interfaces: polls the others and the router, closes them; else null. */
  service: StackService | null;
}

/**
 * The IPv6 options of one interface: its static addresses and/or "slaac", the
 * stack's `ipv6Options`; null without IPv6.
 */
function ipv6Options(
  ipv6: string | readonly string[] | undefined,
  options: StackOptions,
): NetworkInterfaceOptions["ipv6"] {
  if (ipv6 === undefined) return null;
  const list = typeof ipv6 === "string" ? [ipv6] : [...ipv6];
  return {
    ...options.ipv6Options,
    addresses: list.filter((a) => a !== "slaac"),
    slaac: list.includes("slaac"),
  };
}

/**
 * The single-device form: one interface over `device`, with IPv6 when `options.ipv6` is given.
 *
 * @param device the link device
 * @param options the stack's options (`ipv4`, `ipv6`, `gateway`, `mtu`, tunables)
 * @param clock the stack's clock
 * @param now the time, ms
 * @returns the interface, which is also the sender
 * @throws {TypeError} on invalid configuration
 */
export function buildInterface(
  device: Device,
  options: StackOptions,
  clock: Clock,
  now: number,
): StackInterfaces {
  const iface = new NetworkInterface(device, {
    // null: DHCP leases the address later; absent: IPv6 only (the interface drops IPv4).
    ipv4: options.ipv4 === "dhcp" ? null : options.ipv4,
    ipv6: ipv6Options(options.ipv6, options),
    gateway: options.gateway ?? null,
    mtu: options.mtu,
    routes: options.routes,
    mac: options.mac,
    ttl: options.ttl,
    arp: options.arp,
    reassembly: options.reassembly,
    icmp: options.icmp,
    verifyChecksums: options.verifyChecksums,
    txOffloads: options.txOffloads,
    clock,
    identificationSecret: options.ipIdSecret,
  });
  if (iface.trustDeviceChecksums) {
    // Partial checksums of local senders are accepted as they are (Linux CHECKSUM_PARTIAL):
    // a driver that would complete them in place (AfPacketDevice) need not.
    if (device.completeRxChecksums !== undefined) device.completeRxChecksums = false;
  }
  iface.advance(now);
  return { interfaces: [iface], router: null, ip: iface, service: null };
}

/**
 * The `interfaces` form: one interface per entry over one shared pool, and the
 * router (one routing table, forwarding, hooks, NAT) between them.
 *
 * @param options the stack's options (`interfaces`, `forwarding`, `hooks`, `nat`, `routes`, tunables)
 * @param clock the stack's clock
 * @param now the time, ms
 * @returns the interfaces, the router (also the sender) and its service
 * @throws {TypeError} on invalid configuration
 */
export function buildRouter(options: StackOptions, clock: Clock, now: number): StackInterfaces {
  // One pool for every interface: a buffer may leave on any of them.
  const pool = sharedInterfacePool();
  const specs = options.interfaces!;
  const ifaces = specs.map((o) =>
    new NetworkInterface(o.device, {
      ipv6: ipv6Options(o.ipv6, options),
      // null: its DHCP client leases the address later.
      ipv4: o.ipv4 === "dhcp" ? null : o.ipv4,
      gateway: o.gateway ?? null,
      mtu: o.mtu,
      routes: o.routes,
      mac: o.mac,
      ttl: options.ttl,
      arp: options.arp,
      reassembly: options.reassembly,
      icmp: options.icmp,
      verifyChecksums: options.verifyChecksums,
      // Hooks and NAT see whole datagrams with complete checksums (see src/iface/hooks.ts).
      txOffloads: false,
      clock,
      identificationSecret: options.ipIdSecret,
      pool,
    })
  );
  const router = new Router(
    ifaces,
    specs.map((o) => ({ masquerade: o.masquerade, metric: o.metric })),
    {
      forwarding: options.forwarding,
      reassembly: options.reassembly,
      hooks: options.hooks,
      nat: options.nat,
      // A destination with a colon is an IPv6 route (router6.ts), else IPv4.
      routes: options.routes?.filter((r) => !String(r.destination).includes(":")).map((
        r,
      ): RouterRouteOptions => ({
        destination: String(r.destination),
        gateway: r.gateway === undefined || r.gateway === null ? null : String(r.gateway),
        interface: (r as RouterRouteOptions).interface,
        metric: (r as RouterRouteOptions).metric,
      })),
      routes6: options.routes?.filter((r) => String(r.destination).includes(":")).map((
        r,
      ): RouterRoute6Options => ({
        destination: String(r.destination),
        gateway: r.gateway === undefined || r.gateway === null ? null : String(r.gateway),
        interface: (r as RouterRoute6Options).interface,
        metric: (r as RouterRoute6Options).metric,
      })),
    },
  );
  for (const i of ifaces) {
    // The router forwards partial checksums as they are (NEEDS_CSUM out, or completed when the
    // egress device cannot), and local delivery accepts them: no completion per received frame.
    if (i.trustDeviceChecksums && i.device.completeRxChecksums !== undefined) {
      i.device.completeRxChecksums = false;
    }
    i.advance(now);
  }
  const service: StackService = {
    poll: (t) => {
      for (let n = 1; n < ifaces.length; n++) ifaces[n].poll(t);
      router.poll(t);
    },
    nextDeadline: () => {
      let t = router.nextDeadline();
      for (let n = 1; n < ifaces.length; n++) t = Math.min(t, ifaces[n].nextDeadline());
      return t;
    },
    close: () => {
      for (let n = 1; n < ifaces.length; n++) ifaces[n].close();
      router.nat.clear();
    },
  };
  return { interfaces: ifaces, router, ip: router, service };
}
