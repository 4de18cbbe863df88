/**
 * `rawstack trace FILE.pcap`: ladder diagrams and time plots from a capture
 * (rawstack's `--pcap` files or any tcpdump capture of an Ethernet interface).
 *
 * Permissions: `--allow-read` for the capture, `--allow-write` for `--svg`/`--plot`.
 *
 * @module
 */

import { analyzePcap, type CaptureAnalysis, TraceError } from "../trace/connections.ts";
import { hostLadder, type LadderDiagram, renderLadderText, tcpLadder } from "../trace/ladder.ts";
import { renderLadderSvg } from "../trace/ladder_svg.ts";
import { renderPlotSvg } from "../trace/plot_svg.ts";
import { PcapError } from "../wire/pcap.ts";
import { intOption, stringOption, UsageError } from "./args.ts";
import { type Command, printLine } from "./command.ts";

function diagramFor(
  analysis: CaptureAnalysis,
  conn: number | null,
  packets: boolean,
): LadderDiagram | null {
  const c = analysis.connections[(conn ?? 1) - 1];
  if (packets) {
    if (c !== undefined) {
      // Over IPv6 the endpoints' numbers are hashes: name the columns with the text.
      return hostLadder(analysis, c.client.address, c.server.address, {
        leftName: c.client.address6,
        rightName: c.server.address6,
      });
    }
    const f = analysis.frames.find((x) => x.src !== 0 && x.dst !== 0 && x.src !== x.dst);
    return f === undefined
      ? null
      : hostLadder(analysis, f.src, f.dst, { leftName: f.src6, rightName: f.dst6 });
  }
  return c === undefined ? null : tcpLadder(c);
}

/**
 * `rawstack trace FILE`.
 *
 * @example
 * ```ts
 * import { traceCommand } from "./trace_command.ts";
 * console.assert(traceCommand.name === "trace" && traceCommand.options.help !== undefined);
 * ```
 */
export const traceCommand: Command = {
  name: "trace",
  usage: "rawstack trace FILE.pcap [--svg OUT.svg] [--plot OUT.svg] [--conn N]",
  brief: "ladder diagrams and time plots of the TCP connections in a pcap file",
  summary: "Reads a pcap file (Ethernet), follows each TCP connection (in SYN order) and\n" +
    "draws it as a ladder: client left, server right, one arrow per segment with\n" +
    "flags, relative seq/ack, length and window; retransmissions and losses marked.\n" +
    "Without --svg it prints text ladders (all connections, or --conn N).",
  options: {
    svg: {
      type: "string",
      value: "OUT.svg",
      help: "write the ladder of --conn N (default 1) as SVG",
    },
    plot: {
      type: "string",
      value: "OUT.svg",
      help: "write bytes in flight, cwnd estimate and RTT of --conn N as SVG, with TLP, " +
        "D-SACK, undo and ECN (CE, ECE, CWR, cwnd cut) marks",
    },
    conn: { type: "string", short: "c", value: "N", help: "only connection N (1 = first SYN)" },
    packets: {
      type: "boolean",
      help: "draw every packet between the two hosts (ARP, ICMP, UDP, all TCP)",
    },
    frames: { type: "boolean", help: "show capture frame numbers in the text ladder" },
    help: { type: "boolean", short: "h", help: "show this help" },
  },
  maxPositionals: 1,
  footer:
    "Examples:\n  rawstack trace get.pcap\n  rawstack trace get.pcap --svg ladder.svg --plot plot.svg",
  async run({ values, positionals }) {
    const file = positionals[0];
    if (file === undefined) throw new UsageError("missing FILE.pcap");
    const svg = stringOption(values.svg);
    const plot = stringOption(values.plot);
    const connArg = values.conn === undefined
      ? null
      : intOption(values.conn, "conn", 1, 1, 1_000_000);
    const packets = values.packets === true;
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(file);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw new UsageError(`${file}: no such file`);
      throw e;
    }
    let analysis: CaptureAnalysis;
    try {
      analysis = analyzePcap(bytes);
    } catch (e) {
      if (e instanceof PcapError || e instanceof TraceError) {
        throw new UsageError(`${file}: ${e.message}`);
      }
      throw e;
    }
    const count = analysis.connections.length;
    if (connArg !== null && connArg > count) {
      throw new UsageError(`--conn ${connArg}: ${file} has ${count} TCP connection(s)`);
    }
    if (count === 0 && !packets) {
      console.error(
        `rawstack trace: ${file}: no TCP connection (${analysis.frames.length} frames); try --packets`,
      );
      return 1;
    }
    if (svg !== undefined || plot !== undefined) {
      if (connArg === null && count > 1) {
        console.error(
          `rawstack trace: ${count} connections, drawing connection 1 (choose with --conn N)`,
        );
      }
      if (svg !== undefined) {
        const d = diagramFor(analysis, connArg, packets);
        if (d === null) throw new UsageError(`${file}: nothing to draw`);
        await Deno.writeTextFile(svg, renderLadderSvg(d));
        console.error(`rawstack trace: wrote ${svg} (${d.rows.length} rows)`);
      }
      if (plot !== undefined) {
        const c = analysis.connections[(connArg ?? 1) - 1];
        if (c === undefined) throw new UsageError(`--plot: ${file} has no TCP connection`);
        await Deno.writeTextFile(plot, renderPlotSvg(c));
        console.error(`rawstack trace: wrote ${plot}`);
      }
      return 0;
    }
    const frameNumbers = values.frames === true;
    if (packets) {
      const d = diagramFor(analysis, connArg, true);
      if (d === null) throw new UsageError(`${file}: no IPv4 or ARP packet between two hosts`);
      await printLine(renderLadderText(d, { frameNumbers }));
      return 0;
    }
    const chosen = connArg === null ? analysis.connections : [analysis.connections[connArg - 1]];
    for (const c of chosen) await printLine(renderLadderText(tcpLadder(c), { frameNumbers }));
    return 0;
  },
};
