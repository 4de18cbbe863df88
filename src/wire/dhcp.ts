/**
 * DHCPv4 / BOOTP messages (RFC 2131 §2, RFC 951) and their options
 * (RFC 2132), as a plain repr with `parse` and `emit`.
 *
 * A message is the fixed 236-byte BOOTP header, the magic cookie
 * 99.130.83.99 (RFC 2131 §3) and options (code, length, value; PAD and END
 * have no length). `parse` never throws on hostile input: it returns a
 * {@link WireError} naming the defect (truncated header, a wrong cookie, an
 * option that runs past the end, an option whose length does not fit its
 * type). Options that appear more than once are concatenated (RFC 3396 §5);
 * option 52 (overload) moves more options into `file` and `sname` (RFC 2132
 * §9.3), parsed in the order RFC 3396 gives. Unknown options are skipped.
 *
 * DHCP messages are control traffic (a few per lease), so the repr holds
 * arrays and is built per message; nothing here is on the hot path.
 *
 * @module
 */

import { WireError } from "./error.ts";

/** UDP port of DHCP servers (RFC 2131 §4.1). */
export const DHCP_SERVER_PORT = 67;
/** UDP port of DHCP clients. */
export const DHCP_CLIENT_PORT = 68;
/** Fixed BOOTP header: op … file (RFC 2131 §2, figure 1). */
export const DHCP_FIXED_LEN = 236;
/** The magic cookie 99.130.83.99 (RFC 2131 §3, RFC 1497). */
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** Header + cookie: where the options start. */
export const DHCP_OPTIONS_OFFSET: number = DHCP_FIXED_LEN + 4;
/** Smallest BOOTP message a relay must accept (RFC 1542 §2.1): we pad ours to it. */
export const DHCP_MIN_MESSAGE_LEN = 300;
/** Largest message a client must accept (RFC 2131 §2: 576-byte datagram − 28). */
export const DHCP_MIN_MAX_MESSAGE_LEN = 548;

/** op: client to server. */
export const BOOTREQUEST = 1;
/** op: server to client. */
export const BOOTREPLY = 2;
/** htype of Ethernet (RFC 1700). */
export const DHCP_HTYPE_ETHERNET = 1;
/** flags: the server must broadcast its reply (RFC 2131 §2, figure 2). */
export const DHCP_FLAG_BROADCAST = 0x8000;

/** Message types (option 53, RFC 2132 §9.6). */
export const DHCPDISCOVER = 1;
/** DHCPOFFER. */
export const DHCPOFFER = 2;
/** DHCPREQUEST. */
export const DHCPREQUEST = 3;
/** DHCPDECLINE. */
export const DHCPDECLINE = 4;
/** DHCPACK. */
export const DHCPACK = 5;
/** DHCPNAK. */
export const DHCPNAK = 6;
/** DHCPRELEASE. */
export const DHCPRELEASE = 7;
/** DHCPINFORM. */
export const DHCPINFORM = 8;

/** Option codes (RFC 2132). */
export const DHCP_OPT_PAD = 0;
/** §3.3 subnet mask. */
export const DHCP_OPT_SUBNET_MASK = 1;
/** §3.5 routers. */
export const DHCP_OPT_ROUTER = 3;
/** §3.8 domain name servers. */
export const DHCP_OPT_DNS = 6;
/** §3.14 host name. */
export const DHCP_OPT_HOSTNAME = 12;
/** §5.1 interface MTU. */
export const DHCP_OPT_MTU = 26;
/** §9.1 requested IP address. */
export const DHCP_OPT_REQUESTED_IP = 50;
/** §9.2 IP address lease time. */
export const DHCP_OPT_LEASE_TIME = 51;
/** §9.3 option overload. */
export const DHCP_OPT_OVERLOAD = 52;
/** §9.6 DHCP message type. */
export const DHCP_OPT_MESSAGE_TYPE = 53;
/** §9.7 server identifier. */
export const DHCP_OPT_SERVER_ID = 54;
/** §9.8 parameter request list. */
export const DHCP_OPT_PARAMETER_LIST = 55;
/** §9.9 message. */
export const DHCP_OPT_MESSAGE = 56;
/** §9.10 maximum DHCP message size. */
export const DHCP_OPT_MAX_MESSAGE_SIZE = 57;
/** §9.11 renewal (T1) time. */
export const DHCP_OPT_RENEWAL_TIME = 58;
/** §9.12 rebinding (T2) time. */
export const DHCP_OPT_REBINDING_TIME = 59;
/** §9.14 client identifier. */
export const DHCP_OPT_CLIENT_ID = 61;
/** End of options. */
export const DHCP_OPT_END = 255;

/** A lease time meaning "infinite" (RFC 2131 §3.3). */
export const DHCP_INFINITE_LEASE = 0xffffffff;
/** Smallest MTU option value (RFC 2132 §5.1). */
export const DHCP_MIN_MTU = 68;

const PROTOCOL = "dhcp";
const SNAME_OFFSET = 44;
const SNAME_LEN = 64;
const FILE_OFFSET = 108;
const FILE_LEN = 128;
const CHADDR_OFFSET = 28;
const MAC_LEN = 6;
const IPV4_LEN = 4;
const OVERLOAD_FILE = 1;
const OVERLOAD_SNAME = 2;
const MAX_MESSAGE_TYPE = DHCPINFORM;
const MAX_TEXT_OPTION = 255;
/** Addresses that fit one option (255 / 4). */
const MAX_ADDRESSES = 63;

/** A DHCP/BOOTP message. Addresses are int32 (src/wire/address.ts), the MAC a 48-bit number. */
export interface DhcpRepr {
  /** {@link BOOTREQUEST} or {@link BOOTREPLY}. */
  op: number;
  /** Transaction id (unsigned 32-bit). */
  xid: number;
  /** Seconds since the client began (RFC 2131 §2). */
  secs: number;
  /** The broadcast flag. */
  broadcast: boolean;
  /** Client address (only in BOUND, RENEWING, REBINDING). */
  ciaddr: number;
  /** "Your" address: the one offered or assigned. */
  yiaddr: number;
  /** Next server (TFTP); not the server identifier. */
  siaddr: number;
  /** Relay agent. */
  giaddr: number;
  /** Client hardware (Ethernet) address. */
  chaddr: number;
  /** Option 53; 0 = none (a BOOTP message). */
  messageType: number;
  /** Option 54, or 0. */
  serverId: number;
  /** Option 50, or 0. */
  requestedIp: number;
  /** Option 1, or 0 (absent). */
  subnetMask: number;
  /** Option 3. */
  routers: number[];
  /** Option 6. */
  dnsServers: number[];
  /** Option 51 in seconds, or -1 (absent); {@link DHCP_INFINITE_LEASE} = infinite. */
  leaseTimeS: number;
  /** Option 58 in seconds, or -1. */
  renewalTimeS: number;
  /** Option 59 in seconds, or -1. */
  rebindingTimeS: number;
  /** Option 26, or 0. */
  mtu: number;
  /** Option 57, or 0. */
  maxMessageSize: number;
  /** Option 55: codes asked for. */
  parameterRequestList: number[];
  /** Option 61 (type byte first), or null. */
  clientId: Uint8Array | null;
  /** Option 12, or null. */
  hostname: string | null;
  /** Option 56 (an error text, with NAK), or null. */
  message: string | null;
}

/**
 * Returns an empty request (all zero, no options).
 *
 * @returns a {@link DhcpRepr} with op BOOTREQUEST
 *
 * @example
 * ```ts
 * import { BOOTREQUEST, newDhcpRepr } from "./dhcp.ts";
 * console.assert(newDhcpRepr().op === BOOTREQUEST);
 * ```
 */
export function newDhcpRepr(): DhcpRepr {
  return {
    op: BOOTREQUEST,
    xid: 0,
    secs: 0,
    broadcast: false,
    ciaddr: 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: 0,
    chaddr: 0,
    messageType: 0,
    serverId: 0,
    requestedIp: 0,
    subnetMask: 0,
    routers: [],
    dnsServers: [],
    leaseTimeS: -1,
    renewalTimeS: -1,
    rebindingTimeS: -1,
    mtu: 0,
    maxMessageSize: 0,
    parameterRequestList: [],
    clientId: null,
    hostname: null,
    message: null,
  };
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

function i32(b: Uint8Array, at: number): number {
  return (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3];
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

function readMac48(b: Uint8Array, at: number): number {
  let v = 0;
  for (let i = 0; i < MAC_LEN; i++) v = v * 256 + b[at + i];
  return v;
}

function writeMac48(b: Uint8Array, at: number, mac: number): void {
  let v = mac;
  for (let i = MAC_LEN - 1; i >= 0; i--) {
    b[at + i] = v % 256;
    v = Math.floor(v / 256);
  }
}

const latin1 = new TextDecoder("latin1");

/**
 * Walks one options area, appending each option's bytes to `out` (RFC 3396:
 * repeated codes concatenate). Returns an error for an option that runs past
 * the area; stops at END.
 */
function collectOptions(
  b: Uint8Array,
  start: number,
  end: number,
  out: Map<number, number[]>,
  where: string,
): WireError | null {
  let at = start;
  while (at < end) {
    const code = b[at];
    if (code === DHCP_OPT_END) return null;
    if (code === DHCP_OPT_PAD) {
      at++;
      continue;
    }
    if (at + 1 >= end) {
      return new WireError(PROTOCOL, "bad-option", `option ${code} in ${where} has no length`);
    }
    const len = b[at + 1];
    if (at + 2 + len > end) {
      return new WireError(
        PROTOCOL,
        "bad-option",
        `option ${code} (${len} bytes) runs past the end of ${where}`,
      );
    }
    let list = out.get(code);
    if (list === undefined) {
      list = [];
      out.set(code, list);
    }
    for (let i = 0; i < len; i++) list.push(b[at + 2 + i]);
    at += 2 + len;
  }
  // RFC 2131 §3: options end with END; a missing END at the very end of the packet is tolerated
  // (as ISC dhclient and Linux ipconfig do).
  return null;
}

function addressList(v: number[], code: number, min: number): number[] | WireError {
  if (v.length < min || v.length % IPV4_LEN !== 0) {
    return new WireError(
      PROTOCOL,
      "bad-option",
      `option ${code} must hold ${
        min > 0 ? "one or more" : "whole"
      } 4-byte addresses, got ${v.length} bytes`,
    );
  }
  const out: number[] = [];
  for (let i = 0; i < v.length; i += IPV4_LEN) {
    out.push((v[i] << 24) | (v[i + 1] << 16) | (v[i + 2] << 8) | v[i + 3]);
  }
  return out;
}

function fixed(v: number[], code: number, len: number): WireError | null {
  return v.length === len
    ? null
    : new WireError(PROTOCOL, "bad-option", `option ${code} must be ${len} bytes, got ${v.length}`);
}

function word(v: number[]): number {
  return ((v[0] << 24) | (v[1] << 16) | (v[2] << 8) | v[3]) >>> 0;
}

/** The codec of DHCP messages: parse, size and emit a {@link DhcpRepr}. */
export interface DhcpCodec {
  /** Parses a DHCP/BOOTP message (the UDP payload); a typed failure names the defect. */
  parse(bytes: Uint8Array, offset: number, length: number): DhcpRepr | WireError;
  /** Bytes {@link DhcpCodec.emit} writes for `repr`. */
  bufferLength(repr: DhcpRepr): number;
  /** Writes `repr` at `offset`; returns the bytes written. */
  emit(repr: DhcpRepr, bytes: Uint8Array, offset: number): number;
}

/** Codec of {@link DhcpRepr}. */
export const DhcpRepr: DhcpCodec = {
  /**
   * Parses a DHCP/BOOTP message (the UDP payload).
   *
   * @param bytes buffer
   * @param offset start of the message
   * @param length message length
   * @returns the message, or the defect
   *
   * @example
   * ```ts
   * import { DhcpRepr, newDhcpRepr, DHCPDISCOVER } from "./dhcp.ts";
   * const m = { ...newDhcpRepr(), xid: 7, chaddr: 0x020000000001, messageType: DHCPDISCOVER };
   * const b = new Uint8Array(DhcpRepr.bufferLength(m));
   * DhcpRepr.emit(m, b, 0);
   * const back = DhcpRepr.parse(b, 0, b.length);
   * console.assert(!("kind" in back) && back.xid === 7 && back.messageType === DHCPDISCOVER);
   * ```
   */
  parse(bytes: Uint8Array, offset: number, length: number): DhcpRepr | WireError {
    if (
      !Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 ||
      offset + length > bytes.length
    ) {
      return new WireError(PROTOCOL, "truncated", "the range lies outside the buffer");
    }
    if (length < DHCP_OPTIONS_OFFSET) {
      return new WireError(
        PROTOCOL,
        "truncated",
        `${length} bytes < ${DHCP_OPTIONS_OFFSET} (BOOTP header and magic cookie)`,
      );
    }
    const b = bytes.subarray(offset, offset + length);
    const op = b[0];
    if (op !== BOOTREQUEST && op !== BOOTREPLY) {
      return new WireError(PROTOCOL, "bad-field", `op ${op} is neither BOOTREQUEST nor BOOTREPLY`);
    }
    if (b[1] !== DHCP_HTYPE_ETHERNET || b[2] !== MAC_LEN) {
      return new WireError(
        PROTOCOL,
        "unsupported",
        `hardware type ${b[1]}/length ${b[2]} is not Ethernet (1/6)`,
      );
    }
    if (u32(b, DHCP_FIXED_LEN) !== DHCP_MAGIC_COOKIE) {
      return new WireError(PROTOCOL, "bad-field", "no DHCP magic cookie (99.130.83.99)");
    }
    const m = newDhcpRepr();
    m.op = op;
    m.xid = u32(b, 4);
    m.secs = (b[8] << 8) | b[9];
    m.broadcast = (((b[10] << 8) | b[11]) & DHCP_FLAG_BROADCAST) !== 0;
    m.ciaddr = i32(b, 12);
    m.yiaddr = i32(b, 16);
    m.siaddr = i32(b, 20);
    m.giaddr = i32(b, 24);
    m.chaddr = readMac48(b, CHADDR_OFFSET);
    const options = new Map<number, number[]>();
    let err = collectOptions(b, DHCP_OPTIONS_OFFSET, length, options, "the options field");
    if (err !== null) return err;
    // RFC 2132 §9.3 / RFC 3396 §5: with overload, `file` then `sname` hold more options.
    const overload = options.get(DHCP_OPT_OVERLOAD);
    if (overload !== undefined) {
      if (overload.length !== 1 || overload[0] < 1 || overload[0] > 3) {
        return new WireError(PROTOCOL, "bad-option", "option 52 (overload) must be 1 byte, 1..3");
      }
      if ((overload[0] & OVERLOAD_FILE) !== 0) {
        err = collectOptions(b, FILE_OFFSET, FILE_OFFSET + FILE_LEN, options, "the file field");
        if (err !== null) return err;
      }
      if ((overload[0] & OVERLOAD_SNAME) !== 0) {
        err = collectOptions(b, SNAME_OFFSET, SNAME_OFFSET + SNAME_LEN, options, "the sname field");
        if (err !== null) return err;
      }
    }
    for (const [code, v] of options) {
      switch (code) {
        case DHCP_OPT_MESSAGE_TYPE:
          if ((err = fixed(v, code, 1)) !== null) return err;
          if (v[0] < DHCPDISCOVER || v[0] > MAX_MESSAGE_TYPE) {
            return new WireError(PROTOCOL, "bad-option", `message type ${v[0]} is not 1..8`);
          }
          m.messageType = v[0];
          break;
        case DHCP_OPT_SERVER_ID:
        case DHCP_OPT_REQUESTED_IP:
        case DHCP_OPT_SUBNET_MASK: {
          if ((err = fixed(v, code, IPV4_LEN)) !== null) return err;
          const a = word(v) | 0;
          if (code === DHCP_OPT_SERVER_ID) m.serverId = a;
          else if (code === DHCP_OPT_REQUESTED_IP) m.requestedIp = a;
          else m.subnetMask = a;
          break;
        }
        case DHCP_OPT_ROUTER:
        case DHCP_OPT_DNS: {
          const list = addressList(v, code, IPV4_LEN);
          if (list instanceof WireError) return list;
          if (code === DHCP_OPT_ROUTER) m.routers = list;
          else m.dnsServers = list;
          break;
        }
        case DHCP_OPT_LEASE_TIME:
        case DHCP_OPT_RENEWAL_TIME:
        case DHCP_OPT_REBINDING_TIME:
          if ((err = fixed(v, code, IPV4_LEN)) !== null) return err;
          if (code === DHCP_OPT_LEASE_TIME) m.leaseTimeS = word(v);
          else if (code === DHCP_OPT_RENEWAL_TIME) m.renewalTimeS = word(v);
          else m.rebindingTimeS = word(v);
          break;
        case DHCP_OPT_MTU:
        case DHCP_OPT_MAX_MESSAGE_SIZE: {
          if ((err = fixed(v, code, 2)) !== null) return err;
          const n = (v[0] << 8) | v[1];
          if (code === DHCP_OPT_MTU) {
            if (n < DHCP_MIN_MTU) {
              return new WireError(PROTOCOL, "bad-option", `MTU ${n} < ${DHCP_MIN_MTU}`);
            }
            m.mtu = n;
          } else {
            m.maxMessageSize = n;
          }
          break;
        }
        case DHCP_OPT_PARAMETER_LIST:
          m.parameterRequestList = v.slice();
          break;
        case DHCP_OPT_CLIENT_ID:
          if (v.length < 2) {
            return new WireError(PROTOCOL, "bad-option", "option 61 must be at least 2 bytes");
          }
          m.clientId = Uint8Array.from(v);
          break;
        case DHCP_OPT_HOSTNAME:
        case DHCP_OPT_MESSAGE: {
          const text = latin1.decode(Uint8Array.from(v.slice(0, MAX_TEXT_OPTION)));
          if (code === DHCP_OPT_HOSTNAME) m.hostname = text;
          else m.message = text;
          break;
        }
        default:
          break; // RFC 2131 §4.1 / RFC 2132: unknown options are skipped
      }
    }
    return m;
  },

  /**
   * Bytes {@link emit} writes for `repr` (padded to {@link DHCP_MIN_MESSAGE_LEN}).
   *
   * @param repr the message
   * @returns its length
   */
  bufferLength(repr: DhcpRepr): number {
    return Math.max(DHCP_MIN_MESSAGE_LEN, DHCP_OPTIONS_OFFSET + optionsLength(repr));
  },

  /**
   * Writes `repr` at `bytes[offset]`: header, cookie, options (53 first,
   * RFC 2131 §4.1 lists no order, but every server expects it early), END,
   * zero padding to {@link DHCP_MIN_MESSAGE_LEN}.
   *
   * @param repr the message
   * @param bytes buffer with {@link bufferLength} bytes free at `offset`
   * @param offset where to write
   * @returns bytes written
   */
  emit(repr: DhcpRepr, bytes: Uint8Array, offset: number): number {
    const total = DhcpRepr.bufferLength(repr);
    const b = bytes.subarray(offset, offset + total);
    if (b.length < total) throw new RangeError(`DHCP message needs ${total} bytes`);
    b.fill(0);
    b[0] = repr.op;
    b[1] = DHCP_HTYPE_ETHERNET;
    b[2] = MAC_LEN;
    b[3] = 0; // hops
    put32(b, 4, repr.xid);
    b[8] = (repr.secs >>> 8) & 0xff;
    b[9] = repr.secs & 0xff;
    b[10] = repr.broadcast ? DHCP_FLAG_BROADCAST >>> 8 : 0;
    put32(b, 12, repr.ciaddr);
    put32(b, 16, repr.yiaddr);
    put32(b, 20, repr.siaddr);
    put32(b, 24, repr.giaddr);
    writeMac48(b, CHADDR_OFFSET, repr.chaddr);
    put32(b, DHCP_FIXED_LEN, DHCP_MAGIC_COOKIE);
    let at = DHCP_OPTIONS_OFFSET;
    const opt = (code: number, value: ArrayLike<number>) => {
      b[at] = code;
      b[at + 1] = value.length;
      for (let i = 0; i < value.length; i++) b[at + 2 + i] = value[i];
      at += 2 + value.length;
    };
    const addr = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
    if (repr.messageType !== 0) opt(DHCP_OPT_MESSAGE_TYPE, [repr.messageType]);
    if (repr.clientId !== null) opt(DHCP_OPT_CLIENT_ID, repr.clientId);
    if (repr.requestedIp !== 0) opt(DHCP_OPT_REQUESTED_IP, addr(repr.requestedIp));
    if (repr.serverId !== 0) opt(DHCP_OPT_SERVER_ID, addr(repr.serverId));
    if (repr.maxMessageSize !== 0) {
      opt(DHCP_OPT_MAX_MESSAGE_SIZE, [repr.maxMessageSize >>> 8, repr.maxMessageSize & 0xff]);
    }
    if (repr.hostname !== null) opt(DHCP_OPT_HOSTNAME, textBytes(repr.hostname));
    if (repr.parameterRequestList.length > 0) {
      opt(DHCP_OPT_PARAMETER_LIST, repr.parameterRequestList.slice(0, MAX_TEXT_OPTION));
    }
    if (repr.subnetMask !== 0) opt(DHCP_OPT_SUBNET_MASK, addr(repr.subnetMask));
    if (repr.routers.length > 0) {
      opt(DHCP_OPT_ROUTER, repr.routers.slice(0, MAX_ADDRESSES).flatMap(addr));
    }
    if (repr.dnsServers.length > 0) {
      opt(DHCP_OPT_DNS, repr.dnsServers.slice(0, MAX_ADDRESSES).flatMap(addr));
    }
    if (repr.mtu !== 0) opt(DHCP_OPT_MTU, [repr.mtu >>> 8, repr.mtu & 0xff]);
    if (repr.leaseTimeS >= 0) opt(DHCP_OPT_LEASE_TIME, addr(repr.leaseTimeS));
    if (repr.renewalTimeS >= 0) opt(DHCP_OPT_RENEWAL_TIME, addr(repr.renewalTimeS));
    if (repr.rebindingTimeS >= 0) opt(DHCP_OPT_REBINDING_TIME, addr(repr.rebindingTimeS));
    if (repr.message !== null) opt(DHCP_OPT_MESSAGE, textBytes(repr.message));
    b[at] = DHCP_OPT_END;
    return total;
  },
};

function textBytes(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length && out.length < MAX_TEXT_OPTION; i++) {
    out.push(text.charCodeAt(i) & 0xff);
  }
  return out;
}

function optionsLength(r: DhcpRepr): number {
  let n = 1; // END
  const add = (len: number) => (n += 2 + len);
  if (r.messageType !== 0) add(1);
  if (r.clientId !== null) add(r.clientId.length);
  if (r.requestedIp !== 0) add(IPV4_LEN);
  if (r.serverId !== 0) add(IPV4_LEN);
  if (r.maxMessageSize !== 0) add(2);
  if (r.hostname !== null) add(textBytes(r.hostname).length);
  if (r.parameterRequestList.length > 0) {
    add(Math.min(MAX_TEXT_OPTION, r.parameterRequestList.length));
  }
  if (r.subnetMask !== 0) add(IPV4_LEN);
  if (r.routers.length > 0) add(IPV4_LEN * Math.min(MAX_ADDRESSES, r.routers.length));
  if (r.dnsServers.length > 0) add(IPV4_LEN * Math.min(MAX_ADDRESSES, r.dnsServers.length));
  if (r.mtu !== 0) add(2);
  if (r.leaseTimeS >= 0) add(IPV4_LEN);
  if (r.renewalTimeS >= 0) add(IPV4_LEN);
  if (r.rebindingTimeS >= 0) add(IPV4_LEN);
  if (r.message !== null) add(textBytes(r.message).length);
  return n;
}
