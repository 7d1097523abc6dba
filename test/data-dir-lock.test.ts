// Proves case 3 of issue 18 with real processes: a second standalone on a live standalone's --data-dir is refused
// (DATA_DIR_LOCKED naming the holder's pid, non-zero exit; also while the holder is paused) while the first keeps
// acknowledging; `sluice container list` against the live metadata directory answers and leaves every file
// byte-identical even with a half-written batch at the end of the live log; a SIGKILLed holder's lock does not block
// the restart, and every acknowledged event is read back exactly once after it.
import t from "tap";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFile, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { Sluice } from "../client/index.js";
import { sluiceBin, startStandaloneProcess, tsNodeArgs } from "../perf/support/standalone-process.js";

const run = promisify(execFile);

async function writeAll(controllerUri: string, stream: string, from: number, count: number): Promise<string[]> {
  const sluice = await Sluice.connect(controllerUri);
  try {
    const writer = sluice.writer(stream);
    const acked: string[] = [];
    for (let i = from; i < from + count; i++) {
      await writer.write(`e-${i}`);
      acked.push(`e-${i}`);
    }
    await writer.close();
    return acked;
  } finally {
    await sluice.close();
  }
}

async function readAll(controllerUri: string, stream: string): Promise<string[]> {
  const sluice = await Sluice.connect(controllerUri);
  try {
    const events: string[] = [];
    for (const r of await sluice.batch.segments(stream)) for await (const e of sluice.batch.read(r)) events.push(Buffer.from(e.data).toString());
    return events;
  } finally {
    await sluice.close();
  }
}

/** Size and sha256 of every file in `dir`, by name. */
async function fingerprint(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    const bytes = await readFile(join(dir, name));
    out[name] = `${bytes.length} ${createHash("sha256").update(bytes).digest("hex")}`;
  }
  return out;
}

void t.test("one standalone per data dir; read-only container list; a SIGKILLed holder does not block", async (t) => {
  const dir = t.testdir();
  let first = await startStandaloneProcess(dir);
  t.teardown(() => first.kill());
  const admin = await Sluice.connect(first.controllerUri);
  await admin.admin.createScope("lock");
  await admin.admin.createStream("lock/s", { scaling: { type: "fixed", minSegments: 2 } });
  await admin.close();
  const acked = await writeAll(first.controllerUri, "lock/s", 0, 50);

  // A second standalone on the same directory (other ports) is refused before it opens anything.
  const second = await startStandaloneProcess(dir).then(
    async (p) => {
      await p.kill();
      return "started";
    },
    (err: unknown) => String(err),
  );
  t.match(second, /exited with 1/, "the second standalone exits non-zero");
  t.match(second, new RegExp(`DATA_DIR_LOCKED: ${dir} is in use by pid ${first.proc.pid} `), "with DATA_DIR_LOCKED naming the directory and the holder's pid");
  t.notMatch(second, /metadata store open|journal replayed|cut a torn tail/, "and having opened nothing");
  acked.push(...(await writeAll(first.controllerUri, "lock/s", 50, 50)));
  t.equal(acked.length, 100, "the first keeps acknowledging");

  // The live metadata log ends in a half-written batch (as while a group commit is being written). The holder is
  // stopped (SIGSTOP: it still runs, and still holds its lock) so that only the command could change a byte.
  const metadataDir = join(dir, "controller");
  first.proc.kill("SIGSTOP");
  const log = (await readdir(metadataDir)).filter((n) => /^log-\d+$/.test(n)).sort((a, b) => Number(a.slice(4)) - Number(b.slice(4))).at(-1)!;
  await appendFile(join(metadataDir, log), Buffer.alloc(20, 0));
  const before = await fingerprint(metadataDir);
  const listed = await run(process.execPath, tsNodeArgs(sluiceBin, ["container", "list", "--metadata", `file://${metadataDir}`]), { env: process.env });
  t.match(listed.stdout, /^(container \d assigned-to \S+ owner \S+ tcp:\/\/127\.0\.0\.1:\d+ epoch \d+\n){4}$/, "container list answers from the live store");
  t.same(await fingerprint(metadataDir), before, "and leaves every file of the live store byte-identical (sizes and hashes)");
  t.comment(`files compared: ${Object.keys(before).join(", ")}`);
  // A paused holder still holds its directory.
  const whilePaused = await startStandaloneProcess(dir).then(
    async (p) => {
      await p.kill();
      return "started";
    },
    (err: unknown) => String(err),
  );
  t.match(whilePaused, /exited with 1: .*DATA_DIR_LOCKED/, "a second standalone is refused while the holder is paused (SIGSTOP) too");
  first.proc.kill("SIGCONT");

  // SIGKILL leaves the lock file behind; it must not block the restart.
  await first.kill();
  t.ok((await readdir(dir)).includes("sluice.lock"), "the killed holder's lock file is still there");
  first = await startStandaloneProcess(dir);
  t.match(first.stderr(), /took over a stale lock/, "the stale lock is taken over, with a WARN");
  t.same(await readAll(first.controllerUri, "lock/s").then((e) => e.sort()), [...acked].sort(), "every acknowledged event, exactly once");
  await first.stop();
  t.notOk((await readdir(dir)).includes("sluice.lock"), "a clean stop removes the lock");
});
