import assert from "node:assert/strict";
import {
  findCommand,
  isRoot,
  Lab,
  labTest,
  labUnavailableReason,
  run,
} from "../../src/testing/lab.ts";

const PREFIX = "rsphlab";

async function namespaces(): Promise<string[]> {
  const { stdout } = await run(["ip", "netns", "list"], { check: false });
  return stdout.split("\n").map((l) => l.split(" ")[0]).filter((n) => n !== "");
}

Deno.test("findCommand finds sh and not a made-up name", () => {
  assert.ok(findCommand("sh")?.endsWith("/sh"));
  assert.equal(findCommand("rsph-no-such-command"), null);
});

Deno.test("labUnavailableReason names what is missing", () => {
  const reason = labUnavailableReason(["rsph-no-such-command"]);
  assert.ok(reason !== null);
  if (isRoot()) assert.match(reason, /rsph-no-such-command/);
  else assert.match(reason, /root/);
});

labTest("Lab.create builds a silent rawstack side and an addressed kernel peer", async () => {
  const lab = await Lab.create({ prefix: PREFIX });
  try {
    const names = await namespaces();
    assert.ok(names.includes(lab.stackNetns) && names.includes(lab.peerNetns));
    assert.ok(lab.stackNetns.includes(String(Deno.pid)));
    const rsAddrs = await lab.runIn(lab.stackNetns, ["ip", "-o", "addr", "show", "dev", "rs0"]);
    assert.equal(rsAddrs.stdout.trim(), "", "rawstack's interface must have no kernel address");
    const v6 = await lab.runIn(lab.stackNetns, ["cat", "/proc/sys/net/ipv6/conf/rs0/disable_ipv6"]);
    assert.equal(v6.stdout.trim(), "1");
    const link = await lab.runIn(lab.stackNetns, ["ip", "-o", "link", "show", "rs0"]);
    assert.match(link.stdout, /state UP|LOWER_UP/);
    const peer = await lab.runInPeer(["ip", "-o", "-4", "addr", "show", "dev", "pe0"]);
    assert.match(peer.stdout, /inet 192\.0\.2\.1\/24/);
    const k = await lab.runInPeer(["ethtool", "-k", "pe0"]);
    assert.match(k.stdout, /tcp-segmentation-offload: off/);
    assert.match(k.stdout, /tx-checksumming: off/);
  } finally {
    await lab.destroy();
  }
  const after = await namespaces();
  assert.ok(!after.some((n) => n.startsWith(`${PREFIX}-${Deno.pid}-`)), "namespaces left behind");
});

labTest("Lab router option forwards to the far namespace", async () => {
  const lab = await Lab.create({ prefix: PREFIX, router: true });
  try {
    assert.ok(lab.farNetns !== null);
    const fwd = await lab.runInPeer(["sysctl", "-n", "net.ipv4.ip_forward"]);
    assert.equal(fwd.stdout.trim(), "1");
    const ping = await lab.runInFar(["ping", "-c", "1", "-W", "2", "198.51.100.1"]);
    assert.equal(ping.code, 0, ping.stdout);
    const route = await lab.runInFar(["ip", "route", "show", "default"]);
    assert.match(route.stdout, /via 198\.51\.100\.1/);
  } finally {
    await lab.destroy();
  }
}, { commands: ["ping"] });

labTest("Lab.pinStackNeighbour gives the kernel side rawstack's MAC without ARP", async () => {
  const lab = await Lab.create({ prefix: PREFIX });
  try {
    const mac = await lab.pinStackNeighbour();
    const own = await lab.runIn(lab.stackNetns, ["cat", `/sys/class/net/${lab.stackIf}/address`]);
    assert.equal(mac, own.stdout.trim());
    const show = () => lab.runInPeer(["ip", "neigh", "show", lab.stackAddress, "dev", lab.peerIf]);
    assert.match((await show()).stdout, new RegExp(`lladdr ${mac} PERMANENT`));
  } finally {
    await lab.destroy();
  }
});

labTest("Lab.create removes stale namespaces of a dead process first", async () => {
  // A pid far above pid_max cannot be alive.
  const stale = `${PREFIX}-99999999-rs`;
  await run(["ip", "netns", "add", stale]);
  const lab = await Lab.create({ prefix: PREFIX });
  try {
    assert.ok(!(await namespaces()).includes(stale));
  } finally {
    await lab.destroy();
    await run(["ip", "netns", "del", stale], { check: false });
  }
});

labTest("Lab spawnInPeer processes are killed and capture writes a pcap", async () => {
  const lab = await Lab.create({ prefix: PREFIX });
  const dir = await Deno.makeTempDir();
  try {
    const sleeper = lab.spawnInPeer(["sleep", "30"]);
    const t0 = performance.now();
    const r = await sleeper.kill();
    assert.notEqual(r.code, 0);
    assert.ok(performance.now() - t0 < 5000);
    const cap = await lab.capture(`${dir}/peer.pcap`);
    await lab.runInPeer(["ping", "-c", "1", "-W", "1", "192.0.2.2"]);
    await cap.kill();
    const bytes = await Deno.readFile(`${dir}/peer.pcap`);
    assert.ok(bytes.length >= 24 + 16 + 42, "the ARP request was captured");
  } finally {
    await lab.destroy();
    await Deno.remove(dir, { recursive: true });
  }
}, { commands: ["ping", "tcpdump"] });
