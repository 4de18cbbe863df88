/**
 * Network benchmark (lab, root): rawstack as a host next to the Linux kernel.
 *
 * Run: `deno bench --allow-all bench/network_bench.ts` (or `deno run -A bench/network_bench.ts`).
 * Without root it prints why it skipped and does nothing.
 *
 * In one run, over the same kind of veth pair:
 * - ping RTT kernel → rawstack (rawstack answers from its event loop) versus
 *   kernel → kernel (the lab's router pinging the far namespace), with the
 *   driver's default wait (spin 50 µs, then park in poll()) and with
 *   `busyPollMs` (keeps spinning on the ring between pings); each after a
 *   warm-up of fast pings (the reply path compiled, as the kernel's is), as
 *   the median and the mean of ping(8)'s per-reply times; and the same ping
 *   answered by a bare responder (bench/_echo_responder.ts: a process spinning
 *   on the ring, one `send()` per reply), the floor for any user-space
 *   responder;
 * - UDP datagrams per second rawstack receives through `UdpConn.receive()`
 *   from a kernel sender, versus a kernel socket receiving from the same sender;
 * - UDP datagrams per second rawstack sends with `UdpConn.send()` (counted by
 *   the kernel peer's /proc/net/snmp), versus the kernel sender's own rate.
 *
 * The kernel-side sender and receiver are small Python programs, so the
 * kernel reference rates are bounded by Python; compare ratios, not absolutes.
 *
 * A second table puts the driver inside the stack beside the bare driver loop
 * (issue #3's goal: at least 0.7 of the bare rates), with 1514-byte frames:
 * - send: `UdpConn.send()` of 1472-byte datagrams versus a bare
 *   `AfPacketDevice.transmit()` loop of the same frame (one `send()` each, as
 *   the issue measured it), both to the kernel peer, which counts and drops
 *   UDP at its netdev ingress hook (nftables) so that each frame carries as
 *   little kernel work in both; beside it the bare loop with the device's
 *   `sendmmsg()` batching (the frame in the packet arena), which the stack's
 *   device uses; and the stack again over a device with `txThread` (a
 *   worker thread makes the `sendmmsg()` calls while the stack builds the
 *   next batch);
 * - receive: a generator (this file with `generate`, an AfPacketDevice loop in
 *   the peer namespace on the other core) sends UDP frames to rawstack's
 *   address; `UdpConn.receive()` rates versus a bare device draining the
 *   same stream from its ring.
 *
 * @module
 */

import { Lab, labUnavailableReason, procNetCounters } from "../src/testing/lab.ts";
import { drainGenerated, spawnFrameGenerator } from "./_frame_generator.ts";
import { startEchoResponder } from "./_echo_responder.ts";
import { Stack } from "../src/stack.ts";
import { packetBytes, releasePacketBytes } from "../src/buffer/arena.ts";
import type { AfPacketOptions } from "../src/phy/af_packet.ts";

const PREFIX = "rsstbench";
const PING_COUNT = 200;
const PING_INTERVAL_S = "0.002";
/** Pings sent (and not counted) before each measurement, so that the reply path is compiled. */
const PING_WARMUP_COUNT = 3000;
const PING_WARMUP_INTERVAL_S = "0.0005";
/** Busy-poll window of the low-latency configuration (AfPacketOptions.busyPollMs). */
const BUSY_POLL_MS = 20;
const UDP_SECONDS = 1;
const UDP_PAYLOAD_BYTES = 64;
const RX_PORT = 9000;
const KERNEL_SINK_PORT = 9001;
const STACK_QUEUE_DATAGRAMS = 4096;
const STACK_QUEUE_BYTES = 4 << 20;
/** Driver-inside-the-stack section: full-size frames (1472-byte UDP payloads). */
const FULL_UDP_PAYLOAD_BYTES = 1472;
const FULL_FRAME_BYTES = 1514;
const DRIVER_TX_DATAGRAMS = 200_000;
const DRIVER_RX_FRAMES = 300_000;
const DRIVER_WARMUP = 10_000;
const DRIVER_IDLE_END_MS = 300;
const DRIVER_RX_RING_FRAMES = 8192;
const DRIVER_RX_PORT = 9100;
const DRIVER_GOAL = 0.7;
const ARP_SETTLE_MS = 50;
const ETHERTYPE_IPV4 = 0x0800;
const IP_PROTO_UDP = 17;
const DEFAULT_TTL = 64;
const NFT_TABLE = "rsstbench";

const PY_TOOL = `
import socket, sys, time
mode, host, port, size, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if mode == "send":
    s.connect((host, port))
    data = b"x" * size
    sent = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(256):
            try:
                s.send(data)
                sent += 1
            except OSError:
                pass
    print(sent)
else:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((host, port))
    s.settimeout(0.5)
    buf = bytearray(2048)
    n = 0
    first = last = None
    try:
        while True:
            s.recv_into(buf)
            last = time.monotonic()
            if first is None:
                first = last
            n += 1
    except socket.timeout:
        pass
    print(n, (last - first) if first is not None and last != first else 0)
`;

interface Row {
  metric: string;
  rawstack: number;
  kernel: number;
  unit: string;
  /** True when smaller is better (latency). */
  lowerIsBetter: boolean;
}

/** Median and mean of ping(8)'s per-reply `time=… ms` lines, in µs (NaN without replies). */
function rttStatsUs(pingOutput: string): { median: number; avg: number } {
  const rtts = [...pingOutput.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000)
    .sort((a, b) => a - b);
  if (rtts.length === 0) return { median: NaN, avg: NaN };
  const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
  return { median: rtts[rtts.length >> 1], avg };
}

async function udpInDatagrams(lab: Lab): Promise<number> {
  const udp = procNetCounters((await lab.runInPeer(["cat", "/proc/net/snmp"])).stdout, "Udp");
  const get = (n: string) => udp.get(n) ?? 0;
  // Arrivals: delivered plus dropped for a full receive buffer.
  return get("InDatagrams") + get("RcvbufErrors");
}

async function main(): Promise<void> {
  const reason = labUnavailableReason(["ping", "python3"]);
  if (reason !== null) {
    console.log(`network_bench skipped: ${reason}`);
    return;
  }
  const script = await Deno.makeTempFile({ prefix: "rsstbench-", suffix: ".py" });
  await Deno.writeTextFile(script, PY_TOOL);
  const lab = await Lab.create({ prefix: PREFIX, router: true });
  const rows: Row[] = [];
  let stack: Stack | null = null;
  try {
    // 0. Ping RTT with a busy-polling device (its own stack, closed before the main one starts).
    const pingArgs = ["ping", "-c", String(PING_COUNT), "-i", PING_INTERVAL_S];
    const warmUp = () =>
      lab.runInPeer([
        "ping",
        "-q",
        "-c",
        String(PING_WARMUP_COUNT),
        "-i",
        PING_WARMUP_INTERVAL_S,
        lab.stackAddress,
      ]);
    const pingRows = async (label: string) => {
      const toStack = rttStatsUs((await lab.runInPeer([...pingArgs, lab.stackAddress])).stdout);
      const toKernel = rttStatsUs((await lab.runInPeer([...pingArgs, lab.farAddress])).stdout);
      for (const stat of ["median", "avg"] as const) {
        rows.push({
          metric: `ping RTT from the kernel (${stat}), ${label}`,
          rawstack: toStack[stat],
          kernel: toKernel[stat],
          unit: "µs",
          lowerIsBetter: true,
        });
      }
    };
    {
      const busy = new Stack({
        device: await lab.openDevice({ busyPollMs: BUSY_POLL_MS }),
        ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
      });
      await busy.start();
      await warmUp(); // JIT: the reply path compiled, as the kernel's is
      await pingRows(`busyPollMs ${BUSY_POLL_MS}`);
      await busy.close();
    }
    {
      // The floor for any user-space responder: a bare ring spin answering with one send().
      const responder = await startEchoResponder(lab);
      try {
        await warmUp();
        const toBare = rttStatsUs((await lab.runInPeer([...pingArgs, lab.stackAddress])).stdout);
        const toKernel = rttStatsUs((await lab.runInPeer([...pingArgs, lab.farAddress])).stdout);
        rows.push({
          metric: "ping RTT (median), bare responder: ring spin + one send() per reply",
          rawstack: toBare.median,
          kernel: toKernel.median,
          unit: "µs",
          lowerIsBetter: true,
        });
      } finally {
        await responder.stop();
      }
    }
    const device = await lab.openDevice();
    stack = new Stack({
      device,
      ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
      gateway: lab.peerAddress,
      udp: { queueDatagrams: STACK_QUEUE_DATAGRAMS, queueBytes: STACK_QUEUE_BYTES },
    });
    await stack.start();
    const py = (
      mode: string,
      host: string,
      port: number,
    ) => [
      "python3",
      script,
      mode,
      host,
      String(port),
      String(UDP_PAYLOAD_BYTES),
      String(UDP_SECONDS),
    ];

    // 1. Ping RTT (default driver wait).
    await warmUp();
    await pingRows("default wait");

    // 2. UDP receive: kernel sender → rawstack, and the same sender → a kernel socket (far host).
    const conn = stack.listenDatagram({ port: RX_PORT });
    let received = 0;
    let firstMs = 0;
    let lastMs = 0;
    const buf = new Uint8Array(2048);
    const receiving = (async () => {
      try {
        for (;;) {
          await conn.receive(buf);
          lastMs = performance.now();
          if (received++ === 0) firstMs = lastMs;
        }
      } catch {
        // closed
      }
    })();
    const sender = await lab.runInPeer(py("send", lab.stackAddress, RX_PORT));
    await new Promise((r) => setTimeout(r, 200));
    conn.close();
    await receiving;
    const sentToStack = Number(sender.stdout.trim());
    const stackRxRate = received / Math.max(1e-3, (lastMs - firstMs) / 1000);
    const sink = lab.spawnInFar(py("recv", "0.0.0.0", RX_PORT));
    await new Promise((r) => setTimeout(r, 300));
    const sender2 = await lab.runInPeer(py("send", lab.farAddress, RX_PORT));
    const [kn, kSeconds] = (await sink.finished()).stdout.trim().split(" ").map(Number);
    const kernelRxRate = kn / Math.max(1e-3, kSeconds);
    rows.push({
      metric: `UDP receive, ${UDP_PAYLOAD_BYTES} B datagrams`,
      rawstack: stackRxRate,
      kernel: kernelRxRate,
      unit: "dgram/s",
      lowerIsBetter: false,
    });
    const rxLoss = 100 * (1 - received / Math.max(1, sentToStack));
    const kLoss = 100 * (1 - kn / Math.max(1, Number(sender2.stdout.trim())));

    // 3. UDP send: rawstack → kernel socket, versus the kernel (Python) sender's own rate.
    const kernelSink = lab.spawnInPeer(py("recv", lab.peerAddress, KERNEL_SINK_PORT));
    await new Promise((r) => setTimeout(r, 300));
    const before = await udpInDatagrams(lab);
    const out = new Uint8Array(UDP_PAYLOAD_BYTES);
    const client = stack.listenDatagram({ port: 0 });
    const to = { hostname: lab.peerAddress, port: KERNEL_SINK_PORT };
    await client.send(out, to); // resolves ARP
    await new Promise((r) => setTimeout(r, 20));
    let sent = 0;
    const t0 = performance.now();
    const end = t0 + UDP_SECONDS * 1000;
    while (performance.now() < end) {
      for (let i = 0; i < 256; i++) {
        await client.send(out, to);
        sent++;
      }
    }
    const txSeconds = (performance.now() - t0) / 1000;
    await kernelSink.finished();
    const arrived = (await udpInDatagrams(lab)) - before;
    rows.push({
      metric: `UDP send, ${UDP_PAYLOAD_BYTES} B datagrams`,
      rawstack: sent / txSeconds,
      kernel: Number(sender2.stdout.trim()) / UDP_SECONDS,
      unit: "dgram/s",
      lowerIsBetter: false,
    });
    client.close();
    await stack.close();
    stack = null;
    const driverRows = await driverInStack(lab);

    printTable(rows);
    console.log(
      `UDP receive loss: rawstack ${rxLoss.toFixed(1)} % of ${sentToStack}, ` +
        `kernel socket ${kLoss.toFixed(1)} %.`,
    );
    console.log(
      `UDP send: ${arrived} of ${sent} rawstack datagrams counted by the kernel peer ` +
        `(${
          (100 * arrived / Math.max(1, sent)).toFixed(1)
        } %); kernel column = Python sender's rate.`,
    );
    printDriverTable(driverRows);
  } finally {
    await stack?.close();
    await lab.destroy();
    await Deno.remove(script).catch(() => {});
  }
}

/** Builds a 1514-byte Ethernet + IPv4 + UDP frame (UDP checksum 0: none, RFC 768). */
function udpFrame(dstMac: number[], srcMac: number[], src: number[], dst: number[], port: number) {
  const f = new Uint8Array(FULL_FRAME_BYTES);
  f.set(dstMac, 0);
  f.set(srcMac, 6);
  f[12] = ETHERTYPE_IPV4 >> 8;
  f[13] = ETHERTYPE_IPV4 & 0xff;
  const ipLength = FULL_FRAME_BYTES - 14;
  f.set([0x45, 0, ipLength >> 8, ipLength & 0xff, 0, 0, 0x40, 0, DEFAULT_TTL, IP_PROTO_UDP], 14);
  f.set(src, 26);
  f.set(dst, 30);
  let sum = 0;
  for (let i = 14; i < 34; i += 2) sum += (f[i] << 8) | f[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  sum = ~sum & 0xffff;
  f[24] = sum >> 8;
  f[25] = sum & 0xff;
  const udpLength = ipLength - 20;
  f.set([0x30, 0x39, port >> 8, port & 0xff, udpLength >> 8, udpLength & 0xff, 0, 0], 34);
  return f;
}

function macBytes(mac: number): number[] {
  return Array.from({ length: 6 }, (_, i) => Math.floor(mac / 2 ** (40 - 8 * i)) & 0xff);
}

function quad(addr: string): number[] {
  return addr.split(".").map(Number);
}

async function peerMac(lab: Lab): Promise<number[]> {
  const out = await lab.runInPeer(["ip", "-j", "link", "show", lab.peerIf]);
  return (JSON.parse(out.stdout)[0].address as string).split(":").map((h) => parseInt(h, 16));
}

interface DriverRow {
  metric: string;
  stack: number;
  bare: number;
  /** Send only: the bare loop with the device's sendmmsg() batching. */
  bareBatched?: number;
}

/** The peer's ingress counter at the last {@link takePeerUdpCount}. */
let peerUdpCounted = 0;

/** UDP frames the peer's ingress hook counted (and dropped) since the last call. */
async function takePeerUdpCount(lab: Lab): Promise<number> {
  // `nft reset rules` (anonymous counters) is not in this nft: read and subtract instead.
  const out = await lab.runInPeer(["nft", "list", "table", "netdev", NFT_TABLE]);
  const m = /counter packets (\d+)/.exec(out.stdout);
  if (m === null) return NaN;
  const total = Number(m[1]);
  const delta = total - peerUdpCounted;
  peerUdpCounted = total;
  return delta;
}

/**
 * Datagrams per second of a loop of `UdpConn.send()` (1472 bytes, after a
 * warm-up) on a stack over a device opened with `deviceOptions`.
 */
async function stackSendRate(
  lab: Lab,
  deviceOptions: AfPacketOptions,
): Promise<{ rate: number; mac: number[] }> {
  const device = await lab.openDevice(deviceOptions);
  if (deviceOptions.txThread && !device.txThreaded) {
    console.error(`network_bench: no transmit thread: ${device.txThreadFallbackReason}`);
  }
  const stack = new Stack({ device, ipv4: `${lab.stackAddress}/${lab.prefixLength}` });
  try {
    await stack.start();
    const conn = stack.listenDatagram({ port: 0 });
    const payload = new Uint8Array(FULL_UDP_PAYLOAD_BYTES);
    const to = { hostname: lab.peerAddress, port: DRIVER_RX_PORT };
    // Resolve the peer first: a loop of awaits on settled promises never lets the stack's
    // event loop run, so the ARP reply would wait until the loop ends.
    await conn.send(payload, to);
    await new Promise((r) => setTimeout(r, ARP_SETTLE_MS));
    for (let i = 0; i < DRIVER_WARMUP; i++) await conn.send(payload, to);
    const t0 = performance.now();
    for (let i = 0; i < DRIVER_TX_DATAGRAMS; i++) await conn.send(payload, to);
    const rate = DRIVER_TX_DATAGRAMS / ((performance.now() - t0) / 1000);
    conn.close();
    return { rate, mac: macBytes(device.capabilities.mac) };
  } finally {
    await stack.close();
  }
}

/** Issue #3's driver-inside-the-stack comparison (see the module doc). */
async function driverInStack(lab: Lab): Promise<DriverRow[]> {
  const rows: DriverRow[] = [];
  // Both kernels drop UDP at their netdev ingress hook, which runs after packet sockets got
  // their copy: the peer's kernel so that a send() costs the same in both loops, rawstack's own
  // kernel so that the generator is not slowed by IP processing on rawstack's side.
  const nftFile = await Deno.makeTempFile({ prefix: "rsstbench-", suffix: ".nft" });
  for (const [netns, ifname] of [[lab.peerNetns, lab.peerIf], [lab.stackNetns, lab.stackIf]]) {
    await Deno.writeTextFile(
      nftFile,
      `table netdev ${NFT_TABLE} {\n  chain ingress {\n` +
        `    type filter hook ingress device ${ifname} priority 0;\n` +
        `    meta l4proto udp counter drop\n  }\n}\n`,
    );
    await lab.runIn(netns, ["nft", "-f", nftFile], { check: true });
  }
  await Deno.remove(nftFile);
  const toPeerMac = await peerMac(lab);

  // Send: the stack's public UDP API versus the bare transmit loop, same frames, same sink.
  console.error("network_bench: driver inside the stack, send…");
  {
    const { rate: stackRate, mac: stackMac } = await stackSendRate(lab, {});
    const stackArrived = await takePeerUdpCount(lab);
    console.error("network_bench: driver inside the stack with a transmit thread, send…");
    const { rate: threadedRate } = await stackSendRate(lab, { txThread: true });
    const threadedArrived = await takePeerUdpCount(lab);
    const f = udpFrame(
      toPeerMac,
      stackMac,
      quad(lab.stackAddress),
      quad(lab.peerAddress),
      DRIVER_RX_PORT,
    );
    // The bare loop as issue #3 measured it: one send() per frame (a frame outside the arena
    // is never batched).
    const dev = await lab.openDevice();
    for (let i = 0; i < DRIVER_WARMUP; i++) dev.transmit(f, 0, f.length);
    const t1 = performance.now();
    for (let i = 0; i < DRIVER_TX_DATAGRAMS; i++) dev.transmit(f, 0, f.length);
    const bareRate = DRIVER_TX_DATAGRAMS / ((performance.now() - t1) / 1000);
    // The bare loop batched as the stack's device batches: the frame in the packet arena,
    // staged and sent 32 at a time with sendmmsg().
    const arenaFrame = packetBytes(f.length);
    arenaFrame.set(f);
    for (let i = 0; i < DRIVER_WARMUP; i++) dev.transmit(arenaFrame, 0, f.length);
    dev.flush();
    const t2 = performance.now();
    for (let i = 0; i < DRIVER_TX_DATAGRAMS; i++) dev.transmit(arenaFrame, 0, f.length);
    dev.flush();
    const batchedRate = DRIVER_TX_DATAGRAMS / ((performance.now() - t2) / 1000);
    releasePacketBytes(arenaFrame);
    dev.close();
    const bareArrived = await takePeerUdpCount(lab);
    rows.push({
      metric: `send, 1514-byte frames (the peer counted ${stackArrived} from the stack, ` +
        `${bareArrived} from the bare loops)`,
      stack: stackRate,
      bare: bareRate,
      bareBatched: batchedRate,
    });
    rows.push({
      metric: `send, 1514-byte frames, device option txThread (the peer counted ` +
        `${threadedArrived})`,
      stack: threadedRate,
      bare: bareRate,
      bareBatched: batchedRate,
    });
  }

  // Receive: a generator on the other core; the stack's UdpConn versus a bare ring drain.
  console.error("network_bench: driver inside the stack, receive…");
  {
    const stack = new Stack({
      device: await lab.openDevice({ frameCount: DRIVER_RX_RING_FRAMES }),
      ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
      udp: { queueDatagrams: STACK_QUEUE_DATAGRAMS, queueBytes: STACK_QUEUE_BYTES },
    });
    let received = 0;
    let first = 0;
    let last = 0;
    const frame = udpFrame(
      macBytes(stack.device.capabilities.mac),
      toPeerMac,
      quad(lab.peerAddress),
      quad(lab.stackAddress),
      DRIVER_RX_PORT,
    );
    try {
      await stack.start();
      const conn = stack.listenDatagram({ port: DRIVER_RX_PORT });
      const buf = new Uint8Array(2048);
      const receiving = (async () => {
        try {
          for (;;) {
            await conn.receive(buf);
            last = performance.now();
            if (received++ === 0) first = last;
          }
        } catch {
          // closed
        }
      })();
      await spawnFrameGenerator(lab, frame, DRIVER_RX_FRAMES);
      await new Promise((r) => setTimeout(r, DRIVER_IDLE_END_MS));
      conn.close();
      await receiving;
    } finally {
      await stack.close();
    }
    const stackRate = last > first ? received / ((last - first) / 1000) : 0;

    const bare = await drainGenerated(lab, frame, DRIVER_RX_FRAMES, {
      frameCount: DRIVER_RX_RING_FRAMES,
    });
    const got = bare.received;
    const bareRate = bare.rate;
    rows.push({
      metric:
        `receive, 1514-byte frames (stack got ${received}, bare ${got} of ${DRIVER_RX_FRAMES})`,
      stack: stackRate,
      bare: bareRate,
    });
  }
  return rows;
}

function printDriverTable(rows: DriverRow[]): void {
  const rate = (x: number) => `${Math.round(x).toLocaleString("en")} /s`;
  const table = rows.map((r) => [
    r.metric,
    rate(r.stack),
    rate(r.bare),
    `${(r.stack / r.bare).toFixed(2)}× (goal ${DRIVER_GOAL})`,
    r.bareBatched === undefined ? "—" : rate(r.bareBatched),
    r.bareBatched === undefined ? "—" : `${(r.stack / r.bareBatched).toFixed(2)}×`,
  ]);
  const header = [
    "driver inside the stack (UDP)",
    "rawstack",
    "bare driver loop",
    "ratio",
    "bare loop, sendmmsg batches",
    "ratio to it",
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  const line = (r: string[]) => "| " + r.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  console.log("\nthe driver inside the stack vs the bare driver loop (same run, same frames)");
  console.log(line(header));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const r of table) console.log(line(r));
}

function printTable(rows: Row[]): void {
  const fmt = (x: number) =>
    !Number.isFinite(x) ? "n/a" : x >= 1000 ? Math.round(x).toLocaleString("en") : x.toFixed(1);
  const table = rows.map((r) => [
    r.metric,
    `${fmt(r.rawstack)} ${r.unit}`,
    `${fmt(r.kernel)} ${r.unit}`,
    r.lowerIsBetter
      ? `${(r.rawstack / r.kernel).toFixed(2)}× (lower is better)`
      : `${(r.rawstack / r.kernel).toFixed(2)}×`,
  ]);
  const header = ["metric", "rawstack", "kernel", "rawstack/kernel"];
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  const line = (r: string[]) => "| " + r.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  console.log("\nrawstack vs the Linux kernel over veth (one run, same machine)");
  console.log(line(header));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const r of table) console.log(line(r));
}

await main();
