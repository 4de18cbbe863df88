/**
 * The benchmark harness's loss-recovery rows (issue 19; bench/harness.ts `loss`, also
 * part of the full run), configuration (a) with `nft` in the router namespace
 * (src/testing/loss_lab.ts): the completion time of a 64 KiB response whose last 3
 * segments the router drops once, rawstack sending against the kernel sending (lower is
 * better: the tail loss probe against the RTO), and bulk goodput through 1 % and 2 %
 * random loss on the data direction (`numgen random mod 100 < P drop`), like for like:
 * rawstack and a kernel sender beside it (its address on rawstack's interface in the
 * stack namespace) send to the same kernel receiver through the same rule. The kernel
 * sends with CUBIC (rawstack's algorithm) and, when the namespace's default differs (bbr
 * on this host), with that in a second row.
 *
 * @module
 */

import { Lab, labUnavailableReason } from "../src/testing/lab.ts";
import { Stack } from "../src/stack.ts";
import type { TcpInfo } from "../src/tcp/connection.ts";
import {
  kernelCongestionControl,
  lossyGoodputKernelSends,
  lossyGoodputRawstackSends,
  tailLossKernelSends,
  tailLossRawstackSends,
} from "../src/testing/loss_lab.ts";
import { type Row, rowAdder, sampled, within } from "./harness_rows.ts";
import { DEVICE_MODE, PREFIX, REPEATS, SECONDS, STACK_TCP } from "./harness_settings.ts";

/** First port of the loss-recovery rows (each measurement takes the next one). */
const LOSS_PORT_BASE = 6000;
/** Random loss rates of the goodput rows, percent. */
const LOSS_PERCENTS = [1, 2];

/** One rawstack loss sample's connection figures, for the log. */
function lossInfoLine(dropped: number, info: TcpInfo | undefined): string {
  if (info === undefined) return `dropped ${dropped}`;
  return `dropped ${dropped}, retransmits ${info.retransmits}, recoveries ${info.recoveries}, ` +
    `rack losses ${info.rackLosses}, TLPs ${info.tlpProbes}, undos ${info.undos}, ` +
    `RTOs ${info.timeouts}, spurious RTOs ${info.spuriousRtos}, D-SACKs in ${info.dsacksReceived}, cwnd ${info.cwnd}, ` +
    `ssthresh ${info.ssthresh}, srtt ${info.srttMs.toFixed(2)} ms`;
}

/** Issue 19's rows: tail-loss completion time and goodput through random loss, beside the kernel. */
export async function lossRows(rows: Row[]): Promise<void> {
  const label = "(a) offloads off";
  const reason = labUnavailableReason(["python3", "nft", "ss"]);
  const add = rowAdder(rows, label);
  const tailName = "64 KiB response, last 3 segments dropped once: completion";
  const bulkName = (p: number) => `bulk TCP through ${p} % random loss (nft numgen): goodput`;
  if (reason !== null) {
    const na = { values: [], note: `n/a (${reason})` };
    add(tailName, "ms", na, "kernel sends", na, true);
    for (const p of LOSS_PERCENTS) add(bulkName(p), "Gbit/s", na, "kernel sends", na, false);
    return;
  }
  const lab = await Lab.create({ prefix: `${PREFIX}l`, router: true });
  let port = LOSS_PORT_BASE;
  let stack: Stack | null = null;
  const getStack = async (): Promise<Stack> => {
    if (stack !== null && !stack.closed) return stack;
    const device = await lab.openDevice({ mode: DEVICE_MODE });
    stack = new Stack({
      device,
      ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
      gateway: lab.peerAddress,
      tcp: STACK_TCP,
      onError: () => {},
    });
    await stack.start();
    return stack;
  };
  const reset = async () => {
    const s = stack;
    stack = null;
    await s?.close();
  };
  const timed = <T>(f: (s: Stack, port: number) => Promise<T>) => async (): Promise<T> =>
    await within(f(await getStack(), port++), 60_000, "loss measurement");
  try {
    add(
      tailName,
      "ms",
      await sampled(
        timed(async (s, p) => (await tailLossRawstackSends(lab, s, p)).completionMs),
        reset,
      ),
      "kernel sends (same drop)",
      await sampled(
        timed(async (s, p) => (await tailLossKernelSends(lab, s, p)).completionMs),
        reset,
      ),
      true,
    );
    // Like for like (issue 19): rawstack and a kernel sender beside it on rawstack's own
    // interface (stack namespace, offloads off) send to one kernel sink in the far namespace
    // through the router's one drop rule. rawstack runs CUBIC; the kernel sends with CUBIC
    // (TCP_CONGESTION) and, in a second row, with the namespace's default (bbr on some hosts:
    // not loss-based, random loss hardly slows it). The samples interleave so that the
    // machine's other load falls on all of them alike.
    const kcc = await kernelCongestionControl(lab);
    const others = kcc === "cubic" ? [] : [kcc];
    for (const pct of LOSS_PERCENTS) {
      const r: number[] = [];
      const k = new Map<string, number[]>([
        ["cubic", []],
        ...others.map((c) => [c, []] as [string, number[]]),
      ]);
      const notes = { r: null as string | null, k: null as string | null };
      const infos: string[] = [];
      for (let i = 0; i < REPEATS; i++) {
        try {
          const got = await timed((s, p) => lossyGoodputRawstackSends(lab, s, p, pct, SECONDS))();
          r.push(got.gbps);
          infos.push(lossInfoLine(got.dropped, got.info));
        } catch (e) {
          notes.r = `failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 160);
        }
        // rawstack's stack closes while the kernel sends: its device would otherwise take a
        // copy of every frame on the shared interface.
        await reset();
        for (const [cc, xs] of k) {
          try {
            const got = await within(
              lossyGoodputKernelSends(lab, port++, pct, SECONDS, cc),
              60_000,
              "kernel loss measurement",
            );
            xs.push(got.gbps);
          } catch (e) {
            notes.k = `failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 160);
          }
        }
      }
      for (const line of infos) console.log(`  rawstack at ${pct} %: ${line}`);
      for (const [cc, xs] of k) {
        add(
          bulkName(pct),
          "Gbit/s",
          { values: r, note: notes.r },
          `kernel beside rawstack sends (${cc}${
            cc === kcc ? ", the default" : ""
          }), same receiver and loss`,
          { values: xs, note: notes.k },
          false,
        );
      }
    }
  } finally {
    await reset();
    await lab.destroy();
  }
}
