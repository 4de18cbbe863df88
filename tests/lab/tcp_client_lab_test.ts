/**
 * rawstack as the TCP client of Linux kernel servers (socat, python3
 * http.server and an asyncio echo server in the peer namespace).
 */
import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import { ConnectionRefused } from "../../src/tcp/errors.ts";
import { TcpState } from "../../src/tcp/connection.ts";
import type { TcpConn } from "../../src/socket/tcp_conn.ts";
import {
  bulkData,
  bulkMegabytes,
  readToEnd,
  sha256Hex,
  socatTransfer,
  spawnPeerHttpServer,
  waitFor,
  waitPeerTcpPort,
  withTcpLab,
} from "./_tcp_lab_helpers.ts";

const PREFIX = "rststc";
const enc = new TextEncoder();
const dec = new TextDecoder();
const COMMANDS = ["socat", "ss", "tcpdump", "tshark", "python3"];
/** Packets tshark checks in the bulk test: the handshakes and the first ~35 MB. */
const BULK_CAPTURE_PACKETS = 40_000;

labTest(
  "TcpConn to kernel socat: bulk each way by SHA-256, both closing orders, half-close, refused",
  async () => {
    const bytes = bulkMegabytes() << 20;
    await withTcpLab(
      PREFIX,
      { capturePackets: BULK_CAPTURE_PACKETS },
      async ({ lab, stack, dir, checkCapture }) => {
        // ---- rawstack → kernel; rawstack closes first (our FIN, then the kernel's).
        const { conn: c1, ms: upMs } = await socatTransfer(lab, stack, {
          direction: "up",
          data: bulkData(bytes, 1),
          port: 5001,
          dir,
        });
        // We closed first: TIME-WAIT (RFC 9293 §3.6 case 1).
        assert.equal(c1.connection.state, TcpState.TIME_WAIT);
        c1.close();

        // ---- kernel → rawstack; the kernel closes first (its FIN after the file).
        const { conn: c2, ms: downMs } = await socatTransfer(lab, stack, {
          direction: "down",
          data: bulkData(bytes, 2),
          port: 5002,
          dir,
        });
        assert.equal(c2.connection.state, TcpState.CLOSE_WAIT);
        const engine2 = c2.connection;
        c2.close(); // LAST-ACK, then CLOSED when the kernel ACKs our FIN
        await waitFor(() => engine2.released, "LAST-ACK to end");
        console.log(
          `  ${bulkMegabytes()} MB up ${(bytes * 8 / 1e6 / upMs).toFixed(2)} Gbit/s, ` +
            `down ${(bytes * 8 / 1e6 / downMs).toFixed(2)} Gbit/s`,
        );

        // ---- half-close: our FIN ends the request; the kernel's reply still flows.
        const echo = lab.spawnInPeer(["socat", "-t", "5", "TCP-LISTEN:5003,reuseaddr", "EXEC:cat"]);
        await waitPeerTcpPort(lab, 5003);
        const c3 = await stack.connect({ hostname: lab.peerAddress, port: 5003 });
        const request = bulkData(300_000, 3);
        await c3.write(request);
        await c3.closeWrite();
        const echoed = await readToEnd(c3);
        assert.equal(await sha256Hex(echoed), await sha256Hex(request));
        c3.close();
        await echo.finished();

        // ---- refused: the kernel answers a SYN to a closed port with RST.
        await assert.rejects(
          stack.connect({ hostname: lab.peerAddress, port: 9 }),
          ConnectionRefused,
        );

        const s = stack.stats().tcp;
        assert.equal(s.malformed, 0);
        assert.ok(s.resetsReceived >= 1);
        await checkCapture(100);
      },
    );
  },
  { commands: COMMANDS },
);

const PY_ECHO_SERVER = `
import asyncio, sys
async def handle(r, w):
    while True:
        data = await r.read(65536)
        if not data:
            break
        w.write(data)
        await w.drain()
    w.close()
async def main():
    srv = await asyncio.start_server(handle, sys.argv[1], int(sys.argv[2]), backlog=512)
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
`;

labTest(
  "TcpConn to kernel servers: python http.server, 1,000 sequential and 200 concurrent connections",
  async () => {
    await withTcpLab(PREFIX, {}, async ({ lab, stack, dir, checkCapture }) => {
      // ---- an HTTP server in the peer namespace.
      const page = "<html><body>hello from the kernel side</body></html>\n";
      await Deno.writeTextFile(`${dir}/index.html`, page);
      const http = spawnPeerHttpServer(lab, dir, 8000);
      try {
        await waitPeerTcpPort(lab, 8000);
        const c = await stack.connect({ hostname: lab.peerAddress, port: 8000 });
        await c.write(enc.encode(
          `GET /index.html HTTP/1.1\r\nHost: ${lab.peerAddress}\r\nConnection: close\r\n\r\n`,
        ));
        const response = dec.decode(await readToEnd(c));
        c.close();
        assert.match(response, /^HTTP\/1\.[01] 200 OK\r\n/);
        assert.ok(response.endsWith(page), response);
      } finally {
        await http.kill();
      }

      // ---- an asyncio echo server; 1,000 connections one after another.
      const echo = lab.spawnInPeer(["python3", "-c", PY_ECHO_SERVER, lab.peerAddress, "7000"]);
      try {
        await waitPeerTcpPort(lab, 7000);
        const buf = new Uint8Array(64);
        for (let i = 0; i < 1000; i++) {
          const c = await stack.connect({ hostname: lab.peerAddress, port: 7000, noDelay: true });
          const msg = enc.encode(`seq ${i}`);
          await c.write(msg);
          let got = "";
          while (got.length < msg.length) {
            const n = await c.read(buf);
            if (n === null) break;
            got += dec.decode(buf.subarray(0, n));
          }
          assert.equal(got, `seq ${i}`);
          c.close();
        }
        // ---- 200 at once.
        const conns: TcpConn[] = await Promise.all(
          Array.from(
            { length: 200 },
            () => stack.connect({ hostname: lab.peerAddress, port: 7000, noDelay: true }),
          ),
        );
        const replies = await Promise.all(conns.map(async (c, i) => {
          await c.write(enc.encode(`conc ${i}`));
          await c.closeWrite();
          return dec.decode(await readToEnd(c, 256));
        }));
        replies.forEach((r, i) => assert.equal(r, `conc ${i}`));
        for (const c of conns) c.close();
      } finally {
        await echo.kill();
      }
      assert.equal(stack.stats().tcp.malformed, 0);
      await checkCapture(1200 * 6);
    });
  },
  { commands: COMMANDS },
);
