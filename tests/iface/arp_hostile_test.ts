/**
 * Issue 16, findings 1 and 9: an attacker on the victim's LAN. A victim
 * `Stack` runs over a `MemoryLink` with a `ManualClock`; the test plays
 * every other host on the link by injecting raw frames at the other end and
 * reads what the victim transmits there.
 */

import assert from "node:assert/strict";
import { Stack } from "../../src/stack.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import { ManualClock } from "../../src/time/clock.ts";
import { parseIpv4 } from "../../src/wire/address.ts";
import {
  arpPacket,
  ethFrame,
  icmpMessage,
  ipv4Packet,
  parseArp,
  parseEth,
  parseIpv4Packet,
} from "./_helpers.ts";

const BCAST = 0xffff_ffff_ffff;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
const ARP_REQUEST = 1;
const ARP_REPLY = 2;
const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;
const PROTO_ICMP = 1;

const VICTIM_IP = parseIpv4("192.0.2.2")!;
const GW_IP = parseIpv4("192.0.2.1")!;
const GW_MAC = 0x02_00_00_00_00_fe;
const ATTACKER_MAC = 0x02_00_00_00_00_66;
/** An on-link host that exists but that the victim has not talked to yet. */
const NEW_HOST_IP = parseIpv4("192.0.2.50")!;

/** One transmitted frame, decoded. */
interface Out {
  dst: number;
  type: number;
  payload: Uint8Array;
}

/** A victim stack, the far end of its link, and helpers to inject and collect frames. */
async function victim() {
  const clock = new ManualClock(1000);
  const [dv, dx] = MemoryLink.pair({ queueFrames: 4096 });
  const stack = new Stack({ device: dv, ipv4: "192.0.2.2/24", gateway: "192.0.2.1", clock });
  await stack.start();
  const victimMac = dv.capabilities.mac;
  const out: Out[] = [];
  const collect = () => {
    dx.receive({
      onFrame(bytes, offset, length) {
        const e = parseEth(bytes.slice(offset, offset + length));
        out.push({ dst: e.dst, type: e.type, payload: e.payload });
      },
    }, 1 << 20);
  };
  const inject = (frame: Uint8Array) => {
    dx.transmit(frame, 0, frame.length);
    stack.poll();
    collect();
  };
  const echoRequest = (src: number, srcMac: number, id: number, seq: number) =>
    ethFrame(
      victimMac,
      srcMac,
      ETHERTYPE_IPV4,
      ipv4Packet({
        src,
        dst: VICTIM_IP,
        protocol: PROTO_ICMP,
        payload: icmpMessage(ICMP_ECHO_REQUEST, 0, (id << 16) | seq, new Uint8Array(56)),
      }),
    );
  const arp = (op: number, sha: number, spa: number, tpa: number, ethDst = BCAST) =>
    ethFrame(ethDst, sha, ETHERTYPE_ARP, arpPacket(op, sha, spa, 0, tpa));
  /** ARP requests the victim sent for `ip`. */
  const arpRequestsFor = (ip: number) =>
    out.filter((f) =>
      f.type === ETHERTYPE_ARP && parseArp(f.payload).op === ARP_REQUEST &&
      parseArp(f.payload).tpa === ip
    ).length;
  /** Echo replies the victim sent to `mac` for identifier `id`. */
  const echoRepliesTo = (mac: number, id: number) =>
    out.filter((f) => {
      if (f.dst !== mac || f.type !== ETHERTYPE_IPV4) return false;
      const ip = parseIpv4Packet(f.payload);
      return ip.protocol === PROTO_ICMP && ip.payload[0] === ICMP_ECHO_REPLY &&
        ((ip.payload[4] << 8) | ip.payload[5]) === id;
    }).length;
  /** The gateway pings the victim, which resolves it with its own ARP request (the normal way). */
  const resolveGateway = () => {
    inject(echoRequest(GW_IP, GW_MAC, 1, 1));
    assert.equal(arpRequestsFor(GW_IP), 1, "the victim asks for the gateway");
    inject(arp(ARP_REPLY, GW_MAC, GW_IP, VICTIM_IP, victimMac));
    assert.equal(echoRepliesTo(GW_MAC, 1), 1, "the queued reply leaves once resolved");
    assert.equal(stack.arpTable().find((e) => e.ip === "192.0.2.1")?.state, "reachable");
  };
  const close = async () => {
    await stack.close();
    dx.close();
  };
  return {
    clock,
    stack,
    victimMac,
    out,
    inject,
    echoRequest,
    arp,
    arpRequestsFor,
    echoRepliesTo,
    resolveGateway,
    close,
  };
}

Deno.test("ArpCache pending queues: echo floods from 20 absent on-link hosts starve neither the gateway nor ARP", async () => {
  const v = await victim();
  try {
    v.resolveGateway();
    // 20 on-link addresses that do not exist, 100 echo requests each, all within one
    // millisecond: every reply waits for an ARP answer that never comes.
    for (let s = 0; s < 20; s++) {
      const src = parseIpv4(`192.0.2.${100 + s}`)!;
      for (let k = 0; k < 100; k++) v.inject(v.echoRequest(src, ATTACKER_MAC, 0x4000 + s, k));
    }
    assert.equal(v.stack.stats().icmp.rxEchoRequests, 1 + 2000);
    // The resolved gateway still gets its echo reply at once.
    v.inject(v.echoRequest(GW_IP, GW_MAC, 2, 1));
    assert.equal(v.echoRepliesTo(GW_MAC, 2), 1, "the gateway's echo reply went out");
    // A new neighbour can still be resolved: the ARP request goes out.
    const ep = v.stack.udp.bind(0);
    ep.send(v.stack.nowMs(), new Uint8Array([1, 2, 3]), NEW_HOST_IP, 9);
    v.inject(v.echoRequest(GW_IP, GW_MAC, 3, 1)); // a poll, and one more reply
    assert.equal(v.arpRequestsFor(NEW_HOST_IP), 1, "the ARP request for a new host went out");
    assert.equal(v.echoRepliesTo(GW_MAC, 3), 1);
    // The flood's packets were dropped and counted, within fixed bounds.
    const after = v.stack.stats();
    assert.ok(after.arp.pendingPackets <= 256, `pending ${after.arp.pendingPackets} ≤ 256`);
    assert.ok(
      after.arp.queueOverflows + after.arp.pendingDroppedGlobal >= 2000 - 256,
      "the flood's replies beyond the bounds were dropped and counted",
    );
    assert.equal(after.ipv4.txNoBuffer, 0, "the pool never ran dry");
    assert.equal(after.link.txNoBuffer, 0);
    // When the absent hosts' resolution fails, every waiting packet is freed.
    for (let t = 0; t < 4; t++) {
      v.clock.advance(1000);
      v.stack.poll();
    }
    assert.equal(v.stack.stats().arp.pendingPackets, 0);
    assert.equal(v.stack.iface.pool.inUse, 0, "no slot leaked");
  } finally {
    await v.close();
  }
});

/** The i-th flood sender: 198.18.0.0/15 (RFC 2544 benchmarking), one distinct MAC each. */
function floodSender(i: number): { ip: number; mac: number } {
  return { ip: (0xc612_0000 + 1 + i) | 0, mac: 0x02_00_00_10_00_00 + i };
}

Deno.test("ArpCache merge rules: 1,000 forged ARP senders neither evict the gateway nor get entries", async () => {
  const v = await victim();
  try {
    v.resolveGateway();
    const other = parseIpv4("192.0.2.77")!;
    for (let i = 0; i < 1000; i++) {
      const { ip, mac } = floodSender(i);
      // A reply addressed to us that we never asked for (RFC 826 would add it; we do not).
      v.inject(v.arp(ARP_REPLY, mac, ip, VICTIM_IP, v.victimMac));
      // Requests and replies for another target, and a gratuitous announcement.
      v.inject(v.arp(ARP_REQUEST, mac, ip, other));
      v.inject(v.arp(ARP_REPLY, mac, ip, other));
      v.inject(v.arp(ARP_REQUEST, mac, ip, ip));
    }
    const table = v.stack.arpTable();
    assert.deepEqual(table.map((e) => [e.ip, e.state, e.mac]), [
      ["192.0.2.1", "reachable", "02:00:00:00:00:fe"],
    ], "only the gateway is cached");
    const arp = v.stack.stats().arp;
    assert.equal(arp.unsolicitedIgnored, 1000);
    assert.equal(arp.rxOtherTarget, 3000);
    assert.equal(arp.evicted, 0);
    // The gateway is answered at once, without a new resolution.
    v.inject(v.echoRequest(GW_IP, GW_MAC, 2, 1));
    assert.equal(v.echoRepliesTo(GW_MAC, 2), 1);
    assert.equal(v.arpRequestsFor(GW_IP), 1, "no new ARP request for the gateway");
  } finally {
    await v.close();
  }
});

Deno.test("ArpCache merge rules: 1,000 requests to us are answered without evicting the gateway", async () => {
  const v = await victim();
  try {
    v.resolveGateway();
    // RFC 826 adds a sender that asks for us; 1,000 of them must not push out the gateway.
    for (let i = 0; i < 1000; i++) {
      const { ip, mac } = floodSender(i);
      v.inject(v.arp(ARP_REQUEST, mac, ip, VICTIM_IP));
    }
    const replies = v.out.filter((f) =>
      f.type === ETHERTYPE_ARP && parseArp(f.payload).op === ARP_REPLY
    );
    assert.equal(replies.length, 1000, "every request for our address was answered");
    const table = v.stack.arpTable();
    assert.ok(table.length <= 256, `${table.length} entries ≤ 256`);
    assert.equal(table.find((e) => e.ip === "192.0.2.1")?.mac, "02:00:00:00:00:fe");
    const arp = v.stack.stats().arp;
    assert.ok(arp.evicted >= 1000 - 255, "the askers evicted one another, nothing else");
    v.inject(v.echoRequest(GW_IP, GW_MAC, 2, 1));
    assert.equal(v.echoRepliesTo(GW_MAC, 2), 1);
    assert.equal(v.arpRequestsFor(GW_IP), 1, "no new ARP request for the gateway");
  } finally {
    await v.close();
  }
});

Deno.test("ArpCache lock time: a flood of gratuitous ARP cannot flip the gateway's MAC", async () => {
  const v = await victim();
  try {
    v.resolveGateway();
    // 100 gratuitous announcements and replies claiming the gateway's address, within 1 s of
    // the gateway's own reply.
    for (let i = 0; i < 50; i++) {
      v.clock.advance(9);
      v.inject(v.arp(ARP_REQUEST, ATTACKER_MAC, GW_IP, GW_IP));
      v.inject(v.arp(ARP_REPLY, ATTACKER_MAC, GW_IP, VICTIM_IP, v.victimMac));
    }
    assert.equal(v.stack.arpTable().find((e) => e.ip === "192.0.2.1")?.mac, "02:00:00:00:00:fe");
    assert.equal(v.stack.stats().arp.updatesLocked, 100);
    v.inject(v.echoRequest(GW_IP, GW_MAC, 2, 1));
    assert.equal(v.echoRepliesTo(GW_MAC, 2), 1, "replies still go to the real gateway");
    assert.equal(v.echoRepliesTo(ATTACKER_MAC, 2), 0);
    // Linux locktime: a change after the lock time is taken (the gateway really moved).
    v.clock.advance(1000);
    const moved = 0x02_00_00_00_00_fd;
    v.inject(v.arp(ARP_REQUEST, moved, GW_IP, GW_IP));
    assert.equal(v.stack.arpTable().find((e) => e.ip === "192.0.2.1")?.mac, "02:00:00:00:00:fd");
  } finally {
    await v.close();
  }
});
