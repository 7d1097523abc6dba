/**
 * Worker processes as the coordinator sees them: started with a `start` message, reporting stats
 * every second, stopped with a deadline. A worker that fails or exits on its own after it was
 * ready is recorded as a failure, which the coordinator turns into a failed run (never into a
 * figure of zero).
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { InternalError } from "../../common/index.js";
import type { FromWorker, ToWorker, WorkerStats } from "./messages.js";

const workerStartMs = 60_000;
const workerStopMs = 30_000;
const workerScript = fileURLToPath(new URL("./worker.ts", import.meta.url));

export class WorkerHandle {
  private readonly reports: WorkerStats[] = [];
  private stopping = false;
  /** Why the worker is no longer working, if it stopped without being asked. */
  failure: string | undefined;

  private constructor(
    private readonly proc: ChildProcess,
    private readonly exited: Promise<void>,
  ) {}

  /** Forks a worker and resolves once it reports ready; rejects (and kills it) otherwise. */
  static start(message: Extract<ToWorker, { type: "start" }>): Promise<WorkerHandle> {
    const proc = fork(workerScript, [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    const worker = new WorkerHandle(proc, exited);
    return new Promise((resolve, reject) => {
      let ready = false;
      const fail = (why: string) => {
        if (!ready) {
          clearTimeout(timer);
          proc.kill("SIGKILL");
          reject(new InternalError(`worker failed to start: ${why}`));
        } else if (!worker.stopping) {
          worker.failure ??= why;
        }
      };
      const timer = setTimeout(() => fail(`not ready within ${workerStartMs} ms`), workerStartMs);
      proc.on("message", (m: FromWorker) => {
        switch (m.type) {
          case "ready":
            ready = true;
            clearTimeout(timer);
            resolve(worker);
            return;
          case "stats":
            worker.reports.push(m);
            return;
          case "failed":
            fail(m.message);
            return;
          case "stopped":
            return;
        }
      });
      proc.on("error", (err) => fail(`process error: ${err.message}`));
      proc.once("exit", (code, signal) => fail(`exited (${signal ?? `code ${code}`})`));
      worker.send(message);
    });
  }

  /** Reports received since the last call. */
  takeReports(): WorkerStats[] {
    return this.reports.splice(0);
  }

  send(message: ToWorker): void {
    if (this.proc.connected) this.proc.send(message);
  }

  /** Asks the worker to stop; kills it if it has not exited within the deadline. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.send({ type: "stop" });
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), this.proc.connected ? workerStopMs : 0);
    await this.exited;
    clearTimeout(timer);
  }
}
