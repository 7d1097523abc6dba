// Stateless failover between real segment store processes over one real log node and a real etcd:
// - a container is handed over while both stores live (the CLI assigns it): the new owner serves it, the old one
//   answers WRONG_HOST, and a client writer carries on through the controller;
// - the serving store is SIGKILLed after acks: the other store takes every container over from Tier-1, every
//   acknowledged event is readable there exactly once and in order per key, and the time from the kill to the first
//   successful append on the new owner is measured (printed as a figure);
// - a zombie: a SIGSTOPped store whose containers were taken over acknowledges no append after SIGCONT.
import t from "tap";
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { Sluice } from "../client/index.js";
import { errorFromWireId } from "../common/index.js";
import { sluiceBin, tsNodeArgs } from "../perf/support/standalone-process.js";
import { readAllByKey, testEvent } from "./support/events.js";
import { appendBlock, readNumbers, segmentInContainer, startStoreCluster } from "./support/store-cluster.js";

const keyCount = 40;
const all = [0, 1, 2, 3];

void t.test("hand-over while both live, then SIGKILL of the owner: nothing acknowledged is lost or doubled", async (t) => {
  const cluster = await startStoreCluster(t);
  await cluster.startStore("a");
  await cluster.startStore("b");
  t.same(await Promise.all(all.map((c) => cluster.ownerOf(c))), ["a", "a", "a", "a"], "the first store claimed every container");
  const uri = await cluster.startController("a");

  const sluice = await Sluice.connect(uri);
  t.teardown(() => sluice.close());
  await sluice.admin.createScope("fo");
  await sluice.admin.createStream("fo/events", { scaling: { type: "fixed", minSegments: 4 } });
  const writer = sluice.writer("fo/events");
  let seq = 0;
  const writeRound = async (n: number) => {
    const acks: Promise<void>[] = [];
    for (let i = 0; i < n; i++, seq++) {
      const key = `k${seq % keyCount}`;
      acks.push(writer.write(testEvent(key, Math.floor(seq / keyCount)), { routingKey: key }));
    }
    await Promise.all(acks);
  };
  await writeRound(2000);

  // Hand-over while both live, told by the CLI.
  const cli = spawnSync(process.execPath, tsNodeArgs(sluiceBin, ["container", "assign", "--metadata", cluster.etcd.url, "--containers", "1", "--to", "b"]), { encoding: "utf8" });
  t.equal(cli.status, 0, `sluice container assign: ${cli.stderr}`);
  await cluster.moveContainers([1], "b");
  const inOne = segmentInContainer("fo/probe", 1, 4);
  const a = await cluster.connect("a");
  const wrongHost = await a.request({ type: "GetSegmentInfo", requestId: a.nextRequestId(), segment: inOne }, "SegmentInfo", 5_000).catch((e: unknown) => e);
  t.match(wrongHost, { code: "WRONG_HOST" }, "the old owner answers WRONG_HOST for the moved container");
  await a.close();
  await writeRound(2000);
  t.pass("the writer carried on after the hand-over");

  // SIGKILL of the store that still owns three containers, after acks and with appends in flight: the writer
  // resends them to the new owner, which drops what the old one had made durable.
  let ackedInRound = 0;
  const acks: Promise<void>[] = [];
  for (let i = 0; i < 4000; i++, seq++) {
    const key = `k${seq % keyCount}`;
    acks.push(writer.write(testEvent(key, Math.floor(seq / keyCount)), { routingKey: key }).then(() => void ackedInRound++));
    if (i === 2000) await acks[1000];
  }
  const inFlight = Promise.all(acks);
  await cluster.stores.get("a")!.proc.kill();
  t.ok(ackedInRound > 0 && ackedInRound < 4000, `killed with ${4000 - ackedInRound} of 4000 events unacknowledged`);
  const killedAt = performance.now();
  await cluster.moveContainers(all, "b");
  const b = await cluster.connect("b");
  t.teardown(() => b.close());
  const probe = segmentInContainer("fo/probe", 0, 4);
  await b.request({ type: "CreateSegment", requestId: b.nextRequestId(), segment: probe }, "SegmentCreated", 10_000);
  const w = randomBytes(16);
  await b.request({ type: "SetupAppend", requestId: b.nextRequestId(), writerId: w, segment: probe }, "AppendSetup", 10_000);
  await appendBlock(b, w, probe, 0, 0);
  const failoverMs = performance.now() - killedAt;
  t.comment(`figure: kill -> first append acknowledged by the new owner: ${failoverMs.toFixed(0)} ms (assignment written by the test right after the kill)`);
  t.ok(failoverMs < 30_000, `failover took ${failoverMs.toFixed(0)} ms`);

  await inFlight;
  await writeRound(2000);
  await writer.flush();
  const reader = await Sluice.connect(uri);
  t.teardown(() => reader.close());
  const { total, byKey } = await readAllByKey(reader, "fo/events");
  t.equal(total, seq, "every acknowledged event is readable on the new owner, once");
  const expected = JSON.stringify(Array.from({ length: seq / keyCount }, (_, i) => i));
  t.equal([...byKey.values()].filter((s) => JSON.stringify(s) === expected).length, keyCount, "per key, in write order");
});

void t.test("a zombie store (SIGSTOPped while its containers were taken over) acknowledges nothing after SIGCONT", async (t) => {
  const cluster = await startStoreCluster(t);
  const { proc } = await cluster.startStore("a");
  await cluster.startStore("b");
  const segment = segmentInContainer("zo/events", 2, 4);
  const a = await cluster.connect("a");
  t.teardown(() => a.close());
  await a.request({ type: "CreateSegment", requestId: a.nextRequestId(), segment }, "SegmentCreated", 10_000);
  const w = randomBytes(16);
  await a.request({ type: "SetupAppend", requestId: a.nextRequestId(), writerId: w, segment }, "AppendSetup", 10_000);
  for (let i = 0; i < 10; i++) await appendBlock(a, w, segment, i * 10, i * 10 + 9);
  const attribute = randomBytes(16);
  await a.request({ type: "UpdateAttributes", requestId: a.nextRequestId(), segment, updates: [{ id: attribute, value: 42, compare: true, expected: -1 }] }, "AttributesUpdated", 10_000);
  const sealed = segmentInContainer("zo/sealed", 2, 4);
  await a.request({ type: "CreateSegment", requestId: a.nextRequestId(), segment: sealed }, "SegmentCreated", 10_000);
  await a.request({ type: "SealSegment", requestId: a.nextRequestId(), segment: sealed }, "SegmentSealed", 10_000);

  proc.proc.kill("SIGSTOP");
  await cluster.moveContainers(all, "b");
  proc.proc.kill("SIGCONT");

  // Appends sent to the zombie after it continues: none may be acknowledged.
  const acked: number[] = [];
  const refused: string[] = [];
  a.subscribe((f) => {
    if (f.type === "DataAppended") acked.push(f.eventNumber);
    else if (f.type === "Error") refused.push(errorFromWireId(f.errorId, f.message).code);
  });
  const late = [];
  for (let i = 10; i < 30; i++) late.push(appendBlock(a, w, segment, i * 10, i * 10 + 9, 5_000).then(() => "acked", (e: unknown) => (e instanceof Error && "code" in e ? String(e.code) : "error")));
  const outcomes = await Promise.all(late);
  t.same(acked, [], "no append sent after SIGCONT was acknowledged");
  t.notOk(outcomes.includes("acked"), `outcomes: ${[...new Set(outcomes)].join(", ")}`);
  t.ok(outcomes.every((o) => o === "WRONG_HOST" || o === "WRITER_NOT_SET_UP" || o === "CONNECTION_CLOSED" || o === "TIMEOUT"), "refused, never acknowledged");

  const b = await cluster.connect("b");
  t.teardown(() => b.close());
  const numbers = await readNumbers(b, segment);
  t.same(numbers, Array.from({ length: 100 }, (_, i) => i), "the new owner holds exactly the 100 events the old one acknowledged");
  const setup = await b.request({ type: "SetupAppend", requestId: b.nextRequestId(), writerId: w, segment }, "AppendSetup", 10_000);
  t.equal(setup.lastEventNumber, 99, "and knows the writer's last event number, so it can resume exactly once");
  const attrs = await b.request({ type: "GetAttributes", requestId: b.nextRequestId(), segment, ids: [attribute] }, "AttributesRead", 10_000);
  t.equal(attrs.values[0]?.value, 42, "attributes came back from the log");
  const info = await b.request({ type: "GetSegmentInfo", requestId: b.nextRequestId(), segment: sealed }, "SegmentInfo", 10_000);
  t.equal(info.sealed, true, "and so did the seal");
});
