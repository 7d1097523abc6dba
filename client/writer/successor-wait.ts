/**
 * Waiting for a sealed segment's successors. The store refuses appends as soon as a seal is pending,
 * and the controller commits the scale (naming the successors) a little later, so a writer that met
 * SEGMENT_SEALED asks GetSuccessors with doubling delays until they are named. That they are named
 * also means the seal is durable: only then does the store's count of what it stored for a writer
 * stop changing. If the stream itself was sealed there are no successors, ever.
 */
import { toSluiceError, UnavailableError, type Clock, type SluiceError, writerSealPollMsMax, writerSealPollMsMin, writerSealWaitMsMax } from "../../common/index.js";
import type { KeySpan } from "./routing-table.js";

export interface SuccessorSource {
  /** The successors of `segment` with their key ranges; empty while no committed scale sealed it. */
  successors(segment: string): Promise<(KeySpan & { segment: string })[]>;
  /** True once the whole stream is sealed. */
  streamSealed(): Promise<boolean>;
}

export type SuccessorOutcome = { successors: (KeySpan & { segment: string })[] } | { streamSealed: true };

/**
 * Resolves with the successors of `segment`, or `streamSealed` when the stream was sealed. Retriable
 * controller errors are retried like an empty answer. Rejects with a non-retriable error at once
 * (NO_SUCH_SEGMENT: the stream was deleted), with UNAVAILABLE after `writerSealWaitMsMax`, and with
 * what `stopped()` returns once it returns an error (the writer was closed).
 */
export async function waitForSuccessors(segment: string, source: SuccessorSource, clock: Clock, stopped: () => SluiceError | undefined): Promise<SuccessorOutcome> {
  const deadlineMs = clock.monotonicMs() + writerSealWaitMsMax;
  let delayMs = writerSealPollMsMin;
  let lastError: SluiceError | undefined;
  for (;;) {
    const stop = stopped();
    if (stop !== undefined) throw stop;
    try {
      const successors = await source.successors(segment);
      if (successors.length > 0) return { successors };
      if (await source.streamSealed()) return { streamSealed: true };
      lastError = undefined;
    } catch (err) {
      lastError = toSluiceError(err);
      if (!lastError.retriable) throw lastError;
    }
    const leftMs = deadlineMs - clock.monotonicMs();
    if (leftMs <= 0) {
      const why = lastError === undefined ? "the controller named none" : `the controller did not answer: ${lastError.message}`;
      throw new UnavailableError(`segment ${segment} was sealed but after ${writerSealWaitMsMax} ms ${why}`, lastError === undefined ? {} : { cause: lastError });
    }
    await new Promise<void>((resolve) => clock.setTimer(Math.min(delayMs, leftMs), resolve));
    delayMs = Math.min(delayMs * 2, writerSealPollMsMax);
  }
}
