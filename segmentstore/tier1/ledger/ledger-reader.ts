/**
 * Reads entries of a ledger back from its replicas. Each entry is asked of the nodes of its write
 * set in turn; a node that fails (unreachable, damaged record, entry missing) is passed over for
 * the next replica, so one damaged or lost copy is served from a healthy one. An entry that no
 * replica can give is an error, never a gap.
 */
import { DataCorruptionError, UnavailableError, logger, toSluiceError, type SluiceError } from "../../../common/index.js";
import type { LogNodeApi } from "../log-node-api.js";
import { writeSet } from "./quorum.js";

const log = logger("tier1");

export interface LedgerReadTarget {
  ledgerId: number;
  ensemble: readonly LogNodeApi[];
  writeQuorum: number;
}

/**
 * Reads entries `first` .. at most `last` (inclusive) of the ledger, stopping once `maxBytes` are
 * gathered (at least one entry is returned). Rejects UNAVAILABLE if no replica answered for the
 * entry `first` but some could not be reached (retry later), and DATA_CORRUPTION if every replica
 * answered and none has it intact.
 */
export async function readLedgerEntries(target: LedgerReadTarget, first: number, last: number, maxBytes: number): Promise<Buffer[]> {
  const { ledgerId, ensemble, writeQuorum } = target;
  const failures: string[] = [];
  let retriable = false;
  const set = writeSet(first, ensemble.length, writeQuorum);
  for (const i of set) {
    const node = ensemble[i]!;
    let entries: Buffer[];
    try {
      entries = await node.readEntries(ledgerId, first, maxBytes);
    } catch (err) {
      const e: SluiceError = toSluiceError(err);
      if (e.retriable) retriable = true;
      failures.push(`${node.address}: ${e.code} ${e.message}`);
      if (e.code !== "NO_SUCH_ENTRY") log.warn("replica read failed; trying the next", { ledger: ledgerId, entry: first, node: node.address, error: e.message });
      continue;
    }
    if (entries.length === 0) {
      failures.push(`${node.address}: no entries`);
      continue;
    }
    return entries.slice(0, last - first + 1);
  }
  const what = `ledger ${ledgerId} entry ${first} could not be read from any replica (${failures.join("; ")})`;
  throw retriable ? new UnavailableError(what) : new DataCorruptionError(what);
}
