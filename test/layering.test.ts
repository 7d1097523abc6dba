// Proves the module layering of DESIGN.md holds: each top-level folder imports only the folders it may, and only
// through their index.ts. It reads every import of every source file, so a new violation fails this test.
import t from "tap";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const allowed: Record<string, readonly string[]> = {
  common: [],
  proto: ["common"],
  segmentstore: ["common", "proto"],
  controller: ["common", "proto"],
  client: ["common", "proto"],
  "connector-flink": ["client", "common"],
  perf: ["client", "common"],
  demo: ["client", "common", "perf"],
};

/**
 * Narrow exceptions to the DAG, each a folder's public face: the segment store keeps its Tier-1 ledger
 * lists and ownership in the MetadataStore ([3/8 metadata] asks for it to be importable there); the demo starts
 * its processes with the perf scripts' helpers.
 */
const exceptions: Record<string, readonly string[]> = {
  segmentstore: ["controller/store/index.js"],
  // The demo runs the standalone and the Flink side as the perf scripts do, with their helpers.
  demo: ["perf/support/standalone-process.js", "perf/support/flink-java.js"],
};

void t.test("imports follow the dependency DAG and go through index.ts", async (t) => {
  const files = execFileSync("git", ["ls-files", "*.ts"], { cwd: root }).toString().split("\n").filter(Boolean);
  const violations: string[] = [];
  let checked = 0;
  for (const file of files) {
    const top = file.split("/")[0]!;
    const rules = allowed[top];
    if (rules === undefined) continue; // bin/ wires roles together; test/ may reach anything.
    const source = readFileSync(join(root, file), "utf8");
    for (const m of source.matchAll(/^(?:import|export)[^"']*?from\s+["'](\.[^"']+)["']/gm)) {
      const target = normalize(join(dirname(file), m[1]!));
      const targetTop = target.split("/")[0]!;
      checked++;
      if (targetTop === top) continue;
      if (exceptions[top]?.includes(target)) continue;
      if (!rules.includes(targetTop)) violations.push(`${file} imports ${target}: ${top} may not depend on ${targetTop}`);
      else if (target !== `${targetTop}/index.js`) violations.push(`${file} imports ${target}: use ${targetTop}/index.js`);
    }
  }
  t.ok(checked > 100, `${checked} imports checked`);
  t.same(violations, [], "no layering violations");
});
