/**
 * A container's Tier-1 log on replicated ledgers (DESIGN "Tier-1"): an epoch and an ordered list of
 * ledgers in the metadata store, changed only by compare-and-set. `open` bumps the epoch (which
 * fences every older owner's metadata changes), fences and recovers the ledger the previous owner
 * left open (which fences its adds), and starts a new ledger. Appends are pipelined into the
 * current ledger and acknowledged in order. The log moves to a new ledger when the current one is
 * large (rollover), when it can no longer reach an ack quorum (the unacknowledged entries are sent
 * again, in order, to the new ledger), and when a ledger running on fewer nodes than its write
 * quorum can get a full ensemble back. An owner that a newer one fenced gets WRITER_NOT_PRIMARY and
 * never another ack.
 *
 * Identity: each ledger records the instance id (cookie) of its nodes; `open` asks them again
 * (each node once, all at once) before it changes anything, and a node that lost a ledger's data is
 * refused (DATA_CORRUPTION when acknowledged entries may have been only there) or left out of that
 * ledger; a node that does not answer is not trusted for the ledgers that recorded it until it
 * answers with the recorded id (a down node meanwhile), see ledger-identity.ts.
 *
 * Full disks: a ledger that breaks because its log nodes refuse adds for lack of space (STORAGE_FULL)
 * is replaced like any other, but a node whose disk is full fails the health probe until it has
 * room again, so the new ledger waits for room instead of landing on the full node: one ledger per
 * episode, never a storm of them. Meanwhile the log is `storageFull` (its container refuses new
 * operations STORAGE_FULL) and holds what it has; if no entry is acknowledged within
 * logStorageFullWaitMs, it fails them and itself STORAGE_FULL (fail-stop), and the container is
 * recovered once there is room.
 */
import { ClosedError, InvalidArgumentError, StorageFullError, WriterNotPrimaryError, ledgerEntryBytesMax, logNodeReadBytesMax, logStorageFullWaitMs, logger, toSluiceError, type Clock, type SluiceError, type TimerHandle } from "../../common/index.js";
import type { DurableDataLog, LogEntry } from "./durable-data-log.js";
import { IdentityCache, instanceIdOf, LostReplica, recordedAddresses, replicaTrust, UnverifiedReplica } from "./ledger-identity.js";
import { LedgerWriter } from "./ledger/ledger-writer.js";
import { readLedgerEntries } from "./ledger/ledger-reader.js";
import { recoverLedger } from "./ledger/ledger-recovery.js";
import { addressEntryId, addressSeq, allocateLedgerId, entriesPerLedgerMax, logAddress, readLogState, writeLogState, type LedgerRecord, type LogState } from "./log-metadata.js";
import type { LogNodeApi } from "./log-node-api.js";
import type { Tier1 } from "./tier1.js";

const log = logger("tier1");

interface QueuedAppend {
  pieces: readonly Buffer[];
  bytes: number;
  entryId: number;
  resolve(address: number): void;
  reject(err: SluiceError): void;
}

export class Tier1DataLog implements DurableDataLog {
  private writer: LedgerWriter;
  /** Sent to the current writer and not yet acknowledged, in order. */
  private readonly sent: QueuedAppend[] = [];
  /** Not yet sent: over the in-flight bound, or while the log moves to a new ledger. */
  private readonly waiting: QueuedAppend[] = [];
  private sentBytes = 0;
  private switching = false;
  private failure: SluiceError | undefined;
  private closed = false;
  /** Serializes the owner's metadata changes (ledger switches, truncation). */
  private metaChain: Promise<unknown> = Promise.resolve();
  /** Woken when the writer has nothing pending or breaks, and on close and failure. */
  private readonly drainWaiters = new Set<() => void>();
  private healthTimer: TimerHandle | undefined;
  private nextRolloverTryMs = 0;
  /** Per ledger id, stand-ins by ensemble index for nodes not to be believed about it (see ledger-identity.ts). */
  private standIns = new Map<number, ReadonlyMap<number, LogNodeApi>>();
  /** Set while the log nodes refuse adds for a full disk: the error new operations get, and the timer that gives up. */
  private full: { error: StorageFullError; sinceMs: number; timer: TimerHandle } | undefined;

  private constructor(
    private readonly tier1: Tier1,
    readonly container: number,
    private state: LogState,
    private version: number,
    private current: LedgerRecord,
    private readonly clock: Clock,
  ) {
    this.writer = this.newWriter(current);
    this.scheduleHealthCheck();
  }

  /** The owner epoch this log was opened with. */
  get epoch(): number {
    return this.state.epoch;
  }

  /**
   * STORAGE_FULL while the log nodes refuse this log's entries for a full disk and no entry was
   * acknowledged since: new work should be refused with it rather than queued. Undefined otherwise.
   */
  get storageFull(): StorageFullError | undefined {
    return this.full?.error;
  }

  /** The ledgers of the log as last written to the metadata store (for tests and tools). */
  get ledgers(): readonly LedgerRecord[] {
    return this.state.ledgers;
  }

  /**
   * Opens the container's log as its new owner: epoch + 1, recovery of ledgers left open, a new
   * ledger. Rejects WRITER_NOT_PRIMARY if another owner changes the log meanwhile, UNAVAILABLE if
   * too few log nodes answer within the recovery deadline, DATA_CORRUPTION (changing nothing) if a
   * node holding a ledger answers with another instance id than the ledger recorded and
   * acknowledged entries may have been only there.
   */
  static async open(tier1: Tier1, container: number): Promise<Tier1DataLog> {
    const store = tier1.metadata;
    let { state, version } = await readLogState(store, container);
    // Before anything changes: a node whose data is gone must not answer for what it held, nor
    // one that cannot tell now. Each node is asked once, all at once (a hung node costs one probe
    // timeout per open, not one per ledger).
    const identities = new IdentityCache((a) => tier1.nodeFor(a), tier1.clock, tier1.probeTimeoutMs);
    const answers = await identities.askAll(state.ledgers.flatMap(recordedAddresses));
    const standIns = new Map<number, ReadonlyMap<number, LogNodeApi>>();
    for (const l of state.ledgers) {
      const trust = replicaTrust(l, answers, container);
      const these = new Map<number, LogNodeApi>();
      for (const i of trust.lost) these.set(i, new LostReplica(tier1.nodeFor(l.ensemble[i]!), l.id));
      for (const i of trust.unverified) these.set(i, new UnverifiedReplica(tier1.nodeFor(l.ensemble[i]!), l.id, l.instances![i]!, identities));
      if (these.size > 0) standIns.set(l.id, these);
    }
    state = { ...state, epoch: state.epoch + 1 };
    version = await writeLogState(store, container, version, state);
    log.info("container log opened", { container, epoch: state.epoch, ledgers: state.ledgers.length });

    // Fence and close whatever the previous owner left open; drop ledgers that hold nothing.
    const ledgers: LedgerRecord[] = [];
    const deleting = [...state.deleting];
    for (const l of state.ledgers) {
      let lastEntryId = l.lastEntryId;
      if (lastEntryId === null) {
        const target = { ledgerId: l.id, ensemble: nodesOf(tier1, l, standIns.get(l.id)), writeQuorum: l.writeQuorum, ackQuorum: l.ackQuorum };
        lastEntryId = await tier1.retryUntilDeadline(`recovery of ledger ${l.id} of container ${container}`, () => recoverLedger(target));
      }
      if (lastEntryId === -1) deleting.push({ id: l.id, ensemble: l.ensemble });
      else ledgers.push({ ...l, lastEntryId });
    }
    const ensemble = await tier1.retryUntilDeadline(`a new ledger for container ${container}`, () => tier1.chooseEnsemble(container, false));
    const current = await newLedgerRecord(tier1, state.nextSeq, ensemble);
    state = { ...state, nextSeq: state.nextSeq + 1, ledgers: [...ledgers, current], deleting };
    version = await writeLogState(store, container, version, state);
    const opened = new Tier1DataLog(tier1, container, state, version, current, tier1.clock);
    opened.standIns = standIns;
    opened.collectDeleted();
    return opened;
  }

  /**
   * Appends one entry (the pieces are not copied and must not change until it settles). Resolves
   * with its address once durable on an ack quorum; entries resolve in append order. Waits (no
   * error) while logInflightBytesMax bytes are unacknowledged or no quorum of log nodes answers.
   * Rejects WRITER_NOT_PRIMARY once a newer owner has fenced this one, INVALID_ARGUMENT for an
   * entry above ledgerEntryBytesMax, CLOSED after close, STORAGE_FULL once the log nodes' disks
   * have refused its entries for logStorageFullWaitMs (the log has then failed).
   */
  append(pieces: readonly Buffer[]): Promise<number> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new ClosedError(`container ${this.container}: Tier-1 log is closed`));
    let bytes = 0;
    for (const p of pieces) bytes += p.length;
    if (bytes > ledgerEntryBytesMax) {
      return Promise.reject(new InvalidArgumentError(`log entry of ${bytes} bytes is above the limit of ${ledgerEntryBytesMax}`));
    }
    return new Promise<number>((resolve, reject) => {
      this.waiting.push({ pieces, bytes, entryId: -1, resolve, reject });
      this.pump();
    });
  }

  /**
   * Reads the log from `from` (an address; 0: the start) to the last acknowledged entry, in order.
   * Each entry comes from a healthy replica; one that no replica has intact rejects
   * DATA_CORRUPTION, one that no replica answers for rejects UNAVAILABLE. Never skips an entry.
   */
  async *read(from = 0): AsyncGenerator<LogEntry> {
    const start = Math.max(from, this.state.truncatedAt);
    let seq = addressSeq(start);
    let entryId = addressEntryId(start);
    for (;;) {
      // The live list each time: a ledger switch while reading closes the current ledger (perhaps
      // past what was acknowledged when the read reached it) and adds the next.
      const l = this.state.ledgers.find((x) => x.seq >= seq);
      if (l === undefined) return;
      if (l.seq !== seq) entryId = 0;
      const target = { ledgerId: l.id, ensemble: nodesOf(this.tier1, l, this.standIns.get(l.id)), writeQuorum: l.writeQuorum };
      const lastOf = (): number => {
        const live = this.state.ledgers.find((x) => x.seq === l.seq);
        if (live?.lastEntryId != null) return live.lastEntryId;
        return l.seq === this.current.seq ? this.writer.lac : -1;
      };
      while (entryId <= lastOf()) {
        const entries = await readLedgerEntries(target, entryId, lastOf(), logNodeReadBytesMax);
        for (const data of entries) {
          yield { address: logAddress(l.seq, entryId), data };
          entryId++;
        }
      }
      seq = l.seq + 1;
      entryId = 0;
    }
  }

  /**
   * Truncates the log below `address`: reads start there from now on (recorded in the metadata),
   * and every whole ledger below it (never the current one) is removed, from the metadata first,
   * then from the log nodes. A node that cannot be reached keeps the ledger listed as deleting in
   * the metadata, and a later truncate or open deletes it there.
   */
  async truncate(address: number): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) throw new ClosedError(`container ${this.container}: Tier-1 log is closed`);
    const belowSeq = addressSeq(address);
    await this.withMetadata(async () => {
      const drop = this.state.ledgers.filter((l) => l.seq < belowSeq && l.seq !== this.current.seq);
      if (drop.length === 0 && address <= this.state.truncatedAt) return;
      const next: LogState = {
        ...this.state,
        ledgers: this.state.ledgers.filter((l) => !drop.includes(l)),
        deleting: [...this.state.deleting, ...drop.map((l) => ({ id: l.id, ensemble: l.ensemble }))],
        truncatedAt: Math.max(this.state.truncatedAt, address),
      };
      this.version = await writeLogState(this.tier1.metadata, this.container, this.version, next);
      this.state = next;
      log.info("log truncated", { container: this.container, ledgers: drop.map((l) => l.id) });
    });
    await this.collectDeletedNow();
  }

  /**
   * Stops taking appends, waits (at most logCloseWaitMs) for those in flight, and lets go. The
   * current ledger stays open in the metadata; the next owner recovers it. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.healthTimer?.cancel();
    this.full?.timer.cancel();
    const closedError = new ClosedError(`container ${this.container}: Tier-1 log closed before the entry was acknowledged`);
    for (const a of this.waiting.splice(0)) a.reject(closedError);
    await this.waitForDrain(this.tier1.closeWaitMs);
    this.writer.abandon();
    for (const a of this.sent.splice(0)) a.reject(closedError);
    // A ledger switch waiting for the drain gives up now (it sees `closed`).
    this.wakeDrain();
    await this.metaChain.catch(() => undefined);
  }

  private newWriter(record: LedgerRecord): LedgerWriter {
    const ensemble = record.ensemble.map((a) => this.tier1.nodeFor(a));
    const writer: LedgerWriter = new LedgerWriter(record.id, ensemble, record.writeQuorum, record.ackQuorum, {
      onAcked: (lac) => {
        if (this.writer === writer) this.acked(lac);
      },
      onBroken: (err) => {
        if (this.writer === writer) this.broken(err);
      },
    });
    return writer;
  }

  /** Sends waiting appends while the in-flight bound allows. */
  private pump(): void {
    while (!this.switching && this.failure === undefined) {
      const next = this.waiting[0];
      if (next === undefined) break;
      if (this.sentBytes > 0 && this.sentBytes + next.bytes > this.tier1.inflightBytesMax) break;
      this.waiting.shift();
      next.entryId = this.writer.add(next.pieces);
      this.sent.push(next);
      this.sentBytes += next.bytes;
      if (this.writer.failure !== undefined) return;
    }
    const full = this.writer.bytes >= this.tier1.rolloverBytes || this.writer.nextEntry >= entriesPerLedgerMax - 1;
    if (full && !this.switching && this.failure === undefined && this.clock.monotonicMs() >= this.nextRolloverTryMs) {
      this.startSwitch("rollover");
    }
  }

  private acked(lac: number): void {
    if (this.full !== undefined) {
      log.info("container log writes again after a full disk", { container: this.container, fullForMs: Math.round(this.clock.monotonicMs() - this.full.sinceMs) });
      this.full.timer.cancel();
      this.full = undefined;
    }
    const seq = this.current.seq;
    for (;;) {
      const head = this.sent[0];
      if (head === undefined || head.entryId > lac) break;
      this.sent.shift();
      this.sentBytes -= head.bytes;
      head.resolve(logAddress(seq, head.entryId));
    }
    if (this.sent.length === 0) this.wakeDrain();
    this.pump();
  }

  private broken(err: SluiceError): void {
    this.wakeDrain();
    if (err.code === "LEDGER_FENCED") {
      this.fail(new WriterNotPrimaryError(`container ${this.container}: a newer owner fenced this log (epoch ${this.epoch}): ${err.message}`, { cause: err }));
      return;
    }
    if (err instanceof StorageFullError) this.noteFull(err);
    else log.warn("ledger cannot reach an ack quorum; moving to a new ledger", { container: this.container, ledger: this.writer.ledgerId, error: err.message });
    this.startSwitch("replace");
  }

  /**
   * The log nodes refused entries for a full disk: from now until an entry is acknowledged the log
   * is `storageFull`, and after logStorageFullWaitMs of it the log fails STORAGE_FULL.
   */
  private noteFull(err: StorageFullError): void {
    if (this.full !== undefined) return;
    const sinceMs = this.clock.monotonicMs();
    log.warn("the log nodes' disks are full; holding appends and waiting for room", { container: this.container, ledger: this.writer.ledgerId, waitMs: logStorageFullWaitMs, error: err.message });
    const error = new StorageFullError(`container ${this.container}: its Tier-1 log nodes' disks are full; retry once there is room`, { cause: err });
    const timer = this.clock.setTimer(logStorageFullWaitMs, () => {
      if (this.full?.timer !== timer) return;
      this.fail(new StorageFullError(`container ${this.container}: its Tier-1 log nodes' disks were full for ${logStorageFullWaitMs} ms; the entries waiting were not acknowledged`, { cause: err }));
    });
    this.full = { error, sinceMs, timer };
  }

  /**
   * Moves to a new ledger. "rollover": the current one is full; "restore": it runs on fewer nodes
   * than its write quorum and a full ensemble answers again; "replace": it cannot reach an ack
   * quorum. Appends wait meanwhile. For rollover and restore nothing happens unless a healthy
   * ensemble is found; replace retries until one is (or the log fails or closes).
   */
  private startSwitch(reason: "rollover" | "restore" | "replace"): void {
    if (this.switching || this.failure !== undefined || this.closed) return;
    this.switching = true;
    this.withMetadata(async () => {
      let ensemble: string[] | undefined;
      if (reason === "replace") {
        ensemble = await this.tier1.retry(`a new ledger for container ${this.container}`, () => this.tier1.chooseEnsemble(this.container, false), () => this.failure !== undefined || this.closed);
      } else {
        ensemble = await this.tier1.chooseEnsemble(this.container, reason === "restore");
        if (ensemble === undefined) {
          this.nextRolloverTryMs = this.clock.monotonicMs() + this.tier1.retryMs;
          return;
        }
        // Let the current ledger finish what it has in flight, so it closes with nothing pending.
        await this.waitForDrain(Infinity);
      }
      if (ensemble === undefined || this.failure !== undefined || this.closed) return;
      const old = this.writer;
      old.abandon();
      const resend = this.sent.splice(0);
      this.sentBytes = 0;
      this.waiting.unshift(...resend);
      const record = await newLedgerRecord(this.tier1, this.state.nextSeq, ensemble);
      const next: LogState = {
        ...this.state,
        nextSeq: this.state.nextSeq + 1,
        ledgers: [...this.state.ledgers.map((l) => (l.seq === this.current.seq ? { ...l, lastEntryId: old.lac } : l)), record],
      };
      this.version = await writeLogState(this.tier1.metadata, this.container, this.version, next);
      this.state = next;
      this.current = record;
      this.writer = this.newWriter(record);
      log.info("container log moved to a new ledger", { container: this.container, reason, closed: old.ledgerId, lastEntryId: old.lac, ledger: record.id, ensemble: record.ensemble, resent: resend.length });
    })
      .catch((err: unknown) => this.fail(toSluiceError(err)))
      .finally(() => {
        this.switching = false;
        this.pump();
      });
  }

  private withMetadata<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.metaChain.then(fn, fn);
    this.metaChain = run.catch(() => undefined);
    return run;
  }

  private waitForDrain(maxMs: number): Promise<void> {
    if (this.sent.length === 0 || this.writer.failure !== undefined || this.failure !== undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        this.drainWaiters.delete(wake);
        timer?.cancel();
        resolve();
      };
      const timer = Number.isFinite(maxMs) ? this.clock.setTimer(maxMs, wake) : undefined;
      this.drainWaiters.add(wake);
    });
  }

  private wakeDrain(): void {
    for (const wake of [...this.drainWaiters]) wake();
  }

  private scheduleHealthCheck(): void {
    this.healthTimer = this.clock.setTimer(this.tier1.retryMs, () => {
      if (this.closed || this.failure !== undefined) return;
      if (this.writer.degraded && !this.switching) this.startSwitch("restore");
      this.scheduleHealthCheck();
    });
  }

  /** Fail-stop: every waiting and later append rejects with `err`. */
  private fail(err: SluiceError): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.healthTimer?.cancel();
    this.full?.timer.cancel();
    this.writer.abandon();
    if (err instanceof WriterNotPrimaryError) log.warn("container log fenced by a newer owner", { container: this.container, error: err.message });
    else log.error("container log failed", { container: this.container, error: err });
    for (const a of [...this.sent.splice(0), ...this.waiting.splice(0)]) a.reject(err);
    this.wakeDrain();
  }

  private collectDeleted(): void {
    this.collectDeletedNow().catch((err: unknown) => log.warn("ledger deletion will be retried", { container: this.container, error: toSluiceError(err).message }));
  }

  /** Deletes the ledgers listed as deleting on their nodes, then drops those that are gone everywhere. */
  private async collectDeletedNow(): Promise<void> {
    const pending = [...this.state.deleting];
    if (pending.length === 0) return;
    const done = new Set<number>();
    await Promise.all(
      pending.map(async (d) => {
        const results = await Promise.allSettled(d.ensemble.map((a) => this.tier1.nodeFor(a).deleteLedger(d.id)));
        if (results.every((r) => r.status === "fulfilled")) done.add(d.id);
      }),
    );
    if (done.size === 0) return;
    await this.withMetadata(async () => {
      const next: LogState = { ...this.state, deleting: this.state.deleting.filter((d) => !done.has(d.id)) };
      this.version = await writeLogState(this.tier1.metadata, this.container, this.version, next);
      this.state = next;
    });
  }
}

async function newLedgerRecord(tier1: Tier1, seq: number, ensemble: string[]): Promise<LedgerRecord> {
  const id = await allocateLedgerId(tier1.metadata);
  // The nodes' cookies, so that a later open can tell a node that lost this ledger's data. Asked
  // afresh (all at once), not from an open's cache: the id recorded must be the one of the data
  // that takes this ledger's entries.
  const instances = await Promise.all(ensemble.map((a) => instanceIdOf(tier1.nodeFor(a), tier1.clock, tier1.probeTimeoutMs)));
  const record: LedgerRecord = { seq, id, ensemble, writeQuorum: tier1.quorum.writeQuorum, ackQuorum: tier1.quorum.ackQuorum, lastEntryId: null };
  return instances.some((x) => x !== null) ? { ...record, instances } : record;
}

/** The clients of a ledger's ensemble, with its stand-in for each node not to be believed about it. */
function nodesOf(tier1: Tier1, l: LedgerRecord, standIns: ReadonlyMap<number, LogNodeApi> | undefined): LogNodeApi[] {
  return l.ensemble.map((a, i) => standIns?.get(i) ?? tier1.nodeFor(a));
}

