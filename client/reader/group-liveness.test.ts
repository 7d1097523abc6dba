// Proves the reader identity and liveness transitions on plain values, time given as numbers (no I/O, no sleeping): a
// newer reader with the same id takes over the segments at their recorded positions and fences the older one (its
// changes no longer apply); renewals record positions and raise the beat; a reader is declared silent only after a
// whole lease of this observer's own time without a new beat, expiry is conditional on the beat seen (a renewal that
// lands first, or another observer's expiry, makes it a no-op) and gives the segments back at their recorded offsets;
// the group's liveness loop (group-heartbeat.ts, on a ManualClock) renews its own readers and expires a silent other.
import t from "tap";
import { ManualClock } from "../../common/index.js";
import { GroupHeartbeat } from "./group-heartbeat.js";
import { decodeState } from "./group-config.js";
import { BeatWatch, asIncarnation, expire, isCurrent, renew } from "./group-liveness.js";
import { acquire, beginCheckpoint, initialState, join, leave, recordPositions, sessionOf, type GroupState } from "./group-state.js";

const seg = (n: number) => `s/t/${n}.#epoch.0`;

function group(count: number, timeoutMs = 3_000): GroupState {
  const segments = [...Array(count).keys()].map((i) => ({ segment: seg(i), keyStart: i / count, keyEnd: (i + 1) / count, offset: 0 }));
  return initialState([{ stream: "s/t", segments }], timeoutMs);
}

void t.test("a newer reader with the same id takes over and fences the older", async (t) => {
  let s = join(group(2), "a", "old");
  s = acquire(s, "a");
  s = recordPositions(s, "a", { [seg(0)]: 40, [seg(1)]: 70 });
  t.same(sessionOf(s, "a"), { reader: "a", incarnation: "old", beat: 0, timeoutMs: 3_000 }, "joined with the group's lease");
  s = join(s, "a", "new", 5_000);
  t.same(s.readers, ["a"], "still one reader a");
  t.same(sessionOf(s, "a"), { reader: "a", incarnation: "new", beat: 0, timeoutMs: 5_000 }, "the newer incarnation with its own lease");
  t.same(
    s.active.map((a) => [a.owner, a.offset]),
    [
      ["a", 40],
      ["a", 70],
    ],
    "it holds the segments at their recorded positions",
  );
  t.notOk(isCurrent(s, "a", "old"));
  t.ok(isCurrent(s, "a", "new"));
  t.equal(renew(s, "a", "old", { [seg(0)]: 90 }), s, "the older one's position record no longer applies");
  t.equal(
    asIncarnation(s, "a", "old", (x) => leave(x, "a", { [seg(0)]: 90 })),
    s,
    "nor its leave: closing the fenced reader does not drop the newer one",
  );
  t.equal(join(s, "a", "new"), s, "joining again as the same incarnation changes nothing");
  const left = asIncarnation(s, "a", "new", (x) => leave(x, "a"));
  t.same(left.readers, []);
  t.same(left.sessions, [], "a leaving reader's session goes with it");
});

void t.test("renew records positions of owned segments and raises the beat", async (t) => {
  let s = join(join(group(2), "a", "a1"), "b", "b1");
  s = acquire(acquire(s, "a"), "b");
  const mine = s.active.find((a) => a.owner === "a")!.segment;
  const theirs = s.active.find((a) => a.owner === "b")!.segment;
  s = renew(s, "a", "a1", { [mine]: 12, [theirs]: 99 });
  t.equal(sessionOf(s, "a")!.beat, 1);
  t.equal(sessionOf(s, "b")!.beat, 0);
  t.equal(s.active.find((a) => a.segment === mine)!.offset, 12);
  t.equal(s.active.find((a) => a.segment === theirs)!.offset, 0, "a segment it does not own is not recorded");
  t.equal(sessionOf(renew(s, "a", "a1", {}), "a")!.beat, 2, "a renewal without moved positions still beats");
});

void t.test("silence is measured by the observer's own clock; expiry is conditional and happens once", async (t) => {
  let s = join(join(group(2, 3_000), "a", "a1"), "b", "b1");
  s = acquire(acquire(s, "a"), "b");
  s = renew(s, "a", "a1", Object.fromEntries(s.active.filter((x) => x.owner === "a").map((x) => [x.segment, 25])));
  const watch = new BeatWatch();
  watch.observe(s, 10_000);
  t.same(watch.silent(s, 13_000), [], "not silent before a whole lease has passed");
  // b renews at 12 s; a stays silent.
  s = renew(s, "b", "b1", {});
  watch.observe(s, 12_000);
  const silent = watch.silent(s, 13_001);
  t.same(
    silent.map((x) => x.reader),
    ["a"],
    "a is silent after a lease of this observer's time; b renewed",
  );
  t.same(watch.silent(s, 13_001, (x) => x.reader === "a"), [], "the observer's own readers are skipped");
  const a = silent[0]!;
  // A renewal of a that lands before the expiry makes the expiry a no-op.
  const renewed = renew(s, "a", "a1", {});
  t.equal(expire(renewed, a.reader, a.incarnation, a.beat), renewed, "a renewed meanwhile: not expired");
  const expired = expire(s, a.reader, a.incarnation, a.beat);
  t.same(expired.readers, ["b"]);
  t.same(
    expired.active.filter((x) => x.owner === null).map((x) => x.offset),
    [25],
    "its segment goes back at its recorded position",
  );
  t.equal(expire(expired, a.reader, a.incarnation, a.beat), expired, "a second observer's expiry is a no-op");
  t.equal(expire(join(expired, "a", "a2"), a.reader, a.incarnation, a.beat).readers.length, 2, "nor does it touch a newer reader a");
  t.notOk(isCurrent(expired, "a", "a1"), "the expired reader is no longer current: its next change fails and it is fenced");
  watch.observe(expired, 14_000);
  t.same(watch.silent(expired, 60_000, (x) => x.reader === "b"), [], "a reader that left is forgotten");
});

void t.test("a reader without a lease never expires; a newcomer's beat starts its silence when first seen", async (t) => {
  let s = join(join(group(1, 0), "a", "a1"), "b", "b1", 3_000);
  const watch = new BeatWatch();
  watch.observe(s, 0);
  t.same(
    watch.silent(s, 1_000_000).map((x) => x.reader),
    ["b"],
    "a (lease 0) is never silent",
  );
  s = join(s, "b", "b2", 3_000);
  watch.observe(s, 1_000_000);
  t.same(watch.silent(s, 1_002_000), [], "a new incarnation is fresh");
});

void t.test("an expired reader waited for by a checkpoint counts as having reached it", async (t) => {
  let s = join(join(group(2), "a", "a1"), "b", "b1");
  s = acquire(acquire(s, "a"), "b");
  s = beginCheckpoint(s, "cp").state;
  s = expire(s, "a", "a1", 0);
  t.same(s.checkpoint?.waiting, ["b"], "only b is waited for");
});

void t.test("a state record without sessions (an older client's) decodes with none and the default lease", async (t) => {
  const old = { ...join(group(1), "a", "a1") } as Partial<GroupState>;
  delete old.sessions;
  delete old.readerTimeoutMs;
  const s = decodeState(Buffer.from(JSON.stringify(old)));
  t.same(s.sessions, []);
  t.equal(s.readerTimeoutMs, 30_000);
  t.notOk(isCurrent(s, "a", "a1"), "a reader of the older client has no incarnation");
  t.same(new BeatWatch().silent(s, 1e12), [], "and no lease: it never expires");
});

void t.test("the group's liveness loop renews its own readers' leases and declares a silent other reader offline once", async (t) => {
  type Sync = ConstructorParameters<typeof GroupHeartbeat>[1];
  const clock = new ManualClock();
  let s = join(join(group(2), "mine", "m1"), "other", "o1");
  s = acquire(acquire(s, "mine"), "other");
  const listeners = new Set<() => void>();
  let writes = 0;
  let outage = false;
  let contactMs = clock.monotonicMs();
  const sync = {
    get state() {
      return s;
    },
    get lastContactMs() {
      if (!outage) contactMs = clock.monotonicMs();
      return contactMs;
    },
    failed: undefined,
    onChange: (l: () => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    update: async (change: (x: GroupState) => { state?: GroupState; result: unknown }) => {
      // During an outage an update waits (its requests retried) until the store answers again.
      while (outage) await new Promise((resolve) => setImmediate(resolve));
      const out = change(s);
      if (out.state !== undefined && out.state !== s) {
        s = out.state;
        writes++;
        for (const l of listeners) l();
      }
      return out.result;
    },
  } as unknown as Sync;
  let sentMs = clock.monotonicMs();
  const holder = {
    id: "mine",
    incarnation: "m1",
    timeoutMs: 3_000,
    renewalDue: (nowMs: number) => nowMs - sentMs >= 1_000,
    positionsIn: () => ({}),
    renewed: (at: number) => (sentMs = at),
  };
  const loop = new GroupHeartbeat("s/g", sync, clock, () => [holder]);
  const settle = async () => {
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  for (let ms = 0; ms < 3_000; ms += 500) {
    clock.advance(500);
    await settle();
  }
  t.equal(sessionOf(s, "mine")!.beat, 3, "its own reader renewed every third of the lease (at 1, 2 and 3 s)");
  t.same(s.readers, ["mine", "other"], "the other reader is not declared offline within its lease");
  for (let ms = 0; ms < 1_000; ms += 500) {
    clock.advance(500);
    await settle();
  }
  t.same(s.readers, ["mine"], "once silent for longer than its lease, the other reader is declared offline");
  t.equal(s.active.filter((a) => a.owner === null).length, 1, "its segment is unassigned, for the group to take");
  t.equal(writes, 5, "a renewal each second (4) and one expiry (at 3.5 s): no other writes");

  // A store outage longer than contactGapMsMax: nobody can renew (or expire; the loop's own renewal waits through it),
  // and nobody is expired for it after.
  s = join(s, "third", "t1");
  const advance = async (ms: number) => {
    for (let done = 0; done < ms; done += 500) {
      clock.advance(500);
      await settle();
    }
  };
  await advance(1_000);
  outage = true;
  await advance(10_000);
  t.same(s.readers, ["mine", "third"], "during the outage no one is declared offline");
  outage = false;
  await advance(2_500);
  t.same(s.readers, ["mine", "third"], "nor in the first lease after it: silences started again when the store answered");
  await advance(1_500);
  t.same(s.readers, ["mine"], "a reader still silent a whole lease after the outage is declared offline");
  await loop.close();
});
