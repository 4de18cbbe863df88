/**
 * `stack.fetch`, `stack.serve` and `node:tls` over rawstack against real
 * peers in the kernel's namespace: python3's http.server and an ssl server,
 * curl, openssl s_client and s_server (issue #20).
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import { once } from "node:events";
import { labTest } from "../../src/testing/lab.ts";
import { createNodeConnection } from "../../src/http/node_socket.ts";
import { makeTestPki, type TestPki } from "../../src/testing/pki.ts";
import {
  bulkData,
  sha256Hex,
  spawnPeerHttpServer,
  waitPeerTcpPort,
  withTcpLab,
} from "./_tcp_lab_helpers.ts";

const PREFIX = "rsthttp";
const COMMANDS = ["python3", "openssl", "curl", "tcpdump", "tshark"];
const dec = new TextDecoder();

/** SYNs (not SYN-ACKs) to `port` in a tshark summary: one per connection opened. */
function synsTo(summary: string, port: number): number {
  return summary.split("\n").filter((l) => new RegExp(`→ ${port} \\[SYN\\]`).test(l)).length;
}

/**
 * A python3 server in the peer: HTTP/1.1 with keep-alive on 8000 and HTTPS
 * (Python's ssl, the test CA's certificate) on 8443, both serving `dir`.
 */
function pythonServers(dir: string, pki: TestPki): string {
  return `
import http.server, ssl, threading, functools
class H(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
handler = functools.partial(H, directory=${JSON.stringify(dir)})
plain = http.server.ThreadingHTTPServer(("192.0.2.1", 8000), handler)
secure = http.server.ThreadingHTTPServer(("192.0.2.1", 8443), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(${JSON.stringify(`${pki.dir}/srv.pem`)}, ${
    JSON.stringify(`${pki.dir}/srv.key`)
  })
secure.socket = ctx.wrap_socket(secure.socket, server_side=True)
threading.Thread(target=secure.serve_forever, daemon=True).start()
plain.serve_forever()
`;
}

labTest(
  "stack.fetch against python3 http.server, a keep-alive server (one connection in the capture) and a Python ssl server",
  async () => {
    const pki = await makeTestPki("DNS:server.test,IP:192.0.2.1,IP:192.0.2.2");
    try {
      await withTcpLab(PREFIX, {}, async ({ lab, stack, dir, checkCapture }) => {
        const page = bulkData(300_000, 3);
        await Deno.writeFile(`${dir}/page.bin`, page);
        await Deno.writeTextFile(`${dir}/hello.txt`, "hello from the kernel\n");
        // `python3 -m http.server` itself (HTTP/1.0: a connection per request).
        const simple = spawnPeerHttpServer(lab, dir, 8001);
        const servers = lab.spawnInPeer(["python3", "-c", pythonServers(dir, pki)]);
        try {
          await waitPeerTcpPort(lab, 8001);
          await waitPeerTcpPort(lab, 8000);
          await waitPeerTcpPort(lab, 8443);
          const r = await stack.fetch(`http://${lab.peerAddress}:8001/page.bin`);
          assert.equal(r.status, 200);
          assert.equal(
            await sha256Hex(new Uint8Array(await r.arrayBuffer())),
            await sha256Hex(page),
          );
          const missing = await stack.fetch(`http://${lab.peerAddress}:8001/nope`);
          assert.equal(missing.status, 404);
          await missing.body?.cancel();

          // Keep-alive: five requests, one connection.
          for (let i = 0; i < 5; i++) {
            const k = await stack.fetch(`http://${lab.peerAddress}:8000/hello.txt`);
            assert.equal(await k.text(), "hello from the kernel\n");
          }

          const client = stack.createHttpClient({ caCerts: [pki.ca] });
          try {
            const s = await stack.fetch(`https://${lab.peerAddress}:8443/page.bin`, { client });
            assert.equal(
              await sha256Hex(new Uint8Array(await s.arrayBuffer())),
              await sha256Hex(page),
            );
          } finally {
            client.close();
          }
          const other = stack.createHttpClient({ caCerts: [pki.otherCa] });
          try {
            const refused = await stack.fetch(`https://${lab.peerAddress}:8443/hello.txt`, {
              client: other,
            }).catch((e) => e);
            assert.ok(refused instanceof TypeError);
            assert.match(refused.message, /certificate/i);
          } finally {
            other.close();
          }
        } finally {
          await simple.kill();
          await servers.kill();
        }
        const summary = await checkCapture(20);
        assert.equal(synsTo(summary, 8000), 1, "the five requests shared one connection");
        assert.ok(synsTo(summary, 8001) >= 2, "HTTP/1.0: a connection per request");
      });
    } finally {
      await pki.remove();
    }
  },
  { commands: COMMANDS },
);

labTest(
  "stack.serve over TLS answers curl --cacert (one connection for three URLs) and openssl s_client; node:tls reaches openssl s_server",
  async () => {
    const pki = await makeTestPki("DNS:server.test,IP:192.0.2.1,IP:192.0.2.2");
    try {
      await withTcpLab(PREFIX, {}, async ({ lab, stack, checkCapture }) => {
        const server = stack.serve(
          { port: 8443, cert: pki.cert, key: pki.key },
          (req) => new Response(`secure ${new URL(req.url).pathname}\n`),
        );
        try {
          const curl = await lab.runInPeer([
            "curl",
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            `${pki.dir}/ca.pem`,
            `https://${lab.stackAddress}:8443/a`,
            `https://${lab.stackAddress}:8443/b`,
            `https://${lab.stackAddress}:8443/c`,
          ]);
          assert.equal(curl.code, 0, curl.stderr);
          assert.equal(curl.stdout, "secure /a\nsecure /b\nsecure /c\n");
          assert.equal(server.stats().accepted, 1, "curl reused its TLS connection");

          // curl with another CA refuses our certificate.
          const untrusted = await lab.runInPeer([
            "curl",
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            `${pki.dir}/other.pem`,
            `https://${lab.stackAddress}:8443/a`,
          ]);
          assert.notEqual(untrusted.code, 0);

          const sClient = await lab.runInPeer([
            "sh",
            "-c",
            `printf 'GET /s HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | ` +
            `openssl s_client -connect ${lab.stackAddress}:8443 -CAfile ${pki.dir}/ca.pem ` +
            `-verify_return_error -servername server.test -ign_eof 2>&1`,
          ]);
          assert.match(sClient.stdout, /Verify return code: 0 \(ok\)/);
          assert.match(sClient.stdout, /HTTP\/1\.1 200 OK/);
          assert.match(sClient.stdout, /secure \/s/);
        } finally {
          await server.shutdown();
        }

        // node:tls over createNodeConnection to openssl s_server (-rev answers each line reversed).
        const sServer = lab.spawnInPeer([
          "openssl",
          "s_server",
          "-accept",
          "4433",
          "-cert",
          `${pki.dir}/srv.pem`,
          "-key",
          `${pki.dir}/srv.key`,
          "-rev",
          "-quiet",
        ]);
        try {
          await waitPeerTcpPort(lab, 4433);
          const socket = tls.connect({
            socket: createNodeConnection(stack, { host: lab.peerAddress, port: 4433 }),
            ca: [pki.ca],
            servername: "server.test",
          });
          await once(socket, "secureConnect");
          assert.equal(socket.authorized, true);
          let got = "";
          socket.on("data", (c: Uint8Array) => got += dec.decode(c));
          socket.write("rawstack\n");
          const end = performance.now() + 5000;
          while (!got.includes("kcatswar") && performance.now() < end) {
            await new Promise((r) => setTimeout(r, 10));
          }
          assert.match(got, /kcatswar/);
          socket.destroy();
        } finally {
          await sServer.kill();
        }
        const summary = await checkCapture(20);
        assert.equal(synsTo(summary, 8443), 3, "curl twice, s_client once");
      });
    } finally {
      await pki.remove();
    }
  },
  { commands: COMMANDS },
);
