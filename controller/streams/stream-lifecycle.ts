/**
 * Creating, configuring and listing streams. A stream is created in two steps so that a crash
 * between them is repaired by a retry (or by resumeWorkflows): its record is written in state
 * `creating` together with epoch 0, its segments are created on the segment stores, then the record
 * moves to `active` by compare-and-set. Only active streams take writes, scales and transactions.
 *
 * A `creating` stream is not listed and cannot be described or deleted, so it must not last: the
 * segment step is bounded (streamCreateWaitMsMax), and when it fails the create is rolled back (the
 * stream and epoch records removed together, by compare-and-set on the `creating` record), so the
 * name is free again and its scope can be deleted. Before anything is written, a stream whose
 * containers no segment store can serve is refused NO_SEGMENT_STORE. A create whose controller died
 * is finished or rolled back the same way by resumeWorkflows once it is older than the bound.
 * Segments created before a rollback are left on their stores: they were never written to (only
 * an active stream hands out its segments), and a later create of the same name adopts them
 * (an existing segment counts as created); deleting them could race that create.
 */
import { ConditionalCheckFailedError, logger, NoSuchScopeError, toSluiceError, UnavailableError, validateName } from "../../common/index.js";
import type { StreamConfig } from "../../proto/index.js";
import type { StreamSummary } from "../control-ops.js";
import { listAll } from "../store/index.js";
import { forEachBounded } from "../txn/index.js";
import { equalRanges } from "./key-ranges.js";
import { rescaleAll } from "./scale-workflow.js";
import type { StreamContext } from "./stream-context.js";
import { validateStreamConfig } from "./stream-config.js";
import {
  decodeStream,
  encodeRecord,
  epochKey,
  nameOf,
  parseStreamKey,
  readStream,
  requireEpoch,
  requireStream,
  scopeKey,
  streamKey,
  streamPrefix,
  streamRootPrefix,
  type EpochRecord,
  type StreamRecord,
} from "./stream-metadata.js";
import { checkServable } from "./segment-ops.js";
import { streamCasAttemptsMax } from "./workflow-slot.js";

const log = logger("controller");

/**
 * How long creating a stream's segments may take before the create is rolled back: well within a
 * client's call deadline (30 s), so the caller hears why instead of seeing its deadline pass.
 */
export const streamCreateWaitMsMax = 10_000;
/**
 * A `creating` record this old was abandoned (its creator gave up after streamCreateWaitMsMax, or
 * died): resumeWorkflows finishes or rolls it back without waiting for the general workflow age.
 */
export const createAbandonedAfterMs = streamCreateWaitMsMax + 5_000;

/** How finishCreate ended: the stream is active (or further on), or its create was rolled back (it is gone). */
export type CreateOutcome = "active" | "rolledBack";

/**
 * Creates a stream with the policy's minSegments segments over equal ranges; false if it exists
 * (active, sealing or sealed). A stream left half-created by a crash is finished (true). Raises
 * INVALID_NAME, INVALID_ARGUMENT (the config, naming the field), NO_SUCH_SCOPE, NO_SEGMENT_STORE
 * (no store can serve its containers: nothing is written), UNAVAILABLE (the name is still being
 * deleted, or the segments could not be created within streamCreateWaitMsMax: the create was rolled
 * back). Whatever it raises, the stream is then either active or absent, never left `creating`
 * (unless the metadata store itself failed; resumeWorkflows then finishes or rolls it back).
 */
export async function createStream(ctx: StreamContext, scope: string, stream: string, config: StreamConfig | undefined): Promise<boolean> {
  validateName("scope", scope);
  validateName("stream", stream);
  const full = validateStreamConfig(config);
  for (let attempt = 0; attempt < streamCasAttemptsMax; attempt++) {
    const scopeKv = await ctx.store.get(scopeKey(scope));
    if (scopeKv === undefined) throw new NoSuchScopeError(`scope ${scope} does not exist`);
    const found = await readStream(ctx.store, scope, stream);
    if (found !== undefined) {
      switch (found.record.state) {
        case "active":
        case "sealing":
        case "sealed":
          return false;
        case "deleting":
          throw new UnavailableError(`stream ${scope}/${stream} is being deleted; retry once it is gone`);
        case "creating":
          requireActive(scope, stream, await finishCreate(ctx, scope, stream));
          return true;
      }
    }
    const nowMs = ctx.clock.nowMs();
    const count = full.scaling.minSegments;
    const segments = equalRanges(count).map((r, i) => ({ number: i, epoch: 0, keyStart: r.keyStart, keyEnd: r.keyEnd, createdAtMs: nowMs }));
    // Refused before anything is written: a record would only have to be rolled back.
    await checkServable(ctx.store, ctx.placement, segments.map((s) => nameOf(scope, stream, s)));
    const epoch: EpochRecord = {
      epoch: 0,
      committedAtMs: nowMs,
      segments,
      sealed: [],
      sealedBytesTotal: 0,
    };
    const record: StreamRecord = { state: "creating", config: full, currentEpoch: 0, nextNumber: count, createdAtMs: nowMs, stateChangedAtMs: nowMs };
    try {
      await ctx.store.txn(
        [{ key: scopeKey(scope), version: scopeKv.version }, { key: streamKey(scope, stream), version: 0 }, { key: epochKey(scope, stream, 0), version: 0 }],
        [
          // Rewritten unchanged: a concurrent deleteScope compares the scope record's version.
          { type: "put", key: scopeKey(scope), value: scopeKv.value },
          { type: "put", key: streamKey(scope, stream), value: encodeRecord(record) },
          { type: "put", key: epochKey(scope, stream, 0), value: encodeRecord(epoch) },
        ],
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
      continue;
    }
    requireActive(scope, stream, await finishCreate(ctx, scope, stream));
    return true;
  }
  throw new UnavailableError(`stream ${scope}/${stream} kept changing during ${streamCasAttemptsMax} attempts to create it; retry`);
}

/** For a create call: an outcome other than active means another caller rolled the create back meanwhile. */
function requireActive(scope: string, stream: string, outcome: CreateOutcome): void {
  if (outcome !== "active") throw new UnavailableError(`stream ${scope}/${stream} was rolled back while it was being created (its segments could not be created); retry`);
}

/**
 * Creates the segments of a `creating` stream within streamCreateWaitMsMax and activates it; when
 * the segments cannot be created, rolls the create back and raises why (NO_SEGMENT_STORE, or
 * UNAVAILABLE naming the store's error). Idempotent: answers "active" when the stream is (or became,
 * through another caller) active or further on, "rolledBack" when another caller rolled it back (or
 * the name is being deleted). Raises the metadata store's errors (the record then stays `creating`).
 */
export async function finishCreate(ctx: StreamContext, scope: string, stream: string): Promise<CreateOutcome> {
  const first = await readStream(ctx.store, scope, stream);
  if (first?.record.state !== "creating") return outcomeOf(first);
  const epoch = await requireEpoch(ctx.store, scope, stream, 0);
  const deadlineMs = ctx.clock.monotonicMs() + streamCreateWaitMsMax;
  try {
    await forEachBounded(epoch.segments, (s) => ctx.segments.createSegment(nameOf(scope, stream, s), { waitMsMax: Math.max(1, deadlineMs - ctx.clock.monotonicMs()) }));
  } catch (err) {
    const cause = toSluiceError(err);
    const rolledBack = await rollBackCreate(ctx, scope, stream);
    log.warn(rolledBack ? "stream create rolled back: its segments could not be created" : "stream segments could not be created", { scope, stream, error: cause.message });
    if (!rolledBack) return outcomeOf(await readStream(ctx.store, scope, stream));
    // NO_SEGMENT_STORE already says what to do; anything else is summed up as UNAVAILABLE, with the store's answer.
    if (cause.code === "NO_SEGMENT_STORE") throw cause;
    throw new UnavailableError(`stream ${scope}/${stream} was not created: its segments could not be created within ${streamCreateWaitMsMax} ms (${cause.code}: ${cause.message}); nothing was kept, retry`, { cause });
  }
  for (let attempt = 0; attempt < streamCasAttemptsMax; attempt++) {
    const found = await readStream(ctx.store, scope, stream);
    if (found?.record.state !== "creating") return outcomeOf(found);
    try {
      await ctx.store.compareAndSet(streamKey(scope, stream), found.version, encodeRecord({ ...found.record, state: "active", stateChangedAtMs: ctx.clock.nowMs() }));
      return "active";
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
    }
  }
  throw new UnavailableError(`stream ${scope}/${stream} kept changing during ${streamCasAttemptsMax} attempts to activate it; retry`);
}

/** What became of a create another caller decided: active (or further on), or rolled back (absent, or a new incarnation being deleted). */
function outcomeOf(found: { record: StreamRecord } | undefined): CreateOutcome {
  const state = found?.record.state;
  return state === "active" || state === "sealing" || state === "sealed" ? "active" : "rolledBack";
}

/**
 * Removes the stream and epoch-0 records of a `creating` stream in one transaction guarded by the
 * stream record's version, so a concurrent activation and a rollback cannot both win. Resolves true
 * when this call removed them, false when the stream is no longer `creating`.
 */
async function rollBackCreate(ctx: StreamContext, scope: string, stream: string): Promise<boolean> {
  for (let attempt = 0; attempt < streamCasAttemptsMax; attempt++) {
    const found = await readStream(ctx.store, scope, stream);
    if (found?.record.state !== "creating") return false;
    try {
      await ctx.store.txn(
        [{ key: streamKey(scope, stream), version: found.version }],
        [
          { type: "delete", key: epochKey(scope, stream, 0) },
          { type: "delete", key: streamKey(scope, stream) },
        ],
      );
      return true;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
    }
  }
  throw new UnavailableError(`stream ${scope}/${stream} kept changing during ${streamCasAttemptsMax} attempts to roll its create back; it will be resumed`);
}

/**
 * Stores a new config. A FIXED policy with another count rescales every current segment into that
 * many equal ranges; a rate policy whose minSegments exceeds the current count splits likewise.
 * Raises INVALID_NAME, INVALID_ARGUMENT, NO_SUCH_STREAM, STREAM_SEALED, UNAVAILABLE,
 * CONDITIONAL_CHECK_FAILED (other scales kept winning; the config is stored).
 */
export async function updateStream(ctx: StreamContext, scope: string, stream: string, config: StreamConfig | undefined): Promise<void> {
  validateName("scope", scope);
  validateName("stream", stream);
  const full = validateStreamConfig(config);
  for (let attempt = 0; ; attempt++) {
    const found = await requireStream(ctx.store, scope, stream, ["active"]);
    try {
      await ctx.store.compareAndSet(streamKey(scope, stream), found.version, encodeRecord({ ...found.record, config: full }));
      break;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
      if (attempt + 1 >= streamCasAttemptsMax) throw new UnavailableError(`stream ${scope}/${stream} kept changing during ${streamCasAttemptsMax} attempts to update it; retry`);
    }
  }
  const count = full.scaling.minSegments;
  if (full.scaling.type === "FIXED") await rescaleAll(ctx, scope, stream, count, (current) => current === count);
  else await rescaleAll(ctx, scope, stream, count, (current) => current >= count);
}

/** Names of the streams of a scope that exist (active, sealing or sealed). Raises NO_SUCH_SCOPE. */
export async function listStreams(ctx: StreamContext, scope: string): Promise<string[]> {
  validateName("scope", scope);
  if ((await ctx.store.get(scopeKey(scope))) === undefined) throw new NoSuchScopeError(`scope ${scope} does not exist`);
  const prefix = streamPrefix(scope);
  const out: string[] = [];
  for (const kv of await listAll(ctx.store, prefix)) {
    const state = decodeStream(kv).state;
    if (state === "active" || state === "sealing" || state === "sealed") out.push(kv.key.slice(prefix.length));
  }
  return out;
}

/** Every active stream with its config, in key order (for the auto-scaler and retention). */
export async function listActiveStreams(ctx: StreamContext): Promise<StreamSummary[]> {
  const out: StreamSummary[] = [];
  for (const kv of await listAll(ctx.store, streamRootPrefix)) {
    const name = parseStreamKey(kv.key);
    if (name === undefined) continue;
    const record = decodeStream(kv);
    if (record.state === "active") out.push({ ...name, scaling: record.config.scaling, retention: record.config.retention });
  }
  return out;
}
