import assert from "node:assert/strict";
import { resolveTcpConfig } from "../../../src/tcp/config.ts";
import {
  applySysctls,
  defaultProfileFor,
  profileByName,
  sysctlAssignments,
  unsupportedSysctlReason,
} from "../../../src/testing/packetdrill/profiles.ts";
import { runScriptText } from "../../../src/testing/packetdrill/runner.ts";

Deno.test("sysctlAssignments reads sysctl and set_sysctls.py commands", () => {
  assert.deepEqual(
    sysctlAssignments(
      "../common/defaults.sh\nsysctl -q net.ipv4.tcp_ecn=1 # on\n../common/set_sysctls.py \\\n" +
        " /proc/sys/net/ipv4/tcp_sack=0 /proc/sys/net/ipv4/tcp_timestamps=0\nip route show",
    ),
    [
      { name: "net.ipv4.tcp_ecn", value: "1" },
      { name: "net.ipv4.tcp_sack", value: "0" },
      { name: "net.ipv4.tcp_timestamps", value: "0" },
    ],
  );
  assert.deepEqual(sysctlAssignments("sysctl -w net.inet.tcp.rfc1323=0"), [
    { name: "net.inet.tcp.rfc1323", value: "0" },
  ]);
  assert.deepEqual(sysctlAssignments("echo x=1"), []);
});

Deno.test("applySysctls applies only what the profile recognises", () => {
  const free = profileByName("freebsd")!;
  const c = resolveTcpConfig();
  assert.deepEqual(
    applySysctls(free, "sysctl -w net.inet.tcp.rfc1323=0 net.ipv4.tcp_sack=0", c),
    ["net.inet.tcp.rfc1323"],
  );
  assert.equal(c.windowScaling, false);
  assert.equal(c.timestamps, false);
  assert.equal(c.sack, true); // a Linux name under the FreeBSD profile: skipped
  applySysctls(free, "sysctl -w net.inet.tcp.icmp_may_rst=0 net.inet.tcp.ecn.enable=1", c);
  assert.equal(c.icmpAbortsConnect, "none");
  assert.equal(c.ecn, "on");
  const l = resolveTcpConfig();
  applySysctls(profileByName("linux")!, "sysctl -q net.ipv4.tcp_keepalive_time=30", l);
  assert.equal(l.keepAliveIdleMs, 30_000);
  assert.equal(profileByName("solaris"), null);
});

Deno.test("defaultProfileFor maps suite folders to their systems", () => {
  assert.equal(defaultProfileFor("../shared/conformance/freebsd-rcv-icmp/x.pkt"), "freebsd");
  assert.equal(defaultProfileFor("../shared/conformance/google/ecn/x.pkt"), "linux");
  assert.equal(defaultProfileFor("../shared/conformance/gvisor/x.pkt"), "linux");
  assert.equal(defaultProfileFor("tests/conformance/x.pkt"), null);
});

Deno.test("unsupportedSysctlReason names mechanisms rawstack lacks", () => {
  assert.match(unsupportedSysctlReason("sysctl -q net.ipv4.tcp_fastopen=3") ?? "", /RFC 7413/);
  assert.equal(unsupportedSysctlReason("sysctl -q net.ipv4.tcp_fastopen=0"), null);
});

const FREEBSD_SYN_SCHEDULE = `--tolerance_usecs=50000
+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) win 65535 <...>
+1.00 > S 0:0(0) win 65535 <...>
+2.20 > S 0:0(0) win 65535 <...>
+4.20 > S 0:0(0) win 65535 <...>
+0 close(3) = 0
`;

Deno.test("profile freebsd retransmits the SYN on FreeBSD's schedule (rexmit_slop)", () => {
  assert.equal(
    runScriptText(FREEBSD_SYN_SCHEDULE, { portable: true, profile: "freebsd" }).status,
    "pass",
  );
  // Without the profile: RFC 6298 §5.5 doubling, 1 s then 2 s.
  const plain = runScriptText(FREEBSD_SYN_SCHEDULE, { portable: true });
  assert.equal(plain.status, "fail");
  assert.match(plain.reason ?? "", /time/);
});

Deno.test("profile sysctls in backticks change the engine for the rest of the run", () => {
  const src = `\`sysctl -w net.inet.tcp.sack.enable=0\`
+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,nop,nop,TS val 100 ecr 0>
+0 close(3) = 0
`;
  assert.equal(runScriptText(src, { portable: true, profile: "freebsd" }).status, "pass");
  // The Linux profile does not know FreeBSD's sysctl: SACK stays on.
  assert.equal(runScriptText(src, { portable: true, profile: "linux" }).status, "fail");
});

Deno.test("--define and the profile's names select #ifdef branches", () => {
  const src = `0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
#ifdef FreeBSD
+0 close(3) = 0
#else
+0 close(4) = 0
#endif
`;
  assert.equal(runScriptText(src, { portable: true, profile: "freebsd" }).status, "pass");
  assert.equal(runScriptText(src, { portable: true, profile: "linux" }).status, "fail");
  assert.equal(runScriptText(src, { portable: true, defines: ["FreeBSD"] }).status, "pass");
});

Deno.test("profile rfc selects RFC 9438's Reno-friendly alpha; the default is AIMD(1, 0.7)", () => {
  assert.equal(resolveTcpConfig({}).cubicRenoFriendly, "aimd1");
  assert.equal(profileByName("rfc")!.config.cubicRenoFriendly, "rfc9438");
  assert.equal(profileByName("linux")!.config.cubicRenoFriendly, undefined);
});
