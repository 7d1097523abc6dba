/**
 * The controller role: the metadata store (embedded or etcd), the stream service (scopes, streams,
 * epochs, scaling, transactions, truncation), reader-group configs, segment store membership, and
 * the gRPC front end. Any controller answers any call: all state is in the metadata store. One of
 * them, elected by a leased key, also runs the background work: container placement, auto-scaling,
 * retention, and the sweep that finishes workflows a dead controller left and aborts expired
 * transactions.
 */
import { ContainerNotReadyError, NoSegmentStoreError, NoSuchScopeError, systemClock, type Clock, logger, toSluiceError, type SluiceError } from "../common/index.js";
import type { StreamCut } from "../proto/index.js";
import { assignedStore, checkContainerCount, containerAssignmentKey, openMetadataStore, type MetadataStore } from "./store/index.js";
import { ControllerGrpcServer, type ControllerHandlers } from "./server/grpc-server.js";
import { SegmentHelper, type Endpoint } from "./streams/segment-helper.js";
import { StreamService } from "./streams/stream-service.js";
import type { SegmentPlacement } from "./streams/stream-metadata.js";
import { ReaderGroups } from "./streams/reader-groups.js";
import { LeaderElection, Membership, PlacementLoop } from "./cluster/index.js";
import { AutoScaler } from "./scaling/index.js";
import { Retention } from "./retention/index.js";
import { Sweeper } from "./sweeper.js";
import { txnSettings } from "./txn/index.js";

export * from "./store/index.js";
export type { Endpoint } from "./streams/segment-helper.js";
export { StreamService } from "./streams/stream-service.js";
export { Membership } from "./cluster/index.js";

const log = logger("controller");

/** How often the leader looks for unfinished workflows and expired transactions. */
const sweepIntervalMs = 1_000;
/** A workflow older than this with no controller finishing it is taken over by the leader. */
const workflowStaleMs = 30_000;

export interface ControllerOptions {
  /**
   * Where the metadata lives: file://DIR or etcd://HOST:PORT (see openMetadataStore), or a store
   * opened by the caller (standalone shares one with its segment store; the caller closes it).
   */
  metadata: string | MetadataStore;
  host: string;
  port: number;
  containerCount: number;
  /** Where a container with no recorded owner and no registered assignee is served (standalone: its one store). */
  segmentStore?: Endpoint;
  clock?: Clock;
  /** This controller's id in the leader election (default HOST:PORT). */
  id?: string;
  /** A segment store silent this long is dead and its containers move (default 10 s). */
  storeLeaseMs?: number;
  /** How long the cluster may go without a leader when the leader dies (default 10 s). */
  leaderLeaseMs?: number;
  /** Auto-scaling pass interval (default 10 s) and per-segment cooldown (default 10 min). */
  scaleIntervalMs?: number;
  scaleCooldownMs?: number;
  /** Retention pass interval (default 1 min). */
  retentionIntervalMs?: number;
  /** Placement pass interval (default 1 s). */
  placementIntervalMs?: number;
  /**
   * Whether the leader places containers on registered stores (default true). Standalone turns it
   * off: its one store holds every container, and a restart (a new store id) must not move them to
   * the previous incarnation while its registration lingers.
   */
  placement?: boolean;
  /** Test hook: hold every scale this long after it sealed its predecessors. */
  pauseAfterSealMs?: number;
  /** How long an ended transaction's record is kept (--txn-record-kept-ms; default 25 h, range 1 min .. 30 days). */
  txnRecordKeptMs?: number;
  /** The longest transaction lease a client may ask for (--txn-lease-max-ms; default 1 h, range 1 s .. 24 h). */
  txnLeaseMsMax?: number;
}

export class Controller {
  private constructor(
    private readonly store: MetadataStore,
    private readonly ownsStore: boolean,
    private readonly helper: SegmentHelper,
    private readonly server: ControllerGrpcServer,
    private readonly background: { close(): Promise<void> }[],
    readonly streams: StreamService,
    readonly membership: Membership,
    readonly port: number,
  ) {}

  static async start(options: ControllerOptions): Promise<Controller> {
    const clock = options.clock ?? systemClock;
    const ownsStore = typeof options.metadata === "string";
    const store = typeof options.metadata === "string" ? await openMetadataStore(options.metadata, options.clock === undefined ? {} : { clock }) : options.metadata;
    let server: ControllerGrpcServer | undefined;
    const background: { close(): Promise<void> }[] = [];
    let helper: SegmentHelper | undefined;
    try {
      await checkContainerCount(store, options.containerCount);
      const membership = new Membership(store, { storeLeaseMs: options.storeLeaseMs ?? 10_000 }, clock);
      // Where this controller listens, for the advice in NO_SEGMENT_STORE (known once it is bound).
      let listening = `${options.host}:${options.port}`;
      const whyUnservedContainers = async (containers: readonly number[]): Promise<SluiceError | undefined> => {
        if (options.segmentStore !== undefined || (await membership.anyLive())) return undefined;
        return new NoSegmentStoreError(
          `no segment store is serving ${describeContainers(containers, options.containerCount)}: none is registered with the controllers and this controller has no --segmentstore fallback; ${startStoreAdvice(options.metadata, listening)}`,
        );
      };
      const placement: SegmentPlacement = {
        containerCount: options.containerCount,
        endpointOfContainer: async (c) => {
          const kv = await store.get(containerAssignmentKey(c));
          const assigned = kv === undefined ? undefined : assignedStore(kv.key, kv.value);
          const registered = assigned === undefined ? undefined : await membership.endpointOfStore(assigned);
          if (registered !== undefined) return registered;
          if (options.segmentStore !== undefined) return options.segmentStore;
          // Waiting helps only while some store is live (placement gives it the container within a tick).
          const none = await whyUnservedContainers([c]);
          if (none !== undefined) throw none;
          throw new ContainerNotReadyError(`container ${c} has no segment store yet (assigned to ${assigned ?? "nobody"}); retry shortly`);
        },
        whyUnserved: whyUnservedContainers,
      };
      const segmentHelper = new SegmentHelper();
      helper = segmentHelper;
      const streams: StreamService = new StreamService(
        store,
        placement,
        segmentHelper.opsFor({ endpointOf: (segment) => streams.endpointOf(segment), whyUnserved: (segment) => streams.whyUnserved(segment) }),
        clock,
        {
          ...(options.pauseAfterSealMs === undefined ? {} : { pauseAfterSealMs: options.pauseAfterSealMs }),
          txn: txnSettings({ recordKeptMs: options.txnRecordKeptMs, leaseMsMax: options.txnLeaseMsMax }),
        },
      );
      const readerGroups = new ReaderGroups(
        store,
        {
          checkScope: async (scope) => {
            if (!(await streams.listScopes()).includes(scope)) throw new NoSuchScopeError(`scope ${scope} does not exist`);
          },
          checkStream: async (scope, stream, cuts: readonly StreamCut[]) => {
            await streams.currentSegments(scope, stream);
            for (const cut of cuts) await streams.segmentsAtCut(scope, stream, cut);
          },
        },
        clock,
      );
      server = new ControllerGrpcServer(handlers(streams, readerGroups, membership));
      const port = await server.listen(options.host, options.port);
      listening = `${options.host}:${port}`;
      const id = options.id ?? `${options.host}:${port}`;
      const election = new LeaderElection(store, id, { leaseMs: options.leaderLeaseMs ?? 10_000 }, clock);
      const placementLoop = new PlacementLoop(store, membership, election, options.containerCount, clock, options.placementIntervalMs === undefined ? {} : { intervalMs: options.placementIntervalMs });
      const autoScaler = new AutoScaler(streams, membership, election, clock, {
        ...(options.scaleIntervalMs === undefined ? {} : { intervalMs: options.scaleIntervalMs }),
        ...(options.scaleCooldownMs === undefined ? {} : { cooldownMs: options.scaleCooldownMs }),
      });
      const retention = new Retention(streams, store, election, clock, options.retentionIntervalMs === undefined ? {} : { intervalMs: options.retentionIntervalMs });
      const sweeper = new Sweeper(streams, election, clock, { intervalMs: sweepIntervalMs, staleMs: workflowStaleMs });
      // Closed in this order: the loops first, then the election (which hands the lead on at once).
      background.push(sweeper, retention, autoScaler, placementLoop, election);
      await election.start();
      if (options.placement !== false) placementLoop.start();
      autoScaler.start();
      retention.start();
      sweeper.start();
      election.onChange((leader) => log.info(leader ? "this controller leads" : "this controller no longer leads", { id }));
      log.info("controller listening", { id, host: options.host, port });
      return new Controller(store, ownsStore, segmentHelper, server, background, streams, membership, port);
    } catch (err) {
      for (const b of background) await b.close().catch((e: unknown) => log.warn("close failed", { error: toSluiceError(e).message }));
      await server?.close();
      await helper?.close();
      if (ownsStore) await store.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.server.close();
    for (const b of this.background) await b.close();
    await this.helper.close();
    if (this.ownsStore) await this.store.close();
  }
}

/** Containers listed for a message: "container 2 (of 4)", "containers 0, 1, 2 (of 4)", at most containersListedMax numbers. */
function describeContainers(containers: readonly number[], containerCount: number): string {
  const shown = containers.slice(0, containersListedMax).join(", ");
  const more = containers.length > containersListedMax ? ` and ${containers.length - containersListedMax} more` : "";
  return `${containers.length === 1 ? "container" : "containers"} ${shown}${more} (of ${containerCount})`;
}

/**
 * How to get a segment store serving, for NO_SEGMENT_STORE. A registered store must share the
 * controller's metadata; an embedded (file://) one lives inside the controller's process, so there
 * a store runs on its own metadata and the controller names it as its fallback.
 */
function startStoreAdvice(metadata: string | MetadataStore, listening: string): string {
  if (typeof metadata === "string" && metadata.startsWith("file://")) {
    return `this controller's metadata (${metadata}) is embedded in its process, so start a segment store on its own (\`sluice segmentstore --data-dir DIR --port PORT\`) and restart this controller with --segmentstore tcp://HOST:PORT naming it, or run \`sluice standalone\``;
  }
  const shared = typeof metadata === "string" ? ` --metadata ${metadata}` : " --metadata (this controller's)";
  return `start one with \`sluice segmentstore --controller tcp://${listening}${shared}\``;
}

/** Container numbers one message lists at most. */
const containersListedMax = 16;

function handlers(streams: StreamService, groups: ReaderGroups, membership: Membership): ControllerHandlers {
  return {
    CreateScope: async (r) => ({ created: await streams.createScope(r.scope) }),
    ListScopes: async () => ({ scopes: await streams.listScopes() }),
    DeleteScope: async (r) => ({ deleted: await streams.deleteScope(r.scope) }),
    CreateStream: async (r) => ({ created: await streams.createStream(r.scope, r.stream, r.config) }),
    UpdateStream: async (r) => {
      await streams.updateStream(r.scope, r.stream, r.config);
      return {};
    },
    SealStream: async (r) => {
      await streams.sealStream(r.scope, r.stream);
      return {};
    },
    DeleteStream: async (r) => {
      await streams.deleteStream(r.scope, r.stream);
      return {};
    },
    TruncateStream: async (r) => {
      await streams.truncateStream(r.scope, r.stream, r.cut);
      return {};
    },
    GetStream: (r) => streams.getStream(r.scope, r.stream),
    ListStreams: async (r) => ({ streams: await streams.listStreams(r.scope) }),
    GetCurrentSegments: async (r) => ({ segments: await streams.currentRanges(r.scope, r.stream) }),
    GetSegmentsAtCut: async (r) => ({ segments: await streams.segmentsAtCut(r.scope, r.stream, r.cut) }),
    GetSuccessors: async (r) => ({ successors: await streams.successors(r.segment) }),
    GetSegmentsBetween: async (r) => ({ segments: await streams.segmentsBetween(r.scope, r.stream, r.from, r.to) }),
    GetSegmentEndpoint: (r) => streams.endpointOf(r.segment),
    Scale: (r) => streams.scale(r.scope, r.stream, r.seal, r.newRanges),
    CreateTransaction: (r) => streams.createTransaction(r.scope, r.stream, r.leaseMs, r.tag ?? ""),
    ListTransactions: (r) => streams.listTransactions(r.scope, r.stream, r.tagPrefix),
    CommitTransaction: (r) => streams.commitTransaction(r.scope, r.stream, r.txnId),
    AbortTransaction: (r) => streams.abortTransaction(r.scope, r.stream, r.txnId),
    PingTransaction: (r) => streams.pingTransaction(r.scope, r.stream, r.txnId, r.leaseMs),
    GetTransactionStatus: (r) => streams.transactionStatus(r.scope, r.stream, r.txnId),
    CreateReaderGroup: (r) => groups.create(r.scope, r.group, r.config),
    GetReaderGroup: (r) => groups.get(r.scope, r.group),
    UpdateReaderGroup: async (r) => ({ generation: await groups.update(r.scope, r.group, r.config, r.expectedGeneration) }),
    DeleteReaderGroup: async (r) => ({ deleted: await groups.delete(r.scope, r.group) }),
    Heartbeat: (r) => membership.heartbeat(r),
    ReportLoad: async (r) => {
      await membership.reportLoad(r);
      return {};
    },
  };
}
