/**
 * `rawstack get`, `rawstack serve` and `rawstack echo`: TCP (and UDP) on
 * rawstack from the command line — an HTTP/1.1 client, a static file server
 * and an echo server (RFC 862).
 *
 * Permissions: as {@link openNetwork}; `--allow-write` for `get -o`,
 * `--allow-read` for `serve`.
 *
 * @module
 */

import type { Stack } from "../stack.ts";
import type { TcpConn } from "../socket/tcp_conn.ts";
import type { UdpConn } from "../socket/udp_conn.ts";
import { formatNetAddr } from "../socket/addr.ts";
import { renderLadderText, tcpLadder } from "../trace/ladder.ts";
import { intOption, stringOption, UsageError } from "./args.ts";
import { type Command, writeStdout } from "./command.ts";
import { directoryHandler, formatAccessLog, HTTP_READ_TIMEOUT_MS } from "./http.ts";
import {
  SERVE_HEADER_TIMEOUT_MS,
  SERVE_IDLE_TIMEOUT_MS,
  SERVE_MAX_HEADER_BYTES,
  SERVE_SEND_TIMEOUT_MS,
  type StackHttpServer,
  type StackServeHandler,
  type StackServeOptions,
} from "../http/serve.ts";
import { NODE_LISTENER_MAX_CONNECTIONS } from "../http/node_socket.ts";
import { MEMORY_OPTION, NETWORK_OPTIONS, openNetwork } from "./network.ts";
import { ProgressBar } from "./progress.ts";

/** HTTP port of the `--memory` peer. */
export const MEMORY_HTTP_PORT = 80;
/** Largest `/bytes/N` body the `--memory` peer serves. */
export const MEMORY_MAX_BODY_BYTES = 64 * 1024 * 1024;

/** The page the `--memory` peer (and the demo) serves at `/`. */
export const DEMO_PAGE = `<!doctype html>
<html><head><title>rawstack</title></head>
<body><h1>Hello from rawstack</h1>
<p>This page crossed a TCP connection of a TCP/IP stack written in TypeScript.</p>
</body></html>
`;

/**
 * The `--memory` peer's HTTP handler: `/` is {@link DEMO_PAGE}, `/bytes/N`
 * is N bytes of a repeating pattern (for progress bars and tests), anything else 404.
 *
 * @param req the request
 * @returns the response
 *
 * @example
 * ```ts
 * import { memoryPeerHandler } from "./tcp_commands.ts";
 * const r = memoryPeerHandler(new Request("http://192.0.2.1/bytes/10"));
 * console.assert(r.status === 200 && r.headers.get("content-length") === "10");
 * console.assert(await r.text() === "abcdefghij");
 * ```
 */
export function memoryPeerHandler(req: Request): Response {
  const path = new URL(req.url).pathname;
  if (path === "/" || path === "/index.html") {
    return new Response(DEMO_PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
  }
  const m = /^\/bytes\/(\d{1,9})$/.exec(path);
  if (m !== null && Number(m[1]) <= MEMORY_MAX_BODY_BYTES) {
    const size = Number(m[1]);
    return new Response(patternBody(size), {
      headers: { "content-type": "application/octet-stream", "content-length": String(size) },
    });
  }
  return new Response("not found\n", { status: 404 });
}

/** Chunk size of `/bytes/N`, bytes. */
const PATTERN_CHUNK_BYTES = 64 * 1024;

/** `/bytes/N` of the memory peer: a-z repeated, generated as it is sent. */
function patternBody(size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= size) return controller.close();
      const n = Math.min(PATTERN_CHUNK_BYTES, size - at);
      const p = new Uint8Array(n);
      for (let i = 0; i < n; i++) p[i] = 0x61 + ((at + i) % 26);
      at += n;
      controller.enqueue(p);
    },
  });
}

/**
 * Serves HTTP on a stack with `stack.serve` (keep-alive, header/idle/send
 * timeouts, a connection cap) until shut down.
 *
 * @example
 * ```ts
 * import { memoryPeerHandler, startHttpServer } from "./tcp_commands.ts";
 * import { Stack } from "../stack.ts";
 * import { MemoryLink } from "../phy/memory_link.ts";
 * const [a, b] = MemoryLink.pair();
 * const server = new Stack({ device: b, ipv4: "192.0.2.1/24" });
 * const client = new Stack({ device: a, ipv4: "192.0.2.2/24" });
 * await server.start();
 * await client.start();
 * const http = startHttpServer(server, 80, memoryPeerHandler);
 * const r = await client.fetch("http://192.0.2.1/bytes/5");
 * console.assert(r.status === 200 && (await r.text()) === "abcde" && http.stats().requests === 1);
 * await http.shutdown();
 * await client.close();
 * await server.close();
 * ```
 *
 * @param stack the stack to listen on
 * @param port TCP port
 * @param handler Request → Response
 * @param options limits, timeouts, TLS, `onResponse` (see `StackServeOptions`)
 * @returns the server: `shutdown()` stops it, `stats()` counts connections, timeouts, refusals
 */
export function startHttpServer(
  stack: Stack,
  port: number,
  handler: StackServeHandler,
  options: Omit<StackServeOptions, "port"> = {},
): StackHttpServer {
  return stack.serve({ ...options, port }, handler);
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`"${text}" is not a URL (e.g. http://192.0.2.1/index.html)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`only http:// and https:// URLs are supported, got ${url.protocol}`);
  }
  return url;
}

/** The server sent nothing for too long (`rawstack get --timeout`). */
export class HttpReadTimeout extends Error {
  /**
   * @param ms the timeout, ms
   */
  constructor(readonly ms: number) {
    super(`timed out: no data from the server for ${ms} ms (--timeout MS waits longer)`);
    this.name = "HttpReadTimeout";
  }
}

/**
 * Fetches `url` over a stack and streams the body to `onBody`, giving up
 * (the connection aborted) when the server sends nothing for `readTimeoutMs`
 * — for the response head and between body chunks (wget's `--read-timeout`).
 *
 * @param stack the stack
 * @param url the URL
 * @param opts `client` (TLS trust), `readTimeoutMs` (0 = never), `onHead`, `onBody`
 * @returns the response (its body consumed)
 * @throws {HttpReadTimeout} when the server went quiet
 * @throws {TypeError} on a network or TLS error (from fetch)
 *
 * @example
 * ```ts
 * import { fetchStreaming, memoryPeerHandler, startHttpServer } from "./tcp_commands.ts";
 * import { Stack } from "../stack.ts";
 * import { MemoryLink } from "../phy/memory_link.ts";
 * const [a, b] = MemoryLink.pair();
 * const server = new Stack({ device: b, ipv4: "192.0.2.1/24" });
 * const client = new Stack({ device: a, ipv4: "192.0.2.2/24" });
 * await server.start();
 * await client.start();
 * const http = startHttpServer(server, 80, memoryPeerHandler);
 * let n = 0;
 * const r = await fetchStreaming(client, new URL("http://192.0.2.1/bytes/7"), { onBody: (c) => void (n += c.length) });
 * console.assert(r.status === 200 && n === 7);
 * await http.shutdown();
 * await client.close();
 * await server.close();
 * ```
 */
export async function fetchStreaming(
  stack: Stack,
  url: URL,
  opts: {
    client?: ReturnType<Stack["createHttpClient"]>;
    readTimeoutMs?: number;
    onHead?: (response: Response) => void;
    onBody: (chunk: Uint8Array) => void | Promise<void>;
    setTimer?: (fn: () => void, ms: number) => unknown;
    clearTimer?: (handle: unknown) => void;
  },
): Promise<Response> {
  const readTimeoutMs = opts.readTimeoutMs ?? HTTP_READ_TIMEOUT_MS;
  const setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  const clearTimer = opts.clearTimer ?? ((h) => clearTimeout(h as number));
  const controller = new AbortController();
  let timer: unknown = null;
  const arm = () => {
    if (timer !== null) clearTimer(timer);
    timer = null;
    if (readTimeoutMs > 0) {
      timer = setTimer(() => controller.abort(new HttpReadTimeout(readTimeoutMs)), readTimeoutMs);
    }
  };
  arm();
  try {
    const response = await stack.fetch(url, {
      signal: controller.signal,
      client: opts.client,
      headers: { "user-agent": "rawstack/0.1" },
    });
    opts.onHead?.(response);
    if (response.body !== null) {
      for await (const chunk of response.body) {
        arm();
        await opts.onBody(chunk);
      }
    }
    return response;
  } finally {
    if (timer !== null) clearTimer(timer);
  }
}

/**
 * `rawstack get URL`.
 *
 * @example
 * ```ts
 * import { getCommand } from "./tcp_commands.ts";
 * console.assert(getCommand.name === "get" && getCommand.options.help !== undefined);
 * ```
 */
export const getCommand: Command = {
  name: "get",
  usage: "rawstack get [options] URL",
  brief: "HTTP/1.1 GET (http:// and https://) through rawstack",
  summary: "Fetches the URL over rawstack's TCP (TLS for https://) and writes the body\n" +
    "to standard output (or -o FILE). A progress bar appears on stderr when it is a\n" +
    "terminal. Exits 1 on a status other than 2xx. With --memory the in-process peer\n" +
    "serves / and /bytes/N.",
  options: {
    output: { type: "string", short: "o", value: "FILE", help: "write the body to FILE" },
    ladder: { type: "boolean", help: "print the connection's ladder diagram on stderr afterwards" },
    timeout: {
      type: "string",
      value: "MS",
      help:
        `give up when the server sends nothing for MS ms (default ${HTTP_READ_TIMEOUT_MS}, 0 = never)`,
    },
    cacert: {
      type: "string",
      value: "FILE",
      help: "trust the CA certificates in FILE (PEM) for https:// instead of the built-in roots",
    },
    insecure: {
      type: "boolean",
      short: "k",
      help: "accept any server certificate for https:// (like curl --insecure)",
    },
    ...MEMORY_OPTION,
    ...NETWORK_OPTIONS,
  },
  maxPositionals: 1,
  footer: "Examples:\n  rawstack get --memory http://192.0.2.1/\n" +
    "  sudo rawstack get --lab --pcap get.pcap -o page.html http://192.0.2.1:8000/\n" +
    "  rawstack trace get.pcap --svg get.svg",
  async run({ values, positionals }) {
    const text = positionals[0];
    if (text === undefined) {
      throw new UsageError("missing URL (e.g. rawstack get http://192.0.2.1/)");
    }
    const url = parseUrl(text);
    const output = stringOption(values.output);
    const readTimeoutMs = intOption(values.timeout, "timeout", HTTP_READ_TIMEOUT_MS, 0, 86_400_000);
    const net = await openNetwork(values, {
      command: "get",
      memory: true,
      setupPeer: (peer) => void startHttpServer(peer, MEMORY_HTTP_PORT, memoryPeerHandler),
    });
    const cacert = stringOption(values.cacert);
    let caCerts: string[] | undefined;
    if (cacert !== undefined) {
      try {
        caCerts = [await Deno.readTextFile(cacert)];
      } catch (e) {
        throw new UsageError(`--cacert ${cacert}: ${(e as Error).message}`);
      }
    }
    const client = net.stack.createHttpClient({
      caCerts,
      unsafelyIgnoreCertificateErrors: values.insecure === true,
    });
    let file: Deno.FsFile | null = null;
    try {
      const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
      const progress = new ProgressBar({
        enabled: Deno.stderr.isTerminal() && values.verbose !== true,
      });
      if (output !== undefined) {
        file = await Deno.open(output, { write: true, create: true, truncate: true });
      }
      let received = 0;
      let response: Response;
      try {
        response = await fetchStreaming(net.stack, url, {
          client,
          readTimeoutMs,
          onHead: (r) => {
            const length = r.headers.get("content-length");
            progress.setTotal(length === null ? null : Number(length));
          },
          onBody: async (chunk) => {
            received += chunk.length;
            progress.update(received);
            if (file !== null) {
              let done = 0;
              while (done < chunk.length) done += await file.write(chunk.subarray(done));
            } else {
              await writeStdout(chunk);
            }
          },
        });
      } catch (e) {
        // fetch wraps what went wrong (refused, reset, certificate) in a TypeError: say the cause.
        if (e instanceof TypeError && e.cause instanceof Error) {
          throw new Error(`${e.message} (${e.cause.message})`);
        }
        throw e;
      } finally {
        client.close();
      }
      progress.finish();
      const status = response.status;
      if (status < 200 || status > 299) {
        console.error(`rawstack get: HTTP ${status} ${response.statusText}`);
      }
      if (values.ladder === true) {
        await settle();
        const analysis = net.live.analyze();
        const c = analysis.connections.find((x) => x.server.port === port);
        if (c !== undefined) console.error(renderLadderText(tcpLadder(c)));
      }
      return status >= 200 && status <= 299 ? 0 : 1;
    } finally {
      file?.close();
      await net.close();
    }
  },
};

/** A timeout option in ms: 0 (off) up to a day. */
function timeoutOption(
  value: string | boolean | undefined,
  name: string,
  fallback: number,
): number {
  return intOption(value, name, fallback, 0, 86_400_000);
}

/** Time for the last segments (the FIN exchange) to cross before the stack closes, ms. */
const SETTLE_MS = 50;

/** Lets the last segments cross before a ladder is drawn or the stack closes. */
async function settle(ms = SETTLE_MS): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Resolves when SIGINT or SIGTERM arrives (listeners removed after). */
function untilSignal(): { promise: Promise<void>; dispose: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  const handler = () => resolve();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, handler);
  return {
    promise,
    dispose: () => {
      for (const s of signals) Deno.removeSignalListener(s, handler);
    },
  };
}

/**
 * `rawstack serve`.
 *
 * @example
 * ```ts
 * import { serveCommand } from "./tcp_commands.ts";
 * console.assert(serveCommand.name === "serve" && serveCommand.options.help !== undefined);
 * ```
 */
export const serveCommand: Command = {
  name: "serve",
  usage: "rawstack serve [options]",
  brief: "serve a directory over HTTP (or HTTPS) on rawstack",
  summary: "Listens on --port (default 8080) with rawstack's TCP and serves the files under\n" +
    "--dir (default the current directory) until Ctrl-C (or --count requests), with\n" +
    "keep-alive. Paths stay inside --dir (symlinks out of it give 404), files are\n" +
    "streamed, slow clients are timed out and connections capped. Logs one line per\n" +
    "request on stderr (control characters escaped). With --cert and --key it serves\n" +
    "HTTPS (TLS 1.2/1.3 from node:tls).",
  options: {
    port: { type: "string", short: "p", value: "PORT", help: "TCP port (default 8080)" },
    dir: { type: "string", short: "d", value: "DIR", help: "directory to serve (default .)" },
    count: { type: "string", value: "N", help: "exit after N requests" },
    "max-connections": {
      type: "string",
      value: "N",
      help:
        `open connections at most; more are closed at once (default ${NODE_LISTENER_MAX_CONNECTIONS})`,
    },
    "header-timeout": {
      type: "string",
      value: "MS",
      help: `time for a whole request head, ms (default ${SERVE_HEADER_TIMEOUT_MS})`,
    },
    "idle-timeout": {
      type: "string",
      value: "MS",
      help:
        `wait for the next request on a kept-alive connection, ms (default ${SERVE_IDLE_TIMEOUT_MS})`,
    },
    "send-timeout": {
      type: "string",
      value: "MS",
      help: `wait for the client to take more of a response, ms (default ${SERVE_SEND_TIMEOUT_MS})`,
    },
    cert: {
      type: "string",
      value: "FILE",
      help: "serve HTTPS with the certificate chain in FILE (PEM; needs --key)",
    },
    key: { type: "string", value: "FILE", help: "the private key of --cert (PEM)" },
    "max-header-bytes": {
      type: "string",
      value: "N",
      help: `largest request head, bytes; more gets 431 (default ${SERVE_MAX_HEADER_BYTES})`,
    },
    ...NETWORK_OPTIONS,
  },
  maxPositionals: 0,
  footer: "Example:\n  sudo rawstack serve --lab --dir site --port 8080\n" +
    "  (then, in the peer namespace: curl http://192.0.2.2:8080/)",
  async run({ values }) {
    const port = intOption(values.port, "port", 8080, 1, 65535);
    const dir = stringOption(values.dir) ?? ".";
    const count = intOption(values.count, "count", 0, 0, Number.MAX_SAFE_INTEGER);
    const limits: Omit<StackServeOptions, "port"> = {
      maxConnections: intOption(
        values["max-connections"],
        "max-connections",
        NODE_LISTENER_MAX_CONNECTIONS,
        1,
        65_536,
      ),
      headerTimeoutMs: timeoutOption(
        values["header-timeout"],
        "header-timeout",
        SERVE_HEADER_TIMEOUT_MS,
      ),
      idleTimeoutMs: timeoutOption(values["idle-timeout"], "idle-timeout", SERVE_IDLE_TIMEOUT_MS),
      sendTimeoutMs: timeoutOption(values["send-timeout"], "send-timeout", SERVE_SEND_TIMEOUT_MS),
      maxHeaderBytes: intOption(
        values["max-header-bytes"],
        "max-header-bytes",
        SERVE_MAX_HEADER_BYTES,
        1024,
        1024 * 1024,
      ),
    };
    const certFile = stringOption(values.cert);
    const keyFile = stringOption(values.key);
    if ((certFile === undefined) !== (keyFile === undefined)) {
      throw new UsageError("--cert and --key go together");
    }
    if (certFile !== undefined && keyFile !== undefined) {
      try {
        limits.cert = await Deno.readTextFile(certFile);
        limits.key = await Deno.readTextFile(keyFile);
      } catch (e) {
        throw new UsageError(`--cert/--key: ${(e as Error).message}`);
      }
    }
    try {
      if (!(await Deno.stat(dir)).isDirectory) {
        throw new UsageError(`--dir ${dir} is not a directory`);
      }
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`--dir ${dir}: ${(e as Error).message}`);
    }
    const net = await openNetwork(values, { command: "serve", memory: false });
    const stop = untilSignal();
    let served = 0;
    try {
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      const server = startHttpServer(net.stack, port, directoryHandler(dir), {
        ...limits,
        onResponse: (response) => {
          served++;
          // The request line is the peer's bytes: escaped (nginx's log rule) before the terminal sees it.
          const remote = response.remoteAddr;
          console.error(formatAccessLog(formatNetAddr(remote), response));
          if (count > 0 && served >= count) done();
        },
      });
      const scheme = limits.cert === undefined ? "http" : "https";
      console.error(
        `rawstack serve: serving ${dir} on ${scheme}://${net.stack.address}:${port}/ (Ctrl-C to stop)`,
      );
      await Promise.race([stop.promise, finished]);
      await settle();
      await server.shutdown();
      const st = server.stats();
      if (st.refused + st.headerTimeouts + st.idleTimeouts + st.sendTimeouts > 0) {
        console.error(
          `rawstack serve: ${st.accepted} connections, ${st.refused} refused (cap), ` +
            `timeouts: ${st.headerTimeouts} header, ${st.idleTimeouts} idle, ${st.sendTimeouts} send`,
        );
      }
      return 0;
    } finally {
      stop.dispose();
      await net.close();
    }
  },
};

/**
 * `rawstack echo`.
 *
 * @example
 * ```ts
 * import { echoCommand } from "./tcp_commands.ts";
 * console.assert(echoCommand.name === "echo" && echoCommand.options.help !== undefined);
 * ```
 */
export const echoCommand: Command = {
  name: "echo",
  usage: "rawstack echo [options]",
  brief: "TCP or UDP echo server (RFC 862)",
  summary: "Sends back whatever arrives: each TCP connection until the client closes it, or\n" +
    "each UDP datagram with --udp. Runs until Ctrl-C (or --count connections/datagrams).",
  options: {
    port: { type: "string", short: "p", value: "PORT", help: "port (default 7)" },
    udp: { type: "boolean", short: "u", help: "echo UDP datagrams instead of TCP" },
    count: {
      type: "string",
      value: "N",
      help: "exit after N connections (TCP) or datagrams (UDP)",
    },
    ...NETWORK_OPTIONS,
  },
  maxPositionals: 0,
  footer: "Example:\n  sudo rawstack echo --lab --port 7\n" +
    "  (then, in the peer namespace: socat - TCP:192.0.2.2:7)",
  async run({ values }) {
    const port = intOption(values.port, "port", 7, 1, 65535);
    const count = intOption(values.count, "count", 0, 0, Number.MAX_SAFE_INTEGER);
    const net = await openNetwork(values, { command: "echo", memory: false });
    const stop = untilSignal();
    let handled = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const bump = () => {
      handled++;
      if (count > 0 && handled >= count) done();
    };
    try {
      if (values.udp === true) {
        const sock = net.stack.listenDatagram({ port });
        console.error(`rawstack echo: UDP echo on ${net.stack.address}:${port} (Ctrl-C to stop)`);
        echoDatagrams(sock, (line) => console.error(line), bump).catch(() => {});
        await Promise.race([stop.promise, finished]);
        sock.close();
      } else {
        const listener = net.stack.listen({ port });
        console.error(`rawstack echo: TCP echo on ${net.stack.address}:${port} (Ctrl-C to stop)`);
        (async () => {
          for await (const conn of listener) {
            echoConnection(conn).then((bytes) => {
              console.error(`${formatNetAddr(conn.remoteAddr)} closed after ${bytes} bytes`);
              bump();
            }, () => bump());
          }
        })().catch(() => {});
        await Promise.race([stop.promise, finished]);
        listener.close();
      }
      await settle();
      return 0;
    } finally {
      stop.dispose();
      await net.close();
    }
  },
};

/**
 * The loop of `rawstack echo --udp` (RFC 862): sends every datagram back to
 * its sender until the socket is closed. The socket is unconnected, so no
 * ICMP error reaches it (a client that closed its port, or a forged error,
 * cannot end the loop), and an echo that cannot be sent (no buffer, no
 * route) is logged and skipped.
 *
 * @param sock the bound, unconnected socket
 * @param log receives one line per datagram or failed echo
 * @param onEcho called after each datagram handled
 * @returns datagrams echoed, once the socket is closed
 *
 * @example
 * ```ts
 * import { echoDatagrams } from "./tcp_commands.ts";
 * console.assert(typeof echoDatagrams === "function"); // see tests/cli/echo_udp_test.ts
 * ```
 */
export async function echoDatagrams(
  sock: UdpConn,
  log: (line: string) => void,
  onEcho: () => void = () => {},
): Promise<number> {
  let echoed = 0;
  while (!sock.closed) {
    let data: Uint8Array;
    let from: { hostname: string; port: number };
    try {
      [data, from] = await sock.receive();
    } catch (e) {
      if (sock.closed) break;
      log(`rawstack echo: receive failed: ${(e as Error).message}`);
      continue;
    }
    try {
      await sock.send(data, from);
      echoed++;
      log(`${formatNetAddr(from)} ${data.length} bytes`);
    } catch (e) {
      log(`rawstack echo: ${formatNetAddr(from)}: echo not sent: ${(e as Error).message}`);
    }
    onEcho();
  }
  return echoed;
}

async function echoConnection(conn: TcpConn): Promise<number> {
  const buf = new Uint8Array(64 * 1024);
  let total = 0;
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      let done = 0;
      while (done < n) done += await conn.write(buf.subarray(done, n));
      total += n;
    }
    await conn.closeWrite();
  } finally {
    conn.close();
  }
  return total;
}
