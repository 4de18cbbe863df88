import assert from "node:assert/strict";
import {
  Lab,
  LAB_FAR_ADDRESS6,
  LAB_PEER_ADDRESS6,
  LAB_STACK_ADDRESS6,
  labTest,
} from "../../src/testing/lab.ts";
import { Stack, type StackOptions } from "../../src/stack.ts";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import { stableAddress } from "../../src/iface/ipv6_addresses.ts";
import { captureLab, type LabCapture, until, waitPeerUdpPort } from "./_helpers.ts";

const PREFIX = "rsipv6";
const SECRET = new Uint8Array(16).fill(0x18);

interface V6Lab {
  lab: Lab;
  stack: Stack;
  capture: LabCapture;
}

/** A lab with IPv6 on the kernel side, an IPv6 stack (no IPv4) and a capture on the peer. */
async function withV6Lab(
  opts: { router?: boolean; farMtu?: number; ra?: boolean; stack?: Partial<StackOptions> },
  fn: (l: V6Lab) => Promise<void>,
  beforeStack?: (lab: Lab) => Promise<void>,
): Promise<void> {
  const lab = await Lab.create({
    prefix: PREFIX,
    ipv6: true,
    router: opts.router,
    farMtu: opts.farMtu,
  });
  let stack: Stack | null = null;
  let capture: LabCapture | null = null;
  try {
    capture = await captureLab(lab, PREFIX);
    if (opts.ra) lab.startRouterAdvertisements();
    await beforeStack?.(lab);
    stack = new Stack({
      device: await lab.openDevice(),
      ipv6: [`${LAB_STACK_ADDRESS6}/64`, "slaac"],
      ipv6Options: { addressOptions: { secret: SECRET } },
      ...opts.stack,
    });
    await stack.start();
    await fn({ lab, stack, capture });
    if (!capture.checked) throw new Error("lab test did not check its capture");
  } finally {
    if (stack !== null) await stack.close();
    if (capture !== null) await capture.close();
    await lab.destroy();
  }
}

/** Waits until every address of `stack` has left "tentative". */
async function settled(stack: Stack, count: number): Promise<void> {
  await until(
    () => {
      const a = stack.addresses();
      return a.length >= count && a.every((x) => x.state !== "tentative");
    },
    `${count} addresses out of DAD: ${JSON.stringify(stack.addresses())}`,
    8000,
  );
}

labTest(
  "IPv6: the kernel pings our static and SLAAC addresses (56 and 3,000 bytes) and we ping it; NDP in the capture",
  async () => {
    await withV6Lab({ ra: true }, async ({ lab, stack, capture }) => {
      // link-local, static, SLAAC from the dnsmasq RA.
      await settled(stack, 3);
      const list = stack.addresses();
      const slaac = list.find((a) => a.origin === "slaac");
      assert.ok(slaac !== undefined, JSON.stringify(list));
      const mac = await lab.runIn(lab.stackNetns, ["cat", `/sys/class/net/${lab.stackIf}/address`]);
      const macValue = parseInt(mac.stdout.trim().replaceAll(":", ""), 16);
      assert.equal(
        slaac.address,
        stableAddress(SECRET, Ipv6Address.parse("2001:db8:1::"), macValue, 0).toString(),
        "RFC 7217 identifier from the RA's prefix",
      );
      assert.equal(slaac.state, "preferred");
      assert.ok(slaac.validLifetimeS > 0 && slaac.validLifetimeS <= 3600);
      for (const target of [LAB_STACK_ADDRESS6, slaac.address]) {
        for (const size of ["56", "3000"]) {
          const r = await lab.runInPeer([
            "ping",
            "-6",
            "-c",
            "3",
            "-i",
            "0.05",
            "-W",
            "2",
            "-s",
            size,
            target,
          ]);
          assert.equal(r.code, 0, `${target} ${size}: ${r.stdout}${r.stderr}`);
          assert.match(r.stdout, / 0% packet loss/);
        }
      }
      const ours = await stack.ping(LAB_PEER_ADDRESS6, { count: 3, intervalMs: 20, size: 3000 });
      assert.equal(ours.summary.received, 3, JSON.stringify(ours.summary));
      const s = stack.stats();
      assert.ok(s.ipv6!.rxReassembled >= 6, `reassembled ${s.ipv6!.rxReassembled}`);
      assert.ok(s.ipv6!.txFragments >= 6);
      assert.ok(s.ndp!.rxRouterAdvertisements >= 1);
      // The kernel resolved us and we resolved the kernel.
      const neigh = await lab.runInPeer(["ip", "-6", "neigh", "show", "dev", lab.peerIf]);
      assert.match(neigh.stdout, new RegExp(`${LAB_STACK_ADDRESS6.replaceAll(":", ":")} lladdr`));
      assert.ok(stack.neighbours().some((n) => n.ip === LAB_PEER_ADDRESS6 && n.mac !== null));
      const text = await capture.check(20);
      for (
        const kind of [
          "Neighbor Solicitation",
          "Neighbor Advertisement",
          "Router Advertisement",
          "Multicast Listener Report Message v2",
          "Echo (ping) request",
          "Echo (ping) reply",
        ]
      ) {
        assert.ok(text.includes(kind), `capture shows ${kind}`);
      }
    });
  },
  { commands: ["dnsmasq", "ping", "tcpdump", "tshark"] },
);

labTest(
  "IPv6: duplicate address detection finds the kernel already holding our address",
  async () => {
    await withV6Lab({}, async ({ stack, capture }) => {
      await settled(stack, 2);
      const mine = stack.addresses().find((a) => a.address === LAB_STACK_ADDRESS6)!;
      assert.equal(mine.state, "duplicate");
      assert.equal(stack.stats().ndp!.addresses.duplicates, 1);
      assert.equal(stack.addresses()[0].state, "preferred", "the link-local address is ours");
      const text = await capture.check(3);
      assert.match(text, /Neighbor Solicitation for 2001:db8:1::2/);
    }, async (lab) => {
      await lab.runInPeer([
        "ip",
        "-6",
        "addr",
        "add",
        `${LAB_STACK_ADDRESS6}/64`,
        "dev",
        lab.peerIf,
        "nodad",
      ]);
    });
  },
  { commands: ["tcpdump", "tshark"] },
);

labTest(
  "IPv6: a kernel router with a 1,280-byte far link sends Packet Too Big; our path MTU drops and pings get through",
  async () => {
    await withV6Lab({ ra: true, router: true, farMtu: 1280 }, async ({ stack, capture }) => {
      await settled(stack, 3);
      assert.equal(stack.iface.ipv6!.pathMtu(Ipv6Address.parse(LAB_FAR_ADDRESS6)), 1500);
      // 1,400 data bytes: the first request is too big for the far link.
      const r = await stack.ping(LAB_FAR_ADDRESS6, { count: 4, intervalMs: 200, size: 1400 });
      assert.equal(stack.stats().icmpv6!.rxPacketTooBig >= 1, true);
      assert.equal(stack.iface.ipv6!.pathMtu(Ipv6Address.parse(LAB_FAR_ADDRESS6)), 1280);
      assert.ok(r.summary.received >= 3, JSON.stringify(r.summary));
      const text = await capture.check(8);
      assert.match(text, /Packet Too Big/);
    });
  },
  { commands: ["dnsmasq", "tcpdump", "tshark"] },
);

labTest(
  "IPv6: our entry for the kernel ages REACHABLE → STALE → DELAY → PROBE and a unicast probe makes it REACHABLE again",
  async () => {
    await withV6Lab({
      stack: {
        ipv6: `${LAB_STACK_ADDRESS6}/64`,
        ipv6Options: { addressOptions: { secret: SECRET }, neighbours: { reachableTimeMs: 500 } },
      },
    }, async ({ stack, capture }) => {
      await settled(stack, 2);
      const state = () => stack.neighbours().find((n) => n.ip === LAB_PEER_ADDRESS6)?.state;
      assert.equal((await stack.ping(LAB_PEER_ADDRESS6, { count: 1 })).summary.received, 1);
      assert.equal(state(), "reachable");
      await until(() => state() === "stale", "STALE after ReachableTime", 3000);
      // Sending to a STALE entry: DELAY, then (no upper-layer confirmation) PROBE after 5 s,
      // whose unicast solicitation the kernel answers: REACHABLE.
      assert.equal((await stack.ping(LAB_PEER_ADDRESS6, { count: 1 })).summary.received, 1);
      assert.equal(state(), "delay");
      await until(() => state() === "reachable", "REACHABLE after the probe", 9000);
      assert.ok(stack.stats().ndp!.neighbours.probesSent >= 1);
      const text = await capture.check(6);
      assert.match(
        text,
        /2001:db8:1::2 → 2001:db8:1::1 +ICMPv6 \d+ Neighbor Solicitation for 2001:db8:1::1/,
      );
    });
  },
  { commands: ["tcpdump", "tshark"] },
);

labTest(
  "IPv6: a SLAAC stack takes its DNS server from the RDNSS option of dnsmasq's RAs and resolves an AAAA name through it",
  async () => {
    const name = "rdnss-host.test";
    const answer = "2001:db8:1::99";
    await withV6Lab({ stack: { ipv6: ["slaac"] } }, async ({ stack, capture }) => {
      // link-local and SLAAC from the RA.
      await settled(stack, 2);
      await until(
        () => stack.resolver.servers.some((s) => s.addr6?.toString() === LAB_PEER_ADDRESS6),
        `RDNSS server learned: ${JSON.stringify(stack.iface.ipv6!.dnsServerList())}`,
        8000,
      );
      const [server] = stack.iface.ipv6!.dnsServerList();
      assert.equal(server.address, LAB_PEER_ADDRESS6);
      assert.ok(server.lifetimeS > 0 && server.lifetimeS <= 3600, JSON.stringify(server));
      const routers = stack.routers();
      assert.equal(routers.length, 1);
      assert.equal(routers[0].managed, false, "ra-only: no DHCPv6 addresses");
      const addresses = await stack.resolveDns(name, "AAAA");
      assert.deepEqual(addresses, [answer]);
      const s = stack.stats();
      assert.ok(s.ndp!.rdnssLearned >= 1);
      assert.ok(s.ndp!.dnsslIgnored >= 1, "dnsmasq's DNSSL option was counted");
      const text = await capture.check(10);
      assert.match(text, /Router Advertisement/);
      assert.match(text, new RegExp(`AAAA ${name.replaceAll(".", "\\.")}`));
    }, async (lab) => {
      // The DNS server, on the peer's address, and the RA naming it (RDNSS) and a search list.
      lab.spawnInPeer([
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--pid-file=",
        "--bind-interfaces",
        `--listen-address=${LAB_PEER_ADDRESS6}`,
        "--local=/test/",
        `--host-record=${name},${answer}`,
      ]);
      await waitPeerUdpPort(lab, 53);
      lab.spawnInPeer(lab.routerAdvertisementCommand([
        `--dhcp-option=option6:dns-server,[${LAB_PEER_ADDRESS6}]`,
        "--dhcp-option=option6:domain-search,lab.test",
      ]));
    });
  },
  { commands: ["dnsmasq", "tcpdump", "tshark"] },
);
