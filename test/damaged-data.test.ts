// Proves issue 18 case 4: acknowledged data damaged while the standalone is stopped is refused, never served short.
// Real processes: 3,000 events are acknowledged, the standalone is stopped (SIGTERM, or SIGKILL after the synced-mark
// interval), then a journal file or the metadata log is cut in half, or the log node's folder is deleted; the restart
// refuses (naming the file) or the container answers DATA_CORRUPTION naming the node and both instance ids, and never
// serves 0 events as if nothing had been written. Also (SIGTERM only, to keep it short): the newest of several journal
// files deleted (the rest still numbered without a gap), and the newest metadata snapshot deleted: refused, naming it.
import t, { type Test } from "tap";
import { readdir, rm, stat, truncate } from "node:fs/promises";
import { join } from "node:path";
import { Sluice } from "../client/index.js";
import { KiB, syncedMarkIntervalMs } from "../common/index.js";
import { FileMetadataStore } from "../controller/store/index.js";
import { LedgerStorage } from "../segmentstore/tier1/lognode/ledger-storage.js";
import { freePorts, startStandaloneProcess, type StandaloneProcess } from "../perf/support/standalone-process.js";
import { readAllByKey, testEvent } from "./support/events.js";

const total = 3_000;
const keys = 30;

/**
 * Starts a standalone in `dir` on `ports`, writes `total` acknowledged events to one stream, and stops it as told.
 * The restart uses the same ports, as a real one does: the controller sends clients to the recorded owner's port.
 */
async function writeAndStop(t: Test, dir: string, how: "stop" | "kill", ports: string[]): Promise<void> {
  const server = await startStandaloneProcess(dir, ports);
  t.teardown(() => server.kill());
  const sluice = await Sluice.connect(server.controllerUri);
  await sluice.admin.createScope("dmg");
  await sluice.admin.createStream("dmg/s", { scaling: { type: "fixed", minSegments: 1 } });
  const writer = sluice.writer("dmg/s");
  const acks: Promise<void>[] = [];
  for (let i = 0; i < total; i++) acks.push(writer.write(testEvent(`k${i % keys}`, Math.floor(i / keys), 200), { routingKey: `k${i % keys}` }));
  await Promise.all(acks);
  await sluice.close();
  if (how === "kill") {
    // Synced marks follow the data one to two intervals (syncedMarkIntervalMs) late: wait past that.
    await new Promise((r) => setTimeout(r, 2 * syncedMarkIntervalMs + 1_000));
    await server.kill();
  } else {
    await server.stop();
  }
}

async function standalonePorts(): Promise<string[]> {
  const [controller, segmentStore] = await freePorts(2);
  return ["--controller-port", String(controller), "--segmentstore-port", String(segmentStore)];
}

async function cutInHalf(path: string): Promise<{ before: number; after: number }> {
  const before = (await stat(path)).size;
  const after = Math.floor(before / 2);
  await truncate(path, after);
  return { before, after };
}

/** Starts a standalone that must refuse to start; answers its stderr. */
async function refusedStart(dir: string, ports: string[]): Promise<string> {
  let server: StandaloneProcess | undefined;
  try {
    server = await startStandaloneProcess(dir, ports);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  await server.kill();
  throw new Error(`the standalone started on damaged data: ${server.stderr()}`);
}

for (const how of ["stop", "kill"] as const) {
  const stopped = how === "stop" ? "SIGTERM" : "SIGKILL";

  void t.test(`(${stopped}) a journal file cut in half: the restart is refused, naming the file`, { timeout: 90_000 }, async (t) => {
    const dir = t.testdir();
    const ports = await standalonePorts();
    await writeAndStop(t, dir, how, ports);
    const lognode = join(dir, "lognode");
    const journal = (await readdir(lognode)).filter((f) => /^journal-\d+\.log$/.test(f)).sort().at(-1)!;
    const { before, after } = await cutInHalf(join(lognode, journal));
    t.ok(before > 3 * 200 * total / 4, `the journal held the events (${before} bytes), cut to ${after}`);
    const why = await refusedStart(dir, ports);
    t.match(why, new RegExp(`${journal} is ${after} bytes, but at least \\d+ bytes were synced to it`), "named, with both lengths");
    t.match(why, /DATA_CORRUPTION/, "typed");
    t.notMatch(why, /cut a torn tail/, "not taken for a torn tail");
  });

  void t.test(`(${stopped}) the metadata log cut in half: the restart is refused, naming the file`, { timeout: 90_000 }, async (t) => {
    const dir = t.testdir();
    const ports = await standalonePorts();
    await writeAndStop(t, dir, how, ports);
    const controller = join(dir, "controller");
    const logFile = (await readdir(controller)).filter((f) => /^log-\d+$/.test(f)).sort().at(-1)!;
    const { after } = await cutInHalf(join(controller, logFile));
    const why = await refusedStart(dir, ports);
    t.match(why, new RegExp(`${logFile} is ${after} bytes, but at least \\d+ bytes were synced to it`), "named, with both lengths");
    t.match(why, /DATA_CORRUPTION/, "typed");
  });

  void t.test(`(${stopped}) the lognode folder deleted: the container is refused (another identity), not served empty`, { timeout: 90_000 }, async (t) => {
    const dir = t.testdir();
    const ports = await standalonePorts();
    await writeAndStop(t, dir, how, ports);
    await rm(join(dir, "lognode"), { recursive: true });
    const server = await startStandaloneProcess(dir, ports);
    t.teardown(() => server.kill());
    const sluice = await Sluice.connect(server.controllerUri);
    t.teardown(() => sluice.close());
    const read = await readAllByKey(sluice, "dmg/s").then(
      (r) => ({ events: r.total }),
      (err: unknown) => ({ code: (err as { code?: string }).code, message: (err as Error).message }),
    );
    t.match(read, { code: "DATA_CORRUPTION" }, "readers get DATA_CORRUPTION, not 0 events");
    t.match(
      server.stderr(),
      /log node local:lognode held it as instance [0-9a-f-]{36} and now answers as instance [0-9a-f-]{36}/,
      "the log names the node and both identities",
    );
  });
}

void t.test("(SIGTERM) the newest of several journal files deleted: the restart is refused, naming it", { timeout: 90_000 }, async (t) => {
  const dir = t.testdir();
  const ports = await standalonePorts();
  // A node that has run a while has several journal files: a first run makes the node, then its
  // journal is rolled offline (small files, entries of a ledger nobody uses), so that the events
  // of the next run land in a later file.
  const first = await startStandaloneProcess(dir, ports);
  await first.stop();
  const lognode = join(dir, "lognode");
  const storage = await LedgerStorage.open(lognode, { address: "local:lognode", fileBytesMax: 4 * KiB });
  for (let i = 0; i < 8; i++) await storage.addEntry(0x7fff_0000, i, i - 1, [Buffer.alloc(KiB, i)], false);
  await storage.close();
  await writeAndStop(t, dir, "stop", ports);
  const journals = (await readdir(lognode)).filter((f) => /^journal-\d+\.log$/.test(f)).sort();
  t.ok(journals.length >= 2, `${journals.length} journal files`);
  const newest = journals.at(-1)!;
  t.ok((await stat(join(lognode, newest))).size > (200 * total) / 2, `the events are in ${newest}`);
  await rm(join(lognode, newest));
  const why = await refusedStart(dir, ports);
  t.match(why, new RegExp(`journal file ${newest} is missing \\(it was the newest\\)`), "named");
  t.match(why, /DATA_CORRUPTION/, "typed");
});

void t.test("(SIGTERM) the newest metadata snapshot deleted: the restart is refused, naming it, not served empty", { timeout: 90_000 }, async (t) => {
  const dir = t.testdir();
  const ports = await standalonePorts();
  await writeAndStop(t, dir, "stop", ports);
  // A store that has run a while has snapshotted: one snapshot is taken offline (after one write).
  const controller = join(dir, "controller");
  const store = await FileMetadataStore.open(controller, { snapshotEveryRecords: 1 });
  await store.put("test/damaged-data/snapshot", Buffer.from("x"));
  await store.close();
  const snapshot = (await readdir(controller)).filter((f) => /^snapshot-\d+$/.test(f)).sort().at(-1);
  t.ok(snapshot !== undefined, `a snapshot: ${snapshot}`);
  await rm(join(controller, snapshot!));
  const why = await refusedStart(dir, ports);
  t.match(why, new RegExp(`${snapshot} is missing`), "named");
  t.match(why, /DATA_CORRUPTION/, "typed");
});
