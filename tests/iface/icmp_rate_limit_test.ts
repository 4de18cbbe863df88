import assert from "node:assert/strict";
import { NetworkInterface } from "../../src/iface/interface.ts";
import {
  ICMP_PEER_BURST,
  ICMP_RATE_ALLOWED,
  ICMP_RATE_BURST,
  ICMP_RATE_LIMITED_GLOBAL,
  ICMP_RATE_LIMITED_PEER,
  IcmpRateLimiter,
} from "../../src/iface/icmp_rate_limit.ts";
import type { IcmpOptions } from "../../src/iface/icmp.ts";
import { UdpLayer } from "../../src/udp/udp_layer.ts";
import { mulberry32 } from "../seeded_random.ts";
import {
  ethFrame,
  GW,
  IP_A,
  IP_C,
  ipv4Packet,
  MAC_A,
  MAC_B,
  MAC_C,
  parseEth,
  parseIpv4Packet,
  RecordingDevice,
} from "./_helpers.ts";

const ICMP = 1;
const UDP = 17;
const DNS_PORT = 53;
/** The resolver's open query port the attacker looks for. */
const OPEN_PORT = 40_123;
/** Ports probed per round (SAD DNS: as many as the global burst). */
const WINDOW = 50;

/** A UDP datagram without checksum (RFC 768: zero = none). */
function udp(srcPort: number, dstPort: number, payload = new Uint8Array(4)): Uint8Array {
  const d = new Uint8Array(8 + payload.length);
  d[0] = srcPort >> 8;
  d[1] = srcPort & 0xff;
  d[2] = dstPort >> 8;
  d[3] = dstPort & 0xff;
  d[4] = d.length >> 8;
  d[5] = d.length & 0xff;
  d.set(payload, 8);
  return d;
}

/** A victim host (192.0.2.10) with UDP; the DNS server (GW) and the attacker (IP_C) are on-link. */
function victim(icmp: IcmpOptions, openPort: number | null) {
  const dev = new RecordingDevice(MAC_A);
  const iface = new NetworkInterface(dev, { ipv4: "192.0.2.10/24", icmp });
  const udpLayer = new UdpLayer(iface, { unreachable: iface });
  iface.registerProtocol(UDP, udpLayer);
  iface.arp.learn(0, GW, MAC_B);
  iface.arp.learn(0, IP_C, MAC_C);
  if (openPort !== null) udpLayer.bind(openPort);
  const inject = (now: number, src: number, srcPort: number, dstPort: number) => {
    const p = ipv4Packet({ src, dst: IP_A, protocol: UDP, payload: udp(srcPort, dstPort) });
    const f = ethFrame(MAC_A, src === IP_C ? MAC_C : MAC_B, 0x0800, p);
    iface.receiveFrame(now, f, 0, f.length);
  };
  /** ICMP errors sent to `dst` since the last call. */
  const errorsTo = (dst: number) =>
    dev.take().map((f) => parseIpv4Packet(parseEth(f).payload)).filter((p) =>
      p.protocol === ICMP && p.dst === dst && p.payload[0] === 3
    ).length;
  return { iface, udpLayer, inject, errorsTo };
}

/**
 * One SAD DNS scan (CVE-2020-25705): each round, the attacker sends WINDOW
 * datagrams spoofed from the DNS server to guessed ports, then one from its own
 * address to a closed port, and notes whether that one drew an ICMP error.
 * Returns the attacker's observations, one per round.
 */
function sadDnsScan(openPort: number | null, rounds: number): number[] {
  const v = victim({ random: mulberry32(7) }, openPort);
  const seen: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const now = 1000 + r * 1000; // a full second between rounds: every bucket refills
    for (let i = 0; i < WINDOW; i++) v.inject(now, GW, DNS_PORT, 40_000 + r * WINDOW + i);
    v.errorsTo(GW);
    v.inject(now, IP_C, 4444, 1); // the verification probe, to a port that is surely closed
    seen.push(v.errorsTo(IP_C));
  }
  return seen;
}

Deno.test("IcmpLayer does not reveal an open UDP port through its error rate limit (SAD DNS)", () => {
  const rounds = 6; // windows 40000–40299: the open port 40123 is in the third
  const withOpenPort = sadDnsScan(OPEN_PORT, rounds);
  const without = sadDnsScan(null, rounds);
  // With one global bucket of 50 the third round's verification probe is answered only when a
  // port in the window was open. Errors to the spoofed server are capped by its own bucket now,
  // so the attacker sees the same thing whether or not the port is open.
  assert.deepEqual(withOpenPort, without, "the attacker's view depends on the open port");
  assert.deepEqual(without, new Array(rounds).fill(1));
});

Deno.test("IcmpLayer limits errors per destination and counts the refusals", () => {
  const v = victim({ random: () => 0.5 }, null);
  for (let i = 0; i < 20; i++) v.inject(0, GW, DNS_PORT, 1000 + i);
  assert.equal(v.errorsTo(GW), ICMP_PEER_BURST, "a burst of 6 per destination (Linux)");
  assert.equal(v.iface.icmp.stats.txRateLimitedPeer, 20 - ICMP_PEER_BURST);
  assert.equal(v.iface.icmp.stats.txRateLimited, 0, "the global budget was not touched");
  v.inject(0, IP_C, 4444, 1);
  assert.equal(v.errorsTo(IP_C), 1, "another destination still gets its errors");
  v.inject(999, GW, DNS_PORT, 1);
  assert.equal(v.errorsTo(GW), 0, "less than one interval later");
  v.inject(1000, GW, DNS_PORT, 1);
  assert.equal(v.errorsTo(GW), 1, "one error per second after the burst");
  assert.equal(v.udpLayer.stats.rxNoPort, 23);
});

/** Errors the victim sends at one instant to `sources` distinct addresses (one probe each). */
function globalBudgetAtOnce(random: () => number, sources: number): number {
  const v = victim({ random }, null);
  for (let i = 0; i < sources; i++) {
    const src = (0xc0000214 + i) | 0; // 192.0.2.20 + i: each its own destination
    const p = ipv4Packet({ src, dst: IP_A, protocol: UDP, payload: udp(4444, 1) });
    const f = ethFrame(MAC_A, MAC_B, 0x0800, p);
    v.iface.receiveFrame(0, f, 0, f.length);
  }
  return v.iface.icmp.stats.txErrors;
}

Deno.test("IcmpLayer's global error budget per interval is random, and replays per seed", () => {
  // Probes from 200 different sources: no destination's bucket binds, only the global budget.
  const counts = new Set<number>();
  for (let seed = 1; seed <= 20; seed++) {
    const n = globalBudgetAtOnce(mulberry32(seed), 200);
    assert.equal(globalBudgetAtOnce(mulberry32(seed), 200), n, "same seed, same budget");
    counts.add(n);
  }
  // Linux's fix: each error costs 0, 1 or 2 tokens, so the count an attacker would need to
  // exhaust the budget exactly is not the burst (50) but a random number around it.
  assert.ok(counts.size >= 5, `budgets seen: ${[...counts].join(", ")}`);
  assert.ok([...counts].some((n) => n !== ICMP_RATE_BURST));
  for (const n of counts) assert.ok(n >= ICMP_RATE_BURST / 2 && n <= 2 * ICMP_RATE_BURST, `${n}`);
});

Deno.test("IcmpRateLimiter refills the global budget at its rate, at most every 20 ms", () => {
  const l = new IcmpRateLimiter({ errorRatePerSec: 1000, errorBurst: 4, random: () => 0.5 });
  let dst = 1;
  for (let i = 0; i < 4; i++) assert.equal(l.allow(0, dst++), ICMP_RATE_ALLOWED);
  assert.equal(l.allow(0, dst++), ICMP_RATE_LIMITED_GLOBAL);
  assert.equal(l.allow(19, dst++), ICMP_RATE_LIMITED_GLOBAL, "no refill within 20 ms");
  assert.equal(l.globalCredit, 0);
  assert.equal(l.allow(20, dst++), ICMP_RATE_ALLOWED, "20 ms at 1000/s: capped at the burst");
  assert.equal(l.globalCredit, 3);
  // A refused destination costs no global credit.
  const peer = new IcmpRateLimiter({ errorPeerBurst: 1, random: () => 0.5 });
  assert.equal(peer.allow(0, 9), ICMP_RATE_ALLOWED);
  const credit = peer.globalCredit;
  assert.equal(peer.allow(0, 9), ICMP_RATE_LIMITED_PEER);
  assert.equal(peer.globalCredit, credit);
  assert.throws(() => new IcmpRateLimiter({ errorRatePerSec: 0 }), TypeError);
  assert.throws(() => new IcmpRateLimiter({ errorPeers: 0 }), TypeError);
});

Deno.test("IcmpRateLimiter keeps a bounded table and forgets the least recently used", () => {
  const l = new IcmpRateLimiter({ errorPeers: 3, errorPeerBurst: 1, random: () => 0 });
  for (const d of [1, 2, 3]) assert.equal(l.allow(0, d), ICMP_RATE_ALLOWED);
  assert.equal(l.allow(0, 1), ICMP_RATE_LIMITED_PEER); // 1 is now the most recently used
  assert.equal(l.allow(0, 4), ICMP_RATE_ALLOWED); // evicts 2
  assert.equal(l.peerCount, 3);
  assert.equal(l.peerEvictions, 1);
  assert.equal(l.allow(0, 3), ICMP_RATE_LIMITED_PEER, "3 was kept");
  assert.equal(l.allow(0, 2), ICMP_RATE_ALLOWED, "2 was forgotten: a new bucket");
  for (let d = 10; d < 10_000; d++) l.allow(0, d);
  assert.equal(l.peerCount, 3, "never more than the bound");
});

Deno.test("IcmpRateLimiter remembers each destination's bucket as its table grows to the bound", () => {
  const peers = 300; // past the first allocation of slots, below the bound
  const l = new IcmpRateLimiter({ errorPeers: peers, errorPeerBurst: 1, random: () => 0 });
  // Negative int32 keys too (addresses from 128.0.0.0 up).
  const dst = (i: number) => (0xc0000200 + i) | 0;
  for (let i = 0; i < peers; i++) assert.equal(l.allow(0, dst(i)), ICMP_RATE_ALLOWED);
  assert.equal(l.peerCount, peers);
  for (let i = 0; i < peers; i++) {
    assert.equal(l.allow(0, dst(i)), ICMP_RATE_LIMITED_PEER, `destination ${i} kept its bucket`);
  }
  assert.equal(l.peerEvictions, 0);
  // Every destination was used again in order, so the first is the least recently used.
  assert.equal(l.allow(0, dst(peers)), ICMP_RATE_ALLOWED);
  assert.equal(l.peerEvictions, 1);
  assert.equal(l.allow(0, dst(1)), ICMP_RATE_LIMITED_PEER, "the second was kept");
  assert.equal(l.allow(0, dst(0)), ICMP_RATE_ALLOWED, "the first was forgotten");
  // One interval later every kept bucket has its token back.
  assert.equal(l.allow(1000, dst(2)), ICMP_RATE_ALLOWED);
});
