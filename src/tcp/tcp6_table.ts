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
import { read16, readI32 } from "../wire/view.ts";
import { TcpConnection, type TcpContext } from "./connection.ts";
import { Tcp6Path, type Tcp6Sender } from "./tcp6.ts";
import { IP_PROTO_TCP } from "../wire/ipv4.ts";
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_MIN_QUOTED_DATA_LEN,
  ICMP_TIME_EXCEEDED,
  ICMP_UNREACH_FRAG_NEEDED,
  ICMP_UNREACH_HOST,
  ICMP_UNREACH_NET,
  ICMP_UNREACH_PORT,
  ICMP_UNREACH_PROTOCOL,
} from "../wire/icmp.ts";
import {
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_PARAMETER_PROBLEM,
  ICMPV6_TIME_EXCEEDED,
  ICMPV6_UNREACH_ADMIN,
  ICMPV6_UNREACH_NO_ROUTE,
  ICMPV6_UNREACH_PORT,
} from "../wire/icmpv6.ts";
import {
  ICMPV6_PARAM_NEXT_HEADER,
  IPV6_DST_OFFSET,
  IPV6_HEADER_LEN,
  IPV6_NEXT_HEADER_OFFSET,
  IPV6_SRC_OFFSET,
  IPV6_VERSION,
} from "../wire/ipv6.ts";
import { TCP_DST_PORT_OFFSET, TCP_SEQ_OFFSET, TCP_SRC_PORT_OFFSET } from "../wire/tcp.ts";

/** RFC 1812 §5.2.7.1: communication administratively prohibited. */
const UNREACH_ADMIN_PROHIBITED = 13;
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
      v4Code = ICMP_UNREACH_FRAG_NEEDED;
      mtu = parameter - IPV6_MTU_TO_ENGINE;
    } else if (type === ICMPV6_DEST_UNREACHABLE) {
      v4Code = code === ICMPV6_UNREACH_PORT
        ? ICMP_UNREACH_PORT
        : code === ICMPV6_UNREACH_NO_ROUTE
        ? ICMP_UNREACH_NET
        : code === ICMPV6_UNREACH_ADMIN
        ? UNREACH_ADMIN_PROHIBITED
        : ICMP_UNREACH_HOST;
    } else if (type === ICMPV6_TIME_EXCEEDED) {
      v4Type = ICMP_TIME_EXCEEDED;
      v4Code = code;
    } else if (type === ICMPV6_PARAMETER_PROBLEM && code === ICMPV6_PARAM_NEXT_HEADER) {
      v4Code = ICMP_UNREACH_PROTOCOL; // "unrecognized Next Header": the peer lacks TCP
    } else {
      return; // other Parameter Problems: soft errors (RFC 1122 §4.2.3.9), ignored
    }
    if (
      quotedOffset < 0 || quotedLength < IPV6_HEADER_LEN + ICMP_MIN_QUOTED_DATA_LEN ||
      quotedOffset + quotedLength > quoted.length ||
      (quoted[quotedOffset] >>> 4) !== IPV6_VERSION ||
      quoted[quotedOffset + IPV6_NEXT_HEADER_OFFSET] !== IP_PROTO_TCP // we send no extension headers
    ) return;
    const local6 = Ipv6Address.fromBytes(quoted, quotedOffset + IPV6_SRC_OFFSET);
    const remote6 = Ipv6Address.fromBytes(quoted, quotedOffset + IPV6_DST_OFFSET);
    const t = quotedOffset + IPV6_HEADER_LEN;
    const localPort = read16(quoted, t + TCP_SRC_PORT_OFFSET);
    const remotePort = read16(quoted, t + TCP_DST_PORT_OFFSET);
    const seq = readI32(quoted, t + TCP_SEQ_OFFSET);
    const path = this.lookup(local6, localPort, remote6, remotePort);
    if (path !== undefined) {
      (path.conn as TcpConnection).onIcmpError(nowMs, v4Type, v4Code, mtu, seq);
    }
  }
}
