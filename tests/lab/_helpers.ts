/**
 * Helpers for the stack tests (memory link and lab): stack pairs, a tiny DNS
 * server written on rawstack's own UDP API, and a tshark check of captures.
 *
 * @module
 */

import { MemoryLink } from "../../src/phy/memory_link.ts";
import type { Device } from "../../src/phy/device.ts";
import type { AfPacketOptions } from "../../src/phy/af_packet.ts";
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
import { type CaptureProcess, Lab, type LabOptions, startCapture } from "../../src/testing/lab.ts";
import { assertCaptureClean, type CaptureCheckOptions } from "../wire/_tshark.ts";

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

export { assertCaptureClean, type CaptureCheckOptions } from "../wire/_tshark.ts";

/** A lab with a started stack on the rawstack side and a capture running in the peer. */
export interface LabStack {
  lab: Lab;
  stack: Stack;
  /** Stops the capture and checks it with tshark; returns tshark's summary. */
  checkCapture(minPackets?: number): Promise<string>;
  /** The pcap file the capture writes (read it with tshark after {@link checkCapture}). */
  capturePath: string;
}

/**
 * Builds a lab, opens the device, starts a stack (192.0.2.2/24, gateway
 * 192.0.2.1 by default) and a tcpdump capture on the peer interface; runs
 * `fn`; always tears everything down.
 */
export async function withLabStack(
  prefix: string,
  opts: {
    router?: boolean;
    stack?: Partial<StackOptions>;
    /** Options of the AF_PACKET device (e.g. `txThread`). */
    device?: AfPacketOptions;
    /** Middleware over the AF_PACKET device (e.g. a FaultInjector). */
    wrapDevice?: (device: Device) => Device;
    /** Packet bound and tshark options of the capture. */
    capture?: CaptureLabOptions;
  },
  fn: (ls: LabStack) => Promise<void>,
): Promise<void> {
  const lab = await Lab.create({ prefix, router: opts.router });
  let stack: Stack | null = null;
  let capture: LabCapture | null = null;
  try {
    capture = await captureLab(lab, prefix, opts.capture);
    const raw = await lab.openDevice(opts.device);
    const device = opts.wrapDevice ? opts.wrapDevice(raw) : raw;
    stack = new Stack({
      device,
      ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
      gateway: lab.peerAddress,
      ...opts.stack,
    });
    await stack.start();
    await fn({ lab, stack, checkCapture: capture.check, capturePath: capture.path });
    if (!capture.checked) throw new Error("lab test did not check its capture");
  } finally {
    if (stack !== null) await stack.close();
    if (capture !== null) await capture.close();
    await lab.destroy();
  }
}

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

/** Options of {@link captureLab}. */
export interface CaptureLabOptions {
  /** Stop capturing after this many packets (keeps checks of bulk transfers quick). */
  count?: number;
  /** How {@link LabCapture.check} runs tshark (TCP payload as data, kernel 0xFFFF checksums). */
  check?: CaptureCheckOptions;
}

/**
 * Starts a tcpdump (`startCapture` of src/testing/lab.ts) on `lab`'s peer
 * interface into a temporary file. Use as `const cap = await captureLab(lab,
 * PREFIX); try { …; await cap.check(n); } finally { await cap.close(); }`.
 *
 * @param lab the lab (or just its peer netns and interface, e.g. one built by `rawstack lab up`)
 * @param prefix temp-file name prefix
 * @param opts packet bound, tshark check options
 */
export async function captureLab(
  lab: CapturePoint,
  prefix: string,
  opts: CaptureLabOptions = {},
): Promise<LabCapture> {
  const path = await Deno.makeTempFile({ prefix: `${prefix}-`, suffix: ".pcap" });
  let capture: CaptureProcess;
  try {
    capture = await startCapture(path, {
      netns: lab.peerNetns,
      iface: lab.peerIf,
      count: opts.count,
    });
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
      await capture.stop();
      return await assertCaptureClean(path, minPackets, opts.check);
    },
    close: async () => {
      await capture.stop();
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
