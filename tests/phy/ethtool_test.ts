/** The SIOCETHTOOL request layout of option `kernelGro` (src/phy/af_packet/ethtool.ts). */
import assert from "node:assert/strict";
import {
  ETHTOOL_GGRO,
  ETHTOOL_SGRO,
  ETHTOOL_VALUE_BYTES,
  ethtoolIfreq,
  ethtoolValue,
  SIOCETHTOOL,
} from "../../src/phy/af_packet/ethtool.ts";
import { IFR_DATA_OFFSET, IFREQ_BYTES } from "../../src/phy/af_packet/layout.ts";

Deno.test("ethtoolValue behaviour: struct ethtool_value { __u32 cmd; __u32 data; } little-endian", () => {
  assert.equal(ETHTOOL_VALUE_BYTES, 8);
  // include/uapi/linux/ethtool.h: ETHTOOL_GGRO 0x2b, ETHTOOL_SGRO 0x2c; sockios.h SIOCETHTOOL.
  assert.equal(ETHTOOL_GGRO, 0x2b);
  assert.equal(ETHTOOL_SGRO, 0x2c);
  assert.equal(SIOCETHTOOL, 0x8946);
  assert.deepEqual([...ethtoolValue(ETHTOOL_SGRO, 1)], [0x2c, 0, 0, 0, 1, 0, 0, 0]);
  assert.deepEqual([...ethtoolValue(ETHTOOL_GGRO, 0)], [0x2b, 0, 0, 0, 0, 0, 0, 0]);
});

Deno.test("ethtoolIfreq behaviour: NUL-terminated name, ifr_data address at offset 16", () => {
  const ifr = ethtoolIfreq("rs0", 0x1122334455667788n);
  assert.equal(ifr.length, IFREQ_BYTES);
  assert.equal(IFR_DATA_OFFSET, 16);
  assert.deepEqual([...ifr.subarray(0, 4)], [0x72, 0x73, 0x30, 0]);
  assert.ok(ifr.subarray(4, 16).every((b) => b === 0));
  assert.deepEqual(
    [...ifr.subarray(16, 24)],
    [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11],
  );
  // A 15-character name keeps its terminating NUL.
  const long = ethtoolIfreq("abcdefghijklmnop", 0n);
  assert.equal(long[14], "o".charCodeAt(0));
  assert.equal(long[15], 0);
});
