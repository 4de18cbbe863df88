/**
 * IPv6 over a TUN device (issue 18): a test namespace holds a TUN device whose
 * kernel side has 2001:db8:5::1/64; rawstack runs in a child inside that
 * namespace with an IPv6-only stack on the device (no NDP resolution on the
 * point-to-point link, no DAD, as Linux on an IFF_NOARP device). The kernel
 * pings rawstack and rawstack pings the kernel; TCP bulk each way through
 * socat TCP6, checked by SHA-256; with virtio_net_hdr offloads too
 * (GSO_TCPV6 super-frames both ways).
 */
import assert from "node:assert/strict";
import { labTest, run } from "../../src/testing/lab.ts";
import { bulkBothWays, LabChild } from "./_tun_lab_helpers.ts";

const BULK_BYTES = 4 * 1024 * 1024;
const KERNEL6 = "2001:db8:5::1";
const STACK6 = "2001:db8:5::2";
const CHILD = new URL("./_tun6_child.ts", import.meta.url).pathname;

async function tun6Round(vnet: boolean): Promise<void> {
  const ns = `rstun6-${Deno.pid}-${vnet ? "v" : "p"}`;
  const name = "rstun6";
  const inNs = (cmd: string[]) => ["ip", "netns", "exec", ns, ...cmd];
  await run(["ip", "netns", "del", ns], { check: false });
  await run(["ip", "netns", "add", ns]);
  const work = await Deno.makeTempDir({ prefix: "rstun6-" });
  let child: LabChild | null = null;
  try {
    await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
    await run(["ip", "-n", ns, "tuntap", "add", "dev", name, "mode", "tun"]);
    await run(inNs(["sysctl", "-q", "-w", `net.ipv6.conf.${name}.disable_ipv6=0`]));
    await run(["ip", "-n", ns, "-6", "addr", "add", `${KERNEL6}/64`, "dev", name, "nodad"]);
    await run(["ip", "-n", ns, "link", "set", name, "up"]);
    child = new LabChild(inNs([
      Deno.execPath(),
      "run",
      "--no-lock",
      "--allow-ffi",
      "--allow-read",
      CHILD,
      name,
      `${STACK6}/64`,
      KERNEL6,
      String(BULK_BYTES),
      vnet ? "vnet" : "plain",
    ]));
    await child.ready();
    const lines = child.lines;
    // Our address is usable at once: no DAD on a point-to-point IP link.
    const addresses = JSON.parse(lines.seen.find((l) => l.startsWith("addresses "))!.slice(10));
    assert.ok(
      addresses.some(([a, s]: [string, string]) => a === STACK6 && s === "preferred"),
      JSON.stringify(addresses),
    );
    // rawstack pings the kernel, the kernel pings rawstack.
    assert.equal((await lines.next("ping ")).split(" ")[1], "3", "rawstack's ping6 answered");
    const ping = await run(inNs(["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", STACK6]), {
      check: false,
    });
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    assert.match(ping.stdout, / 0% packet loss/);
    // TCP bulk over IPv6, kernel → rawstack and rawstack → kernel, each checked by SHA-256.
    await bulkBothWays(child, inNs, work, `TCP6:[${STACK6}]`, BULK_BYTES);
    const stats = await child.stats();
    // Nothing to resolve: no neighbour solicitation left rawstack.
    assert.equal(stats.ipv6.txNoRoute, 0);
    if (vnet) {
      assert.ok(stats.device.txSuperFrames6 > 0, JSON.stringify(stats.device));
      assert.ok(stats.device.rxSuperFrames > 0, JSON.stringify(stats.device));
    }
    await child.done();
    child = null;
  } finally {
    if (child !== null) await child.kill();
    await run(["ip", "-n", ns, "tuntap", "del", "dev", name, "mode", "tun"], { check: false });
    await run(["ip", "netns", "del", ns], { check: false });
    await Deno.remove(work, { recursive: true });
  }
}

labTest(
  "TunDevice behaviour: an IPv6 stack over bare IP — ping6 both ways and TCP6 bulk",
  async () => {
    await tun6Round(false);
  },
  { lab: false, commands: ["ip", "sysctl", "ping", "socat"] },
);

labTest(
  "TunDevice behaviour: IPv6 with virtio_net_hdr offloads (GSO_TCPV6 both ways)",
  async () => {
    await tun6Round(true);
  },
  { lab: false, commands: ["ip", "sysctl", "ping", "socat"] },
);
