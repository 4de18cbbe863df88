/**
 * Ladder diagrams as self-contained SVG: no scripts, fonts, images or style
 * sheets from elsewhere — the file opens in any browser as is. Time runs
 * down; each arrow leaves the sender's line and reaches the receiver's line a
 * little lower (the packet's flight), lost segments stop short with a cross,
 * retransmissions are red, notes about missing bytes are dashed orange.
 *
 * The output is deterministic (same diagram, same bytes), so tests compare it
 * with a checked-in file.
 *
 * @module
 */

import type { LadderDiagram, LadderRow } from "./ladder.ts";

/** Width of the picture, px. */
export const LADDER_SVG_WIDTH = 960;
const LEFT_X = 190;
const RIGHT_X = 890;
const TOP_Y = 84;
const ROW_PX = 30;
const SLANT_PX = 14;
const MAX_EXTRA_PX = 40;
const EXTRA_PER_DECADE_PX = 10;
const TIME_UNIT_MS = 0.01;
const BOTTOM_PAD = 40;
const FONT = 'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace"';
const COLOR_CLIENT = "#1f4e9c";
const COLOR_SERVER = "#2e7d32";
const COLOR_RETRANSMIT = "#c62828";
const COLOR_SPURIOUS = "#ef6c00";
const COLOR_NOTE = "#e65100";
const LOST_FRACTION = 0.72;
const CROSS_PX = 6;
const MAX_LABEL_CHARS = 100;

/**
 * Escapes text for SVG/XML character data and attribute values.
 *
 * @param text any text
 * @returns the escaped text
 *
 * @example
 * ```ts
 * import { escapeXml } from "./ladder_svg.ts";
 * console.assert(escapeXml('a<b & "c"') === "a&lt;b &amp; &quot;c&quot;");
 * ```
 */
export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) =>
      c === "<"
        ? "&lt;"
        : c === ">"
        ? "&gt;"
        : c === "&"
        ? "&amp;"
        : c === '"'
        ? "&quot;"
        : "&#39;",
  );
}

/** A number with at most one decimal, for compact deterministic coordinates. */
function n(x: number): string {
  return String(Math.round(x * 10) / 10);
}

function rowColor(r: LadderRow): string {
  if (r.marks.includes("spurious")) return COLOR_SPURIOUS;
  if (r.marks.includes("retransmission") || r.marks.includes("reset")) return COLOR_RETRANSMIT;
  return r.fromLeft ? COLOR_CLIENT : COLOR_SERVER;
}

/**
 * Vertical positions: one row apart at least, more when time passes
 * (logarithmic, so a long pause shows without pushing the rest off screen).
 */
function rowPositions(rows: LadderRow[]): number[] {
  const ys: number[] = [];
  let y = TOP_Y;
  let prev = rows.length > 0 ? rows[0].timeMs : 0;
  for (let i = 0; i < rows.length; i++) {
    const dt = Math.max(0, rows[i].timeMs - prev);
    if (i > 0) {
      const extra = Math.min(MAX_EXTRA_PX, Math.log10(1 + dt / TIME_UNIT_MS) * EXTRA_PER_DECADE_PX);
      y += ROW_PX + extra;
    }
    ys.push(y);
    prev = rows[i].timeMs;
  }
  return ys;
}

/**
 * Draws a ladder as a standalone SVG document.
 *
 * @param d the diagram (from `tcpLadder` or `hostLadder`)
 * @returns the SVG text (UTF-8, starts with `<svg`)
 *
 * @example
 * ```ts
 * import { renderLadderSvg } from "./ladder_svg.ts";
 * const svg = renderLadderSvg({
 *   title: "demo", left: "client", right: "server",
 *   rows: [{ kind: "arrow", timeMs: 0, fromLeft: true, label: "SYN seq=0", marks: [], frame: 1 }],
 * });
 * console.assert(svg.startsWith("<svg") && svg.includes("SYN seq=0"));
 * ```
 */
export function renderLadderSvg(d: LadderDiagram): string {
  const ys = rowPositions(d.rows);
  const last = ys.length > 0 ? ys[ys.length - 1] : TOP_Y;
  const height = Math.ceil(last + SLANT_PX + BOTTOM_PAD);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${LADDER_SVG_WIDTH}" height="${height}" ` +
      `viewBox="0 0 ${LADDER_SVG_WIDTH} ${height}" ${FONT} font-size="12">`,
  );
  out.push(`<title>${escapeXml(d.title)}</title>`);
  out.push("<defs>");
  for (
    const [id, color] of [
      ["c", COLOR_CLIENT],
      ["s", COLOR_SERVER],
      ["r", COLOR_RETRANSMIT],
      ["o", COLOR_SPURIOUS],
    ]
  ) {
    out.push(
      `<marker id="head-${id}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" ` +
        `markerHeight="8" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="${color}"/></marker>`,
    );
  }
  out.push("</defs>");
  out.push(`<rect x="0" y="0" width="${LADDER_SVG_WIDTH}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text x="${LADDER_SVG_WIDTH / 2}" y="22" text-anchor="middle" font-size="15" ` +
      `font-weight="bold">${escapeXml(d.title)}</text>`,
  );
  out.push(
    `<text x="${LEFT_X}" y="52" text-anchor="middle" font-weight="bold" fill="${COLOR_CLIENT}">` +
      `${escapeXml(d.left)}</text>`,
  );
  out.push(
    `<text x="${RIGHT_X}" y="52" text-anchor="middle" font-weight="bold" fill="${COLOR_SERVER}">` +
      `${escapeXml(d.right)}</text>`,
  );
  out.push(`<text x="12" y="52" fill="#555555">time</text>`);
  const lineTop = TOP_Y - 20;
  const lineBottom = height - BOTTOM_PAD / 2;
  out.push(
    `<line x1="${LEFT_X}" y1="${lineTop}" x2="${LEFT_X}" y2="${lineBottom}" stroke="#333333" stroke-width="2"/>`,
  );
  out.push(
    `<line x1="${RIGHT_X}" y1="${lineTop}" x2="${RIGHT_X}" y2="${lineBottom}" stroke="#333333" stroke-width="2"/>`,
  );
  for (let i = 0; i < d.rows.length; i++) out.push(renderRow(d.rows[i], ys[i]));
  out.push("</svg>");
  return out.join("\n") + "\n";
}

function renderRow(r: LadderRow, y: number): string {
  const parts: string[] = [];
  parts.push(`<text x="12" y="${n(y + 4)}" fill="#555555">${r.timeMs.toFixed(3)} ms</text>`);
  const label = r.label.length > MAX_LABEL_CHARS
    ? r.label.slice(0, MAX_LABEL_CHARS - 1) + "…"
    : r.label;
  if (r.kind === "note") {
    parts.push(
      `<rect x="${LEFT_X + 8}" y="${n(y - 11)}" width="${RIGHT_X - LEFT_X - 16}" height="18" ` +
        `fill="#fff3e0" stroke="${COLOR_NOTE}" stroke-dasharray="4 3"/>`,
    );
    parts.push(
      `<text x="${(LEFT_X + RIGHT_X) / 2}" y="${n(y + 2)}" text-anchor="middle" ` +
        `font-style="italic" fill="${COLOR_NOTE}">${escapeXml(label)}</text>`,
    );
    return `<g class="note">${parts.join("")}</g>`;
  }
  const color = rowColor(r);
  const head = color === COLOR_RETRANSMIT
    ? "r"
    : color === COLOR_SPURIOUS
    ? "o"
    : r.fromLeft
    ? "c"
    : "s";
  const x1 = r.fromLeft ? LEFT_X : RIGHT_X;
  const x2Full = r.fromLeft ? RIGHT_X : LEFT_X;
  const y1 = y;
  const y2Full = y + SLANT_PX;
  const lost = r.marks.includes("lost");
  const x2 = lost ? x1 + (x2Full - x1) * LOST_FRACTION : x2Full;
  const y2 = lost ? y1 + (y2Full - y1) * LOST_FRACTION : y2Full;
  const dash = r.marks.includes("dup-ack") ? ` stroke-dasharray="6 3"` : "";
  parts.push(
    `<line x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" stroke="${color}" ` +
      `stroke-width="1.6"${dash}${lost ? "" : ` marker-end="url(#head-${head})"`}/>`,
  );
  if (lost) {
    parts.push(
      `<path d="M${n(x2 - CROSS_PX)},${n(y2 - CROSS_PX)}L${n(x2 + CROSS_PX)},${n(y2 + CROSS_PX)}` +
        `M${n(x2 - CROSS_PX)},${n(y2 + CROSS_PX)}L${n(x2 + CROSS_PX)},${n(y2 - CROSS_PX)}" ` +
        `stroke="${COLOR_RETRANSMIT}" stroke-width="2.4"/>`,
    );
  }
  const marks = r.marks.length > 0 ? `  [${r.marks.join(", ")}]` : "";
  parts.push(
    `<text x="${(LEFT_X + RIGHT_X) / 2}" y="${n(y + SLANT_PX / 2 - 6)}" text-anchor="middle" ` +
      `fill="${color}">${escapeXml(label + marks)}</text>`,
  );
  return `<g class="${r.fromLeft ? "to-right" : "to-left"}">${parts.join("")}</g>`;
}
