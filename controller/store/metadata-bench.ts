/**
 * `npm run perf:metadata`: put, compare-and-set and get throughput of both MetadataStore
 * implementations in one run, on this machine: the embedded store in a temporary directory, and a
 * real etcd (Debian etcd-server) started on 127.0.0.1 with a temporary data dir. Each operation runs
 * for `--seconds` (default 5) at 1 and at `--concurrency` (default 64) operations in flight; values
 * are 256 bytes over 10,000 keys. It sits beside the store rather than in perf/, which may import
 * only the client (DESIGN.md's layering).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../common/index.js";
import { EtcdMetadataStore } from "./etcd-metadata-store.js";
import { startEtcd } from "./etcd-server.js";
import { FileMetadataStore } from "./file-metadata-store.js";
import type { MetadataStore } from "./metadata-store.js";

const { config } = parseConfig(
  {
    seconds: { kind: "int", default: 5, min: 1, max: 600, help: "seconds per measurement" },
    concurrency: { kind: "int", default: 64, min: 1, max: 4096, help: "operations in flight for the concurrent rows" },
  },
  process.argv.slice(2),
);
const keys = 10_000;
const value = Buffer.alloc(256, 0x61);

type Op = "put" | "cas" | "get";

/** Runs `op` from `concurrency` loops for the configured time; returns ops/s and mean latency in ms. */
async function measure(store: MetadataStore, op: Op, concurrency: number): Promise<{ opsPerSec: number; meanMs: number }> {
  const endAt = performance.now() + config.seconds * 1000;
  let done = 0;
  let latencyMs = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      // Each CAS loop owns its key, so every compare is expected to hold.
      const own = `bench/cas/${worker}`;
      let version = op === "cas" ? ((await store.get(own))?.version ?? 0) : 0;
      for (let i = worker; performance.now() < endAt; i += concurrency) {
        const key = `bench/k/${i % keys}`;
        const start = performance.now();
        if (op === "put") await store.put(key, value);
        else if (op === "get") await store.get(key);
        else version = await store.compareAndSet(own, version, value);
        latencyMs += performance.now() - start;
        done++;
      }
    }),
  );
  return { opsPerSec: done / config.seconds, meanMs: latencyMs / done };
}

async function run(name: string, store: MetadataStore): Promise<string[]> {
  for (let i = 0; i < keys; i += 100) {
    await store.txn([], Array.from({ length: 100 }, (_, j) => ({ type: "put" as const, key: `bench/k/${i + j}`, value })));
  }
  const rows: string[] = [];
  for (const op of ["put", "cas", "get"] as const) {
    for (const concurrency of [1, config.concurrency]) {
      const r = await measure(store, op, concurrency);
      rows.push(`| ${name} | ${op} | ${concurrency} | ${Math.round(r.opsPerSec).toLocaleString("en-US")} | ${r.meanMs.toFixed(3)} |`);
      process.stderr.write(`${rows.at(-1)}\n`);
    }
  }
  return rows;
}

const dir = await mkdtemp(join(tmpdir(), "sluice-metadata-bench-"));
const etcd = await startEtcd();
try {
  const file = await FileMetadataStore.open(join(dir, "embedded"));
  const rows = await run("embedded", file);
  await file.close();
  const remote = await EtcdMetadataStore.connect(etcd.url);
  rows.push(...(await run("etcd 3.4", remote)));
  await remote.close();
  process.stdout.write(
    `\nmetadata store throughput, ${config.seconds} s per row, 256-byte values, ${new Date().toISOString()}\n` +
      `| store | op | in flight | ops/s | mean latency ms |\n|---|---|---:|---:|---:|\n${rows.join("\n")}\n`,
  );
} finally {
  await etcd.stop();
  await rm(dir, { recursive: true, force: true });
}
