/**
 * One MetadataStore watch on etcd, on its own etcd watch stream (not etcd3's Watcher, whose
 * start revision follows response headers and can skip history on a reconnect).
 */
import { EtcdWatchStreamEnded, type Etcd3, type IDuplexStream, type IWatchRequest, type IWatchResponse } from "etcd3";
import { assert, ClosedError, InternalError, logger, RevisionCompactedError, SluiceError, UnavailableError } from "../../common/index.js";
import { compactedMessage, emptyValue, etcdCallTimeoutMs, revisionOf, unprefix } from "./etcd-shared.js";
import type { Watch, WatchEvent, WatchHandler } from "./metadata-store.js";

const log = logger("metadata");
/** A lost watch stream is re-created after this delay, doubling up to the max. */
const watchRetryDelayMsMin = 50;
/** Bounds the wait between attempts; attempts themselves are unbounded because a watch must outlive an outage of any length (close() ends it). */
const watchRetryDelayMsMax = 1_000;
type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

export interface EtcdWatchConfig {
  client: Etcd3;
  start: Buffer;
  end: Buffer;
  namespaceBytes: number;
  fromRevision: number;
  handler: WatchHandler;
  toError: (err: unknown) => SluiceError;
  onEnd: (watch: EtcdWatch) => void;
}

/**
 * One watch on its own etcd watch stream. It tracks the last delivered revision itself and, when
 * the stream is lost, creates a new one from the next revision, dropping anything already
 * delivered, so a reconnect neither skips nor repeats a change.
 */
export class EtcdWatch implements Watch {
  lastRevision: number;
  private stream: WatchStream | undefined;
  private creating: { resolve: () => void; reject: (err: SluiceError) => void } | undefined;
  private createTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = watchRetryDelayMsMin;
  private ended = false;

  constructor(private readonly config: EtcdWatchConfig) {
    this.lastRevision = config.fromRevision - 1;
  }

  /** Opens the first stream; resolves once etcd confirms the watch, rejects (and ends it) otherwise. */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.creating = { resolve, reject };
      this.open();
    });
  }

  close(): Promise<void> {
    this.end();
    this.creating?.reject(new ClosedError("the watch was closed before etcd confirmed it"));
    this.creating = undefined;
    return Promise.resolve();
  }

  private open(): void {
    this.retryTimer = undefined;
    this.createTimer = setTimeout(() => this.lost(new UnavailableError(`etcd did not confirm a watch within ${etcdCallTimeoutMs} ms`)), etcdCallTimeoutMs);
    this.config.client.watchClient.watch().then(
      (stream) => {
        if (this.ended) {
          quiet(stream);
          return;
        }
        this.stream = stream;
        stream.on("data", (res) => {
          if (this.stream === stream) this.receive(res);
        });
        stream.on("error", (err) => {
          if (this.stream === stream) this.lost(this.config.toError(err));
        });
        stream.on("end", () => {
          if (this.stream === stream) this.lost(this.config.toError(new EtcdWatchStreamEnded()));
        });
        const { start, end } = this.config;
        stream.write({ create_request: { key: start, range_end: end, start_revision: String(this.lastRevision + 1) } });
      },
      (err: unknown) => {
        if (!this.ended) this.lost(this.config.toError(err));
      },
    );
  }

  private receive(res: IWatchResponse): void {
    if (res.canceled) {
      const compactRevision = Number(res.compact_revision);
      if (compactRevision > 0 || compactedMessage.test(res.cancel_reason)) {
        this.fail(new RevisionCompactedError(`etcd has compacted the history up to revision ${compactRevision}; the watch needed revision ${this.lastRevision + 1}`));
      } else {
        this.fail(new InternalError(`etcd cancelled the watch: ${res.cancel_reason}`));
      }
      return;
    }
    if (res.created) {
      clearTimeout(this.createTimer);
      this.retryDelayMs = watchRetryDelayMsMin;
      this.creating?.resolve();
      this.creating = undefined;
      return;
    }
    const events: WatchEvent[] = [];
    for (const ev of res.events) {
      const revision = revisionOf({ revision: ev.kv.mod_revision });
      // After a reconnect etcd may send again what was delivered before the stream was lost.
      if (revision <= this.lastRevision) continue;
      assert(events.length === 0 || revision >= events[events.length - 1]!.revision, "etcd sends a watch's events in revision order");
      const type = ev.type.toLowerCase();
      if (type === "put") {
        events.push({ type: "put", key: unprefix(ev.kv.key, this.config.namespaceBytes), value: ev.kv.value, revision });
      } else {
        assert(type === "delete", `etcd watch event type ${ev.type}`);
        events.push({ type: "delete", key: unprefix(ev.kv.key, this.config.namespaceBytes), value: emptyValue, revision });
      }
    }
    const last = events.at(-1);
    if (last === undefined) return;
    this.lastRevision = last.revision;
    try {
      this.config.handler.onEvents(events);
    } catch (err) {
      // The handler broke its own contract; end the watch and tell it once rather than carry on.
      this.fail(new InternalError("a watch handler threw from onEvents", { cause: err }));
    }
  }

  /** The stream is gone: the first creation fails the watch; a later loss reconnects after a delay. */
  private lost(err: SluiceError): void {
    if (this.ended) return;
    this.drop();
    if (this.creating !== undefined || !err.retriable) {
      this.fail(err);
      return;
    }
    this.retryTimer = setTimeout(() => this.open(), this.retryDelayMs);
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, watchRetryDelayMsMax);
  }

  /** Ends the watch for good and reports why: to watch()'s caller while creating, else to onError once. */
  private fail(err: SluiceError): void {
    if (this.ended) return;
    this.end();
    if (this.creating !== undefined) {
      this.creating.reject(err);
      this.creating = undefined;
      return;
    }
    try {
      this.config.handler.onError(err);
    } catch (again) {
      log.error("a metadata watch error handler threw", { error: String(again) });
    }
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.retryTimer);
    this.drop();
    this.config.onEnd(this);
  }

  private drop(): void {
    clearTimeout(this.createTimer);
    const stream = this.stream;
    this.stream = undefined;
    if (stream !== undefined) quiet(stream);
  }
}

/**
 * Ends a stream without etcd3 taking it for a failed host: half-close first (etcd3 only marks a
 * host failed for errors on a still-writable stream), then cancel, since etcd keeps a half-closed
 * watch stream open.
 */
function quiet(stream: WatchStream): void {
  stream.end();
  stream.cancel();
}
