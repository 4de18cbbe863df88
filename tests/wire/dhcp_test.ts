import assert from "node:assert/strict";
import {
  BOOTREPLY,
  DHCP_CLIENT_PORT,
  DHCP_MIN_MESSAGE_LEN,
  DHCP_OPTIONS_OFFSET,
  DHCP_SERVER_PORT,
  DHCPACK,
  DHCPDISCOVER,
  DHCPOFFER,
  DhcpRepr,
  DHCPREQUEST,
  newDhcpRepr,
} from "../../src/wire/dhcp.ts";
import { isWireError, WireError } from "../../src/wire/error.ts";
import { formatIpv4, parseIpv4 } from "../../src/wire/address.ts";
import { newUdpRepr, UdpRepr } from "../../src/wire/udp.ts";
import { ethFrame, ipv4Packet } from "../iface/_helpers.ts";
import { assertTsharkClean, tsharkTest } from "./_tshark.ts";

const MAC = 0x02_00_00_00_00_01;
const SERVER = parseIpv4("192.0.2.1")!;
const YOUR = parseIpv4("192.0.2.50")!;

function encode(m: ReturnType<typeof newDhcpRepr>): Uint8Array {
  const b = new Uint8Array(DhcpRepr.bufferLength(m));
  DhcpRepr.emit(m, b, 0);
  return b;
}

function offer() {
  return {
    ...newDhcpRepr(),
    op: BOOTREPLY,
    xid: 0xdeadbeef,
    secs: 3,
    broadcast: true,
    yiaddr: YOUR,
    chaddr: MAC,
    messageType: DHCPOFFER,
    serverId: SERVER,
    subnetMask: parseIpv4("255.255.255.0")!,
    routers: [SERVER],
    dnsServers: [SERVER, parseIpv4("192.0.2.2")!],
    leaseTimeS: 120,
    renewalTimeS: 60,
    rebindingTimeS: 105,
    mtu: 1400,
    message: "hello",
  };
}

function parsed(b: Uint8Array, offset = 0, length = b.length) {
  const r = DhcpRepr.parse(b, offset, length);
  if (isWireError(r)) throw new Error(String(r));
  return r;
}

Deno.test("DhcpRepr behaviour: emit then parse gives the same message, padded to 300 bytes", () => {
  const m = offer();
  const b = encode(m);
  assert.ok(b.length >= DHCP_MIN_MESSAGE_LEN);
  assert.equal(
    encode({ ...newDhcpRepr(), messageType: DHCPDISCOVER }).length,
    DHCP_MIN_MESSAGE_LEN,
  );
  assert.deepEqual(parsed(b), m);
  const client = {
    ...newDhcpRepr(),
    xid: 7,
    chaddr: MAC,
    messageType: DHCPREQUEST,
    requestedIp: YOUR,
    serverId: SERVER,
    clientId: new Uint8Array([1, 2, 0, 0, 0, 0, 1]),
    parameterRequestList: [1, 3, 6],
    maxMessageSize: 1472,
    hostname: "rawstack",
  };
  assert.deepEqual(parsed(encode(client)), client);
  // At an offset inside a larger buffer.
  const big = new Uint8Array(b.length + 20);
  big.set(b, 10);
  assert.deepEqual(parsed(big, 10, b.length), m);
});

Deno.test("DhcpRepr behaviour: typed failures for hostile input", () => {
  const good = encode(offer());
  const cases: [string, Uint8Array, WireError["kind"]][] = [
    ["short", good.subarray(0, DHCP_OPTIONS_OFFSET - 1), "truncated"],
    ["op", Uint8Array.from(good, (v, i) => (i === 0 ? 9 : v)), "bad-field"],
    ["htype", Uint8Array.from(good, (v, i) => (i === 1 ? 6 : v)), "unsupported"],
    ["cookie", Uint8Array.from(good, (v, i) => (i === 236 ? 0 : v)), "bad-field"],
    ["option past end", Uint8Array.from(good, (v, i) => (i === 241 ? 200 : v)), "bad-option"],
  ];
  for (const [what, bytes, kind] of cases) {
    const r = DhcpRepr.parse(bytes, 0, bytes.length);
    assert.ok(isWireError(r), what);
    assert.equal((r as WireError).kind, kind, what);
  }
  // An option with the wrong length for its type: message type of 2 bytes.
  const bad = new Uint8Array(DHCP_OPTIONS_OFFSET + 5);
  bad.set(good.subarray(0, DHCP_OPTIONS_OFFSET));
  bad.set([53, 2, 1, 1, 255], DHCP_OPTIONS_OFFSET);
  assert.equal((DhcpRepr.parse(bad, 0, bad.length) as WireError).kind, "bad-option");
  // A range outside the buffer.
  assert.equal((DhcpRepr.parse(good, 10, good.length) as WireError).kind, "truncated");
});

Deno.test("DhcpRepr behaviour: split options concatenate (RFC 3396) and overload reads file/sname", () => {
  const base = encode({ ...newDhcpRepr(), op: BOOTREPLY, xid: 1, chaddr: MAC });
  const b = new Uint8Array(DHCP_MIN_MESSAGE_LEN);
  b.set(base.subarray(0, DHCP_OPTIONS_OFFSET));
  let at = DHCP_OPTIONS_OFFSET;
  const put = (...v: number[]) => {
    b.set(v, at);
    at += v.length;
  };
  put(53, 1, DHCPACK);
  put(6, 4, 192, 0, 2, 1); // DNS split in two pieces
  put(6, 4, 192, 0, 2, 2);
  put(52, 1, 3); // overload: file and sname
  put(255);
  // file (offset 108): the lease time; sname (offset 44): the server id.
  b.set([51, 4, 0, 0, 0, 60, 255], 108);
  b.set([54, 4, 192, 0, 2, 1, 255], 44);
  const m = parsed(b);
  assert.equal(m.messageType, DHCPACK);
  assert.deepEqual(m.dnsServers.map(formatIpv4), ["192.0.2.1", "192.0.2.2"]);
  assert.equal(m.leaseTimeS, 60);
  assert.equal(m.serverId, SERVER);
});

function frame(m: ReturnType<typeof newDhcpRepr>, fromServer: boolean): Uint8Array {
  const payload = encode(m);
  const udp = new Uint8Array(8 + payload.length);
  udp.set(payload, 8);
  const h = newUdpRepr();
  h.srcPort = fromServer ? DHCP_SERVER_PORT : DHCP_CLIENT_PORT;
  h.dstPort = fromServer ? DHCP_CLIENT_PORT : DHCP_SERVER_PORT;
  h.payloadLength = payload.length;
  const src = fromServer ? SERVER : 0;
  UdpRepr.emit(h, udp, 0, src, -1);
  return ethFrame(
    0xffff_ffff_ffff,
    fromServer ? 0x020000000002 : MAC,
    0x0800,
    ipv4Packet({ src, dst: -1, protocol: 17, payload: udp }),
  );
}

tsharkTest(
  "DhcpRepr emits DISCOVER, REQUEST and OFFER that tshark decodes with our fields",
  async () => {
    const discover = {
      ...newDhcpRepr(),
      xid: 0x01020304,
      broadcast: true,
      chaddr: MAC,
      messageType: DHCPDISCOVER,
      clientId: new Uint8Array([1, 2, 0, 0, 0, 0, 1]),
      parameterRequestList: [1, 3, 6, 26, 51, 58, 59],
      maxMessageSize: 1472,
    };
    const request = { ...discover, messageType: DHCPREQUEST, requestedIp: YOUR, serverId: SERVER };
    const frames = [frame(discover, false), frame(request, false), frame(offer(), true)];
    const decoded = await assertTsharkClean(frames, { what: "DHCP" });
    if (decoded === null) return;
    assert.equal(decoded[0].num("dhcp.option.dhcp"), DHCPDISCOVER);
    assert.equal(decoded[0].field("dhcp.id"), "0x01020304");
    assert.equal(decoded[0].field("dhcp.hw.mac_addr"), "02:00:00:00:00:01");
    assert.equal(decoded[0].field("dhcp.flags.bc"), "1");
    assert.equal(decoded[1].num("dhcp.option.dhcp"), DHCPREQUEST);
    assert.equal(decoded[1].field("dhcp.option.requested_ip_address"), "192.0.2.50");
    assert.equal(decoded[1].field("dhcp.option.dhcp_server_id"), "192.0.2.1");
    const o = decoded[2];
    assert.equal(o.num("dhcp.option.dhcp"), DHCPOFFER);
    assert.equal(o.field("dhcp.ip.your"), "192.0.2.50");
    assert.equal(o.field("dhcp.option.subnet_mask"), "255.255.255.0");
    assert.equal(o.field("dhcp.option.router"), "192.0.2.1");
    assert.equal(o.field("dhcp.option.domain_name_server", 1), "192.0.2.2");
    assert.equal(o.num("dhcp.option.ip_address_lease_time"), 120);
    assert.equal(o.num("dhcp.option.renewal_time_value"), 60);
    assert.equal(o.num("dhcp.option.interface_mtu"), 1400);
  },
);
