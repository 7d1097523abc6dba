/**
 * Typed errors with stable codes. Every expected failure in Sluice is one of these classes; each
 * code maps one to one to a numeric id carried in wire `Error` frames and in gRPC status metadata,
 * so a client rebuilds the same class the server raised. `throw new Error(...)` is reserved for
 * programming errors (see assert.ts).
 */

/** The stable codes. Append only: never renumber, never reuse a wire id. */
export const errorCodes = {
  INTERNAL: { wireId: 1, retriable: false },
  INVALID_ARGUMENT: { wireId: 2, retriable: false },
  INVALID_CONFIG: { wireId: 3, retriable: false },
  INVALID_NAME: { wireId: 4, retriable: false },
  NO_SUCH_SCOPE: { wireId: 10, retriable: false },
  NO_SUCH_STREAM: { wireId: 11, retriable: false },
  NO_SUCH_SEGMENT: { wireId: 12, retriable: false },
  SCOPE_EXISTS: { wireId: 13, retriable: false },
  STREAM_EXISTS: { wireId: 14, retriable: false },
  SEGMENT_EXISTS: { wireId: 15, retriable: false },
  SCOPE_NOT_EMPTY: { wireId: 16, retriable: false },
  LEASE_NOT_FOUND: { wireId: 17, retriable: false },
  REVISION_COMPACTED: { wireId: 18, retriable: false },
  WRONG_HOST: { wireId: 20, retriable: true },
  SEGMENT_SEALED: { wireId: 21, retriable: false },
  SEGMENT_TRUNCATED: { wireId: 22, retriable: false },
  CONDITIONAL_CHECK_FAILED: { wireId: 23, retriable: false },
  INVALID_EVENT_NUMBER: { wireId: 24, retriable: false },
  AUTH_FAILED: { wireId: 25, retriable: false },
  WRITER_NOT_SET_UP: { wireId: 26, retriable: false },
  CONTAINER_NOT_READY: { wireId: 27, retriable: true },
  MALFORMED_FRAME: { wireId: 30, retriable: false },
  FRAME_TOO_LARGE: { wireId: 31, retriable: false },
  UNKNOWN_FRAME_TYPE: { wireId: 32, retriable: false },
  UNSUPPORTED_VERSION: { wireId: 33, retriable: false },
  INVALID_EVENTS: { wireId: 34, retriable: false },
  EVENT_TOO_LARGE: { wireId: 35, retriable: false },
  OVERLOADED: { wireId: 40, retriable: true },
  STORAGE_FULL: { wireId: 41, retriable: true },
  TIMEOUT: { wireId: 42, retriable: true },
  CONNECTION_CLOSED: { wireId: 43, retriable: true },
  UNAVAILABLE: { wireId: 44, retriable: true },
  CLOSED: { wireId: 45, retriable: false },
  DATA_CORRUPTION: { wireId: 50, retriable: false },
  WRITER_NOT_PRIMARY: { wireId: 60, retriable: false },
  LEDGER_FENCED: { wireId: 61, retriable: false },
  NO_SUCH_ENTRY: { wireId: 62, retriable: false },
  NO_SUCH_CHUNK: { wireId: 63, retriable: false },
  CHUNK_EXISTS: { wireId: 64, retriable: false },
  NO_SUCH_TRANSACTION: { wireId: 65, retriable: false },
  TRANSACTION_CLOSED: { wireId: 66, retriable: false },
  STREAM_SEALED: { wireId: 67, retriable: false },
  STREAM_NOT_SEALED: { wireId: 68, retriable: false },
  NO_SUCH_READER_GROUP: { wireId: 69, retriable: false },
  READER_GROUP_EXISTS: { wireId: 70, retriable: false },
  DATA_DIR_LOCKED: { wireId: 75, retriable: false },
  TOO_MANY_CONNECTIONS: { wireId: 76, retriable: true },
  NO_SEGMENT_STORE: { wireId: 79, retriable: true },
  TRANSACTION_RECORD_GONE: { wireId: 80, retriable: false },
} as const;

export type ErrorCode = keyof typeof errorCodes;

const codeByWireId = new Map<number, ErrorCode>();
for (const [code, info] of Object.entries(errorCodes) as [ErrorCode, { wireId: number }][]) {
  if (codeByWireId.has(info.wireId)) throw new Error(`duplicate wire id ${info.wireId}`);
  codeByWireId.set(info.wireId, code);
}

export interface SluiceErrorOptions {
  cause?: unknown;
}

/** Base class: a stable `code`, a `retriable` flag, and an optional `cause`. */
export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = errorCodes[code].retriable;
    this.name = errorClassName(code);
  }

  get wireId(): number {
    return errorCodes[this.code].wireId;
  }
}

function errorClassName(code: ErrorCode): string {
  return code.toLowerCase().replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase()) + "Error";
}

function defineError(code: ErrorCode) {
  return class extends SluiceError {
    constructor(message: string, options: SluiceErrorOptions = {}) {
      super(code, message, options);
    }
  };
}

export class InternalError extends defineError("INTERNAL") {}
export class InvalidArgumentError extends defineError("INVALID_ARGUMENT") {}
export class InvalidConfigError extends defineError("INVALID_CONFIG") {}
export class InvalidNameError extends defineError("INVALID_NAME") {}
export class NoSuchScopeError extends defineError("NO_SUCH_SCOPE") {}
export class NoSuchStreamError extends defineError("NO_SUCH_STREAM") {}
export class NoSuchSegmentError extends defineError("NO_SUCH_SEGMENT") {}
export class ScopeExistsError extends defineError("SCOPE_EXISTS") {}
export class StreamExistsError extends defineError("STREAM_EXISTS") {}
export class SegmentExistsError extends defineError("SEGMENT_EXISTS") {}
export class ScopeNotEmptyError extends defineError("SCOPE_NOT_EMPTY") {}
/** A lease that has expired, was revoked, or never existed. */
export class LeaseNotFoundError extends defineError("LEASE_NOT_FOUND") {}
/** A watch asked for history the metadata store no longer keeps; list again and watch from there. */
export class RevisionCompactedError extends defineError("REVISION_COMPACTED") {}
export class WrongHostError extends defineError("WRONG_HOST") {}
export class SegmentSealedError extends defineError("SEGMENT_SEALED") {}
export class SegmentTruncatedError extends defineError("SEGMENT_TRUNCATED") {}
export class ConditionalCheckFailedError extends defineError("CONDITIONAL_CHECK_FAILED") {}
export class InvalidEventNumberError extends defineError("INVALID_EVENT_NUMBER") {}
export class AuthFailedError extends defineError("AUTH_FAILED") {}
export class WriterNotSetUpError extends defineError("WRITER_NOT_SET_UP") {}
export class ContainerNotReadyError extends defineError("CONTAINER_NOT_READY") {}
export class MalformedFrameError extends defineError("MALFORMED_FRAME") {}
export class FrameTooLargeError extends defineError("FRAME_TOO_LARGE") {}
export class UnknownFrameTypeError extends defineError("UNKNOWN_FRAME_TYPE") {}
export class UnsupportedVersionError extends defineError("UNSUPPORTED_VERSION") {}
export class InvalidEventsError extends defineError("INVALID_EVENTS") {}
export class EventTooLargeError extends defineError("EVENT_TOO_LARGE") {}
export class OverloadedError extends defineError("OVERLOADED") {}
export class StorageFullError extends defineError("STORAGE_FULL") {}
export class TimeoutError extends defineError("TIMEOUT") {}
export class ConnectionClosedError extends defineError("CONNECTION_CLOSED") {}
export class UnavailableError extends defineError("UNAVAILABLE") {}
export class ClosedError extends defineError("CLOSED") {}
export class DataCorruptionError extends defineError("DATA_CORRUPTION") {}
/** A container log's owner was fenced by a newer owner (higher epoch); it must stop using the log. */
export class WriterNotPrimaryError extends defineError("WRITER_NOT_PRIMARY") {}
/** A log node refuses an add to a ledger that a recovering writer has fenced. */
export class LedgerFencedError extends defineError("LEDGER_FENCED") {}
/** A log node does not hold the entry asked for (never written there, or its ledger is deleted). */
export class NoSuchEntryError extends defineError("NO_SUCH_ENTRY") {}
/** Tier-2 holds no chunk of that name (never written, or deleted after truncation). */
export class NoSuchChunkError extends defineError("NO_SUCH_CHUNK") {}
/** A Tier-2 chunk of that name exists with other content; chunks are never overwritten. */
export class ChunkExistsError extends defineError("CHUNK_EXISTS") {}
/** No transaction of that id (never created, or its record was cleaned up after it ended). */
export class NoSuchTransactionError extends defineError("NO_SUCH_TRANSACTION") {}
/** The transaction has ended the other way: commit after abort (or expiry), abort after commit, writes after either. */
export class TransactionClosedError extends defineError("TRANSACTION_CLOSED") {}
/** The stream is sealed: no scale, transaction or config change; reads still work. */
export class StreamSealedError extends defineError("STREAM_SEALED") {}
/** Only a sealed stream can be deleted: seal it first. */
export class StreamNotSealedError extends defineError("STREAM_NOT_SEALED") {}
export class NoSuchReaderGroupError extends defineError("NO_SUCH_READER_GROUP") {}
export class ReaderGroupExistsError extends defineError("READER_GROUP_EXISTS") {}
/** Another live process holds the data directory (or metadata / journal directory) this one was to open. */
export class DataDirLockedError extends defineError("DATA_DIR_LOCKED") {}
/** A server refused a connection: it holds as many as its per-peer or global cap allows. Retry later. */
export class TooManyConnectionsError extends defineError("TOO_MANY_CONNECTIONS") {}
/**
 * No live segment store can serve the containers a call needs (none registered, no fallback
 * configured, or the one recorded cannot be reached while none is live): the controller answers at
 * once instead of waiting. Retriable: start a segment store (`sluice segmentstore --controller ...`).
 */
export class NoSegmentStoreError extends defineError("NO_SEGMENT_STORE") {}
/**
 * A transaction call (commit, status, abort, ping) names an id whose record is gone: the id's
 * embedded creation time is older than the controller keeps ended records (--txn-record-kept-ms),
 * so if the transaction existed it ended long ago and whether it committed is no longer known.
 * Distinct from NO_SUCH_TRANSACTION (an id that never had a record within that time). Not retriable.
 */
export class TransactionRecordGoneError extends defineError("TRANSACTION_RECORD_GONE") {}

const classByCode: { [C in ErrorCode]: new (message: string, options?: SluiceErrorOptions) => SluiceError } = {
  INTERNAL: InternalError,
  INVALID_ARGUMENT: InvalidArgumentError,
  INVALID_CONFIG: InvalidConfigError,
  INVALID_NAME: InvalidNameError,
  NO_SUCH_SCOPE: NoSuchScopeError,
  NO_SUCH_STREAM: NoSuchStreamError,
  NO_SUCH_SEGMENT: NoSuchSegmentError,
  SCOPE_EXISTS: ScopeExistsError,
  STREAM_EXISTS: StreamExistsError,
  SEGMENT_EXISTS: SegmentExistsError,
  SCOPE_NOT_EMPTY: ScopeNotEmptyError,
  LEASE_NOT_FOUND: LeaseNotFoundError,
  REVISION_COMPACTED: RevisionCompactedError,
  WRONG_HOST: WrongHostError,
  SEGMENT_SEALED: SegmentSealedError,
  SEGMENT_TRUNCATED: SegmentTruncatedError,
  CONDITIONAL_CHECK_FAILED: ConditionalCheckFailedError,
  INVALID_EVENT_NUMBER: InvalidEventNumberError,
  AUTH_FAILED: AuthFailedError,
  WRITER_NOT_SET_UP: WriterNotSetUpError,
  CONTAINER_NOT_READY: ContainerNotReadyError,
  MALFORMED_FRAME: MalformedFrameError,
  FRAME_TOO_LARGE: FrameTooLargeError,
  UNKNOWN_FRAME_TYPE: UnknownFrameTypeError,
  UNSUPPORTED_VERSION: UnsupportedVersionError,
  INVALID_EVENTS: InvalidEventsError,
  EVENT_TOO_LARGE: EventTooLargeError,
  OVERLOADED: OverloadedError,
  STORAGE_FULL: StorageFullError,
  TIMEOUT: TimeoutError,
  CONNECTION_CLOSED: ConnectionClosedError,
  UNAVAILABLE: UnavailableError,
  CLOSED: ClosedError,
  DATA_CORRUPTION: DataCorruptionError,
  WRITER_NOT_PRIMARY: WriterNotPrimaryError,
  LEDGER_FENCED: LedgerFencedError,
  NO_SUCH_ENTRY: NoSuchEntryError,
  NO_SUCH_CHUNK: NoSuchChunkError,
  CHUNK_EXISTS: ChunkExistsError,
  NO_SUCH_TRANSACTION: NoSuchTransactionError,
  TRANSACTION_CLOSED: TransactionClosedError,
  STREAM_SEALED: StreamSealedError,
  STREAM_NOT_SEALED: StreamNotSealedError,
  NO_SUCH_READER_GROUP: NoSuchReaderGroupError,
  READER_GROUP_EXISTS: ReaderGroupExistsError,
  DATA_DIR_LOCKED: DataDirLockedError,
  TOO_MANY_CONNECTIONS: TooManyConnectionsError,
  NO_SEGMENT_STORE: NoSegmentStoreError,
  TRANSACTION_RECORD_GONE: TransactionRecordGoneError,
};

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(errorCodes, value);
}

/** Rebuilds the typed error for a code received from a peer. */
export function errorFromCode(code: ErrorCode, message: string): SluiceError {
  return new classByCode[code](message);
}

/** Rebuilds the typed error for a wire id; an unknown id becomes INTERNAL naming the id. */
export function errorFromWireId(wireId: number, message: string): SluiceError {
  const code = codeByWireId.get(wireId);
  if (code === undefined) return new InternalError(`unknown error id ${wireId} from peer: ${message}`);
  return errorFromCode(code, message);
}

/** Wraps anything thrown into a SluiceError (INTERNAL unless it already is one). */
export function toSluiceError(err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError(message, { cause: err });
}
