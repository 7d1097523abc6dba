// Proves the periodic loop on a ManualClock: one pass per interval, passes never overlap (a tick during a pass waits and then runs its own), and close() waits for the pass in progress and stops the loop.
import t from "tap";
import { ManualClock } from "./clock.js";
import { PeriodicPass } from "./periodic-pass.js";

void t.test("passes every interval, never overlapping, none after close", async (t) => {
  const clock = new ManualClock();
  let passes = 0;
  let inPass = 0;
  let overlapped = false;
  let release: (() => void) | undefined;
  const loop = new PeriodicPass(clock, 100, async () => {
    passes++;
    inPass++;
    if (inPass > 1) overlapped = true;
    await new Promise<void>((resolve) => (release = resolve));
    inPass--;
  });
  loop.start();
  t.throws(() => loop.start(), "starts once");
  clock.advance(99);
  t.equal(passes, 0, "not before the interval");
  clock.advance(1);
  t.equal(passes, 1, "a pass at the interval");
  const extra = loop.tick();
  await new Promise((r) => setImmediate(r));
  t.equal(passes, 1, "a tick waits for the pass in progress");
  release!();
  await new Promise((r) => setImmediate(r));
  t.equal(passes, 2, "then makes its own");
  release!();
  await extra;
  const closing = loop.close();
  t.equal(loop.closed, true);
  await closing;
  clock.advance(1000);
  await loop.tick();
  t.equal(passes, 2, "no pass after close");
  t.equal(overlapped, false, "passes never overlapped");
});
