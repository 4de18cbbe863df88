/**
 * Test helpers for the IPv6 codecs: the kernel capture
 * (tests/testdata/kernel_ipv6.pcap) and a builder of Ethernet + IPv6 frames
 * around bytes our encoders write.
 *
 * @module
 */

import { EthernetRepr, ETHERTYPE_IPV6, newEthernetRepr } from "../../src/wire/ethernet.ts";
import { IPV6_HEADER_LEN, Ipv6Packet, Ipv6Repr, newIpv6Repr } from "../../src/wire/ipv6.ts";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import { readTestdata } from "./_tshark.ts";

/** Ethernet header length. */
export const ETH = 14;
/** The kernel IPv6 capture. */
export const IPV6_CAPTURE = "kernel_ipv6.pcap";

/** One frame of the kernel capture with its IPv6 view (0-based `index`, frame number index + 1). */
export interface KernelIpv6Frame {
  index: number;
  frame: Uint8Array;
  ip: Ipv6Packet;
  src: Ipv6Address;
  dst: Ipv6Address;
}

/**
 * Every frame of kernel_ipv6.pcap, all IPv6.
 *
 * @returns the frames with checked views
 */
export function kernelIpv6Frames(): KernelIpv6Frame[] {
  return readTestdata(IPV6_CAPTURE).map((rec, index) => {
    const ip = new Ipv6Packet(rec.data, ETH, rec.data.length - ETH);
    const err = ip.check();
    if (err !== null) throw new Error(`frame ${index + 1}: ${err}`);
    return { index, frame: rec.data, ip, src: ip.source, dst: ip.destination };
  });
}

/** What {@link ipv6Frame} builds. */
export interface FrameSpec {
  src: Ipv6Address;
  dst: Ipv6Address;
  nextHeader: number;
  hopLimit?: number;
  /** Bytes after the IPv6 header (extension headers and upper layer). */
  payloadLength: number;
  /** Writes the payload at `offset` (the byte after the IPv6 header). */
  fill: (bytes: Uint8Array, offset: number) => void;
  /** Destination MAC; default: the group MAC for multicast, 02:00:00:00:00:02 otherwise. */
  dstMac?: number;
}

/**
 * An Ethernet II frame carrying an IPv6 packet.
 *
 * @param spec addresses, next header and payload writer
 * @returns the frame
 */
export function ipv6Frame(spec: FrameSpec): Uint8Array {
  const frame = new Uint8Array(ETH + IPV6_HEADER_LEN + spec.payloadLength);
  EthernetRepr.emit(
    {
      ...newEthernetRepr(),
      destination: spec.dstMac ??
        (spec.dst.isMulticast() ? spec.dst.multicastMac() : 0x020000000002),
      source: 0x020000000001,
      etherType: ETHERTYPE_IPV6,
    },
    frame,
    0,
  );
  Ipv6Repr.emit(
    {
      ...newIpv6Repr(),
      source: spec.src,
      destination: spec.dst,
      nextHeader: spec.nextHeader,
      hopLimit: spec.hopLimit ?? 64,
      payloadLength: spec.payloadLength,
    },
    frame,
    ETH,
  );
  spec.fill(frame, ETH + IPV6_HEADER_LEN);
  return frame;
}

/**
 * Hex of a byte range, for messages.
 *
 * @param b bytes
 * @returns lower-case hex
 */
export function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}
