/** A forwarded datagram whose next hop never answers ARP: its source hears of it. */
import assert from "node:assert/strict";
import { parseIpv4 } from "../../src/wire/address.ts";
import {
  A_IP,
  get32,
  ipChecksumOk,
  ipv4Packet,
  l4ChecksumOk,
  R0_IP,
  R0_MAC,
  topology,
  udp,
} from "./_router_helpers.ts";

Deno.test("Router answers a forwarded datagram whose next hop never resolves with ICMP host unreachable", async () => {
  const t = await topology();
  try {
    const ghost = parseIpv4("203.0.113.77")!;
    const datagram = ipv4Packet({
      src: A_IP,
      dst: ghost,
      protocol: 17,
      payload: udp(A_IP, ghost, 4000, 53, new Uint8Array(4)),
    });
    t.a.send(datagram, R0_MAC);
    t.settle();
    assert.equal(t.a.take().length, 0);
    for (let i = 0; i < 100; i++) {
      t.clock.advance(100);
      t.settle();
    }
    const got = t.a.take();
    assert.equal(got.length, 1);
    const err = got[0];
    assert.equal(err[9], 1); // ICMP
    assert.equal(err[20], 3); // destination unreachable
    assert.equal(err[21], 1); // host unreachable
    assert.equal(get32(err, 12), R0_IP);
    assert.equal(get32(err, 16), A_IP);
    assert.equal(get32(err, 28 + 16), ghost); // the quoted datagram's destination
    assert.ok(ipChecksumOk(err) && l4ChecksumOk(err));
    assert.equal(t.router.stats().interfaces![1].link.hostUnreachable, 1);
  } finally {
    await t.close();
  }
});
