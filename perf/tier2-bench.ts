/**
 * Tier-2 figures, all in one run against one fresh single-node Ceph radosgw on this machine:
 *
 * 1. radosgw's own GET bandwidth: one client reading `--stream-mib` of 8 MiB objects in turn (the
 *    yardstick for a single catch-up reader).
 * 2. Ingest with tiering on: one writer process's worth of 64 KiB events into a 4-segment stream on
 *    a standalone whose Tier-2 is that radosgw, with the pinned bound and chunk cache of the
 *    acceptance test (128 MiB / 64 MiB).
 * 3. Catch-up read: one reader from the head of that stream once it is all in Tier-2 (flushed and
 *    unpinned), segment after segment, through the segment store's chunk cache and read-ahead.
 *
 * Prints the catch-up bandwidth as a ratio to (1), taken in the same run.
 *
 *   npm run perf:tier2 -- [--stream-mib 512]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Sluice } from "../client/index.js";
import { MiB, parseConfig } from "../common/index.js";
import { startRadosgw, type Radosgw } from "./support/radosgw.js";
import { startStandaloneProcess } from "./support/standalone-process.js";

const { config } = parseConfig(
  { "stream-mib": { kind: "int", default: 512, min: 64, max: 8192, help: "MiB written, then read back" } },
  process.argv.slice(2),
);
const streamBytes = config["stream-mib"] * MiB;
const objectBytes = 8 * MiB;
const eventBytes = 64 * 1024;

async function getBandwidth(gw: Radosgw): Promise<number> {
  const s3 = new S3Client({ endpoint: gw.endpoint, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey } });
  const body = Buffer.alloc(objectBytes, 7);
  const count = streamBytes / objectBytes;
  for (let i = 0; i < count; i++) await s3.send(new PutObjectCommand({ Bucket: gw.bucket, Key: `bench/get-${i}`, Body: body }));
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const out = await s3.send(new GetObjectCommand({ Bucket: gw.bucket, Key: `bench/get-${i}` }));
    const bytes = await out.Body!.transformToByteArray();
    if (bytes.length !== objectBytes) throw new Error(`short GET: ${bytes.length}`);
  }
  s3.destroy();
  return streamBytes / MiB / ((performance.now() - started) / 1000);
}

const dir = await mkdtemp(join(tmpdir(), "sluice-tier2-bench-"));
const gw = await startRadosgw();
try {
  const getMiBs = await getBandwidth(gw);
  process.env.AWS_ACCESS_KEY_ID = gw.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = gw.secretAccessKey;
  const server = await startStandaloneProcess(join(dir, "data"), [
    "--tier2", `s3://${gw.bucket}/sluice`, "--s3-endpoint", gw.endpoint,
    "--cache-bytes-max", String(128 * MiB), "--read-cache-bytes-max", String(64 * MiB), "--flush-age-ms", "1000",
  ]);
  try {
    const sluice = await Sluice.connect(server.controllerUri);
    await sluice.admin.createScope("bench");
    await sluice.admin.createStream("bench/history", { scaling: { type: "fixed", minSegments: 4 } });
    const writer = sluice.writer("bench/history");
    const payload = Buffer.alloc(eventBytes, 5);
    const total = streamBytes / eventBytes;
    const inflight = new Set<Promise<void>>();
    const writeStarted = performance.now();
    for (let i = 0; i < total; i++) {
      const p: Promise<void> = writer.write(payload, { routingKey: `k${i % 64}` }).finally(() => inflight.delete(p));
      inflight.add(p);
      if (inflight.size >= 256) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    const ingestS = (performance.now() - writeStarted) / 1000;
    // Let the last appends age past the flush threshold so the whole stream is in Tier-2, unpinned.
    await new Promise((r) => setTimeout(r, 3000));
    const readStarted = performance.now();
    let read = 0;
    for (const range of await sluice.batch.segments("bench/history")) for await (const e of sluice.batch.read(range)) read += e.data.length;
    const readS = (performance.now() - readStarted) / 1000;
    await sluice.close();
    if (read !== streamBytes) throw new Error(`read ${read} bytes of ${streamBytes}`);
    const ingestMiBs = streamBytes / MiB / ingestS;
    const readMiBs = streamBytes / MiB / readS;
    process.stdout.write(
      [
        `stream ${config["stream-mib"]} MiB of ${eventBytes / 1024} KiB events, 4 segments; standalone with Tier-2 on radosgw, pinned 128 MiB, chunk cache 64 MiB`,
        `radosgw GET, one client, 8 MiB objects:   ${getMiBs.toFixed(1)} MiB/s`,
        `ingest with tiering on (durable acks):    ${ingestMiBs.toFixed(1)} MiB/s (${Math.round(total / ingestS)} events/s)`,
        `catch-up read from the head (Tier-2):     ${readMiBs.toFixed(1)} MiB/s`,
        `catch-up / radosgw GET:                   ${(readMiBs / getMiBs).toFixed(2)}`,
        "",
      ].join("\n"),
    );
  } finally {
    await server.stop();
  }
} finally {
  await gw.stop();
  await rm(dir, { recursive: true, force: true });
}
