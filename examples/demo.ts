// deno task demo            (as root: against the Linux kernel in a lab; otherwise: two rawstack hosts)
/**
 * The rawstack demo: fetch a web page through rawstack and watch every step
 * on the wire — ARP, the three-way handshake, the request, the response and
 * the FIN exchange — then see the whole exchange as a ladder diagram.
 *
 * As root (with `ip` and `python3`), it builds a lab: two network namespaces
 * joined by a veth pair; the Linux kernel in one runs `python3 -m http.server`
 * on 192.0.2.1, and rawstack drives the other end over AF_PACKET as
 * 192.0.2.2. Without root it runs two rawstack hosts over an in-memory
 * Ethernet (MemoryLink), one of them serving the page on rawstack's own TCP.
 * Either way it finishes in seconds and removes everything it built.
 *
 * Options: `--memory` (skip the lab even as root), `--svg FILE` (also write
 * the ladder as SVG), `--pcap FILE` (save the capture), `--prefix NAME`
 * (namespace prefix, default "rsdemo").
 *
 * @module
 */

import {
  CaptureDevice,
  type CapturedFrame,
  decodeFrame,
  type Device,
  formatTcpFlags,
  hostLadder,
  isRoot,
  Lab,
  labUnavailableReason,
  LiveCapture,
  MemoryLink,
  parseIpv4,
  renderLadderSvg,
  renderLadderText,
  Stack,
} from "../mod.ts";

const CLIENT = "192.0.2.2";
const SERVER = "192.0.2.1";
const HTTP_PORT = 8000;
const PAGE = `<!doctype html>
<html><head><title>rawstack demo</title></head>
<body><h1>Hello from the demo</h1><p>Fetched through rawstack, a TCP/IP stack in TypeScript.</p></body>
</html>
`;
/** Quiet time that lets the last ACK cross before the ladder is drawn, ms. */
const SETTLE_MS = 100;
/** How long to wait for python's HTTP server to start, ms. */
const SERVER_START_TIMEOUT_MS = 5000;

const args = parseFlags(Deno.args);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
let origin = -1;
let narrating = false;

/** One narrated line per frame, printed the moment it crosses rawstack's device. */
function narrate(frame: CapturedFrame, index: number): void {
  if (!narrating) return;
  const f = decodeFrame(frame.data, frame.timestampMs, index);
  if (origin < 0) origin = f.timeMs;
  const t = `${(f.timeMs - origin).toFixed(3)} ms`.padStart(11);
  const dir = f.src === parseIpv4(CLIENT) ? "rawstack → server" : "server → rawstack";
  let what = f.summary;
  if (f.kind === "arp") {
    what = f.summary.includes("who-has")
      ? `ARP request: who has ${SERVER}? (broadcast, RFC 826)`
      : f.summary.includes("announce")
      ? `ARP announcement (RFC 5227): ${f.summary.replace("ARP announce ", "")}`
      : `ARP reply: ${f.summary.replace("ARP ", "")}`;
  } else if (f.tcp !== null) {
    const t = f.tcp;
    const flags = formatTcpFlags(t.flags);
    if (flags === "SYN") what = "SYN: open the connection, announce our ISN and options";
    else if (flags === "SYN,ACK") what = "SYN-ACK: the server accepts and sends its own ISN";
    else if (flags.includes("FIN")) {
      what = t.payloadLength > 0
        ? `${flags}: the last ${t.payloadLength} bytes, and no more data from this side`
        : `${flags}: no more data from this side`;
    } else if (flags.includes("RST")) what = `${flags}: connection reset`;
    else if (t.payloadLength > 0) {
      what = f.src === parseIpv4(CLIENT)
        ? `${flags}: the HTTP request, ${t.payloadLength} bytes`
        : `${flags}: HTTP response data, ${t.payloadLength} bytes`;
    } else what = "ACK: acknowledges what arrived";
  }
  console.log(`${t}  ${dir.padEnd(18)} ${what}`);
}

/** HTTP/1.0 GET, textbook style: write the request, read until the server closes. */
async function fetchPage(stack: Stack, host: string, port: number): Promise<string> {
  const conn = await stack.connect({ hostname: host, port });
  try {
    const request = `GET / HTTP/1.0\r\nHost: ${host}:${port}\r\nUser-Agent: rawstack-demo\r\n\r\n`;
    await conn.write(encoder.encode(request));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    return chunks.map((c) => decoder.decode(c, { stream: true })).join("");
  } finally {
    conn.close();
  }
}

/** A one-request-per-connection HTTP server on rawstack's TCP (the no-root peer). */
function serveOnRawstack(stack: Stack, port: number): void {
  const listener = stack.listen({ port });
  (async () => {
    for await (const conn of listener) {
      const buf = new Uint8Array(4096);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) break;
        head += decoder.decode(buf.subarray(0, n));
      }
      const body = encoder.encode(PAGE);
      const response = `HTTP/1.0 200 OK\r\nServer: rawstack\r\nContent-Type: text/html\r\n` +
        `Content-Length: ${body.length}\r\n\r\n`;
      await conn.write(encoder.encode(response));
      await conn.write(body);
      await conn.closeWrite();
      conn.close();
    }
  })().catch(() => {});
}

async function runDemo(device: Device, setupPeer: (() => Promise<() => Promise<void>>) | null) {
  const live = new LiveCapture({ onFrame: narrate });
  const stack = new Stack({
    device: new CaptureDevice(device, live),
    ipv4: `${CLIENT}/24`,
    gateway: SERVER,
  });
  const closePeer = setupPeer !== null ? await setupPeer() : null;
  await stack.start();
  try {
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    live.clear(); // the start-up announcements are not part of the story
    narrating = true;
    console.log(
      `\nrawstack (${CLIENT}) fetches http://${SERVER}:${HTTP_PORT}/ — each frame as it passes:\n`,
    );
    const page = await fetchPage(stack, SERVER, HTTP_PORT);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const status = page.split("\r\n")[0];
    const bodyStart = page.indexOf("\r\n\r\n");
    console.log(`\nThe response: ${status}, ${page.length - bodyStart - 4} bytes of HTML.`);
    const title = /<h1>(.*?)<\/h1>/.exec(page)?.[1];
    if (title !== undefined) console.log(`Its heading: "${title}"`);
    console.log("\nThe same exchange as a ladder diagram (time runs down):\n");
    const analysis = live.analyze();
    const ladder = hostLadder(analysis, parseIpv4(CLIENT)!, parseIpv4(SERVER)!, {
      leftName: `rawstack ${CLIENT}`,
      rightName: `server ${SERVER}`,
    });
    console.log(renderLadderText(ladder));
    const c = analysis.connections[0];
    if (c !== undefined) {
      const marks = c.segments.filter((s) => s.retransmission).length;
      console.log(
        `${c.segments.length} TCP segments; client sent ${c.clientBytes} bytes, server ${c.serverBytes}; ` +
          `${marks} retransmission(s).`,
      );
    }
    if (args.svg !== undefined) {
      await Deno.writeTextFile(args.svg, renderLadderSvg(ladder));
      console.log(`Ladder written to ${args.svg} (open it in a browser).`);
    }
    if (args.pcap !== undefined) {
      await Deno.writeFile(args.pcap, live.toPcap());
      console.log(`Capture written to ${args.pcap} (try: deno task rawstack trace ${args.pcap}).`);
    }
  } finally {
    await stack.close();
    await closePeer?.();
  }
}

async function waitForKernelServer(lab: Lab): Promise<void> {
  const deadline = Date.now() + SERVER_START_TIMEOUT_MS;
  const probe = `import socket; socket.create_connection(("${SERVER}", ${HTTP_PORT}), 1).close()`;
  while (Date.now() < deadline) {
    if ((await lab.runInPeer(["python3", "-c", probe])).code === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("python3 -m http.server did not start in the lab");
}

const reason = isRoot() ? labUnavailableReason(["python3"]) : "not root";
if (args.memory || reason !== null) {
  console.log(
    `rawstack demo — two rawstack hosts over an in-memory Ethernet` +
      (args.memory ? "" : ` (no lab: ${reason}; run as root for the Linux kernel as the server)`),
  );
  const [clientEnd, serverEnd] = MemoryLink.pair();
  await runDemo(clientEnd, async () => {
    const peer = new Stack({ device: serverEnd, ipv4: `${SERVER}/24` });
    await peer.start();
    serveOnRawstack(peer, HTTP_PORT);
    return () => peer.close();
  });
} else {
  console.log(
    "rawstack demo — rawstack against the Linux kernel, in a lab of two network namespaces",
  );
  const lab = await Lab.create({ prefix: args.prefix });
  const site = await Deno.makeTempDir({ prefix: "rawstack-demo-" });
  try {
    await Deno.writeTextFile(`${site}/index.html`, PAGE);
    console.log(
      `  lab: ${lab.stackNetns} (rawstack, ${lab.stackIf}) ⇄ ${lab.peerNetns} (kernel, ${SERVER})`,
    );
    console.log(`  kernel: python3 -m http.server --bind ${SERVER} ${HTTP_PORT}`);
    lab.spawnInPeer([
      "python3",
      "-m",
      "http.server",
      "--bind",
      SERVER,
      "--directory",
      site,
      String(HTTP_PORT),
    ]);
    await waitForKernelServer(lab);
    // The probe made the kernel learn nothing about us, but flush its neighbour
    // cache anyway so the ladder starts with ARP.
    await lab.runInPeer(["ip", "neigh", "flush", "dev", lab.peerIf]);
    const device = await lab.openDevice();
    await runDemo(device, null);
  } finally {
    await lab.destroy();
    await Deno.remove(site, { recursive: true });
    console.log("Lab removed.");
  }
}

function parseFlags(argv: string[]) {
  const out: { memory: boolean; svg?: string; pcap?: string; prefix: string } = {
    memory: false,
    prefix: "rsdemo",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--memory") out.memory = true;
    else if (a === "--svg" && i + 1 < argv.length) out.svg = argv[++i];
    else if (a === "--pcap" && i + 1 < argv.length) out.pcap = argv[++i];
    else if (a === "--prefix" && i + 1 < argv.length) out.prefix = argv[++i];
    else {
      console.error(
        `demo: unknown argument "${a}" (options: --memory, --svg FILE, --pcap FILE, --prefix NAME)`,
      );
      Deno.exit(2);
    }
  }
  return out;
}
