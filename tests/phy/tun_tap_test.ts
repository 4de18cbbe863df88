import assert from "node:assert/strict";
import {
  IFF_NO_PI,
  IFF_TAP,
  IFF_TUN,
  IFF_VNET_HDR,
  resolveTunTapOptions,
  TapDevice,
  TunDevice,
  tunTapError,
} from "../../src/phy/tun_tap.ts";
import { DeviceError, isDeviceError } from "../../src/phy/device.ts";

Deno.test("resolveTunTapOptions behaviour: flags, defaults and a random local unicast MAC", () => {
  const tap = resolveTunTapOptions("tap", "tap0", {}, (b) => b.fill(0xff));
  assert.equal(tap.flags, IFF_TAP | IFF_NO_PI);
  assert.equal(tap.vnetHeader, false);
  assert.equal(tap.spinMicros, 50);
  assert.equal(tap.busyPollMs, 0);
  // 0xff…: the group bit cleared, the locally administered bit set.
  assert.equal(tap.mac, 0xfe_ff_ff_ff_ff_ff);
  const tun = resolveTunTapOptions("tun", "tun0", { vnetHeader: true });
  assert.equal(tun.flags, IFF_TUN | IFF_NO_PI | IFF_VNET_HDR);
  assert.equal(tun.mac, 0);
  assert.equal(resolveTunTapOptions("tap", "t", { mac: "02:00:00:00:00:07" }).mac, 0x020000000007);
  assert.equal(resolveTunTapOptions("tap", "t", { mac: 0x020000000008 }).mac, 0x020000000008);
});

Deno.test("resolveTunTapOptions behaviour: bad names and options are refused", () => {
  for (const name of ["", "a".repeat(16), "a/b", "a b", "a:1", ".", ".."]) {
    assert.throws(
      () => resolveTunTapOptions("tap", name),
      (e) => isDeviceError(e, "no-such-device"),
      name,
    );
  }
  const bad: Record<string, unknown>[] = [
    { vnetHeader: "yes" },
    { spinMicros: -1 },
    { spinMicros: NaN },
    { busyPollMs: Infinity },
    { mac: "01:00:5e:00:00:01" }, // multicast
    { mac: "00:00:00:00:00:00" },
    { mac: "02:00:00:00:00" },
    { mac: 2 ** 48 },
  ];
  for (const o of bad) {
    assert.throws(() => resolveTunTapOptions("tap", "tap0", o), TypeError, JSON.stringify(o));
  }
  assert.throws(() => resolveTunTapOptions("tun", "tun0", { mac: "02:00:00:00:00:01" }), TypeError);
  assert.throws(() => resolveTunTapOptions("tap", "tap0", null as never), TypeError);
});

Deno.test("tunTapError behaviour: errno to a DeviceError code with advice", () => {
  const cases: [string, number, string, RegExp][] = [
    ["device", 19, "no-such-device", /ip tuntap add dev tap0 mode tap user/],
    ["clone", 2, "no-such-device", /modprobe tun/],
    ["clone", 13, "permission-denied", /\/dev\/net\/tun/],
    ["attach", 1, "permission-denied", /belongs to another user/],
    ["attach", 16, "busy", /already open in another process/],
    ["attach", 22, "system", /TunDevice\.open/],
    ["ioctl(TUNSETOFFLOAD)", 95, "system", /TUNSETOFFLOAD/],
  ];
  for (const [step, code, kind, advice] of cases) {
    const e = tunTapError(step, code, "tap", "tap0");
    assert.ok(e instanceof DeviceError);
    assert.equal(e.code, kind, `${step} ${code}`);
    assert.equal(e.errno, code);
    assert.match(e.message, advice);
  }
  assert.match(tunTapError("device", 19, "tun", "tun0").message, /mode tun/);
});

Deno.test("TapDevice behaviour: open refuses bad input before any system call", async () => {
  await assert.rejects(TapDevice.open("no/such"), (e) => isDeviceError(e, "no-such-device"));
  await assert.rejects(TunDevice.open("tun0", { mac: 1 } as never), TypeError);
});
