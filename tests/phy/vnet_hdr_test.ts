import assert from "node:assert/strict";
import type { AfPacketDevice, AfPacketMode } from "../../src/phy/af_packet.ts";
import {
  type FrameSink,
  GSO_NONE,
  GSO_UDP_L4,
  RX_CHECKSUM_PARTIAL,
  RX_CHECKSUM_VALID,
} from "../../src/phy/device.ts";
import { Lab, labTest } from "../../src/testing/lab.ts";
import { internetChecksum, pseudoHeaderSum } from "../../src/wire/checksum.ts";
import { parseIpv4, readIpv4, writeIpv4, writeMac } from "../../src/wire/address.ts";
import { readPcap } from "../../src/wire/pcap.ts";

const PREFIX = "rspfv";
const STACK_IP = parseIpv4("192.0.2.2")!;
const PEER_IP = parseIpv4("192.0.2.1")!;
const ETHERTYPE_IPV4 = 0x0800;
const IP_PROTO_TCP = 6;
const IP_PROTO_UDP = 17;
const ETH = 14;
const IPV4 = 20;
const TCP = 20;
const UDP_GSO_SIZE = 1000;
const UDP_DATAGRAM_BYTES = 8000;
const UDP_PORT = 9999;
const TCP_PAYLOAD_BYTES = 20_000;
const MSS = 1460;
const TCP_SEQ = 0x1000_0000;
const TCPDUMP_FLUSH_MS = 1500;

/** Sends one UDP_SEGMENT (UDP GSO, Linux ≥ 4.18) super-datagram from the kernel peer. */
const UDP_GSO_SENDER = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(17, 103, ${UDP_GSO_SIZE})  # SOL_UDP, UDP_SEGMENT
s.sendto(bytes(i % 256 for i in range(${UDP_DATAGRAM_BYTES})), ("192.0.2.2", ${UDP_PORT}))
`;

interface Seen {
  length: number;
  checksum: number;
  gsoType: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
  /** Whether the UDP checksum verifies as delivered (after the driver completed it). */
  verifies: boolean;
}

/** Records the rxInfo of UDP frames to our port, checking their checksum as delivered. */
class UdpRecorder implements FrameSink {
  readonly seen: Seen[] = [];
  constructor(readonly dev: AfPacketDevice) {}
  onFrame(b: Uint8Array, o: number, n: number): void {
    if (n < ETH + IPV4 + 8 || ((b[o + 12] << 8) | b[o + 13]) !== ETHERTYPE_IPV4) return;
    if (b[o + ETH + 9] !== IP_PROTO_UDP) return;
    const l4 = o + ETH + (b[o + ETH] & 0x0f) * 4;
    if (((b[l4 + 2] << 8) | b[l4 + 3]) !== UDP_PORT) return;
    const udpLength = n - (l4 - o);
    const pseudo = pseudoHeaderSum(
      readIpv4(b, o + ETH + 12),
      readIpv4(b, o + ETH + 16),
      IP_PROTO_UDP,
      udpLength,
    );
    const info = this.dev.rxInfo;
    this.seen.push({
      length: n,
      checksum: info.checksum,
      gsoType: info.gsoType,
      gsoSize: info.gsoSize,
      csumStart: info.csumStart,
      csumOffset: info.csumOffset,
      verifies: internetChecksum(b, l4, udpLength, pseudo) === 0,
    });
  }
}

async function macOf(lab: Lab, netns: string, ifname: string): Promise<string> {
  const r = await lab.runIn(netns, ["cat", `/sys/class/net/${ifname}/address`]);
  return r.stdout.trim();
}

async function receiveUdpSuperFrame(mode: AfPacketMode, complete: boolean) {
  const lab = await Lab.create({ prefix: PREFIX, peerOffloads: true });
  try {
    const dev = await lab.openDevice({ mode, vnetHeader: true, completeRxChecksums: complete });
    assert.equal(dev.capabilities.gso, true);
    assert.equal(dev.capabilities.checksumOffloadRx, true);
    assert.equal(dev.capabilities.maxSegmentBytes, 14 + 65535);
    // No ARP needed: the peer learns our MAC statically.
    await lab.pinStackNeighbour();
    const r = await lab.runInPeer(["python3", "-c", UDP_GSO_SENDER]);
    assert.equal(r.code, 0, r.stderr);
    const rec = new UdpRecorder(dev);
    const end = Date.now() + 2000;
    while (rec.seen.length === 0 && Date.now() < end) {
      await dev.wait(100);
      dev.receive(rec, 64);
    }
    return { seen: rec.seen, stats: { ...dev.stats } };
  } finally {
    await lab.destroy();
  }
}

for (const mode of ["ring-v2", "ring-v3", "socket"] as const) {
  labTest(
    `AfPacketDevice vnetHeader (${mode}) delivers a kernel UDP GSO super-frame flagged`,
    async () => {
      const { seen, stats } = await receiveUdpSuperFrame(mode, false);
      assert.equal(seen.length, 1, "one super-frame, not 8 segments");
      const f = seen[0];
      assert.equal(f.length, ETH + IPV4 + 8 + UDP_DATAGRAM_BYTES);
      assert.equal(f.gsoType & 0x7f, GSO_UDP_L4);
      assert.equal(f.gsoSize, UDP_GSO_SIZE);
      assert.equal(f.checksum, RX_CHECKSUM_PARTIAL);
      assert.equal(f.csumStart, ETH + IPV4);
      assert.equal(f.csumOffset, 6);
      assert.equal(f.verifies, false, "left partial: the field holds only the pseudo-header sum");
      assert.equal(stats.rxSuperFrames, 1);
      assert.equal(stats.rxChecksumsCompleted, 0);
    },
    { commands: ["python3", "ethtool"] },
  );
}

labTest("AfPacketDevice completeRxChecksums fills a partial checksum in place", async () => {
  const { seen, stats } = await receiveUdpSuperFrame("ring-v2", true);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].checksum, RX_CHECKSUM_VALID);
  assert.equal(seen[0].verifies, true);
  assert.equal(stats.rxChecksumPartial, 1);
  assert.equal(stats.rxChecksumsCompleted, 1);
}, { commands: ["python3", "ethtool"] });

/** Ethernet + IPv4 + TCP (ACK|PSH) + payload, laid out for GSO: checksum field = pseudo-header sum. */
function tcpSuperFrame(srcMac: number, dstMac: number): Uint8Array {
  const total = ETH + IPV4 + TCP + TCP_PAYLOAD_BYTES;
  const f = new Uint8Array(total);
  writeMac(f, 0, dstMac);
  writeMac(f, 6, srcMac);
  f[12] = ETHERTYPE_IPV4 >> 8;
  f[13] = ETHERTYPE_IPV4 & 0xff;
  const ip = ETH;
  f[ip] = 0x45;
  const ipLength = IPV4 + TCP + TCP_PAYLOAD_BYTES;
  f[ip + 2] = ipLength >> 8;
  f[ip + 3] = ipLength & 0xff;
  f[ip + 6] = 0x40; // DF
  f[ip + 8] = 64;
  f[ip + 9] = IP_PROTO_TCP;
  writeIpv4(f, ip + 12, STACK_IP);
  writeIpv4(f, ip + 16, PEER_IP);
  const ipck = internetChecksum(f, ip, IPV4);
  f[ip + 10] = ipck >> 8;
  f[ip + 11] = ipck & 0xff;
  const tcp = ip + IPV4;
  f[tcp] = 0xc3; // source port 50000
  f[tcp + 1] = 0x50;
  f[tcp + 3] = 9; // discard port (closed: the kernel answers RST, which does not matter)
  new DataView(f.buffer).setUint32(tcp + 4, TCP_SEQ);
  f[tcp + 12] = (TCP / 4) << 4;
  f[tcp + 13] = 0x18; // PSH|ACK
  f[tcp + 14] = 0xff;
  f[tcp + 15] = 0xff;
  for (let i = 0; i < TCP_PAYLOAD_BYTES; i++) f[tcp + TCP + i] = i & 0xff;
  // CHECKSUM_PARTIAL convention: the folded pseudo-header sum, not complemented.
  const pseudo = pseudoHeaderSum(STACK_IP, PEER_IP, IP_PROTO_TCP, TCP + TCP_PAYLOAD_BYTES);
  f[tcp + 16] = pseudo >> 8;
  f[tcp + 17] = pseudo & 0xff;
  return f;
}

labTest(
  "AfPacketDevice.transmitOffload: the kernel segments a 20 KB TCP super-frame (GSO TCPv4)",
  async () => {
    const lab = await Lab.create({ prefix: PREFIX });
    const pcap = await Deno.makeTempFile({ prefix: "rspfv-", suffix: ".pcap" });
    try {
      // Segmentation in software on rawstack's side of the veth (otherwise the
      // super-frame would cross the veth whole, like a GRO packet).
      await lab.runIn(lab.stackNetns, [
        "ethtool",
        "-K",
        lab.stackIf,
        "tx",
        "off",
        "tso",
        "off",
        "gso",
        "off",
      ]);
      const dev = await lab.openDevice({ vnetHeader: true });
      const peerMac = parseInt(
        (await macOf(lab, lab.peerNetns, lab.peerIf)).replaceAll(":", ""),
        16,
      );
      const tcpdump = await lab.capture(pcap);
      const frame = tcpSuperFrame(dev.capabilities.mac, peerMac);
      assert.equal(
        dev.transmit(frame, 0, frame.length),
        false,
        "plain transmit keeps the MTU limit",
      );
      const sent = dev.transmitOffload(frame, 0, frame.length, ETH + IPV4, 16, MSS);
      assert.equal(sent, true, `transmitOffload failed: ${JSON.stringify(dev.stats)}`);
      assert.equal(dev.stats.txSuperFrames, 1);
      // tcpdump (libpcap, TPACKET_V3) writes a block only once it retires (≈1 s timeout at low rates).
      await new Promise((r) => setTimeout(r, TCPDUMP_FLUSH_MS));
      await tcpdump.kill();
      const file = readPcap(await Deno.readFile(pcap));
      const segments = file.records.map((r) => r.data).filter((d) =>
        d.length >= ETH + IPV4 + TCP && d[ETH + 9] === IP_PROTO_TCP &&
        readIpv4(d, ETH + 12) === STACK_IP
      );
      assert.equal(segments.length, Math.ceil(TCP_PAYLOAD_BYTES / MSS));
      let expectedSeq = TCP_SEQ;
      let payload = 0;
      for (const d of segments) {
        const ipLength = (d[ETH + 2] << 8) | d[ETH + 3];
        assert.equal(d.length, ETH + ipLength);
        assert.ok(d.length <= ETH + 1500, `segment of ${d.length} bytes exceeds the MTU`);
        assert.equal(internetChecksum(d, ETH, IPV4), 0, "IPv4 header checksum");
        const tcpLength = ipLength - IPV4;
        const pseudo = pseudoHeaderSum(STACK_IP, PEER_IP, IP_PROTO_TCP, tcpLength);
        assert.equal(internetChecksum(d, ETH + IPV4, tcpLength, pseudo), 0, "TCP checksum");
        assert.equal(new DataView(d.buffer, d.byteOffset).getUint32(ETH + IPV4 + 4), expectedSeq);
        const dataBytes = tcpLength - TCP;
        assert.ok(dataBytes <= MSS);
        for (let i = 0; i < dataBytes; i++) {
          if (d[ETH + IPV4 + TCP + i] !== ((payload + i) & 0xff)) assert.fail("payload differs");
        }
        payload += dataBytes;
        expectedSeq = (expectedSeq + dataBytes) >>> 0;
      }
      assert.equal(payload, TCP_PAYLOAD_BYTES);
    } finally {
      await lab.destroy();
      await Deno.remove(pcap).catch(() => {});
    }
  },
  { commands: ["ethtool", "tcpdump"] },
);

labTest("AfPacketDevice vnetHeader: ordinary frames carry gso NONE both ways", async () => {
  const lab = await Lab.create({ prefix: PREFIX });
  try {
    const dev = await lab.openDevice({ vnetHeader: true });
    await lab.pinStackNeighbour();
    // Offloads off on the peer (lab default): an ordinary UDP datagram with its checksum filled in.
    const r = await lab.runInPeer([
      "python3",
      "-c",
      `import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"hello", ("192.0.2.2", ${UDP_PORT}))`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rec = new UdpRecorder(dev);
    const end = Date.now() + 2000;
    while (rec.seen.length === 0 && Date.now() < end) {
      await dev.wait(100);
      dev.receive(rec, 64);
    }
    assert.equal(rec.seen.length, 1);
    assert.equal(rec.seen[0].gsoType, GSO_NONE);
    assert.equal(rec.seen[0].gsoSize, 0);
    assert.notEqual(rec.seen[0].checksum, RX_CHECKSUM_PARTIAL);
    assert.equal(rec.seen[0].verifies, true);
    assert.equal(rec.seen[0].length, ETH + IPV4 + 8 + 5);
  } finally {
    await lab.destroy();
  }
}, { commands: ["python3"] });
