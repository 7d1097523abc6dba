/**
 * Carries a data directory written by the foundation release forward. That release kept Tier-1 as
 * one local journal (`DIR/tier1`, the container id as ledger id); this one keeps each container's
 * log as ledgers on log nodes. At start, if the old journal exists, every container's entries are
 * appended, in order, to its Tier-1 log, and only once all are durable is the old folder renamed
 * to `tier1.migrated` (kept for the user to delete; nothing is removed).
 */
import { readdir, rename, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { InvalidConfigError, logger, syncDirectory } from "../../common/index.js";
import { Journal } from "./journal.js";
import { readLogState } from "./log-metadata.js";
import type { Tier1 } from "./tier1.js";

const log = logger("tier1");

/** Migrates `DIR/tier1` if it holds an old journal; resolves with the number of entries carried over. */
export async function migrateFoundationJournal(dataDir: string, tier1: Tier1, containerCount: number): Promise<number> {
  const dir = join(dataDir, "tier1");
  try {
    if (!(await stat(dir)).isDirectory()) return 0;
  } catch {
    return 0;
  }
  if (!(await readdir(dir)).some((f) => f.startsWith("journal-"))) return 0;
  for (let c = 0; c < containerCount; c++) {
    const { state } = await readLogState(tier1.metadata, c);
    if (state.ledgers.some((l) => l.lastEntryId === null || l.lastEntryId >= 0)) {
      throw new InvalidConfigError(
        `${dir} holds a journal in the foundation's format, but container ${c} already has a Tier-1 log; an earlier migration stopped part way. Move ${dir} aside to start without it, or restore the metadata from before that start.`,
      );
    }
  }
  // The old journal held every byte in memory at start too (until Tier-2, all data is pinned).
  const entries: Buffer[][] = Array.from({ length: containerCount }, () => []);
  const journal = await Journal.open(dir, (ledger, _entryId, payload) => {
    const list = entries[ledger];
    if (list === undefined) throw new InvalidConfigError(`${dir} holds container ${ledger}, but --containers is ${containerCount}`);
    list.push(payload);
  });
  await journal.close();
  let carried = 0;
  for (let c = 0; c < containerCount; c++) {
    const list = entries[c]!;
    if (list.length === 0) continue;
    const dataLog = await tier1.openLog(c);
    try {
      await Promise.all(list.map((e) => dataLog.append([e])));
    } finally {
      await dataLog.close();
    }
    carried += list.length;
  }
  await rename(dir, `${dir}.migrated`);
  await syncDirectory(dirname(dir));
  log.warn("carried the foundation-format journal into Tier-1; the old folder is kept, delete it when satisfied", { from: dir, to: `${dir}.migrated`, entries: carried });
  return carried;
}
