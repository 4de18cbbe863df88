import assert from "node:assert/strict";
import { Stack } from "../src/stack.ts";
import { MemoryHub, MemoryLink } from "../src/phy/memory_link.ts";
import { ManualClock } from "../src/time/clock.ts";
import { mulberry32 } from "./seeded_random.ts";
import { MEMORY_MAC_B } from "../src/phy/memory_link.ts";
import { Ipv6Address } from "../src/wire/ipv6_address.ts";
import { NdpRepr, newNdpRepr } from "../src/wire/ndp.ts";
import { ICMPV6_ROUTER_ADVERTISEMENT } from "../src/wire/icmpv6.ts";
import { ipv6Packet, v6Frame } from "./iface/_ipv6_helpers.ts";
import { pair6 } from "./ipv6_pair.ts";

const SECRET = new Uint8Array(16).fill(3);

Deno.test("Stack behaviour: IPv6 only — static addresses pass DAD, addresses() lists them, ping works both ways with fragments", async () => {
  const { a, b, step } = pair6({ ipv6: "2001:db8:1::2/64" }, { ipv6: ["2001:db8:1::1/64"] });
  try {
    await a.start();
    await b.start();
    assert.deepEqual(a.addresses().map((x) => x.state), ["tentative", "tentative"]);
    step(2500);
    const list = a.addresses();
    assert.deepEqual(list.map((x) => [x.family, x.state, x.origin]), [
      ["ipv6", "preferred", "link-local"],
      ["ipv6", "preferred", "static"],
    ]);
    assert.equal(list[1].address, "2001:db8:1::2");
    assert.equal(list[1].prefixLength, 64);
    assert.equal(a.localAddress, 0, "no IPv4");
    const p = a.ping("2001:db8:1::1", { count: 2, intervalMs: 100 });
    step(500);
    const r = await p;
    assert.equal(r.summary.received, 2);
    assert.equal(r.address, "2001:db8:1::1");
    const big = b.ping("[2001:db8:1::2]", { count: 1, size: 4000 });
    step(500);
    assert.equal((await big).summary.received, 1);
    assert.equal((await big).replies[0].bytes, 4000);
    const s = a.stats();
    assert.ok(s.ipv6!.rxReassembled >= 1 && s.ipv6!.txFragments >= 3);
    assert.ok(s.icmpv6!.txEchoReplies >= 1);
    assert.ok(s.ndp!.neighbours.learned >= 1);
    assert.deepEqual(a.neighbours().map((n) => n.ip), ["2001:db8:1::1"]);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("Stack behaviour: dual stack — both families answer, addresses() lists IPv4 first", async () => {
  const { a, b, step } = pair6(
    { ipv4: "192.0.2.2/24", ipv6: "2001:db8:1::2/64" },
    { ipv4: "192.0.2.1/24", ipv6: "2001:db8:1::1/64" },
  );
  try {
    await a.start();
    await b.start();
    step(2000);
    assert.deepEqual(a.addresses().map((x) => x.family), ["ipv4", "ipv6", "ipv6"]);
    const p4 = a.ping("192.0.2.1", { count: 1 });
    const p6 = a.ping("2001:db8:1::1", { count: 1 });
    step(300);
    assert.equal((await p4).summary.received, 1);
    assert.equal((await p6).summary.received, 1);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("Stack behaviour: a stack joining with an address another node holds marks it duplicate; the holder keeps it", async () => {
  const clock = new ManualClock(1000);
  const hub = new MemoryHub();
  const mk = (seed: number) =>
    new Stack({
      device: hub.attach(),
      ipv6: "2001:db8:1::5/64",
      clock,
      ipv6Options: {
        random: mulberry32(seed),
        addressOptions: { secret: SECRET },
        ndp: { routerSolicitations: 0 },
      },
    });
  const holder = mk(1);
  const late = mk(2);
  const step = (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      clock.advance(100);
      for (let i = 0; i < 100; i++) if (holder.poll() + late.poll() === 0) break;
    }
  };
  try {
    await holder.start();
    step(2000);
    await late.start();
    step(2000);
    const mine = late.addresses().find((x) => x.address === "2001:db8:1::5")!;
    assert.equal(mine.state, "duplicate");
    assert.equal(late.stats().ndp!.addresses.duplicates, 1);
    assert.equal(holder.addresses().find((x) => x.address === "2001:db8:1::5")!.state, "preferred");
    // The link-local addresses differ (RFC 7217 uses the MAC): both preferred.
    assert.equal(late.addresses()[0].state, "preferred");
  } finally {
    await holder.close();
    await late.close();
    hub.close();
  }
});

Deno.test("Stack behaviour: options need ipv4 or ipv6; pinging IPv6 without it is a TypeError", async () => {
  const [da, db] = MemoryLink.pair();
  assert.throws(() => new Stack({ device: da } as never), /ipv4.*ipv6/);
  const s = new Stack({ device: da, ipv4: "192.0.2.2/24", clock: new ManualClock(0) });
  await assert.rejects(s.ping("2001:db8::1"), TypeError);
  assert.equal(s.stats().ipv6, undefined);
  await s.close();
  db.close();
});

/** A router advertisement frame from fe80::1 with a prefix and RDNSS servers (RFC 8106 §5.1). */
function raFrame(servers: string[], lifetimeS = 600): Uint8Array {
  const ra = {
    ...newNdpRepr(ICMPV6_ROUTER_ADVERTISEMENT),
    routerLifetime: 1800,
    managed: true,
    sourceLinkLayer: MEMORY_MAC_B,
    prefixes: [{
      prefix: Ipv6Address.parse("2001:db8:1::"),
      prefixLength: 64,
      onLink: true,
      autonomous: true,
      validLifetime: 3600,
      preferredLifetime: 1800,
    }],
    rdnss: [{ lifetime: lifetimeS, servers: servers.map((s) => Ipv6Address.parse(s)) }],
  };
  const src = Ipv6Address.parse("fe80::1");
  const m = new Uint8Array(NdpRepr.bufferLength(ra));
  NdpRepr.emit(ra, m, 0, src, Ipv6Address.ALL_NODES);
  return v6Frame(
    0x3333_0000_0001,
    MEMORY_MAC_B,
    ipv6Packet({ src, dst: Ipv6Address.ALL_NODES, nextHeader: 58, payload: m, hopLimit: 255 }),
  );
}

Deno.test("Stack behaviour: without a dns option the resolver takes the RDNSS servers of RAs; an explicit dns option wins", async () => {
  for (const dns of [undefined, ["192.0.2.53"]]) {
    const clock = new ManualClock(1000);
    const [da, db] = MemoryLink.pair();
    const stack = new Stack({
      device: da,
      ipv6: "slaac",
      clock,
      ...(dns === undefined ? {} : { dns }),
      ipv6Options: { random: mulberry32(1), ndp: { routerSolicitations: 0 } },
    });
    try {
      await stack.start();
      const frame = raFrame(["2001:db8:1::53", "2001:db8:1::54"]);
      db.transmit(frame, 0, frame.length);
      for (let i = 0; i < 10; i++) stack.poll();
      assert.deepEqual(
        stack.routers().map((r) => [r.address, r.managed, r.other]),
        [["fe80::1", true, false]],
      );
      const servers = stack.resolver.servers.map((s) => s.addr6?.toString() ?? s.addr);
      if (dns === undefined) {
        assert.deepEqual(servers, ["2001:db8:1::53", "2001:db8:1::54"]);
        // Lifetime 0 takes them away again.
        const bye = raFrame(["2001:db8:1::53", "2001:db8:1::54"], 0);
        db.transmit(bye, 0, bye.length);
        for (let i = 0; i < 10; i++) stack.poll();
        assert.deepEqual(stack.resolver.servers, []);
      } else {
        assert.equal(servers.length, 1, "the dns option is kept");
        assert.equal(stack.resolver.servers[0].addr6 ?? null, null);
      }
      assert.equal(stack.stats().ndp!.rdnssLearned, 2);
    } finally {
      await stack.close();
    }
  }
});
