/**
 * What the transmit-offload tests (offload_test.ts, offload_ipv6_test.ts) share: a device
 * with checksum and segmentation offload over a memory link whose frames may be 64 KiB, the
 * pseudo-random payloads, reading a TCP connection to its end (`readToEnd` of the lab
 * helpers), and one bulk transfer from
 * stack A to stack B.
 *
 * @module
 */
import { MemoryDevice, MemoryLink } from "../../src/phy/memory_link.ts";
import type { DeviceCapabilities } from "../../src/phy/device.ts";
import { ForwardingDevice } from "../phy/_forwarding_device.ts";
import type { Stack } from "../../src/stack.ts";
import { readToEnd } from "../lab/_tcp_lab_helpers.ts";

export { readToEnd as readAll };

/** The largest frame an offload device takes: an Ethernet header and a 64 KiB IP packet. */
export const OFFLOAD_MAX_FRAME = 14 + 65535;

/**
 * Two memory devices whose link carries frames up to 64 KiB (super-segments pass as one
 * frame, as GRO would deliver them) with a queue deep enough for a bulk transfer.
 */
export function offloadLinkPair(): [MemoryDevice, MemoryDevice] {
  return MemoryLink.pair({ mtu: 65535, queueFrames: 512 });
}

/**
 * A device with checksum and segmentation offload (MTU 1500, `gso`, frames up to
 * {@link OFFLOAD_MAX_FRAME}) over a memory device; subclasses check and complete what
 * `transmitOffload` is asked.
 */
export abstract class OffloadTestDevice extends ForwardingDevice<MemoryDevice> {
  readonly #capabilities: DeviceCapabilities;
  constructor(inner: MemoryDevice) {
    super(inner);
    this.#capabilities = {
      ...inner.capabilities,
      mtu: 1500,
      checksumOffloadTx: true,
      gso: true,
      maxSegmentBytes: OFFLOAD_MAX_FRAME,
    };
  }
  override get capabilities(): DeviceCapabilities {
    return this.#capabilities;
  }
}

/** `length` pseudo-random bytes (a linear congruential generator from `seed`). */
export function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/**
 * Starts `a` and `b`, sends `data` from `a` to `b`'s port 9000 at `hostname` (`midway` runs
 * after the first half), and returns what `b` read; both stacks are closed at the end.
 */
export async function bulkAToB(
  a: Stack,
  b: Stack,
  hostname: string,
  data: Uint8Array,
  midway: (a: Stack) => void,
): Promise<Uint8Array> {
  await a.start();
  await b.start();
  try {
    const listener = b.listen({ port: 9000 });
    const accepting = listener.accept();
    const client = await a.connect({ hostname, port: 9000 });
    const server = await accepting;
    const reading = readToEnd(server);
    const half = data.length >>> 1;
    await client.write(data.subarray(0, half));
    midway(a);
    await client.write(data.subarray(half));
    await client.closeWrite();
    const got = await reading;
    client.close();
    server.close();
    listener.close();
    return got;
  } finally {
    await a.close();
    await b.close();
  }
}
