// The synchronous write path of TcpConn and the idle footprint of conns over real stacks.
import assert from "node:assert/strict";
import {
  A_ADDR,
  B_ADDR,
  connected,
  randomBytes,
  readAll,
  sha256,
  tcpPair,
} from "./_tcp_helpers.ts";

Deno.test("TcpConn write with room in the send ring queues the bytes before it returns", async () => {
  const { a, b, close } = await tcpPair();
  try {
    const listener = b.listen({ port: 80 });
    const accepting = listener.accept();
    const client = await a.connect({ hostname: B_ADDR, port: 80, noDelay: true });
    const server = await accepting;
    const before = client.connection.info().bytesOut + client.connection.sendQueued;
    const p = client.write(new Uint8Array(100));
    // No await yet: the bytes are already in the engine (sent or queued).
    assert.equal(client.connection.info().bytesOut + client.connection.sendQueued, before + 100);
    assert.equal(await p, 100);
    // A write after closeWrite is refused in order, even when both are called at once.
    const closing = client.closeWrite();
    await assert.rejects(client.write(new Uint8Array(1)), /closeWrite/);
    await closing;
    assert.equal((await readAll(server)).length, 100);
    client.close();
    server.close();
    listener.close();
  } finally {
    await close();
  }
});

Deno.test("TcpConn keeps order when a small write follows one that filled the send ring", async () => {
  const tcp = { sendBufferBytes: 16 * 1024, receiveBufferBytes: 16 * 1024 };
  const { a, b, close } = await tcpPair({ a: { tcp }, b: { tcp } });
  try {
    const { listener, client, server } = await connected(a, b, 80);
    const big = randomBytes(200_000, 5);
    const small = randomBytes(7, 6);
    const reading = readAll(server);
    const w1 = client.write(big); // fills the ring and waits
    const w2 = client.write(small); // must not overtake
    const w3 = client.closeWrite();
    assert.deepEqual(await Promise.all([w1, w2, w3]), [200_000, 7, undefined]);
    const want = new Uint8Array(200_007);
    want.set(big, 0);
    want.set(small, 200_000);
    assert.equal(await sha256(await reading), await sha256(want));
    client.close();
    server.close();
    listener.close();
  } finally {
    await close();
  }
});

Deno.test("TcpConn idle conns hold no buffers and arm no timers; active ones give buffers back", async () => {
  const { a, b, close } = await tcpPair();
  try {
    const listener = b.listen({ port: 80, backlog: 64 });
    const conns = [];
    for (let i = 0; i < 20; i++) {
      const accepting = listener.accept();
      const c = await a.connect({ hostname: B_ADDR, port: 80 });
      conns.push(c, await accepting);
    }
    for (const c of conns) {
      assert.equal(c.connection.bufferBytes, 0);
      assert.equal(c.connection.hasArmedTimers, false);
    }
    assert.equal(a.wheel.size + b.wheel.size, 0);
    // An exchange attaches storage; reading everything and the peer's ACK give it back.
    const [client, server] = conns;
    await client.write(new TextEncoder().encode("hello"));
    const buf = new Uint8Array(16);
    assert.equal(await server.read(buf), 5);
    const deadline = Date.now() + 2000;
    while (client.connection.bufferBytes !== 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(client.connection.bufferBytes, 0, "acknowledged: send storage back");
    assert.equal(server.connection.bufferBytes, 0, "read: receive storage back");
    assert.equal(server.localAddr.hostname, B_ADDR);
    assert.equal(server.remoteAddr.hostname, A_ADDR);
    for (const c of conns) c.close();
    listener.close();
  } finally {
    await close();
  }
});

Deno.test("TcpConn tryWrite copies what the ring takes at once, takes nothing behind a queued write, and throws as write rejects", async () => {
  const tcp = { sendBufferBytes: 16 * 1024, receiveBufferBytes: 16 * 1024 };
  const { a, b, close } = await tcpPair({ a: { tcp }, b: { tcp } });
  try {
    const { listener, client, server } = await connected(a, b, 80);
    const reading = readAll(server);
    // Room: all of it, copied before the call returns (the caller reuses its buffer at once).
    const scratch = randomBytes(100, 7);
    const first = scratch.slice();
    assert.equal(client.tryWrite(scratch), 100);
    scratch.fill(0);
    // A write that filled the ring is still queued: nothing may overtake it.
    const big = randomBytes(100_000, 8);
    const queued = client.write(big);
    assert.equal(client.tryWrite(new Uint8Array([1, 2, 3])), 0);
    assert.equal(await queued, 100_000);
    await client.closeWrite();
    assert.throws(() => client.tryWrite(new Uint8Array(1)), /closeWrite/);
    const want = new Uint8Array(100_100);
    want.set(first, 0);
    want.set(big, 100);
    assert.equal(await sha256(await reading), await sha256(want));
    client.close();
    assert.throws(() => client.tryWrite(new Uint8Array(1)), Deno.errors.BadResource);
    server.close();
    listener.close();
  } finally {
    await close();
  }
});
