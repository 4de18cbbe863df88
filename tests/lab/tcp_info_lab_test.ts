/**
 * Loss-recovery counters of `conn.info()` (Linux TCP_INFO's tcpi_sacked, tcpi_lost,
 * tcpi_retrans, tcpi_total_retrans, tcpi_ca_state) against a Linux receiver, beside the
 * kernel's own sender under the same rule: the lab's router drops every transmission of
 * one data segment (an nftables match on its sequence number) until the test lifts the
 * rule. While the hole persists the sender holds SACKed data above it and counts the
 * segment lost; once it is repaired everything arrives, the retransmissions and the
 * recovery episode are counted, and the scoreboard counters are back to zero.
 */
import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import type { Lab } from "../../src/testing/lab.ts";
import { addKernelBesideStack, KERNEL_BESIDE_ADDRESS } from "../../src/testing/loss_lab.ts";
import type { TcpInfo } from "../../src/tcp/connection.ts";
import { tsharkFieldRows } from "../wire/_tshark.ts";
import { until, withLabStack } from "./_helpers.ts";
import {
  bulkData,
  kernelSinkCommand,
  sha256Hex,
  sinkResult,
  writeAllChunked,
} from "./_tcp_lab_helpers.ts";
import { LAB_PEER_ADDRESS, LAB_STACK_ADDRESS } from "../../src/testing/lab.ts";

const PREFIX = "rstinfo";
const RAWSTACK_PORT = 5024;
const KERNEL_PORT = 5025;
/** Bytes each sender sends. */
const BYTES = 512 * 1024;
/** The dropped segment: this many full segments after the first data byte. */
const HOLE_SEGMENT = 20;
/** Transmissions of the hole dropped before the test inspects the sender (original + a retransmission). */
const DROPS_BEFORE_INSPECTION = 2;
/** nftables table of the test, in the router (peer) namespace. */
const NFT_TABLE = "rstinfo";
/** TCP sequence numbers are 32-bit. */
const SEQ_MOD = 2 ** 32;
/** Longest the test waits for the router's drops or a kernel listener, ms. */
const WAIT_MS = 10_000;

/** Sleeps `ms` (polling pace only; nothing is asserted on time). */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Drops, in the router's forward path, every segment from `saddr` to `dport` whose
 * sequence number falls in the hole segment `[holeSeq, holeSeq + mss)`.
 */
async function installHoleDrop(
  lab: Lab,
  dir: string,
  saddr: string,
  dport: number,
  holeSeq: number,
  mss: number,
): Promise<void> {
  await clearRules(lab);
  const last = holeSeq + mss - 1;
  // A range wrapping past 2^32 cannot be written as one; the segment's first byte suffices.
  const seq = last < SEQ_MOD ? `${holeSeq}-${last}` : `${holeSeq}`;
  const rules = `table inet ${NFT_TABLE} {
  chain fw {
    type filter hook forward priority 0; policy accept;
    ip saddr ${saddr} tcp dport ${dport} tcp sequence ${seq} counter drop
  }
}
`;
  const file = `${dir}/hole.nft`;
  await Deno.writeTextFile(file, rules);
  const r = await lab.runInPeer(["nft", "-f", file]);
  if (r.code !== 0) throw new Error(`nft: ${r.stderr.trim()}`);
}

async function clearRules(lab: Lab): Promise<void> {
  await lab.runInPeer(["nft", "delete", "table", "inet", NFT_TABLE]);
}

/** Packets the hole rule dropped so far. */
async function dropped(lab: Lab): Promise<number> {
  const r = await lab.runInPeer(["nft", "list", "table", "inet", NFT_TABLE]);
  return Number(/counter packets (\d+)/.exec(r.stdout)?.[1] ?? 0);
}

async function waitFor(cond: () => Promise<boolean>, what: string): Promise<void> {
  const end = performance.now() + WAIT_MS;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function farListening(lab: Lab, port: number): Promise<void> {
  await waitFor(async () => {
    const r = await lab.runInFar(["ss", "-Hltn", `sport = :${port}`]);
    return r.stdout.includes(`:${port}`);
  }, `a listener on port ${port} in the far namespace`);
}

/** The first data byte's sequence number of the hole segment. */
function holeSeqOf(iss: number, mss: number): number {
  return (iss + 1 + HOLE_SEGMENT * mss) % SEQ_MOD;
}

/** A number `name:N` from `ss -ti` output (ss leaves zero counters out: 0 then). */
function ssCounter(text: string, name: string): number {
  return Number(new RegExp(`(?<!\\w)${name}:(\\d+)`).exec(text)?.[1] ?? 0);
}

/**
 * Kernel sender (beside rawstack): connect, wait for the trigger file, send the file, shut
 * down, wait for the receiver's close; print its TCP_INFO then: tcpi_ca_state, tcpi_sacked,
 * tcpi_lost, tcpi_retrans, tcpi_reordering, tcpi_total_retrans (struct tcp_info offsets
 * 1, 28, 32, 36, 88, 100).
 */
const PY_KERNEL_SENDER = `
import os, socket, struct, sys, time
host, port, path, trigger = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.create_connection((host, port))
while not os.path.exists(trigger):
    time.sleep(0.01)
with open(path, "rb") as f:
    s.sendfile(f)
s.shutdown(socket.SHUT_WR)
while s.recv(1 << 16):
    pass
i = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
print(i[1], *struct.unpack_from("=III", i, 28), *struct.unpack_from("=I", i, 88), *struct.unpack_from("=I", i, 100))
s.close()
`;

/** Linux TCP_CA_Recovery and TCP_CA_Loss (tcpi_ca_state). */
const LINUX_CA_RECOVERY = 3;
const LINUX_CA_LOSS = 4;

labTest(
  "tcpi counters with a Linux receiver: a persistent hole shows as SACKed and lost segments, its repair as retransmits and a recovery; the kernel's sender alike",
  async () => {
    const capture = {
      count: 5000,
      check: {
        tcpPayloadAsData: true,
        acceptFfffChecksumFrom: [LAB_PEER_ADDRESS, LAB_STACK_ADDRESS, KERNEL_BESIDE_ADDRESS],
      },
    };
    const dir = await Deno.makeTempDir({ prefix: `${PREFIX}-` });
    try {
      await withLabStack(PREFIX, { router: true, capture }, async (ls) => {
        const { lab, stack } = ls;
        const data = bulkData(BYTES, 24);
        const digest = await sha256Hex(data);

        // rawstack sends.
        const sink = lab.spawnInFar(kernelSinkCommand(RAWSTACK_PORT));
        await farListening(lab, RAWSTACK_PORT);
        const conn = await stack.connect({ hostname: lab.farAddress, port: RAWSTACK_PORT });
        const { iss, sndMss } = conn.info();
        await installHoleDrop(
          lab,
          dir,
          lab.stackAddress,
          RAWSTACK_PORT,
          holeSeqOf(iss, sndMss),
          sndMss,
        );
        const writing = writeAllChunked(conn, data).then(() => conn.closeWrite());
        await waitFor(
          async () => (await dropped(lab)) >= DROPS_BEFORE_INSPECTION,
          "the hole's retransmission dropped",
        );
        const during: TcpInfo = conn.info();
        assert.ok(during.sackedSegments > 0, `SACKed above the hole: ${summary(during)}`);
        assert.ok(during.lostSegments >= 1, `the hole counts lost: ${summary(during)}`);
        assert.ok(during.retransmits >= 1, `retransmitted: ${summary(during)}`);
        assert.ok(
          during.caState === "recovery" || during.caState === "loss",
          `in recovery or loss: ${summary(during)}`,
        );
        await clearRules(lab);
        await writing;
        const got = sinkResult(await sink.finished());
        assert.equal(got.bytes, BYTES);
        assert.equal(got.sha256, digest, "intact");
        // The receiver's last ACK may still be on its way to rawstack when the sink exits.
        await until(() => conn.info().bytesOut === BYTES, "everything acknowledged", WAIT_MS);
        const after: TcpInfo = conn.info();
        conn.close();
        assert.ok(
          after.retransmits >= DROPS_BEFORE_INSPECTION,
          `each dropped transmission was resent: ${summary(after)}`,
        );
        assert.ok(after.recoveries >= 1, `a recovery episode: ${summary(after)}`);
        assert.equal(after.sackedSegments, 0, summary(after));
        assert.equal(after.lostSegments, 0, summary(after));
        assert.equal(after.retransOutSegments, 0, summary(after));
        assert.equal(after.caState, "open", summary(after));

        // The kernel sends, beside rawstack, under the same rule.
        await addKernelBesideStack(lab);
        const file = `${dir}/data.bin`;
        await Deno.writeFile(file, data);
        const trigger = `${dir}/go`;
        const ksink = lab.spawnInFar(kernelSinkCommand(KERNEL_PORT));
        await farListening(lab, KERNEL_PORT);
        const sender = lab.spawnIn(lab.stackNetns, [
          "python3",
          "-c",
          PY_KERNEL_SENDER,
          lab.farAddress,
          String(KERNEL_PORT),
          file,
          trigger,
        ]);
        let kernelIss = -1;
        await waitFor(async () => {
          // tcpdump writes the capture a packet at a time (-U): the SYN is readable now.
          const rows = await tsharkFieldRows(ls.capturePath, ["tcp.seq_raw"], {
            filter: `ip.src == ${KERNEL_BESIDE_ADDRESS} && tcp.flags.syn == 1 && ` +
              `tcp.dstport == ${KERNEL_PORT}`,
          }).catch(() => []);
          if (rows.length > 0) kernelIss = Number(rows[0][0]);
          return kernelIss >= 0;
        }, "the kernel sender's SYN in the capture");
        const kernelMss = sndMss; // the same path and MTU: 1500 less headers and timestamps
        await installHoleDrop(
          lab,
          dir,
          KERNEL_BESIDE_ADDRESS,
          KERNEL_PORT,
          holeSeqOf(kernelIss, kernelMss),
          kernelMss,
        );
        await Deno.writeTextFile(trigger, "");
        await waitFor(
          async () => (await dropped(lab)) >= DROPS_BEFORE_INSPECTION,
          "the kernel's retransmission of the hole dropped",
        );
        const ss = (await lab.runIn(lab.stackNetns, [
          "ss",
          "-Htin",
          `( dport = :${KERNEL_PORT} )`,
        ])).stdout;
        await clearRules(lab);
        const out = await sender.finished();
        assert.equal(out.code, 0, `kernel sender: ${out.stderr}`);
        const kgot = sinkResult(await ksink.finished());
        assert.equal(kgot.bytes, BYTES);
        assert.equal(kgot.sha256, digest);
        const [caState, sacked, lost, retransOut, reordering, totalRetrans] = out.stdout.trim()
          .split(" ").map(Number);
        console.log(
          `hole of one segment, ${DROPS_BEFORE_INSPECTION} transmissions dropped:\n` +
            `  rawstack during: ${summary(during)}\n` +
            `  kernel during (ss -ti): sacked ${ssCounter(ss, "sacked")} lost ${
              ssCounter(ss, "lost")
            } ${/(?<!\w)retrans:\S+/.exec(ss)?.[0] ?? "retrans:0"}\n` +
            `  rawstack after: ${summary(after)}\n` +
            `  kernel after: ca_state ${caState} sacked ${sacked} lost ${lost} retrans ${retransOut} ` +
            `reordering ${reordering} total_retrans ${totalRetrans}`,
        );
        // Where the two are comparable: the same hole shows the same way in both.
        assert.ok(ssCounter(ss, "sacked") > 0, `the kernel holds SACKed data too:\n${ss}`);
        assert.ok(ssCounter(ss, "lost") >= 1, `the kernel counts the hole lost too:\n${ss}`);
        const ssRetrans = /(?<!\w)retrans:\d+\/(\d+)/.exec(ss);
        assert.ok(Number(ssRetrans?.[1] ?? 0) >= 1, `the kernel had retransmitted too:\n${ss}`);
        assert.ok(totalRetrans >= DROPS_BEFORE_INSPECTION, "the kernel resent each drop too");
        assert.deepEqual([sacked, lost, retransOut], [0, 0, 0], "the kernel's scoreboard is empty");
        assert.ok(caState !== LINUX_CA_RECOVERY && caState !== LINUX_CA_LOSS);
        assert.equal(after.reordering, reordering, "the same reordering degree");

        await ls.checkCapture(100);
      });
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
  { commands: ["nft", "python3", "tcpdump", "tshark"] },
);

/** The recovery figures of an info() snapshot, for messages. */
function summary(i: TcpInfo): string {
  return `ca_state ${i.caState} sacked ${i.sackedSegments} lost ${i.lostSegments} ` +
    `retrans ${i.retransOutSegments} reordering ${i.reordering} retransmits ${i.retransmits} ` +
    `recoveries ${i.recoveries} rack_losses ${i.rackLosses} timeouts ${i.timeouts}`;
}
