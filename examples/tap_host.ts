// deno run --allow-ffi --allow-read examples/tap_host.ts tap0 192.0.2.2/24
/**
 * A host on a TAP device: rawstack answers ping and echoes UDP on port 7
 * over `/dev/net/tun`, with no AF_PACKET and — for a persistent tap owned
 * by your user — no root at all. Root creates the tap once:
 *
 * ```sh
 * sudo ip tuntap add dev tap0 mode tap user $USER
 * sudo ip addr add 192.0.2.1/24 dev tap0 && sudo ip link set tap0 up
 * ```
 *
 * (or `rawstack lab up --tap $USER`), then run this as yourself and try
 * `ping 192.0.2.2` and `echo hi | socat - UDP:192.0.2.2:7` from the host.
 * Ctrl-C stops it and prints the counters.
 *
 * @module
 */

import { formatNetAddr, Stack, TapDevice } from "../mod.ts";

const [name, ipv4 = "192.0.2.2/24"] = Deno.args;
if (name === undefined) {
  console.error("usage: examples/tap_host.ts TAP [ADDRESS/PREFIX]   e.g. tap0 192.0.2.2/24");
  Deno.exit(2);
}
const device = await TapDevice.open(name);
const stack = new Stack({ device, ipv4 });
await stack.start();
const conn = stack.listenDatagram({ port: 7 });
console.log(`${stack.address} on ${name}: answering ping, echoing UDP on port 7 (Ctrl-C to stop)`);
Deno.addSignalListener("SIGINT", () => conn.close());
for await (const [data, from] of conn) {
  console.log(`${data.length} bytes from ${formatNetAddr(from)}`);
  await conn.send(data, from).catch((e) => console.error(e));
}
const s = stack.stats();
console.log(`icmp echo replies ${s.icmp.txEchoReplies}, udp rx ${s.udp.rxDatagrams}`);
await stack.close();
