// Proves Tier-2 under faults against a real S3 server (Ceph radosgw) behind a fault proxy: a segment store SIGKILLed
// while chunks are being uploaded recovers with no acknowledged event lost or doubled, no chunk referenced that is
// missing, and the dead owner's leftover chunks collected; and 30 s of 503s from S3 slow the writers (none fails) with
// memory bounded, after which tiering resumes and everything reads back.
import t from "tap";
import { Sluice, type EventWriter } from "../client/index.js";
import { eventHeaderBytes, MiB } from "../common/index.js";
import { startRadosgw, type Radosgw } from "../perf/support/radosgw.js";
import { startS3FaultProxy } from "./support/s3-fault-proxy.js";
import { bigEvent, bucketObjects, readAndCheck, rssBytes, startTier2Cluster } from "./support/tier2-cluster.js";

let gw: Radosgw;
t.before(async () => {
  gw = await startRadosgw();
});
t.teardown(() => gw.stop());

const size = 16 * 1024;
/** Bytes an event takes in its segment (and so in Tier-2): its length header and its data. */
const stored = size + eventHeaderBytes;
const keys = 32;

/** Waits until the bucket holds exactly `bytes` under `prefix` (everything tiered, nothing left over); resolves the object count. */
async function tieredExactly(prefix: string, bytes: number, timeoutMs: number): Promise<{ ok: boolean; objects: number; stored: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const objects = await bucketObjects(gw, prefix);
    const stored = [...objects.values()].reduce((a, b) => a + b, 0);
    if (stored === bytes || Date.now() > deadline) return { ok: stored === bytes, objects: objects.size, stored };
    await new Promise((r) => setTimeout(r, 250));
  }
}

function orderedKeys(byKey: Map<string, number[]>, perKey: number): number {
  const expected = JSON.stringify(Array.from({ length: perKey }, (_, i) => i));
  return [...byKey.values()].filter((seqs) => JSON.stringify(seqs) === expected).length;
}

void t.test("SIGKILL during tiering: nothing acknowledged lost or doubled, no missing chunk, leftovers collected", async (t) => {
  const proxy = await startS3FaultProxy(gw.endpoint);
  t.teardown(() => proxy.close());
  const { cluster, storeArgs } = await startTier2Cluster(t, gw, proxy.endpoint, "kill", ["--flush-bytes", String(MiB), "--flush-age-ms", "200"]);
  const sluice = await Sluice.connect(cluster.controllerUri!);
  t.teardown(() => sluice.close());
  await sluice.admin.createScope("t2");
  await sluice.admin.createStream("t2/kill", { scaling: { type: "fixed", minSegments: 4 } });
  const writer = sluice.writer("t2/kill");
  // Uploads take a while, so the kill finds chunks in flight.
  proxy.setMode({ delayMs: 300 });
  const total = 4096;
  let acked = 0;
  let killed: Promise<unknown> | undefined;
  const acks: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const key = `k${i % keys}`;
    acks.push(
      writer.write(bigEvent(key, Math.floor(i / keys), size), { routingKey: key }).then(() => {
        if (++acked === 1500) {
          const putsBefore = proxy.counts.put;
          killed = cluster.stores.get("a")!.proc.kill().then(async () => {
            t.comment(`store killed with ${putsBefore} PUTs sent`);
            await cluster.startStore("a", storeArgs);
          });
        }
      }),
    );
    if (i % 256 === 255) await new Promise((r) => setTimeout(r, 20));
  }
  await Promise.all(acks);
  await killed;
  t.ok(killed !== undefined, "the store was killed while writing and tiering");
  proxy.setMode("pass");

  const { byKey, bytes, bad } = await readAndCheck(sluice, "t2/kill", size);
  t.equal(bytes, total * size, "every acknowledged event is there");
  t.equal(bad, 0, "byte for byte");
  t.equal(orderedKeys(byKey, total / keys), keys, "per key: each event once, in order");
  // Every byte ends up in exactly one chunk: no chunk is partial, and no leftover of the dead owner remains.
  const tiered = await tieredExactly("kill", total * stored, 30_000);
  t.ok(tiered.ok, `the bucket holds exactly the stream's ${total * stored} bytes in ${tiered.objects} chunks (found ${tiered.stored})`);
  if (!tiered.ok) t.comment(JSON.stringify([...(await bucketObjects(gw, "kill"))]));
});

void t.test("S3 answering 503 for 30 s: writers slow, none fails, memory bounded, everything readable after", async (t) => {
  const proxy = await startS3FaultProxy(gw.endpoint);
  t.teardown(() => proxy.close());
  const pinnedMax = 64 * MiB;
  const { cluster } = await startTier2Cluster(t, gw, proxy.endpoint, "outage", [
    "--cache-bytes-max", String(pinnedMax),
    "--inflight-bytes-max", String(32 * MiB),
    "--flush-bytes", String(4 * MiB),
    "--flush-age-ms", "500",
  ]);
  const pid = cluster.stores.get("a")!.proc.proc.pid!;
  const sluice = await Sluice.connect(cluster.controllerUri!);
  t.teardown(() => sluice.close());
  await sluice.admin.createScope("t2");
  await sluice.admin.createStream("t2/outage", { scaling: { type: "fixed", minSegments: 4 } });
  const writer: EventWriter = sluice.writer("t2/outage");

  let sent = 0;
  let acked = 0;
  let failed = 0;
  const rssBase = rssBytes(pid);
  let rssPeak = rssBase;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssBytes(pid))), 100);
  const progress = setInterval(() => t.comment(`sent ${sent} acked ${acked} failed ${failed} s3 ${JSON.stringify(proxy.counts)}`), 5000);
  t.teardown(() => clearInterval(progress));
  t.teardown(() => clearInterval(sampler));
  const inflight = new Set<Promise<void>>();
  // The outage is driven by timers: the writing loop itself is held when the pinned bound is reached.
  let ackedBefore = 0;
  let ackedDuring = 0;
  setTimeout(() => {
    ackedBefore = acked;
    proxy.setMode("fail503");
  }, 5_000);
  setTimeout(() => {
    ackedDuring = acked - ackedBefore;
    proxy.setMode("pass");
  }, 35_000);
  const end = Date.now() + 40_000;
  while (Date.now() < end) {
    if (inflight.size >= 128) {
      await Promise.race([...inflight, new Promise((r) => setTimeout(r, 100))]);
      continue;
    }
    const key = `k${sent % keys}`;
    const p: Promise<void> = writer
      .write(bigEvent(key, Math.floor(sent / keys), size), { routingKey: key })
      .then(() => void acked++, () => void failed++)
      .finally(() => inflight.delete(p));
    inflight.add(p);
    sent++;
  }
  await Promise.all(inflight);
  await writer.flush();
  clearInterval(sampler);
  t.comment(`before: ${ackedBefore} events in 5 s; during 30 s of 503: ${ackedDuring} (${((ackedDuring * size) / MiB).toFixed(1)} MiB); ${proxy.counts.failed} requests refused; RSS ${(rssBase / MiB).toFixed(0)} -> peak ${(rssPeak / MiB).toFixed(0)} MiB`);
  t.equal(failed, 0, "no write failed");
  t.equal(acked, sent, "every write was acknowledged");
  t.ok(proxy.counts.failed > 0, "S3 refused requests during the outage");
  t.ok((ackedDuring * size) / MiB < 64 + 32 + 16, "during the outage writers were held near the pinned bound");
  t.ok(rssPeak - rssBase < pinnedMax + 32 * MiB + 192 * MiB, `store RSS grew ${((rssPeak - rssBase) / MiB).toFixed(0)} MiB: within the pinned and in-flight bounds plus a 192 MiB margin`);

  const { bytes, bad, byKey } = await readAndCheck(sluice, "t2/outage", size);
  t.equal(bytes, sent * size, "everything readable afterwards");
  t.equal(bad, 0);
  t.equal([...byKey.values()].reduce((n, l) => n + l.length, 0), sent);
  const tiered = await tieredExactly("outage", sent * stored, 30_000);
  t.ok(tiered.ok, `tiering resumed: the bucket holds the stream's bytes (${tiered.stored} of ${sent * stored})`);
});
