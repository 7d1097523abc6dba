/**
 * Writes one segment for one EventWriter: events are joined into blocks, blocks are pipelined on
 * the shared connection (never one round trip per event), and acks (`DataAppended`, cumulative by
 * event number) resolve them in order. Every block keeps its data until acked, so after a lost
 * connection or a retriable error the writer sets up again, learns the last event number the
 * segment stored for it, drops what was stored, and resends the rest: nothing is lost and nothing
 * is applied twice (invariant 5). After WRONG_HOST, CONTAINER_NOT_READY or a lost connection the
 * next attempt asks the controller again where the segment is served (its container may have moved
 * to another store); the set-up there answers the last event number as the old store had it.
 *
 * SEGMENT_SEALED (a scale sealed the segment): with a `sealed` handler in its context the writer
 * stops sending and holds every event, sent or new, and tells its owner. The owner waits until the
 * seal is durable (the controller names the successors), then asks `lastStoredAfterSeal()` and
 * takes the unstored events with `handOver()`, to route them to the successors. Without a handler
 * the writer fails with SEGMENT_SEALED.
 */
import { randomBytes } from "node:crypto";
import { assert, ClosedError, errorFromWireId, toSluiceError, type SluiceError, logger } from "../../common/index.js";
import type { Frame, WireConnection } from "../../proto/index.js";
import { endpointMayBeStale, requestSegment, retriesSpentError, retryDelayMs, segmentRetryCountMax, type ConnectOptions } from "../connection/segment-retry.js";
import { BlockBuilder, splitBlock, type BuiltBlock } from "./block-builder.js";
import { WriteGroup, type CarriedEvent } from "./write-group.js";

const log = logger("writer");

const setupTimeoutMs = 30_000;

interface Block extends BuiltBlock {
  lastEventNumber: number;
  requestId: number;
}

export interface SegmentWriterContext {
  /** Connection to the segment store serving `segment` now; with `refresh`, asks the controller again first. */
  connect(segment: string, options?: ConnectOptions): Promise<WireConnection>;
  /** Called with the bytes of events acked or failed, to release writer capacity. */
  released(bytes: number): void;
  /** Called once when the store answers SEGMENT_SEALED; the writer then holds its events (see the file comment). */
  sealed?(writer: SegmentWriter): void;
}

export class SegmentWriter {
  /** A writer id per segment writer: dedup state is per (writer id, segment). */
  readonly writerId = randomBytes(16);
  private readonly builder = new BlockBuilder();
  /** The group of events written since the last cut; its promise is what their writes return. */
  private open: WriteGroup | undefined;
  private cutScheduled = false;
  private nextEventNumber = 0;
  /** Blocks cut and not yet acked, in event-number order; `sent` of them went out on `conn`. */
  private unacked: Block[] = [];
  private sent = 0;
  private conn: WireConnection | undefined;
  private unsubscribe: (() => void) | undefined;
  private connecting = false;
  /** The last connection or attempt failed in a way that says the segment may have moved: the next connect refreshes its endpoint. */
  private endpointStale = false;
  /** The store said SEGMENT_SEALED: nothing more is sent; events are held for handOver(). */
  private sealedSeen = false;
  private failure: SluiceError | undefined;
  private retries = 0;
  /** The delayed reconnect, if one is waiting: abandon() cancels it. */
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly segment: string,
    private readonly context: SegmentWriterContext,
  ) {}

  /**
   * Queues one event routed by key position `position`; the promise, shared by the events written
   * in this turn, resolves once they (and every event before them) are durable.
   */
  write(payload: Uint8Array, position = 0): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const group = (this.open ??= new WriteGroup());
    group.added();
    this.add(payload, position, group);
    return group.promise;
  }

  /** Takes an event of a sealed predecessor (its group already counts it): it goes after every event queued so far. */
  carry(event: CarriedEvent): void {
    assert(this.failure === undefined, "events are carried to a writer that has not failed");
    this.add(event.payload, event.position, event.group);
  }

  /** Resolves when everything written so far is durable; rejects with the first failure. */
  flush(): Promise<void> {
    if (this.builder.eventCount > 0) this.cut();
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const groups = new Set<Promise<void>>();
    for (const b of this.unacked) for (const r of b.runs) groups.add(r.group.promise);
    return Promise.all(groups).then(() => undefined);
  }

  /** The error this writer failed with, if it has; later writes fail with it. */
  get failed(): SluiceError | undefined {
    return this.failure;
  }

  /** The store said the segment is sealed; the writer holds its events until handOver(). */
  get sealed(): boolean {
    return this.sealedSeen;
  }

  close(): void {
    this.abandon(new ClosedError(`writer for ${this.segment} is closed`));
  }

  /**
   * After the seal is durable: sets up on the sealed segment (the store answers the last event
   * number it stored for this writer, sealed or not), following WRONG_HOST as elsewhere.
   */
  async lastStoredAfterSeal(): Promise<number> {
    const stale = { endpoint: this.endpointStale };
    const setup = await requestSegment(
      this.segment,
      (s, options) => this.context.connect(s, options),
      (conn) => conn.request({ type: "SetupAppend", requestId: conn.nextRequestId(), writerId: this.writerId, segment: this.segment }, "AppendSetup", setupTimeoutMs),
      { what: `asking sealed segment ${this.segment} what it stored`, stale },
    );
    return setup.lastEventNumber;
  }

  /**
   * Ends a sealed writer: the events up to `lastStored` are durable (their groups are told), the
   * rest are returned in order, for the caller to carry to the successors. Bytes are not released
   * here (the caller releases `storedBytes` once it has routed the rest, so that queued writes
   * cannot overtake them). Later writes fail with `then`.
   */
  handOver(lastStored: number, then: SluiceError): { rest: CarriedEvent[]; storedBytes: number } {
    assert(this.sealedSeen && this.failure === undefined, "only a sealed writer that has not failed hands over");
    if (this.builder.eventCount > 0) this.cutBlock();
    const rest: CarriedEvent[] = [];
    let storedBytes = 0;
    for (const b of this.unacked) {
      const first = b.lastEventNumber - b.eventCount + 1;
      storedBytes += splitBlock(b, Math.min(b.eventCount, Math.max(0, lastStored - first + 1)), rest);
    }
    this.unacked = [];
    this.open = undefined;
    this.failure = then;
    return { rest, storedBytes };
  }

  private add(payload: Uint8Array, position: number, group: WriteGroup): void {
    if (!this.builder.fits(payload.length)) this.cut();
    this.builder.add(payload, position, group);
    this.nextEventNumber++;
    if (!this.cutScheduled) {
      // Everything written in this turn of the event loop joins one block: no fixed linger, and
      // a lone event goes out at the end of the turn it was written in.
      this.cutScheduled = true;
      setImmediate(() => {
        this.cutScheduled = false;
        if (this.builder.eventCount > 0 && this.failure === undefined) this.cut();
      });
    }
  }

  private cut(): void {
    this.cutBlock();
    this.pump();
  }

  private cutBlock(): void {
    const block = this.builder.cut();
    this.open = undefined;
    this.unacked.push({ ...block, lastEventNumber: this.nextEventNumber - 1, requestId: 0 });
  }

  /** Sends every block not yet sent on the current connection, or connects first. */
  private pump(): void {
    // While connecting, blocks wait: they go out once AppendSetup says what is already stored.
    if (this.failure !== undefined || this.connecting || this.sealedSeen) return;
    const conn = this.conn;
    if (conn === undefined || conn.closed) {
      if (conn?.closed === true) this.endpointStale = true;
      this.reconnect(0);
      return;
    }
    while (this.sent < this.unacked.length) {
      const b = this.unacked[this.sent++]!;
      b.requestId = conn.nextRequestId();
      conn.send({
        type: "AppendBlock",
        requestId: b.requestId,
        writerId: this.writerId,
        segment: this.segment,
        lastEventNumber: b.lastEventNumber,
        eventCount: b.eventCount,
        data: b.data,
      });
    }
  }

  private reconnect(delayMs: number): void {
    if (this.connecting || this.failure !== undefined || this.sealedSeen) return;
    this.connecting = true;
    this.detach();
    const attempt = async () => {
      const refresh = this.endpointStale;
      this.endpointStale = false;
      const conn = await this.context.connect(this.segment, refresh ? { refresh } : {});
      const unsubscribe = conn.subscribe((frame) => this.onFrame(frame));
      const closeOff = conn.onClose((err) => this.onConnectionLost(conn, err));
      this.unsubscribe = () => {
        unsubscribe();
        closeOff();
      };
      this.conn = conn;
      const setup = await conn.request(
        { type: "SetupAppend", requestId: conn.nextRequestId(), writerId: this.writerId, segment: this.segment },
        "AppendSetup",
        setupTimeoutMs,
      );
      return setup.lastEventNumber;
    };
    const run = () => {
      if (this.failure !== undefined) {
        this.connecting = false;
        return;
      }
      attempt().then(
        (lastStored) => {
          this.connecting = false;
          if (this.failure !== undefined) return;
          this.retries = 0;
          this.sent = 0;
          this.acked(lastStored);
          this.pump();
        },
        (err: unknown) => {
          this.connecting = false;
          this.retry(toSluiceError(err));
        },
      );
    };
    // The timer keeps the process alive on purpose: unacked events must not be dropped by an exit.
    // abandon() (a failure, or close) cancels it.
    if (delayMs === 0) run();
    else {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        run();
      }, delayMs);
    }
  }

  private retry(err: SluiceError): void {
    if (this.failure !== undefined || this.sealedSeen) return;
    if (err.code === "SEGMENT_SEALED" && this.context.sealed !== undefined) {
      this.onSealed();
      return;
    }
    if (endpointMayBeStale(err)) this.endpointStale = true;
    if (!err.retriable || this.retries >= segmentRetryCountMax) {
      this.abandon(err.retriable ? retriesSpentError(`writing ${this.segment}`, this.retries, err) : err);
      return;
    }
    const delayMs = retryDelayMs(this.retries++);
    log.debug("retrying segment writer", { segment: this.segment, delayMs, error: err.message });
    this.detach();
    this.reconnect(delayMs);
  }

  /**
   * Stops sending: the blocks behind the refused one are refused too (the store drops the set-up),
   * and acks of the ones before it are learnt from the set-up once the seal is durable.
   */
  private onSealed(): void {
    this.sealedSeen = true;
    this.detach();
    log.debug("segment sealed under a writer", { segment: this.segment, unackedBlocks: this.unacked.length });
    this.context.sealed?.(this);
  }

  private onConnectionLost(conn: WireConnection, err: SluiceError): void {
    // During a reconnect the attempt's own failure path retries.
    if (conn !== this.conn || this.connecting) return;
    // Even with nothing to resend now, the next write connects again: to wherever the segment is now.
    if (endpointMayBeStale(err)) this.endpointStale = true;
    this.detach();
    if (this.unacked.length > 0) this.retry(err);
  }

  private detach(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.conn = undefined;
    this.sent = 0;
  }

  private onFrame(frame: Frame): void {
    if (frame.type === "DataAppended") {
      if (frame.segment === this.segment && frame.writerId.equals(this.writerId)) this.acked(frame.eventNumber);
    } else if (frame.type === "Error") {
      if (this.unacked.some((b, i) => i < this.sent && b.requestId === frame.requestId)) {
        const err = errorFromWireId(frame.errorId, frame.message);
        if (err.retriable || err.code === "SEGMENT_SEALED") this.retry(err);
        else this.abandon(err);
      }
    }
  }

  /** Every block up to `eventNumber` is durable. */
  private acked(eventNumber: number): void {
    let n = 0;
    while (n < this.unacked.length && this.unacked[n]!.lastEventNumber <= eventNumber) n++;
    if (n === 0) return;
    const done = this.unacked.slice(0, n);
    this.unacked = this.unacked.slice(n);
    this.sent = Math.max(0, this.sent - n);
    let bytes = 0;
    for (const b of done) {
      bytes += b.data.length;
      for (const r of b.runs) r.group.stored(r.count);
    }
    this.context.released(bytes);
  }

  /** Fails every unacked and open event with `err`, and stops any retry; later writes fail at once. */
  abandon(err: SluiceError): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.detach();
    if (!(err instanceof ClosedError)) log.warn("segment writer failed", { segment: this.segment, code: err.code, error: err.message });
    if (this.builder.eventCount > 0) this.cutBlock();
    let bytes = 0;
    for (const b of this.unacked) {
      bytes += b.data.length;
      for (const r of b.runs) r.group.failed(err);
    }
    this.unacked = [];
    this.open = undefined;
    this.context.released(bytes);
  }
}
