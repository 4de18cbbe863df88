/**
 * The IPv6 demultiplexing table of a TCP layer (issue 18): each IPv6 connection's
 * {@link Tcp6Path}, keyed by the peer's address hash and both ports, with a one-entry cache
 * of the last hit; and the routing of ICMPv6 errors (RFC 4443 §3) to the connection they
 * quote, mapped to their ICMPv4 counterparts so one policy serves both families. The
 * listeners, the connection bounds and the segment input stay in the layer (tcp_layer.ts).
 *
 * @module
 */

import { Ipv6Address } from "../wire/ipv6_address.ts";
import { readI32 } from "../wire/view.ts";
import { TcpConnection, type TcpContext } from "./connection.ts";
import { Tcp6Path, type Tcp6Sender } from "./tcp6.ts";
import { IP_PROTO_TCP } from "../wire/ipv4.ts";

const TCP_QUOTED_BYTES = 8;
/** ICMPv4 types the engine's connections act on (RFC 792). */
const ICMP_DEST_UNREACHABLE = 3;
const ICMP_TIME_EXCEEDED = 11;
/** ICMPv6 types TCP acts on (RFC 4443 §3.1, §3.2). */
const ICMPV6_DEST_UNREACHABLE = 1;
const ICMPV6_PACKET_TOO_BIG = 2;
/** ICMPv6 Destination Unreachable codes (RFC 4443 §3.1). */
const ICMPV6_UNREACH_NO_ROUTE = 0;
const ICMPV6_UNREACH_PORT = 4;
/** The IPv4 destination-unreachable codes the engine maps them to (RFC 792, RFC 1191). */
const UNREACH_NET = 0;
const UNREACH_HOST = 1;
const UNREACH_PORT = 3;
const UNREACH_FRAG_NEEDED = 4;
const UNREACH_PROTOCOL = 2;
/** RFC 1812 §5.2.7.1: communication administratively prohibited. */
const UNREACH_ADMIN_PROHIBITED = 13;
const ICMPV6_TIME_EXCEEDED = 3;
const ICMPV6_PARAMETER_PROBLEM = 4;
const ICMPV6_UNREACH_ADMIN = 1;
const ICMPV6_PARAM_NEXT_HEADER = 1;
const IPV6_HEADER_LEN = 40;
/** IPv6 header + TCP header: the engine's "next-hop MTU" is the IPv6 MTU − 20 (tcp6.ts). */
const IPV6_MTU_TO_ENGINE = 20;

/**
 * The IPv6 connections of one layer. The layer counts them in its own connection count.
 *
 * @example
 * ```ts
 * import { Tcp6Table } from "./tcp6_table.ts";
 * console.assert(typeof Tcp6Table === "function");
 * ```
 */
export class Tcp6Table {
  /** key6 → the paths (connections) with that key. */
  readonly #conns6 = new Map<number, Tcp6Path[]>();
  /** Each IPv6 connection's path. */
  readonly #paths6 = new Map<TcpConnection, Tcp6Path>();
  /** The path of the last successful IPv6 lookup. */
  #last6: Tcp6Path | null = null;
  readonly #ctx: TcpContext;
  readonly #secret: Uint8Array;

  /**
   * @param ctx the layer's connection context (each connection gets a copy with its path)
   * @param secret the layer's secret (keys the address tags)
   */
  constructor(ctx: TcpContext, secret: Uint8Array) {
    this.#ctx = ctx;
    this.#secret = secret;
  }

  /** Connections in the table. */
  get size(): number {
    return this.#paths6.size;
  }

  /**
   * The connections in the table.
   *
   * @returns an iterator over them
   */
  connections(): IterableIterator<TcpConnection> {
    return this.#paths6.keys();
  }

  #key6(remote6: Ipv6Address, remotePort: number, localPort: number): number {
    return (remote6.hash() ^ Math.imul((remotePort << 16) | localPort, 0x9e3779b1)) | 0;
  }

  /**
   * The path of the connection with this 4-tuple.
   *
   * @param local6 our address
   * @param localPort our port
   * @param remote6 the peer's address
   * @param remotePort its port
   * @returns the path, or undefined
   */
  lookup(
    local6: Ipv6Address,
    localPort: number,
    remote6: Ipv6Address,
    remotePort: number,
  ): Tcp6Path | undefined {
    // The IPv6 layer hands one flow the same address objects, so identity usually decides.
    const hit = this.#last6;
    if (hit !== null) {
      const c = hit.conn as TcpConnection;
      if (
        c.remotePort === remotePort && c.localPort === localPort &&
        (hit.remote6 === remote6 || hit.remote6!.equals(remote6)) &&
        (hit.local6 === local6 || hit.local6!.equals(local6))
      ) return hit;
    }
    const list = this.#conns6.get(this.#key6(remote6, remotePort, localPort));
    if (list === undefined) return undefined;
    for (const p of list) {
      const c = p.conn as TcpConnection;
      if (
        c.remotePort === remotePort && c.localPort === localPort && p.remote6!.equals(remote6) &&
        p.local6!.equals(local6)
      ) {
        this.#last6 = p;
        return p;
      }
    }
    return undefined;
  }

  /**
   * A new connection on a path of its own, in the table.
   *
   * @param ip6 the IPv6 layer
   * @param local6 our address
   * @param localPort our port
   * @param remote6 the peer's address
   * @param remotePort its port
   * @returns the connection (CLOSED, not yet opened)
   */
  make(
    ip6: Tcp6Sender,
    local6: Ipv6Address,
    localPort: number,
    remote6: Ipv6Address,
    remotePort: number,
  ): TcpConnection {
    const path = new Tcp6Path(ip6, this.#secret);
    path.set(local6, remote6);
    const conn = new TcpConnection(
      { ...this.#ctx, ip: path },
      path.localTag,
      localPort,
      path.remoteTag,
      remotePort,
    );
    conn.local6 = local6;
    conn.remote6 = remote6;
    path.conn = conn;
    const key = this.#key6(remote6, remotePort, localPort);
    const list = this.#conns6.get(key);
    if (list === undefined) this.#conns6.set(key, [path]);
    else list.push(path);
    this.#paths6.set(conn, path);
    return conn;
  }

  /**
   * Removes an IPv6 connection.
   *
   * @param conn the connection
   * @returns false when `conn` is not one
   */
  remove(conn: TcpConnection): boolean {
    const path = this.#paths6.get(conn);
    if (path === undefined) return false;
    this.#paths6.delete(conn);
    const key = this.#key6(path.remote6!, conn.remotePort, conn.localPort);
    const list = this.#conns6.get(key);
    if (list !== undefined) {
      const i = list.indexOf(path);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.#conns6.delete(key);
    }
    if (this.#last6 === path) this.#last6 = null;
    return true;
  }

  /**
   * An ICMPv6 error quoting one of our segments (`TcpLayer.onIcmpv6Error`).
   *
   * @param nowMs current time
   * @param type ICMPv6 type
   * @param code ICMPv6 code
   * @param parameter the MTU of a Packet Too Big
   * @param quoted buffer holding the invoking packet
   * @param quotedOffset where its IPv6 header starts
   * @param quotedLength quoted bytes
   */
  onIcmpv6Error(
    nowMs: number,
    type: number,
    code: number,
    parameter: number,
    quoted: Uint8Array,
    quotedOffset: number,
    quotedLength: number,
  ): void {
    // The ICMPv4 message each ICMPv6 error stands for (RFC 4443 §3 against RFC 792), so the
    // connection applies one policy to both families (RFC 1122 §4.2.3.9, RFC 5461).
    let v4Type = ICMP_DEST_UNREACHABLE;
    let v4Code: number;
    let mtu = 0;
    if (type === ICMPV6_PACKET_TOO_BIG) {
      v4Code = UNREACH_FRAG_NEEDED;
      mtu = parameter - IPV6_MTU_TO_ENGINE;
    } else if (type === ICMPV6_DEST_UNREACHABLE) {
      v4Code = code === ICMPV6_UNREACH_PORT
        ? UNREACH_PORT
        : code === ICMPV6_UNREACH_NO_ROUTE
        ? UNREACH_NET
        : code === ICMPV6_UNREACH_ADMIN
        ? UNREACH_ADMIN_PROHIBITED
        : UNREACH_HOST;
    } else if (type === ICMPV6_TIME_EXCEEDED) {
      v4Type = ICMP_TIME_EXCEEDED;
      v4Code = code;
    } else if (type === ICMPV6_PARAMETER_PROBLEM && code === ICMPV6_PARAM_NEXT_HEADER) {
      v4Code = UNREACH_PROTOCOL; // "unrecognized Next Header": the peer lacks TCP
    } else {
      return; // other Parameter Problems: soft errors (RFC 1122 §4.2.3.9), ignored
    }
    if (
      quotedOffset < 0 || quotedLength < IPV6_HEADER_LEN + TCP_QUOTED_BYTES ||
      quotedOffset + quotedLength > quoted.length || (quoted[quotedOffset] >>> 4) !== 6 ||
      quoted[quotedOffset + 6] !== IP_PROTO_TCP // we send no extension headers
    ) return;
    const local6 = Ipv6Address.fromBytes(quoted, quotedOffset + 8);
    const remote6 = Ipv6Address.fromBytes(quoted, quotedOffset + 24);
    const t = quotedOffset + IPV6_HEADER_LEN;
    const localPort = (quoted[t] << 8) | quoted[t + 1];
    const remotePort = (quoted[t + 2] << 8) | quoted[t + 3];
    const seq = readI32(quoted, t + 4);
    const path = this.lookup(local6, localPort, remote6, remotePort);
    if (path !== undefined) {
      (path.conn as TcpConnection).onIcmpError(nowMs, v4Type, v4Code, mtu, seq);
    }
  }
}
