/**
 * The benchmark harness's lab rows of one configuration (bench/harness.ts; the lab and
 * the configurations: bench/harness_lab.ts): kernel↔kernel iperf3 for context, bulk TCP
 * both ways (configuration (a) like for like, issue 22, beside the kernel receiver with
 * its GRO off and on; (b) super-frames both ways), the IPv6 rows
 * (bench/harness_ipv6.ts), 1-byte request/response with and without busy-poll, new
 * connections per second, and the HTTP rows (bench/harness_http.ts). Without root they
 * print "n/a (needs root ...)". `deno run -A bench/harness.ts bulk` runs only
 * configuration (a)'s like-for-like bulk rows.
 *
 * @module
 */

import { Lab, labUnavailableReason, missingCommandsReason } from "../src/testing/lab.ts";
import { httpRows } from "./harness_http.ts";
import { ipv6Rows } from "./harness_ipv6.ts";
import { LabBench } from "./harness_lab.ts";
import { type AddRow, configLabel, type Row, rowAdder, sampled } from "./harness_rows.ts";
import { CRR_REQUEST_BYTES, HTTP_ROWS, PREFIX } from "./harness_settings.ts";

/** Configuration `config`'s lab rows, appended to `rows` and printed as they come. */
export async function labRows(config: "a" | "b", rows: Row[]): Promise<void> {
  const label = configLabel(config);
  const reason = labUnavailableReason(["python3", "iperf3", "ss", "ethtool"]);
  const add = rowAdder(rows, label);
  if (reason !== null) {
    const na = { values: [], note: `n/a (${reason})` };
    for (
      const w of [
        "bulk TCP rawstack→kernel",
        "bulk TCP kernel→rawstack",
        "1-byte RR",
        "CRR",
        "IPv6 bulk TCP rawstack→kernel",
        "IPv6 bulk TCP kernel→rawstack",
        "IPv6 1-byte RR",
        "IPv6/IPv4 ratio beside the kernel's",
      ]
    ) {
      add(w, "", na, "kernel", na);
    }
    return;
  }
  const lab = await Lab.create({
    prefix: PREFIX,
    router: true,
    peerOffloads: config === "b",
    ipv6: true,
  });
  const bench = new LabBench(lab, config);
  const reset = () => bench.resetStack();
  try {
    for (const ns of [lab.peerNetns, lab.farNetns!]) {
      await lab.runIn(ns, ["sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1"]);
      await lab.runIn(ns, ["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=10000 65000"]);
    }
    const iperf = await sampled(() => bench.iperf());
    add("kernel↔kernel iperf3 (context)", "Gbit/s", iperf, "iperf3 kernel→kernel", iperf);
    if (config === "a") await likeForLikeBulkRows(bench, add);
    else {
      const kBulk = await sampled(() => bench.kernelBulk());
      add(
        "bulk TCP, rawstack sends to a kernel receiver (super-frames both ways)",
        "Gbit/s",
        await sampled(() => bench.rawstackSend(), reset),
        "kernel→kernel (tcp_tool.py)",
        kBulk,
      );
      add(
        "bulk TCP, kernel sends to rawstack (super-frames both ways)",
        "Gbit/s",
        await sampled(() => bench.rawstackReceive(), reset),
        "kernel→kernel (tcp_tool.py)",
        kBulk,
      );
    }
    const kRr = await ipv6Rows(bench, add);
    add(
      "request/response, 1-byte ping-pong (no busy-poll)",
      "trans/s",
      await sampled(() => bench.rawstackRr(0), reset),
      "kernel↔kernel (tcp_tool.py)",
      kRr,
    );
    add(
      `new connections/s (connect, ${CRR_REQUEST_BYTES} B request, close)`,
      "conn/s",
      await sampled(() => bench.rawstackCrr(), reset),
      "kernel client, same kernel server",
      await sampled(() => bench.kernelCrr()),
    );
    if (HTTP_ROWS) {
      if (missingCommandsReason(["wrk"]) === null) await httpRows(bench, add);
      else {add("HTTP rows", "", { values: [], note: "n/a (needs wrk)" }, "—", {
          values: [],
          note: "—",
        });}
    }
  } finally {
    await bench.close();
    await lab.destroy();
  }
}

/**
 * Issue 22's bulk rows of configuration (a): like for like means 1514-byte
 * frames on the kernel peer's wire both ways, from rawstack with its default
 * device options (64 KiB GSO frames the kernel cuts in software, rawstack's
 * interface's transmit offloads off) and from the kernel sender (offloads
 * off), each beside the kernel receiver with its GRO off and on. The
 * super-frame row (rawstack's interface keeps TSO: its 64 KiB frames travel
 * whole to the peer) stays, labelled as such.
 */
export async function likeForLikeBulkRows(bench: LabBench, add: AddRow): Promise<void> {
  const reset = () => bench.resetStack();
  console.log(`rawstack's interface: ${await bench.stackGroState()}`);
  const kOff = await sampled(() => bench.kernelBulk());
  await bench.kernelGro(true);
  const kOn = await sampled(() => bench.kernelBulk());
  await bench.kernelGro(false);
  const refOff = "kernel→kernel, receiver GRO off";
  const refOn = "kernel→kernel, receiver GRO on";
  await bench.stackTxOffloads(false);
  add(
    "bulk TCP rawstack→kernel, like for like (1514-byte frames), receiver GRO off",
    "Gbit/s",
    await sampled(() => bench.rawstackSend(), reset),
    refOff,
    kOff,
  );
  await bench.kernelGro(true);
  add(
    "bulk TCP rawstack→kernel, like for like (1514-byte frames), receiver GRO on",
    "Gbit/s",
    await sampled(() => bench.rawstackSend(), reset),
    refOn,
    kOn,
  );
  await bench.kernelGro(false);
  const receive = await sampled(() => bench.rawstackReceive(), reset);
  add(
    "bulk TCP kernel→rawstack, like for like (1514-byte frames)",
    "Gbit/s",
    receive,
    refOff,
    kOff,
  );
  add(
    "bulk TCP kernel→rawstack, like for like (1514-byte frames)",
    "Gbit/s",
    receive,
    refOn,
    kOn,
  );
  await bench.stackTxOffloads(true);
  add(
    "bulk TCP rawstack→kernel, SUPER-FRAMES (rawstack's veth keeps TSO: 64 KiB frames reach the peer whole)",
    "Gbit/s",
    await sampled(() => bench.rawstackSend(), reset),
    refOff,
    kOff,
  );
}
