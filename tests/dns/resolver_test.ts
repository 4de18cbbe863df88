import assert from "node:assert/strict";
import {
  DnsLookup,
  DnsResolver,
  type DnsResolverOptions,
  type DnsStream,
  type DnsStreamEvents,
  type DnsTcpTransport,
} from "../../src/dns/resolver.ts";
import { DnsError } from "../../src/dns/dns_error.ts";
import { HostsTable } from "../../src/dns/hosts.ts";
import { type UdpEndpoint, type UdpIpSender, UdpLayer } from "../../src/udp/udp_layer.ts";
import { TestBuffer } from "../udp/_packet_buffer.ts";
import {
  DNS_CLASS_IN,
  DNS_RCODE_NXDOMAIN,
  DNS_RCODE_REFUSED,
  DNS_RCODE_SERVFAIL,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_CNAME,
  DNS_TYPE_SOA,
  DnsMessage,
  type DnsRecord,
  newDnsMessage,
} from "../../src/wire/dns.ts";
import { isWireError } from "../../src/wire/error.ts";

const CLIENT = 0xc0000202 | 0; // 192.0.2.2
const SERVER1 = 0xc0000201 | 0; // 192.0.2.1
const SERVER2 = 0xc0000235 | 0; // 192.0.2.53
const OTHER = 0xc0000263 | 0; // 192.0.2.99

// ---- a tiny network: UDP layers joined by a queue, delivered on flush() ----

interface InFlight {
  src: number;
  dst: number;
  bytes: Uint8Array;
}

class Net {
  now = 0;
  hosts = new Map<number, UdpLayer>();
  queue: InFlight[] = [];
  log: InFlight[] = [];

  host(addr: number): UdpLayer {
    const sender: UdpIpSender = {
      allocate: () => new TestBuffer(2048),
      send: (buf, dst) => {
        const item = { src: addr, dst, bytes: buf.bytes.slice(buf.head, buf.tail) };
        this.queue.push(item);
        this.log.push(item);
        return true;
      },
      sourceAddressFor: () => addr,
      mtuFor: () => 1500,
    };
    const layer = new UdpLayer(sender, {
      // ICMP port unreachable back to the sender (RFC 1122 §4.1.3.1), quoting IPv4 + 8 bytes.
      unreachable: {
        portUnreachable: (_now, src, dst, bytes, offset) => {
          const quote = new Uint8Array(28);
          quote[0] = 0x45;
          // Total length: the IPv4 header + the UDP length of the datagram quoted.
          new DataView(quote.buffer).setUint16(
            2,
            20 + ((bytes[offset + 4] << 8) | bytes[offset + 5]),
          );
          quote[9] = 17;
          new DataView(quote.buffer).setUint32(12, src);
          new DataView(quote.buffer).setUint32(16, dst);
          quote.set(bytes.subarray(offset, offset + 8), 20);
          this.hosts.get(src)?.onIcmpError(this.now, 3, 3, 0, quote, 0, 28);
        },
      },
    });
    this.hosts.set(addr, layer);
    return layer;
  }

  /** Delivers queued datagrams (and what they cause) until quiet. */
  flush(): void {
    for (let i = 0; i < 1000 && this.queue.length > 0; i++) {
      const { src, dst, bytes } = this.queue.shift()!;
      this.hosts.get(dst)?.onPacket(this.now, src, dst, bytes, 0, bytes.length);
    }
  }

  /** Queries seen on the wire to `dst` (parsed). */
  queriesTo(dst: number): DnsMessage[] {
    return this.log.filter((p) => p.dst === dst).map((p) => {
      const m = DnsMessage.parse(p.bytes, 8, p.bytes.length - 8);
      assert.ok(!isWireError(m));
      return m;
    });
  }
}

type Reply = DnsMessage | Uint8Array | null;

/** A DNS server on port 53 that answers with `handler` (null = stay silent). */
function dnsServer(
  layer: UdpLayer,
  handler: (q: DnsMessage, from: { addr: number; port: number }) => Reply,
  port = 53,
): UdpEndpoint {
  const ep = layer.bind(port);
  ep.onReadable = () => {
    for (let d = ep.tryReceive(); d !== null; d = ep.tryReceive()) {
      const q = DnsMessage.parse(d.data);
      if (isWireError(q)) continue;
      const reply = handler(q, { addr: d.srcAddr, port: d.srcPort });
      if (reply === null) continue;
      const bytes = reply instanceof Uint8Array ? reply : DnsMessage.toBytes(reply);
      ep.send(0, bytes, d.srcAddr, d.srcPort);
    }
  };
  return ep;
}

/** A response to `q` with the given answers. */
function answer(q: DnsMessage, records: DnsRecord[], rcode = 0): DnsMessage {
  const m = newDnsMessage(q.id);
  m.qr = true;
  m.rd = q.rd;
  m.ra = true;
  m.rcode = rcode;
  m.questions = q.questions.slice();
  m.answers = records;
  return m;
}

function a(name: string, addr: number, ttl = 300): DnsRecord {
  return { name, type: DNS_TYPE_A, class: DNS_CLASS_IN, ttl, address: addr };
}

function aaaa(name: string, text: string, ttl = 300): DnsRecord {
  const b = new Uint8Array(16);
  const [hi, lo] = text.split("::");
  hi.split(":").forEach((g, i) => new DataView(b.buffer).setUint16(2 * i, parseInt(g, 16)));
  if (lo) new DataView(b.buffer).setUint16(14, parseInt(lo, 16));
  return { name, type: DNS_TYPE_AAAA, class: DNS_CLASS_IN, ttl, address6: b };
}

function cname(name: string, target: string, ttl = 300): DnsRecord {
  return { name, type: DNS_TYPE_CNAME, class: DNS_CLASS_IN, ttl, target };
}

/** An SOA record (RFC 1035 §3.3.13) with root names and the given MINIMUM. */
function soa(ttl: number, minimum: number): DnsRecord {
  const rdata = new Uint8Array(22);
  new DataView(rdata.buffer).setUint32(18, minimum);
  return { name: "test", type: DNS_TYPE_SOA, class: DNS_CLASS_IN, ttl, rdata };
}

/** The usual zone of these tests. */
function zone(q: DnsMessage): Reply {
  const { name, type } = q.questions[0];
  const n = name.toLowerCase();
  if (n === "host.test" && type === DNS_TYPE_A) {
    return answer(q, [a(name, 0xc000020a, 120), a(name, 0xc000020b, 60)]);
  }
  if (n === "host.test" && type === DNS_TYPE_AAAA) return answer(q, [aaaa(name, "2001:db8::1")]);
  if (n === "www.test") {
    return answer(q, [
      cname(name, "alias.test", 30),
      cname("alias.test", "HOST.test"),
      a("host.test", 0xc000020a),
    ]);
  }
  if (n === "txtonly.test") {
    const m = answer(q, []);
    m.authorities = [soa(100, 40)];
    return m;
  }
  const m = answer(q, [], DNS_RCODE_NXDOMAIN);
  m.authorities = [soa(3600, 300)];
  return m;
}

function setup(opts: DnsResolverOptions = {}, handler = zone) {
  const net = new Net();
  const client = net.host(CLIENT);
  const server = net.host(SERVER1);
  dnsServer(server, handler);
  const resolver = new DnsResolver(client, { servers: ["192.0.2.1"], ...opts });
  return { net, client, server, resolver };
}

/** resolve + deliver everything. */
function run(net: Net, resolver: DnsResolver, name: string, type: "A" | "AAAA"): DnsLookup {
  const l = resolver.resolve(net.now, name, type);
  net.flush();
  return l;
}

function errorCode(l: DnsLookup): string | undefined {
  return l.error?.code;
}

// ---- tests ----

Deno.test("DnsResolver resolves A records through a DNS server", () => {
  const { net, client, resolver } = setup();
  const l = resolver.resolve(0, "host.test", "A");
  assert.ok(!l.done);
  let doneCalls = 0;
  l.onDone = () => doneCalls++;
  assert.equal(resolver.pendingCount, 1);
  assert.equal(client.boundCount, 1, "one ephemeral port while pending");
  net.flush();
  assert.equal(doneCalls, 1);
  assert.deepEqual(l.result, ["192.0.2.10", "192.0.2.11"]);
  assert.equal(l.source, "dns");
  assert.equal(l.error, null);
  assert.equal(client.boundCount, 0, "the port is released");
  assert.equal(resolver.pendingCount, 0);
  assert.equal(resolver.nextDeadline(), Infinity);
  // The query on the wire: RD set, one question, from an ephemeral port to 53.
  const [sent] = net.log;
  assert.equal(sent.dst, SERVER1);
  const srcPort = (sent.bytes[0] << 8) | sent.bytes[1];
  assert.ok(srcPort >= 49152);
  assert.equal((sent.bytes[2] << 8) | sent.bytes[3], 53);
  const q = net.queriesTo(SERVER1)[0];
  assert.ok(q.rd && !q.qr);
  assert.deepEqual(q.questions, [{ name: "host.test", type: DNS_TYPE_A, class: DNS_CLASS_IN }]);
});

Deno.test("DnsResolver resolves AAAA records", () => {
  const { net, resolver } = setup();
  const l = run(net, resolver, "host.test", "AAAA");
  assert.deepEqual(l.result, ["2001:db8::1"]);
  assert.equal(net.queriesTo(SERVER1)[0].questions[0].type, DNS_TYPE_AAAA);
});

Deno.test("DnsResolver uses a random query id and source port per lookup", () => {
  const { net, resolver } = setup();
  for (let i = 0; i < 8; i++) run(net, resolver, `n${i}.test`, "A");
  const queries = net.log.filter((p) => p.dst === SERVER1);
  const ids = new Set(queries.map((p) => (p.bytes[8] << 8) | p.bytes[9]));
  const ports = new Set(queries.map((p) => (p.bytes[0] << 8) | p.bytes[1]));
  assert.equal(queries.length, 8);
  assert.ok(ids.size >= 7, `ids ${[...ids]}`);
  assert.ok(ports.size >= 7, `ports ${[...ports]}`);
});

Deno.test("DnsResolver follows a CNAME chain within the answer", () => {
  const { net, resolver } = setup();
  const l = run(net, resolver, "www.test", "A");
  assert.deepEqual(l.result, ["192.0.2.10"]);
  // The chain's smallest TTL (30 s) governs the cache entry.
  net.now = 29_999;
  assert.equal(run(net, resolver, "www.test", "A").source, "cache");
  net.now = 30_000;
  assert.equal(run(net, resolver, "www.test", "A").source, "dns");
});

Deno.test("DnsResolver bounds the CNAME chain length", () => {
  const loop = (q: DnsMessage) => answer(q, [cname("a.test", "b.test"), cname("b.test", "a.test")]);
  const { net, resolver } = setup({ maxCnameDepth: 5, attempts: 1 }, loop);
  const l = run(net, resolver, "a.test", "A");
  assert.equal(errorCode(l), "SERVFAIL");
  assert.match(l.error!.message, /CNAME chain longer than 5/);
});

Deno.test("DnsResolver reports NXDOMAIN and caches it negatively by the SOA", () => {
  const { net, resolver } = setup();
  const l = run(net, resolver, "nope.test", "A");
  assert.ok(l.error instanceof DnsError);
  assert.equal(l.error.code, "NXDOMAIN");
  assert.equal(l.error.hostname, "nope.test");
  assert.equal(net.queriesTo(SERVER1).length, 1);
  // RFC 2308 §5: NXDOMAIN holds for every type, for min(SOA TTL, MINIMUM) = 300 s.
  net.now = 299_000;
  const again = run(net, resolver, "NOPE.test.", "AAAA");
  assert.equal(errorCode(again), "NXDOMAIN");
  assert.equal(again.source, "cache");
  assert.equal(net.queriesTo(SERVER1).length, 1);
  net.now = 300_000;
  assert.equal(errorCode(run(net, resolver, "nope.test", "A")), "NXDOMAIN");
  assert.equal(net.queriesTo(SERVER1).length, 2);
});

Deno.test("DnsResolver returns an empty list for NODATA and caches it", () => {
  const { net, resolver } = setup();
  const l = run(net, resolver, "txtonly.test", "A");
  assert.deepEqual(l.result, []);
  net.now = 39_000;
  assert.equal(run(net, resolver, "txtonly.test", "A").source, "cache");
  net.now = 40_000;
  assert.equal(run(net, resolver, "txtonly.test", "A").source, "dns");
});

Deno.test("DnsResolver reports SERVFAIL after trying every server", () => {
  const net = new Net();
  const client = net.host(CLIENT);
  dnsServer(net.host(SERVER1), (q) => answer(q, [], DNS_RCODE_SERVFAIL));
  dnsServer(net.host(SERVER2), (q) => answer(q, [], DNS_RCODE_SERVFAIL));
  const resolver = new DnsResolver(client, {
    servers: ["192.0.2.1", "192.0.2.53"],
    attempts: 1,
  });
  const l = run(net, resolver, "host.test", "A");
  assert.equal(errorCode(l), "SERVFAIL");
  assert.equal(net.queriesTo(SERVER1).length + net.queriesTo(SERVER2).length, 2);
  assert.equal(resolver.stats.errorRcodes, 2);
});

Deno.test("DnsResolver moves to the next server after SERVFAIL or REFUSED", () => {
  const net = new Net();
  const client = net.host(CLIENT);
  dnsServer(net.host(SERVER1), (q) => answer(q, [], DNS_RCODE_REFUSED));
  dnsServer(net.host(SERVER2), zone);
  const resolver = new DnsResolver(client, { servers: ["192.0.2.1", "192.0.2.53"] });
  const l = run(net, resolver, "host.test", "A"); // first lookup starts at server 1
  assert.deepEqual(l.result, ["192.0.2.10", "192.0.2.11"]);
  assert.equal(net.queriesTo(SERVER1).length, 1);
  assert.equal(net.queriesTo(SERVER2).length, 1);
  // A lone refusing server gives REFUSED.
  const only = new DnsResolver(client, { servers: ["192.0.2.1"], attempts: 2 });
  assert.equal(errorCode(run(net, only, "host.test", "A")), "REFUSED");
});

Deno.test("DnsResolver times out after the configured attempts against a silent server", () => {
  const { net, resolver } = setup({ timeoutMs: 500, attempts: 3 }, () => null);
  const scheduled: number[] = [];
  resolver.onSchedule = (d) => scheduled.push(d);
  const l = run(net, resolver, "host.test", "A");
  assert.equal(resolver.nextDeadline(), 500);
  resolver.poll(499);
  assert.equal(net.queriesTo(SERVER1).length, 1);
  for (const t of [500, 1000]) {
    net.now = t;
    resolver.poll(t);
    net.flush();
    assert.ok(!l.done);
  }
  assert.equal(net.queriesTo(SERVER1).length, 3);
  assert.deepEqual(scheduled, [500, 1000, 1500]);
  resolver.poll(1499);
  assert.ok(!l.done);
  resolver.poll(1500);
  assert.equal(errorCode(l), "TIMEOUT");
  assert.match(l.error!.message, /no answer after 3 queries \(500 ms each\)/);
  assert.equal(net.queriesTo(SERVER1).length, 3);
  assert.equal(resolver.nextDeadline(), Infinity);
  // Retries keep the same id and port (a late answer to an earlier try still counts).
  const ids = new Set(net.log.map((p) => (p.bytes[8] << 8) | p.bytes[9]));
  assert.equal(ids.size, 1);
});

Deno.test("DnsResolver rotates round robin across servers", () => {
  const net = new Net();
  const client = net.host(CLIENT);
  net.host(SERVER1);
  net.host(SERVER2);
  dnsServer(net.hosts.get(SERVER1)!, () => null);
  dnsServer(net.hosts.get(SERVER2)!, () => null);
  const resolver = new DnsResolver(client, {
    servers: ["192.0.2.1", { addr: SERVER2, port: 53 }],
    attempts: 2,
    timeoutMs: 100,
  });
  const first = resolver.resolve(0, "x.test", "A");
  for (let t = 100; t <= 400; t += 100) resolver.poll(t);
  assert.equal(errorCode(first), "TIMEOUT");
  assert.deepEqual(net.log.map((p) => p.dst), [SERVER1, SERVER2, SERVER1, SERVER2]);
  net.log = [];
  resolver.resolve(500, "y.test", "A");
  assert.equal(net.log[0].dst, SERVER2, "the next lookup starts at the next server");
});

Deno.test("DnsResolver ignores answers with a mismatched id, question or server", () => {
  const queries: DnsMessage[] = [];
  const { net, client, resolver } = setup({}, (q) => {
    queries.push(q);
    return null; // the test answers by hand
  });
  const l = run(net, resolver, "host.test", "A");
  const q = queries[0];
  const port = (net.log[0].bytes[0] << 8) | net.log[0].bytes[1];
  const deliver = (src: number, srcPort: number, m: DnsMessage) => {
    net.queue.push({ src, dst: CLIENT, bytes: rawUdp(srcPort, port, DnsMessage.toBytes(m)) });
    net.flush();
  };
  const good = zone(q) as DnsMessage;
  deliver(OTHER, 53, good); // right answer, wrong server address
  deliver(SERVER1, 5353, good); // right server address, wrong port
  // The lookup's port is connected to the server: UDP drops both before the resolver sees them.
  assert.equal(client.stats.rxWrongPeer, 2);
  assert.equal(resolver.stats.ignoredWrongServer, 0);
  const wrongId = zone(q) as DnsMessage;
  wrongId.id = (q.id + 1) & 0xffff;
  deliver(SERVER1, 53, wrongId);
  assert.equal(resolver.stats.ignoredWrongId, 1);
  const wrongName = answer(q, [a("evil.test", 0x0a000001)]);
  wrongName.questions = [{ name: "evil.test", type: DNS_TYPE_A, class: DNS_CLASS_IN }];
  deliver(SERVER1, 53, wrongName);
  const wrongType = zone(q) as DnsMessage;
  wrongType.questions = [{ name: "host.test", type: DNS_TYPE_AAAA, class: DNS_CLASS_IN }];
  deliver(SERVER1, 53, wrongType);
  assert.equal(resolver.stats.ignoredWrongQuestion, 2);
  const notResponse = zone(q) as DnsMessage;
  notResponse.qr = false;
  deliver(SERVER1, 53, notResponse);
  assert.equal(resolver.stats.ignoredNotResponse, 1);
  assert.ok(!l.done, "nothing above was accepted");
  // The question may come back in another case (RFC 4343).
  const upper = zone(q) as DnsMessage;
  upper.questions = [{ name: "HOST.TEST", type: DNS_TYPE_A, class: DNS_CLASS_IN }];
  deliver(SERVER1, 53, upper);
  assert.deepEqual(l.result, ["192.0.2.10", "192.0.2.11"]);
  assert.equal(client.boundCount, 0);
  assert.equal(resolver.stats.responses, 1);
});

/** A UDP datagram with checksum 0 (none, RFC 768). */
function rawUdp(srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  const d = new Uint8Array(8 + payload.length);
  new DataView(d.buffer).setUint16(0, srcPort);
  new DataView(d.buffer).setUint16(2, dstPort);
  new DataView(d.buffer).setUint16(4, d.length);
  d.set(payload, 8);
  return d;
}

Deno.test("DnsResolver caches answers for their TTL", () => {
  const { net, resolver } = setup();
  assert.equal(run(net, resolver, "host.test", "A").source, "dns");
  net.now = 59_999; // TTLs 120 and 60: the smaller one counts
  const hit = run(net, resolver, "Host.Test.", "A");
  assert.equal(hit.source, "cache");
  assert.deepEqual(hit.result, ["192.0.2.10", "192.0.2.11"]);
  assert.equal(resolver.stats.cacheHits, 1);
  assert.equal(net.queriesTo(SERVER1).length, 1);
  net.now = 60_000;
  assert.equal(run(net, resolver, "host.test", "A").source, "dns");
  assert.equal(net.queriesTo(SERVER1).length, 2);
});

Deno.test("DnsResolver does not cache a TTL with the top bit set (RFC 2181 §8)", () => {
  const { net, resolver } = setup({}, (q) => answer(q, [a("host.test", 0xc000020a, 0x8000_0000)]));
  assert.deepEqual(run(net, resolver, "host.test", "A").result, ["192.0.2.10"]);
  assert.equal(run(net, resolver, "host.test", "A").source, "dns");
  assert.equal(resolver.cache.size, 0);
});

Deno.test("DnsResolver answers from the hosts table before DNS", () => {
  const hosts = HostsTable.parse("192.0.2.77 host.test\n");
  const { net, resolver } = setup({ hosts });
  const l = run(net, resolver, "HOST.test", "A");
  assert.equal(l.source, "hosts");
  assert.deepEqual(l.result, ["192.0.2.77"]);
  assert.equal(net.log.length, 0);
  // No IPv6 entry: AAAA still asks DNS.
  assert.deepEqual(run(net, resolver, "host.test", "AAAA").result, ["2001:db8::1"]);
  resolver.hosts.add("v6.test", "2001:db8::77");
  assert.deepEqual(resolver.resolve(0, "v6.test", "AAAA").result, ["2001:db8::77"]);
});

Deno.test("DnsResolver returns numeric literals themselves", () => {
  const { net, resolver } = setup();
  assert.deepEqual(resolver.resolve(0, "192.0.2.5", "A").result, ["192.0.2.5"]);
  const six = resolver.resolve(0, "2001:DB8:0::5", "AAAA");
  assert.deepEqual(six.result, ["2001:db8::5"]);
  assert.equal(six.source, "literal");
  assert.equal(net.log.length, 0);
});

Deno.test("DnsResolver reports malformed and truncated answers", () => {
  const garbage = (q: DnsMessage) => {
    // Right id, claims one question, then ends.
    const b = new Uint8Array(12);
    b[0] = q.id >>> 8;
    b[1] = q.id & 0xff;
    b[2] = 0x81;
    b[5] = 1;
    return b;
  };
  const { net, resolver } = setup({ attempts: 2 }, garbage);
  const l = run(net, resolver, "host.test", "A");
  assert.equal(errorCode(l), "MALFORMED");
  assert.equal(resolver.stats.malformed, 2, "each attempt got a malformed answer");
  assert.equal(net.queriesTo(SERVER1).length, 2);

  const truncated = (q: DnsMessage) => {
    const m = answer(q, [a("host.test", 1)]);
    m.tc = true;
    return m;
  };
  const t = setup({ attempts: 1 }, truncated);
  const lt = run(t.net, t.resolver, "host.test", "A");
  assert.equal(errorCode(lt), "MALFORMED");
  assert.match(lt.error!.message, /truncated/);

  // A datagram too short to carry an id is noise, not an answer.
  const s = setup({ attempts: 1, timeoutMs: 10 }, () => new Uint8Array([1]));
  const ls = run(s.net, s.resolver, "host.test", "A");
  assert.ok(!ls.done);
  assert.equal(s.resolver.stats.ignoredWrongId, 1);
  s.resolver.poll(10);
  assert.equal(errorCode(ls), "TIMEOUT");
});

// ---- TCP after a truncated answer (RFC 7766 §5) ----

/** A scripted TCP connection: records what the resolver writes, feeds it what a test says. */
class FakeStream implements DnsStream {
  written: number[] = [];
  inbox: number[] = [];
  finReceived = false;
  ended: "open" | "closed" | "aborted" = "open";
  writeRoom = Infinity;
  constructor(
    readonly addr: number,
    readonly port: number,
    readonly events: DnsStreamEvents,
  ) {}
  write(src: Uint8Array, offset: number, length: number): number {
    if (this.ended !== "open") return -1;
    const n = Math.min(length, this.writeRoom);
    this.written.push(...src.subarray(offset, offset + n));
    return n;
  }
  read(dst: Uint8Array, offset: number, length: number): number {
    const n = Math.min(length, this.inbox.length);
    dst.set(this.inbox.splice(0, n), offset);
    return n;
  }
  get eof(): boolean {
    return this.finReceived && this.inbox.length === 0;
  }
  close(): void {
    this.ended = "closed";
  }
  abort(): void {
    this.ended = "aborted";
  }
  /** The bytes arrive (and optionally the FIN after them). */
  feed(bytes: Iterable<number>, fin = false): void {
    this.inbox.push(...bytes);
    this.finReceived ||= fin;
    this.events.onReadable();
  }
  /** The query the resolver wrote, without its length prefix (which must match). */
  query(): DnsMessage {
    const w = Uint8Array.from(this.written);
    assert.equal((w[0] << 8) | w[1], w.length - 2, "RFC 1035 §4.2.2 length prefix");
    const q = DnsMessage.parse(w, 2, w.length - 2);
    assert.ok(!isWireError(q));
    return q;
  }
}

/** A TCP transport whose connections are {@link FakeStream}s. */
function fakeTcp(onConnect: (s: FakeStream) => void = () => {}) {
  const streams: FakeStream[] = [];
  const transport: DnsTcpTransport = {
    connect(_now, addr, port, events) {
      const s = new FakeStream(addr, port, events);
      streams.push(s);
      onConnect(s);
      return s;
    },
  };
  return { streams, transport };
}

/** `m` as sent over TCP: a 16-bit length, then the message (RFC 1035 §4.2.2). */
function framed(m: DnsMessage): number[] {
  const b = DnsMessage.toBytes(m);
  return [b.length >>> 8, b.length & 0xff, ...b];
}

/** A zone whose answers over UDP are cut (TC) and whose full answer has `count` A records. */
function bigAnswer(q: DnsMessage, count = 40): DnsMessage {
  const records: DnsRecord[] = [];
  for (let i = 0; i < count; i++) records.push(a(q.questions[0].name, 0xc6336400 + i));
  return answer(q, records);
}
const truncatedOverUdp = (q: DnsMessage) => {
  const m = answer(q, []);
  m.tc = true;
  return m;
};

Deno.test("DnsResolver asks a truncated answer again over TCP and reads the length-prefixed reply in pieces", () => {
  const tcp = fakeTcp();
  const { net, resolver } = setup({ tcp: tcp.transport }, truncatedOverUdp);
  const l = run(net, resolver, "big.test", "A");
  assert.ok(!l.done, "waits for the TCP answer");
  assert.equal(resolver.stats.truncated, 1);
  assert.equal(resolver.stats.tcpQueries, 1);
  const [s] = tcp.streams;
  assert.equal(s.addr, SERVER1);
  assert.equal(s.port, 53, "the same server and port as the UDP query");
  assert.deepEqual(s.written, [], "nothing written before the handshake");
  s.events.onEstablished();
  const q = s.query();
  assert.deepEqual(q.questions, [{ name: "big.test", type: DNS_TYPE_A, class: DNS_CLASS_IN }]);
  assert.equal(q.id, net.queriesTo(SERVER1)[0].id);
  const reply = framed(bigAnswer(q));
  assert.ok(reply.length > 512, "more than fits a plain UDP answer");
  s.feed(reply.slice(0, 1)); // half the length prefix
  s.feed(reply.slice(1, 300));
  assert.ok(!l.done);
  s.feed(reply.slice(300));
  assert.equal(l.result?.length, 40);
  assert.equal(l.result![0], "198.51.100.0");
  assert.equal(l.source, "dns");
  assert.equal(s.ended, "closed", "closed gracefully once the answer is in (RFC 7766 §6.2.1)");
  assert.equal(resolver.stats.tcpFailures, 0);
  assert.equal(resolver.pendingCount, 0);
  // Cached like any answer.
  assert.equal(resolver.resolve(net.now, "big.test", "A").source, "cache");
});

Deno.test("DnsResolver writes the rest of the TCP query when send-buffer room comes back", () => {
  const tcp = fakeTcp((s) => (s.writeRoom = 5));
  const { net, resolver } = setup({ tcp: tcp.transport }, truncatedOverUdp);
  const l = run(net, resolver, "big.test", "A");
  const [s] = tcp.streams;
  s.events.onEstablished();
  assert.equal(s.written.length, 5);
  s.writeRoom = Infinity;
  s.events.onWritable();
  s.feed(framed(bigAnswer(s.query(), 3)));
  assert.equal(l.result?.length, 3);
});

Deno.test("DnsResolver moves to the next server when the TCP connection is refused, reset or cut short", () => {
  for (
    const end of [
      (s: FakeStream) => s.events.onClosed({ message: "connection refused" }),
      (s: FakeStream) => s.feed([0, 200, 1, 2, 3], true), // FIN in the middle of the answer
      (s: FakeStream) => s.feed([0, 0]), // an empty message
    ]
  ) {
    const tcp = fakeTcp();
    const net = new Net();
    const client = net.host(CLIENT);
    dnsServer(net.host(SERVER1), truncatedOverUdp);
    dnsServer(net.host(SERVER2), zone);
    const resolver = new DnsResolver(client, {
      servers: ["192.0.2.1", "192.0.2.53"],
      tcp: tcp.transport,
    });
    const l = run(net, resolver, "host.test", "A");
    const [s] = tcp.streams;
    s.events.onEstablished();
    end(s);
    net.flush();
    assert.deepEqual(l.result, ["192.0.2.10", "192.0.2.11"], "the second server answered");
    assert.equal(resolver.stats.tcpFailures, 1);
    assert.equal(net.queriesTo(SERVER2).length, 1);
    assert.notEqual(s.ended, "open");
  }
});

Deno.test("DnsResolver gives a silent TCP exchange the attempt's timeout, then reports it", () => {
  const tcp = fakeTcp();
  const { net, resolver } = setup(
    { tcp: tcp.transport, attempts: 1, timeoutMs: 50 },
    truncatedOverUdp,
  );
  const l = run(net, resolver, "big.test", "A");
  tcp.streams[0].events.onEstablished();
  assert.equal(resolver.nextDeadline(), 50);
  resolver.poll(49);
  assert.ok(!l.done);
  resolver.poll(50);
  assert.equal(errorCode(l), "TIMEOUT");
  assert.match(l.error!.message, /no answer over TCP within 50 ms/);
  assert.equal(tcp.streams[0].ended, "aborted");
  assert.equal(resolver.stats.tcpFailures, 1);
});

Deno.test("DnsResolver refuses a TCP answer with another id or question, and a truncated one", () => {
  for (
    const [mutate, pattern] of [
      [(m: DnsMessage) => (m.id ^= 1), /does not match/],
      [
        (m: DnsMessage) => (m.questions = [{ ...m.questions[0], name: "other.test" }]),
        /does not match/,
      ],
      [(m: DnsMessage) => (m.tc = true), /truncated answer \(TC\) over TCP/],
    ] as const
  ) {
    const tcp = fakeTcp();
    const { net, resolver } = setup({ tcp: tcp.transport, attempts: 1 }, truncatedOverUdp);
    const l = run(net, resolver, "big.test", "A");
    const [s] = tcp.streams;
    s.events.onEstablished();
    const m = bigAnswer(s.query(), 2);
    mutate(m);
    s.feed(framed(m));
    assert.equal(errorCode(l), "MALFORMED");
    assert.match(l.error!.message, pattern);
    assert.equal(tcp.streams.length, 1, "no second TCP exchange");
  }
});

Deno.test("DnsResolver aborts a TCP exchange when a UDP answer or close() ends the lookup", () => {
  // A server asked earlier (silent until now) answers over UDP while the TCP exchange runs.
  const late = fakeTcp();
  const ln = new Net();
  const client = ln.host(CLIENT);
  let first: { q: DnsMessage; from: { addr: number; port: number } } | null = null;
  const slow = dnsServer(ln.host(SERVER1), (q, from) => {
    first = { q, from };
    return null;
  });
  dnsServer(ln.host(SERVER2), truncatedOverUdp);
  const lr = new DnsResolver(client, {
    servers: ["192.0.2.1", "192.0.2.53"],
    tcp: late.transport,
    timeoutMs: 10,
  });
  const ll = run(ln, lr, "host.test", "A");
  lr.poll(10); // the first server timed out: the second answers TC, TCP starts
  ln.flush();
  assert.equal(late.streams.length, 1);
  assert.equal(late.streams[0].addr, SERVER2);
  const { q, from } = first!;
  slow.send(0, DnsMessage.toBytes(answer(q, [a("host.test", 0xc0000207)])), from.addr, from.port);
  ln.flush();
  assert.deepEqual(ll.result, ["192.0.2.7"]);
  assert.equal(late.streams[0].ended, "aborted");

  const tcp = fakeTcp();
  const { net, resolver } = setup({ tcp: tcp.transport }, truncatedOverUdp);
  const l = run(net, resolver, "big.test", "A");
  const [s] = tcp.streams;
  assert.ok(!l.done);
  resolver.close();
  assert.equal(errorCode(l), "CANCELLED");
  assert.equal(s.ended, "aborted");
  // A connect that throws fails the attempt like a refused connection.
  const throwing: DnsTcpTransport = {
    connect() {
      throw new Error("no ephemeral port");
    },
  };
  const t = setup({ tcp: throwing, attempts: 1 }, truncatedOverUdp);
  const lt = run(t.net, t.resolver, "big.test", "A");
  assert.equal(errorCode(lt), "UNREACHABLE");
  assert.match(lt.error!.message, /TCP: cannot connect: no ephemeral port/);
  // A repeated truncated UDP answer while TCP runs starts no second exchange.
  const dup = fakeTcp();
  const d = setup({ tcp: dup.transport }, truncatedOverUdp);
  const ld = d.resolver.resolve(0, "big.test", "A");
  const copy = d.net.log.length; // the query
  d.net.flush();
  assert.equal(dup.streams.length, 1);
  // Replay the server's answer datagram.
  const answerDatagram = d.net.log.slice(copy).find((p) => p.dst === CLIENT)!;
  d.net.queue.push(answerDatagram);
  d.net.flush();
  assert.equal(dup.streams.length, 1);
  assert.ok(!ld.done);
});

Deno.test("DnsResolver fails over at once when the server port is unreachable", () => {
  const net = new Net();
  const client = net.host(CLIENT);
  net.host(SERVER1); // up, but nothing on port 53: ICMP port unreachable
  dnsServer(net.host(SERVER2), zone);
  const resolver = new DnsResolver(client, { servers: ["192.0.2.1", "192.0.2.53"] });
  const l = run(net, resolver, "host.test", "A");
  assert.deepEqual(l.result, ["192.0.2.10", "192.0.2.11"]);
  assert.equal(resolver.stats.icmpErrors, 1);
  assert.equal(resolver.stats.timeouts, 0);
  const lone = new DnsResolver(client, { servers: ["192.0.2.1"], attempts: 2 });
  const l2 = run(net, lone, "host.test", "A");
  assert.equal(errorCode(l2), "UNREACHABLE");
  assert.match(l2.error!.message, /PortUnreachable/);
});

Deno.test("DnsResolver asks each server from its own connected port and takes a late answer", () => {
  const net = new Net();
  const client = net.host(CLIENT);
  const held: { q: DnsMessage; port: number }[] = [];
  dnsServer(net.host(SERVER1), (q, from) => {
    held.push({ q, port: from.port }); // slow: answered by hand below
    return null;
  });
  dnsServer(net.host(SERVER2), () => null); // silent
  const resolver = new DnsResolver(client, {
    servers: ["192.0.2.1", "192.0.2.53"],
    timeoutMs: 100,
  });
  const l = run(net, resolver, "host.test", "A");
  resolver.poll(100); // the first server timed out: the second is asked
  net.flush();
  const ports = net.log.filter((p) => p.src === CLIENT).map((p) => (p.bytes[0] << 8) | p.bytes[1]);
  assert.equal(ports.length, 2);
  assert.notEqual(ports[0], ports[1], "one port per server (glibc: one socket per server)");
  assert.equal(client.boundCount, 2);
  // The first server's late answer arrives on its own port and is taken.
  const late = zone(held[0].q) as DnsMessage;
  net.queue.push({
    src: SERVER1,
    dst: CLIENT,
    bytes: rawUdp(53, held[0].port, DnsMessage.toBytes(late)),
  });
  net.flush();
  assert.deepEqual(l.result, ["192.0.2.10", "192.0.2.11"]);
  assert.equal(client.boundCount, 0, "both ports released");
});

Deno.test("DnsResolver's ports ignore forged ICMP errors that do not quote their query", () => {
  const { net, client, resolver } = setup({}, () => null); // a silent server
  const l = run(net, resolver, "host.test", "A");
  const port = (net.log[0].bytes[0] << 8) | net.log[0].bytes[1];
  // A forged port unreachable about a datagram to another server (or another port) is ignored.
  for (const [dst, dstPort] of [[OTHER, 53], [SERVER1, 54]]) {
    const quote = new Uint8Array(28);
    const v = new DataView(quote.buffer);
    quote[0] = 0x45;
    v.setUint16(2, 28);
    quote[9] = 17;
    v.setUint32(12, CLIENT);
    v.setUint32(16, dst);
    v.setUint16(20, port);
    v.setUint16(22, dstPort);
    v.setUint16(24, 8);
    client.onIcmpError(0, 3, 3, 0, quote, 0, 28);
  }
  assert.equal(client.stats.icmpUnmatched, 2);
  assert.equal(resolver.stats.icmpErrors, 0);
  assert.ok(!l.done, "the lookup still waits for its server");
});

Deno.test("DnsResolver rejects bad names and cancels pending lookups on close", () => {
  const { net, client, resolver } = setup({}, () => null);
  assert.equal(errorCode(resolver.resolve(0, "a..b", "A")), "BADNAME");
  assert.equal(errorCode(resolver.resolve(0, "x".repeat(64) + ".test", "A")), "BADNAME");
  assert.equal(errorCode(resolver.resolve(0, "", "A")), "BADNAME");
  const l = run(net, resolver, "host.test", "A");
  let called = 0;
  l.onDone = () => called++;
  resolver.close();
  assert.equal(errorCode(l), "CANCELLED");
  assert.equal(called, 1);
  assert.equal(client.boundCount, 0);
  const none = new DnsResolver(client, {});
  assert.equal(errorCode(none.resolve(0, "host.test", "A")), "UNREACHABLE");
  assert.throws(() => new DnsResolver(client, { servers: ["192.0.2"] }), TypeError);
  assert.throws(() => new DnsResolver(client, { servers: ["192.0.2.1:0"] }), TypeError);
  assert.throws(() => new DnsResolver(client, { attempts: 0 }), TypeError);
});
