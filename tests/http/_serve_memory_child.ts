/**
 * Child process of the serve memory test (run with --v8-flags=--expose-gc):
 * two stacks over a memory link, `stack.serve` on one, a client on the other
 * sending keep-alive requests 10 at a time (pipelined) on 4 connections (a new connection
 * every 960 requests, under the server's 1,000 per connection). Prints one
 * JSON line: requests served, heap used after a GC at 10,000 requests and
 * at the end.
 *
 * @module
 */

import { MemoryLink } from "../../src/phy/memory_link.ts";
import { Stack } from "../../src/stack.ts";
import type { TcpConn } from "../../src/socket/tcp_conn.ts";

const TOTAL = 200_000;
const FIRST = 10_000;
const CONNS = 4;
const PIPELINE = 10;
const PER_CONNECTION = 960;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc!();
  return Deno.memoryUsage().heapUsed;
}

const [da, db] = MemoryLink.pair({ queueFrames: 1024 });
const a = new Stack({ device: da, ipv4: "192.0.2.2/24" });
const b = new Stack({ device: db, ipv4: "192.0.2.1/24" });
await a.start();
await b.start();
const body = new TextEncoder().encode("hello world\n");
const server = b.serve({ port: 80 }, () => new Response(body));
const request = "GET / HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n";
const batch = new TextEncoder().encode(request.repeat(PIPELINE));

async function connect(): Promise<TcpConn> {
  return await a.connect({ hostname: "192.0.2.1", port: 80, noDelay: true });
}

/** Length of one response (they are all alike: same body, Date of the same length). */
const probe = await connect();
await probe.write(new TextEncoder().encode(request));
const probeBuf = new Uint8Array(4096);
const responseBytes = (await probe.read(probeBuf))!;
probe.close();

async function worker(count: number): Promise<number> {
  let conn = await connect();
  const buf = new Uint8Array(64 * 1024);
  let done = 0;
  while (done < count) {
    if (done > 0 && done % PER_CONNECTION === 0) {
      conn.close();
      conn = await connect();
    }
    await conn.write(batch);
    let got = 0;
    while (got < PIPELINE * responseBytes) {
      const n = await conn.read(buf);
      if (n === null) throw new Error(`the server closed after ${done} requests`);
      got += n;
    }
    done += PIPELINE;
  }
  conn.close();
  return done;
}

async function run(total: number): Promise<number> {
  const each = await Promise.all(Array.from({ length: CONNS }, () => worker(total / CONNS)));
  return each.reduce((x, y) => x + y, 0);
}

let requests = await run(FIRST);
const heapAfterFirst = heapAfterGc();
requests += await run(TOTAL - FIRST);
// Connections the client closed finish in the background: let them.
await new Promise((r) => setTimeout(r, 200));
const heapAfterAll = heapAfterGc();
await server.shutdown();
await a.close();
await b.close();
console.log(JSON.stringify({ requests, heapAfterFirst, heapAfterAll, stats: server.stats() }));
