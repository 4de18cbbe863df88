// The first run on a fresh machine: the README's test command (`deno task test`) run as root with a
// PATH that holds Deno, `ip`, `sh` and coreutils but none of the outside programs the lab uses. It
// must pass, and each test that needs a missing program must say so in its own line, naming the
// program and the Debian package that provides it.
import assert from "node:assert/strict";
import { DEBIAN_PACKAGES, findCommand, labTest, run } from "../src/testing/lab.ts";

/** Set in the child run so that this test does not start itself again. */
const CHILD_ENV = "RAWSTACK_FIRST_RUN_CHILD";
const ROOT = new URL("..", import.meta.url).pathname;
const NAME =
  "deno task test passes on a machine without the lab programs and names what to install";
/** Used when dpkg-query cannot list coreutils (not a Debian machine). */
const COREUTILS_FALLBACK = [
  "basename",
  "cat",
  "chmod",
  "cp",
  "cut",
  "date",
  "dirname",
  "echo",
  "env",
  "false",
  "head",
  "id",
  "ln",
  "ls",
  "mkdir",
  "mktemp",
  "mv",
  "printf",
  "readlink",
  "rm",
  "seq",
  "sleep",
  "sort",
  "stat",
  "tail",
  "tee",
  "touch",
  "tr",
  "true",
  "uname",
  "uniq",
  "wc",
];

/** Programs a fresh Debian machine has (coreutils), by name. */
async function coreutils(): Promise<string[]> {
  if (findCommand("dpkg-query") === null) return COREUTILS_FALLBACK;
  const { code, stdout } = await run(["dpkg-query", "-L", "coreutils"], { check: false });
  if (code !== 0) return COREUTILS_FALLBACK;
  return stdout.split("\n").filter((l) => /^(\/usr)?\/bin\/[^/]+$/.test(l)).map((l) =>
    l.slice(l.lastIndexOf("/") + 1)
  );
}

/** A directory of symlinks: Deno, `ip`, `sh` and coreutils, and none of {@link DEBIAN_PACKAGES} but `ip`. */
async function freshPath(): Promise<string> {
  const bin = await Deno.makeTempDir({ prefix: "rsfirst-bin-" });
  await Deno.symlink(Deno.execPath(), `${bin}/deno`);
  for (const name of ["ip", "sh", ...await coreutils()]) {
    if (name in DEBIAN_PACKAGES && name !== "ip") continue;
    const target = findCommand(name);
    if (target === null) continue;
    try {
      await Deno.symlink(target, `${bin}/${name}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
  }
  return bin;
}

Deno.test("`.ci/run` installs the Debian package of every program a lab test may need", async () => {
  const script = await Deno.readTextFile(`${ROOT}.ci/run`);
  // The script's list: `package:command` words in its `for pkg_cmd in ...; do` loop.
  const loop = script.match(/for pkg_cmd in ([^;]*);/);
  assert.ok(loop !== null, ".ci/run has no `for pkg_cmd in ...;` list");
  const installed = new Map<string, string>();
  for (const word of loop[1].split(/\s+/)) {
    const colon = word.indexOf(":");
    if (colon > 0) installed.set(word.slice(colon + 1), word.slice(0, colon));
  }
  const missing = Object.entries(DEBIAN_PACKAGES).filter(([command, pkg]) =>
    // `ss` and `nstat` come with `ip` (iproute2), which the list checks for.
    installed.get(command) !== pkg && ![...installed.values()].includes(pkg)
  );
  assert.deepEqual(missing, [], "programs whose package .ci/run does not install");
});

if (Deno.env.get(CHILD_ENV) === "1") {
  Deno.test({ name: `${NAME} (skipped: this is the child run)`, ignore: true, fn() {} });
} else {
  labTest(NAME, async () => {
    const bin = await freshPath();
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["task", "test"],
        cwd: ROOT,
        clearEnv: true,
        env: {
          PATH: bin,
          HOME: Deno.env.get("HOME") ?? "/root",
          NO_COLOR: "1",
          [CHILD_ENV]: "1",
          ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
        },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      const tail = text.split("\n").slice(-40).join("\n");
      assert.equal(out.code, 0, `deno task test failed with a fresh PATH:\n${tail}`);
      assert.match(text, /^ok \| \d+ passed .*\| 0 failed/m, tail);

      // Every ignored test says why, and the lab tests name a missing program and its package.
      const ignored = text.split("\n").filter((l) => / \.\.\. ignored/.test(l));
      assert.ok(ignored.length > 0, "no test was skipped although the lab programs are missing");
      const silent = ignored.filter((l) => !l.includes("(skipped: "));
      assert.deepEqual(silent, [], "ignored without a reason");
      const labLine = ignored.find((l) =>
        l.startsWith("Lab.create builds a silent rawstack side and an addressed kernel peer")
      );
      assert.ok(labLine !== undefined, "the Lab.create lab test is not reported");
      assert.match(labLine, /\(skipped: needs .*`ethtool` \(Debian package ethtool\)/);
      assert.ok(
        ignored.some((l) => /\(skipped: needs `tshark` \(Debian package tshark\)\)/.test(l)),
        "no tshark test names the tshark package",
      );
      assert.ok(
        ignored.some((l) => /`tcpdump` \(Debian package tcpdump\)/.test(l)),
        "no lab test names the tcpdump package",
      );
    } finally {
      await Deno.remove(bin, { recursive: true });
    }
  }, { lab: false });
}
