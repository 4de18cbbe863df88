/**
 * The resolver on host A against a tiny DNS server written on our UDP API on
 * host B, over MemoryLink with real NetworkInterfaces (no root).
 */
import assert from "node:assert/strict";
import { DnsResolver } from "../../src/dns/resolver.ts";
import type { UdpLayer } from "../../src/udp/udp_layer.ts";
import {
  DNS_CLASS_IN,
  DNS_RCODE_NXDOMAIN,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_CNAME,
  DnsMessage,
  newDnsMessage,
} from "../../src/wire/dns.ts";
import { isWireError } from "../../src/wire/error.ts";
import { assertTsharkClean, twoHosts } from "../udp/_memory_hosts.ts";
import { B_ADDR, tcpPair } from "../socket/_tcp_helpers.ts";

/** A tiny authoritative-looking server on `udp` port 53; `silent` makes it drop queries. */
function tinyServer(udp: UdpLayer, opts: { silent?: boolean } = {}) {
  const ep = udp.bind(53);
  const served = { count: 0 };
  ep.onReadable = () => {
    for (let d = ep.tryReceive(); d !== null; d = ep.tryReceive()) {
      served.count++;
      if (opts.silent) continue;
      const q = DnsMessage.parse(d.data);
      if (isWireError(q) || q.questions.length !== 1) continue;
      const { name, type } = q.questions[0];
      const r = newDnsMessage(q.id);
      r.qr = true;
      r.rd = q.rd;
      r.ra = true;
      r.questions = q.questions;
      const lower = name.toLowerCase();
      if (lower === "www.lab.test") {
        r.answers.push({
          name,
          type: DNS_TYPE_CNAME,
          class: DNS_CLASS_IN,
          ttl: 60,
          target: "host.lab.test",
        });
      }
      if (lower === "host.lab.test" || lower === "www.lab.test") {
        if (type === DNS_TYPE_A) {
          r.answers.push({
            name: "host.lab.test",
            type: DNS_TYPE_A,
            class: DNS_CLASS_IN,
            ttl: 60,
            address: 0xc0000242,
          });
        } else if (type === DNS_TYPE_AAAA) {
          const a6 = new Uint8Array(16);
          a6.set([0x20, 0x01, 0x0d, 0xb8]);
          a6[15] = 0x42;
          r.answers.push({
            name: "host.lab.test",
            type,
            class: DNS_CLASS_IN,
            ttl: 60,
            address6: a6,
          });
        }
      } else {
        r.rcode = DNS_RCODE_NXDOMAIN;
      }
      ep.send(0, DnsMessage.toBytes(r), d.srcAddr, d.srcPort);
    }
  };
  return served;
}

Deno.test("DnsResolver resolves A, AAAA, CNAME and NXDOMAIN over MemoryLink", async () => {
  const h = twoHosts();
  try {
    tinyServer(h.udpB);
    const resolver = new DnsResolver(h.udpA, { servers: ["192.0.2.2"] });
    const go = (name: string, type: "A" | "AAAA") => {
      const l = resolver.resolve(h.now, name, type);
      h.pump(h.now + 1);
      assert.ok(l.done, `${name} ${type} finished`);
      return l;
    };
    assert.deepEqual(go("host.lab.test", "A").result, ["192.0.2.66"]);
    assert.deepEqual(go("host.lab.test", "AAAA").result, ["2001:db8::42"]);
    assert.deepEqual(go("www.lab.test", "A").result, ["192.0.2.66"]);
    const nx = go("missing.lab.test", "A");
    assert.equal(nx.error?.code, "NXDOMAIN");
    assert.equal(h.udpA.boundCount, 0, "every lookup released its port");
    await assertTsharkClean(h.frames());
  } finally {
    h.close();
  }
});

Deno.test("DnsResolver times out against a silent server after the configured attempts", () => {
  const h = twoHosts();
  try {
    const served = tinyServer(h.udpB, { silent: true });
    const resolver = new DnsResolver(h.udpA, {
      servers: ["192.0.2.2"],
      timeoutMs: 2000,
      attempts: 3,
    });
    const l = resolver.resolve(h.now, "host.lab.test", "A");
    h.pump(h.now);
    // Drive the manual clock from deadline to deadline, as the stack's loop does.
    while (!l.done) {
      const t = resolver.nextDeadline();
      assert.ok(t < Infinity);
      h.pump(t);
      resolver.poll(t);
      h.pump(t);
    }
    assert.equal(l.error?.code, "TIMEOUT");
    assert.equal(served.count, 3);
    assert.equal(h.now, 6000);
  } finally {
    h.close();
  }
});

Deno.test("DnsResolver reports UNREACHABLE when no server listens (ICMP port unreachable)", () => {
  const h = twoHosts();
  try {
    const resolver = new DnsResolver(h.udpA, { servers: ["192.0.2.2"], attempts: 1 });
    const l = resolver.resolve(h.now, "host.lab.test", "A");
    h.pump(h.now + 1);
    assert.equal(l.error?.code, "UNREACHABLE");
    assert.equal(resolver.stats.timeouts, 0);
  } finally {
    h.close();
  }
});

Deno.test("Stack.resolveDns asks a truncated answer again over its own TCP (RFC 7766 §5)", async () => {
  const { a, b, close } = await tcpPair({ a: { dns: [B_ADDR] } });
  const RECORDS = 60; // 12 + 14 + 60 × 16 bytes: far beyond a 512-byte UDP answer
  const fullAnswer = (q: DnsMessage) => {
    const r = newDnsMessage(q.id);
    r.qr = true;
    r.rd = q.rd;
    r.ra = true;
    r.questions = q.questions;
    for (let i = 0; i < RECORDS; i++) {
      r.answers.push({
        name: q.questions[0].name,
        type: DNS_TYPE_A,
        class: DNS_CLASS_IN,
        ttl: 60,
        address: 0xcb007100 + i, // 203.0.113.i
      });
    }
    return r;
  };
  // The server on B: over UDP only the header and question with TC set, over TCP everything.
  const udp = b.listenDatagram({ port: 53 });
  const udpServer = (async () => {
    for await (const [data, from] of udp) {
      const q = DnsMessage.parse(data);
      if (isWireError(q)) continue;
      const r = fullAnswer(q);
      r.answers = [];
      r.tc = true;
      await udp.send(DnsMessage.toBytes(r), from);
    }
  })().catch(() => {});
  const listener = b.listen({ port: 53 });
  const tcpQueries: string[] = [];
  const tcpServer = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(1024);
    let have = 0;
    while (have < 2 || have < 2 + ((buf[0] << 8) | buf[1])) {
      const n = await conn.read(buf.subarray(have));
      if (n === null) throw new Error("client closed before its query was complete");
      have += n;
    }
    const q = DnsMessage.parse(buf, 2, (buf[0] << 8) | buf[1]);
    if (isWireError(q)) throw q;
    tcpQueries.push(q.questions[0].name);
    const body = DnsMessage.toBytes(fullAnswer(q));
    await conn.write(Uint8Array.of(body.length >>> 8, body.length & 0xff, ...body));
    assert.equal(await conn.read(buf), null, "the client closes once it has the answer");
    conn.close();
  })();
  try {
    const addresses = await a.resolveDns("many.lab.test", "A");
    assert.equal(addresses.length, RECORDS);
    assert.equal(addresses[RECORDS - 1], `203.0.113.${RECORDS - 1}`);
    await tcpServer;
    assert.deepEqual(tcpQueries, ["many.lab.test"]);
    const dns = a.stats().dns;
    assert.equal(dns.truncated, 1);
    assert.equal(dns.tcpQueries, 1);
    assert.equal(dns.tcpFailures, 0);
  } finally {
    listener.close();
    udp.close();
    await udpServer;
    await close();
  }
});
