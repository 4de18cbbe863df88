/**
 * `deno task conformance [--portable] [--strict] [--profile linux|freebsd|rfc]
 * [--define NAME]... [--json FILE] [--verbose] [PATH...]`
 *
 * Runs every `.pkt` script under each PATH (default: `tests/conformance`
 * and `../shared/conformance` relative to the repository root) and prints a
 * table per folder — pass / fail / not applicable — then the line
 * `conformance: P pass, F fail, N not applicable`. With `--json FILE` one
 * record per script is written. Without `--portable` or `--strict`, our own
 * folder (`tests/conformance`) runs strict and every other folder portable.
 *
 * Profiles (profiles.ts): without `--profile` each script takes its suite's —
 * `freebsd-*` folders `freebsd`, `google/` and `gvisor/` `linux`, anything
 * else rawstack's defaults. `--define NAME` adds a name for `#ifdef` blocks
 * to the profile's own (`FreeBSD`, `Linux`, `STANDARD`).
 *
 * Permissions: `--allow-read` (scripts), `--allow-write` (for `--json`),
 * `--allow-env` (none required; tolerated).
 *
 * @module
 */

import { normalize } from "node:path";
import { parseArgs } from "node:util";
import { defaultProfileFor, PROFILE_NAMES, profileByName, type ProfileName } from "./profiles.ts";
import { runScriptText, type ScriptResult } from "./runner.ts";

/** One script's record in the JSON report. */
export interface ConformanceRecord extends ScriptResult {
  /** Path relative to the suite root given on the command line. */
  script: string;
  /** The suite root (a PATH argument). */
  suite: string;
  /** Mode used. */
  mode: "strict" | "portable";
  /** Profile used (absent: rawstack's defaults). */
  profile?: ProfileName;
}

/** How {@link runSuite} runs each script. */
export interface SuiteOptions {
  /** A profile for every script (default: each suite folder's, see profiles.ts). */
  profile?: ProfileName;
  /** Extra `#ifdef` names. */
  defines?: readonly string[];
}

/** Exit status when some script failed. */
const EXIT_FAILURES = 1;
/** Exit status for bad usage. */
const EXIT_USAGE = 2;

/**
 * Every `.pkt` file under `root` (recursively), sorted, as paths relative to it.
 *
 * @param root a directory (or a single .pkt file)
 * @returns relative paths; `[]` when root does not exist
 *
 * Permissions: read access to `root`.
 *
 * @example
 * ```ts
 * import { listScripts } from "./cli.ts";
 * console.assert(listScripts("/nonexistent-dir-for-doc-test").length === 0);
 * ```
 */
export function listScripts(root: string): string[] {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(root);
  } catch {
    return [];
  }
  if (info.isFile) return root.endsWith(".pkt") ? [""] : [];
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    const entries = [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory) walk(`${dir}/${e.name}`, r);
      else if (e.isFile && e.name.endsWith(".pkt")) out.push(r);
    }
  };
  walk(root, "");
  return out;
}

/**
 * Runs every script of one suite.
 *
 * @param root suite directory
 * @param portable portable (true) or strict mode
 * @returns one record per script
 *
 * Permissions: read access to `root`.
 *
 * @example
 * ```ts
 * import { runSuite } from "./cli.ts";
 * console.assert(runSuite("/nonexistent-dir-for-doc-test", true).length === 0);
 * ```
 */
export function runSuite(
  root: string,
  portable: boolean,
  opts: SuiteOptions = {},
): ConformanceRecord[] {
  const out: ConformanceRecord[] = [];
  for (const rel of listScripts(root)) {
    const path = rel === "" ? root : `${root}/${rel}`;
    const profile = opts.profile ?? defaultProfileFor(rel === "" ? path : `${root}/${rel}`) ??
      undefined;
    let result: ScriptResult;
    try {
      const defaultToleranceUsecs = suiteToleranceUsecs(path);
      result = runScriptText(Deno.readTextFileSync(path), {
        portable,
        defaultToleranceUsecs,
        profile,
        defines: opts.defines,
      });
    } catch (e) {
      result = { status: "fail", reason: `cannot read: ${e}` };
    }
    const record: ConformanceRecord = {
      script: rel === "" ? path : rel,
      suite: root,
      mode: portable ? "portable" : "strict",
      ...result,
    };
    if (profile !== undefined) record.profile = profile;
    out.push(record);
  }
  return out;
}

/**
 * Command-line tolerances the outside suites' own harnesses use, keyed by a
 * folder name in the script's path. gVisor runs every script of
 * test/packetdrill with `--tolerance_usecs=100000` (its packetdrill_test.sh).
 */
const SUITE_TOLERANCE_USECS: ReadonlyArray<readonly [folder: string, usecs: number]> = [
  ["gvisor", 100_000],
];

function suiteToleranceUsecs(path: string): number | undefined {
  const parts = path.split("/");
  for (const [folder, usecs] of SUITE_TOLERANCE_USECS) {
    if (parts.includes(folder)) return usecs;
  }
  return undefined;
}

function folderOf(r: ConformanceRecord): string {
  const i = r.script.lastIndexOf("/");
  return i < 0 ? r.suite : `${r.suite}/${r.script.slice(0, i)}`;
}

/**
 * Formats the per-folder table and the totals line.
 *
 * @param records results
 * @param verbose list every script, not only failures and n/a
 * @returns printable text whose last line is `conformance: P pass, F fail, N not applicable`
 *
 * @example
 * ```ts
 * import { formatReport } from "./cli.ts";
 * const text = formatReport([{ script: "a.pkt", suite: "s", mode: "strict", status: "pass" }], false);
 * console.assert(text.endsWith("conformance: 1 pass, 0 fail, 0 not applicable"));
 * ```
 */
export function formatReport(records: readonly ConformanceRecord[], verbose: boolean): string {
  const lines: string[] = [];
  const folders = new Map<string, ConformanceRecord[]>();
  for (const r of records) {
    const f = folderOf(r);
    if (!folders.has(f)) folders.set(f, []);
    folders.get(f)!.push(r);
  }
  const count = (l: readonly ConformanceRecord[], s: string) =>
    l.filter((r) => r.status === s).length;
  const width = Math.max(6, ...[...folders.keys()].map((k) => k.length));
  lines.push(`${"folder".padEnd(width)}  mode      pass  fail   n/a`);
  for (const [f, l] of folders) {
    lines.push(
      `${f.padEnd(width)}  ${l[0].mode.padEnd(8)} ${String(count(l, "pass")).padStart(5)} ${
        String(count(l, "fail")).padStart(5)
      } ${String(count(l, "n/a")).padStart(5)}`,
    );
  }
  const detail = records.filter((r) => verbose || r.status !== "pass");
  if (detail.length > 0) lines.push("");
  for (const r of detail) {
    const where = r.line !== undefined ? `:${r.line}` : "";
    lines.push(`${r.status.padEnd(4)} ${r.suite}/${r.script}${where}  ${r.reason ?? ""}`);
    if (r.status === "fail" && r.expected !== undefined) {
      lines.push(`       expected: ${r.expected}`);
    }
    if (r.status === "fail" && r.got !== undefined) lines.push(`       got:      ${r.got}`);
  }
  lines.push(
    `conformance: ${count(records, "pass")} pass, ${count(records, "fail")} fail, ${
      count(records, "n/a")
    } not applicable`,
  );
  return lines.join("\n");
}

/**
 * The command line.
 *
 * @param argv arguments
 * @returns the exit status (0 when nothing failed)
 *
 * Permissions: read (scripts), write (for `--json`).
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * console.assert(typeof main === "function");
 * ```
 */
export function main(argv: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        portable: { type: "boolean", default: false },
        strict: { type: "boolean", default: false },
        json: { type: "string" },
        profile: { type: "string" },
        define: { type: "string", multiple: true },
        verbose: { type: "boolean", short: "v", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      allowPositionals: true,
    });
  } catch (e) {
    console.error(`${e instanceof Error ? e.message : e}`);
    return EXIT_USAGE;
  }
  const v = parsed.values;
  if (v.help) {
    console.log(
      "usage: deno task conformance [--portable|--strict] [--profile linux|freebsd|rfc] " +
        "[--define NAME]... [--json FILE] [--verbose] [PATH...]",
    );
    return 0;
  }
  if (v.profile !== undefined && profileByName(v.profile) === null) {
    console.error(`--profile must be one of ${PROFILE_NAMES.join(", ")}`);
    return EXIT_USAGE;
  }
  const suiteOpts: SuiteOptions = {
    profile: v.profile as ProfileName | undefined,
    defines: v.define ?? [],
  };
  const repoRoot = new URL("../../../", import.meta.url).pathname.replace(/\/$/, "");
  const own = `${repoRoot}/tests/conformance`;
  let paths = parsed.positionals;
  if (paths.length === 0) {
    paths = [own];
    const shared = `${repoRoot}/../shared/conformance`;
    if (listScripts(shared).length > 0) paths.push(shared);
    else console.log(`note: ${shared} is absent: outside suites skipped`);
  }
  const records: ConformanceRecord[] = [];
  for (const p of paths) {
    const root = normalize(p).replace(/\/$/, "");
    let exists = true;
    try {
      Deno.statSync(root);
    } catch {
      exists = false;
    }
    if (!exists) {
      console.log(`note: ${root} is absent: skipped`);
      continue;
    }
    const portable = v.portable ? true : v.strict ? false : !isSameDir(root, own);
    records.push(...runSuite(root, portable, suiteOpts));
  }
  console.log(formatReport(records, v.verbose));
  if (v.json !== undefined) {
    // A JSON array, one record per line.
    Deno.writeTextFileSync(v.json, `[\n${records.map((r) => JSON.stringify(r)).join(",\n")}\n]\n`);
  }
  return records.some((r) => r.status === "fail") ? EXIT_FAILURES : 0;
}

function isSameDir(a: string, b: string): boolean {
  try {
    return Deno.realPathSync(a) === Deno.realPathSync(b);
  } catch {
    return false;
  }
}

if (import.meta.main) Deno.exit(main(Deno.args));
