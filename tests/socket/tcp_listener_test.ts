import assert from "node:assert/strict";
import { AddrInUse, ConnectionReset } from "../../src/tcp/errors.ts";
import type { TcpConn } from "../../src/socket/tcp_conn.ts";
import { B_ADDR, readAll, tcpPair, until } from "./_tcp_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("TcpListener serves connections with for-await until closed", async () => {
  const { a, b, close } = await tcpPair();
  try {
    const listener = b.listen({ port: 8080 });
    assert.deepEqual(listener.addr, { transport: "tcp", hostname: "0.0.0.0", port: 8080 });
    let served = 0;
    const loop = (async () => {
      for await (const conn of listener) {
        served++;
        const req = dec.decode(await readAll(conn));
        await conn.write(enc.encode(req.toUpperCase()));
        conn.close();
      }
    })();
    for (const word of ["one", "two", "three"]) {
      const c = await a.connect({ hostname: B_ADDR, port: 8080 });
      await c.write(enc.encode(word));
      await c.closeWrite();
      assert.equal(dec.decode(await readAll(c)), word.toUpperCase());
      c.close();
    }
    listener.close();
    await loop; // the loop ends on close
    assert.equal(served, 3);
    await assert.rejects(listener.accept(), Deno.errors.BadResource);
  } finally {
    await close();
  }
});

Deno.test("TcpListener pending accept rejects on close; unaccepted connections are reset", async () => {
  const { a, b, close } = await tcpPair();
  try {
    const idle = b.listen({ port: 1 });
    const pending = idle.accept();
    idle.close();
    await assert.rejects(pending, Deno.errors.BadResource);

    const listener = b.listen({ port: 2 });
    const c = await a.connect({ hostname: B_ADDR, port: 2 });
    await until(() => listener.engine.acceptQueueLength === 1, "queued connection");
    listener.close();
    await assert.rejects(c.read(new Uint8Array(1)), ConnectionReset);
    c.close();
  } finally {
    await close();
  }
});

Deno.test("TcpListener checks ports and addresses", async () => {
  const { b, close } = await tcpPair();
  try {
    const l = b.listen({ port: 80, hostname: B_ADDR });
    assert.equal(l.addr.hostname, B_ADDR);
    assert.throws(() => b.listen({ port: 80 }), AddrInUse);
    const eph = b.listen({ port: 0 });
    assert.ok(eph.addr.port >= 49152 && eph.addr.port <= 65535);
    assert.throws(() => b.listen({ port: 81, hostname: "192.0.2.99" }), TypeError);
    assert.throws(() => b.listen({ port: 70000 }), TypeError);
    assert.throws(() => b.listen({ port: 82, backlog: 0 }), TypeError);
    l.close();
    // The port is free again.
    b.listen({ port: 80 }).close();
    eph.close();
  } finally {
    await close();
  }
});

Deno.test("TcpListener accepts 200 concurrent connections", async () => {
  const { a, b, close } = await tcpPair();
  try {
    const listener = b.listen({ port: 9000, backlog: 256 });
    // Resolve the neighbour first: 200 SYNs behind one pending ARP request would overflow
    // its bounded queue and wait for the 1 s SYN retransmission (RFC 6298 §2.1).
    assert.equal((await a.ping(B_ADDR, { count: 1 })).summary.received, 1);
    const conns: TcpConn[] = [];
    const loop = (async () => {
      for await (const conn of listener) {
        conns.push(conn);
        (async () => {
          const buf = new Uint8Array(16);
          const n = await conn.read(buf);
          await conn.write(buf.subarray(0, n!));
          await conn.closeWrite();
        })().catch(() => {});
      }
    })();
    const clients = await Promise.all(
      Array.from({ length: 200 }, () => a.connect({ hostname: B_ADDR, port: 9000 })),
    );
    const ports = new Set(clients.map((c) => c.localAddr.port));
    assert.equal(ports.size, 200);
    const replies = await Promise.all(clients.map(async (c, i) => {
      await c.write(enc.encode(`#${i}`));
      return dec.decode(await readAll(c));
    }));
    replies.forEach((r, i) => assert.equal(r, `#${i}`));
    for (const c of clients) c.close();
    for (const c of conns) c.close();
    listener.close();
    await loop;
  } finally {
    await close();
  }
});
