/**
 * How the controller reaches segments: where a segment lives (its container's recorded owner, else
 * the placement's fallback) and the data-plane calls its workflows make. SegmentHelper
 * (segment-helper.ts) is the real SegmentOps; unit tests use an in-memory fake.
 */
import { containerOf, parseSegmentName } from "../../common/index.js";
import type { Endpoint } from "../../proto/index.js";
import { readContainerOwner, type MetadataStore } from "../store/index.js";

export type { Endpoint };

/**
 * Where segments live. A container's recorded owner (`cluster/owners/<c>`, written by the segment
 * store that took it over) always wins; `endpointOfContainer` answers for a container nobody has
 * recorded yet (standalone: the one segment store).
 */
export interface SegmentPlacement {
  readonly containerCount: number;
  endpointOfContainer(container: number): Endpoint | Promise<Endpoint>;
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
 * error is raised as the store sent it.
 */
export interface SegmentOps {
  /** Creates the segment; one that exists already counts as created. */
  createSegment(segment: string): Promise<void>;
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
export async function resolveEndpoint(store: MetadataStore, placement: SegmentPlacement, segment: string): Promise<Endpoint & { container: number }> {
  parseSegmentName(segment);
  const container = containerOf(segment, placement.containerCount);
  const owner = await readContainerOwner(store, container);
  if (owner !== undefined) return { host: owner.host, port: owner.port, container };
  const fallback = await placement.endpointOfContainer(container);
  return { host: fallback.host, port: fallback.port, container };
}
