/**
 * Forwarding benchmark: rawstack as a router between two veth links
 * (`RouterLab`: kernel host A — router namespace — kernel host B) against
 * the kernel's own forwarding (`ip_forward=1`) in the same namespaces, in
 * the same run. Two figures each: the forwarding rate of small UDP
 * datagrams (iperf3 `-u -l 64` from A to B, datagrams B received per
 * second) and TCP goodput from A to B (iperf3, Gbit/s at the receiver).
 *
 * Run alone with `deno run -A bench/router_bench.ts [seconds]`; the harness
 * (`bench/harness.ts`) adds its rows. Needs root and iperf3.
 *
 * @module
 */

import {
  ROUTER_LAB_B_ADDRESS,
  ROUTER_LAB_RA_ADDRESS,
  ROUTER_LAB_RB_ADDRESS,
  RouterLab,
} from "../src/testing/router_lab.ts";
import { procNetCounters } from "../src/testing/lab.ts";
import { Stack } from "../src/stack.ts";
import type { AfPacketMode } from "../src/phy/af_packet.ts";
import { GroDevice } from "../src/phy/gro.ts";

/** iperf3's port. */
const IPERF_PORT = 5301;
/** UDP payload bytes of the forwarding-rate test. */
const SMALL_DATAGRAM_BYTES = 64;

/** One side's figures. */
export interface ForwardingFigures {
  /** Small UDP datagrams delivered to B per second. */
  pps: number;
  /** TCP goodput A → B, Gbit/s. */
  gbps: number;
  /**
   * Small UDP datagrams A offered per second (B's count of the sequence
   * numbers it saw, the lost included): the load both routers faced.
   */
  offeredPps: number;
  /**
   * Frames B's link (`b0`) received per second during the UDP test: the
   * router's own forwarding rate, whether or not iperf3 at B (sharing the
   * CPUs with the sender and a user-space router) kept up reading them.
   */
  linkPps: number;
  /** Datagrams B's kernel dropped for a full socket buffer (Udp RcvbufErrors) in the UDP test. */
  receiverDrops: number;
}

/** Frames received by B's link `b0` (its kernel counter). */
async function linkRxFrames(lab: RouterLab): Promise<number> {
  const out = await lab.runInB(["ip", "-s", "-j", "link", "show", "b0"]);
  const links = JSON.parse(out.stdout) as { stats64?: { rx?: { packets?: number } } }[];
  return links[0]?.stats64?.rx?.packets ?? 0;
}

/** B's Udp RcvbufErrors (/proc/net/snmp in B's namespace). */
async function receiverDrops(lab: RouterLab): Promise<number> {
  const snmp = (await lab.runInB(["cat", "/proc/net/snmp"])).stdout;
  return procNetCounters(snmp, "Udp").get("RcvbufErrors") ?? 0;
}

/** Both sides' figures. */
export interface RouterBenchResult {
  /** rawstack routing. */
  rawstack: ForwardingFigures;
  /** The kernel routing (ip_forward=1). */
  kernel: ForwardingFigures;
  /** rawstack's forwarding counters after the run. */
  counters: Record<string, number>;
}

async function iperf(
  lab: RouterLab,
  args: string[],
  seconds: number,
): Promise<Record<string, unknown>> {
  const server = lab.spawnIn(lab.netnsB, ["iperf3", "-s", "-1", "-p", String(IPERF_PORT), "-J"]);
  for (let i = 0; i < 100; i++) {
    const ss = await lab.runInB(["ss", "-H", "-tln", `sport = :${IPERF_PORT}`]);
    if (ss.stdout.trim() !== "") break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const client = await lab.runInA([
    "iperf3",
    "-c",
    ROUTER_LAB_B_ADDRESS,
    "-p",
    String(IPERF_PORT),
    "-t",
    String(seconds),
    ...args,
  ]);
  const out = await server.finished();
  if (client.code !== 0) {
    throw new Error(`iperf3 client: ${client.stderr || client.stdout}`.slice(0, 300));
  }
  return JSON.parse(out.stdout);
}

async function measure(
  lab: RouterLab,
  seconds: number,
  tests: RouterBenchTests,
): Promise<ForwardingFigures> {
  let pps = 0;
  let offeredPps = 0;
  let gbps = 0;
  let drops = 0;
  let linkPps = 0;
  if (tests !== "tcp") {
    const before = await receiverDrops(lab);
    const linkBefore = await linkRxFrames(lab);
    // The server's JSON tells what arrived at B.
    const udp = await iperf(lab, [
      "-u",
      "-b",
      Deno.env.get("RAWSTACK_BENCH_UDP_BITRATE") ?? "0",
      "-l",
      String(SMALL_DATAGRAM_BYTES),
    ], seconds);
    const us = (udp.end as { sum: { packets: number; lost_packets: number; seconds: number } })
      .sum;
    pps = (us.packets - us.lost_packets) / us.seconds;
    offeredPps = us.packets / us.seconds;
    drops = (await receiverDrops(lab)) - before;
    // Over iperf3's test time (the link also saw the control connection's few frames).
    linkPps = ((await linkRxFrames(lab)) - linkBefore) / us.seconds;
  }
  if (tests !== "udp") {
    const tcp = await iperf(lab, [], seconds);
    const ts = (tcp.end as { sum_received: { bits_per_second: number } }).sum_received;
    gbps = ts.bits_per_second / 1e9;
  }
  return { pps, gbps, offeredPps, linkPps, receiverDrops: drops };
}

/** Which measurements {@link routerBench} makes: both (default), or only one. */
export type RouterBenchTests = "both" | "udp" | "tcp";

/** Options of {@link routerBench}. */
export interface RouterBenchOptions {
  /**
   * The hosts keep their transmit offloads (TSO/GSO, checksum; a veth's
   * defaults): TCP crosses the router as 64 KiB super-frames, which both
   * routers forward whole. Default false: the hosts send MTU-sized frames.
   */
  peerOffloads?: boolean;
  /** GRO on the router's links, for both routers (see `RouterLabOptions.routerGro`). */
  routerGro?: boolean;
  /**
   * rawstack merges received TCP segments itself (`GroDevice` over each
   * router device: user-space GRO) and forwards super-frames. Default true;
   * the kernel router's links keep GRO off unless `routerGro`.
   */
  userGro?: boolean;
  /**
   * The router devices' receive mode. Default: `"ring-v2"` for MTU-sized
   * frames (per-frame slots, lowest latency: measured better than V3 here)
   * and `"ring-v3"` with `peerOffloads` (blocks pack 64 KiB super-frames and
   * ACKs densely; V2's 128 KiB slots measured 2–3× slower).
   */
  mode?: AfPacketMode;
  /** Only the UDP forwarding rate, or only TCP goodput (profiling one path). Default both. */
  tests?: RouterBenchTests;
}

/**
 * Builds a RouterLab, measures the kernel router, then rawstack's.
 *
 * @param seconds per measurement
 * @param prefix namespace prefix
 * @param busyPollMs the devices' busy-poll window (as the harness's other rows)
 * @param opts the hosts' offloads, the receive mode
 * @returns both sides' figures
 */
export async function routerBench(
  seconds: number,
  prefix = "rsbr",
  busyPollMs = Number(Deno.env.get("RAWSTACK_BENCH_BUSY_POLL_MS") ?? "5"),
  opts: RouterBenchOptions = {},
): Promise<RouterBenchResult> {
  const peerOffloads = opts.peerOffloads === true;
  const routerGro = opts.routerGro === true;
  const superFrames = peerOffloads || routerGro;
  const lab = await RouterLab.create({ prefix, peerOffloads, routerGro });
  try {
    await lab.kernelForwarding(true);
    const tests = opts.tests ?? "both";
    const kernel = await measure(lab, seconds, tests);
    await lab.kernelForwarding(false);
    const [da, db] = await lab.openDevices({
      mode: opts.mode ?? (superFrames ? "ring-v3" : "ring-v2"),
      busyPollMs,
      txThread: Deno.env.get("RAWSTACK_BENCH_TX_THREAD") === "1",
      qdiscBypass: Deno.env.get("RAWSTACK_BENCH_QDISC_BYPASS") === "1" ? true : undefined,
      txBatch: Deno.env.get("RAWSTACK_BENCH_TX_BATCH")
        ? Number(Deno.env.get("RAWSTACK_BENCH_TX_BATCH"))
        : undefined,
      // Ring room for 64 KiB super-frames when the hosts send them.
      vnetHeader: superFrames ? true : undefined,
    });
    const userGro = opts.userGro ?? true;
    const router = new Stack({
      interfaces: [
        { device: userGro ? new GroDevice(da) : da, ipv4: `${ROUTER_LAB_RA_ADDRESS}/24` },
        { device: userGro ? new GroDevice(db) : db, ipv4: `${ROUTER_LAB_RB_ADDRESS}/24` },
      ],
      forwarding: true,
    });
    await router.start();
    try {
      const rawstack = await measure(lab, seconds, tests);
      const da_ = da.stats;
      const db_ = db.stats;
      const counters = {
        ...router.stats().router!.forward,
        // Where the lost datagrams went: the ingress ring, the egress send.
        ingressRingDrops: da_.ringDrops,
        ingressFrames: da_.rxFrames,
        egressTxFrames: db_.txFrames,
        egressTxDropped: db_.txDropped,
      } as unknown as Record<string, number>;
      return { rawstack, kernel, counters };
    } finally {
      await router.close();
    }
  } finally {
    await lab.destroy();
  }
}

if (import.meta.main) {
  // deno run -A bench/router_bench.ts [seconds] [offloads] [ring-v2|ring-v3|socket]
  // RAWSTACK_BENCH_ROUTER_TESTS=udp|tcp measures only one path; RAWSTACK_BENCH_QDISC_BYPASS=1
  // and RAWSTACK_BENCH_TX_BATCH=n set the router devices' qdiscBypass and txBatch;
  // RAWSTACK_BENCH_UDP_BITRATE (iperf3 -b, default 0: unlimited) caps the offered load.
  const seconds = Number(Deno.args[0] ?? "3");
  const peerOffloads = Deno.args[1] === "offloads";
  const routerGro = Deno.args[1] === "gro";
  const userGro = Deno.env.get("RAWSTACK_BENCH_USER_GRO") !== "0";
  const mode = (Deno.args[2] || undefined) as AfPacketMode | undefined;
  const tests = (Deno.env.get("RAWSTACK_BENCH_ROUTER_TESTS") ?? "both") as RouterBenchTests;
  console.log(
    JSON.stringify(
      await routerBench(seconds, "rsbr", undefined, {
        peerOffloads,
        routerGro,
        userGro,
        mode,
        tests,
      }),
    ),
  );
}
