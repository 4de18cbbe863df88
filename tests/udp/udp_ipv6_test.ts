import assert from "node:assert/strict";
import { UdpError, UdpLayer } from "../../src/udp/udp_layer.ts";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import { ipv6AddressSum } from "../../src/wire/checksum.ts";
import { UdpRepr } from "../../src/wire/udp.ts";
import { withPair6 } from "../ipv6_pair.ts";

Deno.test("UdpLayer behaviour: IPv6 only — datagrams both ways, Deno-shaped addresses, fragments", async () => {
  await withPair6(
    { ipv6: "2001:db8:1::2/64" },
    { ipv6: "2001:db8:1::1/64" },
    async ({ a, b, step, settle }) => {
      const server = b.listenDatagram({ port: 7 });
      assert.equal(server.addr.hostname, "::");
      const client = a.listenDatagram({ port: 0, hostname: "2001:db8:1::2" });
      assert.equal(client.addr.hostname, "2001:db8:1::2");
      const got = server.receive();
      await client.send(new Uint8Array([1, 2, 3]), { hostname: "2001:db8:1::1", port: 7 });
      step(200);
      const [data, from] = await got;
      assert.deepEqual([...data], [1, 2, 3]);
      assert.deepEqual(from, {
        transport: "udp",
        hostname: "2001:db8:1::2",
        port: client.addr.port,
      });
      // A reply of 3000 bytes is fragmented (RFC 8200 §5) and reassembled.
      const back = client.receive();
      await server.send(new Uint8Array(3000).fill(9), {
        hostname: "[2001:db8:1::2]",
        port: from.port,
      });
      step(200);
      settle();
      const [reply, replyFrom] = await back;
      assert.equal(reply.length, 3000);
      assert.equal(replyFrom.hostname, "2001:db8:1::1");
      assert.equal(a.stats().udp.rxDatagrams6, 1);
      assert.equal(b.stats().udp.txDatagrams6, 1);
    },
  );
});

Deno.test("UdpLayer behaviour: dual stack — a wildcard socket receives both families, an IPv4-bound one only IPv4", async () => {
  await withPair6(
    { ipv4: "192.0.2.2/24", ipv6: "2001:db8:1::2/64" },
    { ipv4: "192.0.2.1/24", ipv6: "2001:db8:1::1/64" },
    async ({ a, b, step }) => {
      const server = b.listenDatagram({ port: 9 });
      const client = a.listenDatagram({ port: 0 });
      const first = server.receive();
      await client.send(new Uint8Array([4]), { hostname: "192.0.2.1", port: 9 });
      step(200);
      assert.equal((await first)[1].hostname, "192.0.2.2");
      const second = server.receive();
      await client.send(new Uint8Array([6]), { hostname: "2001:db8:1::1", port: 9 });
      step(200);
      assert.equal((await second)[1].hostname, "2001:db8:1::2");
      server.close();
      // Bound to the IPv4 address: an IPv6 datagram finds the port closed.
      const v4only = b.listenDatagram({ port: 10, hostname: "192.0.2.1" });
      await client.send(new Uint8Array([1]), { hostname: "2001:db8:1::1", port: 10 });
      step(200);
      assert.equal(v4only.endpoint.stats.rxDatagrams, 0);
      assert.equal(b.stats().udp.rxNoPort, 1);
      assert.equal(b.stats().icmpv6!.txErrors >= 1, true);
    },
  );
});

Deno.test("UdpLayer behaviour: a connected IPv6 socket gets ICMPv6 port unreachable, an unconnected one does not", async () => {
  await withPair6(
    { ipv6: "2001:db8:1::2/64" },
    { ipv6: "2001:db8:1::1/64" },
    async ({ a, step }) => {
      const loose = a.listenDatagram({ port: 0 });
      await loose.send(new Uint8Array([1]), { hostname: "2001:db8:1::1", port: 4444 });
      step(200);
      assert.equal(a.stats().udp.icmpUnconnected, 1);
      assert.equal(loose.endpoint.pendingError, null);
      const c = a.listenDatagram({ port: 0 });
      await c.connect({ hostname: "2001:db8:1::1", port: 4444 });
      assert.deepEqual(c.remoteAddr, { transport: "udp", hostname: "2001:db8:1::1", port: 4444 });
      await c.send(new Uint8Array([1]));
      step(200);
      await assert.rejects(
        c.receive(),
        (e) => e instanceof UdpError && e.code === "PortUnreachable",
      );
      assert.equal(a.stats().udp.icmpErrors, 1);
    },
  );
});

Deno.test("UdpLayer behaviour: a zero checksum over IPv6 is dropped and counted (RFC 8200 §8.1)", () => {
  const udp = new UdpLayer({
    allocate: () => null,
    send: () => false,
    sourceAddressFor: () => 0,
    mtuFor: () => 1500,
  });
  const ep = udp.bind(53);
  const src = Ipv6Address.parse("2001:db8::1");
  const dst = Ipv6Address.parse("2001:db8::2");
  const d = new Uint8Array(10);
  const repr = {
    srcPort: 1000,
    dstPort: 53,
    payloadLength: 2,
    payloadOffset: 8,
    checksumAbsent: false,
  };
  UdpRepr.emit(repr, d, 0, 0, 0, { ipv6AddressSum: ipv6AddressSum(src, dst) });
  udp.onPacket6(0, src, dst, d, 0, d.length, false, false);
  assert.equal(ep.queued, 1);
  assert.equal(ep.tryReceive()!.srcAddr6, src);
  d[6] = 0;
  d[7] = 0;
  udp.onPacket6(0, src, dst, d, 0, d.length, false, false);
  assert.equal(ep.queued, 0);
  assert.equal(udp.stats.rxZeroChecksum6, 1);
  // The same datagram over IPv4 (zero = no checksum, RFC 768) is accepted.
  udp.onPacket(0, 0xc0000201 | 0, 0xc0000202 | 0, d, 0, d.length);
  assert.equal(ep.queued, 1);
});
