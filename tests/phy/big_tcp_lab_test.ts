/**
 * Linux BIG TCP toward rawstack (issue 18): a kernel sender whose interface allows TSO frames
 * above 64 KiB (`gso_max_size` for IPv6, `gso_ipv4_max_size` for IPv4) hands them over the
 * veth whole; an AfPacketDevice whose ring slots take them (`rxMaxFrameBytes`) receives them
 * (`rxBigSuperFrames`), the IP layers read their lengths from the frame (IPv6: RFC 2675
 * jumbogram with the Hop-by-Hop Jumbo Payload option, as 6.18 inserts it; IPv4: Total Length
 * 0), and the bytes arrive exact (SHA-256).
 */
import assert from "node:assert/strict";
import { LAB_PEER_ADDRESS6, LAB_STACK_ADDRESS6, labTest } from "../../src/testing/lab.ts";
import { Lab } from "../../src/testing/lab.ts";
import { Stack } from "../../src/stack.ts";
import { bulkData, readToEnd, sha256Hex, waitPeerTcpPort } from "../lab/_tcp_lab_helpers.ts";

const PREFIX = "rsbt";
const COMMANDS = ["socat", "python3"];
const BULK_BYTES = 24 << 20;
/** The kernel sender's largest TSO frame (IP packet), above 64 KiB. */
const SENDER_GSO_BYTES = 196608;
/** Ring slots for the sender's frames: its largest + the Ethernet header (+ slack). */
const RX_MAX_FRAME_BYTES = SENDER_GSO_BYTES + 64;
/** socat's read/write size: 256 KiB writes let the sender fill 192 KiB TSO frames. */
const SOCAT_BLOCK_BYTES = 262144;
async function transfer(
  lab: Lab,
  stack: Stack,
  hostname: string,
  port: number,
  dir: string,
): Promise<void> {
  const data = bulkData(BULK_BYTES, port);
  const file = `${dir}/down-${port}.bin`;
  await Deno.writeFile(file, data);
  const v6 = hostname.includes(":");
  const socat = lab.spawnInPeer([
    "socat",
    "-u",
    "-b",
    String(SOCAT_BLOCK_BYTES),
    `OPEN:${file}`,
    `${v6 ? "TCP6" : "TCP"}-LISTEN:${port},reuseaddr`,
  ]);
  await waitPeerTcpPort(lab, port);
  const conn = await stack.connect({ hostname, port });
  const got = await readToEnd(conn);
  conn.close();
  assert.equal(got.length, data.length);
  assert.equal(await sha256Hex(got), await sha256Hex(data));
  assert.equal((await socat.finished()).code, 0, "socat exits 0");
  await Deno.remove(file);
}

labTest(
  "AfPacketDevice BIG TCP behaviour: a kernel sender's TSO frames above 64 KiB arrive whole over IPv6 and IPv4, byte-exact",
  async () => {
    const lab = await Lab.create({ prefix: PREFIX, peerOffloads: true, ipv6: true });
    const dir = await Deno.makeTempDir({ prefix: `${PREFIX}-` });
    let stack: Stack | null = null;
    try {
      await lab.setPeerGsoMaxSize(SENDER_GSO_BYTES);
      const dev = await lab.openDevice({ rxMaxFrameBytes: RX_MAX_FRAME_BYTES });
      // Slots of 256 KiB: the default frameCount keeps the ring within 32 MiB (128 of them).
      assert.ok(dev.stats.ringBytes <= 32 << 20, `ring ${dev.stats.ringBytes}`);
      assert.ok(dev.stats.ringSlotBytes >= RX_MAX_FRAME_BYTES, `slot ${dev.stats.ringSlotBytes}`);
      stack = new Stack({
        device: dev,
        ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
        ipv6: `${LAB_STACK_ADDRESS6}/64`,
        ipv6Options: { addressOptions: { dadTransmits: 0, maxDadDelayMs: 0 } },
        gateway: lab.peerAddress,
      });
      await stack.start();

      await transfer(lab, stack, LAB_PEER_ADDRESS6, 5011, dir);
      const six = stack.stats().ipv6!;
      const bigAfterV6 = dev.stats.rxBigSuperFrames;
      assert.ok(six.rxJumbograms > 0, `jumbograms: ${JSON.stringify(six)}`);
      assert.equal(six.rxBadJumbograms, 0);
      assert.ok(bigAfterV6 >= six.rxJumbograms, `big super-frames ${bigAfterV6}`);

      await transfer(lab, stack, lab.peerAddress, 5012, dir);
      const four = stack.stats().ipv4;
      assert.ok(four.rxBigTcp > 0, `IPv4 big TCP: ${JSON.stringify(four)}`);
      assert.ok(dev.stats.rxBigSuperFrames > bigAfterV6);
      assert.equal(dev.stats.rxTruncated, 0);
      assert.equal(stack.stats().tcp.malformed, 0);
    } finally {
      if (stack !== null) await stack.close();
      await lab.destroy();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
  { commands: COMMANDS },
);
