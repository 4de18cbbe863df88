import assert from "node:assert/strict";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import { ManualClock } from "../../src/time/clock.ts";
import { Stack } from "../../src/stack.ts";
import { formatIpv4, parseIpv4 } from "../../src/wire/address.ts";
import {
  A_IP,
  B_IP,
  get16,
  get32,
  icmpEcho,
  ipChecksumOk,
  ipv4Packet,
  l4ChecksumOk,
  R0_IP,
  R0_MAC,
  R1_IP,
  R1_MAC,
  tcp,
  topology,
  udp,
} from "./_router_helpers.ts";

Deno.test("Router routing table: longest prefix, then the lowest metric, across interfaces", async () => {
  const clock = new ManualClock(0);
  const [d0] = MemoryLink.pair();
  const [d1] = MemoryLink.pair();
  const [d2] = MemoryLink.pair();
  const s = new Stack({
    interfaces: [
      { device: d0, ipv4: "198.51.100.1/24", gateway: "198.51.100.254", metric: 10 },
      { device: d1, ipv4: "203.0.113.1/24", gateway: "203.0.113.254", metric: 5 },
      { device: d2, ipv4: "192.0.2.1/24" },
    ],
    routes: [{ destination: "203.0.113.128/25", gateway: "192.0.2.7" }],
    clock,
  });
  const r = s.router!;
  const hop = (dst: string) => {
    const i = r.lookup(parseIpv4(dst)!);
    const route = r.routes()[i];
    return `${route.interface} ${route.gateway ?? "on-link"}`;
  };
  assert.equal(hop("198.51.100.9"), "0 on-link");
  assert.equal(hop("203.0.113.9"), "1 on-link");
  assert.equal(hop("203.0.113.200"), "2 192.0.2.7"); // /25 beats the connected /24
  assert.equal(hop("8.8.8.8"), "1 203.0.113.254"); // both defaults: metric 5 beats 10
  assert.equal(formatIpv4(r.sourceAddressFor(parseIpv4("8.8.8.8")!)), "203.0.113.1");
  assert.equal(formatIpv4(r.sourceAddressFor(parseIpv4("192.0.2.9")!)), "192.0.2.1");
  assert.equal(s.addresses().length, 3);
  await s.close();
});

Deno.test("Router forwards with TTL − 1 and a valid header checksum, in place, both ways", async () => {
  const t = await topology();
  try {
    const payload = udp(A_IP, B_IP, 4000, 53, new TextEncoder().encode("hello"));
    t.a.send(ipv4Packet({ src: A_IP, dst: B_IP, protocol: 17, payload, ttl: 17 }), R0_MAC);
    t.settle();
    const got = t.b.take();
    assert.equal(got.length, 1);
    const p = got[0];
    assert.equal(p[8], 16);
    assert.ok(ipChecksumOk(p));
    assert.ok(l4ChecksumOk(p));
    assert.equal(get32(p, 12), A_IP);
    // Back: B → A.
    const back = udp(B_IP, A_IP, 53, 4000, new Uint8Array(3));
    t.b.send(ipv4Packet({ src: B_IP, dst: A_IP, protocol: 17, payload: back }), R1_MAC);
    t.settle();
    assert.equal(t.a.take().length, 1);
    const f = t.router.stats().router!.forward;
    assert.equal(f.forwarded, 2);
    // The first datagram each way waited for ARP (one copy); none after.
    t.a.send(ipv4Packet({ src: A_IP, dst: B_IP, protocol: 17, payload }), R0_MAC);
    t.settle();
    assert.equal(t.b.take().length, 1);
    const f2 = t.router.stats().router!.forward;
    assert.equal(f2.zeroCopy, 1);
    assert.equal(f2.copied, 2);
    const ifs = t.router.stats().interfaces!;
    assert.equal(ifs.length, 2);
    assert.equal(ifs[1].link.txFrames > 0, true);
  } finally {
    await t.close();
  }
});

Deno.test("Router answers TTL 1 with ICMP time exceeded quoting the datagram", async () => {
  const t = await topology();
  try {
    const dgram = ipv4Packet({
      src: A_IP,
      dst: B_IP,
      protocol: 17,
      ttl: 1,
      payload: udp(A_IP, B_IP, 33434, 33435, new Uint8Array(12)),
    });
    t.a.send(dgram, R0_MAC);
    t.settle();
    assert.equal(t.b.take().length, 0);
    const got = t.a.take();
    assert.equal(got.length, 1);
    const e = got[0];
    assert.equal(e[9], 1);
    assert.equal(get32(e, 12), R0_IP);
    assert.equal(e[20], 11); // time exceeded
    assert.equal(e[21], 0);
    assert.ok(l4ChecksumOk(e));
    assert.deepEqual(e.subarray(28, 48), dgram.subarray(0, 20)); // the original header, TTL 1
    assert.equal(t.router.stats().router!.forward.ttlExceeded, 1);
  } finally {
    await t.close();
  }
});

Deno.test("Router sends fragmentation needed with the next-hop MTU when DF is set", async () => {
  const t = await topology({ mtuB: 1280 });
  try {
    const big = ipv4Packet({
      src: A_IP,
      dst: B_IP,
      protocol: 6,
      df: true,
      payload: tcp(A_IP, B_IP, 40000, 80, 0x10, new Uint8Array(1400)),
    });
    t.a.send(big, R0_MAC);
    t.settle();
    assert.equal(t.b.take().length, 0);
    const got = t.a.take();
    assert.equal(got.length, 1);
    assert.equal(got[0][20], 3);
    assert.equal(got[0][21], 4);
    assert.equal(get16(got[0], 26), 1280); // RFC 1191 §4: next-hop MTU
    assert.ok(l4ChecksumOk(got[0]));
    assert.equal(t.router.stats().router!.forward.fragNeeded, 1);
  } finally {
    await t.close();
  }
});

Deno.test("Router fragments a datagram without DF for a smaller next link", async () => {
  const t = await topology({ mtuB: 576 });
  try {
    const data = new Uint8Array(1400).map((_, i) => i & 0xff);
    const payload = udp(A_IP, B_IP, 5000, 6000, data);
    const dgram = ipv4Packet({ src: A_IP, dst: B_IP, protocol: 17, payload, id: 0x4242 });
    t.a.send(dgram, R0_MAC);
    t.settle();
    const frags = t.b.take();
    assert.equal(frags.length, 3);
    const whole = new Uint8Array(payload.length);
    let last = false;
    for (const f of frags) {
      assert.ok(f.length <= 576);
      assert.ok(ipChecksumOk(f));
      assert.equal(get16(f, 4), 0x4242);
      assert.equal(f[8], 63);
      const word = get16(f, 6);
      const off = (word & 0x1fff) * 8;
      whole.set(f.subarray(20), off);
      if ((word & 0x2000) === 0) last = true;
    }
    assert.ok(last);
    assert.deepEqual(whole, payload);
    const s = t.router.stats().router!.forward;
    assert.equal(s.fragmented, 1);
    assert.equal(s.fragmentsSent, 3);
  } finally {
    await t.close();
  }
});

Deno.test("Router does not forward martian, link-local, broadcast or multicast datagrams", async () => {
  const t = await topology();
  try {
    const send = (src: string, dst: string) =>
      t.a.send(
        ipv4Packet({
          src: parseIpv4(src)!,
          dst: parseIpv4(dst)!,
          protocol: 17,
          payload: udp(parseIpv4(src)!, parseIpv4(dst)!, 1, 2, new Uint8Array(4)),
        }),
        R0_MAC,
      );
    send("127.0.0.1", "203.0.113.2"); // martian source
    send("0.1.2.3", "203.0.113.2"); // martian source
    send("198.51.100.2", "127.0.0.1"); // martian destination
    send("198.51.100.2", "240.0.0.1"); // class E destination
    send("169.254.1.1", "203.0.113.2"); // link-local source
    send("198.51.100.2", "169.254.9.9"); // link-local destination
    send("198.51.100.2", "203.0.113.255"); // directed broadcast of the other side
    send("198.51.100.2", "239.1.2.3"); // multicast
    send("203.0.113.1", "203.0.113.2"); // our own address as source
    t.settle();
    assert.equal(t.b.take().length, 0);
    const f = t.router.stats().router!.forward;
    assert.equal(f.forwarded, 0);
    assert.equal(f.martianSource, 3);
    assert.equal(f.martianDestination, 2);
    assert.equal(f.linkLocal, 2);
    assert.equal(f.broadcast, 1);
    assert.equal(f.multicast, 1);
    assert.equal(f.dropped, 9);
  } finally {
    await t.close();
  }
});

Deno.test("Router answers no route with network unreachable, and forwards nothing without forwarding", async () => {
  const t = await topology({ router: { forwarding: false } });
  try {
    t.a.send(
      ipv4Packet({
        src: A_IP,
        dst: B_IP,
        protocol: 1,
        payload: icmpEcho(8, 7, 1),
      }),
      R0_MAC,
    );
    t.settle();
    assert.equal(t.b.take().length, 0);
    assert.equal(t.router.stats().interfaces![0].ipv4.rxNotForUs, 1);
  } finally {
    await t.close();
  }
  const u = await topology();
  try {
    const dst = parseIpv4("192.0.2.77")!;
    u.a.send(
      ipv4Packet({ src: A_IP, dst, protocol: 1, payload: icmpEcho(8, 7, 1) }),
      R0_MAC,
    );
    u.settle();
    const got = u.a.take();
    assert.equal(got.length, 1);
    assert.equal(got[0][20], 3);
    assert.equal(got[0][21], 0);
    assert.equal(u.router.stats().router!.forward.noRoute, 1);
  } finally {
    await u.close();
  }
});

Deno.test("Router answers pings to either of its addresses from the side asked", async () => {
  const t = await topology();
  try {
    t.a.send(
      ipv4Packet({ src: A_IP, dst: R1_IP, protocol: 1, payload: icmpEcho(8, 9, 1) }),
      R0_MAC,
    );
    t.settle();
    const got = t.a.take();
    assert.equal(got.length, 1);
    assert.equal(got[0][20], 0); // echo reply
    assert.equal(get32(got[0], 12), R1_IP); // from the address pinged
    assert.equal(t.router.stats().router!.forward.forwarded, 0);
  } finally {
    await t.close();
  }
});

Deno.test("Stack with several interfaces: ping and TCP between hosts on each side through it", async () => {
  const clock = new ManualClock(1000);
  const [r0, a0] = MemoryLink.pair({ macA: R0_MAC, macB: 0x020000000a01 });
  const [r1, b1] = MemoryLink.pair({ macA: R1_MAC, macB: 0x020000000b01 });
  const router = new Stack({
    interfaces: [
      { device: r0, ipv4: "198.51.100.1/24" },
      { device: r1, ipv4: "203.0.113.1/24" },
    ],
    forwarding: true,
    clock,
  });
  const a = new Stack({ device: a0, ipv4: "198.51.100.2/24", gateway: "198.51.100.1", clock });
  const b = new Stack({ device: b1, ipv4: "203.0.113.2/24", gateway: "203.0.113.1", clock });
  const stacks = [router, a, b];
  for (const s of stacks) await s.start();
  const settle = () => {
    for (let i = 0; i < 200; i++) if (stacks.reduce((n, s) => n + s.poll(), 0) === 0) return;
  };
  try {
    const ping = a.ping("203.0.113.2", { count: 1, intervalMs: 10, timeoutMs: 500 });
    for (let i = 0; i < 20; i++) {
      clock.advance(5);
      settle();
    }
    const r = await ping;
    assert.equal(r.summary.received, 1);
    assert.equal(router.stats().router!.forward.forwarded, 2);
    // TCP across: B listens, A connects and sends 100 kB.
    const listener = b.listen({ port: 8080 });
    const accepted = listener.accept();
    const connecting = a.connect({ hostname: "203.0.113.2", port: 8080 });
    for (let i = 0; i < 20; i++) {
      clock.advance(1);
      settle();
      await Promise.resolve();
    }
    const [ca, cb] = await Promise.all([connecting, accepted]);
    assert.equal(cb.remoteAddr.hostname, "198.51.100.2");
    const data = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
    const writing = (async () => {
      await ca.write(data);
      ca.close();
    })();
    const chunks: Uint8Array[] = [];
    let total = 0;
    let eof = false;
    const reading = (async () => {
      const buf = new Uint8Array(65536);
      for (;;) {
        const n = await cb.read(buf);
        if (n === null) {
          eof = true;
          break;
        }
        chunks.push(buf.slice(0, n));
        total += n;
      }
    })();
    for (let i = 0; i < 4000 && !eof; i++) {
      clock.advance(1);
      settle();
      await new Promise((r) => setTimeout(r, 0));
    }
    await writing;
    assert.equal(total, data.length);
    const got = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      got.set(c, at);
      at += c.length;
    }
    assert.deepEqual(got, data);
    await reading;
    cb.close();
    listener.close();
    assert.ok(router.stats().router!.forward.zeroCopy > 50);
  } finally {
    for (const s of stacks) await s.close();
  }
});

Deno.test("Stack interfaces option refuses the single-device options next to it and DHCP options without ipv4: dhcp", () => {
  const [d0] = MemoryLink.pair();
  assert.throws(
    () => new Stack({ device: d0, interfaces: [{ device: d0, ipv4: "192.0.2.1/24" }] }),
    TypeError,
  );
  assert.throws(() => new Stack({ interfaces: [] }), TypeError);
  assert.throws(
    () => new Stack({ interfaces: [{ device: d0, ipv4: "192.0.2.1/24", dhcp: {} }] }),
    TypeError,
  );
  d0.close();
});
