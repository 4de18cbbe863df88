import assert from "node:assert/strict";
import { B_ADDR, tcpPair, until } from "../socket/_tcp_helpers.ts";
import type { Stack } from "../../src/stack.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * A raw HTTP/1.1 server on `port`: for request `req` (0-based) of connection `conn` it sends
 * what `answer` returns, or closes the connection when it returns null. Request bodies are not
 * expected. Returns the listener and the request heads seen.
 */
function scriptedServer(
  stack: Stack,
  port: number,
  answer: (conn: number, req: number, head: string) => string | null,
) {
  const listener = stack.listen({ port });
  const heads: string[] = [];
  const open: { close(): void }[] = [];
  let conns = 0;
  void (async () => {
    for await (const conn of listener) {
      const id = conns++;
      open.push(conn);
      void (async () => {
        const buf = new Uint8Array(8192);
        let text = "";
        for (let req = 0;; req++) {
          while (!text.includes("\r\n\r\n")) {
            const n = await conn.read(buf).catch(() => null);
            if (n === null) return conn.close();
            text += dec.decode(buf.subarray(0, n));
          }
          const at = text.indexOf("\r\n\r\n") + 4;
          const head = text.slice(0, at);
          text = text.slice(at);
          heads.push(head);
          const out = answer(id, req, head);
          if (out === null) return conn.close();
          await conn.write(enc.encode(out)).catch(() => {});
        }
      })().catch(() => {});
    }
  })().catch(() => {});
  return {
    listener,
    heads,
    connections: () => conns,
    closeAll: () => open.forEach((c) => c.close()),
  };
}

const OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

Deno.test("H1Client behaviour: a request head in one piece with Host, defaults and framing", async () => {
  const { a, b, close } = await tcpPair();
  const s = scriptedServer(b, 8080, () => OK);
  const client = a.createHttpClient();
  try {
    const r = await a.fetch(`http://${B_ADDR}:8080/p?q=1`, {
      client,
      headers: { "x-one": "1", "user-agent": "mine" },
    });
    assert.ok(r.body instanceof ReadableStream, "a whole body is still a stream");
    assert.equal(await r.text(), "ok");
    const posted = await a.fetch(`http://${B_ADDR}:8080/`, { client, method: "POST" });
    await posted.arrayBuffer();
    // Field names are case-insensitive (RFC 9110 §5.1): compared in lower case.
    const lines = s.heads[0].split("\r\n").map((l, i) => i === 0 ? l : l.toLowerCase());
    assert.equal(lines[0], "GET /p?q=1 HTTP/1.1");
    assert.ok(lines.includes(`host: ${B_ADDR}:8080`), s.heads[0]);
    assert.ok(lines.includes("user-agent: mine"));
    assert.ok(lines.includes("accept: */*"));
    assert.ok(lines.includes("x-one: 1"));
    assert.ok(!/content-length/i.test(s.heads[0]), "no body, no length on a GET");
    assert.ok(
      /\r\ncontent-length: 0\r\n/i.test(s.heads[1]),
      "POST without a body: Content-Length 0 (Fetch §4.5)",
    );
  } finally {
    client.close();
    s.listener.close();
    await close();
  }
});

Deno.test("H1Client behaviour: a reused connection the server closed is replaced for an idempotent request", async () => {
  const { a, b, close } = await tcpPair();
  // Each connection answers its first request and closes on the second without answering
  // (a server's keep-alive timeout racing the client's next request).
  const s = scriptedServer(b, 8080, (_conn, req) => req === 0 ? OK : null);
  const client = a.createHttpClient();
  try {
    const first = await a.fetch(`http://${B_ADDR}:8080/1`, { client });
    assert.equal(await first.text(), "ok");
    const second = await a.fetch(`http://${B_ADDR}:8080/2`, { client });
    assert.equal(await second.text(), "ok", "sent again on a new connection");
    assert.equal(s.connections(), 2);
    // A POST is not idempotent (RFC 9110 §9.2.2): its failure is the caller's to see.
    const e = await a.fetch(`http://${B_ADDR}:8080/3`, { client, method: "POST", body: "x" })
      .catch((e) => e);
    assert.ok(e instanceof TypeError, String(e));
  } finally {
    client.close();
    s.listener.close();
    await close();
  }
});

Deno.test("H1Client behaviour: an idle connection the server closes leaves the pool at once", async () => {
  const { a, b, close } = await tcpPair();
  let serverSide: { close(): void } | null = null;
  const listener = b.listen({ port: 8080 });
  void (async () => {
    for await (const conn of listener) {
      serverSide = conn;
      const buf = new Uint8Array(4096);
      await conn.read(buf);
      await conn.write(enc.encode(OK));
    }
  })().catch(() => {});
  const client = a.createHttpClient();
  try {
    const r = await a.fetch(`http://${B_ADDR}:8080/`, { client });
    assert.equal(await r.text(), "ok");
    await until(() => client.idleConnections() === 1, "the connection pooled");
    serverSide!.close();
    await until(() => client.idleConnections() === 0, "the closed connection dropped");
    await until(() => a.tcp.connections().length === 0, "and closed on our side too");
  } finally {
    client.close();
    listener.close();
    await close();
  }
});

Deno.test("H1Client behaviour: idle connections close after poolIdleTimeout", async () => {
  const { a, b, close } = await tcpPair();
  const s = scriptedServer(b, 8080, () => OK);
  const client = a.createHttpClient({ poolIdleTimeout: 30 });
  try {
    const r = await a.fetch(`http://${B_ADDR}:8080/`, { client });
    assert.equal(await r.text(), "ok");
    assert.equal(client.idleConnections(), 1);
    await until(() => client.idleConnections() === 0, "the idle connection timed out");
  } finally {
    client.close();
    s.listener.close();
    await close();
  }
});

Deno.test("H1Client behaviour: framing — interim 1xx skipped, body until close, Connection: close, 204", async () => {
  const { a, b, close } = await tcpPair();
  const answers = [
    "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal",
    "HTTP/1.1 200 OK\r\n\r\nuntil the end",
    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nlast",
    "HTTP/1.1 204 No Content\r\n\r\n",
    "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nno",
  ];
  let next = 0;
  const s = scriptedServer(b, 8080, () => {
    const out = answers[next++];
    return out;
  });
  const client = a.createHttpClient();
  const get = () => a.fetch(`http://${B_ADDR}:8080/`, { client });
  try {
    const early = await get();
    assert.equal(early.status, 200);
    assert.equal(await early.text(), "final");
    await until(() => client.idleConnections() === 1, "kept after a complete response");

    // No Content-Length and no chunking: the body ends with the connection (RFC 9112 §6.3
    // item 8). The server keeps it open, so it is closed here from the far end.
    const untilClose = await get();
    const reader = untilClose.body!.getReader();
    const first = await reader.read();
    assert.equal(dec.decode(first.value), "until the end");
    s.listener.close();
    s.closeAll();
    assert.equal((await reader.read()).done, true);

    const s2 = scriptedServer(b, 8081, () => answers[next++]);
    const last = await a.fetch(`http://${B_ADDR}:8081/`, { client });
    assert.equal(await last.text(), "last");
    assert.equal(client.idleConnections(), 0, "Connection: close is not pooled");
    const empty = await a.fetch(`http://${B_ADDR}:8081/`, { client });
    assert.equal(empty.status, 204);
    assert.equal(empty.body, null);
    const noReason = await a.fetch(`http://${B_ADDR}:8081/`, { client });
    assert.equal(noReason.statusText, "");
    assert.equal(await noReason.text(), "no");
    assert.equal(s2.connections(), 2);
    s2.listener.close();
  } finally {
    client.close();
    await close();
  }
});
