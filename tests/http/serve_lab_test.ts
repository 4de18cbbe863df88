/**
 * Plain-HTTP `stack.serve` (rawstack's own HTTP/1.1 server) against real
 * clients in the lab's peer namespace: curl (keep-alive, a chunked upload)
 * and wrk (keep-alive and `Connection: close` load, every response well-formed).
 *
 * @module
 */

import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import { withTcpLab } from "../lab/_tcp_lab_helpers.ts";

const PREFIX = "rsthsrv";

labTest(
  "stack.serve answers curl (one connection for three URLs, a chunked upload) and wrk without errors",
  async () => {
    await withTcpLab(PREFIX, { capturePackets: 200 }, async ({ lab, stack, checkCapture }) => {
      const server = stack.serve({ port: 8080 }, async (req) => {
        const body = req.body === null ? "" : await req.text();
        return new Response(`${req.method} ${new URL(req.url).pathname} ${body.length}\n`);
      });
      try {
        const base = `http://${lab.stackAddress}:8080`;
        const curl = await lab.runInPeer([
          "curl",
          "-sS",
          "--max-time",
          "10",
          `${base}/a`,
          `${base}/b`,
          `${base}/c`,
        ]);
        assert.equal(curl.code, 0, curl.stderr);
        assert.equal(curl.stdout, "GET /a 0\nGET /b 0\nGET /c 0\n");
        assert.equal(server.stats().accepted, 1, "curl kept its connection alive");

        const upload = await lab.runInPeer([
          "sh",
          "-c",
          `head -c 100000 /dev/zero | curl -sS --max-time 10 -H 'Transfer-Encoding: chunked' ` +
          `--data-binary @- ${base}/up`,
        ]);
        assert.equal(upload.code, 0, upload.stderr);
        assert.equal(upload.stdout, "POST /up 100000\n");

        for (const close of [false, true]) {
          const args = ["wrk", "-t1", "-c10", "-d1s"];
          if (close) args.push("-H", "Connection: close");
          const wrk = await lab.runInPeer([...args, `${base}/w`]);
          assert.equal(wrk.code, 0, wrk.stderr);
          const requests = Number(/(\d+) requests in/.exec(wrk.stdout)?.[1] ?? 0);
          assert.ok(requests > 100, `wrk made ${requests} requests:\n${wrk.stdout}`);
          assert.doesNotMatch(wrk.stdout, /Socket errors|Non-2xx/, wrk.stdout);
        }
        assert.equal(server.stats().badRequests, 0);
        assert.equal(server.stats().handlerErrors, 0);
      } finally {
        await server.shutdown();
      }
      await checkCapture(20); // the first 200 frames: well-formed both ways
    });
  },
  { commands: ["curl", "wrk", "tcpdump", "tshark"] },
);
