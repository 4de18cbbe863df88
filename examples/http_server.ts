// deno run examples/http_server.ts                   (serves and fetches once over a MemoryLink)
// deno run --allow-ffi --allow-read examples/http_server.ts --iface rs0 --netns NS \
//   --ip 192.0.2.2/24 --port 8080
/**
 * A small HTTP/1.1 server on rawstack: `GET /` returns a page that shows
 * the client's address and the connection's TCP figures; other paths 404.
 * One request per connection (`Connection: close`).
 *
 * With `--iface` it drives that interface through AF_PACKET (root or
 * CAP_NET_RAW) and serves `--port` (default 8080) until Ctrl-C (or after
 * `--requests N`); fetch the page from the kernel's namespace with
 * `ip netns exec NS-pe curl http://192.0.2.2:8080/`. Without `--iface` it
 * serves on one in-process stack and fetches the page from another over a
 * MemoryLink.
 *
 * @module
 */

import { AfPacketDevice, formatNetAddr, MemoryLink, Stack } from "../mod.ts";

type Conn = Awaited<ReturnType<Stack["connect"]>>;

const args = parseArgs(Deno.args);
const port = Number(args.flags.port ?? 8080);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Longest request head we read (bytes). */
const MAX_HEAD_BYTES = 16 * 1024;

/** Answers one request on `conn`, then closes it. Returns the request line. */
async function handle(conn: Conn): Promise<string> {
  const buf = new Uint8Array(4096);
  let head = "";
  while (!head.includes("\r\n\r\n") && head.length < MAX_HEAD_BYTES) {
    const n = await conn.read(buf);
    if (n === null) break;
    head += decoder.decode(buf.subarray(0, n));
  }
  const requestLine = head.split("\r\n")[0];
  const [method, path] = requestLine.split(" ");
  let status = "200 OK";
  let body: string;
  if (method !== "GET" && method !== "HEAD") {
    status = "405 Method Not Allowed";
    body = "only GET\n";
  } else if (path !== "/" && path !== "/index.html") {
    status = "404 Not Found";
    body = `no ${path}\n`;
  } else {
    const info = conn.info();
    body = `<!doctype html>
<html><head><title>rawstack</title></head><body>
<h1>Served by rawstack</h1>
<p>A TCP/IP stack in TypeScript, in user space.</p>
<p>You are ${formatNetAddr(conn.remoteAddr)}; this is ${formatNetAddr(conn.localAddr)}.</p>
<p>TCP: state ${info.state}, srtt ${info.srttMs.toFixed(2)} ms, mss ${info.sndMss},
window scaling ${info.windowScaling}, timestamps ${info.timestamps}, SACK ${info.sack}.</p>
</body></html>
`;
  }
  const bytes = encoder.encode(body);
  await conn.write(encoder.encode(
    `HTTP/1.1 ${status}\r\nServer: rawstack\r\nContent-Type: text/html; charset=utf-8\r\n` +
      `Content-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`,
  ));
  if (method !== "HEAD") await conn.write(bytes);
  conn.close();
  return requestLine;
}

/** Serves until the listener closes or `limit` requests were answered. */
async function serve(listener: ReturnType<Stack["listen"]>, limit: number, log: boolean) {
  let served = 0;
  for await (const conn of listener) {
    const from = formatNetAddr(conn.remoteAddr);
    handle(conn).then(
      (line) => log && console.log(`${from} "${line}"`),
      (e) => {
        if (log) console.log(`${from}: ${e}`);
        conn.close();
      },
    );
    if (++served >= limit) listener.close();
  }
}

if (args.flags.iface !== undefined) {
  const device = await AfPacketDevice.open(args.flags.iface, { netns: args.flags.netns });
  const stack = new Stack({
    device,
    ipv4: args.flags.ip ?? "192.0.2.2/24",
    gateway: args.flags.gateway ?? null,
  });
  await stack.start();
  const listener = stack.listen({ port });
  console.log(`serving HTTP on ${formatNetAddr(listener.addr)} (Ctrl-C to stop)`);
  const stop = () => listener.close();
  Deno.addSignalListener("SIGINT", stop);
  await serve(listener, Number(args.flags.requests ?? Infinity), true);
  Deno.removeSignalListener("SIGINT", stop);
  // Let the last responses drain before the stack (and its connections) go.
  await new Promise((r) => setTimeout(r, 200));
  await stack.close();
} else {
  const [da, db] = MemoryLink.pair();
  const server = new Stack({ device: da, ipv4: "192.0.2.2/24" });
  const client = new Stack({ device: db, ipv4: "192.0.2.1/24" });
  await server.start();
  await client.start();
  const listener = server.listen({ port });
  const serving = serve(listener, 1, true);
  const conn = await client.connect({ hostname: "192.0.2.2", port });
  await conn.write(
    encoder.encode("GET / HTTP/1.1\r\nHost: 192.0.2.2\r\nConnection: close\r\n\r\n"),
  );
  await conn.closeWrite();
  const response = await new Response(conn.readable).text();
  console.log(response);
  await serving;
  await client.close();
  await server.close();
}

function parseArgs(argv: string[]): { flags: Record<string, string>; positional: string[] } {
  const flags: Record<string, string> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("-") && i + 1 < argv.length) flags[a.replace(/^--?/, "")] = argv[++i];
    else positional.push(a);
  }
  return { flags, positional };
}
