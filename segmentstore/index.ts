export { SegmentStore, type SegmentStoreOptions } from "./segment-store.js";
export { Tier1, type Tier1Options } from "./tier1/tier1.js";
export type { QuorumConfig } from "./tier1/ledger/quorum.js";
export type { DurableDataLog, LogEntry } from "./tier1/durable-data-log.js";
export type { LogNodeApi, LedgerState } from "./tier1/log-node-api.js";
export { migrateFoundationJournal } from "./tier1/foundation-migration.js";
