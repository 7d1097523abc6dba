// Proves the writer's bounds do not leak when a segment writer fails: every write to a failed segment rejects at once
// with the typed error, the in-flight byte budget is given back, and ready()/flush() settle instead of hanging.
import t from "tap";
import { NoSuchSegmentError, writerInflightBytesMax } from "../../common/index.js";
import { EventWriter } from "./event-writer.js";

void t.test("writes to a failed segment reject without consuming the in-flight budget", async (t) => {
  const writer = new EventWriter("s/t", {
    currentSegments: () => Promise.resolve([{ segment: "s/t/0.#epoch.0", number: 0, epoch: 0, keyStart: 0, keyEnd: 1 }]),
    connect: () => Promise.reject(new NoSuchSegmentError("segment s/t/0.#epoch.0 does not exist")),
  });
  const event = Buffer.alloc(1024 * 1024);
  await t.rejects(writer.write(event), { code: "NO_SUCH_SEGMENT" });
  // Far more than the in-flight bound: each must fail fast, none may wait for acks that never come.
  const count = Math.ceil((2 * writerInflightBytesMax) / event.length);
  const results = await Promise.allSettled(Array.from({ length: count }, () => writer.write(event)));
  t.equal(results.filter((r) => r.status === "rejected").length, count, "every write rejected");
  const ready = await Promise.race([writer.ready().then(() => "ready"), new Promise((r) => setTimeout(() => r("hung"), 2000))]);
  t.equal(ready, "ready", "ready() resolves: the budget was given back");
  await t.rejects(writer.flush(), { code: "NO_SUCH_SEGMENT" }, "flush reports the failure");
});
