/**
 * The kernel side's offloads in a lab: its transmit checksum and
 * segmentation offloads turned off ({@link segmentationOffloadsOff}, so it
 * sends and captures ordinary frames with valid checksums), and Linux BIG TCP
 * on a sending interface ({@link setGsoMaxSize}: TSO frames above 64 KiB).
 *
 * Permissions: `--allow-run` (`ip`, `ethtool`, `python3`); root.
 *
 * @module
 */

import { type CommandResult, run } from "./lab_commands.ts";

/** IFLA_GSO_IPV4_MAX_SIZE (include/uapi/linux/if_link.h). */
const IFLA_GSO_IPV4_MAX_SIZE = 63;
/**
 * python3: sets link attribute argv[2] (u32) of interface argv[1] to argv[3] with one
 * RTM_NEWLINK request (NLM_F_REQUEST | NLM_F_ACK); exits 1 when the kernel refuses.
 */
const SET_LINK_U32_PY = `
import socket, struct, sys
idx = socket.if_nametoindex(sys.argv[1])
body = struct.pack("BxHiII", 0, 0, idx, 0, 0) + struct.pack("HHI", 8, int(sys.argv[2]), int(sys.argv[3]))
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
s.send(struct.pack("IHHII", 16 + len(body), 16, 5, 1, 0) + body)
sys.exit(0 if struct.unpack_from("i", s.recv(4096), 16)[0] == 0 else 1)
`;

/**
 * Turns off an interface's transmit checksum offload and its TCP and generic
 * segmentation offloads (`ethtool -K <if> tx off tso off gso off`): the
 * kernel then cuts what it sends into frames of the link MTU with complete
 * checksums before they leave it (and before a capture on it sees them).
 *
 * Permissions: `--allow-run` (`ip`, `ethtool`).
 *
 * @param netns the interface's namespace
 * @param ifName the interface
 * @returns ethtool's result (throws when it fails)
 *
 * @example
 * ```ts ignore
 * import { segmentationOffloadsOff } from "./lab_offloads.ts";
 * await segmentationOffloadsOff("rsdoc-1-pe", "pe0");
 * ```
 */
export function segmentationOffloadsOff(netns: string, ifName: string): Promise<CommandResult> {
  return run(["ip", "netns", "exec", netns, "ethtool", "-K", ifName, ...OFFLOADS_OFF]);
}

/** ethtool -K features: transmit checksums, TSO and GSO off. */
const OFFLOADS_OFF: readonly string[] = ["tx", "off", "tso", "off", "gso", "off"];

/**
 * Linux BIG TCP on a sending interface: its `gso_max_size` (IPv6) and
 * `gso_ipv4_max_size` (IPv4, Linux 6.3+) set to `bytes`, so its TCP builds
 * TSO frames that large (with its offloads on) and hands them to the other
 * end of the veth whole. The IPv4 attribute goes by one rtnetlink request
 * from `python3` (iproute2 before 6.3 cannot name it).
 *
 * Permissions: `--allow-run` (`ip`, `python3`).
 *
 * @param netns the interface's namespace
 * @param ifName the interface
 * @param bytes largest TSO frame (IP packet), up to 524280 (GSO_MAX_SIZE on 6.x: more is refused)
 *
 * @example
 * ```ts ignore
 * import { setGsoMaxSize } from "./lab_offloads.ts";
 * await setGsoMaxSize("rsdoc-1-pe", "pe0", 185_000);
 * ```
 */
export async function setGsoMaxSize(netns: string, ifName: string, bytes: number): Promise<void> {
  const size = String(bytes);
  await run(["ip", "netns", "exec", netns, "ip", "link", "set", ifName, "gso_max_size", size]);
  await run([
    "ip",
    "netns",
    "exec",
    netns,
    "python3",
    "-c",
    SET_LINK_U32_PY,
    ifName,
    String(IFLA_GSO_IPV4_MAX_SIZE),
    size,
  ]);
}
