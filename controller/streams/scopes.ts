/**
 * Scopes: `scopes/<scope>` records. A scope is deleted only when empty (no stream, no reader group).
 * Creating a stream rewrites its scope record in the same metadata transaction, so a delete that
 * checked emptiness at an older version of the scope record fails its compare and looks again:
 * no stream can be left under a deleted scope.
 */
import { ConditionalCheckFailedError, ScopeNotEmptyError, UnavailableError, validateName } from "../../common/index.js";
import { listAll, type KeyValue, type MetadataStore } from "../store/index.js";
import type { Clock } from "../../common/index.js";
import { createAbandonedAfterMs } from "./stream-lifecycle.js";
import { decodeStream, encodeRecord, readerGroupPrefix, scopeKey, scopeRootPrefix, streamPrefix } from "./stream-metadata.js";
import { streamCasAttemptsMax } from "./workflow-slot.js";

/** Creates a scope; false if it exists already. Raises INVALID_NAME. */
export async function createScope(store: MetadataStore, clock: Clock, scope: string): Promise<boolean> {
  validateName("scope", scope);
  try {
    await store.compareAndSet(scopeKey(scope), 0, encodeRecord({ createdAtMs: clock.nowMs() }));
    return true;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedError) return false;
    throw err;
  }
}

export async function listScopes(store: MetadataStore): Promise<string[]> {
  return (await listAll(store, scopeRootPrefix)).map((kv) => kv.key.slice(scopeRootPrefix.length));
}

/**
 * What the SCOPE_NOT_EMPTY message says of the first stream still in a scope. Streams being created
 * or deleted are not listed, so the message names them and says when they go.
 */
function whyHeld(scope: string, kv: KeyValue): string {
  const name = kv.key.slice(kv.key.lastIndexOf("/") + 1);
  switch (decodeStream(kv).state) {
    case "creating":
      return `scope ${scope} is not empty: stream ${name} is being created (it is finished or rolled back within ${createAbandonedAfterMs / 1000} s); retry then`;
    case "deleting":
      return `scope ${scope} is not empty: stream ${name} is being deleted (its segments go once a segment store serves them; \`sluice stream delete ${scope}/${name}\` finishes it when one does); retry then`;
    case "active":
    case "sealing":
    case "sealed":
      return `scope ${scope} still holds streams (${name}, maybe more): seal and delete them first`;
  }
}

/** Deletes an empty scope; false if there is none. Raises INVALID_NAME, SCOPE_NOT_EMPTY. */
export async function deleteScope(store: MetadataStore, scope: string): Promise<boolean> {
  validateName("scope", scope);
  for (let attempt = 0; attempt < streamCasAttemptsMax; attempt++) {
    const kv = await store.get(scopeKey(scope));
    if (kv === undefined) return false;
    const [held] = (await store.list(streamPrefix(scope), { limit: 1 })).entries;
    if (held !== undefined) throw new ScopeNotEmptyError(whyHeld(scope, held));
    if ((await store.list(readerGroupPrefix(scope), { limit: 1 })).entries.length > 0) {
      throw new ScopeNotEmptyError(`scope ${scope} still holds reader groups: delete them first`);
    }
    try {
      await store.delete(scopeKey(scope), kv.version);
      return true;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedError)) throw err;
    }
  }
  throw new UnavailableError(`scope ${scope} kept changing during ${streamCasAttemptsMax} attempts to delete it; retry`);
}
