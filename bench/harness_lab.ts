/**
 * The lab side of the benchmark harness (bench/harness.ts): {@link LabBench} runs
 * one measurement of rawstack or of the kernel reference in a lab of one configuration.
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
 * measurement) and iperf3 for context.
 *
 * @module
 */

import {
  type Lab,
  LAB_FAR_ADDRESS6,
  LAB_PEER_ADDRESS6,
  LAB_ROUTER_FAR_ADDRESS,
  LAB_ROUTER_FAR_ADDRESS6,
  LAB_ROUTER_FAR_IF,
  LAB_STACK_ADDRESS6,
  type LabProcess,
} from "../src/testing/lab.ts";
import { Stack } from "../src/stack.ts";
import type { TcpConn } from "../src/socket/tcp_conn.ts";
import type { StackHttpServer } from "../src/http/serve.ts";
import { BENCH_PAGE, requestRate } from "./_http_tool.ts";
import {
  BIG_TCP_BYTES,
  BULK_PORT,
  BUSY_POLL_MS,
  CONNECT_RETRY_MS,
  CRR_PORT,
  CRR_REQUEST_BYTES,
  DEVICE_MODE,
  FETCH_LOOPS,
  HERE,
  HTTP_SERVE_PORT,
  HTTP_TOOL,
  IPERF_PORT,
  READ_BUFFER_BYTES,
  RR_PORT,
  RX_BUDGET,
  SECONDS,
  STACK_TCP,
  STUCK_SLACK_MS,
  TX_OFFLOADS,
  TX_THREAD,
  vnetOption,
  WRITE_CHUNK_BYTES,
  WRK_CONNECTIONS,
} from "./harness_settings.ts";
import { finishedNumbers, sleep, within } from "./harness_rows.ts";

/** bench/tcp_tool.py: the kernel side's load (python3). */
const TOOL = `${HERE}tcp_tool.py`;
/** Room in a ring slot beyond the IP packet: the Ethernet header and slack. */
const BIG_TCP_FRAME_SLACK_BYTES = 64;

/** The measurements of one lab configuration (`a` or `b`), rawstack's and the kernel's. */
export class LabBench {
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
