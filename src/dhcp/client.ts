/**
 * {@link DhcpClient}: the DHCPv4 client state machine of RFC 2131 §4.4
 * (figure 5), synchronous and driven by `(now, input)` like every engine
 * below src/socket: the stack hands it received DHCP messages and ARP
 * packets and calls {@link DhcpClient.poll} at {@link DhcpClient.nextDeadline};
 * it talks back through a {@link DhcpClientHost} (send a message, send an
 * ARP probe, configure or remove the address).
 *
 * INIT → SELECTING (DHCPDISCOVER, broadcast) → REQUESTING (DHCPREQUEST for
 * the first acceptable DHCPOFFER) → PROBING (RFC 5227 §2.1.1: ARP probes for
 * the acknowledged address; a conflict → DHCPDECLINE, wait, INIT) → BOUND →
 * at T1 RENEWING (DHCPREQUEST unicast to the server) → at T2 REBINDING
 * (DHCPREQUEST broadcast) → at expiry the address is removed and the client
 * starts over. DHCPNAK restarts it. {@link DhcpClient.release} sends
 * DHCPRELEASE (RFC 2131 §4.4.6).
 *
 * Retransmission (RFC 2131 §4.1): 4 s, doubling to at most 64 s, each
 * randomized by ±1 s from the injectable `random` source; RENEWING and
 * REBINDING wait half the time left to T2 / expiry, at least 60 s
 * (§4.4.5). Every reply is checked (BOOTREPLY, our xid, our chaddr, a type
 * that fits the state, a usable address, a server identifier, a lease time,
 * an on-link router); anything else is dropped and counted, never thrown.
 *
 * @module
 */

import { formatIpv4 } from "../wire/address.ts";
import {
  BOOTREPLY,
  BOOTREQUEST,
  DHCP_INFINITE_LEASE,
  DHCP_OPT_DNS,
  DHCP_OPT_LEASE_TIME,
  DHCP_OPT_MTU,
  DHCP_OPT_REBINDING_TIME,
  DHCP_OPT_RENEWAL_TIME,
  DHCP_OPT_ROUTER,
  DHCP_OPT_SUBNET_MASK,
  DHCPACK,
  DHCPDECLINE,
  DHCPDISCOVER,
  DHCPNAK,
  DHCPOFFER,
  DHCPRELEASE,
  DhcpRepr,
  DHCPREQUEST,
  newDhcpRepr,
} from "../wire/dhcp.ts";

/** Where the client is in RFC 2131 figure 5 (plus RFC 5227 probing and the wait after a decline). */
export type DhcpState =
  | "init"
  | "selecting"
  | "requesting"
  | "probing"
  | "bound"
  | "renewing"
  | "rebinding"
  | "declined"
  | "stopped";

/** A lease as the client holds it (times on the stack's clock, ms). */
export interface DhcpLease {
  /** The leased address (int32). */
  address: number;
  /** Prefix length from the subnet mask (option 1; classful default without it). */
  prefixLength: number;
  /** The first on-link router (option 3), or 0. */
  router: number;
  /** DNS servers (option 6). */
  dnsServers: number[];
  /** Interface MTU (option 26), or 0. */
  mtu: number;
  /** The server identifier (option 54). */
  server: number;
  /** Lease time in seconds (Infinity for an infinite lease). */
  leaseTimeS: number;
  /** When the lease was granted (the request's send time, RFC 2131 §4.4.1). */
  obtainedMs: number;
  /** T1: when RENEWING starts. */
  renewAtMs: number;
  /** T2: when REBINDING starts. */
  rebindAtMs: number;
  /** When the lease expires. */
  expiresAtMs: number;
}

/** What the client needs from its stack. */
export interface DhcpClientHost {
  /**
   * Sends a DHCP message from UDP port 68 to port 67.
   *
   * @param src our address (0 before a lease)
   * @param dst the server, or 255.255.255.255
   * @returns false when it could not leave (counted by the client)
   */
  sendMessage(nowMs: number, bytes: Uint8Array, length: number, src: number, dst: number): boolean;
  /** Sends one ARP probe for `ip` (RFC 5227 §2.1.1: sender IP 0, target `ip`). */
  sendArpProbe(nowMs: number, ip: number): void;
  /** Puts the lease's address, router, DNS and MTU on the interface (also after a renewal). */
  bound(nowMs: number, lease: DhcpLease): void;
  /** Removes the leased address (expiry, NAK, release). */
  unbound(nowMs: number): void;
}

/** Tunables of {@link DhcpClient}; the defaults are the RFCs'. */
export interface DhcpClientOptions {
  /** Our MAC (chaddr and client identifier). */
  mac: number;
  /** Uniform random numbers in [0, 1): xid, jitter, probe waits. Default `Math.random`. */
  random?: () => number;
  /** Option 12 sent in DISCOVER and REQUEST. */
  hostname?: string;
  /** Largest DHCP message we accept (option 57); default 1472 (1500-byte MTU − 28). */
  maxMessageSize?: number;
  /** First retransmission timeout, ms (RFC 2131 §4.1: 4 s). */
  retransmitInitialMs?: number;
  /** Largest retransmission timeout, ms (64 s). */
  retransmitMaxMs?: number;
  /** Jitter added to each retransmission timeout, ± ms (1 s). */
  retransmitJitterMs?: number;
  /** DHCPREQUESTs in REQUESTING before starting over (default 4). */
  requestAttempts?: number;
  /** Smallest wait between RENEWING/REBINDING retransmissions, ms (RFC 2131 §4.4.5: 60 s). */
  renewMinRetransmitMs?: number;
  /** RFC 5227 §2.1.1: probes (PROBE_NUM 3; 0 = no probing). */
  probeCount?: number;
  /** Random wait before the first probe, at most (PROBE_WAIT 1 s). */
  probeWaitMs?: number;
  /** Smallest gap between probes (PROBE_MIN 1 s). */
  probeMinMs?: number;
  /** Largest gap between probes (PROBE_MAX 2 s). */
  probeMaxMs?: number;
  /** Wait after the last probe before using the address (ANNOUNCE_WAIT 2 s). */
  announceWaitMs?: number;
  /** Wait after a DHCPDECLINE before a new DISCOVER (RFC 2131 §3.1.5: at least 10 s). */
  declineWaitMs?: number;
  /** Shortest lease accepted as it is; shorter ones are counted and lengthened (default 10 s). */
  minLeaseS?: number;
}

/** Counters of a {@link DhcpClient}. */
export interface DhcpStats {
  /** DHCPDISCOVERs sent (retransmissions included). */
  txDiscover: number;
  /** DHCPREQUESTs sent (selecting, renewing, rebinding). */
  txRequest: number;
  /** DHCPDECLINEs sent. */
  txDecline: number;
  /** DHCPRELEASEs sent. */
  txRelease: number;
  /** Messages the host could not send. */
  txFailed: number;
  /** ARP probes sent. */
  probes: number;
  /** DHCPOFFERs taken. */
  rxOffer: number;
  /** DHCPACKs taken. */
  rxAck: number;
  /** DHCPNAKs taken. */
  rxNak: number;
  /** Dropped: not a DHCP message (parse failure). */
  rxMalformed: number;
  /** Dropped: a BOOTREQUEST, or no message type. */
  rxNotReply: number;
  /** Dropped: another transaction's xid. */
  rxWrongXid: number;
  /** Dropped: another client's chaddr. */
  rxWrongClient: number;
  /** Dropped: a message type the state does not expect. */
  rxUnexpected: number;
  /** Dropped: an offer or ACK with an unusable address, no server id, no lease time, or another server. */
  rxBadOffer: number;
  /** Leases shorter than `minLeaseS`, lengthened. */
  shortLeases: number;
  /** Routers off the leased subnet, ignored. */
  offLinkRouters: number;
  /** Address conflicts seen while probing (→ DHCPDECLINE). */
  conflicts: number;
  /** Leases renewed (ACK in RENEWING or REBINDING). */
  renewals: number;
  /** Leases that ran out. */
  expirations: number;
}

const MS_PER_S = 1000;
const LIMITED_BROADCAST = -1; // 255.255.255.255 as int32
const SECS_MAX = 0xffff;
const UINT32 = 0x1_0000_0000;
/** RFC 2131 §4.4.5: T1 defaults to 0.5 × the lease, T2 to 0.875 ×. */
const T1_SHARE = 0.5;
const T2_SHARE = 0.875;
/** RFC 2132 §9.10 minimum of option 57. */
const MIN_MAX_MESSAGE = 576;
/** Option 61 type: Ethernet (RFC 2132 §9.14, hardware type 1). */
const CLIENT_ID_ETHERNET = 1;
/** Options we ask for (RFC 2132 §9.8). */
const PARAMETERS = [
  DHCP_OPT_SUBNET_MASK,
  DHCP_OPT_ROUTER,
  DHCP_OPT_DNS,
  DHCP_OPT_MTU,
  DHCP_OPT_LEASE_TIME,
  DHCP_OPT_RENEWAL_TIME,
  DHCP_OPT_REBINDING_TIME,
];

/**
 * Prefix length of a contiguous netmask, or -1.
 *
 * @param mask netmask (int32)
 * @returns 0..32, or -1 when its one bits are not contiguous
 */
export function maskPrefixLength(mask: number): number {
  const inverted = ~mask >>> 0;
  // Contiguous: the inverted mask is 2^k − 1.
  if ((inverted & (inverted + 1)) !== 0) return -1;
  return 32 - Math.log2(inverted + 1);
}

/** RFC 1122 §3.2.1.3: a usable unicast host address (not 0/8, 127/8, class D/E, broadcast). */
function usableHost(a: number): boolean {
  const first = a >>> 24;
  return first !== 0 && first !== 127 && first < 224;
}

/** The classful prefix of an address without option 1 (RFC 2131 §2.2 leaves it to the client; Linux ipconfig). */
function classfulPrefix(a: number): number {
  const first = a >>> 24;
  return first < 128 ? 8 : first < 192 ? 16 : 24;
}

/** The DHCPv4 client (see the module documentation). */
export class DhcpClient {
  /** Counters. */
  readonly stats: DhcpStats = {
    txDiscover: 0,
    txRequest: 0,
    txDecline: 0,
    txRelease: 0,
    txFailed: 0,
    probes: 0,
    rxOffer: 0,
    rxAck: 0,
    rxNak: 0,
    rxMalformed: 0,
    rxNotReply: 0,
    rxWrongXid: 0,
    rxWrongClient: 0,
    rxUnexpected: 0,
    rxBadOffer: 0,
    shortLeases: 0,
    offLinkRouters: 0,
    conflicts: 0,
    renewals: 0,
    expirations: 0,
  };
  /** Called when the client binds (first lease or after a renewal). */
  onBound: ((lease: DhcpLease) => void) | null = null;

  readonly #host: DhcpClientHost;
  readonly #mac: number;
  readonly #random: () => number;
  readonly #hostname: string | null;
  readonly #maxMessageSize: number;
  readonly #rtoInitialMs: number;
  readonly #rtoMaxMs: number;
  readonly #jitterMs: number;
  readonly #requestAttempts: number;
  readonly #renewMinMs: number;
  readonly #probeCount: number;
  readonly #probeWaitMs: number;
  readonly #probeMinMs: number;
  readonly #probeMaxMs: number;
  readonly #announceWaitMs: number;
  readonly #declineWaitMs: number;
  readonly #minLeaseS: number;
  #state: DhcpState = "stopped";
  #xid = 0;
  /** When this exchange began (for `secs`, RFC 2131 §4.4.1). */
  #exchangeStartMs = 0;
  /** When the current DHCPREQUEST went out (the lease starts then). */
  #requestSentMs = 0;
  #attempts = 0;
  #timerMs = Infinity;
  /** The offer being requested: its address and server. */
  #offerAddress = 0;
  #offerServer = 0;
  /** The lease acknowledged (being probed, or held). */
  #lease: DhcpLease | null = null;
  #probesSent = 0;
  /** Whether the host holds the lease's address (bound/renewing/rebinding). */
  #configured = false;

  /**
   * Creates a stopped client; {@link start} begins.
   *
   * @param host how the client sends and configures
   * @param options MAC, random source, timers
   */
  constructor(host: DhcpClientHost, options: DhcpClientOptions) {
    this.#host = host;
    this.#mac = options.mac;
    this.#random = options.random ?? Math.random;
    this.#hostname = options.hostname ?? null;
    const positive = (v: number | undefined, d: number, what: string): number => {
      const x = v ?? d;
      if (typeof x !== "number" || !Number.isFinite(x) || x < 0) {
        throw new TypeError(`dhcp ${what} must be a finite number ≥ 0, got ${String(v)}`);
      }
      return x;
    };
    this.#maxMessageSize = Math.max(
      MIN_MAX_MESSAGE,
      Math.floor(positive(options.maxMessageSize, 1472, "maxMessageSize")),
    );
    this.#rtoInitialMs = positive(options.retransmitInitialMs, 4000, "retransmitInitialMs");
    this.#rtoMaxMs = positive(options.retransmitMaxMs, 64_000, "retransmitMaxMs");
    this.#jitterMs = positive(options.retransmitJitterMs, 1000, "retransmitJitterMs");
    this.#requestAttempts = Math.max(1, positive(options.requestAttempts, 4, "requestAttempts"));
    this.#renewMinMs = positive(options.renewMinRetransmitMs, 60_000, "renewMinRetransmitMs");
    this.#probeCount = Math.floor(positive(options.probeCount, 3, "probeCount"));
    this.#probeWaitMs = positive(options.probeWaitMs, 1000, "probeWaitMs");
    this.#probeMinMs = positive(options.probeMinMs, 1000, "probeMinMs");
    this.#probeMaxMs = Math.max(this.#probeMinMs, positive(options.probeMaxMs, 2000, "probeMaxMs"));
    this.#announceWaitMs = positive(options.announceWaitMs, 2000, "announceWaitMs");
    this.#declineWaitMs = positive(options.declineWaitMs, 10_000, "declineWaitMs");
    this.#minLeaseS = positive(options.minLeaseS, 10, "minLeaseS");
  }

  /** The current state. */
  get state(): DhcpState {
    return this.#state;
  }

  /** The lease acknowledged (while probing, bound, renewing, rebinding), else null. */
  get lease(): DhcpLease | null {
    return this.#lease;
  }

  /** Whether the address is on the interface (bound, renewing or rebinding). */
  get configured(): boolean {
    return this.#configured;
  }

  /**
   * Starts acquiring a lease (INIT → SELECTING at once).
   *
   * @param nowMs current time
   */
  start(nowMs: number): void {
    if (this.#state !== "stopped") return;
    this.#enterInit(nowMs);
  }

  /** Earliest time {@link poll} has work. */
  nextDeadline(): number {
    return this.#timerMs;
  }

  /**
   * Runs due timers: retransmissions, probes, T1, T2, expiry.
   *
   * @param nowMs current time
   */
  poll(nowMs: number): void {
    if (nowMs < this.#timerMs) return;
    switch (this.#state) {
      case "init":
      case "declined":
        this.#enterInit(nowMs);
        return;
      case "selecting":
        this.#sendDiscover(nowMs);
        return;
      case "requesting":
        if (this.#attempts >= this.#requestAttempts) {
          this.#enterInit(nowMs); // no answer: start over (RFC 2131 §3.1.5)
        } else {
          this.#sendSelectingRequest(nowMs);
        }
        return;
      case "probing":
        this.#probeTick(nowMs);
        return;
      case "bound":
        this.#state = "renewing";
        this.#attempts = 0;
        this.#sendRenewal(nowMs);
        return;
      case "renewing":
        if (nowMs >= this.#lease!.rebindAtMs) {
          this.#state = "rebinding";
          this.#attempts = 0;
        }
        this.#sendRenewal(nowMs);
        return;
      case "rebinding":
        if (nowMs >= this.#lease!.expiresAtMs) {
          // RFC 2131 §4.4.5: the lease ran out: stop using the address, start over.
          this.stats.expirations++;
          this.#drop(nowMs);
          this.#enterInit(nowMs);
          return;
        }
        this.#sendRenewal(nowMs);
        return;
      default:
        this.#timerMs = Infinity;
    }
  }

  /**
   * A DHCP message that arrived on UDP port 68.
   *
   * @param nowMs current time
   * @param bytes buffer
   * @param offset start of the DHCP message (the UDP payload)
   * @param length its length
   */
  input(nowMs: number, bytes: Uint8Array, offset: number, length: number): void {
    const stats = this.stats;
    const m = DhcpRepr.parse(bytes, offset, length);
    if (!("op" in m)) {
      stats.rxMalformed++;
      return;
    }
    if (m.op !== BOOTREPLY || m.messageType === 0) {
      stats.rxNotReply++;
      return;
    }
    if (m.xid !== this.#xid) {
      stats.rxWrongXid++;
      return;
    }
    if (m.chaddr !== this.#mac) {
      stats.rxWrongClient++;
      return;
    }
    const state = this.#state;
    if (m.messageType === DHCPOFFER && state === "selecting") {
      this.#takeOffer(nowMs, m);
    } else if (m.messageType === DHCPACK && state === "requesting") {
      this.#takeAck(nowMs, m, false);
    } else if (m.messageType === DHCPACK && (state === "renewing" || state === "rebinding")) {
      this.#takeAck(nowMs, m, true);
    } else if (
      m.messageType === DHCPNAK &&
      (state === "requesting" || state === "renewing" || state === "rebinding")
    ) {
      // RFC 2131 §4.4.1/§4.4.5: a NAK from our server (any server while rebinding) restarts.
      const server = state === "requesting" ? this.#offerServer : this.#lease!.server;
      if (state !== "rebinding" && m.serverId !== 0 && m.serverId !== server) {
        stats.rxBadOffer++;
        return;
      }
      stats.rxNak++;
      this.#drop(nowMs);
      this.#enterInit(nowMs);
    } else {
      stats.rxUnexpected++;
    }
  }

  /**
   * An ARP packet seen on the link: while probing, one whose sender is the
   * address being probed, or another host's probe for it, is a conflict
   * (RFC 5227 §2.1.1) → DHCPDECLINE.
   *
   * @param nowMs current time
   * @param senderMac sender hardware address
   * @param senderIp sender protocol address
   * @param targetIp target protocol address
   */
  arpSeen(nowMs: number, senderMac: number, senderIp: number, targetIp: number): void {
    if (this.#state !== "probing" || this.#lease === null || senderMac === this.#mac) return;
    const a = this.#lease.address;
    if (senderIp === a || (senderIp === 0 && targetIp === a)) {
      this.stats.conflicts++;
      this.#decline(nowMs);
    }
  }

  /**
   * Gives the lease back (DHCPRELEASE, RFC 2131 §4.4.6) and stops.
   *
   * @param nowMs current time
   */
  release(nowMs: number): void {
    const lease = this.#lease;
    if (this.#configured && lease !== null) {
      const m = this.#message(DHCPRELEASE);
      m.ciaddr = lease.address;
      m.serverId = lease.server;
      m.broadcast = false;
      m.parameterRequestList = [];
      m.maxMessageSize = 0;
      m.hostname = null;
      this.#xid = this.#newXid();
      m.xid = this.#xid;
      if (this.#send(nowMs, m, lease.address, lease.server)) this.stats.txRelease++;
      this.#drop(nowMs);
    }
    this.#lease = null;
    this.#state = "stopped";
    this.#timerMs = Infinity;
  }

  // ---- states ----

  #enterInit(nowMs: number): void {
    this.#state = "selecting";
    this.#xid = this.#newXid();
    this.#exchangeStartMs = nowMs;
    this.#attempts = 0;
    this.#offerAddress = 0;
    this.#offerServer = 0;
    if (!this.#configured) this.#lease = null;
    this.#sendDiscover(nowMs);
  }

  #sendDiscover(nowMs: number): void {
    const m = this.#message(DHCPDISCOVER);
    if (this.#send(nowMs, m, 0, LIMITED_BROADCAST)) this.stats.txDiscover++;
    this.#timerMs = nowMs + this.#backoff();
    this.#attempts++;
  }

  #takeOffer(nowMs: number, m: DhcpRepr): void {
    if (!this.#acceptable(m)) return;
    this.stats.rxOffer++;
    this.#offerAddress = m.yiaddr;
    this.#offerServer = m.serverId;
    this.#state = "requesting";
    this.#attempts = 0;
    this.#sendSelectingRequest(nowMs);
  }

  /** RFC 2131 §4.3.1 / table 3: what an OFFER or ACK must carry to be usable. */
  #acceptable(m: DhcpRepr): boolean {
    if (!usableHost(m.yiaddr) || m.serverId === 0 || m.leaseTimeS < 0) {
      this.stats.rxBadOffer++;
      return false;
    }
    if (m.subnetMask !== 0) {
      const p = maskPrefixLength(m.subnetMask);
      if (p < 1 || p > 30 || (m.yiaddr & ~m.subnetMask) === 0 || (m.yiaddr | m.subnetMask) === -1) {
        this.stats.rxBadOffer++; // not contiguous, or yiaddr is the subnet's network/broadcast
        return false;
      }
    }
    return true;
  }

  #sendSelectingRequest(nowMs: number): void {
    // RFC 2131 §4.3.2 / table 5: SELECTING: requested IP and server id, ciaddr 0, broadcast.
    const m = this.#message(DHCPREQUEST);
    m.requestedIp = this.#offerAddress;
    m.serverId = this.#offerServer;
    this.#requestSentMs = nowMs;
    if (this.#send(nowMs, m, 0, LIMITED_BROADCAST)) this.stats.txRequest++;
    this.#timerMs = nowMs + this.#backoff();
    this.#attempts++;
  }

  #takeAck(nowMs: number, m: DhcpRepr, renewing: boolean): void {
    const expected = renewing ? this.#lease!.address : this.#offerAddress;
    if (!this.#acceptable(m) || m.yiaddr !== expected) {
      if (m.yiaddr !== expected && usableHost(m.yiaddr)) this.stats.rxBadOffer++;
      return;
    }
    if (!renewing && m.serverId !== this.#offerServer) {
      this.stats.rxBadOffer++;
      return;
    }
    this.stats.rxAck++;
    const lease = this.#leaseFrom(m);
    this.#lease = lease;
    if (renewing) {
      // RFC 2131 §4.4.5: the lease is extended; back to BOUND.
      this.stats.renewals++;
      this.#enterBound(nowMs);
      return;
    }
    // RFC 2131 §4.4.1 "the client SHOULD perform a check on the suggested address": RFC 5227.
    this.#state = "probing";
    this.#probesSent = 0;
    this.#timerMs = this.#probeCount === 0 ? nowMs : nowMs + this.#random() * this.#probeWaitMs;
  }

  #leaseFrom(m: DhcpRepr): DhcpLease {
    const start = this.#requestSentMs;
    let leaseS = m.leaseTimeS === DHCP_INFINITE_LEASE ? Infinity : m.leaseTimeS;
    if (leaseS < this.#minLeaseS) {
      this.stats.shortLeases++;
      leaseS = this.#minLeaseS;
    }
    let t1 = m.renewalTimeS >= 0 ? m.renewalTimeS : leaseS * T1_SHARE;
    let t2 = m.rebindingTimeS >= 0 ? m.rebindingTimeS : leaseS * T2_SHARE;
    // RFC 2131 §4.4.5: T1 < T2 < lease; otherwise the defaults.
    if (!(t2 < leaseS) || m.rebindingTimeS === DHCP_INFINITE_LEASE) t2 = leaseS * T2_SHARE;
    if (!(t1 < t2) || m.renewalTimeS === DHCP_INFINITE_LEASE) t1 = Math.min(leaseS * T1_SHARE, t2);
    const prefixLength = m.subnetMask !== 0
      ? maskPrefixLength(m.subnetMask)
      : classfulPrefix(m.yiaddr);
    const mask = prefixLength === 0 ? 0 : (-1 << (32 - prefixLength));
    let router = 0;
    for (const r of m.routers) {
      // A router must be on the leased subnet to be a next hop (RFC 1122 §3.3.1.1).
      if (((r ^ m.yiaddr) & mask) === 0 && r !== m.yiaddr && usableHost(r)) {
        router = r;
        break;
      }
    }
    if (router === 0 && m.routers.length > 0) this.stats.offLinkRouters++;
    return {
      address: m.yiaddr,
      prefixLength,
      router,
      dnsServers: m.dnsServers.filter(usableHost),
      mtu: m.mtu,
      server: m.serverId,
      leaseTimeS: leaseS,
      obtainedMs: start,
      renewAtMs: start + t1 * MS_PER_S,
      rebindAtMs: start + t2 * MS_PER_S,
      expiresAtMs: start + leaseS * MS_PER_S,
    };
  }

  #probeTick(nowMs: number): void {
    const lease = this.#lease!;
    if (this.#probesSent < this.#probeCount) {
      this.#host.sendArpProbe(nowMs, lease.address);
      this.stats.probes++;
      this.#probesSent++;
      this.#timerMs = this.#probesSent < this.#probeCount
        ? nowMs + this.#probeMinMs + this.#random() * (this.#probeMaxMs - this.#probeMinMs)
        : nowMs + this.#announceWaitMs;
      return;
    }
    // RFC 5227 §2.1.1: no conflict within ANNOUNCE_WAIT of the last probe: the address is ours.
    this.#enterBound(nowMs);
  }

  #enterBound(nowMs: number): void {
    const lease = this.#lease!;
    this.#state = "bound";
    this.#configured = true;
    this.#attempts = 0;
    this.#host.bound(nowMs, lease);
    this.#timerMs = lease.renewAtMs;
    this.onBound?.(lease);
  }

  #decline(nowMs: number): void {
    const lease = this.#lease!;
    // RFC 2131 §4.4.1 / table 5: DECLINE: requested IP, server id, ciaddr 0, broadcast.
    const m = this.#message(DHCPDECLINE);
    m.requestedIp = lease.address;
    m.serverId = lease.server;
    m.parameterRequestList = [];
    m.maxMessageSize = 0;
    m.hostname = null;
    m.broadcast = false;
    if (this.#send(nowMs, m, 0, LIMITED_BROADCAST)) this.stats.txDecline++;
    this.#lease = null;
    this.#state = "declined";
    // RFC 2131 §3.1.5: wait at least ten seconds before restarting.
    this.#timerMs = nowMs + this.#declineWaitMs;
  }

  #sendRenewal(nowMs: number): void {
    const lease = this.#lease!;
    const rebinding = this.#state === "rebinding";
    // RFC 2131 table 5: RENEWING/REBINDING: ciaddr set, no requested IP or server id.
    const m = this.#message(DHCPREQUEST);
    m.ciaddr = lease.address;
    m.broadcast = false;
    if (this.#attempts === 0) {
      this.#xid = this.#newXid();
      this.#exchangeStartMs = nowMs;
    }
    m.xid = this.#xid;
    m.secs = this.#secs(nowMs);
    this.#requestSentMs = nowMs;
    const dst = rebinding ? LIMITED_BROADCAST : lease.server;
    if (this.#send(nowMs, m, lease.address, dst)) this.stats.txRequest++;
    this.#attempts++;
    // RFC 2131 §4.4.5: wait half the time left to T2 (renewing) or expiry (rebinding), ≥ 60 s.
    const limit = rebinding ? lease.expiresAtMs : lease.rebindAtMs;
    this.#timerMs = Math.min(limit, nowMs + Math.max(this.#renewMinMs, (limit - nowMs) / 2));
  }

  /** Removes the address from the host if it holds it. */
  #drop(nowMs: number): void {
    if (this.#configured) {
      this.#configured = false;
      this.#host.unbound(nowMs);
    }
    this.#lease = null;
  }

  // ---- messages ----

  #message(type: number): DhcpRepr {
    const m = newDhcpRepr();
    m.op = BOOTREQUEST;
    m.xid = this.#xid;
    m.chaddr = this.#mac;
    m.messageType = type;
    // RFC 2131 §4.1: a client that cannot receive unicast before it is configured sets BROADCAST.
    m.broadcast = true;
    const id = new Uint8Array(7);
    id[0] = CLIENT_ID_ETHERNET;
    let v = this.#mac;
    for (let i = 6; i >= 1; i--) {
      id[i] = v % 256;
      v = Math.floor(v / 256);
    }
    m.clientId = id;
    m.parameterRequestList = PARAMETERS;
    m.maxMessageSize = this.#maxMessageSize;
    m.hostname = this.#hostname;
    return m;
  }

  #send(nowMs: number, m: DhcpRepr, src: number, dst: number): boolean {
    if (m.secs === 0) m.secs = this.#secs(nowMs);
    const bytes = new Uint8Array(DhcpRepr.bufferLength(m));
    const n = DhcpRepr.emit(m, bytes, 0);
    if (this.#host.sendMessage(nowMs, bytes, n, src, dst)) return true;
    this.stats.txFailed++;
    return false;
  }

  #secs(nowMs: number): number {
    return Math.min(SECS_MAX, Math.max(0, Math.floor((nowMs - this.#exchangeStartMs) / MS_PER_S)));
  }

  #newXid(): number {
    return Math.floor(this.#random() * UINT32) >>> 0;
  }

  /** RFC 2131 §4.1: 4 s, 8 s, … 64 s, each ± 1 s. */
  #backoff(): number {
    const base = Math.min(this.#rtoMaxMs, this.#rtoInitialMs * 2 ** Math.min(this.#attempts, 16));
    return Math.max(0, base + (this.#random() * 2 - 1) * this.#jitterMs);
  }
}

/**
 * Formats a lease for logs.
 *
 * @param lease the lease
 * @returns e.g. "192.0.2.50/24 via 192.0.2.1 from 192.0.2.1, 120 s"
 */
export function describeLease(lease: DhcpLease): string {
  const via = lease.router !== 0 ? ` via ${formatIpv4(lease.router)}` : "";
  return `${formatIpv4(lease.address)}/${lease.prefixLength}${via} from ${
    formatIpv4(lease.server)
  }, ${lease.leaseTimeS} s`;
}
