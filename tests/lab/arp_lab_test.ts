import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import { MacAddress } from "../../src/wire/address.ts";
import { waitPeerUdpPort, withLabStack } from "./_helpers.ts";

const encoder = new TextEncoder();

const PREFIX = "rsstarp";

labTest(
  "ARP: the kernel learns our MAC and we learn its; queued packets are delivered",
  async () => {
    await withLabStack(PREFIX, {}, async ({ lab, stack, checkCapture }) => {
      const sink = lab.spawnInPeer(["socat", "-u", "UDP-RECV:7777", "STDOUT"]);
      await waitPeerUdpPort(lab, 7777);
      // Three datagrams sent at once, before the peer's MAC is known: all wait behind ARP.
      const conn = stack.listenDatagram({ port: 0 });
      const to = { hostname: lab.peerAddress, port: 7777 };
      const sends = ["a", "b", "c"].map((t) => conn.send(encoder.encode(t), to));
      const pending = stack.arpTable().find((e) => e.ip === lab.peerAddress);
      await Promise.all(sends);
      assert.equal(pending?.state, "incomplete", JSON.stringify(pending));
      assert.equal(pending?.queued, 3);
      const end = performance.now() + 3000;
      while (stack.arpTable().some((e) => e.queued > 0) && performance.now() < end) {
        await new Promise((res) => setTimeout(res, 5));
      }
      await new Promise((res) => setTimeout(res, 50));
      const got = await sink.kill();
      assert.equal(got.stdout, "abc");
      const r = await stack.ping(lab.peerAddress, { count: 1 });
      assert.equal(r.summary.received, 1);

      const link = await lab.runInPeer(["ip", "-o", "link", "show", lab.peerIf]);
      const peerMac = /link\/ether ([0-9a-f:]{17})/.exec(link.stdout)?.[1];
      assert.ok(peerMac !== undefined, link.stdout);
      const entry = stack.arpTable().find((e) => e.ip === lab.peerAddress);
      assert.equal(entry?.state, "reachable");
      assert.equal(entry?.mac, peerMac);

      const ourMac = new MacAddress(stack.device.capabilities.mac).toString();
      const neigh = await lab.runInPeer([
        "ip",
        "neigh",
        "show",
        lab.stackAddress,
        "dev",
        lab.peerIf,
      ]);
      assert.match(neigh.stdout, new RegExp(`lladdr ${ourMac}`), neigh.stdout);
      assert.doesNotMatch(neigh.stdout, /FAILED|INCOMPLETE/);
      await checkCapture(3 + 2 + 2);
    });
  },
  { commands: ["tcpdump", "tshark", "socat", "ss"] },
);

labTest("ARP: our entries expire after the configured lifetime", async () => {
  const ttlMs = 300;
  await withLabStack(PREFIX, { stack: { arp: { entryTtlMs: ttlMs } } }, async (ls) => {
    const { lab, stack, checkCapture } = ls;
    const r = await stack.ping(lab.peerAddress, { count: 1 });
    assert.equal(r.summary.received, 1);
    assert.ok(stack.arpTable().some((e) => e.ip === lab.peerAddress));
    await new Promise((res) => setTimeout(res, ttlMs + 200));
    assert.ok(
      !stack.arpTable().some((e) => e.ip === lab.peerAddress),
      JSON.stringify(stack.arpTable()),
    );
    // A new packet resolves the neighbour again.
    const again = await stack.ping(lab.peerAddress, { count: 1 });
    assert.equal(again.summary.received, 1);
    assert.ok(stack.stats().arp.expired >= 1, JSON.stringify(stack.stats().arp));
    await checkCapture(4);
  });
}, { commands: ["tcpdump", "tshark"] });
