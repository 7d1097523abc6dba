// Proves the history checker finds each kind of fault it reports (lost, duplicate, out of order,
// aborted and unknown reads) and passes a clean history, so the client checker test can fail.
import t from "tap";
import { Checker } from "./checker.js";
import { testEvent } from "./events.js";

function history(): Checker {
  const c = new Checker();
  for (let seq = 0; seq < 5; seq++) {
    c.sent("w1/a", seq);
    c.acked("w1/a", seq);
  }
  return c;
}

void t.test("a clean history passes", async (t) => {
  const c = history();
  for (let seq = 0; seq < 5; seq++) c.read("r1", testEvent("w1/a", seq));
  const r = c.report();
  t.same([r.sent, r.acked, r.read, r.lost, r.duplicates, r.orderViolations, r.abortedReads, r.unknownReads], [5, 5, 5, 0, 0, 0, 0, 0]);
  t.same(r.examples, []);
});

void t.test("each fault is found", async (t) => {
  const c = history();
  c.sent("w1/a", 5); // sent, never acknowledged: not required
  c.sent("txn/b", 0);
  c.aborted("txn/b", 0);
  c.read("r1", testEvent("w1/a", 0));
  c.read("r2", testEvent("w1/a", 2));
  c.read("r1", testEvent("w1/a", 1)); // after #2
  c.read("r1", testEvent("w1/a", 2)); // twice
  c.read("r3", testEvent("txn/b", 0)); // aborted
  c.read("r3", testEvent("nobody/c", 0)); // unknown source
  c.read("r3", testEvent("w1/a", 9)); // never sent
  const r = c.report();
  t.equal(r.lost, 2, "#3 and #4 acknowledged and never read");
  t.equal(r.duplicates, 1);
  t.equal(r.orderViolations, 1);
  t.equal(r.abortedReads, 1);
  t.equal(r.unknownReads, 2);
  t.match(r.examples.join("\n"), /w1\/a #1 read by r1 after #2/);
  t.match(r.examples.join("\n"), /w1\/a #3 acknowledged, never read/);
});
