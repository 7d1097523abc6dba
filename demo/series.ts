/**
 * What the demo charts, built from its run log (run.log: one JSON object per line, the demo's own
 * once-a-second "load" samples and the job's messages verbatim). series.json is exactly
 * `seriesFromLog(run.log)`, so a check can rebuild it from the log and compare.
 */
import type { JobMessage } from "./job.js";

/** The demo's own sample, once a second. */
export interface LoadSample {
  type: "load";
  timeMs: number;
  /** The profile's rate at that time, events/s. */
  targetRate: number;
  /** Events acknowledged into the input so far. */
  acked: number;
  /** Events read from the output so far. */
  read: number;
  /** Current segments of the input stream (from the controller). */
  segments: number;
}

export type LogEntry = LoadSample | JobMessage;

/** A point: seconds since the run's start, value. */
export type Point = readonly [number, number];

export interface Series {
  /** Events/s acknowledged into the input, per load sample. */
  inputRate: Point[];
  segments: Point[];
  requested: Point[];
  observed: Point[];
  /** Events acknowledged into the input minus events read from the output. */
  lag: Point[];
}

export type SeriesName = keyof Series;

/** A rescale's pause: the job was not running between `fromS` and `toS` (seconds since the start). */
export interface PauseBand {
  fromS: number;
  toS: number;
  from: number;
  to: number;
  pauseMs: number;
}

/** The charts: each draws its series over time; parallelism draws two. */
export const chartGroups: readonly { id: string; title: string; unit: string; series: readonly SeriesName[] }[] = [
  { id: "input-rate", title: "Input rate", unit: "events/s", series: ["inputRate"] },
  { id: "segments", title: "Input segments", unit: "segments", series: ["segments"] },
  { id: "parallelism", title: "Job parallelism (requested, observed)", unit: "tasks", series: ["requested", "observed"] },
  { id: "lag", title: "Consumer lag", unit: "events", series: ["lag"] },
];

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** The series and pause bands of a run log whose clock starts at `startMs` (epoch ms). */
export function seriesFromLog(entries: readonly LogEntry[], startMs: number): { series: Series; pauses: PauseBand[] } {
  const at = (timeMs: number) => round3((timeMs - startMs) / 1000);
  const series: Series = { inputRate: [], segments: [], requested: [], observed: [], lag: [] };
  const pauses: PauseBand[] = [];
  let previous: LoadSample | undefined;
  for (const e of entries) {
    switch (e.type) {
      case "load": {
        const t = at(e.timeMs);
        if (previous !== undefined && e.timeMs > previous.timeMs) {
          series.inputRate.push([t, round3(((e.acked - previous.acked) * 1000) / (e.timeMs - previous.timeMs))]);
        }
        series.segments.push([t, e.segments]);
        series.lag.push([t, e.acked - e.read]);
        previous = e;
        break;
      }
      case "sample":
        series.requested.push([at(e.timeMs), e.requested]);
        series.observed.push([at(e.timeMs), e.observed]);
        break;
      case "rescale":
        pauses.push({ fromS: at(e.runningAtMs - e.pauseMs), toS: at(e.runningAtMs), from: e.from, to: e.to, pauseMs: e.pauseMs });
        break;
      case "started":
      case "audit":
      case "stopped":
        break;
      default:
        e satisfies never;
    }
  }
  return { series, pauses };
}
