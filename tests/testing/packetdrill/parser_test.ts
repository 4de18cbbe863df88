import assert from "node:assert/strict";
import { parseScript } from "../../../src/testing/packetdrill/parser.ts";
import {
  FLAG_ACK,
  FLAG_CWR,
  FLAG_ECE,
  FLAG_FIN,
  FLAG_PSH,
  FLAG_RST,
  FLAG_SYN,
  type Script,
  type ScriptEvent,
} from "../../../src/testing/packetdrill/script.ts";

function parse(src: string): Script {
  const r = parseScript(src);
  if (!r.ok) throw new Error(`line ${r.error.line}: ${r.error.message}`);
  return r.script;
}

function one(src: string): ScriptEvent {
  const s = parse(src);
  assert.equal(s.events.length, 1);
  return s.events[0];
}

function packet(src: string) {
  const e = one(src);
  assert.equal(e.kind, "packet");
  return (e as ScriptEvent & { kind: "packet" }).packet;
}

function call(src: string) {
  const e = one(src);
  assert.equal(e.kind, "syscall");
  return (e as ScriptEvent & { kind: "syscall" }).call;
}

function failLine(src: string): number {
  const r = parseScript(src);
  assert.ok(!r.ok, "expected a parse error");
  return r.error.line;
}

Deno.test("parseScript reads command-line options at the top", () => {
  const s = parse("--ip_version=ipv4\n--tolerance_usecs=50000 --verbose\n0 close(3) = 0\n");
  assert.equal(s.options.get("ip_version"), "ipv4");
  assert.equal(s.options.get("tolerance_usecs"), "50000");
  assert.equal(s.options.get("verbose"), "");
});

Deno.test("parseScript reads absolute, relative, any and ranged times", () => {
  assert.deepEqual(one("0.25 close(3) = 0").time, { kind: "absolute", startUsecs: 250_000 });
  assert.deepEqual(one("+.01 close(3) = 0").time, { kind: "relative", startUsecs: 10_000 });
  assert.deepEqual(one("* close(3) = 0").time, { kind: "any", startUsecs: 0 });
  assert.deepEqual(one("+0.3~+0.4 > . 1:1(0) ack 1").time, {
    kind: "range",
    startUsecs: 300_000,
    rangeEndUsecs: 400_000,
    rangeEndRelative: true,
  });
  assert.deepEqual(one("1~2 > . 1:1(0) ack 1").time.rangeEndRelative, false);
});

Deno.test("parseScript reads blocking-call windows", () => {
  const t = one("+0...0.2 accept(3, ..., ...) = 4").time;
  assert.deepEqual(t, { kind: "relative", startUsecs: 0, blockingEndUsecs: 200_000 });
  const u = one("+.01...0.011 connect(3, ..., ...) = 0").time;
  assert.equal(u.startUsecs, 10_000);
  assert.equal(u.blockingEndUsecs, 11_000);
});

Deno.test("parseScript reads packet flags", () => {
  assert.equal(packet("0 < S 0:0(0) win 1").flags, FLAG_SYN);
  assert.equal(packet("0 > S. 0:0(0) ack 1").flags, FLAG_SYN | FLAG_ACK);
  assert.equal(packet("0 > F. 1:1(0) ack 1").flags, FLAG_FIN | FLAG_ACK);
  assert.equal(packet("0 > P. 1:11(10) ack 1").flags, FLAG_PSH | FLAG_ACK);
  assert.equal(packet("0 > R 1:1(0)").flags, FLAG_RST);
  assert.equal(packet("0 > FP. 1:11(10) ack 1").flags, FLAG_FIN | FLAG_PSH | FLAG_ACK);
  assert.equal(packet("0 < - 1:1001(1000) win 20000").flags, 0);
  assert.equal(packet("0 < SEW 0:0(0) win 1").flags, FLAG_SYN | FLAG_ECE | FLAG_CWR);
});

Deno.test("parseScript reads seq ranges, ack, win, urg and ECN tags", () => {
  const p = packet("+0 <[noecn] P. 1:1001(1000) ack 77 win 257 urg 3");
  assert.equal(p.direction, "inbound");
  assert.equal(p.ecn, "noecn");
  assert.deepEqual([p.start, p.end, p.length, p.ack, p.window, p.urgent], [
    1,
    1001,
    1000,
    77,
    257,
    3,
  ]);
  assert.equal(packet("0 > [ect0] P. 1:11(10) ack 1").ecn, "ect0");
  assert.equal(packet("0 > . 4294967295:9(10) ack 1").length, 10);
});

Deno.test("parseScript reads every TCP option", () => {
  const p = packet(
    "0 < S 0:0(0) win 1 <mss 1460,nop,eol,wscale 7,sackOK,sack 1:2 3:4,TS val 100 ecr 0>",
  );
  assert.ok(Array.isArray(p.options));
  const o = p.options as Exclude<typeof p.options, "any" | null>;
  assert.deepEqual(o.map((x) => x.kind), ["mss", "nop", "eol", "wscale", "sackOK", "sack", "TS"]);
  assert.equal(o[0].value, 1460);
  assert.equal(o[3].value, 7);
  assert.deepEqual(o[5].blocks, [[1, 2], [3, 4]]);
  assert.deepEqual([o[6].val, o[6].ecr], [100, 0]);
  assert.equal(packet("0 > S. 0:0(0) ack 1 <...>").options, "any");
  assert.equal(packet("0 > . 1:1(0) ack 1").options, null);
  const spaced = packet("0 < S 0:0(0) win 1 <sackOK, eol>").options;
  assert.deepEqual((spaced as { kind: string }[]).map((x) => x.kind), ["sackOK", "eol"]);
  const fo = packet("0 < S 0:0(0) win 1 <FO 1234,md5>").options as { kind: string }[];
  assert.deepEqual(fo.map((x) => x.kind), ["fastopen", "md5"]);
});

Deno.test("parseScript reads system calls with results, errnos and notes", () => {
  const c = call("+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)");
  assert.equal(c.name, "connect");
  assert.deepEqual(c.args, [{ type: "number", value: 3 }, { type: "ellipsis" }, {
    type: "ellipsis",
  }]);
  assert.equal(c.result, -1);
  assert.equal(c.errno, "EINPROGRESS");
  assert.equal(c.note, "Operation now in progress");
  const f = call("+0 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)");
  assert.equal(f.result, 2);
  assert.equal(f.note, "flags O_RDWR");
  const s = call("+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0");
  assert.deepEqual(s.args[2], {
    type: "or",
    terms: [{ type: "ident", name: "O_RDWR" }, { type: "ident", name: "O_NONBLOCK" }],
  });
  const g = call("+0 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], [4]) = 0");
  assert.deepEqual(g.args[3], { type: "list", items: [{ type: "number", value: 65536 }] });
  const l = call("0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0");
  assert.equal((l.args[3] as { type: string }).type, "struct");
  assert.equal(call("0 write (3, ..., 10) = ...").result, "any");
  assert.equal(call('0 send(4, "hi", 2, 0) = 2').args[1].type, "string");
});

Deno.test("parseScript reads system calls spanning lines", () => {
  const s = parse("0 setsockopt(3, SOL_SOCKET,\n   SO_REUSEADDR, [1], 4) = 0\n+0 close(3) = 0\n");
  assert.equal(s.events.length, 2);
  assert.equal(s.events[1].line, 3);
});

Deno.test("parseScript reads backtick lines, with or without a time", () => {
  const s = parse("`../common/defaults.sh`\n+0.00 `sysctl -w net.inet.tcp.rfc1323=1`\n");
  assert.equal(s.events.length, 2);
  assert.equal(s.events[0].kind, "shell");
  assert.deepEqual(s.events[0].time, { kind: "relative", startUsecs: 0 });
  assert.equal((s.events[1] as { command: string }).command, "sysctl -w net.inet.tcp.rfc1323=1");
});

Deno.test("parseScript recognises tcpi_state asserts among %{ }% blocks", () => {
  const a = one("+0.00 %{ assert tcpi_state == TCPI_CLOSE_WAIT }%");
  assert.equal(a.kind, "code");
  assert.equal((a as { tcpiState: string | null }).tcpiState, "TCPI_CLOSE_WAIT");
  const b = one("+0 %{ assert tcpi_options == 0 }%");
  assert.equal((b as { tcpiState: string | null }).tcpiState, null);
  const c = parse("0 %{\nprint(tcpi_rto)\n}%\n+0 close(3) = 0\n");
  assert.equal(c.events.length, 2);
  assert.equal(c.events[1].line, 4);
});

Deno.test("parseScript drops // and /* */ comments", () => {
  const s = parse(
    "// top\n0 close(3) = 0 // tail\n/* a\nmulti-line\ncomment */\n+0 close(4) = 0\n",
  );
  assert.equal(s.events.length, 2);
  assert.equal(s.events[1].line, 6);
});

Deno.test("parseScript reports errors with their line numbers", () => {
  assert.equal(failLine("0 close(3) = 0\n+0 > . 1:2(5) ack 1\n"), 2); // inconsistent length
  assert.equal(failLine("\n\n+0 < X 0:0(0) win 1\n"), 3); // unknown flag
  assert.equal(failLine("0 close(3) = 0\n/* never closed\n"), 2);
  assert.equal(failLine("0 close(3)\n"), 1); // no result
  assert.equal(failLine("0 > . 1:1(0) ack 1 <mss>\n"), 1);
  assert.equal(failLine("0 > . 1:1(0) ack 1 <TS val 1>\n"), 1);
  assert.equal(failLine("x close(3) = 0\n"), 1);
  assert.equal(failLine("+0.5~+0.1 > . 1:1(0) ack 1\n"), 1);
  assert.equal(failLine("0 close(3) = 0\n+0 socket(..., \n"), 2);
  assert.equal(failLine("0 %{ assert tcpi_state == TCPI_LISTEN\n"), 1);
  assert.equal(failLine("0 connect(3, ..., ...) = -1 EINPROGRESS (Operation"), 1);
});

Deno.test("parseScript never throws on hostile input", () => {
  const junk = [
    "(((((",
    "0 < S 99999999999:0(0)",
    "0 f(" + "[".repeat(100) + "]".repeat(100) + ") = 0",
    "`",
    "%{",
    "0 > . 1:1(0) win 70000",
    "\u0000\u0001",
    "--=",
    "0 > S 0:0(0) <,,,>",
  ];
  for (const j of junk) {
    const r = parseScript(j);
    assert.equal(r.ok, false, j);
  }
});

Deno.test("parseScript keeps the #ifdef branch of the defined names (NPLab)", () => {
  const src = `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
#ifdef FreeBSD
+0 close(3) = 0
#else
+0 shutdown(3, SHUT_WR) = 0
#ifndef Linux
+0 listen(3, 1) = 0
#endif
#endif
`;
  const free = parseScript(src, { defines: ["FreeBSD"] });
  assert.ok(free.ok);
  assert.deepEqual(free.script.events.map((e) => e.line), [1, 3]);
  const std = parseScript(src, { defines: ["STANDARD"] });
  assert.ok(std.ok);
  assert.deepEqual(std.script.events.map((e) => e.line), [1, 5, 7]);
  const linux = parseScript(src, { defines: ["Linux"] });
  assert.ok(linux.ok);
  assert.deepEqual(linux.script.events.map((e) => e.line), [1, 5]);
  for (
    const bad of [
      "#else\n",
      "#endif\n",
      "#ifdef A\n",
      "#ifdef\n#endif\n",
      "#ifdef A\n#else\n#else\n#endif\n",
    ]
  ) {
    const r = parseScript(bad);
    assert.ok(!r.ok, bad);
  }
  const unterminated = parseScript("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n#ifdef A\n");
  assert.ok(!unterminated.ok && unterminated.error.line === 2);
});

Deno.test("parseScript reads NPLab ICMP injection lines", () => {
  const e = one("+0.1 < icmp unreachable port_unreachable [0:0(0)]");
  assert.equal(e.kind, "icmp");
  const i = (e as ScriptEvent & { kind: "icmp" }).icmp;
  assert.deepEqual([i.type, i.code, i.seq, i.length, i.mtu], [3, 3, 0, 0, 0]);
  const frag = one("+0 <icmp unreachable frag_needed mtu 1234 [1:1(0)]") as ScriptEvent & {
    kind: "icmp";
  };
  assert.deepEqual([frag.icmp.type, frag.icmp.code, frag.icmp.mtu, frag.icmp.seq], [3, 4, 1234, 1]);
  const ttl = one("+0 < icmp time_exceeded ttl_exceeded_in_transit [4294967295:4294967295(0)]") as
    & ScriptEvent
    & { kind: "icmp" };
  assert.deepEqual([ttl.icmp.type, ttl.icmp.code, ttl.icmp.seq], [11, 0, 4294967295]);
  const quench = one("+0 < icmp source_quench [0:0(0)]") as ScriptEvent & { kind: "icmp" };
  assert.deepEqual([quench.icmp.type, quench.icmp.code], [4, 0]);
  const v6 = one("+0 < icmp packet_too_big mtu 1300 [0:0(0)]") as ScriptEvent & { kind: "icmp" };
  assert.equal(v6.icmp.type, -1);
  for (
    const bad of [
      "0 < icmp bogus [0:0(0)]",
      "0 < icmp unreachable bogus [0:0(0)]",
      "0 < icmp unreachable port_unreachable",
      "0 < icmp unreachable port_unreachable [0:0(0)] x",
    ]
  ) {
    assert.ok(!parseScript(bad).ok, bad);
  }
});

Deno.test("parseScript reads IP header expectations, absolute sequence numbers and /udp", () => {
  const p = packet("+0 > (ttl 4) R. 0:0(0)! ack 1 win 0");
  assert.deepEqual(p.ip, { ttl: 4 });
  assert.equal(p.absoluteSeq, true);
  const q = packet("+0 < (tos 0x28, ttl 3) S 0:0(0) win 32767");
  assert.deepEqual(q.ip, { tos: 0x28, ttl: 3 });
  const r = packet("+0 > (hlim 4) (class 0xe0) [ect0] P. 1:11(10) ack 1");
  assert.deepEqual(r.ip, { ttl: 4, tos: 0xe0 });
  assert.equal(r.ecn, "ect0");
  const u = packet("+0 < (ttl 3) F. 1:1(0) ack 1 win 32767/udp(1 > 9811)");
  assert.equal(u.udpEncapsulated, true);
  assert.equal(u.window, 32767);
  assert.ok(!parseScript("0 > (ttl 300) S 0:0(0)").ok);
  assert.ok(!parseScript("0 > (color 3) S 0:0(0)").ok);
});

Deno.test("parseScript joins a backtick command over several lines", () => {
  const s = parse(
    "`../common/defaults.sh\n sysctl -q net.ipv4.tcp_ecn=1\n`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n",
  );
  assert.equal(s.events.length, 2);
  assert.equal(s.events[0].kind, "shell");
  assert.match((s.events[0] as ScriptEvent & { kind: "shell" }).command, /tcp_ecn=1/);
  assert.equal(s.events[1].line, 4);
  assert.ok(!parseScript("`never closed\n0 close(3) = 0\n").ok);
});

Deno.test("parseScript reads sendmsg's struct msghdr argument", () => {
  const e = one(
    "+0 sendmsg(4, {msg_name(...)=...,\n msg_iov(1)=[{..., 40}], msg_flags=0}, 0) = 40",
  ) as ScriptEvent & { kind: "syscall" };
  const msg = e.call.args[1];
  assert.equal(msg.type, "struct");
  if (msg.type !== "struct") return;
  assert.deepEqual(msg.fields.map((f) => f.name), ["msg_name", "msg_iov", "msg_flags"]);
});
