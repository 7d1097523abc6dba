/**
 * How the client retries a request to the segment store serving a segment: retriable errors are
 * retried with doubling delays, and after an error that says the segment may be served elsewhere
 * (its container moved, the store died) the next attempt asks the controller for the endpoint
 * again. Readers, the batch client and writers share these rules and bounds.
 */
import { errorFromCode, toSluiceError, UnavailableError, type ErrorCode, type SluiceError } from "../../common/index.js";
import type { FrameOf, WireConnection } from "../../proto/index.js";

export interface ConnectOptions {
  /**
   * The endpoint used last may be stale (the store answered WRONG_HOST or CONTAINER_NOT_READY, or
   * could not be reached): ask the controller where the segment is served now.
   */
  refresh?: boolean;
}

/** A connection to the segment store serving `segment` (as the controller last answered, or anew with `refresh`). */
export type ConnectFn = (segment: string, options?: ConnectOptions) => Promise<WireConnection>;

/** Retries of one request on retriable errors before it fails UNAVAILABLE. */
export const segmentRetryCountMax = 12;
/** The first retry's delay; each next one doubles, up to segmentRetryDelayMsMax. */
export const segmentRetryDelayMsMin = 50;
export const segmentRetryDelayMsMax = 5_000;

/**
 * Retriable conditions that name what an operator must fix (a full disk, a connection cap, no
 * segment store). When the retries run out on one of them, the caller gets that code, not a bare
 * UNAVAILABLE: "STORAGE_FULL" says what to do, "UNAVAILABLE ... cause STORAGE_FULL" hides it.
 */
const operatorCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["STORAGE_FULL", "TOO_MANY_CONNECTIONS", "NO_SEGMENT_STORE"]);

/** The error a request fails with once its retries are spent on `last` (`what`: "writing S"). */
export function retriesSpentError(what: string, retries: number, last: SluiceError | undefined): SluiceError {
  const message = `gave up ${what} after ${retries} retries: ${last?.message ?? ""}`;
  if (last !== undefined && operatorCodes.has(last.code)) {
    const err = errorFromCode(last.code, message);
    err.cause = last;
    return err;
  }
  return new UnavailableError(message, { cause: last });
}

/** The delay before retry number `retry` (0 for the first retry). */
export function retryDelayMs(retry: number, delayMsMin = segmentRetryDelayMsMin): number {
  return Math.min(segmentRetryDelayMsMax, delayMsMin * 2 ** retry);
}

/**
 * True for the errors after which the segment may be served elsewhere: the store says it does not
 * (or not yet) serve the container, or the connection to it was lost or could not be made. The
 * next attempt then asks the controller for the endpoint again instead of using the cached one.
 */
export function endpointMayBeStale(err: SluiceError): boolean {
  switch (err.code) {
    case "WRONG_HOST":
    case "CONTAINER_NOT_READY":
    case "CONNECTION_CLOSED":
    case "UNAVAILABLE":
      return true;
    default:
      return false;
  }
}

export interface SegmentRequestOptions {
  /** What the request does, for the UNAVAILABLE message ("reading S", "asking for S"). */
  what: string;
  retryCountMax?: number;
  retryDelayMsMin?: number;
  /** Waits between attempts (a reader cuts it short when it is closed). */
  wait?: (ms: number) => Promise<void>;
  /** Called before each attempt; throws to stop (a closed reader). */
  check?: () => void;
  /** Whether the endpoint is known stale; kept by the caller across requests. */
  stale: { endpoint: boolean };
}

/**
 * Runs `send` on a connection to the store serving `segment`, retrying as the file comment says.
 * Non-retriable errors are raised at once; after the retries, UNAVAILABLE with the last as cause
 * (or the last's own code for a condition an operator must fix, see retriesSpentError).
 */
export async function requestSegment<T>(segment: string, connect: ConnectFn, send: (conn: WireConnection) => Promise<T>, o: SegmentRequestOptions): Promise<T> {
  const retryCountMax = o.retryCountMax ?? segmentRetryCountMax;
  const wait = o.wait ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let lastError: SluiceError | undefined;
  for (let attempt = 0; attempt <= retryCountMax; attempt++) {
    if (attempt > 0) await wait(retryDelayMs(attempt - 1, o.retryDelayMsMin));
    o.check?.();
    try {
      const refresh = o.stale.endpoint;
      o.stale.endpoint = false;
      return await send(await connect(segment, refresh ? { refresh } : {}));
    } catch (err) {
      lastError = toSluiceError(err);
      if (endpointMayBeStale(lastError)) o.stale.endpoint = true;
      if (!lastError.retriable) throw lastError;
    }
  }
  throw retriesSpentError(o.what, retryCountMax, lastError);
}

/** How long one GetSegmentInfo waits for its answer. */
const segmentInfoTimeoutMs = 30_000;

/**
 * The segment's start offset, length and seal (GetSegmentInfo), retried as requestSegment retries;
 * `stale` is the caller's endpoint flag. Raises NO_SUCH_SEGMENT, and UNAVAILABLE after the retries.
 */
export function segmentInfo(segment: string, connect: ConnectFn, stale: { endpoint: boolean }): Promise<FrameOf<"SegmentInfo">> {
  return requestSegment(
    segment,
    connect,
    (conn) => conn.request({ type: "GetSegmentInfo", requestId: conn.nextRequestId(), segment }, "SegmentInfo", segmentInfoTimeoutMs),
    { what: `asking for ${segment}`, stale },
  );
}
