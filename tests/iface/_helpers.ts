/**
 * Test helpers for src/iface: a recording device and builders for Ethernet,
 * ARP and IPv4 frames (written independently of the code under test).
 *
 * @module
 */

import type { Device, DeviceCapabilities, DeviceStats, FrameSink } from "../../src/phy/device.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";
import { parseIpv4, readIpv4, readMac, writeIpv4, writeMac } from "../../src/wire/address.ts";
import { TSHARK_SEVERITY_WARN, tsharkCaptureProblems } from "../wire/_tshark.ts";

export const MAC_A = 0x02_00_00_00_00_0a;
export const MAC_B = 0x02_00_00_00_00_0b;
export const MAC_C = 0x02_00_00_00_00_0c;
export const IP_A = parseIpv4("192.0.2.10")!;
export const IP_B = parseIpv4("192.0.2.11")!;
export const IP_C = parseIpv4("192.0.2.12")!;
export const GW = parseIpv4("192.0.2.1")!;

/** A device that records every transmitted frame (copied). */
export class RecordingDevice implements Device {
  readonly capabilities: DeviceCapabilities;
  readonly stats: DeviceStats = {
    rxFrames: 0,
    rxBytes: 0,
    txFrames: 0,
    txBytes: 0,
    rxDropped: 0,
    txDropped: 0,
  };
  frames: Uint8Array[] = [];
  refuse = false;
  constructor(mac = MAC_A, mtu = 1500) {
    this.capabilities = {
      name: "rec0",
      mtu,
      mac,
      headroom: 0,
      checksumOffloadRx: false,
      checksumOffloadTx: false,
      gso: false,
    };
  }
  receive(_sink: FrameSink, _budget: number): number {
    return 0;
  }
  transmit(bytes: Uint8Array, offset: number, length: number): boolean {
    if (this.refuse) return false;
    this.frames.push(bytes.slice(offset, offset + length));
    this.stats.txFrames++;
    return true;
  }
  flush(): void {}
  wait(_timeoutMs: number): Promise<void> {
    return Promise.resolve();
  }
  close(): void {}
  /** Removes and returns the recorded frames. */
  take(): Uint8Array[] {
    const f = this.frames;
    this.frames = [];
    return f;
  }
}

/** Parsed view of a frame for assertions. */
export interface Eth {
  dst: number;
  src: number;
  type: number;
  payload: Uint8Array;
}

export function parseEth(frame: Uint8Array): Eth {
  return {
    dst: readMac(frame, 0),
    src: readMac(frame, 6),
    type: (frame[12] << 8) | frame[13],
    payload: frame.subarray(14),
  };
}

export function ethFrame(dst: number, src: number, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  writeMac(f, 0, dst);
  writeMac(f, 6, src);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  f.set(payload, 14);
  return f;
}

export function arpPacket(
  op: number,
  sha: number,
  spa: number,
  tha: number,
  tpa: number,
): Uint8Array {
  const p = new Uint8Array(28);
  p.set([0, 1, 8, 0, 6, 4, 0, op]);
  writeMac(p, 8, sha);
  writeIpv4(p, 14, spa);
  writeMac(p, 18, tha);
  writeIpv4(p, 24, tpa);
  return p;
}

export interface ArpFields {
  op: number;
  sha: number;
  spa: number;
  tha: number;
  tpa: number;
}

export function parseArp(p: Uint8Array): ArpFields {
  return {
    op: (p[6] << 8) | p[7],
    sha: readMac(p, 8),
    spa: readIpv4(p, 14),
    tha: readMac(p, 18),
    tpa: readIpv4(p, 24),
  };
}

export interface Ipv4Options {
  src: number;
  dst: number;
  protocol: number;
  payload: Uint8Array;
  id?: number;
  ttl?: number;
  df?: boolean;
  mf?: boolean;
  fragmentOffset?: number; // bytes, multiple of 8
  options?: Uint8Array; // IPv4 options (multiple of 4 bytes)
}

export function ipv4Packet(o: Ipv4Options): Uint8Array {
  const hl = 20 + (o.options?.length ?? 0);
  const p = new Uint8Array(hl + o.payload.length);
  const total = p.length;
  const flags = (o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragmentOffset ?? 0) >> 3);
  p.set([
    0x40 | (hl >> 2),
    0,
    total >> 8,
    total & 0xff,
    (o.id ?? 1) >> 8,
    (o.id ?? 1) & 0xff,
    flags >> 8,
    flags & 0xff,
    o.ttl ?? 64,
    o.protocol,
  ]);
  writeIpv4(p, 12, o.src);
  writeIpv4(p, 16, o.dst);
  if (o.options) p.set(o.options, 20);
  const ck = internetChecksum(p, 0, hl);
  p[10] = ck >> 8;
  p[11] = ck & 0xff;
  p.set(o.payload, hl);
  return p;
}

export interface Ipv4Fields {
  headerLength: number;
  totalLength: number;
  id: number;
  df: boolean;
  mf: boolean;
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  src: number;
  dst: number;
  checksumOk: boolean;
  payload: Uint8Array;
}

export function parseIpv4Packet(p: Uint8Array): Ipv4Fields {
  const hl = (p[0] & 15) * 4;
  const total = (p[2] << 8) | p[3];
  const flags = (p[6] << 8) | p[7];
  return {
    headerLength: hl,
    totalLength: total,
    id: (p[4] << 8) | p[5],
    df: (flags & 0x4000) !== 0,
    mf: (flags & 0x2000) !== 0,
    fragmentOffset: (flags & 0x1fff) * 8,
    ttl: p[8],
    protocol: p[9],
    src: readIpv4(p, 12),
    dst: readIpv4(p, 16),
    checksumOk: internetChecksum(p, 0, hl) === 0,
    payload: p.subarray(hl, total),
  };
}

/** An ICMP message with a valid checksum. */
export function icmpMessage(
  type: number,
  code: number,
  rest: number,
  data: Uint8Array,
): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  m[0] = type;
  m[1] = code;
  writeIpv4(m, 4, rest >>> 0);
  m.set(data, 8);
  const ck = internetChecksum(m, 0, m.length);
  m[2] = ck >> 8;
  m[3] = ck & 0xff;
  return m;
}

export function pattern(n: number, seed = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

/**
 * Runs tshark (tests/wire/_tshark.ts, checksum validation on) over the frames
 * and returns one line per frame that is malformed, has a bad checksum or
 * carries expert info of warning level or above (empty = clean), or null
 * when tshark is not installed.
 *
 * @param frames Ethernet frames
 * @returns the problem lines, or null when skipped
 */
export function tsharkProblems(frames: Uint8Array[]): Promise<string[] | null> {
  return tsharkCaptureProblems(frames, { minSeverity: TSHARK_SEVERITY_WARN, what: "iface frames" });
}
