/**
 * `TapDevice` and `TunDevice`: a Linux TAP (Ethernet frames) or TUN (bare IP
 * packets) device driven through `/dev/net/tun` with Deno's FFI (libc.ts).
 * rawstack sits on the "wire" side of the device; the kernel's network stack
 * is on the other side, on the interface of the same name.
 *
 * - Opening: `open("/dev/net/tun", O_RDWR | O_NONBLOCK)` then `ioctl(TUNSETIFF)`
 *   with `IFF_TAP` or `IFF_TUN`, `IFF_NO_PI` (no packet-information prefix)
 *   and, with `vnetHeader`, `IFF_VNET_HDR`; then `TUNSETVNETHDRSZ` (10, the
 *   `struct virtio_net_hdr` the AF_PACKET driver uses too) and
 *   `TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)`, so
 *   the kernel may hand us frames with a partial checksum and TCP super-frames
 *   over IPv4 and IPv6, and takes ours (gso_type by IP version, GSO_ECN with CWR).
 * - Without root: a persistent device made once by root for a user
 *   (`ip tuntap add dev tap0 mode tap user USER`) may be attached by that user
 *   (the kernel's `tun_not_capable()` checks the owner); the process needs
 *   only `--allow-ffi` (and `--allow-read` for Deno itself). The device must
 *   exist: `open` never creates one (a device created by TUNSETIFF would
 *   vanish on close and needs CAP_NET_ADMIN).
 * - Receive: one nonblocking `read()` per frame into one buffer in the packet
 *   arena (so checksums over it run in WebAssembly and payload copies are one
 *   `memory.copy`), up to the budget, until EAGAIN. `ready()` is such a read,
 *   kept for the next `receive()`: there is no ring to look at.
 * - Transmit: one `write()` per frame by address (no view per frame), or one
 *   `writev()` of header and frame with `vnetHeader`. The kernel takes the
 *   frame during the call: nothing is staged, `flush()` has nothing to do.
 * - `wait()`: the shared {@link Parker} (park.ts): spin on `ready()`, then
 *   optional busy-poll, then `poll()` as a nonblocking FFI call over the
 *   device fd and an eventfd that `close()` writes.
 * - A TAP device's MAC is the kernel side's; rawstack's own MAC is the `mac`
 *   option or a random locally administered one. A TUN device reports
 *   `capabilities.link === "ip"`: the interface above sends bare IPv4 and
 *   IPv6, no ARP and no neighbour resolution.
 *
 * Errors are {@link DeviceError}s whose message says what to do: `no-such-device`
 * (the device or /dev/net/tun is missing), `permission-denied` (not the
 * device's owner), `busy` (another process has it open), `system` (e.g. a
 * TUN device opened as TAP).
 *
 * @module
 */

import {
  type Device,
  type DeviceCapabilities,
  DeviceError,
  type DeviceStats,
  ETHERNET_HEADER_BYTES,
  type FrameSink,
  GSO_ECN,
  GSO_NONE,
  GSO_TCPV6,
  newDeviceStats,
  newRxFrameInfo,
  RX_CHECKSUM_PARTIAL,
  RX_CHECKSUM_UNKNOWN,
  RX_CHECKSUM_VALID,
  type RxFrameInfo,
} from "./device.ts";
import {
  AF_INET,
  EACCES,
  EAGAIN,
  EBUSY,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EINTR,
  EINVAL,
  ENODEV,
  ENOENT,
  ENXIO,
  EPERM,
  errno,
  IFF_UP,
  libc,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  SIOCGIFFLAGS,
  SIOCGIFINDEX,
  SIOCGIFMTU,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
} from "./libc.ts";
import { Parker } from "./park.ts";
import { TCP_DATA_OFFSET_BYTE } from "../wire/tcp.ts";
import { ETHERTYPE_OFFSET, ETHERTYPE_VLAN, VLAN_TAG_LEN } from "../wire/ethernet.ts";
import {
  IFNAMSIZ,
  IFR_DATA_OFFSET,
  IFREQ_BYTES,
  IOV_LEN_OFFSET,
  IOVEC_BYTES,
  MAX_GSO_SIZE,
  readLe16,
  tcpGsoType,
  VNET_CSUM_OFFSET,
  VNET_CSUM_START,
  VNET_F_DATA_VALID,
  VNET_F_NEEDS_CSUM,
  VNET_FLAGS,
  VNET_GSO_SIZE,
  VNET_GSO_TYPE,
  VNET_HDR_BYTES,
  VNET_HDR_LEN,
  writeU64,
  writeVnetHeader,
} from "./af_packet/layout.ts";
import { packetBytes, releasePacketBytes } from "../buffer/arena.ts";

/** ioctl TUNSETIFF = _IOW('T', 202, int): attach the fd to a named TUN/TAP device. */
export const TUNSETIFF = 0x400454ca;
/** ioctl TUNSETOFFLOAD = _IOW('T', 208, unsigned int): offloads the reader accepts. */
export const TUNSETOFFLOAD = 0x400454d0;
/** ioctl TUNSETVNETHDRSZ = _IOW('T', 216, int): size of the virtio_net_hdr prefix. */
export const TUNSETVNETHDRSZ = 0x400454d8;
/** TUNSETIFF flag: a TUN device (IP packets). */
export const IFF_TUN = 0x0001;
/** TUNSETIFF flag: a TAP device (Ethernet frames). */
export const IFF_TAP = 0x0002;
/** TUNSETIFF flag: no 4-byte packet-information prefix. */
export const IFF_NO_PI = 0x1000;
/** TUNSETIFF flag: every frame carries a virtio_net_hdr. */
export const IFF_VNET_HDR = 0x4000;
/** TUNSETOFFLOAD: we accept frames with a partial checksum. */
export const TUN_F_CSUM = 0x01;
/** TUNSETOFFLOAD: we accept TCPv4 super-frames (needs TUN_F_CSUM). */
export const TUN_F_TSO4 = 0x02;
/** TUNSETOFFLOAD: we accept TCPv6 super-frames (needs TUN_F_CSUM). */
export const TUN_F_TSO6 = 0x04;
/** TUNSETOFFLOAD: we accept TCP super-frames that carry CWR (gso_type | GSO_ECN). */
export const TUN_F_TSO_ECN = 0x08;
/** The clone device every TUN/TAP fd is opened from. */
export const TUN_CLONE_DEVICE = "/dev/net/tun";
/** Default busy-wait in `wait()` before anything else, as AfPacketDevice. */
export const DEFAULT_TUN_SPIN_MICROS = 50;
/** Largest super-frame payload the kernel hands a TUN/TAP reader with TSO on (IPv4 total length). */
const MAX_SUPER_PACKET_BYTES = MAX_GSO_SIZE;
/** Receive buffer slack: a read that fills the whole buffer may have been cut short. */
const RX_TRUNCATION_SLACK = 1;
/** A MAC's first octet: the locally administered bit (IEEE 802, bit 1). */
const MAC_LOCAL_BIT = 0x02;
/** A MAC's first octet: the group (multicast) bit. */
const MAC_GROUP_BIT = 0x01;
const MAC_BYTES = 6;
const TWO_POW_40 = 2 ** 40;
const IFREQ_FLAGS_OFFSET = IFR_DATA_OFFSET;
const SPACE_CODE = 0x20;
const DEL_CODE = 0x7f;

/** Which kind of device. */
export type TunTapKind = "tap" | "tun";

/** Options of {@link TapDevice.open} and {@link TunDevice.open}. */
export interface TunTapOptions {
  /**
   * `IFF_VNET_HDR` (default false): frames carry a `virtio_net_hdr`, the
   * kernel may send checksum-partial frames and TCP super-frames up to 64 KiB
   * (published in `rxInfo`), and `transmitOffload` hands it ours to checksum
   * and segment. Capabilities then report checksumOffloadRx/Tx and gso.
   */
  vnetHeader?: boolean;
  /**
   * TAP only: rawstack's own MAC, as a 48-bit number or `"02:00:00:00:00:01"`
   * (the device's MAC belongs to the kernel side). Default: random, locally
   * administered, unicast.
   */
  mac?: number | string;
  /** Busy-wait this many microseconds in `wait()` before parking in poll(); default 50. */
  spinMicros?: number;
  /** Busy-poll window in ms after the last frame in or out (default 0 = off), as AfPacketDevice. */
  busyPollMs?: number;
}

/** Options after validation (see {@link resolveTunTapOptions}). */
export interface ResolvedTunTapOptions {
  /** Interface name. */
  name: string;
  /** TAP or TUN. */
  kind: TunTapKind;
  /** IFF_VNET_HDR. */
  vnetHeader: boolean;
  /** Our MAC (TAP), 0 for TUN. */
  mac: number;
  /** Spin before parking, µs. */
  spinMicros: number;
  /** Busy-poll window, ms. */
  busyPollMs: number;
  /** The TUNSETIFF flags to ask for. */
  flags: number;
}

/** Counters of a {@link TapDevice} / {@link TunDevice}. */
export interface TunTapStats extends DeviceStats {
  /** wait() calls that parked in poll(). */
  parks: number;
  /** Busy-poll yields to the event loop. */
  busyPollYields: number;
  /** Busy-polls cut short by a preemption (see `ParkStats.busyPollPreemptions`). */
  busyPollPreemptions: number;
  /** Failed reads other than EAGAIN (errno in rxLastErrno). */
  rxErrors: number;
  /** errno of the last failed read. */
  rxLastErrno: number;
  /** Frames that filled the whole receive buffer (cut short: dropped). */
  rxTruncated: number;
  /** Frames shorter than their virtio_net_hdr (dropped). */
  rxRunts: number;
  /** Received frames whose checksum the kernel vouched for (DATA_VALID). */
  rxChecksumValid: number;
  /** Received frames with a partial checksum (NEEDS_CSUM: sent by a local stack). */
  rxChecksumPartial: number;
  /** Received super-frames (gso_size > 0). */
  rxSuperFrames: number;
  /** Super-frames handed to the kernel to segment. */
  txSuperFrames: number;
  /** Of {@link txSuperFrames}: TCP over IPv6 (gso_type GSO_TCPV6). */
  txSuperFrames6: number;
  /** Of {@link txSuperFrames}: carrying CWR, sent with GSO_ECN (RFC 3168 §6.1.2). */
  txSuperFramesEcn: number;
  /** Writes the kernel refused (errno in txLastErrno; EIO: the device is down). */
  txErrors: number;
  /** errno of the last failed write. */
  txLastErrno: number;
  /** Frames refused for their size. */
  txTooLarge: number;
}

/**
 * Checks a device name and options without touching the system.
 *
 * @param kind TAP or TUN
 * @param name interface name
 * @param options as given to `open`
 * @param random source of a random MAC (tests); default `crypto.getRandomValues`
 * @returns the resolved options
 * @throws {DeviceError} `no-such-device` for a name the kernel cannot have
 * @throws {TypeError} for a bad option
 *
 * @example
 * ```ts
 * import { IFF_NO_PI, IFF_TAP, resolveTunTapOptions } from "./tun_tap.ts";
 * const o = resolveTunTapOptions("tap", "tap0", { mac: "02:00:00:00:00:01" });
 * console.assert(o.mac === 0x020000000001 && o.flags === (IFF_TAP | IFF_NO_PI));
 * ```
 */
export function resolveTunTapOptions(
  kind: TunTapKind,
  name: string,
  options: TunTapOptions = {},
  random: (bytes: Uint8Array) => void = (b) => crypto.getRandomValues(b),
): ResolvedTunTapOptions {
  if (
    typeof name !== "string" || name.length === 0 || name.length >= IFNAMSIZ ||
    name === "." || name === ".." || /[\s/:]/.test(name) || hasControlCharacter(name) ||
    new TextEncoder().encode(name).length >= IFNAMSIZ
  ) {
    throw new DeviceError(
      "no-such-device",
      `${JSON.stringify(String(name))} is not a valid interface name ` +
        `(1..${IFNAMSIZ - 1} bytes, no spaces, "/" or ":")`,
    );
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${kind === "tap" ? "TapDevice" : "TunDevice"} options must be an object`);
  }
  const vnetHeader = options.vnetHeader ?? false;
  if (typeof vnetHeader !== "boolean") {
    throw new TypeError(`vnetHeader must be a boolean, got ${String(vnetHeader)}`);
  }
  const spinMicros = options.spinMicros ?? DEFAULT_TUN_SPIN_MICROS;
  if (typeof spinMicros !== "number" || !Number.isFinite(spinMicros) || spinMicros < 0) {
    throw new TypeError(`spinMicros must be a finite number ≥ 0, got ${String(spinMicros)}`);
  }
  const busyPollMs = options.busyPollMs ?? 0;
  if (typeof busyPollMs !== "number" || !Number.isFinite(busyPollMs) || busyPollMs < 0) {
    throw new TypeError(`busyPollMs must be a finite number ≥ 0, got ${String(busyPollMs)}`);
  }
  let mac = 0;
  if (kind === "tun") {
    if (options.mac !== undefined) {
      throw new TypeError("a TUN device carries bare IP packets: it has no MAC (drop `mac`)");
    }
  } else if (options.mac === undefined) {
    const b = new Uint8Array(MAC_BYTES);
    random(b);
    // IEEE 802: unicast (group bit clear), locally administered (bit 1 set).
    b[0] = (b[0] & ~MAC_GROUP_BIT) | MAC_LOCAL_BIT;
    for (let i = 0; i < MAC_BYTES; i++) mac = mac * 256 + b[i];
  } else {
    mac = parseMacOption(options.mac);
  }
  const flags = (kind === "tap" ? IFF_TAP : IFF_TUN) | IFF_NO_PI | (vnetHeader ? IFF_VNET_HDR : 0);
  return { name, kind, vnetHeader, mac, spinMicros, busyPollMs, flags };
}

/** Whether `text` holds a character below 0x21 or DEL (the kernel's dev_valid_name refuses them). */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= SPACE_CODE || c === DEL_CODE) return true;
  }
  return false;
}

function parseMacOption(value: number | string): number {
  let mac = -1;
  if (typeof value === "number") {
    if (Number.isInteger(value) && value >= 0 && value < 2 ** 48) mac = value;
  } else if (typeof value === "string") {
    const parts = value.split(":");
    if (parts.length === MAC_BYTES && parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
      mac = parts.reduce((acc, p) => acc * 256 + parseInt(p, 16), 0);
    }
  }
  if (mac < 0) {
    throw new TypeError(`mac must be a 48-bit number or "xx:xx:xx:xx:xx:xx", got ${String(value)}`);
  }
  if (mac === 0 || Math.floor(mac / TWO_POW_40) & MAC_GROUP_BIT) {
    throw new TypeError(`mac must be a non-zero unicast address, got ${String(value)}`);
  }
  return mac;
}

/**
 * The {@link DeviceError} for a failed step of opening a TUN/TAP device,
 * with advice the user can act on.
 *
 * @param step `"device"` (the interface lookup), `"clone"` (opening
 *   /dev/net/tun), `"attach"` (TUNSETIFF) or another call's name
 * @param code errno
 * @param kind TAP or TUN
 * @param name interface name
 * @returns the error to throw
 *
 * @example
 * ```ts
 * import { tunTapError } from "./tun_tap.ts";
 * console.assert(tunTapError("attach", 16, "tap", "tap0").code === "busy");
 * console.assert(tunTapError("attach", 1, "tap", "tap0").code === "permission-denied");
 * ```
 */
export function tunTapError(
  step: string,
  code: number,
  kind: TunTapKind,
  name: string,
): DeviceError {
  const create = `create it once as root: \`sudo ip tuntap add dev ${name} mode ${kind} ` +
    `user $(id -un)\` (then \`sudo ip link set ${name} up\`), or \`rawstack lab up --tap $(id -un)\``;
  let kind2: DeviceError["code"] = "system";
  let text: string;
  if (step === "device" && (code === ENODEV || code === ENXIO)) {
    kind2 = "no-such-device";
    text = `there is no network interface named "${name}" in this network namespace; ${create}`;
  } else if (step === "clone" && code === ENOENT) {
    kind2 = "no-such-device";
    text = `${TUN_CLONE_DEVICE} does not exist: load the tun module (\`sudo modprobe tun\`)` +
      " or, in a container, pass the device in (`--device /dev/net/tun`)";
  } else if (step === "clone" && (code === EACCES || code === EPERM)) {
    kind2 = "permission-denied";
    text = `${TUN_CLONE_DEVICE} is not readable and writable by this user ` +
      `(it is normally mode 0666: \`sudo chmod 0666 ${TUN_CLONE_DEVICE}\`)`;
  } else if (step === "attach" && (code === EPERM || code === EACCES)) {
    kind2 = "permission-denied";
    text = `not permitted to attach to "${name}": it belongs to another user (or is not ` +
      `persistent); run as root, or recreate it for this user: \`sudo ip tuntap del dev ${name} ` +
      `mode ${kind}\` and \`sudo ip tuntap add dev ${name} mode ${kind} user $(id -un)\``;
  } else if (step === "attach" && code === EBUSY) {
    kind2 = "busy";
    text = `"${name}" is already open in another process (a ${kind} device takes one reader); ` +
      `close that one first (\`ip -details link show ${name}\` shows it)`;
  } else if (step === "attach" && code === EINVAL) {
    const other = kind === "tap" ? "TunDevice" : "TapDevice";
    text = `"${name}" is not a ${kind.toUpperCase()} device (a ${
      kind === "tap" ? "TUN" : "TAP"
    } device needs ${other}.open, another interface type cannot be attached)`;
  } else {
    text = `${step} failed (errno ${code})`;
  }
  return new DeviceError(kind2, `${kind.toUpperCase()} "${name}": ${text} (errno ${code})`, {
    errno: code,
  });
}
const encoder = new TextEncoder();

function ifreq(name: string): Uint8Array {
  const ifr = new Uint8Array(IFREQ_BYTES);
  encoder.encodeInto(name, ifr.subarray(0, IFNAMSIZ - 1));
  return ifr;
}

/** What {@link openTunTapFd} hands the device. */
interface TunTapFd {
  fd: number;
  eventFd: number;
  mtu: number;
}

/** Opens and attaches; gives back everything on failure. */
function openTunTapFd(o: ResolvedTunTapOptions): TunTapFd {
  const c = libc();
  // The interface must exist (an unprivileged TUNSETIFF on a missing name fails with EPERM,
  // which would say nothing useful): SIOCGIFINDEX on an unprivileged datagram socket.
  const s = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) throw tunTapError("socket(AF_INET)", errno(), o.kind, o.name);
  let mtu: number;
  try {
    const ifr = ifreq(o.name);
    if (c.ioctl(s, BigInt(SIOCGIFINDEX), ifr) < 0) {
      throw tunTapError("device", errno(), o.kind, o.name);
    }
    const f = ifreq(o.name);
    if (c.ioctl(s, BigInt(SIOCGIFFLAGS), f) < 0) {
      throw tunTapError("ioctl(SIOCGIFFLAGS)", errno(), o.kind, o.name);
    }
    // A TUN/TAP device that is down refuses every write (EIO): say so now.
    if ((new DataView(f.buffer).getUint16(IFR_DATA_OFFSET, true) & IFF_UP) === 0) {
      throw new DeviceError(
        "interface-down",
        `${o.kind.toUpperCase()} "${o.name}" is down: bring it up once as root ` +
          `(\`sudo ip link set ${o.name} up\`)`,
      );
    }
    const q = ifreq(o.name);
    if (c.ioctl(s, BigInt(SIOCGIFMTU), q) < 0) {
      throw tunTapError("ioctl(SIOCGIFMTU)", errno(), o.kind, o.name);
    }
    mtu = new DataView(q.buffer).getInt32(IFR_DATA_OFFSET, true);
  } finally {
    c.close(s);
  }
  const path = encoder.encode(`${TUN_CLONE_DEVICE}\0`);
  const fd = c.open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw tunTapError("clone", errno(), o.kind, o.name);
  let eventFd = -1;
  try {
    const ifr = ifreq(o.name);
    new DataView(ifr.buffer).setUint16(IFREQ_FLAGS_OFFSET, o.flags, true);
    if (c.ioctl(fd, BigInt(TUNSETIFF), ifr) < 0) {
      throw tunTapError("attach", errno(), o.kind, o.name);
    }
    if (o.vnetHeader) {
      const size = new Int32Array([VNET_HDR_BYTES]);
      if (c.ioctl(fd, BigInt(TUNSETVNETHDRSZ), new Uint8Array(size.buffer)) < 0) {
        throw tunTapError("ioctl(TUNSETVNETHDRSZ)", errno(), o.kind, o.name);
      }
      // TUNSETOFFLOAD takes its argument by value, not by pointer.
      if (
        c.ioctlValue(
          fd,
          BigInt(TUNSETOFFLOAD),
          BigInt(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN),
        ) < 0
      ) {
        throw tunTapError("ioctl(TUNSETOFFLOAD)", errno(), o.kind, o.name);
      }
    }
    eventFd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (eventFd < 0) throw tunTapError("eventfd", errno(), o.kind, o.name);
  } catch (e) {
    c.close(fd);
    throw e;
  }
  return { fd, eventFd, mtu };
}

/** A TAP or TUN device (see the module documentation); opened by {@link TapDevice} / {@link TunDevice}. */
export class TunTapDevice implements Device {
  /** Static facts (for TUN `link: "ip"`). */
  readonly capabilities: DeviceCapabilities;
  /** Offload metadata of the frame being delivered (with `vnetHeader`). */
  readonly rxInfo: RxFrameInfo = newRxFrameInfo();
  /** TAP or TUN. */
  readonly kind: TunTapKind;
  /** Whether frames carry a virtio_net_hdr. */
  readonly vnetHeader: boolean;
  readonly #stats: TunTapStats = {
    ...newDeviceStats(),
    parks: 0,
    busyPollYields: 0,
    busyPollPreemptions: 0,
    rxErrors: 0,
    rxLastErrno: 0,
    rxTruncated: 0,
    rxRunts: 0,
    rxChecksumValid: 0,
    rxChecksumPartial: 0,
    rxSuperFrames: 0,
    txSuperFrames: 0,
    txSuperFrames6: 0,
    txSuperFramesEcn: 0,
    txErrors: 0,
    txLastErrno: 0,
    txTooLarge: 0,
  };
  readonly #fd: number;
  readonly #eventFd: number;
  readonly #park: Parker;
  /** The receive buffer (in the packet arena when it has room) and its address/length. */
  #rxBuf: Uint8Array;
  readonly #rxAddress: bigint;
  readonly #rxLength: bigint;
  /** Bytes of a frame read by `ready()` and not delivered yet (0 = none). */
  #pending = 0;
  readonly #maxFrame: number;
  readonly #maxSuperFrame: number;
  // Transmit: address cache of the last array sent from (as AfPacketDevice's Transmitter).
  #lastBytes: Uint8Array | null = null;
  #lastBase = 0;
  #bases = new WeakMap<Uint8Array, number>();
  /** writev's two iovecs (header, frame) and the header after them. */
  readonly #iov = new Uint8Array(new ArrayBuffer(2 * IOVEC_BYTES + VNET_HDR_BYTES + 6));
  readonly #iov32 = new Uint32Array(this.#iov.buffer, 0, (2 * IOVEC_BYTES) >>> 2);
  #closed = false;
  #released = false;
  #receiving = false;

  /** @internal use {@link TapDevice.open} / {@link TunDevice.open} */
  protected constructor(o: ResolvedTunTapOptions, handle: TunTapFd) {
    this.kind = o.kind;
    this.vnetHeader = o.vnetHeader;
    this.#fd = handle.fd;
    this.#eventFd = handle.eventFd;
    const linkHeader = o.kind === "tap" ? ETHERNET_HEADER_BYTES : 0;
    this.#maxFrame = handle.mtu + linkHeader;
    this.#maxSuperFrame = o.vnetHeader ? linkHeader + MAX_SUPER_PACKET_BYTES : this.#maxFrame;
    const vnet = o.vnetHeader;
    this.capabilities = {
      name: o.name,
      mtu: handle.mtu,
      mac: o.mac,
      headroom: 0,
      checksumOffloadRx: vnet,
      checksumOffloadTx: vnet,
      gso: vnet,
      maxSegmentBytes: this.#maxSuperFrame,
      link: o.kind === "tap" ? "ethernet" : "ip",
    };
    const rxBytes = (vnet ? VNET_HDR_BYTES : 0) + this.#maxSuperFrame + RX_TRUNCATION_SLACK;
    this.#rxBuf = packetBytes(rxBytes);
    void this.#rxBuf.buffer;
    this.#rxAddress = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#rxBuf)));
    this.#rxLength = BigInt(this.#rxBuf.length);
    if (vnet) {
      const base = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#iov)));
      writeU64(this.#iov32, 0, base + 2 * IOVEC_BYTES);
      writeU64(this.#iov32, IOV_LEN_OFFSET, VNET_HDR_BYTES);
    }
    this.#park = new Parker(
      this,
      () => {
        if (this.#closed) this.#release();
      },
      handle.fd,
      handle.eventFd,
      o.spinMicros,
      o.busyPollMs,
      this.#stats,
    );
  }

  /** @internal opens the fd for a subclass's `open`. */
  protected static attach(o: ResolvedTunTapOptions): TunTapFd {
    return openTunTapFd(o);
  }

  /** Live counters. */
  get stats(): TunTapStats {
    return this.#stats;
  }

  /** Whether {@link close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Delivers up to `budget` frames, one `read()` each, until none is ready. */
  receive(sink: FrameSink, budget: number): number {
    if (this.#closed) return 0;
    let n = 0;
    this.#receiving = true;
    try {
      while (n < budget) {
        let length = this.#pending;
        if (length === 0) length = this.#read();
        if (length === 0) break;
        this.#pending = 0;
        if (this.#deliver(sink, length)) n++;
        if (this.#closed) break;
      }
    } finally {
      this.#receiving = false;
      if (this.#closed) this.#release();
    }
    if (n > 0) this.#park.received();
    return n;
  }

  /** One nonblocking read into the receive buffer: its length, or 0 (nothing, or an error). */
  #read(): number {
    const r = libc().readAddress(this.#fd, this.#rxAddress, this.#rxLength);
    if (r > 0) return r;
    if (r < 0) {
      const e = errno();
      if (e !== EAGAIN && e !== EINTR) {
        this.#stats.rxErrors++;
        this.#stats.rxLastErrno = e;
      }
    }
    return 0;
  }

  /** Hands the frame in the receive buffer to `sink`; false when it was dropped (counted). */
  #deliver(sink: FrameSink, length: number): boolean {
    const stats = this.#stats;
    const b = this.#rxBuf;
    if (length >= b.length) {
      stats.rxTruncated++;
      stats.rxDropped++;
      return false;
    }
    let start = 0;
    const info = this.rxInfo;
    if (this.vnetHeader) {
      if (length <= VNET_HDR_BYTES) {
        stats.rxRunts++;
        stats.rxDropped++;
        return false;
      }
      // struct virtio_net_hdr, little-endian (virtio 1.0).
      const flags = b[VNET_FLAGS];
      info.gsoType = b[VNET_GSO_TYPE];
      info.headerLength = readLe16(b, VNET_HDR_LEN);
      info.gsoSize = readLe16(b, VNET_GSO_SIZE);
      if (info.gsoSize !== 0) stats.rxSuperFrames++;
      if ((flags & VNET_F_NEEDS_CSUM) !== 0) {
        info.checksum = RX_CHECKSUM_PARTIAL;
        info.csumStart = readLe16(b, VNET_CSUM_START);
        info.csumOffset = readLe16(b, VNET_CSUM_OFFSET);
        stats.rxChecksumPartial++;
      } else {
        info.checksum = (flags & VNET_F_DATA_VALID) !== 0 ? RX_CHECKSUM_VALID : RX_CHECKSUM_UNKNOWN;
        if (info.checksum === RX_CHECKSUM_VALID) stats.rxChecksumValid++;
        info.csumStart = 0;
        info.csumOffset = 0;
      }
      start = VNET_HDR_BYTES;
      length -= VNET_HDR_BYTES;
    } else {
      info.checksum = RX_CHECKSUM_UNKNOWN;
      info.gsoType = GSO_NONE;
      info.gsoSize = 0;
    }
    stats.rxFrames++;
    stats.rxBytes += length;
    sink.onFrame(b, start, length);
    return true;
  }

  /** Whether a frame is ready (a nonblocking read, kept for the next {@link receive}). */
  ready(): boolean {
    if (this.#closed) return false;
    if (this.#pending > 0) return true;
    this.#pending = this.#read();
    return this.#pending > 0;
  }

  /** Sends one frame with one `write()` (or `writev()` behind a zero virtio_net_hdr). */
  transmit(bytes: Uint8Array, offset: number, length: number): boolean {
    if (this.#closed) return this.#dropped();
    if (length > this.#maxFrame || length <= 0) return this.#tooLarge();
    if (this.vnetHeader) return this.#writeVnet(bytes, offset, length, 0, 0, 0);
    if (bytes !== this.#lastBytes) this.#base(bytes);
    const r = libc().writeAddress(
      this.#fd,
      BigInt(this.#lastBase + offset),
      BigInt(length),
    );
    return this.#counted(r, length);
  }

  /**
   * Sends one frame whose layer-4 checksum the kernel completes and, with
   * `gsoSize > 0`, a TCP super-frame over IPv4 or IPv6 for it to segment
   * (needs `vnetHeader`; gso_type from the IP version, GSO_ECN with CWR).
   * `csumStart` counts from the frame's start (the IP header for TUN).
   */
  transmitOffload(
    bytes: Uint8Array,
    offset: number,
    length: number,
    csumStart: number,
    csumOffset: number,
    gsoSize: number,
  ): boolean {
    if (this.#closed) return this.#dropped();
    if (!this.vnetHeader) return this.#dropped();
    if (length > (gsoSize > 0 ? this.#maxSuperFrame : this.#maxFrame)) return this.#tooLarge();
    return this.#writeVnet(bytes, offset, length, csumStart, csumOffset, gsoSize);
  }

  #writeVnet(
    bytes: Uint8Array,
    offset: number,
    length: number,
    csumStart: number,
    csumOffset: number,
    gsoSize: number,
  ): boolean {
    if (bytes !== this.#lastBytes) this.#base(bytes);
    let headerLength = 0;
    let gsoType = GSO_NONE;
    if (gsoSize > 0) {
      // RFC 9293 §3.1: the TCP data offset in 32-bit words; the kernel copies these headers.
      headerLength = csumStart + ((bytes[offset + csumStart + TCP_DATA_OFFSET_BYTE] >>> 4) << 2);
      // TUN: the IP header starts the frame; TAP: it follows the Ethernet header (one tag at most).
      let ip = offset;
      if (this.kind === "tap") {
        const type = (bytes[offset + ETHERTYPE_OFFSET] << 8) | bytes[offset + ETHERTYPE_OFFSET + 1];
        ip += ETHERNET_HEADER_BYTES + (type === ETHERTYPE_VLAN ? VLAN_TAG_LEN : 0);
      }
      gsoType = tcpGsoType(bytes, ip, offset + csumStart);
      const stats = this.#stats;
      stats.txSuperFrames++;
      if ((gsoType & ~GSO_ECN) === GSO_TCPV6) stats.txSuperFrames6++;
      if ((gsoType & GSO_ECN) !== 0) stats.txSuperFramesEcn++;
    }
    writeVnetHeader(
      this.#iov,
      2 * IOVEC_BYTES,
      csumStart,
      csumOffset,
      gsoType,
      gsoSize,
      headerLength,
    );
    writeU64(this.#iov32, IOVEC_BYTES, this.#lastBase + offset);
    writeU64(this.#iov32, IOVEC_BYTES + IOV_LEN_OFFSET, length);
    return this.#counted(libc().writev(this.#fd, this.#iov, 2), length);
  }

  #base(bytes: Uint8Array): void {
    let base = this.#bases.get(bytes);
    if (base === undefined) {
      // Touching .buffer moves a small on-heap typed array off-heap, so its address is stable.
      void bytes.buffer;
      base = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
      this.#bases.set(bytes, base);
    }
    this.#lastBytes = bytes;
    this.#lastBase = base;
  }

  #counted(r: number, length: number): boolean {
    const stats = this.#stats;
    if (r < 0) {
      stats.txErrors++;
      stats.txLastErrno = errno();
      stats.txDropped++;
      return false;
    }
    stats.txFrames++;
    stats.txBytes += length;
    this.#park.txActivity = true;
    return true;
  }

  #tooLarge(): false {
    this.#stats.txTooLarge++;
    this.#stats.txDropped++;
    return false;
  }

  #dropped(): false {
    this.#stats.txDropped++;
    return false;
  }

  /** Nothing is staged: every frame left in its `transmit`. */
  flush(): void {}

  /** Resolves when a frame is ready, after `timeoutMs`, or on close; never blocks. */
  async wait(timeoutMs: number): Promise<void> {
    if (this.#closed || this.ready()) return;
    await this.#park.wait(timeoutMs);
  }

  /** Detaches from the device (a persistent one stays for the next `open`). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#park.wake();
    this.#release();
  }

  #release(): void {
    if (this.#released || this.#receiving || this.#park.parked > 0) return;
    this.#released = true;
    const c = libc();
    c.close(this.#fd);
    c.close(this.#eventFd);
    releasePacketBytes(this.#rxBuf);
    this.#rxBuf = new Uint8Array(0);
  }
}

/**
 * A TAP device: Ethernet frames to and from the kernel's interface of that
 * name. See the module documentation.
 *
 * @example
 * ```ts ignore
 * import { TapDevice } from "./tun_tap.ts";
 * // Once, as root: ip tuntap add dev tap0 mode tap user $USER && ip link set tap0 up
 * const tap = await TapDevice.open("tap0"); // deno run --allow-ffi --allow-read
 * ```
 */
export class TapDevice extends TunTapDevice {
  /**
   * Attaches to an existing TAP device.
   *
   * Permissions: `--allow-ffi`; the device's owner, or CAP_NET_ADMIN.
   *
   * @param name interface name, e.g. `"tap0"`
   * @param options vnetHeader, mac, spinMicros, busyPollMs
   * @returns the open device
   * @throws {DeviceError} `no-ffi-permission`, `no-such-device`, `permission-denied`, `busy`, `system`
   */
  static open(name: string, options: TunTapOptions = {}): Promise<TapDevice> {
    try {
      const o = resolveTunTapOptions("tap", name, options);
      return Promise.resolve(new TapDevice(o, TunTapDevice.attach(o)));
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

/**
 * A TUN device: bare IPv4 and IPv6 packets (`capabilities.link === "ip"`),
 * no Ethernet, no ARP, no NDP address resolution. See the module documentation.
 *
 * @example
 * ```ts ignore
 * import { TunDevice } from "./tun_tap.ts";
 * // Once, as root: ip tuntap add dev tun0 mode tun user $USER && ip link set tun0 up
 * const tun = await TunDevice.open("tun0");
 * ```
 */
export class TunDevice extends TunTapDevice {
  /**
   * Attaches to an existing TUN device.
   *
   * Permissions: `--allow-ffi`; the device's owner, or CAP_NET_ADMIN.
   *
   * @param name interface name, e.g. `"tun0"`
   * @param options vnetHeader, spinMicros, busyPollMs
   * @returns the open device
   * @throws {DeviceError} `no-ffi-permission`, `no-such-device`, `permission-denied`, `busy`, `system`
   */
  static open(name: string, options: TunTapOptions = {}): Promise<TunDevice> {
    try {
      const o = resolveTunTapOptions("tun", name, options);
      return Promise.resolve(new TunDevice(o, TunTapDevice.attach(o)));
    } catch (e) {
      return Promise.reject(e);
    }
  }
}
