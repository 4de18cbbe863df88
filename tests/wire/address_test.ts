import assert from "node:assert/strict";
import { mulberry32 } from "../seeded_random.ts";
import {
  formatIpv4,
  Ipv4Address,
  Ipv4Cidr,
  MacAddress,
  parseIpv4,
  readIpv4,
  readMac,
  writeIpv4,
  writeMac,
} from "../../src/wire/address.ts";

Deno.test("readIpv4/writeIpv4 round-trip addresses with the high bit set", () => {
  const b = new Uint8Array(7);
  // readIpv4 returns the int32 form; writeIpv4 takes either form.
  for (const v of [0, 1, 0x7fffffff, 0x80000000, 0xc0000201, 0xe0000001, 0xffffffff]) {
    writeIpv4(b, 3, v);
    assert.equal(readIpv4(b, 3), v | 0);
    writeIpv4(b, 3, v | 0);
    assert.equal(readIpv4(b, 3), v | 0);
    assert.equal(readIpv4(b, 3) >>> 0, v);
  }
  writeIpv4(b, 0, 0xcb007101);
  assert.deepEqual([...b.subarray(0, 4)], [203, 0, 113, 1]);
  writeIpv4(b, 0, 0xcb007101 | 0);
  assert.deepEqual([...b.subarray(0, 4)], [203, 0, 113, 1]);
});

Deno.test("readIpv4 and parseIpv4 yield int32 addresses at the edges of the range", () => {
  const cases: [string, number, number[]][] = [
    ["0.0.0.0", 0, [0, 0, 0, 0]],
    ["127.255.255.255", 0x7fffffff, [127, 255, 255, 255]],
    ["128.0.0.0", -0x80000000, [128, 0, 0, 0]],
    ["192.0.2.1", -1073741311, [192, 0, 2, 1]],
    ["203.0.113.7", 0xcb007107 | 0, [203, 0, 113, 7]],
    ["224.0.0.1", 0xe0000001 | 0, [224, 0, 0, 1]],
    ["255.255.255.255", -1, [255, 255, 255, 255]],
  ];
  for (const [text, value, bytes] of cases) {
    const parsed = parseIpv4(text)!;
    assert.equal(parsed, value, text);
    // Every numeric address is a signed 32-bit integer (a V8 small integer).
    assert.equal(parsed | 0, parsed, text);
    assert.equal(readIpv4(new Uint8Array(bytes), 0), value, text);
    assert.equal(formatIpv4(value), text);
    assert.equal(formatIpv4(value >>> 0), text, "the unsigned form formats the same");
    const b = new Uint8Array(4);
    writeIpv4(b, 0, value);
    assert.deepEqual([...b], bytes, text);
    assert.equal(Ipv4Address.parse(text).value, value, text);
  }
});

Deno.test("formatIpv4/parseIpv4 round-trip and parseIpv4 rejects malformed text", () => {
  assert.equal(formatIpv4(0xc6336401), "198.51.100.1");
  assert.equal(formatIpv4(0), "0.0.0.0");
  assert.equal(formatIpv4(0xffffffff), "255.255.255.255");
  for (const text of ["192.0.2.1", "0.0.0.0", "255.255.255.255", "10.0.0.10"]) {
    assert.equal(formatIpv4(parseIpv4(text)!), text);
  }
  for (
    const bad of [
      "",
      "192.0.2",
      "192.0.2.1.5",
      "256.0.0.1",
      "192.0.2.01",
      " 192.0.2.1",
      "192.0.2.1 ",
      "192.0.2.-1",
      "192.0.2.a",
      "1e2.0.0.1",
      "0x1.0.0.1",
      "192..2.1",
      "1000.0.0.1",
    ]
  ) {
    assert.equal(parseIpv4(bad), null, JSON.stringify(bad));
  }
});

Deno.test("parseIpv4 agrees with the dotted-quad grammar on random near-miss text", () => {
  // Reference: four decimal octets 0..255 without leading zeros, nothing else.
  const reference = (text: string): number | null => {
    const parts = text.split(".");
    if (parts.length !== 4) return null;
    let value = 0;
    for (const part of parts) {
      if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return null;
      value = (value << 8) | Number(part);
    }
    return value;
  };
  const rng = mulberry32(2 ** 31 + 7);
  const alphabet = "0123456789....25 x-";
  for (let n = 0; n < 20_000; n++) {
    const length = Math.floor(rng() * 17);
    let text = "";
    for (let i = 0; i < length; i++) text += alphabet[Math.floor(rng() * alphabet.length)];
    assert.equal(parseIpv4(text), reference(text), JSON.stringify(text));
  }
  for (const text of ["1.2.3.4", "255.255.255.255", "0.0.0.0", "100.200.250.255", "1.22.103.4"]) {
    assert.equal(parseIpv4(text), reference(text), text);
  }
});

Deno.test("readMac/writeMac round-trip 48-bit numbers", () => {
  const b = new Uint8Array(8);
  for (const v of [0, 1, 0x020000000001, 0xffffffffffff, 0x8000_0000_0000, 0x0100_5e00_00fb]) {
    writeMac(b, 1, v);
    assert.equal(readMac(b, 1), v);
  }
  writeMac(b, 0, 0x0123456789ab);
  assert.deepEqual([...b.subarray(0, 6)], [0x01, 0x23, 0x45, 0x67, 0x89, 0xab]);
  // Random values, with the low 32 bits on both sides of 2^31 (writeMac truncates with int32).
  const rnd = mulberry32(0x3ac);
  for (let i = 0; i < 2000; i++) {
    const v = Math.floor(rnd() * 0x10000) * 0x1_0000_0000 + Math.floor(rnd() * 0x1_0000_0000);
    writeMac(b, 2, v);
    assert.equal(readMac(b, 2), v, v.toString(16));
  }
});

Deno.test("MacAddress parses, formats, compares and classifies", () => {
  const m = MacAddress.parse("02:00:00:00:00:01");
  assert.equal(m.value, 0x020000000001);
  assert.equal(m.toString(), "02:00:00:00:00:01");
  assert.equal(MacAddress.parse("0A-1b-2C-3d-4E-5f").toString(), "0a:1b:2c:3d:4e:5f");
  assert.ok(m.equals(new MacAddress(0x020000000001)));
  assert.ok(!m.equals(MacAddress.BROADCAST));
  assert.ok(m.isUnicast() && !m.isMulticast() && !m.isBroadcast());
  assert.ok(MacAddress.BROADCAST.isBroadcast() && MacAddress.BROADCAST.isMulticast());
  assert.ok(MacAddress.parse("01:00:5e:00:00:fb").isMulticast());
  assert.ok(!MacAddress.ZERO.isUnicast());
  assert.equal(MacAddress.ZERO.toString(), "00:00:00:00:00:00");
  const bytes = m.toBytes();
  assert.deepEqual([...bytes], [2, 0, 0, 0, 0, 1]);
  assert.ok(MacAddress.fromBytes(new Uint8Array([9, ...bytes]), 1).equals(m));
});

Deno.test("MacAddress rejects malformed text and out-of-range values", () => {
  for (
    const bad of ["", "02:00:00:00:00", "02:00:00:00:00:01:02", "0g:00:00:00:00:01", "2:0:0:0:0:1"]
  ) {
    assert.throws(() => MacAddress.parse(bad), TypeError, JSON.stringify(bad));
  }
  for (const bad of [-1, 2 ** 48, 1.5, NaN]) {
    assert.throws(() => new MacAddress(bad), RangeError, String(bad));
  }
});

Deno.test("Ipv4Address parses, formats, compares and classifies", () => {
  const a = Ipv4Address.parse("192.0.2.1");
  assert.equal(a.value, 0xc0000201 | 0);
  assert.equal(String(a), "192.0.2.1");
  assert.ok(a.equals(Ipv4Address.fromBytes(new Uint8Array([192, 0, 2, 1]))));
  assert.ok(!a.equals(Ipv4Address.parse("192.0.2.2")));
  assert.ok(Ipv4Address.BROADCAST.isBroadcast() && !a.isBroadcast());
  assert.ok(Ipv4Address.parse("224.0.0.1").isMulticast());
  assert.ok(Ipv4Address.parse("239.255.255.255").isMulticast());
  assert.ok(!Ipv4Address.parse("240.0.0.1").isMulticast());
  assert.ok(!Ipv4Address.parse("223.255.255.255").isMulticast());
  assert.ok(Ipv4Address.UNSPECIFIED.isUnspecified() && Ipv4Address.parse("127.0.0.1").isLoopback());
  const b = new Uint8Array(4);
  a.writeTo(b);
  assert.deepEqual([...b], [192, 0, 2, 1]);
});

Deno.test("Ipv4Address rejects malformed text and out-of-range values", () => {
  assert.throws(() => Ipv4Address.parse("192.0.2.256"), TypeError);
  assert.throws(() => Ipv4Address.parse("host.test"), TypeError);
  for (const bad of [-(2 ** 31) - 1, 2 ** 32, 0.5, NaN, Infinity]) {
    assert.throws(() => new Ipv4Address(bad), RangeError, String(bad));
  }
});

Deno.test("Ipv4Address accepts the unsigned and the signed form and stores int32", () => {
  assert.equal(new Ipv4Address(0xc0000201).value, -1073741311);
  assert.equal(new Ipv4Address(0xc0000201 | 0).value, -1073741311);
  assert.ok(new Ipv4Address(0xc0000201).equals(new Ipv4Address(-1073741311)));
  assert.ok(new Ipv4Address(0xc0000201).equals(Ipv4Address.parse("192.0.2.1")));
  assert.equal(new Ipv4Address(0xffffffff).value, -1);
  assert.ok(new Ipv4Address(-1).isBroadcast() && new Ipv4Address(0xffffffff).isBroadcast());
  assert.equal(Ipv4Address.BROADCAST.value, -1);
  assert.equal(new Ipv4Address(0x80000000).value, -0x80000000);
  assert.equal(new Ipv4Address(-0x80000000).toString(), "128.0.0.0");
  assert.equal(new Ipv4Address(0x7fffffff).value, 0x7fffffff);
  assert.ok(new Ipv4Address(0xe0000001 | 0).isMulticast());
  assert.ok(
    new Ipv4Address(0xefffffff).isMulticast() && !new Ipv4Address(0xf0000000).isMulticast(),
  );
  assert.ok(!new Ipv4Address(-1).isMulticast(), "255.255.255.255 is not 224.0.0.0/4");
  assert.ok(!new Ipv4Address(0x7f000001).isMulticast() && new Ipv4Address(0x7f000001).isLoopback());
  assert.ok(!new Ipv4Address(0x80000000).isLoopback());
  assert.equal(Ipv4Address.fromBytes(new Uint8Array([203, 0, 113, 9])).value, 0xcb007109 | 0);
});

Deno.test("Ipv4Cidr parses, contains, and derives network and broadcast", () => {
  const c = Ipv4Cidr.parse("192.0.2.77/24");
  assert.equal(c.prefixLength, 24);
  assert.equal(c.mask, 0xffffff00 | 0);
  assert.equal(c.mask, -256);
  assert.equal(c.network.value, 0xc0000200 | 0);
  assert.equal(c.broadcast.value, 0xc00002ff | 0);
  assert.equal(c.network.toString(), "192.0.2.0");
  assert.equal(c.broadcast.toString(), "192.0.2.255");
  assert.equal(c.toString(), "192.0.2.77/24");
  assert.ok(c.contains(Ipv4Address.parse("192.0.2.1")));
  assert.ok(c.contains(0xc00002ff) && c.contains(0xc00002ff | 0));
  assert.ok(!c.contains(Ipv4Address.parse("192.0.3.1")));
  assert.ok(!c.contains(Ipv4Address.parse("198.51.100.1")));
  const host = Ipv4Cidr.parse("203.0.113.9");
  assert.equal(host.prefixLength, 32);
  assert.ok(host.contains(0xcb007109) && !host.contains(0xcb00710a));
  const all = Ipv4Cidr.parse("0.0.0.0/0");
  assert.equal(all.mask, 0);
  assert.ok(all.contains(0xffffffff) && all.contains(-1) && all.contains(0));
  assert.equal(all.network.value, 0);
  assert.equal(all.broadcast.value, -1);
  assert.equal(Ipv4Cidr.parse("192.0.2.1/32").mask, -1);
  assert.equal(Ipv4Cidr.parse("128.0.0.0/1").mask, -0x80000000);
  // Across the sign boundary: 127/8 and 128/1 do not overlap.
  assert.ok(!Ipv4Cidr.parse("127.0.0.0/8").contains(0x80000000 | 0));
  assert.ok(Ipv4Cidr.parse("128.0.0.0/1").contains(-1));
  assert.ok(!Ipv4Cidr.parse("128.0.0.0/1").contains(0x7fffffff));
  assert.ok(Ipv4Cidr.parse("224.0.0.0/4").contains(Ipv4Address.parse("239.1.2.3")));
  const odd = Ipv4Cidr.parse("198.51.100.130/25");
  assert.equal(odd.network.toString(), "198.51.100.128");
  assert.ok(!odd.contains(Ipv4Address.parse("198.51.100.127")));
  assert.ok(c.equals(Ipv4Cidr.parse("192.0.2.77/24")));
  assert.ok(!c.equals(Ipv4Cidr.parse("192.0.2.77/25")));
  assert.ok(!c.equals(Ipv4Cidr.parse("192.0.2.78/24")));
});

Deno.test("Ipv4Cidr rejects malformed prefixes", () => {
  for (
    const bad of ["192.0.2.1/33", "192.0.2.1/", "192.0.2.1/-1", "192.0.2.1/08", "192.0.2/24", "/24"]
  ) {
    assert.throws(() => Ipv4Cidr.parse(bad), TypeError, bad);
  }
  assert.throws(() => new Ipv4Cidr(Ipv4Address.UNSPECIFIED, 33), RangeError);
});
