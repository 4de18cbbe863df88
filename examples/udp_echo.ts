// deno run --allow-ffi --allow-read examples/udp_echo.ts --iface rs0 --netns NS --ip 192.0.2.2/24 --port 7
/**
 * A UDP echo server on rawstack.
 *
 * With `--iface` it drives that interface through AF_PACKET (root or
 * CAP_NET_RAW) and echoes every datagram sent to `--port` (default 7) until
 * Ctrl-C; try it from the kernel side with
 * `echo hi | socat - UDP:192.0.2.2:7`. Without `--iface` it runs the server
 * and a client on two in-process stacks over a MemoryLink, sends a few
 * datagrams and prints the echoes: `deno run examples/udp_echo.ts`.
 *
 * @module
 */

import { AfPacketDevice, formatNetAddr, MemoryLink, Stack, type UdpConn } from "../mod.ts";

const args = parseArgs(Deno.args);
const port = Number(args.flags.port ?? 7);

async function echo(conn: UdpConn, log: boolean): Promise<void> {
  for await (const [data, from] of conn) {
    if (log) console.log(`${data.length} bytes from ${formatNetAddr(from)}`);
    await conn.send(data, from).catch((e) => console.error(`send to ${formatNetAddr(from)}:`, e));
  }
}

if (args.flags.iface !== undefined) {
  const device = await AfPacketDevice.open(args.flags.iface, { netns: args.flags.netns });
  const stack = new Stack({ device, ipv4: args.flags.ip ?? "192.0.2.2/24" });
  await stack.start();
  const conn = stack.listenDatagram({ port });
  console.log(`echoing UDP on ${formatNetAddr(conn.addr)} (Ctrl-C to stop)`);
  const stop = () => conn.close();
  Deno.addSignalListener("SIGINT", stop);
  await echo(conn, true);
  Deno.removeSignalListener("SIGINT", stop);
  await stack.close();
} else {
  const [da, db] = MemoryLink.pair();
  const server = new Stack({ device: da, ipv4: "192.0.2.2/24" });
  const client = new Stack({ device: db, ipv4: "192.0.2.1/24" });
  await server.start();
  await client.start();
  const serverConn = server.listenDatagram({ port });
  const serving = echo(serverConn, false);
  const conn = client.listenDatagram({ port: 0 });
  await conn.connect(serverConn.addr); // only the server's datagrams, and its ICMP errors, arrive
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  for (const text of ["hello", "rawstack", "x".repeat(3000)]) {
    await conn.send(encoder.encode(text));
    const [data, from] = await conn.receive();
    const shown = data.length > 20 ? `${data.length} bytes` : JSON.stringify(decoder.decode(data));
    console.log(`echo from ${formatNetAddr(from)}: ${shown}`);
  }
  serverConn.close();
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
