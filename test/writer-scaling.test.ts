// Proves the EventWriter follows scaling against a real in-process standalone: one writer writes without pause
// (pipelined, 200 routing keys) while the stream splits 1->2, splits again 2->4 and merges back to 1, three times
// over; no write fails, and reading every segment of every epoch finds each acknowledged event exactly once and
// each key's events in write order. After the stream is sealed, writes fail STREAM_SEALED (and writes in flight at
// the seal are either stored once or failed with it).
import t from "tap";
import { Sluice } from "../client/index.js";
import { startStandalone } from "../bin/standalone.js";
import { readAllByKey, testEvent } from "./support/events.js";

function args(dir: string): string[] {
  return ["--data-dir", dir, "--controller-port", "0", "--segmentstore-port", "0"];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A producer that writes one event per key every round, without awaiting them, until stopped. */
function produce(sluice: Sluice, stream: string, keyCount: number) {
  const writer = sluice.writer(stream);
  const failures: unknown[] = [];
  let acked = 0;
  let stopped = false;
  const rounds = (async () => {
    let seq = 0;
    while (!stopped) {
      for (let k = 0; k < keyCount; k++) {
        const key = `key-${k}`;
        writer.write(testEvent(key, seq), { routingKey: key }).then(
          () => acked++,
          (err: unknown) => failures.push(err),
        );
      }
      seq++;
      await writer.ready();
      await sleep(1);
    }
    return seq;
  })();
  return {
    writer,
    failures,
    acked: () => acked,
    stop: async () => {
      stopped = true;
      return rounds;
    },
  };
}

void t.test("a writer follows splits and merges: every acknowledged event read once, per key in write order", async (t) => {
  const s = await startStandalone(args(t.testdir()));
  t.teardown(() => s.close());
  const sluice = await Sluice.connect(`tcp://127.0.0.1:${s.controllerPort}`);
  await sluice.admin.createScope("sc");
  await sluice.admin.createStream("sc/s", { scaling: { type: "fixed", minSegments: 1 } });
  const keyCount = 200;
  const producer = produce(sluice, "sc/s", keyCount);
  const current = async () => (await sluice.admin.streamInfo("sc/s")).segments;
  for (let cycle = 0; cycle < 3; cycle++) {
    await sleep(150);
    const [one] = await current();
    await sluice.admin.scaleStream("sc/s", [one!.segment], [{ keyStart: 0, keyEnd: 0.5 }, { keyStart: 0.5, keyEnd: 1 }]);
    await sleep(150);
    for (const half of await current()) {
      const mid = (half.keyStart + half.keyEnd) / 2;
      await sluice.admin.scaleStream("sc/s", [half.segment], [{ keyStart: half.keyStart, keyEnd: mid }, { keyStart: mid, keyEnd: half.keyEnd }]);
      await sleep(100);
    }
    const quarters = await current();
    t.equal(quarters.length, 4, `cycle ${cycle}: split into four`);
    await sleep(150);
    await sluice.admin.scaleStream("sc/s", quarters.map((q) => q.segment), [{ keyStart: 0, keyEnd: 1 }]);
  }
  await sleep(150);
  const rounds = await producer.stop();
  await producer.writer.close();
  t.same(producer.failures, [], "no write failed");
  t.equal(producer.acked(), rounds * keyCount, "every write acknowledged");
  const info = await sluice.admin.streamInfo("sc/s");
  t.equal(info.epoch, 12, "the stream scaled twelve times under the writer");

  const { total, byKey } = await readAllByKey(sluice, "sc/s");
  t.equal(total, rounds * keyCount, `every acknowledged event read once (${total} events, ${rounds} rounds)`);
  const expected = [...Array(rounds).keys()];
  let inOrder = 0;
  for (let k = 0; k < keyCount; k++) {
    const seqs = byKey.get(`key-${k}`) ?? [];
    if (seqs.length === expected.length && seqs.every((seq, i) => seq === i)) inOrder++;
    else t.same(seqs, expected, `key-${k}: once each, in write order`);
  }
  t.equal(inOrder, keyCount, "every key's events in write order, across the epochs");
  await sluice.close();
});

void t.test("after the stream is sealed, writes fail STREAM_SEALED", async (t) => {
  const s = await startStandalone(args(t.testdir()));
  t.teardown(() => s.close());
  const sluice = await Sluice.connect(`tcp://127.0.0.1:${s.controllerPort}`);
  await sluice.admin.createScope("sc");
  await sluice.admin.createStream("sc/s", { scaling: { type: "fixed", minSegments: 2 } });
  const producer = produce(sluice, "sc/s", 20);
  await sleep(200);
  await sluice.admin.sealStream("sc/s");
  await sleep(100);
  const rounds = await producer.stop();
  t.ok(producer.failures.length > 0, "writes after the seal failed");
  t.ok(producer.failures.every((e) => (e as { code?: string }).code === "STREAM_SEALED"), "each with STREAM_SEALED");
  await t.rejects(producer.writer.write("late", { routingKey: "key-0" }), { code: "STREAM_SEALED", message: /sealed/ });
  await t.rejects(sluice.writer("sc/s").write("fresh writer"), { code: "STREAM_SEALED" }, "a new writer too");
  const { total, byKey } = await readAllByKey(sluice, "sc/s");
  t.equal(total, producer.acked(), "exactly the acknowledged events are stored");
  t.equal(producer.acked() + producer.failures.length, rounds * 20, "every write settled");
  for (const [key, seqs] of byKey) t.same(seqs, [...Array(seqs.length).keys()], `${key}: a prefix of its writes, in order`);
  await t.rejects(producer.writer.close(), { code: "STREAM_SEALED" }, "close reports the failure");
  await t.rejects(sluice.close(), { code: "STREAM_SEALED" });
});
