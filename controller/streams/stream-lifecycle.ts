/**
 * Creating, configuring and listing streams. A stream is created in two steps so that a crash
 * between them is repaired by a retry (or by resumeWorkflows): its record is written in state
 * `creating` together with epoch 0, its segments are created on the segment stores, then the record
 * moves to `active` by compare-and-set. Only active streams take writes, scales and transactions.
 */
import { ConditionalCheckFailedError, NoSuchScopeError, UnavailableError, validateName } from "../../common/index.js";
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
import { streamCasAttemptsMax } from "./workflow-slot.js";

/**
 * Creates a stream with the policy's minSegments segments over equal ranges; false if it exists
 * (active, sealing or sealed). A stream left half-created by a crash is finished (true). Raises
 * INVALID_NAME, INVALID_ARGUMENT (the config, naming the field), NO_SUCH_SCOPE, UNAVAILABLE (the
 * name is still being deleted).
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
          await finishCreate(ctx, scope, stream);
          return true;
      }
    }
    const nowMs = ctx.clock.nowMs();
    const count = full.scaling.minSegments;
    const epoch: EpochRecord = {
      epoch: 0,
      committedAtMs: nowMs,
      segments: equalRanges(count).map((r, i) => ({ number: i, epoch: 0, keyStart: r.keyStart, keyEnd: r.keyEnd, createdAtMs: nowMs })),
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
    await finishCreate(ctx, scope, stream);
    return true;
  }
  throw new UnavailableError(`stream ${scope}/${stream} kept changing during ${streamCasAttemptsMax} attempts to create it; retry`);
}

/** Creates the segments of a `creating` stream and activates it (idempotent; nothing for another state). */
export async function finishCreate(ctx: StreamContext, scope: string, stream: string): Promise<void> {
  const first = await readStream(ctx.store, scope, stream);
  if (first?.record.state !== "creating") return;
  const epoch = await requireEpoch(ctx.store, scope, stream, 0);
  await forEachBounded(epoch.segments, (s) => ctx.segments.createSegment(nameOf(scope, stream, s)));
  for (let attempt = 0; attempt < streamCasAttemptsMax; attempt++) {
    const found = await readStream(ctx.store, scope, stream);
    if (found?.record.state !== "creating") return;
    try {
      await ctx.store.compareAndSet(streamKey(scope, stream), found.version, encodeRecord({ ...found.record, state: "active", stateChangedAtMs: ctx.clock.nowMs() }));
      return;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
    }
  }
  throw new UnavailableError(`stream ${scope}/${stream} kept changing during ${streamCasAttemptsMax} attempts to activate it; retry`);
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
