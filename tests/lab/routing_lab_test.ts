import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import { pattern, withLabStack } from "./_helpers.ts";
import type { Lab } from "../../src/testing/lab.ts";

const PREFIX = "rsstroute";

async function waitFarUdpPort(lab: Lab, port: number): Promise<void> {
  const end = performance.now() + 3000;
  for (;;) {
    const ss = await lab.runInFar(["ss", "-H", "-uln", `sport = :${port}`]);
    if (ss.stdout.trim() !== "") return;
    if (performance.now() > end) throw new Error(`nothing listens on UDP ${port} in the far host`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

labTest(
  "Routing: a host behind the kernel router is pinged and sent UDP via the gateway",
  async () => {
    await withLabStack(PREFIX, { router: true }, async ({ lab, stack, checkCapture }) => {
      const r = await stack.ping(lab.farAddress, { count: 3, intervalMs: 20 });
      assert.equal(r.summary.received, 3, JSON.stringify(r.summary));

      const echo = lab.spawnInFar(["socat", "-b", "65535", "UDP-LISTEN:7000", "PIPE"]);
      await waitFarUdpPort(lab, 7000);
      const conn = stack.listenDatagram({ port: 0 });
      for (const size of [1, 1472, 4000]) {
        const out = pattern(size, 3);
        await conn.send(out, { hostname: lab.farAddress, port: 7000 });
        const [back, from] = await conn.receive();
        assert.equal(from.hostname, lab.farAddress);
        assert.deepEqual(back, out);
      }
      await echo.kill();

      // Everything went through the gateway: only it was resolved with ARP.
      const table = stack.arpTable();
      assert.ok(table.some((e) => e.ip === lab.peerAddress && e.state === "reachable"));
      assert.ok(!table.some((e) => e.ip === lab.farAddress), JSON.stringify(table));
      // The far host saw us as the source (no NAT): the router forwarded our datagrams.
      const text = await checkCapture(3 * 2 + 3 * 2);
      assert.match(text, /192\.0\.2\.2 → 198\.51\.100\.2/);
    });
  },
  { commands: ["ping", "socat", "ss", "tcpdump", "tshark"] },
);
