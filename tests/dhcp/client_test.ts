import assert from "node:assert/strict";
import { Stack } from "../../src/stack.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import { ManualClock } from "../../src/time/clock.ts";
import { formatIpv4, parseIpv4 } from "../../src/wire/address.ts";
import {
  BOOTREQUEST,
  DHCP_CLIENT_PORT,
  DHCPACK,
  DHCPDECLINE,
  DHCPDISCOVER,
  DHCPNAK,
  DHCPOFFER,
  DHCPRELEASE,
  DhcpRepr,
  DHCPREQUEST,
} from "../../src/wire/dhcp.ts";
import { DhcpTimeoutError, type StackDhcpOptions } from "../../src/dhcp/stack_dhcp.ts";
import { mulberry32 } from "../seeded_random.ts";
import {
  BROADCAST_IP,
  BROADCAST_MAC,
  OFFERED,
  ScriptedServer,
  SERVER_IP,
  SERVER_MAC,
} from "./_server.ts";

const OTHER_MAC = 0x02_00_00_00_00_77;
const T0 = 1000;

function setup(dhcp: StackDhcpOptions = {}) {
  const clock = new ManualClock(T0);
  const [da, db] = MemoryLink.pair();
  const stack = new Stack({
    device: da,
    ipv4: "dhcp",
    clock,
    dhcp: { random: mulberry32(21), ...dhcp },
  });
  const server = new ScriptedServer(db);
  const settle = () => {
    for (let i = 0; i < 50; i++) {
      const n = stack.poll();
      const m = server.drain(clock.now());
      if (n === 0 && m === 0 && stack.nextDeadline() > clock.now()) return;
    }
  };
  /** Runs timers until `done()` or `limitMs` of stack time passed. */
  const until = (done: () => boolean, limitMs: number) => {
    const end = clock.now() + limitMs;
    settle();
    while (!done()) {
      const next = stack.nextDeadline();
      if (next > end) {
        throw new Error(`not reached within ${limitMs} ms (state ${stack.dhcp!.state})`);
      }
      clock.advance(Math.max(0, next - clock.now()));
      settle();
    }
  };
  return { clock, stack, server, settle, until };
}

/** DISCOVER → OFFER → REQUEST → ACK → probes → bound. */
async function bind(s: ReturnType<typeof setup>, fields = {}) {
  const { stack, server, settle, until } = s;
  const started = stack.start();
  settle();
  const discover = server.last();
  server.send(server.replyTo(discover.message, DHCPOFFER, fields));
  settle();
  const request = server.last();
  assert.equal(request.message.messageType, DHCPREQUEST);
  server.send(server.replyTo(request.message, DHCPACK, fields));
  until(() => stack.dhcp!.state === "bound", 10_000);
  await started;
}

Deno.test("DhcpClient behaviour: a full lease life cycle — bind, renew at T1, rebind at T2, expire", async () => {
  const s = setup();
  const { clock, stack, server, settle, until } = s;
  try {
    const started = stack.start();
    settle();
    // RFC 2131 §4.4.1: DISCOVER from 0.0.0.0:68 to 255.255.255.255:67, broadcast flag set.
    const discover = server.last();
    assert.equal(discover.message.messageType, DHCPDISCOVER);
    assert.equal(discover.message.op, BOOTREQUEST);
    assert.equal(discover.src, 0);
    assert.equal(discover.dst, BROADCAST_IP);
    assert.equal(discover.dstMac, BROADCAST_MAC);
    assert.equal(discover.srcPort, DHCP_CLIENT_PORT);
    assert.equal(discover.message.broadcast, true);
    assert.equal(discover.message.chaddr, stack.iface.config.mac);
    assert.deepEqual([...discover.message.clientId!].slice(0, 1), [1]);
    assert.ok(discover.message.parameterRequestList.includes(3));
    assert.deepEqual(stack.addresses(), []);
    server.send(server.replyTo(discover.message, DHCPOFFER, { mtu: 1400 }));
    settle();
    const request = server.last();
    assert.equal(request.message.messageType, DHCPREQUEST);
    assert.equal(request.message.requestedIp, OFFERED);
    assert.equal(request.message.serverId, SERVER_IP);
    assert.equal(request.message.ciaddr, 0);
    assert.equal(request.src, 0);
    assert.equal(request.message.xid, discover.message.xid);
    const requestedAt = clock.now();
    server.send(server.replyTo(request.message, DHCPACK, { mtu: 1400 }));
    settle();
    // RFC 5227 §2.1.1: probes with sender IP 0 before the address is used.
    assert.equal(stack.dhcp!.state, "probing");
    assert.equal(stack.addresses()[0].state, "tentative");
    until(() => stack.dhcp!.state === "bound", 10_000);
    await started;
    const probes = server.arp.filter((a) => a.spa === 0 && a.tpa === OFFERED);
    assert.equal(probes.length, 3);
    for (let i = 1; i < probes.length; i++) {
      const gap = probes[i].atMs - probes[i - 1].atMs;
      assert.ok(gap >= 1000 && gap <= 2000, `probe gap ${gap}`);
    }
    assert.ok(server.arp.some((a) => a.spa === OFFERED && a.tpa === OFFERED), "announcement");
    assert.equal(stack.address, "192.0.2.50");
    assert.equal(stack.iface.config.gateway, SERVER_IP);
    assert.equal(stack.iface.config.mtu, 1400);
    assert.deepEqual(stack.resolver.servers.map((d) => formatIpv4(d.addr)), ["192.0.2.1"]);
    const [addr] = stack.addresses();
    assert.equal(addr.family, "ipv4");
    assert.equal(addr.prefixLength, 24);
    assert.equal(addr.state, "preferred");
    assert.equal(addr.dhcp!.state, "bound");
    assert.equal(addr.dhcp!.leaseTimeS, 120);
    assert.equal(addr.dhcp!.obtainedMs, requestedAt);
    assert.equal(addr.dhcp!.renewAtMs, requestedAt + 60_000);
    assert.equal(addr.dhcp!.rebindAtMs, requestedAt + 105_000);
    assert.equal(addr.dhcp!.expiresAtMs, requestedAt + 120_000);

    // T1: RENEWING — a unicast REQUEST to the server from our address, ciaddr set.
    const before = server.dhcp.length;
    until(() => server.dhcp.length > before, 61_000);
    const renew = server.last();
    assert.equal(clock.now(), requestedAt + 60_000);
    assert.equal(stack.dhcp!.state, "renewing");
    assert.equal(renew.message.messageType, DHCPREQUEST);
    assert.equal(renew.message.ciaddr, OFFERED);
    assert.equal(renew.message.requestedIp, 0);
    assert.equal(renew.message.serverId, 0);
    assert.equal(renew.src, OFFERED);
    assert.equal(renew.dst, SERVER_IP);
    assert.equal(renew.dstMac, SERVER_MAC);
    const renewedAt = clock.now();
    server.send(server.replyTo(renew.message, DHCPACK), OFFERED, stack.iface.config.mac);
    settle();
    assert.equal(stack.dhcp!.state, "bound");
    assert.equal(stack.stats().dhcp!.renewals, 1);
    assert.equal(stack.addresses()[0].dhcp!.expiresAtMs, renewedAt + 120_000);

    // No answer this time: RENEWING, then REBINDING (broadcast) at T2, then expiry.
    server.answerArp = false;
    until(() => stack.dhcp!.state === "rebinding", 110_000);
    assert.equal(clock.now(), renewedAt + 105_000);
    const rebind = server.last();
    assert.equal(rebind.message.messageType, DHCPREQUEST);
    assert.equal(rebind.dst, BROADCAST_IP);
    assert.equal(rebind.message.ciaddr, OFFERED);
    assert.equal(stack.addresses()[0].dhcp!.state, "rebinding");
    until(() => stack.dhcp!.state === "selecting", 20_000);
    assert.equal(clock.now(), renewedAt + 120_000);
    assert.equal(stack.stats().dhcp!.expirations, 1);
    assert.equal(stack.address, "0.0.0.0");
    assert.deepEqual(stack.addresses(), []);
    assert.equal(server.last().message.messageType, DHCPDISCOVER);
  } finally {
    await stack.close();
  }
});

Deno.test("DhcpClient behaviour: DISCOVER retransmits back off 4, 8, 16, 32, 64 s with ±1 s jitter", async () => {
  const { stack, server, until } = setup({ timeoutMs: 600_000 });
  try {
    void stack.start().catch(() => {});
    until(() => server.of(DHCPDISCOVER).length >= 8, 400_000);
    const times = server.of(DHCPDISCOVER).map((d) => d.atMs);
    const bases = [4000, 8000, 16000, 32000, 64000, 64000, 64000];
    for (let i = 0; i < bases.length; i++) {
      const gap = times[i + 1] - times[i];
      assert.ok(Math.abs(gap - bases[i]) <= 1000, `gap ${i}: ${gap} vs ${bases[i]}`);
    }
    const xids = new Set(server.of(DHCPDISCOVER).map((d) => d.message.xid));
    assert.equal(xids.size, 1, "retransmissions keep the xid");
    assert.ok(server.of(DHCPDISCOVER).at(-1)!.message.secs > 0, "secs counts up");
  } finally {
    await stack.close();
  }
});

Deno.test("DhcpClient behaviour: an ARP conflict while probing sends DHCPDECLINE and starts over", async () => {
  const s = setup();
  const { clock, stack, server, settle, until } = s;
  try {
    const started = stack.start();
    settle();
    server.send(server.replyTo(server.last().message, DHCPOFFER));
    settle();
    server.send(server.replyTo(server.last().message, DHCPACK));
    until(() => server.arp.some((a) => a.spa === 0 && a.tpa === OFFERED), 5000);
    // Another host answers the probe: the address is taken (RFC 5227 §2.1.1).
    server.sendArp(2, OTHER_MAC, OFFERED, 0);
    settle();
    const decline = server.last();
    assert.equal(decline.message.messageType, DHCPDECLINE);
    assert.equal(decline.message.requestedIp, OFFERED);
    assert.equal(decline.message.serverId, SERVER_IP);
    assert.equal(decline.message.ciaddr, 0);
    assert.equal(decline.dst, BROADCAST_IP);
    assert.equal(stack.dhcp!.state, "declined");
    assert.equal(stack.stats().dhcp!.conflicts, 1);
    assert.equal(stack.address, "0.0.0.0");
    const declinedAt = clock.now();
    // RFC 2131 §3.1.5: at least 10 s before the next DISCOVER.
    until(() => server.last().message.messageType === DHCPDISCOVER, 11_000);
    assert.ok(clock.now() - declinedAt >= 10_000);
    const second = parseIpv4("192.0.2.51")!;
    server.send(server.replyTo(server.last().message, DHCPOFFER, { yiaddr: second }));
    settle();
    server.send(server.replyTo(server.last().message, DHCPACK, { yiaddr: second }));
    until(() => stack.dhcp!.state === "bound", 10_000);
    await started;
    assert.equal(stack.address, "192.0.2.51");
  } finally {
    await stack.close();
  }
});

Deno.test("DhcpClient behaviour: another host's probe for the same address is a conflict too", async () => {
  const s = setup();
  const { stack, server, settle, until } = s;
  try {
    void stack.start().catch(() => {});
    settle();
    server.send(server.replyTo(server.last().message, DHCPOFFER));
    settle();
    server.send(server.replyTo(server.last().message, DHCPACK));
    until(() => stack.dhcp!.state === "probing", 1000);
    server.sendArp(1, OTHER_MAC, 0, OFFERED);
    settle();
    assert.equal(server.last().message.messageType, DHCPDECLINE);
  } finally {
    await stack.close();
  }
});

Deno.test("DhcpClient behaviour: DHCPNAK in REQUESTING and in RENEWING restarts from DISCOVER", async () => {
  const s = setup();
  const { stack, server, settle, until } = s;
  try {
    void stack.start().catch(() => {});
    settle();
    server.send(server.replyTo(server.last().message, DHCPOFFER));
    settle();
    server.send(server.replyTo(server.last().message, DHCPNAK, { yiaddr: 0, leaseTimeS: -1 }));
    settle();
    assert.equal(stack.dhcp!.state, "selecting");
    assert.equal(server.last().message.messageType, DHCPDISCOVER);
    assert.equal(stack.stats().dhcp!.rxNak, 1);
    // Bind, then NAK the renewal: the address comes off.
    server.send(server.replyTo(server.last().message, DHCPOFFER));
    settle();
    server.send(server.replyTo(server.last().message, DHCPACK));
    until(() => stack.dhcp!.state === "bound", 10_000);
    until(() => stack.dhcp!.state === "renewing", 70_000);
    server.send(
      server.replyTo(server.last().message, DHCPNAK, { yiaddr: 0 }),
      OFFERED,
      stack.iface.config.mac,
    );
    settle();
    assert.equal(stack.dhcp!.state, "selecting");
    assert.equal(stack.address, "0.0.0.0");
    assert.equal(stack.stats().dhcp!.rxNak, 2);
  } finally {
    await stack.close();
  }
});

Deno.test("DhcpClient behaviour: malformed and hostile offers are dropped and counted", async () => {
  const s = setup({ minLeaseS: 60 });
  const { stack, server, settle } = s;
  try {
    const started = stack.start();
    settle();
    const d = server.last().message;
    const good = server.replyTo(d, DHCPOFFER);
    const bytes = (m: DhcpRepr) => {
      const b = new Uint8Array(DhcpRepr.bufferLength(m));
      DhcpRepr.emit(m, b, 0);
      return b;
    };
    server.send({ ...good, xid: (d.xid + 1) >>> 0 }); // another transaction
    server.send({ ...good, chaddr: OTHER_MAC }); // another client
    server.send({ ...good, op: BOOTREQUEST }); // not a reply
    server.send({ ...good, yiaddr: 0 }); // no address
    server.send({ ...good, yiaddr: parseIpv4("127.0.0.1")! }); // loopback
    server.send({ ...good, yiaddr: parseIpv4("192.0.2.255")! }); // the subnet's broadcast
    server.send({ ...good, yiaddr: parseIpv4("224.0.0.1")! }); // multicast
    server.send({ ...good, serverId: 0 }); // no server identifier
    server.send({ ...good, leaseTimeS: -1 }); // no lease time
    server.send({ ...good, subnetMask: parseIpv4("255.0.255.0")! }); // not contiguous
    server.send(server.replyTo(d, DHCPACK)); // an ACK while selecting
    const noCookie = bytes(good);
    noCookie[236] = 0;
    server.send(noCookie);
    server.send(bytes(good).subarray(0, 200)); // truncated
    const overrun = bytes(good);
    overrun[240 + 1] = 250; // the first option's length runs past the end
    server.send(overrun);
    settle();
    const st = stack.stats().dhcp!;
    assert.equal(st.rxWrongXid, 1);
    assert.equal(st.rxWrongClient, 1);
    assert.equal(st.rxNotReply, 1);
    assert.equal(st.rxBadOffer, 7);
    assert.equal(st.rxUnexpected, 1);
    assert.equal(st.rxMalformed, 3);
    assert.equal(st.rxOffer, 0);
    assert.equal(stack.dhcp!.state, "selecting");
    // A router off the subnet is ignored; a tiny lease is lengthened; the good offer still binds.
    server.send({ ...good, routers: [parseIpv4("203.0.113.1")!], leaseTimeS: 1 });
    settle();
    server.send(server.replyTo(server.last().message, DHCPACK, {
      routers: [parseIpv4("203.0.113.1")!],
      leaseTimeS: 1,
    }));
    s.until(() => stack.dhcp!.state === "bound", 10_000);
    await started;
    assert.equal(stack.iface.config.gateway, 0);
    assert.equal(stack.stats().dhcp!.offLinkRouters, 1);
    assert.equal(stack.stats().dhcp!.shortLeases, 1);
    assert.equal(stack.addresses()[0].dhcp!.leaseTimeS, 60);
  } finally {
    await stack.close();
  }
});

Deno.test("DhcpClient behaviour: stack.close() releases the lease (DHCPRELEASE)", async () => {
  const s = setup();
  const { stack, server } = s;
  await bind(s);
  const n = server.dhcp.length;
  await stack.close();
  server.drain(0);
  assert.equal(server.dhcp.length, n + 1);
  const release = server.last();
  assert.equal(release.message.messageType, DHCPRELEASE);
  assert.equal(release.message.ciaddr, OFFERED);
  assert.equal(release.message.serverId, SERVER_IP);
  assert.equal(release.src, OFFERED);
  assert.equal(release.dst, SERVER_IP);
  assert.equal(stack.stats().dhcp!.txRelease, 1);
});

Deno.test("DhcpClient behaviour: start() rejects after dhcp.timeoutMs without a server", async () => {
  const { clock, stack, until } = setup({ timeoutMs: 5000 });
  try {
    const started = stack.start();
    until(() => clock.now() >= T0 + 5000, 6000);
    await assert.rejects(started, DhcpTimeoutError);
    assert.equal(stack.dhcp!.state, "selecting", "the client keeps trying");
  } finally {
    await stack.close();
  }
});

Deno.test("Stack behaviour: addresses() lists a static address as preferred", async () => {
  const [da] = MemoryLink.pair();
  const stack = new Stack({ device: da, ipv4: "192.0.2.2/24", clock: new ManualClock(0) });
  assert.deepEqual(stack.addresses(), [
    {
      family: "ipv4",
      address: "192.0.2.2",
      prefixLength: 24,
      state: "preferred",
      origin: "static",
      validLifetimeS: Infinity,
      preferredLifetimeS: Infinity,
    },
  ]);
  assert.throws(
    () => new Stack({ device: da, ipv4: "192.0.2.2/24", dhcp: {} }),
    TypeError,
  );
  await stack.close();
});

Deno.test("DnsResolver behaviour: setServers replaces the list; lookups in flight are cancelled", async () => {
  const s = setup();
  const { stack } = s;
  try {
    await bind(s);
    assert.deepEqual(stack.resolver.servers.map((d) => d.port), [53], "the lease's DNS server");
    const lookup = stack.resolveDns("host.test", "A");
    s.settle();
    stack.resolver.setServers(["192.0.2.1", "192.0.2.2:5353"]);
    await assert.rejects(lookup, /servers changed/);
    assert.deepEqual(stack.resolver.servers.map((d) => d.port), [53, 5353]);
  } finally {
    await stack.close();
  }
});
