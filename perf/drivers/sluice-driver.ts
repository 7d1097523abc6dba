/**
 * The Sluice driver: a topic is a stream in the `perf` scope with one segment per partition;
 * producers are EventWriters (pipelined, acked when durable), consumers are SegmentReaders
 * following the tail of their share of the segments.
 */
import { Sluice, type SegmentReader } from "../../client/index.js";
import type { ConsumerOptions, Driver, DriverConsumer, DriverProducer } from "../harness/driver.js";
import { producerInflightSendsMax } from "../harness/limits.js";

const scope = "perf";
/** How long one tail read waits on the server before asking again. */
const tailWaitMs = 1000;

export class SluiceDriver implements Driver {
  readonly name = "sluice";

  private constructor(private readonly sluice: Sluice) {}

  static async connect(controllerUri: string): Promise<SluiceDriver> {
    const sluice = await Sluice.connect(controllerUri);
    await sluice.admin.createScope(scope);
    return new SluiceDriver(sluice);
  }

  async createTopic(topic: string, partitions: number): Promise<void> {
    const created = await this.sluice.admin.createStream(`${scope}/${topic}`, { scaling: { type: "fixed", minSegments: partitions } });
    if (!created) throw new Error(`topic ${topic} exists; the harness needs a fresh server`);
  }

  createProducer(topic: string): Promise<DriverProducer> {
    const writer = this.sluice.writer(`${scope}/${topic}`);
    // The writer bounds itself by bytes; the harness compares drivers at one depth in messages.
    let inflight = 0;
    const waiters: (() => void)[] = [];
    const settle = () => {
      inflight--;
      waiters.shift()?.();
    };
    return Promise.resolve({
      send: (key, payload) => {
        inflight++;
        const sent = writer.write(payload, key === undefined ? {} : { routingKey: key });
        sent.then(settle, settle);
        return sent;
      },
      ready: () => (inflight < producerInflightSendsMax ? writer.ready() : new Promise<void>((resolve) => waiters.push(resolve)).then(() => writer.ready())),
      close: () => writer.close(),
    });
  }

  async createConsumer(topic: string, _subscription: string, options: ConsumerOptions, onMessage: (payload: Buffer) => void): Promise<DriverConsumer> {
    // Every subscription reads every segment; within one, consumer i takes segments i, i+count, ...
    const ranges = await this.sluice.batch.segments(`${scope}/${topic}`);
    const mine = ranges.filter((_, i) => i % options.count === options.index);
    const readers: SegmentReader[] = mine.map((r) =>
      this.sluice.segmentReader(r.segment, { offset: options.fromStart ? r.startOffset : r.endOffset, waitMs: tailWaitMs }),
    );
    let closed = false;
    const loops = readers.map(async (reader) => {
      while (!closed) {
        let events;
        try {
          events = await reader.next();
        } catch (err) {
          if (closed) return;
          throw err;
        }
        for (const e of events) onMessage(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
      }
    });
    const running = Promise.all(loops);
    // A failing read loop surfaces at close(); until then the harness sees it as a stalled consumer.
    running.catch(() => undefined);
    return {
      close: async () => {
        closed = true;
        for (const r of readers) r.close();
        await running.catch((err: unknown) => {
          if (!(err instanceof Error && "code" in err && err.code === "CLOSED")) throw err;
        });
      },
    };
  }

  close(): Promise<void> {
    return this.sluice.close();
  }
}
