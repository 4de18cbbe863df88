/**
 * Prints the top self-time functions of a V8 CPU profile written by
 * `deno run --cpu-prof` (a `.cpuprofile` JSON file).
 *
 * Run: `deno run --allow-read bench/profile_top.ts <file.cpuprofile> [count=25]`
 *
 * Self time of a function = the samples whose innermost frame is that
 * function (summed over every node with the same name, file and line),
 * converted to milliseconds with the profile's sampling intervals.
 *
 * @module
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/**
 * Self time per function, largest first.
 *
 * @param profile a parsed `.cpuprofile`
 * @returns rows of name, location, self milliseconds and share of all samples
 */
export function selfTimes(
  profile: CpuProfile,
): { name: string; where: string; selfMs: number; share: number }[] {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const totals = new Map<string, { name: string; where: string; us: number }>();
  let all = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (node === undefined) continue;
    const f = node.callFrame;
    const file = f.url.replace(/^.*\/(src|bench|tests)\//, "$1/");
    const where = f.url === "" ? "" : `${file}:${f.lineNumber + 1}`;
    const key = `${f.functionName}@${where}`;
    const t = totals.get(key) ?? { name: f.functionName || "(anonymous)", where, us: 0 };
    t.us += dt;
    all += dt;
    totals.set(key, t);
  }
  return [...totals.values()]
    .sort((a, b) => b.us - a.us)
    .map((t) => ({ name: t.name, where: t.where, selfMs: t.us / 1000, share: t.us / all }));
}

if (import.meta.main) {
  const [file, count = "25"] = Deno.args;
  if (file === undefined) {
    console.error("usage: profile_top.ts <file.cpuprofile> [count]");
    Deno.exit(2);
  }
  const profile = JSON.parse(await Deno.readTextFile(file)) as CpuProfile;
  const rows = selfTimes(profile).slice(0, Number(count));
  console.log("| self % | self ms | function | where |");
  console.log("|---:|---:|---|---|");
  for (const r of rows) {
    console.log(
      `| ${(r.share * 100).toFixed(1)} | ${r.selfMs.toFixed(0)} | ${r.name} | ${r.where} |`,
    );
  }
}
