/**
 * Streams: scopes, streams, epochs, successors, scaling, truncation and transaction commits, as
 * resumable workflows over the MetadataStore (see stream-service.ts and stream-metadata.ts).
 */
export { StreamService, type StreamServiceOptions } from "./stream-service.js";
export { resolveEndpoint, type Endpoint, type SegmentInfo, type SegmentOps, type SegmentPlacement } from "./segment-ops.js";
export { SegmentHelper, segmentCallAttemptsMax, segmentCallRetryMsMax, segmentRequestTimeoutMs, segmentRetryBackoffMsMax, segmentRetryBackoffMsMin } from "./segment-helper.js";
export { validateStreamConfig, retentionTimeMsMin } from "./stream-config.js";
export { equalRanges, keyRangeTolerance } from "./key-ranges.js";
export { cutPositionsMax } from "./stream-cuts.js";
export { slotWaitMsMax, workflowHelpAfterMs } from "./workflow-slot.js";
export { txnCommitBatchMax, txnCommitBatchBytesMax } from "./commit-workflow.js";
export {
  epochKey,
  epochPrefix,
  readerGroupPrefix,
  retentionKey,
  retentionPrefix,
  scopeKey,
  streamKey,
  streamPrefix,
  type EpochRecord,
  type StreamRecord,
  type Workflow,
} from "./stream-metadata.js";
