/**
 * The `%{ }%` Python snippets packetdrill scripts use to read TCP_INFO, as far
 * as they are plain assertions over `tcpi_*` fields:
 *
 * ```
 * %{ assert tcpi_advmss == 1100, tcpi_advmss; assert 990 <= tcpi_last_data_recv <= 1010 }%
 * ```
 *
 * Each statement is `assert EXPR[, message]`; EXPR is a chain of comparisons
 * (`==`, `!=`, `<`, `<=`, `>`, `>=`) over integers and `tcpi_*` names, joined
 * by `and`. Anything else — other Python, a field rawstack does not model
 * (`tcpi_fackets`, …) — makes the script not applicable.
 *
 * @module
 */

/** TCP_INFO values by field name without the `tcpi_` prefix (`snd_mss`, `state`). */
export type TcpiValues = Record<string, number | string>;

/** Outcome of one snippet: null when every assertion holds. */
export type TcpiOutcome =
  | { kind: "unsupported"; reason: string }
  | { kind: "failed"; field: string; expected: string; got: string };

/** `tcpi_options` bits (Linux include/uapi/linux/tcp.h, FreeBSD netinet/tcp.h). */
export const TCPI_OPT_TIMESTAMPS = 1;
/** SACK agreed. */
export const TCPI_OPT_SACK = 2;
/** Window scaling agreed. */
export const TCPI_OPT_WSCALE = 4;
/** ECN agreed. */
export const TCPI_OPT_ECN = 8;
/** A CE mark was received. */
export const TCPI_OPT_ECN_SEEN = 16;

/** `tcpi_ca_state` values (Linux include/net/tcp.h enum tcp_ca_state). */
export const TCP_CA_STATES: Readonly<Record<string, number>> = {
  open: 0,
  disorder: 1,
  cwr: 2,
  recovery: 3,
  loss: 4,
};

const TCPI_CONSTANTS: Readonly<Record<string, number>> = {
  TCP_CA_Open: TCP_CA_STATES.open,
  TCP_CA_Disorder: TCP_CA_STATES.disorder,
  TCP_CA_CWR: TCP_CA_STATES.cwr,
  TCP_CA_Recovery: TCP_CA_STATES.recovery,
  TCP_CA_Loss: TCP_CA_STATES.loss,
  TCPI_OPT_TIMESTAMPS,
  TCPI_OPT_SACK,
  TCPI_OPT_WSCALE,
  TCPI_OPT_ECN,
  TCPI_OPT_ECN_SEEN,
};

/** An operand: an integer, a TCPI_OPT_* constant, or `(A | B | ...)` of those; else null. */
function constantValue(operand: string): number | null {
  let t = operand.trim();
  if (t.startsWith("(") && t.endsWith(")")) t = t.slice(1, -1);
  let v = 0;
  for (const part of t.split("|")) {
    const p = part.trim();
    if (/^-?[0-9]+$/.test(p)) v |= Number(p);
    else if (Object.hasOwn(TCPI_CONSTANTS, p)) v |= TCPI_CONSTANTS[p];
    else return null;
  }
  return v;
}

/** Fields the runner fills from `conn.info()` (see runner.ts). */
export const MODELLED_TCPI_FIELDS: ReadonlySet<string> = new Set([
  "state",
  "snd_mss",
  "advmss",
  "snd_cwnd",
  "snd_ssthresh",
  "retrans",
  "unacked",
  "last_data_recv",
  "rto",
  "rtt",
  "rttvar",
  "options",
  "ca_state",
  "sacked",
  "lost",
  "reordering",
]);

const COMPARATORS = ["==", "!=", "<=", ">=", "<", ">"] as const;
type Comparator = typeof COMPARATORS[number];

function compare(a: number, op: Comparator, b: number): boolean {
  switch (op) {
    case "==":
      return a === b;
    case "!=":
      return a !== b;
    case "<=":
      return a <= b;
    case ">=":
      return a >= b;
    case "<":
      return a < b;
    case ">":
      return a > b;
  }
}

/** Splits `a <= b <= c` into operands and operators. */
function splitChain(expr: string): { operands: string[]; ops: Comparator[] } | null {
  const operands: string[] = [];
  const ops: Comparator[] = [];
  let rest = expr.trim();
  for (;;) {
    let best = -1;
    let bestOp: Comparator | null = null;
    for (const op of COMPARATORS) {
      const i = rest.indexOf(op);
      if (i >= 0 && (best < 0 || i < best)) {
        best = i;
        bestOp = op;
      }
    }
    if (bestOp === null) {
      operands.push(rest.trim());
      break;
    }
    operands.push(rest.slice(0, best).trim());
    ops.push(bestOp);
    rest = rest.slice(best + bestOp.length);
  }
  return ops.length === 0 ? null : { operands, ops };
}

/**
 * Checks a `%{ }%` snippet of `assert` statements against TCP_INFO values.
 * With `values` null only the form is checked (is every field modelled?).
 *
 * @param code the snippet without `%{` and `}%`
 * @param values the connection's values, or null to check applicability only
 * @returns null when it holds (or is applicable), else why not
 *
 * @example
 * ```ts
 * import { evaluateTcpiAssert } from "./tcpi.ts";
 * console.assert(evaluateTcpiAssert("assert tcpi_snd_mss == 1100, tcpi_snd_mss", { snd_mss: 1100 }) === null);
 * console.assert(evaluateTcpiAssert("assert 5 <= tcpi_rto <= 9", { rto: 10 })?.kind === "failed");
 * console.assert(evaluateTcpiAssert("assert tcpi_lost == 0", null)?.kind === "unsupported");
 * ```
 */
export function evaluateTcpiAssert(code: string, values: TcpiValues | null): TcpiOutcome | null {
  // A Python comment runs from `#` to the end of the line (no string literals here).
  const statements = code.replace(/#[^\n]*/g, "").replace(/\\\s*\n/g, " ").split(/[;\n]/)
    .map((x) => x.trim())
    .filter((x) => x !== "");
  if (statements.length === 0) return { kind: "unsupported", reason: "empty %{ }% block" };
  for (const st of statements) {
    const m = /^assert\s+(.+?)(\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*)?$/.exec(st);
    if (m === null) {
      return { kind: "unsupported", reason: `Python %{ }% statement other than assert: ${st}` };
    }
    for (const clause of m[1].split(/\s+and\s+/)) {
      const chain = splitChain(clause);
      if (chain === null) return { kind: "unsupported", reason: `Python expression '${clause}'` };
      const nums: number[] = [];
      let field = "";
      for (const operand of chain.operands) {
        const c = constantValue(operand);
        if (c !== null) {
          nums.push(c);
          continue;
        }
        const f = /^tcpi_([a-z_]+)$/.exec(operand);
        if (f === null) return { kind: "unsupported", reason: `Python operand '${operand}'` };
        if (!MODELLED_TCPI_FIELDS.has(f[1]) || f[1] === "state") {
          return { kind: "unsupported", reason: `TCP_INFO field ${operand} is not modelled` };
        }
        field = operand;
        if (values === null) {
          nums.push(0);
          continue;
        }
        const v = values[f[1]];
        if (typeof v !== "number") {
          return { kind: "unsupported", reason: `TCP_INFO field ${operand} is not available` };
        }
        nums.push(v);
      }
      if (values === null) continue;
      for (let i = 0; i < chain.ops.length; i++) {
        if (!compare(nums[i], chain.ops[i], nums[i + 1])) {
          const got = field === "" ? "false" : String(values[field.slice("tcpi_".length)]);
          return { kind: "failed", field: field || "assert", expected: clause, got };
        }
      }
    }
  }
  return null;
}
