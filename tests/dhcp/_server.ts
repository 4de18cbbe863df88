/**
 * A scripted DHCP server for the DHCP client tests: the other end of a
 * MemoryLink, read and written frame by frame. It records every DHCP
 * message and ARP packet the stack sends, answers ARP for its own address,
 * and sends whatever replies a test builds.
 */
import type { Device, FrameSink } from "../../src/phy/device.ts";
import { parseIpv4 } from "../../src/wire/address.ts";
import {
  BOOTREPLY,
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  DhcpRepr,
  newDhcpRepr,
} from "../../src/wire/dhcp.ts";
import { newUdpRepr, UdpRepr } from "../../src/wire/udp.ts";
import {
  arpPacket,
  ethFrame,
  ipv4Packet,
  parseArp,
  parseEth,
  parseIpv4Packet,
} from "../iface/_helpers.ts";

export const SERVER_IP = parseIpv4("192.0.2.1")!;
export const SERVER_MAC = 0x02_00_00_00_00_02;
export const OFFERED = parseIpv4("192.0.2.50")!;
export const BROADCAST_IP = -1;
export const BROADCAST_MAC = 0xffff_ffff_ffff;

/** A DHCP message the stack sent, with its IP header fields. */
export interface SentDhcp {
  message: DhcpRepr;
  src: number;
  dst: number;
  dstMac: number;
  srcPort: number;
  atMs: number;
}

/** An ARP packet the stack sent. */
export interface SentArp {
  op: number;
  sha: number;
  spa: number;
  tpa: number;
  atMs: number;
}

export class ScriptedServer implements FrameSink {
  readonly dhcp: SentDhcp[] = [];
  readonly arp: SentArp[] = [];
  readonly other: Uint8Array[] = [];
  /** Answer ARP requests for SERVER_IP (needed for unicast renewals). */
  answerArp = true;
  #now = 0;
  readonly #device: Device;

  /** This server's address, MAC and the address it offers (defaults: the constants above). */
  readonly ip: number;
  readonly mac: number;
  readonly offered: number;

  constructor(
    device: Device,
    opts: { ip?: number; mac?: number; offered?: number } = {},
  ) {
    this.#device = device;
    this.ip = opts.ip ?? SERVER_IP;
    this.mac = opts.mac ?? SERVER_MAC;
    this.offered = opts.offered ?? OFFERED;
  }

  /** Reads what the stack sent. */
  drain(nowMs: number): number {
    this.#now = nowMs;
    let total = 0;
    for (let n = this.#device.receive(this, 64); n > 0; n = this.#device.receive(this, 64)) {
      total += n;
    }
    return total;
  }

  onFrame(bytes: Uint8Array, offset: number, length: number): void {
    const frame = bytes.slice(offset, offset + length);
    const eth = parseEth(frame);
    if (eth.type === 0x0806) {
      const a = parseArp(eth.payload);
      this.arp.push({ op: a.op, sha: a.sha, spa: a.spa, tpa: a.tpa, atMs: this.#now });
      if (this.answerArp && a.op === 1 && a.tpa === this.ip && a.spa !== 0) {
        this.#device.transmit(
          ...whole(
            ethFrame(a.sha, this.mac, 0x0806, arpPacket(2, this.mac, this.ip, a.sha, a.spa)),
          ),
        );
      }
      return;
    }
    if (eth.type === 0x0800) {
      const ip = parseIpv4Packet(eth.payload);
      if (ip.protocol === 17) {
        const u = ip.payload;
        const srcPort = (u[0] << 8) | u[1];
        const dstPort = (u[2] << 8) | u[3];
        if (dstPort === DHCP_SERVER_PORT) {
          const m = DhcpRepr.parse(u, 8, u.length - 8);
          if ("op" in m) {
            this.dhcp.push({
              message: m,
              src: ip.src,
              dst: ip.dst,
              dstMac: eth.dst,
              srcPort,
              atMs: this.#now,
            });
            return;
          }
        }
      }
    }
    this.other.push(frame);
  }

  /** The DHCP messages of one type. */
  of(type: number): SentDhcp[] {
    return this.dhcp.filter((d) => d.message.messageType === type);
  }

  /** The last DHCP message. */
  last(): SentDhcp {
    const d = this.dhcp.at(-1);
    if (d === undefined) throw new Error("no DHCP message sent");
    return d;
  }

  /** A reply to `request`: same xid and chaddr, our server id, lease options. */
  replyTo(request: DhcpRepr, type: number, fields: Partial<DhcpRepr> = {}): DhcpRepr {
    return {
      ...newDhcpRepr(),
      op: BOOTREPLY,
      xid: request.xid,
      chaddr: request.chaddr,
      broadcast: request.broadcast,
      messageType: type,
      yiaddr: this.offered,
      serverId: this.ip,
      subnetMask: parseIpv4("255.255.255.0")!,
      routers: [this.ip],
      dnsServers: [this.ip],
      leaseTimeS: 120,
      ...fields,
    };
  }

  /** Sends a DHCP reply (or any payload) from port 67 to port 68. */
  send(m: DhcpRepr | Uint8Array, dst = BROADCAST_IP, dstMac = BROADCAST_MAC): void {
    let payload: Uint8Array;
    if (m instanceof Uint8Array) {
      payload = m;
    } else {
      payload = new Uint8Array(DhcpRepr.bufferLength(m));
      DhcpRepr.emit(m, payload, 0);
    }
    const udp = new Uint8Array(8 + payload.length);
    udp.set(payload, 8);
    const h = newUdpRepr();
    h.srcPort = DHCP_SERVER_PORT;
    h.dstPort = DHCP_CLIENT_PORT;
    h.payloadLength = payload.length;
    UdpRepr.emit(h, udp, 0, this.ip, dst);
    const ip = ipv4Packet({ src: this.ip, dst, protocol: 17, payload: udp });
    this.#device.transmit(...whole(ethFrame(dstMac, this.mac, 0x0800, ip)));
  }

  /** Another host's ARP packet on the link. */
  sendArp(op: number, sha: number, spa: number, tpa: number): void {
    this.#device.transmit(
      ...whole(ethFrame(BROADCAST_MAC, sha, 0x0806, arpPacket(op, sha, spa, 0, tpa))),
    );
  }
}

function whole(f: Uint8Array): [Uint8Array, number, number] {
  return [f, 0, f.length];
}
