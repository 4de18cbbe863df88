import assert from "node:assert/strict";
import { Tcp6Path } from "../../src/tcp/tcp6.ts";
import { PacketBuffer } from "../../src/buffer/packet_buffer.ts";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import { ipv6AddressSum } from "../../src/wire/checksum.ts";
import { fillTcpChecksum, TcpPacket } from "../../src/wire/tcp.ts";
import type { PacketBufferLike } from "../../src/iface/types.ts";
import { mulberry32 } from "../seeded_random.ts";

Deno.test("Tcp6Path behaviour: the checksum built for the tags verifies over the IPv6 pseudo-header (RFC 1624 update)", () => {
  const rand = mulberry32(7);
  const sent: PacketBufferLike[] = [];
  const ip6 = {
    allocate: () => null,
    send6: (buf: PacketBufferLike) => (sent.push(buf), true),
    sourceAddressFor6: () => null,
    pathMtu: () => 1280,
    release: () => {},
  };
  const secret = new Uint8Array(16).map(() => (rand() * 256) | 0);
  const path = new Tcp6Path(ip6, secret);
  for (let i = 0; i < 500; i++) {
    const w = () => (rand() * 0x1_0000_0000) | 0;
    const local = new Ipv6Address(0x20010db8, w(), w(), w());
    const remote = new Ipv6Address(0x20010db8, w(), w(), w());
    path.set(local, remote);
    const len = 20 + ((rand() * 1400) | 0);
    const bytes = new Uint8Array(len + 64);
    const buf = new PacketBuffer(bytes);
    buf.reset(64);
    const at = buf.append(len);
    for (let k = 0; k < len; k++) bytes[at + k] = (rand() * 256) | 0;
    bytes[at + 12] = 5 << 4; // data offset 5
    fillTcpChecksum(bytes, at, len, path.localTag, path.remoteTag);
    assert.equal(path.send(buf, path.remoteTag, 6), true);
    const seg = new TcpPacket(bytes, at, len);
    assert.equal(seg.verifyChecksum(0, 0, ipv6AddressSum(local, remote)), true, `case ${i}`);
  }
  assert.equal(sent.length, 500);
  assert.equal(path.mtuFor() - 40, 1280 - 60);
});
