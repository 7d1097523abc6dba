package io.sluice.client;

import io.sluice.client.wire.Timers;
import java.util.concurrent.CompletableFuture;

/**
 * Waiting for a sealed segment's seal to be durable (as client/writer/successor-wait.ts): the store
 * refuses appends as soon as a seal is pending and the controller names the successors once the scale
 * commits, so the writer asks GetSuccessors with doubling delays (up to 1 s) until they are named, or
 * until the stream itself is sealed (no successors ever). Retriable controller errors count as an
 * empty answer; a non-retriable one fails at once; past the deadline the wait fails UNAVAILABLE.
 */
final class SealWait {
  private static final long POLL_MS_MAX = 1_000;

  private SealWait() {}

  /** Completes true when successors are named, false when the stream is sealed. {@code deadlineNanos}: System.nanoTime() based. */
  static CompletableFuture<Boolean> untilDurable(ControllerClient controller, String segment, String scope, String stream, long deadlineNanos, long delayMs) {
    return controller.successors(segment)
        .thenCompose(s -> s.isEmpty()
            ? controller.streamInfo(scope, stream).thenApply(info -> info.sealed() ? Boolean.FALSE : null)
            : CompletableFuture.completedFuture(Boolean.TRUE))
        .handle((answer, err) -> {
          if (err != null) {
            SluiceException e = SluiceException.of(err);
            if (!e.retriable()) return CompletableFuture.<Boolean>failedFuture(e);
          } else if (answer != null) {
            return CompletableFuture.completedFuture(answer);
          }
          if (System.nanoTime() >= deadlineNanos) {
            return CompletableFuture.<Boolean>failedFuture(new SluiceException(ErrorCode.UNAVAILABLE,
                "segment " + segment + " was sealed but the controller named no successors in time"));
          }
          CompletableFuture<Boolean> next = new CompletableFuture<>();
          Timers.schedule(() -> untilDurable(controller, segment, scope, stream, deadlineNanos, Math.min(delayMs * 2, POLL_MS_MAX))
              .whenComplete((v, e) -> {
                if (e != null) next.completeExceptionally(e);
                else next.complete(v);
              }), delayMs);
          return next;
        })
        .thenCompose(f -> f);
  }
}
