/**
 * The benchmark harness's rows (bench/harness.ts): a {@link Row} holds one figure's
 * samples of rawstack and of its kernel reference; {@link sampled} takes REPEATS samples
 * of a measurement, {@link within} bounds one; {@link printRow} and {@link printTable}
 * print the rows as the harness's table (median, min–max, ratio).
 *
 * @module
 */

import type { LabProcess } from "../src/testing/lab.ts";
import { REPEATS } from "./harness_settings.ts";

/** One figure: samples of rawstack and of the kernel reference. */
export interface Row {
  workload: string;
  config: string;
  unit: string;
  rawstack: number[];
  rawstackNote: string | null;
  reference: string;
  kernel: number[];
  kernelNote: string | null;
  lowerIsBetter?: boolean;
  /**
   * Interleaved rows (IPv6 beside IPv4, `pairedSamples`): the rawstack/reference ratio of
   * each sample pair; the ratio column is then their median.
   */
  pairRatios?: number[];
  /**
   * Reference rows whose columns are IPv6/IPv4 ratios (issue 18): the reference's own
   * Gbit/s samples of each family, for the JSON.
   */
  referenceSamples?: { ipv4: number[]; ipv6: number[] };
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : s.length % 2
    ? s[(s.length - 1) >> 1]
    : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Rejects when `p` takes longer than `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function numbers(out: string): number[] {
  const line = out.trim().split("\n").pop() ?? "";
  return line.trim().split(/\s+/).map(Number);
}

export async function finishedNumbers(p: LabProcess, what: string, ms: number): Promise<number[]> {
  const r = await within(p.finished(), ms, what);
  const v = numbers(r.stdout);
  if (r.code !== 0 || v.some((x) => !Number.isFinite(x))) {
    throw new Error(`${what} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-300)}`);
  }
  return v;
}

/** Samples `f` REPEATS times; a failed sample is left out, noted, and `reset` called. */
export async function sampled(
  f: () => Promise<number>,
  reset?: () => Promise<void>,
): Promise<{ values: number[]; note: string | null }> {
  const values: number[] = [];
  let note: string | null = null;
  for (let i = 0; i < REPEATS; i++) {
    try {
      values.push(await f());
    } catch (e) {
      note = `failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 160);
      await reset?.();
    }
  }
  return { values, note };
}

/** Adds a row to the table (and prints it) from both sides' samples. */
export type AddRow = (
  workload: string,
  unit: string,
  r: { values: number[]; note: string | null },
  reference: string,
  k: { values: number[]; note: string | null },
  lowerIsBetter?: boolean,
  pairRatios?: number[],
  referenceSamples?: { ipv4: number[]; ipv6: number[] },
) => void;

/** The configuration column of lab configuration `config`. */
export function configLabel(config: "a" | "b"): string {
  return config === "a" ? "(a) offloads off" : "(b) offloads on";
}

/**
 * The {@link AddRow} of configuration `config`: each row is appended to `rows` and printed.
 *
 * @param rows the table
 * @param config the rows' configuration column, e.g. "(a) offloads off"
 * @returns the adder
 */
export function rowAdder(rows: Row[], config: string): AddRow {
  return (workload, unit, r, reference, k, lowerIsBetter, pairRatios, referenceSamples) => {
    rows.push({
      workload,
      config,
      unit,
      rawstack: r.values,
      rawstackNote: r.note,
      reference,
      kernel: k.values,
      kernelNote: k.note,
      lowerIsBetter,
      pairRatios,
      referenceSamples,
    });
    printRow(rows[rows.length - 1]);
  };
}

// ---------------------------------------------------------------- output

export function fmt(x: number): string {
  if (!Number.isFinite(x)) return "n/a";
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString("en");
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

function cell(values: number[], note: string | null): string {
  if (values.length === 0) return note ?? "n/a";
  const s = [...values].sort((a, b) => a - b);
  const m = `${fmt(median(s))}`;
  const range = s.length > 1 ? ` (${fmt(s[0])}–${fmt(s[s.length - 1])})` : "";
  // (The IPv6 rows take IPV6_PAIRS samples: a failure there is flagged by its note.)
  const failed = note !== null && (values.length < REPEATS || note.startsWith("failed"));
  return m + range + (failed ? " [some runs failed]" : "");
}

function ratio(r: Row): string {
  if (r.rawstack.length === 0 || r.kernel.length === 0) return "—";
  if (r.reference.startsWith("iperf3")) return "—";
  if (r.pairRatios !== undefined && r.pairRatios.length > 0) {
    return `${median(r.pairRatios).toFixed(2)}× (median of pairs)`;
  }
  const x = median(r.rawstack) / median(r.kernel);
  return `${x.toFixed(2)}×${r.lowerIsBetter ? " (lower is better)" : ""}`;
}

const HEADER = [
  "workload",
  "config",
  "unit",
  "rawstack median (min–max)",
  "reference",
  "kernel median (min–max)",
  "ratio",
];

function rowCells(r: Row): string[] {
  return [
    r.workload,
    r.config,
    r.unit,
    cell(r.rawstack, r.rawstackNote),
    r.reference,
    cell(r.kernel, r.kernelNote),
    ratio(r),
  ];
}

export function printRow(r: Row): void {
  console.log(`  ${rowCells(r).join(" | ")}`);
}

export function printTable(rows: Row[]): void {
  const table = rows.map(rowCells);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
  const line = (c: string[]) => "| " + c.map((x, i) => x.padEnd(widths[i])).join(" | ") + " |";
  console.log(line(HEADER));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const t of table) console.log(line(t));
}
