/**
 * Helpers for the stack tests (memory link and lab): stack pairs, a tiny DNS
 * server written on rawstack's own UDP API, and a tshark check of captures.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import type { Device } from "../../src/phy/device.ts";
import { Stack, type StackOptions } from "../../src/stack.ts";
import type { UdpConn } from "../../src/socket/udp_conn.ts";
import {
  DNS_CLASS_IN,
  DNS_RCODE_NXDOMAIN,
  DNS_TYPE_A,
  DNS_TYPE_CNAME,
  DnsMessage,
  newDnsMessage,
} from "../../src/wire/dns.ts";
import { isWireError } from "../../src/wire/error.ts";
import { parseIpv4 } from "../../src/wire/address.ts";
import { findCommand, Lab, type LabOptions, run } from "../../src/testing/lab.ts";

export const A_ADDR = "192.0.2.2";
export const B_ADDR = "192.0.2.1";

/** Two started stacks over a memory link: a = 192.0.2.2, b = 192.0.2.1. */
export async function stackPair(
  optsA: Partial<StackOptions> = {},
  optsB: Partial<StackOptions> = {},
  link: { mtu?: number } = {},
): Promise<{ a: Stack; b: Stack; close: () => Promise<void> }> {
  const [da, db]: Device[] = MemoryLink.pair({ mtu: link.mtu });
  const a = new Stack({ device: da, ipv4: `${A_ADDR}/24`, ...optsA });
  const b = new Stack({ device: db, ipv4: `${B_ADDR}/24`, ...optsB });
  await a.start();
  await b.start();
  return {
    a,
    b,
    close: async () => {
      await a.close();
      await b.close();
    },
  };
}

/** What the tiny DNS server saw. */
export interface DnsServerLog {
  queries: number;
  names: string[];
}

/**
 * Serves `zone` on `conn` (an answer per A query; CNAMEs as `"cname:target"`
 * entries; NXDOMAIN for unknown names). `silent` counts queries but never
 * answers. Ends when the conn closes.
 */
export function serveDns(
  conn: UdpConn,
  zone: Record<string, string[]>,
  opts: { silent?: boolean } = {},
): DnsServerLog {
  const log: DnsServerLog = { queries: 0, names: [] };
  (async () => {
    for await (const [data, from] of conn) {
      const q = DnsMessage.parse(data, 0, data.length);
      if (isWireError(q) || q.qr || q.questions.length !== 1) continue;
      log.queries++;
      const question = q.questions[0];
      log.names.push(question.name);
      if (opts.silent) continue;
      const r = newDnsMessage(q.id);
      r.qr = true;
      r.rd = q.rd;
      r.ra = true;
      r.aa = true;
      r.questions = [question];
      let name = question.name.toLowerCase();
      let found = false;
      for (let depth = 0; depth < 8; depth++) {
        const entries = zone[name];
        if (entries === undefined) break;
        found = true;
        const cname = entries.find((e) => e.startsWith("cname:"));
        if (cname !== undefined) {
          const target = cname.slice("cname:".length);
          r.answers.push({ name, type: DNS_TYPE_CNAME, class: DNS_CLASS_IN, ttl: 60, target });
          name = target;
          continue;
        }
        if (question.type === DNS_TYPE_A) {
          for (const a of entries) {
            r.answers.push({
              name,
              type: DNS_TYPE_A,
              class: DNS_CLASS_IN,
              ttl: 60,
              address: parseIpv4(a)!,
            });
          }
        }
        break;
      }
      if (!found) r.rcode = DNS_RCODE_NXDOMAIN;
      await conn.send(DnsMessage.toBytes(r), from);
    }
  })().catch(() => {});
  return log;
}

/** Waits until `cond()` holds (polling every few ms), failing after `timeoutMs`. */
export async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Deterministic bytes of a given length. */
export function pattern(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/**
 * Runs tshark over a capture and asserts it found no malformed packet and no
 * bad checksum (IPv4 header, ICMP, UDP, TCP), and at least `minPackets`.
 *
 * @returns tshark's one-line-per-packet summary
 */
export async function assertCaptureClean(path: string, minPackets = 1): Promise<string> {
  if (findCommand("tshark") === null) throw new Error("tshark is needed to check captures");
  const args = [
    "tshark",
    "-r",
    path,
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
    "_ws.malformed || _ws.expert.severity >= error || ip.checksum.status == 0 || " +
    "udp.checksum.status == 0 || icmp.checksum.status == 0 || tcp.checksum.status == 0",
  ], { check: false });
  assert.equal(bad.code, 0, `tshark filter failed: ${bad.stderr}`);
  assert.equal(
    bad.stdout.trim(),
    "",
    `tshark found malformed/bad-checksum packets:\n${bad.stdout}`,
  );
  return all.stdout;
}

/** A lab with a started stack on the rawstack side and a capture running in the peer. */
export interface LabStack {
  lab: Lab;
  stack: Stack;
  /** Stops the capture and checks it with tshark; returns tshark's summary. */
  checkCapture(minPackets?: number): Promise<string>;
}

/**
 * Builds a lab, opens the device, starts a stack (192.0.2.2/24, gateway
 * 192.0.2.1 by default) and a tcpdump capture on the peer interface; runs
 * `fn`; always tears everything down.
 */
export async function withLabStack(
  prefix: string,
  opts: { router?: boolean; stack?: Partial<StackOptions> },
  fn: (ls: LabStack) => Promise<void>,
): Promise<void> {
  const lab = await Lab.create({ prefix, router: opts.router });
  const pcap = await Deno.makeTempFile({ prefix: `${prefix}-`, suffix: ".pcap" });
  let stack: Stack | null = null;
  let capture: { kill(signal?: Deno.Signal): Promise<void> } | null = null;
  try {
    capture = await startCapture(lab, pcap);
    const device = await lab.openDevice();
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
      checkCapture: async (minPackets = 1) => {
        checked = true;
        // Let the last frames reach the capture file (tcpdump -U flushes per packet).
        await new Promise((r) => setTimeout(r, CAPTURE_SETTLE_MS));
        await capture!.kill("SIGINT");
        return await assertCaptureClean(pcap, minPackets);
      },
    });
    if (!checked) throw new Error("lab test did not check its capture");
  } finally {
    if (stack !== null) await stack.close();
    if (capture !== null) await capture.kill("SIGINT");
    await lab.destroy();
    await Deno.remove(pcap).catch(() => {});
  }
}

const TCPDUMP_START_TIMEOUT_MS = 5000;
/** Time the last frames get to reach tcpdump's file (-U flushes per packet) before it stops. */
const CAPTURE_SETTLE_MS = 100;

/** Where a capture listens: the kernel peer's side of the rawstack link. */
export type CapturePoint = Pick<Lab, "peerNetns" | "peerIf">;

/** A running tcpdump on a lab's peer interface, for tests that build their own {@link Lab}. */
export interface LabCapture {
  /** The pcap file tcpdump writes. */
  readonly path: string;
  /**
   * Stops the capture and checks it with {@link assertCaptureClean}.
   *
   * @param minPackets fewest packets the capture must hold (0 for tests that put nothing on the wire)
   * @returns tshark's one-line-per-packet summary
   */
  check(minPackets?: number): Promise<string>;
  /** Whether {@link LabCapture.check} was called. */
  readonly checked: boolean;
  /** Stops tcpdump (idempotent) and removes the file; call in `finally`. */
  close(): Promise<void>;
}

/**
 * Starts {@link startCapture} on `lab`'s peer interface into a temporary
 * file. Use as `const cap = await captureLab(lab, PREFIX); try { …; await
 * cap.check(n); } finally { await cap.close(); }`.
 *
 * @param lab the lab (or just its peer netns and interface, e.g. one built by `rawstack lab up`)
 * @param prefix temp-file name prefix
 */
export async function captureLab(lab: CapturePoint, prefix: string): Promise<LabCapture> {
  const path = await Deno.makeTempFile({ prefix: `${prefix}-`, suffix: ".pcap" });
  let capture: { kill(signal?: Deno.Signal): Promise<void> };
  try {
    capture = await startCapture(lab, path);
  } catch (e) {
    await Deno.remove(path).catch(() => {});
    throw e;
  }
  let checked = false;
  return {
    path,
    get checked() {
      return checked;
    },
    check: async (minPackets = 1) => {
      checked = true;
      await new Promise((r) => setTimeout(r, CAPTURE_SETTLE_MS));
      await capture.kill("SIGINT");
      return await assertCaptureClean(path, minPackets);
    },
    close: async () => {
      await capture.kill("SIGINT");
      await Deno.remove(path).catch(() => {});
    },
  };
}

/**
 * Builds a lab (`Lab.create(labOpts)`), starts {@link captureLab} on its peer
 * interface, runs `fn`, fails if `fn` never checked the capture, and always
 * stops the capture and destroys the lab.
 */
export async function withLabCapture(
  labOpts: LabOptions,
  fn: (lab: Lab, capture: LabCapture) => Promise<void>,
): Promise<void> {
  const lab = await Lab.create(labOpts);
  let capture: LabCapture | null = null;
  try {
    capture = await captureLab(lab, labOpts.prefix);
    await fn(lab, capture);
    if (!capture.checked) throw new Error("lab test did not check its capture");
  } finally {
    if (capture !== null) await capture.close();
    await lab.destroy();
  }
}

/**
 * tcpdump on the peer interface with `--immediate-mode` (without it, frames
 * still in tcpdump's TPACKET_V3 block when it is stopped are lost; Lab.capture
 * lacks the flag). Resolves once tcpdump listens.
 */
export async function startCapture(
  lab: CapturePoint,
  path: string,
): Promise<{ kill(signal?: Deno.Signal): Promise<void> }> {
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
  const drained = (async () => {
    for (;;) {
      const { done } = await reader.read();
      if (done) return;
    }
  })();
  let stopped = false;
  const kill = async (signal: Deno.Signal = "SIGINT") => {
    if (!stopped) {
      stopped = true;
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    }
    await child.status;
    await drained;
  };
  if (!text.includes("listening on")) {
    await kill("SIGKILL");
    throw new Error(`tcpdump did not start: ${text.trim()}`);
  }
  return { kill };
}

/** Waits until a UDP port is bound in the peer namespace (`ss -uln`). */
export async function waitPeerUdpPort(lab: Lab, port: number, timeoutMs = 3000): Promise<void> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const ss = await lab.runInPeer(["ss", "-H", "-uln", `sport = :${port}`]);
    if (ss.stdout.trim() !== "") return;
    if (performance.now() > end) throw new Error(`nothing listens on UDP port ${port} in the peer`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
