import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import type { AfPacketDevice } from "../../src/phy/af_packet.ts";
import type { Device } from "../../src/phy/device.ts";
import { UdpError } from "../../src/udp/udp_layer.ts";
import { pattern, waitPeerUdpPort, withLabStack } from "./_helpers.ts";

const PREFIX = "rsstudp";
const SIZES = [1, 1472, 65507];
const SOCAT_BUFFER = "65535";

labTest("UDP: socat in the kernel exchanges 1, 1472 and 65507-byte datagrams with us", async () => {
  await withLabStack(PREFIX, {}, async ({ lab, stack, checkCapture }) => {
    // rawstack → kernel: socat echoes each datagram back (UDP-LISTEN + PIPE).
    const echo = lab.spawnInPeer(["socat", "-b", SOCAT_BUFFER, "UDP-LISTEN:6000", "PIPE"]);
    await waitPeerUdpPort(lab, 6000);
    const client = stack.listenDatagram({ port: 40000 });
    for (const size of SIZES) {
      const out = pattern(size, size);
      assert.equal(await client.send(out, { hostname: lab.peerAddress, port: 6000 }), size);
      const [back, from] = await client.receive();
      assert.equal(from.hostname, lab.peerAddress);
      assert.equal(from.port, 6000);
      assert.equal(back.length, size);
      assert.deepEqual(back, out);
    }
    await echo.kill();

    // kernel → rawstack: socat sends a file as one datagram per size.
    const server = stack.listenDatagram({ port: 5000 });
    for (const size of SIZES) {
      const file = await Deno.makeTempFile({ prefix: "rsstudp-" });
      try {
        const out = pattern(size, size + 7);
        await Deno.writeFile(file, out);
        const sent = await lab.runInPeer([
          "socat",
          "-b",
          SOCAT_BUFFER,
          "-u",
          `OPEN:${file}`,
          `UDP-SENDTO:${lab.stackAddress}:5000`,
        ]);
        assert.equal(sent.code, 0, sent.stderr);
        const [got, from] = await server.receive();
        assert.equal(from.hostname, lab.peerAddress);
        assert.equal(got.length, size);
        assert.deepEqual(got, out);
      } finally {
        await Deno.remove(file);
      }
    }
    const s = stack.stats();
    assert.ok(s.ipv4.txFragments >= 45 && s.ipv4.rxReassembled >= 2, JSON.stringify(s.ipv4));
    assert.equal(s.udp.rxBadChecksum, 0);
    await checkCapture(9 * 2);
  });
}, { commands: ["socat", "ss", "tcpdump", "tshark"] });

const PY_CONNECTED_UDP = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b"hello")
try:
    s.recv(100)
    print("got data")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
`;

labTest(
  "UDP: a datagram to a closed rawstack port makes the kernel socket see ECONNREFUSED",
  async () => {
    await withLabStack(PREFIX, {}, async ({ lab, stack, checkCapture }) => {
      const r = await lab.runInPeer(["python3", "-c", PY_CONNECTED_UDP, lab.stackAddress, "9"]);
      assert.equal(r.stdout.trim(), "refused", r.stdout + r.stderr);
      assert.ok(stack.stats().udp.rxNoPort >= 1);
      assert.ok(stack.stats().icmp.txErrors >= 1, JSON.stringify(stack.stats().icmp));
      await checkCapture(2);
    });
  },
  { commands: ["python3", "tcpdump", "tshark"] },
);

labTest("UDP: a connected socket learns of a closed kernel port (PortUnreachable)", async () => {
  await withLabStack(PREFIX, {}, async ({ lab, stack, checkCapture }) => {
    const conn = stack.listenDatagram({ port: 0 });
    await conn.connect({ hostname: lab.peerAddress, port: 9 });
    await conn.send(new Uint8Array([1, 2, 3]));
    await assert.rejects(
      conn.receive(),
      (e: unknown) => e instanceof UdpError && e.code === "PortUnreachable" && e.remotePort === 9,
    );
    await checkCapture(2);
  });
}, { commands: ["tcpdump", "tshark"] });

/** Datagrams in one burst, fewer than a transmit batch (32): all of them fit the staging area. */
const BURST_DATAGRAMS = 24;
const BURST_DATAGRAM_BYTES = 1000;
/** A token bucket on rawstack's interface that holds about two frames: the burst overflows it. */
const SHAPER = ["tbf", "rate", "10mbit", "burst", "3000", "limit", "3000"];
const PY_COUNT_UDP = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(3)
got = []
try:
    while len(got) < int(sys.argv[2]):
        got.append(s.recv(65536)[0])
except socket.timeout:
    pass
print(" ".join(map(str, got)))
`;

labTest(
  "UDP: a burst that overflows the interface's queue (ENOBUFS) is retried, none lost, in order",
  async () => {
    let device: Device | null = null;
    await withLabStack(PREFIX, {
      wrapDevice: (d) => (device = d),
    }, async ({ lab, stack, checkCapture }) => {
      const sink = lab.spawnInPeer([
        "python3",
        "-c",
        PY_COUNT_UDP,
        "6001",
        `${BURST_DATAGRAMS + 1}`,
      ]);
      await waitPeerUdpPort(lab, 6001);
      const client = stack.listenDatagram({ port: 40001 });
      const to = { hostname: lab.peerAddress, port: 6001 };
      // Resolve the peer's MAC first: the burst must meet the queue, not the ARP queue.
      await client.send(new Uint8Array([0xff]), to);
      await lab.runIn(lab.stackNetns, [
        "tc",
        "qdisc",
        "replace",
        "dev",
        lab.stackIf,
        "root",
        ...SHAPER,
      ]);
      const sends: Promise<number>[] = [];
      for (let i = 0; i < BURST_DATAGRAMS; i++) {
        sends.push(client.send(new Uint8Array(BURST_DATAGRAM_BYTES).fill(i), to));
      }
      await Promise.all(sends);
      const got = (await sink.finished()).stdout.trim().split(" ").map(Number);
      const stats = (device as unknown as AfPacketDevice).stats;
      assert.ok(stats.txDeferred > 0, `the queue refused frames: ${JSON.stringify(stats)}`);
      assert.deepEqual(got, [0xff, ...Array.from({ length: BURST_DATAGRAMS }, (_, i) => i)]);
      assert.equal(stats.txDropped, 0);
      await checkCapture(BURST_DATAGRAMS);
    });
  },
  { commands: ["python3", "ss", "tc", "tcpdump", "tshark"] },
);
