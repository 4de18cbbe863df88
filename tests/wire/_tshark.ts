/**
 * Test helper: decode frames with tshark (Wireshark's CLI) and assert that
 * what our encoders emit is clean — no malformed packet, no bad checksum, no
 * error-level expert info — with checksum validation on for IP, TCP and UDP.
 *
 * ```ts ignore
 * import { assertTsharkClean, tsharkDecodeFile } from "./_tshark.ts";
 * const decoded = await assertTsharkClean([frame1, frame2]);   // null = skipped (no tshark)
 * if (decoded) assert.equal(decoded[0].field("ip.ttl"), "64");
 * const ref = await tsharkDecodeFile("tests/testdata/kernel_tcp.pcap");
 * ```
 *
 * {@link assertCaptureClean} checks a whole pcap file (lab captures) with
 * display filters instead, and never skips.
 *
 * When tshark is not installed the frame helpers print the reason and return
 * `null` (callers return early), unless `RAWSTACK_LAB=required`, in which
 * case they throw. Needs `--allow-run=tshark --allow-write --allow-read --allow-env`.
 *
 * @module
 */

import {
  assertCommandDeclared,
  labRequired,
  missingCommandsReason,
  run,
  testWhen,
} from "../../src/testing/lab.ts";
import assert from "node:assert/strict";
import { type PcapRecord, PcapWriter, readPcap } from "../../src/wire/pcap.ts";

/**
 * Absolute path of a file in tests/testdata/ (e.g. "kernel_tcp.pcap").
 *
 * @param name file name
 * @returns the path
 */
export function testdataPath(name: string): string {
  return new URL(`../testdata/${name}`, import.meta.url).pathname;
}

/**
 * Reads the records of a kernel capture in tests/testdata/.
 *
 * @param name e.g. "kernel_arp_icmp_udp.pcap", "kernel_dns.pcap", "kernel_tcp.pcap"
 * @returns the records (data are views into the file bytes)
 */
export function readTestdata(name: string): PcapRecord[] {
  return readPcap(Deno.readFileSync(testdataPath(name))).records;
}

/** Wireshark expert severities (epan/proto.h PI_SEVERITY_MASK values). */
export const TSHARK_SEVERITY_CHAT = 0x00200000;
/** Note severity. */
export const TSHARK_SEVERITY_NOTE = 0x00400000;
/** Warning severity (e.g. TCP "previous segment not captured"): not a failure. */
export const TSHARK_SEVERITY_WARN = 0x00600000;
/** Error severity (bad checksum, malformed, bogus lengths): a failure. */
export const TSHARK_SEVERITY_ERROR = 0x00800000;
/** Expert group of checksum problems (PI_CHECKSUM). */
export const TSHARK_GROUP_CHECKSUM = 0x01000000;
/** Expert group of malformed packets (PI_MALFORMED). */
export const TSHARK_GROUP_MALFORMED = 0x07000000;

/** The checksum options every decode runs with (issue 2: validation on). */
export const TSHARK_CHECKSUM_ARGS: readonly string[] = [
  "-o",
  "ip.check_checksum:TRUE",
  "-o",
  "tcp.check_checksum:TRUE",
  "-o",
  "udp.check_checksum:TRUE",
];

/** One expert-info item tshark attached to a frame. */
export interface TsharkExpert {
  /** e.g. "Bad checksum [should be 0xc462]" */
  message: string;
  /** One of the TSHARK_SEVERITY_* values. */
  severity: number;
  /** Expert group, e.g. {@link TSHARK_GROUP_CHECKSUM}. */
  group: number;
  /** The field the expert item hangs off, e.g. "udp.checksum_tree". */
  path: string;
}

/** What tshark decoded from one frame. */
export interface TsharkFrame {
  /** 1-based frame number. */
  number: number;
  /** `frame.protocols` split on ":", e.g. ["eth", "ethertype", "ip", "udp", "data"]. */
  protocols: string[];
  /**
   * Every leaf field by its display-filter name, all occurrences in document
   * order (so the outer IPv4 header of an ICMP error comes before the quoted one).
   */
  fields: Record<string, string[]>;
  /** All expert-info items. */
  experts: TsharkExpert[];
  /** True when tshark flagged the frame "Malformed Packet". */
  malformed: boolean;
  /** True when any `*.checksum.status` field says Bad (0). */
  badChecksum: boolean;
  /**
   * @param name a display-filter field name, e.g. "ip.ttl"
   * @param index which occurrence (0 = first, outermost)
   * @returns the value as tshark prints it, or undefined when absent
   */
  field(name: string, index?: number): string | undefined;
  /**
   * @param name a numeric field name, e.g. "udp.length" or "ip.id" (hex accepted)
   * @param index which occurrence
   * @returns the number, or NaN when absent
   */
  num(name: string, index?: number): number;
}

let cachedMissingReason: string | null | undefined;

/**
 * Checks once whether tshark can run.
 *
 * @returns null when tshark works, otherwise why not
 */
export async function tsharkMissingReason(): Promise<string | null> {
  if (cachedMissingReason !== undefined) return cachedMissingReason;
  try {
    const out = await new Deno.Command("tshark", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    cachedMissingReason = out.success ? null : `tshark --version exited with ${out.code}`;
  } catch (e) {
    cachedMissingReason = `tshark cannot run: ${e instanceof Error ? e.message : String(e)}`;
  }
  return cachedMissingReason;
}

/**
 * Returns true (after printing why) when an embedded tshark check must be
 * skipped; throws instead when `RAWSTACK_LAB=required`. Tests that are about
 * tshark's decode register with {@link tsharkTest} instead, which names the
 * skip in the test's own line.
 *
 * @param what the test or check being skipped, for the message
 * @returns true when the caller should skip
 */
export async function skipWithoutTshark(what: string): Promise<boolean> {
  const reason = await tsharkMissingReason();
  if (reason === null) return false;
  if (labRequired()) {
    throw new Error(`${what}: tshark is required (RAWSTACK_LAB=required) but ${reason}`);
  }
  console.log(`skipped: tshark check of ${what}: ${reason} (Debian package tshark)`);
  return true;
}

/**
 * Registers a test whose subject is tshark's decode: skipped (reason in its
 * name, with the Debian package) when tshark is not on PATH, failing instead
 * with `RAWSTACK_LAB=required`.
 *
 * @param name test name
 * @param fn the test
 */
export function tsharkTest(name: string, fn: () => void | Promise<void>): void {
  testWhen(name, missingCommandsReason(["tshark"]), fn);
}

function makeFrame(number: number): TsharkFrame {
  const fields: Record<string, string[]> = {};
  return {
    number,
    protocols: [],
    fields,
    experts: [],
    malformed: false,
    badChecksum: false,
    field(name: string, index = 0): string | undefined {
      return fields[name]?.[index];
    },
    num(name: string, index = 0): number {
      const v = fields[name]?.[index];
      return v === undefined ? NaN : Number(v);
    },
  };
}

function addExpert(frame: TsharkFrame, path: string, value: unknown): void {
  const items = Array.isArray(value) ? value : [value];
  for (const item of items) {
    if (item === null || typeof item !== "object") continue;
    const e = item as Record<string, unknown>;
    frame.experts.push({
      message: String(e["_ws.expert.message"] ?? ""),
      severity: Number(e["_ws.expert.severity"] ?? 0),
      group: Number(e["_ws.expert.group"] ?? 0),
      path,
    });
  }
}

function walk(frame: TsharkFrame, node: Record<string, unknown>, parent: string): void {
  for (const [key, value] of Object.entries(node)) {
    if (key === "_ws.malformed") frame.malformed = true;
    if (key === "_ws.expert") addExpert(frame, parent, value);
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (typeof v === "string") {
        (frame.fields[key] ??= []).push(v);
        if (key.endsWith("checksum.status") && v === "0") frame.badChecksum = true;
      } else if (v !== null && typeof v === "object") {
        walk(frame, v as Record<string, unknown>, key);
      }
    }
  }
}

/**
 * Parses `tshark -T json --no-duplicate-keys` output.
 *
 * @param json tshark's stdout
 * @returns one entry per frame
 */
export function parseTsharkJson(json: string): TsharkFrame[] {
  const docs = JSON.parse(json) as Array<{ _source: { layers: Record<string, unknown> } }>;
  return docs.map((doc, i) => {
    const frame = makeFrame(i + 1);
    walk(frame, doc._source.layers, "");
    frame.protocols = (frame.field("frame.protocols") ?? "").split(":").filter((p) => p !== "");
    const n = Number(frame.field("frame.number"));
    if (Number.isInteger(n)) frame.number = n;
    return frame;
  });
}

/** Options of {@link tsharkDecode} / {@link tsharkDecodeFile}. */
export interface TsharkOptions {
  /** More tshark arguments, e.g. ["-o", "tcp.relative_sequence_numbers:FALSE"]. */
  extraArgs?: string[];
  /** What is being decoded, for skip/failure messages. */
  what?: string;
  /**
   * Lowest expert severity that counts as a problem in {@link assertTsharkClean}
   * and {@link tsharkCaptureProblems}: default {@link TSHARK_SEVERITY_ERROR};
   * {@link TSHARK_SEVERITY_WARN} also fails on warnings.
   */
  minSeverity?: number;
}

/**
 * Decodes a pcap file with tshark (checksum validation on).
 *
 * @param path the pcap file
 * @param opts extra arguments
 * @returns one entry per frame, or null when tshark is missing (skip printed)
 */
export async function tsharkDecodeFile(
  path: string,
  opts: TsharkOptions = {},
): Promise<TsharkFrame[] | null> {
  if (await skipWithoutTshark(opts.what ?? path)) return null;
  const args = [
    "-r",
    path,
    ...TSHARK_CHECKSUM_ARGS,
    ...(opts.extraArgs ?? []),
    "-T",
    "json",
    "--no-duplicate-keys",
  ];
  const text = (await runTshark(args)).trim();
  return text === "" ? [] : parseTsharkJson(text);
}

/** Runs tshark with `args`; returns stdout, throws with stderr (sans the root warning) on failure. */
async function runTshark(args: readonly string[]): Promise<string> {
  assertCommandDeclared("tshark");
  const out = await new Deno.Command("tshark", {
    args: [...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).split("\n")
      .filter((l) => l.trim() !== "" && !l.includes("Running as user")).join("\n");
    throw new Error(`tshark ${args.join(" ")} failed (${out.code}): ${stderr}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Options of {@link assertCaptureClean}. */
export interface CaptureCheckOptions {
  /**
   * Decode every TCP payload as plain data: bulk random payload otherwise
   * trips heuristic dissectors (Thrift...) into "malformed" reports about the
   * payload, not TCP.
   */
  tcpPayloadAsData?: boolean;
  /**
   * Accept a TCP checksum of 0xFFFF, from these IPv4 sources only (the kernel
   * peer; rawstack's address too where its device leaves the checksum to the
   * kernel, PACKET_VNET_HDR's default since issue 22). Linux's software
   * checksum (skb_checksum_help) writes a computed 0x0000 as 0xFFFF
   * (CSUM_MANGLED_0); both are zero in one's complement (RFC 1071, RFC 1624
   * §3) and receivers accept it, but tshark flags it. Every other source gets
   * no exception.
   */
  acceptFfffChecksumFrom?: string | readonly string[];
}

const DOTTED_QUAD = /^(?:\d{1,3}\.){3}\d{1,3}$/;

/**
 * Runs tshark over a pcap file (checksum validation on for IPv4, UDP, TCP)
 * and asserts it holds at least `minPackets` packets, none malformed, none
 * with expert info of error severity, none with a bad IPv4 header, ICMP,
 * ICMPv6, UDP or TCP checksum (see `opts` for the two narrow exceptions). Unlike the
 * frame decoders above it never skips: a missing tshark throws.
 *
 * @param path the pcap file
 * @param minPackets fewest packets the capture must hold (0 allowed)
 * @param opts TCP payload as data, the kernel's 0xFFFF checksums
 * @returns tshark's one-line-per-packet summary
 */
export async function assertCaptureClean(
  path: string,
  minPackets = 1,
  opts: CaptureCheckOptions = {},
): Promise<string> {
  const missing = await tsharkMissingReason();
  if (missing !== null) throw new Error(`tshark is needed to check captures: ${missing}`);
  const args = [
    "-r",
    path,
    ...(opts.tcpPayloadAsData ? ["-d", "tcp.port==1-65535,data"] : []),
    ...TSHARK_CHECKSUM_ARGS,
  ];
  const all = await runTshark(args);
  const lines = all.split("\n").filter((l) => l.trim() !== "");
  assert.ok(lines.length >= minPackets, `capture has ${lines.length} packets < ${minPackets}`);
  let exempt = "";
  const accept = opts.acceptFfffChecksumFrom;
  const sources = accept === undefined ? [] : typeof accept === "string" ? [accept] : accept;
  if (sources.length > 0) {
    for (const from of sources) {
      if (!DOTTED_QUAD.test(from)) throw new Error(`not an IPv4 address: "${from}"`);
    }
    exempt = ` && !(tcp.checksum.ffff && (${sources.map((f) => `ip.src == ${f}`).join(" || ")}))`;
  }
  const bad = await runTshark([
    ...args,
    "-Y",
    `_ws.malformed || (_ws.expert.severity >= error${exempt}) || ` +
    "ip.checksum.status == 0 || udp.checksum.status == 0 || icmp.checksum.status == 0 || " +
    "icmpv6.checksum.status == 0 || " +
    `(tcp.checksum.status == 0${exempt})`,
  ]);
  assert.equal(bad.trim(), "", `tshark found malformed/bad-checksum packets:\n${bad}`);
  return all;
}

/**
 * Writes frames to a temporary pcap (microsecond, LINKTYPE_ETHERNET) and
 * decodes it with tshark.
 *
 * @param frames Ethernet frames, each a whole Uint8Array
 * @param opts extra arguments
 * @returns one entry per frame, or null when tshark is missing (skip printed)
 */
export async function tsharkDecode(
  frames: readonly Uint8Array[],
  opts: TsharkOptions = {},
): Promise<TsharkFrame[] | null> {
  if (await skipWithoutTshark(opts.what ?? `${frames.length} frame(s)`)) return null;
  const path = await Deno.makeTempFile({ prefix: "rawstack-tshark-", suffix: ".pcap" });
  try {
    const writer = await PcapWriter.create(path);
    frames.forEach((f, i) => writer.writeFrame(f, 0, f.length, 1_700_000_000_000 + i));
    writer.close();
    const decoded = await tsharkDecodeFile(path, opts);
    if (decoded !== null && decoded.length !== frames.length) {
      throw new Error(`tshark decoded ${decoded.length} frames, ${frames.length} were written`);
    }
    return decoded;
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}

/**
 * Lists what is wrong with a decoded frame: malformed, bad checksum, or
 * expert info of at least `minSeverity`. By default warnings (e.g. TCP
 * sequence analysis) are ignored.
 *
 * @param frame a decoded frame
 * @param minSeverity lowest expert severity reported (default {@link TSHARK_SEVERITY_ERROR})
 * @returns human-readable problems, empty when clean
 */
export function tsharkProblems(
  frame: TsharkFrame,
  minSeverity: number = TSHARK_SEVERITY_ERROR,
): string[] {
  const problems: string[] = [];
  if (frame.malformed) problems.push("malformed packet");
  if (frame.badChecksum) problems.push("bad checksum status");
  for (const e of frame.experts) {
    if (e.severity >= minSeverity) {
      const level = e.severity >= TSHARK_SEVERITY_ERROR ? "error" : "warning";
      problems.push(`expert ${level} at ${e.path}: ${e.message}`);
    }
  }
  return problems;
}

/**
 * tshark's decoding as rows in the column order of `fields` (occurrences
 * joined by `sep`); "_ws.malformed" and "_ws.expert.severity" columns are
 * filled from the frame's malformed flag and error-level problem list
 * ({@link tsharkProblems}).
 *
 * @param frames decoded frames
 * @param fields field names, one column each
 * @param sep what joins a field's occurrences in one cell
 * @returns one row per frame
 */
export function tsharkRows(
  frames: TsharkFrame[],
  fields: readonly string[],
  sep = ",",
): string[][] {
  return frames.map((fr) =>
    fields.map((f) =>
      f === "_ws.malformed"
        ? (fr.malformed ? "1" : "")
        : f === "_ws.expert.severity"
        ? tsharkProblems(fr).join("; ")
        : (fr.fields[f] ?? []).join(sep)
    )
  );
}

/**
 * Runs `tshark -r path [args] [-Y filter] -T fields -e …` over a capture file
 * (the caller lists `tshark` in its test's commands) and splits its output:
 * one row per matching frame with a non-empty line, one cell per field.
 *
 * @param path the pcap file
 * @param fields field names, one column each
 * @param opts `filter`: a display filter; `args`: extra tshark arguments (`-d`, `-o`)
 * @returns the rows
 */
export async function tsharkFieldRows(
  path: string,
  fields: readonly string[],
  opts: { filter?: string; args?: readonly string[] } = {},
): Promise<string[][]> {
  const r = await run([
    "tshark",
    "-r",
    path,
    ...(opts.args ?? []),
    ...(opts.filter === undefined ? [] : ["-Y", opts.filter]),
    "-T",
    "fields",
    ...fields.flatMap((f) => ["-e", f]),
  ]);
  return r.stdout.split("\n").filter((l) => l.trim() !== "").map((l) => l.split("\t"));
}

/**
 * Decodes frames with tshark and lists, per frame with a problem (see
 * {@link tsharkProblems}), one line `frame N (protocols): problems`.
 *
 * @param frames Ethernet frames our encoders produced
 * @param opts extra arguments, `minSeverity`
 * @returns the problem lines (empty = clean), or null when skipped (no tshark)
 */
export async function tsharkCaptureProblems(
  frames: readonly Uint8Array[],
  opts: TsharkOptions = {},
): Promise<string[] | null> {
  const decoded = await tsharkDecode(frames, opts);
  if (decoded === null) return null;
  return frameFailures(decoded, opts.minSeverity);
}

/** One line `frame N (protocols): problems` per decoded frame with a problem. */
function frameFailures(decoded: readonly TsharkFrame[], minSeverity?: number): string[] {
  const failures: string[] = [];
  for (const frame of decoded) {
    const problems = tsharkProblems(frame, minSeverity);
    if (problems.length > 0) {
      failures.push(`frame ${frame.number} (${frame.protocols.join(":")}): ${problems.join("; ")}`);
    }
  }
  return failures;
}

/**
 * Decodes frames with tshark and throws when any frame is malformed, has a
 * bad IP/TCP/UDP/ICMP checksum, or carries expert info of at least
 * `opts.minSeverity` (default: error level).
 *
 * @param frames Ethernet frames our encoders produced
 * @param opts extra arguments, `minSeverity`
 * @returns the decoded frames for further field comparisons, or null when skipped
 * @throws {Error} naming each frame's problems and its protocols
 */
export async function assertTsharkClean(
  frames: readonly Uint8Array[],
  opts: TsharkOptions = {},
): Promise<TsharkFrame[] | null> {
  const decoded = await tsharkDecode(frames, opts);
  if (decoded === null) return null;
  const failures = frameFailures(decoded, opts.minSeverity);
  if (failures.length > 0) {
    throw new Error(
      `tshark is not happy${opts.what ? ` with ${opts.what}` : ""}:\n  ${failures.join("\n  ")}`,
    );
  }
  return decoded;
}
