/**
 * Test helper for the IPv4 codecs: an Ethernet + IPv4 frame our encoders
 * write, with room for the payload after the header.
 *
 * @module
 */

import assert from "node:assert/strict";
import { EthernetRepr, ETHERTYPE_IPV4, newEthernetRepr } from "../../src/wire/ethernet.ts";
import { IPV4_HEADER_LEN, Ipv4Repr, newIpv4Repr } from "../../src/wire/ipv4.ts";

/** Ethernet header length. */
export const ETH_LEN = 14;
/** The source MAC of {@link ipv4Frame}. */
export const FRAME_SOURCE_MAC = 0x020000000001;
/** The destination MAC of {@link ipv4Frame}. */
export const FRAME_DESTINATION_MAC = 0x020000000002;

/**
 * Ethernet (02:00:00:00:00:01 → 02:00:00:00:00:02) + an IPv4 header from `ip`
 * (checksum filled, `payloadLength` set), the payload left zero for the caller.
 *
 * @param ip the header fields other than the defaults of newIpv4Repr()
 * @param payloadLength bytes after the IPv4 header
 * @returns the frame
 */
export function ipv4Frame(ip: Partial<Ipv4Repr>, payloadLength: number): Uint8Array {
  const frame = new Uint8Array(ETH_LEN + IPV4_HEADER_LEN + payloadLength);
  EthernetRepr.emit(
    {
      ...newEthernetRepr(),
      destination: FRAME_DESTINATION_MAC,
      source: FRAME_SOURCE_MAC,
      etherType: ETHERTYPE_IPV4,
    },
    frame,
    0,
  );
  const repr = { ...newIpv4Repr(), ...ip, payloadLength };
  assert.equal(Ipv4Repr.emit(repr, frame, ETH_LEN), IPV4_HEADER_LEN);
  return frame;
}
