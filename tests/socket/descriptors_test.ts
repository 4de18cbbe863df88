import assert from "node:assert/strict";
import { SocketDescriptors, SocketError } from "../../src/socket/descriptors.ts";
import { DEFAULT_TCP_CONFIG } from "../../src/tcp/config.ts";
import type { TcpConn } from "../../src/socket/tcp_conn.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import { Stack } from "../../src/stack.ts";
import { ForwardingDevice } from "../phy/_forwarding_device.ts";
import { B_ADDR, tcpPair } from "./_tcp_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function errno(code: string) {
  return (e: unknown) => e instanceof SocketError && e.errno === code;
}

/** What {@link connectedDescriptors} sets up. */
interface ConnectedDescriptors {
  /** The server's listening descriptor. */
  lfd: number;
  /** The client's connected descriptor. */
  fd: number;
  /** The server's accepted descriptor. */
  cfd: number;
  /** Closes the three. */
  close(): void;
}

/**
 * `srv` listens on port 80 (`listener` sets options on its descriptor before the bind), `cli`
 * opens a socket (`beforeConnect` runs on it) and connects to `hostname`; the accepted end
 * comes back with both others.
 */
async function connectedDescriptors(
  cli: SocketDescriptors,
  srv: SocketDescriptors,
  hostname: string,
  hooks: { listener?: (lfd: number) => void; beforeConnect?: (fd: number) => void } = {},
): Promise<ConnectedDescriptors> {
  const lfd = srv.socket();
  hooks.listener?.(lfd);
  srv.bind(lfd, { port: 80 });
  srv.listen(lfd);
  const accepting = srv.accept(lfd);
  const fd = cli.socket();
  hooks.beforeConnect?.(fd);
  await cli.connect(fd, hostname, 80);
  const cfd = await accepting;
  return {
    lfd,
    fd,
    cfd,
    close: () => {
      cli.close(fd);
      srv.close(cfd);
      srv.close(lfd);
    },
  };
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

/** Records the IPv4 TTL, TOS and TCP flags of every TCP frame a stack transmits. */
class HeaderLog extends ForwardingDevice {
  readonly frames: { ttl: number; tos: number; flags: number; mss: number; payload: number }[] = [];
  override transmit(bytes: Uint8Array, offset: number, length: number): boolean {
    const ip = offset + 14;
    if (length > 54 && bytes[ip + 9] === 6) {
      const tcp = ip + (bytes[ip] & 0x0f) * 4;
      const hlen = (bytes[tcp + 12] >>> 4) * 4;
      let mss = 0;
      for (let o = tcp + 20; o < tcp + hlen;) {
        const kind = bytes[o];
        if (kind === 0) break;
        if (kind === 1) {
          o++;
          continue;
        }
        if (kind === 2) mss = (bytes[o + 2] << 8) | bytes[o + 3];
        o += Math.max(2, bytes[o + 1]);
      }
      const payload = ((bytes[ip + 2] << 8) | bytes[ip + 3]) - (tcp - ip) - hlen;
      this.frames.push({
        ttl: bytes[ip + 8],
        tos: bytes[ip + 1],
        flags: bytes[tcp + 13],
        mss,
        payload,
      });
    }
    return this.inner.transmit(bytes, offset, length);
  }
}

Deno.test("SocketDescriptors setsockopt shapes the SYN and every segment; accepted sockets inherit", async () => {
  const [ma, mb] = MemoryLink.pair({ queueFrames: 1024 });
  const da = new HeaderLog(ma);
  const db = new HeaderLog(mb);
  const a = new Stack({ device: da, ipv4: `192.0.2.2/24` });
  const b = new Stack({ device: db, ipv4: `${B_ADDR}/24` });
  await a.start();
  await b.start();
  try {
    const srv = b.sockets;
    const cli = a.sockets;
    const { fd, cfd, close } = await connectedDescriptors(cli, srv, B_ADDR, {
      listener: (lfd) => srv.setsockopt(lfd, "IP_TTL", 9),
      beforeConnect: (fd) => {
        // Defaults before anything is set: the stack's (Linux's) values.
        assert.equal(cli.getsockopt(fd, "IP_TTL"), 64);
        assert.equal(cli.getsockopt(fd, "TCP_KEEPIDLE"), 7200);
        assert.equal(cli.getsockopt(fd, "TCP_KEEPINTVL"), 75);
        assert.equal(cli.getsockopt(fd, "TCP_MAXSEG"), 536);
        cli.setsockopt(fd, "IP_TTL", 7);
        cli.setsockopt(fd, "IP_TOS", 0x20);
        cli.setsockopt(fd, "TCP_MAXSEG", 1000);
        cli.setsockopt(fd, "TCP_KEEPIDLE", 30);
        cli.setsockopt(fd, "TCP_KEEPCNT", 3);
        assert.throws(() => cli.setsockopt(fd, "IP_TTL", 0), errno("EINVAL"));
        assert.throws(() => cli.setsockopt(fd, "IP_TTL", 256), errno("EINVAL"));
        assert.throws(
          () => cli.setsockopt(fd, "SO_LINGER" as unknown as "IP_TTL", 1),
          errno("EINVAL"),
        );
      },
    });
    await cli.write(fd, enc.encode("hello"));
    const buf = new Uint8Array(16);
    assert.equal(await srv.read(cfd, buf), 5);

    const syn = da.frames.find((f) => f.flags === 0x02)!;
    assert.deepEqual([syn.ttl, syn.tos, syn.mss], [7, 0x20, 1000]);
    assert.ok(da.frames.every((f) => f.ttl === 7 && f.tos === 0x20));
    const synAck = db.frames.find((f) => f.flags === 0x12)!;
    assert.equal(synAck.ttl, 9);
    assert.ok(db.frames.every((f) => f.ttl === 9), "accepted connection inherits IP_TTL");
    assert.equal(srv.getsockopt(cfd, "IP_TTL"), 9);

    // Connected: TCP_MAXSEG reads the sending MSS (1000 less the timestamp option).
    assert.equal(cli.getsockopt(fd, "TCP_MAXSEG"), 988);
    const info = cli.tcpInfo(fd);
    assert.equal(info.keepAliveIdleMs, 30_000);
    assert.equal(info.keepAliveProbes, 3);
    assert.equal(info.ipTtl, 7);
    // A change applies at once.
    cli.setsockopt(fd, "IP_TTL", 100);
    const before = da.frames.length;
    await cli.write(fd, enc.encode("again"));
    assert.equal(await srv.read(cfd, buf), 5);
    assert.ok(da.frames.length > before);
    assert.ok(da.frames.slice(before).every((f) => f.ttl === 100));
    close();
  } finally {
    await a.close();
    await b.close();
  }
});

/**
 * Runs `body` with two started stacks whose client side (`cli`) logs the headers it sends
 * (`da`), connected descriptors between them, and closes everything afterwards.
 */
async function withLoggedPair(
  options: { beforeConnect?: (cli: SocketDescriptors, fd: number) => void },
  body: (
    p: {
      cli: SocketDescriptors;
      srv: SocketDescriptors;
      da: HeaderLog;
      fd: number;
      cfd: number;
    },
  ) => Promise<void>,
): Promise<void> {
  const [ma, mb] = MemoryLink.pair({ queueFrames: 1024 });
  const da = new HeaderLog(ma);
  const a = new Stack({ device: da, ipv4: `192.0.2.2/24` });
  const b = new Stack({ device: mb, ipv4: `${B_ADDR}/24` });
  await a.start();
  await b.start();
  try {
    const cli = a.sockets;
    const srv = b.sockets;
    const before = options.beforeConnect;
    const { fd, cfd, close } = await connectedDescriptors(cli, srv, B_ADDR, {
      beforeConnect: before === undefined ? undefined : (fd) => before(cli, fd),
    });
    await body({ cli, srv, da, fd, cfd });
    close();
  } finally {
    await a.close();
    await b.close();
  }
}

Deno.test("SocketDescriptors TCP_CORK holds small writes until uncorked, then sends them as one segment", async () => {
  const beforeConnect = (cli: SocketDescriptors, fd: number) =>
    assert.equal(cli.getsockopt(fd, "TCP_CORK"), 0);
  await withLoggedPair({ beforeConnect }, async ({ cli, srv, da, fd, cfd }) => {
    cli.setsockopt(fd, "TCP_CORK", 1);
    assert.equal(cli.getsockopt(fd, "TCP_CORK"), 1);
    const before = da.frames.length;
    await cli.write(fd, enc.encode("cor"));
    await cli.write(fd, enc.encode("ked"));
    // Another option set meanwhile does not uncork.
    cli.setsockopt(fd, "TCP_KEEPIDLE", 60);
    assert.equal(da.frames.slice(before).filter((f) => f.payload > 0).length, 0, "held");
    cli.setsockopt(fd, "TCP_CORK", 0);
    const buf = new Uint8Array(16);
    assert.equal(await srv.read(cfd, buf), 6);
    assert.equal(dec.decode(buf.subarray(0, 6)), "corked");
    const data = da.frames.slice(before).filter((f) => f.payload > 0);
    assert.deepEqual(data.map((f) => f.payload), [6], "one segment on uncork");
  });
});

Deno.test("SocketDescriptors write with MSG_MORE holds the partial segment until a write without it", async () => {
  await withLoggedPair({}, async ({ cli, srv, da, fd, cfd }) => {
    const before = da.frames.length;
    assert.equal(await cli.write(fd, enc.encode("mo"), { more: true }), 2);
    assert.equal(da.frames.slice(before).filter((f) => f.payload > 0).length, 0, "held");
    assert.equal(await cli.write(fd, enc.encode("re")), 2);
    const buf = new Uint8Array(16);
    let got = 0;
    while (got < 4) got += await srv.read(cfd, buf.subarray(got));
    assert.equal(dec.decode(buf.subarray(0, 4)), "more");
    const data = da.frames.slice(before).filter((f) => f.payload > 0);
    assert.deepEqual(data.map((f) => f.payload), [4], "one segment");
  });
});

/** Records the IPv6 hop limit and traffic class of every TCP frame a stack transmits. */
class Header6Log extends ForwardingDevice {
  readonly frames: { hopLimit: number; trafficClass: number; flags: number }[] = [];
  override transmit(bytes: Uint8Array, offset: number, length: number): boolean {
    const ip = offset + 14;
    const ethertype = (bytes[offset + 12] << 8) | bytes[offset + 13];
    // RFC 8200 §3: version/traffic class/flow label, next header at 6, hop limit at 7.
    if (ethertype === 0x86dd && length >= 14 + 40 + 20 && bytes[ip + 6] === 6) {
      const trafficClass = ((bytes[ip] & 0x0f) << 4) | (bytes[ip + 1] >>> 4);
      this.frames.push({ hopLimit: bytes[ip + 7], trafficClass, flags: bytes[ip + 40 + 13] });
    }
    return this.inner.transmit(bytes, offset, length);
  }
}

Deno.test("SocketDescriptors IPV6_UNICAST_HOPS and IPV6_TCLASS shape every IPv6 segment's hop limit and traffic class", async () => {
  const [ma, mb] = MemoryLink.pair({ queueFrames: 1024 });
  const da = new Header6Log(ma);
  const ipv6Options = {
    addressOptions: { dadTransmits: 0, maxDadDelayMs: 0 },
    ndp: { routerSolicitations: 0 },
  };
  const a = new Stack({ device: da, ipv6: "2001:db8:1::2/64", ipv6Options });
  const b = new Stack({ device: mb, ipv6: "2001:db8:1::1/64", ipv6Options });
  await a.start();
  await b.start();
  try {
    const srv = b.sockets;
    const cli = a.sockets;
    const { fd, cfd, close } = await connectedDescriptors(cli, srv, "2001:db8:1::1", {
      beforeConnect: (fd) => {
        assert.equal(cli.getsockopt(fd, "IPV6_UNICAST_HOPS"), 64);
        cli.setsockopt(fd, "IPV6_UNICAST_HOPS", 5);
        cli.setsockopt(fd, "IPV6_TCLASS", 0x20);
        assert.equal(cli.getsockopt(fd, "IPV6_UNICAST_HOPS"), 5);
        assert.equal(cli.getsockopt(fd, "IPV6_TCLASS"), 0x20);
        assert.throws(() => cli.setsockopt(fd, "IPV6_UNICAST_HOPS", 256), errno("EINVAL"));
      },
    });
    await cli.write(fd, enc.encode("hello"));
    const buf = new Uint8Array(16);
    assert.equal(await srv.read(cfd, buf), 5);
    const tcp = da.frames;
    assert.ok(tcp.some((f) => f.flags === 0x02), "the SYN was logged");
    assert.ok(tcp.every((f) => f.hopLimit === 5 && f.trafficClass === 0x20), JSON.stringify(tcp));
    // A change applies at once.
    cli.setsockopt(fd, "IPV6_UNICAST_HOPS", 200);
    const before = tcp.length;
    await cli.write(fd, enc.encode("again"));
    assert.equal(await srv.read(cfd, buf), 5);
    assert.ok(tcp.length > before);
    assert.ok(tcp.slice(before).every((f) => f.hopLimit === 200));
    close();
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("SocketDescriptors TCP_LINGER2 reads as Linux does: the default, a capped value, -1 for none", () => {
  const tcp = { config: { ...DEFAULT_TCP_CONFIG, timeWaitMs: 60_000 } };
  const s = new SocketDescriptors({
    connect: () => Promise.reject(new Error("not used")),
    listen: () => {
      throw new Error("not used");
    },
    tcp,
  });
  const fd = s.socket();
  assert.equal(s.getsockopt(fd, "TCP_LINGER2"), 60);
  s.setsockopt(fd, "TCP_LINGER2", 5);
  assert.equal(s.getsockopt(fd, "TCP_LINGER2"), 5);
  s.setsockopt(fd, "TCP_LINGER2", 600);
  assert.equal(s.getsockopt(fd, "TCP_LINGER2"), 120); // TCP_FIN_TIMEOUT_MAX
  s.setsockopt(fd, "TCP_LINGER2", 0);
  assert.equal(s.getsockopt(fd, "TCP_LINGER2"), 60);
  s.setsockopt(fd, "TCP_LINGER2", -7);
  assert.equal(s.getsockopt(fd, "TCP_LINGER2"), -1);
  // Only TCP_LINGER2 takes a negative value.
  assert.throws(() => s.setsockopt(fd, "TCP_KEEPINIT", -1), /non-negative/);
});
