/**
 * The lab: real Linux kernel peers on one machine, for tests, the demo and
 * benchmarks (DESIGN.md "The lab").
 *
 * Topology built by {@link Lab.create} (names carry the prefix and Deno.pid):
 *
 * ```
 *  netns <prefix>-<pid>-rs          netns <prefix>-<pid>-pe              netns <prefix>-<pid>-far
 *  rs0 (no IPv4, IPv6 off)  ═veth═  pe0 192.0.2.1/24                     (only with router: true)
 *  ← rawstack drives this           pe1 198.51.100.1/24  ═veth═  far0 198.51.100.2/24
 *                                   ip_forward=1 (router: true)          default via 198.51.100.1
 * ```
 *
 * How rawstack reaches `rs0` from the root namespace: an AF_PACKET socket
 * belongs to the network namespace of the thread that creates it, and Deno's
 * JavaScript thread lives in the root namespace. {@link Lab.openDevice} passes
 * `netns` to `AfPacketDevice.open`, which `setns()`es the JavaScript thread
 * into the rawstack namespace just long enough to create the socket (via FFI)
 * and switches back. So no lab interface ever appears in the root namespace,
 * and the kernel owning `rs0` has no IPv4 address and IPv6 disabled (set with
 * sysctl in that namespace *before* the link is created and brought up): it
 * never answers in rawstack's place. The peer namespace disables IPv6 too, so
 * captures contain only the traffic a test makes. The peer's TX checksum and
 * segmentation offloads are turned off (`ethtool -K pe0 tx off tso off gso
 * off`) unless `peerOffloads: true`; so are those of rawstack's end (`rs0`):
 * rawstack's device sends 64 KiB GSO frames with partial checksums by default
 * (PACKET_VNET_HDR), and with `rs0`'s offloads off the kernel cuts them and
 * fills in their checksums before the wire, so the peer sees (and captures)
 * ordinary 1514-byte frames with valid checksums both ways.
 *
 * Stale namespaces with the same prefix from a crashed earlier run (a pid
 * that no longer exists) are removed first; {@link Lab.destroy} always
 * removes everything (call it in `finally`).
 *
 * Permissions: `--allow-run` (ip, ethtool, sysctl, tcpdump), `--allow-read`,
 * `--allow-env`, `--allow-ffi` for devices, `--allow-sys` (uid); root.
 *
 * @module
 */

import { AfPacketDevice, type AfPacketOptions } from "../phy/af_packet.ts";

/** Address the kernel peer has on the rawstack link. */
export const LAB_PEER_ADDRESS = "192.0.2.1";
/** Address tests give rawstack on the lab link (the kernel side does not own it). */
export const LAB_STACK_ADDRESS = "192.0.2.2";
/** Prefix length of the lab link. */
export const LAB_PREFIX_LENGTH = 24;
/** The kernel router's address on the far link. */
export const LAB_ROUTER_FAR_ADDRESS = "198.51.100.1";
/** The far host's address (behind the router). */
export const LAB_FAR_ADDRESS = "198.51.100.2";
/** Interface rawstack drives (inside the rawstack namespace). */
export const LAB_STACK_IF = "rs0";
/** Kernel peer's interface on the rawstack link. */
export const LAB_PEER_IF = "pe0";
/** Kernel router's interface toward the far host. */
export const LAB_ROUTER_FAR_IF = "pe1";
/** Far host's interface. */
export const LAB_FAR_IF = "far0";
/** IFLA_GSO_IPV4_MAX_SIZE (include/uapi/linux/if_link.h). */
const IFLA_GSO_IPV4_MAX_SIZE = 63;
/**
 * python3: sets link attribute argv[2] (u32) of interface argv[1] to argv[3] with one
 * RTM_NEWLINK request (NLM_F_REQUEST | NLM_F_ACK); exits 1 when the kernel refuses.
 */
const SET_LINK_U32_PY = `
import socket, struct, sys
idx = socket.if_nametoindex(sys.argv[1])
body = struct.pack("BxHiII", 0, 0, idx, 0, 0) + struct.pack("HHI", 8, int(sys.argv[2]), int(sys.argv[3]))
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
s.send(struct.pack("IHHII", 16 + len(body), 16, 5, 1, 0) + body)
sys.exit(0 if struct.unpack_from("i", s.recv(4096), 16)[0] == 0 else 1)
`;
/** The kernel peer's IPv6 address on the rawstack link (with `ipv6`; RFC 3849 documentation prefix). */
export const LAB_PEER_ADDRESS6 = "2001:db8:1::1";
/** The static IPv6 address tests give rawstack. */
export const LAB_STACK_ADDRESS6 = "2001:db8:1::2";
/** Prefix length of the IPv6 lab link (the prefix router advertisements carry). */
export const LAB_PREFIX_LENGTH6 = 64;
/** The kernel router's IPv6 address on the far link. */
export const LAB_ROUTER_FAR_ADDRESS6 = "2001:db8:2::1";
/** The far host's IPv6 address. */
export const LAB_FAR_ADDRESS6 = "2001:db8:2::2";
/** Router lifetime (s) of the lab's router advertisements. */
const LAB_RA_ROUTER_LIFETIME_S = 1800;
/** Interval (s) of the lab's unsolicited router advertisements (dnsmasq answers solicitations at once). */
const LAB_RA_INTERVAL_S = 10;

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
 * import { isRoot } from "./lab.ts";
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
 * import { findCommand } from "./lab.ts";
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
 * Programs every lab runs ({@link Lab.create}: namespaces and veth with
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
 * import { missingCommandsReason } from "./lab.ts";
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
 * import { labUnavailableReason } from "./lab.ts";
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
 * import { missingCommandsReason, testWhen } from "./lab.ts";
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
   * The test builds a {@link Lab} (default true) and so needs
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
 * {@link Lab.runIn}, {@link Lab.spawnIn} and {@link startCapture} call it;
 * helpers that start programs themselves (the tests' tshark decoder) call it
 * too.
 *
 * @param program the program's name or path
 *
 * @example
 * ```ts
 * import { assertCommandDeclared } from "./lab.ts";
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
 * import { run } from "./lab.ts";
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
 * A background process started in a lab namespace (see {@link Lab.spawnInPeer}).
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

/** Options of {@link Lab.capture}. */
export interface LabCaptureOptions {
  /** Stop after this many packets (`tcpdump -c`); default: until stopped. */
  count?: number;
  /** Namespace to capture in; default: the kernel peer's. */
  netns?: string;
  /** Interface to capture on; default: the kernel peer's lab interface. */
  iface?: string;
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
   * Creates an instance (use {@link startCapture} or {@link Lab.capture}).
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
 * import { startCapture } from "./lab.ts";
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

/** Options of {@link Lab.create}. */
export interface LabOptions {
  /** Distinct prefix of the helper/test (e.g. `"rsph"`); names become `<prefix>-<pid>-<role>`. */
  prefix: string;
  /** Add a far namespace behind the kernel peer acting as a router (198.51.100.0/24). */
  router?: boolean;
  /** Leave the TX checksum/TSO/GSO offloads of the kernel peer and of `rs0` on (default: off). */
  peerOffloads?: boolean;
  /** MTU of the rawstack link (both ends); default 1500. */
  mtu?: number;
  /**
   * IPv6 on the kernel side (issue 18): the peer gets {@link LAB_PEER_ADDRESS6}/64
   * (no DAD, no RA accepted); with `router`, the far link is 2001:db8:2::/64 and
   * the peer forwards IPv6. rawstack's interface keeps IPv6 off in its namespace,
   * so the kernel there stays silent. Router advertisements: {@link Lab.startRouterAdvertisements}.
   */
  ipv6?: boolean;
  /** MTU of the far link (with `router`), e.g. 1280 for path MTU discovery tests. */
  farMtu?: number;
}

function pidAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * A built lab; see the module documentation. Always `await lab.destroy()` in
 * `finally`. Needs root (namespaces, veth, AF_PACKET), `--allow-run` and
 * `--allow-ffi`.
 *
 * @example
 * ```ts ignore
 * import { isRoot, Lab } from "./lab.ts";
 * if (isRoot()) {
 *   const lab = await Lab.create({ prefix: "rsdoc" });
 *   try {
 *     const ping = await lab.runInPeer(["ping", "-c", "1", "-W", "1", lab.peerAddress]);
 *     console.assert(ping.code === 0);
 *   } finally {
 *     await lab.destroy();
 *   }
 * }
 * ```
 */
export class Lab {
  /** Namespace of the interface rawstack drives. */
  readonly stackNetns: string;
  /** Namespace of the kernel peer (and router). */
  readonly peerNetns: string;
  /** Namespace of the far host, or null without `router`. */
  readonly farNetns: string | null;
  /** Interface rawstack drives, inside {@link Lab.stackNetns}. */
  readonly stackIf: string = LAB_STACK_IF;
  /** Kernel peer's interface, inside {@link Lab.peerNetns}. */
  readonly peerIf: string = LAB_PEER_IF;
  /** Kernel peer's IPv4 address. */
  readonly peerAddress: string = LAB_PEER_ADDRESS;
  /** The address rawstack should use. */
  readonly stackAddress: string = LAB_STACK_ADDRESS;
  /** Prefix length of the rawstack link. */
  readonly prefixLength: number = LAB_PREFIX_LENGTH;
  /** The far host's address (with `router`). */
  readonly farAddress: string = LAB_FAR_ADDRESS;

  #processes = new Set<LabProcess>();
  #devices = new Set<AfPacketDevice>();
  #destroyed = false;

  private constructor(prefix: string, router: boolean) {
    const base = `${prefix}-${Deno.pid}`;
    this.stackNetns = `${base}-rs`;
    this.peerNetns = `${base}-pe`;
    this.farNetns = router ? `${base}-far` : null;
  }

  /**
   * Builds the namespaces and links. Removes stale namespaces of this prefix first.
   *
   * Permissions: root, `--allow-run`, `--allow-read`.
   *
   * @param opts prefix, router, peer offloads, MTU
   * @returns the lab
   */
  static async create(opts: LabOptions): Promise<Lab> {
    if (!/^[a-z][a-z0-9]{0,11}$/.test(opts.prefix)) {
      throw new Error(`lab prefix must be 1..12 lowercase letters/digits, got "${opts.prefix}"`);
    }
    const unavailable = labUnavailableReason();
    if (unavailable !== null) throw new Error(`the lab cannot be built here: it ${unavailable}`);
    await Lab.removeStale(opts.prefix);
    const lab = new Lab(opts.prefix, opts.router ?? false);
    try {
      await lab.#build(opts);
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  /**
   * Deletes namespaces named `<prefix>-<pid>-*` whose process no longer exists.
   *
   * @param prefix the lab prefix
   */
  static async removeStale(prefix: string): Promise<void> {
    const { stdout } = await run(["ip", "netns", "list"], { check: false });
    const pattern = new RegExp(`^${prefix}-(\\d+)-[a-z]+$`);
    for (const line of stdout.split("\n")) {
      const name = line.split(" ")[0];
      const m = pattern.exec(name);
      if (m !== null && (Number(m[1]) === Deno.pid || !pidAlive(Number(m[1])))) {
        await run(["ip", "netns", "del", name], { check: false });
      }
    }
  }

  async #build(opts: LabOptions): Promise<void> {
    const mtu = String(opts.mtu ?? 1500);
    const rs = this.stackNetns;
    const pe = this.peerNetns;
    for (const ns of [rs, pe]) {
      await run(["ip", "netns", "add", ns]);
      // Before any link exists or comes up: no IPv6 chatter (MLD, DAD, RS) from the kernel.
      await this.runIn(ns, ["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"]);
      await this.runIn(ns, ["sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"]);
    }
    await run([
      "ip",
      "link",
      "add",
      LAB_STACK_IF,
      "netns",
      rs,
      "mtu",
      mtu,
      "type",
      "veth",
      "peer",
      "name",
      LAB_PEER_IF,
      "netns",
      pe,
      "mtu",
      mtu,
    ]); // prettier-ignore
    await run([
      "ip",
      "-n",
      pe,
      "addr",
      "add",
      `${LAB_PEER_ADDRESS}/${LAB_PREFIX_LENGTH}`,
      "dev",
      LAB_PEER_IF,
    ]);
    if (!opts.peerOffloads) {
      await this.runIn(pe, ["ethtool", "-K", LAB_PEER_IF, "tx", "off", "tso", "off", "gso", "off"]);
      await this.runIn(rs, [
        "ethtool",
        "-K",
        LAB_STACK_IF,
        "tx",
        "off",
        "tso",
        "off",
        "gso",
        "off",
      ]);
    }
    await run(["ip", "-n", pe, "link", "set", "lo", "up"]);
    await run(["ip", "-n", rs, "link", "set", LAB_STACK_IF, "up"]);
    await run(["ip", "-n", pe, "link", "set", LAB_PEER_IF, "up"]);
    const far = this.farNetns;
    if (far !== null) {
      await run(["ip", "netns", "add", far]);
      await this.runIn(far, ["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"]);
      await this.runIn(far, ["sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"]);
      await run([
        "ip",
        "link",
        "add",
        LAB_ROUTER_FAR_IF,
        "netns",
        pe,
        "type",
        "veth",
        "peer",
        "name",
        LAB_FAR_IF,
        "netns",
        far,
      ]); // prettier-ignore
      await run([
        "ip",
        "-n",
        pe,
        "addr",
        "add",
        `${LAB_ROUTER_FAR_ADDRESS}/24`,
        "dev",
        LAB_ROUTER_FAR_IF,
      ]);
      await run(["ip", "-n", far, "addr", "add", `${LAB_FAR_ADDRESS}/24`, "dev", LAB_FAR_IF]);
      if (!opts.peerOffloads) {
        await this.runIn(pe, [
          "ethtool",
          "-K",
          LAB_ROUTER_FAR_IF,
          "tx",
          "off",
          "tso",
          "off",
          "gso",
          "off",
        ]);
        await this.runIn(far, [
          "ethtool",
          "-K",
          LAB_FAR_IF,
          "tx",
          "off",
          "tso",
          "off",
          "gso",
          "off",
        ]);
      }
      await run(["ip", "-n", pe, "link", "set", LAB_ROUTER_FAR_IF, "up"]);
      await run(["ip", "-n", far, "link", "set", "lo", "up"]);
      await run(["ip", "-n", far, "link", "set", LAB_FAR_IF, "up"]);
      await run(["ip", "-n", far, "route", "add", "default", "via", LAB_ROUTER_FAR_ADDRESS]);
      await this.runIn(pe, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
      // The router must not send ICMP redirects to rawstack for on-link next hops.
      await this.runIn(pe, ["sysctl", "-q", "-w", "net.ipv4.conf.all.send_redirects=0"]);
      if (opts.farMtu !== undefined) {
        await run(["ip", "-n", pe, "link", "set", LAB_ROUTER_FAR_IF, "mtu", String(opts.farMtu)]);
        await run(["ip", "-n", far, "link", "set", LAB_FAR_IF, "mtu", String(opts.farMtu)]);
      }
    }
    if (opts.ipv6) await this.#buildIpv6(far);
  }

  /** IPv6 on the peer's interfaces only (and the far host's), addresses without DAD. */
  async #buildIpv6(far: string | null): Promise<void> {
    const pe = this.peerNetns;
    const enable = async (ns: string, ifName: string, address: string) => {
      await this.runIn(ns, ["sysctl", "-q", "-w", `net.ipv6.conf.${ifName}.accept_dad=0`]);
      await this.runIn(ns, ["sysctl", "-q", "-w", `net.ipv6.conf.${ifName}.accept_ra=0`]);
      await this.runIn(ns, ["sysctl", "-q", "-w", `net.ipv6.conf.${ifName}.disable_ipv6=0`]);
      await run(["ip", "-n", ns, "-6", "addr", "add", address, "dev", ifName, "nodad"]);
    };
    await this.runIn(pe, ["sysctl", "-q", "-w", "net.ipv6.conf.lo.disable_ipv6=0"]);
    await enable(pe, LAB_PEER_IF, `${LAB_PEER_ADDRESS6}/${LAB_PREFIX_LENGTH6}`);
    if (far !== null) {
      await this.runIn(pe, ["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"]);
      await enable(pe, LAB_ROUTER_FAR_IF, `${LAB_ROUTER_FAR_ADDRESS6}/64`);
      await this.runIn(far, ["sysctl", "-q", "-w", "net.ipv6.conf.lo.disable_ipv6=0"]);
      await enable(far, LAB_FAR_IF, `${LAB_FAR_ADDRESS6}/64`);
      await run(["ip", "-n", far, "-6", "route", "add", "default", "via", LAB_ROUTER_FAR_ADDRESS6]);
    }
  }

  /**
   * The dnsmasq command that sends router advertisements on the peer's lab
   * interface (needs `ipv6`): prefix 2001:db8:1::/64 with the A and L flags
   * (SLAAC, `ra-only`), router lifetime 1800 s, every 10 s and in answer to
   * solicitations; no DNS, no DHCP.
   *
   * @param extra more dnsmasq arguments (e.g. `--daemon`-related ones)
   * @returns program and arguments
   */
  routerAdvertisementCommand(extra: string[] = []): string[] {
    return [
      "dnsmasq",
      "--keep-in-foreground",
      "--conf-file=/dev/null",
      "--no-resolv",
      "--no-hosts",
      "--pid-file=",
      "--port=0",
      "--leasefile-ro",
      "--bind-interfaces",
      `--interface=${LAB_PEER_IF}`,
      "--enable-ra",
      `--dhcp-range=::,constructor:${LAB_PEER_IF},ra-only,${LAB_PREFIX_LENGTH6},1h`,
      `--ra-param=${LAB_PEER_IF},${LAB_RA_INTERVAL_S},${LAB_RA_ROUTER_LIFETIME_S}`,
      ...extra,
    ];
  }

  /**
   * Starts router advertisements from the kernel peer (dnsmasq, see
   * {@link routerAdvertisementCommand}); {@link Lab.destroy} stops them.
   *
   * Permissions: `--allow-run`; needs `dnsmasq` (declare it in the test's `commands`).
   *
   * @returns the dnsmasq process
   */
  startRouterAdvertisements(): LabProcess {
    return this.spawnInPeer(this.routerAdvertisementCommand());
  }

  /**
   * Runs a command inside a namespace of this lab and waits for it.
   *
   * @param netns namespace name (e.g. `lab.peerNetns`)
   * @param cmd program and arguments
   * @param opts `check` (default true): throw on a non-zero exit code
   * @returns exit code and output
   */
  runIn(netns: string, cmd: string[], opts: { check?: boolean } = {}): Promise<CommandResult> {
    return run(["ip", "netns", "exec", netns, ...cmd], opts);
  }

  /**
   * Runs a command in the kernel peer's namespace and waits for it (does not
   * throw on a non-zero exit code: check `code`).
   *
   * @param cmd program and arguments, e.g. `["ping", "-c", "3", "192.0.2.2"]`
   * @returns exit code and output
   */
  runInPeer(cmd: string[]): Promise<CommandResult> {
    return this.runIn(this.peerNetns, cmd, { check: false });
  }

  /**
   * Runs a command in the far namespace (needs `router: true`); does not throw on failure.
   *
   * @param cmd program and arguments
   * @returns exit code and output
   */
  runInFar(cmd: string[]): Promise<CommandResult> {
    if (this.farNetns === null) throw new Error("this lab has no far namespace (router: false)");
    return this.runIn(this.farNetns, cmd, { check: false });
  }

  /**
   * Starts a background process in a namespace; {@link Lab.destroy} kills it if still running.
   *
   * @param netns namespace name
   * @param cmd program and arguments
   * @returns a handle with `kill()` and `finished()`
   */
  spawnIn(netns: string, cmd: string[]): LabProcess {
    assertCommandDeclared(cmd[0]);
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", netns, ...cmd],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const p = new LabProcess(child);
    this.#processes.add(p);
    return p;
  }

  /**
   * Starts a background process in the kernel peer's namespace.
   *
   * @param cmd program and arguments, e.g. `["socat", ...]`
   * @returns a handle with `kill()` and `finished()`
   */
  spawnInPeer(cmd: string[]): LabProcess {
    return this.spawnIn(this.peerNetns, cmd);
  }

  /**
   * Starts a background process in the far namespace (needs `router: true`).
   *
   * @param cmd program and arguments
   * @returns a handle with `kill()` and `finished()`
   */
  spawnInFar(cmd: string[]): LabProcess {
    if (this.farNetns === null) throw new Error("this lab has no far namespace (router: false)");
    return this.spawnIn(this.farNetns, cmd);
  }

  /**
   * Opens the AF_PACKET device on rawstack's interface (from inside its
   * namespace, see the module documentation). {@link Lab.destroy} closes it.
   *
   * Permissions: root, `--allow-ffi`.
   *
   * @param opts driver options (mode, ring size, spin)
   * @returns the open device
   */
  async openDevice(opts: Omit<AfPacketOptions, "netns"> = {}): Promise<AfPacketDevice> {
    const dev = await AfPacketDevice.open(LAB_STACK_IF, { ...opts, netns: this.stackNetns });
    this.#devices.add(dev);
    return dev;
  }

  /**
   * Gives the kernel side a permanent neighbour entry (`nud permanent`) for
   * rawstack's address with the MAC of rawstack's interface, so it sends
   * there without asking ARP (benchmarks and driver tests with no stack to
   * answer). The lab's namespaces, and the entry with them, go on destroy.
   *
   * Permissions: `--allow-run` (`ip`).
   *
   * @returns the MAC pinned, `aa:bb:cc:dd:ee:ff`
   */
  async pinStackNeighbour(): Promise<string> {
    const address = ["cat", `/sys/class/net/${this.stackIf}/address`];
    const mac = (await this.runIn(this.stackNetns, address, { check: true })).stdout.trim();
    await this.runIn(this.peerNetns, [
      "ip",
      "neigh",
      "replace",
      this.stackAddress,
      "lladdr",
      mac,
      "dev",
      this.peerIf,
      "nud",
      "permanent",
    ], { check: true });
    return mac;
  }

  /**
   * Linux BIG TCP on the kernel peer's sending side: its lab interface's
   * `gso_max_size` (IPv6) and `gso_ipv4_max_size` (IPv4, Linux 6.3+) set to
   * `bytes`, so its TCP builds TSO frames that large (with `peerOffloads`)
   * and hands them to rawstack's end whole. The IPv4 attribute goes by one
   * rtnetlink request from `python3` (iproute2 before 6.3 cannot name it).
   *
   * Permissions: `--allow-run` (`ip`, `python3`).
   *
   * @param bytes largest TSO frame (IP packet), up to 524280 (GSO_MAX_SIZE on 6.x: more is refused)
   * @param ifName the peer namespace's interface (default {@link Lab.peerIf}; e.g.
   *   {@link LAB_ROUTER_FAR_IF} for a kernel→kernel reference toward the far namespace)
   */
  async setPeerGsoMaxSize(bytes: number, ifName: string = this.peerIf): Promise<void> {
    const size = String(bytes);
    await this.runIn(this.peerNetns, ["ip", "link", "set", ifName, "gso_max_size", size], {
      check: true,
    });
    await this.runIn(this.peerNetns, [
      "python3",
      "-c",
      SET_LINK_U32_PY,
      ifName,
      String(IFLA_GSO_IPV4_MAX_SIZE),
      size,
    ], { check: true });
  }

  /**
   * Starts `tcpdump` writing a pcap file, by default on the kernel peer's lab
   * interface, and resolves once it is capturing (see {@link startCapture}).
   * Stop it with `stop()` (or `kill()`); {@link Lab.destroy} stops it too.
   *
   * Permissions: `--allow-run`; needs `tcpdump`.
   *
   * @param path the pcap file to write
   * @param opts `count` (stop after that many packets), `netns`/`iface`
   *   (default: {@link Lab.peerNetns} / {@link Lab.peerIf})
   * @returns the running capture
   */
  async capture(path: string, opts: LabCaptureOptions = {}): Promise<CaptureProcess> {
    const p = await startCapture(path, {
      ...opts,
      netns: opts.netns ?? this.peerNetns,
      iface: opts.iface ?? this.peerIf,
    });
    this.#processes.add(p);
    return p;
  }

  /**
   * Kills spawned processes, closes opened devices and deletes the namespaces
   * (and with them the veth links). Safe to call twice.
   */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const p of this.#processes) await p.kill();
    this.#processes.clear();
    for (const d of this.#devices) d.close();
    this.#devices.clear();
    for (const ns of [this.farNetns, this.peerNetns, this.stackNetns]) {
      if (ns !== null) await run(["ip", "netns", "del", ns], { check: false });
    }
  }
}

/** Options of {@link createUserTap}. */
export interface UserTapOptions {
  /** Interface name, e.g. `"rstap0"`. */
  name: string;
  /** The user (name or uid) who may open it without root. */
  user: string;
  /** `"tap"` (default) or `"tun"`. */
  mode?: "tap" | "tun";
  /** Namespace to create it in (default: the current one). */
  netns?: string;
  /** The kernel side's address, e.g. `"192.0.2.1/24"` (default: none). */
  address?: string;
}

/**
 * The one root step of a TAP/TUN device without root: a persistent device
 * owned by `user` (`ip tuntap add dev NAME mode tap user USER`), its IPv6 off
 * (no kernel chatter), brought up, with the kernel side's address. The user
 * then opens it with `TapDevice.open(name)` / `TunDevice.open(name)` and only
 * `--allow-ffi --allow-read`.
 *
 * Permissions: root, `--allow-run`.
 *
 * @param opts name, user, mode, namespace, address
 * @returns the shell commands it ran (to show the user)
 *
 * @example
 * ```ts ignore
 * import { createUserTap } from "./lab.ts";
 * await createUserTap({ name: "rstap0", user: "alice", address: "192.0.2.1/24" });
 * ```
 */
export async function createUserTap(opts: UserTapOptions): Promise<string[]> {
  const mode = opts.mode ?? "tap";
  const ns = opts.netns === undefined ? [] : ["-n", opts.netns];
  const steps: string[][] = [
    ["ip", ...ns, "tuntap", "add", "dev", opts.name, "mode", mode, "user", opts.user],
  ];
  const sysctl = [
    "sysctl",
    "-q",
    "-w",
    `net.ipv6.conf.${opts.name}.disable_ipv6=1`,
  ];
  steps.push(
    opts.netns === undefined ? sysctl : ["ip", "netns", "exec", opts.netns, ...sysctl],
  );
  if (opts.address !== undefined) {
    steps.push(["ip", ...ns, "addr", "add", opts.address, "dev", opts.name]);
  }
  steps.push(["ip", ...ns, "link", "set", opts.name, "up"]);
  for (const cmd of steps) await run(cmd);
  return steps.map((c) => c.join(" "));
}

/**
 * Removes a device made by {@link createUserTap} (no error when it is gone).
 *
 * @param name interface name
 * @param mode `"tap"` or `"tun"`
 * @param netns its namespace (default: the current one)
 * @returns whether a device was removed
 */
export async function deleteUserTap(
  name: string,
  mode: "tap" | "tun" = "tap",
  netns?: string,
): Promise<boolean> {
  const ns = netns === undefined ? [] : ["-n", netns];
  const r = await run(["ip", ...ns, "tuntap", "del", "dev", name, "mode", mode], { check: false });
  return r.code === 0 && !/cannot|failed/i.test(r.stderr);
}
