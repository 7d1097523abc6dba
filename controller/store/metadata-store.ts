/**
 * The MetadataStore contract: everything Sluice remembers outside event data (scopes, streams,
 * epochs, container logs, ownership, transactions, reader-group configs) lives behind it. Two
 * implementations keep it: the embedded durable store (`FileMetadataStore`, standalone) and etcd
 * (`EtcdMetadataStore`, clusters). One contract suite (`metadata-store.contract.ts`) runs against both.
 *
 * The model is etcd's: a flat ordered key space of UTF-8 keys; a global revision counter that every
 * change increments once (a transaction's changes share one revision); each key carries the revision
 * that last changed it (its `version`, etcd's mod_revision); leases whose expiry deletes the keys
 * attached to them. Every write resolves only once it is durable (embedded: fdatasync'd; etcd:
 * committed by its raft quorum).
 *
 * Errors common to every method: INVALID_ARGUMENT (empty or oversized key or value, too many
 * operations; nothing changes), CLOSED (the store was closed), UNAVAILABLE (etcd unreachable or
 * timed out; the write may or may not have happened, so retry with a compare), STORAGE_FULL
 * (embedded store at its byte bound; nothing changes), INTERNAL (the embedded store's disk write or
 * sync failed: the store stops, and the write may or may not be there after a restart).
 */

/** A lease identifier (etcd's int64 lease id, as a decimal string). */
export type LeaseId = string;

export interface KeyValue {
  key: string;
  value: Buffer;
  /** The revision of the write that last changed this key (etcd's mod_revision); never 0. */
  version: number;
  /** The revision at which the key was created (since it last did not exist). */
  createRevision: number;
  /** The lease the key is attached to, if any. */
  lease: LeaseId | undefined;
}

export interface PutOptions {
  /** Attach the key to this lease: it is deleted when the lease expires or is revoked. */
  lease?: LeaseId;
}

/** A transaction guard: `key` must currently have `version` (0: must be absent). */
export interface Compare {
  key: string;
  version: number;
}

export type TxnOp =
  | { type: "put"; key: string; value: Buffer; lease?: LeaseId }
  | { type: "delete"; key: string };

export interface ListOptions {
  /** Start after this key (exclusive): pass the last key of the previous page. */
  after?: string;
  /** Entries at most, 1 to `metadataListPageMax` (the default). */
  limit?: number;
}

export interface ListPage {
  entries: KeyValue[];
  /** True when more keys with the prefix follow the last entry. */
  more: boolean;
  /** The store revision this page was read at. */
  revision: number;
}

export interface WatchEvent {
  type: "put" | "delete";
  key: string;
  /** The new value of a put; empty for a delete. */
  value: Buffer;
  /** The revision of the change; events of one transaction share it. */
  revision: number;
}

export interface WatchHandler {
  /**
   * Called with changes in revision order, each change exactly once; never concurrently. If it
   * throws, the watch ends with onError(INTERNAL).
   */
  onEvents(events: WatchEvent[]): void;
  /**
   * Called once when the watch ends for good (REVISION_COMPACTED, CLOSED, or an error that will
   * not heal); a new watch from `lastRevision + 1` continues without a gap where history allows.
   */
  onError(err: Error): void;
}

export interface Watch {
  /**
   * Every change up to this revision under the prefix has been delivered (fromRevision - 1 before
   * any): a new watch from `lastRevision + 1` continues without a gap or a repeat.
   */
  readonly lastRevision: number;
  /** Stops delivery; no event is delivered after the promise resolves. */
  close(): Promise<void>;
}

export interface MetadataStore {
  /** The current value of `key`, or undefined. Reads every write whose promise has resolved. */
  get(key: string): Promise<KeyValue | undefined>;

  /** Writes `key` unconditionally (attached to `options.lease` if given). Resolves with the new revision. Raises LEASE_NOT_FOUND. */
  put(key: string, value: Buffer, options?: PutOptions): Promise<number>;

  /**
   * Writes `key` only if its current version is `expectedVersion` (0: only if absent, i.e. create).
   * Resolves with the new revision. Raises CONDITIONAL_CHECK_FAILED (nothing changes) when the
   * version differs; of concurrent calls with the same expectation exactly one succeeds.
   */
  compareAndSet(key: string, expectedVersion: number, value: Buffer, options?: PutOptions): Promise<number>;

  /**
   * Deletes `key`; with `expectedVersion`, only if that is its version (CONDITIONAL_CHECK_FAILED
   * otherwise, nothing changes). Resolves true if a key was deleted.
   */
  delete(key: string, expectedVersion?: number): Promise<boolean>;

  /** One page of the keys starting with `prefix`, in byte order of their UTF-8 encoding, read at one revision. */
  list(prefix: string, options?: ListOptions): Promise<ListPage>;

  /**
   * All or nothing: if every compare holds, applies every op (in order, at one new revision) and
   * resolves with that revision; otherwise changes nothing and raises CONDITIONAL_CHECK_FAILED
   * naming the keys whose versions differ. A key may appear in at most one op (INVALID_ARGUMENT).
   * Raises LEASE_NOT_FOUND if a put names a lease that is gone (nothing changes).
   */
  txn(compares: readonly Compare[], ops: readonly TxnOp[]): Promise<number>;

  /**
   * Delivers every change to keys starting with `prefix` with revision >= `fromRevision`, in
   * revision order, without gaps or repeats, past changes first; it survives lost connections
   * (resuming after the last delivered revision). Resolves once the watch is in place: a write
   * that starts after it resolves is delivered. Raises REVISION_COMPACTED (here or via onError)
   * when `fromRevision` is older than the history the store keeps.
   */
  watch(prefix: string, fromRevision: number, handler: WatchHandler): Promise<Watch>;

  /** Grants a lease that lives `ttlMs` (rounded up to whole seconds) unless kept alive. */
  grantLease(ttlMs: number): Promise<LeaseId>;

  /** Renews the lease for another full TTL. Raises LEASE_NOT_FOUND if it expired or was revoked. */
  keepAlive(lease: LeaseId): Promise<void>;

  /** Ends the lease now and deletes its keys (at one revision). A lease already gone is not an error. */
  revokeLease(lease: LeaseId): Promise<void>;

  /** The store's current revision (0 for a store never written). */
  revision(): Promise<number>;

  /** Ends watches (their onError is not called) and releases files or connections. */
  close(): Promise<void>;
}

/** Every key with `prefix`, paging through `list` (each page consistent in itself). */
export async function listAll(store: MetadataStore, prefix: string): Promise<KeyValue[]> {
  const out: KeyValue[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.list(prefix, after === undefined ? {} : { after });
    out.push(...page.entries);
    const last = page.entries.at(-1);
    if (!page.more || last === undefined) return out;
    after = last.key;
  }
}
