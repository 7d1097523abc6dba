/**
 * The segment store role: containers, read index and the TCP front end over Tier-1. It keeps no
 * state of its own. It serves the containers assigned to it in the metadata store
 * (`cluster/assignment/<c>`, controller/store/container-placement.ts) and follows changes with a
 * watch:
 *
 * - take over: open the container's Tier-1 log as its new owner (epoch + 1, which fences the
 *   previous owner wherever it is), replay it, start serving, then record itself as the owner
 *   (`cluster/owners/<c>`, which the controller answers endpoint lookups from);
 * - release: a container assigned elsewhere stops at once (WRONG_HOST) and its log is let go;
 * - fenced: a container whose log reports a newer owner stops at once (WRONG_HOST) as well;
 * - failed: a container stopped by any other log error is taken over again (recovered from its
 *   log) after a backoff, while it is still assigned here.
 *
 * With Tier-2, each container tiers its segments to chunks (writer/storage-writer.ts), which lets
 * its log be truncated, and history is read back through one byte-bounded chunk cache per store.
 *
 * With a controller link, the store heartbeats the controller (its lease is its membership: the
 * controller's placement assigns it containers while it is live and moves them when it is not) and
 * reports its segments' load for auto-scaling (stats/load-reporter.ts).
 *
 * Segments of containers not served here get WRONG_HOST; of containers being recovered,
 * CONTAINER_NOT_READY. The container count is checked against the one recorded in the metadata
 * store, since segments are placed on containers by hash.
 */
import { systemClock, type Clock, ContainerNotReadyError, StorageFullError, WrongHostError, containerOf, logger, type SluiceError, toSluiceError, ClosedError } from "../common/index.js";
import { assignedStore, checkContainerCount, claimUnassignedContainers, assignContainers, containerAssignmentPrefix, parseAssignmentKey, readAssignments, recordContainerOwner, type MetadataStore, type Watch } from "../controller/store/index.js";
import { SegmentContainer, type CacheBudget, type CheckpointPolicy, type ContainerServices } from "./container/segment-container.js";
import { ChunkCache, type ChunkCacheOptions } from "./readindex/chunk-cache.js";
import { TailWaiters } from "./readindex/read-index.js";
import type { ChunkStorage } from "./tier2/chunk-storage.js";
import { flushPolicyDefault, type FlushPolicy } from "./writer/storage-writer.js";
import { StoreFlow, type FlowOptions } from "./server/flow.js";
import { SegmentStoreServer } from "./server/segment-store-server.js";
import type { ConnectionLimits } from "./server/connection-admission.js";
import { LoadReporter, type ControllerLink } from "./stats/load-reporter.js";
import { loadWindowsMsDefault, SegmentLoadStats, type SegmentLoad } from "./stats/segment-load.js";
import type { DurableDataLog } from "./tier1/durable-data-log.js";
import type { Tier1 } from "./tier1/tier1.js";

const log = logger("segmentstore");

/** Defaults after Pravega's: a checkpoint every 64 MiB or 100k operations logged, or each minute with changes. */
export const checkpointPolicyDefault: CheckpointPolicy = { checkpointBytes: 64 * 1024 * 1024, checkpointOps: 100_000, checkpointIntervalMs: 60_000 };
const retakeDelayMsMin = 500;
const ownerRecordDelayMsMin = 200;
const retakeDelayMsMax = 30_000;
/**
 * The longest pause between takeovers of a container that failed for a full disk: an attempt on a
 * still-full disk stops cheaply at its first write, and the container should be back soon after
 * room is made.
 */
const retakeDelayMsMaxStorageFull = 5_000;
const rewatchDelayMs = 1_000;

export interface SegmentStoreOptions {
  host: string;
  port: number;
  /** The host clients are told to connect to (default: `host`). */
  advertisedHost?: string;
  /** This store's id in container assignments (default `advertisedHost:port`). */
  storeId?: string;
  /**
   * "all": assign every container to this store at start (standalone); "unassigned": claim only
   * containers nobody holds; "none": claim nothing, serve what the controller's placement assigns.
   */
  claim: "all" | "unassigned" | "none";
  containerCount: number;
  /** Pinned bound of the read index: above it new appends are held (writers throttled). */
  cacheBytesMax: number;
  /** Tier-2: where segments are tiered to, the chunk cache and flush thresholds. Without it nothing is tiered (tests). */
  tier2?: { storage: ChunkStorage; cache?: Partial<ChunkCacheOptions>; flush?: Partial<FlushPolicy> };
  /** Global and per-connection bounds on append bytes received but not yet durable. */
  flow?: Partial<FlowOptions>;
  /** Data-plane connection caps (global, per remote address) and idle timeout (server/connection-admission.ts). */
  connections?: Partial<ConnectionLimits>;
  checkpoints?: Partial<CheckpointPolicy>;
  /** Moving-average windows of the load statistics (default 2/5/10/20 min). */
  loadWindowsMs?: readonly number[];
  /** Where the container logs live; the caller closes it after the store. */
  tier1: Tier1;
  /** Holds the container logs' ledger lists, assignments, owners and the container count. */
  metadata: MetadataStore;
  /** The controller to heartbeat and report load to; without it the store registers nowhere (it serves what is assigned to it). */
  controller?: ControllerLink;
  /** Heartbeat and load report intervals (defaults in stats/load-reporter.ts). */
  heartbeat?: { heartbeatMs?: number; reportMs?: number };
  clock?: Clock;
}

interface Slot {
  container: SegmentContainer;
  log: DurableDataLog | undefined;
  serving: boolean;
  /** Set when the container is released while still being recovered. */
  released: boolean;
}

export class SegmentStore {
  private readonly slots = new Map<number, Slot>();
  private readonly retakeDelayMs = new Map<number, number>();
  /**
   * Containers whose last failure (or takeover attempt) was a full disk (STORAGE_FULL): until one is
   * served again its clients get that error, which says why and to retry, not WRONG_HOST.
   */
  private readonly storageFull = new Map<number, SluiceError>();
  /**
   * Containers refused for DATA_CORRUPTION at their last takeover (acknowledged data missing, e.g. a
   * log node that lost it): their clients get that error, not WRONG_HOST, until one is served again.
   */
  private readonly corrupt = new Map<number, SluiceError>();
  private assignments = new Map<number, string>();
  private watch: Watch | undefined;
  private reporter: LoadReporter | undefined;
  private closed = false;
  private readonly services: ContainerServices;
  private readonly stats: SegmentLoadStats;
  private readonly tail: TailWaiters;
  private readonly flow: StoreFlow;
  private readonly server: SegmentStoreServer;
  private readonly clock: Clock;
  port = 0;
  id = "";

  private constructor(private readonly options: SegmentStoreOptions) {
    this.clock = options.clock ?? systemClock;
    const cache: CacheBudget = { usedBytes: 0, maxBytes: options.cacheBytesMax };
    this.tail = new TailWaiters(this.clock);
    this.stats = new SegmentLoadStats(this.clock, options.loadWindowsMs === undefined ? {} : { windowsMs: options.loadWindowsMs });
    this.services = {
      clock: this.clock,
      cache,
      tail: this.tail,
      stats: this.stats,
      checkpoints: { ...checkpointPolicyDefault, ...options.checkpoints },
      stopped: (container, err) => this.containerStopped(container, err),
    };
    const tier2 = options.tier2;
    if (tier2 !== undefined) {
      this.services.tier2 = { storage: tier2.storage, cache: new ChunkCache(tier2.storage, tier2.cache), flush: { ...flushPolicyDefault, ...tier2.flush } };
    }
    this.flow = new StoreFlow(cache, this.clock, options.flow);
    this.server = new SegmentStoreServer((segment) => this.lookup(segment), this.clock, this.flow, options.connections);
  }

  static async start(options: SegmentStoreOptions): Promise<SegmentStore> {
    await checkContainerCount(options.metadata, options.containerCount);
    const store = new SegmentStore(options);
    try {
      await store.begin();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  private async begin(): Promise<void> {
    const o = this.options;
    const started = this.clock.monotonicMs();
    this.port = await this.server.listen(o.host, o.port);
    this.id = o.storeId ?? `${o.advertisedHost ?? o.host}:${this.port}`;
    if (o.claim === "all") {
      await assignContainers(o.metadata, Array.from({ length: o.containerCount }, (_, i) => i), this.id, o.containerCount);
    }
    const { assignments, revision } = o.claim === "unassigned" ? await claimUnassignedContainers(o.metadata, o.containerCount, this.id) : await readAssignments(o.metadata, o.containerCount);
    this.assignments = assignments;
    // A container that cannot be recovered now is retried in the background; the others serve.
    const mine = [...assignments].filter(([, store]) => store === this.id).map(([c]) => c);
    const results = await Promise.allSettled(mine.map((c) => this.takeOver(c)));
    results.forEach((r, i) => {
      if (r.status === "rejected") this.retakeLater(mine[i]!, toSluiceError(r.reason));
    });
    await this.watchAssignments(revision + 1);
    if (o.controller !== undefined) {
      // Registered only now, once assignments are followed: the controller may place containers here at once.
      const windowsMs = o.loadWindowsMs ?? loadWindowsMsDefault;
      const beat = o.heartbeat ?? {};
      this.reporter = new LoadReporter(
        o.controller,
        {
          storeId: this.id,
          host: o.advertisedHost ?? o.host,
          port: this.port,
          ...(beat.heartbeatMs === undefined ? {} : { heartbeatMs: beat.heartbeatMs }),
          ...(beat.reportMs === undefined ? {} : { reportMs: beat.reportMs }),
        },
        () => this.stats.snapshot(),
        windowsMs,
        this.clock,
      );
      this.reporter.start();
    }
    const segments = [...this.slots.values()].reduce((n, s) => n + s.container.segmentCount, 0);
    log.info("segment store serving", { id: this.id, port: this.port, containers: [...this.slots.keys()], segments, ms: Math.round(this.clock.monotonicMs() - started) });
  }

  /** The containers this store serves now. */
  get containers(): number[] {
    return [...this.slots].filter(([, s]) => s.serving).map(([c]) => c);
  }

  /** Per-segment moving averages of events/s and bytes/s of the segments served here (for the controller's scaling). */
  segmentLoad(): SegmentLoad[] {
    return this.stats.snapshot();
  }

  /** The container serving `segment`, for the front end. Raises WRONG_HOST or CONTAINER_NOT_READY. */
  private lookup(segment: string): SegmentContainer {
    const c = containerOf(segment, this.options.containerCount);
    const slot = this.slots.get(c);
    if (slot?.serving === true) return slot.container;
    const refused = this.refusal(c);
    if (slot === undefined) {
      if (refused !== undefined) throw refused;
      throw new WrongHostError(`segment ${segment} (container ${c}) is not served by segment store ${this.id}; ask the controller for its endpoint`);
    }
    throw refused ?? new ContainerNotReadyError(`container ${c} of ${segment} is being recovered; retry shortly`);
  }

  /** Why an assigned container is not served, when its last takeover said (DATA_CORRUPTION, STORAGE_FULL). */
  private refusal(c: number): SluiceError | undefined {
    return this.assignments.get(c) === this.id ? (this.corrupt.get(c) ?? this.storageFull.get(c)) : undefined;
  }

  private async watchAssignments(fromRevision: number): Promise<void> {
    this.watch = await this.options.metadata.watch(containerAssignmentPrefix, fromRevision, {
      onEvents: (events) => {
        for (const e of events) {
          const c = parseAssignmentKey(e.key);
          if (c === undefined || c >= this.options.containerCount) continue;
          if (e.type === "delete") {
            this.assignments.delete(c);
          } else {
            try {
              this.assignments.set(c, assignedStore(e.key, e.value));
            } catch (err) {
              log.error("ignoring an assignment that does not parse", { key: e.key, error: toSluiceError(err).message });
              continue;
            }
          }
          this.reconcile(c);
        }
      },
      onError: (err) => {
        if (this.closed) return;
        log.warn("assignment watch ended; reading assignments again", { error: err.message });
        this.clock.setTimer(rewatchDelayMs, () => void this.resync());
      },
    });
  }

  private async resync(): Promise<void> {
    if (this.closed) return;
    try {
      const { assignments, revision } = await readAssignments(this.options.metadata, this.options.containerCount);
      this.assignments = assignments;
      for (let c = 0; c < this.options.containerCount; c++) this.reconcile(c);
      await this.watchAssignments(revision + 1);
    } catch (err) {
      log.warn("cannot watch assignments yet; retrying", { error: toSluiceError(err).message });
      this.clock.setTimer(rewatchDelayMs, () => void this.resync());
    }
  }

  /** Brings container `c` in line with its assignment. */
  private reconcile(c: number): void {
    if (this.closed) return;
    const mine = this.assignments.get(c) === this.id;
    const slot = this.slots.get(c);
    if (mine && slot === undefined) {
      this.takeOver(c).catch((err: unknown) => this.retakeLater(c, toSluiceError(err)));
    } else if (!mine && slot !== undefined) {
      void this.release(c, new WrongHostError(`container ${c} is assigned to another segment store now; ask the controller for its endpoint`));
    }
  }

  /** Opens the log of `c` as its new owner (fencing the previous one), replays it, and serves it. */
  private async takeOver(c: number): Promise<void> {
    const started = this.clock.monotonicMs();
    const container = new SegmentContainer(c, this.services);
    const slot: Slot = { container, log: undefined, serving: false, released: false };
    this.slots.set(c, slot);
    let entries = 0;
    try {
      slot.log = await this.options.tier1.openLog(c);
      for await (const entry of slot.log.read()) {
        if (slot.released) break;
        container.replay(entry.address, entry.data);
        entries++;
      }
      if (slot.released) throw new WrongHostError(`container ${c} was released while it was being recovered`);
      container.start(slot.log);
      slot.serving = true;
      // Every segment is reported from now on, cold ones at rate 0, so the controller can find them idle.
      for (const segment of container.segmentNames()) this.stats.track(segment);
    } catch (err) {
      if (this.slots.get(c) === slot) this.slots.delete(c);
      container.stop(toSluiceError(err));
      container.releaseMemory();
      await slot.log?.close();
      throw err;
    }
    this.retakeDelayMs.delete(c);
    this.storageFull.delete(c);
    this.corrupt.delete(c);
    const epoch = slot.log.epoch;
    log.info("container taken over", { container: c, epoch, segments: container.segmentCount, entries, checkpoints: container.checkpointsLoaded, ms: Math.round(this.clock.monotonicMs() - started) });
    await this.recordOwner(c, slot, epoch, ownerRecordDelayMsMin);
  }

  /**
   * Records this store as the owner of `c` (so the controller sends clients here), retrying with
   * backoff while the metadata store fails and the container is still served here.
   */
  private async recordOwner(c: number, slot: Slot, epoch: number, delayMs: number): Promise<void> {
    const o = this.options;
    let recorded: boolean;
    try {
      recorded = await recordContainerOwner(o.metadata, c, { store: this.id, host: o.advertisedHost ?? o.host, port: this.port, epoch });
    } catch (err) {
      if (this.closed || this.slots.get(c) !== slot) return;
      log.warn("cannot record this store as the container's owner yet; retrying", { container: c, delayMs, error: toSluiceError(err).message });
      this.clock.setTimer(delayMs, () => void this.recordOwner(c, slot, epoch, Math.min(retakeDelayMsMax, delayMs * 2)));
      return;
    }
    if (!recorded && this.slots.get(c) === slot) {
      await this.release(c, new WrongHostError(`container ${c} has a newer owner than epoch ${epoch}`));
    }
  }

  private retakeLater(c: number, err: SluiceError): void {
    if (this.closed || this.assignments.get(c) !== this.id) return;
    const delayMsMax = err.code === "STORAGE_FULL" ? retakeDelayMsMaxStorageFull : retakeDelayMsMax;
    const delayMs = Math.min(delayMsMax, this.retakeDelayMs.get(c) ?? retakeDelayMsMin);
    this.retakeDelayMs.set(c, Math.min(delayMsMax, delayMs * 2));
    if (err.code === "STORAGE_FULL") this.storageFull.set(c, new StorageFullError(`container ${c} is not served until its disk has room again: ${err.message}`, { cause: err }));
    else this.storageFull.delete(c);
    if (err.code === "DATA_CORRUPTION") this.corrupt.set(c, err);
    else this.corrupt.delete(c);
    log.warn("container not served; taking it over again later", { container: c, delayMs, error: err.message });
    this.clock.setTimer(delayMs, () => this.reconcile(c));
  }

  /** Stops serving `c` at once and lets its log go. */
  private async release(c: number, reason: SluiceError): Promise<void> {
    const slot = this.slots.get(c);
    if (slot === undefined) return;
    this.slots.delete(c);
    slot.released = true;
    for (const segment of slot.container.segmentNames()) this.stats.remove(segment);
    slot.container.stop(reason);
    slot.container.releaseMemory();
    if (slot.serving) {
      log.info("container released", { container: c, reason: reason.message });
      await slot.log?.close();
    }
  }

  private containerStopped(container: SegmentContainer, err: SluiceError): void {
    const c = container.id;
    if (this.slots.get(c)?.container !== container || this.closed) return;
    // Recover it again if it is still assigned here: after a failure, and also after a fence by a
    // store that was assigned it for a moment and has let it go (retakeLater checks the assignment).
    void this.release(c, err).then(() => this.retakeLater(c, err));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reporter?.close();
    await this.watch?.close();
    await this.server.close();
    this.flow.close();
    this.tail.notifyAll();
    await Promise.all([...this.slots.keys()].map((c) => this.release(c, new ClosedError("the segment store is shutting down"))));
    log.info("segment store closed", { id: this.id });
  }
}
