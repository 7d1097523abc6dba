// Proves proto/vectors/stream-cuts.json (read by the Java client's StreamCutVectorsTest) is exactly
// what stream-cut-vectors.ts produces from stream-cut.ts now. Regenerate with
// `node --import tsx client/stream-cut-vectors.ts`.
import t from "tap";
import { readFileSync } from "node:fs";
import { generateStreamCutVectors, streamCutVectorsFile } from "./stream-cut-vectors.js";

void t.test("committed stream-cut vectors equal the generator's output", async (t) => {
  const content = generateStreamCutVectors();
  t.ok(readFileSync(streamCutVectorsFile, "utf8") === content, "stream-cuts.json is up to date (run node --import tsx client/stream-cut-vectors.ts)");
  const parsed = JSON.parse(content) as { valid: unknown[]; invalidTexts: unknown[]; invalidBytes: unknown[]; invalidCuts: unknown[] };
  t.ok(parsed.valid.length >= 4 && parsed.invalidTexts.length >= 10 && parsed.invalidBytes.length >= 10 && parsed.invalidCuts.length >= 8);
});
