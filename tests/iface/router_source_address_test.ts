/**
 * Source address selection with several interfaces (RFC 1122 §3.3.4.2, the
 * weak host model): a reply to one of our addresses goes from that address,
 * even when it arrives on, and leaves by, another interface.
 */
import assert from "node:assert/strict";
import {
  B_IP,
  get16,
  get32,
  icmpEcho,
  ipChecksumOk,
  ipv4Packet,
  l4ChecksumOk,
  R0_IP,
  R1_IP,
  R1_MAC,
  tcp,
  topology,
  udp,
} from "./_router_helpers.ts";

const TCP_SYN = 0x02;
const TCP_ACK = 0x10;
const TCP_RST = 0x04;

Deno.test("Router answers a TCP connection to another interface's address from that address", async () => {
  const t = await topology();
  try {
    const listener = t.router.listen({ port: 8080 });
    const accepted = listener.accept();
    accepted.catch(() => {}); // rejected by close when an assertion fails first
    // B, on interface 1's link, connects to interface 0's address.
    t.b.send(
      ipv4Packet({
        src: B_IP,
        dst: R0_IP,
        protocol: 6,
        payload: tcp(B_IP, R0_IP, 40000, 8080, TCP_SYN),
      }),
      R1_MAC,
    );
    t.settle();
    const synAck = t.b.take();
    assert.equal(synAck.length, 1);
    const p = synAck[0];
    assert.equal(p[20 + 13] & (TCP_SYN | TCP_ACK), TCP_SYN | TCP_ACK);
    assert.equal(get32(p, 12), R0_IP); // the address B asked for, not interface 1's
    assert.equal(get32(p, 16), B_IP);
    assert.ok(ipChecksumOk(p) && l4ChecksumOk(p));
    // B completes the handshake; the connection's segments keep that source.
    const ackNumber = (get32(p, 24) + 1) | 0;
    const withAck = tcp(B_IP, R0_IP, 40000, 8080, TCP_ACK, new Uint8Array(0), 1001);
    new DataView(withAck.buffer).setInt32(8, ackNumber);
    reChecksumTcp(withAck, B_IP, R0_IP);
    t.b.send(ipv4Packet({ src: B_IP, dst: R0_IP, protocol: 6, payload: withAck }), R1_MAC);
    t.settle();
    const conn = await accepted;
    assert.equal(conn.localAddr.hostname, "198.51.100.1");
    await conn.write(new TextEncoder().encode("hello"));
    t.settle();
    const data = t.b.take().filter((d) => d[9] === 6 && get16(d, 2) > 40);
    assert.equal(data.length, 1);
    assert.equal(get32(data[0], 12), R0_IP);
    assert.ok(l4ChecksumOk(data[0]));
    conn.close();
    listener.close();
  } finally {
    await t.close();
  }
});

Deno.test("Router resets a TCP segment for no connection from the address it was sent to", async () => {
  const t = await topology();
  try {
    t.b.send(
      ipv4Packet({
        src: B_IP,
        dst: R0_IP,
        protocol: 6,
        payload: tcp(B_IP, R0_IP, 40001, 9, TCP_SYN),
      }),
      R1_MAC,
    );
    t.settle();
    const got = t.b.take();
    assert.equal(got.length, 1);
    assert.equal(got[0][20 + 13] & TCP_RST, TCP_RST);
    assert.equal(get32(got[0], 12), R0_IP);
    assert.ok(l4ChecksumOk(got[0]));
  } finally {
    await t.close();
  }
});

Deno.test("Router's UDP socket bound to one address receives and answers only from it", async () => {
  const t = await topology();
  try {
    const conn = t.router.listenDatagram({ port: 7, hostname: "198.51.100.1" });
    const received = conn.receive();
    const hello = new TextEncoder().encode("hello");
    t.b.send(
      ipv4Packet({
        src: B_IP,
        dst: R0_IP,
        protocol: 17,
        payload: udp(B_IP, R0_IP, 5000, 7, hello),
      }),
      R1_MAC,
    );
    t.settle();
    const [data, from] = await received;
    assert.deepEqual(data, hello);
    await conn.send(data, from);
    t.settle();
    const reply = t.b.take();
    assert.equal(reply.length, 1);
    assert.equal(get32(reply[0], 12), R0_IP); // from the bound address, out of interface 1
    assert.equal(get16(reply[0], 20 + 2), 5000);
    assert.ok(ipChecksumOk(reply[0]) && l4ChecksumOk(reply[0]));
    // To the other address of ours the port is closed: port unreachable, from that address.
    t.b.send(
      ipv4Packet({
        src: B_IP,
        dst: R1_IP,
        protocol: 17,
        payload: udp(B_IP, R1_IP, 5000, 7, hello),
      }),
      R1_MAC,
    );
    t.settle();
    const refused = t.b.take();
    assert.equal(refused.length, 1);
    assert.equal(refused[0][9], 1);
    assert.equal(refused[0][20], 3); // destination unreachable
    assert.equal(refused[0][21], 3); // port unreachable
    assert.equal(get32(refused[0], 12), R1_IP);
    assert.equal(t.router.stats().udp.rxWrongAddress, 1);
    conn.close();
  } finally {
    await t.close();
  }
});

Deno.test("Router reports a closed port and answers a ping from the address asked, on the other link", async () => {
  const t = await topology();
  try {
    t.b.send(
      ipv4Packet({
        src: B_IP,
        dst: R0_IP,
        protocol: 17,
        payload: udp(B_IP, R0_IP, 5000, 9999, new Uint8Array(4)),
      }),
      R1_MAC,
    );
    t.b.send(
      ipv4Packet({ src: B_IP, dst: R0_IP, protocol: 1, payload: icmpEcho(8, 3, 1) }),
      R1_MAC,
    );
    t.settle();
    const got = t.b.take();
    assert.equal(got.length, 2);
    const unreachable = got.find((p) => p[20] === 3)!;
    const echo = got.find((p) => p[20] === 0)!;
    assert.equal(unreachable[21], 3);
    assert.equal(get32(unreachable, 12), R0_IP);
    assert.equal(get32(echo, 12), R0_IP);
    assert.ok(l4ChecksumOk(unreachable) && l4ChecksumOk(echo));
  } finally {
    await t.close();
  }
});

Deno.test("Router sends an outgoing connection from the egress interface's address", async () => {
  const t = await topology();
  try {
    const connecting = t.router.connect({ hostname: "203.0.113.2", port: 80 });
    connecting.catch(() => {});
    await new Promise((r) => setTimeout(r, 0)); // connect resolves the literal first
    t.settle();
    const syn = t.b.take().filter((p) => p[9] === 6);
    assert.equal(syn.length, 1);
    assert.equal(get32(syn[0], 12), R1_IP);
    assert.ok(l4ChecksumOk(syn[0]));
  } finally {
    await t.close();
  }
});

/** Sets the TCP checksum of `segment` (header + data) for `src` → `dst`. */
function reChecksumTcp(segment: Uint8Array, src: number, dst: number): Uint8Array {
  segment[16] = 0;
  segment[17] = 0;
  const pseudo = new Uint8Array(12 + segment.length);
  const dv = new DataView(pseudo.buffer);
  dv.setInt32(0, src);
  dv.setInt32(4, dst);
  pseudo[9] = 6;
  dv.setUint16(10, segment.length);
  pseudo.set(segment, 12);
  let s = 0;
  for (let i = 0; i < pseudo.length; i += 2) s += (pseudo[i] << 8) | (pseudo[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const ck = ~s & 0xffff;
  segment[16] = ck >>> 8;
  segment[17] = ck & 0xff;
  return segment;
}
