/**
 * Runs in a child process inside the test's namespace (tun6_lab_test.ts): opens
 * the TUN device there, starts an IPv6-only stack on it, pings the kernel on the
 * other side (`ping <replies>`), and serves two TCP ports: 5001 reads everything
 * and prints `rx <sha256> <bytes>`; 5002 writes SEND_BYTES of `bytesOf(n, 2)` and
 * closes. Prints `ready` once started, `stats <json>` and `done` at the end;
 * exits after 60 s.
 *
 * Usage: deno run --allow-ffi --allow-read _tun6_child.ts NAME CIDR6 PEER6 SEND_BYTES [vnet]
 */
import { TunDevice } from "../../src/phy/tun_tap.ts";
import { Stack } from "../../src/stack.ts";
import { bytesOf } from "../seeded_random.ts";

const [name, cidr, peer, sendText, flag] = Deno.args;
const sendBytes = Number(sendText);
const encoder = new TextEncoder();
const say = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));

const device = await TunDevice.open(name, { vnetHeader: flag === "vnet" });
const stack = new Stack({ device, ipv6: cidr });
await stack.start();
say(`addresses ${JSON.stringify(stack.addresses().map((a) => [a.address, a.state]))}`);
const sink = stack.listen({ port: 5001 });
const source = stack.listen({ port: 5002 });
say("ready");
const timer = setTimeout(() => {
  say("timeout");
  Deno.exit(3);
}, 60_000);

async function receiveAll(): Promise<void> {
  const conn = await sink.accept();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
    total += n;
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  say(`rx ${Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")} ${total}`);
  conn.close();
}

async function sendAll(): Promise<void> {
  const conn = await source.accept();
  const data = bytesOf(sendBytes, 2);
  for (let off = 0; off < data.length; off += 65536) {
    await conn.write(data.subarray(off, Math.min(data.length, off + 65536)));
  }
  await conn.closeWrite();
  await conn.read(new Uint8Array(16)); // the peer's FIN
  conn.close();
  say("sent");
}

const ping = await stack.ping(peer, { count: 3, intervalMs: 100 });
say(`ping ${ping.replies.length}`);
await Promise.all([receiveAll(), sendAll()]);
say(`stats ${JSON.stringify({ device: device.stats, ipv6: stack.iface.ipv6!.stats })}`);
clearTimeout(timer);
sink.close();
source.close();
await stack.close();
say("done");
