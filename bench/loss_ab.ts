/**
 * A/B of rawstack's bulk goodput through random loss (issue 19), interleaved with the
 * kernel's CUBIC sender beside it: for each repeat and loss rate, every rawstack variant
 * sends once, then the kernel, so the machine's other load falls on all alike. Each
 * variant is a `TcpConfig` override and, optionally, another source tree (a worktree of an
 * older commit), whose `src/stack.ts` is imported instead of this one's.
 *
 * Run (lab, root): `flock /work/bench.lock deno run -A bench/loss_ab.ts`
 * Environment:
 * - `RAWSTACK_LOSS_AB` — JSON array of `{ "label": string, "tcp"?: object, "tree"?: path,
 *   "device"?: object }` (`AfPacketOptions`, e.g. `{"busyPollMs": 5}`; default: one variant,
 *   the engine and device defaults);
 * - `RAWSTACK_BENCH_SECONDS` (default 3), `RAWSTACK_BENCH_REPEATS` (default 5);
 * - `RAWSTACK_LOSS_PERCENTS` — comma-separated (default `1,2`; `0`: the same path without loss).
 *
 * Prints each sample (with rawstack's connection figures; for both senders the ACKs received and
 * segments sent per MSS of goodput; for rawstack its frames and super-frames out and its user and
 * system CPU) and, per rate and variant, the median goodput and the median of the per-repeat
 * ratios to the kernel.
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { Lab, procNetCounters } from "../src/testing/lab.ts";
import type { Stack } from "../src/stack.ts";
import { lossyGoodputKernelSends, lossyGoodputRawstackSends } from "../src/testing/loss_lab.ts";

interface Variant {
  label: string;
  tcp?: Record<string, unknown>;
  tree?: string;
  device?: Record<string, unknown>;
}

const env = (name: string, fallback: string): string => Deno.env.get(name) ?? fallback;
const SECONDS = Number(env("RAWSTACK_BENCH_SECONDS", "3"));
const REPEATS = Number(env("RAWSTACK_BENCH_REPEATS", "5"));
const PERCENTS = env("RAWSTACK_LOSS_PERCENTS", "1,2").split(",").map(Number);
const VARIANTS: Variant[] = JSON.parse(env("RAWSTACK_LOSS_AB", '[{"label":"default"}]'));
/** `RAWSTACK_LOSS_AB_TRACE=1`: sample cwnd while sending (rawstack's info(), the kernel's `ss`). */
const TRACE = env("RAWSTACK_LOSS_AB_TRACE", "0") === "1";
/** Interval of rawstack's cwnd samples, ms. */
const TRACE_RAWSTACK_MS = 20;
/** Interval of the kernel's cwnd samples (`ss` in the stack namespace), ms. */
const TRACE_KERNEL_MS = 100;
/** MSS of the lab's data segments (1500-byte MTU, timestamps). */
const DATA_MSS = 1448;

/** A counter group of the stack namespace's kernel (its sender beside rawstack). */
async function kernelCounters(
  lab: Lab,
  file: "/proc/net/netstat" | "/proc/net/snmp",
  group: string,
): Promise<Map<string, number>> {
  return procNetCounters((await lab.runIn(lab.stackNetns, ["cat", file])).stdout, group);
}

/** Segments in and out per MSS of goodput (ACKs per data segment: the path's packet count). */
function segmentsLine(segsIn: number, segsOut: number, gbps: number): string {
  const dataSegs = (gbps * 1e9 / 8 * SECONDS) / DATA_MSS;
  return `ACKs in ${(segsIn / dataSegs).toFixed(2)}/seg, segments out ${
    (segsOut / dataSegs).toFixed(2)
  }/seg`;
}

/** The kernel's recovery counters between two {@link kernelCounters} readings. */
function kernelRecoveryLine(a: Map<string, number>, b: Map<string, number>): string {
  const d = (n: string) => (b.get(n) ?? 0) - (a.get(n) ?? 0);
  return `recoveries ${d("TCPSackRecovery")}, TLPs ${d("TCPLossProbes")}, ` +
    `RTOs ${d("TCPTimeouts")}, undos ${d("TCPFullUndo") + d("TCPPartialUndo") + d("TCPDSACKUndo")}`;
}

/** Mean, the share of samples at or below 3 segments, and the count, of cwnd samples. */
function cwndSummary(xs: number[]): string {
  if (xs.length === 0) return "no cwnd samples";
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const small = xs.filter((x) => x <= 3).length / xs.length;
  return `cwnd mean ${mean.toFixed(1)} seg, <=3 seg ${(small * 100).toFixed(0)} % (${xs.length})`;
}
/** First port (each sample takes the next). */
const PORT_BASE = 7000;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)];
};

const stackClasses = new Map<string, typeof Stack>();
for (const v of VARIANTS) {
  const tree = v.tree ?? new URL("..", import.meta.url).pathname;
  if (!stackClasses.has(tree)) {
    stackClasses.set(tree, (await import(`${tree}/src/stack.ts`)).Stack);
  }
}

const lab = await Lab.create({ prefix: "rsab", router: true });
let port = PORT_BASE;
try {
  for (const pct of PERCENTS) {
    const got = new Map<string, number[]>(VARIANTS.map((v) => [v.label, []]));
    const ratios = new Map<string, number[]>(VARIANTS.map((v) => [v.label, []]));
    const kernel: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      const row = new Map<string, number>();
      for (const v of VARIANTS) {
        const StackClass = stackClasses.get(v.tree ?? new URL("..", import.meta.url).pathname)!;
        const device = await lab.openDevice({ mode: "ring-v2", ...v.device });
        const stack = new StackClass({
          device,
          ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
          gateway: lab.peerAddress,
          tcp: v.tcp ?? {},
          onError: () => {},
        });
        try {
          await stack.start();
          const cwnds: number[] = [];
          const timer = TRACE
            ? setInterval(() => {
              for (const c of stack.tcp.connections()) cwnds.push(c.info().cwnd / DATA_MSS);
            }, TRACE_RAWSTACK_MS)
            : 0;
          const in0 = stack.tcp.stats.segmentsIn;
          const out0 = stack.tcp.stats.segmentsOut;
          const dev0 = { ...device.stats };
          const cpu0 = cpuUsage();
          const r = await lossyGoodputRawstackSends(lab, stack, port++, pct, SECONDS).finally(
            () => clearInterval(timer),
          );
          const cpu = cpuUsage(cpu0);
          // This process's CPU (the JavaScript thread, and the kernel's work in its sendmsg
          // calls) per gigabyte delivered.
          const cpuPerGb = (cpu.user + cpu.system) / 1e6 / (r.gbps * SECONDS / 8);
          if (TRACE) console.log(`  ${v.label}: ${cwndSummary(cwnds)}`);
          const dev = device.stats;
          console.log(
            `  ${v.label}: ${
              segmentsLine(
                stack.tcp.stats.segmentsIn - in0,
                stack.tcp.stats.segmentsOut - out0,
                r.gbps,
              )
            }, frames out ${dev.txFrames - dev0.txFrames} (super-frames ${
              (dev as unknown as Record<string, number>).txSuperFrames -
              (dev0 as unknown as Record<string, number>).txSuperFrames
            }), parks ${dev.parks - dev0.parks}, busy-poll preemptions ${
              dev.busyPollPreemptions - dev0.busyPollPreemptions
            }, user ${(cpu.user / 1e6).toFixed(2)} s, system ${(cpu.system / 1e6).toFixed(2)} s`,
          );
          row.set(v.label, r.gbps);
          got.get(v.label)!.push(r.gbps);
          const n = r.info;
          console.log(
            `${pct} % #${i} ${v.label}: ${r.gbps.toFixed(2)} Gbit/s, dropped ${r.dropped}` +
              `, ${cpuPerGb.toFixed(2)} CPU s/GB` +
              (n === undefined ? "" : `, recoveries ${n.recoveries}, TLPs ${n.tlpProbes}, ` +
                `RTOs ${n.timeouts}, undos ${n.undos}, srtt ${n.srttMs.toFixed(2)} ms, ` +
                `minRtt ${n.minRttMs?.toFixed(3)} ms`),
          );
        } finally {
          await stack.close();
        }
      }
      const kPort = port++;
      const ext0 = await kernelCounters(lab, "/proc/net/netstat", "TcpExt");
      const snmp0 = await kernelCounters(lab, "/proc/net/snmp", "Tcp");
      const kCwnds: number[] = [];
      let tracing = TRACE;
      const sampler = (async () => {
        while (tracing) {
          await new Promise((r) => setTimeout(r, TRACE_KERNEL_MS));
          const out = await lab.runIn(lab.stackNetns, ["ss", "-tin", "dport", "=", `:${kPort}`]);
          for (const m of out.stdout.matchAll(/ cwnd:(\d+)/g)) kCwnds.push(Number(m[1]));
        }
      })();
      const k = await lossyGoodputKernelSends(lab, kPort, pct, SECONDS, "cubic").finally(
        () => tracing = false,
      );
      await sampler;
      if (TRACE) console.log(`  kernel: ${cwndSummary(kCwnds)}`);
      kernel.push(k.gbps);
      const ext1 = await kernelCounters(lab, "/proc/net/netstat", "TcpExt");
      const snmp1 = await kernelCounters(lab, "/proc/net/snmp", "Tcp");
      const dSnmp = (n: string) => (snmp1.get(n) ?? 0) - (snmp0.get(n) ?? 0);
      console.log(`  kernel: ${segmentsLine(dSnmp("InSegs"), dSnmp("OutSegs"), k.gbps)}`);
      console.log(
        `${pct} % #${i} kernel cubic: ${k.gbps.toFixed(2)} Gbit/s, dropped ${k.dropped}, ` +
          kernelRecoveryLine(ext0, ext1),
      );
      for (const [label, g] of row) ratios.get(label)!.push(g / k.gbps);
    }
    console.log(`== ${pct} %: kernel cubic median ${median(kernel).toFixed(2)} Gbit/s`);
    for (const v of VARIANTS) {
      console.log(
        `== ${pct} % ${v.label}: median ${median(got.get(v.label)!).toFixed(2)} Gbit/s, ` +
          `ratio median ${median(ratios.get(v.label)!).toFixed(2)}× ` +
          `(${ratios.get(v.label)!.map((x) => x.toFixed(2)).join(" ")})`,
      );
    }
  }
} finally {
  await lab.destroy();
}
