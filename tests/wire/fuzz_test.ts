/**
 * Randomized robustness of every parser in src/wire: valid frames, their
 * mutations (bit flips, truncation, extension, length fields that lie, option
 * garbage) and pure noise. Asserts that no exception escapes, that every
 * result is a repr or a WireError, and — by parsing each input twice inside
 * buffers with different guard bytes around it — that no parser reads
 * outside the bytes it was given.
 *
 * Seed: printed; override with RAWSTACK_FUZZ_SEED=<n>.
 */
import assert from "node:assert/strict";
import { isWireError, type WireErrorKind } from "../../src/wire/error.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";
import { newTcpRepr, TCP_ACK, TCP_PSH, TCP_SYN, TcpPacket, TcpRepr } from "../../src/wire/tcp.ts";
import { EthernetFrame, EthernetRepr, newEthernetRepr } from "../../src/wire/ethernet.ts";
import { ArpPacket, ArpRepr, newArpRepr } from "../../src/wire/arp.ts";
import { Ipv4Packet, Ipv4Repr, newIpv4Repr } from "../../src/wire/ipv4.ts";
import { IcmpPacket, IcmpRepr, newIcmpRepr } from "../../src/wire/icmp.ts";
import { newUdpRepr, UdpPacket, UdpRepr } from "../../src/wire/udp.ts";
import {
  DNS_CLASS_IN,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_CNAME,
  DNS_TYPE_TXT,
  DnsMessage,
  encodeDnsQuery,
  newDnsMessage,
} from "../../src/wire/dns.ts";
import {
  emitFragmentHeader,
  emitHopByHopRouterAlert,
  IP_PROTO_DSTOPTS,
  IP_PROTO_FRAGMENT,
  IP_PROTO_HOPOPTS,
  IP_PROTO_ICMPV6,
  IP_PROTO_ROUTING,
  Ipv6Packet,
  Ipv6Repr,
  newIpv6Chain,
  newIpv6Repr,
  walkIpv6Chain,
} from "../../src/wire/ipv6.ts";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import {
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_NEIGHBOR_ADVERTISEMENT,
  ICMPV6_NEIGHBOR_SOLICITATION,
  ICMPV6_REDIRECT,
  ICMPV6_ROUTER_ADVERTISEMENT,
  ICMPV6_ROUTER_SOLICITATION,
  Icmpv6Packet,
  Icmpv6Repr,
  newIcmpv6Repr,
} from "../../src/wire/icmpv6.ts";
import { NdpRepr, newNdpRepr } from "../../src/wire/ndp.ts";
import { MLD_CHANGE_TO_EXCLUDE, MldQueryRepr, MldReportRepr } from "../../src/wire/mld.ts";
import {
  BOOTREPLY,
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  DHCPOFFER,
  DhcpRepr,
  newDhcpRepr,
} from "../../src/wire/dhcp.ts";
import { mulberry32 } from "../seeded_random.ts";

const FRAMES = 100_000;
const DEFAULT_SEED = 0x0ddba11;
const KINDS: ReadonlySet<WireErrorKind> = new Set<WireErrorKind>([
  "truncated",
  "bad-version",
  "bad-header-length",
  "bad-total-length",
  "bad-checksum",
  "bad-option",
  "bad-data-offset",
  "bad-length",
  "bad-pointer",
  "pointer-loop",
  "name-too-long",
  "label-too-long",
  "bad-field",
  "unsupported",
]);

function seedFromEnv(): number {
  let text: string | undefined;
  try {
    text = Deno.env.get("RAWSTACK_FUZZ_SEED");
  } catch {
    text = undefined; // no --allow-env: use the default
  }
  if (text === undefined || text === "") return DEFAULT_SEED;
  const n = Number(text);
  if (!Number.isInteger(n)) {
    throw new TypeError(`RAWSTACK_FUZZ_SEED must be an integer, got ${text}`);
  }
  return n >>> 0;
}

const SRC = 0xc0000201 | 0;
const DST = 0xc0000202 | 0;
const ETH = 14;
/** The IPv6 addresses every ICMPv6-family corpus message is checksummed with. */
const SRC6 = Ipv6Address.parse("fe80::1");
const DST6 = Ipv6Address.ALL_NODES;

// ---------------------------------------------------------------------------
// Parsers under test. Each adapter parses bytes[offset, offset+length) and
// returns whatever the parser returned (repr or WireError).

type Adapter = {
  name: string;
  /** Where this layer starts in a corpus frame (a guess for mutated frames). */
  layerOffset: (frame: Uint8Array) => number;
  parse: (bytes: Uint8Array, offset: number, length: number, verify: boolean) => unknown;
};

const noVerify = { verifyChecksum: false };
const empty = new Uint8Array(0);

function ipv4HeaderLength(frame: Uint8Array): number {
  return frame.length > ETH ? (frame[ETH] & 0xf) * 4 : 20;
}

const ethernetView = new EthernetFrame(empty, 0, 0);
const ethernetOut = newEthernetRepr();
const arpView = new ArpPacket(empty, 0, 0);
const arpOut = newArpRepr();
const ipv4View = new Ipv4Packet(empty, 0, 0);
const ipv4Out = newIpv4Repr();
const icmpView = new IcmpPacket(empty, 0, 0);
const icmpOut = newIcmpRepr();
const udpView = new UdpPacket(empty, 0, 0);
const udpOut = newUdpRepr();
const tcpView = new TcpPacket(empty, 0, 0);
const tcpOut = newTcpRepr();
const ipv6View = new Ipv6Packet(empty, 0, 0);
const ipv6Out = newIpv6Repr();
const chainOut = newIpv6Chain();
const icmpv6View = new Icmpv6Packet(empty, 0, 0);
const icmpv6Out = newIcmpv6Repr();
const ndpOut = newNdpRepr();

/** Where the upper layer of an IPv6 frame starts (after its extension headers), else a guess. */
function ipv6UpperOffset(frame: Uint8Array): number {
  const guess = ETH + 40;
  if (frame.length < ETH + 40 || frame[12] !== 0x86 || frame[13] !== 0xdd) return guess;
  const ip = new Ipv6Packet(frame, ETH, frame.length - ETH);
  if (ip.check() !== null) return guess;
  const chain = walkIpv6Chain(ip, newIpv6Chain());
  return isWireError(chain) ? guess : chain.upperOffset;
}

/** IPv6 header, then the chain walk: a failure of either is the result. */
function parseIpv6(b: Uint8Array, o: number, n: number): unknown {
  const repr = Ipv6Repr.parse(ipv6View.reset(b, o, n), ipv6Out);
  if (isWireError(repr)) return repr;
  return walkIpv6Chain(ipv6View, chainOut);
}

const adapters: Adapter[] = [
  {
    name: "ethernet",
    layerOffset: () => 0,
    parse: (b, o, n) => EthernetRepr.parse(ethernetView.reset(b, o, n), ethernetOut),
  },
  {
    name: "arp",
    layerOffset: () => ETH,
    parse: (b, o, n) => ArpRepr.parse(arpView.reset(b, o, n), arpOut),
  },
  {
    name: "ipv4",
    layerOffset: () => ETH,
    parse: (b, o, n, verify) =>
      Ipv4Repr.parse(ipv4View.reset(b, o, n), ipv4Out, verify ? undefined : noVerify),
  },
  {
    name: "icmp",
    layerOffset: (f) => ETH + ipv4HeaderLength(f),
    parse: (b, o, n, verify) =>
      IcmpRepr.parse(icmpView.reset(b, o, n), icmpOut, verify ? undefined : noVerify),
  },
  {
    name: "udp",
    layerOffset: (f) => ETH + ipv4HeaderLength(f),
    parse: (b, o, n, verify) =>
      UdpRepr.parse(udpView.reset(b, o, n), SRC, DST, udpOut, verify ? undefined : noVerify),
  },
  {
    name: "tcp",
    layerOffset: (f) => ETH + ipv4HeaderLength(f),
    parse: (b, o, n, verify) =>
      TcpRepr.parse(tcpView.reset(b, o, n), SRC, DST, tcpOut, verify ? undefined : noVerify),
  },
  {
    name: "dns",
    layerOffset: (f) => ETH + ipv4HeaderLength(f) + 8,
    parse: (b, o, n) => DnsMessage.parse(b, o, n),
  },
  { name: "ipv6", layerOffset: () => ETH, parse: parseIpv6 },
  {
    name: "icmpv6",
    layerOffset: ipv6UpperOffset,
    parse: (b, o, n, verify) =>
      Icmpv6Repr.parse(
        icmpv6View.reset(b, o, n),
        SRC6,
        DST6,
        icmpv6Out,
        verify ? undefined : noVerify,
      ),
  },
  {
    name: "ndp",
    layerOffset: ipv6UpperOffset,
    parse: (b, o, n, verify) =>
      NdpRepr.parse(icmpv6View.reset(b, o, n), SRC6, DST6, ndpOut, verify ? undefined : noVerify),
  },
  {
    name: "mld-report",
    layerOffset: ipv6UpperOffset,
    parse: (b, o, n, verify) =>
      MldReportRepr.parse(icmpv6View.reset(b, o, n), SRC6, DST6, verify ? undefined : noVerify),
  },
  {
    name: "mld-query",
    layerOffset: ipv6UpperOffset,
    parse: (b, o, n, verify) =>
      MldQueryRepr.parse(icmpv6View.reset(b, o, n), SRC6, DST6, verify ? undefined : noVerify),
  },
  {
    name: "dhcp",
    layerOffset: (f) => ETH + ipv4HeaderLength(f) + 8,
    parse: (b, o, n) => DhcpRepr.parse(b, o, n),
  },
];

// ---------------------------------------------------------------------------
// Corpus of valid frames, built by hand (Ethernet II + IPv4 + TCP/UDP).

function ethIpv4(protocol: number, l4Length: number, options = 0): Uint8Array {
  const ihl = 20 + options;
  const f = new Uint8Array(ETH + ihl + l4Length);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
  const ip = ETH;
  f[ip] = 0x40 | (ihl >>> 2);
  const total = ihl + l4Length;
  f[ip + 2] = total >>> 8;
  f[ip + 3] = total & 0xff;
  f[ip + 4] = 0x12;
  f[ip + 6] = 0x40; // DF
  f[ip + 8] = 64;
  f[ip + 9] = protocol;
  f.set([192, 0, 2, 1, 192, 0, 2, 2], ip + 12);
  for (let k = 20; k < ihl; k++) f[ip + k] = 1; // NOP options
  const ck = internetChecksum(f, ip, ihl);
  f[ip + 10] = ck >>> 8;
  f[ip + 11] = ck & 0xff;
  return f;
}

function tcpFrame(repr: ReturnType<typeof newTcpRepr>): Uint8Array {
  const len = TcpRepr.headerLength(repr) + repr.payloadLength;
  const f = ethIpv4(6, len);
  TcpRepr.emit(repr, f, ETH + 20, SRC, DST);
  return f;
}

function udpFrame(payload: Uint8Array, srcPort = 40000, dstPort = 53): Uint8Array {
  const len = 8 + payload.length;
  const f = ethIpv4(17, len);
  const u = ETH + 20;
  f.set([srcPort >>> 8, srcPort & 0xff, dstPort >>> 8, dstPort & 0xff, len >>> 8, len & 0xff], u);
  f.set(payload, u + 8);
  // UDP checksum over pseudo-header (RFC 768).
  const ph = new Uint8Array(12 + len);
  ph.set([192, 0, 2, 1, 192, 0, 2, 2, 0, 17, len >>> 8, len & 0xff]);
  ph.set(f.subarray(u, u + len), 12);
  const ck = internetChecksum(ph, 0, ph.length) || 0xffff;
  f[u + 6] = ck >>> 8;
  f[u + 7] = ck & 0xff;
  return f;
}

/** Ethernet + IPv6 (SRC6 → DST6) with `ext` extension bytes, then an upper layer written by `fill`. */
function ethIpv6(
  nextHeader: number,
  ext: Uint8Array,
  upperLength: number,
  fill: (f: Uint8Array, at: number) => void,
): Uint8Array {
  const f = new Uint8Array(ETH + 40 + ext.length + upperLength);
  f.set([0x33, 0x33, 0, 0, 0, 1, 2, 0, 0, 0, 0, 1, 0x86, 0xdd]);
  Ipv6Repr.emit(
    {
      ...newIpv6Repr(),
      source: SRC6,
      destination: DST6,
      nextHeader,
      hopLimit: 255,
      payloadLength: ext.length + upperLength,
    },
    f,
    ETH,
  );
  f.set(ext, ETH + 40);
  fill(f, ETH + 40 + ext.length);
  return f;
}

/** IPv6 frames: NDP of every type, MLD, ICMPv6 errors, extension-header chains. */
function ipv6Corpus(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const none = new Uint8Array(0);
  const target = Ipv6Address.parse("2001:db8::2");
  const ndp = [
    { ...newNdpRepr(ICMPV6_ROUTER_SOLICITATION), sourceLinkLayer: 0x020000000001 },
    {
      ...newNdpRepr(ICMPV6_ROUTER_ADVERTISEMENT),
      curHopLimit: 64,
      routerLifetime: 1800,
      mtu: 1500,
      sourceLinkLayer: 0x020000000002,
      managed: true,
      other: true,
      rdnss: [{ lifetime: 600, servers: [Ipv6Address.parse("2001:db8::53"), target] }],
      dnssl: [{ lifetime: 600, domains: ["example.test", "a.b.example.test"] }],
      prefixes: [{
        prefix: Ipv6Address.parse("2001:db8::"),
        prefixLength: 64,
        onLink: true,
        autonomous: true,
        validLifetime: 3600,
        preferredLifetime: 1800,
      }],
    },
    {
      ...newNdpRepr(ICMPV6_NEIGHBOR_SOLICITATION),
      target,
      sourceLinkLayer: 0x020000000001,
      nonce: 7,
    },
    { ...newNdpRepr(ICMPV6_NEIGHBOR_ADVERTISEMENT), target, override: true, targetLinkLayer: 2 },
    {
      ...newNdpRepr(ICMPV6_REDIRECT),
      target: Ipv6Address.parse("fe80::2"),
      destination: Ipv6Address.parse("2001:db8:5::1"),
      targetLinkLayer: 2,
      redirected: new Uint8Array(48).fill(0x60, 0, 1),
      redirectedLength: 48,
    },
  ];
  for (const repr of ndp) {
    const n = NdpRepr.bufferLength(repr);
    out.push(ethIpv6(IP_PROTO_ICMPV6, none, n, (f, at) => NdpRepr.emit(repr, f, at, SRC6, DST6)));
  }
  const report = {
    records: [
      { type: MLD_CHANGE_TO_EXCLUDE, group: target.solicitedNode(), sources: [] },
      { type: 5, group: Ipv6Address.parse("ff3e::1"), sources: [target, SRC6] },
    ],
  };
  const hbh = new Uint8Array(8);
  emitHopByHopRouterAlert(hbh, 0, IP_PROTO_ICMPV6);
  out.push(
    ethIpv6(
      IP_PROTO_HOPOPTS,
      hbh,
      MldReportRepr.bufferLength(report),
      (f, at) => MldReportRepr.emit(report, f, at, SRC6, DST6),
    ),
  );
  const query = {
    version: 2,
    maxResponseDelayMs: 10000,
    group: Ipv6Address.UNSPECIFIED,
    suppress: false,
    robustness: 2,
    queryIntervalS: 125,
    sources: [target],
  };
  out.push(
    ethIpv6(IP_PROTO_ICMPV6, none, 44, (f, at) => MldQueryRepr.emit(query, f, at, SRC6, DST6)),
  );
  const quote = new Uint8Array(48);
  quote[0] = 0x60;
  const unreachable = {
    ...newIcmpv6Repr(),
    type: ICMPV6_DEST_UNREACHABLE,
    data: quote,
    dataLength: 48,
  };
  out.push(
    ethIpv6(IP_PROTO_ICMPV6, none, 56, (f, at) => Icmpv6Repr.emit(unreachable, f, at, SRC6, DST6)),
  );
  // Chains: Destination Options (PadN) + Routing (segments left 0) + first Fragment + ICMPv6 echo.
  const chain = new Uint8Array(8 + 24 + 8);
  chain.set([IP_PROTO_ROUTING, 0, 1, 4, 0, 0, 0, 0]);
  chain.set([IP_PROTO_FRAGMENT, 2, 0, 0, 0, 0, 0, 0], 8);
  target.writeTo(chain, 16);
  emitFragmentHeader(chain, 32, IP_PROTO_ICMPV6, 0, true, 0x1234);
  const echo = { ...newIcmpv6Repr(), data: new Uint8Array(16), dataLength: 16 };
  out.push(
    ethIpv6(IP_PROTO_DSTOPTS, chain, 24, (f, at) => Icmpv6Repr.emit(echo, f, at, SRC6, DST6)),
  );
  return out;
}

function buildCorpus(rand: () => number): Uint8Array[] {
  const corpus: Uint8Array[] = [];
  const syn = newTcpRepr();
  syn.srcPort = 41000;
  syn.dstPort = 8080;
  syn.seq = 0x7a69d1a1;
  syn.flags = TCP_SYN;
  syn.window = 64240;
  syn.mss = 1460;
  syn.sackPermitted = true;
  syn.hasTimestamp = true;
  syn.tsVal = 12345;
  syn.windowScale = 7;
  corpus.push(tcpFrame(syn));
  const data = newTcpRepr();
  data.srcPort = 8080;
  data.dstPort = 41000;
  data.flags = TCP_ACK | TCP_PSH;
  data.hasTimestamp = true;
  data.sackCount = 3;
  data.sackBlocks.splice(0, 6, 1, 2, 3, 4, 5, 6);
  data.payload = new Uint8Array(100).map(() => (rand() * 256) | 0);
  data.payloadLength = 100;
  corpus.push(tcpFrame(data));
  const bare = newTcpRepr();
  bare.flags = TCP_ACK;
  corpus.push(tcpFrame(bare));
  const q = new Uint8Array(300);
  corpus.push(
    udpFrame(q.slice(0, encodeDnsQuery({ id: 0x1001, name: "host.test", type: DNS_TYPE_A }, q, 0))),
  );
  const resp = newDnsMessage(0x1003);
  resp.qr = resp.rd = resp.ra = true;
  resp.questions.push({ name: "alias.test", type: DNS_TYPE_A, class: DNS_CLASS_IN });
  resp.answers.push(
    { name: "alias.test", type: DNS_TYPE_CNAME, class: DNS_CLASS_IN, ttl: 0, target: "host.test" },
    { name: "host.test", type: DNS_TYPE_A, class: DNS_CLASS_IN, ttl: 0, address: 0xc0000235 },
    {
      name: "host.test",
      type: DNS_TYPE_AAAA,
      class: DNS_CLASS_IN,
      ttl: 0,
      address6: new Uint8Array(16).fill(1),
    },
    {
      name: "txt.test",
      type: DNS_TYPE_TXT,
      class: DNS_CLASS_IN,
      ttl: 0,
      rdata: new Uint8Array([3, 97, 98, 99]),
    },
  );
  corpus.push(udpFrame(DnsMessage.toBytes(resp), 53, 40000));
  // ARP request (RFC 826) for 192.0.2.2.
  const arp = new Uint8Array(42);
  arp.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06]);
  arp.set(
    [0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 2],
    ETH,
  );
  corpus.push(arp);
  // ICMP echo request with a checksum.
  const icmp = ethIpv4(1, 16);
  icmp.set([8, 0, 0, 0, 0x12, 0x34, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8], ETH + 20);
  const ick = internetChecksum(icmp, ETH + 20, 16);
  icmp[ETH + 22] = ick >>> 8;
  icmp[ETH + 23] = ick & 0xff;
  corpus.push(icmp);
  // IPv4 with options carrying UDP, and a VLAN-tagged copy of the SYN.
  const withOpts = ethIpv4(17, 8, 8);
  withOpts.set([0x9c, 0x40, 0, 53, 0, 8, 0, 0], ETH + 28);
  corpus.push(withOpts);
  const vlan = new Uint8Array(corpus[0].length + 4);
  vlan.set(corpus[0].subarray(0, 12));
  vlan.set([0x81, 0x00, 0x00, 0x05], 12);
  vlan.set(corpus[0].subarray(12), 16);
  corpus.push(vlan);
  corpus.push(...ipv6Corpus());
  // A DHCPOFFER (RFC 2131) with the options a server sends, and one with overload (RFC 2132 §9.3).
  const offer = {
    ...newDhcpRepr(),
    op: BOOTREPLY,
    xid: 0x1234abcd,
    yiaddr: 0xc0000232 | 0,
    chaddr: 0x020000000001,
    messageType: DHCPOFFER,
    serverId: SRC,
    subnetMask: 0xffffff00 | 0,
    routers: [SRC],
    dnsServers: [SRC, DST],
    leaseTimeS: 120,
    renewalTimeS: 60,
    rebindingTimeS: 105,
    mtu: 1500,
  };
  const dhcp = new Uint8Array(DhcpRepr.bufferLength(offer));
  DhcpRepr.emit(offer, dhcp, 0);
  corpus.push(udpFrame(dhcp, DHCP_SERVER_PORT, DHCP_CLIENT_PORT));
  const overloaded = dhcp.slice();
  overloaded.set([52, 1, 3, 255], 240);
  overloaded.set([51, 4, 0, 0, 1, 0, 255], 108);
  overloaded.set([54, 4, 192, 0, 2, 1, 255], 44);
  corpus.push(udpFrame(overloaded, DHCP_SERVER_PORT, DHCP_CLIENT_PORT));
  return corpus;
}

/** Frames of a classic pcap file (either byte order, µs or ns timestamps). */
function pcapFrames(file: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  if (file.length < 24) return frames;
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const be = dv.getUint32(0, false);
  const little = !(be === 0xa1b2c3d4 || be === 0xa1b23c4d);
  for (let at = 24; at + 16 <= file.length;) {
    const caplen = dv.getUint32(at + 8, little);
    if (at + 16 + caplen > file.length) break;
    frames.push(file.slice(at + 16, at + 16 + caplen));
    at += 16 + caplen;
  }
  return frames;
}

/** Adds the frames of the kernel captures in tests/testdata to the corpus. */
function addKernelFrames(corpus: Uint8Array[]): number {
  let added = 0;
  for (
    const name of [
      "kernel_arp_icmp_udp.pcap",
      "kernel_dns.pcap",
      "kernel_tcp.pcap",
      "kernel_ipv6.pcap",
    ]
  ) {
    let file: Uint8Array;
    try {
      file = Deno.readFileSync(new URL(`../testdata/${name}`, import.meta.url));
    } catch {
      continue; // reported through the printed corpus size
    }
    for (const frame of pcapFrames(file)) {
      corpus.push(frame);
      added++;
    }
  }
  return added;
}

// ---------------------------------------------------------------------------
// Mutations.

function mutate(src: Uint8Array, rand: () => number): Uint8Array {
  const pick = (n: number) => (rand() * n) | 0;
  let f = src.slice();
  const rounds = 1 + pick(3);
  for (let r = 0; r < rounds; r++) {
    switch (pick(9)) {
      case 0: { // bit flips
        const flips = 1 + pick(8);
        for (let k = 0; k < flips && f.length > 0; k++) f[pick(f.length)] ^= 1 << pick(8);
        break;
      }
      case 1: // truncation
        f = f.slice(0, pick(f.length + 1));
        break;
      case 2: { // extension with noise
        const g = new Uint8Array(f.length + 1 + pick(64));
        g.set(f);
        for (let k = f.length; k < g.length; k++) g[k] = pick(256);
        f = g;
        break;
      }
      case 3: { // length fields that lie: IPv4 total length, IHL, UDP length, DNS counts
        const at = [
          ETH + 2,
          ETH + 3,
          ETH + 20 + 4,
          ETH + 20 + 5,
          ETH + 20 + 8 + 4,
          ETH + 20 + 8 + 7,
        ];
        const i = at[pick(at.length)];
        if (i < f.length) f[i] = rand() < 0.5 ? pick(256) : rand() < 0.5 ? 0 : 0xff;
        break;
      }
      case 4: { // IHL / TCP data offset nibbles
        const i = rand() < 0.5 ? ETH : ETH + 20 + 12;
        if (i < f.length) f[i] = (f[i] & 0x0f) | (pick(16) << 4);
        if (rand() < 0.5 && ETH < f.length) f[ETH] = (f[ETH] & 0xf0) | pick(16);
        break;
      }
      case 5: { // TCP option garbage (kinds 0..9, lengths 0..12, random)
        const start = ETH + 20 + 20;
        const end = Math.min(f.length, start + 40);
        for (let i = start; i < end; i++) {
          const roll = rand();
          f[i] = roll < 0.3 ? pick(10) : roll < 0.6 ? pick(13) : pick(256);
        }
        break;
      }
      case 6: { // DNS compression pointers to random places, random label lengths
        const start = ETH + 28 + 12;
        for (let k = 0; k < 4 && f.length > start + 2; k++) {
          const i = start + pick(f.length - start - 1);
          if (rand() < 0.6) {
            f[i] = 0xc0 | pick(2);
            f[i + 1] = pick(256);
          } else f[i] = pick(256);
        }
        break;
      }
      case 7: { // IPv6 payload length, next headers, extension and NDP/MLD option lengths
        const at = [ETH + 4, ETH + 5, ETH + 6, ETH + 40, ETH + 41, ETH + 43, ETH + 49];
        const i = rand() < 0.5 ? at[pick(at.length)] : ETH + 40 + pick(Math.max(1, f.length - 54));
        if (i < f.length) {
          const roll = rand();
          f[i] = roll < 0.4
            ? pick(5)
            : roll < 0.6
            ? [0, 43, 44, 60, 58, 59, 51][pick(7)]
            : pick(256);
        }
        break;
      }
      default: { // random byte overwrite
        if (f.length > 0) f[pick(f.length)] = pick(256);
        break;
      }
    }
  }
  return f;
}

// ---------------------------------------------------------------------------
// Out-of-bounds detection: parse each input at an offset inside two buffers
// whose guard bytes differ; a parser that looks outside its bytes sees a
// different world and (very likely) returns a different result.

const GUARD = 37; // odd, so word-aligned paths are exercised off alignment
const bufA = new Uint8Array(4096 + 2 * GUARD);
const bufB = new Uint8Array(4096 + 2 * GUARD);

function fingerprint(value: unknown, depth = 0): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value !== "object") return String(value);
  if (isWireError(value)) return `E(${value.protocol}:${value.kind}:${value.message})`;
  if (value instanceof Uint8Array) return `u8[${value.length}]`; // a buffer reference
  if (depth > 4) return "…";
  if (Array.isArray(value)) return `[${value.map((v) => fingerprint(v, depth + 1)).join(",")}]`;
  let s = "{";
  for (const [k, v] of Object.entries(value)) {
    // Offsets into the parse buffer legitimately differ by the placement; none do here
    // because both buffers place the input at the same offset.
    s += `${k}:${fingerprint(v, depth + 1)},`;
  }
  return s + "}";
}

function checkResult(name: string, result: unknown): string | null {
  if (isWireError(result)) {
    if (!KINDS.has(result.kind)) return `${name}: unknown WireError kind ${result.kind}`;
    if (typeof result.protocol !== "string" || result.protocol === "") {
      return `${name}: empty protocol`;
    }
    return null;
  }
  if (result === null || typeof result !== "object") return `${name}: returned ${String(result)}`;
  return null;
}

Deno.test("every wire parser survives 100,000 random and mutated frames", () => {
  const seed = seedFromEnv();
  console.log(`fuzz seed: ${seed} (reproduce with RAWSTACK_FUZZ_SEED=${seed})`);
  const rand = mulberry32(seed);
  const corpus = buildCorpus(rand);
  const kernel = addKernelFrames(corpus);
  console.log(
    `parsers: ${adapters.map((a) => a.name).join(", ")}` +
      `; corpus: ${corpus.length} frames (${kernel} from kernel captures)`,
  );
  // Sanity: every parser accepts at least one unmutated corpus frame, so the
  // fuzzing reaches past the first length check.
  for (const a of adapters) {
    const accepted = corpus.some((f) => {
      const off = a.layerOffset(f);
      return off <= f.length && !isWireError(a.parse(f, off, f.length - off, true));
    });
    assert.ok(accepted, `${a.name} rejects every valid corpus frame`);
  }

  const outcomes = new Map<string, number>();
  for (let iter = 0; iter < FRAMES; iter++) {
    const roll = rand();
    let frame: Uint8Array;
    if (roll < 0.1) {
      frame = new Uint8Array((rand() * 200) | 0);
      for (let k = 0; k < frame.length; k++) frame[k] = (rand() * 256) | 0;
    } else {
      frame = mutate(corpus[(rand() * corpus.length) | 0], rand);
    }
    if (frame.length > 4096) frame = frame.slice(0, 4096);
    bufA.fill(0x00);
    bufB.fill(0xff);
    bufA.set(frame, GUARD);
    bufB.set(frame, GUARD);
    const verify = rand() < 0.5;
    for (const a of adapters) {
      // The layer where it belongs, and sometimes a random offset.
      let off = rand() < 0.85 ? a.layerOffset(frame) : (rand() * (frame.length + 1)) | 0;
      if (off > frame.length) off = frame.length;
      const len = frame.length - off;
      let ra: unknown;
      let rb: unknown;
      try {
        ra = a.parse(bufA, GUARD + off, len, verify);
        const fa = fingerprint(ra);
        rb = a.parse(bufB, GUARD + off, len, verify);
        const fb = fingerprint(rb);
        if (fa !== fb) {
          assert.fail(
            `${a.name} read outside its input (seed ${seed}, frame ${iter}, offset ${off}):\n` +
              `${fa}\n${fb}\nframe ${
                [...frame].map((x) => x.toString(16).padStart(2, "0")).join("")
              }`,
          );
        }
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        assert.fail(
          `${a.name} threw on frame ${iter} (seed ${seed}, offset ${off}): ${e}\n` +
            `frame ${[...frame].map((x) => x.toString(16).padStart(2, "0")).join("")}`,
        );
      }
      const problem = checkResult(a.name, ra);
      if (problem) assert.fail(`${problem} (seed ${seed}, frame ${iter})`);
      const key = `${a.name}:${isWireError(ra) ? ra.kind : "ok"}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
  }
  console.log(
    "outcomes: " + [...outcomes].sort().map(([k, v]) => `${k}=${v}`).join(" "),
  );
  // The fuzzing must reach both sides of the parsers it drives.
  for (const a of adapters) {
    assert.ok((outcomes.get(`${a.name}:ok`) ?? 0) > 0, `${a.name} never accepted a frame`);
  }
  assert.ok((outcomes.get("tcp:bad-option") ?? 0) > 0, "TCP option garbage never reached");
  assert.ok((outcomes.get("dns:pointer-loop") ?? 0) > 0, "DNS pointer loops never reached");
  assert.ok((outcomes.get("ipv6:truncated") ?? 0) > 0, "truncated IPv6 chains never reached");
  assert.ok((outcomes.get("ipv6:bad-option") ?? 0) > 0, "IPv6 option garbage never reached");
  assert.ok((outcomes.get("ndp:bad-option") ?? 0) > 0, "NDP option garbage never reached");
});
