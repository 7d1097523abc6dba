/**
 * Segment management frames beyond create and info (wire.md, "Segment management"), and the
 * Tier-2 chunk listing (wire.md, "Tier-2 chunks"): shapes only;
 * frames.ts gathers them into the Frame union and segment-frames-codec.ts encodes them.
 */
export interface SealSegmentFrame {
  type: "SealSegment";
  requestId: number;
  segment: string;
}

export interface SegmentSealedFrame {
  type: "SegmentSealed";
  requestId: number;
  segment: string;
  /** The segment's final length. */
  length: number;
}

export interface TruncateSegmentFrame {
  type: "TruncateSegment";
  requestId: number;
  segment: string;
  /** >= 0: the new start offset; bytes below it can no longer be read. */
  startOffset: number;
}

export interface SegmentTruncatedFrame {
  type: "SegmentTruncated";
  requestId: number;
  segment: string;
  /** The segment's start offset after the request (unchanged if the request was at or below it). */
  startOffset: number;
}

export interface MergeSegmentsFrame {
  type: "MergeSegments";
  requestId: number;
  target: string;
  /** Sealed if need be, appended whole to `target`, then deleted. */
  source: string;
}

export interface SegmentsMergedFrame {
  type: "SegmentsMerged";
  requestId: number;
  target: string;
  source: string;
  /** The target's length after the merge. */
  targetLength: number;
}

export interface DeleteSegmentFrame {
  type: "DeleteSegment";
  requestId: number;
  segment: string;
}

export interface SegmentDeletedFrame {
  type: "SegmentDeleted";
  requestId: number;
  segment: string;
}

/** One attribute change of an UpdateAttributes frame. */
export interface AttributeUpdate {
  /** A raw 16-byte UUID. */
  id: Buffer;
  /** The new value; -1 removes the attribute. */
  value: number;
  /** Apply only if the attribute's current value is `expected`. */
  compare: boolean;
  /** -1: the attribute must be absent. Ignored unless `compare`. */
  expected: number;
}

export interface UpdateAttributesFrame {
  type: "UpdateAttributes";
  requestId: number;
  segment: string;
  /** 1 to attributeUpdatesMax updates, applied all together or not at all. */
  updates: readonly AttributeUpdate[];
}

export interface AttributesUpdatedFrame {
  type: "AttributesUpdated";
  requestId: number;
  segment: string;
}

export interface GetAttributesFrame {
  type: "GetAttributes";
  requestId: number;
  segment: string;
  /** 1 to attributeUpdatesMax raw 16-byte UUIDs. */
  ids: readonly Buffer[];
}

export interface AttributesReadFrame {
  type: "AttributesRead";
  requestId: number;
  segment: string;
  /** One value per id asked for; -1 for an absent attribute. */
  values: readonly { id: Buffer; value: number }[];
}

export interface GetChunksFrame {
  type: "GetChunks";
  requestId: number;
  segment: string;
  /** >= 0: list the chunks holding bytes at or after this offset. */
  offset: number;
  /** At least 1; the store lowers it to chunksListedMax. */
  maxCount: number;
}

/** A Tier-2 chunk of a segment: its object holds the segment's bytes [offset, offset + length). */
export interface ListedChunk {
  /** The chunk's name in the store's Tier-2 (the object key below the store's prefix). */
  name: string;
  offset: number;
  length: number;
}

export interface ChunksListedFrame {
  type: "ChunksListed";
  requestId: number;
  segment: string;
  /** In offset order: the chunk holding the asked offset (if any) and those after it, at most maxCount. */
  chunks: readonly ListedChunk[];
}
