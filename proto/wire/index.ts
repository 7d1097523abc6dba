/**
 * The data-plane wire protocol (wire.md): frame shapes, the codec, the stream decoder, event
 * framing, and the client connection. Other modules import from here only.
 */
export {
  attributeIdBytes,
  errorFrame,
  errorFromFrame,
  errorMessageBytesMax,
  frameTypeIds,
  frameTypeName,
  isFrameOf,
  protocolVersion,
  truncateUtf8,
  writerIdBytes,
} from "./frames.js";
export type {
  AppendBlockFrame,
  AppendSetupFrame,
  AttributesReadFrame,
  AttributesUpdatedFrame,
  AttributeUpdate,
  ChunksListedFrame,
  ConditionalAppendFrame,
  CreateSegmentFrame,
  DataAppendedFrame,
  DeleteSegmentFrame,
  ErrorFrame,
  Frame,
  FrameOf,
  FrameType,
  GetAttributesFrame,
  GetChunksFrame,
  GetSegmentInfoFrame,
  HelloFrame,
  KeepAliveFrame,
  ListedChunk,
  MergeSegmentsFrame,
  ReadSegmentFrame,
  RequestFrame,
  SealSegmentFrame,
  SegmentCreatedFrame,
  SegmentDeletedFrame,
  SegmentInfoFrame,
  SegmentReadFrame,
  SegmentSealedFrame,
  SegmentsMergedFrame,
  SegmentTruncatedFrame,
  SetupAppendFrame,
  TruncateSegmentFrame,
  UpdateAttributesFrame,
} from "./frames.js";
export { decodePayload, encodeFrame } from "./codec.js";
export { FrameDecoder } from "./decoder.js";
export { FrameWriter } from "./frame-writer.js";
export { EventParser, encodeEvents, skipEvents, validateEvents } from "./events.js";
export type { ParsedEvent } from "./events.js";
export { WireConnection } from "./connection.js";
export type { ConnectOptions } from "./connection.js";
export { ConnectionPool } from "./connection-pool.js";
export type { Endpoint } from "./connection-pool.js";
