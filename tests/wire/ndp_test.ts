import assert from "node:assert/strict";
import {
  NDP_HOP_LIMIT,
  NDP_INFINITE_LIFETIME,
  NDP_OPT_DNSSL,
  NDP_OPT_MTU,
  NDP_OPT_PREFIX_INFO,
  NDP_OPT_RDNSS,
  NDP_OPT_SOURCE_LL,
  NdpOptionReader,
  NdpRepr,
  newNdpRepr,
} from "../../src/wire/ndp.ts";
import {
  ICMPV6_NEIGHBOR_ADVERTISEMENT,
  ICMPV6_NEIGHBOR_SOLICITATION,
  ICMPV6_REDIRECT,
  ICMPV6_ROUTER_ADVERTISEMENT,
  ICMPV6_ROUTER_SOLICITATION,
  Icmpv6Packet,
} from "../../src/wire/icmpv6.ts";
import {
  IP_PROTO_ICMPV6,
  IPV6_HEADER_LEN,
  newIpv6Chain,
  walkIpv6Chain,
} from "../../src/wire/ipv6.ts";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import { isWireError, type WireError } from "../../src/wire/error.ts";
import { MacAddress } from "../../src/wire/address.ts";
import { IPV6_CAPTURE, ipv6Frame, kernelIpv6Frames } from "./_ipv6_frames.ts";
import { assertTsharkClean, testdataPath, tsharkDecodeFile, type TsharkFrame } from "./_tshark.ts";

const LL_A = Ipv6Address.parse("fe80::ff:fe00:1");
const LL_B = Ipv6Address.parse("fe80::ff:fe00:2");
const MAC_A = 0x020000000001;
const MAC_B = 0x020000000002;

interface KernelNdp {
  index: number;
  message: Uint8Array;
  src: Ipv6Address;
  dst: Ipv6Address;
  hopLimit: number;
}

function kernelNdp(): KernelNdp[] {
  const out: KernelNdp[] = [];
  const chain = newIpv6Chain();
  for (const { index, frame, ip, src, dst } of kernelIpv6Frames()) {
    const c = walkIpv6Chain(ip, chain);
    if (isWireError(c) || c.verdict !== "deliver" || c.protocol !== IP_PROTO_ICMPV6) continue;
    const type = frame[c.upperOffset];
    if (type < ICMPV6_ROUTER_SOLICITATION || type > ICMPV6_REDIRECT) continue;
    out.push({
      index,
      message: frame.subarray(c.upperOffset, c.upperOffset + c.upperLength),
      src,
      dst,
      hopLimit: ip.hopLimit,
    });
  }
  return out;
}

function parse(bytes: Uint8Array, src: Ipv6Address, dst: Ipv6Address): NdpRepr | WireError {
  return NdpRepr.parse(new Icmpv6Packet(bytes), src, dst);
}

function parseOk(bytes: Uint8Array, src: Ipv6Address, dst: Ipv6Address): NdpRepr {
  const r = parse(bytes, src, dst);
  if (isWireError(r)) throw new Error(`unexpected ${r}`);
  return r;
}

function parseErr(bytes: Uint8Array, src: Ipv6Address, dst: Ipv6Address): WireError {
  const r = parse(bytes, src, dst);
  assert.ok(isWireError(r), `expected a WireError, got ${JSON.stringify(r)}`);
  return r;
}

function emit(repr: NdpRepr, src: Ipv6Address, dst: Ipv6Address): Uint8Array {
  const b = new Uint8Array(NdpRepr.bufferLength(repr));
  assert.equal(NdpRepr.emit(repr, b, 0, src, dst), b.length);
  return b;
}

Deno.test("NdpRepr parse → emit reproduces the kernel's and dnsmasq's NDP messages byte for byte", () => {
  const messages = kernelNdp();
  assert.deepEqual(
    messages.map((m) => `${m.index + 1}:${m.message[0]}`),
    [
      "4:135",
      "5:135",
      "6:134",
      "7:135",
      "9:133",
      "10:134",
      "14:135",
      "15:136",
      "26:133",
      "27:134",
      "36:135",
      "37:135",
      "38:136",
    ],
  );
  const repr = newNdpRepr();
  for (const { index, message, src, dst, hopLimit } of messages) {
    assert.equal(hopLimit, NDP_HOP_LIMIT, `frame ${index + 1}`);
    const r = NdpRepr.parse(new Icmpv6Packet(message), src, dst, repr);
    if (index === 5 || index === 9) {
      // dnsmasq sent these RAs from B's global address while its link-local address was
      // tentative: RFC 4861 §6.1.2 makes them invalid (Linux ignores them too).
      assert.ok(isWireError(r) && r.kind === "bad-field", `frame ${index + 1}`);
      continue;
    }
    if (isWireError(r)) throw new Error(`frame ${index + 1}: ${r}`);
    const out = emit(r, src, dst);
    assert.deepEqual(out, message, `frame ${index + 1}`);
  }
  const ra = parseOk(messages[9].message, messages[9].src, messages[9].dst);
  assert.equal(ra.curHopLimit, 64);
  assert.equal(ra.routerLifetime, 600);
  assert.equal(ra.mtu, 1500);
  assert.equal(ra.sourceLinkLayer, MAC_B);
  assert.equal(ra.prefixes.length, 1);
  assert.equal(ra.prefixes[0].prefix.toString(), "2001:db8::");
  assert.equal(ra.prefixes[0].prefixLength, 64);
  assert.ok(ra.prefixes[0].onLink && ra.prefixes[0].autonomous);
  assert.equal(ra.prefixes[0].validLifetime, 3600);
  const dad = parseOk(messages[0].message, messages[0].src, messages[0].dst);
  assert.ok(messages[0].src.isUnspecified());
  assert.equal(dad.target.toString(), "fe80::ff:fe00:1");
  assert.equal(dad.sourceLinkLayer, -1, "no SLLA from the unspecified address");
  assert.ok(dad.nonce >= 0, "Linux's enhanced-DAD nonce (RFC 7527 §4.1)");
  const na = parseOk(messages[7].message, messages[7].src, messages[7].dst);
  assert.ok(na.router && na.solicited && na.override);
  assert.equal(na.targetLinkLayer, MAC_B);
});

Deno.test("NdpRepr fields equal tshark's decode of the kernel capture", async () => {
  const decoded = await tsharkDecodeFile(testdataPath(IPV6_CAPTURE));
  if (decoded === null) return;
  for (const { index, message, src, dst } of kernelNdp()) {
    const t: TsharkFrame = decoded[index];
    assert.equal(t.field("icmpv6.checksum.status"), "1", `frame ${index + 1}`);
    const r = NdpRepr.parse(new Icmpv6Packet(message), src, dst, undefined, {
      verifyChecksum: true,
    });
    if (isWireError(r)) continue; // the two invalid RAs
    assert.equal(r.type, t.num("icmpv6.type"));
    switch (r.type) {
      case ICMPV6_ROUTER_ADVERTISEMENT:
        assert.equal(r.curHopLimit, t.num("icmpv6.nd.ra.cur_hop_limit"));
        assert.equal(r.routerLifetime, t.num("icmpv6.nd.ra.router_lifetime"));
        assert.equal(r.reachableTime, t.num("icmpv6.nd.ra.reachable_time"));
        assert.equal(r.retransTimer, t.num("icmpv6.nd.ra.retrans_timer"));
        assert.equal(r.managed, t.field("icmpv6.nd.ra.flag.m") === "1");
        assert.equal(r.other, t.field("icmpv6.nd.ra.flag.o") === "1");
        assert.equal(r.mtu, t.num("icmpv6.opt.mtu"));
        assert.equal(r.prefixes[0].prefix.toString(), t.field("icmpv6.opt.prefix"));
        assert.equal(
          r.prefixes[0].preferredLifetime,
          t.num("icmpv6.opt.prefix.preferred_lifetime"),
        );
        break;
      case ICMPV6_NEIGHBOR_SOLICITATION:
        assert.equal(r.target.toString(), t.field("icmpv6.nd.ns.target_address"));
        break;
      case ICMPV6_NEIGHBOR_ADVERTISEMENT:
        assert.equal(r.target.toString(), t.field("icmpv6.nd.na.target_address"));
        assert.equal(r.router, t.field("icmpv6.nd.na.flag.r") === "1");
        assert.equal(r.solicited, t.field("icmpv6.nd.na.flag.s") === "1");
        assert.equal(r.override, t.field("icmpv6.nd.na.flag.o") === "1");
        break;
      default:
        break;
    }
    const lla = t.field("icmpv6.opt.linkaddr");
    const ours = r.sourceLinkLayer >= 0 ? r.sourceLinkLayer : r.targetLinkLayer;
    assert.equal(ours >= 0 ? new MacAddress(ours).toString() : undefined, lla);
  }
});

Deno.test("NdpRepr emits RS, RA, NS, NA and redirect in a form tshark accepts", async () => {
  const global = Ipv6Address.parse("2001:db8::2");
  const offLink = Ipv6Address.parse("2001:db8:5::1");
  const redirected = new Uint8Array(IPV6_HEADER_LEN + 30);
  redirected[0] = 0x60;
  redirected[5] = 30;
  redirected[6] = 59; // No Next Header
  redirected[7] = 64;
  global.writeTo(redirected, 8);
  offLink.writeTo(redirected, 24);
  const cases: [NdpRepr, Ipv6Address, Ipv6Address][] = [
    [
      { ...newNdpRepr(ICMPV6_ROUTER_SOLICITATION), sourceLinkLayer: MAC_A },
      LL_A,
      Ipv6Address.ALL_ROUTERS,
    ],
    [
      { ...newNdpRepr(ICMPV6_ROUTER_SOLICITATION) },
      Ipv6Address.UNSPECIFIED,
      Ipv6Address.ALL_ROUTERS,
    ],
    [
      {
        ...newNdpRepr(ICMPV6_ROUTER_ADVERTISEMENT),
        curHopLimit: 64,
        managed: true,
        other: true,
        routerLifetime: 1800,
        reachableTime: 30000,
        retransTimer: 1000,
        mtu: 1280,
        sourceLinkLayer: MAC_B,
        prefixes: [
          {
            prefix: Ipv6Address.parse("2001:db8::"),
            prefixLength: 64,
            onLink: true,
            autonomous: true,
            validLifetime: NDP_INFINITE_LIFETIME,
            preferredLifetime: 604800,
          },
          {
            prefix: Ipv6Address.parse("2001:db8:1::"),
            prefixLength: 48,
            onLink: true,
            autonomous: false,
            validLifetime: 0,
            preferredLifetime: 0,
          },
        ],
      },
      LL_B,
      Ipv6Address.ALL_NODES,
    ],
    [
      { ...newNdpRepr(ICMPV6_NEIGHBOR_SOLICITATION), target: global },
      Ipv6Address.UNSPECIFIED,
      global.solicitedNode(),
    ],
    [
      { ...newNdpRepr(ICMPV6_NEIGHBOR_SOLICITATION), target: global, sourceLinkLayer: MAC_A },
      LL_A,
      global.solicitedNode(),
    ],
    [
      {
        ...newNdpRepr(ICMPV6_NEIGHBOR_ADVERTISEMENT),
        target: global,
        solicited: true,
        override: true,
        targetLinkLayer: MAC_B,
      },
      global,
      LL_A,
    ],
    [
      {
        ...newNdpRepr(ICMPV6_NEIGHBOR_ADVERTISEMENT),
        target: global,
        override: true,
        targetLinkLayer: MAC_B,
      },
      global,
      Ipv6Address.ALL_NODES,
    ],
    [
      {
        ...newNdpRepr(ICMPV6_REDIRECT),
        target: LL_B,
        destination: offLink,
        targetLinkLayer: MAC_B,
        redirected,
        redirectedLength: redirected.length,
      },
      Ipv6Address.parse("fe80::1"),
      Ipv6Address.parse("2001:db8::1"),
    ],
  ];
  const frames = cases.map(([repr, src, dst]) => {
    const b = emit(repr, src, dst);
    const back = parseOk(b, src, dst);
    assert.equal(back.type, repr.type);
    assert.equal(back.sourceLinkLayer, repr.sourceLinkLayer);
    assert.equal(back.targetLinkLayer, repr.targetLinkLayer);
    assert.equal(back.prefixes.length, repr.prefixes.length);
    return ipv6Frame({
      src,
      dst,
      nextHeader: IP_PROTO_ICMPV6,
      hopLimit: NDP_HOP_LIMIT,
      payloadLength: b.length,
      fill: (f, at) => f.set(b, at),
    });
  });
  const redirect = parseOk(emit(...cases[7]), cases[7][1], cases[7][2]);
  assert.equal(redirect.redirectedLength, 64, "70 bytes cut to 64, as Linux does");
  assert.deepEqual(
    redirect.redirected.subarray(redirect.redirectedOffset, redirect.redirectedOffset + 64),
    redirected.subarray(0, 64),
  );
  const decoded = await assertTsharkClean(frames, { what: "emitted NDP" });
  if (decoded === null) return;
  decoded.forEach((t, i) => {
    assert.equal(t.field("icmpv6.checksum.status"), "1");
    assert.equal(t.num("icmpv6.type"), cases[i][0].type);
  });
  assert.equal(decoded[2].num("icmpv6.opt.mtu"), 1280);
  assert.equal(decoded[2].field("icmpv6.opt.prefix", 1), "2001:db8:1::");
  assert.equal(decoded[2].num("icmpv6.opt.prefix.valid_lifetime"), NDP_INFINITE_LIFETIME);
  assert.equal(decoded[2].field("icmpv6.nd.ra.flag.m"), "1");
  assert.equal(decoded[5].field("icmpv6.nd.na.flag.s"), "1");
  assert.equal(decoded[7].field("icmpv6.rd.na.destination_address"), "2001:db8:5::1");
  assert.equal(decoded[7].field("ipv6.dst", 1), "2001:db8:5::1", "the redirected header");
});

/** An NS from LL_A for LL_B with `options` appended (raw bytes). */
function nsWith(options: number[]): Uint8Array {
  const base = emit({ ...newNdpRepr(ICMPV6_NEIGHBOR_SOLICITATION), target: LL_B }, LL_A, LL_B);
  const b = new Uint8Array(base.length + options.length);
  b.set(base);
  b.set(options, base.length);
  new Icmpv6Packet(b).fillChecksum(LL_A, LL_B);
  return b;
}

Deno.test("NdpRepr discards messages with an option of length 0 or options that overrun", () => {
  assert.ok(!isWireError(parse(nsWith([1, 1, 2, 0, 0, 0, 0, 1]), LL_A, LL_B)));
  const zero = parseErr(nsWith([1, 0, 2, 0, 0, 0, 0, 1]), LL_A, LL_B);
  assert.equal(zero.kind, "bad-option");
  assert.equal(zero.protocol, "ndp");
  // RFC 4861 §4.6: an unknown option of length 0 is as bad.
  assert.equal(parseErr(nsWith([200, 0, 0, 0, 0, 0, 0, 0]), LL_A, LL_B).kind, "bad-option");
  assert.equal(parseErr(nsWith([1, 2, 2, 0, 0, 0, 0, 1]), LL_A, LL_B).kind, "truncated");
  assert.equal(parseErr(nsWith([1]), LL_A, LL_B).kind, "truncated");
  // Known options whose length cannot hold them.
  assert.equal(
    parseErr(nsWith([NDP_OPT_MTU, 2, ...new Array(14).fill(0)]), LL_A, LL_B).kind,
    "bad-option",
  );
  assert.equal(
    parseErr(nsWith([NDP_OPT_PREFIX_INFO, 1, 0, 0, 0, 0, 0, 0]), LL_A, LL_B).kind,
    "bad-option",
  );
  // Unknown options are skipped (§4.6); the first SLLA counts.
  const r = parseOk(
    nsWith([200, 1, 9, 9, 9, 9, 9, 9, 1, 1, 2, 0, 0, 0, 0, 7, 1, 1, 2, 0, 0, 0, 0, 8]),
    LL_A,
    LL_B,
  );
  assert.equal(r.sourceLinkLayer, 0x020000000007);
});

Deno.test("NdpRepr checks the RFC 4861 §6.1, §7.1 and §8.1 validity rules", () => {
  const global = Ipv6Address.parse("2001:db8::2");
  const ns = emit({ ...newNdpRepr(ICMPV6_NEIGHBOR_SOLICITATION), target: global }, LL_A, LL_B);
  assert.ok(!isWireError(parse(ns, LL_A, LL_B)));
  // Code other than 0.
  const coded = ns.slice();
  coded[1] = 1;
  new Icmpv6Packet(coded).fillChecksum(LL_A, LL_B);
  assert.equal(parseErr(coded, LL_A, LL_B).kind, "bad-field");
  // Too short for its type.
  const short = ns.slice(0, 20);
  new Icmpv6Packet(short).fillChecksum(LL_A, LL_B);
  assert.equal(parseErr(short, LL_A, LL_B).kind, "truncated");
  // Multicast target.
  const mcast = emit(
    { ...newNdpRepr(ICMPV6_NEIGHBOR_SOLICITATION), target: Ipv6Address.ALL_NODES },
    LL_A,
    LL_B,
  );
  assert.equal(parseErr(mcast, LL_A, LL_B).kind, "bad-field");
  // DAD: from :: only to a solicited-node group and without SLLA.
  const dad = emit(
    { ...newNdpRepr(ICMPV6_NEIGHBOR_SOLICITATION), target: global },
    Ipv6Address.UNSPECIFIED,
    global.solicitedNode(),
  );
  assert.ok(!isWireError(parse(dad, Ipv6Address.UNSPECIFIED, global.solicitedNode())));
  const dadUnicast = emit(
    { ...newNdpRepr(ICMPV6_NEIGHBOR_SOLICITATION), target: global },
    Ipv6Address.UNSPECIFIED,
    global,
  );
  assert.equal(parseErr(dadUnicast, Ipv6Address.UNSPECIFIED, global).kind, "bad-field");
  const dadLla = emit(
    { ...newNdpRepr(ICMPV6_NEIGHBOR_SOLICITATION), target: global, sourceLinkLayer: MAC_A },
    Ipv6Address.UNSPECIFIED,
    global.solicitedNode(),
  );
  assert.equal(parseErr(dadLla, Ipv6Address.UNSPECIFIED, global.solicitedNode()).kind, "bad-field");
  const rsLla = emit(
    { ...newNdpRepr(ICMPV6_ROUTER_SOLICITATION), sourceLinkLayer: MAC_A },
    Ipv6Address.UNSPECIFIED,
    Ipv6Address.ALL_ROUTERS,
  );
  assert.equal(parseErr(rsLla, Ipv6Address.UNSPECIFIED, Ipv6Address.ALL_ROUTERS).kind, "bad-field");
  // A solicited NA to a multicast group; an NA from ::.
  const na = { ...newNdpRepr(ICMPV6_NEIGHBOR_ADVERTISEMENT), target: global, solicited: true };
  assert.equal(
    parseErr(emit(na, global, Ipv6Address.ALL_NODES), global, Ipv6Address.ALL_NODES).kind,
    "bad-field",
  );
  assert.ok(!isWireError(parse(emit(na, global, LL_A), global, LL_A)));
  assert.equal(
    parseErr(emit(na, Ipv6Address.UNSPECIFIED, LL_A), Ipv6Address.UNSPECIFIED, LL_A).kind,
    "bad-field",
  );
  // RA from a non-link-local source.
  const ra = newNdpRepr(ICMPV6_ROUTER_ADVERTISEMENT);
  assert.ok(
    !isWireError(parse(emit(ra, LL_B, Ipv6Address.ALL_NODES), LL_B, Ipv6Address.ALL_NODES)),
  );
  assert.equal(
    parseErr(emit(ra, global, Ipv6Address.ALL_NODES), global, Ipv6Address.ALL_NODES).kind,
    "bad-field",
  );
  // Redirect: link-local source; destination not multicast; target link-local or the destination.
  const offLink = Ipv6Address.parse("2001:db8:5::1");
  const rd = { ...newNdpRepr(ICMPV6_REDIRECT), target: LL_B, destination: offLink };
  assert.ok(!isWireError(parse(emit(rd, LL_A, global), LL_A, global)));
  assert.equal(parseErr(emit(rd, global, global), global, global).kind, "bad-field");
  const toMcast = { ...rd, destination: Ipv6Address.ALL_NODES };
  assert.equal(parseErr(emit(toMcast, LL_A, global), LL_A, global).kind, "bad-field");
  const onLink = { ...rd, target: offLink };
  assert.ok(!isWireError(parse(emit(onLink, LL_A, global), LL_A, global)), "target = destination");
  const elsewhere = { ...rd, target: global };
  assert.equal(parseErr(emit(elsewhere, LL_A, global), LL_A, global).kind, "bad-field");
  // Not an NDP type; bad checksum.
  const echo = ns.slice();
  echo[0] = 128;
  assert.equal(parseErr(echo, LL_A, LL_B).kind, "unsupported");
  const corrupt = ns.slice();
  corrupt[10] ^= 1;
  assert.equal(parseErr(corrupt, LL_A, LL_B).kind, "bad-checksum");
});

Deno.test("NdpOptionReader walks options in place, RDNSS included", () => {
  const server1 = Ipv6Address.parse("2001:db8::53");
  const server2 = Ipv6Address.parse("2001:db8::54");
  const opts = new Uint8Array(8 + 40 + 8);
  opts.set([NDP_OPT_SOURCE_LL, 1, 2, 0, 0, 0, 0, 2]);
  opts.set([NDP_OPT_RDNSS, 5, 0, 0, 0, 0, 0x0e, 0x10], 8);
  server1.writeTo(opts, 16);
  server2.writeTo(opts, 32);
  opts.set([NDP_OPT_MTU, 1, 0, 0, 0, 0, 0x05, 0xdc], 48);
  const r = new NdpOptionReader().reset(opts, 0, opts.length);
  const seen: number[] = [];
  while (r.next()) {
    seen.push(r.type);
    if (r.type === NDP_OPT_RDNSS) {
      assert.equal(r.rdnssLifetime, 3600);
      assert.equal(r.rdnssCount, 2);
      assert.ok(server1.equalsAt(opts, r.rdnssAddressOffset(0)));
      assert.ok(server2.equalsAt(opts, r.rdnssAddressOffset(1)));
    }
    if (r.type === NDP_OPT_SOURCE_LL) assert.equal(r.linkLayerAddress, MAC_B);
    if (r.type === NDP_OPT_MTU) assert.equal(r.mtu, 1500);
  }
  assert.deepEqual(seen, [NDP_OPT_SOURCE_LL, NDP_OPT_RDNSS, NDP_OPT_MTU]);
  assert.equal(r.error, null);
  // RDNSS lengths must be odd and ≥ 3 (RFC 8106 §5.1).
  const even = opts.slice(8, 48);
  even[1] = 4;
  assert.ok(!new NdpOptionReader().reset(even, 0, 32).next());
  // The reader never reads past the area it was given.
  const r2 = new NdpOptionReader().reset(opts, 0, 20);
  assert.ok(r2.next());
  assert.ok(!r2.next());
  assert.equal(r2.error?.kind, "truncated");
});

Deno.test("NdpRepr.parse reuses the prefix and address objects already in out", () => {
  const ra = {
    ...newNdpRepr(ICMPV6_ROUTER_ADVERTISEMENT),
    prefixes: [{
      prefix: Ipv6Address.parse("2001:db8::"),
      prefixLength: 64,
      onLink: true,
      autonomous: true,
      validLifetime: 100,
      preferredLifetime: 50,
    }],
  };
  const bytes = emit(ra, LL_B, Ipv6Address.ALL_NODES);
  const out = newNdpRepr();
  NdpRepr.parse(new Icmpv6Packet(bytes), LL_B, Ipv6Address.ALL_NODES, out);
  const entry = out.prefixes[0];
  const prefix = entry.prefix;
  NdpRepr.parse(new Icmpv6Packet(bytes), LL_B, Ipv6Address.ALL_NODES, out);
  assert.equal(out.prefixes[0], entry);
  assert.equal(out.prefixes[0].prefix, prefix);
  // A message without prefixes empties the list.
  const rs = emit(newNdpRepr(ICMPV6_ROUTER_SOLICITATION), LL_A, Ipv6Address.ALL_ROUTERS);
  NdpRepr.parse(new Icmpv6Packet(rs), LL_A, Ipv6Address.ALL_ROUTERS, out);
  assert.equal(out.prefixes.length, 0);
  assert.equal(out.type, ICMPV6_ROUTER_SOLICITATION);
  assert.equal(out.mtu, -1);
});

/** An RA from LL_B with M and O set, two RDNSS options and a DNSSL option (RFC 8106 §5). */
function raWithDns(): NdpRepr {
  return {
    ...newNdpRepr(ICMPV6_ROUTER_ADVERTISEMENT),
    curHopLimit: 64,
    managed: true,
    other: true,
    routerLifetime: 1800,
    sourceLinkLayer: MAC_B,
    rdnss: [
      {
        lifetime: 600,
        servers: [Ipv6Address.parse("2001:db8::53"), Ipv6Address.parse("2001:db8::54")],
      },
      { lifetime: NDP_INFINITE_LIFETIME, servers: [Ipv6Address.parse("2001:db8:1::53")] },
    ],
    dnssl: [{ lifetime: 1200, domains: ["example.test", "lab.example.test"] }],
  };
}

Deno.test("NdpRepr emits and parses RDNSS and DNSSL options in a form tshark accepts (RFC 8106 §5.1, §5.2)", async () => {
  const ra = raWithDns();
  const b = emit(ra, LL_B, Ipv6Address.ALL_NODES);
  // 16 fixed + RDNSS 40 + RDNSS 24 + DNSSL (8 + 14 + 18 = 40) + SLLA 8.
  assert.equal(b.length, 16 + 40 + 24 + 40 + 8);
  const back = parseOk(b, LL_B, Ipv6Address.ALL_NODES);
  assert.ok(back.managed && back.other);
  assert.deepEqual(
    back.rdnss.map((r) => [r.lifetime, r.servers.map(String)]),
    [[600, ["2001:db8::53", "2001:db8::54"]], [NDP_INFINITE_LIFETIME, ["2001:db8:1::53"]]],
  );
  assert.deepEqual(back.dnssl, [{ lifetime: 1200, domains: ["example.test", "lab.example.test"] }]);
  assert.deepEqual(emit(back, LL_B, Ipv6Address.ALL_NODES), b, "round trip byte for byte");
  // RDNSS and DNSSL belong to RAs: in other messages they are skipped.
  const ns = nsWith([...b.subarray(16, 16 + 24 + 40)]);
  const nsBack = parseOk(ns, LL_A, LL_B);
  assert.equal(nsBack.rdnss.length, 0);
  assert.equal(nsBack.dnssl.length, 0);
  const frame = ipv6Frame({
    src: LL_B,
    dst: Ipv6Address.ALL_NODES,
    nextHeader: IP_PROTO_ICMPV6,
    hopLimit: NDP_HOP_LIMIT,
    payloadLength: b.length,
    fill: (f, at) => f.set(b, at),
  });
  const decoded = await assertTsharkClean([frame], { what: "RA with RDNSS and DNSSL" });
  if (decoded === null) return;
  const t = decoded[0];
  assert.equal(t.field("icmpv6.checksum.status"), "1");
  assert.equal(t.field("icmpv6.nd.ra.flag.m"), "1");
  assert.equal(t.field("icmpv6.nd.ra.flag.o"), "1");
  assert.equal(t.num("icmpv6.opt.rdnss.lifetime"), 600);
  assert.equal(t.field("icmpv6.opt.rdnss"), "2001:db8::53");
  assert.equal(t.field("icmpv6.opt.rdnss", 1), "2001:db8::54");
  assert.equal(t.field("icmpv6.opt.rdnss", 2), "2001:db8:1::53");
  assert.equal(t.num("icmpv6.opt.dnssl.lifetime"), 1200);
  assert.equal(t.field("icmpv6.opt.dnssl"), "example.test");
  assert.equal(t.field("icmpv6.opt.dnssl", 1), "lab.example.test");
});

Deno.test("NdpRepr skips a DNSSL option with malformed names and keeps the rest of the RA", () => {
  const ra = raWithDns();
  const b = emit(ra, LL_B, Ipv6Address.ALL_NODES);
  const dnsslAt = 16 + 40 + 24;
  assert.equal(b[dnsslAt], NDP_OPT_DNSSL);
  const cases: [string, (m: Uint8Array) => void][] = [
    ["a compression pointer", (m) => m[dnsslAt + 8] = 0xc0],
    ["a label running past the option", (m) => m[dnsslAt + 8 + 13 + 1] = 60],
    ["non-zero padding", (m) => m[dnsslAt + 39] = 1],
  ];
  for (const [what, spoil] of cases) {
    const m = b.slice();
    spoil(m);
    new Icmpv6Packet(m).fillChecksum(LL_B, Ipv6Address.ALL_NODES);
    const back = parseOk(m, LL_B, Ipv6Address.ALL_NODES);
    assert.equal(back.dnssl.length, 0, what);
    assert.equal(back.rdnss.length, 2, what);
    assert.equal(back.sourceLinkLayer, MAC_B, what);
  }
  // A DNSSL option of one unit cannot hold a name (RFC 8106 §5.2: the minimum length is 2).
  const short = nsWith([NDP_OPT_DNSSL, 1, 0, 0, 0, 0, 0, 0]);
  const r = NdpRepr.parse(new Icmpv6Packet(short), LL_A, LL_B);
  assert.ok(isWireError(r) && r.kind === "bad-option");
});
