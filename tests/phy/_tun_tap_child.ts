/**
 * Runs in a child process as an unprivileged user (tun_tap_lab_test.ts):
 * opens a TAP or TUN device the test made for that user, starts a stack on
 * it, and serves two TCP ports: 5001 reads everything and prints
 * `rx <sha256> <bytes>`; 5002 writes SEND_BYTES of `bytesOf(n, 2)` and closes.
 * Prints `ready` once started, `done` when both ran; exits after `--timeout` ms.
 *
 * Usage: deno run --allow-ffi --allow-read _tun_tap_child.ts tap|tun NAME CIDR SEND_BYTES [vnet]
 */
import { TapDevice, TunDevice } from "../../src/phy/tun_tap.ts";
import { Stack } from "../../src/stack.ts";
import { bytesOf } from "../seeded_random.ts";

const [kind, name, cidr, sendText, flag] = Deno.args;
const sendBytes = Number(sendText);
const vnetHeader = flag === "vnet";
const encoder = new TextEncoder();
const say = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));

const device = kind === "tun"
  ? await TunDevice.open(name, { vnetHeader })
  : await TapDevice.open(name, { vnetHeader });
const stack = new Stack({ device, ipv4: cidr });
await stack.start();
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
  // Wait for the peer's FIN before closing.
  await conn.read(new Uint8Array(16));
  conn.close();
  say("sent");
}

await Promise.all([receiveAll(), sendAll()]);
say(`stats ${JSON.stringify(device.stats)}`);
clearTimeout(timer);
sink.close();
source.close();
await stack.close();
say("done");
