/**
 * IPv6 forwarding through a rawstack router (router6.ts): raw hosts on two
 * memory links, a two-interface stack between them on a ManualClock.
 */
import assert from "node:assert/strict";
import type { FrameSink } from "../../src/phy/device.ts";
import { type MemoryDevice, MemoryLink } from "../../src/phy/memory_link.ts";
import { ManualClock } from "../../src/time/clock.ts";
import { Stack, type StackOptions } from "../../src/stack.ts";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import { mulberry32 } from "../seeded_random.ts";
import {
  blankNa,
  icmpv6,
  ipv6Packet,
  ndpFrame,
  parseV6,
  upperChecksum,
  v6Frame,
  type V6Out,
} from "./_ipv6_helpers.ts";

const A_MAC = 0x02_00_00_00_6a_01;
const B_MAC = 0x02_00_00_00_6b_01;
const R0_MAC = 0x02_00_00_00_6a_fe;
const R1_MAC = 0x02_00_00_00_6b_fe;
const A = Ipv6Address.parse("2001:db8:a::2");
const B = Ipv6Address.parse("2001:db8:b::2");
const R0 = Ipv6Address.parse("2001:db8:a::1");
const R1 = Ipv6Address.parse("2001:db8:b::1");
const ICMPV6 = 58;
const UDP = 17;

/** A host written by hand: answers neighbour solicitations for its address, records IPv6. */
class RawHost6 implements FrameSink {
  readonly received: V6Out[] = [];
  constructor(readonly dev: MemoryDevice, readonly mac: number, readonly ip: Ipv6Address) {}

  onFrame(bytes: Uint8Array, offset: number, length: number): void {
    const o = parseV6(bytes.slice(offset, offset + length));
    if (o === null) return;
    if (o.icmpType === 135) {
      const target = Ipv6Address.fromBytes(o.icmp, 8);
      if (!target.equals(this.ip) || o.src.isUnspecified()) return;
      const na = {
        ...blankNa(),
        target,
        targetLinkLayer: this.mac,
        solicited: true,
        override: true,
      };
      const srcMac = ((bytes[offset + 6] * 2 ** 40) + bytes[offset + 7] * 2 ** 32) +
        (((bytes[offset + 8] << 24) | (bytes[offset + 9] << 16) | (bytes[offset + 10] << 8) |
          bytes[offset + 11]) >>> 0);
      const f = ndpFrame(na, this.ip, o.src, this.mac, srcMac);
      this.dev.transmit(f, 0, f.length);
      return;
    }
    if (o.icmpType >= 130 && o.icmpType <= 143) return; // other NDP, MLD
    this.received.push(o);
  }

  pump(): number {
    return this.dev.receive(this, 256);
  }

  send(packet: Uint8Array, dstMac: number): void {
    const f = v6Frame(dstMac, this.mac, packet);
    this.dev.transmit(f, 0, f.length);
  }

  take(): V6Out[] {
    return this.received.splice(0);
  }
}

/** A UDP datagram (header + data) with its IPv6 checksum. */
function udp6(src: Ipv6Address, dst: Ipv6Address, sport: number, dport: number, data: Uint8Array) {
  const b = new Uint8Array(8 + data.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint16(4, b.length);
  b.set(data, 8);
  v.setUint16(6, upperChecksum(src, dst, UDP, b) || 0xffff);
  return b;
}

async function topology6(opts: { mtuB?: number; router?: Partial<StackOptions> } = {}) {
  const clock = new ManualClock(1000);
  const [r0, a0] = MemoryLink.pair({ macA: R0_MAC, macB: A_MAC });
  const [r1, b1] = MemoryLink.pair({ macA: R1_MAC, macB: B_MAC, mtu: opts.mtuB ?? 1500 });
  const router = new Stack({
    interfaces: [
      { device: r0, ipv4: "198.51.100.1/24", ipv6: "2001:db8:a::1/64" },
      { device: r1, ipv4: "203.0.113.1/24", ipv6: "2001:db8:b::1/64" },
    ],
    forwarding: true,
    clock,
    ipv6Options: {
      random: mulberry32(6),
      addressOptions: { maxDadDelayMs: 0, secret: new Uint8Array(16).fill(6) },
      ndp: { routerSolicitations: 0 },
    },
    ...opts.router,
  });
  await router.start();
  const a = new RawHost6(a0, A_MAC, A);
  const b = new RawHost6(b1, B_MAC, B);
  const settle = () => {
    for (let i = 0; i < 100; i++) if (router.poll() + a.pump() + b.pump() === 0) return;
  };
  // Duplicate address detection of the router's addresses (one solicitation, 1 s).
  for (let t = 0; t < 3000; t += 100) {
    clock.advance(100);
    settle();
  }
  a.take();
  b.take();
  const close = async () => {
    await router.close();
    a0.close();
    b1.close();
  };
  return { clock, router, a, b, settle, close };
}

Deno.test("Router forwards IPv6 with the hop limit − 1, resolving the next hop, then in place", async () => {
  const t = await topology6();
  try {
    for (let i = 0; i < 2; i++) {
      const data = new TextEncoder().encode(`hello ${i}`);
      t.a.send(
        ipv6Packet({
          src: A,
          dst: B,
          nextHeader: UDP,
          payload: udp6(A, B, 4000, 53, data),
          hopLimit: 17,
        }),
        R0_MAC,
      );
      t.settle();
      const got = t.b.take();
      assert.equal(got.length, 1);
      assert.equal(got[0].hopLimit, 16);
      assert.ok(got[0].src.equals(A) && got[0].dst.equals(B));
      assert.equal(got[0].dstMac, B_MAC);
      assert.deepEqual(got[0].payload.subarray(8), data);
      assert.equal(upperChecksum(A, B, UDP, got[0].payload), 0);
    }
    const f = t.router.stats().router!.forward6!;
    assert.equal(f.forwarded, 2);
    assert.equal(f.copied, 1); // the first waited for neighbour resolution
    assert.equal(f.zeroCopy, 1);
  } finally {
    await t.close();
  }
});

Deno.test("Router answers hop limit 1 with ICMPv6 Time Exceeded from its address on that link", async () => {
  const t = await topology6();
  try {
    const packet = ipv6Packet({
      src: A,
      dst: B,
      nextHeader: UDP,
      payload: udp6(A, B, 4000, 53, new Uint8Array(4)),
      hopLimit: 1,
    });
    t.a.send(packet, R0_MAC);
    t.settle();
    assert.equal(t.b.take().length, 0);
    const [err] = t.a.take();
    assert.equal(err.icmpType, 3); // Time Exceeded
    assert.equal(err.icmp[1], 0); // hop limit exceeded in transit
    assert.ok(err.src.equals(R0) && err.dst.equals(A));
    assert.deepEqual(err.icmp.subarray(8), packet); // the whole packet quoted
    assert.equal(upperChecksum(R0, A, ICMPV6, err.icmp), 0);
    assert.equal(t.router.stats().router!.forward6!.hopLimitExceeded, 1);
  } finally {
    await t.close();
  }
});

Deno.test("Router sends Packet Too Big for a smaller next link and never fragments IPv6", async () => {
  const t = await topology6({ mtuB: 1280 });
  try {
    const big = ipv6Packet({
      src: A,
      dst: B,
      nextHeader: UDP,
      payload: udp6(A, B, 4000, 53, new Uint8Array(1400)),
    });
    t.a.send(big, R0_MAC);
    t.settle();
    assert.equal(t.b.take().length, 0);
    const [err] = t.a.take();
    assert.equal(err.icmpType, 2); // Packet Too Big
    assert.equal(new DataView(err.icmp.buffer, err.icmp.byteOffset).getUint32(4), 1280);
    assert.ok(err.src.equals(R0));
    assert.equal(err.icmp.length, 1280 - 40); // quoted as much as fits the minimum MTU
    assert.equal(upperChecksum(R0, A, ICMPV6, err.icmp), 0);
    // One that fits goes through whole.
    t.a.send(
      ipv6Packet({
        src: A,
        dst: B,
        nextHeader: UDP,
        payload: udp6(A, B, 4000, 53, new Uint8Array(1232)),
      }),
      R0_MAC,
    );
    t.settle();
    const [fits] = t.b.take();
    assert.equal(fits.packet.length, 1280);
    const f = t.router.stats().router!.forward6!;
    assert.equal(f.tooBig, 1);
    assert.equal(f.forwarded, 1);
  } finally {
    await t.close();
  }
});

Deno.test("Router does not forward link-local, multicast, unspecified or loopback IPv6; no route is unreachable", async () => {
  const t = await topology6();
  try {
    const ll = Ipv6Address.parse("fe80::a");
    const send = (src: Ipv6Address, dst: Ipv6Address) =>
      t.a.send(
        ipv6Packet({ src, dst, nextHeader: UDP, payload: udp6(src, dst, 1, 2, new Uint8Array(4)) }),
        R0_MAC,
      );
    send(ll, B); // link-local source
    send(A, Ipv6Address.parse("fe80::b")); // link-local destination (not ours)
    send(Ipv6Address.UNSPECIFIED, B);
    send(A, Ipv6Address.LOOPBACK);
    t.settle();
    assert.equal(t.b.take().length, 0);
    assert.equal(t.a.take().length, 0); // silently (Linux ip6_forward)
    const f = t.router.stats().router!.forward6!;
    assert.equal(f.linkLocal, 2);
    assert.equal(f.badSource, 1);
    assert.equal(f.badDestination, 1);
    assert.equal(f.forwarded, 0);
    // No route: Destination Unreachable, code 0.
    send(A, Ipv6Address.parse("2001:db8:c::9"));
    t.settle();
    const [err] = t.a.take();
    assert.equal(err.icmpType, 1);
    assert.equal(err.icmp[1], 0);
    assert.equal(t.router.stats().router!.forward6!.noRoute, 1);
  } finally {
    await t.close();
  }
});

Deno.test("Router routes IPv6 by longest prefix through a gateway, and the forward hook sees IPv6", async () => {
  const seen: string[] = [];
  const t = await topology6({
    router: {
      routes: [{ destination: "2001:db8:c::/48", gateway: "2001:db8:b::2" }],
      hooks: {
        forward: (p) => {
          seen.push(`${p.version} ${p.source6} ${p.destination6} ${p.protocol} ${p.ttl}`);
          return p.destinationPort === 9 ? "drop" : "accept";
        },
      },
    },
  });
  try {
    const far = Ipv6Address.parse("2001:db8:c::7");
    const routes = t.router.router!.ipv6!.routes();
    assert.deepEqual(routes.map((r) => `${r.destination} ${r.gateway} ${r.interface}`), [
      "2001:db8:a::/64 null 0",
      "2001:db8:b::/64 null 1",
      "2001:db8:c::/48 2001:db8:b::2 1",
    ]);
    t.a.send(
      ipv6Packet({
        src: A,
        dst: far,
        nextHeader: UDP,
        payload: udp6(A, far, 4000, 53, new Uint8Array(4)),
      }),
      R0_MAC,
    );
    t.a.send(
      ipv6Packet({
        src: A,
        dst: far,
        nextHeader: UDP,
        payload: udp6(A, far, 4000, 9, new Uint8Array(4)),
      }),
      R0_MAC,
    );
    t.settle();
    const got = t.b.take();
    assert.equal(got.length, 1); // the second dropped by the hook
    assert.equal(got[0].dstMac, B_MAC); // to the gateway's MAC
    assert.ok(got[0].dst.equals(far));
    assert.deepEqual(seen, [
      `6 ${A} ${far} 17 63`,
      `6 ${A} ${far} 17 63`,
    ]);
    assert.equal(t.router.stats().router!.forward6!.hookDropped, 1);
  } finally {
    await t.close();
  }
});

Deno.test("Router answers an IPv6 ping to its other interface's address, from that address", async () => {
  const t = await topology6();
  try {
    const echo = icmpv6(A, R1, 128, 0, 0x00070001, new Uint8Array(8).fill(5));
    t.a.send(ipv6Packet({ src: A, dst: R1, nextHeader: ICMPV6, payload: echo }), R0_MAC);
    t.settle();
    const [reply] = t.a.take();
    assert.equal(reply.icmpType, 129);
    assert.ok(reply.src.equals(R1) && reply.dst.equals(A));
    assert.equal(t.b.take().length, 0);
    assert.equal(t.router.stats().router!.forward6!.forwarded, 0);
    // And the router's own ping to B leaves by interface 1, from its address there.
    const ping = t.router.ping("2001:db8:b::2", { count: 1, timeoutMs: 100 });
    t.settle();
    const [request] = t.b.take();
    assert.equal(request.icmpType, 128);
    assert.ok(request.src.equals(R1));
    t.clock.advance(200);
    t.settle();
    await ping;
  } finally {
    await t.close();
  }
});

Deno.test("Router tells the source Address Unreachable when the next hop does not answer", async () => {
  const t = await topology6();
  try {
    const ghost = Ipv6Address.parse("2001:db8:b::99");
    t.a.send(
      ipv6Packet({
        src: A,
        dst: ghost,
        nextHeader: UDP,
        payload: udp6(A, ghost, 4000, 53, new Uint8Array(4)),
      }),
      R0_MAC,
    );
    t.settle();
    assert.equal(t.a.take().length, 0);
    for (let i = 0; i < 50; i++) {
      t.clock.advance(100);
      t.settle();
    }
    const [err] = t.a.take();
    assert.equal(err.icmpType, 1); // Destination Unreachable
    assert.equal(err.icmp[1], 3); // address unreachable (RFC 4443 §3.1)
    assert.ok(err.src.equals(R0) && err.dst.equals(A));
    assert.ok(Ipv6Address.fromBytes(err.icmp, 8 + 24).equals(ghost)); // the quoted destination
  } finally {
    await t.close();
  }
});
