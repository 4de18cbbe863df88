/**
 * Argument parsing for the `rawstack` command line: `node:util` `parseArgs`
 * in strict mode, with every failure turned into a {@link UsageError} (one
 * line, exit code 2) and typed helpers for numbers and choices.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** Exit code for wrong input (like most Unix tools, e.g. grep). */
export const EXIT_USAGE = 2;
/** Exit code for a failure of the operation itself (host unreachable, file missing...). */
export const EXIT_FAILURE = 1;

/**
 * Wrong command-line input. `main` prints its message as one line and exits with 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "./args.ts";
 * console.assert(new UsageError("no host").message === "no host");
 * ```
 */
export class UsageError extends Error {
  /**
   * Creates the error.
   *
   * @param message what is wrong and, where useful, what to type instead
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** One option of a subcommand, as `parseArgs` takes it, plus its help text. */
export interface OptionSpec {
  /** `"string"` (takes a value) or `"boolean"` (a switch). */
  type: "string" | "boolean";
  /** One-letter alias, e.g. `"o"`. */
  short?: string;
  /** Help text. */
  help: string;
  /** Name of the value in the help, e.g. `"FILE"`. */
  value?: string;
}

/** Parsed command line of a subcommand. */
export interface ParsedArgs {
  /** Option values by long name (strings for string options, true for switches). */
  values: Record<string, string | boolean | undefined>;
  /** Positional arguments. */
  positionals: string[];
}

/**
 * Parses `argv` strictly against `options`; unknown options, missing values
 * and stray positionals become {@link UsageError}s.
 *
 * @param argv the arguments after the subcommand name
 * @param options option specs by long name
 * @param maxPositionals how many positionals are allowed
 * @returns values and positionals
 * @throws {UsageError} on any mistake
 *
 * @example
 * ```ts
 * import { parseCommandLine } from "./args.ts";
 * const p = parseCommandLine(["-c", "3", "host"], { count: { type: "string", short: "c", help: "" } }, 1);
 * console.assert(p.values.count === "3" && p.positionals[0] === "host");
 * ```
 */
export function parseCommandLine(
  argv: string[],
  options: Record<string, OptionSpec>,
  maxPositionals: number,
): ParsedArgs {
  const spec: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, o] of Object.entries(options)) {
    spec[name] = o.short !== undefined ? { type: o.type, short: o.short } : { type: o.type };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: spec, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError(cleanParseError(e));
  }
  if (parsed.positionals.length > maxPositionals) {
    const extra = parsed.positionals[maxPositionals];
    throw new UsageError(`unexpected argument "${extra}"`);
  }
  return {
    values: parsed.values as Record<string, string | boolean | undefined>,
    positionals: parsed.positionals,
  };
}

function cleanParseError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  // node:util messages are long and mention "strict"; keep the first sentence.
  const first = message.split(/\. |\n/)[0].replace(/^Unknown option/, "unknown option");
  return first.replace(/'/g, '"');
}

/**
 * An integer option within bounds.
 *
 * @param value the raw value (undefined = use the default)
 * @param name option name for the message
 * @param fallback default
 * @param min smallest allowed
 * @param max largest allowed
 * @returns the number
 * @throws {UsageError} when not an integer in [min, max]
 *
 * @example
 * ```ts
 * import { intOption } from "./args.ts";
 * console.assert(intOption("5", "count", 4, 1, 10) === 5 && intOption(undefined, "count", 4, 1, 10) === 4);
 * ```
 */
export function intOption(
  value: string | boolean | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const text = String(value);
  const v = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return v;
}

/**
 * A string option's value, or undefined.
 *
 * @param value the raw value
 * @returns the string or undefined
 *
 * @example
 * ```ts
 * import { stringOption } from "./args.ts";
 * console.assert(stringOption("x") === "x" && stringOption(undefined) === undefined);
 * ```
 */
export function stringOption(value: string | boolean | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * Formats the help of a subcommand.
 *
 * @param usage the usage line, e.g. `"rawstack ping [options] HOST"`
 * @param summary what the command does (may span lines)
 * @param options its options
 * @param footer extra lines (examples)
 * @returns the help text
 *
 * @example
 * ```ts
 * import { formatHelp } from "./args.ts";
 * const h = formatHelp("rawstack x", "Does x.", { verbose: { type: "boolean", help: "more" } });
 * console.assert(h.includes("--verbose") && h.startsWith("Usage: rawstack x"));
 * ```
 */
export function formatHelp(
  usage: string,
  summary: string,
  options: Record<string, OptionSpec>,
  footer = "",
): string {
  const rows: Array<[string, string]> = [];
  for (const [name, o] of Object.entries(options)) {
    const flag = (o.short !== undefined ? `-${o.short}, ` : "    ") + `--${name}` +
      (o.type === "string" ? ` ${o.value ?? "VALUE"}` : "");
    rows.push([flag, o.help]);
  }
  const width = rows.reduce((m, [f]) => Math.max(m, f.length), 0);
  const lines = [`Usage: ${usage}`, "", summary, "", "Options:"];
  for (const [flag, help] of rows) lines.push(`  ${flag.padEnd(width)}  ${help}`);
  if (footer !== "") lines.push("", footer);
  return lines.join("\n") + "\n";
}
