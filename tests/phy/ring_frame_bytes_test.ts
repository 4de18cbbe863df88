import assert from "node:assert/strict";
import {
  MAX_BIG_TCP_FRAME_BYTES,
  MAX_GSO_FRAME_BYTES,
  ringFrameBytes,
} from "../../src/phy/af_packet/socket.ts";

const MTU = 1500;

Deno.test("ringFrameBytes behaviour: rxMaxFrameBytes reaches BIG TCP sizes only with the vnet header", () => {
  // Defaults: MTU-sized, or 14 + 65535 for a super-frame ring.
  assert.equal(ringFrameBytes(true, MTU, false, undefined), MTU + 14);
  assert.equal(ringFrameBytes(true, MTU, true, undefined), MAX_GSO_FRAME_BYTES);
  // Linux BIG TCP frames with the header, up to 14 + GRO_MAX_SIZE (8 × 65535).
  assert.equal(ringFrameBytes(true, MTU, true, 196_672), 196_672);
  assert.equal(ringFrameBytes(true, MTU, false, 1 << 20), MAX_BIG_TCP_FRAME_BYTES);
  assert.equal(MAX_BIG_TCP_FRAME_BYTES, 14 + 524_280);
  // Without the header no super-frame metadata: never above 14 + 65535; never below MTU + 14.
  assert.equal(ringFrameBytes(false, MTU, false, 196_672), MAX_GSO_FRAME_BYTES);
  assert.equal(ringFrameBytes(true, MTU, true, 100), MTU + 14);
});
