/**
 * The Linux kernel as the TCP client (curl, socat, python3) of rawstack's
 * servers.
 */
import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import { TcpState } from "../../src/tcp/connection.ts";
import {
  bulkData,
  bulkMegabytes,
  fileSha256,
  readToEnd,
  serveHttp,
  sha256Hex,
  waitFor,
  withTcpLab,
  writeAllChunked,
} from "./_tcp_lab_helpers.ts";

const PREFIX = "rststs";
const enc = new TextEncoder();
const dec = new TextDecoder();
const COMMANDS = ["socat", "curl", "tcpdump", "tshark", "python3"];
const BULK_CAPTURE_PACKETS = 40_000;

labTest(
  "TcpListener serves kernel clients: curl, bulk each way by SHA-256, both closing orders",
  async () => {
    const bytes = bulkMegabytes() << 20;
    await withTcpLab(
      PREFIX,
      { capturePackets: BULK_CAPTURE_PACKETS },
      async ({ lab, stack, dir, checkCapture }) => {
        // ---- curl fetches a page from rawstack's HTTP server.
        const page = enc.encode("<html><body>served by rawstack</body></html>\n");
        const web = stack.listen({ port: 8080 });
        const log = serveHttp(web, page);
        const curl = await lab.runInPeer([
          "curl",
          "-sS",
          "--max-time",
          "10",
          `http://${lab.stackAddress}:8080/index.html`,
        ]);
        assert.equal(curl.code, 0, curl.stderr);
        assert.equal(curl.stdout, dec.decode(page));
        assert.deepEqual(log.requests, ["GET /index.html HTTP/1.1"]);
        web.close();

        // ---- kernel → rawstack upload; the kernel closes first.
        const upFile = `${dir}/up.bin`;
        const up = bulkData(bytes, 11);
        await Deno.writeFile(upFile, up);
        const l1 = stack.listen({ port: 6001 });
        const sender = lab.spawnInPeer([
          "socat",
          "-u",
          `OPEN:${upFile}`,
          `TCP:${lab.stackAddress}:6001`,
        ]);
        const s1 = await l1.accept();
        const got = await readToEnd(s1);
        assert.equal((await sender.finished()).code, 0);
        assert.equal(got.length, up.length);
        assert.equal(await sha256Hex(got), await sha256Hex(up));
        const e1 = s1.connection;
        assert.equal(e1.state, TcpState.CLOSE_WAIT);
        s1.close();
        await waitFor(() => e1.released, "LAST-ACK to end");
        l1.close();
        await Deno.remove(upFile);

        // ---- rawstack → kernel download; rawstack closes first (FIN-WAIT → TIME-WAIT).
        const downFile = `${dir}/down.bin`;
        const down = bulkData(bytes, 12);
        const l2 = stack.listen({ port: 6002 });
        const receiver = lab.spawnInPeer([
          "socat",
          "-u",
          `TCP:${lab.stackAddress}:6002`,
          `CREATE:${downFile}`,
        ]);
        const s2 = await l2.accept();
        await writeAllChunked(s2, down);
        const e2 = s2.connection;
        s2.close();
        assert.equal((await receiver.finished()).code, 0);
        await waitFor(() => e2.state === TcpState.TIME_WAIT, "TIME-WAIT after the kernel's FIN");
        assert.equal(await fileSha256(downFile), await sha256Hex(down));
        l2.close();

        assert.equal(stack.stats().tcp.malformed, 0);
        await checkCapture(100);
      },
    );
  },
  { commands: COMMANDS },
);

const PY_HALF_CLOSE_CLIENT = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"x" * 100000)
s.shutdown(socket.SHUT_WR)
total = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    total += d
print(total.decode())
s.close()
`;

const PY_REFUSED_CLIENT = `
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
    print("connected")
except ConnectionRefusedError:
    print("refused")
`;

const PY_LOAD_CLIENT = `
import asyncio, sys
host, port = sys.argv[1], int(sys.argv[2])
async def one(tag):
    r, w = await asyncio.open_connection(host, port)
    w.write(tag.encode())
    w.write_eof()
    data = await r.read()
    w.close()
    await w.wait_closed()
    assert data == tag.encode(), (data, tag)
async def main():
    for i in range(1000):
        await one(f"seq {i}")
    await asyncio.gather(*(one(f"conc {i}") for i in range(200)))
    print("ok")
asyncio.run(main())
`;

labTest(
  "TcpListener with kernel clients: half-close, refused, 1,000 sequential and 200 concurrent",
  async () => {
    await withTcpLab(PREFIX, {}, async ({ lab, stack, checkCapture }) => {
      // ---- half-close: the client's FIN ends the request, our reply follows.
      const l = stack.listen({ port: 7001 });
      const client = lab.spawnInPeer([
        "python3",
        "-c",
        PY_HALF_CLOSE_CLIENT,
        lab.stackAddress,
        "7001",
      ]);
      const s = await l.accept();
      const request = await readToEnd(s);
      assert.equal(request.length, 100_000);
      assert.equal(s.state, "CLOSE-WAIT");
      await s.write(enc.encode(`got ${request.length} bytes after your FIN`));
      s.close();
      const out = await client.finished();
      assert.equal(out.stdout.trim(), "got 100000 bytes after your FIN", out.stderr);
      l.close();

      // ---- refused: our RST answers the kernel's SYN.
      const refused = await lab.runInPeer([
        "python3",
        "-c",
        PY_REFUSED_CLIENT,
        lab.stackAddress,
        "7002",
      ]);
      assert.equal(refused.stdout.trim(), "refused", refused.stderr);

      // ---- an echo server under load from the kernel.
      const echo = stack.listen({ port: 7000, backlog: 256 });
      let served = 0;
      const loop = (async () => {
        for await (const conn of echo) {
          served++;
          conn.readable.pipeTo(conn.writable).catch(() => conn.close());
        }
      })();
      const load = await lab.runInPeer(["python3", "-c", PY_LOAD_CLIENT, lab.stackAddress, "7000"]);
      assert.equal(load.stdout.trim(), "ok", load.stderr);
      assert.equal(served, 1200);
      echo.close();
      await loop;
      const tcp = stack.stats().tcp;
      assert.equal(tcp.malformed, 0);
      assert.ok(tcp.resetsSent >= 1);
      await checkCapture(1200 * 7);
    });
  },
  { commands: COMMANDS },
);
