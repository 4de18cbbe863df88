import assert from "node:assert/strict";
import { ArpCache, type ArpCacheHost, writeArpPacket } from "../../src/iface/arp_cache.ts";
import { BufferPool } from "../../src/buffer/buffer_pool.ts";
import type { PacketBufferLike } from "../../src/iface/types.ts";
import { arpPacket, IP_A, IP_B, IP_C, MAC_A, MAC_B, MAC_C, parseArp } from "./_helpers.ts";

const BCAST = 0xffff_ffff_ffff;

interface SentArp {
  op: number;
  ethDst: number;
  targetMac: number;
  targetIp: number;
  senderIp: number;
}

function setup(options = {}) {
  const pool = new BufferPool({ slots: 128 });
  const arps: SentArp[] = [];
  const resolved: { tag: number; mac: number }[] = [];
  const failed: { ip: number; tag: number }[] = [];
  const host: ArpCacheHost = {
    transmitArp(op, ethDst, targetMac, targetIp, senderIp) {
      arps.push({ op, ethDst, targetMac, targetIp, senderIp });
    },
    transmitResolved(buf, mac) {
      resolved.push({ tag: buf.bytes[buf.head], mac });
      pool.free(buf as never);
    },
    resolutionFailed(_now, ip, buf) {
      failed.push({ ip, tag: buf.bytes[buf.head] });
    },
    free(buf) {
      pool.free(buf as never);
    },
  };
  const arp = new ArpCache(IP_A, MAC_A, host, options);
  const packet = (tag: number): PacketBufferLike => {
    const b = pool.alloc(64)!;
    const at = b.append(20);
    b.bytes[at] = tag;
    return b;
  };
  return { pool, arps, resolved, failed, arp, packet };
}

function input(arp: ArpCache, now: number, p: Uint8Array) {
  arp.input(now, p, 0, p.length);
}

Deno.test("ArpCache answers a request for our address and learns the asker", () => {
  const { arp, arps } = setup();
  input(arp, 5, arpPacket(1, MAC_B, IP_B, 0, IP_A));
  assert.deepEqual(arps, [{
    op: 2,
    ethDst: MAC_B,
    targetMac: MAC_B,
    targetIp: IP_B,
    senderIp: IP_A,
  }]);
  assert.equal(arp.lookup(5, IP_B), MAC_B);
  assert.equal(arp.stats.repliesSent, 1);
});

Deno.test("ArpCache ignores requests for other addresses and does not learn from them", () => {
  const { arp, arps } = setup();
  input(arp, 0, arpPacket(1, MAC_B, IP_B, 0, IP_C));
  assert.equal(arps.length, 0);
  assert.equal(arp.lookup(0, IP_B), -1);
});

Deno.test("ArpCache merges a known sender even when we are not the target (RFC 826)", () => {
  const { arp } = setup();
  arp.learn(0, IP_B, MAC_B);
  input(arp, 1000, arpPacket(1, MAC_C, IP_B, 0, IP_C)); // B moved to MAC_C, after the lock time
  assert.equal(arp.lookup(1000, IP_B), MAC_C);
});

Deno.test("ArpCache counts and drops malformed, foreign and spoofed packets", () => {
  const { arp, arps } = setup();
  input(arp, 0, arpPacket(1, MAC_B, IP_B, 0, IP_A).subarray(0, 27));
  const wrongHlen = arpPacket(1, MAC_B, IP_B, 0, IP_A);
  wrongHlen[4] = 8;
  input(arp, 0, wrongHlen);
  input(arp, 0, arpPacket(3, MAC_B, IP_B, 0, IP_A));
  input(arp, 0, arpPacket(1, BCAST, IP_B, 0, IP_A));
  input(arp, 0, arpPacket(1, MAC_A, IP_B, 0, IP_A));
  input(arp, 0, arpPacket(2, MAC_B, IP_A, MAC_A, IP_A)); // someone claims our address
  assert.equal(arp.stats.rxTruncated, 1);
  assert.equal(arp.stats.rxUnsupported, 1);
  assert.equal(arp.stats.rxBadOpcode, 1);
  assert.equal(arp.stats.rxBadSender, 2);
  assert.equal(arp.stats.addressConflicts, 1);
  assert.equal(arp.size, 0);
  assert.equal(arps.length, 0);
});

Deno.test("ArpCache answers an RFC 5227 probe without learning sender 0.0.0.0", () => {
  const { arp, arps } = setup();
  input(arp, 0, arpPacket(1, MAC_B, 0, 0, IP_A));
  assert.equal(arps.length, 1);
  assert.equal(arps[0].targetIp, 0);
  assert.equal(arp.size, 0);
});

Deno.test("ArpCache resolves with 3 requests 1 s apart, then fails, frees and reports", () => {
  const { arp, arps, failed, pool, packet } = setup();
  assert.ok(arp.send(0, IP_B, packet(1)));
  assert.ok(arp.send(100, IP_B, packet(2)));
  assert.equal(arps.length, 1, "one request for two packets");
  assert.deepEqual(arps[0], { op: 1, ethDst: BCAST, targetMac: 0, targetIp: IP_B, senderIp: IP_A });
  assert.equal(arp.nextDeadline(), 1000);
  arp.poll(999);
  assert.equal(arps.length, 1);
  arp.poll(1000);
  assert.equal(arps.length, 2);
  arp.poll(2000);
  assert.equal(arps.length, 3);
  assert.equal(arp.list(2000)[0].state, "incomplete");
  assert.equal(arp.list(2000)[0].queued, 2);
  assert.equal(pool.inUse, 2);
  arp.poll(3000);
  assert.equal(arps.length, 3, "no fourth request");
  assert.deepEqual(failed, [{ ip: IP_B, tag: 1 }, { ip: IP_B, tag: 2 }]);
  assert.equal(pool.inUse, 0, "queued buffers freed");
  assert.equal(arp.stats.resolutionFailures, 1);
  assert.equal(arp.size, 0);
  assert.equal(arp.nextDeadline(), Infinity);
});

Deno.test("ArpCache flushes the queue in order as soon as the reply arrives", () => {
  const { arp, resolved, packet, pool, failed } = setup();
  arp.send(0, IP_B, packet(1));
  arp.send(1, IP_B, packet(2));
  arp.send(2, IP_B, packet(3));
  arp.poll(1000); // a retry
  input(arp, 1500, arpPacket(2, MAC_B, IP_B, MAC_A, IP_A));
  assert.deepEqual(resolved, [{ tag: 1, mac: MAC_B }, { tag: 2, mac: MAC_B }, {
    tag: 3,
    mac: MAC_B,
  }]);
  assert.equal(pool.inUse, 0);
  arp.poll(5000);
  assert.equal(failed.length, 0);
  // Now resolved: sent at once.
  arp.send(5001, IP_B, packet(4));
  assert.equal(resolved.length, 4);
  assert.equal(arp.list(5001)[0].state, "reachable");
  assert.equal(arp.list(5001)[0].mac, "02:00:00:00:00:0b");
  assert.equal(arp.list(5001)[0].ageMs, 3501);
});

Deno.test("ArpCache bounds the per-neighbour queue, keeping the latest packets (RFC 1122 §2.3.2.2)", () => {
  const { arp, packet, pool, resolved } = setup({ maxQueuedPerNeighbour: 2 });
  assert.ok(arp.send(0, IP_B, packet(1)));
  assert.ok(arp.send(0, IP_B, packet(2)));
  assert.ok(arp.send(0, IP_B, packet(3)));
  assert.equal(arp.stats.queueOverflows, 1);
  assert.equal(pool.inUse, 2);
  input(arp, 10, arpPacket(2, MAC_B, IP_B, MAC_A, IP_A));
  assert.deepEqual(resolved.map((r) => r.tag), [2, 3], "the oldest was dropped");
});

Deno.test("ArpCache entries expire after the configured lifetime", () => {
  const { arp, arps, packet } = setup({ entryTtlMs: 5000 });
  input(arp, 0, arpPacket(1, MAC_B, IP_B, 0, IP_A)); // a request to us: learned (RFC 826)
  assert.equal(arp.lookup(4999, IP_B), MAC_B);
  assert.equal(arp.nextDeadline(), 5000);
  arp.poll(5000);
  assert.equal(arp.size, 0);
  assert.equal(arp.stats.expired, 1);
  assert.equal(arp.lookup(5000, IP_B), -1);
  arp.send(5001, IP_B, packet(9));
  assert.equal(arps.at(-1)!.op, 1, "re-resolves after expiry");
});

Deno.test("ArpCache evicts the least recently used idle entry when full", () => {
  const { arp } = setup({ maxEntries: 2 });
  arp.learn(0, IP_B, MAC_B);
  arp.learn(1, IP_C, MAC_C);
  assert.equal(arp.lookup(2, IP_B), MAC_B); // B used more recently than C
  arp.learn(10_000, 0xc0000263, 0x0200000000ff); // both idle for 5 s and more
  assert.equal(arp.size, 2);
  assert.equal(arp.lookup(10_001, IP_C), -1);
  assert.equal(arp.lookup(10_001, IP_B), MAC_B);
  assert.equal(arp.stats.evicted, 1);
});

Deno.test("ArpCache evicting a pending entry frees its packets and reports unreachable", () => {
  const { arp, packet, pool, failed } = setup({ maxEntries: 1 });
  arp.send(0, IP_B, packet(7));
  arp.send(1, IP_C, packet(8));
  assert.deepEqual(failed, [{ ip: IP_B, tag: 7 }]);
  assert.equal(pool.inUse, 1);
});

Deno.test("ArpCache announce sends a gratuitous ARP request for our address", () => {
  const { arp, arps } = setup();
  arp.announce();
  assert.deepEqual(arps, [{ op: 1, ethDst: BCAST, targetMac: 0, targetIp: IP_A, senderIp: IP_A }]);
});

Deno.test("ArpCache clear frees queued packets", () => {
  const { arp, packet, pool } = setup();
  arp.send(0, IP_B, packet(1));
  arp.clear();
  assert.equal(pool.inUse, 0);
  assert.equal(arp.size, 0);
});

Deno.test("writeArpPacket writes the RFC 826 layout", () => {
  const b = new Uint8Array(30);
  assert.equal(writeArpPacket(b, 2, 2, MAC_A, IP_A, MAC_B, IP_B), 28);
  assert.deepEqual(parseArp(b.subarray(2)), {
    op: 2,
    sha: MAC_A,
    spa: IP_A,
    tha: MAC_B,
    tpa: IP_B,
  });
  assert.deepEqual([...b.subarray(2, 8)], [0, 1, 8, 0, 6, 4]);
});

Deno.test("ArpCache rejects non-positive options", () => {
  const host = {} as ArpCacheHost;
  assert.throws(() => new ArpCache(IP_A, MAC_A, host, { maxEntries: 0 }), TypeError);
  assert.throws(() => new ArpCache(IP_A, MAC_A, host, { retryIntervalMs: -1 }), TypeError);
});

/** A packet of `length` bytes from `pool` tagged `tag`. */
function sized(pool: BufferPool, tag: number, length: number): PacketBufferLike {
  const b = pool.alloc(64)!;
  const at = b.append(length);
  b.bytes[at] = tag;
  return b;
}

Deno.test("ArpCache bounds the per-neighbour queue in bytes, dropping the oldest (Linux unres_qlen_bytes)", () => {
  const { arp, pool, resolved } = setup({ maxQueuedBytesPerNeighbour: 3000 });
  arp.send(0, IP_B, sized(pool, 1, 1500));
  arp.send(0, IP_B, sized(pool, 2, 1000));
  arp.send(0, IP_B, sized(pool, 3, 1000)); // 3500 > 3000: packet 1 goes
  assert.equal(arp.stats.pendingDroppedBytes, 1);
  assert.equal(arp.stats.pendingPackets, 2);
  assert.equal(arp.stats.pendingBytes, 2000);
  assert.equal(pool.inUse, 2);
  // A packet larger than the bound is still queued, alone (as Linux does).
  arp.send(0, IP_C, sized(pool, 4, 1500));
  assert.equal(arp.stats.pendingPackets, 3);
  input(arp, 1, arpPacket(2, MAC_B, IP_B, MAC_A, IP_A));
  assert.deepEqual(resolved.map((r) => r.tag), [2, 3]);
  assert.equal(arp.stats.pendingPackets, 1);
  assert.equal(arp.stats.pendingBytes, 1500);
});

Deno.test("ArpCache bounds all queues together: a new neighbour takes from the longest queue", () => {
  const { arp, pool, resolved, failed } = setup({ maxQueuedTotal: 3 });
  const D = 0xc000020d;
  arp.send(0, IP_B, packet(pool, 1));
  arp.send(0, IP_B, packet(pool, 2));
  arp.send(0, IP_C, packet(pool, 3));
  assert.equal(arp.stats.pendingPackets, 3);
  // At the bound, a neighbour with packets waiting drops its own oldest...
  arp.send(0, IP_C, packet(pool, 4));
  assert.equal(arp.stats.pendingDroppedGlobal, 1);
  // ...and one without takes the oldest of the longest queue (B's), keeping one each.
  arp.send(0, D, packet(pool, 5));
  assert.equal(arp.stats.pendingDroppedGlobal, 2);
  assert.equal(arp.stats.pendingPackets, 3);
  assert.equal(pool.inUse, 3);
  input(arp, 1, arpPacket(2, MAC_B, IP_B, MAC_A, IP_A));
  input(arp, 1, arpPacket(2, MAC_C, IP_C, MAC_A, IP_A));
  assert.deepEqual(resolved.map((r) => r.tag), [2, 4]);
  for (let t = 1000; t <= 3000; t += 1000) arp.poll(t);
  assert.deepEqual(failed.map((f) => f.tag), [5]);
  assert.equal(arp.stats.pendingPackets, 0);
  assert.equal(arp.stats.pendingBytes, 0);
  assert.equal(pool.inUse, 0);
});

/** A 20-byte packet from `pool` tagged `tag`. */
function packet(pool: BufferPool, tag: number): PacketBufferLike {
  return sized(pool, tag, 20);
}

Deno.test("ArpCache creates entries only for requests to us and its own resolutions (RFC 826 merge)", () => {
  const { arp, arps, pool, resolved } = setup();
  // A reply to us we did not ask for: nothing learned.
  input(arp, 0, arpPacket(2, MAC_B, IP_B, MAC_A, IP_A));
  assert.equal(arp.size, 0);
  assert.equal(arp.stats.unsolicitedIgnored, 1);
  // Requests and replies for someone else: nothing learned.
  input(arp, 0, arpPacket(1, MAC_B, IP_B, 0, IP_C));
  input(arp, 0, arpPacket(2, MAC_B, IP_B, MAC_C, IP_C));
  assert.equal(arp.stats.rxOtherTarget, 2);
  assert.equal(arp.size, 0);
  // A reply to our own request resolves the entry.
  arp.send(0, IP_B, packet(pool, 1));
  input(arp, 1, arpPacket(2, MAC_B, IP_B, MAC_A, IP_A));
  assert.deepEqual(resolved, [{ tag: 1, mac: MAC_B }]);
  assert.equal(arp.stats.unsolicitedIgnored, 1);
  // A request to us adds its sender, and is answered.
  input(arp, 2, arpPacket(1, MAC_C, IP_C, 0, IP_A));
  assert.equal(arp.lookup(2, IP_C), MAC_C);
  assert.equal(arps.at(-1)!.op, 2);
});

Deno.test("ArpCache ignores a different MAC within the lock time of a confirmation (Linux locktime)", () => {
  const { arp } = setup();
  input(arp, 0, arpPacket(1, MAC_B, IP_B, 0, IP_A));
  input(arp, 999, arpPacket(1, MAC_C, IP_B, 0, IP_B)); // gratuitous, 999 ms later
  input(arp, 500, arpPacket(2, MAC_C, IP_B, MAC_A, IP_A));
  assert.equal(arp.lookup(999, IP_B), MAC_B);
  assert.equal(arp.stats.updatesLocked, 2);
  input(arp, 900, arpPacket(1, MAC_B, IP_B, 0, IP_A)); // the same MAC confirms (and re-locks)
  input(arp, 1899, arpPacket(1, MAC_C, IP_B, 0, IP_B));
  assert.equal(arp.lookup(1899, IP_B), MAC_B);
  input(arp, 1900, arpPacket(1, MAC_C, IP_B, 0, IP_B));
  assert.equal(arp.lookup(1900, IP_B), MAC_C, "after the lock time the change is taken");
  assert.equal(arp.stats.updatesLocked, 3);
  const unlocked = setup({ lockTimeMs: 0 }).arp;
  input(unlocked, 0, arpPacket(1, MAC_B, IP_B, 0, IP_A));
  input(unlocked, 0, arpPacket(1, MAC_C, IP_B, 0, IP_B));
  assert.equal(unlocked.lookup(0, IP_B), MAC_C, "lockTimeMs 0 turns the lock off");
});

Deno.test("ArpCache full: unsolicited entries evict only each other; ours evict unsolicited, incomplete, then idle", () => {
  const { arp, pool, failed } = setup({ maxEntries: 3 });
  const ip = (n: number) => (0xc0000200 + n) | 0;
  const mac = (n: number) => 0x020000000100 + n;
  arp.learn(0, ip(1), mac(1)); // ours, resolved
  arp.send(0, ip(2), packet(pool, 2)); // ours, incomplete
  input(arp, 0, arpPacket(1, mac(3), ip(3), 0, IP_A)); // unsolicited
  // Another asker replaces the first asker, never ours.
  input(arp, 1, arpPacket(1, mac(4), ip(4), 0, IP_A));
  assert.deepEqual(arp.list(1).map((e) => e.ip), ["192.0.2.1", "192.0.2.2", "192.0.2.4"]);
  // Using an asker's entry makes it ours.
  assert.equal(arp.lookup(2, ip(4)), mac(4));
  input(arp, 3, arpPacket(1, mac(5), ip(5), 0, IP_A));
  assert.equal(arp.stats.tableFull, 1, "no unsolicited entry left to evict");
  assert.equal(arp.size, 3);
  // Our own resolution evicts the incomplete entry first (its packet reported failed)...
  arp.send(4, ip(6), packet(pool, 6));
  assert.deepEqual(failed, [{ ip: ip(2), tag: 2 }]);
  // ...and again: an incomplete entry goes before resolved ones, however new it is.
  arp.send(5, ip(7), packet(pool, 7));
  assert.deepEqual(failed.map((f) => f.tag), [2, 6]);
  assert.ok(arp.lookup(5, ip(1)) >= 0 && arp.lookup(5, ip(4)) >= 0);
  // Resolved entries used within 5 s stay; with nothing else to evict the packet is dropped.
  input(arp, 6, arpPacket(2, mac(7), ip(7), MAC_A, IP_A));
  assert.equal(arp.send(7, ip(8), packet(pool, 8)), false);
  assert.equal(arp.stats.tableFull, 2);
  assert.equal(pool.inUse, 0, "the dropped packet was freed");
  // Once idle for 5 s the least recently used one goes.
  assert.equal(arp.lookup(5007, ip(4)), mac(4));
  assert.equal(arp.lookup(5007, ip(7)), mac(7));
  assert.equal(arp.send(5007, ip(8), packet(pool, 8)), true);
  assert.equal(arp.lookup(5007, ip(1)), -1, "the idle entry was evicted");
});

Deno.test("ArpCache never evicts a protected entry (a gateway)", () => {
  const pool = new BufferPool({ slots: 8 });
  const GATEWAY = 0xc0000201 | 0;
  const host: ArpCacheHost = {
    transmitArp() {},
    transmitResolved(buf) {
      pool.free(buf as never);
    },
    resolutionFailed() {},
    free(buf) {
      pool.free(buf as never);
    },
    isProtected: (ip) => ip === GATEWAY,
  };
  const arp = new ArpCache(IP_A, MAC_A, host, { maxEntries: 2 });
  arp.learn(0, GATEWAY, MAC_B);
  arp.learn(0, IP_B, MAC_C);
  assert.ok(arp.learn(60_000 - 1, IP_C, MAC_C)); // both idle: only IP_B may go
  assert.equal(arp.lookup(60_000 - 1, GATEWAY), MAC_B);
  assert.equal(arp.lookup(60_000 - 1, IP_B), -1);
});
