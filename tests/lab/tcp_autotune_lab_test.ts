/**
 * Receive-buffer autotuning (src/tcp/rcv_space.ts, Linux tcp_rcv_space_adjust) against a
 * Linux sender: a kernel client in the peer namespace sends bulk data to a rawstack
 * receiver that reads as fast as it can. rawstack's receive buffer grows beyond its initial
 * `receiveBufferBytes`, the window it advertises grows with it — on the wire (tshark) and as
 * the kernel sees it (`ss -tin`: snd_wnd) — and every byte arrives intact.
 */
import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import { tsharkFieldRows } from "../wire/_tshark.ts";
import { bulkData, sha256Hex, withTcpLab } from "./_tcp_lab_helpers.ts";

const PREFIX = "rsatune";
const PORT = 5021;
/** Largest packet the capture can hold: a 64 KiB GSO frame of the kernel sender. */
const MAX_CAPTURED_PACKET_BYTES = 64 * 1024;
/** rawstack's initial receive buffer: small, so growth shows within a short transfer. */
const INITIAL_BUFFER_BYTES = 64 * 1024;
/** The autotuning limit. */
const MAX_BUFFER_BYTES = 4 << 20;
/** Bytes the kernel sends. */
const BYTES = 8 << 20;
/** Bytes rawstack asks for per read. */
const READ_CHUNK_BYTES = 256 * 1024;
/** Packets captured at most: the whole transfer (data segments and rawstack's ACKs). */
const CAPTURE_PACKETS = 20_000;

/**
 * Kernel sender: connect, send the file, then wait for rawstack's close (so the test can
 * read the kernel's view of the connection with `ss` while it is still established).
 */
const PY_SEND_FILE = `
import socket, sys
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((host, port))
with open(path, "rb") as f:
    s.sendfile(f)
while s.recv(1 << 16):
    pass
s.close()
`;

labTest(
  "receive-buffer autotuning with a Linux sender: the buffer and the advertised window grow, data intact",
  async () => {
    await withTcpLab(PREFIX, {
      stack: {
        tcp: {
          receiveBufferBytes: INITIAL_BUFFER_BYTES,
          receiveBufferMaxBytes: MAX_BUFFER_BYTES,
        },
      },
      capturePackets: CAPTURE_PACKETS,
    }, async ({ lab, stack, dir, checkCapture, capturePath }) => {
      const data = bulkData(BYTES, 21);
      const file = `${dir}/send.bin`;
      await Deno.writeFile(file, data);
      const listener = stack.listen({ port: PORT });
      try {
        const sender = lab.spawnInPeer([
          "python3",
          "-c",
          PY_SEND_FILE,
          lab.stackAddress,
          String(PORT),
          file,
        ]);
        const conn = await listener.accept();
        const got = new Uint8Array(BYTES);
        let n = 0;
        while (n < BYTES) {
          const r = await conn.read(got.subarray(n, Math.min(BYTES, n + READ_CHUNK_BYTES)));
          if (r === null) break;
          n += r;
        }
        assert.equal(n, BYTES, "every byte arrived");
        assert.equal(await sha256Hex(got), await sha256Hex(data), "intact");
        const info = conn.info();
        assert.ok(
          info.receiveBufferBytes > INITIAL_BUFFER_BYTES,
          `the receive buffer grew: ${info.receiveBufferBytes} bytes`,
        );
        assert.ok(info.receiveBufferBytes <= MAX_BUFFER_BYTES, "within receiveBufferMaxBytes");
        assert.ok(info.rcvRttMs > 0, "autotuning measured the receiver's RTT");
        // The kernel's view while the connection is still open: the window it may fill.
        const ss = await lab.runInPeer([
          "ss",
          "-Htin",
          "state",
          "established",
          `( dport = :${PORT} )`,
        ]);
        const sndWnd = Number(/\bsnd_wnd:(\d+)/.exec(ss.stdout)?.[1]);
        assert.ok(
          sndWnd > INITIAL_BUFFER_BYTES,
          `the kernel sees a window beyond the initial buffer (ss: ${ss.stdout.trim()})`,
        );
        conn.close();
        const out = await sender.finished();
        assert.equal(out.code, 0, `python sender: ${out.stderr}`);

        // At least one packet per 64 KiB: the kernel sender's GSO frames are captured before
        // segmentation, and tcpdump may drop some of an 8 MiB burst on a loaded machine (CI
        // saw 4,863 packets for 5,794 segments' worth); the windows below are what is asserted.
        await checkCapture(BYTES / MAX_CAPTURED_PACKET_BYTES);
        // On the wire: the windows rawstack advertised (tshark applies the SYN's scale).
        const rows = await tsharkFieldRows(capturePath, ["tcp.window_size"], {
          filter: `ip.src == ${lab.stackAddress} && tcp.flags.syn == 0`,
        });
        const windows = rows.map(([w]) => Number(w));
        assert.ok(windows.length > 0);
        assert.ok(
          windows[0] <= INITIAL_BUFFER_BYTES,
          `the first window is within the initial buffer (${windows[0]})`,
        );
        const largest = Math.max(...windows);
        assert.ok(
          largest > INITIAL_BUFFER_BYTES,
          `an advertised window beyond the initial buffer on the wire (${largest})`,
        );
        console.log(
          `autotuning: buffer ${INITIAL_BUFFER_BYTES} → ${info.receiveBufferBytes} bytes, ` +
            `largest window on the wire ${largest}, kernel snd_wnd ${sndWnd}`,
        );
      } finally {
        listener.close();
      }
    });
  },
  { commands: ["python3", "tcpdump", "tshark"] },
);
