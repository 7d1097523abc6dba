/**
 * Writes one segment for one EventWriter: events are joined into blocks, blocks are pipelined on
 * the shared connection (never one round trip per event), and acks (`DataAppended`, cumulative by
 * event number) resolve them in order. Every block keeps its data until acked, so after a lost
 * connection or a retriable error the writer sets up again, learns the last event number the
 * segment stored for it, drops what was stored, and resends the rest: nothing is lost and nothing
 * is applied twice (invariant 5). After WRONG_HOST, CONTAINER_NOT_READY or a lost connection the
 * next attempt asks the controller again where the segment is served (its container may have moved
 * to another store); the set-up there answers the last event number as the old store had it.
 */
import { randomBytes } from "node:crypto";
import { ClosedError, errorFromWireId, toSluiceError, UnavailableError, type SluiceError, logger } from "../../common/index.js";
import type { Frame, WireConnection } from "../../proto/index.js";
import { endpointMayBeStale, retryDelayMs, segmentRetryCountMax, type ConnectOptions } from "../connection/segment-retry.js";
import { BlockBuilder } from "./block-builder.js";

const log = logger("writer");

const setupTimeoutMs = 30_000;

interface Block {
  data: Buffer;
  eventCount: number;
  lastEventNumber: number;
  requestId: number;
  resolve: () => void;
  reject: (err: SluiceError) => void;
}

interface OpenBlock {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: SluiceError) => void;
}

export interface SegmentWriterContext {
  /** Connection to the segment store serving `segment` now; with `refresh`, asks the controller again first. */
  connect(segment: string, options?: ConnectOptions): Promise<WireConnection>;
  /** Called with the bytes of every block acked or failed, to release writer capacity. */
  released(bytes: number): void;
}

function openBlock(): OpenBlock {
  let resolve!: () => void;
  let reject!: (err: SluiceError) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A block's promise may be awaited by nobody (fire-and-forget writes); flush() reports failures.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export class SegmentWriter {
  /** A writer id per segment writer: dedup state is per (writer id, segment). */
  readonly writerId = randomBytes(16);
  private readonly builder = new BlockBuilder();
  private open: OpenBlock = openBlock();
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
  private failure: SluiceError | undefined;
  private retries = 0;
  private readonly key: string;

  constructor(
    readonly segment: string,
    private readonly context: SegmentWriterContext,
  ) {
    this.key = `${this.writerId.toString("hex")}/${segment}`;
  }

  /** Queues one event; the promise resolves once it (and every event before it) is durable. */
  write(payload: Uint8Array): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (!this.builder.fits(payload.length)) this.cut();
    this.builder.add(payload);
    this.nextEventNumber++;
    const promise = this.open.promise;
    if (!this.cutScheduled) {
      // Everything written in this turn of the event loop joins one block.
      this.cutScheduled = true;
      setImmediate(() => {
        this.cutScheduled = false;
        if (this.builder.eventCount > 0) this.cut();
      });
    }
    return promise;
  }

  /** Resolves when everything written so far is durable; rejects with the first failure. */
  flush(): Promise<void> {
    if (this.builder.eventCount > 0) this.cut();
    const last = this.unacked[this.unacked.length - 1];
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (last === undefined) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const resolveBefore = last.resolve;
      const rejectBefore = last.reject;
      last.resolve = () => {
        resolveBefore();
        resolve();
      };
      last.reject = (err) => {
        rejectBefore(err);
        reject(err);
      };
    });
  }

  /** The error this writer failed with, if it has; later writes fail with it. */
  get failed(): SluiceError | undefined {
    return this.failure;
  }

  close(): void {
    this.fail(new ClosedError(`writer for ${this.segment} is closed`));
  }

  private cut(): void {
    const { data, eventCount } = this.builder.cut();
    const open = this.open;
    this.open = openBlock();
    this.unacked.push({ data, eventCount, lastEventNumber: this.nextEventNumber - 1, requestId: 0, resolve: open.resolve, reject: open.reject });
    this.pump();
  }

  /** Sends every block not yet sent on the current connection, or connects first. */
  private pump(): void {
    // While connecting, blocks wait: they go out once AppendSetup says what is already stored.
    if (this.failure !== undefined || this.connecting) return;
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
    if (this.connecting || this.failure !== undefined) return;
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
      attempt().then(
        (lastStored) => {
          this.connecting = false;
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
    if (delayMs === 0) run();
    else setTimeout(run, delayMs);
  }

  private retry(err: SluiceError): void {
    if (this.failure !== undefined) return;
    if (endpointMayBeStale(err)) this.endpointStale = true;
    if (!err.retriable || this.retries >= segmentRetryCountMax) {
      this.fail(err.retriable ? new UnavailableError(`gave up writing ${this.segment} after ${this.retries} retries: ${err.message}`, { cause: err }) : err);
      return;
    }
    const delayMs = retryDelayMs(this.retries++);
    log.debug("retrying segment writer", { segment: this.segment, delayMs, error: err.message });
    this.detach();
    this.reconnect(delayMs);
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
        if (err.retriable) this.retry(err);
        else this.fail(err);
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
      b.resolve();
    }
    this.context.released(bytes);
  }

  /** Fails every unacked and open event with `err`; later writes fail at once. */
  private fail(err: SluiceError): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.detach();
    if (!(err instanceof ClosedError)) log.warn("segment writer failed", { segment: this.segment, code: err.code, error: err.message });
    let bytes = this.builder.bytes;
    if (this.builder.eventCount > 0) this.builder.cut();
    this.open.reject(err);
    for (const b of this.unacked) {
      bytes += b.data.length;
      b.reject(err);
    }
    this.unacked = [];
    this.context.released(bytes);
  }
}
