/**
 * The auto-scaler: a leader-only background loop that, every `intervalMs`, decides for each active
 * stream with a rate policy which segments to split or merge (see policy.ts) and executes those
 * actions one at a time through StreamOps.scale.
 *
 * Passes never overlap: the timer is re-armed only once a pass has finished, and a `tick()` called
 * while a pass runs waits for it and then makes a pass of its own. Nothing a pass meets stops the
 * loop: losing a race to another scale (CONDITIONAL_CHECK_FAILED), a scale refused because of
 * minSegments (INVALID_ARGUMENT), and a stream sealed or deleted meanwhile are logged at info; any
 * other failure is logged at warn, and the pass moves on to the next action or stream.
 */
import { InvalidConfigError, PeriodicPass, logger, toSluiceError, type Clock, type ErrorCode } from "../../common/index.js";
import type { Leadership, LoadSource, SegmentLoadSample, StreamOps, StreamSummary } from "../control-ops.js";
import { decideScale, type ScaleAction } from "./policy.js";

const log = logger("autoscaler");

/** How often a pass runs by default. */
export const autoScaleIntervalMsDefault = 10_000;
/** Pravega's default cooldown: a segment is left alone for this long after it was created. */
export const autoScaleCooldownMsDefault = 10 * 60_000;
/** Bounds of `intervalMs`: shorter passes would only load the stream service; longer ones react too late. */
export const autoScaleIntervalMsMin = 10;
export const autoScaleIntervalMsMax = 60 * 60_000;
/** Bound of `cooldownMs`. */
export const autoScaleCooldownMsMax = 24 * 60 * 60_000;

export interface AutoScalerOptions {
  /** Time between passes; default `autoScaleIntervalMsDefault`. */
  intervalMs?: number;
  /** Segments younger than this are neither split nor merged; default `autoScaleCooldownMsDefault`. */
  cooldownMs?: number;
}

/** Codes that mean "someone else changed the stream first", not that anything is wrong. */
const expectedCodes: ReadonlySet<ErrorCode> = new Set(["CONDITIONAL_CHECK_FAILED", "INVALID_ARGUMENT", "STREAM_SEALED", "NO_SUCH_STREAM"]);

export class AutoScaler {
  readonly cooldownMs: number;
  private readonly loop: PeriodicPass;

  constructor(
    private readonly ops: StreamOps,
    private readonly loads: LoadSource,
    private readonly leadership: Leadership,
    private readonly clock: Clock,
    options: AutoScalerOptions = {},
  ) {
    const intervalMs = checkedMs("autoScaler.intervalMs", options.intervalMs ?? autoScaleIntervalMsDefault, autoScaleIntervalMsMin, autoScaleIntervalMsMax);
    this.cooldownMs = checkedMs("autoScaler.cooldownMs", options.cooldownMs ?? autoScaleCooldownMsDefault, 0, autoScaleCooldownMsMax);
    this.loop = new PeriodicPass(clock, intervalMs, () => this.pass());
  }

  /** Starts the passes, the first one `intervalMs` from now. */
  start(): void {
    this.loop.start();
  }

  /** Stops the loop; resolves once a pass in progress has finished. No pass starts afterwards. */
  close(): Promise<void> {
    return this.loop.close();
  }

  /** One pass over every stream (after the one in progress, if any). Never rejects. */
  tick(): Promise<void> {
    return this.loop.tick();
  }

  get intervalMs(): number {
    return this.loop.intervalMs;
  }

  private async pass(): Promise<void> {
    if (!this.leadership.isLeader()) return;
    try {
      const streams = await this.ops.listActiveStreams();
      // The load reports are read once per pass, and only if some stream has a rate policy.
      let loads: Map<string, SegmentLoadSample> | undefined;
      for (const s of streams) {
        if (this.loop.closed || !this.leadership.isLeader()) return;
        if (s.scaling.type !== "BY_EVENT_RATE" && s.scaling.type !== "BY_DATA_RATE") continue;
        loads ??= await this.loads.loadReports();
        await this.scaleStream(s, loads);
      }
    } catch (err) {
      log.warn("auto-scale pass failed; the next pass tries again", { err: toSluiceError(err) });
    }
  }

  private async scaleStream(s: StreamSummary, loads: ReadonlyMap<string, SegmentLoadSample>): Promise<void> {
    const name = `${s.scope}/${s.stream}`;
    let actions: ScaleAction[];
    try {
      const { segments } = await this.ops.currentSegments(s.scope, s.stream);
      actions = decideScale(s.scaling, segments, loads, this.clock.nowMs(), { cooldownMs: this.cooldownMs });
    } catch (err) {
      this.report(err, "cannot read the stream's segments", { stream: name });
      return;
    }
    for (const action of actions) {
      if (this.loop.closed || !this.leadership.isLeader()) return;
      try {
        const result = await this.ops.scale(s.scope, s.stream, action.seal, action.newRanges);
        log.info(`scaled: ${action.kind}`, { stream: name, sealed: action.seal, created: action.newRanges.length, epoch: result.epoch });
      } catch (err) {
        this.report(err, `${action.kind} skipped`, { stream: name, sealed: action.seal });
      }
    }
  }

  private report(err: unknown, message: string, fields: Record<string, unknown>): void {
    const e = toSluiceError(err);
    if (expectedCodes.has(e.code)) log.info(message, { ...fields, err: e });
    else log.warn(message, { ...fields, err: e });
  }
}

function checkedMs(property: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(`${property} must be an integer number of milliseconds in [${min}, ${max}], got ${value}`);
  }
  return value;
}
