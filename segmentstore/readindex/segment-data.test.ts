// Proves SegmentData's map of a segment's bytes: held slices and Tier-2 chunks never overlap, recording a chunk
// unpins exactly its slices, reads stop where memory stops, a merge shifts slices and chunks, truncation drops whole
// slices and chunks, the oldest held log address is tracked, and gaps finds bytes that are nowhere.
import t from "tap";
import { SegmentData } from "./segment-data.js";

const b = (s: string) => Buffer.from(s);

void t.test("chunks replace held slices; reads go to memory or answer undefined for chunked ranges", async (t) => {
  const d = new SegmentData();
  d.append(b("aaaa"), 10);
  d.append(b("bbbb"), 11);
  d.append(b("cccc"), 12);
  t.equal(d.oldestAddress, 10);
  const run = d.firstHeldRun(8)!;
  t.same({ offset: run.offset, bytes: run.bytes, pieces: run.pieces.map(String) }, { offset: 0, bytes: 8, pieces: ["aaaa", "bbbb"] }, "whole slices, at most the bound");
  t.equal(d.addChunk({ name: "c1", offset: 0, length: 8 }), 8, "its slices are released");
  t.equal(d.heldBytes, 4);
  t.equal(d.oldestAddress, 12);
  t.equal(d.read(2, 100), undefined, "a chunked offset is not in memory");
  t.equal(String(d.read(8, 100)), "cccc");
  t.same(d.chunkAt(5), { chunk: { name: "c1", offset: 0, length: 8 }, next: undefined });
  t.ok(d.overlapsChunk({ name: "x", offset: 7, length: 2 }));
  t.notOk(d.overlapsChunk({ name: "x", offset: 8, length: 4 }));
  t.same(d.gaps(), []);
  d.addChunk({ name: "c2", offset: 8, length: 4 });
  t.equal(d.heldBytes, 0);
  t.equal(d.oldestAddress, Infinity);
  t.equal(d.firstHeldRun(8), undefined);
});

void t.test("merge shifts the source's slices and chunks; truncation drops whole pieces", async (t) => {
  const target = new SegmentData();
  target.append(b("0123"), 1);
  target.addChunk({ name: "t0", offset: 0, length: 4 });
  target.append(b("4567"), 2);
  const source = new SegmentData();
  source.append(b("abcd"), 3);
  source.addChunk({ name: "s0", offset: 0, length: 4 });
  source.append(b("efgh"), 4);
  target.appendFrom(source);
  t.equal(target.length, 16);
  t.equal(source.length, 0);
  t.same(target.chunks.map((c) => [c.name, c.offset]), [["t0", 0], ["s0", 8]]);
  t.equal(String(target.read(4, 100)), "4567", "a read stops where the held run stops");
  t.equal(String(target.read(12, 100)), "efgh");
  t.equal(target.read(9, 1), undefined);
  t.same(target.gaps(), []);
  // Flushing the target's own held run lands between the two chunks.
  target.addChunk({ name: "t4", offset: 4, length: 4 });
  t.same(target.chunks.map((c) => c.name), ["t0", "t4", "s0"]);
  const { released, dropped } = target.truncate(9);
  t.equal(released, 0);
  t.same(dropped.map((c) => c.name), ["t0", "t4"], "chunks wholly below the start go; the straddling one stays");
  t.equal(target.startOffset, 9);
});

void t.test("a segment loaded from a checkpoint has gaps until its chunks are replayed", async (t) => {
  const d = new SegmentData(0, 100, [{ name: "a", offset: 0, length: 40 }]);
  t.same(d.gaps(), [{ from: 40, to: 100 }]);
  d.addChunk({ name: "b", offset: 40, length: 60 });
  t.same(d.gaps(), []);
  d.append(b("xy"), 7);
  t.same(d.gaps(), []);
  t.equal(String(d.read(100, 10)), "xy");
});
