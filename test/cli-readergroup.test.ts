// Proves `sluice read` and `sluice readergroup` as a user runs them, each command a real CLI process against one standalone
// child process: reads through a durable group continue where the last run stopped (no event twice, none skipped, also
// across a scale), `readergroup info` shows the positions, `readergroup checkpoint` prints a cut that `read --from` reads
// exactly the events after, a checkpoint times out while a dead reader is online until `readeroffline`, temporary groups
// are gone after every run, also one stopped by a signal or a closed stdout (a scope holding a reader group cannot be deleted, so `scope delete` succeeding shows it), and
// bad input exits non-zero with the typed error's code.
import t from "tap";
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { sluiceBin, startStandaloneProcess, tsNodeArgs } from "../perf/support/standalone-process.js";
import { Sluice, streamCutFromText, streamCutToText } from "../client/index.js";

const run = promisify(execFile);
/** An event "e00" takes its 4-byte header and 3 bytes of data. */
const eventBytes = 7;
const waitMs = 30_000;

const server = await startStandaloneProcess(t.testdir());
t.teardown(() => server.stop());
const env = { ...process.env, SLUICE_CONTROLLER: server.controllerUri, SLUICE_LOG_LEVEL: "warn" };

async function sluice(...a: string[]): Promise<string> {
  return (await run(process.execPath, tsNodeArgs(sluiceBin, a), { env })).stdout;
}

/** The stderr and exit code of a command expected to fail. */
async function fails(...a: string[]): Promise<string> {
  try {
    await sluice(...a);
    return "exited 0";
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return `exit ${e.code}: ${e.stderr}`;
  }
}

function lines(stdout: string): string[] {
  return stdout.split("\n").filter((l) => l !== "");
}

function names(from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => `e${String(from + i).padStart(2, "0")}`);
}

/** A `sluice read ... --follow` process, its stdout collected as it comes. */
function follow(...a: string[]) {
  const proc = spawn(process.execPath, tsNodeArgs(sluiceBin, ["read", ...a, "--follow"]), { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  proc.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | string>((resolve) => proc.once("exit", (code, signal) => resolve(code ?? signal ?? "?")));
  return {
    proc,
    exited,
    output: () => lines(stdout),
    async waitForLines(n: number): Promise<void> {
      const deadline = Date.now() + waitMs;
      while (lines(stdout).length < n) {
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`got ${lines(stdout).length} of ${n} lines; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

void t.test("a durable group continues where the last run stopped; info shows it; a checkpoint's cut reads what follows", async (t) => {
  await sluice("scope", "create", "rg");
  await sluice("stream", "create", "rg/events", "--segments", "2");
  await sluice("write", "rg/events", ...names(0, 10));
  t.match(await sluice("readergroup", "create", "rg/g", "--streams", "rg/events"), /reader group rg\/g created, reading rg\/events/);
  t.match(await sluice("readergroup", "create", "rg/g", "--streams", "rg/events"), /exists, reading rg\/events; left as it is/);

  const first = lines(await sluice("read", "rg/events", "--group", "rg/g", "--count", "4"));
  const second = lines(await sluice("read", "rg/events", "--group", "rg/g", "--count", "4"));
  t.equal(first.length, 4);
  t.equal(second.length, 4);
  const read = [...first, ...second];
  t.equal(new Set(read).size, 8, "no event twice");

  const info = await sluice("readergroup", "info", "rg/g");
  t.match(info, /^readers online: none$/m, "each run's reader left the group");
  const offsets = [...info.matchAll(/^segment (rg\/events\/\d\.#epoch\.0) owner - offset (\d+)$/gm)].map((m) => ({ segment: m[1]!, offset: Number(m[2]) }));
  t.equal(offsets.length, 2, "both segments listed");
  t.equal(
    offsets.reduce((n, o) => n + o.offset, 0),
    8 * eventBytes,
    "the positions are after the 8 events read",
  );
  t.match(info, new RegExp(`^unread bytes: ${2 * eventBytes}$`, "m"));
  const position = /^position rg\/events (sc1\.\S+)$/m.exec(info)?.[1];
  t.same(
    streamCutFromText(position ?? "").positions.sort((a, b) => a.segment.localeCompare(b.segment)),
    offsets,
    "the position cut is the segments' offsets",
  );

  const checkpoint = lines(await sluice("readergroup", "checkpoint", "rg/g", "cp1"));
  t.equal(checkpoint.length, 1, "one cut per stream");
  t.equal(checkpoint[0], position, "no reader online: the checkpoint is the group's position");
  t.match(await sluice("readergroup", "info", "rg/g"), new RegExp(`^checkpoint cp1 rg/events ${checkpoint[0]!.replace(/[.]/g, "\\.")}$`, "m"));

  await sluice("write", "rg/events", ...names(10, 15));
  const after = names(0, 15).filter((e) => !read.includes(e));
  t.same(lines(await sluice("read", "rg/events", "--from", checkpoint[0]!)).sort(), after, "read --from the checkpoint gives exactly the events after it");
  t.same(lines(await sluice("read", "rg/events", "--group", "rg/g")).sort(), after, "the third run reads the rest, to the tail, and exits");
  t.equal(await sluice("read", "rg/events", "--group", "rg/g"), "", "a group at the tail has nothing to print");
  t.match(await sluice("readergroup", "info", "rg/g"), /^unread bytes: 0$/m);

  t.match(await sluice("readergroup", "reset", "rg/g", checkpoint[0]!), /moved to 1 cut/);
  t.same(lines(await sluice("read", "rg/events", "--group", "rg/g")).sort(), after, "after a reset to the checkpoint the group reads the same events again");
  t.match(await sluice("readergroup", "reset", "rg/g", "head"), /moved to head/);
  t.equal(lines(await sluice("read", "rg/events", "--group", "rg/g", "--reader", "other")).length, 15, "after a reset to the head, all of them");
});

void t.test("a checkpoint waits for online readers: a dead one makes it time out until it is declared offline", async (t) => {
  await sluice("scope", "create", "ck");
  await sluice("stream", "create", "ck/s");
  await sluice("write", "ck/s", ...names(0, 3));
  const reader = follow("ck/s", "--group", "ck/g", "--reader", "r1");
  await reader.waitForLines(3);
  reader.proc.kill("SIGKILL");
  await reader.exited;
  t.match(await sluice("readergroup", "info", "ck/g"), /^readers online: r1$/m, "the killed reader is still online");
  t.match(await sluice("readergroup", "info", "ck/g"), /^segment ck\/s\/0\.#epoch\.0 owner r1 offset \d+$/m);
  t.match(await fails("readergroup", "checkpoint", "ck/g", "cp", "--timeout-ms", "1000"), /exit 1: sluice: TIMEOUT: checkpoint cp .* not reached within 1000 ms by readers r1/);
  t.match(await sluice("readergroup", "readeroffline", "ck/g", "r1"), /reader r1 of ck\/g declared offline/);
  t.match(await sluice("readergroup", "readeroffline", "ck/g", "r1"), /reader r1 is not online in ck\/g \(online: none\); nothing changed/);
  t.match(await sluice("readergroup", "info", "ck/g"), /^readers online: none$/m);
  t.match(await sluice("readergroup", "checkpoint", "ck/g", "cp"), /^sc1\.\S+\n$/);
  t.match(await sluice("readergroup", "delete", "ck/g"), /reader group ck\/g deleted/);
  t.match(await sluice("readergroup", "delete", "ck/g"), /reader group ck\/g does not exist/);
});

void t.test("a durable group reads to the tail across a scale, per key in order", async (t) => {
  await sluice("scope", "create", "sc");
  await sluice("stream", "create", "sc/s");
  await sluice("write", "sc/s", "--key", "k", ...names(0, 5));
  await sluice("readergroup", "create", "sc/g", "--streams", "sc/s");
  t.equal(await sluice("read", "sc/s", "--group", "sc/g", "--count", "2"), "e00\ne01\n");
  const client = await Sluice.connect(server.controllerUri);
  t.teardown(() => client.close());
  await client.admin.scaleStream("sc/s", ["sc/s/0.#epoch.0"], [
    { keyStart: 0, keyEnd: 0.5 },
    { keyStart: 0.5, keyEnd: 1 },
  ]);
  t.match(await sluice("stream", "info", "sc/s"), /2 segments, epoch 1[\s\S]*epoch 1 {2}keys \[0\.0000, 0\.5000\)[\s\S]*epoch 1 {2}keys \[0\.5000, 1\.0000\)/);
  await sluice("write", "sc/s", "--key", "k", ...names(5, 10));
  t.equal(await sluice("read", "sc/s", "--group", "sc/g"), names(2, 10).join("\n") + "\n", "the rest, across the scale, and no further");
  t.match(await sluice("readergroup", "info", "sc/g"), /^segment sc\/s\/\d\.#epoch\.1 owner - offset \d+$/m, "the group now reads the new segments");
});

void t.test("temporary groups are deleted after every sluice read, also when it fails or is stopped", async (t) => {
  await sluice("scope", "create", "tmp");
  await sluice("stream", "create", "tmp/s", "--segments", "2");
  await sluice("write", "tmp/s", "--key", "k", ...names(0, 3));
  t.equal(await sluice("read", "tmp/s"), "e00\ne01\ne02\n");
  t.equal(await sluice("read", "tmp/s", "--count", "1"), "e00\n");
  t.equal(await sluice("read", "tmp/s", "--from", "tail"), "");
  const tail = streamCutToText(await (async () => {
    const client = await Sluice.connect(server.controllerUri);
    try {
      return await client.admin.tailCut("tmp/s");
    } finally {
      await client.close();
    }
  })());
  t.equal(await sluice("read", "tmp/s", "--to", tail, "--count", "2"), "e00\ne01\n");
  // The group is made before the reader id is checked.
  t.match(await fails("read", "tmp/s", "--reader", "bad/id"), /exit 1: sluice: INVALID_NAME: invalid reader id "bad\/id"/);

  const reader = follow("tmp/s");
  await reader.waitForLines(3);
  await sluice("write", "tmp/s", "--key", "k", "late");
  await reader.waitForLines(4);
  reader.proc.kill("SIGTERM");
  t.equal(await reader.exited, 0, "SIGTERM ends a follow run cleanly");
  t.same(reader.output(), ["e00", "e01", "e02", "late"]);
  // A consumer that goes away (`sluice read ... --follow | head -4`) stops the run as a signal does.
  const piped = follow("tmp/s");
  await piped.waitForLines(4);
  piped.proc.stdout.destroy();
  await sluice("write", "tmp/s", "--key", "k", "unread");
  t.equal(await piped.exited, 0, "a closed stdout ends a follow run cleanly");

  // Control: a reader group left in the scope keeps it from being deleted.
  await sluice("readergroup", "create", "tmp/keep", "--streams", "tmp/s");
  await sluice("stream", "seal", "tmp/s");
  await sluice("stream", "delete", "tmp/s");
  t.match(await fails("scope", "delete", "tmp"), /SCOPE_NOT_EMPTY: scope tmp still holds reader groups/);
  await sluice("readergroup", "delete", "tmp/keep");
  t.match(await sluice("scope", "delete", "tmp"), /scope tmp deleted/, "no temporary group was left behind");
});

void t.test("bad input exits non-zero with the error's code and what to do", async (t) => {
  await sluice("scope", "create", "bad");
  await sluice("stream", "create", "bad/s");
  await sluice("readergroup", "create", "bad/g", "--streams", "bad/s");
  const cases: [string[], RegExp][] = [
    [["readergroup", "frob", "bad/g"], /INVALID_ARGUMENT: unknown command: sluice readergroup frob; use create, info, checkpoint, reset, delete or readeroffline/],
    [["read", "bad/s", "--from", "sc1.garbage"], /INVALID_ARGUMENT: --from: stream cut text "sc1.garbage"/],
    [["read", "bad/s", "--to", "yesterday"], /INVALID_ARGUMENT: --to: "yesterday" is not a stream cut: a cut's text starts with "sc1."/],
    [["read", "bad/s", "--follow", "--to", "tail"], /INVALID_ARGUMENT: --follow reads on past the tail with no end: leave out --to tail/],
    [["read", "bad/s", "--follow=yes"], /INVALID_CONFIG: --follow takes no value/],
    [["read"], /INVALID_ARGUMENT: expected exactly one stream/],
    [["read", "bad/none", "--group", "bad/g"], /NO_SUCH_STREAM/],
    [["readergroup", "reset", "bad/g", "notacut"], /INVALID_ARGUMENT: cut argument: "notacut" is not a stream cut/],
    [["readergroup", "reset", "bad/g"], /INVALID_ARGUMENT: expected a reader group \(scope\/group\) and where to move it/],
    [["readergroup", "checkpoint", "bad/g"], /INVALID_ARGUMENT: expected a reader group \(scope\/group\) and a checkpoint name/],
    [["readergroup", "checkpoint", "bad/g", "cp", "--timeout-ms", "0"], /INVALID_CONFIG: --timeout-ms: "0" is not an integer in \[1, /],
    [["readergroup", "create", "bad/g2"], /INVALID_CONFIG: --streams is required/],
    [["readergroup", "create", "bad/g", "--streams", "bad/other"], /READER_GROUP_EXISTS: reader group bad\/g exists and reads bad\/s: delete it first/],
    [["readergroup", "info", "bad/none"], /NO_SUCH_READER_GROUP: reader group bad\/none does not exist: create it with sluice readergroup create/],
    [["readergroup", "info"], /INVALID_ARGUMENT: expected exactly one reader group/],
    [["readergroup", "readeroffline", "bad/g", "bad/id"], /INVALID_NAME: invalid reader id/],
    [["read", "bad/s", "--group", "bad/g", "--reader", "bad/id"], /INVALID_NAME: invalid reader id/],
  ];
  const results = await Promise.all(cases.map(([args]) => fails(...args)));
  for (const [i, [args, expected]] of cases.entries()) t.match(results[i], new RegExp(`^exit 1: sluice: ${expected.source}`), args.join(" "));
  t.match(await sluice("--help"), /sluice readergroup checkpoint SCOPE\/GROUP NAME/);
  t.match(await sluice("readergroup", "--help"), /with readers online\s+but idle it fails TIMEOUT/);
  t.match(await sluice("read", "--help"), /--follow\s+follow new events/);
});
