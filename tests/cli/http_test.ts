import assert from "node:assert/strict";
import { confinePath, directoryHandler, fileResponse } from "../../src/cli/http.ts";
import { memoryPeerHandler } from "../../src/cli/tcp_commands.ts";

Deno.test("directoryHandler serves files, index.html, listings and refuses traversal", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rsfc-http-" });
  try {
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(`${dir}/a.txt`, "hello");
    await Deno.writeTextFile(`${dir}/sub/index.html`, "<p>i</p>");
    const h = directoryHandler(dir);
    const req = (target: string, method = "GET") =>
      h(new Request(`http://192.0.2.1${target}`, { method }));
    const a = await req("/a.txt");
    assert.equal(a.status, 200);
    assert.equal(a.headers.get("content-length"), "5");
    assert.match(a.headers.get("content-type")!, /text\/plain/);
    assert.equal(await a.text(), "hello");
    assert.equal(await (await req("/sub/")).text(), "<p>i</p>");
    assert.match(await (await req("/")).text(), /<a href="\/a\.txt">a\.txt<\/a>/);
    const missing = await req("/missing");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const hidden = await req("/%2e%2e%2fx");
    assert.equal(hidden.status, 403, "an encoded ../ is refused");
    await hidden.body?.cancel();
    const badEncoding = await req("/%zz");
    assert.equal(badEncoding.status, 400);
    await badEncoding.body?.cancel();
    const post = await req("/a.txt", "POST");
    assert.equal(post.status, 405);
    await post.body?.cancel();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("confinePath refuses .. and NUL, decodes, and resolves under the root", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rsfc-confine-" });
  try {
    await Deno.writeTextFile(`${dir}/a b.txt`, "x");
    const ok = await confinePath(dir, "/a%20b.txt?q=1");
    assert.ok(ok.ok && ok.path === `${await Deno.realPath(dir)}/a b.txt`);
    assert.deepEqual(await confinePath(dir, "/../etc/passwd"), {
      ok: false,
      status: 403,
      reason: "forbidden",
    });
    assert.equal((await confinePath(dir, "/a%00")).ok, false);
    assert.deepEqual(await confinePath(dir, "/nope"), {
      ok: false,
      status: 404,
      reason: "not found",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileResponse streams a regular file with its length and refuses others", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rsfc-file-" });
  try {
    await Deno.writeTextFile(`${dir}/f`, "content");
    const r = await fileResponse(`${dir}/f`, "text/plain");
    assert.equal(r?.headers.get("content-length"), "7");
    assert.equal(await r?.text(), "content");
    assert.equal(await fileResponse(dir, "text/plain"), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("memoryPeerHandler serves the demo page, /bytes/N and 404", async () => {
  const page = memoryPeerHandler(new Request("http://192.0.2.1/"));
  assert.match(await page.text(), /Hello from rawstack/);
  const bytes = memoryPeerHandler(new Request("http://192.0.2.1/bytes/100000"));
  const body = new Uint8Array(await bytes.arrayBuffer());
  assert.equal(body.length, 100_000);
  assert.equal(body[26], 0x61);
  const missing = memoryPeerHandler(new Request("http://192.0.2.1/nope"));
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});
