/**
 * Test support for the stream service (used only by *.test.ts): an in-memory SegmentOps that keeps
 * each segment as a list of event labels, so a merge concatenates them and tests can assert the
 * order a reader would see; failure injection (a simulated crash after N calls, or an error for
 * chosen calls); and checks shared by the tests.
 */
import { containerOf, InternalError, InvalidArgumentError, ManualClock, NoSuchSegmentError, SegmentSealedError, eventHeaderBytes } from "../../common/index.js";
import { FileMetadataStore, listAll, type MetadataStore } from "../store/index.js";
import { decodeTxn, txnSegmentsOf, parseTxnKey } from "../txn/index.js";
import type { SegmentInfo, SegmentOps } from "./segment-ops.js";
import { decodeEpoch, nameOf } from "./stream-metadata.js";
import { StreamService, type StreamServiceOptions } from "./stream-service.js";

export interface FakeSegment {
  /** Event labels in segment order (merged sources appended whole). */
  events: string[];
  sealed: boolean;
  startOffset: number;
  length: number;
}

type Op = "create" | "seal" | "merge" | "truncate" | "delete" | "info";

/** Settles like an async function would, without one (no await needed). */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

export class FakeSegmentOps implements SegmentOps {
  readonly segments = new Map<string, FakeSegment>();
  /** Every call, as "op segment", in order. */
  readonly calls: string[] = [];
  /** Mutating calls left before every call fails (a simulated controller crash); undefined: never. */
  callsBeforeCrash: number | undefined;
  /** Chosen failures: answer an error to raise for a call, or undefined. */
  inject: ((op: Op, segment: string) => Error | undefined) | undefined;

  constructor(readonly containerCount = 4) {}

  /** Appends an event as a writer would; raises NO_SUCH_SEGMENT, SEGMENT_SEALED. */
  append(segment: string, label: string): void {
    const s = this.need(segment);
    if (s.sealed) throw new SegmentSealedError(`${segment} is sealed`);
    s.events.push(label);
    s.length += Buffer.byteLength(label) + eventHeaderBytes;
  }

  events(segment: string): string[] {
    return [...(this.segments.get(segment)?.events ?? [])];
  }

  createSegment(segment: string): Promise<void> {
    return settle(() => {
      this.gate("create", segment);
      if (!this.segments.has(segment)) this.segments.set(segment, { events: [], sealed: false, startOffset: 0, length: 0 });
    });
  }

  sealSegment(segment: string): Promise<number> {
    return settle(() => {
      this.gate("seal", segment);
      const s = this.need(segment);
      s.sealed = true;
      return s.length;
    });
  }

  mergeSegments(target: string, source: string): Promise<number> {
    return settle(() => {
      this.gate("merge", target);
      const t = this.need(target);
      const s = this.need(source);
      if (containerOf(target, this.containerCount) !== containerOf(source, this.containerCount)) {
        throw new InvalidArgumentError(`${source} and ${target} live in different containers`);
      }
      if (t.sealed) throw new SegmentSealedError(`merge target ${target} is sealed`);
      t.events.push(...s.events);
      t.length += s.length;
      this.segments.delete(source);
      return t.length;
    });
  }

  truncateSegment(segment: string, offset: number): Promise<void> {
    return settle(() => {
      this.gate("truncate", segment);
      const s = this.need(segment);
      if (offset > s.length) throw new InvalidArgumentError(`cannot truncate ${segment} at ${offset}: it is ${s.length} bytes long`);
      s.startOffset = Math.max(s.startOffset, offset);
    });
  }

  deleteSegment(segment: string): Promise<void> {
    return settle(() => {
      this.gate("delete", segment);
      this.segments.delete(segment);
    });
  }

  segmentInfo(segment: string): Promise<SegmentInfo> {
    return settle(() => {
      this.gate("info", segment);
      const s = this.need(segment);
      return { startOffset: s.startOffset, length: s.length, sealed: s.sealed };
    });
  }

  private need(segment: string): FakeSegment {
    const s = this.segments.get(segment);
    if (s === undefined) throw new NoSuchSegmentError(`segment ${segment} does not exist`);
    return s;
  }

  private gate(op: Op, segment: string): void {
    this.calls.push(`${op} ${segment}`);
    if (this.callsBeforeCrash !== undefined && op !== "info") {
      if (this.callsBeforeCrash <= 0) throw new InternalError("simulated controller crash");
      this.callsBeforeCrash--;
    }
    const err = this.inject?.(op, segment);
    if (err !== undefined) throw err;
  }
}

export interface Harness {
  store: MetadataStore;
  clock: ManualClock;
  ops: FakeSegmentOps;
  svc: StreamService;
  /** Another controller on the same metadata and segment stores. */
  another(options?: StreamServiceOptions): StreamService;
}

const placement = { containerCount: 4, endpointOfContainer: () => ({ host: "127.0.0.1", port: 12345 }) };

export async function harness(t: { testdir(): string; teardown(fn: () => Promise<void>): void }, options: StreamServiceOptions = {}): Promise<Harness> {
  const store = await FileMetadataStore.open(t.testdir());
  t.teardown(() => store.close());
  const clock = new ManualClock();
  const ops = new FakeSegmentOps(placement.containerCount);
  return {
    store,
    clock,
    ops,
    svc: new StreamService(store, placement, ops, clock, options),
    another: (o = {}) => new StreamService(store, placement, ops, clock, o),
  };
}

/** Resolves `p`, moving the clock on in `stepMs` steps while it waits (slot polls, pauses). */
export async function drive<T>(clock: ManualClock, p: Promise<T>, stepMs = 50): Promise<T> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; !done; i++) {
    if (i > 100_000) throw new Error("drive: the promise never settled");
    await new Promise((resolve) => setImmediate(resolve));
    if (!done) clock.advance(stepMs);
  }
  return p;
}

/** Waits (without moving the clock) until `cond` holds. */
export async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 10_000) throw new Error(`until: ${what} never happened`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/**
 * Segments the fake holds that no metadata explains: every segment must be in some epoch record,
 * or be a transaction segment of a transaction still OPEN, COMMITTING or ABORTING.
 */
export async function orphans(store: MetadataStore, ops: FakeSegmentOps): Promise<string[]> {
  const known = new Set<string>();
  for (const kv of await listAll(store, "epochs/")) {
    const [, scope, stream] = kv.key.split("/");
    for (const s of decodeEpoch(kv).segments) known.add(nameOf(scope!, stream!, s));
  }
  for (const kv of await listAll(store, "txns/")) {
    const id = parseTxnKey(kv.key);
    const record = decodeTxn(kv);
    if (id === undefined || record.state === "COMMITTED" || record.state === "ABORTED") continue;
    for (const name of txnSegmentsOf(id.scope, id.stream, record)) known.add(name);
  }
  return [...ops.segments.keys()].filter((name) => !known.has(name)).sort();
}

/** Every key starting with one of the prefixes. */
export async function keysUnder(store: MetadataStore, ...prefixes: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of prefixes) out.push(...(await listAll(store, p)).map((kv) => kv.key));
  return out;
}
