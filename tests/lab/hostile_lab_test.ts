// Issue 16 in the lab: while a third namespace floods rawstack with SYNs and echo requests from
// random sources (`hping3 --flood --rand-source`), kernel curl downloads from a rawstack listener
// complete byte-exact.
import assert from "node:assert/strict";
import { labTest } from "../../src/testing/lab.ts";
import { pattern, withLabStack } from "./_helpers.ts";
import { fileSha256, serveHttp, sha256Hex } from "./_tcp_lab_helpers.ts";

const PREFIX = "rshost";
const PORT = 8080;
const DOWNLOAD_BYTES = 4 * 1024 * 1024;
const DOWNLOADS = 3;
/**
 * How long one download may take. Under the two floods about half of every frame offered to
 * rawstack's ring is dropped by the kernel before rawstack sees it (`ringDrops` ≈ `rxFrames`
 * in four runs), the download's ACKs among them; downloads took 2–50 s, and once (CI, a loaded
 * moment) one stalled in retransmission backoff past 60 s. Liveness and byte-exactness are what
 * this test asserts, not speed.
 */
const CURL_MAX_SECONDS = 150;
/** Floods sent before the downloads start, so they run under load from the first byte. */
const FLOOD_WARMUP_PACKETS = 1000;
/** Frames the capture keeps (the floods make far more; the first ones are checked). */
const CAPTURE_PACKETS = 4000;
/**
 * The replies to the floods' forged sources reach the kernel router and must go no further: its
 * namespace drops whatever is not for the lab's documentation ranges.
 */
const CONTAIN_RULES = `table inet rshost_contain {
  chain forward { type filter hook forward priority 0; ip daddr != { 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 } drop; }
  chain output { type filter hook output priority 0; ip daddr != { 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 } drop; }
}
`;

labTest(
  "TcpListener serves kernel curl downloads during hping3 SYN and ICMP floods from random sources",
  async () => {
    await withLabStack(
      PREFIX,
      {
        router: true,
        capture: { count: CAPTURE_PACKETS, check: { tcpPayloadAsData: true } },
      },
      async ({ lab, stack, checkCapture }) => {
        const far = lab.farNetns!;
        const rules = await Deno.makeTempFile({ prefix: "rshost-", suffix: ".nft" });
        const dir = await Deno.makeTempDir({ prefix: "rshost-" });
        try {
          await Deno.writeTextFile(rules, CONTAIN_RULES);
          await lab.runInPeer(["nft", "-f", rules]);
          const body = pattern(DOWNLOAD_BYTES, 16);
          const want = await sha256Hex(body);
          const listener = stack.listen({ port: PORT });
          const log = serveHttp(listener, body);
          const floods = [
            lab.spawnIn(far, [
              "hping3",
              "--flood",
              "--rand-source",
              "-q",
              "-S",
              "-p",
              String(PORT),
              lab.stackAddress,
            ]),
            lab.spawnIn(far, ["hping3", "--flood", "--rand-source", "-q", "-1", lab.stackAddress]),
          ];
          try {
            await until(
              () => stack.stats().ipv4.rxPackets > FLOOD_WARMUP_PACKETS,
              "the floods to arrive",
            );
            for (let i = 0; i < DOWNLOADS; i++) {
              const file = `${dir}/download-${i}`;
              const curl = await lab.runInPeer([
                "curl",
                "-sS",
                "--max-time",
                String(CURL_MAX_SECONDS),
                "-o",
                file,
                `http://${lab.stackAddress}:${PORT}/`,
              ]);
              assert.equal(curl.code, 0, `curl during the floods: ${curl.stderr}`);
              assert.equal(await fileSha256(file), want, `download ${i} is byte-exact`);
            }
          } finally {
            for (const f of floods) await f.kill();
          }
          const s = stack.stats();
          assert.equal(log.requests.length, DOWNLOADS);
          // The floods were seen: SYNs from forged sources filled the SYN queue into cookies,
          // and echo requests arrived by the thousand.
          assert.ok(s.tcp.synCookiesSent + s.tcp.listenOverflows > 0, JSON.stringify(s.tcp));
          assert.ok(s.icmp.rxEchoRequests > FLOOD_WARMUP_PACKETS / 2, JSON.stringify(s.icmp));
          listener.close();
          await checkCapture(DOWNLOADS);
        } finally {
          await Deno.remove(rules);
          await Deno.remove(dir, { recursive: true });
        }
      },
    );
  },
  { commands: ["hping3", "curl", "nft", "tcpdump", "tshark"], sanitizeResources: false },
);

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
