/**
 * A data directory from the foundation release (one local journal, container id as ledger id) is
 * carried into the containers' Tier-1 logs at start, entry for entry and in order, and the old
 * folder is kept aside; a second start finds nothing to migrate.
 */
import t from "tap";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { FileMetadataStore } from "../../controller/store/index.js";
import { migrateFoundationJournal } from "./foundation-migration.js";
import { Journal } from "./journal.js";
import { LedgerStorage } from "./lognode/ledger-storage.js";
import { Tier1 } from "./tier1.js";

void t.test("the foundation's journal moves into Tier-1 logs, in order, once", async (t) => {
  const dir = t.testdir();
  const old = await Journal.open(join(dir, "tier1"), () => undefined);
  const written: string[][] = [[], [], []];
  for (let i = 0; i < 30; i++) {
    const c = i % 3;
    const text = `container-${c}-entry-${written[c]!.length}`;
    await old.append(c, written[c]!.length, [Buffer.from(text)]);
    written[c]!.push(text);
  }
  await old.close();

  const metadata = await FileMetadataStore.open(join(dir, "controller"));
  const node = await LedgerStorage.open(join(dir, "lognode"));
  const tier1 = new Tier1({ nodes: [node], connect: () => node, quorum: { ensembleSize: 1, writeQuorum: 1, ackQuorum: 1 }, metadata });
  t.teardown(async () => {
    await tier1.close();
    await metadata.close();
  });

  t.equal(await migrateFoundationJournal(dir, tier1, 4), 30);
  const names = await readdir(dir);
  t.ok(names.includes("tier1.migrated") && !names.includes("tier1"), "the old folder is kept aside, not deleted");
  for (let c = 0; c < 3; c++) {
    const log = await tier1.openLog(c);
    const read: string[] = [];
    for await (const e of log.read()) read.push(e.data.toString());
    t.same(read, written[c], `container ${c}: every entry, in order`);
    await log.close();
  }
  t.equal(await migrateFoundationJournal(dir, tier1, 4), 0, "nothing left to migrate");
});
