/**
 * Counts the events of the output stream as the job commits them, with one reader of a reader group
 * following the stream from its head: the "read" side of the consumer lag.
 */
import type { EventReader, Sluice } from "../client/index.js";
import { toSluiceError, type SluiceError } from "../common/index.js";

/** How long one readNext waits for an event before the loop checks whether it should stop. */
const readWaitMs = 500;

export class OutputCounter {
  private count = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private failure: SluiceError | undefined;

  private constructor(private readonly reader: EventReader) {}

  /** Opens reader group `group` (created if absent, from the head) on `stream` and starts counting. */
  static async start(client: Sluice, group: string, stream: string): Promise<OutputCounter> {
    const g = await client.readerGroup(group, { streams: [stream], from: "head" });
    const counter = new OutputCounter(g.reader("counter"));
    counter.loop = counter.run();
    return counter;
  }

  /** Events read so far. */
  get read(): number {
    return this.count;
  }

  /** The read failure that stopped the counter, or undefined. */
  get error(): SluiceError | undefined {
    return this.failure;
  }

  private async run(): Promise<void> {
    try {
      while (!this.stopped) {
        const item = await this.reader.readNext({ timeoutMs: readWaitMs });
        if (item.type === "event") this.count++;
        else if (item.type === "end") return;
      }
    } catch (err) {
      this.failure = toSluiceError(err);
    }
  }

  /** Stops counting and closes the reader (it leaves the group). */
  async close(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.reader.close();
  }
}
