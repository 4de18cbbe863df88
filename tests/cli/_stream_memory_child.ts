/**
 * Child process of "directoryHandler streams a 64 MiB file with bounded
 * memory" (run with --v8-flags=--expose-gc): serves `Deno.args[0]`/big.bin
 * with `rawstack serve`'s handler between two stacks, fetches it, checks each
 * byte against the pattern, and reports the peak growth of heap plus array
 * buffers after a GC (taken every 8 chunks), so garbage not yet collected does
 * not count and only what the pipeline holds does.
 *
 * @module
 */

import { directoryHandler } from "../../src/cli/http.ts";
import { fetchStreaming, startHttpServer } from "../../src/cli/tcp_commands.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import { Stack } from "../../src/stack.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
const dir = Deno.args[0];
const block = new Uint8Array(1024 * 1024);
for (let i = 0; i < block.length; i++) block[i] = (i * 7 + (i >> 11)) & 0xff;

const [da, db] = MemoryLink.pair();
const server = new Stack({ device: db, ipv4: "192.0.2.1/24" });
const client = new Stack({ device: da, ipv4: "192.0.2.2/24" });
await server.start();
await client.start();
const http = startHttpServer(server, 80, directoryHandler(dir));
gc();
const base = Deno.memoryUsage();
let peak = 0;
let received = 0;
let mismatches = 0;
let chunks = 0;
let length: string | null = null;
const r = await fetchStreaming(client, new URL("http://192.0.2.1/big.bin"), {
  onHead: (res) => length = res.headers.get("content-length"),
  onBody: (c) => {
    for (let i = 0; i < c.length; i++) {
      if (c[i] !== block[(received + i) % block.length]) mismatches++;
    }
    received += c.length;
    if ((chunks++ & 7) === 0) {
      gc();
      const m = Deno.memoryUsage();
      peak = Math.max(peak, m.external + m.heapUsed - base.external - base.heapUsed);
    }
  },
});
await http.shutdown();
await client.close();
await server.close();
console.log(JSON.stringify({ status: r.status, length, received, mismatches, peak }));
