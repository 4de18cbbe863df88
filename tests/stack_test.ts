import assert from "node:assert/strict";
import { Stack, StackClosedError } from "../src/stack.ts";
import { MemoryHub, MemoryLink } from "../src/phy/memory_link.ts";
import type { Device } from "../src/phy/device.ts";
import { ForwardingDevice } from "./phy/_forwarding_device.ts";
import { FaultInjector } from "../src/phy/fault_injector.ts";
import { ManualClock } from "../src/time/clock.ts";
import { DnsError } from "../src/dns/dns_error.ts";
import { Timer } from "../src/time/timer_wheel.ts";
import { formatIpv4, parseIpv4, readMac } from "../src/wire/address.ts";
import { A_ADDR, B_ADDR, pattern, serveDns, stackPair, until } from "./lab/_helpers.ts";

const encoder = new TextEncoder();

/** Manual-clock pair: no event loop; `step(ms)` advances time and polls both until quiet. */
function manualPair(optsA: Record<string, unknown> = {}) {
  const clock = new ManualClock(1000);
  const [da, db] = MemoryLink.pair();
  const a = new Stack({ device: da, ipv4: `${A_ADDR}/24`, clock, ...optsA });
  const b = new Stack({ device: db, ipv4: `${B_ADDR}/24`, clock });
  const settle = () => {
    for (let i = 0; i < 100; i++) if (a.poll() + b.poll() === 0) return;
  };
  const step = (ms: number) => {
    clock.advance(ms);
    settle();
  };
  return { clock, a, b, da, db, step, settle };
}

Deno.test("UDP sends read no clock for a resolved neighbour; a send that starts ARP does", async () => {
  class CountingClock extends ManualClock {
    reads = 0;
    override now(): number {
      this.reads++;
      return super.now();
    }
  }
  const clock = new CountingClock(1000);
  const [da, db] = MemoryLink.pair();
  const a = new Stack({ device: da, ipv4: `${A_ADDR}/24`, clock });
  const b = new Stack({ device: db, ipv4: `${B_ADDR}/24`, clock });
  const settle = () => {
    for (let i = 0; i < 100; i++) if (a.poll() + b.poll() === 0) return;
  };
  try {
    await a.start();
    await b.start();
    settle();
    const server = b.listenDatagram({ port: 7 });
    const client = a.listenDatagram({ port: 0 });
    // Time passes without the loop running: the resolution must be timed from now, not from
    // the last time the interface saw (its retry would otherwise be due at once).
    clock.advance(5000);
    await client.send(new Uint8Array([1]), { hostname: B_ADDR, port: 7 });
    const pending = a.arpTable().find((e) => e.ip === B_ADDR);
    assert.equal(pending?.state, "incomplete");
    assert.equal(pending?.ageMs, 0, "the ARP entry was created at the current time");
    settle();
    assert.equal((await server.receive())[0][0], 1);
    const before = clock.reads;
    for (let i = 0; i < 50; i++) {
      await client.send(new Uint8Array([2]), { hostname: B_ADDR, port: 7 });
    }
    assert.equal(clock.reads - before, 0, "resolved sends read no clock");
    settle();
    assert.equal(b.stats().udp.rxDatagrams, 51);
    assert.equal(a.stats().arp.requestsSent, 1);
  } finally {
    await a.close();
    await b.close();
  }
});

/** A device that counts flushes; with `batching` it tells the stack it gathers frames. */
class FlushCounter extends ForwardingDevice {
  flushes = 0;
  /** With batching: as if every send left a frame waiting (MemoryLink delivers at once). */
  pending = 1;
  readonly #batching: boolean;
  constructor(inner: Device, batching: boolean) {
    super(inner);
    this.#batching = batching;
  }
  override get txBatching(): boolean {
    return this.#batching;
  }
  override get txPending(): number {
    return this.#batching ? this.pending : 0;
  }
  override flush(): void {
    this.flushes++;
    this.inner.flush();
  }
}

/** Two running stacks, A over a {@link FlushCounter}, with ARP resolved and the loop parked. */
async function flushCountingPair(batching: boolean, wrap: (d: Device) => Device = (d) => d) {
  const [da, db] = MemoryLink.pair();
  const dev = new FlushCounter(da, batching);
  const a = new Stack({ device: wrap(dev), ipv4: `${A_ADDR}/24` });
  const b = new Stack({ device: db, ipv4: `${B_ADDR}/24` });
  await a.start();
  await b.start();
  const server = b.listenDatagram({ port: 7 });
  const client = a.listenDatagram({ port: 0 });
  await client.send(new Uint8Array([0]), { hostname: B_ADDR, port: 7 }); // resolves ARP
  await server.receive();
  const parks = a.stats().loop.parks;
  await until(() => a.stats().loop.parks > parks, "A's loop to park");
  const close = async () => {
    await a.close();
    await b.close();
  };
  return { dev, stack: a, server, client, close };
}

Deno.test("Sends in one event-loop turn to a batching device: the first is flushed at once, the rest at the turn's end", async () => {
  const { dev, server, client, close } = await flushCountingPair(true);
  try {
    const before = dev.flushes;
    for (let i = 1; i <= 20; i++) {
      await client.send(new Uint8Array([i]), { hostname: B_ADDR, port: 7 });
    }
    // Without a loop iteration in between, only the first of the burst flushed the device.
    assert.equal(dev.flushes - before, 1);
    for (let i = 1; i <= 20; i++) assert.equal((await server.receive())[0][0], i);
    // The turn's end (or the loop) flushes the rest.
    await until(() => dev.flushes - before >= 2, "the rest of the burst to be flushed");
  } finally {
    await close();
  }
});

Deno.test("A FaultInjector over a batching device keeps the stack's batching: one flush per burst", async () => {
  const { dev, stack, server, client, close } = await flushCountingPair(
    true,
    (d) => new FaultInjector(d, { seed: 1 }),
  );
  try {
    assert.equal(stack.device.txBatching, true);
    assert.equal(stack.device.txPending, 1);
    const before = dev.flushes;
    for (let i = 1; i <= 20; i++) {
      await client.send(new Uint8Array([i]), { hostname: B_ADDR, port: 7 });
    }
    assert.equal(dev.flushes - before, 1, "the injector passed the batching through");
    for (let i = 1; i <= 20; i++) assert.equal((await server.receive())[0][0], i);
  } finally {
    await close();
  }
});

Deno.test("An application call that queued no frame does not hold back the next send", async () => {
  // TcpConn.read() calls afterSend for a window update it may not send; the reply written next
  // must still be the turn's first send and leave at once (request/response latency).
  const { dev, stack, close } = await flushCountingPair(true);
  try {
    dev.pending = 0;
    stack.afterSend(); // a read() that sent nothing
    const before = dev.flushes;
    dev.pending = 1;
    stack.afterSend(); // the reply: flushed at once
    assert.equal(dev.flushes - before, 1, "the reply was flushed");
    stack.afterSend(); // a second frame in the same turn waits for the batch
    assert.equal(dev.flushes - before, 1);
  } finally {
    await close();
  }
});

Deno.test("A device that does not batch is flushed after every application send", async () => {
  const { dev, client, close } = await flushCountingPair(false);
  try {
    const before = dev.flushes;
    for (let i = 0; i < 5; i++) {
      await client.send(new Uint8Array([i]), { hostname: B_ADDR, port: 7 });
    }
    assert.equal(dev.flushes - before, 5);
  } finally {
    await close();
  }
});

Deno.test("Stack learns ARP both ways on first contact", async () => {
  const { a, b, close } = await stackPair();
  try {
    const r = await a.ping(B_ADDR, { count: 1 });
    assert.equal(r.summary.received, 1);
    const aTable = a.arpTable();
    const bTable = b.arpTable();
    const toB = aTable.find((e) => e.ip === B_ADDR);
    const toA = bTable.find((e) => e.ip === A_ADDR);
    assert.equal(toB?.state, "reachable");
    assert.equal(toB?.mac, "02:00:00:00:00:02");
    assert.equal(toA?.mac, "02:00:00:00:00:01");
  } finally {
    await close();
  }
});

Deno.test("Stack.ping reports RTTs and a ping(8) summary", async () => {
  const { a, close } = await stackPair();
  try {
    const r = await a.ping(B_ADDR, { count: 3, intervalMs: 5, timeoutMs: 1000 });
    assert.equal(r.address, B_ADDR);
    assert.equal(r.summary.transmitted, 3);
    assert.equal(r.summary.received, 3);
    assert.equal(r.summary.lossPercent, 0);
    assert.deepEqual(r.replies.map((x) => x.sequence), [0, 1, 2]);
    for (const x of r.replies) assert.ok(x.rttMs >= 0 && x.bytes === 56);
    assert.ok(r.summary.minMs <= r.summary.avgMs && r.summary.avgMs <= r.summary.maxMs);
  } finally {
    await close();
  }
});

Deno.test("Stack.ping with 4000-byte data fragments and reassembles both ways", async () => {
  const { a, b, close } = await stackPair();
  try {
    const r = await a.ping(B_ADDR, { count: 2, size: 4000, intervalMs: 1 });
    assert.equal(r.summary.received, 2);
    assert.equal(r.replies[0].bytes, 4000);
    const sa = a.stats();
    const sb = b.stats();
    assert.ok(sa.ipv4.txFragments >= 6, `a sent ${sa.ipv4.txFragments} fragments`);
    assert.ok(sb.ipv4.rxReassembled >= 2 && sa.ipv4.rxReassembled >= 2);
  } finally {
    await close();
  }
});

Deno.test("Stack.ping to a silent address counts every request as lost", async () => {
  const { a, close } = await stackPair({ arp: { retryIntervalMs: 20, maxRequests: 2 } });
  try {
    const r = await a.ping("192.0.2.77", { count: 2, intervalMs: 10, timeoutMs: 100 });
    assert.equal(r.summary.transmitted, 2);
    assert.equal(r.summary.received, 0);
    assert.equal(r.summary.lossPercent, 100);
  } finally {
    await close();
  }
});

Deno.test("Stack.ping resolves a host name through the hosts table", async () => {
  const { a, close } = await stackPair({ hosts: { "peer.test": [B_ADDR] } });
  try {
    const r = await a.ping("peer.test", { count: 1 });
    assert.equal(r.host, "peer.test");
    assert.equal(r.address, B_ADDR);
    assert.equal(r.summary.received, 1);
  } finally {
    await close();
  }
});

Deno.test("Stack.resolveDns asks a DNS server written on our UDP API, follows CNAMEs", async () => {
  const { a, b, close } = await stackPair({ dns: [B_ADDR] });
  try {
    const server = b.listenDatagram({ port: 53 });
    const log = serveDns(server, {
      "host.test": ["192.0.2.10", "192.0.2.11"],
      "www.test": ["cname:host.test"],
    });
    assert.deepEqual(await a.resolveDns("host.test", "A"), ["192.0.2.10", "192.0.2.11"]);
    assert.deepEqual(await a.resolveDns("WWW.test"), ["192.0.2.10", "192.0.2.11"]);
    // Cached: no new query.
    const before = log.queries;
    assert.deepEqual(await a.resolveDns("host.test"), ["192.0.2.10", "192.0.2.11"]);
    assert.equal(log.queries, before);
    assert.equal(a.stats().dns.cacheHits, 1);
  } finally {
    await close();
  }
});

Deno.test("Stack.resolveDns reports NXDOMAIN as a DnsError", async () => {
  const { a, b, close } = await stackPair({ dns: [B_ADDR] });
  try {
    serveDns(b.listenDatagram({ port: 53 }), { "host.test": ["192.0.2.10"] });
    await assert.rejects(
      a.resolveDns("nope.test"),
      (e: unknown) => e instanceof DnsError && e.code === "NXDOMAIN" && e.hostname === "nope.test",
    );
  } finally {
    await close();
  }
});

Deno.test("Stack.resolveDns times out against a silent server after the configured retries", async () => {
  const { a, b, close } = await stackPair({ dns: [B_ADDR], dnsTimeoutMs: 30, dnsAttempts: 3 });
  try {
    const log = serveDns(b.listenDatagram({ port: 53 }), {}, { silent: true });
    const t0 = performance.now();
    await assert.rejects(
      a.resolveDns("host.test"),
      (e: unknown) => e instanceof DnsError && e.code === "TIMEOUT",
    );
    assert.ok(performance.now() - t0 >= 80, "gave up before 3 × 30 ms");
    assert.equal(log.queries, 3);
  } finally {
    await close();
  }
});

Deno.test("Stack.resolveDns without a listening server fails fast with UNREACHABLE", async () => {
  const { a, close } = await stackPair({ dns: [B_ADDR], dnsTimeoutMs: 5000, dnsAttempts: 1 });
  try {
    await assert.rejects(
      a.resolveDns("host.test"),
      (e: unknown) => e instanceof DnsError && e.code === "UNREACHABLE",
    );
  } finally {
    await close();
  }
});

/** A device wrapper that records the destination MAC of every transmitted frame. */
class MacRecorder extends ForwardingDevice {
  readonly dstMacs: number[] = [];
  override transmit(bytes: Uint8Array, offset: number, length: number): boolean {
    this.dstMacs.push(readMac(bytes, offset));
    return this.inner.transmit(bytes, offset, length);
  }
}

Deno.test("Stack routes off-link traffic to the gateway's MAC and on-link traffic directly", async () => {
  const hub = new MemoryHub();
  const devA = new MacRecorder(hub.attach());
  const devGw = hub.attach();
  const devC = hub.attach();
  const a = new Stack({
    device: devA,
    ipv4: "192.0.2.2/24",
    routes: [{ destination: "198.51.100.0/24", gateway: "192.0.2.1" }],
  });
  const gw = new Stack({ device: devGw, ipv4: "192.0.2.1/24" });
  const c = new Stack({ device: devC, ipv4: "192.0.2.3/24" });
  try {
    for (const s of [a, gw, c]) await s.start();
    // On-link: straight to C.
    const r = await a.ping("192.0.2.3", { count: 1 });
    assert.equal(r.summary.received, 1);
    const conn = a.listenDatagram({ port: 0 });
    devA.dstMacs.length = 0;
    const gwRxBefore = gw.stats().ipv4.rxNotForUs;
    // Off-link: the datagram goes to the gateway's MAC (it resolves the gateway by ARP first).
    await conn.send(encoder.encode("via gw"), { hostname: "198.51.100.7", port: 9 });
    await (async () => {
      const end = performance.now() + 2000;
      while (gw.stats().ipv4.rxNotForUs === gwRxBefore && performance.now() < end) {
        await new Promise((res) => setTimeout(res, 2));
      }
    })();
    const ipFrames = devA.dstMacs.filter((m) => m !== 0xffff_ffff_ffff);
    assert.ok(ipFrames.length >= 1);
    assert.ok(
      ipFrames.every((m) => m === devGw.capabilities.mac),
      "frames not sent to the gateway",
    );
    assert.equal(gw.stats().ipv4.rxNotForUs, gwRxBefore + 1, "the gateway did not get it");
    assert.ok(a.arpTable().some((e) => e.ip === "192.0.2.1" && e.state === "reachable"));
    assert.ok(
      !a.arpTable().some((e) => e.ip === "198.51.100.7"),
      "off-link host must not be ARPed",
    );
    // Default gateway works the same way.
    const d = new Stack({ device: hub.attach(), ipv4: "192.0.2.4/24", gateway: "192.0.2.1" });
    await d.start();
    const dc = d.listenDatagram({ port: 0 });
    await dc.send(encoder.encode("x"), { hostname: "203.0.113.5", port: 9 });
    await d.close();
  } finally {
    for (const s of [a, gw, c]) await s.close();
    hub.close();
  }
});

Deno.test("Stack ARP entries expire as configured (manual clock)", () => {
  const { a, b, step, settle } = manualPair({ arp: { entryTtlMs: 5000 } });
  try {
    a.start();
    b.start();
    settle();
    const conn = a.listenDatagram({ port: 0 });
    const server = b.listenDatagram({ port: 7 });
    conn.send(encoder.encode("x"), { hostname: B_ADDR, port: 7 });
    settle();
    assert.equal(server.endpoint.queued, 1);
    assert.ok(a.arpTable().some((e) => e.ip === B_ADDR && e.state === "reachable"));
    step(4000);
    assert.ok(a.arpTable().some((e) => e.ip === B_ADDR));
    step(1500);
    assert.ok(!a.arpTable().some((e) => e.ip === B_ADDR), "entry outlived its 5 s lifetime");
    assert.ok(a.nextDeadline() === Infinity || a.nextDeadline() > 6500);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("Stack delivers packets queued while ARP resolves (manual clock)", async () => {
  const { a, b, settle } = manualPair();
  try {
    await a.start();
    await b.start();
    const server = b.listenDatagram({ port: 7 });
    const conn = a.listenDatagram({ port: 0 });
    // Three datagrams sent before anything is polled: all wait behind one ARP request.
    const sends = [1, 2, 3].map((n) =>
      conn.send(new Uint8Array([n]), { hostname: B_ADDR, port: 7 })
    );
    assert.deepEqual(await Promise.all(sends), [1, 1, 1]);
    assert.equal(a.arpTable().find((e) => e.ip === B_ADDR)?.queued, 3);
    settle();
    const got = [];
    for (let i = 0; i < 3; i++) got.push((await server.receive())[0][0]);
    assert.deepEqual(got, [1, 2, 3]);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("Stack counts a bad frame and a throwing handler without stopping", async () => {
  const errors: unknown[] = [];
  const { a, b, db, settle } = manualPair({ onError: (e: unknown) => errors.push(e) });
  // A protocol handler that throws:
  a.registerTransport(253, {
    onPacket() {
      throw new Error("handler bug");
    },
  });
  try {
    await a.start();
    await b.start();
    settle();
    // Garbage: a header-only frame of an unknown EtherType, and an IPv4 frame with a broken header.
    db.transmit(new Uint8Array([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x88, 0xb5]), 0, 14);
    const junk = new Uint8Array(60);
    junk.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, 0x45, 0, 0, 20]);
    db.transmit(junk, 0, junk.length);
    // A datagram for protocol 253, whose handler throws.
    const buf = b.iface.allocate()!;
    buf.append(8);
    assert.ok(b.iface.send(buf, a.localAddress, 253));
    settle();
    const s = a.stats();
    assert.equal(s.link.rxUnknownEthertype, 1);
    assert.ok(s.ipv4.rxBadChecksum + s.ipv4.rxTruncated + s.ipv4.rxBadTotalLength >= 1);
    assert.equal(s.loop.handlerErrors, 1);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /handler bug/);
    // Still alive.
    const p = a.ping(B_ADDR, { count: 1 });
    settle();
    assert.equal((await p).summary.received, 1);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("Stack event loop survives a throwing timer and keeps serving", async () => {
  let logged = 0;
  const { a, b, close } = await stackPair({ onError: () => logged++ });
  try {
    const timer = new Timer({
      onTimer() {
        throw new Error("timer bug");
      },
    }, 1);
    a.wheel.schedule(timer, a.nowMs() + 5);
    a.kick();
    const r = await a.ping(B_ADDR, { count: 2, intervalMs: 20 });
    assert.equal(r.summary.received, 2);
    assert.equal(a.stats().loop.handlerErrors, 1);
    assert.equal(logged, 1);
    void b;
  } finally {
    await close();
  }
});

/** A device wrapper that counts `wait()` calls and how many of them have settled. */
class WaitWatcher extends ForwardingDevice<Device> {
  calls = 0;
  settled = 0;
  override wait(timeoutMs: number): Promise<void> {
    this.calls++;
    return super.wait(timeoutMs).finally(() => {
      this.settled++;
    });
  }
}

/** How soon {@link RefusingDevice} asks to be flushed again while it holds refused frames. */
const REFUSED_RETRY_MS = 0.5;

/**
 * A batching device whose next `refusals` flushes leave a frame waiting, as an AF_PACKET
 * device does when the interface's queue is full (EAGAIN/ENOBUFS); records the timeouts of
 * the waits it is asked for meanwhile.
 */
class RefusingDevice extends ForwardingDevice<Device> {
  refusals = 0;
  readonly waitsWhileRefused: number[] = [];
  override get txBatching(): boolean {
    return true;
  }
  override get txPending(): number {
    return this.refusals > 0 ? 1 : 0;
  }
  override get txRetryDelayMs(): number {
    return this.refusals > 0 ? REFUSED_RETRY_MS : Infinity;
  }
  override flush(): void {
    if (this.refusals > 0) this.refusals--;
    this.inner.flush();
  }
  override wait(timeoutMs: number): Promise<void> {
    if (this.refusals > 0) this.waitsWhileRefused.push(timeoutMs);
    return super.wait(timeoutMs);
  }
}

Deno.test("A device holding refused frames is flushed again soon: the loop parks no longer than its txRetryDelayMs", async () => {
  const [da] = MemoryLink.pair();
  const dev = new RefusingDevice(da);
  const a = new Stack({ device: dev, ipv4: `${A_ADDR}/24` });
  await a.start();
  try {
    await until(() => a.stats().loop.parks > 0, "the loop to park");
    // A send whose frames the queue refused (again and again): nothing else happens on the
    // link, yet the loop must come back to flush them (an idle park lasts a second).
    dev.refusals = 8;
    a.afterSend();
    await until(() => dev.refusals === 0, "the refused frames to be retried until they leave");
    assert.ok(
      dev.waitsWhileRefused.every((t) => t <= REFUSED_RETRY_MS),
      `device waits while frames were refused: ${dev.waitsWhileRefused}`,
    );
  } finally {
    await a.close();
  }
});

Deno.test("Stack.kick wakes a parked loop for an earlier timer on the wheel", async () => {
  const [da] = MemoryLink.pair();
  const dev = new WaitWatcher(da);
  const a = new Stack({ device: dev, ipv4: `${A_ADDR}/24` });
  await a.start();
  try {
    // Parked with nothing scheduled: one device wait of the idle length is outstanding.
    await until(() => a.stats().loop.parks > 0 && dev.settled < dev.calls, "the loop to park");
    const settledBefore = dev.settled;
    const kicksBefore = a.stats().loop.kicks;
    let settledAtFire = -1;
    const timer = new Timer({
      onTimer() {
        settledAtFire = dev.settled;
      },
    }, 1);
    a.wheel.schedule(timer, a.nowMs() + 10);
    a.kick();
    await until(() => settledAtFire >= 0, "the timer to fire");
    assert.equal(a.stats().loop.kicks, kicksBefore + 1, "the kick saw the earlier deadline");
    // The idle device wait had not ended when the timer fired: the kick woke the loop.
    assert.equal(settledAtFire, settledBefore);
  } finally {
    await a.close();
  }
});

Deno.test("Stack.close settles pending work and leaves no ops or resources", async () => {
  const { a, b, close } = await stackPair({ dns: [B_ADDR], dnsTimeoutMs: 10_000 });
  serveDns(b.listenDatagram({ port: 53 }), {}, { silent: true });
  const conn = a.listenDatagram({ port: 4000 });
  const receiving = conn.receive();
  const pinging = a.ping("192.0.2.99", { count: 3, intervalMs: 1000 });
  const resolving = a.resolveDns("slow.test");
  await until(
    () => a.stats().icmp.txEchoRequests > 0 && a.stats().dns.queriesSent > 0,
    "the ping and the query to go out",
  );
  await close();
  await assert.rejects(receiving, (e: unknown) => (e as Error).name === "UdpError");
  await assert.rejects(pinging, StackClosedError);
  await assert.rejects(resolving, (e: unknown) => e instanceof DnsError && e.code === "CANCELLED");
  assert.throws(() => a.listenDatagram({ port: 0 }), StackClosedError);
  assert.ok(a.closed && b.closed);
  assert.equal(a.wheel.size, 0);
  await a.close(); // idempotent
});

Deno.test("Stack rejects bad configuration with a TypeError", () => {
  const [da, db] = MemoryLink.pair();
  try {
    assert.throws(() => new Stack({ device: da, ipv4: "192.0.2.300/24" }));
    assert.throws(() => new Stack({ device: da, ipv4: "192.0.2.2/24", dns: ["nope"] }), TypeError);
    assert.throws(() => new Stack({ device: da, ipv4: "192.0.2.2/24", mtu: 9000 }), TypeError);
    const s = new Stack({ device: da, ipv4: "192.0.2.2/24" });
    assert.throws(() => s.listenDatagram({ port: 0, hostname: "192.0.2.9" }), TypeError);
    assert.equal(formatIpv4(s.localAddress), "192.0.2.2");
  } finally {
    da.close();
    db.close();
  }
});

Deno.test("Stack.stats reports every layer", async () => {
  const { a, close } = await stackPair();
  try {
    await a.ping(B_ADDR, { count: 1 });
    const s = a.stats();
    assert.ok(s.device.txFrames >= 2 && s.device.rxFrames >= 2);
    assert.ok(s.icmp !== undefined && s.udp !== undefined && s.dns !== undefined);
    assert.ok(s.loop.iterations > 0);
    assert.equal(s.loop.handlerErrors, 0);
    assert.ok(pattern(3).length === 3);
  } finally {
    await close();
  }
});

/** Lets pending promise continuations run (no timers involved). */
async function microtasks(rounds = 8): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

Deno.test("Stack on 203.0.113.0/24: int32 addresses through ARP, UDP, broadcast and TCP", async () => {
  // Every address here is ≥ 128.0.0.0, i.e. negative as int32 (src/wire/address.ts).
  const clock = new ManualClock(1000);
  const [da, db] = MemoryLink.pair();
  const a = new Stack({ device: da, ipv4: "203.0.113.10/24", clock });
  const b = new Stack({ device: db, ipv4: "203.0.113.200/24", clock });
  const settle = () => {
    for (let i = 0; i < 100; i++) if (a.poll() + b.poll() === 0) return;
  };
  try {
    await a.start();
    await b.start();
    const bAddr = parseIpv4("203.0.113.200")!;
    assert.equal(b.localAddress, bAddr);
    assert.equal(b.localAddress, 0xcb0071c8 | 0);
    assert.ok(b.localAddress < 0, "int32 form");
    assert.equal(b.address, "203.0.113.200");

    // UDP unicast: ARP resolves 203.0.113.200, the datagram arrives with its sender.
    const server = b.listenDatagram({ port: 7 });
    const client = a.listenDatagram({ port: 0 });
    await client.send(encoder.encode("hi"), { hostname: "203.0.113.200", port: 7 });
    settle();
    const [data, from] = await server.receive();
    assert.deepEqual([...data], [...encoder.encode("hi")]);
    assert.equal(from.hostname, "203.0.113.10");
    assert.equal(from.port, client.addr.port);
    assert.equal(server.endpoint.lastSrcAddr | 0, server.endpoint.lastSrcAddr);
    const toB = a.arpTable().find((e) => e.ip === "203.0.113.200");
    assert.equal(toB?.state, "reachable");
    assert.ok(b.arpTable().some((e) => e.ip === "203.0.113.10"));

    // The engine API accepts the unsigned form and the int32 form alike.
    const ep = a.udp.bind(0);
    assert.equal(ep.send(a.nowMs(), new Uint8Array([1]), 0xcb0071c8, 7), 1);
    assert.equal(ep.send(a.nowMs(), new Uint8Array([2]), bAddr, 7), 1);
    a.device.flush();
    settle();
    assert.equal((await server.receive())[0][0], 1);
    assert.equal((await server.receive())[0][0], 2);
    assert.equal(a.stats().arp.requestsSent, 1, "both forms hit one ARP cache entry");

    // Limited broadcast: 255.255.255.255 is -1, which must not read as "no route".
    await client.send(new Uint8Array([3]), { hostname: "255.255.255.255", port: 7 });
    settle();
    assert.equal((await server.receive())[0][0], 3);
    assert.equal(a.stats().ipv4.txNoRoute, 0);

    // TCP over the same addresses.
    const listener = b.listen({ port: 80 });
    const connecting = a.connect({ hostname: "203.0.113.200", port: 80 });
    await microtasks(); // connect resolves the (literal) host name asynchronously
    settle();
    const conn = await connecting;
    settle();
    const accepted = await listener.accept();
    assert.equal(conn.remoteAddr.hostname, "203.0.113.200");
    assert.equal(accepted.remoteAddr.hostname, "203.0.113.10");
    assert.equal(accepted.remoteAddr.port, conn.localAddr.port);
    await conn.write(encoder.encode("tcp"));
    settle();
    const buf = new Uint8Array(8);
    const n = await accepted.read(buf);
    assert.equal(new TextDecoder().decode(buf.subarray(0, n!)), "tcp");
    conn.close();
    accepted.close();
    listener.close();
    settle();
  } finally {
    await a.close();
    await b.close();
  }
});
