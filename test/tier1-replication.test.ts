// Proves Tier-1 replication with real `sluice lognode` processes at 3/3/2: a node SIGKILLed mid-stream loses no
// acknowledged entry (on the log, and on the node itself after its restart), and two SIGSTOPped nodes hold back every
// ack until they continue, whether the log waits on them (long request timeout) or gives up their ledger (short one).
import t, { type Test } from "tap";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { SluiceError, toSluiceError } from "../common/index.js";
import { FileMetadataStore } from "../controller/store/index.js";
import type { LedgerState, LogNodeApi } from "../segmentstore/tier1/log-node-api.js";
import { addressEntryId, addressSeq, logAddress } from "../segmentstore/tier1/log-metadata.js";
import type { Tier1DataLog } from "../segmentstore/tier1/tier1-data-log.js";
import { startLogNodes, type LogNodeCluster } from "./support/lognodes.js";

const payloadBytes = 200;

/** Entry `seq`: its number first, then filler that depends on it. */
function payload(seq: number): Buffer {
  const head = Buffer.from(`seq-${seq};`);
  return Buffer.concat([head, Buffer.alloc(payloadBytes - head.length, seq % 251)]);
}

function seqOf(data: Buffer): number {
  const m = /^seq-(\d+);/.exec(data.subarray(0, 24).toString("latin1"));
  return m === null ? -1 : Number(m[1]);
}

interface ReadBack {
  seqs: number[];
  byAddress: Map<number, Buffer>;
  addressOf: Map<number, number>;
  intact: boolean;
}

async function readBack(log: Tier1DataLog): Promise<ReadBack> {
  const out: ReadBack = { seqs: [], byAddress: new Map(), addressOf: new Map(), intact: true };
  for await (const e of log.read()) {
    const seq = seqOf(e.data);
    out.seqs.push(seq);
    out.byAddress.set(e.address, e.data);
    out.addressOf.set(seq, e.address);
    if (!e.data.equals(payload(seq))) out.intact = false;
  }
  return out;
}

const strictlyIncreasing = (xs: readonly number[]): boolean => xs.every((x, i) => i === 0 || x > xs[i - 1]!);

/** Keeps `window` appends in flight until stopped; stops issuing at the first failure. */
function startAppends(log: Tier1DataLog, window: number) {
  const acked: { seq: number; address: number }[] = [];
  const failed: { seq: number; code: string }[] = [];
  const outstanding = new Set<Promise<void>>();
  let issued = 0;
  let stopped = false;
  const issue = (): void => {
    while (!stopped && failed.length === 0 && outstanding.size < window) {
      const seq = issued++;
      const p: Promise<void> = log
        .append([payload(seq)])
        .then(
          (address) => void acked.push({ seq, address }),
          (err: unknown) => void failed.push({ seq, code: toSluiceError(err).code }),
        )
        .finally(() => {
          outstanding.delete(p);
          issue();
        });
      outstanding.add(p);
    }
  };
  issue();
  return {
    acked,
    failed,
    async stop(): Promise<void> {
      stopped = true;
      while (outstanding.size > 0) await Promise.all([...outstanding]);
    },
  };
}

/** Wraps a node client to record every add it acknowledged, as "ledger/entry". */
function recording(node: LogNodeApi, acks: Set<string>): LogNodeApi {
  return {
    address: node.address,
    addEntry: async (ledger, entryId, lac, data, recovery) => {
      await node.addEntry(ledger, entryId, lac, data, recovery);
      acks.add(`${ledger}/${entryId}`);
    },
    readEntries: (ledger, first, maxBytes) => node.readEntries(ledger, first, maxBytes),
    readState: (ledger): Promise<LedgerState> => node.readState(ledger),
    fence: (ledger) => node.fence(ledger),
    deleteLedger: (ledger) => node.deleteLedger(ledger),
    close: () => node.close(),
  };
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

async function openMetadata(cluster: LogNodeCluster, t: Test): Promise<FileMetadataStore> {
  const metadata = await FileMetadataStore.open(join(cluster.dir, "meta"));
  t.teardown(() => metadata.close());
  return metadata;
}

void t.test("SIGKILL of one node mid-stream: appends go on, nothing acknowledged is lost", async (t) => {
  const cluster = await startLogNodes(t, 3);
  const metadata = await openMetadata(cluster, t);
  const victim = cluster.nodes[1]!;
  const victimAcks = new Set<string>();
  const owner1 = cluster.tier1({ metadata, wrap: (n) => (n.address === victim.address ? recording(n, victimAcks) : n) });
  const log1 = await owner1.openLog(0);
  t.teardown(() => log1.close());

  const run = startAppends(log1, 64);
  await until("1500 acks before the kill", () => run.acked.length >= 1500, 20_000);
  await victim.kill();
  const ackedAtKill = run.acked.length;
  const victimAckedBeforeKill = [...victimAcks];
  await until("1500 acks after the kill", () => run.acked.length >= ackedAtKill + 1500, 20_000);
  await run.stop();
  t.same(run.failed, [], "no append failed: one node of three down is not an error at 3/3/2");
  t.ok(run.acked.length >= ackedAtKill + 1500, `${run.acked.length - ackedAtKill} entries acknowledged after the kill (${ackedAtKill} before)`);
  t.ok(victimAckedBeforeKill.length > 0, `the killed node had acknowledged ${victimAckedBeforeKill.length} adds`);
  t.same(
    run.acked.map((a) => a.seq),
    Array.from({ length: run.acked.length }, (_, i) => i),
    "acks come in append order",
  );
  t.ok(strictlyIncreasing(run.acked.map((a) => a.address)), "addresses grow with append order");

  const check = (r: ReadBack, who: string): void => {
    t.ok(strictlyIncreasing(r.seqs), `${who}: in append order, no duplicates`);
    t.ok(r.intact, `${who}: every entry's bytes are intact`);
    t.same(run.acked.filter((a) => r.addressOf.get(a.seq) !== a.address), [], `${who}: every acknowledged entry is there, at its address`);
  };
  check(await readBack(log1), "the first owner");
  const ledgers = [...log1.ledgers];
  await log1.close();

  // The killed node comes back; a new owner recovers the log (this fences and closes its ledger).
  await victim.restart();
  const owner2 = cluster.tier1({ metadata });
  const log2 = await owner2.openLog(0);
  t.teardown(() => log2.close());
  t.equal(log2.epoch, log1.epoch + 1, "the new owner's epoch is one above");
  const after = await readBack(log2);
  check(after, "a new owner after the restart");

  // Everything the killed node acknowledged before the kill is on it, intact, after its restart.
  const direct = victim.remote();
  t.teardown(() => direct.close());
  const seqOfLedger = new Map(ledgers.map((l) => [l.id, l.seq]));
  const wanted = victimAckedBeforeKill.map((k) => k.split("/").map(Number) as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const missing: string[] = [];
  const covered = new Set<string>();
  for (const [ledger, entryId] of wanted) {
    if (covered.has(`${ledger}/${entryId}`)) continue;
    let entries: Buffer[];
    try {
      entries = await direct.readEntries(ledger, entryId, 4 * 1024 * 1024);
    } catch (err) {
      missing.push(`${ledger}/${entryId}: ${err instanceof SluiceError ? err.code : String(err)}`);
      continue;
    }
    entries.forEach((data, k) => {
      covered.add(`${ledger}/${entryId + k}`);
      const seq = seqOfLedger.get(ledger);
      const logged = seq === undefined ? undefined : after.byAddress.get(logAddress(seq, entryId + k));
      if (logged === undefined || !logged.equals(data)) missing.push(`${ledger}/${entryId + k}: differs from the log`);
    });
  }
  t.same(missing, [], `all ${wanted.length} adds the node acknowledged before SIGKILL read back from it, intact`);
});

/** Appends 20 entries, stops two nodes, appends 100 more, and checks no ack arrives for `pauseMs`. */
async function twoNodesStopped(t: Test, requestTimeoutMs: number, pauseMs: number) {
  const cluster = await startLogNodes(t, 3);
  const metadata = await openMetadata(cluster, t);
  const log = await cluster.tier1({ metadata, requestTimeoutMs }).openLog(0);
  t.teardown(() => log.close());
  const before = await Promise.all(Array.from({ length: 20 }, (_, i) => log.append([payload(i)])));
  cluster.nodes[1]!.pause();
  cluster.nodes[2]!.pause();
  let acks = 0;
  const settled: { seq: number; address?: number; code?: string }[] = [];
  const appends = Array.from({ length: 100 }, (_, k) =>
    log.append([payload(20 + k)]).then(
      (address) => {
        acks++;
        settled.push({ seq: 20 + k, address });
      },
      (err: unknown) => void settled.push({ seq: 20 + k, code: toSluiceError(err).code }),
    ),
  );
  await sleep(pauseMs);
  t.equal(acks, 0, `no ack while two of three nodes are stopped (${pauseMs} ms)`);
  t.same(settled, [], "and no append failed meanwhile: they wait");
  cluster.nodes[1]!.resume();
  cluster.nodes[2]!.resume();
  const started = Date.now();
  const giveUp = new AbortController();
  await Promise.race([Promise.all(appends), sleep(20_000, undefined, { signal: giveUp.signal }).catch(() => undefined)]);
  giveUp.abort();
  t.equal(acks, 100, `every append is acknowledged once the nodes continue (${Date.now() - started} ms)`);
  t.same(settled.filter((s) => s.code !== undefined), [], "none failed");
  t.same(settled.map((s) => s.seq), Array.from({ length: 100 }, (_, k) => 20 + k), "acks in append order");
  const r = await readBack(log);
  t.same(r.seqs, Array.from({ length: 120 }, (_, i) => i), "the log reads back in order, every entry once");
  t.ok(r.intact, "intact");
  return { before, after: settled.map((s) => s.address ?? -1), log };
}

void t.test("two of three nodes SIGSTOPped, long request timeout: acks wait, then all come on SIGCONT", async (t) => {
  const { before, after } = await twoNodesStopped(t, 10_000, 1_800);
  t.ok([...before, ...after].every((a) => addressSeq(a) === addressSeq(before[0]!)), "the log waited on its ledger: one ledger holds all");
  t.same(after.map(addressEntryId), Array.from({ length: 100 }, (_, k) => 20 + k), "entries 20..119 of it");
});

void t.test("two of three nodes SIGSTOPped, short request timeout: the log gives up the ledger and waits for a quorum", async (t) => {
  const { before, after, log } = await twoNodesStopped(t, 500, 3_000);
  const first = addressSeq(before[0]!);
  t.ok(after.every((a) => addressSeq(a) > first), "the appends made while the nodes were stopped went to a new ledger");
  t.ok(log.ledgers.length >= 2, `the log has ${log.ledgers.length} ledgers`);
  t.equal(log.ledgers[0]?.lastEntryId, 19, "the old ledger was closed at its last acknowledged entry");
});
