/** Two stacks on a memory link with a manual clock, for the IPv6 transport tests (issue 18). */
import { Stack, type StackOptions } from "../src/stack.ts";
import { MemoryLink, type MemoryLinkOptions } from "../src/phy/memory_link.ts";
import { ManualClock } from "../src/time/clock.ts";
import { mulberry32 } from "./seeded_random.ts";

const SECRET = new Uint8Array(16).fill(3);

/** Two stacks on a memory link with a manual clock (as tests/stack_ipv6_test.ts). */
export function pair6(
  a: { ipv4?: string; ipv6?: string | string[] } & Partial<StackOptions>,
  b: { ipv4?: string; ipv6?: string | string[] } & Partial<StackOptions>,
  link: MemoryLinkOptions = {},
) {
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
