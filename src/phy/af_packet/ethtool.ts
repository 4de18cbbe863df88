/**
 * The interface's generic receive offload (GRO) through the ethtool ioctl
 * (issue 22: "let the kernel do GRO for us").
 *
 * A kernel receiver with GRO on handles a few 64 KiB coalesced skbs instead of
 * many 1514-byte frames. AF_PACKET taps after GRO (`__netif_receive_skb`), so
 * a packet socket with PACKET_VNET_HDR receives the same super-frames, with
 * `gso_type`/`gso_size` and VIRTIO_NET_HDR_F_DATA_VALID (the kernel validated
 * every coalesced segment's checksum: CHECKSUM_UNNECESSARY): one TCP input and
 * about one ACK per 64 KiB. On veth, GRO happens only when the device's GRO
 * feature is on (since Linux 5.13 that alone enables veth's NAPI), and it is
 * off by default; `ethtool -K <if> gro on` is what this module does without
 * the program: `ioctl(fd, SIOCETHTOOL, &ifr)` with `ifr.ifr_data` pointing at
 * a `struct ethtool_value { __u32 cmd; __u32 data; }` (include/uapi/linux/
 * ethtool.h), commands ETHTOOL_GGRO / ETHTOOL_SGRO. The kernel serves it on any
 * socket of the interface's network namespace (net/socket.c `sock_do_ioctl`
 * falls back to `dev_ioctl`), so the packet socket itself asks; ETHTOOL_SGRO
 * needs CAP_NET_ADMIN there.
 *
 * @module
 */

import { errno, libc } from "../libc.ts";
import { IFNAMSIZ, IFR_DATA_OFFSET, IFREQ_BYTES } from "./layout.ts";

/** ioctl SIOCETHTOOL (include/uapi/linux/sockios.h). */
export const SIOCETHTOOL = 0x8946;
/** ethtool command: get GRO (struct ethtool_value). */
export const ETHTOOL_GGRO = 0x2b;
/** ethtool command: set GRO (struct ethtool_value). */
export const ETHTOOL_SGRO = 0x2c;
/** sizeof(struct ethtool_value): `__u32 cmd; __u32 data;`. */
export const ETHTOOL_VALUE_BYTES = 8;
/** Offset of `cmd` in struct ethtool_value. */
export const ETHTOOL_VALUE_CMD_OFFSET = 0;
/** Offset of `data` in struct ethtool_value. */
export const ETHTOOL_VALUE_DATA_OFFSET = 4;

/**
 * A `struct ethtool_value` in host byte order (little-endian on the platforms
 * rawstack runs on).
 *
 * @param cmd ETHTOOL_* command
 * @param data the value (ETHTOOL_S*), 0 for a get
 */
export function ethtoolValue(cmd: number, data: number): Uint8Array {
  const bytes = new Uint8Array(ETHTOOL_VALUE_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(ETHTOOL_VALUE_CMD_OFFSET, cmd >>> 0, true);
  view.setUint32(ETHTOOL_VALUE_DATA_OFFSET, data >>> 0, true);
  return bytes;
}

/**
 * The `struct ifreq` of a SIOCETHTOOL request: the interface name
 * (NUL-terminated, `ifr_name[IFNAMSIZ]`) and at {@link IFR_DATA_OFFSET} the
 * 64-bit address of the command buffer (`ifr_data`).
 *
 * @param ifname interface name (1..15 bytes)
 * @param dataAddress address of the struct ethtool_value
 */
export function ethtoolIfreq(ifname: string, dataAddress: bigint): Uint8Array {
  const ifr = new Uint8Array(IFREQ_BYTES);
  new TextEncoder().encodeInto(ifname, ifr.subarray(0, IFNAMSIZ - 1));
  new DataView(ifr.buffer).setBigUint64(IFR_DATA_OFFSET, dataAddress, true);
  return ifr;
}

/** Runs one ethtool_value command; returns its `data`, or `-errno` when refused. */
function ethtoolCommand(fd: number, ifname: string, cmd: number, data: number): number {
  const value = ethtoolValue(cmd, data);
  const address = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(value)));
  const ifr = ethtoolIfreq(ifname, address);
  if (libc().ioctl(fd, BigInt(SIOCETHTOOL), ifr) < 0) return -Math.max(1, errno());
  return new DataView(value.buffer).getUint32(ETHTOOL_VALUE_DATA_OFFSET, true);
}

/** The interface's GRO state: `true`/`false`, or `-errno` when the kernel refuses to say. */
export function getGro(fd: number, ifname: string): boolean | number {
  const r = ethtoolCommand(fd, ifname, ETHTOOL_GGRO, 0);
  return r < 0 ? r : r !== 0;
}

/** Sets the interface's GRO; returns 0, or `-errno` when refused. */
export function setGro(fd: number, ifname: string, on: boolean): number {
  const r = ethtoolCommand(fd, ifname, ETHTOOL_SGRO, on ? 1 : 0);
  return r < 0 ? r : 0;
}

/** What {@link enableKernelGro} did. */
export interface KernelGroResult {
  /** The interface's GRO is on now (turned on here, or already on). */
  readonly on: boolean;
  /** GRO was off and turned on here: turn it off again at close. */
  readonly restoreOff: boolean;
  /** Why GRO is not on (null when on). */
  readonly fallbackReason: string | null;
}

/**
 * Turns the interface's GRO on unless it already is, remembering whether to
 * turn it off again ({@link KernelGroResult.restoreOff}). A refusal (no
 * CAP_NET_ADMIN, a driver without GRO) is a fallback with its reason, not an
 * error.
 */
export function enableKernelGro(fd: number, ifname: string): KernelGroResult {
  const was = getGro(fd, ifname);
  if (was === true) return { on: true, restoreOff: false, fallbackReason: null };
  if (typeof was === "number") {
    return {
      on: false,
      restoreOff: false,
      fallbackReason: `ioctl(SIOCETHTOOL, ETHTOOL_GGRO) refused: errno ${-was}`,
    };
  }
  const set = setGro(fd, ifname, true);
  if (set < 0) {
    return {
      on: false,
      restoreOff: false,
      fallbackReason: `ioctl(SIOCETHTOOL, ETHTOOL_SGRO) refused: errno ${-set}`,
    };
  }
  // A driver may accept the request and keep the feature off (fixed feature): read it back.
  if (getGro(fd, ifname) !== true) {
    return {
      on: false,
      restoreOff: false,
      fallbackReason: "ETHTOOL_SGRO accepted but GRO stayed off (fixed feature)",
    };
  }
  return { on: true, restoreOff: true, fallbackReason: null };
}

/**
 * Most interfaces whose GRO this process holds on at once. Each entry is held
 * by at least one open device (and so one packet socket), so the table is
 * bounded by the devices; this cap only guards against a leak: a device past
 * it still gets GRO on (and the interface's GRO is then left on at its close,
 * counted by the caller as a restore failure rather than turned off under
 * another device).
 */
export const KERNEL_GRO_SHARES_MAX = 1024;

/** One interface's GRO as held on by this process's devices. */
interface GroShare {
  /** Devices (kernelGro on) that hold GRO on. */
  holders: number;
  /** One of them found GRO off and turned it on: turn it off when the last lets go. */
  restoreOff: boolean;
}

/** Shares by {@link kernelGroKey}. Entries exist only while a holder does. */
const groShares = new Map<string, GroShare>();

/**
 * The identity of an interface for {@link acquireKernelGro}: its network
 * namespace (the inode of `/run/netns/<name>`, or of the calling thread's
 * `/proc/thread-self/ns/net` — two names of one namespace are one key —;
 * the name itself when it cannot be read) and its ifindex (unique within a
 * namespace).
 */
export function kernelGroKey(netns: string | undefined, ifindex: number): string {
  const path = netns === undefined ? "/proc/thread-self/ns/net" : `/run/netns/${netns}`;
  let ns = `name:${netns ?? ""}`;
  try {
    const ino = Deno.statSync(path).ino;
    if (ino !== null) ns = `ino:${ino}`;
  } catch {
    // No read permission or no such file: the name.
  }
  return `${ns}/${ifindex}`;
}

/** What {@link acquireKernelGro} took: hand it back to {@link releaseKernelGro} once. */
export interface KernelGroHold {
  readonly key: string;
  /** Past {@link KERNEL_GRO_SHARES_MAX}: not in the table, nothing to restore. */
  readonly untracked: boolean;
}

/**
 * Turns the interface's GRO on for one more device of this process
 * (option `kernelGro`): the first holder turns it on if it is off and
 * remembers to restore it; later holders only count (and turn it on again if
 * someone turned it off meanwhile, keeping the duty to restore). So GRO goes
 * back off only when the last device that held it closes, and never when it
 * was on before the first (the admin's, or another program's).
 *
 * @returns the result and, when GRO is on, the hold to release at close
 */
export function acquireKernelGro(
  fd: number,
  ifname: string,
  key: string,
): { result: KernelGroResult; hold: KernelGroHold | null } {
  const result = enableKernelGro(fd, ifname);
  if (!result.on) return { result, hold: null };
  let share = groShares.get(key);
  if (share === undefined) {
    if (groShares.size >= KERNEL_GRO_SHARES_MAX) {
      return { result, hold: { key, untracked: true } };
    }
    share = { holders: 0, restoreOff: false };
    groShares.set(key, share);
  }
  share.holders++;
  if (result.restoreOff) share.restoreOff = true;
  return { result, hold: { key, untracked: false } };
}

/**
 * Lets go of one device's hold on the interface's GRO; the last holder turns
 * it off again when one of the holders turned it on. Never throws: the
 * interface may be gone already (then so is its GRO setting).
 *
 * @returns 0, or `-errno` when turning GRO off was refused, or 1 when an
 *   untracked hold left GRO as it is (a restore that could not be done)
 */
export function releaseKernelGro(fd: number, ifname: string, hold: KernelGroHold): number {
  if (hold.untracked) return 1;
  const share = groShares.get(hold.key);
  if (share === undefined) return 0;
  share.holders--;
  if (share.holders > 0) return 0;
  groShares.delete(hold.key);
  return share.restoreOff ? setGro(fd, ifname, false) : 0;
}

/** Devices of this process holding the interface's GRO on (tests, diagnostics). */
export function kernelGroHolders(key: string): number {
  return groShares.get(key)?.holders ?? 0;
}
