// Proves the AutoScaler loop against fakes of StreamOps, LoadSource and Leadership on a ManualClock: a hot segment
// is split through ops.scale and its parts then sit out the cooldown; only the leader acts; FIXED streams are left
// alone; lost races and failures are skipped without stopping the pass or the loop; passes never overlap; close()
// waits for the pass in progress; bad options are refused.
import t, { type Test } from "tap";
import { ConditionalCheckFailedError, InvalidConfigError, ManualClock, UnavailableError } from "../../common/index.js";
import type { KeyRange, ScaleResponse, ScalingPolicy } from "../../proto/index.js";
import type { CurrentSegment, Leadership, LoadSource, SegmentLoadSample, StreamOps, StreamSummary } from "../control-ops.js";
import { AutoScaler } from "./auto-scaler.js";
import { equalParts } from "./policy.js";

const windowsMs = [2_000, 5_000, 10_000, 20_000];
const cooldownMs = 60_000;
const intervalMs = 1_000;

class FakeStreams implements StreamOps, LoadSource, Leadership {
  leader = true;
  readonly streams: StreamSummary[] = [];
  readonly segments = new Map<string, CurrentSegment[]>();
  readonly loads = new Map<string, SegmentLoadSample>();
  readonly scales: { stream: string; seal: readonly string[]; newRanges: readonly KeyRange[] }[] = [];
  /** Errors the next scale calls throw, in order. */
  readonly scaleFailures: Error[] = [];
  /** When set, scale waits for it (to hold a pass open). */
  gate: Promise<void> | undefined;
  listCalls = 0;
  currentCalls = 0;
  private epoch = 0;
  private nextNumber = 100;

  constructor(private readonly clock: ManualClock) {}

  isLeader(): boolean {
    return this.leader;
  }

  addStream(stream: string, scaling: ScalingPolicy, count: number): CurrentSegment[] {
    this.streams.push({ scope: "s", stream, scaling, retention: { type: "RETENTION_NONE", limit: 0 } });
    const segs = (equalParts({ keyStart: 0, keyEnd: 1 }, count) ?? []).map((r, i) => ({
      range: { segment: `s/${stream}/${i}.#epoch.0`, number: i, epoch: 0, ...r },
      createdAtMs: this.clock.nowMs() - 60 * 60_000,
    }));
    this.segments.set(stream, segs);
    return segs;
  }

  /** Reports `rate` events/s on every window of `segment`, tracked long enough. */
  report(segment: string, rate: number): void {
    this.loads.set(segment, {
      segment,
      eventsPerSec: windowsMs.map(() => rate),
      bytesPerSec: windowsMs.map(() => 0),
      trackedMs: 60 * 60_000,
      windowsMs,
      receivedAtMs: this.clock.nowMs(),
    });
  }

  listActiveStreams(): Promise<StreamSummary[]> {
    this.listCalls++;
    return Promise.resolve([...this.streams]);
  }

  currentSegments(_scope: string, stream: string): Promise<{ epoch: number; segments: CurrentSegment[] }> {
    this.currentCalls++;
    return Promise.resolve({ epoch: this.epoch, segments: [...(this.segments.get(stream) ?? [])] });
  }

  async scale(_scope: string, stream: string, seal: readonly string[], newRanges: readonly KeyRange[]): Promise<ScaleResponse> {
    this.scales.push({ stream, seal, newRanges });
    if (this.gate !== undefined) await this.gate;
    const failure = this.scaleFailures.shift();
    if (failure !== undefined) throw failure;
    this.epoch++;
    const created = newRanges.map((r) => ({
      range: { segment: `s/${stream}/${this.nextNumber}.#epoch.${this.epoch}`, number: this.nextNumber++, epoch: this.epoch, ...r },
      createdAtMs: this.clock.nowMs(),
    }));
    const kept = (this.segments.get(stream) ?? []).filter((s) => !seal.includes(s.range.segment));
    this.segments.set(stream, [...kept, ...created].sort((a, b) => a.range.keyStart - b.range.keyStart));
    return { epoch: this.epoch, segments: created.map((c) => c.range) };
  }

  tailCut(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  truncate(): Promise<void> {
    return Promise.resolve();
  }

  loadReports(): Promise<Map<string, SegmentLoadSample>> {
    return Promise.resolve(new Map(this.loads));
  }
}

const byEvents = (minSegments = 1): ScalingPolicy => ({ type: "BY_EVENT_RATE", minSegments, targetRate: 100, scaleFactor: 4 });

function setup(t: Test) {
  const clock = new ManualClock();
  const fake = new FakeStreams(clock);
  const scaler = new AutoScaler(fake, fake, fake, clock, { intervalMs, cooldownMs });
  t.teardown(() => scaler.close());
  return { clock, fake, scaler };
}

/** Lets promise chains started by timers run to completion (the fakes resolve at once). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

void t.test("a hot segment is split, and its parts sit out the cooldown", async (t) => {
  const { clock, fake, scaler } = setup(t);
  const [hot] = fake.addStream("a", byEvents(), 2);
  fake.report(hot!.range.segment, 300);
  await scaler.tick();
  t.equal(fake.scales.length, 1);
  t.same(fake.scales[0]!.seal, [hot!.range.segment]);
  t.equal(fake.scales[0]!.newRanges.length, 3, "300/s at 100/s target: 3 parts");

  clock.advance(cooldownMs - 1);
  for (const s of fake.segments.get("a")!) fake.report(s.range.segment, 300);
  await scaler.tick();
  t.equal(fake.scales.length, 2, "only the old segment, not the new parts, is split again");
  t.same(fake.scales[1]!.seal, ["s/a/1.#epoch.0"]);
});

void t.test("a controller that is not the leader does nothing", async (t) => {
  const { fake, scaler } = setup(t);
  const [hot] = fake.addStream("a", byEvents(), 2);
  fake.report(hot!.range.segment, 900);
  fake.leader = false;
  await scaler.tick();
  t.equal(fake.listCalls, 0);
  t.equal(fake.scales.length, 0);
});

void t.test("a FIXED stream is never scaled", async (t) => {
  const { fake, scaler } = setup(t);
  const [hot] = fake.addStream("f", { type: "FIXED", minSegments: 4, targetRate: 0, scaleFactor: 0 }, 2);
  fake.report(hot!.range.segment, 900);
  await scaler.tick();
  t.equal(fake.currentCalls, 0, "its segments are not even read");
  t.equal(fake.scales.length, 0);
});

void t.test("failed and lost scales are skipped; the pass and the loop carry on", async (t) => {
  const { clock, fake, scaler } = setup(t);
  const segsA = fake.addStream("a", byEvents(), 3);
  const segsB = fake.addStream("b", byEvents(), 1);
  fake.report(segsA[0]!.range.segment, 900);
  fake.report(segsA[2]!.range.segment, 900);
  fake.report(segsB[0]!.range.segment, 900);
  fake.scaleFailures.push(new UnavailableError("store down"), new ConditionalCheckFailedError("another scale won"));
  scaler.start();
  clock.advance(intervalMs);
  await settle();
  t.same(
    fake.scales.map((s) => s.seal[0]),
    ["s/a/0.#epoch.0", "s/a/2.#epoch.0", "s/b/0.#epoch.0"],
    "every action was tried in the first pass",
  );
  t.equal(fake.segments.get("b")!.length, 4, "the third succeeded");
  clock.advance(intervalMs);
  await settle();
  t.same(
    fake.scales.slice(3).map((s) => s.seal[0]),
    ["s/a/0.#epoch.0", "s/a/2.#epoch.0"],
    "the next pass retries what failed",
  );
  t.equal(fake.segments.get("a")!.length, 1 + 4 + 4);
  t.equal(fake.listCalls, 2);
});

void t.test("passes never overlap, and close() waits for the one in progress", async (t) => {
  const { fake, scaler } = setup(t);
  const [hot] = fake.addStream("a", byEvents(), 1);
  fake.report(hot!.range.segment, 900);
  let open!: () => void;
  fake.gate = new Promise((resolve) => (open = resolve));
  const first = scaler.tick();
  const second = scaler.tick();
  await settle();
  t.equal(fake.listCalls, 1, "the second pass waits for the first");
  let closed = false;
  const closing = scaler.close().then(() => (closed = true));
  await settle();
  t.notOk(closed, "close waits for the pass in progress");
  open();
  await Promise.all([first, second, closing]);
  t.equal(fake.listCalls, 1, "no pass starts after close");
});

void t.test("options are checked", async (t) => {
  const clock = new ManualClock();
  const fake = new FakeStreams(clock);
  t.throws(() => new AutoScaler(fake, fake, fake, clock, { intervalMs: 0 }), InvalidConfigError);
  t.throws(() => new AutoScaler(fake, fake, fake, clock, { cooldownMs: -1 }), InvalidConfigError);
  const defaults = new AutoScaler(fake, fake, fake, clock);
  t.equal(defaults.intervalMs, 10_000);
  t.equal(defaults.cooldownMs, 600_000);
});
