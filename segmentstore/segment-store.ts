/**
 * The segment store role: Tier-1 log, containers, read index and the TCP front end. Start-up is
 * recovery: the journal is replayed into the containers (each container's entries in order), and
 * only then does the store listen. The store keeps its container count in the data directory and
 * refuses to start with another count, since segments are placed on containers by hash.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { systemClock, type Clock, InvalidConfigError, WrongHostError, containerOf, logger, makeDurableDir } from "../common/index.js";
import { SegmentContainer, type CacheBudget } from "./container/segment-container.js";
import { TailWaiters } from "./readindex/read-index.js";
import { SegmentStoreServer } from "./server/segment-store-server.js";
import { Journal } from "./tier1/journal.js";
import { JournalDataLog } from "./tier1/durable-data-log.js";

const log = logger("segmentstore");

export interface SegmentStoreOptions {
  dataDir: string;
  host: string;
  port: number;
  containerCount: number;
  cacheBytesMax: number;
  clock?: Clock;
}

async function checkLayout(dataDir: string, containerCount: number): Promise<void> {
  const path = join(dataDir, "segmentstore.json");
  let text: string | undefined;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  if (text === undefined) {
    await writeFile(path, JSON.stringify({ containerCount }) + "\n");
    return;
  }
  const stored = (JSON.parse(text) as { containerCount: number }).containerCount;
  if (stored !== containerCount) {
    throw new InvalidConfigError(`--containers ${containerCount} differs from the ${stored} containers this data directory was created with; use ${stored}`);
  }
}

export class SegmentStore {
  private constructor(
    private readonly journal: Journal,
    private readonly containers: SegmentContainer[],
    private readonly server: SegmentStoreServer,
    private readonly tail: TailWaiters,
    readonly port: number,
  ) {}

  static async start(options: SegmentStoreOptions): Promise<SegmentStore> {
    const clock = options.clock ?? systemClock;
    await makeDurableDir(options.dataDir);
    await checkLayout(options.dataDir, options.containerCount);
    const cache: CacheBudget = { usedBytes: 0, maxBytes: options.cacheBytesMax };
    const tail = new TailWaiters(clock);
    const containers = Array.from({ length: options.containerCount }, (_, i) => new SegmentContainer(i, clock, cache, tail));
    const nextEntry = new Array<number>(options.containerCount).fill(0);
    const started = clock.monotonicMs();
    const journal = await Journal.open(join(options.dataDir, "tier1"), (ledger, entryId, payload) => {
      const c = containers[ledger];
      if (c === undefined) throw new InvalidConfigError(`journal holds ledger ${ledger} but only ${options.containerCount} containers exist`);
      c.replay(entryId, payload);
      nextEntry[ledger] = entryId + 1;
    });
    for (const c of containers) c.start(new JournalDataLog(journal, c.id, nextEntry[c.id]!));
    const segments = containers.reduce((n, c) => n + c.segmentCount, 0);
    log.info("recovered", {
      containers: options.containerCount,
      segments,
      cachedBytes: cache.usedBytes,
      journal: journal.recovery,
      ms: Math.round(clock.monotonicMs() - started),
    });
    const server = new SegmentStoreServer((segment) => {
      const c = containers[containerOf(segment, options.containerCount)];
      if (c === undefined) throw new WrongHostError(`segment ${segment} is not served here`);
      return c;
    }, clock);
    let port: number;
    try {
      port = await server.listen(options.host, options.port);
    } catch (err) {
      await journal.close();
      throw err;
    }
    log.info("segment store listening", { host: options.host, port });
    return new SegmentStore(journal, containers, server, tail, port);
  }

  async close(): Promise<void> {
    await this.server.close();
    this.tail.notifyAll();
    await this.journal.close();
    const stats = this.journal.stats;
    log.info("segment store closed", { ...stats, recordsPerBatch: stats.batches === 0 ? 0 : +(stats.records / stats.batches).toFixed(1) });
  }
}
