/**
 * In-process TCP bulk benchmark (issue 5): two rawstack stacks joined by a
 * {@link MemoryLink}, one connection, data flowing A → B.
 *
 * Run: `deno run -A --v8-flags=--expose-gc bench/tcp_bench.ts [options]`
 *
 * Modes (`--mode`):
 * - `sync` (default): both stacks without their event loops, driven by one
 *   synchronous loop (`Stack.poll()` on each side) and the engine API
 *   (`TcpConnection.write/read`). Measures the protocol path alone: wire
 *   codecs, IPv4/Ethernet, TCP input/output, rings, timers.
 * - `async`: both stacks with their event loops, the application using
 *   `TcpConn.write/read` (promises) as the harness does.
 *
 * Printed (and with `--json`, one JSON line): Gbit/s of payload, CPU seconds
 * per GB (`process.cpuUsage()`, user + system), segments per second, and the
 * heap bytes allocated per segment in steady state.
 *
 * How "bytes allocated per segment" is measured: after warm-up, the bulk
 * transfer runs in bursts; `Deno.memoryUsage().heapUsed` is read before and
 * after each burst. V8 only frees memory in a GC, so a burst during which no
 * GC ran grows the heap by exactly what it allocated; bursts during which a
 * GC ran show a drop and are discarded. The median growth of the clean bursts
 * divided by the segments (data + ACKs, both stacks) of the burst is the
 * figure. With `--expose-gc` the heap is collected before each burst, so the
 * young generation is empty and most bursts are clean.
 *
 * Where the remaining bytes come from: `--alloc-sites` (sync mode) runs V8's
 * sampling heap profiler (through `node:inspector`, every 32 bytes, counting
 * objects a GC already collected) over the measured loop and prints the
 * functions that allocated, in bytes per segment. Functions V8 inlined are
 * reported as the function they were inlined into. Add
 * `--v8-flags=--expose-gc,--sampling-heap-profiler-suppress-randomness` for
 * repeatable figures.
 *
 * Options: `--seconds N` (5), `--mode sync|async`, `--buffer BYTES` (TCP send
 * and receive buffers, default the engine's), `--write BYTES` (64 KiB),
 * `--read BYTES` (256 KiB), `--no-ack-batching` (TcpConfig.ackBatching off),
 * `--alloc-sites`, `--json`; lab modes (`--mode lab-tx|lab-rx`, root): `--vnet on|off`
 * (the device's `vnetHeader`; absent: its default).
 *
 * @module
 */

import process from "node:process";
import { Session } from "node:inspector";
import { MemoryLink } from "../src/phy/memory_link.ts";
import { Stack } from "../src/stack.ts";
import type { TcpConnection } from "../src/tcp/connection.ts";
import type { TcpConfig } from "../src/tcp/config.ts";
import { Lab, labUnavailableReason } from "../src/testing/lab.ts";

const A_ADDR = "192.0.2.2";
const B_ADDR = "192.0.2.1";
const B_ADDR_U32 = 0xc0000201 | 0;
const PORT = 5201;
const LINK_QUEUE_FRAMES = 4096;
const DEFAULT_SECONDS = 5;
const DEFAULT_WRITE_BYTES = 64 * 1024;
const DEFAULT_READ_BYTES = 256 * 1024;
const WARMUP_FRACTION = 0.2;
/** Sync-mode loop iterations per heap sample. */
const HEAP_BURST_ITERATIONS = 200;
const HEAP_SAMPLES = 40;
const BITS_PER_BYTE = 8;
const GIGA = 1e9;
const MICROS_PER_SECOND = 1e6;

interface Options {
  seconds: number;
  mode: "sync" | "async" | "lab-tx" | "lab-rx";
  buffer: number;
  write: number;
  read: number;
  json: boolean;
  ackBatching: boolean;
  allocSites: boolean;
  /** Lab modes: the device's `vnetHeader` (`--vnet on|off`; absent: the device default). */
  vnet: boolean | undefined;
}

/** The figures of one run. */
export interface TcpBenchResult {
  mode: string;
  gbps: number;
  cpuSecondsPerGB: number;
  segmentsPerSecond: number;
  heapBytesPerSegment: number;
  heapSamples: number;
  bytes: number;
  seconds: number;
  retransmits: number;
  /** TCP segments sent by both stacks (lab: by rawstack) over the whole run, warm-up included. */
  totalSegmentsOut?: number;
  /** TCP segments received by both stacks (lab: by rawstack) over the whole run. */
  totalSegmentsIn?: number;
}

function parseArgs(args: string[]): Options {
  const o: Options = {
    seconds: DEFAULT_SECONDS,
    mode: "sync",
    buffer: 0,
    write: DEFAULT_WRITE_BYTES,
    read: DEFAULT_READ_BYTES,
    json: false,
    ackBatching: true,
    allocSites: false,
    vnet: undefined,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    if (a === "--seconds") o.seconds = Number(v), i++;
    else if (a === "--mode") {
      o.mode = v === "async" || v === "lab-tx" || v === "lab-rx" ? v : "sync";
      i++;
    } else if (a === "--buffer") o.buffer = Number(v), i++;
    else if (a === "--write") o.write = Number(v), i++;
    else if (a === "--read") o.read = Number(v), i++;
    else if (a === "--json") o.json = true;
    else if (a === "--no-ack-batching") o.ackBatching = false;
    else if (a === "--alloc-sites") o.allocSites = true;
    else if (a === "--vnet") {
      o.vnet = v === "on" ? true : v === "off" ? false : undefined;
      i++;
    }
  }
  return o;
}

function tcpConfig(o: Options): Partial<TcpConfig> {
  const c: Partial<TcpConfig> = { ackBatching: o.ackBatching };
  if (o.buffer > 0) {
    c.sendBufferBytes = o.buffer;
    c.receiveBufferBytes = o.buffer;
  }
  return c;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((x, y) => x - y);
  return s[s.length >> 1];
}

function segments(a: Stack, b: Stack): number {
  return a.tcp.stats.segmentsOut + b.tcp.stats.segmentsOut;
}

/** Sampling interval of the allocation profile, in bytes. */
const ALLOC_SAMPLING_BYTES = 32;
/** Allocation sites printed. */
const ALLOC_SITES_SHOWN = 15;

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/** Runs `step` for `seconds` under V8's sampling heap profiler and prints bytes per segment by function. */
async function printAllocationSites(
  step: () => void | Promise<void>,
  segs: () => number,
  seconds: number,
): Promise<void> {
  const session = new Session();
  session.connect();
  session.post("HeapProfiler.startSampling", {
    samplingInterval: ALLOC_SAMPLING_BYTES,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  const seg0 = segs();
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) await step();
  const n = segs() - seg0;
  const profile = await new Promise<{ head: SamplingNode } | null>((resolve) =>
    session.post("HeapProfiler.stopSampling", (err, r) => {
      resolve(err === null ? (r as { profile: { head: SamplingNode } }).profile : null);
    })
  );
  session.disconnect();
  if (profile === null) {
    console.log("alloc-sites: no profile (inspector unavailable)");
    return;
  }
  const sites = new Map<string, number>();
  let total = 0;
  const walk = (node: SamplingNode, caller: string): void => {
    const f = node.callFrame;
    const name = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/(src|bench)\//, "$1/")}`;
    if (node.selfSize > 0) {
      const key = `${name}  <- ${caller}`;
      sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const c of node.children) walk(c, name);
  };
  walk(profile.head, "");
  console.log(`alloc-sites: ${(total / n).toFixed(1)} sampled B/segment over ${n} segments`);
  const top = [...sites].sort((x, y) => y[1] - x[1]).slice(0, ALLOC_SITES_SHOWN);
  for (const [k, v] of top) console.log(`${(v / n).toFixed(2).padStart(8)}  ${k}`);
}

/** Synchronous driver: both stacks polled in one loop, engine API. */
async function runSync(o: Options): Promise<TcpBenchResult> {
  const [da, db] = MemoryLink.pair({ queueFrames: LINK_QUEUE_FRAMES });
  const a = new Stack({ device: da, ipv4: `${A_ADDR}/24`, tcp: tcpConfig(o), eventLoop: false });
  const b = new Stack({ device: db, ipv4: `${B_ADDR}/24`, tcp: tcpConfig(o), eventLoop: false });
  a.start();
  b.start();
  const listener = b.tcp.listen(PORT);
  const client = a.tcp.connect(a.nowMs(), B_ADDR_U32, PORT);
  let server: TcpConnection | null = null;
  for (let i = 0; i < 1000 && server === null; i++) {
    a.poll();
    b.poll();
    server = listener.accept();
  }
  if (server === null) throw new Error("handshake did not complete");
  const chunk = new Uint8Array(o.write);
  const sink = new Uint8Array(o.read);
  let received = 0;
  const step = (): void => {
    // The application side of each stack, then one poll each (as a loop iteration would).
    a.nowMs();
    while (client.write(chunk, 0, chunk.length) > 0) { /* fill the send ring */ }
    a.afterSend();
    a.poll();
    b.nowMs();
    b.poll();
    for (;;) {
      const n = server!.read(sink, 0, sink.length);
      if (n <= 0) break;
      received += n;
    }
    b.afterSend();
  };
  const warmEnd = performance.now() + o.seconds * 1000 * WARMUP_FRACTION;
  while (performance.now() < warmEnd) step();

  // Heap bytes per segment (see the module doc).
  const perSegment: number[] = [];
  for (let s = 0; s < HEAP_SAMPLES; s++) {
    gc();
    const seg0 = segments(a, b);
    const h0 = Deno.memoryUsage().heapUsed;
    for (let i = 0; i < HEAP_BURST_ITERATIONS; i++) step();
    const h1 = Deno.memoryUsage().heapUsed;
    const segs = segments(a, b) - seg0;
    if (h1 >= h0 && segs > 0) perSegment.push((h1 - h0) / segs);
  }

  if (o.allocSites) await printAllocationSites(step, () => segments(a, b), o.seconds);

  const bytes0 = received;
  const seg0 = segments(a, b);
  const rtx0 = a.tcp.stats.retransmits;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + o.seconds * 1000;
  while (performance.now() < end) step();
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const bytes = received - bytes0;
  const result: TcpBenchResult = {
    mode: "sync",
    gbps: bytes * BITS_PER_BYTE / secs / GIGA,
    cpuSecondsPerGB: (cpu.user + cpu.system) / MICROS_PER_SECOND / (bytes / GIGA),
    segmentsPerSecond: (segments(a, b) - seg0) / secs,
    heapBytesPerSegment: median(perSegment),
    heapSamples: perSegment.length,
    bytes,
    seconds: secs,
    retransmits: a.tcp.stats.retransmits - rtx0,
    totalSegmentsOut: a.tcp.stats.segmentsOut + b.tcp.stats.segmentsOut,
    totalSegmentsIn: a.tcp.stats.segmentsIn + b.tcp.stats.segmentsIn,
  };
  client.abort();
  a.close();
  b.close();
  return result;
}

/** Asynchronous driver: event loops on, `TcpConn` promises (as an application would). */
async function runAsync(o: Options): Promise<TcpBenchResult> {
  const [da, db] = MemoryLink.pair({ queueFrames: LINK_QUEUE_FRAMES });
  const a = new Stack({ device: da, ipv4: `${A_ADDR}/24`, tcp: tcpConfig(o) });
  const b = new Stack({ device: db, ipv4: `${B_ADDR}/24`, tcp: tcpConfig(o) });
  await a.start();
  await b.start();
  const l = b.listen({ port: PORT });
  let received = 0;
  let stop = false;
  const server = (async () => {
    const c = await l.accept();
    const buf = new Uint8Array(o.read);
    for (;;) {
      const n = await c.read(buf);
      if (n === null) break;
      received += n;
    }
    c.close();
  })();
  const c = await a.connect({ hostname: B_ADDR, port: PORT });
  const chunk = new Uint8Array(o.write);
  const warmEnd = performance.now() + o.seconds * 1000 * WARMUP_FRACTION;
  while (performance.now() < warmEnd) await c.write(chunk);

  const perSegment: number[] = [];
  const heapWriter = async () => {
    for (let s = 0; s < HEAP_SAMPLES && !stop; s++) {
      gc();
      const seg0 = segments(a, b);
      const h0 = Deno.memoryUsage().heapUsed;
      for (let i = 0; i < HEAP_BURST_ITERATIONS / 4; i++) await c.write(chunk);
      const h1 = Deno.memoryUsage().heapUsed;
      const segs = segments(a, b) - seg0;
      if (h1 >= h0 && segs > 0) perSegment.push((h1 - h0) / segs);
    }
  };
  await heapWriter();
  if (o.allocSites) {
    await printAllocationSites(
      async () => {
        await c.write(chunk);
      },
      () => segments(a, b),
      o.seconds,
    );
  }

  const bytes0 = received;
  const seg0 = segments(a, b);
  const rtx0 = a.tcp.stats.retransmits;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + o.seconds * 1000;
  while (performance.now() < end) await c.write(chunk);
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const bytes = received - bytes0;
  stop = true;
  const result: TcpBenchResult = {
    mode: "async",
    gbps: bytes * BITS_PER_BYTE / secs / GIGA,
    cpuSecondsPerGB: (cpu.user + cpu.system) / MICROS_PER_SECOND / (bytes / GIGA),
    segmentsPerSecond: (segments(a, b) - seg0) / secs,
    heapBytesPerSegment: median(perSegment),
    heapSamples: perSegment.length,
    bytes,
    seconds: secs,
    retransmits: a.tcp.stats.retransmits - rtx0,
  };
  await c.closeWrite();
  await server;
  c.close();
  l.close();
  await a.close();
  await b.close();
  return result;
}

/** Kernel side of the lab modes: a sink (`recv`) or a timed source (`send`); prints JSON. */
const KERNEL_TOOL = `
import socket, sys, time, json
mode, host, port, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
buf = bytearray(1 << 20)
if mode == "recv":
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((host, port)); l.listen(1); print("ready", flush=True)
    c, _ = l.accept(); n = 0; t0 = None
    while True:
        k = c.recv_into(buf)
        if k == 0: break
        if t0 is None: t0 = time.monotonic()
        n += k
    print(json.dumps({"bytes": n, "secs": time.monotonic() - t0}), flush=True)
else:
    c = socket.create_connection((host, port)); n = 0
    t0 = time.monotonic(); end = t0 + seconds
    while time.monotonic() < end:
        n += c.send(buf)
    c.shutdown(socket.SHUT_WR); c.recv(1)
    print(json.dumps({"bytes": n, "secs": time.monotonic() - t0}), flush=True)
`;
const LAB_PREFIX = "rstpbench";

/** Lab modes (root): rawstack on AF_PACKET against the kernel in a peer namespace, offloads off. */
async function runLab(o: Options): Promise<TcpBenchResult> {
  const reason = labUnavailableReason(["python3", "ethtool"]);
  if (reason !== null) throw new Error(`lab modes need root: ${reason}`);
  const lab = await Lab.create({ prefix: LAB_PREFIX });
  let stack: Stack | null = null;
  try {
    const device = await lab.openDevice({ vnetHeader: o.vnet });
    stack = new Stack({
      device,
      ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
      tcp: tcpConfig(o),
    });
    await stack.start();
    const seg0 = stack.tcp.stats.segmentsIn + stack.tcp.stats.segmentsOut;
    const cpu0 = process.cpuUsage();
    let kernel: { bytes: number; secs: number };
    let rtx = 0;
    if (o.mode === "lab-tx") {
      const sink = lab.spawnInPeer([
        "python3",
        "-c",
        KERNEL_TOOL,
        "recv",
        lab.peerAddress,
        String(PORT),
        "0",
      ]);
      let c = null;
      for (let i = 0; i < 50 && c === null; i++) {
        try {
          c = await stack.connect({ hostname: lab.peerAddress, port: PORT });
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      if (c === null) throw new Error("cannot connect to the kernel sink");
      const chunk = new Uint8Array(o.write);
      const end = performance.now() + o.seconds * 1000;
      while (performance.now() < end) await c.write(chunk);
      await c.closeWrite();
      const out = await sink.finished();
      c.close();
      kernel = JSON.parse(out.stdout.trim().split("\n").pop()!);
      rtx = stack.tcp.stats.retransmits;
    } else {
      const l = stack.listen({ port: PORT });
      const source = lab.spawnInPeer([
        "python3",
        "-c",
        KERNEL_TOOL,
        "send",
        lab.stackAddress,
        String(PORT),
        String(o.seconds),
      ]);
      const c = await l.accept();
      const buf = new Uint8Array(o.read);
      for (;;) {
        const n = await c.read(buf);
        if (n === null) break;
      }
      c.close();
      l.close();
      const out = await source.finished();
      kernel = JSON.parse(out.stdout.trim().split("\n").pop()!);
    }
    const cpu = process.cpuUsage(cpu0);
    const segs = stack.tcp.stats.segmentsIn + stack.tcp.stats.segmentsOut - seg0;
    return {
      mode: o.mode,
      gbps: kernel.bytes * BITS_PER_BYTE / kernel.secs / GIGA,
      cpuSecondsPerGB: (cpu.user + cpu.system) / MICROS_PER_SECOND / (kernel.bytes / GIGA),
      segmentsPerSecond: segs / kernel.secs,
      heapBytesPerSegment: NaN,
      heapSamples: 0,
      bytes: kernel.bytes,
      seconds: kernel.secs,
      retransmits: rtx,
      totalSegmentsOut: stack.tcp.stats.segmentsOut,
      totalSegmentsIn: stack.tcp.stats.segmentsIn,
    };
  } finally {
    if (stack !== null) await stack.close();
    await lab.destroy();
  }
}

if (import.meta.main) {
  const o = parseArgs(Deno.args);
  const r = o.mode === "async"
    ? await runAsync(o)
    : o.mode === "sync"
    ? await runSync(o)
    : await runLab(o);
  if (o.json) console.log(JSON.stringify(r));
  else {
    console.log(
      `tcp_bench ${r.mode}: ${r.gbps.toFixed(2)} Gbit/s, ` +
        `${r.cpuSecondsPerGB.toFixed(3)} CPU s/GB, ` +
        `${(r.segmentsPerSecond / 1e3).toFixed(0)} k segments/s, ` +
        `heap ${r.heapBytesPerSegment.toFixed(1)} B/segment (${r.heapSamples} clean samples), ` +
        `${r.retransmits} retransmits, ${(r.bytes / 1e6).toFixed(0)} MB in ${
          r.seconds.toFixed(1)
        } s`,
    );
  }
}
