/**
 * Wire codec benchmarks: checksum throughput, parse and emit of a full
 * Ethernet + IPv4 + TCP frame with options, and allocations per parse.
 *
 *   deno bench --allow-all bench/wire_bench.ts
 *
 * Besides deno bench's table (time per iteration), the module prints one
 * GB/s line per checksum size, JavaScript against WebAssembly SIMD at 64,
 * 1460 and 65536 bytes, the JS/WebAssembly crossover length (which sets
 * WASM_CHECKSUM_MIN_BYTES in src/wire/checksum.ts) and a bytes-per-frame
 * allocation line. Results are printed, never asserted.
 */
import {
  attachChecksumMemory,
  checksumUsesWasm,
  foldSum,
  onesComplementSum,
  WASM_CHECKSUM_MIN_BYTES,
} from "../src/wire/checksum.ts";
import { instantiateChecksumSum } from "../src/wire/checksum_wasm.ts";
import {
  EthernetFrame,
  EthernetRepr,
  ETHERTYPE_IPV4,
  newEthernetRepr,
} from "../src/wire/ethernet.ts";
import { IP_PROTO_TCP, Ipv4Packet, Ipv4Repr, newIpv4Repr } from "../src/wire/ipv4.ts";
import { newTcpRepr, TCP_ACK, TCP_PSH, TcpPacket, TcpRepr } from "../src/wire/tcp.ts";
import { isWireError } from "../src/wire/error.ts";

const ETHERNET_HEADER_LEN = 14;
const IPV4_HEADER_LEN = 20;
const SRC = 0xc0000201 | 0;
const DST = 0xc0000202 | 0;
const MSS = 1460;

function random(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  let x = seed >>> 0 || 1;
  for (let k = 0; k < len; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[k] = x;
  }
  return b;
}

const small = random(1500, 1);
const large = random(64 * 1024, 2);

// --- The frame: Ethernet II + IPv4 + TCP with timestamps and two SACK blocks. ---

const ethRepr = newEthernetRepr();
ethRepr.destination = 0x020000000002;
ethRepr.source = 0x020000000001;
ethRepr.etherType = ETHERTYPE_IPV4;
const ipRepr = newIpv4Repr();
ipRepr.source = SRC;
ipRepr.destination = DST;
ipRepr.protocol = IP_PROTO_TCP;
ipRepr.dontFragment = true;

const frame = new Uint8Array(2048);
const repr = newTcpRepr();
repr.srcPort = 41000;
repr.dstPort = 8080;
repr.seq = 0x01020304;
repr.ack = 0x0a0b0c0d;
repr.flags = TCP_ACK | TCP_PSH;
repr.window = 502;
repr.hasTimestamp = true;
repr.tsVal = 1;
repr.tsEcr = 2;
repr.sackCount = 2;
repr.sackBlocks.splice(0, 4, 100, 200, 300, 400);
repr.payload = random(MSS, 3);
repr.payloadLength = MSS - 12 - 20; // header options eat into the MSS

/** Emits TCP (payload copied in), then IPv4 and Ethernet in front of it. Returns frame length. */
function emitFrame(): number {
  const tcpAt = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN;
  const tcpLength = TcpRepr.emit(repr, frame, tcpAt, SRC, DST);
  ipRepr.payloadLength = tcpLength;
  Ipv4Repr.emit(ipRepr, frame, ETHERNET_HEADER_LEN);
  EthernetRepr.emit(ethRepr, frame, 0);
  return tcpAt + tcpLength;
}

const frameLength = emitFrame();
const ethView = new EthernetFrame(frame, 0, 0);
const ethOut = newEthernetRepr();
const ipView = new Ipv4Packet(frame, 0, 0);
const ipOut = newIpv4Repr();
const tcpView = new TcpPacket(frame, 0, 0);
const tcpOut = newTcpRepr();

/**
 * Parses the frame through EthernetRepr, Ipv4Repr and TcpRepr (all checksums
 * verified), in place. Returns the TCP payload length or -1.
 *
 * With `int32Addresses` the IPv4 addresses are handed to TCP as signed
 * 32-bit numbers (`| 0`; the pseudo-header sum only uses `>>> 16` and
 * `& 0xffff`). V8 keeps those as small integers, whereas an unsigned
 * address ≥ 128.0.0.0 held in a fresh local is boxed in a 16-byte HeapNumber
 * each time it crosses a call boundary.
 */
function parseFrame(int32Addresses = false): number {
  const eth = EthernetRepr.parse(ethView.reset(frame, 0, frameLength), ethOut);
  if (isWireError(eth) || eth.etherType !== ETHERTYPE_IPV4) return -1;
  const ip = Ipv4Repr.parse(ipView.reset(frame, eth.payloadOffset, eth.payloadLength), ipOut);
  if (isWireError(ip) || ip.protocol !== IP_PROTO_TCP) return -1;
  const src = int32Addresses ? ip.source | 0 : ip.source;
  const dst = int32Addresses ? ip.destination | 0 : ip.destination;
  const tcp = TcpRepr.parse(
    tcpView.reset(frame, ip.payloadOffset, ip.payloadLength),
    src,
    dst,
    tcpOut,
  );
  return isWireError(tcp) ? -1 : tcp.payloadLength;
}

if (parseFrame() !== repr.payloadLength) throw new Error("bench frame does not parse");

// --- Printed figures (module load, before deno bench runs its cases). ---

// --- JavaScript vs WebAssembly SIMD checksum. ---

const WASM_PAGE_BYTES = 65536;
/** Packet memory as the arena makes it: a WebAssembly.Memory with a maximum. */
const memory = new WebAssembly.Memory({ initial: 4, maximum: 64 });
const wasmAttached = attachChecksumMemory(memory);
const arenaBytes = new Uint8Array(memory.buffer);
arenaBytes.set(random(3 * WASM_PAGE_BYTES, 4));
/** The same bytes outside the attached memory: these take the JavaScript path. */
const plainBytes = arenaBytes.slice(0, 3 * WASM_PAGE_BYTES);
/** Where the compared sums start: a typical packet-buffer data offset (not 16-byte aligned). */
const SUM_OFFSET = 66;
/** The raw routine, to time it below WASM_CHECKSUM_MIN_BYTES for the crossover table. */
const rawWasmSum = instantiateChecksumSum(memory);

/** Best of several ~50 ms rounds, so a GC or JIT tier-up in one round does not count. */
function gbPerSecond(bytes: Uint8Array, offset = 0, length = bytes.length, roundMs = 50): number {
  let sink = 0;
  let best = 0;
  for (let round = 0; round < 8; round++) {
    let iterations = 0;
    const t0 = performance.now();
    let t1 = t0;
    while (t1 - t0 < roundMs) {
      for (let k = 0; k < 100; k++) sink += onesComplementSum(bytes, offset, length);
      iterations += 100;
      t1 = performance.now();
    }
    const rate = (length * iterations) / ((t1 - t0) * 1e6);
    if (round > 0 && rate > best) best = rate; // round 0 is warm-up
  }
  if (sink === -1) console.log(sink); // keep the work observable
  return best;
}

/**
 * As gbPerSecond, for what the WebAssembly path of onesComplementSum does
 * below WASM_CHECKSUM_MIN_BYTES too: the call plus the fold and, with
 * `identity`, the `bytes.buffer` / `bytes.byteOffset` reads of a view-cache
 * miss (a different view than the previous sum).
 */
function wasmGbPerSecond(
  bytes: Uint8Array,
  offset: number,
  length: number,
  identity: boolean,
  roundMs: number,
): number {
  if (rawWasmSum === null) return 0;
  const buffer = bytes.buffer;
  let base = bytes.byteOffset;
  let sink = 0;
  let best = 0;
  for (let round = 0; round < 8; round++) {
    let iterations = 0;
    const t0 = performance.now();
    let t1 = t0;
    while (t1 - t0 < roundMs) {
      for (let k = 0; k < 100; k++) {
        if (identity) base = bytes.buffer === buffer ? bytes.byteOffset : -1;
        sink += foldSum(k + rawWasmSum(base + offset, length));
      }
      iterations += 100;
      t1 = performance.now();
    }
    const rate = (length * iterations) / ((t1 - t0) * 1e6);
    if (round > 0 && rate > best) best = rate;
  }
  if (sink === -1) console.log(sink);
  return best;
}

console.log(`checksum 1500 B: ${gbPerSecond(small).toFixed(2)} GB/s`);
console.log(`checksum 64 KiB: ${gbPerSecond(large).toFixed(2)} GB/s`);

if (!wasmAttached) {
  console.log("checksum WebAssembly SIMD: unavailable in this runtime (JavaScript path only)");
} else {
  for (const length of [64, 1460, 65536]) {
    const wasmArena = checksumUsesWasm(arenaBytes, length) ? "WebAssembly" : "JS (below threshold)";
    const js = gbPerSecond(plainBytes, SUM_OFFSET, length);
    const wasm = gbPerSecond(arenaBytes, SUM_OFFSET, length);
    console.log(
      `checksum ${length} B: JS ${js.toFixed(2)} GB/s, ${wasmArena} ${wasm.toFixed(2)} GB/s ` +
        `(×${(wasm / js).toFixed(2)})`,
    );
  }
  // Crossover: the shortest length from which WebAssembly stays ahead of JS,
  // with the view cache hitting (same view as the previous sum) and missing.
  for (const identity of [false, true]) {
    const rows: string[] = [];
    let crossover = -1;
    for (let length = 4; length <= 96; length += 4) {
      const js = gbPerSecond(plainBytes, SUM_OFFSET, length, 10);
      const wasm = wasmGbPerSecond(arenaBytes, SUM_OFFSET, length, identity, 10);
      rows.push(`${length}:${(wasm / js).toFixed(2)}`);
      if (wasm > js && crossover < 0) crossover = length;
      if (wasm <= js) crossover = -1;
    }
    const cache = identity ? "view-cache miss" : "view-cache hit";
    console.log(`checksum WebAssembly/JS speed ratio by length, ${cache}: ${rows.join(" ")}`);
    console.log(
      `checksum crossover, ${cache}: WebAssembly faster from ` +
        `${
          crossover < 0 ? "> 96" : crossover
        } B (WASM_CHECKSUM_MIN_BYTES = ${WASM_CHECKSUM_MIN_BYTES})`,
    );
  }
}

/**
 * Heap growth per parse over batches after warm-up. A batch during which a
 * GC ran shows a negative delta and is skipped; the median of the rest is
 * reported.
 */
function allocationPerFrame(batches: number, perBatch: number, int32Addresses: boolean): string {
  for (let k = 0; k < 50_000; k++) parseFrame(int32Addresses); // warm-up (JIT)
  const deltas: number[] = [];
  for (let b = 0; b < batches; b++) {
    const before = Deno.memoryUsage().heapUsed;
    for (let k = 0; k < perBatch; k++) parseFrame(int32Addresses);
    const delta = Deno.memoryUsage().heapUsed - before;
    if (delta >= 0) deltas.push(delta / perBatch);
  }
  if (deltas.length === 0) return `unknown (a GC ran in every batch: something allocates)`;
  deltas.sort((x, y) => x - y);
  return `${deltas[deltas.length >> 1].toFixed(3)} bytes/frame ` +
    `(median of ${deltas.length}/${batches} GC-free batches of ${perBatch})`;
}

console.log(
  `parse Ethernet+IPv4+TCP allocation, addresses as uint32: ` +
    `${allocationPerFrame(20, 5_000, false)} after warm-up; goal 0`,
);
console.log(
  `parse Ethernet+IPv4+TCP allocation, addresses as int32:  ` +
    `${allocationPerFrame(20, 5_000, true)} after warm-up; goal 0`,
);

// --- deno bench cases. ---

Deno.bench({
  name: "checksum 1500 B",
  group: "checksum",
  baseline: true,
  fn() {
    onesComplementSum(small, 0, small.length);
  },
});

Deno.bench({
  name: "checksum 64 KiB",
  group: "checksum",
  fn() {
    onesComplementSum(large, 0, large.length);
  },
});

Deno.bench({
  name: "checksum 1500 B at odd offset",
  group: "checksum",
  fn() {
    onesComplementSum(large, 1, 1499);
  },
});

for (const length of [64, 1460, 65536]) {
  Deno.bench({
    name: `checksum ${length} B, JavaScript`,
    group: `checksum ${length} B`,
    baseline: true,
    fn() {
      onesComplementSum(plainBytes, SUM_OFFSET, length);
    },
  });
  Deno.bench({
    name: `checksum ${length} B, WebAssembly SIMD (bytes in the attached memory)`,
    group: `checksum ${length} B`,
    ignore: !wasmAttached,
    fn() {
      onesComplementSum(arenaBytes, SUM_OFFSET, length);
    },
  });
}

Deno.bench({
  name: "parse Ethernet+IPv4+TCP frame (TS+SACK options, checksums verified)",
  group: "frame",
  baseline: true,
  fn() {
    parseFrame();
  },
});

Deno.bench({
  name: "emit Ethernet+IPv4+TCP frame (TS+SACK options, 1428 B data copied, checksums)",
  group: "frame",
  fn() {
    emitFrame();
  },
});

Deno.bench({
  name: "TcpRepr.emitHeader only (no data, no checksum)",
  group: "frame",
  fn() {
    TcpRepr.emitHeader(repr, frame, ETHERNET_HEADER_LEN + IPV4_HEADER_LEN);
  },
});
