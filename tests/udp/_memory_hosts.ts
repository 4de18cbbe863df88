/**
 * Test helpers: two rawstack hosts over MemoryLink with a UdpLayer each, a
 * frame recorder, and a tshark check of the captured frames (checksums on).
 * Shared by tests/udp and tests/dns.
 *
 * @module
 */
import assert from "node:assert/strict";
import { UdpLayer } from "../../src/udp/udp_layer.ts";
import { NetworkInterface } from "../../src/iface/interface.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import type { Device, FrameSink } from "../../src/phy/device.ts";
import { parseIpv4 } from "../../src/wire/address.ts";

export const IP_A = parseIpv4("192.0.2.1")!;
export const IP_B = parseIpv4("192.0.2.2")!;

/** A device wrapper that records every frame it transmits (a capture without src/wire/pcap). */
export class Recorder implements Device {
  frames: { timeMs: number; bytes: Uint8Array }[] = [];
  nowMs = 0;
  constructor(readonly inner: Device) {}
  get capabilities() {
    return this.inner.capabilities;
  }
  get stats() {
    return this.inner.stats;
  }
  receive(sink: FrameSink, budget: number): number {
    return this.inner.receive(sink, budget);
  }
  transmit(bytes: Uint8Array, offset: number, length: number): boolean {
    this.frames.push({ timeMs: this.nowMs, bytes: bytes.slice(offset, offset + length) });
    return this.inner.transmit(bytes, offset, length);
  }
  flush(): void {
    this.inner.flush();
  }
  wait(timeoutMs: number): Promise<void> {
    return this.inner.wait(timeoutMs);
  }
  close(): void {
    this.inner.close();
  }
}

/** Two hosts A (192.0.2.1) and B (192.0.2.2), each with a UdpLayer, and a pump. */
export function twoHosts() {
  const [da, db] = MemoryLink.pair();
  const ra = new Recorder(da);
  const rb = new Recorder(db);
  const a = new NetworkInterface(ra, { ipv4: "192.0.2.1/24" });
  const b = new NetworkInterface(rb, { ipv4: "192.0.2.2/24" });
  const udpA = new UdpLayer(a, { unreachable: a });
  const udpB = new UdpLayer(b, { unreachable: b });
  a.registerProtocol(17, udpA);
  b.registerProtocol(17, udpB);
  a.start(0);
  b.start(0);
  let now = 0;
  const hosts = {
    a,
    b,
    udpA,
    udpB,
    get now() {
      return now;
    },
    /** Moves time to `t` and runs both hosts until the link is quiet. */
    pump(t = now): void {
      now = t;
      ra.nowMs = rb.nowMs = t;
      for (let i = 0; i < 10_000; i++) {
        a.poll(t);
        b.poll(t);
        const n = db.receive(b.at(t), 64) + da.receive(a.at(t), 64);
        ra.flush();
        rb.flush();
        if (n === 0) return;
      }
      throw new Error("link never went quiet");
    },
    /** All frames both hosts sent, in time order. */
    frames() {
      return [...ra.frames, ...rb.frames].sort((x, y) => x.timeMs - y.timeMs);
    },
    close(): void {
      a.close();
      b.close();
      da.close();
      db.close();
    },
  };
  hosts.pump(0);
  return hosts;
}

/** Writes frames as a classic pcap (LINKTYPE_ETHERNET, microseconds). */
export function pcapBytes(frames: { timeMs: number; bytes: Uint8Array }[]): Uint8Array {
  const size = 24 + frames.reduce((s, f) => s + 16 + f.bytes.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 262144, true);
  v.setUint32(20, 1, true);
  let o = 24;
  for (const f of frames) {
    const us = Math.round(f.timeMs * 1000);
    v.setUint32(o, Math.floor(us / 1e6), true);
    v.setUint32(o + 4, us % 1e6, true);
    v.setUint32(o + 8, f.bytes.length, true);
    v.setUint32(o + 12, f.bytes.length, true);
    out.set(f.bytes, o + 16);
    o += 16 + f.bytes.length;
  }
  return out;
}

/**
 * Runs tshark with IP/UDP/ICMP checksum validation over the frames and
 * returns the packets it flags (malformed, bad checksum, expert warnings),
 * or null when tshark is not installed.
 */
export async function tsharkProblems(
  frames: { timeMs: number; bytes: Uint8Array }[],
): Promise<string[] | null> {
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    await Deno.writeFile(path, pcapBytes(frames));
    let out;
    try {
      out = await new Deno.Command("tshark", {
        args: [
          "-n",
          "-r",
          path,
          "-o",
          "ip.check_checksum:TRUE",
          "-o",
          "udp.check_checksum:TRUE",
          "-Y",
          "_ws.malformed || ip.checksum.status == 0 || udp.checksum.status == 0 || " +
          "icmp.checksum.status == 0 || _ws.expert.severity >= 6291456",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
    const text = new TextDecoder().decode(out.stdout).trim();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return text === "" ? [] : text.split("\n");
  } finally {
    await Deno.remove(path);
  }
}

/** Asserts tshark finds nothing wrong in the frames (skips with a note without tshark). */
export async function assertTsharkClean(
  frames: { timeMs: number; bytes: Uint8Array }[],
): Promise<void> {
  const problems = await tsharkProblems(frames);
  if (problems === null) {
    console.log("tshark not installed: capture not checked");
    return;
  }
  assert.deepEqual(problems, []);
}
