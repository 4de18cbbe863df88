// deno run examples/echo_server.ts                   (server and client over a MemoryLink)
// deno run --allow-ffi --allow-read examples/echo_server.ts --iface rs0 --netns NS \
//   --ip 192.0.2.2/24 --port 7
/**
 * A TCP echo server on rawstack: every connection gets back what it sends,
 * until it half-closes (then the server closes its side too).
 *
 * With `--iface` it drives that interface through AF_PACKET (root or
 * CAP_NET_RAW) and serves `--port` (default 7) until Ctrl-C; try it from the
 * kernel side with `echo hello | socat -t 2 - TCP:192.0.2.2:7`. Without
 * `--iface` it runs the server and a client on two in-process stacks over a
 * MemoryLink and prints a few echoes.
 *
 * @module
 */

import { AfPacketDevice, formatNetAddr, MemoryLink, Stack } from "../mod.ts";

const args = parseArgs(Deno.args);
const port = Number(args.flags.port ?? 7);

/** Echoes every connection of `listener` through its streams until the listener closes. */
async function serve(listener: ReturnType<Stack["listen"]>, log: boolean): Promise<void> {
  for await (const conn of listener) {
    const peer = formatNetAddr(conn.remoteAddr);
    if (log) console.log(`connection from ${peer}`);
    // pipeTo runs at the connection's pace (backpressure both ways); the client's FIN ends it.
    conn.readable.pipeTo(conn.writable).then(
      () => log && console.log(`${peer} done: ${conn.info().bytesIn} bytes echoed`),
      (e) => {
        if (log) console.log(`${peer}: ${e}`);
        conn.close();
      },
    );
  }
}

if (args.flags.iface !== undefined) {
  const device = await AfPacketDevice.open(args.flags.iface, { netns: args.flags.netns });
  const stack = new Stack({ device, ipv4: args.flags.ip ?? "192.0.2.2/24" });
  await stack.start();
  const listener = stack.listen({ port });
  console.log(`echoing TCP on ${formatNetAddr(listener.addr)} (Ctrl-C to stop)`);
  const stop = () => listener.close();
  Deno.addSignalListener("SIGINT", stop);
  await serve(listener, true);
  Deno.removeSignalListener("SIGINT", stop);
  await stack.close();
} else {
  const [da, db] = MemoryLink.pair();
  const server = new Stack({ device: da, ipv4: "192.0.2.2/24" });
  const client = new Stack({ device: db, ipv4: "192.0.2.1/24" });
  await server.start();
  await client.start();
  const listener = server.listen({ port });
  const serving = serve(listener, false);
  const conn = await client.connect({ hostname: "192.0.2.2", port, noDelay: true });
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const buf = new Uint8Array(64 * 1024);
  for (const text of ["hello", "rawstack", "x".repeat(50_000)]) {
    const out = encoder.encode(text);
    await conn.write(out);
    let back = "";
    while (back.length < out.length) {
      const n = await conn.read(buf);
      if (n === null) break;
      back += decoder.decode(buf.subarray(0, n));
    }
    const shown = back.length > 20 ? `${back.length} bytes` : JSON.stringify(back);
    console.log(`echo from ${formatNetAddr(conn.remoteAddr)}: ${shown}`);
  }
  await conn.closeWrite();
  console.log(`end of stream: ${await conn.read(buf) === null}`);
  conn.close();
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
