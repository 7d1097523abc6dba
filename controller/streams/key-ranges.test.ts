// Proves the key-range arithmetic of scaling on plain values: equal splits end exactly at their
// bounds, a plan must cover exactly the union of the sealed ranges (several disjoint intervals
// too), requested endpoints within the tolerance are snapped onto the stored ones, and every
// gap, overlap, overreach or empty range is refused with INVALID_ARGUMENT.
import t from "tap";
import { equalRanges, keyRangeTolerance, planRanges } from "./key-ranges.js";

void t.test("equalRanges", async (t) => {
  t.same(equalRanges(1), [{ keyStart: 0, keyEnd: 1 }]);
  const three = equalRanges(3);
  t.equal(three[0]!.keyEnd, three[1]!.keyStart, "neighbours share endpoints exactly");
  t.equal(three[2]!.keyEnd, 1);
  t.same(equalRanges(2, 0.5, 1), [{ keyStart: 0.5, keyEnd: 0.75 }, { keyStart: 0.75, keyEnd: 1 }]);
});

void t.test("planRanges: exact cover, snapping, disjoint intervals", async (t) => {
  const sealed = [{ keyStart: 0, keyEnd: 1 / 3 }, { keyStart: 1 / 3, keyEnd: 2 / 3 }];
  t.same(planRanges(sealed, [{ keyStart: 0, keyEnd: 2 / 3 }]), [{ keyStart: 0, keyEnd: 2 / 3 }], "a merge");
  const snapped = planRanges(sealed, [{ keyStart: 0.3, keyEnd: 0.6666666666666 }, { keyStart: 1e-12, keyEnd: 0.3 }]);
  t.same(snapped, [{ keyStart: 0, keyEnd: 0.3 }, { keyStart: 0.3, keyEnd: 2 / 3 }], "ordered, snapped onto the sealed endpoints");
  const apart = [{ keyStart: 0, keyEnd: 0.25 }, { keyStart: 0.5, keyEnd: 0.75 }];
  t.same(planRanges(apart, [{ keyStart: 0.5, keyEnd: 0.75 }, { keyStart: 0, keyEnd: 0.1 }, { keyStart: 0.1, keyEnd: 0.25 }]).length, 3, "two disjoint intervals");
  t.ok(keyRangeTolerance < 1e-6);
});

void t.test("planRanges refuses what does not cover exactly", async (t) => {
  const sealed = [{ keyStart: 0.25, keyEnd: 0.5 }];
  const cases: [string, { keyStart: number; keyEnd: number }[], RegExp][] = [
    ["gap at the start", [{ keyStart: 0.3, keyEnd: 0.5 }], /nothing starts at 0.25/],
    ["gap inside", [{ keyStart: 0.25, keyEnd: 0.3 }, { keyStart: 0.31, keyEnd: 0.5 }], /nothing starts at 0.3/],
    ["overlap", [{ keyStart: 0.25, keyEnd: 0.4 }, { keyStart: 0.3, keyEnd: 0.5 }], /nothing starts at 0.4/],
    ["past the end", [{ keyStart: 0.25, keyEnd: 0.6 }], /reaches past 0.5/],
    ["an extra range", [{ keyStart: 0.25, keyEnd: 0.5 }, { keyStart: 0.5, keyEnd: 0.6 }], /outside them/],
    ["empty", [{ keyStart: 0.25, keyEnd: 0.25 }, { keyStart: 0.25, keyEnd: 0.5 }], /newRanges\[0\]/],
    ["out of [0, 1)", [{ keyStart: -0.1, keyEnd: 0.5 }], /newRanges\[0\]/],
    ["not a number", [{ keyStart: Number.NaN, keyEnd: 0.5 }], /newRanges\[0\]/],
    ["nothing", [], /nothing starts at 0.25/],
  ];
  for (const [what, requested, message] of cases) t.throws(() => planRanges(sealed, requested), { code: "INVALID_ARGUMENT", message }, what);
});
