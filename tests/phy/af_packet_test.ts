import assert from "node:assert/strict";
import { AfPacketDevice, type AfPacketMode } from "../../src/phy/af_packet.ts";
import { type FrameSink, isDeviceError } from "../../src/phy/device.ts";
import { Lab, labTest } from "../../src/testing/lab.ts";
import { tsharkFieldRows } from "../wire/_tshark.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";
import { packetBytes, releasePacketBytes } from "../../src/buffer/arena.ts";
import { parseIpv4, readIpv4, readMac, writeIpv4, writeMac } from "../../src/wire/address.ts";
import { type LabCapture, withLabCapture } from "../lab/_helpers.ts";

const PREFIX = "rsph";
const STACK_IP = parseIpv4("192.0.2.2")!;
const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_IPV4 = 0x0800;
const ARP_OP_REQUEST = 1;
const ARP_OP_REPLY = 2;
const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;
const IP_PROTO_ICMP = 1;
/** IEEE 802 local experimental EtherType 1: the kernel ignores it, tshark shows it as data. */
const ETHERTYPE_LOCAL_EXPERIMENTAL = 0x88b5;
const ETHERNET_HEADER_LEN = 14;
const BROADCAST_MAC = 0xffff_ffff_ffff;

/**
 * A valid Ethernet II frame (RFC 894 layout): broadcast destination, `srcMac`
 * as source (a unicast address, not the 0xff fill a group address would be),
 * the local experimental EtherType and a patterned payload.
 */
function experimentalFrame(length: number, srcMac: number, bufferLength = length): Uint8Array {
  const f = new Uint8Array(bufferLength);
  writeMac(f, 0, BROADCAST_MAC);
  writeMac(f, 6, srcMac);
  f[12] = ETHERTYPE_LOCAL_EXPERIMENTAL >> 8;
  f[13] = ETHERTYPE_LOCAL_EXPERIMENTAL & 0xff;
  for (let i = ETHERNET_HEADER_LEN; i < bufferLength; i++) f[i] = i & 0xff;
  return f;
}

/** `frame.len` and `eth.type` of every captured frame, via tshark (capture already checked). */
async function capturedFrames(cap: LabCapture): Promise<{ len: number; type: number }[]> {
  const rows = await tsharkFieldRows(cap.path, ["frame.len", "eth.type"]);
  return rows.map(([len, type]) => ({ len: Number(len), type: Number(type) }));
}

/**
 * A minimal hand-written responder: answers ARP requests for 192.0.2.2 and
 * ICMP echo requests to it, so the kernel's ping succeeds only if both RX and
 * TX through the device work.
 */
class Responder implements FrameSink {
  readonly out = new Uint8Array(2048);
  echoRequests = 0;
  arpRequests = 0;
  constructor(readonly dev: AfPacketDevice) {}

  onFrame(b: Uint8Array, o: number, n: number): void {
    if (n < 14) return;
    const type = (b[o + 12] << 8) | b[o + 13];
    const mac = this.dev.capabilities.mac;
    const out = this.out;
    if (type === ETHERTYPE_ARP && n >= 42) {
      // RFC 826: answer a request for our protocol address.
      const op = (b[o + 20] << 8) | b[o + 21];
      if (op !== ARP_OP_REQUEST || readIpv4(b, o + 38) !== STACK_IP) return;
      this.arpRequests++;
      const senderMac = readMac(b, o + 22);
      const senderIp = readIpv4(b, o + 28);
      writeMac(out, 0, senderMac);
      writeMac(out, 6, mac);
      out[12] = ETHERTYPE_ARP >> 8;
      out[13] = ETHERTYPE_ARP & 0xff;
      out.set([0, 1, 8, 0, 6, 4, 0, ARP_OP_REPLY], 14);
      writeMac(out, 22, mac);
      writeIpv4(out, 28, STACK_IP);
      writeMac(out, 32, senderMac);
      writeIpv4(out, 38, senderIp);
      assert.ok(this.dev.transmit(out, 0, 42));
    } else if (type === ETHERTYPE_IPV4 && n >= 34) {
      const ihl = (b[o + 14] & 0x0f) * 4;
      const total = (b[o + 16] << 8) | b[o + 17];
      if (b[o + 23] !== IP_PROTO_ICMP || readIpv4(b, o + 30) !== STACK_IP) return;
      if (b[o + 14 + ihl] !== ICMP_ECHO_REQUEST || total + 14 > n) return;
      this.echoRequests++;
      // RFC 792: echo reply = the request with addresses swapped, type 0, new checksum.
      out.set(b.subarray(o, o + 14 + total), 100);
      const p = 100;
      writeMac(out, p, readMac(b, o + 6));
      writeMac(out, p + 6, mac);
      writeIpv4(out, p + 26, STACK_IP);
      writeIpv4(out, p + 30, readIpv4(b, o + 26));
      out[p + 24] = 0;
      out[p + 25] = 0;
      const ipSum = internetChecksum(out, p + 14, ihl);
      out[p + 24] = ipSum >> 8;
      out[p + 25] = ipSum & 0xff;
      const icmp = p + 14 + ihl;
      out[icmp] = ICMP_ECHO_REPLY;
      out[icmp + 2] = 0;
      out[icmp + 3] = 0;
      const icmpSum = internetChecksum(out, icmp, total - ihl);
      out[icmp + 2] = icmpSum >> 8;
      out[icmp + 3] = icmpSum & 0xff;
      // Offset ≠ 0 exercises the address + offset transmit path.
      assert.ok(this.dev.transmit(out, p, 14 + total));
    }
  }
}

async function pingThroughDevice(lab: Lab, dev: AfPacketDevice): Promise<Responder> {
  const responder = new Responder(dev);
  const ping = lab.spawnInPeer(["ping", "-c", "3", "-i", "0.2", "-W", "2", "192.0.2.2"]);
  let done = false;
  const finished = ping.finished().then((r) => {
    done = true;
    return r;
  });
  while (!done) {
    await dev.wait(50);
    dev.receive(responder, 64);
  }
  const result = await finished;
  assert.equal(result.code, 0, `ping failed: ${result.stdout}${result.stderr}`);
  assert.match(result.stdout, /3 packets transmitted, 3 received/);
  return responder;
}

for (const mode of ["ring-v3", "ring-v2", "socket"] as AfPacketMode[]) {
  labTest(`AfPacketDevice (${mode}) answers the kernel's ARP and ping`, async () => {
    await withLabCapture({ prefix: PREFIX }, async (lab, cap) => {
      const dev = await lab.openDevice({ mode, spinMicros: 20 });
      assert.equal(dev.mode, mode);
      assert.equal(dev.capabilities.name, "rs0");
      assert.equal(dev.capabilities.mtu, 1500);
      assert.ok(dev.capabilities.mac > 0);
      const responder = await pingThroughDevice(lab, dev);
      assert.equal(responder.echoRequests, 3);
      assert.ok(responder.arpRequests >= 1);
      const stats = dev.stats;
      assert.ok(stats.rxFrames >= 4);
      assert.ok(stats.txFrames >= 4);
      assert.equal(stats.txDropped, 0);
      assert.equal(stats.ringDrops, 0);
      dev.close();
      assert.equal(dev.receive(responder, 10), 0);
      // ARP request + reply, 3 echo requests + 3 hand-built replies, all well-formed.
      const summary = await cap.check(8);
      assert.equal(summary.match(/Echo \(ping\) reply/g)?.length, 3, summary);
      assert.match(summary, /192\.0\.2\.2 is at /);
    });
  }, { commands: ["ping", "tcpdump", "tshark"] });
}

labTest("AfPacketDevice.open reports an unknown interface as no-such-device", async () => {
  await withLabCapture({ prefix: PREFIX }, async (lab, cap) => {
    await assert.rejects(
      AfPacketDevice.open("rsnope0", { netns: lab.stackNetns }),
      (e) => isDeviceError(e, "no-such-device") && /rsnope0/.test(e.message) && e.errno === 19,
    );
    await assert.rejects(
      AfPacketDevice.open("rs0", { netns: `${PREFIX}-no-such-netns` }),
      (e) => isDeviceError(e, "no-such-device"),
    );
    assert.equal(await cap.check(0), "", "a failed open put frames on the wire");
  });
}, { commands: ["tcpdump", "tshark"] });

labTest("AfPacketDevice.open reports a down interface as interface-down", async () => {
  await withLabCapture({ prefix: PREFIX }, async (lab, cap) => {
    await lab.runIn(lab.stackNetns, ["ip", "link", "set", "rs0", "down"]);
    await assert.rejects(
      lab.openDevice(),
      (e) => isDeviceError(e, "interface-down") && /ip link set rs0 up/.test(e.message),
    );
    assert.equal(await cap.check(0), "", "a failed open put frames on the wire");
  });
}, { commands: ["tcpdump", "tshark"] });

labTest("AfPacketDevice transmit refuses frames larger than MTU + 14 and counts them", async () => {
  const mtu = 1400;
  await withLabCapture({ prefix: PREFIX, mtu }, async (lab, cap) => {
    const dev = await lab.openDevice({ mode: "socket" });
    assert.equal(dev.capabilities.mtu, mtu);
    const maxFrame = mtu + ETHERNET_HEADER_LEN;
    const big = experimentalFrame(maxFrame + 1, dev.capabilities.mac, 2000);
    assert.equal(dev.transmit(big, 0, maxFrame + 1), false);
    assert.equal(dev.stats.txTooLarge, 1);
    assert.equal(dev.stats.txDropped, 1);
    assert.ok(dev.transmit(big, 0, maxFrame));
    assert.equal(dev.transmit(big, 1990, 60), false); // out of bounds: refused, not read
    assert.equal(dev.stats.txFrames, 1);
    dev.close();
    assert.equal(dev.transmit(big, 0, 60), false);
    // Only the one accepted frame reached the wire, whole and well-formed.
    await cap.check(1);
    assert.deepEqual(await capturedFrames(cap), [
      { len: maxFrame, type: ETHERTYPE_LOCAL_EXPERIMENTAL },
    ]);
  });
}, { commands: ["tcpdump", "tshark"] });

labTest("AfPacketDevice sends each frame from its own buffer, offset and length", async () => {
  // transmit() reuses its 64-bit arguments while the buffer, offset and length repeat: a change
  // of any one of them must reach the wire. The peer's bare device reads back every frame.
  await withLabCapture({ prefix: PREFIX }, async (lab, cap) => {
    const dev = await lab.openDevice({ mode: "socket" });
    const peer = await AfPacketDevice.open(lab.peerIf, { netns: lab.peerNetns, mode: "socket" });
    const a = experimentalFrame(300, dev.capabilities.mac, 600);
    const b = experimentalFrame(300, dev.capabilities.mac, 600);
    b.fill(0xab, ETHERNET_HEADER_LEN);
    a.set(a.subarray(0, ETHERNET_HEADER_LEN), 100); // a second header inside a, at offset 100
    const sends: [Uint8Array, number, number][] = [
      [a, 0, 300],
      [a, 0, 300],
      [a, 0, 200],
      [a, 100, 200],
      [b, 0, 200],
      [a, 100, 200],
      [a, 0, 200],
    ];
    for (const [bytes, offset, length] of sends) assert.ok(dev.transmit(bytes, offset, length));
    const got: Uint8Array[] = [];
    const sink: FrameSink = {
      onFrame(bytes, offset, length) {
        if (bytes[offset + 12] === ETHERTYPE_LOCAL_EXPERIMENTAL >> 8) {
          got.push(bytes.slice(offset, offset + length));
        }
      },
    };
    for (let i = 0; i < 50 && got.length < sends.length; i++) {
      await peer.wait(100);
      peer.receive(sink, 64);
    }
    assert.deepEqual(
      got,
      sends.map(([bytes, offset, length]) => bytes.slice(offset, offset + length)),
    );
    dev.close();
    peer.close();
    await cap.check(sends.length);
  });
}, { commands: ["tcpdump", "tshark"] });

labTest(
  "AfPacketDevice batches arena frames into sendmmsg() in order, flushing when it must",
  async () => {
    await withLabCapture({ prefix: PREFIX }, async (lab, cap) => {
      const dev = await lab.openDevice({ mode: "socket", txBatch: 4 });
      const peer = await AfPacketDevice.open(lab.peerIf, { netns: lab.peerNetns, mode: "socket" });
      assert.equal(dev.txBatching, true);
      const frames: Uint8Array[] = [];
      for (let i = 0; i < 7; i++) {
        const f = packetBytes(100 + i); // pool slots live in the packet arena: these are staged
        f.set(experimentalFrame(100 + i, dev.capabilities.mac));
        f[ETHERNET_HEADER_LEN] = i;
        frames.push(f);
      }
      const outside = experimentalFrame(90, dev.capabilities.mac); // not in the arena: sent at once
      outside[ETHERNET_HEADER_LEN] = 0xee;
      const got: number[] = [];
      const sink: FrameSink = {
        onFrame(bytes, offset) {
          if (bytes[offset + 12] === ETHERTYPE_LOCAL_EXPERIMENTAL >> 8) {
            got.push(bytes[offset + ETHERNET_HEADER_LEN]);
          }
        },
      };
      const drain = async (n: number) => {
        for (let i = 0; i < 50 && got.length < n; i++) {
          await peer.wait(50);
          peer.receive(sink, 64);
        }
      };
      for (let i = 0; i < 3; i++) assert.ok(dev.transmit(frames[i], 0, frames[i].length));
      assert.equal(dev.txPending, 3);
      assert.equal(dev.stats.txFrames, 0, "staged frames are counted when the kernel takes them");
      await drain(1);
      assert.deepEqual(got, [], "nothing leaves before the batch is flushed");
      assert.ok(dev.transmit(frames[3], 0, frames[3].length)); // the batch is full: sent at once
      assert.equal(dev.txPending, 0);
      assert.equal(dev.stats.txFrames, 4);
      assert.ok(dev.transmit(frames[4], 0, frames[4].length));
      assert.ok(dev.transmit(outside, 0, outside.length)); // flushes frame 4 first, then itself
      assert.ok(dev.transmit(frames[5], 0, frames[5].length));
      dev.flush();
      assert.ok(dev.transmit(frames[6], 0, frames[6].length));
      dev.close(); // sends what is still staged
      await drain(8);
      assert.deepEqual(got, [0, 1, 2, 3, 4, 0xee, 5, 6]);
      assert.equal(dev.stats.txFrames, 8);
      assert.equal(dev.stats.txBytes, 7 * 100 + (0 + 1 + 2 + 3 + 4 + 5 + 6) + 90);
      assert.equal(dev.stats.txDropped, 0);
      for (const f of frames) releasePacketBytes(f);
      peer.close();
      await cap.check(8);
    });
  },
  { commands: ["tcpdump", "tshark"] },
);

labTest("AfPacketDevice.open rejects an invalid txBatch or txThreadSuperSlots", async () => {
  const lab = await Lab.create({ prefix: PREFIX });
  try {
    for (const txBatch of [-1, 1.5, 2000]) {
      await assert.rejects(
        lab.openDevice({ txBatch }),
        (e: unknown) => isDeviceError(e) && /txBatch/.test((e as Error).message),
      );
    }
    for (const txThreadSuperSlots of [-1, 2.5, 2000, NaN]) {
      await assert.rejects(
        lab.openDevice({ txThread: true, txThreadSuperSlots }),
        (e: unknown) => isDeviceError(e) && /txThreadSuperSlots/.test((e as Error).message),
      );
    }
    const plain = await lab.openDevice({ txBatch: 1 });
    assert.equal(plain.txBatching, false);
    plain.close();
  } finally {
    await lab.destroy();
  }
});

labTest("AfPacketDevice close resolves a parked wait and releases the ring", async () => {
  await withLabCapture({ prefix: PREFIX }, async (lab, cap) => {
    for (const mode of ["ring-v3", "ring-v2", "socket"] as AfPacketMode[]) {
      const dev = await lab.openDevice({ mode, spinMicros: 0 });
      const t0 = performance.now();
      const waiting = dev.wait(30_000);
      await new Promise((r) => setTimeout(r, 20));
      dev.close();
      await waiting;
      assert.ok(performance.now() - t0 < 10_000, `${mode}: wait did not resolve on close`);
      assert.equal(dev.closed, true);
      assert.equal(dev.receive({ onFrame() {} }, 10), 0);
      await dev.wait(1000); // closed: resolves at once
    }
    assert.equal(await cap.check(0), "", "opening/closing a device put frames on the wire");
  });
}, { commands: ["tcpdump", "tshark"] });

labTest("AfPacketDevice wait wakes on an arriving frame and times out when idle", async () => {
  await withLabCapture({ prefix: PREFIX }, async (lab, cap) => {
    const modes: AfPacketMode[] = ["ring-v3", "ring-v2", "socket"];
    for (const [i, mode] of modes.entries()) {
      const dev = await lab.openDevice({ mode, spinMicros: 10 });
      const t0 = performance.now();
      await dev.wait(30);
      assert.ok(performance.now() - t0 >= 25, `${mode}: idle wait returned early`);
      assert.equal(dev.receive({ onFrame() {} }, 10), 0);
      // ping makes the kernel send an ARP request at once (a fresh address per mode, so no
      // neighbour entry left from the previous round delays it).
      const ping = lab.spawnInPeer(["ping", "-c", "1", "-W", "1", `192.0.2.${10 + i}`]);
      await dev.wait(5000);
      let frames = 0;
      const t1 = performance.now();
      while (frames === 0 && performance.now() - t1 < 5000) {
        frames += dev.receive({ onFrame() {} }, 10);
        if (frames === 0) await dev.wait(100);
      }
      assert.ok(frames >= 1, `${mode}: no frame received`);
      await ping.kill();
      dev.close();
    }
    // The kernel's ARP requests (one or more per mode), nothing malformed.
    const summary = await cap.check(modes.length);
    for (const i of modes.keys()) {
      assert.match(summary, new RegExp(`Who has 192\\.0\\.2\\.${10 + i}\\?`));
    }
  });
}, { commands: ["ping", "tcpdump", "tshark"] });

labTest("AfPacketDevice does not receive frames it sent itself", async () => {
  await withLabCapture({ prefix: PREFIX }, async (lab, cap) => {
    const dev = await lab.openDevice({ mode: "ring-v2" });
    const listener = await lab.openDevice({ mode: "socket" });
    const f = experimentalFrame(60, dev.capabilities.mac);
    for (let i = 0; i < 10; i++) assert.ok(dev.transmit(f, 0, 60));
    await new Promise((r) => setTimeout(r, 50));
    // Neither this socket nor another socket on the same host sees them (outgoing).
    assert.equal(dev.receive({ onFrame() {} }, 100), 0);
    assert.equal(listener.receive({ onFrame() {} }, 100), 0);
    assert.equal(dev.stats.txFrames, 10);
    dev.close();
    listener.close();
    // ...yet all ten did go out: the peer saw them, well-formed.
    await cap.check(10);
    const frames = await capturedFrames(cap);
    assert.deepEqual(frames, Array(10).fill({ len: 60, type: ETHERTYPE_LOCAL_EXPERIMENTAL }));
  });
}, { commands: ["tcpdump", "tshark"] });

Deno.test("AfPacketDevice.open without --allow-ffi names the missing flag", async () => {
  const url = new URL("../../src/phy/af_packet.ts", import.meta.url).href;
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      script,
      `import { AfPacketDevice } from ${JSON.stringify(url)};
      try { await AfPacketDevice.open("lo"); console.log("opened"); }
      catch (e) { console.log(e.code + ": " + e.message); }`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-check", "--allow-read", script],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.match(text, /no-ffi-permission: .*--allow-ffi/);
  } finally {
    await Deno.remove(script);
  }
});
