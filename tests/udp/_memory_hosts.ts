/**
 * Test helpers: two rawstack hosts over MemoryLink with a UdpLayer each, a
 * frame recorder, and a tshark check of the captured frames (checksums on).
 * Shared by tests/udp and tests/dns.
 *
 * @module
 */
import { UdpLayer } from "../../src/udp/udp_layer.ts";
import { NetworkInterface } from "../../src/iface/interface.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import { ForwardingDevice } from "../phy/_forwarding_device.ts";
import { parseIpv4 } from "../../src/wire/address.ts";
import {
  assertTsharkClean as assertFramesClean,
  TSHARK_SEVERITY_WARN,
  tsharkCaptureProblems,
} from "../wire/_tshark.ts";

export const IP_A = parseIpv4("192.0.2.1")!;
export const IP_B = parseIpv4("192.0.2.2")!;

/** A device wrapper that records every frame it transmits (a capture without src/wire/pcap). */
export class Recorder extends ForwardingDevice {
  frames: RecordedFrame[] = [];
  nowMs = 0;
  override transmit(bytes: Uint8Array, offset: number, length: number): boolean {
    this.frames.push({ timeMs: this.nowMs, bytes: bytes.slice(offset, offset + length) });
    return this.inner.transmit(bytes, offset, length);
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

/** A recorded frame: when it was sent and its bytes. */
export interface RecordedFrame {
  /** Host time of the transmission (ms). */
  timeMs: number;
  /** The whole Ethernet frame. */
  bytes: Uint8Array;
}

/** The tshark options of these helpers: checksums on, warnings count as problems. */
const TSHARK_OPTIONS = { minSeverity: TSHARK_SEVERITY_WARN, what: "memory-link capture" };

/**
 * Runs tshark (tests/wire/_tshark.ts, checksum validation on) over the frames
 * and returns one line per frame it flags (malformed, bad checksum, expert
 * warnings or errors), or null when tshark is not installed.
 *
 * @param frames recorded frames
 * @returns the problem lines (empty = clean), or null when skipped
 */
export function tsharkProblems(frames: RecordedFrame[]): Promise<string[] | null> {
  return tsharkCaptureProblems(frames.map((f) => f.bytes), TSHARK_OPTIONS);
}

/**
 * Asserts tshark finds nothing wrong in the frames (skips with a note without tshark).
 *
 * @param frames recorded frames
 */
export async function assertTsharkClean(frames: RecordedFrame[]): Promise<void> {
  await assertFramesClean(frames.map((f) => f.bytes), TSHARK_OPTIONS);
}
