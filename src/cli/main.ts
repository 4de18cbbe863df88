/**
 * The `rawstack` command line: subcommand dispatch, `--help`, and the
 * error policy — wrong input prints one line on stderr and exits 2, a
 * failed operation prints one line and exits 1, never a stack trace.
 *
 * Permissions: depend on the subcommand (see each one's `--help`);
 * `deno run --allow-all cli.ts` covers everything.
 *
 * @module
 */

import { EXIT_FAILURE, EXIT_USAGE, formatHelp, parseCommandLine, UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { arpCommand, dnsCommand, pingCommand } from "./net_commands.ts";
import { echoCommand, getCommand, serveCommand } from "./tcp_commands.ts";
import { labCommand } from "./lab_command.ts";
import { traceCommand } from "./trace_command.ts";

/** Every subcommand, in help order. */
export const COMMANDS: readonly Command[] = [
  pingCommand,
  getCommand,
  dnsCommand,
  serveCommand,
  echoCommand,
  arpCommand,
  labCommand,
  traceCommand,
];

/**
 * The top-level help: what rawstack is and the subcommands.
 *
 * @returns the text
 *
 * @example
 * ```ts
 * import { globalHelp } from "./main.ts";
 * console.assert(globalHelp().includes("trace"));
 * ```
 */
export function globalHelp(): string {
  const width = COMMANDS.reduce((m, c) => Math.max(m, c.name.length), 0);
  const lines = [
    "Usage: rawstack COMMAND [options]",
    "",
    "rawstack is a TCP/IP stack in TypeScript, driving a Linux interface through",
    "AF_PACKET (root) or talking to an in-process peer over a memory link (--memory).",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.brief}`),
    "",
    "Run `rawstack COMMAND --help` for a command's options. A lab to play in:",
    "`sudo rawstack lab up`, then e.g. `sudo rawstack ping --lab 192.0.2.1`.",
  ];
  return lines.join("\n") + "\n";
}

/**
 * The help of one subcommand.
 *
 * @param c the command
 * @returns the text
 *
 * @example
 * ```ts
 * import { COMMANDS, commandHelp } from "./main.ts";
 * console.assert(commandHelp(COMMANDS[0]).startsWith("Usage: rawstack ping"));
 * ```
 */
export function commandHelp(c: Command): string {
  return formatHelp(c.usage, c.summary, c.options, c.footer ?? "");
}

function oneLine(e: unknown): string {
  if (e instanceof Deno.errors.NotCapable) {
    return `${e.message.split("\n")[0]} (run with deno run --allow-all)`;
  }
  const text = e instanceof Error ? e.message : String(e);
  return text.split("\n")[0];
}

/**
 * Runs the CLI with `args` (the words after `cli.ts`).
 *
 * @param args command-line words
 * @returns the exit code: 0 success, 1 failure, 2 wrong usage
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * console.assert(await main(["no-such-command"]) === 2);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined) {
    console.error(globalHelp().trimEnd());
    return EXIT_USAGE;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    console.log(globalHelp().trimEnd());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    console.error(
      `rawstack: unknown command "${name}" (commands: ${COMMANDS.map((c) => c.name).join(", ")})`,
    );
    return EXIT_USAGE;
  }
  try {
    const parsed = parseCommandLine(rest, command.options, command.maxPositionals);
    if (parsed.values.help === true) {
      console.log(commandHelp(command).trimEnd());
      return 0;
    }
    return await command.run(parsed);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`rawstack ${name}: ${e.message} (see rawstack ${name} --help)`);
      return EXIT_USAGE;
    }
    console.error(`rawstack ${name}: ${oneLine(e)}`);
    return EXIT_FAILURE;
  }
}
