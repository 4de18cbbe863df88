/**
 * Helpers for the router lab tests (src/testing/router_lab.ts): waiting for a
 * kernel listener in B, and the SHA-256 used to compare transfers.
 *
 * @module
 */

import type { RouterLab } from "../../src/testing/router_lab.ts";

export { sha256Hex } from "./_tcp_lab_helpers.ts";

/** How long a kernel program in B may take to start listening (ms). */
const LISTEN_WAIT_MS = 5000;
/** Between two looks at `ss` (ms). */
const LISTEN_POLL_MS = 20;

/**
 * Resolves once something in namespace B listens on TCP `port`.
 *
 * @param lab the router lab
 * @param port the TCP port
 * @throws {Error} when nothing listens within {@link LISTEN_WAIT_MS}
 */
export async function waitListeningInB(lab: RouterLab, port: number): Promise<void> {
  const end = performance.now() + LISTEN_WAIT_MS;
  for (;;) {
    const ss = await lab.runInB(["ss", "-H", "-tln", `sport = :${port}`]);
    if (ss.stdout.trim() !== "") return;
    if (performance.now() > end) throw new Error(`nothing listens on TCP ${port} in B`);
    await new Promise((r) => setTimeout(r, LISTEN_POLL_MS));
  }
}
