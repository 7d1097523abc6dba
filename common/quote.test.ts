// Proves quoteBounded keeps error messages small whatever they quote: short values are quoted whole, long ones cut
// with an ellipsis and their full length, surrogate pairs never split, control characters escaped, non-strings described.
import t from "tap";
import { quoteBounded, quotedCharsMaxDefault } from "./quote.js";

void t.test("short values are quoted whole", async (t) => {
  t.equal(quoteBounded("shop"), '"shop"');
  t.equal(quoteBounded(""), '""');
  t.equal(quoteBounded("a".repeat(quotedCharsMaxDefault)), JSON.stringify("a".repeat(quotedCharsMaxDefault)));
});

void t.test("long values are cut with an ellipsis and their length", async (t) => {
  const q = quoteBounded("a".repeat(131072));
  t.equal(q, `"${"a".repeat(64)}…" (131072 characters)`);
  t.ok(q.length < 100, `a 128 Ki-character value quotes in ${q.length} characters`);
  t.equal(quoteBounded("abcdef", 3), '"abc…" (6 characters)');
});

void t.test("a surrogate pair is never split; control characters stay escaped and bounded", async (t) => {
  const q = quoteBounded("ab\u{1F600}cd", 3);
  t.equal(q, '"ab…" (6 characters)', "the cut moves before the pair");
  t.notOk(/[\ud800-\udfff]/.test(q), "no lone surrogate");
  const controls = quoteBounded("\u0001".repeat(10_000), 8);
  t.equal(controls, `"${"\\u0001".repeat(8)}…" (10000 characters)`);
  t.ok(controls.length <= 6 * 8 + 40, "within the documented bound");
});

void t.test("non-strings are described, not converted", async (t) => {
  t.equal(quoteBounded(undefined), "undefined");
  t.equal(quoteBounded(null), "null");
  t.equal(quoteBounded(42), "(not a string: number)");
  t.equal(quoteBounded({ toString: () => "x".repeat(1e6) }), "(not a string: object)");
  t.throws(() => quoteBounded("x", 0), "charsMax must be positive");
});
