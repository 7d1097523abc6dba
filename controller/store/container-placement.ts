/**
 * Which segment store should serve each container (its assignment), and which one does serve it now
 * (its owner), kept in the MetadataStore. Key layout:
 *   cluster/assignment/<container>  -> { "store": STORE_ID }                        (JSON)
 *   cluster/owners/<container>      -> { "store", "host", "port", "epoch" }         (JSON, ContainerOwner)
 *
 * An assignment is a wish, written by an operator, a test, or (later) the controller's placement.
 * A segment store that is assigned a container takes it over (it fences the previous owner's log,
 * which gives it a new epoch) and only then records itself as the owner; the controller answers
 * `getEndpoint` from the owner record. Owner records only move forward in epoch, so a zombie (an
 * owner fenced since) can never overwrite the record of the store that fenced it.
 *
 * A value that does not parse, or parses to the wrong shape, is DATA_CORRUPTION naming the key.
 */
import {
  ConditionalCheckFailedError,
  containerCountMax,
  DataCorruptionError,
  InvalidArgumentError,
  metadataListPageMax,
  metadataTxnOpsMax,
  quoteBounded,
  UnavailableError,
} from "../../common/index.js";
import type { KeyValue, MetadataStore, TxnOp } from "./metadata-store.js";

/** The segment store that serves a container now, and the epoch of its takeover (its log's epoch). */
export interface ContainerOwner {
  store: string;
  host: string;
  port: number;
  epoch: number;
}

export const containerAssignmentPrefix = "cluster/assignment/";
const containerOwnerPrefix = "cluster/owners/";
/** Where the cluster's container count is recorded (see cluster-settings.ts, which writes it). */
const containerCountKey = "cluster/containers";

/** Longest store id: ids go into keys, values and log lines. */
const storeIdBytesMax = 255;
const storeIdPattern = /^[A-Za-z0-9._:-]+$/;
/**
 * Compare-and-set attempts of one recordContainerOwner. Each lost attempt means another owner was
 * recorded in between. On the embedded store a compare can lose to a write that is staged but not
 * yet readable (it is still being synced), so one competing write may cost two attempts; takeovers
 * of one container are rare, so running out means something loops.
 */
const ownerRecordAttemptsMax = 64;

export function containerAssignmentKey(container: number): string {
  return `${containerAssignmentPrefix}${container}`;
}

export function containerOwnerKey(container: number): string {
  return `${containerOwnerPrefix}${container}`;
}

/** The container number of an assignment key, or undefined for another key. */
export function parseAssignmentKey(key: string): number | undefined {
  if (!key.startsWith(containerAssignmentPrefix)) return undefined;
  const rest = key.slice(containerAssignmentPrefix.length);
  // Canonical decimal only, so one container has exactly one key.
  if (!/^(0|[1-9][0-9]{0,8})$/.test(rest)) return undefined;
  return Number(rest);
}

/** Validates a store id: 1-255 bytes of [A-Za-z0-9._:-]; raises INVALID_ARGUMENT with an actionable message. */
export function validateStoreId(id: string): void {
  if (typeof id !== "string" || id.length === 0) {
    throw new InvalidArgumentError("store id is empty: give 1-255 characters of A-Z a-z 0-9 . _ : -, e.g. ss-1 or 10.0.0.5:12345");
  }
  // The length first (the id may be anything a peer sent); the pattern is ASCII only, so a valid
  // id's length in characters is its length in bytes.
  if (id.length > storeIdBytesMax) {
    throw new InvalidArgumentError(`store id ${quoteBounded(id)} is longer than ${storeIdBytesMax} characters; use a shorter one`);
  }
  if (!storeIdPattern.test(id)) {
    throw new InvalidArgumentError(`store id ${quoteBounded(id)} may contain only A-Z a-z 0-9 . _ : -, e.g. ss-1 or 10.0.0.5:12345`);
  }
}

function checkContainerCountArgument(containerCount: number): void {
  if (!Number.isInteger(containerCount) || containerCount < 1 || containerCount > containerCountMax) {
    throw new InvalidArgumentError(`container count must be an integer in [1, ${containerCountMax}], got ${containerCount}`);
  }
}

function checkContainer(container: number, containerCount: number): void {
  if (!Number.isInteger(container) || container < 0 || container >= containerCount) {
    throw new InvalidArgumentError(`container ${container} does not exist: this cluster has containers 0 to ${containerCount - 1}`);
  }
}

function checkOwner(owner: ContainerOwner): void {
  validateStoreId(owner.store);
  if (typeof owner.host !== "string" || owner.host.length === 0 || owner.host.length > storeIdBytesMax) {
    throw new InvalidArgumentError(`owner host must be 1-${storeIdBytesMax} characters, got ${JSON.stringify(owner.host)}`);
  }
  if (!Number.isInteger(owner.port) || owner.port < 1 || owner.port > 65535) {
    throw new InvalidArgumentError(`owner port must be an integer in [1, 65535], got ${owner.port}`);
  }
  if (!Number.isSafeInteger(owner.epoch) || owner.epoch < 0) {
    throw new InvalidArgumentError(`owner epoch must be an integer >= 0, got ${owner.epoch}`);
  }
}

function parseJson(key: string, value: Buffer): unknown {
  try {
    return JSON.parse(value.toString("utf8"));
  } catch (err) {
    throw new DataCorruptionError(`metadata key ${key} does not hold valid JSON: ${value.toString("utf8").slice(0, 80)}`, { cause: err });
  }
}

function decodeAssignment(kv: KeyValue): string {
  const v = parseJson(kv.key, kv.value);
  const store = typeof v === "object" && v !== null ? (v as { store?: unknown }).store : undefined;
  if (typeof store !== "string" || !storeIdPattern.test(store) || store.length > storeIdBytesMax) {
    throw new DataCorruptionError(`metadata key ${kv.key} does not hold a container assignment ({"store": ID}): ${kv.value.toString("utf8").slice(0, 80)}`);
  }
  return store;
}

/** The store id an assignment key's value names (for watchers of containerAssignmentPrefix). Raises DATA_CORRUPTION. */
export function assignedStore(key: string, value: Buffer): string {
  return decodeAssignment({ key, value, version: 1, createRevision: 1, lease: undefined });
}

function encodeAssignment(storeId: string): Buffer {
  return Buffer.from(JSON.stringify({ store: storeId }), "utf8");
}

function decodeOwner(kv: KeyValue): ContainerOwner {
  const v = parseJson(kv.key, kv.value);
  const o = (typeof v === "object" && v !== null ? v : {}) as Partial<Record<keyof ContainerOwner, unknown>>;
  const owner = { store: o.store, host: o.host, port: o.port, epoch: o.epoch };
  try {
    checkOwner(owner as ContainerOwner);
  } catch (err) {
    throw new DataCorruptionError(`metadata key ${kv.key} does not hold a container owner: ${(err as Error).message}`, { cause: err });
  }
  return owner as ContainerOwner;
}

/**
 * Assigns `containers` to `storeId` (plain puts: the operator's word wins over any earlier
 * assignment). Containers go in one transaction when they fit one (`metadataTxnOpsMax`), else in
 * transactions of that size, in order. Raises INVALID_ARGUMENT (bad store id, a container outside
 * [0, containerCount), no container at all; nothing is written), and the store's errors.
 */
export async function assignContainers(store: MetadataStore, containers: readonly number[], storeId: string, containerCount: number): Promise<void> {
  validateStoreId(storeId);
  checkContainerCountArgument(containerCount);
  if (containers.length === 0) throw new InvalidArgumentError("no container to assign: name at least one");
  for (const c of containers) checkContainer(c, containerCount);
  // A transaction may change a key once; assigning a container twice in one call is assigning it.
  const unique = [...new Set(containers)].sort((a, b) => a - b);
  const value = encodeAssignment(storeId);
  for (let i = 0; i < unique.length; i += metadataTxnOpsMax) {
    const ops: TxnOp[] = unique.slice(i, i + metadataTxnOpsMax).map((c) => ({ type: "put", key: containerAssignmentKey(c), value }));
    await store.txn([], ops);
  }
}

/**
 * Current assignments (container -> store id) of containers [0, containerCount), and the revision
 * they were read at: a watch of `containerAssignmentPrefix` from `revision + 1` misses no later
 * change. When the assignments span several list pages, `revision` is that of the first page, so
 * such a watch may deliver again a change the map already holds (applying it again is harmless).
 * Keys of containers outside the count, or not in canonical form, are ignored. Raises
 * INVALID_ARGUMENT (bad count), DATA_CORRUPTION (a value that does not parse).
 */
export async function readAssignments(store: MetadataStore, containerCount: number): Promise<{ assignments: Map<number, string>; revision: number }> {
  checkContainerCountArgument(containerCount);
  const assignments = new Map<number, string>();
  let revision: number | undefined;
  let after: string | undefined;
  // Bounded: each page holds up to metadataListPageMax keys, and a key is listed once.
  for (;;) {
    const page = await store.list(containerAssignmentPrefix, after === undefined ? { limit: metadataListPageMax } : { after, limit: metadataListPageMax });
    revision = Math.min(revision ?? page.revision, page.revision);
    for (const kv of page.entries) {
      const container = parseAssignmentKey(kv.key);
      if (container === undefined || container >= containerCount) continue;
      assignments.set(container, decodeAssignment(kv));
    }
    const last = page.entries.at(-1);
    if (!page.more || last === undefined) break;
    after = last.key;
  }
  return { assignments, revision };
}

/**
 * Assigns every container of [0, containerCount) that has no assignment yet to `storeId`, each by a
 * create-if-absent compare-and-set, so of two stores starting at once exactly one wins each
 * container; then returns the whole map and the revision it was read at (see readAssignments).
 * A container another store claimed at the same moment may be missing from the map (on the
 * embedded store a compare loses before the winner's write is readable); the watch from
 * `revision + 1` delivers it.
 * Raises INVALID_ARGUMENT (bad store id or count), DATA_CORRUPTION, and the store's errors.
 */
export async function claimUnassignedContainers(
  store: MetadataStore,
  containerCount: number,
  storeId: string,
): Promise<{ assignments: Map<number, string>; revision: number }> {
  validateStoreId(storeId);
  const before = await readAssignments(store, containerCount);
  const value = encodeAssignment(storeId);
  for (let c = 0; c < containerCount; c++) {
    if (before.assignments.has(c)) continue;
    try {
      await store.compareAndSet(containerAssignmentKey(c), 0, value);
    } catch (err) {
      // Another store claimed it (or an operator assigned it) since the read: theirs stands.
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
    }
  }
  return readAssignments(store, containerCount);
}

/**
 * Records `owner` as the owner of `container` unless the stored owner has an epoch >= owner.epoch
 * (compare-and-set on the key's version, retried when another owner is recorded in between).
 * Resolves true if it was written, false if a newer (or equal) epoch is recorded: an owner from an
 * older epoch (a zombie) never overwrites a newer one. Raises INVALID_ARGUMENT (bad owner or
 * container), DATA_CORRUPTION (a stored value that does not parse), UNAVAILABLE (still losing the
 * race after `ownerRecordAttemptsMax` attempts; retry), and the store's errors.
 */
export async function recordContainerOwner(store: MetadataStore, container: number, owner: ContainerOwner): Promise<boolean> {
  checkContainer(container, containerCountMax);
  checkOwner(owner);
  const key = containerOwnerKey(container);
  const value = Buffer.from(JSON.stringify({ store: owner.store, host: owner.host, port: owner.port, epoch: owner.epoch }), "utf8");
  for (let attempt = 0; attempt < ownerRecordAttemptsMax; attempt++) {
    const current = await store.get(key);
    if (current !== undefined && decodeOwner(current).epoch >= owner.epoch) return false;
    try {
      await store.compareAndSet(key, current?.version ?? 0, value);
      return true;
    } catch (err) {
      // Someone recorded an owner in between: read it again and compare epochs.
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
    }
  }
  throw new UnavailableError(`could not record the owner of container ${container}: the record changed under ${ownerRecordAttemptsMax} attempts in a row; retry`);
}

/** The recorded owner of `container`, or undefined. Raises INVALID_ARGUMENT, DATA_CORRUPTION. */
export async function readContainerOwner(store: MetadataStore, container: number): Promise<ContainerOwner | undefined> {
  checkContainer(container, containerCountMax);
  const kv = await store.get(containerOwnerKey(container));
  return kv === undefined ? undefined : decodeOwner(kv);
}

/**
 * The container count the metadata records (written by the first role to start, see
 * checkContainerCount), or undefined when no role has started on it yet. Raises DATA_CORRUPTION.
 */
export async function readContainerCount(store: MetadataStore): Promise<number | undefined> {
  const kv = await store.get(containerCountKey);
  if (kv === undefined) return undefined;
  const text = kv.value.toString("utf8");
  const count = Number(text);
  if (!/^[1-9][0-9]*$/.test(text) || count > containerCountMax) {
    throw new DataCorruptionError(`metadata key ${containerCountKey} does not hold a container count in [1, ${containerCountMax}]: ${text.slice(0, 80)}`);
  }
  return count;
}
