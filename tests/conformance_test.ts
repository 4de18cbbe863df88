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
/** Own scripts known to fail on engine bugs (see /work/notes/tcp_bugs.md); fix the engine, then empty this. */
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

Deno.test("conformance: outside suites match the expected list in portable mode", () => {
  if (listScripts(SHARED).length === 0) {
    console.log(`skipped: ${SHARED} is absent`);
    return;
  }
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
});
