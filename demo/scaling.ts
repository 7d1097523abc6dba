/**
 * `npm run demo:scaling -- [--duration-s 200] [--peak-rate 2000] [--max-parallelism 4] [--out demo-report]`:
 * a Flink job that follows the auto-scaling of its Sluice input stream (run.ts), with a report in
 * `<out>/index.html` and `<out>/series.json`, the raw log in `<out>/run.log`. Exits 0 when the
 * audits are clean and the job rescaled, 1 otherwise, 2 for bad options, 130 on Ctrl-C.
 */
import { parseDemoOptions } from "./options.js";
import { DemoRun } from "./run.js";

const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  let options;
  try {
    options = parseDemoOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const run = new DemoRun(options, say);
  let stopping = false;
  const interrupted = () => {
    stopping = true;
    say("interrupted: stopping the job and the standalone");
    void run.cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    const r = await run.run();
    say(`audit: ${r.audit.events} events read back of ${r.written} written; lost ${r.audit.lost}, duplicated ${r.audit.duplicated}, out of order ${r.audit.outOfOrder}, unexpected ${r.audit.unexpected}`);
    say(`in-job audit: ${r.jobAudit.keys} keys, out of order ${r.jobAudit.outOfOrder}, duplicates ${r.jobAudit.duplicates}, gaps ${r.jobAudit.gaps}`);
    say(`rescales: ${r.follow.ups} up, ${r.follow.downs} down; observed = clamp(segments) in ${r.follow.following} of ${r.follow.samples} samples after the first rescale`);
    say(`report: ${r.report.html} (data ${r.report.json}, log ${r.report.log})`);
    return r.ok ? 0 : 1;
  } catch (err) {
    // Stopped by a signal: the run fails because its processes went away; that is no news.
    if (stopping) return 130;
    process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  } finally {
    await run.cleanup();
  }
}

process.exitCode = await main();
