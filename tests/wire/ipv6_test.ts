import assert from "node:assert/strict";
import {
  emitFragmentHeader,
  emitHopByHopRouterAlert,
  ICMPV6_PARAM_HEADER_FIELD,
  ICMPV6_PARAM_INCOMPLETE_CHAIN,
  ICMPV6_PARAM_NEXT_HEADER,
  ICMPV6_PARAM_OPTION,
  IP_PROTO_AH,
  IP_PROTO_DSTOPTS,
  IP_PROTO_FRAGMENT,
  IP_PROTO_HOPOPTS,
  IP_PROTO_ICMPV6,
  IP_PROTO_NONE,
  IP_PROTO_ROUTING,
  IPV6_HEADER_LEN,
  type Ipv6Chain,
  Ipv6Packet,
  Ipv6Repr,
  newIpv6Chain,
  newIpv6Repr,
  walkIpv6Chain,
} from "../../src/wire/ipv6.ts";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import { isWireError, type WireError } from "../../src/wire/error.ts";
import { IP_PROTO_TCP, IP_PROTO_UDP } from "../../src/wire/ipv4.ts";
import { ETH, hex, IPV6_CAPTURE, kernelIpv6Frames } from "./_ipv6_frames.ts";
import { testdataPath, tsharkDecodeFile, type TsharkFrame } from "./_tshark.ts";

const A = Ipv6Address.parse("2001:db8::1");
const B = Ipv6Address.parse("2001:db8::2");

function walkOk(p: Ipv6Packet, out?: Ipv6Chain): Ipv6Chain {
  const r = walkIpv6Chain(p, out);
  if (isWireError(r)) throw new Error(`unexpected ${r}`);
  return r;
}

function walkErr(p: Ipv6Packet): WireError {
  const r = walkIpv6Chain(p);
  assert.ok(isWireError(r), `expected a WireError, got ${JSON.stringify(r)}`);
  return r;
}

/** A packet A→dst with `nextHeader` and the given payload bytes. */
function packet(nextHeader: number, payload: number[], dst: Ipv6Address = B): Ipv6Packet {
  const bytes = new Uint8Array(IPV6_HEADER_LEN + payload.length);
  Ipv6Repr.emit(
    { ...newIpv6Repr(), source: A, destination: dst, nextHeader, payloadLength: payload.length },
    bytes,
    0,
  );
  bytes.set(payload, IPV6_HEADER_LEN);
  const p = new Ipv6Packet(bytes);
  assert.equal(p.check(), null);
  return p;
}

/** A Destination/Hop-by-Hop options header of 8 bytes: next header, length 0, 6 option bytes. */
function optionsHeader(next: number, options: number[]): number[] {
  assert.equal(options.length, 6);
  return [next, 0, ...options];
}

const UDP8 = [0x9c, 0x41, 0, 9, 0, 8, 0, 0];

Deno.test("Ipv6Repr parse → emit reproduces every kernel IPv6 header and matches tshark", async () => {
  const frames = kernelIpv6Frames();
  assert.equal(frames.length, 38);
  const repr = newIpv6Repr();
  for (const { index, frame, ip } of frames) {
    const r = Ipv6Repr.parse(ip, repr);
    if (isWireError(r)) throw new Error(`frame ${index + 1}: ${r}`);
    const out = new Uint8Array(IPV6_HEADER_LEN);
    assert.equal(Ipv6Repr.emit(r, out, 0), IPV6_HEADER_LEN);
    assert.deepEqual(out, frame.subarray(ETH, ETH + IPV6_HEADER_LEN), `frame ${index + 1}`);
    assert.equal(r.payloadOffset, ETH + IPV6_HEADER_LEN);
  }
  const decoded = await tsharkDecodeFile(testdataPath(IPV6_CAPTURE));
  if (decoded === null) return;
  for (const { index, ip } of frames) {
    const t: TsharkFrame = decoded[index];
    const r = Ipv6Repr.parse(ip) as Ipv6Repr;
    assert.equal(r.source.toString(), t.field("ipv6.src"), `frame ${index + 1}`);
    assert.equal(r.destination.toString(), t.field("ipv6.dst"));
    assert.equal(r.payloadLength, t.num("ipv6.plen"));
    assert.equal(r.nextHeader, t.num("ipv6.nxt"));
    assert.equal(r.hopLimit, t.num("ipv6.hlim"));
    assert.equal(r.flowLabel, t.num("ipv6.flow"));
    assert.equal(r.trafficClass, t.num("ipv6.tclass"));
  }
});

Deno.test("Ipv6Repr.parse keeps the address objects of out when a packet repeats them", () => {
  const frames = kernelIpv6Frames();
  const repr = newIpv6Repr();
  Ipv6Repr.parse(frames[15].ip, repr); // 2001:db8::1 → 2001:db8::2
  const src = repr.source;
  const dst = repr.destination;
  Ipv6Repr.parse(frames[17].ip, repr); // same pair: nothing new
  assert.equal(repr.source, src);
  assert.equal(repr.destination, dst);
  Ipv6Repr.parse(frames[16].ip, repr); // reversed: new objects, the old ones unchanged
  assert.notEqual(repr.source, src);
  assert.equal(repr.source.toString(), "2001:db8::2");
  assert.equal(src.toString(), "2001:db8::1");
});

Deno.test("Ipv6Packet rejects short buffers, other versions and payload lengths that lie", () => {
  const p = packet(IP_PROTO_UDP, UDP8);
  for (let len = 0; len < IPV6_HEADER_LEN; len++) {
    assert.equal(p.reset(p.bytes, 0, len).check()?.kind, "truncated");
  }
  assert.equal(p.reset(p.bytes, 1, p.bytes.length).check()?.kind, "bad-length");
  p.reset(p.bytes, 0, p.bytes.length);
  p.payloadLength = 9;
  assert.equal(p.check()?.kind, "bad-total-length");
  assert.equal(p.checkHeader(), null, "the header alone is readable (an ICMPv6 quote)");
  p.payloadLength = 8;
  p.bytes[0] = 0x45;
  assert.equal(p.check()?.kind, "bad-version");
  assert.equal(p.checkHeader()?.kind, "bad-version");
  const e = Ipv6Repr.parse(p);
  assert.ok(isWireError(e) && e.protocol === "ipv6");
  // Padding after the payload (a short packet in a 60-byte Ethernet frame) is allowed.
  const padded = new Uint8Array(60);
  padded.set(packet(IP_PROTO_NONE, []).bytes);
  assert.equal(new Ipv6Packet(padded).check(), null);
});

Deno.test("Ipv6Packet accessors read and write traffic class, flow label and hop limit in place", () => {
  const p = packet(IP_PROTO_UDP, UDP8);
  p.trafficClass = 0xb8;
  p.flowLabel = 0xabcde;
  p.hopLimit = 255;
  assert.equal(p.version, 6);
  assert.equal(p.trafficClass, 0xb8);
  assert.equal(p.flowLabel, 0xabcde);
  assert.equal(hex(p.bytes.subarray(0, 4)), "6b8abcde");
  p.flowLabel = 0x12345;
  assert.equal(p.trafficClass, 0xb8, "the flow label does not touch the traffic class");
  const r = Ipv6Repr.parse(p) as Ipv6Repr;
  assert.equal(r.hopLimit, 255);
  assert.equal(r.flowLabel, 0x12345);
  p.source = B;
  p.destination = Ipv6Address.ALL_NODES;
  assert.ok(p.source.equals(B) && p.destinationIsMulticast);
  p.setVersion();
  assert.equal(p.trafficClass, 0);
  assert.equal(p.flowLabel, 0);
});

Deno.test("emitHopByHopRouterAlert and emitFragmentHeader write the bytes Linux sends", () => {
  const frames = kernelIpv6Frames();
  // Frame 1: an MLDv2 report behind Linux's Hop-by-Hop Router Alert.
  const mld = frames[0].frame;
  const hbh = new Uint8Array(8);
  emitHopByHopRouterAlert(hbh, 0, IP_PROTO_ICMPV6);
  assert.deepEqual(hbh, mld.subarray(ETH + 40, ETH + 48));
  // Frame 19: the second fragment of a 4,000-byte echo request.
  const frag = frames[18].frame.subarray(ETH + 40, ETH + 48);
  const id = frames[18].frame.subarray(ETH + 44, ETH + 48);
  const ours = new Uint8Array(8);
  emitFragmentHeader(
    ours,
    0,
    IP_PROTO_ICMPV6,
    1448,
    true,
    (id[0] << 24) | (id[1] << 16) | (id[2] << 8) | id[3],
  );
  assert.deepEqual(ours, frag);
});

Deno.test("walkIpv6Chain on the kernel capture agrees with what the kernel did", () => {
  const frames = kernelIpv6Frames();
  const chain = newIpv6Chain();
  const verdicts = frames.map(({ ip }) => {
    const c = walkOk(ip, chain);
    return `${c.verdict}:${c.protocol}`;
  });
  // MLD reports behind Hop-by-Hop; fragments; UDP; Next Header 253; a Destination Options header.
  assert.equal(verdicts[0], "deliver:58");
  assert.equal(verdicts[17], "reassemble:58");
  assert.equal(verdicts[18], "reassemble:58");
  assert.equal(verdicts[19], "reassemble:58");
  assert.equal(verdicts[23], "deliver:17");
  assert.equal(verdicts[31], "parameter-problem:253");
  assert.equal(verdicts[33], "parameter-problem:60");
  for (const i of [3, 13, 14, 15, 16, 24, 28, 30]) {
    assert.equal(verdicts[i], "deliver:58", `${i + 1}`);
  }

  const mld = walkOk(frames[0].ip);
  assert.ok(mld.hopByHop);
  assert.equal(mld.routerAlert, 0);
  assert.equal(mld.upperOffset, ETH + 48);
  assert.equal(mld.nextHeaderPointer, 40);

  const first = walkOk(frames[17].ip);
  assert.ok(first.hasFragmentHeader && first.moreFragments && !first.atomicFragment);
  assert.equal(first.fragmentOffset, 0);
  assert.equal(first.fragmentId >>> 0, 0xb301e2ce);
  assert.equal(first.fragmentHeaderPointer, 40);
  assert.equal(first.fragmentNextHeaderPointer, 6);
  assert.ok(first.chainComplete);
  assert.equal(first.upperOffset, ETH + 48);
  assert.equal(first.upperLength, 1448);
  const last = walkOk(frames[19].ip);
  assert.equal(last.fragmentOffset, 2896);
  assert.ok(!last.moreFragments);

  // Frames 32/33: Next Header 253, and the kernel's Parameter Problem code 1: its pointer is ours.
  const unknown = walkOk(frames[31].ip);
  assert.equal(unknown.icmpCode, ICMPV6_PARAM_NEXT_HEADER);
  assert.ok(unknown.icmpAllowed);
  const pp1 = frames[32].frame;
  assert.equal(pp1[ETH + 40], 4);
  assert.equal(pp1[ETH + 41], 1);
  assert.equal(new DataView(pp1.buffer, pp1.byteOffset).getUint32(ETH + 44), unknown.pointer);
  assert.equal(unknown.pointer, 6);
  // Frames 34/35: option 0x9e (action 10) in a Destination Options header: code 2, same pointer.
  const option = walkOk(frames[33].ip);
  assert.equal(option.icmpCode, ICMPV6_PARAM_OPTION);
  const pp2 = frames[34].frame;
  assert.equal(pp2[ETH + 41], 2);
  assert.equal(new DataView(pp2.buffer, pp2.byteOffset).getUint32(ETH + 44), option.pointer);
  assert.equal(option.pointer, 42);
});

Deno.test("walkIpv6Chain applies the RFC 8200 §4.2 action of an unrecognised option", () => {
  // option type, length 4, four bytes: the whole 6-byte option area.
  const opt = (type: number) => optionsHeader(IP_PROTO_UDP, [type, 4, 0, 0, 0, 0]);
  const cases: [number, Ipv6Address, string, boolean][] = [
    [0x1e, B, "deliver", false], // 00: skip
    [0x5e, B, "discard", false], // 01: discard
    [0x9e, B, "parameter-problem", true], // 10: ICMP
    [0x9e, Ipv6Address.ALL_NODES, "parameter-problem", true], // 10: even to multicast
    [0xde, B, "parameter-problem", true], // 11: ICMP when unicast
    [0xde, Ipv6Address.ALL_NODES, "parameter-problem", false], // 11: not to multicast
  ];
  for (const [type, dst, verdict, icmp] of cases) {
    for (const header of [IP_PROTO_HOPOPTS, IP_PROTO_DSTOPTS]) {
      const c = walkOk(packet(header, [...opt(type), ...UDP8], dst));
      const what = `option 0x${type.toString(16)} to ${dst} in header ${header}`;
      assert.equal(c.verdict, verdict, what);
      if (verdict === "parameter-problem") {
        assert.equal(c.icmpCode, ICMPV6_PARAM_OPTION, what);
        assert.equal(c.pointer, 42, what);
        assert.equal(c.icmpAllowed, icmp, what);
      }
      if (verdict === "deliver") assert.equal(c.upperOffset, 48);
    }
  }
  // Pad1, PadN and a Router Alert are understood; the pointer names the offending option.
  const mixed = optionsHeader(IP_PROTO_UDP, [0, 1, 0, 0xde, 1, 0]);
  const c = walkOk(packet(IP_PROTO_HOPOPTS, [...mixed, ...UDP8]));
  assert.equal(c.verdict, "parameter-problem", "an unrecognised option after Pad1 and PadN");
  assert.equal(c.pointer, 45);
  const alert = walkOk(
    packet(IP_PROTO_HOPOPTS, [...optionsHeader(IP_PROTO_UDP, [5, 2, 0, 1, 0, 0]), ...UDP8]),
  );
  assert.equal(alert.routerAlert, 1);
  assert.equal(alert.verdict, "deliver");
});

Deno.test("walkIpv6Chain refuses misplaced, unknown and routing headers with the right pointer", () => {
  // Hop-by-Hop after a Destination Options header: code 1 at the Next Header naming it.
  const late = walkOk(
    packet(IP_PROTO_DSTOPTS, [
      ...optionsHeader(IP_PROTO_HOPOPTS, [1, 4, 0, 0, 0, 0]),
      ...optionsHeader(IP_PROTO_UDP, [1, 4, 0, 0, 0, 0]),
      ...UDP8,
    ]),
  );
  assert.equal(late.verdict, "parameter-problem");
  assert.equal(late.icmpCode, ICMPV6_PARAM_NEXT_HEADER);
  assert.equal(late.pointer, 40);
  // Extension headers we do not process (AH) and unknown protocols are code 1 too.
  const ah = walkOk(packet(IP_PROTO_AH, [IP_PROTO_UDP, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
  assert.equal(ah.icmpCode, ICMPV6_PARAM_NEXT_HEADER);
  assert.equal(ah.pointer, 6);
  const tcp = walkOk(packet(IP_PROTO_TCP, new Array(20).fill(0)));
  assert.equal(tcp.verdict, "deliver");
  const custom = walkIpv6Chain(packet(IP_PROTO_TCP, new Array(20).fill(0)), undefined, {
    isUpperLayer: (nh) => nh === IP_PROTO_UDP,
  });
  assert.ok(!isWireError(custom) && custom.verdict === "parameter-problem");
  // RFC 5095: type 0 with segments left → code 0 at the Routing Type (offset 42).
  const rh0 = [IP_PROTO_UDP, 2, 0, 1, 0, 0, 0, 0, ...B.toBytes()];
  const refused = walkOk(packet(IP_PROTO_ROUTING, [...rh0, ...UDP8]));
  assert.equal(refused.verdict, "parameter-problem");
  assert.equal(refused.icmpCode, ICMPV6_PARAM_HEADER_FIELD);
  assert.equal(refused.pointer, 42);
  // Any routing type with Segments Left 0 is skipped (RFC 8200 §4.4).
  const done = [IP_PROTO_UDP, 2, 0, 0, 0, 0, 0, 0, ...B.toBytes()];
  const skipped = walkOk(packet(IP_PROTO_ROUTING, [...done, ...UDP8]));
  assert.equal(skipped.verdict, "deliver");
  assert.equal(skipped.upperOffset, 64);
  assert.equal(skipped.nextHeaderPointer, 40);
  // A type we do not know (4, segment routing) with segments left: refused the same way.
  const srh = [IP_PROTO_UDP, 2, 4, 1, 0, 0, 0, 0, ...B.toBytes()];
  assert.equal(walkOk(packet(IP_PROTO_ROUTING, [...srh, ...UDP8])).pointer, 42);
  // To a multicast destination no error may be sent for these (RFC 4443 §2.4 (e.3)).
  assert.ok(
    !walkOk(packet(IP_PROTO_ROUTING, [...rh0, ...UDP8], Ipv6Address.ALL_NODES)).icmpAllowed,
  );
  // No Next Header: nothing to deliver.
  const none = walkOk(packet(IP_PROTO_DSTOPTS, optionsHeader(IP_PROTO_NONE, [1, 4, 0, 0, 0, 0])));
  assert.equal(none.verdict, "discard");
  assert.equal(none.protocol, IP_PROTO_NONE);
});

Deno.test("walkIpv6Chain reports truncated chains and overrunning options as WireErrors", () => {
  // A Destination Options header claiming 16 bytes in an 8-byte payload.
  assert.equal(
    walkErr(packet(IP_PROTO_DSTOPTS, [IP_PROTO_UDP, 1, 1, 4, 0, 0, 0, 0])).kind,
    "truncated",
  );
  assert.equal(walkErr(packet(IP_PROTO_DSTOPTS, [IP_PROTO_UDP])).kind, "truncated");
  assert.equal(walkErr(packet(IP_PROTO_FRAGMENT, [IP_PROTO_UDP, 0, 0, 0])).kind, "truncated");
  assert.equal(walkErr(packet(IP_PROTO_ROUTING, [IP_PROTO_UDP, 0, 0])).kind, "truncated");
  // An option overrunning its header, an option without its length byte.
  assert.equal(
    walkErr(packet(IP_PROTO_HOPOPTS, [...optionsHeader(IP_PROTO_UDP, [1, 5, 0, 0, 0, 0]), ...UDP8]))
      .kind,
    "bad-option",
  );
  assert.equal(
    walkErr(packet(IP_PROTO_HOPOPTS, [...optionsHeader(IP_PROTO_UDP, [0, 0, 0, 0, 0, 7]), ...UDP8]))
      .kind,
    "bad-option",
  );
  assert.equal(
    walkErr(packet(IP_PROTO_HOPOPTS, [...optionsHeader(IP_PROTO_UDP, [5, 3, 0, 0, 0, 0]), ...UDP8]))
      .kind,
    "bad-option",
    "a Router Alert is 2 bytes",
  );
  // The walk stops at the payload length, not the buffer: trailing padding is not a header.
  const p = packet(IP_PROTO_DSTOPTS, [...optionsHeader(IP_PROTO_UDP, [1, 4, 0, 0, 0, 0]), ...UDP8]);
  const shorter = new Uint8Array(p.bytes.length + 8);
  shorter.set(p.bytes);
  const view = new Ipv6Packet(shorter);
  view.payloadLength = 4;
  assert.equal(walkErr(view).kind, "truncated");
});

/** A Fragment header followed by `rest`. */
function fragment(next: number, offset: number, more: boolean, rest: number[]): number[] {
  const h = new Uint8Array(8);
  emitFragmentHeader(h, 0, next, offset, more, 0x01020304);
  return [...h, ...rest];
}

Deno.test("walkIpv6Chain checks fragments (RFC 8200 §4.5, RFC 6946, RFC 7112)", () => {
  // Atomic fragment: processed in isolation.
  const atomic = walkOk(packet(IP_PROTO_FRAGMENT, fragment(IP_PROTO_UDP, 0, false, UDP8)));
  assert.equal(atomic.verdict, "deliver");
  assert.ok(atomic.atomicFragment && atomic.hasFragmentHeader);
  assert.equal(atomic.protocol, IP_PROTO_UDP);
  assert.equal(atomic.upperOffset, 48);
  // A middle fragment: reassemble, the rest is data.
  const middle = walkOk(
    packet(IP_PROTO_FRAGMENT, fragment(IP_PROTO_UDP, 1448, true, new Array(16).fill(0xee))),
  );
  assert.equal(middle.verdict, "reassemble");
  assert.equal(middle.fragmentOffset, 1448);
  assert.equal(middle.fragmentId, 0x01020304);
  assert.equal(middle.upperLength, 16);
  // M set and a length not a multiple of 8: code 0 at the Payload Length (4).
  const odd = walkOk(packet(IP_PROTO_FRAGMENT, fragment(IP_PROTO_UDP, 0, true, [...UDP8, 1, 2])));
  assert.equal(odd.verdict, "parameter-problem");
  assert.equal(odd.icmpCode, ICMPV6_PARAM_HEADER_FIELD);
  assert.equal(odd.pointer, 4);
  // A fragment reaching past 65,535 bytes: code 0 at the Fragment Offset (after a Destination
  // Options header, the Fragment header is at 48, its offset field at 50).
  const far = walkOk(
    packet(IP_PROTO_DSTOPTS, [
      ...optionsHeader(IP_PROTO_FRAGMENT, [1, 4, 0, 0, 0, 0]),
      ...fragment(IP_PROTO_UDP, 65528, false, UDP8),
    ]),
  );
  assert.equal(far.verdict, "parameter-problem");
  assert.equal(far.pointer, 50);
  const edge = walkOk(packet(IP_PROTO_FRAGMENT, fragment(IP_PROTO_UDP, 65520, false, UDP8)));
  assert.equal(edge.verdict, "reassemble", "65520 + 8 bytes end inside 65,535");
  // A first fragment holding a whole UDP header is complete…
  const whole = walkOk(packet(IP_PROTO_FRAGMENT, fragment(IP_PROTO_UDP, 0, true, UDP8)));
  assert.equal(whole.verdict, "reassemble");
  assert.ok(whole.chainComplete);
  // …one whose TCP header is cut is not: RFC 7112 code 3, pointer 0.
  const cutTcp = walkOk(
    packet(IP_PROTO_FRAGMENT, fragment(IP_PROTO_TCP, 0, true, new Array(16).fill(0))),
  );
  assert.equal(cutTcp.verdict, "parameter-problem");
  assert.equal(cutTcp.icmpCode, ICMPV6_PARAM_INCOMPLETE_CHAIN);
  assert.equal(cutTcp.pointer, 0);
  assert.ok(!cutTcp.chainComplete);
  assert.equal(cutTcp.protocol, IP_PROTO_TCP);
  // …or whose next extension header is cut.
  const cutHeader = walkOk(
    packet(
      IP_PROTO_FRAGMENT,
      fragment(IP_PROTO_DSTOPTS, 0, true, [IP_PROTO_UDP, 1, 0, 0, 0, 0, 0, 0]),
    ),
  );
  assert.ok(!cutHeader.chainComplete);
  assert.equal(cutHeader.icmpCode, ICMPV6_PARAM_INCOMPLETE_CHAIN);
  // A complete first fragment whose later header would be refused: that is for after
  // reassembly; now the verdict is "reassemble".
  const later = walkOk(
    packet(
      IP_PROTO_FRAGMENT,
      fragment(IP_PROTO_DSTOPTS, 0, true, [
        ...optionsHeader(IP_PROTO_UDP, [0x9e, 4, 0, 0, 0, 0]),
        ...UDP8,
      ]),
    ),
  );
  assert.equal(later.verdict, "reassemble");
  assert.ok(later.chainComplete);
  assert.equal(later.protocol, IP_PROTO_DSTOPTS);
  assert.equal(later.upperOffset, 48);
});
