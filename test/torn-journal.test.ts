// Proves torn-tail recovery end to end: the last journal file is cut mid-record while the server is down; at restart
// the torn record is detected and cut off, everything before it is served, and new writes continue.
import t from "tap";
import { appendFile, readdir, stat, truncate } from "node:fs/promises";
import { join } from "node:path";
import { Sluice } from "../client/index.js";
import { startStandaloneProcess } from "../perf/support/standalone-process.js";

void t.test("a torn last journal record is cut at restart; earlier events are served", async (t) => {
  const dir = t.testdir();
  let server = await startStandaloneProcess(dir);
  t.teardown(() => server.kill());
  let sluice = await Sluice.connect(server.controllerUri);
  await sluice.admin.createScope("torn");
  await sluice.admin.createStream("torn/s", { scaling: { type: "fixed", minSegments: 1 } });
  const writer = sluice.writer("torn/s");
  for (let i = 0; i < 20; i++) await writer.write(`event-${i}`); // one journal record each
  await writer.write(Buffer.alloc(5000, 0x61)); // the last record, to be torn
  await sluice.close();
  await server.kill();

  const tier1 = join(dir, "lognode");
  const files = (await readdir(tier1)).filter((f) => f.startsWith("journal-")).sort();
  const last = join(tier1, files.at(-1)!);
  const size = (await stat(last)).size;
  await truncate(last, size - 2000); // mid-payload of the last record

  server = await startStandaloneProcess(dir);
  t.match(server.stderr(), /cut a torn tail/, "the cut is reported");
  sluice = await Sluice.connect(server.controllerUri);
  const events: string[] = [];
  for (const r of await sluice.batch.segments("torn/s")) for await (const e of sluice.batch.read(r)) events.push(Buffer.from(e.data).toString());
  t.same(events, Array.from({ length: 20 }, (_, i) => `event-${i}`), "everything before the torn record, nothing of it");
  const w2 = sluice.writer("torn/s");
  await w2.write("after-restart");
  const again: string[] = [];
  for (const r of await sluice.batch.segments("torn/s")) for await (const e of sluice.batch.read(r)) again.push(Buffer.from(e.data).toString());
  t.equal(again.at(-1), "after-restart");
  t.equal(again.length, 21);
  await sluice.close();
});

void t.test("a zero-filled tail (file grown, data never written) is cut; a second restart finds a clean journal", async (t) => {
  const dir = t.testdir();
  let server = await startStandaloneProcess(dir);
  t.teardown(() => server.kill());
  let sluice = await Sluice.connect(server.controllerUri);
  await sluice.admin.createScope("zero");
  await sluice.admin.createStream("zero/s", { scaling: { type: "fixed", minSegments: 1 } });
  const writer = sluice.writer("zero/s");
  for (let i = 0; i < 5; i++) await writer.write(`e${i}`);
  await sluice.close();
  await server.kill();
  const tier1 = join(dir, "lognode");
  const last = join(tier1, (await readdir(tier1)).filter((f) => f.startsWith("journal-")).sort().at(-1)!);
  await appendFile(last, Buffer.alloc(8192));

  for (let restart = 0; restart < 2; restart++) {
    server = await startStandaloneProcess(dir);
    if (restart === 0) t.match(server.stderr(), /cut a torn tail/, "the zeros are reported and cut");
    else t.notMatch(server.stderr(), /cut a torn tail/, "nothing left to cut");
    sluice = await Sluice.connect(server.controllerUri);
    const events: string[] = [];
    for (const r of await sluice.batch.segments("zero/s")) for await (const e of sluice.batch.read(r)) events.push(Buffer.from(e.data).toString());
    t.same(events, ["e0", "e1", "e2", "e3", "e4"]);
    await sluice.close();
    await server.stop();
  }
});
