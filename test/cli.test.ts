// Proves the CLI round trip README shows, as a user runs it: a standalone process, then `sluice scope create`,
// `sluice stream create`, `sluice write` of three events and `sluice read` printing them back; bad input exits non-zero
// with the error code.
import t from "tap";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { sluiceBin, startStandaloneProcess, tsNodeArgs } from "../perf/support/standalone-process.js";

const run = promisify(execFile);

void t.test("scope create, stream create, write three events, read them back", async (t) => {
  const server = await startStandaloneProcess(t.testdir());
  t.teardown(() => server.stop());
  const env = { ...process.env, SLUICE_CONTROLLER: server.controllerUri };
  const sluice = (...a: string[]) => run(process.execPath, tsNodeArgs(sluiceBin, a), { env });

  t.match((await sluice("scope", "create", "demo")).stdout, /scope demo created/);
  t.match((await sluice("stream", "create", "demo/events", "--segments", "2")).stdout, /created with 2 segments/);
  t.match((await sluice("write", "demo/events", "--key", "k1", "one", "two", "three")).stdout, /wrote 3 events/);
  t.equal((await sluice("read", "demo/events")).stdout, "one\ntwo\nthree\n");
  t.equal((await sluice("read", "demo/events", "--count", "2")).stdout, "one\ntwo\n");
  t.match((await sluice("stream", "list", "demo")).stdout, /^events$/m);
  t.match((await sluice("stream", "info", "demo/events")).stdout, /2 segments, scaling fixed\(2\)/);
  t.match((await sluice("scope", "list")).stdout, /^demo$/m);

  const fails = async (...a: string[]): Promise<string> => {
    try {
      await sluice(...a);
      return "exited 0";
    } catch (err) {
      return (err as { stderr: string }).stderr;
    }
  };
  t.match(await fails("stream", "create", "nosuch/events"), /NO_SUCH_SCOPE/);
  t.match(await fails("stream", "create", "demo/x", "--segments", "zero"), /INVALID_CONFIG: --segments/);
  t.match(await fails("read", "demo/none"), /NO_SUCH_STREAM/);
});
