// The forwarding rules of forward.ts: fragmentForwarded cuts a datagram with IPv4 options the
// way RFC 791 §3.2 / RFC 1812 §5.2.6 ask — every option in the first fragment, only the
// copied-flag ones (padded with End of Option List) in the later ones.
import assert from "node:assert/strict";
import { BufferPool } from "../../src/buffer/buffer_pool.ts";
import { fragmentForwarded, newForwardStats } from "../../src/iface/forward.ts";
import type { BufferPoolLike, PacketBufferLike } from "../../src/iface/types.ts";
import { writeIpv4Header } from "../../src/iface/ipv4.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";

/** Loose Source and Record Route (RFC 791 §3.1): type 131, the copied flag set. */
const LSRR = [0x83, 7, 4, 198, 51, 100, 9];
/** Record Route: type 7, not copied. */
const RR = [0x07, 7, 4, 0, 0, 0, 0];
const NOP = 1;
const MF = 0x2000;

Deno.test("fragmentForwarded behaviour: later fragments keep only the copied options, padded, with offsets and MF right", () => {
  const options = [...RR, NOP, ...LSRR, NOP]; // 16 bytes
  const hl = 20 + options.length;
  const payload = 2000;
  const total = hl + payload;
  const bytes = new Uint8Array(total);
  writeIpv4Header(bytes, 0, 0, total, 77, 0, 63, 17, 0xc0000202 | 0, 0xcb007102 | 0);
  bytes[0] = 0x40 | (hl >>> 2);
  bytes.set(options, 20);
  for (let i = 0; i < payload; i++) bytes[hl + i] = (i * 13 + 5) & 0xff;
  bytes[10] = 0;
  bytes[11] = 0;
  const ck = internetChecksum(bytes, 0, hl);
  bytes[10] = ck >>> 8;
  bytes[11] = ck & 0xff;

  const pool: BufferPoolLike = new BufferPool({ slots: 16 });
  const sent: Uint8Array[] = [];
  const egress = {
    linkHeadroom: 14,
    sendToNeighbour(buf: PacketBufferLike, nextHop: number): boolean {
      assert.equal(nextHop, 0xcb007101 | 0);
      sent.push(buf.bytes.slice(buf.head, buf.head + buf.length));
      pool.free(buf);
      return true;
    },
  };
  const stats = newForwardStats();
  const mtu = 600;
  fragmentForwarded(pool, stats, egress, bytes, 0, total, 0, 0xcb007101 | 0, mtu);

  assert.equal(stats.fragmented, 1);
  assert.equal(stats.fragmentsSent, sent.length);
  assert.equal(stats.forwarded, 1);
  assert.equal(pool.inUse, 0);
  const data: number[] = [];
  sent.forEach((f, n) => {
    const fhl = (f[0] & 0x0f) << 2;
    const last = n === sent.length - 1;
    assert.ok(f.length <= mtu);
    assert.equal((f[2] << 8) | f[3], f.length, "total length");
    assert.equal(internetChecksum(f, 0, fhl), 0, "header checksum");
    const word = (f[6] << 8) | f[7];
    assert.equal((word & MF) !== 0, !last, "MF on all but the last");
    assert.equal((word & 0x1fff) * 8, data.length, "fragment offset");
    if (n === 0) {
      assert.deepEqual([...f.subarray(20, fhl)], options, "the first keeps every option");
    } else {
      // LSRR (7 bytes) padded to 8 with End of Option List.
      assert.equal(fhl, 28);
      assert.deepEqual([...f.subarray(20, fhl)], [...LSRR, 0]);
    }
    data.push(...f.subarray(fhl));
  });
  assert.ok(sent.length >= 4);
  assert.deepEqual(data, [...bytes.subarray(hl)]);
});
