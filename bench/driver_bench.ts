/**
 * Driver benchmark (lab, root): frames per second the AF_PACKET device
 * transmits and receives in ring-v3, ring-v2 and socket modes over a veth pair.
 *
 * Run: `deno bench --allow-all bench/driver_bench.ts` (or `deno run -A bench/driver_bench.ts`).
 * Without root it prints why it skipped and does nothing.
 *
 * TX: the device sends N frames as fast as `transmit()` accepts them.
 * RX: a generator process (bench/_frame_generator.ts, a second Deno running an
 * AfPacketDevice on the kernel peer's end, on the other core) blasts N frames
 * into the link; the device under test drains them through `wait()`/`receive()`.
 * Rates are measured from the first to the last frame received; loss counts
 * ring/socket drops reported by the kernel.
 *
 * @module
 */

import { AfPacketDevice, type AfPacketMode } from "../src/phy/af_packet.ts";
import { Lab, labUnavailableReason } from "../src/testing/lab.ts";
import { DRAIN_BATCH, drainGenerated } from "./_frame_generator.ts";
import { internetChecksum } from "../src/wire/checksum.ts";

const PREFIX = "rsphb";
const MODES: AfPacketMode[] = ["ring-v3", "ring-v2", "socket"];
const TX_FRAMES = 300_000;
const RX_FRAMES = 400_000;
const SMALL_FRAME_BYTES = 60;
const FULL_FRAME_BYTES = 1514;
const EXPERIMENTAL_ETHERTYPE = 0x88b5;
const RX_RING_FRAMES = 8192;
const PING_COUNT = 200;
const PING_INTERVAL_S = "0.002";
const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_IPV4 = 0x0800;
const STACK_IP = [192, 0, 2, 2];

function testFrame(length: number): Uint8Array {
  const f = new Uint8Array(length);
  f.fill(0xff, 0, 6); // broadcast: every receiver takes it, the kernel ignores the EtherType
  f.set([0x02, 0, 0, 0, 0, 0x99], 6);
  f[12] = EXPERIMENTAL_ETHERTYPE >> 8;
  f[13] = EXPERIMENTAL_ETHERTYPE & 0xff;
  return f;
}

async function measureTx(lab: Lab, mode: AfPacketMode, size: number) {
  const dev = await lab.openDevice({ mode });
  const f = testFrame(size);
  for (let i = 0; i < 10_000; i++) dev.transmit(f, 0, size); // warm up the JIT
  const before = dev.stats.txFrames;
  const t0 = performance.now();
  for (let i = 0; i < TX_FRAMES; i++) dev.transmit(f, 0, size);
  const ms = performance.now() - t0;
  const sent = dev.stats.txFrames - before;
  const dropped = dev.stats.txDropped;
  dev.close();
  return { rate: (sent / ms) * 1000, dropped };
}

function measureRx(lab: Lab, mode: AfPacketMode, size: number) {
  return drainGenerated(lab, testFrame(size), RX_FRAMES, { mode, frameCount: RX_RING_FRAMES });
}

/** Answers ARP for 192.0.2.2 and echo requests to it, straight from the ring (no stack). */
function responder(dev: AfPacketDevice) {
  const out = new Uint8Array(2048);
  const mac = dev.capabilities.mac;
  const writeOurMac = (at: number) => {
    for (let i = 0; i < 6; i++) out[at + i] = Math.floor(mac / 2 ** (40 - 8 * i)) & 0xff;
  };
  return {
    onFrame(b: Uint8Array, o: number, n: number) {
      const type = (b[o + 12] << 8) | b[o + 13];
      if (type === ETHERTYPE_ARP && n >= 42 && b[o + 21] === 1) {
        // RFC 826 reply: target := sender, sender := us.
        out.set(b.subarray(o, o + 42), 0);
        out.copyWithin(0, 6, 12);
        writeOurMac(6);
        out[21] = 2;
        out.copyWithin(32, 22, 32);
        writeOurMac(22);
        out.set(STACK_IP, 28);
        dev.transmit(out, 0, 42);
      } else if (type === ETHERTYPE_IPV4 && n >= 42 && b[o + 23] === 1 && b[o + 34] === 8) {
        // RFC 792 echo reply (20-byte IPv4 header from ping; IP checksum unchanged by the swap).
        out.set(b.subarray(o, o + n), 0);
        out.copyWithin(0, 6, 12);
        writeOurMac(6);
        out.copyWithin(30, 26, 30);
        out.set(STACK_IP, 26);
        out[34] = 0;
        out[36] = 0;
        out[37] = 0;
        const sum = internetChecksum(out, 34, n - 34);
        out[36] = sum >> 8;
        out[37] = sum & 0xff;
        dev.transmit(out, 0, n);
      }
    },
  };
}

async function measurePing(lab: Lab, mode: AfPacketMode): Promise<string> {
  const dev = await lab.openDevice({ mode });
  const sink = responder(dev);
  const ping = lab.spawnInPeer([
    "ping",
    "-c",
    String(PING_COUNT),
    "-i",
    PING_INTERVAL_S,
    "-q",
    lab.stackAddress,
  ]); // prettier-ignore
  let done = false;
  const finished = ping.finished().then((r) => {
    done = true;
    return r;
  });
  while (!done) {
    dev.receive(sink, DRAIN_BATCH);
    await dev.wait(20);
  }
  dev.close();
  const m = /= [\d.]+\/([\d.]+)\//.exec((await finished).stdout);
  return m === null ? "failed" : `${Math.round(Number(m[1]) * 1000)} µs`;
}

function fmtRate(x: number): string {
  return `${(x / 1e6).toFixed(3)} M/s`;
}

async function main(): Promise<void> {
  const reason = labUnavailableReason();
  if (reason !== null) {
    console.log(`driver_bench skipped: ${reason}`);
    return;
  }
  const lab = await Lab.create({ prefix: PREFIX });
  const rows: string[][] = [];
  try {
    for (const mode of MODES) {
      for (const size of [SMALL_FRAME_BYTES, FULL_FRAME_BYTES]) {
        const tx = await measureTx(lab, mode, size);
        const rx = await measureRx(lab, mode, size);
        const rtt = size === SMALL_FRAME_BYTES ? await measurePing(lab, mode) : "";
        rows.push([
          mode,
          rx.placement,
          String(size),
          fmtRate(tx.rate),
          `${((tx.rate * size * 8) / 1e9).toFixed(2)} Gbit/s`,
          fmtRate(rx.rate),
          `${rx.received}/${RX_FRAMES}`,
          String(rx.drops),
          rtt,
        ]);
      }
    }
  } finally {
    await lab.destroy();
  }
  const header = [
    "mode",
    "ring",
    "bytes",
    "tx frames",
    "tx bits",
    "rx frames",
    "rx got",
    "rx drops",
    "ping rtt",
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => "| " + r.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  console.log("\nAF_PACKET driver over veth (one Deno thread; generator in a second process)");
  console.log(line(header));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const r of rows) console.log(line(r));
  console.log(
    `ping rtt: kernel pings a responder reading the ring (avg of ${PING_COUNT}, ${PING_INTERVAL_S} s apart).`,
  );
  console.log("rx frames/s is bounded by the generator's send rate when rx drops are 0.");
  console.log(
    "ring: where the RX ring lives (arena / mmap / none); RAWSTACK_RING_ARENA=on|off picks it.",
  );
}

await main();
