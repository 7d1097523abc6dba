// Proves the store-wide flow control: the in-flight watermarks pause and resume every connection once per crossing,
// appends are held from the moment pinned bytes reach their bound until they fall below the resume fraction (noticed
// by a timer on the injected clock, with no other event needed), and bad watermarks are INVALID_CONFIG.
import t from "tap";
import { ManualClock, pinnedCheckMs, pinnedResumeFraction } from "../../common/index.js";
import { StoreFlow } from "./flow.js";

function setup() {
  const clock = new ManualClock();
  const cache = { usedBytes: 0, maxBytes: 1000 };
  const flow = new StoreFlow(cache, clock, { connectionBytesHigh: 100, connectionBytesLow: 50, storeBytesHigh: 400, storeBytesLow: 200 });
  let notified = 0;
  flow.join({ updateFlow: () => notified++ });
  return { clock, cache, flow, notified: () => notified };
}

void t.test("the store watermarks pause above high and resume below low, telling connections once each time", async (t) => {
  const { flow, notified } = setup();
  flow.add(400);
  t.equal(flow.paused, false, "at the mark is not above it");
  flow.add(1);
  t.equal(flow.paused, true);
  t.equal(notified(), 1);
  flow.add(-150);
  t.equal(flow.paused, true, "between the marks it stays paused");
  flow.add(-100);
  t.equal(flow.paused, false);
  t.equal(notified(), 2);
  t.throws(() => flow.add(-1000), /never negative/);
});

void t.test("appends are held while pinned bytes are at the bound, and released below the resume fraction", async (t) => {
  const { clock, cache, flow, notified } = setup();
  t.equal(flow.holdAppends, false);
  cache.usedBytes = 1000;
  t.equal(flow.holdAppends, true);
  cache.usedBytes = 1000 * pinnedResumeFraction + 1;
  clock.advance(pinnedCheckMs * 10);
  t.equal(flow.holdAppends, true, "just above the resume point: still held");
  t.equal(notified(), 0);
  cache.usedBytes = 1000 * pinnedResumeFraction - 1;
  clock.advance(pinnedCheckMs);
  t.equal(flow.holdAppends, false, "freed memory releases the held appends");
  t.equal(notified(), 1, "connections are told, so they dispatch what they hold");
  flow.close();
});

void t.test("bad watermarks are INVALID_CONFIG", async (t) => {
  const clock = new ManualClock();
  const cache = { usedBytes: 0, maxBytes: 1 };
  t.throws(() => new StoreFlow(cache, clock, { storeBytesHigh: 10, storeBytesLow: 10 }), { code: "INVALID_CONFIG" });
  t.throws(() => new StoreFlow(cache, clock, { connectionBytesHigh: 10, connectionBytesLow: 0 }), { code: "INVALID_CONFIG" });
});
