import assert from "node:assert/strict";
import {
  ARP_PACKET_LEN,
  ARP_REPLY,
  ARP_REQUEST,
  ArpPacket,
  ArpRepr,
  newArpRepr,
} from "../../src/wire/arp.ts";
import {
  EthernetFrame,
  EthernetRepr,
  ETHERTYPE_ARP,
  newEthernetRepr,
} from "../../src/wire/ethernet.ts";
import { isWireError, type WireError } from "../../src/wire/error.ts";
import { formatIpv4, MacAddress } from "../../src/wire/address.ts";
import {
  assertTsharkClean,
  readTestdata,
  testdataPath,
  tsharkDecodeFile,
  tsharkTest,
} from "./_tshark.ts";

const FILE = "kernel_arp_icmp_udp.pcap";
const MAC_A = 0x020000000001;
const MAC_B = 0x020000000002;
const IP_A = 0xc0000201 | 0;
const IP_B = 0xc0000202 | 0;

function parseOk(packet: ArpPacket, out?: ArpRepr): ArpRepr {
  const repr = ArpRepr.parse(packet, out);
  if (isWireError(repr)) throw new Error(`unexpected ${repr}`);
  return repr;
}

function parseErr(packet: ArpPacket): WireError {
  const repr = ArpRepr.parse(packet);
  assert.ok(isWireError(repr), "expected a WireError");
  return repr;
}

function kernelArpFrames(): Uint8Array[] {
  return readTestdata(FILE).map((r) => r.data).filter((d) =>
    new EthernetFrame(d).etherType === ETHERTYPE_ARP
  );
}

function validPacket(): Uint8Array {
  const bytes = new Uint8Array(ARP_PACKET_LEN);
  ArpRepr.emit(
    { operation: ARP_REQUEST, senderMac: MAC_A, senderIp: IP_A, targetMac: 0, targetIp: IP_B },
    bytes,
    0,
  );
  return bytes;
}

Deno.test("ArpRepr parse → emit reproduces the kernel's request and reply", () => {
  const frames = kernelArpFrames();
  assert.equal(frames.length, 2);
  const view = new ArpPacket(new Uint8Array(0));
  const repr = newArpRepr();
  for (const frame of frames) {
    parseOk(view.reset(frame, 14, frame.length - 14), repr);
    const out = frame.slice();
    out.fill(0, 14);
    assert.equal(ArpRepr.emit(repr, out, 14), ARP_PACKET_LEN);
    assert.deepEqual(out, frame);
  }
  const request = parseOk(new ArpPacket(frames[0], 14));
  assert.deepEqual(request, {
    operation: ARP_REQUEST,
    senderMac: MAC_A,
    senderIp: IP_A,
    targetMac: 0,
    targetIp: IP_B,
  });
  const reply = parseOk(new ArpPacket(frames[1], 14));
  assert.deepEqual(reply, {
    operation: ARP_REPLY,
    senderMac: MAC_B,
    senderIp: IP_B,
    targetMac: MAC_A,
    targetIp: IP_A,
  });
});

tsharkTest("ArpRepr fields equal tshark's decode of the kernel capture", async () => {
  const decoded = await tsharkDecodeFile(testdataPath(FILE));
  if (decoded === null) return;
  const records = readTestdata(FILE);
  let compared = 0;
  records.forEach((rec, i) => {
    if (new EthernetFrame(rec.data).etherType !== ETHERTYPE_ARP) return;
    const repr = parseOk(new ArpPacket(rec.data, 14));
    const t = decoded[i];
    assert.equal(repr.operation, t.num("arp.opcode"));
    assert.equal(new MacAddress(repr.senderMac).toString(), t.field("arp.src.hw_mac"));
    assert.equal(formatIpv4(repr.senderIp), t.field("arp.src.proto_ipv4"));
    assert.equal(new MacAddress(repr.targetMac).toString(), t.field("arp.dst.hw_mac"));
    assert.equal(formatIpv4(repr.targetIp), t.field("arp.dst.proto_ipv4"));
    compared++;
  });
  assert.equal(compared, 2);
});

Deno.test("ArpRepr emits requests and replies that tshark decodes cleanly", async () => {
  const reprs: ArpRepr[] = [
    { operation: ARP_REQUEST, senderMac: MAC_A, senderIp: IP_A, targetMac: 0, targetIp: IP_B },
    { operation: ARP_REPLY, senderMac: MAC_B, senderIp: IP_B, targetMac: MAC_A, targetIp: IP_A },
  ];
  const frames = reprs.map((repr) => {
    const frame = new Uint8Array(14 + ARP_PACKET_LEN);
    const eth = {
      ...newEthernetRepr(),
      destination: repr.operation === ARP_REQUEST ? 0xffffffffffff : repr.targetMac,
      source: repr.senderMac,
      etherType: ETHERTYPE_ARP,
    };
    const n = EthernetRepr.emit(eth, frame, 0);
    ArpRepr.emit(repr, frame, n);
    assert.deepEqual(parseOk(new ArpPacket(frame, n)), repr);
    return frame;
  });
  const decoded = await assertTsharkClean(frames, { what: "ARP" });
  if (decoded === null) return;
  decoded.forEach((t, i) => {
    assert.equal(t.num("arp.opcode"), reprs[i].operation);
    assert.equal(t.field("arp.src.proto_ipv4"), formatIpv4(reprs[i].senderIp));
    assert.equal(t.field("arp.dst.proto_ipv4"), formatIpv4(reprs[i].targetIp));
    assert.equal(t.field("arp.src.hw_mac"), new MacAddress(reprs[i].senderMac).toString());
  });
});

Deno.test("ArpPacket rejects truncated packets", () => {
  const bytes = validPacket();
  for (let len = 0; len < ARP_PACKET_LEN; len++) {
    const e = parseErr(new ArpPacket(bytes, 0, len));
    assert.equal(e.kind, "truncated");
    assert.equal(e.protocol, "arp");
  }
  assert.equal(parseErr(new ArpPacket(bytes, 4, ARP_PACKET_LEN)).kind, "bad-length");
});

Deno.test("ArpPacket rejects non-Ethernet/IPv4 address spaces", () => {
  const cases: Array<[number, number]> = [
    [1, 6], // htype IEEE 802 (6)
    [3, 0x86], // ptype IPv6 (0x86dd)
    [4, 8], // hlen 8
    [5, 16], // plen 16
  ];
  for (const [at, value] of cases) {
    const bytes = validPacket();
    bytes[at] = value;
    const e = parseErr(new ArpPacket(bytes));
    assert.equal(e.kind, "unsupported", `byte ${at} = ${value}`);
  }
});

Deno.test("ArpRepr rejects operations other than request and reply", () => {
  for (const op of [0, 3, 4, 0x0101]) {
    const bytes = validPacket();
    new ArpPacket(bytes).operation = op;
    assert.equal(parseErr(new ArpPacket(bytes)).kind, "unsupported");
  }
});

Deno.test("ArpPacket accepts Ethernet padding after the 28 bytes", () => {
  const bytes = new Uint8Array(46);
  bytes.set(validPacket());
  bytes.fill(0xee, ARP_PACKET_LEN);
  assert.equal(parseOk(new ArpPacket(bytes)).targetIp, IP_B);
});

Deno.test("ArpPacket setters write in place at an offset", () => {
  const bytes = new Uint8Array(40);
  const p = new ArpPacket(bytes, 5, ARP_PACKET_LEN);
  p.hardwareType = 1;
  p.protocolType = 0x0800;
  p.hardwareLength = 6;
  p.protocolLength = 4;
  p.operation = ARP_REPLY;
  p.senderMac = MAC_B;
  p.senderIp = IP_B;
  p.targetMac = MAC_A;
  p.targetIp = IP_A;
  const expected = new Uint8Array(ARP_PACKET_LEN);
  ArpRepr.emit(
    { operation: ARP_REPLY, senderMac: MAC_B, senderIp: IP_B, targetMac: MAC_A, targetIp: IP_A },
    expected,
    0,
  );
  assert.deepEqual(bytes.subarray(5, 5 + ARP_PACKET_LEN), expected);
  assert.equal(bytes[4], 0);
  assert.equal(bytes[5 + ARP_PACKET_LEN], 0);
});
