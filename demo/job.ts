/**
 * The scaling job as a child process: io.sluice.demo.ScalingDemoJob (or a stand-in script) whose
 * stdout is one JSON object per line (the interface of notes/brief-21.md). Lines are parsed as they
 * come and handed to `onMessage`; a line that is not one of the known messages fails the job
 * (INTERNAL): the demo must not chart what it cannot read. The job stops when its stdin is
 * closed (`finish`), draining into the output; `kill` stops it by its pid.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { InternalError, TimeoutError } from "../common/index.js";

export type JobMessage =
  | { type: "started"; timeMs: number; jobId: string; restUrl: string; parallelism: number }
  | { type: "sample"; timeMs: number; segments: number; requested: number; observed: number; running: boolean }
  | { type: "rescale"; timeMs: number; from: number; to: number; segmentsChangedAtMs: number; requestedAtMs: number; runningAtMs: number; pauseMs: number }
  | { type: "audit"; keys: number; outOfOrder: number; duplicates: number; gaps: number }
  | { type: "stopped"; timeMs: number };

const numberFields: Record<JobMessage["type"], readonly string[]> = {
  started: ["timeMs", "parallelism"],
  sample: ["timeMs", "segments", "requested", "observed"],
  rescale: ["timeMs", "from", "to", "segmentsChangedAtMs", "requestedAtMs", "runningAtMs", "pauseMs"],
  audit: ["keys", "outOfOrder", "duplicates", "gaps"],
  stopped: ["timeMs"],
};

/** One stdout line as a JobMessage. Raises INTERNAL for anything else. */
export function parseJobLine(line: string): JobMessage {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new InternalError(`job printed a line that is not JSON: ${line.slice(0, 200)}`, { cause: err });
  }
  if (typeof value !== "object" || value === null) throw new InternalError(`job printed a non-object: ${line.slice(0, 200)}`);
  const o = value as Record<string, unknown>;
  const type = o["type"];
  if (typeof type !== "string" || !(type in numberFields)) throw new InternalError(`job printed an unknown message type: ${line.slice(0, 200)}`);
  for (const f of numberFields[type as JobMessage["type"]]) {
    if (typeof o[f] !== "number" || !Number.isFinite(o[f])) throw new InternalError(`job's ${type} message lacks a numeric ${f}: ${line.slice(0, 200)}`);
  }
  if (type === "sample" && typeof o["running"] !== "boolean") throw new InternalError(`job's sample message lacks running: ${line.slice(0, 200)}`);
  if (type === "started" && (typeof o["jobId"] !== "string" || typeof o["restUrl"] !== "string")) throw new InternalError(`job's started message lacks jobId or restUrl: ${line.slice(0, 200)}`);
  return value as JobMessage;
}

/** Bytes of the job's stderr kept for error messages. */
const stderrKeptBytesMax = 64 * 1024;
/** Grace between SIGTERM and SIGKILL in `kill`. */
const killGraceMs = 10_000;

export class JobProcess {
  private stderrText = "";
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private failure: Error | undefined;
  private readonly waiters: { check: () => boolean; resolve: () => void }[] = [];
  readonly messages: JobMessage[] = [];

  /** Spawns `cmd args` with piped stdio; each parsed line goes to `onMessage` and `messages`. */
  constructor(
    cmd: string,
    args: readonly string[],
    private readonly onMessage: (m: JobMessage, line: string) => void,
  ) {
    this.proc = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.proc.stderr!.on("data", (c: Buffer) => {
      this.stderrText = (this.stderrText + c.toString()).slice(-stderrKeptBytesMax);
    });
    // A job that exits early closes the pipe; writing to it then must not crash the demo.
    this.proc.stdin!.on("error", () => undefined);
    createInterface({ input: this.proc.stdout! }).on("line", (line) => {
      if (line.trim() === "") return;
      try {
        const m = parseJobLine(line);
        this.messages.push(m);
        this.onMessage(m, line);
      } catch (err) {
        this.failure ??= err as Error;
      }
      this.wake();
    });
    // "close", not "exit": it comes after the job's stdout has ended, so every line it printed has been handled.
    this.exited = new Promise((resolve) => {
      this.proc.once("close", (code, signal) => {
        this.closed = true;
        resolve({ code, signal });
        this.wake();
      });
      this.proc.once("error", (err) => {
        this.failure ??= err;
        this.closed = true;
        resolve({ code: null, signal: null });
        this.wake();
      });
    });
  }

  private readonly proc: ChildProcess;

  get pid(): number | undefined {
    return this.proc.pid;
  }

  stderr(): string {
    return this.stderrText;
  }

  private closed = false;

  /** Until the job has exited and its output has been read to the end. */
  private get running(): boolean {
    return !this.closed;
  }

  private wake(): void {
    for (const w of [...this.waiters]) {
      if (w.check()) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  /**
   * Resolves with the first message of `type` (one already received counts). Raises INTERNAL
   * for a bad line, INTERNAL when the job exits first (its stderr in the message), TIMEOUT after `timeoutMs`.
   */
  async waitFor<T extends JobMessage["type"]>(type: T, timeoutMs: number): Promise<Extract<JobMessage, { type: T }>> {
    const find = () => this.messages.find((m): m is Extract<JobMessage, { type: T }> => m.type === type);
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      const check = () => find() !== undefined || this.failure !== undefined || !this.running;
      if (check()) return resolve();
      this.waiters.push({ check, resolve });
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    const found = find();
    if (found !== undefined) return found;
    if (this.failure !== undefined) throw this.failure;
    if (!this.running) throw new InternalError(`job exited (code ${this.proc.exitCode ?? this.proc.signalCode}) before printing ${type}: ${this.stderrText.slice(-4000)}`);
    throw new TimeoutError(`job printed no ${type} message within ${timeoutMs} ms`);
  }

  /** The first failure so far (a bad line, or the job exited while it should run), or undefined. */
  problem(): Error | undefined {
    if (this.failure !== undefined) return this.failure;
    if (!this.running && !this.messages.some((m) => m.type === "stopped")) {
      return new InternalError(`job exited (code ${this.proc.exitCode ?? this.proc.signalCode}) while it should run: ${this.stderrText.slice(-4000)}`);
    }
    return undefined;
  }

  /** Closes the job's stdin (it drains and stops) and waits for its exit, at most `timeoutMs` (then kills it). Returns its exit code. */
  async finish(timeoutMs: number): Promise<number | null> {
    this.proc.stdin!.end();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
    const r = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (r === "timeout") {
      await this.kill();
      throw new TimeoutError(`job did not stop within ${timeoutMs} ms of its stdin closing: ${this.stderrText.slice(-4000)}`);
    }
    return r.code;
  }

  /** SIGTERM by pid, SIGKILL after a grace period; waits for the exit. */
  async kill(): Promise<void> {
    if (!this.running) return;
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
      await this.exited;
      return;
    }
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), killGraceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
