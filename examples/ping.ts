// deno run --allow-ffi --allow-read examples/ping.ts --iface rs0 --netns NS --ip 192.0.2.2/24 192.0.2.1
/**
 * ping(8) on rawstack.
 *
 * With `--iface` it drives that interface through AF_PACKET (root or
 * CAP_NET_RAW; `--netns` opens it inside a named network namespace). Without
 * `--iface` it runs two in-process stacks over a MemoryLink (no root needed)
 * and pings the second one: `deno run examples/ping.ts`.
 *
 * Options: `--ip CIDR` (default 192.0.2.2/24), `--gateway IP`, `--dns IP`,
 * `-c COUNT` (4), `-s SIZE` (56), `-i INTERVAL_MS` (1000), `-W TIMEOUT_MS` (1000).
 *
 * @module
 */

import { AfPacketDevice, type Device, MemoryLink, type PingResult, Stack } from "../mod.ts";

const args = parseArgs(Deno.args);
const target = args.positional[0] ?? "192.0.2.1";
let device: Device;
let peer: Stack | null = null;
if (args.flags.iface !== undefined) {
  device = await AfPacketDevice.open(args.flags.iface, { netns: args.flags.netns });
} else {
  // No root: a second rawstack host on the other end of an in-memory Ethernet.
  const [a, b] = MemoryLink.pair();
  device = a;
  peer = new Stack({ device: b, ipv4: "192.0.2.1/24" });
  await peer.start();
}
const stack = new Stack({
  device,
  ipv4: args.flags.ip ?? "192.0.2.2/24",
  gateway: args.flags.gateway,
  dns: args.flags.dns !== undefined ? [args.flags.dns] : [],
});
await stack.start();
try {
  const size = Number(args.flags.s ?? 56);
  console.log(`PING ${target} ${size}(${size + 28}) bytes of data.`);
  const result = await stack.ping(target, {
    count: Number(args.flags.c ?? 4),
    size,
    intervalMs: Number(args.flags.i ?? 1000),
    timeoutMs: Number(args.flags.W ?? 1000),
  });
  console.log(formatPing(result));
} finally {
  await stack.close();
  await peer?.close();
}

function formatPing(r: PingResult): string {
  const lines = r.replies.map((x) =>
    `${x.bytes + 8} bytes from ${r.address}: icmp_seq=${x.sequence + 1} time=${
      x.rttMs.toFixed(3)
    } ms`
  );
  const s = r.summary;
  lines.push(`\n--- ${r.host} ping statistics ---`);
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

function parseArgs(argv: string[]): { flags: Record<string, string>; positional: string[] } {
  const flags: Record<string, string> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("-") && i + 1 < argv.length) flags[a.replace(/^--?/, "")] = argv[++i];
    else positional.push(a);
  }
  return { flags, positional };
}
