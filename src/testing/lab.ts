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
import {
  assertCommandDeclared,
  type CaptureProcess,
  type CommandResult,
  LabProcess,
  labUnavailableReason,
  run,
  startCapture,
} from "./lab_commands.ts";
import { segmentationOffloadsOff, setGsoMaxSize } from "./lab_offloads.ts";

export {
  assertCommandDeclared,
  type CaptureOptions,
  CaptureProcess,
  type CommandResult,
  DEBIAN_PACKAGES,
  findCommand,
  isRoot,
  LAB_BASE_COMMANDS,
  LabProcess,
  labRequired,
  labTest,
  type LabTestOptions,
  labUnavailableReason,
  missingCommandsReason,
  procNetCounters,
  run,
  startCapture,
  testWhen,
} from "./lab_commands.ts";

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

/** Options of {@link Lab.capture}. */
export interface LabCaptureOptions {
  /** Stop after this many packets (`tcpdump -c`); default: until stopped. */
  count?: number;
  /** Namespace to capture in; default: the kernel peer's. */
  netns?: string;
  /** Interface to capture on; default: the kernel peer's lab interface. */
  iface?: string;
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
      await segmentationOffloadsOff(pe, LAB_PEER_IF);
      await segmentationOffloadsOff(rs, LAB_STACK_IF);
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
        await segmentationOffloadsOff(pe, LAB_ROUTER_FAR_IF);
        await segmentationOffloadsOff(far, LAB_FAR_IF);
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
  setPeerGsoMaxSize(bytes: number, ifName: string = this.peerIf): Promise<void> {
    return setGsoMaxSize(this.peerNetns, ifName, bytes);
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
