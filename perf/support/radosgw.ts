/**
 * Runs a real single-node Ceph cluster with an S3 gateway (ceph-mon, one bluestore ceph-osd on a
 * sparse file, radosgw) on 127.0.0.1 in a fresh folder, for the Tier-2 tests and benchmarks. Every
 * instance has its own fsid, ports, folder and config file (passed with `-c`, so nothing reads or
 * writes /etc/ceph or /var/lib/ceph), so several may run side by side. The daemons run in the
 * foreground as our children and are stopped by pid; stop() then removes the folder.
 *
 * Why the settings (each cost time to find): cephx is off (`auth ... required = none`) and the mon
 * client must use crc mode, or radosgw fails auth with -13; pools have one replica; the OSD's block
 * file is created sparse at its default place (a `bluestore block path` inside the OSD folder fails
 * with ELOOP). Paxos proposes every 10 ms instead of every second: radosgw makes its pools one map
 * change at a time, and this takes the start from ~19 s to ~4 s, with the OSD's mkfs overlapping
 * the mon's start and radosgw-admin waiting for the OSD to be up. ceph-mgr is not started: radosgw
 * serves S3 without it. radosgw's lifecycle threads are off: one sleeps 5 s at a time and held up
 * every stop by as much.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { appendFileSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { KiB, MiB, UnavailableError, assert, freePorts, isOnPath } from "../../common/index.js";

export const radosgwInstallHint =
  "apt-get install -y --no-install-recommends ceph-mon ceph-osd ceph-mgr radosgw ceph-common";
/** The programs a start runs, each checked on PATH before anything is made. */
const cephBinaries = ["monmaptool", "ceph-mon", "ceph-osd", "ceph", "radosgw-admin", "radosgw"] as const;

/** A start takes ~4 s here; a loaded machine running two starts at once gets fifteen times that. */
export const radosgwStartTimeoutMs = 60_000;
/** Each one-shot command (mkfs, osd new, user create) gets this long. */
const commandTimeoutMs = 30_000;
/** SIGTERM stops each daemon within a second or two; one still alive after this is killed. */
export const radosgwStopGraceMs = 10_000;
/** The sparse block file's size: the most object data one test cluster can hold. */
export const radosgwBlockBytesDefault = 8 * 1024 * MiB;
const pollMs = 50;
const httpProbeTimeoutMs = 1_000;
/** Only the tail of a daemon's log goes into an error message. */
const logTailBytesMax = 8 * KiB;
/** A port picked free a moment ago may be taken before the mon or radosgw binds it: start again. */
const startAttemptsMax = 3;

export interface RadosgwOptions {
  /** Folder in which the cluster's fresh folder is made (default: the OS temp folder). */
  dir?: string;
  /** Size of the sparse bluestore block file (default radosgwBlockBytesDefault). */
  blockBytes?: number;
}

export interface Radosgw {
  /** The S3 endpoint, `http://127.0.0.1:PORT`. */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** An empty bucket made for the caller. */
  bucket: string;
  /** Pids of ceph-mon, ceph-osd and radosgw. */
  pids: number[];
  /** The cluster's own folder, removed by stop(). */
  dir: string;
  /** SIGTERM to every daemon, SIGKILL after a grace; waits for the exits, then removes the folder. */
  stop(): Promise<void>;
}

/** Daemons of clusters still running, killed and their folders removed if the process exits without stop(). */
const live = new Map<string, Daemon[]>();
process.once("exit", () => {
  for (const [dir, daemons] of live) {
    for (const d of daemons) d.proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The 'exit' hook above does not run when this process is killed (a test runner's timeout), so each
 * cluster also has a detached shell that outlives us: once our pid is gone it SIGKILLs the daemons
 * listed in DIR/pids (each only if its command line still names DIR/ceph.conf) and removes DIR.
 */
const watchdogScript = `while kill -0 "$1" 2>/dev/null; do sleep 1; done
for p in $(cat "$2/pids" 2>/dev/null); do
  tr '\\0' ' ' < /proc/$p/cmdline 2>/dev/null | grep -qF "$2/ceph.conf" && kill -9 "$p"
done
rm -rf "$2"`;

function startWatchdog(dir: string): ChildProcess {
  const watchdog = spawn("sh", ["-c", watchdogScript, "sluice-radosgw-watchdog", String(process.pid), dir], { detached: true, stdio: "ignore" });
  watchdog.unref();
  return watchdog;
}

/**
 * Starts a fresh cluster and resolves once radosgw answers HTTP and the bucket exists. Rejects with
 * UnavailableError at once when a Ceph program is missing (naming the install command), and with the
 * tail of the failing daemon's log on any other failure, after removing everything it started.
 */
export async function startRadosgw(options: RadosgwOptions = {}): Promise<Radosgw> {
  for (const bin of cephBinaries) {
    if (!isOnPath(bin)) throw new UnavailableError(`${bin} is not installed: run ${radosgwInstallHint} (as root)`);
  }
  let lastError: unknown;
  for (let attempt = 1; attempt <= startAttemptsMax; attempt++) {
    const dir = await mkdtemp(join(options.dir ?? tmpdir(), "sluice-radosgw-"));
    const daemons: Daemon[] = [];
    live.set(dir, daemons);
    const watchdog = startWatchdog(dir);
    const stop = async () => {
      await stopDaemons(daemons);
      live.delete(dir);
      await rm(dir, { recursive: true, force: true });
      watchdog.kill();
    };
    try {
      return await startIn(dir, daemons, options.blockBytes ?? radosgwBlockBytesDefault, stop);
    } catch (err) {
      lastError = err;
      await stop();
      if (!(err instanceof PortTakenError)) throw err;
    }
  }
  throw new UnavailableError(`radosgw found no free ports in ${startAttemptsMax} attempts`, { cause: lastError });
}

/** A daemon could not bind the port picked for it. */
class PortTakenError extends UnavailableError {}

async function startIn(dir: string, daemons: Daemon[], blockBytes: number, stop: () => Promise<void>): Promise<Radosgw> {
  const deadlineMs = Date.now() + radosgwStartTimeoutMs;
  const [monPort, rgwPort] = await freePorts(2);
  assert(monPort !== undefined && rgwPort !== undefined, "freePorts returns the count asked for");
  const fsid = randomUUID();
  const conf = join(dir, "ceph.conf");
  await Promise.all(["run", "log", "mon", join("osd", "ceph-0")].map((d) => mkdir(join(dir, d), { recursive: true })));
  await writeFile(conf, cephConf(dir, fsid, monPort, rgwPort, blockBytes));
  const c = ["-c", conf];

  await command(dir, "monmaptool", ["--create", "--fsid", fsid, "--addv", "a", `[v2:127.0.0.1:${monPort}]`, join(dir, "monmap")]);
  // Formatting the OSD (the slowest step, ~1.5 s) needs only the config, so it overlaps the mon's start.
  const osdUuid = randomUUID();
  // Its outcome is held as a value so that an early failure is not an unhandled rejection meanwhile.
  const osdMkfs = command(dir, "ceph-osd", [...c, "-i", "0", "--mkfs", "--osd-uuid", osdUuid], "ceph-osd.0.log")
    .then(() => undefined, (err: unknown) => (err instanceof Error ? err : new Error(String(err))));
  try {
    await command(dir, "ceph-mon", [...c, "--mkfs", "-i", "a", "--monmap", join(dir, "monmap")], "ceph-mon.a.log");
    daemons.push(spawnDaemon(dir, "ceph-mon", [...c, "-f", "-i", "a"], "ceph-mon.a.log"));
    await whileRunning(daemons, command(dir, "ceph", [...c, "--connect-timeout", "20", "osd", "new", osdUuid, "0"], "ceph-mon.a.log"));
  } finally {
    // Never leave the mkfs running behind a failed step (its folder is about to be removed).
    await osdMkfs;
  }
  const mkfsError = await osdMkfs;
  if (mkfsError !== undefined) throw mkfsError;
  const osd = spawnDaemon(dir, "ceph-osd", [...c, "-f", "-i", "0"], "ceph-osd.0.log");
  daemons.push(osd);
  // Pools made before the OSD is up wait seconds longer for their placement groups than pools made
  // after; the OSD logs this line once the mon has marked it up (cheaper to watch than `ceph osd stat`).
  await poll(daemons, deadlineMs, () => logHas(join(dir, "log", "ceph-osd.0.log"), "state: booting -> active"),
    async () => `ceph-osd did not come up within ${radosgwStartTimeoutMs} ms: ${await osd.tail()}`);

  const accessKeyId = "SLUICE" + randomBytes(7).toString("hex").toUpperCase();
  const secretAccessKey = randomBytes(20).toString("hex");
  // radosgw-admin makes the zone, its pools and the S3 user.
  await whileRunning(daemons, command(dir, "radosgw-admin", [...c, "user", "create", "--uid=sluice", "--display-name=sluice",
    `--access-key=${accessKeyId}`, `--secret=${secretAccessKey}`], "ceph-client.admin.log"));
  const rgw = spawnDaemon(dir, "radosgw", [...c, "-f", "-n", "client.rgw.a"], "ceph-client.rgw.a.log");
  daemons.push(rgw);
  const endpoint = `http://127.0.0.1:${rgwPort}`;
  await poll(daemons, deadlineMs, () => answersHttp(rgwPort),
    async () => `radosgw did not answer on ${endpoint} within ${radosgwStartTimeoutMs} ms: ${await rgw.tail()}`);

  const bucket = "sluice-" + randomBytes(4).toString("hex");
  const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    throw new UnavailableError(`radosgw at ${endpoint} did not create bucket ${bucket}: ${err instanceof Error ? err.message : String(err)}\n${await rgw.tail()}`, { cause: err });
  } finally {
    s3.destroy();
  }
  const pids = daemons.map((d) => d.pid);
  let stopping: Promise<void> | undefined;
  return {
    endpoint, accessKeyId, secretAccessKey, bucket, pids, dir,
    stop: () => (stopping ??= stop()),
  };
}

function cephConf(dir: string, fsid: string, monPort: number, rgwPort: number, blockBytes: number): string {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
public network = 127.0.0.0/8
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
run dir = ${dir}/run
admin socket = ${dir}/run/$cluster-$name.asok
pid file = ${dir}/run/$cluster-$name.pid
log file = ${dir}/log/$cluster-$name.log
crash dir = ${dir}/crash
mon data = ${dir}/mon/$cluster-$id
osd data = ${dir}/osd/$cluster-$id
paxos propose interval = 0.01
paxos min wait = 0.001
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd objectstore = bluestore
osd memory target = 939524096
bluestore block create = true
bluestore block size = ${blockBytes}
bluestore fsck on mkfs = false
bluestore fsck on mount = false
[client.rgw.a]
rgw enable lc threads = false
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
`;
}

interface Daemon {
  name: string;
  proc: ChildProcess;
  pid: number;
  exited: Promise<void>;
  hasExited(): boolean;
  /** The daemon's stderr and the tail of its log file, for error messages. */
  tail(): Promise<string>;
}

function spawnDaemon(dir: string, bin: string, args: string[], logName: string): Daemon {
  const proc = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
  if (proc.pid !== undefined) appendFileSync(join(dir, "pids"), `${proc.pid}\n`);
  let stderr = "";
  proc.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-logTailBytesMax);
  });
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => {
    proc.once("exit", () => {
      exited = true;
      resolve();
    });
    proc.once("error", (err) => {
      stderr += `spawn failed: ${err.message}\n`;
      exited = true;
      resolve();
    });
  });
  return {
    name: bin,
    proc,
    // A failed spawn has no pid; its 'error' marks it exited, which the start notices next.
    pid: proc.pid ?? -1,
    exited: exitedPromise,
    hasExited: () => exited,
    tail: async () => `${bin} stderr: ${stderr.trim()}\n${bin} log tail: ${await logTail(join(dir, "log", logName))}`,
  };
}

/** Resolves with `work`, or rejects at once, naming the daemon and its log, if any daemon has exited meanwhile. */
async function whileRunning<T>(daemons: readonly Daemon[], work: Promise<T>): Promise<T> {
  const died = daemons.map(async (d) => {
    await d.exited;
    const log = await d.tail();
    const taken = /Address already in use|bind unable to bind/i.test(log);
    const message = `${d.name} (pid ${d.pid}) exited during the cluster start: ${log}`;
    throw taken ? new PortTakenError(message) : new UnavailableError(message);
  });
  const dead = daemons.find((d) => d.hasExited());
  if (dead !== undefined) await Promise.race(died);
  try {
    return await Promise.race([work, ...died]);
  } finally {
    // The losing watchers reject later (at stop); they are handled here so none goes unobserved.
    for (const p of died) p.catch(() => undefined);
  }
}

/** Resolves once `ready()` is true; rejects if a daemon exits first or the deadline passes. */
async function poll(daemons: readonly Daemon[], deadlineMs: number, ready: () => Promise<boolean>, late: () => Promise<string>): Promise<void> {
  for (;;) {
    if (await whileRunning(daemons, ready())) return;
    if (Date.now() >= deadlineMs) throw new UnavailableError(await late());
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Runs a one-shot Ceph command; on failure the error carries its output and the tail of `logName`. */
function command(dir: string, bin: string, args: string[], logName?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: commandTimeoutMs, maxBuffer: 1024 * KiB }, (err, stdout, stderr) => {
      if (err === null) {
        resolve();
        return;
      }
      void (async () => {
        const log = logName === undefined ? "" : `\nlog tail (${logName}): ${await logTail(join(dir, "log", logName))}`;
        const output = `${stdout}${stderr}`.slice(-logTailBytesMax).trim();
        reject(new UnavailableError(`${bin} ${args.filter((a) => !a.startsWith("--secret")).join(" ")} failed: ${err.message}\n${output}${log}`));
      })();
    });
  });
}

async function logHas(path: string, text: string): Promise<boolean> {
  try {
    return (await readFile(path, "utf8")).includes(text);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

async function logTail(path: string): Promise<string> {
  try {
    const file = await open(path, "r");
    try {
      const { size } = await file.stat();
      const length = Math.min(size, logTailBytesMax);
      const buf = Buffer.alloc(length);
      await file.read(buf, 0, length, size - length);
      return buf.toString().trim();
    } finally {
      await file.close();
    }
  } catch (err) {
    return `(no log: ${err instanceof Error ? err.message : String(err)})`;
  }
}

/**
 * SIGTERM to radosgw, then the OSD, then the mon, each after the one before has exited: radosgw's
 * shutdown talks to the OSD (it hung until killed when both were stopped at once) and the OSD's says
 * goodbye to the mon. Each gets radosgwStopGraceMs before SIGKILL.
 */
async function stopDaemons(daemons: readonly Daemon[]): Promise<void> {
  for (const name of ["radosgw", "ceph-osd", "ceph-mon"]) {
    await Promise.all(daemons.filter((d) => d.name === name).map((d) => terminate(d)));
  }
}

async function terminate(d: Daemon): Promise<void> {
  if (d.hasExited()) return;
  d.proc.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), radosgwStopGraceMs);
  });
  const timedOut = await Promise.race([d.exited.then(() => false), graceOver]);
  clearTimeout(timer);
  if (timedOut) {
    d.proc.kill("SIGKILL");
    await d.exited;
  }
}

/** One anonymous GET / (radosgw answers 200 with an empty bucket list); a refusal is "not yet". */
function answersHttp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/", method: "GET", timeout: httpProbeTimeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolve(false));
    req.end();
  });
}
