/**
 * Runs in a child process as an unprivileged user (tun_tap_lab_test.ts):
 * opens a TAP or TUN device the test made for that user, starts a stack on
 * it, and serves two TCP ports (`_tun_serve.ts`): 5001 reads everything and
 * prints `rx <sha256> <bytes>`; 5002 writes SEND_BYTES of `bytesOf(n, 2)` and
 * closes. Prints `ready` once started, `stats <json>` and `done` when both ran;
 * exits after 60 s.
 *
 * Usage: deno run --allow-ffi --allow-read _tun_tap_child.ts tap|tun NAME CIDR SEND_BYTES [vnet]
 */
import { TapDevice, TunDevice } from "../../src/phy/tun_tap.ts";
import { Stack } from "../../src/stack.ts";
import { BulkPorts, say } from "./_tun_serve.ts";

const [kind, name, cidr, sendText, flag] = Deno.args;
const vnetHeader = flag === "vnet";

const device = kind === "tun"
  ? await TunDevice.open(name, { vnetHeader })
  : await TapDevice.open(name, { vnetHeader });
const stack = new Stack({ device, ipv4: cidr });
await stack.start();
const ports = new BulkPorts(stack, Number(sendText), 60_000);
await ports.serve();
say(`stats ${JSON.stringify(device.stats)}`);
ports.close();
await stack.close();
say("done");
