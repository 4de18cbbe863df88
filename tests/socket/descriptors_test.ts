import assert from "node:assert/strict";
import { SocketError } from "../../src/socket/descriptors.ts";
import type { TcpConn } from "../../src/socket/tcp_conn.ts";
import { B_ADDR, tcpPair } from "./_tcp_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function errno(code: string) {
  return (e: unknown) => e instanceof SocketError && e.errno === code;
}

Deno.test("SocketDescriptors runs the textbook flow: socket, bind, listen, accept, connect, read, write, shutdown, close", async () => {
  const { a, b, close } = await tcpPair();
  try {
    const srv = b.sockets;
    const cli = a.sockets;
    const lfd = srv.socket();
    assert.equal(lfd, 3);
    srv.bind(lfd, { port: 80, hostname: B_ADDR });
    srv.listen(lfd, 4);
    const accepting = srv.accept(lfd);

    const fd = cli.socket();
    cli.bind(fd, { port: 40000 });
    await cli.connect(fd, B_ADDR, 80);
    const cfd = await accepting;
    assert.equal(cfd, 4);
    const conn = srv.object(cfd) as TcpConn;
    assert.equal(conn.remoteAddr.port, 40000);

    assert.equal(await cli.write(fd, enc.encode("GET / HTTP/1.0\r\n\r\n")), 18);
    await cli.shutdown(fd, "write");
    const buf = new Uint8Array(64);
    let req = "";
    for (;;) {
      const n = await srv.read(cfd, buf);
      if (n === 0) break;
      req += dec.decode(buf.subarray(0, n));
    }
    assert.equal(req, "GET / HTTP/1.0\r\n\r\n");
    await srv.write(cfd, enc.encode("HTTP/1.0 200 OK\r\n\r\nhi"));
    srv.close(cfd);
    let resp = "";
    for (;;) {
      const n = await cli.read(fd, buf);
      if (n === 0) break;
      resp += dec.decode(buf.subarray(0, n));
    }
    assert.equal(resp, "HTTP/1.0 200 OK\r\n\r\nhi");
    cli.close(fd);
    srv.close(lfd);
    assert.equal(srv.size, 0);
    assert.equal(cli.size, 0);
    // The lowest free descriptor is reused.
    assert.equal(srv.socket(), 3);
  } finally {
    await close();
  }
});

Deno.test("SocketDescriptors reports errno-like errors", async () => {
  const { a, b, close } = await tcpPair();
  try {
    const s = a.sockets;
    const fd = s.socket();
    await assert.rejects(s.read(fd, new Uint8Array(1)), errno("ENOTCONN"));
    await assert.rejects(s.write(fd, new Uint8Array(1)), errno("ENOTCONN"));
    await assert.rejects(s.shutdown(fd, "both"), errno("ENOTCONN"));
    await assert.rejects(s.accept(fd), errno("EINVAL"));
    await assert.rejects(s.read(99, new Uint8Array(1)), errno("EBADF"));
    assert.throws(() => s.close(99), errno("EBADF"));
    assert.throws(() => s.bind(fd, { port: 70000 }), errno("EINVAL"));
    await assert.rejects(s.connect(fd, B_ADDR, 81), errno("ECONNREFUSED"));

    const lfd = b.sockets.socket();
    b.sockets.listen(lfd); // ephemeral port
    const port = (b.sockets.object(lfd) as { addr: { port: number } }).addr.port;
    assert.ok(port >= 49152);
    const other = b.sockets.socket();
    assert.throws(() => b.sockets.bind(other, { port }), errno("EADDRINUSE"));
    // A port taken through the promise API is refused at listen().
    const promiseListener = b.listen({ port: 5555 });
    b.sockets.bind(other, { port: 5555 });
    assert.throws(() => b.sockets.listen(other), errno("EADDRINUSE"));
    promiseListener.close();
    b.sockets.close(other);

    await s.connect(fd, B_ADDR, port);
    await assert.rejects(s.connect(fd, B_ADDR, port), errno("EISCONN"));
    assert.throws(() => s.listen(fd), errno("EINVAL"));
    await s.shutdown(fd, "write");
    await assert.rejects(s.write(fd, new Uint8Array(1)), errno("EPIPE"));
    await s.shutdown(fd, "read");
    assert.equal(await s.read(fd, new Uint8Array(1)), 0);

    // Closing a descriptor fails its pending accept with EBADF.
    const pending = b.sockets.accept(lfd);
    const acceptedFirst = await pending; // the connection above
    const next = b.sockets.accept(lfd);
    b.sockets.close(lfd);
    await assert.rejects(next, errno("EBADF"));
    b.sockets.close(acceptedFirst);
    s.close(fd);
  } finally {
    await close();
  }
});
