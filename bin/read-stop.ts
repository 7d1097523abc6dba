/**
 * How `sluice read` stops and prints: SIGINT, SIGTERM and a closed stdout ask it to stop (so it
 * closes its reader, recording its position, and deletes a temporary group), and each event is
 * printed honouring stdout's backpressure.
 */
import { once } from "node:events";

/** SIGINT, SIGTERM and a closed stdout (EPIPE: `sluice read ... | head`) ask the run to stop. */
export class Stop {
  requested = false;
  /** stdout failed other than by its reader going away; raised once the run is cleaned up. */
  error: Error | undefined;
  /** stdout is gone: nothing more can be printed. */
  outputGone = false;
  private readonly listeners = new Set<() => void>();
  private readonly onSignal = () => this.request();

  constructor() {
    // Once: a second Ctrl-C while the run cleans up ends the process at once.
    process.once("SIGINT", this.onSignal);
    process.once("SIGTERM", this.onSignal);
    // Kept for the life of the process: a late EPIPE must not crash it.
    process.stdout.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") this.error ??= err;
      this.outputGone = true;
      this.request();
    });
  }

  request(): void {
    if (this.requested) return;
    this.requested = true;
    for (const listener of this.listeners) listener();
  }

  onStop(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when `p` settles or a stop is asked for. */
  until(p: Promise<unknown>): Promise<void> {
    if (this.requested) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        off();
        resolve();
      };
      const off = this.onStop(done);
      p.then(done, done);
    });
  }

  /** Stops listening for signals: the run is over. */
  remove(): void {
    process.off("SIGINT", this.onSignal);
    process.off("SIGTERM", this.onSignal);
  }
}

/** Prints one line, honouring backpressure: a slow consumer holds the reading back rather than memory growing. */
export async function print(line: string, stop: Stop): Promise<void> {
  if (stop.outputGone) return;
  if (!process.stdout.write(line + "\n")) await stop.until(once(process.stdout, "drain"));
}
