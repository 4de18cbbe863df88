/**
 * The benchmark harness's router rows (bench/harness.ts, configuration (a)'s runs):
 * rawstack routing between two veth links beside the kernel's forwarding, measured by
 * bench/router_bench.ts.
 *
 * @module
 */

import { labUnavailableReason } from "../src/testing/lab.ts";
import { routerBench } from "./router_bench.ts";
import { type Row, rowAdder } from "./harness_rows.ts";
import { BUSY_POLL_MS, PREFIX, REPEATS, SECONDS } from "./harness_settings.ts";

/**
 * rawstack routing between two veth links against the kernel's forwarding
 * in the same namespaces, same run (bench/router_bench.ts): small-datagram
 * forwarding rate and TCP goodput, goal ≥ 0.5× the kernel.
 */
export async function routerRows(rows: Row[]): Promise<void> {
  const reason = labUnavailableReason(["iperf3", "ss", "ethtool"]);
  const pps = { rawstack: [] as number[], kernel: [] as number[] };
  const linkPps = { rawstack: [] as number[], kernel: [] as number[] };
  const gbps = { rawstack: [] as number[], kernel: [] as number[] };
  const tso = { rawstack: [] as number[], kernel: [] as number[] };
  let note: string | null = reason === null ? null : `skipped: ${reason}`;
  for (let i = 0; i < REPEATS && reason === null; i++) {
    try {
      const r = await routerBench(SECONDS, `${PREFIX}r`, BUSY_POLL_MS);
      pps.rawstack.push(r.rawstack.pps / 1000);
      pps.kernel.push(r.kernel.pps / 1000);
      linkPps.rawstack.push(r.rawstack.linkPps / 1000);
      linkPps.kernel.push(r.kernel.linkPps / 1000);
      gbps.rawstack.push(r.rawstack.gbps);
      gbps.kernel.push(r.kernel.gbps);
      // The same with the hosts' offloads on: super-frames forwarded whole by both routers.
      const t = await routerBench(SECONDS, `${PREFIX}r`, BUSY_POLL_MS, { peerOffloads: true });
      tso.rawstack.push(t.rawstack.gbps);
      tso.kernel.push(t.kernel.gbps);
    } catch (e) {
      note = `failed: ${e instanceof Error ? e.message : e}`.slice(0, 160);
    }
  }
  const add = rowAdder(rows, "router");
  for (
    const [workload, unit, v] of [
      ["router: forwarding rate, 64-byte UDP A→B (goal ≥ 0.5× kernel)", "kpps", pps],
      // The frames the router put on B's link: with a user-space router, three busy processes
      // share the cores and B's iperf3 reads fewer than arrive (its socket buffer overflows).
      ["router: 64-byte UDP frames onto B's link (router's own rate)", "kpps", linkPps],
      ["router: TCP goodput A→B through it (goal ≥ 0.5× kernel)", "Gbit/s", gbps],
      ["router: TCP goodput A→B, hosts' TSO on (64 KiB super-frames)", "Gbit/s", tso],
    ] as const
  ) {
    add(
      workload,
      unit,
      { values: v.rawstack, note },
      "kernel ip_forward=1, same namespaces",
      { values: v.kernel, note },
    );
  }
}
