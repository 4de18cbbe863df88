// deno run --allow-all examples/tour.ts
/**
 * The guided tour: the textbook's chapter on TCP, live. Two rawstack hosts
 * share an in-memory Ethernet (no root needed). The client walks through
 * socket → connect → write → read → close with the descriptor API
 * (`stack.sockets`); after each step the tour prints what the stack did
 * (connection state, sequence space, windows, RTT estimate from
 * `conn.info()`) and which segments crossed the wire during that step. At the
 * end, the ladder of the whole exchange.
 *
 * Options: `--svg FILE` writes the ladder as SVG, `--plot FILE` the time plot.
 *
 * @module
 */

import {
  CaptureDevice,
  decodeFrame,
  describeFrame,
  hostLadder,
  LiveCapture,
  MemoryLink,
  parseIpv4,
  renderLadderSvg,
  renderLadderText,
  renderPlotSvg,
  Stack,
} from "../mod.ts";

const CLIENT = "192.0.2.2";
const SERVER = "192.0.2.1";
const PORT = 7;
/** Long enough for a delayed ACK (40 ms) to go out before a step is summed up, ms. */
const QUIET_MS = 80;

const args = Deno.args;
const svgPath = args.includes("--svg") ? args[args.indexOf("--svg") + 1] : undefined;
const plotPath = args.includes("--plot") ? args[args.indexOf("--plot") + 1] : undefined;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const [clientLink, serverLink] = MemoryLink.pair();
const live = new LiveCapture();
const client = new Stack({ device: new CaptureDevice(clientLink, live), ipv4: `${CLIENT}/24` });
const server = new Stack({ device: serverLink, ipv4: `${SERVER}/24` });
await client.start();
await server.start();
await sleep(QUIET_MS);
live.clear();
let shown = 0;
let origin = -1;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Prints the frames captured since the last step. */
async function wire(): Promise<void> {
  await sleep(QUIET_MS);
  const frames = live.frames().slice(shown);
  if (frames.length === 0) console.log("   on the wire: nothing");
  for (const f of frames) {
    shown++;
    const d = decodeFrame(f.data, f.timestampMs, shown);
    if (origin < 0) origin = d.timeMs;
    const arrow = d.src === parseIpv4(CLIENT) ? "client → server" : "server → client";
    console.log(`   on the wire: ${arrow}  ${describeFrame(d, origin).trim()}`);
  }
}

function step(title: string, explanation: string): void {
  console.log(`\n== ${title}\n   ${explanation}`);
}

console.log(
  `The tour: a TCP client (${CLIENT}) and an echo server (${SERVER}:${PORT}) on rawstack,`,
);
console.log("two hosts on an in-memory Ethernet. Every frame is captured on the client's side.");

// The server: an echo service on the promise API (like Deno.listen).
const listener = server.listen({ port: PORT });
(async () => {
  for await (const conn of listener) {
    const buf = new Uint8Array(1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      await conn.write(buf.subarray(0, n));
    }
    await conn.closeWrite();
    conn.close();
  }
})().catch(() => {});

const api = client.sockets;

step("1. socket()", "A descriptor for a TCP endpoint: no state on the wire yet (CLOSED).");
const fd = api.socket();
console.log(`   fd = ${fd}`);
await wire();

step(
  "2. connect(fd, 192.0.2.1, 7)",
  "The three-way handshake (RFC 9293 §3.5): SYN carries our initial sequence number and\n" +
    "   options (MSS, window scale, SACK, timestamps); the peer answers SYN-ACK; our ACK\n" +
    "   completes it. First ARP finds the peer's MAC address (RFC 826).",
);
await api.connect(fd, SERVER, PORT);
const conn = api.object(fd);
const info = () => (conn !== null && "info" in conn ? conn.info() : null);
let i = info();
console.log(
  `   state ${i?.state}; our MSS ${i?.sndMss}; window scaling ${i?.windowScaling}, ` +
    `SACK ${i?.sack}, timestamps ${i?.timestamps}`,
);
console.log(`   cwnd ${i?.cwnd} bytes (initial window, RFC 6928); RTT estimate ${i?.srttMs} ms`);
await wire();

step(
  '3. write(fd, "hello, textbook")',
  "The bytes go into the send buffer and out as one segment with PSH; they stay\n" +
    "   buffered until the peer acknowledges them. The echo comes back as data, and\n" +
    "   our ACK for it waits up to 40 ms in case it can ride on data (delayed ACK).",
);
const message = "hello, textbook";
const written = await api.write(fd, encoder.encode(message));
console.log(`   wrote ${written} bytes`);
await wire();

step(
  "4. read(fd, buf)",
  "The echo arrived as data from the server; reading it frees receive-buffer space,\n" +
    "   and the window we advertise grows again.",
);
const buf = new Uint8Array(100);
const n = await api.read(fd, buf);
console.log(`   read ${n} bytes: "${decoder.decode(buf.subarray(0, n ?? 0))}"`);
i = info();
console.log(
  `   bytes out ${i?.bytesOut}, in ${i?.bytesIn}; RTT estimate ${i?.srttMs} ms, RTO ${i?.rtoMs} ms`,
);
await wire();

step(
  "5. close(fd)",
  "Our FIN says we will send no more (FIN-WAIT-1); the server's ACK and its own FIN\n" +
    "   follow (it closes when it reads end-of-stream); our last ACK ends it, and we\n" +
    "   wait in TIME-WAIT for 2×MSL so late segments cannot confuse a new connection.",
);
await api.shutdown(fd, "write");
await wire();
console.log(
  `   state after the FIN exchange: ${conn !== null && "state" in conn ? conn.state : "?"}`,
);
api.close(fd);

console.log("\n== The whole exchange as a ladder diagram\n");
const analysis = live.analyze();
const ladder = hostLadder(analysis, parseIpv4(CLIENT)!, parseIpv4(SERVER)!, {
  leftName: `client ${CLIENT}`,
  rightName: `server ${SERVER}`,
});
console.log(renderLadderText(ladder));
if (svgPath !== undefined) {
  await Deno.writeTextFile(svgPath, renderLadderSvg(ladder));
  console.log(`Ladder written to ${svgPath}.`);
}
if (plotPath !== undefined && analysis.connections.length > 0) {
  await Deno.writeTextFile(plotPath, renderPlotSvg(analysis.connections[0]));
  console.log(`Time plot written to ${plotPath}.`);
}
listener.close();
await client.close();
await server.close();
