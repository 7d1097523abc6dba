/**
 * Where transaction records live in the MetadataStore. Live and ended records are kept apart so
 * that the scans that need live transactions (the open count at create, commit batch planning,
 * ListTransactions, lease expiry, resuming workflows) never read the ended ones, of which a busy
 * stream keeps hundreds of thousands for --txn-record-kept-ms:
 *   txns/<scope>/<stream>/<txnId>                         -> TxnRecord, OPEN, COMMITTING or ABORTING
 *   txnsended/<scope>/<stream>/<txnId>                    -> TxnRecord, COMMITTED or ABORTED (no parents)
 *   txnsexpiry/<endedAtMs, 15 digits>/<scope>/<stream>/<txnId> -> empty: the removal index, in end order
 * A record moves from `txns/` to `txnsended/` (with its index key) in the one metadata transaction
 * that ends it, so a lookup by id that reads the live key first and the ended key second finds a
 * record that exists (records never move back). The index lets the sweep remove due records in
 * end order and stop at the first that is not due, so a round costs what it removes.
 * (`txns/` is not a prefix of `txnsended/` or `txnsexpiry/`: the slash comes first.)
 */
import { assert, nameBytesMax } from "../../common/index.js";

export const txnRootPrefix = "txns/";
export const txnEndedRootPrefix = "txnsended/";
export const txnExpiryRootPrefix = "txnsexpiry/";

/** Decimal digits of the end time in an index key: ms up to 10^15, past the year 33000. */
const expiryTimeDigits = 15;
/** Characters of a transaction id (see txn-record.ts). */
const txnIdChars = 32;

/** The longest key of the three families (the index key, with the longest scope and stream names). */
export const txnKeyBytesMax = txnExpiryRootPrefix.length + expiryTimeDigits + 3 + 2 * nameBytesMax + txnIdChars;

/** The prefix of a stream's live records. */
export function txnPrefix(scope: string, stream: string): string {
  return `${txnRootPrefix}${scope}/${stream}/`;
}

/** The key of a live (OPEN, COMMITTING, ABORTING) record. */
export function txnKey(scope: string, stream: string, txnId: string): string {
  return `${txnPrefix(scope, stream)}${txnId}`;
}

/** The prefix of a stream's ended records (stream deletion removes them). */
export function txnEndedPrefix(scope: string, stream: string): string {
  return `${txnEndedRootPrefix}${scope}/${stream}/`;
}

/** The key of an ended (COMMITTED, ABORTED) record. */
export function txnEndedKey(scope: string, stream: string, txnId: string): string {
  return `${txnEndedPrefix(scope, stream)}${txnId}`;
}

/** The removal index key of a record that ended at `endedAtMs`; keys sort by end time. */
export function txnExpiryKey(endedAtMs: number, scope: string, stream: string, txnId: string): string {
  assert(Number.isSafeInteger(endedAtMs) && endedAtMs >= 0 && endedAtMs < 10 ** expiryTimeDigits, "an end time fits an index key");
  return `${txnExpiryRootPrefix}${endedAtMs.toString().padStart(expiryTimeDigits, "0")}/${scope}/${stream}/${txnId}`;
}

/** The scope, stream and id named by a key under `txns/`, or undefined for another key. */
export function parseTxnKey(key: string): { scope: string; stream: string; txnId: string } | undefined {
  const m = /^txns\/([^/]+)\/([^/]+)\/([0-9a-f]{32})$/.exec(key);
  return m === null ? undefined : { scope: m[1]!, stream: m[2]!, txnId: m[3]! };
}

/** What a removal index key names, or undefined for a key of another shape. */
export function parseTxnExpiryKey(key: string): { endedAtMs: number; scope: string; stream: string; txnId: string } | undefined {
  const m = /^txnsexpiry\/([0-9]{15})\/([^/]+)\/([^/]+)\/([0-9a-f]{32})$/.exec(key);
  return m === null ? undefined : { endedAtMs: Number.parseInt(m[1]!, 10), scope: m[2]!, stream: m[3]!, txnId: m[4]! };
}
