/**
 * libc bindings through Deno's FFI — the ONLY place in rawstack that calls
 * `Deno.dlopen`. Loaded lazily once per process by {@link libc}.
 *
 * Choices follow PLATFORM_NOTES.md: 64-bit parameters are BigInts; `ssize_t`
 * results are read as `i32`; `send` is bound twice, once taking a `buffer`
 * and once taking a raw address as `u64` (`base + BigInt(offset)` measured
 * ≈150 ns per call versus ≈245 ns for a `subarray` per frame); `poll` is bound
 * twice, synchronously (spinning, zero timeout) and `nonblocking` (parking on
 * another thread). Never read errno after a nonblocking call.
 *
 * Permissions: `--allow-ffi`. Without it {@link libc} throws a
 * `DeviceError("no-ffi-permission")`.
 *
 * @module
 */

import { DeviceError, type DeviceErrorCode } from "./device.ts";

/** Linux x86-64 / generic constants used by the AF_PACKET driver. */
export const AF_PACKET = 17;
/** Raw packets including the link-level header. */
export const SOCK_RAW = 3;
/** Datagram socket (used for interface ioctls). */
export const SOCK_DGRAM = 2;
/** IPv4 family (ioctl socket). */
export const AF_INET = 2;
/** Close on exec flag for socket(2) type. */
export const SOCK_CLOEXEC = 0o2000000;
/** Non-blocking flag for socket(2) type. */
export const SOCK_NONBLOCK = 0o4000;
/** Every protocol (host order; use htons). */
export const ETH_P_ALL = 0x0003;
/** setsockopt level of AF_PACKET options. */
export const SOL_PACKET = 263;
/** setsockopt level of generic socket options. */
export const SOL_SOCKET = 1;
/** Socket send buffer size. */
export const SO_SNDBUF = 7;
/** Socket receive buffer size. */
export const SO_RCVBUF = 8;
/** Socket error (clears it). */
export const SO_ERROR = 4;
/** PACKET_MMAP receive ring. */
export const PACKET_RX_RING = 5;
/** Counters (reading resets them). */
export const PACKET_STATISTICS = 6;
/** Ring header version. */
export const PACKET_VERSION = 10;
/** Skip the qdisc layer on transmit. */
export const PACKET_QDISC_BYPASS = 20;
/** Do not deliver frames this host transmitted. */
export const PACKET_IGNORE_OUTGOING = 23;
/** Prefix every frame (both directions) with a `struct virtio_net_hdr` (offload metadata). */
export const PACKET_VNET_HDR = 15;
/** tpacket version 2. */
export const TPACKET_V2 = 1;
/** tpacket version 3 (block based). */
export const TPACKET_V3 = 2;
/** Ring slot owned by the kernel. */
export const TP_STATUS_KERNEL = 0;
/** Ring slot / block ready for user space. */
export const TP_STATUS_USER = 1;
/** Frame was truncated into the ring (snaplen < len). */
export const TP_STATUS_COPY = 2;
/** Frames were lost before this one. */
export const TP_STATUS_LOSING = 4;
/** The frame's layer-4 checksum is not filled in yet (sent locally with CHECKSUM_PARTIAL). */
export const TP_STATUS_CSUMNOTREADY = 8;
/** The frame's layer-4 checksum was verified (CHECKSUM_UNNECESSARY). */
export const TP_STATUS_CSUM_VALID = 0x80;
/** sll_pkttype of a frame this host sent. */
export const PACKET_OUTGOING = 4;
/** ioctl: interface flags. */
export const SIOCGIFFLAGS = 0x8913;
/** ioctl: MTU. */
export const SIOCGIFMTU = 0x8921;
/** ioctl: hardware address. */
export const SIOCGIFHWADDR = 0x8927;
/** ioctl: interface index. */
export const SIOCGIFINDEX = 0x8933;
/** Interface is administratively up. */
export const IFF_UP = 0x1;
/** Interface has carrier / is operational. */
export const IFF_RUNNING = 0x40;
/** poll: data to read. */
export const POLLIN = 0x1;
/** poll: error. */
export const POLLERR = 0x8;
/** poll: hang up. */
export const POLLHUP = 0x10;
/** poll: fd not open. */
export const POLLNVAL = 0x20;
/** mmap protection: read. */
export const PROT_READ = 1;
/** mmap protection: write. */
export const PROT_WRITE = 2;
/** mmap: shared mapping. */
export const MAP_SHARED = 1;
/** mmap: private copy-on-write mapping. */
export const MAP_PRIVATE = 2;
/** mmap: place the mapping exactly at `addr`, replacing whatever was mapped there. */
export const MAP_FIXED = 0x10;
/** mmap: memory not backed by a file (zero-filled pages). */
export const MAP_ANONYMOUS = 0x20;
/** mmap's failure result, `(void *) -1`, as an address. */
export const MAP_FAILED_ADDRESS = 0xffff_ffff_ffff_ffffn;
/** mmap: populate page tables up front. */
export const MAP_LOCKED = 0x2000;
/** send/recv: do not block. */
export const MSG_DONTWAIT = 0x40;
/** recv: return the real length of a truncated frame. */
export const MSG_TRUNC = 0x20;
/** getrusage: the calling thread (Linux ≥ 2.6.26). */
export const RUSAGE_THREAD = 1;
/** sizeof(struct rusage) on 64-bit Linux: two timevals and fourteen longs. */
export const RUSAGE_BYTES = 144;
/** Offset of `ru_nivcsw` (involuntary context switches) in struct rusage on 64-bit Linux. */
export const RUSAGE_NIVCSW_OFFSET = 136;
/** eventfd: non-blocking. */
export const EFD_NONBLOCK = 0o4000;
/** eventfd: close on exec. */
export const EFD_CLOEXEC = 0o2000000;
/** open(2) read only. */
export const O_RDONLY = 0;
/** open(2) close on exec. */
export const O_CLOEXEC = 0o2000000;
/** setns(2): network namespace. */
export const CLONE_NEWNET = 0x40000000;
/** open(2) read and write. */
export const O_RDWR = 2;
/** open(2) nonblocking. */
export const O_NONBLOCK = 0o4000;

/** errno values. */
export const EPERM = 1;
/** No such file or directory. */
export const ENOENT = 2;
/** Input/output error (a write to a TAP/TUN device that is down). */
export const EIO = 5;
/** Interrupted system call. */
export const EINTR = 4;
/** No such device or address. */
export const ENXIO = 6;
/** Resource temporarily unavailable. */
export const EAGAIN = 11;
/** No buffer space / out of memory. */
export const ENOMEM = 12;
/** Permission denied. */
export const EACCES = 13;
/** Device or resource busy. */
export const EBUSY = 16;
/** No such device. */
export const ENODEV = 19;
/** Invalid argument. */
export const EINVAL = 22;
/** Message too long. */
export const EMSGSIZE = 90;
/** No buffer space available. */
export const ENOBUFS = 105;
/** Network is down. */
export const ENETDOWN = 100;

/** The libc functions rawstack binds, in `Deno.dlopen` form. */
export const LIBC_SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  /** ioctl(fd, request, value): a request that takes its argument by value (TUNSETOFFLOAD). */
  ioctlValue: { name: "ioctl", parameters: ["i32", "u64", "u64"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  pollNonblocking: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  /**
   * ppoll(fds, nfds, const struct timespec *timeout, NULL) on another thread: a park whose
   * deadline is not a whole millisecond away (poll() takes whole milliseconds).
   */
  ppollNonblocking: {
    name: "ppoll",
    parameters: ["buffer", "u64", "buffer", "pointer"],
    result: "i32",
    nonblocking: true,
  },
  send: { parameters: ["i32", "buffer", "u64", "i32"], result: "i32" },
  sendAddress: { name: "send", parameters: ["i32", "u64", "u64", "i32"], result: "i32" },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  /** sendmmsg(fd, msgvec, vlen, flags): the message vector by address (a batch may resume mid-way). */
  sendmmsg: { parameters: ["i32", "u64", "u32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "u64", "i32", "buffer", "u32"], result: "i32" },
  recvfrom: {
    parameters: ["i32", "buffer", "u64", "i32", "buffer", "buffer"],
    result: "i32",
  },
  close: { parameters: ["i32"], result: "i32" },
  /** getrusage(who, struct rusage *): the busy poll's involuntary context switches. */
  getrusage: { parameters: ["i32", "buffer"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "u64"], result: "i32" },
  /** write(fd, address, length): a frame by address (TAP/TUN transmit, no view per frame). */
  writeAddress: { name: "write", parameters: ["i32", "u64", "u64"], result: "i32" },
  /** writev(fd, iov, iovcnt): header and frame (TAP/TUN with a virtio_net_hdr). */
  writev: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "u64"], result: "i32" },
  /** read(fd, address, length): into a buffer by address (TAP/TUN receive). */
  readAddress: { name: "read", parameters: ["i32", "u64", "u64"], result: "i32" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  strerror: { parameters: ["i32"], result: "pointer" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** The typed symbol table returned by {@link libc}. */
export type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

let library: Deno.DynamicLibrary<typeof LIBC_SYMBOLS> | null = null;
let errnoView: Deno.UnsafePointerView | null = null;

/**
 * Opens libc once per process and returns its symbols.
 *
 * Permissions: `--allow-ffi`.
 *
 * @returns the bound functions
 * @throws {DeviceError} `no-ffi-permission` when FFI is not allowed
 *
 * @example
 * ```ts ignore
 * import { libc } from "./libc.ts";
 * const fd = libc().socket(17, 3, 0x0300); // needs --allow-ffi and root
 * ```
 */
export function libc(): Libc {
  if (library === null) {
    try {
      library = Deno.dlopen("libc.so.6", LIBC_SYMBOLS);
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
        throw new DeviceError(
          "no-ffi-permission",
          "rawstack's AF_PACKET driver calls libc through Deno's FFI: run with --allow-ffi " +
            "(e.g. `deno run --allow-ffi ...` or `-A`)",
          { cause: e },
        );
      }
      throw new DeviceError("system", `could not load libc.so.6: ${e}`, { cause: e });
    }
    const p = library.symbols.__errno_location();
    // errno lives in the main thread's TLS; the address is stable for the process.
    errnoView = p === null ? null : new Deno.UnsafePointerView(p);
  }
  return library.symbols;
}

/**
 * Reads errno of the last synchronous libc call on the JavaScript thread. Not
 * meaningful after a `nonblocking` call (that ran on another thread).
 *
 * @returns the errno value (0 when unknown)
 *
 * @example
 * ```ts ignore
 * import { errno, libc } from "./libc.ts";
 * if (libc().close(-1) < 0) console.log(errno()); // 9 (EBADF)
 * ```
 */
export function errno(): number {
  return errnoView === null ? 0 : errnoView.getInt32(0);
}

/**
 * The C library's description of an errno value.
 *
 * @param code errno value
 * @returns e.g. "No such device"
 *
 * @example
 * ```ts ignore
 * import { strerror } from "./libc.ts";
 * console.log(strerror(19)); // "No such device"
 * ```
 */
export function strerror(code: number): string {
  const p = libc().strerror(code);
  return p === null ? `errno ${code}` : Deno.UnsafePointerView.getCString(p);
}

/**
 * Builds a typed {@link DeviceError} for a failed system call, choosing the
 * code from errno and adding advice the user can act on.
 *
 * @param what the call and its subject, e.g. `"socket(AF_PACKET)"`
 * @param code errno of the failure
 * @param ifname interface concerned, for the message
 * @returns the error to throw
 *
 * @example
 * ```ts
 * import { systemError } from "./libc.ts";
 * const e = systemError("bind", 19, "nope0");
 * console.assert(e.code === "no-such-device" && e.errno === 19);
 * console.assert(systemError("socket", 1, "veth0").code === "permission-denied");
 * ```
 */
export function systemError(what: string, code: number, ifname: string): DeviceError {
  let kind: DeviceErrorCode = "system";
  let advice = "";
  if (code === EPERM || code === EACCES) {
    kind = "permission-denied";
    advice = "AF_PACKET sockets need root or CAP_NET_RAW: run as root, or grant the capability " +
      "(e.g. `sudo setcap cap_net_raw+ep $(which deno)`)";
  } else if (code === ENODEV || code === ENXIO) {
    kind = "no-such-device";
    advice = `there is no network interface named "${ifname}" in this network namespace ` +
      "(list them with `ip link`)";
  } else if (code === ENETDOWN) {
    kind = "interface-down";
    advice = `bring it up with \`ip link set ${ifname} up\``;
  }
  const text = library === null ? `errno ${code}` : strerror(code);
  return new DeviceError(
    kind,
    `${what} on "${ifname}" failed: ${text} (errno ${code})${advice ? `; ${advice}` : ""}`,
    { errno: code },
  );
}

/**
 * Converts a host-order 16-bit value to network byte order (x86-64 is little-endian).
 *
 * @param value 0..65535
 * @returns the byte-swapped value
 *
 * @example
 * ```ts
 * import { htons } from "./libc.ts";
 * console.assert(htons(0x0003) === 0x0300);
 * ```
 */
export function htons(value: number): number {
  return ((value & 0xff) << 8) | ((value >>> 8) & 0xff);
}
