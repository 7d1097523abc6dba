/** Retention: the leader's loop that samples tail cuts and truncates streams by size or age. */
export {
  Retention,
  retentionIntervalMsDefault,
  retentionIntervalMsMax,
  retentionIntervalMsMin,
  type RetentionOptions,
} from "./retention.js";
export {
  afterTruncation,
  boundRecord,
  chooseTruncation,
  decodeRecord,
  emptyRecord,
  encodeRecord,
  parseRetentionKey,
  retentionKey,
  retentionKeyPrefix,
  thinOnce,
  type RetentionRecord,
  type RetentionSample,
} from "./samples.js";
