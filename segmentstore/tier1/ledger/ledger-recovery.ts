/**
 * Recovery of a ledger whose writer may still be alive (BookKeeper's recovery open): fence it on
 * enough nodes that the old writer cannot complete another add, find the last entry that may have
 * been acknowledged, and write the entries past the last-add-confirmed to their whole write sets
 * again (recovery adds pass the fence), so that each is on an ack quorum before the ledger is
 * closed at that entry.
 */
import { NoSuchEntryError, UnavailableError, logger, toSluiceError, logNodeReadBytesMax } from "../../../common/index.js";
import type { LogNodeApi } from "../log-node-api.js";
import { fencedEnough, writeSet } from "./quorum.js";

const log = logger("tier1");

export interface LedgerRecoveryTarget {
  ledgerId: number;
  ensemble: readonly LogNodeApi[];
  writeQuorum: number;
  ackQuorum: number;
}

/**
 * Fences and recovers the ledger; resolves with its last entry id (-1: empty). Rejects UNAVAILABLE
 * when too few nodes answer to fence it or to tell whether an entry was acknowledged (nothing is
 * decided then; try again later).
 */
export async function recoverLedger(target: LedgerRecoveryTarget): Promise<number> {
  const { ledgerId, ensemble, writeQuorum, ackQuorum } = target;
  const e = ensemble.length;
  const results = await Promise.allSettled(ensemble.map((node) => node.fence(ledgerId)));
  const fenced = new Set<number>();
  let lac = -1;
  const failures: string[] = [];
  results.forEach((r, i) => {
    if (r.status === "fulfilled") {
      fenced.add(i);
      lac = Math.max(lac, (r.value).lac);
    } else {
      failures.push(`${ensemble[i]!.address}: ${toSluiceError(r.reason).message}`);
    }
  });
  if (!fencedEnough(e, writeQuorum, ackQuorum, fenced)) {
    throw new UnavailableError(`ledger ${ledgerId}: fenced on ${fenced.size} of ${e} log nodes, too few to stop its old writer (${failures.join("; ")})`);
  }

  // Entries up to lac were acknowledged. Past it, an entry may have been acknowledged unless enough
  // replicas say they do not have it: at most Qa - 1 of its write set can then hold it.
  const missingProof = writeQuorum - ackQuorum + 1;
  let last = lac;
  let next = lac + 1;
  for (;;) {
    const set = writeSet(next, e, writeQuorum);
    let found: Buffer[] | undefined;
    let missing = 0;
    const unknown: string[] = [];
    for (const i of set) {
      const node = ensemble[i]!;
      // Only a fenced node's "missing" proves anything: an unfenced one may still take the old
      // writer's add for this entry after answering.
      try {
        const entries = await node.readEntries(ledgerId, next, logNodeReadBytesMax);
        if (entries.length > 0) {
          found = entries;
          break;
        }
        if (fenced.has(i)) missing++;
      } catch (err) {
        if (err instanceof NoSuchEntryError && fenced.has(i)) missing++;
        else unknown.push(`${node.address}: ${toSluiceError(err).message}`);
      }
    }
    if (found === undefined) {
      if (missing >= missingProof) break;
      throw new UnavailableError(`ledger ${ledgerId}: cannot tell whether entry ${next} was acknowledged (${unknown.join("; ")})`);
    }
    for (const data of found) {
      // Only the first entry of a run is known to be in this write set's order; re-adding each
      // to its own write set keeps striped ensembles right too.
      await readd(target, next, last, data);
      last = next;
      next++;
    }
  }
  if (last > lac) log.info("ledger recovered", { ledger: ledgerId, lac, lastEntryId: last });
  return last;
}

/** Writes a recovered entry to its whole write set (passing the fence) and waits for Qa of them. */
async function readd(target: LedgerRecoveryTarget, entryId: number, lac: number, data: Buffer): Promise<void> {
  const { ledgerId, ensemble, writeQuorum, ackQuorum } = target;
  const set = writeSet(entryId, ensemble.length, writeQuorum);
  const results = await Promise.allSettled(set.map((i) => ensemble[i]!.addEntry(ledgerId, entryId, lac, [data], true)));
  const ok = results.filter((r) => r.status === "fulfilled").length;
  if (ok < ackQuorum) {
    throw new UnavailableError(`ledger ${ledgerId}: recovered entry ${entryId} reached ${ok} of ${writeQuorum} log nodes, fewer than the ack quorum ${ackQuorum}`);
  }
}
