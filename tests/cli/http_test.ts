import assert from "node:assert/strict";
import {
  directoryHandler,
  HttpError,
  httpGet,
  type HttpReply,
  serveHttpConnection,
} from "../../src/cli/http.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A scripted connection: hands out `input` in `chunk`-byte reads, records writes. */
function fakeConn(input: string, chunk = 7) {
  const bytes = enc.encode(input);
  let at = 0;
  const conn = {
    written: "",
    closed: false,
    read(p: Uint8Array) {
      if (at >= bytes.length) return Promise.resolve(null);
      const n = Math.min(chunk, p.length, bytes.length - at);
      p.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
    write(p: Uint8Array) {
      conn.written += dec.decode(p);
      return Promise.resolve(p.length);
    },
    close() {
      conn.closed = true;
    },
  };
  return conn;
}

/** The whole body of a reply (reads and closes a streamed one). */
async function bodyText(reply: HttpReply): Promise<string> {
  const body = reply.body;
  if (body instanceof Uint8Array) return dec.decode(body);
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  try {
    for (;;) {
      const n = await body.read(buf);
      if (n === null) break;
      parts.push(buf.slice(0, n));
    }
  } finally {
    body.close();
  }
  return dec.decode(new Uint8Array(parts.flatMap((p) => [...p])));
}

async function get(response: string) {
  let body = "";
  const r = await httpGet(fakeConn(response), new URL("http://h.test:8080/a?b=1"), {
    onBody: (c) => void (body += dec.decode(c)),
  });
  return { ...r, body };
}

Deno.test("httpGet reads a chunked body split across reads", async () => {
  const r = await get(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\n",
  );
  assert.equal(r.body, "hello world");
  assert.equal(r.head.contentLength, null);
});

Deno.test("httpGet reads until close without Content-Length", async () => {
  const r = await get("HTTP/1.0 200 OK\r\nServer: x\r\n\r\nall the rest");
  assert.equal(r.body, "all the rest");
});

Deno.test("httpGet sends a proper request line and Host", async () => {
  const conn = fakeConn("HTTP/1.1 204 No Content\r\n\r\n");
  const r = await httpGet(conn, new URL("http://h.test:8080/a?b=1"), { onBody: () => {} });
  assert.equal(r.head.status, 204);
  assert.match(conn.written, /^GET \/a\?b=1 HTTP\/1\.1\r\nHost: h\.test:8080\r\n/);
  assert.ok(conn.written.endsWith("\r\n\r\n"));
});

Deno.test("httpGet rejects malformed and truncated responses", async () => {
  await assert.rejects(get("SSH-2.0-OpenSSH\r\n\r\n"), HttpError);
  await assert.rejects(
    get("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
    /cut short: 5 of 10/,
  );
  await assert.rejects(get("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"), /Content-Length/);
  await assert.rejects(
    get("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
    /chunk size/,
  );
  await assert.rejects(get("HTTP/1.1 200 OK\r\nBad Header\r\n\r\n"), /malformed header/);
  await assert.rejects(get(""), /without a response/);
  await assert.rejects(get("HTTP/1.1 200 OK\r\nX: " + "a".repeat(70000)), /longer than/);
});

Deno.test("serveHttpConnection answers 400, 405 and HEAD without a body", async () => {
  const bad = fakeConn("NOT HTTP\r\n\r\n");
  assert.equal(
    (await serveHttpConnection(bad, () => ({ status: 200, body: enc.encode("x") }))).status,
    400,
  );
  assert.match(bad.written, /^HTTP\/1\.1 400 Bad Request/);
  assert.ok(bad.closed);
  const post = fakeConn("POST / HTTP/1.1\r\n\r\n");
  assert.equal(
    (await serveHttpConnection(post, () => ({ status: 200, body: enc.encode("x") }))).status,
    405,
  );
  const head = fakeConn("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
  await serveHttpConnection(head, () => ({ status: 200, body: enc.encode("hello") }));
  assert.match(head.written, /Content-Length: 5\r\n/);
  assert.ok(head.written.endsWith("\r\n\r\n"), "no body for HEAD");
});

Deno.test("directoryHandler serves files, index.html, listings and refuses traversal", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rsfc-http-" });
  try {
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(`${dir}/a.txt`, "hello");
    await Deno.writeTextFile(`${dir}/sub/index.html`, "<p>i</p>");
    const h = directoryHandler(dir);
    const req = (target: string) => h({ method: "GET", target, headers: new Map() });
    const a = await req("/a.txt");
    assert.equal(a.status, 200);
    assert.equal(await bodyText(a), "hello");
    assert.match(a.contentType!, /text\/plain/);
    assert.equal(await bodyText(await req("/sub/")), "<p>i</p>");
    assert.match(await bodyText(await req("/")), /<a href="\/a\.txt">a\.txt<\/a>/);
    assert.equal((await req("/missing")).status, 404);
    assert.equal((await req("/../x")).status, 403);
    assert.equal((await req("/%2e%2e/x")).status, 403);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
