import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import { AfPacketDevice } from "../../src/phy/af_packet.ts";
import { TcpState } from "../../src/tcp/connection.ts";
import { pattern, waitPeerUdpPort, withLabStack } from "./_helpers.ts";
import {
  bulkData,
  fileSha256,
  readToEnd,
  sha256Hex,
  waitPeerTcpPort,
  withTcpLab,
  writeAllChunked,
} from "./_tcp_lab_helpers.ts";

const PREFIX = "rstxl";
/** Bytes each way: enough for thousands of full batches through the thread. */
const BULK_BYTES = 16 << 20;
const UDP_DATAGRAMS = 5000;
const UDP_PAYLOAD_BYTES = 1472;
const UDP_PORT = 6100;
/** The receiver's socket buffer (SO_RCVBUFFORCE, root): holds every datagram unread. */
const UDP_RCVBUF_BYTES = 64 << 20;

function threadedDevice(device: unknown): AfPacketDevice {
  assert.ok(device instanceof AfPacketDevice);
  assert.equal(device.txThreaded, true, device.txThreadFallbackReason ?? "");
  return device;
}

labTest(
  "TCP over a transmit-thread device: bulk each way with kernel socat by SHA-256, and an echo",
  async () => {
    await withTcpLab(
      PREFIX,
      // Ordinary frames: with vnetHeader (the default) bulk TCP goes out as GSO super-frames,
      // which pass by the staging area and so by the thread.
      { device: { txThread: true, vnetHeader: false }, capturePackets: 20_000 },
      async ({ lab, stack, dir, checkCapture }) => {
        const device = threadedDevice(stack.device);
        const upFile = `${dir}/up.bin`;
        const sink = lab.spawnInPeer([
          "socat",
          "-u",
          "TCP-LISTEN:5101,reuseaddr",
          `CREATE:${upFile}`,
        ]);
        await waitPeerTcpPort(lab, 5101);
        const up = bulkData(BULK_BYTES, 11);
        const c1 = await stack.connect({ hostname: lab.peerAddress, port: 5101 });
        await writeAllChunked(c1, up);
        await c1.closeWrite();
        assert.equal(await c1.read(new Uint8Array(1)), null);
        assert.equal(c1.connection.state, TcpState.TIME_WAIT);
        c1.close();
        assert.equal((await sink.finished()).code, 0);
        assert.equal(await fileSha256(upFile), await sha256Hex(up));
        assert.ok(device.stats.txThreadSubmissions > 0, "the thread sent full batches");

        const downFile = `${dir}/down.bin`;
        const down = bulkData(BULK_BYTES, 12);
        await Deno.writeFile(downFile, down);
        const source = lab.spawnInPeer([
          "socat",
          "-u",
          `OPEN:${downFile}`,
          "TCP-LISTEN:5102,reuseaddr",
        ]);
        await waitPeerTcpPort(lab, 5102);
        const c2 = await stack.connect({ hostname: lab.peerAddress, port: 5102 });
        const got = await readToEnd(c2);
        assert.equal(await sha256Hex(got), await sha256Hex(down));
        c2.close();
        assert.equal((await source.finished()).code, 0);

        // Small writes and replies: partial batches sent from the stack's own thread in turn.
        const echo = lab.spawnInPeer(["socat", "-t", "5", "TCP-LISTEN:5103,reuseaddr", "EXEC:cat"]);
        await waitPeerTcpPort(lab, 5103);
        const c3 = await stack.connect({ hostname: lab.peerAddress, port: 5103 });
        for (let i = 0; i < 50; i++) {
          const msg = pattern(1 + i * 97, i);
          await c3.write(msg);
          const back = new Uint8Array(msg.length);
          let n = 0;
          while (n < back.length) {
            const r = await c3.read(back.subarray(n));
            assert.notEqual(r, null);
            n += r!;
          }
          assert.deepEqual(back, msg);
        }
        c3.close();
        await echo.finished();

        const s = device.stats;
        assert.equal(s.txDropped, 0);
        assert.equal(stack.stats().tcp.malformed, 0);
        await checkCapture(100);
      },
    );
  },
  { commands: ["socat", "ss", "tcpdump", "tshark"] },
);

labTest(
  "TCP over a transmit-thread device with GSO: bulk to kernel socat by SHA-256, super-frames through the thread",
  async () => {
    await withTcpLab(
      PREFIX,
      // vnetHeader on (the default): bulk TCP leaves as GSO super-frames, staged for the thread.
      { device: { txThread: true }, capturePackets: 20_000 },
      async ({ lab, stack, dir, checkCapture }) => {
        const device = threadedDevice(stack.device);
        assert.equal(device.vnetHeader, true, device.vnetFallbackReason ?? "");
        const upFile = `${dir}/up.bin`;
        const sink = lab.spawnInPeer([
          "socat",
          "-u",
          "TCP-LISTEN:5104,reuseaddr",
          `CREATE:${upFile}`,
        ]);
        await waitPeerTcpPort(lab, 5104);
        const up = bulkData(BULK_BYTES, 13);
        const before = device.stats.txThreadSubmissions;
        const c = await stack.connect({ hostname: lab.peerAddress, port: 5104 });
        await writeAllChunked(c, up);
        await c.closeWrite();
        assert.equal(await c.read(new Uint8Array(1)), null);
        c.close();
        assert.equal((await sink.finished()).code, 0);
        assert.equal(await fileSha256(upFile), await sha256Hex(up));
        const s = device.stats;
        assert.ok(s.txSuperFrames > 0, "bulk data left as super-frames");
        assert.ok(
          s.txThreadSubmissions - before >= s.txSuperFrames,
          "each super-frame was a submission to the thread",
        );
        assert.equal(s.txDropped, 0);
        assert.equal(stack.stats().tcp.malformed, 0);
        await checkCapture(100);
      },
    );
  },
  { commands: ["socat", "ss", "tcpdump", "tshark"] },
);

const PY_SEQ_RECEIVER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, int(sys.argv[3]))  # SO_RCVBUFFORCE
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
s.settimeout(5)
seqs = []
bad = 0
try:
    while True:
        data = s.recv(65536)
        if data == b"end":
            break
        seq = int.from_bytes(data[:4], "big")
        if len(data) != int(sys.argv[4]) or data[4:] != bytes((seq + i) & 0xff for i in range(4, len(data))):
            bad += 1
        seqs.append(seq)
except socket.timeout:
    pass
inorder = all(seqs[i] == i for i in range(len(seqs)))
print(len(seqs), bad, inorder, flush=True)
`;

labTest(
  "UDP over a transmit-thread device: the kernel receives every datagram, intact and in order",
  async () => {
    await withLabStack(
      PREFIX,
      { device: { txThread: true, vnetHeader: false } },
      async ({ lab, stack, checkCapture }) => {
        const device = threadedDevice(stack.device);
        const receiver = lab.spawnInPeer([
          "python3",
          "-c",
          PY_SEQ_RECEIVER,
          lab.peerAddress,
          String(UDP_PORT),
          String(UDP_RCVBUF_BYTES),
          String(UDP_PAYLOAD_BYTES),
        ]);
        await waitPeerUdpPort(lab, UDP_PORT);
        // Resolve the peer first: a loop of awaits on settled promises never lets the event loop
        // run, so datagrams past the ARP queue's bound would be dropped while it waits for a reply.
        assert.equal((await stack.ping(lab.peerAddress, { count: 1 })).replies.length, 1);
        const conn = stack.listenDatagram({ port: 0 });
        const to = { hostname: lab.peerAddress, port: UDP_PORT };
        const payload = new Uint8Array(UDP_PAYLOAD_BYTES);
        for (let seq = 0; seq < UDP_DATAGRAMS; seq++) {
          new DataView(payload.buffer).setUint32(0, seq);
          for (let i = 4; i < payload.length; i++) payload[i] = (seq + i) & 0xff;
          assert.equal(await conn.send(payload, to), payload.length);
        }
        await conn.send(new TextEncoder().encode("end"), to);
        const out = await receiver.finished();
        assert.equal(out.code, 0, out.stderr);
        const [count, bad, inOrder] = out.stdout.trim().split("\n").at(-1)!.split(" ");
        assert.equal(Number(count), UDP_DATAGRAMS);
        assert.equal(Number(bad), 0);
        assert.equal(inOrder, "True");
        assert.ok(device.stats.txThreadSubmissions > 0);
        assert.equal(device.stats.txDropped, 0);
        conn.close();
        await checkCapture(100);
      },
    );
  },
  { commands: ["python3", "tcpdump", "tshark"] },
);
