/**
 * Runs a packetdrill script against one rawstack TCP engine on a virtual
 * clock. The runner plays the remote host: it injects the script's inbound
 * segments at their times, captures every segment the engine sends and
 * matches it against the script's outbound lines (within the timing
 * tolerance), and performs system calls through {@link SocketTable}.
 *
 * Sequence numbers are relative, as in packetdrill: the remote side's ISN is
 * a fixed value the runner chooses (the script's inbound SYN has relative
 * sequence 0), and ours is learnt from the first SYN or SYN-ACK we send
 * (absolute numbers are used before that).
 *
 * The engine is driven directly (a {@link TcpLayer} with a capturing
 * {@link IpSender} and a {@link TimerWheel}) rather than through Ethernet and
 * IPv4: the scripts are about TCP, and this gives exact control of time.
 * Script addresses are irrelevant; the host is 192.0.2.1, the peer 192.0.2.2.
 *
 * @module
 */

import { Ipv6Address } from "../../wire/ipv6_address.ts";
import { ipv6AddressSum } from "../../wire/checksum.ts";
import type { Tcp6Sender } from "../../tcp/tcp6.ts";
import { BufferPool } from "../../buffer/buffer_pool.ts";
import type { PacketBuffer } from "../../buffer/packet_buffer.ts";
import type {
  IpSender,
  IpSendOptions,
  Ipv6SendOptions,
  PacketBufferLike,
} from "../../iface/types.ts";
import { resolveTcpConfig, type TcpConfig } from "../../tcp/config.ts";
import { TcpLayer } from "../../tcp/tcp_layer.ts";
import { ManualClock } from "../../time/clock.ts";
import { TimerWheel } from "../../time/timer_wheel.ts";
import { isWireError } from "../../wire/error.ts";
import { fillTcpChecksum, newTcpRepr, TCP_HEADER_LEN, TcpPacket, TcpRepr } from "../../wire/tcp.ts";
import {
  checkTime,
  decodeTcpOptions,
  formatObserved,
  matchPacket,
  type Mismatch,
  type ObservedSegment,
} from "./matcher.ts";
import { parseScript } from "./parser.ts";
import {
  applySysctls,
  type Profile,
  profileByName,
  type ProfileName,
  unsupportedSysctlReason,
} from "./profiles.ts";
import {
  evaluateTcpiAssert,
  TCP_CA_STATES,
  TCPI_OPT_ECN,
  TCPI_OPT_ECN_SEEN,
  TCPI_OPT_SACK,
  TCPI_OPT_TIMESTAMPS,
  TCPI_OPT_WSCALE,
  type TcpiValues,
} from "./tcpi.ts";
import {
  FLAG_ACK,
  FLAG_CWR,
  FLAG_ECE,
  FLAG_FIN,
  FLAG_PSH,
  FLAG_SYN,
  type IcmpSpec,
  type PacketSpec,
  type Script,
  type ScriptEvent,
  type TcpOptionSpec,
} from "./script.ts";
import { SocketTable, tcpiMatches, unsupportedReason } from "./syscalls.ts";
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_MIN_QUOTED_DATA_LEN,
  ICMP_TIME_EXCEEDED,
  ICMP_UNREACH_FRAG_NEEDED,
  ICMP_UNREACH_HOST,
  ICMP_UNREACH_NET,
  ICMP_UNREACH_PORT,
  ICMP_UNREACH_PROTOCOL,
} from "../../wire/icmp.ts";
import {
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_PARAMETER_PROBLEM,
  ICMPV6_TIME_EXCEEDED,
  ICMPV6_UNREACH_ADDRESS,
  ICMPV6_UNREACH_ADMIN,
  ICMPV6_UNREACH_NO_ROUTE,
  ICMPV6_UNREACH_PORT,
} from "../../wire/icmpv6.ts";
import {
  ICMPV6_PARAM_NEXT_HEADER,
  IPV6_HEADER_LEN,
  IPV6_NEXT_HEADER_OFFSET,
} from "../../wire/ipv6.ts";
import { IPV4_DEFAULT_TTL, IPV4_HEADER_LEN } from "../../wire/ipv4.ts";

/** The host under test (192.0.2.1). */
export const LOCAL_ADDR = 0xc0000201;
/** The scripted remote host (192.0.2.2). */
export const REMOTE_ADDR = 0xc0000202;
/** packetdrill's default timing tolerance, µs. */
export const DEFAULT_TOLERANCE_USECS = 4000;
/** Default absolute ISN of the scripted remote side. */
export const DEFAULT_REMOTE_ISN = 0x2f10_0000;
/** Window of an inbound segment whose line gives none. */
const DEFAULT_INBOUND_WINDOW = 65535;
/** How long `*` (any time) waits for an outbound packet, µs. */
const ANY_TIME_LIMIT_USECS = 600 * 1_000_000;
const USECS_PER_MS = 1000;
const MAX_OPTION_BYTES = 40;
const HEADROOM = 34;
const POOL_SLOTS = 512;
const POOL_SLOT_BYTES = 2048;
const OPTION_PREFIX = "rawstack_";

/** How a script ended. */
export type ScriptStatus = "pass" | "fail" | "n/a";

/** The outcome of one script. */
export interface ScriptResult {
  /** pass, fail or n/a (not applicable — never a pass). */
  status: ScriptStatus;
  /** Line of the first mismatch (fail). */
  line?: number;
  /** What the script expected there (fail). */
  expected?: string;
  /** What happened (fail). */
  got?: string;
  /** Why the script is not applicable, or a one-line failure summary. */
  reason?: string;
}

/** Options of {@link runScript}. */
export interface RunOptions {
  /** Portable mode (see the module docs of matcher.ts). Default false: strict. */
  portable?: boolean;
  /** Absolute ISN of the scripted remote side. */
  remoteIsn?: number;
  /** Engine configuration overrides (script options `--rawstack_<key>=<v>` apply on top). */
  config?: Partial<TcpConfig>;
  /**
   * Timing tolerance when the script gives no `--tolerance_usecs`, µs: the
   * value the suite's own harness passes on packetdrill's command line.
   * Default packetdrill's 4000.
   */
  defaultToleranceUsecs?: number;
  /**
   * The operating system whose tunables the run takes (see profiles.ts): engine
   * settings, `#ifdef` names, the sysctls recognised in backtick commands. Default
   * none: rawstack's own defaults, no sysctl applied.
   */
  profile?: ProfileName;
  /** Extra names defined for `#ifdef` blocks (`--define NAME`). */
  defines?: readonly string[];
}

interface Captured {
  usecs: number;
  bytes: Uint8Array;
  /** IP header fields the stack asked for (undefined: the interface's defaults). */
  ttl?: number;
  tos?: number;
}

interface Pending {
  event: ScriptEvent & { kind: "syscall" };
  /** When the call is expected to return, µs. */
  returnUsecs: number;
}

class Failure {
  constructor(readonly result: ScriptResult) {}
}

/**
 * Applies `--rawstack_<key>=<value>` script options to an engine config.
 * Numbers and `true`/`false`/`1`/`0` booleans are accepted for known keys.
 *
 * @param options script options
 * @param base starting overrides
 * @returns the overrides, or an error message
 *
 * @example
 * ```ts
 * import { configFromOptions } from "./runner.ts";
 * const c = configFromOptions(new Map([["rawstack_timestamps", "0"]]), {});
 * console.assert(typeof c !== "string" && c.timestamps === false);
 * ```
 */
export function configFromOptions(
  options: ReadonlyMap<string, string>,
  base: Partial<TcpConfig>,
): Partial<TcpConfig> | string {
  const out: Record<string, unknown> = { ...base };
  const defaults = resolveTcpConfig() as unknown as Record<string, unknown>;
  for (const [k, v] of options) {
    if (!k.startsWith(OPTION_PREFIX)) continue;
    const key = k.slice(OPTION_PREFIX.length);
    const def = defaults[key];
    if (typeof def === "boolean") {
      if (!["0", "1", "true", "false"].includes(v)) return `--${k} needs 0/1/true/false`;
      out[key] = v === "1" || v === "true";
    } else if (typeof def === "number") {
      const n = Number(v);
      if (!Number.isFinite(n)) return `--${k} needs a number`;
      out[key] = n;
    } else if (typeof def === "string") {
      out[key] = v;
    } else return `unknown engine option --${k}`;
  }
  return out as Partial<TcpConfig>;
}

/**
 * Why a script cannot be judged against rawstack (checked before running),
 * or null when it is applicable.
 *
 * @param script the parsed script
 * @param portable portable mode (backtick lines are skipped there)
 * @returns a one-line reason, or null
 *
 * @example
 * ```ts
 * import { notApplicableReason } from "./runner.ts";
 * import { parseScript } from "./parser.ts";
 * const r = parseScript("--ip_version=ipv6\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n");
 * console.assert(r.ok && notApplicableReason(r.script, true) === null);
 * ```
 */
export function notApplicableReason(script: Script, portable: boolean): string | null {
  const ipVersion = script.options.get("ip_version");
  if (ipVersion !== undefined && ipVersion !== "ipv4" && ipVersion !== "ipv6") {
    return `--ip_version=${ipVersion} is not emulated (IPv4 and IPv6 are)`;
  }
  for (const e of script.events) {
    const at = `line ${e.line}: `;
    switch (e.kind) {
      case "shell": {
        if (!portable) return `${at}shell commands need the scripted operating system`;
        const why = unsupportedSysctlReason(e.command);
        if (why !== null) return at + why;
        break;
      }
      case "code":
        if (e.tcpiState === null) {
          const why = evaluateTcpiAssert(e.code, null);
          if (why !== null && why.kind === "unsupported") return at + why.reason;
        }
        break;
      case "syscall": {
        const why = unsupportedReason(e.call.name, e.call.args);
        if (why !== null) return at + why;
        break;
      }
      case "icmp":
        if (e.icmp.type < 0 && ipVersion !== "ipv6") {
          return `${at}an ICMPv6 message needs --ip_version=ipv6`;
        }
        if (e.icmp.type < 0 && icmpv6ByName(e.icmp) === null) {
          return `${at}ICMPv6 "${e.icmp.typeName} ${e.icmp.codeName}" is not modelled`;
        }
        break;
      case "packet": {
        const p = e.packet;
        if (p.udpEncapsulated) {
          return `${at}TCP over UDP (RFC 6951, FreeBSD net.inet.tcp.udp_tunneling_port) is not implemented`;
        }
        if (
          !ECN_SUPPORTED &&
          ((p.flags & (FLAG_ECE | FLAG_CWR)) !== 0 || (p.ecn !== undefined && p.ecn !== "noecn"))
        ) {
          return `${at}ECN (RFC 3168) is not implemented`;
        }
        if (p.options !== null && p.options !== "any") {
          for (const o of p.options) {
            if (o.kind === "fastopen") return `${at}TCP Fast Open (RFC 7413) is not implemented`;
            if (o.kind === "md5") return `${at}TCP MD5 signatures (RFC 2385) are not implemented`;
            if (o.kind === "unknown") return `${at}TCP option '${o.text}' is not known`;
          }
        }
        break;
      }
    }
  }
  return null;
}

/** A capturing IpSender: every datagram is copied with its virtual time. */
class CaptureIp implements IpSender {
  readonly #pool = new BufferPool({ slotSize: POOL_SLOT_BYTES, slots: POOL_SLOTS });
  readonly queue: Captured[] = [];
  constructor(readonly nowUsecs: () => number) {}
  allocate(): PacketBufferLike | null {
    return this.#pool.alloc(HEADROOM);
  }
  send(buf: PacketBufferLike, _dst: number, _protocol: number, opts?: IpSendOptions): boolean {
    this.queue.push({
      usecs: this.nowUsecs(),
      bytes: buf.bytes.slice(buf.head, buf.tail),
      ttl: opts?.ttl,
      tos: opts?.tos,
    });
    this.#pool.free(buf as PacketBuffer);
    return true;
  }
  sourceAddressFor(_dst: number): number {
    return LOCAL_ADDR;
  }
  mtuFor(_dst: number): number {
    return 1500;
  }
}

/** The IPv6 addresses of a `--ip_version=ipv6` run (RFC 3849 documentation prefix). */
export const LOCAL_ADDR6: Ipv6Address = Ipv6Address.parse("2001:db8::1");
/** The script's remote end over IPv6. */
export const REMOTE_ADDR6: Ipv6Address = Ipv6Address.parse("2001:db8::2");
/** Smallest IPv6 link MTU (RFC 8200 §5). */
const IPV6_MIN_MTU = 1280;

/** A capturing IPv6 output for `--ip_version=ipv6` scripts (issue 18): TCP segments as sent. */
class CaptureIp6 implements Tcp6Sender {
  readonly #pool = new BufferPool({ slotSize: POOL_SLOT_BYTES, slots: POOL_SLOTS });
  constructor(
    readonly queue: Captured[],
    readonly nowUsecs: () => number,
    readonly mtu: number,
  ) {}
  allocate(): PacketBufferLike | null {
    return this.#pool.alloc(HEADROOM);
  }
  send6(
    buf: PacketBufferLike,
    _dst: Ipv6Address,
    _protocol: number,
    opts?: Ipv6SendOptions,
  ): boolean {
    // The hop limit and traffic class the stack asked for: what `(hlim N)` / `(class X)` check.
    this.queue.push({
      usecs: this.nowUsecs(),
      bytes: buf.bytes.slice(buf.head, buf.tail),
      ttl: opts?.hopLimit,
      tos: opts?.trafficClass,
    });
    this.#pool.free(buf as PacketBuffer);
    return true;
  }
  release(buf: PacketBufferLike): void {
    this.#pool.free(buf as PacketBuffer);
  }
  sourceAddressFor6(): Ipv6Address {
    return LOCAL_ADDR6;
  }
  pathMtu(): number {
    return this.mtu;
  }
}

/** One run of one script. */
class Run {
  readonly clock = new ManualClock(0);
  readonly wheel = new TimerWheel(0);
  readonly ip: CaptureIp;
  readonly tcp: TcpLayer;
  readonly table: SocketTable;
  readonly portable: boolean;
  readonly toleranceUsecs: number;
  readonly remoteIsn: number;
  nowUsecs = 0;
  localIsn: number | null = null;
  tsOffset: number | null = null;
  pending: Pending | null = null;
  failure: ScriptResult | null = null;
  readonly #rx = newTcpRepr();
  readonly #pkt = new TcpPacket(new Uint8Array(0), 0, 0);
  /** `--ip_version=ipv6`: segments go through the engine's IPv6 path (issue 18). */
  readonly ipv6: boolean;

  readonly profile: Profile | null;

  constructor(script: Script, opts: RunOptions, config: Partial<TcpConfig>) {
    this.ipv6 = script.options.get("ip_version") === "ipv6";
    this.portable = opts.portable ?? false;
    this.profile = opts.profile === undefined ? null : profileByName(opts.profile);
    this.remoteIsn = (opts.remoteIsn ?? DEFAULT_REMOTE_ISN) >>> 0;
    const fallback = opts.defaultToleranceUsecs ?? DEFAULT_TOLERANCE_USECS;
    const tol = Number(script.options.get("tolerance_usecs") ?? fallback);
    this.toleranceUsecs = Number.isFinite(tol) && tol >= 0 ? tol : DEFAULT_TOLERANCE_USECS;
    this.ip = new CaptureIp(() => this.nowUsecs);
    this.tcp = new TcpLayer({
      ip: this.ip,
      wheel: this.wheel,
      clock: this.clock,
      config,
      secret: new Uint8Array(16).fill(0x5a),
      random: () => 0.25,
    });
    if (this.ipv6) {
      const mtu = Number(script.options.get("mtu") ?? 1500);
      this.tcp.attachIpv6(
        new CaptureIp6(
          this.ip.queue,
          () => this.nowUsecs,
          Number.isFinite(mtu) ? Math.max(IPV6_MIN_MTU, Math.min(mtu, 0xffff)) : 1500,
        ),
      );
    }
    this.table = new SocketTable({
      tcp: this.tcp,
      nowMs: () => this.clock.now(),
      remoteAddr: REMOTE_ADDR,
      remoteAddr6: this.ipv6 ? REMOTE_ADDR6 : undefined,
      portable: this.portable,
    });
  }

  fail(line: number, m: Mismatch | string, expected?: string): never {
    const result: ScriptResult = typeof m === "string"
      ? { status: "fail", line, reason: m, expected, got: undefined }
      : {
        status: "fail",
        line,
        expected: expected ?? m.expected,
        got: m.got,
        reason: `${m.field}: expected ${m.expected}, got ${m.got}`,
      };
    throw new Failure(result);
  }

  // ------------------------------------------------------------------ time

  #setNow(usecs: number): void {
    if (usecs < this.nowUsecs) return;
    this.nowUsecs = usecs;
    this.clock.set(usecs / USECS_PER_MS);
  }

  /** Fires the next due timer at or before `limit`; returns false when none is due. */
  #stepTimer(limitUsecs: number): boolean {
    const d = this.wheel.nextDeadline();
    if (!Number.isFinite(d) || d * USECS_PER_MS > limitUsecs) return false;
    this.#setNow(Math.max(this.nowUsecs, d * USECS_PER_MS));
    this.wheel.advance(this.clock.now());
    this.#checkPending();
    return true;
  }

  /** Moves virtual time to `usecs`, firing timers on the way. */
  advanceTo(usecs: number): void {
    while (this.#stepTimer(usecs)) { /* fire */ }
    this.#setNow(usecs);
    this.wheel.advance(this.clock.now());
    this.#checkPending();
  }

  /** Advances until `done()` or `limit`; returns whether `done()` became true. */
  advanceUntil(limitUsecs: number, done: () => boolean): boolean {
    if (done()) return true;
    while (this.#stepTimer(limitUsecs)) if (done()) return true;
    if (limitUsecs > this.nowUsecs) {
      this.#setNow(limitUsecs);
      this.wheel.advance(this.clock.now());
      this.#checkPending();
    }
    return done();
  }

  // ------------------------------------------------------------------ system calls

  #checkPending(): void {
    const p = this.pending;
    if (p === null || this.failure !== null) return;
    const out = this.table.call(p.event.call.name, p.event.call.args);
    if (out.kind === "blocked") return;
    this.pending = null;
    try {
      this.#finishCall(p.event, out, p.returnUsecs);
    } catch (e) {
      if (e instanceof Failure) this.failure = e.result;
      else throw e;
    }
  }

  #finishCall(
    e: ScriptEvent & { kind: "syscall" },
    out: ReturnType<SocketTable["call"]>,
    returnUsecs: number,
  ): void {
    if (out.kind === "unsupported") {
      throw new Failure({ status: "n/a", line: e.line, reason: `line ${e.line}: ${out.reason}` });
    }
    if (out.kind !== "done") return;
    const t = checkTime(this.nowUsecs, returnUsecs, returnUsecs, this.toleranceUsecs);
    if (t !== null) this.fail(e.line, { ...t, field: `${e.call.name}() return time` });
    const want = e.call;
    const gotText = out.result === -1 && out.errno ? `-1 ${out.errno}` : String(out.result);
    const wantText = want.errno ? `${want.result} ${want.errno}` : String(want.result);
    if (want.result !== "any" && want.result !== out.result) {
      this.fail(e.line, { field: `${want.name}() result`, expected: wantText, got: gotText });
    }
    if (want.errno !== undefined && out.result === -1 && !sameErrno(want.errno, out.errno)) {
      this.fail(e.line, { field: `${want.name}() errno`, expected: wantText, got: gotText });
    }
    if (out.valueMismatch) {
      this.fail(e.line, { field: `${want.name}() value`, ...out.valueMismatch });
    }
  }

  /** Runs a blocked call to completion (or fails when it does not return in time). */
  #drainPending(): void {
    const p = this.pending;
    if (p === null) return;
    const limit = p.returnUsecs + this.toleranceUsecs;
    this.advanceUntil(limit, () => this.pending === null || this.failure !== null);
    if (this.failure !== null) throw new Failure(this.failure);
    if (this.pending !== null) {
      this.fail(
        p.event.line,
        `${p.event.call.name}() was still blocked at ${(limit / 1e6).toFixed(6)}s`,
        p.event.text,
      );
    }
  }

  syscall(e: ScriptEvent & { kind: "syscall" }, startUsecs: number, returnUsecs: number): void {
    this.#drainPending();
    this.advanceTo(startUsecs);
    this.#raiseFailure();
    // packetdrill maps the script's descriptor numbers to live ones: socket() and accept()
    // return the number the script names.
    if (typeof e.call.result === "number" && e.call.result >= 0) {
      this.table.nextFd = e.call.result;
    }
    const out = this.table.call(e.call.name, e.call.args);
    if (out.kind === "blocked") {
      this.pending = { event: e, returnUsecs };
      return;
    }
    this.#finishCall(e, out, returnUsecs);
  }

  #raiseFailure(): void {
    if (this.failure !== null) throw new Failure(this.failure);
  }

  // ------------------------------------------------------------------ packets

  inbound(e: ScriptEvent & { kind: "packet" }, usecs: number): void {
    this.advanceTo(usecs);
    this.#raiseFailure();
    const bytes = this.#build(e.packet, e.line);
    const p = e.packet;
    const ecn = p.ecn === undefined ? 0 : INBOUND_ECN[p.ecn];
    if (ecn === undefined) this.fail(e.line, `unknown ECN tag [${p.ecn}]`);
    const tos = ((p.ip?.tos ?? 0) & ~ECN_MASK) | (p.ecn === undefined ? (p.ip?.tos ?? 0) : ecn);
    if (this.ipv6) {
      this.tcp.onPacket6(
        this.clock.now(),
        REMOTE_ADDR6,
        LOCAL_ADDR6,
        bytes,
        0,
        bytes.length,
        false,
        false,
      );
    } else {
      this.tcp.onPacket(
        this.clock.now(),
        REMOTE_ADDR,
        LOCAL_ADDR,
        bytes,
        0,
        bytes.length,
        false,
        false,
        tos,
      );
    }
    this.#checkPending();
    this.#raiseFailure();
  }

  /**
   * Injects an ICMP error quoting one of our segments: an IPv4 header from us to the
   * peer and the first 8 TCP bytes (ports, the quoted sequence number), RFC 792.
   */
  icmp(e: ScriptEvent & { kind: "icmp" }, usecs: number): void {
    this.advanceTo(usecs);
    this.#raiseFailure();
    const seq = ((this.localIsn ?? 0) + e.icmp.seq) >>> 0;
    const spec: IcmpSpec = e.icmp;
    if (this.ipv6) {
      const v6 = spec.type < 0 ? icmpv6ByName(spec) : icmpv6For(spec);
      if (v6 === null) {
        this.fail(e.line, `no ICMPv6 counterpart of "${spec.typeName} ${spec.codeName}"`);
      }
      const q = buildQuotedSegment6(this.table.localPort, this.table.remotePort, seq);
      this.tcp.onIcmpv6Error(this.clock.now(), v6.type, v6.code, v6.parameter, q, 0, q.length);
    } else {
      const q = buildQuotedSegment(this.table.localPort, this.table.remotePort, seq);
      this.tcp.onIcmpError(this.clock.now(), spec.type, spec.code, spec.mtu, q, 0, q.length);
    }
    this.#checkPending();
    this.#raiseFailure();
  }

  #build(p: PacketSpec, line: number): Uint8Array {
    const opts = p.options === "any" || p.options === null ? [] : p.options;
    const optBytes: number[] = [];
    for (const o of opts) this.#encodeOption(o, optBytes);
    while (optBytes.length % 4 !== 0) optBytes.push(0); // EOL padding
    if (optBytes.length > MAX_OPTION_BYTES) this.fail(line, "inbound options exceed 40 bytes");
    const hlen = TCP_HEADER_LEN + optBytes.length;
    const b = new Uint8Array(hlen + p.length);
    const w16 = (o: number, v: number) => {
      b[o] = (v >>> 8) & 0xff;
      b[o + 1] = v & 0xff;
    };
    const w32 = (o: number, v: number) => {
      w16(o, (v >>> 16) & 0xffff);
      w16(o + 2, v & 0xffff);
    };
    w16(0, this.table.remotePort);
    w16(2, this.table.localPort);
    w32(4, (this.remoteIsn + p.start) >>> 0);
    w32(8, p.ack === undefined ? 0 : ((this.localIsn ?? 0) + p.ack) >>> 0);
    b[12] = (hlen >>> 2) << 4;
    b[13] = p.flags & 0xff;
    w16(14, p.window ?? DEFAULT_INBOUND_WINDOW);
    w16(18, p.urgent ?? 0);
    b.set(optBytes, TCP_HEADER_LEN);
    if (this.ipv6) {
      fillTcpChecksum(b, 0, b.length, 0, 0, ipv6AddressSum(REMOTE_ADDR6, LOCAL_ADDR6));
    } else fillTcpChecksum(b, 0, b.length, REMOTE_ADDR, LOCAL_ADDR);
    return b;
  }

  #encodeOption(o: TcpOptionSpec, out: number[]): void {
    const u32 = (v: number) =>
      out.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
    switch (o.kind) {
      case "eol":
        out.push(0);
        break;
      case "nop":
        out.push(1);
        break;
      case "mss":
        out.push(2, 4, ((o.value ?? 0) >>> 8) & 0xff, (o.value ?? 0) & 0xff);
        break;
      case "wscale":
        out.push(3, 3, (o.value ?? 0) & 0xff);
        break;
      case "sackOK":
        out.push(4, 2);
        break;
      case "sack": {
        const blocks = o.blocks ?? [];
        out.push(5, 2 + 8 * blocks.length);
        const base = this.localIsn ?? 0;
        for (const [l, r] of blocks) {
          u32((base + l) >>> 0);
          u32((base + r) >>> 0);
        }
        break;
      }
      case "TS":
        out.push(8, 10);
        u32((o.val ?? 0) >>> 0);
        // The echo refers to our clock: shift the script's value by what we learnt.
        u32(((o.ecr ?? 0) + (this.tsOffset ?? 0)) >>> 0);
        break;
      default:
        break;
    }
  }

  outbound(e: ScriptEvent & { kind: "packet" }, lowUsecs: number, highUsecs: number): number {
    const deadline = highUsecs === Infinity
      ? this.nowUsecs + ANY_TIME_LIMIT_USECS
      : highUsecs + this.toleranceUsecs;
    this.advanceUntil(deadline, () => this.ip.queue.length > 0 || this.failure !== null);
    this.#raiseFailure();
    const c = this.ip.queue.shift();
    if (c === undefined) {
      this.fail(e.line, {
        field: "packet",
        expected: e.text,
        got: `nothing sent by ${(deadline / 1e6).toFixed(6)}s`,
      });
    }
    const seg = this.#observe(c.bytes, e.packet);
    if (typeof seg === "string") this.fail(e.line, seg, e.text);
    if (this.portable) this.#coalesce(seg, e.packet, deadline);
    if (e.packet.absoluteSeq) seg.seq = (seg.seq + (this.localIsn ?? 0)) >>> 0;
    const ipm = matchIpHeader(e.packet, c);
    const m = ipm ?? matchPacket(e.packet, seg, { portable: this.portable });
    if (m !== null) {
      throw new Failure({
        status: "fail",
        line: e.line,
        expected: e.text,
        got: `${formatObserved(seg)} at ${(c.usecs / 1e6).toFixed(6)}s`,
        reason: `${m.field}: expected ${m.expected}, got ${m.got}`,
      });
    }
    const t = checkTime(c.usecs, lowUsecs, highUsecs, this.toleranceUsecs);
    if (t !== null) {
      throw new Failure({
        status: "fail",
        line: e.line,
        expected: e.text,
        got: `${formatObserved(seg)} at ${t.got}`,
        reason: `time: expected ${t.expected}, got ${t.got}`,
      });
    }
    return c.usecs;
  }

  /**
   * Portable mode: Linux's packetdrill runs see TSO/GSO super-segments (one
   * "packet" of several MSS). Merge the following contiguous data segments
   * sent with the same ACK until the expected length is reached.
   */
  #coalesce(seg: ObservedSegment, want: PacketSpec, deadlineUsecs: number): void {
    const mergeable = FLAG_ACK | FLAG_PSH | FLAG_FIN;
    while (
      seg.length > 0 && seg.length < want.length && (seg.flags & FLAG_FIN) === 0 &&
      (seg.flags & ~mergeable) === 0
    ) {
      this.advanceUntil(deadlineUsecs, () => this.ip.queue.length > 0);
      const next = this.ip.queue[0];
      if (next === undefined) return;
      const n = this.#observe(next.bytes, { options: null } as unknown as PacketSpec);
      if (
        typeof n === "string" || n.seq !== ((seg.seq + seg.length) >>> 0) || n.ack !== seg.ack ||
        (n.flags & ~mergeable) !== 0 || n.length === 0 || seg.length + n.length > want.length
      ) {
        return;
      }
      this.ip.queue.shift();
      seg.length += n.length;
      seg.flags = (seg.flags & ~FLAG_PSH) | n.flags;
    }
  }

  /** Parses a captured segment and makes it relative; learns our ISN and TS offset. */
  #observe(bytes: Uint8Array, want: PacketSpec): ObservedSegment | string {
    const r = TcpRepr.parse(
      this.#pkt.reset(bytes, 0, bytes.length),
      LOCAL_ADDR,
      REMOTE_ADDR,
      this.#rx,
      this.ipv6 ? { ipv6AddressSum: ipv6AddressSum(LOCAL_ADDR6, REMOTE_ADDR6) } : undefined,
    );
    if (isWireError(r)) return `the stack sent a malformed segment: ${r.message}`;
    if ((r.flags & FLAG_SYN) !== 0 && this.localIsn === null) {
      this.localIsn = (r.seq - want.start) >>> 0;
    }
    const base = this.localIsn ?? 0;
    const hlen = (bytes[12] >>> 4) * 4;
    const options = decodeTcpOptions(bytes, TCP_HEADER_LEN, hlen);
    for (const o of options) {
      if (o.kind === "sack" && o.blocks) {
        o.blocks = o.blocks.map((
          [l, rr],
        ) => [(l - this.remoteIsn) >>> 0, (rr - this.remoteIsn) >>> 0]);
      }
      if (
        o.kind === "TS" && this.tsOffset === null && want.options !== null && want.options !== "any"
      ) {
        const ts = want.options.find((x) => x.kind === "TS");
        if (ts !== undefined) this.tsOffset = ((o.val ?? 0) - (ts.val ?? 0)) >>> 0;
      }
    }
    return {
      flags: r.flags & 0xff,
      seq: (r.seq - base) >>> 0,
      // TcpRepr yields int32: everything shown in a failure message is unsigned.
      ack: (r.flags & FLAG_ACK) !== 0 ? (r.ack - this.remoteIsn) >>> 0 : r.ack >>> 0,
      window: r.window,
      urgent: r.urgent,
      length: r.payloadLength,
      options,
    };
  }

  /** TCP_INFO fields of the last descriptor's connection, from conn.info(). */
  #tcpiValues(state: string): TcpiValues {
    const conn = this.table.connectionOf(this.table.lastFd);
    const v: TcpiValues = { state };
    if (conn === null) return v;
    const info = conn.info();
    const mss = Math.max(1, info.sndMss);
    v.snd_mss = info.sndMss;
    v.advmss = info.advMss;
    v.snd_cwnd = Math.floor(info.cwnd / mss);
    v.snd_ssthresh = Math.floor(Math.min(info.ssthresh, 0x7fff_ffff) / mss);
    v.retrans = info.retransOutSegments;
    v.unacked = Math.ceil(((info.sndNxt - info.sndUna) >>> 0) / mss);
    v.last_data_recv = info.lastDataRecvMs === null
      ? this.clock.now()
      : Math.max(0, Math.floor(this.clock.now() - info.lastDataRecvMs));
    v.rto = info.rtoMs * 1000;
    v.rtt = Math.round(info.srttMs * 1000);
    v.rttvar = Math.round(info.rttvarMs * 1000);
    v.ca_state = TCP_CA_STATES[info.caState];
    v.sacked = info.sackedSegments;
    v.lost = info.lostSegments;
    v.reordering = info.reordering;
    v.options = (info.timestamps ? TCPI_OPT_TIMESTAMPS : 0) | (info.sack ? TCPI_OPT_SACK : 0) |
      (info.windowScaling ? TCPI_OPT_WSCALE : 0) | (info.ecn ? TCPI_OPT_ECN : 0) |
      (info.ecnCeReceived > 0 ? TCPI_OPT_ECN_SEEN : 0);
    return v;
  }

  // ------------------------------------------------------------------ the script

  run(script: Script): ScriptResult {
    try {
      this.#runEvents(script);
      return { status: "pass" };
    } catch (e) {
      if (e instanceof Failure) return e.result;
      return { status: "fail", reason: `runner error: ${e instanceof Error ? e.stack : e}` };
    }
  }

  #runEvents(script: Script): void {
    let lastUsecs = 0; // time base of relative events
    let shiftUsecs = 0; // packetdrill shifts later events by how late `*`/range events happened
    for (const e of script.events) {
      const t = e.time;
      const base = t.kind === "absolute" || (t.kind === "range" && !t.rangeEndRelative)
        ? shiftUsecs
        : lastUsecs;
      let low = t.kind === "any" ? this.nowUsecs : base + t.startUsecs;
      const high = t.kind === "any"
        ? Infinity
        : t.kind === "range"
        ? base + (t.rangeEndUsecs ?? 0)
        : low;
      if (low < 0) low = 0;
      let actual = low;
      switch (e.kind) {
        case "packet":
          if (e.packet.direction === "inbound") {
            this.inbound(e, low);
            actual = this.nowUsecs;
          } else {
            actual = this.outbound(e, low, high);
          }
          break;
        case "syscall": {
          const ret = t.blockingEndUsecs !== undefined ? base + t.blockingEndUsecs : low;
          this.syscall(e, low, ret);
          break;
        }
        case "icmp":
          this.icmp(e, low);
          actual = this.nowUsecs;
          break;
        case "shell":
          this.advanceTo(low);
          // Portable mode: the sysctls the profile recognises are applied; the rest of the
          // command is skipped (strict mode rejects the script beforehand).
          if (this.profile !== null) applySysctls(this.profile, e.command, this.tcp.config);
          break;
        case "code": {
          this.advanceTo(low);
          this.#raiseFailure();
          const state = this.table.stateOf(this.table.lastFd);
          if (e.tcpiState !== null) {
            if (!tcpiMatches(state, e.tcpiState)) {
              this.fail(e.line, { field: "tcpi_state", expected: e.tcpiState, got: state });
            }
            break;
          }
          const r = evaluateTcpiAssert(e.code, this.#tcpiValues(state));
          if (r !== null && r.kind === "unsupported") {
            throw new Failure({
              status: "n/a",
              line: e.line,
              reason: `line ${e.line}: ${r.reason}`,
            });
          }
          if (r !== null) this.fail(e.line, { field: r.field, expected: r.expected, got: r.got });
          break;
        }
      }
      this.#raiseFailure();
      if (t.kind === "any" || t.kind === "range") {
        shiftUsecs += actual - low;
        lastUsecs = actual;
      } else {
        lastUsecs = low;
      }
    }
    this.#drainPending();
    this.#raiseFailure();
    if (!this.portable && this.ip.queue.length > 0) {
      const c = this.ip.queue[0];
      const seg = this.#observe(c.bytes, { options: null } as PacketSpec);
      const last = script.events[script.events.length - 1];
      this.fail(last?.line ?? 0, {
        field: "packet",
        expected: "no further packet",
        got: typeof seg === "string"
          ? seg
          : `${formatObserved(seg)} at ${(c.usecs / 1e6).toFixed(6)}s`,
      });
    }
  }
}

function sameErrno(a: string, b: string | undefined): boolean {
  const norm = (x: string | undefined) => (x === "EWOULDBLOCK" ? "EAGAIN" : x);
  return norm(a) === norm(b);
}

/**
 * Runs a parsed script.
 *
 * @param script the script
 * @param opts mode, remote ISN, engine config
 * @returns pass, fail (first mismatch) or n/a (reason)
 *
 * @example
 * ```ts
 * import { parseScript } from "./parser.ts";
 * import { runScript } from "./runner.ts";
 * const r = parseScript("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3) = 0\n");
 * console.assert(r.ok && runScript(r.script).status === "pass");
 * ```
 */
export function runScript(script: Script, opts: RunOptions = {}): ScriptResult {
  const portable = opts.portable ?? false;
  const na = notApplicableReason(script, portable);
  if (na !== null) return { status: "n/a", reason: na };
  const profile = opts.profile === undefined ? null : profileByName(opts.profile);
  const config = configFromOptions(script.options, { ...profile?.config, ...opts.config });
  if (typeof config === "string") return { status: "fail", line: 0, reason: config };
  return new Run(script, opts, config).run(script);
}

/**
 * Parses and runs a script; a parse error is a failure with its line.
 *
 * @param source script text
 * @param opts see {@link runScript}
 * @returns the result
 *
 * @example
 * ```ts
 * import { runScriptText } from "./runner.ts";
 * const r = runScriptText("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4\n");
 * console.assert(r.status === "fail" && r.line === 1);
 * ```
 */
export function runScriptText(source: string, opts: RunOptions = {}): ScriptResult {
  const profile = opts.profile === undefined ? null : profileByName(opts.profile);
  const parsed = parseScript(source, {
    defines: [...(profile?.defines ?? []), ...(opts.defines ?? [])],
  });
  if (!parsed.ok) {
    return {
      status: "fail",
      line: parsed.error.line,
      reason: `parse error: ${parsed.error.message}`,
    };
  }
  return runScript(parsed.script, opts);
}

/** Whether the engine speaks ECN (RFC 3168); scripts with ECN lines are n/a otherwise. */
const ECN_SUPPORTED = true;

/** The quoted datagram of an ICMP error about our segment with sequence `seq`. */
function buildQuotedSegment(localPort: number, remotePort: number, seq: number): Uint8Array {
  const q = new Uint8Array(IPV4_HEADER_LEN + ICMP_MIN_QUOTED_DATA_LEN);
  const v = new DataView(q.buffer);
  q[0] = 0x45;
  v.setUint16(2, IPV4_HEADER_LEN + TCP_HEADER_LEN);
  q[8] = IPV4_DEFAULT_TTL;
  q[9] = 6; // TCP
  v.setUint32(12, LOCAL_ADDR);
  v.setUint32(16, REMOTE_ADDR);
  v.setUint16(IPV4_HEADER_LEN, localPort);
  v.setUint16(IPV4_HEADER_LEN + 2, remotePort);
  v.setUint32(IPV4_HEADER_LEN + 4, seq);
  return q;
}

/**
 * The ICMPv6 message an IPv6 script's `< icmp …` line stands for (NPLab writes both families with
 * the ICMPv4 names): unreachable net/host/port/prohibited map to Destination Unreachable codes,
 * protocol unreachable to Parameter Problem "unrecognized Next Header" (RFC 4443 §3.4), fragmentation
 * needed to Packet Too Big, time exceeded to Time Exceeded.
 */
function icmpv6For(spec: IcmpSpec): { type: number; code: number; parameter: number } | null {
  if (spec.type === ICMP_TIME_EXCEEDED) {
    return { type: ICMPV6_TIME_EXCEEDED, code: 0, parameter: 0 };
  }
  if (spec.type !== ICMP_DEST_UNREACHABLE) return null;
  switch (spec.code) {
    case ICMP_UNREACH_NET:
      return { type: ICMPV6_DEST_UNREACHABLE, code: ICMPV6_UNREACH_NO_ROUTE, parameter: 0 };
    case ICMP_UNREACH_HOST:
      return { type: ICMPV6_DEST_UNREACHABLE, code: ICMPV6_UNREACH_ADDRESS, parameter: 0 };
    case ICMP_UNREACH_PORT:
      return { type: ICMPV6_DEST_UNREACHABLE, code: ICMPV6_UNREACH_PORT, parameter: 0 };
    case ICMP_UNREACH_PROTOCOL:
      return {
        type: ICMPV6_PARAMETER_PROBLEM,
        code: ICMPV6_PARAM_NEXT_HEADER,
        parameter: IPV6_NEXT_HEADER_OFFSET,
      };
    case ICMP_UNREACH_FRAG_NEEDED:
      return { type: ICMPV6_PACKET_TOO_BIG, code: 0, parameter: spec.mtu };
    default: // the administratively prohibited codes (RFC 1812 §5.2.7.1)
      return { type: ICMPV6_DEST_UNREACHABLE, code: ICMPV6_UNREACH_ADMIN, parameter: 0 };
  }
}

/** ICMPv6 codes by the names NPLab gives them (RFC 4443 §3.1, §3.3, §3.4). */
const ICMP6_CODES: Readonly<Record<string, readonly [number, number]>> = {
  no_route: [ICMPV6_DEST_UNREACHABLE, ICMPV6_UNREACH_NO_ROUTE],
  admin_prohibited: [ICMPV6_DEST_UNREACHABLE, ICMPV6_UNREACH_ADMIN],
  not_neighbour: [ICMPV6_DEST_UNREACHABLE, 2], // RFC 2463's "not a neighbor", RFC 4443's "beyond scope"
  beyond_scope: [ICMPV6_DEST_UNREACHABLE, 2],
  address_unreachable: [ICMPV6_DEST_UNREACHABLE, ICMPV6_UNREACH_ADDRESS],
  port_unreachable: [ICMPV6_DEST_UNREACHABLE, ICMPV6_UNREACH_PORT],
  exceeded_hop_limit: [ICMPV6_TIME_EXCEEDED, 0],
  exceeded_frag_time: [ICMPV6_TIME_EXCEEDED, 1],
  header_field: [ICMPV6_PARAMETER_PROBLEM, 0],
  unknown_next_header: [ICMPV6_PARAMETER_PROBLEM, ICMPV6_PARAM_NEXT_HEADER],
  unknown_option: [ICMPV6_PARAMETER_PROBLEM, 2],
};

/** The ICMPv6 message of a line written with ICMPv6 names (`packet_too_big mtu N`, codes above). */
function icmpv6ByName(spec: IcmpSpec): { type: number; code: number; parameter: number } | null {
  if (spec.typeName === "packet_too_big") {
    return { type: ICMPV6_PACKET_TOO_BIG, code: 0, parameter: spec.mtu };
  }
  const tc = ICMP6_CODES[spec.codeName];
  if (tc === undefined) return null;
  const parameter = tc[1] === ICMPV6_PARAM_NEXT_HEADER && tc[0] === ICMPV6_PARAMETER_PROBLEM
    ? IPV6_NEXT_HEADER_OFFSET
    : 0;
  return { type: tc[0], code: tc[1], parameter };
}

/** The first bytes of one of our IPv6 segments as an ICMPv6 error quotes them. */
function buildQuotedSegment6(localPort: number, remotePort: number, seq: number): Uint8Array {
  const q = new Uint8Array(IPV6_HEADER_LEN + ICMP_MIN_QUOTED_DATA_LEN);
  const v = new DataView(q.buffer);
  q[0] = 0x60;
  v.setUint16(4, TCP_HEADER_LEN);
  q[IPV6_NEXT_HEADER_OFFSET] = 6; // TCP
  q[7] = IPV4_DEFAULT_TTL;
  LOCAL_ADDR6.writeTo(q, 8);
  REMOTE_ADDR6.writeTo(q, 24);
  v.setUint16(IPV6_HEADER_LEN, localPort);
  v.setUint16(IPV6_HEADER_LEN + 2, remotePort);
  v.setUint32(IPV6_HEADER_LEN + 4, seq);
  return q;
}

/** Compares NPLab's `(ttl N)` / `(tos X)` with what the stack asked IP for. */
function matchIpHeader(p: PacketSpec, c: Captured): Mismatch | null {
  if (p.ecn !== undefined) {
    const got = (c.tos ?? 0) & ECN_MASK;
    const allowed = OUTBOUND_ECN[p.ecn];
    if (allowed === undefined || !allowed.includes(got)) {
      return { field: "ecn", expected: `[${p.ecn}]`, got: `[${ECN_NAMES[got]}]` };
    }
  }
  const ip = p.ip;
  if (ip === undefined) return null;
  const ttl = c.ttl ?? IPV4_DEFAULT_TTL;
  if (ip.ttl !== undefined && ip.ttl !== ttl) {
    return { field: "ttl", expected: String(ip.ttl), got: String(ttl) };
  }
  // The ECN bits are TCP's (RFC 3168 §5); NPLab's tos compares the DSCP part.
  const tos = c.tos ?? 0;
  if (ip.tos !== undefined && (ip.tos & ~ECN_MASK) !== (tos & ~ECN_MASK)) {
    return {
      field: "tos",
      expected: `0x${ip.tos.toString(16)}`,
      got: `0x${tos.toString(16)}`,
    };
  }
  return null;
}

/** The ECN field of the TOS byte (RFC 3168 §5). */
const ECN_MASK = 0x03;
/** packetdrill ECN tags → the codepoint an inbound datagram carries. */
const INBOUND_ECN: Readonly<Record<string, number>> = {
  noecn: 0,
  ect1: 1,
  ect0: 2,
  ce: 3,
  ect01: 2,
};
/** packetdrill ECN tags → the codepoints an outbound datagram may carry. */
const OUTBOUND_ECN: Readonly<Record<string, readonly number[]>> = {
  noecn: [0],
  ect1: [1],
  ect0: [2],
  ce: [3],
  ect01: [1, 2],
};
const ECN_NAMES = ["noecn", "ect1", "ect0", "ce"];
