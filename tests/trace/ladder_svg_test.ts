import assert from "node:assert/strict";
import { analyzeCapture, analyzePcap } from "../../src/trace/connections.ts";
import { tcpLadder } from "../../src/trace/ladder.ts";
import { escapeXml, renderLadderSvg } from "../../src/trace/ladder_svg.ts";
import { renderPlotSvg } from "../../src/trace/plot_svg.ts";
import { findCommand, missingCommandsReason, testWhen } from "../../src/testing/lab.ts";
import { decodePng } from "./_png.ts";
import { handshake, TCP_ACK, tcpFrame } from "./_frames.ts";

const KERNEL_TCP = new URL("../testdata/kernel_tcp.pcap", import.meta.url);
const EXPECTED_SVG = new URL("../testdata/ladder_expected.svg", import.meta.url);
const SCREEN_WIDTH = 960;
const SCREEN_HEIGHT = 600;
/** Share of the screenshot that must be ink (not white): arrows and labels. */
const MIN_INK_SHARE = 0.005;

Deno.test("renderLadderSvg draws the kernel capture as the checked-in SVG", async () => {
  const a = analyzePcap(await Deno.readFile(KERNEL_TCP));
  const svg = renderLadderSvg(tcpLadder(a.connections[0]));
  assert.equal(svg, await Deno.readTextFile(EXPECTED_SVG));
});

Deno.test("renderLadderSvg is self-contained and well-formed", async () => {
  const a = analyzePcap(await Deno.readFile(KERNEL_TCP));
  const svg = renderLadderSvg(tcpLadder(a.connections[0]));
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(!/href=|<script|<image|@import|url\((?!#)/.test(svg), "no external resource");
  assert.equal((svg.match(/<line [^>]*marker-end/g) ?? []).length, 13, "one arrow per segment");
  assert.equal(svg.match(/<g /g)?.length, svg.match(/<\/g>/g)?.length);
});

Deno.test("renderLadderSvg draws a lost segment as a cross and escapes labels", () => {
  const frames = [
    ...handshake(),
    tcpFrame({ t: 3, fromClient: true, flags: TCP_ACK, seq: 1, ack: 1, len: 1000 }),
    tcpFrame({ t: 9, fromClient: true, flags: TCP_ACK, seq: 1, ack: 1, len: 1000 }),
  ];
  const d = tcpLadder(analyzeCapture(frames).connections[0]);
  d.rows.push({ kind: "note", timeMs: 10, fromLeft: true, label: "<&>", marks: [], frame: 0 });
  const svg = renderLadderSvg(d);
  assert.ok(svg.includes("[lost]") && svg.includes("[retransmission]"));
  assert.ok(svg.includes('stroke-width="2.4"'), "the cross");
  assert.ok(svg.includes("&lt;&amp;&gt;") && !svg.includes("<&>"));
  assert.equal(escapeXml("'"), "&#39;");
});

async function screenshot(svgPath: string, pngPath: string): Promise<void> {
  const profile = await Deno.makeTempDir({ prefix: "rsfc-chromium-" });
  try {
    const out = await new Deno.Command(findCommand("chromium")!, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
        `--screenshot=${pngPath}`,
        `--window-size=${SCREEN_WIDTH},${SCREEN_HEIGHT}`,
        `file://${svgPath}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  } finally {
    await Deno.remove(profile, { recursive: true });
  }
}

function inkShare(png: { pixels: Uint8Array; channels: number }): number {
  let ink = 0;
  const n = png.pixels.length / png.channels;
  for (let i = 0; i < n; i++) {
    const o = i * png.channels;
    if (png.pixels[o] < 200 || png.pixels[o + 1] < 200 || png.pixels[o + 2] < 200) ink++;
  }
  return ink / n;
}

testWhen(
  "renderLadderSvg renders in headless Chromium",
  missingCommandsReason(["chromium"]),
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "rsfc-svg-" });
    try {
      const a = analyzePcap(await Deno.readFile(KERNEL_TCP));
      for (
        const [name, svg] of [
          ["ladder", renderLadderSvg(tcpLadder(a.connections[0]))],
          ["plot", renderPlotSvg(a.connections[0])],
        ]
      ) {
        await Deno.writeTextFile(`${dir}/${name}.svg`, svg);
        await screenshot(`${dir}/${name}.svg`, `${dir}/${name}.png`);
        const png = await decodePng(await Deno.readFile(`${dir}/${name}.png`));
        assert.equal(png.width, SCREEN_WIDTH);
        assert.equal(png.height, SCREEN_HEIGHT);
        const share = inkShare(png);
        assert.ok(share > MIN_INK_SHARE, `${name}: only ${share} of the pixels are ink`);
        assert.ok(share < 0.5, `${name}: ${share} ink: not a white page with a drawing`);
      }
      // A blank SVG must fail the same check (the check can fail).
      await Deno.writeTextFile(
        `${dir}/blank.svg`,
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
      );
      await screenshot(`${dir}/blank.svg`, `${dir}/blank.png`);
      assert.ok(
        inkShare(await decodePng(await Deno.readFile(`${dir}/blank.png`))) <= MIN_INK_SHARE,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
  { sanitizeResources: false },
);
