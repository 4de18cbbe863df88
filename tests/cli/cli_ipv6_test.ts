import assert from "node:assert/strict";
import { runCli } from "./_run.ts";

const IP6 = ["--memory", "--ip6", "2001:db8:1::2/64"];

Deno.test("cli ping --memory --ip6 pings the peer's IPv6 literal", async () => {
  const r = await runCli(["ping", ...IP6, "-c", "1", "2001:db8:1::1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /from 2001:db8:1::1: icmp_seq=1/);
});

Deno.test("cli dns -t AAAA --memory --ip6 prints the AAAA record", async () => {
  const r = await runCli(["dns", ...IP6, "-t", "AAAA", "peer.test"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "2001:db8:1::1");
});

Deno.test("cli arp --memory --ip6 lists the IPv6 neighbour with its NUD state", async () => {
  const r = await runCli(["arp", ...IP6, "2001:db8:1::1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /2001:db8:1::1\s+02:00:00:00:00:02\s+reachable/);
});

Deno.test("cli get --memory --ip6 fetches http://[2001:db8:1::1]/ and, by name, over IPv6 first", async () => {
  const literal = await runCli(["get", ...IP6, "http://[2001:db8:1::1]/bytes/3000"]);
  assert.equal(literal.code, 0, literal.stderr);
  assert.equal(literal.stdout.length, 3000);
  const named = await runCli(["get", ...IP6, "--verbose", "http://peer.test/bytes/10"]);
  assert.equal(named.code, 0, named.stderr);
  assert.equal(named.stdout.length, 10);
  // Happy Eyeballs (RFC 8305): the name has A and AAAA, the SYN goes over IPv6.
  assert.match(named.stderr, /\[2001:db8:1::2\]:\d+ > \[2001:db8:1::1\]:80 +TCP \d+ → 80 SYN /);
  assert.doesNotMatch(named.stderr, /192\.0\.2\.1:80 +TCP/);
});

Deno.test("cli trace reads an IPv6 capture: the connection, its ladder, the packets view", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rs-ipv6-cli-" });
  try {
    const pcap = `${dir}/v6.pcap`;
    const got = await runCli(["get", ...IP6, "--pcap", pcap, "http://[2001:db8:1::1]/bytes/3000"]);
    assert.equal(got.code, 0, got.stderr);
    const ladder = await runCli(["trace", pcap]);
    assert.equal(ladder.code, 0, ladder.stderr);
    assert.match(ladder.stdout, /TCP connection 1: \[2001:db8:1::2\]:\d+ → \[2001:db8:1::1\]:80/);
    assert.match(ladder.stdout, /SYN,ACK seq=0 ack=1/);
    const packets = await runCli(["trace", "--packets", pcap]);
    assert.equal(packets.code, 0, packets.stderr);
    assert.match(packets.stdout, /2001:db8:1::2/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
