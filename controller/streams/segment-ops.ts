/**
 * How the controller reaches segments: where a segment lives (its container's recorded owner, else
 * the placement's fallback) and the data-plane calls its workflows make. SegmentHelper
 * (segment-helper.ts) is the real SegmentOps; unit tests use an in-memory fake.
 */
import { containerOf, parseSegmentName, type SluiceError } from "../../common/index.js";
import type { Endpoint } from "../../proto/index.js";
import { readContainerOwner, type MetadataStore } from "../store/index.js";
import { forEachBounded } from "../txn/index.js";

export type { Endpoint };

/**
 * Where segments live. A container's recorded owner (`cluster/owners/<c>`, written by the segment
 * store that took it over) always wins; `endpointOfContainer` answers for a container nobody has
 * recorded yet (standalone: the one segment store).
 */
export interface SegmentPlacement {
  readonly containerCount: number;
  /**
   * Where a container nobody has recorded as its owner is served. Raises CONTAINER_NOT_READY while
   * a store may soon serve it (placement has not reached it yet), NO_SEGMENT_STORE when none can
   * (see whyUnserved).
   */
  endpointOfContainer(container: number): Endpoint | Promise<Endpoint>;
  /**
   * The error to raise at once when no segment store can serve `containers` soon: none holds a live
   * registration and no fallback store is configured, so only an operator starting one helps.
   * Undefined when a store may serve them (a caller then waits for it, within its bound). Absent:
   * a store may always serve them.
   */
  whyUnserved?(containers: readonly number[]): Promise<SluiceError | undefined>;
}

export interface CreateSegmentOptions {
  /**
   * Longest the call retries for, shorter than the implementation's own bound: stream creation
   * answers its caller well within the caller's deadline, and rolls back if this passes.
   */
  waitMsMax?: number;
}

export interface SegmentInfo {
  startOffset: number;
  length: number;
  sealed: boolean;
}

/**
 * The data-plane calls the controller makes, each naming the segment and finding its store itself.
 * Every call is idempotent as the workflows use it, so a resumed workflow can repeat any of them.
 * Implementations retry retriable failures (WRONG_HOST, CONTAINER_NOT_READY, CONNECTION_CLOSED,
 * UNAVAILABLE, OVERLOADED, TIMEOUT) for a bounded time and then raise the last one; every other
 * error is raised as the store sent it. NO_SEGMENT_STORE (no store can serve the segment's
 * container soon, see SegmentPlacement.whyUnserved) is raised at once, not retried: waiting would
 * only hold the caller until its deadline.
 */
export interface SegmentOps {
  /** Creates the segment; one that exists already counts as created. */
  createSegment(segment: string, options?: CreateSegmentOptions): Promise<void>;
  /** Seals the segment (idempotent); resolves with its final length. Raises NO_SUCH_SEGMENT. */
  sealSegment(segment: string): Promise<number>;
  /**
   * Appends all of `source` to `target` and deletes `source` (both in one container); resolves with
   * the target's length after it. Raises NO_SUCH_SEGMENT when either is absent (a source already
   * merged is absent), SEGMENT_SEALED when the target is sealed.
   */
  mergeSegments(target: string, source: string): Promise<number>;
  /** Moves the segment's start offset up to `offset` (at or below it changes nothing). Raises NO_SUCH_SEGMENT, INVALID_ARGUMENT past the length. */
  truncateSegment(segment: string, offset: number): Promise<void>;
  /** Deletes the segment; one that does not exist counts as deleted. */
  deleteSegment(segment: string): Promise<void>;
  /** The segment's start offset, length and sealed flag. Raises NO_SUCH_SEGMENT. */
  segmentInfo(segment: string): Promise<SegmentInfo>;
}

/**
 * The segment store serving `segment` (a transaction segment too) now: the recorded owner of its
 * container, else the placement's fallback. Raises INVALID_NAME, DATA_CORRUPTION (an owner record
 * that does not parse), and the metadata store's errors.
 */
/**
 * The error to raise at once when no segment store can serve `segment`'s container soon (see
 * SegmentPlacement.whyUnserved), else undefined. Raises INVALID_NAME.
 */
export async function whyUnserved(placement: SegmentPlacement, segment: string): Promise<SluiceError | undefined> {
  parseSegmentName(segment);
  return placement.whyUnserved?.([containerOf(segment, placement.containerCount)]);
}

export async function resolveEndpoint(store: MetadataStore, placement: SegmentPlacement, segment: string): Promise<Endpoint & { container: number }> {
  parseSegmentName(segment);
  const container = containerOf(segment, placement.containerCount);
  const owner = await readContainerOwner(store, container);
  if (owner !== undefined) return { host: owner.host, port: owner.port, container };
  const fallback = await placement.endpointOfContainer(container);
  return { host: fallback.host, port: fallback.port, container };
}

/**
 * Raises NO_SEGMENT_STORE (SegmentPlacement.whyUnserved) when a container of `segments` has no
 * recorded owner and no store can serve it soon, so a workflow is not started that could only
 * fail. Reads one owner record per distinct container. A recorded owner counts as serving: when it
 * cannot be reached the data-plane call finds out at once (see SegmentOps). Raises INVALID_NAME and
 * the metadata store's errors.
 */
export async function checkServable(store: MetadataStore, placement: SegmentPlacement, segments: readonly string[]): Promise<void> {
  if (placement.whyUnserved === undefined) return;
  for (const s of segments) parseSegmentName(s);
  const containers = [...new Set(segments.map((s) => containerOf(s, placement.containerCount)))];
  const unowned: number[] = [];
  await forEachBounded(containers, async (c) => {
    if ((await readContainerOwner(store, c)) === undefined) unowned.push(c);
  });
  if (unowned.length === 0) return;
  const err = await placement.whyUnserved(unowned.sort((a, b) => a - b));
  if (err !== undefined) throw err;
}
