/**
 * Buffer benchmarks: pool alloc/free, ByteRing write/read of 1460-byte
 * segments (with and without wrap-around), peek for retransmission, RangeSet
 * reassembly, the small-copy loop versus `set(subarray)` threshold, and a
 * copy between packet-arena views versus heap arrays.
 *
 *   deno bench --allow-all bench/buffer_bench.ts
 *
 * Results are printed, never asserted.
 */
import { packetArena } from "../src/buffer/arena.ts";
import { BufferPool } from "../src/buffer/buffer_pool.ts";
import { ByteRing, COPY_LOOP_MAX_BYTES, copyBytes } from "../src/buffer/byte_ring.ts";
import { RangeSet } from "../src/buffer/range_set.ts";
import type { PacketBuffer } from "../src/buffer/packet_buffer.ts";

const MSS = 1460;
const HEADROOM = 128;
const BATCH = 64;

const pool = new BufferPool();
const held: (PacketBuffer | null)[] = new Array(BATCH).fill(null);

Deno.bench("BufferPool alloc+free (one)", { group: "pool" }, () => {
  const buf = pool.alloc(HEADROOM)!;
  pool.free(buf);
});

Deno.bench(`BufferPool alloc ${BATCH} then free ${BATCH}`, { group: "pool" }, () => {
  for (let i = 0; i < BATCH; i++) held[i] = pool.alloc(HEADROOM);
  for (let i = 0; i < BATCH; i++) pool.free(held[i]!);
});

Deno.bench("PacketBuffer prepend 3 headers + consume", { group: "pool" }, () => {
  const buf = pool.alloc(HEADROOM)!;
  buf.append(MSS);
  buf.prepend(20);
  buf.prepend(20);
  buf.prepend(14);
  buf.consume(54);
  pool.free(buf);
});

const segment = new Uint8Array(MSS).map((_, i) => i & 0xff);
const out = new Uint8Array(MSS);
// A capacity that is not a multiple of the MSS, so writes wrap regularly.
const ring = new ByteRing(64 * 1024 + 7);

Deno.bench(`ByteRing write+read ${MSS} B`, { group: "ring" }, () => {
  ring.write(segment, 0, MSS);
  ring.read(out, 0, MSS);
});

const sendRing = new ByteRing(256 * 1024);
sendRing.write(new Uint8Array(200 * 1024), 0, 200 * 1024);
let peekOffset = 0;
Deno.bench(`ByteRing peek ${MSS} B at an offset (retransmit)`, { group: "ring" }, () => {
  sendRing.peek(peekOffset, out, 0, MSS);
  peekOffset = (peekOffset + 4099) % (190 * 1024);
});

const oooRing = new ByteRing(64 * 1024);
const assembler = new RangeSet(32);
Deno.bench(`ByteRing writeAt out of order + RangeSet + commit (4 x ${MSS} B)`, {
  group: "ring",
}, () => {
  // Segments arrive 1, 3, 2, 0: three held out of order, then delivered.
  for (const k of [1, 3, 2, 0]) {
    oooRing.writeAt(k * MSS, segment, 0, MSS);
    assembler.add(k * MSS, (k + 1) * MSS);
  }
  const n = assembler.frontLength();
  oooRing.commit(n);
  assembler.shift(n);
  oooRing.discard(n);
});

const small = new Uint8Array(4096);
const smallDst = new Uint8Array(4096);
for (const n of [16, COPY_LOOP_MAX_BYTES, 64, MSS]) {
  Deno.bench(`copyBytes ${n} B`, { group: "copy" }, () => {
    copyBytes(small, 3, smallDst, 5, n);
  });
  Deno.bench(`set(subarray) ${n} B`, { group: "copy" }, () => {
    smallDst.set(small.subarray(3, 3 + n), 5);
  });
}

// Arena: a segment copied between two packet-arena views (one copyWithin, no allocation)
// versus the same copy between two heap arrays (set over a subarray).
const arena = packetArena();
const arenaSrc = arena.allocView(4096)!;
const arenaDst = arena.allocView(4096)!;
Deno.bench(`copyBytes arena→arena ${MSS} B`, { group: "arena" }, () => {
  copyBytes(arenaSrc, 3, arenaDst, 5, MSS);
});
Deno.bench(`copyBytes heap→heap ${MSS} B`, { group: "arena", baseline: true }, () => {
  copyBytes(small, 3, smallDst, 5, MSS);
});
