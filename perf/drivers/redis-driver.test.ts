// Proves the Redis Streams driver delivers every message once and in order per key, from the start
// and from the end of a topic, and bounds sends in flight, against a real durable redis-server
// child process on 127.0.0.1 that is stopped by its pid at the end. Without redis-server it fails.
import t from "tap";
import { existsSync } from "node:fs";
import { Redis } from "ioredis";
import { OverloadedError, StreamExistsError } from "../../common/index.js";
import { payloadSentAtMs, stampPayload, timestampBytes, wallClockMs } from "../harness/driver.js";
import { redisServerInstallHint, redisServerInstalled, startRedisServer } from "../support/redis-server.js";
import { RedisDriver, fnv1a32, partitionOfKey, producerInflightSendsMax, type RedisProducer } from "./redis-driver.js";

const partitions = 4;
const keyCount = 50;
const messagesBefore = 1_000; // sent before the consumers exist: only the from-start subscription sees them
const messagesTotal = 10_000;
const deliveryTimeoutMs = 10_000;
const seqBytes = 4;

/** Payload: 8-byte send time, 4-byte per-key sequence, then the key in UTF-8. */
function makePayload(key: string, seq: number): Buffer {
  const payload = Buffer.alloc(timestampBytes + seqBytes + Buffer.byteLength(key));
  stampPayload(payload, wallClockMs());
  payload.writeUInt32BE(seq, timestampBytes);
  payload.write(key, timestampBytes + seqBytes);
  return payload;
}

/** Per key, the sequence numbers in the order they arrived. */
class Received {
  readonly byKey = new Map<string, number[]>();
  count = 0;
  maxSentAtMs = 0;
  add = (payload: Buffer): void => {
    const key = payload.subarray(timestampBytes + seqBytes).toString();
    const seqs = this.byKey.get(key) ?? [];
    seqs.push(payload.readUInt32BE(timestampBytes));
    this.byKey.set(key, seqs);
    this.count++;
    this.maxSentAtMs = Math.max(this.maxSentAtMs, payloadSentAtMs(payload));
  };
}

async function until(what: string, done: () => boolean): Promise<void> {
  const deadlineMs = Date.now() + deliveryTimeoutMs;
  while (!done()) {
    if (Date.now() > deadlineMs) throw new Error(`timed out after ${deliveryTimeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

void t.test("FNV-1a matches the reference vectors and spreads keys over partitions", async (t) => {
  t.equal(fnv1a32(new Uint8Array()), 0x811c9dc5);
  t.equal(fnv1a32(new TextEncoder().encode("a")), 0xe40c292c);
  t.equal(fnv1a32(new TextEncoder().encode("foobar")), 0xbf9cf968);
  const used = new Set(Array.from({ length: keyCount }, (_v, k) => partitionOfKey(`key-${k}`, partitions)));
  t.equal(used.size, partitions, "50 keys reach all 4 partitions");
  t.equal(partitionOfKey("é".repeat(600), 7), fnv1a32(new TextEncoder().encode("é".repeat(600))) % 7, "long keys hash the same way");
});

void t.test("redis driver against a real redis-server", async (t) => {
  if (!redisServerInstalled()) {
    t.fail(redisServerInstallHint);
    return;
  }
  const server = await startRedisServer();
  const driver = new RedisDriver({ host: "127.0.0.1", port: server.port });
  let serverStopped = false;
  t.teardown(async () => {
    if (serverStopped) return;
    await driver.close().catch((err: unknown) => t.comment(`driver close in teardown: ${String(err)}`));
    await server.stop();
  });

  const probe = new Redis({ host: "127.0.0.1", port: server.port, protocol: 2 });
  const durability = [await probe.config("GET", "appendonly"), await probe.config("GET", "appendfsync")];
  await probe.quit();
  t.same(durability, [["appendonly", "yes"], ["appendfsync", "always"]], "the server is the durable peer (fsync before every reply)");

  await driver.createTopic("orders", partitions);
  await t.rejects(driver.createTopic("orders", partitions), StreamExistsError, "a topic cannot be created twice");

  const producer: RedisProducer = await driver.createProducer("orders");
  const nextSeq = new Map<string, number>();
  let maxInflight = 0;
  const sendRange = async (from: number, to: number) => {
    const sends: Promise<void>[] = [];
    for (let i = from; i < to; i++) {
      await producer.ready();
      const key = `key-${i % keyCount}`;
      const seq = nextSeq.get(key) ?? 0;
      nextSeq.set(key, seq + 1);
      sends.push(producer.send(key, makePayload(key, seq)));
      maxInflight = Math.max(maxInflight, producer.inflightSends);
    }
    await Promise.all(sends);
  };

  await sendRange(0, messagesBefore);
  const seqAtSubscribe = new Map(nextSeq);

  const fromStart = new Received();
  const fromEnd = new Received();
  // The from-start subscription is split over two consumers (partitions 0,2 and 1,3).
  const consumers = await Promise.all([
    driver.createConsumer("orders", "from-start", { fromStart: true, index: 0, count: 2 }, fromStart.add),
    driver.createConsumer("orders", "from-start", { fromStart: true, index: 1, count: 2 }, fromStart.add),
    driver.createConsumer("orders", "from-end", { fromStart: false, index: 0, count: 1 }, fromEnd.add),
  ]);
  const startedMs = wallClockMs();
  await sendRange(messagesBefore, messagesTotal);
  await until("from-start delivery", () => fromStart.count >= messagesTotal);
  await until("from-end delivery", () => fromEnd.count >= messagesTotal - messagesBefore);
  // Anything extra (a duplicate) would arrive with the rest; give it a moment to show up.
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.comment(`${messagesTotal - messagesBefore} messages sent and delivered in ${Math.round(wallClockMs() - startedMs)} ms`);

  t.equal(fromStart.count, messagesTotal, "from-start subscription received every message once");
  t.equal(fromEnd.count, messagesTotal - messagesBefore, "from-end subscription received exactly the messages sent after it subscribed");
  const startOrderOk = [...nextSeq].every(([key, n]) => {
    const seqs = fromStart.byKey.get(key) ?? [];
    return seqs.length === n && seqs.every((s, i) => s === i);
  });
  t.ok(startOrderOk, "from start: every key's messages arrived once each, in send order");
  const endOrderOk = [...nextSeq].every(([key, n]) => {
    const first = seqAtSubscribe.get(key) ?? 0;
    const seqs = fromEnd.byKey.get(key) ?? [];
    return seqs.length === n - first && seqs.every((s, i) => s === first + i);
  });
  t.ok(endOrderOk, "from end: every key's later messages arrived once each, in send order");
  t.ok(fromStart.maxSentAtMs > 0 && fromStart.maxSentAtMs <= wallClockMs(), "payloads keep their send timestamp");
  t.ok(maxInflight <= producerInflightSendsMax, `in flight never above ${producerInflightSendsMax} (saw ${maxInflight})`);

  await t.test("ready() holds callers at the in-flight bound", async (t) => {
    await driver.createTopic("bound", 1);
    const bounded = await driver.createProducer("bound");
    const payload = makePayload("k", 0);
    const sends = Array.from({ length: producerInflightSendsMax }, () => bounded.send(undefined, payload));
    t.equal(bounded.inflightSends, producerInflightSendsMax);
    await t.rejects(bounded.send(undefined, payload), OverloadedError, "a send past the bound is refused");
    let readyResolved = false;
    const ready = bounded.ready().then(() => (readyResolved = true));
    await Promise.resolve();
    t.notOk(readyResolved, "ready() waits while the bound is reached");
    await ready;
    t.ok(bounded.inflightSends < producerInflightSendsMax, "ready() resolved once a send completed");
    await Promise.all(sends);
    t.equal(bounded.inflightSends, 0);
    await bounded.close();
  });

  await Promise.all(consumers.map((c) => c.close()));
  await producer.close();
  await driver.close();

  const { pid, dir } = server;
  await server.stop();
  serverStopped = true;
  t.throws(() => process.kill(pid, 0), { code: "ESRCH" }, `redis-server pid ${pid} is gone`);
  t.notOk(existsSync(dir), "the server's data folder is removed");
});
