/**
 * Bulk TCP over a TAP device against the same over AF_PACKET (issue 21's
 * bench row), one run each, kernel peer in a namespace this benchmark makes:
 *
 * - AF_PACKET: the lab's veth pair (src/testing/lab.ts), rawstack on `rs0`,
 *   with and without `vnetHeader` (with it the peer keeps its offloads);
 * - TAP: a tap made in this namespace, opened, then moved into a fresh
 *   namespace where the kernel side gets 192.0.2.1/24 (the fd stays
 *   attached), rawstack on its wire side; with and without `vnetHeader`.
 *
 * Each row: the kernel sends to rawstack for SECONDS (bench/tcp_tool.py
 * `source`), then rawstack sends to the kernel (`sink`); Gbit/s of payload.
 * Needs root, python3. Usage: `deno run -A bench/tap_bench.ts [SECONDS]`.
 *
 * @module
 */

import { Lab, LabProcess, labUnavailableReason, run } from "../src/testing/lab.ts";
import { Stack } from "../src/stack.ts";
import { TapDevice } from "../src/phy/tun_tap.ts";
import type { Device } from "../src/phy/device.ts";

const SECONDS = Math.max(0.5, Number(Deno.args[0] ?? "3"));
const TOOL = new URL("./tcp_tool.py", import.meta.url).pathname;
const PORT = 5001;
const CHUNK_BYTES = 64 * 1024;
const READ_BYTES = 256 * 1024;
const KERNEL = "192.0.2.1";
const STACK = "192.0.2.2";

interface Env {
  device: Device;
  netns: string;
  spawn(cmd: string[]): LabProcess;
  close(): Promise<void>;
}

async function afPacketEnv(vnetHeader: boolean): Promise<Env> {
  // With vnetHeader the peer keeps its offloads, as the TAP device's kernel side does.
  const lab = await Lab.create({ prefix: "rstb", peerOffloads: vnetHeader });
  const device = await lab.openDevice({ vnetHeader });
  return {
    device,
    netns: lab.peerNetns,
    spawn: (cmd) => lab.spawnInPeer(cmd),
    close: () => lab.destroy(),
  };
}

async function tapEnv(vnetHeader: boolean): Promise<Env> {
  const name = `rstb${Deno.pid % 10000}`;
  const netns = `rstb-${Deno.pid}-tap`;
  await run(["ip", "netns", "del", netns], { check: false });
  await run(["ip", "netns", "add", netns]);
  await run(["ip", "tuntap", "add", "dev", name, "mode", "tap"]);
  await run(["sysctl", "-q", "-w", `net.ipv6.conf.${name}.disable_ipv6=1`]);
  await run(["ip", "link", "set", name, "up"]);
  const device = await TapDevice.open(name, { vnetHeader });
  // The attached fd follows the device into the namespace.
  await run(["ip", "link", "set", name, "netns", netns]);
  await run(["ip", "-n", netns, "addr", "add", `${KERNEL}/24`, "dev", name]);
  await run(["ip", "-n", netns, "link", "set", name, "up"]);
  await run(["ip", "-n", netns, "link", "set", "lo", "up"]);
  const procs: LabProcess[] = [];
  return {
    device,
    netns,
    spawn(cmd) {
      const child = new Deno.Command("ip", {
        args: ["netns", "exec", netns, ...cmd],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const p = new LabProcess(child);
      procs.push(p);
      return p;
    },
    async close() {
      for (const p of procs) await p.kill();
      device.close();
      await run(["ip", "netns", "del", netns], { check: false });
      await run(["ip", "link", "del", name], { check: false });
    },
  };
}

function numbers(text: string): number[] {
  return text.trim().split(/\s+/).map(Number);
}

async function kernelToRawstack(env: Env, stack: Stack): Promise<number> {
  const listener = stack.listen({ port: PORT });
  const src = env.spawn(["python3", TOOL, "source", STACK, String(PORT), String(SECONDS)]);
  const conn = await listener.accept();
  const buf = new Uint8Array(READ_BYTES);
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
  listener.close();
  const r = await src.finished();
  if (r.code !== 0) throw new Error(`tcp_tool source: ${r.stderr}`);
  return bytes * 8 / ((last - first) / 1000) / 1e9;
}

async function rawstackToKernel(env: Env, stack: Stack): Promise<number> {
  const sink = env.spawn(["python3", TOOL, "sink", "0.0.0.0", String(PORT + 1)]);
  let conn = null;
  for (let i = 0; i < 100 && conn === null; i++) {
    try {
      conn = await stack.connect({ hostname: KERNEL, port: PORT + 1 });
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (conn === null) throw new Error("the kernel sink did not listen");
  const chunk = new Uint8Array(CHUNK_BYTES);
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) await conn.write(chunk);
  await conn.closeWrite();
  const r = await sink.finished();
  conn.close();
  const [bytes, secs] = numbers(r.stdout);
  if (r.code !== 0 || !(secs > 0)) throw new Error(`tcp_tool sink: ${r.stderr}`);
  return bytes * 8 / secs / 1e9;
}

async function row(name: string, make: () => Promise<Env>): Promise<void> {
  const env = await make();
  const stack = new Stack({ device: env.device, ipv4: `${STACK}/24` });
  try {
    await stack.start();
    const rx = await kernelToRawstack(env, stack);
    const tx = await rawstackToKernel(env, stack);
    console.log(
      `${name.padEnd(22)} kernel→rawstack ${rx.toFixed(2).padStart(6)} Gbit/s   ` +
        `rawstack→kernel ${tx.toFixed(2).padStart(6)} Gbit/s`,
    );
  } finally {
    await stack.close();
    await env.close();
  }
}

if (import.meta.main) {
  const reason = labUnavailableReason(["python3"]);
  if (reason !== null) {
    console.log(`tap_bench: n/a (${reason})`);
  } else {
    console.log(`bulk TCP, ${SECONDS} s each way, one run`);
    await row("AF_PACKET (veth)", () => afPacketEnv(false));
    await row("AF_PACKET + vnetHeader", () => afPacketEnv(true));
    await row("TAP", () => tapEnv(false));
    await row("TAP + vnetHeader", () => tapEnv(true));
  }
}
