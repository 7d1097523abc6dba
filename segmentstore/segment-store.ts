/**
 * The segment store role: containers, read index and the TCP front end over Tier-1. It keeps no
 * state of its own: start-up is recovery, each container opening its Tier-1 log as the new owner
 * (which fences any previous owner) and replaying it in order, and only then does the store listen.
 * The container count is checked against the one recorded in the metadata store, since segments
 * are placed on containers by hash.
 */
import { systemClock, type Clock, WrongHostError, containerOf, logger } from "../common/index.js";
import { checkContainerCount, type MetadataStore } from "../controller/store/index.js";
import { SegmentContainer, type CacheBudget } from "./container/segment-container.js";
import { TailWaiters } from "./readindex/read-index.js";
import { SegmentStoreServer } from "./server/segment-store-server.js";
import type { DurableDataLog } from "./tier1/durable-data-log.js";
import type { Tier1 } from "./tier1/tier1.js";

const log = logger("segmentstore");

export interface SegmentStoreOptions {
  host: string;
  port: number;
  containerCount: number;
  cacheBytesMax: number;
  /** Where the container logs live; the caller closes it after the store. */
  tier1: Tier1;
  /** Holds the container logs' ledger lists and the cluster's container count. */
  metadata: MetadataStore;
  clock?: Clock;
}

export class SegmentStore {
  private constructor(
    private readonly logs: DurableDataLog[],
    private readonly server: SegmentStoreServer,
    private readonly tail: TailWaiters,
    readonly port: number,
  ) {}

  static async start(options: SegmentStoreOptions): Promise<SegmentStore> {
    const clock = options.clock ?? systemClock;
    await checkContainerCount(options.metadata, options.containerCount);
    const cache: CacheBudget = { usedBytes: 0, maxBytes: options.cacheBytesMax };
    const tail = new TailWaiters(clock);
    const containers = Array.from({ length: options.containerCount }, (_, i) => new SegmentContainer(i, clock, cache, tail));
    const started = clock.monotonicMs();
    const logs: DurableDataLog[] = [];
    let entries = 0;
    try {
      for (const c of containers) {
        const dataLog = await options.tier1.openLog(c.id);
        logs.push(dataLog);
        for await (const entry of dataLog.read()) {
          c.replay(entry.address, entry.data);
          entries++;
        }
        c.start(dataLog);
      }
    } catch (err) {
      await Promise.all(logs.map((l) => l.close()));
      throw err;
    }
    const segments = containers.reduce((n, c) => n + c.segmentCount, 0);
    log.info("recovered", { containers: options.containerCount, segments, entries, cachedBytes: cache.usedBytes, ms: Math.round(clock.monotonicMs() - started) });
    const server = new SegmentStoreServer((segment) => {
      const c = containers[containerOf(segment, options.containerCount)];
      if (c === undefined) throw new WrongHostError(`segment ${segment} is not served here`);
      return c;
    }, clock);
    let port: number;
    try {
      port = await server.listen(options.host, options.port);
    } catch (err) {
      await Promise.all(logs.map((l) => l.close()));
      throw err;
    }
    log.info("segment store listening", { host: options.host, port });
    return new SegmentStore(logs, server, tail, port);
  }

  async close(): Promise<void> {
    await this.server.close();
    this.tail.notifyAll();
    await Promise.all(this.logs.map((l) => l.close()));
    log.info("segment store closed");
  }
}
