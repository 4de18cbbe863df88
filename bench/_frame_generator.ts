/**
 * Receive-side helpers shared by the lab benchmarks (driver_bench.ts,
 * network_bench.ts): a frame generator that runs as its own Deno process on
 * the other core, and a bare ring drain that times what it gets.
 *
 * Run directly, this file is the generator:
 * `deno run -A bench/_frame_generator.ts <netns> <count> <frame as hex>` opens
 * the lab peer's interface inside `<netns>` in socket mode and sends the frame
 * `<count>` times as fast as `transmit()` accepts it.
 *
 * @module
 */

import {
  AfPacketDevice,
  type AfPacketMode,
  type AfPacketRingPlacement,
} from "../src/phy/af_packet.ts";
import { type Lab, LAB_PEER_IF } from "../src/testing/lab.ts";

/** Frames asked for per `receive()` call when draining. */
export const DRAIN_BATCH = 256;
/** The drain stops once the generator has exited and this long passed without a frame. */
export const DRAIN_IDLE_END_MS = 300;
/** Longest single park in `wait()` while draining. */
const DRAIN_WAIT_MS = 50;
const HEX_RADIX = 16;

function toHex(frame: Uint8Array): string {
  return Array.from(frame, (b) => b.toString(HEX_RADIX).padStart(2, "0")).join("");
}

function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, HEX_RADIX));
}

async function generate(netns: string, count: number, frame: Uint8Array): Promise<void> {
  const dev = await AfPacketDevice.open(LAB_PEER_IF, { netns, mode: "socket" });
  let sent = 0;
  while (sent < count) if (dev.transmit(frame, 0, frame.length)) sent++;
  dev.close();
}

/**
 * Starts a generator process sending `frame` `count` times from the lab peer.
 *
 * @param lab the lab (its peer namespace sends)
 * @param frame the whole Ethernet frame
 * @param count how many times
 * @returns the process's exit status once it has sent them all
 */
export function spawnFrameGenerator(
  lab: Lab,
  frame: Uint8Array,
  count: number,
): Promise<Deno.CommandStatus> {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-check",
      new URL(import.meta.url).pathname,
      lab.peerNetns,
      String(count),
      toHex(frame),
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
}

/** What {@link drainGenerated} saw. */
export interface DrainResult {
  /** Frames of the expected length received. */
  received: number;
  /** Frames per second from the first to the last received. */
  rate: number;
  /** Ring or socket drops the kernel reported. */
  drops: number;
  /** Where the device's RX ring lived (`AfPacketDevice.ringPlacement`). */
  placement: AfPacketRingPlacement;
}

/**
 * Opens a bare device on the lab's rawstack interface, starts a generator
 * sending `frame` `count` times, and drains the device until the generator
 * has exited and the link is idle.
 *
 * @param lab the lab
 * @param frame the frame the generator sends
 * @param count how many
 * @param opts device mode and ring size
 * @returns frames of `frame.length` received, their rate and the kernel's drop count
 */
export async function drainGenerated(
  lab: Lab,
  frame: Uint8Array,
  count: number,
  opts: { mode?: AfPacketMode; frameCount?: number; ringInArena?: boolean } = {},
): Promise<DrainResult> {
  const dev = await lab.openDevice(opts);
  let received = 0;
  let first = 0;
  let last = 0;
  const sink = {
    onFrame(_b: Uint8Array, _o: number, length: number) {
      if (length === frame.length) received++;
    },
  };
  let done = false;
  const status = spawnFrameGenerator(lab, frame, count).then(() => done = true);
  try {
    let idleSince = performance.now();
    for (;;) {
      const n = dev.receive(sink, DRAIN_BATCH);
      const now = performance.now();
      if (n > 0) {
        if (first === 0) first = now;
        last = now;
        idleSince = now;
        continue;
      }
      if (done && now - idleSince > DRAIN_IDLE_END_MS) break;
      await dev.wait(DRAIN_WAIT_MS);
    }
    await status;
    const ms = last - first;
    return {
      received,
      rate: ms > 0 ? (received / ms) * 1000 : 0,
      drops: dev.stats.ringDrops,
      placement: dev.ringPlacement,
    };
  } finally {
    dev.close();
  }
}

if (import.meta.main) {
  await generate(Deno.args[0], Number(Deno.args[1]), fromHex(Deno.args[2]));
}
