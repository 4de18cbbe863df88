import assert from "node:assert/strict";
import {
  attachChecksumMemory,
  checksumUsesWasm,
  copyWithSum,
  internetChecksum,
  onesComplementSum,
  pseudoHeaderSum,
  WASM_CHECKSUM_MIN_BYTES,
} from "../../src/wire/checksum.ts";
import {
  CHECKSUM_WASM_BYTES,
  checksumWasmSupported,
  instantiateChecksumSum,
  instantiateCopySum,
} from "../../src/wire/checksum_wasm.ts";
import { mulberry32 } from "../seeded_random.ts";

const WASM_PAGE_BYTES = 65536;
const SEED = 0x1071_1624;
const simd = checksumWasmSupported();
const needsSimd = { ignore: !simd };

function fillRandom(bytes: Uint8Array, seed: number): void {
  const rand = mulberry32(seed);
  for (let k = 0; k < bytes.length; k++) bytes[k] = (rand() * 256) | 0;
}

/** Byte-at-a-time RFC 1071 reference: big-endian 16-bit words, odd byte padded. */
function referenceSum(bytes: Uint8Array, offset: number, length: number, initial = 0): number {
  let sum = initial;
  for (let k = 0; k < length; k++) {
    sum += (k & 1) === 0 ? bytes[offset + k] << 8 : bytes[offset + k];
    if (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  }
  return sum;
}

/** A memory with a maximum whose first `pages` pages hold seeded random bytes. */
function randomMemory(pages: number, maximum: number, seed: number): WebAssembly.Memory {
  const memory = new WebAssembly.Memory({ initial: pages, maximum });
  fillRandom(new Uint8Array(memory.buffer), seed);
  return memory;
}

Deno.test("checksumWasmSupported is true on this Deno (V8 ships WebAssembly SIMD)", () => {
  assert.equal(simd, true);
  assert.equal(WebAssembly.validate(CHECKSUM_WASM_BYTES), true);
});

Deno.test(
  "instantiateChecksumSum matches the reference for every length 0..300 at start offsets 0..15",
  needsSimd,
  () => {
    const memory = randomMemory(1, 1, SEED);
    const all = new Uint8Array(memory.buffer);
    const sum = instantiateChecksumSum(memory)!;
    for (let offset = 0; offset < 16; offset++) {
      for (let length = 0; length <= 300; length++) {
        assert.equal(
          sum(offset, length),
          referenceSum(all, offset, length),
          `offset ${offset} length ${length}`,
        );
      }
    }
    assert.equal(sum(0, WASM_PAGE_BYTES), referenceSum(all, 0, WASM_PAGE_BYTES));
  },
);

Deno.test(
  "instantiateChecksumSum of all-zero bytes is 0 and of all-0xFF bytes 0xffff",
  needsSimd,
  () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const sum = instantiateChecksumSum(memory)!;
    assert.equal(sum(0, WASM_PAGE_BYTES), 0);
    assert.equal(sum(3, 1501), 0);
    new Uint8Array(memory.buffer).fill(0xff);
    assert.equal(sum(0, WASM_PAGE_BYTES), 0xffff);
    assert.equal(sum(1, 1500), 0xffff);
    assert.equal(sum(1, 1), 0xff00); // odd last byte padded with zero
  },
);

Deno.test("instantiateChecksumSum traps instead of reading past the memory", needsSimd, () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const sum = instantiateChecksumSum(memory)!;
  assert.throws(() => sum(WASM_PAGE_BYTES - 10, 11), WebAssembly.RuntimeError);
  assert.throws(() => sum(WASM_PAGE_BYTES - 100, 101), WebAssembly.RuntimeError);
  assert.equal(sum(WASM_PAGE_BYTES - 10, 10), 0);
});

Deno.test(
  "onesComplementSum over the attached memory equals the JS path and the reference, lengths 0..300, offsets 0..15",
  needsSimd,
  () => {
    const memory = randomMemory(1, 4, SEED + 1);
    assert.equal(attachChecksumMemory(memory), true);
    const arena = new Uint8Array(memory.buffer);
    const plain = arena.slice(0, 4096); // same bytes, not in the memory: JS path
    const rand = mulberry32(SEED + 2);
    for (let offset = 0; offset < 16; offset++) {
      for (let length = 0; length <= 300; length++) {
        const initial = (rand() * 0x10000) | 0;
        const expected = referenceSum(plain, offset, length, initial);
        assert.equal(checksumUsesWasm(arena, length), length >= WASM_CHECKSUM_MIN_BYTES);
        assert.equal(
          onesComplementSum(arena, offset, length, initial),
          expected,
          `wasm offset ${offset} length ${length}`,
        );
        assert.equal(
          onesComplementSum(plain, offset, length, initial),
          expected,
          `js offset ${offset} length ${length}`,
        );
        assert.equal(
          internetChecksum(arena, offset, length, initial),
          internetChecksum(plain, offset, length, initial),
        );
      }
    }
  },
);

Deno.test(
  "onesComplementSum over the attached memory is exact for large lengths at every offset 0..15",
  needsSimd,
  () => {
    const memory = randomMemory(4, 4, SEED + 3);
    assert.equal(attachChecksumMemory(memory), true);
    const arena = new Uint8Array(memory.buffer);
    const plain = arena.slice();
    for (const length of [1500, 1501, 9000, 9001, 65535, 65536, 65537, 200_001]) {
      for (let offset = 0; offset < 16; offset++) {
        const expected = referenceSum(plain, offset, length);
        assert.equal(onesComplementSum(arena, offset, length), expected, `${offset}+${length}`);
        assert.equal(onesComplementSum(plain, offset, length), expected, `js ${offset}+${length}`);
      }
    }
  },
);

Deno.test(
  "onesComplementSum in WebAssembly does not overflow over many 256 KiB blocks of 0xFF",
  needsSimd,
  () => {
    const pages = 80; // 5 MiB: 20 widening blocks, every lane at its maximum
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    assert.equal(attachChecksumMemory(memory), true);
    const arena = new Uint8Array(memory.buffer).fill(0xff);
    const plain = new Uint8Array(arena.length).fill(0xff);
    for (const [offset, length] of [[0, arena.length], [1, arena.length - 1], [7, 3_000_001]]) {
      assert.equal(checksumUsesWasm(arena, length), true);
      assert.equal(
        onesComplementSum(arena, offset, length),
        onesComplementSum(plain, offset, length),
        `${offset}+${length}`,
      );
    }
    assert.equal(onesComplementSum(arena, 0, arena.length), 0xffff);
    assert.equal(onesComplementSum(arena, 0, 3_000_001), 0xff00); // 0xffff words ≡ 0, + 0xff00
    fillRandom(arena, SEED + 4);
    plain.set(arena);
    assert.equal(
      onesComplementSum(arena, 5, arena.length - 5),
      referenceSum(plain, 5, arena.length - 5),
    );
  },
);

Deno.test(
  "onesComplementSum on subarray views of the attached memory uses their byteOffset",
  needsSimd,
  () => {
    const memory = randomMemory(2, 2, SEED + 5);
    assert.equal(attachChecksumMemory(memory), true);
    const arena = new Uint8Array(memory.buffer);
    for (const byteOffset of [1, 2, 3, 15, 4093, 65535]) {
      const view = new Uint8Array(memory.buffer, byteOffset, 2000);
      const inner = view.subarray(7, 1507);
      assert.equal(checksumUsesWasm(view, 2000), true);
      assert.equal(onesComplementSum(view, 0, 2000), referenceSum(arena, byteOffset, 2000));
      assert.equal(onesComplementSum(view, 3, 1461), referenceSum(arena, byteOffset + 3, 1461));
      assert.equal(onesComplementSum(inner, 1, 1499), referenceSum(arena, byteOffset + 8, 1499));
      // Alternating views (the one-entry view cache must follow each).
      assert.equal(onesComplementSum(arena, byteOffset, 999), referenceSum(arena, byteOffset, 999));
      assert.equal(onesComplementSum(inner, 0, 999), referenceSum(arena, byteOffset + 7, 999));
    }
  },
);

Deno.test(
  "onesComplementSum on a buffer outside the attached memory uses JS and is right",
  needsSimd,
  () => {
    const memory = randomMemory(1, 1, SEED + 6);
    assert.equal(attachChecksumMemory(memory), true);
    const arena = new Uint8Array(memory.buffer);
    // Different data at the same addresses: a WebAssembly sum would read the memory and be wrong.
    const plain = new Uint8Array(3000);
    fillRandom(plain, SEED + 7);
    const otherMemory = randomMemory(1, 1, SEED + 8); // a WebAssembly memory, but not attached
    const other = new Uint8Array(otherMemory.buffer);
    for (const [offset, length] of [[0, 3000], [1, 1460], [2, 64], [3, 33], [0, 31]]) {
      assert.notEqual(referenceSum(plain, offset, length), referenceSum(arena, offset, length));
      assert.equal(checksumUsesWasm(plain, length), false);
      assert.equal(checksumUsesWasm(other, length), false);
      assert.equal(onesComplementSum(plain, offset, length), referenceSum(plain, offset, length));
      assert.equal(onesComplementSum(other, offset, length), referenceSum(other, offset, length));
      assert.equal(onesComplementSum(arena, offset, length), referenceSum(arena, offset, length));
    }
  },
);

Deno.test(
  "onesComplementSum of a range past the end of a memory view takes the JS path",
  needsSimd,
  () => {
    const memory = randomMemory(1, 1, SEED + 9);
    assert.equal(attachChecksumMemory(memory), true);
    const view = new Uint8Array(memory.buffer, 1000, 100);
    // The same layout in an ordinary buffer: only the JS path can run there.
    const replica = new Uint8Array(new Uint8Array(memory.buffer).slice().buffer, 1000, 100);
    for (const [offset, length] of [[50, 80], [0, 101], [99, 64], [-2, 40], [-8, 100]]) {
      assert.equal(
        onesComplementSum(view, offset, length),
        onesComplementSum(replica, offset, length),
        `${offset}+${length}`,
      );
    }
  },
);

Deno.test("attachChecksumMemory keeps working after a resizable memory grows", needsSimd, () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 8 });
  const buffer = (memory as unknown as { toResizableBuffer(): ArrayBuffer }).toResizableBuffer();
  const all = new Uint8Array(buffer); // length-tracking
  const early = new Uint8Array(buffer, 100, 1500); // fixed-length, made before the grow
  fillRandom(all, SEED + 10);
  assert.equal(attachChecksumMemory(memory), true);
  const before = onesComplementSum(early, 0, 1500);
  assert.equal(before, referenceSum(all, 100, 1500));
  memory.grow(3);
  assert.equal(memory.buffer, buffer);
  assert.equal(all.length, 4 * WASM_PAGE_BYTES);
  fillRandom(all.subarray(WASM_PAGE_BYTES), SEED + 11);
  assert.equal(onesComplementSum(early, 0, 1500), before);
  const length = 3 * WASM_PAGE_BYTES - 3;
  assert.equal(checksumUsesWasm(all, length), true);
  assert.equal(
    onesComplementSum(all, WASM_PAGE_BYTES + 3, length),
    referenceSum(all, WASM_PAGE_BYTES + 3, length),
  );
  // Between 64 B and the WebAssembly threshold would be the JS word path; over
  // 64 B the JS path over this (length-tracking) buffer must see the new pages too.
  const late = new Uint8Array(buffer, 3 * WASM_PAGE_BYTES, 5000);
  assert.equal(onesComplementSum(late, 1, 4999), referenceSum(all, 3 * WASM_PAGE_BYTES + 1, 4999));
});

Deno.test(
  "attachChecksumMemory follows a fixed-length memory buffer replaced by grow",
  needsSimd,
  () => {
    const memory = randomMemory(1, 4, SEED + 12);
    assert.equal(attachChecksumMemory(memory), true);
    const old = new Uint8Array(memory.buffer);
    assert.equal(onesComplementSum(old, 1, 999), referenceSum(old, 1, 999));
    memory.grow(1); // detaches the old fixed-length buffer
    const now = new Uint8Array(memory.buffer);
    fillRandom(now.subarray(WASM_PAGE_BYTES), SEED + 13);
    assert.equal(checksumUsesWasm(now, 1000), true);
    assert.equal(
      onesComplementSum(now, 1, 2 * WASM_PAGE_BYTES - 1),
      referenceSum(now, 1, 2 * WASM_PAGE_BYTES - 1),
    );
    assert.equal(onesComplementSum(old, 0, 100), 0); // detached view: length 0, JS path, no throw
  },
);

Deno.test("a resizable ArrayBuffer (no WebAssembly) is summed right by JS after it grows", () => {
  const buffer = new ArrayBuffer(4096, { maxByteLength: 65536 });
  const first = new Uint8Array(buffer);
  fillRandom(first, SEED + 14);
  assert.equal(onesComplementSum(first, 2, 4000), referenceSum(first, 2, 4000)); // caches a word view
  buffer.resize(65536);
  fillRandom(first.subarray(4096), SEED + 15);
  assert.equal(onesComplementSum(first, 3, 60000), referenceSum(first, 3, 60000));
});

Deno.test("attachChecksumMemory replaces the memory attached before", needsSimd, () => {
  const a = randomMemory(1, 1, SEED + 16);
  const b = randomMemory(1, 1, SEED + 17);
  const viewA = new Uint8Array(a.buffer);
  const viewB = new Uint8Array(b.buffer);
  assert.equal(attachChecksumMemory(a), true);
  assert.equal(checksumUsesWasm(viewA, 1500), true);
  assert.equal(checksumUsesWasm(viewB, 1500), false);
  assert.equal(attachChecksumMemory(b), true);
  assert.equal(checksumUsesWasm(viewA, 1500), false);
  assert.equal(checksumUsesWasm(viewB, 1500), true);
  assert.equal(onesComplementSum(viewA, 1, 1500), referenceSum(viewA, 1, 1500));
  assert.equal(onesComplementSum(viewB, 1, 1500), referenceSum(viewB, 1, 1500));
});

Deno.test(
  "attachChecksumMemory returns false and changes nothing without WebAssembly SIMD",
  needsSimd,
  () => {
    const kept = randomMemory(1, 1, SEED + 18);
    const keptView = new Uint8Array(kept.buffer);
    assert.equal(attachChecksumMemory(kept), true);
    // Simulate a runtime without SIMD: the module no longer validates.
    const validate = WebAssembly.validate;
    WebAssembly.validate = () => false;
    try {
      assert.equal(checksumWasmSupported(), false);
      const other = randomMemory(1, 1, SEED + 19);
      assert.equal(instantiateChecksumSum(other), null);
      assert.equal(attachChecksumMemory(other), false);
      const otherView = new Uint8Array(other.buffer);
      assert.equal(checksumUsesWasm(otherView, 1500), false);
      assert.equal(onesComplementSum(otherView, 0, 1500), referenceSum(otherView, 0, 1500));
    } finally {
      WebAssembly.validate = validate;
    }
    assert.equal(checksumUsesWasm(keptView, 1500), true);
    assert.equal(onesComplementSum(keptView, 0, 1500), referenceSum(keptView, 0, 1500));
  },
);

Deno.test(
  "internetChecksum with a pseudo-header sum agrees in WebAssembly and JS",
  needsSimd,
  () => {
    const memory = randomMemory(1, 1, SEED + 20);
    assert.equal(attachChecksumMemory(memory), true);
    const arena = new Uint8Array(memory.buffer);
    const plain = arena.slice();
    const rand = mulberry32(SEED + 21);
    for (let trial = 0; trial < 500; trial++) {
      const length = 20 + ((rand() * 1480) | 0);
      const offset = (rand() * 1000) | 0;
      const src = (rand() * 2 ** 32) >>> 0;
      const dst = (rand() * 2 ** 32) >>> 0;
      const ph = pseudoHeaderSum(src, dst, 6, length);
      const ck = internetChecksum(arena, offset, length, ph);
      assert.equal(ck, internetChecksum(plain, offset, length, ph), `trial ${trial}`);
      assert.equal(ck, ~referenceSum(plain, offset, length, ph) & 0xffff, `trial ${trial}`);
    }
  },
);

Deno.test(
  "instantiateCopySum copies every length and alignment exactly and returns the sum of the bytes",
  needsSimd,
  () => {
    const memory = randomMemory(2, 2, SEED ^ 0x22);
    const copySum = instantiateCopySum(memory)!;
    const bytes = new Uint8Array(memory.buffer);
    const rand = mulberry32(SEED + 22);
    const dstBase = WASM_PAGE_BYTES;
    for (let round = 0; round < 600; round++) {
      // Every length up to 300, then longer ones; any source and destination alignment.
      const length = round < 300 ? round : (rand() * 9000) | 0;
      const src = (rand() * 64) | 0;
      const dst = dstBase + ((rand() * 64) | 0);
      bytes.fill(0xa5, dst - 1, dst + length + 1);
      const sum = copySum(dst, src, length);
      assert.equal(sum, referenceSum(bytes, src, length), `sum of ${length} bytes at ${src}`);
      assert.deepEqual(bytes.subarray(dst, dst + length), bytes.subarray(src, src + length));
      assert.equal(bytes[dst - 1], 0xa5, "nothing written before the destination");
      assert.equal(bytes[dst + length], 0xa5, `nothing written past ${length} bytes`);
    }
  },
);

Deno.test("copyWithSum declines views outside the attached memory and copies nothing", () => {
  const src = new Uint8Array(100).fill(1);
  const dst = new Uint8Array(100);
  assert.equal(copyWithSum(src, 0, dst, 0, 100), -1);
  assert.equal(dst[0], 0);
});
