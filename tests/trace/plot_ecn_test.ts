// ECN marks of `trace --plot` on a capture made by our own stack: an ECN connection whose
// data a FaultInjector marks CE (an AQM router, RFC 3168 §5) as it leaves the sender, captured
// right below the marking (so the capture holds the marks and the sender's own timing).
import assert from "node:assert/strict";
import { CaptureDevice } from "../../src/phy/capture.ts";
import { FaultInjector } from "../../src/phy/fault_injector.ts";
import { MemoryLink } from "../../src/phy/memory_link.ts";
import { Stack } from "../../src/stack.ts";
import { LiveCapture } from "../../src/trace/live.ts";
import { connectionSeries, renderPlotSvg } from "../../src/trace/plot_svg.ts";
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_SYN } from "../../src/wire/tcp.ts";

const PORT = 5001;
const BYTES = 400 * 1024;
const CHUNK = 16 * 1024;
const CE = 3;

Deno.test("renderPlotSvg marks CE, ECE, CWR and the ECN window reduction at their segments (RFC 3168 §6.1)", async () => {
  const [ma, mb] = MemoryLink.pair({ queueFrames: 1024 });
  const live = new LiveCapture();
  // A's data is marked on its way out, then captured: the capture sees the marks, and what
  // A sent and received in A's order (the plot infers A's reductions from it).
  const marker = new FaultInjector(new CaptureDevice(ma, live), { seed: 11, tx: { ce: 0.03 } });
  const a = new Stack({ device: marker, ipv4: "192.0.2.2/24", tcp: { ecn: "on" } });
  const b = new Stack({ device: mb, ipv4: "192.0.2.1/24" });
  await a.start();
  await b.start();
  try {
    const listener = b.listen({ port: PORT });
    const accepting = listener.accept();
    const client = await a.connect({ hostname: "192.0.2.1", port: PORT });
    const server = await accepting;
    const reading = (async () => {
      const buf = new Uint8Array(64 * 1024);
      let total = 0;
      for (;;) {
        const n = await server.read(buf);
        if (n === null) return total;
        total += n;
      }
    })();
    const data = new Uint8Array(CHUNK).fill(0x5a);
    for (let sent = 0; sent < BYTES; sent += CHUNK) await client.write(data);
    await client.closeWrite();
    assert.equal(await reading, BYTES);
    const sender = client.info();
    const receiver = server.info();
    client.close();
    server.close();
    listener.close();
    assert.equal(sender.ecn, true);
    assert.ok(marker.txFaults.ceMarked >= 3, `CE marks ${marker.txFaults.ceMarked}`);
    assert.ok(sender.ecnReductions >= 1 && sender.ecnCwrSent >= 1);

    const conn = live.analyze().connections[0];
    const s = connectionSeries(conn);
    assert.equal(s.sender, "client");
    const byFrame = new Map(conn.segments.map((seg) => [seg.frame, seg]));
    const framesOf = (kind: string) => s.events.filter((e) => e.kind === kind).map((e) => e.frame);
    // CE: exactly the client's segments that arrived marked, each counted by the receiver.
    const ceFrames = conn.segments.filter((g) => g.fromClient && g.ecn === CE).map((g) => g.frame);
    assert.deepEqual(framesOf("ce"), ceFrames);
    assert.equal(ceFrames.length, marker.txFaults.ceMarked);
    assert.equal(ceFrames.length, receiver.ecnCeReceived);
    // CWR: the client's segments with CWR (not its ECN-setup SYN), as many as it sent.
    const cwrFrames = conn.segments
      .filter((g) => g.fromClient && (g.flags & (TCP_CWR | TCP_SYN)) === TCP_CWR)
      .map((g) => g.frame);
    assert.deepEqual(framesOf("cwr"), cwrFrames);
    assert.equal(cwrFrames.length, sender.ecnCwrSent);
    // ECE: the first of each run of the server's ECE ACKs; every CE mark starts one.
    const eceFrames = framesOf("ece");
    assert.ok(eceFrames.length >= 1);
    for (const f of eceFrames) {
      const g = byFrame.get(f)!;
      assert.ok(!g.fromClient && (g.flags & (TCP_ECE | TCP_ACK)) === (TCP_ECE | TCP_ACK));
      // The ACK before it from the server did not echo ECE, or the client's CWR came between.
      const i = conn.segments.indexOf(g);
      const before = conn.segments.slice(0, i).reverse();
      const prevAck = before.find((x) => !x.fromClient);
      const cwrBetween = before.slice(0, before.indexOf(prevAck!)).some((x) =>
        x.fromClient && (x.flags & TCP_CWR) !== 0
      );
      assert.ok((prevAck!.flags & TCP_ECE) === 0 || cwrBetween, `ECE run start at ${f}`);
    }
    // The window reductions: at ECE ACKs, as many as the sender made (once per window).
    const cuts = framesOf("ecn-reduction");
    assert.equal(cuts.length, sender.ecnReductions);
    for (const f of cuts) assert.ok((byFrame.get(f)!.flags & TCP_ECE) !== 0);
    // Each CWR follows a reduction (RFC 3168 §6.1.2: on the next new data after it).
    for (const f of cwrFrames) assert.ok(cuts.some((c) => c < f));

    const svg = renderPlotSvg(conn);
    const count = (kind: string) =>
      (svg.match(new RegExp(`class="event-${kind}"`, "g")) ?? [])
        .length;
    assert.equal(count("ce"), ceFrames.length);
    assert.equal(count("cwr"), cwrFrames.length);
    assert.equal(count("ece"), eceFrames.length);
    assert.equal(count("ecn-reduction"), cuts.length);
    assert.ok(svg.includes(">CE</text>") && svg.includes(">ECN cwnd cut</text>"));
  } finally {
    await a.close();
    await b.close();
  }
});
