// Proves README's run command: `npm start` builds, starts the standalone from the compiled dist/ (not the TypeScript
// sources), prints where it listens, serves a client, and stops on SIGTERM.
import t from "tap";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sluice } from "../client/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

void t.test("npm start serves from dist and stops on SIGTERM", async (t) => {
  const dataDir = t.testdir();
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  // Its own process group, so the signal reaches npm, its shell and node alike.
  const proc = spawn(npm, ["start", "--", "--data-dir", dataDir, "--controller-port", "0", "--segmentstore-port", "0"], {
    cwd: root,
    env: { ...process.env, SLUICE_LOG_LEVEL: "info" },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  proc.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  // "close", not "exit": it waits until every process holding the pipes (npm, its shell, node) is done.
  const exited = new Promise<number | null>((resolve) => proc.once("close", (code) => resolve(code)));
  t.teardown(() => {
    if (proc.exitCode === null) process.kill(-proc.pid!, "SIGKILL");
  });
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start printed no ready line in 120 s: ${stderr}`)), 120_000);
    createInterface({ input: proc.stdout }).on("line", (line) => {
      if (line.startsWith("sluice standalone ready")) {
        clearTimeout(timer);
        resolve(line);
      }
    });
  });
  const m = /controller (tcp:\/\/127\.0\.0\.1:\d+) segmentstore tcp:\/\/127\.0\.0\.1:\d+ data (.+)$/.exec(ready);
  t.ok(m, `ready line names both endpoints: ${ready}`);
  t.equal(m?.[2], dataDir);
  const sluice = await Sluice.connect(m![1]!);
  t.equal(await sluice.admin.createScope("started"), true);
  await sluice.admin.createStream("started/s");
  await sluice.writer("started/s").write("hello");
  const [range] = await sluice.batch.segments("started/s");
  t.ok(range!.endOffset > 0, "the event was stored");
  await sluice.close();
  process.kill(-proc.pid!, "SIGTERM");
  await exited;
  t.match(stderr, /segment store closed/, "the store shut down cleanly");
});
