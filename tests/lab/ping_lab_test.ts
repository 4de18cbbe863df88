import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import { withLabStack } from "./_helpers.ts";

const PREFIX = "rsstping";

labTest("Stack answers the kernel's pings with 0% loss, 4000-byte pings included", async () => {
  await withLabStack(PREFIX, {}, async ({ lab, stack, checkCapture }) => {
    const small = await lab.runInPeer([
      "ping",
      "-c",
      "20",
      "-i",
      "0.05",
      "-W",
      "1",
      lab.stackAddress,
    ]);
    assert.equal(small.code, 0, small.stdout + small.stderr);
    assert.match(small.stdout, / 0% packet loss/);
    // 4000 bytes of data: the kernel fragments its request, we reassemble and fragment the reply.
    const big = await lab.runInPeer([
      "ping",
      "-c",
      "5",
      "-i",
      "0.05",
      "-W",
      "1",
      "-s",
      "4000",
      lab.stackAddress,
    ]);
    assert.equal(big.code, 0, big.stdout + big.stderr);
    assert.match(big.stdout, / 0% packet loss/);
    assert.match(big.stdout, /4008 bytes from 192\.0\.2\.2/);
    const s = stack.stats();
    assert.ok(s.ipv4.rxReassembled >= 5, `reassembled ${s.ipv4.rxReassembled}`);
    assert.ok(s.ipv4.txFragments >= 15, `sent ${s.ipv4.txFragments} fragments`);
    const text = await checkCapture(20 * 2 + 5 * 6);
    assert.match(text, /Fragmented IP protocol|ICMP/);
  });
}, { commands: ["ping", "tcpdump", "tshark"] });

labTest("Stack.ping reaches the kernel, 4000-byte pings included", async () => {
  await withLabStack(PREFIX, {}, async ({ lab, stack, checkCapture }) => {
    const r = await stack.ping(lab.peerAddress, { count: 5, intervalMs: 20 });
    assert.equal(r.summary.received, 5, JSON.stringify(r.summary));
    assert.equal(r.summary.lossPercent, 0);
    assert.ok(r.summary.maxMs < 1000);
    const big = await stack.ping(lab.peerAddress, { count: 3, size: 4000, intervalMs: 20 });
    assert.equal(big.summary.received, 3, JSON.stringify(big.summary));
    assert.equal(big.replies[0].bytes, 4000);
    assert.ok(stack.stats().ipv4.rxReassembled >= 3);
    await checkCapture(5 * 2 + 3 * 6);
  });
}, { commands: ["tcpdump", "tshark"] });
