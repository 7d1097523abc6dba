/**
 * Checks on a run's job samples: how often the parallelism went up and down, and whether the job
 * followed the segment count. A sample at time t follows when its observed parallelism equals
 * clamp(segments) of some sample in [t - allowanceMs, t]: the job may lag the segments by its
 * cooldown, the polls it needs to see a stable count and the rescale itself.
 */
import type { JobMessage } from "./job.js";
import { clampParallelism } from "./profile.js";

type Sample = Extract<JobMessage, { type: "sample" }>;
type Rescale = Extract<JobMessage, { type: "rescale" }>;

export interface FollowCheck {
  /** Samples after the first rescale's end. */
  samples: number;
  following: number;
  /** following / samples (1 when there are none). */
  ratio: number;
  ups: number;
  downs: number;
}

/** Counts rescales up and down, and the samples after the first rescale that follow the segment count within `allowanceMs`. */
export function checkFollowing(messages: readonly JobMessage[], min: number, max: number, allowanceMs: number): FollowCheck {
  const samples = messages.filter((m): m is Sample => m.type === "sample");
  const rescales = messages.filter((m): m is Rescale => m.type === "rescale");
  const ups = rescales.filter((r) => r.to > r.from).length;
  const downs = rescales.filter((r) => r.to < r.from).length;
  const firstEndMs = rescales[0]?.runningAtMs ?? Number.POSITIVE_INFINITY;
  let counted = 0;
  let following = 0;
  for (const s of samples) {
    if (s.timeMs < firstEndMs) continue;
    counted++;
    const ok = samples.some((w) => w.timeMs <= s.timeMs && w.timeMs >= s.timeMs - allowanceMs && clampParallelism(w.segments, min, max) === s.observed);
    if (ok) following++;
  }
  return { samples: counted, following, ratio: counted === 0 ? 1 : following / counted, ups, downs };
}

/** The allowance of checkFollowing: cooldown + 2 polls + the longest rescale of the run (request to running). */
export function followAllowanceMs(messages: readonly JobMessage[], cooldownMs: number, pollMs: number): number {
  const pauses = messages.flatMap((m) => (m.type === "rescale" ? [m.runningAtMs - m.requestedAtMs] : []));
  return cooldownMs + 2 * pollMs + Math.max(0, ...pauses);
}
