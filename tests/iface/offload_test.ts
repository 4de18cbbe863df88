// Checksum and segmentation offloads between the devices, the interface and the transports:
// receive checksum state (rxInfo) forwarded and trusted or not, partial transmit checksums,
// TCP super-segments (GSO) and their software fallback.
import assert from "node:assert/strict";
import { MemoryDevice, MemoryLink } from "../../src/phy/memory_link.ts";
import { FaultInjector } from "../../src/phy/fault_injector.ts";
import { CaptureDevice } from "../../src/phy/capture.ts";
import {
  type Device,
  type FrameSink,
  RX_CHECKSUM_UNKNOWN,
  RX_CHECKSUM_VALID,
} from "../../src/phy/device.ts";
import {
  bulkAToB,
  OFFLOAD_MAX_FRAME,
  offloadLinkPair,
  OffloadTestDevice,
  pattern,
  readAll,
} from "./_offload_helpers.ts";
import { NetworkInterface } from "../../src/iface/interface.ts";
import { completePartialChecksum } from "../../src/iface/ipv4.ts";
import type { IpProtocolHandler } from "../../src/iface/types.ts";
import { Stack } from "../../src/stack.ts";
import { TcpPacket } from "../../src/wire/tcp.ts";
import { parseIpv4 } from "../../src/wire/address.ts";

const A = "192.0.2.2";
const B = "192.0.2.1";
const PROTO_TEST = 253; // RFC 3692 experimental protocol number

/** Records the checksumVerified flag each datagram arrives with. */
class Recorder implements IpProtocolHandler {
  flags: boolean[] = [];
  onPacket(
    _now: number,
    _src: number,
    _dst: number,
    _bytes: Uint8Array,
    _off: number,
    _len: number,
    checksumVerified?: boolean,
  ): void {
    this.flags.push(checksumVerified === true);
  }
}

/** Two interfaces over `wrapB(end b)`; sends one datagram a→b and returns b's recorded flags. */
function sendOne(
  wrapB: (d: MemoryDevice) => Device,
  verify: "auto" | "always" = "auto",
  wrapA: (d: MemoryDevice) => Device = (d) => d,
): boolean[] {
  const [ma, mb] = MemoryLink.pair();
  const da = wrapA(ma);
  const db = wrapB(mb);
  const ia = new NetworkInterface(da, { ipv4: `${A}/24`, initialIdentification: 1 });
  const ib = new NetworkInterface(db, { ipv4: `${B}/24`, verifyChecksums: verify });
  const rec = new Recorder();
  ib.registerProtocol(PROTO_TEST, rec);
  ia.start(0);
  ib.start(0);
  ia.arp.learn(0, parseIpv4(B)!, mb.capabilities.mac);
  const buf = ia.allocate()!;
  buf.append(16);
  assert.ok(ia.send(buf, parseIpv4(B)!, PROTO_TEST));
  da.flush();
  for (let i = 0; i < 4; i++) db.receive(ib.at(0), 16);
  ia.close();
  ib.close();
  da.close();
  db.close();
  return rec.flags.filter((_, i) => i === rec.flags.length - 1);
}

Deno.test("MemoryDevice reports RX_CHECKSUM_VALID for its peer's frames until distrustTransmit", () => {
  const [a, b] = MemoryLink.pair();
  const seen: number[] = [];
  const sink: FrameSink = { onFrame: () => void seen.push(b.rxInfo.checksum) };
  a.transmit(new Uint8Array(60), 0, 60);
  a.distrustTransmit();
  a.transmit(new Uint8Array(60), 0, 60);
  b.receive(sink, 8);
  assert.deepEqual(seen, [RX_CHECKSUM_VALID, RX_CHECKSUM_UNKNOWN]);
  const [c, d] = MemoryLink.pair({ rxChecksumValid: false });
  c.transmit(new Uint8Array(60), 0, 60);
  d.receive({ onFrame: () => void seen.push(d.rxInfo.checksum) }, 8);
  assert.equal(seen[2], RX_CHECKSUM_UNKNOWN);
  a.close(), b.close(), c.close(), d.close();
});

Deno.test("NetworkInterface passes checksumVerified from the device, not with verifyChecksums always", () => {
  assert.deepEqual(sendOne((d) => d), [true]);
  assert.deepEqual(sendOne((d) => d, "always"), [false]);
  // CaptureDevice forwards rxInfo.
  const writer = { writeFrame() {} };
  assert.deepEqual(sendOne((d) => new CaptureDevice(d, writer)), [true]);
});

Deno.test("FaultInjector forwards rxInfo, queued or not, and never vouches for frames it corrupted", () => {
  let now = 0;
  const clock = () => now;
  // Pass-through and delayed (queued) frames keep the memory link's VALID.
  assert.deepEqual(sendOne((d) => new FaultInjector(d, { seed: 1 })), [true]);
  const delayed = (d: MemoryDevice) => new FaultInjector(d, { seed: 1, now: clock, rx: {} });
  assert.deepEqual(sendOne(delayed), [true]);
  // Received frames it corrupted: unknown, so they are verified.
  const [a, b] = MemoryLink.pair();
  const inj = new FaultInjector(b, { seed: 7, now: clock, rx: { corrupt: 0.5, delayMs: 1 } });
  for (let i = 0; i < 200; i++) a.transmit(new Uint8Array(60), 0, 60);
  const frames: { info: number; zero: boolean }[] = [];
  const sink: FrameSink = {
    onFrame: (bytes, off, len) => {
      frames.push({
        info: inj.rxInfo.checksum,
        zero: bytes.subarray(off, off + len).every((x) => x === 0),
      });
    },
  };
  assert.equal(inj.receive(sink, 500), 0); // queued, not due yet
  now = 5;
  inj.receive(sink, 500);
  assert.equal(frames.length, 200);
  assert.ok(inj.rxFaults.corrupted > 20);
  // Exactly the altered frames are UNKNOWN.
  for (const f of frames) assert.equal(f.info, f.zero ? RX_CHECKSUM_VALID : RX_CHECKSUM_UNKNOWN);
  a.close(), inj.close();
  // Transmit corruption: the memory device stops vouching for what it sends.
  const [c, d] = MemoryLink.pair();
  new FaultInjector(c, { seed: 1, tx: { corrupt: 0.01 } });
  assert.equal(c.intactTransmit, false);
  assert.equal(d.intactTransmit, true);
  c.close(), d.close();
});

/**
 * A device with checksum and segmentation offload over a memory link whose
 * frames may be 64 KiB: transmitOffload completes the partial checksum (of a
 * whole super-segment too, which then arrives as one large segment, as GRO
 * would deliver it) and records the requests.
 */
class OffloadDevice extends OffloadTestDevice {
  offloaded = 0;
  superFrames = 0;
  largestFrame = 0;
  readonly gsoSizes = new Set<number>();
  badPseudoHeader = 0;
  override transmitOffload(
    bytes: Uint8Array,
    offset: number,
    length: number,
    csumStart: number,
    csumOffset: number,
    gsoSize: number,
  ): boolean {
    this.offloaded++;
    if (gsoSize > 0) {
      this.superFrames++;
      this.gsoSizes.add(gsoSize);
    }
    this.largestFrame = Math.max(this.largestFrame, length);
    assert.equal(csumStart, 34);
    assert.equal(csumOffset, 16);
    completePartialChecksum(bytes, offset + csumStart, length - csumStart, csumOffset);
    // The IPv4 total length covers the whole super-segment (what the kernel expects for GSO).
    const total = (bytes[offset + 16] << 8) | bytes[offset + 17];
    if (total > length - 14) this.badPseudoHeader++;
    const ip = offset + 14;
    const src = ((bytes[ip + 12] << 24) | (bytes[ip + 13] << 16) | (bytes[ip + 14] << 8) |
      bytes[ip + 15]) >>> 0;
    const dst = ((bytes[ip + 16] << 24) | (bytes[ip + 17] << 16) | (bytes[ip + 18] << 8) |
      bytes[ip + 19]) >>> 0;
    if (!new TcpPacket(bytes, ip + 20, total - 20).verifyChecksum(src, dst)) {
      this.badPseudoHeader++;
    }
    return this.inner.transmit(bytes, offset, length);
  }
}

/** The payloads of these tests. */
const PATTERN_SEED = 12345;

/** rawstack A (offload device) sends `data` to B (verifies every checksum); `midway` runs halfway. */
async function bulkOverOffload(
  data: Uint8Array,
  midway: (a: Stack) => void = () => {},
): Promise<{ got: Uint8Array; dev: OffloadDevice; a: Stack; b: Stack }> {
  const [ma, mb] = offloadLinkPair();
  const dev = new OffloadDevice(ma);
  const a = new Stack({ device: dev, ipv4: `${A}/24` });
  const b = new Stack({ device: mb, ipv4: `${B}/24`, mtu: 1500, verifyChecksums: "always" });
  const got = await bulkAToB(a, b, B, data, midway);
  return { got, dev, a, b };
}

Deno.test("TCP sends super-segments of whole MSS through transmitOffload, byte-exact, valid checksums", async () => {
  const data = pattern(3 << 20, PATTERN_SEED);
  const { got, dev, a, b } = await bulkOverOffload(data);
  assert.equal(got.length, data.length);
  assert.deepEqual(got, data);
  assert.ok(dev.superFrames > 10, `super-frames sent: ${dev.superFrames}`);
  assert.deepEqual([...dev.gsoSizes], [1448]); // MSS 1460 − 12 bytes of timestamps
  assert.ok(dev.largestFrame > 60_000 && dev.largestFrame <= OFFLOAD_MAX_FRAME);
  assert.equal(dev.badPseudoHeader, 0);
  assert.equal(b.stats().tcp.malformed, 0);
  assert.ok(a.iface.stats.txOffloaded > dev.superFrames); // ACK-only and short segments too
  // Only the SYN, sent while ARP resolved the peer, had its checksum completed in software.
  assert.equal(a.iface.stats.txOffloadSoftware, 1);
});

Deno.test("TCP super-segments are cut in software while the next hop is not resolved", async () => {
  const data = pattern(1 << 20, PATTERN_SEED);
  const { got, a, b } = await bulkOverOffload(data, (s) => s.iface.arp.clear());
  assert.deepEqual(got, data);
  // More than the SYN (sent before ARP resolved): super-segments went through the fallback.
  assert.ok(a.iface.stats.txOffloadSoftware > 1, "software fallback used");
  assert.equal(b.stats().tcp.malformed, 0);
});

Deno.test("MemoryLink checksumOffload: partial checksums are completed on receive, or trusted as PARTIAL", async () => {
  // Stack a trusts device checksums (receives PARTIAL); b verifies everything (its device
  // completes the partial checksums first). Both send with partial checksums.
  const [ma, mb] = MemoryLink.pair({ checksumOffload: true });
  const a = new Stack({ device: ma, ipv4: `${A}/24` });
  const b = new Stack({ device: mb, ipv4: `${B}/24`, verifyChecksums: "always" });
  assert.equal(ma.completeRxChecksums, false);
  assert.equal(mb.completeRxChecksums, true);
  assert.ok(a.iface.txOffloads.checksum && a.iface.txOffloads.gsoMaxBytes === 0);
  await a.start();
  await b.start();
  try {
    const listener = b.listen({ port: 9001 });
    const accepting = listener.accept();
    const client = await a.connect({ hostname: B, port: 9001 });
    const server = await accepting;
    const up = pattern(200_000, PATTERN_SEED);
    const reading = readAll(server);
    await client.write(up);
    await client.closeWrite();
    assert.deepEqual(await reading, up);
    const down = pattern(100_000, PATTERN_SEED).reverse();
    const back = readAll(client);
    await server.write(down);
    await server.closeWrite();
    assert.deepEqual(await back, down);
    assert.ok(a.iface.stats.txOffloaded > 0 && b.iface.stats.txOffloaded > 0);
    assert.equal(a.stats().tcp.malformed + b.stats().tcp.malformed, 0);
    client.close();
    server.close();
    listener.close();
  } finally {
    await a.close();
    await b.close();
  }
  // Without the option the device refuses offload requests.
  const [c, d] = MemoryLink.pair();
  assert.equal(c.transmitOffload(new Uint8Array(60), 0, 60, 34, 16, 0), false);
  c.close(), d.close();
});
