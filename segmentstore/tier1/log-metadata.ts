/**
 * What the metadata store keeps for a container's Tier-1 log: an epoch and an ordered list of
 * ledgers, one JSON value per container under `tier1/logs/<container>`, changed only by
 * compare-and-set on its version. Also log addresses, and ledger id allocation.
 */
import { ConditionalCheckFailedError, DataCorruptionError, InternalError, WriterNotPrimaryError, type SluiceError } from "../../common/index.js";
import type { MetadataStore } from "../../controller/store/index.js";

export interface LedgerRecord {
  /** Position of the ledger in its log; grows by one per ledger, never reused (part of addresses). */
  seq: number;
  /** Cluster-wide ledger id (u32 >= 1). */
  id: number;
  /** Addresses of the log nodes, in ensemble order. */
  ensemble: string[];
  writeQuorum: number;
  ackQuorum: number;
  /** Last entry of a closed ledger (-1: closed empty); null while the ledger is open. */
  lastEntryId: number | null;
  /**
   * The instance id (cookie) of each ensemble node when the ledger was made, in ensemble order;
   * null where the node could not tell. A node answering another id later has lost the data it
   * held (LogNodeApi.instanceId). Absent in logs written before cookies existed.
   */
  instances?: (string | null)[];
}

export interface LogState {
  /** Bumped by every open; the owner with the highest epoch is the only one that may write. */
  epoch: number;
  /** The seq the next ledger gets. */
  nextSeq: number;
  /** Live ledgers in order; only the last may be open. */
  ledgers: LedgerRecord[];
  /** Ledgers truncated away whose deletion on the log nodes has not yet been confirmed. */
  deleting: { id: number; ensemble: string[] }[];
  /** Entries below this address are truncated: reads start here (0: never truncated). */
  truncatedAt: number;
}

export const emptyLogState: LogState = { epoch: 0, nextSeq: 1, ledgers: [], deleting: [], truncatedAt: 0 };

/** Largest ledger id handed out; 0xffffffff is kept for health probes. */
export const ledgerIdMax = 0xffff_fffe;
/** The ledger id used to probe a node's health (read state only; never written). */
export const probeLedgerId = 0xffff_ffff;

/** Entries per ledger; an address keeps the entry id in its low 32 bits. */
export const entriesPerLedgerMax = 2 ** 32;
/** Ledgers per log over its life: addresses must stay safe integers. */
const ledgerSeqMax = Math.floor(Number.MAX_SAFE_INTEGER / entriesPerLedgerMax);

/** A log address: the ledger's seq in the high bits, the entry id in the low 32. Ordered like the log. */
export function logAddress(seq: number, entryId: number): number {
  if (seq > ledgerSeqMax) throw new InternalError(`log ledger seq ${seq} is above ${ledgerSeqMax}`);
  return seq * entriesPerLedgerMax + entryId;
}

export function addressSeq(address: number): number {
  return Math.floor(address / entriesPerLedgerMax);
}

export function addressEntryId(address: number): number {
  return address % entriesPerLedgerMax;
}

export function logKey(container: number): string {
  return `tier1/logs/${container}`;
}

const ledgerIdKey = "tier1/ledger-id-last";

/** The log's state and its version (0: no log yet). Raises DATA_CORRUPTION for a value that does not parse. */
export async function readLogState(store: MetadataStore, container: number): Promise<{ state: LogState; version: number }> {
  const kv = await store.get(logKey(container));
  if (kv === undefined) return { state: structuredClone(emptyLogState), version: 0 };
  return { state: parseLogState(kv.value, logKey(container)), version: kv.version };
}

/**
 * Writes `state` if the log is still at `version`; resolves with the new version. Someone else
 * changed it (a newer owner) -> WRITER_NOT_PRIMARY.
 */
export async function writeLogState(store: MetadataStore, container: number, version: number, state: LogState): Promise<number> {
  try {
    return await store.compareAndSet(logKey(container), version, Buffer.from(JSON.stringify(state)));
  } catch (err) {
    if (err instanceof ConditionalCheckFailedError) {
      throw new WriterNotPrimaryError(`container ${container}: its Tier-1 log was changed by a newer owner; this owner (epoch ${state.epoch}) is fenced`, { cause: err });
    }
    throw err;
  }
}

/** Allocates a new ledger id (a compare-and-set loop on one counter key). */
export async function allocateLedgerId(store: MetadataStore): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const kv = await store.get(ledgerIdKey);
    const last = kv === undefined ? 0 : Number(kv.value.toString());
    if (!Number.isSafeInteger(last) || last < 0) throw new DataCorruptionError(`metadata ${ledgerIdKey} holds ${kv?.value.toString()}, not a ledger id`);
    if (last >= ledgerIdMax) throw new InternalError(`ledger ids are used up (${ledgerIdKey} is ${last})`);
    try {
      await store.compareAndSet(ledgerIdKey, kv?.version ?? 0, Buffer.from(String(last + 1)));
      return last + 1;
    } catch (err) {
      // Another log took the id; take the next one. Bounded: each failure means someone progressed.
      if (!(err instanceof ConditionalCheckFailedError) || attempt >= 1000) throw err;
    }
  }
}

function parseLogState(value: Buffer, key: string): LogState {
  const bad = (why: string): SluiceError => new DataCorruptionError(`metadata ${key} is not a Tier-1 log state: ${why}`);
  let v: unknown;
  try {
    v = JSON.parse(value.toString("utf8"));
  } catch (err) {
    throw bad(err instanceof Error ? err.message : String(err));
  }
  if (typeof v !== "object" || v === null) throw bad("not an object");
  const o = v as Record<string, unknown>;
  const int = (x: unknown, what: string, min: number): number => {
    if (typeof x !== "number" || !Number.isSafeInteger(x) || x < min) throw bad(`${what} is ${JSON.stringify(x)}`);
    return x;
  };
  const addresses = (x: unknown, what: string): string[] => {
    if (!Array.isArray(x) || x.length === 0 || !x.every((a) => typeof a === "string")) throw bad(`${what} is not a list of addresses`);
    return x;
  };
  const instanceList = (x: unknown, length: number, what: string): (string | null)[] => {
    if (!Array.isArray(x) || x.length !== length || !x.every((a) => a === null || typeof a === "string")) throw bad(`${what} is not a list of instance ids, one per ensemble node`);
    return x as (string | null)[];
  };
  const epoch = int(o.epoch, "epoch", 0);
  const nextSeq = int(o.nextSeq, "nextSeq", 1);
  if (!Array.isArray(o.ledgers) || !Array.isArray(o.deleting)) throw bad("ledgers or deleting is not a list");
  const ledgers = (o.ledgers as unknown[]).map((x, i): LedgerRecord => {
    const l = (typeof x === "object" && x !== null ? x : {}) as Record<string, unknown>;
    return {
      seq: int(l.seq, `ledgers[${i}].seq`, 1),
      id: int(l.id, `ledgers[${i}].id`, 1),
      ensemble: addresses(l.ensemble, `ledgers[${i}].ensemble`),
      writeQuorum: int(l.writeQuorum, `ledgers[${i}].writeQuorum`, 1),
      ackQuorum: int(l.ackQuorum, `ledgers[${i}].ackQuorum`, 1),
      lastEntryId: l.lastEntryId === null ? null : int(l.lastEntryId, `ledgers[${i}].lastEntryId`, -1),
      ...(l.instances === undefined ? {} : { instances: instanceList(l.instances, Array.isArray(l.ensemble) ? l.ensemble.length : 0, `ledgers[${i}].instances`) }),
    };
  });
  const deleting = (o.deleting as unknown[]).map((x, i) => {
    const d = (typeof x === "object" && x !== null ? x : {}) as Record<string, unknown>;
    return { id: int(d.id, `deleting[${i}].id`, 1), ensemble: addresses(d.ensemble, `deleting[${i}].ensemble`) };
  });
  // Logs written before truncation points existed have none.
  const truncatedAt = o.truncatedAt === undefined ? 0 : int(o.truncatedAt, "truncatedAt", 0);
  return { epoch, nextSeq, ledgers, deleting, truncatedAt };
}
