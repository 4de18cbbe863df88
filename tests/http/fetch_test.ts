import assert from "node:assert/strict";
import https from "node:https";
import { serveNodeListener } from "../../src/http/node_socket.ts";
import { B_ADDR, randomBytes, sha256, tcpPair, until } from "../socket/_tcp_helpers.ts";
import type { Stack } from "../../src/stack.ts";
import { missingCommandsReason, testWhen } from "../../src/testing/lab.ts";
import { makeTestPki } from "../../src/testing/pki.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A server on `port` that answers the first request of each connection with `response`. */
function rawServer(stack: Stack, port: number, response: string, close = true) {
  const listener = stack.listen({ port });
  void (async () => {
    for await (const conn of listener) {
      const buf = new Uint8Array(8192);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        head += dec.decode(buf.subarray(0, n));
      }
      await conn.write(enc.encode(response)).catch(() => {});
      if (close) conn.close();
    }
  })().catch(() => {});
  return listener;
}

Deno.test("stackFetch behaviour: GET, POST with a body, streamed bodies both ways, redirects", async () => {
  const { a, b, close } = await tcpPair();
  const server = b.serve({ port: 80 }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/moved") return Response.redirect(`http://${B_ADDR}/target`, 301);
    if (path === "/see-other") return Response.redirect(`http://${B_ADDR}/method`, 303);
    if (path === "/method") return new Response(req.method);
    if (path === "/echo") {
      const body = new Uint8Array(await req.arrayBuffer());
      return new Response(`${req.method} ${body.length} ${await sha256(body)}`);
    }
    if (path === "/stream") {
      let left = 5;
      return new Response(
        new ReadableStream({
          pull(c) {
            if (left-- === 0) c.close();
            else c.enqueue(enc.encode("chunk;"));
          },
        }),
      );
    }
    return new Response(`hello ${path}`, { headers: { "x-test": "yes" } });
  });
  try {
    const r = await a.fetch(`http://${B_ADDR}/x?y=1`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-test"), "yes");
    assert.equal(await r.text(), "hello /x");
    assert.equal(r.redirected, false);

    const moved = await a.fetch(`http://${B_ADDR}/moved`);
    assert.equal(await moved.text(), "hello /target");
    assert.equal(moved.redirected, true);
    assert.equal(moved.url, `http://${B_ADDR}/target`);

    const seeOther = await a.fetch(`http://${B_ADDR}/see-other`, { method: "POST", body: "x" });
    assert.equal(await seeOther.text(), "GET", "303 turns a POST into a GET (Fetch §4.4)");

    const manual = await a.fetch(`http://${B_ADDR}/moved`, { redirect: "manual" });
    assert.equal(manual.status, 301);
    await manual.body?.cancel();
    await assert.rejects(a.fetch(`http://${B_ADDR}/moved`, { redirect: "error" }), TypeError);

    const data = randomBytes(300_000, 7) as Uint8Array<ArrayBuffer>;
    const posted = await a.fetch(`http://${B_ADDR}/echo`, { method: "POST", body: data });
    assert.equal(await posted.text(), `POST ${data.length} ${await sha256(data)}`);

    // A streamed request body goes out chunked.
    let sent = 0;
    const upload = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= data.length) return c.close();
        c.enqueue(data.subarray(sent, sent + 10_000));
        sent += 10_000;
      },
    });
    const streamed = await a.fetch(`http://${B_ADDR}/echo`, { method: "PUT", body: upload });
    assert.equal(await streamed.text(), `PUT ${data.length} ${await sha256(data)}`);

    const chunked = await a.fetch(`http://${B_ADDR}/stream`);
    assert.equal(chunked.headers.get("transfer-encoding"), "chunked");
    assert.equal(await chunked.text(), "chunk;".repeat(5));
  } finally {
    await server.shutdown();
    await close();
  }
});

Deno.test("stackFetch behaviour: keeps one connection alive per origin for sequential requests", async () => {
  const { a, b, close } = await tcpPair();
  const server = b.serve({ port: 80 }, () => new Response("ok"));
  const client = a.createHttpClient();
  try {
    for (let i = 0; i < 20; i++) {
      const r = await a.fetch(`http://${B_ADDR}/${i}`, { client });
      assert.equal(await r.text(), "ok");
    }
    assert.equal(server.stats().accepted, 1, "20 requests over one connection");
    assert.equal(server.stats().requests, 20);
    await until(() => client.idleConnections() === 1, "the connection back in the pool");
  } finally {
    client.close();
    await server.shutdown();
    await close();
  }
});

Deno.test("stackFetch behaviour: errors are TypeErrors with the cause", async () => {
  const { a, close } = await tcpPair();
  try {
    const e = await a.fetch(`http://${B_ADDR}:81/`).catch((e) => e);
    assert.ok(e instanceof TypeError);
    assert.equal((e.cause as { code?: string }).code, "ECONNREFUSED");
    await assert.rejects(a.fetch("ftp://192.0.2.1/"), TypeError);
  } finally {
    await close();
  }
});

Deno.test("stackFetch behaviour: malformed responses give a TypeError and never hang", async () => {
  const { a, b, close } = await tcpPair();
  const listeners = [
    rawServer(b, 81, "HTZP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
    rawServer(b, 82, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten.."),
    rawServer(b, 83, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n9\r\nabc"),
    rawServer(b, 84, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi"),
    rawServer(b, 85, ""),
  ];
  try {
    const badStatus = await a.fetch(`http://${B_ADDR}:81/`).catch((e) => e);
    assert.ok(badStatus instanceof TypeError, String(badStatus));
    assert.ok(badStatus.cause !== undefined);

    const lying = await a.fetch(`http://${B_ADDR}:82/`);
    assert.equal(lying.status, 200);
    const lyingBody = await lying.arrayBuffer().catch((e) => e);
    assert.ok(lyingBody instanceof TypeError, String(lyingBody));

    const truncated = await a.fetch(`http://${B_ADDR}:83/`);
    const truncatedBody = await truncated.text().catch((e) => e);
    assert.ok(truncatedBody instanceof TypeError, String(truncatedBody));

    const twoLengths = await a.fetch(`http://${B_ADDR}:84/`).catch((e) => e);
    assert.ok(twoLengths instanceof TypeError, String(twoLengths));

    const empty = await a.fetch(`http://${B_ADDR}:85/`).catch((e) => e);
    assert.ok(empty instanceof TypeError, String(empty));
  } finally {
    for (const l of listeners) l.close();
    await close();
  }
});

Deno.test("stackFetch behaviour: aborting mid-body closes the connection and leaves none behind", async () => {
  const { a, b, close } = await tcpPair();
  // An endless body: the client must cut it.
  const server = b.serve({ port: 80 }, () =>
    new Response(
      new ReadableStream({
        pull(c) {
          c.enqueue(new Uint8Array(16 * 1024));
        },
      }),
    ));
  try {
    const ac = new AbortController();
    const r = await a.fetch(`http://${B_ADDR}/`, { signal: ac.signal });
    const reader = r.body!.getReader();
    const first = await reader.read();
    assert.ok(!first.done && first.value.length > 0);
    assert.ok(a.tcp.connections().length >= 1);
    ac.abort();
    const after = await (async () => {
      for (;;) {
        const x = await reader.read();
        if (x.done) return "done";
      }
    })().catch((e) => e);
    assert.equal((after as Error).name, "AbortError");
    await until(() => a.tcp.connections().length === 0, "no connection left on the client");
    await until(() => server.stats().active === 0, "the server saw the connection go");

    // Aborted before the response: rejected with the signal's reason, nothing left either.
    const early = new AbortController();
    const slow = b.serve({ port: 81 }, () => new Promise<Response>(() => {}));
    const pending = a.fetch(`http://${B_ADDR}:81/`, { signal: early.signal });
    await until(() => slow.stats().accepted === 1, "the request to arrive");
    early.abort();
    const e = await pending.catch((e) => e);
    assert.equal(e.name, "AbortError");
    await until(() => a.tcp.connections().length === 0, "no connection left after an early abort");
    await slow.shutdown().catch(() => {});
  } finally {
    await server.shutdown();
    await close();
  }
});

Deno.test("stackFetch behaviour: 16 MiB through 5 % loss each way arrives byte-exact", async () => {
  // A memory link has no RTT: a 20 ms RTO floor (instead of 200 ms) keeps the timeouts short.
  const tcp = { minRtoMs: 20 };
  const { a, b, close } = await tcpPair({
    a: { tcp },
    b: { tcp },
    faults: { seed: 20, toA: { drop: 0.05 }, toB: { drop: 0.05 } },
  });
  const data = randomBytes(16 * 1024 * 1024, 20) as Uint8Array<ArrayBuffer>;
  const server = b.serve({ port: 80 }, () => new Response(data));
  try {
    const r = await a.fetch(`http://${B_ADDR}/big`);
    assert.equal(r.headers.get("content-length"), String(data.length));
    const got = new Uint8Array(await r.arrayBuffer());
    assert.equal(got.length, data.length);
    assert.equal(await sha256(got), await sha256(data));
  } finally {
    await server.shutdown();
    await close();
  }
});

testWhen(
  "stackFetch behaviour: https with caCerts, refusals of untrusted and mismatched certificates",
  missingCommandsReason(["openssl"]),
  async () => {
    const pki = await makeTestPki();
    const wrongName = await makeTestPki("DNS:other.test");
    const { a, b, close } = await tcpPair();
    const server = b.serve(
      { port: 443, cert: pki.cert, key: pki.key },
      (req) => new Response(`secure ${new URL(req.url).pathname}`),
    );
    const mismatched = b.serve(
      { port: 444, cert: wrongName.cert, key: wrongName.key },
      () => new Response("never"),
    );
    const trusting = a.createHttpClient({ caCerts: [pki.ca] });
    const trustingOther = a.createHttpClient({ caCerts: [pki.otherCa] });
    const trustingWrongName = a.createHttpClient({ caCerts: [wrongName.ca] });
    const insecure = a.createHttpClient({ unsafelyIgnoreCertificateErrors: true });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await a.fetch(`https://${B_ADDR}/p${i}`, { client: trusting });
        assert.equal(await r.text(), `secure /p${i}`);
      }
      assert.equal(server.stats().accepted, 1, "one TLS connection, kept alive");

      const untrusted = await a.fetch(`https://${B_ADDR}/`, { client: trustingOther }).catch((e) =>
        e
      );
      assert.ok(untrusted instanceof TypeError);
      assert.match(untrusted.message, /certificate/i);

      const byDefault = await a.fetch(`https://${B_ADDR}/`).catch((e) => e);
      assert.ok(byDefault instanceof TypeError, "a test CA is not in the default roots");

      const wrong = await a.fetch(`https://${B_ADDR}:444/`, { client: trustingWrongName }).catch((
        e,
      ) => e);
      assert.ok(wrong instanceof TypeError);
      assert.match(
        String((wrong.cause as Error | undefined)?.message ?? wrong.message),
        /192\.0\.2\.1|altnames|cert/i,
      );

      const anyway = await a.fetch(`https://${B_ADDR}:444/`, { client: insecure });
      assert.equal(await anyway.text(), "never");
    } finally {
      for (const c of [trusting, trustingOther, trustingWrongName, insecure]) c.close();
      await server.shutdown();
      await mismatched.shutdown();
      await close();
      await pki.remove();
      await wrongName.remove();
    }
  },
);

testWhen(
  "stackFetch behaviour: https to a name sends it as SNI and checks the certificate against it",
  missingCommandsReason(["openssl"]),
  async () => {
    const pki = await makeTestPki("DNS:server.test");
    const { a, b, close } = await tcpPair({ a: { hosts: { "server.test": [B_ADDR] } } });
    const seen: (string | false | undefined)[] = [];
    const server = https.createServer({ cert: pki.cert, key: pki.key }, (req, res) => {
      seen.push((req.socket as { servername?: string | false }).servername);
      res.end("named");
    });
    const handle = serveNodeListener(b.listen({ port: 443 }), server);
    const client = a.createHttpClient({ caCerts: [pki.ca] });
    try {
      const r = await a.fetch("https://server.test/", { client });
      assert.equal(await r.text(), "named");
      assert.deepEqual(seen, ["server.test"]);
      // The same server by address: no SNI (RFC 6066 §3), and the name-only certificate fails.
      const byIp = await a.fetch(`https://${B_ADDR}/`, { client }).catch((e) => e);
      assert.ok(byIp instanceof TypeError);
      assert.match(String((byIp.cause as Error).message), /192\.0\.2\.1|IP/);
    } finally {
      client.close();
      handle.close();
      handle.closeAllConnections();
      await close();
      await pki.remove();
    }
  },
);

Deno.test("stackFetch behaviour: a plain GET without a Request keeps Request's checks", async () => {
  const { a, b, close } = await tcpPair();
  const server = b.serve({ port: 80 }, (req) => new Response(`${req.method} ${req.url}`));
  try {
    const byUrl = await a.fetch(new URL(`http://${B_ADDR}/u?v#frag`), { redirect: "follow" });
    assert.equal(await byUrl.text(), `GET http://${B_ADDR}/u?v`, "the fragment is not sent");
    assert.equal(byUrl.url, `http://${B_ADDR}/u?v`, "Response.url has no fragment (Fetch §6.4)");
    assert.equal(byUrl.redirected, false);
    await assert.rejects(a.fetch("/relative"), TypeError);
    await assert.rejects(
      a.fetch(`http://${B_ADDR}/`, { redirect: "bogus" as RequestRedirect }),
      TypeError,
    );
    await assert.rejects(
      a.fetch(`http://${B_ADDR}/`, { signal: {} as AbortSignal }),
      TypeError,
    );
    const head = await a.fetch(`http://${B_ADDR}/`, { method: "HEAD" });
    assert.equal(head.body, null);
  } finally {
    await server.shutdown();
    await close();
  }
});
