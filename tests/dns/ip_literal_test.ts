import assert from "node:assert/strict";
import { canonicalIpLiteral, parseIpv6 } from "../../src/dns/ip_literal.ts";

Deno.test("parseIpv6 accepts RFC 4291 §2.2 forms", () => {
  assert.deepEqual([...parseIpv6("::")!], new Array(16).fill(0));
  assert.deepEqual([...parseIpv6("::1")!], [...new Array(15).fill(0), 1]);
  assert.equal(parseIpv6("1:2:3:4:5:6:7:8")![15], 8);
  const mapped = parseIpv6("::ffff:192.0.2.1")!;
  assert.deepEqual([...mapped.subarray(10)], [0xff, 0xff, 192, 0, 2, 1]);
  assert.equal(parseIpv6("fe80::")![0], 0xfe);
});

Deno.test("parseIpv6 rejects malformed text", () => {
  for (
    const bad of [
      "",
      ":",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "12345::",
      "g::1",
      "1:2:3:4:5:6:7::8",
      "::192.0.2",
      "1.2.3.4::",
      "x".repeat(50),
    ]
  ) {
    assert.equal(parseIpv6(bad), null, bad);
  }
});

Deno.test("canonicalIpLiteral canonicalizes literals and rejects names", () => {
  assert.equal(canonicalIpLiteral("192.0.2.1"), "192.0.2.1");
  assert.equal(canonicalIpLiteral("2001:0DB8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
  assert.equal(canonicalIpLiteral("[::1]"), "::1");
  assert.equal(canonicalIpLiteral("192.0.2.01"), null);
  assert.equal(canonicalIpLiteral("host.test"), null);
  assert.equal(canonicalIpLiteral("1234"), null);
});
