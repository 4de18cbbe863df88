/**
 * Helpers for the TCP lab tests: a lab with a started stack and a bounded
 * tcpdump capture checked by tshark (via ./_helpers.ts), deterministic bulk
 * data shared with the kernel through a file, waiting for kernel ports, a tiny HTTP server on
 * rawstack's API.
 *
 * @module
 */

import {
  type Lab,
  LAB_PEER_ADDRESS,
  LAB_STACK_ADDRESS,
  type LabProcess,
} from "../../src/testing/lab.ts";
import { type LabStack, until, withLabStack } from "./_helpers.ts";
import type { Stack, StackOptions } from "../../src/stack.ts";
import assert from "node:assert/strict";
import type { Device } from "../../src/phy/device.ts";
import type { AfPacketOptions } from "../../src/phy/af_packet.ts";
import type { TcpConn } from "../../src/socket/tcp_conn.ts";
import type { TcpListener } from "../../src/socket/tcp_listener.ts";
import { wordBytesOf } from "../seeded_random.ts";

/** Size of each bulk transfer in MB (env RAWSTACK_BULK_MB, default 100 as the issue asks). */
export function bulkMegabytes(): number {
  const v = Number(Deno.env.get("RAWSTACK_BULK_MB") ?? "100");
  return Number.isFinite(v) && v > 0 ? v : 100;
}

/** Deterministic bytes (the tests' seeded generator, a word at a time), fast enough for 100 MB. */
export function bulkData(length: number, seed: number): Uint8Array {
  return wordBytesOf(length, seed);
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

/** One bulk transfer by {@link socatTransfer}: the connection, still open, and its duration. */
export interface SocatTransfer {
  /** rawstack's connection, after the peer's FIN and socat's exit; the caller closes it. */
  conn: TcpConn;
  /** From the connection's establishment to the peer's FIN, in milliseconds. */
  ms: number;
}

/**
 * One bulk transfer between rawstack, as the client, and a kernel `socat -u`
 * listening in the peer on `port` (TCP6 when `hostname` is an IPv6 address):
 * - `"up"`: rawstack writes `data` and closes its sending side; socat stores it
 *   in a file under `dir` until the kernel's FIN;
 * - `"down"`: socat serves `data` from a file under `dir` and closes; rawstack
 *   reads to the end.
 *
 * Asserts socat exits 0 and the bytes arrived intact (length and SHA-256),
 * removes the file and returns the connection unclosed, so the caller can check
 * its state and info.
 */
export async function socatTransfer(
  lab: Lab,
  stack: Stack,
  opts: {
    direction: "up" | "down";
    data: Uint8Array;
    port: number;
    dir: string;
    hostname?: string;
  },
): Promise<SocatTransfer> {
  const { direction, data, port, dir } = opts;
  const hostname = opts.hostname ?? lab.peerAddress;
  const listen = `${hostname.includes(":") ? "TCP6" : "TCP"}-LISTEN:${port},reuseaddr`;
  const file = `${dir}/${direction}-${port}.bin`;
  if (direction === "down") await Deno.writeFile(file, data);
  const socat = lab.spawnInPeer(
    direction === "up"
      ? ["socat", "-u", listen, `CREATE:${file}`]
      : ["socat", "-u", `OPEN:${file}`, listen],
  );
  await waitPeerTcpPort(lab, port);
  const conn = await stack.connect({ hostname, port });
  const start = performance.now();
  let ms: number;
  if (direction === "up") {
    await writeAllChunked(conn, data);
    await conn.closeWrite();
    assert.equal(await conn.read(new Uint8Array(1)), null, "the kernel's FIN after our data");
    ms = performance.now() - start;
    assert.equal((await socat.finished()).code, 0, "socat exits 0");
    const got = await Deno.readFile(file);
    assert.equal(got.length, data.length);
    assert.equal(await sha256Hex(got), await sha256Hex(data));
  } else {
    const got = await readToEnd(conn);
    ms = performance.now() - start;
    assert.equal(got.length, data.length);
    assert.equal(await sha256Hex(got), await sha256Hex(data));
    assert.equal((await socat.finished()).code, 0, "socat exits 0");
  }
  await Deno.remove(file);
  return { conn, ms };
}

/** Writes `data` in 1 MiB writes. */
export async function writeAllChunked(conn: TcpConn, data: Uint8Array): Promise<void> {
  const CHUNK = 1 << 20;
  for (let off = 0; off < data.length; off += CHUNK) {
    await conn.write(data.subarray(off, Math.min(data.length, off + CHUNK)));
  }
}

/** How long a TCP lab test waits for our side of a connection to change state. */
const STATE_WAIT_MS = 5000;

/** Waits until `cond()` holds (a connection's state, a counter), failing after `timeoutMs`. */
export function waitFor(
  cond: () => boolean,
  what: string,
  timeoutMs = STATE_WAIT_MS,
): Promise<void> {
  return until(cond, what, timeoutMs);
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
 * Spawns python3 http.server in the peer namespace, serving `dir` on the peer's address and
 * `port` (wait for it with {@link waitPeerTcpPort}; kill it when done).
 */
export function spawnPeerHttpServer(lab: Lab, dir: string, port: number): LabProcess {
  return lab.spawnInPeer([
    "python3",
    "-m",
    "http.server",
    "--bind",
    lab.peerAddress,
    "--directory",
    dir,
    String(port),
  ]);
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
export interface TcpLab extends LabStack {
  /** A temporary directory both namespaces see (the file system is shared). */
  dir: string;
}

/**
 * Builds a lab with a started stack and a tcpdump capture (at most
 * `capturePackets` packets so bulk transfers keep the check quick), checked
 * by `assertCaptureClean` with TCP payload decoded as plain data and the
 * kernel peer's 0xFFFF TCP checksums accepted (see `CaptureCheckOptions` in
 * tests/wire/_tshark.ts); runs `fn`; always tears everything down.
 */
export async function withTcpLab(
  prefix: string,
  opts: {
    stack?: Partial<StackOptions>;
    capturePackets?: number;
    /** Options of the AF_PACKET device (e.g. `txThread`). */
    device?: AfPacketOptions;
    /** Middleware over the AF_PACKET device (e.g. a FaultInjector). */
    wrapDevice?: (device: Device) => Device;
  },
  fn: (t: TcpLab) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: `${prefix}-` });
  try {
    await withLabStack(prefix, {
      stack: opts.stack,
      device: opts.device,
      wrapDevice: opts.wrapDevice,
      capture: {
        count: opts.capturePackets ?? DEFAULT_CAPTURE_PACKETS,
        // The kernel fills in both sides' checksums in software: rawstack's device leaves them
        // to it by default (PACKET_VNET_HDR, the lab's rs0 offloads off).
        check: {
          tcpPayloadAsData: true,
          acceptFfffChecksumFrom: [LAB_PEER_ADDRESS, LAB_STACK_ADDRESS],
        },
      },
    }, (ls) => fn({ ...ls, dir }));
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Packets {@link withTcpLab} captures at most by default. */
const DEFAULT_CAPTURE_PACKETS = 50_000;

/** Python sink: accept one connection, read to EOF, print the byte count and SHA-256 (hex). */
const PY_SHA256_SINK = `
import hashlib, socket, sys
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", int(sys.argv[1])))
l.listen(1)
c, _ = l.accept()
h = hashlib.sha256()
n = 0
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    h.update(b)
    n += len(b)
c.close()
print(n, h.hexdigest())
`;

/**
 * The command of a kernel sink (run it with `lab.spawnInPeer`/`spawnInFar`, needs
 * `python3`): accepts one TCP connection on `port`, reads to the end and prints
 * "<bytes> <sha256 hex>"; {@link sinkResult} parses that.
 */
export function kernelSinkCommand(port: number): string[] {
  return ["python3", "-c", PY_SHA256_SINK, String(port)];
}

/** The byte count and SHA-256 a {@link kernelSinkCommand} printed; asserts it exited 0. */
export function sinkResult(out: { code: number; stdout: string; stderr: string }): {
  bytes: number;
  sha256: string;
} {
  assert.equal(out.code, 0, `python sink: ${out.stderr.trim()}`);
  const [bytes, sha256] = out.stdout.trim().split(" ");
  return { bytes: Number(bytes), sha256 };
}
