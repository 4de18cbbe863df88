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
import { createNodeConnection, MemoryLink, serveNodeListener, Stack } from "../mod.ts";

const pki = await certificates();
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
}

/** A CA, a certificate it signs for echo.test, and an unrelated CA (made with openssl). */
async function certificates(): Promise<{ cert: string; key: string; ca: string; otherCa: string }> {
  const dir = await Deno.makeTempDir({ prefix: "rawstack-tls-" });
  const openssl = async (args: string[]) => {
    const out = await new Deno.Command("openssl", { args, cwd: dir, stderr: "null" }).output();
    if (!out.success) throw new Error(`openssl ${args[0]} failed`);
  };
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    for (const name of ["ca", "other"]) {
      await openssl([
        "req",
        "-x509",
        ...ec,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.pem`,
        "-days",
        "1",
        "-subj",
        `/CN=${name} CA`,
      ]);
    }
    await openssl([
      "req",
      ...ec,
      "-keyout",
      "srv.key",
      "-out",
      "srv.csr",
      "-subj",
      "/CN=echo.test",
    ]);
    await Deno.writeTextFile(`${dir}/ext.cnf`, "subjectAltName=DNS:echo.test\n");
    await openssl([
      "x509",
      "-req",
      "-in",
      "srv.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "srv.pem",
      "-days",
      "1",
      "-extfile",
      "ext.cnf",
    ]);
    const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
    return {
      cert: await read("srv.pem"),
      key: await read("srv.key"),
      ca: await read("ca.pem"),
      otherCa: await read("other.pem"),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
