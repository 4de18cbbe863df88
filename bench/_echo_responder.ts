/**
 * The floor for any user-space ping responder, for network_bench.ts: a bare
 * loop that spins on an AF_PACKET ring and answers ICMP echo requests to one
 * address by rewriting the request in place (RFC 792: swap addresses, type 8 →
 * 0, checksum adjusted per RFC 1624) and sending it with one `send()`. No
 * stack, no event loop, no allocation per frame: what a ping answered by
 * rawstack is compared with, beside a ping answered by a kernel.
 *
 * Run directly, this file is the responder:
 * `deno run -A bench/_echo_responder.ts <netns> <ifname> <a.b.c.d>` prints
 * `ready` once the device is open and then answers until it is killed. The
 * peer must already know our MAC (network_bench adds a permanent neighbour
 * entry): the responder answers no ARP.
 *
 * @module
 */

import { AfPacketDevice } from "../src/phy/af_packet.ts";
import type { FrameSink } from "../src/phy/device.ts";
import { type Lab, LAB_STACK_IF } from "../src/testing/lab.ts";
import { parseIpv4, readIpv4 } from "../src/wire/address.ts";
import { updateChecksum16 } from "../src/wire/checksum.ts";

const ETH_HEADER = 14;
const ETHERTYPE_OFFSET = 12;
const ETHERTYPE_IPV4 = 0x0800;
const IP_PROTOCOL_OFFSET = ETH_HEADER + 9;
const IP_SRC_OFFSET = ETH_HEADER + 12;
const IP_DST_OFFSET = ETH_HEADER + 16;
const IP_PROTO_ICMP = 1;
const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;
const MAC_BYTES = 6;
const IPV4_BYTES = 4;
/** Frames taken per receive() call. */
const RX_BATCH = 64;

/**
 * Answers echo requests to `address` on `ifname` inside `netns` until killed.
 *
 * @param netns namespace of the interface
 * @param ifname the interface (the lab's rawstack side)
 * @param address our IPv4 address, dotted quad
 */
async function respond(netns: string, ifname: string, address: string): Promise<void> {
  const ours = parseIpv4(address);
  if (ours === null) throw new TypeError(`not an IPv4 address: ${address}`);
  const dev = await AfPacketDevice.open(ifname, { netns, mode: "ring-v2" });
  const reply = new Uint8Array(dev.capabilities.mtu + ETH_HEADER);
  const sink: FrameSink = {
    onFrame(bytes: Uint8Array, offset: number, length: number): void {
      const ipHeaderLength = (bytes[offset + ETH_HEADER] & 0xf) * 4;
      const icmp = ETH_HEADER + ipHeaderLength;
      if (
        length < icmp + 8 ||
        ((bytes[offset + ETHERTYPE_OFFSET] << 8) | bytes[offset + ETHERTYPE_OFFSET + 1]) !==
          ETHERTYPE_IPV4 ||
        bytes[offset + IP_PROTOCOL_OFFSET] !== IP_PROTO_ICMP ||
        readIpv4(bytes, offset + IP_DST_OFFSET) !== ours ||
        bytes[offset + icmp] !== ICMP_ECHO_REQUEST
      ) return;
      reply.set(bytes.subarray(offset, offset + length));
      // Ethernet: back to the sender. IPv4: swap the addresses (the header sum is unchanged).
      reply.copyWithin(0, MAC_BYTES, 2 * MAC_BYTES);
      reply.set(bytes.subarray(offset, offset + MAC_BYTES), MAC_BYTES);
      reply.copyWithin(IP_DST_OFFSET, IP_SRC_OFFSET, IP_SRC_OFFSET + IPV4_BYTES);
      reply.set(
        bytes.subarray(offset + IP_DST_OFFSET, offset + IP_DST_OFFSET + IPV4_BYTES),
        IP_SRC_OFFSET,
      );
      // ICMP: type 8 → 0; RFC 1624 updates the checksum for the changed word.
      const oldWord = (ICMP_ECHO_REQUEST << 8) | reply[icmp + 1];
      const newWord = (ICMP_ECHO_REPLY << 8) | reply[icmp + 1];
      reply[icmp] = ICMP_ECHO_REPLY;
      const sum = updateChecksum16((reply[icmp + 2] << 8) | reply[icmp + 3], oldWord, newWord);
      reply[icmp + 2] = sum >>> 8;
      reply[icmp + 3] = sum & 0xff;
      dev.transmit(reply, 0, length);
    },
  };
  console.log("ready");
  // Spin until killed: the parent ends this process when its pings are done.
  for (;;) dev.receive(sink, RX_BATCH);
}

/** A running responder; {@link stop} kills it. */
export interface EchoResponder {
  /** Kills the responder and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts the bare responder on the lab's rawstack interface (stack address),
 * after pinning the peer's neighbour entry for that address to our MAC.
 *
 * @param lab the lab
 * @returns the running responder, once it answers
 */
export async function startEchoResponder(lab: Lab): Promise<EchoResponder> {
  await lab.pinStackNeighbour();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-check",
      new URL(import.meta.url).pathname,
      lab.stackNetns,
      LAB_STACK_IF,
      lab.stackAddress,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the echo responder exited before it was ready");
    text += new TextDecoder().decode(value);
  }
  // Keep draining stdout so the child never blocks on it.
  const drained = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  return {
    async stop(): Promise<void> {
      child.kill("SIGKILL");
      await child.status;
      await drained;
      await lab.runInPeer(["ip", "neigh", "del", lab.stackAddress, "dev", lab.peerIf]);
    },
  };
}

if (import.meta.main) {
  await respond(Deno.args[0], Deno.args[1], Deno.args[2]);
}
