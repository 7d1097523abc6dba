/**
 * Removing ended transaction records. The sweep reads the removal index (`txnsexpiry/`, sorted by
 * end time, see txn-keys.ts) from its start in pages and removes every entry that is due (ended
 * --txn-record-kept-ms ago or more), with its ended record, until the first entry that is not due.
 * Pages start at one entry and double up to txnSweepPageMax, so a round with nothing due reads one
 * key, and a round reads at most what it removes plus one page, however many records are kept. Removals go
 * in metadata transactions of several entries, each entry at the version it was read, so two
 * controllers sweeping at once (a leader hand-over) remove each entry once and nothing newer.
 */
import { assert, ConditionalCheckFailedError, logger, metadataListPageMax, metadataTxnOpsMax } from "../../common/index.js";
import type { Compare, MetadataStore, TxnOp } from "../store/index.js";
import { parseTxnExpiryKey, txnEndedKey, txnExpiryRootPrefix } from "./txn-keys.js";

const log = logger("controller");

/** Index entries one sweep page reads at most (the first reads one, each next twice the last). */
export const txnSweepPageMax = 256;
/**
 * Records one sweep round removes at most; a larger backlog (a controller that was down) is
 * worked off over the next rounds, so one round never holds the leader's sweeper for long.
 */
export const txnSweepRemovedPerRoundMax = 64 * txnSweepPageMax;
assert(txnSweepPageMax <= metadataListPageMax, "a sweep page is one list call");
// The largest removal is an index entry: its compare, its delete and its ended record's delete.
assert(3 <= metadataTxnOpsMax, "a removal fits one metadata transaction");

/** A key to delete only at `version`, and optionally another key deleted with it unconditionally. */
export interface Removal {
  key: string;
  version: number;
  /** A key that goes with `key` (an index entry's ended record); absent already is fine. */
  with?: string;
}

/**
 * Deletes every removal whose key still has its version, in metadata transactions within
 * metadataTxnOpsMax; a transaction that loses a compare (a key changed or removed since it was
 * read) is retried entry by entry, and an entry that loses again is left (it belongs to someone
 * newer, or is gone). Resolves with the number of entries this call removed.
 */
export async function removeAtVersions(store: MetadataStore, removals: readonly Removal[]): Promise<number> {
  let removed = 0;
  let batch: Removal[] = [];
  let ops = 0;
  const flush = async () => {
    if (batch.length > 0) removed += await removeBatch(store, batch);
    batch = [];
    ops = 0;
  };
  for (const r of removals) {
    const cost = r.with === undefined ? 2 : 3;
    if (ops + cost > metadataTxnOpsMax) await flush();
    batch.push(r);
    ops += cost;
  }
  await flush();
  return removed;
}

async function removeBatch(store: MetadataStore, batch: readonly Removal[]): Promise<number> {
  const parts = (r: Removal): { compares: Compare[]; ops: TxnOp[] } => ({
    compares: [{ key: r.key, version: r.version }],
    ops: [{ type: "delete", key: r.key }, ...(r.with === undefined ? [] : [{ type: "delete" as const, key: r.with }])],
  });
  try {
    await store.txn(batch.flatMap((r) => parts(r).compares), batch.flatMap((r) => parts(r).ops));
    return batch.length;
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedError)) throw err;
  }
  // A single entry that lost its compare changed or went since it was read: it is not ours to remove.
  if (batch.length === 1) return 0;
  let removed = 0;
  for (const r of batch) removed += await removeBatch(store, [r]);
  return removed;
}

/**
 * One sweep round at `nowMs` (see the file comment): removes the ended records due by then, in end
 * order, at most txnSweepRemovedPerRoundMax. An index entry whose ended record is already gone
 * (its stream was deleted) is removed alike. Resolves with the number of index entries removed.
 */
export async function removeDueRecords(store: MetadataStore, nowMs: number, recordKeptMs: number): Promise<number> {
  let removed = 0;
  let after: string | undefined;
  for (let limit = 1; removed < txnSweepRemovedPerRoundMax; limit = Math.min(2 * limit, txnSweepPageMax)) {
    const page = await store.list(txnExpiryRootPrefix, { limit, ...(after === undefined ? {} : { after }) });
    const due: Removal[] = [];
    let stop = false;
    for (const kv of page.entries) {
      const entry = parseTxnExpiryKey(kv.key);
      if (entry === undefined) {
        // Nothing writes such a key; it is left for a person to look at rather than guessed about.
        log.warn("a key under the transaction removal index has an unexpected shape; it is skipped", { key: kv.key });
        continue;
      }
      if (entry.endedAtMs + recordKeptMs > nowMs || removed + due.length >= txnSweepRemovedPerRoundMax) {
        stop = true;
        break;
      }
      due.push({ key: kv.key, version: kv.version, with: txnEndedKey(entry.scope, entry.stream, entry.txnId) });
    }
    removed += await removeAtVersions(store, due);
    const last = page.entries.at(-1);
    if (stop || !page.more || last === undefined) return removed;
    after = last.key;
  }
  return removed;
}
