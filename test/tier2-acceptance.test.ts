// Proves Tier-2 end to end against a real S3 server (Ceph radosgw): 512 MiB go through a segment store whose chunk
// cache is 64 MiB and pinned bound 128 MiB; the log node's journal stays bounded because the container log is truncated
// below what Tier-2 holds; the whole stream reads back from its start byte for byte, the history fetched from radosgw.
// And a zombie owner's late chunk upload can neither replace nor shadow the new owner's chunks, and is collected.
import { join } from "node:path";
import t from "tap";
import { Sluice } from "../client/index.js";
import { ClosedError, MiB } from "../common/index.js";
import { encodeEvents } from "../proto/index.js";
import { startRadosgw, type Radosgw } from "../perf/support/radosgw.js";
import { S3ChunkStorage } from "../segmentstore/tier2/s3-chunk-storage.js";
import { MemoryLog, recoverContainer, tieringServices, until } from "../segmentstore/writer/tiering-test-support.js";
import { SegmentContainer } from "../segmentstore/container/segment-container.js";
import { startS3FaultProxy } from "./support/s3-fault-proxy.js";
import { bigEvent, bucketObjects, folderBytes, readAndCheck, startTier2Cluster } from "./support/tier2-cluster.js";

let gw: Radosgw;
t.before(async () => {
  gw = await startRadosgw();
});
t.teardown(() => gw.stop());

void t.test("512 MiB through a 64 MiB cache and a 128 MiB pinned bound: Tier-1 stays bounded, history reads back from Tier-2", async (t) => {
  const proxy = await startS3FaultProxy(gw.endpoint);
  t.teardown(() => proxy.close());
  const { cluster } = await startTier2Cluster(t, gw, proxy.endpoint, "big", [
    "--cache-bytes-max", String(128 * MiB),
    "--read-cache-bytes-max", String(64 * MiB),
    "--log-rollover-bytes", String(16 * MiB),
  ]);
  const journal = join(cluster.dir, "lognode");
  let journalMax = 0;
  const sampler = setInterval(() => (journalMax = Math.max(journalMax, folderBytes(journal))), 100);
  t.teardown(() => clearInterval(sampler));

  const sluice = await Sluice.connect(cluster.controllerUri!);
  t.teardown(() => sluice.close());
  await sluice.admin.createScope("t2");
  await sluice.admin.createStream("t2/big", { scaling: { type: "fixed", minSegments: 4 } });
  const writer = sluice.writer("t2/big");
  const size = 64 * 1024;
  const total = (512 * MiB) / size;
  const keys = 16;
  const started = Date.now();
  const inflight = new Set<Promise<void>>();
  for (let i = 0; i < total; i++) {
    const key = `k${i % keys}`;
    const p: Promise<void> = writer.write(bigEvent(key, Math.floor(i / keys), size), { routingKey: key }).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= 256) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  await writer.flush();
  const writeMs = Date.now() - started;
  clearInterval(sampler);
  t.comment(`wrote 512 MiB in ${writeMs} ms (${((512 * 1000) / writeMs).toFixed(1)} MiB/s) with tiering on; journal peak ${(journalMax / MiB).toFixed(1)} MiB`);
  // The log keeps what is not yet in Tier-2 (at most the pinned 128 MiB, plus up to 32 MiB in flight to the log
  // node), back to the checkpoint before it (one every 64 MiB logged), rounded out to whole ledgers (16 MiB) and
  // journal files (16 MiB): 256 MiB, whatever the amount written. 64 MiB of slack covers deletion lag (runs peaked
  // at 217 to 283 MiB).
  const bound = (128 + 32 + 64 + 16 + 16 + 64) * MiB;
  const journalEnd = folderBytes(journal);
  t.ok(journalMax <= bound, `the log node's journal peaked at ${(journalMax / MiB).toFixed(1)} MiB (bound ${bound / MiB} MiB) for 512 MiB written`);
  t.ok(journalEnd < 512 * MiB, `and holds ${(journalEnd / MiB).toFixed(1)} MiB at the end, well under the 512 MiB written: the log was truncated`);

  const getsBefore = proxy.counts.get;
  const readStarted = Date.now();
  const { byKey, bytes, bad } = await readAndCheck(sluice, "t2/big", size);
  const readMs = Date.now() - readStarted;
  t.comment(`read 512 MiB back in ${readMs} ms (${((512 * 1000) / readMs).toFixed(1)} MiB/s), ${proxy.counts.get - getsBefore} GETs from radosgw`);
  t.equal(bytes, 512 * MiB, "every byte read back");
  t.equal(bad, 0, "every event equals what was written");
  const expected = Array.from({ length: total / keys }, (_, i) => i);
  t.equal([...byKey.values()].filter((seqs) => JSON.stringify(seqs) === JSON.stringify(expected)).length, keys, "per key: every event once, in order");
  // At most 128 MiB pinned and 64 MiB cached were in memory: the rest came from radosgw, in >= 1 MiB ranges.
  t.ok(proxy.counts.get - getsBefore >= (512 - 128 - 64) / 8, "the history was fetched from Tier-2");
  const objects = await bucketObjects(gw, "big");
  t.ok(objects.size > 0 && [...objects.keys()].every((n) => /^c0\/.+\/\d{16}-s\d+-e\d+(\.\d+)?$/.test(n)), `${objects.size} chunks, named by container, segment, offset and epoch`);
});

void t.test("a zombie owner's late chunk upload cannot replace or shadow the new owner's chunks", async (t) => {
  const slow = await startS3FaultProxy(gw.endpoint);
  t.teardown(() => slow.close());
  const credentials = { accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey };
  const zombieStorage = new S3ChunkStorage({ endpoint: slow.endpoint, bucket: gw.bucket, prefix: "zombie", credentials, requestTimeoutMs: 20_000 });
  const storage = new S3ChunkStorage({ endpoint: gw.endpoint, bucket: gw.bucket, prefix: "zombie", credentials });
  t.teardown(() => Promise.all([zombieStorage.close(), storage.close()]));
  const seg = "z/s/0.#epoch.0";
  const writer = Buffer.alloc(16, 3);

  // The old owner (epoch 1) flushes through a proxy that holds its PUT for 3 s.
  const { services } = tieringServices(zombieStorage);
  const old = new SegmentContainer(0, services);
  const log = new MemoryLog(1);
  old.start(log);
  await old.createSegment(seg);
  slow.setMode({ delayMs: 3000 });
  const data = encodeEvents([Buffer.alloc(6000, 1)]);
  await old.append(seg, writer, 0, 1, data);
  await until("the old owner's PUT is on its way", () => slow.counts.put > 0);

  // Meanwhile a new owner (epoch 2) takes the log over (fencing the old one) and tiers the same bytes.
  const { c: owner, pinned } = recoverContainer(storage, log, 2);
  await until("the new owner flushed", () => pinned.usedBytes === 0);
  await until("the zombie's PUT landed", () => slow.counts.completed > 0, 10_000);
  await new Promise((r) => setTimeout(r, 200));
  const objects = await bucketObjects(gw, "zombie");
  const names = [...objects.keys()];
  t.ok(names.some((n) => n.endsWith("-e1")), "the zombie's upload exists, under its own epoch's name");
  t.ok(names.some((n) => n.endsWith("-e2")), "the new owner's chunk exists under its name");
  const read = await owner.read(seg, 0, 100_000, 0);
  t.same(read.data, data, "the new owner's data is what reads see");

  // Writing a chunk under the new owner's name with other bytes is refused; the chunk is unchanged.
  const ownersChunk = names.find((n) => n.endsWith("-e2"))!;
  await t.rejects(zombieStorage.create(ownersChunk, [Buffer.alloc(objects.get(ownersChunk)!, 9)]), { code: "CHUNK_EXISTS" });
  t.same(await storage.read(ownersChunk, 0, objects.get(ownersChunk)!), data, "If-None-Match kept the new owner's bytes");

  // The next owner collects the zombie's unreferenced chunk.
  owner.stop(new ClosedError("moved"));
  old.stop(new ClosedError("fenced"));
  const { c: next } = recoverContainer(storage, log, 3);
  let left = names.length;
  for (let i = 0; i < 50 && left !== 1; i++) {
    await new Promise((r) => setTimeout(r, 200));
    left = (await bucketObjects(gw, "zombie")).size;
  }
  const after = [...(await bucketObjects(gw, "zombie")).keys()];
  t.same(after, [ownersChunk], "only the referenced chunk is left");
  t.same((await next.read(seg, 0, 100_000, 0)).data, data);
  next.stop(new ClosedError("done"));
});
