/**
 * The demo's load: events "k<i>:<seq>" with routing key "k<i>", keys taken round-robin, each key's
 * sequence counting from 0, paced to the profile of profile.ts. Each tick writes the events due by
 * then (at most `eventsPerTickMax`, so a slow store makes the generator fall behind, not buffer
 * without bound) and awaits the writer's room before the next tick. Counts are of acknowledged
 * events; a failed write stops the generator and is reported by `close`.
 */
import type { EventWriter } from "../client/index.js";
import { toSluiceError, type SluiceError } from "../common/index.js";
import { eventsDueBy } from "./profile.js";

/** How often the generator wakes up to write the events due. */
const tickMs = 20;
/** Events written in one tick at most. */
const eventsPerTickMax = 5_000;

export class LoadGenerator {
  /** Events written per key (its next sequence number). */
  readonly written: number[];
  private acked = 0;
  private writtenTotal = 0;
  private failure: SluiceError | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private startedAtMs = 0;

  constructor(
    private readonly writer: EventWriter,
    private readonly keys: number,
    private readonly durationMs: number,
    private readonly peakRate: number,
  ) {
    this.written = new Array<number>(keys).fill(0);
  }

  /** Events acknowledged so far. */
  get ackedEvents(): number {
    return this.acked;
  }

  /** The first write failure, or undefined. */
  get error(): SluiceError | undefined {
    return this.failure;
  }

  /** Starts writing at `nowMs` (performance.now() time base). */
  start(): void {
    this.startedAtMs = performance.now();
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let next = 0;
    while (!this.stopped && this.failure === undefined) {
      const elapsedMs = performance.now() - this.startedAtMs;
      if (elapsedMs >= this.durationMs) break;
      const due = Math.min(eventsDueBy(elapsedMs, this.durationMs, this.peakRate), this.writtenTotal + eventsPerTickMax);
      while (this.writtenTotal < due) {
        const key = next;
        next = (next + 1) % this.keys;
        const seq = this.written[key]!;
        this.written[key] = seq + 1;
        this.writtenTotal++;
        this.writer.write(`k${key}:${seq}`, { routingKey: `k${key}` }).then(
          () => this.acked++,
          (err: unknown) => (this.failure ??= toSluiceError(err)),
        );
      }
      await this.writer.ready();
      await new Promise((resolve) => setTimeout(resolve, tickMs));
    }
  }

  /** Stops writing (events already written are still acknowledged). */
  stop(): void {
    this.stopped = true;
  }

  /** Stops writing, waits until every written event is acknowledged; rethrows the first write failure. */
  async close(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.writer.flush();
    if (this.failure !== undefined) throw this.failure;
  }
}
