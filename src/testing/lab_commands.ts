/**
 * The outside programs of lab tests, benchmarks and the demo (the lab itself
 * is `lab.ts`, which re-exports all of this): whether this process may run
 * them (root, each program on PATH with its Debian package named when not),
 * lab tests that skip — or fail under `RAWSTACK_LAB=required` — without them
 * and refuse to start a program they did not declare, running a command
 * ({@link run}), a background process ({@link LabProcess}) and a `tcpdump`
 * capture ({@link startCapture}).
 *
 * Permissions: `--allow-run`, `--allow-read`, `--allow-env`, `--allow-sys` (uid).
 *
 * @module
 */

const REQUIRED_ENV = "RAWSTACK_LAB";
const TCPDUMP_READY_TIMEOUT_MS = 5000;

/**
 * Whether this process runs as root (uid 0). False when the uid cannot be read.
 *
 * Permissions: `--allow-sys` (uid).
 *
 * @returns true for root
 *
 * @example
 * ```ts
 * import { isRoot } from "./lab_commands.ts";
 * console.assert(typeof isRoot() === "boolean");
 * ```
 */
export function isRoot(): boolean {
  try {
    return Deno.uid() === 0;
  } catch {
    return false;
  }
}

/**
 * Finds an executable on PATH, the way `Deno.Command` will look for it: a
 * program that is not on PATH is reported missing even when it exists
 * elsewhere, because running it by name would fail.
 *
 * Permissions: `--allow-env` (PATH), `--allow-read`.
 *
 * @param command e.g. `"ip"`
 * @returns its path, or null
 *
 * @example
 * ```ts
 * import { findCommand } from "./lab_commands.ts";
 * console.assert(findCommand("surely-not-a-command-xyz") === null);
 * ```
 */
export function findCommand(command: string): string | null {
  let path = "";
  try {
    path = Deno.env.get("PATH") ?? "";
  } catch {
    return null; // no env permission: Deno.Command could not search PATH either
  }
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    try {
      const info = Deno.statSync(`${dir}/${command}`);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return `${dir}/${command}`;
    } catch {
      // not there, or no read permission
    }
  }
  return null;
}

/**
 * The Debian package that provides each outside program the lab, the tests
 * and the benchmarks run, for the line that says what to install.
 */
export const DEBIAN_PACKAGES: Readonly<Record<string, string>> = {
  ip: "iproute2",
  ss: "iproute2",
  nstat: "iproute2",
  sysctl: "procps",
  ethtool: "ethtool",
  tcpdump: "tcpdump",
  tshark: "tshark",
  ping: "iputils-ping",
  curl: "curl",
  socat: "socat",
  dnsmasq: "dnsmasq",
  hping3: "hping3",
  nft: "nftables",
  iperf3: "iperf3",
  chromium: "chromium",
  python3: "python3",
  openssl: "openssl",
  wrk: "wrk",
  traceroute: "traceroute",
  setpriv: "util-linux",
};

/**
 * Programs every lab runs (`Lab.create`: namespaces and veth with
 * `ip`, IPv6 off with `sysctl`, the peer's offloads off with `ethtool`), and
 * `ss`, which comes with `ip` (iproute2) and which tests use to wait for a
 * kernel listener.
 */
export const LAB_BASE_COMMANDS: readonly string[] = ["ip", "ss", "sysctl", "ethtool"];

/**
 * Says which of `commands` are not on PATH, each with the Debian package that
 * provides it.
 *
 * Permissions: `--allow-env` (PATH), `--allow-read`.
 *
 * @param commands program names
 * @returns e.g. "needs `tshark` (Debian package tshark)", or null when all are there
 *
 * @example
 * ```ts
 * import { missingCommandsReason } from "./lab_commands.ts";
 * const reason = missingCommandsReason(["surely-not-a-command-xyz"]);
 * console.assert(reason === "needs `surely-not-a-command-xyz`");
 * ```
 */
export function missingCommandsReason(commands: readonly string[]): string | null {
  const missing = [...new Set(commands)].filter((c) => findCommand(c) === null);
  if (missing.length === 0) return null;
  const named = missing.map((c) => {
    const pkg = DEBIAN_PACKAGES[c];
    return pkg === undefined ? `\`${c}\`` : `\`${c}\` (Debian package ${pkg})`;
  });
  return `needs ${named.join(", ")}`;
}

/**
 * Why lab tests cannot run here, or null when they can: root, then every
 * program of {@link LAB_BASE_COMMANDS} and `commands`.
 *
 * @param commands executables the test needs besides the lab's own
 * @param base also require {@link LAB_BASE_COMMANDS} (default true)
 * @returns a human-readable reason naming each missing program and its Debian package, or null
 *
 * @example
 * ```ts
 * import { labUnavailableReason } from "./lab_commands.ts";
 * const reason = labUnavailableReason(["surely-not-a-command-xyz"]);
 * console.assert(reason !== null);
 * ```
 */
export function labUnavailableReason(
  commands: readonly string[] = [],
  base = true,
): string | null {
  if (!isRoot()) return "needs root (network namespaces, AF_PACKET)";
  return missingCommandsReason(base ? [...LAB_BASE_COMMANDS, ...commands] : commands);
}

/** Whether the environment asks for lab tests to fail instead of skipping (`RAWSTACK_LAB=required`). */
export function labRequired(): boolean {
  try {
    return Deno.env.get(REQUIRED_ENV) === "required";
  } catch {
    return false;
  }
}

/**
 * Registers a test that runs only when an outside program (or root) is
 * there. When something is missing the test is registered as ignored with
 * the reason in its name — "name (skipped: needs `tshark` (Debian package
 * tshark))", the one line `deno test --quiet` still prints; with
 * `RAWSTACK_LAB=required` it fails with that reason instead.
 *
 * @param name test name
 * @param reason why it cannot run, or null when it can
 * @param fn the test
 * @param sanitizers passed to Deno.test
 *
 * @example
 * ```ts ignore
 * import { missingCommandsReason, testWhen } from "./lab_commands.ts";
 * testWhen("tshark prints its version", missingCommandsReason(["tshark"]), async () => {
 *   await new Deno.Command("tshark", { args: ["--version"], stdout: "null" }).output();
 * });
 * ```
 */
export function testWhen(
  name: string,
  reason: string | null,
  fn: (t: Deno.TestContext) => void | Promise<void>,
  sanitizers: Pick<Deno.TestDefinition, "sanitizeOps" | "sanitizeResources" | "sanitizeExit"> = {},
): void {
  if (reason === null) {
    Deno.test({ name, fn, ...sanitizers });
  } else if (labRequired()) {
    Deno.test({
      name,
      fn() {
        throw new Error(`cannot run (${REQUIRED_ENV}=required): ${reason}`);
      },
    });
  } else {
    Deno.test({ name: `${name} (skipped: ${reason})`, ignore: true, fn() {} });
  }
}

/** Options of {@link labTest}. */
export interface LabTestOptions {
  /** Executables needed besides the lab's own {@link LAB_BASE_COMMANDS} (e.g. `["ping", "socat"]`). */
  commands?: string[];
  /**
   * The test builds a `Lab` (default true) and so needs
   * {@link LAB_BASE_COMMANDS}; false for a test that needs only root and `commands`.
   */
  lab?: boolean;
  /** Passed to Deno.test. */
  sanitizeOps?: boolean;
  /** Passed to Deno.test. */
  sanitizeResources?: boolean;
  /** Passed to Deno.test. */
  sanitizeExit?: boolean;
}

/**
 * Registers a lab test: a `Deno.test` that runs only as root with the lab's
 * programs ({@link LAB_BASE_COMMANDS}) and `opts.commands` on PATH.
 * Otherwise it is registered as ignored, with the reason — each missing
 * program and its Debian package — in its name, so `deno task test` prints
 * one line per skipped test; when the environment has `RAWSTACK_LAB=required`
 * it fails with that reason instead (see {@link testWhen}).
 *
 * @param name test name ("`Symbol` behaviour")
 * @param fn the test
 * @param opts needed commands, sanitizers
 *
 * @example
 * ```ts ignore
 * import { Lab, labTest } from "./lab.ts";
 * labTest("AfPacketDevice opens the lab interface", async () => {
 *   const lab = await Lab.create({ prefix: "rsph" });
 *   try { (await lab.openDevice()).close(); } finally { await lab.destroy(); }
 * });
 * ```
 */
export function labTest(
  name: string,
  fn: (t: Deno.TestContext) => void | Promise<void>,
  opts: LabTestOptions = {},
): void {
  const lab = opts.lab ?? true;
  const declared = new Set([...(lab ? LAB_BASE_COMMANDS : []), ...(opts.commands ?? [])]);
  const guarded = async (t: Deno.TestContext) => {
    declaredCommands = declared;
    try {
      await fn(t);
    } finally {
      declaredCommands = null;
    }
  };
  testWhen(name, labUnavailableReason(opts.commands ?? [], lab), guarded, {
    sanitizeOps: opts.sanitizeOps,
    sanitizeResources: opts.sanitizeResources,
    sanitizeExit: opts.sanitizeExit,
  });
}

/** The programs the running lab test declared, or null outside a lab test. */
let declaredCommands: ReadonlySet<string> | null = null;

/**
 * Fails a running {@link labTest} that starts an outside program (one of
 * {@link DEBIAN_PACKAGES}) it did not list in its `commands`: on a machine
 * without that program the test would fail instead of skipping. Outside a lab
 * test (benchmarks, the demo, the CLI) it does nothing. {@link run},
 * `Lab.runIn`, `Lab.spawnIn` and {@link startCapture} call it;
 * helpers that start programs themselves (the tests' tshark decoder) call it
 * too.
 *
 * @param program the program's name or path
 *
 * @example
 * ```ts
 * import { assertCommandDeclared } from "./lab_commands.ts";
 * assertCommandDeclared("tshark"); // outside a lab test: nothing to check
 * ```
 */
export function assertCommandDeclared(program: string): void {
  const name = program.slice(program.lastIndexOf("/") + 1);
  if (declaredCommands === null || !(name in DEBIAN_PACKAGES) || declaredCommands.has(name)) {
    return;
  }
  throw new Error(
    `this lab test runs \`${name}\` but does not list it in labTest's commands, ` +
      "so a machine without it would fail the test instead of skipping it",
  );
}

/** The program a command line starts: the inner one of `ip netns exec NS program …`. */
function programOf(cmd: readonly string[]): string {
  return cmd[0] === "ip" && cmd[1] === "netns" && cmd[2] === "exec" && cmd.length > 4
    ? cmd[4]
    : cmd[0];
}

/** Result of a finished command. */
export interface CommandResult {
  /** Exit code. */
  code: number;
  /** Standard output, decoded. */
  stdout: string;
  /** Standard error, decoded. */
  stderr: string;
}

const decoder = new TextDecoder();

/**
 * One group of the kernel's counter tables (`/proc/net/snmp`, `/proc/net/netstat`): a line of
 * names after `group:` and a line of values after it, read into a map (empty when the group
 * is missing).
 *
 * @param text the file's contents
 * @param group the group's name, e.g. "Tcp", "Udp", "TcpExt"
 * @returns the counters by name
 *
 * @example
 * ```ts
 * import { procNetCounters } from "./lab_commands.ts";
 * const udp = procNetCounters("Udp: InDatagrams NoPorts\nUdp: 12 3\n", "Udp");
 * console.assert(udp.get("InDatagrams") === 12 && udp.get("NoPorts") === 3);
 * ```
 */
export function procNetCounters(text: string, group: string): Map<string, number> {
  const lines = text.split("\n").filter((l) => l.startsWith(`${group}:`));
  const names = lines[0]?.split(/\s+/).slice(1) ?? [];
  const values = lines[1]?.split(/\s+/).slice(1).map(Number) ?? [];
  return new Map(names.map((n, i) => [n, values[i]]));
}

/**
 * Runs a command to completion.
 *
 * Permissions: `--allow-run`.
 *
 * @param cmd program and arguments
 * @param opts `check` (default true): throw when the exit code is not 0
 * @returns exit code and output
 *
 * @example
 * ```ts ignore
 * import { run } from "./lab_commands.ts";
 * const { stdout } = await run(["ip", "netns", "list"]);
 * ```
 */
export async function run(cmd: string[], opts: { check?: boolean } = {}): Promise<CommandResult> {
  assertCommandDeclared(programOf(cmd));
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const result = {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
  if ((opts.check ?? true) && out.code !== 0) {
    throw new Error(`\`${cmd.join(" ")}\` exited with ${out.code}: ${result.stderr.trim()}`);
  }
  return result;
}

/**
 * A background process started in a lab namespace (see `Lab.spawnInPeer`).
 * Needs `--allow-run` and root.
 *
 * @example
 * ```ts ignore
 * import { isRoot, Lab } from "./lab.ts";
 * if (isRoot()) {
 *   const lab = await Lab.create({ prefix: "rsdoc" });
 *   try {
 *     const proc = lab.spawnInPeer(["sleep", "30"]);
 *     await proc.kill();
 *   } finally {
 *     await lab.destroy();
 *   }
 * }
 * ```
 */
export class LabProcess {
  #child: Deno.ChildProcess;
  #result: Promise<CommandResult>;
  #done = false;

  /**
   * Creates an instance.
   *
   * @param child the spawned process
   * @param result resolves with its exit code and output; default: `child.output()`
   *   (stdout and stderr must then be piped)
   */
  constructor(child: Deno.ChildProcess, result?: Promise<CommandResult>) {
    this.#child = child;
    this.#result = (result ??
      child.output().then((out) => ({
        code: out.code,
        stdout: decoder.decode(out.stdout),
        stderr: decoder.decode(out.stderr),
      }))).finally(() => {
        this.#done = true;
      });
  }

  /** The operating system pid. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Resolves when the process exits on its own, with its output. */
  finished(): Promise<CommandResult> {
    return this.#result;
  }

  /**
   * Stops the process (SIGTERM unless it already exited) and collects its output.
   *
   * @param signal the signal to send, default SIGTERM
   * @returns exit code and output
   */
  async kill(signal: Deno.Signal = "SIGTERM"): Promise<CommandResult> {
    if (!this.#done) {
      try {
        this.#child.kill(signal);
      } catch {
        // already exited
      }
    }
    return await this.#result;
  }
}

/** Options of {@link startCapture}: where to listen, and an optional packet bound. */
export interface CaptureOptions {
  /** Namespace to capture in. */
  netns: string;
  /** Interface inside `netns`. */
  iface: string;
  /** Stop after this many packets (`tcpdump -c`); default: until stopped. */
  count?: number;
}

/**
 * A running `tcpdump` (see {@link startCapture}). Its result's `stderr` holds
 * everything tcpdump printed (e.g. "N packets captured").
 *
 * @example
 * ```ts ignore
 * import { isRoot, Lab } from "./lab.ts";
 * if (isRoot()) {
 *   const lab = await Lab.create({ prefix: "rsdoc" });
 *   const path = await Deno.makeTempFile({ suffix: ".pcap" });
 *   try {
 *     const cap = await lab.capture(path);
 *     await lab.runInPeer(["ping", "-c", "1", "-W", "1", "192.0.2.2"]);
 *     await cap.stop();
 *   } finally {
 *     await lab.destroy();
 *     await Deno.remove(path);
 *   }
 * }
 * ```
 */
export class CaptureProcess extends LabProcess {
  /** The pcap file tcpdump writes. */
  readonly path: string;

  /**
   * Creates an instance (use {@link startCapture} or `Lab.capture`).
   *
   * @param child the spawned tcpdump
   * @param result resolves with its exit code and stderr
   * @param path the pcap file it writes
   */
  constructor(child: Deno.ChildProcess, result: Promise<CommandResult>, path: string) {
    super(child, result);
    this.path = path;
  }

  /**
   * Stops tcpdump with SIGINT (it flushes and closes the file) unless it
   * already exited (`count` reached), and waits for it. Idempotent.
   *
   * @returns exit code and stderr
   */
  stop(): Promise<CommandResult> {
    return this.kill("SIGINT");
  }
}

/**
 * Starts `tcpdump -i <iface>` inside a namespace writing a pcap file and
 * resolves once it listens ("listening on" on stderr), so no early frame is
 * missed. It runs with `--immediate-mode` (without it, frames still in
 * libpcap's TPACKET_V3 block when tcpdump stops are lost) and `-U` (the file
 * is flushed per packet). stderr is drained until exit so tcpdump never
 * blocks on it. Throws (after killing it) when tcpdump does not start within
 * 5 s.
 *
 * Permissions: `--allow-run`; root; needs `tcpdump`.
 *
 * @param path the pcap file to write
 * @param opts namespace, interface, optional packet count
 * @returns the running capture; call `stop()` when done
 *
 * @example
 * ```ts ignore
 * import { startCapture } from "./lab_commands.ts";
 * const cap = await startCapture("/tmp/x.pcap", { netns: "rsfc-1-pe", iface: "pe0" });
 * await cap.stop();
 * ```
 */
export async function startCapture(path: string, opts: CaptureOptions): Promise<CaptureProcess> {
  assertCommandDeclared("tcpdump");
  const args = [
    "netns",
    "exec",
    opts.netns,
    "tcpdump",
    "--immediate-mode",
    "-i",
    opts.iface,
    "-Z",
    "root",
    "-U",
    "-n",
  ];
  if (opts.count !== undefined) {
    if (!Number.isInteger(opts.count) || opts.count < 1) {
      throw new RangeError(`capture count must be a positive integer, got ${opts.count}`);
    }
    args.push("-c", String(opts.count));
  }
  args.push("-w", path);
  const child = new Deno.Command("ip", {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.getReader();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), TCPDUMP_READY_TIMEOUT_MS);
  });
  try {
    while (!text.includes("listening on")) {
      const chunk = await Promise.race([reader.read(), timeout]);
      if (chunk === null || chunk.done) break;
      text += decoder.decode(chunk.value);
    }
  } finally {
    clearTimeout(timer);
  }
  const drain = async (): Promise<string> => {
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return rest;
      rest += decoder.decode(value);
    }
  };
  const head = text;
  const result = Promise.all([child.status, drain().catch(() => "")]).then((
    [status, rest],
  ) => ({ code: status.code, stdout: "", stderr: head + rest }));
  const p = new CaptureProcess(child, result, path);
  if (!head.includes("listening on")) {
    await p.kill("SIGKILL");
    throw new Error(`tcpdump did not start in ${opts.netns} on ${opts.iface}: ${head.trim()}`);
  }
  return p;
}
