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
import {
  directoryHandler,
  formatAccessLog,
  HTTP_HEADER_TIMEOUT_MS,
  HTTP_IDLE_TIMEOUT_MS,
  HTTP_MAX_CONNECTIONS,
  HTTP_READ_TIMEOUT_MS,
  HTTP_SEND_TIMEOUT_MS,
  HTTP_SERVER_MAX_HEADER_BYTES,
  type HttpBodySource,
  httpGet,
  type HttpListenOptions,
  type HttpReply,
  type HttpRequest,
  type HttpServer,
  HttpTimeoutError,
  serveHttpListener,
} from "./http.ts";
import { MEMORY_OPTION, NETWORK_OPTIONS, openNetwork } from "./network.ts";
import { ProgressBar } from "./progress.ts";

/** HTTP port of the `--memory` peer. */
export const MEMORY_HTTP_PORT = 80;
/** Largest `/bytes/N` body the `--memory` peer serves. */
export const MEMORY_MAX_BODY_BYTES = 64 * 1024 * 1024;
const encoder = new TextEncoder();

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
 * @returns the reply
 *
 * @example
 * ```ts
 * import { memoryPeerHandler } from "./tcp_commands.ts";
 * const r = memoryPeerHandler({ method: "GET", target: "/bytes/10", headers: new Map() });
 * console.assert(r.status === 200 && !(r.body instanceof Uint8Array) && r.body.size === 10);
 * ```
 */
export function memoryPeerHandler(req: HttpRequest): HttpReply {
  const path = req.target.split("?")[0];
  if (path === "/" || path === "/index.html") {
    return {
      status: 200,
      contentType: "text/html; charset=utf-8",
      body: encoder.encode(DEMO_PAGE),
    };
  }
  const m = /^\/bytes\/(\d{1,9})$/.exec(path);
  if (m !== null && Number(m[1]) <= MEMORY_MAX_BODY_BYTES) {
    return {
      status: 200,
      contentType: "application/octet-stream",
      body: patternBody(Number(m[1])),
    };
  }
  return { status: 404, body: encoder.encode("not found\n") };
}

/** `/bytes/N` of the memory peer: a-z repeated, generated as it is sent. */
function patternBody(size: number): HttpBodySource {
  let at = 0;
  return {
    size,
    read(p) {
      if (at >= size) return Promise.resolve(null);
      const n = Math.min(p.length, size - at);
      for (let i = 0; i < n; i++) p[i] = 0x61 + ((at + i) % 26);
      at += n;
      return Promise.resolve(n);
    },
    close() {},
  };
}

/**
 * Serves HTTP on a rawstack listener ({@link serveHttpListener}: keep-alive,
 * header/idle/send timeouts, a connection cap) until closed.
 *
 * @example
 * ```ts
 * import { memoryPeerHandler, startHttpServer } from "./tcp_commands.ts";
 * import { httpGet } from "./http.ts";
 * import { Stack } from "../stack.ts";
 * import { MemoryLink } from "../phy/memory_link.ts";
 * const [a, b] = MemoryLink.pair();
 * const server = new Stack({ device: b, ipv4: "192.0.2.1/24" });
 * const client = new Stack({ device: a, ipv4: "192.0.2.2/24" });
 * await server.start();
 * await client.start();
 * const http = startHttpServer(server, 80, memoryPeerHandler);
 * const conn = await client.connect({ hostname: "192.0.2.1", port: 80 });
 * let n = 0;
 * const r = await httpGet(conn, new URL("http://192.0.2.1/bytes/5"), { onBody: (c) => void (n += c.length) });
 * conn.close();
 * console.assert(r.head.status === 200 && n === 5 && http.stats().requests === 1);
 * http.close();
 * await client.close();
 * await server.close();
 * ```
 *
 * @param stack the stack to listen on
 * @param port TCP port
 * @param handler builds replies
 * @param options limits and timeouts (defaults in {@link HttpListenOptions}), `onResponse`
 * @returns the server: `close()` stops it, `stats()` counts connections, timeouts, refusals
 */
export function startHttpServer(
  stack: Stack,
  port: number,
  handler: (req: HttpRequest) => HttpReply | Promise<HttpReply>,
  options: HttpListenOptions<TcpConn> = {},
): HttpServer {
  return serveHttpListener(stack.listen({ port }), handler, options);
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`"${text}" is not a URL (e.g. http://192.0.2.1/index.html)`);
  }
  if (url.protocol !== "http:") {
    throw new UsageError(
      `only http:// URLs are supported (rawstack has no TLS), got ${url.protocol}`,
    );
  }
  return url;
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
  brief: "HTTP/1.1 GET through rawstack",
  summary: "Connects to the URL's host over rawstack's TCP, sends GET, and writes the body\n" +
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
    let file: Deno.FsFile | null = null;
    try {
      const hostname = url.hostname;
      const port = url.port === "" ? 80 : Number(url.port);
      const conn = await net.stack.connect({ hostname, port });
      const progress = new ProgressBar({
        enabled: Deno.stderr.isTerminal() && values.verbose !== true,
      });
      if (output !== undefined) {
        file = await Deno.open(output, { write: true, create: true, truncate: true });
      }
      let received = 0;
      let status = 0;
      try {
        const r = await httpGet(conn, url, {
          readTimeoutMs,
          onHead: (h) => {
            status = h.status;
            progress.setTotal(h.contentLength);
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
        progress.finish();
        if (r.head.status < 200 || r.head.status > 299) {
          console.error(`rawstack get: HTTP ${r.head.status} ${r.head.reason}`);
        }
      } catch (e) {
        if (e instanceof HttpTimeoutError) {
          throw new HttpTimeoutError(e.kind, e.ms, "--timeout MS waits longer");
        }
        throw e;
      } finally {
        conn.close();
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
  brief: "serve a directory over HTTP on rawstack",
  summary: "Listens on --port (default 8080) with rawstack's TCP and serves the files under\n" +
    "--dir (default the current directory) until Ctrl-C (or --count requests), with\n" +
    "keep-alive. Paths stay inside --dir (symlinks out of it give 404), files are\n" +
    "streamed, slow clients are timed out and connections capped. Logs one line per\n" +
    "request on stderr (control characters escaped).",
  options: {
    port: { type: "string", short: "p", value: "PORT", help: "TCP port (default 8080)" },
    dir: { type: "string", short: "d", value: "DIR", help: "directory to serve (default .)" },
    count: { type: "string", value: "N", help: "exit after N requests" },
    "max-connections": {
      type: "string",
      value: "N",
      help: `open connections at most; more are closed at once (default ${HTTP_MAX_CONNECTIONS})`,
    },
    "header-timeout": {
      type: "string",
      value: "MS",
      help: `time for a whole request head, ms (default ${HTTP_HEADER_TIMEOUT_MS})`,
    },
    "idle-timeout": {
      type: "string",
      value: "MS",
      help:
        `wait for the next request on a kept-alive connection, ms (default ${HTTP_IDLE_TIMEOUT_MS})`,
    },
    "send-timeout": {
      type: "string",
      value: "MS",
      help:
        `wait for the client to take each 64 KiB of a response, ms (default ${HTTP_SEND_TIMEOUT_MS})`,
    },
    "max-header-bytes": {
      type: "string",
      value: "N",
      help: `largest request head, bytes; more gets 431 (default ${HTTP_SERVER_MAX_HEADER_BYTES})`,
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
    const limits: HttpListenOptions<TcpConn> = {
      maxConnections: intOption(
        values["max-connections"],
        "max-connections",
        HTTP_MAX_CONNECTIONS,
        1,
        65_536,
      ),
      headerTimeoutMs: timeoutOption(
        values["header-timeout"],
        "header-timeout",
        HTTP_HEADER_TIMEOUT_MS,
      ),
      idleTimeoutMs: timeoutOption(values["idle-timeout"], "idle-timeout", HTTP_IDLE_TIMEOUT_MS),
      sendTimeoutMs: timeoutOption(values["send-timeout"], "send-timeout", HTTP_SEND_TIMEOUT_MS),
      maxHeaderBytes: intOption(
        values["max-header-bytes"],
        "max-header-bytes",
        HTTP_SERVER_MAX_HEADER_BYTES,
        1024,
        1024 * 1024,
      ),
    };
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
        onResponse: (conn, response) => {
          served++;
          // The request line is the peer's bytes: escaped (nginx's log rule) before the terminal sees it.
          console.error(formatAccessLog(formatNetAddr(conn.remoteAddr), response));
          if (count > 0 && served >= count) done();
        },
      });
      console.error(
        `rawstack serve: serving ${dir} on http://${net.stack.address}:${port}/ (Ctrl-C to stop)`,
      );
      await Promise.race([stop.promise, finished]);
      server.close();
      await settle();
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
