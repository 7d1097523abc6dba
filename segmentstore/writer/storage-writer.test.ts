// Proves the tiering logic of a container with Tier-2 in memory (the real S3 and filesystem paths are proved by
// test/tier2-*.test.ts): held bytes go to chunks named with the owner's epoch and are unpinned once recorded; history
// is read back through the chunk cache; the log is truncated only at a checkpoint below every unflushed byte, and a
// new owner recovers from that checkpoint with every byte readable; truncation and deletion remove chunks; chunks an
// older owner left unreferenced are collected; while Tier-2 fails, appends go on and bytes stay pinned, then flush.
import t from "tap";
import { ClosedError } from "../../common/index.js";
import { encodeEvents } from "../../proto/index.js";
import { SegmentContainer, type CacheBudget } from "../container/segment-container.js";
import { chunkEpoch, chunkName } from "../tier2/chunk-names.js";
import { MemoryChunkStorage, MemoryLog, recoverContainer as recover, tieringServices as services, until } from "./tiering-test-support.js";

const seg = "s/t/0.#epoch.0";
const writer = Buffer.alloc(16, 7);

/** Appends `count` blocks of one 1000-byte event each, numbered from `first`; returns the bytes appended. */
async function appendBlocks(c: SegmentContainer, first: number, count: number): Promise<Buffer> {
  const blocks: Buffer[] = [];
  for (let i = first; i < first + count; i++) {
    const block = encodeEvents([Buffer.alloc(1000, i % 251)]);
    blocks.push(block);
    await c.append(seg, writer, i, 1, block);
  }
  return Buffer.concat(blocks);
}

async function readAll(c: SegmentContainer, from = 0): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let at = from; ; ) {
    const r = await c.read(seg, at, 3000, 0);
    parts.push(r.data);
    at += r.data.length;
    if (r.atTail) return Buffer.concat(parts);
  }
}

/** Container 0 at epoch 1 on a fresh Tier-2 and log, with segment `seg` created. */
async function firstOwner(): Promise<{ storage: MemoryChunkStorage; c: SegmentContainer; pinned: CacheBudget; log: MemoryLog }> {
  const storage = new MemoryChunkStorage();
  const { services: s, pinned } = services(storage);
  const c = new SegmentContainer(0, s);
  const log = new MemoryLog(1);
  c.start(log);
  await c.createSegment(seg);
  return { storage, c, pinned, log };
}

void t.test("flush, read back from Tier-2, truncate the log, recover from the checkpoint", async (t) => {
  const { storage, c, pinned, log } = await firstOwner();
  const written = await appendBlocks(c, 0, 100);
  await until("every byte in Tier-2", () => pinned.usedBytes === 0);
  t.ok(c.flushedChunks >= 100_400 / 8192, `${c.flushedChunks} chunks of at most 8 KiB`);
  t.ok([...storage.objects.keys()].every((n) => /^c0\/s%2Ft%2F0%2E%23epoch%2E0\/\d{16}-s1-e1$/.test(n)), "names carry container, segment, offset and epoch");
  t.same(await readAll(c), written, "history read back from Tier-2 equals what was written");

  // More appends pass the checkpoint threshold; once flushed, the log is truncated at a checkpoint.
  const more = await appendBlocks(c, 100, 50);
  await until("log truncated", () => log.truncatedAt > 0 && pinned.usedBytes === 0);
  t.ok(log.entries[0]!.address >= log.truncatedAt, "entries below the truncation point are gone");

  // A new owner replays from the truncation point: the checkpoint is its base, and every byte is readable.
  const { c: c2, log: log2 } = recover(storage, log, 2);
  t.equal(c2.checkpointsLoaded >= 1, true, "the checkpoint was loaded");
  t.equal(c2.info(seg).length, written.length + more.length);
  t.same(await readAll(c2), Buffer.concat([written, more]), "everything readable after recovery from the truncated log");
  t.equal(c2.lastEventNumber(seg, writer), 149, "writer dedup state came back from the checkpoint");
  const tail = await appendBlocks(c2, 150, 5);
  t.same(await readAll(c2, written.length + more.length), tail);
  c.stop(new ClosedError("moved"));
  c2.stop(new ClosedError("done"));
  t.ok(log2.epoch === 2);
});

void t.test("truncation and deletion remove chunks; leftovers of older epochs are collected", async (t) => {
  const { storage, c, pinned, log } = await firstOwner();
  const written = await appendBlocks(c, 0, 40);
  await until("flushed", () => pinned.usedBytes === 0);
  const before = storage.objects.size;
  await c.truncate(seg, 20_000);
  await until("truncated chunks deleted", () => storage.objects.size < before);
  const firstKept = Math.min(...[...storage.objects.keys()].map((n) => Number(/\/(\d{16})-s/.exec(n)![1])));
  t.ok(firstKept > 0 && firstKept <= 20_000, "only chunks wholly below the start offset went");
  t.same(await readAll(c, 20_000), written.subarray(20_000));
  await t.rejects(c.read(seg, 100, 10, 0), { code: "SEGMENT_TRUNCATED" });

  // A chunk a dead owner wrote but never recorded, and one of a newer epoch (in flight elsewhere): only the first goes.
  storage.objects.set("c0/s%2Ft%2F0%2E%23epoch%2E0/0000000099999999-s1-e1", Buffer.from("orphan"));
  storage.objects.set("c0/s%2Ft%2F0%2E%23epoch%2E0/0000000099999999-s1-e9", Buffer.from("newer"));
  c.stop(new ClosedError("moved"));
  const { c: c2 } = recover(storage, log, 2);
  await until("orphan collected", () => !storage.objects.has("c0/s%2Ft%2F0%2E%23epoch%2E0/0000000099999999-s1-e1"));
  t.ok(storage.objects.has("c0/s%2Ft%2F0%2E%23epoch%2E0/0000000099999999-s1-e9"), "a newer epoch's chunk is left alone");
  t.same(await readAll(c2, 20_000), written.subarray(20_000), "referenced chunks were kept");
  await c2.deleteSegment(seg);
  await until("deleted segment's chunks removed", () => storage.objects.size === 1);
  c2.stop(new ClosedError("done"));
});

void t.test("while Tier-2 fails, appends go on and bytes stay pinned; then everything is flushed", async (t) => {
  const { storage, c, pinned, log } = await firstOwner();
  storage.failing = true;
  const written = await appendBlocks(c, 0, 30);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(storage.objects.size, 0, "nothing stored while failing");
  t.ok(pinned.usedBytes >= written.length, "the bytes stay pinned");
  // The log still holds every byte Tier-2 lacks: an owner recovering from it now (fencing the first) reads them all.
  const { c: next, pinned: nextPinned } = recover(storage, log, 2);
  t.same(await readAll(next), written, "the log was not truncated below bytes Tier-2 lacks");
  storage.failing = false;
  await until("flushed once Tier-2 answers again", () => nextPinned.usedBytes === 0, 15_000);
  t.same(await readAll(next), written);
  t.equal(pinned.usedBytes > 0, true, "the fenced owner recorded nothing");
  c.stop(new ClosedError("done"));
  next.stop(new ClosedError("done"));
});

void t.test("a segment deleted and made again never shares a chunk name with its old self; long names stay short", async (t) => {
  const { storage, c, pinned } = await firstOwner();
  const first = await appendBlocks(c, 0, 5);
  await until("flushed", () => pinned.usedBytes === 0);
  const oldNames = [...storage.objects.keys()];
  await c.deleteSegment(seg);
  await c.createSegment(seg);
  const again = await appendBlocks(c, 0, 5);
  t.same(again, first, "the same bytes at the same offsets");
  await until("flushed again and old chunks deleted", () => pinned.usedBytes === 0 && oldNames.every((n) => !storage.objects.has(n)));
  t.ok([...storage.objects.keys()].every((n) => n.includes("-s2-")), "the new segment's chunks carry its new id");
  t.same(await readAll(c), again, "deleting the old chunks took nothing from the new segment");
  c.stop(new ClosedError("done"));
  const long = chunkName(0, `${"a".repeat(255)}/${"b".repeat(255)}/0.#epoch.0`, 7, 0, 3);
  t.ok(long.split("/").every((part) => part.length <= 160), "every part of a chunk name fits a file name");
  t.equal(chunkEpoch(long), 3);
});
