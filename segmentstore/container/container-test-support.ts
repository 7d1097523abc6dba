/** Fakes shared by the container's unit tests: a log completed by hand, and the services a container needs. */
import { ManualClock, type SluiceError } from "../../common/index.js";
import { encodeEvents } from "../../proto/index.js";
import { TailWaiters } from "../readindex/read-index.js";
import { SegmentLoadStats } from "../stats/segment-load.js";
import type { ContainerLog } from "./operation-processor.js";
import { SegmentContainer, type CacheBudget, type ContainerServices } from "./segment-container.js";

/** A log whose appends complete only when the test says so; entry addresses are 0, 1, 2, ... */
export class ManualLog implements ContainerLog {
  readonly epoch = 1;
  readonly entries: Buffer[] = [];
  /** Addresses the container truncated the log at, in order. */
  readonly truncations: number[] = [];
  truncate(address: number): Promise<void> {
    this.truncations.push(address);
    return Promise.resolve();
  }
  private readonly waiting: { resolve: (id: number) => void; reject: (e: Error) => void; id: number }[] = [];
  append(pieces: readonly Buffer[]): Promise<number> {
    const id = this.entries.length;
    this.entries.push(Buffer.concat(pieces));
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject, id }));
  }
  get pending(): number {
    return this.waiting.length;
  }
  completeAll(): void {
    for (const w of this.waiting.splice(0)) w.resolve(w.id);
  }
  failAll(err: Error = new Error("disk on fire")): void {
    for (const w of this.waiting.splice(0)) w.reject(err);
  }
}

export const seg = "s/t/0.#epoch.0";
export const writer = Buffer.alloc(16, 1);
export const tick = (): Promise<unknown> => new Promise((r) => setImmediate(r));
export const ev = (...texts: string[]): Buffer => encodeEvents(texts.map((s) => Buffer.from(s)));

export function containerServices(clock: ManualClock, cacheMax = 1 << 30): { services: ContainerServices; cache: CacheBudget; stopped: SluiceError[]; stats: SegmentLoadStats } {
  const cache: CacheBudget = { usedBytes: 0, maxBytes: cacheMax };
  const stopped: SluiceError[] = [];
  const stats = new SegmentLoadStats(clock, { windowsMs: [1000, 5000] });
  const services: ContainerServices = {
    clock,
    cache,
    tail: new TailWaiters(clock),
    stats,
    checkpoints: { checkpointBytes: 1 << 30, checkpointOps: 1_000_000, checkpointIntervalMs: 3_600_000 },
    stopped: (_c, err) => stopped.push(err),
  };
  return { services, cache, stopped, stats };
}

/** A started container whose first entry (the start checkpoint) is already durable. */
export function make(cacheMax = 1 << 30): { c: SegmentContainer; log: ManualLog; cache: CacheBudget; clock: ManualClock; stopped: SluiceError[]; stats: SegmentLoadStats } {
  const clock = new ManualClock();
  const { services, cache, stopped, stats } = containerServices(clock, cacheMax);
  const c = new SegmentContainer(0, services);
  const log = new ManualLog();
  c.start(log);
  return { c, log, cache, clock, stopped, stats };
}

export async function created(c: SegmentContainer, log: ManualLog, name = seg): Promise<void> {
  const p = c.createSegment(name);
  await tick();
  log.completeAll();
  await p;
}
