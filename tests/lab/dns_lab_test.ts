import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import { DnsError } from "../../src/dns/dns_error.ts";
import { waitPeerUdpPort, withLabStack } from "./_helpers.ts";

const PREFIX = "rsstdns";

labTest(
  "DNS: names resolve against dnsmasq in the kernel namespace; NXDOMAIN is reported",
  async () => {
    await withLabStack(PREFIX, { stack: { dns: ["192.0.2.1"] } }, async (ls) => {
      const { lab, stack, checkCapture } = ls;
      const dnsmasq = lab.spawnInPeer([
        "dnsmasq",
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        "--pid-file=",
        "--bind-interfaces",
        `--listen-address=${lab.peerAddress}`,
        "--local=/test/",
        "--host-record=host.test,192.0.2.10",
        "--host-record=multi.test,192.0.2.11",
        "--host-record=multi.test,192.0.2.12",
        "--cname=www.test,host.test",
      ]);
      try {
        await waitPeerUdpPort(lab, 53);
        assert.deepEqual(await stack.resolveDns("host.test", "A"), ["192.0.2.10"]);
        assert.deepEqual(
          (await stack.resolveDns("multi.test", "A")).sort(),
          ["192.0.2.11", "192.0.2.12"],
        );
        assert.deepEqual(await stack.resolveDns("www.test", "A"), ["192.0.2.10"]);
        await assert.rejects(
          stack.resolveDns("nope.test", "A"),
          (e: unknown) => e instanceof DnsError && e.code === "NXDOMAIN",
        );
        // A name is usable where a host is expected.
        const r = await stack.ping("host.test", { count: 1, timeoutMs: 200 });
        assert.equal(r.address, "192.0.2.10");
        assert.ok(stack.stats().dns.responses >= 4);
      } finally {
        await dnsmasq.kill();
      }
      await checkCapture(8);
    });
  },
  { commands: ["dnsmasq", "ss", "tcpdump", "tshark"] },
);

labTest("DNS: a silent server times out after the configured retries", async () => {
  const attempts = 3;
  const timeoutMs = 100;
  await withLabStack(
    PREFIX,
    { stack: { dns: ["192.0.2.1:5353"], dnsTimeoutMs: timeoutMs, dnsAttempts: attempts } },
    async ({ lab, stack, checkCapture }) => {
      // socat swallows the queries (one output line per query) and never answers.
      const sink = lab.spawnInPeer(["socat", "-u", "UDP-RECV:5353", "STDOUT"]);
      await waitPeerUdpPort(lab, 5353);
      const t0 = performance.now();
      await assert.rejects(
        stack.resolveDns("quiet.test", "A"),
        (e: unknown) => e instanceof DnsError && e.code === "TIMEOUT",
      );
      const elapsed = performance.now() - t0;
      assert.ok(elapsed >= attempts * timeoutMs - 5, `gave up after ${elapsed} ms`);
      const out = await sink.kill();
      assert.equal(out.stdout.split("quiet").length - 1, attempts, "queries seen by the server");
      assert.equal(stack.stats().dns.queriesSent, attempts);
      await checkCapture(attempts);
    },
  );
}, { commands: ["socat", "ss", "tcpdump", "tshark"] });
