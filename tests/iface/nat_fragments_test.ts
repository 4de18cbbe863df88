/**
 * NAT and fragments: the masquerading router defragments before NAT (as
 * Linux's nf_defrag_ipv4 before conntrack) and fragments again on output.
 */
import assert from "node:assert/strict";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import { ManualClock } from "../../src/time/clock.ts";
import { Stack } from "../../src/stack.ts";
import {
  A_IP,
  B_IP,
  get16,
  get32,
  ipChecksumOk,
  ipv4Packet,
  l4ChecksumOk,
  R0_MAC,
  R1_IP,
  R1_MAC,
  topology,
  udp,
} from "./_router_helpers.ts";

Deno.test("Router with masquerade carries a large UDP datagram whole, both directions", async () => {
  const clock = new ManualClock(1000);
  const [r0, a0] = MemoryLink.pair({ macA: R0_MAC, macB: 0x020000000a01 });
  const [r1, b1] = MemoryLink.pair({ macA: R1_MAC, macB: 0x020000000b01 });
  const router = new Stack({
    interfaces: [
      { device: r0, ipv4: "198.51.100.1/24" },
      { device: r1, ipv4: "203.0.113.1/24", masquerade: true },
    ],
    forwarding: true,
    clock,
  });
  const a = new Stack({ device: a0, ipv4: "198.51.100.2/24", gateway: "198.51.100.1", clock });
  // No route back to A's network: B only ever sees the router's address.
  const b = new Stack({ device: b1, ipv4: "203.0.113.2/24", clock });
  const stacks = [router, a, b];
  for (const s of stacks) await s.start();
  const settle = () => {
    for (let i = 0; i < 200; i++) if (stacks.reduce((n, s) => n + s.poll(), 0) === 0) return;
  };
  try {
    const server = b.listenDatagram({ port: 7 });
    const client = a.listenDatagram({ port: 4000 });
    const request = new Uint8Array(5000).map((_, i) => (i * 13) & 0xff);
    const serverGot = server.receive();
    await client.send(request, { hostname: "203.0.113.2", port: 7 });
    settle();
    const [got, from] = await serverGot;
    assert.deepEqual(got, request);
    assert.equal(from.hostname, "203.0.113.1");
    const response = new Uint8Array(7000).map((_, i) => (i * 7 + 1) & 0xff);
    const clientGot = client.receive();
    await server.send(response, from);
    settle();
    const [back, backFrom] = await clientGot;
    assert.deepEqual(back, response);
    assert.equal(backFrom.hostname, "203.0.113.2");
    assert.equal(backFrom.port, 7);
    // A large datagram for the router itself is defragmented once and delivered.
    const local = router.listenDatagram({ port: 9 });
    const localGot = local.receive();
    await client.send(request, { hostname: "198.51.100.1", port: 9 });
    settle();
    const [mine] = await localGot;
    assert.deepEqual(mine, request);
    local.close();
    const stats = router.stats().router!;
    assert.equal(stats.defrag.reassembled, 3);
    assert.equal(stats.nat.translatedOut, 1);
    assert.equal(stats.nat.translatedIn, 1);
    assert.equal(stats.forward.fragmented, 2);
    server.close();
    client.close();
  } finally {
    for (const s of stacks) await s.close();
  }
});

Deno.test("Router with masquerade cuts a defragmented datagram no larger than its largest fragment", async () => {
  const t = await topology({ masquerade: true });
  try {
    // A sends 1,208 bytes of UDP as fragments of at most 576 bytes (RFC 791's minimum).
    const data = new Uint8Array(1200).map((_, i) => i & 0xff);
    const segment = udp(A_IP, B_IP, 4000, 9, data);
    const pieces = [[0, 552], [552, 1104], [1104, segment.length]];
    // Out of order: the last first, as a reassembler must cope with.
    for (const [start, end] of [pieces[2], pieces[0], pieces[1]]) {
      t.a.send(
        ipv4Packet({
          src: A_IP,
          dst: B_IP,
          protocol: 17,
          payload: segment.subarray(start, end),
          id: 0x4242,
          mf: end < segment.length,
          fragmentOffset: start,
        }),
        R0_MAC,
      );
    }
    t.settle();
    const got = t.b.take();
    assert.equal(got.length, 3);
    for (const f of got) {
      assert.ok(get16(f, 2) <= 576, `fragment of ${get16(f, 2)} bytes`);
      assert.equal(get32(f, 12), R1_IP); // masqueraded, every fragment
      assert.ok(ipChecksumOk(f));
    }
    // Reassemble by hand: one datagram, its UDP checksum right after NAT.
    got.sort((x, y) => (get16(x, 6) & 0x1fff) - (get16(y, 6) & 0x1fff));
    const whole = new Uint8Array(20 + segment.length);
    whole.set(got[0].subarray(0, 20));
    for (const f of got) whole.set(f.subarray(20), 20 + (get16(f, 6) & 0x1fff) * 8);
    whole[2] = whole.length >>> 8;
    whole[3] = whole.length & 0xff;
    whole[6] = 0;
    whole[7] = 0;
    assert.ok(l4ChecksumOk(whole));
    assert.deepEqual(whole.subarray(28), data);
    assert.equal(get16(whole, 22), 9);
  } finally {
    await t.close();
  }
});
