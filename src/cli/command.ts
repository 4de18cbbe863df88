/**
 * The shape of a `rawstack` subcommand and the output helpers they share.
 *
 * @module
 */

import type { OptionSpec, ParsedArgs } from "./args.ts";

/** One subcommand of the CLI. */
export interface Command {
  /** Name typed after `rawstack`. */
  name: string;
  /** Usage line after "Usage: ". */
  usage: string;
  /** One-line description for the command list. */
  brief: string;
  /** Longer description for `--help`. */
  summary: string;
  /** Options (with `help`). */
  options: Record<string, OptionSpec>;
  /** Positionals accepted at most. */
  maxPositionals: number;
  /** Examples shown at the end of `--help`. */
  footer?: string;
  /** Runs; resolves with the exit code. Throws UsageError for wrong input. */
  run(args: ParsedArgs): Promise<number>;
}

const encoder = new TextEncoder();

/**
 * Writes all of `bytes` to standard output.
 *
 * @param bytes what to write
 *
 * @example
 * ```ts ignore
 * import { writeStdout } from "./command.ts";
 * await writeStdout(new TextEncoder().encode("hi\n"));
 * ```
 */
export async function writeStdout(bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await Deno.stdout.write(bytes.subarray(done));
}

/**
 * Writes a line (adds "\n") to standard output.
 *
 * @param text the line
 *
 * @example
 * ```ts
 * import { printLine } from "./command.ts";
 * await printLine("rawstack");
 * ```
 */
export async function printLine(text: string): Promise<void> {
  await writeStdout(encoder.encode(text + "\n"));
}
