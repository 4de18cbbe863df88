import assert from "node:assert/strict";
import { labTest, run, startCapture } from "../../src/testing/lab.ts";
import {
  ROUTER_LAB_A_ADDRESS,
  ROUTER_LAB_B_ADDRESS,
  ROUTER_LAB_RA_ADDRESS,
  ROUTER_LAB_RB_ADDRESS,
} from "../../src/testing/router_lab.ts";
import { Stack } from "../../src/stack.ts";
import { wordBytesOf } from "../seeded_random.ts";
import { downloadFromB, inRouterLab, uploadToB } from "./_router_helpers.ts";
import { assertCaptureClean } from "../wire/_tshark.ts";
import { GroDevice } from "../../src/phy/gro.ts";

const HTTP_PORT = 8000;
const UPLOAD_PORT = 9000;
/** Longest a transfer may take (seconds; the 4 MiB upload takes well under one). */
const TRANSFER_TIMEOUT_S = 30;

/**
 * A 4 MiB upload A → B and a 3 MiB curl download B → A through a rawstack
 * router whose link toward B cannot segment (the kernel cuts our GSO requests
 * there, so B's capture shows what our metadata asked for): byte-exact, super-frames
 * forwarded, every segment B got from A with right checksums.
 */
async function superFrameTransfers(
  prefix: string,
  peerOffloads: boolean,
  userGro: boolean,
): Promise<void> {
  await inRouterLab({ prefix, peerOffloads }, "rawstack-router-gso-", async (lab, dir, own) => {
    // The router's link toward B cannot checksum or segment: the kernel cuts our GSO
    // requests in software there, so B's capture shows what our metadata asked for.
    await lab.runIn(lab.netnsR, ["ethtool", "-K", lab.ifB, "tx", "off", "tso", "off"]);
    // vnetHeader: true sizes the ring slots for 64 KiB super-frames. With GroDevice the
    // kernel's GRO stays off on the router's links, so the merging tested is ours.
    const [da, db] = await lab.openDevices({
      vnetHeader: true,
      ...(userGro ? { kernelGro: false } : {}),
    });
    const ga = userGro ? new GroDevice(da) : null;
    const router = own(
      new Stack({
        interfaces: [
          { device: ga ?? da, ipv4: `${ROUTER_LAB_RA_ADDRESS}/24` },
          { device: userGro ? new GroDevice(db) : db, ipv4: `${ROUTER_LAB_RB_ADDRESS}/24` },
        ],
        forwarding: true,
      }),
    );
    await router.start();

    // Upload A → B (A's super-frames, segmented by the kernel behind rb), captured at B.
    const up = wordBytesOf(4 * 1024 * 1024 + 3, 41);
    const pcap = `${dir}/b.pcap`;
    const cap = await startCapture(pcap, { netns: lab.netnsB, iface: "b0" });
    // A router that loses super-frames stalls the transfer: fail instead of hanging.
    await uploadToB(lab, dir, up, UPLOAD_PORT, ROUTER_LAB_B_ADDRESS, TRANSFER_TIMEOUT_S);
    await cap.stop();
    const afterUpload = router.stats().router!.forward;
    assert.ok(afterUpload.superFrames > 0, JSON.stringify(afterUpload));
    assert.equal(afterUpload.badOffload, 0);
    assert.ok(db.stats.txSuperFrames > 0);
    if (ga !== null) assert.ok(ga.groStats.merged > 0, JSON.stringify(ga.groStats));
    else assert.ok(da.stats.rxSuperFrames > 0);
    // Every segment B received from A has right IPv4 and TCP checksums (B's own ACKs leave
    // with checksums its device would fill in: not ours to check).
    const fromA = `${dir}/from_a.pcap`;
    await run(["tshark", "-r", pcap, "-Y", `ip.src == ${ROUTER_LAB_A_ADDRESS}`, "-w", fromA]);
    const summary = await assertCaptureClean(fromA, 100, {
      tcpPayloadAsData: true,
      acceptFfffChecksumFrom: ROUTER_LAB_A_ADDRESS,
    });
    // Segments, not super-frames, reached B (tcpdump may miss some at this rate).
    const lengths = summary.split("\n").map((l) => Number(/ TCP (\d+) /.exec(l)?.[1] ?? 0));
    assert.ok(lengths.filter((n) => n > 1000).length > 500, `${lengths.length} packets`);
    assert.ok(Math.max(...lengths) <= 1514, `a frame of ${Math.max(...lengths)} bytes`);

    // Download B → A with curl: B's super-frames, handed on whole to A (ra keeps TSO on).
    const file = wordBytesOf(3 * 1024 * 1024 + 17, 42);
    await downloadFromB(lab, dir, file, HTTP_PORT, ROUTER_LAB_B_ADDRESS, ROUTER_LAB_B_ADDRESS);
    assert.ok(da.stats.txSuperFrames > 0);
    const f = router.stats().router!.forward;
    assert.ok(f.superFrames > afterUpload.superFrames, JSON.stringify(f));
    assert.equal(f.fragNeeded, 0);
    assert.equal(f.badOffload, 0);
  });
}

const COMMANDS = ["socat", "curl", "python3", "ss", "tcpdump", "tshark"];

labTest(
  "Router lab, hosts' TSO on: super-frames cross the router whole both ways, byte-exact, and segment into clean checksums",
  () => superFrameTransfers("rsrg", true, false),
  { commands: COMMANDS },
);

labTest(
  "Router lab, hosts' offloads off, GroDevice on the router: merged super-frames, byte-exact, clean checksums at B",
  () => superFrameTransfers("rsrgu", false, true),
  { commands: COMMANDS },
);
