/**
 * Runner profiles: the tunables of the operating system a packetdrill suite
 * was written against, so that an outside script fails only on behaviour,
 * never on a default that system happens to have.
 *
 * A profile gives
 * - engine settings ({@link TcpConfig}) matching that system's documented
 *   defaults: the SYN retransmission schedule, the delayed-ACK policy for the
 *   first data segment, keep-alive timers, which ICMP errors abort a
 *   connection attempt;
 * - the names defined for NPLab's `#ifdef` blocks (`Linux`, `FreeBSD`,
 *   `STANDARD`);
 * - the sysctls it recognises in the script's backtick commands
 *   (`sysctl -w net.inet.tcp.sack.enable=0`, `sysctl -q net.ipv4.tcp_ecn=1`,
 *   `set_sysctls.py /proc/sys/net/ipv4/tcp_timestamps=0`), applied to the
 *   engine when the command's time comes. Every other command is skipped.
 *
 * Sources: FreeBSD `sys/netinet/tcp_timer.c` (tcp_backoff, TCPT_RANGESET with
 * rexmit_slop 200 ms, TCPTV_KEEP_INIT 75 s, TCPTV_KEEP_IDLE 2 h, TCPTV_KEEPINTVL
 * 75 s, TCPTV_KEEPCNT 8), `tcp_input.c` (delayed ACK for the first segment,
 * net.inet.tcp.delacktime 100 ms), `tcp_subr.c` (tcp_ctlinput, icmp_may_rst=1);
 * Linux `Documentation/networking/ip-sysctl.rst` (tcp_syn_retries 6,
 * tcp_keepalive_time 7200, tcp_keepalive_intvl 75, tcp_keepalive_probes 9,
 * quick-ACK mode, delayed ACK 40 ms min); RFC 9293 / RFC 1122 / RFC 5681 for
 * `rfc`.
 *
 * @module
 */

import type { TcpConfig } from "../../tcp/config.ts";

/** Names of the profiles. */
export type ProfileName = "linux" | "freebsd" | "rfc";

/** The profile names, for usage messages. */
export const PROFILE_NAMES: readonly ProfileName[] = ["linux", "freebsd", "rfc"];

/** A mutable engine configuration a sysctl writes into. */
type ConfigTarget = { -readonly [K in keyof TcpConfig]: TcpConfig[K] };

/** One recognised sysctl: how its value changes the engine configuration. */
type SysctlApply = (config: ConfigTarget, value: number) => void;

/**
 * Sysctls naming a mechanism rawstack does not have: a script that turns one on is not
 * applicable (value → reason), rather than failing on behaviour it never asked of us.
 */
const UNSUPPORTED_SYSCTLS: Readonly<Record<string, string>> = {
  "net.ipv4.tcp_mtu_probing": "packetization-layer PMTU probing (RFC 4821, Linux tcp_mtu_probing)",
  "net.ipv4.tcp_fastopen": "TCP Fast Open (RFC 7413)",
  "net.inet.tcp.fastopen.client_enable": "TCP Fast Open (RFC 7413)",
  "net.inet.tcp.fastopen.server_enable": "TCP Fast Open (RFC 7413)",
};

/**
 * Why a backtick command makes a script not applicable: it turns on a mechanism rawstack
 * does not implement. Null when it does not.
 *
 * @param command the command text
 * @returns a reason, or null
 *
 * @example
 * ```ts
 * import { unsupportedSysctlReason } from "./profiles.ts";
 * console.assert(unsupportedSysctlReason("set_sysctls.py /proc/sys/net/ipv4/tcp_mtu_probing=2") !== null);
 * console.assert(unsupportedSysctlReason("sysctl -q net.ipv4.tcp_mtu_probing=0") === null);
 * ```
 */
export function unsupportedSysctlReason(command: string): string | null {
  for (const { name, value } of sysctlAssignments(command)) {
    const what = UNSUPPORTED_SYSCTLS[name];
    if (what !== undefined && value !== "0") return `${what} is not implemented (${name}=${value})`;
  }
  return null;
}

/** What a profile sets. */
export interface Profile {
  /** Its name. */
  readonly name: ProfileName;
  /** Names defined for `#ifdef`. */
  readonly defines: readonly string[];
  /** Engine settings for the run. */
  readonly config: Readonly<Partial<TcpConfig>>;
  /** Sysctls it recognises, by name (`net.inet.tcp.sack.enable`, `net.ipv4.tcp_sack`). */
  readonly sysctls: Readonly<Record<string, SysctlApply>>;
}

const MS_PER_SECOND = 1000;

/** Linux `net.ipv4.tcp_ecn`: 0 off, 1 request and accept, 2 accept only. */
function ecnMode(v: number): "off" | "on" | "passive" {
  return v === 1 ? "on" : v === 2 ? "passive" : "off";
}

const LINUX_SYSCTLS: Record<string, SysctlApply> = {
  "net.ipv4.tcp_sack": (c, v) => c.sack = v !== 0,
  "net.ipv4.tcp_timestamps": (c, v) => c.timestamps = v !== 0,
  "net.ipv4.tcp_window_scaling": (c, v) => c.windowScaling = v !== 0,
  "net.ipv4.tcp_syn_retries": (c, v) => c.synRetries = v,
  "net.ipv4.tcp_synack_retries": (c, v) => c.synAckRetries = v,
  "net.ipv4.tcp_retries2": (c, v) => c.dataRetries = v,
  "net.ipv4.tcp_keepalive_time": (c, v) => c.keepAliveIdleMs = v * MS_PER_SECOND,
  "net.ipv4.tcp_keepalive_intvl": (c, v) => c.keepAliveIntervalMs = v * MS_PER_SECOND,
  "net.ipv4.tcp_keepalive_probes": (c, v) => c.keepAliveProbes = v,
  "net.ipv4.tcp_fin_timeout": (c, v) => c.timeWaitMs = v * MS_PER_SECOND,
  "net.ipv4.tcp_syncookies": (c, v) => c.synCookies = v !== 0,
  "net.ipv4.tcp_challenge_ack_limit": (c, v) => c.challengeAckGlobalLimitPerSecond = v,
  "net.ipv4.tcp_ecn": (c, v) => c.ecn = ecnMode(v),
  "net.ipv4.tcp_ecn_fallback": (c, v) => c.ecnSynRetries = v !== 0 ? 0 : Number.MAX_SAFE_INTEGER,
};

const FREEBSD_SYSCTLS: Record<string, SysctlApply> = {
  "net.inet.tcp.sack.enable": (c, v) => c.sack = v !== 0,
  // RFC 1323 (now RFC 7323) both window scaling and timestamps.
  "net.inet.tcp.rfc1323": (c, v) => {
    c.windowScaling = v === 1 || v === 2;
    c.timestamps = v === 1 || v === 3;
  },
  "net.inet.tcp.rexmit_initial": (c, v) => c.initialRtoMs = v,
  "net.inet.tcp.rexmit_min": (c, v) => c.minRtoMs = v,
  "net.inet.tcp.rexmit_slop": (c, v) => c.synRtoSlopMs = v,
  // tcp_timer.c: with rexmit_drop_options the third SYN retransmission drops the options.
  "net.inet.tcp.rexmit_drop_options": (c, v) => c.synDropOptionsAfter = v !== 0 ? 3 : 0,
  "net.inet.tcp.keepidle": (c, v) => c.keepAliveIdleMs = v,
  "net.inet.tcp.keepintvl": (c, v) => c.keepAliveIntervalMs = v,
  "net.inet.tcp.keepcnt": (c, v) => c.keepAliveProbes = v,
  "net.inet.tcp.keepinit": (c, v) => c.keepAliveInitMs = v,
  "net.inet.tcp.delacktime": (c, v) => c.delayedAckMs = v,
  "net.inet.tcp.icmp_may_rst": (c, v) => c.icmpAbortsConnect = v !== 0 ? "hard" : "none",
  "net.inet.tcp.syncookies": (c, v) => c.synCookies = v !== 0,
  "net.inet.tcp.msl": (c, v) => c.timeWaitMs = 2 * v,
  "net.inet.tcp.ecn.enable": (c, v) => c.ecn = ecnMode(v),
  "net.inet.tcp.ecn.maxretries": (c, v) => c.ecnSynRetries = v,
  "net.inet.tcp.recvspace": (c, v) => c.receiveBufferBytes = v,
  "net.inet.tcp.sendspace": (c, v) => c.sendBufferBytes = v,
};

const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  linux: {
    name: "linux",
    defines: ["Linux"],
    // rawstack's defaults are Linux's (see DEFAULT_TCP_CONFIG).
    config: {
      icmpAbortsConnect: "all",
      quickAck: true,
      synRtoSlopMs: 0,
      keepAliveInitMs: 0,
      // tcp_ecn=2, tcp_ecn_fallback=1.
      ecn: "passive",
      ecnSynRetries: 0,
      // tcp_cubic.c's congestion avoidance (bictcp_update per jiffy), not RFC 9438's.
      cubicLinuxGrowth: true,
      // tcp_rtt_estimator: rttvar_us never below tcp_rto_min; RTO = SRTT + rttvar.
      minRtoOnVariance: true,
    },
    sysctls: LINUX_SYSCTLS,
  },
  freebsd: {
    name: "freebsd",
    defines: ["FreeBSD"],
    config: {
      // tcp_timer.c: SYNs at 0, 1, 3.2, 7.4 … s (rexmit_initial 1 s, backoff + 200 ms slop).
      initialRtoMs: 1000,
      synRtoSlopMs: 200,
      // tcp_syn_backoff / TCP_MAXRXTSHIFT as the FreeBSD snd-syn scripts count: 11 SYNs.
      synRetries: 10,
      // TCPTV_REXMTMAX: 64 s.
      maxRtoMs: 64_000,
      // tcp_input.c: the first data segment is delayed like any other (no quick-ACK mode).
      quickAck: false,
      delayedAckMs: 100,
      keepAliveIdleMs: 7_200_000,
      keepAliveIntervalMs: 75_000,
      keepAliveProbes: 8,
      keepAliveInitMs: 75_000,
      icmpAbortsConnect: "hard",
      // tcp_input.c: RCV.WND is max(sbspace, rcv_adv - rcv_nxt); tcp_mss_update rounds the
      // receive buffer up to whole segments.
      rcvWindowFromBuffer: true,
      receiveBufferRoundToMss: true,
      // net.inet.tcp.ecn.enable=2, ecn.maxretries=1.
      ecn: "passive",
      ecnSynRetries: 1,
      // net.inet.tcp.recvspace / sendspace.
      receiveBufferBytes: 65_536,
      sendBufferBytes: 32_768,
      // The scripts expect the window of a fixed recvspace (no net.inet.tcp.recvbuf_auto).
      receiveBufferMaxBytes: 0,
      // tcp_output.c: tcp_outflags[] sets TH_FIN in FIN-WAIT-1, CLOSING and LAST-ACK.
      finOnEveryAck: true,
      // tcp_input.c: a segment for a bound, non-listening inpcb is dropped with reset through
      // that inpcb (tcp_dropwithreset), so the RST carries its IP_TTL / IP_TOS.
      resetFromBoundSocket: true,
    },
    sysctls: FREEBSD_SYSCTLS,
  },
  rfc: {
    name: "rfc",
    defines: ["STANDARD"],
    config: {
      // RFC 5681 §4.2: an ACK for every second full-sized segment; RFC 9293 §3.8.6.3:
      // delayed ACK under 0.5 s (RFC 1122 §4.2.3.2 commonly 200 ms), no quick-ACK mode.
      quickAck: false,
      ackBatching: false,
      delayedAckMs: 200,
      // RFC 9438 §4.3: alpha_cubic ≈ 0.53 until W_est reaches cwnd_prior.
      cubicRenoFriendly: "rfc9438",
      // RFC 6298 §2.1, §2.4.
      initialRtoMs: 1000,
      minRtoMs: 1000,
      synRtoSlopMs: 0,
      // RFC 1122 §4.2.3.9: only protocol/port unreachable are hard errors.
      icmpAbortsConnect: "hard",
      keepAliveInitMs: 0,
    },
    sysctls: {},
  },
};

/**
 * A profile by name.
 *
 * @param name linux, freebsd or rfc
 * @returns the profile, or null for an unknown name
 *
 * @example
 * ```ts
 * import { profileByName } from "./profiles.ts";
 * console.assert(profileByName("freebsd")?.defines[0] === "FreeBSD");
 * console.assert(profileByName("windows") === null);
 * ```
 */
export function profileByName(name: string): Profile | null {
  return Object.hasOwn(PROFILES, name) ? PROFILES[name as ProfileName] : null;
}

/**
 * The profile a suite folder gets by default: `freebsd-*` folders were written
 * for FreeBSD, `google/` and `gvisor/` for Linux; anything else (our own
 * `tests/conformance`) runs with rawstack's defaults.
 *
 * @param path a script's path
 * @returns the profile name, or null
 *
 * @example
 * ```ts
 * import { defaultProfileFor } from "./profiles.ts";
 * console.assert(defaultProfileFor("../shared/conformance/freebsd-snd-syn/a.pkt") === "freebsd");
 * console.assert(defaultProfileFor("x/gvisor/a.pkt") === "linux");
 * console.assert(defaultProfileFor("tests/conformance/a.pkt") === null);
 * ```
 */
export function defaultProfileFor(path: string): ProfileName | null {
  for (const part of path.split("/")) {
    if (part.startsWith("freebsd-") || part === "freebsd") return "freebsd";
    if (part === "google" || part === "gvisor" || part === "linux") return "linux";
  }
  return null;
}

/** One `name=value` a backtick command sets. */
export interface SysctlAssignment {
  /** Dotted name (`net.ipv4.tcp_sack`), `/proc/sys/` paths converted. */
  name: string;
  /** The value as written. */
  value: string;
}

/**
 * The sysctl assignments in a backtick command: `sysctl -w a=b`, `sysctl -q
 * a=b c=d`, `set_sysctls.py /proc/sys/net/ipv4/tcp_x=y` (Linux packetdrill's
 * helper), over several lines. Other commands give nothing.
 *
 * @param command the command text
 * @returns the assignments in order
 *
 * @example
 * ```ts
 * import { sysctlAssignments } from "./profiles.ts";
 * const a = sysctlAssignments("../common/defaults.sh\nsysctl -q net.ipv4.tcp_ecn=1  # on");
 * console.assert(a.length === 1 && a[0].name === "net.ipv4.tcp_ecn" && a[0].value === "1");
 * const b = sysctlAssignments("set_sysctls.py /proc/sys/net/ipv4/tcp_timestamps=0");
 * console.assert(b[0].name === "net.ipv4.tcp_timestamps");
 * ```
 */
export function sysctlAssignments(command: string): SysctlAssignment[] {
  const out: SysctlAssignment[] = [];
  const text = command.replace(/\\\n/g, " ");
  for (const rawLine of text.split(/\n|;|&&/)) {
    const line = rawLine.replace(/#.*$/, "").trim();
    const words = line.split(/\s+/);
    const tool = words[0]?.split("/").pop() ?? "";
    if (tool !== "sysctl" && tool !== "set_sysctls.py") continue;
    for (const w of words.slice(1)) {
      const m = /^([A-Za-z0-9_./-]+)=(\S*)$/.exec(w);
      if (m === null) continue;
      const name = m[1].startsWith("/proc/sys/")
        ? m[1].slice("/proc/sys/".length).replaceAll("/", ".")
        : m[1];
      out.push({ name, value: m[2] });
    }
  }
  return out;
}

/**
 * Applies the sysctls of one command that a profile recognises.
 *
 * @param profile the profile
 * @param command the backtick command
 * @param config the engine configuration to change (the running layer's)
 * @returns the names applied
 *
 * @example
 * ```ts
 * import { applySysctls, profileByName } from "./profiles.ts";
 * import { resolveTcpConfig } from "../../tcp/config.ts";
 * const c = resolveTcpConfig();
 * applySysctls(profileByName("freebsd")!, "sysctl -w net.inet.tcp.sack.enable=0", c);
 * console.assert(c.sack === false);
 * ```
 */
export function applySysctls(profile: Profile, command: string, config: TcpConfig): string[] {
  const applied: string[] = [];
  for (const { name, value } of sysctlAssignments(command)) {
    const apply = profile.sysctls[name];
    if (apply === undefined) continue;
    const v = Number(value);
    if (!Number.isFinite(v)) continue;
    apply(config as ConfigTarget, v);
    applied.push(name);
  }
  return applied;
}
