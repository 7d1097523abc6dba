/**
 * The segment store's side of Tier-1: the log nodes it may use, the quorum for new ledgers, and the
 * metadata store holding every container log; it opens container logs (Tier1DataLog) and picks
 * ensembles for their ledgers among the nodes that answer a health probe.
 */
import { UnavailableError, ledgerRolloverBytesDefault, logInflightBytesMax, logNodeProbeTimeoutMs, logNodeRetryMs, logger, systemClock, toSluiceError, type Clock } from "../../common/index.js";
import type { MetadataStore } from "../../controller/store/index.js";
import type { LogNodeApi } from "./log-node-api.js";
import { probeLedgerId } from "./log-metadata.js";
import { checkQuorum, quorumReachable, type QuorumConfig } from "./ledger/quorum.js";
import { Tier1DataLog } from "./tier1-data-log.js";

const log = logger("tier1");

export interface Tier1Options {
  /** The log nodes new ledgers are placed on. */
  nodes: readonly LogNodeApi[];
  /** Makes a client for a node a ledger names that is not among `nodes` (e.g. after reconfiguration). */
  connect: (address: string) => LogNodeApi;
  quorum: QuorumConfig;
  metadata: MetadataStore;
  /** A ledger is closed and the next begun once it holds this many bytes. */
  rolloverBytes?: number;
  /** Bytes a log sends before their acks; above it appends wait. */
  inflightBytesMax?: number;
  /** How long opening a log keeps trying when too few log nodes answer. */
  openDeadlineMs?: number;
  /** Health probe timeout and the pause between attempts to find healthy nodes. */
  probeTimeoutMs?: number;
  retryMs?: number;
  /** How long close waits for appends in flight. */
  closeWaitMs?: number;
  clock?: Clock;
}

export class Tier1 {
  readonly metadata: MetadataStore;
  readonly quorum: QuorumConfig;
  readonly clock: Clock;
  readonly rolloverBytes: number;
  readonly inflightBytesMax: number;
  readonly retryMs: number;
  readonly closeWaitMs: number;
  /** How long a health or identity probe of a log node may take before the node counts as down. */
  readonly probeTimeoutMs: number;
  private readonly openDeadlineMs: number;
  private readonly nodes: readonly LogNodeApi[];
  private readonly byAddress = new Map<string, LogNodeApi>();
  private readonly connect: (address: string) => LogNodeApi;

  constructor(opts: Tier1Options) {
    this.quorum = checkQuorum(opts.quorum, opts.nodes.length);
    this.nodes = opts.nodes;
    for (const n of opts.nodes) this.byAddress.set(n.address, n);
    this.connect = opts.connect;
    this.metadata = opts.metadata;
    this.clock = opts.clock ?? systemClock;
    this.rolloverBytes = opts.rolloverBytes ?? ledgerRolloverBytesDefault;
    this.inflightBytesMax = opts.inflightBytesMax ?? logInflightBytesMax;
    this.probeTimeoutMs = opts.probeTimeoutMs ?? logNodeProbeTimeoutMs;
    this.retryMs = opts.retryMs ?? logNodeRetryMs;
    this.openDeadlineMs = opts.openDeadlineMs ?? 60_000;
    this.closeWaitMs = opts.closeWaitMs ?? 10_000;
  }

  /** Opens a container's log as its new owner (fencing the previous one). */
  openLog(container: number): Promise<Tier1DataLog> {
    return Tier1DataLog.open(this, container);
  }

  /** The client of the node at `address`: a configured one, or one made (once) for it. */
  nodeFor(address: string): LogNodeApi {
    let node = this.byAddress.get(address);
    if (node === undefined) {
      node = this.connect(address);
      this.byAddress.set(address, node);
    }
    return node;
  }

  /**
   * Picks E nodes for a new ledger, the nodes that answer a health probe first (rotated by
   * container, to spread load). With `allHealthy` every node picked must answer; otherwise nodes
   * that do not answer may fill the ensemble as long as every entry can still reach an ack quorum.
   * Resolves undefined when no such ensemble exists now.
   */
  async chooseEnsemble(container: number, allHealthy: boolean): Promise<string[] | undefined> {
    const answers = await Promise.all(this.nodes.map((n) => this.probe(n)));
    const count = this.nodes.length;
    const rotated = this.nodes.map((_, i) => (i + container) % count);
    const healthy = rotated.filter((i) => answers[i]);
    const sick = rotated.filter((i) => !answers[i]);
    const { ensembleSize, writeQuorum, ackQuorum } = this.quorum;
    const picked = [...healthy, ...(allHealthy ? [] : sick)].slice(0, ensembleSize);
    if (picked.length < ensembleSize) return undefined;
    const down = new Set<number>();
    picked.forEach((nodeIndex, i) => {
      if (!answers[nodeIndex]) down.add(i);
    });
    if (!quorumReachable(ensembleSize, writeQuorum, ackQuorum, down)) return undefined;
    return picked.map((i) => this.nodes[i]!.address);
  }

  /** Runs `attempt` until it gives a value (see retry), giving up with UNAVAILABLE after the open deadline. */
  async retryUntilDeadline<T>(what: string, attempt: () => Promise<T | undefined>): Promise<T> {
    const deadline = this.clock.monotonicMs() + this.openDeadlineMs;
    let last = "";
    const v = await this.retry(what, attempt, () => this.clock.monotonicMs() >= deadline, (why) => (last = why));
    if (v === undefined) throw new UnavailableError(`${what}: gave up after ${this.openDeadlineMs} ms: ${last}`);
    return v;
  }

  /**
   * Runs `attempt` until it gives a value, pausing retryMs after a retriable error or undefined;
   * resolves undefined once `stop()` is true. A non-retriable error rejects at once. `onFailure`
   * hears why each attempt failed.
   */
  async retry<T>(what: string, attempt: () => Promise<T | undefined>, stop: () => boolean, onFailure: (why: string) => void = () => undefined): Promise<T | undefined> {
    for (let tries = 1; ; tries++) {
      let why = "no ensemble of log nodes answers";
      try {
        const v = await attempt();
        if (v !== undefined) return v;
      } catch (err) {
        const e = toSluiceError(err);
        if (!e.retriable) throw e;
        why = e.message;
      }
      onFailure(why);
      if (stop()) return undefined;
      if (tries % 30 === 1) log.warn("too few log nodes answer; waiting for them", { what, tries, last: why });
      await this.sleep(this.retryMs);
    }
  }

  /** Closes every node client (and in-process node) this Tier-1 uses. */
  async close(): Promise<void> {
    await Promise.all([...this.byAddress.values()].map((n) => n.close()));
  }

  private probe(node: LogNodeApi): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = this.clock.setTimer(this.probeTimeoutMs, () => resolve(false));
      node.readState(probeLedgerId).then(
        () => {
          timer.cancel();
          resolve(true);
        },
        () => {
          timer.cancel();
          resolve(false);
        },
      );
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimer(ms, resolve));
  }
}
