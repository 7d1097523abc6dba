package io.sluice.client;

import java.util.HashMap;
import java.util.Map;

/**
 * The stable error codes of Sluice, one to one with {@code common/errors.ts}: the same names, the
 * same numeric wire ids (carried in wire {@code Error} frames and in the {@code sluice-code} gRPC
 * metadata) and the same retriable flags. Append only: an id is never renumbered or reused. The
 * shared vectors ({@code proto/vectors/errors.json}) prove this table equals the TypeScript one.
 */
public enum ErrorCode {
  INTERNAL(1, false),
  INVALID_ARGUMENT(2, false),
  INVALID_CONFIG(3, false),
  INVALID_NAME(4, false),
  NO_SUCH_SCOPE(10, false),
  NO_SUCH_STREAM(11, false),
  NO_SUCH_SEGMENT(12, false),
  SCOPE_EXISTS(13, false),
  STREAM_EXISTS(14, false),
  SEGMENT_EXISTS(15, false),
  SCOPE_NOT_EMPTY(16, false),
  LEASE_NOT_FOUND(17, false),
  REVISION_COMPACTED(18, false),
  WRONG_HOST(20, true),
  SEGMENT_SEALED(21, false),
  SEGMENT_TRUNCATED(22, false),
  CONDITIONAL_CHECK_FAILED(23, false),
  INVALID_EVENT_NUMBER(24, false),
  AUTH_FAILED(25, false),
  WRITER_NOT_SET_UP(26, false),
  CONTAINER_NOT_READY(27, true),
  MALFORMED_FRAME(30, false),
  FRAME_TOO_LARGE(31, false),
  UNKNOWN_FRAME_TYPE(32, false),
  UNSUPPORTED_VERSION(33, false),
  INVALID_EVENTS(34, false),
  EVENT_TOO_LARGE(35, false),
  OVERLOADED(40, true),
  STORAGE_FULL(41, true),
  TIMEOUT(42, true),
  CONNECTION_CLOSED(43, true),
  UNAVAILABLE(44, true),
  CLOSED(45, false),
  DATA_CORRUPTION(50, false),
  WRITER_NOT_PRIMARY(60, false),
  LEDGER_FENCED(61, false),
  NO_SUCH_ENTRY(62, false),
  NO_SUCH_CHUNK(63, false),
  CHUNK_EXISTS(64, false),
  NO_SUCH_TRANSACTION(65, false),
  TRANSACTION_CLOSED(66, false),
  STREAM_SEALED(67, false),
  STREAM_NOT_SEALED(68, false),
  NO_SUCH_READER_GROUP(69, false),
  READER_GROUP_EXISTS(70, false),
  DATA_DIR_LOCKED(75, false),
  TOO_MANY_CONNECTIONS(76, true),
  NO_SEGMENT_STORE(79, true),
  /**
   * A transaction call names an id whose record is gone: the id (its first 12 hex digits are its
   * creation time) is older than the controller keeps ended records, so its outcome is no longer
   * known. Not retriable.
   */
  TRANSACTION_RECORD_GONE(80, false);

  private static final Map<Integer, ErrorCode> BY_WIRE_ID = new HashMap<>();

  static {
    for (ErrorCode code : values()) {
      if (BY_WIRE_ID.put(code.wireId, code) != null) {
        throw new IllegalStateException("duplicate wire id " + code.wireId);
      }
    }
  }

  private final int wireId;
  private final boolean retriable;

  ErrorCode(int wireId, boolean retriable) {
    this.wireId = wireId;
    this.retriable = retriable;
  }

  /** The numeric id of this code on the wire and in gRPC metadata. */
  public int wireId() {
    return wireId;
  }

  /** True when the same call may succeed if tried again (after a backoff or a new endpoint). */
  public boolean retriable() {
    return retriable;
  }

  /** The code for a wire id, or {@link #INTERNAL} for an id this version does not know. */
  public static ErrorCode fromWireId(int id) {
    ErrorCode code = BY_WIRE_ID.get(id);
    return code == null ? INTERNAL : code;
  }

  /** The code for a wire id, or null for an id this version does not know. */
  public static ErrorCode lookupWireId(int id) {
    return BY_WIRE_ID.get(id);
  }
}
