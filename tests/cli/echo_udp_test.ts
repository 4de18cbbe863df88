import assert from "node:assert/strict";
import { echoDatagrams } from "../../src/cli/tcp_commands.ts";
import { B_ADDR, stackPair, until } from "../lab/_helpers.ts";

Deno.test("echoDatagrams keeps serving after a client closed its port before the echo came back", async () => {
  const { a, b, close } = await stackPair();
  try {
    const server = b.listenDatagram({ port: 7 });
    const lines: string[] = [];
    let loopEnded = false;
    const loop = echoDatagrams(server, (line) => lines.push(line)).finally(() => loopEnded = true);
    // A client sends and closes its port at once: the echo finds the port closed, and the
    // client's stack answers it with ICMP port unreachable, which reaches the server's stack.
    const gone = a.listenDatagram({ port: 0 });
    gone.send(new Uint8Array([1]), { hostname: B_ADDR, port: 7 });
    gone.close();
    await until(() => b.stats().icmp.rxMessages >= 1, "the port unreachable at the server");
    assert.equal(a.stats().udp.rxNoPort, 1);
    assert.equal(b.stats().udp.icmpUnconnected, 1, "the unconnected server ignored it");
    // The next client is still served.
    const client = a.listenDatagram({ port: 0 });
    await client.send(new Uint8Array([2, 3]), { hostname: B_ADDR, port: 7 });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const echoed = await Promise.race([
      client.receive().then(([data]) => data),
      new Promise<null>((r) => timer = setTimeout(() => r(null), 3000)),
    ]);
    clearTimeout(timer);
    assert.deepEqual(echoed, new Uint8Array([2, 3]), "the server stopped echoing");
    assert.ok(!loopEnded);
    server.close();
    assert.equal(await loop, 2);
    assert.equal(lines.length, 2);
  } finally {
    await close();
  }
});
