/**
 * A parser for the packetdrill script language (github.com/google/packetdrill)
 * as used by the Linux, FreeBSD and gVisor TCP test suites: top-of-file
 * command-line options, timed events (packets, system calls, backtick shell
 * commands, `%{ }%` Python snippets), `//` and `/* *\/` comments.
 *
 * The parser never throws: it returns a {@link Script} or a
 * {@link ParseFailure} naming the line.
 *
 * @module
 */

import {
  type EventTime,
  type Expr,
  FLAG_ACK,
  FLAG_CWR,
  FLAG_ECE,
  FLAG_FIN,
  FLAG_PSH,
  FLAG_RST,
  FLAG_SYN,
  FLAG_URG,
  type PacketSpec,
  type ParseFailure,
  type Script,
  type ScriptEvent,
  type SyscallSpec,
  type TcpOptionSpec,
} from "./script.ts";

/** Microseconds per second. */
const USECS_PER_SEC = 1_000_000;
/** Largest sequence/ack number (32 bits). */
const MAX_U32 = 0xffff_ffff;
/** Guard against absurd inputs: longest statement we accept, in characters. */
const MAX_STATEMENT_CHARS = 1 << 16;
/** Deepest expression nesting accepted. */
const MAX_EXPR_DEPTH = 32;

const FLAG_CHARS: Record<string, number> = {
  S: FLAG_SYN,
  F: FLAG_FIN,
  R: FLAG_RST,
  P: FLAG_PSH,
  ".": FLAG_ACK,
  U: FLAG_URG,
  E: FLAG_ECE,
  W: FLAG_CWR,
  "-": 0,
};

/** Result of {@link parseScript}. */
export type ParseResult = { ok: true; script: Script } | { ok: false; error: ParseFailure };

interface Statement {
  text: string;
  line: number;
}

class Fail {
  constructor(readonly line: number, readonly message: string) {}
}

/**
 * Splits the source into statements: comments removed, lines joined while
 * brackets are open or a `%{ }%` block is unfinished.
 */
function splitStatements(src: string): Statement[] | Fail {
  const out: Statement[] = [];
  let cur = "";
  let curLine = 0;
  let depth = 0;
  let line = 1;
  let i = 0;
  const n = src.length;
  const push = () => {
    if (cur.trim() !== "") out.push({ text: cur.trim(), line: curLine });
    cur = "";
    curLine = 0;
  };
  const add = (s: string) => {
    if (curLine === 0 && s.trim() !== "") curLine = line;
    cur += s;
  };
  while (i < n) {
    const c = src[i];
    if (c === "\n") {
      line++;
      i++;
      if (depth === 0) push();
      else cur += "\n";
      continue;
    }
    if (c === "/" && src[i + 1] === "/") {
      while (i < n && src[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && src[i + 1] === "*") {
      const startLine = line;
      i += 2;
      while (i < n && !(src[i] === "*" && src[i + 1] === "/")) {
        if (src[i] === "\n") line++;
        i++;
      }
      if (i >= n) return new Fail(startLine, "unterminated /* comment");
      i += 2;
      cur += " ";
      continue;
    }
    if (c === "%" && src[i + 1] === "{") {
      const startLine = line;
      const close = src.indexOf("}%", i + 2);
      if (close < 0) return new Fail(startLine, "unterminated %{ block");
      const block = src.slice(i, close + 2);
      add(block);
      for (const ch of block) if (ch === "\n") line++;
      i = close + 2;
      continue;
    }
    if (c === "`" || c === '"') {
      const close = src.indexOf(c, i + 1);
      const nl = src.indexOf("\n", i + 1);
      if (close < 0 || (nl >= 0 && nl < close)) {
        return new Fail(line, `unterminated ${c === "`" ? "backtick command" : "string"}`);
      }
      add(src.slice(i, close + 1));
      i = close + 1;
      continue;
    }
    if (c === "(" || c === "[" || c === "{") depth++;
    if (c === ")" || c === "]" || c === "}") {
      depth--;
      if (depth < 0) return new Fail(line, `unbalanced '${c}'`);
    }
    add(c);
    if (cur.length > MAX_STATEMENT_CHARS) return new Fail(curLine, "statement too long");
    i++;
  }
  if (depth !== 0) return new Fail(curLine || line, "unbalanced brackets at end of file");
  push();
  return out;
}

/** A cursor over one statement. */
class Scanner {
  pos = 0;
  constructor(readonly text: string, readonly line: number) {}

  /** Line of the current position (statements may span lines). */
  lineHere(): number {
    let l = this.line;
    for (let k = 0; k < this.pos && k < this.text.length; k++) if (this.text[k] === "\n") l++;
    return l;
  }
  fail(message: string): Fail {
    return new Fail(this.lineHere(), message);
  }
  ws(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }
  atEnd(): boolean {
    this.ws();
    return this.pos >= this.text.length;
  }
  peek(s: string): boolean {
    this.ws();
    return this.text.startsWith(s, this.pos);
  }
  eat(s: string): boolean {
    if (this.peek(s)) {
      this.pos += s.length;
      return true;
    }
    return false;
  }
  /** An identifier: letters, digits, `_`. */
  ident(): string | null {
    this.ws();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos));
    if (m === null) return null;
    this.pos += m[0].length;
    return m[0];
  }
  /** A word (non-space run). */
  word(): string {
    this.ws();
    const start = this.pos;
    while (this.pos < this.text.length && !/\s/.test(this.text[this.pos])) this.pos++;
    return this.text.slice(start, this.pos);
  }
  /** An integer: decimal, 0x hex, optional leading '-'. */
  integer(): number | null {
    this.ws();
    const m = /^-?(0[xX][0-9a-fA-F]+|[0-9]+)/.exec(this.text.slice(this.pos));
    if (m === null) return null;
    this.pos += m[0].length;
    const neg = m[0].startsWith("-");
    const body = neg ? m[0].slice(1) : m[0];
    const v = body.startsWith("0x") || body.startsWith("0X") ? parseInt(body, 16) : Number(body);
    return neg ? -v : v;
  }
  /** A time in seconds with optional fraction (`0`, `.01`, `1.5`), returned in µs. */
  seconds(): number | null {
    this.ws();
    const m = /^([0-9]+(\.[0-9]+)?|\.[0-9]+)/.exec(this.text.slice(this.pos));
    if (m === null) return null;
    this.pos += m[0].length;
    return Math.round(Number(m[0]) * USECS_PER_SEC);
  }
}

function parseTime(s: Scanner): EventTime | Fail {
  if (s.eat("*")) return { kind: "any", startUsecs: 0 };
  const relative = s.eat("+");
  const start = s.seconds();
  if (start === null) return s.fail("expected an event time");
  if (s.eat("...")) {
    const endRel = s.eat("+");
    const end = s.seconds();
    if (end === null) return s.fail("expected the end time after '...'");
    void endRel; // packetdrill measures both ends from the same base
    return { kind: relative ? "relative" : "absolute", startUsecs: start, blockingEndUsecs: end };
  }
  if (s.eat("~")) {
    const endRel = s.eat("+");
    const end = s.seconds();
    if (end === null) return s.fail("expected the end of the time range after '~'");
    if (relative !== endRel) {
      return s.fail("both ends of a time range must be relative or absolute");
    }
    if (end < start) return s.fail("time range ends before it starts");
    return {
      kind: "range",
      startUsecs: start,
      rangeEndUsecs: end,
      rangeEndRelative: endRel,
    };
  }
  return { kind: relative ? "relative" : "absolute", startUsecs: start };
}

function parseOption(text: string, line: number): TcpOptionSpec | Fail {
  const t = text.trim();
  if (t === "") return new Fail(line, "empty TCP option");
  const parts = t.split(/\s+/);
  const name = parts[0];
  const num = (w: string | undefined): number | null => {
    if (w === undefined || !/^(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(w)) return null;
    const v = w.startsWith("0x") || w.startsWith("0X") ? parseInt(w, 16) : Number(w);
    return v <= MAX_U32 ? v : null;
  };
  switch (name) {
    case "nop":
    case "eol":
    case "sackOK":
      if (parts.length !== 1) return new Fail(line, `option '${name}' takes no value`);
      return { kind: name, text: t };
    case "mss":
    case "wscale": {
      const v = num(parts[1]);
      if (v === null || parts.length !== 2) {
        return new Fail(line, `option '${name}' needs a number`);
      }
      return { kind: name, value: v, text: t };
    }
    case "sack": {
      const blocks: [number, number][] = [];
      for (const w of parts.slice(1)) {
        const m = /^([0-9]+):([0-9]+)$/.exec(w);
        if (m === null) return new Fail(line, `bad SACK block '${w}'`);
        const l = Number(m[1]);
        const r = Number(m[2]);
        if (l > MAX_U32 || r > MAX_U32) return new Fail(line, `SACK block out of range '${w}'`);
        blocks.push([l, r]);
      }
      if (blocks.length === 0) return new Fail(line, "sack option needs blocks");
      return { kind: "sack", blocks, text: t };
    }
    case "TS": {
      if (parts.length !== 5 || parts[1] !== "val" || parts[3] !== "ecr") {
        return new Fail(line, "expected 'TS val <n> ecr <n>'");
      }
      const val = num(parts[2]);
      const ecr = num(parts[4]);
      if (val === null || ecr === null) return new Fail(line, "bad timestamp values");
      return { kind: "TS", val, ecr, text: t };
    }
    case "FO":
    case "FOEXP":
      return { kind: "fastopen", text: t };
    case "md5":
      return { kind: "md5", text: t };
    default:
      return { kind: "unknown", text: t };
  }
}

function parsePacket(s: Scanner, direction: "inbound" | "outbound"): PacketSpec | Fail {
  let ecn: string | undefined;
  if (s.eat("[")) {
    const tag = s.ident();
    if (tag === null || !s.eat("]")) return s.fail("bad ECN tag, expected [noecn], [ect0], ...");
    ecn = tag;
  }
  const flagText = s.word();
  if (flagText === "") return s.fail("expected TCP flags");
  let flags = 0;
  for (const ch of flagText) {
    const bit = FLAG_CHARS[ch];
    if (bit === undefined) return s.fail(`unknown TCP flag '${ch}' in '${flagText}'`);
    flags |= bit;
  }
  if (flagText.includes("-") && flagText !== "-") return s.fail("'-' means no flags: use it alone");
  s.ws();
  const m = /^([0-9]+):([0-9]+)\(([0-9]+)\)/.exec(s.text.slice(s.pos));
  if (m === null) return s.fail("expected start:end(length)");
  s.pos += m[0].length;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const length = Number(m[3]);
  if (start > MAX_U32 || end > MAX_U32) return s.fail("sequence number out of range");
  if (((end - start) >>> 0) !== length) {
    return s.fail(`inconsistent ${m[0]}: end - start must equal the length`);
  }
  const p: PacketSpec = { direction, flagText, flags, start, end, length, options: null };
  if (ecn !== undefined) p.ecn = ecn;
  for (;;) {
    if (s.atEnd()) break;
    if (s.peek("<")) {
      s.eat("<");
      const close = s.text.indexOf(">", s.pos);
      if (close < 0) return s.fail("unterminated option list");
      const body = s.text.slice(s.pos, close).trim();
      s.pos = close + 1;
      if (body === "...") {
        p.options = "any";
        continue;
      }
      const list: TcpOptionSpec[] = [];
      if (body !== "") {
        for (const part of body.split(",")) {
          const o = parseOption(part, s.lineHere());
          if (o instanceof Fail) return o;
          list.push(o);
        }
      }
      p.options = list;
      continue;
    }
    const kw = s.ident();
    if (kw === null) return s.fail(`unexpected '${s.word()}' in packet`);
    const v = s.integer();
    if (v === null || v < 0 || v > MAX_U32) return s.fail(`'${kw}' needs a non-negative number`);
    if (kw === "ack") p.ack = v;
    else if (kw === "win") {
      if (v > 0xffff) return s.fail("window out of range");
      p.window = v;
    } else if (kw === "urg") p.urgent = v;
    else return s.fail(`unknown packet keyword '${kw}'`);
  }
  return p;
}

function parseExpr(s: Scanner, depth: number): Expr | Fail {
  if (depth > MAX_EXPR_DEPTH) return s.fail("expression nested too deeply");
  const first = parsePrimary(s, depth);
  if (first instanceof Fail) return first;
  if (!s.peek("|")) return first;
  const terms: Expr[] = [first];
  while (s.eat("|")) {
    const t = parsePrimary(s, depth);
    if (t instanceof Fail) return t;
    terms.push(t);
  }
  return { type: "or", terms };
}

function parsePrimary(s: Scanner, depth: number): Expr | Fail {
  if (s.eat("...")) return { type: "ellipsis" };
  if (s.peek('"')) {
    const close = s.text.indexOf('"', s.pos + 1);
    const value = s.text.slice(s.pos + 1, close);
    s.pos = close + 1;
    return { type: "string", value };
  }
  if (s.eat("[")) {
    const items: Expr[] = [];
    if (!s.eat("]")) {
      for (;;) {
        const e = parseExpr(s, depth + 1);
        if (e instanceof Fail) return e;
        items.push(e);
        if (s.eat("]")) break;
        if (!s.eat(",")) return s.fail("expected ',' or ']'");
      }
    }
    return { type: "list", items };
  }
  if (s.eat("{")) {
    const fields: { name: string | null; value: Expr }[] = [];
    if (!s.eat("}")) {
      for (;;) {
        const save = s.pos;
        let name: string | null = s.ident();
        if (name !== null && !s.eat("=")) {
          s.pos = save;
          name = null;
        }
        const e = parseExpr(s, depth + 1);
        if (e instanceof Fail) return e;
        fields.push({ name, value: e });
        if (s.eat("}")) break;
        if (!s.eat(",")) return s.fail("expected ',' or '}'");
      }
    }
    return { type: "struct", fields };
  }
  const v = s.integer();
  if (v !== null) return { type: "number", value: v };
  const id = s.ident();
  if (id !== null) {
    // htons(8080) and similar wrappers: keep the inner value.
    if (s.eat("(")) {
      const inner = parseExpr(s, depth + 1);
      if (inner instanceof Fail) return inner;
      if (!s.eat(")")) return s.fail("expected ')'");
      return inner;
    }
    return { type: "ident", name: id };
  }
  return s.fail(`unexpected '${s.word()}' in arguments`);
}

function parseSyscall(s: Scanner, name: string): SyscallSpec | Fail {
  const args: Expr[] = [];
  if (!s.eat("(")) return s.fail(`expected '(' after ${name}`);
  if (!s.eat(")")) {
    for (;;) {
      const e = parseExpr(s, 0);
      if (e instanceof Fail) return e;
      args.push(e);
      if (s.eat(")")) break;
      if (!s.eat(",")) return s.fail("expected ',' or ')' in arguments");
    }
  }
  if (!s.eat("=")) return s.fail(`expected '= <result>' after ${name}(...)`);
  let result: number | "any";
  if (s.eat("...")) result = "any";
  else {
    const v = s.integer();
    if (v === null) return s.fail("expected a numeric result");
    result = v;
  }
  const call: SyscallSpec = { name, args, result };
  const errno = s.ident();
  if (errno !== null) {
    if (!/^E[A-Z0-9]+$/.test(errno)) return s.fail(`expected an errno name, got '${errno}'`);
    call.errno = errno;
  }
  if (s.eat("(")) {
    const close = s.text.lastIndexOf(")");
    if (close < s.pos) return s.fail("unterminated note after the result");
    call.note = s.text.slice(s.pos, close).trim();
    s.pos = close + 1;
  }
  if (!s.atEnd()) return s.fail(`unexpected '${s.word()}' after system call`);
  return call;
}

const TCPI_ASSERT = /^\s*assert\s+tcpi_state\s*==\s*(TCPI_[A-Z0-9_]+)\s*(,.*)?$/;

function parseEvent(st: Statement): ScriptEvent | Fail {
  const s = new Scanner(st.text, st.line);
  // A backtick command or %{ }% block may stand without a time: it runs at +0.
  const untimed = st.text.startsWith("`") || st.text.startsWith("%{");
  const time: EventTime | Fail = untimed ? { kind: "relative", startUsecs: 0 } : parseTime(s);
  if (time instanceof Fail) return time;
  const base = { line: st.line, time, text: st.text };
  s.ws();
  const c = s.text[s.pos];
  if (c === "<" || c === ">") {
    s.pos++;
    const packet = parsePacket(s, c === "<" ? "inbound" : "outbound");
    if (packet instanceof Fail) return packet;
    return { ...base, kind: "packet", packet };
  }
  if (c === "`") {
    const close = s.text.indexOf("`", s.pos + 1);
    const command = s.text.slice(s.pos + 1, close);
    s.pos = close + 1;
    if (!s.atEnd()) return s.fail("unexpected text after backtick command");
    return { ...base, kind: "shell", command };
  }
  if (s.text.startsWith("%{", s.pos)) {
    const close = s.text.indexOf("}%", s.pos);
    const code = s.text.slice(s.pos + 2, close).trim();
    s.pos = close + 2;
    if (!s.atEnd()) return s.fail("unexpected text after %{ }% block");
    const lines = code.split("\n").map((l) => l.trim()).filter((l) => l !== "");
    const m = lines.length === 1 ? TCPI_ASSERT.exec(lines[0]) : null;
    return { ...base, kind: "code", code, tcpiState: m === null ? null : m[1] };
  }
  const name = s.ident();
  if (name === null) return s.fail(`expected a packet, system call, command or %{ }% block`);
  const call = parseSyscall(s, name);
  if (call instanceof Fail) return call;
  return { ...base, kind: "syscall", call };
}

/**
 * Parses a packetdrill script. Never throws.
 *
 * @param source the script text
 * @returns the script, or the first error with its line number
 *
 * @example
 * ```ts
 * import { parseScript } from "./parser.ts";
 * const r = parseScript("--tolerance_usecs=10000\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n" +
 *   "+0.1 < S 0:0(0) win 32792 <mss 1460,nop,wscale 7>\n");
 * console.assert(r.ok && r.script.events.length === 2);
 * console.assert(r.ok && r.script.options.get("tolerance_usecs") === "10000");
 * const bad = parseScript("0 socket(\n");
 * console.assert(!bad.ok && bad.error.line === 1);
 * ```
 */
export function parseScript(source: string): ParseResult {
  try {
    const statements = splitStatements(source);
    if (statements instanceof Fail) return failure(statements);
    const options = new Map<string, string>();
    const events: ScriptEvent[] = [];
    for (const st of statements) {
      if (st.text.startsWith("--")) {
        for (const w of st.text.split(/\s+/)) {
          const m = /^--([A-Za-z0-9_.-]+)(=(.*))?$/.exec(w);
          if (m === null) return failure(new Fail(st.line, `bad command-line option '${w}'`));
          options.set(m[1], m[3] ?? "");
        }
        continue;
      }
      const e = parseEvent(st);
      if (e instanceof Fail) return failure(e);
      events.push(e);
    }
    return { ok: true, script: { options, events } };
  } catch (e) {
    // Defensive: a bug in the parser must not crash the runner.
    return { ok: false, error: { line: 0, message: `internal parser error: ${e}` } };
  }
}

function failure(f: Fail): ParseResult {
  return { ok: false, error: { line: f.line, message: f.message } };
}
