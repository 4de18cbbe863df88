/**
 * `rawstack serve` / `get` against hostile peers (issue #16, findings 4 and 11):
 * two stacks over a MemoryLink, the server's timeouts driven by manual timers.
 */
import assert from "node:assert/strict";
import { directoryHandler, escapeLogText, formatAccessLog } from "../../src/cli/http.ts";
import {
  fetchStreaming,
  HttpReadTimeout,
  memoryPeerHandler,
  startHttpServer,
} from "../../src/cli/tcp_commands.ts";
import type { ServeTimers } from "../../src/http/serve.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import type { TcpConn } from "../../src/socket/tcp_conn.ts";
import { Stack } from "../../src/stack.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const SERVER = "192.0.2.1";
/** Liveness guard of {@link settles}: far beyond what a MemoryLink round trip takes. */
const GUARD_MS = 3000;
/** How long a "nothing happens yet" check watches (many MemoryLink round trips). */
const QUIET_MS = 200;

/** Timers that fire only when the test advances them. */
class ManualTimers implements ServeTimers {
  #now = 0;
  #next = 1;
  #timers = new Map<number, { fn: () => void; at: number }>();

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { fn, at: this.#now + ms });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers armed and not fired. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time on by `ms`, firing what is due. */
  advance(ms: number): void {
    this.#now += ms;
    for (const [id, t] of [...this.#timers]) {
      if (t.at <= this.#now) {
        this.#timers.delete(id);
        t.fn();
      }
    }
  }
}

async function pair() {
  const [a, b] = MemoryLink.pair();
  const server = new Stack({ device: b, ipv4: `${SERVER}/24` });
  const client = new Stack({ device: a, ipv4: "192.0.2.2/24" });
  await server.start();
  await client.start();
  return {
    server,
    client,
    async [Symbol.asyncDispose]() {
      await client.close();
      await server.close();
    },
  };
}

/** Whether `p` settles before the liveness guard (a hang → false, never a stuck test). */
async function settles(p: Promise<unknown>, guardMs = GUARD_MS): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<false>((r) => (timer = setTimeout(() => r(false), guardMs)));
  try {
    return await Promise.race([p.then(() => true, () => true), guard]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves true when the server ended the connection (EOF or reset) — data before it is skipped. */
async function endedByServer(conn: TcpConn): Promise<boolean> {
  const buf = new Uint8Array(4096);
  try {
    while ((await conn.read(buf)) !== null);
  } catch {
    // reset: ended too
  }
  return true;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = performance.now() + GUARD_MS;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** One GET on a connection of its own (`Connection: close`, as curl's single request). */
async function fetchText(client: Stack, path: string): Promise<{ status: number; body: string }> {
  const r = await client.fetch(`http://${SERVER}${path}`, { headers: { connection: "close" } });
  return { status: r.status, body: await r.text() };
}

const ok = () => new Response("ok\n");

Deno.test("startHttpServer closes slow-header clients after the header timeout and refuses beyond the cap", async () => {
  await using s = await pair();
  const timers = new ManualTimers();
  const http = startHttpServer(s.server, 80, ok, {
    timers,
    headerTimeoutMs: 1000,
    maxConnections: 51,
  });
  try {
    // 50 clients send half a request head and then nothing (slowloris).
    const slow: TcpConn[] = [];
    for (let i = 0; i < 50; i++) {
      const c = await s.client.connect({ hostname: SERVER, port: 80 });
      await c.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n"));
      slow.push(c);
    }
    // A normal client still gets its page while they hang.
    assert.deepEqual(await fetchText(s.client, "/"), { status: 200, body: "ok\n" });
    // The 51st slow client fills the cap; one more is closed at once.
    const last = await s.client.connect({ hostname: SERVER, port: 80 });
    await last.write(enc.encode("GET / HT"));
    slow.push(last);
    const extra = await s.client.connect({ hostname: SERVER, port: 80 });
    assert.ok(await settles(endedByServer(extra)), "the connection beyond the cap was not closed");
    extra.close();
    // No slow client was answered or closed yet.
    const ends = slow.map((c) => endedByServer(c));
    assert.equal(await settles(Promise.race(ends), QUIET_MS), false, "a slow client ended early");
    // The header timeout fires: every slow client is closed without a response.
    await until(() => http.stats().active === 51, "51 open connections");
    timers.advance(1000);
    assert.ok(await settles(Promise.all(ends)), "slow clients were still open after the timeout");
    const st = http.stats();
    assert.equal(st.headerTimeouts, 51);
    assert.equal(st.refused, 1);
    assert.equal(st.requests, 1);
    await until(() => http.stats().active === 0, "no open connection");
    for (const c of slow) c.close();
    // And the server still serves.
    assert.deepEqual(await fetchText(s.client, "/"), { status: 200, body: "ok\n" });
  } finally {
    await http.shutdown();
  }
});

Deno.test("startHttpServer answers an oversized request head with 431 and closes", async () => {
  await using s = await pair();
  const http = startHttpServer(s.server, 80, ok, { maxHeaderBytes: 4096 });
  try {
    const c = await s.client.connect({ hostname: SERVER, port: 80 });
    // 20 KiB of header fields that never end: today's 64 KiB limit would just wait.
    await c.write(enc.encode(`GET / HTTP/1.1\r\nX: ${"a".repeat(20 * 1024)}\r\n`));
    let text = "";
    const buf = new Uint8Array(4096);
    const done = (async () => {
      try {
        for (;;) {
          const n = await c.read(buf);
          if (n === null) break;
          text += dec.decode(buf.subarray(0, n));
        }
      } catch {
        // reset after the answer (unread request bytes): fine
      }
    })();
    assert.ok(await settles(done), "no answer to an oversized head");
    assert.match(text, /^HTTP\/1\.1 431 /);
    c.close();
    assert.equal(http.stats().badRequests, 1);
  } finally {
    await http.shutdown();
  }
});

Deno.test("startHttpServer keeps a connection alive and closes it after the idle timeout", async () => {
  await using s = await pair();
  const timers = new ManualTimers();
  const http = startHttpServer(s.server, 80, ok, { timers, idleTimeoutMs: 5000 });
  try {
    const c = await s.client.connect({ hostname: SERVER, port: 80 });
    const buf = new Uint8Array(4096);
    const readResponse = async () => {
      let text = "";
      while (!text.endsWith("ok\n")) {
        const n = await c.read(buf);
        if (n === null) break;
        text += dec.decode(buf.subarray(0, n));
      }
      return text;
    };
    for (let i = 0; i < 2; i++) {
      await c.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      assert.match(await readResponse(), /^HTTP\/1\.1 200 OK\r\n[^]*Connection: keep-alive\r\n/);
    }
    await until(() => timers.pending === 1, "the idle timer");
    const end = endedByServer(c);
    assert.equal(await settles(end, QUIET_MS), false, "closed before the idle timeout");
    timers.advance(5000);
    assert.ok(await settles(end), "still open after the idle timeout");
    c.close();
    const st = http.stats();
    assert.equal(st.requests, 2);
    assert.equal(st.idleTimeouts, 1);
  } finally {
    await http.shutdown();
  }
});

Deno.test("startHttpServer drops a client that stops reading after the send timeout", async () => {
  await using s = await pair();
  const timers = new ManualTimers();
  const http = startHttpServer(s.server, 80, memoryPeerHandler, { timers, sendTimeoutMs: 2000 });
  try {
    const c = await s.client.connect({ hostname: SERVER, port: 80 });
    // 16 MiB asked for, nothing read: the windows fill and the server's write waits.
    await c.write(enc.encode("GET /bytes/16777216 HTTP/1.1\r\nHost: x\r\n\r\n"));
    await until(() => timers.pending === 1 && c.info().bytesIn > 0, "a waiting write");
    assert.equal(http.stats().active, 1);
    // Each expiry that finds the client took bytes since starts over (nginx: the time between
    // two writes); the client reads nothing, so one of them closes the connection.
    for (let i = 0; i < 100 && http.stats().sendTimeouts === 0; i++) {
      await until(() => timers.pending === 1, "the send timer");
      timers.advance(2000);
    }
    await until(() => http.stats().sendTimeouts === 1, "the send timeout");
    assert.equal(http.stats().active, 0);
    c.close();
  } finally {
    await http.shutdown();
  }
});

Deno.test("directoryHandler gives 404 for symlinks out of the root and serves those inside", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rsfc-serve-" });
  const outside = await Deno.makeTempDir({ prefix: "rsfc-outside-" });
  try {
    await Deno.writeTextFile(`${outside}/secret.txt`, "secret\n");
    await Deno.writeTextFile(`${dir}/inside.txt`, "inside\n");
    await Deno.mkdir(`${dir}/sub`);
    await Deno.symlink("/etc/passwd", `${dir}/passwd`);
    await Deno.symlink(outside, `${dir}/out`); // a directory link: /out/secret.txt
    await Deno.symlink(`${outside}/secret.txt`, `${dir}/sub/index.html`);
    await Deno.symlink("../inside.txt", `${dir}/sub/link.txt`);
    const h = directoryHandler(dir);
    const get = (target: string) => h(new Request(`http://${SERVER}${target}`));
    const status = async (target: string) => {
      const r = await get(target);
      await r.body?.cancel();
      return r.status;
    };
    assert.equal(await status("/passwd"), 404);
    assert.equal(await status("/out/secret.txt"), 404);
    assert.equal(await status("/out/"), 404);
    // The URL parser already removes dot segments; an encoded slash hides them from it.
    assert.equal(await status("/%2e%2e%2fetc%2fpasswd"), 403);
    assert.equal(await status("/%2e%2e/etc/passwd"), 404, "resolved to /etc/passwd in the root");
    // An index.html that leads out is ignored: the listing is shown instead.
    const sub = await get("/sub/");
    assert.doesNotMatch(await sub.text(), /secret/);
    // Over the network too, and a link that stays inside still works.
    await using s = await pair();
    const http = startHttpServer(s.server, 80, h);
    try {
      assert.equal((await fetchText(s.client, "/passwd")).status, 404);
      assert.deepEqual(await fetchText(s.client, "/sub/link.txt"), {
        status: 200,
        body: "inside\n",
      });
    } finally {
      await http.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("directoryHandler streams a 64 MiB file with bounded memory", async () => {
  const FILE_BYTES = 64 * 1024 * 1024;
  /** Growth of JS heap + array buffers allowed while serving (a whole-file read is 64 MiB). */
  const MAX_GROWTH_BYTES = 24 * 1024 * 1024;
  const dir = await Deno.makeTempDir({ prefix: "rsfc-big-" });
  try {
    const block = new Uint8Array(1024 * 1024);
    for (let i = 0; i < block.length; i++) block[i] = (i * 7 + (i >> 11)) & 0xff;
    const f = await Deno.open(`${dir}/big.bin`, { write: true, create: true });
    for (let i = 0; i < FILE_BYTES / block.length; i++) {
      let done = 0;
      while (done < block.length) done += await f.write(block.subarray(done));
    }
    f.close();
    // Garbage is not what this is about: the child measures after a GC (the test task has no
    // --expose-gc, so the measuring runs in a child Deno that has it).
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        new URL("./_stream_memory_child.ts", import.meta.url).href,
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, dec.decode(out.stderr));
    const r = JSON.parse(dec.decode(out.stdout).trim().split("\n").pop()!);
    assert.equal(r.status, 200);
    assert.equal(r.length, String(FILE_BYTES));
    assert.equal(r.received, FILE_BYTES);
    assert.equal(r.mismatches, 0);
    assert.ok(
      r.peak < MAX_GROWTH_BYTES,
      `memory grew by ${(r.peak / 2 ** 20).toFixed(1)} MiB while serving`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fetchStreaming gives up with HttpReadTimeout when the server sends nothing", async () => {
  await using s = await pair();
  const listener = s.server.listen({ port: 80 });
  const held: TcpConn[] = [];
  (async () => {
    for await (const c of listener) held.push(c); // accepts, never answers
  })().catch(() => {});
  try {
    const timers = new ManualTimers();
    const get = fetchStreaming(s.client, new URL(`http://${SERVER}/`), {
      readTimeoutMs: 4000,
      setTimer: (fn, ms) => timers.setTimeout(fn, ms),
      clearTimer: (h) => timers.clearTimeout(h),
      onBody: () => {},
    });
    get.catch(() => {});
    await until(() => held.length === 1, "the server's accept");
    assert.equal(await settles(get, QUIET_MS), false, "fetch ended although nothing timed out");
    assert.equal(timers.pending, 1, "no read timer armed");
    timers.advance(4000);
    await assert.rejects(get, (e) => {
      assert.ok(e instanceof HttpReadTimeout);
      assert.match(e.message, /no data from the server for 4000 ms/);
      return true;
    });
    await until(() => s.client.tcp.connections().length === 0, "the connection aborted");
  } finally {
    listener.close();
    for (const c of held) c.close();
  }
});

Deno.test("formatAccessLog escapes terminal control sequences from the request line", async () => {
  await using s = await pair();
  const lines: string[] = [];
  const http = startHttpServer(s.server, 80, ok, {
    onResponse: (served) => lines.push(formatAccessLog(served.remoteAddr.hostname, served)),
  });
  try {
    // ESC ] 0 ; title BEL (sets the window title), ESC [ 2 J (clears the screen).
    const hostile = "GET /\x1b]0;pwned\x07\x1b[2J HTTP/1.1\r\nHost: x\r\n\r\n";
    const c = await s.client.connect({ hostname: SERVER, port: 80 });
    await c.write(enc.encode(hostile));
    assert.ok(await settles(endedByServer(c)));
    c.close();
    await until(() => lines.length === 1, "the log line");
    // Refused (no controls in a request-target, RFC 9112 §3.2) and logged escaped.
    assert.equal(lines[0], '192.0.2.2 "GET /\\x1B]0;pwned\\x07\\x1B[2J HTTP/1.1" 400');
    assert.doesNotMatch(lines[0], /[^\x20-\x7e]/, "only printable ASCII");
    assert.equal(escapeLogText('a"\\\u009b\u2028'), "a\\x22\\x5C\\x9B\\u2028");
  } finally {
    await http.shutdown();
  }
});
