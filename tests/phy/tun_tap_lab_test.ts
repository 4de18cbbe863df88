/**
 * TAP and TUN without root: a test namespace holds a persistent device that
 * root made for an unprivileged user (`nobody`); rawstack runs as that user
 * (`setpriv`) in a child `deno run --allow-ffi --allow-read`, and the kernel
 * on the device's other side pings it and moves TCP bulk each way, checked
 * by SHA-256.
 */
import assert from "node:assert/strict";
import { labTest, run } from "../../src/testing/lab.ts";
import { createUserTap, deleteUserTap } from "../../src/testing/lab.ts";
import { bytesOf } from "../seeded_random.ts";
import { sha256Hex } from "../lab/_tcp_lab_helpers.ts";

const USER = "nobody";
const BULK_BYTES = 4 * 1024 * 1024;
const KERNEL = "192.0.2.1";
const STACK = "192.0.2.2";
const CHILD = new URL("./_tun_tap_child.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

/** Reads a child's stdout line by line. */
class Lines {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffer = "";
  readonly seen: string[] = [];
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }
  /** The next line starting with `prefix` (earlier lines are kept in `seen`). */
  async next(prefix: string): Promise<string> {
    for (;;) {
      const nl = this.#buffer.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buffer.slice(0, nl);
        this.#buffer = this.#buffer.slice(nl + 1);
        this.seen.push(line);
        if (line.startsWith(prefix)) return line;
        continue;
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new Error(`child ended before "${prefix}": ${this.seen.join(" | ")}`);
      this.#buffer += decoder.decode(value, { stream: true });
    }
  }
}

async function tunTapRound(kind: "tap" | "tun", vnet: boolean): Promise<void> {
  const ns = `rstap-${Deno.pid}-${kind}`;
  await run(["ip", "netns", "del", ns], { check: false });
  await run(["ip", "netns", "add", ns]);
  const denoDir = await Deno.makeTempDir({ prefix: "rstap-deno-" });
  const work = await Deno.makeTempDir({ prefix: "rstap-data-" });
  await Deno.chmod(denoDir, 0o777);
  let child: Deno.ChildProcess | null = null;
  try {
    await run([
      "ip",
      "netns",
      "exec",
      ns,
      "sysctl",
      "-q",
      "-w",
      "net.ipv6.conf.all.disable_ipv6=1",
    ]);
    await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
    const name = `rs${kind}0`;
    await createUserTap({ name, user: USER, mode: kind, netns: ns, address: `${KERNEL}/24` });
    const gid = (await run(["id", "-g", USER])).stdout.trim();
    child = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        ns,
        "setpriv",
        `--reuid=${USER}`,
        `--regid=${gid}`,
        "--init-groups",
        "env",
        `DENO_DIR=${denoDir}`,
        `HOME=${denoDir}`,
        Deno.execPath(),
        "run",
        "--no-lock",
        "--allow-ffi",
        "--allow-read",
        CHILD,
        kind,
        name,
        `${STACK}/24`,
        String(BULK_BYTES),
        vnet ? "vnet" : "plain",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const errText = new Response(child.stderr).text();
    const lines = new Lines(child.stdout);
    await lines.next("ready").catch(async (e) => {
      throw new Error(`${e.message}; stderr: ${await errText}`);
    });
    // The kernel pings rawstack, which runs as an unprivileged user.
    const ping = await run(
      ["ip", "netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", STACK],
      { check: false },
    );
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    assert.match(ping.stdout, / 0% packet loss/);
    // TCP bulk, kernel → rawstack and rawstack → kernel, each checked by SHA-256.
    const upload = bytesOf(BULK_BYTES, 1);
    const inPath = `${work}/in.bin`;
    const outPath = `${work}/out.bin`;
    await Deno.writeFile(inPath, upload);
    const [sent, got] = await Promise.all([
      run(["ip", "netns", "exec", ns, "socat", "-u", `FILE:${inPath}`, `TCP:${STACK}:5001`], {
        check: false,
      }),
      run(["ip", "netns", "exec", ns, "socat", "-u", `TCP:${STACK}:5002`, `CREATE:${outPath}`], {
        check: false,
      }),
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(got.code, 0, got.stderr);
    const rx = (await lines.next("rx ")).split(" ");
    assert.equal(rx[1], await sha256Hex(upload), "kernel → rawstack bytes intact");
    assert.equal(Number(rx[2]), BULK_BYTES);
    const download = await Deno.readFile(outPath);
    assert.equal(download.length, BULK_BYTES);
    assert.equal(await sha256Hex(download), await sha256Hex(bytesOf(BULK_BYTES, 2)));
    const stats = JSON.parse((await lines.next("stats ")).slice("stats ".length));
    if (vnet) assert.ok(stats.rxSuperFrames + stats.txSuperFrames > 0, JSON.stringify(stats));
    await lines.next("done");
    const status = await child.status;
    assert.equal(status.code, 0, await errText);
    child = null;
  } finally {
    if (child !== null) {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
    }
    await deleteUserTap(`rs${kind}0`, kind, ns);
    await run(["ip", "netns", "del", ns], { check: false });
    await Deno.remove(denoDir, { recursive: true });
    await Deno.remove(work, { recursive: true });
  }
}

labTest("TapDevice behaviour: an unprivileged user's tap, kernel ping and TCP bulk", async () => {
  await tunTapRound("tap", false);
}, { lab: false, commands: ["ip", "sysctl", "setpriv", "ping", "socat"] });

labTest("TapDevice behaviour: with virtio_net_hdr offloads (checksum, TSO)", async () => {
  await tunTapRound("tap", true);
}, { lab: false, commands: ["ip", "sysctl", "setpriv", "ping", "socat"] });

labTest("TunDevice behaviour: the stack over bare IP, kernel ping and TCP bulk", async () => {
  await tunTapRound("tun", false);
}, { lab: false, commands: ["ip", "sysctl", "setpriv", "ping", "socat"] });
