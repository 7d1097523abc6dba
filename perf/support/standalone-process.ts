/**
 * Runs `sluice standalone` (or another role) as a real child process on 127.0.0.1 with ephemeral ports, for tests
 * that need process boundaries (SIGKILL durability, bad clients). The child is stopped by its pid.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

export const sluiceBin = fileURLToPath(new URL("../../bin/sluice.ts", import.meta.url));

/** Arguments to run a TypeScript entry point with this Node. */
export function tsNodeArgs(script: string, args: readonly string[]): string[] {
  return ["--import", "tsx", script, ...args];
}

const startTimeoutMs = 60_000;
const stopGraceMs = 15_000;

export interface SluiceProcess {
  proc: ChildProcess;
  /** The line the role printed once ready ("sluice ROLE ready: ..."). */
  readyLine: string;
  /** Everything the child wrote to stderr so far. */
  stderr(): string;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (graceful), and wait for the exit. */
  stop(): Promise<void>;
}

export interface StandaloneProcess extends SluiceProcess {
  controllerUri: string;
  controllerPort: number;
  segmentStorePort: number;
}

/** Starts `sluice ROLE ARGS...` and waits for its ready line (60 s at most; a child that fails to start is killed). */
export async function startSluiceProcess(role: "standalone" | "controller" | "segmentstore" | "lognode", args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<SluiceProcess> {
  const proc = spawn(process.execPath, tsNodeArgs(sluiceBin, [role, ...args]), { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let err = "";
  proc.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const readyLine = await new Promise<string>((resolve, reject) => {
    const fail = (why: Error) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      reject(why);
    };
    const lines = createInterface({ input: proc.stdout });
    const timer = setTimeout(() => fail(new Error(`sluice ${role} did not start in 60 s: ${err}`)), startTimeoutMs);
    lines.on("line", (line) => {
      if (line.startsWith(`sluice ${role} ready`)) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`sluice ${role} exited with ${code}: ${err}`));
    });
  });
  return {
    proc,
    readyLine,
    stderr: () => err,
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      // A server that hangs on shutdown is killed after a grace period.
      const timer = setTimeout(() => proc.kill("SIGKILL"), stopGraceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function startStandaloneProcess(dataDir: string, extra: readonly string[] = []): Promise<StandaloneProcess> {
  const p = await startSluiceProcess("standalone", ["--data-dir", dataDir, "--controller-port", "0", "--segmentstore-port", "0", ...extra]);
  const m = /controller tcp:\/\/127\.0\.0\.1:(\d+) segmentstore tcp:\/\/127\.0\.0\.1:(\d+)/.exec(p.readyLine);
  if (m === null) {
    await p.kill();
    throw new Error(`unexpected ready line: ${p.readyLine}`);
  }
  const controllerPort = Number(m[1]);
  return { ...p, controllerUri: `tcp://127.0.0.1:${controllerPort}`, controllerPort, segmentStorePort: Number(m[2]) };
}

/** Free 127.0.0.1 ports, for a restart on the same ports. */
export { freePorts } from "../../common/index.js";
