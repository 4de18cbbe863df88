/**
 * {@link RouterLab}: three network namespaces for testing and benchmarking a
 * router — kernel host A (198.51.100.2/24), the router namespace with two
 * veth links (`ra` toward A, `rb` toward B) and kernel host B
 * (203.0.113.2/24). The router's links carry no kernel address: rawstack
 * drives them through two `AfPacketDevice`s and is the router
 * (198.51.100.1, 203.0.113.1) — or, for a comparison, {@link
 * RouterLab.kernelForwarding} gives the kernel those addresses and
 * `ip_forward=1`. The hosts' transmit offloads are off (as in `lab.ts`;
 * `peerOffloads` keeps them on) and
 * IPv6 is off everywhere — except with `ipv6: true`, which gives A
 * 2001:db8:a::2/64 and B 2001:db8:b::2/64 with default routes through the
 * router's 2001:db8:a::1 and 2001:db8:b::1 (the router namespace's kernel
 * keeps IPv6 off, so it stays silent on the router's links). Always `await
 * lab.destroy()` in `finally`.
 *
 * Permissions: root, `--allow-run`, `--allow-read`, `--allow-ffi`.
 *
 * @module
 */

import { AfPacketDevice, type AfPacketOptions } from "../phy/af_packet.ts";
import { assertCommandDeclared, type CommandResult, LabProcess, run } from "./lab.ts";
import { segmentationOffloadsOff } from "./lab_offloads.ts";

/** Host A's address. */
export const ROUTER_LAB_A_ADDRESS = "198.51.100.2";
/** The router's address toward A. */
export const ROUTER_LAB_RA_ADDRESS = "198.51.100.1";
/** The router's address toward B. */
export const ROUTER_LAB_RB_ADDRESS = "203.0.113.1";
/** Host B's address. */
export const ROUTER_LAB_B_ADDRESS = "203.0.113.2";
/** Prefix length of both links. */
export const ROUTER_LAB_PREFIX = 24;
/** Host A's IPv6 address (with `ipv6: true`). */
export const ROUTER_LAB_A_ADDRESS6 = "2001:db8:a::2";
/** The router's IPv6 address toward A. */
export const ROUTER_LAB_RA_ADDRESS6 = "2001:db8:a::1";
/** The router's IPv6 address toward B. */
export const ROUTER_LAB_RB_ADDRESS6 = "2001:db8:b::1";
/** Host B's IPv6 address. */
export const ROUTER_LAB_B_ADDRESS6 = "2001:db8:b::2";
/** Prefix length of both IPv6 links. */
export const ROUTER_LAB_PREFIX6 = 64;

/** Options of {@link RouterLab.create}. */
export interface RouterLabOptions {
  /** Distinct prefix (1..8 lowercase letters/digits); namespaces are `<prefix>-<pid>-{a,r,b}`. */
  prefix: string;
  /**
   * MTU of the router's link toward B (`rb`; default 1500). B's own end
   * keeps 1500, so B advertises an MSS that does not fit the path and A's
   * path MTU discovery must learn it from the router (RFC 1191).
   */
  mtuB?: number;
  /** Give B no route back to A's network (a masquerading router is then needed). */
  noRouteBackOnB?: boolean;
  /**
   * Keep the hosts' transmit offloads (checksum, TSO, GSO) on, as a veth has
   * them by default: A and B then send TCP super-frames of up to 64 KiB with
   * partial checksums, which the router receives whole (default false: off).
   */
  peerOffloads?: boolean;
  /**
   * Turn GRO on on the router's two links (`ra`, `rb`; a veth has it off by
   * default): the receiving veth merges a TCP flow's MTU-sized frames into
   * super-frames before anyone sees them — the kernel's forwarding and
   * rawstack's AF_PACKET sockets alike (default false).
   */
  routerGro?: boolean;
  /** IPv6 on the hosts too (see the module documentation). */
  ipv6?: boolean;
}

/** Three namespaces around a router (see the module documentation). */
export class RouterLab {
  /** Host A's namespace. */
  readonly netnsA: string;
  /** The router's namespace. */
  readonly netnsR: string;
  /** Host B's namespace. */
  readonly netnsB: string;
  /** The router's link toward A (in {@link netnsR}). */
  readonly ifA = "ra";
  /** The router's link toward B. */
  readonly ifB = "rb";
  readonly #processes = new Set<LabProcess>();
  readonly #devices = new Set<AfPacketDevice>();
  #destroyed = false;

  private constructor(prefix: string) {
    const base = `${prefix}-${Deno.pid}`;
    this.netnsA = `${base}-a`;
    this.netnsR = `${base}-r`;
    this.netnsB = `${base}-b`;
  }

  /**
   * Builds the namespaces and links (removing stale ones of this prefix first).
   *
   * @param opts prefix, B's MTU, whether B has a route back
   * @returns the lab
   */
  static async create(opts: RouterLabOptions): Promise<RouterLab> {
    if (!/^[a-z][a-z0-9]{0,7}$/.test(opts.prefix)) {
      throw new Error(
        `router lab prefix must be 1..8 lowercase letters/digits, got "${opts.prefix}"`,
      );
    }
    const { stdout } = await run(["ip", "netns", "list"], { check: false });
    for (const line of stdout.split("\n")) {
      const name = line.split(" ")[0];
      const m = new RegExp(`^${opts.prefix}-(\\d+)-[arb]$`).exec(name);
      if (m !== null && (Number(m[1]) === Deno.pid || !pidAlive(Number(m[1])))) {
        await run(["ip", "netns", "del", name], { check: false });
      }
    }
    const lab = new RouterLab(opts.prefix);
    try {
      await lab.#build(opts);
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  async #build(opts: RouterLabOptions): Promise<void> {
    const { netnsA: a, netnsR: r, netnsB: b } = this;
    const mtuB = String(opts.mtuB ?? 1500);
    for (const ns of [a, r, b]) {
      await run(["ip", "netns", "add", ns]);
      const off = opts.ipv6 === true && ns !== r ? "0" : "1";
      await this.runIn(ns, ["sysctl", "-q", "-w", `net.ipv6.conf.all.disable_ipv6=${off}`]);
      await this.runIn(ns, ["sysctl", "-q", "-w", `net.ipv6.conf.default.disable_ipv6=${off}`]);
      await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    await run([
      "ip",
      "link",
      "add",
      "ra",
      "netns",
      r,
      "type",
      "veth",
      "peer",
      "name",
      "a0",
      "netns",
      a,
    ]);
    await run([
      "ip",
      "link",
      "add",
      "rb",
      "netns",
      r,
      "mtu",
      mtuB,
      "type",
      "veth",
      "peer",
      "name",
      "b0",
      "netns",
      b,
    ]);
    await run([
      "ip",
      "-n",
      a,
      "addr",
      "add",
      `${ROUTER_LAB_A_ADDRESS}/${ROUTER_LAB_PREFIX}`,
      "dev",
      "a0",
    ]);
    await run([
      "ip",
      "-n",
      b,
      "addr",
      "add",
      `${ROUTER_LAB_B_ADDRESS}/${ROUTER_LAB_PREFIX}`,
      "dev",
      "b0",
    ]);
    if (opts.peerOffloads !== true) {
      await segmentationOffloadsOff(a, "a0");
      await segmentationOffloadsOff(b, "b0");
    }
    if (opts.routerGro === true) {
      await this.runIn(r, ["ethtool", "-K", "ra", "gro", "on"]);
      await this.runIn(r, ["ethtool", "-K", "rb", "gro", "on"]);
    }
    for (const [ns, dev] of [[a, "a0"], [r, "ra"], [r, "rb"], [b, "b0"]]) {
      await run(["ip", "-n", ns, "link", "set", dev, "up"]);
    }
    await run(["ip", "-n", a, "route", "add", "default", "via", ROUTER_LAB_RA_ADDRESS]);
    if (!opts.noRouteBackOnB) {
      await run(["ip", "-n", b, "route", "add", "default", "via", ROUTER_LAB_RB_ADDRESS]);
    }
    if (opts.ipv6 === true) {
      // nodad: the hosts' addresses are usable at once (the router's run DAD in rawstack).
      for (
        const [ns, dev, addr, via] of [
          [a, "a0", ROUTER_LAB_A_ADDRESS6, ROUTER_LAB_RA_ADDRESS6],
          [b, "b0", ROUTER_LAB_B_ADDRESS6, ROUTER_LAB_RB_ADDRESS6],
        ]
      ) {
        await run([
          "ip",
          "-n",
          ns,
          "-6",
          "addr",
          "add",
          `${addr}/${ROUTER_LAB_PREFIX6}`,
          "dev",
          dev,
          "nodad",
        ]);
        if (ns === b && opts.noRouteBackOnB) continue;
        await run(["ip", "-n", ns, "-6", "route", "add", "default", "via", via, "dev", dev]);
      }
    }
  }

  /**
   * Opens the router's two links as AF_PACKET devices ({@link destroy} closes them).
   *
   * @param opts driver options for both
   * @returns `[toward A, toward B]`
   */
  async openDevices(
    opts: Omit<AfPacketOptions, "netns"> = {},
  ): Promise<[AfPacketDevice, AfPacketDevice]> {
    const da = await AfPacketDevice.open(this.ifA, { ...opts, netns: this.netnsR });
    this.#devices.add(da);
    const db = await AfPacketDevice.open(this.ifB, { ...opts, netns: this.netnsR });
    this.#devices.add(db);
    return [da, db];
  }

  /**
   * Makes the kernel of the router namespace the router (addresses on both
   * links, `ip_forward=1`) or stops it (`false`: addresses flushed, forwarding
   * off), for comparing rawstack with the kernel in the same namespaces.
   *
   * @param on start (true) or stop (false)
   */
  async kernelForwarding(on: boolean): Promise<void> {
    const r = this.netnsR;
    if (on) {
      await run([
        "ip",
        "-n",
        r,
        "addr",
        "add",
        `${ROUTER_LAB_RA_ADDRESS}/${ROUTER_LAB_PREFIX}`,
        "dev",
        "ra",
      ]);
      await run([
        "ip",
        "-n",
        r,
        "addr",
        "add",
        `${ROUTER_LAB_RB_ADDRESS}/${ROUTER_LAB_PREFIX}`,
        "dev",
        "rb",
      ]);
      await this.runIn(r, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    } else {
      await this.runIn(r, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"]);
      await run(["ip", "-n", r, "addr", "flush", "dev", "ra"]);
      await run(["ip", "-n", r, "addr", "flush", "dev", "rb"]);
    }
    // The hosts learned the router's MAC from whichever answered: forget it.
    await run(["ip", "-n", this.netnsA, "neigh", "flush", "dev", "a0"], { check: false });
    await run(["ip", "-n", this.netnsB, "neigh", "flush", "dev", "b0"], { check: false });
  }

  /**
   * Runs a command in a namespace and waits for it.
   *
   * @param netns namespace
   * @param cmd program and arguments
   * @param opts `check` (default true): throw on a non-zero exit
   * @returns exit code and output
   */
  runIn(netns: string, cmd: string[], opts: { check?: boolean } = {}): Promise<CommandResult> {
    return run(["ip", "netns", "exec", netns, ...cmd], opts);
  }

  /**
   * Runs a command in host A's namespace (never throws on a non-zero exit).
   *
   * @param cmd program and arguments
   * @returns exit code and output
   */
  runInA(cmd: string[]): Promise<CommandResult> {
    return this.runIn(this.netnsA, cmd, { check: false });
  }

  /**
   * Runs a command in host B's namespace (never throws on a non-zero exit).
   *
   * @param cmd program and arguments
   * @returns exit code and output
   */
  runInB(cmd: string[]): Promise<CommandResult> {
    return this.runIn(this.netnsB, cmd, { check: false });
  }

  /**
   * Starts a background process in a namespace ({@link destroy} kills it).
   *
   * @param netns namespace
   * @param cmd program and arguments
   * @returns the process
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

  /** Kills processes, closes devices, deletes the namespaces. Safe to call twice. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const p of this.#processes) await p.kill();
    this.#processes.clear();
    for (const d of this.#devices) d.close();
    this.#devices.clear();
    for (const ns of [this.netnsA, this.netnsR, this.netnsB]) {
      await run(["ip", "netns", "del", ns], { check: false });
    }
  }
}

function pidAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}
