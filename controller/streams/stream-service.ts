/**
 * StreamService: the controller's scopes, streams, segments, scaling and transactions over the
 * MetadataStore and the segment stores. Every change to a stream's segments is a resumable
 * workflow run in the stream record's one slot (workflow-slot.ts): a controller that dies mid-way
 * leaves a record any controller finishes through resumeWorkflows, each step idempotent and each
 * decision a compare-and-set, so two controllers may run the same workflow at once.
 *
 * Errors are typed (common/errors.ts): INVALID_NAME and INVALID_ARGUMENT for bad input (naming the
 * field), NO_SUCH_SCOPE / NO_SUCH_STREAM / NO_SUCH_SEGMENT / NO_SUCH_TRANSACTION, SCOPE_NOT_EMPTY,
 * STREAM_SEALED, STREAM_NOT_SEALED, TRANSACTION_CLOSED, CONDITIONAL_CHECK_FAILED (a scale lost to
 * another), OVERLOADED, and UNAVAILABLE (retriable: a busy slot, a metadata store or segment store
 * that did not answer; a durable decision already taken still lands).
 */
import { validateName, type Clock, type SluiceError } from "../../common/index.js";
import type {
  CreateTransactionResponse,
  ListTransactionsResponse,
  GetStreamResponse,
  KeyRange,
  PositionedSegment,
  ScaleResponse,
  SegmentRange,
  SegmentSpan,
  StreamConfig,
  StreamCut,
  Successor,
  TransactionStatusResponse,
} from "../../proto/index.js";
import type { CurrentSegment, StreamOps, StreamSummary, TailCut } from "../control-ops.js";
import type { MetadataStore } from "../store/index.js";
import { abortTxn, expireTransactions, pingTxn, requireTxn, txnSettings, txnStatus, validateLeaseMs, validateTxnId, type TxnSettings } from "../txn/index.js";
import { commitTxn } from "./commit-workflow.js";
import { deleteStream } from "./delete-workflow.js";
import { scale } from "./scale-workflow.js";
import { createScope, deleteScope, listScopes } from "./scopes.js";
import { sealStream } from "./seal-workflow.js";
import { resolveEndpoint, whyUnserved, type Endpoint, type SegmentOps, type SegmentPlacement } from "./segment-ops.js";
import type { StreamContext } from "./stream-context.js";
import { createStream, listActiveStreams, listStreams, updateStream } from "./stream-lifecycle.js";
import { currentRanges, currentSegments, getStream, segmentsAtCut, segmentsBetween, successors, tailCut } from "./stream-queries.js";
import { createTransaction, listOpenTransactions } from "./transactions.js";
import { truncateStream } from "./truncate-workflow.js";
import { resumeWorkflows, runWorkflow } from "./workflow-runner.js";

export interface StreamServiceOptions {
  /**
   * Test hook: after sealing a scale's predecessors, log info "scale: predecessors sealed" with
   * {scope, stream, epoch} and wait this long before committing (so a test can kill the process
   * exactly there). 0 or absent: no pause.
   */
  pauseAfterSealMs?: number;
  /** Transaction record keeping and longest lease (default txnSettingsDefault); validated by txnSettings. */
  txn?: Partial<TxnSettings>;
}

export class StreamService implements StreamOps {
  private readonly ctx: StreamContext;

  constructor(
    private readonly store: MetadataStore,
    private readonly placement: SegmentPlacement,
    segments: SegmentOps,
    private readonly clock: Clock,
    options: StreamServiceOptions = {},
  ) {
    const ctx: StreamContext = {
      store,
      placement,
      segments,
      clock,
      txn: txnSettings(options.txn),
      pauseAfterSealMs: options.pauseAfterSealMs ?? 0,
      runWorkflow: (scope, stream, workflow) => runWorkflow(ctx, scope, stream, workflow),
    };
    this.ctx = ctx;
  }

  // Scopes.

  /** Creates a scope; false if it exists. Raises INVALID_NAME. */
  createScope(scope: string): Promise<boolean> {
    return createScope(this.store, this.clock, scope);
  }

  listScopes(): Promise<string[]> {
    return listScopes(this.store);
  }

  /** Deletes an empty scope; false if absent. Raises INVALID_NAME, SCOPE_NOT_EMPTY. */
  deleteScope(scope: string): Promise<boolean> {
    return deleteScope(this.store, scope);
  }

  // Streams.

  /** Creates a stream; false if it exists. Raises INVALID_NAME, INVALID_ARGUMENT, NO_SUCH_SCOPE. */
  createStream(scope: string, stream: string, config?: StreamConfig): Promise<boolean> {
    return createStream(this.ctx, scope, stream, config);
  }

  /** Stores a new config, rescaling to a FIXED count or up to a rate policy's minSegments. */
  updateStream(scope: string, stream: string, config?: StreamConfig): Promise<void> {
    return updateStream(this.ctx, scope, stream, config);
  }

  /** Seals every current segment (idempotent); open transactions are aborted, committing ones land first. */
  sealStream(scope: string, stream: string): Promise<void> {
    return sealStream(this.ctx, scope, stream);
  }

  /** Deletes a sealed stream, its segments and records. Raises STREAM_NOT_SEALED, NO_SUCH_STREAM. */
  deleteStream(scope: string, stream: string): Promise<void> {
    return deleteStream(this.ctx, scope, stream);
  }

  /** Moves the head to `cut`, deleting what lies before it. */
  truncateStream(scope: string, stream: string, cut: StreamCut | undefined): Promise<void> {
    return truncateStream(this.ctx, scope, stream, cut);
  }

  getStream(scope: string, stream: string): Promise<GetStreamResponse> {
    return getStream(this.ctx, scope, stream);
  }

  /** Streams of a scope that exist (active, sealing, sealed). Raises NO_SUCH_SCOPE. */
  listStreams(scope: string): Promise<string[]> {
    return listStreams(this.ctx, scope);
  }

  listActiveStreams(): Promise<StreamSummary[]> {
    return listActiveStreams(this.ctx);
  }

  // Segments.

  currentSegments(scope: string, stream: string): Promise<{ epoch: number; segments: CurrentSegment[] }> {
    return currentSegments(this.ctx, scope, stream);
  }

  /** The current segments' ranges (GetCurrentSegments). */
  currentRanges(scope: string, stream: string): Promise<SegmentRange[]> {
    return currentRanges(this.ctx, scope, stream);
  }

  /** The segments of a cut (absent or empty: the head) with their offsets. */
  segmentsAtCut(scope: string, stream: string, cut?: StreamCut): Promise<PositionedSegment[]> {
    return segmentsAtCut(this.ctx, scope, stream, cut);
  }

  successors(segment: string): Promise<Successor[]> {
    return successors(this.ctx, segment);
  }

  segmentsBetween(scope: string, stream: string, from?: StreamCut, to?: StreamCut): Promise<SegmentSpan[]> {
    return segmentsBetween(this.ctx, scope, stream, from, to);
  }

  /** The store serving a segment (a transaction segment too) now. Raises INVALID_NAME, NO_SEGMENT_STORE, CONTAINER_NOT_READY. */
  endpointOf(segment: string): Promise<Endpoint & { container: number }> {
    return resolveEndpoint(this.store, this.placement, segment);
  }

  /** NO_SEGMENT_STORE when no segment store can serve the segment soon, else undefined (see SegmentPlacement.whyUnserved). */
  whyUnserved(segment: string): Promise<SluiceError | undefined> {
    return whyUnserved(this.placement, segment);
  }

  scale(scope: string, stream: string, seal: readonly string[], newRanges: readonly KeyRange[]): Promise<ScaleResponse> {
    return scale(this.ctx, scope, stream, seal, newRanges);
  }

  tailCut(scope: string, stream: string): Promise<TailCut | undefined> {
    return tailCut(this.ctx, scope, stream);
  }

  truncate(scope: string, stream: string, cut: StreamCut): Promise<void> {
    return truncateStream(this.ctx, scope, stream, cut);
  }

  // Transactions.

  /** Opens a transaction tagged `tag` (default none); see transactions.ts createTransaction. */
  createTransaction(scope: string, stream: string, leaseMs: number, tag = ""): Promise<CreateTransactionResponse> {
    return createTransaction(this.ctx, scope, stream, leaseMs, tag);
  }

  /** The OPEN transactions whose tag starts with `tagPrefix`, in id order; see transactions.ts listOpenTransactions. */
  listTransactions(scope: string, stream: string, tagPrefix: string): Promise<ListTransactionsResponse> {
    return listOpenTransactions(this.ctx, scope, stream, tagPrefix);
  }

  /**
   * Commits (resolves once COMMITTED, with alreadyCommitted when this call found it COMMITTED). Raises
   * TRANSACTION_CLOSED, STREAM_SEALED, NO_SUCH_TRANSACTION, TRANSACTION_RECORD_GONE.
   */
  async commitTransaction(scope: string, stream: string, txnId: string): Promise<TransactionStatusResponse> {
    const { record, alreadyCommitted } = await commitTxn(this.ctx, scope, stream, txnId);
    return txnStatus(record, alreadyCommitted);
  }

  /** Aborts (resolves once ABORTED). Raises TRANSACTION_CLOSED (committing or committed), NO_SUCH_TRANSACTION, TRANSACTION_RECORD_GONE. */
  async abortTransaction(scope: string, stream: string, txnId: string): Promise<TransactionStatusResponse> {
    this.checkTxnNames(scope, stream, txnId);
    return txnStatus(await abortTxn(this.store, this.ctx.segments, this.clock, scope, stream, txnId, this.ctx.txn.recordKeptMs));
  }

  /** Sets an OPEN transaction's lease to end leaseMs from now. Raises TRANSACTION_CLOSED, NO_SUCH_TRANSACTION, TRANSACTION_RECORD_GONE, INVALID_ARGUMENT. */
  async pingTransaction(scope: string, stream: string, txnId: string, leaseMs: number): Promise<TransactionStatusResponse> {
    this.checkTxnNames(scope, stream, txnId);
    validateLeaseMs(leaseMs, this.ctx.txn.leaseMsMax);
    return txnStatus(await pingTxn(this.store, this.ctx.segments, this.clock, scope, stream, txnId, leaseMs, this.ctx.txn.recordKeptMs));
  }

  /** A transaction's state. Raises NO_SUCH_TRANSACTION, TRANSACTION_RECORD_GONE. */
  async transactionStatus(scope: string, stream: string, txnId: string): Promise<TransactionStatusResponse> {
    this.checkTxnNames(scope, stream, txnId);
    return txnStatus((await requireTxn(this.store, scope, stream, txnId, this.clock, this.ctx.txn.recordKeptMs)).record);
  }

  // Background work of the leader.

  /** Finishes every workflow started at least olderThanMs ago (0: all); raises the first failure after trying all. */
  resumeWorkflows(olderThanMs: number): Promise<void> {
    return resumeWorkflows(this.ctx, olderThanMs);
  }

  /**
   * Aborts OPEN transactions past their lease; removes records of transactions ended
   * --txn-record-kept-ms ago. Raises the first failure after trying all.
   */
  async expireTransactions(): Promise<void> {
    await expireTransactions(this.store, this.ctx.segments, this.clock, this.ctx.txn.recordKeptMs);
  }

  private checkTxnNames(scope: string, stream: string, txnId: string): void {
    validateName("scope", scope);
    validateName("stream", stream);
    validateTxnId(txnId);
  }
}
