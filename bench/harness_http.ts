/**
 * The benchmark harness's HTTP rows (issue #20; bench/harness.ts; `RAWSTACK_BENCH_HTTP=0`
 * skips them, they need `wrk`): wrk in the peer namespace against `stack.serve` on rawstack
 * and against `Deno.serve` on the kernel in the far namespace (one veth hop each), with
 * `Connection: close` and with keep-alive, requests/s and p99 latency; and `stack.fetch`
 * beside Deno's own `fetch` (from the far namespace) against one `Deno.serve` in the peer
 * namespace. `deno run -A bench/harness.ts http [a|b]` runs only these.
 *
 * @module
 */

import { LAB_ROUTER_FAR_ADDRESS } from "../src/testing/lab.ts";
import type { StackHttpServer } from "../src/http/serve.ts";
import type { LabBench } from "./harness_lab.ts";
import { sampled } from "./harness_rows.ts";
import {
  env,
  FETCH_LOOPS,
  HTTP_FETCH_PORT,
  HTTP_SERVE_PORT,
  WRK_CONNECTIONS,
} from "./harness_settings.ts";

/**
 * `RAWSTACK_BENCH_HTTP_MODES` — which HTTP rows run (default `close,keep-alive,fetch`), e.g.
 * `keep-alive` alone to profile it (`deno run -A --cpu-prof bench/harness.ts http`).
 */
const HTTP_MODES = env("RAWSTACK_BENCH_HTTP_MODES", "close,keep-alive,fetch").split(",");

/** {@link sampled} for wrk: requests/s samples, and the p99 of each in `p99`. */
async function wrkSampled(
  run: () => Promise<{ rps: number; p99Ms: number }>,
  reset?: () => Promise<void>,
): Promise<
  { rps: { values: number[]; note: string | null }; p99: { values: number[]; note: string | null } }
> {
  const p99: number[] = [];
  const rps = await sampled(async () => {
    const r = await run();
    p99.push(r.p99Ms);
    return r.rps;
  }, reset);
  return { rps, p99: { values: p99, note: rps.note } };
}

/**
 * The HTTP rows (issue #20): wrk in the peer namespace against stack.serve
 * (rawstack, one veth hop) and against Deno.serve on the kernel in the far
 * namespace (one veth hop, pe1↔far0), plain (`Connection: close`) and
 * keep-alive; stack.fetch against Deno.serve in the peer namespace beside
 * Deno's fetch from the far namespace to the same server.
 */
export async function httpRows(
  bench: LabBench,
  add: (
    workload: string,
    unit: string,
    r: { values: number[]; note: string | null },
    reference: string,
    k: { values: number[]; note: string | null },
    lowerIsBetter?: boolean,
  ) => void,
): Promise<void> {
  const reset = () => bench.resetStack();
  const lab = bench.lab;
  const kernelServe = await bench.denoServe("far", HTTP_SERVE_PORT);
  try {
    for (const keepAlive of [false, true]) {
      const mode = keepAlive ? "keep-alive" : "Connection: close";
      if (!HTTP_MODES.includes(keepAlive ? "keep-alive" : "close")) continue;
      let server: StackHttpServer | null = null;
      const rs = await wrkSampled(async () => {
        server ??= await bench.stackServe();
        return await bench.wrk(`http://${lab.stackAddress}:${HTTP_SERVE_PORT}/`, keepAlive);
      }, async () => {
        server = null;
        await reset();
      });
      await (server as StackHttpServer | null)?.shutdown();
      const ks = await wrkSampled(() =>
        bench.wrk(`http://${lab.farAddress}:${HTTP_SERVE_PORT}/`, keepAlive)
      );
      const what = `HTTP server, wrk ${WRK_CONNECTIONS} conns, ${mode}`;
      add(`${what}: stack.serve`, "req/s", rs.rps, "Deno.serve on the kernel", ks.rps);
      add(`  … p99 latency`, "ms", rs.p99, "Deno.serve on the kernel", ks.p99, true);
    }
  } finally {
    await kernelServe.kill();
  }
  if (!HTTP_MODES.includes("fetch")) return;
  const fetchServe = await bench.denoServe("peer", HTTP_FETCH_PORT);
  try {
    add(
      `HTTP client, ${FETCH_LOOPS} loops, keep-alive: stack.fetch`,
      "req/s",
      await sampled(
        () => bench.stackFetchRate(`http://${lab.peerAddress}:${HTTP_FETCH_PORT}/`),
        reset,
      ),
      "Deno fetch, kernel, same server",
      await sampled(() =>
        bench.denoFetchRate(`http://${LAB_ROUTER_FAR_ADDRESS}:${HTTP_FETCH_PORT}/`)
      ),
    );
  } finally {
    await fetchServe.kill();
  }
}
