/**
 * The retry policy of S3ChunkStorage: which failures may pass if tried again (5xx, 429/SlowDown,
 * per-attempt timeouts, refused or reset connections, reply bodies of the wrong length), and the
 * loop that tries one S3 call up to `attempts` times, each try with its own deadline (through an
 * AbortSignal the SDK honours), with jittered exponential backoff between tries. Running out of
 * tries is UNAVAILABLE (retriable by the caller, later), naming the object and the last cause.
 */
import type { Readable } from "node:stream";
import { S3ServiceException } from "@aws-sdk/client-s3";
import { DataCorruptionError, SluiceError, UnavailableError, logger, systemClock, type Clock } from "../../common/index.js";

const log = logger("tier2-s3");

export interface RetryPolicy {
  attempts: number;
  /** Deadline of each try, from connect to the last body byte. */
  requestTimeoutMs: number;
  /** The first wait between tries; each next one doubles, up to backoffMsMax, times a jitter in [0.5, 1). */
  backoffMsFirst: number;
  backoffMsMax: number;
  clock: Clock;
  /** In [0, 1). */
  random: () => number;
}

/** Real time whose timers, unlike systemClock's, hold the process open: a script waiting out a backoff must not exit. */
export const heldClock: Clock = {
  ...systemClock,
  setTimer(delayMs, fn) {
    const t = setTimeout(fn, delayMs);
    return { cancel: () => clearTimeout(t) };
  },
};

/** A reply body of another length than asked for: retried, then DATA_CORRUPTION. */
export class BodyLengthError extends Error {}
/** A try that passed its deadline: retried, then UNAVAILABLE. */
class AttemptTimeoutError extends Error {}

const retriableNames = new Set(["SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling",
  "ThrottlingException", "TooManyRequestsException", "ConditionalRequestConflict", "TimeoutError", "AbortError"]);
const networkCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH",
  "ENETUNREACH", "ENETDOWN", "EAI_AGAIN", "ERR_STREAM_PREMATURE_CLOSE"]);

/**
 * Runs `attempt` until it succeeds, fails for good, or has been tried `policy.attempts` times.
 * Errors that will not pass are thrown as they are, for the caller to map to typed errors; `where`
 * (the storage's description) goes into the UNAVAILABLE or DATA_CORRUPTION message.
 */
export async function retrying<T>(policy: RetryPolicy, where: string, op: string, key: string,
  attempt: (options: { abortSignal: AbortSignal }) => Promise<T>): Promise<T> {
  const { attempts, requestTimeoutMs, clock } = policy;
  let lastError: unknown;
  for (let i = 1; i <= attempts; i++) {
    const controller = new AbortController();
    const timer = clock.setTimer(requestTimeoutMs, () => controller.abort(new AttemptTimeoutError(`no answer within ${requestTimeoutMs} ms`)));
    try {
      return await attempt({ abortSignal: controller.signal });
    } catch (err) {
      const cause: unknown = controller.signal.aborted ? controller.signal.reason : err;
      if (!transient(cause)) throw err;
      lastError = cause;
    } finally {
      timer.cancel();
    }
    if (i === attempts) break;
    const waitMs = Math.min(policy.backoffMsMax, policy.backoffMsFirst * 2 ** (i - 1)) * (0.5 + policy.random() / 2);
    log.debug("retrying", { op, key, attempt: i, waitMs: Math.round(waitMs), error: describe(lastError) });
    await new Promise<void>((resolve) => clock.setTimer(waitMs, resolve));
  }
  const what = `${op} of ${key} in ${where}`;
  if (lastError instanceof BodyLengthError) throw new DataCorruptionError(`${what}: ${lastError.message}, ${attempts} times`, { cause: lastError });
  throw new UnavailableError(`${what} failed ${attempts} times; last: ${describe(lastError)}`, { cause: lastError });
}

/** Whether a failure may pass if tried again. */
export function transient(err: unknown): boolean {
  if (err instanceof BodyLengthError || err instanceof AttemptTimeoutError) return true;
  if (err instanceof SluiceError || !(err instanceof Error)) return false;
  const status = statusOf(err);
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (retriableNames.has(err.name)) return true;
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && networkCodes.has(code)) return true;
  if (err instanceof AggregateError) return err.errors.some(transient);
  // Node's http client reports a connection closed before any answer by message only.
  return !S3ServiceException.isInstance(err) && /socket hang up|ECONNRESET|ECONNREFUSED|EPIPE/i.test(err.message);
}

/** Reads exactly `length` bytes of a reply body into one buffer; another length is a BodyLengthError. */
export async function readExactly(body: Readable, length: number, signal: AbortSignal): Promise<Buffer> {
  // Filled in full below or thrown away, so its old contents never leave here.
  const buf = Buffer.allocUnsafe(length);
  let at = 0;
  // The SDK's abort covers the request; a body still streaming is cut here.
  const onAbort = () => body.destroy(signal.reason instanceof Error ? signal.reason : new AttemptTimeoutError("aborted"));
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (at + chunk.length > length) {
        body.destroy();
        throw new BodyLengthError(`the reply held more than the ${length} bytes asked for`);
      }
      chunk.copy(buf, at);
      at += chunk.length;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  if (at !== length) throw new BodyLengthError(`the reply held ${at} of the ${length} bytes asked for`);
  return buf;
}

/** The HTTP status the SDK attaches to an error (service and network errors alike). */
export function statusOf(err: unknown): number | undefined {
  return typeof err === "object" && err !== null ? (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode : undefined;
}

export function nameOf(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

/** `Name (HTTP status) CODE: message`, for logs and error messages. */
export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const status = statusOf(err);
  const code = (err as NodeJS.ErrnoException).code;
  return `${err.name}${status === undefined ? "" : ` (HTTP ${status})`}${code === undefined ? "" : ` ${code}`}: ${err.message}`;
}
