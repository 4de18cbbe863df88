/**
 * The benchmark harness's settings (bench/harness.ts, whose header lists the
 * `RAWSTACK_BENCH_*` environment variables): what the environment asks for, read
 * once at start, and the ports and sizes every row shares. Settings of one group
 * of rows live with it (the loss rows' ports and loss rates, the idle row's watch
 * time and ports, the IPv6 and HTTP rows' selections).
 *
 * @module
 */

import type { AfPacketMode } from "../src/phy/af_packet.ts";

/** This folder (bench/), where the harness's tools and results live. */
export const HERE = new URL(".", import.meta.url).pathname;

/** The environment variable `name`, or `fallback` when unset or not readable. */
export const env = (name: string, fallback: string): string => {
  try {
    return Deno.env.get(name) ?? fallback;
  } catch {
    return fallback;
  }
};
/** Namespace prefix of the lab (env `RAWSTACK_BENCH_PREFIX`, default `rspf`). */
export const PREFIX = env("RAWSTACK_BENCH_PREFIX", "rspf");
export const SECONDS = Math.max(0.5, Number(env("RAWSTACK_BENCH_SECONDS", "3")));
export const REPEATS = Math.max(1, Math.floor(Number(env("RAWSTACK_BENCH_REPEATS", "3"))));
/** Interleaved IPv4/IPv6 sample pairs of each IPv6 row (issue 18): at least REPEATS. */
export const IPV6_PAIRS = Math.max(
  REPEATS,
  Math.floor(Number(env("RAWSTACK_BENCH_IPV6_PAIRS", "5"))) || REPEATS,
);
export const CONFIGS = env("RAWSTACK_BENCH_CONFIGS", "ab");
export const DEVICE_MODE = env("RAWSTACK_BENCH_MODE", "ring-v2") as AfPacketMode;
export const BUSY_POLL_MS = Number(env("RAWSTACK_BENCH_BUSY_POLL_MS", "5"));
/**
 * Configurations whose rawstack device is opened with `vnetHeader: true` (env
 * `RAWSTACK_BENCH_VNET`: `a`, `b`, `ab` or `none`; the others get `vnetHeader:
 * false`). Unset (the default): (a) opens the device with default options —
 * PACKET_VNET_HDR on where the kernel accepts it, MTU-sized ring slots — and
 * (b) with `vnetHeader: true`, whose ring slots take the peer's super-frames.
 */
export const VNET_ENV = env("RAWSTACK_BENCH_VNET", "");
/** The `vnetHeader` option of configuration `config` (undefined: the device default). */
export const vnetOption = (config: "a" | "b"): boolean | undefined =>
  VNET_ENV === "" ? (config === "b" ? true : undefined) : VNET_ENV.includes(config);
/** rawstack's transmit offloads with vnetHeader (env `RAWSTACK_BENCH_TX_OFFLOADS`: `on`, `checksum`, `off`). */
export const TX_OFFLOADS_ENV = env("RAWSTACK_BENCH_TX_OFFLOADS", "on");
export const TX_OFFLOADS = TX_OFFLOADS_ENV === "off"
  ? false
  : TX_OFFLOADS_ENV === "checksum"
  ? "checksum"
  : true;
/**
 * rawstack's device sends its full transmit batches from a worker thread
 * (AfPacketOptions.txThread; env `RAWSTACK_BENCH_TX_THREAD`: `1` on, default off).
 */
export const TX_THREAD = env("RAWSTACK_BENCH_TX_THREAD", "0") === "1";
/** Linux BIG TCP on the `ipv6` mode's kernel sender: its largest TSO frame, 0 = off. */
export const BIG_TCP_BYTES = Math.max(
  0,
  Math.floor(Number(env("RAWSTACK_BENCH_BIG_TCP", "0"))) || 0,
);
/** Frames the Stack takes from the device per loop iteration (env `RAWSTACK_BENCH_RX_BUDGET`). */
export const RX_BUDGET = Math.max(1, Math.floor(Number(env("RAWSTACK_BENCH_RX_BUDGET", "64"))));
export const IDLE_CONNS = Math.max(
  1,
  Math.floor(Number(env("RAWSTACK_BENCH_IDLE_CONNS", "10000"))),
);

export const BULK_PORT = 5001;
export const RR_PORT = 5002;
export const CRR_PORT = 5003;
export const IPERF_PORT = 5201;
/** stack.serve's port (rawstack side) and Deno.serve's (kernel, far namespace) for wrk. */
export const HTTP_SERVE_PORT = 8080;
/** Deno.serve in the peer namespace that stack.fetch and Deno's fetch (from far) ask. */
export const HTTP_FETCH_PORT = 8081;
export const HTTP_TOOL = `${HERE}_http_tool.ts`;
/** wrk's connections (issue #20's measurements used 50). */
export const WRK_CONNECTIONS = 50;
/** Concurrent request loops of the fetch rows. */
export const FETCH_LOOPS = 8;
/** `RAWSTACK_BENCH_HTTP=0` skips the HTTP rows (wrk, fetch). */
export const HTTP_ROWS = env("RAWSTACK_BENCH_HTTP", "1") !== "0";
export const WRITE_CHUNK_BYTES = 64 * 1024;
export const READ_BUFFER_BYTES = 256 * 1024;
export const CRR_REQUEST_BYTES = 64;
export const CONNECT_RETRY_MS = 3000;
/** Slack added to a measurement's own duration before it is declared stuck. */
export const STUCK_SLACK_MS = 15_000;
export const TCP_BUFFER_BYTES = Number(env("RAWSTACK_BENCH_TCP_BUFFER_BYTES", "0"));
/** TCP tunables of every benchmarked stack: the engine defaults unless the env says otherwise. */
export const STACK_TCP = TCP_BUFFER_BYTES > 0
  ? { sendBufferBytes: TCP_BUFFER_BYTES, receiveBufferBytes: TCP_BUFFER_BYTES }
  : {};
