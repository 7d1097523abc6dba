// Proves the routing table follows scales as the writer needs: a sealed segment's entries are replaced by its
// successors clipped to them, a merge successor takes its predecessors' entries one at a time (the neighbour keeps
// routing to itself until it is sealed too), adjacent entries of one writer are joined, and lookups pick the entry
// holding the key position. It drives the table directly with strings as writers.
import t from "tap";
import { RoutingTable } from "./routing-table.js";

const spans = (table: RoutingTable<string>, points: number[]) => points.map((p) => table.lookup(p));

void t.test("split, merge one predecessor at a time, split again", (t) => {
  const table = new RoutingTable([
    { keyStart: 0.5, keyEnd: 1, writer: "b" },
    { keyStart: 0, keyEnd: 0.5, writer: "a" },
  ]);
  t.same(spans(table, [0, 0.49, 0.5, 0.99]), ["a", "a", "b", "b"], "sorted by range");
  table.replaceSealed("a", [
    { keyStart: 0.25, keyEnd: 0.5, writer: "a2" },
    { keyStart: 0, keyEnd: 0.25, writer: "a1" },
  ]);
  t.same(spans(table, [0.1, 0.3, 0.7]), ["a1", "a2", "b"]);
  // Merge of a1, a2 and b into m; only a1 is known sealed so far.
  table.replaceSealed("a1", [{ keyStart: 0, keyEnd: 1, writer: "m" }]);
  t.same(spans(table, [0.1, 0.3, 0.7]), ["m", "a2", "b"], "the merge successor is clipped to the sealed entry");
  table.replaceSealed("a2", [{ keyStart: 0, keyEnd: 1, writer: "m" }]);
  table.replaceSealed("b", [{ keyStart: 0, keyEnd: 1, writer: "m" }]);
  t.same(spans(table, [0, 0.3, 0.5, 0.99]), ["m", "m", "m", "m"], "every key routes to the merge successor");
  table.replaceSealed("m", [
    { keyStart: 0, keyEnd: 0.6, writer: "x" },
    { keyStart: 0.6, keyEnd: 1, writer: "y" },
  ]);
  t.same(spans(table, [0, 0.59, 0.6, 0.999]), ["x", "x", "y", "y"]);
  table.replaceWriter("y", "y'");
  t.same(spans(table, [0.7]), ["y'"], "a writer replaced after it gave up");
  t.notOk(spans(table, [0, 0.25, 0.5, 0.75, 0.999]).includes("m"), "the sealed writer routes nothing");
  t.end();
});
