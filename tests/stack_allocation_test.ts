import assert from "node:assert/strict";
import { MemoryLink } from "../src/phy/memory_link.ts";
import { Stack } from "../src/stack.ts";
import { parseIpv4 } from "../src/wire/address.ts";
import type { TcpConnection } from "../src/tcp/connection.ts";
import { Ipv6Address } from "../src/wire/ipv6_address.ts";
import { ManualClock } from "../src/time/clock.ts";

// Issue #5: no allocation per segment on the steady-state bulk path. This guards the numeric
// rules of ARCHITECTURE.md ("Numbers on the hot path"): an IPv4 address ≥ 128.0.0.0 or a
// sequence number kept unsigned, or a time field V8 unboxes, costs ≈20–30 heap bytes per
// segment each (this path measured 90–120 B/segment before those rules, ≈5–9 after).

const PORT = 5201;
const WRITE_BYTES = 64 * 1024;
const READ_BYTES = 256 * 1024;
const WARMUP_STEPS = 3000;
const BURSTS = 30;
const STEPS_PER_BURST = 100;
/**
 * Measured ≈7: what is left by design (a view per application call, a clock reading per poll).
 * One boxed number per segment adds ≈16.
 */
const MAX_HEAP_BYTES_PER_SEGMENT = 16;
/**
 * Virtual time per step, ms: fractional, as `performance.now()` readings are (a time field
 * V8 does not unbox then costs a heap number per segment, which this test must see), and
 * far below every timer (a wall-clock pump on a loaded machine let a tail loss probe fire
 * spuriously, and the run measured recovery instead of the steady state).
 */
const STEP_MS = 0.013;

Deno.test("bulk TCP between two stacks allocates almost nothing per segment (192.0.2.x addresses)", () => {
  const [da, db] = MemoryLink.pair({ queueFrames: 4096 });
  const clock = new ManualClock(1000);
  const a = new Stack({ device: da, ipv4: "192.0.2.2/24", eventLoop: false, clock });
  const b = new Stack({ device: db, ipv4: "192.0.2.1/24", eventLoop: false, clock });
  bulk(
    clock,
    a,
    b,
    () => a.tcp.connect(a.nowMs(), parseIpv4("192.0.2.1")!, PORT),
    MAX_HEAP_BYTES_PER_SEGMENT,
  );
});

Deno.test("bulk TCP over IPv6 between two stacks allocates almost nothing per segment (2001:db8::x addresses)", () => {
  const [da, db] = MemoryLink.pair({ queueFrames: 4096 });
  // No DAD: the addresses are usable at once (the test has no clock to wait on). Measured ≈8 B,
  // as over IPv4; ≈42 before the IPv6 layer's time field was tagged (TAGGED_TIME_SEED).
  const ipv6Options = {
    addressOptions: { dadTransmits: 0, maxDadDelayMs: 0 },
    ndp: { routerSolicitations: 0 },
  };
  const clock = new ManualClock(1000);
  const a = new Stack({
    device: da,
    ipv6: "2001:db8:1::2/64",
    ipv6Options,
    eventLoop: false,
    clock,
  });
  const b = new Stack({
    device: db,
    ipv6: "2001:db8:1::1/64",
    ipv6Options,
    eventLoop: false,
    clock,
  });
  bulk(
    clock,
    a,
    b,
    () => a.tcp.connect6(a.nowMs(), Ipv6Address.parse("2001:db8:1::1"), PORT),
    MAX_HEAP_BYTES_PER_SEGMENT,
  );
});

/** Runs the measured bulk transfer from `a` to `b` over the connection `open` makes. */
function bulk(
  clock: ManualClock,
  a: Stack,
  b: Stack,
  open: () => TcpConnection,
  maxBytes: number,
): void {
  a.start();
  b.start();
  try {
    for (let i = 0; i < 10; i++) a.poll() + b.poll();
    const listener = b.tcp.listen(PORT);
    const client = open();
    let server: TcpConnection | null = null;
    for (let i = 0; i < 1000 && server === null; i++) {
      clock.advance(STEP_MS);
      a.poll();
      b.poll();
      server = listener.accept();
    }
    assert.ok(server !== null, "handshake");
    const chunk = new Uint8Array(WRITE_BYTES);
    const sink = new Uint8Array(READ_BYTES);
    let received = 0;
    const step = (): void => {
      clock.advance(STEP_MS);
      while (client.write(chunk, 0, chunk.length) > 0) { /* fill the send ring */ }
      a.afterSend();
      a.poll();
      b.poll();
      for (
        let n = server!.read(sink, 0, sink.length);
        n > 0;
        n = server!.read(sink, 0, sink.length)
      ) {
        received += n;
      }
      b.afterSend();
    };
    const segments = () => a.tcp.stats.segmentsOut + b.tcp.stats.segmentsOut;
    for (let i = 0; i < WARMUP_STEPS; i++) step();

    // V8 frees only in a GC: a burst whose heap did not shrink grew by what it allocated.
    const perSegment: number[] = [];
    for (let s = 0; s < BURSTS; s++) {
      const seg0 = segments();
      const h0 = Deno.memoryUsage().heapUsed;
      for (let i = 0; i < STEPS_PER_BURST; i++) step();
      const h1 = Deno.memoryUsage().heapUsed;
      if (h1 >= h0) perSegment.push((h1 - h0) / (segments() - seg0));
    }
    assert.ok(received > 0 && a.tcp.stats.retransmits === 0);
    assert.ok(perSegment.length >= BURSTS / 3, `only ${perSegment.length} bursts without a GC`);
    perSegment.sort((x, y) => x - y);
    const median = perSegment[perSegment.length >> 1];
    assert.ok(
      median <= maxBytes,
      `median ${median.toFixed(1)} heap bytes per segment (bursts: ${
        perSegment.map((x) => x.toFixed(1)).join(" ")
      })`,
    );
    client.abort();
  } finally {
    a.close();
    b.close();
  }
}
