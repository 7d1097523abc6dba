// The client's guarantees under faults, checked on a recorded history (test/support/checker.ts): four writers
// over 1,000 keys and a transactional writer (every other transaction aborted) write while a group of four
// readers reads, the stream is split and merged five times each, and one of three segment stores gets SIGKILL.
// Real processes: etcd, a log node, a controller and three stores. At the end the stream is sealed, the readers
// read to its end, and the checker must report no lost acknowledged event, no duplicate, no per-key order
// violation and no read of aborted data.
import t from "tap";
import { Sluice, type EventReader, type KeyRange, type SegmentRange } from "../client/index.js";
import { Checker } from "./support/checker.js";
import { startControlCluster } from "./support/control-cluster.js";
import { testEvent } from "./support/events.js";

const stream = "chk/events";
const writerCount = 4;
const keyCount = 1000;
const readerCount = 4;
const scaleRounds = 5;
/** Events each writer has in flight at most (each write is awaited through its ack). */
const writerInflightMax = 200;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The widest current segment split in two, or two adjacent current segments merged into one. */
function nextScale(segments: readonly SegmentRange[], split: boolean): { seal: string[]; newRanges: KeyRange[] } {
  const sorted = [...segments].sort((a, b) => a.keyStart - b.keyStart);
  if (split) {
    const widest = sorted.reduce((a, b) => (b.keyEnd - b.keyStart > a.keyEnd - a.keyStart ? b : a));
    const mid = (widest.keyStart + widest.keyEnd) / 2;
    return { seal: [widest.segment], newRanges: [{ keyStart: widest.keyStart, keyEnd: mid }, { keyStart: mid, keyEnd: widest.keyEnd }] };
  }
  let best = 0;
  for (let i = 1; i + 1 < sorted.length; i++) {
    if (sorted[i]!.keyEnd - sorted[i]!.keyStart + sorted[i + 1]!.keyEnd - sorted[i + 1]!.keyStart < sorted[best]!.keyEnd - sorted[best]!.keyStart + sorted[best + 1]!.keyEnd - sorted[best + 1]!.keyStart) best = i;
  }
  const a = sorted[best]!;
  const b = sorted[best + 1]!;
  return { seal: [a.segment, b.segment], newRanges: [{ keyStart: a.keyStart, keyEnd: b.keyEnd }] };
}

void t.test("4 writers, 1000 keys, 4 readers in a group, 5 splits and 5 merges, one store SIGKILLed: nothing lost, duplicated, reordered or aborted is read", async (t) => {
  const cluster = await startControlCluster(t, { containerCount: 6 });
  await cluster.startController("ctl-1");
  for (const id of ["a", "b", "c"]) await cluster.startStore(id);
  await cluster.settled(["a", "b", "c"]);

  const admin = await Sluice.connect(cluster.controllerList());
  t.teardown(() => admin.close());
  await admin.admin.createScope("chk");
  await admin.admin.createStream(stream, { scaling: { type: "fixed", minSegments: 2 } });
  const checker = new Checker();

  // Readers: one group, four readers, each with its own client, all in this process so the order of reads is real time.
  const readerClients = await Promise.all(Array.from({ length: readerCount }, () => Sluice.connect(cluster.controllerList())));
  t.teardown(() => Promise.all(readerClients.map((c) => c.close())));
  const groups = await Promise.all(readerClients.map((c) => c.readerGroup("chk/checkers", { streams: [stream] })));
  const readers: EventReader[] = groups.map((g, i) => g.reader(`reader-${i}`));
  const ended = readers.map(() => false);
  const readLoops = readers.map(async (reader, i) => {
    for (;;) {
      const item = await reader.readNext({ timeoutMs: 1000 });
      if (item.type === "event") checker.read(`reader-${i}`, item.data);
      else if (item.type === "end") {
        ended[i] = true;
        return;
      }
    }
  });

  // Writers: each writes every key in turn, pipelined, recording each send and each acknowledgement.
  let writing = true;
  let writeFailures = 0;
  const firstFailures: string[] = [];
  const writerClients = await Promise.all(Array.from({ length: writerCount }, () => Sluice.connect(cluster.controllerList())));
  t.teardown(() => Promise.all(writerClients.map((c) => c.close())));
  const writeLoops = writerClients.map(async (client, w) => {
    const writer = client.writer(stream);
    const seqs = new Array<number>(keyCount).fill(0);
    let inflight = 0;
    let k = 0;
    while (writing) {
      if (inflight >= writerInflightMax) {
        await sleep(1);
        continue;
      }
      const key = `k${k}`;
      const source = `w${w}/${key}`;
      const seq = seqs[k]!++;
      k = (k + 1) % keyCount;
      checker.sent(source, seq);
      inflight++;
      writer.write(testEvent(source, seq, 64), { routingKey: key }).then(
        () => {
          inflight--;
          checker.acked(source, seq);
        },
        (err: unknown) => {
          inflight--;
          writeFailures++;
          if (firstFailures.length < 5) firstFailures.push(String(err));
        },
      );
      if (k % 50 === 0) await sleep(5);
    }
    await writer.flush().catch(() => undefined);
    await writer.close().catch(() => undefined);
  });

  // Transactions: every other one is aborted; a committed one is acknowledged once its commit returns.
  let txnCount = 0;
  const txnClient = await Sluice.connect(cluster.controllerList());
  t.teardown(() => txnClient.close());
  const txnLoop = (async () => {
    const txw = txnClient.transactionalWriter(stream);
    while (writing) {
      const n = txnCount++;
      const txn = await txw.beginTransaction();
      const written: [string, number][] = [];
      for (let i = 0; i < 20; i++) {
        const key = `k${(n * 37 + i * 11) % keyCount}`;
        const source = `txn${n}/${key}-${i}`;
        checker.sent(source, 0);
        written.push([source, 0]);
        await txn.write(testEvent(source, 0, 64), { routingKey: key });
      }
      if (n % 2 === 1) {
        for (const [source, seq] of written) checker.aborted(source, seq);
        await txn.abort();
      } else {
        await txn.commit();
        for (const [source, seq] of written) checker.acked(source, seq);
      }
      await sleep(300);
    }
  })();

  // Five splits and five merges, one store SIGKILLed after the second round.
  const started = Date.now();
  let segmentCountMax = 0;
  for (let round = 0; round < scaleRounds; round++) {
    for (const split of [true, false]) {
      await sleep(1500);
      // A transaction's commit also moves the stream to a new epoch: then read the segments again.
      for (let attempt = 0; ; attempt++) {
        const { segments } = await admin.admin.streamInfo(stream);
        const { seal, newRanges } = nextScale(segments, split);
        try {
          await admin.admin.scaleStream(stream, seal, newRanges);
          segmentCountMax = Math.max(segmentCountMax, segments.length + (split ? 1 : -1));
          break;
        } catch (err) {
          if ((err as { code?: string }).code !== "CONDITIONAL_CHECK_FAILED" || attempt >= 20) throw err;
        }
      }
    }
    if (round === 1) {
      await cluster.stores.get("b")!.proc.kill();
      t.comment("store b SIGKILLed");
    }
  }
  await sleep(2000);
  writing = false;
  await Promise.all([...writeLoops, txnLoop]);
  const epoch = (await admin.admin.streamInfo(stream)).epoch;
  await admin.admin.sealStream(stream);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(readLoops), new Promise((r) => (timer = setTimeout(r, 120_000)))]);
  clearTimeout(timer);
  t.same(ended, readers.map(() => true), "every reader reached the end of the sealed stream");
  await Promise.all(readers.map((r) => r.close()));

  const report = checker.report();
  t.comment(`figure: checker: ${report.sent} events sent, ${report.acked} acknowledged, ${report.read} read, ${txnCount} transactions, epoch ${epoch}, up to ${segmentCountMax} segments, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  t.equal(writeFailures, 0, `no write failed (${firstFailures.join("; ")})`);
  t.ok(report.acked > 10_000, `a real history (${report.acked} acknowledged)`);
  t.equal(report.lost, 0, "no acknowledged event lost");
  t.equal(report.duplicates, 0, "no duplicate");
  t.equal(report.orderViolations, 0, "per-key order kept");
  t.equal(report.abortedReads, 0, "no aborted event read");
  t.equal(report.unknownReads, 0, "nothing read that was not written");
  if (report.examples.length > 0) t.comment(report.examples.join("\n"));
});
