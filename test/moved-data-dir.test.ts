// Proves issue 18 case 5: a standalone's identity does not depend on the absolute path of its data directory. Real
// processes: events are written and acknowledged, the standalone is stopped (SIGTERM, and SIGKILL), its data directory
// is moved to another path, and the standalone started there serves every acknowledged event once and takes new writes.
import t from "tap";
import { mkdir, readdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { Sluice } from "../client/index.js";
import { startStandaloneProcess } from "../perf/support/standalone-process.js";
import { readAllByKey, testEvent } from "./support/events.js";

const total = 2_000;
/** Segment data goes to Tier-2 (under the data directory too) within this, so the move covers chunks as well as the journal. */
const tier2Args = ["--flush-age-ms", "100"];
const keys = 50;

async function writeEvents(sluice: Sluice, stream: string, from: number, count: number): Promise<void> {
  const writer = sluice.writer(stream);
  const acks: Promise<void>[] = [];
  for (let i = from; i < from + count; i++) acks.push(writer.write(testEvent(`k${i % keys}`, Math.floor(i / keys)), { routingKey: `k${i % keys}` }));
  await Promise.all(acks);
  await writer.close();
}

for (const how of ["stop", "kill"] as const) {
  void t.test(`a data directory moved after ${how === "stop" ? "SIGTERM" : "SIGKILL"} serves every acknowledged event from its new path`, { timeout: 90_000 }, async (t) => {
    const root = t.testdir();
    const before = join(root, "before");
    const after = join(root, "elsewhere", "after");
    let server = await startStandaloneProcess(before, tier2Args);
    t.teardown(() => server.kill());
    let sluice = await Sluice.connect(server.controllerUri);
    await sluice.admin.createScope("moved");
    await sluice.admin.createStream("moved/s", { scaling: { type: "fixed", minSegments: 4 } });
    await writeEvents(sluice, "moved/s", 0, total);
    await sluice.close();
    await new Promise((r) => setTimeout(r, 1_500)); // let the flushes to Tier-2 happen
    const chunks = (await readdir(join(before, "tier2"), { recursive: true })).length;
    t.ok(chunks > 0, `Tier-2 holds chunks under the data directory (${chunks} entries)`);
    await (how === "stop" ? server.stop() : server.kill());

    await mkdir(join(root, "elsewhere"));
    await rename(before, after);

    server = await startStandaloneProcess(after, tier2Args);
    t.notMatch(server.stderr(), /without --tier1/, "no advice about --tier1 for a standalone");
    sluice = await Sluice.connect(server.controllerUri);
    const read = await readAllByKey(sluice, "moved/s");
    t.equal(read.total, total, "every acknowledged event is served from the new path");
    let inOrder = 0;
    for (const seqs of read.byKey.values()) if (seqs.every((s, i) => s === i)) inOrder++;
    t.equal(inOrder, keys, "once each, in write order per key");

    await writeEvents(sluice, "moved/s", total, 100);
    const again = await readAllByKey(sluice, "moved/s");
    t.equal(again.total, total + 100, "new writes are taken and served");
    await sluice.close();
    await server.stop();
  });
}
