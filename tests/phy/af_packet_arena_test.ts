import assert from "node:assert/strict";
import { AfPacketDevice, type AfPacketMode } from "../../src/phy/af_packet.ts";
import type { FrameSink } from "../../src/phy/device.ts";
import { ForwardingDevice } from "./_forwarding_device.ts";
import { bytesOf } from "../seeded_random.ts";
import { Arena, ARENA_MAP_PAGE_BYTES, packetArena } from "../../src/buffer/arena.ts";
import { checksumUsesWasm } from "../../src/wire/checksum.ts";
import { Lab, labTest } from "../../src/testing/lab.ts";
import { Stack } from "../../src/stack.ts";

const PREFIX = "rsring";
const ECHO_PORT = 7007;
const UDP_ECHO_PORT = 7008;
const TCP_BYTES = 2 * 1024 * 1024;
const WRITE_CHUNK_BYTES = 64 * 1024;
const REOPEN_ROUNDS = 25;
/** The reopen test's private arena: room for the largest ring it maps, twice. */
const REOPEN_ARENA_BYTES = 32 << 20;
const STEP_TIMEOUT_MS = 10_000;
const RING_MODES: AfPacketMode[] = ["ring-v2", "ring-v3"];

/** A kernel TCP echo server (one connection) and UDP echo server in the peer namespace. */
const PY_ECHO = `
import socket, sys, threading
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", ${UDP_ECHO_PORT}))
    while True:
        data, addr = u.recvfrom(65535)
        u.sendto(data, addr)
threading.Thread(target=udp, daemon=True).start()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", ${ECHO_PORT}))
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
while True:
    d = c.recv(65536)
    if not d:
        break
    c.sendall(d)
c.close()
threading.Event().wait()
`;

/**
 * Passes an AfPacketDevice through and records, for every delivered frame,
 * whether it lies in the packet arena and whether a checksum over it takes
 * the WebAssembly path.
 */
class ArenaProbe extends ForwardingDevice<AfPacketDevice> implements FrameSink {
  arenaFrames = 0;
  otherFrames = 0;
  wasmChecksumFrames = 0;
  lastRing: Uint8Array | null = null;
  #sink: FrameSink | null = null;
  override receive(sink: FrameSink, budget: number): number {
    this.#sink = sink;
    return this.inner.receive(this, budget);
  }
  onFrame(bytes: Uint8Array, offset: number, length: number): void {
    if (packetArena().contains(bytes)) this.arenaFrames++;
    else this.otherFrames++;
    if (length >= 1000 && checksumUsesWasm(bytes, length)) this.wasmChecksumFrames++;
    this.lastRing = bytes;
    this.#sink!.onFrame(bytes, offset, length);
  }
}

/** `p`, or a rejection after {@link STEP_TIMEOUT_MS} naming `what` (no test hangs). */
async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer`)), STEP_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** ping, UDP echo and a TCP echo of {@link TCP_BYTES} through a Stack over `device`. */
async function exchange(lab: Lab, device: ArenaProbe): Promise<void> {
  const stack = new Stack({
    device,
    ipv4: `${lab.stackAddress}/${lab.prefixLength}`,
    gateway: lab.peerAddress,
    onError: () => {},
  });
  await stack.start();
  const echo = lab.spawnInPeer(["python3", "-u", "-c", PY_ECHO]);
  try {
    // Kernel → rawstack ICMP echo (and ARP) through the ring.
    const ping = await lab.runInPeer(["ping", "-c", "3", "-i", "0.2", "-W", "2", lab.stackAddress]);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    assert.match(ping.stdout, /3 packets transmitted, 3 received/);

    // TCP both ways: we send, the kernel echoes; compare every byte.
    let conn = null;
    for (let attempt = 0; conn === null; attempt++) {
      try {
        conn = await stack.connect({ hostname: lab.peerAddress, port: ECHO_PORT });
      } catch (e) {
        if (attempt > 40) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const data = bytesOf(TCP_BYTES, 7);
    const got = new Uint8Array(TCP_BYTES);
    const reading = (async () => {
      let at = 0;
      while (at < TCP_BYTES) {
        const n = await conn.read(got.subarray(at));
        if (n === null) break;
        at += n;
      }
      return at;
    })();
    for (let at = 0; at < TCP_BYTES; at += WRITE_CHUNK_BYTES) {
      await conn.write(data.subarray(at, Math.min(TCP_BYTES, at + WRITE_CHUNK_BYTES)));
    }
    assert.equal(await within(reading, "TCP echo"), TCP_BYTES);
    assert.ok(got.every((b, i) => b === data[i]), "TCP echo differs");
    conn.close();

    // UDP both ways.
    const udp = stack.listenDatagram({ port: 40000 });
    const datagram = bytesOf(1400, 3);
    assert.equal(
      await udp.send(datagram, { hostname: lab.peerAddress, port: UDP_ECHO_PORT }),
      1400,
    );
    const [back] = await within(udp.receive(), "UDP echo");
    assert.deepEqual(back, datagram);
    const s = stack.stats();
    assert.equal(s.udp.rxBadChecksum, 0);
  } finally {
    await echo.kill();
    await stack.close();
  }
}

for (const mode of RING_MODES) {
  labTest(
    `AfPacketDevice (${mode}) with the ring in the arena exchanges ping, UDP and TCP`,
    async () => {
      const lab = await Lab.create({ prefix: PREFIX });
      try {
        const device = new ArenaProbe(
          await lab.openDevice({ mode, ringInArena: true, kernelGro: false }),
        );
        assert.equal(device.inner.ringPlacement, "arena");
        assert.equal(device.inner.ringArenaFallbackReason, null);
        assert.equal(device.inner.stats.ringInArena, 1);
        await exchange(lab, device);
        assert.ok(device.arenaFrames > TCP_BYTES / 1500, `arena frames ${device.arenaFrames}`);
        assert.equal(device.otherFrames, 0);
        // Full-sized frames are summed in WebAssembly, in place in the ring.
        assert.ok(device.wasmChecksumFrames > TCP_BYTES / 1500 / 2);
        assert.equal(device.inner.stats.ringArenaRestoreFailures, 0);
      } finally {
        await lab.destroy();
      }
    },
    { commands: ["ping", "python3"] },
  );
}

labTest(
  "AfPacketDevice close puts zero pages back and reopening does not leak the arena",
  async () => {
    const lab = await Lab.create({ prefix: PREFIX });
    try {
      // A private arena: the shared one's usage also moves when earlier tests' pools are
      // garbage-collected (its FinalizationRegistry frees their regions), which is not a leak.
      const arena = new Arena({ maxBytes: REOPEN_ARENA_BYTES, resizable: false });
      // One round per mode first: later rounds must reuse their regions exactly.
      for (const mode of RING_MODES) {
        (await lab.openDevice({
          mode,
          ringInArena: true,
          ringArena: arena,
          frameCount: 256,
          kernelGro: false,
        }))
          .close();
      }
      const used = arena.usedBytes;
      const high = arena.highWaterBytes;
      for (let round = 0; round < REOPEN_ROUNDS; round++) {
        const mode = RING_MODES[round % RING_MODES.length];
        const dev = new ArenaProbe(
          await lab.openDevice({
            mode,
            ringInArena: true,
            ringArena: arena,
            frameCount: 256,
            spinMicros: 0,
            kernelGro: false,
          }),
        );
        assert.equal(dev.inner.ringPlacement, "arena");
        assert.equal(arena.usedBytes > used, true);
        // The kernel's ARP request for a fresh address arrives through the ring.
        const ping = lab.spawnInPeer(["ping", "-c", "1", "-W", "1", `192.0.2.${20 + round}`]);
        let frames = 0;
        const t0 = performance.now();
        while (frames === 0 && performance.now() - t0 < 5000) {
          await dev.wait(100);
          frames += dev.receive({ onFrame() {} }, 16);
        }
        await ping.kill();
        assert.ok(frames >= 1, `round ${round}: no frame`);
        const ring = dev.lastRing!;
        assert.ok(arena.contains(ring) && ring.byteOffset % ARENA_MAP_PAGE_BYTES === 0);
        assert.ok(ring.some((b) => b !== 0), "the ring holds the received frame");
        dev.close();
        assert.equal(dev.inner.stats.ringArenaRestoreFailures, 0);
        // After close the region is ordinary zero-filled, writable arena memory again.
        assert.ok(ring.every((b) => b === 0), `round ${round}: region not restored`);
        ring.fill(0xa5);
        assert.ok(ring.every((b) => b === 0xa5));
        ring.fill(0);
        assert.equal(arena.usedBytes, used, `round ${round}: arena bytes leaked`);
      }
      assert.equal(arena.highWaterBytes, high, "reopening carved new arena memory");
    } finally {
      await lab.destroy();
    }
  },
  { commands: ["ping"] },
);

labTest(
  "AfPacketDevice falls back to an ordinary ring mapping when the arena has no room",
  async () => {
    const lab = await Lab.create({ prefix: PREFIX });
    try {
      const tiny = new Arena({ maxBytes: 65536, resizable: false });
      const dev = new ArenaProbe(
        await lab.openDevice({
          mode: "ring-v2",
          ringInArena: true,
          ringArena: tiny,
          kernelGro: false,
        }),
      );
      assert.equal(dev.inner.ringPlacement, "mmap");
      assert.match(dev.inner.ringArenaFallbackReason!, /no free \d+-byte page region/);
      assert.equal(dev.inner.stats.ringArenaFallbacks, 1);
      assert.equal(dev.inner.stats.ringInArena, 0);
      assert.equal(tiny.usedBytes, 0);
      await exchange(lab, dev);
      assert.equal(dev.arenaFrames, 0);
      assert.ok(dev.otherFrames > TCP_BYTES / 1500);

      // Forced off: the ordinary mapping, no fallback counted.
      const off = await lab.openDevice({ mode: "ring-v3", ringInArena: false });
      assert.equal(off.ringPlacement, "mmap");
      assert.equal(off.ringArenaFallbackReason, null);
      assert.equal(off.stats.ringArenaFallbacks, 0);
      off.close();
      const socket = await lab.openDevice({ mode: "socket", ringInArena: true });
      assert.equal(socket.ringPlacement, "none");
      socket.close();
    } finally {
      await lab.destroy();
    }
  },
  { commands: ["ping", "python3"] },
);

labTest("AfPacketDevice maps the ring into a private arena and gives the region back", async () => {
  const lab = await Lab.create({ prefix: PREFIX });
  try {
    const arena = new Arena({ maxBytes: 8 << 20, resizable: false });
    arena.allocView(100); // the ring must still land on a page boundary
    const dev = await lab.openDevice({
      mode: "ring-v3",
      ringInArena: true,
      ringArena: arena,
      frameCount: 64,
      kernelGro: false,
    });
    assert.equal(dev.ringPlacement, "arena");
    assert.ok(arena.usedBytes >= 2 << 20); // two 1 MiB V3 blocks
    dev.close();
    assert.equal(arena.usedBytes, 128);
    assert.ok(arena.bytes.every((b) => b === 0), "closed ring left bytes behind");
  } finally {
    await lab.destroy();
  }
});
