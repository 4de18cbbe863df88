/**
 * Runs in a child process inside the test's namespace (tun6_lab_test.ts): opens
 * the TUN device there, starts an IPv6-only stack on it, pings the kernel on the
 * other side (`ping <replies>`), and serves two TCP ports (`_tun_serve.ts`): 5001
 * reads everything and prints `rx <sha256> <bytes>`; 5002 writes SEND_BYTES of
 * `bytesOf(n, 2)` and closes. Prints `ready` once started, `stats <json>` and
 * `done` at the end; exits after 60 s.
 *
 * Usage: deno run --allow-ffi --allow-read _tun6_child.ts NAME CIDR6 PEER6 SEND_BYTES [vnet]
 */
import { TunDevice } from "../../src/phy/tun_tap.ts";
import { Stack } from "../../src/stack.ts";
import { BulkPorts, say } from "./_tun_serve.ts";

/** Single echoes tried while the kernel side comes up. */
const WARM_UP_PINGS = 10;

const [name, cidr, peer, sendText, flag] = Deno.args;

const device = await TunDevice.open(name, { vnetHeader: flag === "vnet" });
const stack = new Stack({ device, ipv6: cidr });
await stack.start();
say(`addresses ${JSON.stringify(stack.addresses().map((a) => [a.address, a.state]))}`);
const ports = new BulkPorts(stack, Number(sendText), 60_000);

// The kernel brings its side's IPv6 route up when the carrier comes (our open): an echo
// sent before that is dropped there, so wait for one answer before the counted three.
for (let tries = 0; tries < WARM_UP_PINGS; tries++) {
  if ((await stack.ping(peer, { count: 1, timeoutMs: 500 })).replies.length > 0) break;
}
const ping = await stack.ping(peer, { count: 3, intervalMs: 100, timeoutMs: 3000 });
say(`ping ${ping.replies.length}`);
await ports.serve();
say(`stats ${JSON.stringify({ device: device.stats, ipv6: stack.iface.ipv6!.stats })}`);
ports.close();
await stack.close();
say("done");
