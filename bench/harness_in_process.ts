/**
 * The benchmark harness's in-process rows (bench/harness.ts): rows that need no lab and
 * run in child processes of bench/harness.ts (its child modes, whose entries are here):
 * `memlink` (two rawstack hosts in one process over MemoryLink, Gbit/s and CPU seconds
 * per GB from `process.cpuUsage()`), `idle` (N idle established connections, heap bytes
 * per connection after a forced GC; run with `--v8-flags=--expose-gc`) and `hostile` (a
 * download on a hostile LAN, attacked beside unattacked, src/testing/hostile_lan.ts).
 *
 * @module
 */

import process from "node:process";
import { Stack } from "../src/stack.ts";
import { MemoryLink } from "../src/phy/memory_link.ts";
import type { TcpConn } from "../src/socket/tcp_conn.ts";
import { runHostileLan } from "../src/testing/hostile_lan.ts";
import { printRow, type Row, sleep } from "./harness_rows.ts";
import {
  BULK_PORT,
  CONNECT_RETRY_MS,
  env,
  IDLE_CONNS,
  READ_BUFFER_BYTES,
  REPEATS,
  SECONDS,
  STACK_TCP,
  WRITE_CHUNK_BYTES,
} from "./harness_settings.ts";

/**
 * Idle connections use the engine's default buffers: rings get storage only when data
 * flows (and give it back when drained), so an idle connection holds none.
 */
const IDLE_TCP = STACK_TCP;
/** Seconds the idle row watches the held connections (env `RAWSTACK_BENCH_IDLE_SECONDS`). */
const IDLE_WATCH_SECONDS = Math.max(1, Number(env("RAWSTACK_BENCH_IDLE_SECONDS", "2")));
/** Connections per listening port in the idle row (one client address has 16,384 ports). */
const IDLE_CONNS_PER_PORT = 15_000;

/** Child mode `memlink`: prints `{"gbps":…, "cpuSecondsPerGB":…, "bytes":…}`. */
export async function memlinkChild(seconds: number): Promise<void> {
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
export async function idleChild(count: number): Promise<void> {
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
export async function hostileChild(attacked: boolean): Promise<void> {
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
export async function hostileRows(rows: Row[]): Promise<void> {
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

/** bench/harness.ts, whose child modes {@link child} runs. */
const HARNESS = new URL("./harness.ts", import.meta.url).pathname;

/** Runs bench/harness.ts in the child mode `args`; the JSON of its last output line. */
async function child(args: string[], v8Flags: string[] = []): Promise<Record<string, number>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...v8Flags, HARNESS, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (out.code !== 0) {
    throw new Error(new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" "));
  }
  return JSON.parse(text.split("\n").pop()!);
}

/** The `memlink` and `idle` rows (child processes); the idle figures also for the JSON. */
export async function inProcessRows(rows: Row[]): Promise<Record<string, unknown>> {
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
