import assert from "node:assert/strict";
import type { Stack } from "../../src/stack.ts";
import {
  DNS_CLASS_IN,
  DNS_RCODE_NXDOMAIN,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DnsMessage,
  newDnsMessage,
} from "../../src/wire/dns.ts";
import { isWireError } from "../../src/wire/error.ts";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import { parseIpv4 } from "../../src/wire/address.ts";
import { pair6, withPair6 } from "../ipv6_pair.ts";

/** A DNS server on `stack` port 53 (our UDP API) answering from `zone`: name → addresses. */
function dnsServer(stack: Stack, zone: Record<string, string[]>): { queries: string[] } {
  const sock = stack.listenDatagram({ port: 53 });
  const log = { queries: [] as string[] };
  (async () => {
    for await (const [data, from] of sock) {
      const q = DnsMessage.parse(data);
      if (isWireError(q) || q.questions.length !== 1) continue;
      const { name, type } = q.questions[0];
      log.queries.push(`${type === DNS_TYPE_AAAA ? "AAAA" : "A"} ${name} from ${from.hostname}`);
      const r = newDnsMessage(q.id);
      r.qr = true;
      r.rd = q.rd;
      r.ra = true;
      r.questions = q.questions;
      const list = zone[name.toLowerCase().replace(/\.$/, "")];
      if (list === undefined) r.rcode = DNS_RCODE_NXDOMAIN;
      for (const a of list ?? []) {
        if (type === DNS_TYPE_AAAA && a.includes(":")) {
          r.answers.push({
            name,
            type,
            class: DNS_CLASS_IN,
            ttl: 60,
            address6: Ipv6Address.parse(a).toBytes(),
          });
        } else if (type === DNS_TYPE_A && !a.includes(":")) {
          r.answers.push({ name, type, class: DNS_CLASS_IN, ttl: 60, address: parseIpv4(a)! });
        }
      }
      await sock.send(DnsMessage.toBytes(r), from);
    }
  })().catch(() => {});
  return log;
}

async function drive<T>(p: Promise<T>, step: (ms: number) => void, ms = 10): Promise<T> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  for (let i = 0; i < 2000 && !done; i++) {
    step(ms);
    await new Promise((r) => setTimeout(r, 0));
  }
  return await p;
}

const ZONE = {
  "dual.test": ["2001:db8:1::1", "192.0.2.1"],
  // The AAAA record names an address nobody holds: IPv6 attempts never complete.
  "broken6.test": ["2001:db8:1::99", "192.0.2.1"],
  "v6only.test": ["2001:db8:1::1"],
};

Deno.test("Stack behaviour: DNS over IPv6 — AAAA and A lookups from a server reached at an IPv6 address", async () => {
  await withPair6(
    { ipv4: "192.0.2.2/24", ipv6: "2001:db8:1::2/64", dns: ["[2001:db8:1::1]"] },
    { ipv4: "192.0.2.1/24", ipv6: "2001:db8:1::1/64" },
    async ({ a, b, step }) => {
      const log = dnsServer(b, ZONE);
      assert.deepEqual(await drive(a.resolveDns("dual.test", "AAAA"), step), ["2001:db8:1::1"]);
      assert.deepEqual(await drive(a.resolveDns("dual.test", "A"), step), ["192.0.2.1"]);
      assert.ok(log.queries.every((q) => q.endsWith("from 2001:db8:1::2")), log.queries.join());
    },
  );
});

Deno.test("Stack behaviour: Happy Eyeballs connects over IPv6 first when a name has both A and AAAA (RFC 8305)", async () => {
  await withPair6(
    { ipv4: "192.0.2.2/24", ipv6: "2001:db8:1::2/64", dns: ["192.0.2.1"] },
    { ipv4: "192.0.2.1/24", ipv6: "2001:db8:1::1/64" },
    async ({ a, b, step }) => {
      dnsServer(b, ZONE);
      const listener = b.listen({ port: 80 });
      const c = await drive(a.connect({ hostname: "dual.test", port: 80 }), step);
      assert.equal(c.remoteAddr.hostname, "2001:db8:1::1");
      const v6only = await drive(a.connect({ hostname: "v6only.test", port: 80 }), step);
      assert.equal(v6only.remoteAddr.hostname, "2001:db8:1::1");
      c.close();
      v6only.close();
      listener.close();
    },
  );
});

Deno.test("Stack behaviour: Happy Eyeballs falls back to IPv4 after the 250 ms attempt delay when IPv6 does not answer", async () => {
  const { a, b, step, clock, settle } = pair6(
    { ipv4: "192.0.2.2/24", ipv6: "2001:db8:1::2/64", dns: ["192.0.2.1"] },
    { ipv4: "192.0.2.1/24", ipv6: "2001:db8:1::1/64" },
  );
  // 5 ms steps (pair6's step advances in 100 ms polls), so the delay shows on the manual clock.
  const fine = () => {
    clock.advance(5);
    settle();
  };
  try {
    await a.start();
    await b.start();
    step(2500);
    dnsServer(b, ZONE);
    const listener = b.listen({ port: 80 });
    const t0 = clock.now();
    const c = await drive(a.connect({ hostname: "broken6.test", port: 80 }), fine);
    assert.equal(c.remoteAddr.hostname, "192.0.2.1");
    // The IPv4 attempt waited for the Connection Attempt Delay (manual clock: deterministic).
    assert.ok(clock.now() - t0 >= 250, `connected after ${clock.now() - t0} ms`);
    assert.equal(a.tcp.connectionCount6, 0, "the IPv6 attempt was closed");
    c.close();
    listener.close();
  } finally {
    await a.close();
    await b.close();
  }
});
