import assert from "node:assert/strict";
import { analyzeCapture, analyzePcap } from "../../src/trace/connections.ts";
import { hostLadder, renderLadderText, segmentRole, tcpLadder } from "../../src/trace/ladder.ts";
import { handshake, TCP_ACK, tcpFrame } from "./_frames.ts";

const KERNEL_TCP = new URL("../testdata/kernel_tcp.pcap", import.meta.url);
const KERNEL_ARP = new URL("../testdata/kernel_arp_icmp_udp.pcap", import.meta.url);
const EXPECTED_TEXT = new URL("../testdata/ladder_expected.txt", import.meta.url);

Deno.test("renderLadderText draws the kernel capture as the checked-in text ladder", async () => {
  const a = analyzePcap(await Deno.readFile(KERNEL_TCP));
  const text = a.connections.map((c) => renderLadderText(tcpLadder(c))).join("\n");
  assert.equal(text, await Deno.readTextFile(EXPECTED_TEXT));
});

Deno.test("renderLadderText lines are fixed width with arrows in the right direction", async () => {
  const a = analyzePcap(await Deno.readFile(KERNEL_TCP));
  const lines = renderLadderText(tcpLadder(a.connections[0])).trimEnd().split("\n").slice(2);
  assert.equal(lines.length, 13);
  const width = lines[0].length;
  assert.ok(lines.every((l) => l.length === width), "every arrow row has the same width");
  assert.ok(lines[0].includes("SYN seq=0") && lines[0].endsWith("->|"));
  assert.ok(lines[1].includes("SYN,ACK seq=0 ack=1") && lines[1].includes("|<-"));
  assert.match(lines[3], /PSH,ACK seq=1 ack=1 len=87 win=64512/);
});

Deno.test("tcpLadder marks retransmissions, losses and gaps in the text ladder", () => {
  const frames = [
    ...handshake(),
    tcpFrame({ t: 3, fromClient: true, flags: TCP_ACK, seq: 1, ack: 1, len: 1000 }),
    tcpFrame({ t: 4, fromClient: true, flags: TCP_ACK, seq: 1001, ack: 1, len: 1000 }),
    tcpFrame({ t: 5, fromClient: true, flags: TCP_ACK, seq: 3001, ack: 1, len: 1000 }),
    tcpFrame({ t: 6, fromClient: false, flags: TCP_ACK, seq: 1, ack: 1001 }),
    tcpFrame({ t: 9, fromClient: true, flags: TCP_ACK, seq: 1001, ack: 1, len: 1000 }),
  ];
  const d = tcpLadder(analyzeCapture(frames).connections[0]);
  const text = renderLadderText(d);
  const lines = text.split("\n");
  const lost = lines.find((l) => l.includes("seq=1001") && l.includes("LOST"));
  assert.ok(lost !== undefined, text);
  assert.match(lost, /X {4}\|/, "a lost arrow stops short of the receiver");
  assert.ok(lines.some((l) => l.includes("seq=1001") && l.includes("RETRANSMISSION")));
  assert.ok(text.includes("1000 bytes from the client are missing here"), "gap 2001-3001 noted");
  assert.equal(d.rows.filter((r) => r.kind === "note").length, 1);
});

Deno.test("hostLadder includes ARP and ICMP between two hosts", async () => {
  const a = analyzePcap(await Deno.readFile(KERNEL_ARP));
  const d = hostLadder(a, 0xc0000201, 0xc0000202);
  assert.equal(d.rows[0].label, "ARP who-has 192.0.2.2 tell 192.0.2.1");
  assert.ok(d.rows[0].fromLeft && !d.rows[1].fromLeft);
  assert.match(d.rows[2].label, /ICMP echo request id=\d+ seq=1 len=56/);
  assert.ok(renderLadderText(d).includes("is-at 02:00:00:00:00:02"));
});

Deno.test("segmentRole names the textbook steps", () => {
  assert.equal(segmentRole({ flags: 0x12, len: 0 }), "handshake");
  assert.equal(segmentRole({ flags: 0x18, len: 5 }), "data");
  assert.equal(segmentRole({ flags: 0x10, len: 0 }), "ack");
  assert.equal(segmentRole({ flags: 0x11, len: 0 }), "close");
  assert.equal(segmentRole({ flags: 0x14, len: 0 }), "reset");
});
