import assert from "node:assert/strict";
import { Stack } from "../../src/stack.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import { ManualClock } from "../../src/time/clock.ts";
import { formatIpv4, parseIpv4 } from "../../src/wire/address.ts";
import { DHCPACK, DHCPDISCOVER, DHCPOFFER, DHCPREQUEST } from "../../src/wire/dhcp.ts";
import { mulberry32 } from "../seeded_random.ts";
import { ScriptedServer } from "./_server.ts";

const T0 = 1000;
const MAC0 = 0x02_00_00_00_01_10;
const MAC1 = 0x02_00_00_00_01_20;

/** A stack with DHCP on both of its interfaces, a scripted server on each link. */
function setup() {
  const clock = new ManualClock(T0);
  const [d0, s0] = MemoryLink.pair({ macA: MAC0 });
  const [d1, s1] = MemoryLink.pair({ macA: MAC1 });
  const stack = new Stack({
    interfaces: [
      { device: d0, ipv4: "dhcp", metric: 10, dhcp: { random: mulberry32(1) } },
      { device: d1, ipv4: "dhcp", metric: 5, dhcp: { random: mulberry32(2) } },
    ],
    clock,
  });
  const servers = [
    new ScriptedServer(s0),
    new ScriptedServer(s1, {
      ip: parseIpv4("198.51.100.1")!,
      mac: 0x02_00_00_00_00_03,
      offered: parseIpv4("198.51.100.50")!,
    }),
  ];
  const settle = () => {
    for (let i = 0; i < 50; i++) {
      const n = stack.poll();
      const m = servers[0].drain(clock.now()) + servers[1].drain(clock.now());
      if (n === 0 && m === 0 && stack.nextDeadline() > clock.now()) return;
    }
  };
  const until = (done: () => boolean, limitMs: number) => {
    const end = clock.now() + limitMs;
    settle();
    while (!done()) {
      const next = stack.nextDeadline();
      if (next > end) throw new Error(`not reached within ${limitMs} ms`);
      clock.advance(Math.max(0, next - clock.now()));
      settle();
    }
  };
  return { clock, stack, servers, settle, until };
}

Deno.test("Stack behaviour: ipv4 dhcp on two interfaces — a client, lease, default route and DNS each", async () => {
  const { stack, servers, settle, until } = setup();
  const [c0, c1] = stack.dhcpClients;
  try {
    assert.ok(c0 !== null && c1 !== null);
    const started = stack.start();
    settle();
    // Each link sees only its own interface's client.
    for (const [n, server] of servers.entries()) {
      const discover = server.last();
      assert.equal(discover.message.messageType, DHCPDISCOVER);
      assert.equal(discover.message.chaddr, n === 0 ? MAC0 : MAC1);
      assert.ok(server.dhcp.every((d) => d.message.chaddr === (n === 0 ? MAC0 : MAC1)));
      server.send(server.replyTo(discover.message, DHCPOFFER));
    }
    settle();
    for (const server of servers) {
      const request = server.last();
      assert.equal(request.message.messageType, DHCPREQUEST);
      assert.equal(request.message.requestedIp, server.offered);
      server.send(server.replyTo(request.message, DHCPACK));
    }
    until(() => c0.state === "bound" && c1.state === "bound", 10_000);
    await started;

    const addresses = stack.addresses();
    assert.deepEqual(addresses.map((a) => `${a.address}/${a.prefixLength} ${a.origin}`), [
      "192.0.2.50/24 dhcp",
      "198.51.100.50/24 dhcp",
    ]);
    assert.deepEqual(addresses.map((a) => a.dhcp!.router), ["192.0.2.1", "198.51.100.1"]);
    // Each lease's default route, with its interface's metric: the lower wins.
    const router = stack.router!;
    const defaults = router.routes().filter((r) => r.destination === "0.0.0.0/0");
    assert.deepEqual(defaults, [
      { destination: "0.0.0.0/0", gateway: "198.51.100.1", interface: 1, metric: 5 },
      { destination: "0.0.0.0/0", gateway: "192.0.2.1", interface: 0, metric: 10 },
    ]);
    const far = parseIpv4("203.0.113.9")!;
    assert.equal(formatIpv4(router.sourceAddressFor(far)), "198.51.100.50");
    assert.equal(formatIpv4(router.sourceAddressFor(parseIpv4("192.0.2.77")!)), "192.0.2.50");
    // Every lease's DNS servers, in interface order.
    assert.deepEqual(stack.resolver.servers.map((d) => formatIpv4(d.addr)), [
      "192.0.2.1",
      "198.51.100.1",
    ]);
    const stats = stack.stats();
    assert.equal(stats.interfaces![0].dhcp!.txDiscover, 1);
    assert.equal(stats.interfaces![1].dhcp!.txDiscover, 1);

    // T1: each client renews by unicast to its own server, from its own address, on its link.
    const before = servers.map((s) => s.dhcp.length);
    until(() => servers.every((s, n) => s.dhcp.length > before[n]), 61_000);
    for (const [n, server] of servers.entries()) {
      const renew = server.last();
      assert.equal(renew.message.messageType, DHCPREQUEST);
      assert.equal(renew.src, server.offered);
      assert.equal(renew.dst, server.ip);
      assert.equal(renew.dstMac, server.mac);
      assert.equal(renew.message.chaddr, n === 0 ? MAC0 : MAC1);
    }
    // Only the first server answers: the second lease runs out.
    const renew0 = servers[0].last();
    servers[0].send(servers[0].replyTo(renew0.message, DHCPACK), servers[0].offered, MAC0);
    settle();
    assert.equal(c0.state, "bound");
    servers[1].answerArp = false;
    until(() => c1.state === "selecting", 70_000);
    assert.ok(c0.client.configured); // renewing again by now, its lease still held
    // Its address, routes and DNS server are gone; the other interface's default route serves.
    assert.deepEqual(stack.addresses().map((a) => a.address), ["192.0.2.50"]);
    assert.deepEqual(
      router.routes().filter((r) => r.destination === "0.0.0.0/0").map((r) => r.interface),
      [0],
    );
    assert.equal(formatIpv4(router.sourceAddressFor(far)), "192.0.2.50");
    assert.deepEqual(stack.resolver.servers.map((d) => formatIpv4(d.addr)), ["192.0.2.1"]);
  } finally {
    await stack.close();
  }
});
