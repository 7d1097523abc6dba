// Proves two rules of EventReader.readNext against an in-memory group state and a scripted segment (each read
// answers every event after its offset): an event is never lost when recording the positions fails (the call raises,
// and the next returns the event), and an event of a segment the reader no longer holds in the latest state (a reset
// landed while it recorded its positions) is never returned; a reader past most of its lease renews before its next
// event and, declared offline meanwhile, raises CLOSED with nothing returned; a newer reader with its id fences it;
// positions are recorded idleRecordMs into an idle spell. Time is a ManualClock; the real group is proven by
// test/reader-group.test.ts and test/reader-liveness.test.ts.
import t from "tap";
import { ManualClock, UnavailableError } from "../../common/index.js";
import { encodeEvents, type Frame, type WireConnection } from "../../proto/index.js";
import { EventReader } from "./event-reader.js";
import type { GroupContext } from "./group-context.js";
import { expire } from "./group-liveness.js";
import { initialState, join, reset, sessionOf, type GroupState } from "./group-state.js";

const seg = "s/t/0.#epoch.0";
const start = [{ stream: "s/t", segments: [{ segment: seg, keyStart: 0, keyEnd: 1, offset: 0 }] }];

const segmentBytes = Buffer.concat(["e0", "e1", "e2"].map((x) => encodeEvents([Buffer.from(x)])));

/** A connection that answers each ReadSegment with every event from its offset on (so the reader has some buffered). */
function connect(): Promise<WireConnection> {
  let id = 0;
  const conn = {
    nextRequestId: () => ++id,
    request: (frame: Frame) => {
      if (frame.type !== "ReadSegment") throw new Error(`unexpected ${frame.type}`);
      // At the tail a real store holds the read (long poll); answering at once would spin the reader.
      if (frame.offset >= segmentBytes.length) return new Promise(() => undefined);
      const data = Buffer.from(segmentBytes.subarray(frame.offset));
      return Promise.resolve({ type: "SegmentRead", requestId: frame.requestId, segment: frame.segment, offset: frame.offset, atTail: true, endOfSegment: false, data });
    },
  } as unknown as WireConnection;
  return Promise.resolve(conn);
}

/**
 * A group context over one in-memory state. `onRecord` runs on each update that moves a recorded
 * offset: it may throw (the update fails), or return a state another client wrote just before;
 * `onUpdate` likewise on every update that changes the state.
 */
function group(onRecord: () => GroupState | undefined, onUpdate: () => GroupState | undefined = () => undefined) {
  const clock = new ManualClock();
  const box = { state: initialState(start) };
  const listeners = new Set<() => void>();
  const sync = {
    get state() {
      return box.state;
    },
    failed: undefined,
    onChange: (listener: () => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    update: (change: (s: GroupState) => { state?: GroupState; result: unknown }) => {
      let out = change(box.state);
      const before = box.state;
      if (out.state !== undefined && (out.state.active.some((a, i) => a.offset !== before.active[i]?.offset) || out.state !== before)) {
        const moved = out.state.active.some((a, i) => a.offset !== before.active[i]?.offset);
        const concurrent = (moved ? onRecord() : undefined) ?? onUpdate();
        if (concurrent !== undefined) {
          // Another client's change landed first: the synchronizer applies this one again on top.
          box.state = concurrent;
          out = change(box.state);
        }
      }
      if (out.state !== undefined && out.state !== box.state) box.state = out.state;
      if (box.state !== before) for (const listener of listeners) listener();
      return Promise.resolve(out.result);
    },
  };
  const ctx = { name: "s/g", sync, lookups: {}, services: { connect }, clock, closed: () => false, state: () => box.state, forget: () => undefined };
  return { clock, box, ctx: ctx as unknown as GroupContext };
}

/** The next event's text, or undefined after a number of calls without one. */
async function nextEvent(reader: EventReader): Promise<string | undefined> {
  for (let i = 0; i < 20; i++) {
    const item = await reader.readNext({ timeoutMs: 0 });
    if (item.type === "event") return Buffer.from(item.data).toString();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return undefined;
}

void t.test("an event is not lost when recording the positions fails", async (t) => {
  let failRecords = false;
  const { clock, ctx } = group(() => {
    if (failRecords) throw new UnavailableError("store unreachable");
    return undefined;
  });
  const reader = new EventReader("r1", ctx);
  t.equal(await nextEvent(reader), "e0");
  clock.advance(2_000); // a record is due
  failRecords = true;
  await t.rejects(nextEvent(reader), { code: "UNAVAILABLE" }, "the failed record is raised");
  failRecords = false;
  t.equal(await nextEvent(reader), "e1", "the event not returned then comes next");
  t.equal(await nextEvent(reader), "e2");
  t.equal(await nextEvent(reader), undefined);
  await reader.close();
});

void t.test("a reset landing while the reader records returns no event of the old generation", async (t) => {
  let resetOnRecord = false;
  const g = group(() => {
    if (!resetOnRecord) return undefined;
    resetOnRecord = false;
    // Another client resets the group back to the start while this record is on its way.
    return reset(g.box.state, start);
  });
  const reader = new EventReader("r1", g.ctx);
  t.equal(await nextEvent(reader), "e0");
  g.clock.advance(2_000);
  resetOnRecord = true;
  const got: (string | undefined)[] = [];
  for (let i = 0; i < 3; i++) got.push(await nextEvent(reader));
  t.same(got, ["e0", "e1", "e2"], "read again from the reset position, nothing of the dropped slot");
  t.equal(g.box.state.generation, 1);
  await reader.close();
});

/** Lets pending promise reactions and immediates run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

void t.test("a reader past most of its lease renews before its next event; declared offline meanwhile, it raises CLOSED", async (t) => {
  let expireOnUpdate = false;
  const g = group(
    () => undefined,
    () => {
      if (!expireOnUpdate) return undefined;
      expireOnUpdate = false;
      // Another reader saw r1 silent for its whole lease and declared it offline just before this update.
      const session = sessionOf(g.box.state, "r1")!;
      return expire(g.box.state, "r1", session.incarnation, session.beat);
    },
  );
  const reader = new EventReader("r1", g.ctx, { timeoutMs: 3_000 });
  t.equal(await nextEvent(reader), "e0");
  g.clock.advance(2_100);
  t.equal(await nextEvent(reader), "e1", "past two thirds of the lease: renewed, then the event");
  t.equal(sessionOf(g.box.state, "r1")!.beat, 1, "the renewal raised its beat");
  g.clock.advance(2_100);
  expireOnUpdate = true;
  await t.rejects(nextEvent(reader), { code: "CLOSED", message: /declared offline.*lease of 3000 ms/ }, "the renewal finds it declared offline");
  await t.rejects(reader.readNext({ timeoutMs: 0 }), { code: "CLOSED" }, "and it stays so");
  t.same(g.box.state.readers, [], "r1 is not online");
  t.equal(g.box.state.active[0]!.offset, 6, "its segment went back at the position recorded with its last renewal, after e0 (e1 was returned after it: at least once)");
  await reader.close();
});

void t.test("a newer reader with the same id fences the older: CLOSED, and closing the older leaves the newer online", async (t) => {
  const g = group(() => undefined);
  const older = new EventReader("r1", g.ctx);
  t.equal(await nextEvent(older), "e0");
  g.box.state = join(g.box.state, "r1", "newer");
  await t.rejects(nextEvent(older), { code: "CLOSED", message: /newer reader with the same id/ });
  await older.close();
  t.same(g.box.state.readers, ["r1"]);
  t.equal(sessionOf(g.box.state, "r1")!.incarnation, "newer", "the newer incarnation is still online");
});

void t.test("positions are recorded idleRecordMs into an idle spell, while readNext waits", async (t) => {
  const g = group(() => undefined);
  const reader = new EventReader("r1", g.ctx);
  for (const want of ["e0", "e1", "e2"]) t.equal(await nextEvent(reader), want);
  t.equal(g.box.state.active[0]!.offset, 6, "recorded once, after e0 (the first record is due at once), not since: under a second of reading");
  const waiting = reader.readNext({ timeoutMs: 5_000 });
  await settle();
  g.clock.advance(250);
  await settle();
  t.equal(g.box.state.active[0]!.offset, segmentBytes.length, "recorded at the end of the last event returned, 250 ms into the idle spell");
  g.clock.advance(5_000);
  t.same(await waiting, { type: "timeout" });
  await reader.close();
});
