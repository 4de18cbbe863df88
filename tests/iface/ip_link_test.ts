import assert from "node:assert/strict";
import { Stack } from "../../src/stack.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import type { DeviceCapabilities } from "../../src/phy/device.ts";
import { ForwardingDevice } from "../phy/_forwarding_device.ts";
import { ManualClock } from "../../src/time/clock.ts";

const A = "192.0.2.1";
const B = "192.0.2.2";

/** A memory device that carries bare IP packets, as a TUN device does. */
class IpLinkDevice extends ForwardingDevice {
  readonly frames: Uint8Array[] = [];
  override get capabilities(): DeviceCapabilities {
    return { ...this.inner.capabilities, mac: 0, link: "ip" };
  }
  override transmit(bytes: Uint8Array, offset: number, length: number): boolean {
    this.frames.push(bytes.slice(offset, offset + length));
    return super.transmit(bytes, offset, length);
  }
}

function ipPair() {
  const clock = new ManualClock(1000);
  const [ma, mb] = MemoryLink.pair();
  const da = new IpLinkDevice(ma);
  const db = new IpLinkDevice(mb);
  const a = new Stack({ device: da, ipv4: `${A}/24`, clock });
  const b = new Stack({ device: db, ipv4: `${B}/24`, gateway: A, clock });
  const settle = () => {
    for (let i = 0; i < 100; i++) if (a.poll() + b.poll() === 0) return;
  };
  /** Steps both stacks (1 ms per turn) until `p` settles. */
  const until = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    p.then(() => done = true, () => done = true);
    for (let i = 0; i < 5000 && !done; i++) {
      await new Promise((r) => setTimeout(r, 0));
      settle();
      clock.advance(1);
    }
    return await p;
  };
  return { clock, a, b, da, db, settle, until };
}

Deno.test("NetworkInterface behaviour on an IP link: bare IPv4, no ARP, ping and TCP", async () => {
  const { a, b, da, db, settle, until } = ipPair();
  try {
    await a.start();
    await b.start();
    settle();
    const listener = b.listen({ port: 7 });
    const accepted = listener.accept();
    const conn = await until(a.connect({ hostname: B, port: 7 }));
    const server = await until(accepted);
    const data = new Uint8Array(20000).map((_, i) => (i * 7) & 0xff);
    const w = conn.write(data);
    const got = new Uint8Array(data.length);
    let n = 0;
    while (n < data.length) {
      const k = await until(server.read(got.subarray(n)));
      assert.ok(k !== null);
      n += k;
    }
    await until(w);
    assert.deepEqual(got, data);
    conn.close();
    server.close();
    listener.close();
    settle();
    // Every frame on the link is an IPv4 packet: version 4, no Ethernet header, no ARP.
    // The receiver's frames: SYN-ACK, FIN and the ACKs — one per coalesced run of segments
    // (receive coalescing, TcpLayer.beginReceiveBatch), so only a few.
    assert.ok(da.frames.length > 10 && db.frames.length > 2);
    for (const f of [...da.frames, ...db.frames]) assert.equal(f[0] >>> 4, 4);
    assert.equal(a.stats().arp.requestsSent, 0);
    assert.equal(b.stats().arp.requestsSent, 0);
    // Off-link through the gateway needs no resolution either.
    await until(b.ping("198.51.100.7", { count: 1, timeoutMs: 100 }));
    assert.ok(
      db.frames.some((f) => f[9] === 1 && f[16] === 198),
      "ICMP toward the gateway, unresolved",
    );
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("NetworkInterface behaviour on an IP link: a non-IPv4 packet is counted and dropped", async () => {
  const { a, b, db, settle } = ipPair();
  try {
    await a.start();
    await b.start();
    db.transmit(new Uint8Array(40).fill(0x60, 0, 1), 0, 40);
    settle();
    assert.equal(a.stats().link.rxUnknownEthertype, 1);
  } finally {
    await a.close();
    await b.close();
  }
});
