/**
 * The frames of the Sluice data-plane wire protocol, version 1 (see wire.md). This file holds only
 * the shapes and the numeric type ids; codec.ts turns them into bytes and back.
 */
import { errorFromWireId, type SluiceError, segmentNameBytesMax } from "../../common/index.js";
import type { SealSegmentFrame, SegmentSealedFrame, TruncateSegmentFrame, SegmentTruncatedFrame, MergeSegmentsFrame, SegmentsMergedFrame, DeleteSegmentFrame, SegmentDeletedFrame, UpdateAttributesFrame, AttributesUpdatedFrame, GetAttributesFrame, AttributesReadFrame, GetChunksFrame, ChunksListedFrame } from "./segment-frames.js";
import type { AddEntryFrame, EntryAddedFrame, ReadEntriesFrame, EntriesReadFrame, ReadLedgerStateFrame, LedgerStateReadFrame, FenceLedgerFrame, LedgerFencedFrame, DeleteLedgerFrame, LedgerDeletedFrame, ReadNodeIdentityFrame, NodeIdentityFrame } from "./log-node-frames.js";
export type { SealSegmentFrame, SegmentSealedFrame, TruncateSegmentFrame, SegmentTruncatedFrame, MergeSegmentsFrame, SegmentsMergedFrame, DeleteSegmentFrame, SegmentDeletedFrame, AttributeUpdate, UpdateAttributesFrame, AttributesUpdatedFrame, GetAttributesFrame, AttributesReadFrame, GetChunksFrame, ListedChunk, ChunksListedFrame } from "./segment-frames.js";
export type { AddEntryFrame, EntryAddedFrame, ReadEntriesFrame, EntriesReadFrame, ReadLedgerStateFrame, LedgerStateReadFrame, FenceLedgerFrame, LedgerFencedFrame, DeleteLedgerFrame, LedgerDeletedFrame, ReadNodeIdentityFrame, NodeIdentityFrame } from "./log-node-frames.js";

/** The one protocol version this code speaks. */
export const protocolVersion = 1;

/** Longest `message` of an Error frame, in UTF-8 bytes (wire.md, field types). */
export const errorMessageBytesMax = 4096;
/** A writer id is a raw 16-byte UUID. */
export const writerIdBytes = 16;
/** An attribute id is a raw 16-byte UUID, like a writer id. */
export const attributeIdBytes = writerIdBytes;

/** Numeric type ids on the wire. Never renumber or reuse one. */
export const frameTypeIds = {
  Hello: 1,
  Error: 2,
  KeepAlive: 3,
  SetupAppend: 10,
  AppendSetup: 11,
  AppendBlock: 12,
  DataAppended: 13,
  ConditionalAppend: 14,
  ReadSegment: 20,
  SegmentRead: 21,
  CreateSegment: 30,
  SegmentCreated: 31,
  GetSegmentInfo: 32,
  SegmentInfo: 33,
  SealSegment: 34,
  SegmentSealed: 35,
  TruncateSegment: 36,
  SegmentTruncated: 37,
  MergeSegments: 38,
  SegmentsMerged: 39,
  DeleteSegment: 40,
  SegmentDeleted: 41,
  UpdateAttributes: 42,
  AttributesUpdated: 43,
  GetAttributes: 44,
  AttributesRead: 45,
  GetChunks: 46,
  ChunksListed: 47,
  AddEntry: 50,
  EntryAdded: 51,
  ReadEntries: 52,
  EntriesRead: 53,
  ReadLedgerState: 54,
  LedgerStateRead: 55,
  FenceLedger: 56,
  LedgerFenced: 57,
  DeleteLedger: 58,
  LedgerDeleted: 59,
  ReadNodeIdentity: 60,
  NodeIdentity: 61,
} as const;

export type FrameType = keyof typeof frameTypeIds;

const frameTypeById = new Map<number, FrameType>();
for (const [name, id] of Object.entries(frameTypeIds) as [FrameType, number][]) {
  if (frameTypeById.has(id)) throw new Error(`duplicate frame type id ${id}`);
  frameTypeById.set(id, name);
}

/** The frame name for a wire type id, or undefined for an id this version does not know. */
export function frameTypeName(typeId: number): FrameType | undefined {
  return frameTypeById.get(typeId);
}

export interface HelloFrame {
  type: "Hello";
  highVersion: number;
  lowVersion: number;
}

export interface ErrorFrame {
  type: "Error";
  /** 0 for errors about the connection rather than one request. */
  requestId: number;
  /** The `wireId` of an error code in common/errors.ts. */
  errorId: number;
  /** Empty when the error is not about one segment. */
  segment: string;
  message: string;
}

export interface KeepAliveFrame {
  type: "KeepAlive";
}

export interface SetupAppendFrame {
  type: "SetupAppend";
  requestId: number;
  writerId: Buffer;
  segment: string;
}

export interface AppendSetupFrame {
  type: "AppendSetup";
  requestId: number;
  writerId: Buffer;
  segment: string;
  /** -1: no event from this writer is stored yet. */
  lastEventNumber: number;
}

export interface AppendBlockFrame {
  type: "AppendBlock";
  requestId: number;
  writerId: Buffer;
  segment: string;
  /** The block's events are numbered `lastEventNumber - eventCount + 1` to `lastEventNumber`. */
  lastEventNumber: number;
  eventCount: number;
  /** `u32 length | payload` events, carried as one opaque slice. */
  data: Buffer;
}

export interface DataAppendedFrame {
  type: "DataAppended";
  requestId: number;
  writerId: Buffer;
  segment: string;
  /** Cumulative: every event of the writer up to this number is durable. */
  eventNumber: number;
  segmentLength: number;
}

/**
 * An append applied only if the segment's length equals `expectedOffset` (wire.md, "Conditional
 * appends"); it needs no SetupAppend and is answered with DataAppended.
 */
export interface ConditionalAppendFrame {
  type: "ConditionalAppend";
  requestId: number;
  writerId: Buffer;
  segment: string;
  /** >= 0: the segment length, counting every operation accepted before this one, the append requires. */
  expectedOffset: number;
  /** The block's events are numbered `lastEventNumber - eventCount + 1` to `lastEventNumber`. */
  lastEventNumber: number;
  eventCount: number;
  /** `u32 length | payload` events, carried as one opaque slice. */
  data: Buffer;
}

export interface ReadSegmentFrame {
  type: "ReadSegment";
  requestId: number;
  segment: string;
  offset: number;
  maxBytes: number;
  waitMs: number;
}

export interface SegmentReadFrame {
  type: "SegmentRead";
  requestId: number;
  segment: string;
  offset: number;
  atTail: boolean;
  endOfSegment: boolean;
  /** Raw segment bytes from `offset`; may end in the middle of an event. */
  data: Buffer;
}

export interface CreateSegmentFrame {
  type: "CreateSegment";
  requestId: number;
  segment: string;
}

export interface SegmentCreatedFrame {
  type: "SegmentCreated";
  requestId: number;
  segment: string;
}

export interface GetSegmentInfoFrame {
  type: "GetSegmentInfo";
  requestId: number;
  segment: string;
}

export interface SegmentInfoFrame {
  type: "SegmentInfo";
  requestId: number;
  segment: string;
  startOffset: number;
  length: number;
  sealed: boolean;
  lastModifiedMs: number;
}

export type Frame =
  | HelloFrame
  | ErrorFrame
  | KeepAliveFrame
  | SetupAppendFrame
  | AppendSetupFrame
  | AppendBlockFrame
  | DataAppendedFrame
  | ConditionalAppendFrame
  | ReadSegmentFrame
  | SegmentReadFrame
  | CreateSegmentFrame
  | SegmentCreatedFrame
  | GetSegmentInfoFrame
  | SegmentInfoFrame
  | SealSegmentFrame
  | SegmentSealedFrame
  | TruncateSegmentFrame
  | SegmentTruncatedFrame
  | MergeSegmentsFrame
  | SegmentsMergedFrame
  | DeleteSegmentFrame
  | SegmentDeletedFrame
  | UpdateAttributesFrame
  | AttributesUpdatedFrame
  | GetAttributesFrame
  | AttributesReadFrame
  | GetChunksFrame
  | ChunksListedFrame
  | AddEntryFrame
  | EntryAddedFrame
  | ReadEntriesFrame
  | EntriesReadFrame
  | ReadLedgerStateFrame
  | LedgerStateReadFrame
  | FenceLedgerFrame
  | LedgerFencedFrame
  | DeleteLedgerFrame
  | LedgerDeletedFrame
  | ReadNodeIdentityFrame
  | NodeIdentityFrame;

export type FrameOf<T extends Frame["type"]> = Extract<Frame, { type: T }>;

/** Frames that carry a requestId (requests, replies and Error). */
export type RequestFrame = Extract<Frame, { requestId: number }>;

/** Narrows a frame to one type; lets callers keep a `type` value and the frame's shape in step. */
export function isFrameOf<T extends Frame["type"]>(frame: Frame, type: T): frame is FrameOf<T> {
  return frame.type === type;
}

/**
 * Builds the Error frame for `err`. The message (and, defensively, the segment) is cut to its
 * wire limit at a UTF-8 character boundary, because failing to report an error is worse than
 * reporting a shortened one.
 */
export function errorFrame(requestId: number, err: SluiceError, segment = ""): FrameOf<"Error"> {
  return {
    type: "Error",
    requestId,
    errorId: err.wireId,
    segment: truncateUtf8(segment, segmentNameBytesMax),
    message: truncateUtf8(err.message, errorMessageBytesMax),
  };
}

/** Rebuilds the typed error a peer reported; an unknown errorId becomes INTERNAL. */
export function errorFromFrame(f: FrameOf<"Error">): SluiceError {
  return errorFromWireId(f.errorId, f.message);
}

/** `s` cut to at most `bytesMax` UTF-8 bytes without splitting a character. */
export function truncateUtf8(s: string, bytesMax: number): string {
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so short strings need no encoding at all.
  if (s.length * 3 <= bytesMax) return s;
  const bytes = Buffer.from(s, "utf8");
  if (bytes.length <= bytesMax) return s;
  let end = bytesMax;
  // Step back over continuation bytes (10xxxxxx) to the first byte of the cut character.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.toString("utf8", 0, end);
}
