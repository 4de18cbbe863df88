import assert from "node:assert/strict";
import {
  ETHERNET_HEADER_LEN,
  EthernetFrame,
  EthernetRepr,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_VLAN,
  newEthernetRepr,
  VLAN_NONE,
} from "../../src/wire/ethernet.ts";
import { ARP_REQUEST, ArpRepr } from "../../src/wire/arp.ts";
import { isWireError, type WireError } from "../../src/wire/error.ts";
import { MacAddress } from "../../src/wire/address.ts";
import {
  assertTsharkClean,
  readTestdata,
  testdataPath,
  tsharkDecodeFile,
  tsharkTest,
} from "./_tshark.ts";

const KERNEL_FILES = ["kernel_arp_icmp_udp.pcap", "kernel_dns.pcap", "kernel_tcp.pcap"];
const MAC_A = 0x020000000001;
const MAC_B = 0x020000000002;

function parseOk(frame: EthernetFrame, out?: EthernetRepr): EthernetRepr {
  const repr = EthernetRepr.parse(frame, out);
  if (isWireError(repr)) throw new Error(`unexpected ${repr}`);
  return repr;
}

function parseErr(frame: EthernetFrame): WireError {
  const repr = EthernetRepr.parse(frame);
  assert.ok(isWireError(repr), "expected a WireError");
  return repr;
}

Deno.test("EthernetRepr parse → emit reproduces every kernel frame byte for byte", () => {
  const view = new EthernetFrame(new Uint8Array(0));
  const repr = newEthernetRepr();
  let frames = 0;
  for (const file of KERNEL_FILES) {
    for (const rec of readTestdata(file)) {
      parseOk(view.reset(rec.data, 0, rec.data.length), repr);
      const out = new Uint8Array(rec.data.length);
      const n = EthernetRepr.emit(repr, out, 0);
      assert.equal(n, repr.headerLength);
      out.set(rec.data.subarray(repr.payloadOffset), n);
      assert.deepEqual(out, rec.data);
      frames++;
    }
  }
  assert.equal(frames, 17 + 10 + 15);
});

tsharkTest("EthernetRepr fields equal tshark's decode of the kernel captures", async () => {
  for (const file of KERNEL_FILES) {
    const decoded = await tsharkDecodeFile(testdataPath(file));
    if (decoded === null) return;
    const records = readTestdata(file);
    assert.equal(decoded.length, records.length);
    records.forEach((rec, i) => {
      const repr = parseOk(new EthernetFrame(rec.data));
      const t = decoded[i];
      assert.equal(new MacAddress(repr.destination).toString(), t.field("eth.dst"));
      assert.equal(new MacAddress(repr.source).toString(), t.field("eth.src"));
      assert.equal(repr.etherType, Number(t.field("eth.type")));
      assert.equal(repr.vlanId, VLAN_NONE);
      assert.equal(repr.payloadLength, rec.data.length - ETHERNET_HEADER_LEN);
    });
  }
});

Deno.test("EthernetRepr emits an 802.1Q tag that tshark decodes", async () => {
  const repr = {
    ...newEthernetRepr(),
    destination: 0xffffffffffff,
    source: MAC_A,
    etherType: ETHERTYPE_ARP,
    vlanId: 100,
    vlanPriority: 5,
    vlanDropEligible: true,
  };
  assert.equal(EthernetRepr.headerLength(repr), 18);
  const frame = new Uint8Array(18 + 28);
  const n = EthernetRepr.emit(repr, frame, 0);
  assert.equal(n, 18);
  ArpRepr.emit(
    {
      operation: ARP_REQUEST,
      senderMac: MAC_A,
      senderIp: 0xc0000201,
      targetMac: 0,
      targetIp: 0xc0000202,
    },
    frame,
    n,
  );
  assert.deepEqual([...frame.subarray(12, 18)], [0x81, 0x00, 0xb0, 0x64, 0x08, 0x06]);

  const view = new EthernetFrame(frame);
  assert.ok(view.isTagged);
  assert.equal(view.outerEtherType, ETHERTYPE_VLAN);
  assert.equal(view.vlanId, 100);
  assert.equal(view.payloadOffset, 18);
  const back = parseOk(view);
  assert.deepEqual(back, { ...repr, headerLength: 18, payloadOffset: 18, payloadLength: 28 });

  const decoded = await assertTsharkClean([frame], { what: "802.1Q frame" });
  if (decoded === null) return;
  assert.equal(decoded[0].num("vlan.id"), 100);
  assert.equal(decoded[0].num("vlan.priority"), 5);
  assert.equal(decoded[0].num("vlan.dei"), 1);
  assert.equal(Number(decoded[0].field("vlan.etype")), ETHERTYPE_ARP);
  assert.equal(decoded[0].field("arp.dst.proto_ipv4"), "192.0.2.2");
});

Deno.test("EthernetRepr emits an untagged header tshark decodes", async () => {
  const repr = {
    ...newEthernetRepr(),
    destination: MAC_B,
    source: MAC_A,
    etherType: ETHERTYPE_ARP,
  };
  const frame = new Uint8Array(14 + 28);
  const n = EthernetRepr.emit(repr, frame, 0);
  assert.equal(n, ETHERNET_HEADER_LEN);
  ArpRepr.emit(
    {
      operation: ARP_REQUEST,
      senderMac: MAC_A,
      senderIp: 0xc0000201,
      targetMac: 0,
      targetIp: 0xc0000202,
    },
    frame,
    n,
  );
  const decoded = await assertTsharkClean([frame], { what: "untagged frame" });
  if (decoded === null) return;
  assert.equal(decoded[0].field("eth.dst"), "02:00:00:00:00:02");
  assert.equal(decoded[0].field("eth.src"), "02:00:00:00:00:01");
  assert.equal(decoded[0].field("eth.type"), "0x0806");
});

Deno.test("EthernetFrame rejects truncated frames", () => {
  const bytes = new Uint8Array(64);
  for (let len = 0; len < ETHERNET_HEADER_LEN; len++) {
    const e = parseErr(new EthernetFrame(bytes, 0, len));
    assert.equal(e.kind, "truncated");
    assert.equal(e.protocol, "ethernet");
  }
  bytes[12] = 0x81; // tagged, but the tag is cut off
  bytes[13] = 0x00;
  for (let len = ETHERNET_HEADER_LEN; len < 18; len++) {
    assert.equal(parseErr(new EthernetFrame(bytes, 0, len)).kind, "truncated");
  }
  assert.ok(!isWireError(EthernetRepr.parse(new EthernetFrame(bytes, 0, 18))));
});

Deno.test("EthernetFrame rejects a view that extends beyond its buffer", () => {
  const bytes = new Uint8Array(20);
  assert.equal(parseErr(new EthernetFrame(bytes, 10, 14)).kind, "bad-length");
  assert.equal(parseErr(new EthernetFrame(bytes, -1, 15)).kind, "bad-length");
});

Deno.test("EthernetFrame setters write in place at an offset", () => {
  const bytes = new Uint8Array(40);
  const frame = new EthernetFrame(bytes, 3, 30);
  frame.destination = MAC_B;
  frame.source = MAC_A;
  frame.etherType = ETHERTYPE_IPV4;
  assert.deepEqual([...bytes.subarray(3, 17)], [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0]);
  assert.equal(frame.check(), null);
  assert.equal(frame.payloadOffset, 17);
  assert.equal(frame.payloadLength, 16);
  assert.equal(frame.vlanId, VLAN_NONE);
  assert.equal(frame.tci, 0);
});

Deno.test("EthernetRepr.parse fills and returns the given out object", () => {
  const rec = readTestdata("kernel_tcp.pcap")[0];
  const out = newEthernetRepr();
  assert.equal(parseOk(new EthernetFrame(rec.data), out), out);
  assert.equal(out.etherType, ETHERTYPE_IPV4);
  assert.equal(out.destination, MAC_B);
});
