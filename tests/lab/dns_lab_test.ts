import assert from "node:assert/strict";
import { type Lab, labTest } from "../../src/testing/lab.ts";
import { DnsError } from "../../src/dns/dns_error.ts";
import { waitPeerUdpPort, withLabStack } from "./_helpers.ts";

const PREFIX = "rsstdns";

/** dnsmasq on the kernel side's address, authoritative for `.test` with the given records. */
function startDnsmasq(lab: Lab, records: string[]) {
  return lab.spawnInPeer([
    "dnsmasq",
    "--keep-in-foreground",
    "--no-resolv",
    "--no-hosts",
    "--pid-file=",
    "--bind-interfaces",
    `--listen-address=${lab.peerAddress}`,
    "--local=/test/",
    ...records,
  ]);
}

labTest(
  "DNS: names resolve against dnsmasq in the kernel namespace; NXDOMAIN is reported",
  async () => {
    await withLabStack(PREFIX, { stack: { dns: ["192.0.2.1"] } }, async (ls) => {
      const { lab, stack, checkCapture } = ls;
      const dnsmasq = startDnsmasq(lab, [
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

labTest(
  "DNS: an answer too large for UDP comes truncated from dnsmasq and is asked again over TCP",
  async () => {
    const records = 40; // 40 × 16 bytes of A records: more than a 512-byte UDP answer holds
    await withLabStack(PREFIX, { stack: { dns: ["192.0.2.1"] } }, async (ls) => {
      const { lab, stack, checkCapture } = ls;
      const expected: string[] = [];
      for (let i = 0; i < records; i++) expected.push(`198.51.100.${i + 1}`);
      const dnsmasq = startDnsmasq(
        lab,
        expected.map((a) => `--host-record=many.test,${a}`),
      );
      try {
        await waitPeerUdpPort(lab, 53);
        const addresses = await stack.resolveDns("many.test", "A");
        assert.deepEqual(addresses.slice().sort(), expected.slice().sort());
        const dns = stack.stats().dns;
        assert.equal(dns.truncated, 1, "dnsmasq set TC on the UDP answer");
        assert.equal(dns.tcpQueries, 1);
        assert.equal(dns.tcpFailures, 0);
        // Our side of the TCP exchange closes cleanly: FIN both ways, then TIME-WAIT (we closed
        // first). Waits for the FINs, not for a time: a stuck close fails after the bound.
        const settled = () =>
          [...stack.tcp.connections()].every((c) => c.stateName === "TIME-WAIT");
        for (let i = 0; i < 200 && !settled(); i++) await new Promise((r) => setTimeout(r, 10));
        assert.deepEqual([...stack.tcp.connections()].map((c) => c.stateName), ["TIME-WAIT"]);
      } finally {
        await dnsmasq.kill();
      }
      // The capture holds the UDP exchange and the whole TCP one; tshark finds nothing wrong.
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
