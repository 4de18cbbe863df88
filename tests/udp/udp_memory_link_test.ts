/**
 * UDP between two rawstack hosts over MemoryLink (no root): the UdpLayer on
 * a real NetworkInterface (ARP, IPv4 with fragmentation/reassembly, ICMP),
 * every frame captured and checked by tshark.
 */
import assert from "node:assert/strict";
import { UdpError } from "../../src/udp/udp_layer.ts";
import { assertTsharkClean, IP_A, IP_B, tsharkProblems, twoHosts } from "./_memory_hosts.ts";

Deno.test("UdpLayer exchanges datagrams of 1, 1472 and 65507 bytes over MemoryLink", async () => {
  const h = twoHosts();
  try {
    const server = h.udpB.bind(7000);
    const client = h.udpA.bind(0);
    const sizes = [1, 1472, 65_507];
    const payloads = sizes.map((n) => new Uint8Array(n).map((_, i) => (i * 7 + n) & 0xff));
    for (const p of payloads) {
      assert.equal(client.send(h.now, p, IP_B, 7000), p.length);
      h.pump(h.now + 1);
    }
    for (const p of payloads) {
      const got = server.tryReceive();
      assert.ok(got !== null);
      assert.equal(got.srcAddr, IP_A);
      assert.equal(got.srcPort, client.localPort);
      assert.deepEqual(got.data, p);
      // Echo it back.
      assert.equal(server.send(h.now, got.data, got.srcAddr, got.srcPort), p.length);
      h.pump(h.now + 1);
      assert.deepEqual(client.tryReceive()?.data, p);
    }
    assert.equal(h.udpB.stats.rxBadChecksum, 0);
    assert.ok(h.b.ipv4.stats.rxReassembled >= 1, "the 65507-byte datagram was fragmented");
    await assertTsharkClean(h.frames());
  } finally {
    h.close();
  }
});

Deno.test("UdpLayer reports ICMP port unreachable from a real peer to the connected endpoint", async () => {
  const h = twoHosts();
  try {
    const client = h.udpA.bind(0);
    assert.equal(client.connect(IP_B, 9999), null);
    const bystander = h.udpA.bind(0);
    const unconnected = h.udpA.bind(0);
    assert.equal(client.send(h.now, new Uint8Array([1, 2, 3]), IP_B, 9999), 3);
    assert.equal(unconnected.send(h.now, new Uint8Array([4]), IP_B, 9999), 1);
    h.pump(h.now + 1);
    assert.equal(h.udpB.stats.rxNoPort, 2);
    assert.equal(unconnected.pendingError, null, "an unconnected endpoint ignores ICMP errors");
    assert.equal(h.udpA.stats.icmpUnconnected, 1);
    const err = client.takeError();
    assert.ok(err instanceof UdpError);
    assert.equal(err.code, "PortUnreachable");
    assert.equal(err.remoteAddr, IP_B);
    assert.equal(err.remotePort, 9999);
    assert.equal(bystander.pendingError, null);
    await assertTsharkClean(h.frames());
  } finally {
    h.close();
  }
});

Deno.test("tsharkProblems flags a corrupted UDP checksum (control for the checks above)", async () => {
  const h = twoHosts();
  try {
    h.udpB.bind(7000);
    h.udpA.bind(0).send(h.now, new Uint8Array(100), IP_B, 7000);
    h.pump(1);
    const frames = h.frames();
    const udpFrame = frames.find((f) => f.bytes.length > 100)!;
    udpFrame.bytes[udpFrame.bytes.length - 1] ^= 1;
    const problems = await tsharkProblems(frames);
    if (problems === null) return;
    assert.equal(problems.length, 1);
    assert.match(problems[0], /:ip:udp.*udp\.checksum_tree: Bad checksum/);
  } finally {
    h.close();
  }
});
