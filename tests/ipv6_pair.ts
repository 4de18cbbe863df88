/** Two stacks on a memory link with a manual clock, for the IPv6 transport tests (issue 18). */
import { Stack, type StackOptions } from "../src/stack.ts";
import { MemoryLink, type MemoryLinkOptions } from "../src/phy/memory_link.ts";
import { ManualClock } from "../src/time/clock.ts";
import { mulberry32 } from "./seeded_random.ts";

const SECRET = new Uint8Array(16).fill(3);
/** How long {@link withPair6} steps after starting: both stacks' DAD (RFC 4862 §5.4). */
const DAD_MS = 2500;

/** The addresses of one stack of the pair, and any other options it takes. */
export type Pair6Side = { ipv4?: string; ipv6?: string | string[] } & Partial<StackOptions>;
/** What {@link pair6} returns. */
export type Pair6 = ReturnType<typeof pair6>;

/** Two stacks on a memory link with a manual clock; `step(ms)` advances in 100 ms polls. */
export function pair6(a: Pair6Side, b: Pair6Side, link: MemoryLinkOptions = {}) {
  const clock = new ManualClock(1000);
  const [da, db] = MemoryLink.pair(link);
  const opts = (seed: number) => ({
    clock,
    ipv6Options: {
      random: mulberry32(seed),
      addressOptions: { secret: SECRET },
      ndp: { routerSolicitations: 0 },
    },
  });
  const sa = new Stack({ device: da, ...a, ...opts(1) });
  const sb = new Stack({ device: db, ...b, ...opts(2) });
  const settle = () => {
    for (let i = 0; i < 100; i++) if (sa.poll() + sb.poll() === 0) return;
  };
  const step = (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      clock.advance(100);
      settle();
    }
  };
  return { clock, a: sa, b: sb, step, settle };
}

/**
 * Runs `body` on a started pair (DAD done: `step(2500)`), closing both stacks after, even
 * when it throws. `link` goes to {@link pair6}.
 */
export function withPair6<T>(
  a: Pair6Side,
  b: Pair6Side,
  body: (p: Pair6) => T | Promise<T>,
): Promise<T>;
export function withPair6<T>(
  a: Pair6Side,
  b: Pair6Side,
  link: MemoryLinkOptions,
  body: (p: Pair6) => T | Promise<T>,
): Promise<T>;
export async function withPair6<T>(
  a: Pair6Side,
  b: Pair6Side,
  linkOrBody: MemoryLinkOptions | ((p: Pair6) => T | Promise<T>),
  maybeBody?: (p: Pair6) => T | Promise<T>,
): Promise<T> {
  const body = maybeBody ?? (linkOrBody as (p: Pair6) => T | Promise<T>);
  const p = pair6(a, b, maybeBody === undefined ? {} : linkOrBody as MemoryLinkOptions);
  try {
    await p.a.start();
    await p.b.start();
    p.step(DAD_MS);
    return await body(p);
  } finally {
    await p.a.close();
    await p.b.close();
  }
}
