/**
 * The embedded MetadataStore (`sluice standalone`, `--metadata file://DIR`): one process owns a
 * directory holding a snapshot and an append-only log of checksummed records. Every change is one
 * record, fdatasync'd before its promise resolves (group commit: the writes that arrive while one
 * batch is being synced share the next sync); all state lives in memory, so reads are local.
 *
 * Files, for generation g (g grows by one per snapshot):
 *   snapshot-<g>   the whole state at the moment generation g began (absent for g = 0); written as
 *                  `snapshot-<g>.tmp`, fsync'd, then renamed, so a snapshot file is always complete
 *   log-<g>        every change since that snapshot; a torn last record is cut at recovery
 * After `snapshotEveryRecords` log records the state is snapshotted and a new generation begins;
 * the older generation's files are then deleted.
 *
 * Writes are ordered: each is checked against the state the earlier writes of its batch leave, so
 * of several racing compare-and-sets exactly one wins; nothing is visible to reads before it is durable. Leases expire by the
 * injected Clock; an expiry is itself a logged change. Leases restart with a full TTL when the
 * store is reopened (as etcd's do after a leader change).
 */
import { readdir, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import {
  assert,
  ClosedError,
  ConditionalCheckFailedError,
  DataCorruptionError,
  InternalError,
  InvalidConfigError,
  journalBatchBytesMax,
  InvalidArgumentError,
  LeaseNotFoundError,
  liveDirLockHolder,
  lockDir,
  describeHolder,
  readRecordFileReadOnly,
  type DirLock,
  logger,
  makeDurableDir,
  metadataLeasesMax,
  metadataPendingWritesMax,
  metadataTxnBytesMax,
  metadataTxnOpsMax,
  OverloadedError,
  metadataSnapshotEveryRecords,
  metadataStoreBytesMax,
  RecordFile,
  isDiskFull,
  removeSyncedMark,
  SluiceError,
  StorageFullError,
  syncDirectory,
  systemClock,
  encodeRecord,
  type Clock,
  type TimerHandle,
} from "../../common/index.js";
import type { Compare, KeyValue, LeaseId, ListOptions, ListPage, MetadataStore, PutOptions, TxnOp, Watch, WatchEvent, WatchHandler } from "./metadata-store.js";
import {
  decodeChanges,
  decodeSnapshotRecord,
  encodeChanges,
  opDelete,
  opLeaseEnd,
  opLeaseGrant,
  opPut,
  tagChange,
  type Change,
  type Entry,
  writeSnapshotFile,
} from "./file-metadata-format.js";
import { WatchHistory } from "./watch-history.js";
import { checkFromRevision, checkKey, checkListOptions, checkPrefix, checkTtl, checkTxn } from "./validate.js";

const log = logger("metadata");

interface LeaseState {
  ttlMs: number;
  /** Monotonic ms after which the lease is expired. */
  deadlineMs: number;
  keys: Set<string>;
  timer: TimerHandle | undefined;
  /** An expiry or revoke is queued: keep-alives already fail. */
  ending: boolean;
  /** Settles once an ending in progress is logged; revokes while it runs wait for it. */
  ended: Promise<void> | undefined;
}

interface PendingWrite {
  compares: readonly Compare[];
  ops: readonly TxnOp[];
  resolve(result: { revision: number; deleted: number }): void;
  reject(err: Error): void;
}

interface Watcher {
  prefix: string;
  /** Changes before this revision are never delivered (a watch may start in the future). */
  fromRevision: number;
  handler: WatchHandler;
  lastRevision: number;
  closed: boolean;
}

export interface FileMetadataStoreOptions {
  clock?: Clock;
  /** Log records between snapshots. */
  snapshotEveryRecords?: number;
  /** Bytes of keys and values held. */
  bytesMax?: number;
  /**
   * Open to read only (`sluice container list`): the directory is neither locked nor changed in
   * any way (no torn tail cut, no old generation removed, no lease expired), so it is safe while
   * the process that owns the store runs; writes reject with INVALID_ARGUMENT. A torn or
   * in-progress last batch is left out in memory only. Default false.
   */
  readOnly?: boolean;
}

/** Read-only opens that race the owner's snapshot (files renamed or removed under them) are tried this often. */
const readOnlyAttemptsMax = 3;

const leaseIdMax = 2 ** 48 - 1;
/** How soon a lease expiry that could not be logged (a full disk) is tried again. */
const leaseEndRetryMs = 1_000;

/** A snapshot the disk had no room for: nothing changed, the log goes on, and it is tried later. */
class SnapshotNotWritten extends Error {
  constructor(cause: unknown) {
    super("the metadata snapshot was not written: the disk is full", { cause });
  }
}
/** The foundation release's metadata file, read once and replaced by the first snapshot. */
const legacyLogName = "metadata.log";

export class FileMetadataStore implements MetadataStore {
  private readonly entries = new Map<string, Entry>();
  private sortedKeys: string[] | undefined;
  private readonly leases = new Map<number, LeaseState>();
  private readonly watchers = new Set<Watcher>();
  private history = new WatchHistory(1);
  private currentRevision = 0;
  private nextLeaseId = 1;
  private storedBytes = 0;
  private generation = 0;
  private recordsInLog = 0;
  /** After a snapshot the disk had no room for: the log record count at which it is tried again. */
  private snapshotDeferredTo = 0;
  /** The last write was refused for a full disk (for logging each episode once). */
  private diskFull = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly pendingWrites: PendingWrite[] = [];
  private flushScheduled = false;
  private closed = false;
  /** Set when a snapshot fails part way: the store stops (fail-stop), as a failed record file does. */
  private failure: Error | undefined;
  private file!: RecordFile;

  private constructor(
    private readonly dir: string,
    private readonly clock: Clock,
    private readonly snapshotEveryRecords: number,
    private readonly bytesMax: number,
    private readonly readOnly: boolean,
    /** The directory's lock (common/dir-lock.ts): one process writes a store; undefined when read-only. */
    private readonly lock: DirLock | undefined,
  ) {}

  /**
   * Opens (or creates) the store in `dir`: takes the directory's lock, loads the latest snapshot
   * and replays the log after it. Raises DATA_DIR_LOCKED, changing nothing, while another live
   * process has the store open. With `readOnly` see FileMetadataStoreOptions.
   */
  static async open(dir: string, options: FileMetadataStoreOptions = {}): Promise<FileMetadataStore> {
    const readOnly = options.readOnly ?? false;
    if (!readOnly) await makeDurableDir(dir);
    for (let attempt = 1; ; attempt++) {
      const lock = readOnly ? undefined : await lockDir(dir, "metadata store");
      const store = new FileMetadataStore(
        dir,
        options.clock ?? systemClock,
        options.snapshotEveryRecords ?? metadataSnapshotEveryRecords,
        options.bytesMax ?? metadataStoreBytesMax,
        readOnly,
        lock,
      );
      try {
        if (readOnly) await store.loadReadOnly();
        else await store.recover();
        return store;
      } catch (err) {
        await lock?.release();
        // A read-only open may race the owner's snapshot (a file it listed is gone): read again.
        if (readOnly && attempt < readOnlyAttemptsMax && !(err instanceof InvalidConfigError)) {
          log.debug("read-only metadata open raced a change; reading again", { dir, attempt, error: String(err) });
          continue;
        }
        if (err instanceof SluiceError) throw err;
        throw new InternalError(`${dir}: cannot open the metadata store`, { cause: err });
      }
    }
  }

  /**
   * The read-only load: the same files recover() reads, read with readRecordFileReadOnly, and
   * nothing written, renamed or removed. While a live process owns the store its last batch may be
   * half written: it is left out, so what is read is the state at some recent revision.
   */
  private async loadReadOnly(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new InvalidConfigError(`${this.dir} holds no metadata store (no such directory)`);
      throw err;
    }
    const holder = await liveDirLockHolder(this.dir);
    // (A race with the owner's snapshot switch cannot show a log above the snapshot either; open reads again if it did.)
    const snapshot = newestSnapshot(this.dir, names);
    this.generation = snapshot;
    if (snapshot > 0) {
      let ended = false;
      await readRecordFileReadOnly(join(this.dir, `snapshot-${snapshot}`), (rec) => (ended = this.loadSnapshotRecord(rec.tag, rec.payload)), { allowTornTail: false });
      if (!ended) throw new InvalidConfigError(`${this.dir}/snapshot-${snapshot} ends before its end record`);
    }
    if (names.includes(legacyLogName) && snapshot === 0) await this.loadLegacyLog();
    this.history = new WatchHistory(this.currentRevision + 1);
    let ignoredBytes = 0;
    // The owner writes snapshot-<g> before it creates log-<g>: a missing newest log is an empty one.
    if (names.includes(`log-${snapshot}`)) {
      ({ ignoredBytes } = await readRecordFileReadOnly(join(this.dir, `log-${snapshot}`), (rec) => {
        assert(rec.tag === tagChange, `metadata log record tag ${rec.tag}`);
        this.apply(decodeChanges(rec.payload), rec.seq);
      }));
    }
    const owner = holder === undefined ? "none" : holder === "unreadable" ? "unknown (unreadable lock file)" : describeHolder(holder);
    log.info("metadata store read, read-only", { dir: this.dir, revision: this.currentRevision, keys: this.entries.size, owner, ignoredBytes });
  }

  private async recover(): Promise<void> {
    const names = await readdir(this.dir);
    const legacy = names.includes(legacyLogName);
    const snapshot = newestSnapshot(this.dir, names);
    this.generation = snapshot;
    if (snapshot > 0) {
      let ended = false;
      // No synced mark: a snapshot is renamed into place whole, and read with no torn tail allowed.
      const { file } = await RecordFile.open(join(this.dir, `snapshot-${snapshot}`), (rec) => (ended = this.loadSnapshotRecord(rec.tag, rec.payload)), {
        syncedMark: false,
        allowTornTail: false,
      });
      await file.close();
      if (!ended) throw new InvalidConfigError(`${this.dir}/snapshot-${snapshot} ends before its end record`);
    }
    if (legacy && snapshot === 0) await this.loadLegacyLog();
    this.history = new WatchHistory(this.currentRevision + 1);
    const { file, recovery } = await RecordFile.open(
      join(this.dir, `log-${snapshot}`),
      (rec) => {
        assert(rec.tag === tagChange, `metadata log record tag ${rec.tag}`);
        this.apply(decodeChanges(rec.payload), rec.seq);
        this.recordsInLog++;
      },
      // A group commit is one synced batch of at most journalBatchBytesMax (or one record): only it can be torn.
      { create: true },
    );
    this.file = file;
    // Leases restart with a full TTL.
    for (const [id, lease] of this.leases) this.armLease(id, lease);
    for (const name of names) {
      // A log's synced mark (`.log-<g>.synced`, see common/record-log.ts) goes with its generation.
      const g = /^\.?(?:snapshot|log)-(\d+)(\.tmp|\.synced)?$/.exec(name);
      if (g !== null && (Number(g[1]) < snapshot || g[2] === ".tmp")) await unlink(join(this.dir, name));
    }
    if (legacy) {
      // The foundation's single-file format: its state goes into a first snapshot, then the file goes.
      if (snapshot === 0) await this.snapshot();
      await unlink(join(this.dir, legacyLogName));
      await removeSyncedMark(join(this.dir, legacyLogName));
      await syncDirectory(this.dir);
      log.info("metadata store moved to the snapshot + log format", { dir: this.dir, keys: this.entries.size });
    }
    log.info("metadata store open", { dir: this.dir, revision: this.currentRevision, keys: this.entries.size, leases: this.leases.size, logRecords: recovery.records, cutBytes: recovery.truncatedBytes });
  }

  /** Replays the foundation's `metadata.log`: records tagged 1 (put: u16 key length, key, value) or 2 (delete), seq = revision. */
  private async loadLegacyLog(): Promise<void> {
    const onRecord = (rec: { tag: number; seq: number; payload: Buffer }): void => {
      const keyLength = rec.payload.readUInt16BE(0);
      const key = rec.payload.toString("utf8", 2, 2 + keyLength);
      if (rec.tag === 1) this.apply([{ op: opPut, key, value: rec.payload.subarray(2 + keyLength), lease: 0 }], rec.seq);
      else if (rec.tag === 2) this.apply([{ op: opDelete, key }], rec.seq);
      else throw new InvalidConfigError(`${this.dir}/${legacyLogName}: record tag ${rec.tag} is unknown`);
    };
    if (this.readOnly) {
      await readRecordFileReadOnly(join(this.dir, legacyLogName), onRecord);
      return;
    }
    const { file } = await RecordFile.open(join(this.dir, legacyLogName), onRecord, { syncedMark: false });
    await file.close();
  }

  /** Loads one snapshot record; true for the end record. */
  private loadSnapshotRecord(tag: number, payload: Buffer): boolean {
    const r = decodeSnapshotRecord(tag, payload);
    switch (r.kind) {
      case "header":
        this.currentRevision = r.revision;
        this.nextLeaseId = r.nextLeaseId;
        return false;
      case "lease":
        this.leases.set(r.id, { ttlMs: r.ttlMs, deadlineMs: 0, keys: new Set(), timer: undefined, ending: false, ended: undefined });
        return false;
      case "key": {
        const { key, entry } = r;
        this.entries.set(key, entry);
        this.storedBytes += entry.keyBytes.length + entry.value.length;
        if (entry.lease !== 0) this.leases.get(entry.lease)?.keys.add(key);
        return false;
      }
      case "end":
        assert(r.keys === this.entries.size && r.leases === this.leases.size, "snapshot counts match");
        return true;
    }
  }

  get(key: string): Promise<KeyValue | undefined> {
    try {
      checkKey(key);
      this.checkOpen();
    } catch (err) {
      return Promise.reject(asError(err));
    }
    return Promise.resolve(this.keyValue(key));
  }

  async put(key: string, value: Buffer, options: PutOptions = {}): Promise<number> {
    return (await this.write([], [{ type: "put", key, value, ...options }])).revision;
  }

  async compareAndSet(key: string, expectedVersion: number, value: Buffer, options: PutOptions = {}): Promise<number> {
    return (await this.write([{ key, version: expectedVersion }], [{ type: "put", key, value, ...options }])).revision;
  }

  async delete(key: string, expectedVersion?: number): Promise<boolean> {
    const compares = expectedVersion === undefined ? [] : [{ key, version: expectedVersion }];
    return (await this.write(compares, [{ type: "delete", key }])).deleted > 0;
  }

  async txn(compares: readonly Compare[], ops: readonly TxnOp[]): Promise<number> {
    return (await this.write(compares, ops)).revision;
  }

  list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    let limit: number;
    try {
      checkPrefix(prefix);
      limit = checkListOptions(options);
      this.checkOpen();
    } catch (err) {
      return Promise.reject(asError(err));
    }
    const keys = this.sorted();
    // First key at or after the prefix and after `after` (exclusive), in byte order.
    const prefixBytes = Buffer.from(prefix);
    const afterBytes = options.after === undefined ? undefined : Buffer.from(options.after);
    const exclusive = afterBytes !== undefined && Buffer.compare(afterBytes, prefixBytes) >= 0;
    const startBytes = exclusive ? afterBytes : prefixBytes;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = Buffer.compare(this.entries.get(keys[mid]!)!.keyBytes, startBytes);
      if (c < 0 || (c === 0 && exclusive)) lo = mid + 1;
      else hi = mid;
    }
    const entries: KeyValue[] = [];
    let more = false;
    for (let i = lo; i < keys.length && keys[i]!.startsWith(prefix); i++) {
      if (entries.length === limit) {
        more = true;
        break;
      }
      entries.push(this.keyValue(keys[i]!)!);
    }
    return Promise.resolve({ entries, more, revision: this.currentRevision });
  }

  watch(prefix: string, fromRevision: number, handler: WatchHandler): Promise<Watch> {
    try {
      checkPrefix(prefix);
      checkFromRevision(fromRevision);
      this.checkOpen();
      this.history.check(fromRevision);
    } catch (err) {
      return Promise.reject(asError(err));
    }
    const watcher: Watcher = { prefix, fromRevision, handler, lastRevision: fromRevision - 1, closed: false };
    // Past changes go out now, before any later write can be delivered, so order holds.
    this.deliver(watcher, this.history.since(fromRevision, prefix));
    watcher.lastRevision = Math.max(watcher.lastRevision, this.currentRevision);
    this.watchers.add(watcher);
    const watchers = this.watchers;
    return Promise.resolve({
      get lastRevision() {
        return watcher.lastRevision;
      },
      close() {
        watcher.closed = true;
        watchers.delete(watcher);
        return Promise.resolve();
      },
    });
  }

  async grantLease(ttlMs: number): Promise<LeaseId> {
    checkTtl(ttlMs);
    const ttl = Math.ceil(ttlMs / 1000) * 1000;
    const id = await this.enqueue(async () => {
      if (this.leases.size >= metadataLeasesMax) throw new StorageFullError(`the metadata store holds ${metadataLeasesMax} leases, its bound`);
      const lease = this.nextLeaseId;
      assert(lease <= leaseIdMax, "lease ids fit 48 bits");
      await this.commit([{ op: opLeaseGrant, lease, ttlMs: ttl }]);
      return lease;
    });
    return String(id);
  }

  keepAlive(lease: LeaseId): Promise<void> {
    try {
      this.checkOpen();
    } catch (err) {
      return Promise.reject(asError(err));
    }
    const id = parseLease(lease);
    const state = id === undefined ? undefined : this.leases.get(id);
    if (id === undefined || state === undefined || state.ending || this.clock.monotonicMs() >= state.deadlineMs) {
      return Promise.reject(new LeaseNotFoundError(`lease ${lease} has expired or was revoked`));
    }
    state.deadlineMs = this.clock.monotonicMs() + state.ttlMs;
    return Promise.resolve();
  }

  async revokeLease(lease: LeaseId): Promise<void> {
    const id = parseLease(lease);
    if (id === undefined) return;
    await this.endLease(id);
  }

  revision(): Promise<number> {
    try {
      this.checkOpen();
    } catch (err) {
      return Promise.reject(asError(err));
    }
    return Promise.resolve(this.currentRevision);
  }

  /** Raises INVALID_ARGUMENT on a store opened read-only. */
  private checkWritable(): void {
    if (this.readOnly) throw new InvalidArgumentError(`the metadata store in ${this.dir} was opened read-only; writes go through the process that owns it`);
  }

  /** Raises CLOSED after close, or the error that stopped the store (a failed snapshot). */
  private checkOpen(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) throw new ClosedError("metadata store is closed");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers) w.closed = true;
    this.watchers.clear();
    for (const lease of this.leases.values()) lease.timer?.cancel();
    // Writes accepted before close still commit; a flush may queue another behind it.
    for (let q = this.queue; ; q = this.queue) {
      await q.catch(() => undefined);
      if (q === this.queue) break;
    }
    if (!this.readOnly) await this.file.close();
    await this.lock?.release();
  }

  // ---- writes ----

  /**
   * Checks, then queues one transaction for the next group commit. Writes that arrive while a
   * batch is being synced gather into the next batch: one fdatasync makes many of them durable.
   */
  private write(compares: readonly Compare[], ops: readonly TxnOp[]): Promise<{ revision: number; deleted: number }> {
    try {
      checkTxn(compares, ops);
      this.checkOpen();
      this.checkWritable();
      if (this.pendingWrites.length >= metadataPendingWritesMax) {
        throw new OverloadedError(`${metadataPendingWritesMax} metadata writes are waiting for the disk; retry later`);
      }
    } catch (err) {
      return Promise.reject(asError(err));
    }
    return new Promise((resolve, reject) => {
      this.pendingWrites.push({ compares, ops, resolve, reject });
      this.scheduleFlush();
    });
  }

  /**
   * Queues a group commit unless one is queued. It runs even after close() (close waits for the
   * writes accepted before it); after a failure it rejects every waiting write with that failure.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.queue = this.queue.then(() => this.flushWrites()).catch((err: unknown) => log.error("metadata group commit failed", { error: String(err) }));
  }

  /** One group commit: stages the waiting writes in order, logs them with one sync, then applies them. In the queue only; never rejects. */
  private async flushWrites(): Promise<void> {
    this.flushScheduled = false;
    if (this.failure !== undefined) {
      for (const w of this.pendingWrites.splice(0)) w.reject(this.failure);
      return;
    }
    const staged = new Map<string, { version: number; bytes: number } | null>();
    const accepted: { write: PendingWrite; changes: Change[]; revision: number; deleted: number }[] = [];
    // Writes whose checks failed against the state the earlier writes of this batch leave: told
    // only once that state is durable, since a disk that refuses the batch undoes it.
    const refused: { write: PendingWrite; err: Error }[] = [];
    const pieces: Buffer[] = [];
    let batchBytes = 0;
    let revision = this.currentRevision;
    let storedBytes = this.storedBytes;
    while (this.pendingWrites.length > 0) {
      const write = this.pendingWrites[0]!;
      const estimate = write.ops.reduce((n, op) => n + 64 + Buffer.byteLength(op.key) + (op.type === "put" ? op.value.length : 0), 64);
      if (accepted.length > 0 && batchBytes + estimate > journalBatchBytesMax) break;
      this.pendingWrites.shift();
      try {
        const { changes, deleted, growth } = this.stage(write, staged, revision + 1, storedBytes);
        if (changes.length > 0) {
          revision++;
          storedBytes += growth;
          const record = encodeRecord(tagChange, revision, encodeChanges(changes));
          pieces.push(...record);
          batchBytes += record.reduce((n, b) => n + b.length, 0);
        }
        accepted.push({ write, changes, revision, deleted });
      } catch (err) {
        refused.push({ write, err: asError(err) });
      }
    }
    if (this.pendingWrites.length > 0) this.scheduleFlush();
    if (batchBytes > 0) {
      try {
        await this.file.appendBatch(pieces, batchBytes);
      } catch (err) {
        if (err instanceof StorageFullError && this.file.failed === undefined) {
          // A full disk: the record file cut the batch off again and stays usable, and nothing of
          // the batch was applied, so later writes may succeed. For these the outcome is unknown,
          // as for a timeout: a crash before the cut was synced can bring the batch back at the
          // next open (see RecordFile.appendBatch).
          this.noteFull(err);
          for (const a of accepted) a.write.reject(err);
          // A refused write is checked again against the durable state alone: one that failed only
          // because of an earlier write of this batch is STORAGE_FULL like that write.
          for (const r of refused) r.write.reject(this.recheck(r.write) ?? err);
          return;
        }
        // The log file is failed for good (an fsync that failed leaves the disk state unknown).
        this.failure = asError(err);
        for (const a of accepted) a.write.reject(this.failure);
        for (const r of refused) r.write.reject(this.failure);
        return;
      }
      this.noteRoom();
    }
    for (const a of accepted) if (a.changes.length > 0) this.applyDurable(a.changes, a.revision);
    for (const a of accepted) a.write.resolve({ revision: a.revision, deleted: a.deleted });
    for (const r of refused) r.write.reject(r.err);
    await this.maybeSnapshot();
  }

  /** The error `write` gets against the durable state alone, or undefined when it would pass there. */
  private recheck(write: PendingWrite): Error | undefined {
    try {
      this.stage(write, new Map(), this.currentRevision + 1, this.storedBytes);
      return undefined;
    } catch (err) {
      return asError(err);
    }
  }

  /**
   * Checks one write against the state as the earlier writes of its batch leave it (`staged`), and
   * records its effect there. Raises CONDITIONAL_CHECK_FAILED, LEASE_NOT_FOUND or STORAGE_FULL.
   */
  private stage(
    write: PendingWrite,
    staged: Map<string, { version: number; bytes: number } | null>,
    revision: number,
    storedBytes: number,
  ): { changes: Change[]; deleted: number; growth: number } {
    const current = (key: string) => {
      const s = staged.get(key);
      if (s !== undefined) return s ?? undefined;
      const e = this.entries.get(key);
      return e === undefined ? undefined : { version: e.version, bytes: e.keyBytes.length + e.value.length };
    };
    const failed = write.compares.flatMap((c) => {
      const found = current(c.key)?.version ?? 0;
      return found === c.version ? [] : [`${c.key}: expected version ${c.version}, found ${found}`];
    });
    if (failed.length > 0) throw new ConditionalCheckFailedError(failed.join("; "));
    const changes: Change[] = [];
    let deleted = 0;
    let growth = 0;
    for (const op of write.ops) {
      const existing = current(op.key);
      if (op.type === "put") {
        const lease = op.lease === undefined ? 0 : parseLease(op.lease);
        const state = lease === undefined || lease === 0 ? undefined : this.leases.get(lease);
        if (lease === undefined || (lease !== 0 && (state === undefined || state.ending))) {
          throw new LeaseNotFoundError(`lease ${op.lease} has expired or was revoked`);
        }
        growth += Buffer.byteLength(op.key) + op.value.length - (existing?.bytes ?? 0);
        changes.push({ op: opPut, key: op.key, value: op.value, lease });
      } else if (existing !== undefined) {
        deleted++;
        growth -= existing.bytes;
        changes.push({ op: opDelete, key: op.key });
      }
    }
    if (growth > 0 && storedBytes + growth > this.bytesMax) {
      throw new StorageFullError(`the metadata store holds ${storedBytes} bytes; this write would pass its bound of ${this.bytesMax}`);
    }
    for (const c of changes) {
      if (c.op === opPut) staged.set(c.key, { version: revision, bytes: Buffer.byteLength(c.key) + c.value.length });
      else if (c.op === opDelete) staged.set(c.key, null);
    }
    return { changes, deleted, growth };
  }

  /** Runs `op` after every earlier write, so checks and appends never interleave. */
  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    try {
      this.checkOpen();
      this.checkWritable();
    } catch (err) {
      return Promise.reject(asError(err));
    }
    const result = this.queue.then(() => {
      this.checkOpen();
      return op();
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Logs `changes` alone as one record (durable on return) and applies them. In the queue only. */
  private async commit(changes: Change[]): Promise<number> {
    const bumps = changes.some((c) => c.op === opPut || c.op === opDelete);
    const revision = this.currentRevision + (bumps ? 1 : 0);
    const pieces = encodeRecord(tagChange, revision, encodeChanges(changes));
    await this.file.appendBatch(pieces, pieces.reduce((n, b) => n + b.length, 0));
    this.applyDurable(changes, revision);
    await this.maybeSnapshot();
    return revision;
  }

  /** Applies logged changes to memory and tells the watchers. */
  private applyDurable(changes: readonly Change[], revision: number): void {
    const events = this.apply(changes, revision);
    this.recordsInLog++;
    // A copy: a handler may open or close watches while being called.
    for (const w of [...this.watchers]) {
      if (revision <= w.lastRevision || revision < w.fromRevision) continue;
      this.deliver(
        w,
        events.filter((e) => e.key.startsWith(w.prefix)),
      );
      w.lastRevision = revision;
    }
    for (const c of changes) if (c.op === opLeaseGrant) this.armLease(c.lease, this.leases.get(c.lease)!);
  }

  private async maybeSnapshot(): Promise<void> {
    if (this.recordsInLog < Math.max(this.snapshotEveryRecords, this.snapshotDeferredTo)) return;
    // The changes are durable whatever happens to the snapshot; a failed snapshot stops the store,
    // unless the disk was too full to write it (then nothing changed: it is tried again later).
    await this.snapshot().catch((err: unknown) => {
      if (err instanceof SnapshotNotWritten) {
        // Logged once per run of put-off snapshots (it ends when one is written).
        if (this.snapshotDeferredTo === 0) log.warn("metadata snapshot not written: the disk is full; the log goes on and the snapshot is tried again later", { dir: this.dir, error: String(err.cause) });
        this.snapshotDeferredTo = this.recordsInLog + Math.ceil(this.snapshotEveryRecords / 10);
        return;
      }
      this.failure = new InternalError(`${this.dir}: metadata snapshot failed; the store has stopped`, { cause: err });
      log.error("metadata snapshot failed", { dir: this.dir, error: String(err) });
    });
  }

  /** A write was refused for a full disk: logged once per episode. */
  private noteFull(err: StorageFullError): void {
    if (!this.diskFull) log.warn("metadata writes are refused STORAGE_FULL: the disk is full", { dir: this.dir, error: err.message });
    this.diskFull = true;
  }

  /** A write went through: a full-disk episode, if any, is over. */
  private noteRoom(): void {
    if (this.diskFull) log.info("metadata writes go through again after a full disk", { dir: this.dir });
    this.diskFull = false;
  }

  /** Applies durable changes to memory; returns the watch events. Also used by replay. */
  private apply(changes: readonly Change[], revision: number): WatchEvent[] {
    assert(revision >= this.currentRevision, "metadata revisions never go back");
    const events: WatchEvent[] = [];
    for (const c of changes) {
      switch (c.op) {
        case opPut: {
          const existing = this.entries.get(c.key);
          if (existing === undefined) this.sortedKeys = undefined;
          this.detach(c.key, existing);
          const keyBytes = existing?.keyBytes ?? Buffer.from(c.key, "utf8");
          this.storedBytes += c.value.length - (existing?.value.length ?? -keyBytes.length);
          this.entries.set(c.key, { keyBytes, value: Buffer.from(c.value), version: revision, createRevision: existing?.createRevision ?? revision, lease: c.lease });
          if (c.lease !== 0) this.leases.get(c.lease)?.keys.add(c.key);
          events.push({ type: "put", key: c.key, value: Buffer.from(c.value), revision });
          break;
        }
        case opDelete: {
          const existing = this.entries.get(c.key);
          if (existing === undefined) break;
          this.detach(c.key, existing);
          this.entries.delete(c.key);
          this.sortedKeys = undefined;
          this.storedBytes -= existing.keyBytes.length + existing.value.length;
          events.push({ type: "delete", key: c.key, value: Buffer.alloc(0), revision });
          break;
        }
        case opLeaseGrant:
          this.leases.set(c.lease, { ttlMs: c.ttlMs, deadlineMs: 0, keys: new Set(), timer: undefined, ending: false, ended: undefined });
          this.nextLeaseId = Math.max(this.nextLeaseId, c.lease + 1);
          break;
        case opLeaseEnd:
          this.leases.get(c.lease)?.timer?.cancel();
          this.leases.delete(c.lease);
          break;
      }
    }
    this.currentRevision = revision;
    this.history.add(events);
    return events;
  }

  private detach(key: string, entry: Entry | undefined): void {
    if (entry !== undefined && entry.lease !== 0) this.leases.get(entry.lease)?.keys.delete(key);
  }

  /** Hands events to a watch; a handler that throws ends its watch (onError), as on etcd. */
  private deliver(w: Watcher, events: WatchEvent[]): void {
    if (events.length === 0 || w.closed) return;
    w.lastRevision = events.at(-1)!.revision;
    try {
      w.handler.onEvents(events);
    } catch (err) {
      w.closed = true;
      this.watchers.delete(w);
      log.error("a metadata watch handler threw; the watch ends", { prefix: w.prefix, error: String(err) });
      try {
        w.handler.onError(new InternalError(`the watch handler for prefix ${JSON.stringify(w.prefix)} threw; the watch has ended`, { cause: err }));
      } catch (again) {
        log.error("a metadata watch error handler threw", { prefix: w.prefix, error: String(again) });
      }
    }
  }

  // ---- leases ----

  private armLease(id: number, lease: LeaseState): void {
    lease.deadlineMs = this.clock.monotonicMs() + lease.ttlMs;
    const check = () => {
      if (this.closed || this.leases.get(id) !== lease) return;
      const leftMs = lease.deadlineMs - this.clock.monotonicMs();
      if (leftMs > 0) {
        lease.timer = this.clock.setTimer(leftMs, check);
        return;
      }
      lease.timer = undefined;
      this.endLease(id).catch((err: unknown) => {
        log.error("lease expiry failed; trying again", { lease: id, error: String(err) });
        // Not logged (a full disk, say): the lease stays expired in effect and is ended again.
        if (!this.closed && this.failure === undefined && this.leases.get(id) === lease) lease.timer = this.clock.setTimer(leaseEndRetryMs, check);
      });
    };
    lease.timer?.cancel();
    lease.timer = this.clock.setTimer(lease.ttlMs, check);
  }

  /** Ends lease `id` (expiry or revoke): one record that deletes its keys and the lease. */
  private endLease(id: number): Promise<void> {
    const lease = this.leases.get(id);
    if (lease === undefined) return Promise.resolve();
    if (lease.ended !== undefined) return lease.ended;
    lease.ending = true;
    lease.timer?.cancel();
    lease.ended = this.enqueue(async () => {
      if (this.leases.get(id) !== lease) return;
      // The deletes go in records of at most metadataTxnBytesMax; the last one ends the lease. A
      // crash between them leaves the lease, which expires again after the restart.
      const records: Change[][] = [[]];
      let bytes = 0;
      for (const key of [...lease.keys].sort()) {
        const keyBytes = Buffer.byteLength(key) + 3;
        if (bytes + keyBytes > metadataTxnBytesMax || records.at(-1)!.length >= metadataTxnOpsMax * 100) {
          records.push([]);
          bytes = 0;
        }
        records.at(-1)!.push({ op: opDelete, key });
        bytes += keyBytes;
      }
      records.at(-1)!.push({ op: opLeaseEnd, lease: id });
      for (const changes of records) await this.commit(changes);
    });
    lease.ended.catch(() => {
      // A failed end (the store has failed) leaves the lease to the next start.
      lease.ending = false;
      lease.ended = undefined;
    });
    return lease.ended;
  }

  // ---- snapshots ----

  /**
   * Writes the whole state as snapshot g+1, then starts log g+1 and deletes generation g. In the
   * queue only. Rejects SnapshotNotWritten, having changed nothing, when the disk is too full for
   * the temporary snapshot file (removed again); once that file is renamed, any failure is final.
   */
  private async snapshot(): Promise<void> {
    const next = this.generation + 1;
    const tmp = join(this.dir, `snapshot-${next}.tmp`);
    const leases = [...this.leases].map(([id, lease]) => ({ id, ttlMs: lease.ttlMs }));
    try {
      await writeSnapshotFile(tmp, this.currentRevision, this.nextLeaseId, leases, this.entries.values(), this.entries.size);
    } catch (err) {
      if (!isDiskFull(err) && !(err instanceof Error && isDiskFull(err.cause))) throw err;
      // Before the rename nothing refers to the temporary file: remove it, and its space with it.
      await unlink(tmp).catch((again: unknown) => {
        if ((again as NodeJS.ErrnoException).code !== "ENOENT") throw again;
      });
      await removeSyncedMark(tmp);
      throw new SnapshotNotWritten(err);
    }
    await rename(tmp, join(this.dir, `snapshot-${next}`));
    await syncDirectory(this.dir);
    const { file: nextLog } = await RecordFile.open(join(this.dir, `log-${next}`), () => assert(false, "a new log is empty"), { create: true });
    const old = this.file;
    this.file = nextLog;
    this.generation = next;
    this.recordsInLog = 0;
    this.snapshotDeferredTo = 0;
    await old.close();
    await unlink(join(this.dir, `log-${next - 1}`));
    await removeSyncedMark(join(this.dir, `log-${next - 1}`));
    if (next > 1) await unlink(join(this.dir, `snapshot-${next - 1}`));
    await syncDirectory(this.dir);
    log.debug("metadata snapshot", { generation: next, revision: this.currentRevision, keys: this.entries.size });
  }

  // ---- reads ----

  private keyValue(key: string): KeyValue | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    return { key, value: Buffer.from(e.value), version: e.version, createRevision: e.createRevision, lease: e.lease === 0 ? undefined : String(e.lease) };
  }

  private sorted(): string[] {
    this.sortedKeys ??= [...this.entries.keys()].sort((a, b) => Buffer.compare(this.entries.get(a)!.keyBytes, this.entries.get(b)!.keyBytes));
    return this.sortedKeys;
  }
}

/**
 * Refuses (DATA_CORRUPTION) a directory whose newest snapshot is gone: a log of a generation above
 * the newest snapshot left. A snapshot switch (snapshot()) renames snapshot-<g+1> into place and
 * syncs the directory before it creates log-<g+1> (and its synced mark), and removes generation g
 * only after that, so no crash leaves a log above the newest snapshot; one there means
 * snapshot-<g+1> was deleted while the store was stopped, and the state it held (everything before
 * that log) would otherwise be served as an empty store.
 */
/**
 * The newest snapshot generation among `names` (0: none), after refusing a log of a later generation
 * (its snapshot was deleted while the store was stopped).
 */
function newestSnapshot(dir: string, names: readonly string[]): number {
  const snapshot = Math.max(0, ...names.flatMap((n) => (/^snapshot-(\d+)$/.test(n) ? [Number(n.slice("snapshot-".length))] : [])));
  refuseLogsAboveSnapshot(dir, names, snapshot);
  return snapshot;
}

function refuseLogsAboveSnapshot(dir: string, names: readonly string[], snapshot: number): void {
  for (const name of names) {
    const m = /^\.?log-(\d+)(?:\.synced)?$/.exec(name);
    if (m === null || Number(m[1]) <= snapshot) continue;
    throw new DataCorruptionError(
      `${dir}: ${name} belongs to generation ${m[1]}, but snapshot-${m[1]} is missing (the newest snapshot is ${snapshot === 0 ? "none" : `snapshot-${snapshot}`}): ` +
        `it was deleted while the store was stopped, and the metadata it held is gone`,
    );
  }
}

function parseLease(lease: LeaseId): number | undefined {
  if (!/^[1-9]\d{0,14}$/.test(lease)) return undefined;
  const id = Number(lease);
  return id <= leaseIdMax ? id : undefined;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
