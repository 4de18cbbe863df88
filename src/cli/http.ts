/**
 * The CLI's HTTP policy around `stack.serve` and `stack.fetch` (src/http/):
 * which files `rawstack serve` may hand out ({@link confinePath}: percent
 * decoding, no `..`, symlinks must stay inside the root), how they are sent
 * (streamed with their length), and how a request is logged (escaped, as
 * nginx's access log is). HTTP itself — parsing, keep-alive, chunking,
 * timeouts, TLS — is `node:http`/`node:tls` over rawstack TCP.
 *
 * @module
 */

import type { NetAddr } from "../socket/addr.ts";

/** Default read timeout of `rawstack get`, ms (wget waits 900 s; a LAN answers far sooner). */
export const HTTP_READ_TIMEOUT_MS = 30_000;

/** What the access log needs of a response (`StackServed` of src/http/serve.ts fits). */
export interface HttpServed {
  /** Method and target, or null for a request the parser refused. */
  request: { method: string; target: string } | null;
  /** The refused request's first line (raw peer bytes), or null. */
  requestLine: string | null;
  /** Status sent. */
  status: number;
  /** The client's address. */
  remoteAddr?: NetAddr;
}

const encoder = new TextEncoder();

/**
 * Escapes text from the network for a log line, as nginx does for its
 * access log: `"`, `\` and every character below 0x20 or from 0x7f up
 * become `\xHH` (`\uHHHH` beyond 0xff), so a request cannot move the
 * terminal's cursor, change its title or fake log lines.
 *
 * @param text untrusted text
 * @returns printable ASCII
 *
 * @example
 * ```ts
 * import { escapeLogText } from "./http.ts";
 * console.assert(escapeLogText('GET /\x1b[2J"') === "GET /\\x1B[2J\\x22");
 * ```
 */
export function escapeLogText(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).toUpperCase().padStart(2, "0")}`
      : `\\u${code.toString(16).toUpperCase().padStart(4, "0")}`;
  });
}

/**
 * One access-log line: `ADDR "METHOD TARGET" STATUS`, or the raw request
 * line (escaped) for a malformed request, `"-"` when there was none.
 *
 * @param remote the client's address, formatted
 * @param served the response as the server reported it
 * @returns the line, printable ASCII only
 *
 * @example
 * ```ts
 * import { formatAccessLog } from "./http.ts";
 * const line = formatAccessLog("192.0.2.2:5000", { request: null, requestLine: "\x1b]0;x\x07", status: 400 });
 * console.assert(line === '192.0.2.2:5000 "\\x1B]0;x\\x07" 400');
 * ```
 */
export function formatAccessLog(remote: string, served: HttpServed): string {
  const what = served.request !== null
    ? `${served.request.method} ${served.request.target}`
    : served.requestLine ?? "-";
  return `${escapeLogText(remote)} "${escapeLogText(what)}" ${served.status}`;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  css: "text/css",
  js: "text/javascript",
  json: "application/json",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  pcap: "application/vnd.tcpdump.pcap",
});

/** {@link confinePath}'s answer: the real path inside the root, or the status to send. */
export type ConfinedPath =
  | { ok: true; path: string; urlPath: string }
  | { ok: false; status: 400 | 403 | 404; reason: string };

function fsFailure(e: unknown): ConfinedPath {
  if (
    e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory ||
    e instanceof Deno.errors.FilesystemLoop
  ) {
    return { ok: false, status: 404, reason: "not found" };
  }
  if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable) {
    return { ok: false, status: 403, reason: "forbidden" };
  }
  throw e;
}

async function resolveWithin(
  realRoot: string,
  segments: readonly string[],
  urlPath: string,
): Promise<ConfinedPath> {
  const candidate = segments.length === 0
    ? realRoot
    : `${realRoot.replace(/\/$/, "")}/${segments.join("/")}`;
  let real: string;
  try {
    real = await Deno.realPath(candidate);
  } catch (e) {
    return fsFailure(e);
  }
  const prefix = realRoot.endsWith("/") ? realRoot : `${realRoot}/`;
  // A symlink (or a symlinked directory on the way) that leads out of the
  // root is treated as absent, like nginx `disable_symlinks` / Apache without
  // FollowSymLinks would refuse it; 404 tells nothing about the outside.
  if (real !== realRoot && !real.startsWith(prefix)) {
    return { ok: false, status: 404, reason: "not found" };
  }
  return { ok: true, path: real, urlPath };
}

/**
 * Maps a request target to a file under `root`, or says why not: the path
 * is percent-decoded (bad encoding → 400), `..` segments and NUL are refused
 * (403), and the result is resolved with `realPath` — every symlink
 * followed — and must still lie under the root's real path (else 404, as for
 * a missing file). The check and the later open are two steps, so someone
 * who can write inside the root could still swap a path between them; the
 * peer on the network cannot.
 *
 * Permissions: `--allow-read` for `root`.
 *
 * @param root the served directory
 * @param target the request target (`/a/b.txt?x=1`; the query is ignored)
 * @returns `{ ok: true, path }` with the real path, or `{ ok: false, status, reason }`
 *
 * @example
 * ```ts
 * import { confinePath } from "./http.ts";
 * const up = await confinePath("/tmp", "/../etc/passwd");
 * const bad = await confinePath("/tmp", "/%zz");
 * console.assert(!up.ok && up.status === 403 && !bad.ok && bad.status === 400);
 * ```
 */
export async function confinePath(root: string, target: string): Promise<ConfinedPath> {
  let urlPath: string;
  try {
    urlPath = decodeURIComponent(target.split("?")[0]);
  } catch {
    return { ok: false, status: 400, reason: "bad percent-encoding" };
  }
  const segments = urlPath.split("/").filter((seg) => seg !== "" && seg !== ".");
  if (!urlPath.startsWith("/") || segments.includes("..") || urlPath.includes("\0")) {
    return { ok: false, status: 403, reason: "forbidden" };
  }
  let realRoot: string;
  try {
    realRoot = await Deno.realPath(root);
  } catch (e) {
    return fsFailure(e);
  }
  return await resolveWithin(realRoot, segments, urlPath);
}

/**
 * A response streaming a regular file, with its `Content-Length` taken from
 * the open file (so it matches what is read); the file is read in chunks as
 * the connection takes them and closed at the end or when the client goes.
 *
 * Permissions: `--allow-read` for `path`.
 *
 * @param path the file
 * @param contentType its Content-Type
 * @param status the status (default 200)
 * @returns the response, or null when `path` is not a regular file
 * @throws Deno.errors.NotFound and the like when it cannot be opened
 *
 * @example
 * ```ts
 * import { fileResponse } from "./http.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a`, "hello");
 * const r = await fileResponse(`${dir}/a`, "text/plain");
 * console.assert(r !== null && r.headers.get("content-length") === "5");
 * console.assert(await r!.text() === "hello");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function fileResponse(
  path: string,
  contentType: string,
  status = 200,
): Promise<Response | null> {
  // Checked before opening: opening a FIFO would wait for a writer.
  if (!(await Deno.stat(path)).isFile) return null;
  const file = await Deno.open(path, { read: true });
  try {
    const info = await file.stat();
    if (!info.isFile) {
      file.close();
      return null;
    }
    return new Response(file.readable, {
      status,
      headers: { "content-type": contentType, "content-length": String(info.size) },
    });
  } catch (e) {
    file.close();
    throw e;
  }
}

function textResponse(status: number, text: string): Response {
  return new Response(`${text}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/**
 * A `stack.serve` handler serving files under a directory: `/` maps to
 * `index.html` or a listing, paths are confined to the directory
 * ({@link confinePath}: `..` gives 403, a symlink out of it 404), files are
 * streamed, missing files and anything but regular files and directories give
 * 404, methods other than GET and HEAD 405.
 *
 * Permissions: `--allow-read` for `root`.
 *
 * @param root the directory
 * @returns the handler
 *
 * @example
 * ```ts
 * import { directoryHandler } from "./http.ts";
 * const handle = directoryHandler("/srv/www");
 * const up = await handle(new Request("http://h/../etc/passwd"));
 * const bad = await handle(new Request("http://h/%zz"));
 * console.assert(up.status === 404 && bad.status === 400);
 * ```
 */
export function directoryHandler(root: string): (req: Request) => Promise<Response> {
  const serveFile = (path: string): Promise<Response | null> => {
    const ext = path.split("/").pop()?.split(".").pop()?.toLowerCase() ?? "";
    return fileResponse(path, CONTENT_TYPES[ext] ?? "application/octet-stream");
  };
  return async (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return textResponse(405, "only GET and HEAD");
    }
    const url = new URL(req.url);
    // The raw target as sent (URL parsing already removed dot segments it could).
    const found = await confinePath(root, url.pathname + url.search);
    if (!found.ok) return textResponse(found.status, found.reason);
    try {
      const info = await Deno.stat(found.path);
      if (!info.isDirectory) return (await serveFile(found.path)) ?? textResponse(404, "not found");
      const realRoot = await Deno.realPath(root);
      const segments = found.urlPath.split("/").filter((s) => s !== "" && s !== ".");
      const index = await resolveWithin(realRoot, [...segments, "index.html"], found.urlPath);
      if (index.ok) {
        const page = await fileResponse(index.path, CONTENT_TYPES.html);
        if (page !== null) return page;
      }
      const names: string[] = [];
      for await (const e of Deno.readDir(found.path)) {
        names.push(e.isDirectory ? `${e.name}/` : e.name);
      }
      names.sort();
      const path = found.urlPath;
      const prefix = path.endsWith("/") ? path : `${path}/`;
      const items = names.map((n) =>
        `<li><a href="${escapeHtml(prefix + n)}">${escapeHtml(n)}</a></li>`
      );
      const html = `<!doctype html><title>${escapeHtml(path)}</title><h1>${
        escapeHtml(path)
      }</h1><ul>${items.join("")}</ul>\n`;
      return new Response(encoder.encode(html), {
        headers: { "content-type": CONTENT_TYPES.html },
      });
    } catch (e) {
      const failed = fsFailure(e);
      return failed.ok
        ? textResponse(404, "not found")
        : textResponse(failed.status, failed.reason);
    }
  };
}

function escapeHtml(s: string): string {
  return s.replace(
    /[<>&"]/g,
    (c) => c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === "&" ? "&amp;" : "&quot;",
  );
}
