import assert from "node:assert/strict";
import { NetworkInterface } from "../../src/iface/interface.ts";
import type { IpProtocolHandler } from "../../src/iface/types.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";
import {
  ethFrame,
  icmpMessage,
  IP_A,
  IP_B,
  ipv4Packet,
  MAC_A,
  MAC_B,
  parseEth,
  parseIpv4Packet,
  pattern,
  RecordingDevice,
} from "./_helpers.ts";

function setup(icmp = {}) {
  const dev = new RecordingDevice(MAC_A);
  const iface = new NetworkInterface(dev, { ipv4: "192.0.2.10/24", icmp });
  iface.arp.learn(0, IP_B, MAC_B);
  const rx = (now: number, p: Uint8Array) => {
    const f = ethFrame(MAC_A, MAC_B, 0x0800, p);
    iface.receiveFrame(now, f, 0, f.length);
  };
  const sentIcmp = () => dev.take().map((f) => parseIpv4Packet(parseEth(f).payload));
  return { dev, iface, rx, sentIcmp };
}

Deno.test("IcmpLayer answers an echo request with the same id, sequence and data", () => {
  const { iface, rx, sentIcmp } = setup();
  const data = pattern(100, 3);
  rx(
    0,
    ipv4Packet({
      src: IP_B,
      dst: IP_A,
      protocol: 1,
      payload: icmpMessage(8, 0, 0x1234_0007, data),
    }),
  );
  const [reply] = sentIcmp();
  assert.equal(reply.src, IP_A);
  assert.equal(reply.dst, IP_B);
  assert.equal(reply.protocol, 1);
  assert.ok(reply.checksumOk);
  const m = reply.payload;
  assert.deepEqual([m[0], m[1], m[4], m[5], m[6], m[7]], [0, 0, 0x12, 0x34, 0, 7]);
  assert.equal(internetChecksum(m, 0, m.length), 0);
  assert.deepEqual(m.subarray(8), data);
  assert.equal(iface.icmp.stats.txEchoReplies, 1);
});

Deno.test("IcmpLayer drops bad checksums and ignores broadcast echo requests", () => {
  const { iface, rx, sentIcmp } = setup();
  const bad = icmpMessage(8, 0, 1, pattern(8));
  bad[2] ^= 1;
  rx(0, ipv4Packet({ src: IP_B, dst: IP_A, protocol: 1, payload: bad }));
  rx(0, ipv4Packet({ src: IP_B, dst: IP_A, protocol: 1, payload: new Uint8Array(4) }));
  rx(
    0,
    ipv4Packet({
      src: IP_B,
      dst: 0xffffffff,
      protocol: 1,
      payload: icmpMessage(8, 0, 1, pattern(8)),
    }),
  );
  assert.equal(sentIcmp().length, 0);
  assert.equal(iface.icmp.stats.rxBadChecksum, 1);
  assert.equal(iface.icmp.stats.rxTruncated, 1);
  assert.equal(iface.icmp.stats.rxEchoBroadcastIgnored, 1);
});

Deno.test("IcmpLayer delivers received errors to the protocol they quote", () => {
  const { iface, rx } = setup();
  const seen: number[][] = [];
  const udp: IpProtocolHandler = {
    onPacket() {},
    onIcmpError(_now, type, code, mtu, quoted, off, len) {
      seen.push([type, code, mtu, quoted[off + 9], len]);
    },
  };
  iface.registerProtocol(17, udp);
  const original = ipv4Packet({ src: IP_A, dst: IP_B, protocol: 17, payload: pattern(8) });
  rx(0, ipv4Packet({ src: IP_B, dst: IP_A, protocol: 1, payload: icmpMessage(3, 3, 0, original) }));
  rx(
    0,
    ipv4Packet({ src: IP_B, dst: IP_A, protocol: 1, payload: icmpMessage(3, 4, 1400, original) }),
  );
  rx(
    0,
    ipv4Packet({ src: IP_B, dst: IP_A, protocol: 1, payload: icmpMessage(11, 0, 0, original) }),
  );
  assert.deepEqual(seen, [[3, 3, 0, 17, 28], [3, 4, 1400, 17, 28], [11, 0, 0, 17, 28]]);
  // A quote that is too short or not from us is not delivered.
  rx(
    0,
    ipv4Packet({
      src: IP_B,
      dst: IP_A,
      protocol: 1,
      payload: icmpMessage(3, 3, 0, original.subarray(0, 24)),
    }),
  );
  const notOurs = ipv4Packet({ src: IP_B, dst: IP_A, protocol: 17, payload: pattern(8) });
  rx(0, ipv4Packet({ src: IP_B, dst: IP_A, protocol: 1, payload: icmpMessage(3, 3, 0, notOurs) }));
  assert.equal(seen.length, 3);
  assert.equal(iface.icmp.stats.rxErrorsUnmatched, 2);
});

Deno.test("IcmpLayer sends port unreachable for a closed UDP port via portUnreachable", () => {
  const { iface, rx, sentIcmp } = setup();
  const udp: IpProtocolHandler = {
    onPacket(now, src, dst, bytes, offset, length) {
      iface.portUnreachable(now, src, dst, bytes, offset, length);
    },
  };
  iface.registerProtocol(17, udp);
  const dgram = ipv4Packet({ src: IP_B, dst: IP_A, protocol: 17, payload: pattern(700) });
  rx(0, dgram);
  const [err] = sentIcmp();
  assert.equal(err.dst, IP_B);
  assert.deepEqual([err.payload[0], err.payload[1]], [3, 3]);
  assert.ok(err.totalLength <= 576, "RFC 1812: at most 576 bytes");
  assert.deepEqual(err.payload.subarray(8), dgram.subarray(0, err.payload.length - 8));
  assert.equal(internetChecksum(err.payload, 0, err.payload.length), 0);
});

Deno.test("IcmpLayer never sends an error about an ICMP error or a non-initial fragment", () => {
  const { iface, rx, sentIcmp } = setup();
  const inner = ipv4Packet({ src: IP_A, dst: IP_B, protocol: 17, payload: pattern(8) });
  const errorDatagram = ipv4Packet({
    src: IP_B,
    dst: IP_A,
    protocol: 1,
    payload: icmpMessage(3, 3, 0, inner),
  });
  iface.icmp.sendError(0, 3, 2, errorDatagram, 0, errorDatagram.length);
  const frag = ipv4Packet({
    src: IP_B,
    dst: IP_A,
    protocol: 99,
    fragmentOffset: 8,
    payload: pattern(8),
  });
  iface.icmp.sendError(0, 3, 2, frag, 0, frag.length);
  assert.equal(sentIcmp().length, 0);
  assert.equal(iface.icmp.stats.txErrorsSuppressed, 2);
  rx(0, ipv4Packet({ src: IP_B, dst: IP_A, protocol: 99, payload: pattern(8) }));
  assert.equal(sentIcmp().length, 1);
});

Deno.test("IcmpLayer rate-limits errors with a token bucket", () => {
  // random 0.5: every error costs one global token (the cost is random 0..2 by default).
  const { iface, rx, sentIcmp } = setup({ errorRatePerSec: 10, errorBurst: 3, random: () => 0.5 });
  const p = ipv4Packet({ src: IP_B, dst: IP_A, protocol: 99, payload: pattern(8) });
  for (let i = 0; i < 5; i++) rx(0, p);
  assert.equal(sentIcmp().length, 3);
  assert.equal(iface.icmp.stats.txRateLimited, 2);
  rx(99, p);
  assert.equal(sentIcmp().length, 0, "less than one token after 99 ms at 10/s");
  rx(100, p);
  assert.equal(sentIcmp().length, 1);
});
