/**
 * Runs whatever workflow a stream's slot holds, and finds the half-done ones after a crash:
 * resumeWorkflows (called periodically by the leader) finishes every workflow recorded in a stream
 * or transaction record that started long enough ago. A half-made stream (`creating`) is taken
 * sooner, once its creator must have given up (createAbandonedAfterMs), and is finished or rolled
 * back (stream-lifecycle.ts), so it is never left where nobody can see or delete it. Every step is
 * idempotent and every decision a compare-and-set, so it is safe beside API calls and beside
 * another controller doing the same.
 */
import { logger, unreachable } from "../../common/index.js";
import { listAll } from "../store/index.js";
import { decodeTxn, finishAbort, parseTxnKey, txnRootPrefix } from "../txn/index.js";
import { driveCommit, runCommit } from "./commit-workflow.js";
import { runDelete } from "./delete-workflow.js";
import { runScale } from "./scale-workflow.js";
import { continueSeal, runSeal } from "./seal-workflow.js";
import type { StreamContext } from "./stream-context.js";
import { createAbandonedAfterMs, finishCreate } from "./stream-lifecycle.js";
import { parseStreamKey, readStream, streamRootPrefix, type Workflow } from "./stream-metadata.js";
import { runTruncate } from "./truncate-workflow.js";

const log = logger("controller");

/** Workflows one stream may run one after another in one resume round (a commit, then the seal waiting for it, ...). */
export const resumeStepsPerStreamMax = 4;

export async function runWorkflow(ctx: StreamContext, scope: string, stream: string, workflow: Workflow): Promise<void> {
  switch (workflow.type) {
    case "scale":
      await runScale(ctx, scope, stream, workflow);
      return;
    case "commit":
      await runCommit(ctx, scope, stream, workflow);
      return;
    case "seal":
      await runSeal(ctx, scope, stream, workflow);
      return;
    case "delete":
      await runDelete(ctx, scope, stream, workflow);
      return;
    case "truncate":
      await runTruncate(ctx, scope, stream, workflow);
      return;
    default:
      unreachable(workflow, "workflow");
  }
}

/**
 * Finishes every workflow that started at least `olderThanMs` ago (0: all). One that fails does not
 * stop the others (each is logged); the first failure is raised once all were tried.
 */
export async function resumeWorkflows(ctx: StreamContext, olderThanMs: number): Promise<void> {
  let failure: { err: unknown } | undefined;
  for (const kv of await listAll(ctx.store, streamRootPrefix)) {
    const name = parseStreamKey(kv.key);
    if (name === undefined) continue;
    try {
      await resumeStream(ctx, name.scope, name.stream, olderThanMs);
    } catch (err) {
      failure ??= { err };
      log.warn("resuming a stream workflow failed; the next round retries", { scope: name.scope, stream: name.stream, error: err });
    }
  }
  for (const kv of await listAll(ctx.store, txnRootPrefix)) {
    const id = parseTxnKey(kv.key);
    if (id === undefined) continue;
    const record = decodeTxn(kv);
    if ((record.state !== "COMMITTING" && record.state !== "ABORTING") || ctx.clock.nowMs() - (record.decidedAtMs ?? 0) < olderThanMs) continue;
    try {
      if (record.state === "COMMITTING") await driveCommit(ctx, id.scope, id.stream, id.txnId);
      else await finishAbort(ctx.store, ctx.segments, ctx.clock, id.scope, id.stream, id.txnId);
    } catch (err) {
      failure ??= { err };
      log.warn("resuming a transaction failed; the next round retries", { scope: id.scope, stream: id.stream, txn: id.txnId, state: record.state, error: err });
    }
  }
  if (failure !== undefined) throw failure.err;
}

/** Runs the stream's stale workflows one after another. */
async function resumeStream(ctx: StreamContext, scope: string, stream: string, olderThanMs: number): Promise<void> {
  for (let step = 0; step < resumeStepsPerStreamMax; step++) {
    const found = await readStream(ctx.store, scope, stream);
    if (found === undefined) return;
    const { record } = found;
    const nowMs = ctx.clock.nowMs();
    if (record.workflow !== undefined) {
      if (nowMs - record.workflow.startedAtMs < olderThanMs) return;
      await runWorkflow(ctx, scope, stream, record.workflow);
    } else if (record.state === "creating" && nowMs - record.stateChangedAtMs >= Math.min(olderThanMs, createAbandonedAfterMs)) {
      try {
        await finishCreate(ctx, scope, stream);
      } catch (err) {
        // A create that could not get its segments is rolled back (finishCreate logged it): that
        // settles it. Anything else (the metadata store failed) leaves it for the next round.
        if ((await readStream(ctx.store, scope, stream)) !== undefined) throw err;
        return;
      }
    } else if (record.state === "sealing" && nowMs - record.stateChangedAtMs >= olderThanMs) {
      await continueSeal(ctx, scope, stream);
    } else {
      return;
    }
  }
}
