// Proves `sluice lognode` as it runs: a real process on 127.0.0.1 serves add, read, state, fence and delete to a
// RemoteLogNode; after SIGKILL and a restart on the same data directory every acknowledged entry reads back intact, the
// fence and the delete hold; bad flags exit 1 with INVALID_CONFIG. The port comes from the process's ready line.
import t from "tap";
import { codeOf } from "../controller/store/metadata-store.contract.js";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { LedgerFencedError } from "../common/index.js";
import { readNodeEntries } from "./support/lognodes.js";
import { RemoteLogNode } from "../segmentstore/tier1/remote-log-node.js";
import { sluiceBin, startSluiceProcess, tsNodeArgs, type SluiceProcess } from "../perf/support/standalone-process.js";

const run = promisify(execFile);

interface LogNodeProcess {
  proc: SluiceProcess;
  node: RemoteLogNode;
}

async function startLogNode(dataDir: string): Promise<LogNodeProcess> {
  // Small journal files, so the entries below span several of them.
  const proc = await startSluiceProcess("lognode", ["--data-dir", dataDir, "--port", "0", "--journal-file-bytes", "65536"]);
  const m = /^sluice lognode ready: tcp:\/\/127\.0\.0\.1:(\d+) data (.+)$/.exec(proc.readyLine);
  if (m === null) {
    await proc.kill();
    throw new Error(`unexpected ready line: ${proc.readyLine}`);
  }
  return { proc, node: new RemoteLogNode("127.0.0.1", Number(m[1])) };
}

/** Entry `i` of a ledger: its id and a size that varies, some entries above one journal file. */
function entryData(ledger: number, i: number): Buffer {
  const bytes = i % 17 === 0 ? 100_000 : 10 + (i % 300);
  return Buffer.alloc(bytes, `${ledger}:${i};`);
}

void t.test("add, read, fence and delete; acknowledged entries, the fence and the delete survive SIGKILL", async (t) => {
  const dataDir = t.testdir();
  const first = await startLogNode(dataDir);
  t.teardown(() => first.proc.kill());
  t.teardown(() => first.node.close());
  const node = first.node;

  const count = 200;
  await Promise.all(Array.from({ length: count }, (_, i) => node.addEntry(1, i, i - 1, [entryData(1, i)], false)));
  t.strictSame(await node.readState(1), { lac: count - 2, lastEntryId: count - 1, fenced: false });
  const read = await readNodeEntries(node, 1, 0, 256 * 1024);
  t.equal(read.length, count, "every entry reads back");
  t.ok(read.every((e, i) => e.equals(entryData(1, i))), "with its bytes");

  await node.addEntry(2, 0, -1, [Buffer.from("before the fence")], false);
  t.strictSame(await node.fence(2), { lac: -1, lastEntryId: 0, fenced: true });
  t.ok((await node.addEntry(2, 1, 0, [Buffer.from("x")], false).catch((e: unknown) => e)) instanceof LedgerFencedError, "fenced");
  await node.addEntry(2, 1, 0, [Buffer.from("recovery")], true);

  await node.addEntry(3, 0, -1, [Buffer.from("doomed")], false);
  await node.deleteLedger(3);
  t.equal(await codeOf(node.readEntries(3, 0, 100)), "NO_SUCH_ENTRY", "deleted");

  // A second batch, SIGKILLed while in flight: the ones acknowledged before the kill must survive.
  const acked: number[] = [];
  const inflight = Array.from({ length: count }, (_, i) =>
    node.addEntry(4, i, -1, [entryData(4, i)], false).then(
      () => void acked.push(i),
      () => undefined,
    ),
  );
  while (acked.length < 20) await new Promise((resolve) => setTimeout(resolve, 1));
  await first.proc.kill();
  await Promise.all(inflight);
  await first.node.close();
  t.ok(acked.length >= 20, `${acked.length} of the in-flight adds acknowledged before the kill`);

  const second = await startLogNode(dataDir);
  t.teardown(() => second.proc.kill());
  t.teardown(() => second.node.close());
  const again = second.node;
  const reread = await readNodeEntries(again, 1, 0, 256 * 1024);
  t.equal(reread.length, count, "every acknowledged entry of ledger 1 after the restart");
  t.ok(reread.every((e, i) => e.equals(entryData(1, i))), "intact");
  const ledger4 = await readNodeEntries(again, 4, 0, 256 * 1024);
  t.ok(acked.every((i) => ledger4[i]?.equals(entryData(4, i)) === true), "every acknowledged in-flight add survived");
  t.strictSame(await again.readState(2), { lac: 0, lastEntryId: 1, fenced: true }, "the fence survived");
  t.equal(await codeOf(again.addEntry(2, 2, 1, [Buffer.from("late")], false)), "LEDGER_FENCED");
  t.strictSame((await again.readEntries(2, 0, 1000)).map(String), ["before the fence", "recovery"]);
  t.equal(await codeOf(again.readEntries(3, 0, 100)), "NO_SUCH_ENTRY", "the delete survived");

  await again.close();
  await second.proc.stop();
  t.equal(second.proc.proc.exitCode, 0, "SIGTERM stops it cleanly");
});

void t.test("bad flags: INVALID_CONFIG and exit code 1", async (t) => {
  const fails = async (...args: string[]): Promise<{ code: unknown; stderr: string }> => {
    try {
      await run(process.execPath, tsNodeArgs(sluiceBin, ["lognode", ...args]));
      return { code: 0, stderr: "" };
    } catch (err) {
      const e = err as { code: unknown; stderr: string };
      return { code: e.code, stderr: e.stderr };
    }
  };
  const dataDir = t.testdir();
  for (const args of [
    ["--data-dir", dataDir, "--port", "70000"],
    ["--data-dir", dataDir, "--journal-file-bytes", "100"],
    ["--data-dir", dataDir, "--no-such-flag", "1"],
  ]) {
    const r = await fails(...args);
    t.equal(r.code, 1, `${args.join(" ")}: exit code 1`);
    t.match(r.stderr, /INVALID_CONFIG/, `${args.join(" ")}: INVALID_CONFIG`);
  }
});
