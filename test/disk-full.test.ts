// Proves that a full disk is a typed, retriable, bounded condition that heals without a restart: a real standalone
// runs on a small tmpfs that a filler file makes full; writers get STORAGE_FULL within a bound instead of hanging, the
// container log does not storm new ledgers, the child's RSS stays bounded, and once the filler is deleted writes go
// through again; the embedded metadata store answers STORAGE_FULL (not INTERNAL) and recovers likewise. Every
// acknowledged event is read back exactly once, also after a restart.
import t, { type Test } from "tap";
import { appendFile, mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { Sluice } from "../client/index.js";
import { toSluiceError, type SluiceError } from "../common/index.js";
import { startStandaloneProcess, type StandaloneProcess } from "../perf/support/standalone-process.js";
import { fillDisk, mountTmpfs } from "./support/tmpfs.js";

/** A tmpfs of `sizeMiB` on a fresh directory; `stop` (the processes using it) runs first at teardown. */
async function tmpfsDir(t: Test, sizeMiB: number, stop: () => Promise<void>): Promise<string> {
  const { dir, cleanup } = await mountTmpfs(sizeMiB);
  t.teardown(() => cleanup(stop));
  return dir;
}

/** SLUICE_DISK_FULL_LOG=FILE keeps the children's stderr there. */
async function keepLog(server: StandaloneProcess | undefined): Promise<void> {
  const file = process.env.SLUICE_DISK_FULL_LOG;
  if (file !== undefined && server !== undefined) await appendFile(file, server.stderr());
}

/** The child's resident set (VmRSS) in MiB. */
async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
  return kib / 1024;
}

/** The code of `err`, then of its cause (the last error the client retried on). */
function codes(err: unknown): string[] {
  const e = toSluiceError(err);
  const cause = e.cause instanceof Error ? toSluiceError(e.cause) : undefined;
  return cause === undefined ? [e.code] : [e.code, cause.code];
}

async function readAll(sluice: Sluice, stream: string): Promise<string[]> {
  const events: string[] = [];
  for (const r of await sluice.batch.segments(stream)) for await (const e of sluice.batch.read(r)) events.push(Buffer.from(e.data).toString());
  return events;
}

/** Checks that every acknowledged event is there exactly once and nothing is there twice. */
function checkOnce(t: Test, events: readonly string[], acked: ReadonlySet<string>, what: string): void {
  const seen = new Map<string, number>();
  for (const e of events) seen.set(e, (seen.get(e) ?? 0) + 1);
  const missing = [...acked].filter((id) => !seen.has(id));
  const twice = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  t.same(missing, [], `${what}: every acknowledged event is there (${acked.size})`);
  t.same(twice, [], `${what}: no event is there twice`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Closes a client at teardown without letting a hung or failing close (the code before the fix) hold the test. */
function closeAtTeardown(t: Test, sluice: Sluice): void {
  t.teardown(() =>
    Promise.race([
      sluice.close().catch((err: unknown) => t.comment(`client close failed: ${toSluiceError(err).message}`)),
      sleep(5_000),
    ]),
  );
}

void t.test("journal disk full: STORAGE_FULL within a bound, no ledger storm, bounded RSS, writes resume without a restart", { timeout: 240_000 }, async (t) => {
  let server: StandaloneProcess | undefined;
  const dir = await tmpfsDir(t, 48, async () => {
    await keepLog(server);
    await server?.kill();
  });
  server = await startStandaloneProcess(dir);
  const sluice = await Sluice.connect(server.controllerUri);
  closeAtTeardown(t, sluice);
  await sluice.admin.createScope("full");
  await sluice.admin.createStream("full/s", { scaling: { type: "fixed", minSegments: 1 } });

  const acked = new Set<string>();
  const payload = (id: string) => `${id}:${"x".repeat(200)}`;
  const before = sluice.writer("full/s");
  for (let i = 0; i < 200; i++) {
    await before.write(payload(`before-${i}`));
    acked.add(payload(`before-${i}`));
  }
  await before.close();

  const filler = join(dir, "filler");
  const filled = await fillDisk(filler);
  t.ok(filled > 0, `the disk is full (a filler of ${Math.round(filled / 1024 / 1024)} MiB)`);
  const rssBefore = await rssMiB(server.proc.pid!);

  // Writers keep writing through the full disk, each with a new writer after a failure, as an application would.
  const failures: { ms: number; codes: string[] }[] = [];
  const fullAtMs = Date.now();
  const stderrAtFull = server.stderr().length;
  let stop = false;
  const writers = [0, 1].map(async (w) => {
    for (let round = 0; !stop; round++) {
      const writer = sluice.writer("full/s");
      try {
        for (let i = 0; !stop; i++) {
          const id = payload(`w${w}-r${round}-${i}`);
          await writer.write(id);
          acked.add(id);
        }
      } catch (err) {
        failures.push({ ms: Date.now() - fullAtMs, codes: codes(err) });
      } finally {
        await writer.close().catch(() => undefined);
      }
    }
  });
  let rssMax = rssBefore;
  const firstFailureDeadlineMs = 75_000;
  while (failures.length === 0 && Date.now() - fullAtMs < firstFailureDeadlineMs) {
    rssMax = Math.max(rssMax, await rssMiB(server.proc.pid!));
    await sleep(1_000);
  }
  t.ok(failures.length > 0, `a write failed within ${firstFailureDeadlineMs} ms of the disk filling (after ${failures[0]?.ms} ms)`);
  t.equal(failures[0]?.codes[0], "STORAGE_FULL", `the failure is STORAGE_FULL itself (${failures[0]?.codes.join(" <- ")})`);
  // A few more seconds of writers retrying against the full disk.
  for (let i = 0; i < 5; i++) {
    rssMax = Math.max(rssMax, await rssMiB(server.proc.pid!));
    await sleep(1_000);
  }
  // New ledgers come from moves (a broken ledger replaced) and from takeovers (a failed container recovered).
  const newLedgers = (server.stderr().slice(stderrAtFull).match(/moved to a new ledger|container log opened/g) ?? []).length;
  const fullForMs = Date.now() - fullAtMs;
  t.ok(newLedgers <= 2 + fullForMs / 5_000, `${newLedgers} new ledgers in ${fullForMs} ms of full disk (no storm)`);
  t.ok(rssMax - rssBefore < 150, `RSS stayed bounded: ${Math.round(rssBefore)} -> max ${Math.round(rssMax)} MiB`);
  t.comment(`disk full: first failure after ${failures[0]?.ms} ms, ${failures.length} failures, ${newLedgers} new ledgers, RSS ${Math.round(rssBefore)} -> ${Math.round(rssMax)} MiB`);

  // Room again: writes go through without a restart.
  await rm(filler);
  const freedAtMs = Date.now();
  const failuresAtFree = failures.length;
  const after = sluice.writer("full/s");
  let resumedMs: number | undefined;
  for (let i = 0; resumedMs === undefined && Date.now() - freedAtMs < 60_000; i++) {
    try {
      await after.write(payload(`after-${i}`));
      acked.add(payload(`after-${i}`));
      resumedMs = Date.now() - freedAtMs;
    } catch (err) {
      t.comment(`a write after freeing space failed (${codes(err).join(" <- ")}); retrying`);
      await sleep(1_000);
    }
  }
  t.ok(resumedMs !== undefined, `writes resumed ${resumedMs} ms after space was freed, without a restart`);
  if (resumedMs === undefined) {
    stop = true;
    return;
  }
  for (let i = 0; i < 50; i++) {
    await after.write(payload(`after-more-${i}`));
    acked.add(payload(`after-more-${i}`));
  }
  await after.close();
  stop = true;
  // A writer stuck in a write that never settles (the hang this test is about) must not hold it.
  await Promise.race([Promise.all(writers), sleep(30_000)]);
  t.comment(`failures after freeing space: ${failures.length - failuresAtFree}`);

  checkOnce(t, await readAll(sluice, "full/s"), acked, "read back without a restart");
  await sluice.close();

  // A restart finds the same events, and a log with few ledgers.
  await server.stop();
  t.notMatch(server.stderr(), /failed for good/, "no file was failed for good by the full disk");
  await keepLog(server);
  server = await startStandaloneProcess(dir);
  const again = await Sluice.connect(server.controllerUri);
  closeAtTeardown(t, again);
  checkOnce(t, await readAll(again, "full/s"), acked, "read back after a restart");
  await again.close();
  await server.stop();
  const ledgers = await countLedgers(join(dir, "controller"));
  t.ok(ledgers <= 12, `the container logs list ${ledgers} ledgers in all (4 containers)`);
});

/** Ledgers listed (live and being deleted) by every container log in the stopped standalone's metadata store. */
async function countLedgers(metadataDir: string): Promise<number> {
  const { FileMetadataStore } = await import("../controller/store/file-metadata-store.js");
  const store = await FileMetadataStore.open(metadataDir);
  try {
    const page = await store.list("tier1/logs/");
    let n = 0;
    for (const kv of page.entries) {
      const state = JSON.parse(kv.value.toString()) as { ledgers: unknown[]; deleting: unknown[] };
      n += state.ledgers.length + state.deleting.length;
    }
    return n;
  } finally {
    await store.close();
  }
}

void t.test("metadata disk full: STORAGE_FULL (not INTERNAL), the rest keeps serving, metadata writes resume without a restart", { timeout: 120_000 }, async (t) => {
  const dir = t.testdir();
  let server: StandaloneProcess | undefined;
  const metaDir = await tmpfsDir(t, 8, async () => {
    await keepLog(server);
    await server?.kill();
  });
  await mkdir(join(dir, "data"));
  const args = ["--metadata", `file://${metaDir}`];
  server = await startStandaloneProcess(join(dir, "data"), args);
  const sluice = await Sluice.connect(server.controllerUri);
  closeAtTeardown(t, sluice);
  await sluice.admin.createScope("meta");
  await sluice.admin.createStream("meta/a", { scaling: { type: "fixed", minSegments: 1 } });
  const acked = new Set<string>();
  const writer = sluice.writer("meta/a");
  for (let i = 0; i < 100; i++) {
    await writer.write(`a-${i}`);
    acked.add(`a-${i}`);
  }

  const filler = join(metaDir, "filler");
  await fillDisk(filler);
  let refused: SluiceError | undefined;
  // The first writes may still fit in the last page of the metadata log; the disk refuses soon after.
  for (let i = 0; i < 50 && refused === undefined; i++) {
    try {
      await sluice.admin.createScope(`full${i}`);
    } catch (err) {
      refused = toSluiceError(err);
    }
  }
  t.equal(refused?.code, "STORAGE_FULL", `a metadata write is refused STORAGE_FULL (${refused?.message})`);
  let refusedAgain: SluiceError | undefined;
  await sluice.admin.createStream("meta/b", { scaling: { type: "fixed", minSegments: 1 } }).catch((err: unknown) => (refusedAgain = toSluiceError(err)));
  t.equal(refusedAgain?.code, "STORAGE_FULL", "and so is the next one");

  // What needs no metadata write keeps working: appends and reads of the existing stream.
  for (let i = 100; i < 150; i++) {
    await writer.write(`a-${i}`);
    acked.add(`a-${i}`);
  }
  checkOnce(t, await readAll(sluice, "meta/a"), acked, "the existing stream while the metadata disk is full");

  await rm(filler);
  const freedAtMs = Date.now();
  let created = false;
  while (!created && Date.now() - freedAtMs < 20_000) {
    try {
      await sluice.admin.createScope("after");
      created = true;
    } catch (err) {
      t.comment(`createScope after freeing space: ${toSluiceError(err).code}; retrying`);
      await sleep(500);
    }
  }
  t.ok(created, `metadata writes go through again ${Date.now() - freedAtMs} ms after space was freed, without a restart`);
  // meta/b may or may not have been created before the refusal: the refusal says it was not.
  await sluice.admin.createStream("meta/b", { scaling: { type: "fixed", minSegments: 1 } });
  await sluice.admin.createStream("after/c", { scaling: { type: "fixed", minSegments: 1 } });
  const wc = sluice.writer("after/c");
  const ackedC = new Set<string>();
  for (let i = 0; i < 20; i++) {
    await wc.write(`c-${i}`);
    ackedC.add(`c-${i}`);
  }
  await wc.close();
  await writer.close();
  await sluice.close();
  await server.stop();
  t.notMatch(server.stderr(), /failed for good|snapshot failed/, "the metadata store was never failed for good");
  await keepLog(server);

  server = await startStandaloneProcess(join(dir, "data"), args);
  const again = await Sluice.connect(server.controllerUri);
  closeAtTeardown(t, again);
  const scopes = await again.admin.listScopes();
  t.ok(scopes.includes("meta") && scopes.includes("after"), `scopes created before and after the full disk survive a restart (${scopes.join(", ")})`);
  checkOnce(t, await readAll(again, "meta/a"), acked, "meta/a after a restart");
  checkOnce(t, await readAll(again, "after/c"), ackedC, "after/c after a restart");
  await again.close();
  await server.stop();
});
