/**
 * `rawstack ping`, `rawstack dns` and `rawstack arp`: the network layer and
 * the resolver from the command line.
 *
 * Permissions: as {@link openNetwork} (FFI and root for a real interface).
 *
 * @module
 */

import { parseIpv6 } from "../wire/ipv6_address.ts";
import type { PingResult } from "../stack.ts";
import { parseIpv4 } from "../wire/address.ts";
import { intOption, stringOption, UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { printLine } from "./command.ts";
import { MEMORY_OPTION, MEMORY_PEER_ADDRESS, NETWORK_OPTIONS, openNetwork } from "./network.ts";

/**
 * ping(8)-style report of a ping result.
 *
 * @param r the result of `stack.ping`
 * @returns the lines, joined with "\n"
 *
 * @example
 * ```ts
 * import { formatPingResult } from "./net_commands.ts";
 * const text = formatPingResult({
 *   host: "h", address: "192.0.2.1", size: 56,
 *   replies: [{ sequence: 0, bytes: 56, rttMs: 0.5, ttl: 64 }],
 *   summary: { transmitted: 1, received: 1, lossPercent: 0, minMs: 0.5, avgMs: 0.5, maxMs: 0.5, mdevMs: 0 },
 * } as never);
 * console.assert(text.includes("icmp_seq=1") && text.includes("0% packet loss"));
 * ```
 */
export function formatPingResult(r: PingResult): string {
  const lines = r.replies.map((x) =>
    `${x.bytes + 8} bytes from ${r.address}: icmp_seq=${x.sequence + 1} time=${
      x.rttMs.toFixed(3)
    } ms`
  );
  const s = r.summary;
  lines.push("", `--- ${r.host} ping statistics ---`);
  lines.push(
    `${s.transmitted} packets transmitted, ${s.received} received, ` +
      `${Number(s.lossPercent.toFixed(1))}% packet loss`,
  );
  if (s.received > 0) {
    const f = (v: number) => v.toFixed(3);
    lines.push(
      `rtt min/avg/max/mdev = ${f(s.minMs)}/${f(s.avgMs)}/${f(s.maxMs)}/${f(s.mdevMs)} ms`,
    );
  }
  return lines.join("\n");
}

/**
 * `rawstack ping HOST`.
 *
 * @example
 * ```ts
 * import { pingCommand } from "./net_commands.ts";
 * console.assert(pingCommand.name === "ping" && pingCommand.options.help !== undefined);
 * ```
 */
export const pingCommand: Command = {
  name: "ping",
  usage: "rawstack ping [options] HOST",
  brief: "send ICMP echo requests (RFC 792) like ping(8)",
  summary: "Sends ICMP echo requests to HOST (an address or a name) and prints each reply's\n" +
    "round-trip time and a summary. Exits 1 when no reply came back.",
  options: {
    count: { type: "string", short: "c", value: "N", help: "requests to send (default 4)" },
    size: {
      type: "string",
      short: "s",
      value: "BYTES",
      help: "data bytes per request (default 56)",
    },
    interval: {
      type: "string",
      short: "i",
      value: "MS",
      help: "ms between requests (default 1000)",
    },
    timeout: {
      type: "string",
      short: "W",
      value: "MS",
      help: "ms to wait for each reply (default 1000)",
    },
    ...MEMORY_OPTION,
    ...NETWORK_OPTIONS,
  },
  maxPositionals: 1,
  footer: "Examples:\n  rawstack ping --memory -c 2 192.0.2.1\n" +
    "  sudo rawstack ping --lab 192.0.2.1",
  async run({ values, positionals }) {
    const host = positionals[0];
    if (host === undefined) throw new UsageError("missing HOST (e.g. rawstack ping 192.0.2.1)");
    const count = intOption(values.count, "count", 4, 1, 1_000_000);
    const size = intOption(values.size, "size", 56, 0, 65507);
    const intervalMs = intOption(values.interval, "interval", 1000, 1, 3_600_000);
    const timeoutMs = intOption(values.timeout, "timeout", 1000, 1, 3_600_000);
    const net = await openNetwork(values, { command: "ping", memory: true });
    try {
      await printLine(`PING ${host} ${size}(${size + 28}) bytes of data.`);
      const r = await net.stack.ping(host, { count, size, intervalMs, timeoutMs });
      await printLine(formatPingResult(r));
      return r.summary.received > 0 ? 0 : 1;
    } finally {
      await net.close();
    }
  },
};

/**
 * `rawstack dns NAME`.
 *
 * @example
 * ```ts
 * import { dnsCommand } from "./net_commands.ts";
 * console.assert(dnsCommand.name === "dns" && dnsCommand.options.help !== undefined);
 * ```
 */
export const dnsCommand: Command = {
  name: "dns",
  usage: "rawstack dns [options] NAME",
  brief: "look a name up with rawstack's DNS stub resolver",
  summary: "Resolves NAME (A records, or AAAA with --type AAAA) through the server given\n" +
    `with --dns and prints one address per line. With --memory the in-process peer\n` +
    "serves peer.test, rawstack.test and www.test (a CNAME).",
  options: {
    type: { type: "string", short: "t", value: "A|AAAA", help: "record type (default A)" },
    ...MEMORY_OPTION,
    ...NETWORK_OPTIONS,
  },
  maxPositionals: 1,
  footer: "Examples:\n  rawstack dns --memory www.test\n" +
    "  sudo rawstack dns --lab --dns 192.0.2.1 host.test",
  async run({ values, positionals }) {
    const name = positionals[0];
    if (name === undefined) throw new UsageError("missing NAME (e.g. rawstack dns host.test)");
    const typeText = (stringOption(values.type) ?? "A").toUpperCase();
    if (typeText !== "A" && typeText !== "AAAA") {
      throw new UsageError(`--type must be A or AAAA, got "${stringOption(values.type)}"`);
    }
    if (values.memory !== true && values.lab !== true && stringOption(values.dns) === undefined) {
      throw new UsageError("no DNS server: give --dns IP (or --memory / --lab)");
    }
    const net = await openNetwork(values, { command: "dns", memory: true });
    try {
      const addresses = await net.stack.resolveDns(name, typeText);
      if (addresses.length === 0) await printLine(`${name} has no ${typeText} record`);
      for (const a of addresses) await printLine(a);
      return addresses.length > 0 ? 0 : 1;
    } finally {
      await net.close();
    }
  },
};

/**
 * `rawstack arp [HOST]`.
 *
 * @example
 * ```ts
 * import { arpCommand } from "./net_commands.ts";
 * console.assert(arpCommand.name === "arp" && arpCommand.options.help !== undefined);
 * ```
 */
export const arpCommand: Command = {
  name: "arp",
  usage: "rawstack arp [options] [HOST]",
  brief: "resolve a neighbour (RFC 826, RFC 4861) and show the neighbour caches",
  summary: "Makes the stack resolve HOST (default: the --gateway; with --memory the peer)\n" +
    "by sending it one ICMP echo request, then prints the neighbours of both\n" +
    "families: the ARP cache and the IPv6 neighbour cache with NUD states.",
  options: { ...MEMORY_OPTION, ...NETWORK_OPTIONS },
  maxPositionals: 1,
  footer:
    "Examples:\n  rawstack arp --memory\n  rawstack arp --memory --ip6 2001:db8:1::2/64 2001:db8:1::1\n" +
    "  sudo rawstack arp --lab",
  async run({ values, positionals }) {
    let host = positionals[0] ?? stringOption(values.gateway);
    if (host === undefined && values.memory === true) host = MEMORY_PEER_ADDRESS;
    if (host === undefined && values.lab === true) host = MEMORY_PEER_ADDRESS;
    if (host === undefined) throw new UsageError("missing HOST: give one, or --gateway IP");
    const host6 = parseIpv6(host.replace(/^\[(.*)\]$/, "$1"));
    if (parseIpv4(host) === null && host6 === null) {
      throw new UsageError(`HOST must be an IPv4 or IPv6 address, got "${host}"`);
    }
    const net = await openNetwork(values, { command: "arp", memory: true });
    try {
      await net.stack.ping(host, { count: 1, timeoutMs: 1000 });
      const table = net.stack.arpTable();
      const neighbours = net.stack.neighbours();
      const width = Math.max(16, ...neighbours.map((n) => n.ip.length));
      await printLine(`${"Address".padEnd(width)} HWaddress          State        Age(ms)`);
      for (const e of table) {
        await printLine(
          `${e.ip.padEnd(width)} ${(e.mac ?? "(incomplete)").padEnd(18)} ${e.state.padEnd(12)} ${
            Math.round(e.ageMs ?? 0)
          }`,
        );
      }
      // IPv6 neighbours (RFC 4861 §7.3.2 NUD states), as `ip -6 neigh` lists them.
      for (const n of neighbours) {
        await printLine(
          `${n.ip.padEnd(width)} ${(n.mac ?? "(incomplete)").padEnd(18)} ${n.state.padEnd(12)} ${
            Math.round(n.ageMs)
          }${n.isRouter ? " router" : ""}`,
        );
      }
      if (host6 !== null) {
        const text = host6.toString();
        return neighbours.some((n) => n.ip === text && n.state === "reachable") ? 0 : 1;
      }
      return table.some((e) => e.ip === host && e.state === "reachable") ? 0 : 1;
    } finally {
      await net.close();
    }
  },
};
