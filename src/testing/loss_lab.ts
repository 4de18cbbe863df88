/**
 * Loss-recovery scenarios in the lab (issue 19), shared by the lab test
 * (tests/lab/tcp_recovery_lab_test.ts) and the benchmark harness: rawstack and the
 * Linux kernel send through the kernel router of a {@link Lab} created with
 * `router: true`, whose nftables forward chain drops what the scenario asks:
 *
 * - the tail: the last {@link TAIL_DROP_SEGMENTS} segments of a
 *   {@link TAIL_RESPONSE_BYTES}-byte response, once (their retransmissions pass);
 * - random loss: `numgen random mod 100 < P drop` on the data direction, rawstack and a
 *   kernel sender beside it (same interface, {@link addKernelBesideStack}) sending to one
 *   kernel receiver in the far namespace.
 *
 * The tail rule matches on conntrack's packet counter of the reply direction
 * (the responder's packets: its SYN-ACK is packet 1, the first data segment
 * packet 2) and stops after the dropped segments' bytes with an nftables
 * quota, so it drops exactly the tail's first transmissions. It needs full-sized
 * 1500-byte frames (MSS 1448 with timestamps): the lab's offloads are off.
 *
 * Needs root, `nft` and `python3` (the kernel's ends are small Python programs
 * run in the far namespace).
 *
 * @module
 */

import type { Lab } from "./lab.ts";
import type { Stack } from "../stack.ts";
import type { TcpInfo } from "../tcp/connection.ts";

/** Bytes of the response whose tail is dropped. */
export const TAIL_RESPONSE_BYTES = 64 * 1024;
/** Segments dropped at the end of the response. */
export const TAIL_DROP_SEGMENTS = 3;
/** Payload of a full segment: MTU 1500 less IPv4, TCP and timestamp option headers. */
const FULL_SEGMENT_PAYLOAD = 1448;
/** IPv4 + TCP + timestamps header bytes of a data segment. */
const SEGMENT_HEADERS = 52;
/** nftables table the scenarios install in the router namespace. */
const NFT_TABLE = "rsloss";
/**
 * The address the stack namespace's kernel holds on rawstack's interface, so that a kernel
 * sender sends beside rawstack (see {@link addKernelBesideStack}).
 */
export const KERNEL_BESIDE_ADDRESS = "192.0.2.3";
/** Longest a scenario waits for its kernel end, ms. */
const SCENARIO_TIMEOUT_MS = 30_000;

/** The tail drop rule's numbers: the first reply packet to drop, and the quota in bytes. */
export function tailDropPlan(responseBytes = TAIL_RESPONSE_BYTES): {
  firstPacket: number;
  quotaBytes: number;
} {
  const segments = Math.ceil(responseBytes / FULL_SEGMENT_PAYLOAD);
  const last = responseBytes - (segments - 1) * FULL_SEGMENT_PAYLOAD;
  // Reply packet 1 is the SYN-ACK; data segment k (1-based) is packet k + 1.
  const firstPacket = segments - TAIL_DROP_SEGMENTS + 2;
  const quotaBytes = (TAIL_DROP_SEGMENTS - 1) * (FULL_SEGMENT_PAYLOAD + SEGMENT_HEADERS) +
    last + SEGMENT_HEADERS;
  return { firstPacket, quotaBytes };
}

async function nft(lab: Lab, args: string[]): Promise<void> {
  const r = await lab.runInPeer(["nft", ...args]);
  if (r.code !== 0) throw new Error(`nft ${args.join(" ")}: ${r.stderr.trim()}`);
}

/** Removes the scenario's nftables table (if any). */
export async function clearLossRules(lab: Lab): Promise<void> {
  await lab.runInPeer(["nft", "delete", "table", "inet", NFT_TABLE]);
}

async function freshChain(lab: Lab): Promise<void> {
  await clearLossRules(lab);
  await nft(lab, ["add", "table", "inet", NFT_TABLE]);
  await nft(lab, [
    "add",
    "chain",
    "inet",
    NFT_TABLE,
    "rsfw",
    "{ type filter hook forward priority 0; }",
  ]);
}

/**
 * Installs the tail drop for the responses `saddr:sport` sends (see the module notes).
 *
 * @param lab a lab with a router
 * @param saddr the responder's address
 * @param sport the responder's port
 * @returns nothing
 */
export async function installTailDrop(lab: Lab, saddr: string, sport: number): Promise<void> {
  const plan = tailDropPlan();
  await freshChain(lab);
  await nft(lab, [
    "add",
    "rule",
    "inet",
    NFT_TABLE,
    "rsfw",
    "ip",
    "saddr",
    saddr,
    "tcp",
    "sport",
    String(sport),
    "ct",
    "reply",
    "packets",
    ">=",
    String(plan.firstPacket),
    "quota",
    "until",
    String(plan.quotaBytes),
    "bytes",
    "counter",
    "drop",
  ]);
  // Conntrack's packet counters (loaded with the rule's `ct` expression).
  const r = await lab.runInPeer(["sysctl", "-q", "-w", "net.netfilter.nf_conntrack_acct=1"]);
  if (r.code !== 0) throw new Error(`nf_conntrack_acct: ${r.stderr.trim()}`);
}

/**
 * Installs random loss of `percent` % of the TCP segments sent through the router to
 * `daddr:dport` (the data direction of a bulk transfer to that receiver): one rule, the
 * same whoever sends.
 *
 * @param lab a lab with a router
 * @param daddr the receiver's address
 * @param dport the receiver's port
 * @param percent 1..99
 * @returns nothing
 */
export async function installRandomLoss(
  lab: Lab,
  daddr: string,
  dport: number,
  percent: number,
): Promise<void> {
  await freshChain(lab);
  await nft(lab, [
    "add",
    "rule",
    "inet",
    NFT_TABLE,
    "rsfw",
    "ip",
    "daddr",
    daddr,
    "tcp",
    "dport",
    String(dport),
    "numgen",
    "random",
    "mod",
    "100",
    "<",
    String(percent),
    "counter",
    "drop",
  ]);
}

/** Packets the scenario's rule dropped so far. */
export async function droppedPackets(lab: Lab): Promise<number> {
  const r = await lab.runInPeer(["nft", "list", "table", "inet", NFT_TABLE]);
  let total = 0;
  for (const m of r.stdout.matchAll(/counter packets (\d+)/g)) total += Number(m[1]);
  return total;
}

/** Python client: connect, read `size` bytes, close; prints bytes and milliseconds. */
const PY_READ = `
import socket, sys, time
host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection((host, port))
t0 = time.monotonic()
n = 0
while n < size:
    b = s.recv(1 << 16)
    if not b:
        break
    n += len(b)
t = (time.monotonic() - t0) * 1000
s.close()
print(n, t)
`;

/** Python server: accept one connection, send `size` bytes, wait for the peer's close. */
const PY_SEND = `
import socket, sys
port, size = int(sys.argv[1]), int(sys.argv[2])
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", port))
l.listen(1)
print("ready", flush=True, file=sys.stderr)
c, _ = l.accept()
c.sendall(b"x" * size)
c.recv(1)
c.close()
`;

/** Python sink: accept one connection, count bytes until EOF; prints bytes and seconds. */
const PY_SINK = `
import socket, sys, time
port = int(sys.argv[1])
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", port))
l.listen(1)
c, _ = l.accept()
buf = bytearray(1 << 20)
total = 0
t0 = time.monotonic()
while True:
    n = c.recv_into(buf)
    if n == 0:
        break
    total += n
print(total, time.monotonic() - t0)
`;

/**
 * Python source: connect, send for `seconds`, shut down, wait for the close. An optional
 * fourth argument names the congestion control (TCP_CONGESTION) instead of the namespace's
 * default.
 */
const PY_SOURCE = `
import socket, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
c = socket.socket()
if len(sys.argv) > 4:
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, sys.argv[4].encode())
c.connect((host, port))
data = b"\\0" * (128 * 1024)
end = time.monotonic() + seconds
while time.monotonic() < end:
    c.sendall(data)
c.shutdown(socket.SHUT_WR)
c.recv(1)
`;

function numbersOf(out: string): number[] {
  return out.trim().split(/\s+/).map(Number);
}

async function farListening(lab: Lab, port: number): Promise<void> {
  const end = performance.now() + SCENARIO_TIMEOUT_MS;
  while (performance.now() < end) {
    const r = await lab.runInFar(["ss", "-Hltn", `sport = :${port}`]);
    if (r.stdout.includes(`:${port}`)) return;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`no listener on port ${port} in the far namespace`);
}

/** What a tail-loss run measured. */
export interface TailLossResult {
  /** Receiver's time from connect to the last byte, ms. */
  completionMs: number;
  /** Packets the tail rule dropped. */
  dropped: number;
  /** rawstack's connection (rawstack sending only). */
  info?: TcpInfo;
}

/**
 * rawstack answers a kernel client (far namespace) with {@link TAIL_RESPONSE_BYTES}
 * bytes; the router drops the response's last segments once.
 *
 * @param lab a lab with a router
 * @param stack rawstack, started on the lab link
 * @param port the port rawstack listens on
 * @returns the client's completion time, the drops and rawstack's connection figures
 */
export async function tailLossRawstackSends(
  lab: Lab,
  stack: Stack,
  port: number,
): Promise<TailLossResult> {
  await installTailDrop(lab, lab.stackAddress, port);
  const listener = stack.listen({ port });
  try {
    const client = lab.spawnInFar([
      "python3",
      "-c",
      PY_READ,
      lab.stackAddress,
      String(port),
      String(TAIL_RESPONSE_BYTES),
    ]);
    const conn = await listener.accept();
    await conn.write(new Uint8Array(TAIL_RESPONSE_BYTES).fill(0x78));
    // The client closes once it has everything: then our connection is done.
    const sink = new Uint8Array(16);
    while ((await conn.read(sink)) !== null) { /* nothing is sent to us */ }
    const info = conn.info();
    conn.close();
    const out = await client.finished();
    if (out.code !== 0) throw new Error(`python client: ${out.stderr.trim()}`);
    const [bytes, ms] = numbersOf(out.stdout);
    if (bytes !== TAIL_RESPONSE_BYTES) throw new Error(`client read ${bytes} bytes`);
    return { completionMs: ms, dropped: await droppedPackets(lab), info };
  } finally {
    listener.close();
    await clearLossRules(lab);
  }
}

/**
 * The kernel (far namespace) answers rawstack with {@link TAIL_RESPONSE_BYTES} bytes under
 * the same tail drop: the reference for {@link tailLossRawstackSends}.
 *
 * @param lab a lab with a router
 * @param stack rawstack, started on the lab link
 * @param port the port the kernel listens on
 * @returns rawstack's completion time (connect to last byte) and the drops
 */
export async function tailLossKernelSends(
  lab: Lab,
  stack: Stack,
  port: number,
): Promise<TailLossResult> {
  await installTailDrop(lab, lab.farAddress, port);
  const server = lab.spawnInFar([
    "python3",
    "-c",
    PY_SEND,
    String(port),
    String(TAIL_RESPONSE_BYTES),
  ]);
  try {
    await farListening(lab, port);
    const conn = await stack.connect({ hostname: lab.farAddress, port });
    const t0 = performance.now();
    const buf = new Uint8Array(TAIL_RESPONSE_BYTES);
    let n = 0;
    while (n < TAIL_RESPONSE_BYTES) {
      const got = await conn.read(buf.subarray(n));
      if (got === null) break;
      n += got;
    }
    const ms = performance.now() - t0;
    conn.close();
    await server.finished();
    if (n !== TAIL_RESPONSE_BYTES) throw new Error(`rawstack read ${n} bytes`);
    return { completionMs: ms, dropped: await droppedPackets(lab) };
  } finally {
    await server.kill();
    await clearLossRules(lab);
  }
}

/** What a random-loss goodput run measured. */
export interface LossyGoodput {
  /** Goodput at the receiver, Gbit/s. */
  gbps: number;
  /** Segments the router's rule dropped. */
  dropped: number;
  /** rawstack's connection figures at the end (rawstack sending only). */
  info?: TcpInfo;
}

/**
 * Bulk goodput through random loss: rawstack sends to a kernel sink (far namespace) for
 * `seconds`, with `percent` % of its segments dropped by the router.
 *
 * @returns goodput at the receiver, the drops and rawstack's connection figures
 */
export async function lossyGoodputRawstackSends(
  lab: Lab,
  stack: Stack,
  port: number,
  percent: number,
  seconds: number,
): Promise<LossyGoodput> {
  await installRandomLoss(lab, lab.farAddress, port, percent);
  const sink = lab.spawnInFar(["python3", "-c", PY_SINK, String(port)]);
  try {
    await farListening(lab, port);
    const conn = await stack.connect({ hostname: lab.farAddress, port });
    const chunk = new Uint8Array(256 * 1024);
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) await conn.write(chunk);
    await conn.closeWrite();
    const out = await sink.finished();
    const info = conn.info();
    conn.close();
    const [bytes, secs] = numbersOf(out.stdout);
    return { gbps: (bytes * 8) / secs / 1e9, dropped: await droppedPackets(lab), info };
  } finally {
    await sink.kill();
    await clearLossRules(lab);
  }
}

/**
 * The far namespace's default congestion control (`net.ipv4.tcp_congestion_control`, which a
 * new namespace takes from the host: "bbr" on some hosts, "cubic" on most).
 *
 * @param lab a lab with a router
 * @returns the algorithm's name
 */
export async function kernelCongestionControl(lab: Lab): Promise<string> {
  const r = await lab.runInFar(["sysctl", "-n", "net.ipv4.tcp_congestion_control"]);
  if (r.code !== 0) throw new Error(`tcp_congestion_control: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * The kernel's sender beside rawstack (issue 19, like for like): the stack namespace's
 * kernel holds {@link KERNEL_BESIDE_ADDRESS} on rawstack's own interface (`rs0`, offloads off
 * in a lab without `peerOffloads`), with a default route via the router. Its segments take
 * rawstack's wire, router and drop rule to the same kernel receiver in the far namespace.
 * rawstack ignores the frames for that address (not its own), the kernel those for
 * rawstack's (it does not forward). Idempotent.
 *
 * @param lab a lab with a router
 * @returns nothing
 */
export async function addKernelBesideStack(lab: Lab): Promise<void> {
  const rs = lab.stackNetns;
  const have = await lab.runIn(rs, ["ip", "-4", "-o", "addr", "show", "dev", lab.stackIf]);
  if (have.stdout.includes(`${KERNEL_BESIDE_ADDRESS}/`)) return;
  const steps = [
    ["ip", "addr", "add", `${KERNEL_BESIDE_ADDRESS}/${lab.prefixLength}`, "dev", lab.stackIf],
    ["ip", "link", "set", "lo", "up"],
    ["ip", "route", "add", "default", "via", lab.peerAddress],
  ];
  for (const cmd of steps) {
    const r = await lab.runIn(rs, cmd);
    if (r.code !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.trim()}`);
  }
}

/**
 * Bulk goodput through random loss, the kernel sending from beside rawstack (see
 * {@link addKernelBesideStack}) to the same kernel sink and through the same drop rule as
 * {@link lossyGoodputRawstackSends}: the like-for-like reference.
 *
 * @param lab a lab with a router
 * @param port the sink's port (far namespace)
 * @param percent 1..99
 * @param seconds how long the kernel sends
 * @param congestion the kernel sender's congestion control (TCP_CONGESTION, e.g. "cubic",
 *   rawstack's default); the namespace's default when absent
 * @returns goodput at the receiver and the drops
 */
export async function lossyGoodputKernelSends(
  lab: Lab,
  port: number,
  percent: number,
  seconds: number,
  congestion?: string,
): Promise<LossyGoodput> {
  await addKernelBesideStack(lab);
  await installRandomLoss(lab, lab.farAddress, port, percent);
  const sink = lab.spawnInFar(["python3", "-c", PY_SINK, String(port)]);
  try {
    await farListening(lab, port);
    const source = lab.spawnIn(lab.stackNetns, [
      "python3",
      "-c",
      PY_SOURCE,
      lab.farAddress,
      String(port),
      String(seconds),
      ...(congestion === undefined ? [] : [congestion]),
    ]);
    const src = await source.finished();
    if (src.code !== 0) throw new Error(`python source: ${src.stderr.trim().slice(-300)}`);
    const out = await sink.finished();
    const [bytes, secs] = numbersOf(out.stdout);
    return { gbps: (bytes * 8) / secs / 1e9, dropped: await droppedPackets(lab) };
  } finally {
    await sink.kill();
    await clearLossRules(lab);
  }
}
