import assert from "node:assert/strict";
import { B_ADDR, tcpPair, until } from "./_tcp_helpers.ts";
import { ConnectionReset } from "../../src/tcp/errors.ts";

Deno.test("TcpConn.abort behaviour: a RST to the peer, queued data dropped, calls reject with the reason", async () => {
  const { a, b, close } = await tcpPair();
  try {
    const listener = b.listen({ port: 9 });
    const client = await a.connect({ hostname: B_ADDR, port: 9 });
    const server = await listener.accept();
    const pending = client.read(new Uint8Array(16)).catch((e) => e);
    const reason = new Error("given up");
    client.abort(reason);
    assert.equal(await pending, reason, "a pending read rejects with the reason");
    await assert.rejects(client.write(new Uint8Array(1)), (e) => e === reason);
    assert.equal(client.closed, true);
    // The peer sees a reset, not an end of stream.
    const seen = await server.read(new Uint8Array(16)).catch((e) => e);
    assert.ok(seen instanceof ConnectionReset, `the peer saw ${seen}`);
    await until(() => a.tcp.connections().length === 0, "the aborted connection is gone");
    // Default reason; a second abort changes nothing.
    const other = await a.connect({ hostname: B_ADDR, port: 9 });
    other.abort();
    other.abort(new Error("ignored"));
    await assert.rejects(other.read(new Uint8Array(1)), Deno.errors.ConnectionAborted);
    server.close();
    listener.close();
  } finally {
    await close();
  }
});
