import assert from "node:assert/strict";
import { mulberry32 } from "../seeded_random.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";
import {
  IP_PROTO_ICMP,
  IP_PROTO_UDP,
  IPV4_HEADER_LEN,
  Ipv4Packet,
  Ipv4Repr,
  newIpv4Repr,
} from "../../src/wire/ipv4.ts";
import { EthernetFrame, ETHERTYPE_IPV4 } from "../../src/wire/ethernet.ts";
import { isWireError, type WireError } from "../../src/wire/error.ts";
import { formatIpv4 } from "../../src/wire/address.ts";
import { fillUdpChecksum } from "../../src/wire/udp.ts";
import {
  assertTsharkClean,
  readTestdata,
  testdataPath,
  tsharkDecodeFile,
  type TsharkFrame,
  tsharkTest,
} from "./_tshark.ts";
import { ETH_LEN, ipv4Frame } from "./_ipv4_frames.ts";

const KERNEL_FILES = ["kernel_arp_icmp_udp.pcap", "kernel_dns.pcap", "kernel_tcp.pcap"];
const IP_A = 0xc0000201 | 0;
const IP_B = 0xc0000202 | 0;

function parseOk(packet: Ipv4Packet, out?: Ipv4Repr): Ipv4Repr {
  const repr = Ipv4Repr.parse(packet, out);
  if (isWireError(repr)) throw new Error(`unexpected ${repr}`);
  return repr;
}

function parseErr(packet: Ipv4Packet, opts?: { verifyChecksum?: boolean }): WireError {
  const repr = Ipv4Repr.parse(packet, undefined, opts);
  assert.ok(isWireError(repr), "expected a WireError");
  return repr;
}

/** Ethernet + IPv4 (from `ip`) + payload, checksum filled. */
function buildFrame(ip: Partial<Ipv4Repr>, payload: Uint8Array): Uint8Array {
  const frame = ipv4Frame(ip, payload.length);
  frame.set(payload, ETH_LEN + IPV4_HEADER_LEN);
  return frame;
}

function kernelIpv4Frames(file: string): Array<{ index: number; data: Uint8Array }> {
  return readTestdata(file).map((r, index) => ({ index, data: r.data }))
    .filter((f) => new EthernetFrame(f.data).etherType === ETHERTYPE_IPV4);
}

Deno.test("Ipv4Repr parse → emit reproduces every kernel datagram byte for byte", () => {
  const view = new Ipv4Packet(new Uint8Array(0));
  const repr = newIpv4Repr();
  let count = 0;
  let fragments = 0;
  for (const file of KERNEL_FILES) {
    for (const { data } of kernelIpv4Frames(file)) {
      parseOk(view.reset(data, ETH_LEN, data.length - ETH_LEN), repr);
      if (view.isFragment) fragments++;
      const out = data.slice();
      out.fill(0, ETH_LEN, ETH_LEN + IPV4_HEADER_LEN); // checksum and all recomputed
      assert.equal(Ipv4Repr.emit(repr, out, ETH_LEN), IPV4_HEADER_LEN);
      assert.deepEqual(out, data);
      count++;
    }
  }
  assert.equal(count, 15 + 10 + 15);
  assert.equal(fragments, 6);
});

tsharkTest("Ipv4Repr fields equal tshark's decode of the kernel captures", async () => {
  for (const file of KERNEL_FILES) {
    const decoded: TsharkFrame[] | null = await tsharkDecodeFile(testdataPath(file));
    if (decoded === null) return;
    for (const { index, data } of kernelIpv4Frames(file)) {
      const packet = new Ipv4Packet(data, ETH_LEN);
      const repr = parseOk(packet);
      const t: TsharkFrame = decoded[index];
      assert.equal(t.field("ip.checksum.status"), "1", `frame ${index + 1} checksum`);
      assert.equal(formatIpv4(repr.source), t.field("ip.src"));
      assert.equal(formatIpv4(repr.destination), t.field("ip.dst"));
      assert.equal(repr.protocol, t.num("ip.proto"));
      assert.equal(repr.ttl, t.num("ip.ttl"));
      assert.equal(repr.tos, Number(t.field("ip.dsfield")));
      assert.equal(repr.identification, Number(t.field("ip.id")));
      assert.equal(repr.dontFragment, t.field("ip.flags.df") === "1");
      assert.equal(repr.moreFragments, t.field("ip.flags.mf") === "1");
      // tshark 4.0 shows ip.frag_offset in 8-byte units.
      assert.equal(repr.fragmentOffset, t.num("ip.frag_offset") * 8);
      assert.equal(repr.headerLength, t.num("ip.hdr_len"));
      assert.equal(repr.headerLength + repr.payloadLength, t.num("ip.len"));
      assert.equal(packet.checksum, Number(t.field("ip.checksum")));
    }
  }
});

Deno.test("Ipv4Repr emits headers tshark accepts: DF, fragments, TOS, options skipped", async () => {
  const udp = new Uint8Array(12);
  udp.set([0x9c, 0x40, 0x27, 0x0f, 0x00, 0x0c, 0, 0, 0x61, 0x62, 0x63, 0x64]);
  fillUdpChecksum(udp, 0, udp.length, IP_A, IP_B);
  const reprs: Array<Partial<Ipv4Repr>> = [
    {
      source: IP_A,
      destination: IP_B,
      protocol: IP_PROTO_UDP,
      dontFragment: true,
      identification: 0x1234,
    },
    {
      source: IP_A,
      destination: IP_B,
      protocol: IP_PROTO_ICMP,
      moreFragments: true,
      identification: 7,
      ttl: 1,
    },
    {
      source: IP_B,
      destination: IP_A,
      protocol: IP_PROTO_ICMP,
      fragmentOffset: 1480,
      identification: 7,
      tos: 0xb8,
    },
  ];
  const frames = reprs.map((r) =>
    buildFrame(r, r.protocol === IP_PROTO_UDP ? udp : new Uint8Array(16))
  );
  // A header with a 4-byte option (NOP NOP NOP EOL), IHL 6: parse must skip it.
  const withOptions = new Uint8Array(ETH_LEN + 24 + udp.length);
  withOptions.set(frames[0].subarray(0, ETH_LEN));
  const p = new Ipv4Packet(withOptions, ETH_LEN);
  p.headerLength = 24;
  p.totalLength = 24 + udp.length;
  p.ttl = 64;
  p.protocol = IP_PROTO_UDP;
  p.source = IP_A;
  p.destination = IP_B;
  withOptions.set([1, 1, 1, 0], ETH_LEN + 20);
  withOptions.set(udp, ETH_LEN + 24);
  p.fillChecksum();
  frames.push(withOptions);

  const parsed = frames.map((f) => parseOk(new Ipv4Packet(f, ETH_LEN)));
  reprs.forEach((r, i) => {
    for (const [k, v] of Object.entries(r)) assert.equal(parsed[i][k as keyof Ipv4Repr], v, k);
  });
  assert.equal(parsed[3].headerLength, 24);
  assert.equal(parsed[3].payloadOffset, ETH_LEN + 24);
  assert.equal(parsed[3].payloadLength, udp.length);

  const decoded = await assertTsharkClean(frames, { what: "emitted IPv4 headers" });
  if (decoded === null) return;
  decoded.forEach((t, i) => {
    assert.equal(t.field("ip.checksum.status"), "1");
    assert.equal(t.num("ip.ttl"), parsed[i].ttl);
    assert.equal(Number(t.field("ip.id")), parsed[i].identification);
    assert.equal(t.num("ip.frag_offset") * 8, parsed[i].fragmentOffset);
    assert.equal(t.field("ip.flags.mf") === "1", parsed[i].moreFragments);
    assert.equal(t.field("ip.flags.df") === "1", parsed[i].dontFragment);
    assert.equal(Number(t.field("ip.dsfield")), parsed[i].tos);
    assert.equal(t.num("ip.hdr_len"), parsed[i].headerLength);
  });
  assert.equal(decoded[3].field("udp.checksum.status"), "1");
});

function validDatagram(payload = 8): Uint8Array {
  const bytes = new Uint8Array(IPV4_HEADER_LEN + payload);
  Ipv4Repr.emit(
    {
      ...newIpv4Repr(),
      source: IP_A,
      destination: IP_B,
      protocol: IP_PROTO_UDP,
      payloadLength: payload,
    },
    bytes,
    0,
  );
  return bytes;
}

function refill(bytes: Uint8Array): Uint8Array {
  new Ipv4Packet(bytes).fillChecksum();
  return bytes;
}

Deno.test("Ipv4Repr.emit's header checksum verifies for random headers and parses back", () => {
  // emit sums the header from the field values instead of reading the bytes back: check it
  // against the byte-level checksum over every field's range.
  const rnd = mulberry32(0x1a4);
  const bytes = new Uint8Array(3 + IPV4_HEADER_LEN + 8);
  const repr = newIpv4Repr();
  for (let i = 0; i < 3000; i++) {
    repr.tos = Math.floor(rnd() * 256);
    repr.payloadLength = i % 3 === 0 ? 8 : Math.floor(rnd() * (0xffff - IPV4_HEADER_LEN));
    repr.identification = Math.floor(rnd() * 0x10000);
    repr.dontFragment = rnd() < 0.5;
    repr.moreFragments = rnd() < 0.5;
    repr.fragmentOffset = Math.floor(rnd() * 0x2000) * 8;
    repr.ttl = Math.floor(rnd() * 256);
    repr.protocol = Math.floor(rnd() * 256);
    repr.source = Math.floor(rnd() * 0x1_0000_0000) | 0;
    repr.destination = Math.floor(rnd() * 0x1_0000_0000) >>> 0; // the unsigned form too
    Ipv4Repr.emit(repr, bytes, 3);
    assert.equal(internetChecksum(bytes, 3, IPV4_HEADER_LEN), 0, `header ${i} verifies`);
    const back = new Ipv4Packet(bytes.subarray(3));
    assert.equal(back.tos, repr.tos);
    assert.equal(back.identification, repr.identification);
    assert.equal(back.dontFragment, repr.dontFragment);
    assert.equal(back.moreFragments, repr.moreFragments);
    assert.equal(back.fragmentOffset, repr.fragmentOffset);
    assert.equal(back.ttl, repr.ttl);
    assert.equal(back.protocol, repr.protocol);
    assert.equal(back.source, repr.source);
    assert.equal(back.destination, repr.destination | 0);
  }
});

Deno.test("Ipv4Packet rejects datagrams shorter than 20 bytes", () => {
  const bytes = validDatagram();
  for (let len = 0; len < IPV4_HEADER_LEN; len++) {
    const e = parseErr(new Ipv4Packet(bytes, 0, len));
    assert.equal(e.kind, "truncated");
    assert.equal(e.protocol, "ipv4");
  }
});

Deno.test("Ipv4Packet rejects a version other than 4", () => {
  for (const version of [0, 5, 6, 15]) {
    const bytes = validDatagram();
    bytes[0] = (version << 4) | 5;
    assert.equal(parseErr(new Ipv4Packet(refill(bytes))).kind, "bad-version");
  }
});

Deno.test("Ipv4Packet rejects IHL < 5", () => {
  for (let ihl = 0; ihl < 5; ihl++) {
    const bytes = validDatagram();
    bytes[0] = 0x40 | ihl;
    const e = parseErr(new Ipv4Packet(bytes));
    assert.equal(e.kind, "bad-header-length");
    assert.match(e.message, new RegExp(`IHL ${ihl}`));
  }
});

Deno.test("Ipv4Packet rejects a header length beyond the buffer", () => {
  const bytes = validDatagram(8);
  bytes[0] = 0x4f; // 60-byte header in 28 bytes
  assert.equal(parseErr(new Ipv4Packet(bytes)).kind, "truncated");
});

Deno.test("Ipv4Packet rejects total length < header length or > buffer", () => {
  const short = validDatagram();
  new Ipv4Packet(short).totalLength = 19;
  assert.equal(parseErr(new Ipv4Packet(refill(short))).kind, "bad-total-length");
  const lying = validDatagram(8);
  new Ipv4Packet(lying).totalLength = 29;
  const e = parseErr(new Ipv4Packet(refill(lying)));
  assert.equal(e.kind, "bad-total-length");
  assert.match(e.message, /29 > 28/);
});

Deno.test("Ipv4Repr rejects a bad header checksum unless told not to verify", () => {
  const bytes = validDatagram();
  bytes[11] ^= 0x01;
  const e = parseErr(new Ipv4Packet(bytes));
  assert.equal(e.kind, "bad-checksum");
  const repr = Ipv4Repr.parse(new Ipv4Packet(bytes), undefined, { verifyChecksum: false });
  assert.ok(!isWireError(repr));
  // A flipped address bit is caught too.
  const other = validDatagram();
  other[15] ^= 0x80;
  assert.equal(parseErr(new Ipv4Packet(other)).kind, "bad-checksum");
});

Deno.test("Ipv4Packet rejects a fragment reaching past 65535 bytes", () => {
  const bytes = validDatagram(16);
  new Ipv4Packet(bytes).fragmentOffset = 65528; // 65528 + 16 > 65515
  assert.equal(parseErr(new Ipv4Packet(refill(bytes))).kind, "bad-field");
  const ok = validDatagram(8);
  new Ipv4Packet(ok).fragmentOffset = 65504; // 65504 + 8 + 20 ≤ 65535
  assert.equal(parseOk(new Ipv4Packet(refill(ok))).fragmentOffset, 65504);
});

Deno.test("Ipv4Packet ignores Ethernet padding after the total length", () => {
  const bytes = new Uint8Array(46);
  bytes.set(validDatagram(8));
  bytes.fill(0xaa, 28);
  const repr = parseOk(new Ipv4Packet(bytes));
  assert.equal(repr.payloadLength, 8);
  assert.equal(repr.payloadOffset, 20);
});

Deno.test("Ipv4Packet.checkHeader accepts a truncated quoted header that check() rejects", () => {
  const bytes = validDatagram(8);
  new Ipv4Packet(bytes).totalLength = 1500; // as quoted in an ICMP error
  const view = new Ipv4Packet(bytes);
  assert.equal(view.check()?.kind, "bad-total-length");
  assert.equal(view.checkHeader(), null);
  assert.equal(new Ipv4Packet(bytes, 0, 19).checkHeader()?.kind, "truncated");
});

Deno.test("Ipv4Packet setters write flags and fragment offset in place", () => {
  const bytes = new Uint8Array(24);
  const p = new Ipv4Packet(bytes, 2, 20);
  p.headerLength = 20;
  p.dontFragment = true;
  p.moreFragments = true;
  p.fragmentOffset = 2960;
  assert.equal(p.flags, 0b011);
  assert.equal(p.fragmentOffset, 2960);
  assert.deepEqual([...bytes.subarray(8, 10)], [0x61, 0x72]); // 0x6000 | 370
  p.dontFragment = false;
  p.moreFragments = false;
  assert.equal(p.flags, 0);
  assert.equal(p.fragmentOffset, 2960);
  assert.ok(p.isFragment);
  p.fragmentOffset = 0;
  assert.ok(!p.isFragment);
  p.tos = 0xb9;
  assert.equal(p.dscp, 46);
  assert.equal(p.ecn, 1);
  assert.equal(bytes[2], 0x45);
});
