// ARCHITECTURE.md's folder table says what each folder under src/ imports; this test reads the real
// imports and fails when the table and the code disagree, in either direction.
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;
const SRC = `${ROOT}src`;

/** A folder under src/ (or `stack` for src/stack.ts) → the folders it imports, each type-only or not. */
type ImportMap = Map<string, Map<string, boolean>>;

/** The unit a file belongs to: its top folder under src/, or `stack` for src/stack.ts. */
function unitOf(pathUnderSrc: string): string {
  const slash = pathUnderSrc.indexOf("/");
  if (slash >= 0) return pathUnderSrc.slice(0, slash);
  return pathUnderSrc.replace(/\.ts$/, "");
}

function* sourceFiles(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* sourceFiles(path);
    else if (e.name.endsWith(".ts")) yield path;
  }
}

/** Whether an import statement brings in types only (`import type`, or every name marked `type`). */
function typeOnly(statement: string): boolean {
  if (/^(import|export)\s+type\s/.test(statement)) return true;
  const names = statement.match(/\{([^}]*)\}/);
  if (names === null) return false;
  const items = names[1].split(",").map((x) => x.trim()).filter((x) => x !== "");
  return items.length > 0 && items.every((x) => x.startsWith("type "));
}

/** The real imports between units, read from every file under src/. */
function realImports(): ImportMap {
  const map: ImportMap = new Map();
  for (const file of sourceFiles(SRC)) {
    const unit = unitOf(file.slice(SRC.length + 1));
    const text = Deno.readTextFileSync(file);
    for (const m of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)";/gms)) {
      const target = new URL(m[1], `file://${file}`).pathname;
      if (!target.startsWith(`${SRC}/`)) continue;
      const to = unitOf(target.slice(SRC.length + 1));
      if (to === unit) continue;
      const inner = map.get(unit) ?? new Map<string, boolean>();
      map.set(unit, inner);
      inner.set(to, (inner.get(to) ?? true) && typeOnly(m[0]));
    }
  }
  return map;
}

/**
 * The table's claims: rows whose first cell names one unit (`src/x/` or `src/stack.ts`) and whose
 * last cell lists units ("wire, iface (types)") or says "nothing".
 */
function tableImports(): ImportMap {
  const text = Deno.readTextFileSync(`${ROOT}ARCHITECTURE.md`);
  const map: ImportMap = new Map();
  for (const line of text.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 4) continue;
    const head = cells[1].match(/^`src\/([a-z_]+)(?:\/|\.ts)`$/);
    if (head === null) continue;
    const claims = new Map<string, boolean>();
    const last = cells[cells.length - 2];
    if (last !== "nothing") {
      for (const item of last.split(",").map((x) => x.trim())) {
        const m = item.match(/^([a-z_]+)( \(types\))?$/);
        assert.ok(m !== null, `ARCHITECTURE.md row ${head[1]}: cannot read "${item}"`);
        claims.set(m[1], m[2] !== undefined);
      }
    }
    map.set(head[1], claims);
  }
  return map;
}

function describe(map: Map<string, boolean> | undefined): string {
  if (map === undefined || map.size === 0) return "nothing";
  return [...map].sort(([a], [b]) => a.localeCompare(b)).map(([u, t]) => t ? `${u} (types)` : u)
    .join(", ");
}

Deno.test("ARCHITECTURE.md's folder table lists exactly what each folder under src/ imports", () => {
  const real = realImports();
  const table = tableImports();
  const units = new Set([...real.keys(), ...table.keys()]);
  const wrong: string[] = [];
  for (const unit of [...units].sort()) {
    if (!table.has(unit)) {
      wrong.push(`${unit}: no row in the table (it imports ${describe(real.get(unit))})`);
      continue;
    }
    const said = describe(table.get(unit));
    const is = describe(real.get(unit));
    if (said !== is) wrong.push(`${unit}: the table says "${said}", the code imports "${is}"`);
  }
  assert.deepEqual(wrong, []);
});

Deno.test("ARCHITECTURE.md's folder table: imports only point down the layers", () => {
  // The layer order of DESIGN.md; a unit may import only units before it (types may point across).
  const order = [
    "wire",
    "time",
    "buffer",
    "phy",
    "iface",
    "udp",
    "dns",
    "dhcp",
    "tcp",
    "trace",
    "socket",
    "http",
    "stack",
    "testing",
    "cli",
  ];
  const upward: string[] = [];
  for (const [unit, targets] of realImports()) {
    for (const u of [unit, ...targets.keys()]) {
      assert.ok(order.includes(u), `${u}: give it its place in the layer order of this test`);
    }
    for (const [to, types] of targets) {
      if (!types && order.indexOf(to) > order.indexOf(unit)) upward.push(`${unit} → ${to}`);
    }
  }
  assert.deepEqual(upward, []);
});
