/**
 * Hashing. MurmurHash3 (x86, 32-bit) of UTF-8 bytes, used to place routing keys on the key space
 * [0, 1) and segments on containers. The function must never change: stored data depends on it.
 */

function mix32(k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, 0x1b873593);
}

export function murmur3x86_32(data: Uint8Array, seed = 0): number {
  let h = seed >>> 0;
  const blocks = data.length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    const k = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) >>> 0;
    h ^= mix32(k);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = data.length & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= data[blocks + 2]! << 16;
    if (tail >= 2) k ^= data[blocks + 1]! << 8;
    k ^= data[blocks]!;
    h ^= mix32(k);
  }
  h ^= data.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const encoder = new TextEncoder();
/** Routing keys are hashed on every write: encode them into one reused buffer, not a new one each. */
const scratch = new Uint8Array(1024);

/** Position of a routing key on the key space, in [0, 1). */
export function keyPosition(routingKey: string): number {
  if (routingKey.length * 3 <= scratch.length) {
    const { written } = encoder.encodeInto(routingKey, scratch);
    return murmur3x86_32(scratch.subarray(0, written)) / 4294967296;
  }
  return murmur3x86_32(encoder.encode(routingKey)) / 4294967296;
}

/**
 * The container a qualified segment name belongs to. The name is hashed with its epoch set to 0 and
 * without a transaction part, so a transaction segment lives with its parent, and a duplicate made
 * by a rolling transaction commit (same number, later epoch) with the segment it duplicates: a
 * merge is only possible within one container. Segment names of epoch 0 hash as they always did,
 * so data written before scaling existed stays on its container. Any other string hashes as is.
 */
export function containerOf(segmentName: string, containerCount: number): number {
  return murmur3x86_32(encoder.encode(placementKey(segmentName)), 0x5eed) % containerCount;
}

const placementPattern = /^(.*\.#epoch\.)\d+(?:#txn\.[0-9a-f]{32})?$/;

function placementKey(name: string): string {
  const m = placementPattern.exec(name);
  return m === null ? name : `${m[1]}0`;
}
