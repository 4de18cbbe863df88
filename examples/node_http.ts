// deno run examples/node_http.ts        (two in-process stacks, 5 % of frames lost each way)
/**
 * Software written for Node runs over rawstack unchanged: a `node:http`
 * server and a `node:http` client, on two rawstack hosts joined by a
 * MemoryLink that loses 5 % of the frames in each direction
 * (`FaultInjector`). The server gets its connections from a rawstack
 * listener (`serveNodeListener`); the client's agent opens them with
 * `createNodeConnection` — a `node:net.Socket`-compatible stream over
 * rawstack TCP, which retransmits what the link loses.
 *
 * @module
 */

import http from "node:http";
import {
  createNodeConnection,
  FaultInjector,
  MemoryLink,
  serveNodeListener,
  Stack,
} from "../mod.ts";

const LOSS = 0.05;
const [la, lb] = MemoryLink.pair({ queueFrames: 1024 });
const client = new Stack({
  device: new FaultInjector(la, { seed: 1, rx: { drop: LOSS } }),
  ipv4: "192.0.2.2/24",
});
const server = new Stack({
  device: new FaultInjector(lb, { seed: 2, rx: { drop: LOSS } }),
  ipv4: "192.0.2.1/24",
});
await client.start();
await server.start();

// An ordinary node:http server: it never learns it is not on the kernel's TCP.
const app = http.createServer((req, res) => {
  let bytes = 0;
  req.on("data", (chunk: Uint8Array) => bytes += chunk.length);
  req.on("end", () => {
    res.setHeader("content-type", "text/plain");
    res.end(`${req.method} ${req.url}: received ${bytes} bytes\n`);
  });
});
const listening = serveNodeListener(server.listen({ port: 80 }), app);

// An ordinary node:http client whose agent dials through rawstack.
const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
Object.assign(agent, {
  createConnection: (o: { host: string; port: number }) =>
    createNodeConnection(client, { host: o.host, port: Number(o.port) }),
});

function request(path: string, body: Uint8Array): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "192.0.2.1", port: 80, path, method: "POST", agent },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => text += c);
        res.on("end", () => resolve(`${res.statusCode} ${text.trim()}`));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

try {
  const t0 = performance.now();
  const answers = await Promise.all(
    [1, 64, 256, 1024].map((kib) => request(`/upload/${kib}k`, new Uint8Array(kib * 1024))),
  );
  for (const a of answers) console.log(a);
  const ms = performance.now() - t0;
  const st = client.stats().tcp;
  console.log(
    `${(ms / 1000).toFixed(2)} s through ${LOSS * 100} % loss each way; ` +
      `${listening.stats().accepted} connections; client retransmitted ${st.retransmits} segments`,
  );
} finally {
  agent.destroy();
  listening.close();
  listening.closeAllConnections();
  await client.close();
  await server.close();
}
