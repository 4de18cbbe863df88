/**
 * The TCP examples against the Linux kernel: examples/http_server.ts serves
 * curl in the peer namespace, examples/http_get.ts fetches from python3's
 * http.server there. Each test captures the lab link and checks it with tshark.
 */
import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import { withLabCapture } from "./_helpers.ts";
import { spawnPeerHttpServer, waitPeerTcpPort } from "./_tcp_lab_helpers.ts";

const PREFIX = "rststex";
const EXAMPLES = new URL("../../examples/", import.meta.url);
/** ARP request + reply, SYN, SYN-ACK, ACK, request, response, two FINs: the least one exchange puts on the wire. */
const MIN_HTTP_EXCHANGE_PACKETS = 9;

function runExample(name: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", "--allow-read", new URL(name, EXAMPLES).pathname, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

labTest(
  "examples/http_server.ts serves a page that curl in the kernel namespace fetches",
  async () => {
    await withLabCapture({ prefix: PREFIX }, async (lab, cap) => {
      const server = runExample("http_server.ts", [
        "--iface",
        lab.stackIf,
        "--netns",
        lab.stackNetns,
        "--ip",
        `${lab.stackAddress}/${lab.prefixLength}`,
        "--port",
        "8080",
        "--requests",
        "1",
      ]);
      const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!out.includes("serving HTTP")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      const curl = await lab.runInPeer([
        "curl",
        "-sS",
        "--max-time",
        "10",
        `http://${lab.stackAddress}:8080/`,
      ]);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      const code = (await server.status).code;
      assert.equal(code, 0, `http_server.ts failed: ${out}`);
      assert.equal(curl.code, 0, curl.stderr);
      assert.match(curl.stdout, /<h1>Served by rawstack<\/h1>/);
      assert.match(curl.stdout, /You are 192\.0\.2\.1:\d+/);
      assert.match(out, /192\.0\.2\.1:\d+ "GET \/ HTTP\/1\.1"/);
      const summary = await cap.check(MIN_HTTP_EXCHANGE_PACKETS);
      assert.match(summary, /192\.0\.2\.2 is at /);
      assert.match(summary, /8080 → \d+ \[SYN, ACK\]/);
    });
  },
  { commands: ["curl", "tcpdump", "tshark"] },
);

labTest(
  "examples/http_get.ts fetches a page from python3 http.server in the kernel namespace",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: `${PREFIX}-` });
    try {
      await withLabCapture({ prefix: PREFIX }, async (lab, cap) => {
        await Deno.writeTextFile(`${dir}/hello.html`, "<p>hello, browser</p>\n");
        const http = spawnPeerHttpServer(lab, dir, 8000);
        try {
          await waitPeerTcpPort(lab, 8000);
          const client = runExample("http_get.ts", [
            "--iface",
            lab.stackIf,
            "--netns",
            lab.stackNetns,
            "--ip",
            `${lab.stackAddress}/${lab.prefixLength}`,
            "--gateway",
            lab.peerAddress,
            `http://${lab.peerAddress}:8000/hello.html`,
          ]);
          const result = await client.output();
          const stdout = new TextDecoder().decode(result.stdout);
          assert.equal(result.code, 0, stdout);
          assert.match(stdout, /connect {2}192\.0\.2\.2:\d+ → 192\.0\.2\.1:8000 established/);
          assert.match(stdout, /receive {2}\d+ bytes: HTTP\/1\.[01] 200 OK/);
          assert.match(stdout, /<p>hello, browser<\/p>/);
        } finally {
          await http.kill();
        }
        const summary = await cap.check(MIN_HTTP_EXCHANGE_PACKETS);
        assert.match(summary, /Who has 192\.0\.2\.1\? Tell 192\.0\.2\.2/);
        assert.match(summary, /\d+ → 8000 \[SYN\]/);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
  { commands: ["python3", "ss", "tcpdump", "tshark"] },
);
