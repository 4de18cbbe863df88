/**
 * The rawstack benchmark harness (issue 5): one command, one run, every
 * rawstack figure beside the Linux kernel's figure measured in the same run
 * over the same kind of veth pair, with the ratio; min/median/max over
 * repeats; a printed table and a JSON file in bench/results/.
 *
 * Run (lab, root): `deno run -A bench/harness.ts`
 * Environment:
 * - `RAWSTACK_BENCH_SECONDS` — seconds per measurement (default 3; the issue's
 *   figures use 10);
 * - `RAWSTACK_BENCH_REPEATS` — repeats per figure (default 3);
 * - `RAWSTACK_BENCH_IPV6_PAIRS` — IPv4/IPv6 sample pairs of each IPv6 row
 *   (default 5, at least `RAWSTACK_BENCH_REPEATS`; see `ipv6Rows` in
 *   bench/harness_ipv6.ts);
 * - `RAWSTACK_BENCH_CONFIGS` — `a`, `b` or `ab` (default `ab`);
 * - `RAWSTACK_BENCH_MODE` — AF_PACKET receive mode (default `ring-v2`);
 * - `RAWSTACK_BENCH_BUSY_POLL_MS` — the device's busy-poll window (default 5);
 * - `RAWSTACK_BENCH_IDLE_CONNS` — idle connections held (default 10000; the
 *   issue's "100,000 held" check: `RAWSTACK_BENCH_IDLE_CONNS=100000
 *   RAWSTACK_BENCH_IDLE_SECONDS=10 deno run -A --v8-flags=--expose-gc
 *   bench/harness.ts idle`, not part of CI);
 * - `RAWSTACK_BENCH_IDLE_SECONDS` — how long the idle row watches heap, timers
 *   and loop ticks (default 2);
 * - `RAWSTACK_BENCH_TCP_BUFFER_BYTES` — rawstack send/receive buffer per
 *   connection (default: the engine's default).
 * - `RAWSTACK_BENCH_TX_THREAD` — `1`: rawstack's device sends full transmit
 *   batches from a worker thread (`AfPacketOptions.txThread`; default off).
 * - `RAWSTACK_BENCH_BIG_TCP` — bytes (default 0: off): Linux BIG TCP on the
 *   kernel sender of the `ipv6` mode, both families alike (the peer's
 *   `gso_max_size` and `gso_ipv4_max_size`; its TSO frames reach rawstack
 *   whole only in (b), where its offloads are on), and rawstack's ring slots
 *   sized for them (`rxMaxFrameBytes`, the same ring bytes as without).
 * - `RAWSTACK_BENCH_IPV6_ROWS` — which rows the `ipv6` mode runs, of
 *   `send,receive,rr,receive-kernel,send-kernel` (default all but
 *   `send-kernel`; `*-kernel`: the IPv6/IPv4 ratio of kernel→kernel bulk TCP
 *   beside rawstack's, see `ipv6ReceiveRow` in bench/harness_ipv6.ts).
 * - the others (`RAWSTACK_BENCH_VNET`, `_TX_OFFLOADS`, `_RX_BUDGET`, `_PREFIX`, `_HTTP`,
 *   `_HTTP_MODES`, `_MEMLINK_OFFLOAD`, `_HOSTILE_MIB`) where they are read:
 *   bench/harness_settings.ts and the modules of their rows.
 *
 * The rows, each group in its module:
 * - bench/harness_lab_rows.ts — each configuration's lab rows: iperf3 for context, bulk TCP
 *   both ways, request/response, new connections/s; the lab, its topology and
 *   configurations (a) and (b), and the measurements themselves: bench/harness_lab.ts;
 * - bench/harness_ipv6.ts — the IPv6 rows beside their IPv4 twins (issue 18);
 * - bench/harness_http.ts — the HTTP rows (issue #20; they need `wrk`);
 * - bench/harness_router.ts — rawstack routing beside the kernel's forwarding;
 * - bench/harness_loss.ts — the loss-recovery rows (issue 19);
 * - bench/harness_in_process.ts — the rows that need no lab, in child processes of this
 *   file: `memlink`, `idle`, `hostile`;
 * - bench/harness_rows.ts — the rows, their samples and the printed table.
 *
 * Without root the lab rows print "n/a (needs root ...)" and the in-process
 * rows still run. Nothing here asserts on time.
 *
 * Modes (`deno run -A bench/harness.ts MODE ...`; none: the full run, {@link main}):
 * - `bulk` — only configuration (a)'s like-for-like bulk rows;
 * - `ipv6 [a|b]` — only the IPv6 rows beside their IPv4 twins (default `b`);
 * - `loss` — only the loss-recovery rows;
 * - `http [a|b]`, `lab-send`/`lab-receive [a|b] [super]`, `lab-rr`/`lab-crr [a|b]` — one
 *   measurement each, e.g. for `--cpu-prof` (bench/harness_lab_modes.ts);
 * - `memlink [SECONDS]`, `idle [N]`, `hostile quiet|attacked` — the child processes of the
 *   in-process rows, each printing one JSON line (bench/harness_in_process.ts).
 *
 * @module
 */

import { Lab, LAB_ROUTER_FAR_IF } from "../src/testing/lab.ts";
import {
  hostileChild,
  hostileRows,
  idleChild,
  inProcessRows,
  memlinkChild,
} from "./harness_in_process.ts";
import { ipv6Rows } from "./harness_ipv6.ts";
import { LabBench } from "./harness_lab.ts";
import { labBulkChild, labHttpChild, labSmallChild } from "./harness_lab_modes.ts";
import { labRows, likeForLikeBulkRows } from "./harness_lab_rows.ts";
import { lossRows } from "./harness_loss.ts";
import { routerRows } from "./harness_router.ts";
import { configLabel, median, printTable, type Row, rowAdder } from "./harness_rows.ts";
import {
  BIG_TCP_BYTES,
  BUSY_POLL_MS,
  CONFIGS,
  DEVICE_MODE,
  HERE,
  IDLE_CONNS,
  IPV6_PAIRS,
  PREFIX,
  REPEATS,
  SECONDS,
  VNET_ENV,
} from "./harness_settings.ts";

const RESULTS_DIR = `${HERE}results`;

async function machine(): Promise<Record<string, string>> {
  const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => "")).match(
    /model name\s*:\s*(.*)/,
  )?.[1] ?? "unknown";
  return {
    cpus: String(navigator.hardwareConcurrency),
    cpuModel: cpu,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
  };
}

/** The full run: every row, the table, and the JSON file in bench/results/. */
async function main(): Promise<void> {
  const info = await machine();
  console.log(
    `rawstack benchmark — ${info.cpus} CPUs (${info.cpuModel}), Linux ${info.kernel}, Deno ${info.deno}`,
  );
  console.log(
    `${SECONDS} s per measurement, ${REPEATS} repeats (IPv6 rows: ${IPV6_PAIRS} interleaved IPv4/IPv6 pairs); rawstack device ${DEVICE_MODE}, ` +
      `busyPollMs ${BUSY_POLL_MS}; kernel reference over the veth pe1↔far0`,
  );
  console.log(
    "offloads: (a) the kernel sender's and rawstack's veth ends tx/tso/gso off (1514-byte " +
      "frames on the kernel peer's wire both ways), rawstack's device with default options " +
      `(vnetHeader ${VNET_ENV === "" ? "on by default" : `env ${VNET_ENV}`}; ` +
      `rs0's GRO: ${
        VNET_ENV === ""
          ? "turned on by the device itself (kernelGro, on by default)"
          : "as the veth"
      }, the GRO state measured is printed before the bulk rows); ` +
      "(b) default veth offloads, rawstack's device with vnetHeader: true (super-frames)\n",
  );
  const rows: Row[] = [];
  const started = performance.now();
  for (const c of ["a", "b"] as const) {
    if (CONFIGS.includes(c)) await labRows(c, rows);
  }
  if (CONFIGS.includes("a")) await routerRows(rows);
  await lossRows(rows);
  const extra = await inProcessRows(rows);
  await hostileRows(rows);
  console.log(
    `\nrawstack vs the Linux kernel — one run, ${
      ((performance.now() - started) / 1000).toFixed(0)
    } s`,
  );
  printTable(rows);
  await Deno.mkdir(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const path = `${RESULTS_DIR}/bench-${stamp}.json`;
  await Deno.writeTextFile(
    path,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: info,
        settings: {
          seconds: SECONDS,
          repeats: REPEATS,
          ipv6Pairs: IPV6_PAIRS,
          deviceMode: DEVICE_MODE,
          busyPollMs: BUSY_POLL_MS,
        },
        rows: rows.map((r) => ({
          ...r,
          rawstackMedian: median(r.rawstack),
          kernelMedian: median(r.kernel),
          ratio: r.pairRatios !== undefined && r.pairRatios.length > 0
            ? median(r.pairRatios)
            : r.kernel.length && r.rawstack.length
            ? median(r.rawstack) / median(r.kernel)
            : null,
        })),
        extra,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`\nresults written to ${path}`);
}

if (Deno.args[0] === "http") {
  await labHttpChild(Deno.args[1] === "b" ? "b" : "a");
} else if (Deno.args[0] === "lab-rr" || Deno.args[0] === "lab-crr") {
  await labSmallChild(Deno.args[0] === "lab-rr" ? "rr" : "crr", Deno.args[1] === "b" ? "b" : "a");
} else if (Deno.args[0] === "lab-send" || Deno.args[0] === "lab-receive") {
  await labBulkChild(
    Deno.args[0] === "lab-send" ? "send" : "receive",
    Deno.args[1] === "b" ? "b" : "a",
    Deno.args[2] === "super",
  );
} else if (Deno.args[0] === "bulk") {
  // Issue 22's like-for-like bulk rows of configuration (a) alone.
  const rows: Row[] = [];
  const lab = await Lab.create({ prefix: PREFIX, router: true });
  const bench = new LabBench(lab, "a");
  try {
    await likeForLikeBulkRows(bench, rowAdder(rows, configLabel("a")));
  } finally {
    await bench.close();
    await lab.destroy();
  }
  printTable(rows);
} else if (Deno.args[0] === "ipv6") {
  // Issue 18's IPv6 rows beside their IPv4 twins alone: `ipv6 [a|b]` (default b).
  const config = Deno.args[1] === "a" ? "a" : "b";
  const rows: Row[] = [];
  const lab = await Lab.create({
    prefix: PREFIX,
    router: true,
    peerOffloads: config === "b",
    ipv6: true,
  });
  const bench = new LabBench(lab, config);
  try {
    if (BIG_TCP_BYTES > 0) {
      await lab.setPeerGsoMaxSize(BIG_TCP_BYTES);
      // The kernel→kernel reference's sender end (pe1) alike.
      await lab.setPeerGsoMaxSize(BIG_TCP_BYTES, LAB_ROUTER_FAR_IF);
    }
    await ipv6Rows(bench, rowAdder(rows, configLabel(config)));
  } finally {
    await bench.close();
    await lab.destroy();
  }
  printTable(rows);
} else if (Deno.args[0] === "loss") {
  const rows: Row[] = [];
  await lossRows(rows);
  printTable(rows);
} else if (Deno.args[0] === "memlink") {
  await memlinkChild(Number(Deno.args[1] ?? SECONDS));
} else if (Deno.args[0] === "idle") {
  await idleChild(Number(Deno.args[1] ?? IDLE_CONNS));
} else if (Deno.args[0] === "hostile") {
  await hostileChild(Deno.args[1] === "attacked");
} else if (import.meta.main) {
  await main();
}
