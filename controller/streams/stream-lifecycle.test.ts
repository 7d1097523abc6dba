// Proves scopes and the stream lifecycle on the embedded metadata store and an in-memory segment
// fake: create/list/validate (bad configs name the field), two-step create repaired after a crash
// (finished by a retry or resumeWorkflows) and rolled back when its segments fail or no segment store
// can serve it (refused before anything is written when that is known up front),
// config updates rescale, seal settles transactions and is idempotent, delete needs a seal and
// then leaves no key under the stream's prefixes and no segment, and scope deletion rules.
import t from "tap";
import { NoSegmentStoreError } from "../../common/index.js";
import { harness, keysUnder, orphans, until } from "./stream-test-support.js";
import { StreamService } from "./stream-service.js";

void t.test("scopes: create, list, delete only when empty", async (t) => {
  const { svc, store } = await harness(t);
  t.equal(await svc.createScope("shop"), true);
  t.equal(await svc.createScope("shop"), false, "exists already");
  t.equal(await svc.createScope("other"), true);
  t.same(await svc.listScopes(), ["other", "shop"]);
  await t.rejects(svc.createScope("bad/name"), { code: "INVALID_NAME" });
  t.equal(await svc.createStream("shop", "orders"), true);
  await t.rejects(svc.deleteScope("shop"), { code: "SCOPE_NOT_EMPTY" });
  await store.put("readergroups/other/g1", Buffer.from("{}"));
  await t.rejects(svc.deleteScope("other"), { code: "SCOPE_NOT_EMPTY", message: /reader groups/ });
  await store.delete("readergroups/other/g1");
  t.equal(await svc.deleteScope("other"), true);
  t.equal(await svc.deleteScope("other"), false, "absent");
  await svc.sealStream("shop", "orders");
  await svc.deleteStream("shop", "orders");
  t.equal(await svc.deleteScope("shop"), true, "empty once its stream is deleted");
  t.same(await svc.listScopes(), []);
});

void t.test("createStream: defaults, equal ranges, exists, errors", async (t) => {
  const { svc, ops } = await harness(t);
  await t.rejects(svc.createStream("nope", "s"), { code: "NO_SUCH_SCOPE" });
  await svc.createScope("sc");
  t.equal(await svc.createStream("sc", "one"), true);
  const one = await svc.getStream("sc", "one");
  t.same(one.config, { scaling: { type: "FIXED", minSegments: 1, targetRate: 0, scaleFactor: 0 }, retention: { type: "RETENTION_NONE", limit: 0 } }, "absent config is FIXED(1), no retention");
  t.equal(one.segments.length, 1);
  t.equal(await svc.createStream("sc", "three", { scaling: { type: "FIXED", minSegments: 3, targetRate: 0, scaleFactor: 0 } }), true);
  t.equal(await svc.createStream("sc", "three"), false, "exists");
  const segs = await svc.currentRanges("sc", "three");
  t.same(segs.map((s) => [s.segment, s.keyStart, s.keyEnd]), [
    ["sc/three/0.#epoch.0", 0, 1 / 3],
    ["sc/three/1.#epoch.0", 1 / 3, 2 / 3],
    ["sc/three/2.#epoch.0", 2 / 3, 1],
  ]);
  for (const s of segs) t.ok(ops.segments.has(s.segment), `${s.segment} created on the store`);
  t.same(await svc.listStreams("sc"), ["one", "three"]);
  await t.rejects(svc.listStreams("nope"), { code: "NO_SUCH_SCOPE" });
  await t.rejects(svc.getStream("sc", "missing"), { code: "NO_SUCH_STREAM" });
  await t.rejects(svc.createStream("sc", "bad name"), { code: "INVALID_NAME" });
});

void t.test("createStream: every bad config is INVALID_ARGUMENT naming the field", async (t) => {
  const { svc } = await harness(t);
  await svc.createScope("sc");
  const fixed = (minSegments: number, targetRate = 0, scaleFactor = 0) => ({ scaling: { type: "FIXED" as const, minSegments, targetRate, scaleFactor } });
  const rate = (minSegments: number, targetRate: number, scaleFactor: number) => ({ scaling: { type: "BY_EVENT_RATE" as const, minSegments, targetRate, scaleFactor } });
  const cases: [string, Parameters<typeof svc.createStream>[2], RegExp][] = [
    ["fixed 0", fixed(0), /scaling\.minSegments/],
    ["fixed too many", fixed(1025), /scaling\.minSegments.*1024/],
    ["fixed with a rate", fixed(2, 5), /scaling\.targetRate/],
    ["rate without target", rate(1, 0, 2), /scaling\.targetRate/],
    ["rate factor 1", rate(1, 10, 1), /scaling\.scaleFactor/],
    ["rate factor too big", rate(1, 10, 33), /scaling\.scaleFactor/],
    ["rate min 0", rate(0, 10, 2), /scaling\.minSegments/],
    ["time retention too short", { retention: { type: "BY_TIME", limit: 999 } }, /retention\.limit/],
    ["size retention 0", { retention: { type: "BY_SIZE", limit: 0 } }, /retention\.limit/],
    ["none with a limit", { retention: { type: "RETENTION_NONE", limit: 5 } }, /retention\.limit/],
  ];
  for (const [what, config, message] of cases) {
    await t.rejects(svc.createStream("sc", "s", config), { code: "INVALID_ARGUMENT", message }, what);
  }
  t.same(await svc.listStreams("sc"), [], "nothing was created");
  t.equal(await svc.createStream("sc", "r", { scaling: { type: "BY_DATA_RATE", minSegments: 2, targetRate: 100, scaleFactor: 2 }, retention: { type: "BY_SIZE", limit: 1 } }), true);
  t.same((await svc.listActiveStreams()).map((s) => [s.stream, s.scaling.type, s.retention.type]), [["r", "BY_DATA_RATE", "BY_SIZE"]]);
});

void t.test("a create whose segments fail is rolled back: nothing invisible is left, the name is free", async (t) => {
  const h = await harness(t);
  await h.svc.createScope("sc");
  h.ops.callsBeforeCrash = 1;
  await t.rejects(h.svc.createStream("sc", "a", { scaling: { type: "FIXED", minSegments: 2, targetRate: 0, scaleFactor: 0 } }), { code: "UNAVAILABLE", message: /sc\/a was not created.*simulated/ });
  t.same(await keysUnder(h.store, "streams/sc/", "epochs/sc/"), [], "no stream or epoch record is left");
  await t.rejects(h.svc.getStream("sc", "a"), { code: "NO_SUCH_STREAM" });
  t.same(await h.svc.listStreams("sc"), []);
  t.same(await orphans(h.store, h.ops), ["sc/a/0.#epoch.0"], "the segment made before the failure stays on its store, empty");
  h.ops.callsBeforeCrash = undefined;
  t.equal(await h.svc.createStream("sc", "a", { scaling: { type: "FIXED", minSegments: 3, targetRate: 0, scaleFactor: 0 } }), true, "a retry is a new create");
  t.equal((await h.svc.getStream("sc", "a")).segments.length, 3, "with the retry's config");
  t.same(await orphans(h.store, h.ops), [], "it adopted the segment left behind");
});

void t.test("a create whose controller died after writing its record is finished by a retry or by resumeWorkflows", async (t) => {
  const h = await harness(t);
  const create = h.ops.createSegment.bind(h.ops);
  // The first segment call never answers: the controller that made it is as good as dead.
  const dieOnce = () => {
    let died = false;
    h.ops.createSegment = (segment: string) => {
      if (died) return create(segment);
      died = true;
      return new Promise<void>(() => undefined);
    };
  };
  for (const [name, finish] of [
    ["a", () => h.another().createStream("sa", "a")],
    ["b", () => h.another().resumeWorkflows(0)],
  ] as const) {
    const scope = `s${name}`;
    await h.svc.createScope(scope);
    dieOnce();
    void h.svc.createStream(scope, name, { scaling: { type: "FIXED", minSegments: 2, targetRate: 0, scaleFactor: 0 } });
    await until(() => h.ops.calls.some((c) => c.startsWith(`create ${scope}/${name}/`)), "the dying create reached its segments");
    h.ops.createSegment = create;
    await t.rejects(h.svc.getStream(scope, name), { code: "NO_SUCH_STREAM" }, "not visible while creating");
    await t.rejects(h.svc.deleteScope(scope), { code: "SCOPE_NOT_EMPTY", message: new RegExp(`stream ${name} is being created`) }, "the scope says what holds it");
    await finish();
    t.equal((await h.svc.getStream(scope, name)).segments.length, 2, `${name}: finished with the config of the first call`);
    t.same(await h.svc.listStreams(scope), [name]);
  }
  t.same(await orphans(h.store, h.ops), []);
});

void t.test("no segment store: create is refused before anything is written; an abandoned create is rolled back by resumeWorkflows", async (t) => {
  const h = await harness(t);
  let storeUp = false;
  const placement = {
    containerCount: 4,
    endpointOfContainer: () => ({ host: "127.0.0.1", port: 12345 }),
    whyUnserved: (containers: readonly number[]) => Promise.resolve(storeUp ? undefined : new NoSegmentStoreError(`no segment store is serving containers ${containers.join(", ")}`)),
  };
  const svc = new StreamService(h.store, placement, h.ops, h.clock);
  await svc.createScope("sc");
  await t.rejects(svc.createStream("sc", "s", { scaling: { type: "FIXED", minSegments: 4, targetRate: 0, scaleFactor: 0 } }), { code: "NO_SEGMENT_STORE", message: /no segment store is serving containers \d/ });
  t.same(h.ops.calls, [], "no segment call was made");
  t.same(await keysUnder(h.store, "streams/", "epochs/"), [], "and no record written");

  // A create that got past the check (a store was up) and whose controller died, after which every store went.
  storeUp = true;
  const create = h.ops.createSegment.bind(h.ops);
  let reached = false;
  h.ops.createSegment = () => {
    reached = true;
    return new Promise<void>(() => undefined);
  };
  void svc.createStream("sc", "s");
  await until(() => reached, "the dying create reached its segments");
  h.ops.createSegment = create;
  storeUp = false;
  h.ops.inject = (op) => (op === "create" ? new NoSegmentStoreError("no segment store is serving container 2") : undefined);
  t.equal((await keysUnder(h.store, "streams/sc/")).length, 1, "the half-made record is there");
  await svc.resumeWorkflows(0);
  t.same(await keysUnder(h.store, "streams/", "epochs/"), [], "resumeWorkflows rolled it back");
  t.equal(await svc.deleteScope("sc"), true, "and the scope can be deleted");
});

void t.test("updateStream stores the config and rescales to a FIXED count or a rate minimum", async (t) => {
  const { svc } = await harness(t);
  await svc.createScope("sc");
  await svc.createStream("sc", "s", { scaling: { type: "FIXED", minSegments: 2, targetRate: 0, scaleFactor: 0 } });
  await svc.updateStream("sc", "s", { scaling: { type: "FIXED", minSegments: 4, targetRate: 0, scaleFactor: 0 } });
  let info = await svc.getStream("sc", "s");
  t.equal(info.epoch, 1);
  t.same(info.segments.map((s) => [s.number, s.keyStart, s.keyEnd]), [[2, 0, 0.25], [3, 0.25, 0.5], [4, 0.5, 0.75], [5, 0.75, 1]]);
  t.equal(info.config?.scaling?.minSegments, 4);
  await svc.updateStream("sc", "s", { scaling: { type: "BY_EVENT_RATE", minSegments: 3, targetRate: 10, scaleFactor: 2 } });
  info = await svc.getStream("sc", "s");
  t.equal(info.epoch, 1, "a rate policy below the current count does not rescale");
  t.equal(info.config?.scaling?.type, "BY_EVENT_RATE");
  await svc.updateStream("sc", "s", { scaling: { type: "BY_EVENT_RATE", minSegments: 6, targetRate: 10, scaleFactor: 2 } });
  info = await svc.getStream("sc", "s");
  t.equal(info.segments.length, 6, "split up to the minimum");
  await svc.updateStream("sc", "s", { scaling: { type: "FIXED", minSegments: 1, targetRate: 0, scaleFactor: 0 } });
  t.equal((await svc.getStream("sc", "s")).segments.length, 1, "FIXED merges down too");
  await t.rejects(svc.updateStream("sc", "s", { scaling: { type: "FIXED", minSegments: 0, targetRate: 0, scaleFactor: 0 } }), { code: "INVALID_ARGUMENT", message: /minSegments/ });
  await svc.sealStream("sc", "s");
  await t.rejects(svc.updateStream("sc", "s", {}), { code: "STREAM_SEALED" });
});

void t.test("seal: every current segment sealed, idempotent, open transactions aborted; delete needs it", async (t) => {
  const { svc, ops, store } = await harness(t);
  await svc.createScope("sc");
  await svc.createStream("sc", "s", { scaling: { type: "FIXED", minSegments: 2, targetRate: 0, scaleFactor: 0 } });
  const txn = await svc.createTransaction("sc", "s", 60_000);
  await t.rejects(svc.deleteStream("sc", "s"), { code: "STREAM_NOT_SEALED" });
  await svc.sealStream("sc", "s");
  await svc.sealStream("sc", "s");
  const info = await svc.getStream("sc", "s");
  t.equal(info.sealed, true);
  for (const s of info.segments) t.equal(ops.segments.get(s.segment)?.sealed, true, `${s.segment} sealed`);
  t.equal((await svc.transactionStatus("sc", "s", txn.txnId)).state, "ABORTED", "the open transaction was aborted");
  for (const s of txn.segments) t.notOk(ops.segments.has(s.txnSegment), "its segments deleted");
  await t.rejects(svc.createTransaction("sc", "s", 60_000), { code: "STREAM_SEALED" });
  await t.rejects(svc.scale("sc", "s", [info.segments[0]!.segment], [{ keyStart: 0, keyEnd: 0.5 }]), { code: "STREAM_SEALED" });
  t.same(await svc.listStreams("sc"), ["s"], "a sealed stream is still listed");
  t.same((await svc.listActiveStreams()).length, 0, "but not active");
  await svc.deleteStream("sc", "s");
  t.same(await keysUnder(store, "streams/sc/", "epochs/sc/", "txns/sc/", "txnsended/sc/", "retention/sc/"), [], "no key left under the stream's prefixes");
  t.same([...ops.segments.keys()], [], "no segment left");
  await t.rejects(svc.deleteStream("sc", "s"), { code: "NO_SUCH_STREAM" });
  t.equal(await svc.createStream("sc", "s"), true, "the name can be used again");
});

void t.test("delete after scales, truncation and transactions removes every segment and record", async (t) => {
  const { svc, ops, store } = await harness(t);
  await svc.createScope("sc");
  await svc.createStream("sc", "s", { scaling: { type: "FIXED", minSegments: 2, targetRate: 0, scaleFactor: 0 } });
  await svc.createStream("sc", "s2");
  const [a, b] = await svc.currentRanges("sc", "s");
  await svc.scale("sc", "s", [a!.segment], [{ keyStart: 0, keyEnd: 0.25 }, { keyStart: 0.25, keyEnd: 0.5 }]);
  const txn = await svc.createTransaction("sc", "s", 60_000);
  ops.append(txn.segments[0]!.txnSegment, "t");
  await svc.commitTransaction("sc", "s", txn.txnId);
  await svc.createTransaction("sc", "s", 60_000);
  ops.append(b!.segment, "x");
  const tail = await svc.tailCut("sc", "s");
  await svc.truncateStream("sc", "s", tail!.cut);
  t.notOk(ops.segments.has(a!.segment), "the truncation deleted what lay before its cut");
  await store.put("retention/sc/s", Buffer.from("{}"));
  await svc.sealStream("sc", "s");
  t.equal((await keysUnder(store, "txnsended/sc/s/")).length, 2, "a committed and an aborted record before the delete");
  await svc.deleteStream("sc", "s");
  t.same(await keysUnder(store, "streams/sc/s", "epochs/sc/s/", "txns/sc/s/", "txnsended/sc/s/", "retention/sc/s"), ["streams/sc/s2"], "only the other stream is left");
  t.same([...ops.segments.keys()], ["sc/s2/0.#epoch.0"]);
});
