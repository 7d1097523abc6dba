/**
 * Runs a real `redis-server` as a child process on 127.0.0.1, configured as the durable peer of the
 * benchmarks (append-only file, fsync before every reply), for tests and runs that measure Redis
 * Streams beside Sluice. The child is stopped by its pid and its data folder is removed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KiB, UnavailableError, assert, freePorts, isOnPath } from "../../common/index.js";

const redisServerBin = "redis-server";
export const redisServerInstallHint =
  "redis-server is not installed: run apt-get install -y --no-install-recommends redis-server (as root)";

/** A fresh server answers PING in well under a second; ten leaves room for a loaded machine. */
export const redisStartTimeoutMs = 10_000;
const pingIntervalMs = 50;
const pingTimeoutMs = 1_000;
/** SIGTERM makes Redis fsync and exit at once; a server still alive after this is killed. */
export const redisStopGraceMs = 5_000;
/** The free port is released before Redis binds it, so another process may take it meanwhile: retry. */
const startAttemptsMax = 3;
/** Only the tail of the server's log is kept, for error messages. */
const logTailBytesMax = 16 * KiB;

export interface RedisServerOptions {
  /** Folder in which the server's fresh data folder is made (default: the OS temp folder). */
  dir?: string;
}

export interface RedisServer {
  port: number;
  pid: number;
  /** The server's own data folder, removed by stop(). */
  dir: string;
  /** SIGTERM, then SIGKILL after a grace; waits for the exit, then removes the data folder. */
  stop(): Promise<void>;
}

/** True when `redis-server` is an executable on PATH. */
export function redisServerInstalled(): boolean {
  return isOnPath(redisServerBin);
}

/**
 * Starts a durable redis-server on a free 127.0.0.1 port in a fresh data folder and resolves once it
 * answers PING. Fails with UnavailableError when redis-server is not installed, exits early, or does
 * not answer within redisStartTimeoutMs.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  if (!redisServerInstalled()) throw new UnavailableError(redisServerInstallHint);
  const dir = await mkdtemp(join(options.dir ?? tmpdir(), "sluice-redis-"));
  let lastError: unknown;
  try {
    for (let attempt = 1; attempt <= startAttemptsMax; attempt++) {
      const [port] = await freePorts(1);
      assert(port !== undefined, "freePorts returns the count asked for");
      try {
        return await startOn(port, dir);
      } catch (err) {
        lastError = err;
        if (!(err instanceof PortTakenError)) throw err;
      }
    }
    throw new UnavailableError(`redis-server found no free port in ${startAttemptsMax} attempts`, { cause: lastError });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The chosen port was taken between freePorts() and Redis binding it. */
class PortTakenError extends Error {}

async function startOn(port: number, dir: string): Promise<RedisServer> {
  const args = [
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--dir", dir,
    "--appendonly", "yes",
    "--appendfsync", "always",
    "--save", "",
    "--protected-mode", "no",
    "--daemonize", "no",
  ];
  const proc = spawn(redisServerBin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const keepTail = (chunk: Buffer) => {
    log += chunk.toString();
    if (log.length > logTailBytesMax) log = log.slice(-logTailBytesMax);
  };
  proc.stdout.on("data", keepTail);
  proc.stderr.on("data", keepTail);
  let hasExited = false;
  const exited = new Promise<void>((resolve) => {
    proc.once("exit", () => {
      hasExited = true;
      resolve();
    });
    // A spawn failure (ENOENT after the PATH check, EACCES) emits 'error' and no 'exit'.
    proc.once("error", (err) => {
      keepTail(Buffer.from(`spawn failed: ${err.message}\n`));
      hasExited = true;
      resolve();
    });
  });

  const pid = proc.pid;
  const deadlineMs = Date.now() + redisStartTimeoutMs;
  for (;;) {
    if (hasExited) {
      if (/Address already in use/i.test(log)) throw new PortTakenError(log);
      throw new UnavailableError(`redis-server exited before answering PING: ${log}`);
    }
    if (await answersPing(port)) break;
    if (Date.now() >= deadlineMs) {
      await terminate(proc, exited);
      throw new UnavailableError(`redis-server did not answer PING within ${redisStartTimeoutMs} ms: ${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, pingIntervalMs));
  }
  assert(pid !== undefined, "a spawned process that answers PING has a pid");

  let stopping: Promise<void> | undefined;
  return {
    port,
    pid,
    dir,
    stop() {
      stopping ??= (async () => {
        await terminate(proc, exited);
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

async function terminate(proc: ChildProcess, exited: Promise<void>): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), redisStopGraceMs);
  });
  const timedOut = await Promise.race([exited.then(() => false), graceOver]);
  clearTimeout(timer);
  if (timedOut) {
    proc.kill("SIGKILL");
    await exited;
  }
}

/** One RESP PING on a fresh socket; true on +PONG. A refused or silent socket is simply "not yet". */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let reply = "";
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), pingTimeoutMs);
    socket.once("connect", () => socket.write("*1\r\n$4\r\nPING\r\n"));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
    socket.once("error", () => done(false));
    socket.once("close", () => done(false));
  });
}
