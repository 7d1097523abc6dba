/**
 * What the Tier-2 process tests share: a store cluster (etcd, one log node, segment stores,
 * controller) whose stores tier to a real radosgw through a fault proxy, deterministic large
 * events that can be checked byte for byte without keeping them, and views of the bucket and of
 * the log node's journal on disk.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Test } from "tap";
import type { Sluice } from "../../client/index.js";
import { S3ChunkStorage } from "../../segmentstore/tier2/s3-chunk-storage.js";
import type { Radosgw } from "../../perf/support/radosgw.js";
import { startStoreCluster, type StoreCluster } from "./store-cluster.js";

/** Event `seq` of routing key `key`: `key|seq|` and bytes derived from both, `size` long. */
export function bigEvent(key: string, seq: number, size: number): Buffer {
  const head = Buffer.from(`${key}|${seq}|`);
  const out = Buffer.allocUnsafe(size);
  head.copy(out);
  let x = (seq * 2654435761 + key.length * 40503) >>> 0;
  for (let i = head.length; i < size; i += 4) {
    x = (x * 1664525 + 1013904223) >>> 0;
    if (i + 4 <= size) out.writeUInt32LE(x, i);
    else for (let j = i; j < size; j++) out[j] = (x >>> ((j - i) * 8)) & 0xff;
  }
  return out;
}

/**
 * Reads every event of `stream` from the start of each segment and checks each byte against
 * `bigEvent`. Resolves the sequence numbers read per key, in read order, and the bytes checked.
 */
export async function readAndCheck(sluice: Sluice, stream: string, size: number): Promise<{ byKey: Map<string, number[]>; bytes: number; bad: number }> {
  const byKey = new Map<string, number[]>();
  let bytes = 0;
  let bad = 0;
  for (const range of await sluice.batch.segments(stream)) {
    for await (const e of sluice.batch.read(range)) {
      const data = Buffer.from(e.data);
      const [key, seq] = data.subarray(0, 64).toString("latin1").split("|");
      if (!data.equals(bigEvent(key!, Number(seq), size))) bad++;
      let list = byKey.get(key!);
      if (list === undefined) byKey.set(key!, (list = []));
      list.push(Number(seq));
      bytes += data.length;
    }
  }
  return { byKey, bytes, bad };
}

/** Bytes of every file under `dir` (0 if it does not exist). */
export function folderBytes(dir: string): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (st === undefined) continue;
    total += st.isDirectory() ? folderBytes(p) : st.size;
  }
  return total;
}

/** Every object under `prefix` in the radosgw bucket: names (without the prefix) and bytes. */
export async function bucketObjects(gw: Radosgw, prefix: string): Promise<Map<string, number>> {
  const storage = new S3ChunkStorage({ endpoint: gw.endpoint, bucket: gw.bucket, prefix, credentials: { accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey } });
  const out = new Map<string, number>();
  try {
    for await (const o of storage.list("")) out.set(o.name, o.bytes);
  } finally {
    await storage.close();
  }
  return out;
}

/** Resident memory of process `pid` in bytes (Linux /proc; 0 once it is gone). */
export function rssBytes(pid: number): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return 0;
  }
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m === null ? 0 : Number(m[1]) * 1024;
}

/** A cluster with one container whose store tiers to `s3Endpoint` (the fault proxy) under `prefix`. */
export async function startTier2Cluster(t: Test, gw: Radosgw, s3Endpoint: string, prefix: string, storeArgs: readonly string[]): Promise<{ cluster: StoreCluster; storeArgs: string[] }> {
  process.env.AWS_ACCESS_KEY_ID = gw.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = gw.secretAccessKey;
  const cluster = await startStoreCluster(t, 1, { lognodeArgs: ["--journal-file-bytes", String(16 * 1024 * 1024)] });
  const args = ["--tier2", `s3://${gw.bucket}/${prefix}`, "--s3-endpoint", s3Endpoint, ...storeArgs];
  await cluster.startStore("a", args);
  await cluster.startController("a");
  return { cluster, storeArgs: args };
}
