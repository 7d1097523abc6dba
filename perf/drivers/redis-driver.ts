/**
 * The Redis Streams peer of the benchmark harness, after OMB's Redis driver. A topic of P partitions
 * is P streams `topic-0` .. `topic-(P-1)` plus a key `topic-partitions` holding P, so producers and
 * consumers in other processes find the layout. Run against a server with `--appendonly yes
 * --appendfsync always`, a send resolves only after Redis has fsynced it: the durable peer of Sluice.
 *
 * Ordering: messages with the same key go to the same stream and are sent on one connection, so they
 * keep their order; messages without a key are spread round-robin and keep no order across streams.
 */
import { Redis } from "ioredis";
import {
  ClosedError,
  DataCorruptionError,
  InvalidArgumentError,
  InvalidConfigError,
  NoSuchStreamError,
  OverloadedError,
  StreamExistsError,
  UnavailableError,
  assert,
  logger,
} from "../../common/index.js";
import type { ConsumerOptions, Driver, DriverConsumer, DriverProducer } from "../harness/driver.js";
import { partitionsPerTopicMax, producerInflightSendsMax } from "../harness/limits.js";
import { command, connectOrFail, currentEnds, openConnection, quitWithin, errorMessage, type RedisDriverConfig } from "./redis-connection.js";

export { redisCommandTimeoutMs, type RedisDriverConfig } from "./redis-connection.js";

const log = logger("redis-driver");

/**
 * Sends in flight per producer: the harness's bound, which the Sluice driver uses as its pipelining
 * depth too, so both peers are measured with the same window. Re-exported for tests and callers.
 */
export { producerInflightSendsMax };
/** Callers waiting in ready() per producer; the harness has one, so more is a bug in the caller. */
export const producerReadyWaitersMax = 1024;
/** An XREAD waits this long for new entries before it is issued again (and close() is noticed). */
export const xreadBlockMs = 1_000;
/** Entries per stream per XREAD. */
export const xreadCountMax = 1_000;
const portMax = 65_535;
/** One short field name per entry: the payload is the message, there is nothing else to store. */
const payloadField = "p";



export function partitionStreamKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export function topicPartitionsKey(topic: string): string {
  return `${topic}-partitions`;
}

const fnvOffsetBasis = 0x811c9dc5;
const fnvPrime = 0x01000193;

/** 32-bit FNV-1a. A simple, stable hash is enough to spread keys: the peer only needs a fixed mapping. */
export function fnv1a32(bytes: Uint8Array): number {
  let h = fnvOffsetBasis;
  for (const byte of bytes) {
    h ^= byte;
    h = Math.imul(h, fnvPrime);
  }
  return h >>> 0;
}

const encoder = new TextEncoder();
/** Keys are hashed on every send: encode them into one reused buffer rather than a new one each. */
const keyScratch = new Uint8Array(1024);

/** The partition of a message key: FNV-1a of its UTF-8 bytes, modulo the partition count. */
export function partitionOfKey(key: string, partitions: number): number {
  if (key.length * 3 <= keyScratch.length) {
    const { written } = encoder.encodeInto(key, keyScratch);
    return fnv1a32(keyScratch.subarray(0, written)) % partitions;
  }
  return fnv1a32(encoder.encode(key)) % partitions;
}

export class RedisDriver implements Driver {
  readonly name = "redis";
  readonly #config: RedisDriverConfig;
  readonly #admin: Redis;
  readonly #producers = new Set<RedisProducer>();
  readonly #consumers = new Set<RedisConsumer>();

  constructor(config: RedisDriverConfig) {
    if (config.host === "") throw new InvalidConfigError("redis driver: host must not be empty");
    if (!Number.isInteger(config.port) || config.port < 1 || config.port > portMax) {
      throw new InvalidConfigError(`redis driver: port must be an integer in [1, ${portMax}], got ${config.port}`);
    }
    this.#config = { host: config.host, port: config.port };
    this.#admin = openConnection(this.#config, "admin", {});
  }

  async createTopic(topic: string, partitions: number): Promise<void> {
    if (topic === "") throw new InvalidArgumentError("topic name must not be empty");
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > partitionsPerTopicMax) {
      throw new InvalidArgumentError(`partitions must be an integer in [1, ${partitionsPerTopicMax}], got ${partitions}`);
    }
    const streams = streamKeys(topic, partitions);
    const metaKey = topicPartitionsKey(topic);
    const existing = await command(`EXISTS for topic ${topic}`, this.#admin.exists(metaKey, ...streams));
    if (existing > 0) throw new StreamExistsError(`topic ${topic}: ${existing} of its Redis keys exist already (fresh runs only)`);
    // Each stream is created empty (an entry added and trimmed away at once) so the topic exists
    // before any send, and a second createTopic or a stray key from an earlier run is caught above.
    const tx = this.#admin.multi().set(metaKey, String(partitions));
    for (const stream of streams) tx.xadd(stream, "MAXLEN", "0", "*", payloadField, "");
    const replies = await command(`MULTI creating topic ${topic}`, tx.exec());
    if (replies === null) throw new UnavailableError(`creating topic ${topic}: the transaction was aborted`);
    for (const [err] of replies) {
      if (err !== null) throw new UnavailableError(`creating topic ${topic}: ${err.message}`, { cause: err });
    }
  }

  async createProducer(topic: string): Promise<RedisProducer> {
    const partitions = await this.#partitionsOf(topic);
    // Auto-pipelining joins every XADD issued in one tick into one write and one round trip. A lost
    // connection fails the sends in flight instead of re-sending them: Redis may have applied them
    // already, and a silent duplicate would corrupt the once-only delivery the harness measures.
    const conn = openConnection(this.#config, `producer ${topic}`, {
      enableAutoPipelining: true,
      autoResendUnfulfilledCommands: false,
    });
    await connectOrFail(conn, topic);
    const producer = new RedisProducer(conn, streamKeys(topic, partitions), () => this.#producers.delete(producer));
    this.#producers.add(producer);
    return producer;
  }

  async createConsumer(
    topic: string,
    _subscription: string,
    options: ConsumerOptions,
    onMessage: (payload: Buffer) => void,
  ): Promise<RedisConsumer> {
    // Every consumer keeps its own cursors, so each subscription reads every message, as in OMB; the
    // subscription name needs no state in Redis.
    const { fromStart, index, count } = options;
    if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) {
      throw new InvalidArgumentError(`consumer index must be an integer in [0, count), got ${index} of ${count}`);
    }
    const partitions = await this.#partitionsOf(topic);
    const streams = streamKeys(topic, partitions).filter((_s, partition) => partition % count === index);
    // A consumer beyond the partition count has nothing to read, and needs no connection.
    if (streams.length === 0) return new RedisConsumer(undefined, [], [], onMessage, () => undefined);
    const conn = openConnection(this.#config, `consumer ${topic}`, {});
    await connectOrFail(conn, topic);
    let cursors: string[];
    try {
      cursors = fromStart ? streams.map(() => "0") : await currentEnds(conn, streams);
    } catch (err) {
      conn.disconnect();
      throw err;
    }
    const consumer = new RedisConsumer(conn, streams, cursors, onMessage, () => this.#consumers.delete(consumer));
    this.#consumers.add(consumer);
    return consumer;
  }

  async close(): Promise<void> {
    const results = await Promise.allSettled([
      ...[...this.#producers].map((p) => p.close()),
      ...[...this.#consumers].map((c) => c.close()),
      quitWithin(this.#admin),
    ]);
    for (const r of results) if (r.status === "rejected") throw r.reason;
  }

  async #partitionsOf(topic: string): Promise<number> {
    const value = await command(`GET partitions of ${topic}`, this.#admin.get(topicPartitionsKey(topic)));
    if (value === null) throw new NoSuchStreamError(`topic ${topic} does not exist in Redis (no key ${topicPartitionsKey(topic)})`);
    const partitions = Number(value);
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > partitionsPerTopicMax) {
      throw new DataCorruptionError(`topic ${topic}: key ${topicPartitionsKey(topic)} holds ${value}, not a partition count`);
    }
    return partitions;
  }
}

/**
 * Sends XADDs on one auto-pipelined connection. send() resolves when Redis replied (after its fsync,
 * with appendfsync always) and rejects with UnavailableError when Redis fails or cannot be reached,
 * OverloadedError when producerInflightSendsMax sends are already in flight (wait for ready()), and
 * ClosedError after close().
 */
export class RedisProducer implements DriverProducer {
  readonly #conn: Redis;
  readonly #streams: readonly string[];
  readonly #onClose: () => void;
  #inflightSends = 0;
  #nextPartition = 0;
  readonly #readyWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  #closing: Promise<void> | undefined;

  constructor(conn: Redis, streams: readonly string[], onClose: () => void) {
    assert(streams.length > 0, "a topic has at least one partition");
    this.#conn = conn;
    this.#streams = streams;
    this.#onClose = onClose;
  }

  get inflightSends(): number {
    return this.#inflightSends;
  }

  async send(key: string | undefined, payload: Buffer): Promise<void> {
    if (this.#closing !== undefined) throw new ClosedError("redis producer is closed");
    if (this.#inflightSends >= producerInflightSendsMax) {
      throw new OverloadedError(`redis producer has ${producerInflightSendsMax} sends in flight (producerInflightSendsMax): await ready() first`);
    }
    const stream = this.#streams[this.#partitionFor(key)];
    assert(stream !== undefined, "partition index is below the partition count");
    // Counted and issued before the first await, so every send of one tick joins one pipeline.
    this.#inflightSends++;
    try {
      await this.#conn.xadd(stream, "*", payloadField, payload);
    } catch (err) {
      throw new UnavailableError(`XADD to ${stream} failed: ${errorMessage(err)}`, { cause: err });
    } finally {
      this.#inflightSends--;
      // One freed slot admits one waiter; the others wait for the next replies.
      this.#readyWaiters.shift()?.resolve();
    }
  }

  ready(): Promise<void> {
    if (this.#closing !== undefined) return Promise.reject(new ClosedError("redis producer is closed"));
    if (this.#inflightSends < producerInflightSendsMax) return Promise.resolve();
    if (this.#readyWaiters.length >= producerReadyWaitersMax) {
      return Promise.reject(new OverloadedError(`redis producer has ${producerReadyWaitersMax} callers in ready() (producerReadyWaitersMax)`));
    }
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /** Waits for the sends in flight (QUIT is answered after them), then closes the connection. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(new ClosedError("redis producer closed while waiting in ready()"));
      try {
        await quitWithin(this.#conn);
      } finally {
        this.#onClose();
      }
    })();
    return this.#closing;
  }

  #partitionFor(key: string | undefined): number {
    if (key !== undefined) return partitionOfKey(key, this.#streams.length);
    const partition = this.#nextPartition;
    this.#nextPartition = (partition + 1) % this.#streams.length;
    return partition;
  }
}

/**
 * Reads its streams with XREAD on a dedicated connection, from the cursors it was given, and calls
 * onMessage for each entry in stream order. A read failure or a throwing onMessage stops the loop;
 * close() then rejects with that error.
 */
export class RedisConsumer implements DriverConsumer {
  readonly #conn: Redis | undefined;
  readonly #onClose: () => void;
  readonly #loop: Promise<void>;
  #failure: Error | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(conn: Redis | undefined, streams: readonly string[], cursors: readonly string[], onMessage: (payload: Buffer) => void, onClose: () => void) {
    assert(streams.length === cursors.length, "one cursor per stream");
    this.#conn = conn;
    this.#onClose = onClose;
    this.#loop =
      conn === undefined
        ? Promise.resolve()
        : this.#run(conn, streams, cursors, onMessage).catch((err: unknown) => {
            this.#failure = err instanceof Error ? err : new UnavailableError(errorMessage(err));
            log.error("consumer stopped", { streams: streams.join(","), error: this.#failure });
          });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      // The loop is most likely blocked in XREAD for up to xreadBlockMs. Dropping the connection
      // fails that read at once; it only reads, so nothing is lost, and close() need not wait.
      this.#conn?.disconnect();
      await this.#loop;
      this.#onClose();
      if (this.#failure !== undefined) throw this.#failure;
    })();
    return this.#closing;
  }

  async #run(conn: Redis, streams: readonly string[], cursors: readonly string[], onMessage: (payload: Buffer) => void): Promise<void> {
    const slotOf = new Map(streams.map((s, i) => [s, i]));
    // XREAD's arguments after STREAMS: the keys, then one cursor per key, updated in place.
    const args: string[] = [...streams, ...cursors];
    while (!this.#closed) {
      let reply: [key: Buffer, items: [id: Buffer, fields: Buffer[]][]][] | null;
      try {
        reply = await conn.xreadBuffer("COUNT", xreadCountMax, "BLOCK", xreadBlockMs, "STREAMS", ...args);
      } catch (err) {
        // close() drops the connection under a pending read: that failure is the expected way out.
        if (this.#closed) return;
        throw new UnavailableError(`XREAD of ${streams.join(",")} failed: ${errorMessage(err)}`, { cause: err });
      }
      if (reply === null) continue; // The block timed out with nothing new: read again.
      for (const [key, entries] of reply) {
        const slot = slotOf.get(key.toString());
        assert(slot !== undefined, "XREAD answers only for the streams asked for");
        for (const [id, fields] of entries) {
          // Fields come as [name, value, ...]; the driver writes exactly one, the payload.
          const payload = fields[1];
          if (fields.length !== 2 || payload === undefined || fields[0]?.toString() !== payloadField) {
            throw new DataCorruptionError(`entry ${id.toString()} of ${key.toString()} is not a harness message`);
          }
          onMessage(payload);
        }
        const last = entries[entries.length - 1];
        if (last !== undefined) args[streams.length + slot] = last[0].toString();
      }
    }
  }
}

function streamKeys(topic: string, partitions: number): string[] {
  return Array.from({ length: partitions }, (_v, p) => partitionStreamKey(topic, p));
}
