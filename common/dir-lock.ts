/**
 * An exclusive lock on a directory of durable files, held by one process for as long as it runs
 * (Kafka's `.lock`, etcd's data-dir flock). Two processes writing one journal or metadata log
 * interleave their appends and cut each other's "torn" tails; the second one must be refused
 * before it touches anything.
 *
 * Node has no flock(2), so the lock is a file, `DIR/sluice.lock`, holding who took it: pid,
 * host name, the kernel's boot id, the pid namespace and the process's start time (field 22 of
 * /proc/PID/stat). It is created atomically with its content: written to a unique temporary
 * name, fsync'd, then hard-linked to `sluice.lock` (link(2) fails with EEXIST when the name is
 * taken, on local filesystems and on NFS alike), so nobody ever reads a half-written lock.
 *
 * A lock whose holder is gone is stale and is taken over (with a WARN naming the old holder):
 * the holder is gone when, on this host, the machine has rebooted since (boot id differs), the pid
 * does not run (kill(pid, 0) fails ESRCH, or it is a zombie not yet reaped), or the pid runs but
 * started at another time (the pid was reused). A process killed by SIGKILL therefore never blocks the next start. A holder that
 * runs, and a holder this host cannot check (another host, another pid namespace, an unreadable
 * lock file), always blocks: the start is refused with DATA_DIR_LOCKED naming the directory, the
 * holder and, for the unverifiable cases, the file to delete once the operator knows it is dead.
 *
 * Taking over a stale lock renames it aside and checks that the file moved is the stale one
 * (same nonce) before deleting it; a racing process's fresh lock moved by mistake is linked back.
 * A lock is released by close (only if the file is still ours) and, as a courtesy, at process exit.
 */
import { randomBytes } from "node:crypto";
import { constants as fsConstants, readFileSync, unlinkSync } from "node:fs";
import { link, open, readFile, readlink, rename, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { DataDirLockedError, InternalError } from "./errors.js";
import { logger } from "./log.js";
import { makeDurableDir, syncDirectory } from "./record-log.js";

const log = logger("dir-lock");

/** The lock file's name inside the locked directory. */
export const dirLockFileName = "sluice.lock";
/** Attempts at taking a lock whose stale holder keeps being replaced by racing processes. */
const takeoverAttemptsMax = 5;
/** A lock file is a few hundred bytes of JSON; anything longer is not ours. */
const lockFileBytesMax = 4096;

/** Who holds (or held) a lock, as its file records it. */
export interface DirLockHolder {
  pid: number;
  host: string;
  /** /proc/sys/kernel/random/boot_id, when the holder could read it. */
  bootId?: string;
  /** The target of /proc/self/ns/pid, when readable. */
  pidNamespace?: string;
  /** Field 22 of /proc/PID/stat (clock ticks after boot), when readable. */
  startTicks?: string;
  /** What the holder uses the directory for ("metadata store", "log node", "standalone"). */
  what: string;
  acquiredAt: string;
  nonce: string;
}

export interface DirLock {
  readonly dir: string;
  readonly holder: DirLockHolder;
  /** Deletes the lock file if it is still this lock's. Idempotent. */
  release(): Promise<void>;
}

/** Lock files this process holds, by path (released at exit as a courtesy; stale detection does not depend on it). */
const held = new Map<string, string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const [path, nonce] of held) {
      try {
        const holder = parseHolder(readFileSync(path, "utf8"));
        if (holder?.nonce === nonce) unlinkSync(path);
      } catch (err) {
        // The process is exiting and the lock is stale from now on; the next start takes it over.
        log.debug("could not remove a lock file at exit", { file: path, error: String(err) });
      }
    }
  });
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    // No /proc (not Linux) or no access: the check it feeds falls back to kill(pid, 0) alone.
    return undefined;
  }
}

/** State (field 3: R, S, Z for a zombie, ...) and start time (field 22, clock ticks after boot) of `pid`, when /proc can tell. */
function procStat(pid: number): { state: string | undefined; startTicks: string | undefined } {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return { state: undefined, startTicks: undefined };
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields resume after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3, so field 22 is fields[19].
  return { state: fields[0], startTicks: fields[19] };
}

let selfIdentity: Omit<DirLockHolder, "what" | "acquiredAt" | "nonce"> | undefined;

async function identity(): Promise<Omit<DirLockHolder, "what" | "acquiredAt" | "nonce">> {
  if (selfIdentity !== undefined) return selfIdentity;
  const bootId = readProc("/proc/sys/kernel/random/boot_id");
  const { startTicks } = procStat(process.pid);
  let pidNamespace: string | undefined;
  try {
    pidNamespace = await readlink("/proc/self/ns/pid");
  } catch {
    // Not Linux: no namespaces to tell apart.
    pidNamespace = undefined;
  }
  selfIdentity = {
    pid: process.pid,
    host: hostname(),
    ...(bootId === undefined ? {} : { bootId }),
    ...(pidNamespace === undefined ? {} : { pidNamespace }),
    ...(startTicks === undefined ? {} : { startTicks }),
  };
  return selfIdentity;
}

function parseHolder(text: string): DirLockHolder | undefined {
  try {
    const v = JSON.parse(text) as Partial<DirLockHolder>;
    if (typeof v.pid !== "number" || !Number.isSafeInteger(v.pid) || v.pid <= 0) return undefined;
    if (typeof v.host !== "string" || typeof v.nonce !== "string" || typeof v.what !== "string" || typeof v.acquiredAt !== "string") return undefined;
    return v as DirLockHolder;
  } catch {
    return undefined;
  }
}

/** `live`: it runs (or this process holds it); `stale`: it is gone; `unknown`: this host cannot tell. */
export type HolderState = "live" | "stale" | "unknown";

/** Whether the process a lock file names still runs, as far as this host can tell. */
export async function holderState(path: string, holder: DirLockHolder): Promise<HolderState> {
  const me = await identity();
  if (holder.host !== me.host) return "unknown";
  if (holder.bootId !== undefined && me.bootId !== undefined && holder.bootId !== me.bootId) return "stale";
  if (holder.pidNamespace !== undefined && me.pidNamespace !== undefined && holder.pidNamespace !== me.pidNamespace) return "unknown";
  if (holder.pid === process.pid && holder.startTicks === me.startTicks) return held.get(path) === holder.nonce ? "live" : "stale";
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ESRCH") return "stale";
    // EPERM: it runs, as another user.
    if (code !== "EPERM") return "unknown";
  }
  const now = procStat(holder.pid);
  // A zombie (killed, not yet reaped by its parent) holds no files: it is gone.
  if (now.state === "Z" || now.state === "X") return "stale";
  if (now.startTicks !== undefined && holder.startTicks !== undefined && now.startTicks !== holder.startTicks) return "stale";
  return "live";
}

/** Reads `DIR/sluice.lock`: undefined when there is none, `unreadable` when it is not a lock file of ours. */
export async function readDirLock(dir: string): Promise<DirLockHolder | "unreadable" | undefined> {
  let text: string;
  try {
    const handle = await open(join(dir, dirLockFileName), fsConstants.O_RDONLY);
    try {
      const buf = Buffer.alloc(lockFileBytesMax + 1);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      if (bytesRead > lockFileBytesMax) return "unreadable";
      text = buf.toString("utf8", 0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new InternalError(`${dir}: cannot read its lock file`, { cause: err });
  }
  return parseHolder(text) ?? "unreadable";
}

/**
 * The live holder of `dir`'s lock, if any: for read-only tools that must know whether another
 * process writes the directory. An unverifiable holder counts as live.
 */
export async function liveDirLockHolder(dir: string): Promise<DirLockHolder | "unreadable" | undefined> {
  const holder = await readDirLock(dir);
  if (holder === undefined || holder === "unreadable") return holder;
  return (await holderState(join(dir, dirLockFileName), holder)) === "stale" ? undefined : holder;
}

export function describeHolder(h: DirLockHolder): string {
  return `pid ${h.pid} on ${h.host} (${h.what}, since ${h.acquiredAt})`;
}

/**
 * Takes the exclusive lock on `dir` (created, durably, if missing) for `what`. Raises
 * DATA_DIR_LOCKED when a live or unverifiable process holds it, and INTERNAL when the lock file
 * cannot be written. Nothing else in the directory is touched either way.
 */
export async function lockDir(dir: string, what: string): Promise<DirLock> {
  await makeDurableDir(dir);
  const path = join(dir, dirLockFileName);
  const holder: DirLockHolder = { ...(await identity()), what, acquiredAt: new Date().toISOString(), nonce: randomBytes(12).toString("hex") };
  const tmp = join(dir, `.${dirLockFileName}.${process.pid}.${holder.nonce}`);
  await writeSynced(tmp, JSON.stringify(holder) + "\n");
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmp, path);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new InternalError(`${dir}: cannot create its lock file ${dirLockFileName}`, { cause: err });
      }
      const other = await readDirLock(dir);
      if (other === undefined) continue; // released meanwhile: try again
      if (other === "unreadable") {
        throw new DataDirLockedError(`${dir} is locked by ${path}, which this version cannot read; if no sluice process uses ${dir}, delete that file and start again`);
      }
      const state = await holderState(path, other);
      if (state === "live") {
        throw new DataDirLockedError(`${dir} is in use by ${describeHolder(other)}; stop it first, or give this process another directory`);
      }
      if (state === "unknown") {
        throw new DataDirLockedError(
          `${dir} is locked by ${describeHolder(other)}, which this host cannot check; if that process no longer runs, delete ${path} and start again`,
        );
      }
      if (attempt >= takeoverAttemptsMax) throw new DataDirLockedError(`${dir}: its stale lock kept changing hands; another process is starting on it`);
      await removeStale(dir, path, other);
    }
  } finally {
    await unlink(tmp).catch((err: unknown) => log.warn("could not remove a temporary lock file", { file: tmp, error: String(err) }));
  }
  await syncDirectory(dir);
  held.set(path, holder.nonce);
  installExitHook();
  let released = false;
  return {
    dir,
    holder,
    async release() {
      if (released) return;
      released = true;
      held.delete(path);
      const now = await readDirLock(dir);
      // Someone who judged us dead (wrongly) took it over: their lock is not ours to delete.
      if (typeof now === "object" && now.nonce === holder.nonce) await unlink(path);
    },
  };
}

/** Moves a stale lock aside and deletes it, unless what was moved is a racer's fresh lock, which goes back. */
async function removeStale(dir: string, path: string, stale: DirLockHolder): Promise<void> {
  const aside = join(dir, `.${dirLockFileName}.stale.${randomBytes(8).toString("hex")}`);
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return; // someone else removed it
    throw new InternalError(`${dir}: cannot remove its stale lock file`, { cause: err });
  }
  const moved = parseHolder(await readFile(aside, "utf8").catch(() => ""));
  if (moved?.nonce === stale.nonce) {
    await unlink(aside);
    log.warn("took over a stale lock: its holder no longer runs", { dir, holder: describeHolder(stale) });
    return;
  }
  // A racer took the stale lock over between our read and our rename: put its lock back.
  try {
    await link(aside, path);
  } catch (err) {
    log.error("a racing process's lock was moved aside and a third took its place; both may think they hold the directory", { dir, file: aside, error: String(err) });
  }
  await unlink(aside);
}

async function writeSynced(path: string, text: string): Promise<void> {
  const handle = await open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
