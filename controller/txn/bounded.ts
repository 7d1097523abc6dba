/**
 * Runs data-plane calls over many segments with a bounded number in flight: one at a time is too
 * slow for a stream of a thousand segments, all at once floods the segment stores.
 */

/** Data-plane calls one workflow step keeps in flight at once. */
export const segmentCallsConcurrentMax = 16;

/**
 * Calls `fn` on every item, at most `limit` at a time; resolves once all have resolved, or rejects
 * with the first error after the calls already started have settled (none is left floating).
 */
export async function forEachBounded<T>(items: readonly T[], fn: (item: T, index: number) => Promise<void>, limit = segmentCallsConcurrentMax): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, () => worker()));
  if (failure !== undefined) throw failure.err;
}

/** Like forEachBounded, collecting each call's result in the order of `items`. */
export async function mapBounded<T, R>(items: readonly T[], fn: (item: T, index: number) => Promise<R>, limit = segmentCallsConcurrentMax): Promise<R[]> {
  const out = new Array<R>(items.length);
  await forEachBounded(items, async (item, i) => {
    out[i] = await fn(item, i);
  }, limit);
  return out;
}
