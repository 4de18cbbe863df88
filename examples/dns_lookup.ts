// deno run --allow-ffi --allow-read examples/dns_lookup.ts --iface rs0 --netns NS --ip 192.0.2.2/24 --dns 192.0.2.1 host.test
/**
 * Looks names up with rawstack's DNS stub resolver (A, or AAAA with `-t AAAA`).
 *
 * With `--iface` it drives that interface through AF_PACKET (root or
 * CAP_NET_RAW) and asks the `--dns` server. Without `--iface` it runs two
 * in-process stacks over a MemoryLink, the second serving a tiny zone
 * (`host.test`, `www.test` → CNAME) written on rawstack's own UDP API:
 * `deno run examples/dns_lookup.ts www.test nope.test`.
 *
 * @module
 */

import {
  AfPacketDevice,
  type Device,
  DNS_CLASS_IN,
  DNS_RCODE_NXDOMAIN,
  DNS_TYPE_A,
  DNS_TYPE_CNAME,
  DnsError,
  DnsMessage,
  isWireError,
  MemoryLink,
  newDnsMessage,
  parseIpv4,
  Stack,
  type UdpConn,
} from "../mod.ts";

const args = parseArgs(Deno.args);
const names = args.positional.length > 0 ? args.positional : ["host.test", "www.test", "nope.test"];
const type = args.flags.t === "AAAA" ? "AAAA" : "A";
let device: Device;
let peer: Stack | null = null;
let dns = args.flags.dns ?? "192.0.2.1";
if (args.flags.iface !== undefined) {
  device = await AfPacketDevice.open(args.flags.iface, { netns: args.flags.netns });
} else {
  const [a, b] = MemoryLink.pair();
  device = a;
  peer = new Stack({ device: b, ipv4: "192.0.2.1/24" });
  await peer.start();
  serveZone(peer.listenDatagram({ port: 53 }), {
    "host.test": "192.0.2.10",
    "www.test": "cname:host.test",
  });
  dns = "192.0.2.1";
}
const stack = new Stack({
  device,
  ipv4: args.flags.ip ?? "192.0.2.2/24",
  gateway: args.flags.gateway,
  dns: [dns],
  dnsTimeoutMs: 1000,
  dnsAttempts: 2,
});
await stack.start();
let failed = false;
try {
  for (const name of names) {
    try {
      const addresses = await stack.resolveDns(name, type);
      console.log(`${name} ${type} ${addresses.length > 0 ? addresses.join(" ") : "(no records)"}`);
    } catch (e) {
      if (!(e instanceof DnsError)) throw e;
      failed = true;
      console.log(`${name} ${type} ${e.message}`);
    }
  }
} finally {
  await stack.close();
  await peer?.close();
}
if (failed && args.flags.iface !== undefined) Deno.exitCode = 1;

/** A tiny authoritative server: A records and CNAMEs from `zone`, NXDOMAIN otherwise. */
function serveZone(conn: UdpConn, zone: Record<string, string>): void {
  (async () => {
    for await (const [data, from] of conn) {
      const q = DnsMessage.parse(data, 0, data.length);
      if (isWireError(q) || q.qr || q.questions.length !== 1) continue;
      const r = newDnsMessage(q.id);
      r.qr = r.aa = r.ra = true;
      r.rd = q.rd;
      r.questions = q.questions;
      let name = q.questions[0].name.toLowerCase();
      let value = zone[name];
      if (value === undefined) r.rcode = DNS_RCODE_NXDOMAIN;
      while (value !== undefined && value.startsWith("cname:")) {
        const target = value.slice(6);
        r.answers.push({ name, type: DNS_TYPE_CNAME, class: DNS_CLASS_IN, ttl: 60, target });
        name = target;
        value = zone[name];
      }
      if (value !== undefined && q.questions[0].type === DNS_TYPE_A) {
        // DnsRecord.address is the unsigned form (src/wire/dns.ts); parseIpv4 gives int32.
        const address = parseIpv4(value)!;
        r.answers.push({ name, type: DNS_TYPE_A, class: DNS_CLASS_IN, ttl: 60, address });
      }
      await conn.send(DnsMessage.toBytes(r), from);
    }
  })().catch((e) => console.error("DNS server:", e));
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
