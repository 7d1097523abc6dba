package io.sluice.client;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.sluice.client.proto.*;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The client's gRPC stub for the controllers (controller.proto). Every call returns at once with a
 * future and has a deadline ({@link ClientConfig#controllerCallTimeoutMs()}). A future fails with a
 * SluiceException: the code the controller raised (from the {@code sluice-code} metadata entry, e.g.
 * NO_SUCH_STREAM, STREAM_EXISTS, SEGMENT_SEALED), or UNAVAILABLE when no controller could be reached,
 * or TIMEOUT when the deadline passed. Any controller answers any call (they share the metadata
 * store), so with several targets a call that cannot reach one goes to the next, and the one that
 * answered last is asked first. Futures complete on gRPC's executor threads; callers that do heavy
 * work in a continuation should move it to their own executor.
 */
public final class ControllerClient implements AutoCloseable {
  private static final Metadata.Key<String> CODE_KEY = Metadata.Key.of("sluice-code", Metadata.ASCII_STRING_MARSHALLER);
  private static final Pattern TARGET = Pattern.compile("^(?:tcp://)?([^:/,]+):(\\d{1,5})/?$");
  /** Bytes of a transaction tag the controller accepts (common/limits.ts txnTagBytesMax). */
  public static final int TXN_TAG_BYTES_MAX = 200;
  /** How long close() waits for the channels to finish. */
  private static final long CLOSE_WAIT_MS = 5_000;

  private final List<String> targets;
  private final List<ManagedChannel> channels;
  private final List<ControllerGrpc.ControllerFutureStub> stubs;
  private final ClientConfig config;
  private volatile int current = 0;

  private ControllerClient(List<String> targets, ClientConfig config) {
    this.targets = List.copyOf(targets);
    this.config = config;
    this.channels = new ArrayList<>();
    this.stubs = new ArrayList<>();
    for (String t : targets) {
      ManagedChannel ch = ManagedChannelBuilder.forTarget(t).usePlaintext().build();
      channels.add(ch);
      stubs.add(ControllerGrpc.newFutureStub(ch));
    }
  }

  /** Connects with the default config; see {@link #connect(String, ClientConfig)}. */
  public static ControllerClient connect(String uri) {
    return connect(uri, ClientConfig.defaults());
  }

  /**
   * A client for the controllers at {@code uri}: {@code tcp://host:port[,host:port...]}, each part
   * optionally prefixed {@code tcp://}, or a bare {@code host:port}. Channels connect lazily: nothing
   * is sent until the first call. Throws INVALID_ARGUMENT for a malformed uri.
   */
  public static ControllerClient connect(String uri, ClientConfig config) {
    if (uri == null || uri.isBlank()) throw new SluiceException(ErrorCode.INVALID_ARGUMENT, "controller URI is empty: write tcp://HOST:PORT");
    List<String> targets = new ArrayList<>();
    for (String part : uri.trim().split(",")) {
      Matcher m = TARGET.matcher(part.trim());
      if (!m.matches() || Integer.parseInt(m.group(2)) > 65535) {
        throw new SluiceException(ErrorCode.INVALID_ARGUMENT,
            "controller URI \"" + part + "\" is not valid: write tcp://HOST:PORT, e.g. tcp://127.0.0.1:9090 (several: comma-separated)");
      }
      targets.add(m.group(1) + ":" + m.group(2));
    }
    return new ControllerClient(targets, config);
  }

  /** The targets, comma-separated host:port. */
  public String target() {
    return String.join(",", targets);
  }

  public ClientConfig config() {
    return config;
  }

  /** Creates a scope; completes true if created, false if it existed. Fails INVALID_NAME. */
  public CompletableFuture<Boolean> createScope(String scope) {
    return call("CreateScope", ControllerGrpc.ControllerFutureStub::createScope, CreateScopeRequest.newBuilder().setScope(scope).build(),
        CreateScopeResponse::getCreated);
  }

  /** Creates a stream of {@code segments} fixed segments; true if created, false if it existed with that config. */
  public CompletableFuture<Boolean> createStream(String scope, String stream, int segments) {
    return createStream(scope, stream, ScalingPolicy.fixed(segments));
  }

  /** Creates a stream; fails NO_SUCH_SCOPE, INVALID_NAME, INVALID_CONFIG, STREAM_EXISTS (another config). */
  public CompletableFuture<Boolean> createStream(String scope, String stream, ScalingPolicy policy) {
    StreamConfig cfg = StreamConfig.newBuilder().setScaling(ControllerProtos.policy(policy)).build();
    return call("CreateStream", ControllerGrpc.ControllerFutureStub::createStream,
        CreateStreamRequest.newBuilder().setScope(scope).setStream(stream).setConfig(cfg).build(), CreateStreamResponse::getCreated);
  }

  /** The stream's current segments; fails NO_SUCH_SCOPE / NO_SUCH_STREAM. */
  public CompletableFuture<List<SegmentRange>> currentSegments(String scope, String stream) {
    return call("GetCurrentSegments", ControllerGrpc.ControllerFutureStub::getCurrentSegments,
        GetCurrentSegmentsRequest.newBuilder().setScope(scope).setStream(stream).build(), r -> ControllerProtos.ranges(r.getSegmentsList()));
  }

  /** The segments of {@code cut} with their offsets (null: the stream's head). */
  public CompletableFuture<List<PositionedSegment>> segmentsAtCut(String scope, String stream, StreamCut cut) {
    return call("GetSegmentsAtCut", ControllerGrpc.ControllerFutureStub::getSegmentsAtCut,
        GetSegmentsAtCutRequest.newBuilder().setScope(scope).setStream(stream).setCut(ControllerProtos.cut(cut)).build(),
        r -> ControllerProtos.positioned(r.getSegmentsList()));
  }

  /** The successors of {@code segment}; empty while no committed scale sealed it. Fails NO_SUCH_SEGMENT. */
  public CompletableFuture<List<Successor>> successors(String segment) {
    return call("GetSuccessors", ControllerGrpc.ControllerFutureStub::getSuccessors, GetSuccessorsRequest.newBuilder().setSegment(segment).build(),
        r -> ControllerProtos.successors(r.getSuccessorsList()));
  }

  /** Every segment between {@code from} (null: the head) and {@code to} (null: unbounded), with its byte range. */
  public CompletableFuture<List<SegmentSpan>> segmentsBetween(String scope, String stream, StreamCut from, StreamCut to) {
    return call("GetSegmentsBetween", ControllerGrpc.ControllerFutureStub::getSegmentsBetween,
        GetSegmentsBetweenRequest.newBuilder().setScope(scope).setStream(stream).setFrom(ControllerProtos.cut(from)).setTo(ControllerProtos.cut(to)).build(),
        r -> ControllerProtos.spans(r.getSegmentsList()));
  }

  /** Where {@code segment} is served now; fails NO_SUCH_SEGMENT, NO_SEGMENT_STORE. */
  public CompletableFuture<Endpoint> endpoint(String segment) {
    return call("GetSegmentEndpoint", ControllerGrpc.ControllerFutureStub::getSegmentEndpoint,
        GetSegmentEndpointRequest.newBuilder().setSegment(segment).build(), r -> new Endpoint(r.getHost(), r.getPort(), r.getContainer()));
  }

  /** The stream's description; fails NO_SUCH_SCOPE / NO_SUCH_STREAM. */
  public CompletableFuture<StreamInfo> streamInfo(String scope, String stream) {
    return call("GetStream", ControllerGrpc.ControllerFutureStub::getStream, GetStreamRequest.newBuilder().setScope(scope).setStream(stream).build(),
        r -> new StreamInfo(r.getScope(), r.getStream(), r.getEpoch(), ControllerProtos.ranges(r.getSegmentsList()),
            ControllerProtos.cut(r.getHead()), ControllerProtos.cut(r.getTail()), r.getSealed()));
  }

  /**
   * Seals {@code seal} and replaces them by segments of {@code newRanges} (each {keyStart, keyEnd});
   * completes once the new epoch is committed, with the new segments. Fails INVALID_ARGUMENT when the
   * ranges do not cover exactly the sealed ones, SEGMENT_SEALED / STREAM_SEALED.
   */
  public CompletableFuture<List<SegmentRange>> scale(String scope, String stream, List<String> seal, List<double[]> newRanges) {
    ScaleRequest req;
    try {
      req = ScaleRequest.newBuilder().setScope(scope).setStream(stream).addAllSeal(seal).addAllNewRanges(ControllerProtos.keyRanges(newRanges)).build();
    } catch (SluiceException e) {
      return CompletableFuture.failedFuture(e);
    }
    return call("Scale", ControllerGrpc.ControllerFutureStub::scale, req, r -> ControllerProtos.ranges(r.getSegmentsList()));
  }

  /** Seals every current segment of the stream (idempotent). */
  public CompletableFuture<Void> sealStream(String scope, String stream) {
    return call("SealStream", ControllerGrpc.ControllerFutureStub::sealStream, SealStreamRequest.newBuilder().setScope(scope).setStream(stream).build(),
        r -> null);
  }

  /** Creates an untagged transaction; see {@link #createTransaction(String, String, int, String)}. */
  public CompletableFuture<TxnInfo> createTransaction(String scope, String stream, int leaseMs) {
    return createTransaction(scope, stream, leaseMs, "");
  }

  /**
   * Creates a transaction whose lease is {@code leaseMs}, tagged {@code tag} (empty: none; at most
   * {@link #TXN_TAG_BYTES_MAX} bytes of printable ASCII), which {@link #listOpenTransactions} filters
   * on. Fails INVALID_ARGUMENT (a lease outside [1000, the controller's --txn-lease-max-ms], the
   * message naming that range; or a bad tag), NO_SUCH_STREAM, STREAM_SEALED, OVERLOADED.
   */
  public CompletableFuture<TxnInfo> createTransaction(String scope, String stream, int leaseMs, String tag) {
    if (tag == null) return CompletableFuture.failedFuture(new SluiceException(ErrorCode.INVALID_ARGUMENT, "a transaction tag is a string (empty: none), not null"));
    return call("CreateTransaction", ControllerGrpc.ControllerFutureStub::createTransaction,
        CreateTransactionRequest.newBuilder().setScope(scope).setStream(stream).setLeaseMs(leaseMs).setTag(tag).build(), ControllerProtos::txn);
  }

  /**
   * The OPEN transactions of the stream whose tag starts with {@code tagPrefix} (empty: all open
   * ones), in id order, which is creation order to the millisecond. A snapshot: one may end or be
   * created right after. The controller answers at most 12,500; a stream with more matching fails
   * OVERLOADED rather than leave some out. Fails NO_SUCH_STREAM, INVALID_ARGUMENT (the prefix).
   */
  public CompletableFuture<List<OpenTxn>> listOpenTransactions(String scope, String stream, String tagPrefix) {
    if (tagPrefix == null) return CompletableFuture.failedFuture(new SluiceException(ErrorCode.INVALID_ARGUMENT, "a tag prefix is a string (empty: all), not null"));
    return call("ListTransactions", ControllerGrpc.ControllerFutureStub::listTransactions,
        ListTransactionsRequest.newBuilder().setScope(scope).setStream(stream).setTagPrefix(tagPrefix).build(),
        r -> ControllerProtos.openTxns(r.getTransactionsList()));
  }

  /**
   * Commits a transaction; completes once it is COMMITTED, with {@link TxnCommit#alreadyCommitted()}
   * true when the controller found it committed already (a repeated commit), false when this call
   * committed it. Fails TRANSACTION_CLOSED (aborted, or its lease ran out), NO_SUCH_TRANSACTION,
   * TRANSACTION_RECORD_GONE (the record was removed after it ended: the outcome is no longer known),
   * STREAM_SEALED, UNAVAILABLE (the commit is decided and will land; ask again).
   */
  public CompletableFuture<TxnCommit> commitTransaction(String scope, String stream, String txnId) {
    return call("CommitTransaction", ControllerGrpc.ControllerFutureStub::commitTransaction,
        CommitTransactionRequest.newBuilder().setScope(scope).setStream(stream).setTxnId(txnId).build(),
        r -> new TxnCommit(ControllerProtos.state(r.getState()), r.getAlreadyCommitted()));
  }

  /** Aborts a transaction; completes with its state. Fails NO_SUCH_TRANSACTION, TRANSACTION_RECORD_GONE, TRANSACTION_CLOSED. */
  public CompletableFuture<TxnState> abortTransaction(String scope, String stream, String txnId) {
    return call("AbortTransaction", ControllerGrpc.ControllerFutureStub::abortTransaction,
        AbortTransactionRequest.newBuilder().setScope(scope).setStream(stream).setTxnId(txnId).build(), r -> ControllerProtos.state(r.getState()));
  }

  /** Extends a transaction's lease to {@code leaseMs} from now; completes with its state. Fails TRANSACTION_CLOSED, NO_SUCH_TRANSACTION, TRANSACTION_RECORD_GONE. */
  public CompletableFuture<TxnState> pingTransaction(String scope, String stream, String txnId, int leaseMs) {
    return call("PingTransaction", ControllerGrpc.ControllerFutureStub::pingTransaction,
        PingTransactionRequest.newBuilder().setScope(scope).setStream(stream).setTxnId(txnId).setLeaseMs(leaseMs).build(),
        r -> ControllerProtos.state(r.getState()));
  }

  /** A transaction's state; fails NO_SUCH_TRANSACTION, TRANSACTION_RECORD_GONE. */
  public CompletableFuture<TxnState> transactionStatus(String scope, String stream, String txnId) {
    return call("GetTransactionStatus", ControllerGrpc.ControllerFutureStub::getTransactionStatus,
        GetTransactionStatusRequest.newBuilder().setScope(scope).setStream(stream).setTxnId(txnId).build(), r -> ControllerProtos.state(r.getState()));
  }

  /** Shuts the channels down; calls in flight fail UNAVAILABLE. Waits at most 5 s. */
  @Override
  public void close() {
    for (ManagedChannel ch : channels) ch.shutdownNow();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CLOSE_WAIT_MS);
    for (ManagedChannel ch : channels) {
      try {
        ch.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /** Calls {@code method} on the target that answered last, moving on to the next when one cannot be reached. */
  private <Q, R, T> CompletableFuture<T> call(String name, BiFunction<ControllerGrpc.ControllerFutureStub, Q, ListenableFuture<R>> method, Q request,
      Function<R, T> convert) {
    CompletableFuture<T> result = new CompletableFuture<>();
    attempt(name, method, request, convert, current, 0, result);
    return result;
  }

  private <Q, R, T> void attempt(String name, BiFunction<ControllerGrpc.ControllerFutureStub, Q, ListenableFuture<R>> method, Q request,
      Function<R, T> convert, int first, int i, CompletableFuture<T> result) {
    int index = (first + i) % stubs.size();
    ListenableFuture<R> f;
    try {
      f = method.apply(stubs.get(index).withDeadlineAfter(config.controllerCallTimeoutMs(), TimeUnit.MILLISECONDS), request);
    } catch (RuntimeException e) {
      result.completeExceptionally(toTyped(name, targets.get(index), e));
      return;
    }
    Futures.addCallback(f, new FutureCallback<R>() {
      @Override
      public void onSuccess(R response) {
        current = index;
        try {
          result.complete(convert.apply(response));
        } catch (RuntimeException e) {
          result.completeExceptionally(e instanceof SluiceException ? e
              : new SluiceException(ErrorCode.INTERNAL, "controller " + name + " answer could not be read: " + e, e));
        }
      }

      @Override
      public void onFailure(Throwable t) {
        SluiceException err = toTyped(name, targets.get(index), t);
        // Only "could not reach it" moves on: a typed answer is the answer of every controller.
        boolean unreachable = err.code() == ErrorCode.UNAVAILABLE && !(t instanceof StatusRuntimeException s && codeOf(s) != null);
        if (unreachable && i + 1 < stubs.size()) attempt(name, method, request, convert, first, i + 1, result);
        else result.completeExceptionally(err);
      }
    }, MoreExecutors.directExecutor());
  }

  private static ErrorCode codeOf(StatusRuntimeException e) {
    Metadata trailers = e.getTrailers();
    String code = trailers == null ? null : trailers.get(CODE_KEY);
    if (code == null) return null;
    try {
      return ErrorCode.valueOf(code);
    } catch (IllegalArgumentException unknown) {
      // A code newer than this client: the call still failed, as INTERNAL with the server's text.
      return ErrorCode.INTERNAL;
    }
  }

  /**
   * The typed error of a failed call, as client/controller/controller-client.ts toTypedError. The gRPC
   * exception is not kept as the cause: its trailers do not serialize, and Flink ships a job's
   * failure to the client serialized, which would drop the code (the text keeps what it said).
   */
  static SluiceException toTyped(String name, String target, Throwable t) {
    if (t instanceof SluiceException s) return s;
    Status status = Status.fromThrowable(t);
    if (t instanceof StatusRuntimeException sre) {
      ErrorCode code = codeOf(sre);
      if (code != null) return new SluiceException(code, status.getDescription() == null ? code.name() : status.getDescription());
    }
    String why = status.getCause() == null ? "" : " (" + status.getCause() + ")";
    return switch (status.getCode()) {
      case UNAVAILABLE -> new SluiceException(ErrorCode.UNAVAILABLE, "controller at " + target + " is unavailable: " + status.getDescription() + why);
      case DEADLINE_EXCEEDED -> new SluiceException(ErrorCode.TIMEOUT, "controller at " + target + " did not answer " + name + " in time");
      default -> new SluiceException(ErrorCode.INTERNAL, "controller call " + name + " failed: " + status + why);
    };
  }
}
