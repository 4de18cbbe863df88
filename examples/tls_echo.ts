// deno run examples/tls_echo.ts             (needs openssl on PATH for its certificates)
/**
 * TLS 1.3 over rawstack TCP with `node:tls`: a TLS echo server on one
 * rawstack host (a `tls.Server` fed by `serveNodeListener`) and a client on
 * another (`tls.connect` over `createNodeConnection`) that checks the
 * server's certificate against a CA and its name (SNI `echo.test`), sends a
 * few lines and prints what comes back. A client that trusts another CA is
 * refused.
 *
 * @module
 */

import tls from "node:tls";
import { once } from "node:events";
import { createNodeConnection, makeTestPki, MemoryLink, serveNodeListener, Stack } from "../mod.ts";

const pki = await makeTestPki("DNS:echo.test");
const [da, db] = MemoryLink.pair();
const client = new Stack({ device: da, ipv4: "192.0.2.2/24" });
const server = new Stack({ device: db, ipv4: "192.0.2.1/24" });
await client.start();
await server.start();

const echo = tls.createServer({ cert: pki.cert, key: pki.key }, (socket) => {
  console.log(
    `server: ${socket.getProtocol()} with ${
      (socket as { servername?: string }).servername ?? "no SNI"
    }`,
  );
  socket.pipe(socket);
});
const listening = serveNodeListener(server.listen({ port: 7443 }), echo);

function connect(ca: string): tls.TLSSocket {
  return tls.connect({
    socket: createNodeConnection(client, { host: "192.0.2.1", port: 7443 }),
    ca: [ca],
    servername: "echo.test",
  });
}

try {
  const socket = connect(pki.ca);
  await once(socket, "secureConnect");
  console.log(`client: ${socket.getProtocol()}, certificate trusted: ${socket.authorized}`);
  let echoed = "";
  socket.setEncoding("utf8");
  socket.on("data", (text: string) => echoed += text);
  const lines = ["hello over TLS\n", "through a TCP/IP stack in TypeScript\n"];
  for (const line of lines) socket.write(line);
  socket.end();
  await once(socket, "end");
  console.log(echoed.trimEnd());

  const stranger = connect(pki.otherCa);
  const [err] = await once(stranger, "error").catch((e) => [e]);
  console.log(`a client trusting another CA: ${(err as Error).message}`);
} finally {
  listening.close();
  listening.closeAllConnections();
  await client.close();
  await server.close();
  await pki.remove();
}
