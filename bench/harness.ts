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
 *   (default 5, at least `RAWSTACK_BENCH_REPEATS`; see `ipv6Rows`);
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
 *   beside rawstack's, see `ipv6ReceiveRow`).
 *
 * Topology (src/testing/lab.ts with `router: true`): rawstack drives `rs0`,
 * whose veth peer `pe0` belongs to the kernel peer namespace; the kernel
 * reference runs between the peer namespace and the far namespace over the
 * veth pair `pe1`↔`far0`. Configuration (a): the kernel sides' TX checksum,
 * TSO and GSO offloads off (ordinary 1514-byte frames with checksums filled
 * in), rawstack's `rs0` too (the kernel cuts rawstack's default 64 KiB GSO
 * frames and fills in their checksums), so its bulk rows are like for like
 * (issue 22): each direction beside the kernel receiver with its GRO off and
 * on, plus one super-frame row (`rs0` keeps TSO), labelled; (b): default veth
 * offloads, super-frames both ways.
 *
 * Kernel-side load comes from bench/tcp_tool.py (python3; one process per
 * measurement) and iperf3 for context. Two rows need no lab and run in child
 * processes of this file: `memlink` (two rawstack hosts in one process over
 * MemoryLink, Gbit/s and CPU seconds per GB from `process.cpuUsage()`) and
 * `idle` (N idle established connections, heap bytes per connection after a
 * forced GC; run with `--v8-flags=--expose-gc`).
 *
 * Loss-recovery rows (issue 19, `loss`; also `deno run -A bench/harness.ts loss` alone),
 * configuration (a) with `nft` in the router namespace (src/testing/loss_lab.ts): the
 * completion time of a 64 KiB response whose last 3 segments the router drops once,
 * rawstack sending against the kernel sending (lower is better: the tail loss probe against
 * the RTO), and bulk goodput through 1 % and 2 % random loss on the data direction
 * (`numgen random mod 100 < P drop`), like for like: rawstack and a kernel sender beside it
 * (its address on rawstack's interface in the stack namespace) send to the same kernel
 * receiver through the same rule. The kernel sends with CUBIC (rawstack's algorithm) and,
 * when the namespace's default differs (bbr on this host), with that in a second row.
 * HTTP rows (issue #20; `RAWSTACK_BENCH_HTTP=0` skips them, they need `wrk`):
 * wrk in the peer namespace against `stack.serve` on rawstack and against
 * `Deno.serve` on the kernel in the far namespace (one veth hop each), with
 * `Connection: close` and with keep-alive, requests/s and p99 latency; and
 * `stack.fetch` beside Deno's own `fetch` (from the far namespace) against
 * one `Deno.serve` in the peer namespace. `deno run -A bench/harness.ts http
 * [a|b]` runs only these.
 *
 * Without root the lab rows print "n/a (needs root ...)" and the in-process
 * rows still run. Nothing here asserts on time.
 *
 * `deno run -A bench/harness.ts bulk` runs only configuration (a)'s like-for-like bulk rows.
 *
 * Profiling (see bench/profile_top.ts): `deno run -A --cpu-prof bench/harness.ts
 * memlink 5`, `... lab-send`, `... lab-receive`, `... lab-rr`, `... lab-crr` run one
 * measurement each (lab-rr/lab-crr print the kernel figure beside it).
 *
 * @module
 */

import { routerBench } from "./router_bench.ts";
import process from "node:process";
import {
  Lab,
  LAB_FAR_ADDRESS6,
  LAB_FAR_IF,
  LAB_PEER_ADDRESS6,
  LAB_ROUTER_FAR_ADDRESS,
  LAB_ROUTER_FAR_ADDRESS6,
  LAB_ROUTER_FAR_IF,
  LAB_STACK_ADDRESS6,
  type LabProcess,
  labUnavailableReason,
  missingCommandsReason,
} from "../src/testing/lab.ts";
import { Stack } from "../src/stack.ts";
import { MemoryLink } from "../src/phy/memory_link.ts";
import type { AfPacketMode } from "../src/phy/af_packet.ts";
import type { TcpConn } from "../src/socket/tcp_conn.ts";
import type { TcpInfo } from "../src/tcp/connection.ts";
import { runHostileLan } from "../src/testing/hostile_lan.ts";
import {
  kernelCongestionControl,
  lossyGoodputKernelSends,
  lossyGoodputRawstackSends,
  tailLossKernelSends,
  tailLossRawstackSends,
} from "../src/testing/loss_lab.ts";
import type { StackHttpServer } from "../src/http/serve.ts";
import { BENCH_PAGE, requestRate } from "./_http_tool.ts";

const HERE = new URL(".", import.meta.url).pathname;
const TOOL = `${HERE}tcp_tool.py`;
const RESULTS_DIR = `${HERE}results`;

const env = (name: string, fallback: string): string => {
  try {
    return Deno.env.get(name) ?? fallback;
  } catch {
    return fallback;
  }
};
/** Namespace prefix of the lab (env `RAWSTACK_BENCH_PREFIX`, default `rspf`). */
const PREFIX = env("RAWSTACK_BENCH_PREFIX", "rspf");
const SECONDS = Math.max(0.5, Number(env("RAWSTACK_BENCH_SECONDS", "3")));
/**
 * `RAWSTACK_BENCH_HTTP_MODES` — which HTTP rows run (default `close,keep-alive,fetch`), e.g.
 * `keep-alive` alone to profile it (`deno run -A --cpu-prof bench/harness.ts http`).
 */
const HTTP_MODES = env("RAWSTACK_BENCH_HTTP_MODES", "close,keep-alive,fetch").split(",");
const REPEATS = Math.max(1, Math.floor(Number(env("RAWSTACK_BENCH_REPEATS", "3"))));
/** Interleaved IPv4/IPv6 sample pairs of each IPv6 row (issue 18): at least REPEATS. */
const IPV6_PAIRS = Math.max(
  REPEATS,
  Math.floor(Number(env("RAWSTACK_BENCH_IPV6_PAIRS", "5"))) || REPEATS,
);
const CONFIGS = env("RAWSTACK_BENCH_CONFIGS", "ab");
const DEVICE_MODE = env("RAWSTACK_BENCH_MODE", "ring-v2") as AfPacketMode;
const BUSY_POLL_MS = Number(env("RAWSTACK_BENCH_BUSY_POLL_MS", "5"));
/**
 * Configurations whose rawstack device is opened with `vnetHeader: true` (env
 * `RAWSTACK_BENCH_VNET`: `a`, `b`, `ab` or `none`; the others get `vnetHeader:
 * false`). Unset (the default): (a) opens the device with default options —
 * PACKET_VNET_HDR on where the kernel accepts it, MTU-sized ring slots — and
 * (b) with `vnetHeader: true`, whose ring slots take the peer's super-frames.
 */
const VNET_ENV = env("RAWSTACK_BENCH_VNET", "");
/** The `vnetHeader` option of configuration `config` (undefined: the device default). */
const vnetOption = (config: "a" | "b"): boolean | undefined =>
  VNET_ENV === "" ? (config === "b" ? true : undefined) : VNET_ENV.includes(config);
/** rawstack's transmit offloads with vnetHeader (env `RAWSTACK_BENCH_TX_OFFLOADS`: `on`, `checksum`, `off`). */
const TX_OFFLOADS_ENV = env("RAWSTACK_BENCH_TX_OFFLOADS", "on");
const TX_OFFLOADS = TX_OFFLOADS_ENV === "off"
  ? false
  : TX_OFFLOADS_ENV === "checksum"
  ? "checksum"
  : true;
/**
 * rawstack's device sends its full transmit batches from a worker thread
 * (AfPacketOptions.txThread; env `RAWSTACK_BENCH_TX_THREAD`: `1` on, default off).
 */
const TX_THREAD = env("RAWSTACK_BENCH_TX_THREAD", "0") === "1";
/** Linux BIG TCP on the `ipv6` mode's kernel sender: its largest TSO frame, 0 = off. */
const BIG_TCP_BYTES = Math.max(0, Math.floor(Number(env("RAWSTACK_BENCH_BIG_TCP", "0"))) || 0);
/**
 * The `ipv6` mode's rows (env `RAWSTACK_BENCH_IPV6_ROWS`): `send`, `receive`, `rr`, and the
 * kernel→kernel IPv6/IPv4 references interleaved with them, `receive-kernel` (default on)
 * and `send-kernel` (opt-in: each reference adds 2 × IPV6_PAIRS measurements).
 */
const IPV6_ROWS = env("RAWSTACK_BENCH_IPV6_ROWS", "send,receive,rr,receive-kernel").split(",");
/** Room in a ring slot beyond the IP packet: the Ethernet header and slack. */
const BIG_TCP_FRAME_SLACK_BYTES = 64;
/** Frames the Stack takes from the device per loop iteration (env `RAWSTACK_BENCH_RX_BUDGET`). */
const RX_BUDGET = Math.max(1, Math.floor(Number(env("RAWSTACK_BENCH_RX_BUDGET", "64"))));
const IDLE_CONNS = Math.max(1, Math.floor(Number(env("RAWSTACK_BENCH_IDLE_CONNS", "10000"))));

const BULK_PORT = 5001;
const RR_PORT = 5002;
const CRR_PORT = 5003;
const IPERF_PORT = 5201;
/** First port of the loss-recovery rows (each measurement takes the next one). */
const LOSS_PORT_BASE = 6000;
/** Random loss rates of the goodput rows, percent. */
const LOSS_PERCENTS = [1, 2];
/** stack.serve's port (rawstack side) and Deno.serve's (kernel, far namespace) for wrk. */
const HTTP_SERVE_PORT = 8080;
/** Deno.serve in the peer namespace that stack.fetch and Deno's fetch (from far) ask. */
const HTTP_FETCH_PORT = 8081;
const HTTP_TOOL = `${HERE}_http_tool.ts`;
/** wrk's connections (issue #20's measurements used 50). */
const WRK_CONNECTIONS = 50;
/** Concurrent request loops of the fetch rows. */
const FETCH_LOOPS = 8;
/** `RAWSTACK_BENCH_HTTP=0` skips the HTTP rows (wrk, fetch). */
const HTTP_ROWS = env("RAWSTACK_BENCH_HTTP", "1") !== "0";
const WRITE_CHUNK_BYTES = 64 * 1024;
const READ_BUFFER_BYTES = 256 * 1024;
const CRR_REQUEST_BYTES = 64;
const CONNECT_RETRY_MS = 3000;
/** Slack added to a measurement's own duration before it is declared stuck. */
const STUCK_SLACK_MS = 15_000;
const TCP_BUFFER_BYTES = Number(env("RAWSTACK_BENCH_TCP_BUFFER_BYTES", "0"));
/** TCP tunables of every benchmarked stack: the engine defaults unless the env says otherwise. */
const STACK_TCP = TCP_BUFFER_BYTES > 0
  ? { sendBufferBytes: TCP_BUFFER_BYTES, receiveBufferBytes: TCP_BUFFER_BYTES }
  : {};
/**
 * Idle connections use the engine's default buffers: rings get storage only when data
 * flows (and give it back when drained), so an idle connection holds none.
 */
const IDLE_TCP = STACK_TCP;
/** Seconds the idle row watches the held connections (env `RAWSTACK_BENCH_IDLE_SECONDS`). */
const IDLE_WATCH_SECONDS = Math.max(1, Number(env("RAWSTACK_BENCH_IDLE_SECONDS", "2")));
/** Connections per listening port in the idle row (one client address has 16,384 ports). */
const IDLE_CONNS_PER_PORT = 15_000;

/** One figure: samples of rawstack and of the kernel reference. */
interface Row {
  workload: string;
  config: string;
  unit: string;
  rawstack: number[];
  rawstackNote: string | null;
  reference: string;
  kernel: number[];
  kernelNote: string | null;
  lowerIsBetter?: boolean;
  /**
   * Interleaved rows (IPv6 beside IPv4, `pairedSamples`): the rawstack/reference ratio of
   * each sample pair; the ratio column is then their median.
   */
  pairRatios?: number[];
  /**
   * Reference rows whose columns are IPv6/IPv4 ratios (issue 18): the reference's own
   * Gbit/s samples of each family, for the JSON.
   */
  referenceSamples?: { ipv4: number[]; ipv6: number[] };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : s.length % 2
    ? s[(s.length - 1) >> 1]
    : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Rejects when `p` takes longer than `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function numbers(out: string): number[] {
  const line = out.trim().split("\n").pop() ?? "";
  return line.trim().split(/\s+/).map(Number);
}

async function finishedNumbers(p: LabProcess, what: string, ms: number): Promise<number[]> {
  const r = await within(p.finished(), ms, what);
  const v = numbers(r.stdout);
  if (r.code !== 0 || v.some((x) => !Number.isFinite(x))) {
    throw new Error(`${what} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-300)}`);
  }
  return v;
}

// ---------------------------------------------------------------- lab rows

class LabBench {
  readonly lab: Lab;
  readonly config: "a" | "b";
  #crrServer: LabProcess | null = null;
  #stack: Stack | null = null;
  /** The device busy-poll window of the stack in use (see {@link stack}). */
  #stackBusyPollMs = BUSY_POLL_MS;

  constructor(lab: Lab, config: "a" | "b") {
    this.lab = lab;
    this.config = config;
  }

  py(args: (string | number)[]): string[] {
    return ["python3", TOOL, ...args.map(String)];
  }

  /**
   * The rawstack host of this configuration: one Stack for all measurements,
   * like the one kernel it is compared with (a fresh Stack per measurement
   * would reuse ports still in TIME-WAIT at the kernel peer with unrelated
   * ISNs, and wait for SYN retransmissions). Rebuilt after a failed measurement.
   */
  async stack(busyPollMs = BUSY_POLL_MS): Promise<Stack> {
    if (this.#stack !== null && !this.#stack.closed && this.#stackBusyPollMs === busyPollMs) {
      return this.#stack;
    }
    await this.resetStack();
    this.#stack = await this.#newStack(busyPollMs);
    this.#stackBusyPollMs = busyPollMs;
    return this.#stack;
  }

  /** Forgets the shared Stack after a failure (the next measurement builds a new one). */
  async resetStack(): Promise<void> {
    const s = this.#stack;
    this.#stack = null;
    await s?.close();
  }

  async #newStack(busyPollMs: number): Promise<Stack> {
    // PACKET_VNET_HDR gives rawstack the kernel's tools: super-frames in, checksum state per
    // frame (trusted, not summed again), partial checksums and 64 KB super-segments out (GSO).
    const vnet = vnetOption(this.config);
    // In (b) `vnetHeader: true` sizes the ring slots for the peer's super-frames.
    const superFramesIn = vnet === true && this.config === "b";
    // Default options (vnet undefined): the device sizes its ring itself — for the
    // super-frames of the interface's GRO, which it turns on (`kernelGro`, issue 22).
    const ringDefaults = vnet === undefined;
    // BIG TCP (env RAWSTACK_BENCH_BIG_TCP): slots for the sender's frames, as many ring bytes.
    const big = BIG_TCP_BYTES > 0 ? BIG_TCP_BYTES + BIG_TCP_FRAME_SLACK_BYTES : 0;
    const device = await this.lab.openDevice({
      mode: DEVICE_MODE,
      busyPollMs,
      frameCount: ringDefaults ? undefined : superFramesIn ? (big > 0 ? 256 : 512) : 8192,
      vnetHeader: vnet,
      rxMaxFrameBytes: big > 0 ? big : ringDefaults || superFramesIn ? undefined : 1514,
      txThread: TX_THREAD,
    });
    const s = new Stack({
      device,
      ipv4: `${this.lab.stackAddress}/${this.lab.prefixLength}`,
      // Dual stack (issue 18): the IPv6 rows run on the same Stack. One link, one kernel peer
      // that already holds its address: no duplicate address detection wait.
      ipv6: `${LAB_STACK_ADDRESS6}/64`,
      ipv6Options: { addressOptions: { dadTransmits: 0, maxDadDelayMs: 0 } },
      gateway: this.lab.peerAddress,
      tcp: STACK_TCP,
      txOffloads: TX_OFFLOADS,
      rxBudget: RX_BUDGET,
      onError: () => {},
    });
    await s.start();
    return s;
  }

  /**
   * `ethtool -K` on a lab interface. Like for like (issue 22) turns rawstack's
   * interface's transmit offloads off (`rs0`: the kernel then cuts rawstack's
   * 64 KiB GSO frames in software and fills in their checksums, so the peer
   * sees 1514-byte frames, as from the kernel sender whose offloads are off)
   * and sets a kernel receiver's GRO.
   */
  async ethtool(ns: string, ifname: string, features: string[]): Promise<void> {
    await this.lab.runIn(ns, ["ethtool", "-K", ifname, ...features], { check: true });
  }

  /** rawstack's interface: transmit offloads on (super-frames travel whole) or off. */
  stackTxOffloads(on: boolean): Promise<void> {
    const v = on ? "on" : "off";
    return this.ethtool(this.lab.stackNetns, this.lab.stackIf, ["tx", v, "tso", v, "gso", v]);
  }

  /** rawstack's interface's GRO as `ethtool -k` reads it with the device open, and why not on. */
  async stackGroState(): Promise<string> {
    const device = (await this.stack()).device as unknown as {
      kernelGroFallbackReason?: string | null;
    };
    const r = await this.lab.runIn(this.lab.stackNetns, ["ethtool", "-k", this.lab.stackIf]);
    const gro = r.stdout.match(/generic-receive-offload:\s*(\S+)/)?.[1] ?? "unknown";
    const why = device.kernelGroFallbackReason;
    return `${this.lab.stackIf} GRO ${gro}${why ? ` (kernelGro fallback: ${why})` : ""}`;
  }

  /** GRO of both kernel receivers: rawstack's peer (`pe0`) and the reference's (`pe1`). */
  async kernelGro(on: boolean): Promise<void> {
    const v = on ? "on" : "off";
    await this.ethtool(this.lab.peerNetns, this.lab.peerIf, ["gro", v]);
    await this.ethtool(this.lab.peerNetns, LAB_ROUTER_FAR_IF, ["gro", v]);
  }

  /** stack.connect, retrying while the kernel listener is not up yet. */
  async connect(stack: Stack, port: number, host = this.lab.peerAddress): Promise<TcpConn> {
    const end = performance.now() + CONNECT_RETRY_MS;
    for (;;) {
      try {
        return await within(
          stack.connect({ hostname: host, port, noDelay: true }),
          CONNECT_RETRY_MS,
          "rawstack connect",
        );
      } catch (e) {
        if (performance.now() > end) throw e;
        await sleep(50);
      }
    }
  }

  /** Waits until a kernel listener in the peer namespace accepts connections. */
  async peerListening(port: number): Promise<void> {
    const end = performance.now() + CONNECT_RETRY_MS;
    while (performance.now() < end) {
      const r = await this.lab.runInPeer(["ss", "-Hltn", `sport = :${port}`]);
      if (r.stdout.includes(`:${port}`)) return;
      await sleep(30);
    }
    throw new Error(`kernel listener on port ${port} did not come up`);
  }

  async farListening(port: number): Promise<void> {
    const end = performance.now() + CONNECT_RETRY_MS;
    while (performance.now() < end) {
      const r = await this.lab.runInFar(["ss", "-Hltn", `sport = :${port}`]);
      if (r.stdout.includes(`:${port}`)) return;
      await sleep(30);
    }
    throw new Error(`kernel listener on port ${port} did not come up in the far namespace`);
  }

  /** iperf3 kernel→kernel, Gbit/s at the receiver. */
  async iperf(): Promise<number> {
    const server = this.lab.spawnInFar(["iperf3", "-s", "-1", "-p", String(IPERF_PORT)]);
    try {
      await this.farListening(IPERF_PORT);
      const r = await within(
        this.lab.runInPeer([
          "iperf3",
          "-c",
          this.lab.farAddress,
          "-p",
          String(IPERF_PORT),
          "-t",
          String(SECONDS),
          "-J",
        ]),
        SECONDS * 1000 + STUCK_SLACK_MS,
        "iperf3",
      );
      const j = JSON.parse(r.stdout);
      return j.end.sum_received.bits_per_second / 1e9;
    } finally {
      await server.kill();
    }
  }

  /**
   * Python sender (far) → python sink (peer) over pe1↔far0: Gbit/s at the receiver.
   *
   * @param ipv6 over IPv6 (the lab's `ipv6`: 2001:db8:2::/64 on the far link), the
   *   IPv6 send row's kernel reference (issue 18)
   */
  kernelBulk(ipv6 = false): Promise<number> {
    const to = ipv6 ? LAB_ROUTER_FAR_ADDRESS6 : LAB_ROUTER_FAR_ADDRESS;
    return this.#farLinkBulk("peer", to, ipv6);
  }

  /**
   * The kernel sender of the IPv6 receive row (the peer namespace's python source,
   * bench/tcp_tool.py) sends for SECONDS to a kernel receiver (python sink in the far
   * namespace) over pe1↔far0 instead of to rawstack over pe0↔rs0: Gbit/s at the receiver.
   * pe1's offloads are pe0's (the lab sets both alike); the receiver's GRO is set by the
   * caller ({@link setGro}). Issue 18's reference for the IPv6/IPv4 receive ratio.
   *
   * @param ipv6 over IPv6 (2001:db8:2::/64) instead of IPv4
   */
  kernelToFar(ipv6 = false): Promise<number> {
    return this.#farLinkBulk("far", ipv6 ? LAB_FAR_ADDRESS6 : this.lab.farAddress, ipv6);
  }

  /**
   * One python sender → python sink transfer over pe1↔far0 for SECONDS, the sink in
   * `sinkIn`'s namespace and the source in the other: Gbit/s at the receiver.
   */
  async #farLinkBulk(sinkIn: "peer" | "far", to: string, ipv6: boolean): Promise<number> {
    const sinkCmd = this.py(["sink", ipv6 ? "::" : "0.0.0.0", BULK_PORT]);
    const sink = sinkIn === "peer" ? this.lab.spawnInPeer(sinkCmd) : this.lab.spawnInFar(sinkCmd);
    try {
      await (sinkIn === "peer" ? this.peerListening(BULK_PORT) : this.farListening(BULK_PORT));
      const srcCmd = this.py(["source", to, BULK_PORT, SECONDS]);
      const src = sinkIn === "peer" ? this.lab.spawnInFar(srcCmd) : this.lab.spawnInPeer(srcCmd);
      const wait = SECONDS * 1000 + STUCK_SLACK_MS;
      await finishedNumbers(src, "python source", wait);
      const [bytes, secs] = await finishedNumbers(sink, "python sink", wait);
      return bytes * 8 / secs / 1e9;
    } finally {
      await sink.kill();
    }
  }

  /** An interface's GRO as `ethtool -k` reads it (true: on). */
  async groOn(ns: string, ifname: string): Promise<boolean> {
    const r = await this.lab.runIn(ns, ["ethtool", "-k", ifname], { check: true });
    return /generic-receive-offload:\s*on/.test(r.stdout);
  }

  /** Sets an interface's GRO (`ethtool -K <if> gro on|off`). */
  setGro(ns: string, ifname: string, on: boolean): Promise<void> {
    return this.ethtool(ns, ifname, ["gro", on ? "on" : "off"]);
  }

  /**
   * rawstack sends for SECONDS to a python sink in the peer: Gbit/s at the receiver.
   *
   * @param ipv6 over IPv6 (issue 18) instead of IPv4
   */
  async rawstackSend(ipv6 = false): Promise<number> {
    const sink = this.lab.spawnInPeer(this.py(["sink", ipv6 ? "::" : "0.0.0.0", BULK_PORT]));
    const stack = await this.stack();
    try {
      await this.peerListening(BULK_PORT);
      const conn = await this.connect(
        stack,
        BULK_PORT,
        ipv6 ? LAB_PEER_ADDRESS6 : this.lab.peerAddress,
      );
      const chunk = new Uint8Array(WRITE_CHUNK_BYTES);
      const end = performance.now() + SECONDS * 1000;
      const sending = (async () => {
        while (performance.now() < end) await conn.write(chunk);
        await conn.closeWrite();
      })();
      await within(sending, SECONDS * 1000 + STUCK_SLACK_MS, "rawstack send");
      const [bytes, secs] = await finishedNumbers(sink, "python sink", STUCK_SLACK_MS);
      conn.close();
      return bytes * 8 / secs / 1e9;
    } finally {
      await sink.kill();
    }
  }

  /**
   * A python source in the peer sends to rawstack for SECONDS: Gbit/s at rawstack.
   *
   * @param ipv6 over IPv6 (the listener accepts both families)
   */
  async rawstackReceive(ipv6 = false): Promise<number> {
    const stack = await this.stack();
    const listener = stack.listen({ port: BULK_PORT });
    const src = this.lab.spawnInPeer(
      this.py(["source", ipv6 ? LAB_STACK_ADDRESS6 : this.lab.stackAddress, BULK_PORT, SECONDS]),
    );
    try {
      const receiving = (async () => {
        const conn = await listener.accept();
        const buf = new Uint8Array(READ_BUFFER_BYTES);
        let bytes = 0;
        let first = 0;
        let last = 0;
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          last = performance.now();
          if (bytes === 0) first = last;
          bytes += n;
        }
        conn.close();
        return { bytes, secs: (last - first) / 1000 };
      })();
      const { bytes, secs } = await within(
        receiving,
        SECONDS * 1000 + STUCK_SLACK_MS,
        "rawstack receive",
      );
      await finishedNumbers(src, "python source", STUCK_SLACK_MS);
      if (bytes === 0 || secs <= 0) throw new Error("no data arrived");
      return bytes * 8 / secs / 1e9;
    } finally {
      await src.kill();
      listener.close();
    }
  }

  /** 1-byte ping-pong: python client (far) ↔ python echo (peer). */
  async kernelRr(): Promise<number> {
    const echo = this.lab.spawnInPeer(this.py(["echo", "0.0.0.0", RR_PORT]));
    try {
      await this.peerListening(RR_PORT);
      const c = this.lab.spawnInFar(this.py(["rr", "198.51.100.1", RR_PORT, SECONDS]));
      const [n, secs] = await finishedNumbers(c, "python rr", SECONDS * 1000 + STUCK_SLACK_MS);
      return n / secs;
    } finally {
      await echo.kill();
    }
  }

  /**
   * 1-byte ping-pong: python client (peer) ↔ rawstack echo server.
   *
   * @param busyPollMs the device's busy-poll window for this measurement (0: park at once)
   * @param ipv6 over IPv6 (issue 18)
   */
  async rawstackRr(busyPollMs = BUSY_POLL_MS, ipv6 = false): Promise<number> {
    const stack = await this.stack(busyPollMs);
    const listener = stack.listen({ port: RR_PORT });
    const c = this.lab.spawnInPeer(
      this.py(["rr", ipv6 ? LAB_STACK_ADDRESS6 : this.lab.stackAddress, RR_PORT, SECONDS]),
    );
    const serving = (async () => {
      const conn = await listener.accept();
      conn.setNoDelay(true);
      const buf = new Uint8Array(256);
      try {
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          await conn.write(buf.subarray(0, n));
        }
      } finally {
        conn.close();
      }
    })().catch(() => {});
    try {
      const [n, secs] = await finishedNumbers(c, "python rr", SECONDS * 1000 + STUCK_SLACK_MS);
      return n / secs;
    } finally {
      await c.kill();
      listener.close();
      await serving;
    }
  }

  async #ensureCrrServer(): Promise<void> {
    if (this.#crrServer !== null) return;
    // Clients close first and keep TIME-WAIT; give them room.
    this.#crrServer = this.lab.spawnInPeer(this.py(["crr-server", "0.0.0.0", CRR_PORT]));
    await this.peerListening(CRR_PORT);
  }

  /** New connections per second: python client (far) → python server (peer). */
  async kernelCrr(): Promise<number> {
    await this.#ensureCrrServer();
    const c = this.lab.spawnInFar(
      this.py(["crr", "198.51.100.1", CRR_PORT, SECONDS, CRR_REQUEST_BYTES]),
    );
    const [n, secs] = await finishedNumbers(c, "python crr", SECONDS * 1000 + STUCK_SLACK_MS);
    return n / secs;
  }

  /** New connections per second: rawstack client → python server (peer). */
  async rawstackCrr(): Promise<number> {
    await this.#ensureCrrServer();
    const stack = await this.stack();
    try {
      const req = new Uint8Array(CRR_REQUEST_BYTES);
      const buf = new Uint8Array(CRR_REQUEST_BYTES * 2);
      const run = (async () => {
        let n = 0;
        const t0 = performance.now();
        const end = t0 + SECONDS * 1000;
        while (performance.now() < end) {
          // No per-connect timer here (a setTimeout and a race per connection cost as much
          // as a round trip): the whole run is bounded by `within` below, and a connect
          // that gets no answer fails by itself after the SYN retries.
          const conn = await stack.connect({ hostname: this.lab.peerAddress, port: CRR_PORT });
          await conn.write(req);
          let got = 0;
          while (got < CRR_REQUEST_BYTES) {
            const r = await conn.read(buf);
            if (r === null) break;
            got += r;
          }
          conn.close();
          n++;
        }
        return n / ((performance.now() - t0) / 1000);
      })();
      return await within(run, SECONDS * 1000 + STUCK_SLACK_MS, "rawstack crr");
    } catch (e) {
      await this.resetStack();
      throw e;
    }
  }

  /**
   * wrk (one thread, {@link WRK_CONNECTIONS} connections, SECONDS) in the peer namespace
   * against `url`: requests/s and the 99th percentile latency in ms. Without keep-alive every
   * request carries `Connection: close` (a connection each).
   */
  async wrk(url: string, keepAlive: boolean): Promise<{ rps: number; p99Ms: number }> {
    const args = ["wrk", "-t1", `-c${WRK_CONNECTIONS}`, `-d${SECONDS}s`, "--latency"];
    if (!keepAlive) args.push("-H", "Connection: close");
    const r = await within(
      this.lab.runInPeer([...args, url]),
      SECONDS * 1000 + STUCK_SLACK_MS,
      "wrk",
    );
    const rps = /Requests\/sec:\s*([\d.]+)/.exec(r.stdout);
    const p99 = /^\s*99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(r.stdout);
    if (r.code !== 0 || rps === null || p99 === null) {
      throw new Error(`wrk: ${(r.stderr || r.stdout).trim().split("\n").slice(-2).join(" ")}`);
    }
    const scale = p99[2] === "us" ? 1e-3 : p99[2] === "s" ? 1e3 : 1;
    return { rps: Number(rps[1]), p99Ms: Number(p99[1]) * scale };
  }

  /** stack.serve of the shared stack with the benchmark page on {@link HTTP_SERVE_PORT}. */
  async stackServe(): Promise<StackHttpServer> {
    const stack = await this.stack();
    return stack.serve(
      { port: HTTP_SERVE_PORT, maxConnections: 4 * WRK_CONNECTIONS },
      () => new Response(BENCH_PAGE),
    );
  }

  /** Deno.serve (bench/_http_tool.ts) in a namespace, listening on `port`. */
  async denoServe(where: "peer" | "far", port: number): Promise<LabProcess> {
    const cmd = [Deno.execPath(), "run", "-A", HTTP_TOOL, "serve", String(port)];
    const p = where === "far" ? this.lab.spawnInFar(cmd) : this.lab.spawnInPeer(cmd);
    if (where === "far") await this.farListening(port);
    else await this.peerListening(port);
    return p;
  }

  /** stack.fetch request rate (keep-alive, {@link FETCH_LOOPS} loops) against `url`. */
  async stackFetchRate(url: string): Promise<number> {
    const stack = await this.stack();
    const client = stack.createHttpClient();
    try {
      const r = await within(
        requestRate(
          async () => {
            const res = await stack.fetch(url, { client });
            await res.arrayBuffer();
          },
          SECONDS,
          FETCH_LOOPS,
        ),
        SECONDS * 1000 + STUCK_SLACK_MS,
        "stack.fetch",
      );
      return r.rate;
    } finally {
      client.close();
    }
  }

  /** Deno's fetch request rate from the far namespace (same loops) against `url`. */
  async denoFetchRate(url: string): Promise<number> {
    const r = await within(
      this.lab.runInFar([
        Deno.execPath(),
        "run",
        "-A",
        HTTP_TOOL,
        "fetch",
        url,
        String(SECONDS),
        String(FETCH_LOOPS),
      ]),
      SECONDS * 1000 + STUCK_SLACK_MS,
      "Deno fetch",
    );
    if (r.code !== 0) throw new Error(`Deno fetch: ${r.stderr.trim().split("\n").pop()}`);
    return JSON.parse(r.stdout.trim().split("\n").pop()!).rate;
  }

  async close(): Promise<void> {
    await this.#crrServer?.kill();
    await this.resetStack();
  }
}

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
async function httpRows(
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

async function sampled(
  f: () => Promise<number>,
  reset?: () => Promise<void>,
): Promise<{ values: number[]; note: string | null }> {
  const values: number[] = [];
  let note: string | null = null;
  for (let i = 0; i < REPEATS; i++) {
    try {
      values.push(await f());
    } catch (e) {
      note = `failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 160);
      await reset?.();
    }
  }
  return { values, note };
}

async function labRows(config: "a" | "b", rows: Row[]): Promise<void> {
  const label = config === "a" ? "(a) offloads off" : "(b) offloads on";
  const reason = labUnavailableReason(["python3", "iperf3", "ss", "ethtool"]);
  const add = (
    workload: string,
    unit: string,
    r: { values: number[]; note: string | null },
    reference: string,
    k: { values: number[]; note: string | null },
    lowerIsBetter?: boolean,
    pairRatios?: number[],
    referenceSamples?: { ipv4: number[]; ipv6: number[] },
  ) => {
    rows.push({
      workload,
      config: label,
      unit,
      rawstack: r.values,
      rawstackNote: r.note,
      reference,
      kernel: k.values,
      kernelNote: k.note,
      lowerIsBetter,
      pairRatios,
      referenceSamples,
    });
    printRow(rows[rows.length - 1]);
  };
  if (reason !== null) {
    const na = { values: [], note: `n/a (${reason})` };
    for (
      const w of [
        "bulk TCP rawstack→kernel",
        "bulk TCP kernel→rawstack",
        "1-byte RR",
        "CRR",
        "IPv6 bulk TCP rawstack→kernel",
        "IPv6 bulk TCP kernel→rawstack",
        "IPv6 1-byte RR",
        "IPv6/IPv4 ratio beside the kernel's",
      ]
    ) {
      add(w, "", na, "kernel", na);
    }
    return;
  }
  const lab = await Lab.create({
    prefix: PREFIX,
    router: true,
    peerOffloads: config === "b",
    ipv6: true,
  });
  const bench = new LabBench(lab, config);
  const reset = () => bench.resetStack();
  try {
    for (const ns of [lab.peerNetns, lab.farNetns!]) {
      await lab.runIn(ns, ["sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1"]);
      await lab.runIn(ns, ["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=10000 65000"]);
    }
    const iperf = await sampled(() => bench.iperf());
    add("kernel↔kernel iperf3 (context)", "Gbit/s", iperf, "iperf3 kernel→kernel", iperf);
    if (config === "a") await likeForLikeBulkRows(bench, add);
    else {
      const kBulk = await sampled(() => bench.kernelBulk());
      add(
        "bulk TCP, rawstack sends to a kernel receiver (super-frames both ways)",
        "Gbit/s",
        await sampled(() => bench.rawstackSend(), reset),
        "kernel→kernel (tcp_tool.py)",
        kBulk,
      );
      add(
        "bulk TCP, kernel sends to rawstack (super-frames both ways)",
        "Gbit/s",
        await sampled(() => bench.rawstackReceive(), reset),
        "kernel→kernel (tcp_tool.py)",
        kBulk,
      );
    }
    const kRr = await ipv6Rows(bench, add);
    add(
      "request/response, 1-byte ping-pong (no busy-poll)",
      "trans/s",
      await sampled(() => bench.rawstackRr(0), reset),
      "kernel↔kernel (tcp_tool.py)",
      kRr,
    );
    add(
      `new connections/s (connect, ${CRR_REQUEST_BYTES} B request, close)`,
      "conn/s",
      await sampled(() => bench.rawstackCrr(), reset),
      "kernel client, same kernel server",
      await sampled(() => bench.kernelCrr()),
    );
    if (HTTP_ROWS) {
      if (missingCommandsReason(["wrk"]) === null) await httpRows(bench, add);
      else {add("HTTP rows", "", { values: [], note: "n/a (needs wrk)" }, "—", {
          values: [],
          note: "—",
        });}
    }
  } finally {
    await bench.close();
    await lab.destroy();
  }
}

type AddRow = (
  workload: string,
  unit: string,
  r: { values: number[]; note: string | null },
  reference: string,
  k: { values: number[]; note: string | null },
  lowerIsBetter?: boolean,
  pairRatios?: number[],
  referenceSamples?: { ipv4: number[]; ipv6: number[] },
) => void;

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
async function ipv6Rows(
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

/**
 * Issue 22's bulk rows of configuration (a): like for like means 1514-byte
 * frames on the kernel peer's wire both ways, from rawstack with its default
 * device options (64 KiB GSO frames the kernel cuts in software, rawstack's
 * interface's transmit offloads off) and from the kernel sender (offloads
 * off), each beside the kernel receiver with its GRO off and on. The
 * super-frame row (rawstack's interface keeps TSO: its 64 KiB frames travel
 * whole to the peer) stays, labelled as such.
 */
async function likeForLikeBulkRows(bench: LabBench, add: AddRow): Promise<void> {
  const reset = () => bench.resetStack();
  console.log(`rawstack's interface: ${await bench.stackGroState()}`);
  const kOff = await sampled(() => bench.kernelBulk());
  await bench.kernelGro(true);
  const kOn = await sampled(() => bench.kernelBulk());
  await bench.kernelGro(false);
  const refOff = "kernel→kernel, receiver GRO off";
  const refOn = "kernel→kernel, receiver GRO on";
  await bench.stackTxOffloads(false);
  add(
    "bulk TCP rawstack→kernel, like for like (1514-byte frames), receiver GRO off",
    "Gbit/s",
    await sampled(() => bench.rawstackSend(), reset),
    refOff,
    kOff,
  );
  await bench.kernelGro(true);
  add(
    "bulk TCP rawstack→kernel, like for like (1514-byte frames), receiver GRO on",
    "Gbit/s",
    await sampled(() => bench.rawstackSend(), reset),
    refOn,
    kOn,
  );
  await bench.kernelGro(false);
  const receive = await sampled(() => bench.rawstackReceive(), reset);
  add(
    "bulk TCP kernel→rawstack, like for like (1514-byte frames)",
    "Gbit/s",
    receive,
    refOff,
    kOff,
  );
  add(
    "bulk TCP kernel→rawstack, like for like (1514-byte frames)",
    "Gbit/s",
    receive,
    refOn,
    kOn,
  );
  await bench.stackTxOffloads(true);
  add(
    "bulk TCP rawstack→kernel, SUPER-FRAMES (rawstack's veth keeps TSO: 64 KiB frames reach the peer whole)",
    "Gbit/s",
    await sampled(() => bench.rawstackSend(), reset),
    refOff,
    kOff,
  );
}

// ------------------------------------------------------- loss-recovery rows

/** One rawstack loss sample's connection figures, for the log. */
function lossInfoLine(dropped: number, info: TcpInfo | undefined): string {
  if (info === undefined) return `dropped ${dropped}`;
  return `dropped ${dropped}, retransmits ${info.retransmits}, recoveries ${info.recoveries}, ` +
    `rack losses ${info.rackLosses}, TLPs ${info.tlpProbes}, undos ${info.undos}, ` +
    `RTOs ${info.timeouts}, spurious RTOs ${info.spuriousRtos}, D-SACKs in ${info.dsacksReceived}, cwnd ${info.cwnd}, ` +
    `ssthresh ${info.ssthresh}, srtt ${info.srttMs.toFixed(2)} ms`;
}

/** Issue 19's rows: tail-loss completion time and goodput through random loss, beside the kernel. */
async function lossRows(rows: Row[]): Promise<void> {
  const label = "(a) offloads off";
  const reason = labUnavailableReason(["python3", "nft", "ss"]);
  const add = (
    workload: string,
    unit: string,
    r: { values: number[]; note: string | null },
    reference: string,
    k: { values: number[]; note: string | null },
    lowerIsBetter = false,
  ) => {
    rows.push({
      workload,
      config: label,
      unit,
      rawstack: r.values,
      rawstackNote: r.note,
      reference,
      kernel: k.values,
      kernelNote: k.note,
      lowerIsBetter,
    });
    printRow(rows[rows.length - 1]);
  };
  const tailName = "64 KiB response, last 3 segments dropped once: completion";
  const bulkName = (p: number) => `bulk TCP through ${p} % random loss (nft numgen): goodput`;
  if (reason !== null) {
    const na = { values: [], note: `n/a (${reason})` };
    add(tailName, "ms", na, "kernel sends", na, true);
    for (const p of LOSS_PERCENTS) add(bulkName(p), "Gbit/s", na, "kernel sends", na);
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
        );
      }
    }
  } finally {
    await reset();
    await lab.destroy();
  }
}

// ------------------------------------------------------- in-process rows

/** Child mode `memlink`: prints `{"gbps":…, "cpuSecondsPerGB":…, "bytes":…}`. */
async function memlinkChild(seconds: number): Promise<void> {
  // Transmit checksum offload on the memory link (env RAWSTACK_BENCH_MEMLINK_OFFLOAD=0 turns
  // it off): partial checksums cross as they are and the receiver trusts them, as between two
  // Linux stacks over veth; received frames are reported checksum-valid either way.
  const offload = env("RAWSTACK_BENCH_MEMLINK_OFFLOAD", "1") !== "0";
  const [da, db] = MemoryLink.pair({ queueFrames: 4096, checksumOffload: offload });
  const a = new Stack({ device: da, ipv4: "192.0.2.2/24", tcp: STACK_TCP });
  const b = new Stack({ device: db, ipv4: "192.0.2.1/24", tcp: STACK_TCP });
  await a.start();
  await b.start();
  const l = b.listen({ port: BULK_PORT });
  let received = 0;
  const server = (async () => {
    const c = await l.accept();
    const buf = new Uint8Array(READ_BUFFER_BYTES);
    for (;;) {
      const n = await c.read(buf);
      if (n === null) break;
      received += n;
    }
    c.close();
  })();
  const c = await a.connect({ hostname: "192.0.2.1", port: BULK_PORT });
  const chunk = new Uint8Array(WRITE_CHUNK_BYTES);
  const warmEnd = performance.now() + Math.min(1000, seconds * 300);
  while (performance.now() < warmEnd) await c.write(chunk);
  const bytes0 = received;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) await c.write(chunk);
  const bytes = received - bytes0;
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await c.closeWrite();
  await server;
  c.close();
  l.close();
  await a.close();
  await b.close();
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  console.log(JSON.stringify({
    gbps: bytes * 8 / secs / 1e9,
    cpuSecondsPerGB: cpuSeconds / (bytes / 1e9),
    bytes,
    secs,
  }));
}

/** Child mode `idle`: N idle connections between two stacks over MemoryLink; prints JSON. */
async function idleChild(count: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
  const settle = () => {
    for (let i = 0; i < 3; i++) gc();
    return Deno.memoryUsage();
  };
  const [da, db] = MemoryLink.pair({ queueFrames: 4096 });
  const a = new Stack({ device: da, ipv4: "192.0.2.2/24", tcp: IDLE_TCP });
  const b = new Stack({ device: db, ipv4: "192.0.2.1/24", tcp: IDLE_TCP });
  await a.start();
  await b.start();
  // More than one client port range's worth of connections needs more server ports.
  const ports = Math.ceil(count / IDLE_CONNS_PER_PORT);
  const listeners = Array.from(
    { length: ports },
    (_, i) => b.listen({ port: BULK_PORT + 100 + i, backlog: 4096 }),
  );
  const l = listeners[0];
  // A first connection so lazily built structures exist before the baseline.
  const warm = await a.connect({ hostname: "192.0.2.1", port: l.addr.port });
  const warmServer = await l.accept();
  const base = settle();
  const clients: TcpConn[] = [];
  const servers: TcpConn[] = [];
  const accepting = Promise.all(listeners.map(async (li, k) => {
    const share = Math.min(IDLE_CONNS_PER_PORT, count - k * IDLE_CONNS_PER_PORT);
    for (let j = 0; j < share; j++) servers.push(await li.accept());
  }));
  const BATCH = 200;
  for (let i = 0; i < count; i += BATCH) {
    const n = Math.min(BATCH, count - i);
    const batch = await Promise.all(
      Array.from({ length: n }, (_, j) =>
        a.connect({
          hostname: "192.0.2.1",
          port: BULK_PORT + 100 + Math.floor((i + j) / IDLE_CONNS_PER_PORT),
        })),
    );
    clients.push(...batch);
    // Pace the client: never let the accept queue (bounded by the backlog) overflow.
    const waitUntil = performance.now() + CONNECT_RETRY_MS;
    while (servers.length < clients.length && performance.now() < waitUntil) await sleep(1);
    if (env("RSPF_DEBUG", "") !== "") {
      console.error("connected", clients.length, "accepted", servers.length);
    }
  }
  while (servers.length < count) {
    const before = servers.length;
    await Promise.race([accepting, sleep(2000)]);
    if (env("RSPF_DEBUG", "") !== "") console.error("accepted", servers.length);
    if (servers.length === before) {
      throw new Error(`accept stalled at ${servers.length} of ${count} connections`);
    }
  }
  const held = settle();
  const timersArmed = a.wheel.size + b.wheel.size;
  const loops0 = a.loopStats.iterations + b.loopStats.iterations;
  // Watch the held connections while both loops run: nothing may grow per loop tick.
  let maxTimers = timersArmed;
  const watchEnd = performance.now() + IDLE_WATCH_SECONDS * 1000;
  while (performance.now() < watchEnd) {
    await sleep(100);
    maxTimers = Math.max(maxTimers, a.wheel.size + b.wheel.size);
  }
  const later = settle();
  const conns = 2 * count;
  console.log(JSON.stringify({
    connections: conns,
    heapBytesPerConnection: (held.heapUsed - base.heapUsed) / conns,
    externalBytesPerConnection: (held.external - base.external) / conns,
    heapGrowthBytesIdle: later.heapUsed - held.heapUsed,
    idleSeconds: IDLE_WATCH_SECONDS,
    loopIterationsIdle: a.loopStats.iterations + b.loopStats.iterations - loops0,
    timersArmedPerConnection: timersArmed / conns,
    maxTimersArmedIdle: maxTimers,
  }));
  for (const c of [...clients, ...servers, warm, warmServer]) c.close();
  for (const li of listeners) li.close();
  await a.close();
  await b.close();
}

/**
 * Bytes of the hostile-LAN download: issue 16's soak size, 64 MiB, unless `RAWSTACK_BENCH_HOSTILE_MIB`
 * asks for more (a 64 MiB run lasts 0.3–0.7 s, so a busy machine moves its ratio a lot: for an
 * A/B, e.g. 512).
 */
const HOSTILE_BYTES = Math.max(
  1,
  Math.floor(Number(env("RAWSTACK_BENCH_HOSTILE_MIB", "64"))) || 64,
) * 1024 * 1024;

/** One hostile-LAN download (src/testing/hostile_lan.ts), attacked or not; prints its goodput. */
async function hostileChild(attacked: boolean): Promise<void> {
  const cpu0 = process.cpuUsage();
  const r = await runHostileLan({ bytes: HOSTILE_BYTES, attack: attacked });
  const cpu = process.cpuUsage(cpu0);
  if (!r.intact) throw new Error("the hostile-LAN download was not byte-exact");
  const attackFrames = Object.values(r.attackFrames).reduce((a, b) => a + b, 0);
  // CPU time (the whole run, both stacks and the attacker: one thread does all of it) is less
  // moved than wall time by other work on the machine: an A/B can compare Mbit per CPU second.
  const cpuMs = (cpu.user + cpu.system) / 1000;
  console.log(JSON.stringify({
    mbps: r.goodputMbps,
    attackFrames,
    elapsedMs: r.elapsedMs,
    cpuMs,
    mbitPerCpuSecond: (r.bytes * 8) / 1e6 / (cpuMs / 1000),
  }));
}

/**
 * The hostile-LAN row: goodput of a 64 MiB download while an attacker on the same hub sends every
 * attack of issue 16, beside the same download unattacked, alternating in one run (goal ≥ 0.5).
 */
async function hostileRows(rows: Row[]): Promise<void> {
  const attacked: number[] = [];
  const quiet: number[] = [];
  let note: string | null = null;
  for (let i = 0; i < REPEATS; i++) {
    try {
      quiet.push((await child(["hostile", "quiet"])).mbps / 1000);
      attacked.push((await child(["hostile", "attacked"])).mbps / 1000);
    } catch (e) {
      note = `failed: ${e instanceof Error ? e.message : e}`.slice(0, 160);
    }
  }
  rows.push({
    workload: `hostile LAN: ${
      HOSTILE_BYTES / (1024 * 1024)
    } MiB download while attacked (goal ≥ 0.5× unattacked)`,
    config: "in process",
    unit: "Gbit/s",
    rawstack: attacked,
    rawstackNote: note,
    reference: "rawstack unattacked, same run",
    kernel: quiet,
    kernelNote: note,
  });
  printRow(rows[rows.length - 1]);
}

/**
 * rawstack routing between two veth links against the kernel's forwarding
 * in the same namespaces, same run (bench/router_bench.ts): small-datagram
 * forwarding rate and TCP goodput, goal ≥ 0.5× the kernel.
 */
async function routerRows(rows: Row[]): Promise<void> {
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
    rows.push({
      workload,
      config: "router",
      unit,
      rawstack: v.rawstack,
      rawstackNote: note,
      reference: "kernel ip_forward=1, same namespaces",
      kernel: v.kernel,
      kernelNote: note,
    });
    printRow(rows[rows.length - 1]);
  }
}

async function child(args: string[], v8Flags: string[] = []): Promise<Record<string, number>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...v8Flags, new URL(import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (out.code !== 0) {
    throw new Error(new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" "));
  }
  return JSON.parse(text.split("\n").pop()!);
}

async function inProcessRows(rows: Row[]): Promise<Record<string, unknown>> {
  const extra: Record<string, unknown> = {};
  const gbps: number[] = [];
  const cpu: number[] = [];
  let note: string | null = null;
  for (let i = 0; i < REPEATS; i++) {
    try {
      const r = await child(["memlink", String(SECONDS)]);
      gbps.push(r.gbps);
      cpu.push(r.cpuSecondsPerGB);
    } catch (e) {
      note = `failed: ${e instanceof Error ? e.message : e}`.slice(0, 160);
    }
  }
  const none = { values: [] as number[], note: "—" };
  for (
    const [workload, unit, values] of [
      ["two rawstack hosts in one process over MemoryLink", "Gbit/s", gbps],
      ["  … CPU seconds per GB (both hosts, one thread)", "CPU s/GB", cpu],
    ] as const
  ) {
    rows.push({
      workload,
      config: "in process",
      unit,
      rawstack: [...values],
      rawstackNote: note,
      reference: "—",
      kernel: none.values,
      kernelNote: none.note,
      lowerIsBetter: unit === "CPU s/GB",
    });
    printRow(rows[rows.length - 1]);
  }
  try {
    const r = await child(["idle", String(IDLE_CONNS)], ["--v8-flags=--expose-gc"]);
    extra.idle = r;
    for (
      const [workload, unit, v] of [
        [`${IDLE_CONNS} idle established connections: heap`, "B/conn", r.heapBytesPerConnection],
        ["  … off-heap (rings, ArrayBuffers)", "B/conn", r.externalBytesPerConnection],
        [`  … heap growth over ${r.idleSeconds} s idle`, "bytes", r.heapGrowthBytesIdle],
        ["  … loop iterations while idle (both stacks)", "ticks", r.loopIterationsIdle],
        ["  … timers armed per idle connection", "timers", r.timersArmedPerConnection],
      ] as const
    ) {
      rows.push({
        workload,
        config: "in process",
        unit,
        rawstack: [v],
        rawstackNote: null,
        reference: "—",
        kernel: [],
        kernelNote: "—",
        lowerIsBetter: true,
      });
      printRow(rows[rows.length - 1]);
    }
  } catch (e) {
    rows.push({
      workload: `${IDLE_CONNS} idle established connections`,
      config: "in process",
      unit: "B/conn",
      rawstack: [],
      rawstackNote: `failed: ${e instanceof Error ? e.message : e}`.slice(0, 160),
      reference: "—",
      kernel: [],
      kernelNote: "—",
    });
  }
  return extra;
}

// ---------------------------------------------------------------- output

function fmt(x: number): string {
  if (!Number.isFinite(x)) return "n/a";
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString("en");
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

function cell(values: number[], note: string | null): string {
  if (values.length === 0) return note ?? "n/a";
  const s = [...values].sort((a, b) => a - b);
  const m = `${fmt(median(s))}`;
  const range = s.length > 1 ? ` (${fmt(s[0])}–${fmt(s[s.length - 1])})` : "";
  // (The IPv6 rows take IPV6_PAIRS samples: a failure there is flagged by its note.)
  const failed = note !== null && (values.length < REPEATS || note.startsWith("failed"));
  return m + range + (failed ? " [some runs failed]" : "");
}

function ratio(r: Row): string {
  if (r.rawstack.length === 0 || r.kernel.length === 0) return "—";
  if (r.reference.startsWith("iperf3")) return "—";
  if (r.pairRatios !== undefined && r.pairRatios.length > 0) {
    return `${median(r.pairRatios).toFixed(2)}× (median of pairs)`;
  }
  const x = median(r.rawstack) / median(r.kernel);
  return `${x.toFixed(2)}×${r.lowerIsBetter ? " (lower is better)" : ""}`;
}

const HEADER = [
  "workload",
  "config",
  "unit",
  "rawstack median (min–max)",
  "reference",
  "kernel median (min–max)",
  "ratio",
];

function rowCells(r: Row): string[] {
  return [
    r.workload,
    r.config,
    r.unit,
    cell(r.rawstack, r.rawstackNote),
    r.reference,
    cell(r.kernel, r.kernelNote),
    ratio(r),
  ];
}

function printRow(r: Row): void {
  console.log(`  ${rowCells(r).join(" | ")}`);
}

function printTable(rows: Row[]): void {
  const table = rows.map(rowCells);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
  const line = (c: string[]) => "| " + c.map((x, i) => x.padEnd(widths[i])).join(" | ") + " |";
  console.log(line(HEADER));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const t of table) console.log(line(t));
}

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

/**
 * Child modes `lab-send` / `lab-receive` [`a`|`b`] [`super`]: one bulk measurement in
 * configuration (a) (default; like for like, or with `super` rawstack's interface keeps its
 * TSO) or (b), for `--cpu-prof`.
 */
async function labBulkChild(
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
async function labSmallChild(kind: "rr" | "crr", config: "a" | "b"): Promise<void> {
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
async function labHttpChild(config: "a" | "b"): Promise<void> {
  const lab = await Lab.create({ prefix: PREFIX, router: true, peerOffloads: config === "b" });
  const bench = new LabBench(lab, config);
  const rows: Row[] = [];
  try {
    for (const ns of [lab.peerNetns, lab.farNetns!]) {
      await lab.runIn(ns, ["sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1"]);
      await lab.runIn(ns, ["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=10000 65000"]);
    }
    await httpRows(bench, (workload, unit, r, reference, k, lowerIsBetter) => {
      rows.push({
        workload,
        config: config === "a" ? "(a) offloads off" : "(b) offloads on",
        unit,
        rawstack: r.values,
        rawstackNote: r.note,
        reference,
        kernel: k.values,
        kernelNote: k.note,
        lowerIsBetter,
      });
      printRow(rows[rows.length - 1]);
    });
  } finally {
    await bench.close();
    await lab.destroy();
  }
  console.log();
  printTable(rows);
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
    await likeForLikeBulkRows(bench, (workload, unit, r, reference, k) => {
      rows.push({
        workload,
        config: "(a) offloads off",
        unit,
        rawstack: r.values,
        rawstackNote: r.note,
        reference,
        kernel: k.values,
        kernelNote: k.note,
      });
      printRow(rows[rows.length - 1]);
    });
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
    await ipv6Rows(bench, (workload, unit, r, reference, k, lowerIsBetter, pairRatios, refs) => {
      rows.push({
        workload,
        config: config === "a" ? "(a) offloads off" : "(b) offloads on",
        unit,
        rawstack: r.values,
        rawstackNote: r.note,
        reference,
        kernel: k.values,
        kernelNote: k.note,
        lowerIsBetter,
        pairRatios,
        referenceSamples: refs,
      });
      printRow(rows[rows.length - 1]);
    });
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
