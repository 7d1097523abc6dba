// Proves container placement: planAssignments spreads containers evenly, moves a dead store's containers evenly
// to the others, gives a joining store a fair share with the fewest moves, and changes nothing without a live store;
// and PlacementLoop, as leader on an embedded metadata store, moves a dead store's containers (and as follower does
// nothing), writing assignments a segment store reads back.
import t from "tap";
import { ManualClock } from "../../common/index.js";
import { FileMetadataStore, assignContainers, readAssignments } from "../store/index.js";
import { planAssignments, PlacementLoop, type LiveStores } from "./placement.js";
import type { StoreEndpoint } from "./membership.js";

/** Containers per store after applying `changes` to `current`. */
function counts(containerCount: number, current: Map<number, string>, changes: Map<number, string>): Map<string, number> {
  const out = new Map<string, number>();
  for (let c = 0; c < containerCount; c++) {
    const s = changes.get(c) ?? current.get(c);
    if (s !== undefined) out.set(s, (out.get(s) ?? 0) + 1);
  }
  return out;
}

void t.test("an empty cluster is spread evenly, ties by store id", async (t) => {
  const changes = planAssignments(8, new Map(), ["c", "a", "b"]);
  t.equal(changes.size, 8, "every container is assigned");
  t.same(Object.fromEntries(counts(8, new Map(), changes)), { a: 3, b: 3, c: 2 });
  t.same([...changes].sort(([x], [y]) => x - y).slice(0, 3).map(([, s]) => s), ["a", "b", "c"], "round robin from the lowest id");
  t.same(planAssignments(8, new Map(changes), ["a", "b", "c"]), new Map(), "a balanced placement is left alone");
  t.same(planAssignments(4, new Map(), ["a", "a"]), new Map([[0, "a"], [1, "a"], [2, "a"], [3, "a"]]), "duplicates in live count once");
});

void t.test("a dead store's containers move to the others, evenly", async (t) => {
  const current = new Map<number, string>();
  for (let c = 0; c < 12; c++) current.set(c, ["a", "b", "c", "d"][c % 4]!);
  const changes = planAssignments(12, current, ["a", "b", "d"]);
  t.same([...changes.keys()].sort((x, y) => x - y), [2, 6, 10], "only the dead store's containers move");
  t.same(Object.fromEntries(counts(12, current, changes)), { a: 4, b: 4, d: 4 });
  t.notOk([...changes.values()].includes("c"));
  // A container assigned to a store never seen, and a key outside the count, are treated the same way.
  const odd = new Map<number, string>([[0, "ghost"], [1, "a"], [99, "a"]]);
  t.same(planAssignments(2, odd, ["a", "b"]), new Map([[0, "b"]]));
});

void t.test("a joining store gets a fair share with the fewest moves", async (t) => {
  const current = new Map<number, string>();
  for (let c = 0; c < 12; c++) current.set(c, ["a", "b", "c"][c % 3]!);
  const changes = planAssignments(12, current, ["a", "b", "c", "d"]);
  t.equal(changes.size, 3, "3 moves: 12 / 4 containers each");
  t.ok([...changes.values()].every((s) => s === "d"), "every move goes to the new store");
  t.same(Object.fromEntries(counts(12, current, changes)), { a: 3, b: 3, c: 3, d: 3 });

  // Uneven: 4 containers on 3 stores become 2/1/1, not 2/2/0.
  const four = new Map<number, string>([[0, "a"], [1, "a"], [2, "b"], [3, "b"]]);
  const c3 = planAssignments(4, four, ["a", "b", "c"]);
  t.equal(c3.size, 1);
  t.same(Object.fromEntries(counts(4, four, c3)), { a: 1, b: 2, c: 1 });

  // One store holding everything, a second joins: half moves.
  const all = new Map<number, string>(Array.from({ length: 1024 }, (_, c) => [c, "a"]));
  const half = planAssignments(1024, all, ["a", "b"]);
  t.equal(half.size, 512);
});

void t.test("no live store: no change", async (t) => {
  t.same(planAssignments(4, new Map([[0, "a"]]), []), new Map());
  t.same(planAssignments(4, new Map(), []), new Map());
});

class FakeLive implements LiveStores {
  stores = new Map<string, StoreEndpoint>();
  liveStores(): Promise<Map<string, StoreEndpoint>> {
    return Promise.resolve(new Map(this.stores));
  }
}

void t.test("PlacementLoop: the leader moves a dead store's containers; a follower writes nothing", async (t) => {
  const clock = new ManualClock();
  const store = await FileMetadataStore.open(t.testdir(), { clock });
  t.teardown(() => store.close());
  await assignContainers(store, [0, 2], "a", 4);
  await assignContainers(store, [1, 3], "b", 4);
  const live = new FakeLive();
  live.stores.set("a", { host: "127.0.0.1", port: 1 });
  let leader = false;
  const loop = new PlacementLoop(store, live, { isLeader: () => leader }, 4, clock, { intervalMs: 500 });

  t.equal(await loop.tick(), 0, "a follower does nothing");
  t.same((await readAssignments(store, 4)).assignments, new Map([[0, "a"], [1, "b"], [2, "a"], [3, "b"]]));

  leader = true;
  t.equal(await loop.tick(), 2, "b's two containers move");
  t.same((await readAssignments(store, 4)).assignments, new Map([[0, "a"], [1, "a"], [2, "a"], [3, "a"]]));
  t.equal(await loop.tick(), 0, "then nothing more to do");

  // In the background: b comes back, then the loop evens the spread on its next round.
  live.stores.set("b", { host: "127.0.0.1", port: 2 });
  loop.start();
  t.teardown(() => loop.close());
  for (let i = 0; i < 20; i++) {
    clock.advance(500);
    await new Promise((r) => setTimeout(r, 20));
    const { assignments } = await readAssignments(store, 4);
    if ([...assignments.values()].filter((s) => s === "b").length === 2) break;
  }
  const { assignments } = await readAssignments(store, 4);
  t.equal([...assignments.values()].filter((s) => s === "b").length, 2, "the returning store gets half");
  await loop.close();
});
