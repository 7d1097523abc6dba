package io.sluice.client;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;

/**
 * Every expected failure of the Sluice Java client: a stable {@link ErrorCode} (the same codes as
 * {@code common/errors.ts}), whether retrying may help, and an optional cause. Programming errors
 * (a frame with a field out of range handed to the encoder) are plain {@link IllegalArgumentException}s.
 */
public class SluiceException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final ErrorCode code;

  public SluiceException(ErrorCode code, String message) {
    super(message);
    this.code = java.util.Objects.requireNonNull(code, "code");
  }

  public SluiceException(ErrorCode code, String message, Throwable cause) {
    super(message, cause);
    this.code = java.util.Objects.requireNonNull(code, "code");
  }

  /** The stable code. */
  public ErrorCode code() {
    return code;
  }

  /** The code's retriable flag. */
  public boolean retriable() {
    return code.retriable();
  }

  /**
   * Rebuilds the error a peer reported by wire id, as {@code errorFromWireId} does: an id this
   * version does not know becomes INTERNAL naming the id.
   */
  public static SluiceException fromWire(int wireId, String message) {
    ErrorCode code = ErrorCode.lookupWireId(wireId);
    if (code == null) {
      return new SluiceException(ErrorCode.INTERNAL, "unknown error id " + wireId + " from peer: " + message);
    }
    return new SluiceException(code, message);
  }

  @Override
  public String toString() {
    return "SluiceException[" + code + "]: " + getMessage();
  }

  /**
   * The SluiceException inside a future's failure (also through {@code get()}'s ExecutionException):
   * a {@code get()} deadline counts as TIMEOUT, anything else untyped as INTERNAL (a client bug).
   */
  public static SluiceException of(Throwable err) {
    Throwable t = err;
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) t = t.getCause();
    if (t instanceof SluiceException s) return s;
    if (t instanceof TimeoutException) return new SluiceException(ErrorCode.TIMEOUT, "no answer within the deadline", t);
    return new SluiceException(ErrorCode.INTERNAL, "unexpected client error: " + t, t);
  }
}
