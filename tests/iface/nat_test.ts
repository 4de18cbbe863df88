import assert from "node:assert/strict";
import { parseIpv4 } from "../../src/wire/address.ts";
import {
  A_IP,
  B_IP,
  get16,
  get32,
  icmpEcho,
  icmpError,
  ipChecksumOk,
  ipv4Packet,
  l4ChecksumOk,
  R0_MAC,
  R1_IP,
  R1_MAC,
  sum16,
  tcp,
  topology,
  udp,
} from "./_router_helpers.ts";

const SYN = 0x02;
const ACK = 0x10;

function udpFrom(src: number, sport: number, dport = 53, dst = B_IP) {
  return ipv4Packet({
    src,
    dst,
    protocol: 17,
    payload: udp(src, dst, sport, dport, new Uint8Array(5)),
  });
}

Deno.test("Nat masquerades UDP out and translates the reply back, checksums right", async () => {
  const t = await topology({ masquerade: true });
  try {
    t.a.send(udpFrom(A_IP, 4000), R0_MAC);
    t.settle();
    const [out] = t.b.take();
    assert.equal(get32(out, 12), R1_IP);
    assert.equal(get16(out, 20), 4000); // the inside port was free: kept
    assert.ok(ipChecksumOk(out) && l4ChecksumOk(out));
    const reply = ipv4Packet({
      src: B_IP,
      dst: R1_IP,
      protocol: 17,
      payload: udp(B_IP, R1_IP, 53, 4000, new Uint8Array(9)),
    });
    t.b.send(reply, R1_MAC);
    t.settle();
    const [back] = t.a.take();
    assert.equal(get32(back, 16), A_IP);
    assert.equal(get16(back, 22), 4000);
    assert.ok(ipChecksumOk(back) && l4ChecksumOk(back));
    const nat = t.router.stats().router!.nat;
    assert.equal(nat.translatedOut, 1);
    assert.equal(nat.translatedIn, 1);
    assert.equal(nat.entries, 1);
  } finally {
    await t.close();
  }
});

Deno.test("Nat masquerades TCP and ICMP echo both ways", async () => {
  const t = await topology({ masquerade: true });
  try {
    t.a.send(
      ipv4Packet({ src: A_IP, dst: B_IP, protocol: 6, payload: tcp(A_IP, B_IP, 40000, 80, SYN) }),
      R0_MAC,
    );
    t.a.send(
      ipv4Packet({ src: A_IP, dst: B_IP, protocol: 1, payload: icmpEcho(8, 0x77, 1) }),
      R0_MAC,
    );
    t.settle();
    const out = t.b.take();
    assert.equal(out.length, 2);
    for (const p of out) {
      assert.equal(get32(p, 12), R1_IP);
      assert.ok(ipChecksumOk(p) && l4ChecksumOk(p));
    }
    const tcpOut = out.find((p) => p[9] === 6)!;
    const icmpOut = out.find((p) => p[9] === 1)!;
    const ext = get16(tcpOut, 20);
    const id = get16(icmpOut, 24);
    t.b.send(
      ipv4Packet({
        src: B_IP,
        dst: R1_IP,
        protocol: 6,
        payload: tcp(B_IP, R1_IP, 80, ext, SYN | ACK),
      }),
      R1_MAC,
    );
    t.b.send(
      ipv4Packet({ src: B_IP, dst: R1_IP, protocol: 1, payload: icmpEcho(0, id, 1) }),
      R1_MAC,
    );
    t.settle();
    const back = t.a.take();
    assert.equal(back.length, 2);
    for (const p of back) {
      assert.equal(get32(p, 16), A_IP);
      assert.ok(ipChecksumOk(p) && l4ChecksumOk(p));
    }
    assert.equal(get16(back.find((p) => p[9] === 6)!, 22), 40000);
    assert.equal(get16(back.find((p) => p[9] === 1)!, 24), 0x77);
  } finally {
    await t.close();
  }
});

Deno.test("Nat translates an ICMP error about a masqueraded flow: outer address and the quote", async () => {
  const t = await topology({ masquerade: true });
  try {
    const original = udpFrom(A_IP, 4000, 9);
    t.a.send(original, R0_MAC);
    t.settle();
    const [out] = t.b.take();
    // B: port unreachable quoting what it got.
    t.b.send(
      ipv4Packet({ src: B_IP, dst: R1_IP, protocol: 1, payload: icmpError(3, 3, out) }),
      R1_MAC,
    );
    t.settle();
    const [err] = t.a.take();
    assert.ok(err !== undefined);
    assert.equal(get32(err, 16), A_IP);
    assert.ok(ipChecksumOk(err) && l4ChecksumOk(err));
    const quote = err.subarray(28);
    assert.equal(get32(quote, 12), A_IP);
    assert.equal(get16(quote, 20), 4000);
    assert.equal(sum16(quote, 0, 20), 0xffff); // the quoted header's checksum
    // The quoted UDP header is the original one, checksum included.
    assert.deepEqual(quote.subarray(20, 28), original.subarray(20, 28));
    assert.equal(t.router.stats().router!.nat.icmpErrorsTranslated, 1);
  } finally {
    await t.close();
  }
});

Deno.test("Nat never gives one external port to two connections", async () => {
  const t = await topology({ masquerade: true });
  try {
    const second = parseIpv4("198.51.100.3")!;
    t.a.send(udpFrom(A_IP, 4000), R0_MAC);
    t.a.send(udpFrom(second, 4000), R0_MAC); // same port from another inside host
    t.a.send(udpFrom(A_IP, 60000), R0_MAC); // outside the NAT range (1024–49151)
    t.a.send(udpFrom(A_IP, 4000, 54), R0_MAC); // another remote port: another connection
    t.settle();
    const ports = t.b.take().map((p) => get16(p, 20));
    assert.equal(ports.length, 4);
    assert.equal(new Set(ports).size, 4);
    assert.equal(ports[0], 4000);
    for (const p of ports) assert.ok(p >= 1024 && p <= 49151);
  } finally {
    await t.close();
  }
});

Deno.test("Nat refuses and counts connections when its ports run out or the table is full", async () => {
  const t = await topology({ masquerade: true, router: { nat: { portMin: 5000, portMax: 5001 } } });
  try {
    for (const sport of [7000, 7001, 7002]) t.a.send(udpFrom(A_IP, sport), R0_MAC);
    t.settle();
    assert.equal(t.b.take().length, 2);
    const s = t.router.stats().router!;
    assert.equal(s.nat.portsExhausted, 1);
    assert.equal(s.forward.natDropped, 1);
  } finally {
    await t.close();
  }
  const u = await topology({ masquerade: true, router: { nat: { maxEntries: 2 } } });
  try {
    for (const sport of [7000, 7001, 7002]) u.a.send(udpFrom(A_IP, sport), R0_MAC);
    u.settle();
    assert.equal(u.b.take().length, 2);
    assert.equal(u.router.stats().router!.nat.tableFull, 1);
    assert.equal(u.router.stats().router!.nat.entries, 2);
  } finally {
    await u.close();
  }
});

Deno.test("Nat expires an unanswered UDP flow after its timeout; a late reply is not let in", async () => {
  const t = await topology({ masquerade: true });
  try {
    t.a.send(udpFrom(A_IP, 4000), R0_MAC);
    t.settle();
    t.b.take();
    t.clock.advance(29_000);
    t.settle();
    assert.equal(t.router.stats().router!.nat.entries, 1);
    t.clock.advance(2_000); // past 30 s (Linux udp_timeout)
    t.settle();
    const nat = t.router.stats().router!.nat;
    assert.equal(nat.entries, 0);
    assert.equal(nat.expired, 1);
    t.b.send(
      ipv4Packet({
        src: B_IP,
        dst: R1_IP,
        protocol: 17,
        payload: udp(B_IP, R1_IP, 53, 4000, new Uint8Array(4)),
      }),
      R1_MAC,
    );
    t.settle();
    assert.equal(t.a.take().length, 0);
    assert.equal(t.router.stats().router!.nat.translatedIn, 0);
  } finally {
    await t.close();
  }
});

Deno.test("Nat filters replies from another remote than the connection's", async () => {
  const t = await topology({ masquerade: true });
  try {
    t.a.send(udpFrom(A_IP, 4000), R0_MAC);
    t.settle();
    t.b.take();
    t.b.send(
      ipv4Packet({
        src: B_IP,
        dst: R1_IP,
        protocol: 17,
        payload: udp(B_IP, R1_IP, 5353, 4000, new Uint8Array(4)),
      }),
      R1_MAC,
    );
    t.settle();
    assert.equal(t.a.take().length, 0);
    assert.equal(t.router.stats().router!.nat.inboundFiltered, 1);
  } finally {
    await t.close();
  }
});

Deno.test("Nat translates an inside host's ICMP error about a reply it got through us", async () => {
  const t = await topology({ masquerade: true });
  try {
    t.a.send(udpFrom(A_IP, 4000), R0_MAC);
    t.settle();
    t.b.take();
    const reply = ipv4Packet({
      src: B_IP,
      dst: R1_IP,
      protocol: 17,
      payload: udp(B_IP, R1_IP, 53, 4000, new Uint8Array(6)),
    });
    t.b.send(reply, R1_MAC);
    t.settle();
    const [got] = t.a.take();
    // A answers with port unreachable quoting what it got (B → A:4000).
    t.a.send(
      ipv4Packet({ src: A_IP, dst: B_IP, protocol: 1, payload: icmpError(3, 3, got) }),
      R0_MAC,
    );
    t.settle();
    const [err] = t.b.take();
    assert.ok(err !== undefined);
    assert.equal(get32(err, 12), R1_IP); // from the outside address
    assert.ok(ipChecksumOk(err) && l4ChecksumOk(err));
    const quote = err.subarray(28);
    assert.equal(get32(quote, 16), R1_IP); // the quote's destination is ours again
    assert.equal(get16(quote, 22), 4000);
    assert.equal(sum16(quote, 0, 20), 0xffff);
    // B can match it to what it sent: the quoted UDP header is B's own.
    assert.deepEqual(quote.subarray(20, 28), reply.subarray(20, 28));
  } finally {
    await t.close();
  }
});
