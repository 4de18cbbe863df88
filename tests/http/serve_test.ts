import assert from "node:assert/strict";
import { B_ADDR, randomBytes, sha256, tcpPair, until } from "../socket/_tcp_helpers.ts";
import type { ServeTimers, StackServeHandlerInfo } from "../../src/http/serve.ts";
import type { TcpConn } from "../../src/socket/tcp_conn.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Timers that fire only when told. */
class ManualTimers implements ServeTimers {
  #next = 1;
  readonly pending = new Map<number, { fn: () => void; ms: number }>();
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.pending.set(id, { fn, ms });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Fires every armed timer of `ms` (each once). */
  fire(ms: number): number {
    let n = 0;
    for (const [id, t] of [...this.pending]) {
      if (t.ms !== ms) continue;
      this.pending.delete(id);
      t.fn();
      n++;
    }
    return n;
  }
}

/** Reads until `text` appeared, or the end of the stream (returns all read). */
async function readUntil(conn: TcpConn, text: string | null): Promise<string> {
  const buf = new Uint8Array(16 * 1024);
  let got = "";
  while (text === null || !got.includes(text)) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    got += dec.decode(buf.subarray(0, n));
  }
  return got;
}

Deno.test("stackServe behaviour: Deno.serve-shaped handler, info, bodies, errors and shutdown", async () => {
  const { a, b, close } = await tcpPair();
  let listened = "";
  const server = b.serve({
    port: 8080,
    onListen: (addr) => listened = `${addr.hostname}:${addr.port}`,
  }, async (req, info) => {
    const url = new URL(req.url);
    if (url.pathname === "/throw") throw new Error("handler failed");
    if (url.pathname === "/who") return new Response(`${info.remoteAddr.hostname}`);
    const body = new Uint8Array(await req.arrayBuffer());
    return new Response(`${req.method} ${url.pathname} ${body.length} ${await sha256(body)}`, {
      status: 201,
      headers: { "x-served-by": "rawstack" },
    });
  });
  try {
    assert.equal(listened, "0.0.0.0:8080");
    assert.equal(server.addr.port, 8080);
    const data = randomBytes(200_000, 3) as Uint8Array<ArrayBuffer>;
    const r = await a.fetch(`http://${B_ADDR}:8080/up`, { method: "POST", body: data });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get("x-served-by"), "rawstack");
    assert.equal(await r.text(), `POST /up ${data.length} ${await sha256(data)}`);
    assert.equal(await (await a.fetch(`http://${B_ADDR}:8080/who`)).text(), "192.0.2.2");
    const failed = await a.fetch(`http://${B_ADDR}:8080/throw`);
    assert.equal(failed.status, 500);
    await failed.body?.cancel();
    assert.equal(server.stats().handlerErrors, 1);
  } finally {
    await server.shutdown();
    await close();
  }
  await server.finished;
  assert.equal(server.stats().active, 0);
});

Deno.test("stackServe behaviour: the header timeout closes a connection that sends no complete head", async () => {
  const { a, b, close } = await tcpPair();
  const timers = new ManualTimers();
  const server = b.serve(
    { port: 80, timers, headerTimeoutMs: 1000, idleTimeoutMs: 2000 },
    () => new Response("ok"),
  );
  try {
    const slow = await a.connect({ hostname: B_ADDR, port: 80 });
    await slow.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n"));
    await until(() => timers.pending.size === 1, "the header timer");
    assert.equal(timers.fire(1000), 1);
    assert.equal(await readUntil(slow, null), "", "closed without a response");
    assert.equal(server.stats().headerTimeouts, 1);
    slow.close();

    // Kept alive: after a response the idle timeout runs, and closes the idle connection.
    const idle = await a.connect({ hostname: B_ADDR, port: 80 });
    await idle.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert.match(await readUntil(idle, "ok"), /^HTTP\/1\.1 200/);
    await until(() => [...timers.pending.values()].some((t) => t.ms === 2000), "the idle timer");
    assert.equal(timers.fire(2000), 1);
    assert.equal(await readUntil(idle, null), "");
    assert.equal(server.stats().idleTimeouts, 1);
    idle.close();
  } finally {
    await server.shutdown();
    await close();
  }
});

Deno.test("stackServe behaviour: a connection cap, 431 for an oversized head, 400 for garbage", async () => {
  const { a, b, close } = await tcpPair();
  const server = b.serve(
    { port: 80, maxConnections: 2, maxHeaderBytes: 1024 },
    () => new Response("ok"),
  );
  try {
    const one = await a.connect({ hostname: B_ADDR, port: 80 });
    const two = await a.connect({ hostname: B_ADDR, port: 80 });
    await until(() => server.stats().active === 2, "two connections served");
    const three = await a.connect({ hostname: B_ADDR, port: 80 });
    assert.equal(await readUntil(three, null), "", "the third is closed at once");
    assert.equal(server.stats().refused, 1);
    three.close();

    await one.write(enc.encode(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(4000)}\r\n\r\n`));
    assert.match(await readUntil(one, null), /^HTTP\/1\.1 431/);
    await two.write(enc.encode("NOT HTTP AT ALL\r\n\r\n"));
    assert.match(await readUntil(two, null), /^HTTP\/1\.1 400/);
    assert.equal(server.stats().badRequests, 2);
    one.close();
    two.close();
  } finally {
    await server.shutdown();
    await close();
  }
});

Deno.test("stackServe behaviour: pipelined requests on one connection are answered in order", async () => {
  const { a, b, close } = await tcpPair();
  const server = b.serve({ port: 80 }, (req) => new Response(new URL(req.url).pathname));
  try {
    const c = await a.connect({ hostname: B_ADDR, port: 80 });
    const paths = Array.from({ length: 10 }, (_, i) => `/r${i}`);
    await c.write(enc.encode(paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join("")));
    const got = await readUntil(c, "/r9");
    const order = [...got.matchAll(/\r\n\r\n(\/r\d)/g)].map((m) => m[1]);
    assert.deepEqual(order, paths);
    c.close();
  } finally {
    await server.shutdown();
    await close();
  }
});

Deno.test("stackServe behaviour: memory stays flat over 200,000 requests (heap after GC)", async () => {
  // The test task runs without --expose-gc, so the measurement runs in a child Deno that has it:
  // it serves 200,000 requests and reports the heap after a GC at 10,000 and at the end.
  const child = new URL("./_serve_memory_child.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", child.href],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = dec.decode(out.stdout);
  assert.ok(out.success, `child failed: ${dec.decode(out.stderr)}`);
  const report = JSON.parse(text.trim().split("\n").pop()!) as {
    requests: number;
    heapAfterFirst: number;
    heapAfterAll: number;
  };
  assert.equal(report.requests, 200_000);
  const growth = report.heapAfterAll - report.heapAfterFirst;
  assert.ok(
    growth < 8 * 1024 * 1024,
    `heap grew by ${(growth / 1048576).toFixed(1)} MiB (first 10,000: ${
      (report.heapAfterFirst / 1048576).toFixed(1)
    } MiB, after 200,000: ${(report.heapAfterAll / 1048576).toFixed(1)} MiB)`,
  );
});

Deno.test("stackServe behaviour: the send timeout drops a client that stops reading", async () => {
  const { a, b, close } = await tcpPair();
  const timers = new ManualTimers();
  const big = new Uint8Array(8 * 1024 * 1024) as Uint8Array<ArrayBuffer>;
  const server = b.serve(
    { port: 80, timers, sendTimeoutMs: 3000, headerTimeoutMs: 0, idleTimeoutMs: 0 },
    () => new Response(big),
  );
  try {
    const c = await a.connect({ hostname: B_ADDR, port: 80 });
    await c.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    // The client reads nothing: each expiry either sees progress (and starts over) or closes.
    for (let i = 0; i < 1000 && server.stats().sendTimeouts === 0; i++) {
      await until(() => [...timers.pending.values()].some((t) => t.ms === 3000), "a send timer");
      timers.fire(3000);
    }
    assert.equal(server.stats().sendTimeouts, 1);
    await until(() => server.stats().active === 0, "the connection closed");
    c.close();
  } finally {
    // The stacks first: a connection left hanging (a failed check) must not hold shutdown().
    await close();
    await server.shutdown();
  }
});

/** Sends `raw` on a new connection and returns all the server sent until it closed. */
async function exchange(a: Awaited<ReturnType<typeof tcpPair>>["a"], raw: string, port = 80) {
  const c = await a.connect({ hostname: B_ADDR, port });
  await c.write(enc.encode(raw));
  const got = await readUntil(c, null);
  c.close();
  return got;
}

Deno.test("stackServe behaviour: hostile requests get their status, no handler call, and a close", async () => {
  const { a, b, close } = await tcpPair();
  let calls = 0;
  const server = b.serve(
    { port: 80, maxRequestLineBytes: 512, maxHeaderCount: 20 },
    async (req) => {
      calls++;
      return new Response(`read ${(await req.arrayBuffer()).byteLength}`);
    },
  );
  const cases: [string, string, number][] = [
    [
      "Content-Length with Transfer-Encoding (RFC 9112 §6.3: smuggling)",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
      400,
    ],
    [
      "two Content-Lengths",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      400,
    ],
    ["obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", 400],
    ["a space before the colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400],
    ["a bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400],
    ["a NUL in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: \x00\r\n\r\n", 400],
    ["no Host", "GET / HTTP/1.1\r\n\r\n", 400],
    ["a long request line", `GET /${"a".repeat(600)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
    ["a long request line, still arriving", `GET /${"a".repeat(600)}`, 414],
    ["too many fields", `GET / HTTP/1.1\r\nHost: x\r\n${"X-A: 1\r\n".repeat(20)}\r\n`, 431],
    [
      "an unknown transfer coding",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
      501,
    ],
    ["HTTP/2.0 in an HTTP/1 request line", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505],
    [
      "a bad chunk size",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
      400,
    ],
    [
      "a chunk longer than its size",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
      400,
    ],
    [
      "a chunk size past 2^53",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
      400,
    ],
  ];
  try {
    for (const [what, raw, status] of cases) {
      const before = calls;
      const got = await exchange(a, raw);
      assert.match(got, new RegExp(`^HTTP/1\\.1 ${status} `), what);
      assert.match(got, /\r\nconnection: close\r\n/i, `${what}: announced close`);
      assert.equal(got.match(/HTTP\/1\.1/g)?.length, 1, `${what}: one response, then the close`);
      // The body errors reach the handler (it read the body); the head errors never do.
      if (!/chunk/.test(what)) assert.equal(calls, before, `${what}: no handler call`);
    }
    assert.equal(server.stats().badRequests, cases.length);
    assert.equal(server.stats().requests, 0);
  } finally {
    await server.shutdown();
    await close();
  }
});

Deno.test("stackServe behaviour: chunked and Content-Length bodies, 100-continue, HEAD, HTTP/1.0, unread bodies", async () => {
  const { a, b, close } = await tcpPair();
  const server = b.serve({ port: 80 }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/ignore") return new Response("ignored");
    if (path === "/stream") {
      return new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(enc.encode("ab"));
            c.enqueue(enc.encode("cde"));
            c.close();
          },
        }),
      );
    }
    return new Response(`${req.method} ${dec.decode(await req.arrayBuffer())}`);
  });
  try {
    const c = await a.connect({ hostname: B_ADDR, port: 80 });
    await c.write(enc.encode(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n" +
        "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nvwxyz" +
        "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n" +
        "HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n" +
        "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n123",
    ));
    const got = await readUntil(c, "PUT 123");
    const bodies = got.split(/HTTP\/1\.1 200 OK\r\n/).slice(1);
    assert.equal(bodies.length, 5, got);
    assert.match(bodies[0], /content-length: 10\r\nConnection: keep-alive\r\n\r\nPOST abcde$/);
    assert.match(
      bodies[1],
      /\r\n\r\nignored$/,
      "the unread body was drained, not taken for a request",
    );
    assert.match(
      bodies[2],
      /transfer-encoding: chunked\r\nConnection: keep-alive\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n$/,
    );
    assert.doesNotMatch(bodies[3], /\r\n\r\n./, "HEAD: no body");
    assert.match(bodies[4], /\r\n\r\nPUT 123$/);
    c.close();

    // Expect: 100-continue: the interim response comes when the handler reads.
    const e = await a.connect({ hostname: B_ADDR, port: 80 });
    await e.write(
      enc.encode(
        "PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n",
      ),
    );
    assert.equal(await readUntil(e, "\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
    await e.write(enc.encode("ok"));
    assert.match(await readUntil(e, "PUT ok"), /^HTTP\/1\.1 200 OK\r\n/);
    e.close();

    // HTTP/1.0: closed after the response unless kept alive; a streamed body is close-delimited.
    const old = await exchange(a, "GET /stream HTTP/1.0\r\n\r\n");
    assert.match(old, /connection: close\r\n\r\nabcde$/i);
    assert.doesNotMatch(old, /transfer-encoding/);
    const kept = await a.connect({ hostname: B_ADDR, port: 80 });
    await kept.write(enc.encode("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    assert.match(await readUntil(kept, "GET "), /connection: keep-alive\r\n/i);
    await kept.write(enc.encode("GET /y HTTP/1.0\r\n\r\n"));
    assert.match(
      await readUntil(kept, null),
      /^HTTP\/1\.1 200 OK\r\n/,
      "second answered, then closed",
    );
    kept.close();
  } finally {
    await server.shutdown();
    await close();
  }
});

Deno.test("stackServe behaviour: a client that goes away aborts request.signal and frees the connection", async () => {
  const { a, b, close } = await tcpPair();
  let aborted: unknown = null;
  const server = b.serve({ port: 80 }, (req) =>
    new Promise<Response>((resolve) => {
      req.signal.addEventListener("abort", () => {
        aborted = req.signal.reason;
        resolve(new Response("late"));
      });
    }));
  try {
    const c = await a.connect({ hostname: B_ADDR, port: 80 });
    await c.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await until(() => server.stats().accepted === 1, "the request");
    c.close();
    await until(() => aborted !== null, "the abort");
    assert.equal((aborted as DOMException).name, "AbortError");
    await until(() => server.stats().active === 0, "the connection freed");
  } finally {
    await server.shutdown();
    await close();
  }
});

/** Manual timers with a manual clock: the server moves deadlines instead of re-arming. */
class ClockTimers extends ManualTimers {
  t = 0;
  now(): number {
    return this.t;
  }
}

Deno.test("stackServe behaviour: with a clock, one timer per connection follows the moving idle deadline", async () => {
  const { a, b, close } = await tcpPair();
  const timers = new ClockTimers();
  const server = b.serve(
    { port: 80, timers, headerTimeoutMs: 1000, idleTimeoutMs: 2000 },
    () => new Response("ok"),
  );
  try {
    const c = await a.connect({ hostname: B_ADDR, port: 80 });
    await c.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert.match(await readUntil(c, "ok"), /^HTTP\/1\.1 200/);
    // The header timer (due at 1000) is kept for the idle wait (deadline 2000): one timer.
    await until(() => timers.pending.size === 1, "one timer");
    timers.t = 1000;
    assert.equal(timers.fire(1000), 1);
    assert.equal(timers.pending.size, 1, "re-armed for the 1000 ms left");
    // A request at 1500 moves the deadline to 3500; the timer due at 2000 stays.
    timers.t = 1500;
    await c.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert.match(await readUntil(c, "ok"), /^HTTP\/1\.1 200/);
    await until(() => server.stats().requests === 2, "the second response counted");
    timers.t = 2000;
    assert.equal(timers.fire(1000), 1);
    assert.equal(server.stats().idleTimeouts, 0, "not idle for 2000 ms yet");
    timers.t = 3500;
    assert.equal(timers.fire(1500), 1, "re-armed for the 1500 ms left");
    assert.equal(await readUntil(c, null), "", "closed when idle for 2000 ms");
    assert.equal(server.stats().idleTimeouts, 1);
    c.close();
  } finally {
    await server.shutdown();
    await close();
  }
});

Deno.test("staticResponse behaviour: a string or bytes body skips the stream and writes the general path's bytes", async () => {
  const { setStaticResponseFastPath, STATIC_RESPONSE_FAST_PATH, staticResponse } = await import(
    "../../src/http/deno_slots.ts"
  );
  assert.equal(STATIC_RESPONSE_FAST_PATH, true, "Deno's Response slots were found");
  assert.notEqual(staticResponse(new Response("x")), null);
  assert.equal(staticResponse(new Response(new ReadableStream())), null);
  const used = new Response("x");
  await used.text();
  assert.equal(staticResponse(used), null, "a body read already takes the general path");

  const date = "Mon, 07 Dec 2026 14:00:00 GMT";
  const fields = (...more: [string, string][]): [string, string][] => [
    ["Date", date],
    ["X-B", "1"],
    ["set-cookie", "a=1"],
    ["x-a", "2"],
    ["X-B", "3"],
    ["Set-Cookie", "b=2"],
    ...more,
  ];
  const variants: Record<string, () => Response> = {
    "/text": () => new Response("héllo", { headers: fields() }),
    "/lazy": () => new Response("plain"),
    "/json": () => Response.json({ a: 1 }),
    "/bytes": () => new Response(enc.encode("bytes"), { status: 201, headers: fields() }),
    "/empty": () => new Response("", { headers: fields() }),
    "/none": () => new Response(null, { headers: fields() }),
    "/204": () => new Response(null, { status: 204, headers: fields() }),
    "/304": () => new Response(null, { status: 304, headers: fields(["Content-Length", "5"]) }),
    "/close": () => new Response("bye", { headers: fields(["Connection", "close"]) }),
    "/length": () => new Response("four", { headers: fields(["Content-Length", "4"]) }),
  };
  const { a, b, close } = await tcpPair();
  const server = b.serve({ port: 80 }, (req) => variants[new URL(req.url).pathname]());
  try {
    for (const method of ["GET", "HEAD"]) {
      for (const path of Object.keys(variants)) {
        const replies: string[] = [];
        for (const fast of [true, false]) {
          setStaticResponseFastPath(fast);
          const c = await a.connect({ hostname: B_ADDR, port: 80 });
          await c.write(enc.encode(`${method} ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
          await c.closeWrite();
          replies.push(await readUntil(c, null));
          c.close();
        }
        assert.match(replies[0], /^HTTP\/1\.1 \d+ /, `${method} ${path}`);
        // The date field is the server's clock where the response has none.
        const [fast, general] = replies.map((r) => r.replace(/date: [^\r]+/, "date: *"));
        assert.equal(fast, general, `${method} ${path}: the same bytes both ways`);
      }
    }
  } finally {
    setStaticResponseFastPath(true);
    await server.shutdown();
    await close();
  }
});

Deno.test("makeRequest behaviour: parsed fields put straight into the Request are what RequestInit.headers gives", async () => {
  const { REQUEST_FIELDS_FAST_PATH, setRequestFieldsFastPath } = await import(
    "../../src/http/deno_slots.ts"
  );
  assert.equal(REQUEST_FIELDS_FAST_PATH, true, "Deno's Request slot was found");
  const { a, b, close } = await tcpPair();
  const server = b.serve({ port: 80 }, async (req) => {
    const copy = req.clone();
    const seen = {
      method: req.method,
      url: req.url,
      headers: [...req.headers],
      host: req.headers.get("HOST"),
      cloned: [...copy.headers],
      body: req.body === null ? null : await req.text(),
    };
    return new Response(JSON.stringify(seen));
  });
  const head = "Host: example.test:80\r\nX-B: 1\r\nx-a:  spaced\t \r\nx-b: 3\r\nCookie: a=b\r\n";
  const requests = [
    `GET /a?q=1 HTTP/1.1\r\n${head}\r\n`,
    `POST /p HTTP/1.1\r\n${head}Content-Length: 4\r\n\r\nbody`,
    `DELETE /d HTTP/1.1\r\n${head}\r\n`,
  ];
  try {
    for (const text of requests) {
      const seen: string[] = [];
      for (const fast of [true, false]) {
        setRequestFieldsFastPath(fast);
        const c = await a.connect({ hostname: B_ADDR, port: 80 });
        await c.write(enc.encode(text));
        await c.closeWrite();
        const reply = await readUntil(c, null);
        c.close();
        seen.push(reply.slice(reply.indexOf("\r\n\r\n") + 4));
      }
      const got = JSON.parse(seen[0]);
      assert.deepEqual(got.headers.find((f: string[]) => f[0] === "x-b"), ["x-b", "1, 3"]);
      assert.equal(got.host, "example.test:80");
      assert.equal(seen[0], seen[1], text.split("\r\n")[0]);
    }
  } finally {
    setRequestFieldsFastPath(true);
    await server.shutdown();
    await close();
  }
});

Deno.test("HeadCache behaviour: a reused response head changes with its status, fields, body length, connection and second", async () => {
  const variants: Record<string, () => Response> = {
    "/a": () => new Response("aa", { headers: { "x-v": "1" } }),
    "/b": () => new Response("aa", { headers: { "x-v": "2" } }),
    "/c": () => new Response("aa", { status: 201, headers: { "x-v": "1" } }),
    "/d": () => new Response("aaa", { headers: { "x-v": "1" } }),
    "/e": () => new Response("aa", { headers: { "x-v": "1", "x-w": "0" } }),
    "/f": () => new Response("aa", { status: 200, statusText: "Fine", headers: { "x-v": "1" } }),
    "/g": () => new Response("aa", { headers: { "x-v": "1", "content-length": "2" } }),
    "/close": () => new Response("aa", { headers: { "x-v": "1", "connection": "close" } }),
  };
  const { a, b, close } = await tcpPair();
  const server = b.serve({ port: 80 }, (req) => variants[new URL(req.url).pathname]());
  const exchange = async (c: TcpConn, path: string): Promise<string> => {
    await c.write(enc.encode(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
    const reply = await readUntil(c, "\r\n\r\n");
    const length = Number(/content-length: (\d+)/.exec(reply)![1]);
    let got = reply;
    while (got.length < got.indexOf("\r\n\r\n") + 4 + length) got += await readUntil(c, null);
    return got.replace(/date: [^\r]+\r\n/, "");
  };
  const want = (status: string, fields: string, body: string, conn = "keep-alive") =>
    `HTTP/1.1 ${status}\r\ncontent-type: text/plain;charset=UTF-8\r\n${fields}` +
    `content-length: ${body.length}\r\nConnection: ${conn}\r\n\r\n${body}`;
  try {
    const c = await a.connect({ hostname: B_ADDR, port: 80 });
    const sequence: [string, string][] = [
      ["/a", want("200 OK", "x-v: 1\r\n", "aa")],
      ["/a", want("200 OK", "x-v: 1\r\n", "aa")],
      ["/b", want("200 OK", "x-v: 2\r\n", "aa")],
      ["/a", want("200 OK", "x-v: 1\r\n", "aa")],
      ["/c", want("201 Created", "x-v: 1\r\n", "aa")],
      ["/d", want("200 OK", "x-v: 1\r\n", "aaa")],
      ["/e", want("200 OK", "x-v: 1\r\nx-w: 0\r\n", "aa")],
      ["/f", want("200 Fine", "x-v: 1\r\n", "aa")],
      ["/g", want("200 OK", "x-v: 1\r\n", "aa")],
      ["/g", want("200 OK", "x-v: 1\r\n", "aa")],
      ["/a", want("200 OK", "x-v: 1\r\n", "aa")],
    ];
    for (const [path, reply] of sequence) assert.equal(await exchange(c, path), reply, path);

    // The date field is renewed once the second changes, also for a head seen before.
    const dated = async () => {
      await c.write(enc.encode(`GET /a HTTP/1.1\r\nHost: x\r\n\r\n`));
      const reply = await readUntil(c, "aa");
      return /date: ([^\r]+)/.exec(reply)![1];
    };
    const first = await dated();
    const second = Math.floor(Date.now() / 1000);
    while (Math.floor(Date.now() / 1000) === second) await new Promise((r) => setTimeout(r, 20));
    assert.notEqual(await dated(), first, "a later second's date");

    // A head that said close is not reused for one that keeps the connection, nor the reverse.
    const c2 = await a.connect({ hostname: B_ADDR, port: 80 });
    assert.equal(await exchange(c2, "/close"), want("200 OK", "x-v: 1\r\n", "aa", "close"));
    assert.equal(await readUntil(c2, null), "", "closed after the close response");
    c2.close();
    assert.equal(await exchange(c, "/a"), want("200 OK", "x-v: 1\r\n", "aa"));
    c.close();
  } finally {
    await server.shutdown();
    await close();
  }
});

Deno.test("stackServe behaviour: info.completed settles once the response is sent, also when first asked for afterwards", async () => {
  const { a, b, close } = await tcpPair();
  const events: string[] = [];
  let late: StackServeHandlerInfo | null = null;
  const server = b.serve({ port: 80 }, (req, info) => {
    if (new URL(req.url).pathname === "/early") {
      void info.completed.then(() => events.push("early completed"));
    } else late = info;
    events.push("handler");
    return new Response("x");
  });
  try {
    const c = await a.connect({ hostname: B_ADDR, port: 80 });
    await c.write(enc.encode("GET /early HTTP/1.1\r\nHost: x\r\n\r\n"));
    await readUntil(c, "\r\n\r\nx");
    await c.write(enc.encode("GET /late HTTP/1.1\r\nHost: x\r\n\r\n"));
    await readUntil(c, "\r\n\r\nx");
    // The connection stays open with nothing more to answer: `completed` must not wait for it.
    const turns = async () => {
      for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
      return "still pending";
    };
    const lateInfo = late as StackServeHandlerInfo | null;
    assert.notEqual(lateInfo, null);
    assert.equal(
      await Promise.race([lateInfo!.completed.then(() => "completed"), turns()]),
      "completed",
    );
    assert.deepEqual(events, ["handler", "early completed", "handler"]);
    c.close();
  } finally {
    await server.shutdown();
    await close();
  }
});

Deno.test("H1Server behaviour: a header deadline started from a recent clock reading is never later than the clock's", async () => {
  const { H1Server } = await import("../../src/http/h1_server.ts");
  const { a, b, close } = await tcpPair();
  const timers = new ClockTimers();
  timers.t = 1000;
  let recent = 990; // the stack read its clock 10 ms ago
  const server = new H1Server(b.listen({ port: 80 }), {
    handler: () => new Response("ok"),
    timers,
    recentMs: () => recent,
    headerTimeoutMs: 1000,
    idleTimeoutMs: 5000,
    sendTimeoutMs: 5000,
    maxRequests: 100,
    maxConnections: 10,
    limits: { maxHeadBytes: 16 * 1024, maxRequestLineBytes: 8 * 1024, maxHeaderCount: 100 },
    addr: { transport: "tcp", hostname: B_ADDR, port: 80 },
  });
  try {
    const c = await a.connect({ hostname: B_ADDR, port: 80 });
    await c.write(enc.encode("GET / HTTP/1.1\r\n")); // an incomplete head
    await until(() => timers.pending.size === 1, "the header timer");
    // The deadline is 990 + 1000: at 1990 it has passed, though the clock read 1000 at the start.
    timers.t = 1990;
    recent = 1990;
    assert.equal(timers.fire(1000), 1);
    assert.equal(server.stats.headerTimeouts, 1);
    assert.equal(await readUntil(c, null), "", "closed at the header deadline");
    c.close();
  } finally {
    await server.shutdown();
    await close();
  }
});
