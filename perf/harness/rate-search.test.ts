// Proves the max-rate search steps up fast while producers keep to their schedule, backs off below what was achieved
// when they fall further behind or the backlog grows, holds while they catch up, stays within its bounds, and converges
// near a simulated system's capacity.
import t from "tap";
import { RateSearch, searchRateMin, searchRateStart } from "./rate-search.js";

const obs = (publishRate: number, lagMs: number, backlog = 0, consuming = true) => ({ publishRate, lagMs, backlog, periodSeconds: 1, consuming });

void t.test("fast steps, back off, hold while catching up, then slow steps", async (t) => {
  const s = new RateSearch();
  t.equal(s.rate, searchRateStart);
  t.equal(s.next(obs(10_000, 0)), 15_000, "slow start: x1.5");
  t.equal(s.next(obs(12_000, 800)), 10_800, "fell behind: 90% of what was achieved");
  t.equal(s.next(obs(11_000, 500)), 10_800, "still behind but catching up: hold");
  t.equal(s.next(obs(10_800, 100)), 11_340, "kept up again: x1.05 after the first shortfall");
  t.equal(s.next(obs(11_340, 0, 50_000)), 10_206, "consumers fell behind");
  t.equal(s.next(obs(10_206, 0, 50_000, false)), 10_716, "no consumers: backlog ignored");
  const floor = new RateSearch();
  let lag = 0;
  for (let i = 0; i < 100; i++) floor.next(obs(0, (lag += 1000)));
  t.equal(floor.rate, searchRateMin, "never below the floor");
});

void t.test("converges near the capacity of a simulated open-loop system", async (t) => {
  const capacity = 73_000;
  const s = new RateSearch();
  let owed = 0; // messages scheduled but not yet sent
  const seen: number[] = [];
  for (let period = 0; period < 40; period++) {
    const rate = s.rate;
    const sent = Math.min(capacity, rate + owed);
    owed = Math.max(0, owed + rate - sent);
    seen.push(s.next(obs(sent, (owed / rate) * 1000)));
  }
  const last = seen.slice(-15);
  const mean = last.reduce((a, b) => a + b, 0) / last.length;
  t.ok(mean > capacity * 0.75 && mean < capacity * 1.1, `hovers near capacity: mean ${Math.round(mean)}`);
});
