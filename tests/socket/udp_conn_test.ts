import assert from "node:assert/strict";
import { UdpError } from "../../src/udp/udp_layer.ts";
import { DnsError } from "../../src/dns/dns_error.ts";
import type { NetAddr } from "../../src/socket/addr.ts";
import { A_ADDR, B_ADDR, pattern, serveDns, stackPair, until } from "../lab/_helpers.ts";
import type { Stack } from "../../src/stack.ts";
import { ICMP_DEST_UNREACHABLE, ICMP_UNREACH_PORT } from "../../src/wire/icmp.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";
import { parseIpv4 } from "../../src/wire/address.ts";

Deno.test("UdpConn carries 1, 1472 and 65507-byte datagrams both ways", async () => {
  const { a, b, close } = await stackPair();
  try {
    const ca = a.listenDatagram({ port: 5001 });
    const cb = b.listenDatagram({ port: 5002 });
    for (const size of [1, 1472, 65507]) {
      const out = pattern(size, size);
      assert.equal(await ca.send(out, { hostname: B_ADDR, port: 5002 }), size);
      const [got, from] = await cb.receive();
      assert.equal(got.length, size);
      assert.deepEqual(got, out);
      assert.deepEqual(from, { transport: "udp", hostname: A_ADDR, port: 5001 });
      const back = pattern(size, size + 1);
      assert.equal(await cb.send(back, from), size);
      const [got2, from2] = await ca.receive();
      assert.deepEqual(got2, back);
      assert.equal(from2.port, 5002);
    }
    // 65507 bytes at MTU 1500 fragment.
    assert.ok(a.stats().ipv4.txFragments >= 45);
    assert.ok(b.stats().ipv4.rxReassembled >= 1);
  } finally {
    await close();
  }
});

Deno.test("UdpConn.connect reports ICMP port unreachable from a closed port as a typed error", async () => {
  const { a, b, close } = await stackPair();
  try {
    const c = a.listenDatagram({ port: 0 });
    assert.ok(c.addr.port >= 49152 && c.addr.port <= 65535);
    assert.equal(c.remoteAddr, null);
    await c.connect({ hostname: B_ADDR, port: 9999 });
    assert.deepEqual(c.remoteAddr, { transport: "udp", hostname: B_ADDR, port: 9999 });
    await c.send(new Uint8Array([1]));
    await assert.rejects(
      c.receive(),
      (e: unknown) =>
        e instanceof UdpError && e.code === "PortUnreachable" && e.remotePort === 9999 &&
        /connection refused/.test(e.message),
    );
    assert.equal(b.stats().udp.rxNoPort, 1);
    // The error is reported once; the socket keeps working.
    const s = b.listenDatagram({ port: 9999 });
    await c.send(new Uint8Array([2]), { hostname: B_ADDR, port: 9999 });
    assert.deepEqual((await s.receive())[0], new Uint8Array([2]));
  } finally {
    await close();
  }
});

Deno.test("UdpConn.send reports host unreachable when ARP fails", async () => {
  const { a, close } = await stackPair({ arp: { retryIntervalMs: 10, maxRequests: 2 } });
  try {
    const c = a.listenDatagram({ port: 0 });
    await c.connect({ hostname: "192.0.2.99", port: 7 });
    await c.send(new Uint8Array([1]));
    await assert.rejects(
      c.receive(),
      (e: unknown) => e instanceof UdpError && e.code === "HostUnreachable",
    );
  } finally {
    await close();
  }
});

Deno.test("UdpConn.receive(buf) copies into the caller's buffer", async () => {
  const { a, b, close } = await stackPair();
  try {
    const ca = a.listenDatagram({ port: 0 });
    const cb = b.listenDatagram({ port: 7 });
    await ca.send(pattern(100), { hostname: B_ADDR, port: 7 });
    const buf = new Uint8Array(2048);
    const [data] = await cb.receive(buf);
    assert.equal(data.buffer, buf.buffer);
    assert.equal(data.length, 100);
    assert.deepEqual(data, pattern(100));
  } finally {
    await close();
  }
});

Deno.test("UdpConn async iteration yields datagrams and ends on close", async () => {
  const { a, b, close } = await stackPair();
  try {
    const server = b.listenDatagram({ port: 7 });
    const seen: [number, NetAddr][] = [];
    const loop = (async () => {
      for await (const [data, from] of server) {
        seen.push([data[0], from]);
        if (seen.length === 3) server.close();
      }
    })();
    const c = a.listenDatagram({ port: 0 });
    for (let i = 1; i <= 3; i++) await c.send(new Uint8Array([i]), { hostname: B_ADDR, port: 7 });
    await loop;
    assert.deepEqual(seen.map((s) => s[0]), [1, 2, 3]);
    assert.equal(seen[0][1].port, c.addr.port);
    await assert.rejects(server.receive(), (e: unknown) => (e as UdpError).code === "Closed");
  } finally {
    await close();
  }
});

Deno.test("UdpConn resolves host names with the stack's resolver", async () => {
  const { a, b, close } = await stackPair({ dns: [B_ADDR] });
  try {
    serveDns(b.listenDatagram({ port: 53 }), { "echo.test": [B_ADDR] });
    const server = b.listenDatagram({ port: 7 });
    const c = a.listenDatagram({ port: 0 });
    await c.send(new Uint8Array([42]), { hostname: "echo.test", port: 7 });
    assert.deepEqual((await server.receive())[0], new Uint8Array([42]));
    await assert.rejects(
      c.send(new Uint8Array([1]), { hostname: "missing.test", port: 7 }),
      (e: unknown) => e instanceof DnsError && e.code === "NXDOMAIN",
    );
  } finally {
    await close();
  }
});

Deno.test("UdpConn validates ports, sizes and binding", async () => {
  const { a, close } = await stackPair();
  try {
    const c = a.listenDatagram({ port: 6000 });
    assert.deepEqual(c.addr, { transport: "udp", hostname: A_ADDR, port: 6000 });
    assert.throws(
      () => a.listenDatagram({ port: 6000 }),
      (e: unknown) => e instanceof UdpError && e.code === "AddressInUse",
    );
    assert.throws(() => a.listenDatagram({ port: 70000 }), TypeError);
    await assert.rejects(c.send(new Uint8Array(1), { hostname: B_ADDR, port: 0 }), TypeError);
    await assert.rejects(
      c.send(new Uint8Array(65508), { hostname: B_ADDR, port: 7 }),
      (e: unknown) => e instanceof UdpError && e.code === "MessageTooLong",
    );
    await assert.rejects(
      c.send(new Uint8Array(1), { hostname: "203.0.113.1", port: 7 }),
      (e: unknown) => e instanceof UdpError && e.code === "NoRoute",
    );
    c.close();
    await assert.rejects(
      c.send(new Uint8Array(1), { hostname: B_ADDR, port: 7 }),
      (e: unknown) => e instanceof UdpError && e.code === "Closed",
    );
    // The port is free again.
    a.listenDatagram({ port: 6000 }).close();
  } finally {
    await close();
  }
});

Deno.test("UdpConn with transmit checksum offload: the checksum left partial is completed right", async () => {
  // Over a MemoryLink with checksum offload the sender leaves the pseudo-header sum in the
  // field (CHECKSUM_PARTIAL); the receiving device completes it before a stack that verifies
  // every checksum sees the frame, so a wrong partial sum would be dropped as bad.
  const { MemoryLink } = await import("../../src/phy/memory_link.ts");
  const { Stack } = await import("../../src/stack.ts");
  const [da, db] = MemoryLink.pair({ checksumOffload: true });
  const a = new Stack({ device: da, ipv4: `${A_ADDR}/24` });
  const b = new Stack({ device: db, ipv4: `${B_ADDR}/24`, verifyChecksums: "always" });
  try {
    await a.start();
    await b.start();
    assert.equal(a.iface.txOffloads.checksum, true);
    const server = b.listenDatagram({ port: 7 });
    const client = a.listenDatagram({ port: 0 });
    for (const size of [0, 1, 2, 1472, 3000]) {
      const out = pattern(size, size + 3);
      await client.send(out, { hostname: B_ADDR, port: 7 });
      // A datagram dropped for a bad checksum never arrives: fail instead of waiting forever.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const got = await Promise.race([
        server.receive().then(([data]) => data),
        new Promise<null>((r) => timer = setTimeout(() => r(null), 2000)),
      ]);
      clearTimeout(timer);
      assert.deepEqual(got, out, `${size}-byte datagram`);
    }
    assert.ok(a.iface.stats.txOffloaded >= 3, `offloaded ${a.iface.stats.txOffloaded}`);
    assert.equal(b.stats().udp.rxBadChecksum, 0);
  } finally {
    await a.close();
    await b.close();
  }
});

/**
 * Sends, from stack `from`, a forged ICMP port unreachable to `to` quoting a UDP datagram
 * `quotedSrc:srcPort → quotedDst:dstPort` (what an attacker on the LAN, or a spoofing host
 * anywhere, can send).
 */
function forgePortUnreachable(
  from: Stack,
  to: string,
  quotedSrc: string,
  srcPort: number,
  quotedDst: string,
  dstPort: number,
): void {
  const quote = new Uint8Array(28);
  const v = new DataView(quote.buffer);
  quote[0] = 0x45;
  v.setUint16(2, 28 + 4);
  quote[8] = 64;
  quote[9] = 17;
  v.setUint32(12, parseIpv4(quotedSrc)! >>> 0);
  v.setUint32(16, parseIpv4(quotedDst)! >>> 0);
  v.setUint16(10, internetChecksum(quote, 0, 20));
  v.setUint16(20, srcPort);
  v.setUint16(22, dstPort);
  v.setUint16(24, 8 + 4);
  const icmp = new Uint8Array(8 + quote.length);
  icmp[0] = ICMP_DEST_UNREACHABLE;
  icmp[1] = ICMP_UNREACH_PORT;
  icmp.set(quote, 8);
  new DataView(icmp.buffer).setUint16(2, internetChecksum(icmp, 0, icmp.length));
  const buf = from.iface.allocate()!;
  buf.bytes.set(icmp, buf.append(icmp.length));
  assert.ok(from.iface.send(buf, parseIpv4(to)!, 1));
  from.afterSend();
}

Deno.test("UdpConn without connect keeps receiving after a forged ICMP port unreachable", async () => {
  const { a, b, close } = await stackPair();
  try {
    const server = b.listenDatagram({ port: 7 });
    // The attacker (stack a) forges "port unreachable" for a datagram the server never sent.
    forgePortUnreachable(a, B_ADDR, B_ADDR, 7, A_ADDR, 40_000);
    await until(() => b.stats().icmp.rxMessages >= 1, "the forged error at the server");
    assert.equal(b.stats().udp.icmpUnconnected, 1);
    const client = a.listenDatagram({ port: 0 });
    await client.send(new Uint8Array([9]), { hostname: B_ADDR, port: 7 });
    const [data, from] = await server.receive();
    assert.deepEqual(data, new Uint8Array([9]));
    assert.equal(from.port, client.addr.port);
  } finally {
    await close();
  }
});

Deno.test("UdpConn.connect filters peers, checks the whole quote and sends without an address", async () => {
  const { a, b, close } = await stackPair();
  try {
    const dns = b.listenDatagram({ port: 53 });
    const other = b.listenDatagram({ port: 54 });
    const u = a.listenDatagram({ port: 0 });
    await assert.rejects(
      u.send(new Uint8Array([1])),
      (e: unknown) => e instanceof UdpError && e.code === "NotConnected",
    );
    await u.connect({ hostname: B_ADDR, port: 53 });
    assert.equal(await u.send(new Uint8Array([1])), 1);
    const [, client] = await dns.receive();
    assert.equal(client.port, u.addr.port);
    await assert.rejects(
      u.send(new Uint8Array([1]), { hostname: B_ADDR, port: 54 }),
      (e: unknown) => e instanceof UdpError && e.code === "IsConnected",
    );
    // Forged errors that do not quote u's exact 4-tuple are ignored and counted.
    forgePortUnreachable(b, A_ADDR, A_ADDR, u.addr.port, B_ADDR, 54); // another remote port
    forgePortUnreachable(b, A_ADDR, "192.0.2.77", u.addr.port, B_ADDR, 53); // another source
    forgePortUnreachable(b, A_ADDR, A_ADDR, u.addr.port, "192.0.2.78", 53); // another peer
    await until(() => a.stats().icmp.rxMessages >= 3, "the forged errors at the client");
    assert.equal(a.stats().icmp.rxErrorsUnmatched, 1, "the IP layer drops a quote not from us");
    assert.equal(a.stats().udp.icmpUnmatched, 2);
    // A datagram from another port of the peer host is dropped (and answered as a closed port);
    // the peer's own datagram is delivered.
    await other.send(new Uint8Array([0xee]), client);
    await until(() => a.stats().udp.rxWrongPeer >= 1, "the wrong peer's datagram");
    assert.equal(u.endpoint.stats.rxWrongPeer, 1);
    await dns.send(new Uint8Array([0xaa]), client);
    const [answer, from] = await u.receive();
    assert.deepEqual(answer, new Uint8Array([0xaa]));
    assert.deepEqual(from, { transport: "udp", hostname: B_ADDR, port: 53 });
    await until(() => b.stats().icmp.rxMessages >= 1, "port unreachable for the wrong peer");
    assert.equal(b.stats().udp.icmpUnconnected, 1, "other's socket is unconnected: ignored");
    // The peer's port closes: the next receive rejects (ECONNREFUSED).
    dns.close();
    await u.send(new Uint8Array([2]));
    await assert.rejects(
      u.receive(),
      (e: unknown) => e instanceof UdpError && e.code === "PortUnreachable",
    );
    assert.equal(a.stats().udp.icmpErrors, 1);
    // After disconnect the socket takes datagrams from anyone again.
    u.disconnect();
    assert.equal(u.remoteAddr, null);
    await other.send(new Uint8Array([0xbb]), client);
    assert.deepEqual((await u.receive())[0], new Uint8Array([0xbb]));
    await assert.rejects(
      u.connect({ hostname: "203.0.113.1", port: 7 }),
      (e: unknown) => e instanceof UdpError && e.code === "NoRoute",
    );
    await assert.rejects(u.connect({ hostname: B_ADDR, port: 0 }), TypeError);
  } finally {
    await close();
  }
});

Deno.test("UdpConn.connect resolves a host name", async () => {
  const { a, b, close } = await stackPair({ dns: [B_ADDR] });
  try {
    serveDns(b.listenDatagram({ port: 53 }), { "echo.test": [B_ADDR] });
    const server = b.listenDatagram({ port: 7 });
    const c = a.listenDatagram({ port: 0 });
    await c.connect({ hostname: "echo.test", port: 7 });
    assert.deepEqual(c.remoteAddr, { transport: "udp", hostname: B_ADDR, port: 7 });
    await c.send(new Uint8Array([42]));
    assert.deepEqual((await server.receive())[0], new Uint8Array([42]));
  } finally {
    await close();
  }
});
