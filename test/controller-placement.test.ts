// Placement and failover with real processes on a real etcd: three segment stores register with the controller,
// which spreads six containers evenly over them; one store gets SIGKILL while writers and tail readers run. Its
// containers move to the two others once its lease runs out (the time is measured and printed as a figure), the
// writers and readers carry on through the controller's endpoints, and every acknowledged event is read back
// exactly once, in order per key. A fourth store that joins then gets a fair share.
import t from "tap";
import { Sluice, type SegmentReader } from "../client/index.js";
import { readAllByKey, testEvent } from "./support/events.js";
import { startControlCluster } from "./support/control-cluster.js";
import { eventually } from "./support/lognodes.js";

const containerCount = 6;
const keyCount = 60;

function countByStore(owners: Map<number, string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of owners.values()) counts.set(s, (counts.get(s) ?? 0) + 1);
  return counts;
}

void t.test("three stores, one SIGKILLed: containers move within the lease, nothing acknowledged is lost", async (t) => {
  const cluster = await startControlCluster(t, { containerCount });
  await cluster.startController("ctl-1");
  for (const id of ["a", "b", "c"]) await cluster.startStore(id);
  const owners = await cluster.settled(["a", "b", "c"]);
  t.same([...countByStore(owners).values()].sort(), [2, 2, 2], "six containers spread evenly over three stores");

  const sluice = await Sluice.connect(cluster.controllerList());
  t.teardown(() => sluice.close());
  await sluice.admin.createScope("pl");
  await sluice.admin.createStream("pl/events", { scaling: { type: "fixed", minSegments: 6 } });
  const segments = (await sluice.admin.streamInfo("pl/events")).segments.map((s) => s.segment);

  // Tail readers, one per segment: they must keep reading across the failover.
  const readers: SegmentReader[] = segments.map((s) => sluice.segmentReader(s, { waitMs: 1000, retryCountMax: 30 }));
  const readCounts = readers.map(() => 0);
  const readLoops = readers.map(async (r, i) => {
    try {
      for (;;) readCounts[i]! += (await r.next()).length;
    } catch (err) {
      if ((err as { code?: string }).code !== "CLOSED") throw err;
    }
  });

  const writer = sluice.writer("pl/events");
  let seq = 0;
  let acked = 0;
  let failed = 0;
  let writing = true;
  const writeLoop = (async () => {
    while (writing) {
      const batch: Promise<void>[] = [];
      for (let i = 0; i < 200; i++, seq++) {
        const key = `k${seq % keyCount}`;
        batch.push(writer.write(testEvent(key, Math.floor(seq / keyCount)), { routingKey: key }).then(() => void acked++, () => void failed++));
      }
      await Promise.all(batch);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  t.ok(await eventually(() => acked > 2000, 30_000), "writers running");

  const victim = owners.get(0)!;
  const survivors = ["a", "b", "c"].filter((s) => s !== victim);
  const ackedAtKill = acked;
  const readAtKill = readCounts.reduce((a, b) => a + b, 0);
  const killedAt = performance.now();
  await cluster.stores.get(victim)!.proc.kill();
  const moved = await cluster.settled(survivors, 60_000);
  const movedMs = performance.now() - killedAt;
  t.comment(`figure: SIGKILL of a store -> all its containers served by the others: ${movedMs.toFixed(0)} ms (store lease 3000 ms, heartbeat 300 ms, placement tick 300 ms)`);
  t.ok(movedMs < 20_000, `containers moved within the bound (${movedMs.toFixed(0)} ms < 20 s)`);
  t.same([...countByStore(moved).values()].sort(), [3, 3], "spread evenly over the two survivors");

  t.ok(await eventually(() => acked > ackedAtKill + 2000, 60_000), `writers carried on (${acked - ackedAtKill} acks since the kill)`);
  t.ok(await eventually(() => readCounts.reduce((a, b) => a + b, 0) > readAtKill + 2000, 60_000), "tail readers carried on");

  // A joining store gets a fair share.
  await cluster.startStore("d");
  const rebalanced = await cluster.settled([...survivors, "d"], 60_000);
  t.same([...countByStore(rebalanced).values()].sort(), [2, 2, 2], "the joining store got a fair share");

  writing = false;
  await writeLoop;
  await writer.flush().catch(() => undefined);
  t.equal(failed, 0, "no write failed");
  const { total, byKey } = await readAllByKey(sluice, "pl/events");
  t.equal(total, acked, "every acknowledged event is there, once");
  let outOfOrder = 0;
  for (const seqs of byKey.values()) for (let i = 1; i < seqs.length; i++) if (seqs[i]! !== seqs[i - 1]! + 1) outOfOrder++;
  t.equal(outOfOrder, 0, "per key, events are in write order without gaps");

  t.ok(await eventually(() => readCounts.reduce((a, b) => a + b, 0) >= acked, 30_000), "the tail readers saw every event too");
  for (const r of readers) r.close();
  await Promise.all(readLoops);
});
