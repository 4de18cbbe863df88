import assert from "node:assert/strict";
import {
  assertTsharkClean,
  readTestdata,
  testdataPath,
  tsharkDecodeFile,
  tsharkRows,
} from "./_tshark.ts";
import { isWireError, type WireError } from "../../src/wire/error.ts";
import {
  DNS_CLASS_IN,
  DNS_MAX_POINTERS,
  DNS_RCODE_NXDOMAIN,
  DNS_RCODE_SERVFAIL,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_CNAME,
  DNS_TYPE_MX,
  DNS_TYPE_NS,
  DNS_TYPE_OPT,
  DNS_TYPE_PTR,
  DNS_TYPE_TXT,
  DnsMessage,
  encodeDnsQuery,
  formatIpv6,
  newDnsMessage,
  validateDnsName,
} from "../../src/wire/dns.ts";

function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  return Uint8Array.from(clean.match(/../g)!.map((x) => parseInt(x, 16)));
}

function toHex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function expectError(result: unknown, kind: string): WireError {
  assert.ok(isWireError(result), `expected WireError ${kind}, got ${JSON.stringify(result)}`);
  assert.equal(result.kind, kind, String(result));
  assert.equal(result.protocol, "dns");
  return result;
}

function expectMessage(result: DnsMessage | WireError): DnsMessage {
  if (isWireError(result)) assert.fail(`unexpected ${result}`);
  return result;
}

/** Strips parse-only fields so a parsed message compares with the one emitted. */
function comparable(m: DnsMessage): DnsMessage {
  const strip = (rs: DnsMessage["answers"]) =>
    rs.map(({ rdataOffset: _o, rdataLength: _l, ...rest }) => rest);
  return {
    ...m,
    answers: strip(m.answers),
    authorities: strip(m.authorities),
    additionals: strip(m.additionals),
  };
}

/** Header bytes: id, flags, counts. */
function header(id: number, flags: number, qd: number, an: number, ns = 0, ar = 0): string {
  return [id, flags, qd, an, ns, ar].map((v) => v.toString(16).padStart(4, "0")).join("");
}

const EXAMPLE_TEST = "076578616d706c65047465737400"; // example.test

Deno.test("encodeDnsQuery writes a standard RD query byte for byte", () => {
  const b = new Uint8Array(64);
  const n = encodeDnsQuery({ id: 0xbeef, name: "example.test", type: DNS_TYPE_A }, b, 0);
  assert.equal(
    toHex(b.subarray(0, n)),
    header(0xbeef, 0x0100, 1, 0) + EXAMPLE_TEST + "00010001",
  );
  // Trailing dot, no recursion, offset inside the buffer.
  const m = encodeDnsQuery(
    { id: 1, name: "example.test.", type: DNS_TYPE_AAAA, recursionDesired: false },
    b,
    5,
  );
  assert.equal(
    toHex(b.subarray(5, 5 + m)),
    header(1, 0, 1, 0) + EXAMPLE_TEST + "001c0001",
  );
});

Deno.test("DnsMessage.parse reads a compressed response with a CNAME chain", () => {
  // Question www.example.test A; answers: www CNAME example.test (pointer into
  // the question), example.test A 192.0.2.80 (pointer), TTLs 300/60.
  const b = hex(
    header(0x1234, 0x8180, 1, 2) +
      "03777777" + EXAMPLE_TEST + "00010001" +
      "c00c 0005 0001 0000012c 0002 c010" +
      "c010 0001 0001 0000003c 0004 c0000250",
  );
  const m = expectMessage(DnsMessage.parse(b));
  assert.equal(m.id, 0x1234);
  assert.ok(m.qr && m.rd && m.ra && !m.aa && !m.tc);
  assert.equal(m.rcode, 0);
  assert.deepEqual(m.questions, [{
    name: "www.example.test",
    type: DNS_TYPE_A,
    class: DNS_CLASS_IN,
  }]);
  assert.equal(m.answers.length, 2);
  assert.equal(m.answers[0].name, "www.example.test");
  assert.equal(m.answers[0].type, DNS_TYPE_CNAME);
  assert.equal(m.answers[0].ttl, 300);
  assert.equal(m.answers[0].target, "example.test");
  assert.equal(m.answers[1].name, "example.test");
  assert.equal(m.answers[1].address, 0xc0000250 | 0);
  assert.equal(m.answers[1].rdataOffset, b.length - 4);
  assert.equal(m.answers[1].rdataLength, 4);
  // The emitter compresses the same way, byte for byte.
  assert.equal(toHex(DnsMessage.toBytes(m)), toHex(b));
});

Deno.test("DnsMessage.parse reads header flags and RCODEs", () => {
  const nx = expectMessage(DnsMessage.parse(hex(header(7, 0x8583, 0, 0))));
  assert.ok(nx.qr && nx.aa && nx.rd && nx.ra);
  assert.equal(nx.rcode, DNS_RCODE_NXDOMAIN);
  const sf = expectMessage(DnsMessage.parse(hex(header(7, 0x7a32, 0, 0))));
  assert.equal(sf.opcode, 0xf);
  assert.ok(!sf.qr && !sf.aa && sf.tc && !sf.rd && !sf.ra && sf.ad && sf.cd);
  assert.equal(sf.rcode, DNS_RCODE_SERVFAIL);
  assert.equal(toHex(DnsMessage.toBytes(sf)), header(7, 0x7a32, 0, 0));
});

Deno.test("DnsMessage round-trips every record kind with and without compression", () => {
  const m = newDnsMessage(0xffff);
  m.qr = true;
  m.aa = true;
  m.rd = true;
  m.ra = true;
  m.questions.push({ name: "Host.Example.test", type: DNS_TYPE_A, class: DNS_CLASS_IN });
  const v6 = hex("20010db8000000000000000000000001");
  m.answers.push(
    {
      name: "Host.Example.test",
      type: DNS_TYPE_CNAME,
      class: DNS_CLASS_IN,
      ttl: 0xffffffff,
      target: "x.Example.test",
    },
    {
      name: "x.Example.test",
      type: DNS_TYPE_A,
      class: DNS_CLASS_IN,
      ttl: 1,
      address: 0xcb007101 | 0,
    },
    { name: "x.Example.test", type: DNS_TYPE_AAAA, class: DNS_CLASS_IN, ttl: 2, address6: v6 },
    {
      name: "x.Example.test",
      type: DNS_TYPE_MX,
      class: DNS_CLASS_IN,
      ttl: 3,
      rdata: hex("000a00"),
    },
    {
      name: "x.Example.test",
      type: DNS_TYPE_TXT,
      class: DNS_CLASS_IN,
      ttl: 4,
      rdata: new Uint8Array(0),
    },
  );
  m.authorities.push(
    {
      name: "Example.test",
      type: DNS_TYPE_NS,
      class: DNS_CLASS_IN,
      ttl: 5,
      target: "ns.example.test",
    },
  );
  m.additionals.push(
    {
      name: "1.113.0.203.in-addr.arpa",
      type: DNS_TYPE_PTR,
      class: DNS_CLASS_IN,
      ttl: 6,
      target: ".",
    },
    { name: ".", type: DNS_TYPE_OPT, class: 1232, ttl: 0, rdata: hex("000a00080102030405060708") },
  );
  const compressed = DnsMessage.toBytes(m);
  const full = DnsMessage.toBytes(m, { compress: false });
  assert.ok(compressed.length < full.length - 40, `${compressed.length} vs ${full.length}`);
  for (const bytes of [compressed, full]) {
    assert.deepEqual(comparable(expectMessage(DnsMessage.parse(bytes))), m);
  }
  // Case is preserved: "ns.example.test" is not compressed against "Example.test".
  assert.equal(
    expectMessage(DnsMessage.parse(compressed)).authorities[0].target,
    "ns.example.test",
  );
});

Deno.test("DnsMessage names with escaped dots, backslashes and binary octets round-trip", () => {
  // Labels: "a.b", [0x5c, 0x00], [0xff].
  const raw = hex(header(1, 0, 1, 0) + "03612e62 025c00 01ff 00 0010 0001".replace(/ /g, ""));
  const m = expectMessage(DnsMessage.parse(raw));
  assert.equal(m.questions[0].name, "a\\.b.\\\\\\000.\\255");
  assert.equal(toHex(DnsMessage.toBytes(m)), toHex(raw));
  assert.equal(validateDnsName(m.questions[0].name), null);
});

Deno.test("DnsMessage.parse represents the root name as '.'", () => {
  const m = expectMessage(
    DnsMessage.parse(hex(header(1, 0, 1, 0) + "00 0002 0001".replace(/ /g, ""))),
  );
  assert.equal(m.questions[0].name, ".");
  assert.equal(toHex(DnsMessage.toBytes(m)), toHex(hex(header(1, 0, 1, 0) + "0000020001")));
});

Deno.test("DnsMessage.parse rejects a pointer to itself and pointer cycles as pointer-loop", () => {
  expectError(DnsMessage.parse(hex(header(1, 0, 1, 0) + "c00c00010001")), "pointer-loop");
  // name at 12: label "a" then pointer to 12 (its own start).
  expectError(DnsMessage.parse(hex(header(1, 0, 1, 0) + "0161c00c00010001")), "pointer-loop");
  // Two names pointing at each other: second points to first, first to second.
  expectError(
    DnsMessage.parse(hex(header(1, 0, 2, 0) + "c012 00010001 c00c 00010001")),
    "pointer-loop",
  );
});

Deno.test("DnsMessage.parse rejects forward pointers and a pointer inside the current name", () => {
  // Question name is a pointer to a valid name that lies *after* it.
  expectError(DnsMessage.parse(hex(header(1, 0, 1, 0) + "c012 0001 0001 0161 00")), "pointer-loop");
});

Deno.test("DnsMessage.parse limits the number of pointers followed", () => {
  // Layout: header, question "." (12..16), answer with owner "." (17), type
  // 10 (NULL), RDATA = a chain of pointers from 28 on, each pointing at the
  // previous one (the first at the root name at 12), then a second answer
  // whose owner is a pointer to the last chain element.
  const make = (hops: number): Uint8Array => {
    const bytes: number[] = [...hex(header(1, 0, 1, 2) + "0000010001")];
    const chainStart = 17 + 11;
    const chain2: number[] = [];
    for (let i = 0; i < hops; i++) {
      const target = i === 0 ? 12 : chainStart + 2 * (i - 1);
      chain2.push(0xc0 | (target >> 8), target & 0xff);
    }
    bytes.push(0, 0, 10, 0, 1, 0, 0, 0, 0, chain2.length >> 8, chain2.length & 0xff, ...chain2);
    const lastAt = chainStart + 2 * (hops - 1);
    bytes.push(0xc0 | (lastAt >> 8), lastAt & 0xff, 0, 10, 0, 1, 0, 0, 0, 0, 0, 0);
    return Uint8Array.from(bytes);
  };
  // hops pointers in the chain plus the owner's own pointer.
  const ok = expectMessage(DnsMessage.parse(make(DNS_MAX_POINTERS - 1)));
  assert.equal(ok.answers[1].name, ".");
  expectError(DnsMessage.parse(make(DNS_MAX_POINTERS)), "pointer-loop");
});

Deno.test("DnsMessage.parse rejects pointers past the end and cut-short pointers", () => {
  expectError(DnsMessage.parse(hex(header(1, 0, 1, 0) + "c0ff00010001")), "bad-pointer");
  expectError(DnsMessage.parse(hex(header(1, 0, 1, 0) + "c0")), "truncated");
});

Deno.test("DnsMessage.parse rejects names over 255 octets, also when built from pointers", () => {
  const label63 = "3f" + "61".repeat(63);
  // 4 × 64 + 1 = 257 octets.
  expectError(
    DnsMessage.parse(hex(header(1, 0, 1, 0) + label63.repeat(4) + "00" + "00010001")),
    "name-too-long",
  );
  // 3 × 64 + 1 = 193 octets: fine. 3 labels + (2 more via a pointer) = 321: too long.
  const first = label63.repeat(3) + "00" + "00010001"; // question at 12
  const ok = expectMessage(DnsMessage.parse(hex(header(1, 0, 1, 0) + first)));
  assert.equal(ok.questions[0].name.length, 63 * 3 + 2);
  expectError(
    DnsMessage.parse(hex(header(1, 0, 2, 0) + first + label63 + "c00c" + "00010001")),
    "name-too-long",
  );
  // Exactly 255: 3 × 64 + 62 + 1 = 255.
  const exact = label63.repeat(3) + "3d" + "62".repeat(61) + "00";
  expectMessage(DnsMessage.parse(hex(header(1, 0, 1, 0) + exact + "00010001")));
});

Deno.test("DnsMessage.parse rejects length octets 64..191 as label-too-long", () => {
  for (const octet of ["40", "41", "7f", "80", "bf"]) {
    expectError(
      DnsMessage.parse(hex(header(1, 0, 1, 0) + octet + "61".repeat(70) + "00010001")),
      "label-too-long",
    );
  }
});

Deno.test("DnsMessage.parse rejects truncated headers, questions, records and RDATA", () => {
  for (let n = 0; n < 12; n++) expectError(DnsMessage.parse(new Uint8Array(n)), "truncated");
  const q = header(1, 0x8180, 1, 1) + EXAMPLE_TEST + "00010001";
  expectError(DnsMessage.parse(hex(header(1, 0, 1, 0) + "0561")), "truncated"); // label past end
  expectError(DnsMessage.parse(hex(header(1, 0, 1, 0) + EXAMPLE_TEST + "0001")), "truncated");
  expectError(DnsMessage.parse(hex(q + "c00c00010001")), "truncated"); // record header cut
  expectError(DnsMessage.parse(hex(q + "c00c000100010000000a0004c000")), "truncated"); // RDATA cut
  // Counts that lie: 2 questions announced, 1 present.
  expectError(DnsMessage.parse(hex(header(1, 0, 2, 0) + EXAMPLE_TEST + "00010001")), "truncated");
  // View past the buffer.
  expectError(DnsMessage.parse(new Uint8Array(20), 10, 20), "truncated");
});

Deno.test("DnsMessage.parse rejects A/AAAA/CNAME RDATA of the wrong length as bad-length", () => {
  const q = header(1, 0x8180, 1, 1) + EXAMPLE_TEST + "00010001";
  expectError(DnsMessage.parse(hex(q + "c00c000100010000000a0005c000025001")), "bad-length");
  expectError(DnsMessage.parse(hex(q + "c00c001c00010000000a0004c0000250")), "bad-length");
  expectError(DnsMessage.parse(hex(q + "c00c000500010000000a0003c00c00")), "bad-length");
  // CNAME target running past its RDATA.
  expectError(DnsMessage.parse(hex(q + "c00c000500010000000a0002016100")), "truncated");
});

Deno.test("DnsMessage.parse honours the offset: pointers are message-relative", () => {
  const msg = hex(
    header(0x4242, 0x8180, 1, 1) + EXAMPLE_TEST + "00010001" + "c00c000100010000000a0004c0000201",
  );
  const framed = new Uint8Array(msg.length + 50);
  framed.set(msg, 42);
  const m = expectMessage(DnsMessage.parse(framed, 42, msg.length));
  assert.equal(m.answers[0].name, "example.test");
  assert.equal(m.answers[0].rdataOffset, 42 + msg.length - 4);
  const out = new Uint8Array(200);
  const n = DnsMessage.emit(m, out, 7);
  assert.equal(toHex(out.subarray(7, 7 + n)), toHex(msg));
});

Deno.test("encodeDnsQuery throws TypeError for invalid names", () => {
  const b = new Uint8Array(600);
  const bad = [
    "a..b",
    ".a",
    "..",
    "a".repeat(64) + ".test",
    ("a".repeat(63) + ".").repeat(4) + "a", // 4*64 + 2 + 1 = 259 octets
    "bücher.test",
    "has space.test",
    "tab\t.test",
    "dangling\\",
    "bad\\999.test",
  ];
  for (const name of bad) {
    assert.throws(() => encodeDnsQuery({ id: 1, name, type: DNS_TYPE_A }, b, 0), TypeError, name);
    assert.notEqual(validateDnsName(name), null, name);
  }
  // 253 characters (255 octets on the wire) is the longest valid name.
  const longest = ["a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(61)].join(".");
  assert.equal(longest.length, 253);
  assert.equal(encodeDnsQuery({ id: 1, name: longest, type: DNS_TYPE_A }, b, 0), 12 + 255 + 4);
  assert.throws(
    () => encodeDnsQuery({ id: 1, name: longest + "d", type: DNS_TYPE_A }, b, 0),
    TypeError,
  );
});

Deno.test("DnsMessage.emit throws TypeError for bad fields and RangeError when out of room", () => {
  assert.throws(
    () => encodeDnsQuery({ id: 65536, name: "a.test", type: 1 }, new Uint8Array(64), 0),
    TypeError,
  );
  assert.throws(
    () => encodeDnsQuery({ id: 1, name: "a.test", type: -1 }, new Uint8Array(64), 0),
    TypeError,
  );
  for (let size = 0; size < 12 + 8 + 4; size++) {
    assert.throws(
      () => encodeDnsQuery({ id: 1, name: "a.test", type: 1 }, new Uint8Array(size), 0),
      RangeError,
      `size ${size}`,
    );
  }
  const m = newDnsMessage(1);
  m.answers.push({ name: "a.test", type: DNS_TYPE_A, class: DNS_CLASS_IN, ttl: 1 });
  assert.throws(() => DnsMessage.toBytes(m), TypeError);
  m.answers[0] = {
    name: "a.test",
    type: DNS_TYPE_AAAA,
    class: DNS_CLASS_IN,
    ttl: 1,
    address6: new Uint8Array(4),
  };
  assert.throws(() => DnsMessage.toBytes(m), TypeError);
  m.answers[0] = { name: "a.test", type: DNS_TYPE_A, class: DNS_CLASS_IN, ttl: -1, address: 1 };
  assert.throws(() => DnsMessage.toBytes(m), TypeError);
});

Deno.test("formatIpv6 follows RFC 5952", () => {
  const a = (s: string) => hex(s);
  assert.equal(formatIpv6(a("20010db8000000000000000000000001")), "2001:db8::1");
  assert.equal(formatIpv6(a("00000000000000000000000000000000")), "::");
  assert.equal(formatIpv6(a("00000000000000000000000000000001")), "::1");
  assert.equal(formatIpv6(a("20010db8000000010001000100010001")), "2001:db8:0:1:1:1:1:1");
  assert.equal(formatIpv6(a("20010db8000000000001000000000001")), "2001:db8::1:0:0:1");
  assert.equal(formatIpv6(a("fe800000000000000000000000000000")), "fe80::");
});

// ---------------------------------------------------------------------------
// Kernel captures (tests/testdata, see its README.md) and tshark, through
// the shared helpers in ./_tshark.ts and src/wire/pcap.ts.

const ETH = 14;
/** Absolute sequence numbers in tshark's SACK fields; no TCP analysis noise. */
const TSHARK_OPTS = {
  extraArgs: [
    "-o",
    "tcp.relative_sequence_numbers:FALSE",
    "-o",
    "tcp.analyze_sequence_numbers:FALSE",
  ],
};

function onesSum(b: Uint8Array, off: number, len: number, initial = 0): number {
  let s = initial;
  for (let k = 0; k < len; k++) s += (k & 1) === 0 ? b[off + k] << 8 : b[off + k];
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** Ethernet + IPv4 + UDP (port 53 ↔ 40000) around a DNS message, checksums filled. */
function udpFrame(dns: Uint8Array, response: boolean): Uint8Array {
  const udpLen = 8 + dns.length;
  const f = new Uint8Array(ETH + 20 + udpLen);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
  const total = 20 + udpLen;
  f.set([
    0x45,
    0,
    total >>> 8,
    total & 0xff,
    0,
    1,
    0x40,
    0,
    64,
    17,
    0,
    0,
    192,
    0,
    2,
    1,
    192,
    0,
    2,
    2,
  ], ETH);
  const ipCk = ~onesSum(f, ETH, 20) & 0xffff;
  f[ETH + 10] = ipCk >>> 8;
  f[ETH + 11] = ipCk & 0xff;
  const u = ETH + 20;
  const [sp, dp] = response ? [53, 40000] : [40000, 53];
  f.set([sp >>> 8, sp & 0xff, dp >>> 8, dp & 0xff, udpLen >>> 8, udpLen & 0xff], u);
  f.set(dns, u + 8);
  const pseudo = 0xc000 + 0x0201 + 0xc000 + 0x0202 + 17 + udpLen;
  const ck = (~onesSum(f, u, udpLen, pseudo) & 0xffff) || 0xffff;
  f[u + 6] = ck >>> 8;
  f[u + 7] = ck & 0xff;
  return f;
}

const DNS_FIELDS = [
  "_ws.malformed",
  "_ws.expert.severity",
  "ip.checksum.status",
  "udp.checksum.status",
  "dns.id",
  "dns.flags",
  "dns.count.queries",
  "dns.count.answers",
  "dns.count.auth_rr",
  "dns.count.add_rr",
  "dns.qry.name",
  "dns.qry.type",
  "dns.resp.name",
  "dns.resp.type",
  "dns.resp.ttl",
  "dns.a",
  "dns.aaaa",
  "dns.cname",
  "dns.ns",
];

function v4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Compares a parsed message with tshark's row (field order DNS_FIELDS). */
function assertDnsMatchesTshark(m: DnsMessage, row: string[], what: string): void {
  const [
    malformed,
    severity,
    ipCk,
    udpCk,
    id,
    flags,
    qd,
    an,
    ns,
    ar,
    qname,
    qtype,
    rname,
    rtype,
    ttl,
    a,
    aaaa,
    cname,
    nsName,
  ] = row;
  assert.equal(malformed, "", `${what}: tshark says malformed`);
  assert.equal(severity, "", `${what}: tshark problems: ${severity}`);
  assert.equal(ipCk, "1", `${what}: IPv4 checksum status`);
  assert.equal(udpCk, "1", `${what}: UDP checksum status`);
  assert.equal(Number(id), m.id, `${what}: id`);
  const f = parseInt(flags, 16);
  assert.equal((f & 0x8000) !== 0, m.qr, `${what}: qr`);
  assert.equal((f >>> 11) & 0xf, m.opcode, `${what}: opcode`);
  assert.equal((f & 0x0400) !== 0, m.aa, `${what}: aa`);
  assert.equal((f & 0x0200) !== 0, m.tc, `${what}: tc`);
  assert.equal((f & 0x0100) !== 0, m.rd, `${what}: rd`);
  assert.equal((f & 0x0080) !== 0, m.ra, `${what}: ra`);
  assert.equal(f & 0xf, m.rcode, `${what}: rcode`);
  assert.deepEqual([qd, an, ns, ar].map(Number), [
    m.questions.length,
    m.answers.length,
    m.authorities.length,
    m.additionals.length,
  ], `${what}: counts`);
  const list = (s: string) => s === "" ? [] : s.split("|");
  assert.deepEqual(list(qname), m.questions.map((q) => q.name), `${what}: qry.name`);
  assert.deepEqual(list(qtype).map(Number), m.questions.map((q) => q.type), `${what}: qry.type`);
  // tshark lists the OPT pseudo-record's name and type but gives it no TTL.
  const all = [...m.answers, ...m.authorities, ...m.additionals];
  const records = all.filter((r) => r.type !== DNS_TYPE_OPT);
  assert.deepEqual(
    list(rname),
    all.map((r) => r.name === "." ? "<Root>" : r.name),
    `${what}: resp.name`,
  );
  assert.deepEqual(list(rtype).map(Number), all.map((r) => r.type), `${what}: resp.type`);
  assert.deepEqual(list(ttl).map(Number), records.map((r) => r.ttl), `${what}: resp.ttl`);
  assert.deepEqual(
    list(a),
    records.filter((r) => r.type === DNS_TYPE_A).map((r) => v4(r.address!)),
    `${what}: dns.a`,
  );
  assert.deepEqual(
    list(aaaa),
    records.filter((r) => r.type === DNS_TYPE_AAAA).map((r) => formatIpv6(r.address6!)),
    `${what}: dns.aaaa`,
  );
  assert.deepEqual(
    list(cname),
    records.filter((r) => r.type === DNS_TYPE_CNAME).map((r) => r.target),
    `${what}: dns.cname`,
  );
  assert.deepEqual(
    list(nsName),
    records.filter((r) => r.type === DNS_TYPE_NS).map((r) => r.target),
    `${what}: dns.ns`,
  );
}

Deno.test("DnsMessage parses kernel-captured DNS and agrees with tshark; re-emit round-trips", async () => {
  const frames = readTestdata("kernel_dns.pcap").map((record) => record.data);
  const decoded = await tsharkDecodeFile(testdataPath("kernel_dns.pcap"), TSHARK_OPTS);
  // null: tshark missing (reason printed by the helper); the parse and
  // re-emit checks below still run.
  const rows = decoded === null ? null : tsharkRows(decoded, DNS_FIELDS, "|");
  if (rows !== null) assert.equal(rows.length, frames.length);
  let queries = 0;
  let responses = 0;
  let identical = 0;
  const seen = new Set<number>();
  frames.forEach((f, k) => {
    if (f.length < ETH + 28 || f[12] !== 8 || f[13] !== 0 || f[ETH + 9] !== 17) return;
    const ihl = (f[ETH] & 0xf) * 4;
    const u = ETH + ihl;
    if (((f[u] << 8) | f[u + 1]) !== 53 && ((f[u + 2] << 8) | f[u + 3]) !== 53) return;
    const udpLen = (f[u + 4] << 8) | f[u + 5];
    const m = expectMessage(DnsMessage.parse(f, u + 8, udpLen - 8));
    if (m.qr) responses++;
    else queries++;
    m.answers.forEach((r) => seen.add(r.type));
    if (m.qr) seen.add(1000 + m.rcode);
    if (rows !== null) assertDnsMatchesTshark(m, rows[k], `frame ${k + 1}`);
    const original = f.slice(u + 8, u + udpLen);
    const again = DnsMessage.toBytes(m);
    // Re-emitting gives the same message; with the same compression choices
    // as the sender, the same bytes.
    assert.deepEqual(
      comparable(expectMessage(DnsMessage.parse(again))),
      comparable(m),
      `frame ${k + 1}`,
    );
    if (toHex(again) === toHex(original)) identical++;
  });
  assert.ok(queries >= 5 && responses >= 5, `${queries} queries, ${responses} responses`);
  for (
    const t of [DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_CNAME, DNS_TYPE_TXT, 1000 + DNS_RCODE_NXDOMAIN]
  ) {
    assert.ok(seen.has(t), `capture lacks ${t}`);
  }
  // Queries carry no compression, so they always round-trip byte for byte.
  assert.ok(identical >= queries, `${identical} identical re-emits`);
  console.log(
    `kernel DNS: ${queries} queries, ${responses} responses, ${identical} byte-identical re-emits`,
  );
});

Deno.test("DnsMessage output is tshark-clean and decodes to the same fields", async () => {
  const messages: DnsMessage[] = [];
  const q = new Uint8Array(512);
  for (
    const [name, type] of [["host.test", DNS_TYPE_A], ["host.test", DNS_TYPE_AAAA], [
      "x.y.z.example.test.",
      DNS_TYPE_TXT,
    ]] as const
  ) {
    messages.push(
      expectMessage(
        DnsMessage.parse(q, 0, encodeDnsQuery({ id: messages.length + 1, name, type }, q, 0)),
      ),
    );
  }
  const r = newDnsMessage(0x1003);
  r.qr = r.rd = r.ra = true;
  r.questions.push({ name: "alias.test", type: DNS_TYPE_A, class: DNS_CLASS_IN });
  r.answers.push(
    {
      name: "alias.test",
      type: DNS_TYPE_CNAME,
      class: DNS_CLASS_IN,
      ttl: 600,
      target: "host.test",
    },
    { name: "host.test", type: DNS_TYPE_A, class: DNS_CLASS_IN, ttl: 600, address: 0xc0000235 },
    { name: "host.test", type: DNS_TYPE_A, class: DNS_CLASS_IN, ttl: 600, address: 0xc0000236 },
  );
  r.authorities.push({
    name: "test",
    type: DNS_TYPE_NS,
    class: DNS_CLASS_IN,
    ttl: 3600,
    target: "ns1.test",
  });
  r.additionals.push(
    {
      name: "ns1.test",
      type: DNS_TYPE_AAAA,
      class: DNS_CLASS_IN,
      ttl: 3600,
      address6: hex("20010db8000000000000000000000053"),
    },
    { name: ".", type: DNS_TYPE_OPT, class: 1232, ttl: 0, rdata: new Uint8Array(0) },
  );
  messages.push(r);
  const nx = newDnsMessage(0x1005);
  Object.assign(nx, { qr: true, rd: true, ra: true, aa: true });
  nx.rcode = DNS_RCODE_NXDOMAIN;
  nx.questions.push({ name: "missing.test", type: DNS_TYPE_A, class: DNS_CLASS_IN });
  messages.push(nx);
  const frames: Uint8Array[] = [];
  for (const m of messages) {
    frames.push(udpFrame(DnsMessage.toBytes(m), m.qr));
    if (m.qr) frames.push(udpFrame(DnsMessage.toBytes(m, { compress: false }), true));
  }
  const decoded = await assertTsharkClean(frames, { ...TSHARK_OPTS, what: "DnsMessage.emit" });
  if (decoded === null) return; // tshark missing: skipped with a printed reason
  const rows = tsharkRows(decoded, DNS_FIELDS, "|");
  assert.equal(rows.length, frames.length);
  frames.forEach((f, k) => {
    const m = expectMessage(DnsMessage.parse(f, ETH + 28, f.length - ETH - 28));
    assertDnsMatchesTshark(m, rows[k], `emitted frame ${k + 1}`);
  });
});

Deno.test("DnsMessage A records: emit takes either address form, parse gives the int32 form", () => {
  for (const address of [0xcb007101, 0xcb007101 | 0]) {
    const m = newDnsMessage(7);
    m.qr = true;
    m.answers.push({ name: "a.test", type: DNS_TYPE_A, class: DNS_CLASS_IN, ttl: 9, address });
    const back = expectMessage(DnsMessage.parse(DnsMessage.toBytes(m)));
    assert.equal(back.answers[0].address, 0xcb007101 | 0);
  }
  const bad = newDnsMessage(7);
  bad.answers.push({
    name: "a.test",
    type: DNS_TYPE_A,
    class: DNS_CLASS_IN,
    ttl: 9,
    address: 2 ** 32,
  });
  assert.throws(() => DnsMessage.toBytes(bad), TypeError);
});
