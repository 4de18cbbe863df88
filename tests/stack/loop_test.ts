import assert from "node:assert/strict";
import { Stack } from "../../src/stack.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import type { Device } from "../../src/phy/device.ts";
import { ForwardingDevice } from "../phy/_forwarding_device.ts";
import { ManualClock } from "../../src/time/clock.ts";
import { A_ADDR, B_ADDR } from "../lab/_helpers.ts";

/** Time that passes at every reading (ms): a real clock never returns the same value twice. */
const TICK_MS = 0.05;

/** A clock that moves on by {@link TICK_MS} each time it is read. */
class TickingClock extends ManualClock {
  override now(): number {
    this.advance(TICK_MS);
    return super.now();
  }
}

/**
 * A's device as veth behaves: the peer's receive path runs inside our transmit (the kernel
 * handles the frame in the sender's softirq), so the peer's answer is already waiting while
 * the batch that sent the segment goes on.
 */
class PeerRunsInTransmit extends ForwardingDevice {
  peer: Stack | null = null;
  override transmit(bytes: Uint8Array, offset: number, length: number): boolean {
    const ok = this.inner.transmit(bytes, offset, length);
    this.peer?.poll();
    return ok;
  }
}

Deno.test("An ACK that arrives in the batch which sent its segment gives a real RTT sample, not 0", async () => {
  const clock = new TickingClock(1000);
  const [da, db] = MemoryLink.pair();
  const dev = new PeerRunsInTransmit(da);
  // Sequence timing only (RFC 6298 §3): timestamp echoes carry whole milliseconds.
  const tcp = { timestamps: false };
  const a = new Stack({ device: dev as Device, ipv4: `${A_ADDR}/24`, clock, tcp });
  const b = new Stack({ device: db, ipv4: `${B_ADDR}/24`, clock, tcp });
  dev.peer = b;
  const settle = () => {
    for (let i = 0; i < 1000; i++) if (a.poll() + b.poll() === 0) return;
  };
  /** Polls both stacks, letting promise chains run in between, until `p` settles. */
  const pump = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    p.then(() => done = true, () => done = true);
    for (let i = 0; i < 10_000 && !done; i++) {
      settle();
      await new Promise((r) => setTimeout(r, 0));
    }
    return await p;
  };
  try {
    await a.start();
    await b.start();
    const listener = b.listen({ port: 9 });
    const connecting = a.connect({ hostname: B_ADDR, port: 9 });
    const client = await pump(connecting);
    const server = await pump(listener.accept());
    const data = new Uint8Array(256 * 1024).fill(7);
    const writing = client.write(data);
    let received = 0;
    const buf = new Uint8Array(64 * 1024);
    while (received < data.length) {
      const n = await pump(server.read(buf));
      assert.ok(n !== null, "the server read the whole transfer");
      received += n;
    }
    await pump(writing);
    const info = client.info();
    assert.ok(info.minRttMs >= TICK_MS, `smallest RTT sample ${info.minRttMs} ms is a real one`);
    assert.ok(info.srttMs >= TICK_MS, `srtt ${info.srttMs} ms`);
    assert.ok(a.stats().tcp.seqSegmentsOut > 0);
    client.close();
    server.close();
    listener.close();
    settle();
  } finally {
    await a.close();
    await b.close();
  }
});
