/**
 * The benchmark harness's IPv6 rows (issue 18; bench/harness.ts): rawstack over IPv6
 * beside its own IPv4 with the same settings — bulk TCP both ways and 1-byte
 * request/response — sampled in interleaved IPv4/IPv6 pairs
 * (`RAWSTACK_BENCH_IPV6_PAIRS`), and beside them the kernel→kernel IPv6/IPv4 ratio of the
 * same kind of transfer (`RAWSTACK_BENCH_IPV6_ROWS`). Part of each configuration's lab rows;
 * `deno run -A bench/harness.ts ipv6 [a|b]` runs only these.
 *
 * @module
 */

import { LAB_FAR_IF, LAB_ROUTER_FAR_IF } from "../src/testing/lab.ts";
import type { LabBench } from "./harness_lab.ts";
import { type AddRow, fmt, median, sampled } from "./harness_rows.ts";
import { BUSY_POLL_MS, env, IPV6_PAIRS } from "./harness_settings.ts";

/**
 * The `ipv6` mode's rows (env `RAWSTACK_BENCH_IPV6_ROWS`): `send`, `receive`, `rr`, and the
 * kernel→kernel IPv6/IPv4 references interleaved with them, `receive-kernel` (default on)
 * and `send-kernel` (opt-in: each reference adds 2 × IPV6_PAIRS measurements).
 */
const IPV6_ROWS = env("RAWSTACK_BENCH_IPV6_ROWS", "send,receive,rr,receive-kernel").split(",");

/** A measurement over IPv4 and its IPv6 twin, for {@link interleavedPairs}. */
interface FamilyTwin {
  f4: () => Promise<number>;
  f6: () => Promise<number>;
  /** Called after a failed sample (e.g. rebuild rawstack's Stack). */
  reset: () => Promise<void>;
}

/** Both families' samples of a {@link FamilyTwin} and the IPv6/IPv4 ratio of each complete pair. */
interface PairedResult {
  v4: { values: number[]; note: string | null };
  v6: { values: number[]; note: string | null };
  ratios: number[];
}

/**
 * Samples a measurement over IPv4 and its IPv6 twin in alternation, {@link IPV6_PAIRS}
 * pairs: pair i runs IPv4 then IPv6 when i is even, IPv6 then IPv4 when odd (ABBA), so
 * both families see the same load of the shared machine at the same moments and neither
 * always comes first on a freshly warmed stack. A failed sample is left out of its family
 * (noted) as in {@link sampled}.
 *
 * @returns both families' samples and the IPv6/IPv4 ratio of each complete pair
 */
async function pairedSamples(
  f4: () => Promise<number>,
  f6: () => Promise<number>,
  reset: () => Promise<void>,
): Promise<PairedResult> {
  return (await interleavedPairs([{ f4, f6, reset }]))[0];
}

/**
 * {@link pairedSamples} of several twins at once, interleaved: pair i of every twin runs
 * (in the order given, each ABBA as in {@link pairedSamples}) before pair i + 1 of any, so
 * a twin that serves as another's reference (issue 18: the kernel sender to a kernel
 * receiver beside the same sender to rawstack) sees the same moments of the shared
 * machine's load.
 *
 * @param twins the measurements
 * @returns one result per twin, in the same order
 */
async function interleavedPairs(twins: FamilyTwin[]): Promise<PairedResult[]> {
  const results: PairedResult[] = twins.map(() => ({
    v4: { values: [], note: null },
    v6: { values: [], note: null },
    ratios: [],
  }));
  const one = async (
    f: () => Promise<number>,
    into: { values: number[]; note: string | null },
    reset: () => Promise<void>,
  ): Promise<number | null> => {
    try {
      const x = await f();
      into.values.push(x);
      return x;
    } catch (e) {
      into.note = `failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 160);
      await reset();
      return null;
    }
  };
  for (let i = 0; i < IPV6_PAIRS; i++) {
    for (const [j, t] of twins.entries()) {
      const r = results[j];
      let a: number | null, b: number | null;
      if (i % 2 === 0) {
        a = await one(t.f4, r.v4, t.reset);
        b = await one(t.f6, r.v6, t.reset);
      } else {
        b = await one(t.f6, r.v6, t.reset);
        a = await one(t.f4, r.v4, t.reset);
      }
      if (a !== null && b !== null && a > 0) r.ratios.push(b / a);
    }
  }
  return results;
}

/** Prints the IPv6/IPv4 ratio of each pair of {@link pairedSamples} (the row's ratio is their median). */
function printPairRatios(workload: string, ratios: number[]): void {
  if (ratios.length === 0) return;
  const shown = ratios.map((x) => x.toFixed(2)).join(" ");
  console.log(`  (${workload}: IPv6/IPv4 per pair ${shown})`);
}

/**
 * Issue 18: IPv6 beside rawstack's own IPv4 with the same settings (ratio =
 * IPv6/IPv4): bulk TCP both directions and 1-byte request/response (the IPv4
 * one printed with the kernel's figure). The two families' samples are taken
 * in alternation ({@link pairedSamples}): minutes apart, the shared machine's
 * load differed more between them than the families do. The ratio column is
 * the median of the pairs' ratios (each pair saw one moment's load); the
 * medians of both families are printed beside it as for every row.
 *
 * @returns the kernel's request/response samples (for the rows that follow)
 */
export async function ipv6Rows(
  bench: LabBench,
  add: AddRow,
): Promise<{ values: number[]; note: string | null }> {
  if (IPV6_ROWS.includes("send")) await ipv6SendRow(bench, add);
  if (IPV6_ROWS.includes("receive")) await ipv6ReceiveRow(bench, add);
  return IPV6_ROWS.includes("rr") ? await ipv6RrRows(bench, add) : { values: [], note: "skipped" };
}

/** Failure note of a pair result (either family's). */
const pairNote = (r: PairedResult): string | null => r.v6.note ?? r.v4.note;

/**
 * A reference row of IPv6/IPv4 ratios (issue 18): rawstack's pair ratios beside those of
 * the kernel→kernel twin measured in the same pairs; the ratio column is rawstack's median
 * over the kernel's (1.00×: rawstack loses no more to IPv6 than the kernel does).
 */
function addRatioReferenceRow(
  add: AddRow,
  workload: string,
  rawstack: PairedResult,
  reference: string,
  kernel: PairedResult,
): void {
  add(
    workload,
    "IPv6/IPv4",
    { values: rawstack.ratios, note: pairNote(rawstack) },
    reference,
    { values: kernel.ratios, note: pairNote(kernel) },
    false,
    undefined,
    { ipv4: kernel.v4.values, ipv6: kernel.v6.values },
  );
}

/** Prints the kernel reference's own medians per family. */
function printReferenceMedians(what: string, r: PairedResult): void {
  console.log(
    `  (${what}: IPv4 ${fmt(median(r.v4.values))} Gbit/s, IPv6 ${
      fmt(median(r.v6.values))
    } Gbit/s, medians)`,
  );
}

/**
 * rawstack's IPv4/IPv6 pairs, and with a kernel transfer its pairs interleaved pair by pair,
 * the kernel receiver's interface `groIf` in `groNs` set to `gro` for the samples and
 * restored afterwards (the IPv6 rows' kernel→kernel reference, issue 18).
 *
 * @returns rawstack's pairs and the kernel's (null without a kernel transfer)
 */
async function pairsWithKernelReference(
  bench: LabBench,
  rawstack: FamilyTwin,
  kernel: ((ipv6: boolean) => Promise<number>) | null,
  groNs: string,
  groIf: string,
  gro: boolean,
): Promise<[PairedResult, PairedResult | null]> {
  if (kernel === null) {
    return [await pairedSamples(rawstack.f4, rawstack.f6, rawstack.reset), null];
  }
  const before = await bench.groOn(groNs, groIf);
  await bench.setGro(groNs, groIf, gro);
  try {
    const [r, k] = await interleavedPairs([rawstack, {
      f4: () => kernel(false),
      f6: () => kernel(true),
      reset: async () => {},
    }]);
    return [r, k];
  } finally {
    await bench.setGro(groNs, groIf, before);
  }
}

/**
 * rawstack sends over IPv6 beside IPv4; with `send-kernel` (and a far namespace) the
 * reference: a kernel sender (tcp_tool.py in the far namespace, far0's offloads as rs0's)
 * to the same kernel receiver namespace over pe1, whose GRO is set to pe0's for the
 * samples, interleaved pair by pair.
 */
async function ipv6SendRow(bench: LabBench, add: AddRow): Promise<void> {
  const reset = () => bench.resetStack();
  const rawstack: FamilyTwin = {
    f4: () => bench.rawstackSend(),
    f6: () => bench.rawstackSend(true),
    reset,
  };
  const lab = bench.lab;
  const withKernel = IPV6_ROWS.includes("send-kernel") && lab.farNetns !== null;
  const gro = withKernel ? await bench.groOn(lab.peerNetns, lab.peerIf) : false;
  const [send, kernel] = await pairsWithKernelReference(
    bench,
    rawstack,
    withKernel ? (v6) => bench.kernelBulk(v6) : null,
    lab.peerNetns,
    LAB_ROUTER_FAR_IF,
    gro,
  );
  add(
    "bulk TCP over IPv6, rawstack sends to a kernel receiver",
    "Gbit/s",
    send.v6,
    "rawstack over IPv4, same settings (interleaved)",
    send.v4,
    false,
    send.ratios,
  );
  printPairRatios("send", send.ratios);
  if (kernel === null) return;
  addRatioReferenceRow(
    add,
    "  … IPv6/IPv4 ratio, rawstack sends (pairs above)",
    send,
    `IPv6 bulk TCP, a kernel sends to the kernel: IPv6/IPv4 ratio (far0→pe1, receiver GRO ${
      gro ? "on" : "off"
    } as pe0; interleaved)`,
    kernel,
  );
  printPairRatios("send, kernel→kernel reference", kernel.ratios);
  printReferenceMedians("send, kernel→kernel reference", kernel);
}

/**
 * The kernel sends to rawstack over IPv6 beside IPv4; with `receive-kernel` (and a far
 * namespace) the reference of issue 18's receive ratio: the SAME kernel sender (the peer
 * namespace, tcp_tool.py, 128 KiB writes, SECONDS) to a kernel receiver (far namespace,
 * over pe1↔far0: pe1's offloads are pe0's in either configuration, BIG TCP too) with the
 * receiver's GRO set to rs0's (on: the device's `kernelGro`), its pairs interleaved with
 * rawstack's pair by pair. The kernel's own IPv6/IPv4 ratio shows what IPv6 costs this
 * sender (in (b) its MSS 1428 also cuts a 128 KiB write into 4 TSO/GRO frames against 3
 * at 1448) with a receiver that is not rawstack.
 */
async function ipv6ReceiveRow(bench: LabBench, add: AddRow): Promise<void> {
  const reset = () => bench.resetStack();
  const rawstack: FamilyTwin = {
    f4: () => bench.rawstackReceive(),
    f6: () => bench.rawstackReceive(true),
    reset,
  };
  const lab = bench.lab;
  const far = lab.farNetns;
  const withKernel = IPV6_ROWS.includes("receive-kernel") && far !== null;
  let gro = false;
  if (withKernel) {
    // rs0's GRO as rawstack's open device leaves it (kernelGro turns it on).
    await bench.stack();
    gro = await bench.groOn(lab.stackNetns, lab.stackIf);
  }
  const [receive, kernel] = await pairsWithKernelReference(
    bench,
    rawstack,
    withKernel ? (v6) => bench.kernelToFar(v6) : null,
    far ?? "",
    LAB_FAR_IF,
    gro,
  );
  add(
    "bulk TCP over IPv6, kernel sends to rawstack",
    "Gbit/s",
    receive.v6,
    "rawstack over IPv4, same settings (interleaved)",
    receive.v4,
    false,
    receive.ratios,
  );
  printPairRatios("receive", receive.ratios);
  if (kernel === null) return;
  addRatioReferenceRow(
    add,
    "  … IPv6/IPv4 ratio, the kernel sends to rawstack (pairs above)",
    receive,
    `IPv6 bulk TCP, the same kernel sender to the kernel: IPv6/IPv4 ratio (pe1→far0, receiver GRO ${
      gro ? "on" : "off"
    } as rs0; interleaved)`,
    kernel,
  );
  printPairRatios("receive, kernel→kernel reference", kernel.ratios);
  printReferenceMedians("receive, kernel→kernel reference", kernel);
}

async function ipv6RrRows(
  bench: LabBench,
  add: AddRow,
): Promise<{ values: number[]; note: string | null }> {
  const reset = () => bench.resetStack();
  const kRr = await sampled(() => bench.kernelRr());
  const rr = await pairedSamples(
    () => bench.rawstackRr(),
    () => bench.rawstackRr(BUSY_POLL_MS, true),
    reset,
  );
  add(
    `request/response, 1-byte ping-pong (busy-poll ${BUSY_POLL_MS} ms)`,
    "trans/s",
    rr.v4,
    "kernel↔kernel (tcp_tool.py)",
    kRr,
  );
  add(
    `request/response over IPv6, 1-byte ping-pong (busy-poll ${BUSY_POLL_MS} ms)`,
    "trans/s",
    rr.v6,
    "rawstack over IPv4 (row above, interleaved)",
    rr.v4,
    false,
    rr.ratios,
  );
  printPairRatios("request/response", rr.ratios);
  return kRr;
}
