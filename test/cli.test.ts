// Proves the CLI round trip README shows, as a user runs it: a standalone process, then `sluice scope create`,
// `sluice stream create`, `sluice write` of three events and `sluice read` printing them back (through a temporary reader
// group), `sluice stream info` listing each segment with its epoch and key range; bad input exits non-zero
// with the error code. Then `sluice container assign` and `container list` against a file metadata dir that no other
// process holds, and their refusals of bad --containers, --to and --container-count values.
import t from "tap";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { sluiceBin, startStandaloneProcess, tsNodeArgs } from "../perf/support/standalone-process.js";
import { FileMetadataStore, recordContainerOwner } from "../controller/index.js";

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
  t.match((await sluice("stream", "info", "demo/events")).stdout, /2 segments, epoch 0, scaling fixed\(2\)/);
  t.match((await sluice("stream", "info", "demo/events")).stdout, /^ {2}demo\/events\/1\.#epoch\.0 {2}epoch 0 {2}keys \[0\.5000, 1\.0000\) {2}bytes /m);
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

void t.test("container assign and container list on a file metadata dir", async (t) => {
  const dir = t.testdir();
  const metadata = `file://${dir}`;
  const sluice = (...a: string[]) => run(process.execPath, tsNodeArgs(sluiceBin, ["container", ...a]), { env: process.env });
  const fails = async (...a: string[]): Promise<string> => {
    try {
      await sluice(...a);
      return "exited 0";
    } catch (err) {
      return (err as { stderr: string }).stderr;
    }
  };

  // A fresh metadata store records no container count: the command asks for one.
  t.match(await fails("list", "--metadata", metadata), /INVALID_CONFIG: .*pass --container-count N/);
  t.match((await sluice("assign", "--metadata", metadata, "--containers", "0,2,3", "--to", "ss-1", "--container-count", "4")).stdout, /assigned containers 0,2,3 to ss-1/);
  // The count is now recorded, so it may be left out.
  t.match((await sluice("assign", "--metadata", metadata, "--containers", "1", "--to", "10.0.0.2:12345")).stdout, /assigned containers 1 to 10.0.0.2:12345/);
  // A segment store that took container 2 over records itself as its owner.
  const store = await FileMetadataStore.open(dir);
  await recordContainerOwner(store, 2, { store: "ss-1", host: "127.0.0.1", port: 12345, epoch: 3 });
  await store.close();
  t.equal(
    (await sluice("list", "--metadata", metadata)).stdout,
    [
      "container 0 assigned-to ss-1 owner - - epoch -",
      "container 1 assigned-to 10.0.0.2:12345 owner - - epoch -",
      "container 2 assigned-to ss-1 owner ss-1 tcp://127.0.0.1:12345 epoch 3",
      "container 3 assigned-to ss-1 owner - - epoch -",
      "",
    ].join("\n"),
  );
  t.match((await sluice("assign", "--metadata", metadata, "--containers", "all", "--to", "ss-2")).stdout, /assigned containers 0,1,2,3 to ss-2/);
  t.match((await sluice("list", "--metadata", metadata)).stdout, /^(container \d assigned-to ss-2 owner .*\n){4}$/);
  t.match((await sluice("--help")).stdout, /only while no other process has the store open/);

  t.match(await fails("assign", "--metadata", metadata, "--containers", "0;1", "--to", "ss-1"), /INVALID_CONFIG: --containers: "0;1" is not valid: write container numbers separated by commas, like 0,2,3, or all/);
  t.match(await fails("assign", "--metadata", metadata, "--to", "ss-1"), /INVALID_CONFIG: --containers is required/);
  t.match(await fails("assign", "--metadata", metadata, "--containers", "", "--to", "ss-1"), /INVALID_CONFIG: --containers: "" is not valid/);
  t.match(await fails("assign", "--metadata", metadata, "--containers", "4", "--to", "ss-1"), /INVALID_ARGUMENT: --containers 4: container 4 does not exist; this cluster has containers 0 to 3/);
  t.match(await fails("assign", "--metadata", metadata, "--containers", "1", "--to", "bad id"), /INVALID_ARGUMENT: store id "bad id" may contain only/);
  t.match(await fails("assign", "--metadata", metadata, "--containers", "1"), /INVALID_CONFIG: --to is required/);
  t.match(await fails("assign", "--containers", "1", "--to", "ss-1"), /INVALID_CONFIG: --metadata is required/);
  t.match(await fails("list", "--metadata", metadata, "--container-count", "8"), /INVALID_CONFIG: --container-count 8 differs from the 4 containers/);
  t.match(await fails("move", "--metadata", metadata), /INVALID_ARGUMENT: unknown command: sluice container move/);
  t.match((await sluice("list", "--metadata", metadata)).stdout, /container 1 assigned-to ss-2/, "the refused commands changed nothing");
});
