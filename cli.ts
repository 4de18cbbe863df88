/**
 * The `rawstack` command line. Run `deno run --allow-all cli.ts --help`.
 *
 * Subcommands: ping, get, dns, serve, echo, arp, lab, trace. See src/cli/main.ts.
 *
 * @module
 */

import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
