/**
 * Test helpers for the IPv6 network layer: frame builders (IPv6 header,
 * extension headers, ICMPv6 with its pseudo-header checksum computed here,
 * independently of the layer), a host on a recording device with seeded
 * randomness, and a parser for what it transmits.
 *
 * @module
 */

import { NetworkInterface, type NetworkInterfaceOptions } from "../../src/iface/interface.ts";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import { NdpRepr } from "../../src/wire/ndp.ts";
import { mulberry32 } from "../seeded_random.ts";
import { ethFrame, RecordingDevice } from "./_helpers.ts";

export const ETH_IPV6 = 0x86dd;
export const MAC_ROUTER = 0x02_00_00_00_00_99;
export const MAC_PEER = 0x02_00_00_00_00_0b;
/** The MAC of a {@link V6Host} unless told otherwise. */
export const MAC_ME = 0x02_00_00_00_00_0a;
export const PEER = Ipv6Address.parse("2001:db8:1::1");
export const ME = Ipv6Address.parse("2001:db8:1::2");
export const PEER_LL = Ipv6Address.parse("fe80::b");
export const ROUTER_LL = Ipv6Address.parse("fe80::1");
/** The RFC 7217 secret every test host uses (addresses are reproducible). */
export const SECRET = new Uint8Array(16).fill(7);

/** The Internet checksum of an ICMPv6/UDP/TCP message with its IPv6 pseudo-header (RFC 8200 §8.1). */
export function upperChecksum(
  src: Ipv6Address,
  dst: Ipv6Address,
  nextHeader: number,
  message: Uint8Array,
): number {
  let sum = 0;
  const addr = new Uint8Array(32);
  src.writeTo(addr, 0);
  dst.writeTo(addr, 16);
  for (let i = 0; i < 32; i += 2) sum += (addr[i] << 8) | addr[i + 1];
  sum += message.length >>> 16;
  sum += message.length & 0xffff;
  sum += nextHeader;
  for (let i = 0; i < message.length; i += 2) {
    sum += (message[i] << 8) | (i + 1 < message.length ? message[i + 1] : 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** An ICMPv6 message: type, code, 4 bytes of `word`, then `body`; checksum filled. */
export function icmpv6(
  src: Ipv6Address,
  dst: Ipv6Address,
  type: number,
  code: number,
  word: number,
  body: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const m = new Uint8Array(8 + body.length);
  m[0] = type;
  m[1] = code;
  new DataView(m.buffer).setUint32(4, word >>> 0);
  m.set(body, 8);
  const ck = upperChecksum(src, dst, 58, m);
  m[2] = ck >>> 8;
  m[3] = ck & 0xff;
  return m;
}

/** Options of {@link ipv6Packet}. */
export interface Ipv6PacketOptions {
  src: Ipv6Address;
  dst: Ipv6Address;
  nextHeader: number;
  payload: Uint8Array;
  hopLimit?: number;
  /** Payload length field (default the payload's length). */
  payloadLength?: number;
}

/** A raw IPv6 packet. */
export function ipv6Packet(o: Ipv6PacketOptions): Uint8Array {
  const p = new Uint8Array(40 + o.payload.length);
  p[0] = 0x60;
  const len = o.payloadLength ?? o.payload.length;
  p[4] = len >>> 8;
  p[5] = len & 0xff;
  p[6] = o.nextHeader;
  p[7] = o.hopLimit ?? 64;
  o.src.writeTo(p, 8);
  o.dst.writeTo(p, 24);
  p.set(o.payload, 40);
  return p;
}

/** An Ethernet frame carrying `packet` from `srcMac` to `dstMac`. */
export function v6Frame(dstMac: number, srcMac: number, packet: Uint8Array): Uint8Array {
  return ethFrame(dstMac, srcMac, ETH_IPV6, packet);
}

/** A frame from PEER's MAC to {@link MAC_ME} carrying `packet`. */
export function peerFrame(packet: Uint8Array): Uint8Array {
  return v6Frame(MAC_ME, MAC_PEER, packet);
}

/** A frame from PEER to ME: the fixed header with `nextHeader`, then `payload`. */
export function fromPeer(nextHeader: number, payload: Uint8Array): Uint8Array {
  return peerFrame(ipv6Packet({ src: PEER, dst: ME, nextHeader, payload }));
}

/** An NDP message in a whole frame (hop limit 255 unless told). */
export function ndpFrame(
  repr: NdpRepr,
  src: Ipv6Address,
  dst: Ipv6Address,
  srcMac: number,
  dstMac: number,
  hopLimit = 255,
): Uint8Array {
  const m = new Uint8Array(NdpRepr.bufferLength(repr));
  NdpRepr.emit(repr, m, 0, src, dst);
  return v6Frame(dstMac, srcMac, ipv6Packet({ src, dst, nextHeader: 58, payload: m, hopLimit }));
}

/** A fragment: IPv6 header + Fragment header + data. */
export function fragment(
  src: Ipv6Address,
  dst: Ipv6Address,
  nextHeader: number,
  offset: number,
  more: boolean,
  id: number,
  data: Uint8Array,
): Uint8Array {
  const payload = new Uint8Array(8 + data.length);
  payload[0] = nextHeader;
  payload[2] = offset >>> 8;
  payload[3] = (offset & 0xf8) | (more ? 1 : 0);
  new DataView(payload.buffer).setUint32(4, id >>> 0);
  payload.set(data, 8);
  return ipv6Packet({ src, dst, nextHeader: 44, payload });
}

/** What a transmitted IPv6 frame holds. */
export interface V6Out {
  dstMac: number;
  src: Ipv6Address;
  dst: Ipv6Address;
  nextHeader: number;
  hopLimit: number;
  payloadLength: number;
  /** The payload after the fixed header. */
  payload: Uint8Array;
  /** The ICMPv6 type when the packet (after a Hop-by-Hop header) is ICMPv6, else -1. */
  icmpType: number;
  /** The ICMPv6 message (when icmpType ≥ 0). */
  icmp: Uint8Array;
  /** The whole IPv6 packet. */
  packet: Uint8Array;
}

/** Parses a transmitted frame, or null when it is not IPv6. */
export function parseV6(frame: Uint8Array): V6Out | null {
  if (((frame[12] << 8) | frame[13]) !== ETH_IPV6) return null;
  const p = frame.subarray(14);
  const payloadLength = (p[4] << 8) | p[5];
  const payload = p.subarray(40, 40 + payloadLength);
  let icmp: Uint8Array = new Uint8Array(0);
  let icmpType = -1;
  if (p[6] === 58) icmp = payload;
  else if (p[6] === 0 && payload[0] === 58) icmp = payload.subarray((payload[1] + 1) * 8);
  if (icmp.length > 0) icmpType = icmp[0];
  const dstMac = frame[0] * 2 ** 40 + frame[1] * 2 ** 32 +
    (((frame[2] << 24) | (frame[3] << 16) | (frame[4] << 8) | frame[5]) >>> 0);
  return {
    dstMac,
    src: Ipv6Address.fromBytes(p, 8),
    dst: Ipv6Address.fromBytes(p, 24),
    nextHeader: p[6],
    hopLimit: p[7],
    payloadLength,
    payload,
    icmpType,
    icmp,
    packet: p.subarray(0, 40 + payloadLength),
  };
}

/** A host with IPv6 on a recording device: seeded randomness, no DAD delay, a fixed secret. */
export class V6Host {
  readonly dev: RecordingDevice;
  readonly iface: NetworkInterface;
  t = 0;
  constructor(
    addresses: string[] = [ME.toString() + "/64"],
    extra: Partial<NetworkInterfaceOptions> = {},
    ipv6: NonNullable<NetworkInterfaceOptions["ipv6"]> = {},
    mac = MAC_ME,
  ) {
    this.dev = new RecordingDevice(mac);
    this.iface = new NetworkInterface(this.dev, {
      ...extra,
      ipv6: {
        addresses,
        random: mulberry32(1),
        ...ipv6,
        addressOptions: { maxDadDelayMs: 0, secret: SECRET, ...ipv6.addressOptions },
        ndp: { routerSolicitations: 0, ...ipv6.ndp },
      },
    });
  }
  get ipv6() {
    return this.iface.ipv6!;
  }
  /** Starts and runs DAD to completion (1.5 s), dropping what was sent. */
  up(): this {
    this.iface.start(this.t);
    this.advance(1500);
    this.dev.take();
    return this;
  }
  /** Advances the clock by `ms` in 100 ms steps, polling. */
  advance(ms: number): void {
    const end = this.t + ms;
    while (this.t < end) {
      this.t = Math.min(end, this.t + 100);
      this.iface.poll(this.t);
    }
  }
  /** Delivers a frame now. */
  rx(frame: Uint8Array): void {
    this.iface.receiveFrame(this.t, frame, 0, frame.length);
  }
  /** The IPv6 frames sent since the last call, parsed. */
  out(): V6Out[] {
    return this.dev.take().map(parseV6).filter((x): x is V6Out => x !== null);
  }
  /** Like {@link out}, without neighbour discovery and MLD (types 130–143). */
  outData(): V6Out[] {
    return this.out().filter((o) => o.icmpType < 130 || o.icmpType > 143);
  }
  /** Makes `addr` a REACHABLE neighbour at `mac` (answering our solicitation). */
  resolve(addr: Ipv6Address, mac: number): void {
    const na = {
      ...blankNa(),
      target: addr,
      targetLinkLayer: mac,
      solicited: true,
      override: true,
    };
    this.rx(ndpFrame(na, addr, this.ipv6.sourceAddressFor6(addr)!, mac, this.dev.capabilities.mac));
  }
}

/** A neighbour advertisement repr with no flags. */
export function blankNa(): NdpRepr {
  return {
    type: 136,
    curHopLimit: 0,
    managed: false,
    other: false,
    routerLifetime: 0,
    reachableTime: 0,
    retransTimer: 0,
    router: false,
    solicited: false,
    override: false,
    target: Ipv6Address.UNSPECIFIED,
    destination: Ipv6Address.UNSPECIFIED,
    sourceLinkLayer: -1,
    targetLinkLayer: -1,
    nonce: -1,
    mtu: -1,
    prefixes: [],
    rdnss: [],
    dnssl: [],
    redirected: new Uint8Array(0),
    redirectedOffset: 0,
    redirectedLength: 0,
    optionsOffset: 0,
    optionsLength: 0,
  };
}

/** A router advertisement repr. */
export function routerAdvertisement(opts: {
  lifetimeS?: number;
  prefix?: string;
  validS?: number;
  preferredS?: number;
  autonomous?: boolean;
  onLink?: boolean;
  mtu?: number;
  curHopLimit?: number;
  reachableMs?: number;
  retransMs?: number;
  sourceMac?: number;
}): NdpRepr {
  const ra = blankNa();
  ra.type = 134;
  ra.routerLifetime = opts.lifetimeS ?? 1800;
  ra.curHopLimit = opts.curHopLimit ?? 0;
  ra.reachableTime = opts.reachableMs ?? 0;
  ra.retransTimer = opts.retransMs ?? 0;
  ra.mtu = opts.mtu ?? -1;
  ra.sourceLinkLayer = opts.sourceMac ?? MAC_ROUTER;
  if (opts.prefix !== undefined) {
    ra.prefixes = [{
      prefixLength: 64,
      onLink: opts.onLink ?? true,
      autonomous: opts.autonomous ?? true,
      validLifetime: opts.validS ?? 86400,
      preferredLifetime: opts.preferredS ?? 14400,
      prefix: Ipv6Address.parse(opts.prefix),
    }];
  }
  return ra;
}
