import assert from "node:assert/strict";
import { evaluateTcpiAssert } from "../../../src/testing/packetdrill/tcpi.ts";
import { runScriptText } from "../../../src/testing/packetdrill/runner.ts";

Deno.test("evaluateTcpiAssert checks comparison chains over tcpi fields", () => {
  const v = { snd_mss: 1100, advmss: 1100, last_data_recv: 1000, options: 7 };
  assert.equal(
    evaluateTcpiAssert(
      "assert tcpi_advmss == 1100, tcpi_advmss; assert tcpi_snd_mss == 1100, tcpi_snd_mss",
      v,
    ),
    null,
  );
  assert.equal(evaluateTcpiAssert("assert 990 <= tcpi_last_data_recv <= 1010", v), null);
  const f = evaluateTcpiAssert("assert tcpi_last_data_recv <= 10, tcpi_last_data_recv", v);
  assert.equal(f?.kind, "failed");
  assert.equal(f?.kind === "failed" ? f.got : "", "1000");
  assert.equal(
    evaluateTcpiAssert(
      "assert tcpi_options == (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE)",
      v,
    ),
    null,
  );
  assert.equal(
    evaluateTcpiAssert("assert tcpi_options == (TCPI_OPT_ECN | TCPI_OPT_SACK)", v)?.kind,
    "failed",
  );
  assert.equal(evaluateTcpiAssert("assert tcpi_snd_mss == 1100 and tcpi_advmss > 1", v), null);
  assert.equal(
    evaluateTcpiAssert("assert 19000 <= tcpi_snd_mss <= 21000, x;\\\n", v)?.kind,
    "failed",
  );
});

Deno.test("evaluateTcpiAssert reports what it cannot judge", () => {
  assert.equal(
    evaluateTcpiAssert("assert tcpi_busy_time == 0", null)?.kind,
    "unsupported",
  );
  assert.equal(evaluateTcpiAssert("x = 1", null)?.kind, "unsupported");
  assert.equal(evaluateTcpiAssert("assert tcpi_snd_mss", null)?.kind, "unsupported");
  assert.equal(evaluateTcpiAssert("assert tcpi_rto > 0", null), null);
});

Deno.test("evaluateTcpiAssert compares tcpi_ca_state with Linux's TCP_CA_* values", () => {
  const recovery = { ca_state: 3 };
  assert.equal(evaluateTcpiAssert("assert tcpi_ca_state == TCP_CA_Open", null), null);
  assert.equal(evaluateTcpiAssert("assert tcpi_ca_state == TCP_CA_Recovery", recovery), null);
  const wrong = evaluateTcpiAssert("assert tcpi_ca_state == TCP_CA_Loss, tcpi_ca_state", recovery);
  assert.equal(wrong?.kind, "failed");
});

Deno.test("evaluateTcpiAssert ignores a Python comment after an assertion", () => {
  const v = { lost: 7, reordering: 3 };
  assert.equal(evaluateTcpiAssert("assert tcpi_lost == 7, tcpi_lost  # 1:7001 are lost", v), null);
  assert.equal(
    evaluateTcpiAssert("assert tcpi_reordering == 5 # 7001:8001 -> 3001:4001\n", v)?.kind,
    "failed",
  );
});

// The start of Google's sack-shift-sacked-7-3-4-8-9-fack.pkt, with tcpi_sacked and
// tcpi_retrans asserted too. The last ACK fills holes never retransmitted from 2001 up,
// below the fack: Linux's tcp_clean_rtx_queue takes that as reordering of
// 10001 - 2001 = 8 segments.
const SACKED_7_THEN_3 = `--tolerance_usecs=2000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
+.1 < . 1:1(0) ack 1 win 1024
+0 accept(3, ..., ...) = 4
+0 write(4, ..., 10000) = 10000
+0 > P. 1:10001(10000) ack 1
+.1 < . 1:1(0) ack 1 win 257 <sack 7001:8001,nop,nop>
+.027 > . 1:1001(1000) ack 1
+0 %{ assert tcpi_sacked == 1 and tcpi_lost == 7 and tcpi_reordering == 3 and tcpi_retrans == 1 }%
+.002 < . 1:1(0) ack 1 win 257 <sack 3001:4001 7001:8001,nop,nop>
+0 > . 1001:2001(1000) ack 1
+0 %{ assert tcpi_sacked == 2 and tcpi_lost == 6 and tcpi_reordering == 5 and tcpi_retrans == 2 }%
+.1 < . 1:1(0) ack 10001 win 257
+0 %{ assert tcpi_sacked == 0 and tcpi_lost == 0 and tcpi_retrans == 0 }%
+0 %{ assert tcpi_reordering == 8 }%
`;

Deno.test("the runner maps tcpi_sacked, tcpi_lost, tcpi_retrans and tcpi_reordering to Linux's sacked_out, lost_out, retrans_out and reordering", () => {
  assert.deepEqual(runScriptText(SACKED_7_THEN_3, { portable: true }), { status: "pass" });
  const wrong = runScriptText(
    SACKED_7_THEN_3.replace("tcpi_reordering == 8 }%", "tcpi_reordering == 3 }%"),
    { portable: true },
  );
  assert.equal(wrong.status, "fail");
  assert.equal(wrong.got, "8");
});
