/**
 * A small replicated state kept in one segment, without a server of its own (after Pravega's
 * StateSynchronizer). Every change appends the WHOLE new state as one event, conditionally at the
 * offset right after the last record this client has read; the last record in the segment is the
 * state. If another client appended first the store answers CONDITIONAL_CHECK_FAILED: this client
 * reads forward to the tail, applies the change again to the fresh state and retries (at most
 * readerGroupUpdateAttemptsMax times). Appends carry a random writer id and event numbers counting
 * its successful appends, so a retry of the same append after a lost reply is acknowledged again by
 * the store instead of appending twice. The store checks that dedup before the offset, so an event
 * number must never be reused for other content: after an append fails in a way that may have
 * stored it (anything but CONDITIONAL_CHECK_FAILED), the synchronizer takes a new writer id,
 * numbers from 0 again, and reads forward before its next append (the conditional offset then
 * tells whether the earlier record landed).
 *
 * Every participant follows the segment's tail with long-poll reads, so a change by any client is
 * seen within one round trip. Once the records before the latest span readerGroupStateTruncateBytes
 * the segment is truncated at the latest record; a follower that meets SEGMENT_TRUNCATED reads from
 * the new start, which is a whole state.
 */
import { randomBytes } from "node:crypto";
import {
  ClosedError,
  ConditionalCheckFailedError,
  EventTooLargeError,
  NoSuchSegmentError,
  eventHeaderBytes,
  SegmentExistsError,
  SegmentTruncatedError,
  UnavailableError,
  eventBytesMax,
  logger,
  readerGroupStateTruncateBytes,
  readerGroupUpdateAttemptsMax,
  systemClock,
  toSluiceError,
  type Clock,
  type SluiceError,
} from "../../common/index.js";
import { encodeEvents, type WireConnection } from "../../proto/index.js";
import { requestSegment, segmentInfo, type ConnectFn } from "../connection/segment-retry.js";
import { SegmentReader } from "./segment-reader.js";

const log = logger("state-sync");
const requestTimeoutMs = 30_000;
/** How long one follow read waits at the tail; a change answers it at once, so this only paces idle polls. */
const followWaitMs = 5_000;
/** Pause before a follow loop that failed (store unreachable past its retries) reads again. */
const followRetryMs = 1_000;
/**
 * A store answers SEGMENT_EXISTS for a segment whose creation by another client is not yet durable,
 * and NO_SUCH_SEGMENT to reads of it until it is: open() then asks again, this often, this many times.
 */
const openRetryMs = 20;
/** Longest wait for another client's record after a failed conditional append before trying again. */
const conflictWaitMs = 50;
const openAttemptsMax = 250;

export interface SynchronizerOptions<T> {
  segment: string;
  connect: ConnectFn;
  encode(state: T): Buffer;
  /** Raises DATA_CORRUPTION for bytes that are not a state. */
  decode(bytes: Buffer): T;
  clock?: Clock;
  /** A new writer id (16 random bytes) for the appends, at start and after an append that may have been stored failed; injected by tests. */
  newWriterId?: () => Buffer;
  /** The error to raise once the segment is gone (NO_SUCH_SEGMENT): whoever owned the state deleted it. */
  missing?: (cause: SluiceError) => SluiceError;
}

/** What a change makes of the state: a next state (appended), or none (nothing is written), and a result for the caller. */
export type Change<T, R> = (state: T) => { state?: T; result: R };

export class StateSynchronizer<T> {
  private current: T | undefined;
  /** Offset after the last record applied. */
  private readOffset = 0;
  /** The segment's start offset as last seen (truncation moves it). */
  private startOffset = 0;
  /** Successful appends under writerId so far: event numbers start at 0 and have no gaps. */
  private appendedCount = 0;
  private writerId: Buffer;
  private readonly newWriterId: () => Buffer;
  /** An append failed in a way that may have stored it: read forward before the next one. */
  private unsure = false;
  private readonly clock: Clock;
  private readonly stale = { endpoint: false };
  /** Updates run one at a time, in call order. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<() => void>();
  private follower: SegmentReader | undefined;
  private following: Promise<void> | undefined;
  private closed = false;
  /** open() has read the segment: from now on its absence means it was deleted. */
  private opened = false;
  /** Aborted by close(): cuts the follow loop's read and its sleeps short. */
  private readonly closing = new AbortController();
  /** Set when the segment is gone (the group was deleted) or a record is corrupt; every later call raises it. */
  private failure: SluiceError | undefined;
  /** When the store last answered a read or an append of the state (monotonic ms). */
  private contactMs: number;

  constructor(private readonly o: SynchronizerOptions<T>) {
    this.newWriterId = o.newWriterId ?? (() => randomBytes(16));
    this.writerId = this.newWriterId();
    this.clock = o.clock ?? systemClock;
    this.contactMs = this.clock.monotonicMs();
  }

  /**
   * When the store last answered this client about the state (a read, including a long poll that
   * found nothing new, or an append, including a failed condition), in monotonic ms: while it is
   * old, nobody may have been able to change the state (reader-group liveness uses it so that an
   * outage of the state's store does not count as the readers' silence).
   */
  get lastContactMs(): number {
    return this.contactMs;
  }

  private touch(): void {
    this.contactMs = Math.max(this.contactMs, this.clock.monotonicMs());
  }

  /** The latest state this client knows. Throws the synchronizer's failure, or if open() has not completed. */
  get state(): T {
    if (this.failure !== undefined) throw this.failure;
    if (this.current === undefined) throw new Error(`state of ${this.o.segment} read before open()`);
    return this.current;
  }

  /**
   * Creates the segment if need be, reads its state, or appends `initial()` as the first record if
   * it holds none (someone else's first record wins a race), then starts following the tail.
   */
  async open(initial: () => Promise<T>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.request((conn) => conn.request({ type: "CreateSegment", requestId: conn.nextRequestId(), segment: this.o.segment }, "SegmentCreated", requestTimeoutMs));
      } catch (err) {
        if (!(err instanceof SegmentExistsError)) throw err;
      }
      try {
        await this.fetch();
        break;
      } catch (err) {
        if (!(err instanceof NoSuchSegmentError) || attempt >= openAttemptsMax) throw err;
        await this.sleep(openRetryMs);
      }
    }
    this.opened = true;
    if (this.current === undefined) {
      const first = await initial();
      // Only into an empty segment: a client that appended its first record meanwhile won the race.
      await this.enqueue((s) => (s === undefined ? { state: first, result: undefined } : { result: undefined }));
    }
    this.following = this.follow();
  }

  /**
   * Calls `listener` after every change of the state (ours or another client's), and when the
   * synchronizer fails (then `state` raises the failure). It must not throw. Returns the unsubscribe.
   */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The error the synchronizer failed with, if any (see `state`). */
  get failed(): SluiceError | undefined {
    return this.failure;
  }

  /**
   * Applies `change` to the latest state and appends the result, retrying on concurrent updates as
   * the file comment says; resolves with the change's result once the state is durable (or at once
   * when the change makes none). Updates of one synchronizer run in call order. Raises what
   * `change` raises, EVENT_TOO_LARGE for a state above eventBytesMax, UNAVAILABLE after
   * readerGroupUpdateAttemptsMax conflicts or when the store stays unreachable, CLOSED after close().
   */
  update<R>(change: Change<T, R>): Promise<R> {
    return this.enqueue((state) => {
      if (state === undefined) throw new Error(`invariant violated: ${this.o.segment} updated before open()`);
      return change(state);
    });
  }

  private enqueue<R>(change: Change<T | undefined, R>): Promise<R> {
    const run = this.queue.then(() => this.updateNow(change));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async updateNow<R>(change: Change<T | undefined, R>): Promise<R> {
    for (let attempt = 0; attempt < readerGroupUpdateAttemptsMax; attempt++) {
      this.check();
      if (this.unsure) {
        await this.fetch();
        this.unsure = false;
      }
      const base = this.current;
      const expectedOffset = this.readOffset;
      const out = change(base);
      if (out.state === undefined || out.state === base) return out.result;
      const bytes = this.o.encode(out.state);
      if (bytes.length > eventBytesMax) throw new EventTooLargeError(`state of ${this.o.segment} would take ${bytes.length} bytes, above the ${eventBytesMax}-byte event limit`);
      const data = encodeEvents([bytes]);
      try {
        await this.request((conn) =>
          conn.request(
            { type: "ConditionalAppend", requestId: conn.nextRequestId(), writerId: this.writerId, segment: this.o.segment, expectedOffset, lastEventNumber: this.appendedCount, eventCount: 1, data },
            "DataAppended",
            requestTimeoutMs,
          ),
        );
      } catch (err) {
        if (err instanceof ConditionalCheckFailedError) this.touch();
        if (!(err instanceof ConditionalCheckFailedError)) {
          // The append may have been stored; its event number must not carry another state.
          this.writerId = this.newWriterId();
          this.appendedCount = 0;
          this.unsure = true;
          throw err;
        }
        await this.catchUp(expectedOffset);
        continue;
      }
      this.appendedCount++;
      this.touch();
      // The follower may have applied our record already; then there is nothing left to do.
      if (this.readOffset === expectedOffset) this.apply(expectedOffset, bytes, out.state);
      if (expectedOffset - this.startOffset >= readerGroupStateTruncateBytes) await this.truncate(expectedOffset);
      return out.result;
    }
    throw new UnavailableError(`state of ${this.o.segment} kept changing under ${readerGroupUpdateAttemptsMax} attempts to update it; retry`);
  }

  /**
   * Reads every record from the last one applied up to the (durable) tail now; when a truncation
   * overtakes the read, from the new start.
   */
  async fetch(): Promise<void> {
    for (;;) {
      this.check();
      const info = await this.guard(segmentInfo(this.o.segment, this.o.connect, this.stale));
      this.touch();
      this.startOffset = info.startOffset;
      const from = Math.max(this.readOffset, info.startOffset);
      if (from >= info.length) return;
      const reader = new SegmentReader(this.o.segment, this.o.connect, { offset: from, endOffset: info.length, waitMs: 0 });
      try {
        for await (const e of reader.events()) this.applyBytes(e.offset, Buffer.from(e.data));
        return;
      } catch (err) {
        if (!(err instanceof SegmentTruncatedError)) throw err;
      } finally {
        reader.close();
      }
    }
  }

  /**
   * After a failed conditional append: reads what others appended. The check counts appends the
   * store accepted but has not yet made durable (and so cannot yet be read); then this waits for
   * the record to arrive through the follower (or a short while) instead of retrying at once.
   */
  private async catchUp(expectedOffset: number): Promise<void> {
    await this.fetch();
    if (this.readOffset !== expectedOffset) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        unsubscribe();
        timer.cancel();
        resolve();
      };
      const unsubscribe = this.onChange(done);
      const timer = this.clock.setTimer(conflictWaitMs, done);
    });
  }

  /** Stops following; later calls raise CLOSED. Does not wait for a long-poll read in flight. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    this.follower?.close();
    await this.following;
    await this.queue;
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) throw new ClosedError(`state of ${this.o.segment} is closed`);
  }

  private applyBytes(offset: number, bytes: Buffer): void {
    if (offset < this.readOffset) return;
    this.apply(offset, bytes, this.o.decode(bytes));
  }

  private apply(offset: number, bytes: Buffer, state: T): void {
    this.current = state;
    this.readOffset = offset + eventHeaderBytes + bytes.length;
    for (const listener of this.listeners) listener();
  }

  private async truncate(offset: number): Promise<void> {
    try {
      const r = await this.request((conn) => conn.request({ type: "TruncateSegment", requestId: conn.nextRequestId(), segment: this.o.segment, startOffset: offset }, "SegmentTruncated", requestTimeoutMs));
      this.startOffset = r.startOffset;
    } catch (err) {
      // Truncation only reclaims space; the next update past the bound tries again.
      log.warn("could not truncate state segment", { segment: this.o.segment, offset, error: toSluiceError(err) });
    }
  }

  /** Follows the tail until closed, the segment is deleted, or the client is closed. */
  private async follow(): Promise<void> {
    while (!this.closed) {
      const reader = new SegmentReader(this.o.segment, this.o.connect, { offset: Math.max(this.readOffset, this.startOffset), waitMs: followWaitMs });
      this.follower = reader;
      try {
        for (;;) {
          const events = await this.untilClosed(reader.next());
          if (events === undefined) return;
          this.touch();
          for (const e of events) this.applyBytes(e.offset, Buffer.from(e.data));
        }
      } catch (err) {
        if (this.closed) return;
        const e = toSluiceError(err);
        if (e.code === "SEGMENT_TRUNCATED") {
          await this.fetch().catch((fetchErr: unknown) => log.warn("could not reread truncated state", { segment: this.o.segment, error: toSluiceError(fetchErr) }));
        } else if (e instanceof NoSuchSegmentError || e.code === "DATA_CORRUPTION" || e.code === "CLOSED") {
          if (e.code !== "CLOSED") this.fail(e);
          return;
        } else {
          log.warn("following state failed; reading again", { segment: this.o.segment, error: e });
          await this.sleep(followRetryMs);
        }
      } finally {
        reader.close();
      }
    }
  }

  /** Fails the synchronizer for good; a missing segment becomes `missing`'s error. Returns the failure. */
  private fail(err: SluiceError): SluiceError {
    if (this.failure === undefined) {
      this.failure = err instanceof NoSuchSegmentError && this.o.missing !== undefined ? this.o.missing(err) : err;
      for (const listener of this.listeners) listener();
    }
    return this.failure;
  }

  /** Resolves after `ms`, or at once when closed. Leaves no listener behind. */
  private sleep(ms: number): Promise<void> {
    const signal = this.closing.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        timer.cancel();
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = this.clock.setTimer(ms, done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** What `read` answers, or undefined once closed (a long poll in flight is not waited for). Leaves no listener behind. */
  private untilClosed<V>(read: Promise<V>): Promise<V | undefined> {
    const signal = this.closing.signal;
    read.catch(() => undefined);
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const closed = () => resolve(undefined);
      signal.addEventListener("abort", closed, { once: true });
      read.then(
        (value) => {
          signal.removeEventListener("abort", closed);
          resolve(value);
        },
        (err: unknown) => {
          signal.removeEventListener("abort", closed);
          reject(toSluiceError(err));
        },
      );
    });
  }

  /** One request to the store serving the segment, retried; NO_SUCH_SEGMENT fails the synchronizer. */
  private request<F>(send: (conn: WireConnection) => Promise<F>): Promise<F> {
    return this.guard(requestSegment(this.o.segment, this.o.connect, send, { what: `updating ${this.o.segment}`, stale: this.stale }));
  }

  /** `request` as it settles; once open, NO_SUCH_SEGMENT fails the synchronizer (the state was deleted). */
  private async guard<F>(request: Promise<F>): Promise<F> {
    try {
      return await request;
    } catch (err) {
      if (err instanceof NoSuchSegmentError && this.opened) throw this.fail(err);
      throw err;
    }
  }
}
