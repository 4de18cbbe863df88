// HyStart++ (RFC 9406): the algorithm from the RFC's rules (rounds, RttThresh, N_RTT_SAMPLE,
// CSS and its return to slow start, CSS_ROUNDS), CUBIC's use of it, and a deterministic
// simulation of a bottleneck whose queue builds: Conservative Slow Start begins before the
// queue overflows.
import assert from "node:assert/strict";
import { Cubic, INITIAL_SSTHRESH } from "../../src/tcp/congestion.ts";
import type { TcpConnection } from "../../src/tcp/connection.ts";
import {
  CSS_GROWTH_DIVISOR,
  CSS_ROUNDS,
  HYSTART_CA_ENTERED,
  HYSTART_CSS_ENTERED,
  HYSTART_NONE,
  HYSTART_SS_RESUMED,
  HyStartPlusPlus,
  N_RTT_SAMPLE,
} from "../../src/tcp/hystart.ts";
import { bytesOf, LayerPair, type WireDatagram } from "./harness.ts";

/**
 * Feeds one round of `samples` ACKs to `h`: the first acknowledges `roundStart` (ending the
 * previous round), the round ends at `roundEnd`. Returns the codes.
 */
function round(
  h: HyStartPlusPlus,
  roundStart: number,
  roundEnd: number,
  rtts: number[],
): number[] {
  return rtts.map((rtt, i) => h.onAck(roundStart + i, roundEnd, rtt));
}

/** `n` copies of `rtt`. */
function same(n: number, rtt: number): number[] {
  return new Array(n).fill(rtt);
}

Deno.test("HyStartPlusPlus leaves slow start when a round's minimum RTT rises by RttThresh (RFC 9406 §4.2)", () => {
  // lastRoundMinRTT 40 ms: RttThresh = max(4, min(40 / 8, 16)) = 5 ms.
  const h = new HyStartPlusPlus();
  round(h, 0, 1000, same(N_RTT_SAMPLE, 40));
  assert.deepEqual(round(h, 1000, 2000, same(N_RTT_SAMPLE, 44.9)), same(N_RTT_SAMPLE, 0));
  assert.equal(h.state, "slow-start");
  assert.equal(h.lastRoundMinRttMs, 40);
  // The next round (lastRoundMinRTT 44.9, RttThresh 5.6125): 50.5 is not enough; the one
  // after it (lastRoundMinRTT 50.5, RttThresh 6.3125) sees 56.8125.
  assert.equal(round(h, 2000, 3000, same(N_RTT_SAMPLE, 50.5)).at(-1), HYSTART_NONE);
  const codes = round(h, 3000, 4000, same(N_RTT_SAMPLE, 56.8125));
  assert.equal(codes.at(-1), HYSTART_CSS_ENTERED);
  assert.equal(h.state, "css");
  assert.equal(h.growthDivisor, CSS_GROWTH_DIVISOR);
  assert.equal(h.cssEntries, 1);
});

Deno.test("HyStartPlusPlus bounds RttThresh by MIN_RTT_THRESH and MAX_RTT_THRESH (RFC 9406 §4.3)", () => {
  // 10 ms path: 10/8 = 1.25 ms, raised to 4 ms.
  const low = new HyStartPlusPlus();
  round(low, 0, 1000, same(N_RTT_SAMPLE, 10));
  assert.equal(round(low, 1000, 2000, same(N_RTT_SAMPLE, 13.9)).at(-1), HYSTART_NONE);
  assert.equal(round(low, 2000, 3000, same(N_RTT_SAMPLE, 17.9)).at(-1), HYSTART_CSS_ENTERED);
  // 400 ms path: 400/8 = 50 ms, capped at 16 ms.
  const high = new HyStartPlusPlus();
  round(high, 0, 1000, same(N_RTT_SAMPLE, 400));
  assert.equal(round(high, 1000, 2000, same(N_RTT_SAMPLE, 416)).at(-1), HYSTART_CSS_ENTERED);
});

Deno.test("HyStartPlusPlus judges a round only after N_RTT_SAMPLE samples (RFC 9406 §4.2)", () => {
  const h = new HyStartPlusPlus();
  round(h, 0, 1000, same(N_RTT_SAMPLE, 20));
  // N_RTT_SAMPLE - 1 high samples and ACKs without one: nothing yet.
  const codes = round(h, 1000, 2000, same(N_RTT_SAMPLE - 1, 30));
  assert.ok(codes.every((c) => c === HYSTART_NONE));
  assert.equal(h.onAck(1500, 2000, -1), HYSTART_NONE);
  assert.equal(h.state, "slow-start");
  // The eighth sample decides.
  assert.equal(h.onAck(1600, 2000, 30), HYSTART_CSS_ENTERED);
  // A round without N_RTT_SAMPLE samples is not judged at all (its minimum may be noise):
  const sparse = new HyStartPlusPlus();
  round(sparse, 0, 1000, same(N_RTT_SAMPLE, 20));
  round(sparse, 1000, 2000, same(3, 90));
  assert.equal(sparse.state, "slow-start");
});

Deno.test("HyStartPlusPlus goes back to slow start when CSS sees the RTT fall below its baseline (RFC 9406 §4.2)", () => {
  const h = new HyStartPlusPlus();
  round(h, 0, 1000, same(N_RTT_SAMPLE, 20));
  assert.equal(round(h, 1000, 2000, same(N_RTT_SAMPLE, 30)).at(-1), HYSTART_CSS_ENTERED);
  // Next round (in CSS): the minimum is 29, below the 30 ms baseline: the exit was jitter.
  const codes = round(h, 2000, 3000, same(N_RTT_SAMPLE, 29));
  assert.equal(codes.at(-1), HYSTART_SS_RESUMED);
  assert.deepEqual(codes.slice(0, -1), same(N_RTT_SAMPLE - 1, HYSTART_NONE));
  assert.equal(h.state, "slow-start");
  assert.equal(h.growthDivisor, 1);
  assert.equal(h.ssResumptions, 1);
  // HyStart++ runs again: a further rise leaves slow start again.
  assert.equal(round(h, 3000, 4000, same(N_RTT_SAMPLE, 34)).at(-1), HYSTART_CSS_ENTERED);
  assert.equal(h.cssEntries, 2);
});

Deno.test("HyStartPlusPlus enters congestion avoidance after CSS_ROUNDS rounds of CSS (RFC 9406 §4.2)", () => {
  const h = new HyStartPlusPlus();
  round(h, 0, 1000, same(N_RTT_SAMPLE, 20));
  round(h, 1000, 2000, same(N_RTT_SAMPLE, 30));
  assert.equal(h.state, "css");
  // Rounds at the baseline (not below it): CSS goes on; the start of the CSS_ROUNDS-th round
  // after the entry ends it.
  for (let r = 1; r < CSS_ROUNDS; r++) {
    const codes = round(h, 1000 + 1000 * r, 2000 + 1000 * r, same(N_RTT_SAMPLE, 30));
    assert.ok(codes.every((c) => c === HYSTART_NONE), `round ${r}`);
    assert.equal(h.state, "css");
  }
  assert.equal(h.onAck(1000 + 1000 * CSS_ROUNDS, 9000, 30), HYSTART_CA_ENTERED);
  assert.equal(h.state, "done");
  assert.equal(h.onAck(9000, 10000, 100), HYSTART_NONE);
});

Deno.test("Cubic grows a quarter as fast in CSS and sets ssthresh = cwnd when CSS ends (RFC 9406 §4.2)", () => {
  const mss = 1000;
  const cc = new Cubic(mss);
  const h = cc.hystart!;
  assert.equal(h.state, "slow-start");
  // Slow start: cwnd grows by what is acknowledged.
  const cwnd0 = cc.cwnd;
  cc.onAck(0, mss, cwnd0, 20);
  assert.equal(cc.cwnd, cwnd0 + mss);
  for (let i = 0; i < N_RTT_SAMPLE; i++) cc.onAckSample(i, 1000, 20);
  for (let i = 0; i < N_RTT_SAMPLE; i++) cc.onAckSample(1000 + i, 2000, 30);
  assert.equal(h.state, "css");
  const cwnd1 = cc.cwnd;
  cc.onAck(0, mss, cwnd1, 20);
  assert.equal(cc.cwnd, cwnd1 + mss / CSS_GROWTH_DIVISOR);
  assert.equal(cc.ssthresh, INITIAL_SSTHRESH);
  for (let r = 1; r <= CSS_ROUNDS; r++) cc.onAckSample(1000 + 1000 * r, 2000 + 1000 * r, 30);
  assert.equal(h.state, "done");
  assert.equal(cc.ssthresh, cc.cwnd);
  // A loss in slow start ends HyStart++ as well (§4.2: congestion avoidance).
  const lossy = new Cubic(mss);
  lossy.onCongestionEvent(0, lossy.cwnd);
  assert.equal(lossy.hystart!.state, "done");
  assert.equal(new Cubic(mss, false).hystart, null);
});

// ------------------------------------------------------------ a bottleneck whose queue builds

const ADDR_A = 0xc6336401 | 0; // 198.51.100.1
const ADDR_B = 0xc6336402 | 0; // 198.51.100.2
const PORT = 5001;
/** One-way propagation delay, ms (base RTT 20 ms plus serialization). */
const PROPAGATION_MS = 10;
/** Bottleneck serialization of one full segment, ms (about 23 Mbit/s; BDP ≈ 40 segments). */
const SERVICE_MS = 0.5;
/**
 * Segments the bottleneck queue holds (about 100 ms, five BDPs: a deep buffer, where slow
 * start's overshoot costs most); beyond it, drop-tail. HyStart++ sees a round's minimum RTT,
 * which rises a round or two after cwnd passed the BDP: a buffer shallower than that
 * overflows first.
 */
const QUEUE_SEGMENTS = 200;
const TRANSFER_BYTES = 3_000_000;

/** A→B through a drop-tail bottleneck (a FIFO with a service time); B→A only delayed. */
class Bottleneck extends LayerPair {
  #linkFreeAt = 0;
  drops = 0;
  /** The first drop's time (Infinity: none). */
  firstDropMs = Infinity;

  constructor(hystart: boolean) {
    super({
      addrA: ADDR_A,
      addrB: ADDR_B,
      config: {
        hystart,
        sendBufferBytes: 4 * 1024 * 1024,
        receiveBufferBytes: 4 * 1024 * 1024,
      },
      secretA: new Uint8Array(16).fill(1),
      secretB: new Uint8Array(16).fill(2),
      poolSlots: 4096,
    });
  }

  override onSend(src: number, dst: number, bytes: Uint8Array): boolean {
    const now = this.clock.now();
    let at: number;
    if (src === ADDR_A) {
      const start = Math.max(now, this.#linkFreeAt);
      if ((start - now) / SERVICE_MS >= QUEUE_SEGMENTS) {
        this.drops++;
        if (this.firstDropMs === Infinity) this.firstDropMs = now;
        return false;
      }
      this.#linkFreeAt = start + SERVICE_MS;
      at = this.#linkFreeAt + PROPAGATION_MS;
    } else at = now + PROPAGATION_MS;
    insertByTime(this.wire, { at, src, dst, bytes });
    return false; // queued here, not by LayerPair
  }

  /** Runs to the end of the transfer (or the time limit). */
  run(step: () => void, limitMs: number): void {
    this.runUntil(limitMs, 2_000_000, step);
  }
}

/** Inserts `d` after every datagram due at or before it (FIFO among equal times). */
function insertByTime(wire: WireDatagram[], d: WireDatagram): void {
  let i = wire.length;
  while (i > 0 && wire[i - 1].at > d.at) i--;
  wire.splice(i, 0, d);
}

interface BottleneckRun {
  received: number;
  drops: number;
  firstDropMs: number;
  /** When the sender left slow start for CSS (Infinity: never), and its cwnd then. */
  cssAtMs: number;
  cssCwnd: number;
  retransmitsAtCss: number;
  info: ReturnType<TcpConnection["info"]>;
  cssEntries: number;
  caEntries: number;
}

function runBottleneck(hystart: boolean): BottleneckRun {
  const net = new Bottleneck(hystart);
  const data = bytesOf(TRANSFER_BYTES, 7);
  const got = new Uint8Array(TRANSFER_BYTES);
  let received = 0;
  let server: TcpConnection | null = null;
  const listener = net.b.listen(PORT, 4);
  const client = net.a.connect(0, ADDR_B, PORT);
  let written = 0;
  let cssAtMs = Infinity;
  let cssCwnd = 0;
  let retransmitsAtCss = -1;
  net.run(() => {
    server ??= listener.accept();
    if (server !== null) {
      for (;;) {
        const n = server.read(got, received, got.length - received);
        if (n <= 0) break;
        received += n;
      }
    }
    while (written < data.length) {
      const n = client.write(data, written, data.length - written);
      if (n <= 0) break;
      written += n;
    }
    if (cssAtMs === Infinity && client.info().hystart !== "slow-start") {
      cssAtMs = net.clock.now();
      cssCwnd = client.info().cwnd;
      retransmitsAtCss = client.info().retransmits;
    }
  }, 60_000);
  assert.equal(received, TRANSFER_BYTES);
  assert.deepEqual(got, data);
  return {
    received,
    drops: net.drops,
    firstDropMs: net.firstDropMs,
    cssAtMs,
    cssCwnd,
    retransmitsAtCss,
    info: client.info(),
    cssEntries: net.a.stats.hystartCssEntries,
    caEntries: net.a.stats.hystartCaEntries,
  };
}

Deno.test("TcpConnection leaves slow start for CSS on a building queue, before the bottleneck drops (RFC 9406)", () => {
  const on = runBottleneck(true);
  // The RTT rose (the queue held ≥ 4 ms of segments): CSS began, with nothing lost yet.
  assert.equal(on.cssEntries, 1);
  assert.equal(on.info.hystartExits, 1);
  assert.ok(on.cssAtMs < on.firstDropMs, `CSS at ${on.cssAtMs} ms, first drop ${on.firstDropMs}`);
  assert.equal(on.retransmitsAtCss, 0);
  // Slow start would fill the queue at BDP + queue ≈ 240 segments; CSS began below that.
  assert.ok(on.cssCwnd < (40 + QUEUE_SEGMENTS) * on.info.sndMss, `cwnd ${on.cssCwnd}`);
  // Without HyStart++ slow start runs into the full queue and loses segments there.
  const off = runBottleneck(false);
  assert.equal(off.info.hystart, "off");
  assert.equal(off.cssEntries, 0);
  assert.ok(off.drops > 0);
  assert.ok(
    on.drops < off.drops,
    `drops with HyStart++ ${on.drops}, without ${off.drops}`,
  );
});
