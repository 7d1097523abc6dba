/**
 * The Sluice driver: a topic is a stream in the `perf` scope with one segment per partition;
 * producers are EventWriters (pipelined, acked when durable); a subscription is a reader group
 * whose readers are its consumers, following the tail of their fair share of the segments.
 */
import { Sluice } from "../../client/index.js";
import type { ConsumerOptions, Driver, DriverConsumer, DriverProducer } from "../harness/driver.js";
import { producerInflightSendsMax } from "../harness/limits.js";

const scope = "perf";
/** How long one readNext waits for an event before it is asked again (and sees the consumer closed). */
const readWaitMs = 1000;

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

  async createConsumer(topic: string, subscription: string, options: ConsumerOptions, onMessage: (payload: Buffer) => void): Promise<DriverConsumer> {
    // A subscription is a reader group; its consumers are the group's readers and share the
    // segments fairly (the group rebalances as they join). The first consumer creates the group.
    const stream = `${scope}/${topic}`;
    const group = await this.sluice.readerGroup(`${scope}/${topic}-${subscription}`, { streams: [stream], from: options.fromStart ? "head" : "tail" });
    const reader = group.reader(`consumer-${options.index}`);
    let closed = false;
    const loop = (async () => {
      while (!closed) {
        let item;
        try {
          item = await reader.readNext({ timeoutMs: readWaitMs });
        } catch (err) {
          if (closed) return;
          throw err;
        }
        if (item.type === "event") onMessage(Buffer.from(item.data.buffer, item.data.byteOffset, item.data.byteLength));
        else if (item.type === "end") return;
      }
    })();
    // A failing read loop surfaces at close(); until then the harness sees it as a stalled consumer.
    loop.catch(() => undefined);
    return {
      close: async () => {
        closed = true;
        await reader.close();
        await loop.catch((err: unknown) => {
          if (!(err instanceof Error && "code" in err && err.code === "CLOSED")) throw err;
        });
        await group.close();
      },
    };
  }

  close(): Promise<void> {
    return this.sluice.close();
  }
}
