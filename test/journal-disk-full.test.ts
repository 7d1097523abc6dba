/**
 * The journal and a log node's storage on a full disk (a small tmpfs filled by a filler file): an
 * append the disk refuses, and everything queued with it, rejects STORAGE_FULL without failing the
 * journal; appends are refused at once for a pause; the node's health probe answers STORAGE_FULL
 * until statfs shows room; then appends succeed, and a reopen replays every acknowledged entry. A
 * disk that refuses again after each resume makes the pause double, up to journalFullRetryMsMax.
 */
import t from "tap";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { journalFullRetryMs, journalFullRetryMsMax, ManualClock } from "../common/index.js";
import { fillDisk, mountTmpfs } from "./support/tmpfs.js";
import { Journal } from "../segmentstore/tier1/journal.js";
import { probeLedgerId } from "../segmentstore/tier1/log-metadata.js";
import { LedgerStorage } from "../segmentstore/tier1/lognode/ledger-storage.js";

const payload = (i: number): Buffer => Buffer.alloc(32 * 1024, i % 251);

void t.test("journal: STORAGE_FULL for what the disk refuses, a pause, then appends again; nothing acknowledged is lost", async (t) => {
  const { dir, cleanup } = await mountTmpfs(16);
  t.teardown(() => cleanup());
  const journalDir = join(dir, "journal");
  const journal = await Journal.open(journalDir, () => undefined);
  const acked: number[] = [];
  for (let i = 0; i < 10; i++) acked.push((await journal.append(1, i, payload(i)), i));
  await fillDisk(join(dir, "filler"));

  // Many appends at once: some may fit the last page, then the disk refuses, and the rest with it.
  const results = await Promise.allSettled(Array.from({ length: 200 }, (_, k) => journal.append(1, 10 + k, payload(10 + k)).then(() => 10 + k)));
  const refused = results.filter((r) => r.status === "rejected");
  t.ok(refused.length > 0, `the disk refused appends (${refused.length} of 200)`);
  t.ok(
    refused.every((r) => (r.reason as { code?: string }).code === "STORAGE_FULL"),
    "every refusal is STORAGE_FULL",
  );
  const firstRefused = results.findIndex((r) => r.status === "rejected");
  t.ok(results.slice(firstRefused).every((r) => r.status === "rejected"), "nothing after a refused append was written (no gap)");
  for (const r of results) if (r.status === "fulfilled") acked.push(r.value);
  t.equal(journal.failed, undefined, "the journal is not failed");
  t.equal(journal.storageFull?.code, "STORAGE_FULL");
  t.equal(await journal.checkSpace(), journal.storageFull, "checkSpace says full");

  await rm(join(dir, "filler"));
  await sleep(journalFullRetryMs + 50);
  t.equal(await journal.checkSpace(), undefined, "room again once the pause is over and statfs shows space");
  const next = acked.length;
  for (let i = 0; i < 5; i++) acked.push((await journal.append(1, 1000 + i, payload(i)), 1000 + i));
  t.equal(journal.storageFull, undefined, "a written batch ends the full state");
  await journal.close();

  const replayed: number[] = [];
  const again = await Journal.open(journalDir, (_ledger, entryId) => replayed.push(entryId));
  t.same(replayed, acked, `every acknowledged entry is replayed once, in order (${next} before the refusal, 5 after)`);
  await again.close();
});

void t.test("log node: adds fail STORAGE_FULL, the health probe says so until there is room, then adds go through", async (t) => {
  const { dir, cleanup } = await mountTmpfs(16);
  const nodeDir = join(dir, "lognode");
  const storage = await LedgerStorage.open(nodeDir);
  t.teardown(() => cleanup(() => storage.close()));
  for (let i = 0; i < 5; i++) await storage.addEntry(7, i, i - 1, [payload(i)], false);
  await storage.readState(probeLedgerId);
  await fillDisk(join(dir, "filler"));
  let refused: unknown;
  for (let i = 5; i < 200 && refused === undefined; i++) {
    await storage.addEntry(7, i, i - 1, [payload(i)], false).catch((err: unknown) => (refused = err));
  }
  t.match(refused, { code: "STORAGE_FULL" }, "an add is refused STORAGE_FULL");
  await t.rejects(storage.readState(probeLedgerId), { code: "STORAGE_FULL" }, "the health probe answers STORAGE_FULL");
  await t.rejects(storage.fence(8), { code: "STORAGE_FULL" }, "a fence that cannot be made durable fails");
  t.equal((await storage.readState(8)).fenced, false, "and leaves the ledger unfenced");
  await rm(join(dir, "filler"));
  await sleep(journalFullRetryMs + 50);
  await storage.readState(probeLedgerId);
  t.pass("the probe answers again once there is room");
  t.equal((await storage.fence(8)).fenced, true, "a fence goes through");
  const last = (await storage.readState(7)).lastEntryId;
  await storage.addEntry(7, last + 1, last, [payload(0)], false);
  t.equal((await storage.readState(7)).lastEntryId, last + 1, "and so do adds");
});

void t.test("journal: each resume the disk refuses again doubles the pause, up to journalFullRetryMsMax", async (t) => {
  const { dir, cleanup } = await mountTmpfs(16);
  t.teardown(() => cleanup());
  const clock = new ManualClock();
  // A disk whose free space says room while writes are refused (a quota, no inodes, reserved
  // blocks): statfs is stood in by a figure far above journalFreeBytesResume, on a full tmpfs.
  let claimRoom = false;
  const freeBytes = (): Promise<number> => Promise.resolve(claimRoom ? 1 << 30 : 0);
  const journal = await Journal.open(join(dir, "journal"), () => undefined, { clock, freeBytes });
  await journal.append(1, 0, payload(0));
  await fillDisk(join(dir, "filler"));
  let entryId = 1;
  // The error of an append: a new STORAGE_FULL when the disk was tried, the standing one in a pause.
  const attempt = async (): Promise<unknown> => journal.append(1, entryId++, payload(entryId)).then(() => t.fail("the full disk took an append"), (err: unknown) => err);
  let last = await attempt();
  // Fill what is left of the last page, until the disk refuses.
  while ((last as { code?: string }).code !== "STORAGE_FULL") last = await attempt();

  // Without a resume (no checkSpace saw room) the pause stays journalFullRetryMs.
  for (let i = 0; i < 3; i++) {
    clock.advance(journalFullRetryMs);
    const again = await attempt();
    t.not(again, last, `the disk is tried again after ${journalFullRetryMs} ms`);
    last = again;
  }

  claimRoom = true;
  let pauseMs = journalFullRetryMs;
  const pauses: number[] = [];
  for (let resume = 0; resume < 7; resume++) {
    clock.advance(pauseMs - 1);
    t.equal(await journal.checkSpace(), last, `no resume before ${pauseMs} ms`);
    t.equal(await attempt(), last, `no disk write before ${pauseMs} ms`);
    clock.advance(1);
    t.equal(await journal.checkSpace(), undefined, "statfs claims room: a resume");
    const again = await attempt();
    t.not(again, last, "the disk is tried again");
    t.match(again, { code: "STORAGE_FULL" });
    last = again;
    pauses.push(pauseMs);
    pauseMs = Math.min(2 * pauseMs, journalFullRetryMsMax);
  }
  t.same(pauses, [500, 1000, 2000, 4000, 8000, 8000, 8000].map((ms) => Math.min(ms, journalFullRetryMsMax)), "doubling, bounded");
  await rm(join(dir, "filler"));
  clock.advance(journalFullRetryMsMax);
  await journal.append(1, entryId++, payload(0));
  t.equal(journal.storageFull, undefined, "a written batch ends the episode");
  await journal.close();
});
