// deno run examples/http_get.ts                      (two in-process stacks over a MemoryLink)
// deno run --allow-ffi --allow-read examples/http_get.ts --iface rs0 --netns NS \
//   --ip 192.0.2.2/24 --gateway 192.0.2.1 [--dns 192.0.2.1] http://192.0.2.1:8000/
/**
 * The textbook's browser: resolve the name, connect (three-way handshake),
 * send an HTTP/1.1 GET, read the response until the server's FIN, close.
 *
 * Without `--iface` it builds two rawstack hosts joined by a MemoryLink, runs
 * a tiny HTTP server on one and fetches `http://www.example.test/` from the
 * other (the name is in the client's hosts table). With `--iface` it drives
 * that interface through AF_PACKET (root or CAP_NET_RAW) and fetches the URL
 * given, e.g. from `python3 -m http.server` in the lab's kernel namespace.
 *
 * @module
 */

import { AfPacketDevice, MemoryLink, Stack } from "../mod.ts";

const args = parseArgs(Deno.args);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Fetches `url` with `stack`, printing each step. Returns the body. */
async function httpGet(stack: Stack, url: URL): Promise<string> {
  const host = url.hostname;
  const port = url.port === "" ? 80 : Number(url.port);
  // 1. Resolve the name (a dotted quad resolves to itself).
  const addresses = /^\d+\.\d+\.\d+\.\d+$/.test(host) ? [host] : await stack.resolveDns(host);
  console.log(`resolve  ${host} → ${addresses.join(", ")}`);
  // 2. Connect: SYN, SYN-ACK, ACK.
  const t0 = performance.now();
  const conn = await stack.connect({ hostname: addresses[0], port });
  const l = conn.localAddr;
  const r = conn.remoteAddr;
  console.log(
    `connect  ${l.hostname}:${l.port} → ${r.hostname}:${r.port} established in ` +
      `${(performance.now() - t0).toFixed(1)} ms`,
  );
  try {
    // 3. Send the request.
    const request = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
      `User-Agent: rawstack-http-get\r\nAccept: */*\r\nConnection: close\r\n\r\n`;
    await conn.write(encoder.encode(request));
    console.log(`send     ${request.split("\r\n")[0]} (${request.length} bytes)`);
    // 4. Read the response until the server closes (Connection: close).
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const buf = new Uint8Array(16 * 1024);
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.subarray(0, n));
      total += n;
    }
    const all = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    const text = decoder.decode(all);
    const split = text.indexOf("\r\n\r\n");
    const head = split < 0 ? text : text.slice(0, split);
    console.log(`receive  ${total} bytes: ${head.split("\r\n")[0]}`);
    for (const line of head.split("\r\n").slice(1)) console.log(`         ${line}`);
    const info = conn.info();
    console.log(
      `tcp_info srtt ${info.srttMs.toFixed(2)} ms, rto ${info.rtoMs} ms, cwnd ${info.cwnd} B, ` +
        `mss ${info.sndMss}, ${info.bytesOut} B out, ${info.bytesIn} B in, ` +
        `${info.retransmits} retransmissions`,
    );
    return split < 0 ? "" : text.slice(split + 4);
  } finally {
    // 5. Close: our FIN; the connection finishes in the background (TIME-WAIT).
    conn.close();
    console.log(`close    (${conn.state})`);
  }
}

if (args.flags.iface !== undefined) {
  const url = new URL(args.positional[0] ?? "http://192.0.2.1:8000/");
  const device = await AfPacketDevice.open(args.flags.iface, { netns: args.flags.netns });
  const stack = new Stack({
    device,
    ipv4: args.flags.ip ?? "192.0.2.2/24",
    gateway: args.flags.gateway ?? null,
    dns: args.flags.dns !== undefined ? [args.flags.dns] : [],
  });
  await stack.start();
  try {
    const body = await httpGet(stack, url);
    console.log(`body     ${body.length} characters`);
    console.log(body);
  } finally {
    await stack.close();
  }
} else {
  // Two hosts on one wire: a client and a tiny web server.
  const [da, db] = MemoryLink.pair();
  const client = new Stack({
    device: da,
    ipv4: "192.0.2.2/24",
    hosts: { "www.example.test": ["192.0.2.1"] },
  });
  const server = new Stack({ device: db, ipv4: "192.0.2.1/24" });
  await client.start();
  await server.start();
  const listener = server.listen({ port: 80 });
  const page = "<html><body><h1>Hello from rawstack</h1></body></html>\n";
  const serving = (async () => {
    for await (const conn of listener) {
      const buf = new Uint8Array(4096);
      let request = "";
      while (!request.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) break;
        request += decoder.decode(buf.subarray(0, n));
      }
      await conn.write(encoder.encode(
        `HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: ${page.length}\r\n` +
          `Connection: close\r\n\r\n${page}`,
      ));
      conn.close();
    }
  })();
  const body = await httpGet(client, new URL("http://www.example.test/"));
  console.log(body.trimEnd());
  listener.close();
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
