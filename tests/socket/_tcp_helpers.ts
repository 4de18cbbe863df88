/**
 * Helpers for the TCP socket tests: two stacks over a memory link (with
 * optional fault injection and a switch that makes one side go silent),
 * SHA-256 of byte streams, and deterministic data.
 *
 * @module
 */

import { MemoryLink } from "../../src/phy/memory_link.ts";
import type { Device } from "../../src/phy/device.ts";
import { ForwardingDevice } from "../phy/_forwarding_device.ts";
import { FaultInjector, type FaultSpec } from "../../src/phy/fault_injector.ts";
import { Stack, type StackOptions } from "../../src/stack.ts";
import type { TcpConn } from "../../src/socket/tcp_conn.ts";
import type { TcpListener } from "../../src/socket/tcp_listener.ts";
import { wordBytesOf } from "../seeded_random.ts";

export const A_ADDR = "192.0.2.2";
export const B_ADDR = "192.0.2.1";

/** Ethernet header bytes (no VLAN tag on the memory link). */
const ETHERNET_HEADER_BYTES = 14;
/** IPv4's protocol number of TCP (RFC 9293 §3.1). */
const IP_PROTOCOL_TCP = 6;

/**
 * A device wrapper whose transmit side can be cut (frames vanish, like a dead peer) and which
 * can log the TCP payload size of every IPv4 segment it transmits.
 */
export class SwitchableDevice extends ForwardingDevice {
  /** When true, every transmitted frame is silently lost. */
  silent = false;
  /** When set, the payload bytes of each transmitted IPv4 TCP segment that carries data. */
  tcpPayloads: number[] | null = null;
  override transmit(bytes: Uint8Array, offset: number, length: number): boolean {
    if (this.silent) return true;
    if (this.tcpPayloads !== null) {
      const ip = offset + ETHERNET_HEADER_BYTES;
      if (bytes[ip] >>> 4 === 4 && bytes[ip + 9] === IP_PROTOCOL_TCP) {
        const ipHeader = (bytes[ip] & 0x0f) * 4; // RFC 791 IHL, 32-bit words
        const tcpHeader = (bytes[ip + ipHeader + 12] >>> 4) * 4; // RFC 9293 §3.1 Data Offset
        const payload = ((bytes[ip + 2] << 8) | bytes[ip + 3]) - ipHeader - tcpHeader;
        if (payload > 0) this.tcpPayloads.push(payload);
      }
    }
    return this.inner.transmit(bytes, offset, length);
  }
}

/** Options of {@link tcpPair}. */
export interface TcpPairOptions {
  a?: Partial<StackOptions>;
  b?: Partial<StackOptions>;
  /** Faults on frames B receives and A receives (seeded). */
  faults?: { seed: number; toA?: FaultSpec; toB?: FaultSpec };
}

/** Two started stacks: a = 192.0.2.2 (client side), b = 192.0.2.1 (server side). */
export async function tcpPair(opts: TcpPairOptions = {}): Promise<{
  a: Stack;
  b: Stack;
  devA: SwitchableDevice;
  devB: SwitchableDevice;
  close: () => Promise<void>;
}> {
  const [ma, mb] = MemoryLink.pair({ queueFrames: 1024 });
  let da: Device = ma;
  let db: Device = mb;
  if (opts.faults !== undefined) {
    const f = opts.faults;
    if (f.toA) da = new FaultInjector(ma, { seed: f.seed, rx: f.toA });
    if (f.toB) db = new FaultInjector(mb, { seed: f.seed + 1, rx: f.toB });
  }
  const devA = new SwitchableDevice(da);
  const devB = new SwitchableDevice(db);
  const a = new Stack({ device: devA, ipv4: `${A_ADDR}/24`, ...opts.a });
  const b = new Stack({ device: devB, ipv4: `${B_ADDR}/24`, ...opts.b });
  await a.start();
  await b.start();
  return {
    a,
    b,
    devA,
    devB,
    close: async () => {
      await a.close();
      await b.close();
    },
  };
}

/**
 * `server` listens on `port`, `client` connects to it: returns the listener
 * and both ends of the established connection.
 */
export async function connected(client: Stack, server: Stack, port: number): Promise<{
  listener: TcpListener;
  client: TcpConn;
  server: TcpConn;
}> {
  const listener = server.listen({ port });
  const accepting = listener.accept();
  const conn = await client.connect({ hostname: B_ADDR, port });
  return { listener, client: conn, server: await accepting };
}

/** Deterministic pseudo-random bytes (the tests' seeded generator, a word at a time). */
export function randomBytes(length: number, seed = 1): Uint8Array {
  return wordBytesOf(length, seed);
}

/** SHA-256 as hex. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads a conn to its end, returning everything. */
export async function readAll(conn: TcpConn, chunk = 64 * 1024): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(chunk);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    parts.push(buf.slice(0, n));
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

/** Writes `data` in chunks of `chunk` bytes. */
export async function writeChunked(conn: TcpConn, data: Uint8Array, chunk = 32 * 1024) {
  for (let off = 0; off < data.length; off += chunk) {
    await conn.write(data.subarray(off, Math.min(data.length, off + chunk)));
  }
}

/** Waits until `cond()` holds, failing after `timeoutMs`. */
export async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
