/**
 * The network part shared by the subcommands that talk on a link: the
 * common options (`--iface`, `--netns`, `--ip`, `--gateway`, `--dns`,
 * `--pcap`, `--verbose`, `--mode`, `--lab`, `--memory`) and
 * {@link openNetwork}, which builds a {@link Stack} over AF_PACKET, or over a
 * MemoryLink to an in-process rawstack peer, with optional capture.
 *
 * Permissions: `--allow-ffi` (AF_PACKET, root or CAP_NET_RAW),
 * `--allow-run` (`ip netns list` for `--lab`), `--allow-write` for `--pcap`.
 *
 * @module
 */

import { parseIpv6 } from "../wire/ipv6_address.ts";
import { Stack } from "../stack.ts";
import { AfPacketDevice, type AfPacketMode } from "../phy/af_packet.ts";
import { TapDevice } from "../phy/tun_tap.ts";
import { MemoryLink } from "../phy/memory_link.ts";
import type { Device } from "../phy/device.ts";
import { CaptureDevice, type FrameWriter } from "../phy/capture.ts";
import { PcapWriter } from "../wire/pcap.ts";
import { parseIpv4 } from "../wire/address.ts";
import {
  DNS_CLASS_IN,
  DNS_RCODE_NXDOMAIN,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_CNAME,
  DnsMessage,
  newDnsMessage,
} from "../wire/dns.ts";
import { isWireError } from "../wire/error.ts";
import type { UdpConn } from "../socket/udp_conn.ts";
import { decodeFrame, describeFrame } from "../trace/connections.ts";
import { LiveCapture } from "../trace/live.ts";
import { type OptionSpec, stringOption, UsageError } from "./args.ts";

/** Address rawstack takes by default (the lab's and the memory link's). */
/** How long a command waits for its closed connections to finish, ms. */
const CLOSE_LINGER_MS = 1000;

export const DEFAULT_STACK_CIDR = "192.0.2.2/24";
/** Address of the in-process peer of `--memory` (and of the lab's kernel peer). */
export const MEMORY_PEER_ADDRESS = "192.0.2.1";
/** Namespace prefix `rawstack lab up` uses by default. */
export const DEFAULT_LAB_PREFIX = "rawstack";
/** Interface rawstack drives in the lab. */
export const LAB_INTERFACE = "rs0";
/** Names the `--memory` peer's DNS server answers. */
/** The `--memory` peer's IPv6 address, given when `--ip6` asks for dual stack (issue 18). */
export const MEMORY_PEER_ADDRESS6 = "2001:db8:1::1";
/** Names the `--memory` peer's DNS server answers (an array: A and AAAA records). */
export const MEMORY_ZONE: Readonly<Record<string, string | readonly string[]>> = Object.freeze({
  "peer.test": [MEMORY_PEER_ADDRESS, MEMORY_PEER_ADDRESS6],
  "rawstack.test": "192.0.2.2",
  "www.test": "cname:peer.test",
});
const DNS_PORT = 53;
const DNS_TTL_S = 60;
const MAX_CNAME_DEPTH = 8;

/** Options of every subcommand that uses the network. */
export const NETWORK_OPTIONS: Record<string, OptionSpec> = {
  iface: { type: "string", value: "IFACE", help: "interface rawstack drives over AF_PACKET" },
  netns: { type: "string", value: "NAME", help: "network namespace the interface lives in" },
  tap: {
    type: "string",
    value: "TAP",
    help:
      "TAP device rawstack drives (no root when it is yours: `sudo rawstack lab up --tap $USER`)",
  },
  lab: {
    type: "boolean",
    help: "use the lab built by `rawstack lab up` (sets --iface, --netns, --gateway, --dns)",
  },
  ip: { type: "string", value: "CIDR", help: `our address (default ${DEFAULT_STACK_CIDR})` },
  ip6: {
    type: "string",
    value: "CIDR|slaac",
    help: "also an IPv6 address (dual stack; with --memory the peer is 2001:db8:1::1/64)",
  },
  gateway: { type: "string", value: "IP", help: "default gateway" },
  dns: { type: "string", value: "IP[:PORT]", help: "DNS server" },
  mode: { type: "string", value: "MODE", help: "AF_PACKET receive path: ring-v2, ring-v3, socket" },
  pcap: { type: "string", value: "FILE", help: "capture every frame in and out to a pcap file" },
  verbose: { type: "boolean", short: "v", help: "print one line per frame (on stderr)" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

/** The `--memory` switch, for subcommands that can run against an in-process peer. */
export const MEMORY_OPTION: Record<string, OptionSpec> = {
  memory: {
    type: "boolean",
    help:
      `no root needed: talk to an in-process rawstack peer at ${MEMORY_PEER_ADDRESS} over a MemoryLink`,
  },
};

/** A running stack and what to close with it. */
export interface NetworkSession {
  /** Our stack. */
  stack: Stack;
  /** The in-process peer with `--memory`, else null. */
  peer: Stack | null;
  /** Frames seen so far (always recorded, for ladders). */
  live: LiveCapture;
  /** Closes the stacks, the device and the capture file. */
  close(): Promise<void>;
}

/** What a subcommand wants of {@link openNetwork}. */
export interface OpenNetworkOptions {
  /** Subcommand name, for messages. */
  command: string;
  /** Whether `--memory` is offered. */
  memory: boolean;
  /** Where verbose lines go (default stderr). */
  log?: (line: string) => void;
  /** Extra setup of the memory peer (e.g. an HTTP server). */
  setupPeer?: (peer: Stack) => void | Promise<void>;
}

/**
 * Finds the rawstack-side namespace of a lab built by `rawstack lab up`.
 *
 * Permissions: `--allow-run` (`ip netns list`).
 *
 * @example
 * ```ts ignore
 * import { findLabNamespace } from "./network.ts";
 * console.log(await findLabNamespace()); // e.g. "rawstack-1234-rs", or null
 * ```
 *
 * @param prefix lab prefix (default "rawstack")
 * @returns the namespace name, or null when there is none
 */
export async function findLabNamespace(prefix = DEFAULT_LAB_PREFIX): Promise<string | null> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped", stderr: "null" })
      .output();
  } catch {
    return null;
  }
  const pattern = new RegExp(`^(${prefix}-\\d+-rs)\\b`);
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const m = pattern.exec(line.trim());
    if (m !== null) return m[1];
  }
  return null;
}

/**
 * Builds the stack a subcommand runs on, from the common options.
 *
 * @example
 * ```ts
 * import { openNetwork } from "./network.ts";
 * const net = await openNetwork({ memory: true }, { command: "example", memory: true });
 * const r = await net.stack.ping("192.0.2.1", { count: 1 });
 * console.assert(r.summary.received === 1 && net.live.frameCount > 0);
 * await net.close();
 * ```
 *
 * @param values parsed option values
 * @param opts subcommand name, `--memory` support, peer setup
 * @returns the session; call `close()` in `finally`
 * @throws {UsageError} when no device was chosen or an option is invalid
 */
export async function openNetwork(
  values: Record<string, string | boolean | undefined>,
  opts: OpenNetworkOptions,
): Promise<NetworkSession> {
  let iface = stringOption(values.iface);
  let netns = stringOption(values.netns);
  const tap = stringOption(values.tap);
  let gateway = stringOption(values.gateway) ?? null;
  let dns = stringOption(values.dns);
  const ip = stringOption(values.ip) ?? DEFAULT_STACK_CIDR;
  const ip6 = stringOption(values.ip6);
  const memory = values.memory === true;
  const modeText = stringOption(values.mode);
  if (modeText !== undefined && !["ring-v2", "ring-v3", "socket"].includes(modeText)) {
    throw new UsageError(`--mode must be ring-v2, ring-v3 or socket, got "${modeText}"`);
  }
  if (values.lab === true) {
    const ns = await findLabNamespace();
    if (ns === null) {
      throw new UsageError("--lab: no lab found; build one with `rawstack lab up` (as root)");
    }
    iface ??= LAB_INTERFACE;
    netns ??= ns;
    gateway ??= MEMORY_PEER_ADDRESS;
    dns ??= MEMORY_PEER_ADDRESS;
  }
  if (memory && iface !== undefined) {
    throw new UsageError("--memory and --iface exclude each other");
  }
  if (tap !== undefined && (memory || iface !== undefined || netns !== undefined)) {
    throw new UsageError("--tap excludes --memory, --iface, --netns and --lab");
  }
  if (!memory && iface === undefined && tap === undefined) {
    const how = opts.memory ? ", or --memory for an in-process peer (no root)" : "";
    throw new UsageError(
      `no network device: give --iface IFACE [--netns NS], or --lab after \`sudo rawstack lab up\`${how}`,
    );
  }
  if (gateway !== null && parseIpv4(gateway) === null) {
    throw new UsageError(`--gateway must be an IPv4 address, got "${gateway}"`);
  }

  const live = new LiveCapture();
  const log = opts.log ?? ((line: string) => console.error(line));
  let origin = -1;
  const verbose = values.verbose === true;
  let pcap: PcapWriter | null = null;
  let device: Device;
  let peer: Stack | null = null;
  if (memory) {
    const [a, b] = MemoryLink.pair();
    device = a;
    peer = new Stack({
      device: b,
      ipv4: `${MEMORY_PEER_ADDRESS}/24`,
      ...(ip6 === undefined ? {} : {
        ipv6: `${MEMORY_PEER_ADDRESS6}/64`,
        // Nobody else is on an in-process link: no duplicate address detection wait.
        ipv6Options: { addressOptions: { dadTransmits: 0, maxDadDelayMs: 0 } },
      }),
    });
    dns ??= MEMORY_PEER_ADDRESS;
  } else if (tap !== undefined) {
    device = await TapDevice.open(tap);
  } else {
    device = await AfPacketDevice.open(iface!, {
      netns,
      mode: modeText as AfPacketMode | undefined,
    });
  }
  try {
    const pcapPath = stringOption(values.pcap);
    if (pcapPath !== undefined) pcap = await PcapWriter.create(pcapPath);
    const writers: FrameWriter[] = [live];
    if (pcap !== null) writers.push(pcap);
    let index = 0;
    const writer: FrameWriter = {
      writeFrame(bytes, offset, length, timestampMs) {
        for (const w of writers) w.writeFrame(bytes, offset, length, timestampMs);
        index++;
        if (verbose) {
          if (origin < 0) origin = timestampMs;
          const frame = decodeFrame(bytes.subarray(offset, offset + length), timestampMs, index);
          log(describeFrame(frame, origin));
        }
      },
    };
    device = new CaptureDevice(device, writer);
    const stack = new Stack({
      device,
      ipv4: ip,
      ...(ip6 === undefined ? {} : {
        ipv6: ip6,
        ...(memory
          ? { ipv6Options: { addressOptions: { dadTransmits: 0, maxDadDelayMs: 0 } } }
          : {}),
      }),
      gateway,
      dns: dns !== undefined ? [dns] : [],
      dnsTimeoutMs: 1000,
      dnsAttempts: 2,
    });
    if (peer !== null) {
      await peer.start();
      serveZone(peer.listenDatagram({ port: DNS_PORT }), MEMORY_ZONE);
      await opts.setupPeer?.(peer);
    }
    await stack.start();
    return {
      stack,
      peer,
      live,
      async close() {
        // Let connections the command closed finish their FIN exchange, as a
        // kernel would after the process exits, instead of resetting them.
        await stack.close({ lingerMs: CLOSE_LINGER_MS });
        await peer?.close();
        pcap?.close();
      },
    };
  } catch (e) {
    device.close();
    await peer?.close();
    pcap?.close();
    if (e instanceof TypeError) throw new UsageError(e.message);
    throw e;
  }
}

/**
 * A tiny authoritative DNS server on a rawstack UDP socket (RFC 1035 §4):
 * A records and CNAMEs from `zone` (`"cname:target"`), NXDOMAIN otherwise.
 *
 * @example
 * ```ts
 * import { serveZone } from "./network.ts";
 * import { Stack } from "../stack.ts";
 * import { MemoryLink } from "../phy/memory_link.ts";
 * const [a, b] = MemoryLink.pair();
 * const server = new Stack({ device: b, ipv4: "192.0.2.1/24" });
 * const client = new Stack({ device: a, ipv4: "192.0.2.2/24", dns: ["192.0.2.1"] });
 * await server.start();
 * await client.start();
 * serveZone(server.listenDatagram({ port: 53 }), { "x.test": "192.0.2.7" });
 * console.assert((await client.resolveDns("x.test"))[0] === "192.0.2.7");
 * await client.close();
 * await server.close();
 * ```
 *
 * @param conn a UDP socket bound to port 53
 * @param zone name → address or `"cname:name"`
 */
export function serveZone(
  conn: UdpConn,
  zone: Readonly<Record<string, string | readonly string[]>>,
): void {
  (async () => {
    for await (const [data, from] of conn) {
      const q = DnsMessage.parse(data, 0, data.length);
      if (isWireError(q) || q.qr || q.questions.length !== 1) continue;
      const question = q.questions[0];
      const r = newDnsMessage(q.id);
      r.qr = true;
      r.aa = true;
      r.rd = q.rd;
      r.questions = [question];
      let name = question.name.toLowerCase();
      let found = false;
      for (let depth = 0; depth < MAX_CNAME_DEPTH; depth++) {
        const entry = zone[name];
        if (entry === undefined) break;
        found = true;
        if (typeof entry === "string" && entry.startsWith("cname:")) {
          const target = entry.slice("cname:".length);
          r.answers.push({
            name,
            type: DNS_TYPE_CNAME,
            class: DNS_CLASS_IN,
            ttl: DNS_TTL_S,
            target,
          });
          name = target;
          continue;
        }
        for (const text of typeof entry === "string" ? [entry] : entry) {
          const address = parseIpv4(text);
          const address6 = address === null ? parseIpv6(text) : null;
          if (question.type === DNS_TYPE_A && address !== null) {
            r.answers.push({
              name,
              type: DNS_TYPE_A,
              class: DNS_CLASS_IN,
              ttl: DNS_TTL_S,
              address,
            });
          } else if (question.type === DNS_TYPE_AAAA && address6 !== null) {
            // RFC 3596 §2.2: 16 bytes of address.
            r.answers.push({
              name,
              type: DNS_TYPE_AAAA,
              class: DNS_CLASS_IN,
              ttl: DNS_TTL_S,
              address6: address6.toBytes(),
            });
          }
        }
        break;
      }
      if (!found) r.rcode = DNS_RCODE_NXDOMAIN;
      await conn.send(DnsMessage.toBytes(r), from);
    }
  })().catch(() => {
    // the socket closed with the stack
  });
}
