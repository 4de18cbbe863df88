/**
 * Loss recovery against Linux (issue 19): the router drops the last three segments of a
 * 64 KiB response once (src/testing/loss_lab.ts); rawstack's RACK-TLP repairs the tail with
 * a probe and RACK, without a retransmission timeout. The completion time beside the
 * kernel's is a benchmark row (bench/harness.ts `loss`), not asserted here.
 */
import assert from "node:assert/strict";
import { LAB_PEER_ADDRESS, LAB_STACK_ADDRESS, labTest } from "../../src/testing/lab.ts";
import {
  TAIL_DROP_SEGMENTS,
  tailLossKernelSends,
  tailLossRawstackSends,
} from "../../src/testing/loss_lab.ts";
import { withLabStack } from "./_helpers.ts";

const PREFIX = "rsrack";
const RAWSTACK_PORT = 8080;
const KERNEL_PORT = 8081;

labTest(
  "RACK-TLP: a 64 KiB response whose last 3 segments are dropped is repaired by a tail loss probe, not an RTO",
  async () => {
    // TCP payload as data: on port 8080 tshark reassembles HTTP, and calls the retransmitted
    // tail (identical bytes, sent within its out-of-order window after the GSO burst of the
    // originals) a "New fragment overlaps old data" reassembly error.
    const capture = {
      count: 2000,
      check: {
        tcpPayloadAsData: true,
        acceptFfffChecksumFrom: [LAB_PEER_ADDRESS, LAB_STACK_ADDRESS],
      },
    };
    await withLabStack(PREFIX, { router: true, capture }, async (ls) => {
      const { lab, stack } = ls;
      const timeouts0 = stack.stats().tcp.timeouts;
      const r = await tailLossRawstackSends(lab, stack, RAWSTACK_PORT);
      // The rule dropped exactly the tail, once.
      assert.equal(r.dropped, TAIL_DROP_SEGMENTS);
      const info = r.info!;
      assert.equal(info.lossRecovery, "rack-tlp");
      assert.ok(info.tlpProbes >= 1, `a tail loss probe was sent (${JSON.stringify(info)})`);
      assert.ok(info.retransmits >= TAIL_DROP_SEGMENTS, "every dropped segment was resent");
      assert.equal(stack.stats().tcp.timeouts - timeouts0, 0, "no retransmission timeout");
      // The same loss under the kernel's sender, for the log (Linux recovers with TLP too).
      const k = await tailLossKernelSends(lab, stack, KERNEL_PORT);
      assert.equal(k.dropped, TAIL_DROP_SEGMENTS);
      console.log(
        `tail loss completion: rawstack sends ${r.completionMs.toFixed(1)} ms, ` +
          `kernel sends ${k.completionMs.toFixed(1)} ms`,
      );
      console.log(await ls.checkCapture(90));
    });
  },
  { commands: ["nft", "python3", "tcpdump", "tshark"] },
);
