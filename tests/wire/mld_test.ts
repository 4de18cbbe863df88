import assert from "node:assert/strict";
import {
  MLD_ALLOW_NEW_SOURCES,
  MLD_CHANGE_TO_EXCLUDE,
  MLD_CHANGE_TO_INCLUDE,
  MLD_HOP_LIMIT,
  mldMaxResponseDelayMs,
  mldQueryIntervalS,
  MldQueryRepr,
  MldRecordReader,
  MldReportRepr,
  type MldReportRepr as MldReport,
  MLDV1_QUERY_LEN,
} from "../../src/wire/mld.ts";
import { ICMPV6_MLDV2_REPORT, Icmpv6Packet } from "../../src/wire/icmpv6.ts";
import {
  emitHopByHopRouterAlert,
  IP_PROTO_HOPOPTS,
  IP_PROTO_ICMPV6,
  IPV6_ROUTER_ALERT_HEADER_LEN,
  newIpv6Chain,
  walkIpv6Chain,
} from "../../src/wire/ipv6.ts";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import { isWireError } from "../../src/wire/error.ts";
import { IPV6_CAPTURE, ipv6Frame, kernelIpv6Frames } from "./_ipv6_frames.ts";
import { assertTsharkClean, testdataPath, tsharkDecodeFile, type TsharkFrame } from "./_tshark.ts";

const ME = Ipv6Address.parse("fe80::ff:fe00:1");
const ROUTERS = Ipv6Address.ALL_MLDV2_ROUTERS;

interface KernelReport {
  index: number;
  message: Uint8Array;
  src: Ipv6Address;
  dst: Ipv6Address;
}

function kernelReports(): KernelReport[] {
  const out: KernelReport[] = [];
  const chain = newIpv6Chain();
  for (const { index, frame, ip, src, dst } of kernelIpv6Frames()) {
    const c = walkIpv6Chain(ip, chain);
    if (isWireError(c) || c.verdict !== "deliver" || c.protocol !== IP_PROTO_ICMPV6) continue;
    if (frame[c.upperOffset] !== ICMPV6_MLDV2_REPORT) continue;
    // RFC 3810 §5: hop limit 1 and a Router Alert.
    assert.equal(ip.hopLimit, MLD_HOP_LIMIT);
    assert.equal(c.routerAlert, 0);
    out.push({
      index,
      message: frame.subarray(c.upperOffset, c.upperOffset + c.upperLength),
      src,
      dst,
    });
  }
  return out;
}

Deno.test("MldReportRepr parse → emit reproduces every kernel MLDv2 report byte for byte", async () => {
  const reports = kernelReports();
  assert.deepEqual(reports.map((r) => r.index + 1), [1, 2, 3, 8, 11, 12, 13]);
  const parsed: MldReport[] = [];
  for (const { index, message, src, dst } of reports) {
    const r = MldReportRepr.parse(new Icmpv6Packet(message), src, dst);
    if (isWireError(r)) throw new Error(`frame ${index + 1}: ${r}`);
    parsed.push(r);
    const out = new Uint8Array(MldReportRepr.bufferLength(r));
    assert.equal(MldReportRepr.emit(r, out, 0, src, dst), message.length);
    assert.deepEqual(out, message, `frame ${index + 1}`);
  }
  // Frame 2: joins of the solicited-node groups and ff05::2, ff02::2 (during DAD, from ::).
  assert.deepEqual(
    parsed[1].records.map((r) => `${r.type}:${r.group}:${r.sources.length}`),
    ["4:ff02::1:ff00:0:0", "4:ff02::1:ff00:2:0", "4:ff05::2:0", "4:ff02::2:0"],
  );
  const decoded = await tsharkDecodeFile(testdataPath(IPV6_CAPTURE));
  if (decoded === null) return;
  reports.forEach(({ index }, i) => {
    const t: TsharkFrame = decoded[index];
    assert.equal(t.field("icmpv6.checksum.status"), "1");
    assert.equal(parsed[i].records.length, t.num("icmpv6.mldr.nb_mcast_records"));
    parsed[i].records.forEach((rec, k) => {
      assert.equal(rec.group.toString(), t.field("icmpv6.mldr.mar.multicast_address", k));
      assert.equal(rec.type, t.num("icmpv6.mldr.mar.record_type", k));
    });
  });
});

Deno.test("MldReportRepr emits the report a host sends when it joins a group, as tshark reads it", async () => {
  const target = Ipv6Address.parse("2001:db8::2");
  const source = Ipv6Address.parse("2001:db8::99");
  const reports: MldReport[] = [
    { records: [{ type: MLD_CHANGE_TO_EXCLUDE, group: target.solicitedNode(), sources: [] }] },
    {
      records: [
        { type: MLD_CHANGE_TO_EXCLUDE, group: ME.solicitedNode(), sources: [] },
        { type: MLD_CHANGE_TO_INCLUDE, group: Ipv6Address.parse("ff05::1:3"), sources: [] },
        { type: MLD_ALLOW_NEW_SOURCES, group: Ipv6Address.parse("ff3e::1234"), sources: [source] },
      ],
    },
  ];
  const frames = reports.map((report, i) => {
    const src = i === 0 ? Ipv6Address.UNSPECIFIED : ME; // RFC 3810 §5.2.13: :: during DAD
    const n = MldReportRepr.bufferLength(report);
    return ipv6Frame({
      src,
      dst: ROUTERS,
      nextHeader: IP_PROTO_HOPOPTS,
      hopLimit: MLD_HOP_LIMIT,
      payloadLength: IPV6_ROUTER_ALERT_HEADER_LEN + n,
      fill: (b, at) => {
        emitHopByHopRouterAlert(b, at, IP_PROTO_ICMPV6);
        MldReportRepr.emit(report, b, at + IPV6_ROUTER_ALERT_HEADER_LEN, src, ROUTERS);
      },
    });
  });
  assert.equal(frames[0].length, 90, "the size of Linux's one-record report (frame 1)");
  const decoded = await assertTsharkClean(frames, { what: "emitted MLDv2 reports" });
  if (decoded === null) return;
  assert.equal(decoded[0].field("ipv6.opt.router_alert"), "0");
  assert.equal(decoded[0].field("icmpv6.mldr.mar.multicast_address"), "ff02::1:ff00:2");
  assert.equal(decoded[1].num("icmpv6.mldr.nb_mcast_records"), 3);
  assert.equal(decoded[1].field("icmpv6.mldr.mar.multicast_address", 2), "ff3e::1234");
  assert.equal(decoded[1].field("icmpv6.mldr.mar.source_address"), "2001:db8::99");
  assert.equal(decoded[1].num("icmpv6.mldr.mar.record_type", 1), MLD_CHANGE_TO_INCLUDE);
});

function report(records: MldReport["records"]): Uint8Array {
  const b = new Uint8Array(MldReportRepr.bufferLength({ records }));
  MldReportRepr.emit({ records }, b, 0, ME, ROUTERS);
  return b;
}

Deno.test("MldReportRepr and MldRecordReader reject records that overrun the report", () => {
  const group = Ipv6Address.parse("ff02::1:ff00:1");
  const one = report([{ type: MLD_CHANGE_TO_EXCLUDE, group, sources: [] }]);
  assert.ok(!isWireError(MldReportRepr.parse(new Icmpv6Packet(one), ME, ROUTERS)));
  // The record count lies.
  const lie = one.slice();
  lie[7] = 2;
  new Icmpv6Packet(lie).fillChecksum(ME, ROUTERS);
  const e1 = MldReportRepr.parse(new Icmpv6Packet(lie), ME, ROUTERS);
  assert.ok(isWireError(e1) && e1.kind === "truncated");
  // The source count lies.
  const sources = one.slice();
  sources[11] = 1;
  new Icmpv6Packet(sources).fillChecksum(ME, ROUTERS);
  const e2 = MldReportRepr.parse(new Icmpv6Packet(sources), ME, ROUTERS);
  assert.ok(isWireError(e2) && e2.kind === "truncated");
  // Auxiliary data that is not there.
  const aux = one.slice();
  aux[9] = 1;
  const r = new MldRecordReader().reset(new Icmpv6Packet(aux));
  assert.ok(!r.next());
  assert.equal(r.error?.kind, "truncated");
  // Bad checksum; another type.
  const bad = one.slice();
  bad[20] ^= 1;
  const e3 = MldReportRepr.parse(new Icmpv6Packet(bad), ME, ROUTERS);
  assert.ok(isWireError(e3) && e3.kind === "bad-checksum");
  const other = one.slice();
  other[0] = 131;
  const e4 = MldReportRepr.parse(new Icmpv6Packet(other), ME, ROUTERS);
  assert.ok(isWireError(e4) && e4.kind === "unsupported");
  // The reader stops at the record count even when bytes follow.
  const extra = new Uint8Array(one.length + 20);
  extra.set(one);
  const reader = new MldRecordReader().reset(new Icmpv6Packet(extra));
  assert.ok(reader.next() && !reader.next() && reader.error === null && reader.exhausted);
});

Deno.test("MldQueryRepr reads MLDv1 and MLDv2 queries and decodes the RFC 3810 floating-point codes", () => {
  // RFC 3810 §5.1.3: Max Resp Code 0x8000 and above is (mant | 0x1000) << (exp + 3).
  assert.equal(mldMaxResponseDelayMs(10000), 10000);
  assert.equal(mldMaxResponseDelayMs(0x7fff), 0x7fff);
  assert.equal(mldMaxResponseDelayMs(0x8000), 0x1000 << 3);
  assert.equal(mldMaxResponseDelayMs(0xffff), 0x1fff * 2 ** 10);
  // §5.1.9: QQIC 128 and above is (mant | 0x10) << (exp + 3).
  assert.equal(mldQueryIntervalS(125), 125);
  assert.equal(mldQueryIntervalS(0xff), 0x1f << 10);
  const router = Ipv6Address.parse("fe80::1");
  const source = Ipv6Address.parse("2001:db8::7");
  const group = Ipv6Address.parse("ff3e::1234");
  const v2 = {
    version: 2,
    maxResponseDelayMs: 1000,
    group,
    suppress: true,
    robustness: 3,
    queryIntervalS: 60,
    sources: [source],
  };
  const b = new Uint8Array(44);
  assert.equal(MldQueryRepr.emit(v2, b, 0, router, Ipv6Address.ALL_NODES), 44);
  const back = MldQueryRepr.parse(new Icmpv6Packet(b), router, Ipv6Address.ALL_NODES);
  if (isWireError(back)) throw new Error(String(back));
  assert.equal(back.version, 2);
  assert.ok(back.group.equals(group) && back.sources[0].equals(source));
  assert.ok(back.suppress);
  assert.equal(back.robustness, 3);
  assert.equal(back.queryIntervalS, 60);
  const v1 = new Uint8Array(MLDV1_QUERY_LEN);
  MldQueryRepr.emit({ ...v2, version: 1 }, v1, 0, router, Ipv6Address.ALL_NODES);
  const old = MldQueryRepr.parse(new Icmpv6Packet(v1), router, Ipv6Address.ALL_NODES);
  assert.ok(!isWireError(old) && old.version === 1 && old.maxResponseDelayMs === 1000);
  // 25..27 bytes are neither; sources that do not fit are truncated.
  const odd = MldQueryRepr.parse(new Icmpv6Packet(b, 0, 26), router, Ipv6Address.ALL_NODES);
  assert.ok(isWireError(odd) && odd.kind === "bad-length");
  const liar = b.slice(0, 28);
  liar[27] = 1;
  new Icmpv6Packet(liar).fillChecksum(router, Ipv6Address.ALL_NODES);
  const e = MldQueryRepr.parse(new Icmpv6Packet(liar), router, Ipv6Address.ALL_NODES);
  assert.ok(isWireError(e) && e.kind === "truncated");
});
