/**
 * The benchmark harness's one-measurement lab modes (bench/harness.ts `lab-send`,
 * `lab-receive`, `lab-rr`, `lab-crr`, `http`). For profiling (see bench/profile_top.ts):
 * `deno run -A --cpu-prof bench/harness.ts memlink 5`, `... lab-send`, `... lab-receive`,
 * `... lab-rr`, `... lab-crr` run one measurement each (lab-rr/lab-crr print the kernel
 * figure beside it); `http` runs only the HTTP rows.
 *
 * @module
 */

import process from "node:process";
import { Lab } from "../src/testing/lab.ts";
import { httpRows } from "./harness_http.ts";
import { LabBench } from "./harness_lab.ts";
import { configLabel, printTable, type Row, rowAdder } from "./harness_rows.ts";
import { PREFIX } from "./harness_settings.ts";

/**
 * Child modes `lab-send` / `lab-receive` [`a`|`b`] [`super`]: one bulk measurement in
 * configuration (a) (default; like for like, or with `super` rawstack's interface keeps its
 * TSO) or (b), for `--cpu-prof`.
 */
export async function labBulkChild(
  direction: "send" | "receive",
  config: "a" | "b",
  superFrames: boolean,
): Promise<void> {
  const lab = await Lab.create({ prefix: PREFIX, router: true, peerOffloads: config === "b" });
  const bench = new LabBench(lab, config);
  try {
    // (a) is like for like unless `super` asks for super-frames on the peer's wire.
    if (config === "a" && !superFrames) await bench.stackTxOffloads(false);
    const stack = await bench.stack();
    const cpu0 = process.cpuUsage();
    const rx0 = stack.device.stats.rxFrames;
    const gbps = direction === "send" ? await bench.rawstackSend() : await bench.rawstackReceive();
    const cpu = process.cpuUsage(cpu0);
    const frames = stack.device.stats.rxFrames - rx0;
    const d = stack.device.stats as unknown as Record<string, number>;
    const t = stack.stats().tcp as unknown as Record<string, number>;
    console.log(JSON.stringify({
      gbps,
      // This process's CPU time (user + system, the ACK send()s included) per received frame.
      cpuMicrosPerRxFrame: frames > 0 ? (cpu.user + cpu.system) / frames : null,
      device: {
        rxFrames: d.rxFrames,
        rxDropped: d.rxDropped,
        txFrames: d.txFrames,
        ringDrops: d.ringDrops,
        parks: d.parks,
        busyPollYields: d.busyPollYields,
        busyPollPreemptions: d.busyPollPreemptions,
        rxChecksumValid: d.rxChecksumValid,
        rxChecksumPartial: d.rxChecksumPartial,
        txSuperFrames: d.txSuperFrames,
        rxSuperFrames: d.rxSuperFrames,
        kernelGro: d.kernelGro,
        txBytes: d.txBytes,
        vnetHeader: (stack.device as unknown as { vnetHeader?: boolean }).vnetHeader,
      },
      loop: stack.loopStats,
      tcp: {
        retransmits: t.retransmits,
        segmentsIn: t.segmentsIn,
        segmentsOut: t.segmentsOut,
        rxCoalescedRuns: t.rxCoalescedRuns,
        rxCoalescedSegments: t.rxCoalescedSegments,
      },
    }));
  } finally {
    await bench.close();
    await lab.destroy();
  }
}

/**
 * Child modes `lab-rr` / `lab-crr` [`a`|`b`]: the request/response (with and without
 * busy-poll) or connection-rate figures beside the kernel's, one sample each, for `--cpu-prof`.
 */
export async function labSmallChild(kind: "rr" | "crr", config: "a" | "b"): Promise<void> {
  const lab = await Lab.create({ prefix: PREFIX, router: true, peerOffloads: config === "b" });
  const bench = new LabBench(lab, config);
  try {
    for (const ns of [lab.peerNetns, lab.farNetns!]) {
      await lab.runIn(ns, ["sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1"]);
      await lab.runIn(ns, ["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=10000 65000"]);
    }
    const out = kind === "rr"
      ? {
        rawstack: await bench.rawstackRr(),
        rawstackNoBusyPoll: await bench.rawstackRr(0),
        kernel: await bench.kernelRr(),
      }
      : { rawstack: await bench.rawstackCrr(), kernel: await bench.kernelCrr() };
    console.log(JSON.stringify(out));
  } finally {
    await bench.close();
    await lab.destroy();
  }
}

/** Child mode `http` [`a`|`b`]: only the HTTP rows (wrk, fetch), printed as a table. */
export async function labHttpChild(config: "a" | "b"): Promise<void> {
  const lab = await Lab.create({ prefix: PREFIX, router: true, peerOffloads: config === "b" });
  const bench = new LabBench(lab, config);
  const rows: Row[] = [];
  try {
    for (const ns of [lab.peerNetns, lab.farNetns!]) {
      await lab.runIn(ns, ["sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1"]);
      await lab.runIn(ns, ["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=10000 65000"]);
    }
    await httpRows(bench, rowAdder(rows, configLabel(config)));
  } finally {
    await bench.close();
    await lab.destroy();
  }
  console.log();
  printTable(rows);
}
