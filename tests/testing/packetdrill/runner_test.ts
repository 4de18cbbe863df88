import assert from "node:assert/strict";
import { runScriptText } from "../../../src/testing/packetdrill/runner.ts";

const STRICT = { portable: false };
const PORTABLE = { portable: true };

const LISTEN = `--tolerance_usecs=2000
--rawstack_timestamps=0
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 65535 <mss 1460>
+0 > S. 0:0(0) ack 1 win 65535 <mss 1460>
`;
// Lines 1-7 above; the handshake completes on line 8 of each script.
const ESTABLISHED = `${LISTEN}+.1 < . 1:1(0) ack 1 win 65535
+0 accept(3, ..., ...) = 4
`;

Deno.test("runScriptText passes a handshake and data exchange", () => {
  const r = runScriptText(
    `${ESTABLISHED}+0 write(4, ..., 10) = 10
+0 > P. 1:11(10) ack 1 win 65535
+.1 < P. 1:6(5) ack 11 win 65535
+0 > . 11:11(0) ack 6 win 65530
+0 ioctl(4, SIOCINQ, [5]) = 0
`,
    STRICT,
  );
  assert.deepEqual(r, { status: "pass" });
});

Deno.test("runScriptText reports the first mismatching packet with its line", () => {
  const r = runScriptText(
    LISTEN.replace("ack 1 win 65535 <mss 1460>", "ack 1 win 65535 <mss 1400>"),
    STRICT,
  );
  assert.equal(r.status, "fail");
  assert.equal(r.line, 7);
  assert.match(r.reason ?? "", /^options:/);
  assert.match(r.got ?? "", /<mss 1460>/);
});

Deno.test("runScriptText fails a packet sent later than the tolerance", () => {
  // The retransmission leaves one RTO (300 ms after a 100 ms RTT sample) after the
  // write; expecting it at +100 ms (±2 ms) fails.
  const r = runScriptText(
    `${ESTABLISHED}+0 write(4, ..., 10) = 10
+0 > P. 1:11(10) ack 1 win 65535
+.1 > P. 1:11(10) ack 1 win 65535
`,
    STRICT,
  );
  assert.equal(r.status, "fail");
  assert.equal(r.line, 12);
  assert.match(r.got ?? "", /nothing sent by 0\.202000s/);
});

Deno.test("runScriptText fails a packet sent earlier than the tolerance", () => {
  const r = runScriptText(
    `${ESTABLISHED}+0 write(4, ..., 10) = 10
+0 > P. 1:11(10) ack 1 win 65535
+.32 > P. 1:11(10) ack 1 win 65535
`,
    STRICT,
  );
  assert.equal(r.status, "fail");
  assert.match(r.reason ?? "", /^time: expected 0\.420000 ±0\.002000s, got 0\.400000s/);
});

Deno.test("runScriptText lets a blocking call wait for packets within its window", () => {
  const ok = runScriptText(
    `${LISTEN}+0...0.1 accept(3, ..., ...) = 4
+.1 < . 1:1(0) ack 1 win 65535
`,
    STRICT,
  );
  assert.deepEqual(ok, { status: "pass" });
  const early = runScriptText(
    `${LISTEN}+0...0.05 accept(3, ..., ...) = 4
+.1 < . 1:1(0) ack 1 win 65535
`,
    STRICT,
  );
  assert.equal(early.status, "fail");
  assert.equal(early.line, 8);
  assert.match(early.reason ?? "", /accept\(\) return time: expected 0\.050000/);
});

Deno.test("runScriptText fails a blocking call that returns early", () => {
  const r = runScriptText(
    `${ESTABLISHED}+0...0.5 write(4, ..., 10) = 10
+0 > P. 1:11(10) ack 1 win 65535
`,
    STRICT,
  );
  assert.equal(r.status, "fail");
  assert.match(r.reason ?? "", /return time/);
});

Deno.test("runScriptText checks results and errnos of system calls", () => {
  // packetdrill maps script descriptors to live ones: socket() returns the number named.
  assert.equal(
    runScriptText("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4\n+0 close(4) = 0\n", STRICT).status,
    "pass",
  );
  const wrongFd = runScriptText(
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4\n+0 close(3) = -1 EBADF (Bad file descriptor)\n" +
      "+0 close(4) = -1 EBADF (wrong on purpose)\n",
    STRICT,
  );
  assert.equal(wrongFd.status, "fail");
  assert.equal(wrongFd.expected, "-1 EBADF");
  assert.equal(wrongFd.got, "0");
  const errno = runScriptText(
    `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 accept(3, ..., ...) = -1 EINPROGRESS (wrong on purpose)
`,
    STRICT,
  );
  assert.equal(errno.status, "fail");
  assert.equal(errno.got, "-1 EAGAIN");
  const wouldBlock = runScriptText(
    `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 accept(3, ..., ...) = -1 EWOULDBLOCK (operation would block)
`,
    STRICT,
  );
  assert.equal(wouldBlock.status, "pass");
});

Deno.test("runScriptText compares socket buffer sizes only in strict mode", () => {
  const s =
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], [4]) = 0\n";
  assert.equal(runScriptText(s, STRICT).status, "fail");
  assert.equal(runScriptText(s, PORTABLE).status, "pass");
  const err =
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [1], [4]) = 0\n";
  assert.equal(runScriptText(err, PORTABLE).status, "fail");
});

Deno.test("runScriptText ignores windows in portable mode only", () => {
  const s = `${ESTABLISHED}+0 write(4, ..., 10) = 10\n+0 > P. 1:11(10) ack 1 win 1234\n`;
  assert.equal(runScriptText(s, PORTABLE).status, "pass");
  assert.equal(runScriptText(s, STRICT).status, "fail");
});

Deno.test("runScriptText flags unexpected trailing packets in strict mode", () => {
  const s = `${ESTABLISHED}+.1 < P. 1:6(5) ack 1 win 65535\n+.1 read(4, ..., 10) = 5\n`;
  const strict = runScriptText(s, STRICT);
  assert.equal(strict.status, "fail");
  assert.match(strict.got ?? "", /> \. 1:1\(0\) ack 6/);
  assert.equal(runScriptText(s, PORTABLE).status, "pass");
});

Deno.test("runScriptText maps tcpi_state asserts to the connection state", () => {
  const s = `${ESTABLISHED}+0 %{ assert tcpi_state == TCPI_ESTABLISHED }%
+0 shutdown(4, SHUT_WR) = 0
+0 > F. 1:1(0) ack 1 win 65535
+0 %{ assert tcpi_state == TCPI_FIN_WAIT1 }%
`;
  assert.deepEqual(runScriptText(s, STRICT), { status: "pass" });
  const wrong = runScriptText(
    `${ESTABLISHED}+0 %{ assert tcpi_state == TCPI_CLOSE_WAIT }%\n`,
    STRICT,
  );
  assert.equal(wrong.status, "fail");
  assert.equal(wrong.got, "ESTABLISHED");
});

Deno.test("runScriptText merges TSO-sized expectations in portable mode", () => {
  const s = `${ESTABLISHED}+0 write(4, ..., 2000) = 2000\n+0 > P. 1:2001(2000) ack 1\n`;
  assert.equal(runScriptText(s, PORTABLE).status, "pass");
  assert.equal(runScriptText(s, STRICT).status, "fail");
});

Deno.test("runScriptText marks scripts not applicable with a reason", () => {
  const cases: [string, RegExp][] = [
    ["--ip_version=ipv5\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n", /ip_version/],
    [
      "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_TCP, TCP_DEFER_ACCEPT, [5], 4) = 0\n",
      /TCP_DEFER_ACCEPT/,
    ],
    [
      "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{ assert tcpi_busy_time == 0 }%\n",
      /tcpi_busy_time is not modelled/,
    ],
    ["0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{ print(tcpi_rtt) }%\n", /Python/],
    ["0 < . 1:1(0) ack 1 win 1/udp(1 > 9811)\n", /RFC 6951/],
    ["0 < icmp packet_too_big mtu 1300 [0:0(0)]\n", /ICMPv6/],
    ["`set_sysctls.py /proc/sys/net/ipv4/tcp_mtu_probing=2`\n", /RFC 4821/],
    ["0 < S 0:0(0) win 1 <mss 1460,FO 1234>\n", /Fast Open/],
    ["0 < S 0:0(0) win 1 <md5 abcd>\n", /MD5/],
    ["0 epoll_create(1) = 3\n", /epoll_create/],
  ];
  for (const [src, re] of cases) {
    const r = runScriptText(src, PORTABLE);
    assert.equal(r.status, "n/a", src);
    assert.match(r.reason ?? "", re);
  }
});

Deno.test("runScriptText skips backtick lines in portable mode, not in strict mode", () => {
  const s = "`sysctl -w net.ipv4.tcp_sack=1`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n";
  assert.equal(runScriptText(s, PORTABLE).status, "pass");
  assert.equal(runScriptText(s, STRICT).status, "n/a");
});

Deno.test("runScriptText turns parse errors into failures with the line", () => {
  const r = runScriptText("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 > S 1:0(0)\n", STRICT);
  assert.equal(r.status, "fail");
  assert.equal(r.line, 2);
  assert.match(r.reason ?? "", /^parse error/);
});

Deno.test("runScriptText rejects unknown engine options", () => {
  const r = runScriptText(
    "--rawstack_bogus=1\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n",
    STRICT,
  );
  assert.equal(r.status, "fail");
  assert.match(r.reason ?? "", /bogus/);
});

Deno.test("runScriptText runs --ip_version=ipv6 scripts through the engine's IPv6 path (MSS = MTU − 60)", () => {
  const v6 = (mss: number) =>
    `--ip_version=ipv6\n--mtu=1280\n${
      LISTEN.replace("ack 1 win 65535 <mss 1460>", `ack 1 win 65535 <mss ${mss}>`)
    }`;
  // The SYN-ACK's MSS is the 1,280-byte path MTU − 60 (RFC 8200 §8.3), not IPv4's − 40.
  const r = runScriptText(v6(1220), STRICT);
  assert.equal(r.status, "pass", r.reason);
  const wrong = runScriptText(v6(1240), STRICT);
  assert.equal(wrong.status, "fail");
  assert.match(wrong.reason ?? "", /mss 1220/);
  // An ESTABLISHED IPv6 connection accepts data with the IPv6 pseudo-header checksum.
  const data = runScriptText(
    `--ip_version=ipv6\n${ESTABLISHED}+0 < P. 1:11(10) ack 1 win 65535\n+0 > . 1:1(0) ack 11\n`,
    PORTABLE,
  );
  assert.equal(data.status, "pass", data.reason);
});

Deno.test("runScriptText models TCP_CORK: held small writes leave together on uncork, with PSH", () => {
  const r = runScriptText(
    `${ESTABLISHED}+0 setsockopt(4, SOL_TCP, TCP_CORK, [1], 4) = 0
+0 getsockopt(4, SOL_TCP, TCP_CORK, [1], [4]) = 0
+0 write(4, ..., 40) = 40
+.05 write(4, ..., 40) = 40
+.01 setsockopt(4, SOL_TCP, TCP_CORK, [0], 4) = 0
+0 > P. 1:81(80) ack 1 win 65535
`,
    STRICT,
  );
  assert.deepEqual(r, { status: "pass" });
});

Deno.test("runScriptText models send() and sendmsg() with MSG_MORE: corked, no PSH until a plain write", () => {
  const r = runScriptText(
    `${ESTABLISHED}+0 setsockopt(4, SOL_TCP, TCP_NODELAY, [1], 4) = 0
+0 send(4, ..., 40, MSG_MORE) = 40
+.01 sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 20}], msg_flags=0}, MSG_MORE) = 20
+.01 write(4, ..., 10) = 10
+0 > P. 1:71(70) ack 1 win 65535
`,
    STRICT,
  );
  assert.deepEqual(r, { status: "pass" });
});
