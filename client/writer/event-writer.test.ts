// Proves the writer's bounds do not leak when a segment writer fails: every write to a failed segment rejects at once
// with the typed error, the in-flight byte budget is given back, and ready()/flush() settle instead of hanging. Then,
// against scripted store connections: after WRONG_HOST (on set-up or on an append) the next connect asks for a fresh
// endpoint (the container moved) and resends only what the new owner lacks, while an error that says nothing about
// placement (OVERLOADED) retries on the cached one. Against a scripted store and controller (FakeCluster), the writer
// follows scaling: after SEGMENT_SEALED it holds events, waits for the successors, learns from a set-up what the
// sealed segment kept, and sends only the rest to the successors by key position; per key the stored order is the
// write order and each event is stored once, across a split, a merge and a chain of seals; a sealed stream fails the
// rest STREAM_SEALED, and successors never named fail them UNAVAILABLE after the bound (a manual clock). Last, the
// batching, pipelining and bounds of item 1 (one block per turn, the in-flight bound, the event size bound).
import t from "tap";
import { EventTooLargeError, ManualClock, NoSuchSegmentError, OverloadedError, SegmentSealedError, WriterNotSetUpError, WrongHostError, eventBytesMax, keyPosition, writerInflightBytesMax, writerSealWaitMsMax, type SluiceError } from "../../common/index.js";
import type { Frame, SegmentRange, WireConnection } from "../../proto/index.js";
import { EventWriter, type WriterServices } from "./event-writer.js";

/** Controller answers for writers whose stream never scales. */
const noScaling = { successors: () => Promise.resolve([]), streamSealed: () => Promise.resolve(false) };

void t.test("writes to a failed segment reject without consuming the in-flight budget", async (t) => {
  const writer = new EventWriter("s/t", {
    ...noScaling,
    currentSegments: () => Promise.resolve([{ segment: "s/t/0.#epoch.0", number: 0, epoch: 0, keyStart: 0, keyEnd: 1 }]),
    connect: () => Promise.reject(new NoSuchSegmentError("segment s/t/0.#epoch.0 does not exist")),
  });
  const event = Buffer.alloc(1024 * 1024);
  await t.rejects(writer.write(event), { code: "NO_SUCH_SEGMENT" });
  // Far more than the in-flight bound: each must fail fast, none may wait for acks that never come.
  const count = Math.ceil((2 * writerInflightBytesMax) / event.length);
  const results = await Promise.allSettled(Array.from({ length: count }, () => writer.write(event)));
  t.equal(results.filter((r) => r.status === "rejected").length, count, "every write rejected");
  const ready = await Promise.race([writer.ready().then(() => "ready"), new Promise((r) => setTimeout(() => r("hung"), 2000))]);
  t.equal(ready, "ready", "ready() resolves: the budget was given back");
  await t.rejects(writer.flush(), { code: "NO_SUCH_SEGMENT" }, "flush reports the failure");
});

/**
 * A scripted segment store connection: SetupAppend answers `setup` (a last event number, or an error the store
 * raises), and each AppendBlock is acked (DataAppended) on the next tick.
 */
function fakeStore(setup: () => number | Error, append: (lastEventNumber: number) => "ack" | SluiceError = () => "ack") {
  const listeners = new Set<(frame: Frame) => void>();
  const appended: number[] = [];
  let id = 0;
  const conn = {
    closed: false,
    nextRequestId: () => ++id,
    subscribe(listener: (frame: Frame) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onClose: () => () => undefined,
    request(frame: Frame) {
      if (frame.type !== "SetupAppend") throw new Error(`unexpected ${frame.type}`);
      const answer = setup();
      if (answer instanceof Error) return Promise.reject(answer);
      return Promise.resolve({ type: "AppendSetup", requestId: frame.requestId, writerId: frame.writerId, segment: frame.segment, lastEventNumber: answer });
    },
    send(frame: Frame) {
      if (frame.type !== "AppendBlock") throw new Error(`unexpected ${frame.type}`);
      const outcome = append(frame.lastEventNumber);
      if (outcome === "ack") appended.push(frame.lastEventNumber);
      const ack: Frame =
        outcome === "ack"
          ? { type: "DataAppended", requestId: frame.requestId, writerId: frame.writerId, segment: frame.segment, eventNumber: frame.lastEventNumber, segmentLength: 0 }
          : { type: "Error", requestId: frame.requestId, errorId: outcome.wireId, segment: frame.segment, message: outcome.message };
      setImmediate(() => {
        for (const l of listeners) l(ack);
      });
      return true;
    },
  };
  return { conn: conn as unknown as WireConnection, appended };
}

void t.test("after WRONG_HOST the writer asks for a fresh endpoint and writes there", async (t) => {
  const segment = "s/t/0.#epoch.0";
  const oldStore = fakeStore(() => new WrongHostError(`${segment} is not served here`));
  const newStore = fakeStore(() => -1);
  const connects: { refresh: boolean }[] = [];
  let moved = false;
  const writer = new EventWriter("s/t", {
    ...noScaling,
    currentSegments: () => Promise.resolve([{ segment, number: 0, epoch: 0, keyStart: 0, keyEnd: 1 }]),
    connect: (_segment, options) => {
      const refresh = options?.refresh === true;
      connects.push({ refresh });
      // The controller learns of the new owner once asked again; the cached answer is the old store.
      if (refresh) moved = true;
      return Promise.resolve(moved ? newStore.conn : oldStore.conn);
    },
  });
  await writer.write("e0");
  await writer.write("e1");
  await writer.close();
  t.same(connects, [{ refresh: false }, { refresh: true }], "the first connect uses the cache, the retry asks again");
  t.same(oldStore.appended, [], "nothing was appended on the old store");
  t.same(newStore.appended, [0, 1], "both events went to the new store");
});

void t.test("errors that do not say the segment moved keep the cached endpoint", async (t) => {
  const segment = "s/t/0.#epoch.0";
  let calls = 0;
  const store = fakeStore(() => (++calls === 1 ? new OverloadedError("busy") : -1));
  const connects: boolean[] = [];
  const writer = new EventWriter("s/t", {
    ...noScaling,
    currentSegments: () => Promise.resolve([{ segment, number: 0, epoch: 0, keyStart: 0, keyEnd: 1 }]),
    connect: (_segment, options) => {
      connects.push(options?.refresh === true);
      return Promise.resolve(store.conn);
    },
  });
  await writer.write("e0");
  await writer.close();
  t.same(connects, [false, false], "OVERLOADED is retried on the same endpoint");
  t.same(store.appended, [0]);
});

void t.test("WRONG_HOST on an append: the writer sets up at the new owner and resends only what it lacks", async (t) => {
  const segment = "s/t/0.#epoch.0";
  // The old store stored event 0, then lost the container: event 1 is refused there.
  const oldStore = fakeStore(() => -1, (n) => (n === 0 ? "ack" : new WrongHostError(`${segment} moved`)));
  // The new owner recovered the container's log, so it knows event 0 of this writer is stored.
  const newStore = fakeStore(() => 0);
  const connects: boolean[] = [];
  const writer = new EventWriter("s/t", {
    ...noScaling,
    currentSegments: () => Promise.resolve([{ segment, number: 0, epoch: 0, keyStart: 0, keyEnd: 1 }]),
    connect: (_segment, options) => {
      connects.push(options?.refresh === true);
      return Promise.resolve(connects.length === 1 ? oldStore.conn : newStore.conn);
    },
  });
  await writer.write("e0");
  await writer.write("e1");
  await writer.close();
  t.same(connects, [false, true], "the retry asked for a fresh endpoint");
  t.same(oldStore.appended, [0]);
  t.same(newStore.appended, [1], "event 0 is not sent again: it is stored once");
});

// ---- Following scaling, against a scripted store and controller ----

interface FakeSegment {
  keyStart: number;
  keyEnd: number;
  sealed: boolean;
  /** Stored payloads, in order. */
  events: string[];
  /** Last stored event number by writer id (hex). */
  writers: Map<string, number>;
}

/**
 * A segment store and controller in one, enough for the writer: SetupAppend answers the last event
 * number stored for the writer (sealed or not); an AppendBlock is stored when it arrives, or refused
 * SEGMENT_SEALED (and the writer's set-up dropped, so the blocks behind it are refused
 * WRITER_NOT_SET_UP), as the real store does. Replies come on a later tick; with `holdAcks` the
 * DataAppended replies are kept back (the events are stored, the writer does not know it), while
 * Error replies still go out, so an error may overtake the ack of an earlier block. A scale is two
 * steps as in the controller: `seal` (the store refuses appends) and `commit` (successors named).
 */
class FakeCluster {
  readonly segments = new Map<string, FakeSegment>();
  readonly successors = new Map<string, { segment: string; keyStart: number; keyEnd: number }[]>();
  streamIsSealed = false;
  holdAcks = false;
  /** Set-ups on a sealed segment to refuse with SEGMENT_SEALED (a store that refuses them while the seal is pending). */
  sealedSetupsRefused = 0;
  readonly blocks: { segment: string; eventCount: number; bytes: number }[] = [];
  readonly setups: { segment: string; writer: string }[] = [];
  readonly successorCalls: string[] = [];
  private readonly heldAcks: Frame[] = [];
  private readonly setUp = new Set<string>();
  private readonly listeners = new Set<(frame: Frame) => void>();
  private requestId = 0;

  constructor(segments: [string, number, number][]) {
    for (const [name, keyStart, keyEnd] of segments) this.create(name, keyStart, keyEnd);
  }

  create(name: string, keyStart: number, keyEnd: number): void {
    this.segments.set(name, { keyStart, keyEnd, sealed: false, events: [], writers: new Map() });
  }

  seal(...names: string[]): void {
    for (const n of names) this.segments.get(n)!.sealed = true;
  }

  /** Commits a scale of the sealed `names` into `created` (name, keyStart, keyEnd). */
  commit(names: string[], created: [string, number, number][]): void {
    for (const [name, keyStart, keyEnd] of created) if (!this.segments.has(name)) this.create(name, keyStart, keyEnd);
    for (const n of names) {
      const s = this.segments.get(n)!;
      const next = created.filter(([, a, b]) => a < s.keyEnd && b > s.keyStart).map(([segment, keyStart, keyEnd]) => ({ segment, keyStart, keyEnd }));
      this.successors.set(n, next);
    }
  }

  releaseAcks(): void {
    this.holdAcks = false;
    for (const f of this.heldAcks.splice(0)) this.emit(f);
  }

  current(): SegmentRange[] {
    return [...this.segments]
      .filter(([name]) => !this.successors.has(name))
      .map(([segment, s], number) => ({ segment, number, epoch: 0, keyStart: s.keyStart, keyEnd: s.keyEnd }));
  }

  services(extra: Partial<WriterServices> = {}): WriterServices {
    return {
      currentSegments: () => Promise.resolve(this.current()),
      connect: () => Promise.resolve(this.conn),
      successors: (segment) => {
        this.successorCalls.push(segment);
        return Promise.resolve(this.successors.get(segment) ?? []);
      },
      streamSealed: () => Promise.resolve(this.streamIsSealed),
      ...extra,
    };
  }

  /** The payloads of every segment, in creation order (a successor after its predecessors). */
  stored(): string[] {
    return [...this.segments.values()].flatMap((s) => s.events);
  }

  private emit(frame: Frame): void {
    setImmediate(() => {
      for (const l of this.listeners) l(frame);
    });
  }

  private readonly conn = {
    closed: false,
    nextRequestId: () => ++this.requestId,
    subscribe: (listener: (frame: Frame) => void) => {
      this.listeners.add(listener);
      return () => this.listeners.delete(listener);
    },
    onClose: () => () => undefined,
    request: (frame: Frame) => {
      if (frame.type !== "SetupAppend") throw new Error(`unexpected ${frame.type}`);
      const s = this.segments.get(frame.segment);
      if (s === undefined) return Promise.reject(new NoSuchSegmentError(frame.segment));
      if (s.sealed && this.sealedSetupsRefused > 0) {
        this.sealedSetupsRefused--;
        return Promise.reject(new SegmentSealedError(`${frame.segment} is sealed`));
      }
      const writer = frame.writerId.toString("hex");
      this.setUp.add(`${writer}/${frame.segment}`);
      this.setups.push({ segment: frame.segment, writer });
      return Promise.resolve({ type: "AppendSetup", requestId: frame.requestId, writerId: frame.writerId, segment: frame.segment, lastEventNumber: s.writers.get(writer) ?? -1 });
    },
    send: (frame: Frame) => {
      if (frame.type !== "AppendBlock") throw new Error(`unexpected ${frame.type}`);
      const s = this.segments.get(frame.segment)!;
      const writer = frame.writerId.toString("hex");
      const key = `${writer}/${frame.segment}`;
      const refuse = (err: SluiceError) => {
        this.setUp.delete(key);
        this.emit({ type: "Error", requestId: frame.requestId, errorId: err.wireId, segment: frame.segment, message: err.message });
      };
      if (!this.setUp.has(key)) {
        refuse(new WriterNotSetUpError(key));
        return true;
      }
      if (s.sealed) {
        refuse(new SegmentSealedError(`${frame.segment} is sealed`));
        return true;
      }
      const known = s.writers.get(writer) ?? -1;
      const first = frame.lastEventNumber - frame.eventCount + 1;
      if (first > known + 1) throw new Error(`gap in event numbers on ${frame.segment}: ${first} after ${known}`);
      let offset = 0;
      for (let n = first; n <= frame.lastEventNumber; n++) {
        const length = frame.data.readUInt32BE(offset);
        if (n > known) s.events.push(frame.data.toString("utf8", offset + 4, offset + 4 + length));
        offset += 4 + length;
      }
      s.writers.set(writer, Math.max(known, frame.lastEventNumber));
      this.blocks.push({ segment: frame.segment, eventCount: frame.eventCount, bytes: frame.data.length });
      const ack: Frame = { type: "DataAppended", requestId: frame.requestId, writerId: frame.writerId, segment: frame.segment, eventNumber: frame.lastEventNumber, segmentLength: 0 };
      if (this.holdAcks) this.heldAcks.push(ack);
      else this.emit(ack);
      return true;
    },
  } as unknown as WireConnection;
}

/** Routing keys whose positions fall in [start, end). */
function keysIn(start: number, end: number, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const p = keyPosition(`k${i}`);
    if (p >= start && p < end) out.push(`k${i}`);
  }
  return out;
}

/** The stored events of each key, in segment creation order then offset: `key|seq` payloads. */
function byKey(events: string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const e of events) {
    const [key, seq] = e.split("|");
    const list = out.get(key!) ?? [];
    list.push(Number(seq));
    out.set(key!, list);
  }
  return out;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Waits (a bounded number of turns) until `done()`; the caller then checks what it expects. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !done(); i++) await tick();
}
const outstanding = (w: EventWriter) => (w as unknown as { outstandingBytes: number }).outstandingBytes;

void t.test("a block refused SEGMENT_SEALED while an earlier one was stored: only the unstored go to the successors, in order", async (t) => {
  const p = "s/t/0.#epoch.0";
  const cluster = new FakeCluster([[p, 0, 1]]);
  const writer = new EventWriter("s/t", cluster.services());
  const low = keysIn(0, 0.5, 2);
  const high = keysIn(0.5, 1, 2);
  const keys = [low[0]!, high[0]!, low[1]!, high[1]!];
  let seq = 0;
  const writes: Promise<void>[] = [];
  const burst = (n: number) => {
    for (let i = 0; i < n; i++, seq++) writes.push(writer.write(`${keys[seq % 4]}|${Math.floor(seq / 4)}`, { routingKey: keys[seq % 4]! }));
  };
  // Block 1 is stored, but its ack is kept back: the writer learns of it only from the set-up after the seal.
  cluster.holdAcks = true;
  burst(8);
  await until(() => cluster.blocks.length === 1);
  t.equal(cluster.segments.get(p)!.events.length, 8, "block 1 stored");
  cluster.seal(p);
  burst(8); // refused SEGMENT_SEALED
  await until(() => cluster.successorCalls.length > 0);
  burst(8); // held: the writer knows the segment is sealed
  await tick();
  t.equal(cluster.blocks.length, 1, "nothing was sent after the refusal");
  t.ok(cluster.successorCalls.length >= 1, "the writer asks the controller for successors");
  await new Promise((r) => setTimeout(r, 120));
  t.equal(writes.length, 24);
  cluster.holdAcks = false;
  cluster.commit([p], [["s/t/1.#epoch.1", 0, 0.5], ["s/t/2.#epoch.1", 0.5, 1]]);
  await Promise.all(writes);
  burst(8); // after the scale: straight to the successors
  await writer.close();
  t.same(cluster.segments.get(p)!.events.length, 8, "the sealed segment kept only block 1");
  t.same(cluster.setups.filter((s) => s.segment === p).length, 2, "one set-up to write, one to learn what the seal kept");
  const a = cluster.segments.get("s/t/1.#epoch.1")!.events;
  const b = cluster.segments.get("s/t/2.#epoch.1")!.events;
  t.ok(a.every((e) => low.includes(e.split("|")[0]!)) && b.every((e) => high.includes(e.split("|")[0]!)), "each event went to the successor holding its key");
  t.equal(a.length + b.length, 24, "blocks 2, 3 and 4 went to the successors, once");
  for (const [key, seqs] of byKey(cluster.stored())) t.same(seqs, [0, 1, 2, 3, 4, 5, 6, 7], `key ${key}: every event once, in write order`);
  t.equal(outstanding(writer), 0, "every byte released");
});

void t.test("a merge, and successors sealed before they are written: per-key order and exactly once across a chain of scales", async (t) => {
  const cluster = new FakeCluster([["s/t/0.#epoch.0", 0, 0.5], ["s/t/1.#epoch.0", 0.5, 1]]);
  const writer = new EventWriter("s/t", cluster.services());
  const low = keysIn(0, 0.5, 10);
  const high = keysIn(0.5, 1, 10);
  const next = new Map<string, number>();
  const writes: Promise<void>[] = [];
  const burst = (keys: string[]) => {
    for (const k of keys) {
      const seq = next.get(k) ?? 0;
      next.set(k, seq + 1);
      writes.push(writer.write(`${k}|${seq}`, { routingKey: k }));
    }
  };
  burst([...low, ...high]);
  await writer.flush();
  // Merge: both sealed by one scale, but only the low half is written for a while, so the low
  // segment is replaced by the merged one while the high segment's entry still routes to it.
  cluster.seal("s/t/0.#epoch.0", "s/t/1.#epoch.0");
  cluster.commit(["s/t/0.#epoch.0", "s/t/1.#epoch.0"], [["s/t/2.#epoch.1", 0, 1]]);
  burst(low);
  await writer.flush();
  burst(high);
  await writer.flush();
  const merged = new Set(cluster.setups.filter((s) => s.segment === "s/t/2.#epoch.1").map((s) => s.writer));
  t.equal(merged.size, 1, "one writer for the merged segment, shared by both predecessors");
  // A chain: the merged segment is split, and one half is split again before the writer gets to it.
  cluster.holdAcks = true;
  const blocksBefore = cluster.blocks.length;
  burst([...low, ...high]);
  await until(() => cluster.blocks.length > blocksBefore);
  cluster.seal("s/t/2.#epoch.1");
  burst([...low, ...high]);
  cluster.commit(["s/t/2.#epoch.1"], [["s/t/3.#epoch.2", 0, 0.3], ["s/t/4.#epoch.2", 0.3, 1]]);
  cluster.seal("s/t/3.#epoch.2");
  cluster.commit(["s/t/3.#epoch.2"], [["s/t/5.#epoch.3", 0, 0.1], ["s/t/6.#epoch.3", 0.1, 0.3]]);
  cluster.releaseAcks();
  burst([...low, ...high]);
  await Promise.all(writes);
  await writer.close();
  t.equal(cluster.segments.get("s/t/3.#epoch.2")!.events.length, 0, "nothing was stored in the segment sealed before it was written");
  const expected = (k: string) => [...Array(next.get(k)).keys()];
  for (const [key, seqs] of byKey(cluster.stored())) t.same(seqs, expected(key), `key ${key}: once each, in write order`);
  t.equal(cluster.stored().length, writes.length, "every write stored once");
  t.equal(outstanding(writer), 0);
});

void t.test("a sealed stream: what the segment stored resolves, the rest fails STREAM_SEALED, and later writes fail at once", async (t) => {
  const p = "s/t/0.#epoch.0";
  const cluster = new FakeCluster([[p, 0, 1]]);
  const writer = new EventWriter("s/t", cluster.services());
  cluster.holdAcks = true;
  const stored = Array.from({ length: 5 }, (_, i) => writer.write(`k|${i}`, { routingKey: "k" }));
  await until(() => cluster.blocks.length === 1);
  cluster.seal(p);
  cluster.streamIsSealed = true;
  const refused = Array.from({ length: 5 }, (_, i) => writer.write(`k|${5 + i}`, { routingKey: "k" }));
  await Promise.all(stored);
  t.pass("the events stored before the seal resolve (learnt from the set-up)");
  for (const r of await Promise.allSettled(refused)) t.match(r, { status: "rejected", reason: { code: "STREAM_SEALED" } });
  await t.rejects(writer.write("k|10", { routingKey: "k" }), { code: "STREAM_SEALED", message: /sealed/ });
  t.equal(outstanding(writer), 0, "every byte released");
  t.same(cluster.stored(), ["k|0", "k|1", "k|2", "k|3", "k|4"]);
  await t.rejects(writer.close(), { code: "STREAM_SEALED" }, "close reports the failure");
});

void t.test("successors never named: held events fail UNAVAILABLE after the bound, and a later write follows the scale", async (t) => {
  const p = "s/t/0.#epoch.0";
  const cluster = new FakeCluster([[p, 0, 1]]);
  const clock = new ManualClock();
  const writer = new EventWriter("s/t", cluster.services({ clock }));
  cluster.seal(p);
  const first = writer.write("k|0", { routingKey: "k" });
  let settled = false;
  first.then(() => (settled = true), () => (settled = true));
  for (let ms = 0; ms < writerSealWaitMsMax - 1_000; ms += 1_000) {
    await tick();
    clock.advance(1_000);
  }
  await tick();
  t.notOk(settled, "still waiting just before the bound");
  for (let i = 0; i < 5 && !settled; i++) {
    clock.advance(1_000);
    await tick();
  }
  await t.rejects(first, { code: "UNAVAILABLE" });
  t.equal(outstanding(writer), 0, "its bytes were released");
  await writer.ready();
  cluster.commit([p], [["s/t/1.#epoch.1", 0, 1]]);
  await writer.write("k|1", { routingKey: "k" });
  await writer.close();
  t.same(cluster.segments.get("s/t/1.#epoch.1")!.events, ["k|1"], "a later write finds the successor");
});

void t.test("SEGMENT_SEALED at set-up: the events are held and follow the scale", async (t) => {
  const p = "s/t/0.#epoch.0";
  const cluster = new FakeCluster([[p, 0, 1]]);
  cluster.seal(p);
  cluster.sealedSetupsRefused = 1;
  const writer = new EventWriter("s/t", cluster.services());
  const writes = [writer.write("k|0", { routingKey: "k" }), writer.write("k|1", { routingKey: "k" })];
  await until(() => cluster.successorCalls.length > 0);
  t.equal(cluster.blocks.length, 0, "nothing sent to the sealed segment");
  cluster.commit([p], [["s/t/1.#epoch.1", 0, 1]]);
  await Promise.all(writes);
  await writer.close();
  t.same(cluster.segments.get("s/t/1.#epoch.1")!.events, ["k|0", "k|1"]);
});

void t.test("an event without a routing key keeps the position drawn at its first write", async (t) => {
  const p = "s/t/0.#epoch.0";
  const cluster = new FakeCluster([[p, 0, 1]]);
  const positions = [0.1, 0.9, 0.2, 0.8];
  const writer = new EventWriter("s/t", cluster.services({ random: () => positions.shift()! }));
  cluster.seal(p);
  const writes = ["a", "b", "c", "d"].map((e) => writer.write(e));
  await tick();
  cluster.commit([p], [["s/t/1.#epoch.1", 0, 0.5], ["s/t/2.#epoch.1", 0.5, 1]]);
  await Promise.all(writes);
  await writer.close();
  t.same(cluster.segments.get("s/t/1.#epoch.1")!.events, ["a", "c"]);
  t.same(cluster.segments.get("s/t/2.#epoch.1")!.events, ["b", "d"]);
});

void t.test("batching, pipelining, the in-flight bound and the event size bound", async (t) => {
  const cluster = new FakeCluster([["s/t/0.#epoch.0", 0, 1]]);
  const writer = new EventWriter("s/t", cluster.services());
  await writer.write("warm-up");
  cluster.blocks.length = 0;
  // Everything written in one turn joins one block; the next turn's writes are sent without
  // waiting for the first block's ack (pipelined); a lone event goes out in the turn it was written.
  cluster.holdAcks = true;
  const turn1 = Array.from({ length: 100 }, (_, i) => writer.write(`a${i}`));
  await tick();
  const turn2 = writer.write("lone");
  await tick();
  t.same(cluster.blocks.map((b) => b.eventCount), [100, 1], "one block per turn, two in flight");
  cluster.releaseAcks();
  await Promise.all([...turn1, turn2]);
  // Above the in-flight bound writes wait in a queue; ready() says when there is room again.
  cluster.blocks.length = 0;
  cluster.holdAcks = true;
  const mib = Buffer.alloc(1024 * 1024, 1);
  const big = Array.from({ length: 40 }, () => writer.write(mib));
  await tick();
  await tick();
  const sentBytes = cluster.blocks.reduce((n, b) => n + b.bytes, 0);
  t.ok(sentBytes <= writerInflightBytesMax && sentBytes > 0, `at most the in-flight bound is sent before acks (${sentBytes} bytes)`);
  let ready = false;
  void writer.ready().then(() => (ready = true));
  await tick();
  t.notOk(ready, "ready() waits while the bound is reached");
  cluster.releaseAcks();
  await Promise.all(big);
  t.ok(ready, "ready() resolved once acks came");
  // The largest event goes; one byte more is refused before anything is sent.
  cluster.blocks.length = 0;
  await writer.write(Buffer.alloc(eventBytesMax));
  await t.rejects(writer.write(Buffer.alloc(eventBytesMax + 1)), EventTooLargeError);
  await writer.flush();
  t.same(cluster.blocks.map((b) => b.bytes), [eventBytesMax + 4], "only the largest allowed event was sent");
  await writer.close();
});
