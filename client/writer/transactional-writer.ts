/**
 * Transactional writes: `beginTransaction()` asks the controller for a transaction, which has one
 * transaction segment per segment of the stream's current epoch. Events are routed by key onto
 * those (as the EventWriter routes onto segments) and written with the same exactly-once segment
 * writers; nobody reads them until `commit()` merges every transaction segment into its parent, all
 * or nothing. While a transaction is open its lease is renewed in the background (a third of the
 * lease), so only a client that died or hung lets it expire and be aborted.
 */
import { ClosedError, EventTooLargeError, InvalidArgumentError, TransactionClosedError, eventBytesMax, keyPosition, logger, parseStreamName, toSluiceError, txnLeaseMsCap, txnLeaseMsMin } from "../../common/index.js";
import type { ControllerMethod, ControllerMethods, TxnSegment, TxnState, WireConnection } from "../../proto/index.js";
import type { ConnectOptions } from "../connection/segment-retry.js";
import { SegmentWriter } from "./segment-writer.js";
import type { WriteOptions } from "./event-writer.js";

const log = logger("txn");
const leaseMsDefault = 30_000;

export interface TransactionServices {
  call<M extends ControllerMethod>(method: M, request: ControllerMethods[M][0]): Promise<ControllerMethods[M][1]>;
  connect(segment: string, options?: ConnectOptions): Promise<WireConnection>;
}

export interface TransactionOptions {
  /**
   * The transaction is aborted if the client does not renew it within this time (default 30 s). An
   * integer of at least txnLeaseMsMin and at most txnLeaseMsCap (24 h); the controller refuses one
   * above its --txn-lease-max-ms (default 1 h) with INVALID_ARGUMENT naming its range.
   */
  leaseMs?: number;
}

export class TransactionalWriter {
  constructor(
    readonly stream: string,
    private readonly services: TransactionServices,
  ) {
    parseStreamName(stream);
  }

  /**
   * Opens a transaction. Raises NO_SUCH_STREAM, STREAM_SEALED, INVALID_ARGUMENT (a lease outside
   * [txnLeaseMsMin, txnLeaseMsCap] here, or above the controller's --txn-lease-max-ms there), OVERLOADED.
   */
  async beginTransaction(options: TransactionOptions = {}): Promise<Transaction> {
    const leaseMs = options.leaseMs ?? leaseMsDefault;
    // Only the absolute bounds here: the controller knows its configured longest lease and says so.
    if (!Number.isInteger(leaseMs) || leaseMs < txnLeaseMsMin || leaseMs > txnLeaseMsCap) {
      throw new InvalidArgumentError(`leaseMs must be an integer in [${txnLeaseMsMin}, ${txnLeaseMsCap}], got ${leaseMs}`);
    }
    const { scope, stream } = parseStreamName(this.stream);
    const r = await this.services.call("CreateTransaction", { scope, stream, leaseMs });
    return new Transaction(scope, stream, r.txnId, r.segments, leaseMs, this.services);
  }
}

export class Transaction {
  private readonly writers: { keyStart: number; keyEnd: number; writer: SegmentWriter }[];
  private readonly pinger: NodeJS.Timeout;
  private ended = false;
  /** commit() was called: no more writes, but the lease is kept alive until the commit is answered. */
  private committing = false;

  constructor(
    private readonly scope: string,
    private readonly stream: string,
    readonly id: string,
    segments: readonly TxnSegment[],
    leaseMs: number,
    private readonly services: TransactionServices,
  ) {
    const context = { connect: (s: string, o?: ConnectOptions) => services.connect(s, o), released: () => undefined };
    this.writers = segments.map((s) => ({ keyStart: s.parent?.keyStart ?? 0, keyEnd: s.parent?.keyEnd ?? 1, writer: new SegmentWriter(s.txnSegment, context) }));
    // Renewing well within the lease leaves room for two lost pings before it runs out.
    this.pinger = setInterval(() => void this.ping(leaseMs), Math.max(100, Math.floor(leaseMs / 3)));
    this.pinger.unref();
  }

  /** Writes one event into the transaction; resolves once it is durable (still invisible). */
  write(data: Uint8Array | string, options: WriteOptions = {}): Promise<void> {
    if (this.ended || this.committing) return Promise.reject(new TransactionClosedError(`transaction ${this.id} is ${this.ended ? "over" : "being committed"}; begin another`));
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    if (bytes.length > eventBytesMax) return Promise.reject(new EventTooLargeError(`event of ${bytes.length} bytes exceeds the ${eventBytesMax}-byte limit`));
    const position = options.routingKey === undefined ? Math.random() : keyPosition(options.routingKey);
    const entry = this.writers.find((w) => position >= w.keyStart && position < w.keyEnd) ?? this.writers[this.writers.length - 1];
    if (entry === undefined) return Promise.reject(new InvalidArgumentError(`transaction ${this.id} has no segments`));
    return entry.writer.write(bytes);
  }

  /** Resolves when every event written so far is durable in the transaction's segments. */
  async flush(): Promise<void> {
    await Promise.all(this.writers.map((w) => w.writer.flush()));
  }

  /**
   * Flushes, then commits: every event becomes visible, all at once per segment. Raises
   * TRANSACTION_CLOSED if it was aborted. After a retriable failure (UNAVAILABLE, TIMEOUT) the
   * transaction stays open, its lease renewed, and commit() may be called again: a commit is
   * idempotent on the controller.
   */
  async commit(): Promise<void> {
    if (this.ended) throw new ClosedError(`transaction ${this.id} has ended`);
    this.committing = true;
    await this.flush();
    try {
      await this.services.call("CommitTransaction", { scope: this.scope, stream: this.stream, txnId: this.id });
    } catch (err) {
      if (!toSluiceError(err).retriable) this.end();
      throw err;
    }
    this.end();
  }

  /** Drops every event of the transaction. Raises TRANSACTION_CLOSED if it was committed. */
  async abort(): Promise<void> {
    this.end();
    await this.services.call("AbortTransaction", { scope: this.scope, stream: this.stream, txnId: this.id });
  }

  async status(): Promise<TxnState> {
    return (await this.services.call("GetTransactionStatus", { scope: this.scope, stream: this.stream, txnId: this.id })).state;
  }

  private end(): void {
    this.ended = true;
    clearInterval(this.pinger);
    for (const w of this.writers) w.writer.close();
  }

  private async ping(leaseMs: number): Promise<void> {
    try {
      await this.services.call("PingTransaction", { scope: this.scope, stream: this.stream, txnId: this.id, leaseMs });
    } catch (err) {
      const e = toSluiceError(err);
      log.warn("could not renew a transaction's lease", { txn: this.id, code: e.code, error: e.message });
      if (!e.retriable) this.end();
    }
  }
}
