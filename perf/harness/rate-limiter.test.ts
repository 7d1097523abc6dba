// Proves the rate limiter keeps an open-loop schedule (start + n / rate) that a stall never resets, and that setRate restarts it, by driving it with a ManualClock.
import t from "tap";
import { InvalidConfigError, ManualClock } from "../../common/index.js";
import { RateLimiter } from "./rate-limiter.js";

void t.test("intended times follow start + n / rate exactly", async (t) => {
  const clock = new ManualClock();
  const start = clock.monotonicMs();
  const limiter = new RateLimiter(1000, clock);
  t.same([limiter.next(), limiter.next(), limiter.next(), limiter.next()], [start, start + 1, start + 2, start + 3]);

  // Monotonic time starts near 0 (performance.now()), where 50 us steps are representable exactly.
  const fast = new RateLimiter(20_000, new ManualClock(0));
  const times = Array.from({ length: 20_001 }, () => fast.next());
  t.equal(times[1], 0.05, "20000/s is one every 50 us");
  t.equal(times[20_000], 1000, "the 20000th operation is due one second in, with no accumulated rounding");
});

void t.test("delayMs waits for early operations and not for late ones", async (t) => {
  const clock = new ManualClock();
  const limiter = new RateLimiter(10, clock);
  t.equal(limiter.delayMs(limiter.next()), 0, "the first operation is due at once");
  const second = limiter.next();
  t.equal(limiter.delayMs(second), 100);
  clock.advance(40);
  t.equal(limiter.delayMs(second), 60);
  clock.advance(500);
  t.equal(limiter.delayMs(second), 0, "late: no wait, never negative");
});

void t.test("after a stall the schedule is not reset to now", async (t) => {
  const clock = new ManualClock();
  const start = clock.monotonicMs();
  const limiter = new RateLimiter(100, clock);
  for (let i = 0; i < 5; i++) {
    const intended = limiter.next();
    clock.advance(limiter.delayMs(intended));
  }
  // A 1 s stall: the next 100 operations were due during it and stay due at their original times,
  // so their latency, measured from the intended time, includes the stall.
  clock.advance(1000);
  const afterStall = Array.from({ length: 101 }, () => limiter.next());
  t.equal(afterStall[0], start + 50, "the 6th operation is still due at 50 ms");
  t.equal(afterStall[100], start + 1050, "the 106th at 1050 ms");
  const late = afterStall.filter((intended) => limiter.delayMs(intended) === 0).length;
  t.equal(late, 100, "every operation due by now is sent at once (catch-up), none is dropped from the schedule");
  t.equal(clock.monotonicMs() - afterStall[0]!, 990, "latency from intended time counts the stall");
});

void t.test("setRate keeps sends already due: the new schedule starts where the old one stood", async (t) => {
  const clock = new ManualClock();
  const start = clock.monotonicMs();
  const limiter = new RateLimiter(10, clock);
  limiter.next();
  limiter.next(); // ops 0 and 1 taken; op 2 is due at start + 200
  clock.advance(5000); // a stall: the sender is 4.8 s behind
  t.equal(limiter.lagMs(), 4800, "lag is now minus the next intended time");
  limiter.setRate(1000);
  t.equal(limiter.rate, 1000);
  t.same([limiter.next(), limiter.next(), limiter.next()], [start + 200, start + 201, start + 202], "late sends stay late");
  t.equal(limiter.lagMs(), 4797);
  const ahead = new RateLimiter(10, clock);
  t.equal(ahead.lagMs(), 0, "on schedule: no lag");
});

void t.test("rate 0 is unlimited: every operation is due now", async (t) => {
  const clock = new ManualClock();
  const limiter = new RateLimiter(0, clock);
  const first = limiter.next();
  t.equal(first, clock.monotonicMs());
  t.equal(limiter.next(), first, "no spacing");
  clock.advance(123);
  const later = limiter.next();
  t.equal(later, clock.monotonicMs());
  t.equal(limiter.delayMs(later), 0);
  limiter.setRate(50);
  t.equal(limiter.next(), clock.monotonicMs());
  t.equal(limiter.next(), clock.monotonicMs() + 20, "a fixed rate after unlimited");
});

void t.test("a bad rate is INVALID_CONFIG", async (t) => {
  const clock = new ManualClock();
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 10_000_001]) {
    t.throws(() => new RateLimiter(bad, clock), InvalidConfigError, String(bad));
  }
  const limiter = new RateLimiter(1, clock);
  t.throws(() => limiter.setRate(-5), { code: "INVALID_CONFIG", message: /rate: -5 ops\/s is not a number in \[0, 10000000\]/ });
  t.equal(limiter.rate, 1, "a refused rate leaves the old one");
});
