import assert from "node:assert/strict";
import { ForwardingDevice } from "../../src/phy/forwarding_device.ts";
import {
  type Device,
  type DeviceCapabilities,
  GSO_ECN,
  GSO_TCPV4,
  GSO_UDP_L4,
  RX_CHECKSUM_PARTIAL,
  RX_CHECKSUM_VALID,
  type RxFrameInfo,
} from "../../src/phy/device.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import { ManualClock } from "../../src/time/clock.ts";
import { Stack } from "../../src/stack.ts";
import { IPV4_SOURCE_OFFSET, setIpv4Address } from "../../src/iface/hooks.ts";
import {
  A_IP,
  A_MAC,
  B_IP,
  B_MAC,
  get16,
  get32,
  ipChecksumOk,
  ipv4Packet,
  l4ChecksumOk,
  R0_MAC,
  R1_IP,
  R1_MAC,
  RawHost,
  sum16,
  tcp,
} from "./_router_helpers.ts";

const MSS = 1448;
const ETH = 14;
const PSH_ACK = 0x18;

/** The folded pseudo-header sum (not complemented): what a NEEDS_CSUM field holds. */
function pseudoSum(src: number, dst: number, protocol: number, length: number): number {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setInt32(0, src);
  v.setInt32(4, dst);
  b[9] = protocol;
  v.setUint16(10, length);
  return sum16(b, 0, 12);
}

/** A TCP datagram A → B of `segments` × MSS bytes, DF set, its TCP field as `field` says. */
function superDatagram(
  segments: number,
  field: "partial" | "garbage" | "complete",
  flags = PSH_ACK,
  dst = B_IP,
): Uint8Array {
  const data = new Uint8Array(segments * MSS).map((_, i) => (i * 7 + 3) & 0xff);
  const seg = tcp(A_IP, dst, 40000, 80, flags, data, 5000);
  if (field === "partial") {
    const s = pseudoSum(A_IP, dst, 6, seg.length);
    seg[16] = s >>> 8;
    seg[17] = s & 0xff;
  } else if (field === "garbage") {
    seg[16] = 0x12;
    seg[17] = 0x34;
  }
  return ipv4Packet({ src: A_IP, dst, protocol: 6, payload: seg, df: true, id: 0x100 });
}

/** The ingress side: reports the offload metadata a test injects (a kernel's virtio_net_hdr). */
class InjectingDevice extends ForwardingDevice {
  info: RxFrameInfo | null = null;
  override get rxInfo(): RxFrameInfo | undefined {
    return this.info ?? this.inner.rxInfo;
  }
}

/** One `transmitOffload` call as the egress device saw it. */
interface OffloadCall {
  frame: Uint8Array;
  csumStart: number;
  csumOffset: number;
  gsoSize: number;
}

/** The egress side: a device with checksum offload and GSO that records what it is handed. */
class OffloadDevice extends ForwardingDevice {
  readonly calls: OffloadCall[] = [];
  readonly #caps: DeviceCapabilities;
  constructor(inner: Device, gso: boolean) {
    super(inner);
    this.#caps = {
      ...inner.capabilities,
      checksumOffloadTx: true,
      gso,
      maxSegmentBytes: gso ? ETH + 0xffff : inner.capabilities.mtu + ETH,
    };
  }
  override get capabilities(): DeviceCapabilities {
    return this.#caps;
  }
  override transmitOffload(
    bytes: Uint8Array,
    offset: number,
    length: number,
    csumStart: number,
    csumOffset: number,
    gsoSize: number,
  ): boolean {
    this.calls.push({
      frame: bytes.slice(offset, offset + length),
      csumStart,
      csumOffset,
      gsoSize,
    });
    return true;
  }
}

interface GsoTopologyOptions {
  /** The egress device offers checksum offload (and GSO with `gso`); else a plain memory link. */
  offload?: boolean;
  gso?: boolean;
  mtuB?: number;
  masquerade?: boolean;
}

/** A — router — B with an injecting ingress device and (maybe) an offloading egress device. */
async function gsoTopology(opts: GsoTopologyOptions = {}) {
  const clock = new ManualClock(1000);
  // A's link carries super-frames: room for 64 KiB frames in the memory link's slots.
  const [r0, a0] = MemoryLink.pair({ macA: R0_MAC, macB: A_MAC, mtu: 0xffff });
  const [r1, b1] = MemoryLink.pair({ macA: R1_MAC, macB: B_MAC, mtu: opts.mtuB ?? 1500 });
  const ingress = new InjectingDevice(r0);
  const egress = opts.offload ? new OffloadDevice(r1, opts.gso === true) : null;
  const router = new Stack({
    interfaces: [
      { device: ingress, ipv4: "198.51.100.1/24", mtu: 1500 },
      { device: egress ?? r1, ipv4: "203.0.113.1/24", masquerade: opts.masquerade },
    ],
    forwarding: true,
    clock,
  });
  await router.start();
  const a = new RawHost(a0, A_MAC, A_IP);
  const b = new RawHost(b1, B_MAC, B_IP);
  const settle = () => {
    for (let i = 0; i < 100; i++) {
      if (router.poll() + a.pump() + b.pump() === 0) return;
    }
  };
  /** Sends `p` from A with the metadata `info` (cleared afterwards). */
  const sendFromA = (p: Uint8Array, info: Partial<RxFrameInfo> | null) => {
    a.send(p, R0_MAC);
    ingress.info = info === null ? null : {
      checksum: 0,
      csumStart: 0,
      csumOffset: 0,
      gsoType: 0,
      gsoSize: 0,
      headerLength: 0,
      ...info,
    };
    settle();
    ingress.info = null;
  };
  /** Resolves B's MAC with one small datagram, so later frames leave without a copy. */
  const warmUp = () => {
    sendFromA(
      ipv4Packet({ src: A_IP, dst: B_IP, protocol: 6, payload: tcp(A_IP, B_IP, 1, 2, 0x10) }),
      null,
    );
    b.take();
    egress?.calls.splice(0);
  };
  const close = async () => {
    await router.close();
    a0.close();
    b1.close();
  };
  return { router, a, b, egress, settle, sendFromA, warmUp, close };
}

const PARTIAL_TSO: Partial<RxFrameInfo> = {
  checksum: RX_CHECKSUM_PARTIAL,
  csumStart: ETH + 20,
  csumOffset: 16,
  gsoType: GSO_TCPV4,
  gsoSize: MSS,
  headerLength: ETH + 40,
};

/** Completes a NEEDS_CSUM TCP/UDP checksum on a copy of `datagram` (as the device would). */
function completed(datagram: Uint8Array, field = 16): Uint8Array {
  const p = datagram.slice();
  const hl = (p[0] & 15) << 2;
  const ck = ~sum16(p, hl, p.length) & 0xffff;
  p[hl + field] = ck >>> 8;
  p[hl + field + 1] = ck & 0xff;
  return p;
}

Deno.test("Router forwards a TCP super-frame whole: GSO request out, TTL − 1, header checksum right, partial sum kept", async () => {
  const t = await gsoTopology({ offload: true, gso: true });
  try {
    t.warmUp();
    const p = superDatagram(3, "partial", PSH_ACK | GSO_ECN_CWR);
    t.sendFromA(p, { ...PARTIAL_TSO, gsoType: GSO_TCPV4 | GSO_ECN });
    assert.equal(t.b.take().length, 0); // not sent plainly
    const calls = t.egress!.calls;
    assert.equal(calls.length, 1);
    const c = calls[0];
    assert.equal(c.gsoSize, MSS);
    assert.equal(c.csumStart, ETH + 20);
    assert.equal(c.csumOffset, 16);
    assert.equal(c.frame.length, ETH + p.length);
    const out = c.frame.subarray(ETH);
    assert.equal(out[8], 63);
    assert.ok(ipChecksumOk(out));
    assert.equal(get16(out, 2), p.length); // one datagram, not cut
    assert.equal(out[33] & GSO_ECN_CWR, GSO_ECN_CWR); // CWR kept: the device asks for GSO_ECN
    assert.equal(get16(out, 20 + 16), get16(p, 20 + 16)); // the pseudo-header sum as it came
    assert.ok(l4ChecksumOk(completed(out)));
    const f = t.router.stats().router!.forward;
    assert.equal(f.superFrames, 1);
    assert.equal(f.fragNeeded, 0);
    assert.equal(f.zeroCopy, 1); // from the receive buffer (the warm-up waited for ARP)
  } finally {
    await t.close();
  }
});

/** TCP CWR flag. */
const GSO_ECN_CWR = 0x80;

Deno.test("Router gives a GRO super-frame (DATA_VALID) the pseudo-header sum before handing it on as NEEDS_CSUM", async () => {
  const t = await gsoTopology({ offload: true, gso: true });
  try {
    t.warmUp();
    const p = superDatagram(4, "garbage");
    t.sendFromA(p, { checksum: RX_CHECKSUM_VALID, gsoType: GSO_TCPV4, gsoSize: MSS });
    const c = t.egress!.calls[0];
    assert.equal(c.gsoSize, MSS);
    assert.equal(c.csumStart, ETH + 20);
    const out = c.frame.subarray(ETH);
    assert.equal(get16(out, 36), pseudoSum(A_IP, B_IP, 6, p.length - 20));
    assert.ok(l4ChecksumOk(completed(out)));
  } finally {
    await t.close();
  }
});

Deno.test("Router checks a super-frame against the next MTU by gso_size + headers, not its length", async () => {
  const t = await gsoTopology({ offload: true, gso: true, mtuB: 1280 });
  try {
    t.warmUp();
    // Segments of 1200 + 40 bytes fit 1280: forwarded whole although 4840 bytes long.
    const fits = superDatagram(4, "partial");
    t.sendFromA(fits, { ...PARTIAL_TSO, gsoSize: 1200 });
    assert.equal(t.egress!.calls.length, 1);
    assert.equal(t.egress!.calls[0].gsoSize, 1200);
    assert.equal(t.a.take().length, 0);
    // Segments of 1448 + 40 do not: fragmentation needed with the next hop's MTU (DF set).
    t.sendFromA(superDatagram(2, "partial"), PARTIAL_TSO);
    assert.equal(t.egress!.calls.length, 1);
    const icmp = t.a.take();
    assert.equal(icmp.length, 1);
    assert.equal(icmp[0][20], 3);
    assert.equal(icmp[0][21], 4);
    assert.equal(get16(icmp[0], 26), 1280);
    const f = t.router.stats().router!.forward;
    assert.equal(f.superFrames, 1);
    assert.equal(f.fragNeeded, 1);
  } finally {
    await t.close();
  }
});

Deno.test("Router cuts a super-frame into checksummed segments when the egress device has no GSO", async () => {
  const t = await gsoTopology({ offload: false });
  try {
    t.warmUp();
    const p = superDatagram(3, "partial", PSH_ACK | 0x01 /* FIN */ | GSO_ECN_CWR);
    t.sendFromA(p, PARTIAL_TSO);
    const got = t.b.take();
    assert.equal(got.length, 3);
    let data = 0;
    got.forEach((s, i) => {
      assert.ok(ipChecksumOk(s));
      assert.ok(l4ChecksumOk(s));
      assert.equal(s[8], 63);
      assert.equal(get16(s, 2), 40 + MSS);
      assert.equal(get16(s, 4), 0x100 + i); // identification + i
      assert.equal(get32(s, 24) >>> 0, 5000 + i * MSS);
      const flags = s[33];
      assert.equal((flags & 0x09) !== 0, i === 2); // FIN/PSH on the last only
      assert.equal((flags & 0x80) !== 0, i === 0); // CWR on the first only
      assert.deepEqual(s.subarray(40), p.subarray(40 + i * MSS, 40 + (i + 1) * MSS));
      data += s.length - 40;
    });
    assert.equal(data, 3 * MSS);
    const f = t.router.stats().router!.forward;
    assert.equal(f.superFramesSegmented, 1);
    assert.equal(f.superFrames, 0);
  } finally {
    await t.close();
  }
});

Deno.test("Router forwards a NEEDS_CSUM frame as one, or completes it for a device without checksum offload", async () => {
  const small = ipv4Packet({
    src: A_IP,
    dst: B_IP,
    protocol: 6,
    payload: (() => {
      const s = tcp(A_IP, B_IP, 40000, 80, PSH_ACK, new Uint8Array(100).fill(9));
      const ph = pseudoSum(A_IP, B_IP, 6, s.length);
      s[16] = ph >>> 8;
      s[17] = ph & 0xff;
      return s;
    })(),
    df: true,
  });
  const info = { checksum: RX_CHECKSUM_PARTIAL, csumStart: ETH + 20, csumOffset: 16 };
  const off = await gsoTopology({ offload: true, gso: true });
  try {
    off.warmUp();
    off.sendFromA(small, info);
    const c = off.egress!.calls[0];
    assert.equal(c.gsoSize, 0);
    assert.equal(c.csumStart, ETH + 20);
    assert.ok(l4ChecksumOk(completed(c.frame.subarray(ETH, ETH + small.length))));
    assert.equal(off.router.stats().router!.forward.checksumOffloaded, 1);
  } finally {
    await off.close();
  }
  const plain = await gsoTopology({ offload: false });
  try {
    plain.warmUp();
    plain.sendFromA(small, info);
    const got = plain.b.take();
    assert.equal(got.length, 1);
    assert.ok(l4ChecksumOk(got[0])); // completed here: B needs a whole checksum
    assert.equal(plain.router.stats().router!.forward.checksumsCompleted, 1);
  } finally {
    await plain.close();
  }
});

Deno.test("Router NAT on NEEDS_CSUM frames: the pseudo-header sum follows the new address, ports leave it alone", async () => {
  const t = await gsoTopology({ offload: true, gso: true, masquerade: true });
  try {
    t.warmUp();
    const p = superDatagram(2, "partial");
    t.sendFromA(p, PARTIAL_TSO);
    const c = t.egress!.calls[0];
    assert.equal(c.gsoSize, MSS);
    const out = c.frame.subarray(ETH);
    assert.equal(get32(out, 12), R1_IP);
    assert.ok(ipChecksumOk(out));
    // The field is the pseudo-header sum of the translated datagram; completed, it is right.
    assert.equal(get16(out, 36), pseudoSum(R1_IP, B_IP, 6, p.length - 20));
    assert.ok(l4ChecksumOk(completed(out)));
    assert.equal(t.router.stats().router!.nat.translatedOut >= 2, true);
  } finally {
    await t.close();
  }
  // Without checksum offload on the egress device the translated frame leaves complete.
  const plain = await gsoTopology({ offload: false, masquerade: true });
  try {
    plain.warmUp();
    plain.sendFromA(superDatagram(1, "partial"), PARTIAL_TSO);
    const got = plain.b.take();
    assert.equal(got.length, 1);
    assert.equal(get32(got[0], 12), R1_IP);
    assert.ok(l4ChecksumOk(got[0]));
  } finally {
    await plain.close();
  }
});

Deno.test("Router hooks see checksumPartial; bad offload metadata is dropped and counted", async () => {
  const t = await gsoTopology({ offload: true, gso: true });
  const seen: boolean[] = [];
  t.router.router!.addHook("forward", (pkt) => {
    seen.push(pkt.checksumPartial);
    return "accept";
  });
  try {
    t.warmUp();
    t.sendFromA(superDatagram(2, "partial"), PARTIAL_TSO);
    // A UDP segmentation type on a TCP datagram: not forwarded as it stands.
    t.sendFromA(superDatagram(2, "partial"), { ...PARTIAL_TSO, gsoType: GSO_UDP_L4 });
    assert.deepEqual(seen, [false, true]);
    const f = t.router.stats().router!.forward;
    assert.equal(f.badOffload, 1);
    assert.equal(f.superFrames, 1);
  } finally {
    await t.close();
  }
});

Deno.test("setIpv4Address with partial updates a pseudo-header sum as a plain sum", () => {
  const seg = tcp(A_IP, B_IP, 1, 2, 0x10, new Uint8Array(10));
  const ph = pseudoSum(A_IP, B_IP, 6, seg.length);
  seg[16] = ph >>> 8;
  seg[17] = ph & 0xff;
  const p = ipv4Packet({ src: A_IP, dst: B_IP, protocol: 6, payload: seg });
  setIpv4Address(p, 0, p.length, IPV4_SOURCE_OFFSET, R1_IP, true);
  assert.ok(ipChecksumOk(p));
  assert.equal(get16(p, 36), pseudoSum(R1_IP, B_IP, 6, seg.length));
});
