/**
 * Test and development support: runs a real single-node etcd as a child process on 127.0.0.1, in a
 * fresh data folder (or a given one), with a short heartbeat and election timeout so etcd's minimum
 * lease TTL is below one second and a 1 s lease really lives about a second. The child can be
 * stopped (SIGTERM), killed (SIGKILL, data kept) and restarted on the same ports and data, which is
 * how tests cut a store's connection. A child never outlives this process: it is killed on 'exit'.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KiB, UnavailableError, assert, freePorts, isOnPath } from "../../common/index.js";

const etcdBin = "etcd";
export const etcdInstallCommand = "apt-get install -y --no-install-recommends etcd-server etcd-client";

/** A fresh single node is healthy in well under a second; 15 s leaves room for a loaded machine. */
export const etcdStartTimeoutMs = 15_000;
/** SIGTERM makes etcd sync and exit at once; a server still alive after this is killed. */
export const etcdStopGraceMs = 5_000;
const healthPollIntervalMs = 50;
const healthRequestTimeoutMs = 1_000;
/** The free ports are released before etcd binds them, so another process may take one: retry. */
const startAttemptsMax = 3;
/** How long a failed start waits for the rest of etcd's stderr. */
const stderrDrainMs = 1_000;
/** Only the tail of etcd's log is kept, for error messages. */
const stderrTailBytesMax = 64 * KiB;
/** Raft timing: ten heartbeats per election timeout, as etcd recommends; min lease TTL = 1.5 elections. */
const heartbeatIntervalMs = 10;
const electionTimeoutMs = 100;

export interface EtcdServerOptions {
  /** Data folder to use (kept by stop()); default: a fresh folder under the OS temp folder, removed by stop(). */
  dataDir?: string;
}

export interface EtcdServer {
  /** "127.0.0.1:PORT", the client endpoint. */
  readonly endpoint: string;
  /** "etcd://127.0.0.1:PORT", the form EtcdMetadataStore.connect takes. */
  readonly url: string;
  /** The pid of the running child (changes on restart()). */
  readonly pid: number;
  readonly dataDir: string;
  /** SIGTERM, then SIGKILL after etcdStopGraceMs; waits for the exit; removes the data folder if it made it. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit; the data folder is kept for restart(). */
  kill(): Promise<void>;
  /** Starts etcd again on the same ports and data folder; resolves once it is healthy. */
  restart(): Promise<void>;
}

/** True when `etcd` is an executable on PATH. */
export function etcdInstalled(): boolean {
  return isOnPath(etcdBin);
}

/** Starts a single-node etcd on free 127.0.0.1 ports and resolves once /health answers true. */
export async function startEtcd(options: EtcdServerOptions = {}): Promise<EtcdServer> {
  if (!etcdInstalled()) {
    throw new UnavailableError(`etcd is not installed (not on PATH): run ${etcdInstallCommand} (as root)`);
  }
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "sluice-etcd-")));
  if (ownsDataDir) ownedDataDirs.add(dataDir);
  let lastError: unknown;
  try {
    for (let attempt = 1; attempt <= startAttemptsMax; attempt++) {
      const [clientPort, peerPort] = await freePorts(2);
      assert(clientPort !== undefined && peerPort !== undefined, "freePorts returns the count asked for");
      const config: EtcdConfig = { name: `sluice-${clientPort}`, dataDir, clientPort, peerPort };
      try {
        const child = await launch(config);
        return new EtcdServerProcess(config, ownsDataDir, child);
      } catch (err) {
        lastError = err;
        if (!(err instanceof PortTakenError)) throw err;
      }
    }
    throw new UnavailableError(`etcd found no free ports in ${startAttemptsMax} attempts`, { cause: lastError });
  } catch (err) {
    if (ownsDataDir) await removeOwnedDataDir(dataDir);
    throw err;
  }
}

interface EtcdConfig {
  name: string;
  dataDir: string;
  clientPort: number;
  peerPort: number;
}

/** One running etcd child and the promise of its exit. */
interface Child {
  proc: ChildProcess;
  pid: number;
  exited: Promise<void>;
}

class EtcdServerProcess implements EtcdServer {
  readonly endpoint: string;
  readonly url: string;
  readonly dataDir: string;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly config: EtcdConfig,
    private readonly ownsDataDir: boolean,
    private child: Child | undefined,
  ) {
    this.endpoint = `127.0.0.1:${config.clientPort}`;
    this.url = `etcd://${this.endpoint}`;
    this.dataDir = config.dataDir;
  }

  get pid(): number {
    assert(this.child !== undefined, "etcd is running");
    return this.child.pid;
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.child !== undefined) await terminate(this.child);
      this.child = undefined;
      if (this.ownsDataDir) await removeOwnedDataDir(this.dataDir);
    })();
    return this.stopping;
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.proc.ref();
    child.proc.kill("SIGKILL");
    await child.exited;
    this.child = undefined;
  }

  async restart(): Promise<void> {
    if (this.stopping !== undefined) throw new Error("etcd was stopped; start a new one instead of restart()");
    if (this.child !== undefined) await terminate(this.child);
    this.child = undefined;
    this.child = await launch(this.config);
  }
}

/** The chosen port was taken between freePorts() and etcd binding it. */
class PortTakenError extends Error {}

/** Spawns etcd and waits for health; on failure the child is gone and the error carries its stderr tail. */
async function launch(config: EtcdConfig): Promise<Child> {
  const clientUrl = `http://127.0.0.1:${config.clientPort}`;
  const peerUrl = `http://127.0.0.1:${config.peerPort}`;
  const args = [
    "--name", config.name,
    "--data-dir", config.dataDir,
    "--listen-client-urls", clientUrl,
    "--advertise-client-urls", clientUrl,
    "--listen-peer-urls", peerUrl,
    "--initial-advertise-peer-urls", peerUrl,
    "--initial-cluster", `${config.name}=${peerUrl}`,
    "--initial-cluster-state", "new",
    "--heartbeat-interval", String(heartbeatIntervalMs),
    "--election-timeout", String(electionTimeoutMs),
    "--logger", "zap",
    "--log-outputs", "stderr",
  ];
  const proc = spawn(etcdBin, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderrTail = "";
  const keepTail = (chunk: Buffer): void => {
    stderrTail += chunk.toString();
    if (stderrTail.length > stderrTailBytesMax) stderrTail = stderrTail.slice(-stderrTailBytesMax);
  };
  proc.stderr.on("data", keepTail);
  const stderrClosed = new Promise<void>((resolve) => proc.stderr.once("close", resolve));
  let hasExited = false;
  const exited = new Promise<void>((resolve) => {
    proc.once("exit", () => {
      hasExited = true;
      liveChildren.delete(proc);
      resolve();
    });
    // A spawn failure (ENOENT after the PATH check, EACCES) emits 'error' and no 'exit'.
    proc.once("error", (err) => {
      keepTail(Buffer.from(`spawn failed: ${err.message}\n`));
      hasExited = true;
      liveChildren.delete(proc);
      resolve();
    });
  });
  liveChildren.add(proc);
  ensureExitHook();

  const deadlineMs = Date.now() + etcdStartTimeoutMs;
  for (;;) {
    if (hasExited) {
      // 'exit' can come before the last of stderr: give the pipe a moment to drain into the tail.
      await Promise.race([stderrClosed, new Promise((resolve) => setTimeout(resolve, stderrDrainMs))]);
      if (/address already in use/i.test(stderrTail)) throw new PortTakenError(stderrTail);
      throw new UnavailableError(`etcd exited before it was healthy; stderr tail:\n${stderrTail}`);
    }
    if (await healthy(config.clientPort)) break;
    if (Date.now() >= deadlineMs) {
      const child = { proc, pid: proc.pid ?? -1, exited };
      await terminate(child);
      throw new UnavailableError(`etcd was not healthy within ${etcdStartTimeoutMs} ms; stderr tail:\n${stderrTail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, healthPollIntervalMs));
  }
  assert(proc.pid !== undefined, "a spawned process that answers /health has a pid");
  // A running etcd does not keep this process alive (a test that forgets stop() still ends, and the
  // exit hook kills the child); waits on its exit ref it again (see terminate and kill).
  proc.unref();
  (proc.stderr as Socket).unref();
  return { proc, pid: proc.pid, exited };
}

async function terminate(child: Child): Promise<void> {
  const { proc, exited } = child;
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.ref();
  proc.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), etcdStopGraceMs);
  });
  const timedOut = await Promise.race([exited.then(() => false), graceOver]);
  clearTimeout(timer);
  if (timedOut) {
    proc.kill("SIGKILL");
    await exited;
  }
}

/** One GET /health; true on {"health":"true"}. A refused or slow request is simply "not yet". */
async function healthy(clientPort: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${clientPort}/health`, { signal: AbortSignal.timeout(healthRequestTimeoutMs) });
    if (!res.ok) return false;
    const body: unknown = await res.json();
    return typeof body === "object" && body !== null && (body as { health?: unknown }).health === "true";
  } catch {
    // Refused, reset or timed out while etcd starts: the caller polls again until its deadline.
    return false;
  }
}

/** Children still running, and the data folders startEtcd made; killed and removed when this process exits. */
const liveChildren = new Set<ChildProcess>();
const ownedDataDirs = new Set<string>();
let exitHookInstalled = false;

async function removeOwnedDataDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  ownedDataDirs.delete(dir);
}

function ensureExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const proc of liveChildren) proc.kill("SIGKILL");
    // etcd preallocates 64 MiB WAL files, so a folder left behind costs real disk; only sync calls work here.
    for (const dir of ownedDataDirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch (err) {
        process.stderr.write(`could not remove etcd data folder ${dir}: ${String(err)}\n`);
      }
    }
  });
}
