// Proves the committed shared vectors (proto/vectors/*.json, read by the Java client's *VectorsTest)
// are exactly what generate.ts produces from the TypeScript code now, so a protocol change that is
// not re-exported as vectors fails here. Regenerate with `node --import tsx proto/vectors/generate.ts`.
import t from "tap";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { generateVectors, vectorsDir } from "./generate.js";

void t.test("committed vectors equal the generator's output", async (t) => {
  const files = generateVectors();
  t.same(Object.keys(files).sort(), ["errors.json", "events.json", "frames.json", "routing-hash.json"]);
  for (const [name, content] of Object.entries(files)) {
    const committed = readFileSync(join(vectorsDir, name), "utf8");
    t.ok(committed === content, `${name} is up to date (run node --import tsx proto/vectors/generate.ts)`);
  }
});

void t.test("the frame vectors cover every frame type and every code they name is a real code", async (t) => {
  const frames = JSON.parse(generateVectors()["frames.json"]!) as {
    frames: { name: string; type: number; hex: string }[];
    invalid: { code: string }[];
  };
  const types = new Set(frames.frames.map((f) => f.type));
  t.equal(types.size, 40, "40 frame types: 1-3, 10-14, 20-21, 30-47, 50-61");
  for (const f of frames.frames) t.equal(parseInt(f.hex.slice(0, 8), 16), f.type, `${f.name} header carries its type id`);
  for (const f of frames.frames) t.equal(parseInt(f.hex.slice(8, 16), 16), f.hex.length / 2 - 8, `${f.name} header carries its payload length`);
  t.ok(frames.invalid.every((c) => c.code === "MALFORMED_FRAME" || c.code === "UNKNOWN_FRAME_TYPE"), "invalid payloads fail as malformed or unknown");
});
