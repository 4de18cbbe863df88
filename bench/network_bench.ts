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
 *   `busyPollMs` (keeps spinning on the ring between pings);
 * - UDP datagrams per second rawstack receives through `UdpConn.receive()`
 *   from a kernel sender, versus a kernel socket receiving from the same sender;
 * - UDP datagrams per second rawstack sends with `UdpConn.send()` (counted by
 *   the kernel peer's /proc/net/snmp), versus the kernel sender's own rate.
 *
 * The kernel-side sender and receiver are small Python programs, so the
 * kernel reference rates are bounded by Python; compare ratios, not absolutes.
 *
 * @module
 */

import { Lab, labUnavailableReason } from "../src/testing/lab.ts";
import { Stack } from "../src/stack.ts";

const PREFIX = "rsstbench";
const PING_COUNT = 200;
const PING_INTERVAL_S = "0.002";
/** Busy-poll window of the low-latency configuration (AfPacketOptions.busyPollMs). */
const BUSY_POLL_MS = 20;
const UDP_SECONDS = 1;
const UDP_PAYLOAD_BYTES = 64;
const RX_PORT = 9000;
const KERNEL_SINK_PORT = 9001;
const STACK_QUEUE_DATAGRAMS = 4096;
const STACK_QUEUE_BYTES = 4 << 20;

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

function avgRttUs(pingOutput: string): number {
  const m = /= [\d.]+\/([\d.]+)\//.exec(pingOutput);
  return m === null ? NaN : Number(m[1]) * 1000;
}

async function udpInDatagrams(lab: Lab): Promise<number> {
  const snmp = await lab.runInPeer(["cat", "/proc/net/snmp"]);
  const lines = snmp.stdout.split("\n").filter((l) => l.startsWith("Udp:"));
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/).map(Number);
  const get = (n: string) => values[names.indexOf(n)] ?? 0;
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
    const pingArgs = ["ping", "-q", "-c", String(PING_COUNT), "-i", PING_INTERVAL_S];
    {
      const busy = new Stack({
        device: await lab.openDevice({ busyPollMs: BUSY_POLL_MS }),
        ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
      });
      await busy.start();
      await lab.runInPeer(["ping", "-q", "-c", "5", "-i", "0.01", lab.stackAddress]); // warm-up
      const toBusy = await lab.runInPeer([...pingArgs, lab.stackAddress]);
      const toKernel = await lab.runInPeer([...pingArgs, lab.farAddress]);
      await busy.close();
      rows.push({
        metric: `ping RTT from the kernel (avg), busyPollMs ${BUSY_POLL_MS}`,
        rawstack: avgRttUs(toBusy.stdout),
        kernel: avgRttUs(toKernel.stdout),
        unit: "µs",
        lowerIsBetter: true,
      });
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
    await lab.runInPeer([...pingArgs.slice(0, 2), "-c", "5", "-i", "0.01", lab.stackAddress]); // warm-up
    const toStack = await lab.runInPeer([...pingArgs, lab.stackAddress]);
    const toKernel = await lab.runInPeer([...pingArgs, lab.farAddress]);
    rows.push({
      metric: "ping RTT from the kernel (avg), default wait",
      rawstack: avgRttUs(toStack.stdout),
      kernel: avgRttUs(toKernel.stdout),
      unit: "µs",
      lowerIsBetter: true,
    });

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
  } finally {
    await stack?.close();
    await lab.destroy();
    await Deno.remove(script).catch(() => {});
  }
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
