// Controller high availability on a real etcd: two controllers elect one leader; the leader is SIGKILLed in the
// middle of a scale (after it sealed the predecessors, before the epoch commit, held there by a test hook), and the
// other controller takes the lead and finishes the scale. The stream's epochs stay consistent, the sealed segments'
// data and the successors are all there, nothing is half done, and writers carry on in the new epoch. Both
// controllers answer API calls while they live.
import t from "tap";
import { Sluice } from "../client/index.js";
import { ControllerClient } from "../client/controller/controller-client.js";
import { readAllByKey, testEvent } from "./support/events.js";
import { startControlCluster } from "./support/control-cluster.js";
import { eventually } from "./support/lognodes.js";

void t.test("SIGKILL the leader between seal and commit: the other controller finishes the scale", async (t) => {
  const cluster = await startControlCluster(t, { containerCount: 2 });
  const a = await cluster.startController("ctl-a", [], { SLUICE_TEST_PAUSE_AFTER_SEAL_MS: "120000", SLUICE_LOG_LEVEL: "info" });
  t.ok(await eventually(async () => (await cluster.leader()) === "ctl-a", 20_000), "the first controller leads");
  const b = await cluster.startController("ctl-b");
  await cluster.startStore("s1");
  await cluster.settled(["s1"]);

  const viaB = await Sluice.connect(b.uri);
  t.teardown(() => viaB.close());
  await viaB.admin.createScope("ha");
  t.same(await viaB.admin.listScopes(), ["ha"], "the follower answers API calls");
  await viaB.admin.createStream("ha/orders", { scaling: { type: "fixed", minSegments: 2 } });
  const writer = viaB.writer("ha/orders");
  for (let i = 0; i < 400; i++) await writer.write(testEvent(`k${i % 20}`, Math.floor(i / 20)), { routingKey: `k${i % 20}` });
  await writer.close();
  const before = await viaB.admin.streamInfo("ha/orders");
  t.equal(before.epoch, 0);

  // Split the first segment through the leader; the hook holds it after sealing.
  const viaA = new ControllerClient(`127.0.0.1:${a.port}`);
  t.teardown(() => viaA.close());
  const sealed = before.segments[0]!;
  const mid = (sealed.keyStart + sealed.keyEnd) / 2;
  const scaling = viaA.call("Scale", { scope: "ha", stream: "orders", seal: [sealed.segment], newRanges: [{ keyStart: sealed.keyStart, keyEnd: mid }, { keyStart: mid, keyEnd: sealed.keyEnd }] }, 300_000);
  scaling.catch(() => undefined);
  t.ok(await eventually(() => /scale: predecessors sealed/.test(a.proc.stderr()), 30_000), "the leader sealed the predecessor and paused");
  const mid1 = await viaB.admin.streamInfo("ha/orders");
  t.equal(mid1.epoch, 0, "the epoch is not committed yet");
  const killedAt = performance.now();
  await a.proc.kill();
  await t.rejects(scaling, "the scale call through the dead controller fails");

  t.ok(await eventually(async () => (await cluster.leader()) === "ctl-b", 30_000), "the other controller takes the lead");
  const done = await eventually(async () => (await viaB.admin.streamInfo("ha/orders")).epoch === 1, 60_000);
  t.ok(done, "the scale was finished by the new leader");
  t.comment(`figure: SIGKILL of the leader -> epoch committed by the other controller after ${(performance.now() - killedAt).toFixed(0)} ms (leader lease 3000 ms)`);

  const after = await viaB.admin.streamInfo("ha/orders");
  const ranges = after.segments.map((s) => [s.keyStart, s.keyEnd]).sort((x, y) => x[0]! - y[0]!);
  t.same(ranges, [[sealed.keyStart, mid], [mid, sealed.keyEnd], [before.segments[1]!.keyStart, 1]], "the new epoch covers [0, 1) once, with the split applied");
  t.equal(after.segments.length, 3);
  const bClient = new ControllerClient(`127.0.0.1:${b.port}`);
  t.teardown(() => bClient.close());
  const succ = await bClient.call("GetSuccessors", { segment: sealed.segment });
  t.same(succ.successors.map((s) => s.range?.segment).sort(), after.segments.filter((s) => s.epoch === 1).map((s) => s.segment).sort(), "the successors are the new segments");
  for (const s of succ.successors) t.same(s.predecessors, [sealed.segment], "each successor's predecessor is the sealed segment");
  const between = await bClient.call("GetSegmentsBetween", { scope: "ha", stream: "orders" });
  t.same(between.segments.map((s) => s.range?.segment).sort(), [...before.segments.map((s) => s.segment), ...succ.successors.map((s) => s.range!.segment)].sort(), "history: both epochs' segments, nothing else");

  // Nothing orphaned or lost: every segment in the history exists on the store; the predecessor is sealed with its data.
  const { total } = await readAllByKey(viaB, "ha/orders");
  t.equal(total, 400, "every event written before the scale reads back");
  const writer2 = viaB.writer("ha/orders");
  for (let i = 0; i < 200; i++) await writer2.write(testEvent(`k${i % 20}`, 20 + Math.floor(i / 20)), { routingKey: `k${i % 20}` });
  await writer2.close();
  const { total: total2, byKey } = await readAllByKey(viaB, "ha/orders");
  t.equal(total2, 600, "writers carry on in the new epoch");
  for (const [key, seqs] of byKey) t.same(seqs, Array.from({ length: seqs.length }, (_, i) => i), `key ${key} in order`);
});
