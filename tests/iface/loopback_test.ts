/**
 * Local delivery: datagrams a host sends to its own address loop back to its
 * IPv4 input from `poll` (RFC 1122 §3.3.5) and never reach the device.
 *
 * @module
 */

import assert from "node:assert/strict";
import { NetworkInterface } from "../../src/iface/interface.ts";
import type { IpProtocolHandler } from "../../src/iface/types.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import { BufferPool } from "../../src/buffer/buffer_pool.ts";
import { Stack } from "../../src/stack.ts";
import { IP_A, IP_B, RecordingDevice } from "./_helpers.ts";

/** An unassigned protocol number (RFC 3692 experimentation) for a recording handler. */
const TEST_PROTOCOL = 253;
const OWN = "192.0.2.2";

/** A stack on one end of a memory link (the other end stays silent). */
async function soloStack() {
  const [da, db] = MemoryLink.pair();
  const s = new Stack({ device: da, ipv4: `${OWN}/24` });
  await s.start();
  return {
    s,
    da,
    close: async () => {
      await s.close();
      db.close();
    },
  };
}

interface Received {
  src: number;
  dst: number;
  data: number[];
  verified: boolean | undefined;
}

/** A handler recording what it gets; `onEach` runs inside onPacket. */
function recorder(onEach?: () => void): IpProtocolHandler & { got: Received[] } {
  const got: Received[] = [];
  return {
    got,
    onPacket(_now, src, dst, bytes, offset, length, verified) {
      got.push({ src, dst, data: [...bytes.subarray(offset, offset + length)], verified });
      onEach?.();
    },
  };
}

function sendBytes(iface: NetworkInterface, dst: number, data: number[]): boolean {
  const buf = iface.allocate()!;
  const at = buf.append(data.length);
  buf.bytes.set(data, at);
  return iface.send(buf, dst, TEST_PROTOCOL);
}

Deno.test("NetworkInterface delivers a datagram to its own address from poll, not the device", () => {
  const dev = new RecordingDevice();
  const pool = new BufferPool({ slots: 16 });
  const iface = new NetworkInterface(dev, { ipv4: "192.0.2.10/24", pool });
  const h = recorder();
  iface.registerProtocol(TEST_PROTOCOL, h);
  assert.equal(iface.nextDeadline(), Infinity);
  assert.ok(sendBytes(iface, IP_A, [1, 2, 3]));
  // Queued, not delivered synchronously (no re-entrancy into the sender).
  assert.equal(h.got.length, 0);
  assert.equal(iface.ipv4.localQueued, 1);
  assert.equal(iface.nextDeadline(), 0);
  assert.equal(pool.inUse, 1);
  iface.poll(5);
  assert.deepEqual(h.got, [{ src: IP_A, dst: IP_A, data: [1, 2, 3], verified: true }]);
  assert.equal(pool.inUse, 0);
  assert.equal(iface.nextDeadline(), Infinity);
  assert.equal(dev.frames.length, 0);
  assert.equal(dev.stats.txFrames, 0);
  assert.equal(iface.stats.txFrames, 0);
  assert.equal(iface.ipv4.stats.txLocal, 1);
  assert.equal(iface.ipv4.stats.rxLocal, 1);
  assert.equal(iface.ipv4.stats.rxDelivered, 1);
  assert.equal(iface.arp.stats.requestsSent, 0);
  // Another host's address still goes out (through ARP).
  assert.ok(sendBytes(iface, IP_B, [4]));
  assert.equal(dev.frames.length, 1);
  iface.close();
});

Deno.test("NetworkInterface local queue is bounded: overflow dropped, counted and freed", () => {
  const dev = new RecordingDevice();
  const pool = new BufferPool({ slots: 16 });
  const iface = new NetworkInterface(dev, {
    ipv4: "192.0.2.10/24",
    pool,
    localQueueLength: 2,
  });
  const h = recorder();
  iface.registerProtocol(TEST_PROTOCOL, h);
  assert.ok(sendBytes(iface, IP_A, [1]));
  assert.ok(sendBytes(iface, IP_A, [2]));
  assert.equal(sendBytes(iface, IP_A, [3]), false);
  assert.equal(iface.ipv4.stats.txLocalDropped, 1);
  assert.equal(pool.inUse, 2);
  iface.poll(1);
  assert.deepEqual(h.got.map((g) => g.data), [[1], [2]]);
  assert.equal(pool.inUse, 0);
  // The ring wraps around correctly after draining.
  assert.ok(sendBytes(iface, IP_A, [4]));
  assert.ok(sendBytes(iface, IP_A, [5]));
  iface.poll(2);
  assert.deepEqual(h.got.map((g) => g.data), [[1], [2], [4], [5]]);
  assert.equal(dev.stats.txFrames, 0);
  assert.throws(
    () => new NetworkInterface(dev, { ipv4: "192.0.2.10/24", localQueueLength: 0 }),
    TypeError,
  );
  iface.close();
});

Deno.test("NetworkInterface delivers what a handler sends to itself on the next poll", () => {
  const dev = new RecordingDevice();
  const pool = new BufferPool({ slots: 16 });
  const iface = new NetworkInterface(dev, { ipv4: "192.0.2.10/24", pool });
  let bounces = 0;
  const h = recorder(() => {
    // A handler that always answers itself: each poll must make bounded progress.
    bounces++;
    sendBytes(iface, IP_A, [bounces]);
  });
  iface.registerProtocol(TEST_PROTOCOL, h);
  sendBytes(iface, IP_A, [0]);
  iface.poll(1);
  assert.equal(h.got.length, 1);
  assert.equal(iface.nextDeadline(), 0);
  iface.poll(2);
  assert.equal(h.got.length, 2);
  assert.deepEqual(h.got[1].data, [1]);
  // Closing frees what is still queued.
  assert.equal(pool.inUse, 1);
  iface.close();
  assert.equal(pool.inUse, 0);
  assert.equal(iface.ipv4.localQueued, 0);
  assert.equal(dev.stats.txFrames, 0);
});

Deno.test("Stack pings its own address without touching the device", async () => {
  const { s, da, close } = await soloStack();
  try {
    const before = da.stats.txFrames;
    const r = await s.ping(OWN, { count: 3, intervalMs: 1, timeoutMs: 1000 });
    assert.equal(r.summary.transmitted, 3);
    assert.equal(r.summary.received, 3);
    assert.deepEqual(r.replies.map((x) => x.sequence), [0, 1, 2]);
    assert.equal(da.stats.txFrames, before);
    const st = s.stats();
    assert.equal(st.ipv4.txLocal, 6); // 3 requests + 3 replies
    assert.equal(st.ipv4.rxLocal, 6);
    assert.equal(st.icmp.rxEchoRequests, 3);
    assert.equal(st.icmp.rxEchoReplies, 3);
  } finally {
    await close();
  }
});

Deno.test("Stack sends UDP to its own address", async () => {
  const { s, da, close } = await soloStack();
  try {
    const before = da.stats.txFrames;
    const server = s.listenDatagram({ port: 5353 });
    const client = s.listenDatagram({ port: 5354 });
    const payload = new TextEncoder().encode("hello me");
    await client.send(payload, { hostname: OWN, port: 5353 });
    const [data, from] = await server.receive();
    assert.deepEqual([...data], [...payload]);
    assert.equal(from.hostname, OWN);
    assert.equal(from.port, 5354);
    await server.send(data, from);
    const [back] = await client.receive();
    assert.deepEqual([...back], [...payload]);
    assert.equal(da.stats.txFrames, before);
    server.close();
    client.close();
  } finally {
    await close();
  }
});

Deno.test("Stack connects TCP to itself, echoes and closes cleanly", async () => {
  const { s, da, close } = await soloStack();
  try {
    const before = da.stats.txFrames;
    const listener = s.listen({ port: 7007 });
    const accepting = listener.accept();
    const client = await s.connect({ hostname: OWN, port: 7007 });
    const server = await accepting;
    // Enough data for several full-size segments in flight.
    const sent = new Uint8Array(100_000);
    for (let i = 0; i < sent.length; i++) sent[i] = (i * 7) & 0xff;
    const echo = (async () => {
      const buf = new Uint8Array(8192);
      for (;;) {
        const n = await server.read(buf);
        if (n === null) break;
        let off = 0;
        while (off < n) off += await server.write(buf.subarray(off, n));
      }
      await server.closeWrite();
    })();
    const writing = (async () => {
      let off = 0;
      while (off < sent.length) off += await client.write(sent.subarray(off));
      await client.closeWrite();
    })();
    const got = new Uint8Array(sent.length);
    let total = 0;
    const rbuf = new Uint8Array(16384);
    for (;;) {
      const n = await client.read(rbuf);
      if (n === null) break;
      got.set(rbuf.subarray(0, n), total);
      total += n;
    }
    await writing;
    await echo;
    assert.equal(total, sent.length);
    assert.deepEqual(got, sent);
    client.close();
    server.close();
    listener.close();
    assert.equal(da.stats.txFrames, before);
    const st = s.stats();
    assert.ok(st.ipv4.txLocal > 10);
    assert.equal(st.ipv4.txLocalDropped, 0);
  } finally {
    await close();
  }
});
