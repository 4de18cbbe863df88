import assert from "node:assert/strict";
import { runCli } from "./_run.ts";

const SUBCOMMANDS = ["ping", "get", "dns", "serve", "echo", "arp", "lab", "trace"];
const KERNEL_TCP = new URL("../testdata/kernel_tcp.pcap", import.meta.url).pathname;

function assertOneLineError(r: { code: number; stdout: string; stderr: string }, pattern: RegExp) {
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.ok(!/\n\s+at /.test(r.stderr), "no stack trace");
}

Deno.test("cli --help lists every subcommand", async () => {
  const r = await runCli(["--help"]);
  assert.equal(r.code, 0);
  for (const c of SUBCOMMANDS) assert.match(r.stdout, new RegExp(`^  ${c} `, "m"));
});

Deno.test("cli without a subcommand prints help on stderr and exits 2", async () => {
  const r = await runCli([]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Usage: rawstack COMMAND/);
});

for (const c of SUBCOMMANDS) {
  Deno.test(`cli ${c} --help shows usage and options`, async () => {
    const r = await runCli([c, "--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Usage: rawstack ${c}`));
    assert.match(r.stdout, /Options:\n/);
    assert.match(r.stdout, /--help/);
  });
  Deno.test(`cli ${c} rejects an unknown option with one line and exit 2`, async () => {
    assertOneLineError(
      await runCli([c, "--no-such-option"]),
      new RegExp(`^rawstack ${c}: unknown option "--no-such-option"`),
    );
  });
}

Deno.test("cli serve and get --help show the limits and timeouts with their defaults", async () => {
  const serve = (await runCli(["serve", "--help"])).stdout;
  for (const o of ["max-connections", "header-timeout", "idle-timeout", "send-timeout"]) {
    assert.match(serve, new RegExp(`--${o} \\S+ +.*\\(default \\d+\\)`), o);
  }
  assert.match(serve, /--max-header-bytes N +.*\(default 16384\)/);
  assert.match((await runCli(["get", "--help"])).stdout, /--timeout MS +.*\(default 30000/);
});

Deno.test("cli rejects an unknown subcommand with exit 2", async () => {
  assertOneLineError(await runCli(["frobnicate"]), /unknown command "frobnicate"/);
});

Deno.test("cli bad arguments give one clear line and exit 2", async () => {
  assertOneLineError(await runCli(["ping"]), /^rawstack ping: missing HOST/);
  assertOneLineError(
    await runCli(["ping", "--memory", "-c", "x", "192.0.2.1"]),
    /--count must be an integer/,
  );
  assertOneLineError(
    await runCli(["ping", "192.0.2.1"]),
    /no network device: give --iface IFACE.*--memory/,
  );
  assertOneLineError(await runCli(["ping", "--memory", "--ip", "bogus", "192.0.2.1"]), /bogus/);
  assertOneLineError(
    await runCli(["get", "--memory", "ftp://x/"]),
    /only http:\/\/ and https:\/\/ URLs/,
  );
  assertOneLineError(await runCli(["get", "--memory", "not a url"]), /is not a URL/);
  assertOneLineError(
    await runCli(["dns", "--memory", "-t", "MX", "x.test"]),
    /--type must be A or AAAA/,
  );
  assertOneLineError(await runCli(["dns", "--iface", "rs0", "x.test"]), /no DNS server/);
  assertOneLineError(
    await runCli(["serve", "--port", "70000"]),
    /--port must be an integer from 1 to 65535/,
  );
  assertOneLineError(
    await runCli(["serve", "--dir", "/no/such/dir", "--iface", "x"]),
    /--dir \/no\/such\/dir/,
  );
  assertOneLineError(
    await runCli(["serve", "--header-timeout", "1e3", "--iface", "x"]),
    /--header-timeout must be an integer from 0/,
  );
  assertOneLineError(
    await runCli(["get", "--memory", "--timeout", "soon", "http://192.0.2.1/"]),
    /--timeout must be an integer from 0/,
  );
  assertOneLineError(
    await runCli(["echo", "--iface", "eth0", "--memory"]),
    /unknown option "--memory"/,
  );
  assertOneLineError(await runCli(["lab", "sideways"]), /expected "up" or "down"/);
  assertOneLineError(await runCli(["lab", "up", "--prefix", "Bad_Prefix"]), /--prefix must be/);
  assertOneLineError(await runCli(["trace"]), /missing FILE.pcap/);
  assertOneLineError(await runCli(["trace", "/no/such.pcap"]), /no such file/);
  assertOneLineError(await runCli(["trace", KERNEL_TCP, "--conn", "9"]), /has 2 TCP connection/);
  assertOneLineError(await runCli(["trace", KERNEL_TCP, "extra"]), /unexpected argument "extra"/);
});

Deno.test("cli trace rejects a file that is not pcap with exit 2", async () => {
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    await Deno.writeTextFile(path, "this is not a capture file at all");
    assertOneLineError(await runCli(["trace", path]), /bad-magic/);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("cli ping --memory pings the in-process peer", async () => {
  const r = await runCli(["ping", "--memory", "-c", "2", "-i", "20", "192.0.2.1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /64 bytes from 192\.0\.2\.1: icmp_seq=1 time=/);
  assert.match(r.stdout, /2 packets transmitted, 2 received, 0% packet loss/);
});

Deno.test("cli ping --memory exits 1 when nobody answers", async () => {
  const r = await runCli(["ping", "--memory", "-c", "1", "-W", "200", "192.0.2.99"]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /1 packets transmitted, 0 received, 100% packet loss/);
});

Deno.test("cli dns --memory resolves through a CNAME and reports NXDOMAIN", async () => {
  const ok = await runCli(["dns", "--memory", "www.test"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, "192.0.2.1\n");
  const missing = await runCli(["dns", "--memory", "nope.test"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^rawstack dns: NXDOMAIN/);
});

Deno.test("cli arp --memory shows the resolved neighbour", async () => {
  const r = await runCli(["arp", "--memory"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /192\.0\.2\.1\s+02:00:00:00:00:02\s+reachable/);
});

Deno.test("cli get --memory writes the body, a pcap and a ladder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rsfc-cli-" });
  try {
    const r = await runCli([
      "get",
      "--memory",
      "--ladder",
      "--verbose",
      "--pcap",
      `${dir}/get.pcap`,
      "-o",
      `${dir}/body.bin`,
      "http://192.0.2.1/bytes/200000",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "", "body went to the file");
    const body = await Deno.readFile(`${dir}/body.bin`);
    assert.equal(body.length, 200000);
    assert.equal(body[27], 0x61 + 1);
    assert.match(r.stderr, /SYN seq=0/, "the ladder");
    assert.match(r.stderr, /192\.0\.2\.2:\d+ > 192\.0\.2\.1:80\s+TCP/, "--verbose lines");
    assert.ok(!r.stderr.includes("\r"), "no progress bar when stderr is not a terminal");
    // The capture traces back to the same connection.
    const t = await runCli([
      "trace",
      `${dir}/get.pcap`,
      "--svg",
      `${dir}/l.svg`,
      "--plot",
      `${dir}/p.svg`,
    ]);
    assert.equal(t.code, 0, t.stderr);
    assert.ok((await Deno.readTextFile(`${dir}/l.svg`)).includes("SYN,ACK seq=0 ack=1"));
    assert.ok(
      (await Deno.readTextFile(`${dir}/p.svg`)).includes("sending side 192.0.2.1:80 (server)"),
    );
    const text = await runCli(["trace", `${dir}/get.pcap`]);
    assert.match(text.stdout, /len=\d+ win=/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli get --memory prints the page and fails on 404", async () => {
  const ok = await runCli(["get", "--memory", "http://192.0.2.1/"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /<h1>Hello from rawstack<\/h1>/);
  const missing = await runCli(["get", "--memory", "http://192.0.2.1/missing"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /HTTP 404 Not Found/);
});

Deno.test("cli get --memory reports a refused connection in one line", async () => {
  const r = await runCli(["get", "--memory", "http://192.0.2.1:81/"]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /^rawstack get: .*refused/i);
});

Deno.test("cli trace prints the text ladder of a tcpdump capture", async () => {
  const r = await runCli(["trace", KERNEL_TCP, "--conn", "1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^TCP connection 1: 192\.0\.2\.1:41000 → 192\.0\.2\.2:8080/);
  assert.match(r.stdout, /\|<-+ SYN,ACK seq=0 ack=1 win=65160/);
  const all = await runCli(["trace", KERNEL_TCP, "--packets", "--frames"]);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /#15 /);
});
