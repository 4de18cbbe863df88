import assert from "node:assert/strict";
import { evaluateTcpiAssert } from "../../../src/testing/packetdrill/tcpi.ts";

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
    evaluateTcpiAssert("assert tcpi_lost == 0", null)?.kind,
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
