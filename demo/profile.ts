/**
 * The demo's load profile and scaling arithmetic, as pure functions of time and options.
 *
 * The profile is ten equal steps of the duration, at these fractions of the peak rate: up in four
 * steps, held at the peak for two more, then down to a quarter, held there for the last three, so
 * that the stream has time to merge back after the cold windows have filled.
 */
export const profileLevels: readonly number[] = [0.25, 0.5, 0.75, 1, 1, 1, 0.5, 0.25, 0.25, 0.25];

/** Input rate the generator aims at, events/s, `elapsedMs` after the load started (0 after the end). */
export function targetRateAt(elapsedMs: number, durationMs: number, peakRate: number): number {
  if (elapsedMs < 0 || elapsedMs >= durationMs) return 0;
  const step = Math.min(profileLevels.length - 1, Math.floor((elapsedMs / durationMs) * profileLevels.length));
  return profileLevels[step]! * peakRate;
}

/** Events the generator should have written by `elapsedMs`: the integral of targetRateAt. */
export function eventsDueBy(elapsedMs: number, durationMs: number, peakRate: number): number {
  const stepMs = durationMs / profileLevels.length;
  const until = Math.min(Math.max(0, elapsedMs), durationMs);
  let due = 0;
  for (let i = 0; i < profileLevels.length; i++) {
    const from = i * stepMs;
    if (until <= from) break;
    due += ((Math.min(until, from + stepMs) - from) / 1000) * profileLevels[i]! * peakRate;
  }
  return Math.floor(due);
}

/**
 * Events/s per segment of the input stream's byEventRate policy: peak / (max parallelism - 0.5), so that
 * at the peak `maxParallelism` equal segments each stay below the target while `maxParallelism - 1`
 * would not (the scaler splits a segment whose rate exceeds the target).
 */
export function targetRatePerSegment(peakRate: number, maxParallelism: number): number {
  return Math.max(1, Math.round(peakRate / (maxParallelism - 0.5)));
}

/** The parallelism the job should run at for `segments` segments. */
export function clampParallelism(segments: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, segments));
}
