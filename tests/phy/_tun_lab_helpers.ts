/**
 * What the TUN/TAP lab tests (tun_tap_lab_test.ts, tun6_lab_test.ts, cli_tap_lab_test.ts)
 * share: a child process read line by line (`_tun_serve.ts`'s protocol), Deno run as an
 * unprivileged user, and the TCP bulk both ways through socat in the test's namespace, each
 * direction checked by SHA-256.
 */
import assert from "node:assert/strict";
import { run } from "../../src/testing/lab.ts";
import { bytesOf } from "../seeded_random.ts";
import { sha256Hex } from "../lab/_tcp_lab_helpers.ts";

const decoder = new TextDecoder();

/** Reads a child's stdout line by line. */
export class Lines {
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

/**
 * The command prefix that runs a Deno script as `user` (`setpriv`, the user's groups) with
 * only FFI and read permissions — what an unprivileged TAP/TUN user needs — and `denoDir`
 * (writable by that user) as its DENO_DIR and HOME.
 *
 * @param user the user name
 * @param denoDir a folder the user can write
 * @returns the arguments before the script's path
 */
export async function denoAsUser(user: string, denoDir: string): Promise<string[]> {
  const gid = (await run(["id", "-g", user])).stdout.trim();
  return [
    "setpriv",
    `--reuid=${user}`,
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
  ];
}

/** A child process (`_tun_tap_child.ts`, `_tun6_child.ts`) and its output. */
export class LabChild {
  readonly process: Deno.ChildProcess;
  readonly lines: Lines;
  readonly #errText: Promise<string>;

  /** Starts `args` (the first is the program) with stdout and stderr piped. */
  constructor(args: string[]) {
    this.process = new Deno.Command(args[0], {
      args: args.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#errText = new Response(this.process.stderr).text();
    this.lines = new Lines(this.process.stdout);
  }

  /** Waits for its `ready` line (its stderr in the error when it ended first). */
  async ready(): Promise<void> {
    await this.lines.next("ready").catch(async (e) => {
      throw new Error(`${e.message}; stderr: ${await this.#errText}`);
    });
  }

  /** The JSON of its `stats` line. */
  // deno-lint-ignore no-explicit-any
  async stats(): Promise<any> {
    return JSON.parse((await this.lines.next("stats ")).slice("stats ".length));
  }

  /** Waits for its `done` line and a clean exit. */
  async done(): Promise<void> {
    await this.lines.next("done");
    const status = await this.process.status;
    assert.equal(status.code, 0, await this.#errText);
  }

  /** Kills it if it still runs and waits for its end (for `finally`). */
  async kill(): Promise<void> {
    try {
      this.process.kill("SIGKILL");
    } catch { /* exited */ }
    await this.process.status;
  }
}

/**
 * TCP bulk, kernel → rawstack (socat to port 5001, the child reports `rx <sha256> <n>`) and
 * rawstack → kernel (socat from port 5002 into a file), at once, each checked by SHA-256.
 *
 * @param child the child serving both ports
 * @param inNs the command prefix that runs a program in the test's namespace
 * @param work a scratch folder
 * @param socatTo the socat address of rawstack without the port (`TCP:a.b.c.d`, `TCP6:[x::y]`)
 * @param bytes bytes each way
 */
export async function bulkBothWays(
  child: LabChild,
  inNs: (cmd: string[]) => string[],
  work: string,
  socatTo: string,
  bytes: number,
): Promise<void> {
  const upload = bytesOf(bytes, 1);
  const inPath = `${work}/in.bin`;
  const outPath = `${work}/out.bin`;
  await Deno.writeFile(inPath, upload);
  const [sent, got] = await Promise.all([
    run(inNs(["socat", "-u", `FILE:${inPath}`, `${socatTo}:5001`]), { check: false }),
    run(inNs(["socat", "-u", `${socatTo}:5002`, `CREATE:${outPath}`]), { check: false }),
  ]);
  assert.equal(sent.code, 0, sent.stderr);
  assert.equal(got.code, 0, got.stderr);
  const rx = (await child.lines.next("rx ")).split(" ");
  assert.equal(rx[1], await sha256Hex(upload), "kernel → rawstack bytes intact");
  assert.equal(Number(rx[2]), bytes);
  const download = await Deno.readFile(outPath);
  assert.equal(download.length, bytes);
  assert.equal(await sha256Hex(download), await sha256Hex(bytesOf(bytes, 2)));
}
