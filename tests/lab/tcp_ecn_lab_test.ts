/**
 * ECN (RFC 3168) against the Linux kernel: with net.ipv4.tcp_ecn=1 in the peer,
 * rawstack (ecn "on") negotiates ECN, marks its data ECT(0), and an nftables
 * rule that sets CE on a share of rawstack's data packets makes the kernel echo
 * ECE, rawstack reduce its window and answer with CWR — visible in
 * `conn.info()`, in the kernel's `ss -ti` ("ecn") and in the capture.
 */
import assert from "node:assert/strict";
import { Lab, labTest } from "../../src/testing/lab.ts";
import { tsharkFieldRows } from "../wire/_tshark.ts";
import { Stack } from "../../src/stack.ts";
import { captureLab, type LabCapture } from "./_helpers.ts";
import { waitPeerTcpPort, writeAllChunked } from "./_tcp_lab_helpers.ts";

const PREFIX = "rsecn";
const COMMANDS = ["socat", "nft", "nstat", "tcpdump", "tshark"];
const PORT = 5011;
/** Bytes rawstack sends: enough flights for several CE marks. */
const BYTES = 4 << 20;
/** One data packet in this many from rawstack gets CE (nftables numgen). */
const CE_ONE_IN = 50;
/** TCP flag bits in tshark's tcp.flags. */
const ECE = 0x40;
const CWR = 0x80;
const SYN = 0x02;
const ACK = 0x10;

/** `fields` of the frames matching `filter` in the capture at `path`. */
function tshark(path: string, filter: string, fields: string[]): Promise<string[][]> {
  return tsharkFieldRows(path, fields, { filter });
}

labTest(
  "ECN with the kernel: negotiation, ECT(0) data, CE marks → ECE, window reduction and CWR",
  async () => {
    const lab = await Lab.create({ prefix: PREFIX });
    let stack: Stack | null = null;
    let capture: LabCapture | null = null;
    try {
      await lab.runInPeer(["sysctl", "-q", "-w", "net.ipv4.tcp_ecn=1"]);
      // CE on one in CE_ONE_IN of rawstack's ECT(0) packets, before the kernel's TCP sees them
      // (an AQM's mark; tcpdump on the interface still sees ECT(0)).
      const rules = `table ip rsecn {
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    ip saddr ${lab.stackAddress} ip ecn ect0 numgen random mod ${CE_ONE_IN} 0 ip ecn set ce
  }
}
`;
      const file = await Deno.makeTempFile({ prefix: `${PREFIX}-`, suffix: ".nft" });
      try {
        await Deno.writeTextFile(file, rules);
        await lab.runInPeer(["nft", "-f", file]);
      } finally {
        await Deno.remove(file).catch(() => {});
      }
      capture = await captureLab(lab, PREFIX, {
        count: 4000,
        check: { tcpPayloadAsData: true, acceptFfffChecksumFrom: lab.peerAddress },
      });
      const sink = lab.spawnInPeer([
        "socat",
        "-u",
        `TCP-LISTEN:${PORT},reuseaddr`,
        "OPEN:/dev/null",
      ]);
      await waitPeerTcpPort(lab, PORT);
      stack = new Stack({
        device: await lab.openDevice(),
        ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
        gateway: lab.peerAddress,
        tcp: { ecn: "on" },
      });
      await stack.start();
      const conn = await stack.connect({ hostname: lab.peerAddress, port: PORT });
      assert.equal(conn.info().ecn, true, "ECN negotiated");
      const data = new Uint8Array(BYTES).fill(0x5a);
      await writeAllChunked(conn, data.subarray(0, BYTES / 2));
      // The kernel's view while the connection is open: `ss -ti` lists ecn (and ecnseen once
      // it received CE).
      const ss = await lab.runInPeer([
        "ss",
        "-tin",
        "state",
        "established",
        `( sport = :${PORT} )`,
      ]);
      await writeAllChunked(conn, data.subarray(BYTES / 2));
      await conn.closeWrite();
      assert.equal((await sink.finished()).code, 0);
      const info = conn.info();
      conn.close();
      // The sender's reaction (RFC 3168 §6.1.2): window reductions and CWR.
      assert.ok(info.ecnReductions >= 1, `reductions ${info.ecnReductions}`);
      assert.ok(info.ecnCwrSent >= 1, `CWR sent ${info.ecnCwrSent}`);
      assert.ok(stack.stats().tcp.ecnEceReceived >= 1);

      await capture.check(100);
      const path = capture.path;
      const ours = `ip.src == ${lab.stackAddress}`;
      const theirs = `ip.src == ${lab.peerAddress}`;
      // Handshake: our SYN has ECE+CWR, the kernel's SYN-ACK ECE only; neither is ECT.
      const syn = await tshark(path, `${ours} && tcp.flags.syn == 1`, [
        "tcp.flags",
        "ip.dsfield.ecn",
      ]);
      assert.ok(syn.length >= 1);
      assert.equal(Number(syn[0][0]) & (SYN | ECE | CWR | ACK), SYN | ECE | CWR);
      assert.equal(Number(syn[0][1]), 0);
      const synAck = await tshark(path, `${theirs} && tcp.flags.syn == 1`, ["tcp.flags"]);
      assert.equal(Number(synAck[0][0]) & (SYN | ACK | ECE | CWR), SYN | ACK | ECE);
      // Our data is ECT(0) (ip.dsfield.ecn 2), except retransmissions.
      const dataEcn = await tshark(path, `${ours} && tcp.len > 0 && !tcp.analysis.retransmission`, [
        "ip.dsfield.ecn",
      ]);
      assert.ok(dataEcn.length > 100);
      assert.ok(dataEcn.every(([e]) => e === "2"), "ECT(0) on new data");
      // The kernel echoed the CE marks with ECE, and we sent CWR.
      const ece = await tshark(path, `${theirs} && (tcp.flags & 0x040) && tcp.flags.syn == 0`, [
        "frame.number",
      ]);
      assert.ok(ece.length >= 1, "kernel ACKs with ECE");
      const cwr = await tshark(path, `${ours} && (tcp.flags & 0x080) && tcp.flags.syn == 0`, [
        "frame.number",
      ]);
      assert.ok(cwr.length >= 1, "our CWR");
      // The kernel's side: `ss -ti` lists "ecn" and "ecnseen" among the connection's options.
      // Some ss/kernel pairs print no options at all (iproute2 6.1 on Linux 6.18 shows neither
      // "ts" nor "sack" for a kernel-to-kernel connection): then the kernel's count of ECT(0)
      // datagrams received (/proc/net/netstat IpExt, counted in ip_rcv before the nftables
      // mark) and its ECE answers to the marks (the capture, below) stand in.
      if (/\b(ts|sack)\b/.test(ss.stdout)) {
        assert.match(ss.stdout, /\becn\b/, `ss -ti shows ecn:\n${ss.stdout}`);
        assert.match(ss.stdout, /\becnseen\b/, `ss -ti shows ecnseen:\n${ss.stdout}`);
      }
      const nstat = await lab.runInPeer(["nstat", "-asz", "IpExtInECT0Pkts"]);
      const counter = (name: string) =>
        Number(new RegExp(`${name}\\s+(\\d+)`).exec(nstat.stdout)?.[1]);
      assert.ok(counter("IpExtInECT0Pkts") > 100, nstat.stdout);
    } finally {
      if (stack !== null) await stack.close();
      if (capture !== null) await capture.close();
      await lab.destroy();
    }
  },
  { commands: COMMANDS },
);
