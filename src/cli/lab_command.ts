/**
 * `rawstack lab up|down`: builds or removes the two network namespaces and
 * the veth pair the demo and the CLI use (see src/testing/lab.ts): rawstack
 * drives `rs0` in `<prefix>-<pid>-rs` (no kernel address there), the Linux
 * kernel answers on `pe0` 192.0.2.1/24 and 2001:db8:1::1/64 in `<prefix>-<pid>-pe`,
 * and, when dnsmasq is installed, sends router advertisements for
 * 2001:db8:1::/64 (SLAAC) from a dnsmasq that `lab down` stops.
 *
 * Permissions: root, `--allow-run` (ip, sysctl, ethtool), `--allow-read`, `--allow-sys`.
 *
 * @module
 */

import {
  createUserTap,
  deleteUserTap,
  findCommand,
  isRoot,
  Lab,
  LAB_PEER_ADDRESS,
  LAB_PEER_ADDRESS6,
  LAB_STACK_ADDRESS,
  LAB_STACK_ADDRESS6,
  LAB_STACK_IF,
  run,
} from "../testing/lab.ts";
import { type OptionSpec, stringOption, UsageError } from "./args.ts";
import { type Command, printLine } from "./command.ts";
import { DEFAULT_LAB_PREFIX } from "./network.ts";

/** The TAP device `rawstack lab up --tap USER` makes. */
export const DEFAULT_LAB_TAP = "rstap0";

const LAB_OPTIONS: Record<string, OptionSpec> = {
  prefix: {
    type: "string",
    value: "NAME",
    help: `namespace name prefix, 1-12 lowercase letters/digits (default ${DEFAULT_LAB_PREFIX})`,
  },
  tap: {
    type: "string",
    value: "USER",
    help: `up: instead of namespaces, a persistent TAP device USER may open without root ` +
      `(kernel side ${LAB_PEER_ADDRESS}/24)`,
  },
  "tap-name": {
    type: "string",
    value: "NAME",
    help: `name of that TAP device (default ${DEFAULT_LAB_TAP})`,
  },
  help: { type: "boolean", short: "h", help: "show this help" },
};

/** Where `lab up` leaves the pid of the dnsmasq sending router advertisements into `peerNetns`. */
function raPidFile(peerNetns: string): string {
  return `/run/rawstack-${peerNetns}-ra.pid`;
}

/** Stops the router-advertisement dnsmasq of a removed lab (by the pid it wrote). */
async function stopRouterAdvertisements(peerNetns: string): Promise<void> {
  const path = raPidFile(peerNetns);
  try {
    const pid = Number((await Deno.readTextFile(path)).trim());
    if (Number.isInteger(pid) && pid > 1) Deno.kill(pid, "SIGTERM");
  } catch {
    // No file (dnsmasq was missing) or the process is gone already.
  }
  await Deno.remove(path).catch(() => {});
}

async function labNamespaces(prefix: string): Promise<string[]> {
  const { stdout } = await run(["ip", "netns", "list"], { check: false });
  const pattern = new RegExp(`^${prefix}-\\d+-[a-z]+$`);
  return stdout.split("\n").map((l) => l.split(" ")[0]).filter((n) => pattern.test(n));
}

/**
 * `rawstack lab up|down`.
 *
 * @example
 * ```ts
 * import { labCommand } from "./lab_command.ts";
 * console.assert(labCommand.name === "lab" && labCommand.options.help !== undefined);
 * ```
 */
export const labCommand: Command = {
  name: "lab",
  usage: "rawstack lab up|down [--prefix NAME] [--tap USER [--tap-name NAME]]",
  brief: "build or remove the lab: namespaces and a veth pair to a kernel peer (root)",
  summary: "up: creates <prefix>-<pid>-rs (interface rs0 for rawstack, no kernel address,\n" +
    `IPv6 off) and <prefix>-<pid>-pe (the Linux kernel on pe0, ${LAB_PEER_ADDRESS}/24), linked by veth,\n` +
    "and prints the options to use. down: removes every lab of that prefix whose\n" +
    "creating process has exited (and the TAP device of --tap-name). Needs root.\n" +
    `up --tap USER: the one root step of running without root: a persistent TAP device\n` +
    `(${DEFAULT_LAB_TAP}) in this namespace owned by USER, up, the kernel on ${LAB_PEER_ADDRESS}/24;\n` +
    "USER then runs rawstack with --tap and only --allow-ffi --allow-read.",
  options: LAB_OPTIONS,
  maxPositionals: 1,
  footer:
    "Examples:\n  sudo rawstack lab up\n  sudo rawstack ping --lab 192.0.2.1\n  sudo rawstack lab down\n" +
    `  sudo rawstack lab up --tap $USER\n  rawstack ping --tap ${DEFAULT_LAB_TAP} 192.0.2.1`,
  async run({ values, positionals }) {
    const action = positionals[0];
    if (action !== "up" && action !== "down") {
      throw new UsageError(
        `expected "up" or "down", got ${action === undefined ? "nothing" : `"${action}"`}`,
      );
    }
    const prefix = stringOption(values.prefix) ?? DEFAULT_LAB_PREFIX;
    if (!/^[a-z][a-z0-9]{0,11}$/.test(prefix)) {
      throw new UsageError(`--prefix must be 1-12 lowercase letters/digits, got "${prefix}"`);
    }
    if (!isRoot()) {
      console.error(`rawstack lab: ${action} needs root (network namespaces): run it with sudo`);
      return 1;
    }
    const tapName = stringOption(values["tap-name"]) ?? DEFAULT_LAB_TAP;
    const tapUser = stringOption(values.tap);
    if (action === "down") {
      if (await deleteUserTap(tapName)) await printLine(`removed TAP device ${tapName}`);
      const before = await labNamespaces(prefix);
      await Lab.removeStale(prefix);
      const after = new Set(await labNamespaces(prefix));
      const removed = before.filter((n) => !after.has(n));
      for (const n of removed) if (n.endsWith("-pe")) await stopRouterAdvertisements(n);
      await printLine(
        removed.length === 0 ? `no lab with prefix ${prefix}` : `removed ${removed.join(" ")}`,
      );
      return 0;
    }
    if (tapUser !== undefined) {
      if (!/^[a-z_][a-z0-9_.-]*\$?$|^\d+$/i.test(tapUser)) {
        throw new UsageError(`--tap needs a user name or uid, got "${tapUser}"`);
      }
      const steps = await createUserTap({
        name: tapName,
        user: tapUser,
        address: `${LAB_PEER_ADDRESS}/24`,
      });
      await printLine([
        `lab up: TAP device ${tapName} for user ${tapUser}, the kernel on ${LAB_PEER_ADDRESS}/24`,
        "The one root step (what just ran):",
        ...steps.map((c) => `  sudo ${c}`),
        `As ${tapUser}, no root (--allow-ffi --allow-read, and --allow-write for --pcap):`,
        `  rawstack ping --tap ${tapName} --ip ${LAB_STACK_ADDRESS}/24 ${LAB_PEER_ADDRESS}`,
        `  TapDevice.open("${tapName}") in your own program`,
        "Remove it:",
        `  sudo rawstack lab down${tapName === DEFAULT_LAB_TAP ? "" : ` --tap-name ${tapName}`}`,
      ].join("\n"));
      return 0;
    }
    const lab = await Lab.create({ prefix, ipv6: true });
    let ra = "no router advertisements (install dnsmasq for SLAAC)";
    if (findCommand("dnsmasq") !== null) {
      // Daemonized (it outlives this command), its pid kept for `lab down`.
      const cmd = lab.routerAdvertisementCommand([`--pid-file=${raPidFile(lab.peerNetns)}`])
        .filter((a) => a !== "--keep-in-foreground" && a !== "--pid-file=");
      await run(["ip", "netns", "exec", lab.peerNetns, ...cmd]);
      ra = "router advertisements for 2001:db8:1::/64 (dnsmasq)";
    }
    const lines = [
      `lab up: rawstack side ${lab.stackNetns} (interface ${LAB_STACK_IF}, use address ${LAB_STACK_ADDRESS}/24)`,
      `        kernel peer  ${lab.peerNetns} (interface ${lab.peerIf}, ${LAB_PEER_ADDRESS}/24, ` +
      `${LAB_PEER_ADDRESS6}/64; ${ra})`,
      `        IPv6 for rawstack: ${LAB_STACK_ADDRESS6}/64 or SLAAC`,
      "",
      "Use it:",
      `  rawstack ping --lab ${LAB_PEER_ADDRESS}`,
      `  rawstack get --lab --pcap get.pcap http://${LAB_PEER_ADDRESS}:8000/`,
      `  (same as --iface ${LAB_STACK_IF} --netns ${lab.stackNetns} --ip ${LAB_STACK_ADDRESS}/24 ` +
      `--gateway ${LAB_PEER_ADDRESS} --dns ${LAB_PEER_ADDRESS})`,
      "A server in the kernel's namespace:",
      `  ip netns exec ${lab.peerNetns} python3 -m http.server --bind ${LAB_PEER_ADDRESS} 8000`,
      "Remove it:",
      prefix === DEFAULT_LAB_PREFIX
        ? "  rawstack lab down"
        : `  rawstack lab down --prefix ${prefix}`,
    ];
    await printLine(lines.join("\n"));
    return 0;
  },
};
