// Proves the pure parts of opening a reader group: group and reader names are checked with INVALID_NAME, the state
// segment's name is a valid segment name beyond any stream's own, the state record round-trips and a foreign record is
// DATA_CORRUPTION, and cuts are matched to the group's streams with INVALID_ARGUMENT for strays and duplicates.
import t from "tap";
import { parseSegmentName, segmentNumberMax } from "../../common/index.js";
import { checkReaderId, decodeState, encodeState, parseGroupName, sameStreams, stateSegmentName } from "./group-config.js";
import { cutsByStream } from "./group-lookups.js";
import { initialState, join } from "./group-state.js";

void t.test("group names and reader ids", async (t) => {
  t.same(parseGroupName("shop/analytics"), { scope: "shop", group: "analytics" });
  for (const bad of ["analytics", "shop/", "/g", "a/b/c", "shop/_rg", "shop/bad name"]) t.throws(() => parseGroupName(bad), { code: "INVALID_NAME" }, bad);
  checkReaderId("reader-1.a_b");
  for (const bad of ["", "-x", "a b", "x".repeat(256)]) t.throws(() => checkReaderId(bad), { code: "INVALID_NAME" }, JSON.stringify(bad.slice(0, 10)));
});

void t.test("the state segment is a valid segment name no stream reaches", async (t) => {
  const name = stateSegmentName("shop", "analytics");
  const parsed = parseSegmentName(name);
  t.same(parsed, { scope: "shop", stream: "analytics", number: segmentNumberMax, epoch: segmentNumberMax });
  t.not(stateSegmentName("shop", "a"), stateSegmentName("shop", "b"));
});

void t.test("the state record round-trips; a foreign one is DATA_CORRUPTION", async (t) => {
  const s = join(initialState([{ stream: "s/t", segments: [{ segment: "s/t/0.#epoch.0", keyStart: 0, keyEnd: 1, offset: 0 }] }]), "r1", "r1-1");
  t.same(decodeState(encodeState(s)), s);
  t.throws(() => decodeState(Buffer.from("not json")), { code: "DATA_CORRUPTION" });
  t.throws(() => decodeState(Buffer.from(JSON.stringify({ ...s, version: 2 }))), { code: "DATA_CORRUPTION", message: /version 2/ });
  t.throws(() => decodeState(Buffer.from("null")), { code: "DATA_CORRUPTION" });
});

void t.test("cuts are matched to the group's streams", async (t) => {
  const cutA = { positions: [{ segment: "s/a/0.#epoch.0", offset: 5 }] };
  const cutB = { positions: [{ segment: "s/b/3.#epoch.1", offset: 0 }] };
  t.same([...cutsByStream([cutA, cutB], ["s/a", "s/b"], "from").keys()], ["s/a", "s/b"]);
  t.same(cutsByStream(cutA, ["s/a"], "from").get("s/a"), cutA, "one cut alone");
  t.throws(() => cutsByStream(cutB, ["s/a"], "from"), { code: "INVALID_ARGUMENT", message: /does not read/ });
  t.throws(() => cutsByStream([cutA, cutA], ["s/a"], "from"), { code: "INVALID_ARGUMENT", message: /two cuts/ });
  t.throws(() => cutsByStream({ positions: [] }, ["s/a"], "to"), { code: "INVALID_ARGUMENT", message: /no positions/ });
  t.ok(sameStreams(["s/b", "s/a"], ["s/a", "s/b"]));
  t.notOk(sameStreams(["s/a"], ["s/a", "s/b"]));
});
