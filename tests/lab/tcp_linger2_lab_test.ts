/**
 * TCP_LINGER2 (the FIN-WAIT-2 timeout of a closed connection, Linux tcp_fin_timeout)
 * against a Linux peer that never closes: rawstack closes, the kernel acknowledges the FIN
 * and stays in CLOSE-WAIT; after the timeout rawstack's connection is gone from its table,
 * and data the kernel sends later is answered with a RST, which the kernel takes (its
 * socket closes with EPIPE, Linux tcp_reset's error in CLOSE-WAIT).
 */
import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import { TcpState } from "../../src/tcp/connection.ts";
import { tsharkFieldRows } from "../wire/_tshark.ts";
import { until } from "./_helpers.ts";
import { waitPeerTcpPort, withTcpLab } from "./_tcp_lab_helpers.ts";

const PREFIX = "rslinger";
const PORT = 5023;
/** TCP_LINGER2 (`TcpConn.setFinTimeout`), ms. */
const FIN_TIMEOUT_MS = 1000;
/** Longest the test waits for the timeout (1 s, or 3.5 RTO when that is more). */
const GONE_TIMEOUT_MS = 15_000;
/** Linux TCP_CLOSE (tcpi_state). */
const LINUX_TCP_CLOSE = 7;

/**
 * Kernel peer: accept, read to rawstack's FIN, never close; once the trigger file exists,
 * send data and wait for the socket to close (up to 10 s); print tcpi_state and SO_ERROR.
 */
const PY_LATE_SENDER = `
import errno, os, socket, sys, time
port, trigger = int(sys.argv[1]), sys.argv[2]
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", port))
l.listen(1)
c, _ = l.accept()
while c.recv(1 << 16):
    pass
while not os.path.exists(trigger):
    time.sleep(0.01)
c.send(b"late data")
state = lambda: c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
end = time.monotonic() + 10
while state() != ${LINUX_TCP_CLOSE} and time.monotonic() < end:
    time.sleep(0.01)
err = c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
print(state(), errno.errorcode.get(err, err))
`;

labTest(
  "TCP_LINGER2 with a Linux peer that never closes: the FIN-WAIT-2 connection goes, late data gets a RST",
  async () => {
    await withTcpLab(PREFIX, { capturePackets: 100 }, async (t) => {
      const { lab, stack, dir } = t;
      const trigger = `${dir}/send-late`;
      const peer = lab.spawnInPeer(["python3", "-c", PY_LATE_SENDER, String(PORT), trigger]);
      await waitPeerTcpPort(lab, PORT);
      const conn = await stack.connect({ hostname: lab.peerAddress, port: PORT });
      conn.setFinTimeout(FIN_TIMEOUT_MS);
      await conn.write(new TextEncoder().encode("hello"));
      const engine = conn.connection;
      conn.close();
      await until(() => engine.state === TcpState.FIN_WAIT_2, "FIN-WAIT-2 (our FIN acked)");
      assert.ok(stack.tcp.connections().includes(engine), "still in the table in FIN-WAIT-2");
      const ss = await lab.runInPeer(["ss", "-Htn", "state", "close-wait", `( sport = :${PORT} )`]);
      assert.notEqual(ss.stdout.trim(), "", "the kernel's end is in CLOSE-WAIT");

      await until(
        () => !stack.tcp.connections().includes(engine),
        "the FIN-WAIT-2 timeout",
        GONE_TIMEOUT_MS,
      );
      assert.equal(engine.state, TcpState.CLOSED);
      assert.equal(stack.tcp.connectionCount, 0, "no connection left");

      await Deno.writeTextFile(trigger, "");
      const out = await peer.finished();
      assert.equal(out.code, 0, `python peer: ${out.stderr}`);
      assert.equal(
        out.stdout.trim(),
        `${LINUX_TCP_CLOSE} EPIPE`,
        "the kernel's socket was reset (CLOSE, EPIPE)",
      );

      await t.checkCapture(8);
      const late = await tsharkFieldRows(t.capturePath, ["tcp.ack_raw"], {
        filter: `ip.src == ${lab.peerAddress} && tcp.len > 0`,
      });
      assert.equal(late.length, 1, "the kernel sent its late data once");
      const rst = await tsharkFieldRows(t.capturePath, ["tcp.seq_raw"], {
        filter: `ip.src == ${lab.stackAddress} && tcp.flags.reset == 1`,
      });
      assert.equal(rst.length, 1, "one RST from rawstack");
      // RFC 9293 §3.10.7.1 (no connection): the RST's sequence number is the segment's ACK.
      assert.equal(rst[0][0], late[0][0]);
    });
  },
  { commands: ["python3", "tcpdump", "tshark"] },
);
