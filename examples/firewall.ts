// deno run examples/firewall.ts
/**
 * A small stateless firewall as a packet hook: a router between an inside
 * (198.51.100.0/24) and an outside (203.0.113.0/24) network whose `forward`
 * hook lets through ICMP echo, TCP to ports 80 and 443, DNS over UDP, and
 * any reply coming back to the inside from those ports, and drops the rest.
 * Hooks are plain TypeScript functions over the datagram in place
 * (src/iface/hooks.ts); each point counts what it accepted and dropped.
 *
 * The demo runs on memory links: the inside host pings the outside host,
 * sends UDP to port 53 (allowed) and to port 9 (dropped), and the hook's
 * counters are printed.
 *
 * @module
 */

import {
  type HookPacket,
  type HookVerdict,
  IP_PROTOCOL_ICMP,
  IP_PROTOCOL_TCP,
  IP_PROTOCOL_UDP,
  MemoryLink,
  Stack,
} from "../mod.ts";

const INSIDE = 0;
const ALLOWED_TCP = new Set([80, 443]);
const ALLOWED_UDP = new Set([53]);
const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;

/** The rule set: what may go out, and replies to it. */
function filter(p: HookPacket): HookVerdict {
  const out = p.inInterface === INSIDE;
  switch (p.protocol) {
    case IP_PROTOCOL_ICMP: {
      const type = p.bytes[p.offset + p.headerLength];
      return type === (out ? ICMP_ECHO_REQUEST : ICMP_ECHO_REPLY) ? "accept" : "drop";
    }
    case IP_PROTOCOL_TCP: {
      const port = out ? p.destinationPort : p.sourcePort;
      return ALLOWED_TCP.has(port) ? "accept" : "drop";
    }
    case IP_PROTOCOL_UDP: {
      const port = out ? p.destinationPort : p.sourcePort;
      return ALLOWED_UDP.has(port) ? "accept" : "drop";
    }
    default:
      return "drop";
  }
}

const [r0, in0] = MemoryLink.pair();
const [r1, out1] = MemoryLink.pair();
const firewall = new Stack({
  interfaces: [
    { device: r0, ipv4: "198.51.100.1/24" },
    { device: r1, ipv4: "203.0.113.1/24" },
  ],
  forwarding: true,
  hooks: { forward: filter },
});
const inside = new Stack({ device: in0, ipv4: "198.51.100.2/24", gateway: "198.51.100.1" });
const outside = new Stack({ device: out1, ipv4: "203.0.113.2/24", gateway: "203.0.113.1" });
for (const s of [firewall, inside, outside]) await s.start();

const ping = await inside.ping("203.0.113.2", { count: 1 });
console.log(`ping: ${ping.summary.received}/1 replies`);

const dns = outside.listenDatagram({ port: 53 });
const discard = outside.listenDatagram({ port: 9 });
const client = inside.listenDatagram({ port: 0 });
const hello = new TextEncoder().encode("hello");
await client.send(hello, { hostname: "203.0.113.2", port: 53 });
await client.send(hello, { hostname: "203.0.113.2", port: 9 });
const [, from] = await dns.receive();
console.log(`port 53: delivered (from ${from.hostname})`);
const port9 = discard.receive().then(() => "delivered", () => "nothing");
const timeout = new Promise<string>((r) => setTimeout(() => r("nothing within 200 ms"), 200));
console.log(`port 9: ${await Promise.race([port9, timeout])}`);

const h = firewall.stats().router!.hooks.forward;
console.log(`forward hook: ${h.accepted} accepted, ${h.dropped} dropped`);
for (const c of [dns, discard, client]) c.close();
for (const s of [inside, outside, firewall]) await s.close();
