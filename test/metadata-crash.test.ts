// Embedded metadata store crash test: a child process does acknowledged puts and compare-and-sets; it is killed
// with SIGKILL mid-stream; on reopen every acknowledged put is there, and a torn last record is cut, not fatal.
import t from "tap";
import { spawn } from "node:child_process";
import { appendFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { FileMetadataStore, listAll } from "../controller/index.js";
import { tsNodeArgs } from "../perf/support/standalone-process.js";

const child = fileURLToPath(new URL("./support/metadata-put-child.ts", import.meta.url));

/** Runs the child until it has acknowledged at least `acks` puts, SIGKILLs it, and returns the acknowledged keys. */
async function runAndKill(dir: string, acks: number, snapshotEveryRecords: number): Promise<{ keys: string[]; last: number }> {
  const proc = spawn(process.execPath, tsNodeArgs(child, [dir, String(snapshotEveryRecords)]), { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const keys: string[] = [];
  let last = -1;
  for await (const line of createInterface({ input: proc.stdout })) {
    const [key, i] = line.split(" ");
    keys.push(key!);
    last = Number(i);
    if (keys.length === acks) proc.kill("SIGKILL");
  }
  const code = await exited;
  if (keys.length < acks) throw new Error(`child exited (${code}) after ${keys.length} acks: ${stderr}`);
  return { keys, last };
}

void t.test("SIGKILL mid-stream: every acknowledged put survives, across snapshots too", async (t) => {
  const dir = t.testdir();
  const first = await runAndKill(dir, 600, 250);
  let store = await FileMetadataStore.open(dir);
  let present = new Set((await listAll(store, "acked/")).map((e) => e.key));
  t.same(first.keys.filter((k) => !present.has(k)), [], `all ${first.keys.length} acknowledged puts are there`);
  t.ok(Number((await store.get("counter"))?.value.toString()) >= first.last, "the compare-and-set chain reached the last ack");
  await store.close();

  // A second life continues the chain from where the store is, then dies too.
  const second = await runAndKill(dir, 300, 250);
  store = await FileMetadataStore.open(dir);
  present = new Set((await listAll(store, "acked/")).map((e) => e.key));
  t.same([...first.keys, ...second.keys].filter((k) => !present.has(k)), [], "acks of both lives are there");
  t.ok((await readdir(dir)).some((n) => n.startsWith("snapshot-")), "the run crossed snapshots");
  await store.close();
});

void t.test("a torn last record after SIGKILL is cut, not fatal", async (t) => {
  const dir = t.testdir();
  const { keys } = await runAndKill(dir, 50, 10_000);
  // The crash left half a record at the end: a header that promises more payload than follows.
  const torn = Buffer.alloc(40, 0);
  torn.writeUInt32BE(1000, 4);
  const log = join(dir, "log-0");
  const sizeBefore = (await stat(log)).size;
  await appendFile(log, torn);
  const store = await FileMetadataStore.open(dir);
  t.equal((await stat(log)).size, sizeBefore, "the torn record was cut off the log");
  const present = new Set((await listAll(store, "acked/")).map((e) => e.key));
  t.same(keys.filter((k) => !present.has(k)), [], "every acknowledged put is there");
  await store.put("after", Buffer.from("the store takes writes again"));
  await store.close();
  const again = await FileMetadataStore.open(dir);
  t.equal((await again.get("after"))?.value.toString(), "the store takes writes again");
  await again.close();
});
