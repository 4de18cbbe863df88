/**
 * Helpers for the router lab tests (src/testing/router_lab.ts): a lab with a scratch folder
 * and the router to close, waiting for a kernel listener in B, the HTTP download B → A and
 * the socat upload A → B each checked byte for byte, and the SHA-256 used to compare them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { RouterLab, type RouterLabOptions } from "../../src/testing/router_lab.ts";
import type { Stack } from "../../src/stack.ts";
import { sha256Hex } from "./_tcp_lab_helpers.ts";

export { sha256Hex };

/** How long a kernel program in B may take to start listening (ms). */
const LISTEN_WAIT_MS = 5000;
/** Between two looks at `ss` (ms). */
const LISTEN_POLL_MS = 20;
/** Longest a curl download may take (seconds). */
const DOWNLOAD_TIMEOUT_S = 30;

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

/**
 * Creates a RouterLab and a scratch folder and runs `fn` with them; `own` hands it the
 * router stack to close. Afterwards, whatever happened: the router closes, the lab is
 * destroyed, the folder removed.
 *
 * @param options the lab's options
 * @param dirPrefix the scratch folder's name prefix
 * @param fn the test
 */
export async function inRouterLab(
  options: RouterLabOptions,
  dirPrefix: string,
  fn: (lab: RouterLab, dir: string, own: (router: Stack) => Stack) => Promise<void>,
): Promise<void> {
  const lab = await RouterLab.create(options);
  const dir = await Deno.makeTempDir({ prefix: dirPrefix });
  let router: Stack | null = null;
  try {
    await fn(lab, dir, (r) => router = r);
  } finally {
    await (router as Stack | null)?.close();
    await lab.destroy();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Serves `file` from B (python3 http.server bound to `bind`) and downloads it from A with
 * curl from `address` (IPv6 when it has a colon), asserting it arrives byte-exact.
 *
 * @param lab the router lab
 * @param dir the scratch folder (served; the download lands there too)
 * @param file the bytes to serve
 * @param port the HTTP port
 * @param bind the address the server binds in B
 * @param address B's address
 */
export async function downloadFromB(
  lab: RouterLab,
  dir: string,
  file: Uint8Array,
  port: number,
  bind: string,
  address: string,
): Promise<void> {
  const ipv6 = address.includes(":");
  await Deno.writeFile(`${dir}/file.bin`, file);
  lab.spawnIn(lab.netnsB, [
    "python3",
    "-m",
    "http.server",
    String(port),
    "--bind",
    bind,
    "--directory",
    dir,
  ]);
  await waitListeningInB(lab, port);
  const curl = await lab.runInA([
    "curl",
    ...(ipv6 ? ["-6", "-g"] : []),
    "-sS",
    "--max-time",
    String(DOWNLOAD_TIMEOUT_S),
    "-o",
    `${dir}/got.bin`,
    `http://${ipv6 ? `[${address}]` : address}:${port}/file.bin`,
  ]);
  assert.equal(curl.code, 0, curl.stderr);
  assert.equal(await sha256Hex(await Deno.readFile(`${dir}/got.bin`)), await sha256Hex(file));
}

/**
 * Uploads `file` from A to B's `address` (IPv6 when it has a colon) with socat, B's socat
 * listening on `port` of that address, and asserts it arrives byte-exact.
 *
 * @param lab the router lab
 * @param dir the scratch folder
 * @param file the bytes to send
 * @param port the TCP port
 * @param address B's address
 * @param timeoutS > 0: both sides run under `timeout`, so a stalled transfer fails instead of
 *   hanging
 */
export async function uploadToB(
  lab: RouterLab,
  dir: string,
  file: Uint8Array,
  port: number,
  address: string,
  timeoutS = 0,
): Promise<void> {
  const ipv6 = address.includes(":");
  const listen = ipv6
    ? `TCP6-LISTEN:${port},bind=[${address}],reuseaddr`
    : `TCP-LISTEN:${port},bind=${address},reuseaddr`;
  const connect = ipv6 ? `TCP6:[${address}]:${port}` : `TCP:${address}:${port}`;
  await Deno.writeFile(`${dir}/up.bin`, file);
  const limit = timeoutS > 0 ? ["timeout", String(timeoutS)] : [];
  const sink = lab.spawnIn(lab.netnsB, [
    ...limit,
    "socat",
    "-u",
    listen,
    `CREATE:${dir}/recv.bin`,
  ]);
  await waitListeningInB(lab, port);
  const send = await lab.runInA([...limit, "socat", "-u", `OPEN:${dir}/up.bin`, connect]);
  assert.equal(send.code, 0, send.stderr);
  const done = await sink.finished();
  assert.equal(done.code, 0, done.stderr);
  assert.equal(await sha256Hex(await Deno.readFile(`${dir}/recv.bin`)), await sha256Hex(file));
}
