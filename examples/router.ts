// deno run -A examples/router.ts --a ra --b rb --netns NS   (or without flags: an in-memory demo)
/**
 * A router on rawstack: one stack with two interfaces and `forwarding: true`
 * routes between 198.51.100.0/24 and 203.0.113.0/24 (RFC 1812: TTL,
 * time exceeded, fragmentation needed, no martians).
 *
 * With `--a IFACE --b IFACE` it drives those two interfaces through
 * AF_PACKET (root or CAP_NET_RAW; `--netns` to open them in a namespace)
 * as 198.51.100.1 and 203.0.113.1 until Ctrl-C, printing its forwarding
 * counters every few seconds; `RouterLab` (src/testing/router_lab.ts)
 * builds such namespaces. Without flags, two hosts on memory links ping and
 * send 1 MB of TCP to each other through it, and the counters are printed:
 * `deno run examples/router.ts`.
 *
 * @module
 */

import { AfPacketDevice, MemoryLink, Stack } from "../mod.ts";

const flags = parseFlags(Deno.args);

if (flags.a !== undefined && flags.b !== undefined) {
  const a = await AfPacketDevice.open(flags.a, { netns: flags.netns });
  const b = await AfPacketDevice.open(flags.b, { netns: flags.netns });
  const router = new Stack({
    interfaces: [
      { device: a, ipv4: flags["a-ip"] ?? "198.51.100.1/24" },
      { device: b, ipv4: flags["b-ip"] ?? "203.0.113.1/24" },
    ],
    forwarding: true,
  });
  await router.start();
  console.log(`routing between ${flags.a} and ${flags.b} (Ctrl-C to stop)`);
  const timer = setInterval(() => console.log(router.stats().router!.forward), 5000);
  await new Promise<void>((resolve) => Deno.addSignalListener("SIGINT", resolve));
  clearInterval(timer);
  await router.close();
} else {
  const [r0, a0] = MemoryLink.pair();
  const [r1, b1] = MemoryLink.pair();
  const router = new Stack({
    interfaces: [
      { device: r0, ipv4: "198.51.100.1/24" },
      { device: r1, ipv4: "203.0.113.1/24" },
    ],
    forwarding: true,
  });
  const hostA = new Stack({ device: a0, ipv4: "198.51.100.2/24", gateway: "198.51.100.1" });
  const hostB = new Stack({ device: b1, ipv4: "203.0.113.2/24", gateway: "203.0.113.1" });
  for (const s of [router, hostA, hostB]) await s.start();

  const ping = await hostA.ping("203.0.113.2", { count: 3, intervalMs: 10 });
  console.log(`ping 203.0.113.2 through the router: ${ping.summary.received}/3 replies`);

  const listener = hostB.listen({ port: 9000 });
  const data = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
  const received = (async () => {
    const conn = await listener.accept();
    let n = 0;
    const buf = new Uint8Array(65536);
    for (let r = await conn.read(buf); r !== null; r = await conn.read(buf)) n += r;
    conn.close();
    return n;
  })();
  const conn = await hostA.connect({ hostname: "203.0.113.2", port: 9000 });
  await conn.write(data);
  conn.close();
  console.log(`TCP through the router: ${await received} bytes`);
  const f = router.stats().router!.forward;
  console.log(
    `forwarded ${f.forwarded} datagrams (${f.zeroCopy} in place, ${f.copied} copied), dropped ${f.dropped}`,
  );
  for (const r of router.router!.routes()) {
    console.log(`route ${r.destination} via ${r.gateway ?? "on-link"} dev ${r.interface}`);
  }
  listener.close();
  for (const s of [hostA, hostB, router]) await s.close();
}

function parseFlags(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < argv.length; i += 2) out[argv[i].replace(/^--?/, "")] = argv[i + 1];
  return out;
}
