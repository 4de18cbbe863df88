// deno run -A examples/nat.ts --inside ra --outside rb --netns NS   (or without flags: an in-memory demo)
/**
 * A NAT gateway on rawstack: `masquerade: true` on the outside interface
 * rewrites what the inside sends out to the outside address and a port of
 * ours (TCP, UDP, ICMP echo, connection tracking with timeouts; see
 * src/iface/nat.ts), and replies back to the inside host.
 *
 * With `--inside IFACE --outside IFACE` (AF_PACKET, root) it masquerades
 * 198.51.100.0/24 behind 203.0.113.1 until Ctrl-C and prints the
 * connection table every few seconds. Without flags, an inside host on a
 * memory link pings and sends UDP to an outside host that has no route back
 * to the inside network, and the NAT table is printed.
 *
 * @module
 */

import { AfPacketDevice, formatIpv4, MemoryLink, Stack } from "../mod.ts";

const flags = parseFlags(Deno.args);

if (flags.inside !== undefined && flags.outside !== undefined) {
  const inside = await AfPacketDevice.open(flags.inside, { netns: flags.netns });
  const outside = await AfPacketDevice.open(flags.outside, { netns: flags.netns });
  const gw = new Stack({
    interfaces: [
      { device: inside, ipv4: flags["inside-ip"] ?? "198.51.100.1/24" },
      {
        device: outside,
        ipv4: flags["outside-ip"] ?? "203.0.113.1/24",
        gateway: flags.gateway ?? null,
        masquerade: true,
      },
    ],
    forwarding: true,
  });
  await gw.start();
  console.log(`masquerading ${flags.inside} behind ${flags.outside} (Ctrl-C to stop)`);
  const timer = setInterval(() => console.log(gw.stats().router!.nat), 5000);
  await new Promise<void>((resolve) => Deno.addSignalListener("SIGINT", resolve));
  clearInterval(timer);
  await gw.close();
} else {
  const [g0, in0] = MemoryLink.pair();
  const [g1, out1] = MemoryLink.pair();
  const gw = new Stack({
    interfaces: [
      { device: g0, ipv4: "198.51.100.1/24" },
      { device: g1, ipv4: "203.0.113.1/24", masquerade: true },
    ],
    forwarding: true,
  });
  const inside = new Stack({ device: in0, ipv4: "198.51.100.2/24", gateway: "198.51.100.1" });
  // No gateway: the outside host cannot reach 198.51.100.0/24 except through NAT.
  const outside = new Stack({ device: out1, ipv4: "203.0.113.2/24" });
  for (const s of [gw, inside, outside]) await s.start();

  const ping = await inside.ping("203.0.113.2", { count: 2, intervalMs: 10 });
  console.log(`inside pings outside: ${ping.summary.received}/2 replies`);

  const server = outside.listenDatagram({ port: 7 });
  const client = inside.listenDatagram({ port: 4000 });
  await client.send(new TextEncoder().encode("hello"), { hostname: "203.0.113.2", port: 7 });
  const [data, from] = await server.receive();
  console.log(`outside got "${new TextDecoder().decode(data)}" from ${from.hostname}:${from.port}`);
  await server.send(data, from);
  const [, back] = await client.receive();
  console.log(`inside got the reply from ${back.hostname}:${back.port}`);

  for (const e of gw.router!.natTable()) {
    console.log(
      `${e.protocol} ${formatIpv4(e.inside[0])}:${e.inside[1]} → ${formatIpv4(e.external[0])}:${
        e.external[1]
      } → ${formatIpv4(e.remote[0])}:${e.remote[1]}`,
    );
  }
  server.close();
  client.close();
  for (const s of [inside, outside, gw]) await s.close();
}

function parseFlags(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < argv.length; i += 2) out[argv[i].replace(/^--?/, "")] = argv[i + 1];
  return out;
}
