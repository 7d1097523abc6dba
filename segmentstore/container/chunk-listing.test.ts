// Proves GetChunks' container side: the chunks listed for a segment are exactly those its metadata references, in
// offset order from the one holding the asked offset, bounded by maxCount and chunksListedMax; their bytes are the
// segment's bytes at their offsets; held bytes are not listed; truncation drops chunks below the start and refuses
// offsets below it; bad arguments are typed errors. A container with Tier-2 in memory and an orphan object is used.
import t from "tap";
import { ClosedError, chunksListedMax } from "../../common/index.js";
import { encodeEvents } from "../../proto/index.js";
import { MemoryChunkStorage, MemoryLog, tieringServices, until } from "../writer/tiering-test-support.js";
import { SegmentContainer } from "./segment-container.js";

const seg = "s/t/0.#epoch.0";
const writer = Buffer.alloc(16, 5);

void t.test("chunks listed from metadata: order, coverage, bounds, truncation and errors", async (t) => {
  const storage = new MemoryChunkStorage();
  // Small chunks (at most 8 KiB), flushed at once: many chunks for a few hundred KiB.
  const { services, pinned } = tieringServices(storage, { flushBytes: 4096, flushAgeMs: 10, chunkBytesMax: 8192 });
  const c = new SegmentContainer(0, services);
  c.start(new MemoryLog(1));
  t.teardown(() => c.stop(new ClosedError("done")));
  await c.createSegment(seg);
  const blocks: Buffer[] = [];
  for (let i = 0; i < 400; i++) {
    const block = encodeEvents([Buffer.alloc(1500, i % 251)]);
    blocks.push(block);
    await c.append(seg, writer, i, 1, block);
  }
  const written = Buffer.concat(blocks);
  await until("every byte in Tier-2", () => pinned.usedBytes === 0);
  // An object no metadata references (as an older owner's leftover would be) must never be listed.
  await storage.create("c0/orphan/0000000000000000-s1-e0", [Buffer.from("not segment bytes")]);

  const all: { name: string; offset: number; length: number }[] = [];
  for (let at = 0; at < written.length; ) {
    const page = c.chunks(seg, at, 1000);
    t.ok(page.length <= chunksListedMax, `a listing holds at most chunksListedMax (${page.length})`);
    t.ok(page.length > 0, `chunks listed from ${at}`);
    all.push(...page);
    const last = page[page.length - 1]!;
    at = last.offset + last.length;
  }
  t.ok(all.length > chunksListedMax, `${all.length} chunks: more than one listing`);
  let expected = 0;
  for (const k of all) {
    t.equal(k.offset, expected, `chunk ${k.name} starts where the previous ended`);
    t.same(await storage.read(k.name, 0, k.length), written.subarray(k.offset, k.offset + k.length), `chunk ${k.name} holds the segment's bytes at its offset`);
    expected = k.offset + k.length;
  }
  t.equal(expected, written.length, "together they cover the segment");
  t.notOk(all.some((k) => k.name.includes("orphan")), "the orphan is not listed");

  const mid = all[3]!.offset + 10;
  t.same(c.chunks(seg, mid, 2), [all[3], all[4]], "from inside a chunk: that chunk first, maxCount honoured");
  t.same(c.chunks(seg, all[3]!.offset, 1), [all[3]], "from a chunk's first byte");
  t.same(c.chunks(seg, written.length, 10), [], "at the end: nothing");

  // Bytes not yet flushed are held in memory, not listed.
  const { services: slow, pinned: slowPinned } = tieringServices(storage, { flushBytes: 1 << 20, flushAgeMs: 3_600_000 });
  const held = new SegmentContainer(0, slow);
  held.start(new MemoryLog(1));
  t.teardown(() => held.stop(new ClosedError("done")));
  await held.createSegment(seg);
  await held.append(seg, writer, 0, 1, encodeEvents([Buffer.alloc(100)]));
  t.ok(slowPinned.usedBytes > 0, "held in memory");
  t.same(held.chunks(seg, 0, 10), [], "held bytes are not in any chunk");

  // Truncation: offsets below the start are refused; chunks wholly below it are no longer listed.
  const cut = all[5]!.offset + 1;
  await c.truncate(seg, cut);
  t.throws(() => c.chunks(seg, 0, 10), { code: "SEGMENT_TRUNCATED" });
  t.same(c.chunks(seg, cut, 1), [all[5]], "the chunk straddling the start is still listed");
  t.throws(() => c.chunks(seg, written.length + 1, 10), { code: "INVALID_ARGUMENT" }, "past the end");
  t.throws(() => c.chunks(seg, cut, 0), { code: "INVALID_ARGUMENT" }, "maxCount 0");
  t.throws(() => c.chunks("s/t/9.#epoch.0", 0, 10), { code: "NO_SUCH_SEGMENT" });
});
