/**
 * What the stream workflows share: the metadata store, the data plane, time, and the test hook.
 * StreamService builds one and hands it to each workflow module.
 */
import type { Clock } from "../../common/index.js";
import type { MetadataStore } from "../store/index.js";
import type { TxnSettings } from "../txn/index.js";
import type { SegmentOps, SegmentPlacement } from "./segment-ops.js";
import type { Workflow } from "./stream-metadata.js";

export interface StreamContext {
  readonly store: MetadataStore;
  readonly placement: SegmentPlacement;
  readonly segments: SegmentOps;
  readonly clock: Clock;
  /** The controller's transaction settings (record keeping, longest lease). */
  readonly txn: TxnSettings;
  /** Test hook: a scale waits this long after sealing its predecessors (0: not at all). */
  readonly pauseAfterSealMs: number;
  /** Runs a workflow found in a stream's slot to its end (every step idempotent). */
  runWorkflow(scope: string, stream: string, workflow: Workflow): Promise<void>;
}

/** Waits `ms` on the context's clock (a ManualClock in tests moves only when told to). */
export function sleepMs(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => {
    clock.setTimer(ms, resolve);
  });
}
