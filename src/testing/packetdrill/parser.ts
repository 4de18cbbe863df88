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
  type IcmpSpec,
  type IpHeaderSpec,
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
      // A backtick command may span lines (a shell block); a string may not.
      if (close < 0 || (c === '"' && nl >= 0 && nl < close)) {
        return new Fail(line, `unterminated ${c === "`" ? "backtick command" : "string"}`);
      }
      const body = src.slice(i, close + 1);
      add(body);
      for (const ch of body) if (ch === "\n") line++;
      i = close + 1;
      if (cur.length > MAX_STATEMENT_CHARS) return new Fail(curLine, "statement too long");
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

/** NPLab `(ttl 4)`, `(tos 0x20, ttl 3)`, `(hlim 4)`, `(class 0x20)` before the flags. */
function parseIpHeader(s: Scanner): IpHeaderSpec | Fail {
  const close = s.text.indexOf(")", s.pos);
  if (close < 0) return s.fail("unterminated IP header expectation");
  const body = s.text.slice(s.pos, close).trim();
  s.pos = close + 1;
  const ip: IpHeaderSpec = {};
  for (const part of body.split(",")) {
    const m = /^\s*(ttl|hlim|tos|class)\s+(0[xX][0-9a-fA-F]+|[0-9]+)\s*$/.exec(part);
    if (m === null) return s.fail(`bad IP header expectation '${part.trim()}'`);
    const v = m[2].startsWith("0x") || m[2].startsWith("0X") ? parseInt(m[2], 16) : Number(m[2]);
    if (v > 0xff) return s.fail(`IP header value out of range '${part.trim()}'`);
    if (m[1] === "ttl" || m[1] === "hlim") ip.ttl = v;
    else ip.tos = v;
  }
  return ip;
}

function parsePacket(s: Scanner, direction: "inbound" | "outbound"): PacketSpec | Fail {
  let ecn: string | undefined;
  let ip: IpHeaderSpec | undefined;
  for (;;) {
    if (s.eat("[")) {
      const tag = s.ident();
      if (tag === null || !s.eat("]")) return s.fail("bad ECN tag, expected [noecn], [ect0], ...");
      ecn = tag;
      continue;
    }
    if (s.eat("(")) {
      const h = parseIpHeader(s);
      if (h instanceof Fail) return h;
      ip = { ...ip, ...h };
      continue;
    }
    break;
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
  if (ip !== undefined) p.ip = ip;
  if (s.text[s.pos] === "!") {
    s.pos++;
    p.absoluteSeq = true;
  }
  for (;;) {
    if (s.atEnd()) break;
    if (s.peek("/udp(")) {
      const close = s.text.indexOf(")", s.pos);
      if (close < 0) return s.fail("unterminated /udp(...)");
      s.pos = close + 1;
      p.udpEncapsulated = true;
      continue;
    }
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

/** ICMPv4 types NPLab names (RFC 792). */
const ICMP_TYPES: Readonly<Record<string, number>> = {
  unreachable: 3,
  source_quench: 4,
  redirect: 5,
  time_exceeded: 11,
  parameter_problem: 12,
};

/** ICMPv4 codes by type name (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1). */
const ICMP_CODES: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  unreachable: {
    net_unreachable: 0,
    host_unreachable: 1,
    protocol_unreachable: 2,
    port_unreachable: 3,
    frag_needed: 4,
    source_route_failed: 5,
    net_unknown: 6,
    host_unknown: 7,
    source_host_isolated: 8,
    net_prohibited: 9,
    host_prohibited: 10,
    net_unreachable_for_tos: 11,
    host_unreachable_for_tos: 12,
    packet_filtered: 13,
    precedence_violation: 14,
    precedence_cutoff: 15,
  },
  time_exceeded: { ttl_exceeded_in_transit: 0, frag_reass_exceeded: 1 },
  parameter_problem: { code_0: 0, code_1: 1, code_2: 2 },
  redirect: { net: 0, host: 1, tos_net: 2, tos_host: 3 },
  source_quench: {},
};

/** ICMPv6 names (RFC 4443) the IPv6 scripts use: parsed, reported as IPv6. */
const ICMP6_NAMES = new Set([
  "packet_too_big",
  "exceeded_hop_limit",
  "exceeded_frag_time",
  "no_route",
  "admin_prohibited",
  "address_unreachable",
  "not_neighbour",
  "beyond_scope",
  "header_field",
  "unknown_next_header",
  "unknown_option",
]);

/** `icmp TYPE [CODE] [mtu N] [start:end(len)]` after `<`. */
function parseIcmp(s: Scanner): IcmpSpec | Fail {
  s.ident(); // "icmp"
  const typeName = s.ident();
  if (typeName === null) return s.fail("expected an ICMP type after 'icmp'");
  let codeName = "";
  let mtu = 0;
  for (;;) {
    s.ws();
    if (s.peek("[")) break;
    const w = s.ident();
    if (w === null) return s.fail(`unexpected '${s.word()}' in ICMP line`);
    if (w === "mtu") {
      const v = s.integer();
      if (v === null || v < 0 || v > 0xffff) return s.fail("'mtu' needs a number");
      mtu = v;
    } else if (codeName === "") codeName = w;
    else return s.fail(`unexpected '${w}' in ICMP line`);
  }
  if (!s.eat("[")) return s.fail("expected the quoted segment '[start:end(len)]'");
  s.ws();
  const m = /^([0-9]+):([0-9]+)\(([0-9]+)\)/.exec(s.text.slice(s.pos));
  if (m === null) return s.fail("expected start:end(length) in the quoted segment");
  s.pos += m[0].length;
  if (!s.eat("]")) return s.fail("expected ']' after the quoted segment");
  if (!s.atEnd()) return s.fail(`unexpected '${s.word()}' after ICMP line`);
  const seq = Number(m[1]);
  if (seq > MAX_U32 || Number(m[2]) > MAX_U32) return s.fail("sequence number out of range");
  let type = ICMP_TYPES[typeName];
  let code = 0;
  if (type === undefined) {
    if (!ICMP6_NAMES.has(typeName)) return s.fail(`unknown ICMP type '${typeName}'`);
    type = -1;
    code = -1;
  } else if (codeName !== "") {
    const c = ICMP_CODES[typeName]?.[codeName];
    if (c === undefined) {
      if (!ICMP6_NAMES.has(codeName)) {
        return s.fail(`unknown ICMP code '${codeName}' for '${typeName}'`);
      }
      type = -1;
      code = -1;
    } else code = c;
  }
  return { typeName, codeName, type, code, mtu, seq, length: Number(m[3]) };
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
        // Linux packetdrill writes counted fields as `msg_iov(1)=[...]`, `msg_name(...)=...`.
        if (name !== null && s.peek("(")) {
          const close = s.text.indexOf(")", s.pos);
          const eq = close < 0 ? -1 : s.text.slice(close + 1).search(/\S/);
          if (close >= 0 && s.text[close + 1 + eq] === "=") {
            s.pos = close + 1;
          }
        }
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
    if (c === "<" && /^\s*icmp\b/.test(s.text.slice(s.pos))) {
      const icmp = parseIcmp(s);
      if (icmp instanceof Fail) return icmp;
      return { ...base, kind: "icmp", icmp };
    }
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

/** Options of {@link parseScript}. */
export interface ParseOptions {
  /**
   * Names defined for NPLab's `#ifdef NAME` / `#ifndef NAME` / `#else` / `#endif`
   * blocks (`FreeBSD`, `Linux`, `STANDARD`, or any `--define NAME`).
   */
  defines?: Iterable<string>;
}

/** Deepest `#ifdef` nesting accepted. */
const MAX_IFDEF_DEPTH = 16;

/**
 * NPLab's conditional blocks: a line `#ifdef NAME`, `#ifndef NAME`, `#else`,
 * `#endif` (leading blanks allowed). Lines of an inactive branch and the
 * directives themselves become empty, so line numbers stay those of the file.
 */
function preprocess(src: string, defines: ReadonlySet<string>): string | Fail {
  if (!src.includes("#")) return src;
  const lines = src.split("\n");
  // Each frame: whether this branch is taken, whether the enclosing one is, whether #else was seen.
  const stack: { taken: boolean; outer: boolean; sawElse: boolean; line: number }[] = [];
  const active = () => stack.length === 0 || (stack[stack.length - 1].taken);
  for (let k = 0; k < lines.length; k++) {
    const m = /^\s*#\s*(ifdef|ifndef|else|endif)\b\s*([A-Za-z_][A-Za-z0-9_]*)?\s*(\/\/.*)?$/.exec(
      lines[k],
    );
    if (m === null) {
      if (!active()) lines[k] = "";
      continue;
    }
    const [, directive, name] = m;
    if (directive === "ifdef" || directive === "ifndef") {
      if (name === undefined) return new Fail(k + 1, `#${directive} needs a name`);
      if (stack.length >= MAX_IFDEF_DEPTH) return new Fail(k + 1, "#ifdef nested too deeply");
      const outer = active();
      const cond = directive === "ifdef" ? defines.has(name) : !defines.has(name);
      stack.push({ taken: outer && cond, outer, sawElse: false, line: k + 1 });
    } else if (directive === "else") {
      const top = stack[stack.length - 1];
      if (top === undefined || top.sawElse) return new Fail(k + 1, "#else without #ifdef");
      top.sawElse = true;
      top.taken = top.outer && !top.taken;
    } else {
      if (stack.pop() === undefined) return new Fail(k + 1, "#endif without #ifdef");
    }
    lines[k] = "";
  }
  if (stack.length > 0) return new Fail(stack[stack.length - 1].line, "#ifdef without #endif");
  return lines.join("\n");
}

/**
 * Parses a packetdrill script. Never throws.
 *
 * @param source the script text
 * @param opts names defined for `#ifdef` blocks
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
export function parseScript(source: string, opts: ParseOptions = {}): ParseResult {
  try {
    const pre = preprocess(source, new Set(opts.defines ?? []));
    if (pre instanceof Fail) return failure(pre);
    const statements = splitStatements(pre);
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
