/**
 * TAP and TUN without root: a test namespace holds a persistent device that
 * root made for an unprivileged user (`nobody`); rawstack runs as that user
 * (`setpriv`) in a child `deno run --allow-ffi --allow-read`, and the kernel
 * on the device's other side pings it and moves TCP bulk each way, checked
 * by SHA-256.
 */
import assert from "node:assert/strict";
import { labTest, run } from "../../src/testing/lab.ts";
import { createUserTap, deleteUserTap } from "../../src/testing/lab.ts";
import { bulkBothWays, denoAsUser, LabChild } from "./_tun_lab_helpers.ts";

const USER = "nobody";
const BULK_BYTES = 4 * 1024 * 1024;
const KERNEL = "192.0.2.1";
const STACK = "192.0.2.2";
const CHILD = new URL("./_tun_tap_child.ts", import.meta.url).pathname;

async function tunTapRound(kind: "tap" | "tun", vnet: boolean): Promise<void> {
  const ns = `rstap-${Deno.pid}-${kind}`;
  const inNs = (cmd: string[]) => ["ip", "netns", "exec", ns, ...cmd];
  await run(["ip", "netns", "del", ns], { check: false });
  await run(["ip", "netns", "add", ns]);
  const denoDir = await Deno.makeTempDir({ prefix: "rstap-deno-" });
  const work = await Deno.makeTempDir({ prefix: "rstap-data-" });
  await Deno.chmod(denoDir, 0o777);
  let child: LabChild | null = null;
  try {
    await run(inNs(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"]));
    await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
    const name = `rs${kind}0`;
    await createUserTap({ name, user: USER, mode: kind, netns: ns, address: `${KERNEL}/24` });
    child = new LabChild(inNs([
      ...await denoAsUser(USER, denoDir),
      CHILD,
      kind,
      name,
      `${STACK}/24`,
      String(BULK_BYTES),
      vnet ? "vnet" : "plain",
    ]));
    await child.ready();
    // The kernel pings rawstack, which runs as an unprivileged user.
    const ping = await run(inNs(["ping", "-c", "3", "-i", "0.2", "-W", "2", STACK]), {
      check: false,
    });
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    assert.match(ping.stdout, / 0% packet loss/);
    // TCP bulk, kernel → rawstack and rawstack → kernel, each checked by SHA-256.
    await bulkBothWays(child, inNs, work, `TCP:${STACK}`, BULK_BYTES);
    const stats = await child.stats();
    if (vnet) assert.ok(stats.rxSuperFrames + stats.txSuperFrames > 0, JSON.stringify(stats));
    await child.done();
    child = null;
  } finally {
    if (child !== null) await child.kill();
    await deleteUserTap(`rs${kind}0`, kind, ns);
    await run(["ip", "netns", "del", ns], { check: false });
    await Deno.remove(denoDir, { recursive: true });
    await Deno.remove(work, { recursive: true });
  }
}

labTest("TapDevice behaviour: an unprivileged user's tap, kernel ping and TCP bulk", async () => {
  await tunTapRound("tap", false);
}, { lab: false, commands: ["ip", "sysctl", "setpriv", "ping", "socat"] });

labTest("TapDevice behaviour: with virtio_net_hdr offloads (checksum, TSO)", async () => {
  await tunTapRound("tap", true);
}, { lab: false, commands: ["ip", "sysctl", "setpriv", "ping", "socat"] });

labTest("TunDevice behaviour: the stack over bare IP, kernel ping and TCP bulk", async () => {
  await tunTapRound("tun", false);
}, { lab: false, commands: ["ip", "sysctl", "setpriv", "ping", "socat"] });
