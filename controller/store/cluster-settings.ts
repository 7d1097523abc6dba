/**
 * Settings fixed for the life of a cluster's metadata, checked by every role that depends on them.
 */
import { ConditionalCheckFailedError, InvalidConfigError } from "../../common/index.js";
import type { MetadataStore } from "./metadata-store.js";

const containerCountKey = "cluster/containers";

/**
 * The container count is fixed for the life of the metadata: segments are hashed onto containers,
 * so a different count would look for them in the wrong place. The first role to start records
 * it; a later one with another count gets INVALID_CONFIG naming the count to use.
 */
export async function checkContainerCount(store: MetadataStore, containerCount: number): Promise<void> {
  for (;;) {
    const stored = await store.get(containerCountKey);
    if (stored === undefined) {
      try {
        await store.compareAndSet(containerCountKey, 0, Buffer.from(String(containerCount)));
        return;
      } catch (err) {
        // Another role recorded it first: check against what it wrote.
        if (!(err instanceof ConditionalCheckFailedError)) throw err;
        continue;
      }
    }
    const count = Number(stored.value.toString());
    if (count !== containerCount) {
      throw new InvalidConfigError(`--containers ${containerCount} differs from the ${count} containers this metadata was created with; use ${count}`);
    }
    return;
  }
}
