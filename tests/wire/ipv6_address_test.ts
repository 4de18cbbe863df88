import assert from "node:assert/strict";
import { mulberry32 } from "../seeded_random.ts";
import {
  formatIpv6Words,
  IPV6_SCOPE_GLOBAL,
  IPV6_SCOPE_LINK_LOCAL,
  Ipv6Address,
  Ipv6Cidr,
  ipv6Hash,
  ipv6HashAt,
  parseIpv6,
} from "../../src/wire/ipv6_address.ts";
import { readMac } from "../../src/wire/address.ts";
import { readTestdata } from "./_tshark.ts";

Deno.test("parseIpv6 accepts the three text forms of RFC 4291 §2.2 and formatIpv6Words writes RFC 5952 text", () => {
  const cases: [string, string][] = [
    // RFC 4291 §2.2, form 1 (and its examples of form 2 and 3).
    ["ABCD:EF01:2345:6789:ABCD:EF01:2345:6789", "abcd:ef01:2345:6789:abcd:ef01:2345:6789"],
    ["2001:DB8:0:0:8:800:200C:417A", "2001:db8::8:800:200c:417a"],
    ["2001:DB8::8:800:200C:417A", "2001:db8::8:800:200c:417a"],
    ["FF01:0:0:0:0:0:0:101", "ff01::101"],
    ["FF01::101", "ff01::101"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["::1", "::1"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["::", "::"],
    ["0:0:0:0:0:0:13.1.68.3", "::d01:4403"], // not a well-known embedding: hex (RFC 5952 §5)
    ["::13.1.68.3", "::d01:4403"],
    ["0:0:0:0:0:FFFF:129.144.52.38", "::ffff:129.144.52.38"],
    ["::FFFF:129.144.52.38", "::ffff:129.144.52.38"],
    // RFC 5952 §4.1: leading zeros suppressed; §4.3 lowercase.
    ["2001:0db8::0001", "2001:db8::1"],
    ["2001:DB8::AAAA", "2001:db8::aaaa"],
    // §4.2.1: the longest run; §4.2.2: a single zero group is not compressed.
    ["2001:db8:0:0:0:0:2:1", "2001:db8::2:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    // §4.2.3: longest run wins, the first of equal runs is compressed.
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    // "::" standing for one group, at either end.
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"],
    ["fe80::ff:fe00:1", "fe80::ff:fe00:1"],
    ["ff02::1:ff00:2", "ff02::1:ff00:2"],
  ];
  for (const [text, canonical] of cases) {
    const a = parseIpv6(text);
    assert.ok(a !== null, text);
    assert.equal(a.toString(), canonical, text);
    assert.ok(Ipv6Address.parse(canonical).equals(a), `${canonical} parses back`);
  }
  const mapped = Ipv6Address.parse("::ffff:192.0.2.1");
  assert.deepEqual([mapped.w0, mapped.w1, mapped.w2, mapped.w3], [0, 0, 0xffff, 0xc0000201 | 0]);
  assert.ok(mapped.isIpv4Mapped());
  assert.ok(Ipv6Address.fromIpv4Mapped(0xc0000201).equals(mapped));
});

Deno.test("parseIpv6 rejects malformed text and Ipv6Address.parse throws a TypeError", () => {
  const bad = [
    "",
    ":",
    ":::",
    "1",
    "1::2::3",
    "::1::",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7:8::",
    "::1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7",
    "12345::",
    "1::2:",
    ":1::2",
    "1:",
    "g::1",
    "fe80::1%eth0",
    "1.2.3.4",
    "::ffff:1.2.3",
    "::1.2.3.4.5",
    "::ffff:01.2.3.4",
    "::1.2.3.4:5",
    "1:2:3:4:5:6:7:1.2.3.4",
    " ::1",
    "::1 ",
    "2001:db8::1/64",
    "a".repeat(46),
  ];
  for (const text of bad) {
    assert.equal(parseIpv6(text), null, JSON.stringify(text));
    assert.throws(() => Ipv6Address.parse(text), TypeError);
  }
});

Deno.test("formatIpv6Words equals the WHATWG URL serialiser's canonical text for random addresses", () => {
  // The URL standard serialises IPv6 hosts per RFC 5952 (compress the first longest run of ≥ 2
  // zero groups, lowercase, no leading zeros) but never with a dotted quad, so mapped addresses
  // are left out.
  const rand = mulberry32(0x600d);
  for (let i = 0; i < 5000; i++) {
    const w = [0, 0, 0, 0].map(() => {
      // Plenty of zero groups so runs of every length and position occur.
      const hi = rand() < 0.5 ? 0 : (rand() * 0x10000) | 0;
      const lo = rand() < 0.5 ? 0 : (rand() * 0x10000) | 0;
      return (hi << 16) | lo;
    });
    const a = new Ipv6Address(w[0], w[1], w[2], w[3]);
    if (a.isIpv4Mapped()) continue;
    const text = formatIpv6Words(w[0], w[1], w[2], w[3]);
    assert.equal(text, new URL(`http://[${text}]/`).hostname.slice(1, -1));
    const back = parseIpv6(text);
    assert.ok(back !== null && back.equals(a), text);
  }
});

Deno.test("Ipv6Address reads, writes and compares its 16 bytes without objects on the packet side", () => {
  const a = Ipv6Address.parse("2001:db8::8:800:200c:417a");
  const b = new Uint8Array(20);
  a.writeTo(b, 3);
  assert.deepEqual(
    [...b.subarray(3, 19)],
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 8, 8, 0, 0x20, 0x0c, 0x41, 0x7a],
  );
  assert.ok(Ipv6Address.fromBytes(b, 3).equals(a));
  assert.ok(a.equalsAt(b, 3));
  assert.ok(!a.equalsAt(b, 2));
  for (let i = 0; i < 16; i++) {
    const c = b.slice();
    c[3 + i] ^= 1;
    assert.ok(!a.equalsAt(c, 3), `byte ${i} differs`);
  }
  assert.deepEqual(a.toBytes(), b.subarray(3, 19));
  assert.equal(ipv6HashAt(b, 3), a.hash());
  assert.equal(a.hash(), ipv6Hash(a.w0, a.w1, a.w2, a.w3));
  assert.equal(a.hash() | 0, a.hash(), "an int32");
  // Every word is a signed 32-bit integer (a V8 small integer).
  for (const w of [a.w0, a.w1, a.w2, a.w3]) assert.equal(w | 0, w);
  assert.equal(new Ipv6Address(0xffffffff, 0, 0, 0).w0, -1);
});

Deno.test("Ipv6Address.compare orders as unsigned 128-bit numbers and hashes spread", () => {
  const sorted = ["::", "::1", "::ffff:0.0.0.1", "2001:db8::1", "2001:db8::2", "fe80::1", "ff02::1"]
    .map((t) => Ipv6Address.parse(t));
  const shuffled = [...sorted].reverse();
  shuffled.sort((x, y) => x.compare(y));
  assert.deepEqual(shuffled.map(String), sorted.map(String));
  assert.equal(sorted[3].compare(Ipv6Address.parse("2001:db8::1")), 0);
  // 4096 addresses differing in one 16-bit group land in ≥ 4000 distinct hashes.
  const hashes = new Set<number>();
  for (let i = 0; i < 4096; i++) hashes.add(new Ipv6Address(0x20010db8, 0, 0, i).hash());
  assert.ok(hashes.size >= 4000, `${hashes.size} distinct hashes`);
});

Deno.test("Ipv6Address classifies addresses per RFC 4291 §2.4", () => {
  type Row = [string, string[]];
  const rows: Row[] = [
    ["::", ["unspecified"]],
    ["::1", ["loopback"]],
    ["ff02::1", ["multicast"]],
    ["ff02::1:ff00:2", ["multicast", "solicited"]],
    ["ff05::2", ["multicast"]],
    ["fe80::1", ["linkLocal"]],
    ["febf:ffff::1", ["linkLocal"]],
    ["fec0::1", ["global"]], // deprecated site-local (RFC 3879): treated as global unicast
    ["fd00::1", ["uniqueLocal"]],
    ["fc00::1", ["uniqueLocal"]],
    ["::ffff:192.0.2.1", ["mapped"]],
    ["2001:db8::2", ["global"]],
    ["::2", ["global"]],
  ];
  for (const [text, kinds] of rows) {
    const a = Ipv6Address.parse(text);
    const got: string[] = [];
    if (a.isUnspecified()) got.push("unspecified");
    if (a.isLoopback()) got.push("loopback");
    if (a.isMulticast()) got.push("multicast");
    if (a.isSolicitedNodeMulticast()) got.push("solicited");
    if (a.isLinkLocal()) got.push("linkLocal");
    if (a.isUniqueLocal()) got.push("uniqueLocal");
    if (a.isIpv4Mapped()) got.push("mapped");
    if (a.isGlobalUnicast()) got.push("global");
    assert.deepEqual(got, kinds, text);
  }
  assert.equal(Ipv6Address.ALL_NODES.multicastScope(), IPV6_SCOPE_LINK_LOCAL);
  assert.equal(Ipv6Address.parse("ff0e::1").multicastScope(), IPV6_SCOPE_GLOBAL);
  assert.equal(Ipv6Address.parse("2001:db8::1").multicastScope(), -1);
  assert.ok(!Ipv6Address.parse("ff02::1:fe00:2").isSolicitedNodeMulticast());
  assert.ok(!Ipv6Address.parse("ff02::2:ff00:2").isSolicitedNodeMulticast());
  assert.equal(Ipv6Address.ALL_ROUTERS.toString(), "ff02::2");
  assert.equal(Ipv6Address.ALL_MLDV2_ROUTERS.toString(), "ff02::16");
});

Deno.test("Ipv6Address.solicitedNode and multicastMac follow RFC 4291 §2.7.1 and RFC 2464 §7", () => {
  // RFC 4291 §2.7.1: "the solicited-node multicast address corresponding to the IPv6 address
  // 4037::01:800:200E:8C6C is FF02::1:FF0E:8C6C".
  const a = Ipv6Address.parse("4037::01:800:200E:8C6C");
  assert.equal(a.solicitedNode().toString(), "ff02::1:ff0e:8c6c");
  assert.ok(a.solicitedNode().isSolicitedNodeMulticast());
  // RFC 2464 §7: 33-33 followed by the last four octets.
  assert.equal(Ipv6Address.ALL_NODES.multicastMac(), 0x333300000001);
  assert.equal(a.solicitedNode().multicastMac(), 0x3333ff0e8c6c);
  assert.equal(Ipv6Address.parse("ff02::ffff:ffff").multicastMac(), 0x3333ffffffff);
  // The kernel sent each packet to a multicast group to the MAC we derive.
  let checked = 0;
  for (const rec of readTestdata("kernel_ipv6.pcap")) {
    const dst = Ipv6Address.fromBytes(rec.data, 14 + 24);
    if (!dst.isMulticast()) continue;
    assert.equal(readMac(rec.data, 0), dst.multicastMac(), dst.toString());
    checked++;
  }
  assert.ok(checked >= 15, `${checked} multicast frames`);
});

Deno.test("Ipv6Cidr parses prefixes, tests membership and clears host bits", () => {
  const net = Ipv6Cidr.parse("2001:db8::2/64");
  assert.equal(net.prefixLength, 64);
  assert.equal(net.toString(), "2001:db8::2/64");
  assert.equal(net.network.toString(), "2001:db8::");
  assert.ok(net.contains(Ipv6Address.parse("2001:db8::ffff:1")));
  assert.ok(!net.contains(Ipv6Address.parse("2001:db8:0:1::1")));
  const bytes = Ipv6Address.parse("2001:db8::77").toBytes();
  assert.ok(net.containsAt(bytes, 0));
  assert.ok(!Ipv6Cidr.parse("2001:db8:1::/48").containsAt(bytes, 0));
  assert.equal(Ipv6Cidr.parse("2001:db8::1").prefixLength, 128);
  assert.ok(Ipv6Cidr.parse("::/0").contains(Ipv6Address.parse("ff02::1")));
  // Prefix lengths that end inside a word.
  const odd = Ipv6Cidr.parse("fe80::/10");
  assert.ok(odd.contains(Ipv6Address.parse("febf::1")));
  assert.ok(!odd.contains(Ipv6Address.parse("fec0::1")));
  const p127 = Ipv6Cidr.parse("2001:db8::/127");
  assert.ok(p127.contains(Ipv6Address.parse("2001:db8::1")));
  assert.ok(!p127.contains(Ipv6Address.parse("2001:db8::2")));
  assert.equal(Ipv6Cidr.parse("2001:db8:ffff:ffff::/33").network.toString(), "2001:db8:8000::");
  assert.ok(net.equals(Ipv6Cidr.parse("2001:db8:0::2/64")));
  for (const text of ["2001:db8::/129", "2001:db8::/", "2001:db8::/064", "2001:db8::/-1", "x/64"]) {
    assert.throws(() => Ipv6Cidr.parse(text), TypeError, text);
  }
  assert.throws(() => new Ipv6Cidr(Ipv6Address.LOOPBACK, 129), RangeError);
});
