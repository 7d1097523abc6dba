// Proves the data-directory lock refuses every live or unverifiable holder and takes over every stale one: lock files
// are written by hand naming this process, a live child (`sleep`), a dead child, a reused pid, another boot and another
// host, and lockDir is asked for the directory each time.
import t from "tap";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { dirLockFileName, liveDirLockHolder, lockDir, type DirLockHolder } from "./dir-lock.js";

function startTicks(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]!;
}

function holder(fields: Partial<DirLockHolder>): string {
  const base: DirLockHolder = { pid: 1, host: hostname(), what: "test", acquiredAt: new Date().toISOString(), nonce: "n0" };
  return JSON.stringify({ ...base, ...fields });
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

void t.test("a dead holder (SIGKILL) or one from before a reboot is stale and taken over", async (t) => {
  const dir = t.testdir();
  await writeFile(join(dir, dirLockFileName), holder({ pid: await deadPid() }));
  const lock = await lockDir(dir, "after-kill");
  await lock.release();
  await writeFile(join(dir, dirLockFileName), holder({ pid: process.pid, bootId: "another-boot", startTicks: startTicks(process.pid) }));
  const again = await lockDir(dir, "after-reboot");
  t.same((await readdir(dir)).sort(), [dirLockFileName], "no temporary or stale files left");
  await again.release();
});

void t.test("a holder this host cannot check, or a lock file it cannot read, blocks and names the file to delete", async (t) => {
  const dir = t.testdir();
  await writeFile(join(dir, dirLockFileName), holder({ pid: await deadPid(), host: "elsewhere.example" }));
  await t.rejects(lockDir(dir, "x"), { code: "DATA_DIR_LOCKED", message: /on elsewhere\.example .*cannot check; if that process no longer runs, delete .*sluice\.lock/ });
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
