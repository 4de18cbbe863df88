import assert from "node:assert/strict";
import { NetworkInterface } from "../../src/iface/interface.ts";
import { BufferPool } from "../../src/buffer/buffer_pool.ts";
import type { IpProtocolHandler } from "../../src/iface/types.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import type { Device, FrameSink } from "../../src/phy/device.ts";
import { parseIpv4 } from "../../src/wire/address.ts";
import {
  arpPacket,
  ethFrame,
  IP_A,
  IP_B,
  ipv4Packet,
  MAC_A,
  MAC_B,
  parseArp,
  parseEth,
  pattern,
  RecordingDevice,
  tsharkProblems,
} from "./_helpers.ts";

/** Wraps a device and records a copy of every frame it transmits. */
class Tap implements Device {
  frames: Uint8Array[] = [];
  constructor(readonly inner: Device) {}
  get capabilities() {
    return this.inner.capabilities;
  }
  get stats() {
    return this.inner.stats;
  }
  receive(sink: FrameSink, budget: number) {
    return this.inner.receive(sink, budget);
  }
  transmit(bytes: Uint8Array, offset: number, length: number) {
    this.frames.push(bytes.slice(offset, offset + length));
    return this.inner.transmit(bytes, offset, length);
  }
  flush() {
    this.inner.flush();
  }
  wait(ms: number) {
    return this.inner.wait(ms);
  }
  close() {
    this.inner.close();
  }
}

function pair(optsA = {}, optsB = {}) {
  const [ma, mb] = MemoryLink.pair({ macA: MAC_A, macB: MAC_B });
  const da = new Tap(ma);
  const db = new Tap(mb);
  const a = new NetworkInterface(da, { ipv4: "192.0.2.10/24", ...optsA });
  const b = new NetworkInterface(db, { ipv4: "192.0.2.11/24", ...optsB });
  /** Drives both hosts from t0 to t1 in 1 ms steps. */
  const run = (t0: number, t1: number, until: () => boolean = () => false) => {
    for (let t = t0; t <= t1; t++) {
      da.receive(a.at(t), 256);
      db.receive(b.at(t), 256);
      a.poll(t);
      b.poll(t);
      if (until()) return t;
    }
    return t1;
  };
  const close = () => {
    a.close();
    b.close();
    ma.close();
    mb.close();
  };
  return { a, b, da, db, run, close };
}

Deno.test("NetworkInterface pair: gratuitous ARP at start, then both learn each other", async () => {
  const { a, b, da, db, run, close } = pair();
  try {
    a.start(0);
    b.start(0);
    const ann = parseArp(parseEth(da.frames[0]).payload);
    assert.deepEqual([ann.op, ann.spa, ann.tpa], [1, IP_A, IP_A]);
    assert.equal(parseEth(da.frames[0]).dst, 0xffff_ffff_ffff);
    run(0, 1);
    // Announcements target the sender itself, so nobody learns from them (RFC 826 merge rule).
    assert.equal(a.arp.size, 0);
    const ping = a.ping(2, "192.0.2.11", { count: 1 });
    run(2, 50, () => ping.done);
    assert.equal(ping.engine.summary().received, 1);
    assert.equal(a.arp.lookup(10, IP_B), MAC_B);
    assert.equal(b.arp.lookup(10, IP_A), MAC_A, "learned from the request addressed to it");
    assert.equal(b.arp.stats.repliesSent, 1);
    assert.equal(a.arp.list(10)[0].state, "reachable");
    const problems = await tsharkProblems([...da.frames, ...db.frames]);
    if (problems !== null) assert.deepEqual(problems, []);
  } finally {
    close();
  }
});

Deno.test("NetworkInterface pair: a 4000-byte ping fragments both ways and is answered", async () => {
  const { a, b, da, db, run, close } = pair();
  try {
    const ping = a.ping(0, IP_B, { count: 3, size: 4000, intervalMs: 10, timeoutMs: 100 });
    run(0, 200, () => ping.done);
    const s = ping.engine.summary();
    assert.deepEqual([s.transmitted, s.received, s.lossPercent], [3, 3, 0]);
    assert.ok(ping.engine.replies.every((r) => r.bytes === 4000));
    assert.equal(b.ipv4.stats.rxReassembled, 3);
    assert.equal(a.ipv4.stats.rxReassembled, 3);
    assert.equal(a.ipv4.stats.txFragments, 9);
    assert.equal(b.ipv4.stats.txFragments, 9);
    assert.equal(b.icmp.stats.txEchoReplies, 3);
    assert.equal(a.pool.inUse, 0);
    assert.equal(b.pool.inUse, 0);
    assert.ok(da.frames.every((f) => f.length <= 1514));
    const problems = await tsharkProblems([...da.frames, ...db.frames]);
    if (problems !== null) assert.deepEqual(problems, []);
  } finally {
    close();
  }
});

Deno.test("NetworkInterface ping to a silent host fails after 3 ARP requests", () => {
  const { a, da, run, close } = pair();
  const unreachable: number[] = [];
  a.onHostUnreachable = (_now, ip) => unreachable.push(ip);
  try {
    const dst = parseIpv4("192.0.2.99")!;
    const ping = a.ping(0, dst, { count: 1, timeoutMs: 5000 });
    const t = run(0, 6000, () => ping.done);
    const requests = da.frames.map((f) => parseEth(f)).filter((e) => e.type === 0x0806);
    assert.equal(requests.length, 3);
    assert.equal(t, 3000, "failed 1 s after the third request");
    assert.deepEqual(unreachable, [dst]);
    const s = ping.engine.summary();
    assert.deepEqual([s.received, s.errors], [0, 1]);
    assert.equal(a.pool.inUse, 0, "queued echo request freed");
  } finally {
    close();
  }
});

Deno.test("NetworkInterface tells the transport 'host unreachable' when ARP fails", () => {
  const dev = new RecordingDevice(MAC_A);
  const iface = new NetworkInterface(dev, { ipv4: "192.0.2.10/24" });
  const errors: number[][] = [];
  const udp: IpProtocolHandler = {
    onPacket() {},
    onIcmpError(_now, type, code, _mtu, quoted, off, len) {
      errors.push([type, code, quoted[off + 9], len]);
    },
  };
  iface.registerProtocol(17, udp);
  iface.poll(0);
  const buf = iface.allocate()!;
  buf.append(12);
  assert.ok(iface.send(buf, IP_B, 17));
  for (let t = 0; t <= 3000; t += 500) iface.poll(t);
  assert.deepEqual(errors, [[3, 1, 17, 28]]);
  assert.equal(iface.stats.hostUnreachable, 1);
  assert.equal(iface.pool.inUse, 0);
});

Deno.test("NetworkInterface queues packets during resolution and sends them on the reply", () => {
  const dev = new RecordingDevice(MAC_A);
  const iface = new NetworkInterface(dev, { ipv4: "192.0.2.10/24" });
  iface.poll(0);
  for (let i = 0; i < 3; i++) {
    const buf = iface.allocate()!;
    buf.bytes[buf.append(1)] = i;
    iface.send(buf, IP_B, 17);
  }
  assert.equal(dev.take().length, 1, "only the ARP request");
  const reply = ethFrame(MAC_A, MAC_B, 0x0806, arpPacket(2, MAC_B, IP_B, MAC_A, IP_A));
  iface.receiveFrame(5, reply, 0, reply.length);
  const frames = dev.take().map(parseEth);
  assert.equal(frames.length, 3);
  assert.ok(frames.every((f) => f.dst === MAC_B && f.type === 0x0800));
  assert.deepEqual(frames.map((f) => f.payload[20]), [0, 1, 2]);
});

Deno.test("NetworkInterface filters frames by MAC, EtherType and VLAN and counts each", () => {
  const dev = new RecordingDevice(MAC_A);
  const iface = new NetworkInterface(dev, { ipv4: "192.0.2.10/24" });
  let delivered = 0;
  iface.registerProtocol(17, { onPacket: () => delivered++ });
  const ip = ipv4Packet({ src: IP_B, dst: IP_A, protocol: 17, payload: pattern(8) });
  const rx = (f: Uint8Array) => iface.receiveFrame(0, f, 0, f.length);
  rx(new Uint8Array(13));
  rx(ethFrame(0x020000000099, MAC_B, 0x0800, ip));
  rx(ethFrame(0x01005e000005, MAC_B, 0x0800, ip));
  rx(ethFrame(MAC_A, 0x01005e000005, 0x0800, ip));
  rx(ethFrame(MAC_A, MAC_A, 0x0800, ip));
  rx(ethFrame(MAC_A, MAC_B, 0x86dd, ip));
  const tagged = new Uint8Array(4 + ip.length);
  tagged.set([0x00, 0x05, 0x08, 0x00]);
  tagged.set(ip, 4);
  rx(ethFrame(MAC_A, MAC_B, 0x8100, tagged));
  const s = iface.stats;
  assert.deepEqual(
    [
      s.rxTooShort,
      s.rxOtherHost,
      s.rxMulticastFiltered,
      s.rxBadSource,
      s.rxUnknownEthertype,
      s.rxVlanDropped,
    ],
    [1, 1, 1, 2, 1, 1],
  );
  assert.equal(delivered, 0);
  rx(ethFrame(0xffff_ffff_ffff, MAC_B, 0x0800, ip));
  rx(ethFrame(MAC_A, MAC_B, 0x0800, ip));
  assert.equal(delivered, 2);
  assert.equal(s.rxFrames, 9);
});

Deno.test("NetworkInterface with a VLAN id accepts its tag and tags what it sends", () => {
  const dev = new RecordingDevice(MAC_A);
  const iface = new NetworkInterface(dev, { ipv4: "192.0.2.10/24", vlanId: 5 });
  let delivered = 0;
  iface.registerProtocol(17, { onPacket: () => delivered++ });
  const ip = ipv4Packet({ src: IP_B, dst: IP_A, protocol: 17, payload: pattern(8) });
  const tagged = (vid: number) => {
    const t = new Uint8Array(4 + ip.length);
    t.set([0x00, vid, 0x08, 0x00]);
    t.set(ip, 4);
    return ethFrame(MAC_A, MAC_B, 0x8100, t);
  };
  for (const f of [tagged(5), tagged(6), ethFrame(MAC_A, MAC_B, 0x0800, ip)]) {
    iface.receiveFrame(0, f, 0, f.length);
  }
  assert.equal(delivered, 1);
  assert.equal(iface.stats.rxVlanDropped, 2);
  iface.start(0);
  const [f] = dev.take();
  assert.deepEqual([...f.subarray(12, 18)], [0x81, 0x00, 0x00, 0x05, 0x08, 0x06]);
});

Deno.test("NetworkInterface rejects an MTU above the device's", () => {
  assert.throws(
    () =>
      new NetworkInterface(new RecordingDevice(MAC_A, 1500), { ipv4: "192.0.2.10/24", mtu: 9000 }),
    TypeError,
  );
});

Deno.test("NetworkInterface nextDeadline reflects ARP retries and reassembly", () => {
  const dev = new RecordingDevice(MAC_A);
  const iface = new NetworkInterface(dev, { ipv4: "192.0.2.10/24" });
  assert.equal(iface.nextDeadline(), Infinity);
  iface.poll(100);
  const buf = iface.allocate()!;
  buf.append(1);
  iface.send(buf, IP_B, 17);
  assert.equal(iface.nextDeadline(), 1100);
  const frag = ipv4Packet({ src: IP_B, dst: IP_A, protocol: 17, mf: true, payload: pattern(8) });
  const f = ethFrame(MAC_A, MAC_B, 0x0800, frag);
  iface.receiveFrame(200, f, 0, f.length);
  iface.close();
  assert.equal(iface.pool.inUse, 0);
  assert.equal(iface.nextDeadline(), Infinity);
});

Deno.test("NetworkInterface sends time exceeded when reassembly times out", () => {
  const dev = new RecordingDevice(MAC_A);
  const iface = new NetworkInterface(dev, { ipv4: "192.0.2.10/24" });
  iface.arp.learn(0, IP_B, MAC_B);
  const frag = ipv4Packet({ src: IP_B, dst: IP_A, protocol: 17, mf: true, payload: pattern(16) });
  const f = ethFrame(MAC_A, MAC_B, 0x0800, frag);
  iface.receiveFrame(0, f, 0, f.length);
  iface.poll(30_000);
  const [out] = dev.take().map(parseEth);
  assert.deepEqual([out.payload[9], out.payload[20], out.payload[21]], [1, 11, 1]);
});

Deno.test("NetworkInterface sends ARP from the pool's reserve and holds at most a quarter of the pool behind ARP", () => {
  const dev = new RecordingDevice(MAC_A);
  const pool = new BufferPool({ slots: 16, reserved: 2 });
  const iface = new NetworkInterface(dev, { ipv4: "192.0.2.10/24", pool });
  // Replies to 8 absent neighbours: at most 16 / 4 = 4 packets wait.
  for (let n = 0; n < 8; n++) {
    const buf = iface.allocate()!;
    buf.append(8);
    iface.send(buf, (0xc0000264 + n) | 0, 17);
  }
  assert.equal(iface.arp.stats.pendingPackets, 4);
  assert.equal(iface.arp.stats.pendingDroppedGlobal, 4);
  assert.equal(pool.inUse, 4);
  // Ordinary users take every other ordinary slot; ARP still goes out, from the reserve.
  const held = [];
  for (let b = pool.alloc(); b !== null; b = pool.alloc()) held.push(b);
  assert.equal(pool.available, 2);
  dev.take();
  const request = arpPacket(1, MAC_B, IP_B, 0, IP_A);
  const frame = ethFrame(0xffff_ffff_ffff, MAC_B, 0x0806, request);
  iface.receiveFrame(1, frame, 0, frame.length);
  const out = dev.take().map(parseEth);
  assert.equal(out.length, 1);
  assert.equal(parseArp(out[0].payload).op, 2, "the ARP reply went out");
  assert.equal(iface.stats.txControlReserve, 1);
  assert.equal(iface.stats.txNoBuffer, 0);
  assert.equal(pool.reservedAllocations, 1);
  for (const b of held) pool.free(b);
  iface.close();
  assert.equal(pool.inUse, 0);
});

Deno.test("NetworkInterface never throws on random and mutated frames", () => {
  const dev = new RecordingDevice(MAC_A);
  const iface = new NetworkInterface(dev, { ipv4: "192.0.2.10/24", gateway: "192.0.2.1" });
  iface.registerProtocol(17, { onPacket: () => {} });
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const templates = [
    ethFrame(
      MAC_A,
      MAC_B,
      0x0800,
      ipv4Packet({ src: IP_B, dst: IP_A, protocol: 1, payload: pattern(40) }),
    ),
    ethFrame(
      MAC_A,
      MAC_B,
      0x0800,
      ipv4Packet({ src: IP_B, dst: IP_A, protocol: 17, mf: true, payload: pattern(64) }),
    ),
    ethFrame(0xffff_ffff_ffff, MAC_B, 0x0806, arpPacket(1, MAC_B, IP_B, 0, IP_A)),
  ];
  for (let i = 0; i < 3000; i++) {
    const f = templates[i % templates.length].slice(0, 14 + Math.floor(rand() * 80));
    for (let k = 0; k < 3; k++) {
      f[14 + Math.floor(rand() * (f.length - 14))] = Math.floor(rand() * 256);
    }
    iface.receiveFrame(i, f, 0, f.length);
    iface.poll(i);
  }
  iface.close();
  assert.equal(iface.stats.rxFrames, 3000);
  assert.equal(iface.pool.inUse, 0);
});
