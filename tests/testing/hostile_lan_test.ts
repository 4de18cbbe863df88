// The hostile-LAN soak (issue 16): a victim serves 64 MiB to a client and answers its pings and
// UDP echoes while an attacker on the same hub sends every attack of the issue and random garbage
// for the whole transfer. The download must be byte-exact, the victim's pool and the heap must stay
// under fixed bounds, the victim must keep answering, and its counters must show each attack seen
// and dropped. The goodput ratio (attacked / unattacked) is the bench's, not an assertion here.
import assert from "node:assert/strict";
import { type AttackKind, runHostileLan } from "../../src/testing/hostile_lan.ts";
import type { StackStats } from "../../src/stack.ts";
import { DEFAULT_ARP_MAX_QUEUED_TOTAL } from "../../src/iface/arp_cache.ts";

const DOWNLOAD_BYTES = 64 * 1024 * 1024;
/** Heap growth allowed over the whole run (the client checks the download as it reads). */
const HEAP_GROWTH_BOUND_BYTES = 128 * 1024 * 1024;

/** For each attack: the victim counters that show it was seen and dropped (their sum must be > 0). */
const DROPPED_BY: Record<AttackKind, (s: StackStats) => number> = {
  // Replies to absent neighbours wait for ARP, bounded: the global share drops the excess.
  "arp-pending": (s) => s.arp.pendingDroppedGlobal + s.arp.queueOverflows + s.arp.queuedDropped,
  // Forged port unreachables for an unconnected socket are not delivered to it.
  "icmp-spoof": (s) => s.udp.icmpUnconnected,
  // Probes of closed ports: each is counted; the ICMP errors they ask for are rate limited.
  "udp-probe": (s) => Math.min(s.udp.rxNoPort, s.icmp.txRateLimitedPeer + s.icmp.txRateLimited),
  // ACKs that are not cookies of a recent overflow get an RST without being checked.
  "cookie-guess": (s) => s.tcp.synCookiesUnexpected + s.tcp.synCookiesFailed,
  // Fragments that would make a datagram longer than 65,535 bytes.
  "fragments": (s) => s.ipv4.rxReassemblyTooLong,
  // Segments to broadcast addresses are discarded unanswered.
  "broadcast-tcp": (s) => s.tcp.broadcastDrops,
  // ARP from strangers about other hosts creates no entry.
  "arp-flood": (s) => s.arp.rxOtherTarget + s.arp.unsolicitedIgnored,
  // SYN-ACKs to unroutable forged sources go nowhere; the SYN queue overflows into cookies.
  "syn-flood": (s) => s.ipv4.txNoRoute + s.tcp.listenOverflows,
  // Garbage fails a parser somewhere (IPv4, ARP, or an unknown EtherType).
  "garbage": (s) =>
    s.ipv4.rxBadVersion + s.ipv4.rxBadHeaderLength + s.ipv4.rxBadTotalLength +
    s.ipv4.rxBadChecksum + s.ipv4.rxTruncated + s.arp.rxUnsupported + s.arp.rxTruncated +
    s.link.rxUnknownEthertype,
};

Deno.test("Stack keeps serving a byte-exact download, pings and UDP echoes on a hostile LAN", async () => {
  const r = await runHostileLan({ bytes: DOWNLOAD_BYTES, attack: true, seed: 16 });
  assert.equal(r.bytes, DOWNLOAD_BYTES, "the download is complete");
  assert.ok(r.intact, "the download is byte-exact");
  assert.ok(r.pings.sent > 0 && r.pings.answered === r.pings.sent, JSON.stringify(r.pings));
  assert.ok(r.echoServerAlive, "the unconnected UDP echo socket still serves");
  assert.ok(r.udpEchoes.answered >= r.udpEchoes.sent - 1, JSON.stringify(r.udpEchoes));

  // Bounded: the pool never ran dry, packets waiting for ARP kept to their share, the heap flat.
  assert.ok(r.pool.maxInUse < r.pool.capacity - r.pool.reserved, JSON.stringify(r.pool));
  assert.ok(r.victim.arp.pendingPackets <= DEFAULT_ARP_MAX_QUEUED_TOTAL);
  assert.ok(
    r.heap.maxBytes - r.heap.startBytes < HEAP_GROWTH_BOUND_BYTES,
    `heap grew by ${r.heap.maxBytes - r.heap.startBytes} bytes`,
  );

  // Each attack was sent and the victim's counters show it seen and dropped.
  const unseen = Object.entries(DROPPED_BY)
    .filter(([kind, dropped]) =>
      r.attackFrames[kind as AttackKind] === 0 || dropped(r.victim) === 0
    )
    .map(([kind]) => `${kind} (sent ${r.attackFrames[kind as AttackKind]})`);
  assert.deepEqual(unseen, [], "attacks the victim's counters do not show");
});
