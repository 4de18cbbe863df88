/**
 * Helper processes of the HTTP rows of bench/harness.ts, run inside lab
 * namespaces (so Deno's own networking uses the kernel there):
 *
 * - `serve PORT` — `Deno.serve` answering every request with a 25-byte page;
 * - `fetch URL SECONDS CONCURRENCY` — Deno's `fetch` in CONCURRENCY loops for
 *   SECONDS (after a short warm-up), keep-alive; prints
 *   `{"requests":…, "seconds":…, "rate":…}`.
 *
 * @module
 */

/** The page every benchmark server sends (25 bytes, as in issue #20's figures). */
export const BENCH_PAGE = "hello from the benchmark\n";

/**
 * Requests issued by `loops` concurrent loops of `once` for `seconds` (after `warmMs`).
 *
 * @param once one request, body read
 * @param seconds measuring time
 * @param loops concurrent loops
 * @param warmMs warm-up before counting
 * @returns requests counted, the measured seconds and the rate
 */
export async function requestRate(
  once: () => Promise<void>,
  seconds: number,
  loops: number,
  warmMs = 300,
): Promise<{ requests: number; seconds: number; rate: number }> {
  let counting = false;
  let requests = 0;
  let stop = false;
  const runners = Array.from({ length: loops }, async () => {
    while (!stop) {
      await once();
      if (counting) requests++;
    }
  });
  await new Promise((r) => setTimeout(r, warmMs));
  counting = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const secs = (performance.now() - t0) / 1000;
  const counted = requests;
  stop = true;
  await Promise.all(runners);
  return { requests: counted, seconds: secs, rate: counted / secs };
}

if (import.meta.main) {
  const [mode, a, b, c] = Deno.args;
  if (mode === "serve") {
    Deno.serve(
      { port: Number(a), hostname: "0.0.0.0", onListen: () => {} },
      () => new Response(BENCH_PAGE),
    );
  } else if (mode === "fetch") {
    const url = a;
    const r = await requestRate(
      async () => {
        const res = await fetch(url);
        await res.arrayBuffer();
      },
      Number(b),
      Number(c),
    );
    console.log(JSON.stringify(r));
  } else {
    console.error("usage: _http_tool.ts serve PORT | fetch URL SECONDS CONCURRENCY");
    Deno.exit(2);
  }
}
