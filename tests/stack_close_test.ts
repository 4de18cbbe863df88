import assert from "node:assert/strict";
import { MemoryLink, Stack, TcpState, UdpError } from "../mod.ts";

async function closingPair(
  lingerMs: number,
): Promise<{ serverError: unknown; serverState: string; serverReset: boolean }> {
  const [a, b] = MemoryLink.pair();
  const server = new Stack({ device: a, ipv4: "192.0.2.1/24" });
  const client = new Stack({ device: b, ipv4: "192.0.2.2/24" });
  await server.start();
  await client.start();
  const listener = server.listen({ port: 7 });
  const accepted = listener.accept();
  const conn = await client.connect({ hostname: "192.0.2.1", port: 7 });
  const peer = await accepted;
  // The server closes its side once it has read the client's FIN.
  const serverDone = (async () => {
    const buf = new Uint8Array(16);
    let serverError: unknown = null;
    try {
      while ((await peer.read(buf)) !== null) { /* drain */ }
      peer.close();
    } catch (e) {
      serverError = e;
    }
    return serverError;
  })();
  conn.close(); // FIN from the client
  await client.close({ lingerMs });
  const serverError = await serverDone;
  // Give the server's FIN (or the client's RST) time to be processed.
  for (let i = 0; i < 50 && peer.connection.state !== TcpState.CLOSED; i++) {
    await new Promise((r) => setTimeout(r, 2));
  }
  const serverState = peer.connection.stateName;
  // RFC 9293 §3.10.7.4: a RST in LAST-ACK closes quietly, so count it at the server.
  const serverReset = server.stats().tcp.resetsReceived > 0;
  listener.close();
  await server.close();
  return { serverError, serverState, serverReset };
}

Deno.test("Stack.close with lingerMs lets a closed connection finish its FIN exchange", async () => {
  const { serverError, serverState, serverReset } = await closingPair(1000);
  assert.equal(serverError, null);
  assert.equal(serverState, "CLOSED");
  assert.equal(serverReset, false, "the server's connection ended with its FIN acknowledged");
});

Deno.test("Stack.close without lingerMs resets a connection still closing", async () => {
  const { serverState, serverReset } = await closingPair(0);
  assert.equal(serverState, "CLOSED");
  assert.equal(
    serverReset,
    true,
    "the client's stack reset the connection instead of acknowledging the FIN",
  );
});

Deno.test("A stack whose device is closed under it closes itself instead of starving the event loop", async () => {
  const [a, b] = MemoryLink.pair();
  const stack = new Stack({ device: a, ipv4: "192.0.2.1/24" });
  await stack.start();
  const conn = stack.listenDatagram({ port: 7 });
  const outcome = conn.receive().then(() => null, (e: unknown) => e);
  a.close(); // the owner closes the device while the loop runs
  // A timer must still fire: before the fix the loop spun in microtasks and this never ran.
  const timerFired = await new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 20));
  assert.equal(timerFired, true);
  const error = await outcome;
  assert.ok(error instanceof UdpError && error.code === "Closed", `receive got ${error}`);
  assert.equal(stack.closed, true);
  assert.equal(stack.loopStats.deviceClosed, true);
  await stack.close(); // idempotent, resolves
  b.close();
});
