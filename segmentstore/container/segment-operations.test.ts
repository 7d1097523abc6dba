// Proves the container's segment operations beyond create and append: seal, truncate, merge, delete, attributes and
// conditional appends are validated against the pending state (a refused operation logs nothing and changes nothing),
// applied only once durable, and rebuilt exactly by replay; metadata checkpoints are written at start and on their
// thresholds, checked against the replayed state, and a checkpoint that disagrees with the log is DATA_CORRUPTION.
import t from "tap";
import { ClosedError, ManualClock } from "../../common/index.js";
import { SegmentContainer } from "./segment-container.js";
import { encodeOperation } from "./operations.js";
import { ManualLog, containerServices, created, ev, make, seg, tick, writer } from "./container-test-support.js";

/** Runs `op`, completing the log once it has written its entry. */
async function durable<T>(log: ManualLog, op: Promise<T>): Promise<T> {
  await tick();
  log.completeAll();
  return op;
}

const other = "s/t/1.#epoch.0";
const attr = (n: number) => Buffer.alloc(16, n);

void t.test("seal: idempotent, answers the length, refuses appends, ends tail reads", async (t) => {
  const { c, log } = make();
  await created(c, log);
  await durable(log, c.append(seg, writer, 0, 1, ev("abc")));
  const waiting = c.read(seg, 7, 100, 60_000);
  t.equal(await durable(log, c.seal(seg)), 7);
  const r = await waiting;
  t.equal(r.endOfSegment, true, "a tail reader learns of the seal at once");
  t.throws(() => c.append(seg, writer, 1, 1, ev("x")), { code: "SEGMENT_SEALED" });
  t.equal(await durable(log, c.seal(seg)), 7, "a second seal answers the same length");
  t.equal(c.info(seg).sealed, true);
  // A resend of a stored block is still acknowledged (it adds nothing).
  t.same(await durable(log, c.append(seg, writer, 0, 1, ev("abc"))), { eventNumber: 0, segmentLength: 7 });
});

void t.test("truncate: moves the start offset, frees pinned bytes, refuses offsets past the end", async (t) => {
  const { c, log, cache } = make();
  await created(c, log);
  await durable(log, c.append(seg, writer, 0, 1, ev("0123456789")));
  await durable(log, c.append(seg, writer, 1, 1, ev("abcdefghij")));
  t.equal(cache.usedBytes, 28);
  await t.rejects(c.truncate(seg, 29), { code: "INVALID_ARGUMENT" });
  t.equal(log.pending, 0, "a refused truncate logs nothing");
  t.equal(await durable(log, c.truncate(seg, 14)), 14);
  t.equal(cache.usedBytes, 14, "the first append's slice is released");
  await t.rejects(c.read(seg, 0, 10, 0), { code: "SEGMENT_TRUNCATED" });
  t.same((await c.read(seg, 14, 100, 0)).data, ev("abcdefghij"));
  t.equal(await durable(log, c.truncate(seg, 3)), 14, "below the start offset it changes nothing");
  t.equal(c.info(seg).startOffset, 14);
});

void t.test("merge: appends the source's bytes to the target and deletes the source", async (t) => {
  const { c, log, cache } = make();
  await created(c, log);
  await created(c, log, other);
  await durable(log, c.append(seg, writer, 0, 1, ev("t1")));
  const w2 = attr(9);
  await durable(log, c.append(other, w2, 1, 2, ev("s1", "s2")));
  t.equal(await durable(log, c.merge(seg, other)), 18);
  t.same((await c.read(seg, 0, 100, 0)).data, ev("t1", "s1", "s2"));
  await t.rejects(c.read(other, 0, 10, 0), { code: "NO_SUCH_SEGMENT" });
  t.equal(cache.usedBytes, 18, "bytes moved, not copied or lost from the count");
  await t.rejects(c.merge(seg, seg), { code: "INVALID_ARGUMENT" }, "not into itself");
  await created(c, log, other);
  await durable(log, c.append(other, w2, 0, 1, ev("q")));
  await durable(log, c.truncate(other, 2));
  await t.rejects(c.merge(seg, other), { code: "INVALID_ARGUMENT" }, "a truncated source cannot be merged");
  await durable(log, c.seal(seg));
  await t.rejects(c.merge(seg, other), { code: "SEGMENT_SEALED" }, "nor into a sealed target");
  t.equal(log.pending, 0, "refused merges log nothing");
});

void t.test("delete: the segment and its bytes are gone; operations queued after it are refused", async (t) => {
  const { c, log, cache } = make();
  await created(c, log);
  await durable(log, c.append(seg, writer, 0, 1, ev("gone")));
  const waiting = c.read(seg, 8, 100, 60_000);
  const deleting = c.deleteSegment(seg);
  t.throws(() => c.append(seg, writer, 1, 1, ev("x")), { code: "NO_SUCH_SEGMENT" }, "refused while the delete is queued");
  await durable(log, deleting);
  await t.rejects(waiting, { code: "NO_SUCH_SEGMENT" }, "a tail reader learns the segment is gone");
  t.equal(cache.usedBytes, 0);
  await t.rejects(c.deleteSegment(seg), { code: "NO_SUCH_SEGMENT" });
});

void t.test("attributes: conditional updates are all or nothing, and readers see durable values only", async (t) => {
  const { c, log } = make();
  await created(c, log);
  const a = attr(1);
  const b = attr(2);
  const first = c.updateAttributes(seg, [{ id: a, value: 5, compare: true, expected: -1 }]);
  t.same(c.getAttributes(seg, [a]), [-1], "not durable yet");
  await durable(log, first);
  t.same(c.getAttributes(seg, [a, b]), [5, -1]);
  await t.rejects(
    c.updateAttributes(seg, [
      { id: b, value: 1, compare: false, expected: -1 },
      { id: a, value: 6, compare: true, expected: 4 },
    ]),
    { code: "CONDITIONAL_CHECK_FAILED" },
  );
  t.equal(log.pending, 0);
  t.same(c.getAttributes(seg, [a, b]), [5, -1], "the failed update changed nothing, b included");
  // Compares see accepted updates that are not yet durable, so two racing updaters cannot both win.
  const one = c.updateAttributes(seg, [{ id: a, value: 6, compare: true, expected: 5 }]);
  await t.rejects(c.updateAttributes(seg, [{ id: a, value: 7, compare: true, expected: 5 }]), { code: "CONDITIONAL_CHECK_FAILED" });
  await durable(log, one);
  await durable(log, c.updateAttributes(seg, [{ id: a, value: -1, compare: false, expected: -1 }]));
  t.same(c.getAttributes(seg, [a]), [-1], "-1 removes");
  await t.rejects(c.updateAttributes(seg, [{ id: Buffer.alloc(3), value: 1, compare: false, expected: -1 }]), { code: "INVALID_ARGUMENT" });
  await t.rejects(c.updateAttributes(seg, [{ id: b, value: -5, compare: false, expected: -1 }]), { code: "INVALID_ARGUMENT" });
});

void t.test("conditional append: only at the expected offset, counting accepted appends; a stale offset writes nothing", async (t) => {
  const { c, log } = make();
  await created(c, log);
  const w1 = attr(7);
  const w2 = attr(8);
  const a = c.append(seg, w1, 0, 1, ev("one"), 0);
  // The pending length already counts `a`: a second writer racing at offset 0 loses.
  t.throws(() => c.append(seg, w2, 0, 1, ev("two"), 0), { code: "CONDITIONAL_CHECK_FAILED" });
  const b = c.append(seg, w2, 0, 1, ev("two"), 7);
  await durable(log, Promise.all([a, b]));
  t.throws(() => c.append(seg, w1, 1, 1, ev("stale"), 7), { code: "CONDITIONAL_CHECK_FAILED" });
  t.equal(log.pending, 0);
  t.same((await c.read(seg, 0, 100, 0)).data, ev("one", "two"));
  // A resend of a stored conditional append is acknowledged, not checked again.
  t.same(await durable(log, c.append(seg, w1, 0, 1, ev("one"), 0)), { eventNumber: 0, segmentLength: 14 });
});

void t.test("checkpoints: written at start and by threshold; replay through them rebuilds the same state", async (t) => {
  const clock = new ManualClock();
  const { services } = containerServices(clock);
  services.checkpoints.checkpointOps = 5;
  const c = new SegmentContainer(0, services);
  const log = new ManualLog();
  c.start(log);
  await created(c, log);
  await created(c, log, other);
  const a = attr(3);
  for (let i = 0; i < 12; i++) await durable(log, c.append(i % 2 === 0 ? seg : other, writer, Math.floor(i / 2), 1, ev(`e${i}`)));
  await durable(log, c.updateAttributes(seg, [{ id: a, value: 42, compare: false, expected: -1 }]));
  await durable(log, c.truncate(other, 5));
  await durable(log, c.seal(seg));
  // Make sure a checkpoint sits near the end of the log, after the attribute, seal and truncate.
  clock.advance(3_600_000);
  await durable(log, c.append(other, writer, 6, 1, ev("last")));
  t.ok(c.checkpointsWritten >= 3, `${c.checkpointsWritten} checkpoints written`);

  const r = new SegmentContainer(0, containerServices(new ManualClock()).services);
  log.entries.forEach((e, i) => r.replay(i, e));
  t.equal(r.checkpointsLoaded, c.checkpointsWritten, "every complete checkpoint was loaded and matched the replay");
  for (const name of [seg, other]) {
    const { lastModifiedMs: _x, ...want } = c.info(name);
    const { lastModifiedMs: _y, ...got } = r.info(name);
    t.same(got, want, `${name}: start, length, seal`);
    t.same((await r.read(name, want.startOffset, 1000, 0)).data, (await c.read(name, want.startOffset, 1000, 0)).data);
    t.equal(r.lastEventNumber(name, writer), c.lastEventNumber(name, writer));
  }
  t.same(r.getAttributes(seg, [a]), [42]);
});

void t.test("a checkpoint that disagrees with the log is DATA_CORRUPTION; a torn one is ignored", async (t) => {
  const { c, log } = make();
  await created(c, log);
  await durable(log, c.append(seg, writer, 0, 1, ev("abc")));
  const lie = Buffer.concat([
    ...encodeOperation({ kind: "CheckpointBegin", segmentCount: 1, nextSegmentId: 2 }),
    ...encodeOperation({ kind: "CheckpointSegment", segmentId: 1, name: seg, startOffset: 0, length: 99, sealed: false, lastModifiedMs: 0, writers: [], attributes: [] }),
    ...encodeOperation({ kind: "CheckpointEnd", segmentCount: 1 }),
  ]);
  const r = new SegmentContainer(0, containerServices(new ManualClock()).services);
  log.entries.forEach((e, i) => r.replay(i, e));
  t.throws(() => r.replay(99, lie), { code: "DATA_CORRUPTION" });

  const torn = Buffer.concat(encodeOperation({ kind: "CheckpointBegin", segmentCount: 1, nextSegmentId: 2 }));
  const r2 = new SegmentContainer(0, containerServices(new ManualClock()).services);
  log.entries.forEach((e, i) => r2.replay(i, e));
  r2.replay(100, torn);
  r2.replay(101, log.entries[log.entries.length - 1]!);
  t.equal(r2.checkpointsLoaded, 1, "only the start checkpoint; the torn one is dropped when other operations follow");
});

void t.test("load statistics count live appends per segment, not replayed ones", async (t) => {
  const { c, log, stats, clock } = make();
  await created(c, log);
  for (let i = 0; i < 10; i++) {
    clock.advance(100);
    await durable(log, c.append(seg, writer, i, 1, ev("0123456789")));
  }
  const load = stats.get(seg);
  t.equal(load?.events, 10);
  t.equal(load?.bytes, 140);
  t.ok((load?.eventsPerSec[0] ?? 0) > 0);
  const fresh = containerServices(new ManualClock());
  const r = new SegmentContainer(0, fresh.services);
  log.entries.forEach((e, i) => r.replay(i, e));
  t.equal(fresh.stats.size, 0, "recovery does not count as load");
  await durable(log, c.deleteSegment(seg));
  t.equal(stats.get(seg), undefined, "a deleted segment is forgotten");
});

void t.test("a stopped container gives its pinned bytes back to the store's count", async (t) => {
  const { c, log, cache } = make();
  await created(c, log);
  await durable(log, c.append(seg, writer, 0, 1, ev("0123456789")));
  t.equal(cache.usedBytes, 14);
  t.throws(() => c.releaseMemory(), /stopped container/, "not while serving");
  c.stop(new ClosedError("moved"));
  c.releaseMemory();
  t.equal(cache.usedBytes, 0, "a retake that replays the log counts its bytes once, not twice");
});
