// Proves reader identity and liveness in reader groups with real processes (a standalone child, readers in this
// process and in child processes, test/support/group-reader-child.ts) and a 3 s lease: (issue 18, case 6) a newer
// reader with the same id fences the older, whose readNext raises CLOSED within a bound and which returns nothing
// after, also a paused reader process that comes back (SIGSTOP, SIGCONT) returns nothing written meanwhile and
// exits CLOSED; together they return every event; (case 7) a reader process SIGKILLed while idle, without close(),
// loses its segments to the other reader within the lease, and the events it returned before idling are not
// returned again. Events say their key and sequence (test/support/events.ts), so each check compares what was read
// with what was written.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import t, { type Test } from "tap";
import { Sluice, type EventReader } from "../client/index.js";
import { startStandaloneProcess, tsNodeArgs } from "../perf/support/standalone-process.js";
import { parseTestEvent, writeKeyedEvents as write } from "./support/events.js";

const childScript = fileURLToPath(new URL("./support/group-reader-child.ts", import.meta.url));
const leaseMs = 3_000;

async function setup(t: Test): Promise<{ sluice: Sluice; uri: string }> {
  const standalone = await startStandaloneProcess(t.testdir());
  t.teardown(() => standalone.stop());
  const sluice = await Sluice.connect(standalone.controllerUri);
  t.teardown(() => sluice.close());
  await sluice.admin.createScope("shop");
  return { sluice, uri: standalone.controllerUri };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

interface Read {
  key: string;
  seq: number;
  segment: string;
  atMs: number;
}

const idOf = (e: { key: string; seq: number }) => `${e.key}|${e.seq}`;

/** Checks that `sets` together hold every key's sequences 0..count-1, and returns the events held by more than one. */
function union(t: Test, sets: readonly (readonly Read[])[], keys: number, count: number): string[] {
  const seen = new Map<string, number>();
  for (const set of sets) for (const e of set) seen.set(idOf(e), (seen.get(idOf(e)) ?? 0) + 1);
  let missing = 0;
  for (let k = 0; k < keys; k++) for (let seq = 0; seq < count; seq++) if (!seen.has(`k${k}|${seq}`)) missing++;
  t.equal(missing, 0, `every one of ${keys * count} events was returned`);
  t.equal(seen.size, keys * count, "and nothing else");
  return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
}

/** Per key, the sequences one reader returned are increasing (no reordering within a reader). */
function inOrder(t: Test, events: readonly Read[], who: string): void {
  const last = new Map<string, number>();
  let bad = 0;
  for (const e of events) {
    if ((last.get(e.key) ?? -1) >= e.seq) bad++;
    last.set(e.key, e.seq);
  }
  t.equal(bad, 0, `${who} returned each key in order, each event once`);
}

/** Reads with `reader` into `into` until `stop()` or an error; resolves with the error (undefined when stopped). */
async function readInto(reader: EventReader, into: Read[], stop: () => boolean, pauseMs = 0): Promise<{ code: string; message: string } | undefined> {
  try {
    while (!stop()) {
      const item = await reader.readNext({ timeoutMs: 100 });
      if (item.type !== "event") continue;
      into.push({ ...parseTestEvent(item.data), segment: item.segment, atMs: Date.now() });
      if (pauseMs > 0) await sleep(pauseMs);
    }
    return undefined;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return { code: String(e.code), message: String(e.message) };
  }
}

interface Child {
  proc: ChildProcess;
  lines: string[];
  events(): Read[];
  exited: Promise<void>;
}

function startReaderChild(t: Test, uri: string, group: string, reader: string, count: number): Child {
  const proc = spawn(process.execPath, tsNodeArgs(childScript, [uri, group, reader, String(count)]), { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  const stamped: Read[] = [];
  createInterface({ input: proc.stdout }).on("line", (line) => {
    lines.push(line);
    const [kind, key, seq, segment] = line.split(" ");
    if (kind === "event") stamped.push({ key: key!, seq: Number(seq), segment: segment!, atMs: Date.now() });
  });
  let stderr = "";
  proc.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGCONT");
      proc.kill("SIGKILL");
    }
    await exited;
    if (stderr.length > 0) t.comment(`reader child stderr: ${stderr.slice(-2000)}`);
  });
  return { proc, lines, events: () => stamped, exited };
}

void t.test("case 6: a newer reader with the same id fences the older (CLOSED), together they return every event", async (t) => {
  const { sluice, uri } = await setup(t);
  await sluice.admin.createStream("shop/orders", { scaling: { type: "fixed", minSegments: 2 } });
  await write(sluice, "shop/orders", 10, 20);
  const g1 = await sluice.readerGroup("shop/g6", { streams: ["shop/orders"], readerTimeoutMs: leaseMs });
  t.teardown(() => g1.close());
  const older = g1.reader("a");
  const log1: Read[] = [];
  let giveUp = false;
  // The older reader is slow (20 ms an event), so it is mid-stream, with positions recorded (each
  // second while it moves), when the newer one joins.
  const olderRun = readInto(older, log1, () => giveUp, 20);
  await until("the older reader's first 100 events", () => log1.length >= 100, 20_000);

  const other = await Sluice.connect(uri);
  t.teardown(() => other.close());
  const g2 = await other.readerGroup("shop/g6");
  t.teardown(() => g2.close());
  const joinAtMs = Date.now();
  const newer = g2.reader("a");
  const log2: Read[] = [];
  const total = () => new Set([...log1, ...log2].map(idOf)).size;
  let stopNewer = false;
  const newerRun = readInto(newer, log2, () => stopNewer);
  const timer = setTimeout(() => (giveUp = true), 10_000);
  const fenced = await olderRun;
  clearTimeout(timer);
  const fencedAtMs = Date.now();
  t.equal(fenced?.code, "CLOSED", "the older reader's readNext raised CLOSED");
  t.match(fenced?.message ?? "", /newer reader with the same id/, "saying a newer reader with its id joined");
  t.ok(fencedAtMs - joinAtMs < 5_000, `fenced ${fencedAtMs - joinAtMs} ms after the newer reader was made (bound 5000)`);
  await t.rejects(older.readNext({ timeoutMs: 100 }), { code: "CLOSED" }, "and every later readNext raises CLOSED too");
  const olderCount = log1.length;

  // Events written after the fence go to the newer reader only.
  await write(sluice, "shop/orders", 10, 20, 20);
  await until("every event returned by one reader or the other", () => total() >= 400, 20_000);
  stopNewer = true;
  t.equal(await newerRun, undefined, "the newer reader read on without error");
  t.equal(log1.length, olderCount, "the older reader returned nothing after it was fenced");
  const both = union(t, [log1, log2], 10, 40);
  inOrder(t, log1, "the older reader");
  inOrder(t, log2, "the newer reader");
  t.ok(
    both.every((id) => Number(id.split("|")[1]) < 20),
    "events returned by both were written before the fence (the older one returned them after its last recorded position)",
  );
  // At least once: the newer reader starts at the positions last recorded (at most a second old while the older moved).
  const lateOlder = log1.filter((e) => e.atMs >= joinAtMs - 1_500).length;
  t.ok(both.length <= lateOlder, `${both.length} events returned by both, all among the ${lateOlder} the older one returned from 1.5 s before the join on`);
  t.comment(`older returned ${olderCount}, newer ${log2.length}, both ${both.length}; fenced after ${fencedAtMs - joinAtMs} ms`);
  // Closing the fenced reader does not remove the newer one.
  await older.close();
  t.same(g2.describe().readers, ["a"], "the newer reader a is still online after the older one closed");
});

void t.test("case 6: a reader process paused past its lease returns nothing written meanwhile and exits CLOSED", async (t) => {
  const { sluice, uri } = await setup(t);
  await sluice.admin.createStream("shop/orders", { scaling: { type: "fixed", minSegments: 2 } });
  const g = await sluice.readerGroup("shop/g6p", { streams: ["shop/orders"], readerTimeoutMs: leaseMs });
  t.teardown(() => g.close());
  const child = startReaderChild(t, uri, "shop/g6p", "p", 1_000_000);
  await until("the reader child joined", () => child.lines.includes("ready"), 30_000);
  await write(sluice, "shop/orders", 10, 20);
  await until("the child's 200 events", () => child.events().length >= 200, 20_000);
  // Idle long enough for its positions to be recorded, then pause it (a stopped process, a long GC, a VM freeze).
  await sleep(1_500);
  child.proc.kill("SIGSTOP");
  const pausedAtMs = Date.now();
  const newer = g.reader("p");
  const log: Read[] = [];
  let stop = false;
  const run = readInto(newer, log, () => stop);
  await write(sluice, "shop/orders", 10, 20, 20);
  await until("the newer reader's 200 events of the second batch", () => log.filter((e) => e.seq >= 20).length >= 200, 20_000);
  // Past the paused reader's lease: when it comes back it must renew before returning anything, and finds itself fenced.
  await sleep(Math.max(0, pausedAtMs + leaseMs + 500 - Date.now()));
  const before = child.events().length;
  child.proc.kill("SIGCONT");
  const resumedAtMs = Date.now();
  await until("the paused child to exit with an error", () => child.lines.some((l) => l.startsWith("error ")), 10_000);
  t.ok(Date.now() - resumedAtMs < 10_000, `it reported within ${Date.now() - resumedAtMs} ms of resuming`);
  const error = child.lines.find((l) => l.startsWith("error "))!;
  t.match(error, /^error CLOSED /, "its readNext raised CLOSED");
  t.equal(child.events().length, before, "it returned no event after it came back");
  stop = true;
  t.equal(await run, undefined);
  const both = union(t, [child.events(), log], 10, 40);
  t.same(both, [], "no event was returned by both (the paused one had recorded its positions while idle)");
  inOrder(t, log, "the newer reader");
});

void t.test("case 7: a reader process SIGKILLed while idle loses its segments within the lease; what it returned is not returned again", async (t) => {
  const { sluice, uri } = await setup(t);
  await sluice.admin.createStream("shop/orders", { scaling: { type: "fixed", minSegments: 4 } });
  const g = await sluice.readerGroup("shop/g7", { streams: ["shop/orders"], readerTimeoutMs: leaseMs });
  t.teardown(() => g.close());
  // The child returns 50 events, then stops calling readNext (idle, not closed); it is killed after.
  const child = startReaderChild(t, uri, "shop/g7", "dead", 50);
  await until("the reader child joined", () => child.lines.includes("ready"), 30_000);
  const survivor = g.reader("alive");
  const log: Read[] = [];
  let stop = false;
  const run = readInto(survivor, log, () => stop);
  const held = (who: string) => g.describe().segments.filter((x) => x.owner === who).map((x) => x.segment);
  await until("the segments shared 2/2", () => held("alive").length === 2 && held("dead").length === 2, 20_000);
  const deadSegments = new Set(held("dead"));
  await write(sluice, "shop/orders", 20, 10);
  await until("the child's 50 events and idle", () => child.lines.includes("idle"), 20_000);
  // Idle (no readNext) for a while: its positions are recorded with its lease renewals.
  await sleep(2_000);
  const delivered = child.events();
  t.equal(delivered.length, 50);
  child.proc.kill("SIGKILL");
  await child.exited;
  const killedAtMs = Date.now();
  await write(sluice, "shop/orders", 20, 10, 10);
  await until("the survivor to return everything the dead reader did not", () => log.length >= 400 - 50, 30_000);
  const firstTaken = log.find((e) => deadSegments.has(e.segment) && e.atMs >= killedAtMs);
  t.ok(firstTaken !== undefined, "the survivor read the dead reader's segments");
  const takeoverMs = (firstTaken?.atMs ?? Infinity) - killedAtMs;
  t.ok(takeoverMs <= leaseMs + 3_000, `it took them over ${takeoverMs} ms after the kill (lease ${leaseMs} ms; bound ${leaseMs + 3_000})`);
  await sleep(300);
  stop = true;
  t.equal(await run, undefined);
  const both = union(t, [delivered, log], 20, 20);
  t.same(both, [], "no event the dead reader returned before idling was returned again");
  inOrder(t, log, "the survivor");
  t.same(g.describe().readers, ["alive"], "the dead reader is no longer online");
  t.comment(`takeover ${takeoverMs} ms after SIGKILL; survivor returned ${log.length}, the dead reader ${delivered.length}`);
  // Leases are validated with their range and kept in the group's state.
  await t.rejects(sluice.readerGroup("shop/bad", { streams: ["shop/orders"], readerTimeoutMs: 5 }), { code: "INVALID_ARGUMENT", message: /readerTimeoutMs must be 0 \(no lease\) or an integer in \[3000, 1800000\]/ });
  t.throws(() => g.reader("x", { timeoutMs: 1.5 }), { code: "INVALID_ARGUMENT", message: /timeoutMs must be 0/ }, "a bad lease is refused with its range");
  t.equal(g.describe().readerTimeoutMs, leaseMs, "the group's lease is kept in its state");
});
