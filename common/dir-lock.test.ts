// Proves the data-directory lock refuses every live or unverifiable-and-fresh holder and takes over every stale one: lock
// files are written by hand naming this process, a live child (`sleep`), a dead child, a reused pid, another boot, another
// pid namespace and another host, with a fresh or an old mtime (utimes), and lockDir is asked for the directory each time;
// the holder's refresh (short intervals injected) is watched through the file's mtime, its loss through onLost, and
// in-process and three-way races are forced with concurrent calls and the afterLinkForTest seam.
import t, { type Test } from "tap";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { readdir, readFile, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { dirLockFileName, liveDirLockHolder, lockDir, type DirLockHolder, type DirLockLost } from "./dir-lock.js";

function startTicks(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]!;
}

function holder(fields: Partial<DirLockHolder>): string {
  const base: DirLockHolder = { pid: 1, host: hostname(), what: "test", acquiredAt: new Date().toISOString(), nonce: "n0" };
  return JSON.stringify({ ...base, ...fields });
}

/** Sets the lock file's mtime `agoMs` into the past (an hour: long past dirLockStaleAfterMs). */
async function age(dir: string, agoMs = 3_600_000): Promise<void> {
  const then = new Date(Date.now() - agoMs);
  await utimes(join(dir, dirLockFileName), then, then);
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, deadlineMs = 5_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function livePid(t: Test): Promise<number> {
  const sleeper = spawn("sleep", ["30"], { stdio: "ignore" });
  t.teardown(() => sleeper.kill("SIGKILL"));
  await new Promise((resolve) => sleeper.once("spawn", resolve));
  return sleeper.pid!;
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid!;
}

void t.test("one holder at a time in a process; release lets the next in", async (t) => {
  const dir = t.testdir();
  const lock = await lockDir(dir, "first");
  await t.rejects(lockDir(dir, "second"), { code: "DATA_DIR_LOCKED", message: new RegExp(`${dir} is in use by pid ${process.pid} on .*\\(first, since`) });
  t.same(await liveDirLockHolder(dir), lock.holder, "a reader sees the live holder");
  await lock.release();
  await lock.release();
  t.same(await readdir(dir), [], "release leaves nothing behind");
  const again = await lockDir(dir, "third");
  t.equal((JSON.parse(await readFile(join(dir, dirLockFileName), "utf8")) as DirLockHolder).what, "third");
  await again.release();
});

void t.test("a live holder in another process blocks; its pid reused by another process does not", async (t) => {
  const dir = t.testdir();
  const sleeper = spawn("sleep", ["30"], { stdio: "ignore" });
  t.teardown(() => sleeper.kill("SIGKILL"));
  const pid = sleeper.pid!;
  await new Promise((resolve) => setTimeout(resolve, 100));
  await writeFile(join(dir, dirLockFileName), holder({ pid, startTicks: startTicks(pid) }));
  await t.rejects(lockDir(dir, "x"), { code: "DATA_DIR_LOCKED", message: new RegExp(`in use by pid ${pid}`) });
  t.ok(typeof (await liveDirLockHolder(dir)) === "object");
  await writeFile(join(dir, dirLockFileName), holder({ pid, startTicks: "1" }));
  t.equal(await liveDirLockHolder(dir), undefined, "same pid, another start time: stale");
  const lock = await lockDir(dir, "x");
  t.equal(lock.holder.pid, process.pid, "taken over");
  await lock.release();
});

void t.test("a dead holder (SIGKILL) is stale and taken over at once, however fresh its lock", async (t) => {
  const dir = t.testdir();
  await writeFile(join(dir, dirLockFileName), holder({ pid: await deadPid() }));
  const lock = await lockDir(dir, "after-kill");
  t.same((await readdir(dir)).sort(), [dirLockFileName], "no temporary or stale files left");
  await lock.release();
});

void t.test("another boot id under this host name (a reboot, or a clone on a shared volume) is stale only once unrefreshed", async (t) => {
  const dir = t.testdir();
  // A live pid, so that only the boot id and the lock's age can decide.
  const pid = await livePid(t);
  await writeFile(join(dir, dirLockFileName), holder({ pid, bootId: "another-boot", startTicks: startTicks(pid) }));
  await t.rejects(lockDir(dir, "x"), { code: "DATA_DIR_LOCKED", message: /cannot check .*refreshed 0 s ago and counts as stale 15 s after its last refresh/ }, "fresh: refused");
  t.ok(typeof (await liveDirLockHolder(dir)) === "object", "a reader counts it as live");
  await age(dir);
  t.equal(await liveDirLockHolder(dir), undefined, "unrefreshed for an hour: a reader counts it as gone");
  const again = await lockDir(dir, "after-reboot");
  t.same((await readdir(dir)).sort(), [dirLockFileName], "no temporary or stale files left");
  await again.release();
});

void t.test("a holder in another pid namespace (a container restarted after an OOM kill) is stale only once unrefreshed", async (t) => {
  const dir = t.testdir();
  const pid = await livePid(t);
  await writeFile(join(dir, dirLockFileName), holder({ pid, pidNamespace: "pid:[4026531836-elsewhere]", startTicks: startTicks(pid) }));
  await t.rejects(lockDir(dir, "x"), { code: "DATA_DIR_LOCKED", message: /cannot check/ }, "fresh: refused");
  await age(dir, 10_000);
  await t.rejects(lockDir(dir, "x"), { code: "DATA_DIR_LOCKED", message: /refreshed 10 s ago/ }, "10 s old: refused still");
  await t.rejects(lockDir(dir, "x", { staleAfterMs: 20_000 }), { code: "DATA_DIR_LOCKED" }, "with a longer staleAfterMs too");
  const taken = await lockDir(dir, "x", { staleAfterMs: 5_000 });
  t.equal(taken.holder.pid, process.pid, "older than staleAfterMs: taken over");
  await taken.release();
});

void t.test("a holder that can be checked and runs blocks however old its lock", async (t) => {
  const dir = t.testdir();
  const pid = await livePid(t);
  await writeFile(join(dir, dirLockFileName), holder({ pid, startTicks: startTicks(pid) }));
  await age(dir);
  await t.rejects(lockDir(dir, "x"), { code: "DATA_DIR_LOCKED", message: new RegExp(`in use by pid ${pid}`) });
});

void t.test("the holder refreshes its lock until release, and reports (onLost) a lock that is no longer its own", async (t) => {
  const dir = t.testdir();
  const lost: DirLockLost[] = [];
  const lock = await lockDir(dir, "refreshing", { refreshMs: 20, onLost: (l) => lost.push(l) });
  const file = join(dir, dirLockFileName);
  await age(dir);
  await waitFor("a refresh", async () => Date.now() - (await stat(file)).mtimeMs < 60_000);
  t.pass("the mtime was set back to now by the holder");
  // Another process judged it gone and took the directory: the holder must hear of it.
  await writeFile(file, holder({ pid: 1, nonce: "successor" }));
  await age(dir);
  await waitFor("onLost", () => lost.length > 0);
  t.equal(lost.length, 1);
  t.equal(lost[0]!.holder.nonce, lock.holder.nonce);
  t.match(lost[0]!.now, { nonce: "successor" }, "onLost names the lock found");
  t.ok(Date.now() - (await stat(file)).mtimeMs > 60_000, "the successor's lock is not refreshed by the loser");
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(lost.length, 1, "reported once");
  await lock.release();
  t.match(JSON.parse(await readFile(file, "utf8")), { nonce: "successor" }, "release leaves the successor's lock in place");

  // A deleted lock is lost too; after release the refresh stops.
  const lost2: DirLockLost[] = [];
  await unlink(file);
  const second = await lockDir(dir, "refreshing", { refreshMs: 20, onLost: (l) => lost2.push(l) });
  await unlink(file);
  await waitFor("onLost", () => lost2.length > 0);
  t.equal(lost2[0]!.now, undefined, "no lock file");
  await second.release();
  const third = await lockDir(dir, "refreshing", { refreshMs: 20, onLost: (l) => lost2.push(l) });
  await third.release();
  await writeFile(file, holder({ pid: 1, nonce: "later" }));
  await age(dir);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.ok(Date.now() - (await stat(file)).mtimeMs > 60_000, "a released lock's timer touches nothing");
  t.equal(lost2.length, 1, "and reports nothing");
});

void t.test("two lockDir calls on one directory in one process: exactly one gets it", async (t) => {
  const dir = t.testdir();
  const results = await Promise.allSettled([lockDir(dir, "a"), lockDir(dir, "b"), lockDir(join(dir, "."), "c")]);
  const won = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  t.equal(won.length, 1, "one holder");
  for (const r of results) if (r.status === "rejected") t.match(r.reason, { code: "DATA_DIR_LOCKED" });
  await won[0]?.release();
  t.same(await readdir(dir), []);
  // The window between the link and the lock's read-back, forced: a second lockDir there must find it held, not
  // judge a lock naming this process but not (yet) in its table stale.
  let inner: unknown = "not called";
  const first = await lockDir(dir, "first", {
    afterLinkForTest: async () => {
      inner = await lockDir(dir, "inner").then(
        async (l) => {
          await l.release();
          return "taken";
        },
        (err: unknown) => err,
      );
    },
  });
  t.match(inner, { code: "DATA_DIR_LOCKED", message: /in use by pid \d+ .*\(first, since/ }, "a lockDir inside the window is refused");
  t.equal((JSON.parse(await readFile(join(dir, dirLockFileName), "utf8")) as DirLockHolder).nonce, first.holder.nonce, "the first still holds the file");
  await first.release();
});

void t.test("a racer that replaces the lock right after our link wins: we refuse and leave its lock alone", async (t) => {
  const dir = t.testdir();
  const pid = await livePid(t);
  const racer = holder({ pid, startTicks: startTicks(pid), nonce: "racer" });
  await t.rejects(
    lockDir(dir, "x", { afterLinkForTest: () => writeFile(join(dir, dirLockFileName), racer) }),
    { code: "DATA_DIR_LOCKED", message: new RegExp(`another process took its lock at the same moment \\(pid ${pid} `) },
  );
  t.equal(await readFile(join(dir, dirLockFileName), "utf8"), racer, "the racer's lock is untouched");
  await unlink(join(dir, dirLockFileName));
  const lock = await lockDir(dir, "after");
  t.pass("the refused attempt left nothing held in this process");
  await lock.release();
});

void t.test("a holder on another host blocks until its lock goes unrefreshed; a lock file this version cannot read blocks and names the file", async (t) => {
  const dir = t.testdir();
  await writeFile(join(dir, dirLockFileName), holder({ pid: await deadPid(), host: "elsewhere.example" }));
  await t.rejects(lockDir(dir, "x"), { code: "DATA_DIR_LOCKED", message: /on elsewhere\.example .*cannot check .*if that process no longer runs, delete .*sluice\.lock/ });
  await age(dir);
  const taken = await lockDir(dir, "x");
  t.equal(taken.holder.host, hostname(), "unrefreshed for an hour: taken over");
  await taken.release();
  await writeFile(join(dir, dirLockFileName), "not json");
  await t.rejects(lockDir(dir, "x"), { code: "DATA_DIR_LOCKED", message: /cannot read; if no sluice process uses/ });
  t.equal(await readFile(join(dir, dirLockFileName), "utf8"), "not json", "left as it was");
});

void t.test("a zombie holder (SIGKILLed, not yet reaped by its parent) is stale", async (t) => {
  const dir = t.testdir();
  // `sleep 0.5` exits after its parent has exec'd into `sleep 10`, which never reaps it: a zombie until then.
  const parent = spawn("sh", ["-c", "sleep 0.5 & echo $!; exec sleep 10"], { stdio: ["ignore", "pipe", "ignore"] });
  t.teardown(() => parent.kill("SIGKILL"));
  const pid = Number(await new Promise<string>((resolve) => parent.stdout.once("data", (c: Buffer) => resolve(c.toString().trim()))));
  const stateOf = () => {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  };
  for (let i = 0; i < 100 && stateOf() !== "Z"; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(stateOf(), "Z", `pid ${pid} is a zombie`);
  await writeFile(join(dir, dirLockFileName), holder({ pid, startTicks: startTicks(pid) }));
  const lock = await lockDir(dir, "after-zombie");
  await lock.release();
});
