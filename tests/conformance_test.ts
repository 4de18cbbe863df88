// Conformance: rawstack's own packetdrill scripts (strict mode, all must pass)
// and the outside suites in ../shared/conformance (portable mode, checked
// against the expected list in tests/conformance/expected.json).
import assert from "node:assert/strict";
import { formatReport, listScripts, runSuite } from "../src/testing/packetdrill/cli.ts";

const OWN = new URL("./conformance", import.meta.url).pathname;
const SHARED = new URL("../../shared/conformance", import.meta.url).pathname;
const EXPECTED = new URL("./conformance/expected.json", import.meta.url).pathname;
/** Own scripts required by the issue. */
const MIN_OWN_SCRIPTS = 40;
/** Own scripts known to fail on engine bugs, each with its reason; fix the engine, then empty this. */
const OWN_KNOWN_ENGINE_BUGS: Record<string, string> = {};

Deno.test("conformance: rawstack's own scripts pass in strict mode", () => {
  const records = runSuite(OWN, false);
  assert.ok(records.length >= MIN_OWN_SCRIPTS, `only ${records.length} own scripts`);
  console.log(formatReport(records, false));
  const unexpected = records.filter((r) =>
    (r.status !== "pass") !== (r.script in OWN_KNOWN_ENGINE_BUGS)
  );
  assert.deepEqual(
    unexpected.map((r) => `${r.script}:${r.line ?? ""} ${r.status} ${r.reason ?? ""}`),
    [],
  );
});

const OUTSIDE_TEST = "conformance: outside suites match the expected list in portable mode";
const sharedAbsent = listScripts(SHARED).length === 0;

Deno.test({
  // The reason is in the name: `deno task test` runs with --quiet, which hides console output.
  name: sharedAbsent ? `${OUTSIDE_TEST} (skipped: ${SHARED} is absent)` : OUTSIDE_TEST,
  ignore: sharedAbsent,
  fn: checkOutsideSuites,
});

function checkOutsideSuites(): void {
  const expected = JSON.parse(Deno.readTextFileSync(EXPECTED)) as Record<
    string,
    { status: string; reason?: string } | string
  >;
  const records = runSuite(SHARED, true);
  console.log(formatReport(records, false));
  const problems: string[] = [];
  for (const r of records) {
    const want = expected[r.script];
    if (want === undefined || typeof want === "string") {
      problems.push(`${r.script}: not in expected.json (now ${r.status}: ${r.reason ?? ""})`);
      continue;
    }
    if (want.status !== "pass" && !want.reason) problems.push(`${r.script}: no reason given`);
    if (want.status !== r.status) {
      problems.push(`${r.script}: expected ${want.status}, got ${r.status} ${r.reason ?? ""}`);
    }
  }
  for (const name of Object.keys(expected)) {
    if (!name.startsWith("_") && !records.some((r) => r.script === name)) {
      problems.push(`${name}: listed in expected.json but not found`);
    }
  }
  assert.deepEqual(problems, []);
}
