/**
 * The hostile LAN (issue 16): a victim stack serves a download to a legitimate client and answers
 * its pings and UDP echoes while an attacker on the same `MemoryHub` sends, for the whole
 * transfer, a mix of every attack of the issue and random garbage frames. Used by the soak test
 * (`tests/testing/hostile_lan_test.ts`, which asserts that the download is byte-exact, that the
 * victim's pool and the process heap stay under fixed bounds and that the victim's counters show
 * each attack seen and dropped) and by the bench (`deno task bench`, goodput attacked /
 * unattacked in one run).
 *
 * ```
 *   victim 192.0.2.1 ── MemoryHub ── client 192.0.2.2   (download, ping, UDP echo)
 *                           │
 *                       attacker 192.0.2.66 (raw frames, spoofed sources)
 * ```
 *
 * The attacks, one kind per frame, round-robin with seeded randomness:
 * - `arp-pending`: echo requests and SYNs from on-link addresses that do not exist (each reply
 *   waits for an ARP resolution that never completes);
 * - `icmp-spoof`: forged ICMP port unreachables quoting a datagram of the victim's unconnected
 *   UDP echo socket;
 * - `udp-probe`: UDP to closed ports (each asks for an ICMP error: the rate limits);
 * - `cookie-guess`: ACKs with random numbers to the listener (SYN-cookie guesses);
 * - `fragments`: a fragment that would make the datagram longer than 65,535 bytes;
 * - `broadcast-tcp`: SYNs to the subnet's and the limited broadcast address;
 * - `arp-flood`: ARP requests and replies from random senders for other targets;
 * - `syn-flood`: SYNs from random off-link sources;
 * - `garbage`: random bytes behind an Ethernet header to the victim.
 *
 * Permissions: none (everything runs in memory).
 *
 * @module
 */

import { Stack, type StackStats } from "../stack.ts";
import { MemoryHub } from "../phy/memory_link.ts";
import { SeededRandom } from "../phy/fault_injector.ts";
import { internetChecksum, pseudoHeaderSum, UDP_CHECKSUM_OFFSET } from "../wire/checksum.ts";
import { write16 } from "../wire/view.ts";
import { parseIpv4, writeIpv4, writeMac } from "../wire/address.ts";
import type { TcpConn } from "../socket/tcp_conn.ts";
import {
  IP_PROTO_ICMP,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  IPV4_CHECKSUM_OFFSET,
  IPV4_DEFAULT_TTL,
  IPV4_DST_OFFSET,
  IPV4_FLAGS_FRAGMENT_OFFSET,
  IPV4_HEADER_LEN,
  IPV4_ID_OFFSET,
  IPV4_PROTOCOL_OFFSET,
  IPV4_SRC_OFFSET,
  IPV4_TOS_OFFSET,
  IPV4_TOTAL_LENGTH_OFFSET,
  IPV4_TTL_OFFSET,
  IPV4_VERSION_IHL_OFFSET,
} from "../wire/ipv4.ts";
import {
  ETHERNET_HEADER_LEN,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  MAC_BROADCAST,
} from "../wire/ethernet.ts";
import {
  ICMP_CHECKSUM_OFFSET,
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REQUEST,
  ICMP_HEADER_LEN,
  ICMP_ID_OFFSET,
  ICMP_UNREACH_PORT,
} from "../wire/icmp.ts";
import { UDP_HEADER_LEN } from "../wire/udp.ts";
import {
  TCP_ACK,
  TCP_ACK_OFFSET,
  TCP_CHECKSUM_OFFSET,
  TCP_DATA_OFFSET_BYTE,
  TCP_DST_PORT_OFFSET,
  TCP_FLAGS_OFFSET,
  TCP_HEADER_LEN,
  TCP_SEQ_OFFSET,
  TCP_SRC_PORT_OFFSET,
  TCP_SYN,
  TCP_WINDOW_OFFSET,
} from "../wire/tcp.ts";

/** The victim's address. */
export const HOSTILE_VICTIM = "192.0.2.1";
/** The legitimate client's address. */
export const HOSTILE_CLIENT = "192.0.2.2";
/** The attacker's own address (it also forges others). */
export const HOSTILE_ATTACKER = "192.0.2.66";
/** The port the victim serves the download on. */
export const HOSTILE_DOWNLOAD_PORT = 8080;
/** The victim's UDP echo port (an unconnected socket). */
export const HOSTILE_ECHO_PORT = 7;

/** Every kind of attack frame the attacker sends. */
export const ATTACK_KINDS = [
  "arp-pending",
  "icmp-spoof",
  "udp-probe",
  "cookie-guess",
  "fragments",
  "broadcast-tcp",
  "arp-flood",
  "syn-flood",
  "garbage",
] as const;
/** One kind of attack frame. */
export type AttackKind = typeof ATTACK_KINDS[number];

/** Options of {@link runHostileLan}. */
export interface HostileLanOptions {
  /** Bytes the victim serves (default 64 MiB). */
  bytes?: number;
  /** Whether the attacker sends (default true); false gives the unattacked baseline. */
  attack?: boolean;
  /** Seed of the attacker's choices (default 1). */
  seed?: number;
  /**
   * Attack frames per burst (default 16). A burst goes out for every
   * {@link ATTACK_BURST_EVERY_BYTES} the client reads — so the attack keeps pace with the download
   * however fast it runs — and every millisecond the event loop's timers get to run (so it goes
   * on while the download stalls).
   */
  framesPerBurst?: number;
  /** Milliseconds between the client's pings and UDP echoes (default 20). */
  probeIntervalMs?: number;
}

/** What {@link runHostileLan} measured. */
export interface HostileLanResult {
  /** Bytes the client received. */
  bytes: number;
  /** Whether every received byte equals the served pattern and none is missing. */
  intact: boolean;
  /** Wall-clock milliseconds of the download. */
  elapsedMs: number;
  /** Download goodput in Mbit/s. */
  goodputMbps: number;
  /** Echo requests the client sent, and replies it got. */
  pings: { sent: number; answered: number };
  /** UDP echoes the client sent to the victim's unconnected socket, and answers it got. */
  udpEchoes: { sent: number; answered: number };
  /** Whether the victim's UDP echo loop still ran at the end (no ICMP error ended it). */
  echoServerAlive: boolean;
  /** Attack frames sent, per kind. */
  attackFrames: Record<AttackKind, number>;
  /** The victim's counters at the end. */
  victim: StackStats;
  /** Victim pool: slots, reserved slots, and the most in use at any sample. */
  pool: { capacity: number; reserved: number; maxInUse: number };
  /** `Deno.memoryUsage().heapUsed` before the run and its largest sample during it. */
  heap: { startBytes: number; maxBytes: number };
}

/** One pattern block: byte i of the download is `i % PATTERN_MODULUS`. */
const PATTERN_MODULUS = 251;
/** A block of the pattern whose length is a multiple of the modulus (so blocks repeat it). */
const PATTERN_BLOCK_BYTES = PATTERN_MODULUS * 256;
const DEFAULT_BYTES = 64 * 1024 * 1024;
const DEFAULT_FRAMES_PER_BURST = 16;
/** Download bytes between two attack bursts sent from the client's read loop. */
export const ATTACK_BURST_EVERY_BYTES = 32 * 1024;
const DEFAULT_PROBE_INTERVAL_MS = 20;
const PING_TIMEOUT_MS = 2000;
const READ_BUFFER_BYTES = 64 * 1024;
const ATTACKER_MAC = 0x02_66_66_66_66_66;
/** Fragment offset (bytes) and length of the oversized fragment: it ends past 65,535. */
const OVERSIZED_FRAGMENT_OFFSET = 65_000;
const OVERSIZED_FRAGMENT_BYTES = 600;
/** Largest garbage frame (an Ethernet frame at MTU 1500). */
const MAX_FRAME_BYTES = 1514;
/**
 * Download bytes between two heap samples (`Deno.memoryUsage()` reads /proc: ~20 µs, so it is not
 * taken on every read). The same cadence attacked or not, so the goodput ratio does not pay for
 * it; the probe loop samples too, every {@link HostileLanOptions.probeIntervalMs}, so stalls are
 * covered.
 */
const HEAP_SAMPLE_EVERY_BYTES = 1024 * 1024;
/** First on-link address that no host on the hub has (192.0.2.100–199). */
const ABSENT_NEIGHBOUR_BASE = parseIpv4("192.0.2.100")!;
const ABSENT_NEIGHBOURS = 100;
/** The subnet's broadcast address and the limited broadcast address. */
const SUBNET_BROADCAST = parseIpv4("192.0.2.255")!;
const LIMITED_BROADCAST = parseIpv4("255.255.255.255")!;
/** ARP senders of the flood (192.0.2.128–227) and their targets (192.0.2.230–249). */
const ARP_FLOOD_SENDER_BASE = parseIpv4("192.0.2.128")!;
const ARP_FLOOD_SENDERS = 100;
const ARP_FLOOD_TARGET_BASE = parseIpv4("192.0.2.230")!;
const ARP_FLOOD_TARGETS = 20;
/** Off-link sources of the SYN flood (203.0.113.0/24). */
const SYN_FLOOD_SOURCE_BASE = parseIpv4("203.0.113.0")!;
const SYN_FLOOD_SOURCES = 256;
/** 2^32: a draw of the seeded generator times this is its 32-bit integer. */
const TWO_POW_32 = 0x1_0000_0000;

/**
 * Runs the hostile-LAN scenario once and reports what happened; see the module documentation.
 *
 * @param opts size, attack on/off, seed, attack intensity
 * @returns the measurements and the victim's counters
 *
 * @example
 * ```ts
 * import { runHostileLan } from "./hostile_lan.ts";
 * const r = await runHostileLan({ bytes: 256 * 1024 });
 * console.assert(r.intact && r.echoServerAlive);
 * ```
 */
export async function runHostileLan(opts: HostileLanOptions = {}): Promise<HostileLanResult> {
  const total = opts.bytes ?? DEFAULT_BYTES;
  if (!Number.isInteger(total) || total < 1) {
    throw new RangeError(`bytes must be a positive integer, got ${total}`);
  }
  const attack = opts.attack ?? true;
  const burst = opts.framesPerBurst ?? DEFAULT_FRAMES_PER_BURST;
  const probeMs = opts.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
  const hub = new MemoryHub();
  const victimDevice = hub.attach({ name: "victim" });
  const clientDevice = hub.attach({ name: "client" });
  const attackerDevice = hub.attach({ name: "attacker", mac: ATTACKER_MAC });
  const victim = new Stack({ device: victimDevice, ipv4: `${HOSTILE_VICTIM}/24` });
  const client = new Stack({ device: clientDevice, ipv4: `${HOSTILE_CLIENT}/24` });
  const attacker = new Attacker(opts.seed ?? 1, victimDevice.capabilities.mac);
  const heap = { startBytes: Deno.memoryUsage().heapUsed, maxBytes: 0 };
  const pool = victim.iface.pool;
  const poolStats = { capacity: pool.capacity ?? 0, reserved: pool.reserved ?? 0, maxInUse: 0 };
  const samplePool = () => {
    poolStats.maxInUse = Math.max(poolStats.maxInUse, pool.inUse);
  };
  const sample = () => {
    heap.maxBytes = Math.max(heap.maxBytes, Deno.memoryUsage().heapUsed);
    samplePool();
  };
  try {
    await victim.start();
    await client.start();
    const listener = victim.listen({ port: HOSTILE_DOWNLOAD_PORT });
    const serving = serveDownload(listener, total);
    const echo = victim.listenDatagram({ port: HOSTILE_ECHO_PORT });
    let echoServerAlive = true;
    const echoLoop = (async () => {
      try {
        for (;;) {
          const [data, from] = await echo.receive();
          await echo.send(data, from);
        }
      } catch {
        echoServerAlive = false;
      }
    })();

    let done = false;
    const attackLoop = (async () => {
      while (attack && !done) {
        for (let i = 0; i < burst; i++) attacker.sendOne(attackerDevice);
        samplePool();
        await sleep(1);
      }
    })();
    const pings = { sent: 0, answered: 0 };
    const udpEchoes = { sent: 0, answered: 0 };
    const udp = client.listenDatagram({ port: 0 });
    const answers = (async () => {
      try {
        for (;;) {
          await udp.receive();
          udpEchoes.answered++;
        }
      } catch {
        // closed at the end of the run
      }
    })();
    const probeLoop = (async () => {
      while (!done) {
        pings.sent++;
        const r = await client.ping(HOSTILE_VICTIM, { count: 1, timeoutMs: PING_TIMEOUT_MS });
        pings.answered += r.replies.length;
        udpEchoes.sent++;
        await udp.send(new Uint8Array([udpEchoes.sent & 0xff]), {
          hostname: HOSTILE_VICTIM,
          port: HOSTILE_ECHO_PORT,
        });
        sample();
        await sleep(probeMs);
      }
    })();

    const t0 = performance.now();
    const conn = await client.connect({ hostname: HOSTILE_VICTIM, port: HOSTILE_DOWNLOAD_PORT });
    let nextBurstAt = ATTACK_BURST_EVERY_BYTES;
    let nextHeapSampleAt = HEAP_SAMPLE_EVERY_BYTES;
    const { bytes, intact } = await readPattern(conn, (read) => {
      // Sampling is the same attacked or not: only the attack differs between the two runs.
      if (read >= nextHeapSampleAt) {
        nextHeapSampleAt = read + HEAP_SAMPLE_EVERY_BYTES;
        sample();
      } else samplePool();
      if (!attack) return;
      for (; read >= nextBurstAt; nextBurstAt += ATTACK_BURST_EVERY_BYTES) {
        for (let i = 0; i < burst; i++) attacker.sendOne(attackerDevice);
      }
    });
    const elapsedMs = performance.now() - t0;
    done = true;
    await Promise.all([attackLoop, probeLoop, serving]);
    // The last echo's answer may still be on its way: one round trip of grace.
    await sleep(probeMs);
    udp.close();
    await answers;
    sample();
    const echoAlive = echoServerAlive;
    echo.close();
    await echoLoop;
    listener.close();
    return {
      bytes,
      intact: intact && bytes === total,
      elapsedMs,
      goodputMbps: (bytes * 8) / (elapsedMs * 1000),
      pings,
      udpEchoes,
      echoServerAlive: echoAlive,
      attackFrames: attacker.sent,
      victim: victim.stats(),
      pool: poolStats,
      heap,
    };
  } finally {
    await client.close();
    await victim.close();
    attackerDevice.close();
  }
}

function sleep(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms));
}

/** Accepts one connection and writes `total` bytes of the pattern, then closes. */
async function serveDownload(
  listener: AsyncIterable<TcpConn> & { accept(): Promise<TcpConn> },
  total: number,
): Promise<void> {
  const conn = await listener.accept();
  const block = new Uint8Array(PATTERN_BLOCK_BYTES);
  for (let i = 0; i < block.length; i++) block[i] = i % PATTERN_MODULUS;
  try {
    let sent = 0;
    while (sent < total) {
      const n = Math.min(block.length, total - sent);
      let off = 0;
      while (off < n) off += await conn.write(block.subarray(off, n));
      sent += n;
    }
    await conn.closeWrite();
  } finally {
    conn.close();
  }
}

/** Reads to the end, checking every byte against the pattern without keeping the data. */
async function readPattern(
  conn: TcpConn,
  onRead: (bytes: number) => void,
): Promise<{ bytes: number; intact: boolean }> {
  const buf = new Uint8Array(READ_BUFFER_BYTES);
  let bytes = 0;
  let intact = true;
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      let expected = bytes % PATTERN_MODULUS;
      for (let i = 0; i < n; i++) {
        if (buf[i] !== expected) intact = false;
        expected = expected + 1 === PATTERN_MODULUS ? 0 : expected + 1;
      }
      bytes += n;
      onRead(bytes);
    }
  } finally {
    conn.close();
  }
  return { bytes, intact };
}

/** Builds and sends the attack frames, one kind after another, from a seeded generator. */
class Attacker {
  readonly sent: Record<AttackKind, number> = Object.fromEntries(
    ATTACK_KINDS.map((k) => [k, 0]),
  ) as Record<AttackKind, number>;
  #random: SeededRandom;
  #victimMac: number;
  #victim = parseIpv4(HOSTILE_VICTIM)!;
  #client = parseIpv4(HOSTILE_CLIENT)!;
  #self = parseIpv4(HOSTILE_ATTACKER)!;
  #frame = new Uint8Array(MAX_FRAME_BYTES);
  #next = 0;

  constructor(seed: number, victimMac: number) {
    this.#random = new SeededRandom(seed);
    this.#victimMac = victimMac;
  }

  /** Sends the next attack frame through `device`. */
  sendOne(device: { transmit(b: Uint8Array, o: number, l: number): boolean }): void {
    const kind = ATTACK_KINDS[this.#next];
    this.#next = (this.#next + 1) % ATTACK_KINDS.length;
    const length = this.#build(kind);
    device.transmit(this.#frame, 0, length);
    this.sent[kind]++;
  }

  #int(n: number): number {
    return Math.floor(this.#random.next() * n);
  }

  #u32(): number {
    return (this.#int(0x10000) * 0x10000 + this.#int(0x10000)) >>> 0;
  }

  /**
   * Fills `f[start, end)` with random bytes, four per draw (the generator's 32 bits): the attacker
   * runs in the victim's process, so its own cost is kept small.
   */
  #randomBytes(start: number, end: number): void {
    const f = this.#frame;
    let i = start;
    for (; i + 4 <= end; i += 4) {
      const word = this.#random.next() * TWO_POW_32;
      f[i] = word >>> 24;
      f[i + 1] = word >>> 16;
      f[i + 2] = word >>> 8;
      f[i + 3] = word;
    }
    for (; i < end; i++) f[i] = this.#int(256);
  }

  /** An on-link address that no host on the hub has (192.0.2.100–199). */
  #absentNeighbour(): number {
    return (ABSENT_NEIGHBOUR_BASE + this.#int(ABSENT_NEIGHBOURS)) | 0;
  }

  #build(kind: AttackKind): number {
    const f = this.#frame;
    const randomMac = 0x02_00_00_00_00_00 + this.#int(0xff_ffff);
    switch (kind) {
      case "arp-pending": {
        const src = this.#absentNeighbour();
        if (this.#int(2) === 0) {
          return this.#icmpEcho(randomMac, src, this.#victim);
        }
        return this.#tcp(randomMac, this.#victimMac, src, this.#victim, {
          sport: 1024 + this.#int(60000),
          dport: HOSTILE_DOWNLOAD_PORT,
          flags: TCP_SYN,
          seq: this.#u32(),
          ack: 0,
        });
      }
      case "icmp-spoof":
        return this.#portUnreachableQuotingEcho();
      case "udp-probe":
        return this.#udp(ATTACKER_MAC, this.#self, this.#victim, 1024 + this.#int(60000), 9);
      case "cookie-guess":
        return this.#tcp(ATTACKER_MAC, this.#victimMac, this.#self, this.#victim, {
          sport: 1024 + this.#int(60000),
          dport: HOSTILE_DOWNLOAD_PORT,
          flags: TCP_ACK,
          seq: this.#u32(),
          ack: this.#u32(),
        });
      case "fragments":
        return this.#oversizedFragment();
      case "broadcast-tcp": {
        const dst = this.#int(2) === 0 ? SUBNET_BROADCAST : LIMITED_BROADCAST;
        return this.#tcp(ATTACKER_MAC, MAC_BROADCAST, this.#self, dst, {
          sport: 1024 + this.#int(60000),
          dport: HOSTILE_DOWNLOAD_PORT,
          flags: TCP_SYN,
          seq: this.#u32(),
          ack: 0,
        });
      }
      case "arp-flood":
        return this.#arp(randomMac, (ARP_FLOOD_SENDER_BASE + this.#int(ARP_FLOOD_SENDERS)) | 0);
      case "syn-flood":
        return this.#tcp(
          ATTACKER_MAC,
          this.#victimMac,
          (SYN_FLOOD_SOURCE_BASE + this.#int(SYN_FLOOD_SOURCES)) | 0,
          this.#victim,
          {
            sport: 1024 + this.#int(60000),
            dport: HOSTILE_DOWNLOAD_PORT,
            flags: TCP_SYN,
            seq: this.#u32(),
            ack: 0,
          },
        );
      case "garbage": {
        const length = ETHERNET_HEADER_LEN + this.#int(MAX_FRAME_BYTES - ETHERNET_HEADER_LEN);
        this.#randomBytes(0, length);
        writeMac(f, 0, this.#victimMac);
        writeMac(f, 6, ATTACKER_MAC);
        // Mostly IPv4 so the parser sees it; the rest other EtherTypes (ARP, unknown).
        const r = this.#int(4);
        const type = r < 2 ? ETHERTYPE_IPV4 : r === 2 ? ETHERTYPE_ARP : this.#int(0x10000);
        f[12] = type >>> 8;
        f[13] = type & 0xff;
        return length;
      }
    }
  }

  #ethernet(srcMac: number, dstMac: number, type: number): void {
    writeMac(this.#frame, 0, dstMac);
    writeMac(this.#frame, 6, srcMac);
    this.#frame[12] = type >>> 8;
    this.#frame[13] = type & 0xff;
  }

  /** Writes an IPv4 header at 14 and returns the offset of its payload. */
  #ipv4(src: number, dst: number, protocol: number, payload: number, fragment = 0): number {
    const f = this.#frame;
    const o = ETHERNET_HEADER_LEN;
    const total = IPV4_HEADER_LEN + payload;
    f[o + IPV4_VERSION_IHL_OFFSET] = 0x45;
    f[o + IPV4_TOS_OFFSET] = 0;
    write16(f, o + IPV4_TOTAL_LENGTH_OFFSET, total);
    const id = this.#int(0x10000);
    write16(f, o + IPV4_ID_OFFSET, id);
    write16(f, o + IPV4_FLAGS_FRAGMENT_OFFSET, fragment);
    f[o + IPV4_TTL_OFFSET] = IPV4_DEFAULT_TTL;
    f[o + IPV4_PROTOCOL_OFFSET] = protocol;
    write16(f, o + IPV4_CHECKSUM_OFFSET, 0);
    writeIpv4(f, o + IPV4_SRC_OFFSET, src);
    writeIpv4(f, o + IPV4_DST_OFFSET, dst);
    const sum = internetChecksum(f, o, IPV4_HEADER_LEN);
    write16(f, o + IPV4_CHECKSUM_OFFSET, sum);
    return o + IPV4_HEADER_LEN;
  }

  #icmpEcho(srcMac: number, src: number, dst: number): number {
    this.#ethernet(srcMac, this.#victimMac, ETHERTYPE_IPV4);
    const payload = 32;
    const o = this.#ipv4(src, dst, IP_PROTO_ICMP, ICMP_HEADER_LEN + payload);
    const f = this.#frame;
    f.fill(0, o, o + ICMP_HEADER_LEN + payload);
    f[o] = ICMP_ECHO_REQUEST;
    f[o + ICMP_ID_OFFSET] = 0x12;
    f[o + 6] = this.#int(256); // the sequence number's high byte
    const sum = internetChecksum(f, o, ICMP_HEADER_LEN + payload);
    write16(f, o + ICMP_CHECKSUM_OFFSET, sum);
    return o + ICMP_HEADER_LEN + payload;
  }

  #udp(srcMac: number, src: number, dst: number, sport: number, payload: number): number {
    this.#ethernet(srcMac, this.#victimMac, ETHERTYPE_IPV4);
    const length = UDP_HEADER_LEN + payload;
    const o = this.#ipv4(src, dst, IP_PROTO_UDP, length);
    const f = this.#frame;
    const dport = 1024 + this.#int(60000);
    f[o] = sport >>> 8;
    f[o + 1] = sport & 0xff;
    f[o + 2] = dport >>> 8;
    f[o + 3] = dport & 0xff;
    f[o + 4] = length >>> 8;
    f[o + 5] = length & 0xff;
    write16(f, o + UDP_CHECKSUM_OFFSET, 0);
    this.#randomBytes(o + UDP_HEADER_LEN, o + UDP_HEADER_LEN + payload);
    const sum =
      internetChecksum(f, o, length, pseudoHeaderSum(src >>> 0, dst >>> 0, IP_PROTO_UDP, length)) ||
      0xffff;
    write16(f, o + UDP_CHECKSUM_OFFSET, sum);
    return o + length;
  }

  #tcp(
    srcMac: number,
    dstMac: number,
    src: number,
    dst: number,
    s: { sport: number; dport: number; flags: number; seq: number; ack: number },
  ): number {
    this.#ethernet(srcMac, dstMac, ETHERTYPE_IPV4);
    const o = this.#ipv4(src, dst, IP_PROTO_TCP, TCP_HEADER_LEN);
    const f = this.#frame;
    f.fill(0, o, o + TCP_HEADER_LEN);
    write16(f, o + TCP_SRC_PORT_OFFSET, s.sport);
    write16(f, o + TCP_DST_PORT_OFFSET, s.dport);
    writeIpv4(f, o + TCP_SEQ_OFFSET, s.seq | 0);
    writeIpv4(f, o + TCP_ACK_OFFSET, s.ack | 0);
    f[o + TCP_DATA_OFFSET_BYTE] = (TCP_HEADER_LEN / 4) << 4;
    f[o + TCP_FLAGS_OFFSET] = s.flags;
    write16(f, o + TCP_WINDOW_OFFSET, 0xffff);
    const sum = internetChecksum(
      f,
      o,
      TCP_HEADER_LEN,
      pseudoHeaderSum(src >>> 0, dst >>> 0, IP_PROTO_TCP, TCP_HEADER_LEN),
    );
    write16(f, o + TCP_CHECKSUM_OFFSET, sum);
    return o + TCP_HEADER_LEN;
  }

  /** A port unreachable "from the client" quoting a datagram victim:7 → client:random. */
  #portUnreachableQuotingEcho(): number {
    this.#ethernet(ATTACKER_MAC, this.#victimMac, ETHERTYPE_IPV4);
    const quoted = IPV4_HEADER_LEN + UDP_HEADER_LEN;
    const o = this.#ipv4(this.#client, this.#victim, IP_PROTO_ICMP, ICMP_HEADER_LEN + quoted);
    const f = this.#frame;
    f.fill(0, o, o + ICMP_HEADER_LEN + quoted);
    f[o] = ICMP_DEST_UNREACHABLE;
    f[o + 1] = ICMP_UNREACH_PORT;
    const q = o + ICMP_HEADER_LEN;
    f[q + IPV4_VERSION_IHL_OFFSET] = 0x45;
    write16(f, q + IPV4_TOTAL_LENGTH_OFFSET, quoted);
    f[q + IPV4_TTL_OFFSET] = IPV4_DEFAULT_TTL;
    f[q + IPV4_PROTOCOL_OFFSET] = IP_PROTO_UDP;
    writeIpv4(f, q + IPV4_SRC_OFFSET, this.#victim);
    writeIpv4(f, q + IPV4_DST_OFFSET, this.#client);
    const qsum = internetChecksum(f, q, IPV4_HEADER_LEN);
    write16(f, q + IPV4_CHECKSUM_OFFSET, qsum);
    const u = q + IPV4_HEADER_LEN;
    f[u] = 0;
    f[u + 1] = HOSTILE_ECHO_PORT;
    const dport = 1024 + this.#int(60000);
    f[u + 2] = dport >>> 8;
    f[u + 3] = dport & 0xff;
    f[u + 5] = UDP_HEADER_LEN;
    const sum = internetChecksum(f, o, ICMP_HEADER_LEN + quoted);
    write16(f, o + ICMP_CHECKSUM_OFFSET, sum);
    return o + ICMP_HEADER_LEN + quoted;
  }

  /** A fragment whose end lies past 65,535 bytes (RFC 791: the datagram cannot be that long). */
  #oversizedFragment(): number {
    this.#ethernet(ATTACKER_MAC, this.#victimMac, ETHERTYPE_IPV4);
    const o = this.#ipv4(
      this.#self,
      this.#victim,
      IP_PROTO_UDP,
      OVERSIZED_FRAGMENT_BYTES,
      OVERSIZED_FRAGMENT_OFFSET / 8,
    );
    this.#randomBytes(o, o + OVERSIZED_FRAGMENT_BYTES);
    return o + OVERSIZED_FRAGMENT_BYTES;
  }

  /** An ARP request or reply from a random sender about another host (not to the victim). */
  #arp(senderMac: number, senderIp: number): number {
    const reply = this.#int(2) === 0;
    this.#ethernet(senderMac, reply ? this.#victimMac : MAC_BROADCAST, ETHERTYPE_ARP);
    const f = this.#frame;
    const o = ETHERNET_HEADER_LEN;
    f[o] = 0;
    f[o + 1] = 1; // Ethernet
    f[o + 2] = 0x08;
    f[o + 3] = 0x00; // IPv4
    f[o + 4] = 6;
    f[o + 5] = 4;
    f[o + 6] = 0;
    f[o + 7] = reply ? 2 : 1;
    writeMac(f, o + 8, senderMac);
    writeIpv4(f, o + 14, senderIp);
    writeMac(f, o + 18, reply ? this.#victimMac : 0);
    // The target is another absent host, never the victim: these are not for us.
    writeIpv4(f, o + 24, (ARP_FLOOD_TARGET_BASE + this.#int(ARP_FLOOD_TARGETS)) | 0);
    return o + 28;
  }
}
