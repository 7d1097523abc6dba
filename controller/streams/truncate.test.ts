// Proves truncation and the head/tail cuts of getStream with an in-memory segment fake and the
// embedded metadata store: the cut segments are truncated at their offsets, every segment wholly
// before the cut is deleted (and nothing else), the head moves to the cut, a cut before the head
// or past a segment's length is refused, and a truncation cut short is finished by a resume.
import t from "tap";
import { InvalidArgumentError } from "../../common/index.js";
import type { StreamService } from "./stream-service.js";
import { harness, orphans } from "./stream-test-support.js";

const byRate = (n: number) => ({ scaling: { type: "BY_EVENT_RATE" as const, minSegments: n, targetRate: 10, scaleFactor: 2 } });

async function setUp(svc: StreamService): Promise<void> {
  await svc.createScope("sc");
  await svc.createStream("sc", "s", byRate(2));
  await svc.updateStream("sc", "s", byRate(1));
}

void t.test("getStream: head is epoch 0 at offset 0 until a truncation, tail is the current lengths", async (t) => {
  const { svc, ops } = await harness(t);
  await setUp(svc);
  ops.append("sc/s/0.#epoch.0", "abc");
  const info = await svc.getStream("sc", "s");
  t.same(info.head?.positions, [{ segment: "sc/s/0.#epoch.0", offset: 0 }, { segment: "sc/s/1.#epoch.0", offset: 0 }]);
  t.same(info.tail?.positions, [{ segment: "sc/s/0.#epoch.0", offset: 7 }, { segment: "sc/s/1.#epoch.0", offset: 0 }]);
  t.equal(info.sealed, false);
  t.equal(info.createdAtMs, 1_700_000_000_000);
  await svc.scale("sc", "s", ["sc/s/0.#epoch.0", "sc/s/1.#epoch.0"], [{ keyStart: 0, keyEnd: 1 }]);
  const after = await svc.getStream("sc", "s");
  t.same(after.head?.positions.map((p) => p.segment), ["sc/s/0.#epoch.0", "sc/s/1.#epoch.0"], "the head stays at epoch 0");
  t.same(after.tail?.positions, [{ segment: "sc/s/2.#epoch.1", offset: 0 }]);
});

void t.test("truncation truncates the cut segments, deletes what lies before, moves the head", async (t) => {
  const { svc, ops, store } = await harness(t);
  await setUp(svc);
  ops.append("sc/s/0.#epoch.0", "a1");
  ops.append("sc/s/1.#epoch.0", "b1");
  await svc.scale("sc", "s", ["sc/s/0.#epoch.0"], [{ keyStart: 0, keyEnd: 0.25 }, { keyStart: 0.25, keyEnd: 0.5 }]);
  ops.append("sc/s/2.#epoch.1", "c1");
  ops.append("sc/s/2.#epoch.1", "c2");
  await svc.scale("sc", "s", ["sc/s/3.#epoch.1", "sc/s/1.#epoch.0"], [{ keyStart: 0.25, keyEnd: 1 }]);
  ops.append("sc/s/4.#epoch.2", "d1");
  // Cut: 2 at its second event, 4 at 0. Before it: 0 (ancestor of 2 and of 4), 1 and 3 (ancestors of 4).
  const cut = { positions: [{ segment: "sc/s/2.#epoch.1", offset: 6 }, { segment: "sc/s/4.#epoch.2", offset: 0 }] };
  await svc.truncateStream("sc", "s", cut);
  t.same([...ops.segments.keys()].sort(), ["sc/s/2.#epoch.1", "sc/s/4.#epoch.2"], "every segment before the cut deleted");
  t.equal(ops.segments.get("sc/s/2.#epoch.1")?.startOffset, 6, "the cut segment truncated at its offset");
  const info = await svc.getStream("sc", "s");
  t.same(info.head, cut, "the head is the cut");
  t.same((await svc.segmentsAtCut("sc", "s")).map((p) => [p.range?.segment, p.offset]), [["sc/s/2.#epoch.1", 6], ["sc/s/4.#epoch.2", 0]]);
  t.same((await svc.segmentsBetween("sc", "s")).map((s) => [s.range?.segment, s.startOffset]), [["sc/s/2.#epoch.1", 6], ["sc/s/4.#epoch.2", 0]], "segmentsBetween starts at the new head");
  t.equal((await svc.tailCut("sc", "s"))?.sizeBytes, 5 * 6, "size ignores truncation");

  await t.rejects(svc.truncateStream("sc", "s", { positions: [{ segment: "sc/s/0.#epoch.0", offset: 0 }, { segment: "sc/s/1.#epoch.0", offset: 0 }] }), { code: "INVALID_ARGUMENT", message: /before the stream's head/ });
  await t.rejects(svc.truncateStream("sc", "s", { positions: [{ segment: "sc/s/2.#epoch.1", offset: 0 }, { segment: "sc/s/4.#epoch.2", offset: 0 }] }), { code: "INVALID_ARGUMENT", message: /at 0 lies before/ });
  await t.rejects(svc.truncateStream("sc", "s", { positions: [{ segment: "sc/s/2.#epoch.1", offset: 6 }, { segment: "sc/s/4.#epoch.2", offset: 7 }] }), { code: "INVALID_ARGUMENT", message: /past its length 6/ });
  await t.rejects(svc.truncateStream("sc", "s", { positions: [] }), { code: "INVALID_ARGUMENT", message: /empty/ });
  t.same((await svc.getStream("sc", "s")).head, cut, "refused cuts change nothing");

  // Truncating again at the same cut changes nothing; further along, the old head segment goes.
  await svc.truncateStream("sc", "s", cut);
  await svc.scale("sc", "s", ["sc/s/2.#epoch.1", "sc/s/4.#epoch.2"], [{ keyStart: 0, keyEnd: 1 }]);
  const callsBefore = ops.calls.length;
  await svc.truncateStream("sc", "s", { positions: [{ segment: "sc/s/5.#epoch.3", offset: 0 }] });
  t.same([...ops.segments.keys()], ["sc/s/5.#epoch.3"]);
  t.same(ops.calls.slice(callsBefore).filter((c) => c.startsWith("delete")).sort(), ["delete sc/s/2.#epoch.1", "delete sc/s/4.#epoch.2"], "the walk back stops at the old head: nothing deleted twice");
  t.same(await orphans(store, ops), []);
});

void t.test("a truncation cut short is finished by resumeWorkflows; a refused one is abandoned", async (t) => {
  const h = await harness(t);
  await setUp(h.svc);
  h.ops.append("sc/s/0.#epoch.0", "a1");
  await h.svc.scale("sc", "s", ["sc/s/0.#epoch.0"], [{ keyStart: 0, keyEnd: 0.5 }]);
  const cut = { positions: [{ segment: "sc/s/2.#epoch.1", offset: 0 }, { segment: "sc/s/1.#epoch.0", offset: 0 }] };
  h.ops.callsBeforeCrash = 2;
  await t.rejects(h.svc.truncateStream("sc", "s", cut), /simulated/);
  t.notOk((await h.svc.getStream("sc", "s")).head?.positions.some((p) => p.segment === "sc/s/2.#epoch.1"), "head not moved yet");
  h.ops.callsBeforeCrash = undefined;
  await h.another().resumeWorkflows(0);
  t.same((await h.svc.getStream("sc", "s")).head, cut);
  t.notOk(h.ops.segments.has("sc/s/0.#epoch.0"));

  h.ops.append("sc/s/2.#epoch.1", "x");
  // A store refusing the offset (as it would one inside an event) for good.
  h.ops.inject = (op) => (op === "truncate" ? new InvalidArgumentError("not at an event boundary") : undefined);
  await t.rejects(h.svc.truncateStream("sc", "s", { positions: [{ segment: "sc/s/2.#epoch.1", offset: 5 }, { segment: "sc/s/1.#epoch.0", offset: 0 }] }), { code: "INVALID_ARGUMENT", message: /event boundary/ });
  h.ops.inject = undefined;
  t.same((await h.svc.getStream("sc", "s")).head, cut, "the head did not move");
  const next = await h.svc.scale("sc", "s", ["sc/s/1.#epoch.0"], [{ keyStart: 0.5, keyEnd: 1 }]);
  t.equal(next.epoch, 2, "the slot was cleared");
});
