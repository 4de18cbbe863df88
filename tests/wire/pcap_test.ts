import assert from "node:assert/strict";
import {
  LINKTYPE_ETHERNET,
  PCAP_GLOBAL_HEADER_LEN,
  PCAP_MAGIC_MICROS,
  PCAP_MAGIC_NANOS,
  PCAP_RECORD_HEADER_LEN,
  PcapError,
  PcapReader,
  type PcapSink,
  PcapWriter,
  readPcap,
} from "../../src/wire/pcap.ts";
import { readTestdata, testdataPath, tsharkDecodeFile } from "./_tshark.ts";

function frame(n: number, seed: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 7 + seed) & 0xff);
}

function assertPcapError(fn: () => unknown, kind: PcapError["kind"], pattern?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PcapError, `expected PcapError, got ${e}`);
    assert.equal(e.kind, kind);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("PcapWriter round-trips frames with microsecond timestamps", () => {
  const w = new PcapWriter();
  const frames = [frame(60, 1), frame(1514, 2), frame(14, 3)];
  const times = [1_700_000_000_000.001, 1_700_000_000_999.999, 0];
  frames.forEach((f, i) => w.writeFrame(f, 0, f.length, times[i]));
  assert.equal(w.frameCount, 3);
  const bytes = w.toBytes();
  assert.equal(new DataView(bytes.buffer).getUint32(0, true), PCAP_MAGIC_MICROS);
  const file = readPcap(bytes);
  assert.equal(file.nanoseconds, false);
  assert.equal(file.littleEndian, true);
  assert.equal(file.linkType, LINKTYPE_ETHERNET);
  assert.equal(file.records.length, 3);
  file.records.forEach((r, i) => {
    assert.deepEqual(r.data, frames[i]);
    assert.equal(r.originalLength, frames[i].length);
  });
  assert.deepEqual([file.records[0].seconds, file.records[0].fraction], [1_700_000_000, 1]);
  assert.deepEqual([file.records[1].seconds, file.records[1].fraction], [1_700_000_000, 999_999]);
  assert.equal(file.records[1].timestampMs, 1_700_000_000_999.999);
  assert.equal(bytes.length, PCAP_GLOBAL_HEADER_LEN + 3 * PCAP_RECORD_HEADER_LEN + 60 + 1514 + 14);
});

Deno.test("PcapWriter round-trips frames with nanosecond timestamps", () => {
  const w = new PcapWriter({ nanoseconds: true });
  w.writeFrameAt(frame(100, 4), 0, 100, 1_700_000_123, 999_999_999);
  w.writeFrame(frame(50, 5), 10, 40, 2500.000001);
  const bytes = w.toBytes();
  assert.equal(new DataView(bytes.buffer).getUint32(0, true), PCAP_MAGIC_NANOS);
  const reader = new PcapReader(bytes);
  assert.equal(reader.nanoseconds, true);
  const [a, b] = [...reader];
  assert.deepEqual([a.seconds, a.fraction], [1_700_000_123, 999_999_999]);
  assert.deepEqual(a.data, frame(100, 4));
  assert.deepEqual([b.seconds, b.fraction], [2, 500_000_001]);
  assert.deepEqual(b.data, frame(50, 5).subarray(10, 50));
  assert.equal(reader.next(), null);
});

Deno.test("PcapWriter rounds a timestamp fraction up into the next second", () => {
  const w = new PcapWriter();
  w.writeFrame(frame(1, 0), 0, 1, 999.9999999);
  const [r] = readPcap(w.toBytes()).records;
  assert.deepEqual([r.seconds, r.fraction], [1, 0]);
});

Deno.test("PcapWriter cuts frames to the snaplen and keeps the original length", () => {
  const w = new PcapWriter({ snaplen: 64 });
  w.writeFrame(frame(1500, 6), 0, 1500, 0);
  const file = readPcap(w.toBytes());
  assert.equal(file.snaplen, 64);
  assert.equal(file.records[0].data.length, 64);
  assert.equal(file.records[0].originalLength, 1500);
  assert.throws(() => new PcapWriter({ snaplen: 0 }), RangeError);
});

/** Builds a big-endian pcap by hand (as written on a SPARC or by some tools). */
function bigEndianPcap(magic: number, records: Array<[number, number, Uint8Array]>): Uint8Array {
  const total = 24 + records.reduce((n, [, , d]) => n + 16 + d.length, 0);
  const bytes = new Uint8Array(total);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, magic, false);
  v.setUint16(4, 2, false);
  v.setUint16(6, 4, false);
  v.setUint32(16, 65535, false);
  v.setUint32(20, LINKTYPE_ETHERNET, false);
  let at = 24;
  for (const [sec, frac, data] of records) {
    v.setUint32(at, sec, false);
    v.setUint32(at + 4, frac, false);
    v.setUint32(at + 8, data.length, false);
    v.setUint32(at + 12, data.length + 4, false);
    bytes.set(data, at + 16);
    at += 16 + data.length;
  }
  return bytes;
}

Deno.test("PcapReader reads big-endian files in both resolutions", () => {
  const micro = readPcap(
    bigEndianPcap(PCAP_MAGIC_MICROS, [[10, 250_000, frame(42, 7)], [11, 0, frame(3, 8)]]),
  );
  assert.equal(micro.littleEndian, false);
  assert.equal(micro.nanoseconds, false);
  assert.equal(micro.snaplen, 65535);
  assert.equal(micro.records.length, 2);
  assert.equal(micro.records[0].timestampMs, 10_250);
  assert.equal(micro.records[0].originalLength, 46);
  assert.deepEqual(micro.records[0].data, frame(42, 7));
  const nano = readPcap(bigEndianPcap(PCAP_MAGIC_NANOS, [[10, 250_000_001, frame(60, 9)]]));
  assert.equal(nano.littleEndian, false);
  assert.equal(nano.nanoseconds, true);
  assert.equal(nano.records[0].fraction, 250_000_001);
  assert.equal(nano.records[0].timestampMs, 10_250.000001);
});

Deno.test("PcapReader reads the kernel captures written by tcpdump", () => {
  assert.equal(readTestdata("kernel_arp_icmp_udp.pcap").length, 17);
  assert.equal(readTestdata("kernel_tcp.pcap").length, 15);
  const dns = readPcap(Deno.readFileSync(testdataPath("kernel_dns.pcap")));
  assert.equal(dns.nanoseconds, true);
  assert.equal(dns.records.length, 10);
  assert.equal(dns.linkType, LINKTYPE_ETHERNET);
  for (const r of dns.records) assert.equal(r.data.length, r.originalLength);
});

Deno.test("PcapReader rejects a bad magic number", () => {
  const bytes = new PcapWriter().toBytes();
  bytes[0] = 0x0a; // pcapng section header block starts 0a 0d 0d 0a
  assertPcapError(() => new PcapReader(bytes), "bad-magic", /neither 0xa1b2c3d4 nor 0xa1b23c4d/);
  assertPcapError(
    () => readPcap(new TextEncoder().encode("this is not a pcap file!")),
    "bad-magic",
  );
});

Deno.test("PcapReader rejects an unknown major version", () => {
  const bytes = new PcapWriter().toBytes();
  bytes[4] = 1;
  assertPcapError(() => new PcapReader(bytes), "bad-version");
});

Deno.test("PcapReader rejects truncated files", () => {
  const w = new PcapWriter();
  w.writeFrame(frame(60, 1), 0, 60, 0);
  w.writeFrame(frame(60, 2), 0, 60, 0);
  const bytes = w.toBytes();
  for (const len of [0, 1, 23]) {
    assertPcapError(() => new PcapReader(bytes.subarray(0, len)), "truncated");
  }
  // Global header only: a valid empty capture.
  assert.equal(readPcap(bytes.subarray(0, 24)).records.length, 0);
  // Cut inside the second record header, then inside its data.
  const recordEnd = 24 + 16 + 60;
  assertPcapError(
    () => readPcap(bytes.subarray(0, recordEnd + 10)),
    "truncated",
    /record header at byte 100/,
  );
  assertPcapError(
    () => readPcap(bytes.subarray(0, bytes.length - 1)),
    "truncated",
    /claims 60 captured bytes, 59 left/,
  );
  // The first record is still delivered before the error.
  const reader = new PcapReader(bytes.subarray(0, bytes.length - 1));
  assert.deepEqual(reader.next()?.data, frame(60, 1));
  assertPcapError(() => reader.next(), "truncated");
});

Deno.test("PcapReader rejects a record whose captured length exceeds its original length", () => {
  const w = new PcapWriter();
  w.writeFrame(frame(60, 1), 0, 60, 0);
  const bytes = w.toBytes();
  new DataView(bytes.buffer).setUint32(24 + 12, 59, true);
  assertPcapError(() => readPcap(bytes), "bad-record");
});

Deno.test("PcapWriter streams to a sink with partial writes and batches records", () => {
  const chunks: number[] = [];
  const out: number[] = [];
  const sink: PcapSink = {
    writeSync(p: Uint8Array): number {
      const n = Math.min(7, p.length); // a stingy sink: at most 7 bytes per call
      for (let i = 0; i < n; i++) out.push(p[i]);
      chunks.push(n);
      return n;
    },
  };
  const w = new PcapWriter({ sink, nanoseconds: true });
  for (let i = 0; i < 100; i++) w.writeFrame(frame(60 + i, i), 0, 60 + i, i);
  assert.equal(out.length, 0, "records are staged until flush");
  w.close();
  const file = readPcap(new Uint8Array(out));
  assert.equal(file.records.length, 100);
  assert.deepEqual(file.records[99].data, frame(159, 99));
  assert.throws(() => w.toBytes(), /does not keep frames in memory/);
  assert.throws(() => w.writeFrame(frame(1, 0), 0, 1, 0), /closed/);
  assert.throws(
    () => {
      const stuck = new PcapWriter({ sink: { writeSync: () => 0 } });
      stuck.flush();
    },
    /wrote no bytes/,
  );
});

Deno.test("PcapWriter.create streams a file that PcapReader and tshark read", async () => {
  const path = await Deno.makeTempFile({ prefix: "rawstack-pcap-", suffix: ".pcap" });
  try {
    for (const nanoseconds of [false, true]) {
      const w = await PcapWriter.create(path, { nanoseconds, keepInMemory: true });
      const frames = readTestdata("kernel_tcp.pcap").map((r) => r.data);
      // Enough frames to overflow the 64 KiB staging buffer several times.
      for (let i = 0; i < 400; i++) {
        w.writeFrame(
          frames[i % frames.length],
          0,
          frames[i % frames.length].length,
          1_700_000_000_000 + i,
        );
      }
      w.close();
      const onDisk = await Deno.readFile(path);
      assert.deepEqual(onDisk, w.toBytes());
      const reader = await PcapReader.open(path);
      assert.equal(reader.nanoseconds, nanoseconds);
      assert.equal([...reader].length, 400);
      const decoded = await tsharkDecodeFile(path, { what: `written pcap (ns=${nanoseconds})` });
      if (decoded === null) continue;
      assert.equal(decoded.length, 400);
      assert.equal(decoded[5].field("frame.time_epoch"), "1700000000.005000000");
      assert.equal(decoded[0].num("frame.len"), frames[0].length);
      assert.ok(decoded[0].protocols.includes("tcp"));
    }
  } finally {
    await Deno.remove(path);
  }
});
