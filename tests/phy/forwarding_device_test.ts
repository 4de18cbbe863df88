import assert from "node:assert/strict";
import type {
  Device,
  DeviceCapabilities,
  DeviceStats,
  FrameSink,
  RxFrameInfo,
} from "../../src/phy/device.ts";
import { newDeviceStats, newRxFrameInfo } from "../../src/phy/device.ts";
import { ForwardingDevice } from "../../src/phy/forwarding_device.ts";
import { CaptureDevice } from "../../src/phy/capture.ts";
import { FaultInjector } from "../../src/phy/fault_injector.ts";
import { ForwardingDevice as TestForwardingDevice } from "./_forwarding_device.ts";

/**
 * Every member of {@link Device} and how it is used: read (`get`) or called
 * (`call`). `satisfies Record<keyof Device, …>` makes `deno check` reject
 * this list when a member is added to (or removed from) `Device` without
 * being listed here; the tests below then fail until ForwardingDevice
 * forwards it.
 */
const DEVICE_MEMBERS = {
  capabilities: "get",
  stats: "get",
  rxInfo: "get",
  closed: "get",
  txBatching: "get",
  txPending: "get",
  txRetryDelayMs: "get",
  receive: "call",
  transmit: "call",
  transmitOffload: "call",
  distrustTransmit: "call",
  completeRxChecksums: "set",
  flush: "call",
  wait: "call",
  close: "call",
} as const satisfies Record<keyof Device, "get" | "call" | "set">;

type Member = keyof typeof DEVICE_MEMBERS;
const MEMBERS = Object.keys(DEVICE_MEMBERS) as Member[];

const SINK: FrameSink = { onFrame() {} };
const FRAME = new Uint8Array(60);
/** Arguments each called member is given (distinct values, so a swapped argument shows). */
const ARGS: { [K in Member]?: unknown[] } = {
  receive: [SINK, 7],
  transmit: [FRAME, 0, 60],
  transmitOffload: [FRAME, 0, 60, 34, 16, 0],
  distrustTransmit: [],
  flush: [],
  wait: [5],
  close: [],
};

/**
 * A device whose every member (optional ones included) records that it was
 * reached, with its arguments, and answers with a value of its own.
 */
class ProbeDevice implements Device {
  readonly reached: { member: Member; args: unknown[] }[] = [];
  readonly capabilitiesValue: DeviceCapabilities = {
    name: "probe0",
    mtu: 1500,
    mac: 0x02_00_00_00_00_09,
    headroom: 0,
    checksumOffloadRx: false,
    checksumOffloadTx: false,
    gso: false,
  };
  readonly statsValue: DeviceStats = newDeviceStats();
  readonly rxInfoValue: RxFrameInfo = newRxFrameInfo();
  readonly waitValue: Promise<void> = Promise.resolve();
  #reach(member: Member, args: unknown[] = []): void {
    this.reached.push({ member, args });
  }
  /** What the probe answers for each member (a wrapper may only pass it on). */
  answer(member: Member): unknown {
    switch (member) {
      case "capabilities":
        return this.capabilitiesValue;
      case "stats":
        return this.statsValue;
      case "rxInfo":
        return this.rxInfoValue;
      case "closed":
      case "txBatching":
        return true;
      case "txPending":
        return 3;
      case "txRetryDelayMs":
        return 0.5;
      case "receive":
        return 2;
      case "transmit":
      case "transmitOffload":
        return true;
      case "wait":
        return this.waitValue;
      default:
        return undefined;
    }
  }
  get capabilities(): DeviceCapabilities {
    this.#reach("capabilities");
    return this.capabilitiesValue;
  }
  get stats(): DeviceStats {
    this.#reach("stats");
    return this.statsValue;
  }
  get rxInfo(): RxFrameInfo {
    this.#reach("rxInfo");
    return this.rxInfoValue;
  }
  get closed(): boolean {
    this.#reach("closed");
    return true;
  }
  get txBatching(): boolean {
    this.#reach("txBatching");
    return true;
  }
  get txPending(): number {
    this.#reach("txPending");
    return 3;
  }
  get txRetryDelayMs(): number {
    this.#reach("txRetryDelayMs");
    return 0.5;
  }
  receive(...args: [FrameSink, number]): number {
    this.#reach("receive", args);
    return 2;
  }
  transmit(...args: [Uint8Array, number, number]): boolean {
    this.#reach("transmit", args);
    return true;
  }
  transmitOffload(...args: [Uint8Array, number, number, number, number, number]): boolean {
    this.#reach("transmitOffload", args);
    return true;
  }
  distrustTransmit(): void {
    this.#reach("distrustTransmit");
  }
  get completeRxChecksums(): boolean {
    this.#reach("completeRxChecksums");
    return true;
  }
  set completeRxChecksums(on: boolean) {
    this.#reach("completeRxChecksums", [on]);
  }
  flush(): void {
    this.#reach("flush");
  }
  wait(...args: [number]): Promise<void> {
    this.#reach("wait", args);
    return this.waitValue;
  }
  close(): void {
    this.#reach("close");
  }
}

/** Reads or calls `member` on `device`; returns its value. */
function use(device: Device, member: Member): unknown {
  if (DEVICE_MEMBERS[member] === "get") return device[member];
  if (DEVICE_MEMBERS[member] === "set") {
    device.completeRxChecksums = false; // the one settable member
    return undefined;
  }
  const fn = device[member] as ((...a: unknown[]) => unknown) | undefined;
  assert.equal(typeof fn, "function", `${member} is not a method of the wrapper`);
  return fn!.apply(device, ARGS[member]!);
}

Deno.test("ForwardingDevice forwards every member of Device, arguments and answers unchanged", () => {
  for (const member of MEMBERS) {
    const probe = new ProbeDevice();
    const dev = new ForwardingDevice(probe);
    probe.reached.length = 0;
    const value = use(dev, member);
    assert.deepEqual(
      probe.reached.map((r) => r.member),
      [member],
      `${member} did not reach the wrapped device (exactly once)`,
    );
    const args = probe.reached[0].args;
    if (DEVICE_MEMBERS[member] === "set") {
      assert.deepEqual(args, [false], `${member}: the value set`);
    }
    if (DEVICE_MEMBERS[member] === "call" && args.length > 0) {
      assert.equal(args.length, ARGS[member]!.length, `${member}: arguments`);
      args.forEach((a, i) => assert.equal(a, ARGS[member]![i], `${member}: argument ${i}`));
    }
    assert.equal(value, probe.answer(member), `${member}: the wrapped device's answer`);
  }
});

Deno.test("ForwardingDevice reports absent optional members of the wrapped device as neutral", () => {
  const bare: Device = {
    capabilities: new ProbeDevice().capabilitiesValue,
    stats: newDeviceStats(),
    receive: () => 0,
    transmit: () => true,
    flush() {},
    wait: () => Promise.resolve(),
    close() {},
  };
  const dev = new ForwardingDevice(bare);
  assert.equal(dev.closed, false);
  assert.equal(dev.txBatching, false);
  assert.equal(dev.txPending, undefined);
  assert.equal(dev.rxInfo, undefined);
  assert.equal(dev.transmitOffload(FRAME, 0, 60, 34, 16, 0), false);
  dev.distrustTransmit(); // nothing to tell: no throw
  assert.equal(dev.completeRxChecksums, undefined);
  dev.completeRxChecksums = false; // no such switch: nothing to set
  assert.equal(dev.completeRxChecksums, undefined);
});

/**
 * The members each wrapper deliberately does not pass through (its own
 * value or behaviour), with why. Every other member must reach the wrapped
 * device: a wrapper that stops forwarding one has to say so here.
 */
const OWN_MEMBERS: Record<string, Partial<Record<Member, string>>> = {
  CaptureDevice: {
    completeRxChecksums: "kept on in the wrapped driver, so captured frames have checksums",
  },
  FaultInjector: {
    capabilities: "the wrapped device's, read once, without transmit offloads",
    stats: "counts what reached the user and what the user handed in",
    rxInfo: "its own copy, kept per queued frame",
    transmitOffload: "refused: the injector offers no transmit offloads",
    completeRxChecksums: "kept on, so corrupted frames fail the stack's checksum check",
  },
  "tests' ForwardingDevice": {},
};

const WRAPPERS: Record<string, (inner: Device) => ForwardingDevice> = {
  CaptureDevice: (inner) => new CaptureDevice(inner, { writeFrame() {} }),
  FaultInjector: (inner) => new FaultInjector(inner, { seed: 1, now: () => 0 }),
  "tests' ForwardingDevice": (inner) => new TestForwardingDevice(inner),
};

Deno.test("ForwardingDevice is the base of every wrapper, which forward all members they do not own", () => {
  for (const [name, wrap] of Object.entries(WRAPPERS)) {
    const own = OWN_MEMBERS[name];
    for (const member of MEMBERS) {
      const probe = new ProbeDevice();
      const dev = wrap(probe);
      assert.ok(dev instanceof ForwardingDevice, `${name} extends ForwardingDevice`);
      if (own[member] !== undefined) continue;
      probe.reached.length = 0;
      use(dev, member);
      assert.ok(
        probe.reached.some((r) => r.member === member),
        `${name}.${member} did not reach the wrapped device`,
      );
    }
  }
});

Deno.test("FaultInjector refuses transmitOffload and counts it, without touching the wrapped device", () => {
  const probe = new ProbeDevice();
  const dev = new FaultInjector(probe, { seed: 1, now: () => 0 });
  probe.reached.length = 0;
  assert.equal(dev.transmitOffload(), false);
  assert.equal(dev.stats.txDropped, 1);
  assert.deepEqual(probe.reached, []);
});
