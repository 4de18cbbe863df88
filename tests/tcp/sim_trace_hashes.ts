// Replay signatures of the deterministic simulations, to prove that a refactoring changed no
// behaviour: for every seed, a SHA-256 of every segment the TCP layers emit (virtual time,
// direction and bytes, before the link's faults) and of the final state (both layers' counters
// and every connection's end and TCP_INFO), from tests/tcp/simulation_test.ts; and the frame
// signature of tests/sim/stack_simulation_test.ts (the TCP bytes of every frame, both ways,
// with times), for whole stacks.
//
//   deno run -A tests/tcp/sim_trace_hashes.ts record FILE [TCP_SEEDS] [STACK_SEEDS]
//   deno run -A tests/tcp/sim_trace_hashes.ts compare FILE
//
// `record` writes the signatures of seeds 1..TCP_SEEDS (default 500) and 1..STACK_SEEDS
// (default 200) as JSON; `compare` runs the seeds FILE lists and reports every seed whose
// signature differs (exit status 1 if any does).
import { runSeed } from "./simulation_test.ts";
import { runStackSeed } from "../sim/stack_simulation_test.ts";

const DEFAULT_TCP_SEEDS = 500;
const DEFAULT_STACK_SEEDS = 200;

interface Signatures {
  tcp: Record<string, string>;
  stack: Record<string, string>;
}

const encoder = new TextEncoder();

async function sha256Hex(chunks: Uint8Array[]): Promise<string> {
  let length = 0;
  for (const c of chunks) length += c.length;
  const all = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The signature of one seed of the two-layer simulation. */
export async function tcpSeedSignature(seed: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  const res = runSeed(seed, false, (nowMs, to, bytes) => {
    chunks.push(encoder.encode(`${nowMs} ${to} ${bytes.length}:`));
    chunks.push(bytes.slice());
  });
  chunks.push(encoder.encode(`|${res.ok} ${res.events} ${res.virtualMs} ${res.finalState}`));
  return await sha256Hex(chunks);
}

/** The signature of one seed of the two-stack simulation. */
export async function stackSeedSignature(seed: number): Promise<string> {
  const res = await runStackSeed(seed);
  return `${res.signature}:${res.failures.length}`;
}

async function record(file: string, tcpSeeds: number, stackSeeds: number): Promise<void> {
  const out: Signatures = { tcp: {}, stack: {} };
  for (let s = 1; s <= tcpSeeds; s++) out.tcp[s] = await tcpSeedSignature(s);
  for (let s = 1; s <= stackSeeds; s++) out.stack[s] = await stackSeedSignature(s);
  await Deno.writeTextFile(file, JSON.stringify(out, null, 1) + "\n");
  console.log(`recorded ${tcpSeeds} TCP seeds and ${stackSeeds} stack seeds in ${file}`);
}

async function compare(file: string): Promise<boolean> {
  const want = JSON.parse(await Deno.readTextFile(file)) as Signatures;
  const differ: string[] = [];
  let n = 0;
  for (const [seed, sig] of Object.entries(want.tcp)) {
    n++;
    if (await tcpSeedSignature(Number(seed)) !== sig) differ.push(`tcp seed ${seed}`);
  }
  for (const [seed, sig] of Object.entries(want.stack)) {
    n++;
    if (await stackSeedSignature(Number(seed)) !== sig) differ.push(`stack seed ${seed}`);
  }
  console.log(
    `compared ${Object.keys(want.tcp).length} TCP seeds and ${
      Object.keys(want.stack).length
    } stack seeds: ${n - differ.length} identical, ${differ.length} differ`,
  );
  if (differ.length > 0) console.log(differ.join("\n"));
  return differ.length === 0;
}

if (import.meta.main) {
  const [mode, file, a, b] = Deno.args;
  if (mode === "record" && file !== undefined) {
    await record(file, Number(a ?? DEFAULT_TCP_SEEDS), Number(b ?? DEFAULT_STACK_SEEDS));
  } else if (mode === "compare" && file !== undefined) {
    if (!await compare(file)) Deno.exit(1);
  } else {
    console.error(
      "usage: sim_trace_hashes.ts record FILE [TCP_SEEDS] [STACK_SEEDS] | compare FILE",
    );
    Deno.exit(2);
  }
}
