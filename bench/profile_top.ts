/**
 * Prints the top self-time functions of a V8 CPU profile written by
 * `deno run --cpu-prof` (a `.cpuprofile` JSON file).
 *
 * Run: `deno run --allow-read bench/profile_top.ts <file.cpuprofile> [count=25]
 * [--segments OUT IN]`
 *
 * With `--segments OUT IN` (TCP segments sent and received over the whole
 * profiled run, e.g. the `totalSegmentsOut`/`totalSegmentsIn` that
 * `bench/tcp_bench.ts --json` prints) it also prints JavaScript nanoseconds per
 * segment on each path (issue 22), from the call tree: a sample is on the send
 * path when it is inside `src/tcp/connection_send.ts` or below it (building a
 * segment, IPv4 and Ethernet, the device's transmit), else on the receive
 * path when it is below the device's or the interface's receive (frame in to
 * TCP input, ACK processing, reassembly). Idle, `(program)` and the garbage
 * collector count on neither, nor do the AF_PACKET driver's `send()`/`sendmmsg()`
 * calls (their samples are the kernel's work: reported as system calls).
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

interface TreeNode extends ProfileNode {
  children?: number[];
}

/** A sample's path (see the module documentation). */
export type SegmentPath = "send" | "receive" | "other" | "kernel";

/** Functions whose self time is an FFI system call (send, sendmmsg), counted as `kernel`. */
const SYSCALL_LEAVES = new Set([
  "sendVnet@src/phy/af_packet/transmit.ts",
  "send@src/phy/af_packet/transmit.ts",
  "#flushRun@src/phy/af_packet/tx_batch.ts",
]);

/**
 * Self time per path: send (inside or below connection_send.ts), receive
 * (below a device or interface receive, not sending), other.
 *
 * @param profile a parsed `.cpuprofile`
 * @returns microseconds per path
 */
export function pathTimes(profile: CpuProfile): Record<SegmentPath, number> {
  const nodes = profile.nodes as TreeNode[];
  const parent = new Map<number, TreeNode>();
  const byId = new Map<number, TreeNode>();
  for (const n of nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n);
  }
  const memo = new Map<number, SegmentPath>();
  const classify = (n: TreeNode): SegmentPath => {
    const known = memo.get(n.id);
    if (known !== undefined) return known;
    let path: SegmentPath = "other";
    for (let q: TreeNode | undefined = n; q !== undefined; q = parent.get(q.id)) {
      const f = q.callFrame;
      if (f.url.endsWith("src/tcp/connection_send.ts")) {
        path = "send";
        break;
      }
      if (
        path === "other" &&
        ((f.functionName === "receiveFrame" && f.url.endsWith("src/iface/interface.ts")) ||
          (f.functionName === "receive" && /src\/phy\/.*\.ts$/.test(f.url)))
      ) path = "receive";
    }
    memo.set(n.id, path);
    return path;
  };
  const out: Record<SegmentPath, number> = { send: 0, receive: 0, other: 0, kernel: 0 };
  for (let i = 0; i < profile.samples.length; i++) {
    const n = byId.get(profile.samples[i]);
    if (n === undefined) continue;
    const name = n.callFrame.functionName;
    if (name === "(idle)" || name === "(program)" || name === "(garbage collector)") continue;
    // The AF_PACKET driver's system calls: their samples are the kernel's work (on veth the
    // peer's whole receive path), not JavaScript.
    if (SYSCALL_LEAVES.has(`${name}@${n.callFrame.url.replace(/^.*\/src\//, "src/")}`)) {
      out.kernel += profile.timeDeltas[i + 1] ?? 0;
      continue;
    }
    out[classify(n)] += profile.timeDeltas[i + 1] ?? 0;
  }
  return out;
}

if (import.meta.main) {
  const segAt = Deno.args.indexOf("--segments");
  const segs = segAt >= 0 ? Deno.args.splice(segAt, 3).slice(1).map(Number) : null;
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
  if (segs !== null) {
    const [out, inn] = segs;
    const t = pathTimes(profile);
    console.log(
      `\nJavaScript per segment: send path ${(t.send * 1000 / out).toFixed(0)} ns ` +
        `(${(t.send / 1000).toFixed(0)} ms / ${out} segments out), receive path ` +
        `${(t.receive * 1000 / inn).toFixed(0)} ns (${
          (t.receive / 1000).toFixed(0)
        } ms / ${inn} in), ` +
        `other ${(t.other / 1000).toFixed(0)} ms, system calls ${(t.kernel / 1000).toFixed(0)} ms`,
    );
  }
}
