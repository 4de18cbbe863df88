import assert from "node:assert/strict";
import { Lab, labTest, run } from "../../src/testing/lab.ts";
import {
  assertCaptureClean,
  captureLab,
  type LabCapture,
  withLabCapture,
} from "../lab/_helpers.ts";
import { runCli } from "./_run.ts";
import { makeTestPki } from "../../src/testing/pki.ts";

const PREFIX = "rsfc";
const PEER = "192.0.2.1";

/** ARP request + reply, 2 echo requests + 2 replies. */
const MIN_PING_PACKETS = 6;
/** SYN, SYN-ACK, ACK, request, response, two FINs: the least one TCP exchange puts on the wire. */
const MIN_TCP_EXCHANGE_PACKETS = 7;

function net(lab: Lab): string[] {
  return [
    "--iface",
    lab.stackIf,
    "--netns",
    lab.stackNetns,
    "--ip",
    "192.0.2.2/24",
    "--gateway",
    PEER,
  ];
}

async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

labTest("cli ping, arp and get reach the Linux kernel in the lab", async () => {
  const site = await Deno.makeTempDir({ prefix: "rsfc-site-" });
  try {
    await withLabCapture({ prefix: PREFIX }, async (lab, cap) => {
      await Deno.writeTextFile(`${site}/index.html`, "<h1>kernel page</h1>\n");
      const ping = await runCli(["ping", ...net(lab), "-c", "2", "-i", "50", PEER]);
      assert.equal(ping.code, 0, ping.stderr);
      assert.match(ping.stdout, /2 received/);
      const arp = await runCli(["arp", ...net(lab)]);
      assert.equal(arp.code, 0, arp.stderr);
      assert.match(arp.stdout, /192\.0\.2\.1\s+([0-9a-f]{2}:){5}[0-9a-f]{2}\s+reachable/);
      lab.spawnInPeer([
        "python3",
        "-m",
        "http.server",
        "--bind",
        PEER,
        "--directory",
        site,
        "8000",
      ]);
      const probe = `import socket; socket.create_connection(("${PEER}", 8000), 1).close()`;
      await until(
        async () => (await lab.runInPeer(["python3", "-c", probe])).code === 0,
        "http.server",
      );
      const pcap = `${site}/get.pcap`;
      const get = await runCli(["get", ...net(lab), "--pcap", pcap, `http://${PEER}:8000/`]);
      assert.equal(get.code, 0, get.stderr);
      assert.equal(get.stdout, "<h1>kernel page</h1>\n");
      const trace = await runCli(["trace", pcap]);
      assert.equal(trace.code, 0, trace.stderr);
      assert.match(trace.stdout, /SYN,ACK seq=0 ack=1/);
      assert.match(trace.stdout, /FIN/);
      // rawstack's own capture of the fetch is well-formed too.
      await assertCaptureClean(pcap, MIN_TCP_EXCHANGE_PACKETS);
      // On the wire: ARP + pings answered, then the HTTP fetch.
      const summary = await cap.check(MIN_PING_PACKETS + MIN_TCP_EXCHANGE_PACKETS);
      // (`arp` resolves the gateway with a ping of its own, hence "at least".)
      assert.ok((summary.match(/Echo \(ping\) reply/g)?.length ?? 0) >= 2, summary);
      assert.match(summary, /Echo \(ping\) reply +id=0x[0-9a-f]+, seq=1\//);
      assert.match(summary, /\d+ → 8000 \[SYN\]/);
    });
  } finally {
    await Deno.remove(site, { recursive: true });
  }
}, { commands: ["python3", "tcpdump", "tshark"] });

labTest("cli dns asks dnsmasq in the lab", async () => {
  await withLabCapture({ prefix: PREFIX }, async (lab, cap) => {
    lab.spawnInPeer([
      "dnsmasq",
      "--no-daemon",
      "--no-resolv",
      "--no-hosts",
      `--listen-address=${PEER}`,
      "--bind-interfaces",
      "--host-record=host.test,192.0.2.53",
    ]);
    let r = { code: 1, stdout: "", stderr: "" };
    await until(async () => {
      r = await runCli(["dns", ...net(lab), "--dns", PEER, "host.test"]);
      return r.code === 0;
    }, `dnsmasq (${r.stderr})`);
    assert.equal(r.stdout, "192.0.2.53\n");
    // ARP request + reply, then at least one query and its answer.
    const summary = await cap.check(4);
    assert.match(summary, /Standard query response 0x[0-9a-f]+ A host\.test A 192\.0\.2\.53/);
  });
}, { commands: ["dnsmasq", "tcpdump", "tshark"] });

labTest("cli echo and serve answer the kernel's clients", async () => {
  const site = await Deno.makeTempDir({ prefix: "rsfc-site-" });
  try {
    await withLabCapture({ prefix: PREFIX }, async (lab, cap) => {
      await Deno.writeTextFile(`${site}/hello.txt`, "served by rawstack\n");
      const echo = runCli(["echo", ...net(lab), "--port", "7", "--count", "1"]);
      let out = { code: 1, stdout: "", stderr: "" };
      await until(async () => {
        out = await lab.runInPeer([
          "sh",
          "-c",
          "printf 'hello rawstack' | socat -T 2 - TCP:192.0.2.2:7,connect-timeout=1",
        ]);
        return out.code === 0;
      }, "echo server");
      assert.equal(out.stdout, "hello rawstack");
      const e = await echo;
      assert.equal(e.code, 0, e.stderr);
      const serve = runCli(["serve", ...net(lab), "--dir", site, "--port", "8080", "--count", "2"]);
      let body = { code: 1, stdout: "", stderr: "" };
      await until(async () => {
        body = await lab.runInPeer([
          "curl",
          "-s",
          "--max-time",
          "2",
          "http://192.0.2.2:8080/hello.txt",
        ]);
        return body.code === 0;
      }, "http server");
      assert.equal(body.stdout, "served by rawstack\n");
      // A request line with terminal escapes (clear screen) is refused and logged escaped.
      const hostile = await lab.runInPeer([
        "sh",
        "-c",
        "printf 'GET /\\033[2J HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' | " +
        "socat -T 2 - TCP:192.0.2.2:8080,connect-timeout=1",
      ]);
      const s = await serve;
      assert.equal(s.code, 0, s.stderr);
      assert.ok(!s.stderr.includes("\x1b"), "a raw escape reached the log");
      assert.match(s.stderr, /"GET \/hello\.txt" 200/);
      assert.match(s.stderr, /"GET \/\\x1B\[2J HTTP\/1\.1" 400/);
      assert.match(hostile.stdout, /^HTTP\/1\.1 400 /);
      const summary = await cap.check(2 * MIN_TCP_EXCHANGE_PACKETS);
      assert.match(summary, /7 → \d+ \[SYN, ACK\]/);
      assert.match(summary, /8080 → \d+ \[SYN, ACK\]/);
    });
  } finally {
    await Deno.remove(site, { recursive: true });
  }
}, { commands: ["socat", "curl", "tcpdump", "tshark"] });

labTest("cli lab up builds namespaces and lab down removes them", async () => {
  const prefix = `rsfc${Deno.pid % 100000}`;
  let cap: LabCapture | null = null;
  try {
    const up = await runCli(["lab", "up", "--prefix", prefix]);
    assert.equal(up.code, 0, up.stderr);
    const peer = up.stdout.match(/kernel peer +(\S+) \(interface (\S+),/);
    assert.ok(peer !== null, up.stdout);
    // The lab's link: the kernel peer's ARP for 192.0.2.2 goes unanswered (rs0 owns no address).
    cap = await captureLab({ peerNetns: peer[1], peerIf: peer[2] }, PREFIX);
    const ping = await run(
      ["ip", "netns", "exec", peer[1], "ping", "-c", "1", "-W", "1", "192.0.2.2"],
      { check: false },
    );
    assert.notEqual(ping.code, 0, ping.stdout);
    const summary = await cap.check(1);
    assert.match(summary, /Who has 192\.0\.2\.2\? Tell 192\.0\.2\.1/);
    assert.doesNotMatch(summary, /is at/);
    await cap.close();
    const list = (await run(["ip", "netns", "list"])).stdout;
    const names = list.split("\n").map((l) => l.split(" ")[0]).filter((n) =>
      n.startsWith(`${prefix}-`)
    );
    assert.equal(names.length, 2, list);
    assert.match(up.stdout, new RegExp(`--netns ${prefix}-\\d+-rs`));
    // IPv6 on the kernel side (issue 18), router advertisements from a daemonized dnsmasq.
    assert.match(up.stdout, /2001:db8:1::1\/64; router advertisements for 2001:db8:1::\/64/);
    const addr6 = await run(["ip", "-n", peer[1], "-6", "addr", "show", "dev", peer[2]]);
    assert.match(addr6.stdout, /inet6 2001:db8:1::1\/64/);
    const raPid = Number((await Deno.readTextFile(`/run/rawstack-${peer[1]}-ra.pid`)).trim());
    assert.ok(Deno.statSync(`/proc/${raPid}`).isDirectory);
    const down = await runCli(["lab", "down", "--prefix", prefix]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /^removed /);
    const gone = async () => {
      try {
        const stat = await Deno.readTextFile(`/proc/${raPid}/stat`);
        return stat.split(") ")[1]?.startsWith("Z") ?? true; // a zombie is stopped too
      } catch {
        return true;
      }
    };
    await until(gone, "lab down to stop the router-advertisement dnsmasq");
    const after = (await run(["ip", "netns", "list"])).stdout;
    assert.ok(!after.includes(`${prefix}-`), after);
  } finally {
    if (cap !== null) await cap.close();
    await Lab.removeStale(prefix);
  }
}, { commands: ["ping", "dnsmasq", "tcpdump", "tshark"] });

labTest(
  "cli get https:// trusts --cacert, refuses others, --insecure accepts; serve --cert/--key answers curl",
  async () => {
    const pki = await makeTestPki("DNS:server.test,IP:192.0.2.1,IP:192.0.2.2");
    const site = await Deno.makeTempDir({ prefix: "rsfc-tls-" });
    try {
      await Deno.writeTextFile(`${site}/hello.txt`, "over TLS\n");
      await withLabCapture({ prefix: PREFIX }, async (lab, cap) => {
        const py = lab.spawnInPeer([
          "python3",
          "-c",
          "import http.server, ssl, functools\n" +
          `h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=${
            JSON.stringify(site)
          })\n` +
          `s = http.server.HTTPServer(("${PEER}", 8443), h)\n` +
          "c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n" +
          `c.load_cert_chain("${pki.dir}/srv.pem", "${pki.dir}/srv.key")\n` +
          "s.socket = c.wrap_socket(s.socket, server_side=True)\n" +
          "s.serve_forever()\n",
        ]);
        try {
          await until(async () => {
            const ss = await lab.runInPeer(["ss", "-H", "-tln", "sport = :8443"]);
            return ss.stdout.trim() !== "";
          }, "the python ssl server");
          const url = `https://${PEER}:8443/hello.txt`;
          const trusted = await runCli(["get", ...net(lab), "--cacert", `${pki.dir}/ca.pem`, url]);
          assert.equal(trusted.code, 0, trusted.stderr);
          assert.equal(trusted.stdout, "over TLS\n");
          const refused = await runCli(["get", ...net(lab), url]);
          assert.equal(refused.code, 1);
          assert.match(refused.stderr, /certificate/i);
          const insecure = await runCli(["get", ...net(lab), "--insecure", url]);
          assert.equal(insecure.code, 0, insecure.stderr);
          assert.equal(insecure.stdout, "over TLS\n");
        } finally {
          await py.kill();
        }
        const serve = runCli([
          "serve",
          ...net(lab),
          "--dir",
          site,
          "--port",
          "8443",
          "--cert",
          `${pki.dir}/srv.pem`,
          "--key",
          `${pki.dir}/srv.key`,
          "--count",
          "1",
        ]);
        let body = { code: 1, stdout: "", stderr: "" };
        await until(async () => {
          body = await lab.runInPeer([
            "curl",
            "-sS",
            "--max-time",
            "2",
            "--cacert",
            `${pki.dir}/ca.pem`,
            "https://192.0.2.2:8443/hello.txt",
          ]);
          return body.code === 0;
        }, "the https server");
        assert.equal(body.stdout, "over TLS\n");
        const s = await serve;
        assert.equal(s.code, 0, s.stderr);
        assert.match(s.stderr, /https:\/\/192\.0\.2\.2:8443\//);
        assert.match(s.stderr, /"GET \/hello\.txt" 200/);
        await cap.check(2 * MIN_TCP_EXCHANGE_PACKETS);
      });
    } finally {
      await pki.remove();
      await Deno.remove(site, { recursive: true });
    }
  },
  { commands: ["python3", "openssl", "curl", "tcpdump", "tshark"] },
);
