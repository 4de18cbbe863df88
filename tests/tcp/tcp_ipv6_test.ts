import assert from "node:assert/strict";
import { ConnectionRefused } from "../../src/tcp/errors.ts";
import { withPair6 } from "../ipv6_pair.ts";
import { Ipv6Address } from "../../src/wire/ipv6_address.ts";
import { icmpv6, ipv6Packet } from "../iface/_ipv6_helpers.ts";

/** Reads until EOF while stepping the clock. */
async function readAll(
  conn: { read(b: Uint8Array): Promise<number | null> },
  step: (ms: number) => void,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const p = conn.read(buf);
    let n: number | null | undefined;
    p.then((v) => (n = v));
    for (let i = 0; i < 200 && n === undefined; i++) {
      await Promise.resolve();
      step(10);
      await new Promise((r) => setTimeout(r, 0));
    }
    n = await p;
    if (n === null) break;
    parts.push(buf.slice(0, n));
  }
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Settles `p` while stepping the clock. */
async function drive<T>(p: Promise<T>, step: (ms: number) => void): Promise<T> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  for (let i = 0; i < 500 && !done; i++) {
    step(10);
    await new Promise((r) => setTimeout(r, 0));
  }
  return await p;
}

function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >>> 8)) & 0xff;
  return b;
}

Deno.test("TcpLayer behaviour: IPv6 only — handshake, bulk both ways, Deno-shaped addresses, MSS = MTU − 60", async () => {
  await withPair6(
    { ipv6: "2001:db8:1::2/64" },
    { ipv6: "2001:db8:1::1/64" },
    async ({ a, b, step }) => {
      const listener = b.listen({ port: 8000 });
      assert.equal(listener.addr.hostname, "::");
      const accepted = listener.accept();
      const client = await drive(a.connect({ hostname: "2001:db8:1::1", port: 8000 }), step);
      const server = await drive(accepted, step);
      assert.deepEqual(client.remoteAddr, {
        transport: "tcp",
        hostname: "2001:db8:1::1",
        port: 8000,
      });
      assert.equal(server.remoteAddr.hostname, "2001:db8:1::2");
      assert.equal(server.localAddr.hostname, "2001:db8:1::1");
      // RFC 8200 §8.3: MSS = path MTU − 60; timestamps take 12 of it.
      assert.equal(a.tcp.connections()[0].info().sndMss, 1500 - 60 - 12);
      const up = pattern(300_000);
      const down = pattern(200_000).reverse();
      const w1 = client.write(up).then(() => client.closeWrite());
      const w2 = server.write(down).then(() => server.closeWrite());
      const [gotUp, gotDown] = await Promise.all([readAll(server, step), readAll(client, step)]);
      await Promise.all([w1, w2]);
      assert.deepEqual(gotUp, up);
      assert.deepEqual(gotDown, down);
      assert.ok(b.stats().tcp.segmentsIn > 100);
      client.close();
      server.close();
      listener.close();
    },
  );
});

Deno.test("TcpLayer behaviour: a closed IPv6 port answers RST (connect refused); an IPv4-bound listener refuses IPv6", async () => {
  await withPair6(
    { ipv4: "192.0.2.2/24", ipv6: "2001:db8:1::2/64" },
    { ipv4: "192.0.2.1/24", ipv6: "2001:db8:1::1/64" },
    async ({ a, b, step }) => {
      await assert.rejects(
        drive(a.connect({ hostname: "2001:db8:1::1", port: 9 }), step),
        ConnectionRefused,
      );
      const v4 = b.listen({ port: 81, hostname: "192.0.2.1" });
      await assert.rejects(
        drive(a.connect({ hostname: "[2001:db8:1::1]", port: 81 }), step),
        ConnectionRefused,
      );
      assert.ok(b.stats().tcp.resetsSent >= 2);
      v4.close();
    },
  );
});

Deno.test("TcpLayer behaviour: dual stack — one wildcard listener accepts both families", async () => {
  await withPair6(
    { ipv4: "192.0.2.2/24", ipv6: "2001:db8:1::2/64" },
    { ipv4: "192.0.2.1/24", ipv6: "2001:db8:1::1/64" },
    async ({ a, b, step }) => {
      const listener = b.listen({ port: 80 });
      assert.equal(listener.addr.hostname, "0.0.0.0");
      const c4 = await drive(a.connect({ hostname: "192.0.2.1", port: 80 }), step);
      const s4 = await drive(listener.accept(), step);
      const c6 = await drive(a.connect({ hostname: "2001:db8:1::1", port: 80 }), step);
      const s6 = await drive(listener.accept(), step);
      assert.equal(s4.remoteAddr.hostname, "192.0.2.2");
      assert.equal(s6.remoteAddr.hostname, "2001:db8:1::2");
      for (const [c, s] of [[c4, s4], [c6, s6]] as const) {
        const w = c.write(new TextEncoder().encode("hello")).then(() => c.closeWrite());
        assert.equal(new TextDecoder().decode(await readAll(s, step)), "hello");
        await w;
      }
      assert.equal(b.tcp.connectionCount6, 1);
      for (const x of [c4, s4, c6, s6]) x.close();
      listener.close();
    },
  );
});

Deno.test("TcpLayer behaviour: a Packet Too Big lowers the MSS of a live IPv6 connection to the path MTU − 60 (RFC 8201)", async () => {
  await withPair6(
    { ipv6: "2001:db8:1::2/64" },
    { ipv6: "2001:db8:1::1/64" },
    async ({ a, b, step, clock }) => {
      const listener = b.listen({ port: 8000 });
      const client = await drive(a.connect({ hostname: "2001:db8:1::1", port: 8000 }), step);
      const server = await drive(listener.accept(), step);
      const engine = a.tcp.connections()[0];
      assert.equal(engine.info().sndMss, 1440 - 12);
      // Data in flight: the engine takes an ICMP error only for a segment between SND.UNA and
      // SND.NXT (RFC 5927 §4.1, as Linux tcp_v4_err/tcp_v6_err do).
      const w = client.write(pattern(20_000)).then(() => client.closeWrite());
      assert.ok(engine.info().sndNxt !== engine.info().sndUna, "data in flight");
      // The quote: the first unacknowledged segment, at ISS+1 = SND.UNA.
      const me = Ipv6Address.parse("2001:db8:1::2");
      const peer = Ipv6Address.parse("2001:db8:1::1");
      const tcp = new Uint8Array(20);
      new DataView(tcp.buffer).setUint16(0, client.localAddr.port);
      new DataView(tcp.buffer).setUint16(2, 8000);
      new DataView(tcp.buffer).setInt32(4, (engine.iss + 1) | 0);
      const quote = ipv6Packet({ src: me, dst: peer, nextHeader: 6, payload: tcp });
      const router = Ipv6Address.parse("2001:db8:1::1");
      const ptb = icmpv6(router, me, 2, 0, 1280, quote);
      const pkt = ipv6Packet({ src: router, dst: me, nextHeader: 58, payload: ptb });
      a.iface.ipv6!.input(clock.now(), pkt, 0, pkt.length);
      assert.equal(engine.info().sndMss, 1280 - 60 - 12);
      assert.equal(a.iface.ipv6!.pathMtu(peer), 1280);
      // Data still flows, in segments that fit 1280.
      assert.deepEqual(await readAll(server, step), pattern(20_000));
      await w;
      client.close();
      server.close();
      listener.close();
    },
  );
});

Deno.test("TcpLayer behaviour: SYN cookies over IPv6 — a full SYN queue answers with a cookie that completes the handshake", async () => {
  await withPair6(
    { ipv6: "2001:db8:1::2/64" },
    { ipv6: "2001:db8:1::1/64" },
    ({ a, b, step }) => {
      const listener = b.tcp.listen(7000, 1);
      // The application accepts at once, so only the SYN queue (bound 1) fills.
      const accepted: unknown[] = [];
      listener.events = { onAcceptable: (l) => accepted.push(l.accept()) };
      const peer = Ipv6Address.parse("2001:db8:1::1");
      // Both SYNs arrive before any handshake completes: the second finds the SYN queue full.
      const c1 = a.tcp.connect6(a.nowMs(), peer, 7000);
      const c2 = a.tcp.connect6(a.nowMs(), peer, 7000);
      a.afterSend();
      step(300);
      assert.equal(c1.stateName, "ESTABLISHED");
      assert.equal(c2.stateName, "ESTABLISHED");
      const s = b.tcp.stats;
      assert.equal(s.synCookiesSent, 1);
      assert.equal(s.synCookiesAccepted, 1);
      assert.equal(accepted.length, 2);
      // Different 4-tuples get unrelated ISNs (RFC 6528 keyed hash of the IPv6 4-tuple).
      assert.notEqual(c1.iss, c2.iss);
    },
  );
});

/** 300 kB from a to b over IPv6; returns b's coalescing counters. */
async function coalescedOver6(rxChecksumValid: boolean): Promise<[number, number]> {
  return await withPair6(
    { ipv6: "2001:db8:1::2/64" },
    { ipv6: "2001:db8:1::1/64" },
    { rxChecksumValid },
    async ({ a, b, step }) => {
      const listener = b.listen({ port: 8001 });
      const accepted = listener.accept();
      const client = await drive(a.connect({ hostname: "2001:db8:1::1", port: 8001 }), step);
      const server = await drive(accepted, step);
      const up = pattern(300_000);
      const w = client.write(up).then(() => client.closeWrite());
      const got = await readAll(server, step);
      await drive(w, step);
      assert.deepEqual(got, up);
      const tcp = b.stats().tcp;
      return [tcp.rxCoalescedRuns, tcp.rxCoalescedSegments];
    },
  );
}

Deno.test("TcpLayer behaviour: in-order IPv6 segments whose checksum the device vouched for are coalesced into runs; others take the full path", async () => {
  const [runs, segments] = await coalescedOver6(true);
  assert.ok(runs > 0 && segments > runs, `runs ${runs}, segments ${segments}`);
  assert.deepEqual(await coalescedOver6(false), [0, 0]);
});
