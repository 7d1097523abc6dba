/**
 * The driver contract of the harness, after OMB's BenchmarkDriver: a driver turns topics,
 * producers and consumers into calls on one system (Sluice, Redis Streams). Workers use only this
 * interface, so every system is measured by the same load loop.
 *
 * A topic is a Sluice stream or a set of Redis streams; its partitions are segments or keys of
 * the peer. Every message starts with an 8-byte big-endian float: the wall-clock send time in
 * milliseconds (high resolution), from which consumers measure end-to-end latency.
 */

export interface DriverProducer {
  /**
   * Sends one message; resolves once the system has made it durable (its ack). Messages with the
   * same key keep their order. Sends may be many in flight at once.
   */
  send(key: string | undefined, payload: Buffer): Promise<void>;
  /** Resolves when the producer has room for more sends (its in-flight bound is not reached). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export interface DriverConsumer {
  close(): Promise<void>;
}

export interface ConsumerOptions {
  /** Read the topic from its start (backlog drain) instead of from its current end. */
  fromStart: boolean;
  /** This consumer is number `index` of `count` in its subscription: it takes its share of partitions. */
  index: number;
  count: number;
}

export interface Driver {
  readonly name: string;
  /** Creates a topic with `partitions` partitions; an existing topic is an error (fresh runs only). */
  createTopic(topic: string, partitions: number): Promise<void>;
  createProducer(topic: string): Promise<DriverProducer>;
  /** Delivers every message of its share of the topic's partitions to `onMessage`, in order per partition. */
  createConsumer(topic: string, subscription: string, options: ConsumerOptions, onMessage: (payload: Buffer) => void): Promise<DriverConsumer>;
  close(): Promise<void>;
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

export const timestampBytes = 8;

/** Writes the send time into the first 8 bytes of a payload (payloads are at least 8 bytes). */
export function stampPayload(payload: Buffer, sentAtMs: number): void {
  payload.writeDoubleBE(sentAtMs, 0);
}

export function payloadSentAtMs(payload: Buffer): number {
  return payload.readDoubleBE(0);
}
