/**
 * DHCP on two interfaces against two dnsmasq servers in the router lab
 * (issue 21): each interface of one stack leases from the server on its own
 * link, with its own default route (by the interface's metric), DNS server
 * and renewal.
 */
import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import {
  ROUTER_LAB_A_ADDRESS,
  ROUTER_LAB_B_ADDRESS,
  RouterLab,
} from "../../src/testing/router_lab.ts";
import { Stack } from "../../src/stack.ts";
import { until } from "../lab/_helpers.ts";
import { formatIpv4 } from "../../src/wire/address.ts";

/** dnsmasq serving one address on `dev` in `netns`, itself the router and DNS server. */
function dnsmasq(
  lab: RouterLab,
  netns: string,
  dev: string,
  self: string,
  lease: string,
  dir: string,
) {
  return lab.spawnIn(netns, [
    "dnsmasq",
    "--no-daemon",
    "--conf-file=/dev/null",
    "--port=0",
    `--interface=${dev}`,
    "--bind-interfaces",
    "--no-ping",
    `--dhcp-leasefile=${dir}/${dev}.leases`,
    `--pid-file=${dir}/${dev}.pid`,
    `--dhcp-range=${lease},${lease},255.255.255.0,2m`,
    `--dhcp-option=option:router,${self}`,
    `--dhcp-option=option:dns-server,${self}`,
    "--dhcp-option=option:T1,4",
  ]);
}

async function waitForDhcpServer(lab: RouterLab, netns: string): Promise<void> {
  const end = Date.now() + 5000;
  while (Date.now() < end) {
    const r = await lab.runIn(netns, ["ss", "-uln", "sport = :67"], { check: false });
    if (r.stdout.includes(":67")) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`dnsmasq did not listen on port 67 in ${netns}`);
}

labTest(
  "Stack behaviour: ipv4 dhcp on two interfaces leases from the server on each link, with a route, DNS and renewal each",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "rsdm-" });
    await Deno.chmod(dir, 0o777);
    const lab = await RouterLab.create({ prefix: "rsdm" });
    let stack: Stack | null = null;
    try {
      dnsmasq(lab, lab.netnsA, "a0", ROUTER_LAB_A_ADDRESS, "198.51.100.50", dir);
      dnsmasq(lab, lab.netnsB, "b0", ROUTER_LAB_B_ADDRESS, "203.0.113.50", dir);
      await waitForDhcpServer(lab, lab.netnsA);
      await waitForDhcpServer(lab, lab.netnsB);
      const [da, db] = await lab.openDevices();
      stack = new Stack({
        interfaces: [
          { device: da, ipv4: "dhcp", metric: 10 },
          { device: db, ipv4: "dhcp", metric: 5 },
        ],
      });
      await stack.start();
      const leases = stack.addresses().map((a) =>
        `${a.address}/${a.prefixLength} via ${a.dhcp?.router} dns ${a.dhcp?.dns}`
      );
      assert.deepEqual(leases, [
        `198.51.100.50/24 via ${ROUTER_LAB_A_ADDRESS} dns ${ROUTER_LAB_A_ADDRESS}`,
        `203.0.113.50/24 via ${ROUTER_LAB_B_ADDRESS} dns ${ROUTER_LAB_B_ADDRESS}`,
      ]);
      const defaults = stack.router!.routes().filter((r) => r.destination === "0.0.0.0/0");
      assert.deepEqual(defaults.map((r) => `${r.gateway} ${r.interface} ${r.metric}`), [
        `${ROUTER_LAB_B_ADDRESS} 1 5`,
        `${ROUTER_LAB_A_ADDRESS} 0 10`,
      ]);
      // Every lease's DNS server, in interface order.
      assert.deepEqual(stack.resolver.servers.map((s) => formatIpv4(s.addr)), [
        ROUTER_LAB_A_ADDRESS,
        ROUTER_LAB_B_ADDRESS,
      ]);
      // Each kernel server answers on its own link.
      for (const peer of [ROUTER_LAB_A_ADDRESS, ROUTER_LAB_B_ADDRESS]) {
        const r = await stack.ping(peer, { count: 1, timeoutMs: 2000 });
        assert.equal(r.summary.received, 1, peer);
      }
      // T1 = 4 s: both renew by unicast to their own server.
      const [c0, c1] = stack.dhcpClients;
      await until(
        () => c0!.stats.renewals >= 1 && c1!.stats.renewals >= 1,
        "a renewal on both interfaces",
        15_000,
      );
      assert.equal(c0!.state, "bound");
      assert.equal(c1!.state, "bound");
    } finally {
      await stack?.close();
      await lab.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
  { commands: ["dnsmasq", "ss"] },
);
