/**
 * Tier-1, the durable log. For now its public face is the local journal that a log node keeps its
 * ledgers' entries in.
 */
export { Journal, journalFileName } from "./journal.js";
export type { JournalOptions, JournalRecovery, JournalStats } from "./journal.js";
