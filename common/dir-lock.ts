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
 * taken, on local filesystems and on NFS alike), so nobody ever reads a half-written lock. After
 * the link and the directory's fsync the new holder reads the lock once more and gives up
 * (DATA_DIR_LOCKED) if it is not its own: a third process racing over the same stale lock won.
 *
 * The holder refreshes its lock: every `dirLockRefreshMs` it reads the file back and, if it is
 * still its own (same nonce), sets its mtime to now. A lock that is no longer its own (deleted by
 * hand, or taken over by a process that judged it gone) means this process lost its directory
 * while another may write it: that is reported to `onLost` (by default the process-wide handler of
 * setDirLockLostHandler, which the `sluice` roles set to exit at once: fail-stop), always with an
 * ERROR line.
 *
 * Whether the holder of an existing lock is gone:
 * - it can be checked (same host name, boot id and pid namespace): it is gone when its pid does
 *   not run (kill(pid, 0) fails ESRCH, or it is a zombie not yet reaped) or runs with another
 *   start time (the pid was reused). A holder that runs blocks, however old its lock's mtime (a
 *   paused process still holds its files). A process killed by SIGKILL never blocks the next start.
 * - it cannot be checked (another host name; another pid namespace, as a container restarted after
 *   an OOM kill; another boot id under the same host name, which is a reboot or a second machine
 *   with the same name on a shared volume): it is gone only once its lock has not been refreshed
 *   for `dirLockStaleAfterMs`; until then the start is refused with DATA_DIR_LOCKED saying when
 *   the lock goes stale. This leans on the clocks of the hosts sharing a network volume (the
 *   mtime is set by the file server or the holder's kernel): keep them within a few seconds.
 * - an unreadable lock file always blocks, naming the file to delete.
 *
 * Taking over a stale lock renames it aside and checks that the file moved is the stale one
 * (same nonce) before deleting it; a racing process's fresh lock moved by mistake is linked back.
 * A lock is released by release() (the same move-aside-and-check, so a successor's lock is never
 * deleted) and, as a courtesy, at process exit.
 */
import { randomBytes } from "node:crypto";
import { constants as fsConstants, linkSync, readFileSync, renameSync, unlinkSync } from "node:fs";
import { link, open, readFile, readlink, rename, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { DataDirLockedError, InternalError } from "./errors.js";
import { dirLockRefreshMs, dirLockStaleAfterMs } from "./limits.js";
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
  /** Stops the refresh and deletes the lock file if it is still this lock's. Idempotent. */
  release(): Promise<void>;
}

/** What onLost is told: the directory, and what its lock file holds now (undefined: no lock file). */
export interface DirLockLost {
  dir: string;
  holder: DirLockHolder;
  now: DirLockHolder | "unreadable" | undefined;
}

export interface DirLockOptions {
  /** How often the lock is refreshed and checked (tests shorten it). Default dirLockRefreshMs. */
  refreshMs?: number;
  /** How long an uncheckable holder's lock must go unrefreshed to count as stale. Default dirLockStaleAfterMs. */
  staleAfterMs?: number;
  /**
   * Called once when a refresh finds the lock no longer this process's: it must stop writing the
   * directory (another process may own it now). Default: the handler of setDirLockLostHandler.
   */
  onLost?: (lost: DirLockLost) => void;
  /** Tests only: runs after the link and the directory's fsync, before the lock is read back. */
  afterLinkForTest?: () => Promise<void>;
}

let lostHandler: ((lost: DirLockLost) => void) | undefined;

/**
 * Sets what happens, in this process, when a lock taken without its own onLost is found lost.
 * Servers (the `sluice` roles) exit: fail-stop, as the directory may have another writer now.
 * Without a handler the loss is only logged (ERROR) and the refresh stops.
 */
export function setDirLockLostHandler(handler: ((lost: DirLockLost) => void) | undefined): void {
  lostHandler = handler;
}

interface HeldLock {
  holder: DirLockHolder;
  /** Until the link is made and read back: a second lockDir in this process is refused all the same. */
  pending: boolean;
}

/** Lock files this process holds or is taking, by absolute path (released at exit as a courtesy; stale detection does not depend on it). */
const held = new Map<string, HeldLock>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const [path, { holder, pending }] of held) {
      if (pending) continue;
      try {
        removeIfOwnSync(path, holder.nonce);
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

/** `live`: it runs (or this process holds it); `stale`: it is gone; `unknown`: this host cannot tell (see holderVerdict). */
export type HolderState = "live" | "stale" | "unknown";

/**
 * Whether the process a lock file names still runs, as far as this host can tell, ignoring how
 * fresh the lock is: `unknown` when it is on another host, boot or pid namespace. holderVerdict
 * adds the lock's age.
 */
export async function holderState(holder: DirLockHolder): Promise<HolderState> {
  const me = await identity();
  for (const h of held.values()) if (h.holder.nonce === holder.nonce) return "live";
  if (holder.host !== me.host) return "unknown";
  // Same name, another boot: a reboot of this machine, or another machine with the same name (a clone, a fixed
  // container host name) on a shared volume. Only the lock's age can tell.
  if (holder.bootId !== undefined && me.bootId !== undefined && holder.bootId !== me.bootId) return "unknown";
  if (holder.pidNamespace !== undefined && me.pidNamespace !== undefined && holder.pidNamespace !== me.pidNamespace) return "unknown";
  // This process, but not a lock it holds: one it took earlier and failed to remove.
  if (holder.pid === process.pid && holder.startTicks === me.startTicks) return "stale";
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

/** A lock file as read: its holder and when it was last refreshed (its mtime). */
interface LockFile {
  holder: DirLockHolder;
  mtimeMs: number;
}

/** The verdict on an existing lock: `stale` may be taken over; `refreshedAgoMs` is set for an uncheckable holder. */
export interface HolderVerdict {
  state: HolderState;
  refreshedAgoMs?: number;
}

/** holderState, with an uncheckable holder judged by its lock's age: stale once not refreshed for `staleAfterMs`. */
async function holderVerdict(lock: LockFile, staleAfterMs: number): Promise<HolderVerdict> {
  const state = await holderState(lock.holder);
  if (state !== "unknown") return { state };
  // A future mtime (clock skew) counts as just refreshed.
  const refreshedAgoMs = Math.max(0, Date.now() - lock.mtimeMs);
  return { state: refreshedAgoMs >= staleAfterMs ? "stale" : "unknown", refreshedAgoMs };
}

async function readLockFile(dir: string): Promise<LockFile | "unreadable" | undefined> {
  let text: string;
  let mtimeMs: number;
  try {
    const handle = await open(join(dir, dirLockFileName), fsConstants.O_RDONLY);
    try {
      const buf = Buffer.alloc(lockFileBytesMax + 1);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      if (bytesRead > lockFileBytesMax) return "unreadable";
      text = buf.toString("utf8", 0, bytesRead);
      mtimeMs = (await handle.stat()).mtimeMs;
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new InternalError(`${dir}: cannot read its lock file`, { cause: err });
  }
  const holder = parseHolder(text);
  return holder === undefined ? "unreadable" : { holder, mtimeMs };
}

/** Reads `DIR/sluice.lock`: undefined when there is none, `unreadable` when it is not a lock file of ours. */
export async function readDirLock(dir: string): Promise<DirLockHolder | "unreadable" | undefined> {
  const lock = await readLockFile(dir);
  return typeof lock === "object" ? lock.holder : lock;
}

/**
 * The live holder of `dir`'s lock, if any: for read-only tools that must know whether another
 * process writes the directory. An unverifiable holder counts as live until its lock goes stale.
 */
export async function liveDirLockHolder(dir: string, staleAfterMs = dirLockStaleAfterMs): Promise<DirLockHolder | "unreadable" | undefined> {
  const lock = await readLockFile(dir);
  if (lock === undefined || lock === "unreadable") return lock;
  return (await holderVerdict(lock, staleAfterMs)).state === "stale" ? undefined : lock.holder;
}

export function describeHolder(h: DirLockHolder): string {
  return `pid ${h.pid} on ${h.host} (${h.what}, since ${h.acquiredAt})`;
}

/**
 * Takes the exclusive lock on `dir` (created, durably, if missing) for `what`, and keeps it
 * refreshed until release() (see the file comment and DirLockOptions). Raises DATA_DIR_LOCKED
 * when a live, unverifiable-and-recently-refreshed or racing process holds it, or this process
 * already holds or is taking it, and INTERNAL when the lock file cannot be written. Nothing else in
 * the directory is touched either way.
 */
export async function lockDir(dir: string, what: string, options: DirLockOptions = {}): Promise<DirLock> {
  const refreshMs = options.refreshMs ?? dirLockRefreshMs;
  const staleAfterMs = options.staleAfterMs ?? dirLockStaleAfterMs;
  const path = join(resolve(dir), dirLockFileName);
  const mine = held.get(path);
  if (mine !== undefined) throw new DataDirLockedError(`${dir} is in use by ${describeHolder(mine.holder)}; stop it first, or give this process another directory`);
  // Recorded before anything is awaited: a second lockDir in this process between our link and its read-back
  // must find the lock held, not judge it (this process's pid, no entry in `held`) stale.
  const holder: DirLockHolder = {
    pid: process.pid,
    host: hostname(),
    what,
    acquiredAt: new Date().toISOString(),
    nonce: randomBytes(12).toString("hex"),
  };
  const entry: HeldLock = { holder, pending: true };
  held.set(path, entry);
  try {
    Object.assign(holder, await identity());
    await makeDurableDir(dir);
    await linkLock(dir, path, holder, staleAfterMs);
    await syncDirectory(dir);
    await options.afterLinkForTest?.();
    const now = await readLockFile(dir);
    if (typeof now !== "object" || now.holder.nonce !== holder.nonce) {
      // A third process racing over the same stale lock moved ours aside and linked its own: it holds the directory.
      throw new DataDirLockedError(
        `${dir}: another process took its lock at the same moment (${typeof now === "object" ? describeHolder(now.holder) : (now ?? "no lock file")}); stop it first, or give this process another directory`,
      );
    }
  } catch (err) {
    held.delete(path);
    throw err;
  }
  entry.pending = false;
  installExitHook();
  let released = false;
  let lost = false;
  let refreshing = false;
  const refresh = async (): Promise<void> => {
    const handle = await open(path, fsConstants.O_RDONLY).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    });
    let now: DirLockHolder | "unreadable" | undefined;
    if (handle !== undefined) {
      try {
        // Read and touched through one descriptor: the file whose nonce is checked is the file refreshed.
        const buf = Buffer.alloc(lockFileBytesMax + 1);
        const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
        now = (bytesRead > lockFileBytesMax ? undefined : parseHolder(buf.toString("utf8", 0, bytesRead))) ?? "unreadable";
        if (typeof now === "object" && now.nonce === holder.nonce) {
          if (released) return;
          const t = new Date();
          await handle.utimes(t, t);
          return;
        }
      } finally {
        await handle.close();
      }
    }
    if (released) return;
    lost = true;
    clearInterval(timer);
    log.error(
      "this process lost its data-directory lock: another process may write the directory now; it must stop writing it at once (fail-stop) and be restarted once the other is stopped",
      { dir, holder: describeHolder(holder), lockNow: typeof now === "object" ? describeHolder(now) : (now ?? "no lock file") },
    );
    const onLost = options.onLost ?? lostHandler;
    onLost?.({ dir, holder, now });
  };
  const timer = setInterval(() => {
    if (refreshing || released || lost) return;
    refreshing = true;
    refresh()
      .catch((err: unknown) => {
        // An I/O error is not a loss: the next refresh tries again; past staleAfterMs an uncheckable reader may take over.
        log.warn("could not refresh the data-directory lock", { dir, error: String(err) });
      })
      .finally(() => (refreshing = false));
  }, refreshMs);
  timer.unref();
  return {
    dir,
    holder,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      held.delete(path);
      // Someone who judged us dead (wrongly) took it over: their lock is not ours to delete.
      await removeIfOwn(dir, path, holder.nonce, "released");
    },
  };
}

/** Links the lock file at `path`, taking over stale locks; raises DATA_DIR_LOCKED when the holder is live or unverifiable. */
async function linkLock(dir: string, path: string, holder: DirLockHolder, staleAfterMs: number): Promise<void> {
  const tmp = join(dir, `.${dirLockFileName}.${process.pid}.${holder.nonce}`);
  await writeSynced(tmp, JSON.stringify(holder) + "\n");
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmp, path);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new InternalError(`${dir}: cannot create its lock file ${dirLockFileName}`, { cause: err });
      }
      const other = await readLockFile(dir);
      if (other === undefined) continue; // released meanwhile: try again
      if (other === "unreadable") {
        throw new DataDirLockedError(`${dir} is locked by ${path}, which this version cannot read; if no sluice process uses ${dir}, delete that file and start again`);
      }
      const verdict = await holderVerdict(other, staleAfterMs);
      if (verdict.state === "live") {
        throw new DataDirLockedError(`${dir} is in use by ${describeHolder(other.holder)}; stop it first, or give this process another directory`);
      }
      if (verdict.state === "unknown") {
        const agoS = Math.round((verdict.refreshedAgoMs ?? 0) / 1000);
        throw new DataDirLockedError(
          `${dir} is locked by ${describeHolder(other.holder)}, which this host cannot check (another host, boot or pid namespace); ` +
            `its lock was refreshed ${agoS} s ago and counts as stale ${staleAfterMs / 1000} s after its last refresh: start again then, ` +
            `or, if that process no longer runs, delete ${path}`,
        );
      }
      if (attempt >= takeoverAttemptsMax) throw new DataDirLockedError(`${dir}: its stale lock kept changing hands; another process is starting on it`);
      const reason = verdict.refreshedAgoMs === undefined ? "its holder no longer runs" : `its holder cannot be checked and has not refreshed it for ${Math.round(verdict.refreshedAgoMs / 1000)} s`;
      await removeIfOwn(dir, path, other.holder.nonce, `took over a stale lock: ${reason}`, other.holder);
    }
  } finally {
    await unlink(tmp).catch((err: unknown) => log.warn("could not remove a temporary lock file", { file: tmp, error: String(err) }));
  }
}

/**
 * Moves the lock at `path` aside and deletes it if it is the one with `nonce` (a stale one being
 * taken over, or ours being released); what was moved by mistake (a racer's fresh lock, a
 * successor's) is linked back. `stale` set: a takeover, logged as a WARN with `what` and the old holder.
 */
async function removeIfOwn(dir: string, path: string, nonce: string, what: string, stale?: DirLockHolder): Promise<void> {
  const aside = join(dir, `.${dirLockFileName}.aside.${randomBytes(8).toString("hex")}`);
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return; // someone else removed it
    throw new InternalError(`${dir}: cannot remove its lock file (${what})`, { cause: err });
  }
  const moved = parseHolder(await readFile(aside, "utf8").catch(() => ""));
  if (moved?.nonce === nonce) {
    await unlink(aside);
    if (stale !== undefined) log.warn(what, { dir, holder: describeHolder(stale) });
    return;
  }
  // Another process took the lock between our read and our rename: put its lock back.
  try {
    await link(aside, path);
  } catch (err) {
    log.error("another process's lock was moved aside and a third took its place; both may think they hold the directory", { dir, file: aside, error: String(err) });
  }
  await unlink(aside);
}

/** removeIfOwn for the exit hook (no awaiting there). */
function removeIfOwnSync(path: string, nonce: string): void {
  const aside = join(dirname(path), `.${dirLockFileName}.exit.${process.pid}`);
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (parseHolder(readFileSync(aside, "utf8"))?.nonce !== nonce) linkSync(aside, path);
  unlinkSync(aside);
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
