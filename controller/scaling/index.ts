/** Auto-scaling: the leader's loop that splits hot segments and merges cold ones (see policy.ts for the rules). */
export {
  AutoScaler,
  autoScaleCooldownMsDefault,
  autoScaleCooldownMsMax,
  autoScaleIntervalMsDefault,
  autoScaleIntervalMsMax,
  autoScaleIntervalMsMin,
  type AutoScalerOptions,
} from "./auto-scaler.js";
export {
  coldLongestRateFactor,
  decideScale,
  equalParts,
  hotRateFactors,
  loadSampleStaleMsMin,
  loadSampleStaleWindows,
  type ScaleAction,
  type ScaleActionKind,
  type ScaleRules,
} from "./policy.js";
