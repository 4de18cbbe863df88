/**
 * TCP against the Linux kernel under trouble: random loss from an nftables
 * rule in the peer namespace, and a SYN flood from hping3 while real curl
 * clients keep connecting (SYN cookies, RFC 4987 §3.6).
 */
import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import { FaultInjector } from "../../src/phy/fault_injector.ts";
import {
  bulkData,
  readToEnd,
  serveHttp,
  sha256Hex,
  socatTransfer,
  waitFor,
  withTcpLab,
} from "./_tcp_lab_helpers.ts";

const PREFIX = "rststx";
/** 2 %, as the nftables rule. */
const LOSS_FRACTION = 0.02;
const dec = new TextDecoder();

/** MB each way through the lossy path (env RAWSTACK_LOSS_MB, default 20). */
function lossMegabytes(): number {
  const v = Number(Deno.env.get("RAWSTACK_LOSS_MB") ?? "20");
  return Number.isFinite(v) && v > 0 ? v : 20;
}

labTest(
  "TcpConn through 2 % random loss each way (nftables numgen, fault injector) stays byte-exact",
  async () => {
    const bytes = lossMegabytes() << 20;
    await withTcpLab(
      PREFIX,
      {
        capturePackets: 30_000,
        // Loss toward us cannot come from nftables in the peer: Linux TCP notices a drop in
        // its own output or egress path (NET_XMIT_DROP) and resends without a hole. So 2 % of
        // the frames reaching rawstack are dropped by a fault injector on our side.
        wrapDevice: (d) => new FaultInjector(d, { seed: 2, rx: { drop: LOSS_FRACTION } }),
        // Wire frames, not the kernel's GRO super-frames (a dropped one would lose ~44
        // segments at once): the interface's GRO stays off.
        device: { kernelGro: false },
      },
      async ({ lab, stack, dir, checkCapture }) => {
        // The rule: 2 % of the segments reaching the kernel are lost.
        for (
          const cmd of [
            ["nft", "add", "table", "inet", "t"],
            ["nft", "add", "chain", "inet", "t", "c", "{ type filter hook input priority 0; }"],
            [
              "nft",
              "add",
              "rule",
              "inet",
              "t",
              "c",
              "meta",
              "l4proto",
              "tcp",
              "numgen",
              "random",
              "mod",
              "100",
              "<",
              "2",
              "drop",
            ],
          ] // prettier-ignore
        ) {
          const r = await lab.runInPeer(cmd);
          assert.equal(r.code, 0, `${cmd.join(" ")}: ${r.stderr}`);
        }
        // rawstack → kernel.
        const { conn: c1 } = await socatTransfer(lab, stack, {
          direction: "up",
          data: bulkData(bytes, 21),
          port: 5001,
          dir,
        });
        const upInfo = c1.info();
        c1.close();
        assert.ok(upInfo.retransmits > 0, "2 % loss must cost retransmissions");

        // kernel → rawstack.
        const { conn: c2 } = await socatTransfer(lab, stack, {
          direction: "down",
          data: bulkData(bytes, 22),
          port: 5002,
          dir,
        });
        c2.close();

        const tcp = stack.stats().tcp;
        assert.ok(tcp.outOfOrder > 0, "losses toward us must leave holes (SACK, reassembly)");
        assert.equal(tcp.malformed, 0);
        await checkCapture(1000);
      },
    );
  },
  { commands: ["socat", "ss", "nft", "tcpdump", "tshark"] },
);

/** SYNs in the flood, 100 µs apart (about 2 s). */
const FLOOD_SYNS = 20_000;
/** A spoofed source in the lab subnet that nobody owns: its SYN-ACKs go unanswered. */
const FLOOD_SOURCE = "192.0.2.77";

labTest(
  "TcpListener keeps serving curl during an hping3 SYN flood (SYN cookies)",
  async () => {
    await withTcpLab(
      PREFIX,
      { capturePackets: 60_000 },
      async ({ lab, stack, checkCapture }) => {
        const page = new TextEncoder().encode("still here\n");
        const listener = stack.listen({ port: 8080, backlog: 16 });
        const log = serveHttp(listener, page);
        const flood = lab.spawnInPeer([
          "hping3",
          "-q",
          "-S",
          "-p",
          "8080",
          "-a",
          FLOOD_SOURCE,
          "-i",
          "u100",
          "-c",
          String(FLOOD_SYNS),
          lab.stackAddress,
        ]);
        let done = false;
        flood.finished().then(() => done = true);
        // Let the flood fill the SYN queue first.
        await waitFor(() => stack.stats().tcp.synCookiesSent > 0, "SYN cookies");
        let fetched = 0;
        while (!done) {
          const curl = await lab.runInPeer([
            "curl",
            "-sS",
            "--max-time",
            "5",
            `http://${lab.stackAddress}:8080/`,
          ]);
          assert.equal(curl.code, 0, `curl during the flood: ${curl.stderr}`);
          assert.equal(curl.stdout, dec.decode(page));
          fetched++;
        }
        await flood.finished();
        const tcp = stack.stats().tcp;
        assert.ok(fetched >= 3, `only ${fetched} fetches ran during the flood`);
        assert.equal(log.requests.length, fetched);
        assert.ok(tcp.synCookiesSent > 1000, JSON.stringify(tcp));
        // The embryonic connections of the flood are bounded by the backlog.
        assert.ok(listener.engine.synQueueLength <= 16);
        listener.close();
        await checkCapture(FLOOD_SYNS / 2);
      },
    );
  },
  { commands: ["hping3", "curl", "tcpdump", "tshark"] },
);

/** Bytes the kernel client uploads through a cookie connection. */
const COOKIE_UPLOAD_BYTES = 8 << 20;

labTest(
  "A kernel client admitted by a SYN cookie keeps window scaling, SACK, timestamps and ECN",
  async () => {
    await withTcpLab(
      PREFIX,
      { capturePackets: 20_000 },
      async ({ lab, stack, dir, checkCapture }) => {
        const listener = stack.listen({ port: 8090, backlog: 1 });
        // One spoofed SYN fills the SYN queue (its SYN-ACK goes unanswered): the next SYN is
        // answered with a cookie.
        const syn = await lab.runInPeer([
          "hping3",
          "-q",
          "-S",
          "-p",
          "8090",
          "-a",
          FLOOD_SOURCE,
          "-c",
          "1",
          lab.stackAddress,
        ]);
        assert.ok(syn.code === 0 || syn.code === 1, syn.stderr); // 1: no reply (none expected)
        await waitFor(() => listener.engine.synQueueLength === 1, "the spoofed SYN queued");
        // The kernel asks for ECN in its SYN (RFC 3168 §6.1.1); the cookie keeps our answer.
        await lab.runInPeer(["sysctl", "-q", "-w", "net.ipv4.tcp_ecn=1"]);
        const file = `${dir}/cookie-up.bin`;
        const up = bulkData(COOKIE_UPLOAD_BYTES, 21);
        await Deno.writeFile(file, up);
        const client = lab.spawnInPeer([
          "socat",
          "-u",
          `OPEN:${file}`,
          `TCP:${lab.stackAddress}:8090`,
        ]);
        const conn = await listener.accept();
        assert.equal(stack.stats().tcp.synCookiesAccepted, 1);
        const info = conn.connection.info();
        assert.deepEqual(
          {
            windowScaling: info.windowScaling,
            sack: info.sack,
            timestamps: info.timestamps,
            ecn: info.ecn,
          },
          { windowScaling: true, sack: true, timestamps: true, ecn: true },
        );
        const got = await readToEnd(conn);
        assert.equal(await sha256Hex(got), await sha256Hex(up));
        conn.close();
        assert.equal((await client.finished()).code, 0);
        listener.close();
        await checkCapture(100);
      },
    );
  },
  { commands: ["hping3", "socat", "tcpdump", "tshark"] },
);
