// Proves zombie-owner fencing of a Tier-1 log with real processes: owner A (a child process, on a real etcd and three
// real log nodes at 3/3/2) is SIGSTOPped mid-stream; owner B opens the same container log (epoch + 1) and appends;
// when A continues, its appends fail WRITER_NOT_PRIMARY and none made after B's open is acknowledged; the log B reads
// holds every entry A was acknowledged, A's entries as a prefix in order, then B's.
import t from "tap";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startEtcd } from "../controller/store/etcd-server.js";
import { EtcdMetadataStore } from "../controller/store/index.js";
import { tsNodeArgs } from "../perf/support/standalone-process.js";
import { startLogNodes } from "./support/lognodes.js";

const child = fileURLToPath(new URL("./support/tier1-owner-child.ts", import.meta.url));
const container = 7;

/** What owner A printed, parsed as it arrives. */
class OwnerOutput {
  epoch = -1;
  readonly acked = new Map<number, number>();
  readonly failed = new Map<number, string>();
  rounds = 0;
  lines: string[] = [];

  take(line: string): void {
    this.lines.push(line);
    const [word, a, b] = line.split(" ");
    if (word === "open") this.epoch = Number(a);
    else if (word === "ack") this.acked.set(Number(a), Number(b));
    else if (word === "fail") this.failed.set(Number(a), b ?? "");
    else if (word === "done") this.rounds++;
  }
}

async function until(what: string, check: () => boolean, timeoutMs: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; owner A's stderr: ${stderr().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

void t.test("a SIGSTOPped owner is fenced by a new owner and never acknowledges another append", async (t) => {
  const etcd = await startEtcd();
  t.teardown(() => etcd.stop());
  const cluster = await startLogNodes(t, 3);
  const addresses = cluster.nodes.map((n) => n.address).join(",");

  const proc = spawn(process.execPath, tsNodeArgs(child, [etcd.url, addresses, String(container)]), { stdio: ["pipe", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGCONT");
      proc.kill("SIGKILL");
    }
    await exited;
  });
  let stderr = "";
  proc.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const a = new OwnerOutput();
  createInterface({ input: proc.stdout }).on("line", (line) => a.take(line));
  const send = (command: string): void => void proc.stdin.write(`${command}\n`);

  await until("owner A to open the log", () => a.epoch >= 1, 30_000, () => stderr);
  send("stream 16");
  await until("100 acks for owner A", () => a.acked.size >= 100, 20_000, () => stderr);
  proc.kill("SIGSTOP");
  const ackedBeforeStop = a.acked.size;

  // Owner B takes the log over while A is stopped.
  const metadata = await EtcdMetadataStore.connect(etcd.url);
  t.teardown(() => metadata.close());
  const b = await cluster.tier1({ metadata }).openLog(container);
  t.teardown(() => b.close());
  t.equal(b.epoch, a.epoch + 1, `owner B's epoch ${b.epoch} is one above owner A's`);
  const bEntries = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => b.append([Buffer.from(`B-${from + k}`)]));
  await Promise.all(bEntries(0, 50));

  proc.kill("SIGCONT");
  await until("owner A's stream to stop", () => a.rounds >= 1, 30_000, () => stderr);
  t.ok(a.acked.size >= ackedBeforeStop, `owner A printed ${a.acked.size} acks (${ackedBeforeStop} before SIGSTOP)`);
  const failCodes = new Set(a.failed.values());
  t.ok(a.failed.size > 0, `${a.failed.size} of A's streamed appends failed after it continued`);
  t.same([...failCodes], ["WRITER_NOT_PRIMARY"], "with WRITER_NOT_PRIMARY only");

  // Every append A makes now comes after B's open: none may be acknowledged.
  const round2From = Math.max(...a.acked.keys(), ...a.failed.keys()) + 1;
  send("round 20");
  await until("owner A's second round to settle", () => a.rounds >= 2, 30_000, () => stderr);
  const round2 = Array.from({ length: 20 }, (_, k) => round2From + k);
  t.same(round2.filter((i) => a.acked.has(i)), [], "no append A made after B's open was acknowledged");
  t.same(
    round2.map((i) => a.failed.get(i)),
    round2.map(() => "WRITER_NOT_PRIMARY"),
    "each failed WRITER_NOT_PRIMARY",
  );
  await Promise.all(bEntries(50, 100));

  // B's view of the log: A-0..A-m in order, then B-0..B-99.
  const texts: string[] = [];
  for await (const e of b.read()) texts.push(e.data.toString());
  const aPart = texts.filter((x) => x.startsWith("A-"));
  const bPart = texts.filter((x) => x.startsWith("B-"));
  t.equal(aPart.length + bPart.length, texts.length, "only A's and B's entries");
  t.same(texts, [...aPart, ...bPart], "A's entries come before B's");
  t.same(
    aPart,
    Array.from({ length: aPart.length }, (_, i) => `A-${i}`),
    `A's entries are a prefix A-0..A-${aPart.length - 1} in append order`,
  );
  t.same(
    bPart,
    Array.from({ length: 100 }, (_, i) => `B-${i}`),
    "B's entries follow, all of them, in order",
  );
  const present = new Set(aPart);
  t.same(
    [...a.acked.keys()].filter((i) => !present.has(`A-${i}`)),
    [],
    `every one of the ${a.acked.size} entries A printed as acknowledged is in the log`,
  );
  t.ok(aPart.length <= round2From, "none of A's entries appended after B's open is in the log");

  send("exit");
  proc.kill("SIGKILL");
});
