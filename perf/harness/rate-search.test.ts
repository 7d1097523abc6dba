// Proves the max-rate search steps up fast until the first shortfall and slowly after, backs off below what the system
// achieved when producers fall short or the backlog grows, stays within its bounds, and converges near a simulated
// system's capacity within a short run.
import t from "tap";
import { RateSearch, searchRateMin, searchRateStart } from "./rate-search.js";

const kept = (rate: number) => ({ publishRate: rate, backlog: 0, periodSeconds: 1, consuming: true });

void t.test("fast steps, then back off, then slow steps", async (t) => {
  const s = new RateSearch();
  t.equal(s.rate, searchRateStart);
  t.equal(s.next(kept(10_000)), 15_000, "slow start: x1.5");
  t.equal(s.next({ publishRate: 9_000, backlog: 0, periodSeconds: 1, consuming: true }), 8_100, "below what was achieved");
  t.equal(s.next(kept(8_100)), 8_505, "after the first shortfall: x1.05");
  t.equal(s.next({ publishRate: 8_505, backlog: 50_000, periodSeconds: 1, consuming: true }), 7_655, "consumers fell behind");
  t.equal(s.next({ publishRate: 7_655, backlog: 7_655, periodSeconds: 1, consuming: true }), 8_038, "a period of backlog is reporting lag");
  t.equal(s.next({ publishRate: 8_038, backlog: 50_000, periodSeconds: 1, consuming: false }), 8_440, "no consumers: backlog ignored");
  const floor = new RateSearch();
  for (let i = 0; i < 100; i++) floor.next({ publishRate: 0, backlog: 0, periodSeconds: 1, consuming: true });
  t.equal(floor.rate, searchRateMin, "never below the floor");
});

void t.test("converges near the capacity of a simulated system within 20 periods", async (t) => {
  const capacity = 73_000;
  const s = new RateSearch();
  const seen: number[] = [];
  for (let period = 0; period < 20; period++) seen.push(s.next(kept(Math.min(s.rate, capacity))));
  const last = seen.slice(-10);
  const mean = last.reduce((a, b) => a + b, 0) / last.length;
  t.ok(mean > capacity * 0.75 && mean < capacity * 1.15, `hovers near capacity: mean ${Math.round(mean)}`);
});
