/**
 * Helpers for the TCP lab tests: a lab with a started stack and a bounded
 * tcpdump capture checked by tshark, deterministic bulk data shared with the
 * kernel through a file, waiting for kernel ports, a tiny HTTP server on
 * rawstack's API.
 *
 * @module
 */

import assert from "node:assert/strict";
import { findCommand, Lab, run } from "../../src/testing/lab.ts";
import { Stack, type StackOptions } from "../../src/stack.ts";
import type { Device } from "../../src/phy/device.ts";
import type { TcpConn } from "../../src/socket/tcp_conn.ts";
import type { TcpListener } from "../../src/socket/tcp_listener.ts";

/**
 * Like `assertCaptureClean` of ./_helpers.ts (no malformed packet, no bad
 * IPv4/TCP/UDP/ICMP checksum, at least `minPackets`), but TCP payloads are
 * decoded as plain data: bulk random payload otherwise trips heuristic
 * dissectors (Thrift...) into "malformed" reports about the payload, not TCP.
 *
 * One exception, for the kernel's segments only: Linux's software checksum
 * (skb_checksum_help) writes a computed 0x0000 as 0xFFFF (CSUM_MANGLED_0);
 * both are zero in one's complement (RFC 1071, RFC 1624 §3) and receivers
 * accept it, but tshark flags it. rawstack's own segments get no exception.
 *
 * @returns tshark's one-line-per-packet summary
 */
export async function assertTcpCaptureClean(
  path: string,
  minPackets = 1,
  kernelAddress = "192.0.2.1",
): Promise<string> {
  const kernelFfff = `tcp.checksum.ffff && ip.src == ${kernelAddress}`;
  if (findCommand("tshark") === null) throw new Error("tshark is needed to check captures");
  const args = [
    "tshark",
    "-r",
    path,
    "-d",
    "tcp.port==1-65535,data",
    "-o",
    "ip.check_checksum:TRUE",
    "-o",
    "udp.check_checksum:TRUE",
    "-o",
    "tcp.check_checksum:TRUE",
  ];
  const all = await run(args, { check: false });
  assert.equal(all.code, 0, `tshark failed: ${all.stderr}`);
  const lines = all.stdout.split("\n").filter((l) => l.trim() !== "");
  assert.ok(lines.length >= minPackets, `capture has ${lines.length} packets < ${minPackets}`);
  const bad = await run([
    ...args,
    "-Y",
    `_ws.malformed || (_ws.expert.severity >= error && !(${kernelFfff})) || ` +
    "ip.checksum.status == 0 || udp.checksum.status == 0 || icmp.checksum.status == 0 || " +
    `(tcp.checksum.status == 0 && !(${kernelFfff}))`,
  ], { check: false });
  assert.equal(bad.code, 0, `tshark filter failed: ${bad.stderr}`);
  assert.equal(
    bad.stdout.trim(),
    "",
    `tshark found malformed/bad-checksum packets:\n${bad.stdout}`,
  );
  return all.stdout;
}

/** Size of each bulk transfer in MB (env RAWSTACK_BULK_MB, default 100 as the issue asks). */
export function bulkMegabytes(): number {
  const v = Number(Deno.env.get("RAWSTACK_BULK_MB") ?? "100");
  return Number.isFinite(v) && v > 0 ? v : 100;
}

/** Deterministic bytes (xorshift32 stream), fast enough for 100 MB. */
export function bulkData(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  const words = new Uint32Array(out.buffer, 0, length >>> 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  for (let i = words.length * 4; i < length; i++) out[i] = i & 0xff;
  return out;
}

/** SHA-256 as hex (crypto.subtle.digest). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** SHA-256 of a file. */
export async function fileSha256(path: string): Promise<string> {
  return await sha256Hex(await Deno.readFile(path));
}

/** Reads a conn to its end into one array, counting bytes. */
export async function readToEnd(conn: TcpConn, chunk = 256 * 1024): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const buf = new Uint8Array(chunk);
    const n = await conn.read(buf);
    if (n === null) break;
    parts.push(n === chunk ? buf : buf.subarray(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Writes `data` in 1 MiB writes. */
export async function writeAllChunked(conn: TcpConn, data: Uint8Array): Promise<void> {
  const CHUNK = 1 << 20;
  for (let off = 0; off < data.length; off += CHUNK) {
    await conn.write(data.subarray(off, Math.min(data.length, off + CHUNK)));
  }
}

/** Waits until a TCP port listens in the peer namespace (`ss -tln`). */
export async function waitPeerTcpPort(lab: Lab, port: number, timeoutMs = 5000): Promise<void> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const ss = await lab.runInPeer(["ss", "-H", "-tln", `sport = :${port}`]);
    if (ss.stdout.trim() !== "") return;
    if (performance.now() > end) throw new Error(`nothing listens on TCP port ${port} in the peer`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Serves `body` over HTTP/1.1 on `listener` (one request per connection,
 * `Connection: close`) until the listener closes. Returns the request lines seen.
 */
export function serveHttp(listener: TcpListener, body: Uint8Array): { requests: string[] } {
  const log = { requests: [] as string[] };
  const enc = new TextEncoder();
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(8192);
        let head = "";
        while (!head.includes("\r\n\r\n")) {
          const n = await conn.read(buf);
          if (n === null) break;
          head += new TextDecoder().decode(buf.subarray(0, n));
        }
        log.requests.push(head.split("\r\n")[0]);
        await conn.write(enc.encode(
          `HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\n` +
            `Connection: close\r\n\r\n`,
        ));
        await conn.write(body);
        conn.close();
      })().catch(() => {});
    }
  })().catch(() => {});
  return log;
}

/** What {@link withTcpLab} hands a test. */
export interface TcpLab {
  lab: Lab;
  stack: Stack;
  /** A temporary directory both namespaces see (the file system is shared). */
  dir: string;
  /** Stops the capture and checks it with tshark; returns tshark's summary. */
  checkCapture(minPackets?: number): Promise<string>;
}

/**
 * Builds a lab with a started stack and a tcpdump capture (`--immediate-mode`,
 * at most `capturePackets` packets so bulk transfers keep the check quick);
 * runs `fn`; always tears everything down.
 */
export async function withTcpLab(
  prefix: string,
  opts: {
    stack?: Partial<StackOptions>;
    capturePackets?: number;
    /** Middleware over the AF_PACKET device (e.g. a FaultInjector). */
    wrapDevice?: (device: Device) => Device;
  },
  fn: (t: TcpLab) => Promise<void>,
): Promise<void> {
  const lab = await Lab.create({ prefix });
  const dir = await Deno.makeTempDir({ prefix: `${prefix}-` });
  const pcap = `${dir}/capture.pcap`;
  let stack: Stack | null = null;
  let capture: { child: Deno.ChildProcess; drained: Promise<void> } | null = null;
  const stopCapture = async () => {
    if (capture === null) return;
    const c = capture;
    capture = null;
    try {
      c.child.kill("SIGINT");
    } catch {
      // exited on its own (-c reached)
    }
    await c.child.status;
    await c.drained;
  };
  try {
    capture = await startBoundedCapture(lab, pcap, opts.capturePackets ?? 50_000);
    const raw = await lab.openDevice();
    const device = opts.wrapDevice ? opts.wrapDevice(raw) : raw;
    stack = new Stack({
      device,
      ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
      gateway: lab.peerAddress,
      ...opts.stack,
    });
    await stack.start();
    let checked = false;
    await fn({
      lab,
      stack,
      dir,
      checkCapture: async (minPackets = 1) => {
        checked = true;
        await new Promise((r) => setTimeout(r, 100));
        await stopCapture();
        return await assertTcpCaptureClean(pcap, minPackets, lab.peerAddress);
      },
    });
    if (!checked) throw new Error("lab test did not check its capture");
  } finally {
    if (stack !== null) await stack.close();
    await stopCapture();
    await lab.destroy();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const TCPDUMP_START_TIMEOUT_MS = 5000;

async function startBoundedCapture(
  lab: Lab,
  path: string,
  count: number,
): Promise<{ child: Deno.ChildProcess; drained: Promise<void> }> {
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      lab.peerNetns,
      "tcpdump",
      "--immediate-mode",
      "-i",
      lab.peerIf,
      "-Z",
      "root",
      "-U",
      "-n",
      "-c",
      String(count),
      "-w",
      path,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = performance.now() + TCPDUMP_START_TIMEOUT_MS;
  while (!text.includes("listening on") && performance.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  // Keep draining stderr so tcpdump never blocks on it.
  const drained = (async () => {
    for (;;) {
      const { done } = await reader.read();
      if (done) return;
    }
  })().catch(() => {});
  if (!text.includes("listening on")) {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
    await child.status;
    await drained;
    throw new Error(`tcpdump did not start: ${text.trim()}`);
  }
  return { child, drained };
}
