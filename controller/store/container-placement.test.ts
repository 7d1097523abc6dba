// Proves the container assignment and owner records against the embedded metadata store in a temp dir: keys and
// validation, assignment in one transaction, claims that two stores racing never both win, owner records that only
// move forward in epoch (a zombie cannot overwrite a newer owner), DATA_CORRUPTION for values that do not parse, and
// that the controller's endpointOf answers the recorded owner, else its configured fallback.
import t, { type Test } from "tap";
import { containerOf, ManualClock, segmentName } from "../../common/index.js";
import { resolveEndpoint } from "../streams/segment-ops.js";
import {
  assignContainers,
  claimUnassignedContainers,
  containerAssignmentKey,
  containerAssignmentPrefix,
  containerOwnerKey,
  parseAssignmentKey,
  readAssignments,
  readContainerCount,
  readContainerOwner,
  recordContainerOwner,
  validateStoreId,
} from "./container-placement.js";
import { FileMetadataStore } from "./file-metadata-store.js";
import type { WatchEvent } from "./metadata-store.js";

async function openStore(t: Test): Promise<FileMetadataStore> {
  const s = await FileMetadataStore.open(t.testdir(), { clock: new ManualClock() });
  t.teardown(() => s.close());
  return s;
}

void t.test("keys and store ids", (t) => {
  t.equal(containerAssignmentKey(3), "cluster/assignment/3");
  t.equal(containerOwnerKey(3), "cluster/owners/3");
  t.equal(containerAssignmentPrefix, "cluster/assignment/");
  t.equal(parseAssignmentKey("cluster/assignment/0"), 0);
  t.equal(parseAssignmentKey("cluster/assignment/17"), 17);
  for (const other of ["cluster/assignment/", "cluster/assignment/01", "cluster/assignment/-1", "cluster/assignment/x", "cluster/owners/1", "cluster/assignment/1/x"]) {
    t.equal(parseAssignmentKey(other), undefined, other);
  }
  for (const good of ["ss-1", "10.0.0.5:12345", "a", "A.b_c:d-e", "x".repeat(255)]) t.doesNotThrow(() => validateStoreId(good), good);
  t.throws(() => validateStoreId(""), { code: "INVALID_ARGUMENT", message: /empty/ });
  t.throws(() => validateStoreId("ss 1"), { code: "INVALID_ARGUMENT", message: /only A-Z a-z 0-9/ });
  t.throws(() => validateStoreId("ss/1"), { code: "INVALID_ARGUMENT" });
  t.throws(() => validateStoreId("é"), { code: "INVALID_ARGUMENT" });
  t.throws(() => validateStoreId("x".repeat(256)), { code: "INVALID_ARGUMENT", message: /longer than 255/ });
  t.end();
});

void t.test("assign, then read the assignments at a revision a watch continues from", async (t) => {
  const s = await openStore(t);
  t.same((await readAssignments(s, 4)).assignments, new Map(), "nothing assigned yet");
  const revisionBefore = await s.revision();
  await assignContainers(s, [0, 2, 3, 2], "ss-1", 4);
  t.equal(await s.revision(), revisionBefore + 1, "one transaction");
  await assignContainers(s, [1], "ss-2", 4);
  const { assignments, revision } = await readAssignments(s, 4);
  t.same([...assignments].sort((a, b) => a[0] - b[0]), [[0, "ss-1"], [1, "ss-2"], [2, "ss-1"], [3, "ss-1"]]);
  t.equal(revision, await s.revision());

  const events: WatchEvent[] = [];
  const watch = await s.watch(containerAssignmentPrefix, revision + 1, { onEvents: (e) => events.push(...e), onError: () => undefined });
  t.teardown(() => watch.close());
  await assignContainers(s, [3], "ss-2", 4);
  t.same(events.map((e) => [parseAssignmentKey(e.key), e.value.toString()]), [[3, '{"store":"ss-2"}']], "the watch sees only the later change");

  await t.rejects(assignContainers(s, [4], "ss-1", 4), { code: "INVALID_ARGUMENT", message: /container 4 does not exist: this cluster has containers 0 to 3/ });
  await t.rejects(assignContainers(s, [0, -1], "ss-1", 4), { code: "INVALID_ARGUMENT" });
  await t.rejects(assignContainers(s, [0.5], "ss-1", 4), { code: "INVALID_ARGUMENT" });
  await t.rejects(assignContainers(s, [], "ss-1", 4), { code: "INVALID_ARGUMENT" });
  await t.rejects(assignContainers(s, [0], "bad id", 4), { code: "INVALID_ARGUMENT" });
  await t.rejects(assignContainers(s, [0], "ss-1", 0), { code: "INVALID_ARGUMENT" });
  t.equal((await readAssignments(s, 4)).assignments.get(0), "ss-1", "a refused call changed nothing");
});

void t.test("many containers: assignments go in transactions of the allowed size and list across pages", async (t) => {
  const s = await openStore(t);
  const all = Array.from({ length: 1024 }, (_, i) => i);
  await assignContainers(s, all, "ss-1", 1024);
  const { assignments } = await readAssignments(s, 1024);
  t.equal(assignments.size, 1024);
  t.ok([...assignments.values()].every((v) => v === "ss-1"));
  t.equal((await readAssignments(s, 10)).assignments.size, 10, "containers beyond the count are ignored");
});

void t.test("two stores claiming at once never both win a container", async (t) => {
  const s = await openStore(t);
  await assignContainers(s, [1], "operator-choice", 8);
  const puts = new Map<number, string[]>();
  const watch = await s.watch(containerAssignmentPrefix, (await s.revision()) + 1, {
    onEvents: (events) => {
      for (const e of events) puts.set(parseAssignmentKey(e.key)!, [...(puts.get(parseAssignmentKey(e.key)!) ?? []), e.value.toString()]);
    },
    onError: () => undefined,
  });
  t.teardown(() => watch.close());
  const [a, b] = await Promise.all([claimUnassignedContainers(s, 8, "ss-a"), claimUnassignedContainers(s, 8, "ss-b")]);
  for (const [c, values] of puts) t.equal(values.length, 1, `container ${c} was written once: one claimant won it`);
  t.same([...puts.keys()].sort(), [0, 2, 3, 4, 5, 6, 7], "every unassigned container was claimed");
  for (const claim of [a, b]) {
    for (const [c, id] of claim.assignments) t.equal(JSON.stringify({ store: id }), c === 1 ? '{"store":"operator-choice"}' : puts.get(c)?.[0], `container ${c} as claimed`);
  }
  const final = await readAssignments(s, 8);
  t.equal(final.assignments.size, 8, "every container is assigned");
  t.equal(final.assignments.get(1), "operator-choice", "an existing assignment stands");
  // Everything claimed: a third store claims nothing and changes nothing.
  const revision = await s.revision();
  const c = await claimUnassignedContainers(s, 8, "ss-c");
  t.equal(await s.revision(), revision, "no write");
  t.same(c.assignments, final.assignments);
  t.equal(c.revision, revision);
  await t.rejects(claimUnassignedContainers(s, 8, ""), { code: "INVALID_ARGUMENT" });
});

void t.test("owner records move forward in epoch only: a zombie never overwrites a newer owner", async (t) => {
  const s = await openStore(t);
  t.equal(await readContainerOwner(s, 2), undefined);
  const first = { store: "ss-1", host: "127.0.0.1", port: 12345, epoch: 1 };
  const second = { store: "ss-2", host: "127.0.0.2", port: 12346, epoch: 2 };
  t.equal(await recordContainerOwner(s, 2, first), true);
  t.same(await readContainerOwner(s, 2), first);
  t.equal(await recordContainerOwner(s, 2, second), true, "a newer epoch takes over");
  t.equal(await recordContainerOwner(s, 2, first), false, "the zombie of epoch 1 is refused");
  t.equal(await recordContainerOwner(s, 2, { ...first, epoch: 2 }), false, "an equal epoch is refused");
  t.same(await readContainerOwner(s, 2), second);

  // Racing recorders of many epochs: the highest epoch is what remains.
  const racers = Array.from({ length: 10 }, (_, i) => ({ store: `ss-${i}`, host: "127.0.0.1", port: 20000 + i, epoch: 10 + i }));
  const written = await Promise.all(racers.map((o) => recordContainerOwner(s, 3, o)));
  t.ok(written[9], "the highest epoch is written");
  t.same(await readContainerOwner(s, 3), racers[9]);

  await t.rejects(recordContainerOwner(s, 2, { ...first, port: 0 }), { code: "INVALID_ARGUMENT" });
  await t.rejects(recordContainerOwner(s, 2, { ...first, epoch: -1 }), { code: "INVALID_ARGUMENT" });
  await t.rejects(recordContainerOwner(s, 2, { ...first, host: "" }), { code: "INVALID_ARGUMENT" });
  await t.rejects(recordContainerOwner(s, 2, { ...first, store: "no spaces" }), { code: "INVALID_ARGUMENT" });
  await t.rejects(readContainerOwner(s, -1), { code: "INVALID_ARGUMENT" });
});

void t.test("values that do not parse are DATA_CORRUPTION naming the key", async (t) => {
  const s = await openStore(t);
  await s.put(containerOwnerKey(1), Buffer.from("{not json"));
  await t.rejects(readContainerOwner(s, 1), { code: "DATA_CORRUPTION", message: /cluster\/owners\/1/ });
  await t.rejects(recordContainerOwner(s, 1, { store: "ss-1", host: "h", port: 1, epoch: 1 }), { code: "DATA_CORRUPTION" });
  await s.put(containerOwnerKey(2), Buffer.from('{"store":"ss-1","host":"h","port":"1","epoch":1}'));
  await t.rejects(readContainerOwner(s, 2), { code: "DATA_CORRUPTION", message: /cluster\/owners\/2.*port/ });
  await s.put(containerAssignmentKey(0), Buffer.from('"ss-1"'));
  await t.rejects(readAssignments(s, 4), { code: "DATA_CORRUPTION", message: /cluster\/assignment\/0/ });
  await s.put(containerAssignmentKey(0), Buffer.from("]"));
  await t.rejects(claimUnassignedContainers(s, 4, "ss-1"), { code: "DATA_CORRUPTION", message: /cluster\/assignment\/0/ });
});

void t.test("the container count the metadata records", async (t) => {
  const s = await openStore(t);
  t.equal(await readContainerCount(s), undefined);
  await s.put("cluster/containers", Buffer.from("8"));
  t.equal(await readContainerCount(s), 8);
  await s.put("cluster/containers", Buffer.from("eight"));
  await t.rejects(readContainerCount(s), { code: "DATA_CORRUPTION", message: /cluster\/containers/ });
});

void t.test("endpointOf answers the recorded owner of the segment's container, else the fallback", async (t) => {
  const s = await openStore(t);
  const fallback = { host: "127.0.0.1", port: 12345 };
  const placement = { containerCount: 4, endpointOfContainer: () => fallback };
  const streams = { endpointOf: (segment: string) => resolveEndpoint(s, placement, segment) };
  const segment = segmentName("shop", "orders", 0, 0);
  const container = containerOf(segment, 4);
  t.same(await streams.endpointOf(segment), { ...fallback, container }, "no owner recorded: the configured store");
  await recordContainerOwner(s, container, { store: "ss-2", host: "10.0.0.2", port: 23456, epoch: 3 });
  t.same(await streams.endpointOf(segment), { host: "10.0.0.2", port: 23456, container }, "the recorded owner");
  await recordContainerOwner(s, (container + 1) % 4, { store: "ss-3", host: "10.0.0.3", port: 1, epoch: 1 });
  t.same(await streams.endpointOf(segment), { host: "10.0.0.2", port: 23456, container }, "another container's owner does not matter");
  await t.rejects(streams.endpointOf("not a segment"), { code: "INVALID_NAME" });
});
