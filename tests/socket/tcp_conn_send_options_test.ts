// TcpConn's Linux send options: MSG_MORE on write/tryWrite and TCP_LINGER2 (setFinTimeout),
// over two stacks on a memory link, asserting on the segments that leave and on the
// FIN-WAIT-2 outcome.
import assert from "node:assert/strict";
import { ConnectionReset } from "../../src/tcp/errors.ts";
import { TcpState } from "../../src/tcp/connection.ts";
import { TCP_FIN_TIMEOUT_MAX_MS, type TcpConn } from "../../src/socket/tcp_conn.ts";
import { connected, randomBytes, readAll, sha256, tcpPair, until } from "./_tcp_helpers.ts";

/** Size of each small write. */
const WRITE_BYTES = 100;
/** Small writes with MSG_MORE: several full segments and a partial rest. */
const MORE_WRITES = 99;
/**
 * Floor of the retransmission timeout: a held rest with nothing in flight leaves on its own
 * about an RTO later (the probe, as on Linux); this keeps the probe out of the tests.
 */
const SLOW_PROBE_MIN_RTO_MS = 20_000;
/** TCP sequence numbers are 32-bit. */
const SEQ_MOD = 2 ** 32;
/** The stack's default FIN-WAIT-2 wait: far longer than any test waits. */
const LONG_TIME_WAIT_MS = 60_000;
/** A short RTO floor, so that 3.5 RTO (Linux tcp_fin_time's floor) stays short too. */
const FAST_MIN_RTO_MS = 20;
/** The FIN-WAIT-2 wait the tests set. */
const FIN_TIMEOUT_MS = 100;

/** Bytes sent but not acknowledged (SND.NXT − SND.UNA). */
function inFlight(conn: TcpConn): number {
  const i = conn.info();
  return (i.sndNxt - i.sndUna + SEQ_MOD) % SEQ_MOD;
}

Deno.test("TcpConn write and tryWrite with { more } hold only the sub-MSS rest, which leaves with the next plain write", async () => {
  const tcp = { noDelay: true, minRtoMs: SLOW_PROBE_MIN_RTO_MS };
  const { a, b, devA, close } = await tcpPair({ a: { tcp } });
  try {
    const { listener, client, server } = await connected(a, b, 80);
    const mss = client.info().sndMss;
    const total = (MORE_WRITES + 2) * WRITE_BYTES;
    const data = randomBytes(total, 11);
    devA.tcpPayloads = [];
    // No await between the writes: no ACK is processed until the run ends (an ACK would
    // release the rest under Nagle's rules; see the next test).
    const writes: Promise<number>[] = [];
    let at = 0;
    for (let i = 0; i < MORE_WRITES; i++, at += WRITE_BYTES) {
      writes.push(client.write(data.subarray(at, at + WRITE_BYTES), { more: true }));
    }
    const full = Math.floor(at / mss);
    const rest = at - full * mss;
    assert.ok(full > 0 && rest + 2 * WRITE_BYTES < mss, `the run makes full segments and a rest`);
    assert.deepEqual(devA.tcpPayloads, new Array(full).fill(mss), "only full segments left");
    assert.equal(inFlight(client), full * mss);
    // tryWrite takes MSG_MORE too: the bytes are taken and held with the rest.
    assert.equal(client.tryWrite(data.subarray(at, at + WRITE_BYTES), { more: true }), WRITE_BYTES);
    at += WRITE_BYTES;
    assert.equal(devA.tcpPayloads.length, full, "still held");
    // A write without MSG_MORE ends the run: the rest and this write leave as one segment.
    writes.push(client.write(data.subarray(at, at + WRITE_BYTES)));
    at += WRITE_BYTES;
    assert.deepEqual(devA.tcpPayloads, [...new Array(full).fill(mss), rest + 2 * WRITE_BYTES]);
    // Every write resolved like a plain one.
    assert.deepEqual(await Promise.all(writes), new Array(MORE_WRITES + 1).fill(WRITE_BYTES));
    await client.closeWrite();
    assert.equal(
      await sha256(await readAll(server)),
      await sha256(data),
      "the bytes arrived intact",
    );
    client.close();
    server.close();
    listener.close();
  } finally {
    await close();
  }
});

Deno.test("TcpConn write { more }: an ACK releases the held rest under Nagle's rules, where a cork holds it", async () => {
  const tcp = { noDelay: true, minRtoMs: SLOW_PROBE_MIN_RTO_MS };
  const { a, b, devA, close } = await tcpPair({ a: { tcp } });
  try {
    const { listener, client, server } = await connected(a, b, 80);
    const mss = client.info().sndMss;
    devA.tcpPayloads = [];
    const sent = client.info().bytesOut;
    // MSG_MORE: the full segment leaves, the rest waits...
    assert.equal(
      await client.write(new Uint8Array(mss + WRITE_BYTES), { more: true }),
      mss + WRITE_BYTES,
    );
    assert.deepEqual(devA.tcpPayloads, [mss]);
    assert.equal(inFlight(client), mss, "the rest is held");
    // ...until the full segment's ACK, which lets it go (TCP_NODELAY: Linux's later pushes
    // follow the socket's setting, not the write's flag).
    await until(() => client.info().bytesOut === sent + mss + WRITE_BYTES, "everything acked");
    assert.deepEqual(devA.tcpPayloads, [mss, WRITE_BYTES]);

    // TCP_CORK, by contrast, holds the rest across the ACK until uncorked.
    devA.tcpPayloads = [];
    client.setCork(true);
    assert.equal(await client.write(new Uint8Array(mss + WRITE_BYTES)), mss + WRITE_BYTES);
    await until(
      () => client.info().bytesOut === sent + 2 * mss + WRITE_BYTES,
      "the full corked segment acked",
    );
    assert.equal(inFlight(client), 0);
    assert.deepEqual(devA.tcpPayloads, [mss], "the cork still holds the rest");
    client.setCork(false);
    assert.deepEqual(devA.tcpPayloads, [mss, WRITE_BYTES]);
    await client.closeWrite();
    assert.equal((await readAll(server)).length, 2 * (mss + WRITE_BYTES));
    client.close();
    server.close();
    listener.close();
  } finally {
    await close();
  }
});

Deno.test("TcpConn setFinTimeout bounds a closed conn's FIN-WAIT-2 wait for a peer that never closes; the peer's later data meets a RST", async () => {
  const tcp = { timeWaitMs: LONG_TIME_WAIT_MS, minRtoMs: FAST_MIN_RTO_MS };
  const { a, b, close } = await tcpPair({ a: { tcp } });
  try {
    const { listener, client, server } = await connected(a, b, 80);
    client.setFinTimeout(FIN_TIMEOUT_MS);
    assert.equal(client.info().finTimeoutMs, FIN_TIMEOUT_MS);
    const engine = client.connection;
    await client.write(new TextEncoder().encode("hello"));
    client.close();
    assert.equal((await readAll(server)).length, 5, "the data, then our FIN");
    await until(() => engine.state === TcpState.FIN_WAIT_2, "FIN-WAIT-2 (our FIN acked)");
    // The server never closes: without the setting the wait would be timeWaitMs (60 s).
    await until(() => !a.tcp.connections().includes(engine), "the FIN-WAIT-2 timeout");
    assert.equal(engine.state, TcpState.CLOSED);
    assert.equal(a.tcp.connectionCount, 0, "no connection left");
    // RFC 9293 §3.10.7.1: data to a connection that no longer exists is answered with a RST.
    await server.write(new TextEncoder().encode("late"));
    await until(() => server.error !== null, "the peer took our RST");
    assert.ok(server.error instanceof ConnectionReset);
    server.close();
    listener.close();
  } finally {
    await close();
  }
});

Deno.test("TcpConn setFinTimeout negative: close() in FIN-WAIT-2 resets, and a conn closed earlier is dropped once its FIN is acked", async () => {
  const tcp = { timeWaitMs: LONG_TIME_WAIT_MS };
  const { a, b, close } = await tcpPair({ a: { tcp } });
  try {
    const listener = b.listen({ port: 80 });
    // Half-closed first: close() in FIN-WAIT-2 sends a RST (Linux tcp_close, linger2 < 0).
    {
      const accepting = listener.accept();
      const client = await a.connect({ hostname: "192.0.2.1", port: 80 });
      const server = await accepting;
      client.setFinTimeout(-1);
      assert.equal(client.info().finTimeoutMs, -1);
      const engine = client.connection;
      await client.closeWrite();
      assert.equal(await server.read(new Uint8Array(1)), null, "our FIN");
      await until(() => engine.state === TcpState.FIN_WAIT_2, "FIN-WAIT-2 (our FIN acked)");
      client.close();
      assert.equal(engine.state, TcpState.CLOSED, "closed at once");
      assert.ok(!a.tcp.connections().includes(engine));
      await until(() => server.error !== null, "the peer took our RST");
      assert.ok(server.error instanceof ConnectionReset);
      server.close();
    }
    // Closed in ESTABLISHED: no FIN-WAIT-2 wait once the FIN is acked (Linux
    // tcp_rcv_state_process, linger2 < 0); any negative value means none.
    {
      const accepting = listener.accept();
      const client = await a.connect({ hostname: "192.0.2.1", port: 80 });
      const server = await accepting;
      client.setFinTimeout(-5);
      assert.equal(client.info().finTimeoutMs, -1);
      const engine = client.connection;
      client.close();
      assert.equal(await server.read(new Uint8Array(1)), null, "our FIN");
      await until(() => !a.tcp.connections().includes(engine), "dropped once the FIN was acked");
      assert.equal(engine.state, TcpState.CLOSED);
      server.close();
    }
    listener.close();
  } finally {
    await close();
  }
});

Deno.test("TcpConn setFinTimeout refuses NaN and infinity, caps at Linux's maximum, and 0 or no argument restores the default", async () => {
  const { a, b, close } = await tcpPair();
  try {
    const { listener, client, server } = await connected(a, b, 80);
    assert.equal(client.info().finTimeoutMs, null, "the default");
    assert.throws(() => client.setFinTimeout(NaN), RangeError);
    assert.throws(() => client.setFinTimeout(Infinity), RangeError);
    assert.throws(() => client.setFinTimeout(-Infinity), RangeError);
    assert.equal(client.info().finTimeoutMs, null, "a refused value changes nothing");
    client.setFinTimeout(10 * TCP_FIN_TIMEOUT_MAX_MS);
    assert.equal(client.info().finTimeoutMs, TCP_FIN_TIMEOUT_MAX_MS);
    client.setFinTimeout(0);
    assert.equal(client.info().finTimeoutMs, null);
    client.setFinTimeout(FIN_TIMEOUT_MS);
    client.setFinTimeout();
    assert.equal(client.info().finTimeoutMs, null);
    client.close();
    // Like the other setters, no error after close().
    client.setFinTimeout(FIN_TIMEOUT_MS);
    server.close();
    listener.close();
  } finally {
    await close();
  }
});
